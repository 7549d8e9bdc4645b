//! The planner: a pure function from what the manifests want, what the state remembers and what the
//! account holds to a complete plan.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::diff::{comparable, diff, keep_unmodelled, written_paths};
use super::lost::{Lookup, LostCreate, Unmanaged};
use super::{
    Action, Adopt, AdoptThen, Change, Create, Drift, FieldDiff, IfFound, KeyChange, KnownKey, NewKey, Note,
    NumberChange, Origin, Plan, RotateKey, Route, StateRef, Step, Update, Warning,
};
use crate::manifest::{Desired, DesiredApp, Location};
use crate::model::{
    defaults, AccountName, Address, AppId, Application, Fingerprint, Keep, Keys, Listed, Msisdn, Number,
};
use crate::state::{Intent, KeyRecord, State, StateEntry};

/// What a plan is made from.
pub struct PlanInput<'a> {
    pub desired: &'a Desired,
    /// `None` before the first apply.
    pub state: Option<&'a State>,
    /// Every application in the account: whole where the state names it (or has an unconfirmed
    /// create), a glimpse elsewhere.
    pub live: &'a [Listed],
    /// Only these addresses are considered; all when empty.
    pub targets: &'a [Address],
    /// Every number the account owns.
    pub numbers: &'a [Number],
}

/// A plan that cannot be made. The planner fails loudly rather than plan a body it could not build.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("cannot build the request body for {address}")]
    Body {
        address: Address,
        #[source]
        source: serde_json::Error,
    },
    /// A manifest names a number the account does not own: nothing is planned, nothing changes.
    #[error("{location}: the account does not own number {msisdn} (listed under `{address}`)")]
    NumberNotOwned { msisdn: Msisdn, address: Address, location: Location },
    /// The account was listed without the whole of an application the plan depends on.
    #[error("application {id} was listed in part only, but the plan depends on all of it")]
    Partial { id: AppId },
    /// A `moved:` entry's old and new addresses are both in the state.
    #[error("{location}: the state holds both `{from}` and `{to}`, so `{from}` cannot move to `{to}`")]
    MoveBothHeld { from: Address, to: Address, location: Location },
    /// The manifests put an application in another account, and vapp cannot take it out of the old one
    /// in this plan (it is protected, being handed to another state, or an earlier create's outcome is
    /// unknown): creating it anew would leave the old one behind with its key dropped.
    #[error("`{address}` moves from account {from} to account {to}, but vapp cannot take it out of account {from} in this plan ({why})")]
    MoveBlocked { address: Address, from: crate::model::AccountName, to: crate::model::AccountName, why: MoveBlocked },
    /// `--account` names one account of a move between accounts and not the other.
    #[error(transparent)]
    HalfAMove(super::HalfAMove),
    /// A `moved:` entry whose old and new addresses are in different accounts.
    #[error("{}: `moved:` from `{}` (account {from_account}) to `{}` (account {to_account}) crosses accounts, and Vonage cannot move an application between accounts", moved.location, moved.from, moved.to)]
    MovedAcrossAccounts {
        moved: Box<crate::manifest::refactor::Moved>,
        from_account: crate::model::AccountName,
        to_account: crate::model::AccountName,
    },
    /// An `import:` entry names an application the account does not hold.
    #[error("{location}: the account holds no application {id} to import as `{address}`")]
    ImportUnknown { address: Address, id: AppId, location: Location },
    /// An `import:` entry names an application another address manages.
    #[error(
        "{location}: application {id} is already managed as `{managed_as}`, so it cannot be imported as `{address}`"
    )]
    ImportManaged {
        address: Address,
        id: AppId,
        managed_as: Address,
        location: Location,
        /// `vapp state mv address managed_as` made it so, and the manifests are not edited yet.
        moved_by_state_mv: bool,
    },
}

/// Why the old half of a move between accounts cannot be carried out in this plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MoveBlocked {
    /// Protected, being handed to another state, or its create's outcome is unknown.
    Kept,
    /// Its old application is still being changed.
    StillChanging,
}

impl std::fmt::Display for MoveBlocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MoveBlocked::Kept => "it is protected, being handed to another state, or an earlier create's outcome is unknown; remove `protect` or settle it first, or give the new application another address",
            MoveBlocked::StillChanging => "its old application is still being changed",
        })
    }
}

impl PlanError {
    /// What to do about it.
    pub fn help(&self) -> Option<String> {
        match self {
            PlanError::HalfAMove(half) => Some(format!("name both: --account {} --account {}", half.from, half.to)),
            PlanError::MoveBothHeld { from, .. } => Some(format!(
                "one of them is not the application you mean: `vapp state rm {from}` (or a `removed:` entry) stops managing it"
            )),
            PlanError::ImportUnknown { .. } => {
                Some("`vapp export` lists the account's applications with their ids".into())
            }
            PlanError::ImportManaged { managed_as, address, moved_by_state_mv: true, .. } => Some(format!(
                "`vapp state mv {address} {managed_as}` renamed it: rename {address} to {managed_as} in the manifests (its `import:` entry too), or run `vapp state mv {managed_as} {address}` to undo the move"
            )),
            PlanError::ImportManaged { managed_as, address, .. } => Some(format!(
                "to give it the new address, write `moved: [{{ from: {managed_as}, to: {address} }}]` instead"
            )),
            _ => None,
        }
    }
}

