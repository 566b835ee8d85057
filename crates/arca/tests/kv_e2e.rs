//! Issue 4 end to end: `bao kv ...` against Arca and against OpenBao 2.7.2 gives the same exit
//! codes and the same output (tokens, ids and times aside); large and odd inputs (values near
//! the limits, deep JSON, keys with spaces and unicode, 10,000 keys listed); cubbyhole private
//! per token and destroyed when its token is revoked.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{Server, bao_dev, call, create_token, init_unseal, normalise_json, same_bao, unseal};
use serde_json::{Value, json};

#[test]
fn bao_kv_commands_match_openbao() {
    let arca = Server::dev();
    let openbao = bao_dev();
    let run = |args: &[&str]| same_bao(&arca, &openbao, "root", args);
    for args in [
        &["kv", "put", "secret/app/x", "a=1", "b=two"][..],
        &["kv", "put", "-format=json", "secret/app/x", "a=3"],
        &["kv", "get", "secret/app/x"],
        &["kv", "get", "-format=json", "secret/app/x"],
        &["kv", "get", "-version=1", "-field=b", "secret/app/x"],
        &["kv", "patch", "secret/app/x", "c=4"],
        &["kv", "patch", "-format=json", "secret/app/x", "d=5"],
        &["kv", "patch", "secret/app/missing", "a=1"],
        &["kv", "put", "-cas=0", "secret/app/x", "a=1"],
        &["kv", "put", "-mount=secret", "app/y", "k=v"],
        &["kv", "get", "-mount=secret", "app/y"],
        &["kv", "metadata", "get", "secret/app/x"],
        &["kv", "metadata", "get", "-format=json", "secret/app/x"],
        &[
            "kv",
            "metadata",
            "put",
            "-max-versions=5",
            "-custom-metadata=owner=me",
            "secret/app/x",
        ],
        &["kv", "metadata", "get", "secret/app/x"],
        &["kv", "metadata", "get", "secret/app/missing"],
        &["kv", "delete", "secret/app/x"],
        &["kv", "get", "secret/app/x"],
        &["kv", "get", "-format=json", "secret/app/x"],
        &["kv", "patch", "secret/app/x", "z=1"],
        &["kv", "undelete", "-versions=4", "secret/app/x"],
        &["kv", "get", "secret/app/x"],
        &["kv", "delete", "-versions=1,2", "secret/app/x"],
        &["kv", "destroy", "-versions=1", "secret/app/x"],
        &["kv", "get", "-version=1", "secret/app/x"],
        &["kv", "get", "-version=2", "secret/app/x"],
        &["kv", "undelete", "secret/app/x"],
        &["kv", "destroy", "secret/app/x"],
        &["kv", "rollback", "-version=3", "secret/app/x"],
        &["kv", "get", "secret/app/x"],
        &["kv", "rollback", "-version=1", "secret/app/x"],
        &["kv", "rollback", "secret/app/x"],
        &["kv", "list", "secret/"],
        &["kv", "list", "-format=json", "secret/app"],
        &["kv", "list", "secret/nothing"],
        &["kv", "metadata", "delete", "secret/app/x"],
        &["kv", "get", "secret/app/x"],
        &["kv", "metadata", "get", "secret/app/x"],
        &["kv", "list", "secret/app"],
        &[
            "kv",
            "metadata",
            "put",
            "-cas-required=true",
            "-delete-version-after=1h",
            "secret/app/y",
        ],
        &["kv", "put", "secret/app/y", "k=2"],
        &["kv", "put", "-cas=1", "secret/app/y", "k=2"],
        &["kv", "metadata", "get", "secret/app/y"],
        &["kv", "get", "secret/nomount/../x"],
    ] {
        run(args);
    }
}

/// A kv-v2 write of `data` at `path` as root; returns the status and body.
async fn put(s: &Server, path: &str, data: Value) -> (u16, Value) {
    let r = call(
        s,
        "POST",
        &format!("secret/data/{path}"),
        Some("root"),
        Some(json!({ "data": data })),
    )
    .await;
    (r.status, r.body)
}

async fn get(s: &Server, path: &str) -> (u16, Value) {
    let r = call(s, "GET", &format!("secret/data/{path}"), Some("root"), None).await;
    (r.status, r.body)
}

