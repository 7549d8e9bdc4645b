use super::*;
use crate::manifest::{load_sources, Source};
use crate::plan::render::{render_human, render_json, render_markdown};
use crate::state::KeyRecord;
use serde_json::json;
use std::path::PathBuf;

fn desired(yaml: &str) -> Desired {
    load_sources(&[Source { path: PathBuf::from("apps.yaml"), text: yaml.to_string() }], &|_| None).unwrap()
}

fn live(v: Value) -> Application {
    serde_json::from_value(v).unwrap()
}

const PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n";

fn managed(id: Option<&str>, applied: Option<Value>) -> StateEntry {
    StateEntry {
        id: id.map(str::to_string),
        key: KeyRecord::Managed {
            fingerprint: format!("sha256:{}", id.unwrap_or("pending")),
            private_key: crate::keys::PrivateKeyPem::new("secret".into()),
        },
        protect: false,
        applied,
        ..Default::default()
    }
}

const MANIFEST: &str = r#"
version: 1
applications:
  new-ivr:
    name: IVR
    capabilities:
      voice:
        webhooks:
          answer_url: https://ivr.example.com/answer
          event_url: https://ivr.example.com/event
  support:
    name: Support
    capabilities:
      voice:
        webhooks:
          answer_url: https://support.example.com/answer-v2
      vbc: {}
  same:
    name: Same
    capabilities:
      messages:
        webhooks:
          inbound_url: https://m.example.com/in
  vanished:
    name: Vanished
"#;

fn fixture() -> (Desired, State, Vec<Application>) {
    let desired = desired(MANIFEST);
    let support_live = live(json!({"id": "id-support", "name": "Support", "keys": {"public_key": PUBLIC},
        "capabilities": {"voice": {"webhooks": {"answer_url": {"address": "https://support.example.com/answer", "http_method": "GET"}},
                                   "payments": {"gateways": []}}},
        "_links": {"self": {"href": "/v2/applications/id-support"}}}));
    let same_live = live(json!({"id": "id-same", "name": "Same", "keys": {"public_key": PUBLIC},
        "capabilities": {"messages": {"webhooks": {"inbound_url": {"address": "https://m.example.com/in"}}, "version": "v1"}},
        "privacy": {"improve_ai": true}}));
    let old_live =
        live(json!({"id": "id-old", "name": "Old", "keys": {"public_key": PUBLIC}, "capabilities": {"vbc": {}}}));
    let unmanaged = live(json!({"id": "id-other", "name": "IVR", "keys": {"public_key": PUBLIC}}));
    let mut state = State::new("lineage-1".into());
    state.serial = 7;
    // What was applied to `support` before someone changed its answer URL method in the dashboard.
    let mut applied_support = comparable(&support_live);
    applied_support["capabilities"]["voice"]["webhooks"]["answer_url"]["http_method"] = json!("POST");
    state.applications.insert("support".into(), managed(Some("id-support"), Some(applied_support)));
    state.applications.insert("same".into(), managed(Some("id-same"), Some(comparable(&same_live))));
    state.applications.insert("old".into(), managed(Some("id-old"), None));
    state.applications.insert("vanished".into(), managed(Some("id-vanished"), None));
    (desired, state, vec![support_live, same_live, old_live, unmanaged])
}

#[test]
fn golden_plan_and_renderings() {
    let (desired, state, live) = fixture();
    let plan = plan(&PlanInput { desired: &desired, state: Some(&state), live: &live, targets: &[] });
    let actions: Vec<_> = plan.changes.iter().map(|c| (c.address.as_str(), c.action)).collect();
    assert_eq!(
        actions,
        [
            ("new-ivr", Action::Create),
            ("old", Action::Delete),
            ("same", Action::NoOp),
            ("support", Action::Update),
            ("vanished", Action::Recreate),
        ]
    );
    insta::assert_snapshot!("human", render_human(&plan, false));
    insta::assert_snapshot!("json", render_json(&plan));
    insta::assert_snapshot!("markdown", render_markdown(&plan));
    let text = format!("{}{}{}", render_human(&plan, true), render_json(&plan), render_markdown(&plan));
    assert!(!text.contains("secret"), "no key material in any rendering");
}

