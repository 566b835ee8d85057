//! Operations that need unseal-key shares: unseal, rekey (new shares, optional verification)
//! and generate-root (an OTP-encoded root token).

use std::sync::Arc;

use arc_swap::{ArcSwap, ArcSwapOption};
use arca_barrier::{Barrier, BarrierError, SealConfig};
use arca_sdk::LogicalError;
use arca_storage::PhysicalBackend;
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD as RAW_STANDARD};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::random::{random_base62, uuid};
use crate::token_store::{SERVICE_TOKEN_PREFIX, TOKEN_RANDOM_LEN, TokenEntry, TokenStore};
use crate::views::barrier_err;

/// OTP length for generate-root: the length of a root token (`hvs.` + 24).
pub const OTP_LENGTH: usize = SERVICE_TOKEN_PREFIX.len() + TOKEN_RANDOM_LEN;

/// Shares given so far towards an unseal.
#[derive(Default)]
pub(crate) struct UnsealProgress {
    pub(crate) nonce: String,
    pub(crate) keys: Vec<Zeroizing<Vec<u8>>>,
}

/// A rekey in progress.
pub(crate) struct RekeyState {
    pub(crate) nonce: String,
    pub(crate) config: SealConfig,
    pub(crate) keys: Vec<Zeroizing<Vec<u8>>>,
    pub(crate) verification_required: bool,
    pub(crate) backup: bool,
    /// Set once the shares are made but verification is pending.
    pub(crate) pending: Option<PendingRekey>,
}

pub(crate) struct PendingRekey {
    pub(crate) unseal_key: Zeroizing<Vec<u8>>,
    pub(crate) root_key: Zeroizing<Vec<u8>>,
    pub(crate) verification_nonce: String,
    pub(crate) verify_keys: Vec<Zeroizing<Vec<u8>>>,
}

/// A root token generation in progress.
pub(crate) struct GenerateRootState {
    pub(crate) nonce: String,
    pub(crate) otp: Zeroizing<String>,
    pub(crate) otp_generated: bool,
    pub(crate) keys: Vec<Zeroizing<Vec<u8>>>,
}

/// Decodes an unseal key share given as hex or base64, as Vault accepts it.
pub fn decode_key(s: &str) -> Result<Zeroizing<Vec<u8>>, LogicalError> {
    let t = s.trim();
    let bytes = hex::decode(t)
        .or_else(|_| STANDARD.decode(t))
        .map_err(|_| LogicalError::bad_request("'key' must be a valid hex or base64 string"))?;
    if bytes.len() > 33 {
        return Err(LogicalError::bad_request(
            "invalid key: key is longer than maximum 33 bytes",
        ));
    }
    if bytes.is_empty() {
        return Err(LogicalError::bad_request(
            "'key' must be a valid hex or base64 string",
        ));
    }
    Ok(Zeroizing::new(bytes))
}

fn add_share(keys: &mut Vec<Zeroizing<Vec<u8>>>, key: Zeroizing<Vec<u8>>) {
    let dup = keys
        .iter()
        .any(|k| k.len() == key.len() && bool::from(k.as_slice().ct_eq(key.as_slice())));
    if !dup {
        keys.push(key);
    }
}

/// Combines shares into the unseal key (one share with one-of-one is the key itself).
fn combine(
    config: &SealConfig,
    keys: &[Zeroizing<Vec<u8>>],
) -> Result<Zeroizing<Vec<u8>>, LogicalError> {
    if config.secret_shares == 1 && config.secret_threshold == 1 {
        return keys
            .first()
            .cloned()
            .ok_or_else(|| LogicalError::internal("no key"));
    }
    let refs: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
    arca_barrier::shamir::combine(&refs)
        .map_err(|e| LogicalError::bad_request(format!("failed to compute root key: {e}")))
}

fn split(config: &SealConfig, key: &[u8]) -> Result<Vec<Zeroizing<Vec<u8>>>, LogicalError> {
    if config.secret_shares == 1 && config.secret_threshold == 1 {
        return Ok(vec![Zeroizing::new(key.to_vec())]);
    }
    arca_barrier::shamir::split(key, config.secret_shares, config.secret_threshold)
        .map_err(|e| LogicalError::internal(e.to_string()))
}

