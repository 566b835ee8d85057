//! Storage views: the barrier seen through a key prefix, which is all a backend ever gets.

use std::sync::Arc;

use arca_barrier::{Barrier, BarrierError, BarrierOp};
use arca_sdk::{LogicalError, Storage, StorageEntry, StorageError, StorageOp};
use async_trait::async_trait;

/// A barrier failure as the API answers it: sealed is 503, anything else a 500.
pub(crate) fn barrier_err(e: BarrierError) -> LogicalError {
    match e {
        BarrierError::Sealed => LogicalError::Sealed,
        other => LogicalError::internal(other),
    }
}

fn map_err(e: BarrierError) -> StorageError {
    match e {
        BarrierError::Sealed => StorageError::Sealed,
        other => StorageError::Backend(other.to_string()),
    }
}

/// Checks a backend-supplied key cannot climb out of its view.
fn check_key(key: &str) -> Result<(), StorageError> {
    if key.split('/').any(|s| s == "..") || key.starts_with('/') {
        return Err(StorageError::InvalidKey(
            "key may not contain '..' segments or start with '/'".into(),
        ));
    }
    Ok(())
}

/// The barrier under a fixed prefix.
pub struct BarrierView {
    barrier: Arc<Barrier>,
    prefix: String,
}

impl BarrierView {
    /// A view of `barrier` under `prefix`.
    pub fn new(barrier: Arc<Barrier>, prefix: impl Into<String>) -> BarrierView {
        BarrierView {
            barrier,
            prefix: prefix.into(),
        }
    }

    fn full(&self, key: &str) -> Result<String, StorageError> {
        check_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }

    /// Deletes every key under the view (used when a mount is disabled).
    pub async fn clear(&self) -> Result<(), StorageError> {
        let mut stack = vec![String::new()];
        while let Some(dir) = stack.pop() {
            for k in self.list(&dir).await? {
                let key = format!("{dir}{k}");
                if k.ends_with('/') {
                    stack.push(key);
                } else {
                    self.delete(&key).await?;
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Storage for BarrierView {
    async fn get(&self, key: &str) -> Result<Option<StorageEntry>, StorageError> {
        let full = self.full(key)?;
        Ok(self
            .barrier
            .get(&full)
            .await
            .map_err(map_err)?
            .map(|value| StorageEntry {
                key: key.to_string(),
                value,
                seal_wrap: false,
            }))
    }

    async fn put(&self, entry: StorageEntry) -> Result<(), StorageError> {
        if entry.key.is_empty() {
            return Err(StorageError::InvalidKey("empty key".into()));
        }
        let full = self.full(&entry.key)?;
        self.barrier.put(&full, &entry.value).await.map_err(map_err)
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let full = self.full(key)?;
        self.barrier.delete(&full).await.map_err(map_err)
    }

    async fn transaction(&self, ops: Vec<StorageOp>) -> Result<(), StorageError> {
        let mut out = Vec::with_capacity(ops.len());
        for op in ops {
            out.push(match op {
                StorageOp::Put(e) => {
                    if e.key.is_empty() {
                        return Err(StorageError::InvalidKey("empty key".into()));
                    }
                    BarrierOp::Put {
                        key: self.full(&e.key)?,
                        value: e.value,
                    }
                }
                StorageOp::Delete(k) => BarrierOp::Delete {
                    key: self.full(&k)?,
                },
            });
        }
        self.barrier.transaction(out).await.map_err(map_err)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let full = self.full(prefix)?;
        self.barrier.list(&full).await.map_err(map_err)
    }

    async fn list_page(
        &self,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<String>, StorageError> {
        let full = self.full(prefix)?;
        self.barrier
            .list_page(&full, after, limit)
            .await
            .map_err(map_err)
    }
}
