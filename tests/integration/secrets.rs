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
