//! Mount-wide settings: `config/urls` (the AIA and CRL URLs put in every certificate) and
//! `config/crl` (CRL lifetime and rebuild behaviour).

use arca_sdk::Storage;
use serde::{Deserialize, Serialize};

use crate::error::PkiResult;
use crate::issuers::{put_json, read_json};

/// `config/urls`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UrlsConfig {
    /// Where the issuing CA's certificate is found (AIA caIssuers).
    #[serde(default)]
    pub issuing_certificates: Vec<String>,
    /// Where the CRL is found.
    #[serde(default)]
    pub crl_distribution_points: Vec<String>,
    /// Where the delta CRL is found.
    #[serde(default)]
    pub delta_crl_distribution_points: Vec<String>,
    /// Where the OCSP responder is (AIA OCSP).
    #[serde(default)]
    pub ocsp_servers: Vec<String>,
    /// Whether `{{issuer_id}}`-style templates are expanded.
    #[serde(default)]
    pub enable_templating: bool,
}

impl UrlsConfig {
    /// Reads `config/urls` (empty when never written).
    pub async fn load(s: &dyn Storage) -> PkiResult<UrlsConfig> {
        Ok(read_json(s, "urls", "URL config")
            .await?
            .unwrap_or_default())
    }

    /// Writes `config/urls`.
    pub async fn save(&self, s: &dyn Storage) -> PkiResult<()> {
        put_json(s, "urls", self).await
    }

    /// The URLs with templates expanded for `issuer_id`.
    pub fn for_issuer(&self, issuer_id: &str) -> UrlsConfig {
        let exp = |v: &Vec<String>| -> Vec<String> {
            if !self.enable_templating {
                return v.clone();
            }
            v.iter()
                .map(|u| u.replace("{{issuer_id}}", issuer_id))
                .collect()
        };
        UrlsConfig {
            issuing_certificates: exp(&self.issuing_certificates),
            crl_distribution_points: exp(&self.crl_distribution_points),
            delta_crl_distribution_points: exp(&self.delta_crl_distribution_points),
            ocsp_servers: exp(&self.ocsp_servers),
            enable_templating: self.enable_templating,
        }
    }
}

/// `config/crl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrlConfig {
    /// How long a CRL is valid, a Go duration.
    #[serde(default = "default_expiry")]
    pub expiry: String,
    /// Whether CRL building is off.
    #[serde(default)]
    pub disable: bool,
    /// Whether the OCSP responder is off.
    #[serde(default)]
    pub ocsp_disable: bool,
    /// How long an OCSP answer is valid.
    #[serde(default = "default_ocsp_expiry")]
    pub ocsp_expiry: String,
    /// Whether CRLs are rebuilt periodically instead of on each revocation.
    #[serde(default)]
    pub auto_rebuild: bool,
    /// How long before expiry an automatic rebuild happens.
    #[serde(default = "default_grace")]
    pub auto_rebuild_grace_period: String,
    /// Whether delta CRLs are built.
    #[serde(default)]
    pub enable_delta: bool,
    /// How often delta CRLs are rebuilt.
    #[serde(default = "default_delta")]
    pub delta_rebuild_interval: String,
    /// Whether expired certificates may be revoked.
    #[serde(default)]
    pub allow_expired_cert_revocation: bool,
}

fn default_expiry() -> String {
    "72h".into()
}
fn default_ocsp_expiry() -> String {
    "12h".into()
}
fn default_grace() -> String {
    "12h".into()
}
fn default_delta() -> String {
    "15m".into()
}

impl Default for CrlConfig {
    fn default() -> Self {
        CrlConfig {
            expiry: default_expiry(),
            disable: false,
            ocsp_disable: false,
            ocsp_expiry: default_ocsp_expiry(),
            auto_rebuild: false,
            auto_rebuild_grace_period: default_grace(),
            enable_delta: false,
            delta_rebuild_interval: default_delta(),
            allow_expired_cert_revocation: false,
        }
    }
}

impl CrlConfig {
    /// Reads `config/crl` (defaults when never written).
    pub async fn load(s: &dyn Storage) -> PkiResult<CrlConfig> {
        Ok(read_json(s, "config/crl", "CRL config")
            .await?
            .unwrap_or_default())
    }

    /// Writes `config/crl`.
    pub async fn save(&self, s: &dyn Storage) -> PkiResult<()> {
        put_json(s, "config/crl", self).await
    }
}
