//! Simulated inbound traffic (`POST /_vapp/simulate/call` and `/_vapp/simulate/message`): not part
//! of Vonage's API, the emulator's own door for `vapp simulate`. A call or a message to one of the
//! family's numbers is carried out against the webhooks of the application the number is linked to,
//! by [`crate::webhooks::simulate`], and answered with the transcript.
//!
//! Bounds: the body is at most [`MAX_BODY_BYTES`], numbers are 7–15 digits, a message's text at most
//! [`MAX_TEXT_CHARS`]; the webhooks' own timeouts bound how long a simulation takes.

// A refusal here is the answer itself, made once per request: boxing it would buy nothing.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::problems::{problem, respond};
use super::routes::{is_json, json_response};
use super::Shared;
use crate::model::Msisdn;
use crate::webhooks::check::SystemClock;
use crate::webhooks::sign::Signer;
use crate::webhooks::simulate::{simulate_call, simulate_message, Routing};

const MAX_BODY_BYTES: usize = 16 * 1024;
/// The longest simulated message (an SMS of many parts is still far shorter).
pub const MAX_TEXT_CHARS: usize = 1600;
/// The number simulated traffic comes from when the request names none.
const DEFAULT_FROM: &str = "447700900999";
const ERRORS: &str = "https://developer.vonage.com/api-errors";
/// The longest a simulation may take (`vapp simulate` waits 180 s for the transcript).
pub const SIMULATION_BUDGET: std::time::Duration = std::time::Duration::from_secs(150);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Traffic {
    to: String,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

fn bad_request(detail: impl Into<String>) -> Response {
    respond(StatusCode::UNPROCESSABLE_ENTITY, problem(format!("{ERRORS}#invalid-request"), "Invalid request", detail))
}

fn is_msisdn(text: &str) -> bool {
    (7..=15).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
}

fn read(headers: &HeaderMap, body: &Bytes) -> Result<Traffic, Response> {
    if body.len() > MAX_BODY_BYTES {
        return Err(bad_request(format!("the body is larger than {MAX_BODY_BYTES} bytes")));
    }
    if !is_json(headers) {
        return Err(bad_request("send the traffic as application/json: {\"to\": MSISDN, \"from\": MSISDN}"));
    }
    let traffic: Traffic = serde_json::from_slice(body).map_err(|e| bad_request(format!("the body: {e}")))?;
    for (field, value) in [("to", Some(&traffic.to)), ("from", traffic.from.as_ref())] {
        if let Some(value) = value.filter(|v| !is_msisdn(v)) {
            let shown: String = value.chars().take(20).collect();
            return Err(bad_request(format!("`{field}` must be a number of 7 to 15 digits, not {shown:?}")));
        }
    }
    if traffic.text.as_ref().is_some_and(|t| t.chars().count() > MAX_TEXT_CHARS) {
        return Err(bad_request(format!("`text` is longer than {MAX_TEXT_CHARS} characters")));
    }
    Ok(traffic)
}

/// Carries out the traffic against the application `to` is linked to, in whichever account of the
/// family owns it (inbound traffic comes from the world, not from the account asking).
async fn carry_out(shared: &Shared, traffic: &Traffic, message: Option<&str>) -> Response {
    let msisdn = Msisdn::new(&traffic.to);
    let owner = shared
        .store
        .account_keys()
        .into_iter()
        .filter_map(|key| shared.store.account(&key))
        .find_map(|account| account.number(&msisdn).map(|number| (account, number)));
    let Some((account, number)) = owner else {
        return respond(
            StatusCode::NOT_FOUND,
            problem(
                format!("{ERRORS}#not-found"),
                "Not Found",
                format!("no account of this emulator owns number {}", traffic.to),
            ),
        );
    };
    let application = number.shown.app_id.as_ref().and_then(|id| account.get(id).map(|app| (id.to_string(), app)));
    let dangling = number.shown.app_id.as_ref().filter(|_| application.is_none()).map(|id| id.to_string());
    let signer = shared
        .config
        .signature_secret
        .as_ref()
        .map(|secret| Signer { api_key: account.api_key().to_string(), secret: secret.clone() });
    let routing = Routing {
        to: &traffic.to,
        from: traffic.from.as_deref().unwrap_or(DEFAULT_FROM),
        application: application.as_ref().map(|(id, app)| (id.as_str(), app)),
        dangling: dangling.as_deref(),
        signer: signer.as_ref(),
    };
    let simulation = async {
        match message {
            None => simulate_call(&shared.caller, &SystemClock, &routing).await,
            Some(text) => simulate_message(&shared.caller, &SystemClock, &routing, text).await,
        }
    };
    // Each webhook's own timeout bounds its step; this bounds the whole, notifies included, within
    // the time `vapp simulate` waits for the transcript.
    match tokio::time::timeout(SIMULATION_BUDGET, simulation).await {
        Ok(transcript) => json_response(StatusCode::OK, &transcript),
        Err(_) => respond(
            StatusCode::GATEWAY_TIMEOUT,
            problem(
                format!("{ERRORS}#timeout"),
                "Simulation took too long",
                format!(
                    "the simulated traffic to {} took longer than {} s: its webhooks answer too slowly",
                    traffic.to,
                    SIMULATION_BUDGET.as_secs()
                ),
            ),
        ),
    }
}

pub(crate) async fn call(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    match read(&headers, &body) {
        Ok(traffic) => carry_out(&shared, &traffic, None).await,
        Err(refusal) => refusal,
    }
}

pub(crate) async fn message(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    match read(&headers, &body) {
        Ok(traffic) => {
            let Some(text) = traffic.text.clone() else { return bad_request("a message needs its `text`") };
            carry_out(&shared, &traffic, Some(&text)).await
        }
        Err(refusal) => refusal,
    }
}
