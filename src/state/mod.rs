//! The state file: which application each address manages, and the custody of its private key.
//!
//! One JSON document, mode 0600, replaced atomically on every write. `lineage` is fixed when the state
//! is first made; `serial` grows by one on every write, so a saved plan or a second writer can tell
//! that the state moved. The state remembers what was last applied to each application (`applied`, in
//! the planner's comparable form), which is how drift made outside vapp is found.
//!
//! Invariant: a private key is in the state file on disk before any request that uses it leaves, so no
//! crash or lost answer can lose one. An entry without an `id` is such a create whose outcome is not
//! known yet; the planner resolves it against the account by the key's fingerprint.

pub mod backend;
pub mod codec;
pub mod crypto;
mod location;
mod store;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use backend::{Backend, BackendError, LockError, LockInfo, Token};
pub use codec::{Corruption, EncodeError};
pub use crypto::{Encryption, Sealer};
pub use location::{LocationError, PostgresUrl, S3Object, StateLocation};
pub use store::{create_file, load, load_file, Loaded, StateError, StateStore};

use crate::keys::PrivateKeyPem;
use crate::model::{AccountName, Address, ApiKey, AppId, Fingerprint, Msisdn};

pub const FORMAT: &str = "vapp-state";
pub const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub format: String,
    pub version: u32,
    pub lineage: String,
    pub serial: u64,
    /// The account the state belongs to; recorded by the first write that talked to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Account>,
    #[serde(default)]
    pub applications: BTreeMap<Address, StateEntry>,
    /// Accounts besides `default` that vapp keeps something of: the subaccounts it made, with their
    /// secrets in custody.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accounts: BTreeMap<AccountName, AccountRecord>,
    /// Number updates about to be made, by number: written before the call, removed once its outcome
    /// is recorded. Still present when vapp next runs: the update's outcome is unknown, and the
    /// number as the account shows it says what happened.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub numbers_pending: BTreeMap<Msisdn, PendingNumber>,
    /// Number transfers between accounts about to be made: written before the call, removed once it
    /// is answered. One still present is a transfer whose outcome is unknown; the accounts' listings
    /// say which account owns the number now, and the next plan starts from that.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub transfers_pending: BTreeMap<Msisdn, PendingTransfer>,
    /// SHA-256 of the document written without this field; a mismatch means the file was damaged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    /// Set when the private keys are encrypted on disk (`vapp state encrypt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    /// The key that seals private keys on write; from the passphrase, never written.
    #[serde(skip)]
    pub sealer: Option<Sealer>,
}

/// What the state keeps of an account besides `default`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountRecord {
    /// Its API key; `None` while a subaccount's create has been sent but not confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<ApiKey>,
    /// Set for a subaccount vapp made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subaccount: Option<SubaccountRecord>,
}

/// A subaccount vapp made, as last applied, and its secret in custody.
///
/// Invariant, as for private keys: the secret is in the state before the create that sends it
/// leaves, so a lost answer never loses the only copy; `creating` marks such a create whose outcome
/// is not known yet (found again by name and by the secret working).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubaccountRecord {
    pub parent: AccountName,
    pub name: String,
    pub use_primary_account_balance: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspended: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub creating: bool,
    /// The numbers vapp transferred into it and has not taken out, with their countries: returned to
    /// the parent before it is suspended, even when it cannot be listed (suspended outside vapp).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub numbers: BTreeMap<Msisdn, String>,
    #[serde(flatten)]
    pub secret: HeldSecret,
}

/// A subaccount secret in the state's custody: readable, or sealed with the passphrase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HeldSecret {
    Open {
        #[serde(with = "secret_text")]
        secret: crate::secret::Secret,
    },
    /// `nonce || ciphertext`, base64, as [`Sealer::seal`] makes it.
    Sealed { secret_encrypted: String },
}

impl HeldSecret {
    /// The secret, when it is not sealed.
    pub fn open(&self) -> Option<&crate::secret::Secret> {
        match self {
            HeldSecret::Open { secret } => Some(secret),
            HeldSecret::Sealed { .. } => None,
        }
    }
}

/// A secret's text in the state document (the one place it is written).
mod secret_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(secret: &crate::secret::Secret, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(secret.expose())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<crate::secret::Secret, D::Error> {
        String::deserialize(deserializer).map(crate::secret::Secret::new)
    }
}

/// A number transfer under way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTransfer {
    pub from: AccountName,
    pub to: AccountName,
}

/// A number update under way: where the number was being routed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingNumber {
    /// The address it was to route to; `None` to nowhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Address>,
}

/// Which account a state's application ids belong to: an API key (never the secret) and the URL it
/// was used at, or the sandbox. Ids mean nothing in another account, so a state is not used against
/// one without being told (the URL may change: regional hosts reach the same account).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Account {
    Sandbox { sandbox: bool },
    Vonage { api_key: ApiKey, api_url: String },
}

