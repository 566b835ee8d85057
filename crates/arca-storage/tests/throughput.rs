//! A rough throughput probe, not a benchmark and not run by default:
//! `cargo test -p arca-storage --release --test throughput -- --ignored --nocapture`.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::sync::Arc;
use std::time::Instant;

use arca_storage::{FileBackend, InmemBackend, PhysicalBackend};

/// Times `n` sequential puts then `n` gets of 64-byte values, and `n` puts spread over 16 tasks.
async fn probe(name: &str, backend: Arc<dyn PhysicalBackend>, puts: usize, gets: usize) {
    let value = vec![0xA5u8; 64];

    let start = Instant::now();
    for i in 0..puts {
        backend
            .put(&format!("probe/{i:08}"), value.clone())
            .await
            .unwrap();
    }
    let put_rate = puts as f64 / start.elapsed().as_secs_f64();

    let start = Instant::now();
    for i in 0..gets {
        let got = backend
            .get(&format!("probe/{:08}", i % puts))
            .await
            .unwrap();
        assert!(got.is_some());
    }
    let get_rate = gets as f64 / start.elapsed().as_secs_f64();

    let start = Instant::now();
    let tasks: Vec<_> = (0..16)
        .map(|t| {
            let backend = Arc::clone(&backend);
            let value = value.clone();
            tokio::spawn(async move {
                for i in 0..puts / 16 {
                    backend
                        .put(&format!("probe-par/{t}/{i}"), value.clone())
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let par_rate = (puts / 16 * 16) as f64 / start.elapsed().as_secs_f64();

    println!(
        "{name}: put {put_rate:.0} ops/s, get {get_rate:.0} ops/s, put from 16 tasks {par_rate:.0} ops/s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "throughput probe; run by hand"]
async fn throughput() {
    probe("inmem", Arc::new(InmemBackend::new()), 200_000, 200_000).await;
    let dir = tempfile::tempdir().unwrap();
    probe(
        "file",
        Arc::new(FileBackend::open(dir.path()).unwrap()),
        2_000,
        50_000,
    )
    .await;
}
