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
mod client_cert;
mod cluster;
mod cors;
mod custom_headers;
mod envelope;
mod error;
mod forwarded;
mod header_names;
mod in_flight;
mod json_limits;
mod namespace;
mod operation;
mod options;
mod proxy_protocol;
mod quota;
mod redact;
mod request_path;
mod server;
mod streaming;
mod tls;
mod translate;
mod ui;

use async_trait::async_trait;

pub use client_cert::ForwardedClientCert;
pub use cluster::{ClusterIdentity, Forwarder};
pub use custom_headers::CustomHeaders;
pub use error::HttpError;
pub use forwarded::ForwardedFor;
pub use in_flight::InFlight;
pub use options::{ListenerOptions, MetricsAccess, TlsOptions, TlsVersion};
pub use proxy_protocol::{Behavior as ProxyProtocolBehavior, ProxyProtocol};
pub use quota::{RateLimitAsk, RateLimitVerdict};
pub use redact::Redaction;
pub use server::{ClusterPort, ClusterProtocol, ServerHandle, serve, serve_cluster_port};

/// What the server plugs into a listener: it gets every API request and answers it.
#[async_trait]
pub trait RequestHandler: Send + Sync + 'static {
    /// Handles one request. `Ok(None)` is answered with `204 No Content`.
    async fn handle(
        &self,
        req: arca_sdk::Request,
    ) -> Result<Option<arca_sdk::Response>, arca_sdk::LogicalError>;

    /// Where this node's requests go: [`HaRoute::Local`] unless it is a standby of an HA
    /// cluster.
    fn ha_route(&self) -> HaRoute {
        HaRoute::Local
    }

    /// Forwarding to the active node failed: look it up again.
    async fn forward_failed(&self) {}

    /// A standby's echo arrived on the cluster port (what it says about itself).
    fn echo(&self, _node: serde_json::Value) {}

    /// The rate-limit quotas' decision on a request, asked before its body is read (the
    /// headers are sent with the answer).
    fn rate_limit(&self, _ask: &RateLimitAsk<'_>) -> RateLimitVerdict {
        RateLimitVerdict::Allowed(Vec::new())
    }

    /// Whether a request the rate-limit quotas refuse is to be audited (asked only for refused
    /// requests, before the request is built for [`RequestHandler::audit_rate_limited`]).
    fn audits_rate_limited(&self) -> bool {
        false
    }

    /// Audits a request the rate-limit quotas refused with `error`.
    async fn audit_rate_limited(&self, _req: arca_sdk::Request, _error: String) {}

    /// After [`RateLimitVerdict::NeedsRole`]: the role the login body `body` names.
    async fn login_role(
        &self,
        _ask: &RateLimitAsk<'_>,
        _body: &serde_json::Map<String, serde_json::Value>,
    ) -> String {
        String::new()
    }

    /// `GET /v1/sys/metrics` on a listener with `unauthenticated_metrics_access`: the metrics
    /// in `format` (`""` JSON, `prometheus`, anything else a 400), answered without the core's
    /// pipeline, as OpenBao's `handleMetricsUnauthenticated`. `None` when the server keeps
    /// none (then the request goes through the core like any other).
    fn metrics(&self, _format: &str) -> Option<arca_sdk::RawHttp> {
        None
    }

    /// The CORS configuration (`sys/config/cors`) as it stands; `None` when there is none.
    fn cors(&self) -> Option<std::sync::Arc<arca_sdk::http_settings::CorsConfig>> {
        None
    }

    /// The UI's response headers; `None` when the UI is off (`/ui/` is then a 404).
    fn ui_headers(&self) -> Option<std::sync::Arc<arca_sdk::http_settings::UiHeaders>> {
        None
    }
}

/// Where a request goes.
#[derive(Clone, Debug)]
pub enum HaRoute {
    /// Served by this node.
    Local,
    /// This node is a standby: requests go to the active node, when one is known.
    Standby(Option<ActiveNode>),
}

/// The active node as a standby reaches it.
#[derive(Clone, Debug)]
pub struct ActiveNode {
    /// Its `api_addr`, where clients are redirected (307) when they refuse forwarding.
    pub api_addr: String,
    /// The client to its cluster port.
    pub forwarder: std::sync::Arc<Forwarder>,
}
