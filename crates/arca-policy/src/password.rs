//! Password policies (`sys/policies/password/<name>`): a `length` and `rule "charset"` blocks
//! in HCL or JSON, checked and used to generate passwords as OpenBao 2.7.2's `helper/random`
//! does. Randomness comes from the caller (the server's CSPRNG), so this crate stays pure.

use std::collections::BTreeSet;

use crate::document::{Entry, Node};
use crate::error::PolicyError;
use crate::hcl_input::parse_hcl;
use crate::json_input::parse_json;

/// The shortest password a stored policy may ask for (OpenBao's `minPasswordLength`).
pub const MIN_PASSWORD_LENGTH: usize = 4;
/// The longest password a stored policy may ask for (OpenBao's `maxPasswordLength`).
pub const MAX_PASSWORD_LENGTH: usize = 100;
/// The most characters the combined charset may have: one random byte picks one.
const MAX_CHARSET_LEN: usize = 256;
/// How many candidates [`PasswordPolicy::generate`] draws before giving up, standing in for
/// OpenBao's one-second timeout (a satisfiable policy passes within a few draws).
const MAX_ATTEMPTS: usize = 100_000;

/// Why a password policy text was refused or a password could not be made; the texts are
/// OpenBao's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordPolicyError {
    /// The text is neither HCL nor JSON.
    #[error("unable to decode: {0}")]
    Decode(String),
    /// A top-level field has the wrong type.
    #[error("failed to decode configuration: {0}")]
    Configuration(String),
    /// A `rule` block is malformed or of an unknown type.
    #[error("unable to parse rules: {0}")]
    Rules(String),
    /// The policy parses but cannot make a password (`validateConfig`): a multierror text.
    #[error("{}", arca_sdk::error::multierror(.0))]
    Invalid(Vec<String>),
    /// The combined charset has more characters than one random byte can pick from.
    #[error("charset is too long: limited to 255 characters")]
    CharsetTooLong,
    /// No candidate passed every rule.
    #[error("timed out generating string")]
    TimedOut,
}

/// `rule "charset"`: at least `min_chars` characters of the password come from `charset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharsetRule {
    /// The characters this rule counts, in the order written.
    pub charset: Vec<char>,
    /// How many of them the password must hold (0: no requirement).
    pub min_chars: usize,
}

impl CharsetRule {
    /// Whether `candidate` holds at least `min_chars` characters of the charset.
    pub fn pass(&self, candidate: &[char]) -> bool {
        if self.min_chars == 0 {
            return true;
        }
        candidate
            .iter()
            .filter(|c| self.charset.contains(c))
            .take(self.min_chars)
            .count()
            >= self.min_chars
    }
}

/// A parsed and checked password policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// How many characters a password has.
    pub length: usize,
    /// The rules every password passes.
    pub rules: Vec<CharsetRule>,
    /// The union of the rules' charsets, sorted and without repeats: what passwords draw from.
    charset: Vec<char>,
}

/// Go's `unicode.IsPrint`, near enough: no control characters, and the ASCII space as the
/// only space.
fn printable(c: char) -> bool {
    c == ' ' || !(c.is_control() || c.is_whitespace())
}

/// The number a top-level or rule field holds, as mapstructure decodes it into an `int`.
fn int_field(node: &Node, name: &str) -> Result<i64, String> {
    match node {
        Node::Number(n) => n.as_i64().ok_or_else(|| {
            format!("'{name}' expected type 'int', got unconvertible type 'float64', value: '{n}'")
        }),
        other => Err(format!(
            "'{name}' expected type 'int', got unconvertible type '{}', value: '{other}'",
            go_kind(other)
        )),
    }
}

/// The Go type name HCL's decoder gives a value of this kind.
fn go_kind(node: &Node) -> &'static str {
    match node {
        Node::Null => "<nil>",
        Node::Bool(_) => "bool",
        Node::Number(_) => "int",
        Node::String(_) => "string",
        Node::List(_) => "[]interface {}",
        Node::Map(_) => "map[string]interface {}",
    }
}

