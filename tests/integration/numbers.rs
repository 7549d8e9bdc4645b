//! Numbers: the client against the emulator for every call and error, and the manifests' `numbers:`
//! through the real binary (link, move, unlink, drift, takeover, refusals, destroy, protection,
//! export and import, saved plans, throttling). Each outcome is checked through the Numbers API.

use std::collections::BTreeMap;

use serde_json::json;
use vapp::api::numbers::{NumberFilter, NumberUpdate, NumbersApi, OwnedNumber};
use vapp::api::{ApiError, ApplicationApi};
use vapp::emulator::{EmulatorConfig, Faults};
use vapp::model::{AppId, Application};

use crate::harness::{client_for, config, start, BackgroundEmulator, Workspace, KEY, SECRET};

fn msisdn(n: usize) -> String {
    format!("4477009{n:05}")
}

fn numbered(seed_numbers: usize) -> EmulatorConfig {
    EmulatorConfig { seed_numbers, ..config() }
}

async fn an_application(client: &vapp::api::Client, name: &str) -> String {
    let app: Application = serde_json::from_value(json!({"name": name, "capabilities": {"rtc": {}}})).unwrap();
    client.create(&app).await.unwrap().id.unwrap().into_string()
}

// ---- the client against the emulator ----

#[tokio::test]
async fn listing_reads_every_page_from_the_count() {
    let emulator = start(numbered(250)).await;
    let client = client_for(&emulator.url());
    let numbers = client.list_numbers(&NumberFilter::default()).await.unwrap();
    assert_eq!(numbers.len(), 250, "three pages of at most 100");
    let expected: Vec<String> = (1..=250).map(msisdn).collect();
    let got: Vec<String> = numbers.iter().map(|n| n.msisdn.to_string()).collect();
    assert_eq!(got, expected);
    assert_eq!(numbers[0].country, "GB");
    assert_eq!(numbers[0].kind.as_deref(), Some("mobile-lvn"));
    assert_eq!(numbers[0].features, ["VOICE", "SMS", "MMS"]);
    assert_eq!(numbers[0].app_id, None, "seeded numbers are linked to nothing");
    // An empty account answers a count of 0 without `numbers`.
    let empty = start(config()).await;
    assert!(client_for(&empty.url()).list_numbers(&NumberFilter::default()).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_lookup_is_exact_never_the_first_prefix_match() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("account.json");
    // 4477009000012 comes first in the listing and starts with 447700900001.
    let numbers = json!([
        {"country": "GB", "msisdn": "4477009000012", "features": ["VOICE"]},
        {"country": "GB", "msisdn": "447700900001", "features": ["SMS"]},
    ]);
    std::fs::write(&data, json!({"applications": [], "numbers": numbers}).to_string()).unwrap();
    let emulator = start(EmulatorConfig { data_file: Some(data), ..config() }).await;
    let client = client_for(&emulator.url());
    let found = client.find_number(&vapp::model::Msisdn::new("447700900001")).await.unwrap().unwrap();
    assert_eq!(found.msisdn, "447700900001");
    assert_eq!(found.features, ["SMS"]);
    assert_eq!(
        client.find_number(&vapp::model::Msisdn::new("44770090000")).await.unwrap(),
        None,
        "a prefix alone is no number"
    );
}

#[tokio::test]
async fn every_filter_selects_as_the_api_does() {
    let emulator = start(numbered(30)).await;
    let client = client_for(&emulator.url());
    let id = an_application(&client, "Filters").await;
    for n in [3, 5] {
        let number = client.find_number(&vapp::model::Msisdn::new(msisdn(n))).await.unwrap().unwrap();
        client.update_number(&NumberUpdate::route(&number, Some(&vapp::model::AppId::new(&id)))).await.unwrap();
    }
    let list = |filter: NumberFilter| {
        let client = &client;
        async move { client.list_numbers(&filter).await.unwrap().into_iter().map(|n| n.msisdn).collect::<Vec<_>>() }
    };
    let linked =
        list(NumberFilter { application_id: Some(vapp::model::AppId::new(id.clone())), ..Default::default() }).await;
    assert_eq!(linked, [msisdn(3), msisdn(5)]);
    assert_eq!(list(NumberFilter { has_application: Some(true), ..Default::default() }).await.len(), 2);
    assert_eq!(list(NumberFilter { has_application: Some(false), ..Default::default() }).await.len(), 28);
    assert_eq!(list(NumberFilter { country: Some("GB".into()), ..Default::default() }).await.len(), 30);
    assert!(list(NumberFilter { country: Some("US".into()), ..Default::default() }).await.is_empty());
    let starts = list(NumberFilter { pattern: Some("44770090001".into()), ..Default::default() }).await;
    assert_eq!(starts, (10..=19).map(msisdn).collect::<Vec<_>>());
    let contains =
        list(NumberFilter { pattern: Some("0002".into()), search_pattern: Some(1), ..Default::default() }).await;
    assert_eq!(contains, [2].into_iter().chain(20..=29).map(msisdn).collect::<Vec<_>>());
    let ends = list(NumberFilter { pattern: Some("7".into()), search_pattern: Some(2), ..Default::default() }).await;
    assert_eq!(ends, [msisdn(7), msisdn(17), msisdn(27)]);
}

#[tokio::test]
async fn an_update_replaces_and_a_route_keeps_the_numbers_own_settings() {
    let emulator = start(numbered(3)).await;
    let client = client_for(&emulator.url());
    let id = an_application(&client, "Routes").await;
    let full = NumberUpdate {
        country: "GB".into(),
        msisdn: vapp::model::Msisdn::new(msisdn(1)),
        app_id: Some(vapp::model::AppId::new(id.clone())),
        mo_http_url: Some("https://sms.example.com/inbound".into()),
        ..Default::default()
    };
    client.update_number(&full).await.unwrap();
    let linked = client.find_number(&vapp::model::Msisdn::new(msisdn(1))).await.unwrap().unwrap();
    assert_eq!(linked.app_id.as_ref().map(|i| i.as_str()), Some(id.as_str()));
    assert_eq!(linked.mo_http_url.as_deref(), Some("https://sms.example.com/inbound"));
    assert_eq!(linked.messages_callback_type.as_deref(), Some("app"));
    assert_eq!(linked.messages_callback_value.as_deref(), Some(id.as_str()));

    // Routing elsewhere keeps what the number shows: its inbound SMS URL stays.
    let other = an_application(&client, "Other").await;
    client.update_number(&NumberUpdate::route(&linked, Some(&vapp::model::AppId::new(&other)))).await.unwrap();
    let moved = client.find_number(&vapp::model::Msisdn::new(msisdn(1))).await.unwrap().unwrap();
    assert_eq!(moved.app_id.as_ref().map(|i| i.as_str()), Some(other.as_str()));
    assert_eq!(moved.mo_http_url, linked.mo_http_url);

    // Replace semantics: what an update does not send is cleared.
    client
        .update_number(&NumberUpdate {
            country: "GB".into(),
            msisdn: vapp::model::Msisdn::new(msisdn(1)),
            ..Default::default()
        })
        .await
        .unwrap();
    let bare = client.find_number(&vapp::model::Msisdn::new(msisdn(1))).await.unwrap().unwrap();
    assert_eq!((&bare.app_id, &bare.mo_http_url), (&None, &None));

    // Deleting an application leaves its numbers pointing at nothing there is.
    client.update_number(&NumberUpdate::route(&bare, Some(&vapp::model::AppId::new(&id)))).await.unwrap();
    client.delete(&vapp::model::AppId::new(&id)).await.unwrap();
    let orphan = client.find_number(&vapp::model::Msisdn::new(msisdn(1))).await.unwrap().unwrap();
    assert_eq!(orphan.app_id.as_ref().map(|i| i.as_str()), Some(id.as_str()));
}

#[tokio::test]
async fn refusals_are_typed_and_say_what_to_check() {
    let emulator = start(numbered(2)).await;
    let client = client_for(&emulator.url());
    let unknown =
        NumberUpdate { country: "GB".into(), msisdn: vapp::model::Msisdn::new("447700900999"), ..Default::default() };
    let error = client.update_number(&unknown).await.unwrap_err();
    assert!(matches!(error, ApiError::Status { status: 420, .. }), "{error:?}");
    assert!(error.to_string().contains("does not own the number"), "{error}");
    assert!(error.help().unwrap().contains("owns the number"));

    let number = client.find_number(&vapp::model::Msisdn::new(msisdn(1))).await.unwrap().unwrap();
    let error = client
        .update_number(&NumberUpdate::route(&number, Some(&vapp::model::AppId::new("no-such-app"))))
        .await
        .unwrap_err();
    assert!(matches!(error, ApiError::Status { status: 420, .. }), "{error:?}");

    let wrong = vapp::api::Client::new(vapp::api::ClientConfig::new(
        vapp::api::BaseUrl::parse(&emulator.url()).expect("url"),
        vapp::api::Credentials::new(KEY, "wrong"),
    ))
    .unwrap();
    let error = wrong.list_numbers(&NumberFilter::default()).await.unwrap_err();
    assert!(matches!(error, ApiError::Status { status: 401, .. }), "{error:?}");
    assert!(error.to_string().contains("authentication failed"), "{error}");
    assert!(error.help().unwrap().contains("VONAGE_API_SECRET"));
}

#[tokio::test]
async fn throttled_and_failing_calls_are_retried() {
    let faults = Faults { fail_rate: 0.4, rate_limit: Some(3), seed: Some(5), ..Faults::default() };
    let emulator = start(EmulatorConfig { seed_numbers: 120, seed_apps: 1, faults, ..config() }).await;
    let client = client_for(&emulator.url());
    // A create is not sent twice on a 5xx; a seeded application needs none.
    let id = client.list_all().await.unwrap()[0].id.clone().unwrap();
    for n in 1..=4 {
        let number = client.find_number(&vapp::model::Msisdn::new(msisdn(n))).await.unwrap().unwrap();
        client.update_number(&NumberUpdate::route(&number, Some(&id))).await.unwrap();
    }
    let linked = NumberFilter { application_id: Some(id), ..Default::default() };
    assert_eq!(client.list_numbers(&linked).await.unwrap().len(), 4);
}

#[tokio::test]
async fn requests_the_api_would_refuse_get_its_answers_never_a_500() {
    let emulator = start(numbered(2)).await;
    let http = reqwest::Client::new();
    let url = emulator.url();
    // A JSON body where a form is expected: no parameters arrive, and the API refuses the update.
    let answer = http
        .post(format!("{url}/number/update"))
        .basic_auth(KEY, Some(SECRET))
        .json(&json!({"country": "GB", "msisdn": msisdn(1)}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 420);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body, json!({"error-code": "420", "error-code-label": "method failed"}));
    // Bytes that are no form at all.
    let answer = http
        .post(format!("{url}/number/update"))
        .basic_auth(KEY, Some(SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![0xff, 0xfe, b'=', b'&', b'%'])
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_client_error(), "{}", answer.status());
    // Paging out of range, and credentials in the query as older clients send them.
    let answer =
        http.get(format!("{url}/account/numbers?size=101")).basic_auth(KEY, Some(SECRET)).send().await.unwrap();
    assert_eq!(answer.status(), 400);
    let answer =
        http.get(format!("{url}/account/numbers?api_key={KEY}&api_secret={SECRET}&size=1")).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let page: serde_json::Value = answer.json().await.unwrap();
    assert_eq!((page["count"].as_u64(), page["numbers"].as_array().map(Vec::len)), (Some(2), Some(1)));
    let answer = http.get(format!("{url}/account/numbers")).send().await.unwrap();
    assert_eq!(answer.status(), 401);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body, json!({"error-code": "401", "error-code-label": "authentication failed"}));
}

