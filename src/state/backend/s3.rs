//! The state in S3 or an S3-compatible object store with conditional writes: the state object is
//! written with `If-Match` on the ETag it was read with (`If-None-Match: *` for the first), each
//! version also kept under `KEY.history/`, and the lock an object `KEY.lock` created with
//! `If-None-Match: *`, holding its holder's details and a lease the holder renews while it works.
//!
//! A lock whose lease ran out may be taken over (with a warning); a holder that lost its lease is
//! fenced by the state's own conditional write, which then fails. A create of the lock whose answer
//! was lost is resolved by reading the lock and recognising our id.
//!
//! On first use, vapp checks that the store honours conditional writes (it creates one probe object
//! twice) and refuses a store that does not: there the promises above would not hold.
//!
//! Credentials and region come from the standard AWS environment and credential chain;
//! `AWS_ENDPOINT_URL` and `AWS_ALLOW_HTTP=true` point it at an S3-compatible store.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutPayload, RetryConfig, UpdateVersion,
};

use super::{Backend, BackendError, Held, LockError, LockInfo, OnBroken, Stored, Token, Version, VersionPlace};
use crate::state::codec::MAX_STATE_BYTES;
use crate::state::location::{S3Object, StateLocation};

/// Versions kept under `KEY.history/`.
pub const VERSIONS_KEPT: usize = 25;
/// How long a lock lasts unless its holder renews it; it renews at a third of this.
pub const LEASE: Duration = Duration::from_secs(60);
/// The longest any one call may take, retries included.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
const LOCK_POLL: Duration = Duration::from_millis(500);
/// How many times releasing the lock is tried.
const RELEASE_TRIES: usize = 3;

pub struct S3Backend {
    store: Arc<AmazonS3>,
    bucket: String,
    key: Path,
    lock_key: Path,
    history: Path,
    location: StateLocation,
    lease: Duration,
}

/// A store error as a backend error: a [`Fault`] worth a retry of the whole call is `Unavailable`,
/// a refusal is `Engine`.
fn engine(what: impl Into<String>, source: object_store::Error) -> BackendError {
    match Fault::of(&source).is_transient() {
        true => BackendError::Unavailable { what: what.into(), source: Some(Box::new(source)) },
        false => BackendError::Engine { what: what.into(), source: Some(Box::new(source)) },
    }
}

/// What kind of fault an object store's error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// The connection: it could not be made, dropped, timed out or was cut mid-answer.
    Connection(object_store::client::HttpErrorKind),
    /// The server answered with this status, after the store's own retries.
    Status(u16),
    /// The store said no for a reason of its own (not found, a condition, a permission, a setting).
    Refused,
}

impl Fault {
    fn of(error: &object_store::Error) -> Fault {
        let object_store::Error::Generic { source, .. } = error else { return Fault::Refused };
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
        while let Some(error) = cause {
            if let Some(http) = error.downcast_ref::<object_store::client::HttpError>() {
                return Fault::Connection(http.kind());
            }
            cause = error.source();
        }
        // object_store keeps the type of its retry error private, but not its words: "… status
        // code: 503 …". Only the status is read from them.
        let shown = source.to_string();
        let status = shown.split("status code: ").nth(1).and_then(|rest| rest.get(..3)?.parse().ok());
        status.map_or(Fault::Refused, Fault::Status)
    }

    /// Whether another try of the whole call may get past it: a connection fault (but a body that
    /// cannot be decoded), a server error or too many requests.
    fn is_transient(self) -> bool {
        use object_store::client::HttpErrorKind;
        match self {
            Fault::Connection(kind) => !matches!(kind, HttpErrorKind::Decode | HttpErrorKind::Unknown),
            Fault::Status(status) => status >= 500 || status == 429,
            Fault::Refused => false,
        }
    }
}

async fn bounded<T>(
    what: &str,
    future: impl std::future::Future<Output = Result<T, object_store::Error>>,
) -> Result<Result<T, object_store::Error>, BackendError> {
    tokio::time::timeout(CALL_TIMEOUT, future)
        .await
        .map_err(|_| BackendError::Timeout { what: what.to_string(), after: CALL_TIMEOUT })
}

fn now_plus(lease: Duration) -> String {
    humantime::format_rfc3339_seconds(SystemTime::now() + lease).to_string()
}

