//! Webhooks: an address plus how Vonage should call it, and where each sits in an application.
//!
//! Both webhook types accept a bare string as shorthand for `{address: STRING}`. The API never sends the
//! shorthand, but manifests use it, and accepting it on read costs nothing.
//!
//! [`WebhookSlot`] names one webhook field of the model (its capability, its field, its kind); the one
//! walk over an application's webhooks ([`super::Capabilities::webhooks`]) yields each with its slot,
//! and everything that visits webhooks (unknown fields, the API's rules, `check`, the comparable form)
//! goes through it, so a new webhook is added in one place.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::{Extra, WebhookUrl};

/// A capability that has webhooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    Voice,
    Messages,
    Rtc,
    Verify,
    Meetings,
    Video,
}

impl Capability {
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Voice => "voice",
            Capability::Messages => "messages",
            Capability::Rtc => "rtc",
            Capability::Verify => "verify",
            Capability::Meetings => "meetings",
            Capability::Video => "video",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a webhook is for, which decides the rules it is held to (methods, timeouts) and the request
/// Vonage sends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookKind {
    /// Voice `answer_url`: must answer 200 with an NCCO.
    Answer,
    /// Voice `fallback_answer_url`: as `answer_url`, when that fails.
    FallbackAnswer,
    /// Voice `event_url`: call events.
    VoiceEvent,
    /// Messages `inbound_url`: an inbound message.
    MessagesInbound,
    /// Messages `status_url`: a message's status.
    MessagesStatus,
    /// RTC `event_url`: conversation events.
    RtcEvent,
    /// Verify `status_url`: a verification's status.
    VerifyStatus,
    /// Meetings callbacks.
    Meetings,
    /// Video callbacks.
    Video,
}

impl WebhookKind {
    /// Whether the answer must be an NCCO.
    pub fn wants_ncco(self) -> bool {
        matches!(self, WebhookKind::Answer | WebhookKind::FallbackAnswer)
    }

    /// The `http_method`s the API accepts (none for video webhooks, which have no such field).
    pub fn methods(self) -> &'static [&'static str] {
        use super::rules::{HTTP_METHODS, POST_ONLY};
        match self {
            WebhookKind::Answer | WebhookKind::FallbackAnswer | WebhookKind::VoiceEvent | WebhookKind::RtcEvent => {
                &HTTP_METHODS
            }
            WebhookKind::MessagesInbound
            | WebhookKind::MessagesStatus
            | WebhookKind::VerifyStatus
            | WebhookKind::Meetings => &POST_ONLY,
            WebhookKind::Video => &[],
        }
    }

    /// The `socket_timeout`s the API accepts, for the voice webhooks that have one.
    pub fn socket_timeouts(self) -> Option<super::rules::Range> {
        use super::rules::{ANSWER_SOCKET_TIMEOUT, EVENT_SOCKET_TIMEOUT};
        match self {
            WebhookKind::Answer | WebhookKind::FallbackAnswer => Some(ANSWER_SOCKET_TIMEOUT),
            WebhookKind::VoiceEvent => Some(EVENT_SOCKET_TIMEOUT),
            _ => None,
        }
    }
}

/// Where a webhook sits in an application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WebhookSlot {
    pub capability: Capability,
    /// Its field: `answer_url`, `event_url`, `room_changed`, …
    pub field: &'static str,
    pub kind: WebhookKind,
}

impl WebhookSlot {
    /// Its dotted path in an application: `capabilities.voice.webhooks.answer_url`.
    pub fn path(&self) -> String {
        format!("capabilities.{}.webhooks.{}", self.capability, self.field)
    }
}

/// A webhook of either type, as the walk finds it.
#[derive(Clone, Copy, Debug)]
pub enum HookRef<'a> {
    Plain(&'a Webhook),
    Video(&'a VideoWebhook),
}

impl<'a> HookRef<'a> {
    pub fn address(self) -> &'a WebhookUrl {
        match self {
            HookRef::Plain(h) => &h.address,
            HookRef::Video(h) => &h.address,
        }
    }

    pub fn extra(self) -> &'a Extra {
        match self {
            HookRef::Plain(h) => &h.extra,
            HookRef::Video(h) => &h.extra,
        }
    }
}

/// A webhook of either type, to change.
#[derive(Debug)]
pub enum HookMut<'a> {
    Plain(&'a mut Webhook),
    Video(&'a mut VideoWebhook),
}

impl HookMut<'_> {
    pub fn address_mut(&mut self) -> &mut WebhookUrl {
        match self {
            HookMut::Plain(h) => &mut h.address,
            HookMut::Video(h) => &mut h.address,
        }
    }

    pub fn extra_mut(&mut self) -> &mut Extra {
        match self {
            HookMut::Plain(h) => &mut h.extra,
            HookMut::Video(h) => &mut h.extra,
        }
    }
}

/// A webhook of voice, messages, rtc, verify or meetings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "WebhookForm")]
pub struct Webhook {
    pub address: WebhookUrl,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket_timeout: Option<u32>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A video event webhook.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "VideoWebhookForm")]
