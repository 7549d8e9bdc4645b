//! Subaccounts vapp makes, through the binary against the emulator: created with the secret in the
//! state's custody, shown for servers, renamed, suspended, and never made twice when answers are lost.

use vapp::api::{Credentials, SubaccountsApi};
use vapp::emulator::{EmulatorConfig, Faults};

use crate::harness::{config, BackgroundEmulator, Workspace, SECRET};

const ACME: &str = "version: 1\naccounts:\n  acme:\n    subaccount_of: default\n    name: ACME Corp\napplications:\n  web:\n    name: web\n";

/// An emulator whose primary has the existing subaccount `sub00001` (secret `SubSecret1`), the
/// manifests' `staging`, and `seed_numbers` numbers per account.
fn with_staging(seed_numbers: usize) -> BackgroundEmulator {
    let subaccounts = vec![("sub00001".into(), vapp::secret::Secret::new("SubSecret1"))];
    BackgroundEmulator::start(EmulatorConfig { seed_numbers, subaccounts, ..config() })
}

/// A workspace on `emulator` with the three-account day's manifests in `m/`.
fn three_accounts(emulator: &BackgroundEmulator) -> Workspace {
    let ws = Workspace::new(&emulator.url);
    ws.write("m/accounts.yaml", THREE);
    ws.write("m/staging.yaml", STAGING);
    ws.write("m/acme.yaml", ACME_APPS);
    ws
}

/// The API key and secret `vapp account show --format env` prints.
fn shown(ws: &Workspace) -> (String, String) {
    let run = ws.vapp().args(["account", "show", "acme"]).expect(0);
    let mut key = String::new();
    let mut secret = String::new();
    for line in run.stdout.lines() {
        if let Some(k) = line.strip_prefix("VONAGE_API_KEY=") {
            key = k.to_string();
        }
        if let Some(s) = line.strip_prefix("VONAGE_API_SECRET=") {
            secret = s.to_string();
        }
    }
    (key, secret)
}

