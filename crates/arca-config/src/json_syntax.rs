//! Reading Vault's JSON config form into the config tree, with the line of every member.
//!
//! serde_json checks the syntax first (its errors carry line and column). A small scanner then
//! walks the now-valid text to keep what serde_json's values drop: each member's line, and
//! repeated keys, which the config rules refuse instead of silently keeping the last.

use crate::error::ConfigError;
use crate::lines::LineIndex;
use crate::tree::{Entry, Field, Item, Node, Value};

/// Parses JSON config `text` (named `file` in errors) into top-level entries.
pub(crate) fn parse(text: &str, file: &str) -> Result<Vec<Entry>, ConfigError> {
    if let Err(err) = serde_json::from_str::<serde_json::Value>(text) {
        let full = err.to_string();
        let message = full
            .rsplit_once(" at line ")
            .map_or(full.as_str(), |(m, _)| m)
            .to_owned();
        return Err(ConfigError::Syntax {
            file: file.to_owned(),
            line: err.line().max(1),
            column: err.column().max(1),
            message,
        });
    }
    let mut scanner = Scanner {
        text,
        pos: 0,
        lines: LineIndex::new(text),
        file,
    };
    scanner.skip_space();
    let root = scanner.value()?;
    match root.value {
        Value::Map(fields) => Ok(fields
            .into_iter()
            .map(|f| Entry {
                key: f.key,
                line: f.line,
                item: Item::Value(f.node),
            })
            .collect()),
        _ => Err(ConfigError::Syntax {
            file: file.to_owned(),
            line: 1,
            column: 1,
            message: "a JSON config must be an object".to_owned(),
        }),
    }
}

/// Walks JSON text that serde_json has already accepted.
struct Scanner<'a> {
    text: &'a str,
    pos: usize,
    lines: LineIndex,
    file: &'a str,
}

impl Scanner<'_> {
    fn line(&self) -> Option<usize> {
        Some(self.lines.line(self.pos))
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// An error for text that should not occur after serde_json accepted it.
    fn unexpected(&self) -> ConfigError {
        let (line, column) = self.lines.line_column(self.text, self.pos);
        ConfigError::Syntax {
            file: self.file.to_owned(),
            line,
            column,
            message: "unexpected character".to_owned(),
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), ConfigError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            self.skip_space();
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn value(&mut self) -> Result<Node, ConfigError> {
        let line = self.line();
        let value = match self.peek() {
            Some(b'{') => self.object()?,
            Some(b'[') => self.array()?,
            Some(b'"') => Value::Str(self.string()?),
            Some(b't') => self.word("true", Value::Bool(true))?,
            Some(b'f') => self.word("false", Value::Bool(false))?,
            Some(b'n') => self.word("null", Value::Null)?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            _ => return Err(self.unexpected()),
        };
        self.skip_space();
        Ok(Node { line, value })
    }

    fn word(&mut self, word: &str, value: Value) -> Result<Value, ConfigError> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.unexpected())
        }
    }

    fn number(&mut self) -> Result<Value, ConfigError> {
        let start = self.pos;
        while matches!(
            self.peek(),
            Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            self.pos += 1;
        }
        let raw = &self.text[start..self.pos];
        if let Ok(i) = raw.parse::<i64>() {
            return Ok(Value::Int(i));
        }
        raw.parse::<f64>()
            .map(Value::Float)
            .map_err(|_| self.unexpected())
    }

    fn string(&mut self) -> Result<String, ConfigError> {
        let start = self.pos;
        self.pos += 1; // opening quote
        loop {
            match self.peek() {
                Some(b'"') => break,
                Some(b'\\') => self.pos += 2,
                Some(_) => self.pos += 1,
                None => return Err(self.unexpected()),
            }
        }
        self.pos += 1; // closing quote
        let raw = self
            .text
            .get(start..self.pos)
            .ok_or_else(|| self.unexpected())?;
        serde_json::from_str::<String>(raw).map_err(|_| self.unexpected())
    }

    fn array(&mut self) -> Result<Value, ConfigError> {
        self.expect(b'[')?;
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::List(items));
        }
        loop {
            items.push(self.value()?);
            match self.peek() {
                Some(b',') => self.expect(b',')?,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::List(items));
                }
                _ => return Err(self.unexpected()),
            }
        }
    }

    fn object(&mut self) -> Result<Value, ConfigError> {
        self.expect(b'{')?;
        let mut fields = Vec::new();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Map(fields));
        }
        loop {
            let line = self.line();
            if self.peek() != Some(b'"') {
                return Err(self.unexpected());
            }
            let key = self.string()?;
            self.skip_space();
            self.expect(b':')?;
            let node = self.value()?;
            fields.push(Field { key, line, node });
            match self.peek() {
                Some(b',') => self.expect(b',')?,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Map(fields));
                }
                _ => return Err(self.unexpected()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_keep_their_lines() {
        let text = "{\n  \"ui\": true,\n  \"listener\": {\n    \"tcp\": {\"address\": \"a\\u0041\"}\n  },\n  \"n\": -12, \"f\": 1.5e3\n}";
        let entries = parse(text, "c.json").unwrap();
        let keys: Vec<_> = entries.iter().map(|e| (e.key.as_str(), e.line)).collect();
        assert_eq!(
            keys,
            vec![
                ("ui", Some(2)),
                ("listener", Some(3)),
                ("n", Some(6)),
                ("f", Some(6))
            ]
        );
        let Item::Value(Node {
            value: Value::Map(fields),
            ..
        }) = &entries[1].item
        else {
            panic!("listener is not an object");
        };
        assert_eq!(fields[0].key, "tcp");
        assert_eq!(fields[0].line, Some(4));
        let Value::Map(inner) = &fields[0].node.value else {
            panic!("tcp is not an object");
        };
        assert!(matches!(&inner[0].node.value, Value::Str(s) if s == "aA"));
        assert!(matches!(
            entries[2].item,
            Item::Value(Node {
                value: Value::Int(-12),
                ..
            })
        ));
        assert!(
            matches!(entries[3].item, Item::Value(Node { value: Value::Float(f), .. }) if f == 1500.0)
        );
    }

    #[test]
    fn repeated_keys_are_kept_for_the_rules_to_see() {
        let entries = parse("{\"ui\": true,\n\"ui\": false}", "c.json").unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].line, Some(2));
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err = parse("{\n  \"ui\": true,\n  \"x\": [1 2]\n}", "c.json").unwrap_err();
        let msg = err.to_string();
        assert_eq!(msg, "c.json:3:11: expected `,` or `]`");
        assert!(!msg.contains(" at line "), "{msg}");
    }

    #[test]
    fn top_level_must_be_an_object() {
        let err = parse("[1]", "c.json").unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.json:1:1: a JSON config must be an object"
        );
    }
}
