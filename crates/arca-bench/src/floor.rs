//! The floor: a bare hyper server that answers every request with Arca's `sys/health` answer
//! (status, `Content-Type`, `Cache-Control`, `Strict-Transport-Security` and the JSON body
//! bytes), built with the same listener knobs as Arca's (`crates/arca-http/src/server.rs` and
//! `crates/arca/src/server.rs`): a multi-thread tokio runtime with the default worker count,
//! `TCP_NODELAY` on every accepted stream, one task per connection, hyper-util's `auto`
//! builder (HTTP/1.1 with keep-alive and HTTP/2) with the tokio timer and a 10 s header read
//! timeout, connections watched by a graceful-shutdown watcher, and mimalloc as the allocator
//! (the binary's global allocator, as in `arca`). No routing, no JSON, no storage: what a
//! request costs below Arca's own code.
//!
//! It runs as its own process (`arca-bench floor --listen ADDR`), so it does not share the load
//! generator's runtime; [`FloorProcess`] starts and stops that process for the runner.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{
    CACHE_CONTROL, CONTENT_TYPE, HeaderMap, HeaderValue, STRICT_TRANSPORT_SECURITY,
};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::client::{HttpClient, build_request};
use crate::error::BenchError;

/// Arca's `http_read_header_timeout` (Vault's default), the same on the floor.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the floor process to answer after it is spawned.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The body of a dev-mode Arca's `GET /v1/sys/health` (fields and length of one taken from a
/// live server), answered when no live copy is asked for.
pub const DEFAULT_HEALTH_BODY: &str = r#"{"cluster_id":"5f1e4a2b-9c3d-4e8f-a1b2-c3d4e5f60718","cluster_name":"vault-cluster-5f1e4a2b","initialized":true,"replication_dr_mode":"disabled","replication_performance_mode":"disabled","sealed":false,"server_time_utc":1764950400,"standby":false,"version":"0.1.0"}"#;

/// The answer the floor gives to every request.
#[derive(Debug, Clone)]
pub struct HealthAnswer {
    /// HTTP status.
    pub status: StatusCode,
    /// The headers Arca sets itself (hyper adds `Date` and `Content-Length` on both servers).
    pub headers: HeaderMap,
    /// The JSON body bytes.
    pub body: Bytes,
}

impl HealthAnswer {
    /// The fixed copy: 200, Arca's headers, [`DEFAULT_HEALTH_BODY`].
    pub fn fixed() -> HealthAnswer {
        let mut headers = HeaderMap::new();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        HealthAnswer {
            status: StatusCode::OK,
            headers,
            body: Bytes::from_static(DEFAULT_HEALTH_BODY.as_bytes()),
        }
    }

    /// A copy of what the server at `base` (`http://host:port`) answers to `GET
    /// /v1/sys/health` now: its status, its headers but `Date`, `Content-Length`,
    /// `Connection` and `Transfer-Encoding` (hyper writes those), its body.
    pub async fn copy_from(client: &HttpClient, base: &str) -> Result<HealthAnswer, BenchError> {
        let req = build_request(base, "GET", "sys/health", None, None)?;
        let http_err = |detail: String| BenchError::Http {
            method: "GET".into(),
            path: "sys/health".into(),
            detail,
        };
        let resp = tokio::time::timeout(START_TIMEOUT, client.request(req))
            .await
            .map_err(|_| http_err("timed out".into()))?
            .map_err(|e| http_err(e.to_string()))?;
        let status = resp.status();
        let mut headers = resp.headers().clone();
        for name in [
            hyper::header::DATE,
            hyper::header::CONTENT_LENGTH,
            hyper::header::CONNECTION,
            hyper::header::TRANSFER_ENCODING,
        ] {
            headers.remove(name);
        }
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| http_err(e.to_string()))?
            .to_bytes();
        Ok(HealthAnswer {
            status,
            headers,
            body,
        })
    }

    fn response(&self) -> Response<Full<Bytes>> {
        let mut resp = Response::new(Full::new(self.body.clone()));
        *resp.status_mut() = self.status;
        *resp.headers_mut() = self.headers.clone();
        resp
    }
}

