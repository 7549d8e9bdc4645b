//! A local web application on 127.0.0.1 with one path per behaviour a webhook can have, recording
//! every request it receives, for `vapp check` and `vapp simulate`. Signatures are verified here with
//! the `hmac` crate (RustCrypto), independently of vapp's own signing (AWS-LC).
//!
//! Every handler ends: the slowest sleeps 30 s (longer than any webhook timeout vapp uses in these
//! tests), the endless body stops after 64 MiB.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The signature secret the signed paths verify against.
pub const SIGNATURE_SECRET: &str = "webapp-signature-secret";

/// One request as the web application received it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The claims of a bearer token whose signature verified (`None` when absent or forged).
    pub verified: Option<Value>,
    pub bearer: bool,
}

impl Seen {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

struct App {
    base: String,
    seen: Mutex<Vec<Seen>>,
    /// Requests received per path, for behaviours that change after the first.
    hits: Mutex<std::collections::HashMap<String, usize>>,
    /// Requests to `/held` being answered now, and the most there ever were at once.
    held: Mutex<(usize, usize)>,
}

/// The running web application, on its own runtime; stopped when dropped.
pub struct WebApp {
    pub base: String,
    app: Arc<App>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl WebApp {
    pub fn start() -> WebApp {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let listener =
            runtime.block_on(tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))).expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let app = Arc::new(App {
            base: base.clone(),
            seen: Mutex::new(Vec::new()),
            hits: Mutex::new(Default::default()),
            held: Mutex::new((0, 0)),
        });
        let router = axum::Router::new().fallback(handle).with_state(app.clone());
        runtime.spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        WebApp { base, app, runtime: Some(runtime) }
    }

    /// A URL of this application.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Every request received at `path`, in order.
    pub fn seen(&self, path: &str) -> Vec<Seen> {
        self.app.seen.lock().unwrap().iter().filter(|s| s.path == path).cloned().collect()
    }

    pub fn count(&self, path: &str) -> usize {
        self.seen(path).len()
    }

    /// The most requests `/held` was answering at once.
    pub fn most_held_at_once(&self) -> usize {
        self.app.held.lock().unwrap().1
    }
}

impl Drop for WebApp {
    fn drop(&mut self) {
        // The slow handlers are not waited for.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The claims of `token` if it is an HS256 JWT signed with `secret` whose `payload_hash` is the
/// request's, as Vonage's support article says to check it: SHA-256 of the body for POST, of the query
/// parameters written as a JSON object in their order (no whitespace) for GET.
fn verify(token: &str, secret: &str, method: &Method, query: &[(String, String)], body: &[u8]) -> Option<Value> {
    let mut parts = token.split('.');
    let (header, claims, signature) = (parts.next()?, parts.next()?, parts.next()?);
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    if header["alg"] != "HS256" {
        return None;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(format!("{}.{claims}", token.split('.').next()?).as_bytes());
    mac.verify_slice(&URL_SAFE_NO_PAD.decode(signature).ok()?).ok()?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).ok()?).ok()?;
    let hashed = match *method == Method::GET {
        true => {
            let object: serde_json::Map<String, Value> =
                query.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
            serde_json::to_vec(&Value::Object(object)).ok()?
        }
        false => body.to_vec(),
    };
    let hash: String = Sha256::digest(&hashed).iter().map(|b| format!("{b:02x}")).collect();
    (claims["payload_hash"] == hash.as_str()).then_some(claims)
}

fn ncco(value: Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], value.to_string()).into_response()
}

