//! The state lock: one writer at a time, and locks that do not outlive their process.
//!
//! The lock is a file beside the state (`<state>.lock`) created with `create_new`, so taking it is
//! atomic. It records who holds it, where, since when, for which operation and in which process. A lock
//! whose process is gone (same host, the pid no longer running, or running a different program since)
//! is broken automatically, with a warning; `vapp state unlock` removes it by hand, and `--force`
//! removes any lock after showing its holder.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{BackendError, LockError, LockInfo};

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct StateLock {
    path: PathBuf,
    id: String,
}

pub fn lock_path(state_path: &Path) -> PathBuf {
    let mut name = state_path.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "vapp.state.json".into());
    name.push(".lock");
    state_path.with_file_name(name)
}

/// Takes the lock for `mine`, waiting up to `timeout` for another holder to finish.
/// `on_broken` hears of a stale lock that was removed.
pub fn acquire(
    state_path: &Path,
    mine: LockInfo,
    timeout: Duration,
    on_broken: &dyn Fn(&LockInfo),
) -> Result<StateLock, LockError> {
    let path = lock_path(state_path);
    let io = |source: std::io::Error| LockError::Backend(BackendError::Io(source));
    // A wait too long to represent is a wait without end (the command line bounds it to a day).
    let deadline = Instant::now().checked_add(timeout);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs_err::create_dir_all(dir).map_err(io)?;
    }
    loop {
        match fs_err::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut file) => {
                let text = serde_json::to_vec_pretty(&mine).unwrap_or_default();
                file.write_all(&text).and_then(|()| file.sync_all()).map_err(io)?;
                return Ok(StateLock { path, id: mine.id });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = read(&path);
                match holder {
                    Some(holder) if holder_is_gone(&holder) => {
                        if break_stale(&path, &holder.id) {
                            on_broken(&holder);
                        }
                        continue;
                    }
                    // A lock file that is being written, or is unreadable: treat it as held.
                    _ => {}
                }
                let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                if left == Some(Duration::ZERO) {
                    let holder = read(&path).unwrap_or_else(LockInfo::unknown);
                    return Err(LockError::Held { holder: Box::new(holder) });
                }
                std::thread::sleep(Duration::from_millis(100).min(left.unwrap_or(Duration::MAX)));
            }
            Err(e) => return Err(io(e)),
        }
    }
}

/// Removes the lock: one whose process is gone, or with `force` any lock. Returns the holder removed,
/// or `None` when there was no lock.
pub fn unlock(state_path: &Path, force: bool) -> Result<Option<LockInfo>, LockError> {
    let path = lock_path(state_path);
    if !path.exists() {
        return Ok(None);
    }
    let holder = read(&path).unwrap_or_else(LockInfo::unknown);
    if !force && !holder_is_gone(&holder) {
        return Err(LockError::Held { holder: Box::new(holder) });
    }
    fs_err::remove_file(&path).map_err(|source| LockError::Backend(BackendError::Io(source)))?;
    Ok(Some(holder))
}

fn read(path: &Path) -> Option<LockInfo> {
    serde_json::from_slice(&crate::fsutil::read_bounded(path, 64 * 1024, "a lock file").ok()?).ok()
}

fn remove_if_held_by(path: &Path, id: &str) -> bool {
    read(path).is_some_and(|h| h.id == id) && fs_err::remove_file(path).is_ok()
}

/// Removes the lock at `path` if it is still the stale one `stale_id`. The file is first renamed aside
/// (atomic), so that two processes breaking the same stale lock cannot remove a lock that one of them
/// has just taken; a live lock moved aside by mistake is put back.
fn break_stale(path: &Path, stale_id: &str) -> bool {
    let aside = path.with_extension(format!("lock.stale-{}", uuid::Uuid::new_v4()));
    if fs_err::rename(path, &aside).is_err() {
        return false; // another process moved it first
    }
    let was_stale = read(&aside).is_some_and(|h| h.id == stale_id);
    if !was_stale {
        let _ = fs_err::hard_link(&aside, path);
    }
    let _ = fs_err::remove_file(&aside);
    was_stale
}

impl Drop for StateLock {
    fn drop(&mut self) {
        remove_if_held_by(&self.path, &self.id);
    }
}

/// Whether the holder's process certainly no longer runs: only decidable on this host.
fn holder_is_gone(holder: &LockInfo) -> bool {
    if holder.host != hostname() || holder.pid == 0 {
        return false;
    }
    if !Path::new("/proc/self").exists() {
        return false; // no way to tell here
    }
    match process_start(holder.pid) {
        None => true,
        Some(start) => holder.process_start.is_some_and(|recorded| recorded != start),
    }
}

pub(super) fn hostname() -> String {
    fs_err::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs_err::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// Field 22 of `/proc/PID/stat`: when the process started, in ticks since boot.
pub(super) fn process_start(pid: u32) -> Option<u64> {
    let stat = fs_err::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after its closing parenthesis are plain.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_with_the_holders_details() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("vapp.state.json");
        let first = acquire(&state, LockInfo::mine("apply"), Duration::ZERO, &|_| panic!("nothing to break")).unwrap();
        match acquire(&state, LockInfo::mine("destroy"), Duration::from_millis(150), &|_| {}) {
            Err(LockError::Held { holder, .. }) => {
                assert_eq!(holder.operation, "apply");
                assert_eq!(holder.pid, std::process::id());
            }
            other => panic!("expected a held lock, got {other:?}"),
        }
        drop(first);
        assert!(!lock_path(&state).exists());
        let _again = acquire(&state, LockInfo::mine("destroy"), Duration::ZERO, &|_| {}).unwrap();
    }

    #[test]
    fn a_lock_whose_process_is_gone_is_broken() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("vapp.state.json");
        let mut dead = LockInfo::unknown();
        dead.id = "old".into();
        dead.host = hostname();
        dead.pid = u32::MAX - 1; // no such process
        std::fs::write(lock_path(&state), serde_json::to_vec(&dead).unwrap()).unwrap();
        let broken = std::sync::Mutex::new(None);
        let _lock =
            acquire(&state, LockInfo::mine("apply"), Duration::ZERO, &|h| *broken.lock().unwrap() = Some(h.id.clone()))
                .unwrap();
        assert_eq!(broken.lock().unwrap().as_deref(), Some("old"));
    }

    #[test]
    fn unlock_needs_force_for_a_live_holder() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("vapp.state.json");
        let lock = acquire(&state, LockInfo::mine("apply"), Duration::ZERO, &|_| {}).unwrap();
        assert!(matches!(unlock(&state, false), Err(LockError::Held { .. })));
        assert_eq!(unlock(&state, true).unwrap().unwrap().operation, "apply");
        drop(lock);
        assert!(unlock(&state, false).unwrap().is_none());
    }
}
