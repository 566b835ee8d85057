//! Node-to-node messages: a [`Transport`] sends one named RPC (a JSON body) to a peer and
//! returns its answer. [`TlsTransport`] does it over mutual TLS (HTTP/1.1 `POST
//! /v1/raft/<rpc>`, one kept-alive connection per peer); [`FaultTransport`] wraps another
//! transport and drops the messages between chosen pairs of nodes (a network partition, for
//! tests). [`serve`] is the matching listener. [`Network`] adapts a transport to openraft.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use openraft::error::{
    Fatal, InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, ReplicationClosed,
    StreamingError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{Snapshot, SnapshotMeta, Vote};
use parking_lot::Mutex;
use rustls_pki_types::ServerName;
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::node::RaftNode;
use crate::types::{PeerNode, RaftId, TypeConfig};

/// URL path prefix of the cluster RPCs.
pub const RPC_PATH: &str = "/v1/raft/";

/// Why a message did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The peer could not be reached (connection refused, partition): retry later.
    #[error("peer unreachable: {0}")]
    Unreachable(String),
    /// The exchange failed half-way or timed out.
    #[error("network error: {0}")]
    Network(String),
    /// The peer answered with an error.
    #[error("peer refused the request: {0}")]
    Remote(String),
}

/// Sends one RPC to a peer and returns its answer body.
#[async_trait]
pub trait Transport: Send + Sync + 'static {
    /// Sends `body` as RPC `rpc` to `target`, giving up after `timeout`.
    async fn call(
        &self,
        target: &PeerNode,
        rpc: &str,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, TransportError>;
}

/// The mutual-TLS transport.
pub struct TlsTransport {
    connector: TlsConnector,
    /// Idle connections by peer address.
    idle: Mutex<HashMap<String, Vec<SendRequest<Full<Bytes>>>>>,
}

impl TlsTransport {
    /// A transport presenting this node's certificate and trusting only the cluster CA.
    pub fn new(tls: &crate::RaftTls) -> Result<Self, crate::RaftStorageError> {
        Ok(Self {
            connector: TlsConnector::from(tls.client_config()?),
            idle: Mutex::new(HashMap::new()),
        })
    }

    async fn connect(&self, addr: &str) -> Result<SendRequest<Full<Bytes>>, TransportError> {
        let host = host_of(addr);
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| TransportError::Unreachable(format!("bad address {addr}: {e}")))?;
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| TransportError::Unreachable(format!("{addr}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let tls = self
            .connector
            .connect(name, tcp)
            .await
            .map_err(|e| TransportError::Unreachable(format!("TLS to {addr}: {e}")))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| TransportError::Unreachable(format!("HTTP to {addr}: {e}")))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    async fn exchange(&self, addr: &str, rpc: &str, body: Bytes) -> Result<Bytes, TransportError> {
        let pooled = self.idle.lock().get_mut(addr).and_then(|v| v.pop());
        let mut sender = match pooled {
            Some(s) if !s.is_closed() => s,
            _ => self.connect(addr).await?,
        };
        sender
            .ready()
            .await
            .map_err(|e| TransportError::Network(e.to_string()))?;
        let req = hyper::Request::post(format!("{RPC_PATH}{rpc}"))
            .header(hyper::header::HOST, addr)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|e| TransportError::Network(e.to_string()))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| TransportError::Network(e.to_string()))?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| TransportError::Network(e.to_string()))?
            .to_bytes();
        self.idle
            .lock()
            .entry(addr.to_owned())
            .or_default()
            .push(sender);
        if status.is_success() {
            Ok(bytes)
        } else {
            Err(TransportError::Remote(format!(
                "{status}: {}",
                String::from_utf8_lossy(&bytes)
            )))
        }
    }
}

/// The host part of `host:port` (brackets of an IPv6 literal removed).
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

