//! The shape of a JSON value (keys and value types, no values) and the differences between two
//! shapes, each located by a JSON pointer.

use serde_json::Value;

/// One place where two responses differ in shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeDiff {
    /// JSON pointer of the place (`""` for the whole body).
    pub pointer: String,
    /// What differs, for the failure message.
    pub detail: String,
}

/// The type name of a JSON value.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Compares `arca` against `openbao` by keys and value types, recursively. Arrays are compared
/// by emptiness and by the shape of their elements (every element against the other side's
/// first element). Values themselves (ids, tokens, times, counts) never count.
pub fn compare(arca: &Value, openbao: &Value) -> Vec<ShapeDiff> {
    let mut out = Vec::new();
    walk(arca, openbao, String::new(), &mut out);
    out
}

fn walk(a: &Value, o: &Value, pointer: String, out: &mut Vec<ShapeDiff>) {
    match (a, o) {
        (Value::Object(am), Value::Object(om)) => {
            for (k, av) in am {
                let p = format!("{pointer}/{}", escape(k));
                match om.get(k) {
                    Some(ov) => walk(av, ov, p, out),
                    None => out.push(ShapeDiff {
                        pointer: p,
                        detail: format!("only in Arca ({})", type_name(av)),
                    }),
                }
            }
            for (k, ov) in om {
                if !am.contains_key(k) {
                    out.push(ShapeDiff {
                        pointer: format!("{pointer}/{}", escape(k)),
                        detail: format!("only in OpenBao ({})", type_name(ov)),
                    });
                }
            }
        }
        (Value::Array(aa), Value::Array(oa)) => match (aa.first(), oa.first()) {
            (Some(_), Some(of)) => {
                for (i, av) in aa.iter().enumerate() {
                    let before = out.len();
                    walk(av, of, format!("{pointer}/{i}"), out);
                    if out.len() > before {
                        // One element's differences are enough.
                        break;
                    }
                }
            }
            (None, None) => {}
            (Some(_), None) => out.push(ShapeDiff {
                pointer,
                detail: format!("Arca has {} elements, OpenBao none", aa.len()),
            }),
            (None, Some(_)) => out.push(ShapeDiff {
                pointer,
                detail: format!("OpenBao has {} elements, Arca none", oa.len()),
            }),
        },
        _ => {
            if type_name(a) != type_name(o) {
                out.push(ShapeDiff {
                    pointer,
                    detail: format!("Arca {} vs OpenBao {}", type_name(a), type_name(o)),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_shapes_with_different_values_match() {
        let a = json!({"data": {"id": "abc", "ttl": 5, "policies": ["root"]}, "auth": null});
        let o =
            json!({"data": {"id": "xyz", "ttl": 9, "policies": ["default", "x"]}, "auth": null});
        assert!(compare(&a, &o).is_empty());
    }

    #[test]
    fn missing_keys_and_types_are_reported() {
        let a = json!({"data": {"a/b": 1, "x": "s"}, "list": []});
        let o = json!({"data": {"x": 2, "y": true}, "list": [1]});
        let d = compare(&a, &o);
        let ptrs: Vec<&str> = d.iter().map(|d| d.pointer.as_str()).collect();
        assert_eq!(ptrs, ["/data/a~1b", "/data/x", "/data/y", "/list"]);
        assert!(d[0].detail.contains("only in Arca"));
        assert!(d[1].detail.contains("string vs OpenBao number"));
    }

    #[test]
    fn array_elements_are_compared() {
        let a = json!([{"k": 1}, {"k": 2, "extra": 1}]);
        let o = json!([{"k": 3}]);
        let d = compare(&a, &o);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].pointer, "/1/extra");
    }
}
