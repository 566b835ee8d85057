//! The Core composes the subsystems — seal, mount table and router, token store, policy
//! store, plugin catalog and reload log — and runs the request pipeline over them. Each
//! subsystem owns its state; the `sys/` and `auth/token/` backends are handed the subsystems
//! they serve, never the Core. The expiration manager (leases) is one of them; the audit
//! broker and the identity store join here as further subsystems.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arca_barrier::SealConfig;
use arca_sdk::plugin_catalog::PluginRuntime;
use arca_sdk::{Backend, LogicalError};
use arca_storage::PhysicalBackend;
use async_trait::async_trait;
use zeroize::Zeroizing;

use crate::audit::{AuditBroker, BrokerConfig, ConfigAuditDevice};
pub use crate::catalog::BackendRegistry;
use crate::catalog::{Catalog, PluginRegistration};
use crate::ha::{HaRole, LeaderInfo, PeerNode};
use crate::identity::{IdentityBackend, IdentityStore};
use crate::leases::{DEFAULT_REVOKE_RETRY_BASE, ExpirationManager};
use crate::lockout::Lockout;
use crate::mount_store::{MountStore, SingletonBuilder};
use crate::mounts::{TableKind, UserLockoutConfig};
use crate::namespace_seals::NamespaceSeals;
use crate::namespaces::NamespaceStore;
use crate::policy_store::PolicyStore;
use crate::reload::{ReloadLog, ReloadOutcome, ReloadStatus, ReloadTarget};
pub use crate::seal_ops::{AutoUnseal, ClusterInfo, InitResult};
use crate::seal_ops::{Lifecycle, Seal};
use crate::sys::{SystemBackend, SystemDeps};
use crate::token_backend::TokenBackend;
use crate::token_store::{TokenEntry, TokenStore};
use crate::views::BarrierView;
use crate::wrapping::Wrapping;

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
    /// Base of the backoff between failed lease revocations (Vault's 10 s; tests shorten it).
    pub lease_revoke_retry_base: Duration,
    /// The address advertised to clients (`api_addr`), the `addr` claim of JWT wrapping
    /// tokens.
    pub api_addr: Option<String>,
    /// Audit devices declared in the config file (`audit "file" "name" { ... }`): enabled at
    /// every unseal, whatever `unsafe_allow_api_audit_creation` says.
    pub audit_devices: Vec<ConfigAuditDevice>,
    /// Whether `sys/audit/<path>` may enable devices (OpenBao's
    /// `unsafe_allow_api_audit_creation`, off by default).
    pub unsafe_allow_api_audit_creation: bool,
    /// Whether devices may take the `prefix` option (`allow_audit_log_prefixing`).
    pub allow_audit_log_prefixing: bool,
    /// User lockout settings from the config file (`user_lockout "<type>|all" { ... }`), by
    /// auth method type.
    pub user_lockouts: HashMap<String, UserLockoutConfig>,
    /// The seals the config names (`seal "transit"`); the default is Shamir.
    pub seals: crate::auto_seal::SealSetup,
    /// Membership of an HA cluster (a storage backend several nodes share); `None` for a
    /// single node.
    pub ha: Option<crate::ha::HaConfig>,
    /// Serves `sys/storage/raft/*` (integrated storage's administration), after the ACL.
    pub storage_admin: Option<Arc<dyn crate::ha::StorageAdmin>>,
    /// The server around the core, for the introspection endpoints (`sys/loggers`, ...).
    pub server_info: Option<Arc<dyn crate::server_info::ServerInfo>>,
    /// Telemetry (the `telemetry` stanza's sinks); [`crate::Metrics::disabled`] by default.
    pub metrics: crate::metrics::Metrics,
    /// Header names the listeners' `custom_response_headers` set: `sys/config/ui/headers`
    /// refuses them, as OpenBao.
    pub custom_response_header_names: Vec<String>,
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
            lease_revoke_retry_base: DEFAULT_REVOKE_RETRY_BASE,
            api_addr: None,
            audit_devices: Vec::new(),
            unsafe_allow_api_audit_creation: false,
            allow_audit_log_prefixing: false,
            user_lockouts: HashMap::new(),
            seals: crate::auto_seal::SealSetup::default(),
            ha: None,
            storage_admin: None,
            server_info: None,
            metrics: crate::metrics::Metrics::disabled(),
            custom_response_header_names: Vec::new(),
        }
    }
}

