use super::*;
use crate::api::numbers::OwnedNumber;
use crate::emulator::SEED_PUBLIC_KEYS;
use crate::manifest::{load_sources, Source};
use crate::plan::render::{render_human, render_json, render_markdown, HumanStyle};
use crate::plan::{AdoptThen, Origin, Plan, Route, Summary};
use crate::state::KeyRecord;
use serde_json::json;
use std::fmt::Write;
use std::path::PathBuf;

fn desired(yaml: &str) -> Desired {
    load_sources(&[Source { path: PathBuf::from("apps.yaml"), text: yaml.to_string() }], &|_| None).unwrap()
}

fn live(v: Value) -> Application {
    serde_json::from_value(v).unwrap()
}

/// `live` as the listing hands it to a plan against `state`: whole where the state names it.
fn listed(state: &State, live: &[Application]) -> Vec<Listed> {
    let keep = listing_keeps(Some(state));
    live.iter().cloned().map(|app| keep.listed(app)).collect()
}

fn plan_of(desired: &Desired, state: &State, live: &[Application]) -> Plan {
    let live = listed(state, live);
    plan(&PlanInput { desired, state: Some(state), live: &live, targets: &[], numbers: &[] }).unwrap()
}

const PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n";

fn managed(id: Option<&str>, applied: Option<Value>) -> StateEntry {
    StateEntry {
        id: id.map(AppId::new),
        key: KeyRecord::managed(
            Fingerprint::new(format!("sha256:{}", id.unwrap_or("pending"))),
            crate::keys::PrivateKeyPem::new("secret".into()),
        ),
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
    let mut applied_support = comparable(&support_live).unwrap();
    applied_support["capabilities"]["voice"]["webhooks"]["answer_url"]["http_method"] = json!("POST");
    state.applications.insert(Address::new("support"), managed(Some("id-support"), Some(applied_support)));
    state.applications.insert(Address::new("same"), managed(Some("id-same"), Some(comparable(&same_live).unwrap())));
    state.applications.insert(Address::new("old"), managed(Some("id-old"), None));
    state.applications.insert(Address::new("vanished"), managed(Some("id-vanished"), None));
    (desired, state, vec![support_live, same_live, old_live, unmanaged])
}

#[test]
fn golden_plan_and_renderings() {
    let (desired, state, live) = fixture();
    let plan = plan_of(&desired, &state, &live);
    let actions: Vec<_> = plan.changes.iter().map(|c| (c.address.as_str(), c.action())).collect();
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
    insta::assert_snapshot!("human", render_human(&plan, HumanStyle::default()));
    insta::assert_snapshot!("json", render_json(&plan));
    insta::assert_snapshot!("markdown", render_markdown(&plan));
    let text = format!(
        "{}{}{}",
        render_human(&plan, HumanStyle { color: true, defaults: true }),
        render_json(&plan),
        render_markdown(&plan)
    );
    assert!(!text.contains("secret"), "no key material in any rendering");
}

#[test]
fn updates_keep_unmodelled_fields_and_the_live_key() {
    let (desired, state, live) = fixture();
    let plan = plan_of(&desired, &state, &live);
    let support = plan.changes.iter().find(|c| c.address == "support").unwrap();
    let Step::Update(Update { id, body }) = &support.step else { panic!("an update: {support:?}") };
    assert_eq!(id, "id-support");
    let body = serde_json::to_value(body).unwrap();
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
fn the_keys_expected_before_listing_are_the_keys_the_plan_makes() {
    let (desired, state, live) = fixture();
    // `new-ivr` is new; the rest exist with their keys.
    assert_eq!(keys_expected(&desired, Some(&state), &[]), 1);
    assert_eq!(plan_of(&desired, &state, &live).keys_to_generate(), 1);
    assert_eq!(keys_expected(&desired, None, &[]), desired.apps.len());
    assert_eq!(keys_expected(&desired, Some(&state), &[Address::new("support")]), 0);
}

#[test]
fn targets_limit_the_plan_and_unknown_targets_are_named() {
    let (desired, state, live) = fixture();
    let targets = vec![Address::new("old"), Address::new("nope")];
    let live = listed(&state, &live);
    let plan =
        plan(&PlanInput { desired: &desired, state: Some(&state), live: &live, targets: &targets, numbers: &[] })
            .unwrap();
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].step, Step::Delete { id: AppId::new("id-old") });
    assert_eq!(plan.warnings, [Warning::TargetMatchesNothing { target: Address::new("nope") }]);
}

#[test]
fn protected_applications_are_never_deleted() {
    let (_, mut state, live) = fixture();
    state.applications.get_mut("old").unwrap().protect = true;
    let plan = plan_of(&Desired::default(), &state, &live);
    let old = plan.changes.iter().find(|c| c.address == "old").unwrap();
    assert!(matches!(old.step, Step::NoOp { .. }), "{old:?}");
    assert!(plan.warnings.contains(&Warning::Protected { address: Address::new("old") }));
}

fn unconfirmed(key: KeyRecord, name: Option<&str>) -> StateEntry {
    let intent = Intent::Create { fingerprint: key.fingerprint().cloned(), name: name.map(str::to_string) };
    StateEntry { id: None, key, intent: Some(intent), ..Default::default() }
}

