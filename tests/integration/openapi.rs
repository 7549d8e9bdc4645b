//! vapp's own requests against the official OpenAPI description of the Application API (2.4.1,
//! vendored in `tests/fixtures/openapi/`, read with vapp's own YAML reader).
//!
//! The bodies are the ones vapp really sends. Every manifest under `examples/` (the environments with
//! `ENV=staging`) and one application with every capability go through the manifest loader and the
//! planner; a create gets its public key the way the executor adds it and an update is planned against
//! a live copy whose webhooks moved; `Application::request_body` makes the JSON. Create bodies are
//! checked against the request schema of `POST /v2/applications`, update bodies against
//! `PUT /v2/applications/{id}`.
//!
//! Two checks:
//! - as published (objects open, as OpenAPI leaves them): no body may have a single error;
//! - closed (every described object gets `additionalProperties: false`): what vapp sends beyond the
//!   description must be exactly [`KNOWN_UNDESCRIBED`], so a new field or a new gap fails the test.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{json, Map, Value};
use vapp::keys::KeyPair;
use vapp::manifest::{load_sources, read_sources, Desired, Source};
use vapp::model::{defaults, Application, Keys, VideoWebhooks};
use vapp::plan::{plan, PlanInput, Step};
use vapp::state::State;

use crate::harness::repo_path;

/// The numbers a sandbox account owns, which the examples link.
fn sandbox_numbers() -> Vec<vapp::model::Number> {
    (0..10).map(|i| vapp::emulator::seeded_number(i).shown.summary()).collect()
}

const SPEC: &str = "tests/fixtures/openapi/application.v2.4.1.yml";
const CREATE: Operation = Operation { label: "POST", path: "/v2/applications", method: "post" };
const UPDATE: Operation = Operation { label: "PUT", path: "/v2/applications/{id}", method: "put" };

/// Where vapp's bodies go beyond what the 2.4.1 description says, found by the closed check. None of
/// them is an error against the description as published (its objects are open), and each is a field
/// the live API takes and answers with (as the official SDKs and live answers show), so vapp keeps
/// sending it; vapp is not trimmed to the description.
///
/// - `messages.authenticate_inbound_media`: in no schema of 2.4.1, request or response.
/// - POST `verify.version`: described only in `ApplicationResponse`, not in the POST body.
/// - PUT `verify`: the PUT body describes no `verify` capability at all (POST and `ApplicationResponse`
///   do), so the whole object is undescribed there.
/// - PUT `messages.version`: the POST body describes it, the PUT body leaves it out.
/// - PUT `meetings.webhooks.{recording_changed, room_changed, session_changed}`: the PUT body names
///   these `recording_url`, `rooms_url`, `sessions_url`; the POST body and `ApplicationResponse` say
///   `*_changed`, which is what the API answers, so the PUT names are taken for a slip in the description.
///
/// Entries read `METHOD instance-path`; keep them sorted.
const KNOWN_UNDESCRIBED: &[&str] = &[
    "POST /capabilities/messages/authenticate_inbound_media",
    "POST /capabilities/verify/version",
    "PUT /capabilities/meetings/webhooks/recording_changed",
    "PUT /capabilities/meetings/webhooks/room_changed",
    "PUT /capabilities/meetings/webhooks/session_changed",
    "PUT /capabilities/messages/authenticate_inbound_media",
    "PUT /capabilities/messages/version",
    "PUT /capabilities/verify",
];

struct Operation {
    label: &'static str,
    path: &'static str,
    method: &'static str,
}

/// One request body vapp would send, and where it came from.
struct Body {
    label: String,
    json: Value,
}

fn spec() -> &'static Value {
    static SPEC_DOC: OnceLock<Value> = OnceLock::new();
    SPEC_DOC.get_or_init(|| {
        let text = std::fs::read_to_string(repo_path(SPEC)).unwrap_or_else(|e| panic!("{SPEC}: {e}"));
        vapp::manifest::yaml_document(&text).unwrap_or_else(|e| panic!("vapp's YAML reader cannot read {SPEC}:\n{e}"))
    })
}

/// One key pair for every body: RSA generation is slow.
fn key_pair() -> &'static KeyPair {
    static PAIR: OnceLock<KeyPair> = OnceLock::new();
    PAIR.get_or_init(|| vapp::keys::generate().expect("an RSA key pair"))
}

