//! `vapp check` and `vapp simulate` through the binary, against the local web application in
//! `webapp.rs` (each behaviour a webhook can have) and the emulator.

use serde_json::Value;

use crate::harness::{config, BackgroundEmulator, Workspace};
use crate::webapp::{WebApp, SIGNATURE_SECRET};

/// An application whose voice `answer_url` is `answer` (with `extra` lines under `voice:`).
fn voice_app(address: &str, answer: &str, extra: &str) -> String {
    format!(
        "  {address}:\n    name: {address}\n    capabilities:\n      voice:\n        signed_callbacks: false\n{extra}        webhooks:\n          answer_url: {{address: \"{answer}\", socket_timeout: 1000, connect_timeout: 300}}\n"
    )
}

fn results(run: &crate::harness::Run) -> Vec<Value> {
    run.json()["results"].as_array().cloned().unwrap_or_default()
}

fn result<'a>(all: &'a [Value], address: &str, webhook: &str) -> &'a Value {
    all.iter()
        .find(|r| r["address"] == address && r["webhook"] == webhook)
        .unwrap_or_else(|| panic!("no result for {address} {webhook} in {all:#?}"))
}

#[test]
fn check_names_each_failure_and_never_follows_a_redirect() {
    let web = WebApp::start();
    let ws = Workspace::new("http://127.0.0.1:9");
    let mut manifest = String::from("version: 1\napplications:\n");
    for (address, path) in [
        ("valid", "/valid"),
        ("schema", "/schema"),
        ("unknown", "/unknown-action"),
        ("slow", "/slow"),
        ("error", "/500"),
        ("redirect", "/redirect"),
        ("loop", "/loop"),
        ("big", "/big"),
        ("endless", "/endless"),
        ("nonutf8", "/non-utf8"),
        ("bomb", "/bomb"),
        ("notjson", "/not-json"),
        ("html", "/html"),
    ] {
        manifest.push_str(&voice_app(address, &web.url(path), ""));
    }
    manifest.push_str(&voice_app("offline", "http://127.0.0.1:9/answer", ""));
    ws.write("vapp.yaml", &manifest);
    let run = ws.vapp().args(["check", "--format", "json"]).expect(1);
    let all = results(&run);
    let problem = |address: &str| result(&all, address, "answer_url")["problem"].as_str().unwrap_or("").to_string();
    assert_eq!(result(&all, "valid", "answer_url")["ok"], true);
    assert_eq!(result(&all, "valid", "answer_url")["problem"], Value::Null);
    assert_eq!(problem("schema"), "/0 (talk): missing \"text\"");
    assert!(problem("unknown").contains("/0: unknown action \"tlak\""), "{}", problem("unknown"));
    assert_eq!(problem("slow"), "timed out after 1000 ms");
    assert_eq!(result(&all, "slow", "answer_url")["status"], Value::Null);
    assert_eq!(problem("error"), "HTTP 500");
    assert_eq!(result(&all, "error", "answer_url")["status"], 500);
    assert_eq!(
        problem("redirect"),
        format!("redirects to {} (HTTP 302); Vonage does not follow redirects", web.url("/valid"))
    );
    assert!(problem("loop").starts_with("redirects to /loop"), "{}", problem("loop"));
    assert!(problem("big").contains("1 MiB"), "{}", problem("big"));
    assert!(problem("endless").contains("1 MiB"), "{}", problem("endless"));
    assert!(problem("nonutf8").contains("UTF-8"), "{}", problem("nonutf8"));
    assert!(problem("bomb").contains("deeper than 64"), "{}", problem("bomb"));
    assert!(problem("notjson").contains("not JSON"), "{}", problem("notjson"));
    assert_eq!(problem("html"), "served as text/html; an NCCO must be served as application/json");
    assert_eq!(problem("offline"), "connection refused");
    assert_eq!(run.json()["summary"], serde_json::json!({"passed": 1, "failed": 13}));
    // A socket timeout is tried once more, as Vonage does; a 500 is not.
    assert_eq!((web.count("/slow"), web.count("/500")), (2, 1));
    // Redirects are reported, never followed: /valid was asked once, by its own application.
    assert_eq!(web.count("/valid"), 1);
    assert_eq!(web.count("/loop"), 1);
}

