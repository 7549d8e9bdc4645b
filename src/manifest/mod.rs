//! Manifests: YAML files that say which applications should exist.
//!
//! Loading is pure given the files' text and an environment lookup: [`load_sources`] turns sources into
//! a [`Desired`] set or a list of [`Diagnostic`]s, each pointing at file:line:col. Every check the API
//! would make (enums, ranges, URLs) runs here too, so `vapp validate` needs no network and a bad
//! manifest never reaches the API.

pub mod accounts;
pub mod emit;
pub mod refactor;
mod schema;
pub(crate) mod yaml;

use std::collections::hash_map::{Entry, HashMap};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

pub use schema::{list_for_mapping, manifest_schema, manifest_schema_text};
pub use yaml::{Position, MAX_FOUND};

use crate::fsutil::{self, ReadError};
use crate::humanise::{self, Dialect, ProblemKind, TypeProblem};
use crate::model::{self, rules, AccountName, Address, AppId, Application, Capabilities, Fingerprint, Msisdn, Privacy};

pub use crate::model::valid_address;

/// The manifest format version this vapp reads.
pub const VERSION: u32 = 1;

/// A manifest file (format version 1).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "vapp manifest", description = "Vonage API applications as code (format version 1).")]
pub struct ManifestFile {
    /// The manifest format version; must be 1.
    #[schemars(extend("const" = 1))]
    pub version: u32,
    /// The applications, by address: `[a-z0-9][a-z0-9_-]*`, unique across all files.
    #[serde(default)]
    #[schemars(extend("propertyNames" = {"pattern": "^[a-z0-9][a-z0-9_-]*$"}))]
    pub applications: IndexMap<String, ManifestApplication>,
    /// Renamed addresses: the state's record of `from` becomes `to`, with its id, key and numbers; no
    /// application is deleted or re-keyed. Keep the entries after apply: they are harmless once done.
    #[serde(default)]
    pub moved: Vec<refactor::MovedEntry>,
    /// Addresses to stop managing: the application, its numbers and its key stay in the account.
    #[serde(default)]
    pub removed: Vec<refactor::RemovedEntry>,
    /// Existing applications to take under management, by review.
    #[serde(default)]
    pub import: Vec<refactor::ImportEntry>,
    /// Vonage accounts besides `default`, by name; each declared once, in any file.
    #[serde(default)]
    #[schemars(extend("propertyNames" = {"pattern": "^[a-z0-9][a-z0-9_-]*$"}))]
    pub accounts: IndexMap<String, accounts::AccountEntry>,
    /// The account of this file's applications (default: `default`).
    #[serde(default)]
    pub account: Option<String>,
}

/// One application. What it leaves out is removed from the live application or takes its default.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestApplication {
    /// Display name on Vonage (names need not be unique). `${VAR}` and `${VAR:-default}` are expanded.
    pub name: String,
    /// Never delete this application: not by `destroy`, nor when its address leaves the manifest,
    /// until `protect: false` has been applied.
    #[serde(default)]
    pub protect: bool,
    #[serde(default)]
    pub capabilities: Option<Capabilities>,
    #[serde(default)]
    pub privacy: Option<Privacy>,
    #[serde(default)]
    pub keys: Option<KeySettings>,
    /// The account's phone numbers that route to this application, in E.164 (spaces, dashes and a
    /// leading `+` are allowed and dropped). The whole truth: a number linked to the application but
    /// not listed is unlinked. A number may appear under one application only.
    #[serde(default)]
    pub numbers: Option<Vec<NumberText>>,
    /// vapp's own metadata, never sent to Vonage: what policies read (`input.manifests[].labels`), such
    /// as the team that owns the application (`owner: payments`).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A phone number as a manifest writes it: text (`"+44 7700 900001"`) or plain digits.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum NumberText {
    Text(String),
    Digits(u64),
}

/// A number the manifests link to an application, and where they say so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredNumber {
    pub msisdn: Msisdn,
    pub location: Location,
}

/// The application's key pair. By default vapp makes an RSA-2048 pair and keeps the private half.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeySettings {
    /// Bring your own key: a PEM public key file (relative to this manifest). vapp sends it and never
    /// holds the private half.
    #[serde(default)]
    pub public_key_file: Option<String>,
    /// Raise this number to rotate the key pair (a reviewed change); vapp-made keys only.
    #[serde(default)]
    pub rotation: Option<u32>,
}

