//! Fuzzes arca-http's request path normaliser, body decoder and JSON pre-scan through the real
//! listener (they are crate-private): one `arca_http::serve` runs on loopback for the whole
//! session with a handler that records any request whose path is not canonical; each input
//! becomes one raw HTTP/1.1 request (method, path, body) and must get a non-5xx answer.
#![no_main]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use arca_http::{ListenerOptions, RequestHandler};
use arca_sdk::{LogicalError, Request, Response};
use libfuzzer_sys::fuzz_target;

/// The first non-canonical path a handler saw.
static VIOLATION: Mutex<Option<String>> = Mutex::new(None);

struct Checker;

#[async_trait::async_trait]
impl RequestHandler for Checker {
    async fn handle(&self, req: Request) -> Result<Option<Response>, LogicalError> {
        let p = &req.path;
        let bad = p.contains("//")
            || p.contains('\0')
            || p.split('/').any(|seg| seg == "." || seg == "..");
        if bad {
            if let Ok(mut v) = VIOLATION.lock() {
                v.get_or_insert_with(|| format!("non-canonical path reached the handler: {p:?}"));
            }
        }
        Ok(None)
    }
}

fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let opts = ListenerOptions::new(SocketAddr::from(([127, 0, 0, 1], 0)));
                let shutdown = tokio_util::sync::CancellationToken::new();
                let handle = arca_http::serve(opts, Arc::new(Checker), shutdown)
                    .await
                    .expect("serve");
                tx.send(handle.local_addr).expect("send address");
                let _ = handle.join.await;
            });
        });
        rx.recv().expect("server address")
    })
}

const METHODS: [&str; 6] = ["GET", "PUT", "POST", "DELETE", "LIST", "PATCH"];
const TYPES: [&str; 3] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "application/merge-patch+json",
];

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let method = METHODS[usize::from(head) % METHODS.len()];
    let content_type = TYPES[usize::from(head >> 4) % TYPES.len()];
    let split = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    // The request line cannot hold spaces or control bytes: drop them (hyper would refuse).
    let path: Vec<u8> = rest[..split]
        .iter()
        .copied()
        .filter(|b| b.is_ascii_graphic())
        .collect();
    let body = rest.get(split + 1..).unwrap_or_default();
    let mut req = Vec::with_capacity(body.len() + path.len() + 200);
    req.extend_from_slice(method.as_bytes());
    req.extend_from_slice(b" /v1/");
    req.extend_from_slice(&path);
    req.extend_from_slice(b" HTTP/1.1\r\nHost: fuzz\r\nX-Vault-Token: t\r\nConnection: close\r\n");
    req.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
    req.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    req.extend_from_slice(body);

    let Ok(mut conn) = TcpStream::connect(server()) else {
        panic!("cannot reach the listener");
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = conn.write_all(&req);
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    if let Some(v) = VIOLATION.lock().ok().and_then(|v| v.clone()) {
        panic!("{v}");
    }
    if answer.is_empty() {
        return; // the listener may close on a request hyper cannot parse
    }
    let status = answer
        .get(9..12)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {:?}", String::from_utf8_lossy(&answer)));
    assert!(
        status < 500,
        "server error {status} for {:?}",
        String::from_utf8_lossy(&req)
    );
});
