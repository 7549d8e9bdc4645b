//! The emulator's accounts: a primary account and its subaccounts, each with its applications (in
//! creation order) and its numbers, in memory, optionally kept in one JSON data file.
//!
//! A [`Store`] is a handle on one account of the family; every handle shares the same data, so a
//! number transferred by one is owned by the other at once. The primary's secret comes from the
//! command line and is never written; a subaccount's secret is kept in the data file (this is the
//! fake Vonage, which holds them as the real one does).
//!
//! Invariant: when a mutating call returns, the data file (if any) already holds its result, so a
//! process that exits after its last answer loses nothing. Writes are atomic (temp file, fsync, rename).

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::api::numbers::OwnedNumber;
use crate::model::{AppId, Application, Msisdn};
use crate::secret::Secret;

#[derive(Default, Serialize, Deserialize)]
struct DataFile {
    applications: Vec<Application>,
    #[serde(default)]
    numbers: Vec<StoredNumber>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    subaccounts: Vec<SubaccountData>,
}

#[derive(Serialize, Deserialize)]
struct SubaccountData {
    #[serde(flatten)]
    info: Subaccount,
    secret: String,
    #[serde(default)]
    applications: Vec<Application>,
    #[serde(default)]
    numbers: Vec<StoredNumber>,
}

/// A subaccount as the Subaccounts API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Subaccount {
    pub api_key: String,
    pub name: String,
    pub primary_account_api_key: String,
    pub use_primary_account_balance: bool,
    pub created_at: String,
    pub suspended: bool,
    /// Null while the balance is shared with the primary.
    pub balance: Option<f64>,
    pub credit_limit: Option<f64>,
}

/// A number as the account keeps it: what `GET /account/numbers` shows, and what it does not.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredNumber {
    #[serde(flatten)]
    pub shown: OwnedNumber,
    /// Set by an update, never shown by a listing (the real API does not show it either).
    #[serde(rename = "_voiceStatusCallback", default, skip_serializing_if = "Option::is_none")]
    pub voice_status_callback: Option<String>,
    #[serde(rename = "_moSmppSysType", default, skip_serializing_if = "Option::is_none")]
    pub mo_smpp_sys_type: Option<String>,
}

#[derive(Default)]
struct Account {
    apps: IndexMap<AppId, Application>,
    numbers: IndexMap<Msisdn, StoredNumber>,
    secret: Secret,
    /// `None` for the primary account.
    sub: Option<Subaccount>,
}

/// Every account, the primary first.
struct Family {
    primary: String,
    accounts: IndexMap<String, Account>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read the emulator's data {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: crate::fsutil::ReadError,
    },
    #[error("the emulator's data {path} is not what `vapp emulator --data` writes")]
    Malformed {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot write the emulator's data {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Why a number transfer is refused, as the Subaccounts API answers it.
#[derive(Debug, PartialEq, Eq)]
pub enum TransferRefusal {
    /// 403: the two accounts are not primary and subaccount of this family (or the same account).
    OutsideFamily,
    /// 404: an account key that does not exist.
    NoSuchAccount(String),
    /// 404: `from` does not own the number.
    NotOwned,
    /// 409: `to` already owns it.
    AlreadyOwned,
}

/// The largest data file the emulator reads.
pub const MAX_DATA_BYTES: u64 = 1024 * 1024 * 1024;

struct Inner {
    family: RwLock<Family>,
    data_file: Option<PathBuf>,
    /// Serialises file writes so that a later snapshot never lands before an earlier one.
    write_lock: tokio::sync::Mutex<()>,
}

/// One account of the emulator's family (see the module docs).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
    key: Arc<str>,
}

impl Store {
    /// A primary account kept in memory only.
    pub fn in_memory() -> Self {
        Store::family(Family::new(super::DEFAULT_API_KEY, Secret::new(super::DEFAULT_API_SECRET)), None)
    }

    fn family(family: Family, data_file: Option<PathBuf>) -> Self {
        let key: Arc<str> = family.primary.as_str().into();
        let inner = Inner { family: RwLock::new(family), data_file, write_lock: tokio::sync::Mutex::new(()) };
        Store { inner: Arc::new(inner), key }
    }

    /// The primary account `api_key`, with its subaccounts, from `data_file` when it exists.
    pub fn open(data_file: Option<PathBuf>, api_key: &str, api_secret: Secret) -> Result<Self, StoreError> {
        let mut family = Family::new(api_key, api_secret);
        if let Some(path) = &data_file {
            if path.exists() {
                let text = crate::fsutil::read_bounded(path, MAX_DATA_BYTES, "emulator data")
                    .map_err(|source| StoreError::Read { path: path.clone(), source })?;
                let data: DataFile = serde_json::from_slice(&text)
                    .map_err(|source| StoreError::Malformed { path: path.clone(), source })?;
                let primary = family.accounts.entry(api_key.to_string()).or_default();
                primary.fill(data.applications, data.numbers);
                for sub in data.subaccounts {
                    let mut account =
                        Account { secret: Secret::new(sub.secret), sub: Some(sub.info.clone()), ..Default::default() };
                    account.fill(sub.applications, sub.numbers);
                    family.accounts.insert(sub.info.api_key, account);
                }
            }
        }
        Ok(Store::family(family, data_file))
    }

