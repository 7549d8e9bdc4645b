//! The emulator's applications: in memory, in creation order, optionally kept in a JSON data file.
//!
//! Invariant: when a mutating call returns, the data file (if any) already holds its result, so a
//! process that exits after its last answer loses nothing. Writes are atomic (temp file, fsync, rename).

use std::path::PathBuf;
use std::sync::RwLock;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::model::Application;

#[derive(Default, Serialize, Deserialize)]
struct DataFile {
    applications: Vec<Application>,
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
    apps: RwLock<IndexMap<String, Application>>,
    data_file: Option<PathBuf>,
    /// Serialises file writes so that a later snapshot never lands before an earlier one.
    write_lock: tokio::sync::Mutex<()>,
}

impl Store {
    /// An account kept in memory only.
    pub fn in_memory() -> Self {
        Store { apps: RwLock::new(IndexMap::new()), data_file: None, write_lock: tokio::sync::Mutex::new(()) }
    }

    pub fn open(data_file: Option<PathBuf>) -> Result<Self, StoreError> {
        let mut apps = IndexMap::new();
        if let Some(path) = &data_file {
            if path.exists() {
                let text = crate::fsutil::read_bounded(path, MAX_DATA_BYTES, "emulator data")
                    .map_err(|source| StoreError::Read { path: path.clone(), source })?;
                let data: DataFile = serde_json::from_slice(&text)
                    .map_err(|source| StoreError::Malformed { path: path.clone(), source })?;
                for app in data.applications {
                    if let Some(id) = app.id.clone() {
                        apps.insert(id, app);
                    }
                }
            }
        }
        Ok(Store { apps: RwLock::new(apps), data_file, write_lock: tokio::sync::Mutex::new(()) })
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, IndexMap<String, Application>> {
        self.apps.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, IndexMap<String, Application>> {
        self.apps.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn get(&self, id: &str) -> Option<Application> {
        self.read().get(id).cloned()
    }

    /// Every application, in creation order.
    pub fn all(&self) -> Vec<Application> {
        self.read().values().cloned().collect()
    }

    /// The page `page` (from 1) of `page_size`, and the total count.
    pub fn page(&self, page: usize, page_size: usize) -> (Vec<Application>, usize) {
        let apps = self.read();
        let start = (page - 1).saturating_mul(page_size);
        let items = apps.values().skip(start).take(page_size).cloned().collect();
        (items, apps.len())
    }

    pub async fn upsert(&self, app: Application) -> Result<(), StoreError> {
        let id = app.id.clone().unwrap_or_default();
        self.write().insert(id, app);
        self.persist().await
    }

    /// Replaces an existing application; false (and nothing stored) when it is gone.
    pub async fn replace(&self, app: Application) -> Result<bool, StoreError> {
        let id = app.id.clone().unwrap_or_default();
        {
            let mut store = self.write();
            match store.get_mut(&id) {
                Some(slot) => *slot = app,
                None => return Ok(false),
            }
        }
        self.persist().await.map(|()| true)
    }

    pub async fn insert_many(&self, apps: Vec<Application>) -> Result<(), StoreError> {
        {
            let mut store = self.write();
            for app in apps {
                store.insert(app.id.clone().unwrap_or_default(), app);
            }
        }
        self.persist().await
    }

    /// Removes `id`; false when there was no such application.
    pub async fn remove(&self, id: &str) -> Result<bool, StoreError> {
        let removed = self.write().shift_remove(id).is_some();
        if removed {
            self.persist().await?;
        }
        Ok(removed)
    }

    async fn persist(&self) -> Result<(), StoreError> {
        let Some(path) = self.data_file.clone() else { return Ok(()) };
        let _guard = self.write_lock.lock().await;
        let snapshot = DataFile { applications: self.read().values().cloned().collect() };
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
