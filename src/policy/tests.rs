use std::path::PathBuf;

use serde_json::json;

use super::*;

fn policies(files: &[(&str, &str)]) -> Result<Policies, PolicyError> {
    let sources: Vec<Source> =
        files.iter().map(|(path, text)| Source { path: PathBuf::from(path), text: text.to_string() }).collect();
    Policies::new(&sources, DEFAULT_NAMESPACE)
}

const V1: &str = r#"package main
import rego.v1

deny contains msg if {
    some change in input.changes
    change.action == "delete"
    msg := sprintf("%s would be deleted", [change.address])
}

warn contains {"msg": "big plan", "count": n} if {
    n := count(input.changes)
    n > 1
}
"#;

const V0: &str = r#"package main

deny[msg] {
    app := input.manifests[_]
    not app.labels.owner
    msg := sprintf("%s has no owner label", [app.address])
}
"#;

#[test]
fn rego_v1_and_the_older_syntax_both_read_and_give_findings() {
    let set = policies(&[("v1.rego", V1), ("v0.rego", V0)]).unwrap();
    let input = json!({
        "changes": [{"address": "a", "action": "delete"}, {"address": "b", "action": "create"}],
        "manifests": [{"address": "b", "labels": {}}, {"address": "c", "labels": {"owner": "payments"}}],
    });
    let verdict = set.evaluate(&input).unwrap();
    let mut denied: Vec<&str> = verdict.deny.iter().map(|f| f.msg.as_str()).collect();
    denied.sort();
    assert_eq!(denied, ["a would be deleted", "b has no owner label"]);
    assert_eq!(verdict.warn.len(), 1);
    assert_eq!(verdict.warn[0].msg, "big plan");
    assert_eq!(verdict.warn[0].details["count"], json!(2));
    let quiet = set.evaluate(&json!({"changes": [], "manifests": []})).unwrap();
    assert!(!quiet.denies() && quiet.warn.is_empty());
}

#[test]
fn a_namespace_without_rules_says_nothing() {
    let set = Policies::new(&[Source { path: "p.rego".into(), text: V1.into() }], "other").unwrap();
    assert_eq!(set.evaluate(&json!({"changes": []})).unwrap(), Verdict::default());
}

#[test]
fn a_broken_policy_names_its_file_line_and_column() {
    let error = policies(&[("policies/broken.rego", "package main\n\ndeny contains msg if {\n    msg := \n}\n")])
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("policies/broken.rego:4:"), "the place comes first: {error}");
    assert!(error.lines().next().is_some_and(|l| l.contains(": expecting")), "then what is wrong: {error}");
    assert!(error.contains("    msg := "), "then the excerpt: {error}");
}

#[test]
fn regorus_errors_put_the_place_first() {
    let told = "\n--> p.rego:5:14\n  |\n5 |     msg := 1 / 0\n  |              ^\nerror: divide by zero";
    assert_eq!(pointed(told.trim()), "p.rego:5:14: divide by zero\n  |\n5 |     msg := 1 / 0\n  |              ^");
    assert_eq!(pointed("no place here"), "no place here");
}

#[test]
fn a_policy_that_fails_to_evaluate_is_an_error() {
    let set = policies(&[("p.rego", "package main\nimport rego.v1\ndeny contains x if { x := 1 / 0 }\n")]).unwrap();
    let outcome = set.evaluate(&json!({}));
    // Rego leaves a division by zero undefined, or fails: either way no finding is invented.
    if let Ok(verdict) = outcome {
        assert!(verdict.deny.is_empty());
    }
}

#[test]
fn test_rules_pass_and_fail_as_opa_test_says() {
    let tests = r#"package main
import rego.v1

test_delete_is_denied if {
    count(deny) == 1 with input as {"changes": [{"address": "a", "action": "delete"}], "manifests": []}
}

test_create_is_denied if {
    count(deny) == 1 with input as {"changes": [{"address": "a", "action": "create"}], "manifests": []}
}
"#;
    let set = policies(&[("v1.rego", V1), ("v1_test.rego", tests)]).unwrap();
    let results = set.test();
    let outcome: Vec<(&str, bool)> = results.iter().map(|r| (r.rule.as_str(), r.failure.is_none())).collect();
    assert_eq!(outcome, [("data.main.test_delete_is_denied", true), ("data.main.test_create_is_denied", false)]);
}

#[test]
fn an_endless_policy_is_stopped() {
    // A comprehension over a large range: far longer than the limit allows.
    let slow = "package main\nimport rego.v1\ndeny contains x if { x := count([[a, b] | some a in numbers.range(1, 5000); some b in numbers.range(1, 5000)]) }\n";
    let set = policies(&[("slow.rego", slow)]).unwrap().with_time_limit(std::time::Duration::from_millis(50));
    let error = set.evaluate(&json!({})).unwrap_err();
    assert!(matches!(error, PolicyError::TooSlow), "{error:?}");
}

