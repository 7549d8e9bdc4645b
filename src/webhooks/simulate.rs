//! Simulated inbound traffic, as Vonage carries it out: a call to a number rings its application's
//! `answer_url` (then `fallback_answer_url` by the documented rules), sends the call's events to
//! `event_url` in order, and delivers each NCCO `notify`; a message goes to the messages
//! `inbound_url`. The emulator runs it (`vapp simulate` asks it to) and answers with the transcript.
//!
//! Invariants: the fallback rules are exactly the documented ones (answer URL offline or an HTTP
//! error → fallback; a fallback failing twice ends the call; an invalid NCCO in a 200 ends it without
//! the fallback); one call has one `uuid` and `conversation_uuid` throughout; at most
//! [`MAX_NOTIFIES`] `notify` actions are delivered per call, so an NCCO that keeps answering with
//! notifies cannot loop forever.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::call::Caller;
use super::check::Clock;
use super::events::{call_event, inbound_message, Traffic};
use super::hooks::{hooks_of, Hook, Kind, Method, WebhookUrl};
use super::ring::{ring, Problem, Rung, Signing};
use super::sign::Signer;
use crate::model::Application;

/// The most `notify` actions one simulated call delivers.
pub const MAX_NOTIFIES: usize = 20;

/// How often `fallback_answer_url` is tried for the initial NCCO before the call is ended.
pub const FALLBACK_ATTEMPTS: usize = 2;

/// What happened to one simulated call or message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    pub format_version: u32,
    /// `call` or `message`.
    pub kind: String,
    pub to: String,
    pub from: String,
    pub application_id: Option<String>,
    /// The call's leg, or the message's `message_uuid`.
    pub uuid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_uuid: Option<String>,
    /// `answered`, `failed`, `accepted`, `rejected`, or `unrouted` (the number is linked to nothing).
    pub outcome: String,
    pub ok: bool,
    /// Why it was not ok.
    pub problem: Option<String>,
    /// Something to know about a call that went through (a bound it met).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The actions of the NCCO the call ran, in order (`talk`, `notify`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
    pub steps: Vec<Step>,
}

/// One request the simulation sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// `answer_url`, `fallback_answer_url`, `event_url`, `notify` or `inbound_url`.
    pub webhook: String,
    /// The call status an `event_url` request carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    pub method: String,
    pub url: String,
    pub status: Option<u16>,
    pub ms: u64,
    pub ok: bool,
    pub problem: Option<String>,
}

/// Where the traffic goes and who signs it.
pub struct Routing<'a> {
    pub to: &'a str,
    pub from: &'a str,
    /// The application the number is linked to, with its id; `None` when it is linked to nothing.
    pub application: Option<(&'a str, &'a Application)>,
    /// The id the number is linked to when no such application exists.
    pub dangling: Option<&'a str>,
    /// Signs requests when the emulator has a signature secret.
    pub signer: Option<&'a Signer>,
}

struct Run<'a> {
    caller: &'a Caller,
    clock: &'a dyn Clock,
    signer: Option<&'a Signer>,
    application_id: &'a str,
    steps: Vec<Step>,
}

impl Run<'_> {
    /// Rings `hook` with `traffic` (answer kinds) or `body`, records the step, and returns the rung.
    async fn ring(&mut self, hook: &Hook, traffic: &Traffic, body: Option<&Value>, event: Option<&str>) -> Rung {
        let signing = self.signer.filter(|_| hook.signed).map(|signer| Signing {
            signer,
            application_id: self.application_id,
            now: self.clock.now(),
            jti: self.clock.uuid(),
        });
        let outgoing = super::ring::request(hook, traffic, body, signing);
        let rung = ring(self.caller, hook, &outgoing).await;
        self.steps.push(Step {
            webhook: hook.webhook.to_string(),
            event: event.map(str::to_string),
            method: hook.method.as_str().to_string(),
            url: hook.url.to_string(),
            status: rung.status,
            ms: u64::try_from(rung.elapsed.as_millis()).unwrap_or(u64::MAX),
            ok: rung.ok(),
            problem: rung.verdict.as_ref().err().map(Problem::to_string),
        });
        rung
    }
}

