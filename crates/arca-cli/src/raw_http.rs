//! Requests whose body or answer is raw bytes, not JSON (raft snapshots), sent with the same
//! address, token, namespace and TLS settings as the JSON requests of [`arca_api::Client`],
//! and failing with the same [`ApiError`]s.

use std::time::Duration;

use arca_api::{ApiError, Client, ResponseError, TlsOptions};
use reqwest::Method;
use zeroize::Zeroizing;

/// A raw-bytes HTTP client for one server.
pub struct RawHttp {
    http: reqwest::Client,
    address: String,
    token: Option<Zeroizing<String>>,
    namespace: Option<String>,
}

impl RawHttp {
    /// A client talking to `client`'s server as `client` does, with the TLS settings `tls`;
    /// a request and its answer take at most 60 seconds, as the Go client's default.
    pub fn new(client: &Client, tls: &TlsOptions) -> Result<RawHttp, ApiError> {
        RawHttp::build(client, tls, Some(Duration::from_secs(60)))
    }

    /// As [`RawHttp::new`], without a time limit: for answers that stream until the client
    /// stops reading (`sys/monitor`).
    pub fn streaming(client: &Client, tls: &TlsOptions) -> Result<RawHttp, ApiError> {
        RawHttp::build(client, tls, None)
    }

    fn build(
        client: &Client,
        tls: &TlsOptions,
        timeout: Option<Duration>,
    ) -> Result<RawHttp, ApiError> {
        let mut builder = reqwest::Client::builder().danger_accept_invalid_certs(tls.skip_verify);
        if let Some(timeout) = timeout {
            builder = builder.timeout(timeout);
        }
        if let Some(path) = &tls.ca_cert {
            let pem = std::fs::read(path)
                .map_err(|e| ApiError::Tls(format!("reading {}: {e}", path.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| ApiError::Tls(format!("parsing {}: {e}", path.display())))?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let (Some(cert), Some(key)) = (&tls.client_cert, &tls.client_key) {
            let read = |p: &std::path::Path| {
                std::fs::read(p).map_err(|e| ApiError::Tls(format!("reading {}: {e}", p.display())))
            };
            let mut pem = Zeroizing::new(read(cert)?);
            pem.push(b'\n');
            pem.extend_from_slice(&Zeroizing::new(read(key)?));
            let identity = reqwest::Identity::from_pem(&pem)
                .map_err(|e| ApiError::Tls(format!("client certificate and key: {e}")))?;
            builder = builder.identity(identity);
        }
        let http = builder.build().map_err(|e| ApiError::Tls(e.to_string()))?;
        Ok(RawHttp {
            http,
            address: client.address().to_string(),
            token: client.token().map(|t| Zeroizing::new(t.to_string())),
            namespace: client.namespace().map(str::to_string),
        })
    }

    /// The full URL of `path` (relative to `/v1/`).
    fn url(&self, path: &str) -> String {
        format!("{}/v1/{}", self.address, path.trim_start_matches('/'))
    }

    /// Sends `body` (raw bytes, when given) to `path`; an answer of status 400 or more is an
    /// [`ApiError::Response`], any other answer is handed back unread.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<reqwest::Response, ApiError> {
        let url = self.url(path);
        let mut req = self
            .http
            .request(method.clone(), &url)
            .header("X-Vault-Request", "true");
        if let Some(token) = &self.token {
            let mut value = reqwest::header::HeaderValue::from_str(token)
                .map_err(|_| ApiError::Decode("token contains invalid characters".into()))?;
            value.set_sensitive(true);
            req = req.header("X-Vault-Token", value);
        }
        if let Some(ns) = &self.namespace {
            req = req.header("X-Vault-Namespace", ns.as_str());
        }
        if let Some(body) = body {
            req = req.body(body);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| transport_error(&method, &url, &e))?;
        let status = resp.status().as_u16();
        if status < 400 {
            return Ok(resp);
        }
        let text = resp
            .text()
            .await
            .map_err(|e| transport_error(&method, &url, &e))?;
        let errors = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("errors").and_then(|e| e.as_array()).cloned())
            .map(|list| {
                list.iter()
                    .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string))
                    .collect::<Vec<_>>()
            });
        let (errors, raw) = match errors {
            Some(list) => (list, false),
            None => (vec![text], true),
        };
        Err(ApiError::Response(ResponseError {
            method: method.as_str().to_string(),
            url,
            status,
            errors,
            raw,
            namespace: self.namespace.clone(),
        }))
    }
}

/// A failure to get or read an answer, worded as Go's `net/http` words the common ones.
pub fn transport_error(method: &Method, url: &str, err: &reqwest::Error) -> ApiError {
    let mut message = err.to_string();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            let parsed = reqwest::Url::parse(url).ok();
            let host = parsed
                .as_ref()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_default();
            let port = parsed
                .as_ref()
                .and_then(reqwest::Url::port_or_known_default)
                .unwrap_or_default();
            message = format!("dial tcp {host}:{port}: connect: connection refused");
            break;
        }
        message = e.to_string();
        source = e.source();
    }
    if err.is_timeout() {
        message =
            "context deadline exceeded (Client.Timeout exceeded while awaiting headers)".into();
    }
    let mut go_method = method.as_str().to_ascii_lowercase();
    if let Some(first) = go_method.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    ApiError::Transport {
        method: go_method,
        url: url.to_string(),
        message,
    }
}