/// The keys the manifests want for one application.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DesiredKeys {
    /// The rotation number; raising it asks for a new pair.
    pub rotation: u32,
    /// A public key brought by the user, instead of a pair made by vapp.
    pub external: Option<ExternalKey>,
}

/// A public key from a file named in a manifest.
#[derive(Clone, Debug, PartialEq)]
pub struct ExternalKey {
    /// The file, relative to the working directory.
    pub path: PathBuf,
    /// Where the manifest names it.
    pub location: Location,
    /// The PEM, once read (see [`resolve_key_files`]).
    pub public_key: String,
    pub fingerprint: Fingerprint,
}

/// An application as the manifests want it.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredApp {
    pub address: Address,
    /// The account it lives in (its file's `account:`).
    pub account: AccountName,
    /// Name, capabilities and privacy; no id, no keys.
    pub application: Application,
    pub protect: bool,
    pub keys: DesiredKeys,
    /// The numbers that route to it, in manifest order.
    pub numbers: Vec<DesiredNumber>,
    /// Its labels (vapp's own metadata, for policies).
    pub labels: BTreeMap<String, String>,
    pub source: Location,
}

/// Every application the manifests declare, by address, in file order, and the reorganisation they
/// ask for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Desired {
    pub apps: IndexMap<Address, DesiredApp>,
    pub refactoring: refactor::Refactoring,
    /// The accounts declared under `accounts:` (`default` is never declared: it always exists).
    pub accounts: IndexMap<AccountName, accounts::DeclaredAccount>,
}

/// A place in a manifest file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub position: Position,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.position.line, self.position.col)
    }
}

/// A problem in a manifest, with the line it is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub location: Location,
    pub message: String,
    pub help: Option<String>,
    pub source_line: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)?;
        if let Some(line) = &self.source_line {
            let number = self.location.position.line.to_string();
            let pad = " ".repeat(number.len());
            let (excerpt, caret) = excerpt(line, self.location.position.col.saturating_sub(1));
            let caret_pad = " ".repeat(caret);
            write!(f, "\n {pad} |\n {number} | {excerpt}\n {pad} | {caret_pad}^")?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  = help: {help}")?;
        }
        Ok(())
    }
}

/// The part of a long line around column `col` (0-based), and where `col` falls in it: a diagnostic
/// quotes a line, not a whole minified file.
fn excerpt(line: &str, col: usize) -> (String, usize) {
    const WIDTH: usize = 100;
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= WIDTH {
        return (line.to_string(), col);
    }
    let start = col.saturating_sub(WIDTH / 2).min(chars.len().saturating_sub(WIDTH));
    let end = (start + WIDTH).min(chars.len());
    let mut text: String = chars[start..end].iter().collect();
    let mut caret = col - start;
    if start > 0 {
        text.insert(0, '…');
        caret += 1;
    }
    if end < chars.len() {
        text.push('…');
    }
    (text, caret)
}

/// Every problem found, sorted by file and position.
#[derive(Debug, thiserror::Error)]
pub struct ManifestErrors(pub Vec<Diagnostic>);

impl fmt::Display for ManifestErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read the manifest {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: ReadError,
    },
    #[error("no manifest found at {0}")]
    Missing(PathBuf),
    /// A directory named with `-f` holds no `*.yaml` or `*.yml` file: planning against nothing would
    /// delete every managed application.
    #[error("the directory {0} holds no manifest (*.yaml or *.yml)")]
    EmptyDirectory(PathBuf),
    #[error(transparent)]
    Invalid(#[from] ManifestErrors),
}

impl LoadError {
    /// What to do about it, for the command edge to print as `= help:`.
    pub fn help(&self) -> Option<String> {
        match self {
            LoadError::Missing(_) => Some("name manifests with -f FILE or -f DIR".into()),
            LoadError::EmptyDirectory(_) => Some(
                "to mean \"no applications\" (and delete every managed one), write a manifest with `version: 1` and `applications: {}`".into(),
            ),
            LoadError::Io { .. } | LoadError::Invalid(_) => None,
        }
    }
}

/// The largest manifest file vapp reads.
pub const MAX_MANIFEST_BYTES: u64 = 8 * 1024 * 1024;
/// The largest public key file vapp reads (an RSA-16384 public key PEM is under 3 KB).
pub const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// One manifest file's text.
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

