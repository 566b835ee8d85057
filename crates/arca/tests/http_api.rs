//! End to end over HTTP against `arca server -dev`: the envelope, error bodies and status codes,
//! path hardening, size limits, mounts, and KV through the raw API and through `vaultrs`.

mod common;

use common::{Server, call};
use serde_json::json;

#[tokio::test]
async fn envelope_errors_and_paths() {
    let s = Server::dev();
    let r = call(&s, "GET", "sys/key-status", Some("root"), None).await;
    assert_eq!(r.status, 200);
    let obj = r.body.as_object().expect("object");
    for k in [
        "request_id",
        "lease_id",
        "renewable",
        "lease_duration",
        "data",
        "wrap_info",
        "warnings",
        "auth",
    ] {
        assert!(obj.contains_key(k), "envelope lacks {k}: {}", r.body);
    }
    assert_eq!(
        r.headers
            .get("cache-control")
            .map(|v| v.to_str().unwrap_or("")),
        Some("no-store")
    );

    // No token, bad token: 403 and nothing else revealed.
    for t in [None, Some("hvs.nope")] {
        let d = call(&s, "GET", "sys/mounts", t, None).await;
        assert_eq!(
            (d.status, d.body.clone()),
            (403, json!({"errors": ["permission denied"]}))
        );
    }
    // Unknown sys path, unknown mount, wrong method: OpenBao's bodies.
    let r = call(&s, "GET", "sys/nope", Some("root"), None).await;
    assert_eq!(
        (r.status, r.body),
        (
            404,
            json!({"errors": ["1 error occurred:\n\t* unsupported path\n\n"]})
        )
    );
    let r = call(&s, "GET", "nosuchmount/x", Some("root"), None).await;
    assert_eq!(
        (r.status, r.body),
        (
            404,
            json!({"errors": ["no handler for route \"nosuchmount/x\". route entry not found."]})
        )
    );
    let r = call(&s, "DELETE", "sys/key-status", Some("root"), None).await;
    assert_eq!(
        (r.status, r.body),
        (
            405,
            json!({"errors": ["1 error occurred:\n\t* unsupported operation\n\n"]})
        )
    );
    // Non-canonical paths are refused before routing. Sent over a raw socket: HTTP clients
    // resolve `.` and `..` (even percent-encoded) before sending.
    for p in [
        "sys//mounts",
        "secret/../sys/mounts",
        "sys/./mounts",
        "secret/%2e%2e/sys/mounts",
        "secret//data/x",
    ] {
        assert_eq!(raw_status(&s, p), 400, "{p}");
    }
    assert_eq!(raw_status(&s, "sys/mounts"), 200);
    // Bodies: not an object, too large.
    let r = common::client()
        .post(s.url("sys/mounts/x"))
        .header("X-Vault-Token", "root")
        .body("[1]")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 400);
    // Past max_request_size (32 MiB by default): 413, decided from the declared length
    // before the body is read.
    {
        use std::io::{Read, Write};
        let hostport = s.addr.trim_start_matches("http://");
        let mut conn = std::net::TcpStream::connect(hostport).expect("connect");
        write!(
            conn,
            "POST /v1/secret/data/big HTTP/1.1\r\nHost: {hostport}\r\nX-Vault-Token: root\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{{\"data\":",
            33 * 1024 * 1024
        )
        .expect("write");
        let mut buf = [0u8; 64];
        let n = conn.read(&mut buf).expect("read");
        let head = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    }
    // HEAD sys/health: status, no body.
    let r = common::client()
        .head(s.url("sys/health"))
        .send()
        .await
        .expect("head");
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.expect("text").is_empty());
}

