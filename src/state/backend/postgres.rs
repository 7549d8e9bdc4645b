//! The state in PostgreSQL (12 or newer): one row per workspace, every write a compare-and-swap on
//! its `serial` inside a transaction, the last [`VERSIONS_KEPT`] versions in a history table, and the
//! lock a session advisory lock on a connection of its own (so a holder whose connection died holds
//! nothing), with a row naming the holder for whoever waits.
//!
//! The URL is libpq's (`postgres://USER:PASS@HOST:PORT/DB?sslmode=…`, `host=/socket/dir` for a Unix
//! socket, `PGPASSWORD` when the URL has no password), plus vapp's own `workspace` (default
//! `default`) and `schema` (default `public`). TLS (rustls, the web PKI's roots, or `sslrootcert=FILE`)
//! when `sslmode` is `require`, `verify-ca` or `verify-full`; certificates are always verified.
//!
//! The tables are made on first use. The document is stored as `text`, byte for byte (its checksum
//! covers its exact bytes; `jsonb` would reorder them).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tokio_postgres::{Client, Config, NoTls};

use super::{Backend, BackendError, Held, LockError, LockInfo, OnBroken, Stored, Token, Version, VersionPlace};
use crate::state::location::{PostgresUrl, StateLocation};

/// Earlier versions kept per workspace.
pub const VERSIONS_KEPT: i64 = 25;
/// How long connecting may take, and any one statement.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the lock's connection may take to answer the probe before each write.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a waiting writer tries the lock again.
const LOCK_POLL: Duration = Duration::from_millis(250);
/// `written_at` as RFC 3339, in UTC.
const WRITTEN_AT: &str = "to_char(written_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";

pub struct PostgresBackend {
    config: Config,
    tls: Tls,
    schema: String,
    workspace: String,
    location: StateLocation,
    /// One statement or transaction at a time: a transaction needs the connection to itself. A
    /// connection that dropped is replaced by the next call (see [`PostgresBackend::client`]).
    client: tokio::sync::Mutex<Client>,
    /// The lock's own connection while this process holds the lock: checked before every write.
    lock: Arc<tokio::sync::Mutex<Option<LockSession>>>,
    /// The shared connection failed in a way that may leave it unusable: made again before next use.
    stale: AtomicBool,
}

/// How a write's transaction ended.
enum Outcome {
    Written,
    /// The serial was not the one the write was based on.
    Conflict,
    /// The holder row names someone else.
    LockLost(LockInfo),
}

/// The lock as this process holds it: the connection whose session holds the advisory lock, and who
/// it says holds it.
struct LockSession {
    client: Client,
    holder: LockInfo,
}

/// How connections are secured.
#[derive(Clone)]
enum Tls {
    None,
    Rustls(tokio_postgres_rustls::MakeRustlsConnect),
}

fn engine(what: impl Into<String>, source: impl Into<crate::BoxError>) -> BackendError {
    BackendError::Engine { what: what.into(), source: Some(source.into()) }
}

/// A driver error as a backend error: a connection that dropped or could not be made, or a server
/// going away, is worth a retry; a refusal by the server (a permission, a syntax) is not.
fn classify(what: impl Into<String>, error: tokio_postgres::Error) -> BackendError {
    let transient = match error.code() {
        // Not the server's refusal: the connection itself (closed, reset, cut short, unreachable).
        None => true,
        // connection_exception (08…), admin_shutdown, crash_shutdown, cannot_connect_now.
        Some(code) => code.code().starts_with("08") || matches!(code.code(), "57P01" | "57P02" | "57P03"),
    };
    match transient {
        true => BackendError::Unavailable { what: what.into(), source: Some(Box::new(error)) },
        false => engine(what, error),
    }
}

fn invalid(what: impl Into<String>) -> BackendError {
    BackendError::Engine { what: what.into(), source: None }
}

/// The URL split into what tokio-postgres reads and what vapp reads itself (`workspace`, `schema`,
/// `sslrootcert`, and `sslmode`'s verifying values). Split on the raw text: re-encoding the query
/// would change what tokio-postgres sees.
struct Parsed {
    connection: String,
    workspace: String,
    schema: String,
    tls: bool,
    root_cert: Option<String>,
}

