//! Arca's TLS certificate auth method (cert mounts): a client certificate chained to a trusted CA or pinned.

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

const BACKEND_HELP: &str = "TLS certificate auth method (cert mounts): a client certificate chained to a trusted CA or pinned.";

/// The backend of one mount.
fn backend() -> FrameworkBackend {
    FrameworkBackend::new(BackendType::Credential, BACKEND_HELP).special_paths(SpecialPaths {
        unauthenticated: vec!["login".into()],
        ..SpecialPaths::default()
    })
}
