//! High availability: which node of a cluster is the active one.
//!
//! With an HA-capable storage backend, an unsealed node starts as a standby. A background task
//! waits for the backend's lock ([`arca_storage::HaBackend`]); once it holds it, the node takes
//! the state lock, reloads the keyring (the active node may have rotated it), brings every
//! subsystem up (mounts, policies, tokens, lease timers: everything the previous active node
//! held in memory is read again from storage) and only then serves as the active node. When
//! the lock is lost, or an operator asks for a step-down, it tears them down again under the
//! state lock and goes back to waiting.
//!
//! The active node publishes an advertisement inside the barrier at `core/leader/<uuid>` (its
//! API and cluster addresses and the cluster TLS identity it made for this term) and the lock
//! value is that uuid, as Vault does: only an unsealed node can read where the active node is
//! and the key its cluster listener authenticates with. Standbys keep the advertisement of the
//! current holder in memory, refreshed every [`LEADER_CHECK_INTERVAL`], and the HTTP layer
//! forwards their requests to it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use arca_sdk::LogicalError;
use arca_storage::{HaBackend, HeldLock};
use base64::Engine;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use crate::seal_ops::Seal;
use crate::views::barrier_err;

/// Where active nodes publish their advertisement (followed by the lock's uuid).
const LEADER_PREFIX: &str = "core/leader/";
/// How often a standby re-reads who the active node is (Vault's `leaderCheckInterval`).
pub const LEADER_CHECK_INTERVAL: Duration = Duration::from_millis(2500);
/// How long a node that stepped down waits before it competes again (Vault's
/// `manualStepDownSleepPeriod`).
pub const STEP_DOWN_WAIT: Duration = Duration::from_secs(10);
/// How long a failed activation waits before the lock is tried again.
const RETRY_WAIT: Duration = Duration::from_secs(1);
/// Standbys not heard from for this long leave `sys/ha-status`.
const PEER_EXPIRY: Duration = Duration::from_secs(30);

/// Makes the TLS identity (a self-signed certificate and its PKCS#8 key, both DER) the
/// active node's cluster listener presents for one term; the server provides it.
pub type IdentityMaker =
    Arc<dyn Fn() -> Result<(Vec<u8>, Zeroizing<Vec<u8>>), String> + Send + Sync>;

/// How a core takes part in an HA cluster.
#[derive(Clone)]
pub struct HaConfig {
    /// The lock the nodes compete for.
    pub backend: Arc<dyn HaBackend>,
    /// This node's `api_addr`: where clients are redirected when it is active.
    pub api_addr: String,
    /// This node's `cluster_addr`: where standbys forward requests when it is active.
    pub cluster_addr: String,
    /// Makes the cluster listener's identity at each activation.
    pub identity: IdentityMaker,
    /// How long a node that stepped down waits before competing again.
    pub step_down_wait: Duration,
    /// How often a standby re-reads who the active node is.
    pub leader_check_interval: Duration,
    /// Integrated storage's committed and applied indexes (`sys/leader`), when it is the
    /// storage.
    pub raft_indexes: Option<RaftIndexes>,
}

/// Reads integrated storage's committed and applied log indexes.
pub type RaftIndexes = Arc<dyn Fn() -> (u64, u64) + Send + Sync>;

/// Integrated storage's administration endpoints (`sys/storage/raft/*` but `join` and
/// `bootstrap/*`, which the server answers before the core): reached through the `sys/`
/// mount, so after the token and ACL checks. The server implements it over its Raft node.
#[async_trait::async_trait]
pub trait StorageAdmin: Send + Sync + 'static {
    /// Handles `op` on `sys/storage/raft/<path>` with the request's `data`.
    async fn handle(
        &self,
        op: arca_sdk::Operation,
        path: &str,
        data: &arca_sdk::JsonMap,
    ) -> Result<Option<arca_sdk::Response>, LogicalError>;
}

