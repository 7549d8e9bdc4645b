//! The layer every backend is used through: a connection that drops costs a retry, not a failed run,
//! and a write whose answer was lost is recognised as vapp's own rather than blamed on a writer who
//! does not exist.
//!
//! Every call is one of two kinds:
//! - idempotent (read, history, an earlier version, unlock, taking the lock): retried with backoff and
//!   jitter while its error is transient, within a bounded budget, each retry told to the observer;
//! - a write, whose outcome a transient error leaves unknown, and whose conditional form can answer
//!   "changed" to vapp's own write when an earlier try landed: both are resolved by reading back. The
//!   stored document exactly the one written (its bytes, so its lineage, serial and checksum): vapp's
//!   own write, done. The version the write was based on still in place: it did not land, and the same
//!   bytes are sent again (never other content under the same serial). Anything else: the state really
//!   changed, and the error says what was found.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use async_trait::async_trait;
use rand::Rng;

use super::{Backend, BackendError, Found, Held, LockError, LockInfo, OnBroken, Stored, Token, Version};
use crate::state::location::StateLocation;

/// The most tries of one call.
const MAX_ATTEMPTS: u32 = 8;
/// The most time spent retrying one call.
const BUDGET: Duration = Duration::from_secs(60);
const FIRST_DELAY: Duration = Duration::from_millis(200);
const MAX_DELAY: Duration = Duration::from_secs(5);

/// A retry about to be made, for whoever tells a person.
#[derive(Clone, Debug)]
pub struct BackendRetry {
    pub attempt: u32,
    pub delay: Duration,
    /// What failed, in words (never a password: locations are redacted).
    pub cause: String,
    /// The most time retries may take in all.
    pub budget: Duration,
}

pub type BackendObserver = Arc<dyn Fn(&BackendRetry) + Send + Sync>;

pub struct Resilient {
    inner: Arc<dyn Backend>,
    retrier: Retrier,
}

impl Resilient {
    pub fn new(inner: Arc<dyn Backend>, observer: Option<BackendObserver>) -> Self {
        Resilient { inner, retrier: Retrier { observer } }
    }
}

/// The retry policy: how long to wait before the next try, and who hears of it.
struct Retrier {
    observer: Option<BackendObserver>,
}

impl Retrier {
    /// The delay before try `attempt + 1`, when one is still allowed: exponential, with full jitter.
    fn delay(&self, attempt: u32, started: Instant, error: &str) -> Option<Duration> {
        if attempt >= MAX_ATTEMPTS || started.elapsed() >= BUDGET {
            return None;
        }
        let ceiling = FIRST_DELAY.saturating_mul(1 << attempt.min(16)).min(MAX_DELAY);
        let delay = rand::thread_rng().gen_range(ceiling / 2..=ceiling);
        if let Some(observer) = &self.observer {
            observer(&BackendRetry { attempt, delay, cause: error.to_string(), budget: BUDGET });
        }
        Some(delay)
    }

    /// Runs an idempotent call until it succeeds, fails for good, or the budget is spent.
    async fn idempotent<T, F, Fut>(&self, call: F) -> Result<T, BackendError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, BackendError>>,
    {
        self.retrying(call, |e| e.is_transient().then_some(e)).await
    }

    /// Runs an idempotent call until it succeeds, fails for good, or the budget is spent, whatever
    /// its error type: `transient` says which errors are worth another try (and the backend error
    /// that says why, for the observer). Times come from tokio's clock, so a paused clock reaches
    /// the budget.
    async fn retrying<T, E, F, Fut>(&self, mut call: F, transient: impl Fn(&E) -> Option<&BackendError>) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match call().await {
                Err(error) => error,
                done => return done,
            };
            let Some(cause) = transient(&error) else { return Err(error) };
            match self.delay(attempt, started, &crate::humanise::chain(cause)) {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(error),
            }
        }
    }
}

/// The backend error of a lock call that is worth another try.
fn transient_lock_error(error: &LockError) -> Option<&BackendError> {
    match error {
        LockError::Backend(e) if e.is_transient() => Some(e),
        _ => None,
    }
}

