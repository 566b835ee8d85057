//! The listener: binds, accepts (with TLS when configured), serves HTTP/1.1 and HTTP/2, and
//! runs each request through the pipeline path check → method → headers → body → handler →
//! answer, under the request duration limit.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use arca_sdk::{Connection, Operation, Request};
use bytes::Bytes;
use futures::FutureExt;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::RequestHandler;
use crate::body::{self, ReadError};
use crate::envelope::{self, Answer};
use crate::error::HttpError;
use crate::header_names::X_VAULT_NAMESPACE;
use crate::json_limits::JsonLimits;
use crate::namespace::{self, NamespaceCheck};
use crate::operation::{self, DataSource, RoutingError};
use crate::options::{DEFAULT_MAX_JSON_DEPTH, ListenerOptions};
use crate::request_path;
use crate::translate;

/// Vault's `http_read_header_timeout`.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a TLS handshake may take.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long open connections get to finish once shutdown is asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// The deepest JSON accepted whatever the options say: the parser recurses once per level.
pub(crate) const HARD_MAX_JSON_DEPTH: usize = 1_000;

/// A running listener.
#[derive(Debug)]
pub struct ServerHandle {
    /// The address actually bound (useful with port 0).
    pub local_addr: SocketAddr,
    /// Ends once the shutdown token is cancelled and open connections have finished (or the
    /// grace period of 10 s has passed).
    pub join: JoinHandle<()>,
}

/// Binds `opts.address` (so bind and TLS errors are returned at once) and serves on tokio
/// until `shutdown` is cancelled.
pub async fn serve(
    opts: ListenerOptions,
    handler: Arc<dyn RequestHandler>,
    shutdown: CancellationToken,
) -> Result<ServerHandle, HttpError> {
    let acceptor = match &opts.tls {
        Some(tls) => Some(TlsAcceptor::from(crate::tls::server_config(tls)?)),
        None => None,
    };
    let bind_error = |source| HttpError::Bind {
        address: opts.address,
        source,
    };
    let listener = TcpListener::bind(opts.address).await.map_err(bind_error)?;
    let local_addr = listener.local_addr().map_err(bind_error)?;
    let state = Arc::new(State::new(&opts, handler, false));
    let join = tokio::spawn(accept_loop(listener, acceptor, state, shutdown));
    Ok(ServerHandle { local_addr, join })
}

/// A protocol served on the cluster port beside request forwarding, chosen by the ALPN the
/// client offers (integrated storage's RPCs).
#[derive(Clone)]
pub struct ClusterProtocol {
    /// The ALPN protocol name that selects it.
    pub alpn: Vec<u8>,
    /// Its TLS configuration; `None` (no certificate yet) refuses its connections.
    pub config: Arc<arc_swap::ArcSwapOption<rustls::ServerConfig>>,
    /// Serves one connection once its handshake is done.
    pub serve: Arc<ServeConnection>,
}

