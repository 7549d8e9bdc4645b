//! Policies as code through the binary: `--policy` on plan, apply (saved plans too) and destroy against
//! the emulator; exit 5 and nothing changed on a deny, the "Policy" section in every format, other
//! namespaces, broken files, and `vapp policy test`.

use serde_json::json;
use vapp::api::{ApplicationApi, SubaccountsApi};

use crate::harness::{config, repo_path, BackgroundEmulator, Workspace};

const HTTPS_ONLY: &str = r#"package main
import rego.v1

deny contains msg if {
	some app in input.manifests
	some capability, settings in app.capabilities
	some field, webhook in settings.webhooks
	not startswith(webhook.address, "https://")
	msg := sprintf("%s: %s.%s is not https", [app.address, capability, field])
}
"#;

/// The older syntax, and an object with `msg`.
const OWNER_V0: &str = r#"package main

warn[{"msg": msg, "address": app.address}] {
	app := input.manifests[_]
	not app.labels.owner
	msg := sprintf("%s has no owner", [app.address])
}
"#;

const NO_DELETE: &str = r#"package main
import rego.v1

deny contains {"msg": sprintf("%s would be deleted", [change.address])} if {
	some change in input.changes
	change.action == "delete"
}
"#;

const TEAM: &str = r#"package team
import rego.v1

deny contains "the team namespace denies everything" if { true }
"#;

fn manifest(scheme: &str, with_billing: bool) -> String {
    let mut text = format!(
        "version: 1\napplications:\n  support:\n    name: Support\n    labels: {{ owner: care }}\n    capabilities:\n      voice:\n        webhooks:\n          answer_url: {scheme}://support.example.com/answer\n"
    );
    if with_billing {
        text.push_str("  billing:\n    name: Billing\n    capabilities: { rtc: {} }\n");
    }
    text
}

#[test]
fn a_deny_stops_plan_apply_a_saved_plan_and_destroy_and_changes_nothing() {
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    ws.write("policies/https.rego", HTTPS_ONLY);
    ws.write("policies/owner.rego", OWNER_V0);
    ws.write("nodelete/nodelete.rego", NO_DELETE);
    ws.write("team/team.rego", TEAM);
    ws.write("vapp.yaml", &manifest("http", true));
    let live = || emulator.block_on(emulator.client().list_all()).unwrap().len();

    // plan: the section in every format, exit 5.
    let human = ws.vapp().args(["plan", "--policy", "policies"]).expect(5);
    assert!(human.stdout.contains("Policy: 1 denied, 1 warning"), "{human:?}");
    assert!(human.stdout.contains("✗ deny: support: voice.answer_url is not https"), "{human:?}");
    assert!(human.stdout.contains("! warn: billing has no owner"), "{human:?}");
    assert!(human.stderr.contains("error: 1 policy rule denies the plan"), "{human:?}");
    let json = ws.vapp().args(["plan", "--policy", "policies", "--format", "json"]).expect(5).json();
    assert_eq!(json["policy"]["deny"], json!([{"msg": "support: voice.answer_url is not https"}]));
    assert_eq!(json["policy"]["warn"], json!([{"msg": "billing has no owner", "address": "billing"}]));
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo_path("schemas/plan.schema.json")).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&json).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "the JSON plan with its policy section follows the schema: {errors:?}");
    let markdown = ws.vapp().args(["plan", "--policy", "policies", "--format", "markdown"]).expect(5);
    assert!(markdown.stdout.contains("### Policy") && markdown.stdout.contains("**deny**: support"), "{markdown:?}");
    let refused = ws.vapp().args(["plan", "--policy", "policies", "-o", "denied.plan"]).expect(5);
    assert!(!ws.path().join("denied.plan").exists(), "a denied plan is not saved: {refused:?}");

    // apply: exit 5, nothing changed.
    let apply = ws.vapp().args(["apply", "--auto-approve", "--policy", "policies"]).expect(5);
    assert!(apply.stderr.contains("nothing was changed"), "{apply:?}");
    assert_eq!(live(), 0);
    assert!(!ws.path().join("vapp.state.json").exists() || ws.state()["applications"] == json!({}));

    // VAPP_POLICY, `:`-separated; the plan passes once the webhook is https.
    ws.write("vapp.yaml", &manifest("https", true));
    let env = ws.vapp().env("VAPP_POLICY", "policies:nodelete").args(["apply", "--auto-approve"]).expect(0);
    assert!(env.stdout.contains("Policy: 0 denied, 1 warning"), "{env:?}");
    assert_eq!(live(), 2);

    // An empty VAPP_POLICY (a CI variable left unset) means no policy; empty parts are skipped.
    ws.vapp().env("VAPP_POLICY", "").args(["plan"]).expect(0);
    ws.vapp().env("VAPP_POLICY", ":policies:").args(["plan"]).expect(0);

    // A saved plan is checked when it is applied: here it deletes billing.
    ws.write("vapp.yaml", &manifest("https", false));
    ws.vapp().args(["plan", "-o", "delete.plan"]).expect(0);
    let saved = ws.vapp().args(["apply", "delete.plan", "--policy", "nodelete"]).expect(5);
    assert!(saved.stdout.contains("✗ deny: billing would be deleted"), "{saved:?}");
    assert_eq!(live(), 2, "nothing deleted");

    // destroy too.
    let destroy = ws.vapp().args(["destroy", "--auto-approve", "--policy", "nodelete"]).expect(5);
    assert!(destroy.stdout.contains("support would be deleted"), "{destroy:?}");
    assert_eq!(live(), 2);

    // Another namespace: only its rules count.
    let team =
        ws.vapp().args(["plan", "--policy", "team", "--policy", "policies", "--policy-namespace", "team"]).expect(5);
    assert!(
        team.stdout.contains("the team namespace denies everything") && !team.stdout.contains("no owner"),
        "{team:?}"
    );
    // A namespace no policy is in is an error, not a plan that passes unchecked.
    let misspelt = ws.vapp().args(["plan", "--policy", "team", "--policy-namespace", "teams"]).expect(1);
    assert!(misspelt.stderr.contains("no policy is in package teams (the packages read: team)"), "{misspelt:?}");
    // Without policies, the same apply goes through.
    ws.vapp().args(["apply", "delete.plan"]).expect(0);
    assert_eq!(live(), 1);
    ws.vapp().args(["plan", "--detailed-exitcode", "--policy", "policies"]).expect(0);
}

