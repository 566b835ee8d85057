//! High availability over Raft: the lock is held by the Raft leader.
//!
//! `acquire` waits until this node is the leader, then writes the lock record (the published
//! value, this node's id and the term) through Raft so that every node reads it with
//! `holder`. The lock is held while this node stays leader in that term *and* a quorum has
//! acknowledged it within its lease (half the shortest election timeout): a leader cut off
//! from the majority gives the lock up before the majority can elect a new leader (which
//! takes at least one election timeout), so two nodes never both hold it, and only the
//! holder can commit writes. `holder` reports a record only while its writer is still the
//! leader of the term it wrote it in.
//!
//! `release` clears the record (when still leader) and steps down: openraft 0.9 has no
//! leadership transfer, so the leader stops sending heartbeats until a follower's election
//! timer fires and a new leader takes over (in a one-voter cluster it stays leader: there is
//! nobody to hand over to). Dropping a held lock without `release` keeps leadership.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arca_storage::{HaBackend, HeldLock, StorageError};
use async_trait::async_trait;
use openraft::ServerState;

use crate::node::{Inner, RaftNode};
use crate::types::{Command, HaRecord, raft_id};

impl RaftNode {
    /// The lease: how long after the last quorum acknowledgement the leader still counts as
    /// holding the lock.
    fn lease_duration(&self) -> Duration {
        self.inner.config.election_timeout / 2
    }
}

/// Whether the node still leads in `term` within its lease.
fn leads(inner: &Inner, term: u64, lease: Duration) -> bool {
    let l = *inner.lease.lock();
    if !l.leader || l.term != term {
        return false;
    }
    let m = inner.raft.metrics();
    let m = m.borrow();
    if m.state != ServerState::Leader || m.current_term != term || m.running_state.is_err() {
        return false;
    }
    matches!(l.quorum_ack, Some(at) if at.elapsed() < lease)
}

#[async_trait]
impl HaBackend for RaftNode {
    async fn acquire(&self, value: &str) -> Result<Box<dyn HeldLock>, StorageError> {
        let lease = self.lease_duration();
        let mut rx = self.inner.raft.metrics();
        loop {
            let term = {
                let m = rx.borrow_and_update();
                if let Err(e) = &m.running_state {
                    return Err(StorageError::Backend(format!("raft is not running: {e}")));
                }
                (m.state == ServerState::Leader && m.current_leader == Some(self.inner.id))
                    .then_some(m.current_term)
            };
            if let Some(term) = term {
                let record = HaRecord {
                    holder: value.to_owned(),
                    node_id: self.inner.name.clone(),
                    term,
                };
                let written = self
                    .write_cmd(Command::SetHaLock {
                        record: Some(record),
                    })
                    .await;
                if written.is_ok() && leads(&self.inner, term, lease) {
                    return Ok(Box::new(RaftHeld {
                        node: self.clone(),
                        term,
                        lease,
                        released: AtomicBool::new(false),
                        lost: AtomicBool::new(false),
                    }));
                }
            }
            // Wait for a change of state, or poll: the lease only becomes valid with time.
            let _ = tokio::time::timeout(self.inner.config.heartbeat_interval, rx.changed()).await;
        }
    }

    fn hold_back(&self, wait: Duration) {
        // No candidacy (and no answer to a campaign request) for `wait`, then as before.
        let inner = self.inner.clone();
        inner.held_back.store(true, Ordering::Release);
        inner.raft.runtime_config().elect(false);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            inner.held_back.store(false, Ordering::Release);
            let electable = inner.electable.load(Ordering::Acquire);
            inner.raft.runtime_config().elect(electable);
        });
    }

    async fn holder(&self) -> Result<Option<String>, StorageError> {
        let Some(record) = self.inner.sm.ha_lock()? else {
            return Ok(None);
        };
        let m = self.inner.raft.metrics();
        let m = m.borrow();
        let current =
            m.current_term == record.term && m.current_leader == Some(raft_id(&record.node_id));
        Ok(current.then_some(record.holder))
    }
}

/// The lock held by the leader in one term.
struct RaftHeld {
    node: RaftNode,
    term: u64,
    lease: Duration,
    released: AtomicBool,
    /// Set once the lock was found lost: it stays lost even if this node leads again.
    lost: AtomicBool,
}

impl RaftHeld {
    fn check(&self) -> bool {
        if self.released.load(Ordering::Acquire) || self.lost.load(Ordering::Acquire) {
            return false;
        }
        if leads(&self.node.inner, self.term, self.lease) {
            true
        } else {
            self.lost.store(true, Ordering::Release);
            false
        }
    }
}

#[async_trait]
impl HeldLock for RaftHeld {
    async fn lost(&self) {
        let mut rx = self.node.inner.raft.metrics();
        // The lease runs out with time alone, so also poll at the heartbeat interval.
        let tick = self
            .node
            .inner
            .config
            .heartbeat_interval
            .min(self.lease / 4);
        while self.check() {
            tokio::select! {
                changed = rx.changed() => if changed.is_err() {
                    self.lost.store(true, Ordering::Release);
                    return;
                },
                _ = tokio::time::sleep(tick) => {}
            }
        }
    }

    fn held(&self) -> bool {
        self.check()
    }

    async fn release(&self) {
        let was_held = self.check();
        self.released.store(true, Ordering::Release);
        if !was_held {
            return;
        }
        let inner = &self.node.inner;
        // Clear the record, but only if it is still ours.
        let ours = matches!(inner.sm.ha_lock(), Ok(Some(r)) if r.term == self.term && r.node_id == inner.name);
        if ours {
            let _ = self
                .node
                .write_cmd(Command::SetHaLock { record: None })
                .await;
        }
        let voters = {
            let m = inner.raft.metrics();
            let m = m.borrow();
            m.membership_config.membership().voter_ids().count()
        };
        if voters < 2 {
            return;
        }
        // Step down: stop heartbeats until another node took over (or for a bounded time).
        let raft = inner.raft.clone();
        let id = inner.id;
        let limit = inner.config.election_timeout * 6;
        raft.runtime_config().heartbeat(false);
        // Hand over at once: ask the most up-to-date voter to stand for election (openraft
        // 0.9 has no leadership transfer; a higher term from a caught-up node is the same).
        let successor = {
            let m = raft.metrics();
            let m = m.borrow();
            let voters: Vec<_> = m.membership_config.membership().voter_ids().collect();
            m.replication.as_ref().and_then(|r| {
                r.iter()
                    .filter(|(peer, _)| **peer != id && voters.contains(peer))
                    .max_by_key(|(_, matched)| matched.map(|l| l.index))
                    .and_then(|(peer, _)| m.membership_config.membership().get_node(peer).cloned())
            })
        };
        if let Some(peer) = successor {
            let transport = inner.transport.clone();
            let timeout = inner.config.election_timeout;
            tokio::spawn(async move {
                if let Err(e) = transport
                    .call(&peer, "campaign", bytes::Bytes::from_static(b"{}"), timeout)
                    .await
                {
                    tracing::debug!(error = %e, "raft: the successor did not take the campaign request");
                }
            });
        }
        tokio::spawn(async move {
            let deadline = Instant::now() + limit;
            let mut rx = raft.metrics();
            let _ = tokio::time::timeout_at(
                deadline.into(),
                rx.wait_for(|m| m.current_leader.is_some_and(|l| l != id)),
            )
            .await;
            raft.runtime_config().heartbeat(true);
        });
    }
}
