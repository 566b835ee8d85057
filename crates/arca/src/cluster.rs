//! The server's side of HA: opening a storage backend several nodes share (and its lock),
//! the core's HA settings from the config, the cluster listener that runs while this node is
//! active, and a standby's forwarding and echo to the active node.

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};
use arca_core::{Core, HaConfig, HaRole, LeaderInfo, PeerNode};
use arca_http::{ActiveNode, ClusterIdentity, Forwarder, HaRoute, RequestHandler};
use arca_storage::{HaBackend, PhysicalBackend};
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

/// A test knob: the PostgreSQL HA lock's time to live (OpenBao's is a fixed 15 s), so tests
/// can watch a takeover without waiting for it; renewals run at a third of it.
const PG_LOCK_TTL_ENV: &str = "ARCA_PG_HA_LOCK_TTL";
/// How often a standby tells the active node it is alive.
const ECHO_INTERVAL: Duration = Duration::from_secs(2);

/// Physical storage, and its HA lock when the backend has one and it is enabled.
pub(crate) struct OpenedStorage {
    pub(crate) physical: Arc<dyn PhysicalBackend>,
    pub(crate) ha: Option<Arc<dyn HaBackend>>,
    /// Integrated storage, when it is the backend.
    pub(crate) raft: Option<crate::raft::RaftStorage>,
}

/// Opens the backend a `storage "KIND"` stanza names.
pub(crate) async fn open_storage(
    kind: &str,
    options: &HashMap<String, String>,
    api_addr: Option<&str>,
    cluster_addr: Option<&str>,
) -> Result<OpenedStorage> {
    let error =
        |e: arca_storage::StorageError| anyhow!("error initializing storage of type {kind}: {e}");
    match kind {
        "postgresql" => {
            let mut timings = arca_storage_postgresql::HaTimings::default();
            if let Some(ttl) = std::env::var_os(PG_LOCK_TTL_ENV) {
                let ttl = arca_sdk::duration::parse_duration(&ttl.to_string_lossy())
                    .map_err(|e| anyhow!("{PG_LOCK_TTL_ENV}: {e}"))?;
                timings.lock_ttl = ttl;
                timings.renew_interval = ttl / 3;
                timings.retry_interval = (ttl / 5).max(Duration::from_millis(100));
                timings.lost_margin = ttl / 5;
            }
            let (physical, ha) = arca_storage_postgresql::open_with_timings(options, timings)
                .await
                .map_err(error)?;
            Ok(OpenedStorage {
                physical,
                ha,
                raft: None,
            })
        }
        "raft" => {
            let cluster_addr = match (cluster_addr, api_addr) {
                (Some(c), _) => c.to_string(),
                (None, Some(api)) => default_cluster_addr(api)?,
                (None, None) => {
                    return Err(anyhow!(
                        "error initializing storage of type raft: cluster_addr (or api_addr) must be set"
                    ));
                }
            };
            let raft = crate::raft::RaftStorage::open(options, &cluster_addr).await?;
            let node = Arc::new(raft.node().clone());
            Ok(OpenedStorage {
                physical: node.clone(),
                ha: Some(node),
                raft: Some(raft),
            })
        }
        _ => Ok(OpenedStorage {
            physical: arca_storage::open_backend(kind, options).map_err(error)?,
            ha: None,
            raft: None,
        }),
    }
}

/// The core's HA settings: this node's addresses, and how it makes its cluster identity.
///
/// `api_addr` must be set (clients are redirected there); `cluster_addr` defaults to the
/// API address's host with the port one above, as Vault's listener does.
pub(crate) fn ha_config(
    backend: Arc<dyn HaBackend>,
    api_addr: Option<&str>,
    cluster_addr: Option<&str>,
    raft: Option<&crate::raft::RaftStorage>,
) -> Result<HaConfig> {
    let api_addr = api_addr
        .ok_or_else(|| anyhow!("api_addr must be set when the storage backend has HA enabled"))?
        .to_string();
    let cluster_addr = match cluster_addr {
        Some(c) => c.to_string(),
        None => default_cluster_addr(&api_addr)?,
    };
    Ok(HaConfig {
        backend,
        api_addr,
        cluster_addr,
        identity: Arc::new(|| {
            ClusterIdentity::generate()
                .map(|id| (id.cert_der, id.key_der))
                .map_err(|e| e.to_string())
        }),
        step_down_wait: arca_core::ha::STEP_DOWN_WAIT,
        leader_check_interval: arca_core::ha::LEADER_CHECK_INTERVAL,
        raft_indexes: raft.map(|r| {
            let node = r.node().clone();
            // An entry is applied here only once committed: the applied index stands for both.
            Arc::new(move || {
                let applied = node.last_applied_index();
                (applied, applied)
            }) as arca_core::ha::RaftIndexes
        }),
    })
}