#[async_trait]
impl Transport for TlsTransport {
    async fn call(
        &self,
        target: &PeerNode,
        rpc: &str,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, TransportError> {
        match tokio::time::timeout(timeout, self.exchange(&target.addr, rpc, body)).await {
            Ok(r) => r,
            Err(_) => Err(TransportError::Network(format!(
                "{rpc} to {} timed out after {timeout:?}",
                target.addr
            ))),
        }
    }
}

/// Which node pairs cannot talk to each other; shared by the [`FaultTransport`]s of a test
/// cluster.
#[derive(Clone, Default)]
pub struct Faults {
    blocked: Arc<Mutex<HashSet<(String, String)>>>,
}

impl Faults {
    /// No faults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops every message between `a` and `b`, both ways.
    pub fn block(&self, a: &str, b: &str) {
        let mut set = self.blocked.lock();
        set.insert((a.to_owned(), b.to_owned()));
        set.insert((b.to_owned(), a.to_owned()));
    }

    /// Cuts `node` off from each of `others`.
    pub fn isolate(&self, node: &str, others: &[&str]) {
        for other in others {
            self.block(node, other);
        }
    }

    /// Removes every fault.
    pub fn heal(&self) {
        self.blocked.lock().clear();
    }

    /// Whether messages from `from` to `to` are dropped.
    pub fn is_blocked(&self, from: &str, to: &str) -> bool {
        self.blocked
            .lock()
            .contains(&(from.to_owned(), to.to_owned()))
    }
}

/// A transport that drops the messages [`Faults`] says are blocked, as a partition would.
pub struct FaultTransport {
    inner: Arc<dyn Transport>,
    from: String,
    faults: Faults,
}

impl FaultTransport {
    /// Wraps `inner` for the node named `from`.
    pub fn new(inner: Arc<dyn Transport>, from: &str, faults: Faults) -> Self {
        Self {
            inner,
            from: from.to_owned(),
            faults,
        }
    }
}

#[async_trait]
impl Transport for FaultTransport {
    async fn call(
        &self,
        target: &PeerNode,
        rpc: &str,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, TransportError> {
        if self.faults.is_blocked(&self.from, &target.name) {
            return Err(TransportError::Unreachable(format!(
                "{} is partitioned from {}",
                self.from, target.name
            )));
        }
        let answer = self.inner.call(target, rpc, body, timeout).await;
        // A partition that started while the message was in flight loses the answer too.
        if self.faults.is_blocked(&target.name, &self.from) {
            return Err(TransportError::Unreachable("partitioned".to_owned()));
        }
        answer
    }
}

/// The body of a `full_snapshot` RPC.
#[derive(Serialize, Deserialize)]
pub(crate) struct FullSnapshotRequest {
    pub(crate) vote: Vote<u64>,
    pub(crate) meta: SnapshotMeta<u64, PeerNode>,
    #[serde(with = "crate::types::b64")]
    pub(crate) data: Vec<u8>,
}

/// When this node first tried to reach each peer and when a peer last answered, by node id
/// (autopilot's `last_contact` and dead-server detection).
#[derive(Clone, Default)]
pub(crate) struct Contacts(Arc<Mutex<HashMap<String, Contact>>>);

/// One peer's contact record.
#[derive(Clone, Copy)]
pub(crate) struct Contact {
    pub(crate) first_try: std::time::Instant,
    pub(crate) last_answer: Option<std::time::Instant>,
}

impl Contacts {
    fn tried(&self, name: &str) {
        self.0
            .lock()
            .entry(name.to_owned())
            .or_insert_with(|| Contact {
                first_try: std::time::Instant::now(),
                last_answer: None,
            });
    }

