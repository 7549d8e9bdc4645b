//! Scenario files: call flows tested without a phone. Each scenario places a simulated call (with the
//! caller's key presses and words) or message on an emulator's number, and states what should happen:
//! the outcome, what the caller hears (in order), the parties a `connect` rings, how many requests each
//! webhook gets. `vapp simulate run` plays them and reports each as passed or failed, with what was
//! expected beside what happened; as JUnit XML for CI.
//!
//! Reading is pure and bounded ([`MAX_SCENARIO_BYTES`], [`MAX_SCENARIOS`]); mistakes are reported at
//! file:line:col, as a manifest's are. Judging is pure: expectations and a transcript in, mismatches out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::simulate::{CallerActs, Outcome, Transcript};
use crate::manifest::{Diagnostic, Location, Position};

/// The largest scenario file read.
pub const MAX_SCENARIO_BYTES: u64 = 1024 * 1024;
/// The most scenarios one file holds.
pub const MAX_SCENARIOS: usize = 1000;
/// The scenario file format's version.
pub const VERSION: u32 = 1;

/// A scenario file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Always 1.
    pub version: u32,
    /// The scenarios, played in order.
    pub scenarios: Vec<Scenario>,
}

/// One call or message and what should happen.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What the scenario is about, as reports name it.
    pub name: String,
    /// A call to one of the emulator's numbers.
    #[serde(default)]
    pub call: Option<CallTo>,
    /// A message to one of the emulator's numbers.
    #[serde(default)]
    pub message: Option<MessageTo>,
    /// Keys the caller presses, taken in turn by the call's input actions that take DTMF.
    #[serde(default)]
    pub press: Vec<Digits>,
    /// Words the caller says, taken in turn by the call's input actions that take speech.
    #[serde(default)]
    pub say: Vec<String>,
    /// The parties a `connect` rings do not answer.
    #[serde(default)]
    pub no_answer: bool,
    /// What should happen.
    #[serde(default)]
    pub expect: Expect,
}

/// Where a call goes, and from where.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallTo {
    pub to: Digits,
    #[serde(default)]
    pub from: Option<Digits>,
}

/// Where a message goes, from where, and what it says.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageTo {
    pub to: Digits,
    #[serde(default)]
    pub from: Option<Digits>,
    pub text: String,
}

/// A phone number or a string of keys, written quoted or not (`447700900001`, `"1"`).
#[derive(Clone, Debug, PartialEq, Eq, JsonSchema)]
#[schemars(with = "DigitsWritten")]
pub struct Digits(pub String);

/// How [`Digits`] is written: a string or an integer. It reads them, and the schema says so.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum DigitsWritten {
    Text(String),
    Number(u64),
}

impl<'de> Deserialize<'de> for Digits {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match DigitsWritten::deserialize(deserializer) {
            Ok(DigitsWritten::Text(text)) => Ok(Digits(text)),
            Ok(DigitsWritten::Number(n)) => Ok(Digits(n.to_string())),
            Err(_) => Err(serde::de::Error::custom("expected a number or a string of digits")),
        }
    }
}

/// What should happen; each expectation is checked only when given.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// `answered`, `failed`, `unrouted` (calls); `accepted`, `rejected` (messages).
    #[serde(default)]
    pub outcome: Option<ExpectedOutcome>,
    /// Pieces of what the caller hears (talk text or stream URLs), in this order.
    #[serde(default)]
    pub heard: Vec<String>,
    /// The numbers, URIs, users or extensions a `connect` rang, in this order.
    #[serde(default)]
    pub connected: Vec<Digits>,
    /// How many requests each webhook gets (`answer_url`, `fallback_answer_url`, `event_url`, `input`,
    /// `record`, `connect`, `notify`, `inbound_url`).
    #[serde(default)]
    pub webhooks: BTreeMap<super::simulate::Reached, usize>,
}

/// An outcome, as a scenario expects it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedOutcome {
    Answered,
    Failed,
    Unrouted,
    Accepted,
    Rejected,
}

