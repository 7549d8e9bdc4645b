//! The rough edges a new user met, each tried again through the binary: where a manifest's mistakes
//! are reported, what completions and man pages offer, and the words of summaries and hints.

use crate::harness::{config, repo_path, BackgroundEmulator, Workspace};

/// A tab in the indentation is reported on its own line, even the first.
#[test]
fn a_tab_is_reported_on_the_line_that_holds_it() {
    let ws = Workspace::new("http://127.0.0.1:9");
    for (text, line) in [("\tversion: 1\napplications: {}\n", 1), ("version: 1\napplications:\n\ta:\n    name: A\n", 3)]
    {
        ws.write("vapp.yaml", text);
        let run = ws.vapp().args(["validate"]).expect(1);
        assert!(run.stderr.contains(&format!("vapp.yaml:{line}:1")), "line {line}: {run:?}");
        assert!(run.stderr.contains("tab"), "{run:?}");
    }
}

/// Every unknown key is reported in one run, in the order of the file.
#[test]
fn every_unknown_key_is_reported_in_document_order() {
    let ws = Workspace::new("http://127.0.0.1:9");
    ws.write(
        "vapp.yaml",
        "version: 1\napplications:\n  a:\n    name: A\n    capabilities:\n      voice:\n        webhooks:\n          answer_ur: https://a.example/\n    privacy: {}\n    nubmers: [\"447700900001\"]\n",
    );
    let run = ws.vapp().args(["validate"]).expect(1);
    let first = run.stderr.find("vapp.yaml:8:11: unknown key `answer_ur`");
    let second = run.stderr.find("vapp.yaml:10:5: unknown key `nubmers`");
    assert!(first.is_some() && second.is_some(), "both are reported: {run:?}");
    assert!(first < second, "in the order of the file: {run:?}");
    assert!(run.stderr.contains("did you mean `numbers`"), "{run:?}");
}

/// Completion offers a command the options it takes, as its `--help` lists them; a command's man page
/// shows the global options in its synopsis; `account show --help` lists the options it reads.
#[test]
fn completions_help_and_man_pages_agree_on_each_commands_options() {
    let ws = Workspace::new("http://127.0.0.1:9");
    let help = ws.vapp().args(["token", "--help"]).expect(0).stdout;
    assert!(!help.contains("--numbers-url"), "{help}");
    let bash = ws.vapp().args(["completions", "bash"]).expect(0).stdout;
    let token = bash
        .split("        vapp__subcmd__token)")
        .nth(1)
        .and_then(|rest| rest.split(";;").next())
        .expect("a token case");
    assert!(!token.contains("--numbers-url") && token.contains("--state"), "{token}");
    let show = ws.vapp().args(["account", "show", "--help"]).expect(0).stdout;
    for option in ["--sandbox", "--state", "--passphrase-file", "--format"] {
        assert!(show.contains(option), "account show --help lacks {option}: {show}");
    }
    ws.vapp().args(["man", "--out-dir", "man"]).expect(0);
    let page = std::fs::read_to_string(ws.path().join("man/vapp-account-show.1")).unwrap();
    let synopsis = page.split(".SH SYNOPSIS").nth(1).and_then(|s| s.split(".SH").next()).unwrap();
    for option in ["sandbox", "state", "passphrase"] {
        assert!(synopsis.contains(option), "the synopsis lacks --{option}: {synopsis}");
    }
}

/// An import that also renames the application counts as imported and updated; export says "1 of
/// them is"; after `state mv`, the hint says to edit the manifests (or undo), not to move back.
#[test]
fn summaries_and_hints_say_what_happened() {
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    let app = vapp::model::Application { name: "Old name".into(), ..Default::default() };
    let id = emulator.block_on(vapp::api::ApplicationApi::create(&emulator.client(), &app)).unwrap().id.unwrap();
    let stray = vapp::model::Application { name: "Stray".into(), ..Default::default() };
    emulator.block_on(vapp::api::ApplicationApi::create(&emulator.client(), &stray)).unwrap();
    ws.write(
        "vapp.yaml",
        &format!(
            "version: 1\napplications:\n  sales:\n    name: New name\nimport:\n  - {{ address: sales, id: {id} }}\n"
        ),
    );
    let applied = ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    assert!(applied.stdout.contains("0 created, 1 updated, 0 deleted, 1 imported"), "{applied:?}");

    let exported = ws.vapp().args(["export"]).expect(0);
    assert!(exported.stderr.contains("1 of them is not managed yet; to manage it:"), "{exported:?}");

    ws.vapp().args(["state", "mv", "sales", "sales-team"]).expect(0);
    // The `import:` entry, kept after it is done, now names an address the state moved.
    let plan = ws.vapp().args(["plan"]).expect(1);
    assert!(plan.stderr.contains("run `vapp state mv sales-team sales` to undo the move"), "{plan:?}");
    assert!(!plan.stderr.contains("moved: [{ from: sales-team, to: sales }]"), "{plan:?}");
    ws.write("vapp.yaml", "version: 1\napplications:\n  sales:\n    name: New name\n");
    let plan = ws.vapp().args(["plan"]).expect(0);
    assert!(
        plan.stderr.contains("rename sales to sales-team in the manifests, or run `vapp state mv sales-team sales`"),
        "{plan:?}"
    );
    assert!(!plan.stderr.contains("moved:"), "no reverse `moved:` hint: {plan:?}");
}

/// The README's accounts example is two files, and they load and plan as written.
#[test]
fn the_readmes_accounts_example_works_as_two_files() {
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    let section = readme.split("## Several accounts").nth(1).unwrap();
    let blocks: Vec<&str> =
        section.split("```yaml\n").skip(1).take(2).map(|b| b.split("```").next().unwrap()).collect();
    assert_eq!(blocks.len(), 2);
    assert!(blocks.iter().all(|b| !b.lines().any(|l| l.trim() == "---")), "one document per file");
    let ws = Workspace::new("http://127.0.0.1:9");
    ws.write("accounts.yaml", blocks[0]);
    ws.write("customers/acme.yaml", blocks[1]);
    ws.vapp().args(["validate", "-f", "accounts.yaml", "-f", "customers/"]).expect(0);
    let plan = ws
        .vapp()
        .env("VONAGE_STAGING_API_SECRET", "unused-on-the-sandbox")
        .args(["plan", "--sandbox", "-f", "accounts.yaml", "-f", "customers/"])
        .expect(0);
    assert!(plan.stdout.contains("+ account acme (subaccount of default)"), "{plan:?}");
    assert!(plan.stdout.contains("447700900003"), "{plan:?}");
}