#[tokio::test]
async fn numbers_are_kept_in_the_data_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("account.json");
    let emulator = start(EmulatorConfig { data_file: Some(data.clone()), seed_numbers: 3, ..config() }).await;
    let client = client_for(&emulator.url());
    let id = an_application(&client, "Kept").await;
    let number = client.find_number(&vapp::model::Msisdn::new(msisdn(2))).await.unwrap().unwrap();
    client.update_number(&NumberUpdate::route(&number, Some(&vapp::model::AppId::new(&id)))).await.unwrap();
    emulator.stop().await;
    // Seeding is for a new account only: the data file's numbers are the account's.
    let again = start(EmulatorConfig { data_file: Some(data), seed_numbers: 10, ..config() }).await;
    let numbers = client_for(&again.url()).list_numbers(&NumberFilter::default()).await.unwrap();
    assert_eq!(numbers.len(), 3);
    assert_eq!(numbers[1].app_id.as_ref().map(|i| i.as_str()), Some(id.as_str()));
}

#[tokio::test(start_paused = true)]
async fn paced_updates_go_out_one_pace_apart() {
    struct Clock(std::sync::Mutex<Vec<tokio::time::Instant>>);
    impl NumbersApi for Clock {
        async fn list_numbers(&self, _: &NumberFilter) -> Result<Vec<OwnedNumber>, ApiError> {
            Ok(vec![])
        }
        async fn update_number(&self, _: &NumberUpdate) -> Result<(), ApiError> {
            self.0.lock().unwrap().push(tokio::time::Instant::now());
            Ok(())
        }
    }
    let clock = Clock(std::sync::Mutex::new(vec![]));
    let paced = vapp::api::numbers::Paced::new(&clock, std::time::Duration::from_secs(1));
    for _ in 0..3 {
        paced.update_number(&NumberUpdate::default()).await.unwrap();
    }
    let at = clock.0.lock().unwrap().clone();
    let gaps: Vec<u128> = at.windows(2).map(|w| (w[1] - w[0]).as_millis()).collect();
    assert_eq!(gaps, [1000, 1000]);
}

