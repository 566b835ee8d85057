//! One counted use of a limited-use (`num_uses`) token, kept consistent when the request is
//! cancelled (client gone, `max_request_duration` hit): the use is counted in a task of its
//! own that cancellation cannot interrupt, and the token's last use always ends in its
//! revocation — by the request when it finishes, or by the guard when it is dropped — so no
//! token is ever left tainted.

use std::sync::Arc;

use arca_sdk::LogicalError;

use crate::token_store::{TokenEntry, TokenStore};

/// A use taken from a limited-use token. Finish it with [`TokenUse::finish`]; dropped
/// unfinished, it finishes in the background.
pub(crate) struct TokenUse {
    tokens: Arc<TokenStore>,
    id_hash: String,
    /// This use was the token's last: the token is tainted until it is revoked.
    last: bool,
}

impl TokenUse {
    /// Counts one use of `entry` (which has `num_uses > 0`). `None` when it has none left.
    pub(crate) async fn take(
        tokens: &Arc<TokenStore>,
        entry: &Arc<TokenEntry>,
    ) -> Result<Option<TokenUse>, LogicalError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let tokens = tokens.clone();
        let entry = entry.clone();
        tokio::spawn(async move {
            let used = tokens.use_token(&entry).await.map(|before| {
                before.map(|before| TokenUse {
                    tokens: tokens.clone(),
                    id_hash: entry.id_hash.clone(),
                    last: before.num_uses == 1,
                })
            });
            // When the request is gone, the use comes back here and is dropped: its guard
            // revokes a token whose last use it was.
            let _ = tx.send(used);
        });
        rx.await
            .map_err(|_| LogicalError::internal("counting a token use failed"))?
    }

    /// Ends the use: revokes the token when this was its last use.
    pub(crate) async fn finish(mut self) -> Result<(), LogicalError> {
        if self.last {
            self.tokens.finish_use(&self.id_hash).await?;
            // Done: nothing left for the drop guard (a cancelled `finish_use` leaves `last`
            // set, and the guard runs it again; it is idempotent).
            self.last = false;
        }
        Ok(())
    }
}

impl Drop for TokenUse {
    fn drop(&mut self) {
        if !self.last {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("a token's last use ended outside the runtime; tidy will revoke it");
            return;
        };
        let tokens = self.tokens.clone();
        let id_hash = std::mem::take(&mut self.id_hash);
        runtime.spawn(async move {
            if let Err(e) = tokens.finish_use(&id_hash).await {
                tracing::warn!(error = %e, "revoking a used-up token failed; tidy will revoke it");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::pin::pin;
    use std::task::Poll;
    use std::time::{Duration, Instant};

    use arca_sdk::{
        Backend, BackendConfig, BackendType, ExistenceCheck, Factory, Operation, Request, Response,
        SpecialPaths,
    };
    use arca_storage::{InmemBackend, PhysicalBackend, StorageError, TxnOp};
    use async_trait::async_trait;
    use futures::FutureExt;
    use zeroize::Zeroizing;

    use super::*;
    use crate::core::{BackendRegistry, Core, CoreConfig};

    /// In-memory storage that yields before every operation, so each storage call is a point
    /// where a request can be cancelled.
    struct Yielding(InmemBackend);

    #[async_trait]
    impl PhysicalBackend for Yielding {
        async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
            tokio::task::yield_now().await;
            self.0.get(key).await
        }
        async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
            tokio::task::yield_now().await;
            self.0.put(key, value).await
        }
        async fn delete(&self, key: &str) -> Result<(), StorageError> {
            tokio::task::yield_now().await;
            self.0.delete(key).await
        }
        async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
            tokio::task::yield_now().await;
            self.0.list(prefix).await
        }
        async fn transaction(&self, ops: Vec<TxnOp>) -> Result<(), StorageError> {
            tokio::task::yield_now().await;
            self.0.transaction(ops).await
        }
    }

    /// A backend that takes a few turns of the runtime to answer.
    struct Slow;

    #[async_trait]
    impl Backend for Slow {
        async fn handle_request(&self, _req: Request) -> Result<Option<Response>, LogicalError> {
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            Ok(None)
        }
        async fn handle_existence_check(
            &self,
            _req: &Request,
        ) -> Result<ExistenceCheck, LogicalError> {
            Ok(ExistenceCheck::default())
        }
        fn special_paths(&self) -> SpecialPaths {
            SpecialPaths::default()
        }
        fn backend_type(&self) -> BackendType {
            BackendType::Logical
        }
    }

    async fn request(
        core: &Core,
        op: Operation,
        path: &str,
        body: serde_json::Value,
        token: &str,
    ) -> Result<Option<Response>, LogicalError> {
        let mut req = Request::new(op, path).with_data(body.as_object().unwrap().clone());
        req.client_token = Some(Zeroizing::new(token.to_string()));
        core.handle_request(req).await
    }

    /// The token's stored state once every background revocation has run: `Some(uses)` when
    /// it is still valid, `None` when revoked. Fails if it stays tainted.
    async fn settled_uses(core: &Core, token: &str) -> Option<i64> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match core.inner.tokens.lookup_with(token, true).await.unwrap() {
                None => return None,
                Some(e) if !e.is_tainted() => return Some(e.num_uses),
                Some(_) => {
                    assert!(
                        Instant::now() < deadline,
                        "the token stayed tainted after its request was cancelled"
                    );
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
    }

    #[tokio::test]
    async fn a_cancelled_request_never_leaves_a_token_tainted() {
        let factory: Factory =
            Arc::new(|_c: BackendConfig| async { Ok(Arc::new(Slow) as Arc<dyn Backend>) }.boxed());
        let mut registry = BackendRegistry::default();
        registry.secrets.insert("slow".into(), factory);
        let mut config = CoreConfig::new(Arc::new(Yielding(InmemBackend::new())), "inmem");
        config.registry = registry;
        let core = Core::new(config);
        let init = core.initialize(1, 1, None).await.unwrap();
        core.unseal_with_key(&init.keys[0]).await.unwrap();
        let root = init.root_token.to_string();
        let body = serde_json::json!({"type": "slow"});
        request(&core, Operation::Update, "sys/mounts/slow", body, &root)
            .await
            .unwrap();

        // Cancel after 0, 1, 2, ... polls: at every await point of the pipeline in turn,
        // until the request runs to its end.
        let (mut not_counted, mut counted) = (0, 0);
        for polls in 0.. {
            let created = request(
                &core,
                Operation::Update,
                "auth/token/create",
                serde_json::json!({"num_uses": 1}),
                &root,
            )
            .await
            .unwrap()
            .unwrap();
            let token = created.auth.unwrap().client_token;
            let mut finished = false;
            {
                let mut fut = pin!(request(
                    &core,
                    Operation::Read,
                    "slow/x",
                    serde_json::json!({}),
                    &token
                ));
                for _ in 0..polls {
                    if let Poll::Ready(result) = futures::poll!(fut.as_mut()) {
                        result.unwrap();
                        finished = true;
                        break;
                    }
                    // Let the tasks the pipeline spawned run.
                    tokio::task::yield_now().await;
                }
            }
            // The last use is either not counted (the token still has it) or counted and the
            // token revoked; never counted and left tainted.
            match settled_uses(&core, &token).await {
                Some(1) => not_counted += 1,
                None => counted += 1,
                Some(other) => panic!("after {polls} polls: {other} uses left"),
            }
            if finished {
                break;
            }
            assert!(polls < 10_000, "the request never finished");
        }
        // Both sides of the use were cancelled into, so the window was covered.
        assert!(not_counted > 0 && counted > 1, "{not_counted} {counted}");
    }
}