impl ExpectedOutcome {
    fn matches(self, outcome: Outcome) -> bool {
        matches!(
            (self, outcome),
            (ExpectedOutcome::Answered, Outcome::Answered)
                | (ExpectedOutcome::Failed, Outcome::Failed)
                | (ExpectedOutcome::Unrouted, Outcome::Unrouted)
                | (ExpectedOutcome::Accepted, Outcome::Accepted)
                | (ExpectedOutcome::Rejected, Outcome::Rejected)
        )
    }

    fn as_str(self) -> &'static str {
        match self {
            ExpectedOutcome::Answered => "answered",
            ExpectedOutcome::Failed => "failed",
            ExpectedOutcome::Unrouted => "unrouted",
            ExpectedOutcome::Accepted => "accepted",
            ExpectedOutcome::Rejected => "rejected",
        }
    }
}

/// What a scenario asks the emulator for.
#[derive(Clone, Debug, PartialEq)]
pub enum Traffic {
    Call { to: String, from: Option<String>, acts: CallerActs },
    Message { to: String, from: Option<String>, text: String },
}

/// A scenario read, with where it is.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub file: PathBuf,
    pub name: String,
    pub traffic: Traffic,
    pub expect: Expect,
}

/// The JSON Schema of a scenario file (`vapp schema --scenarios`).
pub fn scenario_schema_text() -> String {
    let schema = serde_json::to_value(schemars::schema_for!(ScenarioFile)).unwrap_or(Value::Null);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Reads the scenarios of `text` (the file at `path`); every mistake found, at file:line:col.
pub fn read(path: &Path, text: &str) -> Result<Vec<Loaded>, Vec<Diagnostic>> {
    let lines: Vec<&str> = text.lines().collect();
    let diagnostic = |at: Position, message: String, help: Option<String>| Diagnostic {
        location: Location { file: path.to_path_buf(), position: at },
        message,
        help,
        source_line: at.line.checked_sub(1).and_then(|i| lines.get(i)).map(|l| l.trim_end().to_string()),
    };
    let (value, index) = crate::manifest::yaml::parse(text, &|_| None)
        .map_err(|found| found.into_iter().map(|f| diagnostic(f.at, f.message, f.help)).collect::<Vec<_>>())?;
    let file: ScenarioFile = match serde_path_to_error::deserialize(&value) {
        Ok(file) => file,
        Err(e) => {
            let (at, message, help) = crate::manifest::describe_type_problem(&index, crate::humanise::humanise(&e));
            return Err(vec![diagnostic(at, message, help)]);
        }
    };
    let mut problems = Vec::new();
    if file.version != VERSION {
        let at = index.value(&["version".to_string()]).unwrap_or_default();
        problems.push(diagnostic(
            at,
            format!("scenario file version {} is not supported", file.version),
            Some(format!("this vapp reads version {VERSION}")),
        ));
    }
    if file.scenarios.len() > MAX_SCENARIOS {
        let at = index.nearest_key(&["scenarios".to_string()]);
        problems.push(diagnostic(
            at,
            format!("{} scenarios in one file; vapp reads at most {MAX_SCENARIOS}", file.scenarios.len()),
            None,
        ));
        return Err(problems);
    }
    let mut loaded = Vec::new();
    for (i, scenario) in file.scenarios.into_iter().enumerate() {
        let at = |field: &str| {
            let mut path = vec!["scenarios".to_string(), i.to_string()];
            if !field.is_empty() {
                path.push(field.to_string());
            }
            index.nearest_key(&path)
        };
        if scenario.name.trim().is_empty() {
            problems.push(diagnostic(at("name"), "a scenario needs a name".into(), None));
        }
        for (field, number) in
            [("call", scenario.call.as_ref().map(|c| &c.to)), ("message", scenario.message.as_ref().map(|m| &m.to))]
        {
            if let Some(number) = number.filter(|n| crate::model::Msisdn::parse(&n.0).is_none()) {
                problems.push(diagnostic(
                    at(field),
                    format!("`{}` is not a phone number (7 to 15 digits)", number.0),
                    None,
                ));
            }
        }
        if let Some(keys) = scenario
            .press
            .iter()
            .find(|k| k.0.is_empty() || !k.0.chars().all(|c| c.is_ascii_digit() || c == '*' || c == '#'))
        {
            problems.push(diagnostic(
                at("press"),
                format!("`{}` is not a string of keys (0-9, * and #)", keys.0),
                None,
            ));
        }
        let traffic = match (scenario.call, scenario.message) {
            (Some(call), None) => Traffic::Call {
                to: call.to.0,
                from: call.from.map(|f| f.0),
                acts: CallerActs {
                    press: scenario.press.into_iter().map(|d| d.0).collect(),
                    say: scenario.say,
                    no_answer: scenario.no_answer,
                    order: Vec::new(),
                },
            },
            (None, Some(message)) => {
                if !scenario.press.is_empty() || !scenario.say.is_empty() || scenario.no_answer {
                    problems.push(diagnostic(
                        at("message"),
                        "`press`, `say` and `no_answer` are for calls, not messages".into(),
                        None,
                    ));
                }
                Traffic::Message { to: message.to.0, from: message.from.map(|f| f.0), text: message.text }
            }
            (Some(_), Some(_)) => {
                problems.push(diagnostic(
                    at("message"),
                    "a scenario is a `call` or a `message`, not both".into(),
                    None,
                ));
                continue;
            }
            (None, None) => {
                problems.push(diagnostic(
                    at(""),
                    format!("scenario `{}` places no traffic", scenario.name),
                    Some("give it a `call: {to: …}` or a `message: {to: …, text: …}`".into()),
                ));
                continue;
            }
        };
        loaded.push(Loaded { file: path.to_path_buf(), name: scenario.name, traffic, expect: scenario.expect });
    }
    match problems.is_empty() {
        true => Ok(loaded),
        false => Err(problems),
    }
}

/// One expectation that did not hold: what was expected beside what happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// `outcome`, `heard`, `connected`, or `webhooks.<name>`.
    pub what: String,
    pub expected: String,
    pub happened: String,
}

