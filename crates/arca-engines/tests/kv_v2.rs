//! KV v2 through the `kv` factory with `version=2`, against `MemoryStorage`; expected bodies
//! and error texts are OpenBao 2.7.2's.

mod common;

use std::sync::Arc;

use arca_engines::kv_factory;
use arca_sdk::Operation::{Create, Delete, List, Patch, Read, Update};
use common::{Mount, mount};
use serde_json::{Value, json};

async fn v2() -> Mount {
    mount(kv_factory(), &[("version", "2")]).await
}

fn is_go_time(v: &Value) -> bool {
    let s = v.as_str().unwrap_or("");
    s.len() >= 20 && s.ends_with('Z') && s.as_bytes()[10] == b'T'
}

#[tokio::test]
async fn write_then_read_versions() {
    let m = v2().await;
    let (st, w) = m
        .data(
            Create,
            "data/foo",
            json!({"data": {"a": 1, "b": {"c": [1, 2]}}}),
        )
        .await;
    assert_eq!(st, 200);
    let keys: Vec<&String> = w.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "created_time",
            "custom_metadata",
            "deletion_time",
            "destroyed",
            "version"
        ]
    );
    assert_eq!(w["version"], 1);
    assert_eq!(w["deletion_time"], "");
    assert_eq!(w["destroyed"], false);
    assert_eq!(w["custom_metadata"], Value::Null);
    assert!(is_go_time(&w["created_time"]));

    m.data(Update, "data/foo", json!({"data": {"a": 2}})).await;
    let cases = [
        (json!({}), json!({"a": 2}), 2),
        (json!({"version": 0}), json!({"a": 2}), 2),
        (json!({"version": -1}), json!({"a": 2}), 2),
        (
            json!({"version": "1"}),
            json!({"a": 1, "b": {"c": [1, 2]}}),
            1,
        ),
    ];
    for (query, data, version) in cases {
        let (st, r) = m.data(Read, "data/foo", query.clone()).await;
        assert_eq!(st, 200, "{query}");
        assert_eq!(r["data"], data, "{query}");
        assert_eq!(r["metadata"]["version"], version, "{query}");
    }
    for (path, query) in [
        ("data/foo", json!({"version": 9})),
        ("data/nope", json!({})),
    ] {
        assert_eq!(m.err(Read, path, query).await, (404, Vec::<String>::new()));
    }
    // `data: null` is stored as null, as OpenBao does.
    m.data(Update, "data/n", json!({"data": null})).await;
    assert_eq!(
        m.data(Read, "data/n", json!({})).await.1["data"],
        Value::Null
    );
}

#[tokio::test]
async fn write_errors() {
    let m = v2().await;
    let cases = [
        ("data/x", json!({}), "no data provided"),
        (
            "data/x/",
            json!({"data": {"a": 1}}),
            "cannot write to a path ending in '/'",
        ),
        (
            "data/",
            json!({"data": {"a": 1}}),
            "cannot write to a path ending in '/'",
        ),
        (
            "data/x",
            json!({"data": {"a": 1}, "options": {"cas": "x"}}),
            "error parsing check-and-set parameter",
        ),
        (
            "data/x",
            json!({"data": {"a": 1}, "options": {"cas": 1}}),
            "check-and-set parameter did not match the current version",
        ),
    ];
    for (path, body, want) in cases {
        assert_eq!(
            m.err(Update, path, body.clone()).await,
            (400, vec![want.to_string()]),
            "{body}"
        );
    }
    // Nothing was written by the refused requests.
    assert_eq!(m.err(Read, "data/x", json!({})).await.0, 404);
    let r = m
        .call(Update, "data/w", json!({"data": {"a": 1}, "extra": 1}))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        r.warnings,
        ["Endpoint ignored these unrecognized parameters: [extra]"]
    );
}

