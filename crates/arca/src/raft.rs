//! Integrated storage (`storage "raft"`) in the server: the Raft node under the barrier, its
//! TLS authority, bootstrap at `sys/init`, and joining as OpenBao does it.
//!
//! - **TLS.** The first node makes the cluster's certificate authority at init and a
//!   certificate for itself; the authority goes inside the barrier (`core/raft/tls-ca`) at the
//!   first activation. Each node keeps its own certificate and key in `<path>/tls/` (files
//!   0600), so Raft can run before the node is unsealed (its data is barrier ciphertext).
//! - **Join.** `sys/storage/raft/join` on the new node asks the leader's API for a challenge:
//!   a random value encrypted with the root key, and the stored root key encrypted with the
//!   unseal key. The operator then unseals the new node; with the unseal key it opens the root
//!   key, then the challenge, and answers it. Only then does the active node issue the new
//!   node's certificate and add it to the cluster. The node waits for the data to arrive and
//!   unseals over it, as a standby.
//! - **Administration** (`sys/storage/raft/configuration`, `remove-peer`, `snapshot`,
//!   `snapshot-force`, `autopilot/*`) is served through the core's `sys/` mount
//!   ([`arca_core::StorageAdmin`]), after the token and the ACL.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use arc_swap::ArcSwapOption;
use arca_core::Core;
use arca_raft::{RaftConfig, RaftNode, RaftTls, SwappableTransport};
use arca_sdk::{JsonMap, LogicalError, Operation, Response};
use arca_storage::PhysicalBackend;
use base64::Engine;
use parking_lot::Mutex;
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// Where the cluster's TLS authority is kept inside the barrier (`core/raft/<name>`).
const CA_SECRET: &str = "tls-ca";
/// Where autopilot's configuration is kept inside the barrier.
const AUTOPILOT_SECRET: &str = "autopilot-config";
/// The associated data of join challenges.
const CHALLENGE_AAD: &[u8] = b"arca-raft-join-challenge";
/// How long a challenge may be answered.
const CHALLENGE_TTL: Duration = Duration::from_secs(120);
/// At most this many challenges are open at once (an unauthenticated endpoint must not let
/// anyone grow the server's memory: CVE-2024-8185), the oldest dropped first.
const MAX_OPEN_CHALLENGES: usize = 64;
/// The longest node id a challenge is given for.
const MAX_SERVER_ID_LEN: usize = 128;
/// How long a joined node waits for the data before unsealing.
const CATCH_UP_WAIT: Duration = Duration::from_secs(120);

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// A `retry_join` block of the storage stanza.
#[derive(Clone, Debug, Default, serde::Deserialize)]
struct RetryJoin {
    #[serde(default)]
    leader_api_addr: String,
    #[serde(default)]
    leader_ca_cert_file: Option<String>,
    #[serde(default)]
    leader_client_cert_file: Option<String>,
    #[serde(default)]
    leader_client_key_file: Option<String>,
    #[serde(default)]
    leader_ca_cert: Option<String>,
    #[serde(default)]
    leader_client_cert: Option<String>,
    #[serde(default)]
    leader_client_key: Option<String>,
}

/// A join in progress: challenge received, waiting for the unseal keys.
struct PendingJoin {
    leader_api: String,
    client: reqwest::Client,
    challenge: Vec<u8>,
    root_blob: Vec<u8>,
    shares: usize,
    threshold: usize,
    non_voter: bool,
    keys: Vec<Zeroizing<Vec<u8>>>,
    nonce: String,
}

/// A join challenge's expected answer and when it was given.
type Challenge = (Zeroizing<Vec<u8>>, Instant);

/// The server's integrated storage.
#[derive(Clone)]
pub(crate) struct RaftStorage {
    inner: Arc<Inner>,
}

struct Inner {
    node: RaftNode,
    transport: Arc<SwappableTransport>,
    server_tls: Arc<ArcSwapOption<rustls::ServerConfig>>,
    tls_dir: PathBuf,
    /// This node's cluster address as Raft records it (`host:port`).
    addr: String,
    retry_join: Vec<RetryJoin>,
    pending: tokio::sync::Mutex<Option<PendingJoin>>,
    /// Open challenges by the id of the node they were given to: the expected answer, when.
    challenges: Mutex<HashMap<String, Challenge>>,
    core: OnceLock<Core>,
}

fn host_port(addr: &str) -> String {
    addr.split_once("://")
        .map_or(addr, |(_, rest)| rest)
        .trim_end_matches('/')
        .to_string()
}

