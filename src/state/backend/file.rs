//! The state in a file on the local file system: replaced atomically (temp file, fsync, rename, fsync
//! of the directory), mode 0600; the last [`BACKUPS_KEPT`] versions in `.vapp/backups/` beside it; the
//! lock in `<state>.lock` beside it.
//!
//! The version token is the SHA-256 of the file's bytes: a write first reads what is there and
//! refuses to replace anything but the version it was based on.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;

use super::file_lock::{self, StateLock};
use super::{Backend, BackendError, Held, LockError, LockInfo, OnBroken, Stored, Token, Version, VersionPlace};
use crate::fsutil::{self, Mode, ReadError};
use crate::state::codec::{sha256_hex, MAX_STATE_BYTES};
use crate::state::location::StateLocation;

/// How often a waiting writer tries the lock again.
const LOCK_POLL: Duration = Duration::from_millis(100);

/// How many earlier versions of a state file are kept.
pub const BACKUPS_KEPT: usize = 5;

pub struct FileBackend {
    path: PathBuf,
    location: StateLocation,
}

impl FileBackend {
    pub fn new(path: PathBuf) -> Self {
        let location = StateLocation::File(path.clone());
        FileBackend { path, location }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Where the backups of the state at `path` live: `.vapp/backups/` beside it.
pub fn backup_dir(path: &Path) -> PathBuf {
    vapp_dir_beside(path).join("backups")
}

/// The `.vapp/` directory beside a file: the file's own directory when that is a `.vapp/` already
/// (as the sandbox's state is).
pub fn vapp_dir_beside(path: &Path) -> PathBuf {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    match dir.file_name() {
        Some(name) if name == ".vapp" => dir.to_path_buf(),
        _ => dir.join(".vapp"),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "vapp.state.json".into())
}

fn token_of(bytes: &[u8]) -> Token {
    Token(format!("sha256:{}", sha256_hex(bytes)))
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

fn read_file(path: &Path) -> Result<Option<Vec<u8>>, BackendError> {
    match fsutil::read_bounded(path, MAX_STATE_BYTES, "a state") {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(ReadError::Io(e)) => Err(BackendError::Io(e)),
        Err(ReadError::TooLarge { limit, .. }) => Err(BackendError::TooLarge { limit }),
        Err(other @ ReadError::NotAFile { .. }) => {
            Err(BackendError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, other)))
        }
    }
}

/// Replaces the state file with `bytes` if it still holds the version `expected`: the current file
/// is kept as a backup (by the serial it held), the new one written atomically with mode 0600, and
/// backups beyond [`BACKUPS_KEPT`] removed, whether the write succeeded or not.
fn replace(path: &Path, bytes: &[u8], serial: u64, expected: Option<&Token>) -> Result<Token, BackendError> {
    let current = read_file(path)?;
    if current.as_deref().map(token_of).as_ref() != expected {
        return Err(BackendError::Conflict);
    }
    let result = (|| {
        if current.is_some() {
            let dir = backup_dir(path);
            fs_err::create_dir_all(&dir)?;
            let backup = dir.join(format!("{}.{}", file_name(path), serial.saturating_sub(1)));
            let _ = fs_err::remove_file(&backup);
            // A hard link costs no copy; where links are not possible, copy (the file is mode 0600 either way).
            if fs_err::hard_link(path, &backup).is_err() {
                fs_err::copy(path, &backup)?;
            }
        }
        fsutil::write_atomically(path, bytes, Mode::Private)
    })();
    for (old, _) in backups(path).into_iter().skip(BACKUPS_KEPT) {
        let _ = fs_err::remove_file(old);
    }
    result?;
    Ok(token_of(bytes))
}

struct FileLockHeld(StateLock);

#[async_trait]
impl Held for FileLockHeld {
    async fn release(self: Box<Self>) {
        drop(self.0);
    }
}

#[async_trait]
impl Backend for FileBackend {
    fn location(&self) -> &StateLocation {
        &self.location
    }

