//! `cargo bench`: the speed goals of the README, measured against the release binary and emulator.
//!
//! 1. list 10,000 applications from an emulator answering with 20 ms latency (goal ≤ 1 s);
//! 2. GET requests per second the emulator serves (goal ≥ 5,000/s on 2 cores);
//! 3. `vapp plan` for 1,000 managed applications in an account of 10,020, 20 ms latency (goal ≤ 1.5 s)
//!    and its peak resident memory (`/usr/bin/time -f %M`; goal ≤ 64 MB); … side by side with the
//!    official Node SDK's `listAllApplications` over the same account (goal: vapp ≥ 15× faster), with a
//!    breakdown of vapp's time (`plan -v`);
//! 4. `vapp apply` of 48 creates against the time AWS-LC takes to make 48 RSA-2048 keys on all cores,
//!    alternated run by run (goal ≤ 1.2×).
//!
//! 5. `vapp apply` of 100 creates with the state on PostgreSQL and on S3 (moto) against the same apply
//!    on the local file (goal ≤ 1.1×): group commit keeps remote writes to a handful.
//!
//! 6. `vapp apply` linking 100 numbers at the default pace (one update a second, the Numbers API's
//!    documented rate) and with no pace: the time is the pace's, vapp adds little (goal ≤ 1.05× of
//!    99 pauses).
//!
//! 7. `vapp apply` of 1,000 creates (a first apply of a large repository), 20 ms latency, reported per
//!    create beside the same apply of 100: the cost of a create must not grow with the state's size.
//!
//! 8. `vapp plan` over 21 accounts (the primary and 20 subaccounts, 50 applications each, one
//!    declared application per account) against the same plan over the primary alone, 20 ms latency
//!    (goal ≤ 1.5×: the accounts are read side by side).
//!
//! 10. A thousand customers: 1,000 subaccounts vapp makes, 3 applications each, 20 ms latency: the
//!     first apply (beside the time AWS-LC takes to make its 3,000 RSA keys on all cores, most of
//!     it), then a plan of no changes; time, peak resident memory, the state's size and the API calls
//!     each makes (the emulator counts them: `GET /_vapp/requests`).
//!
//! 11. A hundred simulated calls through a three-level IVR menu (`vapp simulate run` of 100 scenarios,
//!     each pressing 1 three times and connected to an agent), against a local web application that
//!     answers at once: the time per call, which is the emulator carrying out NCCOs and ringing the
//!     web application (12 requests a call), not waiting on any clock.
//!
//! 9. `vapp check` of 100 applications (one `answer_url` each) against a local web application that
//!    answers a valid NCCO in 50 ms: about 100 × 50 ms / 8 in flight = 0.625 s (goal ≤ 1.25× that).
//!
//! Everything runs on 127.0.0.1; emulators are child processes so that they get their own threads.
//! `cargo bench -- NAME…` runs only the sections named (list, emulator, plan, apply, backends, numbers,
//! thousand, accounts, check). `VAPP_BENCH_BIN=PATH` measures another build of vapp (an allocator tried, say).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vapp::api::{ApplicationApi, Client, ClientConfig, Credentials};

/// The vapp measured: this build's, or `VAPP_BENCH_BIN`.
fn bin() -> String {
    std::env::var("VAPP_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_vapp").to_string())
}

struct EmulatorProcess {
    child: Child,
    url: String,
}

impl EmulatorProcess {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(bin())
            .args(["emulator", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start emulator");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read");
        let url = line.trim().strip_prefix("listening on ").expect("listening line").to_string();
        EmulatorProcess { child, url }
    }

