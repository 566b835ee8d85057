//! A secrets engine that issues leased credentials, served as an external plugin: the tests of
//! the core's expiration manager drive it through Vault's plugin protocol.
//!
//! - `config` (read, write): `ttl`, `max_ttl` (durations) and `fail_revoke` (bool) for the
//!   credentials issued from then on and for renewals and revocations;
//! - `creds/<name>` (read): a new credential `{username, password}` (username `<name>-<random>`)
//!   with a lease of secret type `cred`: renewable, internal data `{username}`, TTL and max TTL
//!   from `config`;
//! - renewing a `cred` lease answers with the configured TTL and max TTL and records the latest
//!   renewal under `renewals/<username>` (read: `{"count", "lease_id", "increment" (seconds),
//!   "issue_time"}` as the request's secret carried them);
//! - revoking a `cred` lease records `revoked/<username>` (read: `{"username", "count",
//!   "lease_id", "path", "data_username"}`; LIST `revoked/`), or fails while `fail_revoke` is
//!   set with `revocation refused: fail_revoke is set`, recording nothing there;
//! - `stats` (read): `{"revoke_attempts", "renewals"}`, every revocation the plugin was asked
//!   for (failed ones included) and every renewal, over all credentials.
//!
//! Build with `cargo build -p arca-plugin --example lease_plugin`.

use std::process::ExitCode;
use std::sync::Arc;

use arca_sdk::framework::{
    Field, FieldType, FrameworkBackend, PathDef, SecretType, generic_name_regex, handler,
};
use arca_sdk::storage::StorageExt;
use arca_sdk::{
    Backend, BackendConfig, BackendType, Factory, JsonMap, LogicalError, Operation, Request,
    Response,
};
use futures::FutureExt;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

const CONFIG_KEY: &str = "config";
const STATS_KEY: &str = "stats";

/// Serialises the read-modify-write of `stats`: the core may renew or revoke several leases at
/// once, and one plugin process serves the mount.
static STATS_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn object(v: Value) -> JsonMap {
    match v {
        Value::Object(m) => m,
        _ => JsonMap::new(),
    }
}

