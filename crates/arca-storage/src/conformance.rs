//! The behaviour every [`PhysicalBackend`] must show, as a suite any backend's tests can run:
//! `run_conformance(&backend).await` on an empty backend, and `run_concurrent_tasks` on a
//! shared one. A failed check panics with a message naming it.

use std::sync::Arc;

use futures::future::join_all;

use crate::{PhysicalBackend, StorageError, TxnOp};

/// Runs every check on `backend`, which must start empty; the checks write under the top-level
/// prefixes `conf-*`, and leave their keys behind.
pub async fn run_conformance(backend: &dyn PhysicalBackend) {
    let roots = must("list of the root", backend.list("").await);
    assert!(
        roots.is_empty(),
        "run_conformance needs an empty backend, found {roots:?}"
    );
    check_root_listing(backend).await;
    check_get_absent(backend).await;
    check_round_trip(backend).await;
    check_overwrite(backend).await;
    check_delete(backend).await;
    check_list(backend).await;
    check_list_page(backend).await;
    check_transaction(backend).await;
    check_invalid_keys(backend).await;
    check_many_keys(backend).await;
    check_concurrent_puts(backend).await;
}

/// Spawns tasks on the current Tokio runtime that write, read back and list at the same time,
/// then checks that every write landed. Run it on a multi-thread runtime to get real
/// parallelism. Writes under `conf-tasks/`.
pub async fn run_concurrent_tasks(backend: Arc<dyn PhysicalBackend>) {
    const TASKS: usize = 16;
    const PUTS: usize = 25;
    let mut handles = Vec::with_capacity(TASKS);
    for task in 0..TASKS {
        let backend = Arc::clone(&backend);
        handles.push(tokio::spawn(async move {
            for i in 0..PUTS {
                let key = format!("conf-tasks/{task:02}/{i:02}");
                let value = format!("{task}:{i}").into_bytes();
                must("concurrent put", backend.put(&key, value.clone()).await);
                let read = must("concurrent get", backend.get(&key).await);
                assert_eq!(read, Some(value), "read back {key} in task {task}");
                let listed = must("concurrent list", backend.list("conf-tasks/").await);
                assert_sorted_unique(&listed, "concurrent list of conf-tasks/");
            }
        }));
    }
    for handle in handles {
        if let Err(e) = handle.await {
            panic!("a concurrent task failed: {e}");
        }
    }
    let dirs = must("list conf-tasks/", backend.list("conf-tasks/").await);
    let expected: Vec<String> = (0..TASKS).map(|t| format!("{t:02}/")).collect();
    assert_eq!(dirs, expected, "one directory per task");
    for task in 0..TASKS {
        let prefix = format!("conf-tasks/{task:02}/");
        let keys = must("list a task's keys", backend.list(&prefix).await);
        let expected: Vec<String> = (0..PUTS).map(|i| format!("{i:02}")).collect();
        assert_eq!(keys, expected, "every put of task {task} is listed");
    }
}

/// Unwraps `result`, panicking with `what` and the error.
fn must<T>(what: &str, result: Result<T, StorageError>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{what}: unexpected error: {e}"),
    }
}

/// Panics unless `list` is strictly increasing (sorted, no duplicates).
fn assert_sorted_unique(list: &[String], what: &str) {
    for pair in list.windows(2) {
        assert!(
            pair[0] < pair[1],
            "{what}: {:?} then {:?} is not sorted without duplicates",
            pair[0],
            pair[1]
        );
    }
}

/// Lists `prefix`, checks the result is sorted and unique, and returns it.
async fn list(backend: &dyn PhysicalBackend, prefix: &str) -> Vec<String> {
    let listed = must(&format!("list {prefix:?}"), backend.list(prefix).await);
    assert_sorted_unique(&listed, &format!("list {prefix:?}"));
    listed
}

async fn put(backend: &dyn PhysicalBackend, key: &str, value: &[u8]) {
    must(
        &format!("put {key:?}"),
        backend.put(key, value.to_vec()).await,
    );
}