/// Which listed applications a plan against `state` may depend on whole: those the state manages, or
/// every one while a create whose answer was lost may be any of them.
pub fn listing_keeps(state: Option<&State>) -> Keep {
    let Some(state) = state else { return Keep::Only(Default::default()) };
    match state.applications.values().any(|e| e.id.is_none()) {
        true => Keep::Everything,
        false => Keep::Only(state.applications.values().filter_map(|e| e.id.clone()).collect()),
    }
}

/// Which listed applications of `account` a plan may depend on whole (see [`listing_keeps`]).
pub fn listing_keeps_in(state: Option<&State>, account: &AccountName) -> Keep {
    let Some(state) = state else { return Keep::Only(Default::default()) };
    let entries = || state.applications.values().filter(|e| &e.account_name() == account);
    match entries().any(|e| e.id.is_none()) {
        true => Keep::Everything,
        false => Keep::Only(entries().filter_map(|e| e.id.clone()).collect()),
    }
}

/// How many new key pairs planning `desired` against `state` will most likely call for, told before
/// the account is read: an address the state has never seen, and a rotation asked for without a
/// pending pair. It lets key generation start while the account is listed; the plan itself decides,
/// so a wrong guess costs only keys made for nothing or made later.
pub fn keys_expected(desired: &Desired, state: Option<&State>, targets: &[Address]) -> usize {
    let targeted = |address: &Address| targets.is_empty() || targets.contains(address);
    desired
        .apps
        .values()
        .filter(|wanted| targeted(&wanted.address) && wanted.keys.external.is_none())
        .filter(|wanted| match state.and_then(|s| s.applications.get(&wanted.address)) {
            None => true,
            Some(entry) => {
                let rotation = entry.rotate_requested || wanted.keys.rotation > entry.rotation;
                rotation && entry.pending_key.as_ref().and_then(KeyRecord::private_key).is_none()
            }
        })
        .count()
}

/// Which account a plan is of, and the numbers that cross into or out of it before its changes run
/// (transfers between accounts, carried out first).
pub struct Scope {
    pub account: AccountName,
    /// Numbers another account transfers here: they arrive linked to nothing.
    pub arriving: Vec<Number>,
    /// Numbers this account transfers to another: gone before its changes run, but not drift.
    pub leaving: BTreeSet<Msisdn>,
}

impl Scope {
    /// `default`, with nothing crossing: a run that spans one account.
    pub fn default_account() -> Self {
        Scope { account: AccountName::default_account(), arriving: Vec::new(), leaving: BTreeSet::new() }
    }
}

/// Plans the `default` account. Pure: no I/O, no clock, no randomness.
pub fn plan(input: &PlanInput) -> Result<Plan, PlanError> {
    plan_in(input, &Scope::default_account())
}

