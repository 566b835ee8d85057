//! Typed fields and the conversions Vault applies to request parameters.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::duration::parse_duration_value;
use crate::{JsonMap, LogicalError};

/// The type of a field; conversions follow Vault's framework.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A string; numbers and booleans are stringified.
    String,
    /// A signed integer; numeric strings are parsed.
    Int,
    /// A boolean; `"true"`, `"false"`, `"1"`, `"0"` and 1/0 accepted.
    Bool,
    /// A JSON object.
    Map,
    /// Any JSON array.
    Slice,
    /// A list of strings; a single string becomes a one-element list.
    StringSlice,
    /// A list of strings; a string is split on commas.
    CommaStringSlice,
    /// A duration: seconds or a duration string, returned in seconds.
    DurationSecond,
    /// Key/value pairs: an object, or a list of `k=v` strings.
    KvPairs,
    /// A string trimmed and lower-cased.
    LowerCaseString,
    /// A header map: object of string or string list values.
    Header,
    /// Any JSON value, untouched.
    Any,
}

/// One declared field of a path.
#[derive(Debug, Clone)]
pub struct Field {
    /// The parameter name.
    pub name: String,
    /// Its type.
    pub kind: FieldType,
    /// The value used when the request does not give one.
    pub default: Option<Value>,
    /// What it means.
    pub description: String,
    /// Whether the request must give it (checked by handlers that ask for it).
    pub required: bool,
}

impl Field {
    /// A field with no default.
    pub fn new(name: impl Into<String>, kind: FieldType, description: impl Into<String>) -> Field {
        Field {
            name: name.into(),
            kind,
            default: None,
            description: description.into(),
            required: false,
        }
    }

    /// Sets the default.
    pub fn default_value(mut self, v: Value) -> Field {
        self.default = Some(v);
        self
    }

    /// Marks the field required.
    pub fn required(mut self) -> Field {
        self.required = true;
        self
    }
}

/// The parameters of one request, converted on access by the declared field types.
#[derive(Debug, Clone)]
pub struct FieldData {
    raw: JsonMap,
    schema: Arc<BTreeMap<String, Field>>,
}

fn conv_err(name: &str, kind: FieldType, v: &Value) -> LogicalError {
    let shown = match v {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    };
    LogicalError::bad_request(format!(
        "error converting input for field {name:?}: expected {}, got a {shown}",
        match kind {
            FieldType::String | FieldType::LowerCaseString => "a string",
            FieldType::Int => "an integer",
            FieldType::Bool => "a boolean",
            FieldType::Map | FieldType::Header => "an object",
            FieldType::Slice | FieldType::StringSlice | FieldType::CommaStringSlice => "a list",
            FieldType::DurationSecond => "a duration",
            FieldType::KvPairs => "key=value pairs",
            FieldType::Any => "a value",
        }
    ))
}