/// The input: the JSON plan as printed, the manifests with defaults applied (every webhook an object,
/// `signed_callbacks` present, a password as `***`), and the accounts with their kinds.
#[test]
fn the_input_is_the_json_plan_with_manifests_and_accounts() {
    let text = "version: 1\naccounts:\n  staging:\n    api_key: 1a2b3c4d\n    api_secret_env: STAGING_SECRET\n  acme:\n    subaccount_of: default\n    name: ACME\napplications:\n  support:\n    name: Support\n    labels: { owner: care }\n    numbers: [\"447700900001\"]\n    capabilities:\n      voice:\n        webhooks:\n          answer_url: https://bot:hunter2@a.example/answer\n";
    let sources = [crate::manifest::Source { path: "vapp.yaml".into(), text: text.into() }];
    let desired = crate::manifest::load_sources(&sources, &|_| None).unwrap();
    let plan = Plan::empty(crate::plan::StateRef { lineage: None, serial: 0 });
    let default = AccountName::default_account();
    let accounts = accounts_of(desired.accounts.values(), &plan, &default);
    let manifests = desired.apps.values().map(manifest_entry).collect();
    let document = input(&plan, manifests, &accounts);
    let printed = crate::plan::render::render_json_value(&plan);
    for key in ["format_version", "changes", "drift", "summary", "warnings"] {
        assert_eq!(document[key], printed[key], "{key}");
    }
    let support = &document["manifests"][0];
    assert_eq!(support["address"], json!("support"));
    assert_eq!(support["account"], json!("default"));
    assert_eq!(support["labels"], json!({"owner": "care"}));
    assert_eq!(support["numbers"], json!(["447700900001"]));
    let voice = &support["capabilities"]["voice"];
    assert_eq!(voice["signed_callbacks"], json!(true));
    assert_eq!(voice["webhooks"]["answer_url"]["address"], json!("https://bot:***@a.example/answer"));
    assert_eq!(voice["webhooks"]["answer_url"]["http_method"], json!("GET"));
    assert!(!document.to_string().contains("hunter2"));
    assert_eq!(
        document["accounts"],
        json!([
            {"name": "default", "kind": "primary", "api_key": null, "changes": []},
            {"name": "staging", "kind": "existing", "api_key": "1a2b3c4d", "changes": []},
            {"name": "acme", "kind": "subaccount", "api_key": null, "changes": []},
        ])
    );
}

/// The printed plan's own `accounts` (changes to accounts) are kept in `input.accounts`, under each
/// account's `changes`; a subaccount that left the manifests is listed too.
#[test]
fn account_changes_are_kept_under_their_accounts() {
    use crate::plan::{AccountChange, AccountStep};
    let text = "version: 1\naccounts:\n  acme:\n    subaccount_of: default\n    name: ACME\n";
    let sources = [crate::manifest::Source { path: "vapp.yaml".into(), text: text.into() }];
    let desired = crate::manifest::load_sources(&sources, &|_| None).unwrap();
    let old = AccountName::new("old");
    let plan = Plan {
        accounts: vec![
            AccountChange {
                account: AccountName::new("acme"),
                step: AccountStep::Create {
                    parent: AccountName::default_account(),
                    name: "ACME".into(),
                    use_primary_account_balance: true,
                    again: false,
                },
            },
            AccountChange { account: old.clone(), step: AccountStep::Suspend { api_key: ApiKey::new("0ld0ld01") } },
        ],
        api_keys: [(old.clone(), ApiKey::new("0ld0ld01"))].into_iter().collect(),
        ..Plan::empty(crate::plan::StateRef { lineage: None, serial: 0 })
    };
    let printed = crate::plan::render::render_json_value(&plan);
    let default = AccountName::default_account();
    let accounts = accounts_of(desired.accounts.values(), &plan, &default);
    let document = input(&plan, Vec::new(), &accounts);
    assert_eq!(document["accounts"][1]["name"], json!("acme"));
    assert_eq!(document["accounts"][1]["changes"], json!([printed["accounts"][0]]));
    assert_eq!(document["accounts"][1]["changes"][0]["action"], json!("create"));
    assert_eq!(
        document["accounts"][2],
        json!({"name": "old", "kind": "subaccount", "api_key": "0ld0ld01", "changes": [printed["accounts"][1]]})
    );
    assert_eq!(document["accounts"][0]["changes"], json!([]));
}

/// A misspelt `--policy-namespace` is an error, not a plan that passes without evaluating a rule.
#[test]
fn a_namespace_no_policy_is_in_is_an_error() {
    let set = policies(&[("a.rego", "package main\nimport rego.v1\ndeny contains \"x\" if { false }\n")]).unwrap();
    assert!(set.require_namespace().is_ok());
    let sources = [Source { path: "a.rego".into(), text: "package teams\ndeny[\"x\"] { false }\n".into() }];
    let error = Policies::new(&sources, "team").unwrap().require_namespace().unwrap_err();
    assert_eq!(error.to_string(), "no policy is in package team (the packages read: teams)");
}

