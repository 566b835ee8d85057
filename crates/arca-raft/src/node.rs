//! One Raft node: opening it from its data directory, the RPCs it answers, and the
//! [`PhysicalBackend`] it offers (reads from its own state machine, writes through the
//! leader's log).

use std::io::Cursor;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arca_storage::{PhysicalBackend, StorageError, TxnOp, validate_key, validate_ops};
use async_trait::async_trait;
use bytes::Bytes;
use openraft::error::{ClientWriteError, RaftError};
use openraft::{Raft, RaftMetrics, ServerState, Snapshot, SnapshotPolicy};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::RaftConfig;
use crate::log_store::LogStore;
use crate::network::{FullSnapshotRequest, NetworkFactory, TlsTransport, Transport};
use crate::state_machine::StateMachineStore;
use crate::types::{Command, Op, PeerNode, RaftId, TypeConfig, raft_id};
use crate::{RaftStorageError, RaftTls, perms};

/// A transaction may be this many times larger than `max_entry_size` (as in Vault).
const TXN_SIZE_FACTOR: u64 = 8;
/// Framing bytes counted per operation on top of its key and value.
const OP_OVERHEAD: usize = 8;

/// The leader's view of its lease: the term it leads in and when a quorum last acknowledged
/// it (derived from openraft's `millis_since_quorum_ack`).
#[derive(Default, Clone, Copy)]
pub(crate) struct Lease {
    pub(crate) term: u64,
    pub(crate) leader: bool,
    pub(crate) quorum_ack: Option<Instant>,
}

pub(crate) struct Inner {
    pub(crate) raft: Raft<TypeConfig>,
    pub(crate) id: RaftId,
    pub(crate) name: String,
    pub(crate) addr: String,
    pub(crate) config: RaftConfig,
    pub(crate) sm: StateMachineStore,
    pub(crate) log: LogStore,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) last_write: AtomicU64,
    pub(crate) contacts: crate::network::Contacts,
    /// Whether this node may stand for election ([`RaftNode::set_electable`]).
    pub(crate) electable: std::sync::atomic::AtomicBool,
    /// Set for a while after a step-down ([`arca_storage::HaBackend::hold_back`]).
    pub(crate) held_back: std::sync::atomic::AtomicBool,
    pub(crate) lease: Arc<Mutex<Lease>>,
    monitor: JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.monitor.abort();
    }
}

/// A Raft node: a handle to the replicated storage of one cluster member. Cheap to clone.
#[derive(Clone)]
pub struct RaftNode {
    pub(crate) inner: Arc<Inner>,
}

/// The body of a `join` RPC: the node asking to be added.
#[derive(Serialize, Deserialize)]
pub(crate) struct JoinRequest {
    pub(crate) node_id: String,
    pub(crate) addr: String,
}

/// The answer to a `join` RPC.
#[derive(Serialize, Deserialize)]
pub(crate) struct JoinAnswer {
    pub(crate) error: Option<String>,
    /// Set when the node asked is not the leader and knows who is.
    pub(crate) leader: Option<String>,
}

impl RaftNode {
    /// Opens the node stored under `config.path` and starts its Raft, talking to peers over
    /// mutual TLS. `cluster_addr` (`host:port`) is where this node's RPC listener can be
    /// reached; it is recorded in the membership when the node bootstraps or joins.
    pub async fn open(
        config: RaftConfig,
        cluster_addr: &str,
        tls: &RaftTls,
    ) -> Result<Self, RaftStorageError> {
        let transport = Arc::new(TlsTransport::new(tls)?);
        Self::open_with_transport(config, cluster_addr, transport).await
    }