#[tokio::test]
async fn check_and_set() {
    let m = v2().await;
    m.data(
        Update,
        "data/c",
        json!({"data": {"a": 1}, "options": {"cas": 0}}),
    )
    .await;
    let mismatch = vec!["check-and-set parameter did not match the current version".to_string()];
    for cas in [json!(0), json!(2), json!(-1)] {
        let body = json!({"data": {"a": 1}, "options": {"cas": cas}});
        assert_eq!(m.err(Update, "data/c", body).await, (400, mismatch.clone()));
    }
    let (_, w) = m
        .data(
            Update,
            "data/c",
            json!({"data": {"a": 2}, "options": {"cas": "1"}}),
        )
        .await;
    assert_eq!(w["version"], 2);

    let required = vec!["check-and-set parameter required for this call".to_string()];
    m.ok(Update, "metadata/c", json!({"cas_required": true}))
        .await;
    assert_eq!(
        m.err(Update, "data/c", json!({"data": {"a": 3}})).await,
        (400, required.clone())
    );
    m.ok(Update, "config", json!({"cas_required": true})).await;
    assert_eq!(
        m.err(Update, "data/other", json!({"data": {"a": 3}})).await,
        (400, required)
    );
    m.data(
        Update,
        "data/other",
        json!({"data": {"a": 3}, "options": {"cas": 0}}),
    )
    .await;
}

#[tokio::test]
async fn soft_delete_undelete_destroy() {
    let m = v2().await;
    m.data(Update, "data/k", json!({"data": {"v": 1}})).await;
    m.data(Update, "data/k", json!({"data": {"v": 2}})).await;
    m.ok(Delete, "data/k", json!({})).await;
    let (st, r) = m.data(Read, "data/k", json!({})).await;
    assert_eq!(st, 404);
    assert_eq!(r["data"], Value::Null);
    assert_eq!(r["metadata"]["version"], 2);
    assert!(is_go_time(&r["metadata"]["deletion_time"]));
    assert_eq!(r["metadata"]["destroyed"], false);
    // Version 1 still reads.
    assert_eq!(m.data(Read, "data/k", json!({"version": 1})).await.0, 200);

    m.ok(Update, "undelete/k", json!({"versions": [2]})).await;
    assert_eq!(
        m.data(Read, "data/k", json!({})).await.1["data"],
        json!({"v": 2})
    );

    m.ok(Update, "delete/k", json!({"versions": "1,2"})).await;
    for v in [1, 2] {
        assert_eq!(m.data(Read, "data/k", json!({"version": v})).await.0, 404);
    }
    m.ok(Update, "destroy/k", json!({"versions": [1]})).await;
    let (st, r) = m.data(Read, "data/k", json!({"version": 1})).await;
    assert_eq!(st, 404);
    assert_eq!(r["metadata"]["destroyed"], true);
    assert!(is_go_time(&r["metadata"]["deletion_time"]));
    // Undelete does not bring a destroyed version back.
    m.ok(Update, "undelete/k", json!({"versions": [1, 2]}))
        .await;
    assert_eq!(m.data(Read, "data/k", json!({"version": 1})).await.0, 404);
    assert_eq!(m.data(Read, "data/k", json!({"version": 2})).await.0, 200);
    let meta = m.data(Read, "metadata/k", json!({})).await.1;
    assert_eq!(meta["versions"]["1"]["destroyed"], true);
    assert_eq!(meta["versions"]["2"]["deletion_time"], "");

    let errs = [
        ("delete/k", "No version number provided"),
        ("undelete/k", "No version number provided"),
        ("destroy/k", "no version number provided"),
    ];
    for (path, want) in errs {
        assert_eq!(
            m.err(Update, path, json!({})).await,
            (400, vec![want.to_string()])
        );
    }
    // Unknown keys and versions are fine.
    m.ok(Update, "delete/nope", json!({"versions": [1]})).await;
    m.ok(Update, "destroy/k", json!({"versions": [99]})).await;
    m.ok(Delete, "data/nope", json!({})).await;
}