fn lease_ran_out(holder: &LockInfo) -> bool {
    holder
        .lease_until
        .as_deref()
        .and_then(|until| humantime::parse_rfc3339_weak(until).ok())
        .is_some_and(|until| until < SystemTime::now())
}

impl S3Backend {
    /// Opens `s3://BUCKET/KEY` and checks that the store honours conditional writes.
    pub async fn open(object: &S3Object, env: &super::EngineEnv) -> Result<Self, BackendError> {
        let url = object.to_string();
        let invalid = |what: &str| BackendError::Engine { what: format!("{url} {what}"), source: None };
        let bucket = object.bucket.as_str();
        let key = Path::parse(&object.key).map_err(|_| invalid("names an object key vapp cannot use"))?;
        let allow_http = env.get("AWS_ALLOW_HTTP").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let options = ClientOptions::new()
            .with_allow_http(allow_http)
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(Duration::from_secs(15));
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(2),
                base: 2.0,
            },
            max_retries: 3,
            retry_timeout: Duration::from_secs(20),
        };
        // As `AmazonS3Builder::from_env` reads the process's environment, from `env`.
        let configured = env.iter().filter_map(|(name, value)| {
            let key: object_store::aws::AmazonS3ConfigKey = name.to_ascii_lowercase().parse().ok()?;
            Some((key, value))
        });
        let store = configured
            .fold(AmazonS3Builder::new(), |builder, (key, value)| builder.with_config(key, value))
            .with_bucket_name(bucket)
            .with_client_options(options)
            .with_retry(retry)
            .build()
            .map_err(|e| engine(format!("cannot use {url}"), e))?;
        let backend = S3Backend {
            store: Arc::new(store),
            bucket: bucket.to_string(),
            lock_key: Path::from(format!("{key}.lock")),
            history: Path::from(format!("{key}.history")),
            key,
            location: StateLocation::S3(object.clone()),
            lease: LEASE,
        };
        backend.check_conditional_writes().await?;
        Ok(backend)
    }

    /// The same backend with locks leased for `lease` rather than [`LEASE`] (tests that watch a
    /// renewal happen).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Creates one probe object twice: a store that lets the second create through would let two
    /// writers overwrite each other's state.
    async fn check_conditional_writes(&self) -> Result<(), BackendError> {
        let probe = Path::from(format!("{}.vapp-probe-{}", self.key, uuid::Uuid::new_v4()));
        let what = format!("checking {} for conditional writes", self.location);
        let put = || self.store.put_opts(&probe, PutPayload::from_static(b"probe"), PutMode::Create.into());
        match bounded(&what, put()).await? {
            // (Already there: our own create, its answer lost and the create retried.)
            Ok(_) | Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => {}
            Err(object_store::Error::NotFound { source, .. }) => {
                return Err(BackendError::Engine {
                    what: format!(
                        "the bucket of {} does not exist (or these credentials cannot see it)",
                        self.location
                    ),
                    source: Some(source),
                })
            }
            Err(e) => return Err(engine(format!("cannot write to {}", self.location), e)),
        }
        let second = bounded(&what, put()).await?;
        let _ = bounded(&what, self.store.delete(&probe)).await;
        match second {
            Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => Ok(()),
            Ok(_) => Err(BackendError::Engine {
                what: format!(
                    "{} does not honour conditional writes (a second `If-None-Match: *` create succeeded): two writers could overwrite each other's state, so vapp does not keep one there",
                    self.location
                ),
                source: None,
            }),
            Err(e) => Err(engine(format!("{} did not answer a conditional write as S3 does", self.location), e)),
        }
    }

    fn history_key(&self, serial: u64) -> Path {
        self.history.clone().join(format!("{serial:020}"))
    }

    async fn read_lock(&self) -> Result<Option<(LockInfo, object_store::UpdateVersion)>, BackendError> {
        let what = format!("reading the lock of {}", self.location);
        match bounded(&what, self.store.get(&self.lock_key)).await? {
            Ok(result) => {
                let version = UpdateVersion { e_tag: result.meta.e_tag.clone(), version: result.meta.version.clone() };
                let bytes = bounded(&what, result.bytes()).await?.map_err(|e| engine(what.clone(), e))?;
                let holder = serde_json::from_slice(&bytes).unwrap_or_else(|_| LockInfo::unknown());
                Ok(Some((holder, version)))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(engine(what, e)),
        }
    }
}

