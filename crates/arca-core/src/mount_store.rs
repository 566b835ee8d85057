//! The mount table and router subsystem: both mount tables (`core/mounts`, `core/auth`) and
//! the router that serves them, the lock every table change takes, finished mount moves,
//! and the building of a mount's backend (builtin, singleton or external plugin from the
//! catalog) over its own storage view.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use arca_barrier::Barrier;
use arca_sdk::{
    Backend, BackendConfig, BackendType, ExistenceCheck, LogicalError, Request, Response,
    SpecialPaths, Storage, SystemView,
};
use async_trait::async_trait;
use parking_lot::Mutex;

use crate::catalog::{Catalog, Selected};
use crate::mounts::{
    AUTH_TABLE_PATH, MOUNT_TABLE_PATH, MountEntry, MountTable, TableKind, required_auth_mounts,
    required_mounts,
};
use crate::namespaces::Namespace;
use crate::password_policies::{GenerateError, PasswordPolicies};
use crate::router::{BackendHandle, RouteEntry, Router};
use crate::views::{BarrierView, barrier_err};

/// Builds the core's own singleton backends (`sys/`, `auth/token/`) by table and type;
/// `None` for any other type. The core hands it over once every subsystem exists.
pub(crate) type SingletonBuilder =
    Arc<dyn Fn(TableKind, &str) -> Option<Arc<dyn Backend>> + Send + Sync>;

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

/// A mount's system view: its tuned TTLs over the system defaults, its namespace's
/// password policies and the plugin catalog's database plugins.
pub(crate) struct MountSystemView {
    pub(crate) route: Weak<RouteEntry>,
    pub(crate) default_ttl: Duration,
    pub(crate) max_ttl: Duration,
    pub(crate) version: String,
    pub(crate) passwords: Arc<PasswordPolicies>,
    pub(crate) catalog: Arc<Catalog>,
}

#[async_trait]
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
    async fn generate_password_from_policy(
        &self,
        policy_name: &str,
    ) -> Result<zeroize::Zeroizing<String>, LogicalError> {
        let Some(route) = self.route.upgrade() else {
            return Err(LogicalError::internal("the mount is gone"));
        };
        let ns = route.mount.load().namespace_prefix.clone();
        self.passwords
            .generate(&ns, policy_name)
            .await
            .map_err(|e| match e {
                GenerateError::Storage(e) => e,
                other => LogicalError::internal(other),
            })
    }
    async fn lookup_database_plugin(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<arca_sdk::plugin_catalog::PluginRunner>, LogicalError> {
        self.catalog.database_runner(name, version)
    }
}

/// A placeholder backend for a mount whose real backend is not built yet.
pub(crate) struct Unavailable;

#[async_trait]
impl Backend for Unavailable {
    async fn handle_request(&self, _req: Request) -> Result<Option<Response>, LogicalError> {
        Err(LogicalError::not_found(format!(
            "no handler for route {:?}. route entry found, but backend is nil.",
            _req.mount_point.clone() + &_req.path
        )))
    }
    async fn handle_existence_check(&self, _req: &Request) -> Result<ExistenceCheck, LogicalError> {
        Ok(ExistenceCheck::default())
    }
    fn special_paths(&self) -> SpecialPaths {
        SpecialPaths::default()
    }
    fn backend_type(&self) -> BackendType {
        BackendType::Unknown
    }
}

/// The mount tables and the router.
pub(crate) struct MountStore {
    barrier: Arc<Barrier>,
    router: Router,
    /// Serializes mount table changes (shared with the catalog).
    lock: Arc<tokio::sync::Mutex<()>>,
    /// Finished mount moves by migration id: (source mount, target mount).
    migrations: Mutex<HashMap<String, (String, String)>>,
    catalog: Arc<Catalog>,
    default_ttl: Duration,
    max_ttl: Duration,
    version: String,
    singletons: OnceLock<SingletonBuilder>,
    /// Password policies, for the mounts' system views.
    passwords: Arc<PasswordPolicies>,
}

impl MountStore {
    /// An empty store; `lock` is the table lock the catalog shares.
    pub(crate) fn new(
        barrier: Arc<Barrier>,
        catalog: Arc<Catalog>,
        lock: Arc<tokio::sync::Mutex<()>>,
        default_ttl: Duration,
        max_ttl: Duration,
        version: String,
        passwords: Arc<PasswordPolicies>,
    ) -> MountStore {
        MountStore {
            barrier,
            router: Router::new(),
            lock,
            migrations: Mutex::new(HashMap::new()),
            catalog,
            default_ttl,
            max_ttl,
            version,
            singletons: OnceLock::new(),
            passwords,
        }
    }

    /// Hands over the builder of the core's singleton backends (once).
    pub(crate) fn set_singletons(&self, builder: SingletonBuilder) {
        let _ = self.singletons.set(builder);
    }

    /// The router.
    pub(crate) fn router(&self) -> &Router {
        &self.router
    }

