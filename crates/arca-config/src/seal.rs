//! `seal "<type>" { ... }` stanzas: the server config's top-level ones (how the server's
//! barrier key is protected: `shamir`, or `transit` auto-unseal), and those given as text in
//! a namespace's `seal` parameter (HCL, or its JSON form) to give the namespace a seal of its
//! own.

use std::collections::BTreeMap;

use crate::error::ConfigError;
use crate::tree::{Entry, Item, Value, blocks_of};

/// One `seal` stanza: its type (`shamir`, `transit`) and its settings as strings.
///
/// `Debug` shows the setting names only: a `transit` stanza may carry the token.
#[derive(Clone, PartialEq, Eq)]
pub struct SealStanza {
    /// The stanza's label: the seal type.
    pub kind: String,
    /// Its attributes; numbers and booleans as they read.
    pub config: BTreeMap<String, String>,
}

impl std::fmt::Debug for SealStanza {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealStanza")
            .field("kind", &self.kind)
            .field("config", &self.config.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SealStanza {
    /// Whether the stanza says `disabled = "true"`: the seal a migration moves away from.
    #[must_use]
    pub fn disabled(&self) -> bool {
        self.config
            .get("disabled")
            .is_some_and(|v| matches!(v.trim(), "true" | "1" | "t" | "T" | "TRUE" | "True"))
    }
}

/// The stanzas of one top-level `seal` entry of `file`.
pub(crate) fn stanzas_of(entry: &Entry, file: &str) -> Result<Vec<SealStanza>, ConfigError> {
    let mut out = Vec::new();
    for block in blocks_of(entry, file, "seal type")? {
        let mut config = BTreeMap::new();
        for attr in &block.body {
            let Item::Value(node) = &attr.item else {
                continue;
            };
            let text = match &node.value {
                Value::Str(s) => s.clone(),
                Value::Int(i) => i.to_string(),
                Value::Float(f) => f.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            config.insert(attr.key.clone(), text);
        }
        out.push(SealStanza {
            kind: block.labels.first().cloned().unwrap_or_default(),
            config,
        });
    }
    Ok(out)
}

/// Reads every `seal` stanza of `text` (HCL, or JSON when it starts with `{`).
pub fn parse_seal_stanzas(text: &str) -> Result<Vec<SealStanza>, ConfigError> {
    const FILE: &str = "seal";
    let entries = if text.trim_start().starts_with('{') {
        crate::json_syntax::parse(text, FILE)?
    } else {
        crate::hcl_syntax::parse(text, FILE)?
    };
    let mut out = Vec::new();
    for entry in entries.iter().filter(|e| e.key == "seal") {
        out.extend(stanzas_of(entry, FILE)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shamir_stanzas_in_both_forms() {
        let hcl = parse_seal_stanzas("seal \"shamir\" {\n shares = 3\n threshold = 2\n}").unwrap();
        assert_eq!(hcl.len(), 1);
        assert_eq!(hcl[0].kind, "shamir");
        assert_eq!(hcl[0].config["shares"], "3");
        assert_eq!(hcl[0].config["threshold"], "2");
        let json =
            parse_seal_stanzas(r#"{"seal": {"shamir": {"shares": 5, "threshold": "3"}}}"#).unwrap();
        assert_eq!(json[0].config["shares"], "5");
        assert_eq!(json[0].config["threshold"], "3");
        assert!(parse_seal_stanzas("garbage").is_err());
        assert!(parse_seal_stanzas("").unwrap().is_empty());
    }
}