/// Plans one account (`scope`'s): every change and drift entry is of it. Pure.
pub fn plan_in(input: &PlanInput, scope: &Scope) -> Result<Plan, PlanError> {
    let account = &scope.account;
    let empty = State::new(String::new());
    let serial = input.state.map_or(0, |s| s.serial);
    // Renames first, in one place: from here on the state's records are where the manifests put them.
    let moved = super::refactor::apply_moves(input.state.unwrap_or(&empty), &input.desired.refactoring)?;
    let state: &State = &moved.state;
    let refactoring = &input.desired.refactoring;
    let live_by_id: HashMap<&AppId, Live> =
        input.live.iter().filter_map(Listed::kept).filter_map(Live::of).map(|live| (live.id, live)).collect();
    let names_by_id: HashMap<&AppId, &str> =
        input.live.iter().filter_map(|listed| Some((listed.id()?, listed.name()))).collect();
    if let Some(partial) = state
        .applications
        .values()
        .filter_map(|e| e.id.as_ref())
        .find(|id| names_by_id.contains_key(id) && !live_by_id.contains_key(id))
    {
        return Err(PlanError::Partial { id: partial.clone() });
    }
    // Parsing every live key is costly; only an unconfirmed create needs it.
    let unmanaged = state
        .applications
        .values()
        .any(|e| e.id.is_none())
        .then(|| Unmanaged::new(input.live.iter().filter_map(Listed::whole), state));

    let mut addresses: BTreeSet<&Address> = input.desired.apps.keys().collect();
    addresses.extend(state.applications.keys());
    if !input.targets.is_empty() {
        addresses.retain(|a| input.targets.contains(a));
    }

    let mut planner =
        Planner { account: account.clone(), changes: Vec::new(), drift: Vec::new(), warnings: Vec::new() };
    for target in input.targets {
        if !addresses.contains(target) {
            planner.warnings.push(Warning::TargetMatchesNothing { target: target.clone() });
        }
    }
    for address in addresses {
        let wanted = input.desired.apps.get(address);
        let entry = state.applications.get(address);
        if let Some(leaving) = entry.and_then(|e| e.leaving.as_ref()) {
            planner.warnings.push(Warning::Leaving { address: address.clone(), to: leaving.to.clone() });
            continue;
        }
        // The live application this address manages: by id, or for an unconfirmed create, by key.
        let live = match entry {
            Some(StateEntry { id: Some(id), .. }) => live_by_id.get(id).copied(),
            Some(entry @ StateEntry { id: None, .. }) => {
                let found = match (lost_create(entry), &unmanaged) {
                    (Some(lost), Some(unmanaged)) => lost.find(unmanaged),
                    _ => Lookup::Missing,
                };
                match found {
                    Lookup::Found(app) => app.id.as_ref().and_then(|id| live_by_id.get(id)).copied(),
                    Lookup::Missing => None,
                    Lookup::Ambiguous(count) => {
                        planner.warnings.push(Warning::AmbiguousLostCreate { address: address.clone(), count });
                        continue;
                    }
                }
            }
            None => None,
        };
        if let (Some(entry), Some(id)) = (entry, entry.and_then(|e| e.id.as_ref())) {
            if let Some(found) = drift_of(account, address, id, entry, live).map_err(body_error(address))? {
                planner.drift.push(found);
            }
        }
        let import = refactoring.import_of(address).filter(|_| entry.is_none());
        let change = match (wanted, entry) {
            (None, Some(entry)) if refactoring.removes(address) => {
                if entry.key.is_managed() || entry.pending_key.as_ref().is_some_and(KeyRecord::is_managed) {
                    planner.warnings.push(Warning::KeyLeavesState { address: address.clone() });
                }
                Change {
                    account: account.clone(),
                    address: address.clone(),
                    moved_from: None,
                    step: Step::Forget { id: entry.id.clone() },
                    protect: entry.protect,
                    diff: vec![],
                    notes: vec![],
                    numbers: vec![],
                    numbers_now: BTreeSet::new(),
                }
            }
            (Some(wanted), None) => match import {
                Some(import) => planner.import(wanted, import, state, &live_by_id, &names_by_id)?,
                None => {
                    planner.warn_same_name(wanted, input.live, state);
                    let create = create(wanted, new_key(wanted, None), None).map_err(body_error(address))?;
                    planner.change(wanted, Step::Create(create.0), create.1, vec![])
                }
            },
            (Some(wanted), Some(entry)) => match (entry.id.as_ref(), live) {
                (Some(_), Some(live)) => planner.converge(wanted, entry, live).map_err(body_error(address))?,
                (None, Some(live)) => {
                    // Found: from here on it is managed, and converges like any other.
                    let observed = comparable(live.app).map_err(body_error(address))?;
                    let (converged, fields, mut notes) =
                        planner.converged(wanted, entry, live).map_err(body_error(address))?;
                    let then = match converged {
                        Converged::Same { .. } => None,
                        Converged::Update { body } => Some(AdoptThen::Update { body }),
                        Converged::RotateKey { change, rotation } => Some(AdoptThen::RotateKey { change, rotation }),
                    };
                    notes.insert(0, Note::LostCreateFound);
                    let step = Step::Adopt(Adopt { id: live.id.clone(), observed, then });
                    planner.change(wanted, step, fields, notes)
                }
                (Some(id), None) => {
                    let create = create(wanted, new_key(wanted, Some(entry)), None).map_err(body_error(address))?;
                    let step = Step::Recreate { gone: id.clone(), create: create.0 };
                    planner.change(wanted, step, create.1, vec![Note::GoneFromAccount { id: id.clone() }])
                }
                (None, None) => {
                    // Not found now, but a killed run's request may still land: the executor looks again.
                    let look_first = match entry.intent {
                        Some(Intent::Create { .. }) => lost_create(entry),
                        _ => None,
                    };
                    let create =
                        create(wanted, new_key(wanted, Some(entry)), look_first).map_err(body_error(address))?;
                    planner.change(wanted, Step::Create(create.0), create.1, vec![Note::CreateSentAgain])
                }
            },
            (None, Some(entry)) => planner.remove(address, entry, live).map_err(body_error(address))?,
            (None, None) => continue,
        };
        let mut change = change;
        if let Some(action) = entry.and_then(|e| interrupted(e.intent.as_ref()?)) {
            change.notes.push(Note::Interrupted { action });
        }
        planner.changes.push(change);
    }
    plan_numbers(input, scope, state, &live_by_id, &names_by_id, &mut planner)?;
    // Where each moved record came from; a rename that needs nothing else is a move, and no API call.
    for change in &mut planner.changes {
        change.moved_from = moved.from.get(&change.address).cloned();
        if let (Some(_), Step::NoOp { id, observed }) = (&change.moved_from, &change.step) {
            change.step = Step::Move { id: id.clone(), observed: observed.clone() };
        }
    }
    planner
        .warn_renames(input.desired, state)
        .map_err(|source| PlanError::Body { address: Address::default(), source })?;
    Ok(Plan {
        changes: planner.changes,
        drift: planner.drift,
        warnings: planner.warnings,
        ..Plan::empty(StateRef { lineage: input.state.map(|s| s.lineage.clone()), serial })
    })
}

fn body_error(address: &Address) -> impl Fn(serde_json::Error) -> PlanError + '_ {
    move |source| PlanError::Body { address: address.clone(), source }
}

/// The kind of an interrupted call worth telling about (an unconfirmed create tells for itself).
fn interrupted(intent: &Intent) -> Option<Action> {
    match intent {
        Intent::Create { .. } => None,
        Intent::Update { .. } => Some(Action::Update),
        Intent::RotateKey { .. } => Some(Action::RotateKey),
        Intent::Delete { .. } => Some(Action::Delete),
    }
}

