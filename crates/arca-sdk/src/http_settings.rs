//! Settings the core keeps and the HTTP layer applies before and after a request: the CORS
//! configuration (`sys/config/cors`) and the UI's response headers (`sys/config/ui/headers`).
//! Both sides see only these plain types.

use serde::{Deserialize, Serialize};

/// The request headers a cross-origin request may always carry (Vault's `StdAllowedHeaders`);
/// the configured ones are appended.
pub const CORS_STD_ALLOWED_HEADERS: &[&str] = &[
    "Content-Type",
    "Authorization",
    "X-Vault-Token",
    "X-Vault-MFA",
    "X-Vault-No-Request-Forwarding",
    "X-Vault-Wrap-Format",
    "X-Vault-Wrap-TTL",
    "X-Requested-With",
    "X-Vault-AWS-IAM-Server-ID",
    "X-Vault-Policy-Override",
];

/// The CORS configuration, as OpenBao stores it (`enabled` as 0/1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsConfig {
    /// 1 when enabled.
    #[serde(default)]
    pub enabled: u32,
    /// The origins allowed, or `["*"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
    /// Vault's standard headers followed by the configured ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_headers: Vec<String>,
    /// Answer `Access-Control-Allow-Credentials: true`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_credentials: bool,
}

impl CorsConfig {
    /// Whether CORS is on.
    pub fn is_enabled(&self) -> bool {
        self.enabled == 1
    }

    /// Vault's `IsValidOrigin`: any origin while disabled; `*` alone allows every origin.
    pub fn is_valid_origin(&self, origin: &str) -> bool {
        if !self.is_enabled() {
            return true;
        }
        match self.allowed_origins.as_slice() {
            [] => false,
            [only] if only == "*" => true,
            list => list.iter().any(|o| o == origin),
        }
    }
}

/// The headers the UI's answers carry: the configured ones (first value of each, as Vault's
/// `Header.Get`) and the defaults where none is configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UiHeaders {
    /// Name and value, in the order to send them.
    pub headers: Vec<(String, String)>,
}