/// What the active node publishes about itself (inside the barrier).
#[derive(Serialize, Deserialize)]
struct Advertisement {
    api_addr: String,
    cluster_addr: String,
    /// The cluster certificate, base64 DER.
    cluster_cert: String,
    /// Its PKCS#8 key, base64 DER.
    cluster_key: Zeroizing<String>,
    hostname: String,
    version: String,
}

/// The active node as a standby sees it: where to redirect and how to forward.
pub struct LeaderInfo {
    /// The lock value (the advertisement's uuid).
    pub uuid: String,
    /// The active node's `api_addr`.
    pub api_addr: String,
    /// The active node's `cluster_addr`.
    pub cluster_addr: String,
    /// The certificate the active node's cluster listener presents (DER); a forwarding client
    /// trusts exactly this one and presents it back.
    pub cluster_cert_der: Vec<u8>,
    /// Its PKCS#8 key (DER).
    pub cluster_key_der: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for LeaderInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderInfo")
            .field("uuid", &self.uuid)
            .field("api_addr", &self.api_addr)
            .field("cluster_addr", &self.cluster_addr)
            .finish_non_exhaustive()
    }
}

/// This node's part in the cluster.
#[derive(Clone, Debug)]
pub enum HaRole {
    /// Sealed, or HA not started.
    Inactive,
    /// Unsealed, waiting for the lock; requests go to the active node.
    Standby,
    /// The active node, with the identity its cluster listener presents this term.
    Active(Arc<LeaderInfo>),
}

/// A standby as the active node last heard of it (`sys/ha-status`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeerNode {
    /// Its host name.
    pub hostname: String,
    /// Its `api_addr`.
    pub api_address: String,
    /// Its `cluster_addr`.
    pub cluster_address: String,
    /// Its version.
    pub version: String,
}

/// What the election brings up and down: every subsystem over the barrier (the core).
#[async_trait::async_trait]
pub(crate) trait Serving: Send + Sync + 'static {
    /// Brings every subsystem up: the node becomes the one serving.
    async fn setup_active(&self) -> Result<(), LogicalError>;
    /// Stops every subsystem.
    async fn teardown_active(&self);
}

/// What the election needs of its core, while the core exists.
pub(crate) struct Parts {
    pub(crate) ha: Arc<Ha>,
    pub(crate) seal: Arc<Seal>,
    pub(crate) serving: Arc<dyn Serving>,
}

/// Reaches the core's parts without keeping the core alive.
pub(crate) type Upgrade = Arc<dyn Fn() -> Option<Parts> + Send + Sync>;

/// The HA state of one core.
pub(crate) struct Ha {
    config: HaConfig,
    role: watch::Sender<HaRole>,
    /// The active node as last read (standbys).
    leader: ArcSwapOption<LeaderInfo>,
    task: Mutex<Option<JoinHandle<()>>>,
    refresher: Mutex<Option<JoinHandle<()>>>,
    held: Mutex<Option<Arc<dyn HeldLock>>>,
    step_down: Notify,
    peers: Mutex<HashMap<String, (PeerNode, chrono::DateTime<chrono::Utc>)>>,
}

