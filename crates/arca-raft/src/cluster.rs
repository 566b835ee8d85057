//! Cluster management (what the server exposes as `sys/storage/raft/...`): bootstrap,
//! join / add a voter, remove a peer, the configuration, the leader, and snapshots saved
//! from and restored onto a running cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use openraft::ChangeMembers;
use openraft::error::{ClientWriteError, RaftError};
use serde::Serialize;

use crate::RaftStorageError;
use crate::node::{JoinAnswer, JoinRequest, RaftNode};
use crate::snapshot;
use crate::types::{Command, Pair, PeerNode, raft_id};

/// How long a join waits for the leader to add this node (catch-up included).
const JOIN_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the leader waits for a new learner to catch up before giving up on promoting it.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(60);

/// One server of the Raft configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerInfo {
    /// Its node id.
    pub node_id: String,
    /// Its cluster address.
    pub address: String,
    /// Whether it is the leader (as this node knows).
    pub leader: bool,
    /// Whether it votes (a learner that is still catching up does not).
    pub voter: bool,
}

fn change_err(e: RaftError<u64, ClientWriteError<u64, PeerNode>>) -> RaftStorageError {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => RaftStorageError::NotLeader {
            leader: f.leader_node.map(|n| n.addr),
        },
        other => RaftStorageError::Raft(other.to_string()),
    }
}

impl RaftNode {
    /// Makes this node a one-node cluster of which it is the leader (Vault does this at
    /// `operator init` on the first node). Does nothing when the node already belongs to a
    /// cluster. Waits until it leads.
    pub async fn bootstrap(&self) -> Result<(), RaftStorageError> {
        let raft = &self.inner.raft;
        let initialized = raft
            .is_initialized()
            .await
            .map_err(|e| RaftStorageError::Raft(e.to_string()))?;
        if !initialized {
            let me = PeerNode {
                name: self.inner.name.clone(),
                addr: self.inner.addr.clone(),
            };
            raft.initialize(BTreeMap::from([(self.inner.id, me)]))
                .await
                .map_err(|e| RaftStorageError::Raft(e.to_string()))?;
        }
        let wait = self.inner.config.election_timeout * 10;
        self.wait_for_leader(wait).await.map(|_| ())
    }

    /// Whether this node may stand for election. A sealed Arca node must not: it could not
    /// take the HA lock, and while it led no node could be active.
    pub fn set_electable(&self, electable: bool) {
        use std::sync::atomic::Ordering;
        self.inner.electable.store(electable, Ordering::Release);
        let held_back = self.inner.held_back.load(Ordering::Acquire);
        self.inner
            .raft
            .runtime_config()
            .elect(electable && !held_back);
    }

    /// Whether this node belongs to a cluster: bootstrapped, or joined and replicated to.
    pub async fn is_member(&self) -> bool {
        self.inner.raft.is_initialized().await.unwrap_or(false)
    }

