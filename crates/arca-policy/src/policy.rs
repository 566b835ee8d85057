//! Parsed ACL policies: [`Policy`], its [`PathRules`], and [`parse_policy`], which reads
//! OpenBao's policy syntax from HCL or JSON.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::capabilities::Capabilities;
use crate::document::{Entry, EntryKind, Located, Node};
use crate::error::PolicyError;
use crate::hcl_input::parse_hcl;
use crate::json_input::parse_json;
use crate::name::{is_reserved_name, normalize_name};
use crate::templating::check_templating;
use arca_sdk::duration::{DurationError, parse_duration_second};

/// A named ACL policy: the source text and the path rules read from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// The normalised (trimmed, lowercased) name.
    pub name: String,
    /// The policy text exactly as written.
    pub raw: String,
    /// The rules, in source order (the same path may appear more than once; the ACL merges).
    pub paths: Vec<PathRules>,
    /// Whether any path holds an identity template (`{{identity.entity.id}}`); such paths
    /// must be rendered for a token before they take effect.
    pub templated: bool,
}

/// The rules of one `path "..." { ... }` stanza.
#[derive(Debug, Clone, PartialEq)]
pub struct PathRules {
    /// The path without its leading `/` and without a trailing `*` glob.
    pub path: String,
    /// The path ended in `*`: it matches every path starting with [`PathRules::path`].
    pub is_prefix: bool,
    /// The path has `+` segments (each matches exactly one path segment).
    pub has_segment_wildcards: bool,
    /// The path holds an identity template and is not usable until rendered.
    pub templated: bool,
    /// The granted capabilities; exactly [`Capabilities::DENY`] for a deny rule.
    pub capabilities: Capabilities,
    /// Smallest response-wrapping TTL a client may ask for (wrapping is then mandatory).
    pub min_wrapping_ttl: Option<Duration>,
    /// Largest response-wrapping TTL a client may ask for (wrapping is then mandatory).
    pub max_wrapping_ttl: Option<Duration>,
    /// Parameters a request may carry (lowercased keys); an empty value list allows any
    /// value, `"*"` allows every other parameter.
    pub allowed_parameters: BTreeMap<String, Vec<Value>>,
    /// Parameters a request may not carry (lowercased keys); an empty value list denies
    /// every value, `"*"` denies every parameter.
    pub denied_parameters: BTreeMap<String, Vec<Value>>,
    /// Parameters a request must carry.
    pub required_parameters: Vec<String>,
    /// MFA methods required on this path (enforced by the caller).
    pub mfa_methods: Vec<String>,
    /// Largest `limit` a paginated list/scan may use (`pagination_limit`).
    pub pagination_limit: Option<u64>,
    /// After this instant the rule no longer applies (`expiration`).
    pub expiration: Option<DateTime<Utc>>,
    /// Template used to filter list/scan results (`list_scan_response_keys_filter_path`).
    pub list_scan_response_keys_filter_path: Option<String>,
    /// 1-based line of the stanza in the source, when known.
    pub line: Option<usize>,
}

impl PathRules {
    /// An empty rule for `path` (no capabilities, no constraints).
    pub fn new(path: impl Into<String>) -> PathRules {
        PathRules {
            path: path.into(),
            is_prefix: false,
            has_segment_wildcards: false,
            templated: false,
            capabilities: Capabilities::NONE,
            min_wrapping_ttl: None,
            max_wrapping_ttl: None,
            allowed_parameters: BTreeMap::new(),
            denied_parameters: BTreeMap::new(),
            required_parameters: Vec::new(),
            mfa_methods: Vec::new(),
            pagination_limit: None,
            expiration: None,
            list_scan_response_keys_filter_path: None,
            line: None,
        }
    }

    /// Whether the rule has an expiration that is not after `now`.
    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expiration.is_some_and(|exp| now > exp)
    }

    /// The path as it was written (with the trailing `*` for a prefix rule).
    pub fn pattern(&self) -> String {
        if self.is_prefix {
            format!("{}*", self.path)
        } else {
            self.path.clone()
        }
    }
}

/// Keys allowed inside a `path` stanza (OpenBao's list).
const PATH_KEYS: &[&str] = &[
    "comment",
    "policy",
    "capabilities",
    "allowed_parameters",
    "denied_parameters",
    "required_parameters",
    "min_wrapping_ttl",
    "max_wrapping_ttl",
    "mfa_methods",
    "pagination_limit",
    "expiration",
    "list_scan_response_keys_filter_path",
    "control_group",
];

