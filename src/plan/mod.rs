//! Planning: desired × state × live → a complete [`Plan`], and its renderers.
//!
//! [`planner::plan`] is a pure function. It decides everything: which action each address gets, what
//! body each create or update sends (unmodelled live fields and the live key included), which key a
//! create uses. The executor in `apply` only carries the plan out. Applying a plan and planning again
//! with the same manifests yields a plan of no-ops; tests hold the planner to that.

pub mod diff;
mod planner;
pub mod render;
pub mod saved;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use diff::FieldDiff;
pub use planner::{plan, PlanInput};
pub use saved::SavedPlan;

use crate::model::Application;

pub const FORMAT_VERSION: u32 = 1;

/// What happens to one address.
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
    NoOp,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Recreate => "recreate",
            Action::Adopt => "adopt",
            Action::RotateKey => "rotate-key",
            Action::NoOp => "no-op",
        }
    }
}

/// Which key pair a create or rotation uses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum KeyPlan {
    /// Make a new pair; its private half goes into the state before the request leaves.
    Generate,
    /// Use the pair the state already holds under this fingerprint.
    Reuse { fingerprint: String },
    /// The user's own public key (`keys.public_key_file`); vapp holds no private half.
    External { fingerprint: String },
}

/// One address's part of the plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub address: String,
    pub action: Action,
    /// The application id; `None` for an application not created yet.
    pub id: Option<String>,
    /// Field by field, live (or nothing) before, manifest (or nothing) after.
    pub diff: Vec<FieldDiff>,
    /// The complete body to POST or PUT. For creates it lacks only the public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Application>,
    /// For creates, recreates and key rotations: which key pair to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyPlan>,
    /// The rotation number the state records once a new pair is in place.
    #[serde(default)]
    pub rotation: u32,
    /// The `protect` flag the state records once this change is applied.
    pub protect: bool,
    /// False when the action needs no API call (a delete of something already gone).
    pub api_call: bool,
    /// The live application in comparable form, recorded as applied for a no-op.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<Value>,
    /// Why this action, in words, where it is not obvious.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// A change made in the account outside vapp since the last apply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub address: String,
    pub id: Option<String>,
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
    /// Things a person should know that change nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for change in &self.changes {
            match change.action {
                Action::Create | Action::Recreate => s.create += 1,
                Action::Update | Action::RotateKey | Action::Adopt => s.update += 1,
                Action::Delete => s.delete += 1,
                Action::NoOp => s.no_op += 1,
            }
        }
        s
    }

    /// The changes that do something.
    pub fn actions(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.action != Action::NoOp)
    }

    pub fn has_changes(&self) -> bool {
        self.actions().next().is_some()
    }

    /// Fails when the plan deletes more than `max` applications.
    pub fn check_max_deletes(&self, max: Option<usize>) -> Result<(), String> {
        let deletes = self.summary().delete;
        match max {
            Some(max) if deletes > max => Err(format!(
                "this plan deletes {deletes} application{}, more than --max-deletes {max} allows; nothing was changed",
                if deletes == 1 { "" } else { "s" }
            )),
            _ => Ok(()),
        }
    }
}
