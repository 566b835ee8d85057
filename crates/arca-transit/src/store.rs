//! Where keys live: the mount's storage in keysutil's layout, and a bounded in-memory cache of
//! loaded keys so encryption does no storage read. Every change goes through [`Keys::update`],
//! which serializes writers, persists policy and archive in one transaction and replaces the
//! cached copy at once.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use arca_sdk::{LogicalError, Storage, StorageEntry, StorageOp};
use parking_lot::RwLock;

use crate::keyring::{Loaded, OpError};
use crate::policy::{Archive, KeyEntry, Policy};

/// Storage key of a policy.
pub fn policy_key(name: &str) -> String {
    format!("policy/{name}")
}

/// Storage key of an archive.
pub fn archive_key(name: &str) -> String {
    format!("archive/{name}")
}

impl From<OpError> for LogicalError {
    fn from(e: OpError) -> Self {
        match e {
            OpError::User(m) => LogicalError::bad_request(m),
            OpError::Internal(m) => LogicalError::internal(m),
        }
    }
}

#[derive(Default)]
struct Cache {
    map: HashMap<String, Arc<Loaded>>,
    order: VecDeque<String>,
    /// 0: unbounded.
    size: usize,
}

impl Cache {
    fn insert(&mut self, name: &str, key: Arc<Loaded>) {
        if self.map.insert(name.to_string(), key).is_none() {
            self.order.push_back(name.to_string());
        }
        while self.size > 0 && self.map.len() > self.size {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
    }

    fn remove(&mut self, name: &str) {
        if self.map.remove(name).is_some() {
            self.order.retain(|n| n != name);
        }
    }
}

/// The keys of one mount.
#[derive(Default)]
pub struct Keys {
    cache: RwLock<Cache>,
    writer: tokio::sync::Mutex<()>,
}

fn decode<T: serde::de::DeserializeOwned>(e: &StorageEntry) -> Result<T, LogicalError> {
    serde_json::from_slice(&e.value).map_err(|err| {
        LogicalError::internal(format!("failed to decode stored key {}: {err}", e.key))
    })
}

fn encode<T: serde::Serialize>(key: String, v: &T) -> Result<StorageEntry, LogicalError> {
    let bytes = serde_json::to_vec(v).map_err(LogicalError::internal)?;
    Ok(StorageEntry::new(key, bytes))
}

impl Keys {
    /// Sets the cache bound (0: unbounded), evicting as needed.
    pub fn set_cache_size(&self, size: usize) {
        let mut c = self.cache.write();
        c.size = size;
        while c.size > 0 && c.map.len() > c.size {
            match c.order.pop_front() {
                Some(old) => {
                    c.map.remove(&old);
                }
                None => break,
            }
        }
    }

    /// The cache bound.
    pub fn cache_size(&self) -> usize {
        self.cache.read().size
    }

    /// Drops a cached key (another node changed it).
    pub fn forget(&self, name: &str) {
        self.cache.write().remove(name);
    }

    /// The loaded key when it is in the cache (no storage read, no waiting).
    pub fn cached(&self, name: &str) -> Option<Arc<Loaded>> {
        self.cache.read().map.get(name).cloned()
    }

    /// The loaded key, from the cache or storage; `None` when absent.
    pub async fn get(
        &self,
        storage: &dyn Storage,
        name: &str,
    ) -> Result<Option<Arc<Loaded>>, LogicalError> {
        if let Some(k) = self.cached(name) {
            return Ok(Some(k));
        }
        let _w = self.writer.lock().await;
        if let Some(k) = self.cached(name) {
            return Ok(Some(k));
        }
        let Some(mut policy) = self.load(storage, name).await? else {
            return Ok(None);
        };
        if needs_upgrade(&policy) {
            upgrade(&mut policy)?;
            persist(storage, &mut policy).await?;
        }
        let loaded = Arc::new(Loaded::new(policy)?);
        self.cache.write().insert(name, loaded.clone());
        Ok(Some(loaded))
    }

    async fn load(
        &self,
        storage: &dyn Storage,
        name: &str,
    ) -> Result<Option<Policy>, LogicalError> {
        match storage.get(&policy_key(name)).await? {
            Some(e) => Ok(Some(decode(&e)?)),
            None => Ok(None),
        }
    }

    /// Reads the archive of a key.
    pub async fn archive(
        &self,
        storage: &dyn Storage,
        name: &str,
    ) -> Result<Archive, LogicalError> {
        match storage.get(&archive_key(name)).await? {
            Some(e) => decode(&e),
            None => Ok(Archive::default()),
        }
    }

    /// Changes a key under the writer lock: `change` gets the stored policy (`None` when absent)
    /// and returns the policy to persist (or `None` to leave storage alone) and a result. The
    /// cache holds the new policy as soon as it is stored.
    pub async fn update<R, F>(
        &self,
        storage: &dyn Storage,
        name: &str,
        change: F,
    ) -> Result<R, LogicalError>
    where
        F: FnOnce(Option<Policy>) -> Result<(Option<Policy>, R), LogicalError>,
    {
        let _w = self.writer.lock().await;
        let mut current = self.load(storage, name).await?;
        if let Some(p) = current.as_mut()
            && needs_upgrade(p)
        {
            upgrade(p)?;
        }
        let (next, out) = change(current)?;
        if let Some(mut p) = next {
            persist(storage, &mut p).await?;
            let loaded = Arc::new(Loaded::new(p)?);
            self.cache.write().insert(name, loaded);
        }
        Ok(out)
    }

