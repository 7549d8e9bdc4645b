//! Secrets that must never reach a message, a state or a process list, tried through the binary:
//! user info in URL options, passwords in state locations, credentials that are missing, and servers
//! whose error pages are not JSON.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

use vapp::api::ApplicationApi;

use crate::harness::{config, BackgroundEmulator, Workspace};

const ONE: &str = "version: 1\napplications:\n  a:\n    name: A\n    capabilities: { rtc: {} }\n";

/// A URL option carrying `user:password@` is refused before anything runs, never echoed, never stored.
#[test]
fn user_info_in_a_url_option_is_refused_and_never_shown() {
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", ONE);
    let with_secret = emulator.url.replace("http://", "http://KEYNAME:SUPERSECRET@");
    let attempts: [(&str, Vec<&str>); 4] = [
        ("flag", vec!["--api-url", &with_secret, "apply", "--auto-approve"]),
        ("numbers flag", vec!["--numbers-url", &with_secret, "plan"]),
        ("env", vec!["apply", "--auto-approve"]),
        ("help", vec!["plan", "--help"]),
    ];
    for (how, args) in attempts {
        let vapp = match how {
            "env" | "help" => ws.vapp().env("VAPP_API_URL", &with_secret),
            _ => ws.vapp(),
        };
        let run = vapp.args(&args).run();
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(!all.contains("SUPERSECRET") && !all.contains("KEYNAME"), "{how}: {run:?}");
        if how != "help" {
            assert_eq!(run.code, 1, "{how}: {run:?}");
            assert!(run.stderr.contains("must not carry a user name or password"), "{how}: {run:?}");
            assert!(run.stderr.contains("VONAGE_API_SECRET"), "{how}: the help says where credentials go: {run:?}");
        }
    }
    assert!(!ws.path().join("vapp.state.json").exists(), "nothing was written");
    assert!(emulator.block_on(emulator.client().list_all()).unwrap().is_empty(), "nothing was created");
}

/// A missing key is reported as missing, before the state's account binding is compared with it.
#[test]
fn missing_credentials_are_reported_before_anything_else() {
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", ONE);
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    for command in [&["plan"][..], &["apply", "--auto-approve"][..], &["export"][..], &["import", "a", "x"][..]] {
        let run = ws.vapp().env("VONAGE_API_KEY", "").args(command).expect(1);
        assert!(run.stderr.contains("VONAGE_API_KEY is not set"), "{command:?}: {run:?}");
        assert!(!run.stderr.contains("belongs to"), "{command:?}: no comparison with an empty key: {run:?}");
    }
    let run = ws.vapp().env_remove("VONAGE_API_SECRET").args(["plan"]).expect(1);
    assert!(run.stderr.contains("VONAGE_API_SECRET is not set"), "{run:?}");
}

/// A libpq keyword string is not a file name: refused without its password.
#[test]
fn a_postgres_keyword_string_is_refused_without_its_password() {
    let ws = Workspace::new("http://127.0.0.1:9");
    ws.write("vapp.yaml", ONE);
    for args in [
        vec!["--state", "host=db.example.com dbname=vapp user=vapp password=SUPERSECRET", "state", "list"],
        vec!["state", "migrate", "--to", "host=db dbname=vapp password=SUPERSECRET"],
    ] {
        let run = ws.vapp().args(&args).expect(1);
        assert!(!run.stderr.contains("SUPERSECRET"), "{run:?}");
        assert!(run.stderr.contains("looks like a PostgreSQL keyword string"), "{run:?}");
        assert!(run.stderr.contains("password=…"), "{run:?}");
    }
    let run = ws.vapp().env("VAPP_STATE", "postgres://u:SUPERSECRET@[::1/db").args(["state", "list"]).expect(1);
    assert!(!run.stderr.contains("SUPERSECRET") && run.stderr.contains("does not parse"), "{run:?}");
    assert_eq!(std::fs::read_dir(ws.path()).unwrap().count(), 1, "no file was made: {:?}", ws.path());
}

