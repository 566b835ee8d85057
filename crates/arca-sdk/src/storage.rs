//! The storage a backend sees: plaintext entries under its own mount's prefix. The core
//! implements it over the barrier, so everything a backend writes is encrypted at rest.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::LogicalError;

/// Why a storage call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The core is sealed.
    #[error("Vault is sealed")]
    Sealed,
    /// The key is not acceptable.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// The backend storage failed.
    #[error("storage error: {0}")]
    Backend(String),
    /// The view is read-only (e.g. a standby).
    #[error("cannot write to readonly storage")]
    ReadOnly,
}

impl From<StorageError> for LogicalError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Sealed => LogicalError::Sealed,
            other => LogicalError::internal(other),
        }
    }
}

/// One stored entry.
#[derive(Clone, Default)]
pub struct StorageEntry {
    /// The key, relative to the view.
    pub key: String,
    /// The value (plaintext inside the barrier: zeroized on drop).
    pub value: Zeroizing<Vec<u8>>,
    /// Whether the entry asks for seal wrapping.
    pub seal_wrap: bool,
}

impl std::fmt::Debug for StorageEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageEntry")
            .field("key", &self.key)
            .field("len", &self.value.len())
            .finish()
    }
}

impl StorageEntry {
    /// An entry holding raw bytes.
    pub fn new(key: impl Into<String>, value: Vec<u8>) -> StorageEntry {
        StorageEntry {
            key: key.into(),
            value: Zeroizing::new(value),
            seal_wrap: false,
        }
    }

    /// An entry holding `value` serialized as JSON.
    pub fn json<T: Serialize>(
        key: impl Into<String>,
        value: &T,
    ) -> Result<StorageEntry, LogicalError> {
        let bytes = serde_json::to_vec(value).map_err(LogicalError::internal)?;
        Ok(StorageEntry::new(key, bytes))
    }

    /// Decodes the value as JSON.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, LogicalError> {
        serde_json::from_slice(&self.value).map_err(|e| {
            LogicalError::internal(format!("failed to decode entry {:?}: {e}", self.key))
        })
    }
}

/// One write inside a [`Storage::transaction`].
#[derive(Debug, Clone)]
pub enum StorageOp {
    /// Write an entry.
    Put(StorageEntry),
    /// Delete a key (absent is fine).
    Delete(String),
}

/// For `#[serde(skip_serializing_if = "is_default")]` on a stored entry's fields that also
/// carry `#[serde(default)]`: a field at its default value is left out of what is written
/// (and read back as that default), so entries cost less storage and memory.
pub fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// The storage interface handed to backends.
#[async_trait]
pub trait Storage: Send + Sync {
    /// Reads `key`, `None` when absent.
    async fn get(&self, key: &str) -> Result<Option<StorageEntry>, StorageError>;
    /// Writes an entry.
    async fn put(&self, entry: StorageEntry) -> Result<(), StorageError>;
    /// Deletes `key` (absent is fine).
    async fn delete(&self, key: &str) -> Result<(), StorageError>;
    /// Lists immediate children of `prefix` (`"dir/"` for deeper keys), sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError>;
    /// Applies every write together: all of them or none where the storage below can, in order
    /// otherwise. Views over the barrier commit them as one physical transaction (one fsync).
    async fn transaction(&self, ops: Vec<StorageOp>) -> Result<(), StorageError> {
        for op in ops {
            match op {
                StorageOp::Put(e) => self.put(e).await?,
                StorageOp::Delete(k) => self.delete(&k).await?,
            }
        }
        Ok(())
    }
    /// Lists at most `limit` children after `after`.
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
}

/// Typed helpers over any [`Storage`].
#[async_trait]
pub trait StorageExt {
    /// Reads and decodes a JSON entry.
    async fn get_json<T: DeserializeOwned + Send>(
        &self,
        key: &str,
    ) -> Result<Option<T>, LogicalError>;
    /// Encodes and writes a JSON entry.
    async fn put_json<T: Serialize + Sync>(&self, key: &str, value: &T)
    -> Result<(), LogicalError>;
}

#[async_trait]
impl<S: Storage + ?Sized> StorageExt for S {
    async fn get_json<T: DeserializeOwned + Send>(
        &self,
        key: &str,
    ) -> Result<Option<T>, LogicalError> {
        match self.get(key).await? {
            Some(e) => Ok(Some(e.decode()?)),
            None => Ok(None),
        }
    }

    async fn put_json<T: Serialize + Sync>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), LogicalError> {
        self.put(StorageEntry::json(key, value)?).await?;
        Ok(())
    }
}

/// A view of another storage under a fixed key prefix.
pub struct PrefixedStorage {
    inner: Arc<dyn Storage>,
    prefix: String,
}

impl PrefixedStorage {
    /// Wraps `inner` so that every key gets `prefix` in front.
    pub fn new(inner: Arc<dyn Storage>, prefix: impl Into<String>) -> PrefixedStorage {
        PrefixedStorage {
            inner,
            prefix: prefix.into(),
        }
    }
}

