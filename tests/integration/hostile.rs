//! Hostile and careless input through the real binary: no panic, no hang, bounded memory, a clear
//! message and the exit code the README gives, and the state untouched where nothing should change.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use vapp::api::ApplicationApi;
use vapp::apply::{Cancel, Executor};
use vapp::emulator::InProcess;
use vapp::state::backend::MemoryBackend;
use vapp::state::{State, StateStore};

use crate::harness::{config, key_pool, BackgroundEmulator, Quiet, Workspace};

const ONE: &str = "version: 1\napplications:\n  a:\n    name: A\n";

#[test]
fn endless_and_exploding_input_is_refused_with_its_bound() {
    let ws = Workspace::new("http://127.0.0.1:9");
    // Ten nested aliases, each nine times the last: a billion strings from 400 bytes.
    let mut laughs = String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    for i in 1..10u8 {
        let (prev, cur) = ((b'a' + i - 1) as char, (b'a' + i) as char);
        laughs.push_str(&format!(
            "{cur}: &{cur} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
    }
    ws.write("laughs.yaml", &laughs);
    let run = ws.vapp().args(["validate", "-f", "laughs.yaml"]).expect(1);
    assert!(run.stderr.contains("expands to more than 100000 YAML nodes"), "{run:?}");

    let deep = format!("version: 1\napplications: {}{}\n", "[".repeat(100), "]".repeat(100));
    ws.write("deep.yaml", &deep);
    let run = ws.vapp().args(["validate", "-f", "deep.yaml"]).expect(1);
    assert!(run.stderr.contains("nested deeper than 64 levels"), "{run:?}");
    // Deeper still, the parser's own limit answers first; either way, a line is quoted, not a file.
    ws.write("deeper.yaml", &format!("version: 1\napplications: {}{}\n", "[".repeat(50_000), "]".repeat(50_000)));
    let run = ws.vapp().args(["validate", "-f", "deeper.yaml"]).expect(1);
    assert!(run.stderr.len() < 1000, "{run:?}");

    ws.write("big.yaml", &"#".repeat(9 * 1024 * 1024));
    let run = ws.vapp().args(["validate", "-f", "big.yaml"]).expect(1);
    assert!(run.stderr.contains("the most vapp reads for a manifest"), "{run:?}");
    #[cfg(unix)]
    {
        for endless in ["/dev/zero", "/dev/urandom"] {
            let run = ws.vapp().args(["validate", "-f", endless]).expect(1);
            assert!(run.stderr.contains("is not a regular file"), "{run:?}");
        }
        ws.write(
            "key.yaml",
            "version: 1\napplications:\n  a:\n    name: A\n    keys: { public_key_file: /dev/zero }\n",
        );
        let run = ws.vapp().args(["validate", "-f", "key.yaml"]).expect(1);
        assert!(run.stderr.contains("is not a regular file"), "{run:?}");
        let fifo = ws.path().join("fifo.yaml");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let run = ws.vapp().args(["validate", "-f", "fifo.yaml"]).expect(1);
            assert!(run.stderr.contains("is not a regular file"), "{run:?}");
        }
    }
}

#[test]
fn thousands_of_problems_are_reported_quickly_and_briefly() {
    let ws = Workspace::new("http://127.0.0.1:9");
    let mut text = String::from("version: 1\napplications:\n");
    for i in 0..20_000 {
        text.push_str(&format!("  a{i}:\n    name: ${{UNSET_{i}}}\n"));
    }
    ws.write("vars.yaml", &text);
    let run = ws.vapp().args(["validate", "-f", "vars.yaml"]).expect(1);
    assert_eq!(run.stderr.matches("error: ").count(), 100, "{}", &run.stderr[..500]);
    assert!(run.stderr.contains("only the first 100 problems are shown"));
}

#[test]
fn numbers_out_of_range_are_usage_errors_and_usage_errors_exit_1() {
    let ws = Workspace::new("http://127.0.0.1:9");
    ws.write("vapp.yaml", ONE);
    for (args, expected) in [
        (&["apply", "--lock-timeout", "18446744073709551615s"][..], "at most 24h"),
        (&["apply", "--parallelism", "0"][..], "not in 1..=256"),
        (&["emulator", "--seed-apps", "99999999999"][..], "not in 0..=100000"),
        (&["emulator", "--fail-rate", "1.5"][..], "not between 0 and 1"),
        (&["emulator", "--latency-ms", "-1"][..], "unexpected argument"),
        (&["token", "a", "--ttl", "25h"][..], "at most 24h"),
        (&["plan", "--no-such-option"][..], "unexpected argument"),
        (&["no-such-command"][..], "unrecognized subcommand"),
    ] {
        let run = ws.vapp().args(args).expect(1);
        assert!(run.stderr.contains(expected), "{args:?}: {run:?}");
    }
    ws.vapp().args(["--help"]).expect(0);
}

#[test]
fn a_directory_without_manifests_deletes_nothing() {
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    ws.write("apps/a.yaml", ONE);
    ws.vapp().args(["apply", "-f", "apps", "--auto-approve"]).expect(0);
    let before = std::fs::read(ws.path().join("vapp.state.json")).unwrap();
    std::fs::remove_file(ws.path().join("apps/a.yaml")).unwrap();
    ws.write("apps/README.md", "not a manifest");
    let run = ws.vapp().args(["apply", "-f", "apps", "--auto-approve"]).expect(1);
    assert!(run.stderr.contains("holds no manifest"), "{run:?}");
    assert!(run.stderr.contains("applications: {}"), "the explicit way is named: {run:?}");
    assert_eq!(std::fs::read(ws.path().join("vapp.state.json")).unwrap(), before, "the state is untouched");
    ws.write("apps/none.yaml", "version: 1\napplications: {}\n");
    let run = ws.vapp().args(["plan", "-f", "apps", "--format", "json"]).expect(0);
    assert_eq!(run.json()["summary"]["delete"], 1, "said explicitly, it is a plan like any other");
}

#[test]
fn a_state_is_not_used_against_another_account() {
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", ONE);
    // The quick start (the sandbox) and the tour (an emulator) in one directory do not trip over each
    // other: the sandbox keeps its own state.
    ws.vapp().args(["--sandbox", "apply", "--auto-approve"]).expect(0);
    assert!(ws.path().join(".vapp/sandbox.state.json").exists());
    assert!(!ws.path().join("vapp.state.json").exists());
    let run = ws.vapp().args(["plan", "--format", "json"]).expect(0);
    assert_eq!(run.json()["summary"]["create"], 1, "the tour's account starts empty");
    ws.vapp().args(["--sandbox", "plan", "--detailed-exitcode"]).expect(0);
    // Told to share one state file, the sandbox's state is refused against another account.
    std::fs::rename(ws.path().join(".vapp/sandbox.state.json"), ws.path().join("vapp.state.json")).unwrap();
    let state = ws.state();
    assert_eq!(state["account"], serde_json::json!({"sandbox": true}));
    let before = std::fs::read(ws.path().join("vapp.state.json")).unwrap();
    // The quick start's sandbox state, then the tour's emulator: refused, nothing recreated.
    for command in [&["plan"][..], &["apply", "--auto-approve"][..], &["destroy", "--auto-approve"][..]] {
        let run = ws.vapp().args(command).expect(1);
        assert!(run.stderr.contains("belongs to the sandbox, but this run uses API key test-key"), "{run:?}");
        assert!(run.stderr.contains("--allow-other-account"), "{run:?}");
    }
    assert_eq!(std::fs::read(ws.path().join("vapp.state.json")).unwrap(), before, "the state is untouched");
    assert!(emulator.block_on(emulator.client().list_all()).unwrap().is_empty(), "nothing was created");
    // Said explicitly: used, and the new account recorded.
    ws.vapp().args(["apply", "--auto-approve", "--allow-other-account"]).expect(0);
    assert_eq!(ws.state()["account"]["api_key"], "test-key");
    // The URL may change: an emulator's port changes between runs, regional hosts reach one account.
    let moved = BackgroundEmulator::start(config());
    let run = ws.vapp().env("VAPP_API_URL", &moved.url).args(["plan"]).expect(0);
    assert!(!run.stderr.contains("belongs to"), "{run:?}");
}

#[test]
fn a_state_never_echoes_its_values_and_a_newer_one_is_not_rolled_back() {
    let ws = Workspace::new("http://127.0.0.1:9");
    ws.write("vapp.yaml", ONE);
    let secret = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n";
    let mut body: Value = serde_json::json!({
        "format": "vapp-state", "version": 1, "lineage": "l", "serial": 3,
        "applications": {"a": {"id": "x", "key": {"custody": "unknown"}, "protect": secret}}
    });
    let sum = vapp::state::codec::sha256_hex(&serde_json::to_vec(&body).unwrap());
    body["checksum"] = Value::String(sum);
    ws.write("vapp.state.json", &serde_json::to_string_pretty(&body).unwrap());
    let run = ws.vapp().args(["state", "list"]).expect(1);
    assert!(!run.stderr.contains("MIIEvQ") && !run.stderr.contains("BEGIN PRIVATE"), "{run:?}");
    assert!(run.stderr.contains("`applications.a.protect` must be true or false"), "{run:?}");

    let newer = serde_json::json!({"format": "vapp-state", "version": 2, "lineage": "l", "serial": 9});
    ws.write("vapp.state.json", &newer.to_string());
    let run = ws.vapp().args(["state", "list"]).expect(1);
    assert!(run.stderr.contains("was written by a newer vapp (state format version 2"), "{run:?}");
    assert!(!run.stderr.contains("cp "), "no restore of an older version is offered: {run:?}");
}

#[test]
fn what_cannot_succeed_fails_at_once_with_the_reason() {
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", ONE);
    // TLS to the emulator's plain HTTP port; a URL that is not http(s); something that is not HTTP.
    let https = emulator.url.replace("http://", "https://");
    let run = ws.vapp().env("VAPP_API_URL", &https).args(["plan"]).expect(1);
    assert!(run.stderr.contains("does not speak HTTP, or not TLS"), "{run:?}");
    assert!(!run.stderr.contains("retrying"), "{run:?}");
    let run = ws.vapp().env("VAPP_API_URL", "ftp://example.com").args(["plan"]).expect(1);
    assert!(run.stderr.contains("is not an http:// or https:// URL"), "{run:?}");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4).flatten() {
            let mut stream = stream;
            let _ = std::io::Write::write_all(&mut stream, b"SSH-2.0-OpenSSH_9.6\r\n");
        }
    });
    let run = ws.vapp().env("VAPP_API_URL", &format!("http://{address}")).args(["plan"]).expect(1);
    assert!(run.stderr.contains("does not speak HTTP"), "{run:?}");
}

