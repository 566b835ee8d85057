//! The barrier: an encrypting view of a physical backend, and its seal state.
//!
//! While sealed the barrier holds no key material and its data API answers
//! [`BarrierError::Sealed`]. Unsealing decrypts the keyring at [`KEYRING_PATH`] with the root
//! key and prepares one AES-256-GCM key per term. The unsealed state sits behind an
//! [`ArcSwapOption`], so the data path takes a lock-free snapshot, never holds anything across
//! an `.await`, and sealing simply swaps the state out (its keys are wiped when the last
//! reader drops it).
//!
//! The keyring record is encrypted under the root key with term 0 (data keys start at 1) and
//! the associated data `core/keyring`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use arc_swap::{ArcSwap, ArcSwapOption};
use arca_storage::{PhysicalBackend, TxnOp};
use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use crate::aead::{TermCipher, blob_term};
use crate::error::BarrierError;
use crate::keyring::{Keyring, key_array};
use crate::seal_keys::{ROOT_KEY_PATH, SEAL_CONFIG_PATH};

/// Where the keyring is stored in physical storage (encrypted by the root key).
pub const KEYRING_PATH: &str = "core/keyring";

/// The term used for records encrypted directly by the root key (or the unseal key).
pub(crate) const ROOT_TERM: u32 = 0;

/// Facts about the active key term, as `sys/key-status` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyInfo {
    /// The active term.
    pub term: u32,
    /// When the active term was installed.
    pub install_time: DateTime<Utc>,
    /// Encryptions done with the active term since unseal.
    pub encryptions: u64,
}

/// One operation of a barrier transaction; each value is encrypted with its own path.
/// `Debug` prints `<redacted>` for a plaintext value.
#[derive(Clone, PartialEq, Eq)]
pub enum BarrierOp {
    /// Write a plaintext value.
    Put {
        /// The storage key.
        key: String,
        /// The plaintext value.
        value: Zeroizing<Vec<u8>>,
    },
    /// Remove a key.
    Delete {
        /// The storage key.
        key: String,
    },
}

impl fmt::Debug for BarrierOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BarrierOp::Put { key, .. } => f
                .debug_struct("Put")
                .field("key", key)
                .field("value", &format_args!("<redacted>"))
                .finish(),
            BarrierOp::Delete { key } => f.debug_struct("Delete").field("key", key).finish(),
        }
    }
}

/// The unsealed state: the keyring and one prepared cipher per term.
struct Unsealed {
    keyring: Keyring,
    ciphers: BTreeMap<u32, Arc<TermCipher>>,
    active: Arc<TermCipher>,
}

impl Unsealed {
    /// Builds the state for `keyring`, reusing already prepared ciphers from `previous`.
    fn new(keyring: Keyring, previous: Option<&Unsealed>) -> Result<Self, BarrierError> {
        let mut ciphers = BTreeMap::new();
        for (term, key) in &keyring.keys {
            let cipher = match previous.and_then(|p| p.ciphers.get(term)) {
                Some(c) => Arc::clone(c),
                None => Arc::new(TermCipher::new(*term, key.value.as_slice())?),
            };
            ciphers.insert(*term, cipher);
        }
        let active_term = keyring.active_term()?;
        let active = ciphers
            .get(&active_term)
            .cloned()
            .ok_or(BarrierError::UnknownTerm(active_term))?;
        Ok(Self {
            keyring,
            ciphers,
            active,
        })
    }

    fn encrypt(&self, path: &str, plaintext: &[u8]) -> Result<Vec<u8>, BarrierError> {
        let blob = self.active.encrypt(path.as_bytes(), plaintext)?;
        if let Some(key) = self.keyring.term_key(self.active.term()) {
            key.encryptions.fetch_add(1, Ordering::Relaxed);
        }
        Ok(blob)
    }

    fn decrypt(&self, path: &str, blob: Vec<u8>) -> Result<Zeroizing<Vec<u8>>, BarrierError> {
        let term = blob_term(&blob)?;
        let cipher = self
            .ciphers
            .get(&term)
            .ok_or(BarrierError::UnknownTerm(term))?;
        cipher.decrypt(path.as_bytes(), blob)
    }
}

