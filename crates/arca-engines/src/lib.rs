//! Arca's builtin secrets engines: the key/value store in its two versions (`kv`, with
//! `options.version` choosing v1 or v2) and the per-token `cubbyhole`.
//!
//! Every engine is written against `arca-sdk` only and reaches the server through the
//! [`Factory`] it exports; [`builtin_secrets`] lists them for the binary to register.

mod cubbyhole;
mod error;
mod kv_v1;
mod kv_v2;
mod locks;
mod passthrough;
mod record;
mod timestamp;

use std::sync::Arc;

use arca_sdk::{Backend, BackendConfig, Factory};
use futures::FutureExt;

pub use error::EngineError;

/// The factory of the `kv` type: `config["version"]` of `"2"` builds a versioned (v2) store,
/// `"1"`, `""` or no version a plain (v1) one; anything else is refused.
pub fn kv_factory() -> Factory {
    Arc::new(|conf: BackendConfig| {
        async move {
            let version = conf.config.get("version").map(|v| v.trim().to_string());
            let backend: Arc<dyn Backend> = match version.as_deref() {
                None | Some("") | Some("1") => Arc::new(kv_v1::KvV1Backend::new(conf.system)),
                Some("2") => Arc::new(kv_v2::KvV2Backend::new(conf.storage)),
                Some(other) => return Err(EngineError::UnknownKvVersion(other.to_string()).into()),
            };
            Ok(backend)
        }
        .boxed()
    })
}

/// The factory of the `cubbyhole` type.
pub fn cubbyhole_factory() -> Factory {
    Arc::new(|_conf: BackendConfig| {
        async move {
            let backend: Arc<dyn Backend> = Arc::new(cubbyhole::CubbyholeBackend::new());
            Ok(backend)
        }
        .boxed()
    })
}

/// Every secrets engine of this crate with the type name it is mounted under.
pub fn builtin_secrets() -> Vec<(&'static str, Factory)> {
    vec![("kv", kv_factory()), ("cubbyhole", cubbyhole_factory())]
}