/// The subsystems, each owning its state.
pub(crate) struct Inner {
    pub(crate) config: CoreConfig,
    /// Barrier, keys, state lock, unseal/rekey/generate-root progress, cluster identity.
    pub(crate) seal: Arc<Seal>,
    /// Mount tables and router.
    pub(crate) mounts: Arc<MountStore>,
    pub(crate) tokens: Arc<TokenStore>,
    pub(crate) policies: Arc<PolicyStore>,
    /// The plugin catalog.
    pub(crate) catalog: Arc<Catalog>,
    /// Results of recent plugin reloads.
    pub(crate) reloads: Arc<ReloadLog>,
    /// Leases: registration, renewal, revocation, the expiry timer.
    pub(crate) leases: Arc<ExpirationManager>,
    /// Response wrapping: wrapping tokens and the responses in their cubbyholes.
    pub(crate) wrapping: Arc<Wrapping>,
    /// Audit devices: every request and response is logged through them, fail closed.
    pub(crate) audit: Arc<AuditBroker>,
    /// Failed logins and locked users.
    pub(crate) lockout: Arc<Lockout>,
    /// The namespaces.
    pub(crate) namespaces: Arc<NamespaceStore>,
    /// The seals of namespaces that have one of their own.
    pub(crate) seals: Arc<NamespaceSeals>,
    /// Entities, aliases and groups: the identity policies of every token with an entity.
    pub(crate) identity: Arc<IdentityStore>,
    /// Identity tokens: `identity/oidc/` keys, roles and signed JWTs.
    pub(crate) identity_tokens: Arc<crate::identity_tokens::IdentityTokens>,
    /// Password policies of every namespace.
    pub(crate) password_policies: Arc<crate::password_policies::PasswordPolicies>,
    /// The HA election, when the node is one of a cluster.
    pub(crate) ha: Option<Arc<crate::ha::Ha>>,
    /// Rate-limit and lease-count quotas.
    pub(crate) quotas: Arc<crate::quotas::Quotas>,
    /// CORS and the UI's headers (`sys/config/cors`, `sys/config/ui/headers`).
    pub(crate) http_config: Arc<crate::http_config::HttpConfig>,
}

/// The Arca core. Cheap to clone.
#[derive(Clone)]
pub struct Core {
    pub(crate) inner: Arc<Inner>,
}