fn invalid_key(e: BarrierError) -> LogicalError {
    match e {
        BarrierError::InvalidKey
        | BarrierError::Decrypt
        | BarrierError::InvalidKeyLength { .. } => {
            LogicalError::bad_request("Unseal failed, invalid key")
        }
        other => barrier_err(other),
    }
}

/// Name and id of the cluster, made at first unseal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterInfo {
    /// Version marker.
    #[serde(default)]
    pub version: u32,
    /// Cluster name.
    pub name: String,
    /// Cluster id.
    pub id: String,
}

/// The result of `sys/init`.
pub struct InitResult {
    /// The unseal key shares.
    pub keys: Vec<Zeroizing<Vec<u8>>>,
    /// The initial root token.
    pub root_token: Zeroizing<String>,
}

/// What the core does when the barrier opens or is about to close: bring up, or stop, every
/// subsystem that lives over the barrier (token and policy stores, catalog, mounts). The seal
/// owns the keys and their progress and calls these at each transition, holding the state
/// lock for writing.
#[async_trait]
pub(crate) trait Lifecycle: Send + Sync {
    /// Brings the subsystems up over the open barrier.
    async fn setup(&self) -> Result<(), LogicalError>;
    /// Stops them before the barrier closes.
    async fn teardown(&self);
    /// Gives a root token made at init its lease (one that never expires, as OpenBao lists).
    async fn register_root_token(&self, entry: &TokenEntry) -> Result<(), LogicalError>;
}

/// The seal subsystem: the barrier and its keys, the state lock every request holds for
/// reading, unseal progress, rekey and generate-root in progress, and the cluster identity.
pub(crate) struct Seal {
    physical: Arc<dyn PhysicalBackend>,
    barrier: Arc<Barrier>,
    storage_type: String,
    version: String,
    cluster_name: Option<String>,
    /// Held for reading by every request, for writing by seal/unseal transitions.
    state_lock: tokio::sync::RwLock<()>,
    unseal: Mutex<UnsealProgress>,
    rekey: Mutex<Option<RekeyState>>,
    generate_root: Mutex<Option<GenerateRootState>>,
    cluster: ArcSwap<Option<ClusterInfo>>,
    active_since: ArcSwap<Option<chrono::DateTime<chrono::Utc>>>,
    /// The stored seal configuration once read or written: it changes only through this
    /// struct (init, rekey), so `sys/health` and `sys/seal-status` need not read and decode
    /// it from storage on every request.
    config: ArcSwapOption<SealConfig>,
}

/// Where the cluster's name and id are stored.
const CLUSTER_INFO_PATH: &str = "core/cluster/local/info";

impl Seal {
    /// A sealed barrier over `physical`.
    pub(crate) fn new(
        physical: Arc<dyn PhysicalBackend>,
        storage_type: String,
        version: String,
        cluster_name: Option<String>,
    ) -> Seal {
        Seal {
            barrier: Arc::new(Barrier::new(physical.clone())),
            physical,
            storage_type,
            version,
            cluster_name,
            state_lock: tokio::sync::RwLock::new(()),
            unseal: Mutex::new(UnsealProgress::default()),
            rekey: Mutex::new(None),
            generate_root: Mutex::new(None),
            cluster: ArcSwap::from_pointee(None),
            config: ArcSwapOption::empty(),
            active_since: ArcSwap::from_pointee(None),
        }
    }

    /// The barrier every other subsystem stores through.
    pub(crate) fn barrier(&self) -> &Arc<Barrier> {
        &self.barrier
    }

    /// Holds the state for reading (one request): seal and unseal wait for it.
    pub(crate) async fn read_state(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.state_lock.read().await
    }

    /// Whether the barrier is sealed.
    pub(crate) fn sealed(&self) -> bool {
        self.barrier.sealed()
    }

