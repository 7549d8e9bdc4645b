//! Planning: desired × state × live → a complete [`Plan`], and its renderers.
//!
//! [`planner::plan`] is a pure function. It decides everything: which [`Step`] each address takes, what
//! body each create or update sends (unmodelled live fields and the live key included), which key a
//! create or rotation uses, and whether a create must first look again for an earlier one whose answer
//! was lost. The executor in `apply` only carries the plan out.
//!
//! Invariants the types hold, so that the compiler rather than a run-time check stops an ill-formed plan:
//! - every step carries exactly what its execution needs: an update has an id and a complete body, a
//!   create a body and a key, a rotation either a PUT with its new key or (when the account already has
//!   the key) nothing to send;
//! - notes and warnings are typed values; only the renderers turn them into words;
//! - applying a plan and planning again with the same manifests yields a plan of no-ops (tests hold the
//!   planner to that, with the real executor).

pub mod accounts;
pub mod diff;
pub mod lost;
mod planner;
mod refactor;
pub mod render;
pub mod saved;
pub mod world;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use accounts::{
    moved_between_accounts, moving_out, numbers_everywhere, plan_all, AccountChange, AccountStep, Goal, HalfAMove,
    PlanningInput, Resume, Transfer, TransferReason,
};
pub use diff::FieldDiff;
pub use lost::{Lookup, LostCreate, Unmanaged};
pub use planner::{
    keys_expected, listing_keeps, listing_keeps_in, plan, plan_in, MoveBlocked, PlanError, PlanInput, Scope,
};
pub use saved::{SavedAccount, SavedPlan};
pub use world::{Seen, Subaccount, World};

pub use crate::model::AccountName;
use crate::model::{Address, AppId, Application, Fingerprint, Msisdn};

/// The version of the JSON plan users read (`--format json`; `schemas/plan.schema.json`).
pub const FORMAT_VERSION: u32 = 1;

/// The kind of an address's step, as summaries, renderers and the JSON plan name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    Delete,
    /// In the state, gone from the account: created again.
    Recreate,
    /// A create whose answer was lost, found again by its key's fingerprint.
    Adopt,
    RotateKey,
    /// A rename: the state's record moves to a new address; no API call.
    Move,
    /// An existing application taken under management (an `import:` entry).
    Import,
    /// An address no longer managed (a `removed:` entry); the application stays in the account.
    Forget,
    NoOp,
}

/// Every word vapp uses for an action, in one table: its name in the JSON plan, its sign in a diff,
/// the phrase of a plan's heading, the badge of a Markdown row, and the words of progress lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActionWords {
    /// As the JSON plan names it (`rotate-key`).
    pub name: &'static str,
    /// Its sign in a plan: `+`, `~`, `-`, `>` (a move), `<` (an import), `/` (a forget).
    pub symbol: &'static str,
    /// What happens to the application, after its address in a plan's heading.
    pub phrase: &'static str,
    /// The Markdown plan's table cell.
    pub badge: &'static str,
    /// A progress line while it runs, and once it is done.
    pub doing: &'static str,
    pub done: &'static str,
}

impl Action {
    /// The one table of an action's words.
    pub fn words(self) -> &'static ActionWords {
        const fn w(
            name: &'static str,
            symbol: &'static str,
            phrase: &'static str,
            badge: &'static str,
            doing: &'static str,
            done: &'static str,
        ) -> ActionWords {
            ActionWords { name, symbol, phrase, badge, doing, done }
        }
        match self {
            Action::Create => &const { w("create", "+", "will be created", "🟢 create", "creating", "created") },
            Action::Update => {
                &const { w("update", "~", "will be updated in place", "🟡 update", "updating", "updated") }
            }
            Action::Delete => &const { w("delete", "-", "will be deleted", "🔴 delete", "deleting", "deleted") },
            // Nothing is destroyed: the application is gone already, and is made again.
            Action::Recreate => {
                &const {
                    w(
                        "recreate",
                        "+",
                        "will be created again (it is gone from the account)",
                        "🟢 recreate",
                        "creating again",
                        "created",
                    )
                }
            }
            Action::Adopt => {
                &const {
                    w("adopt", "~", "will be adopted (created earlier, answer lost)", "🟡 adopt", "adopting", "adopted")
                }
            }
            Action::RotateKey => {
                &const { w("rotate-key", "~", "will get a new key pair", "🟡 rotate-key", "rotating key", "rotated") }
            }
            Action::Move => &const { w("move", ">", "has moved", "🔵 move", "moving", "moved") },
            Action::Import => {
                &const { w("import", "<", "will be imported and managed", "🔵 import", "importing", "imported") }
            }
            Action::Forget => {
                &const {
                    w(
                        "forget",
                        "/",
                        "will be forgotten (it stays in the account)",
                        "⚪ forget",
                        "forgetting",
                        "forgotten",
                    )
                }
            }
            Action::NoOp => &const { w("no-op", " ", "is up to date", "no-op", "checking", "unchanged") },
        }
    }

    /// As the JSON plan names it.
    pub fn as_str(self) -> &'static str {
        self.words().name
    }
}

