//! The manifest's JSON Schema, generated from the types that read manifests, so the two cannot disagree.
//! `schemas/vapp.schema.json` is this schema checked in for editors; a test keeps it current.

use std::sync::OnceLock;

use serde_json::Value;

use super::ManifestFile;

/// The JSON Schema of a manifest file.
pub fn manifest_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| serde_json::to_value(schemars::schema_for!(ManifestFile)).unwrap_or(Value::Null))
}

/// The schema as `vapp schema` prints it and `schemas/vapp.schema.json` stores it.
pub fn manifest_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(manifest_schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// The keys the schema allows in the object at `path` (map keys and field names from the root), for
/// "did you mean" hints.
pub fn properties_at(path: &[String]) -> Vec<String> {
    let root = manifest_schema();
    let mut node = resolve(root, root);
    for segment in path {
        let Some(next) = child(root, node, segment) else { return Vec::new() };
        node = next;
    }
    object_branch(root, node)
        .and_then(|n| n.get("properties"))
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// The first place in a manifest document where a list stands for a mapping. serde reads a list into a
/// struct as its fields in order and then complains about the first field, which misleads; this finds
/// the real mistake first.
pub fn list_for_mapping(value: &Value) -> Option<Vec<String>> {
    fn walk(root: &Value, node: &Value, value: &Value, path: &mut Vec<String>) -> bool {
        match value {
            Value::Array(_) => object_branch(root, node).is_some() && !allows_array(root, node),
            Value::Object(map) => map.iter().any(|(key, child_value)| {
                let Some(child_node) = child(root, node, key) else { return false };
                path.push(key.clone());
                let found = walk(root, child_node, child_value, path);
                if !found {
                    path.pop();
                }
                found
            }),
            _ => false,
        }
    }
    let root = manifest_schema();
    let mut path = Vec::new();
    walk(root, resolve(root, root), value, &mut path).then_some(path)
}

/// A key the schema does not know, where it is and the keys that would be allowed there.
#[derive(Debug, PartialEq, Eq)]
pub struct UnknownKey {
    pub parent: Vec<String>,
    pub key: String,
    pub allowed: Vec<String>,
}

/// Every key of `value` that the schema does not allow where it stands, in document order (serde
/// stops at the first; a person wants them all at once). Keys the loader itself refuses with words of
/// its own (a secret written into an account's declaration) are left to it.
pub fn unknown_keys(value: &Value) -> Vec<UnknownKey> {
    const REFUSED_BY_THE_LOADER: &[&str] = &["api_secret", "secret", "signature_secret"];
    fn walk(root: &Value, node: &Value, value: &Value, path: &mut Vec<String>, out: &mut Vec<UnknownKey>) {
        let Value::Object(map) = value else { return };
        let Some(object) = object_branch(root, node) else { return };
        let properties = object.get("properties").and_then(Value::as_object);
        let open = object.get("additionalProperties").is_some_and(Value::is_object)
            || object.get("additionalProperties").is_none() && properties.is_none();
        for (key, child_value) in map {
            match child(root, node, key) {
                Some(child_node) => {
                    path.push(key.clone());
                    walk(root, child_node, child_value, path, out);
                    path.pop();
                }
                None if open => {}
                None if path.first().map(String::as_str) == Some("accounts")
                    && REFUSED_BY_THE_LOADER.contains(&key.as_str()) => {}
                None => out.push(UnknownKey {
                    parent: path.clone(),
                    key: key.clone(),
                    allowed: properties.map(|p| p.keys().cloned().collect()).unwrap_or_default(),
                }),
            }
        }
    }
    let root = manifest_schema();
    let mut out = Vec::new();
    walk(root, resolve(root, root), value, &mut Vec::new(), &mut out);
    out
}

fn allows_array(root: &Value, node: &Value) -> bool {
    let node = resolve(root, node);
    let typed = |t: &Value| t == "array" || t.as_array().is_some_and(|ts| ts.iter().any(|t| t == "array"));
    node.get("type").is_some_and(typed)
        || node
            .get("anyOf")
            .and_then(Value::as_array)
            .is_some_and(|branches| branches.iter().any(|b| allows_array(root, b)))
}

fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/")) {
        Some(pointer) => root.pointer(&format!("/{pointer}")).map(|n| resolve(root, n)).unwrap_or(node),
        None => node,
    }
}

/// The branch of `node` that describes an object (Options and shorthands are `anyOf`s).
fn object_branch<'a>(root: &'a Value, node: &'a Value) -> Option<&'a Value> {
    let node = resolve(root, node);
    if node.get("properties").is_some() || node.get("additionalProperties").is_some_and(Value::is_object) {
        return Some(node);
    }
    node.get("anyOf")?.as_array()?.iter().find_map(|branch| object_branch(root, branch))
}

fn child<'a>(root: &'a Value, node: &'a Value, segment: &str) -> Option<&'a Value> {
    let object = object_branch(root, node)?;
    if let Some(property) = object.get("properties").and_then(|p| p.get(segment)) {
        return Some(resolve(root, property));
    }
    object.get("additionalProperties").filter(|a| a.is_object()).map(|a| resolve(root, a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> Vec<String> {
        p.split('.').map(str::to_string).collect()
    }

    #[test]
    fn a_list_where_a_mapping_belongs_is_found() {
        let value =
            serde_json::json!({"version": 1, "applications": {"a": {"name": "x", "capabilities": {"voice": [1]}}}});
        assert_eq!(list_for_mapping(&value), Some(path("applications.a.capabilities.voice")));
        let fine = serde_json::json!({"version": 1, "applications": {"a": {"name": "x"}}});
        assert_eq!(list_for_mapping(&fine), None);
    }

    #[test]
    fn every_unknown_key_is_found() {
        let value = serde_json::json!({"version": 1, "applications": {"a": {"name": "x", "nubmers": [],
            "capabilities": {"voice": {"webhooks": {"answer_ur": "https://x/"}}}}},
            "accounts": {"s": {"api_key": "k", "api_secret": "refused by the loader"}}});
        let found: Vec<(String, String)> =
            unknown_keys(&value).into_iter().map(|u| (u.parent.join("."), u.key)).collect();
        assert_eq!(
            found,
            [
                ("applications.a".to_string(), "nubmers".to_string()),
                ("applications.a.capabilities.voice.webhooks".to_string(), "answer_ur".to_string())
            ]
        );
    }

    #[test]
    fn finds_the_keys_of_nested_objects() {
        let keys = properties_at(&path("applications.any.capabilities.voice.webhooks"));
        assert_eq!(keys, ["answer_url", "fallback_answer_url", "event_url"]);
        let keys = properties_at(&path("applications.any.capabilities.voice.webhooks.answer_url"));
        assert!(keys.contains(&"socket_timeout".to_string()), "{keys:?}");
        let keys = properties_at(&path("applications.any"));
        assert!(keys.contains(&"protect".to_string()), "{keys:?}");
    }
}