    /// Whether the core has been initialized.
    pub(crate) async fn initialized(&self) -> Result<bool, LogicalError> {
        Ok(self.seal_config().await?.is_some())
    }

    /// The stored seal configuration.
    pub(crate) async fn seal_config(&self) -> Result<Option<SealConfig>, LogicalError> {
        if let Some(config) = self.config.load_full() {
            return Ok(Some(SealConfig::clone(&config)));
        }
        let config = arca_barrier::read_seal_config(self.physical.as_ref())
            .await
            .map_err(barrier_err)?;
        if let Some(c) = &config {
            self.config.store(Some(Arc::new(c.clone())));
        }
        Ok(config)
    }

    /// Writes the seal configuration and remembers it.
    async fn write_seal_config(&self, config: &SealConfig) -> Result<(), LogicalError> {
        arca_barrier::write_seal_config(self.physical.as_ref(), config)
            .await
            .map_err(barrier_err)?;
        self.config.store(Some(Arc::new(config.clone())));
        Ok(())
    }

    /// The cluster name and id (set once unsealed).
    pub(crate) fn cluster_info(&self) -> Option<ClusterInfo> {
        (**self.cluster.load()).clone()
    }

    /// When this node became active.
    pub(crate) fn active_since(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        **self.active_since.load()
    }

    /// The version reported by `sys/health` and `sys/seal-status`.
    pub(crate) fn version(&self) -> &str {
        &self.version
    }

    /// The barrier's key term and install time (`sys/key-status`).
    pub(crate) fn key_info(&self) -> Result<arca_barrier::KeyInfo, LogicalError> {
        self.barrier.key_info().map_err(barrier_err)
    }

    /// Adds a new barrier key term (`sys/rotate`).
    pub(crate) async fn rotate(&self) -> Result<(), LogicalError> {
        self.barrier.rotate().await.map(|_| ()).map_err(barrier_err)
    }

    /// Initializes a new core: a root key, an unseal key split in shares, the keyring, the
    /// subsystems' first records and a root token. The core stays sealed afterwards.
    pub(crate) async fn initialize(
        &self,
        shares: usize,
        threshold: usize,
        root_token_id: Option<Zeroizing<String>>,
        lifecycle: &dyn Lifecycle,
        tokens: &TokenStore,
    ) -> Result<InitResult, LogicalError> {
        let _state = self.state_lock.write().await;
        if self.initialized().await? {
            return Err(LogicalError::bad_request("Vault is already initialized"));
        }
        let seal_config = SealConfig::shamir(shares, threshold);
        seal_config
            .validate()
            .map_err(|e| LogicalError::bad_request(e.to_string()))?;
        let physical = self.physical.clone();
        let root_key = arca_barrier::generate_key().map_err(barrier_err)?;
        let unseal_key = arca_barrier::generate_key().map_err(barrier_err)?;
        self.barrier
            .initialize(&root_key)
            .await
            .map_err(barrier_err)?;
        arca_barrier::store_root_key(physical.as_ref(), &unseal_key, &root_key)
            .await
            .map_err(barrier_err)?;
        let keys = if shares == 1 && threshold == 1 {
            vec![unseal_key.clone()]
        } else {
            arca_barrier::shamir::split(&unseal_key, shares, threshold)
                .map_err(|e| LogicalError::internal(e.to_string()))?
        };

        // Unseal briefly to lay down the mount tables, the default policy and the root token.
        self.barrier.unseal(&root_key).await.map_err(barrier_err)?;
        let result = async {
            self.setup_after_unseal(lifecycle).await?;
            let (token, entry) = tokens.create_root(root_token_id).await?;
            lifecycle.register_root_token(&entry).await?;
            Ok::<_, LogicalError>(token)
        }
        .await;
        self.teardown_before_seal(lifecycle).await;
        self.barrier.seal();
        let root_token = result?;
        // Written last: a core counts as initialized only once everything above exists.
        self.write_seal_config(&seal_config).await?;
        Ok(InitResult { keys, root_token })
    }

