//! `vapp state mv FROM TO`: rename an address in the state, as a `moved:` entry does, at once.
//! `vapp state mv ADDR --to-state PATH|URL [--as NEW]`: hand an address to another state of the same
//! account (a team's own repository), with its id, key (sealed), numbers, protect flag and what was
//! applied.
//!
//! The hand-over is three writes, and a run killed between any two is finished by running the same
//! command again; at no moment do both states act on the application:
//! 1. the source marks the address as leaving (its plans then leave it alone and say so);
//! 2. the target records it (from now on the target manages it);
//! 3. the source forgets it.
//!
//! Both states are locked throughout (the source's first).

use super::definitions::MvArgs;

use super::failure::{bail, hinted, Result};
use super::{Context, Exit};
use crate::model::Address;
use crate::state::{self, backend, Leaving, Loaded, State, StateEntry, StateLocation, StateStore};

pub async fn run(context: &Context, args: MvArgs) -> Result<Exit> {
    match (&args.to, &args.to_state) {
        (Some(to), None) => {
            context.with_state_lock("state mv", args.lock_timeout, rename(context, &args.from, to)).await
        }
        (None, Some(target)) => {
            let new = args.as_address.clone().unwrap_or_else(|| args.from.clone());
            context.with_state_lock("state mv", args.lock_timeout, hand_over(context, &args, target, &new)).await
        }
        _ => bail!("give either a new address (TO) or --to-state, not both"),
    }
}

/// Refuses an entry that is mid-call: its move waits for the apply that left it so.
fn check_settled(address: &Address, entry: &StateEntry) -> Result<()> {
    if entry.id.is_none() || entry.intent.is_some() || entry.pending_key.is_some() {
        return Err(hinted(
            format!("{address} has a change under way (an interrupted apply): it cannot move now"),
            "run `vapp apply` to finish it, then move it",
        ));
    }
    Ok(())
}

async fn rename(context: &Context, from: &Address, to: &Address) -> Result<Exit> {
    let store = context.store(Some(context.require_state().await?)).await?;
    let (has_from, has_to) = store.read(|s| (s.applications.get(from).cloned(), s.applications.contains_key(to)));
    let entry = match (has_from, has_to) {
        (Some(_), true) => bail!("the state already holds `{to}`: `{from}` cannot move there"),
        (None, true) => {
            context.printer.status(&format!("`{from}` is already `{to}`: nothing to do."));
            return Ok(Exit::Success);
        }
        (None, false) => bail!("{from} is not in the state"),
        (Some(entry), false) => entry,
    };
    check_settled(from, &entry)?;
    if let Some(leaving) = &entry.leaving {
        bail!("{from} is being handed to {}: finish that first (run the same `vapp state mv` again)", leaving.to);
    }
    store.commit(|s| s.rename(from, to)).await?;
    context.printer.status(&format!(
        "Moved `{from}` to `{to}` in the state: same application, key and numbers. Declare `{to}` in the manifests (a `moved:` entry says the same for reviewers)."
    ));
    Ok(Exit::Success)
}

async fn hand_over(context: &Context, args: &MvArgs, target: &StateLocation, new: &Address) -> Result<Exit> {
    let from = &args.from;
    if *target == context.settings.state {
        bail!("--to-state names this state: to rename within it, run `vapp state mv {from} NEW`");
    }
    let source = context.require_state_with_keys().await?;
    let target_backend = backend::open(target, &context.settings.engine_env, Some(context.state_observer())).await?;
    let target_lock = context.lock(target_backend.as_ref(), "state mv", args.lock_timeout).await?;
    let result = hand_over_locked(context, source, target_backend, from, new).await;
    target_lock.release().await;
    result
}

