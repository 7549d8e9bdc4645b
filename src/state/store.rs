//! Reading and writing the state file, with group commit for concurrent apply.
//!
//! Apply runs many actions at once and each must be on disk before it counts as done. [`StateStore::commit`]
//! changes the state in memory and returns once a write that includes the change has reached the disk;
//! changes made while a write is under way are written together by the next one, so a hundred
//! concurrent creates cost a handful of fsyncs, not two hundred.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::crypto::{CryptoError, Encryption, Sealer};
use super::{State, FORMAT, FORMAT_VERSION};
use crate::fsutil::{self, Mode};

/// How many earlier versions of a state file are kept.
pub const BACKUPS_KEPT: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read state {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{}", unreadable(path, message, backup.as_ref()))]
    Corrupt { path: PathBuf, message: String, backup: Option<(PathBuf, u64)> },
    #[error("cannot write state {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("the private keys in {path} are encrypted: set VAPP_STATE_PASSPHRASE or pass --passphrase-file FILE")]
    NeedsPassphrase { path: PathBuf },
    #[error("the passphrase does not open {path}; nothing was changed")]
    WrongPassphrase { path: PathBuf },
}

fn unreadable(path: &Path, message: &str, backup: Option<&(PathBuf, u64)>) -> String {
    let mut text =
        format!("state {} is unreadable: {message}\n  vapp will not start a new state over it.", path.display());
    match backup {
        Some((backup, serial)) => text.push_str(&format!(
            "\n  = help: the newest good backup is {} (serial {serial}); to restore it:\n      cp {} {}",
            backup.display(),
            backup.display(),
            path.display()
        )),
        None => text.push_str("\n  = help: no good backup was found beside it"),
    }
    text
}

/// Where the backups of the state at `path` live: `.vapp/backups/` beside it.
pub fn backup_dir(path: &Path) -> PathBuf {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    dir.join(".vapp").join("backups")
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "vapp.state.json".into())
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a state file could not be read.
enum ParseError {
    Corrupt(String),
    NeedsPassphrase,
    WrongPassphrase,
}

/// Calls `f` on every key record (`key` and `pending_key`) of every application in a state document.
fn each_key_record<F>(value: &mut Value, mut f: F) -> Result<(), String>
where
    F: FnMut(&mut Map<String, Value>) -> Result<(), String>,
{
    let Some(apps) = value.get_mut("applications").and_then(Value::as_object_mut) else { return Ok(()) };
    for entry in apps.values_mut() {
        for field in ["key", "pending_key"] {
            if let Some(record) = entry.get_mut(field).and_then(Value::as_object_mut) {
                f(record)?;
            }
        }
    }
    Ok(())
}

fn parse(path: &Path, bytes: &[u8], passphrase: Option<&str>) -> Result<State, ParseError> {
    let corrupt = |m: String| ParseError::Corrupt(m);
    let mut value: Value =
        serde_json::from_slice(bytes).map_err(|e| corrupt(format!("not a vapp state file ({e})")))?;
    let format = value.get("format").and_then(Value::as_str).unwrap_or_default().to_string();
    let version = value.get("version").and_then(Value::as_u64).unwrap_or_default();
    if format != FORMAT || version != u64::from(FORMAT_VERSION) {
        return Err(corrupt(format!(
            "format `{format}` version {version}; this vapp reads `{FORMAT}` version {FORMAT_VERSION}"
        )));
    }
    let Some(sum) = value.as_object_mut().and_then(|o| o.remove("checksum")) else {
        return Err(corrupt("it has no checksum: vapp did not write it, or it was edited by hand".into()));
    };
    let compact = serde_json::to_vec(&value).unwrap_or_default();
    if sum.as_str() != Some(sha256_hex(&compact).as_str()) {
        return Err(corrupt(format!(
            "its checksum does not match its content ({} was changed or damaged)",
            path.display()
        )));
    }
    let mut sealer = None;
    if let Some(settings) = value.get("encryption").cloned() {
        let settings: Encryption =
            serde_json::from_value(settings).map_err(|e| corrupt(format!("bad encryption settings ({e})")))?;
        let passphrase = passphrase.ok_or(ParseError::NeedsPassphrase)?;
        let opened = Sealer::open(passphrase, &settings).map_err(|e| match e {
            CryptoError::WrongPassphrase => ParseError::WrongPassphrase,
            other => corrupt(other.to_string()),
        })?;
        each_key_record(&mut value, |record| {
            if let Some(sealed) = record.remove("private_key_encrypted") {
                let plain = opened.unseal(sealed.as_str().unwrap_or_default()).map_err(|e| e.to_string())?;
                let pem = String::from_utf8(plain.to_vec()).map_err(|_| "an encrypted key is damaged".to_string())?;
                record.insert("private_key".into(), Value::String(pem));
            }
            Ok(())
        })
        .map_err(corrupt)?;
        sealer = Some(opened);
    }
    let mut state: State =
        serde_json::from_value(value).map_err(|e| corrupt(format!("not a vapp state file ({e})")))?;
    state.sealer = sealer;
    Ok(state)
}

