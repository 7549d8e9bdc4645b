//! `moved:` entries, applied in one place before anything is planned: the state's record of each
//! moved address (id, key, pending rotation, protect, numbers, what was applied) is renamed to its new
//! address, so that the planner sees the application where the manifests now declare it and plans what
//! its manifest needs: nothing at all for a pure rename (a `move`), an update for a rename with edits.
//! No step of the planner knows about moves; the plan only says which address each came from.
//!
//! Pure: a state in, a state out (borrowed when nothing moves).

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::PlanError;
use crate::manifest::refactor::Refactoring;
use crate::model::Address;
use crate::state::State;

/// The state as the planner sees it once the moves are made, and where each moved address came from.
pub struct Moved<'a> {
    pub state: Cow<'a, State>,
    /// New address → the address the state knew it by.
    pub from: BTreeMap<Address, Address>,
}

/// Renames the records `refactoring`'s moves name. A move whose `from` the state does not hold (done
/// already, or never needed) does nothing; one whose destination the state holds too is an error, as
/// two records cannot be one address.
pub fn apply_moves<'a>(state: &'a State, refactoring: &Refactoring) -> Result<Moved<'a>, PlanError> {
    let mut moved = Moved { state: Cow::Borrowed(state), from: BTreeMap::new() };
    if refactoring.moved.is_empty() {
        return Ok(moved);
    }
    for (from, entry) in &state.applications {
        // An address on its way to another state is left alone, moves included.
        if entry.leaving.is_some() {
            continue;
        }
        let Some(last) = refactoring.destination(from) else { continue };
        let to = &last.to;
        if moved.state.applications.contains_key(to) {
            return Err(PlanError::MoveBothHeld {
                from: from.clone(),
                to: to.clone(),
                location: last.location.clone(),
            });
        }
        moved.state.to_mut().rename(from, to);
        moved.from.insert(to.clone(), from.clone());
    }
    Ok(moved)
}
