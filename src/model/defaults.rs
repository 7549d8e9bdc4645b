//! The documented defaults of the Application API, in one place.
//!
//! The emulator fills them into what it stores (so its answers look like live answers), and the planner
//! fills them into both the desired and the live application before comparing, so a default that the API
//! shows but the manifest leaves out never appears as a change.

use super::{Application, Capabilities, Privacy, Voice, VoiceWebhooks, Webhook};

pub const SIGNED_CALLBACKS: bool = true;
pub const CONVERSATIONS_TTL_HOURS: u32 = 48;
/// The 2.4.1 description says 2, but live answers show 7; live answers win.
pub const LEG_PERSISTENCE_DAYS: u32 = 7;
pub const CONNECT_TIMEOUT_MS: u32 = 1000;
pub const ANSWER_SOCKET_TIMEOUT_MS: u32 = 5000;
pub const EVENT_SOCKET_TIMEOUT_MS: u32 = 10000;
pub const MESSAGES_VERSION: &str = "v1";
pub const IMPROVE_AI: bool = true;

/// Returns the application with every documented default made explicit.
pub fn fill(app: &Application) -> Application {
    let mut app = app.clone();
    fill_in_place(&mut app);
    app
}

/// Makes every documented default explicit, leaving whatever is already set.
pub fn fill_in_place(app: &mut Application) {
    let privacy = app.privacy.get_or_insert_with(Privacy::default);
    privacy.improve_ai.get_or_insert(IMPROVE_AI);
    let capabilities = app.capabilities.get_or_insert_with(Box::default);
    if let Some(voice) = capabilities.voice.as_mut() {
        fill_voice(voice);
    }
    if let Some(messages) = capabilities.messages.as_mut() {
        messages.version.get_or_insert_with(|| MESSAGES_VERSION.to_string());
    }
}

/// The inverse of [`fill`]: leaves out every field that holds its documented default, so an exported
/// manifest says only what differs. `fill(strip(a)) == fill(a)` for every application.
pub fn strip(app: &Application) -> Application {
    let mut app = app.clone();
    if let Some(privacy) = app.privacy.as_mut() {
        if privacy.improve_ai == Some(IMPROVE_AI) {
            privacy.improve_ai = None;
        }
    }
    if app.privacy.as_ref().is_some_and(|p| p.improve_ai.is_none() && p.extra.is_empty()) {
        app.privacy = None;
    }
    if let Some(capabilities) = app.capabilities.as_mut() {
        if let Some(voice) = capabilities.voice.as_mut() {
            strip_voice(voice);
        }
        if let Some(messages) = capabilities.messages.as_mut() {
            if messages.version.as_deref() == Some(MESSAGES_VERSION) {
                messages.version = None;
            }
        }
    }
    if app.capabilities.as_deref().is_some_and(|c| *c == Capabilities::default()) {
        app.capabilities = None;
    }
    app
}

fn strip_voice(voice: &mut Voice) {
    if voice.signed_callbacks == Some(SIGNED_CALLBACKS) {
        voice.signed_callbacks = None;
    }
    if voice.conversations_ttl == Some(CONVERSATIONS_TTL_HOURS) {
        voice.conversations_ttl = None;
    }
    if voice.leg_persistence_time == Some(LEG_PERSISTENCE_DAYS) {
        voice.leg_persistence_time = None;
    }
    if let Some(hooks) = voice.webhooks.as_mut() {
        strip_timeouts(&mut hooks.answer_url, ANSWER_SOCKET_TIMEOUT_MS);
        strip_timeouts(&mut hooks.fallback_answer_url, ANSWER_SOCKET_TIMEOUT_MS);
        strip_timeouts(&mut hooks.event_url, EVENT_SOCKET_TIMEOUT_MS);
    }
    if voice.webhooks.as_ref().is_some_and(|w| *w == VoiceWebhooks::default()) {
        voice.webhooks = None;
    }
}

fn strip_timeouts(hook: &mut Option<Webhook>, socket_timeout: u32) {
    if let Some(hook) = hook.as_mut() {
        if hook.connect_timeout == Some(CONNECT_TIMEOUT_MS) {
            hook.connect_timeout = None;
        }
        if hook.socket_timeout == Some(socket_timeout) {
            hook.socket_timeout = None;
        }
    }
}

fn fill_voice(voice: &mut Voice) {
    voice.signed_callbacks.get_or_insert(SIGNED_CALLBACKS);
    voice.conversations_ttl.get_or_insert(CONVERSATIONS_TTL_HOURS);
    voice.leg_persistence_time.get_or_insert(LEG_PERSISTENCE_DAYS);
    let hooks = voice.webhooks.get_or_insert_with(VoiceWebhooks::default);
    fill_timeouts(&mut hooks.answer_url, ANSWER_SOCKET_TIMEOUT_MS);
    fill_timeouts(&mut hooks.fallback_answer_url, ANSWER_SOCKET_TIMEOUT_MS);
    fill_timeouts(&mut hooks.event_url, EVENT_SOCKET_TIMEOUT_MS);
}

fn fill_timeouts(hook: &mut Option<Webhook>, socket_timeout: u32) {
    if let Some(hook) = hook.as_mut() {
        hook.connect_timeout.get_or_insert(CONNECT_TIMEOUT_MS);
        hook.socket_timeout.get_or_insert(socket_timeout);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fills_what_live_answers_show() {
        let app: Application = serde_json::from_value(json!({
            "name": "x",
            "capabilities": {"voice": {"webhooks": {"answer_url": {"address": "https://a/"},
                                                    "event_url": {"address": "https://e/", "socket_timeout": 3000}}},
                             "messages": {}}
        }))
        .unwrap();
        let filled = serde_json::to_value(fill(&app)).unwrap();
        assert_eq!(
            filled,
            json!({
                "name": "x",
                "capabilities": {
                    "voice": {"webhooks": {"answer_url": {"address": "https://a/", "connect_timeout": 1000, "socket_timeout": 5000},
                                           "event_url": {"address": "https://e/", "connect_timeout": 1000, "socket_timeout": 3000}},
                              "signed_callbacks": true, "conversations_ttl": 48, "leg_persistence_time": 7},
                    "messages": {"version": "v1"}
                },
                "privacy": {"improve_ai": true}
            })
        );
    }

    #[test]
    fn strip_undoes_fill() {
        let app: Application = serde_json::from_value(json!({
            "name": "x",
            "capabilities": {"voice": {"webhooks": {"event_url": {"address": "https://e/", "socket_timeout": 3000}}, "region": "eu-west"},
                             "messages": {"version": "v0.1"}, "vbc": {}},
            "privacy": {"improve_ai": false}
        }))
        .unwrap();
        let filled = fill(&app);
        assert_eq!(strip(&filled), app);
        assert_eq!(fill(&strip(&filled)), filled);
        let bare: Application = serde_json::from_value(json!({"name": "x"})).unwrap();
        assert_eq!(strip(&fill(&bare)), bare);
    }

    #[test]
    fn filling_twice_changes_nothing() {
        let app: Application = serde_json::from_value(json!({"name": "x", "capabilities": {"voice": {}}})).unwrap();
        let once = fill(&app);
        assert_eq!(fill(&once), once);
        assert_eq!(once.capabilities.unwrap().voice.unwrap().webhooks, Some(VoiceWebhooks::default()));
    }
}
