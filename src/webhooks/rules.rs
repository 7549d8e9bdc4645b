//! Vonage's rules for calling an application's webhooks, in one place. `vapp check` and the emulator's
//! simulated traffic follow these and decide none of them elsewhere. Sources: the Voice and Messages
//! API webhook references, Vonage API Support's articles on NCCO download failures and on verifying a
//! signed webhook's payload, and the official SDKs (the README's "Webhooks" section lists them).
//!
//! - **Methods**: voice `answer_url` and `fallback_answer_url` default to GET, voice and rtc
//!   `event_url` to POST, each as its `http_method` says; messages, verify, meetings and video
//!   webhooks are POSTed.
//! - **Signing**: voice webhooks when `voice.signed_callbacks` (default true), rtc when
//!   `rtc.signed_callbacks` is true, messages always, each with the signature secret of the account
//!   that owns the application, whose API key the token claims.
//! - **The payload hash**: SHA-256 hex of the body for POST; for GET, of the query parameters written
//!   as a JSON object in their order, with no whitespace.
//! - **Retries of the NCCO download**: `answer_url` is requested once more after a connect or socket
//!   timeout, a connection closed or reset before the answer, or 429/503/504; never after another
//!   status, a bad NCCO, a wrong content type, a refused connection or a TLS problem.
//! - **The fallback**: fetched (twice at most, for the first NCCO) whenever `answer_url` still fails:
//!   offline, not 200, not `application/json`, or not a valid NCCO.
//! - **Body shapes**: messages webhooks get the shape of the application's `messages.version` (`v1`,
//!   or the legacy `v0.1`).

use sha2::{Digest, Sha256};

use super::call::CallFailure;
use super::hooks::{Kind, Method};
use super::ring::Problem;

/// How many times `answer_url` is requested for one call: once, and once more after a transient failure.
pub const ANSWER_ATTEMPTS: usize = 2;

/// How many times `fallback_answer_url` is requested for a call's first NCCO before the call is ended.
pub const FALLBACK_ATTEMPTS: usize = 2;

/// The method a webhook of `kind` is called with, given its `http_method` setting.
pub fn method(kind: Kind, http_method: Option<&str>) -> Method {
    let configured = http_method.map(|m| match m.eq_ignore_ascii_case("GET") {
        true => Method::Get,
        false => Method::Post,
    });
    match kind {
        Kind::Answer | Kind::FallbackAnswer => configured.unwrap_or(Method::Get),
        Kind::VoiceEvent | Kind::RtcEvent => configured.unwrap_or(Method::Post),
        // POST only, whatever a setting says.
        Kind::MessagesInbound | Kind::MessagesStatus | Kind::VerifyStatus | Kind::Meetings | Kind::Video => {
            Method::Post
        }
    }
}

/// Whether a webhook of `kind` is signed, given its capability's `signed_callbacks` setting (voice's
/// defaults to true, rtc's to false; messages are always signed).
pub fn signed(kind: Kind, signed_callbacks: Option<bool>) -> bool {
    match kind {
        Kind::Answer | Kind::FallbackAnswer | Kind::VoiceEvent => {
            signed_callbacks.unwrap_or(crate::model::defaults::SIGNED_CALLBACKS)
        }
        Kind::RtcEvent => signed_callbacks.unwrap_or(false),
        Kind::MessagesInbound | Kind::MessagesStatus => true,
        Kind::VerifyStatus | Kind::Meetings | Kind::Video => false,
    }
}

/// The `payload_hash` claim of a request: over the body for POST, over the query (as a JSON object of
/// its parameters in order, without whitespace) for GET.
pub fn payload_hash(method: Method, query: &[(String, String)], body: &[u8]) -> String {
    let hashed = match method {
        Method::Post => body.to_vec(),
        Method::Get => {
            let object: serde_json::Map<String, serde_json::Value> =
                query.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
            // A map of strings always serialises.
            serde_json::to_vec(&serde_json::Value::Object(object)).unwrap_or_default()
        }
    };
    Sha256::digest(&hashed).iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether Vonage requests `answer_url` once more after `problem`.
pub fn tried_again(problem: &Problem) -> bool {
    match problem {
        Problem::Call(CallFailure::ConnectTimeout { .. } | CallFailure::TimedOut { .. } | CallFailure::Closed) => true,
        Problem::Http { status } | Problem::NotOk { status } => matches!(status, 429 | 503 | 504),
        _ => false,
    }
}

/// Whether Vonage turns to `fallback_answer_url` after `answer_url` (or an `event_url` that must
/// return an NCCO) failed with `problem`: whenever it did not get a valid NCCO.
pub fn calls_for_fallback(problem: &Problem) -> bool {
    !matches!(problem, Problem::AcceptsForgery)
}

/// Whether an answer served as `content_type` can be an NCCO: `application/json`, any parameters
/// (`charset=utf-8`) allowed.
pub fn is_ncco_content_type(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|c| c.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// The shape of the messages webhooks' bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessagesVersion {
    V1,
    /// The legacy shape: `to` and `from` as `{type, number}`, the text under `message.content`.
    V0_1,
}

impl MessagesVersion {
    /// The version `messages.version` names (`v1` when it names none).
    pub fn of(version: Option<&str>) -> Self {
        match version {
            Some("v0.1") => MessagesVersion::V0_1,
            _ => MessagesVersion::V1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_and_signing_follow_each_kind() {
        assert_eq!(method(Kind::Answer, None), Method::Get);
        assert_eq!(method(Kind::Answer, Some("POST")), Method::Post);
        assert_eq!(method(Kind::VoiceEvent, Some("GET")), Method::Get);
        assert_eq!(method(Kind::VoiceEvent, None), Method::Post);
        assert_eq!(method(Kind::MessagesInbound, Some("GET")), Method::Post);
        assert!(signed(Kind::Answer, None) && !signed(Kind::Answer, Some(false)));
        assert!(!signed(Kind::RtcEvent, None) && signed(Kind::RtcEvent, Some(true)));
        assert!(signed(Kind::MessagesStatus, Some(false)));
    }

    #[test]
    fn a_get_hashes_its_query_as_a_json_object() {
        let query = vec![("to".to_string(), "447700900001".to_string()), ("from".to_string(), "4477".to_string())];
        let expected: String =
            Sha256::digest(br#"{"to":"447700900001","from":"4477"}"#).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(payload_hash(Method::Get, &query, b""), expected);
        let post: String = Sha256::digest(b"{}").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(payload_hash(Method::Post, &[], b"{}"), post);
    }

    #[test]
    fn answer_url_is_tried_again_after_transient_failures_only() {
        for (problem, again) in [
            (Problem::Call(CallFailure::TimedOut { ms: 5000 }), true),
            (Problem::Call(CallFailure::ConnectTimeout { ms: 1000 }), true),
            (Problem::Call(CallFailure::Closed), true),
            (Problem::Http { status: 429 }, true),
            (Problem::Http { status: 503 }, true),
            (Problem::Http { status: 504 }, true),
            (Problem::Http { status: 500 }, false),
            (Problem::Http { status: 404 }, false),
            (Problem::Call(CallFailure::Refused), false),
            (Problem::WrongContentType { found: "text/html".into() }, false),
        ] {
            assert_eq!(tried_again(&problem), again, "{problem}");
            assert!(calls_for_fallback(&problem), "{problem}");
        }
        assert!(!calls_for_fallback(&Problem::AcceptsForgery));
        assert!(is_ncco_content_type(Some("application/json; charset=utf-8")));
        assert!(!is_ncco_content_type(Some("text/html")) && !is_ncco_content_type(None));
    }
}
