//! The emulator's HTTP surface: routing, the request gate (latency, auth, faults, Accept), and the
//! five handlers.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Extension;
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};

use std::collections::HashMap;

use super::account::{self, Created};
use super::numbers::{ListQuery, Refusal};
use super::store::Store;
use super::{problems, subaccounts, DropConnection, Shared, Verdict};
use crate::api::numbers::NumberAnswer;
use crate::api::page::{self, Embedded, Link, Links, ListPage};
use crate::humanise::{self, Dialect, ProblemKind, TypeProblem};
use crate::model::rules::InvalidParameter;
use crate::model::{AppId, Application};

const MAX_PAGE_SIZE: usize = 100;
const DEFAULT_PAGE_SIZE: usize = 10;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v2/applications", get(list).post(create).fallback(wrong_verb))
        .route("/v2/applications/{id}", get(get_one).put(update).delete(delete_one).fallback(wrong_verb))
        .route("/account/numbers", get(list_numbers).fallback(wrong_verb))
        .route("/number/update", axum::routing::post(update_number).fallback(wrong_verb))
        .route("/accounts/{api_key}/subaccounts", get(subaccounts::list).post(subaccounts::create).fallback(wrong_verb))
        .route(
            "/accounts/{api_key}/subaccounts/{subaccount_key}",
            get(subaccounts::get_one).patch(subaccounts::modify).fallback(wrong_verb),
        )
        .route(
            "/accounts/{api_key}/transfer-number",
            axum::routing::post(subaccounts::transfer_number).fallback(wrong_verb),
        )
        .route("/_vapp/simulate/call", axum::routing::post(super::simulate::call).fallback(wrong_verb))
        .route("/_vapp/simulate/message", axum::routing::post(super::simulate::message).fallback(wrong_verb))
        .route("/_vapp/requests", get(requests).fallback(wrong_verb))
        .route("/_vapp/recordings/{uuid}", get(super::simulate::recording).fallback(wrong_verb))
        .fallback(no_such_path)
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

/// `GET /_vapp/requests` (not Vonage's): how many requests the emulator served before this one.
async fn requests(State(shared): State<Arc<Shared>>) -> Response {
    let served = shared.requests.load(std::sync::atomic::Ordering::Relaxed);
    (StatusCode::OK, axum::Json(json!({"requests": served}))).into_response()
}

/// Everything a request meets before its handler, in the order the real service applies it.
async fn gate(State(shared): State<Arc<Shared>>, mut request: Request, next: Next) -> Response {
    if request.uri().path() != "/_vapp/requests" {
        shared.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    if let Some(gate) = &shared.config.gate {
        gate.pass(request.method()).await;
    }
    let latency = shared.config.faults.latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    // The Numbers API words its errors its own way, and takes credentials in the query too.
    let numbers = is_numbers_path(request.uri().path());
    let from_query = || numbers.then(|| query_credentials(request.uri().query())).flatten();
    let signed_in = basic_credentials(request.headers())
        .or_else(from_query)
        .and_then(|(key, secret)| shared.store.sign_in(&key, &secret));
    let Some(account) = signed_in else {
        return if numbers {
            number_answer(StatusCode::UNAUTHORIZED, "401", "authentication failed")
        } else {
            match request.uri().path().starts_with("/accounts/") {
                true => subaccounts::unauthorized(),
                false => problems::unauthorized(),
            }
        };
    };
    request.extensions_mut().insert(account);
    match shared.roll_before() {
        Verdict::Proceed => {}
        Verdict::Throttle { retry_after_secs } => {
            let mut response = match numbers {
                true => number_answer(StatusCode::TOO_MANY_REQUESTS, "429", "throttled"),
                false => problems::throttled(retry_after_secs),
            };
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            return response;
        }
        Verdict::Fail(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return match numbers {
                true => number_answer(status, status.as_str(), "internal error"),
                false => problems::server_error(status),
            };
        }
    }
    if !accepts_json(request.headers()) {
        return problems::bad_accept();
    }
    let mut response = next.run(request).await;
    if shared.roll_drop() {
        response.extensions_mut().insert(DropConnection);
    }
    response
}

fn is_numbers_path(path: &str) -> bool {
    path.starts_with("/account/") || path.starts_with("/number/")
}

/// `api_key` and `api_secret` in a query, as older Numbers clients send them.
fn query_credentials(query: Option<&str>) -> Option<(String, String)> {
    let pairs: HashMap<String, String> = url::form_urlencoded::parse(query?.as_bytes()).into_owned().collect();
    Some((pairs.get("api_key")?.clone(), pairs.get("api_secret")?.clone()))
}

/// A Numbers API answer: `{"error-code": CODE, "error-code-label": LABEL}`, codes as strings.
fn number_answer(status: StatusCode, code: &str, label: &str) -> Response {
    json_response(status, &NumberAnswer { error_code: code.to_string(), error_code_label: label.to_string() })
}

async fn list_numbers(Extension(store): Extension<Store>, RawQuery(query): RawQuery) -> Response {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
    match ListQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        Ok(query) => json_response(StatusCode::OK, &store.list_numbers(&query)),
        Err(Refusal::BadRequest(why)) => number_answer(StatusCode::BAD_REQUEST, "400", &why),
        Err(Refusal::MethodFailed) => number_answer(method_failed(), "420", "method failed"),
    }
}