    fn client(&self) -> Client {
        Client::new(ClientConfig::new(
            vapp::api::BaseUrl::parse(&self.url).expect("url"),
            Credentials::new("sandbox", "sandbox"),
        ))
        .expect("client")
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

fn report(name: &str, measured: f64, unit: &str, goal: &str, ok: bool) {
    println!("{name:<58} {measured:>10.3} {unit:<6} goal {goal:<12} {}", if ok { "ok" } else { "MISSED" });
}

#[path = "../tests/integration/engines.rs"]
#[allow(dead_code)]
mod engines;

fn main() {
    // `cargo test --benches` runs this with `--test`-like flags; measure only under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let sections: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wanted = |name: &str| sections.is_empty() || sections.iter().any(|s| s == name);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    if wanted("list") || wanted("emulator") || wanted("plan") {
        emulator_and_plan(&runtime);
    }
    if wanted("apply") {
        apply_against_keygen();
    }
    if wanted("backends") {
        backends();
    }
    if wanted("numbers") {
        link_hundred_numbers();
    }
    if wanted("thousand") {
        apply_thousand_creates();
    }
    if wanted("accounts") {
        plan_many_accounts();
    }
    if wanted("check") {
        check_hundred_webhooks(&runtime);
    }
    if wanted("subaccounts") {
        thousand_subaccounts(&runtime);
    }
    if wanted("calls") {
        hundred_calls_through_a_menu(&runtime);
    }
    if wanted("policies") {
        policies_over_ten_thousand();
    }
}

/// The example policies (examples/policies) over a plan that creates 10,000 applications (each with
/// two voice webhooks, a number and an owner label, in ten manifest files): the input built by the
/// same functions `--policy` uses and evaluated (median of 5). Planning itself is not timed.
fn policies_over_ten_thousand() {
    const APPS: usize = 10_000;
    const FILES: usize = 10;
    let sources: Vec<vapp::manifest::Source> = (0..FILES)
        .map(|file| {
            let mut text = String::from("version: 1\napplications:\n");
            for i in (file * APPS / FILES)..((file + 1) * APPS / FILES) {
                text.push_str(&format!(
                    "  app-{i}:\n    name: App {i}\n    labels: {{ owner: team-{} }}\n    numbers: [\"4477009{:05}\"]\n    capabilities:\n      voice:\n        webhooks:\n          answer_url: https://ivr.example.com/{i}/answer\n          event_url: https://ivr.example.com/{i}/event\n",
                    i % 20,
                    i + 1
                ));
            }
            vapp::manifest::Source { path: format!("apps/{file}.yaml").into(), text }
        })
        .collect();
    let desired = vapp::manifest::load_sources(&sources, &|_| None).expect("manifests");
    let numbers: Vec<vapp::model::Number> =
        (0..APPS).map(|i| vapp::emulator::seeded_number(i).shown.summary()).collect();
    let plan = vapp::plan::plan(&vapp::plan::PlanInput {
        desired: &desired,
        state: None,
        live: &[],
        targets: &[],
        numbers: &numbers,
    })
    .expect("a plan");
    assert_eq!(plan.changes.len(), APPS);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let policy_sources = vapp::policy::read_sources(&[root.join("examples/policies")], false).expect("policies");
    let policies = vapp::policy::Policies::new(&policy_sources, "main").expect("parse");
    let default = vapp::model::AccountName::default_account();
    let mut samples = Vec::new();
    let mut findings = usize::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        let manifests: Vec<serde_json::Value> = desired.apps.values().map(vapp::policy::manifest_entry).collect();
        let accounts = vapp::policy::accounts_of(desired.accounts.values(), &plan, &default);
        let input = vapp::policy::input(&plan, manifests, &accounts);
        let verdict = policies.evaluate(&input).expect("evaluate");
        samples.push(started.elapsed().as_secs_f64());
        findings = verdict.deny.len() + verdict.warn.len();
    }
    assert_eq!(findings, 0, "the generated applications pass every example policy");
    let measured = median(samples);
    report(
        "policies (examples/policies) over a plan of 10,000 creates (median of 5)",
        measured,
        "s",
        "<= 5 s",
        measured <= 5.0,
    );
}

