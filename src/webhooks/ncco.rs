//! The NCCO reader: whether what an `answer_url` answered is a valid NCCO (Nexmo Call Control Object,
//! a JSON array of actions), and if not, what a person fixing the webhook needs to know.
//!
//! Validity is the vendored official schema, `schemas/ncco-schema.json` (JSON Schema draft 4, with the
//! `notify` action added; `schemas/ncco-schema.md` says what and why). The schema's top level is a
//! `oneOf` over the actions, whose own error says only that an action "matches none" of them; so each
//! action is checked against the definition its `action` field names, and every problem names the
//! action's JSON pointer, its kind and the place within it: `/1 (connect): /endpoint/0/number: "12" is
//! shorter than 10 characters`. The same choice is made inside an action wherever the schema has a
//! `oneOf` told apart by a field (a `connect` endpoint's `type`).
//!
//! Invariants:
//! - Bounded work for any input, and no panic: at most [`MAX_NCCO_BYTES`] are looked at; nesting is
//!   measured by a flat byte scan before any recursive parser or validator sees the body, so a JSON
//!   bomb is [`NccoProblem::TooDeep`], never a stack overflow; at most [`MAX_NCCO_ACTIONS`] are checked.
//! - An [`Ncco`] is valid against the whole schema: the per-action checks explain, the whole-document
//!   check has the last word.
//! - Messages quote the answer's values at most [`QUOTE_CHARS`] characters long, on one line, without
//!   control characters (they come from a server vapp does not control).

use std::fmt;
use std::sync::LazyLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{Draft, ValidationError, Validator};
use serde_json::Value;

use crate::excerpt::Excerpt;

/// The most of an answer vapp reads (1 MiB, as the README's "Webhooks" says). A caller that stops
/// reading after `MAX_NCCO_BYTES + 1` bytes gets the same verdict as for the whole body.
pub const MAX_NCCO_BYTES: usize = 1024 * 1024;

/// The deepest nesting of arrays and objects accepted, the NCCO array itself being level 1. Real NCCOs
/// go about 4 deep (NCCO, action, `endpoint`, endpoint `headers`); this bounds the recursion of the
/// parser and the validator well below serde_json's own limit (128).
pub const MAX_NCCO_DEPTH: usize = 64;

/// The most actions an NCCO may hold. Vonage documents no limit; real NCCOs hold a handful of actions,
/// and this bounds the validation work (and the emulator's) for an answer of many tiny actions.
pub const MAX_NCCO_ACTIONS: usize = 100;

/// How many problems [`NccoProblem::Schema`] lists before "and K more".
pub const MAX_LISTED_PROBLEMS: usize = 5;

/// The longest quotation of a value from the answer in a message, in characters.
pub const QUOTE_CHARS: usize = 60;

/// A valid NCCO: a non-empty array of actions, each valid against the definition of its kind.
#[derive(Clone, Debug, PartialEq)]
pub struct Ncco {
    /// The actions in order; each is an object whose `action` field names one of the schema's actions.
    pub actions: Vec<Value>,
    /// Fields its actions hold that the schema does not name (`"bargein"` for `"bargeIn"`): valid, and
    /// likely a misspelling that Vonage ignores.
    pub notes: Vec<ActionProblem>,
}

/// A `notify` action: Vonage sends `payload` to `event_url`; if that answer is an NCCO, it replaces the
/// rest of the call's NCCO, otherwise the NCCO goes on with its next action.
#[derive(Clone, Debug, PartialEq)]
pub struct Notify {
    /// The action's position in the NCCO.
    pub index: usize,
    /// A JSON object.
    pub payload: Value,
    pub event_url: String,
    /// `GET` or `POST`; `POST` when the action does not say.
    pub event_method: String,
}

impl Ncco {
    /// Each action's kind (`talk`, `connect`, …), in order.
    pub fn action_names(&self) -> impl Iterator<Item = &str> {
        self.actions.iter().filter_map(action_name)
    }

    /// The `notify` actions, in order.
    pub fn notifies(&self) -> impl Iterator<Item = Notify> + '_ {
        self.actions.iter().enumerate().filter_map(|(index, action)| Notify::from_action(index, action))
    }
}

impl Notify {
    /// The action at `index` read as a `notify`, if it is a valid one.
    pub fn from_action(index: usize, action: &Value) -> Option<Notify> {
        if action_name(action) != Some("notify") {
            return None;
        }
        let payload = action.get("payload").filter(|p| p.is_object())?.clone();
        let event_url = match action.get("eventUrl")?.as_array()?.as_slice() {
            [Value::String(url)] => url.clone(),
            _ => return None,
        };
        let event_method = match action.get("eventMethod") {
            None => "POST".to_string(),
            Some(Value::String(method)) => method.clone(),
            Some(_) => return None,
        };
        Some(Notify { index, payload, event_url, event_method })
    }
}

fn action_name(action: &Value) -> Option<&str> {
    action.get("action")?.as_str()
}

/// Why an answer is not a valid NCCO. The Display is a message fragment (the caller names the URL), one
/// line per problem.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum NccoProblem {
    #[error("larger than {}, the most vapp reads of an answer", bytes(*limit))]
    TooLarge { limit: usize },
    #[error("not UTF-8 text (an invalid byte at offset {offset})")]
    NotUtf8 { offset: usize },
    #[error("nested deeper than {limit} levels")]
    TooDeep { limit: usize },
    /// Nothing but whitespace: the likeliest broken answer (a handler that returns 200 and no body).
    #[error("empty: an NCCO is a JSON array of actions")]
    EmptyBody,
    #[error("not JSON at line {line}, column {column}: {message}")]
    NotJson { line: usize, column: usize, message: String },
    #[error("an NCCO is a JSON array of actions, this is {found}")]
    NotAnArray { found: &'static str },
    /// The schema asks for at least one action (`minItems: 1`): an empty answer is not a valid NCCO,
    /// whatever a call would make of it.
    #[error("an NCCO is a JSON array of at least one action, this is an empty array")]
    Empty,
    #[error("the NCCO has {count} actions; vapp checks at most {limit}")]
    TooManyActions { count: usize, limit: usize },
    /// What the schema rejects, action by action, in order (never empty).
    #[error("{}", list_problems(.0))]
    Schema(Vec<ActionProblem>),
}

