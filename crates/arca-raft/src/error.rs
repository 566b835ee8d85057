//! The errors of the Raft backend and their mapping onto [`StorageError`].

use arca_storage::StorageError;

/// What can go wrong in the Raft backend.
#[derive(Debug, thiserror::Error)]
pub enum RaftStorageError {
    /// A write or a cluster change reached a node that is not the leader.
    #[error(
        "node is not the active node (not the raft leader); current leader: {}",
        leader.as_deref().unwrap_or("unknown")
    )]
    NotLeader {
        /// The leader's cluster address, when known.
        leader: Option<String>,
    },
    /// A write is larger than `max_entry_size` allows.
    #[error("put failed due to value being too large; got {size} bytes, max: {max} bytes")]
    TooLarge {
        /// The encoded size of the write.
        size: usize,
        /// The limit.
        max: u64,
    },
    /// The configuration is invalid.
    #[error("invalid raft configuration: {0}")]
    Config(String),
    /// Local storage (the log, the state machine, a snapshot file) failed.
    #[error("raft storage: {0}")]
    Storage(String),
    /// A peer could not be reached or answered garbage.
    #[error("raft network: {0}")]
    Network(String),
    /// openraft refused or failed an operation.
    #[error("raft: {0}")]
    Raft(String),
    /// A snapshot could not be read.
    #[error("invalid raft snapshot: {0}")]
    Snapshot(String),
    /// Waiting for something took too long.
    #[error("timed out {0}")]
    Timeout(String),
    /// The cluster is in a state that does not allow the operation.
    #[error("{0}")]
    Invalid(String),
}

impl From<RaftStorageError> for StorageError {
    fn from(e: RaftStorageError) -> Self {
        match e {
            RaftStorageError::Config(m) => StorageError::Config(m),
            other => StorageError::Backend(other.to_string()),
        }
    }
}

impl From<StorageError> for RaftStorageError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Config(m) => RaftStorageError::Config(m),
            other => RaftStorageError::Storage(other.to_string()),
        }
    }
}

/// An openraft storage error carrying `msg`.
pub(crate) fn sto_err(msg: impl std::fmt::Display) -> openraft::StorageError<u64> {
    openraft::StorageError::IO {
        source: openraft::StorageIOError::write(openraft::AnyError::error(msg.to_string())),
    }
}
