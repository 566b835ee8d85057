//! The Raft type configuration: what a log entry carries, what applying it answers, and
//! what a cluster member is.

use std::fmt;
use std::io::Cursor;

use serde::{Deserialize, Serialize};

openraft::declare_raft_types!(
    /// Arca's openraft type configuration.
    pub TypeConfig:
        D = Command,
        R = CommandResponse,
        NodeId = u64,
        Node = PeerNode,
        SnapshotData = Cursor<Vec<u8>>,
);

/// The openraft id of a node, derived from its (Vault-style, string) node id.
pub type RaftId = u64;

/// A cluster member as recorded in the Raft membership.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerNode {
    /// The operator-facing node id (`node_id`, a UUID by default).
    pub name: String,
    /// The cluster address (`host:port`) its RPC listener serves on.
    pub addr: String,
}

impl fmt::Display for PeerNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.addr)
    }
}

/// Maps a node id string onto openraft's numeric id (64-bit FNV-1a: stable across
/// processes and versions, unlike `std`'s hasher).
pub fn raft_id(name: &str) -> RaftId {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.as_bytes() {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// One storage operation inside a replicated command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Write `value` at `key`.
    Put {
        /// The storage key.
        key: String,
        /// The opaque value.
        #[serde(with = "b64")]
        value: Vec<u8>,
    },
    /// Remove `key`.
    Delete {
        /// The storage key.
        key: String,
    },
}

/// The HA lock record, replicated so that every node can read the active node's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HaRecord {
    /// The value the active node published.
    pub holder: String,
    /// The node id of the leader that wrote it.
    pub node_id: String,
    /// The Raft term it was written in.
    pub term: u64,
}

/// What one log entry asks the state machine to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Apply these operations atomically.
    Txn {
        /// The operations, in order.
        ops: Vec<Op>,
    },
    /// Set (or clear) the HA lock record.
    SetHaLock {
        /// The new record.
        record: Option<HaRecord>,
    },
    /// Replace all key/value data with these pairs (snapshot restore).
    Restore {
        /// Every pair of the restored data set.
        pairs: Vec<Pair>,
    },
}

/// One key/value pair of a restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    /// The storage key.
    pub key: String,
    /// The value.
    #[serde(with = "b64")]
    pub value: Vec<u8>,
}

/// What applying an entry answers: the log index it was applied at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandResponse {
    /// The index of the applied entry.
    pub index: u64,
}

/// Byte strings as base64 in the JSON encoding of entries and RPCs.
pub(crate) mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raft_id_is_stable() {
        assert_eq!(raft_id(""), 0xcbf2_9ce4_8422_2325);
        assert_ne!(raft_id("node-1"), raft_id("node-2"));
        assert_eq!(raft_id("node-1"), raft_id("node-1"));
    }
}