    /// Like [`RaftNode::open`] with a caller-chosen transport (tests wrap the TLS one in a
    /// [`crate::FaultTransport`]).
    pub async fn open_with_transport(
        config: RaftConfig,
        cluster_addr: &str,
        transport: Arc<dyn Transport>,
    ) -> Result<Self, RaftStorageError> {
        let cfg = config.clone();
        let (name, log, sm) = tokio::task::spawn_blocking(move || {
            perms::ensure_private_dir(&cfg.path)?;
            let name = cfg.resolve_node_id()?;
            let log = LogStore::open(&cfg.path)?;
            let sm = StateMachineStore::open(&cfg.path)?;
            Ok::<_, RaftStorageError>((name, log, sm))
        })
        .await
        .map_err(|e| RaftStorageError::Storage(e.to_string()))??;
        let id = raft_id(&name);
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
        let election = ms(config.election_timeout);
        let raft_config = openraft::Config {
            cluster_name: "arca-raft".to_owned(),
            heartbeat_interval: ms(config.heartbeat_interval),
            election_timeout_min: election,
            election_timeout_max: election * 2,
            install_snapshot_timeout: (election * 10).max(10_000),
            max_payload_entries: 64,
            replication_lag_threshold: 64,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(config.snapshot_threshold),
            max_in_snapshot_log_to_keep: config.trailing_logs,
            ..Default::default()
        }
        .validate()
        .map_err(|e| RaftStorageError::Config(e.to_string()))?;
        let contacts = crate::network::Contacts::default();
        let raft = Raft::new(
            id,
            Arc::new(raft_config),
            NetworkFactory {
                transport: transport.clone(),
                contacts: contacts.clone(),
                min_backoff: config.heartbeat_interval,
                max_backoff: config.election_timeout,
            },
            log.clone(),
            sm.clone(),
        )
        .await
        .map_err(|e| RaftStorageError::Raft(e.to_string()))?;
        let lease = Arc::new(Mutex::new(Lease::default()));
        let monitor = tokio::spawn(watch_lease(raft.metrics(), lease.clone()));
        Ok(Self {
            inner: Arc::new(Inner {
                raft,
                id,
                name,
                addr: cluster_addr.to_owned(),
                config,
                sm,
                log,
                transport,
                last_write: AtomicU64::new(0),
                contacts,
                electable: std::sync::atomic::AtomicBool::new(true),
                held_back: std::sync::atomic::AtomicBool::new(false),
                lease,
                monitor,
            }),
        })
    }

    /// This node's id (`node_id`).
    pub fn node_id(&self) -> &str {
        &self.inner.name
    }

    /// This node's cluster address.
    pub fn cluster_addr(&self) -> &str {
        &self.inner.addr
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &RaftConfig {
        &self.inner.config
    }

    /// openraft's metrics of this node (state, term, leader, log and snapshot positions).
    pub fn metrics(&self) -> watch::Receiver<RaftMetrics<u64, PeerNode>> {
        self.inner.raft.metrics()
    }

    /// Whether this node is the leader right now.
    pub fn is_leader(&self) -> bool {
        let m = self.inner.raft.metrics();
        let m = m.borrow();
        m.state == ServerState::Leader && m.current_leader == Some(self.inner.id)
    }

    /// The index of the last entry applied to this node's state machine.
    pub fn last_applied_index(&self) -> u64 {
        *self.inner.sm.applied().borrow()
    }

    /// How long since peer `node_id` last answered this node (or, when it never has, since
    /// this node first tried to reach it); `None` when this node never tried (it does not
    /// lead, or the peer is itself). Autopilot's `last_contact`.
    pub fn last_contact(&self, node_id: &str) -> Option<Duration> {
        let c = self.inner.contacts.get(node_id)?;
        Some(c.last_answer.unwrap_or(c.first_try).elapsed())
    }

    /// The index the last write made through this node was applied at.
    pub fn last_write_index(&self) -> u64 {
        self.inner.last_write.load(Ordering::Acquire)
    }

    /// How many snapshots this node installed from a leader since it was opened.
    pub fn snapshot_installs(&self) -> u64 {
        self.inner.sm.snapshot_installs()
    }

    /// How many entries this node's log holds now (they are purged after snapshots).
    pub fn log_len(&self) -> Result<u64, RaftStorageError> {
        self.inner.log.len()
    }

    /// Waits until this node has applied the entry at `index` (so a read here sees every
    /// write up to it), failing after `timeout`.
    pub async fn wait_for_index(
        &self,
        index: u64,
        timeout: Duration,
    ) -> Result<(), RaftStorageError> {
        let mut rx = self.inner.sm.applied();
        let waited = tokio::time::timeout(timeout, rx.wait_for(|a| *a >= index))
            .await
            .map(|r| r.map(|_| ()));
        match waited {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(RaftStorageError::Invalid(
                "the node is shut down".to_owned(),
            )),
            Err(_) => Err(RaftStorageError::Timeout(format!(
                "after {timeout:?} waiting for index {index} (applied: {})",
                *rx.borrow()
            ))),
        }
    }

    /// Stops this node's Raft (no step-down: to its peers it is as if it crashed). Its data
    /// directory can be opened again once every clone of this handle is dropped.
    pub async fn shutdown(&self) -> Result<(), RaftStorageError> {
        self.inner.monitor.abort();
        self.inner
            .raft
            .shutdown()
            .await
            .map_err(|e| RaftStorageError::Raft(e.to_string()))
    }

    /// The leader's cluster address as this node knows it.
    pub(crate) fn leader_addr(&self) -> Option<String> {
        let m = self.inner.raft.metrics();
        let m = m.borrow();
        let leader = m.current_leader?;
        m.membership_config
            .membership()
            .get_node(&leader)
            .map(|n| n.addr.clone())
    }

    /// Replicates `cmd` through the leader's log and returns the index it was applied at.
    pub(crate) async fn write_cmd(&self, cmd: Command) -> Result<u64, RaftStorageError> {
        if !self.is_leader() {
            return Err(RaftStorageError::NotLeader {
                leader: self.leader_addr(),
            });
        }
        let timeout = self.inner.config.apply_timeout;
        let res = tokio::time::timeout(timeout, self.inner.raft.client_write(cmd))
            .await
            .map_err(|_| {
                RaftStorageError::Timeout(format!(
                    "after {timeout:?} waiting for the write to be committed"
                ))
            })?;
        match res {
            Ok(resp) => {
                let index = resp.log_id.index;
                self.inner.last_write.fetch_max(index, Ordering::AcqRel);
                Ok(index)
            }
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                Err(RaftStorageError::NotLeader {
                    leader: f.leader_node.map(|n| n.addr),
                })
            }
            Err(e) => Err(RaftStorageError::Raft(e.to_string())),
        }
    }

