//! The planner: a pure function from what the manifests want, what the state remembers and what the
//! account holds to a complete plan.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::diff::{comparable, diff, keep_unmodelled};
use super::{Action, Change, Drift, FieldDiff, KeyPlan, Plan, StateRef, FORMAT_VERSION};
use crate::keys;
use crate::manifest::{Desired, DesiredApp};
use crate::model::{defaults, Application, Keys};
use crate::state::{KeyRecord, State, StateEntry};

/// What a plan is made from.
pub struct PlanInput<'a> {
    pub desired: &'a Desired,
    /// `None` before the first apply.
    pub state: Option<&'a State>,
    /// Every application in the account.
    pub live: &'a [Application],
    /// Only these addresses are considered; all when empty.
    pub targets: &'a [String],
}

/// Plans. Pure: no I/O, no clock, no randomness.
pub fn plan(input: &PlanInput) -> Plan {
    let empty = State::new(String::new());
    let state = input.state.unwrap_or(&empty);
    let live_by_id: HashMap<&str, &Application> =
        input.live.iter().filter_map(|app| Some((app.id.as_deref()?, app))).collect();
    let by_fingerprint = FingerprintIndex::new(input.live, state);

    let mut addresses: BTreeSet<&str> = input.desired.apps.keys().map(String::as_str).collect();
    addresses.extend(state.applications.keys().map(String::as_str));
    if !input.targets.is_empty() {
        addresses.retain(|a| input.targets.iter().any(|t| t == a));
    }

    let mut changes = Vec::new();
    let mut drift = Vec::new();
    let mut warnings = Vec::new();
    for target in input.targets {
        if !addresses.contains(target.as_str()) {
            warnings.push(format!("--target {target} matches no address in the manifests or the state"));
        }
    }
    for address in addresses {
        let wanted = input.desired.apps.get(address);
        let entry = state.applications.get(address);
        // The live application this address manages: by id, or for an unconfirmed create, by key.
        let live = match entry {
            Some(StateEntry { id: Some(id), .. }) => live_by_id.get(id.as_str()).copied(),
            Some(entry @ StateEntry { id: None, .. }) => match by_fingerprint.find(entry) {
                Lookup::Found(app) => Some(app),
                Lookup::Missing => None,
                Lookup::Ambiguous(count) => {
                    warnings.push(format!(
                        "{address}: an earlier create's answer was lost and {count} unmanaged applications have its key and name; vapp cannot tell which is its own and leaves {address} alone (adopt the right one with `vapp state rm {address}` and `vapp import {address} ID`)"
                    ));
                    continue;
                }
            },
            None => None,
        };
        if let (Some(entry), Some(id)) = (entry, entry.and_then(|e| e.id.as_deref())) {
            if let Some(found) = drift_of(address, id, entry, live) {
                drift.push(found);
            }
        }
        let change = match (wanted, entry) {
            (Some(wanted), None) => {
                warn_same_name(wanted, input.live, state, &mut warnings);
                create(wanted, Action::Create, new_key(wanted, None), vec![])
            }
            (Some(wanted), Some(entry)) => match (entry.id.as_deref(), live) {
                (Some(_), Some(live)) => converge(wanted, entry, live, &mut warnings),
                (None, Some(live)) => {
                    let mut change = update_or_keep(wanted, live, Action::Adopt);
                    change.action = Action::Adopt;
                    change
                        .notes
                        .push("an earlier create reached the account but its answer was lost; found by its key".into());
                    change
                }
                (Some(id), None) => {
                    let note = format!("application {id} is gone from the account; it is created again");
                    create(wanted, Action::Recreate, new_key(wanted, Some(entry)), vec![note])
                }
                (None, None) => {
                    let note =
                        "an earlier create did not reach the account; it is sent again with the same key".to_string();
                    create(wanted, Action::Create, new_key(wanted, Some(entry)), vec![note])
                }
            },
            (None, Some(entry)) => remove(address, entry, live, &mut warnings),
            (None, None) => continue,
        };
        let mut change = change;
        if let Some(intent) = entry.and_then(|e| e.intent.as_ref()).filter(|i| i.action != "create") {
            change.notes.push(format!(
                "an earlier {} was interrupted; planned again from what the account holds",
                intent.action
            ));
        }
        changes.push(change);
    }
    Plan {
        format_version: FORMAT_VERSION,
        state: StateRef { lineage: input.state.map(|s| s.lineage.clone()), serial: state.serial },
        changes,
        drift,
        warnings,
    }
}