impl Core {
    /// A sealed core over the configured storage.
    pub fn new(config: CoreConfig) -> Core {
        let seal = Arc::new(Seal::new(
            config.physical.clone(),
            config.storage_type.clone(),
            config.version.clone(),
            config.cluster_name.clone(),
            config.seals.clone(),
        ));
        let barrier = seal.barrier().clone();
        barrier.set_observer(Arc::new(config.metrics.clone()));
        let namespaces = Arc::new(NamespaceStore::new(Arc::new(BarrierView::new(
            barrier.clone(),
            "",
        ))));
        let seals = Arc::new(NamespaceSeals::new(
            barrier.clone(),
            Arc::new(BarrierView::new(barrier.clone(), "")),
        ));
        let table_lock = Arc::new(tokio::sync::Mutex::new(()));
        let catalog = Arc::new(Catalog::new(
            barrier.clone(),
            config.registry.clone(),
            config.version.clone(),
            config.plugin_directory.clone(),
            config.plugin_runtime.clone(),
            table_lock.clone(),
        ));
        let password_policies = Arc::new(crate::password_policies::PasswordPolicies::new(
            Arc::new(BarrierView::new(barrier.clone(), "")),
        ));
        let mounts = Arc::new(MountStore::new(
            barrier.clone(),
            catalog.clone(),
            table_lock,
            config.default_lease_ttl,
            config.max_lease_ttl,
            config.version.clone(),
            password_policies.clone(),
        ));
        let tokens = Arc::new(
            TokenStore::new(Arc::new(BarrierView::new(barrier.clone(), "sys/token/")))
                .with_metrics(config.metrics.clone()),
        );
        let policies = Arc::new(PolicyStore::new(Arc::new(BarrierView::new(
            barrier.clone(),
            "",
        ))));
        let leases = Arc::new(ExpirationManager::new(
            Arc::new(BarrierView::new(barrier.clone(), "")),
            namespaces.clone(),
            seals.clone(),
            tokens.clone(),
            Arc::downgrade(&mounts),
            config.lease_revoke_retry_base,
            config.metrics.clone(),
        ));
        let wrapping = Arc::new(Wrapping::new(
            tokens.clone(),
            leases.clone(),
            Arc::downgrade(&mounts),
            Arc::new(BarrierView::new(barrier.clone(), "core/wrapping/")),
            config.api_addr.clone(),
        ));
        let audit = Arc::new(AuditBroker::new(
            BrokerConfig {
                devices: config.audit_devices.clone(),
                allow_api_creation: config.unsafe_allow_api_audit_creation,
                allow_prefix: config.allow_audit_log_prefixing,
                plugin_directory: config.plugin_directory.clone(),
                metrics: config.metrics.clone(),
            },
            Arc::new(BarrierView::new(barrier.clone(), "core/")),
            Arc::new(BarrierView::new(barrier.clone(), "audit/")),
        ));
        let quotas = Arc::new(crate::quotas::Quotas::new(
            Arc::new(BarrierView::new(barrier.clone(), "sys/quotas/")),
            namespaces.clone(),
            Arc::downgrade(&mounts),
        ));
        // Every lease added or removed is counted toward its lease-count quota.
        let counted = Arc::downgrade(&quotas);
        leases.set_observer(Arc::new(move |event| {
            if let Some(q) = counted.upgrade() {
                match event {
                    crate::leases::LeaseEvent::Added {
                        lease_id,
                        mount_path,
                        rel_path,
                    } => q.lease_added(lease_id, mount_path, rel_path),
                    crate::leases::LeaseEvent::Removed { lease_id } => q.lease_removed(lease_id),
                }
            }
        }));
        let http_config = Arc::new(crate::http_config::HttpConfig::new(
            Arc::new(BarrierView::new(barrier.clone(), "")),
            config.custom_response_header_names.clone(),
        ));
        let lockout = Arc::new(Lockout::new(
            Arc::new(BarrierView::new(barrier, "")),
            config.user_lockouts.clone(),
        ));
        let identity = Arc::new(IdentityStore::new(Arc::downgrade(&mounts)));
        let identity_tokens =
            crate::identity_tokens::IdentityTokens::new(config.api_addr.clone(), tokens.clone());
        let ha = config.ha.clone().map(|c| Arc::new(crate::ha::Ha::new(c)));
        let inner = Arc::new(Inner {
            ha,
            quotas,
            http_config,
            config,
            seal,
            mounts,
            tokens,
            policies,
            catalog,
            reloads: Arc::new(ReloadLog::default()),
            leases,
            wrapping,
            audit,
            lockout,
            namespaces,
            seals,
            identity,
            identity_tokens,
            password_policies,
        });
        inner.identity_tokens.set_entities(inner.identity.clone());
        inner.mounts.set_singletons(singletons(&inner));
        Core { inner }
    }

    /// The configuration the core was built with.
    pub fn config(&self) -> &CoreConfig {
        &self.inner.config
    }

    /// Whether the barrier is sealed.
    pub fn sealed(&self) -> bool {
        self.inner.seal.sealed()
    }

    /// Whether the core has been initialized.
    pub async fn initialized(&self) -> Result<bool, LogicalError> {
        self.inner.seal.initialized().await
    }

    /// The stored seal configuration.
    pub async fn seal_config(&self) -> Result<Option<SealConfig>, LogicalError> {
        self.inner.seal.seal_config().await
    }

    /// The cluster name and id (set once unsealed).
    pub fn cluster_info(&self) -> Option<ClusterInfo> {
        self.inner.seal.cluster_info()
    }

    /// When this node became active.
    pub fn active_since(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.inner.seal.active_since()
    }

    /// The token store.
    pub fn token_store(&self) -> &TokenStore {
        &self.inner.tokens
    }

    /// The policy store.
    pub fn policy_store(&self) -> &PolicyStore {
        &self.inner.policies
    }

    /// The expiration manager (leases).
    pub fn leases(&self) -> &ExpirationManager {
        &self.inner.leases
    }

