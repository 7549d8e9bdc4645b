//! Key lifecycle: bring-your-own keys, declarative and requested rotation, key drift, tokens, key
//! export and encrypted state.

use std::sync::Arc;

use base64::Engine;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;
use serde_json::Value;
use vapp::api::ApplicationApi;
use vapp::apply::{Cancel, Executor, RsaKeys};
use vapp::plan::{Action, PlanInput};

use crate::harness::{config, BackgroundEmulator, Faulty, Quiet, Workspace};

const ONE: &str = "version: 1\napplications:\n  app:\n    name: App\n";

fn live_fingerprint(emulator: &BackgroundEmulator, ws: &Workspace) -> vapp::model::Fingerprint {
    let id = ws.state()["applications"]["app"]["id"].as_str().unwrap().to_string();
    let live = emulator.block_on(emulator.client().get(&vapp::model::AppId::new(&id))).unwrap();
    vapp::keys::fingerprint(live.public_key().unwrap()).unwrap()
}

fn state_fingerprint(ws: &Workspace) -> String {
    ws.state()["applications"]["app"]["key"]["fingerprint"].as_str().unwrap().to_string()
}

/// The private key vapp prints belongs to the live public key.
fn assert_custody(emulator: &BackgroundEmulator, ws: &Workspace) {
    let pem = ws.vapp().args(["key", "show", "app"]).expect(0).stdout;
    let held = vapp::keys::fingerprint(&vapp::keys::PrivateKeyPem::new(pem).public_key_pem().unwrap()).unwrap();
    assert_eq!(held, live_fingerprint(emulator, ws));
    assert_eq!(held, state_fingerprint(ws));
}

#[test]
fn bring_your_own_key_never_writes_a_private_key() {
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    let mine = vapp::keys::generate().unwrap();
    ws.write("keys/app.pub", &mine.public_key);
    ws.write("vapp.yaml", &format!("{ONE}    keys: {{ public_key_file: keys/app.pub }}\n"));
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    assert_eq!(live_fingerprint(&emulator, &ws), mine.fingerprint);
    assert_eq!(
        ws.state()["applications"]["app"]["key"],
        serde_json::json!({"custody": "external", "fingerprint": mine.fingerprint})
    );
    let text = std::fs::read_to_string(ws.path().join("vapp.state.json")).unwrap();
    assert!(!text.contains("PRIVATE KEY"));
    ws.vapp().args(["plan", "--detailed-exitcode"]).expect(0);
    let run = ws.vapp().args(["key", "show", "app"]).expect(1);
    assert!(run.stderr.contains("uses your own key"), "{run:?}");
    ws.vapp().args(["token", "app"]).expect(1);

    // A new key in the file is a reviewed change: the plan shows it, apply sends it.
    let next = vapp::keys::generate().unwrap();
    ws.write("keys/app.pub", &next.public_key);
    let plan = ws.vapp().args(["plan", "--format", "json"]).expect(0).json();
    assert_eq!(plan["changes"][0]["action"], "rotate-key");
    assert_eq!(plan["changes"][0]["diff"][0]["path"], "keys.fingerprint");
    assert_eq!(plan["changes"][0]["diff"][0]["after"], Value::String(next.fingerprint.to_string()));
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    assert_eq!(live_fingerprint(&emulator, &ws), next.fingerprint);
    ws.vapp().args(["plan", "--detailed-exitcode"]).expect(0);

    // A private key in the file is refused before anything is sent.
    ws.write("keys/app.pub", mine.private_key.expose());
    let run = ws.vapp().args(["plan"]).expect(1);
    assert!(run.stderr.contains("holds a private key"), "{run:?}");
    assert!(!run.stderr.contains("BEGIN PRIVATE KEY"), "{run:?}");
}

