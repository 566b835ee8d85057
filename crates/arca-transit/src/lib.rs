//! The transit secrets engine: encryption, signing and HMAC as a service with named, versioned
//! keys, written against `arca-sdk` only. Keys are stored exactly as OpenBao's keysutil stores
//! them (same JSON, same archive, same backup format), so ciphertexts, signatures and backups
//! move between the two servers; crypto is aws-lc-rs.

mod batch;
mod byok;
mod certs;
mod der;
mod fast_crypt;
use arca_sdk::hashing;
mod keyring;
mod keytype;
mod lifecycle;
mod num;
mod paths_crypt;
mod paths_keys;
mod paths_misc;
mod paths_sign;
mod policy;
mod store;
mod xchacha;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use arca_sdk::framework::{FieldData, FrameworkBackend, OpHandler, handler};
use arca_sdk::{
    Backend, BackendConfig, BackendType, ExistenceCheck, Factory, LogicalError, Request, Response,
    SpecialPaths, Storage,
};
use async_trait::async_trait;
use futures::FutureExt;

pub use keyring::OpError;

/// The ciphertext and signature prefix template of keys without one of their own.
pub const DEFAULT_VERSION_TEMPLATE: &str = "vault:v{{version}}:";

const HELP: &str = "The transit backend encrypts, signs and HMACs data in transit with named keys \
kept server-side; callers never see the keys unless a key is made exportable.";

/// What every handler of a mount shares.
pub(crate) struct State {
    pub(crate) keys: store::Keys,
}

/// Wraps an async function of the shared state as a framework handler.
pub(crate) fn op<F, Fut>(state: &Arc<State>, f: F) -> OpHandler
where
    F: Fn(Arc<State>, Request, FieldData) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<Response>, LogicalError>> + Send + 'static,
{
    let s = state.clone();
    handler(move |req, d| f(s.clone(), req, d))
}

/// A transit mount: the framework paths plus the key cache, which `invalidate` keeps true when
/// another node changes a key.
struct TransitBackend {
    inner: FrameworkBackend,
    state: Arc<State>,
    storage: Arc<dyn Storage>,
    rotator: parking_lot::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// How often keys are checked for automatic rotation: OpenBao's periodic function runs about
/// once a minute. `ARCA_TRANSIT_ROTATE_CHECK_SECONDS` shortens it (tests).
fn rotate_check_interval() -> std::time::Duration {
    let secs = std::env::var("ARCA_TRANSIT_ROTATE_CHECK_SECONDS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(60);
    std::time::Duration::from_secs(secs)
}

/// Rotates every key whose `auto_rotate_period` has passed since its latest version was made
/// (OpenBao's `rotateIfRequired`); keys that cannot be read or rotated are left for the next
/// round.
async fn rotate_due(state: &State, storage: &dyn Storage) {
    let Ok(names) = storage.list("policy/").await else {
        return;
    };
    let now = chrono::Utc::now();
    for name in names.into_iter().filter(|n| !n.ends_with('/')) {
        let Ok(Some(k)) = state.keys.get(storage, &name).await else {
            continue;
        };
        if !lifecycle::rotation_due(&k.policy, now) {
            continue;
        }
        let result = state
            .keys
            .update(storage, &name, |current| match current {
                Some(mut p) if lifecycle::rotation_due(&p, chrono::Utc::now()) => {
                    lifecycle::rotate(&mut p)?;
                    Ok((Some(p), ()))
                }
                _ => Ok((None, ())),
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(key = %name, error = %e, "transit: automatic key rotation failed");
        }
    }
}

#[async_trait]
impl Backend for TransitBackend {
    // Not `async`: the framework's future is handed on as it is, without a second box (and a
    // second copy of the request) around it. A plain one-item encrypt or decrypt skips the
    // framework (`fast_crypt`), with the same answers.
    fn handle_request<'a, 'b>(
        &'a self,
        req: Request,
    ) -> Pin<Box<dyn Future<Output = Result<Option<Response>, LogicalError>> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        let Some(kind) = fast_crypt::classify(&req) else {
            return self.inner.handle_request(req);
        };
        match fast_crypt::answer_cached(&self.state, kind, &req) {
            Some(answer) => Box::pin(std::future::ready(answer)),
            None => Box::pin(fast_crypt::handle(&self.state, kind, req)),
        }
    }

    async fn handle_existence_check(&self, req: &Request) -> Result<ExistenceCheck, LogicalError> {
        self.inner.handle_existence_check(req).await
    }

    fn special_paths(&self) -> SpecialPaths {
        Backend::special_paths(&self.inner)
    }

    fn backend_type(&self) -> BackendType {
        BackendType::Logical
    }

    async fn initialize(&self) -> Result<(), LogicalError> {
        let state = Arc::downgrade(&self.state);
        let storage = self.storage.clone();
        let every = rotate_check_interval();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(state) = state.upgrade() else {
                    return;
                };
                rotate_due(&state, storage.as_ref()).await;
            }
        });
        if let Some(old) = self.rotator.lock().replace(task) {
            old.abort();
        }
        Ok(())
    }

    async fn cleanup(&self) {
        if let Some(task) = self.rotator.lock().take() {
            task.abort();
        }
    }

    async fn invalidate(&self, key: &str) {
        if let Some(name) = key
            .strip_prefix("policy/")
            .or_else(|| key.strip_prefix("archive/"))
        {
            self.state.keys.forget(name);
        }
    }
}

async fn stored_cache_size(storage: &dyn Storage) -> Result<usize, LogicalError> {
    match storage.get("config/cache").await? {
        Some(e) => {
            let v: serde_json::Value = serde_json::from_slice(&e.value).map_err(|err| {
                LogicalError::internal(format!("failed to decode cache config: {err}"))
            })?;
            Ok(v.get("size").and_then(|s| s.as_u64()).unwrap_or(0) as usize)
        }
        None => Ok(0),
    }
}

/// The factory of the `transit` type.
pub fn factory() -> Factory {
    Arc::new(|conf: BackendConfig| {
        async move {
            let state = Arc::new(State {
                keys: store::Keys::default(),
            });
            state
                .keys
                .set_cache_size(stored_cache_size(conf.storage.as_ref()).await.unwrap_or(0));
            let mut fb = FrameworkBackend::new(BackendType::Logical, HELP);
            for p in paths_keys::paths(&state)
                .into_iter()
                .chain(paths_crypt::paths(&state))
                .chain(paths_sign::paths(&state))
                .chain(paths_misc::paths(&state))
                .chain(byok::paths(&state))
                .chain(certs::paths(&state))
            {
                fb = fb.path(p);
            }
            fb = fb.special_paths(SpecialPaths {
                seal_wrap_storage: vec!["archive/".into(), "policy/".into()],
                ..SpecialPaths::default()
            });
            let backend: Arc<dyn Backend> = Arc::new(TransitBackend {
                inner: fb,
                state,
                storage: conf.storage.clone(),
                rotator: parking_lot::Mutex::new(None),
            });
            Ok(backend)
        }
        .boxed()
    })
}
