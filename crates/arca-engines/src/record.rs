//! The stored form of every record this crate writes: JSON carrying a format marker `"v"`, so a
//! later layout can tell old records from new ones and migrate them.
//!
//! Plain values (KV v1, cubbyhole) are stored as `{"v": 1, "data": {...}}`. A bare JSON object
//! without the marker is read as a value written before the marker existed.

use arca_sdk::{JsonMap, LogicalError, StorageEntry};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::EngineError;

/// The current format of plain value records.
pub(crate) const PLAIN_FORMAT: u64 = 1;

/// Decodes a stored JSON record without serde_json's nesting limit (the HTTP layer already
/// bounds the depth of what clients send, and a stored secret must always read back).
pub(crate) fn decode<T: DeserializeOwned>(entry: &StorageEntry) -> Result<T, EngineError> {
    let corrupt = |e: serde_json::Error| EngineError::Corrupt {
        key: entry.key.clone(),
        reason: e.to_string(),
    };
    let mut de = serde_json::Deserializer::from_slice(&entry.value);
    de.disable_recursion_limit();
    let value = T::deserialize(&mut de).map_err(corrupt)?;
    de.end().map_err(corrupt)?;
    Ok(value)
}

/// Encodes `value` as the JSON record stored at `key`.
pub(crate) fn encode<T: Serialize>(key: &str, value: &T) -> Result<StorageEntry, LogicalError> {
    StorageEntry::json(key, value)
}

/// Encodes a plain value (KV v1, cubbyhole).
pub(crate) fn encode_plain(key: &str, data: &JsonMap) -> Result<StorageEntry, LogicalError> {
    let mut rec = JsonMap::new();
    rec.insert("v".into(), Value::from(PLAIN_FORMAT));
    rec.insert("data".into(), Value::Object(data.clone()));
    encode(key, &rec)
}

/// Decodes a plain value: the marked form, or a bare object written without a marker.
pub(crate) fn decode_plain(entry: &StorageEntry) -> Result<JsonMap, EngineError> {
    let value: Value = decode(entry)?;
    let Value::Object(mut obj) = value else {
        return Err(EngineError::Corrupt {
            key: entry.key.clone(),
            reason: "not a JSON object".into(),
        });
    };
    let marked = obj.len() == 2
        && obj.get("v").and_then(Value::as_u64) == Some(PLAIN_FORMAT)
        && obj.get("data").is_some_and(Value::is_object);
    if marked && let Some(Value::Object(data)) = obj.remove("data") {
        return Ok(data);
    }
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_round_trip_and_legacy() {
        let data = json!({"a": 1, "v": 3}).as_object().cloned().unwrap();
        let e = encode_plain("k", &data).unwrap();
        assert_eq!(decode_plain(&e).unwrap(), data);
        let legacy = StorageEntry::new("k", br#"{"x":"y"}"#.to_vec());
        assert_eq!(decode_plain(&legacy).unwrap()["x"], "y");
        let bad = StorageEntry::new("k", b"[1]".to_vec());
        assert!(decode_plain(&bad).is_err());
    }

    #[test]
    fn deep_nesting_reads_back() {
        let mut v = json!("leaf");
        for _ in 0..600 {
            v = json!({ "n": v });
        }
        let data = json!({ "deep": v }).as_object().cloned().unwrap();
        let e = encode_plain("k", &data).unwrap();
        assert_eq!(decode_plain(&e).unwrap(), data);
    }
}