/// Serves one TLS connection of a [`ClusterProtocol`].
pub type ServeConnection = dyn Fn(
        tokio_rustls::server::TlsStream<TcpStream>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
    + Send
    + Sync;

/// The running cluster port: request forwarding is served while an identity is set (the node
/// is active), refused otherwise.
pub struct ClusterPort {
    forwarding: arc_swap::ArcSwapOption<rustls::ServerConfig>,
    /// The address actually bound.
    pub local_addr: SocketAddr,
}

impl ClusterPort {
    /// Serves forwarded requests with the term's `identity`, or stops (`None`).
    pub fn set_identity(
        &self,
        identity: Option<&crate::cluster::ClusterIdentity>,
    ) -> Result<(), HttpError> {
        let config = identity.map(crate::cluster::server_config).transpose()?;
        self.forwarding.store(config);
        Ok(())
    }
}

/// Binds the cluster port at `address` and serves on it until `shutdown`: forwarded requests
/// from standbys (see [`ClusterPort::set_identity`]), and `extra`'s protocol when a client
/// asks for it by ALPN. Forwarded requests are served as if they came from the client they
/// name, and never forwarded again.
pub async fn serve_cluster_port(
    address: SocketAddr,
    handler: Arc<dyn RequestHandler>,
    extra: Option<ClusterProtocol>,
    shutdown: CancellationToken,
) -> Result<Arc<ClusterPort>, HttpError> {
    let bind_error = |source| HttpError::Bind { address, source };
    let listener = TcpListener::bind(address).await.map_err(bind_error)?;
    let local_addr = listener.local_addr().map_err(bind_error)?;
    let mut opts = ListenerOptions::new(address);
    // The node that first took the request already applied the client's limits.
    opts.max_request_duration = Duration::ZERO;
    let state = Arc::new(State::new(&opts, handler, true));
    let port = Arc::new(ClusterPort {
        forwarding: arc_swap::ArcSwapOption::empty(),
        local_addr,
    });
    let accepting = port.clone();
    tokio::spawn(async move {
        let graceful = GracefulShutdown::new();
        loop {
            let accepted = tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            let Ok((stream, peer)) = accepted else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let _ = stream.set_nodelay(true);
            let state = state.clone();
            let port = accepting.clone();
            let extra = extra.clone();
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                let handshake = async {
                    let start = tokio_rustls::LazyConfigAcceptor::new(
                        rustls::server::Acceptor::default(),
                        stream,
                    )
                    .await
                    .ok()?;
                    let wants_extra = extra.as_ref().filter(|x| {
                        start
                            .client_hello()
                            .alpn()
                            .is_some_and(|mut protos| protos.any(|p| p == x.alpn.as_slice()))
                    });
                    if let Some(x) = wants_extra {
                        let config = x.config.load_full()?;
                        let tls = start.into_stream(config).await.ok()?;
                        return Some(Err((x.serve.clone(), tls)));
                    }
                    let config = port.forwarding.load_full()?;
                    start.into_stream(config).await.ok().map(Ok)
                };
                match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, handshake).await {
                    Ok(Some(Ok(tls))) => {
                        let conn = Arc::new(Connection {
                            remote_addr: peer.ip().to_string(),
                            remote_port: peer.port(),
                            peer_certificates: Vec::new(),
                        });
                        run_http(TokioIo::new(tls), conn, &state, watcher).await;
                    }
                    Ok(Some(Err((serve, tls)))) => serve(tls).await,
                    _ => tracing::debug!(peer = %peer, "cluster port: handshake refused"),
                }
            });
        }
        drop(listener);
        tokio::select! {
            _ = graceful.shutdown() => {}
            _ = tokio::time::sleep(SHUTDOWN_GRACE) => {}
        }
    });
    Ok(port)
}

/// What every connection of a listener shares.
struct State {
    handler: Arc<dyn RequestHandler>,
    max_request_size: Option<usize>,
    max_request_duration: Duration,
    json_limits: JsonLimits,
    http: auto::Builder<TokioExecutor>,
    /// The cluster port: requests come forwarded from a standby.
    cluster: bool,
    /// The server's in-flight request registry.
    in_flight: Option<Arc<crate::InFlight>>,
    /// Who may read `sys/metrics` here.
    metrics: crate::options::MetricsAccess,
    /// `x_forwarded_for_*`.
    forwarded_for: crate::forwarded::ForwardedFor,
    /// `custom_response_headers`.
    custom_headers: crate::custom_headers::CustomHeaders,
    /// `proxy_protocol_*`.
    proxy_protocol: Option<crate::proxy_protocol::ProxyProtocol>,
    /// `redact_*`.
    redact: crate::redact::Redaction,
}

impl State {
    fn new(opts: &ListenerOptions, handler: Arc<dyn RequestHandler>, cluster: bool) -> State {
        let mut http = auto::Builder::new(TokioExecutor::new());
        http.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT);
        http.http2().timer(TokioTimer::new());
        let max_depth = match opts.max_json_depth {
            0 => DEFAULT_MAX_JSON_DEPTH,
            n => n.min(HARD_MAX_JSON_DEPTH),
        };
        State {
            handler,
            max_request_size: opts.max_request_size,
            max_request_duration: opts.max_request_duration,
            json_limits: JsonLimits {
                max_depth,
                max_string_length: opts.max_json_string_length,
                max_object_entries: opts.max_json_object_entries,
                max_array_elements: opts.max_json_array_elements,
            },
            http,
            cluster,
            in_flight: opts.in_flight.clone(),
            metrics: opts.metrics.clone(),
            forwarded_for: opts.forwarded_for.clone(),
            custom_headers: opts.custom_headers.clone(),
            proxy_protocol: opts.proxy_protocol.clone(),
            redact: opts.redact,
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    state: Arc<State>,
    shutdown: CancellationToken,
) {
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Usually out of file descriptors: back off instead of spinning.
                tracing::warn!(error = %e, "failed to accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(
            stream,
            peer,
            acceptor.clone(),
            state.clone(),
            graceful.watcher(),
        ));
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::debug!("connections still open at the end of the shutdown grace period");
        }
    }
}