// ---- the manifests' `numbers:` through the binary ----

/// Where each of the account's numbers routes (msisdn → app id), read through the Numbers API.
fn routes(emulator: &BackgroundEmulator) -> BTreeMap<String, Option<String>> {
    let numbers = emulator.block_on(emulator.client().list_numbers(&NumberFilter::default())).unwrap();
    numbers.into_iter().map(|n| (n.msisdn.into_string(), n.app_id.map(AppId::into_string))).collect()
}

fn route_of(emulator: &BackgroundEmulator, n: usize) -> Option<String> {
    routes(emulator)[&msisdn(n)].clone()
}

fn id_of(ws: &Workspace, address: &str) -> String {
    ws.state()["applications"][address]["id"].as_str().unwrap().to_string()
}

/// Links or unlinks a number as the dashboard would.
fn route_by_hand(emulator: &BackgroundEmulator, n: usize, app_id: Option<&str>) {
    let client = emulator.client();
    emulator.block_on(async {
        let number = client.find_number(&vapp::model::Msisdn::new(msisdn(n))).await.unwrap().unwrap();
        client.update_number(&NumberUpdate::route(&number, app_id.map(AppId::new).as_ref())).await.unwrap();
    });
}

fn two_apps(a_numbers: &str, b_numbers: &str) -> String {
    format!(
        "version: 1\napplications:\n  a:\n    name: A\n    capabilities: {{ rtc: {{}} }}\n    numbers: {a_numbers}\n  b:\n    name: B\n    capabilities: {{ rtc: {{}} }}\n    numbers: {b_numbers}\n"
    )
}

