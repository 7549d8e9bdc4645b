//! A local Vonage Application API v2: the `vapp emulator` command and the engine of `--sandbox`.
//!
//! It reproduces what clients of the real service can observe: the five endpoints, Basic auth, HAL
//! pagination with `next` only while more pages exist, the documented defaults filled into every answer,
//! key pairs made when a create sends no public key, full-replacement PUT, and problem+json errors with
//! the real types, titles and dotted `invalid_parameters`. It is a product feature (users run it in
//! their CI) and the only API that vapp's tests talk to.
//!
//! Faults for drills: latency, 5xx at a rate, a token-bucket rate limit answering 429 with
//! `Retry-After`, and dropped answers (the change is committed, then the connection is closed without
//! a reply). A fault seed makes a run reproducible.

mod account;
mod gate;
mod numbers;
mod problems;
mod routes;
mod seed;
mod simulate;
mod store;
mod subaccounts;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tower::ServiceExt;

pub use account::{answer_only_fields, invalid_parameters, InProcess};
pub use gate::Gate;
pub use numbers::seeded_number;
pub use seed::{seeded_application, SEED_PUBLIC_KEYS};
pub use store::{StoreError, Subaccount};
pub use subaccounts::{is_valid_secret, parse_account_arg, AccountArg};

use store::Store;

pub const DEFAULT_API_KEY: &str = "sandbox";
/// Connections served at once.
const MAX_CONNECTIONS: usize = 1024;
/// How long a client may take to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_API_SECRET: &str = "sandbox";
/// The secret of every existing account the manifests declare, in the sandbox: vapp signs in to
/// them with it there, so a real secret never reaches the sandbox's data file.
pub const SANDBOX_ACCOUNT_SECRET: &str = "Sandbox1secret";

/// How the emulator behaves.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    pub api_key: String,
    pub api_secret: crate::secret::Secret,
    /// Existing subaccounts of the primary (`--account KEY:SECRET`), added when absent.
    pub subaccounts: Vec<(String, crate::secret::Secret)>,
    /// Keep the applications in this JSON file across restarts; in memory only when `None`.
    pub data_file: Option<PathBuf>,
    /// Start an empty account with this many varied applications.
    pub seed_apps: usize,
    /// Start an account that owns no number with this many (`447700900001`, …, linked to nothing).
    pub seed_numbers: usize,
    pub faults: Faults,
    /// A test's hand on the requests (see [`Gate`]); none from the command line.
    pub gate: Option<Gate>,
    /// Signs the webhook requests of simulated traffic to the primary's numbers (`--signature-secret`),
    /// as Vonage signs with an account's signature secret.
    pub signature_secret: Option<crate::secret::Secret>,
    /// The signature secrets of other accounts: an existing subaccount's by API key (`--account
    /// KEY:SECRET:SIGNATURE_SECRET`), a subaccount made through the API by its name (the sandbox's,
    /// from the manifests).
    pub signature_secrets: Vec<(SignedAccount, crate::secret::Secret)>,
}

/// Which account a signature secret is of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignedAccount {
    ApiKey(String),
    /// A subaccount's name (one made through the Subaccounts API gets its key only then).
    Name(String),
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            api_key: DEFAULT_API_KEY.to_string(),
            api_secret: crate::secret::Secret::new(DEFAULT_API_SECRET),
            subaccounts: Vec::new(),
            data_file: None,
            seed_apps: 0,
            seed_numbers: 0,
            faults: Faults::default(),
            gate: None,
            signature_secret: None,
            signature_secrets: Vec::new(),
        }
    }
}

/// Ways to misbehave, for tests and drills.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Delay before every answer.
    pub latency: Duration,
    /// Probability (0..1) that a request is answered 500, 502 or 503 without being carried out.
    pub fail_rate: f64,
    /// Requests per second allowed; more are answered 429 with `Retry-After`.
    pub rate_limit: Option<u32>,
    /// Probability (0..1) that a request is carried out and then its connection closed unanswered.
    pub drop_rate: f64,
    /// Seed of the fault dice, for reproducible runs.
    pub seed: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("{0}")]
    Invalid(String),
}