async fn serve_connection(
    mut stream: TcpStream,
    mut peer: SocketAddr,
    acceptor: Option<TlsAcceptor>,
    state: Arc<State>,
    watcher: Watcher,
) {
    if let Some(proxy) = &state.proxy_protocol {
        match proxy.accept(&mut stream, peer).await {
            Ok(client) => peer = client,
            Err(e) => {
                tracing::debug!(peer = %peer, error = %e, "PROXY protocol: connection closed");
                return;
            }
        }
    }
    let mut connection = Connection {
        remote_addr: peer.ip().to_string(),
        remote_port: peer.port(),
        peer_certificates: Vec::new(),
    };
    let Some(acceptor) = acceptor else {
        let conn = Arc::new(connection);
        run_http(TokioIo::new(stream), conn, &state, watcher).await;
        return;
    };
    let tls = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!(peer = %peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(peer = %peer, "TLS handshake timed out");
            return;
        }
    };
    if let Some(certs) = tls.get_ref().1.peer_certificates() {
        connection.peer_certificates = certs.iter().map(|c| c.as_ref().to_vec()).collect();
    }
    run_http(TokioIo::new(tls), Arc::new(connection), &state, watcher).await;
}

async fn run_http<I>(io: I, conn: Arc<Connection>, state: &Arc<State>, watcher: Watcher)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service_state = state.clone();
    let service = service_fn(move |req| {
        let state = service_state.clone();
        let conn = conn.clone();
        async move {
            Ok::<_, std::convert::Infallible>(crate::streaming::to_wire(
                answer(state, conn, req).await,
            ))
        }
    });
    let served = watcher
        .watch(state.http.serve_connection(io, service).into_owned())
        .await;
    if let Err(e) = served {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// One request, start to end: the pipeline under the duration limit, the log line, HEAD.
async fn answer(
    state: Arc<State>,
    conn: Arc<Connection>,
    mut req: hyper::Request<Incoming>,
) -> Answer {
    let method = req.method().clone();
    // Vault checks `X-Forwarded-For` outside its generic wrapper: a refusal is a bare error.
    let conn = if state.forwarded_for.enabled() && !state.cluster {
        match state.forwarded_for.check(&conn, req.headers_mut()) {
            crate::forwarded::Verdict::Peer => conn,
            crate::forwarded::Verdict::Client(addr) => Arc::new(Connection {
                remote_addr: addr,
                ..Connection::clone(&conn)
            }),
            crate::forwarded::Verdict::Refuse(answer) => return head_or(&method, answer),
        }
    } else {
        conn
    };
    // A certificate a proxy forwarded (after the forwarded-for rules removed an untrusted one)
    // stands for the TLS peer's, as OpenBao's `GetPreferredCerts` prefers it.
    let conn = if state.cluster {
        conn
    } else {
        match state.forwarded_for.client_cert.take(req.headers_mut()) {
            Ok(None) => conn,
            Ok(Some(der)) => Arc::new(Connection {
                peer_certificates: vec![der],
                ..Connection::clone(&conn)
            }),
            Err(message) => {
                return head_or(&method, envelope::error(StatusCode::BAD_REQUEST, message));
            }
        }
    };
    // Logged without the query: query values can be secrets.
    let uri = req.uri().clone();
    let namespace = req.headers().get(&X_VAULT_NAMESPACE).cloned();
    let request_id = uuid::Uuid::new_v4();
    let _in_flight = state
        .in_flight
        .as_ref()
        .map(|f| f.track(request_id, &conn, &uri, &method));
    let cors = if state.cluster {
        crate::cors::Cors::None
    } else {
        crate::cors::check(state.handler.cors().as_deref(), &method, req.headers())
    };
    let mut answer = match cors {
        crate::cors::Cors::Answer { mut answer, custom } => {
            if custom {
                state.custom_headers.apply(&mut answer);
            }
            return head_or(&method, answer);
        }
        cors => {
            let request_id = request_id
                .hyphenated()
                .encode_lower(&mut uuid::Uuid::encode_buffer())
                .to_owned();
            // Boxed: the pipeline's future (a few kB) is copied once, into the box, instead of
            // at each move into the timeout and this future.
            let pipeline = Box::pin(process(&state, &conn, req, request_id));
            let mut answer = if state.max_request_duration.is_zero() {
                pipeline.await
            } else {
                match tokio::time::timeout(state.max_request_duration, pipeline).await {
                    Ok(answer) => answer,
                    Err(_) => envelope::error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "context deadline exceeded",
                    ),
                }
            };
            if let crate::cors::Cors::Allow {
                origin,
                credentials,
            } = cors
            {
                crate::cors::allow(answer.headers_mut(), origin, credentials);
            }
            answer
        }
    };
    // OpenBao names the namespace asked for in the answer too.
    if let Some(namespace) = namespace.filter(|v| !v.is_empty()) {
        answer
            .headers_mut()
            .insert(X_VAULT_NAMESPACE.clone(), namespace);
    }
    if let Some(api_path) = uri.path().strip_prefix("/v1/")
        && state.redact.applies_to(api_path)
    {
        // Boxed: only the status endpoints of a redacting listener carry its state.
        answer = Box::pin(state.redact.apply(api_path, answer)).await;
    }
    state.custom_headers.apply(&mut answer);
    tracing::debug!(
        method = %method,
        path = %uri.path(),
        status = answer.status().as_u16(),
        "request"
    );
    if method == Method::HEAD {
        return without_body(answer);
    }
    answer
}