#[test]
fn check_sends_the_documented_requests_and_judges_fallbacks() {
    let web = WebApp::start();
    let ws = Workspace::new("http://127.0.0.1:9");
    let manifest = format!(
        r#"version: 1
applications:
  get:
    name: get
    capabilities:
      voice:
        signed_callbacks: false
        webhooks:
          answer_url: "{valid}"
          event_url: "{event}"
  post:
    name: post
    capabilities:
      voice:
        signed_callbacks: false
        webhooks:
          answer_url: {{address: "{valid}", http_method: POST}}
          fallback_answer_url: "{fallback}"
  saved:
    name: saved
    capabilities:
      voice:
        signed_callbacks: false
        webhooks:
          answer_url: "{error}"
          fallback_answer_url: "{fallback}"
  lost:
    name: lost
    capabilities:
      voice:
        signed_callbacks: false
        webhooks:
          answer_url: "{schema}"
          fallback_answer_url: "{fallback}"
  notifying:
    name: notifying
    capabilities:
      voice:
        signed_callbacks: false
        webhooks:
          answer_url: "{notify}"
  doomed:
    name: doomed
    capabilities:
      voice:
        signed_callbacks: false
        webhooks:
          answer_url: "{error}"
          fallback_answer_url: "{fallback_error}"
  chat:
    name: chat
    capabilities:
      messages:
        webhooks:
          inbound_url: "{inbound}"
          status_url: "{status}"
      rtc:
        webhooks:
          event_url: "{rtc}"
"#,
        valid = web.url("/valid"),
        event = web.url("/event"),
        fallback = web.url("/fallback-valid"),
        error = web.url("/500"),
        schema = web.url("/schema"),
        inbound = web.url("/inbound"),
        status = web.url("/status"),
        rtc = web.url("/rtc"),
        notify = web.url("/answer-notify"),
        fallback_error = web.url("/fallback-500"),
    );
    ws.write("vapp.yaml", &manifest);
    let run = ws.vapp().args(["check", "--format", "json"]).expect(1);
    let all = results(&run);

    // GET: the answer fields in the query; POST: the same as a JSON body.
    let asked = web.seen("/valid");
    let get = asked.iter().find(|s| s.method == "GET").expect("a GET");
    for field in ["to", "from", "uuid", "conversation_uuid"] {
        assert!(get.query(field).is_some_and(|v| !v.is_empty()), "GET lacks {field}: {get:?}");
    }
    let post = asked.iter().find(|s| s.method == "POST").expect("a POST").json();
    for field in ["to", "from", "uuid", "conversation_uuid"] {
        assert!(post[field].is_string(), "POST lacks {field}: {post}");
    }
    let event = web.seen("/event")[0].json();
    assert_eq!((event["status"].as_str(), event["direction"].as_str()), (Some("started"), Some("inbound")));
    let inbound = web.seen("/inbound")[0].json();
    assert_eq!((inbound["channel"].as_str(), inbound["message_type"].as_str()), (Some("sms"), Some("text")));
    let status = web.seen("/status")[0].json();
    for field in ["message_uuid", "to", "from", "timestamp", "status", "channel"] {
        assert!(status[field].is_string(), "status_url lacks {field}: {status}");
    }
    // check calls only the manifests' URLs: a notify's eventUrl is not one of them.
    assert_eq!(result(&all, "notifying", "answer_url")["ok"], true);
    assert_eq!(web.count("/notified"), 0);
    assert_eq!(web.seen("/rtc")[0].json()["type"], "member:joined");
    assert!(!web.seen("/inbound")[0].bearer, "no signature secret, no signature");

    // A failed answer_url says whether its fallback would have served the call.
    let saved = result(&all, "saved", "answer_url");
    assert_eq!((saved["ok"].as_bool(), saved["fallback_ok"].as_bool()), (Some(false), Some(true)));
    let doomed = result(&all, "doomed", "answer_url");
    assert_eq!(doomed["fallback_ok"], false, "the fallback fails too: {doomed}");
    let lost = result(&all, "lost", "answer_url");
    assert_eq!(lost["fallback_ok"], true, "an invalid NCCO turns to the fallback too");
    assert!(result(&all, "get", "answer_url").get("fallback_ok").is_none());
    assert_eq!(result(&all, "chat", "status_url")["method"], "POST");
    assert_eq!(run.json()["format_version"], 1);

    // --target, and markdown for a pull request.
    let md = ws.vapp().args(["check", "--target", "saved", "--format", "markdown"]).expect(1);
    assert!(md.stdout.starts_with("### vapp check: 1 of 2 webhooks failed\n"), "{md:?}");
    let chat = ws.vapp().args(["check", "--account", "default", "--target", "chat", "--format", "json"]).expect(0);
    assert_eq!(chat.json()["summary"], serde_json::json!({"passed": 3, "failed": 0}), "{chat:?}");
    assert!(md.stdout.contains("| ❌ | `saved` | voice `answer_url` |"), "{md:?}");
    assert!(md.stdout.contains("fallback_answer_url would have served the call"), "{md:?}");
    let human = ws.vapp().args(["check", "--target", "get"]).expect(0);
    assert!(human.stdout.contains("✓ get voice answer_url GET"), "{human:?}");
    assert!(human.stdout.contains("Checked 2 webhooks: 2 passed, 0 failed."), "{human:?}");
    let bounded = ws.vapp().args(["check", "--timeout", "2m"]).expect(1);
    assert!(bounded.stderr.contains("at most 1m is allowed"), "{bounded:?}");
    let unknown = ws.vapp().args(["check", "--target", "nosuch"]).expect(1);
    assert!(unknown.stderr.contains("--target nosuch: no application in the manifests"), "{unknown:?}");
}

