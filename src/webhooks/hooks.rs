//! The webhooks an application holds, each with how Vonage calls it: method, timeouts, whether the
//! request is signed and what its answer must be.
//!
//! Pure: an application in, its webhooks out, in a fixed order (capability, then the webhook's place
//! in the API's own listing), so reports read the same from run to run.

use std::time::Duration;

use serde::Serialize;

use super::rules;
use crate::model::defaults::{ANSWER_SOCKET_TIMEOUT_MS, CONNECT_TIMEOUT_MS, EVENT_SOCKET_TIMEOUT_MS};
use crate::model::{Application, VideoWebhook, Webhook};

/// What a webhook is for, which decides the request it gets and what its answer must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
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

impl Kind {
    /// Whether the answer must be an NCCO.
    pub fn wants_ncco(self) -> bool {
        matches!(self, Kind::Answer | Kind::FallbackAnswer)
    }
}

/// GET or POST.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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

/// A webhook's URL. It may carry a password (`https://user:pass@host/`): it prints with the password
/// as `***`, and only [`WebhookUrl::expose`] gives it whole, to send the request.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub fn new(url: impl Into<String>) -> Self {
        WebhookUrl(url.into())
    }

    /// The URL as written, password included: only for calling it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match url::Url::parse(&self.0) {
            Ok(mut parsed) if parsed.password().is_some() => {
                let _ = parsed.set_password(Some("***"));
                f.write_str(parsed.as_str())
            }
            // A user name alone is often a token.
            Ok(mut parsed) if !parsed.username().is_empty() => {
                let _ = parsed.set_username("***");
                f.write_str(parsed.as_str())
            }
            Ok(_) => f.write_str(&self.0),
            // Cannot tell a password from the rest: show no more than the scheme.
            Err(_) => f.write_str(self.0.split_once(':').map_or("(not a URL)", |(scheme, _)| scheme)),
        }
    }
}

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookUrl({self})")
    }
}