/// 100 calls through a three-level menu, as one `vapp simulate run` (median of 3).
fn hundred_calls_through_a_menu(runtime: &tokio::runtime::Runtime) {
    const CALLS: usize = 100;
    let listener =
        runtime.block_on(tokio::net::TcpListener::bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))).expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let menu_base = base.clone();
    let router = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let base = menu_base.clone();
        async move {
            let next = |level: u32, text: &str| {
                serde_json::json!([
                    {"action": "talk", "text": text, "bargeIn": true},
                    {"action": "input", "type": ["dtmf"], "dtmf": {"maxDigits": 1}, "eventUrl": [format!("{base}/menu{level}")]}
                ])
            };
            let ncco = match uri.path() {
                "/answer" => next(1, "Welcome. Press 1 for sales."),
                "/menu1" => next(2, "Sales. Press 1 for new orders."),
                "/menu2" => next(3, "New orders. Press 1 for an agent."),
                "/menu3" => serde_json::json!([
                    {"action": "talk", "text": "Connecting you"},
                    {"action": "connect", "endpoint": [{"type": "phone", "number": "447700900123"}]}
                ]),
                _ => return (axum::http::StatusCode::OK, [(axum::http::header::CONTENT_TYPE, "text/plain")], String::new()),
            };
            (axum::http::StatusCode::OK, [(axum::http::header::CONTENT_TYPE, "application/json")], ncco.to_string())
        }
    });
    runtime.spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let emulator = EmulatorProcess::start(&["--seed-numbers", "1"]);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("vapp.yaml"),
        format!("version: 1\napplications:\n  ivr:\n    name: ivr\n    numbers: [\"447700900001\"]\n    capabilities:\n      voice:\n        webhooks:\n          answer_url: {base}/answer\n          event_url: {base}/event\n"),
    )
    .expect("manifest");
    let mut scenarios = String::from("version: 1\nscenarios:\n");
    for i in 0..CALLS {
        scenarios.push_str(&format!(
            "  - name: call {i}\n    call: {{ to: \"447700900001\" }}\n    press: [\"1\", \"1\", \"1\"]\n    expect: {{ outcome: answered, connected: [\"447700900123\"] }}\n"
        ));
    }
    std::fs::write(dir.path().join("calls.yaml"), scenarios).expect("scenarios");
    let vapp = |args: &[&str]| {
        Command::new(bin())
            .current_dir(dir.path())
            .args(args)
            .env("VAPP_API_URL", &emulator.url)
            .env("VONAGE_API_KEY", "sandbox")
            .env("VONAGE_API_SECRET", "sandbox")
            .output()
            .expect("vapp")
    };
    let applied = vapp(&["apply", "--auto-approve", "-q", "--numbers-pace", "0s"]);
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    let mut samples = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let run = vapp(&["simulate", "run", "calls.yaml", "-q"]);
        samples.push(started.elapsed().as_secs_f64());
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stdout));
    }
    let took = median(samples);
    report("vapp simulate run: 100 calls through a 3-level menu (median of 3)", took, "s", "(measured)", true);
    report("… per call (12 webhook requests each)", took * 1000.0 / CALLS as f64, "ms", "(measured)", true);
}

/// The emulator's count of the requests it served.
fn requests_served(runtime: &tokio::runtime::Runtime, emulator: &EmulatorProcess) -> u64 {
    let url = format!("{}/_vapp/requests", emulator.url);
    let answer = runtime.block_on(async {
        let client = reqwest::Client::new();
        let answer = client.get(&url).basic_auth("sandbox", Some("sandbox")).send().await.expect("requests");
        answer.json::<serde_json::Value>().await.expect("json")
    });
    answer["requests"].as_u64().expect("a count")
}

/// Runs vapp under `/usr/bin/time -f %M` in `dir`: seconds, peak resident MB, and how it ended.
fn timed_vapp(dir: &std::path::Path, url: &str, args: &[&str]) -> (f64, f64, std::process::Output) {
    let started = Instant::now();
    let output = Command::new("/usr/bin/time")
        .args(["-f", "%M", &bin()])
        .current_dir(dir)
        .args(args)
        .env("VAPP_API_URL", url)
        .env("VONAGE_API_KEY", "sandbox")
        .env("VONAGE_API_SECRET", "sandbox")
        .output()
        .expect("vapp");
    let elapsed = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let kb: f64 = stderr.lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or(0.0);
    (elapsed, kb / 1024.0, output)
}

