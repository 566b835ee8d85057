//! A single pass over a JSON body that bounds its shape before it is parsed (the defence
//! against CVE-2025-6203: small bodies whose parsing costs a lot of CPU and memory).
//!
//! The scan builds nothing: it tracks one frame per open container and reports the first
//! limit hit. It does not validate the syntax (the parser that runs after it does); on
//! malformed input it stops early and lets the parser report the error.

use std::borrow::Cow;
use std::collections::HashSet;

/// The bounds on a JSON body's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JsonLimits {
    /// Deepest nesting of objects and arrays.
    pub(crate) max_depth: usize,
    /// Longest string or number, in raw bytes; 0 = unlimited.
    pub(crate) max_string_length: usize,
    /// Most entries in one object; 0 = unlimited.
    pub(crate) max_object_entries: usize,
    /// Most elements in one array; 0 = unlimited.
    pub(crate) max_array_elements: usize,
}

/// The limit a body broke. The texts are Vault's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum JsonLimitError {
    /// Too deeply nested.
    #[error("JSON input exceeds allowed nesting depth")]
    Depth,
    /// A string too long.
    #[error("JSON string value exceeds allowed length")]
    StringLength,
    /// A number too long.
    #[error("JSON number value exceeds allowed length")]
    NumberLength,
    /// An object with too many entries.
    #[error("JSON object exceeds allowed entry count")]
    ObjectEntries,
    /// An array with too many elements.
    #[error("JSON array exceeds allowed element count")]
    ArrayElements,
    /// The same key twice in one object (parsers disagree on which one wins).
    #[error("duplicate key in JSON object")]
    DuplicateKey,
}

struct Frame<'a> {
    object: bool,
    count: usize,
    expect_key: bool,
    keys: Keys<'a>,
}

/// Objects with at most this many keys are checked for duplicates by comparing with each key
/// seen (no hashing); larger ones move their keys to a hash set.
const FEW_KEYS: usize = 16;

/// The keys of one object seen so far, borrowed from the body unless unescaped.
#[derive(Default)]
struct Keys<'a> {
    few: Vec<Cow<'a, [u8]>>,
    many: HashSet<Cow<'a, [u8]>>,
}

impl<'a> Keys<'a> {
    /// Adds a key; false when the object already had it.
    fn insert(&mut self, key: Cow<'a, [u8]>) -> bool {
        if self.many.is_empty() {
            if self.few.contains(&key) {
                return false;
            }
            if self.few.len() < FEW_KEYS {
                self.few.push(key);
                return true;
            }
            self.many.extend(self.few.drain(..));
        }
        self.many.insert(key)
    }
}

fn over(limit: usize, n: usize) -> bool {
    limit != 0 && n > limit
}

/// Scans `bytes` and fails on the first limit it breaks.
pub(crate) fn check(bytes: &[u8], limits: &JsonLimits) -> Result<(), JsonLimitError> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' | b':' => i += 1,
            b',' => {
                if let Some(top) = stack.last_mut() {
                    top.expect_key = top.object;
                }
                i += 1;
            }
            open @ (b'{' | b'[') => {
                count_value(stack.last_mut(), limits)?;
                if stack.len() + 1 > limits.max_depth {
                    return Err(JsonLimitError::Depth);
                }
                stack.push(Frame {
                    object: open == b'{',
                    count: 0,
                    expect_key: open == b'{',
                    keys: Keys::default(),
                });
                i += 1;
            }
            b'}' | b']' => {
                if stack.pop().is_none() {
                    return Ok(());
                }
                i += 1;
            }
            b'"' => {
                let Some(end) = string_end(bytes, i + 1) else {
                    // Unterminated: the parser reports it.
                    return Ok(());
                };
                let raw = &bytes[i + 1..end];
                if over(limits.max_string_length, raw.len()) {
                    return Err(JsonLimitError::StringLength);
                }
                match stack.last_mut() {
                    Some(top) if top.object && top.expect_key => {
                        top.expect_key = false;
                        top.count += 1;
                        if over(limits.max_object_entries, top.count) {
                            return Err(JsonLimitError::ObjectEntries);
                        }
                        if !top.keys.insert(key_bytes(&bytes[i..=end])) {
                            return Err(JsonLimitError::DuplicateKey);
                        }
                    }
                    top => count_value(top, limits)?,
                }
                i = end + 1;
            }
            _ => {
                // A number or a literal: everything up to the next delimiter.
                let start = i;
                while i < bytes.len()
                    && !matches!(
                        bytes[i],
                        b' ' | b'\t'
                            | b'\n'
                            | b'\r'
                            | b','
                            | b':'
                            | b'{'
                            | b'}'
                            | b'['
                            | b']'
                            | b'"'
                    )
                {
                    i += 1;
                }
                if over(limits.max_string_length, i - start) {
                    return Err(JsonLimitError::NumberLength);
                }
                count_value(stack.last_mut(), limits)?;
            }
        }
    }
    Ok(())
}

