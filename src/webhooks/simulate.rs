//! Simulated inbound traffic, carried out as Vonage carries it out. A call to a number rings its
//! application's `answer_url` (then `fallback_answer_url`, by [`super::rules`]), sends the call's
//! events to `event_url` in order, then carries out the NCCO action by action on a simulated clock
//! (nothing waits in real time): what the caller hears (`talk`, `stream`), `input` answered by the
//! simulated caller's key presses and words in order (its result posted to the action's `eventUrl`,
//! whose NCCO answer replaces the rest of the call's), `record` (its event, with a recording the
//! emulator serves), `connect` (the callee's leg and its events), `conversation`, `notify` and `wait`.
//! A message goes to the messages `inbound_url`, in the shape of `messages.version`. The emulator runs
//! it (`vapp simulate` asks it to) and answers with the [`Transcript`].
//!
//! Invariants: one call has one `uuid` and `conversation_uuid` throughout (a connected leg has its own
//! `uuid`, in the same conversation); every request is rung through [`Run::ring`] (signed, judged and
//! recorded as a step the same way); a simulation is bounded: at most [`MAX_ACTIONS`] actions carried
//! out, [`MAX_REPLACEMENTS`] NCCOs replaced, [`MAX_SIMULATED`] of simulated time.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::call::Caller;
use super::check::Clock;
use super::events::{call_event, inbound_message, Traffic};
use super::hooks::{hooks_of, Hook, Kind, Method, WebhookUrl};
use super::ncco::{read_ncco, Ncco};
use super::ring::{ring, ring_answer, Problem, Rung, Signing};
use super::rules::{self, MessagesVersion};
use super::sign::Signer;
use crate::model::{AppId, Application};

/// The most NCCO actions one simulated call carries out.
pub const MAX_ACTIONS: usize = 200;
/// The most times one simulated call's NCCO is replaced (by an `input`, `notify` or synchronous
/// `connect` answer).
pub const MAX_REPLACEMENTS: usize = 20;
/// The most simulated time one call lasts.
pub const MAX_SIMULATED: Duration = Duration::from_secs(4 * 60 * 60);

/// How long a simulated callee stays on a connected call before hanging up.
const CONNECTED_FOR: Duration = Duration::from_secs(30);
/// How long a `talk` takes, per character (about 15 characters a second).
const SPEECH_PER_CHAR: Duration = Duration::from_millis(65);
/// How long a `stream` is taken to play.
const STREAM_PLAYS_FOR: Duration = Duration::from_secs(5);
/// How long a recording lasts when nothing ends it sooner.
const RECORDING_LASTS: Duration = Duration::from_secs(5);
/// The size a simulated recording is said to have (its served file is this long).
pub const RECORDING_BYTES: usize = 8_000;

/// What the simulated caller does: the keys it presses and the words it says, each taken in order by
/// the call's `input` actions (keys by those that take DTMF, words by those that take speech), and
/// whether the parties a `connect` rings answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CallerActs {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub press: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub say: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_answer: bool,
    /// Whether the caller presses or speaks first, then next, and so on (as `--press` and `--say`
    /// came on the command line). Without it, an input that takes both gets the next key press first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order: Vec<Act>,
}

/// One thing the caller does, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Act {
    Press,
    Say,
}

/// Which traffic a transcript is of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrafficKind {
    Call,
    Message,
}

impl TrafficKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TrafficKind::Call => "call",
            TrafficKind::Message => "message",
        }
    }
}

/// Which webhook a simulated request went to: one of the application's, or the `eventUrl` of the NCCO
/// action that sent it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reached {
    AnswerUrl,
    FallbackAnswerUrl,
    EventUrl,
    InboundUrl,
    StatusUrl,
    Input,
    Record,
    Connect,
    Notify,
}

impl Reached {
    /// Every one, for messages that list them.
    pub const ALL: [Reached; 9] = [
        Reached::AnswerUrl,
        Reached::FallbackAnswerUrl,
        Reached::EventUrl,
        Reached::InboundUrl,
        Reached::StatusUrl,
        Reached::Input,
        Reached::Record,
        Reached::Connect,
        Reached::Notify,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reached::AnswerUrl => "answer_url",
            Reached::FallbackAnswerUrl => "fallback_answer_url",
            Reached::EventUrl => "event_url",
            Reached::InboundUrl => "inbound_url",
            Reached::StatusUrl => "status_url",
            Reached::Input => "input",
            Reached::Record => "record",
            Reached::Connect => "connect",
            Reached::Notify => "notify",
        }
    }

    /// The one a webhook's field or an action's name names.
    pub fn named(name: &str) -> Option<Reached> {
        Reached::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl std::fmt::Display for Reached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How simulated traffic ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A call answered with a valid NCCO.
    Answered,
    /// A call that could not be answered.
    Failed,
    /// The number is linked to no application (or to one that does not exist).
    Unrouted,
    /// A message its `inbound_url` took (2xx).
    Accepted,
    /// A message its `inbound_url` refused.
    Rejected,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Failed => "failed",
            Outcome::Unrouted => "unrouted",
            Outcome::Accepted => "accepted",
            Outcome::Rejected => "rejected",
        }
    }
}