/// The expectations of `expect` that `transcript` does not meet.
pub fn judge(expect: &Expect, transcript: &Transcript) -> Vec<Mismatch> {
    let mut mismatches = Vec::new();
    if let Some(outcome) = expect.outcome.filter(|o| !o.matches(transcript.outcome)) {
        let mut happened = transcript.outcome.as_str().to_string();
        if let Some(problem) = &transcript.problem {
            happened.push_str(&format!(" ({problem})"));
        }
        mismatches.push(Mismatch { what: "outcome".into(), expected: outcome.as_str().into(), happened });
    }
    let heard: Vec<&str> = transcript.heard.iter().map(|h| h.text.as_str()).collect();
    if !in_order(&expect.heard, &heard, |piece, text| text.contains(piece)) {
        mismatches.push(Mismatch {
            what: "heard".into(),
            expected: quoted_list(expect.heard.iter().map(String::as_str), ", then "),
            happened: if heard.is_empty() { "nothing".into() } else { quoted_list(heard.iter().copied(), ", then ") },
        });
    }
    let connected: Vec<&str> = transcript.connected.iter().map(|l| l.to.as_str()).collect();
    let wanted: Vec<String> = expect.connected.iter().map(|d| d.0.clone()).collect();
    if !in_order(&wanted, &connected, |want, to| want == to) {
        mismatches.push(Mismatch {
            what: "connected".into(),
            expected: quoted_list(wanted.iter().map(String::as_str), ", then "),
            happened: if connected.is_empty() {
                "no one".into()
            } else {
                quoted_list(connected.iter().copied(), ", then ")
            },
        });
    }
    for (webhook, expected) in &expect.webhooks {
        let happened = transcript.requests_to(*webhook);
        if happened != *expected {
            mismatches.push(Mismatch {
                what: format!("webhooks.{webhook}"),
                expected: format!("{expected} request{}", if *expected == 1 { "" } else { "s" }),
                happened: format!("{happened} request{}", if happened == 1 { "" } else { "s" }),
            });
        }
    }
    mismatches
}