#[test]
fn signed_webhooks_carry_a_verifiable_token_and_forgeries_are_caught() {
    let web = WebApp::start();
    let ws = Workspace::new("http://127.0.0.1:9");
    let manifest = format!(
        r#"version: 1
applications:
  careful:
    name: careful
    capabilities:
      voice:
        signed_callbacks: true
        webhooks:
          answer_url: "{signed}"
          event_url: "{signed}"
      messages:
        webhooks:
          inbound_url: "{signed}"
  careless:
    name: careless
    capabilities:
      voice:
        signed_callbacks: true
        webhooks:
          answer_url: "{forgery}"
"#,
        signed = web.url("/signed"),
        forgery = web.url("/forgery"),
    );
    ws.write("vapp.yaml", &manifest);
    let run = ws.vapp().args(["check", "--format", "json"]).env("VONAGE_SIGNATURE_SECRET", SIGNATURE_SECRET).expect(1);
    let all = results(&run);
    for webhook in ["answer_url", "event_url", "inbound_url"] {
        assert_eq!(result(&all, "careful", webhook)["ok"], true, "{all:#?}");
    }
    assert_eq!(result(&all, "careless", "answer_url")["problem"], "accepts a request with a bad signature");
    // Each signed webhook got one good token (verified by the web application, with its own HS256)
    // and one forged.
    let seen = web.seen("/signed");
    assert_eq!(seen.len(), 6, "{seen:#?}");
    let verified: Vec<&Value> = seen.iter().filter_map(|s| s.verified.as_ref()).collect();
    assert_eq!(verified.len(), 3);
    for claims in verified {
        assert_eq!(claims["iss"], "Vonage");
        assert_eq!(claims["api_key"], crate::harness::KEY);
        for claim in ["iat", "jti", "application_id", "payload_hash"] {
            assert!(claims.get(claim).is_some(), "{claim} missing from {claims}");
        }
    }
    assert!(!run.stdout.contains(SIGNATURE_SECRET) && !run.stderr.contains(SIGNATURE_SECRET));
}

/// The `webhooks:` lines of a voice capability: answer, fallback and event paths of `web`.
fn voice_webhooks(web: &WebApp, answer: &str, fallback: &str, event: &str) -> String {
    format!(
        "          answer_url: \"{}\"\n          fallback_answer_url: \"{}\"\n          event_url: \"{}\"\n",
        web.url(answer),
        web.url(fallback),
        web.url(event)
    )
}

/// An emulator with one number linked to an application whose webhooks are `voice` (YAML under
/// `webhooks:`) and, when given, the messages `inbound_url`.
fn sandbox_with(web: &WebApp, voice: &str, inbound: Option<&str>, signature: bool) -> (BackgroundEmulator, Workspace) {
    let config = vapp::emulator::EmulatorConfig {
        seed_numbers: 2,
        signature_secret: signature.then(|| vapp::secret::Secret::new(SIGNATURE_SECRET)),
        ..config()
    };
    let emulator = BackgroundEmulator::start(config);
    let ws = Workspace::new(&emulator.url);
    let messages = inbound.map_or(String::new(), |url| {
        format!("      messages:\n        webhooks:\n          inbound_url: \"{}\"\n", web.url(url))
    });
    ws.write(
        "vapp.yaml",
        &format!(
            "version: 1\napplications:\n  ivr:\n    name: ivr\n    numbers: [\"447700900001\"]\n    capabilities:\n      voice:\n        signed_callbacks: true\n        webhooks:\n{voice}{messages}"
        ),
    );
    ws.vapp().args(["apply", "--auto-approve"]).expect(0);
    (emulator, ws)
}

#[test]
fn a_simulated_call_follows_the_fallback_rules_to_the_request() {
    let web = WebApp::start();
    let voice = voice_webhooks(&web, "/500", "/fallback-500", "/event");
    let (_emulator, ws) = sandbox_with(&web, &voice, None, false);
    let run = ws.vapp().args(["simulate", "call", "--to", "447700900001", "--format", "json"]).expect(1);
    let transcript = run.json();
    assert_eq!(transcript["outcome"], "failed");
    // answer_url once, then the fallback twice before the call is ended.
    assert_eq!((web.count("/500"), web.count("/fallback-500")), (1, 2));
    let events: Vec<Value> = web.seen("/event").iter().map(|s| s.json()).collect();
    let statuses: Vec<&str> = events.iter().filter_map(|e| e["status"].as_str()).collect();
    assert_eq!(statuses, ["started", "ringing", "failed"]);
    let uuid = &events[0]["uuid"];
    assert!(events.iter().all(|e| &e["uuid"] == uuid && e["direction"] == "inbound" && e["to"] == "447700900001"));
    assert!(transcript["problem"].as_str().unwrap().contains("fallback_answer_url failed 2 times"), "{transcript}");
}