/// `answer`, without its body for HEAD.
fn head_or(method: &Method, answer: Answer) -> Answer {
    if method == Method::HEAD {
        return without_body(answer);
    }
    answer
}

/// A HEAD answer: the GET answer's status and headers, no body.
fn without_body(mut answer: Answer) -> Answer {
    crate::streaming::detach(&mut answer);
    let (mut parts, body) = answer.into_parts();
    let size = hyper::body::Body::size_hint(&body).exact().unwrap_or(0);
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(size));
    hyper::Response::from_parts(parts, Full::new(Bytes::new()))
}

async fn process(
    state: &State,
    conn: &Arc<Connection>,
    req: hyper::Request<Incoming>,
    request_id: String,
) -> Answer {
    let (parts, body) = req.into_parts();
    let forwarded_conn;
    let conn = if state.cluster {
        if parts.uri.path() == crate::cluster::ECHO_PATH {
            return Box::pin(echo(state, parts, body)).await;
        }
        forwarded_conn = Arc::new(crate::cluster::forwarded_connection(&parts.headers, conn));
        &forwarded_conn
    } else {
        conn
    };
    let path = match request_path::canonical_path(parts.uri.path()) {
        Ok(path) => path,
        Err(e) => return envelope::error(StatusCode::BAD_REQUEST, e.message()),
    };
    let path = if state.cluster {
        path
    } else {
        match metrics_gate(state, &parts, path) {
            Ok(path) => path,
            Err(answer) => return *answer,
        }
    };
    if !state.cluster
        && let crate::HaRoute::Standby(active) = state.handler.ha_route()
        && request_path::api_path(&path).is_some_and(|p| !served_by_standby(p))
    {
        // Boxed, as every rare branch here: the future of a request that takes none stays
        // small (it is moved as a whole), and only a forwarded one carries the client's state.
        return Box::pin(forward(state, conn, active, parts, body)).await;
    }
    let Some(api_path) = request_path::api_path(&path) else {
        if path == "/" {
            return envelope::redirect_to_ui(&parts.method);
        }
        if crate::ui::is_ui_path(&path)
            && let Some(headers) = state.handler.ui_headers()
        {
            return crate::ui::answer(&headers);
        }
        return envelope::errors(StatusCode::NOT_FOUND, &[]);
    };
    let namespace_header = parts
        .headers
        .get(&X_VAULT_NAMESPACE)
        .and_then(|v| v.to_str().ok());
    let namespace_path = match namespace::check(namespace_header, api_path) {
        NamespaceCheck::Path(path) => path,
        NamespaceCheck::Unavailable => {
            return envelope::error(
                StatusCode::BAD_REQUEST,
                "operation unavailable in namespaces",
            );
        }
    };
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let routing = match operation::route(&parts.method, &query) {
        Ok(routing) => routing,
        Err(RoutingError::MethodNotAllowed) => {
            return envelope::errors(StatusCode::METHOD_NOT_ALLOWED, &[]);
        }
        Err(RoutingError::BadListValue) => {
            return envelope::error(
                StatusCode::BAD_REQUEST,
                "invalid value for the list query parameter",
            );
        }
    };
    // Rate-limit quotas, before the body is read (OpenBao's `rateLimitQuotaWrapping`; the
    // body only for a role-based quota's login).
    let list_path;
    let quota_path = if routing.operation == Operation::List && !api_path.ends_with('/') {
        list_path = format!("{api_path}/");
        list_path.as_str()
    } else {
        api_path
    };
    let ask = crate::RateLimitAsk {
        path: quota_path,
        namespace: &namespace_path,
        client: &conn.remote_addr,
        role: None,
    };
    let mut body = Some(body);
    let mut prefetched = None;
    let mut verdict = state.handler.rate_limit(&ask);
    if verdict == crate::RateLimitVerdict::NeedsRole {
        let (again, bytes) =
            match Box::pin(rate_limit_with_role(state, &parts, body.take(), &ask)).await {
                Ok(asked) => asked,
                Err(answer) => return answer,
            };
        verdict = again;
        prefetched = Some(bytes);
    }
    let quota_headers = match verdict {
        crate::RateLimitVerdict::Refused(headers) => {
            let answer = crate::quota::refused(quota_path, &headers);
            if state.handler.audits_rate_limited() {
                let req = Box::pin(unauthenticated_request(
                    state,
                    conn,
                    &parts,
                    (body, prefetched),
                    api_path,
                    namespace_path,
                    &query,
                    &routing,
                    request_id,
                ))
                .await;
                let error = crate::quota::refusal(quota_path);
                state.handler.audit_rate_limited(req, error).await;
            }
            return answer;
        }
        crate::RateLimitVerdict::Allowed(headers) => headers,
        crate::RateLimitVerdict::NeedsRole => Vec::new(),
    };
    let mut answer = serve_request(
        state,
        conn,
        parts,
        (body, prefetched),
        api_path,
        namespace_path,
        &query,
        routing,
        request_id,
    )
    .await;
    crate::quota::add_headers(&mut answer, &quota_headers);
    answer
}

