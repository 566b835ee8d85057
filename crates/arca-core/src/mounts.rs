//! The mount tables: which backend serves which path, persisted inside the barrier with a
//! version marker, and the JSON shape `sys/mounts` and `sys/auth` show.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::random::random_hex;

/// Storage key of the secrets-engine mount table.
pub const MOUNT_TABLE_PATH: &str = "core/mounts";
/// Storage key of the auth-method mount table.
pub const AUTH_TABLE_PATH: &str = "core/auth";
/// Version marker written with every table.
pub const MOUNT_TABLE_VERSION: u32 = 1;

/// Which table an entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableKind {
    /// Secrets engines, routed at their path.
    Mounts,
    /// Auth methods, routed at `auth/<path>`.
    Auth,
}

/// Tunable settings of a mount (`config` in the API).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountConfig {
    /// Default lease TTL in seconds (0 = system default).
    #[serde(default)]
    pub default_lease_ttl: u64,
    /// Maximum lease TTL in seconds (0 = system default).
    #[serde(default)]
    pub max_lease_ttl: u64,
    /// Disable caching.
    #[serde(default)]
    pub force_no_cache: bool,
    /// Request keys not HMAC'd in audit logs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audit_non_hmac_request_keys: Vec<String>,
    /// Response keys not HMAC'd in audit logs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audit_non_hmac_response_keys: Vec<String>,
    /// `"unauth"` to show the mount in the UI listing.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub listing_visibility: String,
    /// Request headers passed to the backend.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passthrough_request_headers: Vec<String>,
    /// Response headers the backend may set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_response_headers: Vec<String>,
    /// Token type for auth mounts (`default-service`, ...).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_type: String,
    /// User lockout settings tuned on an auth mount (`user_lockout_config`); `None` until
    /// tuned. Zero values fall back to the server's (or OpenBao's defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_lockout_config: Option<UserLockoutConfig>,
}

/// An auth mount's user lockout settings, as OpenBao's `UserLockoutConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserLockoutConfig {
    /// Failed logins that lock the alias (0: the server's).
    #[serde(default)]
    pub lockout_threshold: u64,
    /// Seconds an alias stays locked (0: the server's).
    #[serde(default)]
    pub lockout_duration: u64,
    /// Seconds after the last failure when the count starts again (0: the server's).
    #[serde(default)]
    pub lockout_counter_reset: u64,
    /// Lockout off for this mount.
    #[serde(default)]
    pub disable_lockout: bool,
}

impl UserLockoutConfig {
    /// The `user_lockout_*` keys OpenBao shows for it.
    pub fn to_api_json(&self) -> serde_json::Value {
        serde_json::json!({
            "user_lockout_counter_reset_duration": self.lockout_counter_reset,
            "user_lockout_threshold": self.lockout_threshold,
            "user_lockout_duration": self.lockout_duration,
            "user_lockout_disable": self.disable_lockout,
        })
    }
}

/// One mount.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MountEntry {
    /// Which table.
    pub table: TableKind,
    /// Path with trailing slash, without `auth/` for auth mounts (`"secret/"`, `"userpass/"`).
    pub path: String,
    /// The backend type / plugin name (`"kv"`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Unique id; also names the storage prefix.
    pub uuid: String,
    /// Accessor (`kv_1a2b3c4d`).
    pub accessor: String,
    /// Tunables.
    #[serde(default)]
    pub config: MountConfig,
    /// Backend options (`version` for KV).
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
    /// Not replicated.
    #[serde(default)]
    pub local: bool,
    /// Seal-wrap the backend's storage.
    #[serde(default)]
    pub seal_wrap: bool,
    /// Access to the system entropy source.
    #[serde(default)]
    pub external_entropy_access: bool,
    /// Plugin version asked for at mount time.
    #[serde(default)]
    pub plugin_version: String,
    /// Version the running backend reports.
    #[serde(default)]
    pub running_plugin_version: String,
    /// Checksum of the running plugin binary (external plugins).
    #[serde(default)]
    pub running_sha256: String,
    /// The id of the namespace the mount belongs to.
    #[serde(default = "root_namespace_id")]
    pub namespace_id: String,
    /// That namespace's path (`""` for the root), set when the table is loaded.
    #[serde(skip)]
    pub namespace_path: String,
    /// That namespace's storage prefix, set when the table is loaded.
    #[serde(skip)]
    pub namespace_prefix: String,
}

fn root_namespace_id() -> String {
    crate::namespaces::ROOT_ID.to_string()
}

