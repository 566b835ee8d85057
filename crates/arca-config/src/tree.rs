//! The format-neutral tree that both HCL and JSON configs are lowered into before they are
//! interpreted, so the rules of the config live in one place.
//!
//! HCL has attributes (`key = value`) and blocks (`listener "tcp" { ... }`); JSON only has
//! values, and expresses a block as nested objects (`"listener": {"tcp": {...}}`). The tree keeps
//! that difference ([`Item::Value`] vs [`Item::Block`]); [`blocks_of`] reads either as blocks.

use crate::error::ConfigError;

/// One `key = value` or `key "label" { ... }` in a body, with the line it starts on.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub key: String,
    pub line: Option<usize>,
    pub item: Item,
}

/// What an [`Entry`] holds.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// An attribute, or any JSON member.
    Value(Node),
    /// An HCL block.
    Block(Block),
}

/// A block: its labels and body. In JSON form, the labels are the keys of nested objects.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub labels: Vec<String>,
    pub body: Vec<Entry>,
    pub line: Option<usize>,
}

/// A value with the line it starts on.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub line: Option<usize>,
    pub value: Value,
}

/// A literal value. Expressions are not evaluated: configs hold literals only.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Node>),
    Map(Vec<Field>),
}

/// One member of an object value.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub key: String,
    pub line: Option<usize>,
    pub node: Node,
}

/// The longest string value quoted back in an error message.
const QUOTE_LIMIT: usize = 64;

impl Value {
    /// A short description for "expected X, got Y" messages: scalars are shown, collections are
    /// named.
    pub(crate) fn describe(&self) -> String {
        match self {
            Value::Null => "null".to_owned(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Str(s) => {
                let shown: String = s.chars().take(QUOTE_LIMIT).collect();
                let mut quoted = serde_json::Value::String(shown).to_string();
                if s.chars().count() > QUOTE_LIMIT {
                    quoted.push('…');
                }
                quoted
            }
            Value::List(_) => "a list".to_owned(),
            Value::Map(_) => "an object".to_owned(),
        }
    }

    /// The value as JSON, as Vault renders non-string storage options.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Value::from(*f),
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::List(items) => items.iter().map(|n| n.value.to_json()).collect(),
            Value::Map(fields) => serde_json::Value::Object(
                fields
                    .iter()
                    .map(|f| (f.key.clone(), f.node.value.to_json()))
                    .collect(),
            ),
        }
    }
}

impl Block {
    /// The block as a JSON object: attributes become members, nested blocks become arrays of
    /// objects (labels nest as object keys).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let body = body_to_json(&self.body);
        self.labels.iter().rev().fold(body, |inner, label| {
            let mut map = serde_json::Map::new();
            map.insert(label.clone(), inner);
            serde_json::Value::Object(map)
        })
    }
}

/// A body as a JSON object (see [`Block::to_json`]).
fn body_to_json(body: &[Entry]) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for entry in body {
        match &entry.item {
            Item::Value(node) => {
                map.insert(entry.key.clone(), node.value.to_json());
            }
            Item::Block(block) => {
                let slot = map
                    .entry(entry.key.clone())
                    .or_insert_with(|| serde_json::Value::Array(Vec::new()));
                if let serde_json::Value::Array(items) = slot {
                    items.push(block.to_json());
                }
            }
        }
    }
    serde_json::Value::Object(map)
}

/// Reads `entry` as one or more blocks with exactly one label, whichever form it was written in:
/// an HCL block `key "label" { ... }`, or a value `{"label": {...}}`, `{"label": [{...}, ...]}`
/// or a list of those (Vault's JSON forms). `what` names the label in messages ("storage type").
pub(crate) fn blocks_of(entry: &Entry, file: &str, what: &str) -> Result<Vec<Block>, ConfigError> {
    match &entry.item {
        Item::Block(block) => {
            if block.labels.len() != 1 {
                return Err(ConfigError::invalid(
                    file,
                    block.line,
                    &entry.key,
                    format!(
                        "expected exactly one label (the {what}), e.g. {} \"name\" {{ ... }}",
                        entry.key
                    ),
                ));
            }
            Ok(vec![block.clone()])
        }
        Item::Value(node) => {
            let mut out = Vec::new();
            labelled_blocks(node, &entry.key, file, what, &mut out)?;
            Ok(out)
        }
    }
}

