//! Saved plans: `plan -o FILE` writes one, `apply FILE` carries out exactly its steps.
//!
//! A saved plan is bound to the state it was made against (lineage and serial) and to a digest of
//! every live application its steps depend on. `apply FILE` refuses (exit 4) when any of them moved
//! since: the reviewed plan is no longer what would happen. A plan made before any state existed has no
//! lineage, so once applied (which makes a state) it cannot be applied again. A saved plan holds no
//! secret: bodies carry public keys only, and new key pairs are made at apply time.
//!
//! The file holds the typed plan itself, so its format follows the plan's types: [`VERSION`] changes
//! whenever they do, and a plan of another version is refused as stale (make a new one), never guessed.
//!
//! A webhook URL with a password is the one secret a plan's bodies carry. The file holds each such URL
//! in its comparable form (the password as a digest), and the URL itself under `sealed_urls`, sealed
//! with the state passphrase: a plan with passwords is saved only when a passphrase is given, and
//! applied only with it.

use std::collections::BTreeMap;
use std::convert::Infallible;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Plan;
use crate::model::webhook_url::each_string;
use crate::model::{ApiKey, AppId, Application, Listed, Msisdn, Number, WebhookUrl};
use crate::state::crypto::{CryptoError, Encryption, Sealer};
use crate::state::State;

pub const FORMAT: &str = "vapp-plan";
/// 1: the loosely typed plan of vapp 0.1 before typed steps; 2: typed steps; 3: typed ids, a number's
/// origin as one value, and the refactoring steps (move, import, forget); 4: accounts resumed with a
/// reason, numbers returned from a subaccount being suspended, and each account's API key; 5: webhook
/// passwords sealed (`sealed_urls`), and a diff's `secret_changed`; 6: the manifests as policies see
/// them.
pub const VERSION: u32 = 6;
/// The largest saved plan vapp reads.
pub const MAX_PLAN_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format: String,
    pub version: u32,
    pub vapp_version: String,
    pub plan: Plan,
    /// SHA-256 of each live application the plan's steps depend on, by id (in every account).
    pub live_digests: BTreeMap<AppId, String>,
    /// The accounts a plan over several accounts signs in to, as the manifests declared them: an
    /// existing account's API key and the name of the variable with its secret (never a secret), a
    /// subaccount's parent and name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<SavedAccount>,
    /// The declared applications as policies see them (`input.manifests`), so that `apply FILE
    /// --policy` checks the plan against what was reviewed: no secret (a URL's password is `***`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifests: Vec<serde_json::Value>,
}

/// An account declaration, as a saved plan keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedAccount {
    pub name: crate::model::AccountName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<ApiKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_secret_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subaccount_of: Option<crate::model::AccountName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subaccount_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_primary_account_balance: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_secret_env: Option<String>,
}

impl SavedAccount {
    pub fn from_declared(declared: &crate::manifest::accounts::DeclaredAccount) -> Self {
        use crate::manifest::accounts::AccountKind;
        let mut saved = SavedAccount {
            name: declared.name.clone(),
            api_key: None,
            api_secret_env: None,
            subaccount_of: None,
            subaccount_name: None,
            use_primary_account_balance: None,
            signature_secret_env: declared.signature_secret_env.clone(),
        };
        match &declared.kind {
            AccountKind::Existing { api_key, api_secret_env } => {
                saved.api_key = Some(api_key.clone());
                saved.api_secret_env = Some(api_secret_env.clone());
            }
            AccountKind::Subaccount { parent, name, use_primary_account_balance } => {
                saved.subaccount_of = Some(parent.clone());
                saved.subaccount_name = Some(name.clone());
                saved.use_primary_account_balance = Some(*use_primary_account_balance);
            }
        }
        saved
    }