    /// Opens the barrier with `root_key` and brings every subsystem up.
    pub(crate) async fn unseal_with_root_key(
        &self,
        root_key: &[u8],
        lifecycle: &dyn Lifecycle,
    ) -> Result<(), LogicalError> {
        let _state = self.state_lock.write().await;
        if !self.barrier.sealed() {
            return Ok(());
        }
        self.barrier.unseal(root_key).await.map_err(|e| match e {
            BarrierError::InvalidKey | BarrierError::Decrypt => {
                LogicalError::bad_request("Unseal failed, invalid key")
            }
            other => barrier_err(other),
        })?;
        if let Err(e) = self.setup_after_unseal(lifecycle).await {
            self.teardown_before_seal(lifecycle).await;
            self.barrier.seal();
            return Err(e);
        }
        tracing::info!("core: vault is unsealed");
        Ok(())
    }

    /// Seals: waits for requests in flight, stops every subsystem, drops the keys.
    pub(crate) async fn seal(&self, lifecycle: &dyn Lifecycle) -> Result<(), LogicalError> {
        let _state = self.state_lock.write().await;
        if self.barrier.sealed() {
            return Ok(());
        }
        self.teardown_before_seal(lifecycle).await;
        self.barrier.seal();
        tracing::info!("core: vault is sealed");
        Ok(())
    }

    async fn setup_after_unseal(&self, lifecycle: &dyn Lifecycle) -> Result<(), LogicalError> {
        self.load_cluster_info().await?;
        lifecycle.setup().await?;
        self.active_since.store(Arc::new(Some(chrono::Utc::now())));
        Ok(())
    }

    async fn teardown_before_seal(&self, lifecycle: &dyn Lifecycle) {
        lifecycle.teardown().await;
        self.cluster.store(Arc::new(None));
        self.active_since.store(Arc::new(None));
        *self.rekey.lock() = None;
        *self.generate_root.lock() = None;
        *self.unseal.lock() = UnsealProgress::default();
    }

    async fn load_cluster_info(&self) -> Result<(), LogicalError> {
        let b = &self.barrier;
        let info = match b.get(CLUSTER_INFO_PATH).await.map_err(barrier_err)? {
            Some(bytes) => {
                serde_json::from_slice::<ClusterInfo>(&bytes).map_err(LogicalError::internal)?
            }
            None => {
                let info = ClusterInfo {
                    version: 1,
                    name: self.cluster_name.clone().unwrap_or_else(|| {
                        format!("vault-cluster-{}", crate::random::random_hex(4))
                    }),
                    id: uuid(),
                };
                let bytes = serde_json::to_vec(&info).map_err(LogicalError::internal)?;
                b.put(CLUSTER_INFO_PATH, &bytes)
                    .await
                    .map_err(barrier_err)?;
                info
            }
        };
        self.cluster.store(Arc::new(Some(info)));
        Ok(())
    }

    /// `sys/seal-status` as JSON.
    pub(crate) async fn seal_status(&self) -> Result<Value, LogicalError> {
        let config = self.seal_config().await?;
        let sealed = self.sealed();
        let (t, n) = config
            .as_ref()
            .map(|c| (c.secret_threshold, c.secret_shares))
            .unwrap_or((0, 0));
        let (progress, nonce) = {
            let u = self.unseal.lock();
            (u.keys.len(), u.nonce.clone())
        };
        let mut v = json!({
            "type": "shamir",
            "initialized": config.is_some(),
            "sealed": sealed,
            "t": t,
            "n": n,
            "progress": progress,
            "nonce": nonce,
            "recovery_seal": false,
            "version": self.version,
            "commit_date": crate::BUILD_DATE,
            "migration": false,
        });
        if !sealed && let (Some(info), Value::Object(m)) = (self.cluster_info(), &mut v) {
            m.insert("cluster_name".into(), json!(info.name));
            m.insert("cluster_id".into(), json!(info.id));
        }
        if let Value::Object(m) = &mut v {
            m.insert("storage_type".into(), json!(self.storage_type));
        }
        Ok(v)
    }