/// How an unconfirmed create of `entry` is known again: its key, and the name it sent when its intent
/// recorded one.
fn lost_create(entry: &StateEntry) -> Option<LostCreate> {
    let fingerprint = entry.key.fingerprint()?.clone();
    let name = match &entry.intent {
        Some(Intent::Create { name, .. }) => name.clone(),
        _ => None,
    };
    Some(LostCreate { fingerprint, name })
}

/// A live application with the id the API gave it (applications without one are never matched).
#[derive(Clone, Copy)]
struct Live<'a> {
    id: &'a AppId,
    app: &'a Application,
    fingerprint: Option<&'a Fingerprint>,
}

impl<'a> Live<'a> {
    fn of(whole: &'a crate::model::Whole) -> Option<Self> {
        Some(Live { id: whole.app.id.as_ref()?, app: &whole.app, fingerprint: whole.fingerprint.as_ref() })
    }
}

struct Planner {
    /// The account planned: every change and drift entry is of it.
    account: AccountName,
    changes: Vec<Change>,
    drift: Vec<Drift>,
    warnings: Vec<Warning>,
}

/// Where each number goes. The manifests say which numbers route to each application they declare;
/// a number routing to a managed application but listed nowhere is unlinked, except from a protected
/// application that left the manifests (which keeps its numbers). Every change is attributed to the
/// address that gains the number (a link, a move) or, for an unlink, to the one that loses it.
///
/// Numbers transferred between accounts are planned where they will be: one leaving routes nowhere
/// here (and its going is not drift: the listing still shows it linked), one arriving is owned here,
/// linked to nothing.
fn plan_numbers(
    input: &PlanInput,
    scope: &Scope,
    state: &State,
    live_by_id: &HashMap<&AppId, Live>,
    names_by_id: &HashMap<&AppId, &str>,
    planner: &mut Planner,
) -> Result<(), PlanError> {
    let effective: Vec<Number> = match scope.arriving.is_empty() && scope.leaving.is_empty() {
        true => Vec::new(),
        false => input
            .numbers
            .iter()
            .filter(|n| !scope.leaving.contains(&n.msisdn))
            .chain(&scope.arriving)
            .cloned()
            .collect(),
    };
    let numbers: &[Number] = match scope.arriving.is_empty() && scope.leaving.is_empty() {
        true => input.numbers,
        false => &effective,
    };
    let owned: HashMap<&Msisdn, &Number> = numbers.iter().map(|n| (&n.msisdn, n)).collect();
    let mut wanted_by: HashMap<&Msisdn, &Address> = HashMap::new();
    for app in input.desired.apps.values() {
        for number in &app.numbers {
            if !owned.contains_key(&number.msisdn) {
                return Err(PlanError::NumberNotOwned {
                    msisdn: number.msisdn.clone(),
                    address: app.address.clone(),
                    location: number.location.clone(),
                });
            }
            wanted_by.insert(&number.msisdn, &app.address);
        }
    }
    let managed_by: HashMap<&AppId, &Address> =
        state.applications.iter().filter_map(|(address, e)| Some((e.id.as_ref()?, address))).collect();
    let origin = |n: &Number| -> Origin {
        let Some(id) = n.app_id.clone() else { return Origin::Nowhere };
        match (managed_by.get(&id), names_by_id.get(&id)) {
            (Some(address), _) => Origin::Managed { id, address: (*address).clone() },
            (None, Some(name)) => Origin::Unmanaged { id, name: name.to_string() },
            (None, None) => Origin::Gone { id },
        }
    };
    // Numbers that route to an application now: an update may clear a voice status callback on them.
    let mut rerouted: BTreeSet<Msisdn> = BTreeSet::new();
    let mut number_drift: Vec<Drift> = Vec::new();
    for change in &mut planner.changes {
        let address = &change.address;
        let wanted = input.desired.apps.get(address);
        let (current, route) = match &change.step {
            Step::Create(_) => (None, Some(Route::Created { address: address.clone() })),
            Step::Recreate { gone, .. } => (Some(gone), Some(Route::Created { address: address.clone() })),
            Step::Update(Update { id, .. }) | Step::RotateKey(RotateKey { id, .. }) => {
                (Some(id), Some(Route::Application { id: id.clone() }))
            }
            Step::Adopt(Adopt { id, .. }) | Step::NoOp { id, .. } => match wanted {
                Some(_) => (Some(id), Some(Route::Application { id: id.clone() })),
                // A protected application that left the manifests keeps its numbers.
                None => (Some(id), None),
            },
            Step::Move { id, .. } | Step::Import(super::Import { id, .. }) => {
                (Some(id), Some(Route::Application { id: id.clone() }))
            }
            Step::Delete { id } => (Some(id), None),
            Step::Vanished { id } => (id.as_ref(), None),
            // A forgotten application keeps its numbers, as it keeps everything else.
            Step::Forget { id } => (id.as_ref(), None),
            Step::Abandon { .. } => (None, None),
        };
        let kept = wanted.is_none() && matches!(change.step, Step::NoOp { .. } | Step::Adopt(_) | Step::Forget { .. });
        let routed_here: Vec<&Number> =
            numbers.iter().filter(|n| current.is_some() && n.app_id.as_ref() == current).collect();
        if matches!(route, Some(Route::Application { .. })) || kept {
            change.numbers_now = routed_here.iter().map(|n| n.msisdn.clone()).collect();
        }
        if kept {
            continue;
        }
        let mut changes = Vec::new();
        if let (Some(wanted), Some(route)) = (wanted, &route) {
            for number in &wanted.numbers {
                let Some(owned) = owned.get(&number.msisdn) else { continue };
                let here = matches!(route, Route::Application { id } if owned.app_id.as_ref() == Some(id));
                if here {
                    continue;
                }
                let from = origin(owned);
                // A move between two applications these manifests declare is what they say; one from
                // an application they do not declare (unmanaged, or kept by protection) deserves a
                // warning.
                if let (Some(from_id), Some(live)) =
                    (from.id().filter(|id| Some(*id) != current), from.id().and_then(|id| names_by_id.get(id)))
                {
                    let managed_as = managed_by.get(from_id).map(|a| (*a).clone());
                    let declared = managed_as.as_ref().is_some_and(|a| input.desired.apps.contains_key(a));
                    if !declared {
                        planner.warnings.push(Warning::NumberTakenOver {
                            msisdn: number.msisdn.clone(),
                            address: address.clone(),
                            from_id: from_id.clone(),
                            from_name: live.to_string(),
                            managed_as,
                        });
                    }
                }
                changes.push(NumberChange {
                    msisdn: owned.msisdn.clone(),
                    country: owned.country.clone(),
                    from,
                    route: route.clone(),
                });
            }
        }
        for number in &routed_here {
            let listed_here = wanted.is_some_and(|w| w.numbers.iter().any(|n| n.msisdn == number.msisdn));
            let moves_elsewhere = wanted_by.get(&number.msisdn).is_some_and(|a| *a != address);
            if !listed_here && !moves_elsewhere {
                changes.push(NumberChange {
                    msisdn: number.msisdn.clone(),
                    country: number.country.clone(),
                    from: origin(number),
                    route: Route::Nowhere,
                });
            }
        }
        for number in &changes {
            let after = match &number.route {
                Route::Application { id } => Value::String(id.to_string()),
                Route::Created { .. } | Route::Nowhere => Value::Null,
            };
            change.diff.push(FieldDiff {
                path: format!("numbers.{}", number.msisdn),
                before: number.from.id().map(|id| Value::String(id.to_string())).unwrap_or(Value::Null),
                after,
                after_unknown: matches!(number.route, Route::Created { .. }),
                ..Default::default()
            });
        }
        change.diff.sort_by(|a, b| a.path.cmp(&b.path));
        rerouted.extend(changes.iter().filter(|n| n.from != Origin::Nowhere).map(|n| n.msisdn.clone()));
        change.numbers = changes;
        // Drift: numbers linked or unlinked by hand since the last apply (an update vapp had under way
        // is not drift: the account says how it ended).
        if let (Some(entry), Some(id)) = (state.applications.get(address), current) {
            if entry.applied.is_some() && live_by_id.contains_key(id) {
                // As the account shows them now: a number about to leave by transfer is still here.
                let now: BTreeSet<&Msisdn> =
                    input.numbers.iter().filter(|n| n.app_id.as_ref() == Some(id)).map(|n| &n.msisdn).collect();
                let before: BTreeSet<&Msisdn> = entry.numbers.iter().collect();
                let fields: Vec<FieldDiff> = before
                    .symmetric_difference(&now)
                    .filter(|msisdn| !state.numbers_pending.contains_key(**msisdn))
                    .map(|msisdn| {
                        let routes_now =
                            input.numbers.iter().find(|n| &n.msisdn == *msisdn).and_then(|n| n.app_id.as_ref());
                        FieldDiff {
                            path: format!("numbers.{msisdn}"),
                            before: if before.contains(msisdn) { Value::String(id.to_string()) } else { Value::Null },
                            after: routes_now.map(|id| Value::String(id.to_string())).unwrap_or(Value::Null),
                            ..Default::default()
                        }
                    })
                    .collect();
                if !fields.is_empty() {
                    number_drift.push(Drift {
                        account: scope.account.clone(),
                        address: address.clone(),
                        id: Some(id.clone()),
                        diff: fields,
                        deleted: false,
                    });
                }
            }
        }
    }
    for found in number_drift {
        match planner.drift.iter_mut().find(|d| d.address == found.address) {
            Some(existing) => {
                existing.diff.extend(found.diff);
                existing.diff.sort_by(|a, b| a.path.cmp(&b.path));
            }
            None => planner.drift.push(found),
        }
    }
    planner.drift.sort_by(|a, b| a.address.cmp(&b.address));
    if !rerouted.is_empty() {
        planner.warnings.push(Warning::NumberStatusCallbacksCleared { msisdns: rerouted.into_iter().collect() });
    }
    Ok(())
}

