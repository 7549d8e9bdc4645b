//! The emulator's wire behaviour, checked with a plain HTTP client: golden answers, HAL paging,
//! the error shapes of the real service, persistence and the command that serves it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use vapp::api::ApplicationApi;
use vapp::emulator::{EmulatorConfig, Faults};

use crate::harness::{config, start, KEY, SECRET};

async fn call(method: reqwest::Method, url: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, url).basic_auth(KEY, Some(SECRET));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

/// Replaces what changes from run to run (ids, keys, instance ids) with placeholders; `ids` numbers
/// the application ids in the order they were first seen.
fn scrub(value: &mut Value, ids: &mut Vec<String>) {
    fn visit(value: &mut Value, ids: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    match key.as_str() {
                        "id" => {
                            if let Some(id) = child.as_str().filter(|id| !ids.iter().any(|i| i == id)) {
                                ids.push(id.to_string());
                            }
                        }
                        "instance" => *child = json!("[instance]"),
                        "public_key" => *child = json!("[public key PEM]"),
                        "private_key" => *child = json!("[private key PEM]"),
                        _ => visit(child, ids),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| visit(i, ids)),
            _ => {}
        }
    }
    visit(value, ids);
    let mut text = value.to_string();
    for (n, id) in ids.iter().enumerate() {
        text = text.replace(id.as_str(), &format!("[id {}]", n + 1));
    }
    *value = serde_json::from_str(&text).unwrap();
}

#[tokio::test]
async fn golden_answers() {
    let emulator = start(config()).await;
    let base = format!("{}/v2/applications", emulator.url());
    let mut ids = Vec::new();
    let mut transcript = serde_json::Map::new();
    let (status, mut created) = call(reqwest::Method::POST, &base, Some(json!({
        "name": "Golden", "capabilities": {"voice": {"webhooks": {"answer_url": {"address": "https://g.example.com/a"}}}, "vbc": {}}
    })))
    .await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap().to_string();
    scrub(&mut created, &mut ids);
    transcript.insert("POST /v2/applications → 201".into(), created);
    let (status, mut got) = call(reqwest::Method::GET, &format!("{base}/{id}"), None).await;
    assert_eq!(status, 200);
    scrub(&mut got, &mut ids);
    transcript.insert("GET /v2/applications/{id} → 200".into(), got);
    let (status, mut put) = call(
        reqwest::Method::PUT,
        &format!("{base}/{id}"),
        Some(json!({"name": "Golden 2", "capabilities": {"messages": {}}})),
    )
    .await;
    assert_eq!(status, 200);
    scrub(&mut put, &mut ids);
    transcript.insert("PUT /v2/applications/{id} → 200".into(), put);
    let (status, mut list) = call(reqwest::Method::GET, &format!("{base}?page_size=5"), None).await;
    assert_eq!(status, 200);
    scrub(&mut list, &mut ids);
    transcript.insert("GET /v2/applications?page_size=5 → 200".into(), list);
    for (label, method, url, body) in [
        ("GET unknown id → 404", reqwest::Method::GET, format!("{base}/nope"), None),
        ("page_size=101 → 400", reqwest::Method::GET, format!("{base}?page_size=101"), None),
        ("PATCH → 405", reqwest::Method::PATCH, base.clone(), None),
        (
            "POST invalid → 400",
            reqwest::Method::POST,
            base.clone(),
            Some(json!({"name": "", "capabilities": {"voice": {"region": "x"}}})),
        ),
    ] {
        let (_, mut answer) = call(method, &url, body).await;
        scrub(&mut answer, &mut ids);
        transcript.insert(label.into(), answer);
    }
    let (status, empty) = call(reqwest::Method::DELETE, &format!("{base}/{id}"), None).await;
    assert_eq!((status, empty), (204, Value::Null));
    insta::assert_json_snapshot!("emulator_answers", Value::Object(transcript));
}