/// 1,000 subaccounts of 3 applications each: the first apply and the plan after it.
fn thousand_subaccounts(runtime: &tokio::runtime::Runtime) {
    const SUBACCOUNTS: usize = 1000;
    const APPS: usize = 3;
    let emulator = EmulatorProcess::start(&["--latency-ms", "20"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut accounts = String::from("version: 1\naccounts:\n");
    for c in 0..SUBACCOUNTS {
        accounts.push_str(&format!("  c{c:04}:\n    subaccount_of: default\n    name: Customer {c}\n"));
        let mut file = format!("version: 1\naccount: c{c:04}\napplications:\n");
        for a in 0..APPS {
            file.push_str(&format!(
                "  c{c:04}-app-{a}:\n    name: Customer {c} app {a}\n    capabilities:\n      voice:\n        webhooks:\n          answer_url: https://c{c}.example.com/answer/{a}\n"
            ));
        }
        std::fs::write(dir.path().join(format!("c{c:04}.yaml")), file).expect("manifest");
    }
    accounts.push_str("applications: {}\n");
    std::fs::write(dir.path().join("accounts.yaml"), accounts).expect("manifest");
    let before = requests_served(runtime, &emulator);
    let (applied, apply_peak, output) =
        timed_vapp(dir.path(), &emulator.url, &["apply", "--auto-approve", "-q", "-f", ".", "--parallelism", "32"]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let apply_calls = requests_served(runtime, &emulator) - before;
    let state_mb = std::fs::metadata(dir.path().join("vapp.state.json")).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    let before = requests_served(runtime, &emulator);
    let (planned, plan_peak, output) =
        timed_vapp(dir.path(), &emulator.url, &["plan", "--detailed-exitcode", "-f", "."]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stdout));
    let plan_calls = requests_served(runtime, &emulator) - before;
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let keys = keygen_on_all_cores(SUBACCOUNTS * APPS, cores);
    report("vapp apply: 1,000 new subaccounts x 3 apps, 20 ms latency", applied, "s", "(measured)", true);
    report("AWS-LC making those 3,000 RSA keys on all cores", keys, "s", "(baseline)", true);
    report("vapp apply (above): peak resident memory", apply_peak, "MB", "(measured)", true);
    report("vapp apply (above): API calls", apply_calls as f64, "calls", "(measured)", true);
    report("vapp apply (above): the state it wrote", state_mb, "MB", "(measured)", true);
    report("vapp plan: 1,000 subaccounts x 3 apps, no changes", planned, "s", "(measured)", true);
    report("vapp plan (above): peak resident memory", plan_peak, "MB", "(measured)", true);
    report("vapp plan (above): API calls", plan_calls as f64, "calls", "(measured)", true);
}

/// `vapp check` of 100 answer URLs, each answered in 50 ms (median of 5).
fn check_hundred_webhooks(runtime: &tokio::runtime::Runtime) {
    const APPS: usize = 100;
    const ANSWER: Duration = Duration::from_millis(50);
    let listener =
        runtime.block_on(tokio::net::TcpListener::bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))).expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let router = axum::Router::new().fallback(|| async {
        tokio::time::sleep(ANSWER).await;
        ([(axum::http::header::CONTENT_TYPE, "application/json")], r#"[{"action":"talk","text":"Hello"}]"#)
    });
    runtime.spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let mut manifest = String::from("version: 1\napplications:\n");
    for i in 0..APPS {
        manifest.push_str(&format!(
            "  app-{i}:\n    name: app {i}\n    capabilities:\n      voice:\n        webhooks:\n          answer_url: {base}/answer/{i}\n"
        ));
    }
    std::fs::write(dir.path().join("vapp.yaml"), manifest).expect("manifest");
    let mut samples = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let output = Command::new(bin()).current_dir(dir.path()).args(["check", "-q"]).output().expect("vapp check");
        samples.push(started.elapsed().as_secs_f64());
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
    }
    let took = median(samples);
    let ideal = APPS as f64 * ANSWER.as_secs_f64() / vapp::webhooks::check::IN_FLIGHT as f64;
    report("vapp check: 100 answer URLs answering in 50 ms (median of 5)", took, "s", &format!("~{ideal:.3} s"), true);
    let ratio = took / ideal;
    report("vapp check: against 100 x 50 ms / 8 in flight", ratio, "x", "<= 1.25x", ratio <= 1.25);
}

