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

/// A store error as a backend error: a connection that dropped or timed out, or a server error
/// (5xx, 429) that the store's own retries did not get past, is worth a retry of the whole call; a
/// refusal (a permission, a missing bucket) is not.
fn engine(what: impl Into<String>, source: object_store::Error) -> BackendError {
    match is_transient(&source) {
        true => BackendError::Unavailable { what: what.into(), source: Some(Box::new(source)) },
        false => BackendError::Engine { what: what.into(), source: Some(Box::new(source)) },
    }
}

fn is_transient(error: &object_store::Error) -> bool {
    let object_store::Error::Generic { source, .. } = error else { return false };
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
    while let Some(error) = cause {
        if error.downcast_ref::<object_store::client::HttpError>().is_some() {
            return true;
        }
        cause = error.source();
    }
    // object_store's own retry error is private; its words name the status.
    let shown = source.to_string();
    shown.contains("status code: 5") || shown.contains("status code: 429")
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

/// Renews the lease at a third of its length; stops (and marks the lock lost) when the lock object
/// is no longer the one it wrote. A renewal that failed is tried again soon, while the lease runs: a
/// renewal whose answer was lost is recognised by reading the lock back (it names our id).
async fn renew(
    store: Arc<AmazonS3>,
    lock_key: Path,
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
        let put = store.put_opts(&lock_key, PutPayload::from(bytes), PutMode::Update(version.clone()).into());
        wait = match tokio::time::timeout(CALL_TIMEOUT, put).await {
            Ok(Ok(result)) => {
                version = UpdateVersion { e_tag: result.e_tag, version: result.version };
                lease / 3
            }
            Ok(Err(object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. })) => {
                match read_own_lock(&store, &lock_key, &holder.id).await {
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
                let renewal = tokio::spawn(renew(
                    self.store.clone(),
                    self.lock_key.clone(),
                    holder.clone(),
                    version,
                    lost.clone(),
                    self.lease,
                ));
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