fn random(n: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// The stored configuration (`ttl`, `max_ttl` in seconds, `fail_revoke`).
async fn config(req: &Request) -> Result<JsonMap, LogicalError> {
    let stored: Option<JsonMap> = req.storage()?.get_json(CONFIG_KEY).await?;
    Ok(stored.unwrap_or_else(|| object(json!({"ttl": 0, "max_ttl": 0, "fail_revoke": false}))))
}

fn secs(cfg: &JsonMap, key: &str) -> std::time::Duration {
    std::time::Duration::from_secs(cfg.get(key).and_then(Value::as_u64).unwrap_or(0))
}

/// The counters under `stats`; a counter never counted reads 0.
async fn stats(req: &Request) -> Result<JsonMap, LogicalError> {
    let mut stats: JsonMap = req
        .storage()?
        .get_json(STATS_KEY)
        .await?
        .unwrap_or_default();
    for key in ["revoke_attempts", "renewals"] {
        stats.entry(key).or_insert(json!(0));
    }
    Ok(stats)
}

/// Adds one to the `stats` counter `key`.
async fn count(req: &Request, key: &str) -> Result<(), LogicalError> {
    let _serial = STATS_LOCK.lock().await;
    let mut stats = stats(req).await?;
    let n = stats.get(key).and_then(Value::as_u64).unwrap_or(0) + 1;
    stats.insert(key.into(), json!(n));
    req.storage()?.put_json(STATS_KEY, &stats).await
}

/// The username a `cred` lease's internal data names.
fn lease_username(req: &Request) -> Result<String, LogicalError> {
    req.secret
        .as_ref()
        .and_then(|s| s.internal_data.get("username"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| LogicalError::internal("secret has no username"))
}

fn cred_type() -> SecretType {
    SecretType::new("cred")
        .field(Field::new(
            "username",
            FieldType::String,
            "The credential's username.",
        ))
        .renew(handler(|req, _d| async move {
            count(&req, "renewals").await?;
            let cfg = config(&req).await?;
            let username = lease_username(&req)?;
            let storage = req.storage()?;
            let key = format!("renewals/{username}");
            let before: JsonMap = storage.get_json(&key).await?.unwrap_or_default();
            let count = before.get("count").and_then(Value::as_u64).unwrap_or(0) + 1;
            let mut secret = req.secret.clone().unwrap_or_default();
            let record = object(json!({
                "count": count,
                "lease_id": secret.lease_id,
                "increment": secret.lease.increment.as_secs(),
                "issue_time": secret.lease.issue_time,
            }));
            storage.put_json(&key, &record).await?;
            secret.lease.ttl = secs(&cfg, "ttl");
            secret.lease.max_ttl = secs(&cfg, "max_ttl");
            Ok(Some(Response {
                secret: Some(secret),
                ..Response::default()
            }))
        }))
        .revoke(handler(|req, d| async move {
            count(&req, "revoke_attempts").await?;
            let cfg = config(&req).await?;
            if cfg.get("fail_revoke").and_then(Value::as_bool) == Some(true) {
                return Err(LogicalError::internal(
                    "revocation refused: fail_revoke is set",
                ));
            }
            let username = lease_username(&req)?;
            let storage = req.storage()?;
            let key = format!("revoked/{username}");
            let before: JsonMap = storage.get_json(&key).await?.unwrap_or_default();
            let count = before.get("count").and_then(Value::as_u64).unwrap_or(0) + 1;
            let lease_id = req
                .secret
                .as_ref()
                .map(|s| s.lease_id.clone())
                .unwrap_or_default();
            let record = object(json!({
                "username": username,
                "count": count,
                "lease_id": lease_id,
                "path": req.path,
                "data_username": d.get_str("username")?,
            }));
            storage.put_json(&key, &record).await?;
            Ok(None)
        }))
}

fn lease_backend() -> FrameworkBackend {
    let cred = cred_type();
    let issue = cred.clone();
    FrameworkBackend::new(
        BackendType::Logical,
        "Issues leased credentials; for tests.",
    )
    .secret(cred)
    .path(
        PathDef::new("config")
            .field(Field::new("ttl", FieldType::DurationSecond, "Lease TTL."))
            .field(Field::new(
                "max_ttl",
                FieldType::DurationSecond,
                "Lease max TTL.",
            ))
            .field(Field::new(
                "fail_revoke",
                FieldType::Bool,
                "Refuse every revocation.",
            ))
            .op(
                Operation::Read,
                handler(
                    |req, _d| async move { Ok(Some(Response::with_data(config(&req).await?))) },
                ),
            )
            .op(
                Operation::Update,
                handler(|req, d| async move {
                    let mut cfg = config(&req).await?;
                    for (key, value) in [
                        ("ttl", d.get_given("ttl")?),
                        ("max_ttl", d.get_given("max_ttl")?),
                        ("fail_revoke", d.get_given("fail_revoke")?),
                    ] {
                        if let Some(value) = value {
                            cfg.insert(key.into(), value);
                        }
                    }
                    req.storage()?.put_json(CONFIG_KEY, &cfg).await?;
                    Ok(None)
                }),
            ),
    )
    .path(
        PathDef::new(format!("creds/{}", generic_name_regex("name")))
            .field(Field::new("name", FieldType::String, "Credential name."))
            .op(
                Operation::Read,
                handler(move |req, d| {
                    let issue = issue.clone();
                    async move {
                        let cfg = config(&req).await?;
                        let username = format!("{}-{}", d.get_str("name")?, random(8));
                        let data = object(json!({"username": username, "password": random(20)}));
                        let internal = object(json!({"username": username}));
                        let mut resp = issue.response(data, internal);
                        if let Some(secret) = resp.secret.as_mut() {
                            secret.lease.ttl = secs(&cfg, "ttl");
                            secret.lease.max_ttl = secs(&cfg, "max_ttl");
                        }
                        Ok(Some(resp))
                    }
                }),
            ),
    )
    .path(PathDef::new("stats").op(
        Operation::Read,
        handler(|req, _d| async move { Ok(Some(Response::with_data(stats(&req).await?))) }),
    ))
    .path(PathDef::new("revoked/?").op(
        Operation::List,
        handler(|req, _d| async move {
            let keys = req.storage()?.list("revoked/").await?;
            Ok(Some(Response::with_data(object(json!({"keys": keys})))))
        }),
    ))
    .path(
        PathDef::new(format!(
            "(?P<kind>revoked|renewals)/{}",
            generic_name_regex("name")
        ))
        .field(Field::new("kind", FieldType::String, "What was recorded."))
        .field(Field::new("name", FieldType::String, "The username."))
        .op(
            Operation::Read,
            handler(|req, d| async move {
                let key = format!("{}/{}", d.get_str("kind")?, d.get_str("name")?);
                let record: Option<JsonMap> = req.storage()?.get_json(&key).await?;
                Ok(record.map(Response::with_data))
            }),
        ),
    )
}

fn factory() -> Factory {
    Arc::new(|_config: BackendConfig| {
        async move { Ok(Arc::new(lease_backend()) as Arc<dyn Backend>) }.boxed()
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    arca_plugin::serve(factory()).await
}