/// The key pair a create or a rotation sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum NewKey {
    /// Make a new pair; its private half goes into the state before the request leaves.
    Generate,
    /// The pair the state holds under this fingerprint (a create sent again, a recreate, a rotation
    /// completed with its pending key).
    Held { fingerprint: Fingerprint },
    /// The user's own public key (`keys.public_key_file`); vapp holds no private half.
    External { fingerprint: Fingerprint, public_key: String },
}

impl NewKey {
    /// The fingerprint, when it is known before apply.
    pub fn fingerprint(&self) -> Option<&Fingerprint> {
        match self {
            NewKey::Generate => None,
            NewKey::Held { fingerprint } | NewKey::External { fingerprint, .. } => Some(fingerprint),
        }
    }
}

/// A key the account already has, which the state only has to record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum KnownKey {
    /// A pair the state holds (a pending rotation that reached the account).
    Held { fingerprint: Fingerprint },
    /// The user's own key.
    External { fingerprint: Fingerprint },
}

/// A new application: POST `body` with `key`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Create {
    /// The whole application, defaults explicit; no id and no key (the key comes from `key`).
    pub body: Application,
    pub key: NewKey,
    /// The rotation number the state records with the key.
    pub rotation: u32,
    /// An earlier create of this address may have reached the account after the plan listed it (its
    /// process died with the request in flight): look for it again, after the list has had a moment to
    /// catch up, before anything is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub look_first: Option<LostCreate>,
}

/// A full PUT of an existing application.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Update {
    pub id: AppId,
    /// The whole application: the manifest, the live key, and every unmodelled live field.
    pub body: Application,
}

/// A create whose answer was lost, found in the account: record it, then bring it to the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Adopt {
    pub id: AppId,
    /// The live application in comparable form, recorded as applied.
    pub observed: Value,
    /// What it then needs, as any managed application would.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then: Option<AdoptThen>,
}

/// What an adopted application needs after it is recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "step")]
pub enum AdoptThen {
    /// A full PUT of `body` (live key and unmodelled fields kept).
    Update { body: Box<Application> },
    /// A new key (the manifest names another one, or asks for a rotation).
    RotateKey { change: KeyChange, rotation: u32 },
}

/// How a rotation reaches the account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "how")]
pub enum KeyChange {
    /// PUT `body` with `key` as its public key: recorded as pending first, promoted once confirmed.
    Send {
        key: NewKey,
        /// The whole application without its key, which comes from `key`.
        body: Box<Application>,
    },
    /// The account already has `key` and nothing else changes: only the state is brought up to date.
    Record { key: KnownKey },
}

/// A new key pair for an existing application.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RotateKey {
    pub id: AppId,
    pub change: KeyChange,
    /// The rotation number the state records once the new key is in place.
    pub rotation: u32,
}

/// An existing application taken under management: recorded (with the key it has, which vapp does
/// not hold), then brought to the manifest as any managed application would be.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Import {
    pub id: AppId,
    /// The live application in comparable form, recorded as applied.
    pub observed: Value,
    /// The live key's fingerprint, which the state records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<Fingerprint>,
    /// What it then needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then: Option<AdoptThen>,
}