#[test]
fn a_subaccount_is_made_shown_renamed_and_suspended() {
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", ACME);
    let plan = ws.vapp().args(["plan"]).expect(0);
    assert!(plan.stdout.contains("  + account acme (subaccount of default)\n"), "{plan:?}");
    assert!(plan.stdout.contains("1 account change"), "{plan:?}");
    let json = ws.vapp().args(["plan", "--format", "json"]).expect(0).json();
    assert_eq!(json["accounts"][0]["action"], "create");
    assert_eq!(json["accounts"][0]["account"], "acme");

    let applied = ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    assert!(applied.stderr.contains("account acme: created"), "{applied:?}");
    ws.vapp().args(["plan", "--detailed-exitcode"]).expect(0);

    // The credentials work against the account, and the state holds no secret from the environment.
    let (key, secret) = shown(&ws);
    let client = emulator.client();
    let listed = emulator.block_on(client.list_subaccounts()).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].api_key.as_str(), listed[0].name.as_str()), (key.as_str(), "ACME Corp"));
    assert!(emulator
        .block_on(
            client.secret_opens(&vapp::model::ApiKey::new(key.clone()), &vapp::secret::Secret::new(secret.clone()))
        )
        .unwrap());
    let sub = client.for_credentials(Credentials::new(&key, &secret));
    assert!(emulator.block_on(vapp::api::ApplicationApi::list_all(&sub)).unwrap().is_empty());
    let state_text = std::fs::read_to_string(ws.path().join("vapp.state.json")).unwrap();
    assert!(!state_text.contains(SECRET), "the primary's secret is never written");
    let json = ws.vapp().args(["account", "show", "acme", "--format", "json"]).expect(0).json();
    assert_eq!(json["api_key"], key.as_str());

    // A rename is a PATCH.
    ws.write("vapp.yaml", &ACME.replace("ACME Corp", "ACME Ltd"));
    let plan = ws.vapp().args(["plan"]).expect(0);
    assert!(plan.stdout.contains(&format!("~ account acme ({key}): name \"ACME Corp\" → \"ACME Ltd\"")), "{plan:?}");
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    assert_eq!(
        emulator.block_on(client.get_subaccount(&vapp::model::ApiKey::new(key.clone()))).unwrap().name,
        "ACME Ltd"
    );
    ws.vapp().args(["plan", "--detailed-exitcode"]).expect(0);

    // Leaving the manifests suspends it (Vonage has no delete), counted by --max-deletes.
    ws.write("vapp.yaml", "version: 1\napplications:\n  web:\n    name: web\n");
    let plan = ws.vapp().args(["plan"]).expect(0);
    assert!(plan.stdout.contains(&format!("- account acme ({key}) suspended")), "{plan:?}");
    let refused = ws.vapp().args(["apply", "--auto-approve", "--max-deletes", "0"]).expect(1);
    assert!(refused.stderr.contains("more than --max-deletes 0"), "{refused:?}");
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    assert!(emulator.block_on(client.get_subaccount(&vapp::model::ApiKey::new(key.clone()))).unwrap().suspended);
    assert!(!emulator
        .block_on(client.secret_opens(&vapp::model::ApiKey::new(key.clone()), &vapp::secret::Secret::new(secret)))
        .unwrap());
    ws.vapp().args(["plan", "--detailed-exitcode"]).expect(0);

    // Back in the manifests, it is resumed, not made again.
    ws.write("vapp.yaml", &ACME.replace("ACME Corp", "ACME Ltd"));
    let plan = ws.vapp().args(["plan"]).expect(0);
    assert!(plan.stdout.contains("suspended → resumed"), "{plan:?}");
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    assert_eq!(emulator.block_on(client.list_subaccounts()).unwrap().len(), 1);
    ws.vapp().args(["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn an_encrypted_state_keeps_the_subaccount_secret_sealed() {
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", ACME);
    let passphrase = "correct horse battery staple";
    ws.vapp().args(["apply", "--auto-approve"]).env("VAPP_STATE_PASSPHRASE", passphrase).expect(0);
    let (key, secret) = {
        let run = ws.vapp().args(["account", "show", "acme"]).env("VAPP_STATE_PASSPHRASE", passphrase).expect(0);
        let lines: Vec<&str> = run.stdout.lines().collect();
        (
            lines[0].trim_start_matches("VONAGE_API_KEY=").to_string(),
            lines[1].trim_start_matches("VONAGE_API_SECRET=").to_string(),
        )
    };
    assert!(!key.is_empty() && !secret.is_empty());
    let state_text = std::fs::read_to_string(ws.path().join("vapp.state.json")).unwrap();
    assert!(!state_text.contains(&secret), "sealed like the private keys");
    assert!(state_text.contains("secret_encrypted"));
    let refused = ws.vapp().args(["account", "show", "acme"]).expect(1);
    assert!(refused.stderr.contains("passphrase"), "{refused:?}");
}

#[test]
fn lost_answers_never_make_a_subaccount_twice() {
    // Half of all answers are lost after the emulator carried the call out.
    let faults = Faults { drop_rate: 0.5, seed: Some(7), ..Faults::default() };
    let emulator = BackgroundEmulator::start(EmulatorConfig { faults, ..config() });
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", ACME);
    let mut converged = false;
    for _ in 0..30 {
        if ws.vapp().args(["apply", "--auto-approve"]).run().code == 0
            && ws.vapp().args(["plan", "--detailed-exitcode"]).run().code == 0
        {
            converged = true;
            break;
        }
    }
    assert!(converged, "apply converges despite lost answers");
    // The checks' own calls may lose their answers too: each is tried a bounded number of times.
    let listed = (0..50)
        .find_map(|_| emulator.block_on(emulator.client().list_subaccounts()).ok())
        .expect("one of 50 listings is answered");
    assert_eq!(listed.iter().filter(|s| s.name == "ACME Corp").count(), 1, "never made twice: {listed:?}");
    let (key, secret) = shown(&ws);
    assert_eq!(listed[0].api_key, key);
    let secret = vapp::secret::Secret::new(secret);
    let opens = (0..50)
        .find_map(|_| {
            emulator.block_on(emulator.client().secret_opens(&vapp::model::ApiKey::new(key.clone()), &secret)).ok()
        })
        .expect("one of 50 sign-ins is answered");
    assert!(opens, "the secret in the state works");
}

const THREE: &str = "version: 1\naccounts:\n  staging:\n    api_key: sub00001\n    api_secret_env: VONAGE_STAGING_API_SECRET\n  acme:\n    subaccount_of: default\n    name: ACME Corp\napplications:\n  main:\n    name: main\n    numbers: [\"447700900001\"]\n";
const STAGING: &str =
    "version: 1\naccount: staging\napplications:\n  stage-web:\n    name: stage web\n    numbers: [\"447700900004\"]\n";
const ACME_APPS: &str =
    "version: 1\naccount: acme\napplications:\n  acme-web:\n    name: acme web\n    numbers: [\"447700900002\"]\n";

#[test]
fn a_three_account_day() {
    let emulator = with_staging(3);
    let ws = three_accounts(&emulator);
    let vapp = || ws.vapp().args(["-f", "m"]).env("VONAGE_STAGING_API_SECRET", "SubSecret1");

    // An account whose secret is missing is an error naming the variable.
    let missing = ws.vapp().args(["-f", "m", "plan"]).expect(1);
    assert!(
        missing.stderr.contains("account staging needs its API secret in VONAGE_STAGING_API_SECRET"),
        "{missing:?}"
    );

    let plan = vapp().args(["plan"]).expect(0);
    for expected in [
        "+ account acme (subaccount of default)",
        "Account default (test-key)",
        "Account acme (made by this apply)",
        "Account staging (sub00001)",
        "Plan: 3 to create",
    ] {
        assert!(plan.stdout.contains(expected), "missing {expected:?} in {plan:?}");
    }
    let json = vapp().args(["plan", "--format", "json"]).expect(0).json();
    let accounts: Vec<(&str, &str)> = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["account"].as_str().unwrap(), c["address"].as_str().unwrap()))
        .collect();
    assert_eq!(accounts, [("default", "main"), ("acme", "acme-web"), ("staging", "stage-web")]);
    assert_eq!(
        json["transfers"],
        serde_json::json!([{"number": "447700900002", "country": "GB", "from": "default", "to": "acme"}])
    );

    vapp().args(["apply", "--auto-approve"]).expect(0);
    vapp().args(["plan", "--detailed-exitcode"]).expect(0);

    // Each application is in its own account, with its number.
    let client = emulator.client();
    let names = |c: &vapp::api::Client| -> Vec<String> {
        emulator.block_on(vapp::api::ApplicationApi::list_all(c)).unwrap().into_iter().map(|a| a.name).collect()
    };
    assert_eq!(names(&client), ["main"]);
    let staging = client.for_credentials(Credentials::new("sub00001", "SubSecret1"));
    assert_eq!(names(&staging), ["stage web"]);
    let (acme_key, acme_secret) = shown(&ws);
    let acme = client.for_credentials(Credentials::new(&acme_key, &acme_secret));
    assert_eq!(names(&acme), ["acme web"]);
    let linked = emulator
        .block_on(vapp::api::NumbersApi::find_number(&staging, &vapp::model::Msisdn::new("447700900004")))
        .unwrap()
        .unwrap();
    assert!(linked.app_id.is_some(), "the staging number routes to the staging application");
    // The number was transferred to the subaccount vapp made, then linked there.
    let moved = emulator
        .block_on(vapp::api::NumbersApi::find_number(&acme, &vapp::model::Msisdn::new("447700900002")))
        .unwrap()
        .expect("acme owns the transferred number");
    assert!(moved.app_id.is_some(), "and it routes to acme's application");
    let primary_has = emulator
        .block_on(vapp::api::NumbersApi::find_number(&client, &vapp::model::Msisdn::new("447700900002")))
        .unwrap();
    assert!(primary_has.is_none());
    let state = ws.state();
    assert!(state.get("transfers_pending").is_none(), "no transfer is left unresolved");
    assert_eq!(state["applications"]["stage-web"]["account"], "staging");
    assert!(state["applications"]["main"].get("account").is_none(), "default entries read as before");
    assert!(!std::fs::read_to_string(ws.path().join("vapp.state.json")).unwrap().contains("SubSecret1"));

    // --account limits a plan (and an apply) to those accounts.
    ws.write("m/staging.yaml", &STAGING.replace("stage web", "stage web 2"));
    ws.write("m/accounts.yaml", &THREE.replace("name: main", "name: main 2"));
    let only = vapp().args(["plan", "--format", "json", "--account", "staging"]).expect(0).json();
    let addresses: Vec<&str> =
        only["changes"].as_array().unwrap().iter().map(|c| c["address"].as_str().unwrap()).collect();
    assert_eq!(addresses, ["stage-web"]);
    vapp().args(["apply", "--auto-approve", "--account", "staging"]).expect(0);
    assert_eq!(names(&staging), ["stage web 2"]);
    assert_eq!(names(&client), ["main"], "default was left alone");
    let unknown = vapp().args(["plan", "--account", "nosuch"]).expect(1);
    assert!(unknown.stderr.contains("--account nosuch: no such account"), "{unknown:?}");
    vapp().args(["apply", "--auto-approve"]).expect(0);
    ws.write("m/staging.yaml", STAGING);
    ws.write("m/accounts.yaml", THREE);
    vapp().args(["apply", "--auto-approve"]).expect(0);

    // The state binds each account name to its API key.
    ws.write("m/accounts.yaml", &THREE.replace("api_key: sub00001", "api_key: sub00002"));
    let other = vapp().args(["plan"]).expect(1);
    assert!(other.stderr.contains("the state binds account staging to API key sub00001"), "{other:?}");
    ws.write("m/accounts.yaml", THREE);

    // Vonage cannot move an application between accounts: a move is a create in the new account
    // and a delete in the old, with a warning. Here into `default`, which apply visits first: the old
    // half still goes before the new one takes the address.
    let acme_app_id = ws.state()["applications"]["acme-web"]["id"].as_str().unwrap().to_string();
    ws.write("m/acme.yaml", "version: 1\naccount: acme\napplications: {}\n");
    ws.write("m/accounts.yaml", &format!("{THREE}  acme-web:\n    name: acme web\n    numbers: [\"447700900002\"]\n"));
    let half = vapp().args(["plan", "--account", "default"]).expect(1);
    assert!(
        half.stderr
            .contains("`acme-web` moves from account acme to account default, and --account names only one of them"),
        "{half:?}"
    );
    let plan = vapp().args(["plan"]).expect(0);
    assert!(
        plan.stderr.contains("acme-web moves from account acme to account default: Vonage cannot move an application"),
        "{plan:?}"
    );
    let json = vapp().args(["plan", "--format", "json"]).expect(0).json();
    let acting: Vec<(&str, &str)> = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["address"] == "acme-web")
        .map(|c| (c["account"].as_str().unwrap(), c["action"].as_str().unwrap()))
        .collect();
    assert_eq!(acting, [("default", "create"), ("acme", "delete")]);
    assert_eq!(json["transfers"][0]["from"], "acme");
    vapp().args(["apply", "--auto-approve"]).expect(0);
    vapp().args(["plan", "--detailed-exitcode"]).expect(0);
    assert!(names(&acme).is_empty(), "the old application is gone from acme");
    assert_eq!(names(&client), ["main", "acme web"]);
    let entry = &ws.state()["applications"]["acme-web"];
    assert!(entry.get("account").is_none(), "recorded in default");
    assert_ne!(entry["id"].as_str().unwrap(), acme_app_id, "a new application");
    let number = emulator
        .block_on(vapp::api::NumbersApi::find_number(&client, &vapp::model::Msisdn::new("447700900002")))
        .unwrap()
        .expect("the number came along to default");
    assert_eq!(number.app_id.as_ref().map(|id| id.as_str()), entry["id"].as_str());
    // And back, the other way round.
    ws.write("m/accounts.yaml", THREE);
    ws.write("m/acme.yaml", ACME_APPS);
    vapp().args(["apply", "--auto-approve"]).expect(0);
    vapp().args(["plan", "--detailed-exitcode"]).expect(0);
    assert_eq!(names(&acme), ["acme web"]);
    assert_eq!(names(&client), ["main"]);

    // Leaving the manifests deletes in its own account.
    ws.write("m/acme.yaml", "version: 1\naccount: acme\napplications: {}\n");
    let plan = vapp().args(["plan"]).expect(0);
    assert!(plan.stdout.contains("Account acme (") && plan.stdout.contains("acme-web"), "{plan:?}");
    vapp().args(["apply", "--auto-approve"]).expect(0);
    assert!(names(&acme).is_empty());
    assert_eq!(names(&staging), ["stage web"]);
    vapp().args(["plan", "--detailed-exitcode"]).expect(0);

    // Destroy signs in to each account as the manifests declare it, and suspends the subaccount vapp
    // made once its applications are gone.
    let destroyed = vapp().args(["destroy", "--auto-approve"]).expect(0);
    assert!(destroyed.stderr.contains("account acme: suspended"), "{destroyed:?}");
    assert!(names(&client).is_empty() && names(&staging).is_empty());
    assert!(emulator.block_on(client.get_subaccount(&vapp::model::ApiKey::new(acme_key.clone()))).unwrap().suspended);
}

