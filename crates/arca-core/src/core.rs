//! The Core: seal state, the barrier, the mount tables and router, the token and policy
//! stores, and the one entry point every request goes through.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use arca_barrier::{Barrier, BarrierError, SealConfig};
use arca_sdk::plugin_catalog::PluginRuntime;
use arca_sdk::{BackendConfig, Factory, LogicalError, Storage, SystemView};
use arca_storage::PhysicalBackend;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::catalog::Selected;
use crate::mounts::{
    AUTH_TABLE_PATH, MOUNT_TABLE_PATH, MountEntry, MountTable, TableKind, required_auth_mounts,
    required_mounts,
};
use crate::policy_store::PolicyStore;
use crate::router::{BackendHandle, RouteEntry, Router};
use crate::seal_ops::{GenerateRootState, RekeyState, UnsealProgress};
use crate::token_store::{TokenEntry, TokenStore};
use crate::views::BarrierView;

/// Builtin backends the core can mount, by type name. The binary fills it at start-up.
#[derive(Clone, Default)]
pub struct BackendRegistry {
    /// Secrets engines.
    pub secrets: HashMap<String, Factory>,
    /// Auth methods.
    pub auth: HashMap<String, Factory>,
}

/// How the core is built.
#[derive(Clone)]
pub struct CoreConfig {
    /// Physical storage under the barrier.
    pub physical: Arc<dyn PhysicalBackend>,
    /// Its name, shown in `sys/seal-status` (`inmem`, `file`).
    pub storage_type: String,
    /// Builtin engines and auth methods.
    pub registry: BackendRegistry,
    /// System default lease TTL.
    pub default_lease_ttl: Duration,
    /// System maximum lease TTL.
    pub max_lease_ttl: Duration,
    /// Cluster name from the config, if any.
    pub cluster_name: Option<String>,
    /// Version string reported by the API.
    pub version: String,
    /// Directory external plugin executables must sit in (`plugin_directory`); without it
    /// the catalog refuses registrations.
    pub plugin_directory: Option<PathBuf>,
    /// Runs external plugins: the core asks it for a factory whenever a mount of a catalog
    /// plugin is set up or reloaded. Without one, external plugins can be registered but
    /// not mounted.
    pub plugin_runtime: Option<Arc<dyn PluginRuntime>>,
}

impl CoreConfig {
    /// A config over `physical` with Vault's defaults.
    pub fn new(physical: Arc<dyn PhysicalBackend>, storage_type: &str) -> CoreConfig {
        CoreConfig {
            physical,
            storage_type: storage_type.to_string(),
            registry: BackendRegistry::default(),
            default_lease_ttl: Duration::from_secs(768 * 3600),
            max_lease_ttl: Duration::from_secs(768 * 3600),
            cluster_name: None,
            version: env!("CARGO_PKG_VERSION").to_string(),
            plugin_directory: None,
            plugin_runtime: None,
        }
    }
}

/// What a mount's backend runs: shown as `running_plugin_version` and `running_sha256`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunningPlugin {
    pub(crate) version: String,
    pub(crate) sha256: String,
}

