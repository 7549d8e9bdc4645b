use super::*;

fn source(path: &str, text: &str) -> Source {
    Source { path: PathBuf::from(path), text: text.to_string() }
}

fn env(name: &str) -> Option<String> {
    match name {
        "ENV" => Some("staging".into()),
        _ => None,
    }
}

fn errors(text: &str) -> Vec<String> {
    loaded(&[("apps.yaml", text)]).expect_err("expected errors")
}

const FULL: &str = r#"
version: 1
applications:
  support-line:
    name: Support line (${ENV})
    protect: true
    capabilities:
      voice:
        webhooks:
          answer_url: https://support.example.com/answer
          event_url: { address: https://support.example.com/event, http_method: POST, socket_timeout: 8000 }
        signed_callbacks: true
        region: eu-west
      messages:
        webhooks:
          inbound_url: https://support.example.com/inbound
          status_url: https://support.example.com/status
      vbc: {}
    privacy: { improve_ai: false }
"#;

#[test]
fn a_full_manifest_loads() {
    let desired = load_sources(&[source("apps.yaml", FULL)], &env).unwrap();
    let app = &desired.apps["support-line"];
    assert_eq!(app.application.name, "Support line (staging)");
    assert!(app.protect);
    assert_eq!(app.source.to_string(), "apps.yaml:4:3");
    let voice = app.application.capabilities.as_ref().unwrap().voice.as_ref().unwrap();
    let hooks = voice.webhooks.as_ref().unwrap();
    assert_eq!(hooks.answer_url.as_ref().unwrap().address.expose(), "https://support.example.com/answer");
    assert_eq!(hooks.event_url.as_ref().unwrap().socket_timeout, Some(8000));
    assert_eq!(app.application.privacy.as_ref().unwrap().improve_ai, Some(false));
}

#[test]
fn unknown_keys_point_at_the_key_with_a_hint() {
    let text = "version: 1\napplications:\n  a:\n    name: x\n    capabilities:\n      voice:\n        webhooks:\n          answer_ur: https://a/\n";
    assert_eq!(
        errors(text),
        ["apps.yaml:8:11: unknown key `answer_ur` in capabilities.voice.webhooks (did you mean `answer_url`?)"]
    );
    let text = "version: 1\napplications:\n  a:\n    nmae: x\n";
    assert_eq!(errors(text), ["apps.yaml:4:5: unknown key `nmae` in applications.a (did you mean `name`?)"]);
    let text = "version: 1\napplications:\n  a:\n    name: x\n    capabilities:\n      voise: {}\n";
    assert_eq!(errors(text), ["apps.yaml:6:7: unknown key `voise` in capabilities (did you mean `voice`?)"]);
    let text = "versoin: 1\n";
    assert_eq!(errors(text), ["apps.yaml:1:1: unknown key `versoin` (did you mean `version`?)"]);
}

#[test]
fn wrong_types_name_the_path() {
    let text = "version: 1\napplications:\n  a:\n    name: x\n    capabilities:\n      voice:\n        conversations_ttl: soon\n";
    assert_eq!(
        errors(text),
        ["apps.yaml:7:28: expected a whole number at `applications.a.capabilities.voice.conversations_ttl`, found string \"soon\""]
    );
    let text = "version: 1\napplications:\n  a:\n    name: x\n    protect: maybe\n";
    assert_eq!(
        errors(text),
        ["apps.yaml:5:14: expected true or false at `applications.a.protect`, found string \"maybe\""]
    );
}

#[test]
fn api_rules_are_checked_locally() {
    let text = "version: 1\napplications:\n  a:\n    name: x\n    capabilities:\n      voice:\n        webhooks:\n          answer_url: { address: /answer, http_method: PUT }\n        region: mars\n";
    assert_eq!(
        errors(text),
        [
            "apps.yaml:8:34: capabilities.voice.webhooks.answer_url.address: must be an absolute http or https URL",
            "apps.yaml:8:56: capabilities.voice.webhooks.answer_url.http_method: must be one of: GET, POST",
            "apps.yaml:9:17: capabilities.voice.region: must be one of: na-east, na-west, eu-east, eu-west, apac-sng, apac-australia",
        ]
    );
    let text = "version: 1\napplications:\n  a:\n    name: x\n    capabilities:\n      voice:\n        webhooks:\n          answer_url: example.com\n";
    assert_eq!(
        errors(text),
        ["apps.yaml:8:23: capabilities.voice.webhooks.answer_url.address: must be an absolute http or https URL"]
    );
}

#[test]
fn unset_variables_and_bad_addresses() {
    let text = "version: 1\napplications:\n  a:\n    name: ${NOPE}\n  Bad_Name:\n    name: x\n";
    assert_eq!(
        errors(text),
        ["apps.yaml:4:11: environment variable `NOPE` is not set (set it, or give a default: `${NOPE:-value}`)"]
    );
    let text = "version: 1\napplications:\n  Bad_Name:\n    name: x\n";
    assert_eq!(
        errors(text),
        ["apps.yaml:3:3: `Bad_Name` is not a valid address (an address is lower-case letters, digits, `_` and `-`, starting with a letter or digit)"]
    );
}

#[test]
fn addresses_are_unique_across_files() {
    let a = source("a.yaml", "version: 1\napplications:\n  same:\n    name: one\n");
    let b = source("b.yaml", "version: 1\napplications:\n  other:\n    name: two\n  same:\n    name: three\n");
    let err = load_sources(&[a, b], &env).unwrap_err();
    assert_eq!(err.0.len(), 1);
    assert_eq!(err.0[0].location.to_string(), "b.yaml:5:3");
    assert_eq!(
        err.0[0].help.as_deref(),
        Some("it is first declared at a.yaml:3:3; addresses are unique across all files")
    );
}

#[test]
fn versions_and_shapes() {
    assert_eq!(
        errors("version: 2\napplications: {}\n"),
        ["apps.yaml:1:10: manifest version 2 is not supported (this vapp reads version 1)"]
    );
    assert_eq!(errors("applications: {}\n"), ["apps.yaml:1:1: missing required key `version`"]);
    assert_eq!(errors("- a\n- b\n"), ["apps.yaml:1:1: a manifest is a mapping with `version: 1` and `applications`"]);
}

#[test]
fn diagnostics_show_the_line() {
    let text = "version: 1\napplications:\n  a:\n    nmae: x\n";
    let err = load_sources(&[source("apps.yaml", text)], &env).unwrap_err();
    assert_eq!(
        err.to_string(),
        "apps.yaml:4:5: unknown key `nmae` in applications.a\n   |\n 4 |     nmae: x\n   |     ^\n  = help: did you mean `name`?"
    );
}

proptest::proptest! {
    /// Whatever bytes a manifest holds, loading answers with a value or diagnostics, never a panic.
    #[test]
    fn loading_never_panics(text in "\\PC{0,200}") {
        let _ = load_sources(&[source("fuzz.yaml", &text)], &env);
    }

    #[test]
    fn loading_never_panics_on_yamlish_text(text in "(version: 1\n|applications:\n|  [a-z]{1,3}:\n|    name: [a-z$\\{\\}]{0,5}\n|    capabilities: \\{[a-z: ]{0,8}\\}\n|[\\[\\]{}:,'\"&*!|>-]{1,3}\n){0,8}") {
        let _ = load_sources(&[source("fuzz.yaml", &text)], &env);
    }
}

#[test]
fn each_application_needs_its_own_public_key() {
    let pair = crate::keys::tests::shared_pair();
    let text = "version: 1\napplications:\n  a:\n    name: A\n    keys: { public_key_file: k.pub }\n  b:\n    name: B\n    keys: { public_key_file: same.pub }\n";
    let mut desired = load_sources(&[source("apps.yaml", text)], &env).unwrap();
    let read = |_: &std::path::Path| Ok(pair.public_key.clone());
    let err = resolve_key_files(&mut desired, &read).unwrap_err();
    assert_eq!(err.0.len(), 1);
    assert_eq!(err.0[0].message, "`b` uses the same public key as `a` (apps.yaml:5:30)");
    let private = |_: &std::path::Path| Ok(pair.private_key.expose().to_string());
    let mut desired = load_sources(&[source("apps.yaml", text)], &env).unwrap();
    let err = resolve_key_files(&mut desired, &private).unwrap_err();
    assert!(err.0[0].message.ends_with(
        "holds a private key; vapp needs only the public key, and a private key does not belong in the repository"
    ));
    assert!(!err.to_string().contains("BEGIN PRIVATE KEY"));
}

fn loaded(files: &[(&str, &str)]) -> Result<Desired, Vec<String>> {
    let sources: Vec<Source> = files.iter().map(|(path, text)| source(path, text)).collect();
    load_sources(&sources, &env).map_err(|e| {
        e.0.iter()
            .map(|d| {
                format!(
                    "{}: {}{}",
                    d.location,
                    d.message,
                    d.help.as_ref().map(|h| format!(" ({h})")).unwrap_or_default()
                )
            })
            .collect()
    })
}

#[test]
fn accounts_are_declared_once_in_any_file_and_files_name_theirs() {
    let accounts = "version: 1\naccounts:\n  staging:\n    api_key: 1a2b3c4d\n    api_secret_env: VONAGE_STAGING_API_SECRET\n  acme:\n    subaccount_of: default\n    name: ACME Corp\n    use_primary_account_balance: false\n";
    let staging = "version: 1\naccount: staging\napplications:\n  web:\n    name: web\n";
    let plain = "version: 1\napplications:\n  api:\n    name: api\n";
    let desired = loaded(&[("accounts.yaml", accounts), ("staging.yaml", staging), ("plain.yaml", plain)]).unwrap();
    assert_eq!(desired.apps["web"].account, "staging");
    assert_eq!(desired.apps["api"].account, "default", "a file without `account:` is the default account's");
    assert_eq!(
        desired.accounts["acme"].kind,
        accounts::AccountKind::Subaccount {
            parent: AccountName::default_account(),
            name: "ACME Corp".into(),
            use_primary_account_balance: false
        }
    );
    assert_eq!(
        desired.accounts["staging"].kind,
        accounts::AccountKind::Existing {
            api_key: crate::model::ApiKey::new("1a2b3c4d"),
            api_secret_env: "VONAGE_STAGING_API_SECRET".into()
        }
    );
    let without = loaded(&[("plain.yaml", plain)]).unwrap();
    assert!(without.accounts.is_empty(), "a manifest set without `accounts:` is as before");
}

#[test]
fn account_mistakes_point_at_the_file_and_never_echo_a_secret() {
    let text = "version: 1\naccounts:\n  staging:\n    api_key: 1a2b3c4d\n    api_secret: hunter2-Secret\n  acme:\n    subaccount_of: defualt\n    name: ACME\n  deep:\n    subaccount_of: acme2\n    name: Deep\n  acme2:\n    subaccount_of: default\n    name: ACME 2\n    api_secret_env: X\naccount: stagin\napplications:\n  web:\n    name: web\n";
    let found = loaded(&[("a.yaml", text)]).unwrap_err();
    let all = found.join("\n");
    assert!(!all.contains("hunter2"), "{all}");
    for expected in [
        "a.yaml:5:5: `api_secret` would put a secret into the manifest",
        "a.yaml:3:3: account `staging` names no variable for its secret",
        "a.yaml:15:5: a subaccount vapp makes has its secret made by vapp",
        "a.yaml:16:10: account `stagin` is not declared",
        "a.yaml:6:3: `acme` is a subaccount of `defualt`, which is not declared (did you mean `default`?)",
    ] {
        assert!(found.iter().any(|f| f.starts_with(expected)), "missing {expected:?} in:\n{all}");
    }
    let twice = "version: 1\naccounts:\n  acme:\n    subaccount_of: default\n    name: A\n";
    let found = loaded(&[("one.yaml", twice), ("two.yaml", twice)]).unwrap_err();
    assert_eq!(found, ["two.yaml:3:3: account `acme` is declared twice (it is first declared at one.yaml:3:3; declare each account once, in any file)"]);
    let nested = "version: 1\naccounts:\n  acme:\n    subaccount_of: default\n    name: A\n  deep:\n    subaccount_of: acme\n    name: D\n  same:\n    api_key: k\n    api_secret_env: A\n  again:\n    api_key: k\n    api_secret_env: B\n";
    let found = loaded(&[("n.yaml", nested)]).unwrap_err();
    assert!(found[0].starts_with("n.yaml:6:3: `deep` is a subaccount of `acme`, itself a subaccount"), "{found:?}");
    assert!(found[1].starts_with("n.yaml:12:3: accounts `same` and `again` have the same API key k"), "{found:?}");
}
