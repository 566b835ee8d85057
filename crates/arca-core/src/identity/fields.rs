//! Reading the identity endpoints' parameters, converted as OpenBao's framework fields are
//! (through the SDK's one converter, with its 400 texts).

use std::collections::BTreeMap;

use arca_sdk::framework::{FieldType, convert_field};
use arca_sdk::{JsonMap, LogicalError};
use serde_json::Value;

/// A string parameter, if given.
pub(crate) fn string(d: &JsonMap, name: &str) -> Result<Option<String>, LogicalError> {
    match d.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => Ok(convert_field(name, FieldType::String, v)?
            .as_str()
            .map(str::to_string)),
    }
}

/// A string parameter, empty when not given.
pub(crate) fn string_or_empty(d: &JsonMap, name: &str) -> Result<String, LogicalError> {
    Ok(string(d, name)?.unwrap_or_default())
}

/// A list of strings (a string is split on commas), if given.
pub(crate) fn strings(d: &JsonMap, name: &str) -> Result<Option<Vec<String>>, LogicalError> {
    match d.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let list = convert_field(name, FieldType::CommaStringSlice, v)?;
            Ok(Some(
                list.as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect()
                    })
                    .unwrap_or_default(),
            ))
        }
    }
}

/// Key/value pairs (an object or `k=v` strings), if given.
pub(crate) fn kv(
    d: &JsonMap,
    name: &str,
) -> Result<Option<BTreeMap<String, String>>, LogicalError> {
    match d.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let m = convert_field(name, FieldType::KvPairs, v)?;
            Ok(Some(
                m.as_object()
                    .map(|o| {
                        o.iter()
                            .map(|(k, v)| {
                                let v = v
                                    .as_str()
                                    .map(str::to_string)
                                    .unwrap_or_else(|| v.to_string());
                                (k.clone(), v)
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            ))
        }
    }
}

/// A boolean parameter, if given.
pub(crate) fn boolean(d: &JsonMap, name: &str) -> Result<Option<bool>, LogicalError> {
    match d.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => Ok(convert_field(name, FieldType::Bool, v)?.as_bool()),
    }
}