/// What happened to one simulated call or message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    pub format_version: u32,
    pub kind: TrafficKind,
    pub to: String,
    pub from: String,
    pub application_id: Option<AppId>,
    /// The call's leg, or the message's `message_uuid`.
    pub uuid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_uuid: Option<String>,
    pub outcome: Outcome,
    pub ok: bool,
    /// Why it was not ok.
    pub problem: Option<String>,
    /// Things to know about a call that went through (a bound it met, an action not carried out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The NCCO actions carried out, in order (`talk`, `input`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
    /// What the caller heard, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub heard: Vec<Heard>,
    /// The parties a `connect` rang.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connected: Vec<Leg>,
    /// The conversation the caller joined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<String>,
    /// How long the call lasted on the simulated clock, in seconds.
    #[serde(default)]
    pub duration_s: u64,
    pub steps: Vec<Step>,
}

/// Something the caller heard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Heard {
    /// Simulated milliseconds since the call was answered.
    pub at_ms: u64,
    /// `talk` or `stream`.
    pub action: String,
    /// The words spoken, or the stream's URL.
    pub text: String,
    /// Cut short by the caller's key press or words (`bargeIn`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

/// A party a `connect` rang.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Leg {
    /// `phone`, `sip`, `websocket`, `app` or `vbc`.
    pub endpoint: String,
    /// The number, URI, user or extension.
    pub to: String,
    pub uuid: String,
    pub answered: bool,
}

/// One request the simulation sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// `answer_url`, `fallback_answer_url`, `event_url`, or the action whose `eventUrl` it went to:
    /// `input`, `record`, `connect`, `notify`; `inbound_url` for a message.
    pub webhook: Reached,
    /// The call status an event carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    pub method: Method,
    /// As it displays: a password in it as `***`.
    pub url: String,
    /// Simulated milliseconds since the call began.
    #[serde(default)]
    pub at_ms: u64,
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
    /// Signs requests with the signature secret of the account that owns the number, when it has one.
    pub signer: Option<&'a Signer>,
    /// Where the emulator serves recordings (`{recordings}/{recording_uuid}`).
    pub recordings: &'a str,
}

/// The requests of one simulation: each signed, rung, judged and recorded the same way.
struct Run<'a> {
    caller: &'a Caller,
    clock: &'a dyn Clock,
    signer: Option<&'a Signer>,
    application_id: &'a str,
    steps: Vec<Step>,
    /// The simulated clock, from the call's start.
    now: Duration,
}

impl Run<'_> {
    /// Rings `hook` once with `traffic` (answer kinds) or `body`, records the step as `webhook`.
    async fn ring(&mut self, hook: &Hook, traffic: &Traffic, body: Option<&Value>, event: Option<&str>) -> Rung {
        let outgoing = super::ring::request(hook, traffic, body, self.signing(hook));
        let rung = ring(self.caller, hook, &outgoing).await;
        self.record(hook, event, &rung);
        rung
    }

    /// Rings an answer kind of webhook (a fallback) with `fields` rather than the call's answer fields.
    async fn ring_fields(&mut self, hook: &Hook, fields: &Value) -> Rung {
        let outgoing = super::ring::request_with_fields(hook, Some(fields), self.signing(hook));
        let rung = ring(self.caller, hook, &outgoing).await;
        self.record(hook, None, &rung);
        rung
    }

    /// Rings an answer URL as Vonage fetches an NCCO (once more after a transient failure).
    async fn ring_answer(&mut self, hook: &Hook, traffic: &Traffic) -> Rung {
        let outgoing = super::ring::request(hook, traffic, None, self.signing(hook));
        let rungs = ring_answer(self.caller, hook, &outgoing).await;
        for rung in &rungs {
            self.record(hook, None, rung);
        }
        rungs.into_iter().last().unwrap_or_else(|| unreachable!("one attempt at least"))
    }

    fn signing(&self, hook: &Hook) -> Option<Signing<'_>> {
        self.signer.filter(|_| hook.signed).map(|signer| Signing {
            signer,
            application_id: self.application_id,
            now: self.clock.now(),
            jti: self.clock.uuid(),
        })
    }

    fn record(&mut self, hook: &Hook, event: Option<&str>, rung: &Rung) {
        self.steps.push(Step {
            // Every hook a simulation calls is one of these (voice, messages, an action's eventUrl).
            webhook: Reached::named(hook.webhook).unwrap_or(Reached::EventUrl),
            event: event.map(str::to_string),
            method: hook.method,
            url: hook.url.to_string(),
            at_ms: millis(self.now),
            status: rung.status,
            ms: millis(rung.elapsed),
            ok: rung.ok(),
            problem: rung.verdict.as_ref().err().map(Problem::to_string),
        });
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Transcript {
    /// A transcript of `kind` traffic to `routing.to` with `uuid`, not ok until it says so.
    fn begin(kind: TrafficKind, routing: &Routing<'_>, uuid: String, outcome: Outcome) -> Transcript {
        Transcript {
            format_version: 1,
            kind,
            to: routing.to.to_string(),
            from: routing.from.to_string(),
            application_id: routing.application.map(|(id, _)| AppId::new(id)),
            uuid,
            conversation_uuid: None,
            outcome,
            ok: false,
            problem: None,
            notes: Vec::new(),
            actions: Vec::new(),
            heard: Vec::new(),
            connected: Vec::new(),
            conversation: None,
            duration_s: 0,
            steps: Vec::new(),
        }
    }

    /// How many requests went to `webhook`.
    pub fn requests_to(&self, webhook: Reached) -> usize {
        self.steps.iter().filter(|s| s.webhook == webhook).count()
    }
}

fn unrouted(kind: TrafficKind, routing: &Routing<'_>, uuid: String) -> Transcript {
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
        ..Transcript::begin(kind, routing, uuid, Outcome::Unrouted)
    }
}

