//! Namespaces with a seal of their own (OpenBao's sealable namespaces): a namespace created
//! with a Shamir `seal` stanza gets a key of its own, and everything under its storage prefix
//! is encrypted a second time with it, inside the barrier's encryption. The key is stored
//! encrypted by an unseal key that exists only as the shares handed out at creation; while the
//! namespace is sealed the barrier refuses its values (`namespace is sealed`) and requests to
//! it get 503.
//!
//! Storage (root barrier, outside the namespace's prefix so it stays readable while sealed):
//! `core/namespace-seals/<uuid>/config` (shares, threshold) and `…/key` (the namespace key,
//! AES-256-GCM under the unseal key). All namespaces with a seal start sealed at every unseal
//! of the server.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arc_swap::ArcSwap;
use arca_barrier::shamir;
use arca_barrier::{Barrier, BarrierError, TermCipher, generate_key};
use arca_sdk::storage::StorageExt;
use arca_sdk::{LogicalError, Storage, StorageEntry};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::namespaces::Namespace;

/// Version marker of a stored namespace seal config.
const NS_SEAL_VERSION: u32 = 1;
/// The term of the namespace key's record (encrypted straight by the unseal key).
const KEY_TERM: u32 = 0;

/// A namespace's seal settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NamespaceSealConfig {
    /// Version marker.
    pub version: u32,
    /// How many shares the unseal key was split into.
    pub shares: usize,
    /// How many of them unseal.
    pub threshold: usize,
}

/// Shares handed in so far for one namespace.
#[derive(Default)]
struct Progress {
    nonce: String,
    shares: Vec<Zeroizing<Vec<u8>>>,
}

/// The seals of every sealable namespace.
pub struct NamespaceSeals {
    barrier: Arc<Barrier>,
    /// The whole barrier.
    storage: Arc<dyn Storage>,
    /// Paths of the namespaces sealed now (the pipeline's check; usually empty).
    sealed: ArcSwap<HashSet<String>>,
    progress: Mutex<HashMap<String, Progress>>,
}

fn config_key(ns: &Namespace) -> String {
    format!("core/namespace-seals/{}/config", ns.uuid)
}

fn key_key(ns: &Namespace) -> String {
    format!("core/namespace-seals/{}/key", ns.uuid)
}

fn barrier_failure(e: BarrierError) -> LogicalError {
    match e {
        BarrierError::InvalidKey | BarrierError::Decrypt => {
            LogicalError::bad_request("Unseal failed, invalid key")
        }
        other => LogicalError::internal(other),
    }
}