/// `vapp plan` over the primary and 20 subaccounts against the primary alone (median of 5 each,
/// alternated), 20 ms latency.
fn plan_many_accounts() {
    const SUBACCOUNTS: usize = 20;
    let credentials: Vec<(String, String)> =
        (1..=SUBACCOUNTS).map(|i| (format!("sub{i:05}"), format!("Secret{i:05}x"))).collect();
    let mut args: Vec<String> = ["--latency-ms", "20", "--seed-apps", "50"].iter().map(|s| s.to_string()).collect();
    for (key, secret) in &credentials {
        args.extend(["--account".to_string(), format!("{key}:{secret}")]);
    }
    let emulator = EmulatorProcess::start(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let one = tempfile::tempdir().expect("tempdir");
    let many = tempfile::tempdir().expect("tempdir");
    std::fs::write(one.path().join("vapp.yaml"), "version: 1\napplications:\n  main:\n    name: main\n")
        .expect("manifest");
    let mut accounts = String::from("version: 1\naccounts:\n");
    for (i, (key, _)) in credentials.iter().enumerate() {
        accounts.push_str(&format!("  a{i}:\n    api_key: {key}\n    api_secret_env: SUB_SECRET_{i}\n"));
        let file = format!("version: 1\naccount: a{i}\napplications:\n  app-{i}:\n    name: app {i}\n");
        std::fs::write(many.path().join(format!("a{i}.yaml")), file).expect("manifest");
    }
    accounts.push_str("applications:\n  main:\n    name: main\n");
    std::fs::write(many.path().join("vapp.yaml"), accounts).expect("manifest");
    let plan = |dir: &std::path::Path| {
        let mut command = Command::new(bin());
        command
            .current_dir(dir)
            .args(["plan", "-f", "."])
            .env("VAPP_API_URL", &emulator.url)
            .env("VONAGE_API_KEY", "sandbox")
            .env("VONAGE_API_SECRET", "sandbox")
            .stdout(Stdio::null());
        for (i, (_, secret)) in credentials.iter().enumerate() {
            command.env(format!("SUB_SECRET_{i}"), secret);
        }
        let started = Instant::now();
        let output = command.output().expect("vapp plan");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        started.elapsed().as_secs_f64()
    };
    let (mut single, mut several) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        single.push(plan(one.path()));
        several.push(plan(many.path()));
    }
    let (single, several) = (median(single), median(several));
    report("vapp plan: 1 account, 20 ms latency (median of 5)", single, "s", "(baseline)", true);
    let ratio = several / single;
    report("vapp plan: 21 accounts / 1 account, 20 ms latency", ratio, "x", "<= 1.5x", ratio <= 1.5);
}

/// One application created with 100 numbers linked, 20 ms latency, at the default pace and at none.
fn link_hundred_numbers() {
    let run = |pace: Option<&str>| {
        let emulator = EmulatorProcess::start(&["--latency-ms", "20", "--seed-numbers", "100"]);
        let dir = tempfile::tempdir().expect("tempdir");
        let numbers: Vec<String> = (1..=100).map(|n| format!("\"4477009{n:05}\"")).collect();
        let manifest = format!(
            "version: 1\napplications:\n  support:\n    name: Support\n    capabilities: {{ rtc: {{}} }}\n    numbers: [{}]\n",
            numbers.join(", ")
        );
        std::fs::write(dir.path().join("vapp.yaml"), manifest).expect("manifest");
        let mut command = Command::new(bin());
        command
            .current_dir(dir.path())
            .args(["apply", "--auto-approve", "-q"])
            .env("VAPP_API_URL", &emulator.url)
            .env("VONAGE_API_KEY", "sandbox")
            .env("VONAGE_API_SECRET", "sandbox");
        if let Some(pace) = pace {
            command.args(["--numbers-pace", pace]);
        }
        let started = Instant::now();
        let output = command.output().expect("vapp apply");
        let elapsed = started.elapsed().as_secs_f64();
        assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
        elapsed
    };
    let unpaced = run(Some("0s"));
    report("vapp apply: 1 create + 100 number links, no pace", unpaced, "s", "(baseline)", true);
    let paced = run(None);
    let floor = 99.0;
    report(
        "vapp apply: 1 create + 100 number links, default pace (1/s)",
        paced,
        "s",
        &format!("<= {:.1} s", floor * 1.05),
        paced <= floor * 1.05,
    );
}