/// A call in progress: the application's webhooks, the caller's leg, what the caller still does.
struct Call<'a> {
    run: Run<'a>,
    traffic: Traffic,
    hooks: Vec<Hook>,
    acts: CallerActs,
    presses: VecDeque<String>,
    says: VecDeque<String>,
    /// What the caller does next, when the order is given.
    order: VecDeque<Act>,
    recordings: &'a str,
    transcript: Transcript,
    /// When the call was answered, on the simulated clock.
    answered_at: Duration,
    /// Background recordings, whose events go when the call ends.
    recording: Vec<(Value, Duration)>,
    /// The wall-clock time the simulated clock starts from.
    began: std::time::SystemTime,
}

/// What carrying out one action did to the rest of the NCCO.
enum Next {
    Continue,
    /// An answer replaced the rest of the call's NCCO.
    Replace(Ncco),
    /// The call leaves the NCCO (connected to a party who hung up, or in a conversation).
    End,
}

impl Call<'_> {
    fn hook(&self, kind: Kind) -> Option<&Hook> {
        self.hooks.iter().find(|h| h.kind == kind)
    }

    /// The caller's leg's event `status`, with the fields Vonage adds to `answered` (unknown yet:
    /// null) and `completed` (the call's times, its duration in seconds, and what it cost: nothing,
    /// on an emulator), as its webhook reference and SDK fixtures show them.
    fn event(&self, status: &str) -> Value {
        let traffic = Traffic { timestamp: self.timestamp(), ..self.traffic.clone() };
        let mut event = call_event(&traffic, status);
        let Some(fields) = event.as_object_mut() else { return event };
        match status {
            "answered" => {
                for field in ["start_time", "rate", "network"] {
                    fields.insert(field.into(), Value::Null);
                }
            }
            "completed" => {
                let at = |offset: Duration| humantime::format_rfc3339_millis(self.began + offset).to_string();
                let duration = self.run.now.saturating_sub(self.answered_at).as_secs();
                fields.insert("start_time".into(), json!(at(self.answered_at)));
                fields.insert("end_time".into(), json!(at(self.run.now)));
                fields.insert("duration".into(), json!(duration.to_string()));
                fields.insert("rate".into(), json!("0.00000000"));
                fields.insert("price".into(), json!("0.00000000"));
                fields.insert("network".into(), json!("VAPP-EMULATOR"));
            }
            _ => {}
        }
        event
    }

    /// The simulated clock's time, as a timestamp.
    fn timestamp(&self) -> String {
        humantime::format_rfc3339_millis(self.began + self.run.now).to_string()
    }

    async fn send_event(&mut self, status: &str) -> Option<Rung> {
        let hook = self.hook(Kind::VoiceEvent)?.clone();
        let event = self.event(status);
        Some(self.run.ring(&hook, &self.traffic.clone(), Some(&event), Some(status)).await)
    }

    /// The hook an action's `eventUrl` names (its own `eventMethod`), or the application's `event_url`.
    fn action_hook(&self, action: &Value, webhook: &'static str) -> Option<Hook> {
        let signed = self.hook(Kind::Answer).map_or(crate::model::defaults::SIGNED_CALLBACKS, |h| h.signed);
        let url =
            action.get("eventUrl").and_then(Value::as_array).and_then(|urls| urls.first()).and_then(Value::as_str);
        let Some(url) = url else { return self.hook(Kind::VoiceEvent).cloned() };
        let method = rules::method(Kind::VoiceEvent, action.get("eventMethod").and_then(Value::as_str));
        Some(Hook {
            capability: crate::model::Capability::Voice,
            webhook,
            kind: Kind::VoiceEvent,
            url: WebhookUrl::new(url),
            method,
            connect_timeout: Duration::from_millis(crate::model::defaults::CONNECT_TIMEOUT_MS.into()),
            socket_timeout: Duration::from_millis(crate::model::defaults::EVENT_SOCKET_TIMEOUT_MS.into()),
            signed,
        })
    }

    /// Sends `body` to `hook` for an action whose answer may be a new NCCO (`input`, `notify`, a
    /// synchronous `connect`), as Vonage does: once more after a transient failure; a valid NCCO
    /// answer replaces the rest; a failure turns to `fallback_answer_url` (twice at most, with the
    /// request's fields, its `reason` and `original_request`), and the call in progress goes on with
    /// its NCCO when that fails too; any other answer lets the NCCO go on.
    async fn ask_for_ncco(&mut self, hook: &Hook, body: &Value, event: Option<&str>) -> Next {
        let mut rung = self.run.ring(hook, &self.traffic.clone(), Some(body), event).await;
        if rung.verdict.as_ref().err().is_some_and(rules::tried_again) {
            rung = self.run.ring(hook, &self.traffic.clone(), Some(body), event).await;
        }
        let problem = match rung.verdict {
            Ok(_) => {
                return match read_ncco(&rung.body) {
                    Ok(ncco) => Next::Replace(ncco),
                    Err(_) => Next::Continue,
                }
            }
            Err(problem) => problem,
        };
        let Some(fallback) = self.hook(Kind::FallbackAnswer).cloned() else { return Next::Continue };
        let mut fields = body.clone();
        if let Some(object) = fields.as_object_mut() {
            object.insert("reason".into(), json!(problem.to_string()));
            object.insert("original_request".into(), json!({"url": hook.url.to_string(), "type": "event"}));
        }
        for _ in 0..rules::FALLBACK_ATTEMPTS {
            if let Ok(Some(ncco)) = self.run.ring_fields(&fallback, &fields).await.verdict {
                return Next::Replace(ncco);
            }
        }
        self.transcript.notes.push(format!(
            "{}: {problem}; fallback_answer_url failed too, so the call went on with its NCCO",
            hook.webhook
        ));
        Next::Continue
    }

    /// Whether the caller's next act interrupts what is playing (`bargeIn` and an `input` next).
    fn barged_in(&self, action: &Value, next: Option<&Value>) -> bool {
        action.get("bargeIn").and_then(Value::as_bool).unwrap_or(false)
            && next.is_some_and(|n| n.get("action").and_then(Value::as_str) == Some("input"))
            && (!self.presses.is_empty() || !self.says.is_empty())
    }

    fn hear(&mut self, action: &str, text: String, interrupted: bool) {
        let at_ms = millis(self.run.now.saturating_sub(self.answered_at));
        // A stream's URL may carry a password.
        let text = crate::model::webhook_url::redact_text(&text).into_owned();
        self.transcript.heard.push(Heard { at_ms, action: action.to_string(), text, interrupted });
    }

    async fn carry_out(&mut self, action: &Value, next: Option<&Value>) -> Next {
        let name = action.get("action").and_then(Value::as_str).unwrap_or("?");
        match name {
            "talk" => {
                let text = action.get("text").and_then(Value::as_str).unwrap_or_default().to_string();
                let interrupted = self.barged_in(action, next);
                let plays = loops(action);
                for _ in 0..plays {
                    self.hear("talk", text.clone(), interrupted);
                    self.run.now += SPEECH_PER_CHAR * u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
                    if interrupted {
                        break;
                    }
                }
                Next::Continue
            }
            "stream" => {
                let url = action.get("streamUrl").and_then(Value::as_array).and_then(|u| u.first());
                let text = url.and_then(Value::as_str).unwrap_or_default().to_string();
                let interrupted = self.barged_in(action, next);
                for _ in 0..loops(action) {
                    self.hear("stream", text.clone(), interrupted);
                    self.run.now += STREAM_PLAYS_FOR;
                    if interrupted {
                        break;
                    }
                }
                Next::Continue
            }
            "input" => self.input(action).await,
            "record" => self.record(action).await,
            "connect" => self.connect(action).await,
            "conversation" => {
                let name = action.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
                self.transcript.conversation = Some(name);
                Next::End
            }
            "notify" => {
                let Some(notify) = super::ncco::Notify::from_action(0, action) else { return Next::Continue };
                let Some(hook) = self.action_hook(action, "notify") else { return Next::Continue };
                let hook = Hook { method: rules::method(Kind::VoiceEvent, Some(&notify.event_method)), ..hook };
                // Sent as Vonage sends it: the payload with the conversation and the time.
                let body = json!({
                    "payload": notify.payload,
                    "conversation_uuid": self.traffic.conversation_uuid,
                    "timestamp": self.timestamp(),
                });
                self.ask_for_ncco(&hook, &body, None).await
            }
            "wait" => {
                let seconds = action.get("timeout").and_then(Value::as_f64).unwrap_or(10.0).clamp(0.0, 7200.0);
                self.run.now += Duration::from_secs_f64(seconds);
                Next::Continue
            }
            other => {
                self.transcript
                    .notes
                    .push(format!("the emulator does not carry out `{other}`: the call went on with the next action"));
                Next::Continue
            }
        }
    }

    /// `input`: the caller's next key presses (for DTMF) or words (for speech), or a time-out; the
    /// result goes to the action's `eventUrl`, whose NCCO answer replaces the rest of the call.
    async fn input(&mut self, action: &Value) -> Next {
        let types: Vec<&str> = match action.get("type").and_then(Value::as_array) {
            Some(types) => types.iter().filter_map(Value::as_str).collect(),
            None => vec!["dtmf"],
        };
        let (dtmf, speech) = (types.contains(&"dtmf"), types.contains(&"speech"));
        let settings = |kind: &str, field: &str| action.get(kind).and_then(|s| s.get(field));
        // The caller's next act, as ordered; else a key press for an input that takes them, else words.
        let (pressed, said) = match self.order.pop_front() {
            Some(Act::Press) => {
                let keys = self.presses.pop_front();
                (keys.filter(|_| dtmf), None)
            }
            Some(Act::Say) => {
                let words = self.says.pop_front();
                (None, words.filter(|_| speech))
            }
            None => {
                let pressed = dtmf.then(|| self.presses.pop_front()).flatten();
                let said = match pressed {
                    Some(_) => None,
                    None => speech.then(|| self.says.pop_front()).flatten(),
                };
                (pressed, said)
            }
        };
        // Vonage's shape: both objects always, `speech` saying so when it was not enabled.
        let (mut dtmf_result, mut speech_result) = (
            json!({"digits": null, "timed_out": false}),
            match speech {
                true => json!({"results": []}),
                false => json!({"error": "Speech was not enabled"}),
            },
        );
        match (&pressed, &said) {
            (Some(keys), _) => {
                let max = settings("dtmf", "maxDigits").and_then(Value::as_u64).unwrap_or(4) as usize;
                let mut digits: String = keys.chars().take(max.max(1)).collect();
                if settings("dtmf", "submitOnHash").and_then(Value::as_bool) == Some(true) {
                    digits = digits.trim_end_matches('#').to_string();
                }
                self.run.now += Duration::from_millis(500 * keys.len() as u64);
                dtmf_result = json!({"digits": digits, "timed_out": false});
            }
            (None, Some(words)) => {
                self.run.now += Duration::from_millis(400 * words.split_whitespace().count().max(1) as u64 + 1000);
                speech_result = json!({
                    "timeout_reason": "end_on_silence_timeout",
                    "results": [{"confidence": "0.95", "text": words}],
                });
            }
            (None, None) => {
                let waited = match dtmf {
                    true => settings("dtmf", "timeOut").and_then(Value::as_f64).unwrap_or(3.0),
                    false => settings("speech", "startTimeout").and_then(Value::as_f64).unwrap_or(10.0),
                };
                self.run.now += Duration::from_secs_f64(waited.clamp(0.0, 60.0));
                if dtmf {
                    dtmf_result = json!({"digits": "", "timed_out": true});
                }
                if speech {
                    speech_result = json!({"timeout_reason": "start_timeout", "results": []});
                }
            }
        }
        let result = json!({
            "speech": speech_result,
            "dtmf": dtmf_result,
            "from": self.traffic.from,
            "to": self.traffic.to,
            "uuid": self.traffic.uuid,
            "conversation_uuid": self.traffic.conversation_uuid,
            "timestamp": self.timestamp(),
        });
        let Some(hook) = self.action_hook(action, "input") else {
            self.transcript.notes.push("an input's result had nowhere to go (no eventUrl, no event_url)".into());
            return Next::Continue;
        };
        self.ask_for_ncco(&hook, &result, None).await
    }

    /// `record`: a recording that ends at its `endOnKey` press, its `timeOut` or the silence after a
    /// moment (then its event goes at once), or at the end of the call (a recording in the background).
    async fn record(&mut self, action: &Value) -> Next {
        let recording_uuid = self.run.clock.uuid();
        let start = self.timestamp();
        let started_at = self.run.now;
        let ends_on_key = action.get("endOnKey").and_then(Value::as_str);
        let ends_alone = ends_on_key.is_some()
            || action.get("endOnSilence").is_some()
            || action.get("timeOut").is_some()
            || action.get("beepStart").is_some();
        let event = json!({
            "start_time": start,
            "recording_url": format!("{}/{recording_uuid}", self.recordings),
            "size": RECORDING_BYTES,
            "recording_uuid": recording_uuid,
            "conversation_uuid": self.traffic.conversation_uuid,
        });
        if !ends_alone {
            self.recording.push((event, started_at));
            return Next::Continue;
        }
        match ends_on_key {
            Some(key) if self.presses.front().is_some_and(|p| p.starts_with(key)) => {
                self.presses.pop_front();
                if self.order.front() == Some(&Act::Press) {
                    self.order.pop_front();
                }
                self.run.now += RECORDING_LASTS;
            }
            _ => {
                let limit = action.get("timeOut").and_then(Value::as_f64).map(Duration::from_secs_f64);
                self.run.now += limit.map_or(RECORDING_LASTS, |l| l.min(RECORDING_LASTS));
            }
        }
        self.finish_recording(event, action).await;
        Next::Continue
    }

    async fn finish_recording(&mut self, mut event: Value, action: &Value) {
        event["end_time"] = json!(self.timestamp());
        event["timestamp"] = json!(self.timestamp());
        if let Some(hook) = self.action_hook(action, "record") {
            self.run.ring(&hook, &self.traffic.clone(), Some(&event), Some("recording")).await;
        }
    }

    /// `connect`: the callee's leg and its events; answered, the parties talk until the callee hangs
    /// up and the call ends; unanswered (`--no-answer`), the NCCO goes on (a synchronous connect's
    /// `eventUrl` may answer a new NCCO).
    async fn connect(&mut self, action: &Value) -> Next {
        let endpoint = action.get("endpoint").and_then(Value::as_array).and_then(|e| e.first()).cloned();
        let endpoint = endpoint.unwrap_or(Value::Null);
        let kind = endpoint.get("type").and_then(Value::as_str).unwrap_or("phone").to_string();
        let to = ["number", "uri", "user", "extension"]
            .iter()
            .find_map(|field| endpoint.get(*field).and_then(Value::as_str))
            .unwrap_or_default()
            .to_string();
        let leg = Traffic {
            to: to.clone(),
            from: action.get("from").and_then(Value::as_str).unwrap_or(&self.traffic.to).to_string(),
            uuid: self.run.clock.uuid(),
            conversation_uuid: self.traffic.conversation_uuid.clone(),
            timestamp: String::new(),
        };
        let answered = !self.acts.no_answer;
        self.transcript.connected.push(Leg { endpoint: kind, to, uuid: leg.uuid.clone(), answered });
        let synchronous = action.get("eventType").and_then(Value::as_str) == Some("synchronous");
        let hook = self.action_hook(action, "connect");
        let statuses: &[&str] = match answered {
            true => &["started", "ringing", "answered", "completed"],
            false => &["started", "ringing", "timeout"],
        };
        for (i, status) in statuses.iter().enumerate() {
            self.run.now += match *status {
                "answered" => Duration::from_secs(3),
                "completed" => CONNECTED_FOR,
                "timeout" => Duration::from_secs(action.get("timeout").and_then(Value::as_u64).unwrap_or(60).min(120)),
                _ => Duration::ZERO,
            };
            let Some(hook) = &hook else { continue };
            let mut event = call_event(&Traffic { timestamp: self.timestamp(), ..leg.clone() }, status);
            event["direction"] = json!("outbound");
            let last = i + 1 == statuses.len();
            if synchronous && last && !answered {
                return match self.ask_for_ncco(hook, &event, Some(status)).await {
                    Next::Replace(ncco) => Next::Replace(ncco),
                    _ => Next::Continue,
                };
            }
            self.run.ring(hook, &self.traffic.clone(), Some(&event), Some(status)).await;
        }
        match answered {
            true => Next::End,
            false => Next::Continue,
        }
    }
}