#[test]
fn a_simulated_call_is_answered_notifies_and_is_signed() {
    let web = WebApp::start();
    let voice = voice_webhooks(&web, "/answer-notify", "/fallback-valid", "/signed");
    let (_emulator, ws) = sandbox_with(&web, &voice, Some("/signed"), true);
    let run = ws.vapp().args(["simulate", "call", "--to", "447700900001", "--from", "447700900555"]).expect(0);
    assert!(run.stdout.contains("answered"), "{run:?}");
    assert_eq!(web.count("/fallback-valid"), 0, "a good answer_url needs no fallback");
    let events: Vec<Value> = web.seen("/signed").iter().map(|s| s.json()).collect();
    let statuses: Vec<&str> = events.iter().filter_map(|e| e["status"].as_str()).collect();
    assert_eq!(statuses, ["started", "ringing", "answered", "completed"]);
    assert!(web.seen("/signed").iter().all(|s| s.verified.is_some()), "every event is signed with the secret");
    assert_eq!(events[0]["from"], "447700900555");
    assert!(events
        .iter()
        .all(|e| e["uuid"] == events[0]["uuid"] && e["conversation_uuid"] == events[0]["conversation_uuid"]));
    // `completed` carries the call's times and duration, as Vonage's does (strings, as its SDK fixtures show).
    let completed = &events[3];
    for field in ["start_time", "end_time", "duration", "rate", "price", "network"] {
        assert!(completed[field].is_string(), "{field} missing from {completed}");
    }
    assert!(web.seen("/notified")[0].verified.is_some(), "a notify is signed as the voice webhooks are");
    // The notify's payload reached its eventUrl, and its NCCO replaced the rest of the call's.
    let notified = web.seen("/notified");
    assert_eq!(notified.len(), 1);
    // As Vonage sends it: the payload, with the conversation and the time.
    let body = notified[0].json();
    assert_eq!(body["payload"], serde_json::json!({"step": "one"}));
    assert_eq!(body["conversation_uuid"], events[0]["conversation_uuid"]);
    assert!(body["timestamp"].is_string());
    let json = ws.vapp().args(["simulate", "call", "--to", "447700900001", "--format", "json"]).expect(0).json();
    assert_eq!(json["actions"], serde_json::json!(["talk", "notify", "talk"]));

    // An inbound message goes to the messages inbound_url.
    let message = ws.vapp().args(["simulate", "message", "--to", "447700900001", "--text", "hello there"]).expect(0);
    assert!(message.stdout.contains("accepted"), "{message:?}");
    let inbound = web
        .seen("/signed")
        .into_iter()
        .find(|s| s.json()["channel"] == "sms")
        .expect("the message reached inbound_url");
    let body = inbound.json();
    assert_eq!((body["text"].as_str(), body["message_type"].as_str()), (Some("hello there"), Some("text")));
    for field in ["to", "from", "message_uuid", "timestamp"] {
        assert!(body[field].is_string(), "{field} missing from {body}");
    }
    assert!(inbound.verified.is_some());

    // A number linked to nothing, one nobody owns, and Vonage's own host.
    let unlinked = ws.vapp().args(["simulate", "call", "--to", "447700900002"]).expect(1);
    assert!(unlinked.stdout.contains("linked to no application"), "{unlinked:?}");
    let unknown = ws.vapp().args(["simulate", "call", "--to", "447700900123"]).expect(1);
    assert!(unknown.stderr.contains("no account of this emulator owns number 447700900123"), "{unknown:?}");
    let vonage =
        ws.vapp().args(["simulate", "call", "--to", "447700900001", "--api-url", "https://api.nexmo.com"]).expect(1);
    assert!(vonage.stderr.contains("is Vonage's own API"), "{vonage:?}");
}

#[test]
fn the_simulated_call_transcript() {
    let web = WebApp::start();
    let voice = voice_webhooks(&web, "/500", "/fallback-valid", "/event");
    let (_emulator, ws) = sandbox_with(&web, &voice, None, false);
    let run = ws.vapp().args(["simulate", "call", "--to", "447700900001"]).expect(0);
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "[UUID]");
    settings.add_filter(r"127\.0\.0\.1:\d+", "[WEBAPP]");
    settings.add_filter(r" in \d+ ms", " in [MS] ms");
    settings.bind(|| insta::assert_snapshot!("simulated_call_with_fallback", run.stdout));
}