impl MountEntry {
    /// A new entry with fresh uuid and accessor.
    pub fn new(table: TableKind, path: &str, kind: &str, description: &str) -> MountEntry {
        let accessor_prefix = match table {
            TableKind::Mounts => kind.replace('-', "_"),
            TableKind::Auth => format!("auth_{}", kind.replace('-', "_")),
        };
        MountEntry {
            table,
            path: path.to_string(),
            kind: kind.to_string(),
            description: description.to_string(),
            uuid: uuid::Uuid::new_v4().to_string(),
            accessor: format!("{accessor_prefix}_{}", random_hex(4)),
            config: MountConfig::default(),
            options: None,
            local: false,
            seal_wrap: false,
            external_entropy_access: false,
            plugin_version: String::new(),
            running_plugin_version: String::new(),
            running_sha256: String::new(),
            namespace_id: root_namespace_id(),
            namespace_path: String::new(),
            namespace_prefix: String::new(),
        }
    }

    /// Places the entry in `ns` (its id, path and storage prefix).
    pub fn set_namespace(&mut self, ns: &crate::namespaces::Namespace) {
        self.namespace_id = ns.id.clone();
        self.namespace_path = ns.path.clone();
        self.namespace_prefix = ns.storage_prefix();
    }

    /// The path the router uses: the namespace's path, then `auth/` for auth mounts, then
    /// the mount's path (`team-a/auth/token/`).
    pub fn route_path(&self) -> String {
        format!("{}{}", self.namespace_path, self.rel_route_path())
    }

    /// The route path inside the mount's namespace (`auth/token/`).
    pub fn rel_route_path(&self) -> String {
        match self.table {
            TableKind::Mounts => self.path.clone(),
            TableKind::Auth => format!("auth/{}", self.path),
        }
    }

    /// The storage prefix of the backend's view (inside its namespace's prefix).
    pub fn storage_prefix(&self) -> String {
        let ns = &self.namespace_prefix;
        match (self.table, self.kind.as_str()) {
            (_, "system") => format!("{ns}sys/"),
            (TableKind::Auth, "token") => format!("{ns}sys/token/"),
            (TableKind::Mounts, _) => format!("{ns}logical/{}/", self.uuid),
            (TableKind::Auth, _) => format!("{ns}auth/{}/", self.uuid),
        }
    }

    /// The type the API shows: a namespace's own `sys/`, `cubbyhole/`, `identity/` and
    /// `auth/token/` read `ns_system`, `ns_cubbyhole`, ... as OpenBao's.
    pub fn api_type(&self) -> String {
        if self.namespace_id != crate::namespaces::ROOT_ID && self.is_singleton() {
            format!("ns_{}", self.kind)
        } else {
            self.kind.clone()
        }
    }

    /// Mounts that cannot be disabled, moved or reloaded.
    pub fn is_singleton(&self) -> bool {
        matches!(
            (self.table, self.kind.as_str()),
            (TableKind::Mounts, "system" | "cubbyhole" | "identity") | (TableKind::Auth, "token")
        )
    }

    /// The JSON `sys/mounts` shows for this entry.
    pub fn to_api_json(&self) -> Value {
        let mut config = json!({
            "default_lease_ttl": self.config.default_lease_ttl,
            "max_lease_ttl": self.config.max_lease_ttl,
            "force_no_cache": self.config.force_no_cache,
        });
        if let Value::Object(c) = &mut config {
            if !self.config.passthrough_request_headers.is_empty() {
                c.insert(
                    "passthrough_request_headers".into(),
                    json!(self.config.passthrough_request_headers),
                );
            }
            if !self.config.allowed_response_headers.is_empty() {
                c.insert(
                    "allowed_response_headers".into(),
                    json!(self.config.allowed_response_headers),
                );
            }
            if !self.config.audit_non_hmac_request_keys.is_empty() {
                c.insert(
                    "audit_non_hmac_request_keys".into(),
                    json!(self.config.audit_non_hmac_request_keys),
                );
            }
            if !self.config.audit_non_hmac_response_keys.is_empty() {
                c.insert(
                    "audit_non_hmac_response_keys".into(),
                    json!(self.config.audit_non_hmac_response_keys),
                );
            }
            if !self.config.listing_visibility.is_empty() {
                c.insert(
                    "listing_visibility".into(),
                    json!(self.config.listing_visibility),
                );
            }
            if !self.config.token_type.is_empty() {
                c.insert("token_type".into(), json!(self.config.token_type));
            }
            if let Some(u) = &self.config.user_lockout_config {
                c.insert("user_lockout_config".into(), u.to_api_json());
            }
        }
        let mut v = json!({
            "accessor": self.accessor,
            "config": config,
            "description": self.description,
            "external_entropy_access": self.external_entropy_access,
            "local": self.local,
            "options": self.options,
            "plugin_version": self.plugin_version,
            "running_plugin_version": self.running_plugin_version,
            "running_sha256": self.running_sha256,
            "seal_wrap": self.seal_wrap,
            "type": self.api_type(),
            "uuid": self.uuid,
        });
        if !matches!(
            self.kind.as_str(),
            "system" | "cubbyhole" | "identity" | "token"
        ) && let Value::Object(m) = &mut v
        {
            m.insert("deprecation_status".into(), json!("supported"));
        }
        v
    }
}