impl NamespaceSeals {
    /// No namespace sealed separately yet.
    pub fn new(barrier: Arc<Barrier>, storage: Arc<dyn Storage>) -> NamespaceSeals {
        NamespaceSeals {
            barrier,
            storage,
            sealed: ArcSwap::from_pointee(HashSet::new()),
            progress: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `path` is a sealed namespace or lies below one.
    pub fn sealed_at(&self, path: &str) -> bool {
        let sealed = self.sealed.load();
        !sealed.is_empty() && sealed.iter().any(|p| path.starts_with(p.as_str()))
    }

    /// Whether `ns` itself is sealed now.
    pub fn is_sealed(&self, ns: &Namespace) -> bool {
        self.sealed.load().contains(&ns.path)
    }

    fn mark(&self, path: &str, sealed: bool) {
        self.sealed.rcu(|old| {
            let mut s = (**old).clone();
            if sealed {
                s.insert(path.to_string());
            } else {
                s.remove(path);
            }
            s
        });
    }

    /// Gives `ns` a seal: a fresh namespace key (in force at once: the namespace is unsealed)
    /// and an unseal key split into `shares` hex shares, `threshold` of which unseal it.
    pub async fn create(
        &self,
        ns: &Namespace,
        shares: usize,
        threshold: usize,
    ) -> Result<Vec<String>, LogicalError> {
        let unseal_key = generate_key().map_err(LogicalError::internal)?;
        let ns_key = generate_key().map_err(LogicalError::internal)?;
        let parts: Vec<Zeroizing<Vec<u8>>> = if shares == 1 {
            vec![unseal_key.clone()]
        } else {
            shamir::split(&unseal_key, shares, threshold)
                .map_err(|e| LogicalError::bad_request(format!("invalid seal config: {e}")))?
        };
        let cipher = TermCipher::new(KEY_TERM, &unseal_key).map_err(LogicalError::internal)?;
        let sealed_key = cipher
            .encrypt(key_key(ns).as_bytes(), &ns_key)
            .map_err(LogicalError::internal)?;
        self.storage
            .put_json(
                &config_key(ns),
                &NamespaceSealConfig {
                    version: NS_SEAL_VERSION,
                    shares,
                    threshold,
                },
            )
            .await?;
        self.storage
            .put(StorageEntry::new(key_key(ns), sealed_key))
            .await?;
        self.barrier
            .set_prefix_seal(&ns.storage_prefix(), Some(&ns_key))
            .map_err(LogicalError::internal)?;
        self.mark(&ns.path, false);
        Ok(parts.iter().map(hex::encode).collect())
    }

    /// The seal settings of `ns`, `None` when it has no seal of its own.
    pub async fn config(
        &self,
        ns: &Namespace,
    ) -> Result<Option<NamespaceSealConfig>, LogicalError> {
        self.storage.get_json(&config_key(ns)).await
    }

    /// Seals `ns` now: its values are refused until it is unsealed.
    pub fn seal(&self, ns: &Namespace) -> Result<(), LogicalError> {
        self.barrier
            .set_prefix_seal(&ns.storage_prefix(), None)
            .map_err(LogicalError::internal)?;
        self.mark(&ns.path, true);
        self.progress.lock().remove(&ns.uuid);
        Ok(())
    }

    /// Adds one share; unseals `ns` when the threshold is reached. Answers as
    /// `sys/namespaces/<p>/seal-status`, and whether this share unsealed it.
    pub async fn submit(
        &self,
        ns: &Namespace,
        share: Zeroizing<Vec<u8>>,
    ) -> Result<(Value, bool), LogicalError> {
        let config = self
            .config(ns)
            .await?
            .ok_or_else(|| LogicalError::bad_request("namespace is not sealable"))?;
        if !self.is_sealed(ns) {
            return Ok((self.status_json(ns, &config), false));
        }
        let ready = {
            let mut progress = self.progress.lock();
            let p = progress.entry(ns.uuid.clone()).or_default();
            if p.nonce.is_empty() {
                p.nonce = uuid::Uuid::new_v4().to_string();
            }
            let dup = p.shares.iter().any(|s| {
                s.len() == share.len() && bool::from(s.as_slice().ct_eq(share.as_slice()))
            });
            if !dup {
                p.shares.push(share);
            }
            if p.shares.len() < config.threshold {
                None
            } else {
                progress.remove(&ns.uuid).map(|p| p.shares)
            }
        };
        let Some(shares) = ready else {
            return Ok((self.status_json(ns, &config), false));
        };
        let unseal_key = if config.shares == 1 {
            shares.into_iter().next().unwrap_or_default()
        } else {
            let refs: Vec<&[u8]> = shares.iter().map(|s| s.as_slice()).collect();
            shamir::combine(&refs)
                .map_err(|_| LogicalError::bad_request("Unseal failed, invalid key"))?
        };
        let Some(sealed_key) = self.storage.get(&key_key(ns)).await? else {
            return Err(LogicalError::internal("namespace key record missing"));
        };
        let cipher = TermCipher::new(KEY_TERM, &unseal_key).map_err(barrier_failure)?;
        let ns_key = cipher
            .decrypt(key_key(ns).as_bytes(), sealed_key.value.to_vec())
            .map_err(barrier_failure)?;
        self.barrier
            .set_prefix_seal(&ns.storage_prefix(), Some(&ns_key))
            .map_err(LogicalError::internal)?;
        self.mark(&ns.path, false);
        Ok((self.status_json(ns, &config), true))
    }

    /// Discards the shares handed in so far for `ns`.
    pub fn reset(&self, ns: &Namespace) {
        self.progress.lock().remove(&ns.uuid);
    }

    /// `sys/namespaces/<p>/seal-status` of a sealable namespace.
    pub async fn status(&self, ns: &Namespace) -> Result<Option<Value>, LogicalError> {
        Ok(self
            .config(ns)
            .await?
            .map(|config| self.status_json(ns, &config)))
    }

    fn status_json(&self, ns: &Namespace, config: &NamespaceSealConfig) -> Value {
        let progress = self.progress.lock();
        let (n, nonce) = progress
            .get(&ns.uuid)
            .map_or((0, String::new()), |p| (p.shares.len(), p.nonce.clone()));
        json!({
            "type": "shamir",
            "initialized": true,
            "sealed": self.is_sealed(ns),
            "t": config.threshold,
            "n": config.shares,
            "progress": n,
            "nonce": nonce,
        })
    }

    /// Puts `ns` in the sealed state (at the server's unseal).
    pub fn start_sealed(&self, ns: &Namespace) -> Result<(), LogicalError> {
        self.seal(ns)
    }

    /// Forgets every namespace's state (the server seals; the barrier drops their keys).
    pub fn teardown(&self) {
        self.sealed.store(Arc::new(HashSet::new()));
        self.progress.lock().clear();
    }

    /// Removes `ns`'s seal and its records (the namespace is deleted).
    pub async fn forget(&self, ns: &Namespace) -> Result<(), LogicalError> {
        self.storage.delete(&config_key(ns)).await?;
        self.storage.delete(&key_key(ns)).await?;
        self.barrier.remove_prefix_seal(&ns.storage_prefix());
        self.mark(&ns.path, false);
        self.progress.lock().remove(&ns.uuid);
        Ok(())
    }
}