async fn handle(State(app): State<Arc<App>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, 1024 * 1024).await.unwrap_or_default();
    let path = parts.uri.path().to_string();
    let query: Vec<(String, String)> =
        parts.uri.query().map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    let bearer = bearer(&parts.headers);
    let verified = bearer.as_deref().and_then(|token| verify(token, SIGNATURE_SECRET, &parts.method, &query, &body));
    let hit = {
        let mut hits = app.hits.lock().unwrap();
        let count = hits.entry(path.clone()).or_default();
        *count += 1;
        *count
    };
    app.seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        path: path.clone(),
        query,
        body: body.to_vec(),
        verified: verified.clone(),
        bearer: bearer.is_some(),
    });
    let talk = json!([{"action": "talk", "text": "Hello from the web application"}]);
    match path.as_str() {
        "/valid" | "/fallback-valid" => ncco(talk),
        "/schema" => ncco(json!([{"action": "talk"}])),
        "/unknown-action" => ncco(json!([{"action": "tlak", "text": "hi"}])),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            ncco(talk)
        }
        "/500" | "/fallback-500" => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        // Holds each request a while, counting how many it holds at once.
        p if p.starts_with("/held") => {
            {
                let mut held = app.held.lock().unwrap();
                held.0 += 1;
                held.1 = held.1.max(held.0);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            app.held.lock().unwrap().0 -= 1;
            ncco(talk)
        }
        "/redirect" => (StatusCode::FOUND, [(header::LOCATION, format!("{}/valid", app.base))]).into_response(),
        "/loop" => (StatusCode::FOUND, [(header::LOCATION, "/loop")]).into_response(),
        "/signed" => match (verified.is_some(), parts.method == Method::GET) {
            (true, true) => ncco(talk),
            (true, false) => StatusCode::OK.into_response(),
            (false, _) => StatusCode::UNAUTHORIZED.into_response(),
        },
        // Takes anything, signed or forged: a webhook that never checks.
        "/forgery" => match parts.method == Method::GET {
            true => ncco(talk),
            false => StatusCode::OK.into_response(),
        },
        "/answer-notify" => ncco(json!([
            {"action": "talk", "text": "One moment"},
            {"action": "notify", "payload": {"step": "one"}, "eventUrl": [format!("{}/notified", app.base)]},
            {"action": "talk", "text": "never spoken: the notify's answer replaces it"}
        ])),
        "/notified" => ncco(json!([{"action": "talk", "text": "replaced"}])),
        // An NCCO whose notify answers with itself: without a cap, a call that never ends.
        "/notify-loop" => {
            ncco(json!([{"action": "notify", "payload": {}, "eventUrl": [format!("{}/notify-loop", app.base)]}]))
        }
        "/big" => {
            let mut text = String::from("[{\"action\":\"talk\",\"text\":\"");
            text.push_str(&"a".repeat(1024 * 1024 + 1 - text.len() - 3));
            text.push_str("\"}]");
            ncco_bytes(text.into_bytes())
        }
        "/endless" => {
            let chunk = Bytes::from(vec![b' '; 64 * 1024]);
            let stream = futures::stream::iter((0..1024).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
            Response::new(Body::from_stream(stream))
        }
        "/non-utf8" => ncco_bytes(vec![b'[', 0xff, 0xfe, b']']),
        "/bomb" => ncco_bytes([b'['; 100_000].to_vec()),
        "/not-json" => ncco_bytes(b"Hello".to_vec()),
        "/html" => ([(header::CONTENT_TYPE, "text/html")], talk.to_string()).into_response(),
        "/404" => StatusCode::NOT_FOUND.into_response(),
        // Fails the first request only, in a way Vonage does (or does not) try again after.
        p if p.ends_with("-once") && hit == 1 => match p {
            "/503-once" => StatusCode::SERVICE_UNAVAILABLE.into_response(),
            "/429-once" => StatusCode::TOO_MANY_REQUESTS.into_response(),
            "/504-once" => StatusCode::GATEWAY_TIMEOUT.into_response(),
            "/500-once" => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            "/slow-once" => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                ncco(talk)
            }
            _ => StatusCode::NOT_FOUND.into_response(),
        },
        p if p.ends_with("-once") => ncco(talk),
        // An IVR: a menu read out with an input; its answer depends on the keys or words.
        "/ivr/answer" => ncco(json!([
            {"action": "talk", "text": "Welcome to ACME. Press 1 for sales, 2 to leave a message.", "bargeIn": true},
            {"action": "input", "type": ["dtmf", "speech"], "dtmf": {"maxDigits": 1, "timeOut": 5},
             "eventUrl": [format!("{}/ivr/menu", app.base)]},
        ])),
        "/ivr/menu" => {
            let result: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let digits = result["dtmf"]["digits"].as_str().unwrap_or_default().to_string();
            let said = result["speech"]["results"][0]["text"].as_str().unwrap_or_default().to_string();
            match (digits.as_str(), said.as_str()) {
                ("1", _) | (_, "sales") => ncco(json!([
                    {"action": "talk", "text": "Connecting you to sales"},
                    {"action": "connect", "from": "447700900001", "eventUrl": [format!("{}/ivr/leg", app.base)],
                     "endpoint": [{"type": "phone", "number": "447700900123"}]},
                    {"action": "talk", "text": "Sales did not answer. Goodbye"},
                ])),
                ("2", _) => ncco(json!([
                    {"action": "talk", "text": "Leave a message after the tone, then press hash"},
                    {"action": "record", "endOnKey": "#", "beepStart": true, "format": "mp3",
                     "eventUrl": [format!("{}/ivr/recorded", app.base)]},
                    {"action": "talk", "text": "Thank you, goodbye"},
                ])),
                _ => ncco(json!([{"action": "talk", "text": "Sorry, I did not get that. Goodbye"}])),
            }
        }
        _ => StatusCode::OK.into_response(),
    }
}

fn ncco_bytes(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::to_string)
}