fn host_of(host_port: &str) -> String {
    let host = host_port
        .rsplit_once(':')
        .map_or(host_port, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    host.to_string()
}

impl RaftStorage {
    /// Opens the node in the stanza's `path`, reachable by its peers at `cluster_addr`.
    pub(crate) async fn open(
        options: &HashMap<String, String>,
        cluster_addr: &str,
    ) -> Result<RaftStorage> {
        let config = RaftConfig::from_map(options)
            .map_err(|e| anyhow!("error initializing storage of type raft: {e}"))?;
        let tls_dir = config.path.join("tls");
        let retry_join = match options.get("retry_join") {
            None => Vec::new(),
            Some(text) => parse_retry_join(text)?,
        };
        let addr = host_port(cluster_addr);
        let transport = Arc::new(SwappableTransport::default());
        let node = RaftNode::open_with_transport(config, &addr, transport.clone())
            .await
            .map_err(|e| anyhow!("error initializing storage of type raft: {e}"))?;
        let storage = RaftStorage {
            inner: Arc::new(Inner {
                node,
                transport,
                server_tls: Arc::new(ArcSwapOption::empty()),
                tls_dir,
                addr,
                retry_join,
                pending: tokio::sync::Mutex::new(None),
                challenges: Mutex::new(HashMap::new()),
                core: OnceLock::new(),
            }),
        };
        if let Some(tls) = storage.read_tls()? {
            storage.install_tls(&tls)?;
        }
        // Sealed until unsealed: no candidacy before (see `follow_seal`).
        storage.inner.node.set_electable(false);
        Ok(storage)
    }

    /// The Raft node (the physical backend and the HA lock).
    pub(crate) fn node(&self) -> &RaftNode {
        &self.inner.node
    }

    /// Hands the storage the core it lives under, and starts what runs in the background:
    /// `retry_join` while the node belongs to no cluster, and storing the TLS authority in the
    /// barrier once this node is active.
    pub(crate) fn start(&self, core: Core) {
        let _ = self.inner.core.set(core.clone());
        let me = self.clone();
        let watched = core.clone();
        tokio::spawn(async move { me.follow_seal(watched).await });
        let me = self.clone();
        tokio::spawn(async move { me.store_authority_when_active(core).await });
        if !self.inner.retry_join.is_empty() {
            let me = self.clone();
            tokio::spawn(async move { me.retry_join_loop().await });
        }
    }

    /// The Raft RPCs on the cluster port, selected by their ALPN.
    pub(crate) fn cluster_protocol(&self) -> arca_http::ClusterProtocol {
        let node = self.inner.node.clone();
        arca_http::ClusterProtocol {
            alpn: arca_raft::ALPN.to_vec(),
            config: self.inner.server_tls.clone(),
            serve: Arc::new(move |tls| {
                let node = node.clone();
                Box::pin(async move { arca_raft::serve_connection(tls, node).await })
            }),
        }
    }

    fn core(&self) -> Result<&Core, LogicalError> {
        self.inner
            .core
            .get()
            .ok_or_else(|| LogicalError::internal("the core is not up yet"))
    }

    // ---- TLS material -------------------------------------------------------------------

    fn read_tls(&self) -> Result<Option<RaftTls>> {
        let dir = &self.inner.tls_dir;
        let read = |name: &str| std::fs::read(dir.join(name));
        match (read("ca.der"), read("node.der"), read("node.key")) {
            (Ok(ca), Ok(cert), Ok(key)) => Ok(Some(RaftTls {
                ca_cert_der: ca,
                cert_der: cert,
                key_der: key,
            })),
            _ => Ok(None),
        }
    }

    fn write_tls(&self, tls: &RaftTls) -> Result<()> {
        let dir = &self.inner.tls_dir;
        create_private_dir(dir)?;
        write_private(&dir.join("ca.der"), &tls.ca_cert_der)?;
        write_private(&dir.join("node.der"), &tls.cert_der)?;
        write_private(&dir.join("node.key"), &tls.key_der)?;
        Ok(())
    }

    fn install_tls(&self, tls: &RaftTls) -> Result<()> {
        self.inner
            .transport
            .set(tls)
            .map_err(|e| anyhow!("raft TLS: {e}"))?;
        self.inner.server_tls.store(Some(
            tls.server_config().map_err(|e| anyhow!("raft TLS: {e}"))?,
        ));
        Ok(())
    }

    // ---- bootstrap at init ----------------------------------------------------------------

    /// Before `sys/init` on a node of no cluster: makes the TLS authority and this node's
    /// certificate, and bootstraps a one-node cluster this node leads.
    pub(crate) async fn bootstrap_for_init(&self) -> Result<(), LogicalError> {
        if self.inner.node.is_member().await {
            return Ok(());
        }
        if self.inner.pending.lock().await.is_some() {
            return Err(LogicalError::bad_request(
                "this node is joining a cluster: unseal it with the cluster's keys",
            ));
        }
        let ca = Authority::generate().map_err(LogicalError::internal)?;
        let (cert, key) = ca
            .issue(&host_of(&self.inner.addr))
            .map_err(LogicalError::internal)?;
        let tls = RaftTls {
            ca_cert_der: ca.cert_der.clone(),
            cert_der: cert,
            key_der: key.to_vec(),
        };
        self.write_tls(&tls).map_err(LogicalError::internal)?;
        // Kept on disk only until the first activation puts it inside the barrier.
        write_private(&self.inner.tls_dir.join("ca.key"), &ca.key_der)
            .map_err(LogicalError::internal)?;
        self.install_tls(&tls).map_err(LogicalError::internal)?;
        self.inner.node.set_electable(true);
        self.inner
            .node
            .bootstrap()
            .await
            .map_err(|e| LogicalError::internal(e.to_string()))?;
        Ok(())
    }

    /// Lets this node stand for election only while it is unsealed (as Vault's Raft runs
    /// only on unsealed nodes): a sealed leader would hold the cluster without an active node.
    async fn follow_seal(&self, core: Core) {
        let Some(mut roles) = core.ha_watch() else {
            return;
        };
        loop {
            let unsealed = !matches!(*roles.borrow_and_update(), arca_core::HaRole::Inactive);
            self.inner.node.set_electable(unsealed);
            if roles.changed().await.is_err() {
                return;
            }
        }
    }

    async fn store_authority_when_active(&self, core: Core) {
        let Some(mut roles) = core.ha_watch() else {
            return;
        };
        let key_file = self.inner.tls_dir.join("ca.key");
        loop {
            if matches!(*roles.borrow_and_update(), arca_core::HaRole::Active(_))
                && key_file.exists()
            {
                match self.store_authority(&core, &key_file).await {
                    Ok(()) => return,
                    Err(e) => tracing::warn!(error = %e, "raft: cannot store the TLS authority"),
                }
            }
            // The file appears at init, before the first activation: keep following.
            if roles.changed().await.is_err() {
                return;
            }
        }
    }

    async fn store_authority(&self, core: &Core, key_file: &Path) -> Result<()> {
        let key = Zeroizing::new(std::fs::read(key_file)?);
        let cert = std::fs::read(self.inner.tls_dir.join("ca.der"))?;
        let record = Zeroizing::new(serde_json::to_vec(&json!({
            "cert": b64().encode(&cert),
            "key": b64().encode(key.as_slice()),
        }))?);
        core.set_raft_secret(CA_SECRET, &record)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        std::fs::remove_file(key_file)?;
        Ok(())
    }

    async fn authority(&self, core: &Core) -> Result<Authority, LogicalError> {
        if let Some(record) = core.raft_secret(CA_SECRET).await? {
            let v: Value = serde_json::from_slice(&record).map_err(LogicalError::internal)?;
            let field = |k: &str| {
                v[k].as_str()
                    .and_then(|s| b64().decode(s).ok())
                    .ok_or_else(|| LogicalError::internal("malformed TLS authority"))
            };
            return Ok(Authority {
                cert_der: field("cert")?,
                key_der: Zeroizing::new(field("key")?),
            });
        }
        // Not moved inside the barrier yet (the first activation is under way).
        let key = std::fs::read(self.inner.tls_dir.join("ca.key"))
            .map_err(|_| LogicalError::internal("the cluster's TLS authority is not available"))?;
        let cert =
            std::fs::read(self.inner.tls_dir.join("ca.der")).map_err(LogicalError::internal)?;
        Ok(Authority {
            cert_der: cert,
            key_der: Zeroizing::new(key),
        })
    }

    // ---- the active node's side of a join -------------------------------------------------

    /// `sys/storage/raft/bootstrap/challenge` on the active node.
    pub(crate) async fn challenge(&self, data: &JsonMap) -> Result<Option<Response>, LogicalError> {
        let core = self.core()?;
        let server_id = data
            .get("server_id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| LogicalError::bad_request("no server id provided"))?
            .to_string();
        if server_id.len() > MAX_SERVER_ID_LEN {
            return Err(LogicalError::bad_request("server id too long"));
        }
        if core.sealed() {
            return Err(LogicalError::Sealed);
        }
        let mut nonce = Zeroizing::new(vec![0u8; 32]);
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| LogicalError::internal("no randomness"))?;
        let challenge = core.encrypt_with_root_key(CHALLENGE_AAD, &nonce)?;
        let root_blob = self
            .inner
            .node
            .get(arca_barrier::ROOT_KEY_PATH)
            .await
            .map_err(|e| LogicalError::internal(e.to_string()))?
            .ok_or_else(|| {
                LogicalError::bad_request("integrated storage joins need a Shamir seal")
            })?;
        let seal = core
            .seal_config()
            .await?
            .ok_or_else(|| LogicalError::bad_request("Vault is not initialized"))?;
        {
            let mut pending = self.inner.challenges.lock();
            pending.retain(|_, (_, at)| at.elapsed() < CHALLENGE_TTL);
            while pending.len() >= MAX_OPEN_CHALLENGES {
                let oldest = pending
                    .iter()
                    .min_by_key(|(_, (_, at))| *at)
                    .map(|(id, _)| id.clone());
                match oldest {
                    Some(id) => pending.remove(&id),
                    None => break,
                };
            }
            pending.insert(server_id, (nonce, Instant::now()));
        }
        raw(
            200,
            &json!({
                "challenge": b64().encode(&challenge),
                "root_key_blob": b64().encode(&root_blob),
                "seal_config": {
                    "type": "shamir",
                    "secret_shares": seal.secret_shares,
                    "secret_threshold": seal.secret_threshold,
                },
            }),
        )
    }

    /// `sys/storage/raft/bootstrap/answer` on the active node: checks the answer, issues the
    /// node's certificate and adds it to the cluster.
    pub(crate) async fn answer(&self, data: &JsonMap) -> Result<Option<Response>, LogicalError> {
        let core = self.core()?;
        let field = |k: &str| data.get(k).and_then(Value::as_str).unwrap_or_default();
        let server_id = field("server_id").to_string();
        let cluster_addr = host_port(field("cluster_addr"));
        if server_id.is_empty() {
            return Err(LogicalError::bad_request("no server id provided"));
        }
        if cluster_addr.is_empty() {
            return Err(LogicalError::bad_request("no cluster_addr provided"));
        }
        let answer = b64()
            .decode(field("answer"))
            .map_err(|_| LogicalError::bad_request("could not base64 decode answer"))?;
        let expected = self.inner.challenges.lock().remove(&server_id);
        let Some((nonce, at)) = expected else {
            return Err(LogicalError::bad_request(
                "no expected answer for the server id provided",
            ));
        };
        use subtle::ConstantTimeEq;
        if at.elapsed() > CHALLENGE_TTL || !bool::from(answer.as_slice().ct_eq(nonce.as_slice())) {
            return Err(LogicalError::bad_request("invalid answer given"));
        }
        let ca = self.authority(core).await?;
        let (cert, key) = ca
            .issue(&host_of(&cluster_addr))
            .map_err(LogicalError::internal)?;
        let non_voter = data
            .get("non_voter")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let node = self.inner.node.clone();
        let id = server_id.clone();
        let addr = cluster_addr.clone();
        tokio::spawn(async move {
            // Another membership change (the previous joiner's promotion) may be under way:
            // one change at a time, so try again until it is done.
            let start = Instant::now();
            loop {
                let added = if non_voter {
                    node.add_learner(&id, &addr).await
                } else {
                    node.add_voter(&id, &addr).await
                };
                match added {
                    Ok(()) => return,
                    Err(e) if start.elapsed() < CATCH_UP_WAIT && node.is_leader() => {
                        tracing::debug!(node = %id, error = %e, "raft: adding a joining node, retrying");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Err(e) => {
                        tracing::warn!(node = %id, error = %e, "raft: could not add a joining node");
                        return;
                    }
                }
            }
        });
        let peers: Vec<Value> = self
            .inner
            .node
            .configuration()
            .into_iter()
            .map(|s| json!({"id": s.node_id, "address": s.address}))
            .collect();
        raw(
            200,
            &json!({
                "ca_cert": b64().encode(&ca.cert_der),
                "node_cert": b64().encode(&cert),
                "node_key": b64().encode(key.as_slice()),
                "peers": peers,
            }),
        )
    }

    // ---- the joining node's side ------------------------------------------------------------

    /// `sys/storage/raft/join` on a node of no cluster.
    pub(crate) async fn join(&self, data: &JsonMap) -> Result<Option<Response>, LogicalError> {
        if self.inner.node.is_member().await {
            return Err(LogicalError::bad_request(
                "join can't be invoked on an initialized cluster",
            ));
        }
        let text = |k: &str| {
            data.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let target = RetryJoin {
            leader_api_addr: text("leader_api_addr").unwrap_or_default(),
            leader_ca_cert: text("leader_ca_cert"),
            leader_client_cert: text("leader_client_cert"),
            leader_client_key: text("leader_client_key"),
            ..RetryJoin::default()
        };
        if target.leader_api_addr.is_empty() {
            return Err(LogicalError::bad_request(
                "leader_api_addr or auto_join is required",
            ));
        }
        let non_voter = data
            .get("non_voter")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let retry = data.get("retry").and_then(Value::as_bool).unwrap_or(false);
        match self.fetch_challenge(&target, non_voter).await {
            Ok(()) => {}
            Err(e) if retry => {
                tracing::warn!(error = %e, "raft: join failed, retrying in the background");
                let me = self.clone();
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(Duration::from_secs(2)).await;
                        if me.inner.node.is_member().await
                            || me.inner.pending.lock().await.is_some()
                            || me.fetch_challenge(&target, non_voter).await.is_ok()
                        {
                            return;
                        }
                    }
                });
            }
            Err(e) => {
                return Err(LogicalError::bad_request(format!(
                    "failed to join raft cluster: {e}"
                )));
            }
        }
        raw(200, &json!({"joined": true}))
    }

    async fn retry_join_loop(&self) {
        loop {
            if self.inner.node.is_member().await || self.inner.pending.lock().await.is_some() {
                return;
            }
            for target in &self.inner.retry_join {
                match self.fetch_challenge(target, false).await {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::debug!(leader = %target.leader_api_addr, error = %e, "raft: retry_join attempt failed")
                    }
                }
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    async fn fetch_challenge(&self, target: &RetryJoin, non_voter: bool) -> Result<()> {
        let client = leader_client(target)?;
        let leader_api = target.leader_api_addr.trim_end_matches('/').to_string();
        let resp = client
            .post(format!(
                "{leader_api}/v1/sys/storage/raft/bootstrap/challenge"
            ))
            .json(&json!({"server_id": self.inner.node.node_id()}))
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(anyhow!("the leader answered {status}: {body}"));
        }
        let bytes = |k: &str| -> Result<Vec<u8>> {
            body[k]
                .as_str()
                .and_then(|s| b64().decode(s).ok())
                .ok_or_else(|| anyhow!("the leader's challenge has no {k}"))
        };
        let num = |k: &str| body["seal_config"][k].as_u64().unwrap_or(0) as usize;
        let pending = PendingJoin {
            leader_api,
            client,
            challenge: bytes("challenge")?,
            root_blob: bytes("root_key_blob")?,
            shares: num("secret_shares"),
            threshold: num("secret_threshold").max(1),
            non_voter,
            keys: Vec::new(),
            nonce: uuid::Uuid::new_v4().to_string(),
        };
        *self.inner.pending.lock().await = Some(pending);
        tracing::info!("raft: join challenge received; unseal this node to complete the join");
        Ok(())
    }

    /// Whether a join waits for the unseal keys (the server answers seal status and unseal).
    pub(crate) async fn joining(&self) -> bool {
        self.inner.pending.lock().await.is_some()
    }

    /// `sys/seal-status` while a join waits for the unseal keys.
    pub(crate) async fn seal_status(&self) -> Result<Option<Response>, LogicalError> {
        let core = self.core()?;
        let mut status = core.seal_status().await?;
        if let Some(p) = self.inner.pending.lock().await.as_ref()
            && let Value::Object(m) = &mut status
        {
            m.insert("initialized".into(), json!(true));
            m.insert("t".into(), json!(p.threshold));
            m.insert("n".into(), json!(p.shares));
            m.insert("progress".into(), json!(p.keys.len()));
            m.insert("nonce".into(), json!(p.nonce));
        }
        raw(200, &status)
    }

    /// `sys/unseal` while a join waits for the keys: with enough shares, completes the join
    /// and unseals over the replicated data.
    pub(crate) async fn unseal(&self, data: &JsonMap) -> Result<Option<Response>, LogicalError> {
        let core = self.core()?.clone();
        let mut guard = self.inner.pending.lock().await;
        let Some(p) = guard.as_mut() else {
            drop(guard);
            return Err(LogicalError::bad_request("no join in progress"));
        };
        if data.get("reset").and_then(Value::as_bool).unwrap_or(false) {
            p.keys.clear();
            drop(guard);
            return self.seal_status().await;
        }
        let key = data.get("key").and_then(Value::as_str).ok_or_else(|| {
            LogicalError::bad_request(
                "'key' must be specified in request body as JSON, or 'reset' set to true",
            )
        })?;
        let key = arca_core::decode_key(key)?;
        if !p.keys.iter().any(|k| k.as_slice() == key.as_slice()) {
            p.keys.push(key);
        }
        if p.keys.len() < p.threshold {
            drop(guard);
            return self.seal_status().await;
        }
        let unseal_key = if p.threshold == 1 {
            p.keys[0].clone()
        } else {
            let parts: Vec<&[u8]> = p.keys.iter().map(|k| k.as_slice()).collect();
            arca_barrier::shamir::combine(&parts).map_err(|e| {
                LogicalError::bad_request(format!("failed to compute unseal key: {e}"))
            })?
        };
        p.keys.clear();
        let opened =
            arca_barrier::open_root_key_blob(p.root_blob.clone(), &unseal_key).and_then(|root| {
                arca_barrier::open_with_root_key(&root, CHALLENGE_AAD, p.challenge.clone())
            });
        let Ok(answer) = opened else {
            return Err(LogicalError::bad_request("Unseal failed, invalid key"));
        };
        let resp = p
            .client
            .post(format!(
                "{}/v1/sys/storage/raft/bootstrap/answer",
                p.leader_api
            ))
            .json(&json!({
                "server_id": self.inner.node.node_id(),
                "answer": b64().encode(answer.as_slice()),
                "cluster_addr": self.inner.addr,
                "non_voter": p.non_voter,
            }))
            .send()
            .await
            .map_err(|e| LogicalError::internal(format!("failed to send the join answer: {e}")))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            // The challenge is spent: the next join asks for a new one (retry_join does).
            *guard = None;
            if !self.inner.retry_join.is_empty() {
                let me = self.clone();
                tokio::spawn(async move { me.retry_join_loop().await });
            }
            return Err(LogicalError::internal(format!(
                "the leader refused the join answer ({status}): {body}"
            )));
        }
        let bytes = |k: &str| -> Result<Vec<u8>, LogicalError> {
            body[k]
                .as_str()
                .and_then(|s| b64().decode(s).ok())
                .ok_or_else(|| LogicalError::internal(format!("the leader's answer has no {k}")))
        };
        let tls = RaftTls {
            ca_cert_der: bytes("ca_cert")?,
            cert_der: bytes("node_cert")?,
            key_der: bytes("node_key")?,
        };
        self.write_tls(&tls).map_err(LogicalError::internal)?;
        self.install_tls(&tls).map_err(LogicalError::internal)?;
        *guard = None;
        drop(guard);
        // The leader now replicates to this node: wait for the keys before unsealing.
        let start = Instant::now();
        loop {
            let ready = self.inner.node.is_member().await
                && matches!(
                    self.inner.node.get(arca_barrier::KEYRING_PATH).await,
                    Ok(Some(_))
                )
                && matches!(
                    self.inner.node.get(arca_barrier::SEAL_CONFIG_PATH).await,
                    Ok(Some(_))
                );
            if ready {
                break;
            }
            if start.elapsed() > CATCH_UP_WAIT {
                return Err(LogicalError::internal(
                    "joined, but the cluster's data did not arrive in time",
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        core.unseal_with_key(&unseal_key).await?;
        let status = core.seal_status().await?;
        raw(200, &status)
    }
}

/// The reqwest client a joining node calls the leader's API with.
fn leader_client(target: &RetryJoin) -> Result<reqwest::Client> {
    let read = |inline: &Option<String>, file: &Option<String>| -> Result<Option<Vec<u8>>> {
        if let Some(text) = inline {
            return Ok(Some(text.clone().into_bytes()));
        }
        match file {
            Some(path) => Ok(Some(
                std::fs::read(path).map_err(|e| anyhow!("{path}: {e}"))?,
            )),
            None => Ok(None),
        }
    };
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(30));
    if let Some(ca) = read(&target.leader_ca_cert, &target.leader_ca_cert_file)? {
        for cert in reqwest::Certificate::from_pem_bundle(&ca)? {
            builder = builder.add_root_certificate(cert);
        }
    }
    if let (Some(mut cert), Some(key)) = (
        read(&target.leader_client_cert, &target.leader_client_cert_file)?,
        read(&target.leader_client_key, &target.leader_client_key_file)?,
    ) {
        cert.push(b'\n');
        cert.extend_from_slice(&key);
        builder = builder.identity(reqwest::Identity::from_pem(&cert)?);
    }
    Ok(builder.build()?)
}

fn parse_retry_join(text: &str) -> Result<Vec<RetryJoin>> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| anyhow!("error initializing storage of type raft: retry_join: {e}"))?;
    let list = match value {
        Value::Array(items) => items,
        other => vec![other],
    };
    list.into_iter()
        .map(|v| {
            let j: RetryJoin = serde_json::from_value(v)
                .map_err(|e| anyhow!("error initializing storage of type raft: retry_join: {e}"))?;
            if j.leader_api_addr.is_empty() {
                return Err(anyhow!(
                    "error initializing storage of type raft: retry_join: leader_api_addr is required"
                ));
            }
            Ok(j)
        })
        .collect()
}

/// The cluster's certificate authority.
struct Authority {
    cert_der: Vec<u8>,
    key_der: Zeroizing<Vec<u8>>,
}

impl Authority {
    fn generate() -> Result<Authority, String> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| e.to_string())?;
        let mut params =
            rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "arca raft cluster CA");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        params.not_after = rcgen::date_time_ymd(2099, 1, 1);
        let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
        Ok(Authority {
            cert_der: cert.der().to_vec(),
            key_der: Zeroizing::new(key.serialize_der()),
        })
    }

    /// A certificate and PKCS#8 key for a node reachable at `host`, as server and client.
    fn issue(&self, host: &str) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>), String> {
        let ca_key =
            rcgen::KeyPair::try_from(self.key_der.as_slice()).map_err(|e| e.to_string())?;
        let ca_cert = rustls::pki_types::CertificateDer::from(self.cert_der.clone());
        let issuer =
            rcgen::Issuer::from_ca_cert_der(&ca_cert, ca_key).map_err(|e| e.to_string())?;
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| e.to_string())?;
        let mut params =
            rcgen::CertificateParams::new(vec![host.to_string()]).map_err(|e| e.to_string())?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, host);
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.not_after = rcgen::date_time_ymd(2099, 1, 1);
        let cert = params.signed_by(&key, &issuer).map_err(|e| e.to_string())?;
        Ok((cert.der().to_vec(), Zeroizing::new(key.serialize_der())))
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