async fn hand_over_locked(
    context: &Context,
    source: Loaded,
    target_backend: std::sync::Arc<dyn crate::state::Backend>,
    from: &Address,
    new: &Address,
) -> Result<Exit> {
    let passphrase = context.passphrase()?;
    let loaded = state::load(target_backend.as_ref(), passphrase.as_ref().map(|p| p.as_str())).await?;
    let target_name = target_backend.location().to_string();
    if loaded.as_ref().is_some_and(|l| l.state.encryption.is_some() && l.state.sealer.is_none()) {
        bail!(
            "{target_name} keeps its keys encrypted: give the passphrase (VAPP_STATE_PASSPHRASE or --passphrase-file)"
        );
    }
    let source_state = &source.state;
    // The target: of the same account, and keeping keys sealed if the source does.
    let target = match loaded {
        Some(Loaded { state, token }) => {
            if let (Some(here), Some(there)) = (&source_state.account, &state.account) {
                if !here.same_as(there) {
                    bail!(
                        "{target_name} belongs to {there}, not to {here}: an application moves only within its account"
                    );
                }
            }
            if source_state.encryption.is_some() && state.encryption.is_none() {
                return Err(hinted(
                    format!("{target_name} keeps private keys in plain text, and this state's are encrypted"),
                    format!("encrypt it first: `vapp --state {target_name} state encrypt`"),
                ));
            }
            StateStore::new(target_backend.clone(), state, Some(token))
        }
        None => {
            let mut state = State::new(uuid::Uuid::new_v4().to_string());
            state.account = source_state.account.clone();
            if let Some(passphrase) = &passphrase {
                let (settings, sealer) = state::Sealer::create(passphrase)?;
                state.encryption = Some(settings);
                state.sealer = Some(sealer);
            } else if source_state.encryption.is_some() {
                bail!("give the passphrase (VAPP_STATE_PASSPHRASE or --passphrase-file): the key stays encrypted in {target_name}");
            }
            StateStore::new(target_backend.clone(), state, None)
        }
    };
    let source_store = context.store(Some(source)).await?;
    let entry = source_store.read(|s| s.applications.get(from).cloned());
    let there = target.read(|s| s.applications.get(new).cloned());
    let leaving = Leaving { to: target_name.clone(), address: new.clone() };
    match (entry, there) {
        (None, Some(_)) => {
            context.printer.status(&format!("`{from}` is already `{new}` in {target_name}: nothing to do."));
            return Ok(Exit::Success);
        }
        (None, None) => bail!("{from} is not in the state"),
        (Some(entry), there) => {
            check_settled(from, &entry)?;
            match (&entry.leaving, &there) {
                (Some(marked), _) if *marked != leaving => {
                    bail!(
                        "{from} is being handed to {} as `{}`, not here: run that command again to finish it",
                        marked.to,
                        marked.address
                    )
                }
                (None, Some(_)) => bail!("{target_name} already holds `{new}`: `{from}` cannot move there"),
                (_, Some(there)) if there.id != entry.id => {
                    bail!(
                        "{target_name} holds `{new}` for another application ({}): `{from}` cannot move there",
                        there.id.as_ref().map_or("(none)", |id| id.as_str())
                    )
                }
                _ => {}
            }
            // 1. From here on this state leaves the application alone.
            if entry.leaving.is_none() {
                source_store
                    .commit(|s| {
                        if let Some(entry) = s.applications.get_mut(from) {
                            entry.leaving = Some(leaving.clone());
                        }
                    })
                    .await?;
            }
            crate::crash::point("state-mv:marked");
            // 2. The target manages it.
            if there.is_none() {
                let moved = StateEntry { leaving: None, ..entry.clone() };
                target.commit(|s| drop(s.applications.insert(new.clone(), moved))).await?;
            }
            crate::crash::point("state-mv:recorded");
            // 3. This state forgets it.
            source_store.commit(|s| drop(s.applications.remove(from))).await?;
        }
    }
    context.printer.status(&format!(
        "Handed `{from}` to {target_name} as `{new}`: same application, key and numbers. Remove it from these manifests and declare `{new}` in the other repository's."
    ));
    Ok(Exit::Success)
}
