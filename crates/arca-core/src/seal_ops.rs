//! Operations that need unseal-key shares: unseal, rekey (new shares, optional verification)
//! and generate-root (an OTP-encoded root token).
//!
//! With an auto seal ([`crate::auto_seal`]) the root key is stored encrypted by the seal and
//! the operators hold shares of a recovery key instead: they authorize generate-root, the
//! recovery rekey, an unseal after a manual seal, and seal migrations (`unseal -migrate`)
//! between Shamir and the auto seal, whichever way the config names.

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

use crate::auto_seal::{
    AUTO_ROOT_KEY_PATH, RECOVERY_KEY_PATH, SealSetup, load_sealed, store_sealed,
};
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

/// Why a full set of shares did not give the root key.
enum ShareFailure {
    /// The shares rebuild a key that is not the current unseal (or recovery) key.
    Mismatch,
    /// Anything else: storage, the seal's service, malformed shares.
    Other(LogicalError),
}

/// OpenBao's text when recovery shares rebuild the wrong recovery key.
const RECOVERY_MISMATCH: &str = "recovery key does not match submitted values";

/// What an attempt to unseal through the auto seal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoUnseal {
    /// The core is unsealed (it was already, or is now).
    Unsealed,
    /// The core is not initialized yet: `sys/init` unseals it.
    NotInitialized,
    /// The stored keys are under another seal than the config's: the operator migrates them
    /// with `operator unseal -migrate`.
    MigrationPending,
    /// No auto seal is configured.
    NotAutoSealed,
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
    /// The unseal key shares (none with an auto seal).
    pub keys: Vec<Zeroizing<Vec<u8>>>,
    /// The recovery key shares (auto seal only).
    pub recovery_keys: Vec<Zeroizing<Vec<u8>>>,
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
    /// Whether the node is one of an HA cluster: then `setup` only starts the election, and
    /// the node becomes active (and writes) only once it holds the lock.
    fn ha_enabled(&self) -> bool {
        false
    }
    /// Brings the subsystems up for init's brief unseal: as the node serving, HA or not (no
    /// other node can be unsealed before the first init).
    async fn setup_for_init(&self) -> Result<(), LogicalError> {
        self.setup().await
    }
    /// Stops what [`Lifecycle::setup_for_init`] brought up.
    async fn teardown_for_init(&self) {
        self.teardown().await
    }
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
    /// A rekey of the recovery key in progress (auto seal).
    rekey_recovery: Mutex<Option<RekeyState>>,
    /// The seals the config names: the auto seal in use, and a disabled one to migrate from.
    seals: SealSetup,
    /// The stored recovery configuration once read or written (auto seal).
    recovery_config: ArcSwapOption<SealConfig>,
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
        seals: SealSetup,
    ) -> Seal {
        Seal {
            rekey_recovery: Mutex::new(None),
            seals,
            recovery_config: ArcSwapOption::empty(),
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

    /// Holds the state for writing (an HA transition): waits for every request in flight.
    pub(crate) async fn write_state(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        self.state_lock.write().await
    }

    /// Forgets the cached seal and recovery configurations: storage was replaced underneath
    /// (a snapshot restore), they are read again.
    pub(crate) fn forget_cached_configs(&self) {
        self.config.store(None);
        self.recovery_config.store(None);
    }

    /// Records when this node became active (`None`: it no longer is).
    pub(crate) fn set_active_since(&self, at: Option<chrono::DateTime<chrono::Utc>>) {
        self.active_since.store(Arc::new(at));
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

    /// The stored recovery configuration (auto seal), `None` when there is none.
    async fn recovery_config(&self) -> Result<Option<SealConfig>, LogicalError> {
        if let Some(config) = self.recovery_config.load_full() {
            return Ok(Some(SealConfig::clone(&config)));
        }
        let config = arca_barrier::read_recovery_config(self.physical.as_ref())
            .await
            .map_err(barrier_err)?;
        if let Some(c) = &config {
            self.recovery_config.store(Some(Arc::new(c.clone())));
        }
        Ok(config)
    }

    /// Writes the recovery configuration and remembers it.
    async fn write_recovery_config(&self, config: &SealConfig) -> Result<(), LogicalError> {
        arca_barrier::write_recovery_config(self.physical.as_ref(), config)
            .await
            .map_err(barrier_err)?;
        self.recovery_config.store(Some(Arc::new(config.clone())));
        Ok(())
    }

    /// Whether the configured seal has recovery keys (an auto seal).
    pub(crate) fn recovery_supported(&self) -> bool {
        self.seals.auto.is_some()
    }

    /// The type of the configured seal (`shamir`, `transit`).
    pub(crate) fn seal_type(&self) -> &str {
        self.seals.seal_type()
    }

    /// Whether the stored keys are under another seal than the config's.
    fn migration_pending(&self, stored: &SealConfig) -> bool {
        stored.seal_type != self.seals.seal_type()
    }

    /// The configuration of the shares operators hold for the stored keys: the unseal key's
    /// with Shamir, the recovery key's with an auto seal.
    async fn shares_config(&self, stored: &SealConfig) -> Result<SealConfig, LogicalError> {
        if stored.is_shamir() {
            return Ok(stored.clone());
        }
        Ok(self
            .recovery_config()
            .await?
            .unwrap_or_else(|| SealConfig::shamir(0, 0)))
    }

    /// The threshold of the shares operators hold (0 before init).
    async fn required_shares(&self) -> Result<usize, LogicalError> {
        Ok(match self.seal_config().await? {
            Some(stored) => self.shares_config(&stored).await?.secret_threshold,
            None => 0,
        })
    }

    /// The root key, decrypted by the auto seal that stored it.
    async fn auto_root_key(&self) -> Result<Zeroizing<Vec<u8>>, LogicalError> {
        load_sealed(self.physical.as_ref(), &self.seals, AUTO_ROOT_KEY_PATH)
            .await?
            .ok_or_else(|| {
                LogicalError::internal(
                    "stored unseal keys are supported, but none were found: is the server initialized?",
                )
            })
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
    ///
    /// With an auto seal, `shares` and `threshold` are ignored: the root key is stored
    /// encrypted by the seal, a recovery key is split by `recovery` (shares, threshold; no
    /// recovery key with zero shares), and the core is unsealed at the end.
    pub(crate) async fn initialize(
        &self,
        shares: usize,
        threshold: usize,
        recovery: (usize, usize),
        root_token_id: Option<Zeroizing<String>>,
        lifecycle: &dyn Lifecycle,
        tokens: &TokenStore,
    ) -> Result<InitResult, LogicalError> {
        let state = self.state_lock.write().await;
        if self.initialized().await? {
            return Err(LogicalError::bad_request("Vault is already initialized"));
        }
        let auto = self.seals.auto.clone();
        let seal_config = match &auto {
            Some(a) => SealConfig::auto(a.seal_type()),
            None => SealConfig::shamir(shares, threshold),
        };
        seal_config
            .validate()
            .map_err(|e| LogicalError::bad_request(e.to_string()))?;
        let recovery_config = SealConfig {
            stored_shares: 0,
            ..SealConfig::shamir(recovery.0, recovery.1)
        };
        if auto.is_some() {
            recovery_config.validate_recovery().map_err(|e| match e {
                BarrierError::SealConfig(m) => {
                    LogicalError::bad_request(format!("invalid recovery configuration: {m}"))
                }
                other => barrier_err(other),
            })?;
        }
        let physical = self.physical.clone();
        let root_key = arca_barrier::generate_key().map_err(barrier_err)?;
        let mut keys = Vec::new();
        let mut recovery_keys = Vec::new();
        if let Some(auto) = &auto {
            // The seal's service is asked first: if it cannot encrypt, nothing is written.
            store_sealed(
                physical.as_ref(),
                auto.as_ref(),
                AUTO_ROOT_KEY_PATH,
                &root_key,
            )
            .await?;
            if recovery_config.secret_shares > 0 {
                let recovery_key = arca_barrier::generate_key().map_err(barrier_err)?;
                recovery_keys = split(&recovery_config, &recovery_key)?;
                store_sealed(
                    physical.as_ref(),
                    auto.as_ref(),
                    RECOVERY_KEY_PATH,
                    &recovery_key,
                )
                .await?;
            }
            self.write_recovery_config(&recovery_config).await?;
            self.barrier
                .initialize(&root_key)
                .await
                .map_err(barrier_err)?;
        } else {
            let unseal_key = arca_barrier::generate_key().map_err(barrier_err)?;
            self.barrier
                .initialize(&root_key)
                .await
                .map_err(barrier_err)?;
            arca_barrier::store_root_key(physical.as_ref(), &unseal_key, &root_key)
                .await
                .map_err(barrier_err)?;
            keys = split(&seal_config, &unseal_key)?;
        }

        // Unseal briefly to lay down the mount tables, the default policy and the root token.
        self.barrier.unseal(&root_key).await.map_err(barrier_err)?;
        let result = async {
            self.load_cluster_info(true).await?;
            lifecycle.setup_for_init().await?;
            let (token, entry) = tokens.create_root(root_token_id).await?;
            lifecycle.register_root_token(&entry).await?;
            Ok::<_, LogicalError>(token)
        }
        .await;
        lifecycle.teardown_for_init().await;
        self.reset_after_seal();
        self.barrier.seal();
        let root_token = result?;
        // Written last: a core counts as initialized only once everything above exists.
        self.write_seal_config(&seal_config).await?;
        drop(state);
        if auto.is_some() {
            // An auto-sealed core unseals itself, as OpenBao's does after init.
            if let Err(e) = self.unseal_with_root_key(&root_key, lifecycle).await {
                tracing::error!(error = %e, "core: failed to unseal after initialization");
            }
        }
        Ok(InitResult {
            keys,
            recovery_keys,
            root_token,
        })
    }

    /// Unseals through the auto seal: the stored root key is decrypted by the seal's service.
    /// An error means the service failed (unreachable, refused): the caller retries.
    pub(crate) async fn auto_unseal(
        &self,
        lifecycle: &dyn Lifecycle,
    ) -> Result<AutoUnseal, LogicalError> {
        if self.seals.auto.is_none() {
            return Ok(AutoUnseal::NotAutoSealed);
        }
        let Some(stored) = self.seal_config().await? else {
            return Ok(AutoUnseal::NotInitialized);
        };
        if self.migration_pending(&stored) {
            return Ok(AutoUnseal::MigrationPending);
        }
        if !self.sealed() {
            return Ok(AutoUnseal::Unsealed);
        }
        let root_key = self.auto_root_key().await?;
        self.unseal_with_root_key(&root_key, lifecycle).await?;
        Ok(AutoUnseal::Unsealed)
    }

    /// Moves the stored keys from the old seal to the configured one, given the root key and
    /// the key the operators' shares rebuilt (the old unseal key, or the old recovery key):
    /// that key becomes the new recovery key, or the new unseal key, so the operators keep
    /// their shares. The new records are written first and the seal configuration switches
    /// last, so a migration cut short is simply run again.
    async fn migrate(
        &self,
        stored: &SealConfig,
        shares_config: &SealConfig,
        key: &[u8],
        root_key: &[u8],
    ) -> Result<(), LogicalError> {
        let physical = self.physical.as_ref();
        let delete = |path: &'static str| async move {
            physical
                .delete(path)
                .await
                .map_err(|e| LogicalError::internal(format!("failed to delete {path}: {e}")))
        };
        match &self.seals.auto {
            Some(auto) if stored.is_shamir() => {
                tracing::info!(
                    to = auto.seal_type(),
                    "core: migrating from shamir to auto-unseal"
                );
                store_sealed(physical, auto.as_ref(), AUTO_ROOT_KEY_PATH, root_key).await?;
                store_sealed(physical, auto.as_ref(), RECOVERY_KEY_PATH, key).await?;
                let recovery = SealConfig {
                    stored_shares: 0,
                    ..SealConfig::shamir(stored.secret_shares, stored.secret_threshold)
                };
                self.write_recovery_config(&recovery).await?;
                self.write_seal_config(&SealConfig::auto(auto.seal_type()))
                    .await?;
                delete(arca_barrier::ROOT_KEY_PATH).await?;
            }
            None => {
                tracing::info!(
                    from = stored.seal_type.as_str(),
                    "core: migrating from one auto-unseal to shamir"
                );
                arca_barrier::store_root_key(physical, key, root_key)
                    .await
                    .map_err(barrier_err)?;
                self.write_seal_config(&SealConfig::shamir(
                    shares_config.secret_shares,
                    shares_config.secret_threshold,
                ))
                .await?;
                delete(AUTO_ROOT_KEY_PATH).await?;
                delete(RECOVERY_KEY_PATH).await?;
                delete(arca_barrier::RECOVERY_CONFIG_PATH).await?;
                self.recovery_config.store(None);
            }
            Some(auto) => {
                return Err(LogicalError::bad_request(format!(
                    "migrating from a {:?} seal to a {:?} seal is not supported",
                    stored.seal_type,
                    auto.seal_type()
                )));
            }
        }
        tracing::info!("core: seal migration complete");
        Ok(())
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
        // A standby does not write: the active node creates the cluster identity.
        let ha = lifecycle.ha_enabled();
        self.load_cluster_info(!ha).await?;
        lifecycle.setup().await?;
        if !ha {
            self.active_since.store(Arc::new(Some(chrono::Utc::now())));
        }
        Ok(())
    }

    async fn teardown_before_seal(&self, lifecycle: &dyn Lifecycle) {
        lifecycle.teardown().await;
        self.reset_after_seal();
    }

    /// Forgets what only an unsealed core holds: cluster identity, active time, progress of
    /// unseal, rekey and generate-root.
    fn reset_after_seal(&self) {
        self.cluster.store(Arc::new(None));
        self.active_since.store(Arc::new(None));
        *self.rekey.lock() = None;
        *self.generate_root.lock() = None;
        *self.unseal.lock() = UnsealProgress::default();
    }

    /// Reads the cluster's name and id; creates them when absent and `may_write`.
    pub(crate) async fn load_cluster_info(&self, may_write: bool) -> Result<(), LogicalError> {
        let b = &self.barrier;
        let info = match b.get(CLUSTER_INFO_PATH).await.map_err(barrier_err)? {
            Some(bytes) => {
                serde_json::from_slice::<ClusterInfo>(&bytes).map_err(LogicalError::internal)?
            }
            None if !may_write => return Ok(()),
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
        // t and n are those of the shares the operators hold for the stored keys.
        let (t, n, migration) = match &config {
            Some(stored) => {
                let shares = self.shares_config(stored).await?;
                (
                    shares.secret_threshold,
                    shares.secret_shares,
                    self.migration_pending(stored),
                )
            }
            None => (0, 0, false),
        };
        let (progress, nonce) = {
            let u = self.unseal.lock();
            (u.keys.len(), u.nonce.clone())
        };
        let recovery_seal = self.recovery_supported();
        let mut v = json!({
            "type": self.seal_type(),
            "initialized": config.is_some(),
            "sealed": sealed,
            "t": t,
            "n": n,
            "progress": progress,
            "nonce": nonce,
            "recovery_seal": recovery_seal,
            "recovery_seal_type": "shamir",
            "version": self.version,
            "commit_date": crate::BUILD_DATE,
            "migration": migration,
        });
        if !recovery_seal && let Value::Object(m) = &mut v {
            m.remove("recovery_seal_type");
        }
        if !sealed && let (Some(info), Value::Object(m)) = (self.cluster_info(), &mut v) {
            m.insert("cluster_name".into(), json!(info.name));
            m.insert("cluster_id".into(), json!(info.id));
        }
        if let Value::Object(m) = &mut v {
            m.insert("storage_type".into(), json!(self.storage_type));
        }
        Ok(v)
    }

    /// Adds one unseal key share (a recovery key share with an auto seal); unseals when the
    /// threshold is reached. With `migrate`, a pending seal migration runs first.
    pub(crate) async fn submit_unseal_key(
        &self,
        key: Zeroizing<Vec<u8>>,
        migrate: bool,
        lifecycle: &dyn Lifecycle,
    ) -> Result<Value, LogicalError> {
        let Some(stored) = self.seal_config().await? else {
            return Err(LogicalError::bad_request("Vault is not initialized"));
        };
        if !self.sealed() {
            return self.seal_status().await;
        }
        let pending = self.migration_pending(&stored);
        if migrate && !pending {
            return Err(LogicalError::bad_request(
                "can't perform a seal migration, no migration seal found",
            ));
        }
        if !migrate && pending {
            return Err(LogicalError::bad_request(
                "migrate option not provided and seal migration is pending",
            ));
        }
        let config = self.shares_config(&stored).await?;
        if config.secret_shares == 0 {
            return Err(LogicalError::bad_request(
                "this server has no recovery keys: it unseals through its seal only",
            ));
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
            let (key, root_key) = self
                .root_key_from_shares(&stored, &config, &progress.keys)
                .await
                .map_err(|e| match e {
                    ShareFailure::Mismatch if stored.is_shamir() => {
                        LogicalError::bad_request("Unseal failed, invalid key")
                    }
                    ShareFailure::Mismatch => LogicalError::bad_request(format!(
                        "invalid key: failed to verify recovery key: {RECOVERY_MISMATCH}"
                    )),
                    ShareFailure::Other(e) => e,
                })?;
            if pending {
                self.migrate(&stored, &config, &key, &root_key).await?;
            }
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

    /// Recovers the root key from a full set of current shares, proving the caller holds them:
    /// shares of the unseal key (Shamir), or of the recovery key, which is checked against
    /// the stored one before the auto seal decrypts the root key. Returns the rebuilt key and
    /// the root key.
    async fn root_key_from_shares(
        &self,
        stored: &SealConfig,
        shares_config: &SealConfig,
        keys: &[Zeroizing<Vec<u8>>],
    ) -> Result<(Zeroizing<Vec<u8>>, Zeroizing<Vec<u8>>), ShareFailure> {
        let key = combine(shares_config, keys).map_err(ShareFailure::Other)?;
        if stored.is_shamir() {
            let root_key = arca_barrier::recover_root_key(self.physical.as_ref(), &key)
                .await
                .map_err(|e| match e {
                    BarrierError::InvalidKey
                    | BarrierError::Decrypt
                    | BarrierError::InvalidKeyLength { .. } => ShareFailure::Mismatch,
                    other => ShareFailure::Other(barrier_err(other)),
                })?;
            return Ok((key, root_key));
        }
        let recovery = load_sealed(self.physical.as_ref(), &self.seals, RECOVERY_KEY_PATH)
            .await
            .map_err(ShareFailure::Other)?
            .ok_or_else(|| {
                ShareFailure::Other(LogicalError::bad_request("no recovery key is stored"))
            })?;
        if recovery.len() != key.len() || !bool::from(recovery.as_slice().ct_eq(key.as_slice())) {
            return Err(ShareFailure::Mismatch);
        }
        let root_key = self.auto_root_key().await.map_err(ShareFailure::Other)?;
        Ok((key, root_key))
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

    /// The rekey in progress of the unseal key (`sys/rekey/*`), or of the recovery key
    /// (`sys/rekey-recovery-key/*`).
    fn rekey_slot(&self, recovery: bool) -> &Mutex<Option<RekeyState>> {
        if recovery {
            &self.rekey_recovery
        } else {
            &self.rekey
        }
    }

    /// `GET sys/rekey/init` (`sys/rekey-recovery-key/init` with `recovery`).
    pub(crate) async fn rekey_status(&self, recovery: bool) -> Result<Value, LogicalError> {
        let required = self.required_shares().await?;
        let g = self.rekey_slot(recovery).lock();
        Ok(self.rekey_status_json(g.as_ref(), required))
    }

    /// `PUT sys/rekey/init` (`sys/rekey-recovery-key/init` with `recovery`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn rekey_init(
        &self,
        recovery: bool,
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
        let stored = self.seal_config().await?;
        let auto_stored = stored.as_ref().is_some_and(|c| !c.is_shamir());
        if recovery && !auto_stored {
            return Err(LogicalError::bad_request("recovery keys not supported"));
        }
        if !recovery && auto_stored {
            return Err(LogicalError::bad_request(
                "rekeying the root key of an auto seal is not supported by this server; rekey the recovery key instead",
            ));
        }
        let mut config = SealConfig::shamir(shares, threshold);
        if recovery {
            config.stored_shares = 0;
        }
        config
            .validate()
            .map_err(|e| LogicalError::bad_request(format!("invalid configuration: {e}")))?;
        let required = self.required_shares().await?;
        let mut g = self.rekey_slot(recovery).lock();
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

    /// `DELETE sys/rekey/init` (`sys/rekey-recovery-key/init` with `recovery`).
    pub(crate) fn rekey_cancel(&self, recovery: bool) {
        *self.rekey_slot(recovery).lock() = None;
    }

    /// `PUT sys/rekey/update` (`sys/rekey-recovery-key/update` with `recovery`).
    pub(crate) async fn rekey_update(
        &self,
        recovery: bool,
        key: Zeroizing<Vec<u8>>,
        nonce: &str,
    ) -> Result<Value, LogicalError> {
        let stored = self
            .seal_config()
            .await?
            .ok_or_else(|| LogicalError::bad_request("Vault is not initialized"))?;
        let current = self.shares_config(&stored).await?;
        let ready = {
            let mut g = self.rekey_slot(recovery).lock();
            let Some(s) = g.as_mut() else {
                return Err(LogicalError::bad_request(if recovery {
                    "no recovery rekey in progress"
                } else {
                    "no rekey in progress"
                }));
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
        let (_, root_key) = match self.root_key_from_shares(&stored, &current, &keys).await {
            Ok(k) => k,
            Err(e) => {
                // Wrong shares: start the collection over, as Vault does.
                if let Some(s) = self.rekey_slot(recovery).lock().as_mut() {
                    s.keys.clear();
                }
                return Err(match e {
                    ShareFailure::Mismatch if recovery => LogicalError::bad_request(format!(
                        "recovery key verification failed: {RECOVERY_MISMATCH}"
                    )),
                    ShareFailure::Mismatch => LogicalError::bad_request(
                        "unable to authenticate provided keys: invalid key",
                    ),
                    ShareFailure::Other(e) => e,
                });
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
            if let Some(s) = self.rekey_slot(recovery).lock().as_mut() {
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
            self.commit_rekey(recovery, &new_config, &new_unseal, &root_key)
                .await?;
            *self.rekey_slot(recovery).lock() = None;
        }
        Ok(out)
    }

    /// Puts the new key in effect: the unseal key (the root key stored under it), or the
    /// recovery key (stored encrypted by the auto seal).
    async fn commit_rekey(
        &self,
        recovery: bool,
        config: &SealConfig,
        unseal_key: &[u8],
        root_key: &[u8],
    ) -> Result<(), LogicalError> {
        if recovery {
            let auto = self
                .seals
                .auto
                .clone()
                .ok_or_else(|| LogicalError::bad_request("recovery keys not supported"))?;
            store_sealed(
                self.physical.as_ref(),
                auto.as_ref(),
                RECOVERY_KEY_PATH,
                unseal_key,
            )
            .await?;
            self.write_recovery_config(config).await?;
            tracing::info!("core: recovery rekey complete, new recovery key shares in effect");
            return Ok(());
        }
        let physical = self.physical.clone();
        arca_barrier::store_root_key(physical.as_ref(), unseal_key, root_key)
            .await
            .map_err(barrier_err)?;
        self.write_seal_config(config).await?;
        tracing::info!("core: rekey complete, new unseal key shares in effect");
        Ok(())
    }

    /// `GET sys/rekey/verify` (`sys/rekey-recovery-key/verify` with `recovery`).
    pub(crate) fn rekey_verify_status(&self, recovery: bool) -> Result<Value, LogicalError> {
        let g = self.rekey_slot(recovery).lock();
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
    pub(crate) fn rekey_verify_cancel(&self, recovery: bool) -> Result<Value, LogicalError> {
        {
            let mut g = self.rekey_slot(recovery).lock();
            if let Some(p) = g.as_mut().and_then(|s| s.pending.as_mut()) {
                p.verify_keys.clear();
                p.verification_nonce = uuid();
            }
        }
        self.rekey_verify_status(recovery)
    }

    /// `PUT sys/rekey/verify` (`sys/rekey-recovery-key/verify` with `recovery`).
    pub(crate) async fn rekey_verify(
        &self,
        recovery: bool,
        key: Zeroizing<Vec<u8>>,
        nonce: &str,
    ) -> Result<Value, LogicalError> {
        let done = {
            let mut g = self.rekey_slot(recovery).lock();
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
        self.commit_rekey(recovery, &config, &unseal, &root).await?;
        *self.rekey_slot(recovery).lock() = None;
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
        let required = self.required_shares().await?;
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
        let required = self.required_shares().await?;
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
        let stored = self
            .seal_config()
            .await?
            .ok_or_else(|| LogicalError::bad_request("Vault is not initialized"))?;
        let config = self.shares_config(&stored).await?;
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
        if let Err(e) = self.root_key_from_shares(&stored, &config, &keys).await {
            return Err(match e {
                ShareFailure::Mismatch if stored.is_shamir() => {
                    LogicalError::bad_request("unable to authenticate provided keys: invalid key")
                }
                // OpenBao's text, its multi-error wrapping included.
                ShareFailure::Mismatch => LogicalError::bad_request(format!(
                    "1 error occurred:\n\t* root generation aborted: unable to authenticate: recovery key verification failed: {RECOVERY_MISMATCH}\n\n"
                )),
                ShareFailure::Other(e) => e,
            });
        }
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
