//! Finding a create whose answer was lost: the one rule, used by the planner (an unconfirmed create in
//! the state) and by the executor (a POST that failed after it may have left) alike.
//!
//! A lost create is recognised by the key it sent and, when recorded, the name it sent, among the
//! applications that no address manages. Applications another address manages are never candidates:
//! adopting one would point two addresses at one application. More than one candidate is reported,
//! never guessed.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::keys;
use crate::model::{AppId, Application, Fingerprint};
use crate::state::State;

/// What a create sent, by which its application is known again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostCreate {
    pub fingerprint: Fingerprint,
    /// The name it sent; `None` in states written before names were recorded (any name matches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// What looking for a lost create found.
#[derive(Debug, PartialEq)]
pub enum Lookup<'a> {
    Found(&'a Application),
    Missing,
    /// More than one candidate: nothing may be decided.
    Ambiguous(usize),
}

/// The applications no address manages, with their keys' fingerprints (parsed once: with thousands of
/// applications, parsing every key for every lookup would dominate a plan).
pub struct Unmanaged<'a>(Vec<(&'a Application, Fingerprint)>);

impl<'a> Unmanaged<'a> {
    pub fn new(live: impl IntoIterator<Item = &'a Application>, state: &State) -> Self {
        let managed: HashSet<&AppId> = state.applications.values().filter_map(|e| e.id.as_ref()).collect();
        Unmanaged(
            live.into_iter()
                .filter(|app| app.id.as_ref().is_some_and(|id| !managed.contains(id)))
                .filter_map(|app| Some((app, keys::fingerprint(app.public_key()?).ok()?)))
                .collect(),
        )
    }
}

impl LostCreate {
    /// Whether `app`, whose key has `fingerprint`, is what this create made.
    fn made(&self, app: &Application, fingerprint: &Fingerprint) -> bool {
        *fingerprint == self.fingerprint && self.name.as_ref().is_none_or(|name| *name == app.name)
    }

    pub fn find<'a>(&self, unmanaged: &Unmanaged<'a>) -> Lookup<'a> {
        let mut candidates = unmanaged.0.iter().filter(|(app, fingerprint)| self.made(app, fingerprint));
        match (candidates.next(), candidates.count()) {
            (None, _) => Lookup::Missing,
            (Some((app, _)), 0) => Lookup::Found(app),
            (Some(_), more) => Lookup::Ambiguous(more + 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Address;
    use crate::state::{KeyRecord, StateEntry};
    use serde_json::json;

    #[test]
    fn only_unmanaged_applications_with_the_key_and_name_are_found() {
        let pair = crate::keys::tests::shared_pair();
        let app = |id: &str, name: &str| -> Application {
            serde_json::from_value(json!({"id": id, "name": name, "keys": {"public_key": pair.public_key}})).unwrap()
        };
        let live = vec![app("id-a", "A"), app("id-b", "B"), app("id-c", "B")];
        let mut state = State::new("l".into());
        let key = KeyRecord::Unknown { fingerprint: None };
        state
            .applications
            .insert(Address::new("a"), StateEntry { id: Some(AppId::new("id-a")), key, ..Default::default() });
        let unmanaged = Unmanaged::new(&live, &state);
        let lost =
            |name: Option<&str>| LostCreate { fingerprint: pair.fingerprint.clone(), name: name.map(Into::into) };
        assert_eq!(lost(Some("A")).find(&unmanaged), Lookup::Missing, "managed elsewhere");
        assert_eq!(lost(Some("B")).find(&unmanaged), Lookup::Ambiguous(2));
        assert_eq!(lost(None).find(&unmanaged), Lookup::Ambiguous(2));
        let other = LostCreate { fingerprint: Fingerprint::new("sha256:other"), name: None };
        assert_eq!(other.find(&unmanaged), Lookup::Missing);
        let one = vec![app("id-b", "B")];
        assert_eq!(lost(Some("B")).find(&Unmanaged::new(&one, &state)), Lookup::Found(&one[0]));
    }
}
