//! Typed reading of config values, as lenient as Vault where Vault is lenient (`"true"` for a
//! boolean, `"90"` for a number of seconds) and strict otherwise: a wrong type on a known key is
//! an error naming the file, the line and the key.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::ConfigError;
use crate::tree::{Entry, Item, Node, Value};
use arca_sdk::duration::parse_duration;

/// The key being read and where it is, for error messages.
pub(crate) struct Site<'a> {
    pub file: &'a str,
    pub key: String,
    pub line: Option<usize>,
}

impl Site<'_> {
    /// A list of strings (a single string is a list of one).
    pub(crate) fn strings(&self, node: &Node) -> Result<Vec<String>, ConfigError> {
        match &node.value {
            Value::Str(s) => Ok(vec![s.clone()]),
            Value::List(items) => items.iter().map(|item| self.string(item)).collect(),
            other => Err(self.error(format!(
                "expected a list of strings, got {}",
                other.describe()
            ))),
        }
    }

    /// An error about this key.
    pub(crate) fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::invalid(self.file, self.line, &self.key, message)
    }

    fn expected(&self, what: &str, got: &Value) -> ConfigError {
        self.error(format!("expected {what}, got {}", got.describe()))
    }

    /// The attribute value of `entry`, or an error if it was written as a block.
    pub(crate) fn value<'e>(&self, entry: &'e Entry) -> Result<&'e Node, ConfigError> {
        match &entry.item {
            Item::Value(node) => Ok(node),
            Item::Block(_) => Err(self.error("expected an attribute (key = value), not a block")),
        }
    }

    /// [`Site::value`], `None` for a null value (a key set to null reads as unset).
    pub(crate) fn set_value<'e>(&self, entry: &'e Entry) -> Result<Option<&'e Node>, ConfigError> {
        let node = self.value(entry)?;
        Ok((!matches!(node.value, Value::Null)).then_some(node))
    }

    /// Records that this site's key is not one its stanza takes: `<file>:<line>: <key>:
    /// unknown key; ignored`.
    pub(crate) fn unknown_key(&self, warnings: &mut Vec<String>) {
        warnings.push(format!(
            "{}: {}: unknown key; ignored",
            crate::error::Location::new(self.file, self.line),
            self.key
        ));
    }

    /// A boolean: `true`/`false`, 1/0, or a string Go's `strconv.ParseBool` accepts
    /// (`"true"`, `"false"`, `"1"`, `"0"`, `"t"`, `"F"`, `"TRUE"`, ...), as Vault's
    /// `parseutil.ParseBool`.
    pub(crate) fn bool(&self, node: &Node) -> Result<bool, ConfigError> {
        match &node.value {
            Value::Bool(b) => Ok(*b),
            Value::Int(1) => Ok(true),
            Value::Int(0) => Ok(false),
            Value::Str(s) => match s.trim() {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
                "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
                _ => Err(self.expected("a boolean", &node.value)),
            },
            other => Err(self.expected("a boolean", other)),
        }
    }

    /// An integer: a number without fraction, or a string of one.
    pub(crate) fn int(&self, node: &Node) -> Result<i64, ConfigError> {
        match &node.value {
            Value::Int(i) => Ok(*i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => {
                // In range and whole, so the conversion is exact.
                #[allow(clippy::cast_possible_truncation)]
                Ok(*f as i64)
            }
            Value::Str(s) => s
                .trim()
                .parse::<i64>()
                .map_err(|_| self.expected("an integer", &node.value)),
            other => Err(self.expected("an integer", other)),
        }
    }

    /// A string.
    pub(crate) fn string(&self, node: &Node) -> Result<String, ConfigError> {
        match &node.value {
            Value::Str(s) => Ok(s.clone()),
            other => Err(self.expected("a string", other)),
        }
    }

    /// A non-empty string.
    pub(crate) fn non_empty_string(&self, node: &Node) -> Result<String, ConfigError> {
        let s = self.string(node)?;
        if s.trim().is_empty() {
            return Err(self.error("must not be empty"));
        }
        Ok(s)
    }

    /// A file path (a non-empty string).
    pub(crate) fn path(&self, node: &Node) -> Result<PathBuf, ConfigError> {
        self.non_empty_string(node).map(PathBuf::from)
    }

    /// A duration: a whole number of seconds, or a duration string (see
    /// [`crate::parse_duration`]).
    pub(crate) fn duration(&self, node: &Node) -> Result<Duration, ConfigError> {
        match &node.value {
            Value::Int(i) => u64::try_from(*i)
                .map(Duration::from_secs)
                .map_err(|_| self.error("negative durations are not allowed")),
            Value::Float(f) => Duration::try_from_secs_f64(*f)
                .map_err(|_| self.expected("a duration", &node.value)),
            Value::Str(s) => parse_duration(s).map_err(|err| self.error(err.to_string())),
            other => Err(self.expected(
                "a duration (seconds, or a string such as \"30s\" or \"1h30m\")",
                other,
            )),
        }
    }
}