/// A namespace with a seal of its own: every value under `prefix` is encrypted a second time,
/// inside the barrier's own encryption, with the namespace's key (`None` while it is sealed).
struct PrefixSeal {
    prefix: String,
    cipher: Option<Arc<TermCipher>>,
}

/// The term of values encrypted with a namespace's key.
const PREFIX_TERM: u32 = 1;

/// The security barrier over a physical backend.
pub struct Barrier {
    physical: Arc<dyn PhysicalBackend>,
    state: ArcSwapOption<Unsealed>,
    /// Namespaces sealed separately (usually none: the data path then pays one load).
    prefix_seals: ArcSwap<Vec<PrefixSeal>>,
    /// Serializes initialize / unseal / rotate / rekey (never taken on the data path).
    admin: Mutex<()>,
    /// Told how long each data operation took (the server's metrics), once set.
    observer: std::sync::OnceLock<Arc<dyn BarrierObserver>>,
}

/// A data operation of the barrier, as the server's metrics name it (`vault.barrier.get`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarrierOpKind {
    /// `get`.
    Get,
    /// `put`.
    Put,
    /// `delete`.
    Delete,
    /// `list`.
    List,
    /// `list-page`.
    ListPage,
}

/// Receives the duration of every data operation (reads, writes, deletes, lists).
pub trait BarrierObserver: Send + Sync {
    /// `op` took `elapsed`, successful or not.
    fn observe(&self, op: BarrierOpKind, elapsed: std::time::Duration);
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("sealed", &self.sealed())
            .finish_non_exhaustive()
    }
}

/// Paths that hold the barrier's and the seal's own records; the data API cannot write them.
fn check_writable(key: &str) -> Result<(), BarrierError> {
    if key == KEYRING_PATH || key == ROOT_KEY_PATH || key == SEAL_CONFIG_PATH {
        return Err(BarrierError::ProtectedPath(key.to_string()));
    }
    Ok(())
}

impl Barrier {
    /// A sealed barrier over `physical`.
    pub fn new(physical: Arc<dyn PhysicalBackend>) -> Barrier {
        Barrier {
            physical,
            state: ArcSwapOption::empty(),
            prefix_seals: ArcSwap::from_pointee(Vec::new()),
            admin: Mutex::new(()),
            observer: std::sync::OnceLock::new(),
        }
    }

    /// Sets the observer told of every data operation's duration (once; later calls are
    /// ignored).
    pub fn set_observer(&self, observer: Arc<dyn BarrierObserver>) {
        let _ = self.observer.set(observer);
    }

    #[inline]
    fn observed(&self, op: BarrierOpKind, start: std::time::Instant) {
        if let Some(o) = self.observer.get() {
            o.observe(op, start.elapsed());
        }
    }

    /// Gives every value under `prefix` a second layer of encryption with `key` (a namespace's
    /// own key), or, with `None`, refuses them ([`BarrierError::NamespaceSealed`]) until a key
    /// is given. Replaces what was set for `prefix`.
    pub fn set_prefix_seal(&self, prefix: &str, key: Option<&[u8]>) -> Result<(), BarrierError> {
        let cipher = match key {
            Some(k) => Some(Arc::new(TermCipher::new(PREFIX_TERM, k)?)),
            None => None,
        };
        self.prefix_seals.rcu(|old| {
            let mut v: Vec<PrefixSeal> = old
                .iter()
                .filter(|p| p.prefix != prefix)
                .map(|p| PrefixSeal {
                    prefix: p.prefix.clone(),
                    cipher: p.cipher.clone(),
                })
                .collect();
            v.push(PrefixSeal {
                prefix: prefix.to_string(),
                cipher: cipher.clone(),
            });
            v
        });
        Ok(())
    }

