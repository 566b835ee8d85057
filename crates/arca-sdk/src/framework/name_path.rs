//! A matcher for the commonest path shape, a literal then a generic name
//! ([`generic_name_regex`]), optionally followed by `/` and a parameter
//! ([`optional_param_regex`]): `encrypt/<name>`, `verify/<name>(/<hash>)?`. It answers as the
//! path's regex would, without running it (a regex with captures costs more than the rest of
//! routing), for ASCII paths; for any other path it does not decide and the regex runs.

use super::{generic_name_regex, optional_param_regex};
use crate::JsonMap;
use serde_json::Value;

/// A pattern of the shape `<literal>(?P<name>…)` or `<literal>(?P<name>…)(/(?P<param>.+))?`.
pub(crate) struct NamePath {
    literal: String,
    name: String,
    param: Option<String>,
}

/// The name a `(?P<…>` group starting `text` captures into.
fn group_name(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("(?P<")?;
    rest.split_once('>').map(|(name, _)| name)
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// An ASCII generic name: word characters, `.`, `@` and `-`, starting and ending with a word
/// character (`\w(([\w.@-]+)?\w)?`). A non-ASCII name may still match the regex.
pub fn is_generic_name(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            is_word(first)
                && is_word(last)
                && b.iter()
                    .all(|&c| is_word(c) || matches!(c, b'.' | b'@' | b'-'))
        }
        _ => false,
    }
}

impl NamePath {
    /// The matcher of `pattern` when it has one of the two shapes (with a plain literal).
    pub(crate) fn parse(pattern: &str) -> Option<NamePath> {
        let start = pattern.find("(?P<")?;
        let literal = &pattern[..start];
        if !literal
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'/' | b'-' | b'_'))
        {
            return None;
        }
        let group = &pattern[start..];
        let name = group_name(group)?;
        let tail = group.strip_prefix(generic_name_regex(name).as_str())?;
        let param = if tail.is_empty() {
            None
        } else {
            let param = group_name(tail.strip_prefix("(/")?)?;
            if tail != optional_param_regex(param) {
                return None;
            }
            Some(param.to_string())
        };
        Some(NamePath {
            literal: literal.to_string(),
            name: name.to_string(),
            param,
        })
    }

    /// `Some(captures)` when `path` matches, `Some(None)` when it does not, `None` when this
    /// matcher does not decide (a path with non-ASCII characters).
    pub(crate) fn matches(&self, path: &str) -> Option<Option<JsonMap>> {
        let Some(rest) = path.strip_prefix(self.literal.as_str()) else {
            return Some(None);
        };
        if !rest.is_ascii() {
            return None;
        }
        let (name, param) = match rest.split_once('/') {
            Some((name, param)) => (name, Some(param)),
            None => (rest, None),
        };
        if !is_generic_name(name) {
            return Some(None);
        }
        let mut out = JsonMap::new();
        out.insert(self.name.clone(), Value::String(name.to_string()));
        match (param, &self.param) {
            (None, _) => {}
            (Some(value), Some(key)) if !value.is_empty() && !value.contains('\n') => {
                out.insert(key.clone(), Value::String(value.to_string()));
            }
            _ => return Some(None),
        }
        Some(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::super::PathDef;
    use super::*;

    #[test]
    fn only_the_two_shapes_are_taken() {
        let g = generic_name_regex("name");
        let o = optional_param_regex("alg");
        assert!(NamePath::parse(&format!("encrypt/{g}")).is_some());
        assert!(NamePath::parse(&format!("verify/{g}{o}")).is_some());
        assert!(NamePath::parse(&format!("keys/{g}/config")).is_none());
        assert!(NamePath::parse(&format!("keys/?{g}")).is_none());
        assert!(NamePath::parse("keys/?").is_none());
        assert!(NamePath::parse(&format!("hash{o}")).is_none());
    }

    /// Every path gets the regex's answer.
    #[test]
    fn answers_as_the_regex() {
        let g = generic_name_regex("name");
        let o = optional_param_regex("alg");
        let paths = [
            "encrypt/k",
            "encrypt/k1",
            "encrypt/a.b@c-d_e",
            "encrypt/.a",
            "encrypt/a.",
            "encrypt/-",
            "encrypt/",
            "encrypt",
            "encrypt/a/b",
            "encrypt/a/",
            "encrypt/a/\n",
            "encrypt/a/b\nc",
            "encrypt/a/b/c",
            "encrypt/a b",
            "encrypt/é",
            "encrypt/aé",
            "encrypt/a/é",
            "decrypt/k",
            "xencrypt/k",
        ];
        for pattern in [format!("encrypt/{g}"), format!("encrypt/{g}{o}")] {
            let fast = NamePath::parse(&pattern).expect("shape");
            let regex = PathDef::new(pattern.clone());
            for path in paths {
                let want = regex.matches_by_regex(path);
                match fast.matches(path) {
                    Some(got) => assert_eq!(got, want, "{pattern} on {path:?}"),
                    None => assert!(!path.is_ascii(), "{path:?} left to the regex"),
                }
                assert_eq!(regex.matches(path), want, "{pattern} on {path:?}");
            }
        }
    }
}