impl Account {
    /// Whether ids of `self` mean the same applications in `other`.
    pub fn same_as(&self, other: &Account) -> bool {
        match (self, other) {
            (Account::Sandbox { .. }, Account::Sandbox { .. }) => true,
            (Account::Vonage { api_key: a, .. }, Account::Vonage { api_key: b, .. }) => a == b,
            _ => false,
        }
    }
}

impl std::fmt::Display for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Account::Sandbox { .. } => f.write_str("the sandbox"),
            // States written before URLs were checked may hold a URL with a password in it.
            Account::Vonage { api_key, api_url } => match crate::api::BaseUrl::parse(api_url) {
                Ok(url) => write!(f, "API key {api_key} (at {url})"),
                Err(_) => write!(f, "API key {api_key}"),
            },
        }
    }
}

/// What vapp knows of one managed application.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateEntry {
    /// The account the application lives in; absent for `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountName>,
    /// The application id; `None` while a create has been sent but not confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<AppId>,
    pub key: KeyRecord,
    #[serde(default)]
    pub protect: bool,
    /// The application as last applied or observed, in comparable form (defaults filled, no extras).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<Value>,
    /// The rotation number of the key pair now in use (see `keys.rotation` in the manifest).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rotation: u32,
    /// `vapp key rotate` asked for a new pair at the next apply.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rotate_requested: bool,
    /// A key being rotated to: recorded before the PUT that sends it, promoted to `key` once the PUT
    /// is confirmed. While it is set, the state holds both halves the API may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_key: Option<KeyRecord>,
    /// A mutating call about to be made; see [`Intent`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<Intent>,
    /// The numbers that route to the application, as last applied or observed (to find numbers linked
    /// or unlinked by hand).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub numbers: BTreeSet<Msisdn>,
    /// Set while the address is handed to another state (`vapp state mv --to-state`): from then on
    /// this state leaves the application alone, even before the other records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaving: Option<Leaving>,
    /// The address the record had before a rename (`vapp state mv`, a `moved:` entry), until its next
    /// apply: a plan that deletes it and creates the old address says the manifests lag behind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<Address>,
}

/// Where a leaving address goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leaving {
    /// The other state, as messages show it (no password).
    pub to: String,
    /// The address it has there.
    #[serde(rename = "as")]
    pub address: Address,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A mutating call about to be made, as the state records it (`{"action": "create", ...}`).
///
/// Written before the call leaves and cleared once its outcome is recorded, so one still present when
/// vapp next runs is a call whose outcome is unknown. The JSON words are those of earlier versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Intent {
    /// A POST with the key `fingerprint`, sending `name`: found again by both if its answer was lost.
    Create {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fingerprint: Option<Fingerprint>,
        /// Absent in states written before names were recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// A PUT that keeps the key `fingerprint`.
    Update {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fingerprint: Option<Fingerprint>,
    },
    /// A PUT that sends the new key `fingerprint` (kept as `pending_key` meanwhile).
    RotateKey {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fingerprint: Option<Fingerprint>,
    },
    /// A DELETE.
    Delete {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fingerprint: Option<Fingerprint>,
    },
}

impl Intent {
    /// The name of the call, as plans and messages say it.
    pub fn action(&self) -> &'static str {
        match self {
            Intent::Create { .. } => "create",
            Intent::Update { .. } => "update",
            Intent::RotateKey { .. } => "rotate-key",
            Intent::Delete { .. } => "delete",
        }
    }
}

impl Default for StateEntry {
    /// An entry with nothing known yet: no id, no key custody.
    fn default() -> Self {
        StateEntry {
            account: None,
            id: None,
            key: KeyRecord::Unknown { fingerprint: None },
            protect: false,
            applied: None,
            rotation: 0,
            rotate_requested: false,
            pending_key: None,
            intent: None,
            numbers: BTreeSet::new(),
            leaving: None,
            renamed_from: None,
        }
    }
}

/// Who holds the application's private key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "custody", rename_all = "snake_case")]
pub enum KeyRecord {
    /// vapp made the pair and keeps the private half here.
    Managed {
        fingerprint: Fingerprint,
        #[serde(flatten)]
        private_key: HeldKey,
    },
    /// The user brought the public key (`keys.public_key_file`); vapp never holds the private one.
    External { fingerprint: Fingerprint },
    /// The private key was never given to vapp (an imported application).
    Unknown {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fingerprint: Option<Fingerprint>,
    },
}

/// A private key in the state's custody: readable, or sealed with a passphrase this run was not given
/// (commands that need no private key work on an encrypted state without the passphrase).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HeldKey {
    Open {
        private_key: PrivateKeyPem,
    },
    /// `nonce || ciphertext`, base64, as [`Sealer::seal`] makes it.
    Sealed {
        private_key_encrypted: String,
    },
}