#[async_trait]
impl Storage for PrefixedStorage {
    async fn get(&self, key: &str) -> Result<Option<StorageEntry>, StorageError> {
        let mut e = self.inner.get(&format!("{}{key}", self.prefix)).await?;
        if let Some(e) = e.as_mut() {
            e.key = key.to_string();
        }
        Ok(e)
    }
    async fn put(&self, mut entry: StorageEntry) -> Result<(), StorageError> {
        entry.key = format!("{}{}", self.prefix, entry.key);
        self.inner.put(entry).await
    }
    async fn transaction(&self, ops: Vec<StorageOp>) -> Result<(), StorageError> {
        let ops = ops
            .into_iter()
            .map(|op| match op {
                StorageOp::Put(mut e) => {
                    e.key = format!("{}{}", self.prefix, e.key);
                    StorageOp::Put(e)
                }
                StorageOp::Delete(k) => StorageOp::Delete(format!("{}{k}", self.prefix)),
            })
            .collect();
        self.inner.transaction(ops).await
    }
    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.inner.delete(&format!("{}{key}", self.prefix)).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.inner.list(&format!("{}{prefix}", self.prefix)).await
    }
    async fn list_page(
        &self,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<String>, StorageError> {
        self.inner
            .list_page(&format!("{}{prefix}", self.prefix), after, limit)
            .await
    }
}

/// An in-memory [`Storage`] for backend unit tests.
#[derive(Default)]
pub struct MemoryStorage {
    map: std::sync::RwLock<std::collections::BTreeMap<String, Zeroizing<Vec<u8>>>>,
}

impl MemoryStorage {
    /// An empty store.
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }
}

#[async_trait]
impl Storage for MemoryStorage {
    async fn get(&self, key: &str) -> Result<Option<StorageEntry>, StorageError> {
        let map = self
            .map
            .read()
            .map_err(|_| StorageError::Backend("poisoned".into()))?;
        Ok(map.get(key).map(|v| StorageEntry {
            key: key.to_string(),
            value: v.clone(),
            seal_wrap: false,
        }))
    }
    async fn put(&self, entry: StorageEntry) -> Result<(), StorageError> {
        if entry.key.is_empty() {
            return Err(StorageError::InvalidKey("empty key".into()));
        }
        let mut map = self
            .map
            .write()
            .map_err(|_| StorageError::Backend("poisoned".into()))?;
        map.insert(entry.key, entry.value);
        Ok(())
    }
    async fn transaction(&self, ops: Vec<StorageOp>) -> Result<(), StorageError> {
        if ops
            .iter()
            .any(|op| matches!(op, StorageOp::Put(e) if e.key.is_empty()))
        {
            return Err(StorageError::InvalidKey("empty key".into()));
        }
        let mut map = self
            .map
            .write()
            .map_err(|_| StorageError::Backend("poisoned".into()))?;
        for op in ops {
            match op {
                StorageOp::Put(e) => {
                    map.insert(e.key, e.value);
                }
                StorageOp::Delete(k) => {
                    map.remove(&k);
                }
            }
        }
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let mut map = self
            .map
            .write()
            .map_err(|_| StorageError::Backend("poisoned".into()))?;
        map.remove(key);
        Ok(())
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let map = self
            .map
            .read()
            .map_err(|_| StorageError::Backend("poisoned".into()))?;
        let mut out: Vec<String> = Vec::new();
        for k in map.range(prefix.to_string()..).map(|(k, _)| k) {
            let Some(rest) = k.strip_prefix(prefix) else {
                break;
            };
            let child = match rest.find('/') {
                Some(i) => &rest[..=i],
                None => rest,
            };
            if out.last().map(String::as_str) != Some(child) {
                out.push(child.to_string());
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_and_prefix_views() {
        let mem: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let view = PrefixedStorage::new(mem.clone(), "logical/abc/");
        view.put(StorageEntry::new("a", b"1".to_vec()))
            .await
            .unwrap();
        view.put(StorageEntry::new("d/x", b"2".to_vec()))
            .await
            .unwrap();
        view.put(StorageEntry::new("d/y", b"3".to_vec()))
            .await
            .unwrap();
        assert_eq!(view.list("").await.unwrap(), vec!["a", "d/"]);
        assert_eq!(mem.list("logical/").await.unwrap(), vec!["abc/"]);
        let e = view.get("d/x").await.unwrap().unwrap();
        assert_eq!(e.key, "d/x");
        assert_eq!(&*e.value, b"2");
        view.delete("a").await.unwrap();
        assert!(view.get("a").await.unwrap().is_none());
        view.put_json("j", &serde_json::json!({"k": 1}))
            .await
            .unwrap();
        let v: serde_json::Value = view.get_json("j").await.unwrap().unwrap();
        assert_eq!(v["k"], 1);
    }

    #[tokio::test]
    async fn transactions_apply_all_or_nothing() {
        let mem: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let view = PrefixedStorage::new(mem.clone(), "v/");
        view.put(StorageEntry::new("old", b"1".to_vec()))
            .await
            .unwrap();
        view.transaction(vec![
            StorageOp::Put(StorageEntry::new("a", b"2".to_vec())),
            StorageOp::Delete("old".into()),
        ])
        .await
        .unwrap();
        assert_eq!(mem.list("v/").await.unwrap(), vec!["a"]);
        let bare = mem
            .transaction(vec![
                StorageOp::Put(StorageEntry::new("c", b"3".to_vec())),
                StorageOp::Put(StorageEntry::new("", b"x".to_vec())),
            ])
            .await;
        assert!(bare.is_err());
        assert!(
            mem.get("c").await.unwrap().is_none(),
            "a failed transaction applies nothing"
        );
    }
}