/// One thing the schema rejects in one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionProblem {
    /// The action's JSON pointer in the NCCO (`/0`); empty for a problem of the NCCO as a whole.
    pub pointer: String,
    /// The action's kind, when its `action` field names a known one.
    pub action: Option<String>,
    /// Where within the action, as a JSON pointer relative to it (`/endpoint/0/number`); empty for the
    /// action itself.
    pub path: String,
    /// What is wrong there (`missing "text"`).
    pub message: String,
}

impl fmt::Display for ActionProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            f.write_str("the NCCO")?;
        } else {
            f.write_str(&self.pointer)?;
        }
        if let Some(action) = &self.action {
            write!(f, " ({action})")?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// `1 MiB`, or `1000 bytes`.
fn bytes(count: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if count >= MIB && count % MIB == 0 {
        format!("{} MiB", count / MIB)
    } else {
        format!("{count} bytes")
    }
}

fn list_problems(problems: &[ActionProblem]) -> String {
    let mut lines: Vec<String> = problems.iter().take(MAX_LISTED_PROBLEMS).map(ToString::to_string).collect();
    match problems.len().saturating_sub(MAX_LISTED_PROBLEMS) {
        0 => {}
        1 => lines.push("and 1 more problem".to_string()),
        more => lines.push(format!("and {more} more problems")),
    }
    lines.join("\n")
}

/// Reads an answer as an NCCO. Checks, in order: size, UTF-8, nesting depth (all before parsing), that
/// there is a body, JSON, an array, not an empty one, the number of actions, each action against its own
/// definition, and the whole against the schema.
pub fn read_ncco(body: &[u8]) -> Result<Ncco, NccoProblem> {
    if body.len() > MAX_NCCO_BYTES {
        return Err(NccoProblem::TooLarge { limit: MAX_NCCO_BYTES });
    }
    let text = std::str::from_utf8(body).map_err(|e| NccoProblem::NotUtf8 { offset: e.valid_up_to() })?;
    if nesting_exceeds(body, MAX_NCCO_DEPTH) {
        return Err(NccoProblem::TooDeep { limit: MAX_NCCO_DEPTH });
    }
    if text.trim_matches(|c: char| c.is_ascii_whitespace()).is_empty() {
        return Err(NccoProblem::EmptyBody);
    }
    let document: Value = serde_json::from_str(text).map_err(|e| not_json(text, &e))?;
    let Value::Array(actions) = &document else {
        return Err(NccoProblem::NotAnArray { found: kind_of(&document) });
    };
    if actions.is_empty() {
        return Err(NccoProblem::Empty);
    }
    if actions.len() > MAX_NCCO_ACTIONS {
        return Err(NccoProblem::TooManyActions { count: actions.len(), limit: MAX_NCCO_ACTIONS });
    }
    let schema = &*SCHEMA;
    let mut problems = Vec::new();
    for (index, action) in actions.iter().enumerate() {
        check_action(schema, index, action, &mut problems);
    }
    if problems.is_empty() && !schema.whole.is_valid(&document) {
        problems = whole_problems(schema, &document);
    }
    if !problems.is_empty() {
        return Err(NccoProblem::Schema(problems));
    }
    match document {
        Value::Array(actions) => Ok(Ncco { notes: notes_of(schema, &actions), actions }),
        other => Err(NccoProblem::NotAnArray { found: kind_of(&other) }),
    }
}

/// Whether arrays and objects nest deeper than `limit`, by one pass over the bytes that tracks only
/// whether it is inside a string (and after a backslash there). Exact for valid JSON; for invalid JSON
/// the parser's own error (or its recursion limit) decides, so an approximate count there is harmless.
fn nesting_exceeds(body: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in body {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

fn not_json(text: &str, error: &serde_json::Error) -> NccoProblem {
    let (line, column) = (error.line(), error.column());
    // A byte order mark is invisible in an editor, and serde_json only says "expected value" there.
    if text.starts_with('\u{feff}') && (line, column) == (1, 1) {
        let message = "it starts with a byte order mark (U+FEFF), which JSON does not allow".to_string();
        return NccoProblem::NotJson { line, column, message };
    }
    let full = error.to_string();
    // serde_json's Display appends the position, which the variant carries apart.
    let message = full.strip_suffix(&format!(" at line {line} column {column}")).unwrap_or(&full).to_string();
    NccoProblem::NotJson { line, column, message }
}

/// "an object", "a string", … (what a value is, as a message says it).
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value from the answer as a message quotes it: strings quoted and cut at [`QUOTE_CHARS`], scalars
/// as written, containers by kind.
fn quote(value: &Value) -> String {
    match value {
        Value::String(s) => format!("\"{}\"", Excerpt::of(s.as_bytes(), QUOTE_CHARS)),
        Value::Null | Value::Bool(_) | Value::Number(_) => value.to_string(),
        Value::Array(_) | Value::Object(_) => kind_of(value).to_string(),
    }
}

/// The compiled schema: the whole, and one validator per action kind.
struct Schema {
    whole: Validator,
    /// (action name, validator of its definition), in the schema's order.
    actions: Vec<(String, Validator)>,
    /// Each action kind's fields, as its definition names them (for naming a field it does not know).
    fields: Vec<(String, Vec<String>)>,
}

/// The fields a definition names: its `properties`, and those of the definitions its `allOf` refers to.
fn defined_fields(definitions: &Value, definition: &Value, out: &mut Vec<String>, depth: usize) {
    if depth > 8 {
        return;
    }
    if let Some(properties) = definition["properties"].as_object() {
        out.extend(properties.keys().cloned());
    }
    for part in definition["allOf"].as_array().into_iter().flatten() {
        match part["$ref"].as_str().and_then(|r| r.strip_prefix("#/definitions/")) {
            Some(name) => defined_fields(definitions, &definitions[name], out, depth + 1),
            None => defined_fields(definitions, part, out, depth + 1),
        }
    }
}

const SCHEMA_TEXT: &str = include_str!("../../schemas/ncco-schema.json");

// The schema is part of the binary and the unit tests compile it: a failure here is a bug in this file
// or in schemas/ncco-schema.json, never in the input, so `expect` is the right answer to it.
static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(SCHEMA_TEXT).expect("the embedded NCCO schema is JSON");
    let whole = compile(&schema);
    let definitions = &schema["definitions"];
    let branches =
        definitions["ncco"]["oneOf"].as_array().expect("the NCCO schema lists its actions in definitions/ncco");
    let fields = branches
        .iter()
        .filter_map(|branch| {
            let name = branch["$ref"].as_str()?.strip_prefix("#/definitions/")?;
            let mut names = Vec::new();
            defined_fields(definitions, &definitions[name], &mut names, 0);
            Some((definition_action(&definitions[name])?, names))
        })
        .collect();
    let actions = branches
        .iter()
        .map(|branch| {
            let reference = branch["$ref"].as_str().expect("each action is a $ref");
            let name = reference.strip_prefix("#/definitions/").expect("an action's $ref is local");
            let kind = definition_action(&definitions[name]).expect("each action's definition names its action");
            // The definition on its own, with the other definitions beside it for its own $refs.
            let wrapper = serde_json::json!({
                "$schema": schema["$schema"],
                "definitions": definitions,
                "allOf": [{ "$ref": reference }],
            });
            (kind, compile(&wrapper))
        })
        .collect();
    Schema { whole, actions, fields }
});

fn compile(schema: &Value) -> Validator {
    jsonschema::options()
        .with_draft(Draft::Draft4)
        .should_validate_formats(true)
        .build(schema)
        .expect("the embedded NCCO schema compiles")
}

/// The `action` value an action's definition requires (its `"action": {"enum": ["talk"]}`).
fn definition_action(definition: &Value) -> Option<String> {
    definition["allOf"].as_array()?.iter().find_map(|part| match part["properties"]["action"]["enum"].as_array() {
        Some(values) if values.len() == 1 => values[0].as_str().map(str::to_string),
        _ => None,
    })
}

fn check_action(schema: &Schema, index: usize, action: &Value, out: &mut Vec<ActionProblem>) {
    let pointer = format!("/{index}");
    let mut problem = |action: Option<&str>, message: String| {
        out.push(ActionProblem {
            pointer: pointer.clone(),
            action: action.map(str::to_string),
            path: String::new(),
            message,
        })
    };
    let Value::Object(fields) = action else {
        return problem(None, format!("an action is a JSON object, this is {}", kind_of(action)));
    };
    let (value, name) = match fields.get("action") {
        None => return problem(None, "an action needs an \"action\" field".to_string()),
        Some(value @ Value::String(name)) => (value, name),
        Some(other) => return problem(None, format!("the \"action\" field must be a string, not {}", quote(other))),
    };
    let Some((kind, validator)) = schema.actions.iter().find(|(kind, _)| kind == name) else {
        let kinds: Vec<&str> = schema.actions.iter().map(|(kind, _)| kind.as_str()).collect();
        return problem(None, unknown("action", value, &kinds));
    };
    if validator.is_valid(action) {
        return;
    }
    let mut explained = Vec::new();
    for error in validator.iter_errors(action) {
        explain(&error, &mut explained);
    }
    for (path, message) in dedup(explained) {
        out.push(ActionProblem { pointer: pointer.clone(), action: Some(kind.clone()), path, message });
    }
    // A field the action does not know, beside what is wrong with it, is likely why (`txt` for `text`).
    out.extend(unknown_fields(schema, index, kind, fields));
}

/// The fields of an action of `kind` that its definition does not name, each with the closest field it
/// names. The schema lets them by (no action forbids extra fields, and the official SDK writes some),
/// so on their own they are notes, never problems.
fn unknown_fields(
    schema: &Schema,
    index: usize,
    kind: &str,
    fields: &serde_json::Map<String, Value>,
) -> Vec<ActionProblem> {
    let Some((_, known)) = schema.fields.iter().find(|(k, _)| k == kind) else { return Vec::new() };
    fields
        .keys()
        .filter(|field| !known.contains(field))
        .map(|field| {
            let shown = quote(&Value::String(field.clone()));
            let message = match did_you_mean(field, known.iter().map(String::as_str)) {
                Some(meant) => format!("unknown field {shown} (did you mean \"{meant}\"?)"),
                None => format!("unknown field {shown}"),
            };
            ActionProblem { pointer: format!("/{index}"), action: Some(kind.to_string()), path: String::new(), message }
        })
        .collect()
}

/// The fields of a valid NCCO's actions that their definitions do not name (see [`unknown_fields`]).
fn notes_of(schema: &Schema, actions: &[Value]) -> Vec<ActionProblem> {
    let mut notes = Vec::new();
    for (index, action) in actions.iter().enumerate() {
        if let (Some(kind), Value::Object(fields)) = (action_name(action), action) {
            notes.extend(unknown_fields(schema, index, kind, fields));
        }
    }
    notes
}

/// The whole document's errors, as action problems. Only reached when every action passed its own
/// definition, which leaves the schema little to object to; kept so that nothing it forbids is let by.
fn whole_problems(schema: &Schema, document: &Value) -> Vec<ActionProblem> {
    let mut explained = Vec::new();
    for error in schema.whole.iter_errors(document) {
        explain(&error, &mut explained);
    }
    dedup(explained)
        .into_iter()
        .map(|(path, message)| {
            let (pointer, rest) = match path.get(1..).and_then(|tail| tail.find('/')) {
                Some(end) => (path[..end + 1].to_string(), path[end + 1..].to_string()),
                None => (path.clone(), String::new()),
            };
            let action = pointer
                .strip_prefix('/')
                .and_then(|index| index.parse::<usize>().ok())
                .and_then(|index| document.get(index))
                .and_then(action_name)
                .filter(|name| schema.actions.iter().any(|(kind, _)| kind == name))
                .map(str::to_string);
            ActionProblem { pointer, action, path: rest, message }
        })
        .collect()
}

fn dedup(explained: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut seen = std::collections::HashSet::new();
    explained.into_iter().filter(|pair| seen.insert(pair.clone())).collect()
}

/// One validation error as (instance path, message) pairs: usually one; a `oneOf` is explained by the
/// branch meant, which may say several things.
fn explain(error: &ValidationError<'_>, out: &mut Vec<(String, String)>) {
    let at = error.instance_path().as_str();
    let instance: &Value = error.instance();
    let message = match error.kind() {
        ValidationErrorKind::Required { property } => format!("missing {}", quote(property)),
        ValidationErrorKind::Type { kind } => format!("must be {}, not {}", type_words(kind), quote(instance)),
        ValidationErrorKind::Enum { options } => not_one_of(instance, options),
        ValidationErrorKind::Constant { expected_value } => format!("must be {}", quote(expected_value)),
        ValidationErrorKind::MinLength { limit } => {
            format!("{} is shorter than {limit} character{}", quote(instance), plural(*limit))
        }
        ValidationErrorKind::MaxLength { limit } => {
            format!("{} is longer than {limit} character{}", quote(instance), plural(*limit))
        }
        ValidationErrorKind::Pattern { pattern } => format!("{} does not match the pattern {pattern}", quote(instance)),
        ValidationErrorKind::Format { format } => {
            let format = if format == "uri" { "URI" } else { format.as_str() };
            format!("{} is not a valid {format}", quote(instance))
        }
        ValidationErrorKind::Minimum { limit } => format!("{} is less than the minimum of {limit}", quote(instance)),
        ValidationErrorKind::Maximum { limit } => format!("{} is more than the maximum of {limit}", quote(instance)),
        ValidationErrorKind::ExclusiveMinimum { limit } => format!("{} must be more than {limit}", quote(instance)),
        ValidationErrorKind::ExclusiveMaximum { limit } => format!("{} must be less than {limit}", quote(instance)),
        ValidationErrorKind::MinItems { limit } => {
            format!("has {}, at least {limit} needed", items(instance))
        }
        ValidationErrorKind::MaxItems { limit } => {
            format!("has {}, at most {limit} allowed", items(instance))
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let names: Vec<String> =
                unexpected.iter().take(5).map(|name| quote(&Value::String(name.clone()))).collect();
            let more = unexpected.len().saturating_sub(names.len());
            let more = if more > 0 { format!(" and {more} more") } else { String::new() };
            format!("unexpected field{} {}{more}", plural(unexpected.len() as u64), names.join(", "))
        }
        ValidationErrorKind::OneOfNotValid { context } => return explain_one_of(at, instance, context, out),
        ValidationErrorKind::OneOfMultipleValid { .. } if !instance.is_object() => {
            format!("must be an object, not {}", quote(instance))
        }
        // Not in the NCCO schema; jsonschema's words, cut short since they may quote the value whole.
        _ => Excerpt::of(error.to_string().as_bytes(), 3 * QUOTE_CHARS).to_string(),
    };
    out.push((at.to_string(), message));
}

/// A `oneOf` that no branch matched, explained by the branch meant: the one whose discriminator (a
/// field with a one-value enum, like an endpoint's `"type": ["phone"]`) accepts the value.
fn explain_one_of(
    at: &str,
    instance: &Value,
    branches: &[Vec<ValidationError<'static>>],
    out: &mut Vec<(String, String)>,
) {
    let misses: Vec<Option<(&str, &Value)>> = branches.iter().map(|errors| discriminator_miss(at, errors)).collect();
    let meant: Vec<&Vec<ValidationError<'static>>> =
        branches.iter().zip(&misses).filter(|(_, miss)| miss.is_none()).map(|(errors, _)| errors).collect();
    if let [errors] = meant.as_slice() {
        for error in errors.iter() {
            explain(error, out);
        }
        return;
    }
    // No branch accepts the discriminator's value: name the value and the ones that would do.
    if meant.is_empty() {
        if let Some(Some((field, _))) = misses.first() {
            let field = *field;
            let mut values: Vec<&str> = Vec::new();
            for (_, options) in misses.iter().flatten().filter(|(f, _)| *f == field) {
                values.extend(options.as_array().into_iter().flatten().filter_map(Value::as_str));
            }
            let value = instance.get(field).unwrap_or(&Value::Null);
            out.push((format!("{at}/{field}"), unknown(field, value, &values)));
            return;
        }
    }
    // The discriminator itself is missing: every branch requires it.
    let required = |errors: &Vec<ValidationError<'static>>| -> Vec<String> {
        errors
            .iter()
            .filter(|e| e.instance_path().as_str() == at)
            .filter_map(|e| match e.kind() {
                ValidationErrorKind::Required { property } => Some(quote(property)),
                _ => None,
            })
            .collect()
    };
    let mut common = meant.first().map(|errors| required(errors)).unwrap_or_default();
    for errors in meant.iter().skip(1) {
        let theirs = required(errors);
        common.retain(|property| theirs.contains(property));
    }
    if !common.is_empty() {
        out.extend(common.into_iter().map(|property| (at.to_string(), format!("missing {property}"))));
        return;
    }
    // Nothing tells the branches apart: the one with fewest errors is the likeliest meant.
    let closest = branches.iter().min_by_key(|errors| errors.len());
    out.push((at.to_string(), format!("matches none of the {} alternatives; the closest:", branches.len())));
    for error in closest.into_iter().flatten() {
        explain(error, out);
    }
}

/// The field and allowed values of a branch's discriminator, if the branch rejected the value there.
fn discriminator_miss<'e>(at: &str, errors: &'e [ValidationError<'static>]) -> Option<(&'e str, &'e Value)> {
    errors.iter().find_map(|error| match error.kind() {
        ValidationErrorKind::Enum { options } if options.as_array().is_some_and(|o| o.len() == 1) => {
            let field = error.instance_path().as_str().strip_prefix(at)?.strip_prefix('/')?;
            (!field.contains('/')).then_some((field, &**options))
        }
        _ => None,
    })
}

/// `unknown action "tlak" (did you mean "talk"?)`, or the list of known values when none is close.
fn unknown(what: &str, value: &Value, known: &[&str]) -> String {
    let suggestion = value.as_str().and_then(|value| did_you_mean(value, known.iter().copied()));
    match suggestion {
        Some(close) => format!("unknown {what} {} (did you mean \"{close}\"?)", quote(value)),
        None => format!("unknown {what} {} (expected one of: {})", quote(value), known.join(", ")),
    }
}

fn not_one_of(value: &Value, options: &Value) -> String {
    let options: &[Value] = options.as_array().map(Vec::as_slice).unwrap_or_default();
    let listed = if options.len() <= 8 {
        options.iter().map(quote).collect::<Vec<_>>().join(", ")
    } else {
        format!("the {} allowed values", options.len())
    };
    let close = value.as_str().and_then(|value| did_you_mean(value, options.iter().filter_map(Value::as_str)));
    match close {
        Some(close) => format!("{} is not one of {listed} (did you mean \"{close}\"?)", quote(value)),
        None => format!("{} is not one of {listed}", quote(value)),
    }
}

/// The candidate closest to `value` if it is close enough to be a misspelling of it: within a third of
/// the length in edits, ignoring case. (The manifest allows at least 2 edits; the values here are short
/// words, where 2 edits make "PUT" a misspelt "GET".)
fn did_you_mean<'a>(value: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    // Edit distance is quadratic: a long value is no misspelling of a short name.
    if value.chars().count() > 64 {
        return None;
    }
    let value = value.to_lowercase();
    let (distance, best) =
        candidates.map(|c| (strsim::damerau_levenshtein(&value, &c.to_lowercase()), c)).min_by_key(|(d, _)| *d)?;
    let threshold = (value.chars().count().max(best.chars().count()) / 3).max(1);
    (distance <= threshold).then_some(best)
}