fn decode(value: &str) -> String {
    url::form_urlencoded::parse(format!("v={value}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

fn split(url: &str) -> Result<Parsed, BackendError> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept = Vec::new();
    let (mut workspace, mut schema, mut tls, mut root_cert) =
        ("default".to_string(), "public".to_string(), false, None);
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        match key {
            "workspace" => workspace = decode(value),
            "schema" => schema = decode(value),
            "sslrootcert" => root_cert = Some(decode(value)),
            "sslmode" => match decode(value).as_str() {
                "disable" | "allow" | "prefer" => tls = false,
                "require" | "verify-ca" | "verify-full" => tls = true,
                other => {
                    return Err(invalid(format!(
                        "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
                    )))
                }
            },
            _ => kept.push(part),
        }
    }
    for (name, value) in [("workspace", &workspace), ("schema", &schema)] {
        if value.is_empty() || value.len() > 63 || value.contains('\0') {
            return Err(invalid(format!("{name} must be 1 to 63 characters")));
        }
    }
    let connection = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
    Ok(Parsed { connection, workspace, schema, tls, root_cert })
}

/// Whether the driver reads `url` (vapp's own parameters aside), and why not: the reason never holds
/// the URL's text, which may carry a password.
pub fn check_postgres_url(url: &str) -> Result<(), String> {
    let parsed = split(url).map_err(|e| e.to_string())?;
    parsed.connection.parse::<Config>().map(|_| ()).map_err(|e| e.to_string())
}

/// A quoted SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The advisory lock key of a schema and workspace: advisory locks span a database, so both are in it.
fn lock_key(schema: &str, workspace: &str) -> i64 {
    let digest = Sha256::digest(format!("vapp\0{schema}\0{workspace}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

async fn bounded<T>(
    what: &str,
    after: Duration,
    future: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, BackendError> {
    match tokio::time::timeout(after, future).await {
        Ok(result) => result.map_err(|e| classify(what.to_string(), e)),
        Err(_) => Err(BackendError::Timeout { what: what.to_string(), after }),
    }
}

impl PostgresBackend {
    /// Connects to the database `url` names and makes the tables if they are missing.
    pub async fn open(url: &PostgresUrl, env: &super::EngineEnv) -> Result<Self, BackendError> {
        let location = StateLocation::Postgres(url.clone());
        let parsed = split(url.expose())?;
        let mut config: Config =
            parsed.connection.parse().map_err(|e| engine(format!("{location} is not a PostgreSQL URL"), e))?;
        if config.get_password().is_none() {
            if let Some(password) = env.get("PGPASSWORD") {
                config.password(password);
            }
        }
        config.connect_timeout(CONNECT_TIMEOUT);
        config.keepalives_idle(Duration::from_secs(30));
        config.application_name("vapp");
        config.options(format!("-c statement_timeout={}", STATEMENT_TIMEOUT.as_millis()));
        let tls = match parsed.tls {
            false => Tls::None,
            true => Tls::Rustls(tls_config(parsed.root_cert.as_deref())?),
        };
        let client = connect(&config, &tls, &location).await?;
        let client = tokio::sync::Mutex::new(client);
        let lock = Arc::new(tokio::sync::Mutex::new(None));
        let backend = PostgresBackend {
            config,
            tls,
            schema: parsed.schema,
            workspace: parsed.workspace,
            location,
            client,
            lock,
            stale: AtomicBool::new(false),
        };
        backend.make_tables().await?;
        Ok(backend)
    }

    /// The connection, made again first if the last one dropped (a call that met the drop failed as
    /// transient, and [`super::Resilient`] tries it again here).
    async fn client(&self) -> Result<tokio::sync::MutexGuard<'_, Client>, BackendError> {
        let mut client = self.client.lock().await;
        if client.is_closed() || self.stale.swap(false, Ordering::SeqCst) {
            *client = connect(&self.config, &self.tls, &self.location).await?;
        }
        Ok(client)
    }

    /// Runs a statement on the shared connection; one that failed for a transient reason (a timeout
    /// included, after which the connection may hang) leaves the connection to be made again.
    async fn run<T>(
        &self,
        what: &str,
        future: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, BackendError> {
        let result = bounded(what, STATEMENT_TIMEOUT, future).await;
        if result.as_ref().is_err_and(BackendError::is_transient) {
            self.stale.store(true, Ordering::SeqCst);
        }
        result
    }

    /// Before a write: the lock this process holds is still its own. A lock connection that dropped
    /// lost the lock with it; it is taken again while nobody else has it, else the write stops with
    /// the new holder's name. (A drop between this check and the write is fenced by the holder row,
    /// which the write's transaction reads; a writer without the lock, by the serial.)
    async fn keep_lock(&self) -> Result<(), BackendError> {
        let mut session = self.lock.lock().await;
        let Some(held) = session.as_mut() else { return Ok(()) };
        // An empty query: one round trip on a connection that otherwise idles, so that a drop is
        // noticed here rather than whenever the driver next reads from it.
        let alive = !held.client.is_closed()
            && matches!(tokio::time::timeout(PROBE_TIMEOUT, held.client.simple_query("")).await, Ok(Ok(_)));
        if alive {
            return Ok(());
        }
        let client = connect(&self.config, &self.tls, &self.location).await?;
        let what = format!("taking the lock at {} again", self.location);
        let key = lock_key(&self.schema, &self.workspace);
        let taken: bool =
            bounded(&what, STATEMENT_TIMEOUT, client.query_one("SELECT pg_try_advisory_lock($1)", &[&key]))
                .await?
                .get(0);
        let locks = self.table("vapp_locks");
        if !taken {
            let query = format!("SELECT holder FROM {locks} WHERE workspace = $1");
            let row = bounded(&what, STATEMENT_TIMEOUT, client.query_opt(&query, &[&self.workspace])).await?;
            let holder = row
                .and_then(|row| serde_json::from_str::<LockInfo>(row.get::<_, &str>(0)).ok())
                .unwrap_or_else(LockInfo::unknown);
            return Err(BackendError::LockLost { holder: Box::new(holder) });
        }
        let text = serde_json::to_string(&held.holder).map_err(|e| engine("cannot record the lock holder", e))?;
        let record = format!(
            "INSERT INTO {locks} (workspace, holder, backend_pid) VALUES ($1, $2, pg_backend_pid())
             ON CONFLICT (workspace) DO UPDATE SET holder = $2, backend_pid = pg_backend_pid(), taken_at = now()"
        );
        bounded(&what, STATEMENT_TIMEOUT, client.execute(&record, &[&self.workspace, &text])).await?;
        held.client = client;
        Ok(())
    }

    fn table(&self, name: &str) -> String {
        format!("{}.{}", ident(&self.schema), ident(name))
    }

    async fn make_tables(&self) -> Result<(), BackendError> {
        let schema = ident(&self.schema);
        let (states, history, locks) =
            (self.table("vapp_states"), self.table("vapp_state_history"), self.table("vapp_locks"));
        // Two vapps making the tables at once would collide on the catalogue: one at a time.
        let ddl = format!(
            "BEGIN;
             SELECT pg_advisory_xact_lock({key});
             CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE IF NOT EXISTS {states} (workspace text PRIMARY KEY, serial bigint NOT NULL,
                 document text NOT NULL, written_at timestamptz NOT NULL DEFAULT now());
             CREATE TABLE IF NOT EXISTS {history} (workspace text NOT NULL, serial bigint NOT NULL,
                 document text NOT NULL, written_at timestamptz NOT NULL, PRIMARY KEY (workspace, serial));
             CREATE TABLE IF NOT EXISTS {locks} (workspace text PRIMARY KEY, holder text NOT NULL,
                 backend_pid integer NOT NULL, taken_at timestamptz NOT NULL DEFAULT now());
             COMMIT;",
            key = lock_key(&self.schema, "")
        );
        let client = self.client().await?;
        let what = format!("making vapp's tables in schema {} of {}", self.schema, self.location);
        self.run(&what, client.batch_execute(&ddl)).await
    }
}

fn tls_config(root_cert: Option<&str>) -> Result<tokio_postgres_rustls::MakeRustlsConnect, BackendError> {
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(path) = root_cert {
        let pem = crate::fsutil::read_bounded(std::path::Path::new(path), 1024 * 1024, "a CA certificate file")
            .map_err(|e| engine(format!("cannot read sslrootcert {path}"), e))?;
        use rustls::pki_types::pem::PemObject;
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| engine(format!("sslrootcert {path} is not PEM certificates"), e))?;
            roots.add(cert).map_err(|e| engine(format!("sslrootcert {path} holds an unusable certificate"), e))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| engine("cannot set up TLS", e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// A connection, its driving task spawned. Dropping the client closes it.
async fn connect(config: &Config, tls: &Tls, location: &StateLocation) -> Result<Client, BackendError> {
    let what = format!("connecting to {location}");
    match tls {
        Tls::None => {
            let (client, connection) = bounded(&what, CONNECT_TIMEOUT, config.connect(NoTls)).await?;
            tokio::spawn(connection);
            Ok(client)
        }
        Tls::Rustls(make) => {
            let (client, connection) = bounded(&what, CONNECT_TIMEOUT, config.connect(make.clone())).await?;
            tokio::spawn(connection);
            Ok(client)
        }
    }
}

/// The lock: a session advisory lock held by a connection of its own (the backend's [`LockSession`],
/// which [`PostgresBackend::keep_lock`] may replace). Releasing drops the connection, and a holder that
/// dies loses it the same way.
struct PgHeld {
    session: Arc<tokio::sync::Mutex<Option<LockSession>>>,
    locks: String,
    workspace: String,
}

/// Dropped without release (a run that stops on an error): the lock's connection closes, and the lock
/// with it, as when the process ends.
impl Drop for PgHeld {
    fn drop(&mut self) {
        if let Ok(mut session) = self.session.try_lock() {
            session.take();
        }
    }
}

#[async_trait]
impl Held for PgHeld {
    async fn release(self: Box<Self>) {
        let Some(session) = self.session.lock().await.take() else { return };
        let delete = format!("DELETE FROM {} WHERE workspace = $1 AND backend_pid = pg_backend_pid()", self.locks);
        let _ = tokio::time::timeout(STATEMENT_TIMEOUT, session.client.execute(&delete, &[&self.workspace])).await;
        drop(session);
    }
}

#[async_trait]
impl Backend for PostgresBackend {
    fn location(&self) -> &StateLocation {
        &self.location
    }

    async fn read(&self) -> Result<Option<Stored>, BackendError> {
        let query =
            format!("SELECT serial, document, {WRITTEN_AT} FROM {} WHERE workspace = $1", self.table("vapp_states"));
        let what = format!("reading the state from {}", self.location);
        let client = self.client().await?;
        let row = self.run(&what, client.query_opt(&query, &[&self.workspace])).await?;
        Ok(row.map(|row| {
            let serial: i64 = row.get(0);
            let document: String = row.get(1);
            Stored { bytes: document.into_bytes(), token: Token(serial.to_string()), written: row.get(2) }
        }))
    }

    async fn write(&self, bytes: &[u8], serial: u64, expected: Option<&Token>) -> Result<Token, BackendError> {
        let document = std::str::from_utf8(bytes).map_err(|e| engine("the state document is not UTF-8", e))?;
        let serial = i64::try_from(serial).map_err(|e| engine("the serial is too large", e))?;
        let (states, history) = (self.table("vapp_states"), self.table("vapp_state_history"));
        let what = format!("writing the state to {}", self.location);
        self.keep_lock().await?;
        let holding = self.lock.lock().await.as_ref().map(|session| session.holder.id.clone());
        let locks = self.table("vapp_locks");
        let mut client = self.client().await?;
        let outcome = self
            .run(&what, async {
                let transaction = client.transaction().await?;
                // The holder row fences a lock whose connection dropped unnoticed: whoever took the lock
                // since has written their name there (and waits on this row until we commit).
                if let Some(id) = &holding {
                    let query = format!("SELECT holder FROM {locks} WHERE workspace = $1 FOR SHARE");
                    let row = transaction.query_opt(&query, &[&self.workspace]).await?;
                    let holder = row
                        .and_then(|row| serde_json::from_str::<LockInfo>(row.get::<_, &str>(0)).ok())
                        .unwrap_or_else(LockInfo::unknown);
                    if &holder.id != id {
                        transaction.rollback().await?;
                        return Ok::<_, tokio_postgres::Error>(Outcome::LockLost(holder));
                    }
                }
                let rows = match expected {
                    None => {
                        let insert = format!(
                        "INSERT INTO {states} (workspace, serial, document) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
                    );
                        transaction.execute(&insert, &[&self.workspace, &serial, &document]).await?
                    }
                    Some(Token(old)) => {
                        let old: i64 = old.parse().unwrap_or(-1);
                        let keep = format!(
                            "INSERT INTO {history} SELECT workspace, serial, document, written_at FROM {states}
                         WHERE workspace = $1 AND serial = $2 ON CONFLICT DO NOTHING"
                        );
                        transaction.execute(&keep, &[&self.workspace, &old]).await?;
                        let update = format!(
                            "UPDATE {states} SET serial = $3, document = $4, written_at = now()
                         WHERE workspace = $1 AND serial = $2"
                        );
                        let rows = transaction.execute(&update, &[&self.workspace, &old, &serial, &document]).await?;
                        let prune = format!("DELETE FROM {history} WHERE workspace = $1 AND serial <= $2");
                        transaction.execute(&prune, &[&self.workspace, &(serial - 1 - VERSIONS_KEPT)]).await?;
                        rows
                    }
                };
                if rows != 1 {
                    transaction.rollback().await?;
                    return Ok(Outcome::Conflict);
                }
                transaction.commit().await?;
                Ok(Outcome::Written)
            })
            .await?;
        match outcome {
            Outcome::Written => Ok(Token(serial.to_string())),
            Outcome::Conflict => Err(BackendError::Conflict),
            Outcome::LockLost(holder) => Err(BackendError::LockLost { holder: Box::new(holder) }),
        }
    }

    async fn lock(
        &self,
        holder: LockInfo,
        timeout: Duration,
        on_broken: OnBroken<'_>,
    ) -> Result<Box<dyn Held>, LockError> {
        let client = connect(&self.config, &self.tls, &self.location).await?;
        let key = lock_key(&self.schema, &self.workspace);
        let locks = self.table("vapp_locks");
        let deadline = tokio::time::Instant::now().checked_add(timeout);
        let what = format!("taking the lock at {}", self.location);
        loop {
            let row =
                bounded(&what, STATEMENT_TIMEOUT, client.query_one("SELECT pg_try_advisory_lock($1)", &[&key])).await?;
            if row.get::<_, bool>(0) {
                // Ours. A row left by a holder whose connection died names nobody now.
                let stale = format!("SELECT holder FROM {locks} WHERE workspace = $1");
                if let Some(row) =
                    bounded(&what, STATEMENT_TIMEOUT, client.query_opt(&stale, &[&self.workspace])).await?
                {
                    // (Our own row is an earlier try of this call whose answer was lost.)
                    match serde_json::from_str::<LockInfo>(row.get::<_, &str>(0)) {
                        Ok(old) if old.id != holder.id => on_broken(&old),
                        _ => {}
                    }
                }
                let text = serde_json::to_string(&holder).map_err(|e| engine("cannot record the lock holder", e))?;
                let record = format!(
                    "INSERT INTO {locks} (workspace, holder, backend_pid) VALUES ($1, $2, pg_backend_pid())
                     ON CONFLICT (workspace) DO UPDATE SET holder = $2, backend_pid = pg_backend_pid(), taken_at = now()"
                );
                bounded(&what, STATEMENT_TIMEOUT, client.execute(&record, &[&self.workspace, &text])).await?;
                *self.lock.lock().await = Some(LockSession { client, holder });
                return Ok(Box::new(PgHeld { session: self.lock.clone(), locks, workspace: self.workspace.clone() }));
            }
            if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                let held = format!("SELECT holder FROM {locks} WHERE workspace = $1");
                let row = bounded(&what, STATEMENT_TIMEOUT, client.query_opt(&held, &[&self.workspace])).await?;
                let holder = row
                    .and_then(|row| serde_json::from_str::<LockInfo>(row.get::<_, &str>(0)).ok())
                    .unwrap_or_else(LockInfo::unknown);
                return Err(LockError::Held { holder: Box::new(holder) });
            }
            tokio::time::sleep(LOCK_POLL).await;
        }
    }

    async fn unlock(&self, force: bool) -> Result<Option<LockInfo>, LockError> {
        let key = lock_key(&self.schema, &self.workspace);
        let locks = self.table("vapp_locks");
        let what = format!("unlocking the state at {}", self.location);
        let query = format!("SELECT holder, backend_pid FROM {locks} WHERE workspace = $1");
        let client = self.client().await?;
        let row = self.run(&what, client.query_opt(&query, &[&self.workspace])).await?;
        let recorded = row.as_ref().map(|row| {
            let holder =
                serde_json::from_str::<LockInfo>(row.get::<_, &str>(0)).unwrap_or_else(|_| LockInfo::unknown());
            (holder, row.get::<_, i32>(1))
        });
        // Whether the advisory lock is held by anyone, as the server sees it.
        let held_query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
                          AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1";
        let row = self.run(&what, client.query_one(held_query, &[&key])).await?;
        let held = row.get::<_, i64>(0) > 0;
        if held {
            let Some((holder, pid)) = recorded.clone() else {
                if force {
                    return Err(LockError::Backend(invalid(
                        "the lock is held by a session that left no record; it cannot be broken from here",
                    )));
                }
                return Err(LockError::Held { holder: Box::new(LockInfo::unknown()) });
            };
            if !force {
                return Err(LockError::Held { holder: Box::new(holder) });
            }
            // The holder's session ends, and its lock with it.
            self.run(&what, client.execute("SELECT pg_terminate_backend($1)", &[&pid])).await?;
        }
        let delete = format!("DELETE FROM {locks} WHERE workspace = $1");
        self.run(&what, client.execute(&delete, &[&self.workspace])).await?;
        Ok(recorded.map(|(holder, _)| holder))
    }

    async fn history(&self) -> Result<Vec<Version>, BackendError> {
        let query = format!(
            "SELECT serial, {WRITTEN_AT}, octet_length(document) FROM {} WHERE workspace = $1 ORDER BY serial DESC",
            self.table("vapp_state_history")
        );
        let what = format!("listing the state's history at {}", self.location);
        let client = self.client().await?;
        let rows = self.run(&what, client.query(&query, &[&self.workspace])).await?;
        Ok(rows
            .iter()
            .map(|row| {
                let serial: i64 = row.get(0);
                Version {
                    serial: serial.max(0) as u64,
                    written: row.get::<_, Option<String>>(1),
                    size: row.get::<_, i32>(2).max(0) as u64,
                    location: VersionPlace::Remote(format!("{} (history, serial {serial})", self.location)),
                }
            })
            .collect())
    }

    async fn version(&self, serial: u64) -> Result<Option<Vec<u8>>, BackendError> {
        let serial = i64::try_from(serial).unwrap_or(i64::MAX);
        let query =
            format!("SELECT document FROM {} WHERE workspace = $1 AND serial = $2", self.table("vapp_state_history"));
        let what = format!("reading an earlier state from {}", self.location);
        let client = self.client().await?;
        let row = self.run(&what, client.query_opt(&query, &[&self.workspace, &serial])).await?;
        Ok(row.map(|row| row.get::<_, String>(0).into_bytes()))
    }

    async fn forget_history(&self) -> Result<usize, BackendError> {
        let query = format!("DELETE FROM {} WHERE workspace = $1", self.table("vapp_state_history"));
        let what = format!("removing the state's history at {}", self.location);
        let client = self.client().await?;
        let rows = self.run(&what, client.execute(&query, &[&self.workspace])).await?;
        Ok(rows as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_vapps_parameters_apart_and_passwords_out_of_sight() {
        let parsed =
            split("postgres://me:s%40cret@db.example.com:6543/vapp?sslmode=require&workspace=prod&schema=ops&connect_timeout=5")
                .unwrap();
        assert_eq!(parsed.connection, "postgres://me:s%40cret@db.example.com:6543/vapp?connect_timeout=5");
        assert_eq!((parsed.workspace.as_str(), parsed.schema.as_str(), parsed.tls), ("prod", "ops", true));
        let socket = split("postgresql:///vapp?host=/tmp/pg%20dir&user=postgres").unwrap();
        assert_eq!(socket.connection, "postgresql:///vapp?host=/tmp/pg%20dir&user=postgres");
        assert_eq!((socket.workspace.as_str(), socket.schema.as_str(), socket.tls), ("default", "public", false));
        assert!(split("postgres://h/db?sslmode=sometimes").is_err());
        assert!(split("postgres://h/db?workspace=").is_err());
        let location = StateLocation::parse("postgres://me:s%40cret@db.example.com/vapp?password=also&workspace=prod");
        let shown = location.unwrap().to_string();
        assert!(!shown.contains("cret") && !shown.contains("also"), "{shown}");
        assert!(shown.contains("me:***@db.example.com") && shown.contains("workspace=prod"), "{shown}");
    }

    #[test]
    fn lock_keys_differ_by_schema_and_workspace() {
        assert_ne!(lock_key("public", "a"), lock_key("public", "b"));
        assert_ne!(lock_key("a", "public"), lock_key("public", "a"));
        assert_eq!(lock_key("s", "w"), lock_key("s", "w"));
    }
}
