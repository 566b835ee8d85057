//! The host side driving the example plugins: launch through `external_factory`, write/read/
//! list/delete through the plugin into the host's storage, an auth login, the sha256 check and
//! shutdown.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arca_plugin::{PluginLauncher, external_factory, sha256_file};
use arca_sdk::storage::MemoryStorage;
use arca_sdk::{
    BackendConfig, BackendType, LogicalError, Operation, Request, StaticSystemView, Storage,
};
use serde_json::json;

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