    /// Initializes a new core: a root key, an unseal key split in shares, the keyring, the
    /// required mounts and a root token. The core stays sealed afterwards.
    pub async fn initialize(
        &self,
        shares: usize,
        threshold: usize,
        root_token_id: Option<Zeroizing<String>>,
    ) -> Result<InitResult, LogicalError> {
        self.inner
            .seal
            .initialize(
                shares,
                threshold,
                (0, 0),
                root_token_id,
                self,
                &self.inner.tokens,
            )
            .await
    }

    /// Creates a root token (the init token, generate-root, dev mode).
    pub async fn create_root_token(
        &self,
        id: Option<Zeroizing<String>>,
    ) -> Result<(Zeroizing<String>, Arc<TokenEntry>), LogicalError> {
        self.inner.tokens.create_root(id).await
    }

    /// Unseals with the complete unseal key at once (dev mode, tests).
    pub async fn unseal_with_key(&self, unseal_key: &[u8]) -> Result<(), LogicalError> {
        self.inner.seal.unseal_with_key(unseal_key, self).await
    }

    /// Adds one unseal key share; unseals when the threshold is reached. Answers as
    /// `sys/seal-status`.
    pub async fn submit_unseal_key(
        &self,
        key: Zeroizing<Vec<u8>>,
    ) -> Result<serde_json::Value, LogicalError> {
        self.inner.seal.submit_unseal_key(key, false, self).await
    }

    /// Unseals through the configured auto seal (at startup; an error means its service
    /// failed and the caller should retry).
    pub async fn auto_unseal(&self) -> Result<AutoUnseal, LogicalError> {
        self.inner.seal.auto_unseal(self).await
    }

    /// `sys/seal-status` as JSON.
    pub async fn seal_status(&self) -> Result<serde_json::Value, LogicalError> {
        self.inner.seal.seal_status().await
    }

    /// Seals the core: waits for requests in flight, stops every backend, drops the keys.
    pub async fn seal(&self) -> Result<(), LogicalError> {
        self.inner.seal.seal(self).await
    }

    /// The builtin version string (`v<arca version>+builtin`).
    pub fn builtin_plugin_version(&self) -> String {
        self.inner.catalog.builtin_plugin_version()
    }

    /// Registers (or replaces) an external plugin in the catalog.
    pub async fn register_plugin(&self, reg: PluginRegistration) -> Result<(), LogicalError> {
        self.inner.catalog.register_plugin(reg).await
    }

    /// The catalog entry of `name` at `version` (empty: the unversioned external, else the
    /// builtin).
    pub fn plugin_entry(
        &self,
        t: arca_sdk::plugin_catalog::PluginType,
        name: &str,
        version: &str,
    ) -> Result<Option<arca_sdk::plugin_catalog::PluginCatalogEntry>, LogicalError> {
        self.inner.catalog.plugin_entry(t, name, version)
    }

    /// Every plugin name of type `t` in the catalog, sorted.
    pub fn plugin_names(&self, t: arca_sdk::plugin_catalog::PluginType) -> Vec<String> {
        self.inner.catalog.plugin_names(t)
    }

    /// Reloads the backends `target` names and records the result under `reload_id`.
    pub async fn reload_plugins(
        &self,
        reload_id: &str,
        target: ReloadTarget,
    ) -> Result<ReloadOutcome, LogicalError> {
        self.inner
            .reloads
            .reload_plugins(&self.inner.mounts, &self.inner.catalog, reload_id, target)
            .await
    }

    /// The recorded result of the reload `reload_id`, if this node still has it.
    pub fn reload_status(&self, reload_id: &str) -> Option<ReloadStatus> {
        self.inner.reloads.reload_status(reload_id)
    }

    /// The CORS configuration (`sys/config/cors`) the HTTP layer applies.
    pub fn cors_config(&self) -> Arc<arca_sdk::http_settings::CorsConfig> {
        self.inner.http_config.cors()
    }

    /// The headers the UI's answers carry (`sys/config/ui/headers` and the defaults).
    pub fn ui_headers(&self) -> Arc<arca_sdk::http_settings::UiHeaders> {
        self.inner.http_config.ui_headers()
    }

