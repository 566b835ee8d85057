//! Typed reads of token request fields, with Vault's lenient input forms (comma lists,
//! duration strings or seconds, boolean strings) and its error texts.

use arca_sdk::{JsonMap, LogicalError};
use serde_json::Value;

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
