//! The stored records of a mount: trusted certificate entries (`cert/<name>`), the mount
//! configuration (`config`) and the CRLs (`crls/<name>`), each a versioned JSON object.

use std::collections::BTreeMap;

use arca_sdk::storage::StorageExt;
use arca_sdk::token_util::{LegacyTokenFields, TokenParams};
use arca_sdk::{LogicalError, Storage};
use serde::{Deserialize, Serialize};

/// Where certificate entries live.
pub(crate) const CERT_PREFIX: &str = "cert/";
/// Where CRLs live.
pub(crate) const CRL_PREFIX: &str = "crls/";
/// The key of the mount configuration.
const CONFIG_KEY: &str = "config";

/// The version of the record layouts this code writes and reads.
const RECORD_VERSION: u32 = 1;

fn check_version(kind: &str, version: u32) -> Result<(), LogicalError> {
    if version > RECORD_VERSION {
        return Err(LogicalError::internal(format!(
            "{kind} record version {version} is newer than this server understands"
        )));
    }
    Ok(())
}

/// One trusted certificate (a CA or a pinned leaf) and the constraints and token settings of
/// the logins it allows. Lists read back as `null` until first given, as OpenBao's do.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct CertEntry {
    /// Layout version.
    pub version: u32,
    /// The entry's name (lower-cased).
    pub name: String,
    /// The trusted certificate(s), PEM.
    pub certificate: String,
    /// The display name of the tokens it issues.
    pub display_name: String,
    /// Glob patterns matched against the CN, DNS and email SANs.
    pub allowed_names: Option<Vec<String>>,
    /// Glob patterns for the CN.
    pub allowed_common_names: Option<Vec<String>>,
    /// Glob patterns for DNS SANs.
    pub allowed_dns_sans: Option<Vec<String>>,
    /// Glob patterns for email SANs.
    pub allowed_email_sans: Option<Vec<String>>,
    /// Glob patterns for URI SANs.
    pub allowed_uri_sans: Option<Vec<String>>,
    /// Glob patterns for subject OUs.
    pub allowed_organizational_units: Option<Vec<String>>,
    /// `oid:value-glob` extensions the certificate must carry.
    pub required_extensions: Option<Vec<String>>,
    /// Extension OIDs copied into the login metadata.
    pub allowed_metadata_extensions: Option<Vec<String>>,
    /// Check the login certificate's OCSP status.
    pub ocsp_enabled: bool,
    /// Extra CA certificates (PEM) for OCSP.
    pub ocsp_ca_certificates: String,
    /// OCSP responders to ask instead of the certificate's AIA ones.
    pub ocsp_servers_override: Option<Vec<String>>,
    /// An unknown OCSP status lets the login through.
    pub ocsp_fail_open: bool,
    /// Ask every responder rather than the first that answers.
    pub ocsp_query_all_servers: bool,
    /// The token settings.
    pub token: TokenParams,
    /// Legacy `policies`.
    pub policies: Vec<String>,
    /// Legacy `ttl`, seconds.
    pub ttl: u64,
    /// Legacy `max_ttl`, seconds.
    pub max_ttl: u64,
    /// Legacy `period`, seconds.
    pub period: u64,
    /// Legacy `bound_cidrs`.
    pub bound_cidrs: Vec<String>,
}

impl CertEntry {
    /// Fills token settings a record only has under the older names, as OpenBao does on every
    /// read of an entry.
    fn upgrade_legacy(&mut self) {
        self.token.upgrade_legacy(LegacyTokenFields {
            ttl: self.ttl,
            max_ttl: self.max_ttl,
            period: self.period,
            policies: &self.policies,
            bound_cidrs: &self.bound_cidrs,
            ..LegacyTokenFields::default()
        });
    }
}

/// Reads the entry `name` (already lower-cased), legacy fields upgraded.
pub(crate) async fn load_cert(
    storage: &dyn Storage,
    name: &str,
) -> Result<Option<CertEntry>, LogicalError> {
    let Some(mut entry) = storage
        .get_json::<CertEntry>(&format!("{CERT_PREFIX}{name}"))
        .await?
    else {
        return Ok(None);
    };
    check_version("certificate", entry.version)?;
    entry.upgrade_legacy();
    Ok(Some(entry))
}

/// Writes the entry under its name.
pub(crate) async fn store_cert(
    storage: &dyn Storage,
    entry: &CertEntry,
) -> Result<(), LogicalError> {
    let mut entry = entry.clone();
    entry.version = RECORD_VERSION;
    storage
        .put_json(&format!("{CERT_PREFIX}{}", entry.name), &entry)
        .await
}

/// The mount configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Config {
    /// Layout version.
    pub version: u32,
    /// Renewal does not require the login's certificate.
    pub disable_binding: bool,
    /// The login metadata goes on the entity alias too.
    pub enable_identity_alias_metadata: bool,
    /// The size of the mount's OCSP answer cache (at least 100 are kept whatever it says).
    pub ocsp_cache_size: i64,
}

/// Reads the configuration (defaults when never written).
pub(crate) async fn load_config(storage: &dyn Storage) -> Result<Config, LogicalError> {
    let config = storage
        .get_json::<Config>(CONFIG_KEY)
        .await
        .map_err(|e| LogicalError::internal(format!("error reading configuration: {e}")))?
        .unwrap_or_default();
    check_version("configuration", config.version)?;
    Ok(config)
}

/// Writes the configuration.
pub(crate) async fn store_config(
    storage: &dyn Storage,
    config: &Config,
) -> Result<(), LogicalError> {
    let mut config = config.clone();
    config.version = RECORD_VERSION;
    storage.put_json(CONFIG_KEY, &config).await
}

/// A CRL distribution point a CRL was fetched from.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct CdpInfo {
    /// Its URL.
    pub url: String,
    /// The CRL's next update (RFC 3339).
    pub valid_until: String,
}

/// One stored CRL: the revoked serials (decimal) and where it came from.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct CrlInfo {
    /// Layout version.
    pub version: u32,
    /// The distribution point, for a CRL fetched from a URL.
    pub cdp: Option<CdpInfo>,
    /// Revoked serial numbers, decimal.
    pub serials: BTreeMap<String, serde_json::Value>,
}

/// Reads the CRL `name`.
pub(crate) async fn load_crl(
    storage: &dyn Storage,
    name: &str,
) -> Result<Option<CrlInfo>, LogicalError> {
    let crl = storage
        .get_json::<CrlInfo>(&format!("{CRL_PREFIX}{name}"))
        .await?;
    if let Some(c) = &crl {
        check_version("CRL", c.version)?;
    }
    Ok(crl)
}

/// Writes the CRL `name`.
pub(crate) async fn store_crl(
    storage: &dyn Storage,
    name: &str,
    crl: &CrlInfo,
) -> Result<(), LogicalError> {
    let mut crl = crl.clone();
    crl.version = RECORD_VERSION;
    storage.put_json(&format!("{CRL_PREFIX}{name}"), &crl).await
}

/// Every stored CRL.
pub(crate) async fn all_crls(storage: &dyn Storage) -> Result<Vec<CrlInfo>, LogicalError> {
    let mut out = Vec::new();
    for key in storage.list(CRL_PREFIX).await? {
        if let Some(c) = load_crl(storage, &key).await? {
            out.push(c);
        }
    }
    Ok(out)
}
