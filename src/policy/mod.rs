//! Policies as code: Rego rules over the plan, evaluated inside vapp with `regorus` (Microsoft's Rego
//! interpreter), so no OPA binary is needed.
//!
//! conftest's conventions: in the package `main` (or the one `--policy-namespace` names), rules `deny`
//! and `warn` give strings or objects with a `msg`. Any deny stops an apply before it changes anything
//! (exit 5). `vapp policy test` evaluates every rule whose name starts with `test_`, as `opa test` does.
//!
//! Invariants:
//! - The input is built in one place ([`input`]): the JSON plan exactly as `plan --format json` prints
//!   it, plus `manifests` and `accounts`. It holds no secret (a webhook URL's password shows as `***`;
//!   accounts carry their API key, never a secret).
//! - Evaluation is pure over the policies' text and the input; files are read at the edge
//!   ([`read_sources`]). Bounded: [`MAX_POLICY_BYTES`] of text, [`MAX_POLICY_FILES`] files, and
//!   [`EVALUATION_TIME`] of evaluation; a policy that does not parse or fails to evaluate is an error
//!   that names its file, line and column.
//! - Both Rego v1 (`import rego.v1`, `deny contains msg if { … }`) and the older syntax (`deny[msg] {
//!   … }`) are read: each file as v1 first, and as v0 when only that reads it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::manifest::accounts::{AccountKind, DeclaredAccount};
use crate::manifest::DesiredApp;
use crate::model::{defaults, AccountName, ApiKey};
use crate::plan::Plan;

/// The most policy text vapp reads, all files together.
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;
/// The most policy files vapp reads.
pub const MAX_POLICY_FILES: usize = 1000;
/// The longest an evaluation of the policies may take.
pub const EVALUATION_TIME: Duration = Duration::from_secs(5);
/// The deepest nesting of brackets and braces (arrays, sets, objects, rule bodies) vapp reads. The
/// Rego parser's time doubles with each level (a depth of 12 takes a tenth of a second, 20 takes 45 s),
/// so deeper text is refused before it is parsed. Real policies stay under 10.
pub const MAX_POLICY_NESTING: usize = 12;
/// The most numbers `numbers.range` and `numbers.range_step` may make. regorus reserves room for the
/// whole range at once, so a range of 10^13 ends the process before the time limit can; vapp puts its
/// own, bounded, functions in their place.
pub const MAX_RANGE: i128 = 1_000_000;
/// The widest field a format (`sprintf("%05d", …)`) may ask for: regorus fills a width of any size.
pub const MAX_FORMAT_WIDTH: u32 = 999;
/// The package conftest reads.
pub const DEFAULT_NAMESPACE: &str = "main";

/// Why the policies could not be read or evaluated. The messages of regorus name the file, line and
/// column of what it could not read.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read the policy {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no policy (.rego file) at {path}")]
    Nothing { path: PathBuf },
    #[error("the policies are more than {MAX_POLICY_BYTES} bytes, the most vapp reads")]
    TooLarge,
    #[error("there are more than {MAX_POLICY_FILES} policy files, the most vapp reads")]
    TooMany,
    #[error("{0}")]
    Parse(String),
    #[error(
        "{path}:{line}:{col}: brackets and braces are nested more than {MAX_POLICY_NESTING} deep, the most vapp reads"
    )]
    TooDeep { path: String, line: usize, col: usize },
    #[error("{path}:{line}:{col}: a format's width is more than {MAX_FORMAT_WIDTH} or not written in ASCII digits")]
    FormatWidth { path: String, line: usize, col: usize },
    #[error("the policies failed to evaluate: {0}")]
    Evaluate(String),
    #[error("the policies took longer than {}s to evaluate, the most vapp allows", EVALUATION_TIME.as_secs())]
    TooSlow,
    #[error("no policy is in package {namespace} (the packages read: {packages})")]
    NoPackage { namespace: String, packages: String },
    #[error("package {namespace} has a `{rule}` that is neither a set nor a list of messages")]
    NotMessages { namespace: String, rule: &'static str },
}