    /// Adds one unseal key share; unseals when the threshold is reached.
    pub(crate) async fn submit_unseal_key(
        &self,
        key: Zeroizing<Vec<u8>>,
        lifecycle: &dyn Lifecycle,
    ) -> Result<Value, LogicalError> {
        let Some(config) = self.seal_config().await? else {
            return Err(LogicalError::bad_request("Vault is not initialized"));
        };
        if !self.sealed() {
            return self.seal_status().await;
        }
        let ready = {
            let mut u = self.unseal.lock();
            if u.nonce.is_empty() {
                u.nonce = uuid();
            }
            add_share(&mut u.keys, key);
            if u.keys.len() >= config.secret_threshold {
                Some(std::mem::take(&mut *u))
            } else {
                None
            }
        };
        if let Some(progress) = ready {
            let unseal_key = combine(&config, &progress.keys)?;
            let root_key = arca_barrier::recover_root_key(self.physical.as_ref(), &unseal_key)
                .await
                .map_err(invalid_key)?;
            self.unseal_with_root_key(&root_key, lifecycle).await?;
        }
        self.seal_status().await
    }

    /// Forgets the shares given so far.
    pub(crate) async fn reset_unseal(&self) -> Result<Value, LogicalError> {
        *self.unseal.lock() = UnsealProgress::default();
        self.seal_status().await
    }

    /// Unseals with the complete unseal key at once (dev mode, tests).
    pub(crate) async fn unseal_with_key(
        &self,
        unseal_key: &[u8],
        lifecycle: &dyn Lifecycle,
    ) -> Result<(), LogicalError> {
        let root_key = arca_barrier::recover_root_key(self.physical.as_ref(), unseal_key)
            .await
            .map_err(invalid_key)?;
        self.unseal_with_root_key(&root_key, lifecycle).await
    }

    /// Recovers the root key from a full set of current shares, proving the caller holds them.
    async fn root_key_from_shares(
        &self,
        config: &SealConfig,
        keys: &[Zeroizing<Vec<u8>>],
    ) -> Result<(Zeroizing<Vec<u8>>, Zeroizing<Vec<u8>>), LogicalError> {
        let unseal_key = combine(config, keys)?;
        let root_key = arca_barrier::recover_root_key(self.physical.as_ref(), &unseal_key)
            .await
            .map_err(|e| match e {
                BarrierError::InvalidKey
                | BarrierError::Decrypt
                | BarrierError::InvalidKeyLength { .. } => {
                    LogicalError::bad_request("unable to authenticate provided keys: invalid key")
                }
                other => barrier_err(other),
            })?;
        Ok((unseal_key, root_key))
    }

    // ----- rekey -----

    fn rekey_status_json(&self, state: Option<&RekeyState>, required: usize) -> Value {
        match state {
            None => json!({
                "nonce": "", "started": false, "t": 0, "n": 0, "progress": 0, "required": required,
                "pgp_fingerprints": null, "backup": false, "verification_required": false,
            }),
            Some(s) => {
                let mut v = json!({
                    "nonce": s.nonce, "started": true, "t": s.config.secret_threshold,
                    "n": s.config.secret_shares, "progress": s.keys.len(), "required": required,
                    "pgp_fingerprints": null, "backup": s.backup,
                    "verification_required": s.verification_required,
                });
                if let (Some(p), Value::Object(m)) = (&s.pending, &mut v) {
                    m.insert("verification_nonce".into(), json!(p.verification_nonce));
                }
                v
            }
        }
    }

    /// `GET sys/rekey/init`.
    pub(crate) async fn rekey_status(&self) -> Result<Value, LogicalError> {
        let required = self
            .seal_config()
            .await?
            .map(|c| c.secret_threshold)
            .unwrap_or(0);
        let g = self.rekey.lock();
        Ok(self.rekey_status_json(g.as_ref(), required))
    }

