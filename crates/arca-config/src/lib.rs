//! Arca's server configuration, read from Vault's config formats.
//!
//! A server config is written in HCL (`*.hcl`) or in its JSON form (`*.json`), exactly as a
//! Vault or OpenBao operator writes it:
//!
//! ```hcl
//! storage "file" { path = "/var/lib/arca" }
//! listener "tcp" {
//!   address       = "0.0.0.0:8200"
//!   tls_cert_file = "/etc/arca/tls.crt"
//!   tls_key_file  = "/etc/arca/tls.key"
//! }
//! api_addr = "https://arca.example.com:8200"
//! ```
//!
//! [`load_file`] reads a file or a directory of files; [`parse_str`] reads text. Both return a
//! typed [`ServerConfig`], or a [`ConfigError`] whose message names the file, the line and the
//! key at fault. Keys Arca does not implement are accepted and reported in
//! [`ServerConfig::warnings`], as Vault does not fail on them either.
//!
//! Invariant: this crate only reads and checks configuration. It opens no sockets and builds no
//! TLS state; the listener crate turns a [`ListenerConfig`] into a rustls server, and the core
//! enables the [`AuditDevice`]s.

#![deny(unsafe_code)]

mod audit;
mod decode;
mod error;
mod hcl_syntax;
mod json_syntax;
mod keys;
mod lines;
mod listener;
mod listener_http;
mod load;
mod sanitized;
mod seal;
mod server;
mod storage;
mod telemetry;
mod tree;
mod user_lockout;

pub use arca_sdk::duration::{DurationError, parse_duration};
pub use audit::AuditDevice;
pub use error::{ConfigError, Location};
pub use listener::{
    ClientCertMode, DEFAULT_ADDRESS, DEFAULT_MAX_REQUEST_DURATION, DEFAULT_MAX_REQUEST_SIZE,
    ListenerConfig,
};
pub use listener_http::{ListenerHttpOptions, ProxyProtocolBehavior, canonical_header_name};
pub use load::{load_file, load_files, parse_str};
pub use seal::{SealStanza, parse_seal_stanzas};
pub use server::{DEFAULT_LEASE_TTL, DEFAULT_MAX_LEASE_TTL, ServerConfig};
pub use storage::StorageConfig;
pub use telemetry::{
    DEFAULT_PROMETHEUS_RETENTION, DEFAULT_USAGE_GAUGE_PERIOD, ListenerTelemetry, TelemetryConfig,
};
pub use user_lockout::{
    DEFAULT_LOCKOUT_COUNTER_RESET, DEFAULT_LOCKOUT_DURATION, DEFAULT_LOCKOUT_THRESHOLD,
    USER_LOCKOUT_TYPES, UserLockout,
};