#[test]
fn updates_keep_unmodelled_fields_and_the_live_key() {
    let (desired, state, live) = fixture();
    let plan = plan(&PlanInput { desired: &desired, state: Some(&state), live: &live, targets: &[] });
    let support = plan.changes.iter().find(|c| c.address == "support").unwrap();
    let body = serde_json::to_value(support.body.as_ref().unwrap()).unwrap();
    assert_eq!(body["capabilities"]["voice"]["payments"], json!({"gateways": []}));
    assert_eq!(body["keys"]["public_key"], json!(PUBLIC));
    assert!(body.get("_links").is_none());
    let paths: Vec<_> = support.diff.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "capabilities.vbc",
            "capabilities.voice.webhooks.answer_url.address",
            "capabilities.voice.webhooks.answer_url.http_method"
        ]
    );
}

#[test]
fn targets_limit_the_plan() {
    let (desired, state, live) = fixture();
    let targets = vec!["old".to_string()];
    let plan = plan(&PlanInput { desired: &desired, state: Some(&state), live: &live, targets: &targets });
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].action, Action::Delete);
}

#[test]
fn protected_applications_are_never_deleted() {
    let (_, mut state, live) = fixture();
    state.applications.get_mut("old").unwrap().protect = true;
    let plan = plan(&PlanInput { desired: &Desired::default(), state: Some(&state), live: &live, targets: &[] });
    let old = plan.changes.iter().find(|c| c.address == "old").unwrap();
    assert_eq!(old.action, Action::NoOp);
    assert!(plan.warnings.iter().any(|w| w.starts_with("old is protected")));
}

#[test]
fn unconfirmed_creates_are_adopted_by_fingerprint_or_sent_again() {
    let pair = crate::keys::tests::shared_pair();
    let desired = desired("version: 1\napplications:\n  a:\n    name: A\n  b:\n    name: B\n");
    let mut state = State::new("l".into());
    for address in ["a", "b"] {
        state.applications.insert(
            address.into(),
            StateEntry {
                id: None,
                key: KeyRecord::Managed {
                    fingerprint: pair.fingerprint.clone(),
                    private_key: pair.private_key.clone(),
                },
                protect: false,
                applied: None,
                ..Default::default()
            },
        );
    }
    // Only `a`'s create reached the account: pretend `b` used another key.
    state.applications.get_mut("b").unwrap().key =
        KeyRecord::Managed { fingerprint: "sha256:other".into(), private_key: pair.private_key.clone() };
    let live = vec![live(
        json!({"id": "id-a", "name": "A", "keys": {"public_key": pair.public_key}, "capabilities": {}, "privacy": {"improve_ai": true}}),
    )];
    let plan = plan(&PlanInput { desired: &desired, state: Some(&state), live: &live, targets: &[] });
    assert_eq!(plan.changes[0].action, Action::Adopt);
    assert_eq!(plan.changes[0].id.as_deref(), Some("id-a"));
    assert!(plan.changes[0].body.is_none(), "nothing to change after adopting");
    assert_eq!(plan.changes[1].action, Action::Create);
    assert_eq!(plan.changes[1].key, Some(KeyPlan::Reuse { fingerprint: "sha256:other".into() }));
}

/// What the API stores for a body: the emulator's defaults, an id and the key.
fn as_api_stores(body: &Application, id: &str) -> Application {
    let mut app = defaults::fill(body);
    app.id = Some(id.to_string());
    app.keys.get_or_insert_with(|| Keys { public_key: Some(PUBLIC.into()), ..Default::default() });
    app
}

