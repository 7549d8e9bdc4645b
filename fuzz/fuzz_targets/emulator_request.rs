//! The emulator's request handling: any request gets one of the API's own answers, never a 5xx (faults
//! are off) and never a JSON answer that is not JSON.
//!
//! The input is read as:
//!
//! | byte | meaning                                                                    |
//! |------|----------------------------------------------------------------------------|
//! | 0    | method: GET, POST, PUT, DELETE, PATCH                                       |
//! | 1    | low 4 bits: which path (14: simulated traffic, 15: the Subaccounts API); high bits: which id |
//! | 2    | low 4 bits: Authorization (mostly right); high bits: Content-Type          |
//! | 3    | low 3 bits: Accept; bits 3-6: page_size/size; bit 7: page/index (high)     |
//! | 4    | low 5 bits: how many of the next bytes are appended to the path (raw, or   |
//! |      | %-encoded); high 3 bits: page/index (low)                                   |
//! | rest | the body                                                                    |
//!
//! The account starts with three seeded applications; after a request that may have changed it (a
//! successful POST, PUT, DELETE or PATCH) it is made again, so every input meets the same account.
//! A create without a public key would make an RSA key pair (a tenth of a second): such a body gets a
//! fixed valid public key instead, so that the fuzzer stays fast.
#![no_main]

use std::sync::{Mutex, OnceLock};

use axum::body::Body;
use axum::Router;
use base64::Engine;
use http::{header, Method, Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tokio::runtime::Runtime;
use tower::ServiceExt;
use vapp::emulator::{Emulator, EmulatorConfig, SEED_PUBLIC_KEYS};

const METHODS: [Method; 5] = [Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::PATCH];
const UNKNOWN_ID: &str = "00000000-0000-4000-8000-000000000000";
/// Values for page, page_size, size and index: good ones, edges, and garbage.
const NUMBERS: [&str; 16] =
    ["1", "2", "3", "10", "100", "101", "0", "-1", "abc", "18446744073709551616", "4294967296", " 7", "", "1.5", "%20", "1e3"];

struct Account {
    router: Router,
    ids: Vec<String>,
    /// The last request may have changed the account.
    dirty: bool,
}

struct Fixture {
    runtime: Runtime,
    account: Mutex<Option<Account>>,
}

fn basic(key: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}")))
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| Fixture {
        runtime: tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime"),
        account: Mutex::new(None),
    })
}

/// With VAPP_FUZZ_TRACE set, every request and its answer are printed (to check seeds).
fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("VAPP_FUZZ_TRACE").is_some())
}