    /// The declaration again, placed at `plan_file` (where a message about it should point).
    pub fn declared(&self, plan_file: &std::path::Path) -> Option<crate::manifest::accounts::DeclaredAccount> {
        use crate::manifest::accounts::AccountKind;
        let kind = match (&self.api_key, &self.api_secret_env, &self.subaccount_of, &self.subaccount_name) {
            (Some(api_key), Some(api_secret_env), None, None) => {
                AccountKind::Existing { api_key: api_key.clone(), api_secret_env: api_secret_env.clone() }
            }
            (None, None, Some(parent), Some(name)) => AccountKind::Subaccount {
                parent: parent.clone(),
                name: name.clone(),
                use_primary_account_balance: self.use_primary_account_balance.unwrap_or(true),
            },
            _ => return None,
        };
        Some(crate::manifest::accounts::DeclaredAccount {
            name: self.name.clone(),
            kind,
            signature_secret_env: self.signature_secret_env.clone(),
            location: crate::manifest::Location {
                file: plan_file.to_path_buf(),
                position: crate::manifest::Position { line: 1, col: 1 },
            },
        })
    }
}

/// Why a saved plan file cannot be applied as it is.
#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("this is not a plan saved by `vapp plan -o`")]
    NotAPlan,
    /// Written by another version of vapp: the steps it holds may not mean what they meant.
    #[error("the plan was saved by vapp {vapp_version} in plan format {version}; this vapp reads format {VERSION}")]
    OtherVersion { version: u64, vapp_version: String },
    #[error("the plan file is damaged")]
    Damaged(#[source] serde_json::Error),
    #[error("the plan holds webhook passwords sealed with a passphrase, and none was given")]
    NeedsPassphrase,
    #[error("the plan's sealed webhook passwords cannot be opened")]
    Sealed(#[source] CryptoError),
}

/// Why a plan cannot be saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// A saved plan keeps a webhook password only sealed, and there is no passphrase to seal it with.
    #[error("the plan holds webhook passwords ({}), which a saved plan keeps only sealed with a passphrase", .places.join(", "))]
    SecretsNeedPassphrase { places: Vec<String> },
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error("cannot seal the plan's webhook passwords")]
    Crypto(#[from] CryptoError),
}

impl SaveError {
    pub fn help(&self) -> Option<&'static str> {
        match self {
            SaveError::SecretsNeedPassphrase { .. } => Some(
                "give a passphrase (--passphrase-file, or VAPP_STATE_PASSPHRASE) to seal them, and the same one to `vapp apply` the plan; or save no plan",
            ),
            _ => None,
        }
    }
}

/// The webhook URLs with a password a saved plan holds: each under its comparable form, sealed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct SealedUrls {
    encryption: Encryption,
    urls: BTreeMap<String, String>,
}

/// Why a saved plan may no longer be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Staleness {
    #[error("the plan was made before any state existed, and a state exists now (serial {serial})")]
    StateCreated { serial: u64 },
    #[error("the plan was made against a state that no longer exists")]
    StateGone,
    #[error("the state is another one now (lineage {now} instead of {planned})")]
    OtherLineage { now: String, planned: String },
    #[error("the state changed since the plan was made (serial {now} instead of {planned})")]
    StateMoved { now: u64, planned: u64 },
    #[error("application {id} is gone from the account since the plan was made")]
    ApplicationGone { id: AppId },
    #[error("application {id} changed in the account since the plan was made")]
    ApplicationChanged { id: AppId },
    #[error("number {msisdn} routes elsewhere since the plan was made")]
    NumberMoved { msisdn: Msisdn },
    #[error("the account no longer owns number {msisdn}")]
    NumberGone { msisdn: Msisdn },
}

impl SavedPlan {
    pub fn new(plan: Plan, live: &[Listed]) -> Self {
        SavedPlan {
            format: FORMAT.to_string(),
            version: VERSION,
            vapp_version: env!("CARGO_PKG_VERSION").to_string(),
            live_digests: digests(&plan, live),
            plan,
            accounts: Vec::new(),
            manifests: Vec::new(),
        }
    }