impl RunningPlugin {
    /// Writes the running fields into a mount entry; whether they changed.
    pub(crate) fn apply(&self, entry: &mut MountEntry) -> bool {
        let changed =
            entry.running_plugin_version != self.version || entry.running_sha256 != self.sha256;
        entry.running_plugin_version = self.version.clone();
        entry.running_sha256 = self.sha256.clone();
        changed
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

pub(crate) struct Inner {
    pub(crate) config: CoreConfig,
    pub(crate) barrier: Arc<Barrier>,
    pub(crate) router: Router,
    pub(crate) tokens: TokenStore,
    pub(crate) policies: PolicyStore,
    pub(crate) unseal: Mutex<UnsealProgress>,
    /// Held for reading by every request, for writing by seal/unseal transitions.
    pub(crate) state_lock: tokio::sync::RwLock<()>,
    /// Serializes mount table changes.
    pub(crate) mount_lock: tokio::sync::Mutex<()>,
    pub(crate) cluster: ArcSwap<Option<ClusterInfo>>,
    pub(crate) rekey: Mutex<Option<RekeyState>>,
    pub(crate) generate_root: Mutex<Option<GenerateRootState>>,
    pub(crate) active_since: ArcSwap<Option<chrono::DateTime<chrono::Utc>>>,
    /// Finished mount moves by migration id: (source mount, target mount).
    pub(crate) migrations: Mutex<HashMap<String, (String, String)>>,
    /// The plugin catalog's in-memory copy.
    pub(crate) catalog: crate::catalog::Catalog,
    /// Results of recent plugin reloads.
    pub(crate) reloads: crate::reload::ReloadLog,
}

/// The Arca core. Cheap to clone.
#[derive(Clone)]
pub struct Core {
    pub(crate) inner: Arc<Inner>,
}

/// A mount's system view: its tuned TTLs over the system defaults.
pub(crate) struct MountSystemView {
    pub(crate) route: Weak<RouteEntry>,
    pub(crate) default_ttl: Duration,
    pub(crate) max_ttl: Duration,
    pub(crate) version: String,
}

impl SystemView for MountSystemView {
    fn default_lease_ttl(&self) -> Duration {
        match self.route.upgrade() {
            Some(r) if r.mount.load().config.default_lease_ttl > 0 => {
                Duration::from_secs(r.mount.load().config.default_lease_ttl)
            }
            _ => self.default_ttl,
        }
    }
    fn max_lease_ttl(&self) -> Duration {
        match self.route.upgrade() {
            Some(r) if r.mount.load().config.max_lease_ttl > 0 => {
                Duration::from_secs(r.mount.load().config.max_lease_ttl)
            }
            _ => self.max_ttl,
        }
    }
    fn local_mount(&self) -> bool {
        self.route.upgrade().is_some_and(|r| r.mount.load().local)
    }
    fn server_version(&self) -> String {
        self.version.clone()
    }
}

pub(crate) fn barrier_err(e: BarrierError) -> LogicalError {
    match e {
        BarrierError::Sealed => LogicalError::Sealed,
        other => LogicalError::internal(other),
    }
}

impl Core {
    /// A sealed core over the configured storage.
    pub fn new(config: CoreConfig) -> Core {
        let barrier = Arc::new(Barrier::new(config.physical.clone()));
        let token_view: Arc<dyn Storage> =
            Arc::new(BarrierView::new(barrier.clone(), "sys/token/"));
        let policy_view: Arc<dyn Storage> =
            Arc::new(BarrierView::new(barrier.clone(), "sys/policy/"));
        Core {
            inner: Arc::new(Inner {
                config,
                barrier,
                router: Router::new(),
                tokens: TokenStore::new(token_view),
                policies: PolicyStore::new(policy_view),
                unseal: Mutex::new(UnsealProgress::default()),
                state_lock: tokio::sync::RwLock::new(()),
                mount_lock: tokio::sync::Mutex::new(()),
                cluster: ArcSwap::from_pointee(None),
                rekey: Mutex::new(None),
                generate_root: Mutex::new(None),
                active_since: ArcSwap::from_pointee(None),
                migrations: Mutex::new(HashMap::new()),
                catalog: Default::default(),
                reloads: Default::default(),
            }),
        }
    }

    /// The configuration the core was built with.
    pub fn config(&self) -> &CoreConfig {
        &self.inner.config
    }

    /// Whether the barrier is sealed.
    pub fn sealed(&self) -> bool {
        self.inner.barrier.sealed()
    }

    /// Whether the core has been initialized.
    pub async fn initialized(&self) -> Result<bool, LogicalError> {
        Ok(self.seal_config().await?.is_some())
    }

    /// The stored seal configuration.
    pub async fn seal_config(&self) -> Result<Option<SealConfig>, LogicalError> {
        arca_barrier::read_seal_config(self.inner.config.physical.as_ref())
            .await
            .map_err(barrier_err)
    }

    /// The cluster name and id (set once unsealed).
    pub fn cluster_info(&self) -> Option<ClusterInfo> {
        (**self.inner.cluster.load()).clone()
    }

    /// When this node became active.
    pub fn active_since(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        **self.inner.active_since.load()
    }

    /// The token store.
    pub fn token_store(&self) -> &TokenStore {
        &self.inner.tokens
    }

    /// The policy store.
    pub fn policy_store(&self) -> &PolicyStore {
        &self.inner.policies
    }

    /// Initializes a new core: a root key, an unseal key split in shares, the keyring, the
    /// required mounts and a root token. The core stays sealed afterwards.
    pub async fn initialize(
        &self,
        shares: usize,
        threshold: usize,
        root_token_id: Option<String>,
    ) -> Result<InitResult, LogicalError> {
        let _state = self.inner.state_lock.write().await;
        if self.initialized().await? {
            return Err(LogicalError::bad_request("Vault is already initialized"));
        }
        let seal_config = SealConfig::shamir(shares, threshold);
        seal_config
            .validate()
            .map_err(|e| LogicalError::bad_request(e.to_string()))?;
        let physical = self.inner.config.physical.clone();
        let root_key = arca_barrier::generate_key().map_err(barrier_err)?;
        let unseal_key = arca_barrier::generate_key().map_err(barrier_err)?;
        self.inner
            .barrier
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
        self.inner
            .barrier
            .unseal(&root_key)
            .await
            .map_err(barrier_err)?;
        let result = async {
            self.setup_after_unseal().await?;
            let (token, _) = self.create_root_token(root_token_id).await?;
            Ok::<_, LogicalError>(token)
        }
        .await;
        self.teardown_before_seal().await;
        self.inner.barrier.seal();
        let root_token = result?;
        // Written last: a core counts as initialized only once everything above exists.
        arca_barrier::write_seal_config(physical.as_ref(), &seal_config)
            .await
            .map_err(barrier_err)?;
        Ok(InitResult { keys, root_token })
    }

    /// Creates a root token (the init token, generate-root, dev mode).
    pub async fn create_root_token(
        &self,
        id: Option<String>,
    ) -> Result<(Zeroizing<String>, Arc<TokenEntry>), LogicalError> {
        self.inner
            .tokens
            .create(
                TokenEntry {
                    policies: vec!["root".into()],
                    path: "auth/token/root".into(),
                    display_name: "root".into(),
                    orphan: true,
                    ..TokenEntry::default()
                },
                id,
            )
            .await
    }

    /// Opens the barrier with `root_key` and brings every subsystem up.
    pub(crate) async fn unseal_with_root_key(&self, root_key: &[u8]) -> Result<(), LogicalError> {
        let _state = self.inner.state_lock.write().await;
        if !self.inner.barrier.sealed() {
            return Ok(());
        }
        self.inner
            .barrier
            .unseal(root_key)
            .await
            .map_err(|e| match e {
                BarrierError::InvalidKey | BarrierError::Decrypt => {
                    LogicalError::bad_request("Unseal failed, invalid key")
                }
                other => barrier_err(other),
            })?;
        if let Err(e) = self.setup_after_unseal().await {
            self.teardown_before_seal().await;
            self.inner.barrier.seal();
            return Err(e);
        }
        tracing::info!("core: vault is unsealed");
        Ok(())
    }

    /// Seals the core: waits for requests in flight, stops every backend, drops the keys.
    pub async fn seal(&self) -> Result<(), LogicalError> {
        let _state = self.inner.state_lock.write().await;
        if self.inner.barrier.sealed() {
            return Ok(());
        }
        self.teardown_before_seal().await;
        self.inner.barrier.seal();
        tracing::info!("core: vault is sealed");
        Ok(())
    }

    async fn setup_after_unseal(&self) -> Result<(), LogicalError> {
        self.inner.tokens.setup().await?;
        // Revoking a token destroys its cubbyhole.
        let weak = Arc::downgrade(&self.inner);
        self.inner.tokens.set_on_revoke(Arc::new(move |cubbyhole_id: String| {
            let weak = weak.clone();
            Box::pin(async move {
                let Some(inner) = weak.upgrade() else { return };
                if cubbyhole_id.is_empty() {
                    return;
                }
                let Some(route) = inner.router.get("cubbyhole/") else { return };
                let view = crate::views::BarrierView::new(
                    inner.barrier.clone(),
                    format!("{}{cubbyhole_id}/", route.mount.load().storage_prefix()),
                );
                if let Err(e) = view.clear().await {
                    tracing::warn!(error = %e, "core: could not destroy a revoked token's cubbyhole");
                }
            })
        }));
        self.inner.policies.setup().await?;
        self.load_cluster_info().await?;
        self.load_plugin_catalog().await?;
        self.load_mounts().await?;
        self.inner
            .active_since
            .store(Arc::new(Some(chrono::Utc::now())));
        Ok(())
    }

    async fn teardown_before_seal(&self) {
        for route in self.inner.router.clear() {
            route.backend.load().backend.cleanup().await;
        }
        self.inner.tokens.teardown();
        self.inner.policies.teardown();
        self.clear_plugin_catalog();
        self.inner.cluster.store(Arc::new(None));
        self.inner.active_since.store(Arc::new(None));
        *self.inner.rekey.lock() = None;
        *self.inner.generate_root.lock() = None;
        *self.inner.unseal.lock() = UnsealProgress::default();
    }

    async fn load_cluster_info(&self) -> Result<(), LogicalError> {
        const PATH: &str = "core/cluster/local/info";
        let b = &self.inner.barrier;
        let info = match b.get(PATH).await.map_err(barrier_err)? {
            Some(bytes) => {
                serde_json::from_slice::<ClusterInfo>(&bytes).map_err(LogicalError::internal)?
            }
            None => {
                let info = ClusterInfo {
                    version: 1,
                    name: self.inner.config.cluster_name.clone().unwrap_or_else(|| {
                        format!("vault-cluster-{}", crate::random::random_hex(4))
                    }),
                    id: crate::random::uuid(),
                };
                let bytes = serde_json::to_vec(&info).map_err(LogicalError::internal)?;
                b.put(PATH, &bytes).await.map_err(barrier_err)?;
                info
            }
        };
        self.inner.cluster.store(Arc::new(Some(info)));
        Ok(())
    }

    pub(crate) async fn read_table(
        &self,
        kind: TableKind,
    ) -> Result<Option<MountTable>, LogicalError> {
        let path = match kind {
            TableKind::Mounts => MOUNT_TABLE_PATH,
            TableKind::Auth => AUTH_TABLE_PATH,
        };
        match self.inner.barrier.get(path).await.map_err(barrier_err)? {
            Some(bytes) => {
                let t: MountTable =
                    serde_json::from_slice(&bytes).map_err(LogicalError::internal)?;
                if t.version != crate::mounts::MOUNT_TABLE_VERSION {
                    return Err(LogicalError::internal(format!(
                        "unsupported mount table version {}",
                        t.version
                    )));
                }
                Ok(Some(t))
            }
            None => Ok(None),
        }
    }

    pub(crate) async fn write_table(
        &self,
        kind: TableKind,
        table: &MountTable,
    ) -> Result<(), LogicalError> {
        let path = match kind {
            TableKind::Mounts => MOUNT_TABLE_PATH,
            TableKind::Auth => AUTH_TABLE_PATH,
        };
        let bytes = serde_json::to_vec(table).map_err(LogicalError::internal)?;
        self.inner
            .barrier
            .put(path, &bytes)
            .await
            .map_err(barrier_err)
    }

    /// The current mount table of `kind`, from the router (the source of truth while unsealed).
    pub fn mount_entries(&self, kind: TableKind) -> Vec<MountEntry> {
        let mut v: Vec<MountEntry> = self
            .inner
            .router
            .all()
            .into_iter()
            .map(|(_, r)| (**r.mount.load()).clone())
            .filter(|m| m.table == kind)
            .collect();
        v.sort_by(|a, b| a.path.cmp(&b.path));
        v
    }

    /// Writes the router's view of a table to storage.
    pub(crate) async fn persist_table(&self, kind: TableKind) -> Result<(), LogicalError> {
        let mut t = MountTable::new();
        t.entries = self.mount_entries(kind);
        self.write_table(kind, &t).await
    }

    async fn load_mounts(&self) -> Result<(), LogicalError> {
        for kind in [TableKind::Mounts, TableKind::Auth] {
            let table = match self.read_table(kind).await? {
                Some(t) => t,
                None => {
                    let mut t = MountTable::new();
                    t.entries = match kind {
                        TableKind::Mounts => required_mounts(),
                        TableKind::Auth => required_auth_mounts(),
                    };
                    self.write_table(kind, &t).await?;
                    t
                }
            };
            for entry in table.entries {
                // A backend that cannot start must not keep the core sealed: its mount stays
                // in the table (and in the router, with no backend) until a reload fixes it.
                self.setup_route(entry, true).await?;
            }
        }
        Ok(())
    }

    /// Builds the backend of `entry` and adds its route.
    pub(crate) async fn setup_route(
        &self,
        mut entry: MountEntry,
        keep_on_failure: bool,
    ) -> Result<Arc<RouteEntry>, LogicalError> {
        let storage: Arc<dyn Storage> = Arc::new(BarrierView::new(
            self.inner.barrier.clone(),
            entry.storage_prefix(),
        ));
        // A new mount asking for the builtin version by name stores it as "" (OpenBao).
        if !keep_on_failure && entry.plugin_version == self.builtin_plugin_version() {
            entry.plugin_version.clear();
        }
        if entry.running_plugin_version.is_empty() && entry.running_sha256.is_empty() {
            entry.running_plugin_version = self.builtin_plugin_version();
        }
        let route = Arc::new(RouteEntry {
            mount: ArcSwap::from_pointee(entry.clone()),
            backend: ArcSwap::from_pointee(BackendHandle {
                backend: Arc::new(crate::sys::Unavailable),
                special: Default::default(),
            }),
            storage: storage.clone(),
        });
        match self.build_backend_running(&entry, &route).await {
            Ok((handle, running)) => {
                route.backend.store(Arc::new(handle));
                running.apply(&mut entry);
                route.mount.store(Arc::new(entry.clone()));
            }
            Err(e) if keep_on_failure => {
                tracing::error!(mount = %entry.route_path(), error = %e, "core: failed to set up mount");
            }
            Err(e) => return Err(e),
        }
        self.inner.router.insert(entry.route_path(), route.clone());
        Ok(route)
    }

    /// Builds a fresh backend instance for a mount (used at mount time and by reload).
    pub(crate) async fn build_backend(
        &self,
        entry: &MountEntry,
        route: &Arc<RouteEntry>,
    ) -> Result<BackendHandle, LogicalError> {
        self.build_backend_running(entry, route)
            .await
            .map(|(handle, _)| handle)
    }

    /// Builds and initialises a fresh backend instance for a mount, choosing the plugin from
    /// the catalog by the mount's type and `plugin_version`; says what now runs.
    pub(crate) async fn build_backend_running(
        &self,
        entry: &MountEntry,
        route: &Arc<RouteEntry>,
    ) -> Result<(BackendHandle, RunningPlugin), LogicalError> {
        let builtin = RunningPlugin {
            version: self.builtin_plugin_version(),
            sha256: String::new(),
        };
        let (backend, running): (Arc<dyn arca_sdk::Backend>, RunningPlugin) =
            match (entry.table, entry.kind.as_str()) {
                (TableKind::Mounts, "system") => (
                    Arc::new(crate::sys::SystemBackend::new(Arc::downgrade(&self.inner))),
                    builtin,
                ),
                (TableKind::Auth, "token") => (
                    Arc::new(crate::token_backend::TokenBackend::new(Arc::downgrade(
                        &self.inner,
                    ))),
                    builtin,
                ),
                (table, kind) => {
                    // `generic` is KV (v1, it takes no version) under its old name.
                    let kind = if table == TableKind::Mounts && kind == "generic" {
                        "kv"
                    } else {
                        kind
                    };
                    let selected = match self.select_plugin(table, kind, &entry.plugin_version) {
                        // Singletons such as cubbyhole are builtins the catalog does not list.
                        Err(_) if crate::catalog::is_singleton_type(kind) => {
                            let factories = match table {
                                TableKind::Mounts => &self.inner.config.registry.secrets,
                                TableKind::Auth => &self.inner.config.registry.auth,
                            };
                            match factories.get(kind) {
                                Some(f) => Selected::Builtin(f.clone()),
                                None => {
                                    return Err(LogicalError::bad_request(format!(
                                        "plugin not found in the catalog: {kind}"
                                    )));
                                }
                            }
                        }
                        other => other?,
                    };
                    let (factory, plugin_version, mut running) = match selected {
                        Selected::Builtin(f) => (f, entry.plugin_version.clone(), builtin),
                        Selected::External(e) => {
                            let f = self.external_factory(&e).await?;
                            let running = RunningPlugin {
                                version: e.version.clone(),
                                sha256: e.sha256_hex(),
                            };
                            (f, e.version.clone(), running)
                        }
                    };
                    let mut config: HashMap<String, String> = entry
                        .options
                        .clone()
                        .unwrap_or_default()
                        .into_iter()
                        .collect();
                    config.insert("plugin_name".into(), entry.kind.clone());
                    config.insert(
                        "plugin_type".into(),
                        match table {
                            TableKind::Mounts => "secret",
                            TableKind::Auth => "auth",
                        }
                        .into(),
                    );
                    config.insert("plugin_version".into(), plugin_version);
                    let system = Arc::new(MountSystemView {
                        route: Arc::downgrade(route),
                        default_ttl: self.inner.config.default_lease_ttl,
                        max_ttl: self.inner.config.max_lease_ttl,
                        version: self.inner.config.version.clone(),
                    });
                    let backend = factory(BackendConfig {
                        storage: route.storage.clone(),
                        system,
                        config,
                        backend_uuid: entry.uuid.clone(),
                    })
                    .await?;
                    if let Some(refusal) = crate::mounts::wrong_backend_type(
                        table,
                        &entry.kind,
                        backend.backend_type(),
                    ) {
                        backend.cleanup().await;
                        return Err(refusal);
                    }
                    if let Err(e) = backend.initialize().await {
                        backend.cleanup().await;
                        return Err(e);
                    }
                    if !running.sha256.is_empty()
                        && let Some(v) = backend.version().filter(|v| !v.is_empty())
                    {
                        running.version = v;
                    }
                    (backend, running)
                }
            };
        let special = backend.special_paths();
        Ok((BackendHandle { backend, special }, running))
    }

    /// Whether a builtin factory exists for `kind` in `table`.
    pub fn has_backend_type(&self, table: TableKind, kind: &str) -> bool {
        let singleton = match table {
            TableKind::Mounts => {
                kind == "system"
                    || kind == "generic"
                    || self.inner.config.registry.secrets.contains_key(kind)
            }
            TableKind::Auth => {
                kind == "token" || self.inner.config.registry.auth.contains_key(kind)
            }
        };
        singleton || self.catalog_has(table, kind)
    }
}