/// How many times a `talk` or `stream` plays (`loop`; 0, "for ever", is taken as once more than one).
fn loops(action: &Value) -> usize {
    match action.get("loop").and_then(Value::as_u64) {
        Some(0) => 2,
        Some(n) => n.min(10) as usize,
        None => 1,
    }
}

/// Places a call to `routing.to` and carries it out as Vonage would.
pub async fn simulate_call(caller: &Caller, clock: &dyn Clock, routing: &Routing<'_>, acts: &CallerActs) -> Transcript {
    let uuid = clock.uuid();
    let Some((application_id, app)) = routing.application else {
        return unrouted(TrafficKind::Call, routing, uuid);
    };
    let traffic = Traffic {
        to: routing.to.to_string(),
        from: routing.from.to_string(),
        uuid: uuid.clone(),
        conversation_uuid: format!("CON-{}", clock.uuid()),
        timestamp: clock.timestamp(),
    };
    let transcript = Transcript {
        conversation_uuid: Some(traffic.conversation_uuid.clone()),
        ..Transcript::begin(TrafficKind::Call, routing, uuid, Outcome::Failed)
    };
    let run = Run { caller, clock, signer: routing.signer, application_id, steps: Vec::new(), now: Duration::ZERO };
    let mut call = Call {
        run,
        traffic,
        hooks: hooks_of(app, Duration::from_secs(10)),
        presses: acts.press.iter().cloned().collect(),
        says: acts.say.iter().cloned().collect(),
        order: acts.order.iter().copied().collect(),
        acts: acts.clone(),
        recordings: routing.recordings,
        transcript,
        answered_at: Duration::ZERO,
        recording: Vec::new(),
        began: clock.wall(),
    };
    for status in ["started", "ringing"] {
        call.send_event(status).await;
    }
    let Some(ncco) = first_ncco(&mut call).await else {
        call.send_event("failed").await;
        call.transcript.steps = std::mem::take(&mut call.run.steps);
        return call.transcript;
    };
    call.transcript.notes.extend(ncco.notes.iter().map(ToString::to_string));
    call.run.now += Duration::from_secs(1);
    call.answered_at = call.run.now;
    call.send_event("answered").await;
    let mut actions: VecDeque<Value> = ncco.actions.into();
    let (mut carried, mut replaced) = (0, 0);
    while let Some(action) = actions.pop_front() {
        if carried == MAX_ACTIONS || call.run.now >= MAX_SIMULATED {
            call.transcript.notes.push(format!(
                "the call carried out {MAX_ACTIONS} actions or ran {} hours, the most a simulated call does; the rest of its NCCO was skipped",
                MAX_SIMULATED.as_secs() / 3600
            ));
            break;
        }
        carried += 1;
        let name = action.get("action").and_then(Value::as_str).unwrap_or("?").to_string();
        call.transcript.actions.push(name);
        match call.carry_out(&action, actions.front()).await {
            Next::Continue => {}
            Next::End => break,
            Next::Replace(ncco) => {
                if replaced == MAX_REPLACEMENTS {
                    call.transcript.notes.push(format!(
                        "the call's NCCO was replaced {MAX_REPLACEMENTS} times, the most a simulated call allows; the new one was not carried out"
                    ));
                    break;
                }
                replaced += 1;
                actions = ncco.actions.into();
            }
        }
    }
    for (event, _) in std::mem::take(&mut call.recording) {
        call.finish_recording(event, &Value::Null).await;
    }
    call.send_event("completed").await;
    call.transcript.outcome = Outcome::Answered;
    call.transcript.ok = true;
    call.transcript.duration_s = call.run.now.saturating_sub(call.answered_at).as_secs();
    call.transcript.steps = std::mem::take(&mut call.run.steps);
    call.transcript
}