    /// `PUT sys/rekey/init`.
    pub(crate) async fn rekey_init(
        &self,
        shares: usize,
        threshold: usize,
        pgp_keys: Option<Vec<String>>,
        backup: bool,
        require_verification: bool,
    ) -> Result<Value, LogicalError> {
        if pgp_keys.as_ref().is_some_and(|k| !k.is_empty()) {
            return Err(LogicalError::bad_request(
                "pgp_keys are not supported yet by this server",
            ));
        }
        if backup {
            return Err(LogicalError::bad_request(
                "backup is only available with pgp_keys",
            ));
        }
        let config = SealConfig::shamir(shares, threshold);
        config
            .validate()
            .map_err(|e| LogicalError::bad_request(format!("invalid configuration: {e}")))?;
        let required = self
            .seal_config()
            .await?
            .map(|c| c.secret_threshold)
            .unwrap_or(0);
        let mut g = self.rekey.lock();
        if g.is_some() {
            return Err(LogicalError::bad_request("rekey already in progress"));
        }
        *g = Some(RekeyState {
            nonce: uuid(),
            config,
            keys: Vec::new(),
            verification_required: require_verification,
            backup,
            pending: None,
        });
        Ok(self.rekey_status_json(g.as_ref(), required))
    }

    /// `DELETE sys/rekey/init`.
    pub(crate) fn rekey_cancel(&self) {
        *self.rekey.lock() = None;
    }

    /// `PUT sys/rekey/update`.
    pub(crate) async fn rekey_update(
        &self,
        key: Zeroizing<Vec<u8>>,
        nonce: &str,
    ) -> Result<Value, LogicalError> {
        let current = self
            .seal_config()
            .await?
            .ok_or_else(|| LogicalError::bad_request("Vault is not initialized"))?;
        let ready = {
            let mut g = self.rekey.lock();
            let Some(s) = g.as_mut() else {
                return Err(LogicalError::bad_request("no rekey in progress"));
            };
            if s.pending.is_some() {
                return Err(LogicalError::bad_request(
                    "rekey operation is waiting for verification of the new shares",
                ));
            }
            if nonce != s.nonce {
                return Err(LogicalError::bad_request(format!(
                    "incorrect nonce supplied; nonce for this rekey operation is {}",
                    s.nonce
                )));
            }
            add_share(&mut s.keys, key);
            if s.keys.len() >= current.secret_threshold {
                Some((
                    std::mem::take(&mut s.keys),
                    s.config.clone(),
                    s.verification_required,
                    s.nonce.clone(),
                ))
            } else {
                let v = self.rekey_status_json(Some(s), current.secret_threshold);
                return Ok(v);
            }
        };
        let Some((keys, new_config, verify, nonce)) = ready else {
            return Err(LogicalError::internal("rekey state lost"));
        };
        let (_, root_key) = match self.root_key_from_shares(&current, &keys).await {
            Ok(k) => k,
            Err(e) => {
                // Wrong shares: start the collection over, as Vault does.
                if let Some(s) = self.rekey.lock().as_mut() {
                    s.keys.clear();
                }
                return Err(e);
            }
        };
        let new_unseal = arca_barrier::generate_key().map_err(barrier_err)?;
        let shares = split(&new_config, &new_unseal)?;
        let mut out = json!({
            "nonce": nonce, "complete": true,
            "keys": shares.iter().map(|k| hex::encode(k.as_slice())).collect::<Vec<_>>(),
            "keys_base64": shares.iter().map(|k| STANDARD.encode(k.as_slice())).collect::<Vec<_>>(),
            "pgp_fingerprints": null, "backup": false, "verification_required": verify,
        });
        if verify {
            let vnonce = uuid();
            if let Some(s) = self.rekey.lock().as_mut() {
                s.pending = Some(PendingRekey {
                    unseal_key: new_unseal,
                    root_key,
                    verification_nonce: vnonce.clone(),
                    verify_keys: Vec::new(),
                });
            }
            if let Value::Object(m) = &mut out {
                m.insert("verification_nonce".into(), json!(vnonce));
            }
        } else {
            self.commit_rekey(&new_config, &new_unseal, &root_key)
                .await?;
            *self.rekey.lock() = None;
        }
        Ok(out)
    }