#[test]
fn transfers_converge_when_answers_are_lost() {
    let faults = Faults { drop_rate: 0.5, seed: Some(11), ..Faults::default() };
    let emulator = BackgroundEmulator::start(EmulatorConfig { faults, seed_numbers: 2, ..config() });
    let ws = Workspace::new(&emulator.url);
    ws.write(
        "vapp.yaml",
        "version: 1\naccounts:\n  acme:\n    subaccount_of: default\n    name: ACME Corp\naccount: acme\napplications:\n  acme-web:\n    name: acme web\n    numbers: [\"447700900001\"]\n",
    );
    let converged = (0..30).any(|_| {
        ws.vapp().args(["apply", "--auto-approve"]).run().code == 0
            && ws.vapp().args(["plan", "--detailed-exitcode"]).run().code == 0
    });
    assert!(converged, "apply converges despite lost answers");
    let (key, secret) = shown(&ws);
    let acme = emulator.client().for_credentials(Credentials::new(&key, &secret));
    let number = vapp::model::Msisdn::new("447700900001");
    let owned = (0..50)
        .find_map(|_| emulator.block_on(vapp::api::NumbersApi::find_number(&acme, &number)).ok())
        .expect("one of 50 lookups is answered")
        .expect("acme owns the number");
    assert!(owned.app_id.is_some(), "and it routes to acme's application");
    let subaccounts = (0..50)
        .find_map(|_| emulator.block_on(emulator.client().list_subaccounts()).ok())
        .expect("one of 50 listings is answered");
    assert_eq!(subaccounts.len(), 1, "one subaccount: {subaccounts:?}");
}