    /// Reopens every file audit device and reconnects every socket device (SIGHUP, after a
    /// log rotation). Failures are logged; a device that cannot reopen fails its next write.
    pub async fn reload_audit_devices(&self) {
        if !self.sealed() {
            self.inner.audit.reload().await;
        }
    }

    /// The current mount table of `kind`.
    pub fn mount_entries(&self, kind: TableKind) -> Vec<crate::mounts::MountEntry> {
        self.inner
            .mounts
            .entries(&self.inner.namespaces.root(), kind)
    }

    /// Reads an entry integrated storage keeps inside the barrier (`core/raft/<name>`: the
    /// cluster's TLS authority); only on an unsealed node.
    pub async fn raft_secret(
        &self,
        name: &str,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, LogicalError> {
        self.inner
            .seal
            .barrier()
            .get(&format!("core/raft/{name}"))
            .await
            .map_err(crate::views::barrier_err)
    }

    /// Writes an entry integrated storage keeps inside the barrier (`core/raft/<name>`).
    pub async fn set_raft_secret(&self, name: &str, value: &[u8]) -> Result<(), LogicalError> {
        self.inner
            .seal
            .barrier()
            .put(&format!("core/raft/{name}"), value)
            .await
            .map_err(crate::views::barrier_err)
    }

    /// Encrypts `plaintext` with the root key (a join challenge: the joining node opens it
    /// with the root key it recovers from the unseal key).
    pub fn encrypt_with_root_key(
        &self,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, LogicalError> {
        self.inner
            .seal
            .barrier()
            .encrypt_with_root_key(aad, plaintext)
            .map_err(crate::views::barrier_err)
    }

    /// After storage was replaced underneath (a snapshot restore): reads the keyring again and
    /// reloads every subsystem from the new data; when the new data is under other keys (a
    /// snapshot of another cluster), seals, as OpenBao does, so the node is unsealed with the
    /// keys of the cluster the snapshot came from. Call it outside of any request (it waits
    /// for requests in flight).
    pub async fn reload_after_restore(&self) -> Result<(), LogicalError> {
        let seal = &self.inner.seal;
        // The seal configuration may be another cluster's now (its shares and threshold).
        seal.forget_cached_configs();
        if seal.sealed() {
            return Ok(());
        }
        if let Err(e) = seal.barrier().reload_keyring().await {
            tracing::warn!(error = %e, "core: the restored data is under other keys; sealing");
            return self.seal().await;
        }
        let _state = seal.write_state().await;
        let serving = self.inner.ha.as_ref().is_none_or(|ha| ha.is_active());
        if serving {
            self.teardown_active().await;
            self.setup_active().await?;
        }
        Ok(())
    }

    /// Opens what [`Core::encrypt_with_root_key`] sealed on this cluster.
    pub fn open_with_root_key(
        &self,
        aad: &[u8],
        blob: Vec<u8>,
    ) -> Result<Zeroizing<Vec<u8>>, LogicalError> {
        self.inner
            .seal
            .barrier()
            .decrypt_with_root_key(aad, blob)
            .map_err(crate::views::barrier_err)
    }

    /// This node's HA settings, when it is one of a cluster.
    pub fn ha_config(&self) -> Option<&crate::ha::HaConfig> {
        self.inner.config.ha.as_ref()
    }

    /// Whether the node is one of an HA cluster.
    pub fn ha_enabled(&self) -> bool {
        self.inner.ha.is_some()
    }

    /// This node's part in its HA cluster ([`HaRole::Inactive`] without HA).
    pub fn ha_role(&self) -> HaRole {
        self.inner
            .ha
            .as_ref()
            .map_or(HaRole::Inactive, |ha| ha.role())
    }

    /// The telemetry handle (`sys/metrics`).
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.inner.config.metrics
    }

    /// Starts the once-a-second telemetry task (OpenBao's `metricsLoop` and
    /// `emitUnsealedStatusMetric`): `vault.core.unsealed` and `vault.core.active` with the
    /// cluster's name, the lease counts, the runtime gauges, and the sinks' upkeep. It ends
    /// when the core is dropped. Call from inside a tokio runtime.
    pub fn start_metrics_loop(&self) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                let core = Core { inner };
                core.emit_gauges();
            }
        });
    }

    fn emit_gauges(&self) {
        let m = self.metrics();
        m.tick();
        let sealed = self.sealed();
        let cluster = if sealed {
            String::new()
        } else {
            self.cluster_info().map(|c| c.name).unwrap_or_default()
        };
        m.set_cluster_gauge(
            &["core", "unsealed"],
            &cluster,
            if sealed { 0.0 } else { 1.0 },
        );
        if sealed {
            return;
        }
        let active = !matches!(self.ha_role(), HaRole::Standby);
        m.set_cluster_gauge(
            &["core", "active"],
            &cluster,
            if active { 1.0 } else { 0.0 },
        );
        if active {
            let c = m.core();
            let leases = &self.inner.leases;
            c.expire_num_leases.set(leases.pending_count() as f64);
            c.expire_num_irrevocable_leases
                .set(leases.irrevocable_counts().0 as f64);
        }
    }

    /// Whether the node is an unsealed standby: its requests go to the active node.
    pub fn standby(&self) -> bool {
        matches!(self.ha_role(), HaRole::Standby)
    }

    /// Follows this node's role: the server starts the cluster listener when it becomes
    /// active and stops it when it no longer is. `None` without HA.
    pub fn ha_watch(&self) -> Option<tokio::sync::watch::Receiver<HaRole>> {
        self.inner.ha.as_ref().map(|ha| ha.watch())
    }

    /// The active node as this node knows it (itself when active).
    pub fn leader(&self) -> Option<Arc<LeaderInfo>> {
        self.inner.ha.as_ref().and_then(|ha| ha.leader())
    }

    /// Reads who the active node is now (a standby whose forwarding failed).
    pub async fn refresh_leader(&self) -> Result<Option<Arc<LeaderInfo>>, LogicalError> {
        if let Some(ha) = &self.inner.ha {
            crate::ha::refresh_leader(ha, &self.inner.seal).await?;
        }
        Ok(self.leader())
    }

    /// Records that a standby is alive (its periodic echo to the active node).
    pub fn record_peer(&self, peer: PeerNode) {
        if let Some(ha) = &self.inner.ha {
            ha.record_peer(peer);
        }
    }

    /// Applies the rate-limit quota covering a request, before its body is read (see
    /// [`crate::quotas`]).
    pub fn rate_limit(&self, ask: &crate::RateLimitAsk<'_>) -> crate::RateLimitVerdict {
        self.inner.quotas.rate_limit(ask)
    }

    /// Whether a request the rate-limit quotas refuse is audited: `sys/quotas/config`'s
    /// `enable_rate_limit_audit_logging`, with an audit device enabled.
    pub fn audits_rate_limited(&self) -> bool {
        self.inner.quotas.audit_logging_enabled() && self.inner.audit.enabled()
    }

    /// Audits a request the rate-limit quotas refused, as OpenBao does: its request line only,
    /// built without its token (nothing was authenticated), with the refusal as its error. A
    /// device's failure is logged; the client's answer is the refusal either way.
    pub async fn audit_rate_limited(&self, req: &arca_sdk::Request, error: &str) {
        let audit = &self.inner.audit;
        let mut rec = crate::audit::AuditRecord::of(req);
        rec.client_token = None;
        rec.headers = audit.pick_headers(&req.headers);
        if let Err(e) = audit.log_request(&mut rec, Some(error)).await {
            tracing::warn!(error = %e, "failed to audit log request rejection caused by rate limit quota violation");
        }
    }

    /// Whether `sys/quotas/config` asks for the rate-limit response headers.
    pub fn rate_limit_headers_enabled(&self) -> bool {
        self.inner.quotas.response_headers_enabled()
    }

    /// The role a login's body names, as its auth method resolves it (for role-based
    /// quotas; empty when none).
    pub async fn quota_login_role(
        &self,
        ask: &crate::RateLimitAsk<'_>,
        body: &arca_sdk::JsonMap,
    ) -> String {
        let landing = self.inner.quotas.landing_of(ask);
        self.resolve_login_role(&landing.namespace_path, &landing.mount_path, body)
            .await
    }

    /// Asks the auth mount `mount_path` of namespace `ns_path` which role `data` logs in
    /// with (OpenBao's `ResolveRoleOperation`); empty when it names none.
    pub(crate) async fn resolve_login_role(
        &self,
        ns_path: &str,
        mount_path: &str,
        data: &arca_sdk::JsonMap,
    ) -> String {
        if !mount_path.starts_with("auth/") {
            return String::new();
        }
        let Some((backend, storage)) = self.inner.quotas.auth_backend(ns_path, mount_path) else {
            return String::new();
        };
        let mut req = arca_sdk::Request::new(arca_sdk::Operation::ResolveRole, "login")
            .with_data(data.clone());
        req.mount_point = mount_path.to_string();
        req.storage = Some(storage);
        match backend.handle_request(req).await {
            Ok(Some(resp)) => resp
                .data
                .as_ref()
                .and_then(|d| d.get("role"))
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string(),
            _ => String::new(),
        }
    }

    /// Whether a backend of type `kind` can be mounted in `table`.
    pub fn has_backend_type(&self, table: TableKind, kind: &str) -> bool {
        self.inner.mounts.has_backend_type(table, kind)
    }
}