/// The call's first NCCO: `answer_url` (once more after a transient failure), then, when it still
/// fails, `fallback_answer_url` up to [`rules::FALLBACK_ATTEMPTS`] times. `None` ends the call, with
/// its problem in the transcript.
async fn first_ncco(call: &mut Call<'_>) -> Option<Ncco> {
    let Some(answer) = call.hook(Kind::Answer).cloned() else {
        call.transcript.problem = Some("the application has no voice answer_url".to_string());
        return None;
    };
    let traffic = call.traffic.clone();
    let problem = match call.run.ring_answer(&answer, &traffic).await.verdict {
        Ok(ncco) => return ncco,
        Err(problem) => problem,
    };
    let fallback = call.hook(Kind::FallbackAnswer).cloned();
    match (rules::calls_for_fallback(&problem), fallback) {
        (true, Some(fallback)) => {
            // The answer request's fields, with why it failed and what it was.
            let mut fields = super::events::answer_body(&traffic);
            if let Some(object) = fields.as_object_mut() {
                object.insert("reason".into(), json!(problem.to_string()));
                object.insert("original_request".into(), json!({"url": answer.url.to_string(), "type": "answer"}));
            }
            for _ in 0..rules::FALLBACK_ATTEMPTS {
                if let Ok(Some(ncco)) = call.run.ring_fields(&fallback, &fields).await.verdict {
                    return Some(ncco);
                }
            }
            call.transcript.problem = Some(format!(
                "answer_url: {problem}; fallback_answer_url failed {} times, so the call was ended",
                rules::FALLBACK_ATTEMPTS
            ));
        }
        (true, None) => {
            call.transcript.problem =
                Some(format!("answer_url: {problem}; no fallback_answer_url, so the call was ended"))
        }
        (false, _) => call.transcript.problem = Some(format!("answer_url: {problem}; the call was ended")),
    }
    None
}