fn type_words(kind: &TypeKind) -> String {
    let words = |t: &jsonschema::JsonType| {
        let name = t.to_string();
        let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
        format!("{article} {name}")
    };
    match kind {
        TypeKind::Single(t) => words(t),
        TypeKind::Multiple(set) => set.iter().map(|t| words(&t)).collect::<Vec<_>>().join(" or "),
    }
}

fn items(value: &Value) -> String {
    let count = value.as_array().map_or(0, Vec::len);
    format!("{count} item{}", plural(count as u64))
}

fn plural(count: u64) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// The problem's Display for `text`, which must not be a valid NCCO.
    fn problem(text: &str) -> String {
        match read_ncco(text.as_bytes()) {
            Ok(ncco) => panic!("{text} read as a valid NCCO: {ncco:?}"),
            Err(problem) => problem.to_string(),
        }
    }

    fn valid(text: &str) -> Ncco {
        match read_ncco(text.as_bytes()) {
            Ok(ncco) => ncco,
            Err(problem) => panic!("{text} is refused: {problem}"),
        }
    }

    #[test]
    fn the_schema_compiles_with_every_action_and_notify() {
        let kinds: Vec<&str> = SCHEMA.actions.iter().map(|(kind, _)| kind.as_str()).collect();
        assert_eq!(kinds, ["connect", "conversation", "input", "notify", "record", "stream", "talk", "wait"]);
    }

    #[test]
    fn every_kind_of_action_is_accepted() {
        let ncco = valid(
            r##"[
                {"action": "talk", "text": "Hello", "bargeIn": false, "loop": 2, "voiceName": "Amy", "language": "en-GB", "style": 0},
                {"action": "stream", "streamUrl": ["https://example.com/music.mp3"], "level": 0.5, "loop": 0},
                {"action": "input", "maxDigits": 4, "timeOut": 5, "submitOnHash": true, "eventUrl": ["https://example.com/input"]},
                {"action": "connect", "from": "447700900000", "eventType": "synchronous", "timeout": 30, "endpoint": [
                    {"type": "phone", "number": "447700900001", "dtmfAnswer": "p*123#"},
                    {"type": "websocket", "uri": "wss://example.com/socket", "content-type": "audio/l16;rate=16000", "headers": {"a": 1}},
                    {"type": "sip", "uri": "sip:alice@example.com"}
                ]},
                {"action": "record", "format": "mp3", "split": "conversation", "endOnSilence": 3, "endOnKey": "#", "timeOut": 7200, "beepStart": true, "eventUrl": ["https://example.com/recording"], "eventMethod": "GET"},
                {"action": "conversation", "name": "room-1", "musicOnHoldUrl": "https://example.com/hold.mp3", "startOnEnter": true, "endOnExit": false, "record": true},
                {"action": "notify", "payload": {"step": "greeted"}, "eventUrl": ["https://example.com/progress"]},
                {"action": "notify", "payload": {}, "eventUrl": ["http://example.com/p"], "eventMethod": "GET"}
            ]"##,
        );
        assert_eq!(
            ncco.action_names().collect::<Vec<_>>(),
            ["talk", "stream", "input", "connect", "record", "conversation", "notify", "notify"]
        );
        let notifies: Vec<Notify> = ncco.notifies().collect();
        assert_eq!(
            notifies,
            [
                Notify {
                    index: 6,
                    payload: json!({"step": "greeted"}),
                    event_url: "https://example.com/progress".to_string(),
                    event_method: "POST".to_string(),
                },
                Notify {
                    index: 7,
                    payload: json!({}),
                    event_url: "http://example.com/p".to_string(),
                    event_method: "GET".to_string(),
                },
            ]
        );
        // The smallest of each: only what the schema requires.
        for minimal in [
            r#"[{"action": "talk", "text": ""}]"#,
            r#"[{"action": "stream", "streamUrl": []}]"#,
            r#"[{"action": "input"}]"#,
            r#"[{"action": "connect", "endpoint": []}]"#,
            r#"[{"action": "record"}]"#,
            r#"[{"action": "conversation", "name": "x"}]"#,
            r#"[{"action": "notify", "payload": {}, "eventUrl": ["https://example.com/n"]}]"#,
        ] {
            valid(minimal);
        }
    }

    #[test]
    fn a_missing_required_field_is_named_with_the_action() {
        assert_eq!(problem(r#"[{"action":"talk"}]"#), r#"/0 (talk): missing "text""#);
        assert_eq!(
            problem(r#"[{"action":"talk","text":"hi"},{"action":"connect"}]"#),
            r#"/1 (connect): missing "endpoint""#
        );
        assert_eq!(problem(r#"[{"action":"conversation"}]"#), r#"/0 (conversation): missing "name""#);
    }

    #[test]
    fn an_unknown_action_is_named_with_a_suggestion_or_the_list() {
        assert_eq!(problem(r#"[{"action":"tlak","text":"x"}]"#), r#"/0: unknown action "tlak" (did you mean "talk"?)"#);
        assert_eq!(problem(r#"[{"action":"Notify"}]"#), r#"/0: unknown action "Notify" (did you mean "notify"?)"#);
        assert_eq!(
            problem(r#"[{"action":"dance"}]"#),
            r#"/0: unknown action "dance" (expected one of: connect, conversation, input, notify, record, stream, talk, wait)"#
        );
    }

    #[test]
    fn an_action_must_be_an_object_with_an_action_field() {
        assert_eq!(problem(r#"[{"text":"x"}]"#), r#"/0: an action needs an "action" field"#);
        assert_eq!(problem(r#"[{"action":5}]"#), r#"/0: the "action" field must be a string, not 5"#);
        assert_eq!(
            problem(r#"[5, null, "talk"]"#),
            "/0: an action is a JSON object, this is a number\n/1: an action is a JSON object, this is null\n\
             /2: an action is a JSON object, this is a string"
        );
    }

    #[test]
    fn a_connect_endpoint_is_checked_as_its_own_type() {
        assert_eq!(
            problem(
                r#"[{"action":"talk","text":"hi"},{"action":"connect","endpoint":[{"type":"phone","number":"12"}]}]"#
            ),
            r#"/1 (connect): /endpoint/0/number: "12" is shorter than 10 characters"#
        );
        assert_eq!(
            problem(r#"[{"action":"connect","endpoint":[{"type":"phone","number":447700900000}]}]"#),
            "/0 (connect): /endpoint/0/number: must be a string, not 447700900000"
        );
        assert_eq!(
            problem(r#"[{"action":"connect","endpoint":[{"type":"phon","number":"447700900000"}]}]"#),
            r#"/0 (connect): /endpoint/0/type: unknown type "phon" (did you mean "phone"?)"#
        );
        assert_eq!(
            problem(r#"[{"action":"connect","endpoint":[{"type":"fax"}]}]"#),
            r#"/0 (connect): /endpoint/0/type: unknown type "fax" (expected one of: phone, websocket, sip, app, vbc)"#
        );
        assert_eq!(
            problem(r#"[{"action":"connect","endpoint":[{"number":"447700900000"}]}]"#),
            r#"/0 (connect): /endpoint/0: missing "type""#
        );
        assert_eq!(
            problem(r#"[{"action":"connect","endpoint":[{"type":"sip"}]}]"#),
            r#"/0 (connect): /endpoint/0: missing "uri""#
        );
        assert_eq!(
            problem(r#"[{"action":"connect","endpoint":["447700900000"]}]"#),
            r#"/0 (connect): /endpoint/0: must be an object, not "447700900000""#
        );
        assert_eq!(
            problem(r#"[{"action":"connect","endpoint":{"type":"phone","number":"447700900000"}}]"#),
            "/0 (connect): /endpoint: must be an array, not an object"
        );
        assert_eq!(
            problem(r#"[{"action":"connect","endpoint":[{"type":"websocket","uri":"https://example.com"}]}]"#),
            r#"/0 (connect): /endpoint/0/uri: "https://example.com" does not match the pattern ^wss?:"#
        );
        assert_eq!(
            problem(r#"[{"action":"connect","endpoint":[{"type":"websocket","uri":"ws://exa mple"}]}]"#),
            r#"/0 (connect): /endpoint/0/uri: "ws://exa mple" is not a valid URI"#
        );
    }

    #[test]
    fn notify_needs_a_payload_object_and_one_event_url() {
        assert_eq!(
            problem(r#"[{"action":"notify","eventUrl":["https://example.com/n"]}]"#),
            r#"/0 (notify): missing "payload""#
        );
        assert_eq!(
            problem(r#"[{"action":"notify","payload":{"a":1},"eventUrl":"https://example.com/n"}]"#),
            r#"/0 (notify): /eventUrl: must be an array, not "https://example.com/n""#
        );
        assert_eq!(
            problem(
                r#"[{"action":"notify","payload":{},"eventUrl":["https://example.com/n","https://example.com/m"]}]"#
            ),
            "/0 (notify): /eventUrl: has 2 items, at most 1 allowed"
        );
        assert_eq!(
            problem(r#"[{"action":"notify","payload":{},"eventUrl":[]}]"#),
            "/0 (notify): /eventUrl: has 0 items, at least 1 needed"
        );
        assert_eq!(
            problem(r#"[{"action":"notify","payload":"step 1","eventUrl":[5],"eventMethod":"PUT"}]"#),
            "/0 (notify): /payload: must be an object, not \"step 1\"\n\
             /0 (notify): /eventUrl/0: must be a string, not 5\n\
             /0 (notify): /eventMethod: \"PUT\" is not one of \"GET\", \"POST\""
        );
    }

    #[test]
    fn an_unknown_field_is_named_beside_a_problem_and_noted_on_its_own() {
        assert_eq!(
            problem(r#"[{"action":"talk","txt":"Hello"}]"#),
            "/0 (talk): missing \"text\"\n/0 (talk): unknown field \"txt\" (did you mean \"text\"?)"
        );
        let ncco = valid(r#"[{"action":"talk","text":"Hello","bargein":true},{"action":"wait","timeout":1}]"#);
        let notes: Vec<String> = ncco.notes.iter().map(ToString::to_string).collect();
        assert_eq!(notes, ["/0 (talk): unknown field \"bargein\" (did you mean \"bargeIn\"?)"]);
    }

    #[test]
    fn several_problems_in_one_action_each_get_a_line() {
        assert_eq!(
            problem(r#"[{"action":"talk","text":"x","voiceName":"Amyy","loop":1.5,"bargeIn":"yes"}]"#),
            "/0 (talk): /voiceName: \"Amyy\" is not one of the 49 allowed values (did you mean \"Amy\"?)\n\
             /0 (talk): /loop: must be an integer, not 1.5\n\
             /0 (talk): /bargeIn: must be a boolean, not \"yes\""
        );
        assert_eq!(
            problem(r#"[{"action":"record","format":"flac","endOnSilence":2,"timeOut":7201}]"#),
            "/0 (record): /format: \"flac\" is not one of \"mp3\", \"wav\", \"ogg\"\n\
             /0 (record): /endOnSilence: 2 is less than the minimum of 3\n\
             /0 (record): /timeOut: 7201 is more than the maximum of 7200"
        );
    }

    #[test]
    fn at_most_five_problems_are_listed() {
        let ncco = format!("[{}]", [r#"{"action":"talk"}"#; 8].join(","));
        let Err(NccoProblem::Schema(problems)) = read_ncco(ncco.as_bytes()) else { panic!("not a schema problem") };
        assert_eq!(problems.len(), 8);
        assert_eq!(
            problem(&ncco),
            "/0 (talk): missing \"text\"\n/1 (talk): missing \"text\"\n/2 (talk): missing \"text\"\n\
             /3 (talk): missing \"text\"\n/4 (talk): missing \"text\"\nand 3 more problems"
        );
        let six = format!("[{}]", [r#"{"action":"talk"}"#; 6].join(","));
        assert!(problem(&six).ends_with("\n/4 (talk): missing \"text\"\nand 1 more problem"));
    }

    #[test]
    fn a_huge_value_is_quoted_short() {
        let text = "a".repeat(MAX_NCCO_BYTES - 100);
        let message = problem(&format!(r#"[{{"action":"talk","text":"{text}"}}]"#));
        assert_eq!(
            message,
            format!("/0 (talk): /text: \"{}…\" is longer than 1500 characters", "a".repeat(QUOTE_CHARS))
        );
        // Control characters from the answer never reach a terminal.
        assert_eq!(
            problem(r#"[{"action":"record","format":"\u001b[31mred\nline"}]"#),
            "/0 (record): /format: \"[31mred line\" is not one of \"mp3\", \"wav\", \"ogg\""
        );
    }

    #[test]
    fn the_whole_document_check_explains_as_the_per_action_check_does() {
        // The whole schema's `oneOf` errors, explained by the branch the `action` field names, come out
        // as the per-action check's: the safety net speaks the same language.
        for text in [
            r#"[{"action":"talk"}]"#,
            r#"[{"action":"talk","text":"hi"},{"action":"connect","endpoint":[{"type":"phone","number":"12"}]}]"#,
            r#"[{"action":"notify","payload":[],"eventUrl":["https://example.com/a","https://example.com/b"]}]"#,
            r#"[{"action":"connect","endpoint":[{"type":"phon"}]}]"#,
        ] {
            let document: Value = serde_json::from_str(text).unwrap();
            let Err(NccoProblem::Schema(per_action)) = read_ncco(text.as_bytes()) else { panic!("{text} passed") };
            assert_eq!(whole_problems(&SCHEMA, &document), per_action, "{text}");
        }
        let empty = whole_problems(&SCHEMA, &json!([]));
        assert_eq!(list_problems(&empty), "the NCCO: has 0 items, at least 1 needed");
    }

    #[test]
    fn an_empty_ncco_is_refused_as_the_schema_says() {
        // minItems 1: an answer of [] does not pass, even though a call given no actions would end.
        assert_eq!(read_ncco(b"[]"), Err(NccoProblem::Empty));
        assert_eq!(problem(" [ ] "), "an NCCO is a JSON array of at least one action, this is an empty array");
    }

    #[test]
    fn the_answer_must_be_a_json_array() {
        assert_eq!(
            problem(r#"{"action":"talk","text":"hi"}"#),
            "an NCCO is a JSON array of actions, this is an object"
        );
        assert_eq!(problem(r#""talk""#), "an NCCO is a JSON array of actions, this is a string");
        assert_eq!(problem("null"), "an NCCO is a JSON array of actions, this is null");
        assert_eq!(problem("[{\"action\":\"talk\",\n}]"), "not JSON at line 2, column 1: trailing comma");
        assert_eq!(
            read_ncco(b"<html>Not Found</html>"),
            Err(NccoProblem::NotJson { line: 1, column: 1, message: "expected value".to_string() })
        );
        assert_eq!(read_ncco(b""), Err(NccoProblem::EmptyBody));
        assert_eq!(problem(" \r\n\t"), "empty: an NCCO is a JSON array of actions");
        assert_eq!(problem("[{"), "not JSON at line 1, column 2: EOF while parsing an object");
        assert_eq!(
            problem("\u{feff}[{\"action\":\"talk\",\"text\":\"x\"}]"),
            "not JSON at line 1, column 1: it starts with a byte order mark (U+FEFF), which JSON does not allow"
        );
        assert_eq!(
            problem(r#"[{"action":"talk","text":"x"}] x"#),
            "not JSON at line 1, column 32: trailing characters"
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_are_named() {
        assert_eq!(read_ncco(b"[{\"action\":\"talk\",\"text\":\"\xff\"}]"), Err(NccoProblem::NotUtf8 { offset: 26 }));
        assert_eq!(problem("[\"\u{e9}\"]"), "/0: an action is a JSON object, this is a string");
        assert_eq!(read_ncco(b"\xc3"), Err(NccoProblem::NotUtf8 { offset: 0 }));
        assert_eq!(NccoProblem::NotUtf8 { offset: 26 }.to_string(), "not UTF-8 text (an invalid byte at offset 26)");
    }

    #[test]
    fn size_is_bounded_at_one_mib() {
        let talk = r#"[{"action":"talk","text":"hi"}]"#;
        let exactly = format!("{talk}{}", " ".repeat(MAX_NCCO_BYTES - talk.len()));
        assert_eq!(exactly.len(), MAX_NCCO_BYTES);
        valid(&exactly);
        let over = format!("{exactly} ");
        assert_eq!(read_ncco(over.as_bytes()), Err(NccoProblem::TooLarge { limit: MAX_NCCO_BYTES }));
        assert_eq!(problem(&over), "larger than 1 MiB, the most vapp reads of an answer");
    }

    #[test]
    fn nesting_is_bounded_without_recursion() {
        let start = std::time::Instant::now();
        let bomb = "[".repeat(10_000);
        assert_eq!(read_ncco(bomb.as_bytes()), Err(NccoProblem::TooDeep { limit: MAX_NCCO_DEPTH }));
        let closed = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(read_ncco(closed.as_bytes()), Err(NccoProblem::TooDeep { limit: MAX_NCCO_DEPTH }));
        let objects = format!("[{}", r#"{"a":"#.repeat(10_000));
        assert_eq!(read_ncco(objects.as_bytes()), Err(NccoProblem::TooDeep { limit: MAX_NCCO_DEPTH }));
        assert!(start.elapsed() < std::time::Duration::from_secs(5), "took {:?}", start.elapsed());
        assert_eq!(problem(&bomb), "nested deeper than 64 levels");

        // 64 levels are read (and judged by the schema); 65 are not.
        let deepest = |levels: usize| format!("{}{}", "[".repeat(levels), "]".repeat(levels));
        assert_eq!(problem(&deepest(MAX_NCCO_DEPTH)), "/0: an action is a JSON object, this is an array");
        assert_eq!(read_ncco(deepest(MAX_NCCO_DEPTH + 1).as_bytes()), Err(NccoProblem::TooDeep { limit: 64 }));
        let deep_payload = format!(
            r#"[{{"action":"notify","payload":{}1{},"eventUrl":["https://example.com/n"]}}]"#,
            r#"{"a":"#.repeat(62),
            "}".repeat(62)
        );
        assert_eq!(valid(&deep_payload).notifies().count(), 1);

        // Brackets in strings, escaped quotes and escaped backslashes are text, not nesting.
        let text = format!(r#"[{{"action":"talk","text":"\"{} \\"}}]"#, "[{".repeat(500));
        valid(&text);
    }

    #[test]
    fn the_number_of_actions_is_bounded() {
        let talks = |count: usize| format!("[{}]", vec![r#"{"action":"talk","text":"x"}"#; count].join(","));
        assert_eq!(valid(&talks(MAX_NCCO_ACTIONS)).actions.len(), MAX_NCCO_ACTIONS);
        assert_eq!(
            read_ncco(talks(MAX_NCCO_ACTIONS + 1).as_bytes()),
            Err(NccoProblem::TooManyActions { count: 101, limit: 100 })
        );
        assert_eq!(problem(&talks(101)), "the NCCO has 101 actions; vapp checks at most 100");
    }

    /// The fuzz target's property on its seeds (cargo-fuzz is not needed to hold them to it): the
    /// invalid ones (by name) are refused, the others read back equal once serialised.
    #[test]
    fn the_fuzz_seeds_get_the_verdicts_their_names_say() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/ncco");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let body = std::fs::read(&path).unwrap();
            let refused = ["invalid-", "not-an-array", "empty-array"].iter().any(|prefix| name.starts_with(prefix));
            match read_ncco(&body) {
                Ok(ncco) => {
                    assert!(!refused, "{name} is read as valid");
                    assert_eq!(read_ncco(&serde_json::to_vec(&ncco.actions).unwrap()), Ok(ncco), "{name}");
                }
                Err(problem) => assert!(refused, "{name} is refused: {problem}"),
            }
            seen += 1;
        }
        assert!(seen >= 5, "{} holds {seen} seeds", dir.display());
    }

    #[test]
    fn depth_scan_counts_only_structure() {
        assert!(!nesting_exceeds(br#"["[[[", "\"[[[", "\\", {"a": ["]"]}]"#, 3));
        assert!(nesting_exceeds(br#"[{"a": [[]]}]"#, 3));
        assert!(!nesting_exceeds(b"]]]]]]][[[", 3));
    }

    /// JSON values made of the schema's own words, so that generated actions reach its checks.
    fn json_value() -> impl Strategy<Value = Value> {
        let words = prop::sample::select(vec![
            "talk",
            "stream",
            "input",
            "connect",
            "record",
            "conversation",
            "notify",
            "tlak",
            "phone",
            "websocket",
            "sip",
            "GET",
            "POST",
            "mp3",
            "Amy",
            "en-GB",
            "447700900000",
            "12",
            "https://example.com/a",
            "wss://x",
            "sip:a@b",
            "",
            "[{\"",
            "\\",
        ]);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-1e4f64..1e4).prop_map(Value::from),
            words.prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::from),
        ];
        let keys = prop::sample::select(vec![
            "action",
            "text",
            "endpoint",
            "type",
            "number",
            "uri",
            "payload",
            "eventUrl",
            "eventMethod",
            "streamUrl",
            "name",
            "loop",
            "voiceName",
            "format",
            "timeOut",
            "headers",
            "x",
        ]);
        leaf.prop_recursive(6, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((keys.clone(), inner), 0..6)
                    .prop_map(|fields| Value::Object(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
            ]
        })
    }

    /// Whatever the answer, the verdict holds together: a valid NCCO passes the whole schema, a schema
    /// problem names at least one action, and no line of a message runs long.
    fn check_verdict(body: &[u8]) -> Result<(), TestCaseError> {
        match read_ncco(body) {
            Ok(ncco) => prop_assert!(SCHEMA.whole.is_valid(&Value::Array(ncco.actions))),
            Err(problem) => {
                if let NccoProblem::Schema(problems) = &problem {
                    prop_assert!(!problems.is_empty());
                }
                for line in problem.to_string().lines() {
                    prop_assert!(line.chars().count() <= 400, "{line}");
                }
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn any_bytes_get_a_verdict(body in prop::collection::vec(any::<u8>(), 0..512)) {
            check_verdict(&body)?;
        }

        #[test]
        fn any_json_gets_a_verdict(value in json_value()) {
            check_verdict(&serde_json::to_vec(&value).unwrap())?;
        }

        #[test]
        fn any_array_of_objects_gets_a_verdict(actions in prop::collection::vec(json_value(), 1..6)) {
            check_verdict(&serde_json::to_vec(&Value::Array(actions)).unwrap())?;
        }

        #[test]
        fn jsonish_text_gets_a_verdict(text in "([\\[\\]{}:,\" \\\\]|\"action\"|\"talk\"|\"text\"|1|null){0,64}") {
            check_verdict(text.as_bytes())?;
        }
    }
}