impl PolicyError {
    pub fn help(&self) -> Option<String> {
        match self {
            PolicyError::Nothing { .. } => Some("give a .rego file, or a directory that holds some".into()),
            PolicyError::TooDeep { .. } => Some("give the inner parts names (`x := {…}`) and nest those".into()),
            PolicyError::NoPackage { namespace, .. } => Some(format!(
                "start a policy with `package {namespace}`, or name the package its rules are in with --policy-namespace"
            )),
            PolicyError::NotMessages { .. } => {
                Some("write `deny contains msg if { … }` (a set of strings, or of objects with a `msg`)".into())
            }
            _ => None,
        }
    }
}

/// A policy file's text.
#[derive(Clone, Debug)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

/// Reads the `.rego` files at `paths` (files, or directories read recursively, in name order); test
/// files (`*_test.rego`) only when `with_tests`.
pub fn read_sources(paths: &[PathBuf], with_tests: bool) -> Result<Vec<Source>, PolicyError> {
    let mut files = Vec::new();
    for path in paths {
        let before = files.len();
        collect(path, with_tests, &mut files)?;
        if files.len() == before {
            return Err(PolicyError::Nothing { path: path.clone() });
        }
    }
    let mut total = 0usize;
    files
        .into_iter()
        .map(|path| {
            let read = |source| PolicyError::Read { path: path.clone(), source };
            let bytes = crate::fsutil::read_bounded(&path, MAX_POLICY_BYTES as u64, "a policy")
                .map_err(|e| read(std::io::Error::other(crate::humanise::chain(&e))))?;
            total += bytes.len();
            if total > MAX_POLICY_BYTES {
                return Err(PolicyError::TooLarge);
            }
            let text = String::from_utf8(bytes)
                .map_err(|_| read(std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text")))?;
            Ok(Source { path, text })
        })
        .collect()
}

fn collect(path: &Path, with_tests: bool, files: &mut Vec<PathBuf>) -> Result<(), PolicyError> {
    let read = |source| PolicyError::Read { path: path.to_path_buf(), source };
    let metadata = std::fs::metadata(path).map_err(read)?;
    if metadata.is_file() {
        files.push(path.to_path_buf());
    } else {
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(path).map_err(read)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for entry in entries {
            let is_test = entry.to_string_lossy().ends_with("_test.rego");
            if entry.is_dir() {
                collect(&entry, with_tests, files)?;
            } else if entry.extension().is_some_and(|e| e == "rego") && (with_tests || !is_test) {
                files.push(entry);
            }
        }
    }
    if files.len() > MAX_POLICY_FILES {
        return Err(PolicyError::TooMany);
    }
    Ok(())
}

/// Policies read and ready to evaluate.
#[derive(Clone)]
pub struct Policies {
    engine: regorus::Engine,
    namespace: String,
    /// Each file's package (`data.main`) and its `test_` rules.
    tests: Vec<(PathBuf, String, Vec<String>)>,
}

impl std::fmt::Debug for Policies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Policies(namespace {}, {} files)", self.namespace, self.tests.len())
    }
}

/// A finding of a `deny` or `warn` rule: its message, and whatever else the rule's object held.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    pub msg: String,
    #[serde(flatten)]
    pub details: Map<String, Value>,
}

/// What the policies say of one plan.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Verdict {
    pub deny: Vec<Finding>,
    pub warn: Vec<Finding>,
}

impl Verdict {
    pub fn denies(&self) -> bool {
        !self.deny.is_empty()
    }
}

/// One `test_` rule's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestResult {
    pub file: PathBuf,
    /// `data.main.test_https_only`.
    pub rule: String,
    /// Why it failed: false, undefined, or an error.
    pub failure: Option<String>,
}

impl Policies {
    /// Parses `sources` for the package `namespace`.
    pub fn new(sources: &[Source], namespace: &str) -> Result<Policies, PolicyError> {
        let mut engine = regorus::Engine::new();
        // Extensions are looked up before builtins: these take the builtins' places.
        let bounded: [(&str, u8, Builtin); 2] =
            [("numbers.range", 2, bounded_range), ("numbers.range_step", 3, bounded_range_step)];
        for (name, arguments, function) in bounded {
            engine.add_extension(name.to_string(), arguments, Box::new(function)).map_err(evaluation)?;
        }
        engine.set_execution_timer_config(timer(EVALUATION_TIME));
        let mut tests = Vec::new();
        for source in sources {
            let path = source.path.display().to_string();
            let package = add(&mut engine, &path, &source.text)?;
            tests.push((source.path.clone(), package, test_rules(&source.text)));
        }
        Ok(Policies { engine, namespace: namespace.to_string(), tests })
    }