fn labelled_blocks(
    node: &Node,
    key: &str,
    file: &str,
    what: &str,
    out: &mut Vec<Block>,
) -> Result<(), ConfigError> {
    match &node.value {
        Value::Map(fields) => {
            for field in fields {
                let path = format!("{key}.{}", field.key);
                match &field.node.value {
                    Value::Map(_) => out.push(map_block(&field.key, field.line, &field.node)),
                    Value::List(items) => {
                        for item in items {
                            if !matches!(item.value, Value::Map(_)) {
                                return Err(ConfigError::invalid(
                                    file,
                                    item.line,
                                    path,
                                    format!("expected an object, got {}", item.value.describe()),
                                ));
                            }
                            out.push(map_block(&field.key, item.line, item));
                        }
                    }
                    other => {
                        return Err(ConfigError::invalid(
                            file,
                            field.line,
                            path,
                            format!("expected an object, got {}", other.describe()),
                        ));
                    }
                }
            }
            Ok(())
        }
        Value::List(items) => {
            for item in items {
                labelled_blocks(item, key, file, what, out)?;
            }
            Ok(())
        }
        other => Err(ConfigError::invalid(
            file,
            node.line,
            key,
            format!(
                "expected a block keyed by the {what}, got {}",
                other.describe()
            ),
        )),
    }
}

/// The members of the object `node` as entries; `None` when it is no object.
pub(crate) fn map_entries(node: &Node) -> Option<Vec<Entry>> {
    match &node.value {
        Value::Map(fields) => Some(
            fields
                .iter()
                .map(|f| Entry {
                    key: f.key.clone(),
                    line: f.line,
                    item: Item::Value(f.node.clone()),
                })
                .collect(),
        ),
        _ => None,
    }
}

/// A block labelled `label` whose body is the members of the object `node`.
fn map_block(label: &str, line: Option<usize>, node: &Node) -> Block {
    let body = map_entries(node).unwrap_or_default();
    Block {
        labels: vec![label.to_owned()],
        body,
        line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(value: Value) -> Node {
        Node { line: None, value }
    }

    fn field(key: &str, value: Value) -> Field {
        Field {
            key: key.into(),
            line: Some(1),
            node: node(value),
        }
    }

    #[test]
    fn json_object_and_list_forms_read_as_blocks() {
        let tcp = Value::Map(vec![field("address", Value::Str("a".into()))]);
        let as_map = Entry {
            key: "listener".into(),
            line: Some(1),
            item: Item::Value(node(Value::Map(vec![field("tcp", tcp.clone())]))),
        };
        let as_list = Entry {
            key: "listener".into(),
            line: Some(1),
            item: Item::Value(node(Value::List(vec![
                node(Value::Map(vec![field("tcp", tcp.clone())])),
                node(Value::Map(vec![field(
                    "tcp",
                    Value::List(vec![node(tcp.clone())]),
                )])),
            ]))),
        };
        let one = blocks_of(&as_map, "f", "listener type").unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].labels, vec!["tcp".to_owned()]);
        assert_eq!(one[0].body[0].key, "address");
        let two = blocks_of(&as_list, "f", "listener type").unwrap();
        assert_eq!(two.len(), 2);
    }

    #[test]
    fn scalar_is_not_a_block() {
        let entry = Entry {
            key: "storage".into(),
            line: Some(4),
            item: Item::Value(Node {
                line: Some(4),
                value: Value::Str("file".into()),
            }),
        };
        let err = blocks_of(&entry, "c.hcl", "storage type").unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.hcl:4: storage: expected a block keyed by the storage type, got \"file\""
        );
    }

    #[test]
    fn long_strings_are_cut_in_messages() {
        let long = "x".repeat(100);
        let shown = Value::Str(long).describe();
        assert!(shown.len() < 80, "{shown}");
        assert!(shown.ends_with('…'));
    }
}