impl Transcript {
    /// A transcript of `kind` traffic to `routing.to` with `uuid`, not ok until it says so.
    fn begin(kind: &str, routing: &Routing<'_>, uuid: String, outcome: &str) -> Transcript {
        Transcript {
            format_version: 1,
            kind: kind.to_string(),
            to: routing.to.to_string(),
            from: routing.from.to_string(),
            application_id: routing.application.map(|(id, _)| id.to_string()),
            uuid,
            conversation_uuid: None,
            outcome: outcome.to_string(),
            ok: false,
            problem: None,
            note: None,
            actions: Vec::new(),
            steps: Vec::new(),
        }
    }
}

fn unrouted(kind: &str, routing: &Routing<'_>, uuid: String) -> Transcript {
    Transcript {
        problem: Some(match routing.dangling {
            Some(id) => {
                format!(
                    "number {} is linked to application {id}, which does not exist: Vonage would reject it",
                    routing.to
                )
            }
            None => format!("number {} is linked to no application: Vonage would reject it", routing.to),
        }),
        ..Transcript::begin(kind, routing, uuid, "unrouted")
    }
}

/// Places a call to `routing.to` and carries it out as Vonage would.
pub async fn simulate_call(caller: &Caller, clock: &dyn Clock, routing: &Routing<'_>) -> Transcript {
    let uuid = clock.uuid();
    let Some((application_id, app)) = routing.application else { return unrouted("call", routing, uuid) };
    let traffic = Traffic {
        to: routing.to.to_string(),
        from: routing.from.to_string(),
        uuid: uuid.clone(),
        conversation_uuid: format!("CON-{}", clock.uuid()),
        timestamp: clock.timestamp(),
    };
    let hooks = hooks_of(app, std::time::Duration::from_secs(10));
    let find = |kind: Kind| hooks.iter().find(|h| h.kind == kind);
    let mut run = Run { caller, clock, signer: routing.signer, application_id, steps: Vec::new() };
    let mut transcript = Transcript {
        conversation_uuid: Some(traffic.conversation_uuid.clone()),
        ..Transcript::begin("call", routing, uuid, "failed")
    };
    let event_url = find(Kind::VoiceEvent).cloned();
    let send_event = |status: &'static str| {
        let traffic = Traffic { timestamp: clock.timestamp(), ..traffic.clone() };
        call_event(&traffic, status)
    };
    if let Some(hook) = &event_url {
        for status in ["started", "ringing"] {
            run.ring(hook, &traffic, Some(&send_event(status)), Some(status)).await;
        }
    }
    let ncco = match find(Kind::Answer) {
        None => {
            transcript.problem = Some("the application has no voice answer_url".to_string());
            None
        }
        Some(answer) => {
            let rung = run.ring(answer, &traffic, None, None).await;
            match rung.verdict {
                Ok(ncco) => ncco,
                Err(problem) => {
                    let mut from_fallback = None;
                    match (problem.calls_for_fallback(), find(Kind::FallbackAnswer)) {
                        (true, Some(fallback)) => {
                            for _ in 0..FALLBACK_ATTEMPTS {
                                if let Ok(ncco) = run.ring(fallback, &traffic, None, None).await.verdict {
                                    from_fallback = ncco;
                                    break;
                                }
                            }
                            if from_fallback.is_none() {
                                transcript.problem = Some(format!(
                                    "answer_url: {problem}; fallback_answer_url failed {FALLBACK_ATTEMPTS} times, so the call was ended"
                                ));
                            }
                        }
                        (true, None) => {
                            transcript.problem =
                                Some(format!("answer_url: {problem}; no fallback_answer_url, so the call was ended"))
                        }
                        (false, _) => transcript.problem = Some(format!("answer_url: {problem}; the call was ended")),
                    }
                    from_fallback
                }
            }
        }
    };
    let Some(ncco) = ncco else {
        if let Some(hook) = &event_url {
            run.ring(hook, &traffic, Some(&send_event("failed")), Some("failed")).await;
        }
        transcript.steps = run.steps;
        return transcript;
    };
    if let Some(hook) = &event_url {
        run.ring(hook, &traffic, Some(&send_event("answered")), Some("answered")).await;
    }
    // The NCCO runs action by action; a notify whose answer is an NCCO replaces what was left.
    let mut actions = ncco.actions;
    let mut next = 0;
    let mut notified = 0;
    while next < actions.len() {
        let action = &actions[next];
        let name = action.get("action").and_then(Value::as_str).unwrap_or("?").to_string();
        transcript.actions.push(name);
        next += 1;
        let Some(notify) = super::ncco::Notify::from_action(next - 1, action) else { continue };
        if notified == MAX_NOTIFIES {
            transcript.note = Some(format!(
                "the call delivered {MAX_NOTIFIES} notify actions, the most a simulated call delivers; the rest of its NCCO was skipped"
            ));
            break;
        }
        notified += 1;
        let hook = Hook {
            capability: "voice",
            webhook: "notify",
            kind: Kind::VoiceEvent,
            url: WebhookUrl::new(notify.event_url.clone()),
            method: if notify.event_method.eq_ignore_ascii_case("GET") { Method::Get } else { Method::Post },
            connect_timeout: std::time::Duration::from_millis(crate::model::defaults::CONNECT_TIMEOUT_MS.into()),
            socket_timeout: std::time::Duration::from_millis(crate::model::defaults::EVENT_SOCKET_TIMEOUT_MS.into()),
            // Signed as the application's voice webhooks are.
            signed: find(Kind::Answer).is_some_and(|h| h.signed),
        };
        let rung = run.ring(&hook, &traffic, Some(&notify.payload), None).await;
        // An answer that is an NCCO replaces the rest of the call's; anything else lets it go on.
        let replacement = rung.ok().then(|| super::ncco::read_ncco(&rung.body).ok()).flatten();
        if let Some(replacement) = replacement {
            actions = replacement.actions;
            next = 0;
        }
    }
    if let Some(hook) = &event_url {
        run.ring(hook, &traffic, Some(&send_event("completed")), Some("completed")).await;
    }
    transcript.outcome = "answered".to_string();
    transcript.ok = true;
    transcript.steps = run.steps;
    transcript
}

