//! Large and odd inputs: big values, deep nesting, unusual key names, many keys, and the
//! upgrade of a v1 mount's values to v2.

mod common;

use std::sync::Arc;

use arca_engines::kv_factory;
use arca_sdk::Operation::{List, Read, Update};
use arca_sdk::Storage;
use arca_sdk::storage::MemoryStorage;
use common::{mount, mount_on};
use serde_json::{Value, json};

fn deep(levels: usize) -> Value {
    let mut v = json!("leaf");
    for i in 0..levels {
        v = json!({ format!("l{i}"): v });
    }
    v
}

#[tokio::test]
async fn big_deep_and_odd_values() {
    let big = "x".repeat(4 * 1024 * 1024);
    let odd_keys = ["with space", "ünïcödé/ключ", "emoji 🔑", "a.b-c_d@e"];
    for version in ["1", "2"] {
        let m = mount(kv_factory(), &[("version", version)]).await;
        let (write, read) = if version == "1" {
            ("", "")
        } else {
            ("data/", "data/")
        };
        let cases = [
            json!({"big": big}),
            json!({"deep": deep(450)}),
            json!({"mixed": [null, 1.5, true, "s", {"k": []}]}),
        ];
        for (i, value) in cases.iter().enumerate() {
            let path = format!("{write}case{i}");
            let body = if version == "1" {
                value.clone()
            } else {
                json!({"data": value})
            };
            m.call(Update, &path, body).await.unwrap();
            let got = m.data(Read, &format!("{read}case{i}"), json!({})).await.1;
            let got = if version == "1" {
                got
            } else {
                got["data"].clone()
            };
            assert!(got == *value, "v{version} case {i}");
        }
        for key in odd_keys {
            let body = if version == "1" {
                json!({"k": key})
            } else {
                json!({"data": {"k": key}})
            };
            m.call(Update, &format!("{write}{key}"), body)
                .await
                .unwrap();
            let got = m.data(Read, &format!("{read}{key}"), json!({})).await.1;
            let got = if version == "1" {
                got["k"].clone()
            } else {
                got["data"]["k"].clone()
            };
            assert_eq!(got, key, "v{version}");
        }
    }
}

#[tokio::test]
async fn ten_thousand_keys_list() {
    for version in ["1", "2"] {
        let m = mount(kv_factory(), &[("version", version)]).await;
        let mut want: Vec<String> = Vec::new();
        for i in 0..10_000 {
            let key = format!("k{i:05}");
            let (path, body) = if version == "1" {
                (format!("many/{key}"), json!({"i": i}))
            } else {
                (format!("data/many/{key}"), json!({"data": {"i": i}}))
            };
            m.call(Update, &path, body).await.unwrap();
            want.push(key);
        }
        let path = if version == "1" {
            "many/"
        } else {
            "metadata/many/"
        };
        let got = m.data(List, path, json!({})).await.1;
        let keys: Vec<String> = got["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        assert_eq!(keys.len(), 10_000);
        assert_eq!(keys, want, "v{version}");
    }
}

#[tokio::test]
async fn v1_values_are_upgraded_once() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let v1 = mount_on(kv_factory(), &[], storage.clone()).await;
    let values = [
        ("top", json!({"a": 1})),
        ("dir/nested", json!({"b": {"c": 2}})),
        ("kv2/meta/x", json!({"sneaky": true})),
        ("config", json!({"max_versions": "not a config"})),
    ];
    for (path, value) in &values {
        v1.ok(Update, path, value.clone()).await;
    }
    let v2 = mount_on(kv_factory(), &[("version", "2")], storage.clone()).await;
    for (path, value) in &values {
        let (st, r) = v2.data(Read, &format!("data/{path}"), json!({})).await;
        assert_eq!(st, 200, "{path}");
        assert_eq!(r["data"], *value, "{path}");
        assert_eq!(r["metadata"]["version"], 1);
    }
    // The v1 copies are gone; everything lives under kv2/.
    assert_eq!(storage.list("").await.unwrap(), ["kv2/"]);
    assert_eq!(
        v2.data(Read, "config", json!({})).await.1["max_versions"],
        0,
        "a v1 key named config is a secret, not the mount's config"
    );
    // A second start (a reload) does not upgrade again.
    v2.data(Update, "data/top", json!({"data": {"a": 2}})).await;
    let again = mount_on(kv_factory(), &[("version", "2")], storage.clone()).await;
    let meta = again.data(Read, "metadata/top", json!({})).await.1;
    assert_eq!(meta["current_version"], 2);
    assert_eq!(
        again.data(List, "metadata/", json!({})).await.1["keys"],
        json!(["config", "dir/", "kv2/", "top"])
    );
}
