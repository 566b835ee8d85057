//! A small, format-neutral tree of what a policy document says, built from either HCL or
//! JSON. It keeps repeated keys (so the policy decoder can decide which repeats are legal)
//! and the source line of each entry where the format gives one.

use std::fmt;

/// One value in the document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number (integers stay integers).
    Number(serde_json::Number),
    /// A string literal.
    String(String),
    /// `[ ... ]`.
    List(Vec<Located>),
    /// `{ ... }`, an HCL block body, or a block label level; keys may repeat.
    Map(Vec<Entry>),
}

/// A node with the line it starts on (1-based) when known.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Located {
    /// The value.
    pub node: Node,
    /// The 1-based line, if the input format gives positions.
    pub line: Option<usize>,
}

/// How an entry was written: as an attribute (`key = value` / a JSON key) or as an HCL
/// block (`key "label" { ... }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// `key = value`, or any JSON object member.
    Attribute,
    /// `key "label" { ... }` or `key { ... }`.
    Block,
}

/// One key of a map.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    /// The key text.
    pub key: String,
    /// Attribute or block.
    pub kind: EntryKind,
    /// The value, with its line.
    pub value: Located,
}

impl Node {
    /// A short name of the value's kind, for error messages.
    pub(crate) fn kind_name(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "bool",
            Node::Number(_) => "number",
            Node::String(_) => "string",
            Node::List(_) => "list",
            Node::Map(_) => "object",
        }
    }

    /// The JSON value this node stands for (repeated map keys: the last one wins).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Number(n) => Value::Number(n.clone()),
            Node::String(s) => Value::String(s.clone()),
            Node::List(items) => Value::Array(items.iter().map(|i| i.node.to_json()).collect()),
            Node::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.node.to_json()))
                    .collect(),
            ),
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::String(s) => f.write_str(s),
            Node::Number(n) => write!(f, "{n}"),
            Node::Bool(b) => write!(f, "{b}"),
            other => f.write_str(other.kind_name()),
        }
    }
}