fn apply(ws: &Workspace) -> crate::harness::Run {
    ws.vapp().args(["apply", "--auto-approve", "--numbers-pace", "0s"]).expect(0)
}

fn no_changes(ws: &Workspace) {
    let run = ws.vapp().args(["plan", "--detailed-exitcode"]).run();
    assert_eq!(run.code, 0, "planning again shows changes: {run:?}");
}

#[test]
fn link_move_and_unlink_through_the_binary() {
    let emulator = BackgroundEmulator::start(numbered(12));
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", &two_apps(r#"["+44 7700 900001", "447700-900002"]"#, "[]"));
    let plan = ws.vapp().args(["plan"]).expect(0);
    assert!(plan.stdout.contains("+ number 447700900001\n"), "{plan:?}");
    let run = apply(&ws);
    assert!(run.stderr.contains("a: number 447700900001 linked"), "{run:?}");
    assert!(run.stdout.contains("numbers: 2 linked, 0 unlinked"), "{run:?}");
    let (a, b) = (id_of(&ws, "a"), id_of(&ws, "b"));
    assert_eq!(route_of(&emulator, 1).as_deref(), Some(a.as_str()));
    assert_eq!(route_of(&emulator, 2).as_deref(), Some(a.as_str()));
    assert_eq!(ws.state()["applications"]["a"]["numbers"], json!([msisdn(1), msisdn(2)]));
    no_changes(&ws);

    // A move names where the number comes from, and is one update.
    ws.write("vapp.yaml", &two_apps(r#"["447700900001"]"#, r#"["447700900002"]"#));
    let plan = ws.vapp().args(["plan"]).expect(0);
    assert!(plan.stdout.contains(&format!("+ number 447700900002 (moves from a ({a}))")), "{plan:?}");
    let json = ws.vapp().args(["plan", "--format", "json"]).expect(0).json();
    let b_change = json["changes"].as_array().unwrap().iter().find(|c| c["address"] == "b").unwrap().clone();
    assert_eq!(b_change["action"], "update");
    assert_eq!(b_change["diff"], json!([{"path": "numbers.447700900002", "before": a, "after": b}]));
    apply(&ws);
    assert_eq!(route_of(&emulator, 2).as_deref(), Some(b.as_str()));
    assert_eq!(ws.state()["applications"]["b"]["numbers"], json!([msisdn(2)]));
    assert!(ws.state()["applications"]["a"]["numbers"] == json!([msisdn(1)]));
    no_changes(&ws);

    // Listed nowhere: unlinked.
    ws.write("vapp.yaml", &two_apps("[]", r#"["447700900002"]"#));
    let plan = ws.vapp().args(["plan"]).expect(0);
    assert!(plan.stdout.contains("- number 447700900001"), "{plan:?}");
    let run = apply(&ws);
    assert!(run.stdout.contains("numbers: 0 linked, 1 unlinked"), "{run:?}");
    assert_eq!(route_of(&emulator, 1), None);
    no_changes(&ws);
}

#[test]
fn numbers_relinked_by_hand_are_drift_and_are_put_back() {
    let emulator = BackgroundEmulator::start(numbered(12));
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", &two_apps(r#"["447700900001"]"#, "[]"));
    apply(&ws);
    let a = id_of(&ws, "a");
    route_by_hand(&emulator, 1, None);
    route_by_hand(&emulator, 3, Some(&a));
    let plan = ws.vapp().args(["plan"]).expect(0);
    assert!(plan.stdout.contains("Changed outside vapp since the last apply"), "{plan:?}");
    assert!(plan.stdout.contains("- number 447700900001 (unlinked outside vapp)"), "{plan:?}");
    assert!(plan.stdout.contains("+ number 447700900003 (linked outside vapp)"), "{plan:?}");
    let json = ws.vapp().args(["plan", "--format", "json"]).expect(0).json();
    assert_eq!(
        json["drift"][0]["diff"],
        json!([
            {"path": "numbers.447700900001", "before": a, "after": null},
            {"path": "numbers.447700900003", "before": null, "after": a},
        ])
    );
    let markdown = ws.vapp().args(["plan", "--format", "markdown"]).expect(0);
    assert!(markdown.stdout.contains("+ number 447700900001\n- number 447700900003"), "{markdown:?}");
    apply(&ws);
    assert_eq!(route_of(&emulator, 1).as_deref(), Some(a.as_str()));
    assert_eq!(route_of(&emulator, 3), None);
    no_changes(&ws);
}

#[test]
fn bad_numbers_fail_before_anything_changes() {
    let emulator = BackgroundEmulator::start(numbered(12));
    let ws = Workspace::new(&emulator.url);
    let cases = [
        (
            two_apps(r#"["447700900099"]"#, "[]"),
            "vapp.yaml:6:15: the account does not own number 447700900099 (listed under `a`)",
        ),
        (two_apps(r#"["447700900001"]"#, r#"["+447700900001"]"#), "447700900001"),
        (two_apps(r#"["44-abc"]"#, "[]"), "vapp.yaml:6:15"),
        (two_apps(r#"["123"]"#, "[]"), "vapp.yaml:6:15"),
    ];
    for (manifest, message) in cases {
        ws.write("vapp.yaml", &manifest);
        for command in [&["plan"][..], &["apply", "--auto-approve"][..], &["validate"][..]] {
            let run = ws.vapp().args(command).run();
            if command == ["validate"] && message.contains("does not own") {
                // Ownership needs the account: validate reads only the files.
                assert_eq!(run.code, 0, "{run:?}");
                continue;
            }
            assert_eq!(run.code, 1, "{manifest}\n{run:?}");
            assert!(run.stderr.contains(message), "{manifest}\n{run:?}");
        }
    }
    // The duplicate names both places.
    ws.write("vapp.yaml", &two_apps(r#"["447700900001"]"#, r#"["+447700900001"]"#));
    let run = ws.vapp().args(["validate"]).expect(1);
    assert!(run.stderr.contains("vapp.yaml:6:") && run.stderr.contains("vapp.yaml:10:"), "{run:?}");
    assert!(emulator.block_on(emulator.client().list_all()).unwrap().is_empty(), "nothing was created");
    assert!(routes(&emulator).values().all(Option::is_none), "no number was touched");
}

#[test]
fn taking_a_number_from_an_unmanaged_application_is_warned_and_done() {
    let emulator = BackgroundEmulator::start(numbered(12));
    let legacy = emulator.block_on(an_application(&emulator.client(), "Legacy IVR"));
    route_by_hand(&emulator, 5, Some(&legacy));
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", &two_apps(r#"["447700900005"]"#, "[]"));
    let plan = ws.vapp().args(["plan"]).expect(0);
    assert!(
        plan.stderr.contains(&format!(
            "number 447700900005 is taken from \"Legacy IVR\" ({legacy}), which vapp does not manage"
        )),
        "{plan:?}"
    );
    apply(&ws);
    assert_eq!(route_of(&emulator, 5), Some(id_of(&ws, "a")));
    no_changes(&ws);
}

#[test]
fn destroy_unlinks_and_protected_applications_keep_their_numbers() {
    let emulator = BackgroundEmulator::start(numbered(12));
    let ws = Workspace::new(&emulator.url);
    let manifest = two_apps(r#"["447700900001"]"#, r#"["447700900002"]"#)
        .replace("  b:\n    name: B\n", "  b:\n    name: B\n    protect: true\n");
    ws.write("vapp.yaml", &manifest);
    apply(&ws);
    let b = id_of(&ws, "b");
    let plan = ws.vapp().args(["destroy", "--numbers-pace", "0s"]).expect(1);
    assert!(plan.stdout.contains("- number 447700900001"), "{plan:?}");
    ws.vapp().args(["destroy", "--auto-approve", "--numbers-pace", "0s"]).expect(0);
    assert_eq!(route_of(&emulator, 1), None, "unlinked before its application was deleted");
    assert_eq!(route_of(&emulator, 2).as_deref(), Some(b.as_str()), "a protected application keeps its numbers");
    let apps = emulator.block_on(emulator.client().list_all()).unwrap();
    assert_eq!(apps.len(), 1);
}

#[test]
fn export_then_import_takes_numbers_under_management_without_a_change() {
    let emulator = BackgroundEmulator::start(numbered(12));
    let id = emulator.block_on(an_application(&emulator.client(), "Support"));
    route_by_hand(&emulator, 4, Some(&id));
    route_by_hand(&emulator, 7, Some(&id));
    let ws = Workspace::new(&emulator.url);
    ws.vapp().args(["export", "-o", "apps"]).expect(0);
    let exported = std::fs::read_to_string(ws.path().join("apps/support.yaml")).unwrap();
    assert!(exported.contains("numbers:\n      - \"447700900004\"\n      - \"447700900007\""), "{exported}");
    let run = ws.vapp().args(["-f", "apps", "import", "support", &id]).expect(0);
    assert!(run.stderr.contains("with its 2 numbers"), "{run:?}");
    assert_eq!(ws.state()["applications"]["support"]["numbers"], json!([msisdn(4), msisdn(7)]));
    let run = ws.vapp().args(["-f", "apps", "plan", "--detailed-exitcode"]).run();
    assert_eq!(run.code, 0, "{run:?}");
}

#[test]
fn a_saved_plan_goes_stale_when_a_number_moves() {
    let emulator = BackgroundEmulator::start(numbered(12));
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", &two_apps("[]", "[]"));
    apply(&ws);
    ws.write("vapp.yaml", &two_apps(r#"["447700900006"]"#, "[]"));
    ws.vapp().args(["plan", "-o", "link.plan"]).expect(0);
    route_by_hand(&emulator, 6, Some(&id_of(&ws, "b")));
    let run = ws.vapp().args(["apply", "link.plan", "--numbers-pace", "0s"]).expect(4);
    assert!(run.stderr.contains("number 447700900006 routes elsewhere since the plan was made"), "{run:?}");
    ws.vapp().args(["plan", "-o", "link.plan"]).expect(0);
    ws.vapp().args(["apply", "link.plan", "--numbers-pace", "0s"]).expect(0);
    assert_eq!(route_of(&emulator, 6), Some(id_of(&ws, "a")));
}

#[test]
fn a_throttled_numbers_api_still_gets_every_link() {
    let faults = Faults { rate_limit: Some(4), seed: Some(9), ..Faults::default() };
    let emulator = BackgroundEmulator::start(EmulatorConfig { seed_numbers: 12, faults, ..config() });
    let ws = Workspace::new(&emulator.url);
    let all: Vec<String> = (1..=8).map(msisdn).collect();
    ws.write("vapp.yaml", &two_apps(&format!("{all:?}"), "[]"));
    apply(&ws);
    let a = id_of(&ws, "a");
    assert!((1..=8).all(|n| route_of(&emulator, n).as_deref() == Some(a.as_str())));
    no_changes(&ws);
}
