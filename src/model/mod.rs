//! The typed Vonage application, shared by the manifest, the API client, the emulator and the planner.
//!
//! The types mirror the wire format of the Application API v2 (snake_case JSON). Every struct keeps the
//! fields it does not model in a flattened `extra` map, so an application read from the API and sent back
//! never loses what the API added (`_links`, `payments`, fields from a newer API version). The manifest
//! loader rejects any non-empty `extra` as an unknown key, so a manifest can only say what is modelled.
//!
//! Invariants:
//! - [`defaults::fill`] is the single place that knows the API's documented defaults; the emulator uses
//!   it to shape its answers and the planner uses it to normalise both sides of a comparison.
//! - [`rules::validate`] is the single place that knows what the API rejects; the emulator answers 400
//!   with its findings and the manifest loader turns them into file:line:col errors.

pub mod defaults;
mod ids;
mod listed;
pub mod rules;
mod webhook;
pub mod webhook_url;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use ids::{valid_address, AccountName, Address, ApiKey, AppId, Fingerprint, InvalidAddress, Msisdn};
pub use listed::{Glimpse, Keep, Listed, Whole};
pub use webhook::{Capability, HookMut, HookRef, VideoWebhook, Webhook, WebhookKind, WebhookSlot};
pub use webhook_url::WebhookUrl;

use crate::keys::PrivateKeyPem;

/// Fields the model does not know, kept as the API sent them.
pub type Extra = Map<String, Value>;

/// A number the account owns, as planning needs it: where it routes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Number {
    pub msisdn: Msisdn,
    pub country: String,
    /// The application it routes to.
    pub app_id: Option<AppId>,
}

/// An application as the API returns it, or as vapp sends it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Application {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<AppId>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Keys>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Boxed: the capabilities are most of an application's size (4 KB inline), and lists of
    /// thousands of applications are moved as they are read.
    pub capabilities: Option<Box<Capabilities>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<Privacy>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Keys {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// Only ever present in the answer to a create that sent no public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<PrivateKeyPem>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The products an application uses. A capability left out of a PUT is removed by the API.
// Each capability is boxed: most applications use one or two of the eight, and an account's worth of
// applications is held while a plan is made (inline, an application's capabilities took 4.5 KB).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Capabilities {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<Box<Voice>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Box<Messages>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtc: Option<Box<Rtc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vbc: Option<Box<Vbc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Box<Verify>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meetings: Option<Box<Meetings>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_apis: Option<Box<NetworkApis>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<Box<Video>>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// Voice: calls in and out, with the answer, fallback and event webhooks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Voice {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<VoiceWebhooks>,
    /// Sign webhook requests with the account's signature secret. Default: true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_callbacks: Option<bool>,
    /// Hours a conversation lives after its last call ends (1..9000). Default: 48.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = rules::CONVERSATIONS_TTL.min, max = rules::CONVERSATIONS_TTL.max))]
    pub conversations_ttl: Option<u32>,
    /// Days a leg's data is kept (1..31). Default: 7.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = rules::LEG_PERSISTENCE_TIME.min, max = rules::LEG_PERSISTENCE_TIME.max))]
    pub leg_persistence_time: Option<u32>,
    /// Where calls are handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = rules::REGIONS))]
    pub region: Option<String>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct VoiceWebhooks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_url: Option<Webhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_answer_url: Option<Webhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_url: Option<Webhook>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// Messages API: inbound messages and delivery status.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Messages {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<MessagesWebhooks>,
    /// Webhook format version. Default: v1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = rules::MESSAGES_VERSIONS))]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticate_inbound_media: Option<bool>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct MessagesWebhooks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound_url: Option<Webhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_url: Option<Webhook>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// Client SDK (in-app voice and messaging) events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Rtc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<RtcWebhooks>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_callbacks: Option<bool>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RtcWebhooks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_url: Option<Webhook>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// Vonage Business Communications: takes no settings; always `{}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Vbc {
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// Verify API status events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Verify {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<VerifyWebhooks>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = rules::VERIFY_VERSIONS))]
    pub version: Option<String>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct VerifyWebhooks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_url: Option<Webhook>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// Meetings API events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Meetings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<MeetingsWebhooks>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct MeetingsWebhooks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_changed: Option<Webhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_changed: Option<Webhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_changed: Option<Webhook>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// Network APIs (CAMARA) registration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct NetworkApis {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_application_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// Video API events and storage settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Video {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<VideoWebhooks>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<VideoStorage>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// One optional webhook per video event.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct VideoWebhooks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_status: Option<VideoWebhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_created: Option<VideoWebhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_destroyed: Option<VideoWebhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_created: Option<VideoWebhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_destroyed: Option<VideoWebhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_notification: Option<VideoWebhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_created: Option<VideoWebhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_destroyed: Option<VideoWebhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub render_status: Option<VideoWebhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captions_status: Option<VideoWebhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broadcast_status: Option<VideoWebhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip_call_created: Option<VideoWebhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip_call_updated: Option<VideoWebhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip_call_destroyed: Option<VideoWebhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip_call_mute_forced: Option<VideoWebhook>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct VideoStorage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_encryption: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_to_end_encryption: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_storage: Option<bool>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Privacy {
    /// Let Vonage use the application's data to improve its AI models. Default: true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub improve_ai: Option<bool>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// A place in an application where a field holds something vapp does not model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownField {
    /// Dotted path of the object that holds the field, relative to the application.
    pub parent: String,
    pub key: String,
}