/// A transfer killed after its intent was written, and after its answer came: the same command
/// finishes it, the number ends in the right account and linked, nothing is transferred twice.
#[test]
fn a_transfer_survives_a_kill_at_every_step() {
    for crash in ["transfer:intended", "transfer:answered"] {
        let emulator = with_staging(2);
        let ws = Workspace::new(&emulator.url);
        ws.write(
            "vapp.yaml",
            "version: 1\naccounts:\n  staging:\n    api_key: sub00001\n    api_secret_env: STAGING_SECRET\naccount: staging\napplications:\n  web:\n    name: web\n    numbers: [\"447700900001\"]\n",
        );
        let vapp = || ws.vapp().env("STAGING_SECRET", "SubSecret1");
        let killed = vapp().env("VAPP_CRASH_AT", crash).args(["apply", "--auto-approve"]).run();
        assert_ne!(killed.code, 0, "{crash}: killed");
        assert!(ws.state()["transfers_pending"]["447700900001"].is_object(), "{crash}: the intent outlives the kill");
        vapp().args(["apply", "--auto-approve"]).expect(0);
        vapp().args(["plan", "--detailed-exitcode"]).expect(0);
        let staging = emulator.client().for_credentials(Credentials::new("sub00001", "SubSecret1"));
        let number = emulator
            .block_on(vapp::api::NumbersApi::find_number(&staging, &vapp::model::Msisdn::new("447700900001")))
            .unwrap()
            .unwrap_or_else(|| panic!("{crash}: staging owns the number"));
        assert_eq!(number.app_id.as_ref().map(|id| id.as_str()), ws.state()["applications"]["web"]["id"].as_str());
        assert!(ws.state().get("transfers_pending").is_none(), "{crash}: settled");
    }
}

