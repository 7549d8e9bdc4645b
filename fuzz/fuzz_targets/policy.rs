//! The policy reader and evaluator: any text is a set of policies or an error naming where it failed,
//! never a panic; policies that read are evaluated (over a small plan, within a short time limit) to a
//! verdict or an error, the same one twice, and their `test_` rules run.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use vapp::policy::{Policies, PolicyError, Source, DEFAULT_NAMESPACE, MAX_POLICY_BYTES};

/// A plan with a create, a delete and drift, and two manifests, in the shapes `--policy` gives.
fn input() -> &'static Value {
    static INPUT: OnceLock<Value> = OnceLock::new();
    INPUT.get_or_init(|| {
        json!({
            "format_version": 1,
            "state": {"lineage": "00000000-0000-4000-8000-000000000000", "serial": 3},
            "changes": [
                {"address": "support", "account": "default", "action": "create", "id": null, "diff": [
                    {"path": "name", "before": null, "after": "Support"}]},
                {"address": "old-ivr", "account": "production", "action": "delete", "id": "abc", "diff": []}
            ],
            "drift": [{"address": "billing", "account": "default", "diff": [{"path": "name", "before": "B", "after": "b"}]}],
            "warnings": [],
            "summary": {"create": 1, "update": 0, "delete": 1, "move": 0, "import": 0, "forget": 0, "no_op": 1},
            "manifests": [
                {"address": "support", "account": "default", "name": "Support", "labels": {"owner": "care"},
                 "numbers": ["447700900001"], "capabilities": {"voice": {"signed_callbacks": true, "webhooks": {
                    "answer_url": {"address": "http://support.example.com/answer", "http_method": "GET"}}}}},
                {"address": "billing", "account": "default", "name": "Billing", "labels": {}, "numbers": [],
                 "capabilities": {"rtc": {"signed_callbacks": false, "webhooks": {}}}}
            ],
            "accounts": [{"name": "default", "kind": "primary", "api_key": "1a2b3c4d"}]
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if text.len() > MAX_POLICY_BYTES {
        return;
    }
    let sources = [Source { path: "fuzz.rego".into(), text: text.to_string() }];
    let policies = match Policies::new(&sources, DEFAULT_NAMESPACE) {
        Ok(policies) => policies.with_time_limit(Duration::from_millis(200)),
        Err(error) => {
            assert!(!error.to_string().is_empty(), "an error says what is wrong");
            return;
        }
    };
    let _ = policies.require_namespace();
    let first = policies.evaluate(input());
    match &first {
        // A slow evaluation may be slow once and not twice: only finished ones are compared.
        Err(PolicyError::TooSlow) => {}
        Ok(_) | Err(_) => {
            let second = policies.evaluate(input());
            if !matches!(second, Err(PolicyError::TooSlow)) {
                assert_eq!(format!("{first:?}"), format!("{second:?}"), "an evaluation is deterministic");
            }
        }
    }
    let _ = policies.test();
});