/// Delivers an inbound SMS with `text` to `routing.to`'s application.
pub async fn simulate_message(caller: &Caller, clock: &dyn Clock, routing: &Routing<'_>, text: &str) -> Transcript {
    let uuid = clock.uuid();
    let Some((application_id, app)) = routing.application else { return unrouted("message", routing, uuid) };
    let traffic = Traffic {
        to: routing.to.to_string(),
        from: routing.from.to_string(),
        uuid: uuid.clone(),
        conversation_uuid: String::new(),
        timestamp: clock.timestamp(),
    };
    let mut transcript = Transcript::begin("message", routing, uuid, "rejected");
    let hooks = hooks_of(app, std::time::Duration::from_secs(10));
    let Some(inbound) = hooks.iter().find(|h| h.kind == Kind::MessagesInbound) else {
        transcript.problem = Some("the application has no messages inbound_url".to_string());
        return transcript;
    };
    let mut run = Run { caller, clock, signer: routing.signer, application_id, steps: Vec::new() };
    let rung = run.ring(inbound, &traffic, Some(&inbound_message(&traffic, text)), None).await;
    match rung.verdict {
        Ok(_) => {
            transcript.outcome = "accepted".to_string();
            transcript.ok = true;
        }
        Err(problem) => transcript.problem = Some(format!("inbound_url: {problem}")),
    }
    transcript.steps = run.steps;
    transcript
}

/// The transcript in words, for a terminal.
pub fn render_human(transcript: &Transcript) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} from {} to {}{}",
        match transcript.kind.as_str() {
            "call" => "Call",
            _ => "Message",
        },
        transcript.uuid,
        transcript.from,
        transcript.to,
        transcript.application_id.as_ref().map_or(String::new(), |id| format!(" (application {id})"))
    );
    for (n, step) in transcript.steps.iter().enumerate() {
        let what = match &step.event {
            Some(event) => format!("{} ({event})", step.webhook),
            None => step.webhook.clone(),
        };
        let answer = match (step.status, &step.problem) {
            (_, Some(problem)) => format!("✗ {problem}"),
            (Some(status), None) => format!("{status} in {} ms", step.ms),
            (None, None) => "no answer".to_string(),
        };
        let _ = writeln!(out, "  {}. {what}: {} {} → {answer}", n + 1, step.method, step.url);
    }
    if !transcript.actions.is_empty() {
        let _ = writeln!(out, "  NCCO: {}", transcript.actions.join(", "));
    }
    let _ = write!(out, "Outcome: {}", transcript.outcome);
    if let Some(problem) = &transcript.problem {
        let _ = write!(out, ": {problem}");
    }
    out.push('\n');
    if let Some(note) = &transcript.note {
        let _ = writeln!(out, "Note: {note}");
    }
    out
}