/// Brings the subsystems over the barrier up at unseal, in dependency order, and stops them
/// at seal.
#[async_trait]
impl Lifecycle for Core {
    async fn setup(&self) -> Result<(), LogicalError> {
        let _timed = self.metrics().core().core_unseal.start();
        if let Some(ha) = &self.inner.ha {
            // A standby until the election says otherwise.
            let weak = Arc::downgrade(&self.inner);
            let upgrade: crate::ha::Upgrade = Arc::new(move || {
                let inner = weak.upgrade()?;
                Some(crate::ha::Parts {
                    ha: inner.ha.clone()?,
                    seal: inner.seal.clone(),
                    serving: Arc::new(Core { inner }),
                })
            });
            crate::ha::start(ha, upgrade);
            return Ok(());
        }
        self.setup_active().await
    }

    async fn register_root_token(&self, entry: &TokenEntry) -> Result<(), LogicalError> {
        self.inner.leases.register_token(entry).await
    }

    async fn teardown(&self) {
        if let Some(ha) = &self.inner.ha
            && !crate::ha::stop(ha).await
        {
            // A standby has nothing up.
            return;
        }
        self.teardown_active().await;
    }

    fn ha_enabled(&self) -> bool {
        self.inner.ha.is_some()
    }

    async fn setup_for_init(&self) -> Result<(), LogicalError> {
        self.setup_active().await
    }