/// After [`crate::RateLimitVerdict::NeedsRole`]: reads the body, asks the handler for the
/// login's role and the quotas again with it; the new verdict and the body (kept for the
/// request), or the answer that refuses the body.
async fn rate_limit_with_role(
    state: &State,
    parts: &hyper::http::request::Parts,
    body: Option<Incoming>,
    ask: &crate::RateLimitAsk<'_>,
) -> Result<(crate::RateLimitVerdict, Bytes), Answer> {
    let bytes = read_body(state, &parts.headers, body).await?;
    let data = body::decode_json(&bytes, &state.json_limits).unwrap_or_default();
    let role = state.handler.login_role(ask, &data).await;
    let verdict = state.handler.rate_limit(&crate::RateLimitAsk {
        role: Some(&role),
        ..*ask
    });
    Ok((verdict, bytes))
}

/// The request as it would reach the core, without its token (OpenBao's
/// `buildLogicalRequestNoAuth`), for the audit line of a request refused at the edge. Its data
/// is the query's or the body's JSON (left empty when the body cannot be read or decoded).
// The request's parts as `process` took them apart: bundling them would only rename them.
#[allow(clippy::too_many_arguments)]
async fn unauthenticated_request(
    state: &State,
    conn: &Arc<Connection>,
    parts: &hyper::http::request::Parts,
    (body, prefetched): (Option<Incoming>, Option<Bytes>),
    api_path: &str,
    namespace_path: String,
    query: &[(String, String)],
    routing: &operation::Routing,
    request_id: String,
) -> Request {
    let data = match routing.data {
        DataSource::Query => body::query_data(query),
        DataSource::Body | DataSource::PatchBody => {
            let bytes = match prefetched {
                Some(bytes) => Some(bytes),
                None => read_body(state, &parts.headers, body).await.ok(),
            };
            bytes
                .and_then(|b| body::decode_json(&b, &state.json_limits).ok())
                .unwrap_or_default()
        }
    };
    let mut request = routed_request(routing, api_path, data, request_id, namespace_path, conn);
    if let Ok(headers) = translate::header_parts(&parts.headers) {
        request.headers = headers.headers;
    }
    request
}

