//! What people see, pinned whole: CLI transcripts through the real binary against the emulator, as
//! snapshots with ids, paths, timings and key material filtered out. A change to what users read
//! shows up here as a reviewed diff.

use crate::harness::{config, BackgroundEmulator, Run, Workspace};

/// A transcript of commands and what each printed.
struct Transcript {
    ws: Workspace,
    text: String,
}

impl Transcript {
    fn new(api_url: &str) -> Self {
        Transcript { ws: Workspace::new(api_url), text: String::new() }
    }

    /// Runs `vapp ARGS` and records it.
    fn vapp(&mut self, args: &[&str]) -> Run {
        self.vapp_with(args, &[])
    }

    fn vapp_with(&mut self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = self.ws.vapp().args(args);
        for (key, value) in env {
            command = command.env(key, value);
        }
        let run = command.run();
        self.text.push_str(&format!("$ vapp {}\n", args.join(" ")));
        if !run.stdout.is_empty() {
            self.text.push_str(&run.stdout);
            if !run.stdout.ends_with('\n') {
                self.text.push('\n');
            }
        }
        for line in run.stderr.lines() {
            self.text.push_str(&format!("stderr| {line}\n"));
        }
        self.text.push_str(&format!("[exit {}]\n\n", run.code));
        run
    }

    fn note(&mut self, text: &str) {
        self.text.push_str(&format!("# {text}\n"));
    }

    fn snapshot(self, name: &str) {
        let dir = self.ws.path().display().to_string();
        let mut settings = insta::Settings::clone_current();
        settings.add_filter(&regex_escape(&dir), "[DIR]");
        settings.add_filter(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "[ID]");
        settings.add_filter(r"sha256:[0-9a-f]{64}", "[FINGERPRINT]");
        settings.add_filter(r"\[\d+\.\ds\]", "[TIME]");
        settings.add_filter(r"after \d+\.\ds", "after [TIME]");
        settings.add_filter(r"in \d+\.\d\ds", "in [TIME]");
        settings.add_filter(r"http://127\.0\.0\.1:\d+", "[API]");
        settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[DATE]");
        settings.add_filter(r"pid \d+", "pid [PID]");
        settings.add_filter(r"instance [0-9a-f]{32}", "instance [INSTANCE]");
        settings.add_filter(r"-----BEGIN PRIVATE KEY-----[^-]*-----END PRIVATE KEY-----", "[PRIVATE KEY]");
        settings.bind(|| insta::assert_snapshot!(name, self.text));
    }
}

