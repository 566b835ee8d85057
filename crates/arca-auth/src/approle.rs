//! The `approle` auth method (being written: see issue 15).

use std::sync::Arc;

use arca_sdk::framework::FrameworkBackend;
use arca_sdk::{Backend, BackendConfig, BackendType, Factory};
use futures::FutureExt;

/// Builds a `approle` mount.
pub fn factory() -> Factory {
    Arc::new(|_config: BackendConfig| {
        async move {
            Ok(Arc::new(FrameworkBackend::new(BackendType::Credential, "")) as Arc<dyn Backend>)
        }
        .boxed()
    })
}