fn raw(status: u16, v: &Value) -> Result<Option<Response>, LogicalError> {
    Ok(Some(Response {
        raw: Some(arca_sdk::RawHttp {
            status,
            content_type: "application/json".into(),
            body: serde_json::to_vec(v).map_err(LogicalError::internal)?,
            stream: None,
        }),
        ..Response::default()
    }))
}

// ---- administration through sys/ -------------------------------------------------------------

/// Snapshots as OpenBao ships them: a gzip'd tar of `meta.json`, `state.bin`, `SHA256SUMS` and
/// `SHA256SUMS.sealed` (the checksums encrypted with the root key), so `bao operator raft
/// snapshot save` accepts the file. The state inside is Arca's own format.
mod snapshot_archive {
    use std::io::Read;

    use arca_core::Core;
    use arca_sdk::LogicalError;

    /// The associated data of the sealed checksums.
    const SUMS_AAD: &[u8] = b"arca-raft-snapshot-sums";

    fn sha256_hex(bytes: &[u8]) -> String {
        hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes))
    }

    fn append(
        tar: &mut tar::Builder<flate2::write::GzEncoder<Vec<u8>>>,
        name: &str,
        data: &[u8],
    ) -> Result<(), LogicalError> {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o600);
        header.set_cksum();
        tar.append_data(&mut header, name, data)
            .map_err(LogicalError::internal)
    }

    /// Packs this cluster's `state` (applied up to `index`).
    pub(super) fn pack(core: &Core, state: &[u8], index: u64) -> Result<Vec<u8>, LogicalError> {
        let meta = serde_json::to_vec(&serde_json::json!({
            "version": 1,
            "format": "arca-raft",
            "index": index,
        }))
        .map_err(LogicalError::internal)?;
        let sums = format!(
            "{}  meta.json\n{}  state.bin\n",
            sha256_hex(&meta),
            sha256_hex(state)
        );
        let sealed = core.encrypt_with_root_key(SUMS_AAD, sums.as_bytes())?;
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        append(&mut tar, "meta.json", &meta)?;
        append(&mut tar, "state.bin", state)?;
        append(&mut tar, "SHA256SUMS", sums.as_bytes())?;
        append(&mut tar, "SHA256SUMS.sealed", &sealed)?;
        tar.into_inner()
            .and_then(|gz| gz.finish())
            .map_err(LogicalError::internal)
    }

    /// The state inside a snapshot archive, its checksums verified. Unless `force`, the
    /// sealed checksums must open with this cluster's root key (a snapshot of another
    /// cluster needs `snapshot-force`).
    pub(super) fn unpack(
        core: &Core,
        archive: &[u8],
        force: bool,
    ) -> Result<Vec<u8>, LogicalError> {
        let bad = |e: &dyn std::fmt::Display| {
            LogicalError::bad_request(format!("failed to read snapshot file: {e}"))
        };
        let mut files = std::collections::HashMap::new();
        let mut reader = tar::Archive::new(flate2::read::GzDecoder::new(archive));
        for entry in reader.entries().map_err(|e| bad(&e))? {
            let mut entry = entry.map_err(|e| bad(&e))?;
            let name = entry
                .path()
                .map_err(|e| bad(&e))?
                .to_string_lossy()
                .into_owned();
            if !matches!(
                name.as_str(),
                "meta.json" | "state.bin" | "SHA256SUMS" | "SHA256SUMS.sealed"
            ) {
                continue;
            }
            let mut data = Vec::new();
            entry.read_to_end(&mut data).map_err(|e| bad(&e))?;
            files.insert(name, data);
        }
        let get = |name: &str| {
            files
                .get(name)
                .ok_or_else(|| bad(&format!("the snapshot has no {name}")))
        };
        let (meta, state, sums) = (get("meta.json")?, get("state.bin")?, get("SHA256SUMS")?);
        let expected = format!(
            "{}  meta.json\n{}  state.bin\n",
            sha256_hex(meta),
            sha256_hex(state)
        );
        if expected.as_bytes() != sums.as_slice() {
            return Err(bad(&"checksums do not match"));
        }
        if !force {
            let sealed = get("SHA256SUMS.sealed")?.clone();
            core.open_with_root_key(SUMS_AAD, sealed).map_err(|_| {
                LogicalError::bad_request(
                    "failed to verify snapshot: the snapshot was not taken on this cluster \
                     (use snapshot-force to restore it anyway)",
                )
            })?;
        }
        Ok(state.clone())
    }
}