    /// Writes `ops` atomically through Raft after checking their size; returns the index.
    pub(crate) async fn write_ops(
        &self,
        ops: Vec<Op>,
        limit: u64,
    ) -> Result<u64, RaftStorageError> {
        // The size as Vault counts it (its protobuf encoding): the keys and values plus a
        // few bytes of framing per operation, not the base64 of the JSON log encoding.
        let size: usize = ops
            .iter()
            .map(|op| match op {
                Op::Put { key, value } => key.len() + value.len() + OP_OVERHEAD,
                Op::Delete { key } => key.len() + OP_OVERHEAD,
            })
            .sum();
        let cmd = Command::Txn { ops };
        if size as u64 > limit {
            return Err(RaftStorageError::TooLarge { size, max: limit });
        }
        self.write_cmd(cmd).await
    }

    /// `put`, returning the index the write was applied at.
    pub async fn put_indexed(&self, key: &str, value: Vec<u8>) -> Result<u64, StorageError> {
        validate_key(key)?;
        let op = Op::Put {
            key: key.to_owned(),
            value,
        };
        Ok(self
            .write_ops(vec![op], self.inner.config.max_entry_size)
            .await?)
    }

    /// `transaction`, returning the index the batch was applied at.
    pub async fn transaction_indexed(&self, ops: Vec<TxnOp>) -> Result<u64, StorageError> {
        validate_ops(&ops)?;
        let ops = ops
            .into_iter()
            .map(|op| match op {
                TxnOp::Put { key, value } => Op::Put { key, value },
                TxnOp::Delete { key } => Op::Delete { key },
            })
            .collect();
        let limit = self
            .inner
            .config
            .max_entry_size
            .saturating_mul(TXN_SIZE_FACTOR);
        Ok(self.write_ops(ops, limit).await?)
    }