fn emulator_and_plan(runtime: &tokio::runtime::Runtime) {
    let emulator = EmulatorProcess::start(&["--seed-apps", "10020", "--latency-ms", "20"]);
    let client = emulator.client();
    let mut samples = Vec::new();
    let mut live = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        live = runtime.block_on(client.list_all()).expect("list");
        samples.push(started.elapsed().as_secs_f64());
    }
    assert_eq!(live.len(), 10_020);
    let list = median(samples);
    report("list 10,020 applications, 20 ms latency (median of 5)", list, "s", "<= 1 s", list <= 1.0);

    let plain = EmulatorProcess::start(&["--seed-apps", "100"]);
    let rate = runtime.block_on(get_throughput(&plain, Duration::from_secs(3)));
    report("emulator GET /v2/applications/{id}, 64 concurrent", rate, "req/s", ">= 5000/s", rate >= 5000.0);
    drop(plain);

    let (plan, peak) = plan_thousand_of_ten_thousand(&emulator, &live);
    report("vapp plan: 1,000 managed of 10,020, 20 ms latency (median of 5)", plan, "s", "<= 1.5 s", plan <= 1.5);
    report("vapp plan: peak resident memory (median of 5)", peak, "MB", "<= 64 MB", peak <= 64.0);
    match node_list_all(&emulator) {
        None => println!("Node SDK comparison skipped: node, or scripts/sdk-compat/node_modules (npm ci), is missing"),
        Some(node) => {
            report(
                "Node SDK listAllApplications(pageSize 100), whole process (median of 3)",
                node,
                "s",
                "(baseline)",
                true,
            );
            let ratio = node / plan;
            report("Node SDK listing / vapp plan", ratio, "x", ">= 15x", ratio >= 15.0);
        }
    }
}

/// The official Node SDK listing every application of `emulator`'s account, as a whole process (as
/// `vapp plan` is measured); `None` when Node or the SDK is not installed.
fn node_list_all(emulator: &EmulatorProcess) -> Option<f64> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/sdk-compat/list-all.mjs");
    if !script.with_file_name("node_modules").is_dir() {
        return None;
    }
    let mut samples = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let output = Command::new("node").arg(&script).env("VAPP_EMULATOR_URL", &emulator.url).output().ok()?;
        samples.push(started.elapsed().as_secs_f64());
        let answer: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
        assert_eq!(answer["count"], 10_020, "{}", String::from_utf8_lossy(&output.stderr));
        println!("  node: {} applications, {:.3} s inside the process", answer["count"], answer["seconds"]);
    }
    Some(median(samples))
}