/// Autopilot's settings, with Vault's defaults.
fn autopilot_defaults() -> Value {
    json!({
        "cleanup_dead_servers": false,
        "last_contact_threshold": "10s",
        "dead_server_last_contact_threshold": "24h0m0s",
        "max_trailing_logs": 1000,
        "min_quorum": 0,
        "server_stabilization_time": "10s",
    })
}

/// A Go duration setting of autopilot's configuration.
fn setting(config: &Value, key: &str) -> Duration {
    config[key]
        .as_str()
        .and_then(|s| arca_sdk::duration::parse_duration(s).ok())
        .unwrap_or_else(|| {
            autopilot_defaults()[key]
                .as_str()
                .and_then(|s| arca_sdk::duration::parse_duration(s).ok())
                .unwrap_or(Duration::from_secs(10))
        })
}

/// Autopilot's view of the cluster, from this node: each server with its last contact (as
/// the leader saw its answers), healthy when it answered within `last_contact_threshold`.
fn autopilot_state(node: &RaftNode, config: &Value) -> Value {
    let servers = node.configuration();
    let threshold = setting(config, "last_contact_threshold");
    let leader = servers.iter().find(|s| s.leader).map(|s| s.node_id.clone());
    let leads = node.is_leader();
    let mut map = serde_json::Map::new();
    let mut healthy_voters = 0usize;
    let mut all_healthy = true;
    for s in &servers {
        let contact = if s.leader {
            Some(Duration::ZERO)
        } else if leads {
            node.last_contact(&s.node_id)
        } else {
            None
        };
        let healthy = contact.is_some_and(|c| c <= threshold);
        if s.voter && healthy {
            healthy_voters += 1;
        }
        all_healthy &= healthy;
        let mut entry = json!({
            "id": s.node_id,
            "name": s.node_id,
            "address": s.address,
            "node_status": if healthy { "alive" } else { "failed" },
            "last_index": if s.leader { node.last_applied_index() } else { 0 },
            "healthy": healthy,
            "status": if s.leader { "leader" } else if s.voter { "voter" } else { "non-voter" },
            "version": env!("CARGO_PKG_VERSION"),
            "node_type": if s.voter { "voter" } else { "non-voter" },
        });
        if let Some(c) = contact {
            entry["last_contact"] = json!(arca_sdk::duration::format_go_duration(
                Duration::from_millis(u64::try_from(c.as_millis()).unwrap_or(u64::MAX))
            ));
        }
        map.insert(s.node_id.clone(), entry);
    }
    let voters: Vec<String> = servers
        .iter()
        .filter(|s| s.voter)
        .map(|s| s.node_id.clone())
        .collect();
    let quorum = voters.len() / 2 + 1;
    json!({
        "healthy": all_healthy,
        "failure_tolerance": healthy_voters.saturating_sub(quorum),
        "leader": leader,
        "voters": voters,
        "servers": map,
    })
}

