//! [`InmemBackend`]: a sorted map in memory, for dev mode, tests and benchmarks.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;

use async_trait::async_trait;
use parking_lot::RwLock;

use crate::listing::list_children;
use crate::{PhysicalBackend, StorageError, TxnOp, validate_key, validate_ops};

/// A physical backend that keeps everything in a `BTreeMap` in memory; nothing survives the
/// process. The lock is never held across an `.await`. Keys and values are kept as boxed
/// slices: no spare capacity from how the caller built them (a `format!`ed key or a grown
/// buffer can be twice its length), and 8 bytes less each than a `String` or `Vec`.
#[derive(Default)]
pub struct InmemBackend {
    entries: RwLock<BTreeMap<Box<str>, Box<[u8]>>>,
}

impl InmemBackend {
    /// An empty in-memory backend.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many keys are stored.
    pub fn len(&self) -> usize {
        self.entries.read().len()
    }

    /// Whether no key is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.read().is_empty()
    }
}

impl fmt::Debug for InmemBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values are ciphertext, but keys and values still stay out of Debug output.
        f.debug_struct("InmemBackend")
            .field("entries", &self.len())
            .finish()
    }
}

#[async_trait]
impl PhysicalBackend for InmemBackend {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.entries.read().get(key).map(|v| v.to_vec()))
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        validate_key(key)?;
        self.entries
            .write()
            .insert(key.into(), value.into_boxed_slice());
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        validate_key(key)?;
        self.entries.write().remove(key);
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.list_page(prefix, "", 0).await
    }

    async fn list_page(
        &self,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<String>, StorageError> {
        let entries = self.entries.read();
        list_children(prefix, after, limit, |from: &str| {
            Ok(entries
                .range::<str, _>((Bound::Included(from), Bound::Unbounded))
                .map(|(key, _)| Ok(&**key)))
        })
    }

    async fn transaction(&self, ops: Vec<TxnOp>) -> Result<(), StorageError> {
        // Every operation is checked before the first is applied, and all of them are applied
        // under one write lock, so readers see the batch entirely or not at all.
        validate_ops(&ops)?;
        let mut entries = self.entries.write();
        for op in ops {
            match op {
                TxnOp::Put { key, value } => {
                    entries.insert(key.into_boxed_str(), value.into_boxed_slice());
                }
                TxnOp::Delete { key } => {
                    entries.remove(key.as_str());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[tokio::test]
    async fn debug_output_hides_keys_and_values() {
        let backend = InmemBackend::new();
        backend
            .put("sys/token/abc", b"ciphertext".to_vec())
            .await
            .unwrap();
        let shown = format!("{backend:?}");
        assert_eq!(shown, "InmemBackend { entries: 1 }");
    }

    #[tokio::test]
    async fn failed_transaction_leaves_the_map_untouched() {
        let backend = InmemBackend::new();
        backend.put("keep", b"1".to_vec()).await.unwrap();
        let err = backend
            .transaction(vec![
                TxnOp::Delete { key: "keep".into() },
                TxnOp::Put {
                    key: String::new(),
                    value: vec![],
                },
            ])
            .await
            .unwrap_err();
        assert!(matches!(err, StorageError::InvalidKey(_)));
        assert_eq!(backend.len(), 1);
    }
}
