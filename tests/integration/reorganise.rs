//! Reorganising through the binary: `moved`, `removed` and `import` entries, `vapp state mv` within a
//! state and to another one (killed at every step), the rename hint, saved plans with moves. Whatever
//! is reorganised, no application is created, deleted, re-keyed or unlinked by it, and planning again
//! shows no change.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use vapp::api::numbers::{NumberFilter, NumbersApi};
use vapp::api::ApplicationApi;
use vapp::emulator::EmulatorConfig;

use crate::harness::{config, BackgroundEmulator, Workspace};

/// What a reorganisation must leave as it is: every application with its key, and every number's route.
#[derive(Debug, PartialEq)]
struct Account {
    keys: BTreeMap<String, String>,
    routes: BTreeMap<String, Option<String>>,
}

fn account(emulator: &BackgroundEmulator) -> Account {
    let apps = emulator.block_on(emulator.client().list_all()).unwrap();
    let numbers = emulator.block_on(emulator.client().list_numbers(&NumberFilter::default())).unwrap();
    Account {
        keys: apps
            .iter()
            .map(|a| (a.id.clone().unwrap().into_string(), a.public_key().unwrap_or_default().to_string()))
            .collect(),
        routes: numbers
            .into_iter()
            .map(|n| (n.msisdn.into_string(), n.app_id.map(vapp::model::AppId::into_string)))
            .collect(),
    }
}

fn emulator() -> BackgroundEmulator {
    BackgroundEmulator::start(EmulatorConfig { seed_numbers: 3, ..config() })
}

fn manifest(apps: &str, extra: &str) -> String {
    format!("version: 1\n{extra}applications:\n{apps}")
}

const FORWARDING: &str = "    name: Call forwarding\n    capabilities: { voice: { webhooks: { answer_url: https://a.example.com/answer } } }\n    numbers: [\"447700900001\"]\n";
const SUPPORT: &str = "    name: Support\n    capabilities: { rtc: {} }\n";

fn id_of(ws: &Workspace, address: &str) -> String {
    ws.state()["applications"][address]["id"].as_str().unwrap_or_else(|| panic!("{address} in the state")).to_string()
}

fn plan_json(ws: &Workspace) -> Value {
    ws.vapp().args(["plan", "--format", "json"]).run().json()
}