/// Opens a backend with `open`, trying again while it fails for a transient reason (a connection that
/// drops while the tables are checked costs a retry).
pub async fn retry_open<B, F, Fut>(observer: Option<&BackendObserver>, mut open: F) -> Result<B, BackendError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<B, BackendError>>,
{
    Retrier { observer: observer.cloned() }.idempotent(&mut open).await
}

/// What a conflicting stored state is, as an error says it: its serial, and when it was written.
fn found(stored: Option<&Stored>) -> Found {
    #[derive(serde::Deserialize)]
    struct Serial {
        serial: Option<u64>,
    }
    let serial = stored.and_then(|s| serde_json::from_slice::<Serial>(&s.bytes).ok()).and_then(|s| s.serial);
    Found { serial, written: stored.and_then(|s| s.written.clone()), gone: stored.is_none() }
}

#[async_trait]
impl Backend for Resilient {
    fn location(&self) -> &StateLocation {
        self.inner.location()
    }

    async fn read(&self) -> Result<Option<Stored>, BackendError> {
        self.retrier.idempotent(|| self.inner.read()).await
    }

    async fn write(&self, bytes: &[u8], serial: u64, expected: Option<&Token>) -> Result<Token, BackendError> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match self.inner.write(bytes, serial, expected).await {
                Ok(token) => return Ok(token),
                Err(e @ (BackendError::Conflict | BackendError::Unavailable { .. } | BackendError::Timeout { .. })) => {
                    e
                }
                Err(e) => return Err(e),
            };
            // The outcome is unknown, or a retry met our own earlier try: the stored state says which.
            let stored = self.read().await?;
            match &stored {
                Some(now) if now.bytes == bytes => return Ok(now.token.clone()),
                Some(now) if Some(&now.token) == expected && error.is_transient() => {}
                None if expected.is_none() && error.is_transient() => {}
                _ => return Err(BackendError::Changed(found(stored.as_ref()))),
            }
            match self.retrier.delay(attempt, started, &crate::humanise::chain(&error)) {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(error),
            }
        }
    }

    async fn lock(
        &self,
        holder: LockInfo,
        timeout: Duration,
        on_broken: OnBroken<'_>,
    ) -> Result<Box<dyn Held>, LockError> {
        self.retrier.retrying(|| self.inner.lock(holder.clone(), timeout, on_broken), transient_lock_error).await
    }

    async fn unlock(&self, force: bool) -> Result<Option<LockInfo>, LockError> {
        self.retrier.retrying(|| self.inner.unlock(force), transient_lock_error).await
    }

    async fn history(&self) -> Result<Vec<Version>, BackendError> {
        self.retrier.idempotent(|| self.inner.history()).await
    }

    async fn version(&self, serial: u64) -> Result<Option<Vec<u8>>, BackendError> {
        self.retrier.idempotent(|| self.inner.version(serial)).await
    }

    async fn forget_history(&self) -> Result<usize, BackendError> {
        self.retrier.idempotent(|| self.inner.forget_history()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::backend::{Fault, MemoryBackend};

    fn resilient(memory: &Arc<MemoryBackend>) -> (Resilient, Arc<std::sync::Mutex<Vec<u32>>>) {
        let told = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = told.clone();
        let observer: BackendObserver = Arc::new(move |retry: &BackendRetry| sink.lock().unwrap().push(retry.attempt));
        (Resilient::new(memory.clone(), Some(observer)), told)
    }

    #[tokio::test(start_paused = true)]
    async fn reads_are_retried_and_each_retry_is_told() {
        let memory = Arc::new(MemoryBackend::new());
        let (backend, told) = resilient(&memory);
        memory.write(b"{\"serial\":1}", 1, None).await.unwrap();
        memory.fault_next(Fault::Dropped);
        memory.fault_next(Fault::Dropped);
        assert_eq!(backend.read().await.unwrap().unwrap().bytes, b"{\"serial\":1}");
        assert_eq!(*told.lock().unwrap(), [1, 2]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_that_keeps_failing_gives_up_after_the_last_attempt() {
        let memory = Arc::new(MemoryBackend::new());
        let (backend, told) = resilient(&memory);
        for _ in 0..MAX_ATTEMPTS {
            memory.fault_next(Fault::Dropped);
        }
        assert!(backend.read().await.unwrap_err().is_transient());
        assert_eq!(told.lock().unwrap().len() as u32, MAX_ATTEMPTS - 1);
    }

    /// Calls that hang before failing spend the budget, measured on tokio's clock like the waits
    /// between them: on a paused clock a minute of hanging takes no time, and the retries stop there.
    #[tokio::test(start_paused = true)]
    async fn retries_stop_when_the_budget_is_spent() {
        let memory = Arc::new(MemoryBackend::new());
        let (backend, told) = resilient(&memory);
        for _ in 0..MAX_ATTEMPTS {
            memory.fault_next(Fault::Hangs(Duration::from_secs(25)));
        }
        let started = Instant::now();
        assert!(backend.read().await.unwrap_err().is_transient());
        let tries = told.lock().unwrap().len() + 1;
        assert!(tries < MAX_ATTEMPTS as usize, "stopped by the budget, not the attempts: {tries}");
        assert!(started.elapsed() >= BUDGET && started.elapsed() < BUDGET + Duration::from_secs(30));
    }

    /// Taking the lock is retried like any idempotent call, though its error type differs.
    #[tokio::test(start_paused = true)]
    async fn taking_the_lock_is_retried_through_a_dropped_connection() {
        let memory = Arc::new(MemoryBackend::new());
        let (backend, told) = resilient(&memory);
        memory.fault_next(Fault::Dropped);
        let held = backend.lock(LockInfo::mine("apply"), Duration::ZERO, &|_| {}).await.unwrap();
        assert_eq!(*told.lock().unwrap(), [1]);
        held.release().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_whose_answer_was_lost_is_recognised_as_our_own() {
        let memory = Arc::new(MemoryBackend::new());
        let (backend, _) = resilient(&memory);
        memory.fault_next(Fault::AnswerLost);
        let first = backend.write(b"{\"serial\":1}", 1, None).await.unwrap();
        memory.fault_next(Fault::AnswerLost);
        let second = backend.write(b"{\"serial\":2}", 2, Some(&first)).await.unwrap();
        assert_eq!(memory.read().await.unwrap().unwrap().token, second);
        assert_eq!(memory.versions(), [(1, b"{\"serial\":1}".to_vec()), (2, b"{\"serial\":2}".to_vec())]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_that_did_not_land_is_sent_again_with_the_same_bytes() {
        let memory = Arc::new(MemoryBackend::new());
        let (backend, told) = resilient(&memory);
        let first = backend.write(b"{\"serial\":1}", 1, None).await.unwrap();
        // The write never got through, and the read back met a dropped connection too.
        memory.fault_next(Fault::Dropped);
        memory.fault_next(Fault::Dropped);
        let second = backend.write(b"{\"serial\":2}", 2, Some(&first)).await.unwrap();
        memory.fault_next(Fault::Dropped);
        backend.write(b"{\"serial\":3}", 3, Some(&second)).await.unwrap();
        let serials: Vec<u64> = memory.versions().iter().map(|(serial, _)| *serial).collect();
        assert_eq!(serials, [1, 2, 3], "each version stored once");
        assert_eq!(told.lock().unwrap().len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn another_writers_state_is_a_conflict_that_says_what_was_found() {
        let memory = Arc::new(MemoryBackend::new());
        let (backend, _) = resilient(&memory);
        let first = backend.write(b"{\"serial\":1}", 1, None).await.unwrap();
        memory.write(b"{\"serial\":2,\"by\":\"them\"}", 2, Some(&first)).await.unwrap();
        match backend.write(b"{\"serial\":2,\"by\":\"us\"}", 2, Some(&first)).await {
            Err(BackendError::Changed(found)) => {
                assert_eq!(found, Found { serial: Some(2), written: None, gone: false });
                assert_eq!(found.to_string(), "it is at serial 2 now");
            }
            other => panic!("{other:?}"),
        }
        // Lost answer, then the state changed under us: not ours, and said so.
        memory.fault_next(Fault::Dropped);
        let refused = backend.write(b"{\"serial\":9}", 9, None).await.unwrap_err();
        assert!(matches!(refused, BackendError::Changed(Found { serial: Some(2), .. })), "{refused:?}");
    }
}
