//! What the Application API rejects, in one place.
//!
//! [`validate`] returns every problem at once, each named by its dotted path in the request body and a
//! reason worded as the API words it (`must be one of: GET, POST`). The emulator sends these as the 400
//! `invalid_parameters`; the manifest loader maps each path back to a line and column.

use serde::{Deserialize, Serialize};

use super::{Application, Capability, HookRef, WebhookSlot};

/// One rejected field: `name` is its dotted path in the request body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidParameter {
    pub name: String,
    pub reason: String,
}

/// An inclusive range of whole numbers the API accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub min: u32,
    pub max: u32,
}

// The API's constraints, the one source for both these checks and the manifest schema (whose
// attributes name these constants).
pub const CONVERSATIONS_TTL: Range = Range { min: 1, max: 9000 };
pub const LEG_PERSISTENCE_TIME: Range = Range { min: 1, max: 31 };
pub const CONNECT_TIMEOUT: Range = Range { min: 300, max: 1000 };
pub const ANSWER_SOCKET_TIMEOUT: Range = Range { min: 1000, max: 5000 };
pub const EVENT_SOCKET_TIMEOUT: Range = Range { min: 1000, max: 10000 };
/// Any voice webhook's socket timeout: the schema has one webhook type for all of them.
pub const SOCKET_TIMEOUT: Range = Range { min: ANSWER_SOCKET_TIMEOUT.min, max: EVENT_SOCKET_TIMEOUT.max };
pub const REGIONS: [&str; 6] = ["na-east", "na-west", "eu-east", "eu-west", "apac-sng", "apac-australia"];
pub const HTTP_METHODS: [&str; 2] = ["GET", "POST"];
pub const POST_ONLY: [&str; 1] = ["POST"];
pub const MESSAGES_VERSIONS: [&str; 2] = ["v1", "v0.1"];
pub const VERIFY_VERSIONS: [&str; 1] = ["v2"];

/// Every problem the API would report for this create or update body.
pub fn validate(app: &Application) -> Vec<InvalidParameter> {
    let mut v = Findings::default();
    if app.name.trim().is_empty() {
        v.add("name", "must not be blank");
    }
    let Some(caps) = &app.capabilities else { return v.0 };
    let webhooks = caps.webhooks();
    // A capability's webhooks first, then its other fields, as the API lists them.
    let hooks_of = |v: &mut Findings, capability: Capability| {
        for (slot, hook) in webhooks.iter().filter(|(slot, _)| slot.capability == capability) {
            v.hook(slot, *hook);
        }
    };
    if let Some(voice) = &caps.voice {
        hooks_of(&mut v, Capability::Voice);
        let p = "capabilities.voice";
        v.range(&format!("{p}.conversations_ttl"), voice.conversations_ttl, CONVERSATIONS_TTL);
        v.range(&format!("{p}.leg_persistence_time"), voice.leg_persistence_time, LEG_PERSISTENCE_TIME);
        v.one_of(&format!("{p}.region"), voice.region.as_deref(), &REGIONS);
    }
    if let Some(messages) = &caps.messages {
        hooks_of(&mut v, Capability::Messages);
        v.one_of("capabilities.messages.version", messages.version.as_deref(), &MESSAGES_VERSIONS);
    }
    hooks_of(&mut v, Capability::Rtc);
    if let Some(vbc) = &caps.vbc {
        if !vbc.extra.is_empty() {
            v.add("capabilities.vbc", "must be an empty object");
        }
    }
    if let Some(verify) = &caps.verify {
        hooks_of(&mut v, Capability::Verify);
        v.one_of("capabilities.verify.version", verify.version.as_deref(), &VERIFY_VERSIONS);
    }
    hooks_of(&mut v, Capability::Meetings);
    if let Some(uri) = caps.network_apis.as_ref().and_then(|n| n.redirect_uri.as_ref()) {
        v.url("capabilities.network_apis.redirect_uri", uri);
    }
    hooks_of(&mut v, Capability::Video);
    v.0
}

/// Whether `address` is an absolute http or https URL with a host, as the API requires of webhooks.
///
/// Written out in full: URL parsers forgive `https:host`, `https:///host` and surrounding spaces by
/// guessing what was meant; a webhook is checked as it will be sent, so nothing is guessed.
pub fn is_http_url(address: &str) -> bool {
    let lower = address.get(..8).unwrap_or(address).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &address[8..]
    } else if lower.starts_with("http://") {
        &address[7..]
    } else {
        return false;
    };
    if rest.is_empty() || rest.starts_with('/') || address.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    match url::Url::parse(address) {
        Ok(url) => url.host_str().is_some_and(|h| !h.is_empty()) && url.port() != Some(0),
        Err(_) => false,
    }
}

#[derive(Default)]
struct Findings(Vec<InvalidParameter>);

impl Findings {
    fn add(&mut self, name: &str, reason: impl Into<String>) {
        self.0.push(InvalidParameter { name: name.to_string(), reason: reason.into() });
    }

    fn url(&mut self, name: &str, address: &str) {
        if !is_http_url(address) {
            self.add(name, "must be an absolute http or https URL");
        }
    }

    fn one_of(&mut self, name: &str, value: Option<&str>, allowed: &[&str]) {
        if let Some(value) = value {
            if !allowed.contains(&value) {
                self.add(name, format!("must be one of: {}", allowed.join(", ")));
            }
        }
    }

