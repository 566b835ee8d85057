//! Physical storage for Arca: one async trait that every backend implements.
//!
//! Everything that reaches a physical backend has already been encrypted by the barrier,
//! so backends store opaque bytes keyed by path and never see plaintext.
//!
//! Backends: [`InmemBackend`] (dev mode, tests) and [`FileBackend`] (the durable embedded
//! default, a `redb` database). [`open_backend`] builds one from a config stanza such as
//! `storage "file" { path = "DIR" }`. Every backend is held to the same behaviour by the suite in
//! `conformance`, compiled only with the `test-support` feature (the crate's own tests enable it
//! through its dev-dependencies), so it is not part of the production library.

use async_trait::async_trait;

#[cfg(feature = "test-support")]
pub mod conformance;
mod factory;
mod file;
mod ha;
mod inmem;
mod listing;
mod perms;

pub use factory::open_backend;
pub use file::{DB_FILE_NAME, FileBackend};
pub use ha::{HaBackend, HeldLock, InmemHaLock};
pub use inmem::InmemBackend;

/// Errors a physical backend can return.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The underlying store failed (I/O, database, corruption).
    #[error("storage backend error: {0}")]
    Backend(String),
    /// The backend's configuration is invalid.
    #[error("invalid storage configuration: {0}")]
    Config(String),
    /// A key is not acceptable (empty, too long, ...).
    #[error("invalid storage key: {0}")]
    InvalidKey(String),
}

/// One operation inside an atomic batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnOp {
    /// Write `value` at `key`.
    Put {
        /// The storage key.
        key: String,
        /// The opaque value.
        value: Vec<u8>,
    },
    /// Remove `key` (no error when absent).
    Delete {
        /// The storage key.
        key: String,
    },
}

/// A physical storage backend: opaque bytes keyed by `/`-separated paths.
#[async_trait]
pub trait PhysicalBackend: Send + Sync + 'static {
    /// Reads the value at `key`, `None` when absent.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError>;
    /// Writes `value` at `key`; durable backends return only once the write is on disk.
    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError>;
    /// Removes `key`; removing an absent key is not an error.
    async fn delete(&self, key: &str) -> Result<(), StorageError>;
    /// Lists the immediate children of `prefix`, Vault-style: a key `prefix + "a"` appears as
    /// `"a"`, any deeper key `prefix + "d/x"` appears once as `"d/"`. Sorted, no duplicates.
    ///
    /// `prefix` is matched as a plain string prefix (callers pass `""` or a path ending in `/`);
    /// a key equal to `prefix` itself is not one of its children.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError>;
    /// Like [`PhysicalBackend::list`] but only entries sorting strictly after `after`
    /// (when non-empty), at most `limit` of them (when `limit > 0`).
    async fn list_page(
        &self,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<String>, StorageError> {
        let all = self.list(prefix).await?;
        let it = all
            .into_iter()
            .filter(|k| after.is_empty() || k.as_str() > after);
        Ok(if limit > 0 {
            it.take(limit).collect()
        } else {
            it.collect()
        })
    }
    /// Applies every operation atomically: all of them or none.
    async fn transaction(&self, ops: Vec<TxnOp>) -> Result<(), StorageError>;
}

/// Checks that `key` may be written: the empty key is refused with [`StorageError::InvalidKey`].
///
/// Every backend calls this for `put`, `delete` and each operation of a `transaction`.
pub fn validate_key(key: &str) -> Result<(), StorageError> {
    if key.is_empty() {
        return Err(StorageError::InvalidKey("key must not be empty".to_owned()));
    }
    Ok(())
}

/// Checks every operation of a batch with [`validate_key`] before any of it is applied.
pub fn validate_ops(ops: &[TxnOp]) -> Result<(), StorageError> {
    ops.iter().try_for_each(|op| validate_key(op.key()))
}

impl TxnOp {
    /// The key this operation touches.
    pub fn key(&self) -> &str {
        match self {
            TxnOp::Put { key, .. } | TxnOp::Delete { key } => key,
        }
    }
}
