//! The CI and GitOps workflow: saved plans, exit codes, import and export, targets, delete limits.

use serde_json::{json, Value};
use vapp::api::ApplicationApi;
use vapp::emulator::EmulatorConfig;

use crate::harness::{config, repo_path, BackgroundEmulator, Workspace};

const TWO: &str = "version: 1\napplications:\n  one:\n    name: One\n  two:\n    name: Two\n";

fn names(emulator: &BackgroundEmulator) -> Vec<String> {
    let mut names: Vec<String> =
        emulator.block_on(emulator.client().list_all()).unwrap().into_iter().map(|a| a.name).collect();
    names.sort();
    names
}

#[test]
fn a_saved_plan_applies_exactly_and_goes_stale() {
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", TWO);
    // Made before any state existed: applies once, never twice.
    ws.vapp().args(["plan", "-o", "first.plan", "--detailed-exitcode"]).expect(2);
    let saved = std::fs::read_to_string(ws.path().join("first.plan")).unwrap();
    assert!(!saved.contains("PRIVATE KEY"));
    let run = ws.vapp().args(["apply", "first.plan"]).expect(0);
    assert!(run.stdout.contains("Apply complete: 2 created"), "{run:?}");
    let run = ws.vapp().args(["apply", "first.plan"]).expect(4);
    assert!(run.stderr.contains("the saved plan is stale: the plan was made before any state existed"), "{run:?}");
    assert_eq!(names(&emulator), ["One", "Two"]);

    // Someone else applies between plan and apply: exit 4, nothing changed.
    ws.write("vapp.yaml", &TWO.replace("name: Two", "name: Two v2"));
    ws.vapp().args(["plan", "-o", "rename.plan"]).expect(0);
    ws.write("vapp.yaml", &TWO.replace("name: One", "name: One v2"));
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    let serial = ws.state()["serial"].clone();
    let run = ws.vapp().args(["apply", "rename.plan"]).expect(4);
    assert!(run.stderr.contains("the state changed since the plan was made"), "{run:?}");
    assert_eq!(names(&emulator), ["One v2", "Two"]);
    assert_eq!(ws.state()["serial"], serial);

    // A change in the account to an application the plan touches also makes it stale.
    ws.write("vapp.yaml", TWO);
    ws.vapp().args(["plan", "-o", "back.plan"]).expect(0);
    let id = ws.state()["applications"]["two"]["id"].as_str().unwrap().to_string();
    let mut live = emulator.block_on(emulator.client().get(&vapp::model::AppId::new(&id))).unwrap();
    live.name = "Edited by hand".into();
    emulator.block_on(emulator.client().update(&vapp::model::AppId::new(&id), &live)).unwrap();
    let run = ws.vapp().args(["apply", "back.plan"]).expect(4);
    assert!(
        run.stderr.contains(&format!("application {id} changed in the account since the plan was made")),
        "{run:?}"
    );
    // A fresh plan applies.
    ws.vapp().args(["plan", "-o", "fresh.plan"]).expect(0);
    ws.vapp().args(["apply", "fresh.plan"]).expect(0);
    assert_eq!(names(&emulator), ["One", "Two"]);
    ws.vapp().args(["plan", "--detailed-exitcode"]).expect(0);
    let run = ws.vapp().args(["apply", "vapp.yaml"]).expect(1);
    assert!(run.stderr.contains("is not a plan saved by `vapp plan -o`"), "{run:?}");
}

#[test]
fn exit_codes() {
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", TWO);
    ws.vapp().args(["plan"]).expect(0);
    ws.vapp().args(["plan", "--detailed-exitcode"]).expect(2);
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    ws.vapp().args(["plan", "--detailed-exitcode"]).expect(0);
    ws.write("broken.yaml", "version: 1\napplications:\n  x:\n    nam: X\n");
    ws.vapp().args(["plan", "-f", "broken.yaml"]).expect(1);
    ws.vapp().args(["plan"]).env("VONAGE_API_SECRET", "wrong").expect(1);
    // A lock held by a live process (on this host: its pid and hostname are checked): exit 3.
    #[cfg(unix)]
    {
        let holder = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let lock = json!({"id": "x", "operation": "apply", "who": "ci", "host": std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim(),
                      "pid": holder.id(), "created": "2026-01-01T00:00:00Z", "vapp_version": "0"});
        ws.write("vapp.state.json.lock", &lock.to_string());
        let run = ws.vapp().args(["apply", "--auto-approve"]).expect(3);
        assert!(run.stderr.contains("the state is locked: apply by ci"), "{run:?}");
        ws.vapp().args(["state", "unlock", "--force"]).expect(0);
        let mut holder = holder;
        let _ = holder.kill();
        let _ = holder.wait();
    }
}