    /// This account's API key.
    pub fn api_key(&self) -> &str {
        &self.key
    }

    pub fn is_primary(&self) -> bool {
        self.read_family().primary == *self.key
    }

    /// The account `api_key` of the family, if it exists.
    pub fn account(&self, api_key: &str) -> Option<Store> {
        let exists = self.read_family().accounts.contains_key(api_key);
        exists.then(|| Store { inner: self.inner.clone(), key: api_key.into() })
    }

    /// The account these credentials open; a suspended subaccount opens nothing.
    pub fn sign_in(&self, api_key: &str, api_secret: &str) -> Option<Store> {
        let family = self.read_family();
        let account = family.accounts.get(api_key)?;
        let open = account.secret.expose() == api_secret && !account.sub.as_ref().is_some_and(|s| s.suspended);
        open.then(|| Store { inner: self.inner.clone(), key: api_key.into() })
    }

    /// Every account's key, the primary first.
    pub fn account_keys(&self) -> Vec<String> {
        self.read_family().accounts.keys().cloned().collect()
    }

    /// The primary's subaccounts, in creation order.
    pub fn subaccounts(&self) -> Vec<Subaccount> {
        self.read_family().accounts.values().filter_map(|a| a.sub.clone()).collect()
    }

    /// The subaccount `api_key`, if it is one.
    pub fn subaccount(&self, api_key: &str) -> Option<Subaccount> {
        self.read_family().accounts.get(api_key).and_then(|a| a.sub.clone())
    }

    /// Adds a subaccount with `secret` (a new key: the caller made it unique).
    pub async fn add_subaccount(&self, info: Subaccount, secret: Secret) -> Result<(), StoreError> {
        {
            let mut family = self.write_family();
            let account = Account { secret, sub: Some(info.clone()), ..Default::default() };
            family.accounts.insert(info.api_key, account);
        }
        self.persist().await
    }

    /// Changes a subaccount with `change`; `None` when there is no such subaccount.
    pub async fn modify_subaccount(
        &self,
        api_key: &str,
        change: impl FnOnce(&mut Subaccount),
    ) -> Result<Option<Subaccount>, StoreError> {
        let changed = {
            let mut family = self.write_family();
            let Some(sub) = family.accounts.get_mut(api_key).and_then(|a| a.sub.as_mut()) else { return Ok(None) };
            change(sub);
            sub.clone()
        };
        self.persist().await?;
        Ok(Some(changed))
    }

    /// Moves `msisdn` from account `from` to account `to`, unlinked, as `transfer-number` does.
    pub async fn transfer_number(
        &self,
        from: &str,
        to: &str,
        msisdn: &Msisdn,
    ) -> Result<Result<(), TransferRefusal>, StoreError> {
        {
            let mut family = self.write_family();
            for key in [from, to] {
                if !family.accounts.contains_key(key) {
                    return Ok(Err(TransferRefusal::NoSuchAccount(key.to_string())));
                }
            }
            // One of the two is the primary, the other its subaccount.
            let primary = family.primary.clone();
            if from == to || (from != primary && to != primary) {
                return Ok(Err(TransferRefusal::OutsideFamily));
            }
            if family.accounts.get(to).is_some_and(|a| a.numbers.contains_key(msisdn)) {
                return Ok(Err(TransferRefusal::AlreadyOwned));
            }
            let Some(mut number) = family.accounts.get_mut(from).and_then(|a| a.numbers.shift_remove(msisdn)) else {
                return Ok(Err(TransferRefusal::NotOwned));
            };
            number.shown = OwnedNumber {
                country: number.shown.country,
                msisdn: number.shown.msisdn,
                kind: number.shown.kind,
                features: number.shown.features,
                ..Default::default()
            };
            number.voice_status_callback = None;
            number.mo_smpp_sys_type = None;
            if let Some(target) = family.accounts.get_mut(to) {
                target.numbers.insert(msisdn.clone(), number);
            }
        }
        self.persist().await.map(Ok)
    }

    fn read_family(&self) -> std::sync::RwLockReadGuard<'_, Family> {
        self.inner.family.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_family(&self) -> std::sync::RwLockWriteGuard<'_, Family> {
        self.inner.family.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `look` on this account.
    fn read<R>(&self, look: impl FnOnce(&Account) -> R) -> R {
        let family = self.read_family();
        match family.accounts.get(&*self.key) {
            Some(account) => look(account),
            None => look(&Account::default()),
        }
    }

