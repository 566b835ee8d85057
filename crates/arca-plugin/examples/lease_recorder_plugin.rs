//! A secrets engine served as an external plugin that issues leased secrets and records what
//! the host's expiration manager asks of it over Vault's plugin protocol; the lease tests of
//! the real binary drive it. Everything it keeps lives in the host's storage.
//!
//! - `config` (write): `ttl`, `max_ttl` (seconds), `renewable`, `fail_revoke`;
//! - `creds/<name>` (read): a secret for `name` with the configured lease, its internal data
//!   naming `name`;
//! - revoke (the core's `Operation::Revoke`): counted in `stats`; fails with `revoke failed on
//!   purpose` while `fail_revoke` is set, else records `revoked/<name>`;
//! - renew (the core's `Operation::Renew`): counted in `stats`; answers the configured lease;
//! - `revoked` (list), `stats` (read): what was revoked, and how many revoke attempts and
//!   renewals it saw.
//!
//! Build with `cargo build -p arca-plugin --example lease_recorder_plugin`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use arca_sdk::storage::StorageExt;
use arca_sdk::{
    Backend, BackendConfig, BackendType, ExistenceCheck, Factory, JsonMap, LeaseOptions,
    LogicalError, Operation, Request, Response, Secret, SpecialPaths, Storage,
};
use async_trait::async_trait;
use futures::FutureExt;
use serde_json::{Value, json};

struct LeaseRecorder;

fn object(v: Value) -> JsonMap {
    match v {
        Value::Object(m) => m,
        _ => JsonMap::new(),
    }
}

async fn read(storage: &dyn Storage, key: &str) -> Result<JsonMap, LogicalError> {
    Ok(storage.get_json::<JsonMap>(key).await?.unwrap_or_default())
}

/// Adds one to the counter `name` in `stats`.
async fn count(storage: &dyn Storage, name: &str) -> Result<(), LogicalError> {
    let mut stats = read(storage, "stats").await?;
    let n = stats.get(name).and_then(Value::as_u64).unwrap_or(0) + 1;
    stats.insert(name.into(), json!(n));
    storage.put_json("stats", &stats).await
}

fn secret(cfg: &JsonMap, internal: JsonMap) -> Secret {
    let secs = |k: &str| Duration::from_secs(cfg.get(k).and_then(Value::as_u64).unwrap_or(0));
    Secret {
        lease: LeaseOptions {
            ttl: secs("ttl"),
            max_ttl: secs("max_ttl"),
            renewable: cfg
                .get("renewable")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            ..LeaseOptions::default()
        },
        internal_data: internal,
        lease_id: String::new(),
    }
}

#[async_trait]
impl Backend for LeaseRecorder {
    async fn handle_request(&self, req: Request) -> Result<Option<Response>, LogicalError> {
        let storage = req.storage()?.clone();
        let storage = storage.as_ref();
        let path = req.path.trim_end_matches('/');
        match (req.operation, path) {
            (Operation::Update | Operation::Create, "config") => {
                storage.put_json("config", &req.data).await?;
                Ok(None)
            }
            (Operation::Read, p) if p.starts_with("creds/") => {
                let name = &p["creds/".len()..];
                let cfg = read(storage, "config").await?;
                Ok(Some(Response {
                    data: Some(object(json!({ "username": name }))),
                    secret: Some(secret(&cfg, object(json!({ "username": name })))),
                    ..Response::default()
                }))
            }
            (Operation::Revoke, _) => {
                count(storage, "revoke_attempts").await?;
                let cfg = read(storage, "config").await?;
                if cfg.get("fail_revoke").and_then(Value::as_bool) == Some(true) {
                    return Err(LogicalError::bad_request("revoke failed on purpose"));
                }
                let name = req
                    .secret
                    .as_ref()
                    .and_then(|s| s.internal_data.get("username"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| LogicalError::bad_request("no secret to revoke"))?;
                storage
                    .put_json(&format!("revoked/{name}"), &json!({ "path": req.path }))
                    .await?;
                Ok(None)
            }
            (Operation::Renew, _) => {
                count(storage, "renewals").await?;
                let cfg = read(storage, "config").await?;
                let internal = req
                    .secret
                    .as_ref()
                    .map(|s| s.internal_data.clone())
                    .unwrap_or_default();
                Ok(Some(Response {
                    secret: Some(secret(&cfg, internal)),
                    ..Response::default()
                }))
            }
            (Operation::List, "revoked") => {
                let keys = storage.list("revoked/").await?;
                Ok(Some(Response::with_data(object(json!({ "keys": keys })))))
            }
            (Operation::Read, "stats") => {
                Ok(Some(Response::with_data(read(storage, "stats").await?)))
            }
            _ => Err(LogicalError::UnsupportedPath),
        }
    }

    async fn handle_existence_check(&self, _req: &Request) -> Result<ExistenceCheck, LogicalError> {
        Ok(ExistenceCheck::default())
    }

    fn special_paths(&self) -> SpecialPaths {
        SpecialPaths::default()
    }

    fn backend_type(&self) -> BackendType {
        BackendType::Logical
    }
}

fn factory() -> Factory {
    Arc::new(|_config: BackendConfig| {
        async move { Ok(Arc::new(LeaseRecorder) as Arc<dyn Backend>) }.boxed()
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    arca_plugin::serve(factory()).await
}