/// The key of a create: the user's own, the pair the state already made for this address (a create sent
/// again, or a recreate: application servers keep working), or a new one.
fn new_key(wanted: &DesiredApp, entry: Option<&StateEntry>) -> KeyPlan {
    if let Some(external) = &wanted.keys.external {
        return KeyPlan::External { fingerprint: external.fingerprint.clone() };
    }
    match entry.map(|e| &e.key) {
        Some(KeyRecord::Managed { fingerprint, .. }) => KeyPlan::Reuse { fingerprint: fingerprint.clone() },
        _ => KeyPlan::Generate,
    }
}

/// Puts the key a plan already knows (the user's own) into a body; vapp-made keys are put in at apply.
fn with_known_key(mut body: Application, key: &KeyPlan, wanted: &DesiredApp) -> Application {
    if let (KeyPlan::External { .. }, Some(external)) = (key, &wanted.keys.external) {
        body.keys = Some(Keys { public_key: Some(external.public_key.clone()), ..Default::default() });
    }
    body
}

/// Whether the application's key must change, and why.
fn key_decision(wanted: &DesiredApp, entry: &StateEntry, live_fingerprint: Option<&str>) -> Option<(KeyPlan, String)> {
    let held = entry.key.fingerprint();
    let pending = entry.pending_key.as_ref().and_then(|k| k.fingerprint());
    if let Some(external) = &wanted.keys.external {
        if live_fingerprint == Some(external.fingerprint.as_str()) {
            return (held != live_fingerprint).then(|| {
                (
                    KeyPlan::External { fingerprint: external.fingerprint.clone() },
                    format!("records the key of {} as the application's key", external.path.display()),
                )
            });
        }
        return Some((
            KeyPlan::External { fingerprint: external.fingerprint.clone() },
            format!("the live key is not the one in {}; it is replaced by it", external.path.display()),
        ));
    }
    if let (Some(pending), Some(live)) = (pending, live_fingerprint) {
        if pending == live {
            return Some((
                KeyPlan::Reuse { fingerprint: pending.to_string() },
                "an earlier rotation reached the account; it is completed".into(),
            ));
        }
    }
    let again = || match pending {
        Some(fingerprint) if entry.pending_key.as_ref().is_some_and(|k| k.private_key().is_some()) => {
            KeyPlan::Reuse { fingerprint: fingerprint.to_string() }
        }
        _ => KeyPlan::Generate,
    };
    match &entry.key {
        KeyRecord::Managed { fingerprint, .. }
            if live_fingerprint.is_some() && live_fingerprint != Some(fingerprint.as_str()) =>
        {
            return Some((
                again(),
                "the live key was changed outside vapp; a new pair that vapp holds takes custody back".into(),
            ));
        }
        KeyRecord::External { .. } => {
            return Some((
                again(),
                "the manifest no longer names a public key file; vapp makes a pair and keeps it".into(),
            ));
        }
        _ => {}
    }
    if entry.rotate_requested {
        return Some((again(), "a new key pair was asked for with `vapp key rotate`".into()));
    }
    if wanted.keys.rotation > entry.rotation {
        return Some((again(), format!("keys.rotation went from {} to {}", entry.rotation, wanted.keys.rotation)));
    }
    None
}