/// Parses an ACL policy named `name` from HCL, or from JSON when the first non-blank
/// character is `{`. The name is normalised; `root` in any spelling is refused.
///
/// Empty text gives a policy with no rules (the HTTP layer rejects an empty body itself).
/// Paths whose `expiration` has passed are dropped, as OpenBao does.
pub fn parse_policy(name: &str, text: &str) -> Result<Policy, PolicyError> {
    let name = normalize_name(name);
    if name.is_empty() {
        return Err(PolicyError::EmptyName);
    }
    if is_reserved_name(&name) {
        return Err(PolicyError::ReservedName);
    }
    let mut policy = parse_rules(text)?;
    policy.name = name;
    Ok(policy)
}

/// Parses policy text without a name check (the built-in policies use this too).
pub(crate) fn parse_rules(text: &str) -> Result<Policy, PolicyError> {
    let document = if text.trim_start().starts_with('{') {
        parse_json(text)?
    } else {
        parse_hcl(text)?
    };
    let Node::Map(top) = document else {
        return Err(PolicyError::parse(None, "does not contain a root object"));
    };
    let now = Utc::now();
    let mut paths = Vec::new();
    let mut seen_name = false;
    for entry in &top {
        match entry.key.as_str() {
            "name" => {
                if seen_name {
                    return Err(duplicate(None, entry));
                }
                seen_name = true;
            }
            "path" => {
                for (path, body, line) in path_stanzas(entry)? {
                    let rule = decode_path(path, body, line)?;
                    if !rule.is_expired_at(now) {
                        paths.push(rule);
                    }
                }
            }
            other => {
                return Err(PolicyError::parse(
                    entry.value.line,
                    format!("invalid key \"{other}\""),
                ));
            }
        }
    }
    let templated = paths.iter().any(|p| p.templated);
    Ok(Policy {
        name: String::new(),
        raw: text.to_string(),
        paths,
        templated,
    })
}

fn duplicate(path: Option<&str>, entry: &Entry) -> PolicyError {
    let prefix = path.map(|p| format!("path \"{p}\": ")).unwrap_or_default();
    PolicyError::parse(
        entry.value.line,
        format!(
            "{prefix}duplicate attribute \"{}\" (each attribute may be given once)",
            entry.key
        ),
    )
}

/// The entries of a map, or of a list of maps (HCL v1's JSON form allows both).
fn map_entries(node: &Node) -> Option<Vec<&Entry>> {
    match node {
        Node::Map(entries) => Some(entries.iter().collect()),
        Node::List(items) => {
            let mut out = Vec::new();
            for item in items {
                match &item.node {
                    Node::Map(entries) => out.extend(entries.iter()),
                    _ => return None,
                }
            }
            Some(out)
        }
        _ => None,
    }
}

/// One `path "..." { body }` stanza: the path as written, its body and its line.
type Stanza<'a> = (&'a str, &'a Node, Option<usize>);

/// The stanzas under one top-level `path` entry.
fn path_stanzas(entry: &Entry) -> Result<Vec<Stanza<'_>>, PolicyError> {
    let bad_shape = || {
        PolicyError::parse(
            entry.value.line,
            "\"path\" must be a block with the path as its label, e.g. path \"secret/*\" { ... }",
        )
    };
    let labels = map_entries(&entry.value.node).ok_or_else(bad_shape)?;
    let mut out = Vec::with_capacity(labels.len());
    for label in labels {
        // An unlabelled `path { ... }` block puts the body's attributes here.
        if entry.kind == EntryKind::Block && label.kind == EntryKind::Attribute {
            return Err(bad_shape());
        }
        out.push((label.key.as_str(), &label.value.node, label.value.line));
    }
    Ok(out)
}