#[tokio::test]
async fn values_near_the_limits_and_deep_json_round_trip() {
    let s = Server::dev();
    // A string just under Arca's 1 MiB `max_json_string_value_length`, ~30 of them: a body
    // just under the 32 MiB `max_request_size`.
    let one = "é".repeat((1024 * 1024 - 64) / 2);
    let mut data = serde_json::Map::new();
    for i in 0..30 {
        data.insert(format!("v{i:02}"), Value::String(one.clone()));
    }
    let data = Value::Object(data);
    let (st, body) = put(&s, "big", data.clone()).await;
    assert_eq!(st, 200, "{body}");
    let (st, body) = get(&s, "big").await;
    assert_eq!(st, 200);
    assert!(
        body["data"]["data"] == data,
        "30 MiB value changed on the way"
    );

    // One string past 1 MiB: refused before parsing (OpenBao 2.7.2 has no such limit; Arca
    // applies Vault's CVE-2025-6203 default).
    let (st, body) = put(&s, "too-long", json!({"v": "x".repeat(1024 * 1024 + 1)})).await;
    assert_eq!(
        (st, body),
        (
            400,
            json!({"errors": ["JSON string value exceeds allowed length"]})
        )
    );

    // Deep JSON within the limits (depth 400 of 500) survives intact.
    let mut deep = json!("leaf");
    for i in 0..397 {
        deep = if i % 2 == 0 {
            json!({ "k": deep })
        } else {
            json!([deep])
        };
    }
    let (st, body) = put(&s, "deep", deep.clone()).await;
    assert_eq!(st, 200, "{body}");
    // serde_json's parser stops at depth 128, so the answer is compared as text.
    let (st, body) = get(&s, "deep").await;
    assert_eq!(st, 200);
    let text = body
        .as_str()
        .expect("deeper than the test parser goes: raw text");
    let want = format!(
        "\"data\":{{\"data\":{},\"metadata\":",
        serde_json::to_string(&deep).expect("encode")
    );
    assert!(text.contains(&want), "deep value changed");
    // Past the depth limit: refused.
    let mut deeper = json!(1);
    for _ in 0..600 {
        deeper = json!({ "k": deeper });
    }
    let (st, body) = put(&s, "deeper", deeper).await;
    assert_eq!(
        (st, body),
        (
            400,
            json!({"errors": ["JSON input exceeds allowed nesting depth"]})
        )
    );
}