#[test]
fn unconfirmed_creates_are_adopted_by_fingerprint_or_sent_again_after_a_look() {
    let pair = crate::keys::tests::shared_pair();
    let desired = desired("version: 1\napplications:\n  a:\n    name: A\n  b:\n    name: B\n");
    let mut state = State::new("l".into());
    state.applications.insert(
        Address::new("a"),
        unconfirmed(KeyRecord::managed(pair.fingerprint.clone(), pair.private_key.clone()), Some("A")),
    );
    // `b` used another key, which the account does not have: its create did not happen.
    let other = KeyRecord::managed(Fingerprint::new("sha256:other"), pair.private_key.clone());
    state.applications.insert(Address::new("b"), unconfirmed(other, Some("B")));
    let live = vec![live(
        json!({"id": "id-a", "name": "A", "keys": {"public_key": pair.public_key}, "capabilities": {}, "privacy": {"improve_ai": true}}),
    )];
    let plan = plan_of(&desired, &state, &live);
    let Step::Adopt(adopt) = &plan.changes[0].step else { panic!("adopt: {:?}", plan.changes[0]) };
    assert_eq!((adopt.id.as_str(), adopt.then.is_none()), ("id-a", true), "nothing to change after adopting");
    let Step::Create(create) = &plan.changes[1].step else { panic!("create: {:?}", plan.changes[1]) };
    assert_eq!(create.key, NewKey::Held { fingerprint: Fingerprint::new("sha256:other") });
    // The killed run's POST may still land: the executor looks again before sending.
    assert_eq!(
        create.look_first,
        Some(LostCreate { fingerprint: Fingerprint::new("sha256:other"), name: Some("B".into()) })
    );
}

#[test]
fn an_unconfirmed_create_never_adopts_an_application_another_address_manages() {
    let pair = crate::keys::tests::shared_pair();
    let desired = desired("version: 1\napplications:\n  a:\n    name: A\n  b:\n    name: B\n");
    let mut state = State::new("l".into());
    let key = KeyRecord::managed(pair.fingerprint.clone(), pair.private_key.clone());
    state
        .applications
        .insert(Address::new("a"), StateEntry { id: Some(AppId::new("id-a")), key: key.clone(), ..Default::default() });
    state.applications.insert(Address::new("b"), unconfirmed(key, Some("B")));
    let same_key = |id: &str, name: &str| {
        live(
            json!({"id": id, "name": name, "keys": {"public_key": pair.public_key}, "capabilities": {}, "privacy": {"improve_ai": true}}),
        )
    };
    // Only `a`'s application holds the key: `b`'s create did not happen, so it is sent again.
    let accounts = [vec![same_key("id-a", "A")], vec![same_key("id-a", "A"), same_key("id-x", "Someone else's")]];
    for account in &accounts {
        let made = plan_of(&desired, &state, account);
        let b = made.changes.iter().find(|c| c.address == "b").unwrap();
        assert_eq!(b.action(), Action::Create, "{:?}", made.changes);
    }
    // Two unmanaged applications with the key and the name sent: vapp cannot tell, so it does nothing.
    let twins = vec![same_key("id-a", "A"), same_key("id-1", "B"), same_key("id-2", "B")];
    let ambiguous = plan_of(&desired, &state, &twins);
    assert!(ambiguous.changes.iter().all(|c| c.address != "b"));
    assert_eq!(ambiguous.warnings, [Warning::AmbiguousLostCreate { address: Address::new("b"), count: 2 }]);
    // One: it is ours.
    let found = vec![same_key("id-a", "A"), same_key("id-1", "B")];
    let adopted = plan_of(&desired, &state, &found);
    let b = adopted.changes.iter().find(|c| c.address == "b").unwrap();
    assert_eq!((b.action(), b.id()), (Action::Adopt, Some(&AppId::new("id-1"))));
}

#[test]
fn an_interrupted_call_is_noted_by_its_kind() {
    let (desired, mut state, live) = fixture();
    state.applications.get_mut("support").unwrap().intent = Some(Intent::Update { fingerprint: None });
    let plan = plan_of(&desired, &state, &live);
    let support = plan.changes.iter().find(|c| c.address == "support").unwrap();
    assert_eq!(support.notes, [Note::Interrupted { action: Action::Update }]);
}

/// Golden planner scenarios, one file each, in the style of omicron's planner output: the input
/// (manifest, state, account), the plan as a person reads it, and the typed steps the executor gets.
mod scenarios {
    use super::*;

    /// Names for the keys a scenario uses, so that its file does not depend on a run's random key.
    struct Keys {
        names: Vec<(Fingerprint, &'static str)>,
    }

    impl Keys {
        fn new() -> Self {
            let pair = crate::keys::tests::shared_pair();
            let mut names = vec![(pair.fingerprint.clone(), "<held key>")];
            for (pem, name) in
                SEED_PUBLIC_KEYS.iter().zip(["<dashboard key 1>", "<dashboard key 2>", "<dashboard key 3>"])
            {
                names.push((crate::keys::fingerprint(pem).unwrap(), name));
            }
            Keys { names }
        }

        fn name(&self, text: &str) -> String {
            self.names
                .iter()
                .fold(text.to_string(), |text, (fingerprint, name)| text.replace(fingerprint.as_str(), name))
        }
    }

    fn held() -> KeyRecord {
        let pair = crate::keys::tests::shared_pair();
        KeyRecord::managed(pair.fingerprint.clone(), pair.private_key.clone())
    }

    fn held_public() -> String {
        crate::keys::tests::shared_pair().public_key.clone()
    }

    fn app(id: &str, name: &str, public_key: &str, capabilities: Value) -> Application {
        let mut app =
            live(json!({"id": id, "name": name, "keys": {"public_key": public_key}, "capabilities": capabilities}));
        defaults::fill_in_place(&mut app);
        app
    }

    fn entry(id: Option<&str>, key: KeyRecord, applied: Option<&Application>) -> StateEntry {
        StateEntry {
            id: id.map(AppId::new),
            key,
            applied: applied.map(|a| comparable(a).unwrap()),
            ..Default::default()
        }
    }