/// What an existing application needs.
enum Converged {
    Same { observed: Value },
    Update { body: Box<Application> },
    RotateKey { change: KeyChange, rotation: u32 },
}

/// Why a key must change, and which key it becomes.
enum KeyDecision {
    Send(NewKey, Note),
    Record(KnownKey, Note),
}

impl Planner {
    fn change(&self, wanted: &DesiredApp, step: Step, diff: Vec<FieldDiff>, notes: Vec<Note>) -> Change {
        Change {
            account: self.account.clone(),
            address: wanted.address.clone(),
            moved_from: None,
            step,
            protect: wanted.protect,
            diff,
            notes,
            numbers: vec![],
            numbers_now: BTreeSet::new(),
        }
    }

    /// An application that exists and is managed: update, rotate its key, or leave it.
    fn converge(&mut self, wanted: &DesiredApp, entry: &StateEntry, live: Live) -> Result<Change, serde_json::Error> {
        let (converged, diff, notes) = self.converged(wanted, entry, live)?;
        let id = live.id.clone();
        let step = match converged {
            Converged::Same { observed } => Step::NoOp { id, observed },
            Converged::Update { body } => Step::Update(Update { id, body: *body }),
            Converged::RotateKey { change, rotation } => Step::RotateKey(RotateKey { id, change, rotation }),
        };
        Ok(self.change(wanted, step, diff, notes))
    }

