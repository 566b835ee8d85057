//! The host side driving the example plugins: launch through `external_factory`, write/read/
//! list/delete through the plugin into the host's storage, an auth login, a leased secret
//! renewed and revoked over the protocol, the sha256 check and shutdown.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arca_plugin::{PluginLauncher, external_factory, sha256_file};
use arca_sdk::storage::MemoryStorage;
use arca_sdk::storage::StorageExt;
use arca_sdk::{
    Auth, BackendConfig, BackendType, JsonMap, LogicalError, Operation, Request, Secret,
    StaticSystemView, Storage,
};
use serde_json::{Value, json};

fn config(storage: Arc<dyn Storage>) -> BackendConfig {
    BackendConfig {
        storage,
        system: Arc::new(StaticSystemView::default()),
        config: HashMap::from([("plugin_name".to_string(), "kv_plugin".to_string())]),
        backend_uuid: "0b0c4f0e-0000-4000-8000-000000000001".into(),
    }
}

fn req(op: Operation, path: &str, data: serde_json::Value) -> Request {
    Request::new(op, path).with_data(data.as_object().cloned().unwrap_or_default())
}

#[tokio::test]
async fn kv_round_trip_through_the_host_side() {
    let bin = common::example_binary("kv_plugin");
    let sha = sha256_file(&bin).unwrap();
    let mem = Arc::new(MemoryStorage::new());
    let factory = external_factory(bin, vec![], vec![("FROM_CATALOG".into(), "1".into())], sha);
    let backend = factory(config(mem.clone())).await.unwrap();
    assert_eq!(backend.backend_type(), BackendType::Logical);
    backend.initialize().await.unwrap();

    let ex = backend
        .handle_existence_check(&req(Operation::Create, "app/db", json!({})))
        .await
        .unwrap();
    assert!(ex.check_found && !ex.exists);

    let w = backend
        .handle_request(req(
            Operation::Update,
            "app/db",
            json!({"user": "alice", "n": 2}),
        ))
        .await
        .unwrap();
    assert!(w.is_none());
    // The plugin wrote through the brokered Storage into the host's storage.
    let stored = mem
        .get("app/db")
        .await
        .unwrap()
        .expect("entry in host storage");
    let v: serde_json::Value = serde_json::from_slice(&stored.value).unwrap();
    assert_eq!(v, json!({"user": "alice", "n": 2}));

    let r = backend
        .handle_request(req(Operation::Read, "app/db", json!({})))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.data.unwrap()["user"], "alice");

    let l = backend
        .handle_request(req(Operation::List, "app/", json!({})))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(l.data.unwrap()["keys"], json!(["db"]));

    // An error response keeps its text and status.
    let e = backend
        .handle_request(req(Operation::Update, "", json!({"a": 1})))
        .await
        .unwrap_err();
    assert_eq!(e, LogicalError::bad_request("missing path"));
    // An operation the path does not serve.
    let e = backend
        .handle_request(req(Operation::Patch, "x", json!({})))
        .await
        .unwrap_err();
    assert_eq!(e, LogicalError::UnsupportedOperation);

    backend
        .handle_request(req(Operation::Delete, "app/db", json!({})))
        .await
        .unwrap();
    assert!(mem.get("app/db").await.unwrap().is_none());
    let gone = backend
        .handle_request(req(Operation::Read, "app/db", json!({})))
        .await
        .unwrap();
    assert!(gone.is_none());

    // Cleanup shuts the process down; later calls fail with an rpc error.
    tokio::time::timeout(Duration::from_secs(10), backend.cleanup())
        .await
        .expect("cleanup finishes");
    let after = backend
        .handle_request(req(Operation::Read, "app/db", json!({})))
        .await
        .unwrap_err();
    assert!(after.to_string().starts_with("rpc error:"), "{after}");
}

