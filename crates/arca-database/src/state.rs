//! What the engine keeps between requests: the connected plugin of each `config/<name>`, the
//! mount's system view and storage, and the static-role rotation schedule.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arca_sdk::storage::StorageExt;
use arca_sdk::{JsonMap, LogicalError, Storage, SystemView};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Notify;
use zeroize::Zeroizing;

use crate::plugin::{self, CredentialType, Database};
use crate::rotation::Schedule;

/// Where connections are stored.
pub const CONFIG_PREFIX: &str = "config/";
/// Where dynamic roles are stored.
pub const ROLE_PREFIX: &str = "role/";
/// Where static roles are stored.
pub const STATIC_ROLE_PREFIX: &str = "static-role/";

/// `config/<name>` as stored (OpenBao's `DatabaseConfig`).
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct DatabaseConfig {
    /// The plugin that serves the connection.
    #[serde(default)]
    pub plugin_name: String,
    /// The pinned plugin version (empty: the builtin).
    #[serde(default)]
    pub plugin_version: String,
    /// Everything else the operator wrote: the plugin's own settings, password included.
    #[serde(default)]
    pub connection_details: JsonMap,
    /// Roles that may use the connection (`*`: all; globs allowed).
    #[serde(default)]
    pub allowed_roles: Vec<String>,
    /// Statements that set the root user's new password.
    #[serde(default)]
    pub root_credentials_rotate_statements: Vec<String>,
    /// The password policy for generated passwords.
    #[serde(default)]
    pub password_policy: String,
}

impl Drop for DatabaseConfig {
    fn drop(&mut self) {
        if let Some(Value::String(p)) = self.connection_details.get_mut("password") {
            zeroize::Zeroize::zeroize(p);
        }
    }
}

impl DatabaseConfig {
    /// Whether `role` may use the connection.
    pub fn allows(&self, role: &str) -> bool {
        self.allowed_roles
            .iter()
            .any(|r| r == "*" || arca_sdk::glob::glob_match(r, role))
    }

    /// Whether the plugin said it can make credentials of this type (only passwords when it
    /// said nothing).
    pub fn supports(&self, t: CredentialType) -> bool {
        match self.connection_details.get("supported_credential_types") {
            Some(Value::Array(types)) => types.iter().any(|v| v.as_str() == Some(t.as_str())),
            _ => t == CredentialType::Password,
        }
    }
}

/// A connected plugin instance and the id that tells a replaced one from its successor.
#[derive(Clone)]
pub struct Instance {
    /// The plugin.
    pub db: Arc<dyn Database>,
    /// Unique per instance.
    pub id: u64,
}

/// The engine's shared state.
pub struct State {
    /// The mount's system view.
    pub system: Arc<dyn SystemView>,
    /// The mount's storage, for the rotation task (requests use their own).
    pub storage: Arc<dyn Storage>,
    connections: Mutex<HashMap<String, Instance>>,
    next_id: std::sync::atomic::AtomicU64,
    /// Static roles by next rotation time.
    pub schedule: Mutex<Schedule>,
    /// Wakes the rotation task when the schedule changes.
    pub wake: Notify,
    /// Serialises work on one static role (rotation, update, delete).
    pub role_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// The error OpenBao gives when a connection is not configured: its text, with a 400 where
/// OpenBao answers a 500 (README, differences table).
pub fn missing_config(name: &str) -> LogicalError {
    LogicalError::invalid_input(format!(
        "failed to find entry for connection with name: {name:?}"
    ))
}

impl State {
    /// A fresh state for a mount.
    pub fn new(system: Arc<dyn SystemView>, storage: Arc<dyn Storage>) -> State {
        State {
            system,
            storage,
            connections: Mutex::new(HashMap::new()),
            next_id: std::sync::atomic::AtomicU64::new(1),
            schedule: Mutex::new(Schedule::default()),
            wake: Notify::new(),
            role_locks: Mutex::new(HashMap::new()),
        }
    }

    /// The lock of one static role.
    pub fn role_lock(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.role_locks
            .lock()
            .entry(name.to_string())
            .or_default()
            .clone()
    }

    /// Reads `config/<name>`.
    pub async fn config(
        storage: &dyn Storage,
        name: &str,
    ) -> Result<Option<DatabaseConfig>, LogicalError> {
        storage
            .get_json::<DatabaseConfig>(&format!("{CONFIG_PREFIX}{name}"))
            .await
            .map_err(|e| {
                LogicalError::internal(format!("failed to read connection configuration: {e}"))
            })
    }

    /// Stores `config/<name>`.
    pub async fn store_config(
        storage: &dyn Storage,
        name: &str,
        config: &DatabaseConfig,
    ) -> Result<(), LogicalError> {
        storage
            .put_json(&format!("{CONFIG_PREFIX}{name}"), config)
            .await
    }

    /// Installs a freshly initialised plugin as the connection's, closing the one it replaces.
    pub async fn put_connection(&self, name: &str, db: Arc<dyn Database>) -> Instance {
        let inst = Instance {
            db,
            id: self
                .next_id
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        };
        let old = self
            .connections
            .lock()
            .insert(name.to_string(), inst.clone());
        if let Some(old) = old {
            old.db.close().await;
        }
        inst
    }

