//! The state on PostgreSQL and S3: every backend keeps the file's promises (one conformance test run
//! against each real engine), and the team's day works through the real binary: state that lands in
//! the backend and nowhere local, a second machine that sees it, two machines that never both write,
//! a runner killed mid-apply and thrown away, stale saved plans, history, migration, encryption and
//! bad URLs.

use std::sync::Arc;
use std::time::Duration;

use vapp::api::ApplicationApi;
use vapp::state::backend::{self, Backend, BackendError, EngineEnv, FileBackend, LockError, LockInfo, MemoryBackend};

use crate::engines::{Moto, Postgres};
use crate::harness::{config, BackgroundEmulator, Workspace};

pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple()).chars().take(40).collect()
}

/// What every backend promises, checked the same way on each.
async fn conformance(backend: Arc<dyn Backend>) {
    let name = backend.location().to_string();
    assert!(backend.read().await.unwrap().is_none(), "{name}: a new place holds no state");
    let first = backend.write(b"{\"v\":1}", 1, None).await.unwrap();
    assert!(
        matches!(backend.write(b"{\"v\":9}", 1, None).await, Err(BackendError::Conflict | BackendError::Changed(_))),
        "{name}: a first write never replaces a state"
    );
    let mut token = first.clone();
    for serial in 2..=30u64 {
        token = backend.write(format!("{{\"v\":{serial}}}").as_bytes(), serial, Some(&token)).await.unwrap();
    }
    assert!(
        matches!(
            backend.write(b"{\"v\":0}", 31, Some(&first)).await,
            Err(BackendError::Conflict | BackendError::Changed(_))
        ),
        "{name}: a write based on an old version is refused"
    );
    let stored = backend.read().await.unwrap().unwrap();
    assert_eq!((stored.bytes.as_slice(), &stored.token), (&b"{\"v\":30}"[..], &token), "{name}");
    let history = backend.history().await.unwrap();
    let serials: Vec<u64> = history.iter().map(|v| v.serial).filter(|s| *s < 30).collect();
    assert!(serials.first() == Some(&29), "{name}: history {serials:?}");
    assert!(serials.windows(2).all(|w| w[0] > w[1]), "{name}: newest first");
    assert_eq!(backend.version(29).await.unwrap().as_deref(), Some(&b"{\"v\":29}"[..]), "{name}");

    // The lock: one holder; a second is told who holds it; released, it can be taken again.
    let holder = LockInfo::mine("apply");
    let held = backend.lock(holder.clone(), Duration::ZERO, &|_| {}).await.unwrap();
    match backend.lock(LockInfo::mine("destroy"), Duration::from_millis(300), &|_| {}).await {
        Err(LockError::Held { holder: other }) => assert_eq!(other.id, holder.id, "{name}"),
        Err(other) => panic!("{name}: {other:?}"),
        Ok(_) => panic!("{name}: a second holder got the lock"),
    }
    assert!(matches!(backend.unlock(false).await, Err(LockError::Held { .. })), "{name}: a live holder needs --force");
    held.release().await;
    let again = backend.lock(LockInfo::mine("apply"), Duration::ZERO, &|_| {}).await.unwrap();
    again.release().await;
    assert!(backend.forget_history().await.unwrap() >= 1, "{name}");
}

