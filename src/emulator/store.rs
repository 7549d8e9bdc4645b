//! The emulator's account: its applications (in creation order) and its numbers, in memory, optionally
//! kept in a JSON data file.
//!
//! Invariant: when a mutating call returns, the data file (if any) already holds its result, so a
//! process that exits after its last answer loses nothing. Writes are atomic (temp file, fsync, rename).

use std::path::PathBuf;
use std::sync::RwLock;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::api::numbers::OwnedNumber;
use crate::model::{AppId, Application, Msisdn};

#[derive(Default, Serialize, Deserialize)]
struct DataFile {
    applications: Vec<Application>,
    #[serde(default)]
    numbers: Vec<StoredNumber>,
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

/// The largest data file the emulator reads.
pub const MAX_DATA_BYTES: u64 = 1024 * 1024 * 1024;

pub struct Store {
    account: RwLock<Account>,
    data_file: Option<PathBuf>,
    /// Serialises file writes so that a later snapshot never lands before an earlier one.
    write_lock: tokio::sync::Mutex<()>,
}

impl Store {
    /// An account kept in memory only.
    pub fn in_memory() -> Self {
        Store { account: RwLock::default(), data_file: None, write_lock: tokio::sync::Mutex::new(()) }
    }

    pub fn open(data_file: Option<PathBuf>) -> Result<Self, StoreError> {
        let mut account = Account::default();
        if let Some(path) = &data_file {
            if path.exists() {
                let text = crate::fsutil::read_bounded(path, MAX_DATA_BYTES, "emulator data")
                    .map_err(|source| StoreError::Read { path: path.clone(), source })?;
                let data: DataFile = serde_json::from_slice(&text)
                    .map_err(|source| StoreError::Malformed { path: path.clone(), source })?;
                for app in data.applications {
                    if let Some(id) = app.id.clone() {
                        account.apps.insert(id, app);
                    }
                }
                for number in data.numbers {
                    account.numbers.insert(number.shown.msisdn.clone(), number);
                }
            }
        }
        Ok(Store { account: RwLock::new(account), data_file, write_lock: tokio::sync::Mutex::new(()) })
    }

    /// How many applications the account holds.
    pub fn len(&self) -> usize {
        self.read().apps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Account> {
        self.account.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Account> {
        self.account.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn get(&self, id: &AppId) -> Option<Application> {
        self.read().apps.get(id).cloned()
    }

    /// Every application, in creation order.
    pub fn all(&self) -> Vec<Application> {
        self.read().apps.values().cloned().collect()
    }

    /// The page `page` (from 1) of `page_size`, and the total count.
    pub fn page(&self, page: usize, page_size: usize) -> (Vec<Application>, usize) {
        let account = self.read();
        let start = (page - 1).saturating_mul(page_size);
        let items = account.apps.values().skip(start).take(page_size).cloned().collect();
        (items, account.apps.len())
    }

    pub async fn upsert(&self, app: Application) -> Result<(), StoreError> {
        let id = app.id.clone().unwrap_or_default();
        self.write().apps.insert(id, app);
        self.persist().await
    }

    /// Replaces an existing application; false (and nothing stored) when it is gone.
    pub async fn replace(&self, app: Application) -> Result<bool, StoreError> {
        let id = app.id.clone().unwrap_or_default();
        {
            let mut account = self.write();
            match account.apps.get_mut(&id) {
                Some(slot) => *slot = app,
                None => return Ok(false),
            }
        }
        self.persist().await.map(|()| true)
    }

    pub async fn insert_many(&self, apps: Vec<Application>) -> Result<(), StoreError> {
        {
            let mut account = self.write();
            for app in apps {
                account.apps.insert(app.id.clone().unwrap_or_default(), app);
            }
        }
        self.persist().await
    }

    /// Removes `id`; false when there was no such application. Numbers linked to it keep pointing at
    /// it (what the real service does is not documented; vapp unlinks them first).
    pub async fn remove(&self, id: &AppId) -> Result<bool, StoreError> {
        let removed = self.write().apps.shift_remove(id).is_some();
        if removed {
            self.persist().await?;
        }
        Ok(removed)
    }

    /// Every number the account owns, in the order they were added.
    pub fn numbers(&self) -> Vec<StoredNumber> {
        self.read().numbers.values().cloned().collect()
    }

    pub fn number(&self, msisdn: &Msisdn) -> Option<StoredNumber> {
        self.read().numbers.get(msisdn).cloned()
    }

    /// How many numbers the account owns.
    pub fn number_count(&self) -> usize {
        self.read().numbers.len()
    }

    /// Adds or replaces numbers.
    pub async fn put_numbers(&self, numbers: Vec<StoredNumber>) -> Result<(), StoreError> {
        {
            let mut account = self.write();
            for number in numbers {
                account.numbers.insert(number.shown.msisdn.clone(), number);
            }
        }
        self.persist().await
    }

    async fn persist(&self) -> Result<(), StoreError> {
        let Some(path) = self.data_file.clone() else { return Ok(()) };
        let _guard = self.write_lock.lock().await;
        let snapshot = {
            let account = self.read();
            DataFile {
                applications: account.apps.values().cloned().collect(),
                numbers: account.numbers.values().cloned().collect(),
            }
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