    async fn commit_rekey(
        &self,
        config: &SealConfig,
        unseal_key: &[u8],
        root_key: &[u8],
    ) -> Result<(), LogicalError> {
        let physical = self.physical.clone();
        arca_barrier::store_root_key(physical.as_ref(), unseal_key, root_key)
            .await
            .map_err(barrier_err)?;
        self.write_seal_config(config).await?;
        tracing::info!("core: rekey complete, new unseal key shares in effect");
        Ok(())
    }

    /// `GET sys/rekey/verify`.
    pub(crate) fn rekey_verify_status(&self) -> Result<Value, LogicalError> {
        let g = self.rekey.lock();
        let Some(s) = g.as_ref() else {
            return Err(LogicalError::bad_request("no rekey configuration found"));
        };
        let Some(p) = &s.pending else {
            return Err(LogicalError::bad_request(
                "no rekey verification in progress",
            ));
        };
        Ok(json!({
            "nonce": p.verification_nonce, "started": true, "t": s.config.secret_threshold,
            "n": s.config.secret_shares, "progress": p.verify_keys.len(),
        }))
    }

    /// `DELETE sys/rekey/verify`: throws away the verification progress (the new shares stay
    /// pending with a fresh nonce).
    pub(crate) fn rekey_verify_cancel(&self) -> Result<Value, LogicalError> {
        {
            let mut g = self.rekey.lock();
            if let Some(p) = g.as_mut().and_then(|s| s.pending.as_mut()) {
                p.verify_keys.clear();
                p.verification_nonce = uuid();
            }
        }
        self.rekey_verify_status()
    }

    /// `PUT sys/rekey/verify`.
    pub(crate) async fn rekey_verify(
        &self,
        key: Zeroizing<Vec<u8>>,
        nonce: &str,
    ) -> Result<Value, LogicalError> {
        let done = {
            let mut g = self.rekey.lock();
            let Some(s) = g.as_mut() else {
                return Err(LogicalError::bad_request("no rekey configuration found"));
            };
            let threshold = s.config.secret_threshold;
            let config = s.config.clone();
            let Some(p) = s.pending.as_mut() else {
                return Err(LogicalError::bad_request(
                    "no rekey verification in progress",
                ));
            };
            if nonce != p.verification_nonce {
                return Err(LogicalError::bad_request(format!(
                    "incorrect nonce supplied; nonce for this verify operation is {}",
                    p.verification_nonce
                )));
            }
            add_share(&mut p.verify_keys, key);
            if p.verify_keys.len() < threshold {
                return Ok(
                    json!({"nonce": p.verification_nonce, "complete": false, "progress": p.verify_keys.len()}),
                );
            }
            let combined = combine(&config, &p.verify_keys)?;
            let ok = combined.len() == p.unseal_key.len()
                && bool::from(combined.as_slice().ct_eq(p.unseal_key.as_slice()));
            if !ok {
                p.verify_keys.clear();
                return Err(LogicalError::bad_request(
                    "rekey verification failed; incorrect key shares supplied",
                ));
            }
            (
                config,
                p.unseal_key.clone(),
                p.root_key.clone(),
                p.verification_nonce.clone(),
            )
        };
        let (config, unseal, root, vnonce) = done;
        self.commit_rekey(&config, &unseal, &root).await?;
        *self.rekey.lock() = None;
        Ok(json!({"nonce": vnonce, "complete": true}))
    }

    // ----- generate-root -----

    fn generate_root_json(&self, s: Option<&GenerateRootState>, required: usize) -> Value {
        match s {
            None => json!({
                "nonce": "", "started": false, "progress": 0, "required": required,
                "complete": false, "encoded_token": "", "encoded_root_token": "",
                "pgp_fingerprint": "", "otp": "", "otp_length": OTP_LENGTH,
            }),
            Some(s) => json!({
                "nonce": s.nonce, "started": true, "progress": s.keys.len(), "required": required,
                "complete": false, "encoded_token": "", "encoded_root_token": "",
                "pgp_fingerprint": "", "otp": if s.otp_generated { s.otp.as_str() } else { "" },
                "otp_length": OTP_LENGTH,
            }),
        }
    }

