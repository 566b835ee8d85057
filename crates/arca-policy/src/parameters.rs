//! Matching request parameter values against `allowed_parameters` / `denied_parameters`
//! value lists.

use arca_sdk::glob::globbed_strings_match;
use serde_json::Value;

/// Whether `value` is in `list`; an empty list matches every value.
pub(crate) fn value_in_parameter_list(value: &Value, list: &[Value]) -> bool {
    list.is_empty() || list.iter().any(|item| value_matches(item, value))
}

/// One policy value against one request value. Strings match with a `*` glob at either end
/// (`foo-*`, `*-bar`, `*mid*`; `"*"` alone matches only `"*"`, as in OpenBao); everything
/// else must be equal (`null` matches only `null`).
fn value_matches(item: &Value, value: &Value) -> bool {
    match (item, value) {
        (Value::String(pattern), Value::String(text)) => globbed_strings_match(pattern, text),
        _ => item == value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_match_like_openbao() {
        let cases: &[(Value, Value, bool)] = &[
            (json!([]), json!("anything"), true),
            (json!([]), json!(null), true),
            (json!(["zip", "zap"]), json!("zip"), true),
            (json!(["zip", "zap"]), json!("zop"), false),
            (json!(["foo-*"]), json!("foo-bar"), true),
            (json!(["foo-*"]), json!("bar-foo"), false),
            (json!(["*-foo"]), json!("bar-foo"), true),
            (json!(["*mid*"]), json!("a-mid-b"), true),
            (json!(["*mid*"]), json!("a-mod-b"), false),
            (json!(["*"]), json!("x"), false),
            (json!(["*"]), json!(""), false),
            (json!(["*"]), json!("*"), true),
            (json!([false, "false"]), json!(false), true),
            (json!([false, "false"]), json!("false"), true),
            (json!([false, "false"]), json!(true), false),
            (json!([1]), json!(1), true),
            (json!([1]), json!("1"), false),
            (json!(["a"]), json!(["a"]), false),
            (json!([["a"]]), json!(["a"]), true),
            (json!([null]), json!(null), true),
            (json!(["x"]), json!(null), false),
        ];
        for (list, value, want) in cases {
            let list = list.as_array().unwrap();
            assert_eq!(
                value_in_parameter_list(value, list),
                *want,
                "{value} in {list:?}"
            );
        }
    }
}