/// What happens to one address: one variant per step, each carrying exactly what its execution needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "step")]
pub enum Step {
    Create(Create),
    /// The application `gone` is no longer in the account: created again.
    Recreate {
        gone: AppId,
        create: Create,
    },
    Update(Update),
    Adopt(Adopt),
    RotateKey(RotateKey),
    /// DELETE the application, then forget the address.
    Delete {
        id: AppId,
    },
    /// The application is already gone (or was never created): only the state entry is removed.
    Vanished {
        id: Option<AppId>,
    },
    /// A rename (see [`Change::moved_from`]) and nothing else: only the state changes;
    /// `observed` (the live application, comparable form) is recorded as applied.
    Move {
        id: AppId,
        observed: Value,
    },
    Import(Import),
    /// Stop managing the address: its entry (and any private key) leaves the state; the application
    /// and its numbers stay in the account as they are.
    Forget {
        id: Option<AppId>,
    },
    /// A create whose answer was lost, not found in the account, and no longer wanted: its request may
    /// still land, so look for it once more (after a moment). If it landed, `if_found` says what
    /// becomes of it; if not, the address (and the key nobody needs) is forgotten.
    Abandon {
        lost: LostCreate,
        if_found: IfFound,
    },
    /// Nothing to do; `observed` (the live application, comparable form) is recorded as applied.
    NoOp {
        id: AppId,
        observed: Value,
    },
}

impl Step {
    /// Whether the step takes an application (or its address) away: such steps run after every
    /// other step and every number update, so that a number can move off an application first.
    pub fn removes(&self) -> bool {
        matches!(self, Step::Delete { .. } | Step::Vanished { .. } | Step::Abandon { .. } | Step::Forget { .. })
    }
}

/// What becomes of an abandoned create that landed after all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IfFound {
    /// Deleted: nobody wants it.
    Delete,
    /// Recorded and kept: the address is protected.
    Keep,
}

/// Where a number is to route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "to")]
pub enum Route {
    /// Nowhere: unlinked.
    Nowhere,
    /// An application that exists.
    Application { id: AppId },
    /// The application this plan creates (or creates again) for `address`; its id is known at apply.
    Created { address: Address },
}

/// A number to route elsewhere: linked, moved or unlinked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberChange {
    pub msisdn: Msisdn,
    pub country: String,
    /// Where it routes now.
    pub from: Origin,
    pub route: Route,
}

/// Where a number routes before a change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Origin {
    /// To no application.
    Nowhere,
    /// To an application an address of the state manages.
    Managed { id: AppId, address: Address },
    /// To an application no address manages, which the account holds under `name`.
    Unmanaged { id: AppId, name: String },
    /// To an application the account no longer holds.
    Gone { id: AppId },
}

impl Origin {
    /// The application the number routes to, if any.
    pub fn id(&self) -> Option<&AppId> {
        match self {
            Origin::Nowhere => None,
            Origin::Managed { id, .. } | Origin::Unmanaged { id, .. } | Origin::Gone { id } => Some(id),
        }
    }

    /// In words: the managing address, else the application's name, with its id.
    pub fn describe(&self) -> Option<String> {
        Some(match self {
            Origin::Nowhere => return None,
            Origin::Managed { id, address } => format!("{address} ({id})"),
            Origin::Unmanaged { id, name } => format!("{name:?} ({id}), not managed by vapp"),
            Origin::Gone { id } => format!("{id}, an application the account no longer holds"),
        })
    }
}

/// One address's part of the plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The account of the application (`default` unless the manifests say otherwise).
    #[serde(default = "AccountName::default_account", skip_serializing_if = "AccountName::is_default")]
    pub account: AccountName,
    pub address: Address,
    /// The address the state knew the application by, when a `moved:` entry renamed it: the record
    /// moves before the step runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<Address>,
    pub step: Step,
    /// The `protect` flag the state records once this change is applied.
    pub protect: bool,
    /// Field by field, live (or nothing) before, manifest (or nothing) after.
    pub diff: Vec<FieldDiff>,
    /// Why this step, where it is not obvious.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
    /// Numbers this address gains (linked or moved here) or loses to nowhere. Carried out after every
    /// create and update, before any delete.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub numbers: Vec<NumberChange>,
    /// The numbers that route to this address's application now, recorded as applied.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub numbers_now: std::collections::BTreeSet<Msisdn>,
}

impl Change {
    pub fn action(&self) -> Action {
        match &self.step {
            // Numbers alone make an application's action an update.
            Step::NoOp { .. } if !self.numbers.is_empty() => Action::Update,
            Step::Create(_) => Action::Create,
            Step::Recreate { .. } => Action::Recreate,
            Step::Update(_) => Action::Update,
            Step::Adopt(_) => Action::Adopt,
            Step::RotateKey(_) => Action::RotateKey,
            Step::Delete { .. } | Step::Vanished { .. } | Step::Abandon { .. } => Action::Delete,
            Step::Move { .. } => Action::Move,
            Step::Import(_) => Action::Import,
            Step::Forget { .. } => Action::Forget,
            Step::NoOp { .. } => Action::NoOp,
        }
    }

