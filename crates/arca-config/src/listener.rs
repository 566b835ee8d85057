//! The `listener "tcp"` stanza: address, TLS settings (served through rustls) and request
//! limits, with Vault's defaults.

use std::path::PathBuf;
use std::time::Duration;

use crate::decode::{Site, check_duplicates};
use crate::error::{ConfigError, Location};
use crate::keys::{LISTENER_BLOCKS, UNSUPPORTED_LISTENER};
use crate::listener_http::{self, ListenerHttpOptions};
use crate::tree::{Block, Node};

/// Vault's default `max_request_size`: 32 MiB.
pub const DEFAULT_MAX_REQUEST_SIZE: i64 = 33_554_432;

/// Vault's default `max_request_duration`: 90 seconds.
pub const DEFAULT_MAX_REQUEST_DURATION: Duration = Duration::from_secs(90);

/// Vault's default listener `address`.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:8200";

/// One `listener "tcp" { ... }` stanza.
///
/// As in Vault, TLS is on unless `tls_disable` is set, and then `tls_cert_file` and
/// `tls_key_file` are required. By default a TLS listener asks for a client certificate without
/// requiring one (see [`ListenerConfig::client_cert_mode`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConfig {
    /// The listener type; always `tcp` for now.
    pub kind: String,
    /// The address to listen on, `host:port`. Default `127.0.0.1:8200`.
    pub address: String,
    /// Serve plain HTTP instead of TLS. Default `false`, as in Vault.
    pub tls_disable: bool,
    /// PEM certificate chain for the listener.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key for the listener.
    pub tls_key_file: Option<PathBuf>,
    /// PEM CA bundle used to verify client certificates.
    pub tls_client_ca_file: Option<PathBuf>,
    /// Lowest TLS version: `tls12` (default) or `tls13`.
    pub tls_min_version: String,
    /// Highest TLS version, `tls12` or `tls13`; `None` means the highest rustls offers.
    pub tls_max_version: Option<String>,
    /// Refuse clients that present no valid certificate.
    pub tls_require_and_verify_client_cert: bool,
    /// Do not ask clients for a certificate at all.
    pub tls_disable_client_certs: bool,
    /// Largest request body in bytes, as written: 0 means the default (32 MiB), a negative
    /// value means no limit. Use [`ListenerConfig::max_request_size_bytes`] to apply it.
    pub max_request_size: i64,
    /// Longest a request may run before it is cancelled. Default 90s (a configured 0 also
    /// means the default).
    pub max_request_duration: Duration,
    /// The address advertised for cluster traffic from this listener.
    pub cluster_address: Option<String>,
    /// The listener's `telemetry { ... }` block (who may read `sys/metrics` here).
    pub telemetry: crate::telemetry::ListenerTelemetry,
    /// Forwarded client addresses, PROXY protocol, custom response headers, redaction.
    pub http: ListenerHttpOptions,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        Self {
            kind: "tcp".to_owned(),
            address: DEFAULT_ADDRESS.to_owned(),
            tls_disable: false,
            tls_cert_file: None,
            tls_key_file: None,
            tls_client_ca_file: None,
            tls_min_version: "tls12".to_owned(),
            tls_max_version: None,
            tls_require_and_verify_client_cert: false,
            tls_disable_client_certs: false,
            max_request_size: DEFAULT_MAX_REQUEST_SIZE,
            max_request_duration: DEFAULT_MAX_REQUEST_DURATION,
            cluster_address: None,
            telemetry: crate::telemetry::ListenerTelemetry::default(),
            http: ListenerHttpOptions::default(),
        }
    }
}

/// How a TLS listener treats client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCertMode {
    /// No client certificate is asked for (plain HTTP, or `tls_disable_client_certs`).
    Disabled,
    /// A certificate is asked for and verified if sent, but a client may send none: Vault's
    /// default, which lets the `cert` auth method work on an ordinary listener. In rustls this
    /// is a client verifier that allows unauthenticated clients.
    Requested,
    /// A valid client certificate is required (`tls_require_and_verify_client_cert`).
    Required,
}

impl ListenerConfig {
    /// The request body limit in bytes: `None` when there is no limit (a negative
    /// `max_request_size`), the 32 MiB default for 0.
    pub fn max_request_size_bytes(&self) -> Option<usize> {
        match self.max_request_size {
            n if n < 0 => None,
            0 => usize::try_from(DEFAULT_MAX_REQUEST_SIZE).ok(),
            n => Some(usize::try_from(n).unwrap_or(usize::MAX)),
        }
    }

    /// How the TLS handshake treats client certificates.
    pub fn client_cert_mode(&self) -> ClientCertMode {
        if self.tls_disable || self.tls_disable_client_certs {
            ClientCertMode::Disabled
        } else if self.tls_require_and_verify_client_cert {
            ClientCertMode::Required
        } else {
            ClientCertMode::Requested
        }
    }
}

/// The `listener "tcp"` keys Arca implements.
const SUPPORTED_KEYS: &[&str] = &[
    "address",
    "cluster_address",
    "max_request_duration",
    "max_request_size",
    "tls_cert_file",
    "tls_client_ca_file",
    "tls_disable",
    "tls_disable_client_certs",
    "tls_key_file",
    "tls_max_version",
    "tls_min_version",
    "tls_require_and_verify_client_cert",
];