/// A fresh emulator with three seeded applications, and their ids.
async fn fresh_account() -> Account {
    let subaccounts = vec![("sub00001".to_string(), vapp::secret::Secret::new("SubSecret1"))];
    let emulator = Emulator::new(EmulatorConfig { seed_apps: 3, seed_numbers: 3, subaccounts, ..EmulatorConfig::default() })
        .await
        .expect("an in-memory emulator starts");
    let router = emulator.router();
    let request = Request::get("/v2/applications?page_size=100")
        .header(header::AUTHORIZATION, basic("sandbox", "sandbox"))
        .body(Body::empty())
        .expect("a list request");
    let response = router.clone().oneshot(request).await.unwrap_or_else(|never| match never {});
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("the list body");
    let page: Value = serde_json::from_slice(&bytes).expect("the list is JSON");
    let ids: Vec<String> = page["_embedded"]["applications"]
        .as_array()
        .expect("a list of applications")
        .iter()
        .filter_map(|app| app["id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(ids.len(), 3);
    Account { router, ids, dirty: false }
}

/// Appends `suffix` to `path` as it is when that makes a valid URI, else %-encoded.
fn uri(path: String, suffix: &[u8]) -> Option<http::Uri> {
    let mut raw = path.clone().into_bytes();
    raw.extend_from_slice(suffix);
    if let Ok(uri) = http::Uri::try_from(raw) {
        return Some(uri);
    }
    let mut encoded = path;
    for &b in suffix {
        if b.is_ascii_alphanumeric() || b"/?=&-._~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    http::Uri::try_from(encoded).ok()
}

/// A create body without a public key gets a fixed one (no key generation per input).
fn with_public_key(body: &[u8]) -> Option<Vec<u8>> {
    let mut value: Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object_mut()?;
    let keys = object.entry("keys").or_insert(Value::Null);
    if keys.is_null() {
        *keys = Value::Object(Default::default());
    }
    let keys = keys.as_object_mut()?;
    if !keys.get("public_key").is_none_or(Value::is_null) {
        return None;
    }
    keys.insert("public_key".into(), Value::String(SEED_PUBLIC_KEYS[0].to_string()));
    serde_json::to_vec(&value).ok()
}

fuzz_target!(|data: &[u8]| {
    let mut head = [0u8; 5];
    let n = data.len().min(5);
    head[..n].copy_from_slice(&data[..n]);
    let rest = &data[n..];
    let suffix_len = usize::from(head[4] & 0x1f).min(rest.len());
    let (suffix, body) = rest.split_at(suffix_len);

    let fixture = fixture();
    let mut slot = fixture.account.lock().unwrap_or_else(|p| p.into_inner());
    if slot.as_ref().is_none_or(|a| a.dirty) {
        *slot = Some(fixture.runtime.block_on(fresh_account()));
    }
    let account = slot.as_mut().expect("an account");

    let method = METHODS[usize::from(head[0]) % METHODS.len()].clone();
    let id = account.ids.get(usize::from(head[1] >> 4) % 4).map(String::as_str).unwrap_or(UNKNOWN_ID);
    let size = NUMBERS[usize::from((head[3] >> 3) & 0x0f)];
    let page = NUMBERS[usize::from(head[4] >> 5) + 8 * usize::from(head[3] >> 7)];
    let path = match head[1] & 0x0f {
        0 | 1 => "/v2/applications".to_string(),
        2 | 3 | 4 => format!("/v2/applications/{id}"),
        5 => format!("/v2/applications?page_size={size}&page={page}"),
        6 => "/v2/applications/".to_string(),
        7 => format!("/account/numbers?application_id={id}&size={size}&index={page}"),
        8 => "/account/numbers".to_string(),
        9 => format!("/account/numbers?api_key=sandbox&api_secret=sandbox&application_id={id}"),
        10 => "/number/update".to_string(),
        11 => format!("/number/update?app_id={id}"),
        12 => format!("/v2/applications/{id}/"),
        13 => "/v2/applications?".to_string(),
        // The emulator's door for simulated traffic (`vapp simulate`); a fresh account's numbers route
        // nowhere, so no webhook is ever called from here.
        14 => match (head[1] >> 4) % 2 {
            0 => "/_vapp/simulate/call".to_string(),
            _ => "/_vapp/simulate/message".to_string(),
        },
        // The Subaccounts API: the primary's own paths, a subaccount, and another account's key.
        _ => match (head[1] >> 4) % 4 {
            0 => "/accounts/sandbox/subaccounts".to_string(),
            1 => "/accounts/sandbox/subaccounts/sub00001".to_string(),
            2 => "/accounts/sandbox/transfer-number".to_string(),
            _ => "/accounts/sub00001/subaccounts".to_string(),
        },
    };
    let Some(uri) = uri(if path.is_empty() { "/".into() } else { path }, suffix) else { return };

    let mut request = Request::builder().method(method.clone()).uri(uri.clone());
    let authorization = match head[2] & 0x0f {
        0 => None,
        1 => Some(basic("sandbox", "wrong")),
        2 => Some("Basic !!not base64!!".to_string()),
        3 => Some(basic("sandbox", "sandbox").replacen("Basic", "basic", 1)),
        4 => Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(b"sandbox\xffsandbox"))),
        5 => Some("Bearer eyJhbGciOiJSUzI1NiJ9.e30.x".to_string()),
        _ => Some(basic("sandbox", "sandbox")),
    };
    if let Some(authorization) = authorization {
        request = request.header(header::AUTHORIZATION, authorization);
    }
    let content_type = match head[2] >> 4 {
        0..=7 => Some("application/json"),
        8 | 9 => Some("application/json; charset=utf-8"),
        10 => Some("APPLICATION/JSON"),
        11 | 12 => Some("application/x-www-form-urlencoded"),
        13 => Some("text/plain"),
        _ => None,
    };
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    let accept = match head[3] & 0x07 {
        1 => Some("*/*"),
        2 => Some("application/json"),
        3 => Some("text/html"),
        4 => Some("text/html;q=0.9, application/*;q=0.1"),
        _ => None,
    };
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT, accept);
    }
    let body = match method {
        Method::POST => with_public_key(body).unwrap_or_else(|| body.to_vec()),
        _ => body.to_vec(),
    };
    let Ok(request) = request.body(Body::from(body)) else { return };

    let router = account.router.clone();
    let (status, content_type, bytes) = fixture.runtime.block_on(async move {
        let response = router.oneshot(request).await.unwrap_or_else(|never| match never {});
        let status = response.status();
        let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("a response body");
        (status, content_type, bytes)
    });
    account.dirty = method != Method::GET && status.is_success();

    let text = String::from_utf8_lossy(&bytes);
    if trace() {
        eprintln!("{method} {uri} -> {status} {}", text.chars().take(160).collect::<String>());
    }
    assert!(!status.is_server_error(), "{method} {uri} was answered {status} (faults are off): {text}");
    if content_type.as_ref().is_some_and(|c| c.as_bytes().starts_with(b"application/json")) && !bytes.is_empty() {
        assert!(
            serde_json::from_slice::<Value>(&bytes).is_ok(),
            "{method} {uri} was answered {status} with a JSON Content-Type and a body that is not JSON: {text}"
        );
    }
});