impl RaftStorage {
    async fn autopilot_config(&self) -> Result<Value, LogicalError> {
        let core = self.core()?;
        Ok(core
            .raft_secret(AUTOPILOT_SECRET)
            .await?
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .unwrap_or_else(autopilot_defaults))
    }
}

#[async_trait::async_trait]
impl arca_core::StorageAdmin for RaftStorage {
    async fn handle(
        &self,
        op: Operation,
        path: &str,
        data: &JsonMap,
    ) -> Result<Option<Response>, LogicalError> {
        let node = &self.inner.node;
        match (path.trim_end_matches('/'), op) {
            ("configuration", Operation::Read) => {
                let servers: Vec<Value> = node
                    .configuration()
                    .into_iter()
                    .map(|s| {
                        json!({
                            "node_id": s.node_id,
                            "address": s.address,
                            "leader": s.leader,
                            "protocol_version": "3",
                            "voter": s.voter,
                        })
                    })
                    .collect();
                let mut r = Response::with_data(
                    json!({"config": {"index": node.last_applied_index(), "servers": servers}})
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                );
                r.top_level_data = false;
                Ok(Some(r))
            }
            ("remove-peer", Operation::Update | Operation::Create) => {
                let id = data
                    .get("server_id")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| LogicalError::bad_request("no server id provided"))?;
                let known = node.configuration().iter().any(|s| s.node_id == id);
                if known {
                    node.remove_peer(id)
                        .await
                        .map_err(|e| LogicalError::bad_request(e.to_string()))?;
                }
                Ok(None)
            }
            (which @ ("promote" | "demote"), Operation::Update | Operation::Create) => {
                let id = data
                    .get("server_id")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| LogicalError::bad_request("no server id provided"))?;
                node.set_voter(id, which == "promote")
                    .await
                    .map_err(|e| LogicalError::bad_request(e.to_string()))?;
                Ok(None)
            }
            ("snapshot", Operation::Read) => {
                let state = node
                    .snapshot_save()
                    .await
                    .map_err(|e| LogicalError::internal(e.to_string()))?;
                let bytes =
                    snapshot_archive::pack(self.core()?, &state, node.last_applied_index())?;
                Ok(Some(Response {
                    raw: Some(arca_sdk::RawHttp {
                        status: 200,
                        content_type: "application/gzip".into(),
                        body: bytes,
                        stream: None,
                    }),
                    ..Response::default()
                }))
            }
            (which @ ("snapshot" | "snapshot-force"), Operation::Update | Operation::Create) => {
                let body = data
                    .get("http_raw_body")
                    .and_then(Value::as_str)
                    .and_then(|s| b64().decode(s).ok())
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| LogicalError::bad_request("no snapshot provided"))?;
                let body =
                    snapshot_archive::unpack(self.core()?, &body, which == "snapshot-force")?;
                node.snapshot_restore(&body).await.map_err(|e| {
                    LogicalError::bad_request(format!("failed to restore the snapshot: {e}"))
                })?;
                // Once this request has let go of the state lock.
                let core = self.core()?.clone();
                tokio::spawn(async move {
                    if let Err(e) = core.reload_after_restore().await {
                        tracing::error!(error = %e, "raft: reloading after the restore failed");
                    }
                });
                Ok(None)
            }
            ("autopilot/configuration", Operation::Read) => {
                let core = self.core()?;
                let stored = core
                    .raft_secret(AUTOPILOT_SECRET)
                    .await?
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                    .unwrap_or_else(autopilot_defaults);
                Ok(Some(Response::with_data(
                    stored.as_object().cloned().unwrap_or_default(),
                )))
            }
            ("autopilot/configuration", Operation::Update | Operation::Create) => {
                let core = self.core()?;
                let mut config = self.autopilot_config().await?;
                let invalid = |k: &str, detail: String| {
                    LogicalError::bad_request(format!(
                        "Field validation failed: error converting input for field \"{k}\": {detail}"
                    ))
                };
                for (k, v) in data {
                    match k.as_str() {
                        "cleanup_dead_servers" => {
                            let b = v
                                .as_bool()
                                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                                .ok_or_else(|| invalid(k, "invalid syntax".into()))?;
                            config[k] = json!(b);
                        }
                        "max_trailing_logs" | "min_quorum" => {
                            let n = v
                                .as_u64()
                                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                                .ok_or_else(|| {
                                    invalid(
                                        k,
                                        "'' cannot parse value as 'int': strconv.ParseInt: invalid syntax"
                                            .into(),
                                    )
                                })?;
                            config[k] = json!(n);
                        }
                        "last_contact_threshold"
                        | "dead_server_last_contact_threshold"
                        | "server_stabilization_time" => {
                            let text = v
                                .as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| v.to_string());
                            let d = arca_sdk::duration::parse_duration(&text).map_err(|_| {
                                invalid(k, format!("time: invalid duration \"{text}\""))
                            })?;
                            config[k] = json!(arca_sdk::duration::format_go_duration(d));
                        }
                        _ => {}
                    }
                }
                let dead_after = setting(&config, "dead_server_last_contact_threshold");
                if dead_after < Duration::from_secs(60) {
                    return Err(LogicalError::bad_request(format!(
                        "dead_server_last_contact_threshold should not be set to less than 1m; received: {}",
                        dead_after.as_secs()
                    )));
                }
                let min_quorum = config["min_quorum"].as_u64().unwrap_or(0);
                if config["cleanup_dead_servers"] == true && min_quorum < 3 {
                    return Err(LogicalError::bad_request(format!(
                        "min_quorum must be set when cleanup_dead_servers is set and it should at least be 3; cleanup_dead_servers: true, min_quorum: {min_quorum:#x}"
                    )));
                }
                let bytes = serde_json::to_vec(&config).map_err(LogicalError::internal)?;
                core.set_raft_secret(AUTOPILOT_SECRET, &bytes).await?;
                Ok(None)
            }
            ("autopilot/state", Operation::Read) => {
                let config = self.autopilot_config().await?;
                Ok(Some(Response::with_data(
                    autopilot_state(node, &config)
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                )))
            }
            _ => Err(LogicalError::UnsupportedPath),
        }
    }
}