/// Converts `v` to the canonical JSON form of `kind`, or says why it cannot be.
fn convert(name: &str, kind: FieldType, v: &Value) -> Result<Value, LogicalError> {
    let err = || conv_err(name, kind, v);
    Ok(match kind {
        FieldType::Any => v.clone(),
        FieldType::String => match v {
            Value::String(s) => Value::String(s.clone()),
            Value::Number(n) => Value::String(n.to_string()),
            Value::Bool(b) => Value::String(b.to_string()),
            Value::Null => Value::String(String::new()),
            _ => return Err(err()),
        },
        FieldType::LowerCaseString => match convert(name, FieldType::String, v)? {
            Value::String(s) => Value::String(s.trim().to_lowercase()),
            other => other,
        },
        FieldType::Int => match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => v.clone(),
            Value::Number(n) => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
                _ => return Err(err()),
            },
            Value::String(s) if s.trim().is_empty() => Value::from(0),
            Value::String(s) => Value::from(s.trim().parse::<i64>().map_err(|_| err())?),
            Value::Null => Value::from(0),
            _ => return Err(err()),
        },
        FieldType::Bool => match v {
            Value::Bool(_) => v.clone(),
            Value::Number(n) => Value::Bool(n.as_f64().map(|f| f != 0.0).ok_or_else(err)?),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "t" => Value::Bool(true),
                "false" | "0" | "f" | "" => Value::Bool(false),
                _ => return Err(err()),
            },
            Value::Null => Value::Bool(false),
            _ => return Err(err()),
        },
        FieldType::Map | FieldType::Header => match v {
            Value::Object(_) => v.clone(),
            Value::Null => Value::Object(JsonMap::new()),
            Value::String(s) if s.trim().is_empty() => Value::Object(JsonMap::new()),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(o @ Value::Object(_)) => o,
                _ => return Err(err()),
            },
            _ => return Err(err()),
        },
        FieldType::Slice => match v {
            Value::Array(_) => v.clone(),
            Value::Null => Value::Array(vec![]),
            other => Value::Array(vec![other.clone()]),
        },
        FieldType::StringSlice | FieldType::CommaStringSlice => {
            let items: Vec<Value> = match v {
                Value::Array(a) => a.clone(),
                Value::Null => vec![],
                Value::String(s) if kind == FieldType::CommaStringSlice => {
                    if s.trim().is_empty() {
                        vec![]
                    } else {
                        s.split(',')
                            .map(|p| Value::String(p.trim().to_string()))
                            .collect()
                    }
                }
                Value::String(s) if s.is_empty() => vec![],
                other => vec![other.clone()],
            };
            let mut out = Vec::with_capacity(items.len());
            for it in items {
                match convert(name, FieldType::String, &it) {
                    Ok(s) => out.push(s),
                    Err(_) => return Err(err()),
                }
            }
            Value::Array(out)
        }
        FieldType::DurationSecond => {
            let d = parse_duration_value(v).map_err(|e| {
                LogicalError::bad_request(format!(
                    "error converting input for field {name:?}: {}",
                    e
                ))
            })?;
            Value::from(d.as_secs())
        }
        FieldType::KvPairs => match v {
            Value::Object(m) => {
                let mut out = JsonMap::new();
                for (k, val) in m {
                    out.insert(k.clone(), convert(name, FieldType::String, val)?);
                }
                Value::Object(out)
            }
            Value::Array(a) => {
                let mut out = JsonMap::new();
                for it in a {
                    let Value::String(s) = it else {
                        return Err(err());
                    };
                    let Some((k, val)) = s.split_once('=') else {
                        return Err(err());
                    };
                    out.insert(k.to_string(), Value::String(val.to_string()));
                }
                Value::Object(out)
            }
            Value::Null => Value::Object(JsonMap::new()),
            _ => return Err(err()),
        },
    })
}

impl FieldData {
    /// Wraps raw parameters with their schema.
    pub fn new(raw: JsonMap, schema: Arc<BTreeMap<String, Field>>) -> FieldData {
        FieldData { raw, schema }
    }

    /// Checks every given declared parameter converts; a 400 naming the first that does not.
    pub fn validate(&self) -> Result<(), LogicalError> {
        for (k, v) in &self.raw {
            if let Some(f) = self.schema.get(k) {
                convert(k, f.kind, v)?;
            }
        }
        Ok(())
    }