/// Reads the manifest files named on the command line: files as they are, directories as all their
/// `*.yaml` and `*.yml` files (not recursive), in name order.
pub fn read_sources(paths: &[PathBuf]) -> Result<Vec<Source>, LoadError> {
    let mut files = Vec::new();
    for path in paths {
        let meta = fs_err::metadata(path).map_err(|_| LoadError::Missing(path.clone()))?;
        if meta.is_dir() {
            let io = |e: std::io::Error| LoadError::Io { path: path.clone(), source: e.into() };
            let mut found: Vec<PathBuf> = fs_err::read_dir(path)
                .map_err(io)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
                .collect();
            if found.is_empty() {
                return Err(LoadError::EmptyDirectory(path.clone()));
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    files
        .into_iter()
        .map(|path| {
            let io = |source| LoadError::Io { path: path.clone(), source };
            let bytes = fsutil::read_bounded(&path, MAX_MANIFEST_BYTES, "a manifest").map_err(io)?;
            let text = String::from_utf8(bytes)
                .map_err(|_| io(std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text").into()))?;
            Ok(Source { path, text })
        })
        .collect()
}

/// Reads, expands, types and checks every source. Pure: the environment comes in as `lookup`.
pub fn load_sources(sources: &[Source], lookup: yaml::EnvLookup) -> Result<Desired, ManifestErrors> {
    let mut desired = Desired::default();
    let mut diagnostics = Vec::new();
    // Where each number is listed first: (address, place).
    let mut listed: HashMap<Msisdn, (Address, Location)> = HashMap::new();
    let mut account_twice = Vec::new();
    let mut account_uses = Vec::new();
    for source in sources {
        let mut file = FileCheck { source, diagnostics: Vec::new(), lines: None };
        if let Some(FileContents { apps, refactoring, accounts, account }) = file.load(lookup) {
            for declared in accounts {
                match desired.accounts.get(&declared.name) {
                    Some(first) => account_twice.push((declared, first.location.clone())),
                    None => {
                        desired.accounts.insert(declared.name.clone(), declared);
                    }
                }
            }
            account_uses.extend(account);
            desired.refactoring.moved.extend(refactoring.moved);
            desired.refactoring.removed.extend(refactoring.removed);
            desired.refactoring.imports.extend(refactoring.imports);
            desired.apps.reserve(apps.len());
            for app in apps {
                if let Some(first) = desired.apps.get(&app.address) {
                    file.diagnostics.push(Diagnostic {
                        location: app.source.clone(),
                        message: format!("address `{}` is declared twice", app.address),
                        help: Some(format!(
                            "it is first declared at {}; addresses are unique across all files",
                            first.source
                        )),
                        source_line: source_line(&source.text, app.source.position.line),
                    });
                    continue;
                }
                for number in &app.numbers {
                    let (other, first) = match listed.entry(number.msisdn.clone()) {
                        Entry::Vacant(slot) => {
                            slot.insert((app.address.clone(), number.location.clone()));
                            continue;
                        }
                        Entry::Occupied(seen) => seen.get().clone(),
                    };
                    file.diagnostics.push(Diagnostic {
                        location: number.location.clone(),
                        message: format!(
                            "number {} is listed under both `{other}` and `{}`",
                            number.msisdn, app.address
                        ),
                        help: Some(format!("a number routes to one application: it is also listed at {first}")),
                        source_line: source_line(&source.text, number.location.position.line),
                    });
                }
                desired.apps.insert(app.address.clone(), app);
            }
        }
        diagnostics.extend(file.diagnostics);
    }
    let line_of = |location: &Location| {
        let source = sources.iter().find(|s| s.path == location.file)?;
        source_line(&source.text, location.position.line)
    };
    diagnostics.extend(accounts::check_references(&desired.accounts, &account_twice, &account_uses, &line_of));
    if diagnostics.is_empty() {
        diagnostics.extend(refactor::check(&desired, &line_of));
    }
    if diagnostics.is_empty() {
        Ok(desired)
    } else {
        Err(ManifestErrors(diagnostics))
    }
}

/// Reads the files at `paths`, `${VAR}` expanded through `environment`, and the public key files
/// they name.
pub fn load(paths: &[PathBuf], environment: yaml::EnvLookup) -> Result<Desired, LoadError> {
    let sources = read_sources(paths)?;
    let mut desired = load_sources(&sources, environment)?;
    resolve_key_files(&mut desired, &|path| {
        let bytes = fsutil::read_bounded(path, MAX_KEY_FILE_BYTES, "a public key file").map_err(|e| {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        })?;
        String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8 text", path.display()))
    })?;
    Ok(desired)
}

/// Reads every `public_key_file` with `read` and checks that it holds an RSA public key; errors point
/// at the manifest line that names the file.
pub fn resolve_key_files(
    desired: &mut Desired,
    read: &dyn Fn(&std::path::Path) -> Result<String, String>,
) -> Result<(), ManifestErrors> {
    let mut diagnostics = Vec::new();
    for app in desired.apps.values_mut() {
        let Some(key) = app.keys.external.as_mut() else { continue };
        let problem = match read(&key.path) {
            Err(e) => Some(format!("cannot read the public key file {}: {e}", key.path.display())),
            Ok(pem) if pem.contains("PRIVATE KEY") => Some(format!(
                "{} holds a private key; vapp needs only the public key, and a private key does not belong in the repository",
                key.path.display()
            )),
            Ok(pem) => match crate::keys::fingerprint(&pem) {
                Ok(fingerprint) => {
                    key.public_key = pem;
                    key.fingerprint = fingerprint;
                    None
                }
                Err(e) => Some(format!("{} holds no usable public key: {e}", key.path.display())),
            },
        };
        if let Some(message) = problem {
            let help = Some("the file must hold a PEM `-----BEGIN PUBLIC KEY-----` (RSA); `openssl pkey -in private.pem -pubout` makes one".to_string());
            diagnostics.push(Diagnostic { location: key.location.clone(), message, help, source_line: None });
        }
    }
    // Each application needs its own key pair: a shared key would make two applications one to
    // anything that tells them apart by key (tokens, finding a create whose answer was lost).
    let mut first_use: std::collections::HashMap<&Fingerprint, (&Address, &Location)> =
        std::collections::HashMap::new();
    for app in desired.apps.values() {
        let Some(key) = app.keys.external.as_ref().filter(|k| !k.fingerprint.as_str().is_empty()) else { continue };
        match first_use.get(&key.fingerprint) {
            Some((other, location)) => diagnostics.push(Diagnostic {
                location: key.location.clone(),
                message: format!("`{}` uses the same public key as `{other}` ({location})", app.address),
                help: Some("each application needs a key pair of its own".into()),
                source_line: None,
            }),
            None => {
                first_use.insert(&key.fingerprint, (&app.address, &key.location));
            }
        }
    }
    if diagnostics.is_empty() {
        Ok(())
    } else {
        Err(ManifestErrors(diagnostics))
    }
}

/// A manifest's YAML as JSON, `${VAR}` references left as written: what an editor checks against
/// the schema.
pub fn yaml_document(text: &str) -> Result<Value, String> {
    yaml::parse_unexpanded(text).map_err(|found| {
        found.iter().map(|f| format!("{}:{}: {}", f.at.line, f.at.col, f.message)).collect::<Vec<_>>().join("\n")
    })
}

fn source_line(text: &str, line: usize) -> Option<String> {
    text.lines().nth(line.checked_sub(1)?).map(|l| l.trim_end().to_string())
}

struct FileCheck<'a> {
    source: &'a Source,
    diagnostics: Vec<Diagnostic>,
    /// The file's lines, split once when the first problem is reported.
    lines: Option<Vec<&'a str>>,
}

impl FileCheck<'_> {
    fn report(&mut self, at: Position, message: String, help: Option<String>) {
        if self.diagnostics.len() >= yaml::MAX_FOUND {
            return;
        }
        let lines = self.lines.get_or_insert_with(|| self.source.text.lines().collect());
        let source_line = at.line.checked_sub(1).and_then(|i| lines.get(i)).map(|l| l.trim_end().to_string());
        self.diagnostics.push(Diagnostic {
            location: Location { file: self.source.path.clone(), position: at },
            message,
            help,
            source_line,
        });
    }

    fn load(&mut self, lookup: yaml::EnvLookup) -> Option<FileContents> {
        let (value, index) = match yaml::parse(&self.source.text, lookup) {
            Ok(parsed) => parsed,
            Err(found) => {
                for f in found {
                    self.report(f.at, f.message, f.help);
                }
                return None;
            }
        };
        if !value.is_object() {
            self.report(
                Position { line: 1, col: 1 },
                "a manifest is a mapping with `version: 1` and `applications`".into(),
                None,
            );
            return None;
        }
        if let Some(version) = value.get("version").and_then(Value::as_u64) {
            if version != u64::from(VERSION) {
                let at = index.value(&["version".to_string()]).unwrap_or_default();
                self.report(
                    at,
                    format!("manifest version {version} is not supported"),
                    Some(format!("this vapp reads version {VERSION}")),
                );
                return None;
            }
        }
        // Walking the document against the schema costs more than reading it: done only for a
        // document serde refuses, to name its real mistake (every unknown key at once, in order).
        let mut file: ManifestFile = match serde_path_to_error::deserialize(&value) {
            Ok(file) => file,
            Err(e) => {
                let mut unknown: Vec<(Position, String, Option<String>)> = schema::unknown_keys(&value)
                    .into_iter()
                    .map(|u| {
                        let mut at = u.parent.clone();
                        at.push(u.key.clone());
                        let in_ = match u.parent.is_empty() {
                            true => String::new(),
                            false => format!(" in {}", u.parent.join(".")),
                        };
                        (
                            index.nearest_key(&at),
                            format!("unknown key `{}`{in_}", u.key),
                            did_you_mean(&u.key, &u.allowed),
                        )
                    })
                    .collect();
                if !unknown.is_empty() {
                    unknown.sort_by_key(|(at, ..)| (at.line, at.col));
                    for (at, message, help) in unknown {
                        self.report(at, message, help);
                    }
                    return None;
                }
                if let Some(path) = schema::list_for_mapping(&value) {
                    let at = index.value(&path).unwrap_or_else(|| index.nearest(&path));
                    self.report(at, format!("expected a mapping at `{}`, found a list", path.join(".")), None);
                    return None;
                }
                let (at, message, help) = describe_type_problem(&index, humanise::humanise(&e));
                self.report(at, message, help);
                return None;
            }
        };
        let mut apps = Vec::new();
        let refactoring = self.refactoring(&file, &index);
        let (declared, account) = self.accounts(std::mem::take(&mut file.accounts), file.account.take(), &index);
        let app_account = account.as_ref().map_or_else(AccountName::default_account, |(name, _)| name.clone());
        for (address, app) in file.applications {
            let app_path = vec!["applications".to_string(), address.clone()];
            let key_at = index.nearest_key(&app_path);
            let address = match Address::parse(&address) {
                Ok(address) => address,
                Err(invalid) => {
                    self.report(key_at, format!("`{address}` is not a valid address"), Some(invalid.to_string()));
                    continue;
                }
            };
            let mut clean = true;
            for unknown in model::unknown_fields(app.capabilities.as_ref(), app.privacy.as_ref()) {
                let mut parent = app_path.clone();
                parent.extend(unknown.parent.split('.').map(str::to_string));
                let mut at_path = parent.clone();
                at_path.push(unknown.key.clone());
                let candidates = schema::properties_at(&parent[..]);
                let help = did_you_mean(&unknown.key, &candidates);
                self.report(
                    index.nearest_key(&at_path),
                    format!("unknown key `{}` in {}", unknown.key, unknown.parent),
                    help,
                );
                clean = false;
            }
            let application = Application {
                name: app.name,
                capabilities: Some(Box::new(app.capabilities.unwrap_or_default())),
                privacy: app.privacy,
                ..Default::default()
            };
            for problem in rules::validate(&application) {
                let mut path = app_path.clone();
                path.extend(problem.name.split('.').map(str::to_string));
                let at = index.value(&path).unwrap_or_else(|| index.nearest(&path));
                self.report(at, format!("{}: {}", problem.name, problem.reason), None);
                clean = false;
            }
            let settings = app.keys.unwrap_or_default();
            let external = settings.public_key_file.map(|file| {
                let mut at = app_path.clone();
                at.extend(["keys".to_string(), "public_key_file".to_string()]);
                let dir = self.source.path.parent().unwrap_or(std::path::Path::new(""));
                ExternalKey {
                    path: dir.join(&file),
                    location: Location { file: self.source.path.clone(), position: index.nearest(&at) },
                    public_key: String::new(),
                    fingerprint: Fingerprint::default(),
                }
            });
            if external.is_some() && settings.rotation.is_some() {
                let mut at = app_path.clone();
                at.extend(["keys".to_string(), "rotation".to_string()]);
                self.report(
                    index.nearest_key(&at),
                    "`rotation` applies to keys made by vapp, not to `public_key_file`".into(),
                    Some("to rotate your own key, put the new public key in the file".into()),
                );
                clean = false;
            }
            let mut numbers: Vec<DesiredNumber> = Vec::new();
            for (i, written) in app.numbers.unwrap_or_default().into_iter().enumerate() {
                let mut at_path = app_path.clone();
                at_path.extend(["numbers".to_string(), i.to_string()]);
                let at = index.value(&at_path).unwrap_or_else(|| index.nearest(&at_path));
                let text = match written {
                    NumberText::Text(text) => text,
                    NumberText::Digits(digits) => digits.to_string(),
                };
                let Some(msisdn) = Msisdn::parse(&text) else {
                    self.report(
                        at,
                        format!("`{text}` is not a phone number in E.164 form"),
                        Some("write the country code and number, e.g. 447700900001 or \"+44 7700 900001\"".into()),
                    );
                    clean = false;
                    continue;
                };
                let location = Location { file: self.source.path.clone(), position: at };
                if let Some(first) = numbers.iter().find(|n| n.msisdn == msisdn) {
                    self.report(
                        at,
                        format!("number {msisdn} is listed twice under `{address}`"),
                        Some(format!("it is first listed at {}", first.location)),
                    );
                    clean = false;
                    continue;
                }
                numbers.push(DesiredNumber { msisdn, location });
            }
            if clean {
                apps.push(DesiredApp {
                    address,
                    account: app_account.clone(),
                    application,
                    protect: app.protect,
                    keys: DesiredKeys { rotation: settings.rotation.unwrap_or(0), external },
                    numbers,
                    labels: app.labels,
                    source: Location { file: self.source.path.clone(), position: key_at },
                });
            }
        }
        Some(FileContents { apps, refactoring, accounts: declared, account })
    }

    /// The file's `accounts:` declarations (each checked on its own) and its `account:`.
    #[allow(clippy::type_complexity)]
    fn accounts(
        &mut self,
        entries: IndexMap<String, accounts::AccountEntry>,
        account: Option<String>,
        index: &yaml::PositionIndex,
    ) -> (Vec<accounts::DeclaredAccount>, Option<(AccountName, Location)>) {
        let place = |position| Location { file: self.source.path.clone(), position };
        let mut declared = Vec::new();
        let mut found = Vec::new();
        for (name, entry) in entries {
            let path = vec!["accounts".to_string(), name.clone()];
            let at = index.nearest_key(&path);
            match accounts::declare(&name, entry, place(at)) {
                Ok(account) => declared.push(account),
                Err(problems) => {
                    for problem in problems {
                        let position = match problem.field {
                            Some(field) => {
                                let mut field_path = path.clone();
                                field_path.push(field.to_string());
                                index.nearest_key(&field_path)
                            }
                            None => at,
                        };
                        found.push((position, problem.message, problem.help, problem.secret));
                    }
                }
            }
        }
        let mut file_account = None;
        if let Some(name) = &account {
            let path = vec!["account".to_string()];
            let at = index.value(&path).unwrap_or_else(|| index.nearest(&path));
            match AccountName::parse(name) {
                Ok(name) => file_account = Some((name, place(at))),
                Err(invalid) => {
                    found.push((at, format!("`{name}` is not a valid account name"), Some(invalid.to_string()), false))
                }
            }
        }
        for (position, message, help, secret) in found {
            self.report(position, message, help);
            if secret {
                // The line holds a secret: show its key, never its value.
                if let Some(line) = self.diagnostics.last_mut().and_then(|d| d.source_line.as_mut()) {
                    if let Some((key, _)) = line.split_once(':') {
                        *line = format!("{key}: <redacted>");
                    }
                }
            }
        }
        (declared, file_account)
    }

    /// The file's `moved`, `removed` and `import` entries, each address checked where it is written.
    fn refactoring(&mut self, file: &ManifestFile, index: &yaml::PositionIndex) -> refactor::Refactoring {
        let mut refactoring = refactor::Refactoring::default();
        let place = |path: Vec<String>| Location {
            file: self.source.path.clone(),
            position: index.value(&path).unwrap_or_else(|| index.nearest(&path)),
        };
        let path = |list: &str, i: usize, field: &str| vec![list.to_string(), i.to_string(), field.to_string()];
        let entry = |list: &str, i: usize| vec![list.to_string(), i.to_string()];
        let mut bad = Vec::new();
        let mut missing_ids = Vec::new();
        let mut address = |text: &str, at: Vec<String>| match Address::parse(text) {
            Ok(address) => Some(address),
            Err(invalid) => {
                bad.push((place(at), format!("`{text}` is not a valid address"), invalid.to_string()));
                None
            }
        };
        for (i, moved) in file.moved.iter().enumerate() {
            let from = address(&moved.from, path("moved", i, "from"));
            let to = address(&moved.to, path("moved", i, "to"));
            if let (Some(from), Some(to)) = (from, to) {
                refactoring.moved.push(refactor::Moved { from, to, location: place(entry("moved", i)) });
            }
        }
        for (i, removed) in file.removed.iter().enumerate() {
            if let Some(address) = address(&removed.address, path("removed", i, "address")) {
                refactoring.removed.push(refactor::Removed { address, location: place(entry("removed", i)) });
            }
        }
        for (i, import) in file.import.iter().enumerate() {
            let at = place(entry("import", i));
            let address = address(&import.address, path("import", i, "address"));
            if import.id.trim().is_empty() {
                missing_ids.push(place(path("import", i, "id")));
                continue;
            }
            if let Some(address) = address {
                let id = AppId::new(import.id.trim());
                refactoring.imports.push(refactor::Imported { address, id, location: at });
            }
        }
        for (location, message, help) in bad {
            self.report(location.position, message, Some(help));
        }
        for location in missing_ids {
            self.report(location.position, "an import names no application id".into(), None);
        }
        refactoring
    }
}

/// What one file contributes.
struct FileContents {
    apps: Vec<DesiredApp>,
    refactoring: refactor::Refactoring,
    accounts: Vec<accounts::DeclaredAccount>,
    /// The file's `account:`, where it is written.
    account: Option<(AccountName, Location)>,
}

/// Turns a type problem into a position, a message a person can act on, and a hint.
pub(crate) fn describe_type_problem(
    index: &yaml::PositionIndex,
    problem: TypeProblem,
) -> (Position, String, Option<String>) {
    let path = problem.path;
    let where_ = if path.is_empty() { String::new() } else { format!(" at `{}`", path.join(".")) };
    match problem.kind {
        ProblemKind::Unknown { key, expected } => {
            let mut key_path = path.clone();
            if key_path.last() != Some(&key) {
                key_path.push(key.clone());
            }
            let parent = if path.last() == Some(&key) { &path[..path.len() - 1] } else { &path[..] };
            let in_ = if parent.is_empty() { String::new() } else { format!(" in {}", parent.join(".")) };
            (index.nearest_key(&key_path), format!("unknown key `{key}`{in_}"), did_you_mean(&key, &expected))
        }
        ProblemKind::Missing { field } => {
            (index.nearest(&path), format!("missing required key `{field}`{where_}"), None)
        }
        ProblemKind::Wrong { expected, found } => {
            let at = index.value(&path).unwrap_or_else(|| index.nearest(&path));
            let found = found.replace("map", "a mapping").replace("sequence", "a list");
            (at, format!("expected {}{where_}, found {found}", expected.words(Dialect::Yaml)), None)
        }
        ProblemKind::Other(message) => {
            let at = index.value(&path).unwrap_or_else(|| index.nearest(&path));
            (at, format!("{message}{where_}"), None)
        }
    }
}

/// The closest candidate to a misspelt key, if one is close enough to be what was meant.
pub fn did_you_mean(key: &str, candidates: &[String]) -> Option<String> {
    let best =
        candidates.iter().map(|c| (strsim::damerau_levenshtein(key, c), c)).min_by_key(|(distance, _)| *distance)?;
    let threshold = (key.len().max(best.1.len()) / 3).max(2);
    if best.0 <= threshold || best.1.contains(key) || key.contains(best.1.as_str()) {
        Some(format!("did you mean `{}`?", best.1))
    } else {
        Some(format!("expected one of: {}", candidates.join(", ")))
    }
}

impl Desired {
    pub fn is_empty(&self) -> bool {
        self.apps.is_empty()
    }
}

#[cfg(test)]
mod tests;
