//! Manifests through the binary: validation errors with positions, the schema and the examples.

use crate::harness::{repo_path, Workspace};

#[test]
fn malformed_manifests_point_at_file_line_and_column() {
    let ws = Workspace::new("http://127.0.0.1:9");
    let cases = [
        ("version: 1\napplications:\n  a:\n    name: x\n    capabilities:\n      voice:\n        webhooks:\n          answer_ur: https://a/\n",
         "vapp.yaml:8:11: unknown key `answer_ur` in capabilities.voice.webhooks"),
        ("version: 1\napplications:\n  a:\n    name: [unclosed\n", "vapp.yaml:5:1: invalid YAML"),
        ("version: 1\napplications:\n  a:\n    name: ${UNSET_FOR_TEST}\n", "vapp.yaml:4:11: environment variable `UNSET_FOR_TEST` is not set"),
        ("version: 1\napplications:\n  a:\n    name: x\n    capabilities:\n      voice:\n        region: moon\n", "vapp.yaml:7:17: capabilities.voice.region: must be one of"),
        ("\u{0}\u{1}binary", "vapp.yaml:1:1"),
    ];
    for (text, expected) in cases {
        ws.write("vapp.yaml", text);
        let run = ws.vapp().args(["validate"]).expect(1);
        assert!(run.stderr.contains(expected), "expected {expected:?} in {run:?}");
    }
}

#[test]
fn a_missing_manifest_says_how_to_name_one() {
    let ws = Workspace::new("http://127.0.0.1:9");
    let run = ws.vapp().args(["validate"]).expect(1);
    assert_eq!(run.stderr, "error: no manifest found at vapp.yaml\n  = help: name manifests with -f FILE or -f DIR\n");
}

/// The schema editors check manifests with and the rules `validate` applies are one set of
/// constraints: at every bound and for every enum value they agree.
#[test]
fn the_schema_and_the_rules_agree_at_every_bound() {
    use vapp::model::rules::{self, Range};
    let validator = jsonschema::validator_for(vapp::manifest::manifest_schema()).unwrap();
    let check = |pointer: &str, value: serde_json::Value| {
        let mut app = serde_json::json!({"name": "x", "capabilities": {
            "voice": {"webhooks": {"answer_url": {"address": "https://a.example.com/"}, "event_url": {"address": "https://e.example.com/"}}},
            "messages": {}, "verify": {}, "rtc": {"webhooks": {"event_url": {"address": "https://r.example.com/"}}}}});
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        app.pointer_mut(parent).unwrap_or_else(|| panic!("{pointer}"))[key] = value.clone();
        let manifest = serde_json::json!({"version": 1, "applications": {"a": app.clone()}});
        let schema_accepts = validator.is_valid(&manifest);
        let parsed: vapp::model::Application = serde_json::from_value(app).unwrap();
        let rules_accept = rules::validate(&parsed).is_empty();
        (schema_accepts, rules_accept, format!("{pointer} = {value}"))
    };
    let ranges: [(&str, Range); 5] = [
        ("/capabilities/voice/conversations_ttl", rules::CONVERSATIONS_TTL),
        ("/capabilities/voice/leg_persistence_time", rules::LEG_PERSISTENCE_TIME),
        ("/capabilities/voice/webhooks/answer_url/connect_timeout", rules::CONNECT_TIMEOUT),
        ("/capabilities/voice/webhooks/event_url/connect_timeout", rules::CONNECT_TIMEOUT),
        ("/capabilities/voice/webhooks/event_url/socket_timeout", rules::EVENT_SOCKET_TIMEOUT),
    ];
    for (pointer, range) in ranges {
        for value in [range.min - 1, range.min, range.max, range.max + 1] {
            let (schema, rules, case) = check(pointer, value.into());
            assert_eq!(schema, rules, "{case}");
        }
    }
    // One webhook type in the schema serves every voice webhook: for answer URLs it allows up to the
    // event URLs' bound, and only `validate` knows the tighter one.
    let answer = "/capabilities/voice/webhooks/answer_url/socket_timeout";
    for value in
        [rules::ANSWER_SOCKET_TIMEOUT.min - 1, rules::ANSWER_SOCKET_TIMEOUT.min, rules::ANSWER_SOCKET_TIMEOUT.max]
    {
        let (schema, rules, case) = check(answer, value.into());
        assert_eq!(schema, rules, "{case}");
    }
    let (schema, rules, case) = check(answer, (rules::ANSWER_SOCKET_TIMEOUT.max + 1).into());
    assert!(schema && !rules, "{case}");
    let enums: [(&str, &[&str]); 4] = [
        ("/capabilities/voice/region", &rules::REGIONS),
        ("/capabilities/messages/version", &rules::MESSAGES_VERSIONS),
        ("/capabilities/verify/version", &rules::VERIFY_VERSIONS),
        ("/capabilities/rtc/webhooks/event_url/http_method", &rules::HTTP_METHODS),
    ];
    for (pointer, allowed) in enums {
        for value in allowed.iter().copied().chain(["bogus"]) {
            let (schema, rules, case) = check(pointer, value.into());
            assert_eq!(schema, rules, "{case}");
            assert_eq!(rules, value != "bogus", "{case}");
        }
    }
}