#[test]
fn renames_plain_with_edits_and_chained_keep_the_application() {
    let emulator = emulator();
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", &manifest(&format!("  call-forwarding:\n{FORWARDING}  support:\n{SUPPORT}"), ""));
    ws.vapp().args(["apply", "--auto-approve", "--numbers-pace", "0s"]).expect(0);
    let id = id_of(&ws, "call-forwarding");
    let before = account(&emulator);

    // A plain rename is a move: no API call, the record (id, key, numbers) follows.
    let moved = "moved:\n  - { from: call-forwarding, to: call-forward }\n";
    ws.write("vapp.yaml", &manifest(&format!("  call-forward:\n{FORWARDING}  support:\n{SUPPORT}"), moved));
    let plan = plan_json(&ws);
    assert_eq!(plan["changes"].as_array().unwrap().len(), 1, "{plan:#}");
    assert_eq!(plan["changes"][0]["action"], "move");
    assert_eq!(plan["changes"][0]["moved_from"], "call-forwarding");
    assert_eq!(plan["changes"][0]["id"], json!(id));
    assert_eq!(plan["summary"]["move"], 1);
    let human = ws.vapp().args(["plan"]).run().stdout;
    assert!(human.contains("# call-forwarding has moved to call-forward"), "{human}");
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    assert_eq!(id_of(&ws, "call-forward"), id);
    assert!(ws.state()["applications"].get("call-forwarding").is_none());
    assert_eq!(ws.state()["applications"]["call-forward"]["numbers"], json!(["447700900001"]));
    assert_eq!(account(&emulator), before, "nothing in the account changed");
    ws.vapp().args(["plan", "--detailed-exitcode"]).expect(0);

    // With an edit, and chained (the old entry kept, as the manifests keep them): the update it needs.
    let chained = format!("{moved}  - {{ from: call-forward, to: forwarding }}\n");
    let edited = FORWARDING.replace("Call forwarding", "Forwarding");
    ws.write("vapp.yaml", &manifest(&format!("  forwarding:\n{edited}  support:\n{SUPPORT}"), &chained));
    let plan = plan_json(&ws);
    assert_eq!(plan["changes"][0]["action"], "update", "{plan:#}");
    assert_eq!(plan["changes"][0]["moved_from"], "call-forward");
    let paths: Vec<&str> =
        plan["changes"][0]["diff"].as_array().unwrap().iter().map(|d| d["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["name"]);
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    assert_eq!(id_of(&ws, "forwarding"), id);
    let after = account(&emulator);
    assert_eq!(
        (after.keys.keys().collect::<Vec<_>>(), &after.routes),
        (before.keys.keys().collect::<Vec<_>>(), &before.routes)
    );
    assert_eq!(after.keys, before.keys, "not re-keyed");
    ws.vapp().args(["plan", "--detailed-exitcode"]).expect(0);

    // A state that never knew the middle address follows the whole chain at once.
    let other = Workspace::new(&emulator.url);
    std::fs::copy(ws.path().join("vapp.yaml"), other.path().join("vapp.yaml")).unwrap();
    let mut state: Value = ws.state();
    let entry = state["applications"].as_object_mut().unwrap().remove("forwarding").unwrap();
    state["applications"]["call-forwarding"] = entry;
    let mut typed: vapp::state::State = serde_json::from_value(state).unwrap();
    typed.serial = 0;
    vapp::state::create_file(&other.path().join("vapp.state.json"), &mut typed).unwrap();
    let plan = plan_json(&other);
    assert_eq!(
        (plan["changes"][0]["action"].as_str(), plan["changes"][0]["moved_from"].as_str()),
        (Some("move"), Some("call-forwarding"))
    );
}

#[test]
fn every_mistake_is_named_where_it_is_written_and_changes_nothing() {
    let emulator = emulator();
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", &manifest(&format!("  a:\n{SUPPORT}  b:\n{SUPPORT}"), ""));
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    let before = account(&emulator);
    let state_before = std::fs::read(ws.path().join("vapp.state.json")).unwrap();
    let dashboard = emulator
        .block_on(emulator.client().create(&serde_json::from_value(json!({"name": "Dash"})).unwrap()))
        .unwrap()
        .id
        .unwrap();
    let b_id = id_of(&ws, "b");
    let cases: Vec<(String, &str)> = vec![
        (
            manifest(&format!("  a:\n{SUPPORT}  b:\n{SUPPORT}"), "moved:\n  - { from: a, to: b }\n"),
            "vapp.yaml:3:5: `a` is moved, but it is still declared",
        ),
        (
            manifest(&format!("  b:\n{SUPPORT}"), "moved:\n  - { from: a, to: c }\n"),
            "vapp.yaml:3:5: `a` is moved to `c`, which is not declared",
        ),
        (
            manifest(&format!("  b:\n{SUPPORT}"), "moved:\n  - { from: a, to: x }\n  - { from: x, to: a }\n"),
            "go round in a circle",
        ),
        (
            manifest(&format!("  b:\n{SUPPORT}"), "moved:\n  - { from: a, to: b }\n"),
            "vapp.yaml:3:5: the state holds both `a` and `b`",
        ),
        (
            manifest(&format!("  a:\n{SUPPORT}  b:\n{SUPPORT}"), "removed:\n  - { address: a }\n"),
            "vapp.yaml:3:5: `a` is removed, but it is still declared",
        ),
        (
            manifest(&format!("  a:\n{SUPPORT}  b:\n{SUPPORT}"), "import:\n  - { address: c, id: x }\n"),
            "vapp.yaml:3:5: `c` is imported, but it is not declared",
        ),
        (
            manifest(
                &format!("  a:\n{SUPPORT}  b:\n{SUPPORT}  c:\n{SUPPORT}"),
                "import:\n  - { address: c, id: no-such-id }\n",
            ),
            "vapp.yaml:3:5: the account holds no application no-such-id",
        ),
        (
            manifest(
                &format!("  a:\n{SUPPORT}  b:\n{SUPPORT}  c:\n{SUPPORT}"),
                &format!("import:\n  - {{ address: c, id: {b_id} }}\n"),
            ),
            "is already managed as `b`",
        ),
        (
            manifest(&format!("  a:\n{SUPPORT}"), "moved:\n  - { from: b, to: Bad_Name }\n"),
            "vapp.yaml:3:20: `Bad_Name` is not a valid address",
        ),
    ];
    for (text, expected) in cases {
        ws.write("vapp.yaml", &text);
        for command in [&["plan"][..], &["apply", "--auto-approve"][..]] {
            let run = ws.vapp().args(command).expect(1);
            assert!(run.stderr.contains(expected), "{expected}\n{text}\n{run:?}");
        }
    }
    assert_eq!(std::fs::read(ws.path().join("vapp.state.json")).unwrap(), state_before, "the state is untouched");
    let mut now = account(&emulator);
    now.keys.remove(dashboard.as_str());
    assert_eq!(now, before, "the account is untouched");
}

#[test]
fn a_rename_without_a_moved_entry_is_named_with_the_entry_to_paste() {
    let emulator = emulator();
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", &manifest(&format!("  call-forwarding:\n{FORWARDING}"), ""));
    ws.vapp().args(["apply", "--auto-approve", "--numbers-pace", "0s"]).expect(0);
    ws.write("vapp.yaml", &manifest(&format!("  call-forward:\n{FORWARDING}"), ""));
    let run = ws.vapp().args(["plan"]).run();
    assert!(run.stderr.contains("call-forwarding is deleted and call-forward created with the settings"), "{run:?}");
    assert!(run.stderr.contains("moved:\n      - { from: call-forwarding, to: call-forward }"), "{run:?}");
    let markdown = ws.vapp().args(["plan", "--format", "markdown"]).run().stdout;
    assert!(markdown.contains("- { from: call-forwarding, to: call-forward }"), "{markdown}");
    let warnings = plan_json(&ws)["warnings"].to_string();
    assert!(warnings.contains("{ from: call-forwarding, to: call-forward }"), "{warnings}");
    // Pasted: a move.
    ws.write(
        "vapp.yaml",
        &manifest(
            &format!("  call-forward:\n{FORWARDING}"),
            "moved:\n  - { from: call-forwarding, to: call-forward }\n",
        ),
    );
    assert_eq!(plan_json(&ws)["changes"][0]["action"], "move");
}

#[test]
fn forgetting_a_protected_application_leaves_it_and_its_number() {
    let emulator = emulator();
    let ws = Workspace::new(&emulator.url);
    let protected = FORWARDING.replace("    name: Call forwarding\n", "    name: Call forwarding\n    protect: true\n");
    ws.write("vapp.yaml", &manifest(&format!("  legacy:\n{protected}  support:\n{SUPPORT}"), ""));
    ws.vapp().args(["apply", "--auto-approve", "--numbers-pace", "0s"]).expect(0);
    let before = account(&emulator);
    ws.write("vapp.yaml", &manifest(&format!("  support:\n{SUPPORT}"), "removed:\n  - { address: legacy }\n"));
    let run = ws.vapp().args(["plan", "--format", "json"]).run();
    let plan = run.json();
    assert_eq!(plan["changes"][0]["action"], "forget", "{plan:#}");
    assert_eq!(plan["summary"]["forget"], 1);
    assert!(run.stderr.contains("its private key leaves the state"), "{run:?}");
    assert!(run.stderr.contains("vapp key show legacy --out legacy.pem"), "{run:?}");
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    assert!(ws.state()["applications"].get("legacy").is_none());
    assert_eq!(account(&emulator), before, "the application and its number stay as they were");
    ws.vapp().args(["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn an_import_entry_takes_an_application_with_its_diff_and_a_number() {
    let emulator = emulator();
    let ws = Workspace::new(&emulator.url);
    let made = emulator
        .block_on(emulator.client().create(
            &serde_json::from_value(json!({"name": "Made in the dashboard", "capabilities": {"rtc": {}}})).unwrap(),
        ))
        .unwrap();
    let id = made.id.clone().unwrap().into_string();
    let key = made.public_key().unwrap().to_string();
    let app = "    name: Managed now\n    capabilities: { rtc: {} }\n    numbers: [\"447700900002\"]\n";
    ws.write(
        "vapp.yaml",
        &manifest(&format!("  dash:\n{app}"), &format!("import:\n  - {{ address: dash, id: {id} }}\n")),
    );
    let plan = plan_json(&ws);
    assert_eq!(plan["changes"][0]["action"], "import", "{plan:#}");
    assert_eq!(plan["changes"][0]["id"], json!(id));
    let paths: Vec<&str> =
        plan["changes"][0]["diff"].as_array().unwrap().iter().map(|d| d["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["name", "numbers.447700900002"]);
    assert_eq!(plan["summary"]["import"], 1);
    ws.vapp().args(["apply", "--auto-approve", "--numbers-pace", "0s"]).expect(0);
    assert_eq!(id_of(&ws, "dash"), id);
    assert_eq!(ws.state()["applications"]["dash"]["key"]["custody"], "unknown");
    let now = account(&emulator);
    assert_eq!((now.keys.len(), now.keys[&id].as_str()), (1, key.as_str()), "the same application, the same key");
    assert_eq!(now.routes["447700900002"], Some(id.clone()), "the number is linked in the same apply");
    ws.vapp().args(["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn a_saved_plan_carries_a_move_and_goes_stale_when_the_state_moves() {
    let emulator = emulator();
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", &manifest(&format!("  a:\n{SUPPORT}  b:\n{SUPPORT}"), ""));
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    let before = account(&emulator);
    ws.write("vapp.yaml", &manifest(&format!("  c:\n{SUPPORT}  b:\n{SUPPORT}"), "moved:\n  - { from: a, to: c }\n"));
    ws.vapp().args(["plan", "-o", "move.plan"]).expect(0);
    ws.vapp().args(["plan", "-o", "stale.plan"]).expect(0);
    ws.vapp().args(["apply", "move.plan"]).expect(0);
    assert!(ws.state()["applications"].get("c").is_some() && ws.state()["applications"].get("a").is_none());
    assert_eq!(account(&emulator), before);
    let stale = ws.vapp().args(["apply", "stale.plan"]).expect(4);
    assert!(stale.stderr.contains("the state changed since the plan was made"), "{stale:?}");
    ws.vapp().args(["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn state_mv_renames_and_refuses_to_drop_a_key() {
    let emulator = emulator();
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", &manifest(&format!("  a:\n{SUPPORT}  b:\n{SUPPORT}"), ""));
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    let id = id_of(&ws, "a");
    let refused = ws.vapp().args(["state", "mv", "a", "b"]).expect(1);
    assert!(refused.stderr.contains("already holds `b`"), "{refused:?}");
    ws.vapp().args(["state", "mv", "a", "c"]).expect(0);
    assert_eq!(id_of(&ws, "c"), id);
    ws.vapp().args(["state", "mv", "a", "c"]).expect(0); // done already: nothing to do
    ws.write("vapp.yaml", &manifest(&format!("  c:\n{SUPPORT}  b:\n{SUPPORT}"), ""));
    ws.vapp().args(["plan", "--detailed-exitcode"]).expect(0);
    // The workaround of old (state rm, then import) no longer drops the only key silently.
    let refused = ws.vapp().args(["state", "rm", "c"]).expect(1);
    assert!(refused.stderr.contains("vapp key show c --out c.pem"), "{refused:?}");
}

/// A team's repository takes an address over: killed after each step, the same command finishes it;
/// while it is under way the source's plans leave the application alone.
#[test]
fn handing_an_address_to_another_state_survives_a_kill_at_every_step() {
    let emulator = emulator();
    for crash in ["state-mv:marked", "state-mv:recorded"] {
        let source = Workspace::new(&emulator.url);
        source.write("vapp.yaml", &manifest(&format!("  team-app:\n{FORWARDING}  mine:\n{SUPPORT}"), ""));
        source.vapp().args(["apply", "--auto-approve", "--numbers-pace", "0s"]).expect(0);
        let id = id_of(&source, "team-app");
        let before = account(&emulator);
        let target = source.path().join("team.state.json");
        let target_arg = target.to_str().unwrap();
        let killed = source
            .vapp()
            .env("VAPP_CRASH_AT", crash)
            .args(["state", "mv", "team-app", "--to-state", target_arg, "--as", "their-app"])
            .run();
        assert_ne!(killed.code, 0, "{crash}: killed");
        // The killed run's lock is broken by the next; the source leaves the application alone.
        let plan = source.vapp().args(["plan", "--format", "json"]).run();
        assert!(plan.stderr.contains("team-app is being handed to"), "{crash}: {plan:?}");
        assert!(plan.json()["changes"].as_array().unwrap().iter().all(|c| c["address"] != "team-app"), "{crash}");
        source.vapp().args(["state", "mv", "team-app", "--to-state", target_arg, "--as", "their-app"]).expect(0);
        assert!(source.state()["applications"].get("team-app").is_none(), "{crash}");
        let theirs = Workspace::new(&emulator.url);
        theirs.write("vapp.yaml", &manifest(&format!("  their-app:\n{FORWARDING}"), ""));
        let state_arg = ["--state", target_arg];
        assert_eq!(
            theirs.vapp().args(state_arg).args(["state", "list"]).expect(0).stdout,
            format!("their-app\t{id}\n")
        );
        theirs.vapp().args(state_arg).args(["plan", "--detailed-exitcode"]).expect(0);
        let key = theirs.vapp().args(state_arg).args(["key", "show", "their-app"]).expect(0).stdout;
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "the key went with it");
        source.write("vapp.yaml", &manifest(&format!("  mine:\n{SUPPORT}"), ""));
        source.vapp().args(["plan", "--detailed-exitcode"]).expect(0);
        assert_eq!(account(&emulator), before, "{crash}: nothing in the account changed");
        // Clean up for the next round: the other state's application goes.
        theirs.write("vapp.yaml", "version: 1\napplications: {}\n");
        theirs.vapp().args(state_arg).args(["apply", "--auto-approve", "--numbers-pace", "0s"]).expect(0);
        source.vapp().args(["destroy", "--auto-approve"]).expect(0);
    }
}