/// The emulator's state, shared by every connection.
pub(crate) struct Shared {
    config: EmulatorConfig,
    store: Store,
    dice: Mutex<Dice>,
    /// Rings the webhooks of simulated traffic.
    caller: crate::webhooks::call::Caller,
    /// Requests served since the start (`GET /_vapp/requests` tells, for benchmarks and tests).
    requests: std::sync::atomic::AtomicU64,
}

struct Dice {
    rng: StdRng,
    bucket: Option<TokenBucket>,
}

struct TokenBucket {
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// Takes a token, or says how many whole seconds to wait for one.
    fn take(&mut self, now: Instant) -> Result<(), u64> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.per_second.max(1.0));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err((((1.0 - self.tokens) / self.per_second).ceil() as u64).max(1))
        }
    }
}

/// What the dice decided for one request before it runs.
pub(crate) enum Verdict {
    Proceed,
    Throttle { retry_after_secs: u64 },
    Fail(u16),
}

impl Shared {
    /// The signature secret of `account`: `--signature-secret` for the primary, an `--account`'s own
    /// for an existing subaccount, one given by name for a subaccount made through the API.
    pub(crate) fn signature_secret_of(&self, account: &store::Store) -> Option<&crate::secret::Secret> {
        if account.is_primary() {
            return self.config.signature_secret.as_ref();
        }
        let name = self.store.subaccount(account.api_key()).map(|s| s.name);
        self.config.signature_secrets.iter().find_map(|(of, secret)| match of {
            SignedAccount::ApiKey(key) if key == account.api_key() => Some(secret),
            SignedAccount::Name(n) if Some(n) == name.as_ref() => Some(secret),
            _ => None,
        })
    }

    pub(crate) fn roll_before(&self) -> Verdict {
        let mut dice = self.dice.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bucket) = dice.bucket.as_mut() {
            if let Err(retry_after_secs) = bucket.take(Instant::now()) {
                return Verdict::Throttle { retry_after_secs };
            }
        }
        let fail_rate = self.config.faults.fail_rate;
        if fail_rate > 0.0 && dice.rng.gen_bool(fail_rate.min(1.0)) {
            return Verdict::Fail([500, 502, 503][dice.rng.gen_range(0..3)]);
        }
        Verdict::Proceed
    }

    pub(crate) fn roll_drop(&self) -> bool {
        let drop_rate = self.config.faults.drop_rate;
        drop_rate > 0.0 && self.dice.lock().unwrap_or_else(|p| p.into_inner()).rng.gen_bool(drop_rate.min(1.0))
    }
}

/// Marks a response whose connection must be closed instead of answered.
#[derive(Clone, Copy)]
pub(crate) struct DropConnection;

#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("answer dropped by --drop-rate")
    }
}

impl std::error::Error for Dropped {}

/// An emulator ready to serve.
pub struct Emulator {
    shared: Arc<Shared>,
}