    /// Writes a restored key (policy and archive as given) and caches it.
    pub async fn restore(
        &self,
        storage: &dyn Storage,
        name: &str,
        mut policy: Policy,
        archive: Archive,
        force: bool,
    ) -> Result<(), LogicalError> {
        let _w = self.writer.lock().await;
        if !force
            && (self.cache.read().map.contains_key(name)
                || self.load(storage, name).await?.is_some())
        {
            return Err(LogicalError::invalid_input(format!(
                "key {name:?} already exists"
            )));
        }
        storage.put(encode(archive_key(name), &archive)?).await?;
        persist(storage, &mut policy).await?;
        let loaded = Arc::new(Loaded::new(policy)?);
        self.cache.write().insert(name, loaded);
        Ok(())
    }

    /// Deletes a key and its archive.
    pub async fn delete(&self, storage: &dyn Storage, name: &str) -> Result<(), LogicalError> {
        let _w = self.writer.lock().await;
        self.cache.write().remove(name);
        storage
            .transaction(vec![
                StorageOp::Delete(policy_key(name)),
                StorageOp::Delete(archive_key(name)),
            ])
            .await?;
        Ok(())
    }
}

/// keysutil's `NeedsUpgrade` (the parts that apply to keys written by any recent server).
fn needs_upgrade(p: &Policy) -> bool {
    (p.latest_version == 0 && !p.keys.is_empty())
        || p.min_decryption_version == 0
        || p.archive_version == 0
        || (p.convergent_encryption && p.convergent_version == 0)
        || p.entry(p.latest_version)
            .is_none_or(|e| e.hmac_key.as_ref().is_none_or(|k| k.is_empty()))
}

fn upgrade(p: &mut Policy) -> Result<(), LogicalError> {
    if p.latest_version == 0 && !p.keys.is_empty() {
        p.latest_version = p.keys.len() as i64;
    }
    if p.min_decryption_version == 0 {
        p.min_decryption_version = 1;
    }
    if p.convergent_encryption && p.convergent_version == 0 {
        p.convergent_version = 1;
    }
    let latest = p.latest_version.to_string();
    if let Some(e) = p.keys.get_mut(&latest)
        && e.hmac_key.as_ref().is_none_or(|k| k.is_empty())
    {
        e.hmac_key = Some(crate::keyring::random_bytes(32)?);
    }
    Ok(())
}

/// keysutil's `Persist`: moves versions between the policy and the archive, then writes both
/// in one transaction.
pub async fn persist(storage: &dyn Storage, p: &mut Policy) -> Result<(), LogicalError> {
    let has_min = p.entry(p.min_decryption_version).is_some();
    if p.min_decryption_version < 1 {
        return Err(LogicalError::invalid_input(format!(
            "minimum decryption version of {} is less than 1",
            p.min_decryption_version
        )));
    }
    if p.latest_version < 1 {
        return Err(LogicalError::invalid_input(format!(
            "latest version of {} is less than 1",
            p.latest_version
        )));
    }
    if !has_min && p.archive_version != p.latest_version {
        return Err(LogicalError::invalid_input(
            "need to move keys from archive but archive version not up-to-date",
        ));
    }
    if p.archive_version > p.latest_version {
        return Err(LogicalError::invalid_input(format!(
            "archive version of {} is greater than the latest version {}",
            p.archive_version, p.latest_version
        )));
    }
    if p.min_encryption_version > 0 && p.min_encryption_version < p.min_decryption_version {
        return Err(LogicalError::invalid_input(format!(
            "minimum decryption version of {} is greater than minimum encryption version {}",
            p.min_decryption_version, p.min_encryption_version
        )));
    }
    if p.min_decryption_version > p.latest_version {
        return Err(LogicalError::invalid_input(format!(
            "minimum decryption version of {} is greater than the latest version {}",
            p.min_decryption_version, p.latest_version
        )));
    }
    let name = p.name.clone();
    let mut archive: Archive = match storage.get(&archive_key(&name)).await? {
        Some(e) => decode(&e)?,
        None => Archive::default(),
    };
    let mut ops = Vec::new();
    if !has_min {
        for i in p.min_decryption_version..=p.latest_version {
            let idx = usize::try_from(i - p.min_available_version).unwrap_or(usize::MAX);
            let Some(e) = archive.keys.get(idx) else {
                return Err(LogicalError::invalid_input(
                    "archive is missing key versions",
                ));
            };
            p.keys.insert(i.to_string(), e.clone());
        }
    } else {
        let want = usize::try_from(p.latest_version - p.min_available_version + 1).unwrap_or(0);
        if archive.keys.len() < want {
            archive.keys.resize_with(want, KeyEntry::default);
        }
        for i in (p.archive_version + 1)..=p.latest_version {
            let idx = usize::try_from(i - p.min_available_version).unwrap_or(usize::MAX);
            if let (Some(slot), Some(e)) = (archive.keys.get_mut(idx), p.entry(i)) {
                *slot = e.clone();
            }
            p.archive_version = i;
        }
        if p.archive_min_version < p.min_available_version {
            let cut = usize::try_from(p.min_available_version - p.archive_min_version).unwrap_or(0);
            archive.keys.drain(..cut.min(archive.keys.len()));
            p.archive_min_version = p.min_available_version;
        }
        ops.push(StorageOp::Put(encode(archive_key(&name), &archive)?));
        let first = p.latest_version - p.keys.len() as i64 + 1;
        for i in first..p.min_decryption_version {
            p.keys.remove(&i.to_string());
        }
    }
    ops.push(StorageOp::Put(encode(policy_key(&name), &*p)?));
    storage.transaction(ops).await?;
    Ok(())
}
