//! The state engine's connection fails (a [`CuttingProxy`] between vapp and the PostgreSQL and moto
//! the tests start): what is safe to retry is retried, a write whose answer was lost is recognised as
//! vapp's own, a lost lock is noticed before the next write, and a real second writer is still
//! refused. Each kind of cut is scripted once at the library's level; then a drill of applies through
//! the real binary with cuts at random (seeded) must mostly succeed, never blame a writer who does not
//! exist, and converge.

use std::sync::Arc;
use std::time::{Duration, Instant};

use vapp::state::backend::{self, Backend, BackendError, EngineEnv, LockError, LockInfo, S3Backend};
use vapp::state::StateLocation;

use crate::cutting_proxy::{Cut, CuttingProxy};
use crate::engines::{Moto, Postgres};
use crate::harness::{config, BackgroundEmulator};
use crate::shared_state::{unique, Machine};

fn pg_proxy() -> CuttingProxy {
    CuttingProxy::start(([127, 0, 0, 1], Postgres::shared().port).into())
}

fn pg_url(proxy: &CuttingProxy, schema: &str) -> String {
    format!("postgres://postgres@127.0.0.1:{}/postgres?schema={schema}&workspace=default", proxy.port())
}

fn moto_proxy() -> CuttingProxy {
    let endpoint = Moto::shared().endpoint.trim_start_matches("http://").to_string();
    CuttingProxy::start(endpoint.parse().expect("moto's address"))
}

/// Moto's environment with the endpoint through `proxy`.
fn through(proxy: &CuttingProxy) -> Vec<(&'static str, String)> {
    let mut env = Moto::shared().env();
    for (name, value) in env.iter_mut() {
        if *name == "AWS_ENDPOINT_URL" {
            *value = format!("http://{}", proxy.address());
        }
    }
    env
}

