//! Reading and writing the state through its backend, with group commit for concurrent apply.
//!
//! Apply runs many actions at once and each must be stored before it counts as done. [`StateStore::commit`]
//! changes the state in memory and returns once a write that includes the change is stored; changes
//! made while a write is under way are written together by the next one, so a hundred concurrent
//! creates cost a handful of writes, not two hundred, on every backend.
//!
//! Every write names the version it replaces, so a state is never written over one it did not read.
//! After a write fails (a full disk, a lost connection, a lost race), the store writes nothing more
//! in this run, and [`StateStore::has_failed`] tells the executor to start nothing new.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::backend::{Backend, BackendError, FileBackend, Token, VersionPlace};
use super::codec::{self, Corruption, DecodeError, EncodeError};
use super::location::StateLocation;
use super::{State, FORMAT_VERSION};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// (The backend's error names what it was reading.)
    #[error("cannot read the state")]
    Read {
        location: StateLocation,
        #[source]
        source: BackendError,
    },
    /// Damaged, truncated or foreign. `help` says which earlier version is good, if one is.
    #[error("the state {location} is unreadable: {reason}; vapp will not start a new state over it")]
    Corrupt { location: StateLocation, reason: Corruption, help: String },
    /// Written by a newer vapp, in a format version this one does not know.
    #[error("the state {location} was written by a newer vapp (state format version {version}; this vapp reads version {FORMAT_VERSION})")]
    Newer { location: StateLocation, version: u64 },
    #[error("cannot write the state {location}")]
    Write {
        location: StateLocation,
        #[source]
        source: BackendError,
    },
    #[error("cannot encode the state {location}")]
    Encode {
        location: StateLocation,
        #[source]
        source: EncodeError,
    },
    #[error("the private keys in {location} are encrypted")]
    NeedsPassphrase { location: StateLocation },
    #[error("the passphrase does not open {location}; nothing was changed")]
    WrongPassphrase { location: StateLocation },
    /// An earlier write of this run failed: nothing more is written until the next run.
    #[error("an earlier write of the state {location} failed; this run changes nothing more")]
    Stopped { location: StateLocation },
}

impl StateError {
    /// What to do about it, for the command edge to print as `= help:`.
    pub fn help(&self) -> Option<String> {
        match self {
            StateError::Corrupt { help, .. } => Some(help.clone()),
            StateError::Newer { .. } => {
                Some("use the vapp that wrote it (or a newer one); do not restore an older version over it".into())
            }
            StateError::NeedsPassphrase { .. } => {
                Some("set VAPP_STATE_PASSPHRASE or pass --passphrase-file FILE".into())
            }
            StateError::Write { source: BackendError::Conflict | BackendError::Changed(_), .. } => {
                Some("another vapp wrote the state meanwhile; run the command again".into())
            }
            StateError::Write { source: BackendError::LockLost { .. }, .. } => Some(
                "nothing was written after the lock was lost; run the command again once the other run is done".into(),
            ),
            _ => None,
        }
    }
}

/// A state as read, with the version a write must replace.
#[derive(Debug)]
pub struct Loaded {
    pub state: State,
    pub token: Token,
}

/// Reads the state `backend` keeps; `None` when there is none yet. A damaged or foreign one is
/// refused, naming the newest earlier version that is good. With `passphrase`, encrypted keys are
/// opened; without, they stay sealed.
pub async fn load(backend: &dyn Backend, passphrase: Option<&str>) -> Result<Option<Loaded>, StateError> {
    let location = backend.location().clone();
    let Some(stored) =
        backend.read().await.map_err(|source| StateError::Read { location: location.clone(), source })?
    else {
        return Ok(None);
    };
    match codec::decode(&stored.bytes, passphrase) {
        Ok(state) => Ok(Some(Loaded { state, token: stored.token })),
        Err(DecodeError::WrongPassphrase) => Err(StateError::WrongPassphrase { location }),
        Err(DecodeError::Newer { version }) => Err(StateError::Newer { location, version }),
        Err(DecodeError::Corrupt(reason)) => {
            let help = restore_help(backend, passphrase).await;
            Err(StateError::Corrupt { location, reason, help })
        }
    }
}

