//! YAML with positions: a manifest file becomes a JSON value plus an index from every path in it to
//! where that path's key and value stand in the file, so that any later error (serde's, a rule's, a
//! duplicate address) can point at a line and column.
//!
//! Scalars are typed by the YAML 1.2 core schema. `${VAR}` and `${VAR:-default}` are replaced in
//! values (never in keys) before a plain scalar is typed, so `socket_timeout: ${TIMEOUT}` is a number;
//! `$${` stands for a literal `${`.

use std::collections::HashMap;
use std::rc::Rc;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};

/// Answers environment variables for `${VAR}`; a parameter so that reading stays pure.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A place in a manifest file: 1-based line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub col: usize,
}

/// The most problems reported for one file: past this, more help nobody.
pub const MAX_FOUND: usize = 100;

/// A problem found while reading, at a position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub at: Position,
    pub message: String,
    pub help: Option<String>,
}

/// Where a path's key and value stand.
#[derive(Clone, Copy, Debug, Default)]
pub struct Places {
    pub key: Option<Position>,
    pub value: Position,
}

/// Maps a path (map keys and sequence indices, as strings) to its places.
#[derive(Default, Debug)]
pub struct PositionIndex(HashMap<Vec<String>, Places>);

impl PositionIndex {
    /// The key's position if `path` names a map entry, else its value's.
    pub fn key_or_value(&self, path: &[String]) -> Option<Position> {
        self.0.get(path).map(|p| p.key.unwrap_or(p.value))
    }

    pub fn value(&self, path: &[String]) -> Option<Position> {
        self.0.get(path).map(|p| p.value)
    }

    /// The position of the longest prefix of `path` that exists: an error about a field the file
    /// leaves out (or writes in shorthand) points at the nearest thing the file does say.
    pub fn nearest(&self, path: &[String]) -> Position {
        (0..=path.len()).rev().find_map(|n| self.value(&path[..n])).unwrap_or(Position { line: 1, col: 1 })
    }

    /// Like [`nearest`](Self::nearest), but prefers the key of an exact match.
    pub fn nearest_key(&self, path: &[String]) -> Position {
        self.key_or_value(path).unwrap_or_else(|| self.nearest(path))
    }
}

/// The most YAML nodes a manifest may expand to, aliases expanded: a hundred applications with every
/// capability take a few thousand. Without a bound, ten nested aliases ("billion laughs") grow past
/// any memory.
pub const MAX_NODES: usize = 100_000;
/// The deepest nesting a manifest may have (a manifest needs about ten levels).
pub const MAX_DEPTH: usize = 64;
/// The longest a value may be once `${VAR}`s are replaced.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// The most text all values may expand to, together.
pub const MAX_EXPANDED_BYTES: usize = 16 * 1024 * 1024;

/// A YAML node. Aliases share the anchored node (`Rc`): expanding one copies nothing.
enum Node {
    Scalar { value: String, style: ScalarStyle, forced_str: bool, span: Span },
    Seq { items: Vec<Rc<Node>>, span: Span, size: usize },
    Map { entries: Vec<(Rc<Node>, Rc<Node>)>, span: Span, size: usize },
}

impl Node {
    fn span(&self) -> Span {
        match self {
            Node::Scalar { span, .. } | Node::Seq { span, .. } | Node::Map { span, .. } => *span,
        }
    }

    /// Nodes in this subtree, aliases expanded.
    fn size(&self) -> usize {
        match self {
            Node::Scalar { .. } => 1,
            Node::Seq { size, .. } | Node::Map { size, .. } => *size,
        }
    }
}

/// The first tab in a line's indentation (before its first other character), if one indents a line
/// that holds something.
fn tab_in_indentation(source: &str) -> Option<Position> {
    source.lines().enumerate().find_map(|(i, line)| {
        let indentation: &str = &line[..line.len() - line.trim_start_matches([' ', '\t']).len()];
        let holds_something = !line.trim().is_empty() && !line.trim_start().starts_with('#');
        let col = indentation.find('\t')?;
        holds_something.then_some(Position { line: i + 1, col: col + 1 })
    })
}