    /// Fails unless some policy is in the package `--policy-namespace` names: a misspelt namespace
    /// would otherwise pass every plan without evaluating a rule.
    pub fn require_namespace(&self) -> Result<(), PolicyError> {
        let wanted = format!("data.{}", self.namespace);
        if self.tests.iter().any(|(_, package, _)| *package == wanted) {
            return Ok(());
        }
        let mut packages: Vec<&str> =
            self.tests.iter().map(|(_, package, _)| package.trim_start_matches("data.")).collect();
        packages.sort();
        packages.dedup();
        Err(PolicyError::NoPackage { namespace: self.namespace.clone(), packages: packages.join(", ") })
    }

    /// The same policies with another limit on evaluation time (tests of the limit).
    pub fn with_time_limit(mut self, limit: Duration) -> Self {
        self.engine.set_execution_timer_config(timer(limit));
        self
    }

    /// What the policies say of `input`.
    pub fn evaluate(&self, input: &Value) -> Result<Verdict, PolicyError> {
        let mut engine = self.engine.clone();
        engine.set_input(regorus::Value::from_json_str(&input.to_string()).map_err(evaluation)?);
        Ok(Verdict { deny: self.findings(&mut engine, "deny")?, warn: self.findings(&mut engine, "warn")? })
    }

    fn findings(&self, engine: &mut regorus::Engine, rule: &'static str) -> Result<Vec<Finding>, PolicyError> {
        let query = format!("data.{}.{rule}", self.namespace);
        let results = engine.eval_query(query, false).map_err(evaluation)?;
        let Some(value) = results.result.first().and_then(|r| r.expressions.first()).map(|e| &e.value) else {
            return Ok(Vec::new());
        };
        let value = serde_json::to_value(value).map_err(|e| PolicyError::Evaluate(e.to_string()))?;
        let items = match value {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            _ => return Err(PolicyError::NotMessages { namespace: self.namespace.clone(), rule }),
        };
        Ok(items.into_iter().map(finding).collect())
    }

    /// Evaluates every `test_` rule of every file, in file order.
    pub fn test(&self) -> Vec<TestResult> {
        let mut results = Vec::new();
        for (file, package, rules) in &self.tests {
            for rule in rules {
                let path = format!("{package}.{rule}");
                let mut engine = self.engine.clone();
                let failure = match engine.eval_query(path.clone(), false) {
                    Err(e) => Some(error_text(&e)),
                    Ok(results) => match results.result.first().and_then(|r| r.expressions.first()) {
                        Some(e) if e.value == regorus::Value::from(true) => None,
                        Some(_) => Some("it is false".into()),
                        None => Some("it is undefined (a condition of its body does not hold)".into()),
                    },
                };
                results.push(TestResult { file: file.clone(), rule: path, failure });
            }
        }
        results
    }
}

/// regorus's timer, looked at on every step so that no step runs long past `limit`.
fn timer(limit: Duration) -> regorus::utils::limits::ExecutionTimerConfig {
    regorus::utils::limits::ExecutionTimerConfig { limit, check_interval: std::num::NonZeroU32::MIN }
}

/// Adds one file: as Rego v1, or as v0 when only that reads it; the v1 error is the one told.
fn add(engine: &mut regorus::Engine, path: &str, text: &str) -> Result<String, PolicyError> {
    if let Some((line, col)) = too_deep(text) {
        return Err(PolicyError::TooDeep { path: path.to_string(), line, col });
    }
    if let Some((line, col)) = too_wide(text) {
        return Err(PolicyError::FormatWidth { path: path.to_string(), line, col });
    }
    engine.set_rego_v0(false);
    let first = match engine.add_policy(path.to_string(), text.to_string()) {
        Ok(package) => return Ok(package),
        Err(e) => e,
    };
    engine.set_rego_v0(true);
    let older = engine.add_policy(path.to_string(), text.to_string());
    engine.set_rego_v0(false);
    older.map_err(|_| PolicyError::Parse(error_text(&first)))
}

