//! serde's error messages in user words: the one translation of "invalid type: string \"x\", expected
//! u32" and "struct ManifestApplication" into what a person reads, shared by the manifest loader, the
//! emulator (which words it as the API does) and the state loader (which never shows a value).
//!
//! serde reports errors as text; this is the only place that reads that text.

use std::fmt;

/// One deserialisation problem: where, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeProblem {
    /// Map keys and sequence indices from the document's root.
    pub path: Vec<String>,
    pub kind: ProblemKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// A required field is absent (`field` names it; the path is its parent's).
    Missing { field: String },
    /// A field the type does not have, and the fields it does have.
    Unknown { key: String, expected: Vec<String> },
    /// A value of the wrong type or out of range: what was expected, and what was found (which may
    /// hold the value itself: callers that must not echo values leave it out).
    Wrong { expected: Expected, found: String },
    /// Anything else serde or a custom deserialiser said.
    Other(String),
}

/// What a value should have been, in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected(String);

/// How a document's structures are called: manifests are YAML, API bodies and states JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Yaml,
    Json,
}

impl Expected {
    /// The expectation in `dialect`'s words.
    pub fn words(&self, dialect: Dialect) -> String {
        let text = self.0.as_str();
        let (mapping, sequence) = match dialect {
            Dialect::Yaml => ("a mapping", "a list"),
            Dialect::Json => ("an object", "an array"),
        };
        match text {
            "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number".into(),
            "i8" | "i16" | "i32" | "i64" | "isize" => "an integer".into(),
            "f32" | "f64" => "a number".into(),
            "a boolean" => "true or false".into(),
            "a map" | "map" => mapping.into(),
            "a sequence" | "sequence" => sequence.into(),
            _ if text.starts_with("struct ") => mapping.into(),
            _ if text.starts_with("a sequence") => sequence.into(),
            _ => text.to_string(),
        }
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.words(Dialect::Json))
    }
}

/// An error and its causes on one line, joined by `: `: how every error reaches a person.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let line = e.to_string();
        // A transparent wrapper repeats its cause; saying it twice adds nothing.
        if !text.ends_with(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        cause = e.source();
    }
    text
}

/// Reads a `serde_path_to_error` error.
pub fn humanise<E: fmt::Display>(error: &serde_path_to_error::Error<E>) -> TypeProblem {
    use serde_path_to_error::Segment;
    let path = error
        .path()
        .iter()
        .filter_map(|s| match s {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.clone()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .collect();
    TypeProblem { path, kind: classify(&error.inner().to_string()) }
}

/// Sorts serde's message into a [`ProblemKind`].
pub fn classify(message: &str) -> ProblemKind {
    // serde_json appends where in the text it was; paths say that better.
    let message = message.split(" at line ").next().unwrap_or(message);
    if let Some(field) = message.strip_prefix("missing field `").and_then(|m| m.strip_suffix('`')) {
        return ProblemKind::Missing { field: field.to_string() };
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let mut parts = rest.split('`');
        let key = parts.next().unwrap_or_default().to_string();
        // "`, expected one of `a`, `b`": every other part after the key is a name.
        let expected = parts.skip(1).step_by(2).map(str::to_string).collect();
        return ProblemKind::Unknown { key, expected };
    }
    for prefix in ["invalid type: ", "invalid value: ", "unknown variant "] {
        if let Some((found, expected)) = message.strip_prefix(prefix).and_then(|m| m.split_once(", expected ")) {
            let found = found.replace('`', "");
            return ProblemKind::Wrong { expected: Expected(expected.to_string()), found };
        }
    }
    ProblemKind::Other(message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_are_sorted_and_reworded() {
        assert_eq!(classify("missing field `name`"), ProblemKind::Missing { field: "name".into() });
        assert_eq!(
            classify("unknown field `answer_ur`, expected one of `answer_url`, `event_url`"),
            ProblemKind::Unknown { key: "answer_ur".into(), expected: vec!["answer_url".into(), "event_url".into()] }
        );
        let ProblemKind::Wrong { expected, found } = classify("invalid type: string \"soon\", expected u32") else {
            panic!("a wrong type")
        };
        assert_eq!((expected.words(Dialect::Yaml), found.as_str()), ("a whole number".into(), "string \"soon\""));
        let ProblemKind::Wrong { expected, .. } =
            classify("invalid type: sequence, expected struct ManifestApplication at line 3 column 4")
        else {
            panic!("a wrong type")
        };
        assert_eq!(expected.words(Dialect::Yaml), "a mapping");
        assert_eq!(expected.words(Dialect::Json), "an object");
        let ProblemKind::Wrong { found, .. } = classify("invalid value: integer `-1`, expected u32") else {
            panic!("a wrong value")
        };
        assert_eq!(found, "integer -1");
    }
}
