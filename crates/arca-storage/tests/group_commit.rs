//! [`FileBackend`]'s group commit seen from outside: concurrent writes are durable (they survive
//! drop and reopen) and share commits, an invalid caller fails alone, and each caller's writes
//! keep their order.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::sync::Arc;

use arca_storage::{FileBackend, PhysicalBackend, StorageError, TxnOp};

const WRITERS: usize = 64;
const PUTS: usize = 20;

fn value(writer: usize, i: usize) -> Vec<u8> {
    format!("{writer}:{i}").into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_writers_are_all_durable_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(FileBackend::open(dir.path()).unwrap());
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let backend = Arc::clone(&backend);
            tokio::spawn(async move {
                for i in 0..PUTS {
                    backend
                        .put(&format!("w/{w:02}/{i:02}"), value(w, i))
                        .await
                        .unwrap();
                }
                backend.delete(&format!("w/{w:02}/00")).await.unwrap();
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let writes = (WRITERS * (PUTS + 1)) as u64;
    let commits = backend.commit_count();
    assert!(
        commits < writes,
        "{writes} concurrent writes took {commits} commits: none were grouped"
    );
    drop(backend);

    let backend = FileBackend::open(dir.path()).unwrap();
    let dirs = backend.list("w/").await.unwrap();
    assert_eq!(dirs.len(), WRITERS);
    for w in 0..WRITERS {
        let keys = backend.list(&format!("w/{w:02}/")).await.unwrap();
        let expected: Vec<String> = (1..PUTS).map(|i| format!("{i:02}")).collect();
        assert_eq!(keys, expected, "writer {w}");
        for i in 1..PUTS {
            assert_eq!(
                backend.get(&format!("w/{w:02}/{i:02}")).await.unwrap(),
                Some(value(w, i))
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_invalid_caller_does_not_fail_concurrent_writers() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(FileBackend::open(dir.path()).unwrap());
    let tasks: Vec<_> = (0..32)
        .map(|w| {
            let backend = Arc::clone(&backend);
            tokio::spawn(async move {
                for i in 0..10 {
                    let key = format!("v/{w:02}/{i}");
                    if w % 4 == 0 {
                        // A batch with one empty key: refused as a whole, nothing of it lands.
                        let err = backend
                            .transaction(vec![
                                TxnOp::Put {
                                    key: key.clone(),
                                    value: b"x".to_vec(),
                                },
                                TxnOp::Delete { key: String::new() },
                            ])
                            .await
                            .unwrap_err();
                        assert!(matches!(err, StorageError::InvalidKey(_)), "{err}");
                        let err = backend.put("", b"x".to_vec()).await.unwrap_err();
                        assert!(matches!(err, StorageError::InvalidKey(_)), "{err}");
                    } else {
                        backend.put(&key, b"ok".to_vec()).await.unwrap();
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    drop(backend);

    let backend = FileBackend::open(dir.path()).unwrap();
    for w in 0..32 {
        let keys = backend.list(&format!("v/{w:02}/")).await.unwrap();
        if w % 4 == 0 {
            assert!(keys.is_empty(), "writer {w} failed, yet {keys:?} landed");
        } else {
            assert_eq!(keys.len(), 10, "writer {w}");
        }
    }
    assert_eq!(backend.get("").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_callers_writes_keep_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(FileBackend::open(dir.path()).unwrap());
    let tasks: Vec<_> = (0..16)
        .map(|w| {
            let backend = Arc::clone(&backend);
            tokio::spawn(async move {
                let key = format!("o/{w:02}");
                for i in 0..30u8 {
                    backend.put(&key, vec![i]).await.unwrap();
                    // Each acknowledged write is visible to the writer's next read.
                    assert_eq!(backend.get(&key).await.unwrap(), Some(vec![i]));
                    if i % 3 == 0 {
                        backend.delete(&key).await.unwrap();
                        assert_eq!(backend.get(&key).await.unwrap(), None);
                        backend
                            .transaction(vec![
                                TxnOp::Delete { key: key.clone() },
                                TxnOp::Put {
                                    key: key.clone(),
                                    value: vec![i],
                                },
                            ])
                            .await
                            .unwrap();
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    drop(backend);

    let backend = FileBackend::open(dir.path()).unwrap();
    for w in 0..16 {
        assert_eq!(
            backend.get(&format!("o/{w:02}")).await.unwrap(),
            Some(vec![29]),
            "writer {w}'s last write is the one kept"
        );
    }
}
