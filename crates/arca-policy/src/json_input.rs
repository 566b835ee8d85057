//! Reads JSON policy text into a [`Node`] tree, keeping repeated object keys (serde_json's
//! own `Value` would silently keep only the last one).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::document::{Entry, EntryKind, Located, Node};
use crate::error::PolicyError;

/// Parses `text` as JSON. Syntax errors carry serde_json's line number; the tree itself has
/// no positions (the JSON reader does not expose them).
pub(crate) fn parse_json(text: &str) -> Result<Node, PolicyError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let node = JsonNode::deserialize(&mut de)
        .and_then(|node| de.end().map(|()| node))
        .map_err(|err| PolicyError::parse(Some(err.line()), strip_position(&err)))?;
    Ok(node.0)
}

/// serde_json appends " at line X column Y"; the line goes in front instead.
fn strip_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(pos) => text[..pos].to_string(),
        None => text,
    }
}

struct JsonNode(Node);

impl<'de> Deserialize<'de> for JsonNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<JsonNode, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

fn located(node: Node) -> Located {
    Located { node, line: None }
}

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = JsonNode;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<JsonNode, E> {
        Ok(JsonNode(Node::Null))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<JsonNode, E> {
        Ok(JsonNode(Node::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<JsonNode, E> {
        Ok(JsonNode(Node::Number(v.into())))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<JsonNode, E> {
        Ok(JsonNode(Node::Number(v.into())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<JsonNode, E> {
        serde_json::Number::from_f64(v)
            .map(|n| JsonNode(Node::Number(n)))
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<JsonNode, E> {
        Ok(JsonNode(Node::String(v.to_string())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<JsonNode, E> {
        Ok(JsonNode(Node::String(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonNode, A::Error> {
        let mut items = Vec::new();
        while let Some(JsonNode(node)) = seq.next_element()? {
            items.push(located(node));
        }
        Ok(JsonNode(Node::List(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonNode, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let JsonNode(node) = map.next_value()?;
            entries.push(Entry {
                key,
                kind: EntryKind::Attribute,
                value: located(node),
            });
        }
        Ok(JsonNode(Node::Map(entries)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_are_kept_in_order() {
        let node = parse_json(r#"{"a": 1, "a": [true, null, "x"], "b": -2.5}"#).unwrap();
        let Node::Map(entries) = node else {
            panic!("map")
        };
        let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["a", "a", "b"]);
        assert_eq!(entries[0].value.node, Node::Number(1.into()));
        assert_eq!(
            entries[1].value.node.to_json(),
            serde_json::json!([true, null, "x"])
        );
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err =
            parse_json("{\n  \"path\": {\n    \"a\": {\n      \"capabilities\": [\"read\",]\n")
                .unwrap_err();
        assert_eq!(err.line(), Some(4), "{err}");
        assert!(
            err.to_string()
                .starts_with("failed to parse policy: line 4: "),
            "{err}"
        );
        assert!(parse_json("{} {}").is_err());
    }
}