/// Refuses an attribute set twice in one body (Vault is removing support for that), naming the
/// second one's line. Keys in `repeatable` are blocks and may repeat.
pub(crate) fn check_duplicates(
    body: &[Entry],
    file: &str,
    prefix: &str,
    repeatable: &[&str],
) -> Result<(), ConfigError> {
    let mut seen: HashMap<&str, Option<usize>> = HashMap::new();
    for entry in body {
        if matches!(entry.item, Item::Block(_)) || repeatable.contains(&entry.key.as_str()) {
            continue;
        }
        if let Some(first) = seen.insert(&entry.key, entry.line) {
            let key = if prefix.is_empty() {
                entry.key.clone()
            } else {
                format!("{prefix}.{}", entry.key)
            };
            let first =
                first.map_or_else(String::new, |line| format!(" (first set on line {line})"));
            return Err(ConfigError::invalid(
                file,
                entry.line,
                key,
                format!("duplicate attribute{first}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Site<'static> {
        Site {
            file: "c.hcl",
            key: "k".into(),
            line: Some(2),
        }
    }

    fn node(value: Value) -> Node {
        Node {
            line: Some(2),
            value,
        }
    }

    #[test]
    fn bools_are_read_as_vault_does() {
        let s = site();
        for (value, want) in [
            (Value::Bool(true), true),
            (Value::Int(1), true),
            (Value::Int(0), false),
            (Value::Str("true".into()), true),
            (Value::Str("1".into()), true),
            (Value::Str("0".into()), false),
            (Value::Str("False".into()), false),
        ] {
            assert_eq!(s.bool(&node(value.clone())).unwrap(), want, "{value:?}");
        }
        for value in [Value::Int(2), Value::Str("yes".into()), Value::Null] {
            assert!(s.bool(&node(value.clone())).is_err(), "{value:?}");
        }
        assert_eq!(
            s.bool(&node(Value::Str("yes".into())))
                .unwrap_err()
                .to_string(),
            "c.hcl:2: k: expected a boolean, got \"yes\""
        );
    }

    #[test]
    fn ints_accept_numeric_strings_and_whole_floats() {
        let s = site();
        assert_eq!(s.int(&node(Value::Str("-1".into()))).unwrap(), -1);
        assert_eq!(s.int(&node(Value::Float(2048.0))).unwrap(), 2048);
        assert!(s.int(&node(Value::Float(1.5))).is_err());
        assert_eq!(
            s.int(&node(Value::Str("abc".into())))
                .unwrap_err()
                .to_string(),
            "c.hcl:2: k: expected an integer, got \"abc\""
        );
    }

    #[test]
    fn durations_accept_seconds_and_strings() {
        let s = site();
        assert_eq!(
            s.duration(&node(Value::Int(90))).unwrap(),
            Duration::from_secs(90)
        );
        assert_eq!(
            s.duration(&node(Value::Str("1h".into()))).unwrap(),
            Duration::from_secs(3600)
        );
        assert!(s.duration(&node(Value::Int(-1))).is_err());
        assert_eq!(
            s.duration(&node(Value::Str("soon".into())))
                .unwrap_err()
                .to_string(),
            "c.hcl:2: k: time: invalid duration \"soon\""
        );
    }
}