#[tokio::test]
async fn keys_with_spaces_and_unicode_match_openbao() {
    let arca = Server::dev();
    let openbao = bao_dev();
    let names = [
        "a key with spaces",
        "ünïcødé",
        "秘密/鍵",
        "emoji 🔑 key",
        "tab\tand+plus",
        "percent%20literal",
    ];
    let mut answers = Vec::new();
    for s in [&arca, &openbao] {
        let mut a = Vec::new();
        for n in names {
            let (st, body) = put(
                s,
                &format!("odd/{n}"),
                json!({"name": n, "ключ": "значение"}),
            )
            .await;
            a.push((st, normalise_json(&body)));
            let (st, body) = get(s, &format!("odd/{n}")).await;
            assert_eq!(st, 200, "{n} on {}: {body}", s.addr);
            assert_eq!(body["data"]["data"]["name"], n);
            a.push((st, normalise_json(&body)));
        }
        let r = call(s, "LIST", "secret/metadata/odd", Some("root"), None).await;
        a.push((r.status, normalise_json(&r.body)));
        let r = call(s, "LIST", "secret/metadata/odd/秘密", Some("root"), None).await;
        a.push((r.status, normalise_json(&r.body)));
        answers.push(a);
    }
    assert_eq!(answers[0], answers[1], "left: Arca, right: OpenBao");
    let listed = &answers[0][names.len() * 2].1["data"]["keys"];
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(names.len()),
        "{listed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_keys_are_listed() {
    const KEYS: usize = 10_000;
    const TASKS: usize = 16;
    let s = Arc::new(Server::dev());
    let start = std::time::Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for t in 0..TASKS {
        let s = s.clone();
        set.spawn(async move {
            for i in (t..KEYS).step_by(TASKS) {
                let (st, body) = put(&s, &format!("many/k{i:05}"), json!({"i": i})).await;
                assert_eq!(st, 200, "k{i}: {body}");
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.expect("writer task");
    }
    let r = call(&s, "LIST", "secret/metadata/many/", Some("root"), None).await;
    assert_eq!(r.status, 200);
    let keys: Vec<&str> = r.body["data"]["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let want: Vec<String> = (0..KEYS).map(|i| format!("k{i:05}")).collect();
    assert_eq!(keys, want, "keys listed in order, each once");
    // A read of one of them, and of the one past the end.
    let (st, body) = get(&s, "many/k09999").await;
    assert_eq!((st, &body["data"]["data"]["i"]), (200, &json!(9999)));
    assert_eq!(get(&s, "many/k10000").await.0, 404);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(60),
        "10,000 writes and a list took {:?}",
        start.elapsed()
    );
}

async fn cubby_write(s: &Server, token: &str, v: &str) -> u16 {
    let body = Some(json!({ "v": v }));
    call(s, "POST", "cubbyhole/secret", Some(token), body)
        .await
        .status
}

#[tokio::test]
async fn cubbyhole_is_private_per_token() {
    for s in [Server::dev(), bao_dev()] {
        let (a, _) = create_token(&s, "root", json!({"policies": ["default"], "ttl": "1h"})).await;
        let (b, _) = create_token(&s, "root", json!({"policies": ["default"], "ttl": "1h"})).await;
        assert_eq!(cubby_write(&s, &a, "for a").await, 204);
        let r = call(&s, "GET", "cubbyhole/secret", Some(&a), None).await;
        assert_eq!(r.body["data"], json!({"v": "for a"}), "{}", s.addr);
        // Neither b nor root sees a's value.
        for t in [b.as_str(), "root"] {
            let r = call(&s, "GET", "cubbyhole/secret", Some(t), None).await;
            assert_eq!(r.status, 404, "{}: {}", s.addr, r.body);
            let r = call(&s, "LIST", "cubbyhole/", Some(t), None).await;
            assert_eq!(r.status, 404, "{}: {}", s.addr, r.body);
        }
        // b's own value at the same path leaves a's alone.
        assert_eq!(cubby_write(&s, &b, "for b").await, 204);
        let r = call(&s, "GET", "cubbyhole/secret", Some(&a), None).await;
        assert_eq!(r.body["data"], json!({"v": "for a"}));
        let r = call(&s, "GET", "cubbyhole/secret", Some(&b), None).await;
        assert_eq!(r.body["data"], json!({"v": "for b"}));
        // Revoked: a can no longer reach it.
        let r = call(&s, "POST", "auth/token/revoke-self", Some(&a), None).await;
        assert_eq!(r.status, 204);
        let r = call(&s, "GET", "cubbyhole/secret", Some(&a), None).await;
        assert_eq!(r.status, 403, "{}", s.addr);
    }
}

/// Every storage key under `prefix` in a stopped server's file store.
async fn stored_keys(dir: &Path, prefix: &str) -> Vec<String> {
    use arca_storage::PhysicalBackend;
    let backend = arca_storage::FileBackend::open(dir.join("data")).expect("open store");
    let mut out = Vec::new();
    let mut stack = vec![prefix.to_string()];
    while let Some(p) = stack.pop() {
        for k in backend.list(&p).await.expect("list") {
            if k.ends_with('/') {
                stack.push(format!("{p}{k}"));
            } else {
                out.push(format!("{p}{k}"));
            }
        }
    }
    out
}

#[tokio::test]
async fn a_revoked_tokens_cubbyhole_is_destroyed_in_storage() {
    // File storage, stopped between steps so its keys can be listed (key names are not
    // encrypted, values are).
    let s = Server::with_file_storage(None);
    let (key, root) = init_unseal(&s).await;
    let mounts = call(&s, "GET", "sys/mounts", Some(&root), None).await;
    let uuid = mounts.body["data"]["cubbyhole/"]["uuid"]
        .as_str()
        .expect("cubbyhole uuid")
        .to_string();
    let (a, _) = create_token(&s, &root, json!({"policies": ["default"]})).await;
    let (b, _) = create_token(&s, &root, json!({"policies": ["default"]})).await;
    for (t, n) in [(&a, 3), (&b, 2)] {
        for i in 0..n {
            let r = call(
                &s,
                "POST",
                &format!("cubbyhole/k{i}"),
                Some(t),
                Some(json!({"v": i})),
            )
            .await;
            assert_eq!(r.status, 204, "{}", r.body);
        }
    }
    let dir = s.stop().expect("storage dir");
    let all = stored_keys(dir.path(), "").await;
    let in_cubbyhole: Vec<&String> = all.iter().filter(|k| k.contains(&uuid)).collect();
    assert_eq!(in_cubbyhole.len(), 5, "{all:?}");

    let s = Server::with_file_storage(Some(dir));
    unseal(&s, &key).await;
    let r = call(
        &s,
        "POST",
        "auth/token/revoke",
        Some(&root),
        Some(json!({"token": a})),
    )
    .await;
    assert_eq!(r.status, 204);
    let r = call(&s, "GET", "cubbyhole/k1", Some(&b), None).await;
    assert_eq!(r.body["data"], json!({"v": 1}));
    let dir = s.stop().expect("storage dir");
    let all = stored_keys(dir.path(), "").await;
    let left: Vec<&String> = all.iter().filter(|k| k.contains(&uuid)).collect();
    assert_eq!(
        left.len(),
        2,
        "a's three entries are gone, b's two stay: {left:?}"
    );
}
