//! Where a state is kept: one small trait, [`Backend`], over the engines teams already run. Every
//! command reads and writes state through it; nothing else in vapp knows which engine is in use.
//!
//! Every backend keeps the same promises:
//! - a write names the version it replaces ([`Token`]) and fails with [`BackendError::Conflict`] when
//!   that is no longer what is stored: a lost race is an error, never a silent overwrite;
//! - earlier versions are kept, and [`Backend::history`] lists them;
//! - one writer at a time: [`Backend::lock`] tells a second writer who holds the lock, and a holder
//!   that died leaves no lock behind for longer than its lease (or at all, where the engine can tell).
//!
//! The bytes are the state document as [`super::codec`] writes it; backends never look inside, except
//! to name the serial of what they keep.

mod file;
mod file_lock;
mod memory;
mod postgres;
pub use postgres::check_postgres_url;
mod resilient;
mod s3;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::location::StateLocation;

pub use file::{backup_dir, vapp_dir_beside, FileBackend, BACKUPS_KEPT};
pub use memory::{Fault, MemoryBackend};
pub use postgres::PostgresBackend;
pub use resilient::{BackendObserver, BackendRetry, Resilient};
pub use s3::S3Backend;

/// The version of a stored state, as its backend knows it (a digest, a serial, an ETag): what a
/// write must find in place.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Token(pub String);

/// A state document as it is stored.
#[derive(Clone, Debug)]
pub struct Stored {
    pub bytes: Vec<u8>,
    pub token: Token,
    /// When it was written (RFC 3339), where the backend records it.
    pub written: Option<String>,
}

/// What a write found in place of the version it was based on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The serial of the state stored now, when it reads as one.
    pub serial: Option<u64>,
    pub written: Option<String>,
    /// Nothing is stored any more.
    pub gone: bool,
}

impl std::fmt::Display for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.gone {
            return f.write_str("it is gone");
        }
        match self.serial {
            Some(serial) => write!(f, "it is at serial {serial} now")?,
            None => f.write_str("it holds something else now")?,
        }
        if let Some(written) = &self.written {
            write!(f, ", written {written}")?;
        }
        Ok(())
    }
}

/// An earlier version a backend keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub serial: u64,
    /// When it was written, RFC 3339, where the backend knows.
    pub written: Option<String>,
    pub size: u64,
    /// Where it is kept, for a person who wants to look at it.
    pub location: VersionPlace,
}

/// Where an earlier version is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionPlace {
    /// A file of its own, which `cp` restores.
    File(std::path::PathBuf),
    /// A row, an object: shown as the backend names it.
    Remote(String),
}

impl std::fmt::Display for VersionPlace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VersionPlace::File(path) => write!(f, "{}", path.display()),
            VersionPlace::Remote(place) => f.write_str(place),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// What is stored is not the version the write was based on (an engine's own answer, which may
    /// meet a write of ours whose answer was lost: [`Resilient`] reads back to tell).
    #[error("the state changed since it was read; nothing was overwritten")]
    Conflict,
    /// Read back: another writer's state is in place.
    #[error("the state changed since it was read (another vapp wrote it: {0}); nothing was overwritten")]
    Changed(Found),
    /// The engine could not be reached, or the connection dropped: worth a retry.
    #[error("{what}")]
    Unavailable {
        what: String,
        #[source]
        source: Option<crate::BoxError>,
    },
    /// The lock this run held was lost (its connection dropped) and another holder has it now.
    #[error("the state lock was lost (its connection dropped) and {holder} holds it now")]
    LockLost { holder: Box<LockInfo> },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The engine refused or failed (connection, permissions, a missing bucket or table).
    #[error("{what}")]
    Engine {
        what: String,
        #[source]
        source: Option<crate::BoxError>,
    },
    /// The engine did not answer in time.
    #[error("{what} did not answer within {}s", after.as_secs())]
    Timeout { what: String, after: Duration },
    /// A stored state larger than vapp reads.
    #[error("the stored state is larger than {limit} bytes, the most vapp reads")]
    TooLarge { limit: u64 },
}

impl BackendError {
    /// Whether trying again may succeed: the engine was unreachable, the connection dropped, or it did
    /// not answer in time.
    pub fn is_transient(&self) -> bool {
        match self {
            BackendError::Unavailable { .. } | BackendError::Timeout { .. } => true,
            BackendError::Io(e) => matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::Interrupted
            ),
            _ => false,
        }
    }
}

/// Who holds a lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    pub operation: String,
    pub who: String,
    pub host: String,
    pub pid: u32,
    /// The process's start time in clock ticks since boot (Linux), to tell a reused pid apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_start: Option<u64>,
    pub created: String,
    pub vapp_version: String,
    /// Until when the holder's lease runs (RFC 3339), for locks that must be renewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<String>,
}