fn apply_against_keygen() {
    // Key generation time varies a lot (random prime search): alternate the two, side by side.
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut ratios = Vec::new();
    let (mut keygen_runs, mut apply_runs) = (Vec::new(), Vec::new());
    for run in 1..=RUNS {
        let keys = keygen_on_all_cores(CREATES, cores);
        let apply = apply_creates(CREATES, "vapp.state.json", &[]);
        println!("  run {run}: {CREATES} keys {keys:.3} s, apply {apply:.3} s, ratio {:.2}", apply / keys);
        ratios.push(apply / keys);
        keygen_runs.push(keys);
        apply_runs.push(apply);
    }
    let keys = median(keygen_runs);
    let apply = median(apply_runs);
    report(
        &format!("make {CREATES} RSA-2048 keys with AWS-LC on {cores} cores (median of {RUNS})"),
        keys,
        "s",
        "(baseline)",
        true,
    );
    report(&format!("vapp apply: {CREATES} creates, 20 ms latency (median of {RUNS})"), apply, "s", "(measured)", true);
    let ratio = median(ratios.clone());
    report(&format!("vapp apply / keygen, run by run (median of {RUNS})"), ratio, "x", "<= 1.2x", ratio <= 1.2);
    report("median apply / median keygen", apply / keys, "x", "<= 1.2x", apply / keys <= 1.2);
    let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
    println!("apply / keygen per run: {}", shown.join(", "));
}

/// The first apply of a repository the speed goal is set for.
const CREATES: usize = 48;
/// Key generation varies run to run (a random prime search): enough runs for a steady median.
const RUNS: usize = 9;

async fn get_throughput(emulator: &EmulatorProcess, window: Duration) -> f64 {
    let ids: Vec<String> = emulator
        .client()
        .list_all()
        .await
        .expect("list")
        .into_iter()
        .filter_map(|a| a.id.map(vapp::model::AppId::into_string))
        .collect();
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).build().expect("http");
    let done = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + window;
    let mut tasks = Vec::new();
    for worker in 0..64 {
        let (http, done, ids, base) = (http.clone(), done.clone(), ids.clone(), emulator.url.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = worker;
            while Instant::now() < deadline {
                let url = format!("{base}/v2/applications/{}", ids[n % ids.len()]);
                let response = http.get(url).basic_auth("sandbox", Some("sandbox")).send().await.expect("get");
                assert!(response.status().is_success());
                let _ = response.bytes().await;
                done.fetch_add(1, Ordering::Relaxed);
                n += 64;
            }
        }));
    }
    let started = Instant::now();
    for task in tasks {
        task.await.expect("worker");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// Writes a manifest and a state that manage 1,000 of the live applications as they are, then times
/// `vapp plan` on them (process start, manifests, listing, planning, rendering) and measures its peak
/// resident memory: the seconds and the megabytes, medians.
fn plan_thousand_of_ten_thousand(emulator: &EmulatorProcess, live: &[vapp::model::Application]) -> (f64, f64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut manifest = String::from("version: 1\napplications:\n");
    let mut state = vapp::state::State::new("bench".into());
    for (i, app) in live.iter().take(1000).enumerate() {
        let bare = app.without_extras();
        let capabilities = serde_json::to_string(&bare.capabilities).expect("json");
        let privacy = serde_json::to_string(&bare.privacy).expect("json");
        manifest.push_str(&format!(
            "  app-{i}:\n    name: {}\n    capabilities: {capabilities}\n    privacy: {privacy}\n",
            serde_json::to_string(&app.name).expect("json")
        ));
        state.applications.insert(
            vapp::model::Address::new(format!("app-{i}")),
            vapp::state::StateEntry {
                id: app.id.clone(),
                key: vapp::state::KeyRecord::Unknown { fingerprint: None },
                protect: false,
                applied: None,
                ..Default::default()
            },
        );
    }
    std::fs::write(dir.path().join("vapp.yaml"), manifest).expect("manifest");
    vapp::state::create_file(&dir.path().join("vapp.state.json"), &mut state).expect("state");
    let plan = |flag: &str| {
        // `/usr/bin/time -f %M` prints the peak resident set in KB on stderr's last line.
        Command::new("/usr/bin/time")
            .args(["-f", "%M", &bin()])
            .current_dir(dir.path())
            .args(["plan", flag])
            .env("VAPP_API_URL", &emulator.url)
            .env("VONAGE_API_KEY", "sandbox")
            .env("VONAGE_API_SECRET", "sandbox")
            .output()
            .expect("vapp plan")
    };
    let (mut samples, mut peaks) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let started = Instant::now();
        let output = plan("--detailed-exitcode");
        samples.push(started.elapsed().as_secs_f64());
        assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stdout));
        let stderr = String::from_utf8_lossy(&output.stderr);
        let kb: f64 = stderr.lines().last().and_then(|l| l.trim().parse().ok()).expect("a peak from /usr/bin/time");
        peaks.push(kb / 1024.0);
    }
    // Where the time goes, as `-v` says it.
    let output = plan("-v");
    for line in String::from_utf8_lossy(&output.stderr).lines().filter(|l| l.contains("time:") || l.contains("read ")) {
        println!("  vapp plan -v: {}", line.trim());
    }
    (median(samples), median(peaks))
}

