//! Reading and writing the state file, with group commit for concurrent apply.
//!
//! Apply runs many actions at once and each must be on disk before it counts as done. [`StateStore::commit`]
//! changes the state in memory and returns once a write that includes the change has reached the disk;
//! changes made while a write is under way are written together by the next one, so a hundred
//! concurrent creates cost a handful of fsyncs, not two hundred.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::codec::{self, DecodeError, MAX_STATE_BYTES};
use super::crypto::CryptoError;
use super::{State, FORMAT_VERSION};
use crate::fsutil::{self, Mode, ReadError};

/// How many earlier versions of a state file are kept.
pub const BACKUPS_KEPT: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The path is in the source's words (the file system's errors name it).
    #[error("cannot read the state")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Damaged, truncated or foreign. `backup` is the newest good backup, with its serial.
    #[error("the state {path} is unreadable: {reason}; vapp will not start a new state over it")]
    Corrupt { path: PathBuf, reason: Corruption, backup: Option<(PathBuf, u64)> },
    /// Written by a newer vapp, in a format version this one does not know.
    #[error("the state {path} was written by a newer vapp (state format version {version}; this vapp reads version {FORMAT_VERSION})")]
    Newer { path: PathBuf, version: u64 },
    #[error("cannot write the state {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot encode the state {path}")]
    Encode {
        path: PathBuf,
        #[source]
        source: EncodeError,
    },
    #[error("the private keys in {path} are encrypted")]
    NeedsPassphrase { path: PathBuf },
    #[error("the passphrase does not open {path}; nothing was changed")]
    WrongPassphrase { path: PathBuf },
}

impl StateError {
    /// What to do about it, for the command edge to print as `= help:`.
    pub fn help(&self) -> Option<String> {
        match self {
            StateError::Corrupt { path, backup: Some((backup, serial)), .. } => Some(format!(
                "the newest good backup is {} (serial {serial}); to restore it:\n      cp {} {}",
                backup.display(),
                backup.display(),
                path.display()
            )),
            StateError::Corrupt { backup: None, .. } => Some("no good backup was found beside it".into()),
            StateError::Newer { .. } => {
                Some("use the vapp that wrote it (or a newer one); do not restore an older backup over it".into())
            }
            StateError::NeedsPassphrase { .. } => {
                Some("set VAPP_STATE_PASSPHRASE or pass --passphrase-file FILE".into())
            }
            _ => None,
        }
    }
}

/// Why a state file cannot be trusted. Never holds a value from the file: a state holds private keys.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Corruption {
    #[error("it is not JSON ({problem} at line {line}, column {column})")]
    NotJson { problem: &'static str, line: usize, column: usize },
    #[error("it is not a vapp state file (format `{format}`)")]
    Foreign { format: String },
    #[error("it has no checksum: vapp did not write it, or it was edited by hand")]
    NoChecksum,
    #[error("its checksum does not match its content (the file was changed or damaged)")]
    Checksum,
    #[error("its encryption settings are damaged")]
    Encryption,
    #[error("an encrypted key is damaged")]
    SealedKey,
    /// A field of the wrong shape: where, and what it should be (never the value found).
    #[error("`{path}` {problem}")]
    Shape { path: String, problem: String },
}

/// Why a state could not be written out.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("the state is encrypted but no passphrase opened it")]
    NoSealer,
}

/// Where the backups of the state at `path` live: `.vapp/backups/` beside it.
pub fn backup_dir(path: &Path) -> PathBuf {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    dir.join(".vapp").join("backups")
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "vapp.state.json".into())
}

/// Loads the state at `path`; `None` when there is no file yet. A damaged or foreign file is refused,
/// naming the newest backup that is good. With `passphrase`, encrypted keys are opened; without, they
/// stay sealed.
pub fn load_with(path: &Path, passphrase: Option<&str>) -> Result<Option<State>, StateError> {
    let bytes = match fsutil::read_bounded(path, MAX_STATE_BYTES, "a state") {
        Ok(bytes) => bytes,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(ReadError::Io(source)) => return Err(StateError::Read { path: path.to_path_buf(), source }),
        Err(other) => {
            let source = std::io::Error::new(std::io::ErrorKind::InvalidData, other);
            return Err(StateError::Read { path: path.to_path_buf(), source });
        }
    };
    codec::decode(&bytes, passphrase).map(Some).map_err(|e| match e {
        DecodeError::WrongPassphrase => StateError::WrongPassphrase { path: path.to_path_buf() },
        DecodeError::Newer { version } => StateError::Newer { path: path.to_path_buf(), version },
        DecodeError::Corrupt(reason) => {
            StateError::Corrupt { path: path.to_path_buf(), reason, backup: newest_good_backup(path, passphrase) }
        }
    })
}

/// Loads a state (see [`load_with`]), its keys sealed if it is encrypted.
pub fn load(path: &Path) -> Result<Option<State>, StateError> {
    load_with(path, None)
}