#[tokio::test]
async fn hal_links_and_total_pages() {
    let emulator = start(EmulatorConfig { seed_apps: 7, ..config() }).await;
    let base = format!("{}/v2/applications", emulator.url());
    let (_, page1) = call(reqwest::Method::GET, &format!("{base}?page_size=3"), None).await;
    assert_eq!(
        (page1["page"].clone(), page1["total_items"].clone(), page1["total_pages"].clone()),
        (json!(1), json!(7), json!(3))
    );
    assert_eq!(page1["_links"]["next"]["href"], json!("/v2/applications?page_size=3&page=2"));
    assert!(page1["_links"].get("prev").is_none());
    let (_, page3) = call(reqwest::Method::GET, &format!("{base}?page_size=3&page=3"), None).await;
    assert_eq!(page3["_embedded"]["applications"].as_array().unwrap().len(), 1);
    assert!(page3["_links"].get("next").is_none(), "no next on the last page");
    assert_eq!(page3["_links"]["prev"]["href"], json!("/v2/applications?page_size=3&page=2"));
    assert_eq!(page3["_links"]["last"]["href"], json!("/v2/applications?page_size=3&page=3"));
    let (_, beyond) = call(reqwest::Method::GET, &format!("{base}?page_size=3&page=9"), None).await;
    assert_eq!(beyond["_embedded"]["applications"], json!([]));
    assert!(beyond["_links"].get("next").is_none());
    let (_, default) = call(reqwest::Method::GET, &base, None).await;
    assert_eq!(default["page_size"], json!(10));

    // An empty account: one empty page, no `next`, `page == total_pages` (both SDK loops stop).
    let empty = start(config()).await;
    let (_, page) = call(reqwest::Method::GET, &format!("{}/v2/applications", empty.url()), None).await;
    assert_eq!(page["_embedded"]["applications"], json!([]));
    assert_eq!(
        (page["page"].clone(), page["total_pages"].clone(), page["total_items"].clone()),
        (json!(1), json!(1), json!(0))
    );
    assert!(page["_links"].get("next").is_none());
    assert!(page["_links"]["self"]["href"].is_string());

    for bad in ["page_size=0", "page_size=101", "page_size=abc", "page=0"] {
        let (status, problem) = call(reqwest::Method::GET, &format!("{base}?{bad}"), None).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(problem["type"], json!("https://developer.vonage.com/api-errors/application#list-validation"));
    }
}

#[tokio::test]
async fn http_errors_of_the_real_service() {
    let emulator = start(config()).await;
    let base = format!("{}/v2/applications", emulator.url());
    let http = reqwest::Client::new();
    let unauthenticated = http.get(&base).send().await.unwrap();
    assert_eq!(unauthenticated.status(), 401);
    assert_eq!(unauthenticated.headers()["content-type"], "application/json");
    let text_body = http
        .post(&base)
        .basic_auth(KEY, Some(SECRET))
        .header("content-type", "text/plain")
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(text_body.status(), 415);
    let not_json = http
        .post(&base)
        .basic_auth(KEY, Some(SECRET))
        .header("content-type", "application/json")
        .body("{name")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    let html = http.get(&base).basic_auth(KEY, Some(SECRET)).header("accept", "text/html").send().await.unwrap();
    assert_eq!(html.status(), 406);
    let anything = http
        .get(&base)
        .basic_auth(KEY, Some(SECRET))
        .header("accept", "*/*")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(anything.status(), 200, "a GET with a Content-Type (the Python SDK sends one) is fine");
    let wrong_verb = http
        .post(format!("{base}/some-id"))
        .basic_auth(KEY, Some(SECRET))
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_verb.status(), 405);
    let elsewhere =
        http.get(format!("{}/v1/other", emulator.url())).basic_auth(KEY, Some(SECRET)).send().await.unwrap();
    assert_eq!(elsewhere.status(), 404);
}

#[tokio::test]
async fn data_file_keeps_applications_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("emulator.json");
    let first = start(EmulatorConfig { data_file: Some(data.clone()), ..config() }).await;
    let (_, created) =
        call(reqwest::Method::POST, &format!("{}/v2/applications", first.url()), Some(json!({"name": "Kept"}))).await;
    first.stop().await;
    let text = std::fs::read_to_string(&data).unwrap();
    assert!(!text.contains("PRIVATE KEY"), "the emulator never keeps a private key");
    let second = start(EmulatorConfig { data_file: Some(data), seed_apps: 5, ..config() }).await;
    let (_, page) = call(reqwest::Method::GET, &format!("{}/v2/applications", second.url()), None).await;
    assert_eq!(page["total_items"], json!(1), "seeding applies to an empty account only");
    assert_eq!(page["_embedded"]["applications"][0]["id"], created["id"]);
}

#[tokio::test]
async fn latency_delays_every_answer() {
    let emulator = start(EmulatorConfig {
        faults: Faults { latency: Duration::from_millis(60), ..Faults::default() },
        ..config()
    })
    .await;
    let started = Instant::now();
    let (status, _) = call(reqwest::Method::GET, &format!("{}/v2/applications", emulator.url()), None).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(60));
}

#[tokio::test]
async fn seeded_accounts_are_varied() {
    let emulator = start(EmulatorConfig { seed_apps: 8, ..config() }).await;
    let apps = crate::harness::client_for(&emulator.url()).list_all().await.unwrap();
    let mut capabilities: Vec<String> = apps
        .iter()
        .flat_map(|a| {
            serde_json::to_value(a.capabilities.as_ref().unwrap())
                .unwrap()
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<Vec<_>>()
        })
        .collect();
    capabilities.sort();
    capabilities.dedup();
    assert_eq!(capabilities, ["meetings", "messages", "network_apis", "rtc", "vbc", "verify", "video", "voice"]);
}