impl Emulator {
    /// Opens the data file (if any) and seeds an empty account.
    pub async fn new(config: EmulatorConfig) -> Result<Self, EmulatorError> {
        for (name, p) in [("--fail-rate", config.faults.fail_rate), ("--drop-rate", config.faults.drop_rate)] {
            if !(0.0..=1.0).contains(&p) {
                return Err(EmulatorError::Invalid(format!("{name} must be between 0 and 1, not {p}")));
            }
        }
        if config.faults.rate_limit == Some(0) {
            return Err(EmulatorError::Invalid("--rate-limit must be at least 1 request per second".into()));
        }
        let store = Store::open(config.data_file.clone(), &config.api_key, config.api_secret.clone())?;
        for (key, secret) in &config.subaccounts {
            if key == &config.api_key {
                return Err(EmulatorError::Invalid(format!("--account {key}: that is the primary account's key")));
            }
            if store.account(key).is_none() {
                let info = subaccounts::existing(key, &config.api_key);
                store.add_subaccount(info, secret.clone()).await?;
            }
        }
        // Seeds cover every account; each account's numbers follow the previous one's.
        let seeding_numbers = store.family_number_count() == 0;
        for (i, key) in store.account_keys().iter().enumerate() {
            let Some(account) = store.account(key) else { continue };
            if account.is_empty() && config.seed_apps > 0 {
                account.insert_many((0..config.seed_apps).map(seeded_application).collect()).await?;
            }
            if seeding_numbers && config.seed_numbers > 0 {
                let first = i * config.seed_numbers;
                account.put_numbers((first..first + config.seed_numbers).map(seeded_number).collect()).await?;
            }
        }
        let rng = match config.faults.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        };
        let bucket = config.faults.rate_limit.map(|rps| TokenBucket {
            per_second: f64::from(rps),
            tokens: f64::from(rps),
            last: Instant::now(),
        });
        let dice = Mutex::new(Dice { rng, bucket });
        let shared = Shared {
            config,
            store,
            dice,
            caller: crate::webhooks::call::Caller::new(),
            requests: std::sync::atomic::AtomicU64::new(0),
        };
        Ok(Emulator { shared: Arc::new(shared) })
    }

    /// How many applications the primary account holds.
    pub fn application_count(&self) -> usize {
        self.shared.store.len()
    }

    /// How many accounts it serves: the primary and its subaccounts.
    pub fn account_count(&self) -> usize {
        self.shared.store.account_keys().len()
    }

    /// The emulator's HTTP surface as a service, without a listener: for a fuzzer or a test that
    /// sends requests in process. Faults and the data file apply as when serving.
    pub fn router(&self) -> axum::Router {
        routes::router(self.shared.clone())
    }

    /// Serves HTTP/1.1 on `listener` until `shutdown` completes.
    pub async fn serve(self, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        let router = routes::router(self.shared.clone());
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        tokio::pin!(shutdown);
        let mut connections = JoinSet::new();
        loop {
            while connections.try_join_next().is_some() {}
            let accepted = tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => accepted,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                // Out of descriptors or a reset before accept: wait a moment rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let router = router.clone();
            // At most MAX_CONNECTIONS at once: more wait to be served, they do not exhaust the process.
            let Ok(permit) = slots.clone().acquire_owned().await else { break };
            connections.spawn(async move {
                let _permit = permit;
                let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let router = router.clone();
                    async move {
                        let response = router
                            .oneshot(request.map(axum::body::Body::new))
                            .await
                            .unwrap_or_else(|never: Infallible| match never {});
                        if response.extensions().get::<DropConnection>().is_some() {
                            return Err(Dropped);
                        }
                        Ok(response)
                    }
                });
                // A client that sends its headers slower than this is cut off, not waited for.
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
        connections.abort_all();
    }

    /// Binds `addr` and serves in the background until the returned handle is stopped or dropped.
    pub async fn start(self, addr: SocketAddr) -> Result<RunningEmulator, EmulatorError> {
        let listener =
            TcpListener::bind(addr).await.map_err(|source| EmulatorError::Bind { addr: addr.to_string(), source })?;
        let local_addr =
            listener.local_addr().map_err(|source| EmulatorError::Bind { addr: addr.to_string(), source })?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(self.serve(listener, async move {
            let _ = stopped.await;
        }));
        Ok(RunningEmulator { addr: local_addr, stop: Some(stop), task })
    }
}

/// An emulator serving in the background of this process.
pub struct RunningEmulator {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningEmulator {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_refills_at_its_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket { per_second: 2.0, tokens: 2.0, last: start };
        assert!(bucket.take(start).is_ok());
        assert!(bucket.take(start).is_ok());
        assert_eq!(bucket.take(start), Err(1));
        assert!(bucket.take(start + Duration::from_millis(600)).is_ok());
    }
}