/// Loads the state at `path`; `None` when there is no file yet. A damaged or foreign file is refused,
/// naming the newest backup that is good; encrypted keys need `passphrase`.
pub fn load_with(path: &Path, passphrase: Option<&str>) -> Result<Option<State>, StateError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StateError::Read { path: path.to_path_buf(), message: e.to_string() }),
    };
    parse(path, &bytes, passphrase).map(Some).map_err(|e| match e {
        ParseError::NeedsPassphrase => StateError::NeedsPassphrase { path: path.to_path_buf() },
        ParseError::WrongPassphrase => StateError::WrongPassphrase { path: path.to_path_buf() },
        ParseError::Corrupt(message) => {
            StateError::Corrupt { path: path.to_path_buf(), message, backup: newest_good_backup(path, passphrase) }
        }
    })
}

/// Loads a state whose keys are not encrypted (see [`load_with`]).
pub fn load(path: &Path) -> Result<Option<State>, StateError> {
    load_with(path, None)
}

/// The backups of `path`, newest first.
fn backups(path: &Path) -> Vec<(PathBuf, u64)> {
    let prefix = format!("{}.", file_name(path));
    let mut found: Vec<(PathBuf, u64)> = std::fs::read_dir(backup_dir(path))
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
    backups(path).into_iter().filter(|(backup, _)| std::fs::remove_file(backup).is_ok()).count()
}

fn newest_good_backup(path: &Path, passphrase: Option<&str>) -> Option<(PathBuf, u64)> {
    backups(path).into_iter().find(|(backup, _)| {
        std::fs::read(backup)
            .ok()
            .is_some_and(|b| !matches!(parse(backup, &b, passphrase), Err(ParseError::Corrupt(_))))
    })
}

/// Serialises `state` as it is kept on disk: private keys sealed when the state is encrypted, and a
/// checksum over the rest.
fn encode(state: &State) -> Result<Vec<u8>, String> {
    let mut value = serde_json::to_value(state).map_err(|e| e.to_string())?;
    if let Some(object) = value.as_object_mut() {
        object.remove("checksum");
    }
    if state.encryption.is_some() {
        let sealer = state.sealer.as_ref().ok_or("the state is encrypted but no passphrase opened it")?;
        each_key_record(&mut value, |record| {
            if let Some(pem) = record.remove("private_key") {
                let sealed = sealer.seal(pem.as_str().unwrap_or_default().as_bytes()).map_err(|e| e.to_string())?;
                record.insert("private_key_encrypted".into(), Value::String(sealed));
            }
            Ok(())
        })?;
    }
    let checksum = sha256_hex(&serde_json::to_vec(&value).map_err(|e| e.to_string())?);
    if let Some(object) = value.as_object_mut() {
        object.insert("checksum".into(), Value::String(checksum));
    }
    let mut bytes = serde_json::to_vec_pretty(&value).map_err(|e| e.to_string())?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Replaces the state file with `bytes`: the current file is kept as a backup (by its serial), the new
/// one written atomically with mode 0600, and backups beyond [`BACKUPS_KEPT`] removed.
fn replace(path: &Path, bytes: &[u8], replaced_serial: Option<u64>) -> std::io::Result<()> {
    if let Some(serial) = replaced_serial.filter(|_| path.exists()) {
        let dir = backup_dir(path);
        std::fs::create_dir_all(&dir)?;
        let backup = dir.join(format!("{}.{serial}", file_name(path)));
        let _ = std::fs::remove_file(&backup);
        // A hard link costs no copy; where links are not possible, copy (the file is mode 0600 either way).
        if std::fs::hard_link(path, &backup).is_err() {
            std::fs::copy(path, &backup)?;
        }
    }
    fsutil::write_atomically(path, bytes, Mode::Private)?;
    for (old, _) in backups(path).into_iter().skip(BACKUPS_KEPT) {
        let _ = std::fs::remove_file(old);
    }
    Ok(())
}

/// Writes `state` to `path` as the next version: serial + 1, checksum, backup of the version replaced.
pub fn save(path: &Path, state: &mut State) -> Result<(), StateError> {
    let replaced = state.serial;
    state.serial += 1;
    let bytes = encode(state).map_err(|message| StateError::Write { path: path.to_path_buf(), message })?;
    replace(path, &bytes, Some(replaced))
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
        let (bytes, generation, replaced) = {
            let mut pending = self.lock();
            let replaced = pending.state.serial;
            pending.state.serial += 1;
            let bytes = encode(&pending.state)
                .map_err(|e| StateError::Write { path: self.path.clone(), message: e.to_string() })?;
            (bytes, pending.generation, replaced)
        };
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || replace(&path, &bytes, Some(replaced)))
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
        let message = err.to_string();
        assert!(message.contains("checksum does not match"), "{message}");
        assert!(message.contains("vapp.state.json.7 (serial 7)"), "{message}");
        assert!(message.contains("cp "), "{message}");
        // Truncated to nothing: refused too, never taken for "no state".
        std::fs::write(&path, "").unwrap();
        assert!(matches!(load(&path), Err(StateError::Corrupt { .. })));
    }
}