#[test]
fn a_broken_policy_is_an_error_naming_its_file_line_and_column() {
    let ws = Workspace::new("http://127.0.0.1:9");
    ws.write("vapp.yaml", &manifest("https", false));
    ws.write("broken/broken.rego", "package main\nimport rego.v1\n\ndeny contains msg if {\n    msg := \n}\n");
    let run = ws.vapp().args(["plan", "--policy", "broken"]).expect(1);
    assert!(run.stderr.contains("broken/broken.rego:"), "{run:?}");
    assert!(run.stderr.lines().next().is_some_and(|l| l.starts_with("error:")), "{run:?}");
    // Nesting that would take the parser minutes is refused at once, where it goes too deep.
    ws.write("deep.rego", &format!("package main\nx := {}1\n", "[".repeat(40)));
    let deep = ws.vapp().args(["plan", "--policy", "deep.rego"]).expect(1);
    assert!(deep.stderr.contains("deep.rego:2:18: brackets and braces are nested more than 12 deep"), "{deep:?}");
    let missing = ws.vapp().args(["plan", "--policy", "nowhere"]).expect(1);
    assert!(missing.stderr.contains("nowhere"), "{missing:?}");
    ws.write("empty/README.md", "no policies here");
    let empty = ws.vapp().args(["apply", "--policy", "empty"]).expect(1);
    assert!(empty.stderr.contains("no policy (.rego file) at empty"), "{empty:?}");
}

#[test]
fn policy_test_runs_the_test_rules_and_fails_when_one_fails() {
    let ws = Workspace::new("http://127.0.0.1:9");
    ws.write("p/https.rego", HTTPS_ONLY);
    ws.write(
        "p/https_test.rego",
        r#"package main
import rego.v1

test_http_is_denied if {
	denied := deny with input as {"changes": [], "manifests": [{"address": "a", "capabilities": {"voice": {"webhooks": {"answer_url": {"address": "http://a/"}}}}}]}
	count(denied) == 1
}
"#,
    );
    let passed = ws.vapp().args(["policy", "test", "p"]).expect(0);
    assert!(
        passed.stdout.contains("PASS data.main.test_http_is_denied") && passed.stdout.contains("1 passed, 0 failed"),
        "{passed:?}"
    );
    ws.write(
        "p/wrong_test.rego",
        "package main\nimport rego.v1\n\ntest_https_is_denied if {\n\tcount(deny) == 1 with input as {\"changes\": [], \"manifests\": []}\n}\n",
    );
    let failed = ws.vapp().args(["policy", "test", "p"]).expect(1);
    assert!(failed.stdout.contains("FAIL data.main.test_https_is_denied"), "{failed:?}");
    assert!(failed.stdout.contains("1 passed, 1 failed"), "{failed:?}");
    let examples = ws.vapp().args(["policy", "test", &repo_path("examples/policies").display().to_string()]).expect(0);
    assert!(examples.stdout.contains("0 failed"), "{examples:?}");
}

/// A rule over `input.accounts`: the plan's account changes are under their accounts' `changes`.
#[test]
fn a_rule_over_accounts_sees_a_subaccount_being_made() {
    let emulator = BackgroundEmulator::start(config());
    let ws = Workspace::new(&emulator.url);
    ws.write("vapp.yaml", "version: 1\naccounts:\n  acme:\n    subaccount_of: default\n    name: ACME\n");
    ws.write(
        "p/accounts.rego",
        r#"package accounts
import rego.v1

deny contains sprintf("%s (%s) would be made", [account.name, account.kind]) if {
	some account in input.accounts
	some change in account.changes
	change.action == "create"
}

warn contains sprintf("%d accounts", [count(input.accounts)]) if { true }
"#,
    );
    let run = ws
        .vapp()
        .args(["-f", "vapp.yaml", "apply", "--auto-approve", "--policy", "p", "--policy-namespace", "accounts"])
        .expect(5);
    assert!(run.stdout.contains("✗ deny: acme (subaccount) would be made"), "{run:?}");
    assert!(run.stdout.contains("! warn: 2 accounts"), "{run:?}");
    let subaccounts = emulator.block_on(emulator.client().list_subaccounts()).unwrap();
    assert!(subaccounts.is_empty(), "no subaccount was made: {subaccounts:?}");
}
