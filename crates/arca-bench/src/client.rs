//! A keep-alive HTTP/1.1 client (hyper) and a one-shot JSON call used for setup.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::error::BenchError;

/// The pooled client every request goes through.
pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// Longest wait for one setup call.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// A client that keeps up to `idle` connections open per host.
pub fn new_client(idle: usize) -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(idle)
        .pool_idle_timeout(Duration::from_secs(60))
        .build(connector)
}

/// Builds a request to `{base}/v1/{path}` with an optional token and body.
pub fn build_request(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Bytes>,
) -> Result<Request<Full<Bytes>>, BenchError> {
    let http_err = |detail: String| BenchError::Http {
        method: method.to_string(),
        path: path.to_string(),
        detail,
    };
    let uri: Uri = format!("{base}/v1/{path}")
        .parse()
        .map_err(|e| http_err(format!("bad URI: {e}")))?;
    let m = Method::from_bytes(method.as_bytes()).map_err(|e| http_err(e.to_string()))?;
    let mut rb = Request::builder().method(m).uri(uri);
    if let Some(t) = token {
        rb = rb.header("X-Vault-Token", t);
    }
    if body.is_some() {
        rb = rb.header("Content-Type", "application/json");
    }
    rb.body(Full::new(body.unwrap_or_default()))
        .map_err(|e| http_err(e.to_string()))
}

/// Sends one JSON request and returns the status and the parsed body (`Null` when empty).
pub async fn call(
    client: &HttpClient,
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Result<(u16, Value), BenchError> {
    let http_err = |detail: String| BenchError::Http {
        method: method.to_string(),
        path: path.to_string(),
        detail,
    };
    let bytes = body.map(|b| Bytes::from(b.to_string()));
    let req = build_request(base, method, path, token, bytes)?;
    let fut = async {
        let resp = client
            .request(req)
            .await
            .map_err(|e| http_err(e.to_string()))?;
        let status = resp.status().as_u16();
        let collected = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| http_err(e.to_string()))?
            .to_bytes();
        let value = if collected.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&collected)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&collected).into()))
        };
        Ok((status, value))
    };
    tokio::time::timeout(CALL_TIMEOUT, fut)
        .await
        .map_err(|_| http_err("timed out".into()))?
}
