//! Open-loop load against an in-process server that stalls once: requests due during the
//! stall are sent late and their latency counts from their due time, so the stall shows in
//! many requests (not in one, as a closed loop would report it), and the schedule still sends
//! every request of the window.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arca_bench::client::new_client;
use arca_bench::load::{LoadSpec, drive};
use arca_bench::stats::Samples;
use arca_bench::workload::SYS_HEALTH;
use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use hyper_util::rt::TokioIo;

const STALL: Duration = Duration::from_millis(40);
const STALLED_REQUEST: u64 = 20;

/// Serves `{}` on a free port; request number [`STALLED_REQUEST`] takes [`STALL`].
async fn stalling_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| {
                    let n = seen.fetch_add(1, Ordering::SeqCst);
                    async move {
                        if n == STALLED_REQUEST {
                            tokio::time::sleep(STALL).await;
                        }
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"{}"))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_delays_every_request_due_during_it() {
    let base = stalling_server().await;
    let client = new_client(1);
    // One connection, a request due every 2 ms for 200 ms: 100 requests.
    let spec = LoadSpec {
        concurrency: 1,
        duration: Duration::from_millis(200),
        max_requests: u64::MAX,
        rate: Some(500.0),
    };
    let out = drive(&client, &base, "root", &SYS_HEALTH, spec)
        .await
        .unwrap();
    assert_eq!(out.errors, 0, "{:?}", out.first_error);
    assert_eq!(out.latencies_us.len(), 100);
    // The last request is due at 198 ms: the run cannot be shorter, nor faster than 500/s.
    assert!(out.elapsed_s >= 0.198, "{}", out.elapsed_s);
    // The stalled request and the ~19 due while it was stalled (every 2 ms for 40 ms) were
    // waiting, and are counted from their due times.
    let late = out.late.unwrap();
    assert!(late >= 15, "late: {late}");
    let slow = out.latencies_us.iter().filter(|&&us| us >= 10_000).count();
    assert!(slow >= 10, "requests slower than 10 ms: {slow}");
    let mut samples = Samples::default();
    samples.add_run(out.latencies_us, out.errors, out.elapsed_s);
    samples.add_late(500.0, late);
    let summary = samples.summary();
    assert!(summary.max_ms >= 40.0, "{}", summary.max_ms);
    assert!(summary.rps <= 100.0 / 0.198);
    assert_eq!(summary.open_loop.unwrap().late, late);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_bound_ends_an_open_loop_run_early() {
    let base = stalling_server().await;
    let client = new_client(4);
    let spec = LoadSpec {
        concurrency: 4,
        duration: Duration::from_secs(10),
        max_requests: 12,
        rate: Some(1000.0),
    };
    let out = drive(&client, &base, "root", &SYS_HEALTH, spec)
        .await
        .unwrap();
    assert_eq!(out.latencies_us.len(), 12);
    assert!(out.elapsed_s < 5.0);
}
