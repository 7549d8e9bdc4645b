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
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::problems::{problem, respond};
use super::routes::{is_json, json_response};
use super::Shared;
use crate::model::Msisdn;
use crate::webhooks::check::SystemClock;
use crate::webhooks::sign::Signer;
use crate::webhooks::simulate::{simulate_call, simulate_message, Act, CallerActs, Routing, RECORDING_BYTES};

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
    /// What the caller does: keys, words, and whether `connect`'s parties answer.
    #[serde(default)]
    press: Vec<String>,
    #[serde(default)]
    say: Vec<String>,
    #[serde(default)]
    no_answer: bool,
    /// Whether each press or word comes first (`vapp simulate call`'s order on its command line).
    #[serde(default)]
    order: Vec<Act>,
}

/// The most key presses, and words said, one simulated call takes.
pub const MAX_ACTS: usize = 50;
/// The longest key press (a string of keys) and the longest thing said.
const MAX_ACT_CHARS: usize = 200;

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
    for (field, acts) in [("press", &traffic.press), ("say", &traffic.say)] {
        if acts.len() > MAX_ACTS {
            return Err(bad_request(format!("`{field}` has more than {MAX_ACTS} entries")));
        }
        if acts.iter().any(|a| a.chars().count() > MAX_ACT_CHARS) {
            return Err(bad_request(format!("an entry of `{field}` is longer than {MAX_ACT_CHARS} characters")));
        }
    }
    if let Some(keys) =
        traffic.press.iter().find(|k| k.is_empty() || !k.chars().all(|c| c.is_ascii_digit() || c == '*' || c == '#'))
    {
        let shown: String = keys.chars().take(20).collect();
        return Err(bad_request(format!("`press` takes the keys 0-9, * and #, not {shown:?}")));
    }
    Ok(traffic)
}

/// Carries out the traffic against the application `to` is linked to, in whichever account of the
/// family owns it (inbound traffic comes from the world, not from the account asking), signed with
/// that account's signature secret. `base` is the emulator's own address (recordings are served there).
async fn carry_out(shared: &Shared, traffic: &Traffic, message: Option<&str>, base: &str) -> Response {
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
        .signature_secret_of(&account)
        .map(|secret| Signer { api_key: crate::model::ApiKey::new(account.api_key()), secret: secret.clone() });
    let recordings = format!("{base}/_vapp/recordings");
    let routing = Routing {
        to: &traffic.to,
        from: traffic.from.as_deref().unwrap_or(DEFAULT_FROM),
        application: application.as_ref().map(|(id, app)| (id.as_str(), app)),
        dangling: dangling.as_deref(),
        signer: signer.as_ref(),
        recordings: &recordings,
    };
    let acts = CallerActs {
        press: traffic.press.clone(),
        say: traffic.say.clone(),
        no_answer: traffic.no_answer,
        order: traffic.order.clone(),
    };
    let simulation = async {
        match message {
            None => simulate_call(&shared.caller, &SystemClock, &routing, &acts).await,
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

/// The emulator's address as the request reached it (its `Host`), where recordings are served.
fn base_of(headers: &HeaderMap) -> String {
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    // A Host header is the client's word: only what a host and port can be is kept.
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '[' | ']'))
        .take(100)
        .collect();
    format!("http://{host}")
}

pub(crate) async fn call(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    match read(&headers, &body) {
        Ok(traffic) => carry_out(&shared, &traffic, None, &base_of(&headers)).await,
        Err(refusal) => refusal,
    }
}

pub(crate) async fn message(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    match read(&headers, &body) {
        Ok(traffic) => {
            let Some(text) = traffic.text.clone() else { return bad_request("a message needs its `text`") };
            carry_out(&shared, &traffic, Some(&text), &base_of(&headers)).await
        }
        Err(refusal) => refusal,
    }
}

/// `GET /_vapp/recordings/{uuid}`: a simulated call's recording, a short silent WAV file of
/// [`RECORDING_BYTES`] bytes (any uuid: the emulator keeps no audio).
pub(crate) async fn recording() -> Response {
    let mut wav = Vec::with_capacity(RECORDING_BYTES);
    let data = u32::try_from(RECORDING_BYTES - 44).unwrap_or(0);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(data + 36).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    // PCM, mono, 8 kHz, 16 bits.
    for field in [
        16u32.to_le_bytes().as_slice(),
        &1u16.to_le_bytes(),
        &1u16.to_le_bytes(),
        &8000u32.to_le_bytes(),
        &16000u32.to_le_bytes(),
        &2u16.to_le_bytes(),
        &16u16.to_le_bytes(),
    ] {
        wav.extend_from_slice(field);
    }
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data.to_le_bytes());
    wav.resize(RECORDING_BYTES, 0);
    ([(axum::http::header::CONTENT_TYPE, "audio/wav")], wav).into_response()
}
