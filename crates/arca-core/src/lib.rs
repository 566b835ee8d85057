//! The Arca core: seal state and the barrier, Shamir init/unseal/rekey/generate-root, the
//! mount tables and router, the token and policy stores, and the request pipeline. It builds
//! backends only through the factories it is handed, so it depends on no engine.

mod audit;
pub mod auto_seal;
mod backend_boundary;
pub mod catalog;
mod core;
mod go_time;
pub mod ha;
mod host_info;
mod http_config;
mod identity;
mod identity_template;
mod identity_tokens;
pub mod leases;
mod lockout;
mod login;
pub mod metrics;
mod mount_store;
pub mod mounts;
pub mod namespace_seals;
pub mod namespaces;
pub mod password_policies;
pub mod policy_store;
mod quotas;
mod random;
pub mod reload;
mod request_handling;
pub mod router;
pub mod seal_ops;
pub mod server_info;
mod sys;
mod token_backend;
mod token_fields;
mod token_paths;
pub mod token_roles;
pub mod token_store;
mod token_use;
mod usage_gauges;
mod version_history;
mod views;
mod wrapping;
mod wrapping_jwt;

pub use crate::audit::ConfigAuditDevice;
pub use crate::auto_seal::{AutoSeal, AutoSealError, SealSetup};
pub use crate::core::{AutoUnseal, BackendRegistry, ClusterInfo, Core, CoreConfig, InitResult};
pub use crate::ha::{HaConfig, HaRole, LeaderInfo, PeerNode, StorageAdmin};
pub use crate::metrics::{Metrics, MetricsAnswer, MetricsError};
pub use crate::quotas::{RateLimitAsk, RateLimitVerdict};
pub use crate::seal_ops::{OTP_LENGTH, decode_key};

/// The commit date reported by `sys/seal-status` (`commit_date`, as OpenBao names it).
pub const BUILD_DATE: &str = "2026-11-27T00:00:00Z";

/// The version builtin backends report (`v0.1.0+builtin`).
pub fn builtin_version(version: &str) -> String {
    format!("v{version}+builtin")
}