    /// `GET sys/generate-root/attempt`.
    pub(crate) async fn generate_root_status(&self) -> Result<Value, LogicalError> {
        let required = self
            .seal_config()
            .await?
            .map(|c| c.secret_threshold)
            .unwrap_or(0);
        let g = self.generate_root.lock();
        let mut v = self.generate_root_json(g.as_ref(), required);
        // The OTP is only ever shown in the answer to the call that made it.
        if let Value::Object(m) = &mut v {
            m.insert("otp".into(), json!(""));
        }
        Ok(v)
    }

    /// `PUT sys/generate-root/attempt`.
    pub(crate) async fn generate_root_init(
        &self,
        otp: Option<Zeroizing<String>>,
        pgp_key: Option<String>,
    ) -> Result<Value, LogicalError> {
        if pgp_key.as_ref().is_some_and(|k| !k.is_empty()) {
            return Err(LogicalError::bad_request(
                "pgp_key is not supported yet by this server",
            ));
        }
        let required = self
            .seal_config()
            .await?
            .map(|c| c.secret_threshold)
            .unwrap_or(0);
        let (otp, generated) = match otp.filter(|o| !o.is_empty()) {
            Some(o) => {
                if o.len() != OTP_LENGTH {
                    return Err(LogicalError::bad_request(format!(
                        "OTP string must be {OTP_LENGTH} characters long"
                    )));
                }
                (o, false)
            }
            None => (Zeroizing::new(random_base62(OTP_LENGTH)), true),
        };
        let mut g = self.generate_root.lock();
        if g.is_some() {
            return Err(LogicalError::bad_request(
                "root generation already in progress",
            ));
        }
        *g = Some(GenerateRootState {
            nonce: uuid(),
            otp,
            otp_generated: generated,
            keys: Vec::new(),
        });
        Ok(self.generate_root_json(g.as_ref(), required))
    }

    /// `DELETE sys/generate-root/attempt`.
    pub(crate) fn generate_root_cancel(&self) {
        *self.generate_root.lock() = None;
    }

    /// `PUT sys/generate-root/update`.
    pub(crate) async fn generate_root_update(
        &self,
        key: Zeroizing<Vec<u8>>,
        nonce: &str,
        tokens: &TokenStore,
    ) -> Result<(Value, Option<Arc<TokenEntry>>), LogicalError> {
        let config = self
            .seal_config()
            .await?
            .ok_or_else(|| LogicalError::bad_request("Vault is not initialized"))?;
        let (keys, otp, nonce) = {
            let mut g = self.generate_root.lock();
            let Some(s) = g.as_mut() else {
                return Err(LogicalError::bad_request("no root generation in progress"));
            };
            if nonce != s.nonce {
                return Err(LogicalError::bad_request(format!(
                    "incorrect nonce supplied; nonce for this root generation operation is {}",
                    s.nonce
                )));
            }
            add_share(&mut s.keys, key);
            if s.keys.len() < config.secret_threshold {
                let mut v = self.generate_root_json(Some(s), config.secret_threshold);
                if let Value::Object(m) = &mut v {
                    m.insert("otp".into(), json!(""));
                }
                return Ok((v, None));
            }
            (std::mem::take(&mut s.keys), s.otp.clone(), s.nonce.clone())
        };
        self.root_key_from_shares(&config, &keys).await?;
        *self.generate_root.lock() = None;
        let (token, entry) = tokens.create_root(None).await?;
        let xored: Zeroizing<Vec<u8>> = Zeroizing::new(
            token
                .as_bytes()
                .iter()
                .zip(otp.as_bytes())
                .map(|(a, b)| a ^ b)
                .collect(),
        );
        let encoded = RAW_STANDARD.encode(xored.as_slice());
        let answer = json!({
            "nonce": nonce, "started": true, "progress": config.secret_threshold,
            "required": config.secret_threshold, "complete": true,
            "encoded_token": encoded, "encoded_root_token": encoded,
            "pgp_fingerprint": "", "otp": "", "otp_length": OTP_LENGTH,
        });
        Ok((answer, Some(entry)))
    }
}
