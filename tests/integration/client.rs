//! The API client against the emulator: every endpoint, every capability, every validation error.

use serde_json::{json, Value};
use vapp::api::{ApiError, ApplicationApi};
use vapp::emulator::EmulatorConfig;
use vapp::model::Application;

use crate::harness::{client_for, config, start};

fn app(v: Value) -> Application {
    serde_json::from_value(v).expect("application")
}

/// One application with every capability the API knows, every field set.
fn every_capability() -> Application {
    app(json!({
        "name": "Everything",
        "capabilities": {
            "voice": {
                "webhooks": {
                    "answer_url": {"address": "https://e.example.com/answer", "http_method": "GET", "connect_timeout": 500, "socket_timeout": 3000},
                    "fallback_answer_url": {"address": "https://e.example.com/fallback", "http_method": "POST"},
                    "event_url": {"address": "https://e.example.com/event", "http_method": "POST", "socket_timeout": 9000}
                },
                "signed_callbacks": false, "conversations_ttl": 100, "leg_persistence_time": 10, "region": "apac-australia"
            },
            "messages": {"webhooks": {"inbound_url": {"address": "https://e.example.com/in", "http_method": "POST"},
                                      "status_url": {"address": "https://e.example.com/status", "http_method": "POST"}},
                         "version": "v0.1", "authenticate_inbound_media": true},
            "rtc": {"webhooks": {"event_url": {"address": "https://e.example.com/rtc", "http_method": "GET"}}, "signed_callbacks": true},
            "vbc": {},
            "verify": {"webhooks": {"status_url": {"address": "https://e.example.com/verify", "http_method": "POST"}}, "version": "v2"},
            "meetings": {"webhooks": {"room_changed": {"address": "https://e.example.com/room", "http_method": "POST"},
                                      "session_changed": {"address": "https://e.example.com/session", "http_method": "POST"},
                                      "recording_changed": {"address": "https://e.example.com/rec", "http_method": "POST"}}},
            "network_apis": {"network_application_id": "net-1", "redirect_uri": "https://e.example.com/cb"},
            "video": {"webhooks": {"archive_status": {"address": "https://e.example.com/a", "active": true},
                                   "sip_call_mute_forced": {"address": "https://e.example.com/m", "active": false}},
                      "storage": {"server_side_encryption": true, "end_to_end_encryption": false, "cloud_storage": true}}
        },
        "privacy": {"improve_ai": false}
    }))
}

