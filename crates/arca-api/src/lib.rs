//! `arca-api`: an HTTP client for the Vault/OpenBao-compatible API that Arca serves.
//!
//! The [`Client`] sends requests the way Vault's Go client does (`X-Vault-Request: true`,
//! `X-Vault-Token`, `X-Vault-Namespace`, `X-Vault-Wrap-TTL`) and turns error responses into
//! an [`ApiError`] that prints exactly like Vault's `Error making API request.` text.
//! [`Secret`] is the response envelope; [`sys`] holds the typed `sys/` requests and answers,
//! [`mounts`] and [`audit`] the mount and audit device tables.

pub mod audit;
mod client;
mod error;
pub mod mounts;
mod secret;
pub mod sys;

pub use client::{Client, RawResponse, TlsOptions};
pub use error::{ApiError, ResponseError};
pub use secret::{Secret, SecretAuth, WrapInfo};
