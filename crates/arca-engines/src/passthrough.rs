//! What KV v1 and cubbyhole share: values stored as one plain record per key, listed by
//! storage prefix, and the small router both use (neither has typed fields: any JSON object is
//! a value, so the body must reach the handler untouched, `path` key included).

use arca_sdk::{
    BackendType, JsonMap, LogicalError, Operation, Request, Response, SpecialPaths, Storage,
};
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

/// The framework's help response shape, `{"help": text, "openapi": ..., "see_also": null}`,
/// for a mount whose one path `{path}` (any key) is read, listed, written and deleted;
/// `synopsis` describes it in the OpenAPI document. Operation ids start with the
/// `requestResponsePrefix` the core's help request gives.
pub(crate) fn help_response(req: &Request, text: &str, synopsis: &str) -> Response {
    use arca_sdk::framework::openapi::{DocContext, OasDocument, PathDoc};
    use arca_sdk::framework::{Field, FieldType};
    let prefix = req
        .data
        .get("requestResponsePrefix")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let path = PathDoc {
        path: "{path}".into(),
        synopsis: synopsis.into(),
        operations: vec![
            Operation::Create,
            Operation::Read,
            Operation::Update,
            Operation::Delete,
            Operation::List,
        ],
        fields: vec![Field::new(
            "path",
            FieldType::String,
            "Specifies the path of the secret.",
        )],
    };
    let mut doc = OasDocument::new(env!("CARGO_PKG_VERSION"));
    doc.add_path(
        &path,
        &DocContext {
            special: &SpecialPaths::default(),
            backend_type: BackendType::Logical,
            prefix,
        },
    );
    doc.help_response(text)
}
