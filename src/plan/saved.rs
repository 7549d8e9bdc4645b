//! Saved plans: `plan -o FILE` writes one, `apply FILE` carries out exactly its actions.
//!
//! A saved plan is bound to the state it was made against (lineage and serial) and to a digest of
//! every live application its actions depend on. `apply FILE` refuses (exit 4) when any of them moved
//! since: the reviewed plan is no longer what would happen. A plan made before any state existed has no
//! lineage, so once applied (which makes a state) it cannot be applied again. A saved plan holds no
//! secret: bodies carry public keys only, and new key pairs are made at apply time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Plan;
use crate::model::Application;
use crate::state::State;

pub const FORMAT: &str = "vapp-plan";
pub const VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format: String,
    pub version: u32,
    pub vapp_version: String,
    pub plan: Plan,
    /// SHA-256 of each live application the plan's actions depend on, by id.
    pub live_digests: BTreeMap<String, String>,
}

impl SavedPlan {
    pub fn new(plan: Plan, live: &[Application]) -> Self {
        SavedPlan {
            format: FORMAT.to_string(),
            version: VERSION,
            vapp_version: env!("CARGO_PKG_VERSION").to_string(),
            live_digests: digests(&plan, live),
            plan,
        }
    }

    /// Why this plan may no longer be applied, if it may not.
    pub fn staleness(&self, state: Option<&State>, live: &[Application]) -> Option<String> {
        let planned = &self.plan.state;
        match (planned.lineage.as_deref(), state) {
            (None, Some(now)) if now.serial > 0 => {
                return Some(format!(
                    "the plan was made before any state existed, and a state exists now (serial {})",
                    now.serial
                ))
            }
            (Some(_), None) => return Some("the plan was made against a state that no longer exists".into()),
            (Some(lineage), Some(now)) if now.lineage != lineage => {
                return Some(format!("the state is another one now (lineage {} instead of {lineage})", now.lineage))
            }
            (Some(_), Some(now)) if now.serial != planned.serial => {
                return Some(format!(
                    "the state changed since the plan was made (serial {} instead of {})",
                    now.serial, planned.serial
                ))
            }
            _ => {}
        }
        let now = digests(&self.plan, live);
        for (id, digest) in &self.live_digests {
            match now.get(id) {
                None => return Some(format!("application {id} is gone from the account since the plan was made")),
                Some(d) if d != digest => {
                    return Some(format!("application {id} changed in the account since the plan was made"))
                }
                _ => {}
            }
        }
        None
    }
}

/// The digests of the live applications that the plan's changes name.
fn digests(plan: &Plan, live: &[Application]) -> BTreeMap<String, String> {
    let ids: Vec<&str> = plan.changes.iter().filter_map(|c| c.id.as_deref()).collect();
    live.iter()
        .filter_map(|app| {
            let id = app.id.as_deref()?;
            ids.contains(&id).then(|| (id.to_string(), digest(app)))
        })
        .collect()
}

fn digest(app: &Application) -> String {
    let bytes = serde_json::to_vec(app).unwrap_or_default();
    Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
}
