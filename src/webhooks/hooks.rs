//! The webhooks an application holds, each with how Vonage calls it: method, timeouts, whether the
//! request is signed and what its answer must be.
//!
//! Pure: an application in, its webhooks out, in a fixed order (capability, then the webhook's place
//! in the API's own listing), so reports read the same from run to run.

use std::time::Duration;

use serde::Serialize;

use super::rules;
use crate::model::defaults::{ANSWER_SOCKET_TIMEOUT_MS, CONNECT_TIMEOUT_MS, EVENT_SOCKET_TIMEOUT_MS};
use crate::model::{Application, Capability, HookRef, Webhook};

/// What a webhook is for: the model's [`WebhookKind`], named for this module's use.
pub use crate::model::WebhookKind as Kind;
/// A webhook's URL, its secret hidden when shown: the model's own type.
pub use crate::model::WebhookUrl;

/// GET or POST.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum Method {
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "POST")]
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// One webhook of an application, as Vonage would call it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hook {
    pub capability: Capability,
    /// Its field: `answer_url`, `event_url`, `room_changed`, …
    pub webhook: &'static str,
    pub kind: Kind,
    pub url: WebhookUrl,
    pub method: Method,
    pub connect_timeout: Duration,
    /// How long the answer may take, connection included.
    pub socket_timeout: Duration,
    /// Vonage signs the request when the account has a signature secret.
    pub signed: bool,
}

/// The webhooks of `app`. `other_timeout` bounds the answer of webhooks that have no timeout setting
/// of their own (everything but voice).
pub fn hooks_of(app: &Application, other_timeout: Duration) -> Vec<Hook> {
    let Some(capabilities) = app.capabilities.as_deref() else { return Vec::new() };
    let signed_callbacks = |capability| match capability {
        Capability::Voice => capabilities.voice.as_ref().and_then(|v| v.signed_callbacks),
        Capability::Rtc => capabilities.rtc.as_ref().and_then(|r| r.signed_callbacks),
        _ => None,
    };
    capabilities
        .webhooks()
        .into_iter()
        .filter_map(|(slot, hook)| {
            // Methods and signing by Vonage's rules (`rules`); timeouts from the settings, or their defaults.
            let (http_method, connect_timeout, socket_timeout) = match hook {
                HookRef::Plain(h) => (
                    h.http_method.as_deref(),
                    h.connect_timeout.or_else(|| spelled_connection_timeout(h)),
                    h.socket_timeout,
                ),
                // An inactive video webhook is one Vonage does not call.
                HookRef::Video(h) if h.active == Some(false) => return None,
                HookRef::Video(_) => (None, None, None),
            };
            let socket_default = match slot.kind {
                Kind::Answer | Kind::FallbackAnswer => Some(ANSWER_SOCKET_TIMEOUT_MS),
                Kind::VoiceEvent => Some(EVENT_SOCKET_TIMEOUT_MS),
                _ => None,
            };
            let socket_timeout = match socket_default {
                Some(default) => Duration::from_millis(socket_timeout.unwrap_or(default).into()),
                None => other_timeout,
            };
            let connect_timeout = match socket_default {
                Some(_) => connect_timeout.unwrap_or(CONNECT_TIMEOUT_MS),
                None => CONNECT_TIMEOUT_MS,
            };
            Some(Hook {
                capability: slot.capability,
                webhook: slot.field,
                kind: slot.kind,
                url: hook.address().clone(),
                method: rules::method(slot.kind, http_method),
                connect_timeout: Duration::from_millis(connect_timeout.into()),
                socket_timeout,
                signed: rules::signed(slot.kind, signed_callbacks(slot.capability)),
            })
        })
        .collect()
}

/// OAS 2.1.0 (and the Java SDK) spell the connect timeout `connection_timeout`.
fn spelled_connection_timeout(hook: &Webhook) -> Option<u32> {
    hook.extra.get("connection_timeout").and_then(serde_json::Value::as_u64).and_then(|v| u32::try_from(v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_hooks_take_their_settings_and_the_documented_defaults() {
        let app: Application = serde_json::from_value(serde_json::json!({
            "name": "ivr",
            "capabilities": {
                "voice": {"signed_callbacks": false, "webhooks": {
                    "answer_url": {"address": "https://a.example/answer", "http_method": "POST", "socket_timeout": 3000},
                    "fallback_answer_url": {"address": "https://a.example/fallback"},
                    "event_url": {"address": "https://a.example/event"}}},
                "messages": {"webhooks": {"inbound_url": {"address": "https://a.example/in"}}},
                "video": {"webhooks": {"archive_status": {"address": "https://v/", "active": false},
                                        "stream_created": {"address": "https://v/s"}}}
            }
        }))
        .unwrap();
        let hooks = hooks_of(&app, Duration::from_secs(10));
        let names: Vec<(&str, &str, &str, bool)> =
            hooks.iter().map(|h| (h.capability.as_str(), h.webhook, h.method.as_str(), h.signed)).collect();
        assert_eq!(
            names,
            [
                ("voice", "answer_url", "POST", false),
                ("voice", "fallback_answer_url", "GET", false),
                ("voice", "event_url", "POST", false),
                ("messages", "inbound_url", "POST", true),
                ("video", "stream_created", "POST", false),
            ]
        );
        assert_eq!(hooks[0].socket_timeout, Duration::from_millis(3000));
        assert_eq!(hooks[1].socket_timeout, Duration::from_millis(5000));
        assert_eq!(hooks[1].connect_timeout, Duration::from_millis(1000));
        assert_eq!(hooks[2].socket_timeout, Duration::from_millis(10000));
    }
}