#[tokio::test]
async fn the_file_and_memory_backends_keep_the_promises() {
    let dir = tempfile::tempdir().unwrap();
    conformance(Arc::new(FileBackend::new(dir.path().join("vapp.state.json")))).await;
    conformance(Arc::new(MemoryBackend::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_keeps_the_promises() {
    let pg = Postgres::shared();
    for url in [pg.url(&unique("s"), "default"), pg.tcp_url("public", &unique("w"))] {
        conformance(
            backend::open(&vapp::state::StateLocation::parse(&url).unwrap(), &EngineEnv::default(), None)
                .await
                .unwrap(),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_keeps_the_promises() {
    let moto = Moto::shared();
    let bucket = unique("b");
    moto.bucket(&bucket);
    let location = vapp::state::StateLocation::parse(&format!("s3://{bucket}/teams/vapp.state.json")).unwrap();
    conformance(backend::open(&location, &moto.engine_env(), None).await.unwrap()).await;
}

/// A PostgreSQL holder whose connection dies holds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_postgresql_holder_holds_nothing() {
    let url = Postgres::shared().url(&unique("s"), "default");
    let first =
        backend::open(&vapp::state::StateLocation::parse(&url).unwrap(), &EngineEnv::default(), None).await.unwrap();
    let held = first.lock(LockInfo::mine("apply"), Duration::ZERO, &|_| {}).await.unwrap();
    let second =
        backend::open(&vapp::state::StateLocation::parse(&url).unwrap(), &EngineEnv::default(), None).await.unwrap();
    assert!(second.lock(LockInfo::mine("apply"), Duration::ZERO, &|_| {}).await.is_err());
    // Dropped without release: the connection closes, as when the process is killed.
    drop(held);
    let broken = std::sync::Mutex::new(None);
    let taken = second
        .lock(LockInfo::mine("apply"), Duration::from_secs(10), &|old| {
            *broken.lock().unwrap() = Some(old.operation.clone())
        })
        .await
        .unwrap();
    assert_eq!(broken.lock().unwrap().as_deref(), Some("apply"), "the stale record is reported");
    taken.release().await;
}

/// An S3 lock whose lease ran out is taken over, and the old holder is fenced by the state's ETag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_s3_lease_is_taken_over_and_fenced() {
    let moto = Moto::shared();
    let bucket = unique("b");
    moto.bucket(&bucket);
    let url = format!("s3://{bucket}/vapp.state.json");
    let backend =
        backend::open(&vapp::state::StateLocation::parse(&url).unwrap(), &moto.engine_env(), None).await.unwrap();
    let token = backend.write(b"{\"v\":1}", 1, None).await.unwrap();
    // A holder from a killed run: its lease ran out a minute ago.
    let mut dead = LockInfo::mine("apply");
    dead.lease_until =
        Some(humantime::format_rfc3339_seconds(std::time::SystemTime::now() - Duration::from_secs(60)).to_string());
    let store = moto
        .engine_env()
        .iter()
        .filter_map(|(name, value)| Some((name.to_ascii_lowercase().parse().ok()?, value)))
        .fold(object_store::aws::AmazonS3Builder::new(), |b, (key, value)| b.with_config(key, value))
        .with_bucket_name(&bucket)
        .with_allow_http(true)
        .build()
        .unwrap();
    object_store::ObjectStoreExt::put(
        &store,
        &object_store::path::Path::from("vapp.state.json.lock"),
        serde_json::to_vec(&dead).unwrap().into(),
    )
    .await
    .unwrap();
    let broken = std::sync::Mutex::new(None);
    let held = backend
        .lock(LockInfo::mine("apply"), Duration::from_secs(5), &|old| *broken.lock().unwrap() = Some(old.id.clone()))
        .await;
    let held = held.unwrap();
    assert_eq!(broken.lock().unwrap().as_deref(), Some(dead.id.as_str()), "the take-over is reported");
    // The dead holder, had it come back, writes with the ETag it read: refused.
    let newer = backend.write(b"{\"v\":2}", 2, Some(&token)).await.unwrap();
    match backend.write(b"{\"v\":3}", 3, Some(&token)).await {
        Err(BackendError::Changed(found)) => assert_eq!(found.serial, None, "{found}"),
        other => panic!("the dead holder's write went through: {other:?}"),
    }
    backend.write(b"{\"v\":3}", 3, Some(&newer)).await.unwrap();
    held.release().await;
}

/// A store that does not honour conditional writes (it stores whatever it is sent) is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_without_conditional_writes_is_refused() {
    use axum::routing::any;
    let router = axum::Router::new().route(
        "/{*path}",
        any(|method: axum::http::Method| async move {
            match method {
                axum::http::Method::PUT => (axum::http::StatusCode::OK, [("ETag", "\"same\"")]).into_response(),
                axum::http::Method::DELETE => axum::http::StatusCode::NO_CONTENT.into_response(),
                _ => axum::http::StatusCode::NOT_FOUND.into_response(),
            }
        }),
    );
    use axum::response::IntoResponse;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let ws = Workspace::new("http://127.0.0.1:9");
    ws.write("vapp.yaml", "version: 1\napplications:\n  a:\n    name: A\n");
    let run = ws
        .vapp()
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "y")
        .env("AWS_REGION", "us-east-1")
        .args(["--state", "s3://bucket/vapp.state.json", "state", "list"])
        .expect(1);
    assert!(run.stderr.contains("does not honour conditional writes"), "{run:?}");
}

fn apps(count: usize) -> String {
    let mut text = String::from("version: 1\napplications:\n");
    for i in 0..count {
        text.push_str(&format!("  app-{i}:\n    name: Team app {i}\n"));
    }
    text
}

/// A working directory of its own (a laptop, a CI runner) with `--state` pointing at the backend.
pub struct Machine {
    pub ws: Workspace,
    env: Vec<(&'static str, String)>,
}

impl Machine {
    pub fn new(api: &str, state: &str, env: &[(&'static str, String)]) -> Self {
        let mut env = env.to_vec();
        env.push(("VAPP_STATE", state.to_string()));
        Machine { ws: Workspace::new(api), env }
    }

    pub fn vapp(&self) -> crate::harness::Vapp {
        self.env.iter().fold(self.ws.vapp(), |vapp, (k, v)| vapp.env(k, v))
    }

    /// The account holds exactly the `count` applications `app-0`… of the state, no duplicate and
    /// nothing left behind, and the state holds each one's private key.
    pub fn converged(&self, emulator: &BackgroundEmulator, count: usize) {
        let live = emulator.block_on(emulator.client().list_all()).unwrap();
        assert_eq!(live.len(), count, "no duplicate, nothing left behind");
        let listed = self.vapp().args(["state", "list"]).expect(0).stdout;
        for i in 0..count {
            let address = format!("app-{i}");
            let id = listed.lines().find_map(|l| l.strip_prefix(&format!("{address}\t"))).unwrap().to_string();
            let pem = self.vapp().args(["key", "show", &address]).expect(0).stdout;
            let held = vapp::keys::fingerprint(&vapp::keys::PrivateKeyPem::new(pem).public_key_pem().unwrap()).unwrap();
            let app = live.iter().find(|a| a.id.as_ref().map(|i| i.as_str()) == Some(id.as_str())).unwrap();
            assert_eq!(held, vapp::keys::fingerprint(app.public_key().unwrap()).unwrap(), "{address}: key kept");
        }
    }

    /// Nothing of the state is kept here: no state file, no backups, no lock.
    fn holds_no_state(&self) {
        let local: Vec<String> = std::fs::read_dir(self.ws.path())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .filter(|name| name.contains("state") || name == ".vapp")
            .collect();
        assert!(local.is_empty(), "state kept locally: {local:?}");
    }
}

/// The day of a team that shares a state: see the module's doc.
fn team_day(state: &str, env: &[(&'static str, String)], secret_in_url: Option<&str>) {
    let gate = vapp::emulator::Gate::new();
    let emulator = BackgroundEmulator::start(vapp::emulator::EmulatorConfig { gate: Some(gate.clone()), ..config() });
    let laptop = Machine::new(&emulator.url, state, env);
    let runner = Machine::new(&emulator.url, state, env);
    for machine in [&laptop, &runner] {
        machine.ws.write("vapp.yaml", &apps(6));
    }
    let mut outputs = String::new();
    let mut keep = |run: crate::harness::Run| {
        outputs.push_str(&run.stdout);
        outputs.push_str(&run.stderr);
        run
    };

    // The laptop applies; the state lands in the backend and nowhere local; the runner sees it.
    let run = keep(laptop.vapp().args(["apply", "--auto-approve"]).expect(0));
    assert!(run.stderr.contains("plain text"), "plain keys on a shared backend are warned about: {run:?}");
    laptop.holds_no_state();
    keep(runner.vapp().args(["plan", "--detailed-exitcode"]).expect(0));
    let pem = keep(runner.vapp().args(["key", "show", "app-0"]).expect(0)).stdout;
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    keep(runner.vapp().args(["token", "app-0"]).expect(0));
    let history = keep(runner.vapp().args(["state", "history"]).expect(0)).stdout;
    assert!(history.lines().count() >= 3, "{history}");

    // Two machines never both write: while the laptop applies, the runner is told who holds the lock.
    laptop.ws.write("vapp.yaml", &apps(10));
    runner.ws.write("vapp.yaml", &apps(10));
    gate.close();
    let mut applying = laptop.vapp().args(["apply", "--auto-approve", "--parallelism", "1"]).spawn();
    // With a create held on its way, the laptop is mid-apply and holds the lock.
    assert!(gate.wait_until_held(1, Duration::from_secs(60)), "the laptop never reached the account");
    let blocked = keep(runner.vapp().args(["apply", "--auto-approve"]).expect(3));
    assert!(blocked.stderr.contains("the state is locked: apply by"), "{blocked:?}");
    gate.open();
    let waited = keep(runner.vapp().args(["apply", "--auto-approve", "--lock-timeout", "60s"]).expect(0));
    assert!(waited.stdout.contains("No changes"), "it waited for the laptop, then had nothing to do: {waited:?}");
    assert!(applying.wait().unwrap().success());

    // A saved plan goes stale when another machine writes the state.
    laptop.ws.write("vapp.yaml", &apps(11));
    keep(laptop.vapp().args(["plan", "-o", "app.plan"]).expect(0));
    runner.ws.write("vapp.yaml", &apps(12));
    keep(runner.vapp().args(["apply", "--auto-approve"]).expect(0));
    let stale = keep(laptop.vapp().args(["apply", "app.plan"]).expect(4));
    assert!(stale.stderr.contains("the state changed since the plan was made"), "{stale:?}");

    // A runner killed mid-apply and thrown away: a fresh directory converges, no duplicate, no lost key.
    let doomed = Machine::new(&emulator.url, state, env);
    doomed.ws.write("vapp.yaml", &apps(16));
    gate.close();
    let mut child = doomed.vapp().args(["apply", "--auto-approve", "--parallelism", "2"]).spawn();
    assert!(gate.wait_until_held(2, Duration::from_secs(60)), "the runner never reached the account");
    let _ = child.kill();
    let _ = child.wait();
    // The two creates it sent land after it died.
    gate.open();
    drop(doomed);
    let fresh = Machine::new(&emulator.url, state, env);
    fresh.ws.write("vapp.yaml", &apps(16));
    keep(fresh.vapp().args(["state", "unlock", "--force"]).run());
    keep(fresh.vapp().args(["apply", "--auto-approve"]).expect(0));
    keep(fresh.vapp().args(["plan", "--detailed-exitcode"]).expect(0));
    fresh.converged(&emulator, 16);
    if let Some(secret) = secret_in_url {
        assert!(!outputs.contains(secret), "a password from the URL was printed");
    }
}

#[test]
fn a_team_shares_its_state_on_postgresql() {
    let pg = Postgres::shared();
    // trust authentication ignores the password: it is here to show it never prints.
    let url = format!(
        "postgres://postgres:hunter2secret@127.0.0.1:{}/postgres?schema={}&workspace=prod",
        pg.port,
        unique("team")
    );
    team_day(&url, &[], Some("hunter2secret"));
}

#[test]
fn a_team_shares_its_state_on_s3() {
    let moto = Moto::shared();
    let bucket = unique("team");
    moto.bucket(&bucket);
    team_day(&format!("s3://{bucket}/apps/vapp.state.json"), &moto.env(), None);
}

#[test]
fn history_migration_and_encryption_work_on_every_backend() {
    let emulator = BackgroundEmulator::start(config());
    let moto = Moto::shared();
    let bucket = unique("migrate");
    moto.bucket(&bucket);
    let pg = Postgres::shared().url(&unique("m"), "prod");
    let s3 = format!("s3://{bucket}/vapp.state.json");
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", &apps(2));
    let vapp = || moto.env().into_iter().fold(ws.vapp(), |v, (k, val)| v.env(k, &val));
    let secret = "correct horse battery staple";
    vapp().env("VAPP_STATE_PASSPHRASE", secret).args(["apply", "--auto-approve"]).expect(0);
    let local = ws.state();
    // File → PostgreSQL → S3, lineage and serial kept, the keys still sealed.
    vapp().args(["state", "migrate", "--to", &pg]).expect(0);
    vapp().args(["--state", &pg, "state", "migrate", "--to", &s3]).expect(0);
    for state in [&pg, &s3] {
        let run = vapp().args(["--state", state, "plan", "--detailed-exitcode"]).expect(0);
        assert!(!run.stderr.contains("error"), "{run:?}");
        vapp().args(["--state", state, "key", "show", "app-0"]).expect(1);
        let pem = vapp()
            .env("VAPP_STATE_PASSPHRASE", secret)
            .args(["--state", state, "key", "show", "app-0"])
            .expect(0)
            .stdout;
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY"));
    }
    let lineage = local["lineage"].as_str().unwrap();
    let shown = vapp().args(["--state", &s3, "state", "history"]).expect(0).stdout;
    assert!(shown.contains(&local["serial"].to_string()), "{shown}");
    // Never over another lineage, nor over a newer version of the same one.
    let again = vapp().args(["state", "migrate", "--to", &s3]).expect(1);
    assert!(again.stderr.contains("already holds this state"), "{again:?}");
    let other = Workspace::new(&emulator.url);
    other.write("vapp.yaml", "version: 1\napplications:\n  x:\n    name: X\n");
    other.vapp().args(["apply", "--auto-approve", "--allow-other-account"]).expect(0);
    let refused = moto
        .env()
        .into_iter()
        .fold(other.vapp(), |v, (k, val)| v.env(k, &val))
        .args(["state", "migrate", "--to", &s3])
        .expect(1);
    assert!(refused.stderr.contains("already holds another state"), "{refused:?}");
    assert!(!lineage.is_empty());
}

#[test]
fn unreachable_or_unusable_backends_fail_fast_and_clearly() {
    let ws = Workspace::new("http://127.0.0.1:9");
    ws.write("vapp.yaml", "version: 1\napplications:\n  a:\n    name: A\n");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let pg = Postgres::shared();
    let moto = Moto::shared();
    for (state, expected) in [
        (format!("postgres://u:pw@127.0.0.1:{closed}/db"), "connecting to postgres://u:***@127.0.0.1"),
        (format!("postgres://postgres@127.0.0.1:{}/no_such_database", pg.port), "no_such_database"),
        ("postgres://[::1/db".to_string(), "the postgres:// URL does not parse"),
        ("postgres://h/db?sslmode=sometimes".to_string(), "sslmode=sometimes"),
        (format!("s3://{}/vapp.state.json", unique("missing")), "does not exist"),
        ("s3://bucket-only".to_string(), "names no object"),
        ("ftp://x/y".to_string(), "not a state backend vapp knows"),
    ] {
        let run = moto
            .env()
            .into_iter()
            .fold(ws.vapp(), |v, (k, val)| v.env(k, &val))
            .args(["--state", &state, "plan"])
            .expect(1);
        assert!(run.stderr.contains(expected), "{state}: {run:?}");
        assert!(!run.stderr.contains(":pw@"), "{run:?}");
    }
    assert!(!ws.path().join("vapp.state.json").exists(), "nothing written anywhere");
}

/// libpq's Unix-socket URL forms reach the real server over its socket: an empty host with `host=` in
/// the query (with a user and a port there too), and the socket directory percent-encoded as the host.
#[test]
fn libpq_socket_urls_reach_postgresql() {
    let pg = Postgres::shared();
    let emulator = BackgroundEmulator::start(config());
    let dir = pg.socket_dir.display().to_string();
    let encoded: String = url::form_urlencoded::byte_serialize(dir.as_bytes()).collect();
    let schema = unique("socket");
    for state in [
        format!("postgres://postgres@/postgres?host={dir}&port={}&schema={schema}&workspace=prod", pg.port),
        format!("postgresql://postgres@{encoded}:{}/postgres?schema={schema}&workspace=prod", pg.port),
    ] {
        let ws = Workspace::new(&emulator.url);
        ws.write("vapp.yaml", &apps(1));
        let vapp = || ws.vapp().env("VAPP_STATE", &state);
        vapp().args(["apply", "--auto-approve"]).expect(0);
        let listed = vapp().args(["state", "list"]).expect(0);
        assert!(listed.stdout.contains("app-0"), "{state}: {listed:?}");
        vapp().args(["plan", "--detailed-exitcode"]).expect(0);
    }
}