fn position(span: &Span) -> Position {
    Position { line: span.start.line(), col: span.start.col() + 1 }
}

/// Reads one YAML document. `lookup` answers environment variables.
pub fn parse(source: &str, lookup: EnvLookup) -> Result<(Value, PositionIndex), Vec<Found>> {
    parse_with(source, Some(lookup))
}

/// Reads one YAML document as written, `${VAR}` references left in place (what an editor validates).
pub fn parse_unexpanded(source: &str) -> Result<Value, Vec<Found>> {
    parse_with(source, None).map(|(value, _)| value)
}

fn parse_with(source: &str, lookup: Option<EnvLookup>) -> Result<(Value, PositionIndex), Vec<Found>> {
    // YAML forbids tabs in indentation; the parser notices only later (often on the next line).
    if let Some(at) = tab_in_indentation(source) {
        return Err(vec![Found {
            at,
            message: "a tab indents this line; YAML indents with spaces".into(),
            help: Some("replace the tab with spaces".into()),
        }]);
    }
    let root = build_tree(source).map_err(|f| vec![f])?;
    let Some(root) = root else {
        return Ok((Value::Null, PositionIndex::default()));
    };
    let mut converter = Converter {
        lines: Lines::new(source),
        lookup,
        index: PositionIndex::default(),
        found: Vec::new(),
        expanded_bytes: 0,
    };
    let mut path = Vec::new();
    let value = converter.convert(&root, &mut path);
    if converter.found.is_empty() {
        Ok((value, converter.index))
    } else {
        Err(converter.found)
    }
}

enum Open {
    Seq(Vec<Rc<Node>>, Span, usize),
    Map(Vec<(Rc<Node>, Rc<Node>)>, Option<Rc<Node>>, Span, usize),
}

fn build_tree(source: &str) -> Result<Option<Rc<Node>>, Found> {
    let mut parser = Parser::new_from_str(source);
    let mut stack: Vec<Open> = Vec::new();
    let mut anchors: HashMap<usize, Rc<Node>> = HashMap::new();
    let mut root: Option<Rc<Node>> = None;
    let mut documents = 0;
    let mut expanded = 0usize;
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| Found {
            at: Position { line: e.marker().line(), col: e.marker().col() + 1 },
            message: format!("invalid YAML: {}", e.info()),
            help: None,
        })?;
        let finished = match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(Found {
                        at: position(&span),
                        message: "a manifest file holds one YAML document; this is a second".into(),
                        help: Some("put each document in a file of its own".into()),
                    });
                }
                None
            }
            Event::Scalar(value, style, anchor, tag) => {
                let forced_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let node = Node::Scalar { value: value.into_owned(), style, forced_str, span };
                Some((Rc::new(node), anchor))
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(Found {
                        at: position(&span),
                        message: format!("the manifest is nested deeper than {MAX_DEPTH} levels, the most vapp reads"),
                        help: None,
                    });
                }
                match event {
                    Event::SequenceStart(..) => stack.push(Open::Seq(Vec::new(), span, anchor)),
                    _ => stack.push(Open::Map(Vec::new(), None, span, anchor)),
                }
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Open::Seq(items, span, anchor)) => {
                    let size = 1 + items.iter().map(|i| i.size()).sum::<usize>();
                    Some((Rc::new(Node::Seq { items, span, size }), anchor))
                }
                _ => None,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Open::Map(entries, _, span, anchor)) => {
                    let size = 1 + entries.iter().map(|(k, v)| k.size() + v.size()).sum::<usize>();
                    Some((Rc::new(Node::Map { entries, span, size }), anchor))
                }
                _ => None,
            },
            Event::Alias(id) => match anchors.get(&id) {
                Some(node) => {
                    // The alias stands for the whole anchored subtree: count it whole.
                    expanded = expanded.saturating_add(node.size().saturating_sub(1));
                    Some((node.clone(), 0))
                }
                None => {
                    return Err(Found { at: position(&span), message: "alias to an unknown anchor".into(), help: None })
                }
            },
            _ => None,
        };
        if let Some((node, anchor)) = finished {
            expanded += 1;
            if expanded > MAX_NODES {
                return Err(Found {
                    at: position(&span),
                    message: format!("the manifest expands to more than {MAX_NODES} YAML nodes, the most vapp reads"),
                    help: Some("aliases (`*name`) copy what their anchor holds; use fewer, or smaller ones".into()),
                });
            }
            if anchor > 0 {
                anchors.insert(anchor, node.clone());
            }
            match stack.last_mut() {
                Some(Open::Seq(items, ..)) => items.push(node),
                Some(Open::Map(entries, pending_key, ..)) => match pending_key.take() {
                    Some(key) => entries.push((key, node)),
                    None => *pending_key = Some(node),
                },
                None => root = Some(node),
            }
        }
    }
    Ok(root)
}