#[test]
fn an_invalid_ncco_turns_to_the_fallback() {
    let web = WebApp::start();
    let voice = voice_webhooks(&web, "/schema", "/fallback-valid", "/event");
    let (_emulator, ws) = sandbox_with(&web, &voice, None, false);
    let transcript = ws.vapp().args(["simulate", "call", "--to", "447700900001", "--format", "json"]).expect(0).json();
    assert_eq!(transcript["outcome"], "answered");
    assert_eq!(
        (web.count("/schema"), web.count("/fallback-valid")),
        (1, 1),
        "no retry after a bad NCCO, then the fallback"
    );
    // The fallback gets the answer request's fields, why it failed, and what the request was.
    let fallback = &web.seen("/fallback-valid")[0];
    assert_eq!(fallback.query("to"), Some("447700900001"));
    assert!(fallback.query("reason").is_some_and(|r| r.contains("missing \"text\"")), "{fallback:?}");
    let original: Value = serde_json::from_str(fallback.query("original_request").unwrap()).unwrap();
    assert_eq!(
        (original["type"].as_str(), original["url"].as_str()),
        (Some("answer"), Some(web.url("/schema").as_str()))
    );
    let statuses: Vec<String> =
        web.seen("/event").iter().filter_map(|s| s.json()["status"].as_str().map(str::to_string)).collect();
    assert_eq!(statuses, ["started", "ringing", "answered", "completed"]);
}

/// Vonage's retry rule, each trigger and non-trigger, in `check` and in a simulated call: answer_url is
/// asked once more after a socket timeout, 429, 503 or 504, never after another status; a wrong content
/// type is not retried, and turns to the fallback.
#[test]
fn answer_url_is_retried_only_after_the_documented_failures() {
    let web = WebApp::start();
    let ws = Workspace::new("http://127.0.0.1:9");
    let mut manifest = String::from("version: 1\napplications:\n");
    for (address, path) in [
        ("a503", "/503-once"),
        ("a429", "/429-once"),
        ("a504", "/504-once"),
        ("a500", "/500-once"),
        ("aslow", "/slow-once"),
        ("a404", "/404"),
        ("ahtml", "/html"),
    ] {
        manifest.push_str(&voice_app(address, &web.url(path), ""));
    }
    ws.write("vapp.yaml", &manifest);
    let run = ws.vapp().args(["check", "--format", "json"]).expect(1);
    let all = results(&run);
    for address in ["a503", "a429", "a504", "aslow"] {
        let r = result(&all, address, "answer_url");
        assert_eq!(r["ok"], true, "{address} answers on its second attempt: {r}");
        assert!(r["note"].as_str().unwrap().starts_with("answered on attempt 2 of 2"), "{r}");
    }
    for (address, problem) in [("a500", "HTTP 500"), ("a404", "HTTP 404")] {
        assert_eq!(result(&all, address, "answer_url")["problem"], problem);
    }
    let counts: Vec<usize> = ["/503-once", "/429-once", "/504-once", "/500-once", "/slow-once", "/404", "/html"]
        .iter()
        .map(|p| web.count(p))
        .collect();
    assert_eq!(counts, [2, 2, 2, 1, 2, 1, 1]);

    // The same rules in a simulated call.
    for (path, answered, asked, fallbacks) in
        [("/503-once", true, 2, 0), ("/500-once", true, 1, 1), ("/html", true, 1, 1), ("/404", false, 1, 2)]
    {
        let web = WebApp::start();
        let fallback = if path == "/404" { "/fallback-500" } else { "/fallback-valid" };
        let voice = voice_webhooks(&web, path, fallback, "/event");
        let (_emulator, ws) = sandbox_with(&web, &voice, None, false);
        let code = if answered { 0 } else { 1 };
        let transcript =
            ws.vapp().args(["simulate", "call", "--to", "447700900001", "--format", "json"]).expect(code).json();
        assert_eq!((web.count(path), web.count(fallback)), (asked, fallbacks), "{path}: {transcript}");
    }
}

#[test]
fn check_has_at_most_eight_requests_in_flight() {
    let web = WebApp::start();
    let ws = Workspace::new("http://127.0.0.1:9");
    let mut manifest = String::from("version: 1\napplications:\n");
    for i in 0..20 {
        manifest.push_str(&voice_app(&format!("app-{i}"), &web.url(&format!("/held/{i}")), ""));
    }
    ws.write("vapp.yaml", &manifest);
    ws.vapp().args(["check", "-q"]).expect(0);
    let most = web.most_held_at_once();
    assert!((2..=8).contains(&most), "{most} requests at once");
}