/// The request for `api_path` (a LIST's with its trailing slash) with `data`, its id, its
/// namespace and its connection; the headers' parts are the caller's to add.
fn routed_request(
    routing: &operation::Routing,
    api_path: &str,
    data: serde_json::Map<String, serde_json::Value>,
    request_id: String,
    namespace_path: String,
    conn: &Arc<Connection>,
) -> Request {
    let mut path = api_path.to_string();
    if routing.operation == Operation::List && !path.ends_with('/') {
        path.push('/');
    }
    let mut request = Request::new(routing.operation, path).with_data(data);
    request.id = request_id;
    request.namespace_path = namespace_path;
    request.connection = Some(Connection::clone(conn));
    request
}

/// Reads a body within the listener's size limit, or the answer that refuses it.
async fn read_body(
    state: &State,
    headers: &HeaderMap,
    body: Option<Incoming>,
) -> Result<Bytes, Answer> {
    let Some(body) = body else {
        return Ok(Bytes::new());
    };
    let content_length = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match body::read_limited(body, state.max_request_size, content_length).await {
        Ok(bytes) => Ok(bytes),
        Err(ReadError::TooLarge) => Err(envelope::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "http: request body too large",
        )),
        Err(ReadError::Io) => Err(envelope::error(
            StatusCode::BAD_REQUEST,
            "failed to read the request body",
        )),
    }
}

/// The request past the edge checks: headers, body, the handler, the answer.
// The request's parts as `process` took them apart: bundling them would only rename them.
#[allow(clippy::too_many_arguments)]
async fn serve_request(
    state: &State,
    conn: &Arc<Connection>,
    parts: hyper::http::request::Parts,
    (mut body, prefetched): (Option<Incoming>, Option<Bytes>),
    api_path: &str,
    namespace_path: String,
    query: &[(String, String)],
    routing: operation::Routing,
    request_id: String,
) -> Answer {
    let headers = match translate::header_parts(&parts.headers) {
        Ok(h) => h,
        Err(message) => return envelope::error(StatusCode::BAD_REQUEST, &message),
    };
    let data = match routing.data {
        DataSource::Query if api_path == "sys/metrics" => {
            let mut query = query.to_vec();
            if !query.iter().any(|(k, _)| k == "format") {
                let format = metrics_format(&parts.headers);
                if !format.is_empty() {
                    query.push(("format".to_owned(), format.to_owned()));
                }
            }
            body::query_data(&query)
        }
        DataSource::Query => body::query_data(query),
        DataSource::Body | DataSource::PatchBody => {
            let media_type = media_type(&parts.headers);
            if routing.data == DataSource::PatchBody {
                // As OpenBao (Go's `mime.ParseMediaType`, then an exact match): a merge patch
                // or nothing, whatever the body looks like.
                if media_type.is_empty() {
                    return envelope::error(StatusCode::BAD_REQUEST, "mime: no media type");
                }
                if media_type != "application/merge-patch+json" {
                    return envelope::error(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        &format!(
                            "PATCH requires Content-Type of application/merge-patch+json, \
                             provided {media_type}"
                        ),
                    );
                }
            }
            let bytes = match prefetched {
                Some(bytes) => bytes,
                None => match read_body(state, &parts.headers, body.take()).await {
                    Ok(bytes) => bytes,
                    Err(answer) => return answer,
                },
            };
            let raw_body = media_type == "application/ocsp-request"
                || matches!(
                    api_path,
                    "sys/storage/raft/snapshot" | "sys/storage/raft/snapshot-force"
                );
            let decoded = if raw_body {
                // As OpenBao hands an OCSP responder the raw request: the DER body, base64,
                // under `http_raw_body` (the name OpenBao's SDK gives a raw body).
                use base64::Engine;
                let mut m = serde_json::Map::new();
                m.insert(
                    "http_raw_body".into(),
                    serde_json::Value::String(
                        base64::engine::general_purpose::STANDARD.encode(&bytes),
                    ),
                );
                Ok(m)
            } else if routing.data == DataSource::Body && is_form(&media_type, &bytes) {
                body::decode_form(&bytes, &state.json_limits)
            } else {
                body::decode_json(&bytes, &state.json_limits)
            };
            match decoded {
                Ok(data) => data,
                Err(message) => return envelope::error(StatusCode::BAD_REQUEST, &message),
            }
        }
    };

    let mut request = routed_request(&routing, api_path, data, request_id, namespace_path, conn);
    request.client_token = headers.client_token;
    request.client_token_from_authorization = headers.token_from_authorization;
    request.headers = headers.headers;
    request.wrap_info = headers.wrap_info;
    request.from_api_client = headers.from_api_client;
    let request_id = request.id.clone();

    // A panic in the handler becomes a 500 (caught here, in this task: no task spawned per
    // request); the handler's future is dropped with this one (client gone, or the duration
    // limit hit).
    let handled = AssertUnwindSafe(state.handler.handle(request))
        .catch_unwind()
        .await;
    match handled {
        Ok(Ok(resp)) if routing.operation == Operation::List => {
            match envelope::empty_list_status(resp.as_ref()) {
                Some(status) => envelope::errors(status, &[]),
                None => match resp {
                    Some(resp) => envelope::response(&request_id, &resp),
                    None => envelope::no_content(),
                },
            }
        }
        // Vault's `RespondErrorCommon`: a read (GET, HEAD) answered with nothing is a bare 404
        // (a plugin's read of a missing entry), never a 204.
        Ok(Ok(None)) if routing.operation == Operation::Read => {
            envelope::errors(StatusCode::NOT_FOUND, &[])
        }
        Ok(Ok(None)) => envelope::no_content(),
        Ok(Ok(Some(resp))) => envelope::response(&request_id, &resp),
        Ok(Err(e)) => envelope::logical_error(&e),
        Err(panic) => {
            tracing::error!(
                error = panic_text(panic.as_ref()),
                "request handler panicked"
            );
            envelope::errors(
                StatusCode::INTERNAL_SERVER_ERROR,
                &[arca_sdk::error::multierror(&["internal error".to_string()])],
            )
        }
    }
}

