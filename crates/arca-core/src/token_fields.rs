//! The fields of the `auth/token/` endpoints: which each endpoint declares (as OpenBao's token
//! store does), their conversion through the SDK's field types (so `"policies": 5` is
//! `["5"]` and `{"a":1}` a 400, never ignored), and typed reads of the converted values.

use arca_sdk::framework::{FieldType, convert_field, convert_field_reason};
use arca_sdk::{JsonMap, LogicalError};
use serde_json::Value;

use FieldType as T;

/// `auth/token/create`, `create-orphan` and `create/<role>`. TTLs are strings as in OpenBao;
/// the handler parses them (plain Go duration errors, no `Field validation failed`).
const CREATE: &[(&str, FieldType)] = &[
    ("display_name", T::String),
    ("entity_alias", T::String),
    ("explicit_max_ttl", T::String),
    ("id", T::String),
    ("lease", T::String),
    ("meta", T::KvPairs),
    ("no_default_policy", T::Bool),
    ("no_parent", T::Bool),
    ("num_uses", T::Int),
    ("period", T::String),
    ("policies", T::StringSlice),
    ("renewable", T::Bool),
    ("ttl", T::String),
    ("type", T::String),
];
const TOKEN: &[(&str, FieldType)] = &[("token", T::String)];
const ACCESSOR: &[(&str, FieldType)] = &[("accessor", T::String)];
const RENEW: &[(&str, FieldType)] = &[("token", T::String), ("increment", T::DurationSecond)];
const RENEW_ACCESSOR: &[(&str, FieldType)] =
    &[("accessor", T::String), ("increment", T::DurationSecond)];
const NONE: &[(&str, FieldType)] = &[];
/// `auth/token/roles/<name>`: converted before the role handler reads them. OpenBao accepts
/// `token_ttl`, `token_max_ttl` and `token_policies` here and ignores them.
const ROLE: &[(&str, FieldType)] = &[
    ("allowed_entity_aliases", T::CommaStringSlice),
    ("allowed_policies", T::CommaStringSlice),
    ("allowed_policies_glob", T::CommaStringSlice),
    ("bound_cidrs", T::CommaStringSlice),
    ("disallowed_policies", T::CommaStringSlice),
    ("disallowed_policies_glob", T::CommaStringSlice),
    ("explicit_max_ttl", T::DurationSecond),
    ("orphan", T::Bool),
    ("path_suffix", T::String),
    ("period", T::DurationSecond),
    ("renewable", T::Bool),
    ("token_bound_cidrs", T::CommaStringSlice),
    ("token_explicit_max_ttl", T::DurationSecond),
    ("token_max_ttl", T::Any),
    ("token_no_default_policy", T::Bool),
    ("token_num_uses", T::Int),
    ("token_period", T::DurationSecond),
    ("token_policies", T::Any),
    ("token_ttl", T::Any),
    ("token_type", T::String),
];

/// The fields the endpoint at `path` (relative to the mount, no trailing `/`) declares;
/// `None` for a path the backend does not serve.
pub fn schema(path: &str) -> Option<&'static [(&'static str, FieldType)]> {
    Some(match path {
        "create" | "create-orphan" => CREATE,
        p if p.starts_with("create/") => CREATE,
        "lookup" | "lookup-self" | "revoke" | "revoke-orphan" => TOKEN,
        "lookup-accessor" | "revoke-accessor" => ACCESSOR,
        "renew" | "renew-self" => RENEW,
        "renew-accessor" => RENEW_ACCESSOR,
        "revoke-self" | "accessors" | "tidy" | "roles" => NONE,
        p if p.starts_with("roles/") => ROLE,
        _ => return None,
    })
}

/// Converts every declared field `data` gives to its type, in place, and returns the names no
/// field declares (sorted), for the unknown-parameter warning.
///
/// # Errors
///
/// The framework's 400 `Field validation failed: error converting input for field …`.
pub fn convert_in_place(
    data: &mut JsonMap,
    schema: &[(&str, FieldType)],
) -> Result<Vec<String>, LogicalError> {
    // The role endpoint words a refusal without the framework's prefix, as OpenBao does.
    let bare = schema == ROLE;
    let mut unknown = Vec::new();
    for (name, value) in data.iter_mut() {
        match schema.iter().find(|(n, _)| n == name) {
            Some((_, kind)) if bare => {
                *value = convert_field_reason(name, *kind, value).map_err(|why| {
                    LogicalError::bad_request(format!(
                        "error converting input for field {name:?}: {why}"
                    ))
                })?;
            }
            Some((_, kind)) => *value = convert_field(name, *kind, value)?,
            None => unknown.push(name.clone()),
        }
    }
    unknown.sort();
    Ok(unknown)
}

/// A string field; numbers and booleans are given as text.
pub fn str_field(d: &JsonMap, k: &str) -> Option<String> {
    match d.get(k) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    }
}

/// A list of strings from a JSON array or a comma-separated string; `None` when absent.
pub fn string_list(d: &JsonMap, k: &str) -> Option<Vec<String>> {
    match d.get(k) {
        Some(Value::Array(a)) => Some(
            a.iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect(),
        ),
        Some(Value::String(s)) => Some(
            s.split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect(),
        ),
        _ => None,
    }
}