    /// Takes the table lock: mount changes, catalog changes and reloads run one at a time.
    pub(crate) async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.lock.lock().await
    }

    /// The finished mount moves.
    pub(crate) fn migrations(&self) -> &Mutex<HashMap<String, (String, String)>> {
        &self.migrations
    }

    /// The system default and maximum lease TTLs.
    pub(crate) fn system_ttls(&self) -> (Duration, Duration) {
        (self.default_ttl, self.max_ttl)
    }

    /// A storage view of the barrier under `prefix` (a mount's, or a cubbyhole's).
    pub(crate) fn view(&self, prefix: String) -> BarrierView {
        BarrierView::new(self.barrier.clone(), prefix)
    }

    /// The storage key of `ns`'s table of `kind`.
    fn table_key(ns: &Namespace, kind: TableKind) -> String {
        let path = match kind {
            TableKind::Mounts => MOUNT_TABLE_PATH,
            TableKind::Auth => AUTH_TABLE_PATH,
        };
        format!("{}{path}", ns.storage_prefix())
    }

    pub(crate) async fn read_table(
        &self,
        ns: &Namespace,
        kind: TableKind,
    ) -> Result<Option<MountTable>, LogicalError> {
        match self
            .barrier
            .get(&Self::table_key(ns, kind))
            .await
            .map_err(barrier_err)?
        {
            Some(bytes) => {
                let mut t: MountTable =
                    serde_json::from_slice(&bytes).map_err(LogicalError::internal)?;
                if t.version != crate::mounts::MOUNT_TABLE_VERSION {
                    return Err(LogicalError::internal(format!(
                        "unsupported mount table version {}",
                        t.version
                    )));
                }
                for e in &mut t.entries {
                    e.set_namespace(ns);
                }
                Ok(Some(t))
            }
            None => Ok(None),
        }
    }

    pub(crate) async fn write_table(
        &self,
        ns: &Namespace,
        kind: TableKind,
        table: &MountTable,
    ) -> Result<(), LogicalError> {
        self.write_table_at(&ns.storage_prefix(), kind, table).await
    }

    /// Writes `table` as the table of `kind` of the namespace whose prefix is `prefix`.
    async fn write_table_at(
        &self,
        prefix: &str,
        kind: TableKind,
        table: &MountTable,
    ) -> Result<(), LogicalError> {
        let path = match kind {
            TableKind::Mounts => MOUNT_TABLE_PATH,
            TableKind::Auth => AUTH_TABLE_PATH,
        };
        let bytes = serde_json::to_vec(table).map_err(LogicalError::internal)?;
        self.barrier
            .put(&format!("{prefix}{path}"), &bytes)
            .await
            .map_err(barrier_err)
    }

    /// The router's entries of `kind` in the namespace with id `namespace_id`, by path.
    pub(crate) fn entries_of(&self, namespace_id: &str, kind: TableKind) -> Vec<MountEntry> {
        let mut v: Vec<MountEntry> = self
            .router
            .all()
            .into_iter()
            .map(|(_, r)| (**r.mount.load()).clone())
            .filter(|m| m.table == kind && m.namespace_id == namespace_id)
            .collect();
        v.sort_by(|a, b| a.path.cmp(&b.path));
        v
    }

    /// The current mount table of `kind` in `ns`, from the router (the source of truth while
    /// unsealed).
    pub(crate) fn entries(&self, ns: &Namespace, kind: TableKind) -> Vec<MountEntry> {
        self.entries_of(&ns.id, kind)
    }

    /// Writes the router's view of `ns`'s table to storage.
    pub(crate) async fn persist_table(
        &self,
        ns: &Namespace,
        kind: TableKind,
    ) -> Result<(), LogicalError> {
        let mut t = MountTable::new();
        t.entries = self.entries(ns, kind);
        self.write_table(ns, kind, &t).await
    }

    /// Writes the table of `kind` of the namespace `entry` belongs to.
    pub(crate) async fn persist_table_of(
        &self,
        entry: &MountEntry,
        kind: TableKind,
    ) -> Result<(), LogicalError> {
        let mut t = MountTable::new();
        t.entries = self.entries_of(&entry.namespace_id, kind);
        self.write_table_at(&entry.namespace_prefix, kind, &t).await
    }

    /// Reads the tables of every namespace in `namespaces` (laying down the required mounts
    /// the first time) and mounts every entry (at unseal).
    pub(crate) async fn load(&self, namespaces: &[Arc<Namespace>]) -> Result<(), LogicalError> {
        for ns in namespaces {
            self.load_namespace(ns).await?;
        }
        Ok(())
    }

    /// Reads `ns`'s tables (laying down the required mounts the first time: a new namespace
    /// gets its own `sys/`, `cubbyhole/` and `auth/token/`) and mounts every entry.
    pub(crate) async fn load_namespace(&self, ns: &Namespace) -> Result<(), LogicalError> {
        for kind in [TableKind::Mounts, TableKind::Auth] {
            let table = match self.read_table(ns, kind).await? {
                Some(t) => t,
                None => {
                    let mut t = MountTable::new();
                    t.entries = match kind {
                        TableKind::Mounts => required_mounts(),
                        TableKind::Auth => required_auth_mounts(),
                    };
                    for e in &mut t.entries {
                        e.set_namespace(ns);
                        // A namespace's token mount defaults to `default` (OpenBao's).
                        if !ns.is_root() && e.kind == "token" {
                            e.config.token_type = "default".into();
                        }
                    }
                    self.write_table(ns, kind, &t).await?;
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

    /// Removes `ns`'s routes and stops their backends (its namespace is being deleted).
    pub(crate) async fn unload_namespace(&self, ns: &Namespace) {
        for (path, route) in self.router.all() {
            if route.mount.load().namespace_id == ns.id
                && let Some(route) = self.router.remove(&path)
            {
                route.backend.load().backend.cleanup().await;
            }
        }
    }

    /// Every mount's accessor with its API type and its path inside its namespace
    /// (`auth/userpass/`), read once for answers that name many mounts.
    pub(crate) fn accessor_names(&self) -> HashMap<String, (String, String)> {
        self.router
            .all()
            .into_iter()
            .map(|(_, route)| {
                let m = route.mount.load();
                (m.accessor.clone(), (m.api_type(), m.rel_route_path()))
            })
            .collect()
    }

    /// The mount (secrets or auth, any namespace) whose accessor is `accessor`.
    pub(crate) fn by_accessor(&self, accessor: &str) -> Option<MountEntry> {
        self.router.all().into_iter().find_map(|(_, route)| {
            let m = route.mount.load();
            (m.accessor == accessor).then(|| (**m).clone())
        })
    }

    /// The mount of `ns` whose route path (inside `ns`) is exactly `rel`.
    pub(crate) fn route_in(&self, ns: &Namespace, rel: &str) -> Option<Arc<RouteEntry>> {
        self.router.get(&format!("{}{rel}", ns.path))
    }

    /// Removes every route and stops its backend (at seal).
    pub(crate) async fn unload(&self) {
        for route in self.router.clear() {
            route.backend.load().backend.cleanup().await;
        }
    }

    /// Builds the backend of `entry` and adds its route.
    pub(crate) async fn setup_route(
        &self,
        mut entry: MountEntry,
        keep_on_failure: bool,
    ) -> Result<Arc<RouteEntry>, LogicalError> {
        let storage: Arc<dyn Storage> = Arc::new(BarrierView::new(
            self.barrier.clone(),
            entry.storage_prefix(),
        ));
        let builtin_version = self.catalog.builtin_plugin_version();
        // A new mount asking for the builtin version by name stores it as "" (OpenBao).
        if !keep_on_failure && entry.plugin_version == builtin_version {
            entry.plugin_version.clear();
        }
        if entry.running_plugin_version.is_empty() && entry.running_sha256.is_empty() {
            entry.running_plugin_version = builtin_version;
        }
        let route = Arc::new(RouteEntry {
            mount: ArcSwap::from_pointee(entry.clone()),
            backend: ArcSwap::from_pointee(BackendHandle {
                backend: Arc::new(Unavailable),
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
        self.router.insert(entry.route_path(), route.clone());
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
            version: self.catalog.builtin_plugin_version(),
            sha256: String::new(),
        };
        let singleton = self
            .singletons
            .get()
            .and_then(|build| build(entry.table, &entry.kind));
        let (backend, running): (Arc<dyn Backend>, RunningPlugin) = match singleton {
            Some(backend) => (backend, builtin),
            None => {
                let (table, kind) = (entry.table, entry.kind.as_str());
                // `generic` is KV (v1, it takes no version) under its old name.
                let kind = if table == TableKind::Mounts && kind == "generic" {
                    "kv"
                } else {
                    kind
                };
                let selected = match self
                    .catalog
                    .select_plugin(table, kind, &entry.plugin_version)
                {
                    // Singletons such as cubbyhole are builtins the catalog does not list.
                    Err(_) if crate::catalog::is_singleton_type(kind) => {
                        match self.catalog.registry_factory(table, kind) {
                            Some(f) => Selected::Builtin(f),
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
                        let f = self.catalog.external_factory(&e).await?;
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
                    default_ttl: self.default_ttl,
                    max_ttl: self.max_ttl,
                    version: self.version.clone(),
                    passwords: self.passwords.clone(),
                    catalog: self.catalog.clone(),
                });
                let backend = factory(BackendConfig {
                    storage: route.storage.clone(),
                    system,
                    config,
                    backend_uuid: entry.uuid.clone(),
                })
                .await?;
                if let Some(refusal) =
                    crate::mounts::wrong_backend_type(table, &entry.kind, backend.backend_type())
                {
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

    /// Whether a backend of type `kind` can be mounted in `table` (singleton, builtin or
    /// registered plugin).
    pub(crate) fn has_backend_type(&self, table: TableKind, kind: &str) -> bool {
        let singleton = match table {
            TableKind::Mounts => kind == "system" || kind == "generic",
            TableKind::Auth => kind == "token",
        };
        singleton || self.catalog.registry_has(table, kind) || self.catalog.catalog_has(table, kind)
    }
}