/// Where an application of the property test lives: `default`, an existing subaccount, or one vapp
/// makes; and which of the primary's two numbers it answers, if any (transfers happen between the
/// primary and a subaccount only, so the existing `staging` takes none).
#[derive(Clone, Debug)]
struct Placed {
    account: usize,
    number: Option<usize>,
}

const PLACES: [&str; 3] = ["default", "staging", "acme"];
const PROPERTY_NUMBERS: [&str; 2] = ["447700900001", "447700900002"];

fn placed() -> impl proptest::strategy::Strategy<Value = Option<Placed>> {
    use proptest::prelude::*;
    proptest::option::of(
        (0usize..3, proptest::option::of(0usize..2))
            .prop_map(|(account, number)| Placed { account, number: number.filter(|_| account != 1) }),
    )
}

/// The manifests for `apps`: one file per account, the accounts declared in the first.
fn accounts_manifests(ws: &Workspace, apps: &[Option<Placed>]) -> Vec<(String, usize, Option<usize>)> {
    let mut taken = [false; 2];
    let mut wanted = Vec::new();
    for (i, app) in apps.iter().enumerate() {
        let Some(app) = app else { continue };
        let number = app.number.filter(|n| !std::mem::replace(&mut taken[*n], true));
        wanted.push((format!("app-{i}"), app.account, number));
    }
    for (place, account) in PLACES.iter().enumerate() {
        let mut text = match place {
            0 => String::from("version: 1\naccounts:\n  staging:\n    api_key: sub00001\n    api_secret_env: STAGING_SECRET\n  acme:\n    subaccount_of: default\n    name: ACME\napplications:\n"),
            _ => format!("version: 1\naccount: {account}\napplications:\n"),
        };
        let mut any = false;
        for (address, _, number) in wanted.iter().filter(|(_, a, _)| *a == place) {
            any = true;
            text.push_str(&format!("  {address}:\n    name: {address}\n"));
            if let Some(n) = number {
                text.push_str(&format!("    numbers: [\"{}\"]\n", PROPERTY_NUMBERS[*n]));
            }
        }
        if !any {
            text.push_str("  {}\n");
            text = text.replace("applications:\n  {}\n", "applications: {}\n");
        }
        ws.write(&format!("m/{account}.yaml"), &text);
    }
    wanted
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 8, ..Default::default() })]

    /// Applications placed in three accounts, then placed again (moved between accounts, numbers
    /// transferred with them, some removed): each apply converges, planning again is empty, and every
    /// account holds exactly the applications the manifests put in it, with the numbers linked to them.
    #[test]
    fn accounts_apply_then_plan_again_is_empty(
        first in proptest::collection::vec(placed(), 4),
        second in proptest::collection::vec(placed(), 4),
    ) {
        let emulator = with_staging(2);
        let ws = Workspace::new(&emulator.url);
        let vapp = || ws.vapp().args(["-f", "m"]).env("STAGING_SECRET", "SubSecret1");
        for round in [&first, &second] {
            let wanted = accounts_manifests(&ws, round);
            vapp().args(["apply", "--auto-approve", "--numbers-pace", "0s"]).expect(0);
            let again = vapp().args(["plan", "--detailed-exitcode"]).run();
            proptest::prop_assert_eq!(again.code, 0, "{:?}", again);
            let state = ws.state();
            let (acme_key, acme_secret) = shown(&ws);
            let client = emulator.client();
            let clients = [
                client.clone(),
                client.for_credentials(Credentials::new("sub00001", "SubSecret1")),
                client.for_credentials(Credentials::new(&acme_key, &acme_secret)),
            ];
            for (place, account) in clients.iter().enumerate() {
                let live = emulator.block_on(vapp::api::ApplicationApi::list_all(account)).unwrap();
                let mut names: Vec<String> = live.iter().map(|a| a.name.clone()).collect();
                names.sort();
                let mut expected: Vec<String> =
                    wanted.iter().filter(|(_, a, _)| *a == place).map(|(address, _, _)| address.clone()).collect();
                expected.sort();
                proptest::prop_assert_eq!(&names, &expected, "account {}", PLACES[place]);
                for (address, _, number) in wanted.iter().filter(|(_, a, _)| *a == place) {
                    let Some(n) = number else { continue };
                    let found = emulator
                        .block_on(vapp::api::NumbersApi::find_number(account, &vapp::model::Msisdn::new(PROPERTY_NUMBERS[*n])))
                        .unwrap();
                    let linked = found.and_then(|f| f.app_id).map(|id| id.as_str().to_string());
                    proptest::prop_assert_eq!(linked.as_deref(), state["applications"][address]["id"].as_str());
                }
            }
        }
    }
}