/// The request body schema of `op`, `$ref`s inlined and OpenAPI-only keywords removed.
fn request_schema(op: &Operation) -> Value {
    let schema = spec()
        .pointer(&format!(
            "/paths/{}/{}/requestBody/content/application~1json/schema",
            op.path.replace('~', "~0").replace('/', "~1"),
            op.method
        ))
        .unwrap_or_else(|| panic!("{SPEC} has no application/json request body for {} {}", op.label, op.path));
    to_json_schema(schema, &mut Vec::new())
}

/// An OpenAPI 3.0 schema object as a JSON Schema (draft 4) one: local `$ref`s inlined (a cycle panics:
/// it cannot be inlined), `example`, `x-*` and the other annotation-only OpenAPI keywords dropped,
/// `nullable: true` turned into a `null` type. Walks only schema positions, so a property that happens
/// to be called `example` is kept.
fn to_json_schema(schema: &Value, refs: &mut Vec<String>) -> Value {
    let Some(object) = schema.as_object() else { return schema.clone() };
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        let pointer = reference.strip_prefix('#').unwrap_or_else(|| panic!("not a local reference: {reference}"));
        assert!(
            !refs.iter().any(|r| r == reference),
            "cyclic $ref cannot be inlined: {} -> {reference}",
            refs.join(" -> ")
        );
        let target = spec().pointer(pointer).unwrap_or_else(|| panic!("{SPEC}: unresolved $ref {reference}"));
        refs.push(reference.to_string());
        let inlined = to_json_schema(target, refs);
        refs.pop();
        return inlined;
    }
    let mut out = Map::new();
    for (key, value) in object {
        let converted = match key.as_str() {
            k if k.starts_with("x-") => continue,
            "example" | "nullable" | "discriminator" | "xml" | "externalDocs" => continue,
            "properties" | "patternProperties" => Value::Object(
                value
                    .as_object()
                    .unwrap_or_else(|| panic!("`{key}` is not an object"))
                    .iter()
                    .map(|(name, sub)| (name.clone(), to_json_schema(sub, refs)))
                    .collect(),
            ),
            "items" | "not" | "additionalProperties" => to_json_schema(value, refs),
            "allOf" | "anyOf" | "oneOf" => Value::Array(
                value
                    .as_array()
                    .unwrap_or_else(|| panic!("`{key}` is not an array"))
                    .iter()
                    .map(|sub| to_json_schema(sub, refs))
                    .collect(),
            ),
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    if object.get("nullable") == Some(&Value::Bool(true)) {
        if let Some(ty) = out.get("type").cloned() {
            out.insert("type".into(), json!([ty, "null"]));
        }
    }
    Value::Object(out)
}

/// The same schema with every object it describes closed to undescribed properties.
fn closed(mut schema: Value) -> Value {
    fn close(schema: &mut Value) {
        let Some(object) = schema.as_object_mut() else { return };
        for combinator in ["allOf", "anyOf", "oneOf"] {
            assert!(!object.contains_key(combinator), "closing a schema with `{combinator}` would reject valid bodies");
        }
        let describes_object = object.contains_key("properties") || object.get("type") == Some(&json!("object"));
        if describes_object && !object.contains_key("additionalProperties") {
            object.insert("additionalProperties".into(), Value::Bool(false));
        }
        if let Some(Value::Object(properties)) = object.get_mut("properties") {
            properties.values_mut().for_each(close);
        }
        if let Some(items) = object.get_mut("items") {
            close(items);
        }
    }
    close(&mut schema);
    schema
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(schema)
        .unwrap_or_else(|e| panic!("the converted schema is not a valid JSON Schema: {e}\n{schema:#}"))
}

fn path_of(location: &impl std::fmt::Display) -> String {
    let path = location.to_string();
    if path.is_empty() {
        "/".into()
    } else {
        path
    }
}

/// Every error of `body`, one line each: `METHOD label: instance-path: message`.
fn errors(op: &Operation, validator: &jsonschema::Validator, body: &Body) -> Vec<String> {
    validator
        .iter_errors(&body.json)
        .map(|e| format!("{} {}: {}: {e}", op.label, body.label, path_of(e.instance_path())))
        .collect()
}

fn assert_valid(op: &Operation, bodies: &[Body]) {
    let validator = validator(&request_schema(op));
    let found: Vec<String> = bodies.iter().flat_map(|b| errors(op, &validator, b)).collect();
    assert!(
        found.is_empty(),
        "{} errors in the {} bodies vapp sends to {} {}, against {SPEC}:\n  {}",
        found.len(),
        bodies.len(),
        op.label,
        op.path,
        found.join("\n  ")
    );
}

/// What `bodies` send beyond the description of `op`, as `METHOD instance-path` (other errors in full).
fn undescribed(op: &Operation, bodies: &[Body]) -> BTreeSet<String> {
    let validator = validator(&closed(request_schema(op)));
    let mut found = BTreeSet::new();
    for body in bodies {
        for error in validator.iter_errors(&body.json) {
            let at = error.instance_path().to_string();
            match error.kind() {
                jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                    found.extend(unexpected.iter().map(|name| format!("{} {at}/{name}", op.label)));
                }
                _ => {
                    found.insert(format!("{} {}: {}: {error}", op.label, body.label, path_of(&at)));
                }
            }
        }
    }
    found
}