#[tokio::test]
async fn create_get_update_delete_with_every_capability() {
    let emulator = start(config()).await;
    let client = client_for(&emulator.url());
    let created = client.create(&every_capability()).await.unwrap();
    let id = created.id.clone().unwrap();
    let private_key =
        created.keys.as_ref().and_then(|k| k.private_key.clone()).expect("a private key when none was sent");
    assert_eq!(private_key.public_key_pem().unwrap(), created.public_key().unwrap(), "the pair belongs together");

    let fetched = client.get(&id).await.unwrap();
    assert!(fetched.keys.as_ref().unwrap().private_key.is_none(), "never shown again");
    // As sent, with the documented defaults and the fields only the API answers.
    let mut expected = vapp::model::defaults::fill(&every_capability());
    vapp::emulator::answer_only_fields(&mut expected);
    let mut sent = serde_json::to_value(expected).unwrap();
    let mut got = serde_json::to_value(&fetched).unwrap();
    got.as_object_mut().unwrap().retain(|k, _| k == "name" || k == "capabilities" || k == "privacy");
    sent.as_object_mut().unwrap().retain(|k, _| k == "name" || k == "capabilities" || k == "privacy");
    assert_eq!(got, sent, "every field comes back as sent");

    // PUT is full replacement: messages left out is removed; the key stays without `keys`.
    let mut changed = every_capability();
    changed.capabilities.as_mut().unwrap().messages = None;
    changed.name = "Changed".into();
    let updated = client.update(&id, &changed).await.unwrap();
    assert_eq!(updated.name, "Changed");
    assert!(updated.capabilities.as_ref().unwrap().messages.is_none());
    assert_eq!(updated.public_key(), created.public_key());

    // A PUT with a new public key replaces the key.
    let pair = vapp::keys::generate().unwrap();
    changed.keys = Some(vapp::model::Keys { public_key: Some(pair.public_key.clone()), ..Default::default() });
    let rotated = client.update(&id, &changed).await.unwrap();
    assert_eq!(rotated.public_key(), Some(pair.public_key.as_str()));
    assert!(rotated.keys.as_ref().unwrap().private_key.is_none());

    client.delete(&id).await.unwrap();
    assert!(client.get(&id).await.unwrap_err().is_not_found());
    assert!(client.delete(&id).await.unwrap_err().is_not_found());
    assert!(client.update(&id, &changed).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn a_create_with_a_public_key_gets_no_private_key_back_and_defaults_are_filled() {
    let emulator = start(config()).await;
    let client = client_for(&emulator.url());
    let pair = vapp::keys::generate().unwrap();
    let mut body = app(json!({"name": "Byok", "capabilities": {"voice": {}, "messages": {}}}));
    body.keys = Some(vapp::model::Keys { public_key: Some(pair.public_key.clone()), ..Default::default() });
    let created = client.create(&body).await.unwrap();
    assert!(created.keys.as_ref().unwrap().private_key.is_none());
    assert_eq!(created.public_key(), Some(pair.public_key.as_str()));
    let shown = serde_json::to_value(&created).unwrap();
    assert_eq!(
        shown["capabilities"],
        json!({"voice": {"webhooks": {}, "signed_callbacks": true, "conversations_ttl": 48, "leg_persistence_time": 7,
                         "payment_enabled": false, "payments": {"gateways": []}},
               "messages": {"version": "v1"}})
    );
    assert_eq!(shown["privacy"], json!({"improve_ai": true}));
    assert_eq!(shown["_links"]["self"]["href"], json!(format!("/v2/applications/{}", created.id.unwrap())));
}

async fn rejected(body: Value) -> Vec<(String, String)> {
    let emulator = start(config()).await;
    let client = client_for(&emulator.url());
    let raw = reqwest::Client::new()
        .post(format!("{}/v2/applications", emulator.url()))
        .basic_auth(crate::harness::KEY, Some(crate::harness::SECRET))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let problem: Value = raw.json().await.unwrap();
    assert_eq!(problem["type"], json!("https://developer.vonage.com/api-errors/application#payload-validation"));
    assert_eq!(problem["title"], json!("Bad Request"));
    // The typed client sees the same, as an error a person can read.
    if let Ok(typed) = serde_json::from_value::<Application>(body) {
        let err = client.create(&typed).await.unwrap_err();
        assert!(err.to_string().starts_with("the API rejected the request (400 Bad Request):"), "{err}");
    }
    problem["invalid_parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap().to_string(), p["reason"].as_str().unwrap().to_string()))
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[tokio::test]
async fn every_validation_error_has_the_api_shape() {
    let cases: Vec<(Value, Vec<(&str, &str)>)> = vec![
        (json!({}), vec![("name", "is required")]),
        (
            json!({"name": "x", "capabilities": {"voice": {"webhooks": {"answer_url": {"address": "https://a/", "http_method": "PUT"}}}}}),
            vec![("capabilities.voice.webhooks.answer_url.http_method", "must be one of: GET, POST")],
        ),
        (
            json!({"name": "x", "capabilities": {"messages": {"webhooks": {"inbound_url": {"address": "https://a/", "http_method": "GET"}}}}}),
            vec![("capabilities.messages.webhooks.inbound_url.http_method", "must be one of: POST")],
        ),
        (
            json!({"name": "x", "capabilities": {"verify": {"webhooks": {"status_url": {"address": "https://a/", "http_method": "GET"}}}}}),
            vec![("capabilities.verify.webhooks.status_url.http_method", "must be one of: POST")],
        ),
        (
            json!({"name": "x", "capabilities": {"meetings": {"webhooks": {"session_changed": {"address": "https://a/", "http_method": "GET"}}}}}),
            vec![("capabilities.meetings.webhooks.session_changed.http_method", "must be one of: POST")],
        ),
        (
            json!({"name": "x", "capabilities": {"voice": {"webhooks": {"answer_url": {"address": "https://a/", "connect_timeout": 299, "socket_timeout": 5001},
                                                                       "event_url": {"address": "https://a/", "socket_timeout": 10001}}}}}),
            vec![
                ("capabilities.voice.webhooks.answer_url.connect_timeout", "must be between 300 and 1000"),
                ("capabilities.voice.webhooks.answer_url.socket_timeout", "must be between 1000 and 5000"),
                ("capabilities.voice.webhooks.event_url.socket_timeout", "must be between 1000 and 10000"),
            ],
        ),
        (
            json!({"name": "x", "capabilities": {"voice": {"conversations_ttl": 9001, "leg_persistence_time": 0}}}),
            vec![
                ("capabilities.voice.conversations_ttl", "must be between 1 and 9000"),
                ("capabilities.voice.leg_persistence_time", "must be between 1 and 31"),
            ],
        ),
        (
            json!({"name": "x", "capabilities": {"voice": {"region": "mars"}}}),
            vec![(
                "capabilities.voice.region",
                "must be one of: na-east, na-west, eu-east, eu-west, apac-sng, apac-australia",
            )],
        ),
        (
            json!({"name": "x", "capabilities": {"vbc": {"enabled": true}}}),
            vec![("capabilities.vbc", "must be an empty object")],
        ),
        (
            json!({"name": "x", "capabilities": {"rtc": {"webhooks": {"event_url": {"address": "example.com/rtc"}}}}}),
            vec![("capabilities.rtc.webhooks.event_url.address", "must be an absolute http or https URL")],
        ),
        (
            json!({"name": "x", "capabilities": {"voice": {"conversations_ttl": "soon"}}}),
            vec![("capabilities.voice.conversations_ttl", "must be a whole number")],
        ),
        (
            json!({"name": "x", "keys": {"public_key": "not a key"}}),
            vec![("keys.public_key", "must be a PEM RSA public key")],
        ),
        (
            json!({"capabilities": {"voice": {"region": "mars"}}}),
            vec![
                ("name", "is required"),
                (
                    "capabilities.voice.region",
                    "must be one of: na-east, na-west, eu-east, eu-west, apac-sng, apac-australia",
                ),
            ],
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(rejected(body.clone()).await, pairs(&expected), "for {body}");
    }
}

#[tokio::test]
async fn wrong_credentials_get_guidance() {
    let emulator = start(config()).await;
    let client = vapp::api::Client::new(vapp::api::ClientConfig::new(
        vapp::api::BaseUrl::parse(&emulator.url()).expect("url"),
        vapp::api::Credentials::new("k", "wrong"),
    ))
    .unwrap();
    let err = client.list_all().await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(err.to_string().starts_with("the API refused the credentials (401"), "{err}");
    assert_eq!(err.help().as_deref(), Some("check VONAGE_API_KEY and VONAGE_API_SECRET"));
}

#[tokio::test]
async fn an_unreachable_api_is_a_transport_error() {
    // Bind and drop a listener to find a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let client = client_for(&format!("http://127.0.0.1:{port}"));
    match client.list_all().await.unwrap_err() {
        ApiError::Transport { maybe_sent, source, .. } => {
            assert!(!maybe_sent, "a refused connection never sent anything");
            let mut causes = source.to_string();
            let mut cause = source.source();
            while let Some(c) = cause {
                causes.push_str(&format!(": {c}"));
                cause = c.source();
            }
            assert!(causes.contains("onnect"), "{causes}");
        }
        other => panic!("expected a transport error, got {other:?}"),
    }
}

#[tokio::test]
async fn list_all_reads_every_page() {
    for count in [0usize, 1, 100, 101, 250] {
        let emulator = start(EmulatorConfig { seed_apps: count, ..config() }).await;
        let apps = client_for(&emulator.url()).list_all().await.unwrap();
        assert_eq!(apps.len(), count);
        let mut ids: Vec<_> = apps.iter().map(|a| a.id.clone().unwrap()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), count, "no application twice");
    }
}

#[tokio::test]
async fn unmodelled_fields_survive_a_read_update_cycle() {
    let emulator = start(EmulatorConfig { seed_apps: 8, ..config() }).await;
    let client = client_for(&emulator.url());
    let apps = client.list_all().await.unwrap();
    let with_payments = apps
        .iter()
        .find(|a| a.capabilities.as_ref().unwrap().voice.as_ref().is_some_and(|v| v.extra.contains_key("payments")))
        .unwrap();
    let id = with_payments.id.clone().unwrap();
    let mut changed = with_payments.clone();
    changed.name = "Renamed".into();
    client.update(&id, &changed).await.unwrap();
    let back = client.get(&id).await.unwrap();
    assert_eq!(back.name, "Renamed");
    assert_eq!(back.capabilities.unwrap().voice.unwrap().extra["payments"], json!({"gateways": []}));
}

/// Serves canned list pages (by their `page` query parameter) on 127.0.0.1, counting requests; a page
/// it does not have is an empty one with nothing but `_links.self`.
struct RecordedList {
    url: String,
    requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    _server: tokio::task::JoinHandle<()>,
}

async fn recorded_list(pages: Vec<Value>) -> RecordedList {
    use axum::extract::Query;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let requests = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let pages = std::sync::Arc::new(pages);
    let handler = move |Query(query): Query<std::collections::HashMap<String, String>>| {
        let pages = pages.clone();
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            let page: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
            let body = pages.get(page - 1).cloned().unwrap_or_else(
                || json!({"_embedded": {"applications": []}, "_links": {"self": {"href": format!("/v2/applications?page={page}")}}}),
            );
            axum::Json(body)
        }
    };
    let router = axum::Router::new().route("/v2/applications", axum::routing::get(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    RecordedList { url, requests, _server: server }
}

fn recorded_apps(from: usize, count: usize) -> Vec<Value> {
    (from..from + count).map(|i| json!({"id": format!("id-{i}"), "name": format!("App {i}")})).collect()
}

/// Answers as the official SDKs' fixtures show them, without `total_pages` or `total_items`: the
/// client follows `_links.next` and reads every page.
#[tokio::test]
async fn a_list_without_total_pages_is_read_by_its_next_links() {
    let page = |n: usize, apps: Vec<Value>, next: bool| {
        let mut links = json!({"self": {"href": format!("/v2/applications?page_size=100&page={n}")}});
        if next {
            links["next"] = json!({"href": format!("/v2/applications?page_size=100&page={}", n + 1)});
        }
        json!({"page_size": 100, "page": n, "_embedded": {"applications": apps}, "_links": links})
    };
    let server = recorded_list(vec![
        page(1, recorded_apps(0, 100), true),
        page(2, recorded_apps(100, 100), true),
        page(3, recorded_apps(200, 5), false),
    ])
    .await;
    let apps = client_for(&server.url).list_all().await.unwrap();
    assert_eq!(apps.len(), 205);
    assert_eq!(apps[204].id.as_ref().map(|i| i.as_str()), Some("id-204"));
    assert_eq!(server.requests.load(std::sync::atomic::Ordering::SeqCst), 3);
    // The Node SDK's fixtures: absolute links on the real host (never followed there: only their
    // page is read, from this client's own API URL), and a first page that says `total_items: 1`
    // but holds three applications (more than announced is not a partial account).
    let absolute = |n: usize, apps: Vec<Value>, next: bool| {
        let mut body = page(n, apps, false);
        if next {
            body["_links"]["next"] = json!({"href": format!("https://api.nexmo.com//v2/applications?page={}", n + 1)});
        }
        body["total_items"] = json!(1);
        body
    };
    let server =
        recorded_list(vec![absolute(1, recorded_apps(0, 3), true), absolute(2, recorded_apps(3, 1), false)]).await;
    assert_eq!(client_for(&server.url).list_all().await.unwrap().len(), 4);
}

/// Answers that do not add up stop the listing with an error instead of a partial account (which
/// would make the applications missed look deleted) or a listing without end.
#[tokio::test]
async fn lists_that_do_not_add_up_are_refused_in_bounded_requests() {
    use vapp::api::ListError;
    type Expected = fn(&ListError) -> bool;
    let cases: Vec<(Vec<Value>, Expected)> = vec![
        // Endless empty pages claimed.
        (
            vec![
                json!({"page_size": 100, "page": 1, "total_items": 0, "total_pages": 4294967295u64, "_embedded": {"applications": []}}),
            ],
            |e| matches!(e, ListError::Inconsistent { .. }),
        ),
        (
            vec![json!({"page_size": 100, "page": 1, "total_pages": 4294967295u64, "_embedded": {"applications": []}})],
            |e| matches!(e, ListError::TooManyPages { .. }),
        ),
        // Fewer applications than the account says it has.
        (
            vec![
                json!({"page_size": 100, "page": 1, "total_items": 150, "total_pages": 2, "_embedded": {"applications": recorded_apps(0, 100)}}),
            ],
            |e| matches!(e, ListError::Partial { read: 100, total_items: 150 }),
        ),
        // A next link on an empty page, and a next link back to a page already read.
        (
            vec![json!({"_embedded": {"applications": []}, "_links": {"next": {"href": "/v2/applications?page=2"}}})],
            |e| matches!(e, ListError::EmptyPageWithNext { page: 1 }),
        ),
        (
            vec![
                json!({"_embedded": {"applications": recorded_apps(0, 1)}, "_links": {"next": {"href": "/v2/applications?page=2"}}}),
                json!({"_embedded": {"applications": recorded_apps(1, 1)}, "_links": {"next": {"href": "/v2/applications?page=2"}}}),
            ],
            |e| matches!(e, ListError::BadNext { .. }),
        ),
        (
            vec![
                json!({"_embedded": {"applications": recorded_apps(0, 1)}, "_links": {"next": {"href": "https://api.nexmo.com/v2/applications"}}}),
            ],
            |e| matches!(e, ListError::BadNext { .. }),
        ),
    ];
    for (pages, expected) in cases {
        let server = recorded_list(pages.clone()).await;
        let error = client_for(&server.url).list_all().await.unwrap_err();
        match &error {
            ApiError::List { source, .. } => assert!(expected(source), "{source:?} for {pages:?}"),
            other => panic!("expected a list error, got {other:?}"),
        }
        assert!(server.requests.load(std::sync::atomic::Ordering::SeqCst) <= 3, "bounded requests");
    }
}