    fn describe_state(state: &State) -> String {
        let mut out = String::new();
        if state.applications.is_empty() {
            out.push_str("(empty)\n");
        }
        for (address, e) in &state.applications {
            let key = match &e.key {
                KeyRecord::Managed { fingerprint, .. } => format!("managed {fingerprint}"),
                KeyRecord::External { fingerprint } => format!("external {fingerprint}"),
                KeyRecord::Unknown { fingerprint } => {
                    format!("unknown {}", fingerprint.as_ref().map_or("-", |f| f.as_str()))
                }
            };
            let _ = write!(out, "{address}: id={} key=({key})", e.id.as_ref().map_or("(none)", |i| i.as_str()));
            if e.protect {
                out.push_str(" protect");
            }
            if e.rotation > 0 {
                let _ = write!(out, " rotation={}", e.rotation);
            }
            if e.rotate_requested {
                out.push_str(" rotate-requested");
            }
            if let Some(intent) = &e.intent {
                let _ = write!(out, " intent={intent:?}");
            }
            if e.applied.is_some() {
                out.push_str(" applied=recorded");
            }
            out.push('\n');
        }
        out
    }

    fn describe_account(live: &[Application]) -> String {
        let mut out = String::new();
        if live.is_empty() {
            out.push_str("(empty)\n");
        }
        for app in live {
            let key = app.public_key().and_then(|pem| crate::keys::fingerprint(pem).ok()).unwrap_or_default();
            let _ = writeln!(out, "{} {:?} key={key}", app.id.as_ref().map_or("", |i| i.as_str()), app.name);
        }
        out
    }

    fn describe_step(change: &Change) -> String {
        let key = |key: &NewKey| match key {
            NewKey::Generate => "generate".to_string(),
            NewKey::Held { fingerprint } => format!("held {fingerprint}"),
            NewKey::External { fingerprint, .. } => format!("external {fingerprint}"),
        };
        let create = |c: &Create| {
            let look = c.look_first.as_ref().map(|l| format!(", look first for {l:?}")).unwrap_or_default();
            format!("POST {:?} with key ({}), rotation {}{look}", c.body.name, key(&c.key), c.rotation)
        };
        let step = match &change.step {
            Step::Create(c) => format!("create: {}", create(c)),
            Step::Recreate { gone, create: c } => format!("recreate (gone: {gone}): {}", create(c)),
            Step::Update(u) => format!("update {}: PUT the whole application, live key kept", u.id),
            Step::Adopt(a) => format!(
                "adopt {}: record it{}",
                a.id,
                match &a.then {
                    None => "",
                    Some(AdoptThen::Update { .. }) => ", then PUT the whole application",
                    Some(AdoptThen::RotateKey { .. }) => ", then PUT it with a new key",
                }
            ),
            Step::RotateKey(r) => match &r.change {
                KeyChange::Send { key: k, .. } => {
                    format!("rotate-key {}: PUT with key ({}), rotation {}", r.id, key(k), r.rotation)
                }
                KeyChange::Record { key } => format!("rotate-key {}: record {key:?}, rotation {}", r.id, r.rotation),
            },
            Step::Delete { id } => format!("delete {id}"),
            Step::Vanished { id } => {
                format!("vanished {} (state only)", id.as_ref().map_or("(none)", |i| i.as_str()))
            }
            Step::Abandon { lost, if_found } => format!("abandon: look for {lost:?}; if found: {if_found:?}"),
            Step::Move { id, .. } => format!("move {id}: rename the state's record"),
            Step::Import(i) => format!(
                "import {}: record it (key {}){}",
                i.id,
                i.fingerprint.as_ref().map_or("unknown", |f| f.as_str()),
                match &i.then {
                    None => "",
                    Some(AdoptThen::Update { .. }) => ", then PUT the whole application",
                    Some(AdoptThen::RotateKey { .. }) => ", then PUT it with a new key",
                }
            ),
            Step::Forget { id } => format!(
                "forget {}: leave it in the account, drop it from the state",
                id.as_ref().map_or("(none)", |i| i.as_str())
            ),
            Step::NoOp { id, .. } => format!("no-op {id}"),
        };
        let moved = change.moved_from.as_ref().map(|from| format!(" (moved from {from})")).unwrap_or_default();
        format!("{} [protect={}]{moved}: {step}\n", change.address, change.protect)
    }

    /// Plans `manifest` against `state` and `live` and pins the whole story in `snapshots/`.
    fn scenario(name: &str, manifest: &str, state: &State, live: &[Application]) -> Plan {
        scenario_with_numbers(name, manifest, state, live, &[])
    }

    /// A number the account owns, routed to `app_id`.
    fn number(msisdn: &str, app_id: Option<&str>) -> OwnedNumber {
        OwnedNumber {
            country: "GB".into(),
            msisdn: Msisdn::new(msisdn),
            app_id: app_id.map(AppId::new),
            ..Default::default()
        }
    }