    /// What an existing application needs to match `wanted`, with its diff and why.
    fn converged(
        &mut self,
        wanted: &DesiredApp,
        entry: &StateEntry,
        live: Live,
    ) -> Result<(Converged, Vec<FieldDiff>, Vec<Note>), serde_json::Error> {
        let live_fingerprint = live.fingerprint.cloned();
        let live = live.app;
        let observed = comparable(live)?;
        let desired = desired_body(wanted);
        let mut fields = diff(&observed, &comparable(&desired)?);
        let rotation = wanted.keys.rotation.max(entry.rotation);
        let (converged, note) = match key_decision(wanted, entry, live_fingerprint.as_ref()) {
            None if fields.is_empty() => (Converged::Same { observed }, None),
            None => (Converged::Update { body: Box::new(update_body(desired, live)?) }, None),
            Some(KeyDecision::Record(key, note)) if fields.is_empty() => {
                (Converged::RotateKey { change: KeyChange::Record { key }, rotation }, Some(note))
            }
            Some(KeyDecision::Record(key, note)) => {
                // The account has the key, but fields change too: send them with that same key.
                let key = match key {
                    KnownKey::Held { fingerprint } => NewKey::Held { fingerprint },
                    KnownKey::External { fingerprint } => {
                        NewKey::External { fingerprint, public_key: live.public_key().unwrap_or_default().to_string() }
                    }
                };
                let body = Box::new(without_key(update_body(desired, live)?));
                (Converged::RotateKey { change: KeyChange::Send { key, body }, rotation }, Some(note))
            }
            Some(KeyDecision::Send(key, note)) => {
                if note == Note::LiveKeyReplaced {
                    self.warnings.push(Warning::LiveKeyChanged { address: wanted.address.clone() });
                }
                let after = match key.fingerprint() {
                    Some(fingerprint) => Value::String(fingerprint.to_string()),
                    None => Value::String("(a new pair, made at apply)".into()),
                };
                let before = live_fingerprint.map(|f| Value::String(f.into_string())).unwrap_or(Value::Null);
                fields.push(FieldDiff { path: "keys.fingerprint".into(), before, after, ..Default::default() });
                let body = Box::new(without_key(update_body(desired, live)?));
                (Converged::RotateKey { change: KeyChange::Send { key, body }, rotation }, Some(note))
            }
        };
        let fields = if matches!(converged, Converged::Same { .. }) { vec![] } else { fields };
        Ok((converged, fields, note.into_iter().collect()))
    }

    fn remove(
        &mut self,
        address: &Address,
        entry: &StateEntry,
        live: Option<Live>,
    ) -> Result<Change, serde_json::Error> {
        let change = |step, diff, notes| Change {
            account: self.account.clone(),
            address: address.clone(),
            moved_from: None,
            step,
            protect: entry.protect,
            diff,
            notes,
            numbers: vec![],
            numbers_now: BTreeSet::new(),
        };
        let Some(live) = live else {
            let lost = match (&entry.id, &entry.intent) {
                (None, Some(Intent::Create { .. })) => lost_create(entry),
                _ => None,
            };
            let Some(lost) = lost else {
                return Ok(change(Step::Vanished { id: entry.id.clone() }, vec![], vec![Note::AlreadyGone]));
            };
            // Its create may still land: a protected one is then kept, any other deleted.
            let if_found = match entry.protect {
                true => IfFound::Keep,
                false => IfFound::Delete,
            };
            return Ok(change(Step::Abandon { lost, if_found }, vec![], vec![Note::CreateAbandoned]));
        };
        let observed = comparable(live.app)?;
        let id = live.id.clone();
        if entry.protect {
            self.warnings.push(Warning::Protected { address: address.clone() });
            if entry.id.is_none() {
                // A protected create whose answer was lost: kept, so it must be recorded.
                let step = Step::Adopt(Adopt { id, observed, then: None });
                return Ok(change(step, vec![], vec![Note::LostCreateFound]));
            }
            return Ok(change(Step::NoOp { id, observed }, vec![], vec![]));
        }
        // As a create's, the fields that hold the API's defaults are said to be (shown with -v).
        let mut fields = diff(&observed, &Value::Null);
        let written = written_paths(&defaults::strip(live.app))?;
        for field in &mut fields {
            field.default = !written.contains(&field.path);
        }
        Ok(change(Step::Delete { id }, fields, vec![]))
    }