#[test]
fn export_never_overwrites_or_leaves_a_directory_that_does_not_load() {
    let emulator = BackgroundEmulator::start(vapp::emulator::EmulatorConfig { seed_apps: 2, ..config() });
    let ws = Workspace::new(&emulator.url);
    ws.vapp().args(["export", "-o", "apps"]).expect(0);
    let file = std::fs::read_dir(ws.path().join("apps")).unwrap().next().unwrap().unwrap().path();
    std::fs::write(&file, format!("# my comment\n{}", std::fs::read_to_string(&file).unwrap())).unwrap();
    let run = ws.vapp().args(["export", "-o", "apps"]).expect(1);
    assert!(run.stderr.contains("export would overwrite 2 manifests") && run.stderr.contains("--force"), "{run:?}");
    assert!(std::fs::read_to_string(&file).unwrap().starts_with("# my comment"), "nothing overwritten");
    // Another file declaring an address export writes: the directory would not load.
    let address = file.file_stem().unwrap().to_str().unwrap().to_string();
    ws.write("more/other.yaml", &format!("version: 1\napplications:\n  {address}:\n    name: X\n"));
    let run = ws.vapp().args(["export", "-o", "more"]).expect(1);
    assert!(run.stderr.contains("the directory would not load"), "{run:?}");
    ws.vapp().args(["export", "-o", "apps", "--force"]).expect(0);
    ws.vapp().args(["validate", "-f", "apps"]).expect(0);
}