/// Whether the server answers `path` itself (before the core) with integrated storage.
pub(crate) fn intercepts(path: &str) -> bool {
    matches!(
        path.trim_end_matches('/'),
        "sys/storage/raft/join"
            | "sys/storage/raft/bootstrap/challenge"
            | "sys/storage/raft/bootstrap/answer"
            | "sys/init"
            | "sys/seal-status"
            | "sys/unseal"
    )
}

/// Answers the requests [`intercepts`] names: joining, the active node's side of a join,
/// bootstrap before init, and seal status and unseal while a join waits for the keys.
pub(crate) async fn intercept(
    raft: RaftStorage,
    core: Core,
    req: arca_sdk::Request,
) -> Result<Option<Response>, LogicalError> {
    let write = matches!(req.operation, Operation::Update | Operation::Create);
    match req.path.trim_end_matches('/') {
        "sys/storage/raft/join" if write => raft.join(&req.data).await,
        "sys/storage/raft/bootstrap/challenge" if write => raft.challenge(&req.data).await,
        "sys/storage/raft/bootstrap/answer" if write => raft.answer(&req.data).await,
        "sys/storage/raft/join"
        | "sys/storage/raft/bootstrap/challenge"
        | "sys/storage/raft/bootstrap/answer" => Err(LogicalError::empty_method_not_allowed()),
        "sys/init" if write => {
            // Only a node that is not initialized yet bootstraps (the core refuses the rest).
            if !core.initialized().await.unwrap_or(true) {
                raft.bootstrap_for_init().await?;
            }
            core.handle_request(req).await
        }
        "sys/seal-status" if raft.joining().await => raft.seal_status().await,
        "sys/unseal" if write && raft.joining().await => raft.unseal(&req.data).await,
        _ => core.handle_request(req).await,
    }
}