/// The body of a POST or PUT of an application: everything but what only the API may say (`id`,
/// `_links`, a private key). Borrows the application, so sending one copies nothing.
#[derive(Serialize)]
pub struct RequestBody<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    keys: Option<RequestKeys<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    capabilities: Option<&'a Capabilities>,
    #[serde(skip_serializing_if = "Option::is_none")]
    privacy: Option<&'a Privacy>,
    #[serde(flatten)]
    extra: WithoutLinks<'a>,
}

#[derive(Serialize)]
struct RequestKeys<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key: Option<&'a str>,
    #[serde(flatten)]
    extra: &'a Extra,
}

/// Unmodelled fields, less the HAL links only the API writes.
struct WithoutLinks<'a>(&'a Extra);

impl Serialize for WithoutLinks<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().filter(|(key, _)| key.as_str() != "_links"))
    }
}

impl Application {
    /// The body of a POST or PUT of this application.
    pub fn request_body(&self) -> RequestBody<'_> {
        RequestBody {
            name: &self.name,
            keys: self.keys.as_ref().map(|k| RequestKeys { public_key: k.public_key.as_deref(), extra: &k.extra }),
            capabilities: self.capabilities.as_deref(),
            privacy: self.privacy.as_ref(),
            extra: WithoutLinks(&self.extra),
        }
    }

    /// The public key PEM the API reports, if any.
    pub fn public_key(&self) -> Option<&str> {
        self.keys.as_ref()?.public_key.as_deref()
    }

    /// The same application with every unmodelled field removed, at every level.
    pub fn without_extras(&self) -> Application {
        let mut app = self.clone();
        app.extra.clear();
        if let Some(keys) = app.keys.as_mut() {
            keys.extra.clear();
        }
        if let Some(p) = app.privacy.as_mut() {
            p.extra.clear();
        }
        if let Some(c) = app.capabilities.as_mut() {
            c.walk_extras(&mut |_, extra| extra.clear());
        }
        app
    }
}

/// Every field below a manifest application's capabilities and privacy that the model does not know.
pub fn unknown_fields(capabilities: Option<&Capabilities>, privacy: Option<&Privacy>) -> Vec<UnknownField> {
    let mut out = Vec::new();
    let mut note = |parent: &str, extra: &mut Extra| {
        for key in extra.keys() {
            out.push(UnknownField { parent: parent.to_string(), key: key.clone() });
        }
    };
    if let Some(mut p) = privacy.cloned() {
        note("privacy", &mut p.extra);
    }
    if let Some(mut c) = capabilities.cloned() {
        c.walk_extras(&mut note);
    }
    out
}