/// How to get a good state back: the newest earlier version that reads.
async fn restore_help(backend: &dyn Backend, passphrase: Option<&str>) -> String {
    for version in backend.history().await.unwrap_or_default() {
        let Ok(Some(bytes)) = backend.version(version.serial).await else { continue };
        if matches!(codec::decode(&bytes, passphrase), Err(DecodeError::Corrupt(_))) {
            continue;
        }
        return match (&version.location, backend.location().file()) {
            (VersionPlace::File(backup), Some(state)) => format!(
                "the newest good backup is {} (serial {}); to restore it:\n      cp {} {}",
                backup.display(),
                version.serial,
                backup.display(),
                state.display()
            ),
            (place, _) => format!("the newest good earlier version is serial {} ({place})", version.serial),
        };
    }
    "no good earlier version was found".into()
}

/// Writes `state` as a new state file at `path` (tests and benchmarks set up states this way).
pub fn create_file(path: &std::path::Path, state: &mut State) -> Result<(), StateError> {
    let location = StateLocation::File(path.to_path_buf());
    state.serial += 1;
    let bytes = codec::encode(state).map_err(|source| StateError::Encode { location: location.clone(), source })?;
    crate::fsutil::write_atomically(path, &bytes, crate::fsutil::Mode::Private)
        .map_err(|e| StateError::Write { location, source: BackendError::Io(e) })
}

/// Reads the state file at `path`, its keys sealed if it is encrypted: for tests and tools that look at
/// a file directly (without the async backend, and without naming a backup when it is damaged).
pub fn load_file(path: &std::path::Path) -> Result<Option<State>, StateError> {
    let location = StateLocation::File(path.to_path_buf());
    let bytes = match crate::fsutil::read_bounded(path, codec::MAX_STATE_BYTES, "a state") {
        Ok(bytes) => bytes,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => {
            let source = BackendError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, e));
            return Err(StateError::Read { location, source });
        }
    };
    codec::decode(&bytes, None).map(Some).map_err(|e| match e {
        DecodeError::WrongPassphrase => StateError::WrongPassphrase { location },
        DecodeError::Newer { version } => StateError::Newer { location, version },
        DecodeError::Corrupt(reason) => StateError::Corrupt { location, reason, help: String::new() },
    })
}

struct Pending {
    state: State,
    /// Bumped by every change; a write covers every change up to the generation it snapshotted.
    generation: u64,
}

/// What is stored: the last generation written and the token of the version in place.
struct Written {
    generation: u64,
    token: Option<Token>,
}

/// The state of one command run, shared by concurrent actions.
pub struct StateStore {
    backend: Arc<dyn Backend>,
    pending: Mutex<Pending>,
    /// Held while writing.
    written: tokio::sync::Mutex<Written>,
    failed: AtomicBool,
}

impl StateStore {
    /// A store for `state`, whose stored version is `token` (`None`: nothing is stored yet).
    pub fn new(backend: Arc<dyn Backend>, state: State, token: Option<Token>) -> Self {
        StateStore {
            backend,
            pending: Mutex::new(Pending { state, generation: 0 }),
            written: tokio::sync::Mutex::new(Written { generation: 0, token }),
            failed: AtomicBool::new(false),
        }
    }

    /// A store for a state file at `path` not written yet (tests).
    pub fn at_path(path: std::path::PathBuf, state: State) -> Self {
        StateStore::new(Arc::new(FileBackend::new(path)), state, None)
    }

    pub fn location(&self) -> &StateLocation {
        self.backend.location()
    }

    /// Reads the state as it is in memory now, without copying it (it holds every private key).
    pub fn read<T>(&self, read: impl FnOnce(&State) -> T) -> T {
        read(&self.lock().state)
    }

    /// A copy of the state as it is in memory now: for tests and one-off commands, never per action.
    pub fn snapshot(&self) -> State {
        self.lock().state.clone()
    }