#[test]
fn another_accounts_webhooks_are_signed_with_its_own_secret_and_key() {
    let web = WebApp::start();
    let ws = Workspace::new("http://127.0.0.1:9");
    ws.write(
        "vapp.yaml",
        &format!(
            "version: 1\naccounts:\n  staging:\n    api_key: sub00001\n    api_secret_env: STAGING_SECRET\n    signature_secret_env: STAGING_SIGNATURE\naccount: staging\napplications:\n  chat:\n    name: chat\n    capabilities:\n      messages:\n        webhooks:\n          inbound_url: \"{}\"\n",
            web.url("/signed")
        ),
    );
    // `default`'s secret is another one: the staging account's own signs its webhooks.
    let run = ws
        .vapp()
        .args(["check", "--account", "staging", "--format", "json"])
        .env("VONAGE_SIGNATURE_SECRET", "not-this-one")
        .env("STAGING_SIGNATURE", SIGNATURE_SECRET)
        .expect(0);
    assert_eq!(run.json()["results"][0]["account"], "staging");
    let verified: Vec<Value> = web.seen("/signed").into_iter().filter_map(|s| s.verified).collect();
    assert_eq!(verified.len(), 1, "the genuine request verifies, the forged one does not");
    assert_eq!(verified[0]["api_key"], "sub00001");
}

#[test]
fn a_notify_that_answers_with_itself_is_delivered_a_bounded_number_of_times() {
    let web = WebApp::start();
    let voice = voice_webhooks(&web, "/notify-loop", "/fallback-valid", "/event");
    let (_emulator, ws) = sandbox_with(&web, &voice, None, false);
    let transcript = ws.vapp().args(["simulate", "call", "--to", "447700900001", "--format", "json"]).expect(0).json();
    assert_eq!((transcript["outcome"].as_str(), transcript["problem"].as_str()), (Some("answered"), None));
    assert!(transcript["notes"][0].as_str().unwrap().contains("replaced 20 times"), "{transcript}");
    assert_eq!(web.count("/notify-loop"), 1 + 21, "the answer, then a notify and 20 that replaced it");
}

/// An IVR menu walked without a phone: the caller's key presses and words answer its input, its NCCO
/// answers are followed, a connect rings its party (or not), a recording is made and served.
#[test]
fn an_ivr_menu_is_walked_with_key_presses_and_words() {
    let web = WebApp::start();
    let voice = voice_webhooks(&web, "/ivr/answer", "/fallback-valid", "/event");
    let (emulator, ws) = sandbox_with(&web, &voice, None, false);
    let call = |args: &[&str], code: i32| {
        ws.vapp().args(["simulate", "call", "--to", "447700900001", "--format", "json"]).args(args).expect(code).json()
    };
    let heard = |t: &Value| -> Vec<String> {
        t["heard"].as_array().unwrap().iter().map(|h| h["text"].as_str().unwrap().to_string()).collect()
    };

    // 1: sales, who answer; the call ends when they hang up.
    let sales = call(&["--press", "1"], 0);
    assert_eq!(sales["actions"], serde_json::json!(["talk", "input", "talk", "connect"]));
    assert_eq!(heard(&sales), ["Welcome to ACME. Press 1 for sales, 2 to leave a message.", "Connecting you to sales"]);
    assert_eq!(sales["heard"][0]["interrupted"], true, "bargeIn: the key press cut the menu short");
    assert_eq!(sales["connected"][0]["to"], "447700900123");
    assert_eq!(
        (sales["connected"][0]["endpoint"].as_str(), sales["connected"][0]["answered"].as_bool()),
        (Some("phone"), Some(true))
    );
    let menu = web.seen("/ivr/menu")[0].json();
    assert_eq!(menu["dtmf"], serde_json::json!({"digits": "1", "timed_out": false}), "Vonage's shape: {menu}");
    assert_eq!(menu["uuid"], sales["uuid"]);
    let legs: Vec<Value> = web.seen("/ivr/leg").iter().map(|s| s.json()).collect();
    let statuses: Vec<&str> = legs.iter().filter_map(|l| l["status"].as_str()).collect();
    assert_eq!(statuses, ["started", "ringing", "answered", "completed"]);
    assert!(legs.iter().all(|l| l["direction"] == "outbound" && l["to"] == "447700900123"));
    assert_ne!(legs[0]["uuid"], sales["uuid"], "the callee's leg is a leg of its own");
    assert_eq!(legs[0]["conversation_uuid"], sales["conversation_uuid"], "in the same conversation");

    // Sales do not answer: the leg times out and the NCCO goes on.
    let missed = call(&["--press", "1", "--no-answer"], 0);
    assert_eq!(heard(&missed).last().map(String::as_str), Some("Sales did not answer. Goodbye"));
    assert_eq!(missed["connected"][0]["answered"], false);

    // Words, for an input that takes speech.
    let said = call(&["--say", "sales"], 0);
    assert_eq!(heard(&said)[1], "Connecting you to sales");
    let speech = web.seen("/ivr/menu").last().unwrap().json();
    assert_eq!(speech["speech"]["results"][0]["text"], "sales");

    // 2, then a message ended with #: the recording's event, and the recording itself.
    let message = call(&["--press", "2", "--press", "#"], 0);
    assert_eq!(heard(&message).last().map(String::as_str), Some("Thank you, goodbye"));
    let recorded = web.seen("/ivr/recorded")[0].json();
    for field in ["start_time", "end_time", "recording_uuid", "size", "conversation_uuid", "timestamp"] {
        assert!(recorded.get(field).is_some(), "{field} missing from {recorded}");
    }
    let url = recorded["recording_url"].as_str().unwrap().to_string();
    let (content_type, audio) = emulator.block_on(async {
        let answer = reqwest::Client::new().get(&url).basic_auth("test-key", Some("test-secret")).send().await.unwrap();
        let content_type = answer.headers()["content-type"].to_str().unwrap().to_string();
        (content_type, answer.bytes().await.unwrap())
    });
    assert_eq!(content_type, "audio/wav");
    assert_eq!(audio.len(), recorded["size"].as_u64().unwrap() as usize);

    // Nothing pressed: the input times out, and the menu says so.
    let silent = call(&[], 0);
    assert_eq!(heard(&silent).last().map(String::as_str), Some("Sorry, I did not get that. Goodbye"));
    let timed_out = web.seen("/ivr/menu").last().unwrap().json();
    assert_eq!(timed_out["dtmf"], serde_json::json!({"digits": "", "timed_out": true}));
    let human = ws.vapp().args(["simulate", "call", "--to", "447700900001", "--press", "2", "--press", "#"]).expect(0);
    assert!(human.stdout.contains("Heard at") && human.stdout.contains("\"Thank you, goodbye\""), "{human:?}");
}