/// A server's error page that is not JSON is quoted printable, on one line, and short.
#[test]
fn an_error_page_is_quoted_without_control_characters() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16).flatten() {
            let mut stream = stream;
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let page = format!("<html>\x1b[2J\x1b]0;pwned\x07{}</html>", "Access denied. ".repeat(40));
            let answer = format!(
                "HTTP/1.1 403 Forbidden\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                page.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    let ws = Workspace::new(&format!("http://{address}"));
    ws.write("vapp.yaml", ONE);
    let run = ws.vapp().args(["-v", "plan"]).expect(1);
    assert!(!run.stderr.contains('\x1b') && !run.stderr.contains('\x07'), "{run:?}");
    let error = run.stderr.lines().find(|l| l.starts_with("error:")).unwrap_or_default().to_string();
    assert!(error.contains("not the API's JSON") && error.contains("Access denied"), "{run:?}");
    assert!(error.contains('…') && error.chars().count() < 400, "bounded: {error}");
}

/// The emulator takes its secret from the environment, where `ps` does not show it, and says so.
#[test]
fn the_emulator_secret_can_stay_out_of_the_process_list() {
    let help = Command::new(env!("CARGO_BIN_EXE_vapp"))
        .args(["emulator", "--help"])
        .env("VAPP_EMULATOR_API_SECRET", "SUPERSECRET")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("VAPP_EMULATOR_API_SECRET") && !help.contains("SUPERSECRET"), "{help}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vapp"))
        .args(["emulator", "--listen", "127.0.0.1:0", "--api-key", "k"])
        .env("VAPP_EMULATOR_API_SECRET", "SUPERSECRET")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").unwrap().to_string();
    #[cfg(target_os = "linux")]
    {
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", child.id())).unwrap();
        assert!(!String::from_utf8_lossy(&cmdline).contains("SUPERSECRET"));
    }
    let ws = Workspace::new(&url);
    ws.write("vapp.yaml", ONE);
    let run = ws.vapp().env("VONAGE_API_KEY", "k").env("VONAGE_API_SECRET", "SUPERSECRET").args(["plan"]).run();
    let wrong = ws.vapp().env("VONAGE_API_KEY", "k").env("VONAGE_API_SECRET", "sandbox").args(["plan"]).run();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(wrong.code, 1, "the default secret no longer opens it: {wrong:?}");
}