/// A boolean field, `default` when absent.
pub fn bool_or(d: &JsonMap, k: &str, default: bool) -> Result<bool, LogicalError> {
    match d.get(k) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) => match s.as_str() {
            "true" | "1" | "t" | "T" | "TRUE" | "True" => Ok(true),
            "false" | "0" | "f" | "F" | "FALSE" | "False" => Ok(false),
            _ => Err(LogicalError::bad_request(format!(
                "error converting input {s} for field {k:?}: strconv.ParseBool: parsing {s:?}: invalid syntax"
            ))),
        },
        Some(Value::Number(n)) => Ok(n.as_f64().is_some_and(|f| f != 0.0)),
        Some(_) => Err(LogicalError::bad_request(format!(
            "{k:?} must be a boolean"
        ))),
    }
}

/// A signed integer field, 0 when absent.
pub fn int_field(d: &JsonMap, k: &str) -> Result<i64, LogicalError> {
    match d.get(k) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| LogicalError::bad_request(format!("{k:?} must be an integer"))),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(0),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| LogicalError::bad_request(format!("{k:?} must be an integer"))),
        Some(_) => Err(LogicalError::bad_request(format!(
            "{k:?} must be an integer"
        ))),
    }
}

/// A duration field in seconds (`"1h"`, `3600`, `"3600"`); `None` when absent or empty.
/// A negative value is refused with `"<k> must be positive"`.
pub fn duration_secs(d: &JsonMap, k: &str) -> Result<Option<u64>, LogicalError> {
    match d.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::Number(n)) if n.as_i64().is_some_and(|v| v < 0) => {
            Err(LogicalError::bad_request(format!("{k} must be positive")))
        }
        Some(Value::String(s)) if s.trim().starts_with('-') => {
            Err(LogicalError::bad_request(format!("{k} must be positive")))
        }
        Some(v) => arca_sdk::duration::parse_duration_value(v)
            .map(|d| Some(d.as_secs()))
            .map_err(|e| LogicalError::bad_request(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> JsonMap {
        match v {
            Value::Object(m) => m,
            _ => JsonMap::new(),
        }
    }

    #[test]
    fn create_fields_convert_or_refuse() {
        let convert = |body: Value| {
            let mut d = map(body);
            convert_in_place(&mut d, CREATE).map(|unknown| (Value::Object(d), unknown))
        };
        let (d, unknown) =
            convert(json!({"policies": 5, "meta": {"a": 1}, "polices": ["x"]})).unwrap();
        assert_eq!(d["policies"], json!(["5"]));
        assert_eq!(d["meta"], json!({"a": "1"}));
        assert_eq!(unknown, vec!["polices"]);
        let (d, _) = convert(json!({"ttl": 1.5, "renewable": "TRUE", "num_uses": "0x10"})).unwrap();
        assert_eq!(d["ttl"], json!("1.5"));
        assert_eq!(d["renewable"], json!(true));
        assert_eq!(d["num_uses"], json!(16));
        let refused: &[(Value, &str)] = &[
            (
                json!({"policies": {"a": 1}}),
                "Field validation failed: error converting input for field \"policies\": decoding failed due to the following error(s):\n\n'[0]' expected type 'string', got unconvertible type 'map[string]interface {}'",
            ),
            (
                json!({"meta": "x"}),
                "Field validation failed: error converting input for field \"meta\": invalid key pair at index 0 in field \"meta\"",
            ),
            (
                json!({"renewable": "maybe"}),
                "Field validation failed: error converting input for field \"renewable\": '' cannot parse value as 'bool': strconv.ParseBool: invalid syntax",
            ),
        ];
        for (body, want) in refused {
            assert_eq!(
                convert(body.clone()).unwrap_err().to_string(),
                *want,
                "{body}"
            );
        }
        assert!(schema("create/role-a").is_some() && schema("nope").is_none());
        let mut role = map(json!({"period": "1e30"}));
        assert_eq!(
            convert_in_place(&mut role, ROLE).unwrap_err().to_string(),
            "error converting input for field \"period\": time: unknown unit \"e\" in duration \"1e30\""
        );
        let mut role = map(json!({"allowed_policies": {"a": 1}}));
        assert_eq!(convert_in_place(&mut role, ROLE).unwrap_err().status(), 400);
    }

    #[test]
    fn field_forms() {
        let d = map(json!({
            "a": ["x", "y"], "b": "x, y,,z", "t": "true", "f": 0, "n": "5", "neg": -3,
            "d1": "1h", "d2": 90, "d3": "-1s", "bad": "maybe"
        }));
        let cases: Vec<(&str, Option<Vec<&str>>)> = vec![
            ("a", Some(vec!["x", "y"])),
            ("b", Some(vec!["x", "y", "z"])),
            ("missing", None),
        ];
        for (k, want) in cases {
            let got = string_list(&d, k);
            assert_eq!(
                got,
                want.map(|v| v.into_iter().map(String::from).collect()),
                "{k}"
            );
        }
        assert!(bool_or(&d, "t", false).unwrap());
        assert!(!bool_or(&d, "f", true).unwrap());
        assert!(bool_or(&d, "missing", true).unwrap());
        assert!(bool_or(&d, "bad", true).is_err());
        assert_eq!(int_field(&d, "n").unwrap(), 5);
        assert_eq!(int_field(&d, "neg").unwrap(), -3);
        assert_eq!(duration_secs(&d, "d1").unwrap(), Some(3600));
        assert_eq!(duration_secs(&d, "d2").unwrap(), Some(90));
        assert_eq!(duration_secs(&d, "missing").unwrap(), None);
        assert_eq!(
            duration_secs(&d, "d3").unwrap_err().to_string(),
            "d3 must be positive"
        );
        assert_eq!(str_field(&d, "n").as_deref(), Some("5"));
    }
}
