//! The reconciler end to end: the binary applies, plans again, sees drift, deletes and destroys against
//! the emulator; the executor keeps exact state when one action fails.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use vapp::api::{ApplicationApi, RetryPolicy};
use vapp::apply::{Cancel, Executor, RsaKeys};
use vapp::emulator::EmulatorConfig;
use vapp::model::AppId;
use vapp::plan::{Action, PlanInput};
use vapp::state::{State, StateStore};

use crate::harness::{config, repo_path, start, BackgroundEmulator, Faulty, Quiet, Workspace};

fn copy_examples(ws: &Workspace) {
    for entry in std::fs::read_dir(repo_path("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("yaml") {
            ws.write(
                &format!("apps/{}", path.file_name().unwrap().to_str().unwrap()),
                &std::fs::read_to_string(&path).unwrap(),
            );
        }
    }
}

fn ids_in_account(emulator: &BackgroundEmulator) -> Vec<String> {
    emulator
        .block_on(emulator.client().list_all())
        .unwrap()
        .into_iter()
        .filter_map(|a| a.id.map(AppId::into_string))
        .collect()
}

fn state_ids(ws: &Workspace) -> Vec<(String, String)> {
    let state = ws.state();
    state["applications"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(a, e)| (a.clone(), e["id"].as_str().unwrap_or("").to_string()))
        .collect()
}

fn assert_no_private_key(text: &str) {
    assert!(!text.contains("PRIVATE KEY"), "private key material in output:\n{text}");
}

