//! End to end over HTTP against `arca server -dev -dev-plugin-dir=...`: the plugin catalog
//! API and plugin reload with OpenBao 2.7.2's status codes and bodies, Vault's reload status,
//! and 20 reloads under a concurrent KV read load without a single failed request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use arca_testkit::wait_until_async;
use common::{Server, arca_bin, call, secret_catalog_with, spawn_on_free_port};
use serde_json::{Value, json};

/// `arca server -dev` with a plugin directory (kept alive as the server's `dir`).
fn dev_with_plugins(plugin_dir: tempfile::TempDir) -> Server {
    spawn_on_free_port(&arca_bin(), Some(plugin_dir), |port, dir| {
        vec![
            "server".to_string(),
            "-dev".into(),
            "-dev-root-token-id=root".into(),
            format!("-dev-listen-address=127.0.0.1:{port}"),
            "-dev-no-store-token".into(),
            format!("-dev-plugin-dir={}", dir.expect("plugin dir").display()),
        ]
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    let out = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(bytes)?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

fn errors(v: &[&str]) -> Value {
    json!({ "errors": v })
}

#[tokio::test]
async fn catalog_over_http() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("myplug"), "#!/bin/sh\necho hi\n").unwrap();
    let sha = sha256_hex(b"#!/bin/sh\necho hi\n");
    let s = dev_with_plugins(dir);
    let root = Some("root");

    let r = call(&s, "GET", "sys/plugins/catalog", root, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["data"]["secret"], secret_catalog_with(&[]));
    let builtin = r.body["data"]["detailed"][0]["version"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(builtin.ends_with("+builtin"), "{builtin}");

    let r = call(
        &s,
        "PUT",
        "sys/plugins/catalog/secret/myplug",
        root,
        Some(json!({"sha256": sha, "command": "myplug", "version": "1.0.0"})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = call(&s, "LIST", "sys/plugins/catalog/secret", root, None).await;
    assert_eq!(r.body["data"]["keys"], secret_catalog_with(&["myplug"]));
    let r = call(
        &s,
        "GET",
        "sys/plugins/catalog/secret/myplug?version=v1.0.0",
        root,
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["data"],
        json!({"args": [], "builtin": false, "command": "myplug", "declarative": false,
               "name": "myplug", "oci": false, "sha256": sha, "version": "v1.0.0"})
    );
    let r = call(&s, "GET", "sys/plugins/catalog/secret/nope", root, None).await;
    assert_eq!((r.status, r.body), (404, errors(&[])));
    let r = call(
        &s,
        "PUT",
        "sys/plugins/catalog/secret/x",
        root,
        Some(json!({"sha256": sha, "command": "../myplug"})),
    )
    .await;
    assert_eq!(
        (r.status, r.body),
        (
            500,
            errors(&["1 error occurred:\n\t* path cannot contain parent references\n\n"])
        )
    );
    let r = call(
        &s,
        "DELETE",
        &format!(
            "sys/plugins/catalog/secret/kv?version={}",
            builtin.replace('+', "%2B")
        ),
        root,
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.body),
        (
            400,
            errors(&[&format!("version \"{builtin}\" cannot be deleted")])
        )
    );
    let r = call(
        &s,
        "DELETE",
        "sys/plugins/catalog/secret/myplug?version=1.0.0",
        root,
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    let r = call(&s, "LIST", "sys/plugins/catalog/secret", root, None).await;
    assert_eq!(r.body["data"]["keys"], secret_catalog_with(&[]));
    // The catalog is root-protected.
    let r = call(&s, "GET", "sys/plugins/catalog", None, None).await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn reload_bodies_match_openbao() {
    let s = Server::dev();
    let root = Some("root");
    let reload = "sys/plugins/reload/backend";
    let cases = [
        (
            json!({"plugin": "kv", "mounts": ["secret/"]}),
            "plugin and mounts cannot be set at the same time",
        ),
        (json!({}), "plugin or mounts must be provided"),
        (
            json!({"plugin": "kv", "scope": "bogus"}),
            "scope must be unset or \"global\"",
        ),
        (
            json!({"plugin": "doesnotexist"}),
            "plugin not found in the catalog: \"doesnotexist\"",
        ),
        (
            json!({"plugin": "token"}),
            "singleton plugin cannot be reloaded: \"token\"",
        ),
        (
            json!({"mounts": ["nosuchmount/"]}),
            "1 error occurred:\n\t* cannot fetch mount entry on \"nosuchmount/\"\n\n",
        ),
        (
            json!({"mounts": ["sys/"]}),
            "1 error occurred:\n\t* cannot reload plugin on \"sys/\": singleton plugin cannot be reloaded: \"system\"\n\n",
        ),
    ];
    for (body, msg) in cases {
        let r = call(&s, "POST", reload, root, Some(body.clone())).await;
        assert_eq!((r.status, r.body), (400, errors(&[msg])), "{body}");
    }
    let r = call(&s, "GET", reload, root, None).await;
    assert_eq!(
        (r.status, r.body),
        (
            405,
            errors(&["1 error occurred:\n\t* unsupported operation\n\n"])
        )
    );
    let r = call(&s, "POST", reload, None, Some(json!({"plugin": "kv"}))).await;
    assert_eq!(r.status, 403);

    // Success: 200, data.reload_id equal to request_id, PUT the same as POST.
    for (method, body) in [
        ("POST", json!({"plugin": "kv"})),
        ("PUT", json!({"mounts": "secret/"})),
        ("POST", json!({"plugin": "kv", "scope": "global"})),
    ] {
        let r = call(&s, method, reload, root, Some(body.clone())).await;
        assert_eq!(r.status, 200, "{body}: {}", r.body);
        assert_eq!(r.body["data"]["reload_id"], r.body["request_id"]);
        assert_eq!(r.body["warnings"], Value::Null);
        let id = r.body["data"]["reload_id"].as_str().unwrap();
        // Vault's status endpoint knows it.
        let st = call(
            &s,
            "GET",
            &format!("sys/plugins/reload/backend/status?reload_id={id}"),
            root,
            None,
        )
        .await;
        assert_eq!(st.status, 200, "{}", st.body);
        assert_eq!(st.body["data"]["reload_id"], id);
        let results = st.body["data"]["results"].as_object().unwrap();
        assert_eq!(results.values().next().unwrap()["error"], "");
    }
    let r = call(
        &s,
        "POST",
        reload,
        root,
        Some(json!({"plugin": "kv", "extra": "x"})),
    )
    .await;
    assert_eq!(
        r.body["warnings"],
        json!(["Endpoint ignored these unrecognized parameters: [extra]"])
    );
    // Vault's typed reload.
    let r = call(
        &s,
        "POST",
        "sys/plugins/reload/secret/kv",
        root,
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["data"]["reload_id"].is_string());
}

#[tokio::test]
async fn twenty_reloads_under_load_fail_no_request() {
    let s = Arc::new(Server::dev());
    let root = Some("root");
    let r = call(
        &s,
        "POST",
        "secret/data/app",
        root,
        Some(json!({"data": {"password": "s3cret"}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let reads = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (s, stop, failures, reads) = (s.clone(), stop.clone(), failures.clone(), reads.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let r = call(&s, "GET", "secret/data/app", Some("root"), None).await;
                if r.status != 200 || r.body["data"]["data"]["password"] != "s3cret" {
                    eprintln!("failed read: {} {}", r.status, r.body);
                    failures.fetch_add(1, Ordering::SeqCst);
                }
                reads.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    // Let the readers get going, then reload 20 times, alternating the two forms, each reload
    // followed by fresh reads before the next.
    let reads_past = |n: usize| {
        let reads = reads.clone();
        move || {
            let reads = reads.clone();
            async move { (reads.load(Ordering::SeqCst) >= n).then_some(()) }
        }
    };
    wait_until_async(
        "the readers to start",
        Duration::from_secs(60),
        reads_past(16),
    )
    .await;
    let before = reads.load(Ordering::SeqCst);
    let mut ids = Vec::new();
    for i in 0..20 {
        let body = if i % 2 == 0 {
            json!({"plugin": "kv"})
        } else {
            json!({"mounts": ["secret/"]})
        };
        let r = call(&s, "POST", "sys/plugins/reload/backend", root, Some(body)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        ids.push(r.body["data"]["reload_id"].as_str().unwrap().to_string());
        let now = reads.load(Ordering::SeqCst);
        wait_until_async(
            "reads after a reload",
            Duration::from_secs(60),
            reads_past(now + 8),
        )
        .await;
    }
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    let during = reads.load(Ordering::SeqCst) - before;
    assert_eq!(failures.load(Ordering::SeqCst), 0);
    assert!(during >= 20, "only {during} reads overlapped the reloads");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
    // The data is intact after all of it.
    let r = call(&s, "GET", "secret/data/app", root, None).await;
    assert_eq!(r.body["data"]["data"]["password"], "s3cret");
}