/// Builds one [`PathRules`] from a stanza.
fn decode_path(written: &str, body: &Node, line: Option<usize>) -> Result<PathRules, PolicyError> {
    let err_at = |line: Option<usize>, msg: String| {
        PolicyError::parse(line, format!("path \"{written}\": {msg}"))
    };
    let templated = check_templating(written).map_err(|e| err_at(line, e))?;
    let entries = map_entries(body).ok_or_else(|| {
        err_at(
            line,
            format!("expected an object, found {}", body.kind_name()),
        )
    })?;

    // Key check first (as OpenBao), then duplicates.
    let mut fields: BTreeMap<&str, &Located> = BTreeMap::new();
    for entry in &entries {
        if !PATH_KEYS.contains(&entry.key.as_str()) {
            return Err(err_at(
                entry.value.line.or(line),
                format!("invalid key \"{}\"", entry.key),
            ));
        }
        if fields.insert(entry.key.as_str(), &entry.value).is_some() {
            return Err(duplicate(Some(written), entry));
        }
    }

    let mut rule = PathRules::new(written);
    rule.line = line;
    rule.templated = templated;

    // Path shape.
    let mut path = written.strip_prefix('/').unwrap_or(written).to_string();
    if path.contains("+*") {
        return Err(PolicyError::parse(
            line,
            format!("path \"{path}\": invalid use of wildcards ('+*' is forbidden)"),
        ));
    }
    rule.has_segment_wildcards = path == "+" || path.contains("/+") || path.starts_with("+/");
    if let Some(stripped) = path.strip_suffix('*') {
        path = stripped.to_string();
        rule.is_prefix = true;
    }
    rule.path = path;

    // Capabilities, including the deprecated `policy = "..."` form.
    let mut names: Vec<(String, Option<usize>)> = Vec::new();
    if let Some(old) = fields.get("policy") {
        let text = expect_string(old).map_err(|m| err_at(old.line, format!("policy: {m}")))?;
        let mapped: &[&str] = match text.as_str() {
            "deny" => &["deny"],
            "read" => &["read", "list"],
            "write" => &["create", "read", "update", "delete", "list"],
            "sudo" => &["create", "read", "update", "delete", "list", "sudo"],
            other => return Err(err_at(old.line, format!("invalid policy \"{other}\""))),
        };
        names.extend(mapped.iter().map(|n| (n.to_string(), old.line)));
    }
    if let Some(caps) = fields.get("capabilities") {
        let Node::List(items) = &caps.node else {
            return Err(err_at(
                caps.line,
                format!(
                    "capabilities must be a list of strings, found {}",
                    caps.node.kind_name()
                ),
            ));
        };
        names.extend(
            items
                .iter()
                .map(|i| (i.node.to_string(), i.line.or(caps.line))),
        );
    }
    let mut capabilities = Capabilities::NONE;
    for (name, at) in &names {
        match Capabilities::from_policy_name(name) {
            Some(cap) => capabilities |= cap,
            None => return Err(err_at(*at, format!("invalid capability \"{name}\""))),
        }
    }
    if capabilities.intersects(Capabilities::DENY) {
        // A deny rule carries nothing else.
        rule.capabilities = Capabilities::DENY;
        return Ok(rule);
    }
    rule.capabilities = capabilities;

    if let Some(v) = fields.get("allowed_parameters") {
        rule.allowed_parameters = decode_parameters(v)
            .map_err(|(at, m)| err_at(at.or(v.line), format!("allowed_parameters: {m}")))?;
    }
    if let Some(v) = fields.get("denied_parameters") {
        rule.denied_parameters = decode_parameters(v)
            .map_err(|(at, m)| err_at(at.or(v.line), format!("denied_parameters: {m}")))?;
    }
    if let Some(v) = fields.get("required_parameters") {
        rule.required_parameters =
            expect_strings(v).map_err(|m| err_at(v.line, format!("required_parameters: {m}")))?;
    }
    if let Some(v) = fields.get("mfa_methods") {
        rule.mfa_methods =
            expect_strings(v).map_err(|m| err_at(v.line, format!("mfa_methods: {m}")))?;
    }
    for (key, slot) in [
        ("min_wrapping_ttl", &mut rule.min_wrapping_ttl),
        ("max_wrapping_ttl", &mut rule.max_wrapping_ttl),
    ] {
        if let Some(v) = fields.get(key) {
            let ttl = decode_duration(v)
                .map_err(|m| err_at(v.line, format!("error parsing {key}: {m}")))?;
            *slot = (!ttl.is_zero()).then_some(ttl);
        }
    }
    if let (Some(min), Some(max)) = (rule.min_wrapping_ttl, rule.max_wrapping_ttl)
        && max < min
    {
        return Err(err_at(
            line,
            "max_wrapping_ttl cannot be less than min_wrapping_ttl".to_string(),
        ));
    }
    if let Some(v) = fields.get("pagination_limit") {
        let limit = decode_integer(v).map_err(|m| err_at(v.line, m))?;
        rule.pagination_limit = u64::try_from(limit).ok().filter(|l| *l > 0);
    }
    if let Some(v) = fields.get("expiration") {
        rule.expiration = Some(
            decode_time(v).map_err(|m| err_at(v.line, format!("invalid expiration time: {m}")))?,
        );
    }
    if let Some(v) = fields.get("list_scan_response_keys_filter_path") {
        let template = expect_string(v)
            .map_err(|m| err_at(v.line, format!("list_scan_response_keys_filter_path: {m}")))?;
        if !template.is_empty() {
            if !rule.capabilities.intersects(Capabilities::LIST) {
                return Err(err_at(
                    v.line,
                    "list_scan_response_keys_filter_path needs to be used on a path with the list capability".to_string(),
                ));
            }
            if !mentions_key(&template) {
                return Err(err_at(
                    v.line,
                    "list_scan_response_keys_filter_path resulted in same path for two different keys"
                        .to_string(),
                ));
            }
            rule.list_scan_response_keys_filter_path = Some(template);
        }
    }
    if let Some(v) = fields.get("comment") {
        expect_string(v).map_err(|m| err_at(v.line, format!("comment: {m}")))?;
    }
    // `control_group` is accepted and ignored: control groups are a Vault Enterprise
    // feature that OpenBao parses but does not enforce.
    Ok(rule)
}