fn regex_escape(text: &str) -> String {
    text.chars().fold(String::new(), |mut out, c| {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

const MANIFEST: &str = "version: 1
applications:
  support:
    name: Support line
    capabilities:
      voice:
        webhooks:
          answer_url: https://support.example.com/answer
          event_url: { address: https://support.example.com/event, http_method: POST }
  chat:
    name: Chat
    capabilities:
      messages:
        webhooks:
          inbound_url: https://chat.example.com/inbound
          status_url: https://chat.example.com/status
";

#[test]
fn a_day_with_vapp() {
    let emulator = BackgroundEmulator::start(config());
    let mut t = Transcript::new(&emulator.url);
    t.ws.write("vapp.yaml", MANIFEST);
    t.vapp(&["validate"]);
    t.vapp(&["plan"]);
    t.vapp(&["apply", "--auto-approve", "--parallelism", "1"]);
    t.vapp(&["plan", "--detailed-exitcode"]);
    t.vapp(&["state", "list"]);
    t.note("a webhook moves");
    t.ws.write("vapp.yaml", &MANIFEST.replace("chat.example.com/status", "chat.example.com/v2/status"));
    t.vapp(&["plan", "--detailed-exitcode"]);
    t.vapp(&["plan", "--format", "json"]);
    t.vapp(&["plan", "--format", "markdown"]);
    t.vapp(&["apply", "--auto-approve"]);
    t.note("an application leaves the manifest");
    t.ws.write("vapp.yaml", &MANIFEST[..MANIFEST.find("  chat:").unwrap()]);
    t.vapp(&["plan", "--max-deletes", "0"]);
    t.vapp(&["destroy", "--auto-approve", "--parallelism", "1"]);
    t.snapshot("a_day_with_vapp");
}

#[test]
fn mistakes_and_their_messages() {
    let emulator = BackgroundEmulator::start(config());
    let mut t = Transcript::new(&emulator.url);
    t.note("no manifest");
    t.vapp(&["plan"]);
    t.note("two mistakes in one file");
    t.ws.write(
        "vapp.yaml",
        "version: 1\napplications:\n  a:\n    nmae: A\n  b:\n    name: B\n    capabilities:\n      voice:\n        region: mars\n",
    );
    t.vapp(&["validate"]);
    t.note("a value of the wrong type");
    t.ws.write("vapp.yaml", "version: 1\napplications:\n  a:\n    name: A\n    protect: maybe\n");
    t.vapp(&["validate"]);
    t.ws.write("vapp.yaml", "version: 1\napplications:\n  a: [1, 2]\n");
    t.vapp(&["validate"]);
    t.note("no credentials");
    t.ws.write("vapp.yaml", MANIFEST);
    t.vapp_with(&["plan"], &[("VONAGE_API_KEY", "")]);
    t.note("wrong credentials");
    t.vapp_with(&["plan"], &[("VONAGE_API_SECRET", "wrong")]);
    t.note("a damaged state");
    t.vapp(&["apply", "--auto-approve", "--parallelism", "1"]);
    t.vapp(&["apply", "--auto-approve"]);
    let state = t.ws.path().join("vapp.state.json");
    let good = std::fs::read_to_string(&state).unwrap();
    std::fs::write(&state, good.replacen("\"protect\": false", "\"protect\": true", 1)).unwrap();
    t.vapp(&["plan"]);
    std::fs::write(&state, &good).unwrap();
    t.note("a stale saved plan");
    t.vapp(&["plan", "-o", "saved.plan"]);
    t.ws.write("vapp.yaml", &MANIFEST.replace("Chat", "Chat 2"));
    t.vapp(&["apply", "--auto-approve"]);
    t.vapp(&["apply", "saved.plan"]);
    t.note("a plan file of an older vapp");
    t.ws.write("old.plan", "{\"format\": \"vapp-plan\", \"version\": 1, \"vapp_version\": \"0.1.0\", \"plan\": {}}");
    t.vapp(&["apply", "old.plan"]);
    t.snapshot("mistakes_and_their_messages");
}

#[test]
fn policies_in_every_format() {
    let emulator = BackgroundEmulator::start(config());
    let mut t = Transcript::new(&emulator.url);
    t.ws.write("vapp.yaml", &MANIFEST.replace("https://chat.example.com/inbound", "http://chat.example.com/inbound"));
    for file in ["https_only", "owner_label", "signed_callbacks", "no_delete_in_production"] {
        let text =
            std::fs::read_to_string(crate::harness::repo_path(&format!("examples/policies/{file}.rego"))).unwrap();
        t.ws.write(&format!("policies/{file}.rego"), &text);
    }
    t.note("a webhook on http, and no owner labels");
    t.vapp(&["plan", "--policy", "policies"]);
    t.vapp(&["plan", "--policy", "policies", "--format", "markdown"]);
    t.vapp(&["plan", "--policy", "policies", "--format", "json"]);
    t.vapp(&["apply", "--auto-approve", "--policy", "policies"]);
    t.note("mended: warnings only");
    t.ws.write("vapp.yaml", MANIFEST);
    t.vapp(&["apply", "--auto-approve", "--policy", "policies", "--parallelism", "1"]);
    t.note("mistakes");
    t.ws.write("broken.rego", "package main\nimport rego.v1\n\ndeny contains msg if {\n    msg := \n}\n");
    t.vapp(&["plan", "--policy", "broken.rego"]);
    t.vapp(&["plan", "--policy", "policies", "--policy-namespace", "team"]);
    t.vapp(&["policy", "test", "policies"]);
    t.snapshot("policies_in_every_format");
}