/// Where each line of a source starts, for turning parser positions into byte offsets and back in
/// time proportional to a line, not to the file.
struct Lines<'a> {
    source: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(source: &'a str) -> Self {
        let starts = std::iter::once(0).chain(source.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Lines { source, starts }
    }

    /// The byte offset of 1-based `line` and 0-based character column `col`.
    fn offset(&self, line: usize, col: usize) -> Option<usize> {
        let start = *self.starts.get(line.checked_sub(1)?)?;
        let text = &self.source[start..];
        Some(start + text.char_indices().nth(col).map(|(i, _)| i).unwrap_or(text.len()))
    }

    /// The position of byte offset `at`.
    fn position(&self, at: usize) -> Position {
        let line = self.starts.partition_point(|&start| start <= at);
        let start = self.starts[line.saturating_sub(1)];
        Position { line, col: self.source.get(start..at).map(|t| t.chars().count()).unwrap_or(0) + 1 }
    }
}

struct Converter<'a> {
    lines: Lines<'a>,
    /// `None`: leave `${VAR}` as written.
    lookup: Option<EnvLookup<'a>>,
    index: PositionIndex,
    found: Vec<Found>,
    /// Bytes all values have expanded to so far.
    expanded_bytes: usize,
}

impl Converter<'_> {
    fn convert(&mut self, node: &Node, path: &mut Vec<String>) -> Value {
        if self.found.len() >= MAX_FOUND {
            return Value::Null;
        }
        let value_position = position(&node.span());
        self.index.0.entry(path.clone()).or_default().value = value_position;
        match node {
            Node::Scalar { value, style, forced_str, span } => {
                let text = self.interpolate(value, span);
                self.expanded_bytes += text.len();
                if text.len() > MAX_VALUE_BYTES || self.expanded_bytes > MAX_EXPANDED_BYTES {
                    let message = match text.len() > MAX_VALUE_BYTES {
                        true => format!("this value is longer than {MAX_VALUE_BYTES} bytes, the most vapp reads"),
                        false => {
                            format!("the values expand to more than {MAX_EXPANDED_BYTES} bytes, the most vapp reads")
                        }
                    };
                    self.found.push(Found { at: position(span), message, help: None });
                    return Value::Null;
                }
                if *style == ScalarStyle::Plain && !forced_str {
                    typed_plain_scalar(&text)
                } else {
                    Value::String(text)
                }
            }
            Node::Seq { items, .. } => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    path.push(i.to_string());
                    out.push(self.convert(item, path));
                    path.pop();
                }
                Value::Array(out)
            }
            Node::Map { entries, .. } => {
                let mut out = Map::new();
                let mut seen: HashMap<String, Position> = HashMap::new();
                for (key, value) in entries {
                    let key_position = position(&key.span());
                    let Node::Scalar { value: key_text, .. } = key.as_ref() else {
                        self.found.push(Found {
                            at: key_position,
                            message: "a key must be a plain string".into(),
                            help: None,
                        });
                        continue;
                    };
                    if let Some(first) = seen.get(key_text) {
                        self.found.push(Found {
                            at: key_position,
                            message: format!("duplicate key `{key_text}`"),
                            help: Some(format!("it is already set at line {}, column {}", first.line, first.col)),
                        });
                        continue;
                    }
                    seen.insert(key_text.clone(), key_position);
                    path.push(key_text.clone());
                    let converted = self.convert(value, path);
                    self.index.0.entry(path.clone()).or_default().key = Some(key_position);
                    path.pop();
                    out.insert(key_text.clone(), converted);
                }
                Value::Object(out)
            }
        }
    }

    /// Replaces `${VAR}`, `${VAR:-default}` and `$${`; an unset variable without default is an error
    /// at the place of its `${` in the file.
    fn interpolate(&mut self, text: &str, span: &Span) -> String {
        let Some(lookup) = self.lookup.filter(|_| text.contains('$')) else {
            return text.to_string();
        };
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let tail = &rest[at..];
            if let Some(after) = tail.strip_prefix("$${") {
                out.push_str("${");
                rest = after;
            } else if let Some(after) = tail.strip_prefix("${") {
                let Some(end) = after.find('}') else {
                    self.found.push(Found {
                        at: self.locate(span, tail),
                        message: "unclosed `${`".into(),
                        help: Some("write `${NAME}`, or `$${` for a literal `${`".into()),
                    });
                    return out;
                };
                let expression = &after[..end];
                let (name, default) = match expression.split_once(":-") {
                    Some((name, default)) => (name, Some(default)),
                    None => (expression, None),
                };
                let valid_name = !name.is_empty()
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !name.starts_with(|c: char| c.is_ascii_digit());
                if !valid_name {
                    self.found.push(Found {
                        at: self.locate(span, tail),
                        message: format!("`${{{expression}}}` is not a variable reference"),
                        help: Some("names are letters, digits and `_`: `${NAME}` or `${NAME:-default}`".into()),
                    });
                } else {
                    // As in a shell, `:-` takes the default when the variable is unset or empty.
                    match (lookup(name).filter(|v| !v.is_empty() || default.is_none()), default) {
                        (Some(value), _) => out.push_str(&value),
                        (None, Some(default)) => out.push_str(default),
                        (None, None) => self.found.push(Found {
                            at: self.locate(span, tail),
                            message: format!("environment variable `{name}` is not set"),
                            help: Some(format!("set it, or give a default: `${{{name}:-value}}`")),
                        }),
                    }
                }
                rest = &after[end + 1..];
            } else {
                out.push('$');
                rest = &tail[1..];
            }
        }
        out.push_str(rest);
        out
    }

    /// Finds `needle`'s start inside the scalar's source text; the scalar's start when it cannot
    /// (escapes or folding changed the text). Costs a line or two, never the whole file.
    fn locate(&self, span: &Span, needle: &str) -> Position {
        let needle: String = needle.chars().take_while(|c| *c != '}').collect();
        let start = self.lines.offset(span.start.line(), span.start.col());
        let end = self.lines.offset(span.end.line(), span.end.col());
        let (Some(start), Some(end)) = (start, end) else { return position(span) };
        let Some(text) = self.lines.source.get(start..end.max(start)) else { return position(span) };
        match text.find(&needle) {
            Some(offset) => self.lines.position(start + offset),
            None => position(span),
        }
    }
}