    /// Forgets the seal of `prefix` (its namespace is gone).
    pub fn remove_prefix_seal(&self, prefix: &str) {
        self.prefix_seals.rcu(|old| {
            old.iter()
                .filter(|p| p.prefix != prefix)
                .map(|p| PrefixSeal {
                    prefix: p.prefix.clone(),
                    cipher: p.cipher.clone(),
                })
                .collect::<Vec<_>>()
        });
    }

    /// Forgets every namespace seal (the barrier seals).
    pub fn clear_prefix_seals(&self) {
        self.prefix_seals.store(Arc::new(Vec::new()));
    }

    /// The namespace key `key` is under: `Ok(None)` for none, an error when it is sealed.
    fn prefix_cipher(&self, key: &str) -> Result<Option<Arc<TermCipher>>, BarrierError> {
        let seals = self.prefix_seals.load();
        if seals.is_empty() {
            return Ok(None);
        }
        // The innermost namespace's key: a sealable namespace inside another keeps its own.
        let found = seals
            .iter()
            .filter(|p| key.starts_with(&p.prefix))
            .max_by_key(|p| p.prefix.len());
        match found {
            None => Ok(None),
            Some(p) => p
                .cipher
                .clone()
                .map(Some)
                .ok_or(BarrierError::NamespaceSealed),
        }
    }

    /// Whether the keyring exists in physical storage.
    pub async fn initialized(&self) -> Result<bool, BarrierError> {
        Ok(self.physical.get(KEYRING_PATH).await?.is_some())
    }

    /// Creates the keyring (term 1, a random data key) encrypted by `root_key` and stores
    /// it. The barrier stays sealed.
    pub async fn initialize(&self, root_key: &[u8]) -> Result<(), BarrierError> {
        let _admin = self.admin.lock().await;
        if self.initialized().await? {
            return Err(BarrierError::AlreadyInitialized);
        }
        let keyring = Keyring::new(root_key)?;
        self.persist_keyring(&keyring).await
    }

    /// Decrypts the keyring with `root_key` and unseals; already unsealed is not an error.
    ///
    /// A wrong key (or one of the wrong length) gives [`BarrierError::InvalidKey`].
    pub async fn unseal(&self, root_key: &[u8]) -> Result<(), BarrierError> {
        let _admin = self.admin.lock().await;
        if !self.sealed() {
            return Ok(());
        }
        let keyring = self.read_keyring(root_key).await?;
        let state = Unsealed::new(keyring, None)?;
        self.state.store(Some(Arc::new(state)));
        Ok(())
    }

    /// Reads the stored keyring and decrypts it with `root_key`, checking that it is the
    /// root key the keyring itself holds.
    async fn read_keyring(&self, root_key: &[u8]) -> Result<Keyring, BarrierError> {
        let blob = self
            .physical
            .get(KEYRING_PATH)
            .await?
            .ok_or(BarrierError::NotInitialized)?;
        let root = key_array(root_key).map_err(|_| BarrierError::InvalidKey)?;
        let term = blob_term(&blob)?;
        if term != ROOT_TERM {
            return Err(BarrierError::Malformed("keyring not under the root key"));
        }
        let cipher = TermCipher::new(ROOT_TERM, root.as_slice())?;
        let plain = cipher
            .decrypt(KEYRING_PATH.as_bytes(), blob)
            .map_err(|e| match e {
                BarrierError::Decrypt => BarrierError::InvalidKey,
                other => other,
            })?;
        let keyring = Keyring::deserialize(&plain)?;
        if !bool::from(keyring.root_key.as_slice().ct_eq(root.as_slice())) {
            return Err(BarrierError::InvalidKey);
        }
        Ok(keyring)
    }

    /// Reads the stored keyring again with the root key already held: another node (the
    /// previous active node of an HA cluster) may have added terms since this one unsealed.
    pub async fn reload_keyring(&self) -> Result<(), BarrierError> {
        let _admin = self.admin.lock().await;
        let current = self.state.load_full().ok_or(BarrierError::Sealed)?;
        let keyring = self
            .read_keyring(current.keyring.root_key.as_slice())
            .await?;
        let next = Arc::new(Unsealed::new(keyring, Some(&current))?);
        self.install(&current, next)
    }

