//! The under-reload driver against an in-process stand-in server that reloads the way OpenBao
//! does (a write lock on the mount: requests wait for the reload) or fails requests while a
//! reload runs: stalls, failures and reloads must all show in what the driver reports.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arca_bench::client::new_client;
use arca_bench::load::LoadSpec;
use arca_bench::reload::{ReloadSpec, drive_under_reload};
use arca_bench::stats::Samples;
use arca_bench::workload::{PLUGIN_NAME, WORKLOADS};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::RwLock;

const RELOAD_TIME: Duration = Duration::from_millis(60);

struct Mount {
    /// Held for writing while a reload runs.
    lock: RwLock<()>,
    /// Answer 503 instead of waiting while a reload runs.
    fail_during_reload: bool,
    reloads: AtomicU64,
    writes: AtomicU64,
    reads: AtomicU64,
}

async fn handle(mount: Arc<Mount>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let answer = |status: StatusCode, text: &str| {
        Response::builder()
            .status(status)
            .body(Full::new(Bytes::from(text.to_string())))
            .unwrap()
    };
    if path == "/v1/sys/plugins/reload/backend" {
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if method != hyper::Method::PUT || v["plugin"] != PLUGIN_NAME {
            return answer(StatusCode::BAD_REQUEST, r#"{"errors":["bad reload"]}"#);
        }
        let _guard = mount.lock.write().await;
        tokio::time::sleep(RELOAD_TIME).await;
        mount.reloads.fetch_add(1, Ordering::SeqCst);
        return answer(StatusCode::OK, r#"{"data":{"reload_id":"x"}}"#);
    }
    if !path.starts_with(&format!("/v1/{PLUGIN_NAME}/key-")) {
        return answer(StatusCode::NOT_FOUND, r#"{"errors":["unsupported path"]}"#);
    }
    let _guard = if mount.fail_during_reload {
        match mount.lock.try_read() {
            Ok(g) => g,
            Err(_) => {
                return answer(
                    StatusCode::SERVICE_UNAVAILABLE,
                    r#"{"errors":["reloading"]}"#,
                );
            }
        }
    } else {
        mount.lock.read().await
    };
    match method {
        hyper::Method::PUT => {
            mount.writes.fetch_add(1, Ordering::SeqCst);
            answer(StatusCode::NO_CONTENT, "")
        }
        hyper::Method::GET => {
            mount.reads.fetch_add(1, Ordering::SeqCst);
            answer(StatusCode::OK, r#"{"data":{"value":"bench"}}"#)
        }
        _ => answer(StatusCode::METHOD_NOT_ALLOWED, r#"{"errors":[]}"#),
    }
}

async fn serve(fail_during_reload: bool) -> (String, Arc<Mount>) {
    let mount = Arc::new(Mount {
        lock: RwLock::new(()),
        fail_during_reload,
        reloads: AtomicU64::new(0),
        writes: AtomicU64::new(0),
        reads: AtomicU64::new(0),
    });
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let shared = Arc::clone(&mount);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let mount = Arc::clone(&shared);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let mount = Arc::clone(&mount);
                    async move { Ok::<_, Infallible>(handle(mount, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (format!("http://{addr}"), mount)
}

fn workload() -> &'static arca_bench::workload::Workload {
    WORKLOADS.iter().find(|w| w.under_reload).unwrap()
}

const SPEC: LoadSpec = LoadSpec {
    concurrency: 4,
    duration: Duration::from_millis(700),
    max_requests: 1_000_000,
    rate: None,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_reloads_show_as_stalls_not_failures() {
    let (base, mount) = serve(false).await;
    let reload = ReloadSpec {
        plugin: PLUGIN_NAME.into(),
        interval: Duration::from_millis(100),
    };
    let t0 = Instant::now();
    let (load, reloads) = drive_under_reload(
        &new_client(4),
        &new_client(1),
        &base,
        "root",
        workload(),
        SPEC,
        &reload,
    )
    .await
    .unwrap();
    // The reloader stops with the load (at most the reload in flight is awaited).
    assert!(t0.elapsed() < SPEC.duration + Duration::from_millis(400));
    assert_eq!(load.errors, 0, "{:?}", load.first_error);
    assert_eq!(reloads.failed, 0, "{:?}", reloads.first_error);
    assert!(reloads.done() >= 3, "{} reloads", reloads.done());
    assert_eq!(reloads.done(), mount.reloads.load(Ordering::SeqCst));
    // Every worker wrote and then read its keys.
    let writes = mount.writes.load(Ordering::SeqCst);
    let reads = mount.reads.load(Ordering::SeqCst);
    assert!(writes > 10 && writes.abs_diff(reads) <= SPEC.concurrency as u64);
    assert_eq!(load.latencies_us.len() as u64, writes + reads);

    let mut samples = Samples::default();
    samples.add_run(load.latencies_us, load.errors, load.elapsed_s);
    samples.add_reloads(reloads.durations_us, reloads.failed);
    let summary = samples.summary();
    // Requests that arrived during a reload waited for it.
    assert!(summary.max_ms >= 30.0, "max {} ms", summary.max_ms);
    let r = summary.reloads.unwrap();
    assert!(r.p50_ms >= RELOAD_TIME.as_millis() as f64, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_refused_during_reloads_are_counted_and_back_to_back_reloads_run() {
    let (base, mount) = serve(true).await;
    let reload = ReloadSpec {
        plugin: PLUGIN_NAME.into(),
        interval: Duration::ZERO,
    };
    let (load, reloads) = drive_under_reload(
        &new_client(4),
        &new_client(1),
        &base,
        "root",
        workload(),
        SPEC,
        &reload,
    )
    .await
    .unwrap();
    assert!(load.errors > 0);
    assert!(load.first_error.unwrap().starts_with("503"));
    // Back to back: about one reload per RELOAD_TIME.
    assert!(reloads.done() >= 8, "{} reloads", reloads.done());
    assert_eq!(reloads.done(), mount.reloads.load(Ordering::SeqCst));
}

#[tokio::test]
async fn a_rejected_reload_is_a_failed_reload() {
    let (base, _mount) = serve(false).await;
    let reload = ReloadSpec {
        plugin: "not-the-plugin".into(),
        interval: Duration::from_millis(50),
    };
    let spec = LoadSpec {
        duration: Duration::from_millis(200),
        ..SPEC
    };
    let (load, reloads) = drive_under_reload(
        &new_client(4),
        &new_client(1),
        &base,
        "root",
        workload(),
        spec,
        &reload,
    )
    .await
    .unwrap();
    assert_eq!(load.errors, 0);
    assert!(reloads.failed >= 1);
    assert_eq!(reloads.done(), 0);
    assert!(reloads.first_error.unwrap().starts_with("400"));
}
