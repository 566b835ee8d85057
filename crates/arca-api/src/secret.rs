//! The response envelope every logical (non-`sys/` status) endpoint answers with.
//!
//! Field order follows Vault's Go `api.Secret`, so serialising one prints the same JSON as
//! `vault read -format=json`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

/// A response envelope (`request_id`, `data`, `auth`, `wrap_info`, ...).
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Secret {
    /// The server's id for the request.
    #[serde(default)]
    pub request_id: String,
    /// The lease id, empty when the data is not leased.
    #[serde(default)]
    pub lease_id: String,
    /// Lease (or refresh) duration in seconds.
    #[serde(default)]
    pub lease_duration: i64,
    /// Whether the lease can be renewed.
    #[serde(default)]
    pub renewable: bool,
    /// The response data (`null` when absent).
    #[serde(default)]
    pub data: Option<Map<String, Value>>,
    /// Warnings the server attached (`null` when none).
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
    /// Authentication information (login, token create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<SecretAuth>,
    /// Response-wrapping information when the answer was wrapped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrap_info: Option<WrapInfo>,
    /// The type of the mount that answered (not printed by the CLI).
    #[serde(default, skip_serializing)]
    pub mount_type: String,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Data, auth and wrap tokens are secrets: never print them.
        f.debug_struct("Secret")
            .field("request_id", &self.request_id)
            .field("lease_duration", &self.lease_duration)
            .field("renewable", &self.renewable)
            .field("has_data", &self.data.is_some())
            .field("has_auth", &self.auth.is_some())
            .field("has_wrap_info", &self.wrap_info.is_some())
            .finish_non_exhaustive()
    }
}

/// The `auth` block of a response (a login or a created token).
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct SecretAuth {
    /// The token itself (wiped on drop).
    #[serde(default)]
    pub client_token: Zeroizing<String>,
    /// The token's accessor.
    #[serde(default)]
    pub accessor: String,
    /// All policies of the token.
    #[serde(default)]
    pub policies: Option<Vec<String>>,
    /// Policies attached to the token directly.
    #[serde(default)]
    pub token_policies: Option<Vec<String>>,
    /// Policies coming from the identity system.
    #[serde(default)]
    pub identity_policies: Option<Vec<String>>,
    /// Token metadata.
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    /// Whether the token has no parent.
    #[serde(default)]
    pub orphan: bool,
    /// The entity the token belongs to.
    #[serde(default)]
    pub entity_id: String,
    /// Token TTL in seconds.
    #[serde(default)]
    pub lease_duration: i64,
    /// Whether the token can be renewed.
    #[serde(default)]
    pub renewable: bool,
    /// MFA requirement of the login, if any.
    #[serde(default)]
    pub mfa_requirement: Option<Value>,
}

impl std::fmt::Debug for SecretAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretAuth")
            .field("policies", &self.policies)
            .field("lease_duration", &self.lease_duration)
            .finish_non_exhaustive()
    }
}

/// The `wrap_info` block of a wrapped response.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct WrapInfo {
    /// The wrapping token (wiped on drop).
    #[serde(default)]
    pub token: Zeroizing<String>,
    /// The wrapping token's accessor.
    #[serde(default)]
    pub accessor: String,
    /// TTL of the wrapping token in seconds.
    #[serde(default)]
    pub ttl: i64,
    /// RFC 3339 creation time.
    #[serde(default)]
    pub creation_time: String,
    /// The path whose answer was wrapped.
    #[serde(default)]
    pub creation_path: String,
    /// Accessor of a wrapped token, if one was wrapped (always printed, empty otherwise, as
    /// bao's `-format=json` prints it).
    #[serde(default)]
    pub wrapped_accessor: String,
}

impl std::fmt::Debug for WrapInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WrapInfo")
            .field("ttl", &self.ttl)
            .field("creation_path", &self.creation_path)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_in_vault_order() {
        let s: Secret = serde_json::from_str(
            r#"{"request_id":"r","lease_id":"","renewable":false,"lease_duration":5,
                "data":{"a":"1"},"wrap_info":null,"warnings":null,"auth":null,"mount_type":"kv"}"#,
        )
        .unwrap();
        assert_eq!(s.mount_type, "kv");
        let out = serde_json::to_string(&s).unwrap();
        assert_eq!(
            out,
            r#"{"request_id":"r","lease_id":"","lease_duration":5,"renewable":false,"data":{"a":"1"},"warnings":null}"#
        );
        assert!(!format!("{s:?}").contains("\"1\""));
    }
}
