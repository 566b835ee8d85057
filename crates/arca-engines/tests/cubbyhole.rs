//! The cubbyhole through its factory: values private to each token's cubbyhole id.

mod common;

use std::sync::Arc;

use arca_engines::cubbyhole_factory;
use arca_sdk::Operation::{Create, Delete, List, Read, Update};
use arca_sdk::Storage;
use arca_sdk::storage::MemoryStorage;
use common::{Mount, mount_on};
use serde_json::json;

async fn two_tokens() -> (Mount, Mount, Arc<dyn Storage>) {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let mut a = mount_on(cubbyhole_factory(), &[], storage.clone()).await;
    a.token = Some("id-a".into());
    let mut b = mount_on(cubbyhole_factory(), &[], storage.clone()).await;
    b.token = Some("id-b".into());
    (a, b, storage)
}

#[tokio::test]
async fn private_per_token() {
    let (a, b, storage) = two_tokens().await;
    a.ok(Create, "secret", json!({"x": 1, "ttl": "1h"})).await;
    let resp = a.call(Read, "secret", json!({})).await.unwrap().unwrap();
    assert_eq!(resp.data.unwrap()["x"], 1);
    assert!(resp.secret.is_none(), "no lease on cubbyhole reads");
    assert_eq!(
        b.err(Read, "secret", json!({})).await,
        (404, Vec::<String>::new())
    );
    assert_eq!(b.err(List, "", json!({})).await.0, 404);
    assert_eq!(
        a.data(List, "", json!({})).await.1,
        json!({"keys": ["secret"]})
    );
    assert_eq!(storage.list("").await.unwrap(), ["id-a/"]);
    b.ok(Update, "d/k", json!({"y": 2})).await;
    assert_eq!(b.data(List, "d", json!({})).await.1, json!({"keys": ["k"]}));
    b.ok(Delete, "secret", json!({})).await;
    assert_eq!(a.data(Read, "secret", json!({})).await.0, 200);
    a.ok(Delete, "secret", json!({})).await;
    assert_eq!(a.err(Read, "secret", json!({})).await.0, 404);
    assert!(!a.exists("d/k").await);
    assert!(b.exists("d/k").await);
}

#[tokio::test]
async fn errors() {
    let (a, _, storage) = two_tokens().await;
    let multi = |m: &str| vec![format!("1 error occurred:\n\t* {m}\n\n")];
    assert_eq!(
        a.err(Update, "k", json!({})).await,
        (400, multi("missing data fields")) // OpenBao: 500
    );
    assert_eq!(
        a.err(Read, "", json!({})).await,
        (400, multi("missing path")) // OpenBao: 500
    );
    assert_eq!(
        a.err(Update, "d/", json!({"a": 1})).await,
        (
            400,
            vec!["cannot write to a path ending in '/'".to_string()]
        )
    );
    let mut anon = mount_on(cubbyhole_factory(), &[], storage).await;
    anon.token = None;
    for op in [Read, Update, List, Delete] {
        assert_eq!(
            anon.err(op, "k", json!({"a": 1})).await,
            (400, vec!["client token empty".to_string()]),
            "{op}"
        );
    }
}
