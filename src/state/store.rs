//! Reading and writing the state file, with group commit for concurrent apply.
//!
//! Apply runs many actions at once and each must be on disk before it counts as done. [`StateStore::commit`]
//! changes the state in memory and returns once a write that includes the change has reached the disk;
//! changes made while a write is under way are written together by the next one, so a hundred
//! concurrent creates cost a handful of fsyncs, not two hundred.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{State, FORMAT, FORMAT_VERSION};
use crate::fsutil::{self, Mode};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read state {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("state {path} is not a vapp state file: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("cannot write state {path}: {message}")]
    Write { path: PathBuf, message: String },
}

/// Loads the state at `path`; `None` when there is no file yet.
pub fn load(path: &Path) -> Result<Option<State>, StateError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StateError::Read { path: path.to_path_buf(), message: e.to_string() }),
    };
    let state: State = serde_json::from_slice(&bytes)
        .map_err(|e| StateError::Corrupt { path: path.to_path_buf(), message: e.to_string() })?;
    if state.format != FORMAT || state.version != FORMAT_VERSION {
        return Err(StateError::Corrupt {
            path: path.to_path_buf(),
            message: format!(
                "format `{}` version {}; this vapp reads `{FORMAT}` version {FORMAT_VERSION}",
                state.format, state.version
            ),
        });
    }
    Ok(Some(state))
}

/// Writes `state` to `path` atomically with mode 0600.
pub fn save(path: &Path, state: &State) -> Result<(), StateError> {
    let mut bytes = serde_json::to_vec_pretty(state)
        .map_err(|e| StateError::Write { path: path.to_path_buf(), message: e.to_string() })?;
    bytes.push(b'\n');
    fsutil::write_atomically(path, &bytes, Mode::Private)
        .map_err(|e| StateError::Write { path: path.to_path_buf(), message: e.to_string() })
}

struct Pending {
    state: State,
    /// Bumped by every change; a write covers every change up to the generation it snapshotted.
    generation: u64,
}

/// The state of one command run, shared by concurrent actions.
pub struct StateStore {
    path: PathBuf,
    pending: Mutex<Pending>,
    /// Held while writing; holds the last generation on disk.
    written: tokio::sync::Mutex<u64>,
}

impl StateStore {
    pub fn new(path: PathBuf, state: State) -> Self {
        StateStore { path, pending: Mutex::new(Pending { state, generation: 0 }), written: tokio::sync::Mutex::new(0) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A copy of the state as it is in memory now.
    pub fn snapshot(&self) -> State {
        self.lock().state.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `change` and returns once it is on disk.
    pub async fn commit(&self, change: impl FnOnce(&mut State)) -> Result<(), StateError> {
        let mine = {
            let mut pending = self.lock();
            change(&mut pending.state);
            pending.generation += 1;
            pending.generation
        };
        let mut written = self.written.lock().await;
        if *written >= mine {
            return Ok(()); // a write that began after our change already covered it
        }
        let (bytes, generation) = {
            let mut pending = self.lock();
            pending.state.serial += 1;
            let mut bytes = serde_json::to_vec_pretty(&pending.state)
                .map_err(|e| StateError::Write { path: self.path.clone(), message: e.to_string() })?;
            bytes.push(b'\n');
            (bytes, pending.generation)
        };
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || fsutil::write_atomically(&path, &bytes, Mode::Private))
            .await
            .map_err(|e| StateError::Write { path: self.path.clone(), message: e.to_string() })?
            .map_err(|e| StateError::Write { path: self.path.clone(), message: e.to_string() })?;
        *written = generation;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{KeyRecord, StateEntry};
    use std::sync::Arc;

    #[tokio::test]
    async fn concurrent_commits_all_land_and_serial_grows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vapp.state.json");
        let store = Arc::new(StateStore::new(path.clone(), State::new("lin".into())));
        let mut tasks = Vec::new();
        for i in 0..50 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .commit(|s| {
                        s.applications.insert(
                            format!("app-{i}"),
                            StateEntry {
                                id: Some(i.to_string()),
                                key: KeyRecord::Unknown { fingerprint: None },
                                protect: false,
                                applied: None,
                            },
                        );
                    })
                    .await
                    .unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let on_disk = load(&path).unwrap().unwrap();
        assert_eq!(on_disk.applications.len(), 50);
        assert!(on_disk.serial >= 1 && on_disk.serial <= 50, "serial {}", on_disk.serial);
        assert_eq!(on_disk, store.snapshot());
    }

    #[test]
    fn foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, "{\"format\": \"terraform\", \"version\": 4, \"lineage\": \"x\", \"serial\": 1}")
            .unwrap();
        assert!(matches!(load(&path), Err(StateError::Corrupt { .. })));
        std::fs::write(&path, "{\"trunc").unwrap();
        assert!(matches!(load(&path), Err(StateError::Corrupt { .. })));
        assert!(load(&dir.path().join("none.json")).unwrap().is_none());
    }
}
