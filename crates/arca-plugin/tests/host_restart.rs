//! The host side when things go wrong or are shared: a plugin killed with SIGKILL is relaunched
//! on the next call (once, even for many concurrent calls; checksum checked again), and a
//! multiplexing plugin serves several mounts from one process, each with its own storage,
//! surviving the cleanup of one of them and relaunched once for all after a crash.
//!
//! Each test gives its launcher a distinct environment entry, so the tests never share a
//! process through the host's registry of multiplexed processes.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arca_plugin::{ExternalBackend, PluginLauncher, sha256_file};
use arca_sdk::storage::MemoryStorage;
use arca_sdk::{Backend, BackendConfig, Operation, Request, StaticSystemView, Storage};
use serde_json::json;

fn config(storage: Arc<dyn Storage>) -> BackendConfig {
    BackendConfig {
        storage,
        system: Arc::new(StaticSystemView::default()),
        config: HashMap::from([("plugin_name".to_string(), "kv_plugin".to_string())]),
        backend_uuid: "0b0c4f0e-0000-4000-8000-000000000002".into(),
    }
}

fn req(op: Operation, path: &str, data: serde_json::Value) -> Request {
    Request::new(op, path).with_data(data.as_object().cloned().unwrap_or_default())
}

/// A private copy of the example KV plugin (so tests may replace the file).
fn private_copy(dir: &Path) -> PathBuf {
    let bin = common::example_binary("kv_plugin");
    let path = dir.join("kvp");
    std::fs::copy(&bin, &path).unwrap();
    path
}

fn launcher(bin: PathBuf, case: &str) -> PluginLauncher {
    let sha = sha256_file(&bin).unwrap();
    PluginLauncher::new(bin, vec![], vec![("TEST_CASE".into(), case.into())], sha)
}

async fn mount(l: &PluginLauncher, storage: Arc<dyn Storage>) -> Arc<ExternalBackend> {
    let b = l.launch(config(storage)).await.unwrap();
    b.initialize().await.unwrap();
    b
}

fn kill9(pid: u32) {
    let ok = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -9 {pid}");
}

fn alive(pid: u32) -> bool {
    // A zombie still has a /proc entry; its state is Z.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

async fn write(b: &ExternalBackend, path: &str, v: serde_json::Value) {
    b.handle_request(req(Operation::Update, path, v))
        .await
        .unwrap();
}

async fn read(b: &ExternalBackend, path: &str) -> Option<serde_json::Value> {
    b.handle_request(req(Operation::Read, path, json!({})))
        .await
        .unwrap()
        .and_then(|r| r.data)
        .map(|d| serde_json::Value::Object(d.into_iter().collect()))
}

#[tokio::test]
async fn a_killed_plugin_is_relaunched_once_on_the_next_calls() {
    let dir = tempfile::tempdir().unwrap();
    let l = launcher(private_copy(dir.path()), "restart");
    let mem = Arc::new(MemoryStorage::new());
    let b = mount(&l, mem.clone()).await;
    write(&b, "app", json!({"password": "hunter2"})).await;
    let first = b.pid().await.expect("running");
    assert_eq!(b.restarts(), 0);

    kill9(first);
    // Many calls at once: each succeeds, and they share a single relaunch.
    let reads: Vec<_> = (0..8).map(|_| read(&b, "app")).collect();
    for got in futures::future::join_all(reads).await {
        assert_eq!(got.unwrap()["password"], "hunter2");
    }
    assert_eq!(b.restarts(), 1);
    let second = b.pid().await.expect("running again");
    assert_ne!(first, second);
    assert!(alive(second) && !alive(first));

    // The relaunched plugin writes to the same storage.
    write(&b, "after", json!({"n": 1})).await;
    assert!(mem.get("after").await.unwrap().is_some());

    // A binary that no longer matches the checksum is not relaunched.
    let path = dir.path().join("kvp");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"\0tampered");
    let tmp = dir.path().join("kvp.tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    kill9(second);
    let err = b
        .handle_request(req(Operation::Read, "app", json!({})))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("checksums did not match"), "{err}");
    b.cleanup().await;
}