/// Counts one value in the enclosing array (object entries are counted on their keys).
fn count_value(top: Option<&mut Frame>, limits: &JsonLimits) -> Result<(), JsonLimitError> {
    if let Some(top) = top
        && !top.object
    {
        top.count += 1;
        if over(limits.max_array_elements, top.count) {
            return Err(JsonLimitError::ArrayElements);
        }
    }
    Ok(())
}

/// The index of the closing quote of a string whose content starts at `from`.
fn string_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < bytes.len() {
        i += memchr::memchr2(b'"', b'\\', &bytes[i..])?;
        if bytes[i] == b'"' {
            return Some(i);
        }
        i += 2;
    }
    None
}

/// A key as compared for duplicates: unescaped when it holds escapes, so `"a"` and `"\u0061"`
/// are the same key. `quoted` includes both quotes.
fn key_bytes(quoted: &[u8]) -> Cow<'_, [u8]> {
    let content = &quoted[1..quoted.len() - 1];
    if !content.contains(&b'\\') {
        return Cow::Borrowed(content);
    }
    match serde_json::from_slice::<String>(quoted) {
        Ok(s) => Cow::Owned(s.into_bytes()),
        // Not a valid string: the parser will refuse the body anyway.
        Err(_) => Cow::Borrowed(content),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: JsonLimits = JsonLimits {
        max_depth: 3,
        max_string_length: 5,
        max_object_entries: 2,
        max_array_elements: 3,
    };

    fn scan(s: &str) -> Result<(), JsonLimitError> {
        check(s.as_bytes(), &SMALL)
    }

    #[test]
    fn within_limits() {
        assert_eq!(scan(""), Ok(()));
        assert_eq!(scan(r#"{"a":{"b":[1,2,3]},"c":"12345"}"#), Ok(()));
        assert_eq!(scan(r#"[[["x"]]]"#), Ok(()));
        assert_eq!(
            scan(r#"{"a":"\"\"\"\"\""}"#),
            Err(JsonLimitError::StringLength)
        );
        assert_eq!(scan(r#"{"a":[{"x":1,"y":2},{"x":1,"y":2}]}"#), Ok(()));
        assert_eq!(scan(r#"{"a":1,"b":2}"#), Ok(()));
    }

    #[test]
    fn each_limit_is_enforced() {
        assert_eq!(scan(r#"[[[[1]]]]"#), Err(JsonLimitError::Depth));
        assert_eq!(scan(r#"{"a":{"b":{"c":{}}}}"#), Err(JsonLimitError::Depth));
        assert_eq!(scan(r#"{"a":"123456"}"#), Err(JsonLimitError::StringLength));
        assert_eq!(scan(r#"{"123456":1}"#), Err(JsonLimitError::StringLength));
        assert_eq!(scan(r#"{"a":1234567}"#), Err(JsonLimitError::NumberLength));
        assert_eq!(
            scan(r#"{"a":1,"b":2,"c":3}"#),
            Err(JsonLimitError::ObjectEntries)
        );
        assert_eq!(
            scan(r#"{"a":[1,2,3,4]}"#),
            Err(JsonLimitError::ArrayElements)
        );
        assert_eq!(
            scan(r#"[{},[],"x",null]"#),
            Err(JsonLimitError::ArrayElements)
        );
        assert_eq!(scan(r#"{"a":1,"a":2}"#), Err(JsonLimitError::DuplicateKey));
        let roomy = JsonLimits {
            max_string_length: 100,
            ..SMALL
        };
        assert_eq!(
            check(br#"{"a":1,"\u0061":2}"#, &roomy),
            Err(JsonLimitError::DuplicateKey)
        );
    }

    #[test]
    fn duplicates_are_found_in_large_objects_too() {
        let roomy = JsonLimits {
            max_depth: 3,
            max_string_length: 100,
            max_object_entries: 0,
            max_array_elements: 0,
        };
        let keys: Vec<String> = (0..40).map(|i| format!(r#""k{i}":{i}"#)).collect();
        let body = format!("{{{}}}", keys.join(","));
        assert_eq!(check(body.as_bytes(), &roomy), Ok(()));
        for dup in ["k0", "k16", "k39"] {
            let body = format!(r#"{{{},"{dup}":1}}"#, keys.join(","));
            assert_eq!(
                check(body.as_bytes(), &roomy),
                Err(JsonLimitError::DuplicateKey),
                "{dup}"
            );
        }
        assert_eq!(
            check(br#"{"a\"b":1,"a\u0022b":2}"#, &roomy),
            Err(JsonLimitError::DuplicateKey)
        );
    }

    #[test]
    fn string_values_are_not_keys() {
        // "a" as a value, then "a" as a key: no duplicate.
        assert_eq!(scan(r#"{"k":"a","a":1}"#), Ok(()));
        // Nested objects have their own key sets.
        assert_eq!(scan(r#"{"a":{"a":1}}"#), Ok(()));
    }

    #[test]
    fn malformed_input_does_not_panic() {
        for s in [r#"{"a"#, "]]]", r#"{"a":"\"#, "\\", "{{{", r#"["\u"#] {
            let _ = scan(s);
        }
    }
}
