//! The command line itself, through the real binary: help, completions, man pages, the key formats
//! application servers read, and `state list`.

use crate::harness::Workspace;

const ONE: &str = "version: 1\napplications:\n  support_line:\n    name: Support\n    capabilities: { rtc: {} }\n";

/// A workspace whose sandbox manages `support_line`.
fn applied() -> Workspace {
    let ws = Workspace::new("http://127.0.0.1:9");
    ws.write("vapp.yaml", ONE);
    ws.vapp().args(["--sandbox", "apply", "--auto-approve"]).expect(0);
    ws
}

#[test]
fn help_puts_global_options_under_their_own_heading_and_offers_only_what_a_command_uses() {
    let ws = Workspace::new("http://127.0.0.1:9");
    let plan = ws.vapp().args(["plan", "--help"]).expect(0).stdout;
    let (own, global) = plan.split_once("Global options:").expect("a Global options heading");
    assert!(own.contains("--detailed-exitcode") && !own.contains("--state"), "{plan}");
    assert!(global.contains("--state") && global.contains("-f, --file") && global.contains("--sandbox"), "{plan}");
    for command in [&["emulator", "--help"][..], &["schema", "--help"][..], &["completions", "--help"][..]] {
        let help = ws.vapp().args(command).expect(0).stdout;
        for absent in ["--state", "--file", "--sandbox", "--api-url", "--passphrase-file"] {
            assert!(!help.contains(absent), "`vapp {command:?}` offers {absent}:\n{help}");
        }
        assert!(help.contains("Global options:") && help.contains("--quiet"), "{help}");
    }
    let validate = ws.vapp().args(["validate", "--help"]).expect(0).stdout;
    assert!(validate.contains("--file") && !validate.contains("--state"), "{validate}");
    let token = ws.vapp().args(["token", "--help"]).expect(0).stdout;
    assert!(token.contains("<ADDRESS>  The application's address"), "{token}");
}