/// Where `[` or `{` first goes past [`MAX_POLICY_NESTING`] (line and column from 1), outside strings
/// (`"…"` with escapes, `` `…` ``) and comments (`#` to the end of the line).
fn too_deep(text: &str) -> Option<(usize, usize)> {
    #[derive(PartialEq)]
    enum In {
        Code,
        Text { escaped: bool },
        Raw,
        Comment,
    }
    let (mut at, mut depth, mut line, mut col) = (In::Code, 0usize, 1usize, 0usize);
    for c in text.chars() {
        if c == '\n' {
            (line, col) = (line + 1, 0);
        } else {
            col += 1;
        }
        at = match (at, c) {
            (In::Comment, '\n') => In::Code,
            (In::Comment, _) => In::Comment,
            (In::Text { escaped: false }, '"') => In::Code,
            (In::Text { escaped: false }, '\\') => In::Text { escaped: true },
            (In::Text { .. }, _) => In::Text { escaped: false },
            (In::Raw, '`') => In::Code,
            (In::Raw, _) => In::Raw,
            (In::Code, '#') => In::Comment,
            (In::Code, '"') => In::Text { escaped: false },
            (In::Code, '`') => In::Raw,
            (In::Code, '[' | '{') => {
                depth += 1;
                if depth > MAX_POLICY_NESTING {
                    return Some((line, col));
                }
                In::Code
            }
            (In::Code, ']' | '}') => {
                depth = depth.saturating_sub(1);
                In::Code
            }
            (In::Code, _) => In::Code,
        };
    }
    None
}

/// Where a `%` in the text is followed by a width regorus's `sprintf` would fill without bound (more
/// than [`MAX_FORMAT_WIDTH`]) or would fail on (a digit outside ASCII). The whole text is looked at,
/// strings or not: a format is nearly always written where it is used.
fn too_wide(text: &str) -> Option<(usize, usize)> {
    for (index, line) in text.lines().enumerate() {
        let mut chars = line.char_indices().peekable();
        while let Some((start, c)) = chars.next() {
            if c != '%' {
                continue;
            }
            if chars.peek().is_some_and(|(_, c)| *c == '%') {
                chars.next();
                continue;
            }
            if chars.peek().is_some_and(|(_, c)| *c == '.') {
                chars.next();
            }
            let mut width: u32 = 0;
            while let Some((_, c)) = chars.next_if(|(_, c)| c.is_numeric()) {
                match c.to_digit(10) {
                    Some(digit) if c.is_ascii_digit() => width = width.saturating_mul(10).saturating_add(digit),
                    _ => width = u32::MAX,
                }
            }
            if width > MAX_FORMAT_WIDTH {
                return Some((index + 1, line[..start].chars().count() + 1));
            }
        }
    }
    None
}

/// A function vapp puts in the place of one of regorus's builtins.
type Builtin = fn(Vec<regorus::Value>) -> anyhow::Result<regorus::Value>;

/// `numbers.range(a, b)`: the integers from `a` to `b`, both included, as regorus gives them, but at
/// most [`MAX_RANGE`] of them.
fn bounded_range(arguments: Vec<regorus::Value>) -> anyhow::Result<regorus::Value> {
    let (Some(from), Some(to)) = (integer(&arguments[0])?, integer(&arguments[1])?) else {
        return Ok(regorus::Value::Undefined);
    };
    stepped("numbers.range", from, to, 1)
}

/// `numbers.range_step(a, b, step)`: from `a` towards `b` by a positive `step`, at most [`MAX_RANGE`].
fn bounded_range_step(arguments: Vec<regorus::Value>) -> anyhow::Result<regorus::Value> {
    let (Some(from), Some(to), Some(step)) =
        (integer(&arguments[0])?, integer(&arguments[1])?, integer(&arguments[2])?)
    else {
        return Ok(regorus::Value::Undefined);
    };
    if step <= 0 {
        anyhow::bail!("numbers.range_step: step must be a positive integer");
    }
    stepped("numbers.range_step", from, to, step)
}