    fn range(&mut self, name: &str, value: Option<u32>, Range { min, max }: Range) {
        if let Some(value) = value {
            if !(min..=max).contains(&value) {
                self.add(name, format!("must be between {min} and {max}"));
            }
        }
    }

    /// A webhook by the rules of its kind: an http(s) address, a method the API takes, voice timeouts
    /// in range.
    fn hook(&mut self, slot: &WebhookSlot, hook: HookRef<'_>) {
        let path = slot.path();
        self.url(&format!("{path}.address"), hook.address().expose());
        if let HookRef::Plain(hook) = hook {
            self.one_of(&format!("{path}.http_method"), hook.http_method.as_deref(), slot.kind.methods());
            if let Some(socket_timeouts) = slot.kind.socket_timeouts() {
                self.range(&format!("{path}.connect_timeout"), hook.connect_timeout, CONNECT_TIMEOUT);
                self.range(&format!("{path}.socket_timeout"), hook.socket_timeout, socket_timeouts);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(body: serde_json::Value) -> Vec<(String, String)> {
        let app: Application = serde_json::from_value(body).unwrap();
        validate(&app).into_iter().map(|p| (p.name, p.reason)).collect()
    }

    #[test]
    fn a_valid_application_has_no_findings() {
        assert!(names(json!({"name": "ok", "capabilities": {
            "voice": {"webhooks": {"answer_url": {"address": "https://a.example/x", "http_method": "GET",
                                                  "connect_timeout": 300, "socket_timeout": 5000}},
                      "region": "eu-west", "conversations_ttl": 9000, "leg_persistence_time": 31},
            "messages": {"webhooks": {"inbound_url": {"address": "http://m.example/", "http_method": "POST"}}, "version": "v0.1"},
            "vbc": {}, "verify": {"version": "v2"},
            "video": {"webhooks": {"archive_status": {"address": "https://v.example/", "active": true}}}
        }}))
        .is_empty());
    }

    #[test]
    fn every_rule_reports_its_path() {
        let found = names(json!({"name": " ", "capabilities": {
            "voice": {"webhooks": {"answer_url": {"address": "/relative", "http_method": "PUT",
                                                  "connect_timeout": 200, "socket_timeout": 6000},
                                   "event_url": {"address": "https://e/", "socket_timeout": 10001}},
                      "region": "mars", "conversations_ttl": 0, "leg_persistence_time": 32},
            "messages": {"webhooks": {"status_url": {"address": "ftp://m/", "http_method": "GET"}}, "version": "v2"},
            "rtc": {"webhooks": {"event_url": {"address": "https://r/", "http_method": "DELETE"}}},
            "vbc": {"x": 1},
            "verify": {"webhooks": {"status_url": {"address": "https://v/", "http_method": "GET"}}, "version": "v1"},
            "meetings": {"webhooks": {"room_changed": {"address": "https://m/", "http_method": "GET"}}},
            "network_apis": {"redirect_uri": "not a url"},
            "video": {"webhooks": {"stream_created": {"address": "nope"}}}
        }}));
        let expected = [
            ("name", "must not be blank"),
            ("capabilities.voice.webhooks.answer_url.address", "must be an absolute http or https URL"),
            ("capabilities.voice.webhooks.answer_url.http_method", "must be one of: GET, POST"),
            ("capabilities.voice.webhooks.answer_url.connect_timeout", "must be between 300 and 1000"),
            ("capabilities.voice.webhooks.answer_url.socket_timeout", "must be between 1000 and 5000"),
            ("capabilities.voice.webhooks.event_url.socket_timeout", "must be between 1000 and 10000"),
            ("capabilities.voice.conversations_ttl", "must be between 1 and 9000"),
            ("capabilities.voice.leg_persistence_time", "must be between 1 and 31"),
            (
                "capabilities.voice.region",
                "must be one of: na-east, na-west, eu-east, eu-west, apac-sng, apac-australia",
            ),
            ("capabilities.messages.webhooks.status_url.address", "must be an absolute http or https URL"),
            ("capabilities.messages.webhooks.status_url.http_method", "must be one of: POST"),
            ("capabilities.messages.version", "must be one of: v1, v0.1"),
            ("capabilities.rtc.webhooks.event_url.http_method", "must be one of: GET, POST"),
            ("capabilities.vbc", "must be an empty object"),
            ("capabilities.verify.webhooks.status_url.http_method", "must be one of: POST"),
            ("capabilities.verify.version", "must be one of: v2"),
            ("capabilities.meetings.webhooks.room_changed.http_method", "must be one of: POST"),
            ("capabilities.network_apis.redirect_uri", "must be an absolute http or https URL"),
            ("capabilities.video.webhooks.stream_created.address", "must be an absolute http or https URL"),
        ];
        let expected: Vec<(String, String)> = expected.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn urls_must_be_absolute_http() {
        assert!(is_http_url("https://example.com/a?b=c"));
        assert!(is_http_url("http://127.0.0.1:8080/"));
        assert!(!is_http_url("example.com/answer"));
        assert!(!is_http_url("mailto:a@b.c"));
        assert!(!is_http_url("https://"));
        for careless in [
            "https:a.example.com",
            "https:///x",
            " https://a.example.com/",
            "https://a.example.com/ ",
            "https://a.example.com:0/",
            "https://a b.example.com/",
            "ftp://a.example.com/",
            "https://a.example.com/\n",
        ] {
            assert!(!is_http_url(careless), "{careless:?}");
        }
        assert!(is_http_url("HTTPS://A.example.com:8443/x"));
    }
}