#[test]
fn the_tour() {
    let emulator = BackgroundEmulator::start(EmulatorConfig { seed_apps: 5, seed_numbers: 10, ..config() });
    let unmanaged = ids_in_account(&emulator);
    let ws = Workspace::new(&emulator.url);
    copy_examples(&ws);

    // Apply the examples; the state is private and holds every key.
    let run = ws.vapp().args(["apply", "-f", "apps", "--auto-approve", "--numbers-pace", "0s"]).expect(0);
    assert!(
        run.stdout.contains("Apply complete: 4 created, 0 updated, 0 deleted; numbers: 4 linked, 0 unlinked."),
        "{run:?}"
    );
    assert_no_private_key(&run.stdout);
    assert_no_private_key(&run.stderr);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ws.path().join("vapp.state.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(ids_in_account(&emulator).len(), 9);

    // Planning again shows nothing, in every format.
    let run = ws.vapp().args(["plan", "-f", "apps", "--detailed-exitcode"]).expect(0);
    assert!(run.stdout.contains("No changes."), "{run:?}");
    for format in ["json", "markdown"] {
        let run = ws.vapp().args(["plan", "-f", "apps", "--detailed-exitcode", "--format", format]).expect(0);
        assert_no_private_key(&run.stdout);
    }

    // Each private key in the state belongs to the public key the API reports.
    for (address, id) in state_ids(&ws) {
        let pem = ws.vapp().args(["key", "show", &address]).expect(0).stdout;
        let derived = vapp::keys::PrivateKeyPem::new(pem).public_key_pem().unwrap();
        let live = emulator.block_on(emulator.client().get(&vapp::model::AppId::new(&id))).unwrap();
        assert_eq!(
            vapp::keys::fingerprint(&derived).unwrap(),
            vapp::keys::fingerprint(live.public_key().unwrap()).unwrap(),
            "{address}"
        );
    }

    // Editing one webhook shows exactly that path.
    let messages = std::fs::read_to_string(ws.path().join("apps/messages.yaml")).unwrap();
    ws.write(
        "apps/messages.yaml",
        &messages.replace("https://shop.example.com/webhooks/status", "https://shop.example.com/webhooks/status-v2"),
    );
    let run = ws.vapp().args(["plan", "-f", "apps", "--detailed-exitcode", "--format", "json"]).expect(2);
    let plan = run.json();
    assert_eq!(
        plan["changes"],
        json!([{"account": "default", "address": "order-notifications", "action": "update", "id": plan["changes"][0]["id"],
                "diff": [{"path": "capabilities.messages.webhooks.status_url.address",
                          "before": "https://shop.example.com/webhooks/status", "after": "https://shop.example.com/webhooks/status-v2"}]}])
    );
    assert_eq!(
        plan["summary"],
        json!({"create": 0, "update": 1, "delete": 0, "move": 0, "import": 0, "forget": 0, "no_op": 3})
    );
    ws.vapp().args(["apply", "-f", "apps", "--auto-approve"]).expect(0);
    ws.vapp().args(["plan", "-f", "apps", "--detailed-exitcode"]).expect(0);

    // A change made through the API shows as drift, and apply puts it back.
    let forwarding_id = state_ids(&ws).into_iter().find(|(a, _)| a == "call-forwarding").unwrap().1;
    let mut live = emulator.block_on(emulator.client().get(&vapp::model::AppId::new(&forwarding_id))).unwrap();
    live.name = "Changed in the dashboard".into();
    emulator.block_on(emulator.client().update(&vapp::model::AppId::new(&forwarding_id), &live)).unwrap();
    let plan = ws.vapp().args(["plan", "-f", "apps", "--detailed-exitcode", "--format", "json"]).expect(2).json();
    assert_eq!(
        plan["drift"],
        json!([{"account": "default", "address": "call-forwarding", "id": forwarding_id,
        "diff": [{"path": "name", "before": "Call forwarding", "after": "Changed in the dashboard"}]}])
    );
    assert_eq!(
        plan["changes"][0]["diff"],
        json!([{"path": "name", "before": "Changed in the dashboard", "after": "Call forwarding"}])
    );
    let human = ws.vapp().args(["plan", "-f", "apps"]).expect(0).stdout;
    assert!(human.contains("Changed outside vapp since the last apply:"), "{human}");
    ws.vapp().args(["apply", "-f", "apps", "--auto-approve"]).expect(0);
    assert_eq!(
        emulator.block_on(emulator.client().get(&vapp::model::AppId::new(&forwarding_id))).unwrap().name,
        "Call forwarding"
    );
    let plan = ws.vapp().args(["plan", "-f", "apps", "--detailed-exitcode", "--format", "json"]).expect(0).json();
    assert_eq!(plan["drift"], json!([]));

    // Removing an address deletes exactly that application.
    let sdk_id = state_ids(&ws).into_iter().find(|(a, _)| a == "in-app-calling").unwrap().1;
    std::fs::remove_file(ws.path().join("apps/client-sdk.yaml")).unwrap();
    let plan = ws.vapp().args(["plan", "-f", "apps", "--format", "json"]).expect(0).json();
    assert_eq!(
        plan["summary"],
        json!({"create": 0, "update": 0, "delete": 1, "move": 0, "import": 0, "forget": 0, "no_op": 3})
    );
    ws.vapp().args(["apply", "-f", "apps", "--auto-approve"]).expect(0);
    let ids = ids_in_account(&emulator);
    assert!(!ids.contains(&sdk_id));
    assert_eq!(ids.len(), 8);

    // Destroy removes every managed application and nothing else.
    let run = ws.vapp().args(["destroy", "--auto-approve", "--numbers-pace", "0s"]).expect(0);
    assert!(run.stdout.contains("Destroy complete: 3 applications deleted, 4 numbers unlinked."), "{run:?}");
    let mut left = ids_in_account(&emulator);
    left.sort();
    let mut expected = unmanaged.clone();
    expected.sort();
    assert_eq!(left, expected);
    assert_eq!(ws.state()["applications"], json!({}));
    let run = ws.vapp().args(["plan", "-f", "apps", "--format", "json"]).expect(0);
    assert_eq!(run.json()["summary"]["create"], json!(3), "the manifests still want three applications");
}

#[test]
fn apply_needs_approval_when_nobody_is_at_a_terminal() {
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", "version: 1\napplications:\n  a:\n    name: A\n");
    let run = ws.vapp().args(["apply"]).expect(1);
    assert!(run.stderr.contains("refusing to go on without --auto-approve"), "{run:?}");
    assert!(ids_in_account(&emulator).is_empty());
    assert!(!ws.path().join("vapp.state.json").exists());
    let run = ws.vapp().args(["destroy"]).expect(0);
    assert!(run.stdout.contains("No changes."), "nothing to destroy needs no approval: {run:?}");
}

#[test]
fn protected_applications_survive_removal_and_destroy() {
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    ws.write(
        "vapp.yaml",
        "version: 1\napplications:\n  keep:\n    name: Keep\n    protect: true\n  drop:\n    name: Drop\n",
    );
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    ws.write("vapp.yaml", "version: 1\napplications: {}\n");
    let run = ws.vapp().args(["plan", "--format", "json"]).expect(0);
    let plan = run.json();
    assert_eq!(
        plan["summary"],
        json!({"create": 0, "update": 0, "delete": 1, "move": 0, "import": 0, "forget": 0, "no_op": 1})
    );
    assert!(plan["warnings"][0].as_str().unwrap().starts_with("keep is protected"));
    ws.vapp().args(["destroy", "--auto-approve"]).expect(0);
    assert_eq!(ids_in_account(&emulator).len(), 1);
    assert_eq!(state_ids(&ws).len(), 1);
    // Lifting the protection is a reviewed change that must be applied before a delete can happen.
    ws.write("vapp.yaml", "version: 1\napplications:\n  keep:\n    name: Keep\n    protect: false\n");
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    ws.vapp().args(["destroy", "--auto-approve"]).expect(0);
    assert!(ids_in_account(&emulator).is_empty());
}

#[test]
fn state_commands() {
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", "version: 1\napplications:\n  one:\n    name: One\n  two:\n    name: Two\n");
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    let list = ws.vapp().args(["state", "list"]).expect(0).stdout;
    let ids = state_ids(&ws);
    assert_eq!(list, format!("one\t{}\ntwo\t{}\n", ids[0].1, ids[1].1));
    let shown: Value = serde_json::from_str(&ws.vapp().args(["state", "show", "one"]).expect(0).stdout).unwrap();
    assert_eq!(shown["key"]["custody"], json!("managed"));
    assert!(shown["key"]["fingerprint"].as_str().unwrap().starts_with("sha256:"));
    assert_no_private_key(&shown.to_string());
    // The state holds the only copy of two's private key: removing it needs saying so.
    let refused = ws.vapp().args(["state", "rm", "two"]).expect(1);
    assert!(refused.stderr.contains("only copy of two's private key"), "{refused:?}");
    assert!(refused.stderr.contains("vapp key show two --out two.pem"), "{refused:?}");
    assert_eq!(state_ids(&ws).len(), 2, "nothing was removed");
    ws.vapp().args(["state", "rm", "two", "--forget-key"]).expect(0);
    assert_eq!(state_ids(&ws).len(), 1);
    assert_eq!(ids_in_account(&emulator).len(), 2, "state rm leaves the application in the account");
    let run = ws.vapp().args(["state", "show", "nope"]).expect(1);
    assert!(run.stderr.contains("nope is not in the state"));
    let run = ws.vapp().args(["key", "show", "nope"]).expect(1);
    assert!(run.stderr.contains("nope is not in the state"));
}

#[test]
fn the_sandbox_keeps_its_account_beside_the_state() {
    let ws = Workspace::new("http://127.0.0.1:9");
    copy_examples(&ws);
    let run =
        ws.vapp().args(["--sandbox", "apply", "-f", "apps", "--auto-approve"]).env("VONAGE_API_KEY", "").expect(0);
    assert!(run.stdout.contains("4 created"), "{run:?}");
    assert!(ws.path().join(".vapp/sandbox.json").exists());
    assert!(ws.path().join(".vapp/sandbox.state.json").exists(), "the sandbox keeps its own state");
    assert!(!ws.path().join("vapp.state.json").exists());
    ws.vapp().args(["plan", "-f", "apps", "--detailed-exitcode", "--sandbox"]).expect(0);
    let listed = ws.vapp().args(["state", "list", "--sandbox"]).expect(0);
    assert_eq!(listed.stdout.lines().count(), 4, "{listed:?}");
    ws.vapp().args(["destroy", "--sandbox", "-f", "apps", "--auto-approve"]).expect(0);
    let data: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path().join(".vapp/sandbox.json")).unwrap()).unwrap();
    assert_eq!(data["applications"], json!([]));
}