#[test]
fn the_checked_in_schema_is_current() {
    let ws = Workspace::new("http://127.0.0.1:9");
    let printed = ws.vapp().args(["schema"]).expect(0).stdout;
    let checked_in = std::fs::read_to_string(repo_path("schemas/vapp.schema.json")).unwrap();
    assert!(
        printed == checked_in,
        "schemas/vapp.schema.json is stale: run `cargo run -- schema > schemas/vapp.schema.json`"
    );
    let printed = ws.vapp().args(["schema", "--scenarios"]).expect(0).stdout;
    let checked_in = std::fs::read_to_string(repo_path("schemas/vapp.scenarios.schema.json")).unwrap();
    assert!(
        printed == checked_in,
        "schemas/vapp.scenarios.schema.json is stale: run `cargo run -- schema --scenarios > schemas/vapp.scenarios.schema.json`"
    );
    // The example scenarios read (they are a template: their hosts are the reader's own).
    let example = repo_path("examples/scenarios/ivr.yaml");
    let text = std::fs::read_to_string(&example).unwrap();
    let read = vapp::webhooks::scenario::read(&example, &text).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(read.len(), 4);
}

/// Every example validates against the JSON Schema and loads with vapp, for both environments.
#[test]
fn every_example_validates_against_the_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo_path("schemas/vapp.schema.json")).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut files = Vec::new();
    for dir in ["examples", "examples/environments"] {
        for entry in std::fs::read_dir(repo_path(dir)).unwrap() {
            let path = entry.unwrap().path();
            if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 6, "{files:?}");
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let sources = [vapp::manifest::Source { path: path.clone(), text: text.clone() }];
        // The raw document (before ${VAR} expansion) against the schema, as an editor sees it.
        let raw = vapp::manifest::load_sources(&sources, &|_| Some("x".into())).map(|_| ()).map_err(|e| e.to_string());
        assert!(raw.is_ok(), "{}: {raw:?}", path.display());
        let document = yaml_to_json(&text);
        let errors: Vec<String> =
            validator.iter_errors(&document).map(|e| format!("{e} at {}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
    for env in ["staging", "production"] {
        let ws = Workspace::new("http://127.0.0.1:9");
        let dir = repo_path("examples/environments");
        let run = ws.vapp().args(["validate", "-f"]).arg_path(&dir).env("ENV", env).expect(0);
        assert!(run.stdout.contains("3 applications"), "{run:?}");
    }
    let ws = Workspace::new("http://127.0.0.1:9");
    let run = ws.vapp().args(["validate", "-f"]).arg_path(&repo_path("examples")).expect(0);
    assert!(run.stdout.contains("4 applications"), "{run:?}");
}

/// The YAML of an example as JSON, through vapp's own reader with variables left as written.
fn yaml_to_json(text: &str) -> serde_json::Value {
    vapp::manifest::yaml_document(text).unwrap()
}

trait ArgPath {
    fn arg_path(self, path: &std::path::Path) -> Self;
}

impl ArgPath for crate::harness::Vapp {
    fn arg_path(self, path: &std::path::Path) -> Self {
        self.args([path])
    }
}

/// The action and the CI examples are well-formed YAML, give the action a command it has, and the
/// action runs vapp's commands with options this vapp takes.
#[test]
fn the_action_and_the_ci_examples_use_real_commands() {
    let action = std::fs::read_to_string(repo_path("action.yml")).unwrap();
    let parsed = vapp::manifest::yaml_document(&action).unwrap();
    assert_eq!(parsed["runs"]["using"], serde_json::json!("composite"));
    for input in ["version", "command", "args", "working-directory"] {
        assert!(parsed["inputs"][input].is_object(), "the action takes `{input}`");
    }
    for run in [
        "vapp plan --detailed-exitcode --format markdown -o",
        "vapp apply --auto-approve",
        "vapp check --format markdown",
        "vapp simulate run",
    ] {
        assert!(action.contains(run), "the action runs `{run}`");
    }
    for example in ["plan", "apply", "drift", "call-scenarios"] {
        let text = std::fs::read_to_string(repo_path(&format!("examples/ci/{example}.yml"))).unwrap();
        let workflow = vapp::manifest::yaml_document(&text).unwrap();
        let steps: Vec<&serde_json::Value> =
            workflow["jobs"].as_object().unwrap().values().flat_map(|j| j["steps"].as_array().unwrap()).collect();
        let commands: Vec<&str> = steps
            .iter()
            .filter(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("example-org/vapp@")))
            .map(|s| s["with"]["command"].as_str().unwrap())
            .collect();
        assert!(!commands.is_empty(), "{example} uses the action");
        assert!(commands.iter().all(|c| ["plan", "apply", "check", "simulate run"].contains(c)), "{commands:?}");
        if example != "call-scenarios" {
            // The state is used where it lives, its keys encrypted: never copied in and out by hand.
            assert!(
                text.contains("VAPP_STATE: s3://")
                    && text.contains("VAPP_STATE_PASSPHRASE")
                    && !text.contains("aws s3 cp")
            );
        }
    }
    let ws = Workspace::new("http://127.0.0.1:9");
    let help = ws.vapp().args(["plan", "--help"]).expect(0).stdout;
    for flag in ["--detailed-exitcode", "--format", "--max-deletes", "-o"] {
        assert!(help.contains(flag), "{flag} in {help}");
    }
    let help = ws.vapp().args(["apply", "--help"]).expect(0).stdout;
    assert!(help.contains("--auto-approve"), "{help}");
    let help = ws.vapp().args(["check", "--help"]).expect(0).stdout;
    assert!(help.contains("--format") && help.contains("markdown"), "{help}");
}

#[test]
fn accounts_are_validated_and_what_is_not_built_is_refused() {
    let ws = Workspace::new("http://127.0.0.1:9");
    ws.write(
        "vapp.yaml",
        "version: 1\naccounts:\n  staging:\n    api_key: 1a2b3c4d\n    api_secret: Hunter2secret\naccount: staging\napplications:\n  web:\n    name: web\n",
    );
    let run = ws.vapp().args(["validate"]).expect(1);
    assert!(run.stderr.contains("vapp.yaml:5:5: `api_secret` would put a secret into the manifest"), "{run:?}");
    assert!(!run.stderr.contains("Hunter2secret"), "a secret written into a manifest is never echoed: {run:?}");

    // An import into another account signs in to it: its secret must be there.
    ws.write(
        "vapp.yaml",
        "version: 1\naccounts:\n  staging:\n    api_key: 1a2b3c4d\n    api_secret_env: VONAGE_STAGING_API_SECRET\naccount: staging\napplications:\n  web:\n    name: web\n",
    );
    let run = ws.vapp().args(["import", "web", "00000000-0000-4000-8000-000000000000"]).expect(1);
    assert!(run.stderr.contains("account staging needs its API secret in VONAGE_STAGING_API_SECRET"), "{run:?}");

    ws.write(
        "vapp.yaml",
        "version: 1\naccounts:\n  staging:\n    api_key: 1a2b3c4d\n    api_secret_env: VONAGE_STAGING_API_SECRET\n  team:\n    subaccount_of: staging\n    name: Team\naccount: staging\napplications:\n  web:\n    name: web\n",
    );
    let run = ws.vapp().args(["validate"]).expect(0);
    assert_eq!(run.stdout, "The manifests are valid: 1 application in 3 accounts.\n");
    // A subaccount of another account than `default` is not made by this vapp: refused, nothing read.
    for command in [&["plan"][..], &["apply", "--auto-approve"]] {
        let run = ws.vapp().args(command).expect(1);
        assert!(
            run.stderr.contains("vapp.yaml:7:5: `team` is a subaccount of an account besides `default`")
                || run.stderr.contains("vapp.yaml:6:3: `team` is a subaccount of an account besides `default`"),
            "{run:?}"
        );
    }
}
