//! Reading claims the way OpenBao does: a claim name is a top-level key, or a JSON pointer
//! (`/a/b`) into nested objects and arrays; a number read at the top level compares as its
//! integer text (Go's `json.Number`). Holds `bound_claims` matching (exact or glob, a list
//! of values meaning any of them), `claim_mappings` → alias metadata and `groups_claim`.

use std::collections::HashMap;

use arca_sdk::JsonMap;
use arca_sdk::glob::glob_match;
use serde_json::Value;

/// A claim value as OpenBao compares it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    /// A string.
    Str(String),
    /// A boolean.
    Bool(bool),
    /// A number as Go's `json.Number` text.
    Num(String),
    /// Anything that never equals a configured value (a number inside a list, an object).
    Other,
}

/// The claim `name` of `claims` (a JSON pointer when it starts with `/`), numbers at the top
/// of the value made integers as OpenBao's `getClaim` does.
pub(crate) fn get_claim(claims: &JsonMap, name: &str) -> Option<Value> {
    let v = if let Some(ptr) = name.strip_prefix('/') {
        let mut cur: &Value = claims.get(unescape(ptr.split('/').next()?).as_str())?;
        for part in ptr.split('/').skip(1) {
            let key = unescape(part);
            cur = match cur {
                Value::Object(m) => m.get(&key)?,
                Value::Array(a) => a.get(key.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        cur.clone()
    } else {
        claims.get(name)?.clone()
    };
    if v.is_null() {
        return None;
    }
    Some(v)
}

fn unescape(s: &str) -> String {
    s.replace("~1", "/").replace("~0", "~")
}

/// A top-level claim value as a comparable scalar (numbers truncated to integers).
fn actual_scalar(v: &Value) -> Scalar {
    match v {
        Value::String(s) => Scalar::Str(s.clone()),
        Value::Bool(b) => Scalar::Bool(*b),
        Value::Number(n) => {
            #[allow(clippy::cast_possible_truncation)]
            let i = n.as_f64().unwrap_or(0.0) as i64;
            Scalar::Num(i.to_string())
        }
        _ => Scalar::Other,
    }
}

fn element_scalar(v: &Value) -> Scalar {
    match v {
        Value::String(s) => Scalar::Str(s.clone()),
        Value::Bool(b) => Scalar::Bool(*b),
        _ => Scalar::Other,
    }
}

/// A configured value (from the role) as a comparable scalar.
fn expected_scalar(v: &Value) -> Scalar {
    match v {
        Value::String(s) => Scalar::Str(s.clone()),
        Value::Bool(b) => Scalar::Bool(*b),
        Value::Number(n) => Scalar::Num(n.to_string()),
        _ => Scalar::Other,
    }
}

/// OpenBao's `normalizeList` of a claim value: a list as is, a string/bool/number as a list
/// of one, anything else refused.
fn normalize_actual(v: &Value) -> Option<Vec<Scalar>> {
    match v {
        Value::Array(a) => Some(a.iter().map(element_scalar).collect()),
        Value::String(_) | Value::Bool(_) | Value::Number(_) => Some(vec![actual_scalar(v)]),
        _ => None,
    }
}

/// `normalizeList` of a configured value.
pub(crate) fn normalize_expected(v: &Value) -> Option<Vec<Value>> {
    match v {
        Value::Array(a) => Some(a.clone()),
        Value::String(_) | Value::Bool(_) | Value::Number(_) => Some(vec![v.clone()]),
        _ => None,
    }
}

/// Every `bound_claims` entry must be matched by the claims (any value of a list).
pub(crate) fn validate_bound_claims(
    glob: bool,
    bound: &JsonMap,
    claims: &JsonMap,
) -> Result<(), String> {
    for (claim, exp_value) in bound {
        let Some(actual) = get_claim(claims, claim) else {
            return Err(format!("claim \"{claim}\" is missing"));
        };
        let Some(act_vals) = normalize_actual(&actual) else {
            return Err(format!(
                "received claim is not a string, bool, int or list: {actual}"
            ));
        };
        let Some(exp_vals) = normalize_expected(exp_value) else {
            return Err(format!(
                "bound claim is not a string, bool, int or list: {exp_value}"
            ));
        };
        let found = exp_vals.iter().any(|e| {
            act_vals.iter().any(|a| {
                if glob {
                    match (e.as_str(), a) {
                        (Some(p), Scalar::Str(s)) => glob_match(p, s),
                        _ => false,
                    }
                } else {
                    let e = expected_scalar(e);
                    e != Scalar::Other && e == *a
                }
            })
        });
        if !found {
            return Err(format!(
                "claim \"{claim}\" does not match any associated bound claim values"
            ));
        }
    }
    Ok(())
}

/// `claim_mappings` → metadata: each mapped claim that is present must be a string.
pub(crate) fn extract_metadata(
    claims: &JsonMap,
    mappings: &HashMap<String, String>,
) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    let mut pairs: Vec<(&String, &String)> = mappings.iter().collect();
    pairs.sort();
    for (source, target) in pairs {
        let Some(v) = get_claim(claims, source) else {
            continue;
        };
        let Value::String(s) = v else {
            return Err(format!("error converting claim '{source}' to string"));
        };
        out.insert(target.clone(), s);
    }
    Ok(out)
}

/// The group names of `groups_claim` (a list or a single value; empty names skipped).
pub(crate) fn groups(claims: &JsonMap, groups_claim: &str) -> Result<Vec<String>, String> {
    let Some(raw) = get_claim(claims, groups_claim) else {
        return Err(format!(
            "failed to fetch groups: \"{groups_claim}\" claim not found in token"
        ));
    };
    let list = match &raw {
        Value::Array(a) => a.clone(),
        Value::String(_) | Value::Bool(_) | Value::Number(_) => vec![raw.clone()],
        _ => {
            return Err(format!(
                "\"{groups_claim}\" claim could not be converted to string list"
            ));
        }
    };
    let mut out = Vec::new();
    for g in list {
        match g {
            Value::String(s) if s.is_empty() => {}
            Value::String(s) => out.push(s),
            other => {
                let shown = match &other {
                    Value::Number(n) => {
                        // Go prints a top-level number as json.Number, a listed one as float.
                        n.to_string()
                    }
                    v => v.to_string(),
                };
                return Err(format!(
                    "value {shown} in groups claim could not be parsed as string"
                ));
            }
        }
    }
    Ok(out)
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
    fn pointer_and_globs() {
        let claims =
            map(json!({"org": {"team": "alpha", "ids": [1, 2]}, "n": 5.7, "l": ["a", "b"]}));
        assert_eq!(get_claim(&claims, "/org/team"), Some(json!("alpha")));
        assert_eq!(get_claim(&claims, "/org/ids/1"), Some(json!(2)));
        assert!(
            validate_bound_claims(true, &map(json!({"/org/team": ["be*", "al*"]})), &claims)
                .is_ok()
        );
        assert!(validate_bound_claims(false, &map(json!({"/org/team": "al*"})), &claims).is_err());
        assert!(validate_bound_claims(false, &map(json!({"n": 5})), &claims).is_ok());
        assert!(validate_bound_claims(false, &map(json!({"n": "5"})), &claims).is_err());
        assert!(validate_bound_claims(false, &map(json!({"l": ["x", "b"]})), &claims).is_ok());
        assert_eq!(
            validate_bound_claims(false, &map(json!({"zz": "x"})), &claims).unwrap_err(),
            "claim \"zz\" is missing"
        );
    }
}
