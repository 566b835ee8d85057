//! KV v1 through the `kv` factory (no version, or `version=1`), against `MemoryStorage`.

mod common;

use arca_engines::{builtin_secrets, kv_factory};
use arca_sdk::Operation::{Create, Delete, List, Patch, Read, Update};
use common::mount;
use serde_json::json;

#[tokio::test]
async fn read_write_delete_list() {
    for options in [&[][..], &[("version", "1")][..], &[("version", "")][..]] {
        let m = mount(kv_factory(), options).await;
        // Any object is a value, a `path` key included.
        let value = json!({"x": 1, "y": {"z": [1, 2]}, "path": "p"});
        m.ok(Create, "a", value.clone()).await;
        let resp = m.call(Read, "a", json!({})).await.unwrap().unwrap();
        assert_eq!(serde_json::Value::Object(resp.data.unwrap()), value);
        assert!(resp.warnings.is_empty());
        let lease = resp.secret.unwrap().lease;
        assert_eq!(lease.ttl.as_secs(), 32 * 24 * 3600, "mount default TTL");
        assert!(!lease.renewable);

        m.ok(Update, "dir/k", json!({"a": 1})).await;
        m.ok(Update, "sp ace/ключ", json!({"a": 1})).await;
        for (path, keys) in [
            ("", json!(["a", "dir/", "sp ace/"])),
            ("dir", json!(["k"])),
            ("dir/", json!(["k"])),
        ] {
            assert_eq!(
                m.data(List, path, json!({})).await.1,
                json!({"keys": keys}),
                "{path}"
            );
        }
        assert_eq!(
            m.data(Read, "sp ace/ключ", json!({})).await.1,
            json!({"a": 1})
        );
        assert_eq!(
            m.err(List, "zz/", json!({})).await,
            (404, Vec::<String>::new())
        );
        m.ok(Delete, "a", json!({})).await;
        m.ok(Delete, "a", json!({})).await;
        assert_eq!(
            m.err(Read, "a", json!({})).await,
            (404, Vec::<String>::new())
        );
        assert_eq!(m.err(Read, "", json!({})).await.0, 404);
    }
}

#[tokio::test]
async fn lease_from_ttl_fields() {
    let m = mount(kv_factory(), &[]).await;
    let cases = [
        (json!({"ttl": "1h", "a": 1}), 3600),
        (json!({"lease": "30m", "a": 1}), 1800),
        (json!({"ttl": 120}), 120),
        (json!({"ttl": "abc"}), 32 * 24 * 3600),
    ];
    for (body, secs) in cases {
        m.ok(Update, "t", body.clone()).await;
        let resp = m.call(Read, "t", json!({})).await.unwrap().unwrap();
        let secret = resp.secret.unwrap();
        assert_eq!(secret.lease.ttl.as_secs(), secs, "{body}");
        // OpenBao's kv (no generated leases): a TTL hint only — not renewable, no max TTL,
        // no internal data (no secret type): the core registers no lease for it.
        assert!(!secret.lease.renewable, "{body}");
        assert_eq!(secret.lease.max_ttl.as_secs(), 0);
        assert!(secret.internal_data.is_empty());
        assert!(secret.lease_id.is_empty());
    }
}

#[tokio::test]
async fn errors_and_existence() {
    let m = mount(kv_factory(), &[]).await;
    let cases = [
        ("k", json!({}), "missing data fields"),
        ("", json!({"a": 1}), "cannot write to a path ending in '/'"),
        (
            "d/",
            json!({"a": 1}),
            "cannot write to a path ending in '/'",
        ),
    ];
    for (path, body, want) in cases {
        assert_eq!(
            m.err(Update, path, body).await,
            (400, vec![want.to_string()]),
            "{path}"
        );
    }
    assert_eq!(m.err(Patch, "k", json!({"a": 1})).await.0, 405);
    assert!(!m.exists("k").await);
    m.ok(Create, "k", json!({"a": 1})).await;
    assert!(m.exists("k").await);
    let help = m.data(arca_sdk::Operation::Help, "k", json!({})).await.1;
    assert!(help["help"].as_str().unwrap().contains("KV"));
}

#[tokio::test]
async fn unknown_version_is_refused() {
    let factory = kv_factory();
    let r = factory(arca_sdk::BackendConfig {
        storage: std::sync::Arc::new(arca_sdk::storage::MemoryStorage::new()),
        system: std::sync::Arc::new(arca_sdk::StaticSystemView::default()),
        config: [("version".to_string(), "3".to_string())].into(),
        backend_uuid: String::new(),
    })
    .await;
    assert!(r.is_err());
    let names: Vec<&str> = builtin_secrets().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["kv", "cubbyhole"]);
}
