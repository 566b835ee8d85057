//! One path of a framework backend: its pattern, fields, handlers and existence check.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, OnceLock};

use futures::FutureExt;
use futures::future::BoxFuture;
use regex::Regex;

use super::name_path::NamePath;
use super::openapi::{PathDoc, expand_pattern};
use super::{Field, FieldData};
use crate::{JsonMap, LogicalError, Operation, Request, Response};

/// The function serving one operation of a path.
pub type OpHandler = Arc<
    dyn Fn(Request, FieldData) -> BoxFuture<'static, Result<Option<Response>, LogicalError>>
        + Send
        + Sync,
>;

/// The function that says whether the entry a path names exists.
pub type ExistenceFn =
    Arc<dyn Fn(Request, FieldData) -> BoxFuture<'static, Result<bool, LogicalError>> + Send + Sync>;

/// Wraps an async closure as an [`OpHandler`].
pub fn handler<F, Fut>(f: F) -> OpHandler
where
    F: Fn(Request, FieldData) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<Response>, LogicalError>> + Send + 'static,
{
    Arc::new(move |req, data| f(req, data).boxed())
}

/// Wraps an async closure as an [`ExistenceFn`].
pub fn existence<F, Fut>(f: F) -> ExistenceFn
where
    F: Fn(Request, FieldData) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<bool, LogicalError>> + Send + 'static,
{
    Arc::new(move |req, data| f(req, data).boxed())
}

/// A path pattern and what it serves.
pub struct PathDef {
    pub(crate) pattern: String,
    /// Compiled on first use: most paths of a mount are never asked for, or answered by the
    /// prefix and `name_path` alone, and a compiled regex holds its automata (the whole set
    /// of a server's mounts once made up most of its idle memory).
    regex: OnceLock<Regex>,
    /// What every matching path starts with ([`literal_prefix`]): a path without it is
    /// refused before the regex runs, so routing does not try every pattern's regex.
    prefix: String,
    /// The same answers as `regex` without running it, for the commonest shape.
    name_path: Option<NamePath>,
    pub(crate) fields: Arc<BTreeMap<String, Field>>,
    pub(crate) ops: HashMap<Operation, OpHandler>,
    pub(crate) existence: Option<ExistenceFn>,
    /// The existence check decides from the path alone: it gets the request without its body.
    pub(crate) existence_by_path: bool,
    pub(crate) accept_unknown: bool,
    synopsis: String,
    description: String,
}

impl PathDef {
    /// A path for `pattern`, a regex matched against the whole mount-relative path.
    ///
    /// An invalid pattern is a programming error of the backend; it then matches nothing.
    pub fn new(pattern: impl Into<String>) -> PathDef {
        let pattern = pattern.into();
        PathDef {
            prefix: literal_prefix(&pattern),
            name_path: NamePath::parse(&pattern),
            pattern,
            regex: OnceLock::new(),
            fields: Arc::new(BTreeMap::new()),
            ops: HashMap::new(),
            existence: None,
            existence_by_path: false,
            accept_unknown: false,
            synopsis: String::new(),
            description: String::new(),
        }
    }

    /// Declares a field.
    pub fn field(mut self, f: Field) -> PathDef {
        Arc::make_mut(&mut self.fields).insert(f.name.clone(), f);
        self
    }

    /// Serves `op` with `h`.
    pub fn op(mut self, op: Operation, h: OpHandler) -> PathDef {
        self.ops.insert(op, h);
        self
    }

    /// Sets the existence check.
    pub fn existence(mut self, e: ExistenceFn) -> PathDef {
        self.existence = Some(e);
        self.existence_by_path = false;
        self
    }

    /// Sets an existence check that needs only the path's captures (e.g. a key name), not
    /// the body: it gets the request and fields without the body, so a large body (a batch)
    /// is not copied for it.
    pub fn existence_by_path(mut self, e: ExistenceFn) -> PathDef {
        self.existence = Some(e);
        self.existence_by_path = true;
        self
    }

    /// Accepts any parameter without a warning (e.g. KV v1 takes arbitrary keys).
    pub fn accept_unknown(mut self) -> PathDef {
        self.accept_unknown = true;
        self
    }

    /// Sets the help text.
    pub fn help(mut self, synopsis: impl Into<String>, description: impl Into<String>) -> PathDef {
        self.synopsis = synopsis.into();
        self.description = description.into();
        self
    }

    /// The raw pattern.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The path as its OpenAPI document describes it: one [`PathDoc`] per expansion of the
    /// pattern, none when the pattern has no OpenAPI form (a catch-all such as `.*`).
    pub fn docs(&self) -> Vec<PathDoc> {
        let Ok(paths) = expand_pattern(&self.pattern) else {
            return Vec::new();
        };
        let mut operations: Vec<Operation> = self.ops.keys().copied().collect();
        operations.sort();
        paths
            .into_iter()
            .map(|path| PathDoc {
                path,
                synopsis: self.synopsis.clone(),
                operations: operations.clone(),
                fields: self.fields.values().cloned().collect(),
            })
            .collect()
    }

    pub(crate) fn help_text(&self) -> String {
        format!("{}\n\n{}", self.synopsis.trim(), self.description.trim())
    }