    /// The application id, where one exists before apply.
    pub fn id(&self) -> Option<&AppId> {
        match &self.step {
            Step::Create(_) | Step::Recreate { .. } | Step::Abandon { .. } => None,
            Step::Update(Update { id, .. })
            | Step::Adopt(Adopt { id, .. })
            | Step::RotateKey(RotateKey { id, .. })
            | Step::Delete { id }
            | Step::Move { id, .. }
            | Step::Import(Import { id, .. })
            | Step::NoOp { id, .. } => Some(id),
            Step::Vanished { id } | Step::Forget { id } => id.as_ref(),
        }
    }
}

/// Why a step was chosen, where the step alone does not say.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "note")]
pub enum Note {
    /// An earlier create reached the account but its answer was lost; found by its key.
    LostCreateFound,
    /// The application `id` is gone from the account.
    GoneFromAccount { id: AppId },
    /// An earlier create did not reach the account; it is sent again with the same key.
    CreateSentAgain,
    /// A delete of an application already gone: only the state entry goes.
    AlreadyGone,
    /// An unconfirmed create no longer wanted: looked for once more and deleted if it landed.
    CreateAbandoned,
    /// An earlier call of this kind was interrupted; planned again from what the account holds.
    Interrupted { action: Action },
    /// The live key is the user's key file, which the state records now.
    KeyFileRecorded { path: PathBuf },
    /// The live key is not the one in the user's key file, which replaces it.
    KeyFileReplacesLive { path: PathBuf },
    /// An earlier rotation reached the account; it is completed.
    RotationCompletes,
    /// The live key was changed outside vapp; a new pair that vapp holds takes custody back.
    LiveKeyReplaced,
    /// The manifest no longer names a public key file; vapp makes a pair and keeps it.
    KeyFileDropped,
    /// `vapp key rotate` asked for a new pair.
    RotationRequested,
    /// `keys.rotation` was raised.
    RotationRaised { from: u32, to: u32 },
    /// An `import:` entry takes it under management; vapp does not hold its private key.
    Imported,
}

/// Something a person should know that changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "warning")]
pub enum Warning {
    /// `--target` names an address that neither the manifests nor the state have.
    TargetMatchesNothing { target: Address },
    /// An earlier create's answer was lost and `count` unmanaged applications have its key and name:
    /// the address is left alone rather than guessed.
    AmbiguousLostCreate { address: Address, count: usize },
    /// A create while the account holds an unmanaged application of the same name.
    SameNameUnmanaged { address: Address, name: String, id: AppId },
    /// The live key is not the one vapp holds.
    LiveKeyChanged { address: Address },
    /// A protected application left the manifests and is kept.
    Protected { address: Address },
    /// A number is taken from an application another address (or nobody) manages.
    NumberTakenOver { msisdn: Msisdn, address: Address, from_id: AppId, from_name: String, managed_as: Option<Address> },
    /// Updating these numbers, which route to an application now, clears what the Numbers API does
    /// not show (`voiceStatusCallback`). A number that routes nowhere has no voice settings to lose.
    NumberStatusCallbacksCleared { msisdns: Vec<Msisdn> },
    /// A forgotten address's private key leaves the state with it.
    KeyLeavesState { address: Address },
    /// One address is deleted and another created with what the deleted one last applied: a rename
    /// that a `moved:` entry would make without deleting anything.
    LooksLikeRename { from: Address, to: Address },
    /// `vapp state mv from to` ran and the manifests still declare `from`: the state is ahead of them,
    /// and the plan would delete `to` and create `from`.
    StateRenamedAhead { from: Address, to: Address },
    /// The address is being handed to another state (`vapp state mv --to-state`): left alone.
    Leaving { address: Address, to: String },
    /// The manifests put the application in another account than the one it lives in: Vonage cannot
    /// move one, so it is created in `to` (a new id and key pair) and deleted from `from`.
    MovesBetweenAccounts { address: Address, from: AccountName, to: AccountName },
    /// A subaccount leaves the manifests but still holds applications vapp keeps (protected ones, or
    /// ones this plan leaves alone): it is not suspended.
    SubaccountKept { account: AccountName, keeps: Vec<Address> },
}