/// Methods, bodies and signatures by Vonage's rules: event_url's GET carries the event as its query
/// (hashed as a JSON object), messages v0.1 gets the legacy shape, rtc is signed when its
/// `signed_callbacks` says so, and the sandbox's token claims the sandbox's API key.
#[test]
fn methods_bodies_and_signatures_follow_the_application() {
    let web = WebApp::start();
    let ws = Workspace::new("http://127.0.0.1:9");
    let manifest = format!(
        r#"version: 1
applications:
  legacy:
    name: legacy
    capabilities:
      voice:
        webhooks:
          answer_url: "{signed}"
          event_url: {{address: "{signed}", http_method: GET}}
      messages:
        version: v0.1
        webhooks:
          inbound_url: "{v01}"
      rtc:
        signed_callbacks: true
        webhooks:
          event_url: "{signed}"
"#,
        signed = web.url("/signed"),
        v01 = web.url("/signed"),
    );
    ws.write("vapp.yaml", &manifest);
    let run = ws
        .vapp()
        .args(["--sandbox", "check", "--format", "json"])
        .env("VONAGE_SIGNATURE_SECRET", SIGNATURE_SECRET)
        .expect(0);
    let all = results(&run);
    assert_eq!(result(&all, "legacy", "event_url")["method"], "GET");
    let seen = web.seen("/signed");
    let event = seen.iter().find(|s| s.query("status") == Some("started")).expect("the event, as a GET's query");
    assert_eq!(event.method, "GET");
    assert!(event.verified.is_some(), "a GET's payload_hash is over its query");
    assert!(seen.iter().any(|s| s.json()["type"] == "member:joined" && s.verified.is_some()), "rtc is signed");
    let claims: Vec<&Value> = seen.iter().filter_map(|s| s.verified.as_ref()).collect();
    assert!(claims.iter().all(|c| c["api_key"] == "sandbox"), "never an empty api_key: {claims:?}");
    let legacy = seen.iter().map(|s| s.json()).find(|b| b["message"].is_object()).expect("the inbound message");
    assert_eq!(legacy["to"]["type"], "sms");
    assert_eq!(legacy["message"]["content"]["type"], "text");
    assert!(legacy.get("channel").is_none(), "{legacy}");
}

/// A call to a subaccount's number is signed with that account's own signature secret and claims its
/// API key (`vapp emulator --account KEY:SECRET:SIGNATURE_SECRET`).
#[test]
fn a_subaccounts_number_rings_signed_as_that_account() {
    let web = WebApp::start();
    let config = vapp::emulator::EmulatorConfig {
        seed_numbers: 2,
        subaccounts: vec![("sub00001".into(), vapp::secret::Secret::new("SubSecret1"))],
        signature_secret: Some(vapp::secret::Secret::new("the-primarys-own")),
        signature_secrets: vec![(
            vapp::emulator::SignedAccount::ApiKey("sub00001".into()),
            vapp::secret::Secret::new(SIGNATURE_SECRET),
        )],
        ..config()
    };
    let emulator = BackgroundEmulator::start(config);
    let ws = Workspace::new(&emulator.url);
    ws.write(
        "vapp.yaml",
        &format!(
            "version: 1\naccounts:\n  staging:\n    api_key: sub00001\n    api_secret_env: STAGING_SECRET\naccount: staging\napplications:\n  ivr:\n    name: ivr\n    numbers: [\"447700900003\"]\n    capabilities:\n      voice:\n        webhooks:\n{}",
            voice_webhooks(&web, "/signed", "/fallback-valid", "/signed")
        ),
    );
    ws.vapp().env("STAGING_SECRET", "SubSecret1").args(["apply", "--auto-approve"]).expect(0);
    ws.vapp().args(["simulate", "call", "--to", "447700900003"]).expect(0);
    let seen = web.seen("/signed");
    assert!(!seen.is_empty() && seen.iter().all(|s| s.verified.is_some()), "every request verifies: {seen:#?}");
    assert!(seen.iter().all(|s| s.verified.as_ref().unwrap()["api_key"] == "sub00001"));
}