    /// Encrypts `plaintext` with the root key itself (bound to `aad`): a challenge only a
    /// holder of the unseal key can open (it recovers the root key from the stored blob).
    pub fn encrypt_with_root_key(
        &self,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, BarrierError> {
        let state = self.state.load();
        let state = state.as_ref().ok_or(BarrierError::Sealed)?;
        let cipher = TermCipher::new(ROOT_TERM, state.keyring.root_key.as_slice())?;
        cipher.encrypt(aad, plaintext)
    }

    /// Opens what [`Barrier::encrypt_with_root_key`] sealed, with this barrier's root key.
    pub fn decrypt_with_root_key(
        &self,
        aad: &[u8],
        blob: Vec<u8>,
    ) -> Result<Zeroizing<Vec<u8>>, BarrierError> {
        let state = self.state.load();
        let state = state.as_ref().ok_or(BarrierError::Sealed)?;
        let cipher = TermCipher::new(ROOT_TERM, state.keyring.root_key.as_slice())?;
        cipher.decrypt(aad, blob)
    }

    /// Seals: forgets the keyring (wiped once no request still uses it) and every
    /// namespace key.
    pub fn seal(&self) {
        self.state.store(None);
        self.clear_prefix_seals();
    }

    /// Whether the barrier is sealed.
    pub fn sealed(&self) -> bool {
        self.state.load().is_none()
    }

    /// Adds a new key term, persists the keyring and makes the term active. Values written
    /// under older terms keep decrypting; nothing is re-encrypted.
    pub async fn rotate(&self) -> Result<KeyInfo, BarrierError> {
        let _admin = self.admin.lock().await;
        let current = self.state.load_full().ok_or(BarrierError::Sealed)?;
        let keyring = current.keyring.with_new_term()?;
        self.persist_keyring(&keyring).await?;
        let next = Arc::new(Unsealed::new(keyring, Some(&current))?);
        self.install(&current, next)?;
        self.key_info()
    }

    /// Re-encrypts the keyring under `new_root_key` (the data keys do not change).
    pub async fn rekey(&self, new_root_key: &[u8]) -> Result<(), BarrierError> {
        let _admin = self.admin.lock().await;
        let current = self.state.load_full().ok_or(BarrierError::Sealed)?;
        let keyring = current.keyring.with_root_key(new_root_key)?;
        self.persist_keyring(&keyring).await?;
        let next = Arc::new(Unsealed::new(keyring, Some(&current))?);
        self.install(&current, next)
    }

    /// The active term, its install time and its encryption count.
    pub fn key_info(&self) -> Result<KeyInfo, BarrierError> {
        let state = self.state.load();
        let state = state.as_ref().ok_or(BarrierError::Sealed)?;
        let key = state.keyring.active_key()?;
        Ok(KeyInfo {
            term: key.term,
            install_time: key.install_time,
            encryptions: key.encryptions(),
        })
    }

    /// Reads and decrypts the value at `key`.
    pub async fn get(&self, key: &str) -> Result<Option<Zeroizing<Vec<u8>>>, BarrierError> {
        let start = std::time::Instant::now();
        let result = self.get_unobserved(key).await;
        self.observed(BarrierOpKind::Get, start);
        result
    }

    async fn get_unobserved(&self, key: &str) -> Result<Option<Zeroizing<Vec<u8>>>, BarrierError> {
        self.ensure_unsealed()?;
        let Some(blob) = self.physical.get(key).await? else {
            return Ok(None);
        };
        // Seal may have happened during the read: take the state only now.
        let state = self.state.load();
        let state = state.as_ref().ok_or(BarrierError::Sealed)?;
        let plain = state.decrypt(key, blob)?;
        match self.prefix_cipher(key)? {
            None => Ok(Some(plain)),
            Some(inner) => inner.decrypt(key.as_bytes(), plain.to_vec()).map(Some),
        }
    }

    /// Encrypts `value` (bound to `key`) and writes it.
    pub async fn put(&self, key: &str, value: &[u8]) -> Result<(), BarrierError> {
        let start = std::time::Instant::now();
        let result = self.put_unobserved(key, value).await;
        self.observed(BarrierOpKind::Put, start);
        result
    }

    async fn put_unobserved(&self, key: &str, value: &[u8]) -> Result<(), BarrierError> {
        check_writable(key)?;
        let blob = match self.prefix_cipher(key)? {
            None => self.encrypt(key, value)?,
            Some(inner) => self.encrypt(key, &inner.encrypt(key.as_bytes(), value)?)?,
        };
        self.physical.put(key, blob).await?;
        Ok(())
    }

    /// Removes `key`.
    pub async fn delete(&self, key: &str) -> Result<(), BarrierError> {
        let start = std::time::Instant::now();
        check_writable(key)?;
        self.ensure_unsealed()?;
        let result = self.physical.delete(key).await;
        self.observed(BarrierOpKind::Delete, start);
        Ok(result?)
    }

    /// Lists the immediate children of `prefix` (paths are not encrypted).
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, BarrierError> {
        let start = std::time::Instant::now();
        self.ensure_unsealed()?;
        let result = self.physical.list(prefix).await;
        self.observed(BarrierOpKind::List, start);
        Ok(result?)
    }

    /// Lists the children of `prefix` sorting after `after`, at most `limit` (0: no limit).
    pub async fn list_page(
        &self,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<String>, BarrierError> {
        let start = std::time::Instant::now();
        self.ensure_unsealed()?;
        let result = self.physical.list_page(prefix, after, limit).await;
        self.observed(BarrierOpKind::ListPage, start);
        Ok(result?)
    }

    /// Encrypts every put with its own path and applies all operations atomically.
    pub async fn transaction(&self, ops: Vec<BarrierOp>) -> Result<(), BarrierError> {
        let physical_ops = {
            let state = self.state.load();
            let state = state.as_ref().ok_or(BarrierError::Sealed)?;
            ops.into_iter()
                .map(|op| match op {
                    BarrierOp::Put { key, value } => {
                        check_writable(&key)?;
                        let value = match self.prefix_cipher(&key)? {
                            None => state.encrypt(&key, &value)?,
                            Some(inner) => {
                                state.encrypt(&key, &inner.encrypt(key.as_bytes(), &value)?)?
                            }
                        };
                        Ok(TxnOp::Put { key, value })
                    }
                    BarrierOp::Delete { key } => {
                        check_writable(&key)?;
                        Ok(TxnOp::Delete { key })
                    }
                })
                .collect::<Result<Vec<_>, BarrierError>>()?
        };
        self.physical.transaction(physical_ops).await?;
        Ok(())
    }

    fn ensure_unsealed(&self) -> Result<(), BarrierError> {
        if self.sealed() {
            return Err(BarrierError::Sealed);
        }
        Ok(())
    }

    fn encrypt(&self, key: &str, value: &[u8]) -> Result<Vec<u8>, BarrierError> {
        let state = self.state.load();
        let state = state.as_ref().ok_or(BarrierError::Sealed)?;
        state.encrypt(key, value)
    }

    /// Encrypts `keyring` under its root key and writes it to [`KEYRING_PATH`].
    async fn persist_keyring(&self, keyring: &Keyring) -> Result<(), BarrierError> {
        let plain = keyring.serialize()?;
        let cipher = TermCipher::new(ROOT_TERM, keyring.root_key.as_slice())?;
        let blob = cipher.encrypt(KEYRING_PATH.as_bytes(), &plain)?;
        self.physical.put(KEYRING_PATH, blob).await?;
        Ok(())
    }

    /// Replaces `current` with `next`, unless the barrier was sealed meanwhile.
    fn install(&self, current: &Arc<Unsealed>, next: Arc<Unsealed>) -> Result<(), BarrierError> {
        let previous = self.state.compare_and_swap(current, Some(next));
        match &*previous {
            Some(p) if Arc::ptr_eq(p, current) => Ok(()),
            _ => Err(BarrierError::Sealed),
        }
    }
}