fn engine_env(env: &[(&'static str, String)]) -> EngineEnv {
    EngineEnv::from_pairs(env.iter().map(|(k, v)| (k.to_string(), v.clone())))
}

/// Waits (bounded) until `done` holds.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "waited 30s for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Retries told to the test, as a person would be told.
fn counting() -> (backend::BackendObserver, Arc<std::sync::Mutex<Vec<String>>>) {
    let told = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = told.clone();
    (Arc::new(move |retry: &backend::BackendRetry| sink.lock().unwrap().push(retry.cause.clone())), told)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_retries_what_is_safe_and_recognises_its_own_commit() {
    let proxy = pg_proxy();
    let location = StateLocation::parse(&pg_url(&proxy, &unique("s"))).unwrap();
    let (observer, told) = counting();
    // The connection drops before the startup gets through, then the table check's answer is lost.
    proxy.cut_next("application_name", Cut::DropRequest);
    proxy.cut_next("CREATE SCHEMA", Cut::LoseAnswer);
    let backend = backend::open(&location, &EngineEnv::default(), Some(observer)).await.unwrap();
    assert!(proxy.scripted_cuts_made());

    // The first COMMIT lands and its answer is lost: the state read back is ours.
    proxy.cut_next("COMMIT", Cut::LoseAnswer);
    let first = backend.write(b"{\"serial\":1}", 1, None).await.unwrap();
    assert_eq!(first.0, "1");
    // A read cut short is read again.
    proxy.cut_next("SELECT serial, document", Cut::ShortAnswer);
    assert_eq!(backend.read().await.unwrap().unwrap().bytes, b"{\"serial\":1}");
    // An update that never got through is sent again, the same bytes under the same serial.
    proxy.cut_next("UPDATE", Cut::DropRequest);
    let second = backend.write(b"{\"serial\":2}", 2, Some(&first)).await.unwrap();
    // An update whose COMMIT answer was lost.
    proxy.cut_next("COMMIT", Cut::LoseAnswer);
    let third = backend.write(b"{\"serial\":3}", 3, Some(&second)).await.unwrap();
    assert_eq!(backend.read().await.unwrap().unwrap().token, third);
    let history: Vec<u64> = backend.history().await.unwrap().iter().map(|v| v.serial).collect();
    assert_eq!(history, [2, 1], "each version written once");
    assert!(proxy.scripted_cuts_made(), "{:?}", proxy.made());
    let told = told.lock().unwrap().clone();
    assert!(told.len() >= 4, "every retry is told: {told:?}");
    assert!(told.iter().all(|cause| !cause.contains("password")), "{told:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_postgresql_lock_is_taken_again_or_the_write_stops_naming_the_new_holder() {
    let proxy = pg_proxy();
    let schema = unique("s");
    let location = StateLocation::parse(&pg_url(&proxy, &schema)).unwrap();
    let backend = backend::open(&location, &EngineEnv::default(), None).await.unwrap();
    let mut token = backend.write(b"{\"serial\":1}", 1, None).await.unwrap();

    // The lock's connection drops while nobody else wants the lock: taken again, the writes go on.
    let held = backend.lock(LockInfo::mine("apply"), Duration::ZERO, &|_| {}).await.unwrap();
    assert_eq!(proxy.cut_carrying("pg_try_advisory_lock"), 1);
    token = backend.write(b"{\"serial\":2}", 2, Some(&token)).await.unwrap();
    let direct = StateLocation::parse(&Postgres::shared().tcp_url(&schema, "default")).unwrap();
    let other = backend::open(&direct, &EngineEnv::default(), None).await.unwrap();
    match other.lock(LockInfo::mine("destroy"), Duration::ZERO, &|_| {}).await {
        Err(LockError::Held { holder }) => assert_eq!(holder.operation, "apply", "the lock was taken again"),
        other => panic!("the lock was not taken again: {:?}", other.map(|_| ())),
    }

    // Dropped again, and another vapp takes it before the next write: that write stops.
    assert_eq!(proxy.cut_carrying("pg_try_advisory_lock"), 1);
    let mut theirs = LockInfo::mine("destroy");
    theirs.who = "someone-else".into();
    let taken = other.lock(theirs.clone(), Duration::from_secs(20), &|_| {}).await.unwrap();
    match backend.write(b"{\"serial\":3}", 3, Some(&token)).await {
        Err(BackendError::LockLost { holder }) => assert_eq!(holder.id, theirs.id),
        other => panic!("a write went on without the lock: {other:?}"),
    }
    assert_eq!(other.read().await.unwrap().unwrap().bytes, b"{\"serial\":2}", "nothing was written");
    taken.release().await;
    held.release().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_recognises_its_own_put_and_lock_and_retries_reads() {
    let proxy = moto_proxy();
    let bucket = unique("b");
    Moto::shared().bucket(&bucket);
    let env = engine_env(&through(&proxy));
    let location = StateLocation::parse(&format!("s3://{bucket}/vapp.state.json")).unwrap();
    let state_put = format!("PUT /{bucket}/vapp.state.json HTTP");
    let (observer, _) = counting();
    proxy.cut_next(&format!("PUT /{bucket}/vapp.state.json.vapp-probe"), Cut::LoseAnswer);
    let backend = backend::open(&location, &env, Some(observer)).await.unwrap();

    // The first PUT lands and its answer is lost; the store's retry meets our own object.
    proxy.cut_next(&state_put, Cut::LoseAnswer);
    let first = backend.write(b"{\"serial\":1}", 1, None).await.unwrap();
    // An update whose answer was lost: the retry meets the new ETag, which is ours.
    proxy.cut_next(&state_put, Cut::LoseAnswer);
    let second = backend.write(b"{\"serial\":2}", 2, Some(&first)).await.unwrap();
    proxy.cut_next(&format!("GET /{bucket}/vapp.state.json HTTP"), Cut::ShortAnswer);
    let stored = backend.read().await.unwrap().unwrap();
    assert_eq!((stored.bytes.as_slice(), &stored.token), (&b"{\"serial\":2}"[..], &second));
    assert!(stored.written.is_some(), "S3 says when it was written");

    // The lock's create lands and its answer is lost: the lock is ours.
    proxy.cut_next(&format!("PUT /{bucket}/vapp.state.json.lock HTTP"), Cut::LoseAnswer);
    let held = backend.lock(LockInfo::mine("apply"), Duration::ZERO, &|_| panic!("our own lock is not stale")).await;
    let held = held.unwrap();
    assert!(proxy.scripted_cuts_made(), "{:?}", proxy.made());
    held.release().await;
    let again = backend.lock(LockInfo::mine("apply"), Duration::ZERO, &|_| {}).await.unwrap();
    again.release().await;
}

/// A renewal that fails (the store's own retries too) is tried again within the lease; one whose
/// answer was lost is recognised as ours; the lock is never taken over meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_lease_survives_failed_renewals() {
    let proxy = moto_proxy();
    let bucket = unique("b");
    Moto::shared().bucket(&bucket);
    let env = engine_env(&through(&proxy));
    let object = vapp::state::S3Object { bucket: bucket.clone(), key: "vapp.state.json".into() };
    let lease = Duration::from_secs(3);
    let backend = S3Backend::open(&object, &env).await.unwrap().with_lease(lease);
    let lock_put = format!("PUT /{bucket}/vapp.state.json.lock HTTP");
    let held = backend.lock(LockInfo::mine("apply"), Duration::ZERO, &|_| {}).await.unwrap();
    // The next renewal's PUT never gets through, four times over (the store retries three times),
    // and the one after that loses its answer.
    for _ in 0..4 {
        proxy.cut_next(&lock_put, Cut::DropRequest);
    }
    proxy.cut_next(&lock_put, Cut::LoseAnswer);
    until("the cuts", || proxy.scripted_cuts_made()).await;
    let renewed = proxy.seen(&lock_put);
    // Two more renewals: the loop kept the lock's version right through the cuts.
    until("two renewals after the cuts", || proxy.seen(&lock_put) >= renewed + 2).await;
    let other = S3Backend::open(&object, &engine_env(&Moto::shared().env())).await.unwrap();
    match other.lock(LockInfo::mine("destroy"), Duration::ZERO, &|_| {}).await {
        Err(LockError::Held { .. }) => {}
        other => panic!("the lease ran out: {:?}", other.map(|_| ())),
    }
    held.release().await;
}

/// A real second writer is refused, and the message says what was found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_second_writer_is_named_by_what_it_wrote() {
    let pg = Postgres::shared();
    let url = pg.tcp_url(&unique("s"), "default");
    let location = StateLocation::parse(&url).unwrap();
    let one = backend::open(&location, &EngineEnv::default(), None).await.unwrap();
    let two = backend::open(&location, &EngineEnv::default(), None).await.unwrap();
    let first = one.write(b"{\"serial\":1}", 1, None).await.unwrap();
    two.write(b"{\"serial\":2,\"by\":\"two\"}", 2, Some(&first)).await.unwrap();
    let refused = one.write(b"{\"serial\":2,\"by\":\"one\"}", 2, Some(&first)).await.unwrap_err();
    let BackendError::Changed(found) = &refused else { panic!("{refused:?}") };
    assert_eq!(found.serial, Some(2));
    assert!(found.written.is_some(), "PostgreSQL says when it was written");
    let error = vapp::state::StateError::Write { location, source: refused };
    let shown = format!("{}\n  = help: {}", vapp::humanise::chain(&error), error.help().unwrap());
    insta::with_settings!({filters => vec![
        (r"written \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "written [time]"),
        (r"127\.0\.0\.1:\d+/postgres\?schema=\w+", "127.0.0.1:[port]/postgres?schema=[schema]"),
    ]}, {
        insta::assert_snapshot!("a_real_second_writer", shown);
    });
}

/// The messages of a lost connection, through the binary: the retry said once (every one with -v),
/// and an apply whose lock was taken while its connection was down stops with exit 3 naming the
/// holder, then the next apply converges.
#[test]
fn the_messages_of_a_lost_connection() {
    let proxy = pg_proxy();
    let schema = unique("s");
    let gate = vapp::emulator::Gate::new();
    let emulator = BackgroundEmulator::start(vapp::emulator::EmulatorConfig { gate: Some(gate.clone()), ..config() });
    let laptop = Machine::new(&emulator.url, &pg_url(&proxy, &schema), &[]);
    laptop.ws.write("vapp.yaml", &apps(2, 0));
    laptop.vapp().args(["apply", "--auto-approve"]).expect(0);
    let filters = vec![
        (r"\d+\.\ds", "[delay]"),
        (r"127\.0\.0\.1:\d+/postgres\?schema=\w+", "127.0.0.1:[port]/postgres?schema=[schema]"),
        (r"by \S+ on \S+ \(pid \d+\) since \S+", "by [who] on [host] (pid [pid]) since [time]"),
    ];
    proxy.cut_next("SELECT serial, document", Cut::LoseAnswer);
    let quiet = laptop.vapp().args(["plan"]).expect(0);
    proxy.cut_next("SELECT serial, document", Cut::ShortAnswer);
    let verbose = laptop.vapp().args(["plan", "-v"]).expect(0);
    let told = |run: &crate::harness::Run| {
        run.stderr.lines().filter(|l| l.contains("retrying")).collect::<Vec<_>>().join("\n")
    };
    insta::with_settings!({filters => filters.clone()}, {
        insta::assert_snapshot!("state_retry_told_once", told(&quiet));
        insta::assert_snapshot!("state_retry_told_with_v", told(&verbose));
    });

    // An apply holds the lock, its create held on its way; its lock connection drops, and another
    // vapp takes the lock before the apply writes again.
    laptop.ws.write("vapp.yaml", &apps(3, 0));
    gate.close();
    let applying = laptop.vapp().args(["apply", "--auto-approve"]).spawn();
    assert!(gate.wait_until_held(1, Duration::from_secs(60)), "the apply never reached the account");
    assert_eq!(proxy.cut_carrying("pg_try_advisory_lock"), 1);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let direct = StateLocation::parse(&Postgres::shared().tcp_url(&schema, "default")).unwrap();
    let other = runtime.block_on(backend::open(&direct, &EngineEnv::default(), None)).unwrap();
    let mut theirs = LockInfo::mine("apply");
    theirs.who = "ci-runner".into();
    let taken = runtime.block_on(other.lock(theirs, Duration::from_secs(20), &|_| {})).unwrap();
    gate.open();
    let stopped = applying.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&stopped.stderr).into_owned();
    assert_eq!(stopped.status.code(), Some(3), "{stderr}");
    let failure: String =
        stderr.lines().filter(|l| l.contains("lock") || l.contains("help")).collect::<Vec<_>>().join("\n");
    insta::with_settings!({filters => filters}, {
        insta::assert_snapshot!("lock_lost_midway", failure);
    });
    runtime.block_on(taken.release());
    // (Its connections close with the runtime that drives them.)
    drop(other);
    drop(runtime);
    laptop.vapp().args(["apply", "--auto-approve"]).expect(0);
    laptop.vapp().args(["plan", "--detailed-exitcode"]).expect(0);
    laptop.converged(&emulator, 3);
}

/// The applications of drill round `round`: their count and names change from round to round, so
/// that each apply creates, updates and deletes.
fn apps(count: usize, round: usize) -> String {
    let mut text = String::from("version: 1\napplications:\n");
    for i in 0..count {
        text.push_str(&format!("  app-{i}:\n    name: Drill app {i} v{}\n", round / 2));
    }
    text
}

/// Applies with the state engine's connections cut at random: at least 90% succeed, none blames
/// another writer, and afterwards one more apply converges with nothing duplicated, orphaned or lost.
fn drill(proxy: &CuttingProxy, state: &str, env: &[(&'static str, String)], rounds: usize, seed: u64, rate: f64) {
    let emulator = BackgroundEmulator::start(config());
    let runner = Machine::new(&emulator.url, state, env);
    runner.ws.write("vapp.yaml", &apps(2, 0));
    runner.vapp().args(["apply", "--auto-approve"]).expect(0);
    proxy.at_random(seed, rate);
    let mut failed = Vec::new();
    let mut count = 2;
    for round in 1..=rounds {
        count = 2 + round % 4;
        runner.ws.write("vapp.yaml", &apps(count, round));
        let run = runner.vapp().args(["apply", "--auto-approve"]).run();
        for blame in ["another vapp wrote", "someone else wrote"] {
            assert!(!run.stderr.contains(blame), "round {round} blamed a writer who does not exist: {run:?}");
        }
        if run.code != 0 {
            failed.push(format!("round {round}: {run:?}"));
        }
    }
    let cuts = proxy.made();
    proxy.calm();
    eprintln!("drill of {state}: seed {seed}, {} cuts {cuts:?}, {} of {rounds} failed", cuts.len(), failed.len());
    assert!(
        failed.len() * 10 <= rounds,
        "{} of {rounds} applies failed (seed {seed}, cuts {cuts:?}):\n{}",
        failed.len(),
        failed.join("\n")
    );
    assert!(cuts.len() >= rounds / 2, "the drill cut too little to mean anything: {cuts:?}");
    runner.vapp().args(["apply", "--auto-approve"]).expect(0);
    runner.vapp().args(["plan", "--detailed-exitcode"]).expect(0);
    runner.converged(&emulator, count);
}

#[test]
fn a_drill_of_cuts_on_postgresql() {
    let proxy = pg_proxy();
    drill(
        &proxy,
        &pg_url(&proxy, &unique("s")),
        &[],
        12,
        std::env::var("VAPP_DRILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(19),
        0.04,
    );
}

#[test]
fn a_drill_of_cuts_on_s3() {
    let proxy = moto_proxy();
    let bucket = unique("b");
    Moto::shared().bucket(&bucket);
    drill(
        &proxy,
        &format!("s3://{bucket}/vapp.state.json"),
        &through(&proxy),
        10,
        std::env::var("VAPP_DRILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(19),
        0.12,
    );
}
