//! The `user_lockout` stanza: how many failed logins lock a user out of an auth method, for how
//! long, and when the count of failures starts again.
//!
//! ```hcl
//! user_lockout "all" {
//!   lockout_threshold     = "25"
//!   lockout_duration      = "5m"
//!   lockout_counter_reset = "5m"
//!   disable_lockout       = "false"
//! }
//! user_lockout "userpass" { lockout_threshold = 10 }
//! ```
//!
//! As OpenBao 2.7.2 reads it: the label (or a `type = "..."` in the body, which wins) names the
//! auth method type, case-insensitively: `all`, `userpass`, `approle` or `ldap`. Values are
//! read as OpenBao's decoder reads them: the threshold is the text of the value parsed as an
//! unsigned integer, durations are seconds or Go duration strings and may not be negative,
//! `disable_lockout` is a loose boolean. A second stanza for the same type replaces the first.
//! In JSON the label is an object key: `{"user_lockout": {"all": {...}}}`, or a body names its
//! `type`. Error texts after the key are OpenBao's.

use std::time::Duration;

use arca_sdk::duration::{DurationError, parse_duration_second};

use crate::decode::{Site, check_duplicates};
use crate::error::ConfigError;
use crate::tree::{Entry, Field, Item, Node, Value};

/// The failed-login count that locks a user out when no config sets one (OpenBao's default).
pub const DEFAULT_LOCKOUT_THRESHOLD: u64 = 5;

/// How long a lockout lasts when no config sets it (OpenBao's default: 15 minutes).
pub const DEFAULT_LOCKOUT_DURATION: Duration = Duration::from_secs(15 * 60);

/// How long after the last failed login the count restarts when no config sets it (OpenBao's
/// default: 15 minutes).
pub const DEFAULT_LOCKOUT_COUNTER_RESET: Duration = Duration::from_secs(15 * 60);

/// The labels a `user_lockout` stanza takes: `all`, then the auth method types that lock users
/// out.
pub const USER_LOCKOUT_TYPES: &[&str] = &["all", "userpass", "approle", "ldap"];

/// One `user_lockout "<type>" { ... }` stanza: what the file set, `None` where it set nothing.
///
/// The server resolves a method's settings field by field: its own stanza, then the `all`
/// stanza, then OpenBao's defaults (see [`UserLockout::resolve`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserLockout {
    /// Failed logins that lock the user out (`lockout_threshold`).
    pub lockout_threshold: Option<u64>,
    /// How long the user stays locked out (`lockout_duration`).
    pub lockout_duration: Option<Duration>,
    /// How long after the last failure the count starts again (`lockout_counter_reset`).
    pub lockout_counter_reset: Option<Duration>,
    /// Turn lockout off (`disable_lockout`).
    pub disable_lockout: Option<bool>,
}

impl UserLockout {
    /// This stanza's settings with every unset field taken from `all` (the `all` stanza, if
    /// any), then from OpenBao's defaults: every field of the result is `Some`.
    #[must_use]
    pub fn resolve(&self, all: Option<&UserLockout>) -> UserLockout {
        let all = all.copied().unwrap_or_default();
        UserLockout {
            lockout_threshold: self
                .lockout_threshold
                .or(all.lockout_threshold)
                .or(Some(DEFAULT_LOCKOUT_THRESHOLD)),
            lockout_duration: self
                .lockout_duration
                .or(all.lockout_duration)
                .or(Some(DEFAULT_LOCKOUT_DURATION)),
            lockout_counter_reset: self
                .lockout_counter_reset
                .or(all.lockout_counter_reset)
                .or(Some(DEFAULT_LOCKOUT_COUNTER_RESET)),
            disable_lockout: self.disable_lockout.or(all.disable_lockout).or(Some(false)),
        }
    }
}

/// The body keys a `user_lockout` stanza takes.
const KEYS: &[&str] = &[
    "disable_lockout",
    "lockout_counter_reset",
    "lockout_duration",
    "lockout_threshold",
    "type",
];

/// OpenBao's text when neither a label nor `type` names the auth type (without the trailing
/// space OpenBao prints after it).
const TYPE_MISSING: &str = "auth type for user lockout must be specified, if it applies to all auth methods specify \"all\"";

/// A stanza as written: its labels, body and line.
struct Stanza {
    labels: Vec<String>,
    body: Vec<Entry>,
    line: Option<usize>,
}