#[tokio::test]
async fn auth_plugin_login() {
    let bin = common::example_binary("auth_plugin");
    let sha = sha256_file(&bin).unwrap();
    let backend = PluginLauncher::new(bin, vec![], vec![], sha).factory()(config(Arc::new(
        MemoryStorage::new(),
    )))
    .await
    .unwrap();
    assert_eq!(backend.backend_type(), BackendType::Credential);
    assert_eq!(backend.special_paths().unauthenticated, vec!["login"]);
    backend.initialize().await.unwrap();
    backend
        .handle_request(req(
            Operation::Update,
            "config",
            json!({"username": "bob", "password": "hunter2"}),
        ))
        .await
        .unwrap();
    let bad = backend
        .handle_request(req(
            Operation::Update,
            "login",
            json!({"username": "bob", "password": "nope"}),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        bad,
        LogicalError::bad_request("invalid username or password")
    );
    let ok = backend
        .handle_request(req(
            Operation::Update,
            "login",
            json!({"username": "bob", "password": "hunter2"}),
        ))
        .await
        .unwrap()
        .unwrap();
    let auth = ok.auth.expect("login returns auth");
    assert_eq!(auth.policies, vec!["default"]);
    assert_eq!(auth.display_name, "bob");
    assert_eq!(auth.lease.ttl, Duration::from_secs(3600));
    backend.cleanup().await;
}

/// The core's renewal or revocation of `secret` (issued with `data`) as it reaches a backend.
fn lease_request(op: Operation, secret: &Secret, data: &JsonMap) -> Request {
    let mut r = Request::new(op, "creds/x").with_data(data.clone());
    r.secret = Some(secret.clone());
    r
}

#[tokio::test]
async fn leased_secret_renewed_and_revoked_over_the_protocol() {
    let bin = common::example_binary("lease_plugin");
    let sha = sha256_file(&bin).unwrap();
    let mem = Arc::new(MemoryStorage::new());
    let backend = external_factory(bin, vec![], vec![], sha)(config(mem.clone()))
        .await
        .unwrap();
    backend.initialize().await.unwrap();
    backend
        .handle_request(req(
            Operation::Update,
            "config",
            json!({"ttl": "1m", "max_ttl": "5m"}),
        ))
        .await
        .unwrap();

    // The plugin's secret crosses with its type, internal data and lease timing.
    let issued = backend
        .handle_request(req(Operation::Read, "creds/x", json!({})))
        .await
        .unwrap()
        .unwrap();
    let data = issued.data.clone().unwrap();
    let username = data["username"].as_str().unwrap().to_string();
    let mut secret = issued.secret.clone().expect("a leased secret");
    assert_eq!(
        Value::Object(secret.internal_data.clone()),
        json!({"secret_type": "cred", "username": username})
    );
    assert_eq!(secret.lease.ttl, Duration::from_secs(60));
    assert_eq!(secret.lease.max_ttl, Duration::from_secs(300));
    assert!(secret.lease.renewable);
    assert_eq!(secret.lease_id, "");

    // What the core stores and sends back: the lease id, issue time and the asked increment.
    secret.lease_id = "lease/creds/x/abc123".into();
    secret.lease.issue_time = Some("2026-01-02T03:04:05.123456789Z".into());
    secret.lease.increment = Duration::from_secs(90);
    let renewed = backend
        .handle_request(lease_request(Operation::Renew, &secret, &data))
        .await
        .unwrap()
        .expect("a renewal answers");
    let back = renewed.secret.expect("the renewed secret comes back");
    assert_eq!(back.lease_id, "lease/creds/x/abc123");
    assert_eq!(
        back.lease.issue_time.as_deref(),
        Some("2026-01-02T03:04:05.123456789Z")
    );
    assert_eq!(back.lease.increment, Duration::from_secs(90));
    assert_eq!(back.lease.ttl, Duration::from_secs(60));
    assert_eq!(back.lease.max_ttl, Duration::from_secs(300));
    assert_eq!(back.internal_data, secret.internal_data);
    let count: Option<Value> = mem.get_json(&format!("renewals/{username}")).await.unwrap();
    assert_eq!(
        count,
        Some(
            json!({"count": 1, "lease_id": "lease/creds/x/abc123", "increment": 90,
                    "issue_time": "2026-01-02T03:04:05.123456789Z"})
        )
    );

    // A failing revocation keeps its text and records nothing.
    backend
        .handle_request(req(
            Operation::Update,
            "config",
            json!({"fail_revoke": true}),
        ))
        .await
        .unwrap();
    let e = backend
        .handle_request(lease_request(Operation::Revoke, &secret, &data))
        .await
        .unwrap_err();
    assert_eq!(e.status(), 500, "{e}");
    assert!(
        e.to_string()
            .contains("revocation refused: fail_revoke is set"),
        "{e}"
    );
    assert!(mem.list("revoked/").await.unwrap().is_empty());

    // The revocation reaches the type's handler with the secret and the original data.
    backend
        .handle_request(req(
            Operation::Update,
            "config",
            json!({"fail_revoke": false}),
        ))
        .await
        .unwrap();
    let revoked = backend
        .handle_request(lease_request(Operation::Revoke, &secret, &data))
        .await
        .unwrap();
    assert!(revoked.is_none());
    let record: Option<Value> = mem.get_json(&format!("revoked/{username}")).await.unwrap();
    assert_eq!(
        record,
        Some(
            json!({"username": username, "count": 1, "lease_id": "lease/creds/x/abc123",
                    "path": "creds/x", "data_username": username})
        )
    );
    // Both revocations (the refused one too) and the renewal were counted.
    let stats: Option<Value> = mem.get_json("stats").await.unwrap();
    assert_eq!(stats, Some(json!({"revoke_attempts": 2, "renewals": 1})));

    // Vault's framework errors cross as they are.
    let mut foreign = secret.clone();
    foreign
        .internal_data
        .insert("secret_type".into(), json!("other"));
    let e = backend
        .handle_request(lease_request(Operation::Revoke, &foreign, &data))
        .await
        .unwrap_err();
    assert_eq!(e.status(), 500);
    assert!(
        e.to_string()
            .contains("secret is unsupported by this backend"),
        "{e}"
    );
    let mut login = req(Operation::Renew, "login", json!({}));
    login.auth = Some(Auth::default());
    let e = backend.handle_request(login).await.unwrap_err();
    assert_eq!(
        e,
        LogicalError::bad_request("this auth type doesn't support renew")
    );
    backend.cleanup().await;
}

#[tokio::test]
async fn wrong_sha256_is_refused_before_exec() {
    let bin = common::example_binary("kv_plugin");
    let factory = external_factory(bin, vec![], vec![], [0u8; 32]);
    let err = match factory(config(Arc::new(MemoryStorage::new()))).await {
        Ok(_) => panic!("a wrong checksum must not start the plugin"),
        Err(e) => e,
    };
    assert_eq!(err.to_string(), "checksums did not match");
}

#[tokio::test]
async fn a_non_plugin_binary_fails_the_handshake() {
    let bin = std::path::PathBuf::from("/bin/true");
    if !bin.exists() {
        return;
    }
    let sha = sha256_file(&bin).unwrap();
    let mut launcher = PluginLauncher::new(bin, vec![], vec![], sha);
    launcher.start_timeout = Duration::from_secs(5);
    let err = match launcher
        .launch(config(Arc::new(MemoryStorage::new())))
        .await
    {
        Ok(_) => panic!("/bin/true is not a plugin"),
        Err(e) => e,
    };
    assert!(
        err.to_string()
            .starts_with("Unrecognized remote plugin message"),
        "{err}"
    );
}

#[tokio::test]
async fn runtime_runs_a_catalog_entry_from_the_plugin_directory() {
    use arca_plugin::ExternalPluginRuntime;
    use arca_sdk::plugin_catalog::{PluginCatalogEntry, PluginRuntime, PluginType};

    let bin = common::example_binary("kv_plugin");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&bin, dir.path().join("kvp")).unwrap();
    let mut entry = PluginCatalogEntry {
        name: "kvp".into(),
        plugin_type: PluginType::Secret,
        version: String::new(),
        command: "kvp".into(),
        args: vec![],
        env: vec!["X=1".into()],
        sha256: sha256_file(&bin).unwrap().to_vec(),
        builtin: false,
    };
    let factory = ExternalPluginRuntime
        .factory(&entry, dir.path())
        .await
        .unwrap();
    let mem = Arc::new(MemoryStorage::new());
    let backend = factory(config(mem.clone())).await.unwrap();
    backend.initialize().await.unwrap();
    backend
        .handle_request(req(Operation::Update, "k", json!({"v": 1})))
        .await
        .unwrap();
    assert!(mem.get("k").await.unwrap().is_some());
    backend.cleanup().await;

    // The checksum is checked again right before exec.
    entry.sha256 = vec![1u8; 32];
    let factory = ExternalPluginRuntime
        .factory(&entry, dir.path())
        .await
        .unwrap();
    let err = match factory(config(mem)).await {
        Ok(_) => panic!("wrong checksum accepted"),
        Err(e) => e,
    };
    assert_eq!(err.to_string(), "checksums did not match");
}