async fn get(backend: &dyn PhysicalBackend, key: &str) -> Option<Vec<u8>> {
    must(&format!("get {key:?}"), backend.get(key).await)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

async fn check_root_listing(backend: &dyn PhysicalBackend) {
    put(backend, "conf-root-leaf", b"1").await;
    put(backend, "conf-root-dir/x", b"2").await;
    put(backend, "conf-root-dir/y/z", b"3").await;
    assert_eq!(
        list(backend, "").await,
        strings(&["conf-root-dir/", "conf-root-leaf"]),
        "prefix \"\" lists the roots"
    );
    for key in ["conf-root-leaf", "conf-root-dir/x", "conf-root-dir/y/z"] {
        must("delete root key", backend.delete(key).await);
    }
    assert!(
        list(backend, "").await.is_empty(),
        "roots are gone once their keys are deleted"
    );
}

async fn check_get_absent(backend: &dyn PhysicalBackend) {
    assert_eq!(get(backend, "conf-get/absent").await, None);
    assert_eq!(get(backend, "conf-get/absent/deeper").await, None);
}

async fn check_round_trip(backend: &dyn PhysicalBackend) {
    put(backend, "conf-rt/plain", b"hello").await;
    assert_eq!(get(backend, "conf-rt/plain").await, Some(b"hello".to_vec()));

    put(backend, "conf-rt/empty", b"").await;
    assert_eq!(
        get(backend, "conf-rt/empty").await,
        Some(Vec::new()),
        "an empty value is stored, not confused with an absent key"
    );

    let binary: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    put(backend, "conf-rt/binary", &binary).await;
    assert_eq!(get(backend, "conf-rt/binary").await, Some(binary));

    let large: Vec<u8> = (0..1_048_576u32).map(|i| (i % 251) as u8).collect();
    put(backend, "conf-rt/large", &large).await;
    assert_eq!(get(backend, "conf-rt/large").await, Some(large));

    let key = "conf-rt/ünïcødé key/日本語";
    put(backend, key, b"u").await;
    assert_eq!(get(backend, key).await, Some(b"u".to_vec()));
}

async fn check_overwrite(backend: &dyn PhysicalBackend) {
    put(backend, "conf-ow/k", b"first, longer value").await;
    put(backend, "conf-ow/k", b"second").await;
    assert_eq!(get(backend, "conf-ow/k").await, Some(b"second".to_vec()));
    put(backend, "conf-ow/k", b"").await;
    assert_eq!(get(backend, "conf-ow/k").await, Some(Vec::new()));
    assert_eq!(list(backend, "conf-ow/").await, strings(&["k"]));
}

async fn check_delete(backend: &dyn PhysicalBackend) {
    put(backend, "conf-del/a", b"1").await;
    put(backend, "conf-del/b", b"2").await;
    put(backend, "conf-del/dir/only", b"3").await;
    must("delete", backend.delete("conf-del/a").await);
    assert_eq!(get(backend, "conf-del/a").await, None);
    assert_eq!(get(backend, "conf-del/b").await, Some(b"2".to_vec()));
    must("delete again", backend.delete("conf-del/a").await);
    must(
        "delete never written",
        backend.delete("conf-del/never").await,
    );
    assert_eq!(list(backend, "conf-del/").await, strings(&["b", "dir/"]));
    must(
        "delete last key of dir",
        backend.delete("conf-del/dir/only").await,
    );
    assert_eq!(
        list(backend, "conf-del/").await,
        strings(&["b"]),
        "a directory disappears with its last key"
    );
}

async fn check_list(backend: &dyn PhysicalBackend) {
    for key in [
        "conf-ls/a",
        "conf-ls/b/c",
        "conf-ls/b/d",
        "conf-ls/b/e/f",
        "conf-ls/b!",
        "conf-ls/b0",
        "conf-ls/c",
        "conf-ls/with space",
        "conf-ls/ünïcødé",
        "conf-ls/日本/語",
        "conf-ls-sibling/x",
    ] {
        put(backend, key, b"v").await;
    }
    assert_eq!(
        list(backend, "conf-ls/").await,
        strings(&["a", "b!", "b/", "b0", "c", "with space", "ünïcødé", "日本/"]),
        "immediate children, directories collapsed once, byte order"
    );
    assert_eq!(
        list(backend, "conf-ls/b/").await,
        strings(&["c", "d", "e/"])
    );
    assert_eq!(list(backend, "conf-ls/b/e/").await, strings(&["f"]));
    assert_eq!(list(backend, "conf-ls/日本/").await, strings(&["語"]));
    assert!(
        list(backend, "conf-ls/missing/").await.is_empty(),
        "absent prefix"
    );
    assert!(
        list(backend, "conf-ls/a/").await.is_empty(),
        "a key is not a directory"
    );
    assert!(
        list(backend, "conf-ls/c").await.is_empty(),
        "a key is not its own child"
    );
    assert_eq!(
        list(backend, "conf-ls/b").await,
        strings(&["!", "/", "0"]),
        "the prefix is a plain string prefix"
    );
    assert_eq!(
        list(backend, "conf-ls/with ").await,
        strings(&["space"]),
        "prefix ending in a space"
    );
}

async fn check_list_page(backend: &dyn PhysicalBackend) {
    for i in 0..10 {
        put(backend, &format!("conf-pg/k{i:02}"), b"v").await;
    }
    put(backend, "conf-pg/d/x", b"v").await;
    put(backend, "conf-pg/d/y", b"v").await;
    let full = list(backend, "conf-pg/").await;
    let mut expected = strings(&["d/"]);
    expected.extend((0..10).map(|i| format!("k{i:02}")));
    assert_eq!(full, expected);

    let page = |after: &'static str, limit: usize| async move {
        must(
            &format!("list_page after {after:?} limit {limit}"),
            backend.list_page("conf-pg/", after, limit).await,
        )
    };
    assert_eq!(page("", 0).await, full, "no after, no limit: everything");
    assert_eq!(page("", 3).await, strings(&["d/", "k00", "k01"]));
    assert_eq!(page("d/", 2).await, strings(&["k00", "k01"]), "after a dir");
    assert_eq!(
        page("d", 1).await,
        strings(&["d/"]),
        "\"d/\" sorts after \"d\""
    );
    assert_eq!(page("k05", 0).await, strings(&["k06", "k07", "k08", "k09"]));
    assert_eq!(
        page("k055", 2).await,
        strings(&["k06", "k07"]),
        "after need not be a key"
    );
    assert_eq!(page("k09", 0).await, Vec::<String>::new());
    assert_eq!(page("zz", 5).await, Vec::<String>::new());
    assert_eq!(page("", 100).await, full, "limit above the count");

    let mut walked = Vec::new();
    let mut after = String::new();
    loop {
        let next = must("paging", backend.list_page("conf-pg/", &after, 4).await);
        assert!(next.len() <= 4, "a page holds at most `limit` entries");
        match next.last() {
            Some(last) => after = last.clone(),
            None => break,
        }
        walked.extend(next);
    }
    assert_eq!(walked, full, "pages of 4 rebuild the full listing");
}