/// Reads the top-level `user_lockout` entry (any of its forms) into `(type, settings)` pairs in
/// the order written; ignored body keys add to `warnings`.
pub(crate) fn from_entry(
    entry: &Entry,
    file: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<(String, UserLockout)>, ConfigError> {
    let mut stanzas = Vec::new();
    match &entry.item {
        Item::Block(block) => stanzas.push(Stanza {
            labels: block.labels.clone(),
            body: block.body.clone(),
            line: block.line,
        }),
        Item::Value(node) => json_stanzas(node, file, &mut stanzas)?,
    }
    stanzas
        .into_iter()
        .map(|stanza| from_stanza(&stanza, file, warnings))
        .collect()
}

/// Whether `node` is an object of objects (or lists of objects): labels keying bodies, rather
/// than one body.
fn labelled(node: &Node) -> bool {
    let Value::Map(fields) = &node.value else {
        return false;
    };
    !fields.is_empty()
        && fields.iter().all(|f| match &f.node.value {
            Value::Map(_) => true,
            Value::List(items) => items.iter().all(|i| matches!(i.value, Value::Map(_))),
            _ => false,
        })
}

/// The stanzas of a JSON `user_lockout` value: a list of them, objects keyed by type, or a body
/// naming its `type`.
fn json_stanzas(node: &Node, file: &str, out: &mut Vec<Stanza>) -> Result<(), ConfigError> {
    match &node.value {
        Value::List(items) => items
            .iter()
            .try_for_each(|item| json_stanzas(item, file, out)),
        Value::Map(fields) if labelled(node) => {
            for kind in fields {
                let bodies = match &kind.node.value {
                    Value::List(items) => items.iter().collect(),
                    _ => vec![&kind.node],
                };
                for body in bodies {
                    if let Value::Map(members) = &body.value {
                        out.push(Stanza {
                            labels: vec![kind.key.clone()],
                            body: members.iter().map(member_entry).collect(),
                            line: body.line.or(kind.line),
                        });
                    }
                }
            }
            Ok(())
        }
        Value::Map(members) => {
            out.push(Stanza {
                labels: Vec::new(),
                body: members.iter().map(member_entry).collect(),
                line: node.line,
            });
            Ok(())
        }
        other => Err(ConfigError::invalid(
            file,
            node.line,
            "user_lockout",
            format!(
                "expected a block such as user_lockout \"all\" {{ ... }}, got {}",
                other.describe()
            ),
        )),
    }
}

/// An object member as a body entry.
fn member_entry(field: &Field) -> Entry {
    Entry {
        key: field.key.clone(),
        line: field.line,
        item: Item::Value(field.node.clone()),
    }
}

/// Reads one stanza: settles its type, then its values.
fn from_stanza(
    stanza: &Stanza,
    file: &str,
    warnings: &mut Vec<String>,
) -> Result<(String, UserLockout), ConfigError> {
    let prefix = match stanza.labels.as_slice() {
        [] => "user_lockout".to_owned(),
        labels => format!("user_lockout.{}", labels.join(".")),
    };
    check_duplicates(&stanza.body, file, &prefix, &[])?;
    let kind = stanza_type(stanza, file, &prefix)?;
    let mut lockout = UserLockout::default();
    for entry in &stanza.body {
        let site = Site {
            file,
            key: format!("{prefix}.{}", entry.key),
            line: entry.line,
        };
        let key = entry.key.as_str();
        if !KEYS.contains(&key) {
            site.unknown_key(warnings);
            continue;
        }
        let Some(node) = site.set_value(entry)? else {
            continue;
        };
        match key {
            "lockout_threshold" => lockout.lockout_threshold = Some(threshold(&site, node)?),
            "lockout_duration" => lockout.lockout_duration = Some(duration(&site, key, node)?),
            "lockout_counter_reset" => {
                lockout.lockout_counter_reset = Some(duration(&site, key, node)?);
            }
            "disable_lockout" => lockout.disable_lockout = Some(loose_bool(&site, node)?),
            _ => {}
        }
    }
    Ok((kind, lockout))
}

/// The stanza's auth type, lowercased: the body's non-empty `type`, else its one label.
fn stanza_type(stanza: &Stanza, file: &str, prefix: &str) -> Result<String, ConfigError> {
    let mut from_body = None;
    for entry in stanza.body.iter().filter(|e| e.key == "type") {
        let site = Site {
            file,
            key: format!("{prefix}.type"),
            line: entry.line,
        };
        let node = site.value(entry)?;
        let text = go_value(&node.value);
        if !matches!(node.value, Value::Null) && !text.is_empty() {
            from_body = Some((text, entry.line));
        }
    }
    let (kind, line) = match (from_body, stanza.labels.as_slice()) {
        (Some(found), _) => found,
        (None, [label]) => (label.clone(), stanza.line),
        (None, _) => {
            return Err(ConfigError::invalid(
                file,
                stanza.line,
                prefix,
                TYPE_MISSING,
            ));
        }
    };
    let kind = kind.to_lowercase();
    if !USER_LOCKOUT_TYPES.contains(&kind.as_str()) {
        return Err(ConfigError::invalid(
            file,
            line,
            prefix,
            format!("unsupported auth type {}", go_quote(&kind)),
        ));
    }
    Ok(kind)
}

/// `lockout_threshold`: the value's text (Go's `%v`) as an unsigned 64-bit integer.
fn threshold(site: &Site<'_>, node: &Node) -> Result<u64, ConfigError> {
    let text = go_value(&node.value);
    let bad = |why: &str| {
        site.error(format!(
            "error parsing lockout_threshold: strconv.ParseUint: parsing {}: {why}",
            go_quote(&text)
        ))
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("invalid syntax"));
    }
    text.parse::<u64>().map_err(|_| bad("value out of range"))
}