/// The Rego parser's time doubles with each level of brackets: deeper text is refused before it is
/// parsed (the fuzzer found a file that took minutes), at the place it goes too deep.
#[test]
fn nesting_past_the_bound_is_refused_where_it_goes_too_deep() {
    let nested = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    // The rule's body is one level.
    let at_bound = format!(
        "package main\nimport rego.v1\ndeny contains \"x\" if {{\n\tx := {}\n\tfalse\n}}\n",
        nested(MAX_POLICY_NESTING - 1)
    );
    assert!(policies(&[("ok.rego", &at_bound)]).is_ok());
    let past =
        format!("package main\nimport rego.v1\ndeny contains \"x\" if {{\n\tx := {}\n}}\n", nested(MAX_POLICY_NESTING));
    let error = policies(&[("deep.rego", &past)]).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "deep.rego:4:{}: brackets and braces are nested more than 12 deep, the most vapp reads",
            7 + MAX_POLICY_NESTING - 1
        )
    );
    // Brackets in strings and comments do not count; unclosed ones do.
    let quoted =
        format!("package main\n# {}\nx := \"{}\"\ny := `{}`\n", "[".repeat(40), "{".repeat(40), "[".repeat(40));
    assert!(policies(&[("quoted.rego", &quoted)]).is_ok());
    assert!(too_deep(&"[".repeat(MAX_POLICY_NESTING + 1)).is_some());
    assert_eq!(too_deep("x := \"\\\"[[[[[[[[[[[[[[[[\""), None);
}

/// regorus reserves room for a whole range at once (a range of 10^13 ended the process: found by the
/// fuzzer); vapp's own range functions are bounded, and otherwise the same.
#[test]
fn ranges_are_bounded_and_otherwise_as_rego_says() {
    let text = "package main\nimport rego.v1\nup := numbers.range(1, 4)\ndown := numbers.range(3, -1)\none := numbers.range(5, 5)\nodd := numbers.range_step(1, 8, 2)\nback := numbers.range_step(8, 1, 3)\nhalf := numbers.range(1.5, 3)\n";
    let set = policies(&[("r.rego", text)]).unwrap();
    let value = |rule: &str| {
        let mut engine = set.engine.clone();
        let results = engine.eval_query(format!("data.main.{rule}"), false).unwrap();
        results.result.first().map(|r| serde_json::to_value(&r.expressions[0].value).unwrap())
    };
    assert_eq!(value("up"), Some(json!([1, 2, 3, 4])));
    assert_eq!(value("down"), Some(json!([3, 2, 1, 0, -1])));
    assert_eq!(value("one"), Some(json!([5])));
    assert_eq!(value("odd"), Some(json!([1, 3, 5, 7])));
    assert_eq!(value("back"), Some(json!([8, 5, 2])));
    assert_eq!(value("half"), None, "a number that is not an integer leaves it undefined");
    let huge = "package main\nimport rego.v1\ndeny contains x if { x := count(numbers.range(1, 50429496729600)) }\n";
    let error = policies(&[("huge.rego", huge)]).unwrap().evaluate(&json!({})).unwrap_err().to_string();
    assert!(error.contains("numbers.range would make 50429496729600 numbers; vapp allows at most 1000000"), "{error}");
    assert!(error.contains("huge.rego:3:"), "{error}");
    let step = "package main\nimport rego.v1\ndeny contains x if { x := count(numbers.range_step(1, 9, 0)) }\n";
    let error = policies(&[("step.rego", step)]).unwrap().evaluate(&json!({})).unwrap_err().to_string();
    assert!(error.contains("step must be a positive integer"), "{error}");
}

/// regorus's `sprintf` fills any width it is asked for, and fails on a digit outside ASCII.
#[test]
fn format_widths_are_bounded() {
    let ok = "package main\nimport rego.v1\nx := sprintf(\"%05d|%.3f|%999d|%%9999\", [1, 2.5, 3])\n";
    assert!(policies(&[("ok.rego", ok)]).is_ok());
    let wide = "package main\nimport rego.v1\nx := sprintf(\"a %01000d\", [1])\n";
    let error = policies(&[("wide.rego", wide)]).unwrap_err().to_string();
    assert_eq!(error, "wide.rego:3:17: a format's width is more than 999 or not written in ASCII digits");
    let unicode = "package main\nimport rego.v1\nx := sprintf(\"%\u{00b2}d\", [1])\n";
    assert!(matches!(policies(&[("u.rego", unicode)]), Err(PolicyError::FormatWidth { .. })));
}