/// An application that exists and is managed: update, rotate its key, or leave it.
fn converge(wanted: &DesiredApp, entry: &StateEntry, live: &Application, warnings: &mut Vec<String>) -> Change {
    let live_fingerprint = live.public_key().and_then(|pem| keys::fingerprint(pem).ok());
    let Some((key, note)) = key_decision(wanted, entry, live_fingerprint.as_deref()) else {
        let mut change = update_or_keep(wanted, live, Action::Update);
        change.rotation = entry.rotation;
        return change;
    };
    if note.starts_with("the live key was changed outside vapp") {
        warnings.push(format!(
            "the live key of {} is not the one vapp holds (someone changed it outside vapp); this plan gives it a new pair (rotate-key) to take custody back",
            wanted.address
        ));
    }
    let mut change = update_or_keep(wanted, live, Action::RotateKey);
    let fields_change = change.action != Action::NoOp;
    let new_fingerprint = match &key {
        KeyPlan::Generate => Value::String("(a new pair, made at apply)".into()),
        KeyPlan::Reuse { fingerprint } | KeyPlan::External { fingerprint } => Value::String(fingerprint.clone()),
    };
    let before = live_fingerprint.map(Value::String).unwrap_or(Value::Null);
    let sends_key = before != new_fingerprint;
    if sends_key {
        change.diff.push(FieldDiff { path: "keys.fingerprint".into(), before, after: new_fingerprint });
    }
    if change.body.is_none() {
        change.body = Some(update_body(desired_body(wanted), live));
    }
    change.body = change.body.map(|body| with_known_key(body, &key, wanted));
    change.action = Action::RotateKey;
    change.api_call = sends_key || fields_change;
    change.key = Some(key);
    change.rotation = wanted.keys.rotation.max(entry.rotation);
    change.notes.push(note);
    change
}

/// The body a create sends: the manifest with defaults made explicit.
fn desired_body(wanted: &DesiredApp) -> Application {
    defaults::fill(&wanted.application)
}

fn create(wanted: &DesiredApp, action: Action, key: KeyPlan, notes: Vec<String>) -> Change {
    let body = desired_body(wanted);
    Change {
        address: wanted.address.clone(),
        action,
        id: None,
        diff: diff(&Value::Null, &comparable(&body)),
        body: Some(with_known_key(body, &key, wanted)),
        key: Some(key),
        rotation: wanted.keys.rotation,
        protect: wanted.protect,
        api_call: true,
        observed: None,
        notes,
    }
}

/// An update when the manifest and the account differ; a no-op (recording what was seen) otherwise.
fn update_or_keep(wanted: &DesiredApp, live: &Application, action: Action) -> Change {
    let observed = comparable(live);
    let desired = desired_body(wanted);
    let fields = diff(&observed, &comparable(&desired));
    let mut change = Change {
        address: wanted.address.clone(),
        action: Action::NoOp,
        id: live.id.clone(),
        diff: vec![],
        body: None,
        key: None,
        rotation: 0,
        protect: wanted.protect,
        api_call: false,
        observed: Some(observed),
        notes: vec![],
    };
    if !fields.is_empty() {
        change.action = action;
        change.diff = fields;
        change.body = Some(update_body(desired, live));
        change.api_call = true;
    }
    change
}

/// A full PUT: the manifest, plus every unmodelled live field, plus the live key (a PUT without the
/// key keeps it, but saying it makes the body self-contained).
fn update_body(desired: Application, live: &Application) -> Application {
    let mut body = serde_json::to_value(&desired).unwrap_or(Value::Null);
    let live_value = serde_json::to_value(live).unwrap_or(Value::Null);
    let modelled = serde_json::to_value(live.without_extras()).unwrap_or(Value::Null);
    keep_unmodelled(&mut body, &live_value, &modelled);
    let mut body: Application = serde_json::from_value(body).unwrap_or(desired);
    body.extra.remove("_links");
    body.id = None;
    body.keys = live.public_key().map(|pem| Keys { public_key: Some(pem.to_string()), ..Default::default() });
    body
}

fn remove(address: &str, entry: &StateEntry, live: Option<&Application>, warnings: &mut Vec<String>) -> Change {
    let observed = live.map(comparable);
    let mut change = Change {
        address: address.to_string(),
        action: Action::Delete,
        id: live.and_then(|l| l.id.clone()).or_else(|| entry.id.clone()),
        diff: observed.as_ref().map(|o| diff(o, &Value::Null)).unwrap_or_default(),
        body: None,
        key: None,
        rotation: entry.rotation,
        protect: entry.protect,
        api_call: live.is_some(),
        observed,
        notes: vec![],
    };
    if live.is_none() {
        change.notes.push("already gone from the account; only the state entry is removed".into());
    } else if entry.protect {
        change.action = Action::NoOp;
        change.diff.clear();
        change.api_call = false;
        warnings.push(format!(
            "{address} is protected and is not deleted; apply `protect: false` for it first to allow deletion"
        ));
    }
    change
}

