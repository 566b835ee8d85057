//! A rough throughput probe, not a benchmark and not run by default:
//! `cargo test -p arca-storage --release --test throughput -- --ignored --nocapture`.
//!
//! For each backend: sequential gets, then puts of 64-byte values from 1, 16 and 64 concurrent
//! writers (each writer puts its own keys back to back, as the HTTP benchmark's workers do).

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use arca_storage::{FileBackend, InmemBackend, PhysicalBackend};

/// Concurrency levels the put rate is measured at.
const WRITERS: [usize; 3] = [1, 16, 64];

/// `writers` tasks put back to back for about `budget`; returns the put rate.
async fn put_rate(
    backend: &Arc<dyn PhysicalBackend>,
    round: &str,
    writers: usize,
    budget: Duration,
) -> f64 {
    let value = vec![0xA5u8; 64];
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let backend = Arc::clone(backend);
            let value = value.clone();
            let round = round.to_owned();
            tokio::spawn(async move {
                let mut done = 0usize;
                while start.elapsed() < budget {
                    backend
                        .put(&format!("probe-{round}/{w}/{done}"), value.clone())
                        .await
                        .unwrap();
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    total as f64 / start.elapsed().as_secs_f64()
}

/// Prints the get rate and the put rate at every level of [`WRITERS`].
async fn probe(name: &str, backend: Arc<dyn PhysicalBackend>, gets: usize, budget: Duration) {
    let value = vec![0xA5u8; 64];
    for i in 0..1000 {
        backend
            .put(&format!("probe/{i:08}"), value.clone())
            .await
            .unwrap();
    }
    let start = Instant::now();
    for i in 0..gets {
        let got = backend
            .get(&format!("probe/{:08}", i % 1000))
            .await
            .unwrap();
        assert!(got.is_some());
    }
    let get_rate = gets as f64 / start.elapsed().as_secs_f64();

    let mut line = format!("{name}: get {get_rate:.0} ops/s");
    for writers in WRITERS {
        let rate = put_rate(&backend, &format!("c{writers}"), writers, budget).await;
        line.push_str(&format!(", put x{writers} {rate:.0} ops/s"));
    }
    println!("{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "throughput probe; run by hand"]
async fn throughput() {
    probe(
        "inmem",
        Arc::new(InmemBackend::new()),
        200_000,
        Duration::from_secs(1),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    probe(
        "file",
        Arc::new(FileBackend::open(dir.path()).unwrap()),
        50_000,
        Duration::from_secs(3),
    )
    .await;
}