#[test]
fn rotation_is_declared_or_requested_and_custody_never_breaks() {
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", ONE);
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    assert_custody(&emulator, &ws);
    let first = state_fingerprint(&ws);

    // Raising keys.rotation in a reviewed change rotates.
    ws.write("vapp.yaml", &format!("{ONE}    keys: {{ rotation: 1 }}\n"));
    let plan = ws.vapp().args(["plan", "--detailed-exitcode", "--format", "json"]).expect(2).json();
    assert_eq!(plan["changes"][0]["action"], "rotate-key");
    assert_eq!(plan["summary"]["update"], 1);
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    assert_custody(&emulator, &ws);
    let second = state_fingerprint(&ws);
    assert_ne!(first, second);
    assert_eq!(ws.state()["applications"]["app"]["rotation"], 1);
    ws.vapp().args(["plan", "--detailed-exitcode"]).expect(0);

    // The operator's command asks for the next apply to rotate.
    ws.vapp().args(["key", "rotate", "app"]).expect(0);
    let human = ws.vapp().args(["plan", "--detailed-exitcode"]).expect(2).stdout;
    assert!(human.contains("will get a new key pair"), "{human}");
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    assert_custody(&emulator, &ws);
    assert_ne!(state_fingerprint(&ws), second);
    ws.vapp().args(["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn a_key_changed_outside_vapp_is_reported_and_custody_taken_back() {
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", ONE);
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    let id = ws.state()["applications"]["app"]["id"].as_str().unwrap().to_string();
    // Someone regenerates the key in the dashboard.
    let theirs = vapp::keys::generate().unwrap();
    let mut live = emulator.block_on(emulator.client().get(&vapp::model::AppId::new(&id))).unwrap();
    live.keys = Some(vapp::model::Keys { public_key: Some(theirs.public_key.clone()), ..Default::default() });
    emulator.block_on(emulator.client().update(&vapp::model::AppId::new(&id), &live)).unwrap();
    let run = ws.vapp().args(["plan", "--format", "json"]).expect(0);
    let plan = run.json();
    assert!(plan["warnings"][0].as_str().unwrap().contains("is not the one vapp holds"), "{plan:#}");
    assert_eq!(plan["drift"][0]["diff"][0]["path"], "keys.fingerprint", "{plan:#}");
    assert_eq!(plan["drift"][0]["diff"][0]["after"], Value::String(theirs.fingerprint.to_string()));
    assert_eq!(plan["changes"][0]["action"], "rotate-key");
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    assert_custody(&emulator, &ws);
    assert_ne!(live_fingerprint(&emulator, &ws), theirs.fingerprint);
    ws.vapp().args(["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn a_rotation_whose_answer_is_lost_keeps_both_keys_then_completes() {
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", ONE);
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    let before = state_fingerprint(&ws);
    let state_path = ws.path().join("vapp.state.json");
    let text = format!("{ONE}    keys: {{ rotation: 1 }}\n");
    let desired =
        vapp::manifest::load_sources(&[vapp::manifest::Source { path: "vapp.yaml".into(), text }], &|_| None).unwrap();
    let api = Faulty { inner: emulator.client(), fail_create_named: None, lose_put_answers: true };
    emulator.block_on(async {
        let backend = std::sync::Arc::new(vapp::state::backend::FileBackend::new(state_path.clone()));
        let loaded = vapp::state::load(backend.as_ref(), None).await.unwrap().unwrap();
        let state = loaded.state.clone();
        let live = vapp::plan::listing_keeps(Some(&state)).list(api.list_all().await.unwrap());
        let plan = vapp::plan::plan(&PlanInput {
            desired: &desired,
            state: Some(&state),
            live: &live,
            targets: &[],
            numbers: &[],
        })
        .unwrap();
        assert_eq!(plan.changes[0].action(), Action::RotateKey);
        let store = vapp::state::StateStore::new(backend, loaded.state, Some(loaded.token));
        let cancel = Cancel::default();
        let retry = vapp::api::RetryPolicy { max_attempts: 1, ..Default::default() };
        let executor = Executor {
            api: &api,
            numbers: &api.inner,
            store: &store,
            keys: Arc::new(RsaKeys),
            parallelism: 1,
            progress: &Quiet,
            cancel: &cancel,
            retry,
            settle: vapp::apply::SETTLE,
            slots: None,
        };
        let report = executor.execute(&plan).await;
        assert_eq!(report.failures().count(), 1);
    });
    // The PUT happened but vapp never heard: the state holds the old key and the new one as pending.
    let state = vapp::state::load_file(&state_path).unwrap().unwrap();
    let entry = &state.applications["app"];
    assert_eq!(entry.key.fingerprint(), Some(&vapp::model::Fingerprint::new(&before)));
    let pending = entry.pending_key.as_ref().expect("the new key is kept as pending");
    assert_eq!(
        pending.fingerprint().unwrap(),
        &live_fingerprint(&emulator, &ws),
        "the state holds the key the API has"
    );
    assert!(pending.private_key().is_some());
    // The next plan completes the rotation without sending anything.
    ws.write("vapp.yaml", &format!("{ONE}    keys: {{ rotation: 1 }}\n"));
    let plan = ws.vapp().args(["plan", "--format", "json"]).expect(0).json();
    assert_eq!(plan["changes"][0]["action"], "rotate-key");
    assert!(plan["changes"][0]["notes"][0].as_str().unwrap().contains("earlier rotation reached the account"));
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    assert_custody(&emulator, &ws);
    assert!(ws.state()["applications"]["app"].get("pending_key").is_none());
    ws.vapp().args(["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn tokens_verify_against_the_live_key() {
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", ONE);
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    let id = ws.state()["applications"]["app"]["id"].as_str().unwrap().to_string();
    let token = ws
        .vapp()
        .args([
            "token",
            "app",
            "--ttl",
            "1h",
            "--sub",
            "alice",
            "--acl",
            r#"{"paths": {"/*/users/**": {}}}"#,
            "--nbf",
            "1700000000",
        ])
        .expect(0)
        .stdout;
    let token = token.trim();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let decode = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap();
    // Verified with the public key the API reports, by the rsa crate (not the signer's library).
    let live = emulator.block_on(emulator.client().get(&vapp::model::AppId::new(&id))).unwrap();
    let public =
        <rsa::RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_pem(live.public_key().unwrap()).unwrap();
    let signature = Signature::try_from(decode(parts[2]).as_slice()).unwrap();
    VerifyingKey::<sha2::Sha256>::new(public)
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .unwrap();
    let header: Value = serde_json::from_slice(&decode(parts[0])).unwrap();
    assert_eq!(header, serde_json::json!({"alg": "RS256", "typ": "JWT"}));
    let claims: Value = serde_json::from_slice(&decode(parts[1])).unwrap();
    assert_eq!(claims["application_id"], Value::String(id));
    assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), 3600);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["nbf"], 1_700_000_000u64);
    assert_eq!(claims["acl"], serde_json::json!({"paths": {"/*/users/**": {}}}));
    let jti = uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).unwrap();
    assert_eq!(jti.get_version_num(), 4);
    let run = ws.vapp().args(["token", "app", "--ttl", "25h"]).expect(1);
    assert!(run.stderr.contains("at most 24h"), "{run:?}");
}

#[test]
fn key_show_writes_private_files() {
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", ONE);
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    ws.vapp().args(["key", "show", "app", "--format", "json", "--out", "app-key.json"]).expect(0);
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path().join("app-key.json")).unwrap()).unwrap();
    assert_eq!(written["application_id"], ws.state()["applications"]["app"]["id"]);
    assert!(written["private_key"].as_str().unwrap().starts_with("-----BEGIN PRIVATE KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ws.path().join("app-key.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn encrypted_state_holds_no_pem_and_a_wrong_passphrase_changes_nothing() {
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", "version: 1\napplications:\n  app:\n    name: App\n  other:\n    name: Other\n");
    let secret = "correct horse battery staple";
    ws.vapp().args(["apply", "--auto-approve"]).env("VAPP_STATE_PASSPHRASE", secret).expect(0);
    let path = ws.path().join("vapp.state.json");
    let on_disk = std::fs::read(&path).unwrap();
    let text = String::from_utf8(on_disk.clone()).unwrap();
    assert!(!text.contains("PRIVATE KEY") && text.contains("private_key_encrypted"), "{text}");

    let run = ws.vapp().args(["plan"]).env("VAPP_STATE_PASSPHRASE", "wrong").expect(1);
    assert!(run.stderr.contains("the passphrase does not open"), "{run:?}");
    let run = ws.vapp().args(["apply", "--auto-approve"]).env("VAPP_STATE_PASSPHRASE", "wrong").expect(1);
    assert!(run.stderr.contains("nothing was changed"), "{run:?}");
    let run = ws.vapp().args(["apply", "--auto-approve"]).expect(1);
    assert!(run.stderr.contains("VAPP_STATE_PASSPHRASE"), "{run:?}");
    ws.vapp().args(["key", "show", "app"]).expect(1);
    assert_eq!(std::fs::read(&path).unwrap(), on_disk, "a wrong or missing passphrase changes nothing on disk");
    // Commands that need no private key work without the passphrase; the keys stay sealed.
    ws.vapp().args(["plan", "--detailed-exitcode"]).expect(0);
    let listed = ws.vapp().args(["state", "list"]).expect(0).stdout;
    assert!(listed.contains("app") && listed.contains("other"), "{listed}");
    let shown = ws.vapp().args(["state", "show", "app"]).expect(0).stdout;
    assert!(!shown.contains("PRIVATE KEY") && !shown.contains("private_key_encrypted"), "{shown}");

    ws.write("pass.txt", &format!("{secret}\n"));
    ws.vapp().args(["--passphrase-file", "pass.txt", "plan", "--detailed-exitcode"]).expect(0);
    let pem = ws.vapp().args(["key", "show", "app"]).env("VAPP_STATE_PASSPHRASE", secret).expect(0).stdout;
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));

    ws.vapp().args(["state", "decrypt"]).env("VAPP_STATE_PASSPHRASE", secret).expect(0);
    assert!(std::fs::read_to_string(&path).unwrap().contains("BEGIN PRIVATE KEY"));
    ws.vapp().args(["plan", "--detailed-exitcode"]).expect(0);
    ws.vapp().args(["state", "encrypt"]).env("VAPP_STATE_PASSPHRASE", "another one").expect(0);
    assert!(!std::fs::read_to_string(&path).unwrap().contains("PRIVATE KEY"));
    let backups = vapp::state::backend::backup_dir(&path);
    for entry in std::fs::read_dir(&backups).into_iter().flatten() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!text.contains("PRIVATE KEY"), "a backup kept plain keys");
    }
    ws.vapp().args(["plan", "--detailed-exitcode"]).env("VAPP_STATE_PASSPHRASE", "another one").expect(0);
    // Changes keep the state encrypted.
    ws.write("vapp.yaml", "version: 1\napplications:\n  app:\n    name: App 2\n");
    ws.vapp().args(["apply", "--auto-approve"]).env("VAPP_STATE_PASSPHRASE", "another one").expect(0);
    assert!(!std::fs::read_to_string(&path).unwrap().contains("PRIVATE KEY"));
}