fn drift_of(address: &str, id: &str, entry: &StateEntry, live: Option<&Application>) -> Option<Drift> {
    let applied = entry.applied.as_ref()?;
    match live {
        None => Some(Drift { address: address.to_string(), id: Some(id.to_string()), diff: vec![], deleted: true }),
        Some(live) => {
            let mut fields = diff(applied, &comparable(live));
            let live_fingerprint = live.public_key().and_then(|pem| keys::fingerprint(pem).ok());
            // Only a key vapp holds (or was given) can drift; an imported application's key is not vapp's.
            let held = match entry.key {
                KeyRecord::Unknown { .. } => None,
                _ => entry.key.fingerprint(),
            };
            let pending = entry.pending_key.as_ref().and_then(|k| k.fingerprint());
            if held.is_some() && live_fingerprint.as_deref() != held && live_fingerprint.as_deref() != pending {
                fields.push(FieldDiff {
                    path: "keys.fingerprint".into(),
                    before: held.map(|h| Value::String(h.to_string())).unwrap_or(Value::Null),
                    after: live_fingerprint.map(Value::String).unwrap_or(Value::Null),
                });
            }
            (!fields.is_empty()).then(|| Drift {
                address: address.to_string(),
                id: Some(id.to_string()),
                diff: fields,
                deleted: false,
            })
        }
    }
}

fn warn_same_name(wanted: &DesiredApp, live: &[Application], state: &State, warnings: &mut Vec<String>) {
    let name = &wanted.application.name;
    if let Some(twin) =
        live.iter().find(|a| &a.name == name && a.id.as_deref().is_some_and(|id| state.address_of(id).is_none()))
    {
        warnings.push(format!(
            "{} will be created, but the account already has an unmanaged application named {:?} ({}); to manage that one instead, run `vapp import {} {}`",
            wanted.address,
            name,
            twin.id.as_deref().unwrap_or(""),
            wanted.address,
            twin.id.as_deref().unwrap_or("")
        ));
    }
}

/// What looking for an unconfirmed create's application found.
enum Lookup<'a> {
    Found(&'a Application),
    Missing,
    Ambiguous(usize),
}

/// Unmanaged live applications by their key's fingerprint, built only when an unconfirmed create needs
/// it (fingerprinting parses every public key). Applications that another address manages are never
/// candidates: adopting one would point two addresses at one application.
struct FingerprintIndex<'a>(HashMap<String, Vec<&'a Application>>);

impl<'a> FingerprintIndex<'a> {
    fn new(live: &'a [Application], state: &State) -> Self {
        let mut map: HashMap<String, Vec<&'a Application>> = HashMap::new();
        if state.applications.values().all(|e| e.id.is_some()) {
            return FingerprintIndex(map);
        }
        for app in live {
            let unmanaged = app.id.as_deref().is_some_and(|id| state.address_of(id).is_none());
            if let Some(fingerprint) =
                app.public_key().and_then(|pem| keys::fingerprint(pem).ok()).filter(|_| unmanaged)
            {
                map.entry(fingerprint).or_default().push(app);
            }
        }
        FingerprintIndex(map)
    }

    /// The application an unconfirmed create made: same key, and the name it sent when that is known.
    fn find(&self, entry: &StateEntry) -> Lookup<'a> {
        let Some(fingerprint) = entry.key.fingerprint() else { return Lookup::Missing };
        let sent_name = entry.intent.as_ref().and_then(|i| i.name.as_deref());
        let candidates: Vec<&'a Application> = self
            .0
            .get(fingerprint)
            .into_iter()
            .flatten()
            .copied()
            .filter(|app| sent_name.is_none_or(|name| app.name == name))
            .collect();
        match candidates.as_slice() {
            [] => Lookup::Missing,
            [app] => Lookup::Found(app),
            many => Lookup::Ambiguous(many.len()),
        }
    }
}

#[cfg(test)]
mod tests;