#[test]
fn completions_and_man_pages_come_from_the_same_definitions() {
    let ws = Workspace::new("http://127.0.0.1:9");
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef vapp"),
        ("fish", "complete -c vapp"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let script = ws.vapp().args(["completions", shell]).expect(0).stdout;
        assert!(script.contains(marker), "{shell}:\n{}", &script[..script.len().min(400)]);
        assert!(script.contains("numbers-pace") && script.contains("k8s-secret"), "{shell} lacks options");
    }
    let run = ws.vapp().args(["completions", "tcsh"]).expect(1);
    assert!(run.stderr.contains("possible values"), "{run:?}");

    let page = ws.vapp().args(["man"]).expect(0).stdout;
    assert!(page.starts_with(".ie") || page.contains(".TH vapp"), "{}", &page[..page.len().min(300)]);
    assert!(page.contains("apply") && page.contains("completions"));
    ws.vapp().args(["man", "--out-dir", "man"]).expect(0);
    for name in ["vapp.1", "vapp-plan.1", "vapp-state-list.1", "vapp-key-show.1"] {
        let text = std::fs::read_to_string(ws.path().join("man").join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(text.contains(".TH"), "{name}");
    }
    let show = std::fs::read_to_string(ws.path().join("man/vapp-key-show.1")).unwrap();
    assert!(show.contains("k8s\\-secret") || show.contains("k8s-secret"), "{show}");
}

/// What a dotenv parser reads from a double-quoted value with `\n` escapes.
fn dotenv_value(text: &str, name: &str) -> String {
    let line =
        text.lines().find_map(|l| l.strip_prefix(&format!("{name}="))).unwrap_or_else(|| panic!("{name} in {text}"));
    let quoted = line.strip_prefix('"').and_then(|l| l.strip_suffix('"')).expect("double-quoted");
    quoted.replace("\\n", "\n").replace("\\\"", "\"").replace("\\\\", "\\")
}

#[test]
fn key_show_writes_what_application_servers_read() {
    let ws = applied();
    let pem = ws.vapp().args(["--sandbox", "key", "show", "support_line"]).expect(0).stdout;
    let id = ws.vapp().args(["--sandbox", "state", "list"]).expect(0).stdout;
    let id = id.split_whitespace().nth(1).unwrap().to_string();

    let env = ws.vapp().args(["--sandbox", "key", "show", "support_line", "--format", "env"]).expect(0).stdout;
    assert_eq!(env.lines().count(), 2, "one line each:\n{env}");
    assert_eq!(dotenv_value(&env, "VONAGE_APPLICATION_ID"), id);
    assert_eq!(dotenv_value(&env, "VONAGE_PRIVATE_KEY"), pem);

    let secret =
        ws.vapp().args(["--sandbox", "key", "show", "support_line", "--format", "k8s-secret"]).expect(0).stdout;
    let document = vapp::manifest::yaml_document(&secret).unwrap();
    assert_eq!(document["kind"], "Secret");
    assert_eq!(document["metadata"]["name"], "support-line", "the address as a Kubernetes name");
    assert_eq!(document["stringData"]["VONAGE_APPLICATION_ID"], id.as_str());
    assert_eq!(document["stringData"]["VONAGE_PRIVATE_KEY"], pem.as_str());
    let named = ws
        .vapp()
        .args(["--sandbox", "key", "show", "support_line", "--format", "k8s-secret", "--name", "vonage.support"])
        .expect(0)
        .stdout;
    assert_eq!(vapp::manifest::yaml_document(&named).unwrap()["metadata"]["name"], "vonage.support");

    let run = ws
        .vapp()
        .args(["--sandbox", "key", "show", "support_line", "--format", "k8s-secret", "--name", "Bad_Name"])
        .expect(1);
    assert!(run.stderr.contains("is not a Kubernetes name"), "{run:?}");
    let run = ws.vapp().args(["--sandbox", "key", "show", "support_line", "--name", "x"]).expect(1);
    assert!(run.stderr.contains("use it with --format k8s-secret"), "{run:?}");
    // Written to a file, the secret is private.
    ws.vapp().args(["--sandbox", "key", "show", "support_line", "--format", "env", "--out", "app.env"]).expect(0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ws.path().join("app.env")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn state_list_says_when_there_is_nothing_to_list() {
    let ws = Workspace::new("http://127.0.0.1:9");
    let run = ws.vapp().args(["state", "list"]).expect(0);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("No state at vapp.state.json: nothing is managed yet."), "{run:?}");
    let ws = applied();
    ws.vapp().args(["--sandbox", "state", "rm", "support_line", "--forget-key"]).expect(0);
    let run = ws.vapp().args(["--sandbox", "state", "list"]).expect(0);
    assert!(run.stderr.contains("manages no application"), "{run:?}");
}

/// The man pages and completions the build makes for the package (`build.rs`, into
/// target/<profile>/assets) are the ones the binary prints: one set of definitions.
#[test]
fn the_packaged_man_pages_and_completions_are_the_binarys_own() {
    let assets = std::path::Path::new(env!("CARGO_BIN_EXE_vapp")).parent().unwrap().join("assets");
    let ws = Workspace::new("http://127.0.0.1:9");
    for (shell, file) in [("bash", "vapp"), ("zsh", "_vapp"), ("fish", "vapp.fish")] {
        let printed = ws.vapp().args(["completions", shell]).expect(0).stdout;
        let built = std::fs::read_to_string(assets.join("completions").join(file)).unwrap();
        assert_eq!(built, printed, "{shell}");
    }
    ws.vapp().args(["man", "--out-dir", "man"]).expect(0);
    let mut printed: Vec<String> = std::fs::read_dir(ws.path().join("man"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    printed.sort();
    for name in &printed {
        let built = std::fs::read_to_string(assets.join("man").join(name)).unwrap();
        assert_eq!(built, std::fs::read_to_string(ws.path().join("man").join(name)).unwrap(), "{name}");
    }
    assert!(printed.len() > 20 && printed.contains(&"vapp-state-mv.1".to_string()), "{printed:?}");
    let version = ws.vapp().args(["--version"]).expect(0).stdout;
    assert!(
        version.starts_with("vapp 0.") && (version.contains("(commit ") || version.contains("built outside Git")),
        "{version}"
    );
}
