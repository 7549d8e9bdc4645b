//! One webhook rung and its answer judged as Vonage judges it: an answer URL must answer 200 with a
//! valid NCCO, every other webhook any 2xx; a redirect is never followed; a signed webhook that takes
//! a request signed with the wrong secret accepts forgeries.

use std::time::Duration;

use serde_json::Value;

use super::call::{Answer, CallFailure, Caller, Outgoing};
use super::events::Traffic;
use super::hooks::{Hook, Method};
use super::ncco::{read_ncco, Ncco, NccoProblem};
use super::sign::Signer;

/// What is wrong with a webhook.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("{0}")]
    Call(#[from] CallFailure),
    #[error("redirects to {location} (HTTP {status}); Vonage does not follow redirects")]
    Redirect { status: u16, location: String },
    #[error("HTTP {status}")]
    Http { status: u16 },
    #[error("HTTP {status}; an answer URL must answer 200 with an NCCO")]
    NotOk { status: u16 },
    #[error("served as {found}; an NCCO must be served as application/json")]
    WrongContentType { found: String },
    #[error("{0}")]
    Ncco(#[from] NccoProblem),
    #[error("accepts a request with a bad signature")]
    AcceptsForgery,
}

/// A webhook's answer, judged.
#[derive(Debug, Clone)]
pub struct Rung {
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    pub elapsed: Duration,
    /// The NCCO of an answer URL that passed; `None` for other webhooks.
    pub verdict: Result<Option<Ncco>, Problem>,
    /// The answer as read (at most 1 MiB): a `notify`'s may be an NCCO that replaces the call's.
    pub body: Vec<u8>,
}

impl Rung {
    pub fn ok(&self) -> bool {
        self.verdict.is_ok()
    }
}

/// How a request is signed: by whom, for which application, when, with which token id.
pub struct Signing<'a> {
    pub signer: &'a Signer,
    pub application_id: &'a str,
    pub now: u64,
    pub jti: String,
}

/// The request `hook` gets: the answer fields of `traffic` for an answer URL (query or JSON body, by
/// its method), `body` for any other webhook; signed when `signing` is given, its payload hashed as
/// [`super::rules::payload_hash`] says (a GET's over its whole query, the URL's own parameters first).
pub fn request(hook: &Hook, traffic: &Traffic, body: Option<&Value>, signing: Option<Signing<'_>>) -> Outgoing {
    match hook.kind.wants_ncco() {
        true => request_with_fields(hook, Some(&super::events::answer_body(traffic)), signing),
        false => request_with_fields(hook, body, signing),
    }
}