    /// An `import:` entry for `wanted`, whose address the state does not hold: the live application is
    /// recorded, then brought to the manifest like any managed application.
    fn import(
        &mut self,
        wanted: &DesiredApp,
        import: &crate::manifest::refactor::Imported,
        state: &State,
        live_by_id: &HashMap<&AppId, Live>,
        names_by_id: &HashMap<&AppId, &str>,
    ) -> Result<Change, PlanError> {
        let (address, id) = (&wanted.address, &import.id);
        if let Some(managed_as) = state.address_of(id) {
            let renamed_from = state.applications.get(managed_as).and_then(|e| e.renamed_from.as_ref());
            return Err(PlanError::ImportManaged {
                address: address.clone(),
                id: id.clone(),
                managed_as: managed_as.clone(),
                location: import.location.clone(),
                moved_by_state_mv: renamed_from == Some(address),
            });
        }
        let Some(live) = live_by_id.get(id).copied() else {
            return Err(match names_by_id.contains_key(id) {
                true => PlanError::Partial { id: id.clone() },
                false => PlanError::ImportUnknown {
                    address: address.clone(),
                    id: id.clone(),
                    location: import.location.clone(),
                },
            });
        };
        // Recorded as an imported application's entry is: its key is not vapp's.
        let entry = StateEntry {
            id: Some(id.clone()),
            key: KeyRecord::Unknown { fingerprint: live.fingerprint.cloned() },
            protect: wanted.protect,
            ..Default::default()
        };
        let observed = comparable(live.app).map_err(body_error(address))?;
        let (converged, fields, mut notes) = self.converged(wanted, &entry, live).map_err(body_error(address))?;
        let then = match converged {
            Converged::Same { .. } => None,
            Converged::Update { body } => Some(AdoptThen::Update { body }),
            Converged::RotateKey { change, rotation } => Some(AdoptThen::RotateKey { change, rotation }),
        };
        notes.insert(0, Note::Imported);
        let step =
            Step::Import(super::Import { id: id.clone(), observed, fingerprint: live.fingerprint.cloned(), then });
        Ok(self.change(wanted, step, fields, notes))
    }

    /// Warns of a delete and a create that are one application renamed: the created address's
    /// manifest is what the deleted one last applied.
    fn warn_renames(&mut self, desired: &Desired, state: &State) -> Result<(), serde_json::Error> {
        let deleted: Vec<(&Address, &StateEntry)> = self
            .changes
            .iter()
            .filter(|c| matches!(c.step, Step::Delete { .. }))
            .filter_map(|c| Some((&c.address, state.applications.get(&c.address)?)))
            .collect();
        if deleted.is_empty() {
            return Ok(());
        }
        let mut hints = Vec::new();
        for change in self.changes.iter().filter(|c| matches!(c.step, Step::Create(_))) {
            // A `vapp state mv` the manifests have not caught up with: the `moved:` hint would point
            // back the way the state just came.
            if let Some((to, _)) = deleted.iter().find(|(_, e)| e.renamed_from.as_ref() == Some(&change.address)) {
                hints.push(Warning::StateRenamedAhead { from: change.address.clone(), to: (*to).clone() });
                continue;
            }
            let Some(wanted) = desired.apps.get(&change.address) else { continue };
            let created = comparable(&desired_body(wanted))?;
            if let Some((from, _)) = deleted.iter().find(|(_, e)| e.applied.as_ref() == Some(&created)) {
                hints.push(Warning::LooksLikeRename { from: (*from).clone(), to: change.address.clone() });
            }
        }
        self.warnings.extend(hints);
        Ok(())
    }

    fn warn_same_name(&mut self, wanted: &DesiredApp, live: &[Listed], state: &State) {
        let name = &wanted.application.name;
        let twin = live.iter().find(|a| a.name() == name && a.id().is_some_and(|id| state.address_of(id).is_none()));
        if let Some(id) = twin.and_then(|t| t.id().cloned()) {
            self.warnings.push(Warning::SameNameUnmanaged { address: wanted.address.clone(), name: name.clone(), id });
        }
    }
}

/// The key of a create: the user's own, the pair the state already made for this address (a create sent
/// again, or a recreate: application servers keep working), or a new one.
fn new_key(wanted: &DesiredApp, entry: Option<&StateEntry>) -> NewKey {
    if let Some(external) = &wanted.keys.external {
        return NewKey::External { fingerprint: external.fingerprint.clone(), public_key: external.public_key.clone() };
    }
    match entry.map(|e| &e.key) {
        Some(KeyRecord::Managed { fingerprint, .. }) => NewKey::Held { fingerprint: fingerprint.clone() },
        _ => NewKey::Generate,
    }
}

