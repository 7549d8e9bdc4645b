//! A state kept in memory: for tests of everything above the backends (and as the plainest statement
//! of what a backend promises). It can be told to fail writes, as a full disk would, and to fail
//! calls as a dropped connection does: before the call is carried out, or after (its answer lost).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::{Backend, BackendError, Held, LockError, LockInfo, OnBroken, Stored, Token, Version, VersionPlace};
use crate::state::location::StateLocation;

#[derive(Default)]
struct Inner {
    current: Option<(Vec<u8>, u64, u64)>,
    history: Vec<(Vec<u8>, u64)>,
    lock: Option<LockInfo>,
    version: u64,
}

pub struct MemoryBackend {
    inner: Arc<Mutex<Inner>>,
    /// Writes that still succeed before every later one fails; `usize::MAX` by default.
    writes_left: AtomicUsize,
    /// What happens to the next calls (reads and writes), in order.
    faults: Mutex<std::collections::VecDeque<Fault>>,
}

/// A dropped connection, as one call meets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// None: the call goes through and is answered (to space the faults out).
    Answered,
    /// The call fails before it is carried out.
    Dropped,
    /// The call is carried out, and its answer is lost.
    AnswerLost,
    /// The call hangs this long (on tokio's clock), then fails before it is carried out.
    Hangs(Duration),
}

fn dropped() -> BackendError {
    BackendError::Unavailable { what: "the connection dropped".into(), source: None }
}

impl MemoryBackend {
    pub fn new() -> Self {
        MemoryBackend { inner: Arc::default(), writes_left: AtomicUsize::new(usize::MAX), faults: Mutex::default() }
    }

    /// The next call (read or write) meets `fault`, after the faults already queued.
    pub fn fault_next(&self, fault: Fault) {
        self.faults.lock().unwrap_or_else(|p| p.into_inner()).push_back(fault);
    }

    fn next_fault(&self) -> Option<Fault> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner()).pop_front()
    }

    /// Every version stored, oldest first, with its serial: the history and the current one.
    pub fn versions(&self) -> Vec<(u64, Vec<u8>)> {
        let inner = self.lock();
        let history = inner.history.iter().map(|(bytes, serial)| (*serial, bytes.clone()));
        history.chain(inner.current.iter().map(|(bytes, _, serial)| (*serial, bytes.clone()))).collect()
    }

    fn write_now(&self, bytes: &[u8], serial: u64, expected: Option<&Token>) -> Result<Token, BackendError> {
        let writes_left = self.writes_left.load(Ordering::SeqCst);
        if writes_left == 0 {
            return Err(BackendError::Io(std::io::Error::new(std::io::ErrorKind::StorageFull, "no space left")));
        }
        let mut inner = self.lock();
        let current = inner.current.as_ref().map(|(_, version, _)| Token(version.to_string()));
        if current.as_ref() != expected {
            return Err(BackendError::Conflict);
        }
        self.writes_left.store(writes_left.saturating_sub(1), Ordering::SeqCst);
        inner.version += 1;
        let version = inner.version;
        if let Some((old, _, old_serial)) = inner.current.take() {
            inner.history.push((old, old_serial));
        }
        inner.current = Some((bytes.to_vec(), version, serial));
        Ok(Token(version.to_string()))
    }

    /// Makes every write after the next `count` fail.
    pub fn fail_writes_after(&self, count: usize) {
        self.writes_left.store(count, Ordering::SeqCst);
    }

    /// How many writes succeeded.
    pub fn writes(&self) -> u64 {
        self.lock().version
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for MemoryBackend {
    fn default() -> Self {
        Self::new()
    }
}

struct MemoryHeld(Arc<Mutex<Inner>>, String);

#[async_trait]
impl Held for MemoryHeld {
    async fn release(self: Box<Self>) {
        let mut inner = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if inner.lock.as_ref().is_some_and(|h| h.id == self.1) {
            inner.lock = None;
        }
    }
}

#[async_trait]
impl Backend for MemoryBackend {
    fn location(&self) -> &StateLocation {
        &StateLocation::Memory
    }

    async fn read(&self) -> Result<Option<Stored>, BackendError> {
        match self.next_fault() {
            Some(Fault::Dropped | Fault::AnswerLost) => return Err(dropped()),
            Some(Fault::Hangs(time)) => {
                tokio::time::sleep(time).await;
                return Err(dropped());
            }
            _ => {}
        }
        Ok(self.lock().current.as_ref().map(|(bytes, version, _)| Stored {
            bytes: bytes.clone(),
            token: Token(version.to_string()),
            written: None,
        }))
    }

    async fn write(&self, bytes: &[u8], serial: u64, expected: Option<&Token>) -> Result<Token, BackendError> {
        let fault = self.next_fault();
        if fault == Some(Fault::Dropped) {
            return Err(dropped());
        }
        let written = self.write_now(bytes, serial, expected)?;
        match fault {
            Some(Fault::AnswerLost) => Err(dropped()),
            _ => Ok(written),
        }
    }

    async fn lock(&self, holder: LockInfo, _: Duration, _: OnBroken<'_>) -> Result<Box<dyn Held>, LockError> {
        if matches!(self.next_fault(), Some(Fault::Dropped)) {
            return Err(LockError::Backend(dropped()));
        }
        let mut inner = self.lock();
        if let Some(other) = &inner.lock {
            return Err(LockError::Held { holder: Box::new(other.clone()) });
        }
        let id = holder.id.clone();
        inner.lock = Some(holder);
        Ok(Box::new(MemoryHeld(self.inner.clone(), id)))
    }

    async fn unlock(&self, force: bool) -> Result<Option<LockInfo>, LockError> {
        let mut inner = self.lock();
        // Every holder of a lock in memory lives in this process: none is ever known to be gone.
        match (&inner.lock, force) {
            (Some(holder), false) => Err(LockError::Held { holder: Box::new(holder.clone()) }),
            _ => Ok(inner.lock.take()),
        }
    }

    async fn history(&self) -> Result<Vec<Version>, BackendError> {
        Ok(self
            .lock()
            .history
            .iter()
            .rev()
            .map(|(bytes, serial)| Version {
                serial: *serial,
                written: None,
                size: bytes.len() as u64,
                location: VersionPlace::Remote(format!("memory (serial {})", serial)),
            })
            .collect())
    }

    async fn version(&self, serial: u64) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self.lock().history.iter().find(|(_, s)| *s == serial).map(|(bytes, _)| bytes.clone()))
    }

    async fn forget_history(&self) -> Result<usize, BackendError> {
        let mut inner = self.lock();
        let count = inner.history.len();
        inner.history.clear();
        Ok(count)
    }
}