fn keygen_on_all_cores(count: usize, cores: usize) -> f64 {
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            let next = next.clone();
            std::thread::spawn(move || {
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    vapp::keys::generate().expect("key");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("keygen thread");
    }
    started.elapsed().as_secs_f64()
}

/// `vapp apply` of 100 creates at 20 ms latency, with the state at `state`.
fn apply_hundred_creates(state: &str, env: &[(&'static str, String)]) -> f64 {
    apply_creates(100, state, env)
}

/// `vapp apply` of `count` creates at 20 ms latency, with the state at `state`.
fn apply_creates(count: usize, state: &str, env: &[(&'static str, String)]) -> f64 {
    let emulator = EmulatorProcess::start(&["--latency-ms", "20"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut manifest = String::from("version: 1\napplications:\n");
    for i in 0..count {
        manifest.push_str(&format!(
            "  app-{i}:\n    name: App {i}\n    capabilities:\n      voice:\n        webhooks:\n          answer_url: https://a{i}.example.com/answer\n"
        ));
    }
    std::fs::write(dir.path().join("vapp.yaml"), manifest).expect("manifest");
    let started = Instant::now();
    let output = Command::new(bin())
        .current_dir(dir.path())
        .args(["apply", "--auto-approve", "-q", "--state", state])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("VAPP_API_URL", &emulator.url)
        .env("VONAGE_API_KEY", "sandbox")
        .env("VONAGE_API_SECRET", "sandbox")
        .output()
        .expect("vapp apply");
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    elapsed
}

/// A first apply of 1,000 applications beside one of 100, per create: group commit writes the whole
/// state a handful of times per round of creates, so a create must not cost more as the state grows.
fn apply_thousand_creates() {
    let hundred = apply_creates(100, "vapp.state.json", &[]) / 100.0;
    let thousand = apply_creates(1000, "vapp.state.json", &[]) / 1000.0;
    report("vapp apply: 100 creates, 20 ms latency, per create", hundred * 1000.0, "ms", "(baseline)", true);
    report("vapp apply: 1,000 creates, 20 ms latency, per create", thousand * 1000.0, "ms", "(measured)", true);
    let ratio = thousand / hundred;
    report("per create, 1,000 / 100", ratio, "x", "<= 1.3x", ratio <= 1.3);
}

/// The same apply of 100 creates with the state on the local file, PostgreSQL and S3, alternating.
fn backends() {
    let pg = engines::Postgres::shared();
    let moto = engines::Moto::shared();
    let (mut file, mut postgres, mut s3) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..3 {
        file.push(apply_hundred_creates("vapp.state.json", &[]));
        postgres.push(apply_hundred_creates(&pg.url(&format!("bench{run}_{}", std::process::id()), "default"), &[]));
        let bucket = format!("bench-{run}-{}", std::process::id());
        moto.bucket(&bucket);
        s3.push(apply_hundred_creates(&format!("s3://{bucket}/vapp.state.json"), &moto.env()));
    }
    let (file, postgres, s3) = (median(file), median(postgres), median(s3));
    report("vapp apply: 100 creates, state in a local file (median of 3)", file, "s", "(baseline)", true);
    for (name, time) in [("PostgreSQL", postgres), ("S3 (moto)", s3)] {
        report(
            &format!("vapp apply: 100 creates, state on {name} (median of 3)"),
            time,
            "s",
            &format!("<= {:.2} s", file * 1.1),
            time <= file * 1.1,
        );
        println!("{name} / file = {:.2}", time / file);
    }
}