impl LockInfo {
    /// This process, taking the lock for `operation`.
    pub fn mine(operation: &str) -> Self {
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            operation: operation.to_string(),
            who: std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into()),
            host: file_lock::hostname(),
            pid: std::process::id(),
            process_start: file_lock::process_start(std::process::id()),
            created: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            vapp_version: env!("CARGO_PKG_VERSION").to_string(),
            lease_until: None,
        }
    }

    /// A holder nothing is known of (a lock that cannot be read).
    pub fn unknown() -> Self {
        LockInfo {
            id: String::new(),
            operation: "unknown".into(),
            who: "unknown".into(),
            host: "unknown".into(),
            pid: 0,
            process_start: None,
            created: "unknown".into(),
            vapp_version: String::new(),
            lease_until: None,
        }
    }
}

impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} by {} on {} (pid {}) since {}", self.operation, self.who, self.host, self.pid, self.created)?;
        if let Some(until) = &self.lease_until {
            write!(f, ", lease until {until}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the state is locked: {holder}")]
    Held { holder: Box<LockInfo> },
    #[error("cannot lock the state")]
    Backend(#[from] BackendError),
    /// The lease ran out and another holder took the lock over.
    #[error("the state lock was lost: its lease ran out and {holder} took it over")]
    Lost { holder: Box<LockInfo> },
}

impl LockError {
    /// What to do about it, for the command edge to print as `= help:`.
    pub fn help(&self) -> Option<String> {
        match self {
            LockError::Held { .. } => Some(
                "wait for it to finish, retry with --lock-timeout 30s, or if that process is gone, run `vapp state unlock`"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// A lock held; released by [`Held::release`] (or, where the engine allows, when dropped).
#[async_trait]
pub trait Held: Send + Sync {
    /// Lets the lock go.
    async fn release(self: Box<Self>);
}

/// Hears of a stale lock that was broken.
pub type OnBroken<'a> = &'a (dyn Fn(&LockInfo) + Send + Sync);

#[async_trait]
pub trait Backend: Send + Sync {
    /// Where the state lives (its `Display` never shows a password).
    fn location(&self) -> &StateLocation;

    /// The stored state, if there is one.
    async fn read(&self) -> Result<Option<Stored>, BackendError>;

    /// Stores `bytes` (the document of serial `serial`) if what is stored is still `expected` (`None`:
    /// nothing is stored yet), keeping the version it replaces; returns the new version's token.
    async fn write(&self, bytes: &[u8], serial: u64, expected: Option<&Token>) -> Result<Token, BackendError>;

    /// Takes the lock for `holder`, waiting up to `timeout` for another holder to let it go; a stale
    /// lock (its holder certainly gone, or its lease run out) is broken and `on_broken` told.
    async fn lock(
        &self,
        holder: LockInfo,
        timeout: Duration,
        on_broken: OnBroken<'_>,
    ) -> Result<Box<dyn Held>, LockError>;

    /// Removes the lock of a holder that is gone (with `force`, any lock); the holder removed, if any.
    async fn unlock(&self, force: bool) -> Result<Option<LockInfo>, LockError>;

    /// The earlier versions kept, newest first.
    async fn history(&self) -> Result<Vec<Version>, BackendError>;

    /// The earlier version of serial `serial`, if kept.
    async fn version(&self, serial: u64) -> Result<Option<Vec<u8>>, BackendError>;

    /// Removes every earlier version (they may hold keys in plain text); how many.
    async fn forget_history(&self) -> Result<usize, BackendError>;
}

/// What the engines read from the environment (`AWS_*` for S3, `PGPASSWORD` for PostgreSQL): the
/// process's, or one a test gives, so that nothing has to change a process's environment.
#[derive(Clone, Default)]
pub struct EngineEnv {
    vars: Vec<(String, String)>,
}

impl EngineEnv {
    /// The engines' variables of this process's environment.
    pub fn process() -> Self {
        EngineEnv::from_pairs(std::env::vars())
    }

    /// The engines' variables among `pairs`.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let vars = pairs.into_iter().filter(|(name, _)| name.starts_with("AWS_") || name == "PGPASSWORD").collect();
        EngineEnv { vars }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// Names only: the values hold secrets (`AWS_SECRET_ACCESS_KEY`, `PGPASSWORD`).
impl std::fmt::Debug for EngineEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.vars.iter().map(|(name, _)| name)).finish()
    }
}

/// Opens the backend that keeps the state at `location`, its engine configured from `env`, used through
/// [`Resilient`] (retries told to `observer`). Opening (connecting, making the tables) is retried too.
pub async fn open(
    location: &StateLocation,
    env: &EngineEnv,
    observer: Option<BackendObserver>,
) -> Result<Arc<dyn Backend>, BackendError> {
    let inner: Arc<dyn Backend> = match location {
        StateLocation::File(path) => Arc::new(FileBackend::new(path.clone())),
        StateLocation::Postgres(url) => {
            Arc::new(resilient::retry_open(observer.as_ref(), || PostgresBackend::open(url, env)).await?)
        }
        StateLocation::S3(object) => {
            Arc::new(resilient::retry_open(observer.as_ref(), || S3Backend::open(object, env)).await?)
        }
        StateLocation::Memory => Arc::new(MemoryBackend::new()),
    };
    Ok(Arc::new(Resilient::new(inner, observer)))
}