/// An application with every capability and every field vapp models, values at the edges of their
/// documented ranges.
fn every_capability() -> Value {
    let video_hooks: Map<String, Value> = VideoWebhooks::EVENTS
        .iter()
        .enumerate()
        .map(|(i, event)| {
            (
                event.to_string(),
                json!({"address": format!("https://every.example.com/video/{event}"), "active": i % 2 == 0}),
            )
        })
        .collect();
    json!({
        "name": "Every capability",
        "capabilities": {
            "voice": {
                "webhooks": {
                    "answer_url": {"address": "https://every.example.com/answer", "http_method": "GET",
                                   "connect_timeout": 300, "socket_timeout": 5000},
                    "fallback_answer_url": {"address": "https://every.example.com/fallback", "http_method": "POST",
                                            "connect_timeout": 1000, "socket_timeout": 1000},
                    "event_url": {"address": "https://every.example.com/event", "http_method": "POST",
                                  "connect_timeout": 500, "socket_timeout": 10000}
                },
                "signed_callbacks": false, "conversations_ttl": 9000, "leg_persistence_time": 31, "region": "apac-australia"
            },
            "messages": {"webhooks": {"inbound_url": {"address": "https://every.example.com/inbound", "http_method": "POST"},
                                      "status_url": {"address": "https://every.example.com/status", "http_method": "POST"}},
                         "version": "v0.1", "authenticate_inbound_media": true},
            "rtc": {"webhooks": {"event_url": {"address": "https://every.example.com/rtc", "http_method": "GET"}},
                    "signed_callbacks": true},
            "vbc": {},
            "verify": {"webhooks": {"status_url": {"address": "https://every.example.com/verify", "http_method": "POST"}},
                       "version": "v2"},
            "meetings": {"webhooks": {"room_changed": {"address": "https://every.example.com/rooms", "http_method": "POST"},
                                      "session_changed": {"address": "https://every.example.com/sessions", "http_method": "POST"},
                                      "recording_changed": {"address": "https://every.example.com/recordings", "http_method": "POST"}}},
            "network_apis": {"network_application_id": "2bzfIFqRG128IcjSj1YhZNtw6LADG",
                             "redirect_uri": "https://every.example.com/network/callback"},
            "video": {"webhooks": video_hooks,
                      "storage": {"server_side_encryption": true, "end_to_end_encryption": false, "cloud_storage": true}}
        },
        "privacy": {"improve_ai": false}
    })
}

/// Every example manifest (`ENV=staging`) plus [`every_capability`] as a manifest of its own (JSON is
/// YAML), through vapp's manifest loader.
fn desired() -> Desired {
    let mut sources = read_sources(&[repo_path("examples"), repo_path("examples/environments")])
        .unwrap_or_else(|e| panic!("reading examples/: {e}"));
    let examples = sources.len();
    assert!(examples >= 6, "expected the example manifests under examples/, found {examples}");
    let manifest = json!({"version": 1, "applications": {"every-capability": every_capability()}});
    sources.push(Source { path: PathBuf::from("every-capability.yaml"), text: manifest.to_string() });
    let lookup = |name: &str| (name == "ENV").then(|| "staging".to_string());
    load_sources(&sources, &lookup).unwrap_or_else(|e| panic!("the manifests do not load:\n{e}"))
}