/// The one walk over a capability's webhooks, written once for shared and for mutable access (`mut`
/// as the last argument): `visit` gets each webhook that is set, with its slot, in the API's own order
/// (capability, then field). A webhook the model gains is added here, and every walker sees it.
macro_rules! each_webhook {
    ($capabilities:expr, $visit:expr, $plain:path, $video:path, $video_iter:ident $(, $m:tt)?) => {{
        use $crate::model::Capability as C;
        use $crate::model::WebhookKind as K;
        let capabilities = $capabilities;
        let mut visit = $visit;
        if let Some(voice) = & $($m)? capabilities.voice {
            if let Some(w) = & $($m)? voice.webhooks {
                for (field, kind, hook) in [
                    ("answer_url", K::Answer, & $($m)? w.answer_url),
                    ("fallback_answer_url", K::FallbackAnswer, & $($m)? w.fallback_answer_url),
                    ("event_url", K::VoiceEvent, & $($m)? w.event_url),
                ] {
                    if let Some(h) = hook {
                        visit(WebhookSlot { capability: C::Voice, field, kind }, $plain(h));
                    }
                }
            }
        }
        if let Some(messages) = & $($m)? capabilities.messages {
            if let Some(w) = & $($m)? messages.webhooks {
                for (field, kind, hook) in [
                    ("inbound_url", K::MessagesInbound, & $($m)? w.inbound_url),
                    ("status_url", K::MessagesStatus, & $($m)? w.status_url),
                ] {
                    if let Some(h) = hook {
                        visit(WebhookSlot { capability: C::Messages, field, kind }, $plain(h));
                    }
                }
            }
        }
        if let Some(rtc) = & $($m)? capabilities.rtc {
            if let Some(h) = rtc.webhooks.$video_iter().flat_map(|w| & $($m)? w.event_url).next() {
                visit(WebhookSlot { capability: C::Rtc, field: "event_url", kind: K::RtcEvent }, $plain(h));
            }
        }
        if let Some(verify) = & $($m)? capabilities.verify {
            if let Some(h) = verify.webhooks.$video_iter().flat_map(|w| & $($m)? w.status_url).next() {
                visit(WebhookSlot { capability: C::Verify, field: "status_url", kind: K::VerifyStatus }, $plain(h));
            }
        }
        if let Some(meetings) = & $($m)? capabilities.meetings {
            if let Some(w) = & $($m)? meetings.webhooks {
                for (field, hook) in [
                    ("room_changed", & $($m)? w.room_changed),
                    ("session_changed", & $($m)? w.session_changed),
                    ("recording_changed", & $($m)? w.recording_changed),
                ] {
                    if let Some(h) = hook {
                        visit(WebhookSlot { capability: C::Meetings, field, kind: K::Meetings }, $plain(h));
                    }
                }
            }
        }
        if let Some(video) = & $($m)? capabilities.video {
            if let Some(w) = & $($m)? video.webhooks {
                for (field, hook) in w.$video_iter() {
                    if let Some(h) = hook {
                        visit(WebhookSlot { capability: C::Video, field, kind: K::Video }, $video(h));
                    }
                }
            }
        }
    }};
}

impl Capabilities {
    /// Every webhook that is set, with where it sits.
    pub fn webhooks(&self) -> Vec<(WebhookSlot, HookRef<'_>)> {
        let mut out = Vec::new();
        each_webhook!(self, |slot, hook| out.push((slot, hook)), HookRef::Plain, HookRef::Video, iter);
        out
    }

    /// Every webhook that is set, to change, with where it sits.
    pub fn webhooks_mut(&mut self) -> Vec<(WebhookSlot, HookMut<'_>)> {
        let mut out = Vec::new();
        each_webhook!(self, |slot, hook| out.push((slot, hook)), HookMut::Plain, HookMut::Video, iter_mut, mut);
        out
    }

    /// Calls `visit` with the dotted path and the `extra` map of every object below the capabilities:
    /// the one walk over the model's unmodelled fields, for finding and for clearing them.
    pub fn walk_extras(&mut self, visit: &mut dyn FnMut(&str, &mut Extra)) {
        visit("capabilities", &mut self.extra);
        // The capabilities and their `webhooks` objects; the webhooks themselves come from the one walk.
        if let Some(c) = &mut self.voice {
            visit("capabilities.voice", &mut c.extra);
            if let Some(w) = &mut c.webhooks {
                visit("capabilities.voice.webhooks", &mut w.extra);
            }
        }
        if let Some(c) = &mut self.messages {
            visit("capabilities.messages", &mut c.extra);
            if let Some(w) = &mut c.webhooks {
                visit("capabilities.messages.webhooks", &mut w.extra);
            }
        }
        if let Some(c) = &mut self.rtc {
            visit("capabilities.rtc", &mut c.extra);
            if let Some(w) = &mut c.webhooks {
                visit("capabilities.rtc.webhooks", &mut w.extra);
            }
        }
        if let Some(c) = &mut self.vbc {
            visit("capabilities.vbc", &mut c.extra);
        }
        if let Some(c) = &mut self.verify {
            visit("capabilities.verify", &mut c.extra);
            if let Some(w) = &mut c.webhooks {
                visit("capabilities.verify.webhooks", &mut w.extra);
            }
        }
        if let Some(c) = &mut self.meetings {
            visit("capabilities.meetings", &mut c.extra);
            if let Some(w) = &mut c.webhooks {
                visit("capabilities.meetings.webhooks", &mut w.extra);
            }
        }
        if let Some(c) = &mut self.network_apis {
            visit("capabilities.network_apis", &mut c.extra);
        }
        if let Some(c) = &mut self.video {
            visit("capabilities.video", &mut c.extra);
            if let Some(s) = &mut c.storage {
                visit("capabilities.video.storage", &mut s.extra);
            }
            if let Some(w) = &mut c.webhooks {
                visit("capabilities.video.webhooks", &mut w.extra);
            }
        }
        for (slot, mut hook) in self.webhooks_mut() {
            visit(&slot.path(), hook.extra_mut());
        }
    }
}

