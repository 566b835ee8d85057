//! What a listener is configured with: address, TLS and request limits.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Vault's default `max_request_size`: 32 MiB.
pub const DEFAULT_MAX_REQUEST_SIZE: usize = 32 * 1024 * 1024;
/// Vault's default `max_request_duration`.
pub const DEFAULT_MAX_REQUEST_DURATION: Duration = Duration::from_secs(90);
/// Default `max_json_depth` (Vault's documented default).
pub const DEFAULT_MAX_JSON_DEPTH: usize = 500;
/// Default `max_json_string_value_length`: 1 MiB.
pub const DEFAULT_MAX_JSON_STRING_LENGTH: usize = 1024 * 1024;
/// Default `max_json_object_entry_count` (Vault's).
pub const DEFAULT_MAX_JSON_OBJECT_ENTRIES: usize = 10_000;
/// Default `max_json_array_element_count` (Vault's).
pub const DEFAULT_MAX_JSON_ARRAY_ELEMENTS: usize = 10_000;

/// One TCP listener.
#[derive(Debug, Clone)]
pub struct ListenerOptions {
    /// Where to listen (`127.0.0.1:8200`; port 0 picks a free port).
    pub address: SocketAddr,
    /// TLS; `None` serves plain HTTP (Vault's `tls_disable = true`).
    pub tls: Option<TlsOptions>,
    /// Largest request body accepted, enforced while reading; `None` = unlimited.
    pub max_request_size: Option<usize>,
    /// Longest a request may take, body reading included; `Duration::ZERO` = unlimited.
    pub max_request_duration: Duration,
    /// Deepest nesting of JSON objects and arrays in a body (0 = the default; capped at 1000
    /// so the parser stays within a worker thread's stack).
    pub max_json_depth: usize,
    /// Longest JSON string (raw bytes between the quotes), keys included.
    pub max_json_string_length: usize,
    /// Most entries in one JSON object.
    pub max_json_object_entries: usize,
    /// Most elements in one JSON array.
    pub max_json_array_elements: usize,
    /// Where the requests being served are registered (`sys/in-flight-req`); shared by every
    /// listener of a server.
    pub in_flight: Option<std::sync::Arc<crate::InFlight>>,
    /// Who may read `sys/metrics` here (the listener's `telemetry` block).
    pub metrics: MetricsAccess,
    /// Whose `X-Forwarded-For` names the client (Vault's `x_forwarded_for_*`).
    pub forwarded_for: crate::forwarded::ForwardedFor,
    /// Headers added to answers by status (`custom_response_headers`).
    pub custom_headers: crate::custom_headers::CustomHeaders,
    /// The PROXY protocol in front of the connection (`proxy_protocol_*`); `None` = off.
    pub proxy_protocol: Option<crate::proxy_protocol::ProxyProtocol>,
    /// What the status endpoints leave out (`redact_*`).
    pub redact: crate::redact::Redaction,
}

/// A listener's `telemetry { ... }` options, as OpenBao applies them before anything else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsAccess {
    /// `GET /v1/sys/metrics` answered without a token (`unauthenticated_metrics_access`).
    pub unauthenticated: bool,
    /// `sys/metrics` refused on this listener, 403 (`disallow_metrics`).
    pub disallow: bool,
    /// Only the metrics are served here, every other path is 404 (`metrics_only`).
    pub only: bool,
    /// With `only`, the path the metrics answer at instead of `/v1/sys/metrics`.
    pub path: Option<String>,
}

impl ListenerOptions {
    /// Options for `address` with Vault's default limits and no TLS.
    pub fn new(address: SocketAddr) -> ListenerOptions {
        ListenerOptions {
            address,
            tls: None,
            max_request_size: Some(DEFAULT_MAX_REQUEST_SIZE),
            max_request_duration: DEFAULT_MAX_REQUEST_DURATION,
            max_json_depth: DEFAULT_MAX_JSON_DEPTH,
            max_json_string_length: DEFAULT_MAX_JSON_STRING_LENGTH,
            max_json_object_entries: DEFAULT_MAX_JSON_OBJECT_ENTRIES,
            max_json_array_elements: DEFAULT_MAX_JSON_ARRAY_ELEMENTS,
            in_flight: None,
            metrics: MetricsAccess::default(),
            forwarded_for: Default::default(),
            custom_headers: Default::default(),
            proxy_protocol: None,
            redact: Default::default(),
        }
    }
}

impl Default for ListenerOptions {
    /// `127.0.0.1:8200`, Vault's default address, with the default limits.
    fn default() -> ListenerOptions {
        ListenerOptions::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 8200)))
    }
}

/// A TLS protocol version (rustls speaks 1.2 and 1.3 only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2 (`tls12`), Vault's default minimum.
    Tls12,
    /// TLS 1.3 (`tls13`).
    Tls13,
}

impl TlsVersion {
    /// Parses Vault's spelling (`tls12`, `tls13`); `tls10`/`tls11` are refused as unsupported.
    pub fn parse(s: &str) -> Option<TlsVersion> {
        match s {
            "tls12" => Some(TlsVersion::Tls12),
            "tls13" => Some(TlsVersion::Tls13),
            _ => None,
        }
    }
}

/// TLS settings of a listener (Vault's `tls_*` listener options).
#[derive(Debug, Clone)]
pub struct TlsOptions {
    /// PEM file with the server certificate chain, leaf first (`tls_cert_file`).
    pub cert_file: PathBuf,
    /// PEM file with the private key (`tls_key_file`).
    pub key_file: PathBuf,
    /// PEM file with the CAs client certificates are checked against (`tls_client_ca_file`).
    pub client_ca_file: Option<PathBuf>,
    /// Lowest version offered (`tls_min_version`).
    pub min_version: TlsVersion,
    /// Highest version offered (`tls_max_version`); `None` = the newest.
    pub max_version: Option<TlsVersion>,
    /// Refuse clients without a certificate signed by `client_ca_file`.
    pub require_and_verify_client_cert: bool,
    /// Do not ask clients for a certificate at all.
    pub disable_client_certs: bool,
}

impl TlsOptions {
    /// Options for a certificate and key with Vault's defaults: TLS 1.2 minimum, client
    /// certificates requested but not required.
    pub fn new(cert_file: impl Into<PathBuf>, key_file: impl Into<PathBuf>) -> TlsOptions {
        TlsOptions {
            cert_file: cert_file.into(),
            key_file: key_file.into(),
            client_ca_file: None,
            min_version: TlsVersion::Tls12,
            max_version: None,
            require_and_verify_client_cert: false,
            disable_client_certs: false,
        }
    }
}