/// HTTP 420, which the Numbers API answers for a change it will not make.
fn method_failed() -> StatusCode {
    StatusCode::from_u16(420).unwrap_or(StatusCode::BAD_REQUEST)
}

async fn update_number(
    Extension(store): Extension<Store>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // The form, and the query (older clients send everything there); anything but a form body adds
    // nothing, and a request without its parameters fails as the API fails it.
    let mut params: HashMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
    let form = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/x-www-form-urlencoded")
    });
    if form {
        params.extend(url::form_urlencoded::parse(&body).into_owned());
    }
    match store.update_number(&params).await {
        Ok(Ok(())) => number_answer(StatusCode::OK, "200", "success"),
        Ok(Err(Refusal::BadRequest(why))) => number_answer(StatusCode::BAD_REQUEST, "400", &why),
        Ok(Err(Refusal::MethodFailed)) => number_answer(method_failed(), "420", "method failed"),
        Err(_) => number_answer(StatusCode::INTERNAL_SERVER_ERROR, "500", "internal error"),
    }
}

/// The key and secret of a Basic Authorization header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let pair = String::from_utf8(decoded).ok()?;
    let (key, secret) = pair.split_once(':')?;
    Some((key.to_string(), secret.to_string()))
}

/// A missing Accept, `*/*`, `application/*` and `application/json` are fine (the Node SDK sends `*/*`).
fn accepts_json(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT) else { return true };
    let Ok(accept) = accept.to_str() else { return false };
    accept.split(',').any(|range| {
        let media = range.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        matches!(media.as_str(), "" | "*/*" | "application/*" | "application/json" | "application/problem+json")
    })
}

pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"))
        .unwrap_or(false)
}

async fn wrong_verb(method: Method) -> Response {
    problems::wrong_verb(method.as_str())
}

async fn no_such_path(uri: Uri) -> Response {
    problems::no_such_path(uri.path())
}

pub(crate) fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    let Ok(bytes) = serde_json::to_vec(body) else { return problems::server_error(StatusCode::INTERNAL_SERVER_ERROR) };
    let mut response = (status, bytes).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// An application as GET, list, POST and PUT show it: with its `_links`, never a private key.
fn with_links(app: &Application) -> Application {
    let mut shown = app.clone();
    let links = page::self_link(app.id.as_ref().map_or("", |id| id.as_str()));
    shown.extra.insert("_links".into(), json!(links));
    if let Some(keys) = shown.keys.as_mut() {
        keys.private_key = None;
    }
    shown
}

async fn list(Extension(store): Extension<Store>, RawQuery(query): RawQuery) -> Response {
    let mut page_size = DEFAULT_PAGE_SIZE;
    let mut page = 1usize;
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match name.as_ref() {
            "page_size" => match value.trim().parse::<usize>() {
                Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => page_size = n,
                _ => return problems::list_validation("page_size", "must be between 1 and 100"),
            },
            "page" => match value.trim().parse::<usize>() {
                Ok(n) if n >= 1 => page = n,
                _ => return problems::list_validation("page", "must be a whole number from 1"),
            },
            _ => {}
        }
    }
    let (apps, total_items) = store.page(page, page_size);
    // An empty account still has one (empty) page: SDKs that page until `page == total_pages` stop.
    let total_pages = total_items.div_ceil(page_size).max(1);
    let link = |p: usize| Link::new(format!("/v2/applications?page_size={page_size}&page={p}"));
    let body = ListPage {
        page_size: Some(page_size as u64),
        page: Some(page as u64),
        total_items: Some(total_items as u64),
        total_pages: Some(total_pages as u64),
        embedded: Embedded { applications: apps.iter().map(with_links).collect() },
        links: Links {
            this: Some(link(page)),
            first: Some(Link::new(format!("/v2/applications?page_size={page_size}"))),
            last: Some(link(total_pages)),
            next: (page < total_pages).then(|| link(page + 1)),
            prev: (page > 1).then(|| link(page - 1)),
        },
    };
    json_response(StatusCode::OK, &body)
}

async fn get_one(Extension(store): Extension<Store>, Path(id): Path<AppId>) -> Response {
    match store.get(&id) {
        Some(app) => json_response(StatusCode::OK, &with_links(&app)),
        None => problems::not_found(id.as_str()),
    }
}