/// A plan over several accounts saved with `-o` applies exactly, reading each account again to tell a
/// stale plan: an application changed in a subaccount since makes it stale (exit 4).
#[test]
fn a_saved_plan_covers_every_account() {
    let emulator = with_staging(3);
    let ws = three_accounts(&emulator);
    let vapp = || ws.vapp().args(["-f", "m"]).env("VONAGE_STAGING_API_SECRET", "SubSecret1");
    vapp().args(["plan", "-o", "day.plan"]).expect(0);
    let saved = std::fs::read_to_string(ws.path().join("day.plan")).unwrap();
    assert!(!saved.contains("SubSecret1"), "no secret in a saved plan");
    assert!(saved.contains("VONAGE_STAGING_API_SECRET"), "the variable's name, to sign in again");
    // Applied from the plan alone: the manifests are not read.
    std::fs::rename(ws.path().join("m"), ws.path().join("elsewhere")).unwrap();
    let applied = ws.vapp().args(["apply", "day.plan"]).env("VONAGE_STAGING_API_SECRET", "SubSecret1").expect(0);
    assert!(applied.stderr.contains("account acme: created"), "{applied:?}");
    std::fs::rename(ws.path().join("elsewhere"), ws.path().join("m")).unwrap();
    assert_eq!(ws.state()["accounts"]["staging"]["api_key"], "sub00001", "bound by the plan's apply");
    vapp().args(["plan", "--detailed-exitcode"]).expect(0);
    let (acme_key, acme_secret) = shown(&ws);
    let acme = emulator.client().for_credentials(Credentials::new(&acme_key, &acme_secret));
    let acme_apps = emulator.block_on(vapp::api::ApplicationApi::list_all(&acme)).unwrap();
    assert_eq!(acme_apps.len(), 1);

    // Changed in the subaccount behind the saved plan's back: stale.
    ws.write("m/staging.yaml", &STAGING.replace("stage web", "stage web 2"));
    vapp().args(["plan", "-o", "rename.plan"]).expect(0);
    let staging = emulator.client().for_credentials(Credentials::new("sub00001", "SubSecret1"));
    let mut app = emulator.block_on(vapp::api::ApplicationApi::list_all(&staging)).unwrap().remove(0);
    app.name = "renamed by hand".into();
    let id = app.id.clone().unwrap();
    emulator.block_on(vapp::api::ApplicationApi::update(&staging, &id, &app)).unwrap();
    let stale = vapp().args(["apply", "rename.plan"]).expect(4);
    assert!(stale.stderr.contains(&format!("application {id} changed")), "{stale:?}");
    vapp().args(["apply", "--auto-approve"]).expect(0);
    vapp().args(["plan", "--detailed-exitcode"]).expect(0);
}