/// Delivers an inbound SMS with `text` to `routing.to`'s application, in the shape of its
/// `messages.version`.
pub async fn simulate_message(caller: &Caller, clock: &dyn Clock, routing: &Routing<'_>, text: &str) -> Transcript {
    let uuid = clock.uuid();
    let Some((application_id, app)) = routing.application else {
        return unrouted(TrafficKind::Message, routing, uuid);
    };
    let traffic = Traffic {
        to: routing.to.to_string(),
        from: routing.from.to_string(),
        uuid: uuid.clone(),
        conversation_uuid: String::new(),
        timestamp: clock.timestamp(),
    };
    let mut transcript = Transcript::begin(TrafficKind::Message, routing, uuid, Outcome::Rejected);
    let hooks = hooks_of(app, Duration::from_secs(10));
    let Some(inbound) = hooks.iter().find(|h| h.kind == Kind::MessagesInbound) else {
        transcript.problem = Some("the application has no messages inbound_url".to_string());
        return transcript;
    };
    let version = MessagesVersion::of(
        app.capabilities.as_deref().and_then(|c| c.messages.as_deref()).and_then(|m| m.version.as_deref()),
    );
    let mut run = Run { caller, clock, signer: routing.signer, application_id, steps: Vec::new(), now: Duration::ZERO };
    let rung = run.ring(inbound, &traffic, Some(&inbound_message(&traffic, text, version)), None).await;
    match rung.verdict {
        Ok(_) => {
            transcript.outcome = Outcome::Accepted;
            transcript.ok = true;
        }
        Err(problem) => transcript.problem = Some(format!("inbound_url: {problem}")),
    }
    transcript.steps = run.steps;
    transcript
}