#[tokio::test]
async fn an_rpc_error_from_a_live_plugin_is_not_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let l = launcher(private_copy(dir.path()), "no-restart");
    let b = mount(&l, Arc::new(MemoryStorage::new())).await;
    let pid = b.pid().await;
    // The plugin answers an error: it reaches the caller, the process stays.
    let e = b
        .handle_request(req(Operation::Update, "", json!({"a": 1})))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("missing path"), "{e}");
    assert_eq!(b.restarts(), 0);
    assert_eq!(b.pid().await, pid);
    // After cleanup nothing is relaunched.
    let p = pid.unwrap();
    b.cleanup().await;
    assert!(!alive(p));
    let after = b
        .handle_request(req(Operation::Read, "x", json!({})))
        .await
        .unwrap_err();
    assert!(after.to_string().starts_with("rpc error:"), "{after}");
    assert_eq!(b.restarts(), 0);
}

#[tokio::test]
async fn a_multiplexing_plugin_serves_several_mounts_from_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let l = launcher(private_copy(dir.path()), "multiplex");
    let (ma, mb, mc) = (
        Arc::new(MemoryStorage::new()),
        Arc::new(MemoryStorage::new()),
        Arc::new(MemoryStorage::new()),
    );
    let a = mount(&l, ma.clone()).await;
    let b = mount(&l, mb.clone()).await;
    assert!(a.multiplexed() && b.multiplexed());
    let pid = a.pid().await.expect("running");
    assert_eq!(b.pid().await, Some(pid), "one process for both mounts");

    // Each mount has its own backend instance and storage.
    write(&a, "k", json!({"who": "a"})).await;
    write(&b, "k", json!({"who": "b"})).await;
    assert_eq!(read(&a, "k").await.unwrap()["who"], "a");
    assert_eq!(read(&b, "k").await.unwrap()["who"], "b");
    assert!(ma.get("k").await.unwrap().is_some() && mb.get("k").await.unwrap().is_some());

    // A reload of mount a: its new instance joins the process, the old one is cleaned up;
    // b keeps working on the same process.
    let a2 = mount(&l, ma.clone()).await;
    a.cleanup().await;
    assert!(alive(pid));
    assert_eq!(read(&b, "k").await.unwrap()["who"], "b");
    assert_eq!(read(&a2, "k").await.unwrap()["who"], "a");
    assert_eq!(a2.pid().await, Some(pid));
    assert_eq!(b.restarts(), 0);

    // The shared process dies: every mount comes back, on one new process.
    kill9(pid);
    let c_mount = async {
        // A mount created once the reads have brought the new process up lands there too
        // (waiting for that condition, not for a fixed time).
        arca_testkit::wait_until_async(
            "mount b to restart",
            std::time::Duration::from_secs(60),
            || async { (b.restarts() > 0).then_some(()) },
        )
        .await;
        mount(&l, mc.clone()).await
    };
    let (rb, ra, c) = tokio::join!(read(&b, "k"), read(&a2, "k"), c_mount);
    assert_eq!(rb.unwrap()["who"], "b");
    assert_eq!(ra.unwrap()["who"], "a");
    let new_pid = b.pid().await.expect("running");
    assert_ne!(new_pid, pid);
    assert_eq!(a2.pid().await, Some(new_pid));
    assert_eq!(c.pid().await, Some(new_pid));
    assert!(
        c.handle_request(req(Operation::Read, "k", json!({})))
            .await
            .unwrap()
            .is_none()
    );

    // The process ends with its last mount.
    b.cleanup().await;
    a2.cleanup().await;
    assert!(alive(new_pid));
    c.cleanup().await;
    assert!(!alive(new_pid));
}