#[tokio::test]
async fn mounts_enable_tune_move_disable() {
    let s = Server::dev();
    let t = Some("root");
    let r = call(&s, "GET", "sys/mounts", t, None).await;
    for m in ["secret/", "sys/", "cubbyhole/", "identity/"] {
        assert!(
            r.body["data"].get(m).is_some(),
            "sys/mounts lacks {m}: {}",
            r.body
        );
    }
    assert_eq!(r.body["data"]["secret/"]["options"]["version"], "2");
    assert_eq!(
        call(&s, "POST", "sys/mounts/kv1", t, Some(json!({"type": "kv"})))
            .await
            .status,
        204
    );
    let dup = call(&s, "POST", "sys/mounts/kv1", t, Some(json!({"type": "kv"}))).await;
    assert_eq!(
        (dup.status, dup.body),
        (400, json!({"errors": ["path is already in use at kv1/"]}))
    );
    let bad = call(
        &s,
        "POST",
        "sys/mounts/bad",
        t,
        Some(json!({"type": "nosuch"})),
    )
    .await;
    assert_eq!(
        (bad.status, bad.body),
        (
            400,
            json!({"errors": ["plugin not found in the catalog: nosuch"]})
        )
    );
    let m = call(&s, "GET", "sys/mounts/kv1", t, None).await;
    assert_eq!(m.body["data"]["type"], "kv");
    assert_eq!(
        m.body["type"], "kv",
        "sys/mounts/:path copies data to the top level"
    );
    assert!(
        m.body["data"]["accessor"]
            .as_str()
            .unwrap_or("")
            .starts_with("kv_")
    );

    assert_eq!(
        call(
            &s,
            "POST",
            "sys/mounts/kv1/tune",
            t,
            Some(json!({"default_lease_ttl": "1h", "description": "d"}))
        )
        .await
        .status,
        204
    );
    let tune = call(&s, "GET", "sys/mounts/kv1/tune", t, None).await;
    assert_eq!(tune.body["data"]["default_lease_ttl"], 3600);
    assert_eq!(tune.body["data"]["max_lease_ttl"], 2_764_800);
    assert_eq!(tune.body["data"]["description"], "d");

    // KV v1 data survives a move and an upgrade to v2.
    assert_eq!(
        call(&s, "PUT", "kv1/app", t, Some(json!({"a": "b"})))
            .await
            .status,
        204
    );
    let mv = call(
        &s,
        "POST",
        "sys/remount",
        t,
        Some(json!({"from": "kv1", "to": "kv2"})),
    )
    .await;
    assert_eq!(mv.status, 200, "{}", mv.body);
    let id = mv.body["data"]["migration_id"]
        .as_str()
        .expect("migration id")
        .to_string();
    let st = call(&s, "GET", &format!("sys/remount/status/{id}"), t, None).await;
    assert_eq!(st.status, 200, "{}", st.body);
    assert_eq!(
        st.body["data"]["migration_info"],
        json!({"source_mount": "kv1/", "target_mount": "kv2/", "status": "success"})
    );
    assert_eq!(
        call(&s, "GET", "sys/remount/status/nope", t, None)
            .await
            .status,
        404
    );
    assert_eq!(call(&s, "GET", "kv1/app", t, None).await.status, 404);
    assert_eq!(
        call(&s, "GET", "kv2/app", t, None).await.body["data"]["a"],
        "b"
    );
    assert_eq!(
        call(
            &s,
            "POST",
            "sys/mounts/kv2/tune",
            t,
            Some(json!({"options": {"version": "2"}}))
        )
        .await
        .status,
        204
    );
    let up = call(&s, "GET", "kv2/data/app", t, None).await;
    assert_eq!(up.status, 200, "{}", up.body);
    assert_eq!(up.body["data"]["data"]["a"], "b");

    // Singletons stay; disabling removes the mount and its data.
    let sys = call(&s, "DELETE", "sys/mounts/sys", t, None).await;
    assert_eq!(sys.status, 400);
    assert_eq!(
        call(&s, "DELETE", "sys/mounts/kv2", t, None).await.status,
        204
    );
    assert_eq!(call(&s, "GET", "kv2/data/app", t, None).await.status, 404);
    assert_eq!(
        call(&s, "DELETE", "sys/mounts/never-there", t, None)
            .await
            .status,
        204
    );

    // The mount the CLI asks about before every kv command.
    let ui = call(&s, "GET", "sys/internal/ui/mounts/secret/foo", t, None).await;
    assert_eq!(ui.body["data"]["path"], "secret/");
    assert_eq!(ui.body["data"]["options"]["version"], "2");
}