/// Checks a TLS version name: rustls speaks TLS 1.2 and 1.3 only.
fn tls_version(site: &Site<'_>, node: &Node) -> Result<String, ConfigError> {
    let version = site.string(node)?;
    match version.as_str() {
        "tls12" | "tls13" => Ok(version),
        "tls10" | "tls11" => Err(site.error(format!(
            "{version} is not supported: rustls supports tls12 and tls13 only"
        ))),
        _ => Err(site.error(format!(
            "unknown TLS version {}; expected tls12 or tls13",
            node.value.describe()
        ))),
    }
}

/// Reads a `listener` block into a [`ListenerConfig`]; ignored keys add to `warnings`.
pub(crate) fn from_block(
    block: &Block,
    file: &str,
    warnings: &mut Vec<String>,
) -> Result<ListenerConfig, ConfigError> {
    let kind = block.labels.first().cloned().unwrap_or_default();
    let prefix = format!("listener.{kind}");
    if kind != "tcp" {
        let message = if kind == "unix" {
            "unix socket listeners are not supported yet; use listener \"tcp\"".to_owned()
        } else {
            "unknown listener type; only \"tcp\" is supported".to_owned()
        };
        return Err(ConfigError::invalid(file, block.line, prefix, message));
    }
    check_duplicates(&block.body, file, &prefix, LISTENER_BLOCKS)?;

    let mut listener = ListenerConfig::default();
    let mut require_line = None;
    let mut disable_certs_line = None;
    let mut max_version_line = None;
    for entry in &block.body {
        let site = Site {
            file,
            key: format!("{prefix}.{}", entry.key),
            line: entry.line,
        };
        let key = entry.key.as_str();
        if key == "telemetry" {
            crate::telemetry::listener_telemetry(
                entry,
                file,
                &prefix,
                warnings,
                &mut listener.telemetry,
            )?;
            continue;
        }
        if listener_http::KEYS.contains(&key) {
            listener.http.read(&site, entry)?;
            continue;
        }
        if !SUPPORTED_KEYS.contains(&key) {
            let why = if UNSUPPORTED_LISTENER.contains(&key) {
                "not supported by Arca yet; ignored"
            } else {
                "unknown key; ignored"
            };
            warnings.push(format!(
                "{}: {}: {why}",
                Location::new(file, entry.line),
                site.key
            ));
            continue;
        }
        let Some(node) = site.set_value(entry)? else {
            continue;
        };
        match key {
            "address" => listener.address = site.non_empty_string(node)?,
            "cluster_address" => listener.cluster_address = Some(site.non_empty_string(node)?),
            "tls_disable" => listener.tls_disable = site.bool(node)?,
            "tls_cert_file" => listener.tls_cert_file = Some(site.path(node)?),
            "tls_key_file" => listener.tls_key_file = Some(site.path(node)?),
            "tls_client_ca_file" => listener.tls_client_ca_file = Some(site.path(node)?),
            "tls_min_version" => listener.tls_min_version = tls_version(&site, node)?,
            "tls_max_version" => {
                listener.tls_max_version = Some(tls_version(&site, node)?);
                max_version_line = entry.line;
            }
            "tls_require_and_verify_client_cert" => {
                listener.tls_require_and_verify_client_cert = site.bool(node)?;
                require_line = entry.line;
            }
            "tls_disable_client_certs" => {
                listener.tls_disable_client_certs = site.bool(node)?;
                disable_certs_line = entry.line;
            }
            "max_request_size" => {
                listener.max_request_size = match site.int(node)? {
                    0 => DEFAULT_MAX_REQUEST_SIZE,
                    n => n,
                };
            }
            "max_request_duration" => {
                listener.max_request_duration = match site.duration(node)? {
                    d if d.is_zero() => DEFAULT_MAX_REQUEST_DURATION,
                    d => d,
                };
            }
            _ => {}
        }
    }

    if listener.tls_require_and_verify_client_cert && listener.tls_disable_client_certs {
        let line = match (require_line, disable_certs_line) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        return Err(ConfigError::invalid(
            file,
            line,
            format!("{prefix}.tls_disable_client_certs"),
            "tls_disable_client_certs and tls_require_and_verify_client_cert are mutually exclusive",
        ));
    }
    if let Some(max) = &listener.tls_max_version
        && max.as_str() < listener.tls_min_version.as_str()
    {
        return Err(ConfigError::invalid(
            file,
            max_version_line,
            format!("{prefix}.tls_max_version"),
            format!(
                "{max} is lower than tls_min_version {}",
                listener.tls_min_version
            ),
        ));
    }
    if !listener.tls_disable {
        for (name, value) in [
            ("tls_cert_file", &listener.tls_cert_file),
            ("tls_key_file", &listener.tls_key_file),
        ] {
            if value.is_none() {
                return Err(ConfigError::invalid(
                    file,
                    block.line,
                    format!("{prefix}.{name}"),
                    "required when TLS is enabled (set tls_disable = true to serve plain HTTP)",
                ));
            }
        }
    }
    Ok(listener)
}