    /// Parameters given that no field declares, sorted.
    pub fn unknown_fields(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .raw
            .keys()
            .filter(|k| !self.schema.contains_key(*k))
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// The raw parameters.
    pub fn raw(&self) -> &JsonMap {
        &self.raw
    }

    /// Takes the raw parameters out.
    pub fn into_raw(self) -> JsonMap {
        self.raw
    }

    /// Whether the request gave `name`.
    pub fn is_set(&self, name: &str) -> bool {
        self.raw.contains_key(name)
    }

    /// The converted value given, if any (no default).
    pub fn get_given(&self, name: &str) -> Result<Option<Value>, LogicalError> {
        let Some(f) = self.schema.get(name) else {
            return Err(LogicalError::internal(format!(
                "field {name:?} not in the schema"
            )));
        };
        match self.raw.get(name) {
            Some(v) => Ok(Some(convert(name, f.kind, v)?)),
            None => Ok(None),
        }
    }

    /// The converted value, or the default, or the type's zero value.
    pub fn get(&self, name: &str) -> Result<Value, LogicalError> {
        if let Some(v) = self.get_given(name)? {
            return Ok(v);
        }
        let Some(f) = self.schema.get(name) else {
            return Err(LogicalError::internal(format!(
                "field {name:?} not in the schema"
            )));
        };
        match &f.default {
            Some(d) => convert(name, f.kind, d),
            None => convert(name, f.kind, &Value::Null),
        }
    }

    /// A string field.
    pub fn get_str(&self, name: &str) -> Result<String, LogicalError> {
        Ok(match self.get(name)? {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        })
    }

    /// An integer field.
    pub fn get_i64(&self, name: &str) -> Result<i64, LogicalError> {
        Ok(self.get(name)?.as_i64().unwrap_or(0))
    }

    /// A boolean field.
    pub fn get_bool(&self, name: &str) -> Result<bool, LogicalError> {
        Ok(self.get(name)?.as_bool().unwrap_or(false))
    }

    /// A duration field.
    pub fn get_duration(&self, name: &str) -> Result<Duration, LogicalError> {
        Ok(Duration::from_secs(self.get(name)?.as_u64().unwrap_or(0)))
    }

    /// A list-of-strings field.
    pub fn get_strings(&self, name: &str) -> Result<Vec<String>, LogicalError> {
        Ok(match self.get(name)? {
            Value::Array(a) => a
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        })
    }

    /// An object field.
    pub fn get_map(&self, name: &str) -> Result<JsonMap, LogicalError> {
        Ok(match self.get(name)? {
            Value::Object(m) => m,
            _ => JsonMap::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fd(raw: Value, fields: Vec<Field>) -> FieldData {
        let schema: BTreeMap<String, Field> =
            fields.into_iter().map(|f| (f.name.clone(), f)).collect();
        FieldData::new(raw.as_object().cloned().unwrap(), Arc::new(schema))
    }

    #[test]
    fn conversions_follow_vault() {
        let d = fd(
            json!({"b": "true", "i": "42", "s": 7, "c": "a, b", "t": "1h", "kv": ["x=1", "y=2"], "l": " MiXed "}),
            vec![
                Field::new("b", FieldType::Bool, ""),
                Field::new("i", FieldType::Int, ""),
                Field::new("s", FieldType::String, ""),
                Field::new("c", FieldType::CommaStringSlice, ""),
                Field::new("t", FieldType::DurationSecond, ""),
                Field::new("kv", FieldType::KvPairs, ""),
                Field::new("l", FieldType::LowerCaseString, ""),
                Field::new("d", FieldType::Int, "").default_value(json!(9)),
                Field::new("ss", FieldType::StringSlice, ""),
            ],
        );
        d.validate().unwrap();
        assert!(d.get_bool("b").unwrap());
        assert_eq!(d.get_i64("i").unwrap(), 42);
        assert_eq!(d.get_str("s").unwrap(), "7");
        assert_eq!(d.get_strings("c").unwrap(), vec!["a", "b"]);
        assert_eq!(d.get_duration("t").unwrap().as_secs(), 3600);
        assert_eq!(d.get_map("kv").unwrap()["y"], "2");
        assert_eq!(d.get_str("l").unwrap(), "mixed");
        assert_eq!(d.get_i64("d").unwrap(), 9);
        assert!(d.get_strings("ss").unwrap().is_empty());
        assert!(!d.is_set("d"));
    }

    #[test]
    fn bad_values_are_400() {
        let d = fd(json!({"i": "x"}), vec![Field::new("i", FieldType::Int, "")]);
        let e = d.validate().unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.to_string().contains("\"i\""));
        let d = fd(
            json!({"b": "maybe"}),
            vec![Field::new("b", FieldType::Bool, "")],
        );
        assert!(d.validate().is_err());
    }
}
