//! The fake handler and server set-up shared by the integration tests.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use arca_http::{ListenerOptions, RequestHandler, ServerHandle, serve};
use arca_sdk::{LogicalError, RawHttp, Request, Response, ResponseWrapInfo};
use async_trait::async_trait;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// Records every request and answers according to the first path segment:
/// `none` → 204, `raw` → a raw text answer, `toplevel` → legacy top-level data,
/// `wrapped` → a wrapped answer, `deny` → 403, `nopath` → 404 unsupported path,
/// `status404` → a 404 envelope with data,
/// `emptylist` → `keys: []`, `headers` → extra response headers,
/// `slow` → sleeps 30 s, `panic` → panics; anything else echoes the request.
#[derive(Default)]
pub struct Recorder {
    pub last: std::sync::Mutex<Option<Request>>,
    pub calls: AtomicUsize,
    pub slow_started: AtomicBool,
    pub slow_dropped: AtomicBool,
}

struct DropFlag<'a>(&'a AtomicBool);

impl Drop for DropFlag<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[async_trait]
impl RequestHandler for Recorder {
    async fn handle(&self, req: Request) -> Result<Option<Response>, LogicalError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        *self.last.lock().unwrap() = Some(req.clone());
        let first = req.path.split('/').next().unwrap_or("").to_string();
        match first.as_str() {
            "none" => Ok(None),
            "raw" => Ok(Some(Response {
                raw: Some(RawHttp {
                    status: 202,
                    content_type: "text/plain; charset=utf-8".into(),
                    body: b"raw body \x00\xff".to_vec(),
                    stream: None,
                }),
                ..Response::default()
            })),
            "toplevel" => {
                let mut r = Response::with_data(
                    json!({"type": "kv", "accessor": "kv_1", "options": {"version": "2"}})
                        .as_object()
                        .unwrap()
                        .clone(),
                );
                r.top_level_data = true;
                Ok(Some(r))
            }
            "wrapped" => Ok(Some(Response {
                data: Some(json!({"secret": "s3cr3t"}).as_object().unwrap().clone()),
                wrap_info: Some(ResponseWrapInfo {
                    token: "hvs.wrap".to_string().into(),
                    accessor: "wacc".into(),
                    ttl: 300,
                    creation_time: "2026-11-27T00:00:00Z".into(),
                    creation_path: req.path.clone(),
                    wrapped_accessor: String::new(),
                }),
                ..Response::default()
            })),
            "deny" => Err(LogicalError::PermissionDenied),
            "nopath" => Err(LogicalError::UnsupportedPath),
            "status404" => Ok(Some(Response {
                data: Some(json!({"keys": []}).as_object().unwrap().clone()),
                status: Some(404),
                ..Response::default()
            })),
            "emptylist" => Ok(Some(Response::with_data(
                json!({"keys": []}).as_object().unwrap().clone(),
            ))),
            "headers" => {
                let mut r = Response::with_data(Default::default());
                r.headers
                    .insert("X-Arca-Test".into(), vec!["a".into(), "b".into()]);
                r.headers
                    .insert("Cache-Control".into(), vec!["public".into()]);
                Ok(Some(r))
            }
            "slow" => {
                self.slow_started.store(true, Ordering::SeqCst);
                let _flag = DropFlag(&self.slow_dropped);
                // Never finishes: only the request deadline ends it.
                std::future::pending::<()>().await;
                std::mem::forget(_flag);
                Ok(None)
            }
            "panic" => panic!("handler panicked on purpose"),
            _ => {
                let mut r = Response::with_data(echo(&req));
                r.mount_type = "echo".into();
                Ok(Some(r))
            }
        }
    }
}

/// What the echo answer carries.
pub fn echo(req: &Request) -> serde_json::Map<String, Value> {
    json!({
        "operation": req.operation.as_str(),
        "path": req.path,
        "data": req.data,
    })
    .as_object()
    .unwrap()
    .clone()
}

/// A running test server.
pub struct Server {
    pub base: String,
    pub handle: ServerHandle,
    pub shutdown: CancellationToken,
    pub recorder: Arc<Recorder>,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn last(&self) -> Request {
        self.recorder
            .last
            .lock()
            .unwrap()
            .clone()
            .expect("no request recorded")
    }

    pub fn calls(&self) -> usize {
        self.recorder.calls.load(Ordering::SeqCst)
    }
}

/// Starts a plain-HTTP server on 127.0.0.1:0 with `tune` applied to the default options.
pub async fn start(tune: impl FnOnce(&mut ListenerOptions)) -> Server {
    let mut opts = ListenerOptions::new("127.0.0.1:0".parse().unwrap());
    tune(&mut opts);
    let scheme = if opts.tls.is_some() { "https" } else { "http" };
    let recorder = Arc::new(Recorder::default());
    let shutdown = CancellationToken::new();
    let handle = serve(opts, recorder.clone(), shutdown.clone())
        .await
        .unwrap();
    Server {
        base: format!("{scheme}://{}", handle.local_addr),
        handle,
        shutdown,
        recorder,
    }
}

/// Sends raw bytes and returns (status, headers text, body) of the answer. Used where an HTTP
/// client would clean the path or the framing first.
pub async fn raw_request(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.unwrap();
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no header end");
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let body = buf[split + 4..].to_vec();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("no status");
    (status, head, body)
}
