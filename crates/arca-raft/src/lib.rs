//! Integrated storage (Raft) for Arca: OpenBao's `storage "raft"` backend, built on
//! `openraft`. Every node keeps a full copy of the data; writes go through the leader's
//! replicated log, reads are served from the node's own copy.
//!
//! # Configuration (`storage "raft" { ... }`, see [`RaftConfig::from_map`])
//!
//! | key | default | meaning |
//! | --- | --- | --- |
//! | `path` | (required) | data directory (0700; files in it 0600) |
//! | `node_id` | contents of `<path>/node-id`, a UUID written at first start | this node's id |
//! | `performance_multiplier` | 5 | scales the timings: election timeout 1 s × m (randomised up to 2×), heartbeats every 100 ms × m |
//! | `snapshot_threshold` | 8192 | committed entries after which a snapshot is taken and the log compacted |
//! | `trailing_logs` | 10000 | entries kept in the log behind the snapshot (a follower further behind gets the snapshot) |
//! | `max_entry_size` | 1048576 | largest encoded single write; larger ones fail with "value being too large" (a transaction may be 8× larger) |
//!
//! The server parses `retry_join` itself and calls [`RaftNode::join`]. Tests (and operators
//! who need it) can set the derived timings and `apply_timeout` (how long a write waits to be
//! committed, 30 s) on [`RaftConfig`] directly.
//!
//! # Durability
//!
//! The log and the vote live in `raft.db`, the state machine (key/value data, last applied log
//! id, last membership, HA lock record) in `fsm.db`, both redb files; the current snapshot is
//! `snapshot.bin`. Every log append is committed with `Durability::Immediate` (fsync) before it
//! is acknowledged, so a write returns success only once it is on disk on a quorum of nodes
//! (and applied on the leader). Each applied batch is one durable commit of the state machine.
//!
//! # Reads, writes and consistency
//!
//! [`RaftNode`] implements [`arca_storage::PhysicalBackend`]: reads come from this node's
//! state machine (a standby reads its own copy); writes are proposed through openraft's
//! `client_write` and return once committed and applied; on a follower they fail with
//! "node is not the active node" (the core forwards requests to the active node). Each write
//! reports the log index it was applied at ([`RaftNode::put_indexed`],
//! [`RaftNode::last_write_index`]); [`RaftNode::wait_for_index`] waits until this node has
//! applied an index (for `X-Vault-Index`).
//!
//! # High availability
//!
//! [`RaftNode`] implements [`arca_storage::HaBackend`]: the lock belongs to the Raft leader.
//! `acquire` waits for leadership and writes the lock record through Raft; the lock is lost as
//! soon as the node stops being leader of that term or its quorum lease (half the election
//! timeout) runs out, which happens before a majority can elect another leader. See [`ha`]'s
//! module documentation for `release`.
//!
//! # Network
//!
//! Nodes exchange the RPCs (`append_entries`, `vote`, `install_snapshot`, `full_snapshot`,
//! `join`) as JSON over HTTP/1.1 with mutual TLS ([`RaftTls`]); [`RaftNode::handle_rpc`]
//! answers one, [`serve`] runs a standalone listener, and a [`Transport`] sends them. Any
//! holder of a certificate from the cluster CA may ask to `join`: the CA is the cluster's
//! trust boundary, as Vault's cluster certificates are.
//!
//! # Membership
//!
//! [`RaftNode::bootstrap`] starts a one-node cluster; [`RaftNode::join`] (on the new node) or
//! [`RaftNode::add_voter`] (on the leader) adds a learner, waits until it caught up and
//! promotes it at once (no autopilot stabilisation time); [`RaftNode::remove_peer`] removes a
//! voter or learner other than the leader. A node must be stopped with
//! [`RaftNode::shutdown`]: dropping the handle leaves openraft's tasks running.

mod cluster;
mod config;
mod error;
pub mod ha;
mod log_store;
mod network;
mod node;
mod perms;
mod snapshot;
mod state_machine;
mod tls;
mod types;

pub use cluster::ServerInfo;
pub use config::{
    DEFAULT_MAX_ENTRY_SIZE, DEFAULT_PERFORMANCE_MULTIPLIER, DEFAULT_SNAPSHOT_THRESHOLD,
    DEFAULT_TRAILING_LOGS, NODE_ID_FILE, RaftConfig,
};
pub use error::RaftStorageError;
pub use log_store::LOG_FILE;
pub use network::{
    FaultTransport, Faults, RPC_PATH, RpcServer, SwappableTransport, TlsTransport, Transport,
    TransportError, serve, serve_connection,
};
pub use node::RaftNode;
pub use state_machine::{FSM_FILE, SNAPSHOT_FILE};
pub use tls::{ALPN, RaftTls};
pub use types::{PeerNode, raft_id};