    /// Closes and forgets the connection's plugin, if one is running.
    pub async fn clear_connection(&self, name: &str) {
        let old = self.connections.lock().remove(name);
        if let Some(old) = old {
            old.db.close().await;
        }
    }

    /// Closes and forgets the connection's plugin if it is still the instance `id`.
    pub async fn clear_connection_if(&self, name: &str, id: u64) {
        let old = {
            let mut c = self.connections.lock();
            match c.get(name) {
                Some(i) if i.id == id => c.remove(name),
                _ => None,
            }
        };
        if let Some(old) = old {
            old.db.close().await;
        }
    }

    /// Closes every plugin (the mount is going away).
    pub async fn close_all(&self) {
        let all: Vec<Instance> = self.connections.lock().drain().map(|(_, i)| i).collect();
        for i in all {
            i.db.close().await;
        }
    }

    /// The running plugin of `config/<name>`, initialising one from the stored details if none
    /// runs (OpenBao's `GetConnection`).
    pub async fn connection(
        &self,
        storage: &dyn Storage,
        name: &str,
    ) -> Result<(Instance, DatabaseConfig), LogicalError> {
        let config = State::config(storage, name)
            .await?
            .ok_or_else(|| missing_config(name))?;
        let instance = self.instance(name, &config).await?;
        Ok((instance, config))
    }

    /// The running plugin of connection `name`, started from `config` (already read) if none
    /// runs.
    pub async fn instance(
        &self,
        name: &str,
        config: &DatabaseConfig,
    ) -> Result<Instance, LogicalError> {
        if let Some(i) = self.connections.lock().get(name).cloned() {
            return Ok(i);
        }
        let initialized = self
            .initialize_plugin(
                &config.plugin_name,
                &config.plugin_version,
                config.connection_details.clone(),
                true,
            )
            .await
            .map_err(|e| LogicalError::internal(e.to_string()))?
            .ok_or_else(|| {
                LogicalError::internal(format!(
                    "unable to create database instance: plugin {:?} not found",
                    config.plugin_name
                ))
            })?;
        Ok(self.put_connection(name, initialized.database).await)
    }

    /// Starts the plugin `name` for connection details `details` (OpenBao's `Initialize`): a
    /// builtin when no version is pinned, else one registered in the plugin catalog. `None`
    /// when there is no such plugin.
    pub async fn initialize_plugin(
        &self,
        name: &str,
        version: &str,
        details: JsonMap,
        verify: bool,
    ) -> Result<Option<plugin::Initialized>, plugin::DbError> {
        match plugin::builtin(name) {
            Some(init) if version.is_empty() => init(details, verify).await.map(Some),
            _ => {
                crate::external::initialize_external(
                    self.system.as_ref(),
                    name,
                    version,
                    details,
                    verify,
                )
                .await
            }
        }
    }

    /// A password from the policy, or OpenBao's default generator (20 characters of
    /// `[a-zA-Z0-9-]`, at least one of each class) when no policy is named.
    pub async fn generate_password(&self, policy: &str) -> Result<Zeroizing<String>, LogicalError> {
        if !policy.is_empty() {
            return self.system.generate_password_from_policy(policy).await;
        }
        default_password()
    }
}

/// OpenBao's `DefaultStringGenerator`.
const DEFAULT_PASSWORD_POLICY: &str = r#"
length = 20
rule "charset" {
  charset = "abcdefghijklmnopqrstuvwxyz"
  min-chars = 1
}
rule "charset" {
  charset = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
  min-chars = 1
}
rule "charset" {
  charset = "0123456789"
  min-chars = 1
}
rule "charset" {
  charset = "-"
  min-chars = 1
}
"#;

/// A password from OpenBao's default generator.
pub fn default_password() -> Result<Zeroizing<String>, LogicalError> {
    static POLICY: std::sync::OnceLock<Result<arca_policy::PasswordPolicy, String>> =
        std::sync::OnceLock::new();
    let policy = POLICY
        .get_or_init(|| {
            arca_policy::PasswordPolicy::parse(DEFAULT_PASSWORD_POLICY).map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| LogicalError::internal(format!("default password policy: {e}")))?;
    policy
        .generate(&mut arca_sdk::random::fill)
        .map_err(|e| LogicalError::internal(format!("failed to generate password: {e}")))
}

/// Lease TTLs as OpenBao's `framework.CalculateTTL` works them out for a role: the requested
/// increment or the role's default (the mount's when zero), capped by the role's max (the
/// mount's when zero) counted from `issued`.
pub fn lease_ttl(
    system: &dyn SystemView,
    increment: Duration,
    default_ttl: Duration,
    max_ttl: Duration,
    issued: Option<chrono::DateTime<chrono::Utc>>,
) -> Duration {
    let mut ttl = if !increment.is_zero() {
        increment
    } else if !default_ttl.is_zero() {
        default_ttl
    } else {
        system.default_lease_ttl()
    };
    let max = if max_ttl.is_zero() {
        system.max_lease_ttl()
    } else {
        max_ttl.min(system.max_lease_ttl())
    };
    let elapsed = issued
        .map(|t| (chrono::Utc::now() - t).to_std().unwrap_or_default())
        .unwrap_or_default();
    let left = max.saturating_sub(elapsed);
    if ttl > left {
        ttl = left;
    }
    ttl
}