    fn answered(&self, name: &str) {
        if let Some(c) = self.0.lock().get_mut(name) {
            c.last_answer = Some(std::time::Instant::now());
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<Contact> {
        self.0.lock().get(name).copied()
    }
}

/// Builds a [`Network`] per peer.
pub struct NetworkFactory {
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) contacts: Contacts,
    /// First retry delay after a failed RPC; doubles up to `max_backoff`.
    pub(crate) min_backoff: Duration,
    /// Longest retry delay.
    pub(crate) max_backoff: Duration,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = Network;

    async fn new_client(&mut self, target: RaftId, node: &PeerNode) -> Network {
        Network {
            transport: self.transport.clone(),
            contacts: self.contacts.clone(),
            target,
            node: node.clone(),
            min_backoff: self.min_backoff,
            max_backoff: self.max_backoff,
        }
    }
}

/// openraft's connection to one peer, over a [`Transport`].
pub struct Network {
    transport: Arc<dyn Transport>,
    contacts: Contacts,
    target: RaftId,
    node: PeerNode,
    min_backoff: Duration,
    max_backoff: Duration,
}

/// Turns a transport failure into openraft's error.
fn rpc_error<E: std::error::Error>(e: TransportError) -> RPCError<u64, PeerNode, E> {
    match e {
        TransportError::Unreachable(_) => RPCError::Unreachable(Unreachable::new(&e)),
        _ => RPCError::Network(NetworkError::new(&e)),
    }
}

impl Network {
    async fn send<Req: Serialize, Resp: serde::de::DeserializeOwned>(
        &self,
        rpc: &str,
        req: &Req,
        timeout: Duration,
    ) -> Result<Resp, TransportError> {
        let body = serde_json::to_vec(req).map_err(|e| TransportError::Network(e.to_string()))?;
        self.contacts.tried(&self.node.name);
        let answer = self
            .transport
            .call(&self.node, rpc, Bytes::from(body), timeout)
            .await?;
        self.contacts.answered(&self.node.name);
        serde_json::from_slice(&answer)
            .map_err(|e| TransportError::Network(format!("bad {rpc} answer: {e}")))
    }

    async fn raft_rpc<Req: Serialize, Resp: serde::de::DeserializeOwned, E>(
        &self,
        rpc: &str,
        req: &Req,
        timeout: Duration,
    ) -> Result<Resp, RPCError<u64, PeerNode, RaftError<u64, E>>>
    where
        E: std::error::Error + serde::de::DeserializeOwned,
    {
        let answer: Result<Resp, RaftError<u64, E>> =
            self.send(rpc, req, timeout).await.map_err(rpc_error)?;
        answer.map_err(|e| {
            RPCError::RemoteError(RemoteError::new_with_node(
                self.target,
                self.node.clone(),
                e,
            ))
        })
    }
}

impl RaftNetwork<TypeConfig> for Network {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, PeerNode, RaftError<u64>>> {
        self.raft_rpc("append_entries", &rpc, option.hard_ttl())
            .await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        RPCError<u64, PeerNode, RaftError<u64, InstallSnapshotError>>,
    > {
        self.raft_rpc("install_snapshot", &rpc, option.hard_ttl())
            .await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, PeerNode, RaftError<u64>>> {
        self.raft_rpc("vote", &rpc, option.hard_ttl()).await
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote<u64>,
        snapshot: Snapshot<TypeConfig>,
        cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<u64>, StreamingError<TypeConfig, Fatal<u64>>> {
        let req = FullSnapshotRequest {
            vote,
            meta: snapshot.meta.clone(),
            data: snapshot.snapshot.into_inner(),
        };
        let send = self.send::<_, Result<SnapshotResponse<u64>, Fatal<u64>>>(
            "full_snapshot",
            &req,
            option.hard_ttl(),
        );
        let answer = tokio::select! {
            closed = cancel => return Err(StreamingError::Closed(closed)),
            answer = send => answer,
        };
        match answer {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(fatal)) => Err(StreamingError::RemoteError(RemoteError::new_with_node(
                self.target,
                self.node.clone(),
                fatal,
            ))),
            Err(e @ TransportError::Unreachable(_)) => {
                Err(StreamingError::Unreachable(Unreachable::new(&e)))
            }
            Err(e) => Err(StreamingError::Network(NetworkError::new(&e))),
        }
    }

    fn backoff(&self) -> openraft::network::Backoff {
        let (min, max) = (self.min_backoff, self.max_backoff);
        openraft::network::Backoff::new(
            (0..).map(move |i: u32| min.saturating_mul(1u32 << i.min(16)).min(max)),
        )
    }
}

/// A transport whose TLS identity arrives later: a node that has not joined a cluster yet
/// has no certificate; [`SwappableTransport::set`] installs one (at bootstrap or join).
/// Until then every call fails as unreachable.
#[derive(Default)]
pub struct SwappableTransport {
    inner: arc_swap::ArcSwapOption<TlsTransport>,
}

impl SwappableTransport {
    /// Installs (or replaces) the TLS identity calls are made with.
    pub fn set(&self, tls: &crate::RaftTls) -> Result<(), crate::RaftStorageError> {
        self.inner.store(Some(Arc::new(TlsTransport::new(tls)?)));
        Ok(())
    }

