//! Comparing applications: the comparable form and field-level differences.
//!
//! The comparable form of an application is its JSON with the documented defaults filled in and
//! everything the manifest cannot say removed (id, keys, unmodelled fields). Two applications with
//! equal comparable forms need no update, whichever side spelt out a default.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{defaults, webhook_url, Application, WebhookUrl};

/// One changed field: its dotted path and the values before and after (`null` where absent).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FieldDiff {
    pub path: String,
    pub before: Value,
    pub after: Value,
    /// The value after is known only at apply (a number linked to an application this plan creates).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub after_unknown: bool,
    /// A create's field the manifest does not say: the API's documented default, sent explicitly
    /// (a person reading the plan sees it only when asking for detail).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    /// The values differ in a webhook's secret (its URL's password) alone. Both show it as `***`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret_changed: bool,
}

/// The application as the planner compares it and the state keeps it: defaults explicit, and each
/// webhook's secret (a password in its URL) as a digest, so a changed password is a change and the
/// password itself is kept nowhere.
pub fn comparable(app: &Application) -> Result<Value, serde_json::Error> {
    let mut app = defaults::fill(&app.without_extras());
    app.id = None;
    app.keys = None;
    if let Some(capabilities) = app.capabilities.as_deref_mut() {
        for (_, mut hook) in capabilities.webhooks_mut() {
            let address = hook.address_mut();
            if address.has_secret() {
                *address = WebhookUrl::new(address.comparable());
            }
        }
    }
    serde_json::to_value(&app)
}

/// The fields that differ between two comparable forms, in path order. Empty objects (`vbc: {}`)
/// count as values, so adding or removing one shows.
pub fn diff(before: &Value, after: &Value) -> Vec<FieldDiff> {
    let (mut b, mut a) = (BTreeMap::new(), BTreeMap::new());
    leaves(before, String::new(), &mut b);
    leaves(after, String::new(), &mut a);
    let mut paths: Vec<&String> = b.keys().chain(a.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|path| {
            let before = b.get(path).cloned().unwrap_or(Value::Null);
            let after = a.get(path).cloned().unwrap_or(Value::Null);
            if before == after {
                return None;
            }
            let secret_changed = match (before.as_str(), after.as_str()) {
                (Some(before), Some(after)) => webhook_url::only_secret_differs(before, after),
                _ => false,
            };
            // A digest sealed in a state read without its passphrase is no evidence of a change.
            let sealed = |value: &Value| value.as_str().is_some_and(webhook_url::has_sealed_secret);
            if secret_changed && (sealed(&before) || sealed(&after)) {
                return None;
            }
            Some(FieldDiff {
                path: path.clone(),
                before: shown(before),
                after: shown(after),
                secret_changed,
                ..Default::default()
            })
        })
        .collect()
}

/// A value as a plan may hold it: a URL's secret (or the digest standing for it) as `***`.
fn shown(value: Value) -> Value {
    match value {
        Value::String(text) => match webhook_url::redact_text(&text) {
            std::borrow::Cow::Owned(redacted) => Value::String(redacted),
            std::borrow::Cow::Borrowed(_) => Value::String(text),
        },
        other => other,
    }
}

/// The paths an application spells out itself, before any default is filled in.
pub fn written_paths(app: &Application) -> Result<std::collections::BTreeSet<String>, serde_json::Error> {
    let mut app = app.without_extras();
    app.id = None;
    app.keys = None;
    let mut found = BTreeMap::new();
    leaves(&serde_json::to_value(&app)?, String::new(), &mut found);
    Ok(found.into_keys().collect())
}

fn leaves(value: &Value, prefix: String, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                leaves(child, path, out);
            }
        }
        Value::Null if prefix.is_empty() => {}
        _ if prefix.is_empty() => {}
        other => {
            out.insert(prefix, other.clone());
        }
    }
}