#[tokio::test]
async fn max_versions_prunes_oldest() {
    let m = v2().await;
    m.ok(
        Update,
        "metadata/p",
        json!({"max_versions": 2, "custom_metadata": {"owner": "me"}, "delete_version_after": "1h"}),
    )
    .await;
    let meta = m.data(Read, "metadata/p", json!({})).await.1;
    assert_eq!(meta["current_version"], 0);
    assert_eq!(meta["versions"], json!({}));
    assert_eq!(meta["delete_version_after"], "1h0m0s");
    assert_eq!(meta["current_metadata_version"], 1);
    for i in 1..=3 {
        let (_, w) = m.data(Update, "data/p", json!({"data": {"i": i}})).await;
        assert_eq!(w["custom_metadata"], json!({"owner": "me"}));
        assert!(is_go_time(&w["deletion_time"]), "scheduled deletion");
    }
    let meta = m.data(Read, "metadata/p", json!({})).await.1;
    let keys: Vec<&String> = meta.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "cas_required",
            "created_time",
            "current_metadata_version",
            "current_version",
            "custom_metadata",
            "delete_version_after",
            "max_versions",
            "metadata_cas_required",
            "oldest_version",
            "updated_time",
            "versions"
        ]
    );
    assert_eq!(meta["current_version"], 3);
    assert_eq!(meta["oldest_version"], 2);
    let versions: Vec<&String> = meta["versions"].as_object().unwrap().keys().collect();
    assert_eq!(versions, ["2", "3"]);
    assert_eq!(m.err(Read, "data/p", json!({"version": 1})).await.0, 404);
    // The pruned version's data is gone from storage.
    let dirs = m.storage.list("kv2/data/").await.unwrap();
    assert_eq!(dirs.len(), 1);
    let stored = m
        .storage
        .list(&format!("kv2/data/{}", dirs[0]))
        .await
        .unwrap();
    assert_eq!(stored, ["2", "3"]);

    // The mount default is 10.
    for i in 0..12 {
        m.data(Update, "data/many", json!({"data": {"i": i}})).await;
    }
    let meta = m.data(Read, "metadata/many", json!({})).await.1;
    assert_eq!(meta["versions"].as_object().unwrap().len(), 10);
    assert_eq!(meta["oldest_version"], 3);
}

#[tokio::test]
async fn patch_merges_into_a_new_version() {
    let m = v2().await;
    m.data(
        Update,
        "data/p",
        json!({"data": {"a": 1, "b": {"c": 2, "d": 3}, "e": [1]}}),
    )
    .await;
    let (_, w) = m
        .data(
            Patch,
            "data/p",
            json!({"data": {"a": null, "b": {"c": null, "z": 9}}}),
        )
        .await;
    assert_eq!(w["version"], 2);
    let r = m.data(Read, "data/p", json!({})).await.1;
    assert_eq!(r["data"], json!({"b": {"d": 3, "z": 9}, "e": [1]}));
    let mismatch = "check-and-set parameter did not match the current version";
    assert_eq!(
        m.err(
            Patch,
            "data/p",
            json!({"data": {"q": 1}, "options": {"cas": 1}})
        )
        .await,
        (400, vec![mismatch.to_string()])
    );
    assert_eq!(
        m.err(Patch, "data/p", json!({"q": 1})).await,
        (400, vec!["no data provided".to_string()])
    );
    // A missing key: OpenBao answers 404 with an empty body (not `{"errors":[]}`).
    let raw = m
        .call(Patch, "data/missing", json!({"data": {"q": 1}}))
        .await
        .unwrap()
        .and_then(|r| r.raw)
        .expect("raw 404");
    assert_eq!((raw.status, raw.body.len()), (404, 0));
    m.ok(Delete, "data/p", json!({})).await;
    let (st, r) = m.data(Patch, "data/p", json!({"data": {"q": 1}})).await;
    assert_eq!(st, 404);
    assert_eq!(r["version"], 2);
    assert!(is_go_time(&r["deletion_time"]));
}