    /// [`scenario`] with the account's numbers: they, the number steps, the JSON entries and the
    /// Markdown rendering are pinned too.
    fn scenario_with_numbers(
        name: &str,
        manifest: &str,
        state: &State,
        live: &[Application],
        numbers: &[OwnedNumber],
    ) -> Plan {
        let keys = Keys::new();
        let wanted = desired(manifest);
        let numbers: Vec<Number> = numbers.iter().map(OwnedNumber::summary).collect();
        let keep = listing_keeps(Some(state)).and(wanted.refactoring.imports.iter().map(|i| &i.id));
        let listed = keep.list(live.to_vec());
        let input = PlanInput { desired: &wanted, state: Some(state), live: &listed, targets: &[], numbers: &numbers };
        let made = plan(&input).unwrap();
        let mut text = String::new();
        let _ = write!(text, "## manifest\n{}\n", manifest.trim());
        let _ = write!(text, "\n## state (serial {})\n{}", state.serial, describe_state(state));
        let _ = write!(text, "\n## account\n{}", describe_account(live));
        if !numbers.is_empty() {
            let _ = write!(text, "\n## numbers\n");
            for n in &numbers {
                let _ = writeln!(text, "{} -> {}", n.msisdn, n.app_id.as_ref().map_or("(nothing)", |i| i.as_str()));
            }
        }
        let _ = write!(text, "\n## plan\n{}", render_human(&made, HumanStyle::default()));
        if !made.warnings.is_empty() {
            let _ = write!(text, "\n## warnings\n");
            for warning in &made.warnings {
                let _ = writeln!(text, "{warning}");
            }
        }
        let _ = write!(text, "\n## steps\n");
        for change in &made.changes {
            text.push_str(&describe_step(change));
        }
        if !numbers.is_empty() {
            let _ = write!(text, "\n## number steps\n");
            for change in &made.changes {
                for n in &change.numbers {
                    let _ = writeln!(text, "{}: {} from {:?} to {:?}", change.address, n.msisdn, n.from, n.route);
                }
            }
            let json: Value = serde_json::from_str(&render_json(&made)).unwrap();
            let entries: Vec<&Value> = ["changes", "drift"]
                .iter()
                .flat_map(|section| json[section].as_array().into_iter().flatten())
                .flat_map(|c| c["diff"].as_array().into_iter().flatten())
                .filter(|d| d["path"].as_str().is_some_and(|p| p.starts_with("numbers.")))
                .collect();
            let _ = write!(text, "\n## json number entries\n");
            for entry in entries {
                let _ = writeln!(text, "{entry}");
            }
            let _ = write!(text, "\n## markdown\n{}", render_markdown(&made));
        }
        let summary: Summary = made.summary();
        let _ = writeln!(text, "\n## summary\n{summary:?}");
        insta::assert_snapshot!(format!("scenario_{name}"), keys.name(&text));
        made
    }

    const ONE: &str = "version: 1\napplications:\n  a:\n    name: A\n    capabilities:\n      voice:\n        webhooks:\n          answer_url: https://a.example.com/answer\n";

    fn voice(url: &str) -> Value {
        json!({"voice": {"webhooks": {"answer_url": {"address": url}}}})
    }

    #[test]
    fn create() {
        let plan = scenario("create", ONE, &State::new("l".into()), &[]);
        assert!(
            matches!(&plan.changes[0].step, Step::Create(c) if c.key == NewKey::Generate && c.look_first.is_none())
        );
    }

    #[test]
    fn update() {
        let live = app("id-a", "A", &held_public(), voice("https://old.example.com/answer"));
        let mut state = State::new("l".into());
        state.applications.insert(Address::new("a"), entry(Some("id-a"), held(), Some(&live)));
        let plan = scenario("update", ONE, &state, &[live]);
        assert!(matches!(&plan.changes[0].step, Step::Update(_)));
        assert!(plan.drift.is_empty());
    }

    #[test]
    fn drift() {
        let applied = app("id-a", "A", &held_public(), voice("https://a.example.com/answer"));
        let live = app("id-a", "Renamed by hand", &held_public(), voice("https://a.example.com/answer"));
        let mut state = State::new("l".into());
        state.applications.insert(Address::new("a"), entry(Some("id-a"), held(), Some(&applied)));
        let plan = scenario("drift", ONE, &state, &[live]);
        assert_eq!(plan.drift.len(), 1);
        assert!(matches!(&plan.changes[0].step, Step::Update(_)));
    }

    #[test]
    fn rotate() {
        let live = app("id-a", "A", &held_public(), voice("https://a.example.com/answer"));
        let mut state = State::new("l".into());
        state.applications.insert(Address::new("a"), entry(Some("id-a"), held(), Some(&live)));
        let manifest = format!("{ONE}    keys: {{ rotation: 1 }}\n");
        let plan = scenario("rotate", &manifest, &state, &[live]);
        let Step::RotateKey(rotate) = &plan.changes[0].step else { panic!("{plan:?}") };
        assert!(matches!(&rotate.change, KeyChange::Send { key: NewKey::Generate, .. }));
        assert_eq!(plan.changes[0].notes, [Note::RotationRaised { from: 0, to: 1 }]);
        assert_eq!(plan.keys_to_generate(), 1);
        assert_eq!(keys_expected(&desired(&manifest), Some(&state), &[]), 1);
    }

    #[test]
    fn rotation_completes() {
        // The PUT of a rotation reached the account, but its answer was lost: the state holds the new
        // pair as pending, and the account already has it. Only the state is brought up to date.
        let live = app("id-a", "A", &held_public(), voice("https://a.example.com/answer"));
        let mut state = State::new("l".into());
        let old = crate::keys::fingerprint(SEED_PUBLIC_KEYS[0]).unwrap();
        let mut rotating = entry(Some("id-a"), KeyRecord::External { fingerprint: old }, Some(&live));
        rotating.pending_key = Some(held());
        state.applications.insert(Address::new("a"), rotating);
        let manifest = format!("{ONE}    keys: {{ rotation: 1 }}\n");
        let plan = scenario("rotation_completes", &manifest, &state, &[live]);
        let Step::RotateKey(rotate) = &plan.changes[0].step else { panic!("{plan:?}") };
        assert!(matches!(&rotate.change, KeyChange::Record { .. }));
        assert_eq!(plan.changes[0].notes, [Note::RotationCompletes]);
        assert_eq!(plan.keys_to_generate(), 0);
        let text = render_human(&plan, HumanStyle::default());
        assert!(
            text.contains("a (id-a) will have its key recorded in the state (the account already has it)"),
            "{text}"
        );
    }