/// An integer argument; `None` for a number that is not one (Rego leaves the call undefined).
fn integer(value: &regorus::Value) -> anyhow::Result<Option<i64>> {
    let number = value.as_number().map_err(|_| anyhow::anyhow!("expects numeric arguments"))?;
    if !number.is_integer() {
        return Ok(None);
    }
    number.as_i64().map(Some).ok_or_else(|| anyhow::anyhow!("could not determine number of elements"))
}

fn stepped(name: &str, from: i64, to: i64, step: i64) -> anyhow::Result<regorus::Value> {
    let (from, to, step) = (i128::from(from), i128::from(to), i128::from(step));
    let count = (to - from).abs() / step + 1;
    if count > MAX_RANGE {
        anyhow::bail!("{name} would make {count} numbers; vapp allows at most {MAX_RANGE}");
    }
    let step = if to < from { -step } else { step };
    let values: Vec<regorus::Value> =
        (0..count).map(|i| from + i * step).filter_map(|n| i64::try_from(n).ok()).map(regorus::Value::from).collect();
    Ok(regorus::Value::from(values))
}

fn evaluation(error: impl Into<anyhow::Error>) -> PolicyError {
    let error = error.into();
    let text = error_text(&error);
    if text.contains("execution exceeded") || text.contains("time limit") {
        return PolicyError::TooSlow;
    }
    PolicyError::Evaluate(text)
}

fn error_text(error: &anyhow::Error) -> String {
    pointed(format!("{error:#}").trim())
}

/// regorus tells where it failed as `--> FILE:LINE:COL`, an excerpt, then `error: WHAT`. vapp's errors
/// put the place first, as a manifest's do: `FILE:LINE:COL: WHAT`, then the excerpt.
fn pointed(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let place = lines.iter().position(|l| l.trim_start().starts_with("--> "));
    let what = lines.iter().rposition(|l| l.starts_with("error: "));
    match (place, what) {
        (Some(place), Some(what)) if place < what => {
            let at = lines[place].trim_start().trim_start_matches("--> ");
            let message = lines[what].trim_start_matches("error: ");
            let mut out = format!("{at}: {message}");
            for line in &lines[place + 1..what] {
                out.push('\n');
                out.push_str(line);
            }
            for line in &lines[what + 1..] {
                out.push('\n');
                out.push_str(line);
            }
            out
        }
        _ => text.to_string(),
    }
}

/// The names of the `test_` rules a file defines, in order.
fn test_rules(text: &str) -> Vec<String> {
    let mut rules: Vec<String> = Vec::new();
    for line in text.lines() {
        let name: String = line.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if name.starts_with("test_") && !rules.contains(&name) {
            rules.push(name);
        }
    }
    rules
}

/// A rule's item as a finding: a string is its message; an object its `msg` and the rest.
fn finding(item: Value) -> Finding {
    match item {
        Value::String(msg) => Finding { msg, details: Map::new() },
        Value::Object(mut object) => {
            let msg = match object.remove("msg") {
                Some(Value::String(msg)) => msg,
                Some(other) => other.to_string(),
                None => Value::Object(object.clone()).to_string(),
            };
            Finding { msg, details: object }
        }
        other => Finding { msg: other.to_string(), details: Map::new() },
    }
}

/// An account as the policies see it.
pub struct AccountFacts<'a> {
    pub name: &'a AccountName,
    pub kind: &'static str,
    pub api_key: Option<&'a ApiKey>,
}

/// The accounts of a plan as the policies see them: `default` (the primary), each declared one, then
/// any other the plan changes (a subaccount no longer declared, being suspended).
pub fn accounts_of<'a>(
    declared: impl IntoIterator<Item = &'a DeclaredAccount>,
    plan: &'a Plan,
    default: &'a AccountName,
) -> Vec<AccountFacts<'a>> {
    let mut facts = vec![AccountFacts { name: default, kind: "primary", api_key: plan.api_keys.get(default) }];
    for account in declared {
        let kind = match account.kind {
            AccountKind::Existing { .. } => "existing",
            AccountKind::Subaccount { .. } => "subaccount",
        };
        let api_key = match &account.kind {
            AccountKind::Existing { api_key, .. } => Some(api_key),
            AccountKind::Subaccount { .. } => plan.api_keys.get(&account.name),
        };
        facts.push(AccountFacts { name: &account.name, kind, api_key });
    }
    for change in &plan.accounts {
        if !facts.iter().any(|f| f.name == &change.account) {
            // Only subaccounts vapp makes have account changes.
            let api_key = plan.api_keys.get(&change.account);
            facts.push(AccountFacts { name: &change.account, kind: "subaccount", api_key });
        }
    }
    facts
}