    /// Runs `change` on this account.
    fn write<R>(&self, change: impl FnOnce(&mut Account) -> R) -> R {
        let mut family = self.write_family();
        change(family.accounts.entry(self.key.to_string()).or_default())
    }

    /// How many applications the account holds.
    pub fn len(&self) -> usize {
        self.read(|a| a.apps.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, id: &AppId) -> Option<Application> {
        self.read(|a| a.apps.get(id).cloned())
    }

    /// Every application, in creation order.
    pub fn all(&self) -> Vec<Application> {
        self.read(|a| a.apps.values().cloned().collect())
    }

    /// The page `page` (from 1) of `page_size`, and the total count.
    pub fn page(&self, page: usize, page_size: usize) -> (Vec<Application>, usize) {
        self.read(|account| {
            let start = (page - 1).saturating_mul(page_size);
            let items = account.apps.values().skip(start).take(page_size).cloned().collect();
            (items, account.apps.len())
        })
    }

    pub async fn upsert(&self, app: Application) -> Result<(), StoreError> {
        let id = app.id.clone().unwrap_or_default();
        self.write(|a| a.apps.insert(id, app));
        self.persist().await
    }

    /// Replaces an existing application; false (and nothing stored) when it is gone.
    pub async fn replace(&self, app: Application) -> Result<bool, StoreError> {
        let id = app.id.clone().unwrap_or_default();
        let replaced = self.write(|account| match account.apps.get_mut(&id) {
            Some(slot) => {
                *slot = app;
                true
            }
            None => false,
        });
        if !replaced {
            return Ok(false);
        }
        self.persist().await.map(|()| true)
    }

    pub async fn insert_many(&self, apps: Vec<Application>) -> Result<(), StoreError> {
        self.write(|account| {
            for app in apps {
                account.apps.insert(app.id.clone().unwrap_or_default(), app);
            }
        });
        self.persist().await
    }

    /// Removes `id`; false when there was no such application. Numbers linked to it keep pointing at
    /// it (what the real service does is not documented; vapp unlinks them first).
    pub async fn remove(&self, id: &AppId) -> Result<bool, StoreError> {
        let removed = self.write(|a| a.apps.shift_remove(id).is_some());
        if removed {
            self.persist().await?;
        }
        Ok(removed)
    }

    /// Every number the account owns, in the order they were added.
    pub fn numbers(&self) -> Vec<StoredNumber> {
        self.read(|a| a.numbers.values().cloned().collect())
    }

    pub fn number(&self, msisdn: &Msisdn) -> Option<StoredNumber> {
        self.read(|a| a.numbers.get(msisdn).cloned())
    }

    /// How many numbers every account of the family owns.
    pub fn family_number_count(&self) -> usize {
        self.read_family().accounts.values().map(|a| a.numbers.len()).sum()
    }

    /// Adds or replaces numbers.
    pub async fn put_numbers(&self, numbers: Vec<StoredNumber>) -> Result<(), StoreError> {
        self.write(|account| {
            for number in numbers {
                account.numbers.insert(number.shown.msisdn.clone(), number);
            }
        });
        self.persist().await
    }

    async fn persist(&self) -> Result<(), StoreError> {
        let Some(path) = self.inner.data_file.clone() else { return Ok(()) };
        let _guard = self.inner.write_lock.lock().await;
        let snapshot = {
            let family = self.read_family();
            let mut data = DataFile::default();
            for account in family.accounts.values() {
                let applications = account.apps.values().cloned().collect();
                let numbers = account.numbers.values().cloned().collect();
                match &account.sub {
                    None => (data.applications, data.numbers) = (applications, numbers),
                    Some(info) => data.subaccounts.push(SubaccountData {
                        info: info.clone(),
                        secret: account.secret.expose().to_string(),
                        applications,
                        numbers,
                    }),
                }
            }
            data
        };
        let bytes = serde_json::to_vec_pretty(&snapshot)
            .map_err(|e| StoreError::Write { path: path.clone(), source: std::io::Error::other(e) })?;
        let target = path.clone();
        tokio::task::spawn_blocking(move || {
            crate::fsutil::write_atomically(&target, &bytes, crate::fsutil::Mode::Shared)
                .map_err(|source| StoreError::Write { path: target.clone(), source })
        })
        .await
        .map_err(|e| StoreError::Write { path, source: std::io::Error::other(e) })?
    }
}

impl Family {
    fn new(api_key: &str, api_secret: Secret) -> Self {
        let mut accounts = IndexMap::new();
        accounts.insert(api_key.to_string(), Account { secret: api_secret, ..Default::default() });
        Family { primary: api_key.to_string(), accounts }
    }
}

impl Account {
    fn fill(&mut self, applications: Vec<Application>, numbers: Vec<StoredNumber>) {
        for app in applications {
            if let Some(id) = app.id.clone() {
                self.apps.insert(id, app);
            }
        }
        for number in numbers {
            self.numbers.insert(number.shown.msisdn.clone(), number);
        }
    }
}
