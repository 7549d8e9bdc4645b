//! An account's whole life through the binary against the emulator: a subaccount emptied before it is
//! suspended (its numbers returned to the primary), declared again and resumed, suspended outside vapp
//! (drift), killed at every stage of an apply; the credentials each command asks for and the
//! variables its errors name; `account show` and `state list` for every account. The emulator keeps
//! its data in a file, which the tests read to see inside suspended accounts (nobody can sign in to
//! one).

use std::path::PathBuf;

use vapp::api::{SubaccountChange, SubaccountsApi};
use vapp::emulator::EmulatorConfig;

use crate::harness::{config, BackgroundEmulator, Workspace};

/// An emulator with the existing subaccount `stg00001` (secret `StgSecret1`), `numbers` numbers per
/// account, and its data in a file of its own.
fn emulator(numbers: usize) -> (BackgroundEmulator, tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("emulator.json");
    let subaccounts = vec![("stg00001".into(), vapp::secret::Secret::new("StgSecret1"))];
    let config = EmulatorConfig { seed_numbers: numbers, subaccounts, data_file: Some(data.clone()), ..config() };
    (BackgroundEmulator::start(config), dir, data)
}

/// The emulator's data: the primary's applications and numbers, and each subaccount's.
fn inside(data: &PathBuf) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(data).unwrap()).unwrap()
}

/// The subaccount named `name` in the emulator's data.
fn subaccount(data: &PathBuf, name: &str) -> serde_json::Value {
    let all = inside(data);
    all["subaccounts"].as_array().unwrap().iter().find(|s| s["name"] == name).cloned().unwrap_or_default()
}

