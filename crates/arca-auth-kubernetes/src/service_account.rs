//! The service account a JWT names, read from its claims as OpenBao decodes them: the
//! legacy secret-token claims (`kubernetes.io/serviceaccount/...`) or, for projected tokens,
//! the `kubernetes.io` object, which wins when present.

use serde_json::{Map, Value};

const NAME: &str = "kubernetes.io/serviceaccount/service-account.name";
const UID: &str = "kubernetes.io/serviceaccount/service-account.uid";
const SECRET_NAME: &str = "kubernetes.io/serviceaccount/secret.name";
const NAMESPACE: &str = "kubernetes.io/serviceaccount/namespace";

/// A projected token's `kubernetes.io.serviceaccount` (or `pod`) reference.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ObjectRef {
    name: String,
    uid: String,
}

/// A projected token's `kubernetes.io` claim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Projected {
    namespace: String,
    service_account: Option<ObjectRef>,
}

/// The service account of a login's JWT.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ServiceAccount {
    legacy_name: String,
    legacy_uid: String,
    /// The secret the (legacy) token came from.
    pub secret_name: String,
    legacy_namespace: String,
    /// The token's audiences.
    pub audience: Vec<String>,
    projected: Option<Projected>,
}

/// Go's name of a JSON value's type, for decoding errors.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

struct Decoder {
    errors: Vec<String>,
}

impl Decoder {
    fn string(&mut self, m: &Map<String, Value>, key: &str, path: &str) -> String {
        match m.get(key) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                self.errors.push(format!(
                    "'{path}' expected type 'string', got unconvertible type '{}'",
                    go_type(other)
                ));
                String::new()
            }
        }
    }

    fn object_ref(&mut self, m: &Map<String, Value>, key: &str, path: &str) -> Option<ObjectRef> {
        match m.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Object(o)) => Some(ObjectRef {
                name: self.string(o, "name", &format!("{path}.name")),
                uid: self.string(o, "uid", &format!("{path}.uid")),
            }),
            Some(other) => {
                self.errors
                    .push(format!("'{path}' expected a map, got '{}'", go_kind(other)));
                None
            }
        }
    }
}

fn go_kind(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
        Value::Null => "invalid",
    }
}

impl ServiceAccount {
    /// Decodes the claims; a claim of the wrong type is an error in OpenBao's words.
    pub(crate) fn from_claims(claims: &Map<String, Value>) -> Result<ServiceAccount, String> {
        let mut d = Decoder { errors: Vec::new() };
        let mut sa = ServiceAccount {
            legacy_name: d.string(claims, NAME, NAME),
            legacy_uid: d.string(claims, UID, UID),
            secret_name: d.string(claims, SECRET_NAME, SECRET_NAME),
            legacy_namespace: d.string(claims, NAMESPACE, NAMESPACE),
            ..ServiceAccount::default()
        };
        match claims.get("aud") {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) => {
                for (i, v) in a.iter().enumerate() {
                    match v {
                        Value::String(s) => sa.audience.push(s.clone()),
                        other => d.errors.push(format!(
                            "'aud[{i}]' expected type 'string', got unconvertible type '{}'",
                            go_type(other)
                        )),
                    }
                }
            }
            Some(other) => d.errors.push(format!(
                "'aud' source data must be an array or slice, got {}",
                go_kind(other)
            )),
        }
        match claims.get("kubernetes.io") {
            None | Some(Value::Null) => {}
            Some(Value::Object(k)) => {
                sa.projected = Some(Projected {
                    namespace: d.string(k, "namespace", "kubernetes.io.namespace"),
                    service_account: d.object_ref(
                        k,
                        "serviceaccount",
                        "kubernetes.io.serviceaccount",
                    ),
                });
                d.object_ref(k, "pod", "kubernetes.io.pod");
            }
            Some(other) => d.errors.push(format!(
                "'kubernetes.io' expected a map, got '{}'",
                go_kind(other)
            )),
        }
        if d.errors.is_empty() {
            Ok(sa)
        } else {
            Err(format!(
                "decoding failed due to the following error(s):\n\n{}",
                d.errors.join("\n")
            ))
        }
    }

    /// The account's name, the projected one first.
    pub(crate) fn name(&self) -> &str {
        match self
            .projected
            .as_ref()
            .and_then(|p| p.service_account.as_ref())
        {
            Some(r) => &r.name,
            None => &self.legacy_name,
        }
    }

    /// The account's namespace, the projected one first.
    pub(crate) fn namespace(&self) -> &str {
        match &self.projected {
            Some(p) => &p.namespace,
            None => &self.legacy_namespace,
        }
    }

    /// The account's UID, the projected one first; an error when there is none.
    pub(crate) fn uid(&self) -> Result<&str, String> {
        let uid = match self
            .projected
            .as_ref()
            .and_then(|p| p.service_account.as_ref())
        {
            Some(r) => &r.uid,
            None => &self.legacy_uid,
        };
        if uid.is_empty() {
            Err("could not parse UID from claims".into())
        } else {
            Ok(uid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn legacy_and_projected_claims() {
        let legacy = ServiceAccount::from_claims(&claims(json!({
            NAME: "sa", UID: "u", SECRET_NAME: "s", NAMESPACE: "ns", "aud": ["a"]
        })))
        .unwrap();
        assert_eq!(
            (legacy.name(), legacy.namespace(), legacy.uid()),
            ("sa", "ns", Ok("u"))
        );
        assert_eq!(legacy.secret_name, "s");
        let projected = ServiceAccount::from_claims(&claims(json!({
            NAME: "old", "kubernetes.io": {"namespace": "ns2",
                "serviceaccount": {"name": "sa2", "uid": "u2"}, "pod": {"name": "p", "uid": "pu"}}
        })))
        .unwrap();
        assert_eq!(
            (projected.name(), projected.namespace(), projected.uid()),
            ("sa2", "ns2", Ok("u2"))
        );
        let none = ServiceAccount::from_claims(&claims(json!({}))).unwrap();
        assert_eq!(
            none.uid(),
            Err("could not parse UID from claims".to_string())
        );
    }

    #[test]
    fn wrong_types_are_refused_in_openbao_words() {
        assert_eq!(
            ServiceAccount::from_claims(&claims(json!({"aud": "x"}))).unwrap_err(),
            "decoding failed due to the following error(s):\n\n'aud' source data must be an array or slice, got string"
        );
        assert_eq!(
            ServiceAccount::from_claims(&claims(json!({NAME: 5}))).unwrap_err(),
            "decoding failed due to the following error(s):\n\n'kubernetes.io/serviceaccount/service-account.name' expected type 'string', got unconvertible type 'float64'"
        );
    }
}
