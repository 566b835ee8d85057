//! Runs the shared conformance suite against every backend, plus what only the durable
//! backend promises: data survives a reopen, and its files are owner-only.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::collections::HashMap;
use std::sync::Arc;

use arca_storage::conformance::{run_concurrent_tasks, run_conformance};
use arca_storage::{DB_FILE_NAME, FileBackend, InmemBackend, PhysicalBackend, open_backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn inmem_conforms() {
    run_conformance(&InmemBackend::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn inmem_survives_concurrent_tasks() {
    run_concurrent_tasks(Arc::new(InmemBackend::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let backend = FileBackend::open(dir.path()).unwrap();
    run_conformance(&backend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_survives_concurrent_tasks() {
    let dir = tempfile::tempdir().unwrap();
    run_concurrent_tasks(Arc::new(FileBackend::open(dir.path()).unwrap())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn factory_backends_conform() {
    run_conformance(&*open_backend("inmem", &HashMap::new()).unwrap()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = HashMap::from([(
        "path".to_owned(),
        dir.path().join("store").to_str().unwrap().to_owned(),
    )]);
    run_conformance(&*open_backend("file", &config).unwrap()).await;
}

#[tokio::test]
async fn file_data_survives_drop_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let backend = FileBackend::open(dir.path()).unwrap();
        backend
            .put("core/seal-config", b"\x00sealed\xff".to_vec())
            .await
            .unwrap();
        backend.put("logical/abc/one", b"1".to_vec()).await.unwrap();
        backend.put("logical/abc/two", b"2".to_vec()).await.unwrap();
        backend.delete("logical/abc/two").await.unwrap();
    }
    let backend = FileBackend::open(dir.path()).unwrap();
    assert_eq!(
        backend.get("core/seal-config").await.unwrap(),
        Some(b"\x00sealed\xff".to_vec())
    );
    assert_eq!(backend.get("logical/abc/two").await.unwrap(), None);
    assert_eq!(backend.list("").await.unwrap(), ["core/", "logical/"]);
    assert_eq!(backend.list("logical/abc/").await.unwrap(), ["one"]);
}

#[cfg(unix)]
#[tokio::test]
async fn file_backend_is_owner_only() {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nested/data");
    let backend = FileBackend::open(&dir).unwrap();
    backend.put("k", b"v".to_vec()).await.unwrap();
    let file = dir.join(DB_FILE_NAME);
    assert_eq!(mode(&dir), 0o700, "directory mode");
    assert_eq!(mode(&file), 0o600, "database file mode");
    drop(backend);

    // Loosened by someone else: the next open tightens both again, and keeps the data.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let backend = FileBackend::open(&dir).unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(backend.get("k").await.unwrap(), Some(b"v".to_vec()));
}