impl VideoWebhooks {
    /// Every video event name the API knows, in the order the API documents them.
    pub const EVENTS: [&'static str; 15] = [
        "archive_status",
        "connection_created",
        "connection_destroyed",
        "session_created",
        "session_destroyed",
        "session_notification",
        "stream_created",
        "stream_destroyed",
        "render_status",
        "captions_status",
        "broadcast_status",
        "sip_call_created",
        "sip_call_updated",
        "sip_call_destroyed",
        "sip_call_mute_forced",
    ];

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Option<VideoWebhook>)> {
        Self::EVENTS.into_iter().zip([
            &self.archive_status,
            &self.connection_created,
            &self.connection_destroyed,
            &self.session_created,
            &self.session_destroyed,
            &self.session_notification,
            &self.stream_created,
            &self.stream_destroyed,
            &self.render_status,
            &self.captions_status,
            &self.broadcast_status,
            &self.sip_call_created,
            &self.sip_call_updated,
            &self.sip_call_destroyed,
            &self.sip_call_mute_forced,
        ])
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&'static str, &mut Option<VideoWebhook>)> {
        Self::EVENTS.into_iter().zip([
            &mut self.archive_status,
            &mut self.connection_created,
            &mut self.connection_destroyed,
            &mut self.session_created,
            &mut self.session_destroyed,
            &mut self.session_notification,
            &mut self.stream_created,
            &mut self.stream_destroyed,
            &mut self.render_status,
            &mut self.captions_status,
            &mut self.broadcast_status,
            &mut self.sip_call_created,
            &mut self.sip_call_updated,
            &mut self.sip_call_destroyed,
            &mut self.sip_call_mute_forced,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let wire = json!({
            "id": "abc", "name": "x",
            "capabilities": {"voice": {"webhooks": {"answer_url": {"address": "https://a.example/", "http_method": "GET", "new_knob": 3}},
                                       "payments": {"gateways": []}},
                             "brand_new_capability": {"on": true}},
            "_links": {"self": {"href": "/v2/applications/abc"}}
        });
        let app: Application = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(serde_json::to_value(&app).unwrap(), wire);
        let body = serde_json::to_value(app.request_body()).unwrap();
        assert!(body.get("_links").is_none());
        assert!(body.get("id").is_none());
        assert_eq!(body["capabilities"]["brand_new_capability"]["on"], json!(true));
    }

    #[test]
    fn connection_timeout_is_read_as_connect_timeout() {
        let hook: Webhook =
            serde_json::from_value(json!({"address": "https://a.example/", "connection_timeout": 500})).unwrap();
        assert_eq!(hook.connect_timeout, Some(500));
        assert_eq!(serde_json::to_value(&hook).unwrap()["connect_timeout"], json!(500));
    }

    #[test]
    fn without_extras_removes_unmodelled_fields_everywhere() {
        let app: Application = serde_json::from_value(json!({
            "name": "x", "other": 1,
            "capabilities": {"voice": {"payments": 1, "webhooks": {"event_url": {"address": "https://e/", "k": 1}}},
                             "video": {"webhooks": {"archive_status": {"address": "https://v/", "z": 1}}}}
        }))
        .unwrap();
        let bare = app.without_extras();
        let caps = bare.capabilities.as_ref().unwrap();
        assert!(unknown_fields(Some(caps), None).is_empty());
        assert!(bare.extra.is_empty());
        assert_eq!(unknown_fields(app.capabilities.as_deref(), None).len(), 3);
    }
}