    /// The accounts besides `default` whose applications, numbers or selves the plan changes.
    pub fn accounts_in_play(&self) -> Vec<crate::model::AccountName> {
        let mut names: Vec<crate::model::AccountName> = Vec::new();
        let plan = &self.plan;
        let named = plan.changes.iter().map(|c| &c.account).chain(plan.accounts.iter().map(|a| &a.account));
        for name in named.chain(plan.transfers.iter().flat_map(|t| [&t.from, &t.to])) {
            if !name.is_default() && !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    }

    /// Reads a saved plan that holds no sealed password; the format and version are checked before
    /// the plan itself is read.
    pub fn from_slice(bytes: &[u8]) -> Result<SavedPlan, SavedPlanError> {
        Self::open(bytes, None)
    }

    /// Reads a saved plan, opening its sealed webhook passwords with `passphrase`.
    pub fn open(bytes: &[u8], passphrase: Option<&str>) -> Result<SavedPlan, SavedPlanError> {
        #[derive(Deserialize)]
        struct Header {
            format: String,
            version: u64,
            #[serde(default)]
            vapp_version: String,
        }
        let header: Header = serde_json::from_slice(bytes).map_err(|_| SavedPlanError::NotAPlan)?;
        if header.format != FORMAT {
            return Err(SavedPlanError::NotAPlan);
        }
        if header.version != u64::from(VERSION) {
            return Err(SavedPlanError::OtherVersion { version: header.version, vapp_version: header.vapp_version });
        }
        let mut value: serde_json::Value = serde_json::from_slice(bytes).map_err(SavedPlanError::Damaged)?;
        let sealed = value.as_object_mut().and_then(|o| o.remove("sealed_urls"));
        if let Some(sealed) = sealed {
            let sealed: SealedUrls = serde_json::from_value(sealed).map_err(SavedPlanError::Damaged)?;
            let passphrase = passphrase.ok_or(SavedPlanError::NeedsPassphrase)?;
            let sealer = Sealer::open(passphrase, &sealed.encryption).map_err(SavedPlanError::Sealed)?;
            let mut opened = BTreeMap::new();
            for (comparable, url) in &sealed.urls {
                let plain = sealer.unseal(url).map_err(SavedPlanError::Sealed)?;
                let plain =
                    String::from_utf8(plain.to_vec()).map_err(|_| SavedPlanError::Sealed(CryptoError::Damaged))?;
                opened.insert(comparable.clone(), plain);
            }
            let Ok(()) = each_string::<Infallible>(&mut value, &mut Vec::new(), &mut |_, text| {
                if let Some(url) = opened.get(text.as_str()) {
                    *text = url.clone();
                }
                Ok(())
            });
        }
        serde_json::from_value(value).map_err(SavedPlanError::Damaged)
    }

    /// The file's bytes: every webhook URL with a password sealed with `passphrase`, which must be
    /// given when there is one.
    pub fn to_bytes(&self, passphrase: Option<&str>) -> Result<Vec<u8>, SaveError> {
        let mut value = serde_json::to_value(self)?;
        let mut secret = BTreeMap::new();
        let mut places = Vec::new();
        let Ok(()) = each_string::<Infallible>(&mut value, &mut Vec::new(), &mut |path, text| {
            let url = WebhookUrl::new(text.as_str());
            if url.has_secret() {
                places.push(self.place(path));
                let comparable = url.comparable();
                secret.insert(comparable.clone(), std::mem::replace(text, comparable));
            }
            Ok(())
        });
        if !secret.is_empty() {
            let Some(passphrase) = passphrase else {
                places.dedup();
                return Err(SaveError::SecretsNeedPassphrase { places });
            };
            let (encryption, sealer) = Sealer::create(passphrase)?;
            let urls = secret
                .iter()
                .map(|(comparable, url)| Ok((comparable.clone(), sealer.seal(url.as_bytes())?)))
                .collect::<Result<_, CryptoError>>()?;
            if let Some(object) = value.as_object_mut() {
                object.insert("sealed_urls".into(), serde_json::to_value(SealedUrls { encryption, urls })?);
            }
        }
        let mut bytes = serde_json::to_vec_pretty(&value)?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// Where a string of the serialised plan sits, in words: `support: capabilities.voice.webhooks.answer_url`.
    fn place(&self, path: &[String]) -> String {
        let change = match path {
            [plan, changes, index, ..] if plan == "plan" && changes == "changes" => {
                index.parse::<usize>().ok().and_then(|i| self.plan.changes.get(i))
            }
            _ => None,
        };
        let field = match path.iter().position(|segment| segment == "capabilities") {
            Some(at) => {
                let end = if path.last().is_some_and(|s| s == "address") { path.len() - 1 } else { path.len() };
                path[at..end].join(".")
            }
            None => path.join("."),
        };
        match change {
            Some(change) => format!("{}: {field}", change.address),
            None => field,
        }
    }

    /// Why this plan may no longer be applied, if it may not.
    pub fn staleness(&self, state: Option<&State>, live: &[Listed], numbers: &[Number]) -> Option<Staleness> {
        let planned = &self.plan.state;
        match (planned.lineage.as_deref(), state) {
            (None, Some(now)) if now.serial > 0 => return Some(Staleness::StateCreated { serial: now.serial }),
            (Some(_), None) => return Some(Staleness::StateGone),
            (Some(lineage), Some(now)) if now.lineage != lineage => {
                return Some(Staleness::OtherLineage { now: now.lineage.clone(), planned: lineage.to_string() })
            }
            (Some(_), Some(now)) if now.serial != planned.serial => {
                return Some(Staleness::StateMoved { now: now.serial, planned: planned.serial })
            }
            _ => {}
        }
        let now = digests(&self.plan, live);
        for (id, digest) in &self.live_digests {
            match now.get(id) {
                None => return Some(Staleness::ApplicationGone { id: id.clone() }),
                Some(d) if d != digest => return Some(Staleness::ApplicationChanged { id: id.clone() }),
                _ => {}
            }
        }
        // A number to route must still route where the plan saw it.
        for number in self.plan.changes.iter().flat_map(|c| &c.numbers) {
            match numbers.iter().find(|n| n.msisdn == number.msisdn) {
                None => return Some(Staleness::NumberGone { msisdn: number.msisdn.clone() }),
                Some(now) if now.app_id.as_ref() != number.from.id() => {
                    return Some(Staleness::NumberMoved { msisdn: number.msisdn.clone() })
                }
                _ => {}
            }
        }
        None
    }
}

/// The digests of the live applications that the plan's changes name.
fn digests(plan: &Plan, live: &[Listed]) -> BTreeMap<AppId, String> {
    let ids: std::collections::HashSet<&AppId> = plan.changes.iter().filter_map(|c| c.id()).collect();
    live.iter()
        .filter_map(Listed::whole)
        .filter_map(|app| {
            let id = app.id.as_ref()?;
            ids.contains(id).then(|| (id.clone(), digest(app)))
        })
        .collect()
}

fn digest(app: &Application) -> String {
    // Serialising an application cannot fail (string keys only); an empty digest would only ever
    // make a plan stale, never fresh.
    let bytes = serde_json::to_vec(app).unwrap_or_default();
    Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing: a saved plan with a large number in a diff did not read back equal.
    #[test]
    fn a_saved_plan_with_any_number_reads_back_equal() {
        for bytes in [
            &include_bytes!("../../fuzz/regressions/saved_plan/float-roundtrip-in-a-diff.json")[..],
            &include_bytes!("../../fuzz/regressions/saved_plan/float-roundtrip-fuzzer-minimized")[..],
            &include_bytes!("../../fuzz/regressions/saved_plan/float-roundtrip-fuzzer-found")[..],
        ] {
            let saved = SavedPlan::from_slice(bytes).unwrap();
            let again = SavedPlan::from_slice(&serde_json::to_vec(&saved).unwrap()).unwrap();
            assert_eq!(again.plan, saved.plan);
        }
    }
}