/// A change made in the account outside vapp since the last apply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    #[serde(default = "AccountName::default_account", skip_serializing_if = "AccountName::is_default")]
    pub account: AccountName,
    pub address: Address,
    pub id: Option<AppId>,
    /// Last applied before, live after.
    pub diff: Vec<FieldDiff>,
    /// The application is gone from the account.
    #[serde(default)]
    pub deleted: bool,
}

/// Which state the plan was made against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRef {
    pub lineage: Option<String>,
    pub serial: u64,
}

/// Counts by action, as the summary line and the JSON `summary` give them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Creates, recreates included.
    pub create: usize,
    /// Updates, key rotations and adoptions included.
    pub update: usize,
    pub delete: usize,
    /// Renames that need nothing else (a rename with edits counts as what the edits need).
    #[serde(rename = "move")]
    pub moves: usize,
    pub import: usize,
    pub forget: usize,
    pub no_op: usize,
}

/// Everything `apply` will do, decided.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub state: StateRef,
    /// One entry per address considered, no-ops included, sorted by address.
    pub changes: Vec<Change>,
    pub drift: Vec<Drift>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
    /// Changes to the accounts themselves (subaccounts vapp makes): those that make or resume one
    /// first, suspensions last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountChange>,
    /// Numbers moved between accounts: those the manifests move (after the accounts are made, before
    /// any application's change), then those returned from a subaccount being suspended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transfers: Vec<Transfer>,
    /// Each account's API key as the run read it, for the plan's account headings.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub api_keys: std::collections::BTreeMap<AccountName, crate::model::ApiKey>,
}

impl Plan {
    /// A plan that does nothing yet, against the state `state` names.
    pub fn empty(state: StateRef) -> Plan {
        Plan {
            format_version: FORMAT_VERSION,
            state,
            changes: Vec::new(),
            drift: Vec::new(),
            warnings: Vec::new(),
            accounts: Vec::new(),
            transfers: Vec::new(),
            api_keys: Default::default(),
        }
    }

    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for change in &self.changes {
            match change.action() {
                Action::Create | Action::Recreate => s.create += 1,
                Action::Update | Action::RotateKey | Action::Adopt => s.update += 1,
                Action::Delete => s.delete += 1,
                Action::Move => s.moves += 1,
                Action::Import => s.import += 1,
                Action::Forget => s.forget += 1,
                Action::NoOp => s.no_op += 1,
            }
        }
        s
    }

    /// The changes that do something.
    pub fn actions(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.action() != Action::NoOp)
    }

    /// How many new key pairs carrying out the plan makes.
    pub fn keys_to_generate(&self) -> usize {
        let generates = |key: &NewKey| matches!(key, NewKey::Generate);
        let rotation_generates = |change: &KeyChange| matches!(change, KeyChange::Send { key, .. } if generates(key));
        self.actions()
            .filter(|change| match &change.step {
                Step::Create(create) | Step::Recreate { create, .. } => generates(&create.key),
                Step::RotateKey(rotate) => rotation_generates(&rotate.change),
                Step::Adopt(Adopt { then: Some(AdoptThen::RotateKey { change, .. }), .. }) => {
                    rotation_generates(change)
                }
                _ => false,
            })
            .count()
    }

    pub fn has_changes(&self) -> bool {
        self.actions().next().is_some() || !self.accounts.is_empty() || !self.transfers.is_empty()
    }

    /// Fails when the plan deletes (or, for a subaccount, suspends) more than `max` allows.
    pub fn check_max_deletes(&self, max: Option<usize>) -> Result<(), TooManyDeletes> {
        let suspends = self.accounts.iter().filter(|a| matches!(a.step, AccountStep::Suspend { .. })).count();
        let deletes = self.summary().delete + suspends;
        match max {
            Some(max) if deletes > max => Err(TooManyDeletes { deletes, max }),
            _ => Ok(()),
        }
    }
}

/// A plan deletes more applications than `--max-deletes` allows.
#[derive(Debug, thiserror::Error)]
#[error(
    "this plan deletes {deletes} application{}, more than --max-deletes {max} allows; nothing was changed",
    if *deletes == 1 { "" } else { "s" }
)]
pub struct TooManyDeletes {
    pub deletes: usize,
    pub max: usize,
}