/// Scenario files played through the binary: the IVR's paths as a team would test them in CI, one
/// failing on purpose (what was expected beside what happened), JSON and JUnit reports, mistakes at
/// file:line:col.
#[test]
fn scenario_files_test_call_flows() {
    let web = WebApp::start();
    let voice = voice_webhooks(&web, "/ivr/answer", "/fallback-valid", "/event");
    let (_emulator, ws) = sandbox_with(&web, &voice, Some("/inbound"), false);
    ws.write(
        "calls.yaml",
        r##"version: 1
scenarios:
  - name: pressing 1 reaches sales
    call: { to: 447700900001, from: "447700900999" }
    press: ["1"]
    expect:
      outcome: answered
      heard: ["Welcome", "sales"]
      connected: ["447700900123"]
      webhooks: { fallback_answer_url: 0, input: 1 }
  - name: saying sales reaches sales too
    call: { to: "447700900001" }
    say: ["sales"]
    expect: { outcome: answered, connected: ["447700900123"] }
  - name: a message after the tone
    call: { to: "447700900001" }
    press: ["2", "#"]
    expect: { heard: ["Leave a message", "Thank you"], webhooks: { record: 1 } }
  - name: a text reaches support
    message: { to: "447700900001", text: help }
    expect: { outcome: accepted }
"##,
    );
    ws.write(
        "wrong.yaml",
        "version: 1\nscenarios:\n  - name: silence reaches sales (it does not)\n    call: { to: \"447700900001\" }\n    expect: { heard: [Welcome, Connecting], connected: [\"447700900123\"] }\n",
    );
    let passed = ws.vapp().args(["simulate", "run", "calls.yaml"]).expect(0);
    assert!(passed.stdout.contains("✓ pressing 1 reaches sales (calls.yaml)"), "{passed:?}");
    assert!(passed.stdout.contains("4 scenarios: 4 passed, 0 failed."), "{passed:?}");
    let failed = ws.vapp().args(["simulate", "run", "calls.yaml", "wrong.yaml"]).expect(1);
    assert!(failed.stdout.contains("✗ silence reaches sales (it does not) (wrong.yaml)"), "{failed:?}");
    assert!(failed.stdout.contains("heard: expected \"Welcome\", then \"Connecting\""), "{failed:?}");
    assert!(failed.stdout.contains("happened \"Welcome to ACME."), "{failed:?}");
    assert!(failed.stdout.contains("connected: expected \"447700900123\""), "{failed:?}");
    assert!(failed.stdout.contains("happened no one"), "{failed:?}");
    let json = ws.vapp().args(["simulate", "run", "wrong.yaml", "--format", "json"]).expect(1).json();
    assert_eq!(json["summary"], serde_json::json!({"passed": 0, "failed": 1}));
    assert_eq!(json["scenarios"][0]["mismatches"][0]["what"], "heard");
    let junit = ws.vapp().args(["simulate", "run", "calls.yaml", "wrong.yaml", "--format", "junit"]).expect(1).stdout;
    assert!(junit.starts_with("<?xml"), "{junit}");
    assert!(junit.contains("<testsuite name=\"calls.yaml\" tests=\"4\""), "{junit}");
    assert!(junit.contains("<testsuite name=\"wrong.yaml\" tests=\"1\""), "{junit}");
    assert!(junit.contains("<failure message=\"heard: expected"), "{junit}");

    // Mistakes at file:line:col, before anything is placed.
    ws.write("typo.yaml", "version: 1\nscenarios:\n  - name: typo\n    call: { to: \"447700900001\" }\n    expcet: { outcome: answered }\n");
    let typo = ws.vapp().args(["simulate", "run", "typo.yaml"]).expect(1);
    assert!(typo.stderr.contains("typo.yaml:5:5: unknown key `expcet`"), "{typo:?}");
    assert!(typo.stderr.contains("did you mean `expect`?"), "{typo:?}");
    let schema = ws.vapp().args(["schema", "--scenarios"]).expect(0).json();
    assert!(schema["properties"]["scenarios"].is_object(), "{schema}");
}