    async fn teardown_for_init(&self) {
        self.teardown_active().await;
    }
}

impl Core {
    /// Brings every subsystem over the barrier up: the node becomes the one serving.
    pub(crate) async fn setup_active(&self) -> Result<(), LogicalError> {
        let _timed = self.metrics().core().core_post_unseal.start();
        let inner = &self.inner;
        inner.tokens.setup().await?;
        // Revoking a token revokes the leases it obtained and destroys its cubbyhole.
        let mounts = Arc::downgrade(&inner.mounts);
        let leases = Arc::downgrade(&inner.leases);
        let namespaces = inner.namespaces.clone();
        inner.tokens.set_on_revoke(Arc::new(move |entry: Arc<TokenEntry>| {
            let mounts = mounts.clone();
            let leases = leases.clone();
            let namespaces = namespaces.clone();
            Box::pin(async move {
                if let Some(leases) = leases.upgrade()
                    && let Err(e) = leases.revoke_by_token(&entry).await
                {
                    tracing::warn!(error = %e, "core: could not revoke a revoked token's leases");
                }
                let Some(mounts) = mounts.upgrade() else { return };
                let cubbyhole_id = entry.cubbyhole_id.clone();
                if cubbyhole_id.is_empty() {
                    return;
                }
                let Some(ns) = namespaces.by_id(&entry.namespace_id) else { return };
                let Some(route) = mounts.route_in(&ns, "cubbyhole/") else { return };
                let view = mounts.view(format!(
                    "{}{cubbyhole_id}/",
                    route.mount.load().storage_prefix()
                ));
                if let Err(e) = view.clear().await {
                    tracing::warn!(error = %e, "core: could not destroy a revoked token's cubbyhole");
                }
            })
        }));
        inner.namespaces.load().await?;
        // Namespaces with a seal of their own start sealed; the others are set up now.
        let mut open = Vec::new();
        for ns in inner.namespaces.all() {
            if ns.sealable {
                inner.seals.start_sealed(&ns)?;
            } else {
                open.push(ns);
            }
        }
        for ns in &open {
            inner.policies.setup(ns).await?;
        }
        inner.wrapping.setup().await?;
        inner.catalog.load().await?;
        inner.mounts.load(&open).await?;
        // The identity index is rebuilt from the identity mount's storage view.
        let root = inner.namespaces.root();
        if let Some(route) = inner.mounts.route_in(&root, "identity/") {
            inner.identity.setup(route.storage.clone()).await?;
        }
        inner.audit.setup().await?;
        crate::version_history::record(inner.seal.barrier(), inner.seal.version()).await?;
        // Before the leases: each restored lease is counted toward its quota.
        inner.quotas.setup().await?;
        inner.http_config.load().await?;
        // After the mounts: expiring leases are revoked through their backends.
        inner.leases.start();
        // Namespaces whose deletion (or creation) a stop interrupted are deleted now.
        crate::sys::resume_namespace_deletions(system_deps(&self.inner), inner.mounts.clone());
        Ok(())
    }