fn msisdns(numbers: &serde_json::Value) -> Vec<String> {
    let mut all: Vec<String> = numbers
        .as_array()
        .map(|a| a.iter().map(|n| n["msisdn"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    all.sort();
    all
}

const DECLARE: &str = "version: 1\naccounts:\n  staging:\n    api_key: stg00001\n    api_secret_env: VONAGE_STAGING_API_SECRET\n  acme:\n    subaccount_of: default\n    name: ACME Corp\napplications:\n  main:\n    name: main\n";
const ACME: &str = "version: 1\naccount: acme\napplications:\n  acme-web:\n    name: acme web\n    numbers: [\"447700900002\"]\n  acme-ivr:\n    name: acme ivr\n    numbers: [\"447700900003\"]\n";
const STAGING: &str = "version: 1\naccount: staging\napplications:\n  stage-web:\n    name: stage web\n";
/// The declarations without `acme`.
fn without_acme() -> String {
    DECLARE.replace("  acme:\n    subaccount_of: default\n    name: ACME Corp\n", "")
}

fn three(ws: &Workspace) {
    ws.write("m/accounts.yaml", DECLARE);
    ws.write("m/acme.yaml", ACME);
    ws.write("m/staging.yaml", STAGING);
}

fn vapp(ws: &Workspace) -> crate::harness::Vapp {
    ws.vapp().args(["-f", "m"]).env("VONAGE_STAGING_API_SECRET", "StgSecret1")
}

/// The lines of `text` that contain `needles`, in order: each must be found after the one before.
fn in_order(text: &str, needles: &[&str]) {
    let mut from = 0;
    for needle in needles {
        match text[from..].find(needle) {
            Some(at) => from += at + needle.len(),
            None => panic!("{needle:?} is not after the earlier lines in:\n{text}"),
        }
    }
}

/// The first defect: a subaccount that leaves the manifests is emptied (its applications
/// deleted, its numbers unlinked and returned to the primary) before it is suspended; then nothing
/// is stranded, every later plan works, and declaring it again resumes it.
#[test]
fn a_subaccount_is_emptied_before_it_is_suspended_and_resumed_when_declared_again() {
    let (emulator, _dir, data) = emulator(4);
    let ws = Workspace::new(&emulator.url);
    three(&ws);
    let plan = vapp(&ws).args(["plan"]).expect(0);
    // The account made first, then the numbers transferred into it, then the applications.
    in_order(
        &plan.stdout,
        &[
            "+ account acme (subaccount of default)",
            "+ number 447700900002 (transferred from account default to account acme)",
            "Account default (test-key)",
            "Account acme (made by this apply)",
            "Account staging (stg00001)",
        ],
    );
    vapp(&ws).args(["apply", "--auto-approve"]).expect(0);
    vapp(&ws).args(["plan", "--detailed-exitcode"]).expect(0);
    let acme_key = subaccount(&data, "ACME Corp")["api_key"].as_str().unwrap().to_string();
    assert_eq!(msisdns(&subaccount(&data, "ACME Corp")["numbers"]), ["447700900002", "447700900003"]);

    // acme leaves: its applications go, its numbers go back to the primary, and only then is it
    // suspended.
    std::fs::remove_file(ws.path().join("m/acme.yaml")).unwrap();
    ws.write("m/accounts.yaml", &without_acme());
    let plan = vapp(&ws).args(["plan"]).expect(0);
    in_order(
        &plan.stdout,
        &[
            &format!("Account acme ({acme_key})"),
            "- acme-ivr",
            "- acme-web",
            "- number 447700900002 (returned from account acme to account default: acme is being suspended)",
            "- number 447700900003 (returned",
            &format!("- account acme ({acme_key}) suspended"),
        ],
    );
    let json = vapp(&ws).args(["plan", "--format", "json"]).expect(0).json();
    assert_eq!(json["transfers"][0]["reason"], "returned");
    assert_eq!(json["accounts"][0]["action"], "suspend");
    let applied = vapp(&ws).args(["apply", "--auto-approve"]).expect(0);
    in_order(
        &applied.stderr,
        &["acme-", "deleted", "number 447700900002: returned from account acme", "account acme: suspended"],
    );
    assert!(applied.stdout.contains("2 numbers returned to the primary, 1 account suspended"), "{applied:?}");
    let acme = subaccount(&data, "ACME Corp");
    assert_eq!(acme["suspended"], true);
    assert!(acme["applications"].as_array().unwrap().is_empty(), "no application stranded: {acme}");
    assert!(msisdns(&acme["numbers"]).is_empty(), "no number stranded: {acme}");
    let primary = inside(&data);
    let returned: Vec<&serde_json::Value> = primary["numbers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["msisdn"] == "447700900002" || n["msisdn"] == "447700900003")
        .collect();
    assert_eq!(returned.len(), 2, "both back in the primary");
    assert!(returned.iter().all(|n| n.get("app_id").is_none()), "and linked to nothing: {returned:?}");
    // Every later plan works: the suspended account is never signed in to.
    vapp(&ws).args(["plan", "--detailed-exitcode"]).expect(0);

    // Declared again: resumed, not made again, before anything inside it.
    three(&ws);
    let plan = vapp(&ws).args(["plan"]).expect(0);
    in_order(
        &plan.stdout,
        &[
            &format!("~ account acme ({acme_key}): suspended → resumed (declared again)"),
            "+ number 447700900002 (transferred from account default to account acme)",
            &format!("Account acme ({acme_key})"),
            "+ acme-ivr",
        ],
    );
    let applied = vapp(&ws).args(["apply", "--auto-approve"]).expect(0);
    assert!(applied.stderr.contains("account acme: resumed"), "{applied:?}");
    vapp(&ws).args(["plan", "--detailed-exitcode"]).expect(0);
    assert_eq!(inside(&data)["subaccounts"].as_array().unwrap().len(), 2, "staging and acme, no second acme");
    assert_eq!(subaccount(&data, "ACME Corp")["applications"].as_array().unwrap().len(), 2);
}

/// A subaccount suspended outside vapp is drift: shown and resumed. One suspended outside vapp that
/// also leaves the manifests is resumed to be emptied, then suspended again.
#[test]
fn a_subaccount_suspended_outside_vapp_is_resumed_or_emptied() {
    let (emulator, _dir, data) = emulator(4);
    let ws = Workspace::new(&emulator.url);
    three(&ws);
    vapp(&ws).args(["apply", "--auto-approve"]).expect(0);
    let acme_key = subaccount(&data, "ACME Corp")["api_key"].as_str().unwrap().to_string();
    let suspend = SubaccountChange { suspended: Some(true), ..Default::default() };
    emulator
        .block_on(emulator.client().modify_subaccount(&vapp::model::ApiKey::new(acme_key.clone()), &suspend))
        .unwrap();

    let plan = vapp(&ws).args(["plan", "--detailed-exitcode"]).expect(2);
    in_order(
        &plan.stdout,
        &[
            "Changed outside vapp since the last apply:",
            &format!("~ account acme ({acme_key}) was suspended"),
            &format!("~ account acme ({acme_key}): suspended → resumed (it was suspended outside vapp)"),
        ],
    );
    let markdown = vapp(&ws).args(["plan", "--format", "markdown"]).expect(0).stdout;
    assert!(markdown.contains(&format!("- account acme ({acme_key}) was suspended")), "{markdown}");
    vapp(&ws).args(["apply", "--auto-approve"]).expect(0);
    vapp(&ws).args(["plan", "--detailed-exitcode"]).expect(0);
    assert_eq!(subaccount(&data, "ACME Corp")["suspended"], false);

    // Suspended outside vapp again, and gone from the manifests: resumed to be emptied, suspended at
    // the end. The plan sees inside it what vapp last applied there.
    emulator
        .block_on(emulator.client().modify_subaccount(&vapp::model::ApiKey::new(acme_key.clone()), &suspend))
        .unwrap();
    std::fs::remove_file(ws.path().join("m/acme.yaml")).unwrap();
    ws.write("m/accounts.yaml", &without_acme());
    let plan = vapp(&ws).args(["plan"]).expect(0);
    in_order(
        &plan.stdout,
        &[
            &format!("~ account acme ({acme_key}): suspended → resumed (to take out what vapp keeps there"),
            "- acme-ivr",
            "- acme-web",
            "- number 447700900002 (returned",
            &format!("- account acme ({acme_key}) suspended"),
        ],
    );
    vapp(&ws).args(["apply", "--auto-approve"]).expect(0);
    vapp(&ws).args(["plan", "--detailed-exitcode"]).expect(0);
    let acme = subaccount(&data, "ACME Corp");
    assert_eq!(acme["suspended"], true);
    assert!(acme["applications"].as_array().unwrap().is_empty() && msisdns(&acme["numbers"]).is_empty(), "{acme}");
}

/// A command reads only the accounts it needs, and an error signing in names that account's
/// variables, never `default`'s.
#[test]
fn each_run_signs_in_to_the_accounts_it_reads_and_names_their_variables() {
    let (emulator, _dir, _data) = emulator(4);
    let ws = Workspace::new(&emulator.url);
    three(&ws);
    vapp(&ws).args(["apply", "--auto-approve"]).expect(0);
    // `default` alone: no staging secret needed.
    let plan = ws.vapp().args(["-f", "m", "plan", "--account", "default", "--detailed-exitcode"]).expect(0);
    assert!(plan.stdout.contains("No changes"), "{plan:?}");
    // staging alone: no default credentials needed.
    vapp(&ws)
        .env_remove("VONAGE_API_KEY")
        .env_remove("VONAGE_API_SECRET")
        .args(["plan", "--account", "staging", "--detailed-exitcode"])
        .expect(0);
    // acme is made by vapp: it needs the primary too, and says so.
    let needs = vapp(&ws).env_remove("VONAGE_API_SECRET").args(["plan", "--account", "acme"]).expect(1);
    assert!(needs.stderr.contains("VONAGE_API_SECRET is not set"), "{needs:?}");
    // A wrong secret for staging names staging's variable.
    let wrong = vapp(&ws).env("VONAGE_STAGING_API_SECRET", "Wrong1234").args(["plan"]).expect(1);
    assert!(wrong.stderr.contains("of account staging (API key stg00001)"), "{wrong:?}");
    assert!(wrong.stderr.contains("help: check VONAGE_STAGING_API_SECRET"), "{wrong:?}");
    assert!(!wrong.stderr.contains("VONAGE_API_KEY"), "not default's variables: {wrong:?}");
    let missing = ws.vapp().args(["-f", "m", "plan"]).expect(1);
    assert!(
        missing.stderr.contains("account staging needs its API secret in VONAGE_STAGING_API_SECRET"),
        "{missing:?}"
    );
}

/// `account show` for every declared account, and `state list`/`state show` with each address's
/// account (and numbers).
#[test]
fn every_account_is_shown_and_the_state_says_where_each_address_lives() {
    let (emulator, _dir, data) = emulator(4);
    let ws = Workspace::new(&emulator.url);
    three(&ws);
    vapp(&ws).args(["apply", "--auto-approve"]).expect(0);
    let staging = vapp(&ws).args(["account", "show", "staging"]).expect(0).stdout;
    assert!(staging.starts_with("VONAGE_API_KEY=stg00001\n"), "{staging}");
    assert!(staging.contains("VONAGE_STAGING_API_SECRET") && !staging.contains("StgSecret1"), "{staging}");
    let json = vapp(&ws).args(["account", "show", "staging", "--format", "json"]).expect(0).json();
    assert_eq!(
        json,
        serde_json::json!({"account": "staging", "kind": "existing", "api_key": "stg00001", "api_secret_env": "VONAGE_STAGING_API_SECRET"})
    );
    let acme = vapp(&ws).args(["account", "show", "acme", "--format", "json"]).expect(0).json();
    assert_eq!(acme["kind"], "subaccount");
    assert_eq!(acme["api_key"], subaccount(&data, "ACME Corp")["api_key"]);
    let default = vapp(&ws).args(["account", "show", "default", "--format", "json"]).expect(0).json();
    assert_eq!((default["kind"].as_str(), default["api_key"].as_str()), (Some("primary"), Some(crate::harness::KEY)));

    let listed = vapp(&ws).args(["state", "list"]).expect(0).stdout;
    let rows: Vec<Vec<&str>> = listed.lines().map(|l| l.split('\t').collect()).collect();
    let accounts: Vec<(&str, &str)> = rows.iter().map(|r| (r[0], r[2])).collect();
    assert_eq!(accounts, [("acme-ivr", "acme"), ("acme-web", "acme"), ("main", "default"), ("stage-web", "staging")]);
    let shown = vapp(&ws).args(["state", "show", "acme-web"]).expect(0).json();
    assert_eq!(shown["account"], "acme");
    assert_eq!(shown["numbers"], serde_json::json!(["447700900002"]));
}

/// Moving an application that has a number to another account: the number goes with it, and nothing
/// reads as changed outside vapp.
#[test]
fn an_application_moves_accounts_with_its_number_and_no_false_drift() {
    let (emulator, _dir, data) = emulator(4);
    let ws = Workspace::new(&emulator.url);
    three(&ws);
    ws.write("m/accounts.yaml", &format!("{DECLARE}    numbers: [\"447700900001\"]\n"));
    vapp(&ws).args(["apply", "--auto-approve"]).expect(0);
    // `main` (with its number) moves into acme.
    ws.write("m/accounts.yaml", &DECLARE.replace("applications:\n  main:\n    name: main\n", "applications: {}\n"));
    ws.write("m/acme.yaml", &format!("{ACME}  main:\n    name: main\n    numbers: [\"447700900001\"]\n"));
    let plan = vapp(&ws).args(["plan"]).expect(0);
    assert!(!plan.stdout.contains("outside vapp"), "{plan:?}");
    in_order(
        &plan.stdout,
        &["+ number 447700900001 (transferred from account default to account acme)", "- main", "+ main"],
    );
    let json = vapp(&ws).args(["plan", "--format", "json"]).expect(0).json();
    assert_eq!(json["drift"], serde_json::json!([]));
    vapp(&ws).args(["apply", "--auto-approve"]).expect(0);
    vapp(&ws).args(["plan", "--detailed-exitcode"]).expect(0);
    let acme = subaccount(&data, "ACME Corp");
    let main = acme["applications"].as_array().unwrap().iter().find(|a| a["name"] == "main").cloned().unwrap();
    let number = acme["numbers"].as_array().unwrap().iter().find(|n| n["msisdn"] == "447700900001").cloned().unwrap();
    assert_eq!(number["app_id"], main["id"]);
}

/// Destroy from the state alone: no manifests, and still every application goes and the subaccount
/// vapp made is emptied and suspended (its secret is in the state's custody).
#[test]
fn destroy_works_from_the_state_alone() {
    let (emulator, _dir, data) = emulator(4);
    let ws = Workspace::new(&emulator.url);
    ws.write("m/accounts.yaml", "version: 1\naccounts:\n  acme:\n    subaccount_of: default\n    name: ACME Corp\napplications:\n  main:\n    name: main\n");
    ws.write("m/acme.yaml", ACME);
    ws.vapp().args(["-f", "m", "apply", "--auto-approve"]).expect(0);
    std::fs::remove_dir_all(ws.path().join("m")).unwrap();
    let destroyed = ws.vapp().args(["destroy", "--auto-approve"]).expect(0);
    in_order(
        &destroyed.stderr,
        &["deleted", "number 447700900002: returned from account acme", "account acme: suspended"],
    );
    assert!(destroyed.stdout.contains("3 applications deleted"), "{destroyed:?}");
    let acme = subaccount(&data, "ACME Corp");
    assert_eq!(acme["suspended"], true);
    assert!(acme["applications"].as_array().unwrap().is_empty() && msisdns(&acme["numbers"]).is_empty(), "{acme}");
    assert!(inside(&data)["applications"].as_array().unwrap().is_empty());
    let state = ws.state();
    assert_eq!(state["applications"], serde_json::json!({}));
}

/// The day every stage of an apply has work: acme (made earlier) leaves, one of its applications moves
/// to `default` with its number, another is deleted, and a new subaccount `beta` is made with a number
/// transferred in. Killed after each stage, the same command finishes the work.
#[test]
fn a_kill_after_any_stage_is_finished_by_the_same_command() {
    let before = "version: 1\naccounts:\n  acme:\n    subaccount_of: default\n    name: ACME Corp\naccount: acme\napplications:\n  a1:\n    name: a1\n    numbers: [\"447700900001\"]\n  a2:\n    name: a2\n    numbers: [\"447700900002\"]\n";
    let after = "version: 1\naccounts:\n  beta:\n    subaccount_of: default\n    name: Beta\napplications:\n  a1:\n    name: a1\n    numbers: [\"447700900001\"]\n";
    let beta = "version: 1\naccount: beta\napplications:\n  b1:\n    name: b1\n    numbers: [\"447700900003\"]\n";
    for stage in vapp::apply::Stage::ALL {
        let (emulator, _dir, data) = emulator(4);
        let ws = Workspace::new(&emulator.url);
        ws.write("m/a.yaml", before);
        ws.vapp().args(["-f", "m", "apply", "--auto-approve"]).expect(0);
        ws.write("m/a.yaml", after);
        ws.write("m/beta.yaml", beta);
        let crash = format!("realize:{}", stage.name());
        let killed = ws.vapp().args(["-f", "m", "apply", "--auto-approve"]).env("VAPP_CRASH_AT", &crash).run();
        assert_ne!(killed.code, 0, "{crash}: killed {killed:?}");
        let finished = ws.vapp().args(["-f", "m", "apply", "--auto-approve"]).run();
        assert_eq!(finished.code, 0, "{crash}: {finished:?}");
        ws.vapp().args(["-f", "m", "plan", "--detailed-exitcode"]).expect(0);
        let acme = subaccount(&data, "ACME Corp");
        assert_eq!(acme["suspended"], true, "{crash}");
        assert!(acme["applications"].as_array().unwrap().is_empty(), "{crash}: {acme}");
        assert!(msisdns(&acme["numbers"]).is_empty(), "{crash}: {acme}");
        let beta = subaccount(&data, "Beta");
        assert_eq!(beta["applications"].as_array().unwrap().len(), 1, "{crash}: one b1, never two");
        assert_eq!(msisdns(&beta["numbers"]), ["447700900003"], "{crash}");
        let primary = inside(&data);
        let a1: Vec<&serde_json::Value> =
            primary["applications"].as_array().unwrap().iter().filter(|a| a["name"] == "a1").collect();
        assert_eq!(a1.len(), 1, "{crash}: a1 once, in default");
        let linked = primary["numbers"].as_array().unwrap().iter().find(|n| n["msisdn"] == "447700900001").cloned();
        assert_eq!(linked.map(|n| n["app_id"].clone()), Some(a1[0]["id"].clone()), "{crash}");
        let names: Vec<String> = inside(&data)["subaccounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(names, ["stg00001", "ACME Corp", "Beta"], "{crash}: acme and beta, each made once");
        let state = ws.state();
        assert!(state.get("transfers_pending").is_none(), "{crash}: settled");
    }
}

/// One step of an account's life in the property test: whether the manifests declare `acme`, whether
/// someone suspends it outside vapp first, and where three applications are (`default`, `staging`, or
/// `acme` when it is declared), with which of the primary's two numbers.
#[derive(Clone, Debug)]
struct Step {
    acme: bool,
    suspend_outside: bool,
    apps: Vec<Option<(usize, Option<usize>)>>,
}

const LIFE_NUMBERS: [&str; 2] = ["447700900001", "447700900002"];

fn steps() -> impl proptest::strategy::Strategy<Value = Vec<Step>> {
    use proptest::prelude::*;
    let app = proptest::option::of((0usize..3, proptest::option::of(0usize..2)));
    let step = (any::<bool>(), proptest::bool::weighted(0.3), proptest::collection::vec(app, 3))
        .prop_map(|(acme, suspend_outside, apps)| Step { acme, suspend_outside, apps });
    proptest::collection::vec(step, 2..5)
}

/// The manifests of `step`: the applications it places, each number under one application at most.
fn write_step(ws: &Workspace, step: &Step) -> Vec<(String, usize, Option<usize>)> {
    let mut taken = [false; 2];
    let mut placed = Vec::new();
    for (i, app) in step.apps.iter().enumerate() {
        let Some((account, number)) = app else { continue };
        // Without acme, its applications stay in default; staging takes no number.
        let account = if *account == 2 && !step.acme { 0 } else { *account };
        let number = number.filter(|n| account != 1 && !std::mem::replace(&mut taken[*n], true));
        placed.push((format!("app-{i}"), account, number));
    }
    let mut files = [
        String::from(
            "version: 1\naccounts:\n  staging:\n    api_key: stg00001\n    api_secret_env: VONAGE_STAGING_API_SECRET\n",
        ),
        String::from("version: 1\naccount: staging\napplications:\n"),
        String::from("version: 1\naccount: acme\napplications:\n"),
    ];
    if step.acme {
        files[0].push_str("  acme:\n    subaccount_of: default\n    name: ACME Corp\n");
    }
    files[0].push_str("applications:\n");
    for (address, account, number) in &placed {
        files[*account].push_str(&format!("  {address}:\n    name: {address}\n"));
        if let Some(n) = number {
            files[*account].push_str(&format!("    numbers: [\"{}\"]\n", LIFE_NUMBERS[*n]));
        }
    }
    for (i, name) in ["m/accounts.yaml", "m/staging.yaml", "m/acme.yaml"].iter().enumerate() {
        let text = match files[i].ends_with("applications:\n") {
            true => files[i].replace("applications:\n", "applications: {}\n"),
            false => files[i].clone(),
        };
        match i == 2 && !step.acme {
            true => drop(std::fs::remove_file(ws.path().join(name))),
            false => drop(ws.write(name, &text)),
        }
    }
    placed
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 8, ..Default::default() })]

    /// Random lives of a subaccount: declared, filled with applications and numbers, applications
    /// moved in and out of it, removed, declared again, suspended outside vapp. After each apply the
    /// next plan is empty, every plan succeeds, and nothing is left in a suspended account.
    #[test]
    fn account_lives_converge_and_strand_nothing(life in steps()) {
        let (emulator, _dir, data) = emulator(2);
        let ws = Workspace::new(&emulator.url);
        for step in &life {
            if step.suspend_outside {
                let key = subaccount(&data, "ACME Corp")["api_key"].as_str().map(str::to_string);
                if let Some(key) = key {
                    let suspend = SubaccountChange { suspended: Some(true), ..Default::default() };
                    emulator.block_on(emulator.client().modify_subaccount(&vapp::model::ApiKey::new(key.clone()), &suspend)).unwrap();
                }
            }
            let placed = write_step(&ws, step);
            let plan = vapp(&ws).args(["plan"]).run();
            proptest::prop_assert_eq!(plan.code, 0, "{:?}\n{:?}", step, plan);
            let applied = vapp(&ws).args(["apply", "--auto-approve"]).run();
            proptest::prop_assert_eq!(applied.code, 0, "{:?}\n{:?}", step, applied);
            let again = vapp(&ws).args(["plan", "--detailed-exitcode"]).run();
            proptest::prop_assert_eq!(again.code, 0, "{:?}\n{:?}", step, again);
            let acme = subaccount(&data, "ACME Corp");
            let names = |apps: &serde_json::Value| -> Vec<String> {
                let mut names: Vec<String> =
                    apps.as_array().into_iter().flatten().map(|a| a["name"].as_str().unwrap().to_string()).collect();
                names.sort();
                names
            };
            let wanted = |account: usize| -> Vec<String> {
                let mut names: Vec<String> =
                    placed.iter().filter(|(_, a, _)| *a == account).map(|(n, _, _)| n.clone()).collect();
                names.sort();
                names
            };
            if step.acme {
                proptest::prop_assert_eq!(&acme["suspended"], &serde_json::json!(false));
                proptest::prop_assert_eq!(names(&acme["applications"]), wanted(2));
            } else if !acme.is_null() {
                proptest::prop_assert_eq!(&acme["suspended"], &serde_json::json!(true), "{:?}", step);
                proptest::prop_assert!(names(&acme["applications"]).is_empty(), "stranded: {}", acme);
                proptest::prop_assert!(msisdns(&acme["numbers"]).is_empty(), "stranded: {}", acme);
            }
            proptest::prop_assert_eq!(names(&inside(&data)["applications"]), wanted(0));
        }
    }
}

/// Starts `vapp apply` and SIGKILLs it after it printed `lines` progress lines (wherever they land is
/// what the drill tries).
fn kill_apply_after(ws: &Workspace, lines: usize) {
    use std::io::BufRead;
    let mut child = vapp(ws).args(["apply", "--auto-approve", "--numbers-pace", "0s", "--parallelism", "3"]).spawn();
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut seen = 0;
    for line in std::io::BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        if line.contains('…') || line.contains(" [") || line.contains("number ") || line.contains("account ") {
            seen += 1;
        }
        if seen >= lines {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Applies until the next plan is empty, at most `max_runs` times.
fn converge_everywhere(ws: &Workspace, max_runs: usize) -> usize {
    for run in 1..=max_runs {
        vapp(ws).args(["apply", "--auto-approve", "-q", "--numbers-pace", "0s"]).run();
        if vapp(ws).args(["plan", "--detailed-exitcode", "-q"]).run().code == 0 {
            return run;
        }
    }
    panic!("no convergence in {max_runs} runs");
}

/// The chaos drill over three accounts (the primary, the existing `staging`, the made `acme`): an
/// emulator that loses answers, fails, rate-limits and lags; manifests that move applications and
/// numbers between the accounts and take `acme` away and back; SIGKILLs in the middle of applies.
/// After each generation converges, every account holds exactly its applications, once, and a
/// removed `acme` holds nothing.
#[test]
fn a_chaos_drill_over_three_accounts() {
    use rand::{Rng, SeedableRng};
    let seed: u64 = std::env::var("VAPP_DRILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(26);
    let mut dice = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("emulator.json");
    let faults = vapp::emulator::Faults {
        latency: std::time::Duration::from_millis(5),
        drop_rate: 0.15,
        fail_rate: 0.15,
        rate_limit: Some(80),
        seed: Some(seed),
    };
    let subaccounts = vec![("stg00001".into(), vapp::secret::Secret::new("StgSecret1"))];
    let emulator = BackgroundEmulator::start(EmulatorConfig {
        seed_numbers: 2,
        subaccounts,
        data_file: Some(data.clone()),
        faults,
        ..config()
    });
    let ws = Workspace::new(&emulator.url);
    let mut kills = 0;
    for generation in 0..5 {
        let step = Step {
            acme: generation % 3 != 2,
            suspend_outside: false,
            apps: (0..6).map(|_| Some((dice.gen_range(0..3), dice.gen_range(0..4usize).checked_sub(2)))).collect(),
        };
        let placed = write_step(&ws, &step);
        kill_apply_after(&ws, dice.gen_range(1..10));
        kills += 1;
        let runs = converge_everywhere(&ws, 12);
        eprintln!("drill generation {generation}: converged in {runs} run(s) after a kill");
        let all = inside(&data);
        let names = |apps: &serde_json::Value| -> Vec<String> {
            let mut names: Vec<String> =
                apps.as_array().into_iter().flatten().map(|a| a["name"].as_str().unwrap().to_string()).collect();
            names.sort();
            names
        };
        let wanted = |account: usize| -> Vec<String> {
            let mut names: Vec<String> =
                placed.iter().filter(|(_, a, _)| *a == account).map(|(n, _, _)| n.clone()).collect();
            names.sort();
            names
        };
        assert_eq!(names(&all["applications"]), wanted(0), "default, generation {generation}");
        let staging = all["subaccounts"].as_array().unwrap().iter().find(|s| s["api_key"] == "stg00001").cloned();
        assert_eq!(names(&staging.unwrap_or_default()["applications"]), wanted(1), "staging, generation {generation}");
        let acmes: Vec<&serde_json::Value> =
            all["subaccounts"].as_array().unwrap().iter().filter(|s| s["name"] == "ACME Corp").collect();
        assert!(acmes.len() <= 1, "acme made once: {acmes:?}");
        if let Some(acme) = acmes.first() {
            match step.acme {
                true => assert_eq!(names(&acme["applications"]), wanted(2), "acme, generation {generation}"),
                false => {
                    assert_eq!(acme["suspended"], true);
                    assert!(names(&acme["applications"]).is_empty() && msisdns(&acme["numbers"]).is_empty(), "{acme}");
                }
            }
        }
    }
    eprintln!("drill over three accounts: {kills} SIGKILLs mid-apply, every generation converged (seed {seed})");
}