/// Whether a filter template uses the listed key (`{{ .key }}`), so different keys give
/// different paths.
fn mentions_key(template: &str) -> bool {
    template.split("{{").skip(1).any(|chunk| {
        chunk
            .split("}}")
            .next()
            .is_some_and(|expr| expr.contains(".key"))
    })
}

fn expect_string(v: &Located) -> Result<String, String> {
    match &v.node {
        Node::String(s) => Ok(s.clone()),
        other => Err(format!("expected a string, found {}", other.kind_name())),
    }
}

fn expect_strings(v: &Located) -> Result<Vec<String>, String> {
    match &v.node {
        Node::List(items) => items
            .iter()
            .map(|item| match &item.node {
                Node::String(s) => Ok(s.clone()),
                Node::Number(n) => Ok(n.to_string()),
                Node::Bool(b) => Ok(b.to_string()),
                other => Err(format!("expected a string, found {}", other.kind_name())),
            })
            .collect(),
        other => Err(format!(
            "expected a list of strings, found {}",
            other.kind_name()
        )),
    }
}

type ParamError = (Option<usize>, String);

fn decode_parameters(v: &Located) -> Result<BTreeMap<String, Vec<Value>>, ParamError> {
    let entries = map_entries(&v.node).ok_or_else(|| {
        (
            v.line,
            format!("expected an object, found {}", v.node.kind_name()),
        )
    })?;
    let mut out = BTreeMap::new();
    for entry in entries {
        let key = entry.key.to_lowercase();
        let values = match &entry.value.node {
            Node::List(items) => items.iter().map(|i| i.node.to_json()).collect(),
            other => {
                return Err((
                    entry.value.line,
                    format!(
                        "\"{}\": expected a list of values, found {}",
                        entry.key,
                        other.kind_name()
                    ),
                ));
            }
        };
        if out.insert(key, values).is_some() {
            return Err((
                entry.value.line,
                format!("duplicate parameter \"{}\"", entry.key),
            ));
        }
    }
    Ok(out)
}

/// A wrapping TTL as OpenBao reads one (`parseutil.ParseDurationSecond`): a string as the SDK
/// parses it, a number as seconds. A negative TTL is accepted as no limit, as OpenBao does.
fn decode_duration(v: &Located) -> Result<Duration, String> {
    let nanos = match &v.node {
        Node::Null => 0,
        Node::String(s) => parse_duration_second(s).map_err(|e| e.to_string())?,
        Node::Number(n) => {
            // Go converts a float to whole seconds first; past i64 it cannot be a duration.
            let secs = n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.abs() < 9.2e18)
                        .map(|f| f.trunc() as i64)
                })
                .ok_or(DurationError::Overflow.to_string())?;
            secs.checked_mul(1_000_000_000)
                .ok_or(DurationError::Overflow.to_string())?
        }
        other => {
            return Err(format!(
                "could not parse duration from {}",
                other.kind_name()
            ));
        }
    };
    Ok(u64::try_from(nanos).map_or(Duration::ZERO, Duration::from_nanos))
}

fn decode_integer(v: &Located) -> Result<i64, String> {
    match &v.node {
        Node::Number(n) => n
            .as_i64()
            .ok_or_else(|| format!("strconv.ParseInt: parsing \"{n}\": invalid syntax")),
        Node::String(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("strconv.ParseInt: parsing \"{s}\": invalid syntax")),
        other => Err(format!("expected an integer, found {}", other.kind_name())),
    }
}

fn decode_time(v: &Located) -> Result<DateTime<Utc>, String> {
    const BAD: &str = "could not parse string as date and time";
    match &v.node {
        Node::String(s) => {
            if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
                return Ok(t.with_timezone(&Utc));
            }
            let secs: i64 = s.trim().parse().map_err(|_| BAD.to_string())?;
            DateTime::from_timestamp(secs, 0).ok_or_else(|| BAD.to_string())
        }
        Node::Number(n) => n
            .as_i64()
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
            .ok_or_else(|| BAD.to_string()),
        _ => Err(BAD.to_string()),
    }
}