    /// The named captures when `path` matches.
    pub(crate) fn matches(&self, path: &str) -> Option<JsonMap> {
        if !path.starts_with(self.prefix.as_str()) {
            return None;
        }
        if let Some(answer) = self.name_path.as_ref().and_then(|n| n.matches(path)) {
            return answer;
        }
        self.matches_by_regex(path)
    }

    /// The pattern's regex, anchored at both ends; compiled the first time it is needed. An
    /// invalid pattern is a programming error of the backend; it then matches nothing.
    fn regex(&self) -> &Regex {
        self.regex.get_or_init(|| {
            Regex::new(&format!("^(?:{})$", go_perl_classes(&self.pattern))).unwrap_or_else(|_| {
                Regex::new("^\u{0}never\u{0}$").unwrap_or_else(|_| unreachable!())
            })
        })
    }

    /// [`PathDef::matches`] by the regex alone.
    pub(crate) fn matches_by_regex(&self, path: &str) -> Option<JsonMap> {
        let regex = self.regex();
        let caps = regex.captures(path)?;
        let mut out = JsonMap::new();
        for name in regex.capture_names().flatten() {
            if let Some(m) = caps.name(name) {
                out.insert(
                    name.to_string(),
                    serde_json::Value::String(m.as_str().to_string()),
                );
            }
        }
        Some(out)
    }
}

/// `pattern` with the Perl classes `\w`, `\d`, `\s` (and their negations) made ASCII-only,
/// as Go's regexp reads them (Rust's are Unicode): a path with `é` is no generic name in
/// OpenBao, and must not be one here.
fn go_perl_classes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    let mut class_depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    out.push(c);
                    break;
                };
                let posix = match next {
                    'w' => Some("word"),
                    'W' => Some("^word"),
                    'd' => Some("digit"),
                    'D' => Some("^digit"),
                    's' => Some("space"),
                    'S' => Some("^space"),
                    _ => None,
                };
                match (posix, class_depth) {
                    (Some(name), 0) => {
                        out.push_str("[[:");
                        out.push_str(name);
                        out.push_str(":]]");
                    }
                    (Some(name), _) => {
                        out.push_str("[:");
                        out.push_str(name);
                        out.push_str(":]");
                    }
                    (None, _) => {
                        out.push(c);
                        out.push(next);
                    }
                }
            }
            '[' => {
                class_depth += 1;
                out.push(c);
            }
            ']' if class_depth > 0 => {
                class_depth -= 1;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// The literal text at the start of every string `pattern` matches (as a whole): its leading
/// plain characters up to the first regex syntax, less the last one when a quantifier that
/// allows zero follows it (`keys/?` gives `keys`); empty when the pattern has an alternation
/// outside any group, which could match without it.
fn literal_prefix(pattern: &str) -> String {
    let (mut depth, mut escaped, mut in_class) = (0usize, false, false);
    for c in pattern.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ']' if in_class => in_class = false,
            _ if in_class => {}
            '[' => in_class = true,
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            '|' if depth == 0 => return String::new(),
            _ => {}
        }
    }
    let mut prefix = String::new();
    for c in pattern.chars() {
        match c {
            '?' | '*' | '{' => {
                prefix.pop();
                break;
            }
            '\\' | '.' | '+' | '(' | ')' | '|' | '[' | ']' | '}' | '^' | '$' => break,
            _ => prefix.push(c),
        }
    }
    prefix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_prefixes() {
        for (pattern, want) in [
            ("keys/?", "keys"),
            ("keys/(?P<name>\\w+)/config", "keys/"),
            ("encrypt/(?P<name>\\w(([\\w.@-]+)?\\w)?)", "encrypt/"),
            ("hash(/(?P<urlalgorithm>.+))?", "hash"),
            ("cache-config", "cache-config"),
            ("a|b", ""),
            ("(?i)keys", ""),
            ("config/(a|b)", "config/"),
            ("ab+", "ab"),
            ("ab{0,1}", "a"),
            ("x[|]y", "x"),
            ("", ""),
        ] {
            assert_eq!(literal_prefix(pattern), want, "{pattern}");
        }
    }

    #[test]
    fn word_classes_are_ascii_as_in_go() {
        assert_eq!(go_perl_classes(r"a\w+\.b"), r"a[[:word:]]+\.b");
        assert_eq!(go_perl_classes(r"[\w.@-]\D"), r"[[:word:].@-][[:^digit:]]");
        let p = PathDef::new(format!(
            "login/{}",
            super::super::generic_name_regex("name")
        ));
        assert!(p.matches("login/bob").is_some());
        assert!(p.matches("login/é").is_none());
        assert!(p.matches("login/bé").is_none());
        assert!(p.matches_by_regex("login/b.o-b").is_some());
    }

    #[test]
    fn the_prefix_never_refuses_a_match() {
        let p = PathDef::new("keys/?");
        assert!(p.matches("keys").is_some());
        assert!(p.matches("keys/").is_some());
        assert!(p.matches("key").is_none());
        let p = PathDef::new("a|bc");
        assert!(p.matches("bc").is_some());
        let p = PathDef::new(format!(
            "verify/{}",
            super::super::generic_name_regex("name")
        ));
        assert_eq!(p.matches("verify/k1").unwrap()["name"], "k1");
        assert!(p.matches("sign/k1").is_none());
    }
}