/// Indents every line after the first of `text` by `indent` (a multi-line problem under its step).
fn indented(text: &str, indent: &str) -> String {
    text.lines().collect::<Vec<_>>().join(&format!("\n{indent}"))
}

/// The transcript in words, for a terminal.
pub fn render_human(transcript: &Transcript) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} from {} to {}{}",
        match transcript.kind {
            TrafficKind::Call => "Call",
            TrafficKind::Message => "Message",
        },
        transcript.uuid,
        transcript.from,
        transcript.to,
        transcript.application_id.as_ref().map_or(String::new(), |id| format!(" (application {id})"))
    );
    for (n, step) in transcript.steps.iter().enumerate() {
        let what = match &step.event {
            Some(event) => format!("{} ({event})", step.webhook),
            None => step.webhook.to_string(),
        };
        let answer = match (step.status, &step.problem) {
            (_, Some(problem)) => format!("✗ {}", indented(problem, "       ")),
            (Some(status), None) => format!("{status} in {} ms", step.ms),
            (None, None) => "no answer".to_string(),
        };
        let _ = writeln!(out, "  {}. {what}: {} {} → {answer}", n + 1, step.method.as_str(), step.url);
    }
    if !transcript.actions.is_empty() {
        let _ = writeln!(out, "  NCCO: {}", transcript.actions.join(", "));
    }
    for heard in &transcript.heard {
        let cut = if heard.interrupted { " (interrupted)" } else { "" };
        let what = match heard.action.as_str() {
            "talk" => format!("{:?}", heard.text),
            _ => format!("stream {}", heard.text),
        };
        let _ = writeln!(out, "  Heard at {:.1}s: {what}{cut}", heard.at_ms as f64 / 1000.0);
    }
    for leg in &transcript.connected {
        let answered = if leg.answered { "answered" } else { "not answered" };
        let _ = writeln!(out, "  Connected to {} {}: {answered}", leg.endpoint, leg.to);
    }
    if let Some(conversation) = &transcript.conversation {
        let _ = writeln!(out, "  Joined conversation {conversation:?}");
    }
    let _ = write!(out, "Outcome: {}", transcript.outcome.as_str());
    if let Some(problem) = &transcript.problem {
        let _ = write!(out, ": {}", indented(problem, "  "));
    }
    out.push('\n');
    for note in &transcript.notes {
        let _ = writeln!(out, "Note: {}", indented(note, "  "));
    }
    out
}