    #[test]
    fn key_changed_outside_vapp() {
        let live = app("id-a", "A", SEED_PUBLIC_KEYS[0], voice("https://a.example.com/answer"));
        let mut state = State::new("l".into());
        let applied = app("id-a", "A", &held_public(), voice("https://a.example.com/answer"));
        state.applications.insert(Address::new("a"), entry(Some("id-a"), held(), Some(&applied)));
        let plan = scenario("key_changed_outside_vapp", ONE, &state, &[live]);
        assert_eq!(plan.warnings, [Warning::LiveKeyChanged { address: Address::new("a") }]);
        assert_eq!(plan.drift[0].diff[0].path, "keys.fingerprint");
    }

    #[test]
    fn recreate() {
        let mut state = State::new("l".into());
        state.applications.insert(Address::new("a"), entry(Some("id-gone"), held(), None));
        let plan = scenario("recreate", ONE, &state, &[]);
        let Step::Recreate { create, .. } = &plan.changes[0].step else { panic!("{plan:?}") };
        assert!(matches!(create.key, NewKey::Held { .. }), "a recreate keeps the key pair");
    }

    #[test]
    fn adopt() {
        let live = app("id-a", "A", &held_public(), voice("https://old.example.com/answer"));
        let mut state = State::new("l".into());
        state.applications.insert(Address::new("a"), unconfirmed(held(), Some("A")));
        let plan = scenario("adopt", ONE, &state, &[live]);
        assert!(matches!(&plan.changes[0].step, Step::Adopt(a) if matches!(a.then, Some(AdoptThen::Update { .. }))));
    }

    #[test]
    fn lost_create() {
        let mut state = State::new("l".into());
        state.applications.insert(Address::new("a"), unconfirmed(held(), Some("A")));
        let unrelated = app("id-x", "A", SEED_PUBLIC_KEYS[1], json!({}));
        let plan = scenario("lost_create", ONE, &state, &[unrelated]);
        assert!(matches!(&plan.changes[0].step, Step::Create(c) if c.look_first.is_some()));
    }

    #[test]
    fn protect() {
        let live = app("id-a", "A", &held_public(), voice("https://a.example.com/answer"));
        let mut state = State::new("l".into());
        let mut protected = entry(Some("id-a"), held(), Some(&live));
        protected.protect = true;
        state.applications.insert(Address::new("a"), protected);
        let plan = scenario("protect", "version: 1\napplications: {}\n", &state, &[live]);
        assert!(!plan.has_changes());
    }

    #[test]
    fn delete() {
        let live = app("id-a", "A", &held_public(), voice("https://a.example.com/answer"));
        let mut state = State::new("l".into());
        state.applications.insert(Address::new("a"), entry(Some("id-a"), held(), Some(&live)));
        state.applications.insert(Address::new("b"), entry(Some("id-b-gone"), held(), None));
        let plan = scenario("delete", "version: 1\napplications: {}\n", &state, &[live]);
        let steps: Vec<_> = plan.changes.iter().map(|c| c.step.clone()).collect();
        assert_eq!(
            steps,
            [Step::Delete { id: AppId::new("id-a") }, Step::Vanished { id: Some(AppId::new("id-b-gone")) }]
        );
    }

    const TWO: &str = "version: 1\napplications:\n  a:\n    name: A\n    capabilities: { rtc: {} }\n  b:\n    name: B\n    capabilities: { rtc: {} }\n";

    fn rtc(id: &str, name: &str) -> Application {
        app(id, name, &held_public(), json!({"rtc": {}}))
    }

    /// `a` and `b` exist and are managed; `a` recorded with `a_numbers`.
    fn two_managed(a_numbers: &[&str]) -> (State, Vec<Application>) {
        let live = vec![rtc("id-a", "A"), rtc("id-b", "B")];
        let mut state = State::new("l".into());
        let mut a = entry(Some("id-a"), held(), Some(&live[0]));
        a.numbers = a_numbers.iter().map(|n| Msisdn::new(*n)).collect();
        state.applications.insert(Address::new("a"), a);
        state.applications.insert(Address::new("b"), entry(Some("id-b"), held(), Some(&live[1])));
        (state, live)
    }

    fn with_numbers(manifest: &str, address: &str, numbers: &str) -> String {
        manifest.replace(
            &format!("  {address}:\n    name: {}\n    capabilities: {{ rtc: {{}} }}\n", address.to_uppercase()),
            &format!(
                "  {address}:\n    name: {}\n    capabilities: {{ rtc: {{}} }}\n    numbers: {numbers}\n",
                address.to_uppercase()
            ),
        )
    }

