//! Mount tables (`sys/mounts`, `sys/auth`) as Vault's Go client decodes them.
//!
//! Field order follows Go's `api.MountOutput`, so serialising prints the same JSON as
//! `vault secrets list -format=json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::Client;
use crate::error::ApiError;

/// One mounted secrets engine or auth method.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MountOutput {
    /// The mount's UUID.
    #[serde(default)]
    pub uuid: String,
    /// The plugin type (`kv`, `userpass`, ...).
    #[serde(default, rename = "type")]
    pub kind: String,
    /// Human description.
    #[serde(default)]
    pub description: String,
    /// The mount accessor.
    #[serde(default)]
    pub accessor: String,
    /// Tunable configuration.
    #[serde(default)]
    pub config: MountConfigOutput,
    /// Plugin options (`version` for kv).
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
    /// Not replicated.
    #[serde(default)]
    pub local: bool,
    /// Seal-wrapped.
    #[serde(default)]
    pub seal_wrap: bool,
    /// Access to the external entropy source.
    #[serde(default)]
    pub external_entropy_access: bool,
    /// Pinned plugin version.
    #[serde(default)]
    pub plugin_version: String,
    /// Version of the running plugin.
    #[serde(default)]
    pub running_plugin_version: String,
    /// SHA-256 of the running plugin (external plugins).
    #[serde(default)]
    pub running_sha256: String,
    /// Deprecation status of the plugin.
    #[serde(default)]
    pub deprecation_status: String,
}

/// The `config` block of a mount.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MountConfigOutput {
    /// Default lease TTL in seconds (0: system default).
    #[serde(default)]
    pub default_lease_ttl: i64,
    /// Maximum lease TTL in seconds (0: system default).
    #[serde(default)]
    pub max_lease_ttl: i64,
    /// Disable caching.
    #[serde(default)]
    pub force_no_cache: bool,
    /// Request keys not HMACed in audit logs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audit_non_hmac_request_keys: Vec<String>,
    /// Response keys not HMACed in audit logs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audit_non_hmac_response_keys: Vec<String>,
    /// `unauth` or `hidden`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub listing_visibility: String,
    /// Request headers passed through to the plugin.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passthrough_request_headers: Vec<String>,
    /// Response headers the plugin may set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_response_headers: Vec<String>,
    /// Token type of an auth mount.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_type: String,
    /// Managed keys the mount may use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_managed_keys: Vec<String>,
    /// User lockout settings of an auth mount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_lockout_config: Option<Value>,
}

fn decode_table(body: Option<Value>) -> Result<BTreeMap<String, MountOutput>, ApiError> {
    let body = body.unwrap_or(Value::Null);
    let data = body.get("data").cloned().unwrap_or(Value::Null);
    if data.is_null() {
        return Ok(BTreeMap::new());
    }
    serde_json::from_value(data).map_err(|e| ApiError::Decode(e.to_string()))
}

impl Client {
    /// `GET sys/mounts`: the mounted secrets engines by path.
    pub async fn list_mounts(&self) -> Result<BTreeMap<String, MountOutput>, ApiError> {
        let raw = self
            .checked(reqwest::Method::GET, "sys/mounts", &[], None)
            .await?;
        decode_table(raw.body)
    }

    /// `GET sys/auth`: the enabled auth methods by path.
    pub async fn list_auth(&self) -> Result<BTreeMap<String, MountOutput>, ApiError> {
        let raw = self
            .checked(reqwest::Method::GET, "sys/auth", &[], None)
            .await?;
        decode_table(raw.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_go_field_order_and_omits_empty_config() {
        let m: MountOutput = serde_json::from_str(
            r#"{"accessor":"kv_1","config":{"default_lease_ttl":0,"force_no_cache":false,"max_lease_ttl":0},
                "description":"","local":false,"options":{"version":"2"},"type":"kv","uuid":"u"}"#,
        )
        .unwrap();
        let out = serde_json::to_string(&m).unwrap();
        assert!(out.starts_with(r#"{"uuid":"u","type":"kv","description":"","accessor":"kv_1","config":{"default_lease_ttl":0,"max_lease_ttl":0,"force_no_cache":false},"options":{"version":"2"}"#), "{out}");
    }
}
