//! Request parameters of KV v2 that the framework's field types do not cover: version lists,
//! `options.cas`, signed durations and `custom_metadata`.

use std::collections::BTreeMap;

use arca_sdk::LogicalError;
use arca_sdk::duration::parse_duration_second;
use arca_sdk::framework::{FieldType, convert_field};
use serde_json::Value;

use crate::EngineError;

/// Vault's limits on `custom_metadata`.
const MAX_CUSTOM_KEYS: usize = 64;
const MAX_CUSTOM_KEY_LEN: usize = 128;
const MAX_CUSTOM_VALUE_LEN: usize = 512;

fn int_error(field: &str, shown: &str) -> EngineError {
    EngineError::InvalidField(format!(
        "Field validation failed: error converting input for field \"{field}\": \
         '{shown}' cannot parse value as 'int': strconv.ParseInt: invalid syntax"
    ))
}

fn parse_int(field: &str, v: &Value) -> Result<i64, EngineError> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .ok_or_else(|| int_error(field, &n.to_string())),
        Value::String(s) => s.trim().parse().map_err(|_| int_error(field, s)),
        other => Err(int_error(field, &other.to_string())),
    }
}

/// The `versions` parameter, a `TypeCommaIntSlice` as in Vault: a list of integers, numeric
/// strings, or a comma-separated string; a value that is not an integer (or is past 64 bits)
/// is refused with the framework's 400.
pub(crate) fn versions(raw: Option<&Value>) -> Result<Vec<u64>, LogicalError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    let list = convert_field("versions", FieldType::CommaIntSlice, raw)?;
    // Negative versions never exist; keep them out of the u64 space.
    Ok(list
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default())
}

/// `options.cas`: absent, or an integer (number or numeric string).
pub(crate) fn cas(options: &serde_json::Map<String, Value>) -> Result<Option<i64>, EngineError> {
    match options.get("cas") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => parse_int("cas", v)
            .map(Some)
            .map_err(|_| EngineError::CasUnparsable),
    }
}

/// A signed duration in seconds: a number, `"30"`, or a Go duration (`"1h"`, `"-1s"`).
pub(crate) fn signed_duration(field: &str, v: &Value) -> Result<i64, EngineError> {
    let bad = |shown: &str| {
        EngineError::InvalidField(format!(
            "error converting input for field \"{field}\": time: invalid duration \"{shown}\""
        ))
    };
    match v {
        Value::Null => Ok(0),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .ok_or_else(|| bad(&n.to_string())),
        Value::String(s) => parse_duration_second(s.trim())
            .map(|nanos| nanos / 1_000_000_000)
            .map_err(|_| bad(s)),
        other => Err(bad(&other.to_string())),
    }
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Null => "<nil>",
    }
}

/// `custom_metadata`: an object whose values are strings (numbers and booleans are printed),
/// `null` entries kept as `None` for merge patches. Vault's limits apply.
pub(crate) fn custom_metadata(v: &Value) -> Result<BTreeMap<String, Option<String>>, EngineError> {
    let obj = match v {
        Value::Object(m) => m,
        Value::Null => return Ok(BTreeMap::new()),
        other => {
            return Err(EngineError::InvalidField(format!(
                "error converting input for field \"custom_metadata\": '' expected type \
                 'map[string]interface {{}}', got unconvertible type '{}'",
                go_type(other)
            )));
        }
    };
    let mut out = BTreeMap::new();
    let mut problems = Vec::new();
    if obj.len() > MAX_CUSTOM_KEYS {
        problems.push(format!(
            "payload must contain at most {MAX_CUSTOM_KEYS} keys, provided {}",
            obj.len()
        ));
    }
    for (k, val) in obj {
        let s = match val {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null => None,
            other => {
                return Err(EngineError::InvalidField(format!(
                    "custom_metadata validation failed: '' expected type 'string', got \
                     unconvertible type '{}'",
                    go_type(other)
                )));
            }
        };
        if k.len() > MAX_CUSTOM_KEY_LEN {
            problems.push(format!(
                "length of key {k:?} is {} but max is {MAX_CUSTOM_KEY_LEN}",
                k.len()
            ));
        }
        if let Some(s) = &s
            && s.len() > MAX_CUSTOM_VALUE_LEN
        {
            problems.push(format!(
                "length of value for key {k:?} is {} but max is {MAX_CUSTOM_VALUE_LEN}",
                s.len()
            ));
        }
        out.insert(k.clone(), s);
    }
    if !problems.is_empty() {
        return Err(EngineError::InvalidField(format!(
            "custom_metadata validation failed: {}",
            problems.join(", ")
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn version_lists() {
        let cases = [
            (json!([1, 2]), vec![1, 2]),
            (json!("1,2,3"), vec![1, 2, 3]),
            (json!(["4", 5]), vec![4, 5]),
            (json!(7), vec![7]),
            (json!([]), vec![]),
            (json!([-1, 2]), vec![2]),
        ];
        for (raw, want) in cases {
            assert_eq!(versions(Some(&raw)).unwrap(), want, "{raw}");
        }
        assert_eq!(versions(None).unwrap(), Vec::<u64>::new());
        assert!(versions(Some(&json!("abc"))).is_err());
        // As OpenBao: no spaces after the commas.
        assert!(versions(Some(&json!("1, 2"))).is_err());
        assert!(versions(Some(&json!([[0]]))).is_err());
        assert_eq!(
            versions(Some(&json!([u64::MAX]))).unwrap_err().to_string(),
            "Field validation failed: error converting input for field \"versions\": decoding failed due to the following error(s):\n\n'[0]' cannot parse value as 'int': strconv.ParseInt: value out of range"
        );
    }

    #[test]
    fn cas_values() {
        let o = |v: Value| json!({ "cas": v }).as_object().cloned().unwrap();
        assert_eq!(cas(&o(json!(3))).unwrap(), Some(3));
        assert_eq!(cas(&o(json!("3"))).unwrap(), Some(3));
        assert_eq!(cas(&o(json!(-1))).unwrap(), Some(-1));
        assert_eq!(cas(&serde_json::Map::new()).unwrap(), None);
        assert_eq!(cas(&o(json!("x"))), Err(EngineError::CasUnparsable));
        assert_eq!(cas(&o(json!(1.5))), Err(EngineError::CasUnparsable));
    }

    #[test]
    fn durations_and_custom_metadata() {
        assert_eq!(signed_duration("d", &json!("1h")).unwrap(), 3600);
        assert_eq!(signed_duration("d", &json!("-1s")).unwrap(), -1);
        assert_eq!(signed_duration("d", &json!(30)).unwrap(), 30);
        assert_eq!(
            signed_duration("delete_version_after", &json!("abc"))
                .unwrap_err()
                .to_string(),
            "error converting input for field \"delete_version_after\": time: invalid duration \"abc\""
        );
        let cm = custom_metadata(&json!({"a": 1, "b": "x", "c": null})).unwrap();
        assert_eq!(cm["a"].as_deref(), Some("1"));
        assert_eq!(cm["c"], None);
        assert_eq!(
            custom_metadata(&json!({"a": [1]})).unwrap_err().to_string(),
            "custom_metadata validation failed: '' expected type 'string', got unconvertible type '[]interface {}'"
        );
        assert!(custom_metadata(&json!("x")).is_err());
        let many: serde_json::Map<String, Value> =
            (0..65).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert!(custom_metadata(&Value::Object(many)).is_err());
    }
}