async fn check_transaction(backend: &dyn PhysicalBackend) {
    put(backend, "conf-tx/a", b"1").await;
    put(backend, "conf-tx/b", b"2").await;
    must(
        "transaction",
        backend
            .transaction(vec![
                TxnOp::Put {
                    key: "conf-tx/c".into(),
                    value: b"3".to_vec(),
                },
                TxnOp::Delete {
                    key: "conf-tx/a".into(),
                },
                TxnOp::Put {
                    key: "conf-tx/b".into(),
                    value: b"22".to_vec(),
                },
                TxnOp::Delete {
                    key: "conf-tx/never".into(),
                },
            ])
            .await,
    );
    assert_eq!(get(backend, "conf-tx/a").await, None);
    assert_eq!(get(backend, "conf-tx/b").await, Some(b"22".to_vec()));
    assert_eq!(get(backend, "conf-tx/c").await, Some(b"3".to_vec()));

    must(
        "operations apply in order",
        backend
            .transaction(vec![
                TxnOp::Put {
                    key: "conf-tx/d".into(),
                    value: b"4".to_vec(),
                },
                TxnOp::Delete {
                    key: "conf-tx/d".into(),
                },
                TxnOp::Delete {
                    key: "conf-tx/e".into(),
                },
                TxnOp::Put {
                    key: "conf-tx/e".into(),
                    value: b"5".to_vec(),
                },
            ])
            .await,
    );
    assert_eq!(get(backend, "conf-tx/d").await, None);
    assert_eq!(get(backend, "conf-tx/e").await, Some(b"5".to_vec()));

    must("empty transaction", backend.transaction(Vec::new()).await);

    let failed = backend
        .transaction(vec![
            TxnOp::Put {
                key: "conf-tx/f".into(),
                value: b"6".to_vec(),
            },
            TxnOp::Delete {
                key: "conf-tx/b".into(),
            },
            TxnOp::Put {
                key: String::new(),
                value: b"bad".to_vec(),
            },
        ])
        .await;
    assert!(
        matches!(failed, Err(StorageError::InvalidKey(_))),
        "an empty key fails the batch with InvalidKey, got {failed:?}"
    );
    assert_eq!(
        get(backend, "conf-tx/f").await,
        None,
        "nothing of a failed batch applies"
    );
    assert_eq!(get(backend, "conf-tx/b").await, Some(b"22".to_vec()));

    let failed = backend
        .transaction(vec![
            TxnOp::Delete {
                key: "conf-tx/c".into(),
            },
            TxnOp::Delete { key: String::new() },
        ])
        .await;
    assert!(
        matches!(failed, Err(StorageError::InvalidKey(_))),
        "{failed:?}"
    );
    assert_eq!(get(backend, "conf-tx/c").await, Some(b"3".to_vec()));
    assert_eq!(list(backend, "conf-tx/").await, strings(&["b", "c", "e"]));
}

