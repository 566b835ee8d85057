//! Test harness: builds an engine through its public factory over `MemoryStorage` and sends it
//! requests through the `Backend` trait.

#![allow(dead_code)]
#![allow(clippy::unwrap_used)] // test harness: a failed call is a failed test

use std::collections::HashMap;
use std::sync::Arc;

use arca_sdk::storage::MemoryStorage;
use arca_sdk::{
    Backend, BackendConfig, Factory, LogicalError, Operation, Request, Response, StaticSystemView,
    Storage,
};
use serde_json::Value;
use zeroize::Zeroizing;

/// One mounted engine and its storage.
pub struct Mount {
    pub backend: Arc<dyn Backend>,
    pub storage: Arc<dyn Storage>,
    pub token: Option<String>,
}

/// Builds `factory` with `options` over `storage` and initializes it.
pub async fn mount_on(
    factory: Factory,
    options: &[(&str, &str)],
    storage: Arc<dyn Storage>,
) -> Mount {
    let config: HashMap<String, String> = options
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let backend = factory(BackendConfig {
        storage: storage.clone(),
        system: Arc::new(StaticSystemView::default()),
        config,
        backend_uuid: "uuid".into(),
    })
    .await
    .unwrap();
    backend.initialize().await.unwrap();
    Mount {
        backend,
        storage,
        token: None,
    }
}

/// Builds `factory` with `options` over a fresh `MemoryStorage`.
pub async fn mount(factory: Factory, options: &[(&str, &str)]) -> Mount {
    mount_on(factory, options, Arc::new(MemoryStorage::new())).await
}

/// A JSON object from a `json!` value.
pub fn obj(v: Value) -> serde_json::Map<String, Value> {
    match v {
        Value::Object(m) => m,
        Value::Null => serde_json::Map::new(),
        other => panic!("not an object: {other}"),
    }
}

impl Mount {
    /// Sends `op` on `path` with `body`.
    pub async fn call(
        &self,
        op: Operation,
        path: &str,
        body: Value,
    ) -> Result<Option<Response>, LogicalError> {
        let mut req = Request::new(op, path).with_data(obj(body));
        req.storage = Some(self.storage.clone());
        req.client_token = self.token.clone().map(Zeroizing::new);
        self.backend.handle_request(req).await
    }

    /// Sends a request that must succeed with a body; returns (status, data).
    pub async fn data(&self, op: Operation, path: &str, body: Value) -> (u16, Value) {
        let resp = self
            .call(op, path, body)
            .await
            .unwrap_or_else(|e| panic!("{op} {path}: {e:?}"))
            .unwrap_or_else(|| panic!("{op} {path}: no response"));
        (
            resp.status.unwrap_or(200),
            resp.data.map(Value::Object).unwrap_or(Value::Null),
        )
    }

    /// Sends a request that must answer 204.
    pub async fn ok(&self, op: Operation, path: &str, body: Value) {
        let r = self.call(op, path, body).await;
        assert!(
            matches!(r, Ok(None)),
            "{op} {path}: expected 204, got {:?}",
            r.map(|r| r.map(|r| (r.status, r.data)))
        );
    }

    /// Sends a request that must fail; returns (status, wire messages).
    pub async fn err(&self, op: Operation, path: &str, body: Value) -> (u16, Vec<String>) {
        match self.call(op, path, body).await {
            Err(e) => (e.status(), e.wire_messages()),
            Ok(r) => panic!(
                "{op} {path}: expected an error, got {:?}",
                r.map(|r| (r.status, r.data))
            ),
        }
    }

    /// Whether the existence check says `path` exists.
    pub async fn exists(&self, path: &str) -> bool {
        let mut req = Request::new(Operation::Create, path);
        req.storage = Some(self.storage.clone());
        req.client_token = self.token.clone().map(Zeroizing::new);
        let ex = self.backend.handle_existence_check(&req).await.unwrap();
        assert!(ex.check_found);
        ex.exists
    }
}