fn label(desired: &Desired, address: &str) -> String {
    match desired.apps.get(address) {
        Some(app) => format!("{address} ({})", app.source.file.display()),
        None => address.to_string(),
    }
}

/// What the executor sends for each planned create: the planned body with the new public key.
fn create_bodies() -> Vec<Body> {
    let desired = desired();
    let plan =
        plan(&PlanInput { desired: &desired, state: None, live: &[], targets: &[], numbers: &sandbox_numbers() })
            .unwrap();
    assert_eq!(plan.changes.len(), desired.apps.len(), "one change per application");
    plan.changes
        .iter()
        .map(|change| {
            let Step::Create(create) = &change.step else { panic!("{}: not a create", change.address) };
            let mut body = create.body.clone();
            // As in `apply::Executor::create`.
            body.keys = Some(Keys { public_key: Some(key_pair().public_key.clone()), ..Default::default() });
            Body {
                label: label(&desired, change.address.as_str()),
                json: serde_json::to_value(body.request_body()).unwrap(),
            }
        })
        .collect()
}

/// Moves every webhook of a live application to another host; says whether there was one.
fn move_webhooks(value: &mut Value) -> bool {
    match value {
        Value::Object(object) => {
            let mut moved = false;
            for (key, v) in object.iter_mut() {
                if let (true, Value::String(address)) = (key == "address", &mut *v) {
                    *address = address.replacen("https://", "https://old.", 1);
                    moved = true;
                } else {
                    moved |= move_webhooks(v);
                }
            }
            moved
        }
        _ => false,
    }
}

/// What the executor sends for each planned update: every application is live (as created, defaults
/// filled, as the API answers it) and managed by the state, and the manifest moves its webhooks back.
fn update_bodies() -> Vec<Body> {
    let desired = desired();
    let pair = key_pair();
    let created =
        plan(&PlanInput { desired: &desired, state: None, live: &[], targets: &[], numbers: &sandbox_numbers() })
            .unwrap();
    let mut live = Vec::new();
    let mut entries = Map::new();
    for change in &created.changes {
        let id = format!("id-{}", change.address);
        let Step::Create(create) = &change.step else { panic!("{}: not a create", change.address) };
        let mut app = serde_json::to_value(&create.body).unwrap();
        if !move_webhooks(&mut app["capabilities"]) {
            app["name"] = json!(format!("{} (old)", app["name"].as_str().unwrap_or_default()));
        }
        app["id"] = json!(id);
        app["keys"] = json!({"public_key": pair.public_key});
        app["_links"] = json!({"self": {"href": format!("/v2/applications/{id}")}});
        let app: Application = serde_json::from_value(app).unwrap();
        live.push(defaults::fill(&app));
        entries.insert(
            change.address.to_string(),
            json!({"id": id, "key": {"custody": "managed", "fingerprint": pair.fingerprint,
                                     "private_key": pair.private_key.expose()}}),
        );
    }
    let state: State = serde_json::from_value(json!({
        "format": "vapp-state", "version": 1, "lineage": "openapi-test", "serial": 1, "applications": entries
    }))
    .expect("a state");
    let live = vapp::plan::listing_keeps(Some(&state)).list(live);
    let plan = plan(&PlanInput {
        desired: &desired,
        state: Some(&state),
        live: &live,
        targets: &[],
        numbers: &sandbox_numbers(),
    })
    .unwrap();
    assert_eq!(plan.changes.len(), desired.apps.len(), "one change per application");
    plan.changes
        .iter()
        .map(|change| {
            let Step::Update(update) = &change.step else { panic!("{}: {:?}", change.address, change.diff) };
            Body {
                label: label(&desired, change.address.as_str()),
                json: serde_json::to_value(update.body.request_body()).unwrap(),
            }
        })
        .collect()
}