    /// Waits until the cluster has a leader (as this node sees it) and returns it.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Result<ServerInfo, RaftStorageError> {
        let mut rx = self.inner.raft.metrics();
        let found =
            tokio::time::timeout(timeout, rx.wait_for(|m| m.current_leader.is_some())).await;
        match found {
            Ok(Ok(_)) => self
                .leader()
                .ok_or_else(|| RaftStorageError::Invalid("no leader".into())),
            Ok(Err(_)) => Err(RaftStorageError::Invalid(
                "the node is shut down".to_owned(),
            )),
            Err(_) => Err(RaftStorageError::Timeout(format!(
                "after {timeout:?} waiting for a leader"
            ))),
        }
    }

    /// The leader, as this node knows it.
    pub fn leader(&self) -> Option<ServerInfo> {
        let m = self.inner.raft.metrics();
        let m = m.borrow();
        let id = m.current_leader?;
        let membership = m.membership_config.membership();
        let node = membership.get_node(&id)?;
        Some(ServerInfo {
            node_id: node.name.clone(),
            address: node.addr.clone(),
            leader: true,
            voter: membership.voter_ids().any(|v| v == id),
        })
    }

    /// The servers of the latest configuration this node knows, sorted by node id.
    pub fn configuration(&self) -> Vec<ServerInfo> {
        let m = self.inner.raft.metrics();
        let m = m.borrow();
        let membership = m.membership_config.membership();
        let voters: BTreeSet<u64> = membership.voter_ids().collect();
        let mut servers: Vec<ServerInfo> = membership
            .nodes()
            .map(|(id, node)| ServerInfo {
                node_id: node.name.clone(),
                address: node.addr.clone(),
                leader: m.current_leader == Some(*id),
                voter: voters.contains(id),
            })
            .collect();
        servers.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        servers
    }

    /// On the leader: adds `node_id` (reachable at `cluster_addr`) as a learner, waits until
    /// it has caught up with the log, then promotes it to voter. Vault's autopilot waits a
    /// stabilisation time before promoting; this promotes as soon as the learner caught up.
    /// Adding a node that already votes at that address does nothing.
    pub async fn add_voter(
        &self,
        node_id: &str,
        cluster_addr: &str,
    ) -> Result<(), RaftStorageError> {
        if !self.is_leader() {
            return Err(RaftStorageError::NotLeader {
                leader: self.leader_addr(),
            });
        }
        let id = raft_id(node_id);
        let node = PeerNode {
            name: node_id.to_owned(),
            addr: cluster_addr.to_owned(),
        };
        let already = self
            .configuration()
            .into_iter()
            .any(|s| s.node_id == node_id && s.address == cluster_addr && s.voter);
        if already {
            return Ok(());
        }
        let raft = &self.inner.raft;
        tokio::time::timeout(CATCH_UP_TIMEOUT, raft.add_learner(id, node, true))
            .await
            .map_err(|_| {
                RaftStorageError::Timeout(format!(
                    "after {CATCH_UP_TIMEOUT:?} waiting for {node_id} to catch up; it stays a \
                     non-voter until it is added again or removed"
                ))
            })?
            .map_err(change_err)?;
        raft.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
            .await
            .map_err(change_err)?;
        Ok(())
    }

    /// On the leader: adds `node_id` (reachable at `cluster_addr`) as a non-voter that
    /// receives the log but never votes (Vault's `non_voter` join).
    pub async fn add_learner(
        &self,
        node_id: &str,
        cluster_addr: &str,
    ) -> Result<(), RaftStorageError> {
        if !self.is_leader() {
            return Err(RaftStorageError::NotLeader {
                leader: self.leader_addr(),
            });
        }
        let node = PeerNode {
            name: node_id.to_owned(),
            addr: cluster_addr.to_owned(),
        };
        self.inner
            .raft
            .add_learner(raft_id(node_id), node, false)
            .await
            .map_err(change_err)?;
        Ok(())
    }

    /// Asks the cluster at `leader_addr` to add this node as a voter (the `join` RPC over
    /// mutual TLS); when that node is not the leader, follows it to the leader it names.
    /// Returns once this node is a voter.
    pub async fn join(&self, leader_addr: &str) -> Result<(), RaftStorageError> {
        let mut target = leader_addr.to_owned();
        let req = serde_json::to_vec(&JoinRequest {
            node_id: self.inner.name.clone(),
            addr: self.inner.addr.clone(),
        })
        .map_err(|e| RaftStorageError::Network(e.to_string()))?;
        for _ in 0..4 {
            let peer = PeerNode {
                name: String::new(),
                addr: target.clone(),
            };
            let answer = self
                .inner
                .transport
                .call(&peer, "join", Bytes::from(req.clone()), JOIN_TIMEOUT)
                .await
                .map_err(|e| RaftStorageError::Network(e.to_string()))?;
            let answer: JoinAnswer = serde_json::from_slice(&answer)
                .map_err(|e| RaftStorageError::Network(format!("bad join answer: {e}")))?;
            match (answer.error, answer.leader) {
                (None, _) => return Ok(()),
                (Some(_), Some(leader)) if leader != target => target = leader,
                (Some(e), _) => return Err(RaftStorageError::Raft(format!("join refused: {e}"))),
            }
        }
        Err(RaftStorageError::Raft("join: no leader found".to_owned()))
    }

    /// On the leader: removes `node_id` from the configuration (voter or learner). The leader
    /// itself cannot be removed this way.
    pub async fn remove_peer(&self, node_id: &str) -> Result<(), RaftStorageError> {
        if !self.is_leader() {
            return Err(RaftStorageError::NotLeader {
                leader: self.leader_addr(),
            });
        }
        let id = raft_id(node_id);
        if id == self.inner.id {
            return Err(RaftStorageError::Invalid(
                "cannot remove the leader itself; remove it from another node once it stepped down"
                    .to_owned(),
            ));
        }
        let servers = self.configuration();
        let Some(server) = servers.iter().find(|s| s.node_id == node_id) else {
            return Err(RaftStorageError::Invalid(format!(
                "node {node_id:?} is not part of the configuration"
            )));
        };
        let change = if server.voter {
            ChangeMembers::RemoveVoters(BTreeSet::from([id]))
        } else {
            ChangeMembers::RemoveNodes(BTreeSet::from([id]))
        };
        self.inner
            .raft
            .change_membership(change, false)
            .await
            .map_err(change_err)?;
        Ok(())
    }

    /// On the leader: makes `node_id` a voter (`promote`) or a non-voter that keeps receiving
    /// the log (`demote`). The leader itself cannot be demoted.
    pub async fn set_voter(&self, node_id: &str, voter: bool) -> Result<(), RaftStorageError> {
        if !self.is_leader() {
            return Err(RaftStorageError::NotLeader {
                leader: self.leader_addr(),
            });
        }
        let id = raft_id(node_id);
        if !voter && id == self.inner.id {
            return Err(RaftStorageError::Invalid(
                "cannot demote the leader itself".to_owned(),
            ));
        }
        if !self.configuration().iter().any(|s| s.node_id == node_id) {
            return Err(RaftStorageError::Invalid(format!(
                "node {node_id:?} is not part of the configuration"
            )));
        }
        let change = if voter {
            ChangeMembers::AddVoterIds(BTreeSet::from([id]))
        } else {
            ChangeMembers::RemoveVoters(BTreeSet::from([id]))
        };
        // `retain`: a demoted voter stays a learner.
        self.inner
            .raft
            .change_membership(change, true)
            .await
            .map_err(change_err)?;
        Ok(())
    }

    /// A consistent copy of this node's whole state machine (every pair plus the metadata),
    /// in the format [`RaftNode::snapshot_restore`] takes. Call it on the leader for the
    /// latest data.
    pub async fn snapshot_save(&self) -> Result<Vec<u8>, RaftStorageError> {
        let sm = self.inner.sm.clone();
        tokio::task::spawn_blocking(move || sm.encode(None).map(|(_, bytes)| bytes))
            .await
            .map_err(|e| RaftStorageError::Storage(e.to_string()))?
    }

    /// On the leader: replaces all key/value data of the running cluster with the data of a
    /// snapshot from [`RaftNode::snapshot_save`] (checked first: a corrupt snapshot changes
    /// nothing). The cluster's own membership and HA lock are kept. The data travels as one
    /// log entry, so `max_entry_size` does not apply; returns the index it was applied at.
    pub async fn snapshot_restore(&self, bytes: &[u8]) -> Result<u64, RaftStorageError> {
        let decoded = snapshot::decode(bytes)?;
        let pairs = decoded
            .pairs
            .into_iter()
            .map(|(key, value)| Pair { key, value })
            .collect();
        self.write_cmd(Command::Restore { pairs }).await
    }
}
