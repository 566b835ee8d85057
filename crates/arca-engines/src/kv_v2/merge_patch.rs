//! JSON merge patch (RFC 7386), as KV v2's `PATCH data/:path` applies it, and the `subkeys`
//! view of a secret (its key structure with every leaf replaced by `null`).

use serde_json::{Map, Value};

/// Applies `patch` to `target`: objects merge key by key, `null` removes a key, anything
/// else replaces.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_obj) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in patch_obj {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// The key structure of `data` down to `depth` levels (0: all); leaves become `null`.
pub(crate) fn subkeys(data: &Value, depth: i64) -> Value {
    fn walk(v: &Value, depth: i64, level: i64) -> Value {
        let Value::Object(m) = v else {
            return Value::Null;
        };
        Value::Object(
            m.iter()
                .map(|(k, child)| {
                    let deeper = child.is_object() && (depth == 0 || level < depth);
                    let shown = if deeper {
                        walk(child, depth, level + 1)
                    } else {
                        Value::Null
                    };
                    (k.clone(), shown)
                })
                .collect(),
        )
    }
    walk(data, depth, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc7386_cases() {
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (json!({"a": [1]}), json!({"a": [2]}), json!({"a": [2]})),
            (
                json!({"a": "x"}),
                json!({"a": {"b": 1}}),
                json!({"a": {"b": 1}}),
            ),
            (json!(null), json!({"a": 1}), json!({"a": 1})),
            (
                json!({"e": 1}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"e": 1, "a": {"bb": {}}}),
            ),
        ];
        for (mut target, patch, want) in cases {
            merge_patch(&mut target, &patch);
            assert_eq!(target, want, "patch {patch}");
        }
    }

    #[test]
    fn subkeys_by_depth() {
        let data = json!({"a": 1, "b": {"c": {"d": 1}, "e": 2}, "f": [1, {"g": 1}]});
        let cases = [
            (
                0,
                json!({"a": null, "b": {"c": {"d": null}, "e": null}, "f": null}),
            ),
            (1, json!({"a": null, "b": null, "f": null})),
            (
                2,
                json!({"a": null, "b": {"c": null, "e": null}, "f": null}),
            ),
        ];
        for (depth, want) in cases {
            assert_eq!(subkeys(&data, depth), want, "depth {depth}");
        }
        assert_eq!(subkeys(&Value::Null, 0), Value::Null);
    }
}