#[test]
fn vapps_yaml_reader_reads_the_vendored_description() {
    let spec = spec();
    assert_eq!(spec["openapi"], json!("3.0.0"));
    assert_eq!(spec["info"]["version"], json!("2.4.1"));
    for op in [&CREATE, &UPDATE] {
        let schema = request_schema(op);
        assert_eq!(schema["required"], json!(["name"]), "{} {}", op.label, op.path);
        let webhook = &schema["properties"]["capabilities"]["properties"]["voice"]["properties"]["webhooks"];
        let answer = &webhook["properties"]["answer_url"]["properties"];
        // 2.1.0 spelled it `connection_timeout`; 2.4.1 and vapp say `connect_timeout`.
        assert_eq!(answer["connect_timeout"]["maximum"], json!(1000), "{} {}", op.label, op.path);
        assert!(answer.get("connection_timeout").is_none());
        let video =
            &schema["properties"]["capabilities"]["properties"]["video"]["properties"]["webhooks"]["properties"];
        assert_eq!(video["archive_status"]["properties"]["active"]["type"], json!("boolean"), "the $ref is inlined");
    }
}

#[test]
fn the_request_schemas_reject_what_the_api_rejects() {
    let post = validator(&request_schema(&CREATE));
    let put = validator(&request_schema(&UPDATE));
    let bad = [
        json!({"capabilities": {}}),
        json!({"name": 3}),
        json!({"name": "x", "capabilities": {"voice": {"webhooks": {"answer_url": {"address": "https://a/", "http_method": "PATCH"}}}}}),
        json!({"name": "x", "capabilities": {"voice": {"webhooks": {"answer_url": {"address": "https://a/", "connect_timeout": 5000}}}}}),
        json!({"name": "x", "capabilities": {"voice": {"webhooks": {"event_url": {"address": "https://a/", "socket_timeout": 10001}}}}}),
        json!({"name": "x", "capabilities": {"voice": {"region": "moon"}}}),
        json!({"name": "x", "capabilities": {"voice": {"leg_persistence_time": 32}}}),
        json!({"name": "x", "capabilities": {"messages": {"webhooks": {"inbound_url": {"address": "https://a/", "http_method": "GET"}}}}}),
        json!({"name": "x", "capabilities": {"video": {"webhooks": {"archive_status": {"address": "https://a/", "active": "yes"}}}}}),
        json!({"name": "x", "privacy": {"improve_ai": "no"}}),
    ];
    for body in bad {
        assert!(!post.is_valid(&body), "POST accepts {body}");
        assert!(!put.is_valid(&body), "PUT accepts {body}");
    }
    let minimal = json!({"name": "x"});
    assert!(post.is_valid(&minimal) && put.is_valid(&minimal));
}

#[test]
fn create_bodies_validate_against_post() {
    let bodies = create_bodies();
    let every = bodies.iter().find(|b| b.label.starts_with("every-capability")).expect("the every-capability body");
    let capabilities = every.json["capabilities"].as_object().unwrap();
    assert_eq!(capabilities.len(), 8, "every capability is sent: {capabilities:?}");
    assert!(every.json["keys"]["public_key"].as_str().is_some_and(|k| k.starts_with("-----BEGIN PUBLIC KEY-----")));
    assert_valid(&CREATE, &bodies);
}

#[test]
fn update_bodies_validate_against_put() {
    let bodies = update_bodies();
    for body in &bodies {
        assert!(body.json.get("id").is_none() && body.json.get("_links").is_none(), "{}: {}", body.label, body.json);
        assert_eq!(body.json["keys"]["public_key"], json!(key_pair().public_key), "{}", body.label);
    }
    assert_valid(&UPDATE, &bodies);
}

#[test]
fn what_vapp_sends_beyond_the_description_is_exactly_the_known_list() {
    let mut found = undescribed(&CREATE, &create_bodies());
    found.extend(undescribed(&UPDATE, &update_bodies()));
    let known: BTreeSet<String> = KNOWN_UNDESCRIBED.iter().map(|s| s.to_string()).collect();
    let new: Vec<&String> = found.difference(&known).collect();
    let gone: Vec<&String> = known.difference(&found).collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "what vapp sends beyond {SPEC} changed.\nnew (fix vapp, or document it in KNOWN_UNDESCRIBED):\n  {}\n\
         no longer found (remove from KNOWN_UNDESCRIBED):\n  {}",
        new.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  "),
        gone.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  ")
    );
}