    /// Stops every subsystem over the barrier (before a seal, or when an active node becomes
    /// a standby).
    pub(crate) async fn teardown_active(&self) {
        let _timed = self.metrics().core().core_pre_seal.start();
        self.inner.leases.stop();
        self.inner.quotas.teardown();
        self.inner.audit.teardown();
        self.inner.mounts.unload().await;
        self.inner.tokens.teardown();
        self.inner.identity.teardown();
        self.inner.policies.teardown();
        self.inner.wrapping.teardown();
        self.inner.lockout.clear();
        self.inner.catalog.clear();
        self.inner.namespaces.teardown();
        self.inner.seals.teardown();
    }
}

#[async_trait]
impl crate::ha::Serving for Core {
    async fn setup_active(&self) -> Result<(), LogicalError> {
        Core::setup_active(self).await
    }

    async fn teardown_active(&self) {
        Core::teardown_active(self).await;
    }
}

/// The subsystems the `sys/` backend serves (the mount table held weakly).
fn system_deps(inner: &Arc<Inner>) -> SystemDeps {
    SystemDeps {
        seal: inner.seal.clone(),
        mounts: Arc::downgrade(&inner.mounts),
        tokens: inner.tokens.clone(),
        policies: inner.policies.clone(),
        catalog: inner.catalog.clone(),
        reloads: inner.reloads.clone(),
        leases: inner.leases.clone(),
        wrapping: inner.wrapping.clone(),
        audit: inner.audit.clone(),
        namespaces: inner.namespaces.clone(),
        seals: inner.seals.clone(),
        lockout: inner.lockout.clone(),
        identity: inner.identity.clone(),
        password_policies: inner.password_policies.clone(),
        ha: inner.ha.clone(),
        storage_admin: inner.config.storage_admin.clone(),
        server_info: inner.config.server_info.clone(),
        quotas: inner.quotas.clone(),
        metrics: inner.config.metrics.clone(),
        http_config: inner.http_config.clone(),
    }
}

/// Builds the core's own backends, each handed only the subsystems it serves. The mount
/// table is held weakly: it owns the routes that own these backends.
fn singletons(inner: &Arc<Inner>) -> SingletonBuilder {
    let deps = system_deps(inner);
    let namespaces = inner.namespaces.clone();
    let tokens = inner.tokens.clone();
    let leases = inner.leases.clone();
    let policies = inner.policies.clone();
    let identity = inner.identity.clone();
    let mounts = Arc::downgrade(&inner.mounts);
    let identity_tokens = inner.identity_tokens.clone();
    Arc::new(move |table, kind| -> Option<Arc<dyn Backend>> {
        match (table, kind) {
            (TableKind::Mounts, "system") => Some(Arc::new(SystemBackend::new(deps.clone()))),
            (TableKind::Mounts, "identity") => Some(Arc::new(IdentityBackend::new(
                identity.clone(),
                &identity_tokens,
            ))),
            (TableKind::Auth, "token") => Some(Arc::new(TokenBackend::new(
                tokens.clone(),
                policies.clone(),
                mounts.clone(),
                leases.clone(),
                namespaces.clone(),
                identity.clone(),
            ))),
            _ => None,
        }
    })
}