async fn delete_one(Extension(store): Extension<Store>, Path(id): Path<AppId>) -> Response {
    match store.remove(&id).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => problems::not_found(id.as_str()),
        Err(_) => problems::server_error(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

async fn create(Extension(store): Extension<Store>, headers: HeaderMap, body: Bytes) -> Response {
    let app = match parse_body(&headers, &body) {
        Ok(app) => app,
        Err(response) => return response,
    };
    match store.create(app).await {
        Ok(Created { app, private_key }) => {
            let mut body = with_links(&app);
            if let Some(keys) = body.keys.as_mut() {
                // The only answer that ever carries the private key.
                keys.private_key = private_key;
            }
            json_response(StatusCode::CREATED, &body)
        }
        Err(_) => problems::server_error(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

async fn update(
    Extension(store): Extension<Store>,
    Path(id): Path<AppId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if store.get(&id).is_none() {
        return problems::not_found(id.as_str());
    }
    let app = match parse_body(&headers, &body) {
        Ok(app) => app,
        Err(response) => return response,
    };
    match store.update(&id, app).await {
        Ok(Some(app)) => json_response(StatusCode::OK, &with_links(&app)),
        Ok(None) => problems::not_found(id.as_str()),
        Err(_) => problems::server_error(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// Reads a POST or PUT body the way the API does: JSON only, typed, then every rule at once.
// A rejected body is answered at once, so the error is the response itself; it is not passed around.
#[allow(clippy::result_large_err)]
fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Application, Response> {
    if !is_json(headers) {
        return Err(problems::bad_content_type());
    }
    let mut value: Value = serde_json::from_slice(body).map_err(|e| {
        problems::payload_validation(vec![InvalidParameter {
            name: "body".into(),
            reason: format!("must be valid JSON ({e})"),
        }])
    })?;
    if !value.is_object() {
        return Err(problems::payload_validation(vec![InvalidParameter {
            name: "body".into(),
            reason: "must be a JSON object".into(),
        }]));
    }
    // A missing name is reported together with everything else wrong, as the API does.
    let mut invalid = Vec::new();
    if value.get("name").is_none_or(Value::is_null) {
        invalid.push(InvalidParameter { name: "name".into(), reason: "is required".into() });
        value["name"] = Value::String("(missing)".into());
    }
    let spelt_connection_timeouts = connection_timeouts(&value);
    let mut app: Application = serde_path_to_error::deserialize(value).map_err(|e| {
        let (name, reason) = api_words(humanise::humanise(&e));
        problems::payload_validation(vec![InvalidParameter { name, reason }])
    })?;
    app.extra.remove("_links");
    invalid.extend(account::invalid_parameters(&app));
    keep_connection_timeouts(&mut app, &spelt_connection_timeouts);
    if !invalid.is_empty() {
        return Err(problems::payload_validation(invalid));
    }
    if let Some(keys) = app.keys.as_mut() {
        keys.private_key = None;
    }
    Ok(app)
}

/// The voice webhooks whose timeout a client spelt `connection_timeout` (OAS 2.1.0 and the Java SDK),
/// with its value.
fn connection_timeouts(value: &Value) -> Vec<(&'static str, Value)> {
    let webhooks = &value["capabilities"]["voice"]["webhooks"];
    ["answer_url", "fallback_answer_url", "event_url"]
        .into_iter()
        .filter_map(|name| Some((name, webhooks.get(name)?.get("connection_timeout")?.clone())))
        .collect()
}

/// Keeps a `connection_timeout` as the client spelt it (instead of `connect_timeout`): the client reads
/// back what it sent, on every voice webhook (the Java SDK reads only that spelling).
fn keep_connection_timeouts(app: &mut Application, spelt: &[(&'static str, Value)]) {
    let Some(webhooks) =
        app.capabilities.as_deref_mut().and_then(|c| c.voice.as_deref_mut()).and_then(|v| v.webhooks.as_mut())
    else {
        return;
    };
    for (name, value) in spelt {
        let webhook = match *name {
            "answer_url" => webhooks.answer_url.as_mut(),
            "fallback_answer_url" => webhooks.fallback_answer_url.as_mut(),
            _ => webhooks.event_url.as_mut(),
        };
        if let Some(webhook) = webhook {
            webhook.connect_timeout = None;
            webhook.extra.insert("connection_timeout".to_string(), value.clone());
        }
    }
}

/// A type problem in the API's words: a dotted parameter name and a short reason.
fn api_words(problem: TypeProblem) -> (String, String) {
    let mut path = problem.path;
    let reason = match problem.kind {
        ProblemKind::Missing { field } => {
            path.push(field);
            "is required".to_string()
        }
        ProblemKind::Wrong { expected, .. } => format!("must be {}", expected.words(Dialect::Json)),
        ProblemKind::Unknown { key, .. } => {
            path.push(key);
            "is not a known field".to_string()
        }
        ProblemKind::Other(message) => message,
    };
    let name = if path.is_empty() { "body".to_string() } else { path.join(".") };
    (name, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_errors_read_like_the_api() {
        let problem = |path: &str, message: &str| TypeProblem {
            path: path.split('.').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            kind: humanise::classify(message),
        };
        assert_eq!(api_words(problem("", "missing field `name`")), ("name".into(), "is required".into()));
        assert_eq!(
            api_words(problem("capabilities.voice.conversations_ttl", "invalid type: string \"x\", expected u32")),
            ("capabilities.voice.conversations_ttl".into(), "must be a whole number".into())
        );
    }

    #[test]
    fn accept_headers() {
        let mut h = HeaderMap::new();
        assert!(accepts_json(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("text/html, */*;q=0.1"));
        assert!(accepts_json(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("text/html"));
        assert!(!accepts_json(&h));
    }
}