/// Whether every one of `wanted` matches an item of `seen`, each after the one before.
fn in_order<W, S>(wanted: &[W], seen: &[S], matches: impl Fn(&W, &S) -> bool) -> bool {
    let mut from = 0;
    for want in wanted {
        match seen[from..].iter().position(|s| matches(want, s)) {
            Some(at) => from += at + 1,
            None => return false,
        }
    }
    true
}

fn quoted_list<'a>(items: impl Iterator<Item = &'a str>, between: &str) -> String {
    items.map(|i| format!("{i:?}")).collect::<Vec<_>>().join(between)
}

/// One scenario played.
#[derive(Clone, Debug, Serialize)]
pub struct Played {
    pub name: String,
    pub file: PathBuf,
    pub ok: bool,
    pub mismatches: Vec<Mismatch>,
    /// Why the scenario could not be played (the emulator refused it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long playing it took, in milliseconds.
    pub ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcript: Option<Transcript>,
}

/// Every scenario's result, as `--format json` prints it.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    pub format_version: u32,
    pub scenarios: Vec<Played>,
    pub summary: RunSummary,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct RunSummary {
    pub passed: usize,
    pub failed: usize,
}

impl RunReport {
    pub fn new(scenarios: Vec<Played>) -> Self {
        let failed = scenarios.iter().filter(|s| !s.ok).count();
        RunReport { format_version: 1, summary: RunSummary { passed: scenarios.len() - failed, failed }, scenarios }
    }

    pub fn ok(&self) -> bool {
        self.summary.failed == 0
    }
}

/// The report for a terminal: a line per scenario, and under a failed one what was expected beside
/// what happened.
pub fn render_human(report: &RunReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for played in &report.scenarios {
        let mark = if played.ok { "✓" } else { "✗" };
        let _ = writeln!(out, "{mark} {} ({})", played.name, played.file.display());
        if let Some(error) = &played.error {
            let _ = writeln!(out, "    {}", error.lines().collect::<Vec<_>>().join("\n    "));
        }
        for m in &played.mismatches {
            let _ = writeln!(out, "    {}: expected {}", m.what, m.expected);
            let _ = writeln!(out, "    {}  happened {}", " ".repeat(m.what.chars().count()), m.happened);
        }
    }
    let total = report.scenarios.len();
    let _ = writeln!(
        out,
        "\n{total} scenario{}: {} passed, {} failed.",
        if total == 1 { "" } else { "s" },
        report.summary.passed,
        report.summary.failed
    );
    out
}

pub fn render_json(report: &RunReport) -> String {
    let mut text = serde_json::to_string_pretty(report).unwrap_or_default();
    text.push('\n');
    text
}