/// The lock object, renewed in the background until released.
struct S3Held {
    store: Arc<AmazonS3>,
    lock_key: Path,
    id: String,
    renewal: tokio::task::JoinHandle<()>,
    lost: Arc<AtomicBool>,
}

#[async_trait]
impl Held for S3Held {
    async fn release(self: Box<Self>) {
        self.renewal.abort();
        if self.lost.load(Ordering::SeqCst) {
            return;
        }
        // Only our own lock is removed (a holder that took over an expired lease keeps theirs). A
        // release that cannot get through leaves the lock to run out with its lease.
        for _ in 0..RELEASE_TRIES {
            match read_own_lock(self.store.as_ref(), &self.lock_key, &self.id).await {
                Ownership::Ours(_) => {
                    if let Ok(Ok(())) = tokio::time::timeout(CALL_TIMEOUT, self.store.delete(&self.lock_key)).await {
                        return;
                    }
                }
                Ownership::Theirs => return,
                Ownership::Unknown => continue,
            }
        }
    }
}

impl Drop for S3Held {
    fn drop(&mut self) {
        self.renewal.abort();
    }
}

/// The lock object as the renewal loop sees it: one conditional update, one read back. The store
/// in production; a scripted fake in the tests that run the loop on a paused clock.
#[async_trait]
trait LockObject: Send + Sync {
    /// Replaces the lock object with `bytes` if it is still at `version`; its new version.
    async fn update(&self, bytes: Vec<u8>, version: &UpdateVersion) -> Result<UpdateVersion, object_store::Error>;
    /// Whose the lock object is now.
    async fn ownership(&self, id: &str) -> Ownership;
}

/// The lock object in the bucket.
struct StoredLock {
    store: Arc<AmazonS3>,
    key: Path,
}

#[async_trait]
impl LockObject for StoredLock {
    async fn update(&self, bytes: Vec<u8>, version: &UpdateVersion) -> Result<UpdateVersion, object_store::Error> {
        let put = self.store.put_opts(&self.key, PutPayload::from(bytes), PutMode::Update(version.clone()).into());
        let result = put.await?;
        Ok(UpdateVersion { e_tag: result.e_tag, version: result.version })
    }

    async fn ownership(&self, id: &str) -> Ownership {
        read_own_lock(self.store.as_ref(), &self.key, id).await
    }
}

/// Renews the lease at a third of its length; stops (and marks the lock lost) when the lock object
/// is no longer the one it wrote. A renewal that failed is tried again soon, while the lease runs: a
/// renewal whose answer was lost is recognised by reading the lock back (it names our id). Every wait
/// is on tokio's clock.
async fn renew(
    object: Arc<dyn LockObject>,
    mut holder: LockInfo,
    mut version: UpdateVersion,
    lost: Arc<AtomicBool>,
    lease: Duration,
) {
    // A failed renewal is tried again this soon: many times before the lease runs out.
    let retry = lease / 20;
    let mut wait = lease / 3;
    loop {
        tokio::time::sleep(wait).await;
        holder.lease_until = Some(now_plus(lease));
        let Ok(bytes) = serde_json::to_vec(&holder) else { continue };
        wait = match tokio::time::timeout(CALL_TIMEOUT, object.update(bytes, &version)).await {
            Ok(Ok(renewed)) => {
                version = renewed;
                lease / 3
            }
            Ok(Err(object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. })) => {
                match object.ownership(&holder.id).await {
                    Ownership::Ours(current) => {
                        version = current;
                        lease / 3
                    }
                    Ownership::Theirs => {
                        lost.store(true, Ordering::SeqCst);
                        return;
                    }
                    Ownership::Unknown => retry,
                }
            }
            _ => retry,
        };
    }
}

/// Whose the lock object is, as far as one read can tell.
#[derive(Clone, Debug)]
enum Ownership {
    Ours(UpdateVersion),
    Theirs,
    Unknown,
}

async fn read_own_lock(store: &AmazonS3, lock_key: &Path, id: &str) -> Ownership {
    let result = match tokio::time::timeout(CALL_TIMEOUT, store.get(lock_key)).await {
        Ok(Ok(result)) => result,
        Ok(Err(object_store::Error::NotFound { .. })) => return Ownership::Theirs,
        _ => return Ownership::Unknown,
    };
    let version = UpdateVersion { e_tag: result.meta.e_tag.clone(), version: result.meta.version.clone() };
    match tokio::time::timeout(CALL_TIMEOUT, result.bytes()).await {
        Ok(Ok(bytes)) => match serde_json::from_slice::<LockInfo>(&bytes) {
            Ok(holder) if holder.id == id => Ownership::Ours(version),
            _ => Ownership::Theirs,
        },
        _ => Ownership::Unknown,
    }
}