/// `lockout_duration` or `lockout_counter_reset`: seconds or a Go duration string, not
/// negative, as OpenBao's `parseutil.ParseDurationSecond`.
fn duration(site: &Site<'_>, key: &str, node: &Node) -> Result<Duration, ConfigError> {
    let nanos = match &node.value {
        Value::Str(s) => parse_duration_second(s),
        Value::Int(secs) => seconds_to_nanos(*secs),
        Value::Float(secs) if secs.is_finite() => {
            // Go converts the float to whole seconds toward zero; the cast saturates where Go's
            // would wrap, and the overflow check below refuses those.
            #[allow(clippy::cast_possible_truncation)]
            seconds_to_nanos(secs.trunc() as i64)
        }
        _ => Err(DurationError::NotADuration),
    }
    .map_err(|err| site.error(format!("error parsing {key}: {err}")))?;
    u64::try_from(nanos)
        .map(Duration::from_nanos)
        .map_err(|_| site.error(format!("{key} cannot be negative")))
}

/// Whole seconds as nanoseconds, refusing an overflow.
fn seconds_to_nanos(secs: i64) -> Result<i64, DurationError> {
    secs.checked_mul(1_000_000_000)
        .ok_or(DurationError::Overflow)
}

/// `disable_lockout`, read as OpenBao's `parseutil.ParseBool` (a weak decode): a boolean, a
/// number (true unless zero), or a string Go's `strconv.ParseBool` takes (`""` is false).
fn loose_bool(site: &Site<'_>, node: &Node) -> Result<bool, ConfigError> {
    let bad = |why: String| site.error(format!("invalid value for disable_lockout: {why}"));
    match &node.value {
        Value::Bool(b) => Ok(*b),
        Value::Int(i) => Ok(*i != 0),
        Value::Float(f) => Ok(*f != 0.0),
        Value::Str(s) => match s.as_str() {
            "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
            _ => Err(bad(format!(
                "cannot parse '' as bool: strconv.ParseBool: parsing {}: invalid syntax",
                go_quote(s)
            ))),
        },
        other => {
            let go_type = match other {
                Value::Map(_) => "[]map[string]interface {}",
                _ => "[]interface {}",
            };
            Err(bad(format!(
                "'' expected type 'bool', got unconvertible type '{go_type}', value: '{}'",
                go_value(other)
            )))
        }
    }
}

/// A value's text as Go's `fmt` `%v` prints what OpenBao's HCL decoder made of it (an HCL
/// object is a list of maps there).
fn go_value(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => go_float(*f),
        Value::Str(s) => s.clone(),
        Value::List(items) => {
            let items: Vec<String> = items.iter().map(|n| go_value(&n.value)).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Map(fields) => {
            let mut fields: Vec<String> = fields
                .iter()
                .map(|f| format!("{}:{}", f.key, go_value(&f.node.value)))
                .collect();
            fields.sort();
            format!("[map[{}]]", fields.join(" "))
        }
    }
}

/// A float as Go's `%v` prints it: the shortest digits, in exponent form (`1e+06`) when the
/// exponent is below -4 or at least 6, as `strconv`'s shortest `%g` does.
fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let sci = format!("{f:e}");
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return f.to_string();
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.unsigned_abs());
    }
    f.to_string()
}

/// Quotes `s` as Go's `%q` does: between double quotes, `"` and `\` escaped, control
/// characters escaped, other characters kept.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() && (c as u32) < 0x80 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_go_does() {
        for (f, want) in [
            (3.0, "3"),
            (2.5, "2.5"),
            (123_456.0, "123456"),
            (1_000_000.0, "1e+06"),
            (1_234_567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5, "-2.5"),
        ] {
            assert_eq!(go_float(f), want, "{f}");
        }
    }

    #[test]
    fn quotes_as_go_does() {
        assert_eq!(go_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(go_quote("é\n\u{1}"), "\"é\\n\\x01\"");
    }

    #[test]
    fn resolve_takes_own_then_all_then_defaults() {
        let own = UserLockout {
            lockout_threshold: Some(100),
            ..UserLockout::default()
        };
        let all = UserLockout {
            lockout_duration: Some(Duration::from_secs(2400)),
            disable_lockout: Some(true),
            ..UserLockout::default()
        };
        assert_eq!(
            own.resolve(Some(&all)),
            UserLockout {
                lockout_threshold: Some(100),
                lockout_duration: Some(Duration::from_secs(2400)),
                lockout_counter_reset: Some(DEFAULT_LOCKOUT_COUNTER_RESET),
                disable_lockout: Some(true),
            }
        );
        assert_eq!(
            UserLockout::default().resolve(None),
            UserLockout {
                lockout_threshold: Some(5),
                lockout_duration: Some(Duration::from_secs(900)),
                lockout_counter_reset: Some(Duration::from_secs(900)),
                disable_lockout: Some(false),
            }
        );
    }
}
