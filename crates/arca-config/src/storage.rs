//! The `storage` stanza (also spelled `backend`, its older name): the storage type and its
//! options, kept as strings as Vault keeps them.

use std::collections::BTreeMap;
use std::fmt;

use crate::decode::check_duplicates;
use crate::error::ConfigError;
use crate::tree::{Block, Item, Value};

/// Which storage backend to use and its options.
///
/// `storage "file" { path = "/x" }` gives `kind: "file"`, `options: {"path": "/x"}`. As in Vault,
/// every option is a string: numbers and booleans are written as their text (`5`, `true`), and
/// lists, objects and nested blocks (raft's `retry_join`) as JSON.
///
/// `Debug` shows option values only for keys known to hold no secret (`path`, `node_id`, ...);
/// the rest print as `<redacted>`, since options may carry tokens or passwords.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StorageConfig {
    /// The storage type: the block's label, e.g. `file`, `raft`, `inmem`.
    pub kind: String,
    /// The block's attributes, as strings.
    pub options: BTreeMap<String, String>,
}

/// Option keys whose values `Debug` may show.
const SHOWN_OPTIONS: &[&str] = &[
    "address",
    "cluster_addr",
    "disable_clustering",
    "ha_enabled",
    "max_entry_size",
    "max_parallel",
    "node_id",
    "path",
    "performance_multiplier",
    "redirect_addr",
    "scheme",
    "snapshot_threshold",
    "trailing_logs",
];

/// Prints in place of a value that may be secret.
struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The options map with values outside [`SHOWN_OPTIONS`] redacted.
struct RedactedOptions<'a>(&'a BTreeMap<String, String>);

impl fmt::Debug for RedactedOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(key, value)| {
                let shown: &dyn fmt::Debug = if SHOWN_OPTIONS.contains(&key.as_str()) {
                    value
                } else {
                    &Redacted
                };
                (key, shown)
            }))
            .finish()
    }
}

impl fmt::Debug for StorageConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageConfig")
            .field("kind", &self.kind)
            .field("options", &RedactedOptions(&self.options))
            .finish()
    }
}

impl StorageConfig {
    /// The option `key`, if set.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(String::as_str)
    }
}

/// Reads `block` (written under `keyword`, `storage` or `backend`) into a [`StorageConfig`].
pub(crate) fn from_block(
    keyword: &str,
    block: &Block,
    file: &str,
) -> Result<StorageConfig, ConfigError> {
    let kind = block.labels.first().cloned().unwrap_or_default();
    let prefix = format!("{keyword}.{kind}");
    if kind.trim().is_empty() {
        return Err(ConfigError::invalid(
            file,
            block.line,
            keyword,
            "the storage type must not be empty",
        ));
    }
    check_duplicates(&block.body, file, &prefix, &[])?;
    let mut options = BTreeMap::new();
    let mut nested: BTreeMap<String, (Option<usize>, Vec<serde_json::Value>)> = BTreeMap::new();
    for entry in &block.body {
        match &entry.item {
            Item::Value(node) => {
                let text = match &node.value {
                    Value::Null => continue,
                    Value::Str(s) => s.clone(),
                    other => other.to_json().to_string(),
                };
                options.insert(entry.key.clone(), text);
            }
            Item::Block(inner) => nested
                .entry(entry.key.clone())
                .or_insert_with(|| (entry.line, Vec::new()))
                .1
                .push(inner.to_json()),
        }
    }
    for (key, (line, blocks)) in nested {
        if options.contains_key(&key) {
            return Err(ConfigError::invalid(
                file,
                line,
                format!("{prefix}.{key}"),
                "set both as an attribute and as a block",
            ));
        }
        options.insert(key, serde_json::Value::Array(blocks).to_string());
    }
    Ok(StorageConfig { kind, options })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_options_that_may_be_secret() {
        let config = StorageConfig {
            kind: "consul".into(),
            options: BTreeMap::from([
                ("path".to_owned(), "vault/".to_owned()),
                ("token".to_owned(), "s3cr3t-token".to_owned()),
            ]),
        };
        let shown = format!("{config:?}");
        assert!(shown.contains("\"vault/\""), "{shown}");
        assert!(shown.contains("\"token\": <redacted>"), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
