//! Reorganising without destroying: the manifests' `moved`, `removed` and `import` entries, as any
//! manifest file may list them at its top level, and the checks that need only the manifests (those
//! that need the state are the planner's). Every problem names the entry's file:line:col.

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Desired, Diagnostic, Location};
use crate::model::{Address, AppId};

/// The most `moved`, `removed` and `import` entries all the manifests hold together.
pub const MAX_ENTRIES: usize = 10_000;

/// `moved:`: the application the state knows as `from` is now `to` (no API call, nothing re-keyed).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MovedEntry {
    /// The address the state knows it by. Must not be declared under `applications`.
    #[schemars(extend("pattern" = "^[a-z0-9][a-z0-9_-]*$"))]
    pub from: String,
    /// The address it has now: declared under `applications` (or moved on by another entry).
    #[schemars(extend("pattern" = "^[a-z0-9][a-z0-9_-]*$"))]
    pub to: String,
}

/// `removed:`: stop managing an address; the application, its numbers and its key stay in the account.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemovedEntry {
    /// The address to forget. Must not be declared under `applications`.
    #[schemars(extend("pattern" = "^[a-z0-9][a-z0-9_-]*$"))]
    pub address: String,
}

/// `import:`: take an existing application under management as `address`, by review.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportEntry {
    /// The address it will have: declared under `applications`.
    #[schemars(extend("pattern" = "^[a-z0-9][a-z0-9_-]*$"))]
    pub address: String,
    /// The application's id in the account.
    pub id: String,
}

/// A checked `moved` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Moved {
    pub from: Address,
    pub to: Address,
    pub location: Location,
}

/// A checked `removed` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Removed {
    pub address: Address,
    pub location: Location,
}

/// A checked `import` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    pub address: Address,
    pub id: AppId,
    pub location: Location,
}

/// Every reorganisation the manifests ask for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refactoring {
    pub moved: Vec<Moved>,
    pub removed: Vec<Removed>,
    pub imports: Vec<Imported>,
}

impl Refactoring {
    pub fn is_empty(&self) -> bool {
        self.moved.is_empty() && self.removed.is_empty() && self.imports.is_empty()
    }

    fn len(&self) -> usize {
        self.moved.len() + self.removed.len() + self.imports.len()
    }

    /// The address `from` ends up at after following every move: the end of its chain. `None` when
    /// no entry moves it. (Cycles are refused by [`check`], so the walk ends.)
    pub fn destination(&self, from: &Address) -> Option<&Moved> {
        let mut step = self.moved.iter().find(|m| m.from == *from)?;
        for _ in 0..self.moved.len() {
            match self.moved.iter().find(|m| m.from == step.to) {
                Some(next) => step = next,
                None => return Some(step),
            }
        }
        None
    }

    pub fn import_of(&self, address: &Address) -> Option<&Imported> {
        self.imports.iter().find(|i| i.address == *address)
    }

    pub fn removes(&self, address: &Address) -> bool {
        self.removed.iter().any(|r| r.address == *address)
    }
}

/// The problems of `desired`'s reorganisation that the manifests alone show, each at its entry.
pub fn check(desired: &Desired, source_line: &dyn Fn(&Location) -> Option<String>) -> Vec<Diagnostic> {
    let refactoring = &desired.refactoring;
    let mut found = Vec::new();
    let mut report = |location: &Location, message: String, help: Option<String>| {
        found.push(Diagnostic { location: location.clone(), message, help, source_line: source_line(location) });
    };
    if refactoring.len() > MAX_ENTRIES {
        let first = [refactoring.moved.first().map(|m| &m.location), refactoring.removed.first().map(|r| &r.location)]
            .into_iter()
            .flatten()
            .next()
            .or(refactoring.imports.first().map(|i| &i.location));
        if let Some(location) = first {
            report(
                location,
                format!(
                    "the manifests hold more than {MAX_ENTRIES} moved, removed and import entries, the most vapp reads"
                ),
                None,
            );
        }
        return found;
    }
    let declared = |address: &Address| desired.apps.contains_key(address);
    let mut froms: HashMap<&Address, &Moved> = HashMap::new();
    let mut tos: HashMap<&Address, &Moved> = HashMap::new();
    for moved in &refactoring.moved {
        if moved.from == moved.to {
            report(&moved.location, format!("`{}` is moved to itself", moved.from), None);
            continue;
        }
        if let Some(first) = froms.insert(&moved.from, moved) {
            report(
                &moved.location,
                format!("`{}` is moved twice", moved.from),
                Some(format!("it is first moved at {}", first.location)),
            );
        }
        if let Some(first) = tos.insert(&moved.to, moved) {
            report(
                &moved.location,
                format!("two entries move an application to `{}`", moved.to),
                Some(format!("the other is at {}; one address holds one application", first.location)),
            );
        }
        if declared(&moved.from) {
            report(
                &moved.location,
                format!("`{}` is moved, but it is still declared under `applications`", moved.from),
                Some(format!("remove `{}` from `applications`, or drop this entry", moved.from)),
            );
        }
    }
    for moved in &refactoring.moved {
        if !declared(&moved.to) && !froms.contains_key(&moved.to) {
            report(
                &moved.location,
                format!("`{}` is moved to `{}`, which is not declared under `applications`", moved.from, moved.to),
                Some(format!("declare `{}` (with the application's settings) in a manifest", moved.to)),
            );
        }
    }
    // A cycle (a→b, b→a) would leave nothing at the end of the chain.
    for moved in &refactoring.moved {
        let mut at = &moved.to;
        for _ in 0..=refactoring.moved.len() {
            match froms.get(at) {
                Some(next) if next.from == moved.from => {
                    report(&moved.location, format!("the moves from `{}` go round in a circle", moved.from), None);
                    break;
                }
                Some(next) => at = &next.to,
                None => break,
            }
        }
    }
    let mut removed: HashMap<&Address, &Location> = HashMap::new();
    for entry in &refactoring.removed {
        if let Some(first) = removed.insert(&entry.address, &entry.location) {
            report(&entry.location, format!("`{}` is removed twice", entry.address), Some(format!("first at {first}")));
        }
        if declared(&entry.address) {
            report(
                &entry.location,
                format!("`{}` is removed, but it is still declared under `applications`", entry.address),
                Some("to keep managing it, drop this entry; to stop, remove it from `applications`".into()),
            );
        }
        if froms.contains_key(&entry.address) || tos.contains_key(&entry.address) {
            report(&entry.location, format!("`{}` is both moved and removed", entry.address), None);
        }
    }
    let mut imported: HashMap<&Address, &Location> = HashMap::new();
    let mut ids: HashMap<&AppId, &Imported> = HashMap::new();
    for entry in &refactoring.imports {
        if let Some(first) = imported.insert(&entry.address, &entry.location) {
            report(
                &entry.location,
                format!("`{}` is imported twice", entry.address),
                Some(format!("first at {first}")),
            );
        }
        if let Some(first) = ids.insert(&entry.id, entry) {
            report(
                &entry.location,
                format!("application {} is imported as both `{}` and `{}`", entry.id, first.address, entry.address),
                Some(format!("the other entry is at {}", first.location)),
            );
        }
        if !declared(&entry.address) {
            report(
                &entry.location,
                format!("`{}` is imported, but it is not declared under `applications`", entry.address),
                Some("declare it with the settings it should have; the plan shows what changes".into()),
            );
        }
        if tos.contains_key(&entry.address) {
            report(&entry.location, format!("`{}` is both imported and the target of a move", entry.address), None);
        }
    }
    found
}