#[tokio::test]
async fn metadata_write_patch_delete_list() {
    let m = v2().await;
    // No settable field: nothing happens, nothing is created.
    m.ok(Update, "metadata/none", json!({"metadata_cas": 0}))
        .await;
    assert_eq!(m.err(Read, "metadata/none", json!({})).await.0, 404);

    m.ok(
        Update,
        "metadata/k",
        json!({"custom_metadata": {"owner": "me", "n": 1}}),
    )
    .await;
    m.ok(
        Patch,
        "metadata/k",
        json!({"custom_metadata": {"x": "y", "owner": null}}),
    )
    .await;
    let meta = m.data(Read, "metadata/k", json!({})).await.1;
    assert_eq!(meta["custom_metadata"], json!({"n": "1", "x": "y"}));
    assert_eq!(meta["current_metadata_version"], 2);
    // A write replaces custom_metadata; -1 wraps like Vault's uint32.
    m.ok(
        Update,
        "metadata/k",
        json!({"custom_metadata": {"a": true}, "max_versions": -1}),
    )
    .await;
    let meta = m.data(Read, "metadata/k", json!({})).await.1;
    assert_eq!(meta["custom_metadata"], json!({"a": "true"}));
    assert_eq!(meta["max_versions"], 4_294_967_295u64);

    let errs = [
        (
            json!({"custom_metadata": {"a": [1]}}),
            "custom_metadata validation failed: '' expected type 'string', got unconvertible type '[]interface {}'",
        ),
        (
            json!({"delete_version_after": "abc"}),
            "error converting input for field \"delete_version_after\": time: invalid duration \"abc\"",
        ),
        (
            json!({"max_versions": 1, "metadata_cas": 5}),
            "metadata check-and-set parameter does not match the current version",
        ),
    ];
    for (body, want) in errs {
        assert_eq!(
            m.err(Update, "metadata/k", body.clone()).await,
            (400, vec![want.to_string()]),
            "{body}"
        );
    }
    assert_eq!(
        m.err(
            Update,
            "metadata/new",
            json!({"max_versions": 1, "metadata_cas": 2})
        )
        .await,
        (
            400,
            vec!["metadata_cas must be 0 when creating new metadata".to_string()]
        )
    );
    m.ok(
        Update,
        "metadata/k",
        json!({"metadata_cas_required": true, "metadata_cas": 3}),
    )
    .await;
    assert_eq!(
        m.err(Update, "metadata/k", json!({"max_versions": 1}))
            .await,
        (
            400,
            vec!["metadata check-and-set parameter required for this call".to_string()]
        )
    );
    m.ok(
        Update,
        "metadata/k",
        json!({"max_versions": 1, "metadata_cas": 4}),
    )
    .await;
    assert_eq!(
        m.err(Patch, "metadata/missing", json!({"max_versions": 1}))
            .await
            .0,
        404
    );

    m.data(Update, "data/d1/d2/k", json!({"data": {"a": 1}}))
        .await;
    m.data(Update, "data/d1/top", json!({"data": {"a": 1}}))
        .await;
    for (path, keys) in [
        ("metadata/", json!(["d1/", "k"])),
        ("metadata/d1/", json!(["d2/", "top"])),
        ("metadata/d1", json!(["d2/", "top"])),
    ] {
        assert_eq!(
            m.data(List, path, json!({})).await.1,
            json!({"keys": keys}),
            "{path}"
        );
    }
    assert_eq!(
        m.err(List, "metadata/empty/", json!({})).await,
        (404, Vec::<String>::new())
    );

    m.ok(Delete, "metadata/d1/d2/k", json!({})).await;
    assert_eq!(m.err(List, "metadata/d1/d2/", json!({})).await.0, 404);
    assert_eq!(m.err(Read, "data/d1/d2/k", json!({})).await.0, 404);
    assert!(
        m.storage.list("kv2/data/").await.unwrap().len() == 1,
        "only d1/top's data is left"
    );
    m.ok(Delete, "metadata/d1/d2/k", json!({})).await;
}

#[tokio::test]
async fn subkeys_by_depth() {
    let m = v2().await;
    m.data(
        Update,
        "data/s",
        json!({"data": {"a": 1, "b": {"c": {"d": 1}, "e": 2}, "f": [1]}}),
    )
    .await;
    let cases = [
        (
            json!({}),
            json!({"a": null, "b": {"c": {"d": null}, "e": null}, "f": null}),
        ),
        (
            json!({"depth": 1}),
            json!({"a": null, "b": null, "f": null}),
        ),
        (
            json!({"depth": "2"}),
            json!({"a": null, "b": {"c": null, "e": null}, "f": null}),
        ),
        (
            json!({"depth": -1}),
            json!({"a": null, "b": null, "f": null}),
        ),
    ];
    for (query, want) in cases {
        let (st, r) = m.data(Read, "subkeys/s", query.clone()).await;
        assert_eq!(st, 200);
        assert_eq!(r["subkeys"], want, "{query}");
        assert_eq!(r["metadata"]["version"], 1);
    }
    assert_eq!(m.err(Read, "subkeys/nope", json!({})).await.0, 404);
    m.ok(Delete, "data/s", json!({})).await;
    let (st, r) = m.data(Read, "subkeys/s", json!({})).await;
    assert_eq!(st, 404);
    assert_eq!(r["subkeys"], Value::Null);
}

