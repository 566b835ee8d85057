//! What KV v1 and cubbyhole share: values stored as one plain record per key, listed by
//! storage prefix, and the small router both use (neither has typed fields: any JSON object is
//! a value, so the body must reach the handler untouched, `path` key included).

use arca_sdk::{JsonMap, LogicalError, Response, Storage};
use serde_json::Value;

use crate::record::{decode_plain, encode_plain};

/// Reads the value stored at `key`.
pub(crate) async fn read(
    storage: &dyn Storage,
    key: &str,
) -> Result<Option<JsonMap>, LogicalError> {
    match storage.get(key).await? {
        Some(entry) => Ok(Some(decode_plain(&entry)?)),
        None => Ok(None),
    }
}

/// Stores `data` at `key`.
pub(crate) async fn write(
    storage: &dyn Storage,
    key: &str,
    data: &JsonMap,
) -> Result<(), LogicalError> {
    storage.put(encode_plain(key, data)?).await?;
    Ok(())
}

/// The children of `prefix` as `{"keys": [...]}`; a 404 with no body when there are none.
pub(crate) async fn list(
    storage: &dyn Storage,
    prefix: &str,
) -> Result<Option<Response>, LogicalError> {
    let keys = storage.list(prefix).await?;
    if keys.is_empty() {
        return Err(not_found());
    }
    Ok(Some(keys_response(keys)))
}

/// `{"keys": keys}`.
pub(crate) fn keys_response(keys: Vec<String>) -> Response {
    let mut data = JsonMap::new();
    data.insert(
        "keys".into(),
        Value::Array(keys.into_iter().map(Value::String).collect()),
    );
    Response::with_data(data)
}

/// Vault's bare 404 (`{"errors":[]}` on the wire).
pub(crate) fn not_found() -> LogicalError {
    LogicalError::empty_not_found()
}

/// A path listed as a directory: empty or ending in `/`.
pub(crate) fn as_dir(path: &str) -> String {
    if path.is_empty() || path.ends_with('/') {
        path.to_string()
    } else {
        format!("{path}/")
    }
}

/// The framework's help response shape: `{"help": text, "see_also": null}`.
pub(crate) fn help_response(text: &str) -> Response {
    let mut data = JsonMap::new();
    data.insert("help".into(), Value::String(text.to_string()));
    data.insert("see_also".into(), Value::Null);
    Response::with_data(data)
}