    #[test]
    fn number_link() {
        let (state, live) = two_managed(&[]);
        let numbers = [number("447700900001", None), number("447700900002", None)];
        let manifest = with_numbers(TWO, "a", r#"["+44 7700 900001"]"#);
        let plan = scenario_with_numbers("number_link", &manifest, &state, &live, &numbers);
        assert_eq!(plan.changes[0].action(), Action::Update, "numbers alone make an update");
        assert!(matches!(plan.changes[0].step, Step::NoOp { .. }));
        assert_eq!(plan.changes[0].numbers[0].route, Route::Application { id: AppId::new("id-a") });
        assert_eq!(plan.summary().update, 1);
    }

    #[test]
    fn number_link_on_create() {
        let numbers = [number("447700900001", None)];
        let manifest = with_numbers(TWO, "a", r#"["447700900001"]"#);
        let plan = scenario_with_numbers("number_link_on_create", &manifest, &State::new("l".into()), &[], &numbers);
        let a = &plan.changes[0];
        assert_eq!(a.numbers[0].route, Route::Created { address: Address::new("a") });
        assert!(a.diff.iter().any(|d| d.path == "numbers.447700900001" && d.after_unknown));
    }

    #[test]
    fn number_unlink() {
        let (state, live) = two_managed(&["447700900001"]);
        let numbers = [number("447700900001", Some("id-a"))];
        let plan = scenario_with_numbers("number_unlink", TWO, &state, &live, &numbers);
        assert_eq!(plan.changes[0].numbers[0].route, Route::Nowhere);
        assert!(plan.drift.is_empty());
    }

    #[test]
    fn number_move() {
        let (state, live) = two_managed(&["447700900001"]);
        let numbers = [number("447700900001", Some("id-a"))];
        let manifest = with_numbers(TWO, "b", r#"["447700900001"]"#);
        let plan = scenario_with_numbers("number_move", &manifest, &state, &live, &numbers);
        // One update, attributed to the gaining address: never unlinked in between.
        let steps: Vec<(&str, usize)> = plan.changes.iter().map(|c| (c.address.as_str(), c.numbers.len())).collect();
        assert_eq!(steps, [("a", 0), ("b", 1)]);
        assert!(matches!(&plan.changes[1].numbers[0].from, Origin::Managed { address, .. } if address == "a"));
        assert!(!plan.warnings.iter().any(|w| matches!(w, Warning::NumberTakenOver { .. })));
    }

    #[test]
    fn number_takeover() {
        let (state, mut live) = two_managed(&[]);
        live.push(rtc("id-legacy", "Legacy IVR"));
        let numbers = [number("447700900001", Some("id-legacy"))];
        let manifest = with_numbers(TWO, "a", r#"["447700900001"]"#);
        let plan = scenario_with_numbers("number_takeover", &manifest, &state, &live, &numbers);
        assert!(plan.warnings.iter().any(|w| matches!(
            w,
            Warning::NumberTakenOver { from_name, managed_as: None, .. } if from_name == "Legacy IVR"
        )));
    }

    #[test]
    fn number_drift() {
        // Recorded: 1 routes to a. By hand: 1 unlinked, 2 linked to a.
        let (state, live) = two_managed(&["447700900001"]);
        let numbers = [number("447700900001", None), number("447700900002", Some("id-a"))];
        let manifest = with_numbers(TWO, "a", r#"["447700900001"]"#);
        let plan = scenario_with_numbers("number_drift", &manifest, &state, &live, &numbers);
        let paths: Vec<&str> = plan.drift[0].diff.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["numbers.447700900001", "numbers.447700900002"]);
        let routes: Vec<&Route> = plan.changes[0].numbers.iter().map(|n| &n.route).collect();
        assert_eq!(routes, [&Route::Application { id: AppId::new("id-a") }, &Route::Nowhere]);
    }

    /// `a` and `b` as TWO declares them, with `a` renamed: `renamed` in the manifest, a `moved` entry.
    const RENAMED: &str = "version: 1\nmoved:\n  - { from: a, to: renamed }\napplications:\n  renamed:\n    name: A\n    capabilities: { rtc: {} }\n  b:\n    name: B\n    capabilities: { rtc: {} }\n";

    #[test]
    fn move_renames_without_an_api_call() {
        let (state, live) = two_managed(&["447700900001"]);
        let numbers = [number("447700900001", Some("id-a"))];
        let manifest = RENAMED.replace(
            "  renamed:\n    name: A\n    capabilities: { rtc: {} }\n",
            "  renamed:\n    name: A\n    capabilities: { rtc: {} }\n    numbers: [\"447700900001\"]\n",
        );
        let plan = scenario_with_numbers("move", &manifest, &state, &live, &numbers);
        let renamed = plan.changes.iter().find(|c| c.address == "renamed").unwrap();
        assert_eq!(renamed.moved_from, Some(Address::new("a")));
        assert!(matches!(renamed.step, Step::Move { .. }), "{:?}", renamed.step);
        assert!(renamed.numbers.is_empty() && renamed.diff.is_empty(), "its number stays where it is");
        assert!(!plan.changes.iter().any(|c| c.address == "a"), "nothing is left at the old address");
        assert_eq!(plan.summary(), Summary { moves: 1, no_op: 1, ..Summary::default() });
    }

    #[test]
    fn move_with_an_edit_is_the_update_it_needs() {
        let (state, live) = two_managed(&[]);
        let manifest = RENAMED.replace("  renamed:\n    name: A\n", "  renamed:\n    name: A (renamed)\n");
        let plan = scenario("move_with_edit", &manifest, &state, &live);
        let renamed = plan.changes.iter().find(|c| c.address == "renamed").unwrap();
        assert_eq!((renamed.action(), renamed.moved_from.as_ref()), (Action::Update, Some(&Address::new("a"))));
        let paths: Vec<&str> = renamed.diff.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["name"]);
    }

    #[test]
    fn chained_moves_are_followed() {
        let (state, live) = two_managed(&[]);
        // a was renamed twice; the state still knows it as `a`.
        let manifest = RENAMED.replace(
            "moved:\n  - { from: a, to: renamed }\n",
            "moved:\n  - { from: a, to: middle }\n  - { from: middle, to: renamed }\n",
        );
        let plan = scenario("move_chained", &manifest, &state, &live);
        let renamed = plan.changes.iter().find(|c| c.address == "renamed").unwrap();
        assert_eq!((renamed.action(), renamed.moved_from.as_ref()), (Action::Move, Some(&Address::new("a"))));
        // Done already: the state knows `renamed`, and the entries do nothing.
        let mut after = state.clone();
        let entry = after.applications.remove("a").unwrap();
        after.applications.insert(Address::new("renamed"), entry);
        assert!(!plan_of(&desired(&manifest), &after, &live).has_changes());
    }

    #[test]
    fn a_move_onto_a_held_address_fails_the_plan() {
        let (state, live) = two_managed(&[]);
        let manifest = RENAMED
            .replace("moved:\n  - { from: a, to: renamed }\n", "moved:\n  - { from: a, to: b }\n")
            .replace("  renamed:\n    name: A\n    capabilities: { rtc: {} }\n", "");
        let listed = listed(&state, &live);
        let wanted = desired(&manifest);
        let error =
            plan(&PlanInput { desired: &wanted, state: Some(&state), live: &listed, targets: &[], numbers: &[] })
                .unwrap_err();
        assert!(matches!(&error, PlanError::MoveBothHeld { from, to, .. } if from == "a" && to == "b"), "{error}");
        assert!(error.to_string().starts_with("apps.yaml:3:5: the state holds both `a` and `b`"), "{error}");
    }

    #[test]
    fn forget_leaves_the_application_and_warns_of_the_key() {
        let (mut state, live) = two_managed(&["447700900001"]);
        state.applications.get_mut("a").unwrap().protect = true;
        let numbers = [number("447700900001", Some("id-a"))];
        let manifest = "version: 1\nremoved:\n  - { address: a }\napplications:\n  b:\n    name: B\n    capabilities: { rtc: {} }\n";
        let plan = scenario_with_numbers("forget", manifest, &state, &live, &numbers);
        let a = &plan.changes[0];
        assert_eq!((a.action(), &a.step), (Action::Forget, &Step::Forget { id: Some(AppId::new("id-a")) }));
        assert!(a.numbers.is_empty(), "its number stays linked");
        assert!(plan.warnings.contains(&Warning::KeyLeavesState { address: Address::new("a") }));
        assert!(
            !plan.warnings.iter().any(|w| matches!(w, Warning::Protected { .. })),
            "protect does not stop a forget"
        );
    }

    #[test]
    fn import_records_then_converges_with_numbers() {
        let (state, mut live) = two_managed(&[]);
        live.push(app("id-dash", "Dashboard app", SEED_PUBLIC_KEYS[0], json!({"rtc": {}})));
        let numbers = [number("447700900001", None)];
        let manifest = format!(
            "{TWO}  dash:\n    name: Dashboard app (managed)\n    capabilities: {{ rtc: {{}} }}\n    numbers: [\"447700900001\"]\nimport:\n  - {{ address: dash, id: id-dash }}\n"
        );
        let plan = scenario_with_numbers("import", &manifest, &state, &live, &numbers);
        let dash = plan.changes.iter().find(|c| c.address == "dash").unwrap();
        let Step::Import(import) = &dash.step else { panic!("{:?}", dash.step) };
        assert_eq!(import.id, AppId::new("id-dash"));
        assert!(matches!(import.then, Some(AdoptThen::Update { .. })), "brought to the manifest in the same apply");
        assert_eq!(dash.numbers[0].route, Route::Application { id: AppId::new("id-dash") });
        let paths: Vec<&str> = dash.diff.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["name", "numbers.447700900001"]);
        assert_eq!(plan.summary().import, 1);
    }

    #[test]
    fn imports_of_unknown_or_managed_ids_fail_the_plan() {
        let (state, live) = two_managed(&[]);
        let listed = listed(&state, &live);
        for (id, expected) in
            [("id-nope", "the account holds no application id-nope"), ("id-b", "already managed as `b`")]
        {
            let manifest = format!(
                "version: 1\napplications:\n  dash:\n    name: D\nimport:\n  - {{ address: dash, id: {id} }}\n"
            );
            let wanted = desired(&manifest);
            let error =
                plan(&PlanInput { desired: &wanted, state: Some(&state), live: &listed, targets: &[], numbers: &[] })
                    .unwrap_err();
            assert!(error.to_string().contains(expected) && error.to_string().starts_with("apps.yaml:6:5"), "{error}");
        }
    }

    #[test]
    fn a_delete_and_a_create_of_the_same_application_hint_at_a_move() {
        let (state, live) = two_managed(&[]);
        let manifest = TWO.replace("  a:\n", "  renamed:\n");
        let plan = scenario("rename_hint", &manifest, &state, &live);
        assert_eq!(plan.summary().create, 1);
        assert!(plan
            .warnings
            .contains(&Warning::LooksLikeRename { from: Address::new("a"), to: Address::new("renamed") }));
        let text = plan.warnings.iter().map(ToString::to_string).collect::<String>();
        assert!(text.contains("moved:\n      - { from: a, to: renamed }"), "{text}");
    }

    #[test]
    fn a_state_renamed_ahead_of_the_manifests_is_not_hinted_back() {
        let (mut state, live) = two_managed(&[]);
        state.rename(&Address::new("a"), &Address::new("renamed"));
        let plan = scenario("state_renamed_ahead", TWO, &state, &live);
        assert!(plan
            .warnings
            .contains(&Warning::StateRenamedAhead { from: Address::new("a"), to: Address::new("renamed") }));
        assert!(!plan.warnings.iter().any(|w| matches!(w, Warning::LooksLikeRename { .. })), "{:?}", plan.warnings);
        let text = plan.warnings.iter().map(ToString::to_string).collect::<String>();
        assert!(text.contains("`vapp state mv renamed a` to undo"), "{text}");
    }

    #[test]
    fn number_unlinked_before_delete_and_kept_when_protected() {
        let (mut state, live) = two_managed(&["447700900001"]);
        state.applications.get_mut("b").unwrap().protect = true;
        state.applications.get_mut("b").unwrap().numbers = [Msisdn::new("447700900002")].into();
        let numbers = [number("447700900001", Some("id-a")), number("447700900002", Some("id-b"))];
        let plan = scenario_with_numbers("number_delete", "version: 1\napplications: {}\n", &state, &live, &numbers);
        let a = &plan.changes[0];
        assert!(matches!(a.step, Step::Delete { .. }));
        assert_eq!(a.numbers[0].route, Route::Nowhere);
        let b = &plan.changes[1];
        assert!(b.numbers.is_empty() && b.action() == Action::NoOp, "a protected application keeps its numbers");
        assert_eq!(b.numbers_now, [Msisdn::new("447700900002")].into());
    }
}

#[test]
fn a_number_the_account_does_not_own_fails_the_plan() {
    let wanted = desired("version: 1\napplications:\n  a:\n    name: A\n    numbers: [\"447700900009\"]\n");
    let input = PlanInput { desired: &wanted, state: None, live: &[], targets: &[], numbers: &[] };
    let error = plan(&input).unwrap_err();
    assert!(
        matches!(&error, PlanError::NumberNotOwned { msisdn, address, .. } if msisdn == "447700900009" && address == "a")
    );
    assert!(error.to_string().starts_with("apps.yaml:5:"), "{error}");
}

/// Found by the property test: a protected application whose create's answer was lost, then dropped
/// from the manifests, must be recorded (adopted), not left as a no-op that never gets its id.
#[test]
fn a_protected_lost_create_leaving_the_manifests_is_adopted() {
    let pair = crate::keys::tests::shared_pair();
    let mut state = State::new("l".into());
    let mut entry = unconfirmed(KeyRecord::managed(pair.fingerprint.clone(), pair.private_key.clone()), Some("A"));
    entry.protect = true;
    state.applications.insert(Address::new("a"), entry);
    let live = vec![live(json!({"id": "id-a", "name": "A", "keys": {"public_key": pair.public_key}}))];
    let plan = plan_of(&Desired::default(), &state, &live);
    assert!(matches!(&plan.changes[0].step, Step::Adopt(a) if a.id == "id-a" && a.then.is_none()), "{plan:?}");
    assert_eq!(plan.warnings, [Warning::Protected { address: Address::new("a") }]);
}

/// A plan over `default` (empty) and `acme` (holding `acme_live`), with `only` as `--account`.
fn plan_over_acme(
    desired: &Desired,
    state: &State,
    acme_live: Vec<Listed>,
    only: &[AccountName],
) -> Result<crate::plan::Plan, PlanError> {
    let worlds = [
        crate::plan::World::listed(
            AccountName::default_account(),
            Some(crate::model::ApiKey::new("k0")),
            vec![],
            vec![],
        ),
        crate::plan::World::listed(AccountName::new("acme"), Some(crate::model::ApiKey::new("k1")), acme_live, vec![]),
    ];
    let input = crate::plan::PlanningInput {
        desired,
        state: Some(state),
        worlds: &worlds,
        subaccounts: &[],
        targets: &[],
        only,
        goal: crate::plan::Goal::Apply,
    };
    crate::plan::plan_all(&input)
}

#[test]
fn a_move_between_accounts_is_a_create_and_a_delete_and_the_old_half_goes_first() {
    let desired = desired(
        "version: 1\naccounts:\n  acme:\n    subaccount_of: default\n    name: ACME\napplications:\n  web:\n    name: web\n",
    );
    let mut state = State::new("lin".into());
    let applied = json!({"name": "web"});
    let entry = StateEntry { account: Some(AccountName::new("acme")), ..managed(Some("id-web"), Some(applied)) };
    state.applications.insert(Address::new("web"), entry);
    let acme_live = listed(&state, &[live(json!({"id": "id-web", "name": "web", "keys": {"public_key": PUBLIC}}))]);
    let plan = plan_over_acme(&desired, &state, acme_live.clone(), &[]).unwrap();
    assert!(plan.warnings.contains(&Warning::MovesBetweenAccounts {
        address: Address::new("web"),
        from: AccountName::new("acme"),
        to: AccountName::default_account(),
    }));
    // The delete in acme is the old half: the executor runs it before every other change.
    let old_halves: Vec<(String, Action)> = plan
        .changes
        .iter()
        .filter(|c| crate::plan::moving_out(&plan, c))
        .map(|c| (c.account.to_string(), c.action()))
        .collect();
    assert_eq!(old_halves, [("acme".to_string(), Action::Delete)]);
    // Naming one account of the two would carry out half of it.
    let half = plan_over_acme(&desired, &state, acme_live.clone(), &[AccountName::default_account()]);
    assert!(matches!(half, Err(PlanError::HalfAMove(_))), "{half:?}");
    let both = [AccountName::default_account(), AccountName::new("acme")];
    assert!(plan_over_acme(&desired, &state, acme_live, &both).is_ok());
}

#[test]
fn a_move_that_cannot_take_the_old_application_out_is_refused() {
    let manifest = "version: 1\naccounts:\n  acme:\n    subaccount_of: default\n    name: ACME\napplications:\n  web:\n    name: web\n";
    let app = live(json!({"id": "id-web", "name": "web", "keys": {"public_key": PUBLIC}}));
    let held_in_acme = |protect: bool| {
        let mut state = State::new("lin".into());
        let entry = StateEntry {
            account: Some(AccountName::new("acme")),
            protect,
            ..managed(Some("id-web"), Some(json!({"name": "web"})))
        };
        state.applications.insert(Address::new("web"), entry);
        state
    };
    let plan_with = |state: &State, desired: &Desired| {
        plan_over_acme(desired, state, listed(state, std::slice::from_ref(&app)), &[])
    };
    // Protected in the old account: vapp will not delete it, so it will not make a second either.
    let refused = plan_with(&held_in_acme(true), &desired(manifest)).unwrap_err();
    assert!(
        refused.to_string().starts_with(
            "`web` moves from account acme to account default, but vapp cannot take it out of account acme"
        ),
        "{refused}"
    );
    assert!(plan_with(&held_in_acme(false), &desired(manifest)).is_ok());
    // A `moved:` entry cannot cross accounts either.
    let renamed = manifest.replace("  web:\n", "  site:\n") + "moved:\n  - { from: web, to: site }\n";
    let crossing = plan_with(&held_in_acme(false), &desired(&renamed)).unwrap_err();
    assert!(
        crossing
            .to_string()
            .contains("`moved:` from `web` (account acme) to `site` (account default) crosses accounts"),
        "{crossing}"
    );
}