/// Whether the application's key must change, and why.
fn key_decision(
    wanted: &DesiredApp,
    entry: &StateEntry,
    live_fingerprint: Option<&Fingerprint>,
) -> Option<KeyDecision> {
    let held = entry.key.fingerprint();
    let pending = entry.pending_key.as_ref().and_then(|k| k.fingerprint());
    if let Some(external) = &wanted.keys.external {
        let path = external.path.clone();
        if live_fingerprint == Some(&external.fingerprint) {
            return (held != live_fingerprint).then(|| {
                let key = KnownKey::External { fingerprint: external.fingerprint.clone() };
                KeyDecision::Record(key, Note::KeyFileRecorded { path })
            });
        }
        let key =
            NewKey::External { fingerprint: external.fingerprint.clone(), public_key: external.public_key.clone() };
        return Some(KeyDecision::Send(key, Note::KeyFileReplacesLive { path }));
    }
    if let (Some(pending), Some(live)) = (entry.pending_key.as_ref(), live_fingerprint) {
        // An earlier rotation reached the account: the state records the key it sent.
        let known = match pending {
            KeyRecord::Managed { fingerprint, .. } if fingerprint == live => {
                Some(KnownKey::Held { fingerprint: fingerprint.clone() })
            }
            KeyRecord::External { fingerprint } if fingerprint == live => {
                Some(KnownKey::External { fingerprint: fingerprint.clone() })
            }
            _ => None,
        };
        if let Some(key) = known {
            return Some(KeyDecision::Record(key, Note::RotationCompletes));
        }
    }
    // A rotation that did not reach the account is sent again with the pair already made for it.
    let again = || match pending {
        Some(fingerprint) if entry.pending_key.as_ref().is_some_and(|k| k.private_key().is_some()) => {
            NewKey::Held { fingerprint: fingerprint.clone() }
        }
        _ => NewKey::Generate,
    };
    match &entry.key {
        KeyRecord::Managed { fingerprint, .. }
            if live_fingerprint.is_some() && live_fingerprint != Some(fingerprint) =>
        {
            return Some(KeyDecision::Send(again(), Note::LiveKeyReplaced));
        }
        KeyRecord::External { .. } => return Some(KeyDecision::Send(again(), Note::KeyFileDropped)),
        _ => {}
    }
    if entry.rotate_requested {
        return Some(KeyDecision::Send(again(), Note::RotationRequested));
    }
    if wanted.keys.rotation > entry.rotation {
        let note = Note::RotationRaised { from: entry.rotation, to: wanted.keys.rotation };
        return Some(KeyDecision::Send(again(), note));
    }
    None
}

/// The body a create sends: the manifest with defaults made explicit.
fn desired_body(wanted: &DesiredApp) -> Application {
    defaults::fill(&wanted.application)
}

/// A create of `wanted` with `key`, and its diff (everything is new).
fn create(
    wanted: &DesiredApp,
    key: NewKey,
    look_first: Option<LostCreate>,
) -> Result<(Create, Vec<FieldDiff>), serde_json::Error> {
    let body = desired_body(wanted);
    let written = written_paths(&wanted.application)?;
    let mut fields = diff(&Value::Null, &comparable(&body)?);
    for field in &mut fields {
        field.default = !written.contains(&field.path);
    }
    Ok((Create { body, key, rotation: wanted.keys.rotation, look_first }, fields))
}

/// A full PUT: the manifest, plus every unmodelled live field, plus the live key (a PUT without the
/// key keeps it, but saying it makes the body self-contained).
fn update_body(desired: Application, live: &Application) -> Result<Application, serde_json::Error> {
    let mut body = serde_json::to_value(&desired)?;
    let live_value = serde_json::to_value(live)?;
    let modelled = serde_json::to_value(live.without_extras())?;
    keep_unmodelled(&mut body, &live_value, &modelled);
    let mut body: Application = serde_json::from_value(body)?;
    body.extra.remove("_links");
    body.id = None;
    body.keys = live.public_key().map(|pem| Keys { public_key: Some(pem.to_string()), ..Default::default() });
    Ok(body)
}

/// A rotation's body: its key comes from the step's key.
fn without_key(mut body: Application) -> Application {
    body.keys = None;
    body
}

fn drift_of(
    account: &AccountName,
    address: &Address,
    id: &AppId,
    entry: &StateEntry,
    live: Option<Live>,
) -> Result<Option<Drift>, serde_json::Error> {
    let Some(applied) = entry.applied.as_ref() else { return Ok(None) };
    let drift = |diff, deleted| Drift {
        account: account.clone(),
        address: address.clone(),
        id: Some(id.clone()),
        diff,
        deleted,
    };
    let Some(live) = live else { return Ok(Some(drift(vec![], true))) };
    let mut fields = diff(applied, &comparable(live.app)?);
    let live_fingerprint = live.fingerprint.cloned();
    // Only a key vapp holds (or was given) can drift; an imported application's key is not vapp's.
    let held = match entry.key {
        KeyRecord::Unknown { .. } => None,
        _ => entry.key.fingerprint(),
    };
    let pending = entry.pending_key.as_ref().and_then(|k| k.fingerprint());
    if held.is_some() && live_fingerprint.as_ref() != held && live_fingerprint.as_ref() != pending {
        fields.push(FieldDiff {
            path: "keys.fingerprint".into(),
            before: held.map(|h| Value::String(h.to_string())).unwrap_or(Value::Null),
            after: live_fingerprint.map(|f| Value::String(f.into_string())).unwrap_or(Value::Null),
            ..Default::default()
        });
    }
    Ok((!fields.is_empty()).then(|| drift(fields, false)))
}

#[cfg(test)]
mod tests;