#[tokio::test]
async fn config_and_delete_version_after() {
    let m = v2().await;
    let want = json!({"cas_required": false, "delete_version_after": "0s", "max_versions": 0, "metadata_cas_required": false});
    assert_eq!(m.data(Read, "config", json!({})).await.1, want);
    m.ok(
        Update,
        "config",
        json!({"max_versions": 10, "delete_version_after": "2h"}),
    )
    .await;
    m.ok(Update, "config", json!({"metadata_cas_required": true}))
        .await;
    let want = json!({"cas_required": false, "delete_version_after": "2h0m0s", "max_versions": 10, "metadata_cas_required": true});
    assert_eq!(m.data(Read, "config", json!({})).await.1, want);
    m.ok(
        Update,
        "config",
        json!({"delete_version_after": "-1s", "metadata_cas_required": false}),
    )
    .await;
    assert_eq!(
        m.data(Read, "config", json!({})).await.1["delete_version_after"],
        "-1s"
    );
    assert_eq!(m.err(Delete, "config", json!({})).await.0, 405);

    // A version already past its deletion time reads as deleted.
    m.ok(Update, "config", json!({"delete_version_after": "0s"}))
        .await;
    m.ok(
        Update,
        "metadata/short",
        json!({"delete_version_after": "1s"}),
    )
    .await;
    let (_, w) = m
        .data(Update, "data/short", json!({"data": {"a": 1}}))
        .await;
    assert!(is_go_time(&w["deletion_time"]));
    assert_eq!(m.data(Read, "data/short", json!({})).await.0, 200);
    // Once its deletion time passes (the behaviour under test), the version reads as deleted.
    arca_testkit::wait_until_async(
        "the version's deletion time to pass",
        std::time::Duration::from_secs(30),
        || async { (m.data(Read, "data/short", json!({})).await.0 == 404).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn existence_and_invalid_paths() {
    let m = v2().await;
    assert!(!m.exists("data/e").await);
    assert!(!m.exists("metadata/e").await);
    m.data(Update, "data/e", json!({"data": {"a": 1}})).await;
    assert!(m.exists("data/e").await);
    assert!(m.exists("metadata/e").await);

    for (op, verb) in [
        (Read, "get"),
        (Update, "put"),
        (List, "list"),
        (Delete, "delete"),
        (Patch, "patch"),
    ] {
        let r = m.call(op, "foo", json!({"a": 1})).await.unwrap().unwrap();
        assert_eq!(r.status, Some(404));
        assert!(r.data.is_none());
        assert_eq!(
            r.warnings,
            [format!(
                "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the OpenBao CLI, use 'bao kv {verb}' for this operation."
            )]
        );
    }
    assert_eq!(m.err(List, "data/", json!({})).await.0, 405);
}

#[tokio::test]
async fn concurrent_writes_never_lose_a_version() {
    let m = Arc::new(v2().await);
    m.ok(Update, "config", json!({"max_versions": 100})).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let m = m.clone();
        tasks.push(tokio::spawn(async move {
            m.data(Update, "data/hot", json!({"data": {"i": i}}))
                .await
                .1["version"]
                .as_u64()
                .unwrap()
        }));
    }
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.unwrap());
    }
    versions.sort();
    assert_eq!(versions, (1..=40).collect::<Vec<u64>>());

    // Same expected version: exactly one CAS write wins.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let m = m.clone();
        tasks.push(tokio::spawn(async move {
            m.call(
                Update,
                "data/hot",
                json!({"data": {"i": i}, "options": {"cas": 40}}),
            )
            .await
            .is_ok()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1);
    assert_eq!(
        m.data(Read, "metadata/hot", json!({})).await.1["current_version"],
        41
    );
}