fn default_cluster_addr(api_addr: &str) -> Result<String> {
    let host_port = api_addr
        .split_once("://")
        .map_or(api_addr, |(_, rest)| rest)
        .trim_end_matches('/');
    let (host, port) = host_port
        .rsplit_once(':')
        .ok_or_else(|| anyhow!("api_addr {api_addr:?} has no port to derive cluster_addr from"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| anyhow!("api_addr {api_addr:?} has no valid port"))?;
    Ok(format!("https://{host}:{}", port.wrapping_add(1)))
}

/// Where the cluster listener binds: the host and port of `cluster_addr`.
fn cluster_bind_addr(cluster_addr: &str) -> Result<SocketAddr> {
    let host_port = cluster_addr
        .split_once("://")
        .map_or(cluster_addr, |(_, rest)| rest)
        .trim_end_matches('/');
    host_port
        .to_socket_addrs()
        .map_err(|e| anyhow!("cluster_addr {cluster_addr:?}: {e}"))?
        .next()
        .ok_or_else(|| anyhow!("cluster_addr {cluster_addr:?} resolves to no address"))
}

/// Binds this node's cluster port (`cluster_addr`): it carries `extra` (integrated storage's
/// RPCs) all the time, and request forwarding while the node is active.
pub(crate) async fn bind_port(
    cluster_addr: &str,
    handler: Arc<dyn RequestHandler>,
    extra: Option<arca_http::ClusterProtocol>,
    shutdown: CancellationToken,
) -> Result<Arc<arca_http::ClusterPort>> {
    let addr = cluster_bind_addr(cluster_addr)?;
    arca_http::serve_cluster_port(addr, handler, extra, shutdown)
        .await
        .map_err(|e| anyhow!("Error initializing the cluster listener: {e}"))
}

/// Follows this node's HA role until `shutdown`: the cluster port serves forwarded requests
/// with the term's identity while the node is active, and a standby echoes to the active node.
pub(crate) async fn run(
    core: Core,
    port: Arc<arca_http::ClusterPort>,
    shutdown: CancellationToken,
) {
    let Some(mut roles) = core.ha_watch() else {
        return;
    };
    let mut echo: Option<CancellationToken> = None;
    loop {
        let role = roles.borrow_and_update().clone();
        if let Some(stop) = echo.take() {
            stop.cancel();
        }
        let identity = match &role {
            HaRole::Active(me) => Some(ClusterIdentity {
                cert_der: me.cluster_cert_der.clone(),
                key_der: me.cluster_key_der.clone(),
            }),
            _ => None,
        };
        if let Err(e) = port.set_identity(identity.as_ref()) {
            tracing::error!(error = %e, "ha: cannot serve forwarded requests");
        }
        if matches!(role, HaRole::Standby) {
            let stop = shutdown.child_token();
            tokio::spawn(echo_loop(core.clone(), stop.clone()));
            echo = Some(stop);
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            changed = roles.changed() => if changed.is_err() { break },
        }
    }
    if let Some(stop) = echo {
        stop.cancel();
    }
}

/// A standby's echo: tells the active node every [`ECHO_INTERVAL`] that it is alive.
async fn echo_loop(core: Core, stop: CancellationToken) {
    let Some(me) = core.ha_config() else { return };
    let node = serde_json::json!({
        "hostname": arca_core::reload::node_name(),
        "api_address": me.api_addr,
        "cluster_address": me.cluster_addr,
        "version": env!("CARGO_PKG_VERSION"),
    });
    let forwarders = Forwarders::default();
    loop {
        if let Some(leader) = core.leader()
            && let Some(fw) = forwarders.get(&leader)
            && let Err(e) = fw.echo(&node).await
        {
            tracing::debug!(error = %e, "ha: echo to the active node failed");
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(ECHO_INTERVAL) => {}
        }
    }
}

/// The forwarding client of the current active node, made again when it changes.
#[derive(Default)]
pub(crate) struct Forwarders {
    current: Mutex<Option<(String, Arc<Forwarder>)>>,
}

impl Forwarders {
    /// The client for `leader`'s cluster port.
    pub(crate) fn get(&self, leader: &LeaderInfo) -> Option<Arc<Forwarder>> {
        let mut current = self.current.lock();
        if let Some((uuid, fw)) = current.as_ref()
            && *uuid == leader.uuid
        {
            return Some(fw.clone());
        }
        let identity = ClusterIdentity {
            cert_der: leader.cluster_cert_der.clone(),
            key_der: leader.cluster_key_der.clone(),
        };
        match Forwarder::new(&leader.cluster_addr, &identity) {
            Ok(fw) => {
                let fw = Arc::new(fw);
                *current = Some((leader.uuid.clone(), fw.clone()));
                Some(fw)
            }
            Err(e) => {
                tracing::warn!(error = %e, "ha: cannot build the forwarding client");
                None
            }
        }
    }

    /// Where this node's requests go (the HTTP layer asks on every request).
    pub(crate) fn route(&self, core: &Core) -> HaRoute {
        if !core.standby() {
            return HaRoute::Local;
        }
        let active = core.leader().and_then(|leader| {
            self.get(&leader).map(|forwarder| ActiveNode {
                api_addr: leader.api_addr.clone(),
                forwarder,
            })
        });
        HaRoute::Standby(active)
    }
}

/// Records a standby's echo on the active node.
pub(crate) fn record_echo(core: &Core, node: serde_json::Value) {
    match serde_json::from_value::<PeerNode>(node) {
        Ok(peer) => core.record_peer(peer),
        Err(e) => tracing::debug!(error = %e, "ha: malformed echo"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_addr_defaults_to_the_next_port() {
        assert_eq!(
            default_cluster_addr("http://127.0.0.1:8200")
                .ok()
                .as_deref(),
            Some("https://127.0.0.1:8201")
        );
        assert!(default_cluster_addr("http://host").is_err());
    }
}