    /// Whether an identity is installed.
    pub fn is_set(&self) -> bool {
        self.inner.load().is_some()
    }
}

#[async_trait]
impl Transport for SwappableTransport {
    async fn call(
        &self,
        target: &PeerNode,
        rpc: &str,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, TransportError> {
        let Some(inner) = self.inner.load_full() else {
            return Err(TransportError::Unreachable(
                "this node has no cluster certificate yet".to_owned(),
            ));
        };
        inner.call(target, rpc, body, timeout).await
    }
}

/// Serves the cluster RPCs of `node` on one connection whose TLS handshake (with the
/// configuration of [`crate::RaftTls::server_config`]) a shared cluster port already made.
pub async fn serve_connection<S>(stream: S, node: RaftNode)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let node = node.clone();
        async move { Ok::<_, std::convert::Infallible>(answer(node, req).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// A running RPC listener; dropping it (or [`RpcServer::shutdown`]) stops it and every
/// connection it accepted, abruptly.
pub struct RpcServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl RpcServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and drops every open connection at once.
    pub fn shutdown(&self) {
        self.task.abort();
    }
}

impl Drop for RpcServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves the cluster RPCs of `node` on `listener` over mutual TLS (`tls` from
/// [`crate::RaftTls::server_config`]).
pub fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    node: RaftNode,
) -> std::io::Result<RpcServer> {
    let addr = listener.local_addr()?;
    let acceptor = TlsAcceptor::from(tls);
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((tcp, _)) = accepted else { continue };
                    let _ = tcp.set_nodelay(true);
                    let acceptor = acceptor.clone();
                    let node = node.clone();
                    conns.spawn(async move {
                        let Ok(tls) = acceptor.accept(tcp).await else { return };
                        let service = hyper::service::service_fn(move |req| {
                            let node = node.clone();
                            async move { Ok::<_, std::convert::Infallible>(answer(node, req).await) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(tls), service)
                            .await;
                    });
                }
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
    });
    Ok(RpcServer { addr, task })
}

async fn answer(
    node: RaftNode,
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let reply = |status: hyper::StatusCode, body: Bytes| {
        let mut resp = hyper::Response::new(Full::new(body));
        *resp.status_mut() = status;
        resp
    };
    let Some(rpc) = req.uri().path().strip_prefix(RPC_PATH).map(str::to_owned) else {
        return reply(
            hyper::StatusCode::NOT_FOUND,
            Bytes::from_static(b"not found"),
        );
    };
    if req.method() != hyper::Method::POST {
        return reply(
            hyper::StatusCode::METHOD_NOT_ALLOWED,
            Bytes::from_static(b"POST only"),
        );
    }
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return reply(hyper::StatusCode::BAD_REQUEST, Bytes::from(e.to_string())),
    };
    match node.handle_rpc(&rpc, body).await {
        Ok(out) => reply(hyper::StatusCode::OK, out),
        Err(e) => reply(
            hyper::StatusCode::INTERNAL_SERVER_ERROR,
            Bytes::from(e.to_string()),
        ),
    }
}
