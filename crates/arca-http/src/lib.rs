//! Arca's HTTP layer: listeners (plain and TLS), the translation of Vault's `/v1/...` HTTP API
//! into [`arca_sdk::Request`]s and of [`arca_sdk::Response`]s back into Vault's JSON envelope,
//! and the limits applied before anything reaches the core (request size, JSON shape, duration).
//!
//! This crate knows HTTP and nothing of the core: the server hands it a [`RequestHandler`] and
//! gets a [`ServerHandle`] back from [`serve`].
//!
//! Architecture invariants:
//! - only this crate sees HTTP types; the handler sees `arca_sdk` types only;
//! - a path is checked for canonical form (no `//`, no `.`/`..` segment, no NUL, also after
//!   percent-decoding) before anything routes on it, so the router and the ACL see one string;
//! - a body is bounded in size while it is read, and its JSON shape is bounded by a streaming
//!   pre-scan before it is parsed;
//! - tokens and bodies never reach a log line.

mod body;
mod envelope;
mod error;
mod json_limits;
mod namespace;
mod operation;
mod options;
mod request_path;
mod server;
mod tls;
mod translate;

use async_trait::async_trait;

pub use error::HttpError;
pub use options::{ListenerOptions, TlsOptions, TlsVersion};
pub use server::{ServerHandle, serve};

/// What the server plugs into a listener: it gets every API request and answers it.
#[async_trait]
pub trait RequestHandler: Send + Sync + 'static {
    /// Handles one request. `Ok(None)` is answered with `204 No Content`.
    async fn handle(
        &self,
        req: arca_sdk::Request,
    ) -> Result<Option<arca_sdk::Response>, arca_sdk::LogicalError>;
}