pub struct VideoWebhook {
    pub address: WebhookUrl,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// What may stand where a webhook is expected: a URL string or the full object.
enum WebhookForm {
    Address(String),
    Full(WebhookFields),
}

/// The object form of a webhook; its schema is the manifest's documentation.
#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "Webhook", deny_unknown_fields)]
struct WebhookFields {
    /// The absolute http(s) URL Vonage calls.
    #[schemars(url)]
    address: String,
    /// GET or POST; messages, verify and meetings accept POST only.
    #[serde(default)]
    #[schemars(extend("enum" = super::rules::HTTP_METHODS))]
    http_method: Option<String>,
    /// Voice only: milliseconds to wait for a connection (300..1000). Default: 1000.
    #[serde(default, alias = "connection_timeout")]
    #[schemars(range(min = super::rules::CONNECT_TIMEOUT.min, max = super::rules::CONNECT_TIMEOUT.max))]
    connect_timeout: Option<u32>,
    /// Voice only: milliseconds to wait for an answer: 1000..5000 for answer URLs (default 5000),
    /// 1000..10000 for events (default 10000).
    #[serde(default)]
    #[schemars(range(min = super::rules::SOCKET_TIMEOUT.min, max = super::rules::SOCKET_TIMEOUT.max))]
    socket_timeout: Option<u32>,
    #[serde(flatten)]
    #[schemars(skip)]
    extra: Extra,
}

impl From<WebhookForm> for Webhook {
    fn from(form: WebhookForm) -> Self {
        match form {
            WebhookForm::Address(address) => Webhook { address: WebhookUrl::new(address), ..Default::default() },
            WebhookForm::Full(f) => Webhook {
                address: WebhookUrl::new(f.address),
                http_method: f.http_method,
                connect_timeout: f.connect_timeout,
                socket_timeout: f.socket_timeout,
                extra: f.extra,
            },
        }
    }
}

enum VideoWebhookForm {
    Address(String),
    Full(VideoWebhookFields),
}

/// The object form of a video webhook.
#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "VideoWebhook", deny_unknown_fields)]
struct VideoWebhookFields {
    /// The absolute http(s) URL Vonage calls.
    #[schemars(url)]
    address: String,
    /// Whether Vonage sends this event.
    #[serde(default)]
    active: Option<bool>,
    #[serde(flatten)]
    #[schemars(skip)]
    extra: Extra,
}

impl From<VideoWebhookForm> for VideoWebhook {
    fn from(form: VideoWebhookForm) -> Self {
        match form {
            VideoWebhookForm::Address(address) => {
                VideoWebhook { address: WebhookUrl::new(address), ..Default::default() }
            }
            VideoWebhookForm::Full(f) => {
                VideoWebhook { address: WebhookUrl::new(f.address), active: f.active, extra: f.extra }
            }
        }
    }
}

/// Deserialises a string into `Short` and a map into `Full`, keeping serde's own error messages (an
/// untagged enum would hide them behind "did not match any variant").
struct StringOrMap<T>(PhantomData<T>);

trait Shorthand: Sized {
    type Fields: for<'de> Deserialize<'de>;
    fn address(s: String) -> Self;
    fn full(fields: Self::Fields) -> Self;
}

impl Shorthand for WebhookForm {
    type Fields = WebhookFields;
    fn address(s: String) -> Self {
        WebhookForm::Address(s)
    }
    fn full(fields: WebhookFields) -> Self {
        WebhookForm::Full(fields)
    }
}

impl Shorthand for VideoWebhookForm {
    type Fields = VideoWebhookFields;
    fn address(s: String) -> Self {
        VideoWebhookForm::Address(s)
    }
    fn full(fields: VideoWebhookFields) -> Self {
        VideoWebhookForm::Full(fields)
    }
}

impl<'de, T: Shorthand> Visitor<'de> for StringOrMap<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a URL or a webhook object with an `address`")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<T, E> {
        Ok(T::address(s.to_string()))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::Fields::deserialize(de::value::MapAccessDeserializer::new(map)).map(T::full)
    }
}

impl<'de> Deserialize<'de> for WebhookForm {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StringOrMap(PhantomData))
    }
}

impl<'de> Deserialize<'de> for VideoWebhookForm {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StringOrMap(PhantomData))
    }
}

/// The manifest schema of a webhook: a URL string, or the object form.
fn shorthand_schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    let object = generator.subschema_for::<T>();
    json_schema!({
        "anyOf": [
            {"type": "string", "format": "uri", "description": "The webhook's address; every other setting takes its default."},
            object
        ]
    })
}

impl JsonSchema for Webhook {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("WebhookOrUrl")
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        shorthand_schema::<WebhookFields>(generator)
    }
}

impl JsonSchema for VideoWebhook {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("VideoWebhookOrUrl")
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        shorthand_schema::<VideoWebhookFields>(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_string_is_an_address() {
        let hook: Webhook = serde_json::from_value(json!("https://a.example/answer")).unwrap();
        assert_eq!(hook.address.expose(), "https://a.example/answer");
        assert_eq!(hook.http_method, None);
    }

    #[test]
    fn object_errors_keep_serde_messages() {
        let err =
            serde_json::from_value::<Webhook>(json!({"address": "https://a/", "socket_timeout": "soon"})).unwrap_err();
        assert!(err.to_string().contains("invalid type: string \"soon\", expected u32"), "{err}");
        let err = serde_json::from_value::<Webhook>(json!(12)).unwrap_err();
        assert!(err.to_string().contains("a URL or a webhook object"), "{err}");
    }

    #[test]
    fn video_webhooks_take_the_shorthand_too() {
        let hook: VideoWebhook = serde_json::from_value(json!({"address": "https://v/", "active": false})).unwrap();
        assert_eq!(hook.active, Some(false));
        let hook: VideoWebhook = serde_json::from_value(json!("https://v/")).unwrap();
        assert_eq!(hook.address.expose(), "https://v/");
    }
}
