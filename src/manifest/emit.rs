//! Writing manifests (for `vapp export`): applications as YAML that `load` reads back to the same thing.
//!
//! Strings are written double-quoted with JSON escapes (valid YAML, never re-typed as numbers or
//! booleans); keys are written plain when they are plain words.

use std::fmt::Write;

use serde_json::{Map, Value};

use crate::model::{defaults, Address, Application, Msisdn};

/// One application to write.
#[derive(Clone, Debug)]
pub struct Exported {
    pub address: Address,
    pub app: Application,
    /// The numbers that route to it, in E.164 digits.
    pub numbers: Vec<Msisdn>,
    /// Where it came from, written as a comment above it.
    pub comment: String,
}

/// A manifest holding `apps`, in that order.
pub fn manifest(apps: &[Exported]) -> String {
    manifest_in(&crate::model::AccountName::default_account(), apps)
}

/// A manifest holding `apps` of `account` (said in an `account:` line, unless it is `default`).
pub fn manifest_in(account: &crate::model::AccountName, apps: &[Exported]) -> String {
    let mut out = String::from("version: 1\n");
    if !account.is_default() {
        let _ = writeln!(out, "account: {}", key(account.as_str()));
    }
    out.push_str("applications:\n");
    if apps.is_empty() {
        out.truncate(out.len() - 1);
        out.push_str(" {}\n");
    }
    for Exported { address, app, numbers, comment } in apps {
        if !comment.is_empty() {
            let _ = writeln!(out, "  # {comment}");
        }
        let _ = writeln!(out, "  {}:", key(address.as_str()));
        let bare = defaults::strip(&app.without_extras());
        let mut fields = Map::new();
        fields.insert("name".into(), Value::String(bare.name.clone()));
        if let Some(capabilities) = &bare.capabilities {
            fields.insert("capabilities".into(), serde_json::to_value(capabilities).unwrap_or(Value::Null));
        }
        if let Some(privacy) = &bare.privacy {
            fields.insert("privacy".into(), serde_json::to_value(privacy).unwrap_or(Value::Null));
        }
        if !numbers.is_empty() {
            fields.insert("numbers".into(), numbers.iter().map(|n| Value::String(n.to_string())).collect());
        }
        block(&mut out, &fields, 4);
    }
    out
}

fn block(out: &mut String, map: &Map<String, Value>, indent: usize) {
    let pad = " ".repeat(indent);
    for (k, v) in map {
        match v {
            Value::Object(inner) if !inner.is_empty() => {
                let _ = writeln!(out, "{pad}{}:", key(k));
                block(out, inner, indent + 2);
            }
            Value::Array(items) if !items.is_empty() => {
                let _ = writeln!(out, "{pad}{}:", key(k));
                for item in items {
                    let _ = writeln!(out, "{pad}  - {}", scalar(item));
                }
            }
            other => {
                let _ = writeln!(out, "{pad}{}: {}", key(k), scalar(other));
            }
        }
    }
}

fn key(k: &str) -> String {
    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        k.to_string()
    } else {
        Value::String(k.to_string()).to_string()
    }
}

/// A value on one line: JSON is a subset of YAML's flow style.
fn scalar(v: &Value) -> String {
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{load_sources, Source};
    use serde_json::json;

    #[test]
    fn exported_manifests_read_back_the_same() {
        let live: Application = serde_json::from_value(json!({
            "id": "x", "name": "Tricky: \"quotes\" # not a comment\nnew line", "keys": {"public_key": "pem"},
            "capabilities": {"voice": {"webhooks": {"answer_url": {"address": "https://a.example/a", "http_method": "GET", "connect_timeout": 1000, "socket_timeout": 5000}},
                                       "signed_callbacks": true, "conversations_ttl": 48, "leg_persistence_time": 7, "region": "eu-west", "payments": {"gateways": []}},
                             "vbc": {}, "video": {"storage": {"cloud_storage": false}}},
            "privacy": {"improve_ai": true}, "_links": {}
        }))
        .unwrap();
        let exported = Exported {
            address: Address::new("tricky-1"),
            app: live.clone(),
            numbers: vec![Msisdn::new("447700900002"), Msisdn::new("447700900001")],
            comment: "application x".into(),
        };
        let text = manifest(&[exported]);
        let desired = load_sources(&[Source { path: "export.yaml".into(), text: text.clone() }], &|_| None).unwrap();
        let back = &desired.apps["tricky-1"].application;
        let numbers: Vec<&str> = desired.apps["tricky-1"].numbers.iter().map(|n| n.msisdn.as_str()).collect();
        assert_eq!(numbers, ["447700900002", "447700900001"]);
        assert_eq!(defaults::fill(back), defaults::fill(&live.without_extras()).tap_clear());
        assert!(!text.contains("leg_persistence_time"), "defaults are left out:\n{text}");
        assert_eq!(manifest(&[]), "version: 1\napplications: {}\n");
    }

    trait TapClear {
        fn tap_clear(self) -> Self;
    }

    impl TapClear for Application {
        fn tap_clear(mut self) -> Self {
            self.id = None;
            self.keys = None;
            self
        }
    }
}
