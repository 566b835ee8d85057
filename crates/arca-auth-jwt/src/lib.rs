//! Arca's JWT/OIDC auth method (jwt and oidc mounts): JWTs from CI systems and clouds, and the OIDC browser flow.

use std::sync::Arc;

use arca_sdk::framework::FrameworkBackend;
use arca_sdk::{Backend, BackendConfig, BackendType, Factory, SpecialPaths};
use futures::FutureExt;

/// Builds a mount of this method.
pub fn factory() -> Factory {
    Arc::new(|_config: BackendConfig| {
        async move { Ok(Arc::new(backend()) as Arc<dyn Backend>) }.boxed()
    })
}

const BACKEND_HELP: &str = "JWT/OIDC auth method (jwt and oidc mounts): JWTs from CI systems and clouds, and the OIDC browser flow.";

/// The backend of one mount.
fn backend() -> FrameworkBackend {
    FrameworkBackend::new(BackendType::Credential, BACKEND_HELP).special_paths(SpecialPaths {
        unauthenticated: vec!["login".into()],
        ..SpecialPaths::default()
    })
}