#[test]
fn missing_credentials_are_explained() {
    let ws = Workspace::new("http://127.0.0.1:9");
    ws.write("vapp.yaml", "version: 1\napplications: {}\n");
    let run = ws.vapp().args(["plan"]).env("VONAGE_API_SECRET", "").expect(1);
    assert!(run.stderr.contains("VONAGE_API_SECRET is not set"), "{run:?}");
}

#[tokio::test]
async fn one_failure_leaves_the_others_done_and_the_state_exact() {
    let emulator = start(config()).await;
    let api = Faulty {
        inner: crate::harness::client_for(&emulator.url()),
        fail_create_named: Some("Broken"),
        lose_put_answers: false,
    };
    let manifest = "version: 1\napplications:\n  a:\n    name: A\n  broken:\n    name: Broken\n  c:\n    name: C\n";
    let desired = vapp::manifest::load_sources(
        &[vapp::manifest::Source { path: "m.yaml".into(), text: manifest.into() }],
        &|_| None,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state_path = dir.path().join("vapp.state.json");
    let store = StateStore::at_path(state_path.clone(), State::new("test".into()));
    let live = vapp::plan::listing_keeps(None).list(api.list_all().await.unwrap());
    let plan = vapp::plan::plan(&PlanInput { desired: &desired, state: None, live: &live, targets: &[], numbers: &[] })
        .unwrap();
    let cancel = Cancel::default();
    let retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        max_elapsed: Duration::from_secs(5),
    };
    let executor = Executor {
        api: &api,
        numbers: &api.inner,
        store: &store,
        keys: Arc::new(RsaKeys),
        parallelism: 3,
        progress: &Quiet,
        cancel: &cancel,
        retry,
        settle: vapp::apply::SETTLE,
        slots: None,
    };
    let report = executor.execute(&plan).await;
    let failed: Vec<_> = report.failures().map(|o| o.address.as_str()).collect();
    assert_eq!(failed, ["broken"]);
    assert_eq!(report.succeeded(Action::Create), 2);

    // On disk: the two created, and the failed create's key kept (no id) for the next run.
    let state = vapp::state::load_file(&state_path).unwrap().unwrap();
    assert!(state.applications["a"].id.is_some() && state.applications["c"].id.is_some());
    assert!(state.applications["broken"].id.is_none());
    assert!(state.applications["broken"].key.private_key().is_some());

    // The next plan sends the failed create again with the same key, and touches nothing else.
    let live = vapp::plan::listing_keeps(Some(&state)).list(api.list_all().await.unwrap());
    let again = vapp::plan::plan(&PlanInput {
        desired: &desired,
        state: Some(&state),
        live: &live,
        targets: &[],
        numbers: &[],
    })
    .unwrap();
    let actions: Vec<_> = again.actions().map(|c| (c.address.as_str(), &c.step)).collect();
    let [("broken", vapp::plan::Step::Create(create))] = actions.as_slice() else { panic!("{actions:?}") };
    let fingerprint = state.applications["broken"].key.fingerprint().unwrap().to_string();
    assert_eq!(create.key, vapp::plan::NewKey::Held { fingerprint: vapp::model::Fingerprint::new(fingerprint) });
}