    /// Answers one cluster RPC (`append_entries`, `vote`, `install_snapshot`,
    /// `full_snapshot`, `join`): a JSON request body in, a JSON answer out. The server calls
    /// this for requests on its cluster port; [`crate::serve`] does for its own listener.
    pub async fn handle_rpc(&self, rpc_name: &str, body: Bytes) -> Result<Bytes, RaftStorageError> {
        fn parse<T: serde::de::DeserializeOwned>(
            rpc: &str,
            body: &[u8],
        ) -> Result<T, RaftStorageError> {
            serde_json::from_slice(body)
                .map_err(|e| RaftStorageError::Network(format!("bad {rpc} request: {e}")))
        }
        fn out<T: Serialize>(v: &T) -> Result<Bytes, RaftStorageError> {
            serde_json::to_vec(v)
                .map(Bytes::from)
                .map_err(|e| RaftStorageError::Network(e.to_string()))
        }
        let raft = &self.inner.raft;
        match rpc_name {
            "append_entries" => out(&raft.append_entries(parse(rpc_name, &body)?).await),
            "vote" => out(&raft.vote(parse(rpc_name, &body)?).await),
            "install_snapshot" => out(&raft.install_snapshot(parse(rpc_name, &body)?).await),
            "full_snapshot" => {
                let req: FullSnapshotRequest = parse(rpc_name, &body)?;
                let snapshot = Snapshot {
                    meta: req.meta,
                    snapshot: Box::new(Cursor::new(req.data)),
                };
                out(&raft.install_full_snapshot(req.vote, snapshot).await)
            }
            // The leader handing over (a step-down): stand for election now, when allowed.
            "campaign" => {
                let electable = self.inner.electable.load(Ordering::Acquire)
                    && !self.inner.held_back.load(Ordering::Acquire);
                if electable {
                    raft.trigger()
                        .elect()
                        .await
                        .map_err(|e| RaftStorageError::Raft(e.to_string()))?;
                }
                out(&electable)
            }
            "join" => {
                let req: JoinRequest = parse(rpc_name, &body)?;
                let answer = match self.add_voter(&req.node_id, &req.addr).await {
                    Ok(()) => JoinAnswer {
                        error: None,
                        leader: None,
                    },
                    Err(e) => JoinAnswer {
                        leader: match &e {
                            RaftStorageError::NotLeader { leader } => leader.clone(),
                            _ => None,
                        },
                        error: Some(e.to_string()),
                    },
                };
                out(&answer)
            }
            other => Err(RaftStorageError::Invalid(format!(
                "unknown raft RPC {other:?}"
            ))),
        }
    }
}

/// Keeps `lease` current from openraft's metrics: the term this node leads in and the
/// instant a quorum last acknowledged it.
async fn watch_lease(
    mut rx: watch::Receiver<RaftMetrics<u64, PeerNode>>,
    lease: Arc<Mutex<Lease>>,
) {
    loop {
        {
            let m = rx.borrow_and_update();
            let now = Instant::now();
            let mut l = lease.lock();
            let leader = m.state == ServerState::Leader && m.current_leader == Some(m.id);
            if !leader {
                *l = Lease::default();
            } else {
                let single = {
                    let mut voters = m.membership_config.membership().voter_ids();
                    matches!((voters.next(), voters.next()), (Some(v), None) if v == m.id)
                };
                if l.term != m.current_term || !l.leader {
                    *l = Lease {
                        term: m.current_term,
                        leader: true,
                        quorum_ack: None,
                    };
                }
                if single {
                    l.quorum_ack = Some(now);
                } else if let Some(ms) = m.millis_since_quorum_ack {
                    let at = now.checked_sub(Duration::from_millis(ms));
                    if at > l.quorum_ack {
                        l.quorum_ack = at;
                    }
                }
            }
        }
        if rx.changed().await.is_err() {
            *lease.lock() = Lease::default();
            return;
        }
    }
}

#[async_trait]
impl PhysicalBackend for RaftNode {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.inner.sm.get(key)?)
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        self.put_indexed(key, value).await.map(|_| ())
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        validate_key(key)?;
        let op = Op::Delete {
            key: key.to_owned(),
        };
        self.write_ops(vec![op], self.inner.config.max_entry_size)
            .await?;
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        Ok(self.inner.sm.list(prefix, "", 0)?)
    }

    async fn list_page(
        &self,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<String>, StorageError> {
        Ok(self.inner.sm.list(prefix, after, limit)?)
    }

    async fn transaction(&self, ops: Vec<TxnOp>) -> Result<(), StorageError> {
        self.transaction_indexed(ops).await.map(|_| ())
    }
}
