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
    assert!(run.stderr.contains("no manifest found at vapp.yaml (name manifests with -f FILE or -f DIR)"), "{run:?}");
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

/// The CI example is well-formed YAML and runs the commands this vapp has.
#[test]
fn the_ci_example_is_valid_yaml_using_real_commands() {
    let text = std::fs::read_to_string(repo_path("examples/ci/github-actions.yml")).unwrap();
    let workflow = vapp::manifest::yaml_document(&text).unwrap();
    assert!(workflow["jobs"]["plan"]["steps"].is_array());
    assert!(text.contains("vapp -f apps plan --detailed-exitcode --format markdown"));
    assert!(text.contains("vapp -f apps apply --auto-approve --max-deletes 3 --lock-timeout 5m"));
    let ws = Workspace::new("http://127.0.0.1:9");
    ws.vapp().args(["apply", "--help"]).expect(0);
    let help = ws.vapp().args(["apply", "--help"]).expect(0).stdout;
    for flag in ["--auto-approve", "--max-deletes", "--lock-timeout"] {
        assert!(help.contains(flag), "{flag} in {help}");
    }
}