    async fn read(&self) -> Result<Option<Stored>, BackendError> {
        let path = self.path.clone();
        let bytes = tokio::task::spawn_blocking(move || read_file(&path)).await.map_err(std::io::Error::other)??;
        Ok(bytes.map(|bytes| Stored { token: token_of(&bytes), bytes, written: None }))
    }

    async fn write(&self, bytes: &[u8], serial: u64, expected: Option<&Token>) -> Result<Token, BackendError> {
        let (path, bytes, expected) = (self.path.clone(), bytes.to_vec(), expected.cloned());
        tokio::task::spawn_blocking(move || replace(&path, &bytes, serial, expected.as_ref()))
            .await
            .map_err(std::io::Error::other)?
    }

    async fn lock(
        &self,
        holder: LockInfo,
        timeout: Duration,
        on_broken: OnBroken<'_>,
    ) -> Result<Box<dyn Held>, LockError> {
        // Each try is a few quick file operations; the waits between them are the runtime's.
        let deadline = tokio::time::Instant::now().checked_add(timeout);
        loop {
            match file_lock::acquire(&self.path, holder.clone(), Duration::ZERO, on_broken) {
                Ok(lock) => return Ok(Box::new(FileLockHeld(lock))),
                Err(LockError::Held { .. }) if deadline.is_none_or(|d| tokio::time::Instant::now() < d) => {
                    tokio::time::sleep(LOCK_POLL).await
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn unlock(&self, force: bool) -> Result<Option<LockInfo>, LockError> {
        file_lock::unlock(&self.path, force)
    }

    async fn history(&self) -> Result<Vec<Version>, BackendError> {
        Ok(backups(&self.path)
            .into_iter()
            .map(|(path, serial)| {
                let metadata = fs_err::metadata(&path).ok();
                Version {
                    serial,
                    written: metadata
                        .as_ref()
                        .and_then(|m| m.modified().ok())
                        .map(|t| humantime::format_rfc3339_seconds(t).to_string()),
                    size: metadata.map(|m| m.len()).unwrap_or(0),
                    location: VersionPlace::File(path.clone()),
                }
            })
            .collect())
    }

    async fn version(&self, serial: u64) -> Result<Option<Vec<u8>>, BackendError> {
        match backups(&self.path).into_iter().find(|(_, s)| *s == serial) {
            Some((path, _)) => read_file(&path),
            None => Ok(None),
        }
    }

    async fn forget_history(&self) -> Result<usize, BackendError> {
        Ok(backups(&self.path).into_iter().filter(|(backup, _)| fs_err::remove_file(backup).is_ok()).count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_replace_only_the_version_read_and_keep_backups() {
        let dir = tempfile::tempdir().unwrap();
        let backend = FileBackend::new(dir.path().join("vapp.state.json"));
        assert!(backend.read().await.unwrap().is_none());
        let mut token = backend.write(b"one", 1, None).await.unwrap();
        assert!(matches!(backend.write(b"two", 2, None).await, Err(BackendError::Conflict)), "not over a state");
        for serial in 2..=8 {
            token = backend.write(format!("v{serial}").as_bytes(), serial, Some(&token)).await.unwrap();
        }
        let stale = token_of(b"v7");
        assert!(matches!(backend.write(b"x", 9, Some(&stale)).await, Err(BackendError::Conflict)));
        let read = backend.read().await.unwrap().unwrap();
        assert_eq!((read.bytes.as_slice(), &read.token), (&b"v8"[..], &token));
        let kept: Vec<u64> = backend.history().await.unwrap().iter().map(|v| v.serial).collect();
        assert_eq!(kept, [7, 6, 5, 4, 3], "the last {BACKUPS_KEPT} versions");
        assert_eq!(backend.version(7).await.unwrap().as_deref(), Some(&b"v7"[..]));
    }
}