impl Ha {
    pub(crate) fn new(config: HaConfig) -> Ha {
        Ha {
            config,
            role: watch::Sender::new(HaRole::Inactive),
            leader: ArcSwapOption::empty(),
            task: Mutex::new(None),
            refresher: Mutex::new(None),
            held: Mutex::new(None),
            step_down: Notify::new(),
            peers: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn role(&self) -> HaRole {
        self.role.borrow().clone()
    }

    pub(crate) fn watch(&self) -> watch::Receiver<HaRole> {
        self.role.subscribe()
    }

    pub(crate) fn is_active(&self) -> bool {
        matches!(*self.role.borrow(), HaRole::Active(_))
    }

    pub(crate) fn leader(&self) -> Option<Arc<LeaderInfo>> {
        match &*self.role.borrow() {
            HaRole::Active(me) => Some(me.clone()),
            HaRole::Standby => self.leader.load_full(),
            HaRole::Inactive => None,
        }
    }

    pub(crate) fn request_step_down(&self) {
        self.step_down.notify_one();
    }

    pub(crate) fn record_peer(&self, peer: PeerNode) {
        let key = peer.cluster_address.clone();
        self.peers.lock().insert(key, (peer, chrono::Utc::now()));
    }

    /// The standbys heard from recently, with when.
    pub(crate) fn peers(&self) -> Vec<(PeerNode, chrono::DateTime<chrono::Utc>)> {
        let now = chrono::Utc::now();
        let expiry = chrono::Duration::from_std(PEER_EXPIRY).unwrap_or(chrono::Duration::MAX);
        let mut peers = self.peers.lock();
        peers.retain(|_, (_, seen)| now - *seen < expiry);
        peers.values().cloned().collect()
    }
}

/// Starts the election for a core that was just unsealed (called under the state lock).
pub(crate) fn start(ha: &Ha, upgrade: Upgrade) {
    ha.role.send_replace(HaRole::Standby);
    *ha.task.lock() = Some(tokio::spawn(run(upgrade.clone())));
    *ha.refresher.lock() = Some(tokio::spawn(refresh_loop(upgrade)));
}

/// Stops the election (called under the state lock, before the barrier seals). Says whether
/// the node was active, so the caller tears the subsystems down.
pub(crate) async fn stop(ha: &Ha) -> bool {
    if let Some(task) = ha.task.lock().take() {
        task.abort();
    }
    if let Some(task) = ha.refresher.lock().take() {
        task.abort();
    }
    let was_active = ha.is_active();
    let held = ha.held.lock().take();
    if let Some(held) = held {
        held.release().await;
    }
    ha.leader.store(None);
    ha.role.send_replace(HaRole::Inactive);
    was_active
}

/// The election loop: wait for the lock, activate, serve until the lock is lost or a
/// step-down is asked for, deactivate, again.
async fn run(upgrade: Upgrade) {
    loop {
        let Some(parts) = upgrade() else { return };
        let uuid = uuid::Uuid::new_v4().to_string();
        let backend = parts.ha.config.backend.clone();
        drop(parts);
        let held: Arc<dyn HeldLock> = match backend.acquire(&uuid).await {
            Ok(held) => Arc::from(held),
            Err(e) => {
                tracing::warn!(error = %e, "ha: could not take the lock");
                tokio::time::sleep(RETRY_WAIT).await;
                continue;
            }
        };
        let Some(parts) = upgrade() else { return };
        let ha = parts.ha.clone();
        *ha.held.lock() = Some(held.clone());
        match activate(&parts, &uuid, &held).await {
            Ok(true) => {}
            Ok(false) => {
                // Sealed (or the lock went) meanwhile.
                ha.held.lock().take();
                held.release().await;
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "ha: activation failed, giving the lock up");
                ha.held.lock().take();
                held.release().await;
                drop(parts);
                tokio::time::sleep(RETRY_WAIT).await;
                continue;
            }
        }
        let stepped_down = tokio::select! {
            _ = held.lost() => {
                tracing::warn!("ha: leadership lost, stepping down");
                false
            }
            _ = ha.step_down.notified() => {
                tracing::info!("ha: stepping down as asked");
                true
            }
        };
        deactivate(&parts, &uuid).await;
        ha.held.lock().take();
        let wait = ha.config.step_down_wait;
        if stepped_down {
            ha.config.backend.hold_back(wait);
        }
        held.release().await;
        drop(parts);
        drop(ha);
        if stepped_down {
            tokio::time::sleep(wait).await;
        }
    }
}

/// Becomes the active node: under the state lock, reload the keyring, publish the
/// advertisement, bring every subsystem up. `Ok(false)` when it must not (sealed, or the
/// lock was lost before the state lock was taken).
async fn activate(
    parts: &Parts,
    uuid: &str,
    held: &Arc<dyn HeldLock>,
) -> Result<bool, LogicalError> {
    let ha = &parts.ha;
    let seal = &parts.seal;
    let _state = seal.write_state().await;
    if seal.sealed() || !held.held() {
        return Ok(false);
    }
    let barrier = seal.barrier();
    barrier.reload_keyring().await.map_err(barrier_err)?;
    let (cert, key) = (ha.config.identity)().map_err(LogicalError::internal)?;
    let engine = base64::engine::general_purpose::STANDARD;
    let advert = Advertisement {
        api_addr: ha.config.api_addr.clone(),
        cluster_addr: ha.config.cluster_addr.clone(),
        cluster_cert: engine.encode(&cert),
        cluster_key: Zeroizing::new(engine.encode(key.as_slice())),
        hostname: crate::reload::node_name(),
        version: seal.version().to_string(),
    };
    let bytes = Zeroizing::new(serde_json::to_vec(&advert).map_err(LogicalError::internal)?);
    barrier
        .put(&format!("{LEADER_PREFIX}{uuid}"), &bytes)
        .await
        .map_err(barrier_err)?;
    seal.load_cluster_info(true).await?;
    if let Err(e) = parts.serving.setup_active().await {
        parts.serving.teardown_active().await;
        return Err(e);
    }
    seal.set_active_since(Some(chrono::Utc::now()));
    ha.peers.lock().clear();
    ha.role.send_replace(HaRole::Active(Arc::new(LeaderInfo {
        uuid: uuid.to_string(),
        api_addr: advert.api_addr,
        cluster_addr: advert.cluster_addr,
        cluster_cert_der: cert,
        cluster_key_der: key,
    })));
    // Advertisements of earlier terms are of no use to anyone.
    clean_old_adverts(seal, uuid).await;
    tracing::info!("ha: this node is now the active node");
    Ok(true)
}

/// Stops serving as the active node, under the state lock.
async fn deactivate(parts: &Parts, uuid: &str) {
    let ha = &parts.ha;
    let seal = &parts.seal;
    let _state = seal.write_state().await;
    if !ha.is_active() {
        return;
    }
    parts.serving.teardown_active().await;
    seal.set_active_since(None);
    if let Err(e) = seal
        .barrier()
        .delete(&format!("{LEADER_PREFIX}{uuid}"))
        .await
    {
        // Expected when the lock was lost: this node may no longer write.
        tracing::debug!(error = %e, "ha: could not remove this term's advertisement");
    }
    ha.leader.store(None);
    ha.role.send_replace(HaRole::Standby);
    tracing::info!("ha: this node is now a standby");
}

async fn clean_old_adverts(seal: &Seal, current: &str) {
    let barrier = seal.barrier();
    let Ok(keys) = barrier.list(LEADER_PREFIX).await else {
        return;
    };
    for key in keys.into_iter().filter(|k| k != current) {
        let _ = barrier.delete(&format!("{LEADER_PREFIX}{key}")).await;
    }
}

/// Keeps a standby's idea of the active node fresh.
async fn refresh_loop(upgrade: Upgrade) {
    loop {
        let interval = {
            let Some(parts) = upgrade() else { return };
            let ha = &parts.ha;
            if matches!(ha.role(), HaRole::Standby)
                && let Err(e) = refresh_leader(ha, &parts.seal).await
            {
                tracing::debug!(error = %e, "ha: could not read the active node's advertisement");
            }
            ha.config.leader_check_interval
        };
        tokio::time::sleep(interval).await;
    }
}

/// Reads who holds the lock and, when it changed, the holder's advertisement.
pub(crate) async fn refresh_leader(ha: &Ha, seal: &Seal) -> Result<(), LogicalError> {
    let holder = ha
        .config
        .backend
        .holder()
        .await
        .map_err(|e| LogicalError::internal(e.to_string()))?;
    let Some(uuid) = holder else {
        ha.leader.store(None);
        return Ok(());
    };
    if ha.leader.load().as_ref().is_some_and(|l| l.uuid == uuid) {
        return Ok(());
    }
    if seal.sealed() {
        return Ok(());
    }
    let Some(bytes) = seal
        .barrier()
        .get(&format!("{LEADER_PREFIX}{uuid}"))
        .await
        .map_err(barrier_err)?
    else {
        // Taken, not yet published.
        ha.leader.store(None);
        return Ok(());
    };
    let advert: Advertisement = serde_json::from_slice(&bytes).map_err(LogicalError::internal)?;
    if advert.cluster_addr == ha.config.cluster_addr {
        // This standby's own advertisement from a term before a restart: its local copy of the
        // lock has not caught up yet.
        ha.leader.store(None);
        return Ok(());
    }
    let engine = base64::engine::general_purpose::STANDARD;
    let cert = engine
        .decode(&advert.cluster_cert)
        .map_err(LogicalError::internal)?;
    let key = Zeroizing::new(
        engine
            .decode(advert.cluster_key.as_bytes())
            .map_err(LogicalError::internal)?,
    );
    ha.leader.store(Some(Arc::new(LeaderInfo {
        uuid,
        api_addr: advert.api_addr,
        cluster_addr: advert.cluster_addr,
        cluster_cert_der: cert,
        cluster_key_der: key,
    })));
    Ok(())
}

/// `sys/leader` with HA, as OpenBao's `LeaderResponse` (fields in its order; `is_self` and
/// `active_time` only when set).
#[derive(Serialize)]
pub(crate) struct LeaderStatus {
    ha_enabled: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    is_self: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    active_time: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    leader_address: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    leader_cluster_address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    raft_committed_index: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raft_applied_index: Option<u64>,
}

impl Ha {
    /// This node's answer to `sys/leader`.
    pub(crate) fn leader_status(
        &self,
        active_since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> LeaderStatus {
        let is_self = self.is_active();
        let leader = self.leader();
        let indexes = self.config.raft_indexes.as_ref().map(|f| f());
        LeaderStatus {
            ha_enabled: true,
            is_self,
            active_time: active_since
                .filter(|_| is_self)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)),
            leader_address: leader
                .as_ref()
                .map(|l| l.api_addr.clone())
                .unwrap_or_default(),
            leader_cluster_address: leader
                .as_ref()
                .map(|l| l.cluster_addr.clone())
                .unwrap_or_default(),
            raft_committed_index: indexes.map(|(c, _)| c).filter(|i| *i > 0),
            raft_applied_index: indexes.map(|(_, a)| a).filter(|i| *i > 0),
        }
    }

    /// `sys/ha-status`: this (active) node and the standbys heard from, by API address.
    pub(crate) fn members(&self, version: &str) -> serde_json::Value {
        let mut nodes = vec![serde_json::json!({
            "hostname": crate::reload::node_name(),
            "api_address": self.config.api_addr,
            "cluster_address": self.config.cluster_addr,
            "active_node": true,
            "last_echo": null,
            "version": version,
        })];
        let raft = self.config.raft_indexes.is_some();
        if raft {
            nodes[0]["upgrade_version"] = serde_json::json!(version);
        }
        for (peer, seen) in self.peers() {
            nodes.push(serde_json::json!({
                "hostname": peer.hostname,
                "api_address": peer.api_address,
                "cluster_address": peer.cluster_address,
                "active_node": false,
                "last_echo": seen.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                "version": peer.version,
            }));
            if raft && let Some(last) = nodes.last_mut() {
                last["upgrade_version"] = serde_json::json!(peer.version);
            }
        }
        nodes.sort_by(|a, b| {
            a["api_address"]
                .as_str()
                .unwrap_or_default()
                .cmp(b["api_address"].as_str().unwrap_or_default())
        });
        serde_json::json!({ "nodes": nodes })
    }
}