/// When the state cannot be written (a full disk), no new action starts: what started is finished
/// and recorded as far as possible, nothing more is sent.
#[tokio::test]
async fn after_a_failed_state_write_no_new_action_starts() {
    let desired = {
        let mut text = String::from("version: 1\napplications:\n");
        for i in 0..8 {
            text.push_str(&format!("  app-{i}:\n    name: App {i}\n"));
        }
        vapp::manifest::load_sources(&[vapp::manifest::Source { path: "m.yaml".into(), text }], &|_| None).unwrap()
    };
    let api = InProcess::default();
    let backend = Arc::new(MemoryBackend::new());
    let store = StateStore::new(backend.clone(), State::new("full-disk".into()), None);
    let plan = vapp::plan::plan(&vapp::plan::PlanInput {
        desired: &desired,
        state: None,
        live: &[],
        targets: &[],
        numbers: &[],
    })
    .unwrap();
    backend.fail_writes_after(3);
    struct Pool;
    impl vapp::apply::KeySource for Pool {
        fn generate(&self) -> Result<vapp::keys::KeyPair, vapp::keys::KeyError> {
            static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            Ok(key_pool()[NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst) % 20].clone())
        }
    }
    let cancel = Cancel::default();
    let executor = Executor {
        api: &api,
        numbers: &api,
        store: &store,
        keys: Arc::new(Pool),
        parallelism: 1,
        progress: &Quiet,
        cancel: &cancel,
        retry: vapp::api::RetryPolicy { max_attempts: 1, ..Default::default() },
        settle: Duration::ZERO,
        slots: None,
    };
    let report = executor.execute(&plan).await;
    assert!(report.not_started() >= 5, "{report:?}");
    // Each create writes its key before the POST: a create whose first write failed sent nothing.
    let created = api.applications().len();
    assert!(created <= 2, "{created} applications created after the state stopped being written");
    assert_eq!(backend.writes(), 3);
}
