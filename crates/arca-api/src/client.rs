//! The HTTP client: addressing, headers, TLS, and the generic request helpers.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::error::{ApiError, ResponseError};
use crate::secret::Secret;

/// TLS settings of a [`Client`].
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// PEM file with the CA certificate(s) to trust (`VAULT_CACERT`, `-ca-cert`).
    pub ca_cert: Option<std::path::PathBuf>,
    /// Skip verification of the server certificate (`VAULT_SKIP_VERIFY`, `-tls-skip-verify`).
    pub skip_verify: bool,
    /// PEM file with the client certificate to present (`VAULT_CLIENT_CERT`, `-client-cert`).
    pub client_cert: Option<std::path::PathBuf>,
    /// PEM file with the client certificate's key (`VAULT_CLIENT_KEY`, `-client-key`).
    pub client_key: Option<std::path::PathBuf>,
}

/// An answer from the server, whatever its status.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body parsed as JSON; `None` when the body was empty.
    pub body: Option<Value>,
}

/// A client for one server address, carrying the token and namespace to send.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    address: String,
    token: Option<Zeroizing<String>>,
    namespace: Option<String>,
    wrap_ttl: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("address", &self.address)
            .field("has_token", &self.token.is_some())
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

fn build_http(tls: &TlsOptions) -> Result<reqwest::Client, ApiError> {
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .danger_accept_invalid_certs(tls.skip_verify);
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
        builder = builder.identity(client_identity(cert, key)?);
    }
    builder.build().map_err(|e| ApiError::Tls(e.to_string()))
}

/// The client certificate and key to present, from their PEM files.
fn client_identity(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<reqwest::Identity, ApiError> {
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| ApiError::Tls(format!("reading {}: {e}", p.display())))
    };
    let mut pem = Zeroizing::new(read(cert)?);
    pem.push(b'\n');
    pem.extend_from_slice(&Zeroizing::new(read(key)?));
    reqwest::Identity::from_pem(&pem)
        .map_err(|e| ApiError::Tls(format!("client certificate and key: {e}")))
}

/// Go prints a method title-cased in transport errors (`Get "http://..."`).
fn go_method(method: &Method) -> String {
    let s = method.as_str();
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        if i == 0 {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Describe a transport failure the way Go's net/http would, where we can tell.
fn transport_message(err: &reqwest::Error, url: &reqwest::Url) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut innermost = err.to_string();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            let host = url.host_str().unwrap_or_default();
            let port = url.port_or_known_default().unwrap_or_default();
            return format!("dial tcp {host}:{port}: connect: connection refused");
        }
        innermost = e.to_string();
        source = e.source();
    }
    if err.is_timeout() {
        return "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
            .to_string();
    }
    innermost
}