/// The maps a `rule` value holds: one block, or a list of them (JSON, repeated blocks).
fn maps_of(node: &Node) -> Vec<&[Entry]> {
    match node {
        Node::Map(entries) => vec![entries.as_slice()],
        Node::List(items) => items
            .iter()
            .filter_map(|i| match &i.node {
                Node::Map(entries) => Some(entries.as_slice()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn parse_charset_rule(body: &[Entry]) -> Result<CharsetRule, String> {
    let mut rule = CharsetRule {
        charset: Vec::new(),
        min_chars: 0,
    };
    let fail = |e: String| format!("failed to parse charset restriction: {e}");
    for entry in body {
        match entry.key.as_str() {
            "charset" => match &entry.value.node {
                Node::String(s) => rule.charset = s.chars().collect(),
                other => {
                    return Err(fail(format!(
                        "'charset' expected type 'random.runes', got unconvertible type '{}'",
                        go_kind(other)
                    )));
                }
            },
            "min-chars" => {
                let n = int_field(&entry.value.node, "min-chars").map_err(fail)?;
                // A negative minimum asks for nothing, as OpenBao's `Pass` reads it.
                rule.min_chars = usize::try_from(n).unwrap_or(0);
            }
            _ => {}
        }
    }
    Ok(rule)
}

/// Reads the rule blocks of the document: `rule "charset" { ... }`, repeated.
fn parse_rules(top: &[Entry]) -> Result<Vec<CharsetRule>, PasswordPolicyError> {
    let mut rules = Vec::new();
    for entry in top.iter().filter(|e| e.key == "rule") {
        for rule_map in maps_of(&entry.value.node) {
            let Some(first) = rule_map.first() else {
                return Err(PasswordPolicyError::Rules(
                    "unable to get rule info: rule is empty".into(),
                ));
            };
            let Some(body) = maps_of(&first.value.node).into_iter().next() else {
                return Err(PasswordPolicyError::Rules(
                    "unable to get rule info: rule info cannot be empty".into(),
                ));
            };
            let kind = first.key.as_str();
            if kind != "charset" {
                return Err(PasswordPolicyError::Rules(format!(
                    "unable to parse rule {kind}: unrecognized rule type {kind}"
                )));
            }
            let rule = parse_charset_rule(body).map_err(|e| {
                PasswordPolicyError::Rules(format!("unable to parse rule {kind}: {e}"))
            })?;
            rules.push(rule);
        }
    }
    Ok(rules)
}

impl PasswordPolicy {
    /// Parses policy text (HCL, or JSON when it starts with `{`) and checks that a password
    /// can be made from it: a positive length no shorter than the rules' minimums, and a
    /// non-empty, printable charset.
    pub fn parse(text: &str) -> Result<PasswordPolicy, PasswordPolicyError> {
        let document = if text.trim_start().starts_with('{') {
            parse_json(text)
        } else {
            parse_hcl(text)
        }
        .map_err(|e| match e {
            PolicyError::Parse {
                line: Some(line),
                message,
            } => PasswordPolicyError::Decode(format!("At {line}: {message}")),
            PolicyError::Parse { message, .. } => PasswordPolicyError::Decode(message),
            other => PasswordPolicyError::Decode(other.to_string()),
        })?;
        let Node::Map(top) = document else {
            return Err(PasswordPolicyError::Decode(
                "does not contain a root object".into(),
            ));
        };
        let mut length: i64 = 0;
        if let Some(entry) = top.iter().rev().find(|e| e.key == "length") {
            length = int_field(&entry.value.node, "length").map_err(|e| {
                PasswordPolicyError::Configuration(format!("1 error(s) decoding:\n\n* {e}"))
            })?;
        }
        let rules = parse_rules(&top)?;
        let charset: Vec<char> = rules
            .iter()
            .flat_map(|r| r.charset.iter().copied())
            .collect::<BTreeSet<char>>()
            .into_iter()
            .collect();

        let mut problems = Vec::new();
        let min_len: usize = rules.iter().map(|r| r.min_chars).sum();
        if length <= 0 {
            problems.push("length must be > 0".to_string());
        } else if (length as u64) < min_len as u64 {
            problems.push(format!(
                "specified rules require at least {min_len} characters but {length} is specified"
            ));
        }
        if charset.is_empty() {
            problems.push("no charset specified".to_string());
        } else if !charset.iter().all(|c| printable(*c)) {
            problems.push("non-printable character in charset".to_string());
        }
        if !problems.is_empty() {
            return Err(PasswordPolicyError::Invalid(problems));
        }
        Ok(PasswordPolicy {
            length: usize::try_from(length).unwrap_or(usize::MAX),
            rules,
            charset,
        })
    }

    /// The characters passwords are drawn from: every rule's charset, sorted, no repeats.
    pub fn charset(&self) -> &[char] {
        &self.charset
    }

    /// Whether a password of this policy's length can pass every rule: OpenBao builds one
    /// test password (each rule's minimum, then the rules in turn up to the length, shuffled)
    /// and checks it. `fill` supplies random bytes.
    pub fn satisfiable(&self, fill: &mut dyn FnMut(&mut [u8])) -> bool {
        let mut pick = |set: &[char]| -> Option<char> {
            if set.is_empty() {
                return None;
            }
            Some(set[uniform_index(set.len(), fill)])
        };
        let mut test = Vec::with_capacity(self.length);
        for rule in &self.rules {
            for _ in 0..rule.min_chars {
                match pick(&rule.charset) {
                    Some(c) => test.push(c),
                    None => return false,
                }
            }
        }
        let fillers: Vec<&CharsetRule> = self
            .rules
            .iter()
            .filter(|r| !r.charset.is_empty())
            .collect();
        while test.len() < self.length && !fillers.is_empty() {
            for rule in &fillers {
                if test.len() >= self.length {
                    break;
                }
                if let Some(c) = pick(&rule.charset) {
                    test.push(c);
                }
            }
        }
        // Fisher-Yates over the whole test password.
        for i in (1..test.len()).rev() {
            let j = uniform_index(i + 1, fill);
            test.swap(i, j);
        }
        self.rules.iter().all(|r| r.pass(&test))
    }

    /// A password: `length` characters drawn uniformly from the charset (one random byte
    /// each, bytes past the largest multiple of the charset's size thrown away), drawn again
    /// until every rule passes.
    pub fn generate(
        &self,
        fill: &mut dyn FnMut(&mut [u8]),
    ) -> Result<zeroize::Zeroizing<String>, PasswordPolicyError> {
        let n = self.charset.len();
        if n > MAX_CHARSET_LEN {
            return Err(PasswordPolicyError::CharsetTooLong);
        }
        if n == 0 || self.length == 0 {
            return Err(PasswordPolicyError::Invalid(vec![
                "no charset specified".into(),
            ]));
        }
        // The largest byte value that keeps every character equally likely.
        let max_allowed = (MAX_CHARSET_LEN / n) * n - 1;
        let mut candidate: zeroize::Zeroizing<Vec<char>> =
            zeroize::Zeroizing::new(Vec::with_capacity(self.length));
        let mut bytes = zeroize::Zeroizing::new(vec![0u8; self.length + self.length / 2 + 1]);
        for _ in 0..MAX_ATTEMPTS {
            candidate.clear();
            while candidate.len() < self.length {
                fill(&mut bytes);
                for &b in bytes.iter() {
                    if usize::from(b) > max_allowed {
                        continue;
                    }
                    candidate.push(self.charset[usize::from(b) % n]);
                    if candidate.len() == self.length {
                        break;
                    }
                }
            }
            if self.rules.iter().all(|r| r.pass(&candidate)) {
                return Ok(zeroize::Zeroizing::new(candidate.iter().collect()));
            }
        }
        Err(PasswordPolicyError::TimedOut)
    }
}

/// A uniform index below `n` (`n` ≥ 1) from `fill`'s bytes, by rejection sampling.
fn uniform_index(n: usize, fill: &mut dyn FnMut(&mut [u8])) -> usize {
    let n64 = n as u64;
    let zone = u64::MAX - (u64::MAX % n64);
    loop {
        let mut b = [0u8; 8];
        fill(&mut b);
        let v = u64::from_le_bytes(b);
        if v < zone {
            return (v % n64) as usize;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic byte source for tests (xorshift), not for passwords.
    fn bytes(seed: u64) -> impl FnMut(&mut [u8]) {
        let mut s = seed.max(1);
        move |buf: &mut [u8]| {
            for b in buf.iter_mut() {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                *b = (s >> 24) as u8;
            }
        }
    }

    const TWO_RULES: &str = "length = 20\nrule \"charset\" {\n  charset = \"abcdefghijklmnopqrstuvwxyz\"\n  min-chars = 1\n}\nrule \"charset\" {\n  charset = \"0123456789\"\n  min-chars = 1\n}\n";

    #[test]
    fn parses_and_generates() {
        let p = PasswordPolicy::parse(TWO_RULES).unwrap();
        assert_eq!(p.length, 20);
        assert_eq!(p.rules.len(), 2);
        assert_eq!(p.charset().len(), 36);
        let mut fill = bytes(7);
        assert!(p.satisfiable(&mut fill));
        for _ in 0..200 {
            let pw = p.generate(&mut fill).unwrap();
            assert_eq!(pw.chars().count(), 20);
            assert!(pw.chars().any(|c| c.is_ascii_digit()));
            assert!(pw.chars().any(|c| c.is_ascii_lowercase()));
            assert!(pw.chars().all(|c| c.is_ascii_alphanumeric()));
        }
    }

    #[test]
    fn json_form() {
        let p = PasswordPolicy::parse(
            r#"{"length": 8, "rule": [{"charset": {"charset": "ab", "min-chars": 2}}, {"charset": [{"charset": "XY"}]}]}"#,
        )
        .unwrap();
        assert_eq!(p.length, 8);
        assert_eq!(p.charset(), &['X', 'Y', 'a', 'b']);
    }

    #[test]
    fn refusals_have_openbaos_texts() {
        let text = |t: &str| PasswordPolicy::parse(t).unwrap_err().to_string();
        assert_eq!(
            text("length = 5\nrule \"charset\" {\n charset = \"abc\"\n min-chars = 6\n}"),
            "1 error occurred:\n\t* specified rules require at least 6 characters but 5 is specified\n\n"
        );
        assert_eq!(
            text("length = 5"),
            "1 error occurred:\n\t* no charset specified\n\n"
        );
        assert_eq!(
            text("length = 0"),
            "2 errors occurred:\n\t* length must be > 0\n\t* no charset specified\n\n"
        );
        assert_eq!(
            text("length = 5\nrule \"foo\" {\n charset = \"abc\"\n}"),
            "unable to parse rules: unable to parse rule foo: unrecognized rule type foo"
        );
        assert_eq!(
            text("length = 5\nrule \"charset\" {\n charset = \"a\u{1}\"\n}"),
            "1 error occurred:\n\t* non-printable character in charset\n\n"
        );
        assert!(text("length = \"x\"").starts_with("failed to decode configuration: "));
        assert!(text("length = ").starts_with("unable to decode: "));
    }

    #[test]
    fn uniform_over_the_charset() {
        // 63 characters: bytes 252..=255 are thrown away, so no character is favoured.
        let set: String = ('a'..='z')
            .chain('A'..='Z')
            .chain('0'..='9')
            .chain(['-'])
            .collect();
        let p = PasswordPolicy::parse(&format!(
            "length = 100\nrule \"charset\" {{\n charset = \"{set}\"\n}}"
        ))
        .unwrap();
        let mut counts = std::collections::HashMap::new();
        let mut fill = bytes(99);
        for _ in 0..630 {
            for c in p.generate(&mut fill).unwrap().chars() {
                *counts.entry(c).or_insert(0u32) += 1;
            }
        }
        assert_eq!(counts.len(), 63);
        // 1000 expected per character; a biased pick of the first four would give ~1250.
        assert!(
            counts.values().all(|&n| (850..1150).contains(&n)),
            "{counts:?}"
        );
    }

    #[test]
    fn too_long_a_charset_fails_at_generation() {
        let set: String = (0x100u32..0x201).filter_map(char::from_u32).collect();
        let p = PasswordPolicy::parse(&format!(
            "length = 10\nrule \"charset\" {{\n charset = \"{set}\"\n}}"
        ))
        .unwrap();
        assert_eq!(
            p.generate(&mut bytes(3)).unwrap_err(),
            PasswordPolicyError::CharsetTooLong
        );
    }
}