/// Applications made in a subaccount outside vapp are taken under management there, by `vapp import`
/// and by an `import:` entry, read with the subaccount's credentials.
#[test]
fn imports_into_another_account() {
    let emulator = with_staging(0);
    let staging = emulator.client().for_credentials(Credentials::new("sub00001", "SubSecret1"));
    let made = |name: &str| {
        let app = vapp::model::Application { name: name.into(), ..Default::default() };
        emulator.block_on(vapp::api::ApplicationApi::create(&staging, &app)).unwrap().id.unwrap()
    };
    let (by_command, by_entry) = (made("by command"), made("by entry"));
    let ws = Workspace::new(&emulator.url);
    let declared = "version: 1\naccounts:\n  staging:\n    api_key: sub00001\n    api_secret_env: STAGING_SECRET\naccount: staging\napplications:\n  one:\n    name: by command\n  two:\n    name: by entry\n";
    ws.write("vapp.yaml", &format!("{declared}import:\n  - {{ address: two, id: {by_entry} }}\n"));
    let vapp = || ws.vapp().env("STAGING_SECRET", "SubSecret1");
    // Export writes the subaccount's applications with its `account:`, and says how to import them.
    let exported = vapp().args(["export", "--account", "staging", "-o", "out"]).expect(0);
    assert!(exported.stderr.contains("2 of them are not managed yet"), "{exported:?}");
    let by_command_file = std::fs::read_to_string(ws.path().join("out/by-command.yaml")).unwrap();
    assert!(by_command_file.starts_with("version: 1\naccount: staging\napplications:\n"), "{by_command_file}");
    let several = vapp().args(["export", "--account", "staging", "--account", "default"]).expect(1);
    assert!(several.stderr.contains("--out DIR"), "{several:?}");
    vapp().args(["import", "one", by_command.as_str()]).expect(0);
    assert_eq!(ws.state()["applications"]["one"]["account"], "staging");
    assert_eq!(ws.state()["accounts"]["staging"]["api_key"], "sub00001", "bound with its first import");
    let plan = vapp().args(["plan", "--format", "json"]).expect(0).json();
    let actions: Vec<(&str, &str)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["address"].as_str().unwrap(), c["action"].as_str().unwrap()))
        .collect();
    assert_eq!(actions, [("two", "import")], "{plan:#}");
    // Saved and applied from the file: the imported application is read whole again to tell a stale plan.
    vapp().args(["plan", "-o", "import.plan"]).expect(0);
    vapp().args(["apply", "import.plan"]).expect(0);
    ws.write("vapp.yaml", declared);
    vapp().args(["plan", "--detailed-exitcode"]).expect(0);
    assert_eq!(ws.state()["applications"]["two"]["id"], by_entry.as_str());
    assert_eq!(emulator.block_on(vapp::api::ApplicationApi::list_all(&staging)).unwrap().len(), 2, "nothing made");
}

/// `--sandbox` makes every account the manifests name: the subaccounts vapp makes, and the existing
/// ones, with a sandbox secret (a real one from the environment never reaches the sandbox).
#[test]
fn the_sandbox_has_every_account_the_manifests_name() {
    let ws = Workspace::new("http://127.0.0.1:9");
    ws.write("m/accounts.yaml", THREE);
    ws.write("m/staging.yaml", STAGING);
    ws.write("m/acme.yaml", ACME_APPS);
    let vapp = || ws.vapp().args(["--sandbox", "-f", "m"]).env("VONAGE_STAGING_API_SECRET", "RealSecret1");
    let applied = vapp().args(["apply", "--auto-approve"]).expect(0);
    assert!(applied.stderr.contains("account acme: created"), "{applied:?}");
    vapp().args(["plan", "--detailed-exitcode"]).expect(0);
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path().join(".vapp/sandbox.state.json")).unwrap()).unwrap();
    assert_eq!(state["applications"]["stage-web"]["account"], "staging");
    assert_eq!(state["accounts"]["staging"]["api_key"], "sub00001");
    let sandbox = std::fs::read_to_string(ws.path().join(".vapp/sandbox.json")).unwrap();
    assert!(!sandbox.contains("RealSecret1"), "the real secret never reaches the sandbox");
    // Nor is it needed there.
    ws.vapp().args(["--sandbox", "-f", "m", "plan", "--detailed-exitcode"]).expect(0);
}