/// The backups of `path`, newest first.
fn backups(path: &Path) -> Vec<(PathBuf, u64)> {
    let prefix = format!("{}.", file_name(path));
    let mut found: Vec<(PathBuf, u64)> = fs_err::read_dir(backup_dir(path))
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let entry = e.ok()?;
            let serial = entry.file_name().to_str()?.strip_prefix(&prefix)?.parse().ok()?;
            Some((entry.path(), serial))
        })
        .collect();
    found.sort_by_key(|(_, serial)| std::cmp::Reverse(*serial));
    found
}

/// Removes every backup of the state at `path` (after encrypting: they hold plain keys); returns how many.
pub fn remove_backups(path: &Path) -> usize {
    backups(path).into_iter().filter(|(backup, _)| fs_err::remove_file(backup).is_ok()).count()
}

fn newest_good_backup(path: &Path, passphrase: Option<&str>) -> Option<(PathBuf, u64)> {
    backups(path).into_iter().find(|(backup, _)| {
        fsutil::read_bounded(backup, MAX_STATE_BYTES, "a state")
            .ok()
            .is_some_and(|b| !matches!(codec::decode(&b, passphrase), Err(DecodeError::Corrupt(_))))
    })
}

/// Replaces the state file with `bytes`: the current file is kept as a backup (by its serial), the new
/// one written atomically with mode 0600, and backups beyond [`BACKUPS_KEPT`] removed.
fn replace(path: &Path, bytes: &[u8], replaced_serial: Option<u64>) -> std::io::Result<()> {
    if let Some(serial) = replaced_serial.filter(|_| path.exists()) {
        let dir = backup_dir(path);
        fs_err::create_dir_all(&dir)?;
        let backup = dir.join(format!("{}.{serial}", file_name(path)));
        let _ = fs_err::remove_file(&backup);
        // A hard link costs no copy; where links are not possible, copy (the file is mode 0600 either way).
        if fs_err::hard_link(path, &backup).is_err() {
            fs_err::copy(path, &backup)?;
        }
    }
    fsutil::write_atomically(path, bytes, Mode::Private)?;
    for (old, _) in backups(path).into_iter().skip(BACKUPS_KEPT) {
        let _ = fs_err::remove_file(old);
    }
    Ok(())
}

/// Writes `state` to `path` as the next version: serial + 1, checksum, backup of the version replaced.
pub fn save(path: &Path, state: &mut State) -> Result<(), StateError> {
    let replaced = state.serial;
    state.serial += 1;
    let bytes = codec::encode(state).map_err(|source| StateError::Encode { path: path.to_path_buf(), source })?;
    replace(path, &bytes, Some(replaced)).map_err(|source| StateError::Write { path: path.to_path_buf(), source })
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
        let (bytes, generation, replaced) = {
            let mut pending = self.lock();
            let replaced = pending.state.serial;
            pending.state.serial += 1;
            let bytes = codec::encode(&pending.state)
                .map_err(|source| StateError::Encode { path: self.path.clone(), source })?;
            (bytes, pending.generation, replaced)
        };
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || replace(&path, &bytes, Some(replaced)))
            .await
            .map_err(|e| StateError::Write { path: self.path.clone(), source: std::io::Error::other(e) })?
            .map_err(|source| StateError::Write { path: self.path.clone(), source })?;
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
                                ..Default::default()
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
        let mut on_disk = load(&path).unwrap().unwrap();
        on_disk.checksum = None;
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
        std::fs::write(&path, "{\"format\": \"vapp-state\", \"version\": 1, \"lineage\": \"x\", \"serial\": 1}")
            .unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("it has no checksum"), "{err}");
        std::fs::write(&path, "{\"trunc").unwrap();
        assert!(matches!(load(&path), Err(StateError::Corrupt { .. })));
        assert!(load(&dir.path().join("none.json")).unwrap().is_none());
    }

    #[test]
    fn damage_is_caught_and_the_newest_good_backup_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vapp.state.json");
        let mut state = State::new("lin".into());
        for _ in 0..8 {
            save(&path, &mut state).unwrap();
        }
        assert_eq!(load(&path).unwrap().unwrap().serial, 8);
        let kept: Vec<u64> = backups(&path).into_iter().map(|(_, serial)| serial).collect();
        assert_eq!(kept, [7, 6, 5, 4, 3], "the last {BACKUPS_KEPT} versions");
        // A bit flipped by hand: the checksum catches it.
        let text = std::fs::read_to_string(&path).unwrap().replace("\"lin\"", "\"lim\"");
        std::fs::write(&path, text).unwrap();
        let err = load(&path).unwrap_err();
        assert!(
            matches!(&err, StateError::Corrupt { reason: Corruption::Checksum, backup: Some((_, 7)), .. }),
            "{err:?}"
        );
        let help = err.help().unwrap();
        assert!(help.contains("vapp.state.json.7 (serial 7)"), "{help}");
        assert!(help.contains("cp "), "{help}");
        // Truncated to nothing: refused too, never taken for "no state".
        std::fs::write(&path, "").unwrap();
        assert!(matches!(load(&path), Err(StateError::Corrupt { .. })));
    }
}