/// The paths a standby answers itself, as OpenBao's (everything else goes to the active node).
fn served_by_standby(api_path: &str) -> bool {
    matches!(
        api_path.trim_end_matches('/'),
        "sys/health"
            | "sys/seal-status"
            | "sys/seal"
            | "sys/unseal"
            | "sys/init"
            | "sys/leader"
            | "sys/storage/raft/bootstrap"
            | "sys/storage/raft/join"
            | "sys/host-info"
            | "sys/monitor"
    ) || api_path.starts_with("sys/config/state/")
}

/// A standby's answer to a request the active node serves: forwarded there, or, when the
/// client asks for no forwarding (or it fails), a 307 to the active node's API address.
async fn forward(
    state: &State,
    conn: &Arc<Connection>,
    active: Option<crate::ActiveNode>,
    parts: hyper::http::request::Parts,
    body: Incoming,
) -> Answer {
    let Some(active) = active else {
        return envelope::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "local node not active but active cluster node not found",
        );
    };
    if parts.headers.contains_key("x-vault-no-request-forwarding") {
        return redirect_to_active(&active.api_addr, &parts.uri);
    }
    let content_length = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let bytes = match body::read_limited(body, state.max_request_size, content_length).await {
        Ok(bytes) => bytes,
        Err(ReadError::TooLarge) => {
            return envelope::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "http: request body too large",
            );
        }
        Err(ReadError::Io) => {
            return envelope::error(StatusCode::BAD_REQUEST, "failed to read the request body");
        }
    };
    match active.forwarder.forward(&parts, bytes, conn).await {
        Ok(answer) => answer,
        Err(e) => {
            tracing::warn!(error = %e, "forwarding to the active node failed, redirecting");
            state.handler.forward_failed().await;
            redirect_to_active(&active.api_addr, &parts.uri)
        }
    }
}

/// The path `sys/metrics` is served at on this listener.
const METRICS_PATH: &str = "/v1/sys/metrics";