/// The request `hook` gets with `fields`: its query for GET (each field a parameter, in order), its
/// JSON body for POST; signed when `signing` is given. A fallback gets the original request's fields,
/// its `reason` and `original_request` this way.
pub fn request_with_fields(hook: &Hook, fields: Option<&Value>, signing: Option<Signing<'_>>) -> Outgoing {
    let (query, body) = match hook.method {
        Method::Get => (fields.map(as_query).unwrap_or_default(), None),
        Method::Post => (Vec::new(), fields),
    };
    // Serialising a JSON value cannot fail.
    let body = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
    let bearer = signing.map(|s| {
        let mut whole_query: Vec<(String, String)> = url::Url::parse(hook.url.expose())
            .map(|u| u.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
            .unwrap_or_default();
        whole_query.extend(query.iter().cloned());
        let hash = super::rules::payload_hash(hook.method, &whole_query, body.as_deref().unwrap_or(b""));
        s.signer.token(s.application_id, hash, s.now, s.jti)
    });
    Outgoing {
        method: hook.method,
        url: hook.url.clone(),
        query,
        body,
        bearer,
        connect_timeout: hook.connect_timeout,
        socket_timeout: hook.socket_timeout,
        whole_answer: hook.kind.wants_ncco(),
    }
}

/// A JSON object's fields as query pairs (strings as they are, anything else as JSON).
fn as_query(body: &Value) -> Vec<(String, String)> {
    let Some(object) = body.as_object() else { return Vec::new() };
    object.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect()
}

/// Rings an answer URL as Vonage fetches an NCCO: once, and once more after a transient failure
/// ([`super::rules::tried_again`]). Every attempt's rung, the last one's verdict being the outcome.
pub async fn ring_answer(caller: &Caller, hook: &Hook, outgoing: &Outgoing) -> Vec<Rung> {
    let mut rungs = Vec::new();
    for _ in 0..super::rules::ANSWER_ATTEMPTS {
        let rung = ring(caller, hook, outgoing).await;
        let again = rung.verdict.as_ref().err().is_some_and(super::rules::tried_again);
        rungs.push(rung);
        if !again {
            break;
        }
    }
    rungs
}

/// Sends `outgoing` to a webhook of `hook`'s kind and judges the answer.
pub async fn ring(caller: &Caller, hook: &Hook, outgoing: &Outgoing) -> Rung {
    let started = std::time::Instant::now();
    match caller.call(outgoing).await {
        Err(failure) => {
            Rung { status: None, elapsed: started.elapsed(), verdict: Err(failure.into()), body: Vec::new() }
        }
        Ok(answer) => {
            let verdict = judge(hook, &answer);
            Rung { status: Some(answer.status), elapsed: answer.elapsed, verdict, body: answer.body }
        }
    }
}

/// What an answer means for a webhook of `hook`'s kind.
pub fn judge(hook: &Hook, answer: &Answer) -> Result<Option<Ncco>, Problem> {
    let status = answer.status;
    if (300..400).contains(&status) {
        let location = answer.location.clone().unwrap_or_else(|| "nowhere (no Location header)".to_string());
        return Err(Problem::Redirect { status, location });
    }
    if !(200..300).contains(&status) {
        return Err(Problem::Http { status });
    }
    if !hook.kind.wants_ncco() {
        return Ok(None);
    }
    if status != 200 {
        return Err(Problem::NotOk { status });
    }
    if !super::rules::is_ncco_content_type(answer.content_type.as_deref()) {
        let found = answer
            .content_type
            .as_deref()
            .map_or("no Content-Type".to_string(), |c| crate::excerpt::Excerpt::of(c.as_bytes(), 60).to_string());
        return Err(Problem::WrongContentType { found });
    }
    Ok(Some(read_ncco(&answer.body)?))
}

/// Whether a signed webhook takes a request signed with the wrong secret: the forgery probe.
pub async fn accepts_forgery(caller: &Caller, outgoing: &Outgoing) -> bool {
    matches!(caller.call(outgoing).await, Ok(answer) if (200..300).contains(&answer.status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::hooks::{Kind, WebhookUrl};

    fn hook(kind: Kind, method: Method) -> Hook {
        Hook {
            capability: crate::model::Capability::Voice,
            webhook: "answer_url",
            kind,
            url: WebhookUrl::new("http://127.0.0.1:1/answer"),
            method,
            connect_timeout: Duration::from_millis(300),
            socket_timeout: Duration::from_millis(1000),
            signed: true,
        }
    }

    fn answer(status: u16, body: &str, location: Option<&str>) -> Answer {
        Answer {
            status,
            content_type: Some("application/json".into()),
            location: location.map(str::to_string),
            body: body.as_bytes().to_vec(),
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn answers_are_judged_by_the_webhook_kind() {
        let answer_url = hook(Kind::Answer, Method::Get);
        let event_url = hook(Kind::VoiceEvent, Method::Post);
        let talk = r#"[{"action":"talk","text":"hi"}]"#;
        assert!(judge(&answer_url, &answer(200, talk, None)).unwrap().is_some());
        assert_eq!(judge(&event_url, &answer(204, "", None)).unwrap(), None);
        assert_eq!(judge(&answer_url, &answer(204, "", None)).unwrap_err(), Problem::NotOk { status: 204 });
        let redirect = judge(&answer_url, &answer(302, "", Some("https://elsewhere/"))).unwrap_err();
        assert_eq!(
            redirect.to_string(),
            "redirects to https://elsewhere/ (HTTP 302); Vonage does not follow redirects"
        );
        assert_eq!(judge(&event_url, &answer(500, "", None)).unwrap_err().to_string(), "HTTP 500");
        let schema = judge(&answer_url, &answer(200, r#"[{"action":"talk"}]"#, None)).unwrap_err();
        assert_eq!(schema.to_string(), "/0 (talk): missing \"text\"");
        let html = Answer { content_type: Some("text/html".into()), ..answer(200, talk, None) };
        assert_eq!(
            judge(&answer_url, &html).unwrap_err().to_string(),
            "served as text/html; an NCCO must be served as application/json"
        );
    }

    #[test]
    fn requests_carry_the_answer_fields_and_a_signature_over_the_body() {
        let traffic = Traffic {
            to: "447700900001".into(),
            from: "447700900999".into(),
            uuid: "u-1".into(),
            conversation_uuid: "CON-1".into(),
            timestamp: "2026-12-03T00:00:00Z".into(),
        };
        let get = request(&hook(Kind::Answer, Method::Get), &traffic, None, None);
        let fields: Vec<&str> = get.query.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(fields, ["to", "from", "uuid", "conversation_uuid"]);
        assert!(get.body.is_none() && get.bearer.is_none());
        let signer = Signer { api_key: crate::model::ApiKey::new("k"), secret: crate::secret::Secret::new("s") };
        let signing = Signing { signer: &signer, application_id: "app", now: 1, jti: "j".into() };
        let post = request(&hook(Kind::Answer, Method::Post), &traffic, None, Some(signing));
        let body: Value = serde_json::from_slice(post.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["conversation_uuid"], "CON-1");
        let token = post.bearer.unwrap();
        let claims = token.split('.').nth(1).unwrap();
        let claims: Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims).unwrap(),
        )
        .unwrap();
        let hash = crate::webhooks::rules::payload_hash(Method::Post, &[], post.body.as_deref().unwrap());
        assert_eq!(claims["payload_hash"], hash);
        // A GET event carries its fields in the query.
        let event = serde_json::json!({"status": "started", "uuid": "u-1"});
        let get_event = request(&hook(Kind::VoiceEvent, Method::Get), &traffic, Some(&event), None);
        assert_eq!(
            get_event.query,
            [("status".to_string(), "started".to_string()), ("uuid".to_string(), "u-1".to_string())]
        );
    }
}