/// A move whose old half has not finished (its delete failed, or a run died before it): the new
/// half never takes the address, so the old application's record and key stay; the next apply
/// finishes the move.
#[test]
fn a_move_never_takes_the_address_before_the_old_half_is_done() {
    use vapp::apply::{Cancel, Executor, RsaKeys};
    let emulator = with_staging(0);
    let ws = Workspace::new(&emulator.url);
    let declare = "version: 1\naccounts:\n  staging:\n    api_key: sub00001\n    api_secret_env: STAGING_SECRET\n";
    ws.write("a.yaml", declare);
    ws.write("b.yaml", "version: 1\naccount: staging\napplications:\n  web:\n    name: web\n");
    let vapp = || ws.vapp().args(["-f", "a.yaml", "-f", "b.yaml"]).env("STAGING_SECRET", "SubSecret1");
    vapp().args(["apply", "--auto-approve"]).expect(0);
    let before = ws.state()["applications"]["web"].clone();
    // Now in `default`: only the new half is carried out, as if the old one had failed.
    ws.write("b.yaml", "version: 1\napplications:\n  web:\n    name: web\n");
    let sources = ["a.yaml", "b.yaml"]
        .map(|f| vapp::manifest::Source { path: f.into(), text: std::fs::read_to_string(ws.path().join(f)).unwrap() });
    let desired = vapp::manifest::load_sources(&sources, &|_| None).unwrap();
    let primary = emulator.client();
    let staging = primary.for_credentials(Credentials::new("sub00001", "SubSecret1"));
    let state_path = ws.path().join("vapp.state.json");
    emulator.block_on(async {
        let backend = std::sync::Arc::new(vapp::state::backend::FileBackend::new(state_path.clone()));
        let loaded = vapp::state::load(backend.as_ref(), None).await.unwrap().unwrap();
        let keeps = |account: &str| {
            vapp::plan::listing_keeps(Some(&vapp::plan::accounts::state_in(
                &loaded.state,
                &vapp::model::AccountName::new(account),
            )))
        };
        let live_default = keeps("default").list(vapp::api::ApplicationApi::list_all(&primary).await.unwrap());
        let live_staging = keeps("staging").list(vapp::api::ApplicationApi::list_all(&staging).await.unwrap());
        let worlds = [
            vapp::plan::World::listed(vapp::model::AccountName::default_account(), None, live_default, vec![]),
            vapp::plan::World::listed(vapp::model::AccountName::new("staging"), None, live_staging, vec![]),
        ];
        let input = vapp::plan::PlanningInput {
            desired: &desired,
            state: Some(&loaded.state),
            worlds: &worlds,
            subaccounts: &[],
            targets: &[],
            only: &[],
            goal: vapp::plan::Goal::Apply,
        };
        let plan = vapp::plan::plan_all(&input).unwrap();
        // The new half alone, as if the old one had failed.
        let mut create_round = plan.clone();
        create_round.changes.retain(|c| c.account.is_default() && !vapp::plan::moving_out(&plan, c));
        assert!(create_round.changes.iter().any(|c| c.action() == vapp::plan::Action::Create));
        let store = vapp::state::StateStore::new(backend, loaded.state, Some(loaded.token));
        let cancel = Cancel::default();
        let executor = Executor {
            api: &primary,
            numbers: &primary,
            store: &store,
            keys: std::sync::Arc::new(RsaKeys),
            parallelism: 1,
            progress: &crate::harness::Quiet,
            cancel: &cancel,
            retry: vapp::api::RetryPolicy::default(),
            settle: vapp::apply::SETTLE,
            slots: None,
        };
        let report = executor.execute(&create_round).await;
        let failure = report.failures().next().map(|f| format!("{f:?}")).unwrap_or_default();
        assert!(failure.contains("HeldElsewhere"), "{failure}");
    });
    assert_eq!(ws.state()["applications"]["web"], before, "the old record and its key are untouched");
    assert!(emulator.block_on(vapp::api::ApplicationApi::list_all(&primary)).unwrap().is_empty(), "nothing made");
    vapp().args(["apply", "--auto-approve"]).expect(0);
    vapp().args(["plan", "--detailed-exitcode"]).expect(0);
    assert!(emulator.block_on(vapp::api::ApplicationApi::list_all(&staging)).unwrap().is_empty());
    assert_eq!(emulator.block_on(vapp::api::ApplicationApi::list_all(&primary)).unwrap().len(), 1);
}

/// Destroy keeps protected applications, so it leaves their subaccount in use.
#[test]
fn destroy_leaves_a_subaccount_that_holds_a_protected_application() {
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    ws.write("a.yaml", "version: 1\naccounts:\n  acme:\n    subaccount_of: default\n    name: ACME Corp\n");
    ws.write("b.yaml", "version: 1\naccount: acme\napplications:\n  kept:\n    name: kept\n    protect: true\n");
    let vapp = || ws.vapp().args(["-f", "a.yaml", "-f", "b.yaml"]);
    vapp().args(["apply", "--auto-approve"]).expect(0);
    let destroyed = vapp().args(["destroy", "--auto-approve"]).expect(0);
    assert!(destroyed.stderr.contains("account acme still holds applications vapp keeps"), "{destroyed:?}");
    let (key, _) = shown(&ws);
    assert!(
        !emulator.block_on(emulator.client().get_subaccount(&vapp::model::ApiKey::new(key.clone()))).unwrap().suspended
    );
}