#[test]
fn targets_and_delete_limits() {
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", TWO);
    ws.vapp().args(["apply", "--auto-approve", "--target", "one"]).expect(0);
    assert_eq!(names(&emulator), ["One"]);
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    ws.write("vapp.yaml", "version: 1\napplications:\n  one:\n    name: One renamed\n  two:\n    name: Two renamed\n");
    let plan = ws.vapp().args(["plan", "--target", "two", "--target", "tow", "--format", "json"]).expect(0).json();
    assert_eq!(plan["changes"].as_array().unwrap().len(), 1);
    assert_eq!(plan["warnings"], json!(["--target tow matches no address in the manifests or the state"]));
    ws.vapp().args(["apply", "--auto-approve", "--target", "two"]).expect(0);
    assert_eq!(names(&emulator), ["One", "Two renamed"]);

    // --max-deletes stops a mass delete before any call.
    ws.write("vapp.yaml", "version: 1\napplications: {}\n");
    let run = ws.vapp().args(["apply", "--auto-approve", "--max-deletes", "1"]).expect(1);
    assert!(run.stderr.contains("this plan deletes 2 applications, more than --max-deletes 1 allows"), "{run:?}");
    ws.vapp().args(["plan", "--max-deletes", "1"]).expect(1);
    ws.vapp().args(["destroy", "--auto-approve", "--max-deletes", "0"]).expect(1);
    assert_eq!(names(&emulator).len(), 2);
    ws.vapp().args(["destroy", "--auto-approve", "--target", "one"]).expect(0);
    assert_eq!(names(&emulator), ["Two renamed"]);
}

#[test]
fn export_then_import_then_plan_shows_no_change() {
    let emulator = BackgroundEmulator::start(EmulatorConfig { seed_apps: 20, ..config() });
    let ws = Workspace::new(&emulator.url);
    let run = ws.vapp().args(["export", "-o", "apps"]).expect(0);
    assert!(run.stderr.contains("20 of them are not managed yet"), "{run:?}");
    let imports: Vec<Vec<String>> = run
        .stderr
        .lines()
        .filter_map(|l| l.trim().strip_prefix("vapp "))
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect();
    assert_eq!(imports.len(), 20);
    for import in &imports {
        ws.vapp().args(["-f", "apps"]).args(import).expect(0);
    }
    let run = ws.vapp().args(["plan", "-f", "apps", "--detailed-exitcode"]).expect(0);
    assert!(run.stdout.contains("No changes."), "{run:?}");
    // Imported applications' keys are unknown to vapp, and it says what to do.
    let address = &imports[0][1];
    let run = ws.vapp().args(["key", "show", address]).expect(1);
    assert!(run.stderr.contains(&format!("vapp key rotate {address}")), "{run:?}");
    // Exporting again names managed applications by their address and needs no import.
    let run = ws.vapp().args(["export"]).expect(0);
    assert!(!run.stderr.contains("not managed yet"), "{run:?}");
    assert!(run.stdout.contains(&format!("  {address}:")));
    // Importing twice, or an undeclared address, is refused.
    let run = ws.vapp().args(["-f", "apps"]).args(&imports[0]).expect(1);
    assert!(run.stderr.contains("already manages"), "{run:?}");
    let run = ws.vapp().args(["-f", "apps", "import", "undeclared", "x"]).expect(1);
    assert!(run.stderr.contains("undeclared is not declared in the manifests"), "{run:?}");
}

/// The JSON plan is documented by schemas/plan.schema.json; real plans validate against it.
#[test]
fn json_plans_follow_their_schema() {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(repo_path("schemas/plan.schema.json")).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", TWO);
    let mut plans = vec![ws.vapp().args(["plan", "--format", "json"]).expect(0).json()];
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    ws.write("vapp.yaml", "version: 1\napplications:\n  one:\n    name: One!\n");
    let id = ws.state()["applications"]["one"]["id"].as_str().unwrap().to_string();
    let mut live = emulator.block_on(emulator.client().get(&vapp::model::AppId::new(&id))).unwrap();
    live.name = "Drifted".into();
    emulator.block_on(emulator.client().update(&vapp::model::AppId::new(&id), &live)).unwrap();
    plans.push(ws.vapp().args(["plan", "--format", "json"]).expect(0).json());
    // A changed webhook password (`secret_changed`).
    let hooked = |password: &str| {
        format!("version: 1\napplications:\n  one:\n    name: One!\n    capabilities:\n      rtc:\n        webhooks:\n          event_url: https://u:{password}@a.example/e\n")
    };
    ws.write("vapp.yaml", &hooked("first"));
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    ws.write("vapp.yaml", &hooked("second"));
    let changed = ws.vapp().args(["plan", "--format", "json"]).expect(0).json();
    assert_eq!(changed["changes"][0]["diff"][0]["secret_changed"], json!(true), "{changed:#}");
    plans.push(changed);
    for plan in &plans {
        let errors: Vec<String> =
            validator.iter_errors(plan).map(|e| format!("{e} at {}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{errors:?}\n{plan:#}");
    }
    assert_eq!(
        plans[1]["summary"],
        json!({"create": 0, "update": 1, "delete": 1, "move": 0, "import": 0, "forget": 0, "no_op": 0})
    );
    assert_eq!(plans[1]["drift"][0]["address"], json!("one"));
}
