//! A tiny key/value secrets engine served as an external plugin: read, write, list and delete
//! JSON objects under its mount, stored through the host's storage.
//!
//! Build with `cargo build -p arca-plugin --example kv_plugin`, register the binary in the
//! plugin catalog and mount it (`bao secrets enable -path=kvp kv_plugin`).

use std::process::ExitCode;
use std::sync::Arc;

use arca_sdk::framework::{FrameworkBackend, PathDef, existence, handler, match_all_regex};
use arca_sdk::storage::StorageExt;
use arca_sdk::{
    Backend, BackendConfig, BackendType, Factory, JsonMap, LogicalError, Operation, Response,
};
use futures::FutureExt;

fn kv_backend() -> FrameworkBackend {
    FrameworkBackend::new(
        BackendType::Logical,
        "A tiny KV engine running as a plugin.",
    )
    .path(
        PathDef::new(match_all_regex("path"))
            .accept_unknown()
            .existence(existence(|req, _d| async move {
                Ok(req.storage()?.get(&req.path).await?.is_some())
            }))
            .op(
                Operation::Read,
                handler(|req, _d| async move {
                    let value: Option<JsonMap> = req.storage()?.get_json(&req.path).await?;
                    Ok(value.map(Response::with_data))
                }),
            )
            .op(
                Operation::Update,
                handler(|req, d| async move {
                    if req.path.is_empty() {
                        return Err(LogicalError::bad_request("missing path"));
                    }
                    let mut data = d.into_raw();
                    data.remove("path");
                    req.storage()?.put_json(&req.path, &data).await?;
                    Ok(None)
                }),
            )
            .op(
                Operation::Delete,
                handler(|req, _d| async move {
                    req.storage()?.delete(&req.path).await?;
                    Ok(None)
                }),
            )
            .op(
                Operation::List,
                handler(|req, _d| async move {
                    let keys = req.storage()?.list(&req.path).await?;
                    let mut data = JsonMap::new();
                    data.insert("keys".into(), keys.into());
                    Ok(Some(Response::with_data(data)))
                }),
            ),
    )
}

fn factory() -> Factory {
    Arc::new(|_config: BackendConfig| {
        // A go-plugin style log line on stderr: the host logs it at its level.
        eprintln!("[WARN]  kv_plugin: example engine mounted; it is not meant for production");
        async move { Ok(Arc::new(kv_backend()) as Arc<dyn Backend>) }.boxed()
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    arca_plugin::serve(factory()).await
}