/// An application the manifests declare, as the policies see it: its address, account, name, labels,
/// capabilities in the API's shape with the defaults applied (every webhook an object with the method
/// Vonage uses; a password in a URL as `***`) and numbers.
pub fn manifest_entry(app: &DesiredApp) -> Value {
    let mut application = defaults::fill(&app.application.without_extras());
    if let Some(capabilities) = application.capabilities.as_deref_mut() {
        for (slot, mut hook) in capabilities.webhooks_mut() {
            let address = hook.address_mut();
            // As it displays: a password as `***`.
            *address = crate::model::WebhookUrl::new(address.to_string());
            // The method Vonage will use, where the manifest leaves it to Vonage.
            if let crate::model::HookMut::Plain(hook) = hook {
                if hook.http_method.is_none() {
                    hook.http_method = Some(crate::webhooks::rules::method(slot.kind, None).as_str().to_string());
                }
            }
        }
    }
    json!({
        "address": app.address,
        "account": app.account,
        "name": application.name,
        "labels": app.labels,
        "capabilities": application.capabilities,
        "numbers": app.numbers.iter().map(|n| n.msisdn.to_string()).collect::<Vec<_>>(),
    })
}

/// The one input document: the JSON plan as `plan --format json` prints it, with `manifests` (one
/// entry per declared application, see [`manifest_entry`]) and `accounts` (`name`, `kind`:
/// primary, existing or subaccount, and `api_key`; never a secret).
///
/// The printed plan has an `accounts` of its own (the changes to accounts: a subaccount made,
/// updated, resumed or suspended). `input.accounts` is the list of accounts, so those changes are
/// kept there, in each account's `changes` (the printed objects, in the plan's order; a subaccount
/// resumed to be emptied and suspended again has two): nothing of the printed plan is lost, and a rule
/// over an account reads one object.
pub fn input(plan: &Plan, manifests: Vec<Value>, accounts: &[AccountFacts<'_>]) -> Value {
    let mut document = crate::plan::render::render_json_value(plan);
    if let Some(object) = document.as_object_mut() {
        let changes = match object.remove("accounts") {
            Some(Value::Array(changes)) => changes,
            _ => Vec::new(),
        };
        object.insert("manifests".into(), Value::Array(manifests));
        let accounts: Vec<Value> = accounts
            .iter()
            .map(|a| {
                let name = a.name.to_string();
                let own: Vec<&Value> =
                    changes.iter().filter(|c| c["account"].as_str() == Some(name.as_str())).collect();
                json!({"name": a.name, "kind": a.kind, "api_key": a.api_key, "changes": own})
            })
            .collect();
        object.insert("accounts".into(), Value::Array(accounts));
    }
    document
}

/// The plan's "Policy" section, for people.
pub fn render_human(verdict: &Verdict) -> String {
    let mut out = format!(
        "\nPolicy: {} denied, {} warning{}\n",
        verdict.deny.len(),
        verdict.warn.len(),
        if verdict.warn.len() == 1 { "" } else { "s" }
    );
    for finding in &verdict.deny {
        out.push_str(&format!("  ✗ deny: {}\n", finding.msg));
    }
    for finding in &verdict.warn {
        out.push_str(&format!("  ! warn: {}\n", finding.msg));
    }
    out
}

/// The plan's "Policy" section, for a pull-request comment.
pub fn render_markdown(verdict: &Verdict) -> String {
    let mut out = String::from("\n### Policy\n\n");
    if verdict.deny.is_empty() && verdict.warn.is_empty() {
        out.push_str("Every policy passes.\n");
    }
    for finding in &verdict.deny {
        out.push_str(&format!("- :no_entry: **deny**: {}\n", finding.msg.replace('\n', " ")));
    }
    for finding in &verdict.warn {
        out.push_str(&format!("- :warning: **warn**: {}\n", finding.msg.replace('\n', " ")));
    }
    out
}

#[cfg(test)]
mod tests;
