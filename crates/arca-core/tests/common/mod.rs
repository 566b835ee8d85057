//! Shared harness of the core's integration tests: an unsealed in-memory core and a request
//! helper that goes through the whole pipeline.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use arca_core::{Core, CoreConfig};
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response};
use serde_json::Value;
use zeroize::Zeroizing;

/// An initialized, unsealed core on in-memory storage, and its root token.
pub async fn core() -> (Core, String) {
    let core = Core::new(CoreConfig::new(
        Arc::new(arca_storage::InmemBackend::new()),
        "inmem",
    ));
    let init = core.initialize(1, 1, None).await.unwrap();
    core.unseal_with_key(&init.keys[0]).await.unwrap();
    (core, init.root_token.to_string())
}

/// Sends `op` on `path` with a JSON object body and `token` (none when empty).
pub async fn call(
    core: &Core,
    op: Operation,
    path: &str,
    body: Value,
    token: &str,
) -> Result<Option<Response>, LogicalError> {
    call_in(core, "", op, path, body, token).await
}

/// [`call`] in namespace `ns` (the header's value: `""` for the root, else `team-a/`).
pub async fn call_in(
    core: &Core,
    ns: &str,
    op: Operation,
    path: &str,
    body: Value,
    token: &str,
) -> Result<Option<Response>, LogicalError> {
    let data: JsonMap = match body {
        Value::Object(m) => m,
        _ => JsonMap::new(),
    };
    let mut req = Request::new(op, path).with_data(data);
    if !token.is_empty() {
        req.client_token = Some(Zeroizing::new(token.to_string()));
    }
    req.namespace_path = ns.to_string();
    core.handle_request(req).await
}