#[async_trait]
impl Backend for S3Backend {
    fn location(&self) -> &StateLocation {
        &self.location
    }

    async fn read(&self) -> Result<Option<Stored>, BackendError> {
        let what = format!("reading the state from {}", self.location);
        match bounded(&what, self.store.get(&self.key)).await? {
            Ok(result) => {
                if result.meta.size > MAX_STATE_BYTES {
                    return Err(BackendError::TooLarge { limit: MAX_STATE_BYTES });
                }
                let e_tag = result.meta.e_tag.clone().unwrap_or_default();
                let written = humantime::format_rfc3339_seconds(result.meta.last_modified.into()).to_string();
                let bytes = bounded(&what, result.bytes()).await?.map_err(|e| engine(what.clone(), e))?;
                Ok(Some(Stored { bytes: bytes.to_vec(), token: Token(e_tag), written: Some(written) }))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(engine(what, e)),
        }
    }

    async fn write(&self, bytes: &[u8], serial: u64, expected: Option<&Token>) -> Result<Token, BackendError> {
        let what = format!("writing the state to {}", self.location);
        let mode = match expected {
            None => PutMode::Create,
            Some(Token(e_tag)) => PutMode::Update(UpdateVersion { e_tag: Some(e_tag.clone()), version: None }),
        };
        let payload = PutPayload::from(bytes.to_vec());
        let written = match bounded(&what, self.store.put_opts(&self.key, payload, mode.into())).await? {
            Ok(result) => result,
            Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => {
                return Err(BackendError::Conflict)
            }
            Err(e) => return Err(engine(what, e)),
        };
        // Each version is kept under the history prefix too; the state is written either way, and a
        // history copy that failed costs only that copy.
        let history_key = self.history_key(serial);
        let _ =
            tokio::time::timeout(CALL_TIMEOUT, self.store.put(&history_key, PutPayload::from(bytes.to_vec()))).await;
        if let Ok(versions) = self.history().await {
            for old in versions.iter().skip(VERSIONS_KEPT) {
                let _ = tokio::time::timeout(CALL_TIMEOUT, self.store.delete(&self.history_key(old.serial))).await;
            }
        }
        Ok(Token(written.e_tag.unwrap_or_default()))
    }

    async fn lock(
        &self,
        mut holder: LockInfo,
        timeout: Duration,
        on_broken: OnBroken<'_>,
    ) -> Result<Box<dyn Held>, LockError> {
        let what = format!("taking the lock of {}", self.location);
        let deadline = tokio::time::Instant::now().checked_add(timeout);
        loop {
            holder.lease_until = Some(now_plus(self.lease));
            let bytes = serde_json::to_vec(&holder).map_err(|e| BackendError::Io(e.into()))?;
            let created = bounded(
                &what,
                self.store.put_opts(&self.lock_key, PutPayload::from(bytes.clone()), PutMode::Create.into()),
            )
            .await?;
            let taken = match created {
                Ok(result) => Some(UpdateVersion { e_tag: result.e_tag, version: result.version }),
                Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => {
                    match self.read_lock().await? {
                        // Our own create, whose answer was lost on the way.
                        Some((other, version)) if other.id == holder.id => Some(version),
                        Some((other, version)) if lease_ran_out(&other) => {
                            let take_over = PutMode::Update(version).into();
                            match bounded(
                                &what,
                                self.store.put_opts(&self.lock_key, PutPayload::from(bytes), take_over),
                            )
                            .await?
                            {
                                Ok(result) => {
                                    on_broken(&other);
                                    Some(UpdateVersion { e_tag: result.e_tag, version: result.version })
                                }
                                // Someone else took it over first.
                                Err(_) => None,
                            }
                        }
                        Some((other, _)) => {
                            if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                                return Err(LockError::Held { holder: Box::new(other) });
                            }
                            None
                        }
                        None => None, // released meanwhile: try again
                    }
                }
                Err(e) => {
                    // The answer may have been lost after the create happened: is the lock ours? (If
                    // not, the create is tried again by `Resilient` when the error was transient.)
                    match self.read_lock().await? {
                        Some((other, version)) if other.id == holder.id => Some(version),
                        _ => return Err(LockError::Backend(engine(what, e))),
                    }
                }
            };
            if let Some(version) = taken {
                let lost = Arc::new(AtomicBool::new(false));
                let object = Arc::new(StoredLock { store: self.store.clone(), key: self.lock_key.clone() });
                let renewal = tokio::spawn(renew(object, holder.clone(), version, lost.clone(), self.lease));
                return Ok(Box::new(S3Held {
                    store: self.store.clone(),
                    lock_key: self.lock_key.clone(),
                    id: holder.id,
                    renewal,
                    lost,
                }));
            }
            tokio::time::sleep(LOCK_POLL).await;
        }
    }

