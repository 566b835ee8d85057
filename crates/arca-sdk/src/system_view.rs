//! What a backend may ask of the system it runs in: lease defaults, mount flags, version,
//! passwords from the namespace's password policies.

use std::time::Duration;

use zeroize::Zeroizing;

use crate::LogicalError;
use crate::plugin_catalog::PluginRunner;

/// The system facts a backend sees, per mount.
#[async_trait::async_trait]
pub trait SystemView: Send + Sync {
    /// The mount's (or system's) default lease TTL.
    fn default_lease_ttl(&self) -> Duration;
    /// The mount's (or system's) maximum lease TTL.
    fn max_lease_ttl(&self) -> Duration;
    /// Whether the mount is local (not replicated).
    fn local_mount(&self) -> bool {
        false
    }
    /// Whether the mount is being unmounted.
    fn tainted(&self) -> bool {
        false
    }
    /// Whether caching is disabled.
    fn caching_disabled(&self) -> bool {
        false
    }
    /// The server version reported to plugins.
    fn server_version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }
    /// A password from the mount's namespace's password policy `policy_name` (OpenBao's
    /// `GeneratePasswordFromPolicy`): what engines with a `password_policy` field use.
    async fn generate_password_from_policy(
        &self,
        policy_name: &str,
    ) -> Result<Zeroizing<String>, LogicalError> {
        let _ = policy_name;
        Err(LogicalError::internal(
            "password policies are not available to this backend",
        ))
    }
    /// The external database plugin registered as `name` at `version` (empty: the
    /// unversioned registration) in the plugin catalog (`sys/plugins/catalog/database/<name>`),
    /// with what it takes to launch it; `None` when there is no such registration (builtin
    /// database plugins are the engine's own and never answered here). This is OpenBao's
    /// `LookupPluginVersion(name, database, version)` for plugins that are not builtin.
    async fn lookup_database_plugin(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<PluginRunner>, LogicalError> {
        let _ = (name, version);
        Ok(None)
    }
}

/// A fixed [`SystemView`], for tests and for backends built outside a mount.
#[derive(Debug, Clone)]
pub struct StaticSystemView {
    /// Default lease TTL.
    pub default_lease_ttl: Duration,
    /// Maximum lease TTL.
    pub max_lease_ttl: Duration,
}

impl Default for StaticSystemView {
    fn default() -> Self {
        // Vault's system defaults: 32 days for both.
        StaticSystemView {
            default_lease_ttl: Duration::from_secs(32 * 24 * 3600),
            max_lease_ttl: Duration::from_secs(32 * 24 * 3600),
        }
    }
}

impl SystemView for StaticSystemView {
    fn default_lease_ttl(&self) -> Duration {
        self.default_lease_ttl
    }
    fn max_lease_ttl(&self) -> Duration {
        self.max_lease_ttl
    }
}