impl Serialize for WebhookUrl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One webhook of an application, as Vonage would call it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hook {
    /// `voice`, `messages`, …
    pub capability: &'static str,
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
    let mut hooks = Vec::new();
    let Some(capabilities) = app.capabilities.as_deref() else { return hooks };
    // Methods and signing by Vonage's rules (`rules`); timeouts from the settings, or their defaults.
    let other = |capability, webhook, kind, hook: &Webhook, signed_callbacks: Option<bool>| Hook {
        capability,
        webhook,
        kind,
        url: WebhookUrl::new(&hook.address),
        method: rules::method(kind, hook.http_method.as_deref()),
        connect_timeout: Duration::from_millis(CONNECT_TIMEOUT_MS.into()),
        socket_timeout: other_timeout,
        signed: rules::signed(kind, signed_callbacks),
    };
    if let Some(voice) = capabilities.voice.as_deref() {
        let hooks_in = voice.webhooks.as_ref();
        let voice_hook = |webhook, kind, hook: &Webhook, default_socket: u32| Hook {
            capability: "voice",
            webhook,
            kind,
            url: WebhookUrl::new(&hook.address),
            method: rules::method(kind, hook.http_method.as_deref()),
            // OAS 2.1.0 (and the Java SDK) spell it `connection_timeout`.
            connect_timeout: Duration::from_millis(
                hook.connect_timeout
                    .or_else(|| {
                        hook.extra
                            .get("connection_timeout")
                            .and_then(serde_json::Value::as_u64)
                            .and_then(|v| u32::try_from(v).ok())
                    })
                    .unwrap_or(CONNECT_TIMEOUT_MS)
                    .into(),
            ),
            socket_timeout: Duration::from_millis(hook.socket_timeout.unwrap_or(default_socket).into()),
            signed: rules::signed(kind, voice.signed_callbacks),
        };
        if let Some(w) = hooks_in {
            if let Some(h) = &w.answer_url {
                hooks.push(voice_hook("answer_url", Kind::Answer, h, ANSWER_SOCKET_TIMEOUT_MS));
            }
            if let Some(h) = &w.fallback_answer_url {
                hooks.push(voice_hook("fallback_answer_url", Kind::FallbackAnswer, h, ANSWER_SOCKET_TIMEOUT_MS));
            }
            if let Some(h) = &w.event_url {
                hooks.push(voice_hook("event_url", Kind::VoiceEvent, h, EVENT_SOCKET_TIMEOUT_MS));
            }
        }
    }
    if let Some(w) = capabilities.messages.as_deref().and_then(|m| m.webhooks.as_ref()) {
        if let Some(h) = &w.inbound_url {
            hooks.push(other("messages", "inbound_url", Kind::MessagesInbound, h, None));
        }
        if let Some(h) = &w.status_url {
            hooks.push(other("messages", "status_url", Kind::MessagesStatus, h, None));
        }
    }
    if let Some(rtc) = capabilities.rtc.as_deref() {
        if let Some(h) = rtc.webhooks.as_ref().and_then(|w| w.event_url.as_ref()) {
            hooks.push(other("rtc", "event_url", Kind::RtcEvent, h, rtc.signed_callbacks));
        }
    }
    if let Some(h) =
        capabilities.verify.as_deref().and_then(|v| v.webhooks.as_ref()).and_then(|w| w.status_url.as_ref())
    {
        hooks.push(other("verify", "status_url", Kind::VerifyStatus, h, None));
    }
    if let Some(w) = capabilities.meetings.as_deref().and_then(|m| m.webhooks.as_ref()) {
        for (name, hook) in [
            ("room_changed", &w.room_changed),
            ("session_changed", &w.session_changed),
            ("recording_changed", &w.recording_changed),
        ] {
            if let Some(h) = hook {
                hooks.push(other("meetings", name, Kind::Meetings, h, None));
            }
        }
    }
    if let Some(w) = capabilities.video.as_deref().and_then(|v| v.webhooks.as_ref()) {
        let video: [(&'static str, &Option<VideoWebhook>); 15] = [
            ("archive_status", &w.archive_status),
            ("connection_created", &w.connection_created),
            ("connection_destroyed", &w.connection_destroyed),
            ("session_created", &w.session_created),
            ("session_destroyed", &w.session_destroyed),
            ("session_notification", &w.session_notification),
            ("stream_created", &w.stream_created),
            ("stream_destroyed", &w.stream_destroyed),
            ("render_status", &w.render_status),
            ("captions_status", &w.captions_status),
            ("broadcast_status", &w.broadcast_status),
            ("sip_call_created", &w.sip_call_created),
            ("sip_call_updated", &w.sip_call_updated),
            ("sip_call_destroyed", &w.sip_call_destroyed),
            ("sip_call_mute_forced", &w.sip_call_mute_forced),
        ];
        for (name, hook) in video {
            // An inactive video webhook is one Vonage does not call.
            if let Some(h) = hook.as_ref().filter(|h| h.active != Some(false)) {
                let as_webhook = Webhook { address: h.address.clone(), ..Default::default() };
                hooks.push(other("video", name, Kind::Video, &as_webhook, None));
            }
        }
    }
    hooks
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
            hooks.iter().map(|h| (h.capability, h.webhook, h.method.as_str(), h.signed)).collect();
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

    #[test]
    fn a_password_in_a_webhook_url_never_prints() {
        let url = WebhookUrl::new("https://bot:hunter2@a.example/answer");
        assert_eq!(
            format!("{url} {url:?}"),
            "https://bot:***@a.example/answer WebhookUrl(https://bot:***@a.example/answer)"
        );
        assert_eq!(serde_json::to_string(&url).unwrap(), "\"https://bot:***@a.example/answer\"");
        assert_eq!(url.expose(), "https://bot:hunter2@a.example/answer");
        assert_eq!(WebhookUrl::new("https://tok3n@a.example/").to_string(), "https://***@a.example/");
    }
}
