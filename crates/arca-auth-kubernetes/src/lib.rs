//! Arca's Kubernetes auth method (`kubernetes` mounts), as OpenBao 2.7.2 serves it: a pod logs
//! in with its service account JWT and a role; the JWT's claims are checked against the role
//! and the Kubernetes API server is asked (TokenReview) whether the token is still valid.
//!
//! Layout: [`config`] is the API server configuration, [`role`] the roles, [`login`] the
//! login and renewal; [`jwt`] parses and checks the JWT, [`pem_keys`] parses the keys that
//! verify it, [`service_account`] reads the account from its claims, [`selector`] parses
//! namespace label selectors, [`kube_api`] calls the API server, and [`local_files`] reads
//! the pod's own CA and token.

mod config;
mod jwt;
mod kube_api;
mod local_files;
mod login;
mod pem_keys;
mod role;
mod selector;
mod service_account;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arca_sdk::framework::{FieldData, FrameworkBackend, OpHandler, handler};
use arca_sdk::{
    Backend, BackendConfig, BackendType, Factory, LogicalError, Request, Response, SpecialPaths,
    SystemView,
};
use futures::FutureExt;

use local_files::{CachingFileReader, LOCAL_CA_CERT_PATH, LOCAL_JWT_PATH};

/// Builds a `kubernetes` mount.
pub fn factory() -> Factory {
    Arc::new(|config: BackendConfig| {
        async move { Ok(Arc::new(backend(config.system)) as Arc<dyn Backend>) }.boxed()
    })
}

/// What the handlers of one mount share.
struct State {
    /// The mount's system view (its maximum lease TTL).
    system: Arc<dyn SystemView>,
    /// Makes each read-modify-write of the config or a role atomic.
    write_lock: tokio::sync::Mutex<()>,
    /// The pod's service account token.
    local_token: CachingFileReader,
    /// The pod's CA certificate.
    local_ca: CachingFileReader,
    /// The HTTPS client for the API server, kept with the CA it trusts.
    client: std::sync::Mutex<Option<(String, Option<reqwest::Client>)>>,
}

impl State {
    /// The client trusting `ca_pem` alone, built once per CA (`None` when it has no usable
    /// certificate: every call then fails, as OpenBao's empty pool does).
    fn http_client(&self, ca_pem: &str) -> Option<reqwest::Client> {
        if let Ok(guard) = self.client.lock()
            && let Some((ca, client)) = guard.as_ref()
            && ca == ca_pem
        {
            return client.clone();
        }
        let client = match kube_api::client_for(ca_pem) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "no usable CA certificate for the Kubernetes API server; TLS verification will fail");
                None
            }
        };
        if let Ok(mut guard) = self.client.lock() {
            *guard = Some((ca_pem.to_string(), client.clone()));
        }
        client
    }
}

/// Wraps a handler that needs the mount's [`State`].
fn shared_handler<F, Fut>(st: &Arc<State>, f: F) -> OpHandler
where
    F: Fn(Arc<State>, Request, FieldData) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<Response>, LogicalError>> + Send + 'static,
{
    let st = Arc::clone(st);
    handler(move |req, d| f(Arc::clone(&st), req, d))
}

const BACKEND_HELP: &str =
    "The Kubernetes Auth Backend allows authentication for Kubernetes service accounts.";

/// The backend of one mount.
fn backend(system: Arc<dyn SystemView>) -> FrameworkBackend {
    let st = Arc::new(State {
        system,
        write_lock: tokio::sync::Mutex::new(()),
        local_token: CachingFileReader::new(LOCAL_JWT_PATH, Duration::from_secs(60)),
        local_ca: CachingFileReader::new(LOCAL_CA_CERT_PATH, Duration::from_secs(3600)),
        client: std::sync::Mutex::new(None),
    });
    FrameworkBackend::new(BackendType::Credential, BACKEND_HELP)
        .special_paths(SpecialPaths {
            unauthenticated: vec!["login".into()],
            seal_wrap_storage: vec!["config".into()],
            ..SpecialPaths::default()
        })
        .path(config::path(&st))
        .path(login::path(&st))
        .path(role::list_path())
        .path(role::path(&st))
        .auth_renew(handler(login::renew))
}