/// Serves `answer` on `listener` until the process ends: Arca's accept loop and connection
/// settings, without its pipeline.
pub async fn serve(listener: TcpListener, answer: HealthAnswer) {
    let answer = Arc::new(answer);
    let mut http = auto::Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    http.http2().timer(TokioTimer::new());
    let http = Arc::new(http);
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, _peer) = match listener.accept().await {
            Ok(pair) => pair,
            Err(_) => {
                // Usually out of file descriptors: back off instead of spinning, as Arca does.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let answer = Arc::clone(&answer);
        let http = Arc::clone(&http);
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let service = service_fn(move |_req: Request<hyper::body::Incoming>| {
                let answer = Arc::clone(&answer);
                async move { Ok::<_, std::convert::Infallible>(answer.response()) }
            });
            let conn = http
                .serve_connection(TokioIo::new(stream), service)
                .into_owned();
            let _ = watcher.watch(conn).await;
        });
    }
}

/// Runs the floor server in this process on `listen` (Arca's runtime: multi-thread, default
/// worker count); with `copy_from` (`http://host:port` of a running Arca) its answer is a copy
/// of that server's `sys/health` answer, else [`HealthAnswer::fixed`]. Prints `listening on
/// ADDR` once bound, then serves until killed.
pub fn run_floor(listen: SocketAddr, copy_from: Option<&str>) -> Result<(), BenchError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| BenchError::io("tokio runtime", e))?;
    runtime.block_on(async {
        let answer = match copy_from {
            Some(base) => HealthAnswer::copy_from(&crate::client::new_client(1), base).await?,
            None => HealthAnswer::fixed(),
        };
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| BenchError::io(format!("bind {listen}"), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| BenchError::io("local address", e))?;
        println!("listening on {addr}");
        serve(listener, answer).await;
        Ok(())
    })
}

/// The floor server as a child process (`<bin> floor --listen 127.0.0.1:PORT`), killed on
/// drop.
#[derive(Debug)]
pub struct FloorProcess {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    child: Child,
}

impl Drop for FloorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl FloorProcess {
    /// Spawns `bin floor` on `127.0.0.1:port`, answering a copy of `copy_from`'s `sys/health`
    /// when given, and waits until it answers.
    pub async fn start(
        bin: &Path,
        port: u16,
        copy_from: Option<&str>,
        client: &HttpClient,
    ) -> Result<FloorProcess, BenchError> {
        let mut cmd = Command::new(bin);
        cmd.arg("floor")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(base) = copy_from {
            cmd.arg("--copy-from").arg(base);
        }
        let child = cmd.spawn().map_err(|e| BenchError::Start {
            server: "floor".into(),
            detail: format!("spawn {}: {e}", bin.display()),
            log: std::path::PathBuf::from("(its stderr is this process's)"),
        })?;
        let mut floor = FloorProcess {
            base: format!("http://127.0.0.1:{port}"),
            child,
        };
        let t0 = Instant::now();
        loop {
            let req = build_request(&floor.base, "GET", "sys/health", None, None)?;
            if let Ok(Ok(resp)) =
                tokio::time::timeout(Duration::from_secs(1), client.request(req)).await
            {
                let _ = resp.into_body().collect().await;
                return Ok(floor);
            }
            if let Ok(Some(status)) = floor.child.try_wait() {
                return Err(BenchError::Start {
                    server: "floor".into(),
                    detail: format!("exited with {status}"),
                    log: std::path::PathBuf::from("(its stderr is this process's)"),
                });
            }
            if t0.elapsed() > START_TIMEOUT {
                return Err(BenchError::Start {
                    server: "floor".into(),
                    detail: "no answer".into(),
                    log: std::path::PathBuf::from("(its stderr is this process's)"),
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_body_has_the_health_fields() {
        let v: serde_json::Value = serde_json::from_str(DEFAULT_HEALTH_BODY).unwrap();
        for field in [
            "initialized",
            "sealed",
            "standby",
            "replication_performance_mode",
            "replication_dr_mode",
            "server_time_utc",
            "version",
            "cluster_name",
            "cluster_id",
        ] {
            assert!(v.get(field).is_some(), "{field}");
        }
        let a = HealthAnswer::fixed();
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.headers[CACHE_CONTROL], "no-store");
        assert_eq!(a.headers[CONTENT_TYPE], "application/json");
    }
}