    async fn unlock(&self, force: bool) -> Result<Option<LockInfo>, LockError> {
        let Some((holder, _)) = self.read_lock().await? else { return Ok(None) };
        if !force && !lease_ran_out(&holder) {
            return Err(LockError::Held { holder: Box::new(holder) });
        }
        let what = format!("removing the lock of {}", self.location);
        bounded(&what, self.store.delete(&self.lock_key)).await?.map_err(|e| LockError::Backend(engine(what, e)))?;
        Ok(Some(holder))
    }

    async fn history(&self) -> Result<Vec<Version>, BackendError> {
        let what = format!("listing the state's history at {}", self.location);
        let listed: Vec<object_store::ObjectMeta> = bounded(&what, self.store.list(Some(&self.history)).try_collect())
            .await?
            .map_err(|e| engine(what.clone(), e))?;
        let mut versions: Vec<Version> = listed
            .into_iter()
            .filter_map(|meta| {
                let serial = meta.location.filename()?.parse().ok()?;
                Some(Version {
                    serial,
                    written: Some(humantime::format_rfc3339_seconds(meta.last_modified.into()).to_string()),
                    size: meta.size,
                    location: VersionPlace::Remote(format!("s3://{}/{}", self.bucket, meta.location)),
                })
            })
            .collect();
        versions.sort_by_key(|v| std::cmp::Reverse(v.serial));
        Ok(versions)
    }

