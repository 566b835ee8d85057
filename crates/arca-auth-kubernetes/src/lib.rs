//! Arca's Kubernetes auth method (kubernetes mounts): service-account tokens checked with the TokenReview API.

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

const BACKEND_HELP: &str = "Kubernetes auth method (kubernetes mounts): service-account tokens checked with the TokenReview API.";

/// The backend of one mount.
fn backend() -> FrameworkBackend {
    FrameworkBackend::new(BackendType::Credential, BACKEND_HELP).special_paths(SpecialPaths {
        unauthenticated: vec!["login".into()],
        ..SpecialPaths::default()
    })
}