#[test]
fn the_emulator_command_prints_its_address_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vapp"))
        .args(["emulator", "--listen", "127.0.0.1:0", "--api-key", "k", "--api-secret", "s", "--seed-apps", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"), "{url}");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let count = runtime.block_on(async {
        let client = vapp::api::Client::new(vapp::api::ClientConfig::new(
            vapp::api::BaseUrl::parse(&url).expect("url"),
            vapp::api::Credentials::new("k", "s"),
        ))
        .unwrap();
        client.list_all().await.unwrap().len()
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(count, 3);
}

/// Answers the official SDKs recorded (`tests/fixtures/recordings/`): the fields only the API answers
/// are served as recorded, kept through every update vapp makes, and an older spelling
/// (`connection_timeout`) reads as the field it names, so planning again shows no change.
#[test]
fn recorded_answers_keep_their_answer_only_fields_through_vapp() {
    let recording = |name: &str| -> Value {
        let path = crate::harness::repo_path(&format!("tests/fixtures/recordings/{name}"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let (voice, video) = (recording("java-sdk-voice.json"), recording("vonage-cli-video.json"));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("account.json");
    std::fs::write(&data, json!({"applications": [voice.clone(), video.clone()]}).to_string()).unwrap();
    let emulator = crate::harness::BackgroundEmulator::start(EmulatorConfig { data_file: Some(data), ..config() });
    let ws = crate::harness::Workspace::new(&emulator.url);
    ws.write(
        "vapp.yaml",
        r#"version: 1
applications:
  voice-app:
    name: My Application (renamed)
    privacy: { improve_ai: false }
    capabilities:
      voice:
        webhooks:
          answer_url: { address: https://example.com/webhooks/answer, http_method: GET }
          fallback_answer_url: { address: https://fallback.example.com/webhooks/answer, http_method: POST, connect_timeout: 500, socket_timeout: 3000 }
          event_url: { address: https://example.com/webhooks/event, http_method: POST }
        conversations_ttl: 24
        region: eu-west
  video-app:
    name: Video app (renamed)
    capabilities:
      video:
        webhooks:
          archive_status: { address: https://example.com/video/archive, active: true }
          stream_created: { address: https://example.com/video/stream, active: true }
        storage: { server_side_encryption: false, end_to_end_encryption: false, cloud_storage: false }
"#,
    );
    for (address, app) in [("voice-app", &voice), ("video-app", &video)] {
        ws.vapp().args(["import", address, app["id"].as_str().unwrap()]).expect(0);
    }
    let plan = ws.vapp().args(["plan", "--format", "json"]).expect(0).json();
    let paths: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["diff"].as_array().unwrap())
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["name", "name"], "only the names differ: {plan}");
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    let live = emulator.block_on(emulator.client().list_all()).unwrap();
    let shown = |id: &Value| {
        serde_json::to_value(live.iter().find(|a| a.id.as_ref().unwrap() == id.as_str().unwrap()).unwrap()).unwrap()
    };
    let (voice_now, video_now) = (shown(&voice["id"]), shown(&video["id"]));
    assert_eq!(voice_now["name"], "My Application (renamed)");
    for field in ["payment_enabled", "payments"] {
        assert_eq!(voice_now["capabilities"]["voice"][field], voice["capabilities"]["voice"][field], "{field}");
    }
    let fallback = &voice_now["capabilities"]["voice"]["webhooks"]["fallback_answer_url"];
    assert_eq!((fallback["connect_timeout"].as_u64(), fallback["socket_timeout"].as_u64()), (Some(500), Some(3000)));
    for field in ["environment_enabled", "environment_id", "hoolock_configs"] {
        assert_eq!(video_now["capabilities"]["video"][field], video["capabilities"]["video"][field], "{field}");
    }
    ws.vapp().args(["plan", "--detailed-exitcode"]).expect(0);
    // A new application gets them as the API answers them.
    let created =
        emulator
            .block_on(emulator.client().create(
                &serde_json::from_value(json!({"name": "n", "capabilities": {"voice": {}, "video": {}}})).unwrap(),
            ))
            .unwrap();
    let created = serde_json::to_value(created).unwrap();
    assert_eq!(created["capabilities"]["voice"]["payments"], json!({"gateways": []}));
    assert_eq!(created["capabilities"]["video"]["environment_enabled"], json!(false));
}

/// The Java SDK sends OAS 2.1.0's `connection_timeout` on every voice webhook: the emulator keeps the
/// spelling it was sent on each (as the API answers what it stored), `fallback_answer_url` included.
#[tokio::test]
async fn the_older_connection_timeout_spelling_is_kept_on_every_voice_webhook() {
    let emulator = start(config()).await;
    let base = format!("{}/v2/applications", emulator.url());
    let hook = |path: &str| json!({"address": format!("https://a.example/{path}"), "http_method": "POST", "connection_timeout": 700});
    let webhooks =
        json!({"answer_url": hook("answer"), "fallback_answer_url": hook("fallback"), "event_url": hook("event")});
    let (status, created) = call(
        reqwest::Method::POST,
        &base,
        Some(json!({"name": "java", "capabilities": {"voice": {"webhooks": webhooks}}})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    let (_, got) = call(reqwest::Method::GET, &format!("{base}/{id}"), None).await;
    for name in ["answer_url", "fallback_answer_url", "event_url"] {
        let answered = &got["capabilities"]["voice"]["webhooks"][name];
        assert_eq!(answered["connection_timeout"], json!(700), "{name}: {answered}");
    }
}