/// OpenBao's `wrapMetricsListenerHandler` and unauthenticated metrics handler, in that order:
/// a listener that disallows metrics refuses them (403), a metrics-only listener serves
/// nothing else (404), a custom metrics path stands for `/v1/sys/metrics`, and with
/// `unauthenticated_metrics_access` a GET is answered here, without a token. `Ok` carries the
/// path the request goes on with.
fn metrics_gate(
    state: &State,
    parts: &hyper::http::request::Parts,
    path: String,
) -> Result<String, Box<Answer>> {
    let access = &state.metrics;
    let metrics_path = match (&access.path, access.only) {
        (Some(p), true) => p.as_str(),
        _ => METRICS_PATH,
    };
    let is_metrics = path == metrics_path;
    if access.disallow && is_metrics {
        return Err(Box::new(plain_error(
            StatusCode::FORBIDDEN,
            "metrics endpoint is disabled for this listener",
        )));
    }
    if access.only && !is_metrics {
        return Err(Box::new(plain_error(
            StatusCode::NOT_FOUND,
            "this listener only serves the metrics endpoint",
        )));
    }
    if !is_metrics {
        return Ok(path);
    }
    if access.unauthenticated {
        if parts.method != Method::GET && parts.method != Method::HEAD {
            return Err(Box::new(envelope::errors(
                StatusCode::METHOD_NOT_ALLOWED,
                &[],
            )));
        }
        let format = parts
            .uri
            .query()
            .and_then(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "format")
                    .map(|(_, v)| v.into_owned())
            })
            .filter(|f| !f.is_empty())
            .unwrap_or_else(|| metrics_format(&parts.headers).to_owned());
        if let Some(raw) = state.handler.metrics(&format) {
            return Err(Box::new(envelope::response(
                "",
                &arca_sdk::Response {
                    raw: Some(raw),
                    ..arca_sdk::Response::default()
                },
            )));
        }
    }
    Ok(METRICS_PATH.to_owned())
}

/// The format the `Accept` header asks for (OpenBao's `FormatFromRequest`): `prometheus` for
/// `application/openmetrics-text` first or `prometheus/telemetry` anywhere, else `""`.
fn metrics_format(headers: &HeaderMap) -> &'static str {
    let accept: Vec<&str> = headers
        .get_all(hyper::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if accept
        .first()
        .is_some_and(|a| a.starts_with("application/openmetrics-text"))
        || accept.iter().any(|a| a.contains("prometheus/telemetry"))
    {
        "prometheus"
    } else {
        ""
    }
}

/// Go's `http.Error`: a plain-text line, before any of the server's usual headers.
fn plain_error(status: StatusCode, message: &str) -> Answer {
    let mut a = hyper::Response::new(Full::new(Bytes::from(format!("{message}\n"))));
    *a.status_mut() = status;
    a.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    a.headers_mut().insert(
        hyper::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    a
}

/// OpenBao's `respondStandby`: 307 to the same path and query on the active node.
fn redirect_to_active(api_addr: &str, uri: &hyper::Uri) -> Answer {
    let base = api_addr.trim_end_matches('/');
    let base = if base.contains("://") {
        base.to_string()
    } else {
        format!("https://{base}")
    };
    let mut location = format!("{base}{}", uri.path());
    if let Some(q) = uri.query() {
        location.push('?');
        location.push_str(q);
    }
    let mut answer = hyper::Response::new(Full::new(Bytes::new()));
    *answer.status_mut() = StatusCode::TEMPORARY_REDIRECT;
    if let Ok(v) = HeaderValue::from_str(&location) {
        answer.headers_mut().insert(hyper::header::LOCATION, v);
    }
    answer
}

/// A standby's echo on the cluster port.
async fn echo(state: &State, parts: hyper::http::request::Parts, body: Incoming) -> Answer {
    if parts.method != Method::POST {
        return envelope::errors(StatusCode::METHOD_NOT_ALLOWED, &[]);
    }
    let Ok(bytes) = body::read_limited(body, Some(64 * 1024), None).await else {
        return envelope::error(StatusCode::BAD_REQUEST, "failed to read the request body");
    };
    match serde_json::from_slice(&bytes) {
        Ok(node) => {
            state.handler.echo(node);
            envelope::no_content()
        }
        Err(e) => envelope::error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

/// The media type of `Content-Type`, lower-case, without parameters (empty when absent).
fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Vault's rule: a form content type makes a form body, unless the body looks like JSON.
fn is_form(media_type: &str, bytes: &[u8]) -> bool {
    media_type == "application/x-www-form-urlencoded"
        && !matches!(
            bytes.iter().find(|b| !b.is_ascii_whitespace()),
            Some(b'{' | b'[')
        )
}

/// What a panic said, when it said it with a string.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("panic")
}