#[tokio::test]
async fn kv_v2_through_vaultrs() {
    use vaultrs::client::{VaultClient, VaultClientSettingsBuilder};
    let s = Server::dev();
    let client = VaultClient::new(
        VaultClientSettingsBuilder::default()
            .address(&s.addr)
            .token("root")
            .build()
            .expect("settings"),
    )
    .expect("client");
    let mut secret = std::collections::HashMap::new();
    secret.insert("user".to_string(), "admin".to_string());
    let meta = vaultrs::kv2::set(&client, "secret", "app/db", &secret)
        .await
        .expect("kv2 set");
    assert_eq!(meta.version, 1);
    let back: std::collections::HashMap<String, String> =
        vaultrs::kv2::read(&client, "secret", "app/db")
            .await
            .expect("kv2 read");
    assert_eq!(back.get("user").map(String::as_str), Some("admin"));
    secret.insert("user".to_string(), "other".to_string());
    vaultrs::kv2::set(&client, "secret", "app/db", &secret)
        .await
        .expect("kv2 set 2");
    let v1: std::collections::HashMap<String, String> =
        vaultrs::kv2::read_version(&client, "secret", "app/db", 1)
            .await
            .expect("read v1");
    assert_eq!(v1.get("user").map(String::as_str), Some("admin"));
    let keys = vaultrs::kv2::list(&client, "secret", "app")
        .await
        .expect("list");
    assert_eq!(keys, vec!["db".to_string()]);
    let md = vaultrs::kv2::read_metadata(&client, "secret", "app/db")
        .await
        .expect("metadata");
    assert_eq!(md.current_version, 2);
    vaultrs::kv2::delete_latest(&client, "secret", "app/db")
        .await
        .expect("delete");
    assert!(
        vaultrs::kv2::read::<std::collections::HashMap<String, String>>(
            &client, "secret", "app/db"
        )
        .await
        .is_err()
    );
    // vaultrs' sys::health wants Vault's `performance_standby` field, which OpenBao leaves
    // out of sys/health and Arca adds (a README deviation) so that it works.
    let health = vaultrs::sys::health(&client)
        .await
        .expect("vaultrs sys::health");
    assert!(health.initialized && !health.sealed && !health.standby);
    assert!(!health.performance_standby);
}

/// The status code of `GET /v1/<path>` sent byte for byte over a socket.
fn raw_status(s: &Server, path: &str) -> u16 {
    use std::io::{Read, Write};
    let hostport = s.addr.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(hostport).expect("connect");
    write!(
        conn,
        "GET /v1/{path} HTTP/1.1\r\nHost: {hostport}\r\nX-Vault-Token: root\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut out = String::new();
    let _ = conn.read_to_string(&mut out);
    out.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn ui_mounts_listing_reveals_only_what_the_caller_may_see() {
    let s = Server::dev();
    // Without a token: nothing unless a mount is tuned listing_visibility=unauth, and then only
    // its type, description and options.
    let anon = call(&s, "GET", "sys/internal/ui/mounts", None, None).await;
    assert_eq!(anon.status, 200);
    assert_eq!(anon.body["data"], json!({"auth": {}, "secret": {}}));
    let tune = call(
        &s,
        "POST",
        "sys/mounts/secret/tune",
        Some("root"),
        Some(json!({"listing_visibility": "unauth"})),
    )
    .await;
    assert_eq!(tune.status, 204, "{}", tune.body);
    let anon = call(&s, "GET", "sys/internal/ui/mounts", None, None).await;
    assert_eq!(
        anon.body["data"]["secret"],
        json!({"secret/": {"type": "kv", "description": "key/value secret storage", "options": {"version": "2"}}})
    );
    assert_eq!(
        call(&s, "GET", "sys/internal/ui/mounts/secret/x", None, None)
            .await
            .status,
        403
    );

    // A token with the default policy sees what OpenBao 2.7.2 shows it (checked live): the
    // default policy reaches cubbyhole/, identity/, sys/ and auth/token/.
    let pol = call(
        &s,
        "PUT",
        "sys/policies/acl/app",
        Some("root"),
        Some(json!({"policy": "path \"secret/data/app/*\" { capabilities = [\"read\"] }"})),
    )
    .await;
    assert_eq!(pol.status, 204);
    let listed = |body: &serde_json::Value, key: &str| -> Vec<String> {
        body["data"][key]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let tok = call(
        &s,
        "POST",
        "auth/token/create",
        Some("root"),
        Some(json!({"policies": ["app"]})),
    )
    .await;
    let t = tok.body["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    let mine = call(&s, "GET", "sys/internal/ui/mounts", Some(&t), None).await;
    assert_eq!(
        listed(&mine.body, "secret"),
        ["cubbyhole/", "identity/", "secret/", "sys/"]
    );
    assert_eq!(listed(&mine.body, "auth"), ["token/"]);
    // Without the default policy, only the mount its policy reaches.
    let tok = call(
        &s,
        "POST",
        "auth/token/create",
        Some("root"),
        Some(json!({"policies": ["app"], "no_default_policy": true})),
    )
    .await;
    let t = tok.body["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    let mine = call(&s, "GET", "sys/internal/ui/mounts", Some(&t), None).await;
    assert_eq!(listed(&mine.body, "secret"), ["secret/"], "{}", mine.body);
    assert!(listed(&mine.body, "auth").is_empty());
    let one = call(
        &s,
        "GET",
        "sys/internal/ui/mounts/secret/app/db",
        Some(&t),
        None,
    )
    .await;
    assert_eq!(one.body["data"]["path"], "secret/", "{}", one.body);
    assert_eq!(
        call(&s, "GET", "sys/internal/ui/mounts/sys", Some(&t), None)
            .await
            .status,
        403
    );
}