/// Carries a plan out the way the executor does, against an in-memory account.
fn simulate_apply(plan: &Plan, state: &mut State, live: &mut Vec<Application>) {
    for (n, change) in plan.changes.iter().enumerate() {
        let entry_id = match change.action {
            Action::Create | Action::Recreate => {
                let id = format!("new-{}-{n}", state.serial);
                live.push(as_api_stores(change.body.as_ref().unwrap(), &id));
                Some(id)
            }
            Action::Update | Action::Adopt => {
                let id = change.id.clone().unwrap();
                if let Some(body) = &change.body {
                    let slot = live.iter_mut().find(|a| a.id.as_deref() == Some(&id)).unwrap();
                    *slot = as_api_stores(body, &id);
                }
                Some(id)
            }
            Action::Delete => {
                live.retain(|a| a.id != change.id);
                state.applications.remove(&change.address);
                continue;
            }
            Action::NoOp | Action::RotateKey => change.id.clone(),
        };
        let applied = live.iter().find(|a| a.id == entry_id).map(comparable);
        let entry = state.applications.entry(change.address.clone()).or_insert_with(|| managed(None, None));
        entry.id = entry_id;
        entry.applied = applied;
        entry.protect = change.protect;
    }
    state.serial += 1;
}

#[test]
fn planning_again_after_apply_changes_nothing() {
    let (desired, mut state, mut live) = fixture();
    let first = plan(&PlanInput { desired: &desired, state: Some(&state), live: &live, targets: &[] });
    simulate_apply(&first, &mut state, &mut live);
    let second = plan(&PlanInput { desired: &desired, state: Some(&state), live: &live, targets: &[] });
    assert!(!second.has_changes(), "{}", render_human(&second, false));
    assert!(second.drift.is_empty(), "{:?}", second.drift);
    assert!(live.iter().any(|a| a.id.as_deref() == Some("id-other")), "unmanaged applications are never touched");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn url() -> impl Strategy<Value = String> {
        "[a-z]{1,6}".prop_map(|h| format!("https://{h}.example.com/hook"))
    }

    fn webhook_yaml(name: &'static str) -> impl Strategy<Value = String> {
        (url(), proptest::option::of(prop_oneof![Just("GET"), Just("POST")]), proptest::option::of(300u32..=1000))
            .prop_map(move |(u, m, t)| {
                let mut s = format!("{name}: {{ address: {u}");
                if let Some(m) = m {
                    s.push_str(&format!(", http_method: {m}"));
                }
                if let Some(t) = t {
                    s.push_str(&format!(", connect_timeout: {t}"));
                }
                s.push_str(" }");
                s
            })
    }

    fn app_yaml() -> impl Strategy<Value = String> {
        (
            "[A-Za-z][A-Za-z ]{0,11}",
            proptest::option::of(webhook_yaml("answer_url")),
            proptest::option::of(webhook_yaml("event_url")),
            proptest::option::of(1u32..=9000),
            any::<bool>(),
            proptest::option::of(any::<bool>()),
            proptest::option::of(prop_oneof![Just("eu-west"), Just("na-east")]),
        )
            .prop_map(|(name, answer, event, ttl, vbc, improve_ai, region)| {
                let mut s = format!("    name: \"{}\"\n    capabilities:\n", name.trim().replace('"', ""));
                s.push_str("      voice:\n        webhooks:\n");
                if answer.is_none() && event.is_none() {
                    s.push_str("          {}\n");
                }
                for hook in [answer, event].into_iter().flatten() {
                    s.push_str(&format!("          {hook}\n"));
                }
                if let Some(ttl) = ttl {
                    s.push_str(&format!("        conversations_ttl: {ttl}\n"));
                }
                if let Some(region) = region {
                    s.push_str(&format!("        region: {region}\n"));
                }
                if vbc {
                    s.push_str("      vbc: {}\n");
                }
                if let Some(i) = improve_ai {
                    s.push_str(&format!("    privacy: {{ improve_ai: {i} }}\n"));
                }
                s
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// For any manifest pair: apply the first, then the second; planning again then shows nothing.
        #[test]
        fn apply_then_plan_is_empty(first in proptest::collection::vec(app_yaml(), 1..4), second in proptest::collection::vec(app_yaml(), 0..4)) {
            let manifest = |apps: &[String]| {
                let mut s = String::from("version: 1\napplications:\n");
                for (i, app) in apps.iter().enumerate() {
                    s.push_str(&format!("  app-{i}:\n{app}"));
                }
                if apps.is_empty() { s.push_str("  {}\n"); }
                desired(&s)
            };
            let mut state = State::new("l".into());
            let mut live = Vec::new();
            for apps in [&first, &second] {
                let wanted = manifest(apps);
                let p = plan(&PlanInput { desired: &wanted, state: Some(&state), live: &live, targets: &[] });
                simulate_apply(&p, &mut state, &mut live);
                let again = plan(&PlanInput { desired: &wanted, state: Some(&state), live: &live, targets: &[] });
                prop_assert!(!again.has_changes(), "{}", render_human(&again, false));
                prop_assert!(again.drift.is_empty());
                prop_assert_eq!(live.len(), apps.len());
            }
        }
    }
}

#[test]
fn an_unconfirmed_create_never_adopts_an_application_another_address_manages() {
    let pair = crate::keys::tests::shared_pair();
    let desired = desired("version: 1\napplications:\n  a:\n    name: A\n  b:\n    name: B\n");
    let mut state = State::new("l".into());
    let key = KeyRecord::Managed { fingerprint: pair.fingerprint.clone(), private_key: pair.private_key.clone() };
    state
        .applications
        .insert("a".into(), StateEntry { id: Some("id-a".into()), key: key.clone(), ..Default::default() });
    let intent = crate::state::Intent {
        action: "create".into(),
        fingerprint: Some(pair.fingerprint.clone()),
        name: Some("B".into()),
    };
    state.applications.insert("b".into(), StateEntry { id: None, key, intent: Some(intent), ..Default::default() });
    let same_key = |id: &str, name: &str| {
        live(
            json!({"id": id, "name": name, "keys": {"public_key": pair.public_key}, "capabilities": {}, "privacy": {"improve_ai": true}}),
        )
    };
    // Only `a`'s application holds the key: `b`'s create did not happen, so it is sent again.
    let accounts = [vec![same_key("id-a", "A")], vec![same_key("id-a", "A"), same_key("id-x", "Someone else's")]];
    for account in &accounts {
        let made = plan(&PlanInput { desired: &desired, state: Some(&state), live: account, targets: &[] });
        let b = made.changes.iter().find(|c| c.address == "b").unwrap();
        assert_eq!(b.action, Action::Create, "{:?}", made.changes);
    }
    // Two unmanaged applications with the key and the name sent: vapp cannot tell, so it does nothing.
    let twins = vec![same_key("id-a", "A"), same_key("id-1", "B"), same_key("id-2", "B")];
    let ambiguous = plan(&PlanInput { desired: &desired, state: Some(&state), live: &twins, targets: &[] });
    assert!(ambiguous.changes.iter().all(|c| c.address != "b"));
    let lost = "b: an earlier create's answer was lost and 2 unmanaged applications";
    assert!(ambiguous.warnings.iter().any(|w| w.starts_with(lost)), "{:?}", ambiguous.warnings);
    // One: it is ours.
    let found = vec![same_key("id-a", "A"), same_key("id-1", "B")];
    let adopted = plan(&PlanInput { desired: &desired, state: Some(&state), live: &found, targets: &[] });
    let b = adopted.changes.iter().find(|c| c.address == "b").unwrap();
    assert_eq!((b.action, b.id.as_deref()), (Action::Adopt, Some("id-1")));
}