async fn check_invalid_keys(backend: &dyn PhysicalBackend) {
    let put = backend.put("", b"v".to_vec()).await;
    assert!(
        matches!(put, Err(StorageError::InvalidKey(_))),
        "put \"\": {put:?}"
    );
    let delete = backend.delete("").await;
    assert!(
        matches!(delete, Err(StorageError::InvalidKey(_))),
        "delete \"\": {delete:?}"
    );
    assert_eq!(
        get(backend, "").await,
        None,
        "nothing is ever stored at \"\""
    );
}

async fn check_many_keys(backend: &dyn PhysicalBackend) {
    const N: usize = 10_000;
    let leaves: Vec<TxnOp> = (0..N)
        .map(|i| TxnOp::Put {
            key: format!("conf-many/{i:05}"),
            value: i.to_be_bytes().to_vec(),
        })
        .collect();
    must("put 10,000 leaves", backend.transaction(leaves).await);
    let nested: Vec<TxnOp> = (0..N)
        .map(|i| TxnOp::Put {
            key: format!("conf-many/sub/{i:05}/leaf"),
            value: Vec::new(),
        })
        .collect();
    must("put 10,000 nested keys", backend.transaction(nested).await);

    let listed = list(backend, "conf-many/").await;
    assert_eq!(listed.len(), N + 1, "10,000 leaves and one directory");
    let mut expected: Vec<String> = (0..N).map(|i| format!("{i:05}")).collect();
    expected.push("sub/".to_owned());
    assert_eq!(listed, expected);

    let sub = list(backend, "conf-many/sub/").await;
    let expected_sub: Vec<String> = (0..N).map(|i| format!("{i:05}/")).collect();
    assert_eq!(sub, expected_sub, "10,000 directories, each once");

    let mut walked = Vec::with_capacity(N + 1);
    let mut after = String::new();
    loop {
        let next = must(
            "page through 10,000",
            backend.list_page("conf-many/", &after, 1000).await,
        );
        match next.last() {
            Some(last) => after = last.clone(),
            None => break,
        }
        walked.extend(next);
    }
    assert_eq!(walked, listed, "pages of 1,000 rebuild the listing");
    assert_eq!(
        get(backend, "conf-many/04321").await,
        Some(4321usize.to_be_bytes().to_vec())
    );
}

async fn check_concurrent_puts(backend: &dyn PhysicalBackend) {
    const WRITERS: usize = 32;
    const PUTS: usize = 8;
    let writers = (0..WRITERS).map(|w| async move {
        for i in 0..PUTS {
            let key = format!("conf-conc/{w:02}/{i}");
            must(
                "concurrent put",
                backend.put(&key, key.clone().into_bytes()).await,
            );
            must(
                "concurrent put of a shared key",
                backend.put("conf-conc-shared", vec![w as u8]).await,
            );
        }
    });
    join_all(writers).await;
    let dirs = list(backend, "conf-conc/").await;
    assert_eq!(dirs.len(), WRITERS, "every writer's directory exists");
    for w in 0..WRITERS {
        for i in 0..PUTS {
            let key = format!("conf-conc/{w:02}/{i}");
            assert_eq!(get(backend, &key).await, Some(key.clone().into_bytes()));
        }
    }
    let shared = get(backend, "conf-conc-shared").await;
    assert!(
        matches!(shared.as_deref(), Some([w]) if usize::from(*w) < WRITERS),
        "the shared key holds one writer's whole value, got {shared:?}"
    );
}