/// Copies into `body` every field of `live` that the model does not know, at every level where
/// `body` still has the enclosing object: an update must not drop what the API added.
pub fn keep_unmodelled(body: &mut Value, live: &Value, modelled: &Value) {
    let (Some(body), Some(live)) = (body.as_object_mut(), live.as_object()) else { return };
    for (key, live_value) in live {
        match modelled.get(key) {
            None => {
                if !body.contains_key(key) {
                    body.insert(key.clone(), live_value.clone());
                }
            }
            Some(modelled_value) => {
                if let Some(body_value) = body.get_mut(key) {
                    keep_unmodelled(body_value, live_value, modelled_value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app(v: Value) -> Application {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn spelt_out_defaults_are_no_difference() {
        let manifest = app(
            json!({"name": "x", "capabilities": {"voice": {"webhooks": {"answer_url": {"address": "https://a/"}}}}}),
        );
        let live = app(json!({"id": "1", "name": "x", "keys": {"public_key": "pem"}, "privacy": {"improve_ai": true},
            "capabilities": {"voice": {"webhooks": {"answer_url": {"address": "https://a/", "connect_timeout": 1000, "socket_timeout": 5000}},
                                       "signed_callbacks": true, "conversations_ttl": 48, "leg_persistence_time": 7, "payments": {}}},
            "_links": {"self": {"href": "/v2/applications/1"}}}));
        assert_eq!(diff(&comparable(&live).unwrap(), &comparable(&manifest).unwrap()), vec![]);
    }

    /// A sealed digest (a state read without its passphrase) tells nothing of the password: only the
    /// rest of the URL is compared.
    #[test]
    fn a_sealed_digest_is_no_evidence_of_a_change() {
        let live = comparable(&app(
            json!({"name": "x", "capabilities": {"rtc": {"webhooks": {"event_url": {"address": "https://u:hunter2@a/e"}}}}}),
        ))
        .unwrap();
        let text = live.to_string();
        let digest = text.split("https://u:").nth(1).and_then(|rest| rest.split('@').next()).unwrap().to_string();
        assert!(digest.starts_with("sha256-"), "{text}");
        let with = |replacement: &str| -> Value { serde_json::from_str(&text.replace(&digest, replacement)).unwrap() };
        let sealed = with("sealed-AbC_d-9");
        assert_eq!(diff(&sealed, &live), vec![]);
        assert_eq!(diff(&live, &sealed), vec![]);
        let elsewhere: Value = serde_json::from_str(&text.replace(&format!("{digest}@a/e"), "sealed-AbC@b/e")).unwrap();
        assert_eq!(diff(&elsewhere, &live).len(), 1, "the host still counts");
        assert_eq!(diff(&with("sha256-other"), &live).len(), 1, "an open digest still counts");
        // The sealed form is its own comparable form.
        let url = crate::model::WebhookUrl::new("https://u:sealed-AbC@b/e");
        assert_eq!(url.comparable(), "https://u:sealed-AbC@b/e");
    }

    #[test]
    fn differences_are_listed_by_path() {
        let before = comparable(&app(
            json!({"name": "x", "capabilities": {"voice": {"webhooks": {"answer_url": "https://old/"}}, "vbc": {}}}),
        ))
        .unwrap();
        let after = comparable(&app(
            json!({"name": "y", "capabilities": {"voice": {"webhooks": {"answer_url": "https://new/"}}}}),
        ))
        .unwrap();
        let d = diff(&before, &after);
        let paths: Vec<_> = d.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["capabilities.vbc", "capabilities.voice.webhooks.answer_url.address", "name"]);
        assert_eq!(d[0].before, json!({}));
        assert_eq!(d[0].after, Value::Null);
        assert_eq!(d[1].after, json!("https://new/"));
    }

    #[test]
    fn unmodelled_fields_are_kept_where_the_body_keeps_their_parent() {
        let live = app(json!({"id": "1", "name": "x", "bulk_flag": 1,
            "capabilities": {"voice": {"payments": {"gateways": []}, "webhooks": {}}, "messages": {"future": 1}, "bulk": {"webhooks": {}}}}));
        let mut body = serde_json::to_value(app(json!({"name": "x", "capabilities": {"voice": {}}}))).unwrap();
        let modelled = serde_json::to_value(live.without_extras()).unwrap();
        keep_unmodelled(&mut body, &serde_json::to_value(&live).unwrap(), &modelled);
        assert_eq!(body["capabilities"]["voice"]["payments"], json!({"gateways": []}));
        assert_eq!(body["capabilities"]["bulk"], json!({"webhooks": {}}));
        assert_eq!(body["bulk_flag"], json!(1));
        assert!(body["capabilities"].get("messages").is_none(), "a removed capability stays removed");
    }
}