/// A persisted mount table.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MountTable {
    /// Version marker of the record.
    pub version: u32,
    /// The entries.
    pub entries: Vec<MountEntry>,
}

impl MountTable {
    /// An empty table of the current version.
    pub fn new() -> MountTable {
        MountTable {
            version: MOUNT_TABLE_VERSION,
            entries: Vec::new(),
        }
    }

    /// The entry at exactly `path`.
    pub fn find(&self, path: &str) -> Option<&MountEntry> {
        self.entries.iter().find(|e| e.path == path)
    }

    /// Whether `path` would collide with an existing mount (equal, or one a prefix of the other).
    pub fn conflicts(&self, path: &str) -> Option<&MountEntry> {
        self.entries
            .iter()
            .find(|e| path.starts_with(&e.path) || e.path.starts_with(path))
    }
}

/// The required secrets mounts every core has, as Vault creates them.
pub fn required_mounts() -> Vec<MountEntry> {
    let mut cubby = MountEntry::new(
        TableKind::Mounts,
        "cubbyhole/",
        "cubbyhole",
        "per-token private secret storage",
    );
    cubby.local = true;
    let mut sys = MountEntry::new(
        TableKind::Mounts,
        "sys/",
        "system",
        "system endpoints used for control, policy and debugging",
    );
    sys.seal_wrap = true;
    sys.config.passthrough_request_headers = vec!["Accept".into()];
    let mut identity =
        MountEntry::new(TableKind::Mounts, "identity/", "identity", "identity store");
    identity.config.passthrough_request_headers = vec!["Authorization".into()];
    vec![cubby, sys, identity]
}

/// The required auth mounts (the token store).
pub fn required_auth_mounts() -> Vec<MountEntry> {
    let mut token = MountEntry::new(
        TableKind::Auth,
        "token/",
        "token",
        "token based credentials",
    );
    token.config.token_type = "default-service".into();
    vec![token]
}

/// The refusal of a backend built for a table it does not belong to, as OpenBao words it: an
/// auth method at `sys/mounts` is `unknown backend type: "<type>"` (kv, system, cubbyhole and
/// generic excepted), anything but an auth method at `sys/auth` is `cannot mount "<type>" of
/// type "<secret|unknown>" as an auth backend`.
pub(crate) fn wrong_backend_type(
    table: TableKind,
    kind: &str,
    backend: arca_sdk::BackendType,
) -> Option<arca_sdk::LogicalError> {
    use arca_sdk::BackendType as B;
    let message = match (table, backend) {
        (TableKind::Mounts, B::Logical) | (TableKind::Auth, B::Credential) => return None,
        (TableKind::Mounts, _) if matches!(kind, "kv" | "system" | "cubbyhole" | "generic") => {
            return None;
        }
        (TableKind::Mounts, _) => format!("unknown backend type: {kind:?}"),
        (TableKind::Auth, other) => {
            let shown = if other == B::Logical {
                "secret"
            } else {
                "unknown"
            };
            format!("cannot mount {kind:?} of type {shown:?} as an auth backend")
        }
    };
    Some(arca_sdk::LogicalError::bad_request(message))
}

/// Checks a mount path given by a user and returns it with a trailing slash.
pub fn normalize_mount_path(path: &str) -> Result<String, String> {
    let p = path.trim_matches('/');
    if p.is_empty() {
        return Err("path cannot be empty".into());
    }
    if p.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Err(format!("invalid mount path {path:?}"));
    }
    Ok(format!("{p}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_prefixes() {
        assert_eq!(normalize_mount_path("secret").unwrap(), "secret/");
        assert_eq!(normalize_mount_path("/a/b/").unwrap(), "a/b/");
        assert!(normalize_mount_path("").is_err());
        assert!(normalize_mount_path("a//b").is_err());
        assert!(normalize_mount_path("a/../b").is_err());
        let e = MountEntry::new(TableKind::Auth, "userpass/", "userpass", "");
        assert_eq!(e.route_path(), "auth/userpass/");
        assert!(e.storage_prefix().starts_with("auth/"));
        assert!(e.accessor.starts_with("auth_userpass_"));
        let mut t = MountTable::new();
        t.entries
            .push(MountEntry::new(TableKind::Mounts, "a/b/", "kv", ""));
        assert!(t.conflicts("a/").is_some());
        assert!(t.conflicts("a/b/c/").is_some());
        assert!(t.conflicts("a/c/").is_none());
    }
}