/// Types a plain scalar by the YAML 1.2 core schema.
fn typed_plain_scalar(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(n) = parse_int(text) {
        return Value::Number(n);
    }
    let looks_float = text.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        && text.chars().any(|c| c.is_ascii_digit());
    if looks_float {
        if let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(text.to_string())
}

fn parse_int(text: &str) -> Option<Number> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (radix, digits) = if let Some(hex) = digits.strip_prefix("0x") {
        (16, hex)
    } else if let Some(oct) = digits.strip_prefix("0o") {
        (8, oct)
    } else {
        (10, digits)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(digits, radix).ok()?;
    let value = if negative { -magnitude } else { magnitude };
    if let Ok(v) = u64::try_from(value) {
        Some(Number::from(v))
    } else {
        i64::try_from(value).ok().map(Number::from)
    }
}

#[cfg(test)]
mod tab_tests {
    use super::*;

    #[test]
    fn a_tab_in_indentation_is_reported_where_it_is() {
        let found = parse("\tversion: 1\napplications: {}\n", &|_| None).unwrap_err();
        assert_eq!((found[0].at.line, found[0].at.col), (1, 1));
        assert!(found[0].message.contains("a tab indents this line"));
        let found = parse("version: 1\napplications:\n  \ta: {}\n", &|_| None).unwrap_err();
        assert_eq!((found[0].at.line, found[0].at.col), (3, 3));
        // A tab elsewhere, or on a blank line, is not indentation.
        assert!(parse("version: 1 \t\n\t\napplications: {}\n", &|_| None).is_ok());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn path(p: &str) -> Vec<String> {
        p.split('.').map(str::to_string).collect()
    }

    #[test]
    fn values_are_typed_like_yaml_1_2() {
        let (v, _) = parse("a: 1\nb: true\nc: \"1\"\nd: 1.5\ne: ~\nf: yes\ng: !!str 7\nh: 0x1F\n", &no_env).unwrap();
        assert_eq!(v, json!({"a": 1, "b": true, "c": "1", "d": 1.5, "e": null, "f": "yes", "g": "7", "h": 31}));
    }

    #[test]
    fn positions_point_at_keys_and_values() {
        let src = "version: 1\napplications:\n  app:\n    name: x\n";
        let (_, index) = parse(src, &no_env).unwrap();
        assert_eq!(index.key_or_value(&path("applications.app.name")), Some(Position { line: 4, col: 5 }));
        assert_eq!(index.value(&path("applications.app.name")), Some(Position { line: 4, col: 11 }));
        assert_eq!(index.nearest(&path("applications.app.capabilities.voice")), Position { line: 4, col: 5 });
    }

    #[test]
    fn variables_are_replaced_in_values_only() {
        let env = |name: &str| (name == "ENV").then(|| "prod".to_string());
        let src = "${ENV}: 1\nname: Support (${ENV})\nt: ${PORT:-8000}\nlit: $${ENV}\ncost: $5\n";
        let (v, _) = parse(src, &env).unwrap();
        assert_eq!(v, json!({"${ENV}": 1, "name": "Support (prod)", "t": 8000, "lit": "${ENV}", "cost": "$5"}));
    }

    #[test]
    fn a_default_stands_for_an_unset_or_empty_variable_as_in_a_shell() {
        let env = |name: &str| (name == "EMPTY").then(String::new);
        let (v, _) = parse("a: ${EMPTY:-fallback}\nb: x${EMPTY}y\nc: ${UNSET:-d}\n", &env).unwrap();
        assert_eq!(v, json!({"a": "fallback", "b": "xy", "c": "d"}));
    }

    #[test]
    fn an_unset_variable_points_at_its_reference() {
        let found = parse("a:\n  name: \"Support ${MISSING}\"\n", &no_env).unwrap_err();
        assert_eq!(found[0].at, Position { line: 2, col: 18 });
        assert_eq!(found[0].message, "environment variable `MISSING` is not set");
    }

    #[test]
    fn syntax_errors_and_duplicates_have_positions() {
        let found = parse("a: [1, 2\nb: 3\n", &no_env).unwrap_err();
        assert!(found[0].message.starts_with("invalid YAML"), "{found:?}");
        let found = parse("a: 1\nb: 2\na: 3\n", &no_env).unwrap_err();
        assert_eq!(found[0].at, Position { line: 3, col: 1 });
        assert_eq!(found[0].message, "duplicate key `a`");
    }

    #[test]
    fn anchors_and_aliases_copy_values() {
        let (v, _) = parse("base: &hook {address: 'https://a/'}\nother: *hook\n", &no_env).unwrap();
        assert_eq!(v["other"], json!({"address": "https://a/"}));
    }
}