impl Client {
    /// A client for `addr` (e.g. `http://127.0.0.1:8200`) with default TLS settings.
    pub fn new(addr: &str) -> Result<Client, ApiError> {
        let address = addr.trim_end_matches('/').to_string();
        let parsed =
            reqwest::Url::parse(&address).map_err(|_| ApiError::InvalidAddress(addr.into()))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(ApiError::InvalidAddress(addr.into()));
        }
        Ok(Client {
            http: build_http(&TlsOptions::default())?,
            address,
            token: None,
            namespace: None,
            wrap_ttl: None,
        })
    }

    /// Use `token` as `X-Vault-Token` on every request.
    pub fn with_token(mut self, token: impl Into<String>) -> Client {
        let token: String = token.into();
        self.token = if token.is_empty() {
            None
        } else {
            Some(Zeroizing::new(token))
        };
        self
    }

    /// Send `X-Vault-Namespace: ns` on every request (`None` or empty: no header).
    pub fn with_namespace(mut self, namespace: Option<String>) -> Client {
        self.namespace = namespace.filter(|n| !n.is_empty());
        self
    }

    /// Ask the server to wrap answers (`X-Vault-Wrap-TTL`), e.g. `"60s"`.
    pub fn with_wrap_ttl(mut self, ttl: Option<String>) -> Client {
        self.wrap_ttl = ttl.filter(|t| !t.is_empty());
        self
    }

    /// Apply TLS settings (trusted CA file, skipping verification).
    pub fn with_tls(mut self, tls: &TlsOptions) -> Result<Client, ApiError> {
        self.http = build_http(tls)?;
        Ok(self)
    }

    /// The server address this client talks to.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The token sent with requests, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_ref().map(|t| t.as_str())
    }

    /// The namespace sent with requests, if any.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    fn url(&self, path: &str) -> Result<reqwest::Url, ApiError> {
        let full = format!("{}/v1/{}", self.address, path.trim_start_matches('/'));
        reqwest::Url::parse(&full).map_err(|_| ApiError::InvalidAddress(full))
    }

    /// Send one request and return the answer whatever its status (no error for 4xx/5xx).
    ///
    /// `path` is relative to `/v1/`. A `body` is sent as JSON.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<RawResponse, ApiError> {
        self.request_full(method, path, &[], body, None).await
    }

    /// Like [`Client::request`], with query parameters and an optional content type.
    pub async fn request_full(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
        content_type: Option<&str>,
    ) -> Result<RawResponse, ApiError> {
        let (raw, _) = self.send(method, path, query, body, content_type).await?;
        Ok(raw)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
        content_type: Option<&str>,
    ) -> Result<(RawResponse, String), ApiError> {
        let (status, headers, text) = self.fetch(method, path, query, body, content_type).await?;
        let body = if text.trim().is_empty() {
            None
        } else {
            match serde_json::from_str::<Value>(&text) {
                Ok(v) => Some(v),
                Err(_) if status >= 400 => None,
                Err(e) => return Err(not_json(&text, &e)),
            }
        };
        Ok((
            RawResponse {
                status,
                headers,
                body,
            },
            text,
        ))
    }

    /// Sends a request and reads its answer: status, headers and the body as text.
    async fn fetch(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
        content_type: Option<&str>,
    ) -> Result<(u16, HeaderMap, String), ApiError> {
        let mut url = self.url(path)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut req = self
            .http
            .request(method.clone(), url.clone())
            .header("X-Vault-Request", "true");
        if let Some(token) = &self.token {
            let mut value = HeaderValue::from_str(token)
                .map_err(|_| ApiError::Decode("token contains invalid characters".into()))?;
            value.set_sensitive(true);
            req = req.header("X-Vault-Token", value);
        }
        if let Some(ns) = &self.namespace {
            req = req.header("X-Vault-Namespace", ns.as_str());
        }
        if let Some(ttl) = &self.wrap_ttl {
            req = req.header("X-Vault-Wrap-TTL", ttl.as_str());
        }
        if let Some(body) = body {
            let bytes = Zeroizing::new(
                serde_json::to_vec(&body).map_err(|e| ApiError::Decode(e.to_string()))?,
            );
            req = req
                .header(CONTENT_TYPE, content_type.unwrap_or("application/json"))
                .body(bytes.to_vec());
        }
        let url_text = url.to_string();
        let resp = req.send().await.map_err(|e| ApiError::Transport {
            method: go_method(&method),
            url: url_text.clone(),
            message: transport_message(&e, &url),
        })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.map_err(|e| ApiError::Transport {
            method: go_method(&method),
            url: url_text.clone(),
            message: transport_message(&e, &url),
        })?;
        Ok((
            status,
            headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        ))
    }

    /// Send a request and turn a 4xx/5xx answer into [`ApiError::Response`].
    pub async fn checked(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<RawResponse, ApiError> {
        let content_type = (method == Method::PATCH).then_some("application/merge-patch+json");
        let (raw, text) = self
            .send(method.clone(), path, query, body, content_type)
            .await?;
        if raw.status < 400 {
            return Ok(raw);
        }
        Err(self.response_error(&method, path, query, &raw, text))
    }

    fn response_error(
        &self,
        method: &Method,
        path: &str,
        query: &[(&str, &str)],
        raw: &RawResponse,
        text: String,
    ) -> ApiError {
        let mut url = match self.url(path) {
            Ok(u) => u,
            Err(e) => return e,
        };
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let errors = raw
            .body
            .as_ref()
            .and_then(|b| b.get("errors"))
            .and_then(|e| e.as_array())
            .map(|list| {
                list.iter()
                    .map(|e| {
                        e.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| e.to_string())
                    })
                    .collect::<Vec<_>>()
            });
        let (errors, raw_flag) = match errors {
            Some(list) => (list, false),
            None => (vec![text], true),
        };
        ApiError::Response(ResponseError {
            method: method.as_str().to_string(),
            url: url.to_string(),
            status: raw.status,
            errors,
            raw: raw_flag,
            namespace: self.namespace.clone(),
        })
    }

    /// Send a request and parse the answer as a [`Secret`] (`None` for an empty body).
    pub async fn logical(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<Option<Secret>, ApiError> {
        let raw = self.checked(method, path, query, body).await?;
        parse_secret(raw.body)
    }

    /// `GET path?query` as bytes, like `bao read -format=raw`: the body as the server sent
    /// it (the Prometheus text of `sys/metrics`, ...). An error status is an error, as
    /// [`Client::read_with_query`]'s.
    pub async fn read_raw(&self, path: &str, query: &[(&str, &str)]) -> Result<Vec<u8>, ApiError> {
        let (status, headers, text) = self.fetch(Method::GET, path, query, None, None).await?;
        if status >= 400 {
            let raw = RawResponse {
                status,
                headers,
                body: serde_json::from_str(&text).ok(),
            };
            return Err(self.response_error(&Method::GET, path, query, &raw, text));
        }
        Ok(text.into_bytes())
    }

    /// `GET path`, like `vault read`. `Ok(None)` when nothing is there.
    pub async fn read(&self, path: &str) -> Result<Option<Secret>, ApiError> {
        self.read_with_query(path, &[]).await
    }

    /// `GET path?query`, keeping a 404 body that carries data or warnings.
    pub async fn read_with_query(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Option<Secret>, ApiError> {
        let (raw, text) = self.send(Method::GET, path, query, None, None).await?;
        if raw.status == 404 {
            let secret = parse_secret(raw.body.clone()).ok().flatten();
            return Ok(secret.filter(|s| {
                s.data.as_ref().is_some_and(|d| !d.is_empty())
                    || s.warnings.as_ref().is_some_and(|w| !w.is_empty())
            }));
        }
        if raw.status >= 400 {
            return Err(self.response_error(&Method::GET, path, query, &raw, text));
        }
        parse_secret(raw.body)
    }

    /// `PUT path` with a JSON body, like `vault write`.
    pub async fn write(&self, path: &str, body: Option<Value>) -> Result<Option<Secret>, ApiError> {
        self.logical(Method::PUT, path, &[], body).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: Option<Value>) -> Result<Option<Secret>, ApiError> {
        self.logical(Method::POST, path, &[], body).await
    }

    /// `GET path?list=true`, like `vault list`. `Ok(None)` when nothing is there.
    pub async fn list(&self, path: &str) -> Result<Option<Secret>, ApiError> {
        self.read_with_query(path, &[("list", "true")]).await
    }

    /// `DELETE path`, like `vault delete`.
    pub async fn delete(&self, path: &str) -> Result<Option<Secret>, ApiError> {
        self.logical(Method::DELETE, path, &[], None).await
    }

    /// `PATCH path` with a JSON merge patch (`application/merge-patch+json`).
    pub async fn patch(&self, path: &str, body: Value) -> Result<Option<Secret>, ApiError> {
        self.logical(Method::PATCH, path, &[], Some(body)).await
    }
}

/// Go's `encoding/json` text for a body that is not JSON (`invalid character '#' looking for
/// beginning of value`), else serde's.
fn not_json(text: &str, e: &serde_json::Error) -> ApiError {
    let first = text.trim_start().chars().next();
    match first {
        Some(c)
            if e.line() == 1
                && !matches!(c, '{' | '[' | '"' | '-' | '0'..='9' | 't' | 'f' | 'n') =>
        {
            ApiError::NotJson(format!(
                "invalid character '{c}' looking for beginning of value"
            ))
        }
        _ => ApiError::NotJson(e.to_string()),
    }
}

/// Keys of Vault's response envelope: a body with none of them is raw data.
const ENVELOPE_KEYS: &[&str] = &[
    "request_id",
    "lease_id",
    "lease_duration",
    "renewable",
    "data",
    "warnings",
    "auth",
    "wrap_info",
    "mount_type",
];

fn parse_secret(body: Option<Value>) -> Result<Option<Secret>, ApiError> {
    match body {
        None => Ok(None),
        // As Go's `api.ParseSecret`: an answer that is no envelope (a raw JSON body, as
        // `sys/metrics`' summary) is the secret's data; one with only `errors` is nothing.
        Some(Value::Object(map)) if !map.keys().any(|k| ENVELOPE_KEYS.contains(&k.as_str())) => {
            if map.len() == 1 && map.contains_key("errors") {
                return Ok(None);
            }
            Ok(Some(Secret {
                data: Some(map),
                ..Secret::default()
            }))
        }
        Some(v) => serde_json::from_value(v)
            .map(Some)
            .map_err(|e| ApiError::Decode(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_addresses() {
        assert!(matches!(
            Client::new("not a url"),
            Err(ApiError::InvalidAddress(_))
        ));
        assert!(Client::new("ftp://x").is_err());
        let c = Client::new("http://127.0.0.1:8200/").unwrap();
        assert_eq!(c.address(), "http://127.0.0.1:8200");
        assert_eq!(
            c.url("/sys/health").unwrap().as_str(),
            "http://127.0.0.1:8200/v1/sys/health"
        );
    }

    #[test]
    fn empty_token_means_none_and_debug_hides_it() {
        let c = Client::new("http://x:1").unwrap().with_token("");
        assert!(c.token().is_none());
        let c = c.with_token("s.secret");
        assert_eq!(c.token(), Some("s.secret"));
        assert!(!format!("{c:?}").contains("s.secret"));
    }

    #[test]
    fn go_method_names() {
        assert_eq!(go_method(&Method::GET), "Get");
        assert_eq!(go_method(&Method::DELETE), "Delete");
    }

    #[tokio::test]
    async fn connection_refused_reads_like_go() {
        // Port 9 (discard) on localhost is essentially never listening.
        let c = Client::new("http://127.0.0.1:9").unwrap();
        let err = c.read("sys/health").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "Get \"http://127.0.0.1:9/v1/sys/health\": dial tcp 127.0.0.1:9: connect: connection refused"
        );
    }

    /// Accept one request on `listener`, answer `{}` and return the request head, lowercased.
    async fn one_request_head(listener: tokio::net::TcpListener) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = sock.read(&mut buf).await.unwrap();
            assert!(n > 0, "connection closed before the request head ended");
            head.extend_from_slice(&buf[..n]);
        }
        sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
            .await
            .unwrap();
        String::from_utf8_lossy(&head).to_lowercase()
    }

    #[tokio::test]
    async fn namespace_header_on_every_request_and_none_without() {
        for (namespace, expected) in [
            (
                Some("team-a/".to_string()),
                Some("x-vault-namespace: team-a/\r\n"),
            ),
            (Some(String::new()), None),
            (None, None),
        ] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = format!("http://{}", listener.local_addr().unwrap());
            let server = tokio::spawn(one_request_head(listener));
            let c = Client::new(&addr)
                .unwrap()
                .with_namespace(namespace.clone());
            assert_eq!(c.namespace(), expected.map(|_| "team-a/"));
            c.read("sys/mounts").await.unwrap();
            let head = server.await.unwrap();
            match expected {
                Some(line) => assert!(head.contains(line), "{head}"),
                None => assert!(!head.contains("x-vault-namespace"), "{head}"),
            }
        }
    }
}