/// A webhook URL's password (or a token as its user name) is sent to Vonage and shown nowhere: not
/// by a plan in any format, not by apply, export or `state show`, not in the state or a saved plan.
/// A changed password is a change, said as one; a plan with passwords is saved only sealed.
#[test]
fn a_webhook_password_is_sent_and_never_shown_or_kept() {
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    let manifest = |password: &str| {
        format!(
            "version: 1\napplications:\n  support:\n    name: Support\n    capabilities:\n      voice:\n        webhooks:\n          answer_url: https://bot:{password}@a.example/answer\n          event_url: https://TOKENUSER@a.example/event\n"
        )
    };
    ws.write("vapp.yaml", &manifest("HUNTER2PASSWORD"));
    let never = |run: &crate::harness::Run, what: &str| {
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(!all.contains("HUNTER2") && !all.contains("TOKENUSER"), "{what}: {run:?}");
    };
    for format in ["human", "json", "markdown"] {
        let run = ws.vapp().args(["plan", "--format", format]).expect(0);
        never(&run, format);
        assert!(run.stdout.contains("https://bot:***@a.example/answer"), "{format}: {run:?}");
    }
    // Saved only sealed: refused without a passphrase, saying where the passwords are.
    let refused = ws.vapp().args(["plan", "-o", "plan.json"]).expect(1);
    never(&refused, "plan -o");
    assert!(refused.stderr.contains("support: capabilities.voice.webhooks.answer_url"), "{refused:?}");
    assert!(refused.stderr.contains("passphrase"), "{refused:?}");
    assert!(!ws.path().join("plan.json").exists());
    let saved = ws.vapp().env("VAPP_STATE_PASSPHRASE", "correct horse").args(["plan", "-o", "plan.json"]).expect(0);
    never(&saved, "plan -o with a passphrase");
    let file = std::fs::read_to_string(ws.path().join("plan.json")).unwrap();
    assert!(!file.contains("HUNTER2") && !file.contains("TOKENUSER") && file.contains("sealed_urls"), "{file}");
    let no_passphrase = ws.vapp().args(["apply", "plan.json"]).expect(1);
    assert!(no_passphrase.stderr.contains("passphrase"), "{no_passphrase:?}");
    let applied = ws.vapp().env("VAPP_STATE_PASSPHRASE", "correct horse").args(["apply", "plan.json"]).expect(0);
    never(&applied, "apply");
    // Vonage got the URLs whole.
    let live = emulator.block_on(emulator.client().list_all()).unwrap();
    let voice = live[0].capabilities.as_ref().and_then(|c| c.voice.as_ref()).and_then(|v| v.webhooks.as_ref()).unwrap();
    assert_eq!(voice.answer_url.as_ref().unwrap().address.expose(), "https://bot:HUNTER2PASSWORD@a.example/answer");
    assert_eq!(voice.event_url.as_ref().unwrap().address.expose(), "https://TOKENUSER@a.example/event");
    // The state keeps the passwords' digests only, sealed with the passphrase as the keys are.
    let state = std::fs::read_to_string(ws.path().join("vapp.state.json")).unwrap();
    assert!(!state.contains("HUNTER2") && !state.contains("TOKENUSER"), "{state}");
    assert!(!state.contains("sha256-") && state.contains("https://bot:sealed-"), "{state}");
    let passphrase = |vapp: crate::harness::Vapp| vapp.env("VAPP_STATE_PASSPHRASE", "correct horse");
    let again = passphrase(ws.vapp()).args(["plan", "--detailed-exitcode"]).expect(0);
    never(&again, "plan again");
    // Without the passphrase (a pull request's plan), a sealed digest is no evidence of a change.
    ws.vapp().args(["plan", "--detailed-exitcode"]).expect(0);
    // A password changed outside vapp is drift, told with the passphrase; it is put back either way.
    let id = live[0].id.clone().unwrap();
    let mut changed = live[0].clone();
    let hooks = changed.capabilities.as_deref_mut().and_then(|c| c.voice.as_mut()).and_then(|v| v.webhooks.as_mut());
    hooks.unwrap().answer_url.as_mut().unwrap().address =
        vapp::model::WebhookUrl::new("https://bot:DASHBOARD2@a.example/answer");
    emulator.block_on(emulator.client().update(&id, &changed)).unwrap();
    let drift = passphrase(ws.vapp()).args(["plan", "--detailed-exitcode"]).expect(2);
    never(&drift, "drift");
    assert!(drift.stdout.contains("Changed outside vapp") && drift.stdout.contains("(password changed)"), "{drift:?}");
    let blind = ws.vapp().args(["plan", "--detailed-exitcode"]).expect(2);
    assert!(!blind.stdout.contains("Changed outside vapp") && blind.stdout.contains("(password changed)"), "{blind:?}");
    never(&passphrase(ws.vapp()).args(["apply", "--auto-approve"]).expect(0), "apply over drift");
    passphrase(ws.vapp()).args(["plan", "--detailed-exitcode"]).expect(0);
    never(&passphrase(ws.vapp()).args(["state", "show", "support"]).expect(0), "state show");
    // A changed password is an update that says so, and shows neither password.
    ws.write("vapp.yaml", &manifest("NEWHUNTER2"));
    for format in ["human", "json", "markdown"] {
        let run = passphrase(ws.vapp()).args(["plan", "--format", format, "--detailed-exitcode"]).expect(2);
        never(&run, format);
        let said = match format {
            "json" => run.stdout.contains("\"secret_changed\": true") || run.stdout.contains("\"secret_changed\":true"),
            _ => run.stdout.contains("(password changed)"),
        };
        assert!(said, "{format}: {run:?}");
    }
    never(&passphrase(ws.vapp()).args(["apply", "--auto-approve"]).expect(0), "apply the new password");
    passphrase(ws.vapp()).args(["plan", "--detailed-exitcode"]).expect(0);
    // Export refers to each password by a variable, and the manifest it writes reads back the same.
    let exported = passphrase(ws.vapp()).args(["export"]).expect(0);
    never(&exported, "export");
    assert!(exported.stdout.contains("${SUPPORT_VOICE_ANSWER_URL_PASSWORD}"), "{exported:?}");
    assert!(exported.stderr.contains("SUPPORT_VOICE_EVENT_URL_PASSWORD: the password of support"), "{exported:?}");
    ws.write("vapp.yaml", &exported.stdout);
    passphrase(ws.vapp())
        .env("SUPPORT_VOICE_ANSWER_URL_PASSWORD", "NEWHUNTER2")
        .env("SUPPORT_VOICE_EVENT_URL_PASSWORD", "TOKENUSER")
        .args(["plan", "--detailed-exitcode"])
        .expect(0);
}