/// JUnit XML, as CI systems show test results: a suite per scenario file, a case per scenario, a
/// failure's message listing what was expected beside what happened, and the transcript as its output.
pub fn render_junit(report: &RunReport) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut junit = Report::new("vapp simulate run");
    let mut files: Vec<&PathBuf> = Vec::new();
    for played in &report.scenarios {
        if !files.contains(&&played.file) {
            files.push(&played.file);
        }
    }
    for file in files {
        let mut suite = TestSuite::new(file.display().to_string());
        for played in report.scenarios.iter().filter(|p| &p.file == file) {
            let status = match (played.ok, &played.error) {
                (true, _) => TestCaseStatus::success(),
                (false, Some(error)) => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                    status.set_message(error.clone());
                    status
                }
                (false, None) => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    let lines: Vec<String> = played
                        .mismatches
                        .iter()
                        .map(|m| format!("{}: expected {}, happened {}", m.what, m.expected, m.happened))
                        .collect();
                    status.set_message(lines.join("; "));
                    status.set_description(lines.join("\n"));
                    status
                }
            };
            let mut case = TestCase::new(played.name.clone(), status);
            case.set_classname(file.display().to_string());
            case.set_time(std::time::Duration::from_millis(played.ms));
            if let Some(transcript) = &played.transcript {
                case.set_system_out(super::simulate::render_human(transcript));
            }
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    junit.to_string().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &str) -> Result<Vec<Loaded>, Vec<String>> {
        read(Path::new("calls.yaml"), text).map_err(|d| d.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn scenarios_read_with_their_traffic_and_expectations() {
        let loaded = read_text(
            "version: 1\nscenarios:\n  - name: sales\n    call: { to: 447700900001, from: \"447700900999\" }\n    press: [1]\n    expect:\n      outcome: answered\n      heard: [Welcome, sales]\n      connected: [\"447700900123\"]\n      webhooks: { fallback_answer_url: 0 }\n  - name: text\n    message: { to: \"447700900002\", text: help }\n    expect: { outcome: accepted }\n",
        )
        .unwrap();
        assert_eq!(loaded.len(), 2);
        let Traffic::Call { to, acts, .. } = &loaded[0].traffic else { panic!("a call") };
        assert_eq!((to.as_str(), acts.press.as_slice()), ("447700900001", &["1".to_string()][..]));
        assert_eq!(loaded[0].expect.webhooks[&super::super::simulate::Reached::FallbackAnswerUrl], 0);
        assert!(matches!(&loaded[1].traffic, Traffic::Message { text, .. } if text == "help"));
    }

    #[test]
    fn mistakes_are_reported_where_they_are() {
        let errors =
            read_text("version: 1\nscenarios:\n  - name: x\n    call: { to: \"447700900001\" }\n    expcet: {}\n")
                .unwrap_err();
        assert!(errors[0].starts_with("calls.yaml:5:5: unknown key `expcet`"), "{errors:?}");
        assert!(errors[0].contains("did you mean `expect`?"), "{errors:?}");
        let errors = read_text("version: 1\nscenarios:\n  - name: x\n    call: { to: \"12\" }\n    press: [\"1a\"]\n")
            .unwrap_err();
        assert!(errors[0].starts_with("calls.yaml:4:5: `12` is not a phone number"), "{errors:?}");
        assert!(errors[1].starts_with("calls.yaml:5:5: `1a` is not a string of keys"), "{errors:?}");
        let errors = read_text("version: 1\nscenarios:\n  - name: x\n    expect: { outcome: answred }\n").unwrap_err();
        assert!(errors[0].starts_with("calls.yaml:4:"), "{errors:?}");
    }

    #[test]
    fn the_fuzz_seeds_read_or_say_why() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/scenario");
        let mut read_ok = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            match read(&path, &text) {
                Ok(_) => read_ok += 1,
                Err(found) => assert!(!found.is_empty()),
            }
        }
        assert_eq!(read_ok, 2, "ivr.yaml and every-field.yaml read; typo.yaml does not");
    }

    #[test]
    fn expectations_are_judged_in_order() {
        let transcript: Transcript = serde_json::from_value(serde_json::json!({
            "format_version": 1, "kind": "call", "to": "1", "from": "2", "application_id": null, "uuid": "u",
            "outcome": "answered", "ok": true, "problem": null,
            "heard": [{"at_ms": 0, "action": "talk", "text": "Welcome to ACME"}, {"at_ms": 1, "action": "talk", "text": "Connecting you to sales"}],
            "connected": [{"endpoint": "phone", "to": "447700900123", "uuid": "l", "answered": true}],
            "steps": [{"webhook": "answer_url", "method": "GET", "url": "u", "status": 200, "ms": 1, "ok": true, "problem": null}]
        }))
        .unwrap();
        let expect = |text: &str| -> Expect { serde_json::from_str(text).unwrap() };
        assert!(judge(&expect(r#"{"outcome":"answered","heard":["Welcome","sales"],"connected":["447700900123"],"webhooks":{"answer_url":1}}"#), &transcript).is_empty());
        let wrong = judge(
            &expect(r#"{"outcome":"failed","heard":["sales","Welcome"],"webhooks":{"fallback_answer_url":1}}"#),
            &transcript,
        );
        let what: Vec<&str> = wrong.iter().map(|m| m.what.as_str()).collect();
        assert_eq!(what, ["outcome", "heard", "webhooks.fallback_answer_url"]);
        assert_eq!(wrong[1].happened, "\"Welcome to ACME\", then \"Connecting you to sales\"");
    }
}
