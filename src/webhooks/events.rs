//! The requests Vonage sends each kind of webhook, as Vonage's webhook references describe them: the
//! answer fields of a call, its events, an inbound message and a message's status (in the shape of
//! the application's `messages.version`), and a representative event for the other kinds.
//!
//! Pure: the ids and the time come in, so the same inputs give the same requests.

use serde_json::{json, Value};

use super::hooks::Kind;
use super::rules::MessagesVersion;

/// The parties and ids of one call or message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Traffic {
    pub to: String,
    pub from: String,
    /// The call's leg (`uuid`), or the message's `message_uuid`.
    pub uuid: String,
    pub conversation_uuid: String,
    /// ISO 8601, UTC.
    pub timestamp: String,
}

/// What `answer_url` gets: as the query of a GET, or as the JSON body of a POST.
pub fn answer_fields(call: &Traffic) -> Vec<(&'static str, String)> {
    vec![
        ("to", call.to.clone()),
        ("from", call.from.clone()),
        ("uuid", call.uuid.clone()),
        ("conversation_uuid", call.conversation_uuid.clone()),
    ]
}

/// The answer fields as a JSON object (a POST's body).
pub fn answer_body(call: &Traffic) -> Value {
    Value::Object(answer_fields(call).into_iter().map(|(k, v)| (k.to_string(), Value::String(v))).collect())
}

/// One call event for `event_url`: `started`, `ringing`, `answered`, `completed`, `failed`.
pub fn call_event(call: &Traffic, status: &str) -> Value {
    json!({
        "from": call.from,
        "to": call.to,
        "uuid": call.uuid,
        "conversation_uuid": call.conversation_uuid,
        "status": status,
        "direction": "inbound",
        "timestamp": call.timestamp,
    })
}

/// An inbound SMS for the messages `inbound_url`, in the shape of the application's `messages.version`.
pub fn inbound_message(message: &Traffic, text: &str, version: MessagesVersion) -> Value {
    match version {
        MessagesVersion::V1 => json!({
            "channel": "sms",
            "message_uuid": message.uuid,
            "to": message.to,
            "from": message.from,
            "timestamp": message.timestamp,
            "text": text,
            "message_type": "text",
        }),
        MessagesVersion::V0_1 => json!({
            "message_uuid": message.uuid,
            "to": {"type": "sms", "number": message.to},
            "from": {"type": "sms", "number": message.from},
            "timestamp": message.timestamp,
            "direction": "inbound",
            "message": {"content": {"type": "text", "text": text}},
        }),
    }
}

/// A message's status for the messages `status_url`, in the shape of `version`.
pub fn message_status(message: &Traffic, status: &str, version: MessagesVersion) -> Value {
    match version {
        MessagesVersion::V1 => json!({
            "message_uuid": message.uuid,
            "to": message.to,
            "from": message.from,
            "timestamp": message.timestamp,
            "status": status,
            "channel": "sms",
        }),
        MessagesVersion::V0_1 => json!({
            "message_uuid": message.uuid,
            "to": {"type": "sms", "number": message.to},
            "from": {"type": "sms", "number": message.from},
            "timestamp": message.timestamp,
            "status": status,
        }),
    }
}

/// The body a webhook of `kind` gets from `vapp check` (`webhook` names it, for the kinds whose
/// events differ by webhook; `version` shapes the messages kinds). Answer kinds take
/// [`answer_fields`] instead.
pub fn representative(kind: Kind, webhook: &str, sample: &Traffic, version: MessagesVersion) -> Value {
    match kind {
        Kind::Answer | Kind::FallbackAnswer => answer_body(sample),
        Kind::VoiceEvent => call_event(sample, "started"),
        Kind::MessagesInbound => inbound_message(sample, "vapp check", version),
        Kind::MessagesStatus => message_status(sample, "delivered", version),
        Kind::RtcEvent => json!({
            "type": "member:joined",
            "conversation_id": format!("CON-{}", sample.conversation_uuid),
            "body": {"user": {"name": "vapp-check"}},
            "timestamp": sample.timestamp,
        }),
        Kind::VerifyStatus => json!({
            "request_id": sample.uuid,
            "triggered_at": sample.timestamp,
            "type": "summary",
            "status": "completed",
            "workflow": [{"channel": "sms", "initiated_at": sample.timestamp, "status": "completed"}],
        }),
        Kind::Meetings => {
            let event = match webhook {
                "room_changed" => "room:expired",
                "session_changed" => "session:started",
                _ => "recording:started",
            };
            json!({"event": event, "room_id": sample.conversation_uuid, "timestamp": sample.timestamp})
        }
        Kind::Video => json!({
            "event": webhook,
            "sessionId": format!("1_{}", sample.conversation_uuid),
            "applicationId": "",
            "timestamp": sample.timestamp,
        }),
    }
}
