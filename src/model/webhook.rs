//! Webhooks: an address plus how Vonage should call it.
//!
//! Both webhook types accept a bare string as shorthand for `{address: STRING}`. The API never sends the
//! shorthand, but manifests use it, and accepting it on read costs nothing.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::Extra;

/// A webhook of voice, messages, rtc, verify or meetings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "WebhookForm")]
pub struct Webhook {
    pub address: String,
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
    pub address: String,
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
            WebhookForm::Address(address) => Webhook { address, ..Default::default() },
            WebhookForm::Full(f) => Webhook {
                address: f.address,
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
            VideoWebhookForm::Address(address) => VideoWebhook { address, ..Default::default() },
            VideoWebhookForm::Full(f) => VideoWebhook { address: f.address, active: f.active, extra: f.extra },
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
        assert_eq!(hook.address, "https://a.example/answer");
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
        assert_eq!(hook.address, "https://v/");
    }
}