    /// Whether a write failed in this run (the store writes nothing more).
    pub fn has_failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `change` and returns once it is stored.
    pub async fn commit(&self, change: impl FnOnce(&mut State)) -> Result<(), StateError> {
        let location = || self.backend.location().clone();
        if self.has_failed() {
            return Err(StateError::Stopped { location: location() });
        }
        let mine = {
            let mut pending = self.lock();
            change(&mut pending.state);
            pending.generation += 1;
            pending.generation
        };
        let mut written = self.written.lock().await;
        if written.generation >= mine {
            return Ok(()); // a write that began after our change already covered it
        }
        if self.has_failed() {
            return Err(StateError::Stopped { location: location() });
        }
        let (bytes, generation, serial) = {
            let pending = self.lock();
            let mut next = pending.state.clone();
            next.serial += 1;
            let bytes = codec::encode(&next).map_err(|source| StateError::Encode { location: location(), source })?;
            (bytes, pending.generation, next.serial)
        };
        match self.backend.write(&bytes, serial, written.token.as_ref()).await {
            Ok(token) => {
                self.lock().state.serial = serial;
                *written = Written { generation, token: Some(token) };
                Ok(())
            }
            Err(source) => {
                self.failed.store(true, Ordering::SeqCst);
                Err(StateError::Write { location: location(), source })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Address, AppId};
    use crate::state::backend::MemoryBackend;
    use crate::state::{KeyRecord, StateEntry};

    fn entry(i: usize) -> StateEntry {
        StateEntry {
            id: Some(AppId::new(i.to_string())),
            key: KeyRecord::Unknown { fingerprint: None },
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn concurrent_commits_all_land_and_serial_grows() {
        let backend = Arc::new(MemoryBackend::new());
        let store = Arc::new(StateStore::new(backend.clone(), State::new("lin".into()), None));
        let mut tasks = Vec::new();
        for i in 0..50 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .commit(|s| drop(s.applications.insert(Address::new(format!("app-{i}")), entry(i))))
                    .await
                    .unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let stored = load(backend.as_ref(), None).await.unwrap().unwrap().state;
        assert_eq!(stored.applications.len(), 50);
        assert!(stored.serial >= 1 && stored.serial <= 50, "serial {}", stored.serial);
        assert_eq!(backend.writes(), stored.serial, "one serial per write");
        let mut in_memory = store.snapshot();
        in_memory.checksum = stored.checksum.clone();
        assert_eq!(stored, in_memory);
    }

    /// Group commit through lost answers and dropped connections: every change lands, and no serial
    /// is ever stored twice (so never with two contents).
    #[tokio::test(start_paused = true)]
    async fn group_commit_keeps_its_promise_when_connections_drop() {
        use crate::state::backend::{Fault, Resilient};
        let memory = Arc::new(MemoryBackend::new());
        let backend = Arc::new(Resilient::new(memory.clone(), None));
        let store = Arc::new(StateStore::new(backend.clone(), State::new("lin".into()), None));
        for i in 0..30 {
            memory.fault_next(if i % 3 == 0 { Fault::AnswerLost } else { Fault::Dropped });
            memory.fault_next(Fault::Answered);
            memory.fault_next(Fault::Answered);
        }
        let mut tasks = Vec::new();
        for i in 0..40 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store.commit(|s| drop(s.applications.insert(Address::new(format!("app-{i}")), entry(i)))).await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let versions = memory.versions();
        let serials: Vec<u64> = versions.iter().map(|(serial, _)| *serial).collect();
        let mut distinct = serials.clone();
        distinct.dedup();
        assert_eq!(serials, distinct, "a serial stored twice");
        assert!(serials.windows(2).all(|w| w[0] + 1 == w[1]), "{serials:?}");
        let stored = load(backend.as_ref(), None).await.unwrap().unwrap().state;
        assert_eq!(stored.applications.len(), 40);
        assert_eq!(stored.serial, store.snapshot().serial);
    }

    #[tokio::test]
    async fn after_a_failed_write_nothing_more_is_written() {
        let backend = Arc::new(MemoryBackend::new());
        let store = StateStore::new(backend.clone(), State::new("lin".into()), None);
        store.commit(|s| drop(s.applications.insert(Address::new("a"), entry(1)))).await.unwrap();
        backend.fail_writes_after(0);
        let failed = store.commit(|s| drop(s.applications.insert(Address::new("b"), entry(2)))).await.unwrap_err();
        assert!(matches!(failed, StateError::Write { .. }), "{failed:?}");
        assert!(store.has_failed());
        backend.fail_writes_after(usize::MAX);
        let stopped = store.commit(|s| drop(s.applications.insert(Address::new("c"), entry(3)))).await.unwrap_err();
        assert!(matches!(stopped, StateError::Stopped { .. }), "{stopped:?}");
        let stored = load(backend.as_ref(), None).await.unwrap().unwrap().state;
        assert_eq!(stored.serial, 1, "the serial of what is stored, not of the failed tries");
        assert_eq!(stored.applications.len(), 1);
    }

    #[tokio::test]
    async fn a_state_written_by_someone_else_is_never_overwritten() {
        let backend = Arc::new(MemoryBackend::new());
        let first = StateStore::new(backend.clone(), State::new("lin".into()), None);
        first.commit(|s| drop(s.applications.insert(Address::new("a"), entry(1)))).await.unwrap();
        let loaded = load(backend.as_ref(), None).await.unwrap().unwrap();
        let second = StateStore::new(backend.clone(), loaded.state, Some(loaded.token));
        second.commit(|s| drop(s.applications.insert(Address::new("b"), entry(2)))).await.unwrap();
        let lost = first.commit(|s| drop(s.applications.insert(Address::new("c"), entry(3)))).await.unwrap_err();
        assert!(matches!(lost, StateError::Write { source: BackendError::Conflict, .. }), "{lost:?}");
        let stored = load(backend.as_ref(), None).await.unwrap().unwrap().state;
        assert_eq!(stored.applications.keys().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[tokio::test]
    async fn damage_is_caught_and_the_newest_good_version_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vapp.state.json");
        let store = StateStore::at_path(path.clone(), State::new("lin".into()));
        for i in 0..8 {
            store.commit(|s| drop(s.applications.insert(Address::new(format!("a{i}")), entry(i)))).await.unwrap();
        }
        // A bit flipped by hand: the checksum catches it.
        let text = std::fs::read_to_string(&path).unwrap().replace("\"lin\"", "\"lim\"");
        std::fs::write(&path, text).unwrap();
        let err = load(&FileBackend::new(path.clone()), None).await.unwrap_err();
        assert!(matches!(&err, StateError::Corrupt { reason: Corruption::Checksum, .. }), "{err:?}");
        let help = err.help().unwrap();
        assert!(help.contains("vapp.state.json.7 (serial 7)"), "{help}");
        assert!(help.contains("cp "), "{help}");
        // Truncated to nothing: refused too, never taken for "no state".
        std::fs::write(&path, "").unwrap();
        assert!(matches!(load(&FileBackend::new(path), None).await, Err(StateError::Corrupt { .. })));
    }

    #[tokio::test]
    async fn foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let backend = FileBackend::new(path.clone());
        std::fs::write(&path, "{\"format\": \"terraform\", \"version\": 4, \"lineage\": \"x\", \"serial\": 1}")
            .unwrap();
        assert!(matches!(load(&backend, None).await, Err(StateError::Corrupt { .. })));
        std::fs::write(&path, "{\"format\": \"vapp-state\", \"version\": 1, \"lineage\": \"x\", \"serial\": 1}")
            .unwrap();
        let err = load(&backend, None).await.unwrap_err().to_string();
        assert!(err.contains("it has no checksum"), "{err}");
        std::fs::write(&path, "{\"trunc").unwrap();
        assert!(matches!(load(&backend, None).await, Err(StateError::Corrupt { .. })));
        assert!(load(&FileBackend::new(dir.path().join("none.json")), None).await.unwrap().is_none());
    }
}