    async fn version(&self, serial: u64) -> Result<Option<Vec<u8>>, BackendError> {
        let what = format!("reading an earlier state from {}", self.location);
        match bounded(&what, self.store.get(&self.history_key(serial))).await? {
            Ok(result) => {
                Ok(Some(bounded(&what, result.bytes()).await?.map_err(|e| engine(what.clone(), e))?.to_vec()))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(engine(what, e)),
        }
    }

    async fn forget_history(&self) -> Result<usize, BackendError> {
        let mut removed = 0;
        for version in self.history().await? {
            let what = format!("removing an earlier state from {}", self.location);
            bounded(&what, self.store.delete(&self.history_key(version.serial))).await?.map_err(|e| engine(what, e))?;
            removed += 1;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use async_trait::async_trait;
    use object_store::client::{HttpError, HttpErrorKind};
    use object_store::UpdateVersion;
    use tokio::time::Instant;

    use super::{renew, Fault, LockObject, Ownership};
    use crate::state::backend::LockInfo;

    /// What the fake lock object does with each update, in turn; then it succeeds.
    enum Next {
        /// The request never gets through.
        Drop,
        /// It lands, but its answer is lost (the store retries it and meets its own write).
        LoseAnswer,
        /// Another holder took the lock meanwhile.
        TakenOver,
    }

    #[derive(Default)]
    struct ScriptedLock {
        script: Mutex<VecDeque<Next>>,
        /// The version the object is at, and when each update landed.
        at: Mutex<u32>,
        landed: Mutex<Vec<Instant>>,
        theirs: AtomicBool,
    }

    fn version(n: u32) -> UpdateVersion {
        UpdateVersion { e_tag: Some(format!("v{n}")), version: None }
    }

    #[async_trait]
    impl LockObject for ScriptedLock {
        async fn update(&self, _: Vec<u8>, expected: &UpdateVersion) -> Result<UpdateVersion, object_store::Error> {
            let next = self.script.lock().unwrap().pop_front();
            let mut at = self.at.lock().unwrap();
            if version(*at) != *expected || self.theirs.load(Ordering::SeqCst) {
                return Err(object_store::Error::Precondition { path: "lock".into(), source: "changed".into() });
            }
            match next {
                Some(Next::Drop) => {
                    Err(object_store::Error::Generic { store: "S3", source: Box::new(std::io::Error::other("reset")) })
                }
                Some(Next::LoseAnswer) => {
                    *at += 1;
                    self.landed.lock().unwrap().push(Instant::now());
                    Err(object_store::Error::Precondition { path: "lock".into(), source: "our own".into() })
                }
                Some(Next::TakenOver) => {
                    self.theirs.store(true, Ordering::SeqCst);
                    Err(object_store::Error::Precondition { path: "lock".into(), source: "theirs".into() })
                }
                None => {
                    *at += 1;
                    self.landed.lock().unwrap().push(Instant::now());
                    Ok(version(*at))
                }
            }
        }

        async fn ownership(&self, _: &str) -> Ownership {
            match self.theirs.load(Ordering::SeqCst) {
                true => Ownership::Theirs,
                false => Ownership::Ours(version(*self.at.lock().unwrap())),
            }
        }
    }

    /// Failed renewals are tried again well within the lease, a lost answer is recognised as ours,
    /// and the lease never runs out: on a paused clock, so minutes of leases take no time.
    #[tokio::test(start_paused = true)]
    async fn a_lease_survives_failed_renewals_on_a_paused_clock() {
        let lease = Duration::from_secs(30);
        let script = [Next::Drop, Next::Drop, Next::Drop, Next::Drop, Next::LoseAnswer];
        let object = Arc::new(ScriptedLock { script: Mutex::new(script.into()), ..Default::default() });
        let lost = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let renewal = tokio::spawn(renew(object.clone(), LockInfo::mine("apply"), version(0), lost.clone(), lease));
        tokio::time::sleep(lease * 4).await;
        renewal.abort();
        assert!(!lost.load(Ordering::SeqCst), "the lock was never lost");
        let landed = object.landed.lock().unwrap().clone();
        assert!(landed.len() >= 8, "renewed all along: {landed:?}");
        let mut last = started;
        for at in landed {
            assert!(at - last < lease, "a renewal landed {:?} after the one before: the lease ran out", at - last);
            last = at;
        }
    }

    /// A lock taken over by another holder is marked lost, and the renewals stop.
    #[tokio::test(start_paused = true)]
    async fn a_lock_taken_over_is_lost_and_no_longer_renewed() {
        let lease = Duration::from_secs(30);
        let object = Arc::new(ScriptedLock { script: Mutex::new([Next::TakenOver].into()), ..Default::default() });
        let lost = Arc::new(AtomicBool::new(false));
        let renewal = tokio::spawn(renew(object.clone(), LockInfo::mine("apply"), version(0), lost.clone(), lease));
        tokio::time::sleep(lease).await;
        assert!(lost.load(Ordering::SeqCst));
        assert!(renewal.is_finished(), "the loop ended");
        assert!(object.landed.lock().unwrap().is_empty());
    }

    fn generic(source: impl std::error::Error + Send + Sync + 'static) -> object_store::Error {
        object_store::Error::Generic { store: "S3", source: Box::new(source) }
    }

    #[test]
    fn faults_are_told_apart_by_kind() {
        let dropped = generic(HttpError::new(HttpErrorKind::Interrupted, std::io::Error::other("reset")));
        assert_eq!(Fault::of(&dropped), Fault::Connection(HttpErrorKind::Interrupted));
        assert!(Fault::of(&dropped).is_transient());
        let garbled = generic(HttpError::new(HttpErrorKind::Decode, std::io::Error::other("bad body")));
        assert!(!Fault::of(&garbled).is_transient());
        let busy = generic(std::io::Error::other(
            "Error performing PUT in 1s - Server returned non-2xx status code: 503 Service Unavailable: ",
        ));
        assert_eq!(Fault::of(&busy), Fault::Status(503));
        assert!(Fault::of(&busy).is_transient());
        let slow_down = generic(std::io::Error::other("Server returned non-2xx status code: 429 Too Many Requests"));
        assert!(Fault::of(&slow_down).is_transient());
        let bad = generic(std::io::Error::other("Server returned non-2xx status code: 400 Bad Request"));
        assert!(!Fault::of(&bad).is_transient());
        let missing = object_store::Error::NotFound { path: "k".into(), source: Box::new(std::io::Error::other("x")) };
        assert_eq!(Fault::of(&missing), Fault::Refused);
    }
}