impl KeyRecord {
    /// A pair vapp made, with its private key readable.
    pub fn managed(fingerprint: Fingerprint, private_key: PrivateKeyPem) -> Self {
        KeyRecord::Managed { fingerprint, private_key: HeldKey::Open { private_key } }
    }

    pub fn fingerprint(&self) -> Option<&Fingerprint> {
        match self {
            KeyRecord::Managed { fingerprint, .. } | KeyRecord::External { fingerprint } => Some(fingerprint),
            KeyRecord::Unknown { fingerprint } => fingerprint.as_ref(),
        }
    }

    /// The private key, when vapp holds it and it is not sealed.
    pub fn private_key(&self) -> Option<&PrivateKeyPem> {
        match self {
            KeyRecord::Managed { private_key: HeldKey::Open { private_key }, .. } => Some(private_key),
            _ => None,
        }
    }

    /// Whether vapp holds the private key, sealed or not.
    pub fn is_managed(&self) -> bool {
        matches!(self, KeyRecord::Managed { .. })
    }

    /// The private key of the pair with `fingerprint`, from this record.
    pub fn private_key_for(&self, fingerprint: &Fingerprint) -> Option<&PrivateKeyPem> {
        self.private_key().filter(|_| self.fingerprint() == Some(fingerprint))
    }
}

impl StateEntry {
    /// The account the entry's application lives in.
    pub fn account_name(&self) -> AccountName {
        self.account.clone().unwrap_or_else(AccountName::default_account)
    }
}

impl State {
    /// A new, empty state with a fresh lineage. Serial 0 means "never written".
    pub fn new(lineage: String) -> Self {
        State {
            format: FORMAT.to_string(),
            version: FORMAT_VERSION,
            lineage,
            serial: 0,
            account: None,
            applications: BTreeMap::new(),
            accounts: BTreeMap::new(),
            numbers_pending: BTreeMap::new(),
            transfers_pending: BTreeMap::new(),
            checksum: None,
            encryption: None,
            sealer: None,
        }
    }

    /// The address that manages application `id`, if any.
    pub fn address_of(&self, id: &AppId) -> Option<&Address> {
        self.applications.iter().find(|(_, e)| e.id.as_ref() == Some(id)).map(|(a, _)| a)
    }

    /// Renames the record of `from` to `to`, with everything it holds (id, key, pending rotation,
    /// protect, numbers, what was applied) and the number updates under way to it: the one way an
    /// address changes (a `moved:` entry, `vapp state mv`). `to` remembers it was `from` until its next
    /// apply. Nothing happens when the state does not hold `from`, or holds `to` already.
    pub fn rename(&mut self, from: &Address, to: &Address) {
        if self.applications.contains_key(to) {
            return;
        }
        let Some(mut entry) = self.applications.remove(from) else { return };
        entry.renamed_from = Some(from.clone());
        self.applications.insert(to.clone(), entry);
        for pending in self.numbers_pending.values_mut() {
            if pending.to.as_ref() == Some(from) {
                pending.to = Some(to.clone());
            }
        }
    }
}

impl State {
    /// Records that `number` (of `country`) is now in `to`, transferred from `from`: a subaccount vapp
    /// made keeps it in custody until it leaves again.
    pub fn record_transfer(&mut self, number: &Msisdn, country: &str, from: &AccountName, to: &AccountName) {
        self.transfers_pending.remove(number);
        if let Some(made) = self.accounts.get_mut(from).and_then(|a| a.subaccount.as_mut()) {
            made.numbers.remove(number);
        }
        if let Some(made) = self.accounts.get_mut(to).and_then(|a| a.subaccount.as_mut()) {
            made.numbers.insert(number.clone(), country.to_string());
        }
    }
}

impl StateEntry {
    /// Records that the application `id` is now as `applied` (the comparable form of what the API
    /// answered, or of what was observed), with the `protect` flag the plan gave it: the call under way
    /// is done, and a rename is settled. The one way an entry is marked applied.
    pub fn mark_applied(&mut self, id: AppId, applied: Value, protect: bool) {
        self.id = Some(id);
        self.applied = Some(applied);
        self.protect = protect;
        self.intent = None;
        self.renamed_from = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_key_debug_is_redacted() {
        let mut state = State::new("lin".into());
        state.applications.insert(
            Address::new("a"),
            StateEntry {
                id: Some(AppId::new("id-1")),
                key: KeyRecord::managed(
                    Fingerprint::new("sha256:00"),
                    PrivateKeyPem::new("-----BEGIN PRIVATE KEY-----\nx\n".into()),
                ),
                protect: true,
                applied: None,
                ..Default::default()
            },
        );
        let text = serde_json::to_string(&state).unwrap();
        assert!(text.contains("\"custody\":\"managed\""));
        let back: State = serde_json::from_str(&text).unwrap();
        assert_eq!(back, state);
        assert!(!format!("{state:?}").contains("BEGIN PRIVATE KEY"));
        assert_eq!(state.address_of(&AppId::new("id-1")), Some(&Address::new("a")));
    }
}
