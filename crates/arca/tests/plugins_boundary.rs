//! What an external plugin sees and may answer, end to end: the real `arca` binary hosting the
//! `echo_plugin` example over Vault's plugin protocol. The plugin never receives the client
//! token (only a per-mount salted id) nor `Authorization`/`X-Vault-Token`, whatever the mount's
//! `passthrough_request_headers` say; no plugin code runs for a request with a bad or missing
//! token; and a plugin's own client token, lease id, wrapping token and unlisted or security headers
//! never reach the client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Server, bao_dev_with_plugins, call, client, create_token, example_binary};
use serde_json::{Value, json};

/// A directory holding the echo plugin as `echo`.
fn plugin_dir() -> tempfile::TempDir {
    let built = example_binary("echo_plugin");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(&built, dir.path().join("echo")).expect("copy plugin");
    dir
}

/// The dev server with the echo plugin mounted at `echo/`.
fn server() -> Server {
    let dir = plugin_dir();
    let mut s = Server::dev_with_plugins(dir.path());
    // The directory lives as long as the server.
    s.dir = Some(dir);
    s
}

async fn calls(s: &Server) -> u64 {
    let r = call(s, "GET", "echo/calls", Some("root"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["data"]["calls"].as_u64().expect("calls")
}

#[tokio::test]
async fn a_plugin_never_sees_the_client_token_nor_its_headers() {
    let s = server();
    let tune = call(
        &s,
        "POST",
        "sys/mounts/echo/tune",
        Some("root"),
        Some(json!({
            "passthrough_request_headers": ["X-Custom", "Authorization", "X-Vault-Token"],
            "allowed_response_headers": ["X-Echo-Allowed"],
        })),
    )
    .await;
    assert_eq!(tune.status, 204, "{}", tune.body);
    // Readable back as OpenBao shows it (the list as given).
    let read = call(&s, "GET", "sys/mounts/echo/tune", Some("root"), None).await;
    assert_eq!(
        read.body["data"]["passthrough_request_headers"],
        json!(["X-Custom", "Authorization", "X-Vault-Token"])
    );
    assert_eq!(
        read.body["data"]["allowed_response_headers"],
        json!(["X-Echo-Allowed"])
    );

    let (token, _) = create_token(&s, "root", json!({})).await;
    let mut seen_ids = Vec::new();
    for by_authorization in [false, true] {
        let mut req = client()
            .get(s.url("echo/seen"))
            .header("X-Custom", "custom-value")
            .header("X-Not-Listed", "x");
        req = if by_authorization {
            req.header("Authorization", format!("Bearer {token}"))
        } else {
            req.header("X-Vault-Token", &token)
                .header("Authorization", format!("Bearer {token}"))
        };
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let text = resp.text().await.unwrap();
        assert!(
            !text.contains(&token),
            "the plugin received the raw token: {text}"
        );
        let body: Value = serde_json::from_str(&text).unwrap();
        let data = &body["data"];
        assert_eq!(data["headers"], json!({"x-custom": ["custom-value"]}));
        let id = data["client_token"].as_str().unwrap().to_string();
        assert_eq!(id.len(), 40, "{id}");
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
        seen_ids.push(id);
    }
    // The salted id is stable for one token on one mount.
    assert_eq!(seen_ids[0], seen_ids[1]);
}

#[tokio::test]
async fn no_plugin_code_runs_for_a_bad_or_missing_token() {
    let s = server();
    let before = calls(&s).await;
    for token in [None, Some("hvs.not-a-real-token")] {
        for method in ["GET", "POST", "PUT", "DELETE", "LIST"] {
            let body = (method == "POST" || method == "PUT").then(|| json!({"a": "b"}));
            let r = call(&s, method, "echo/seen", token, body).await;
            assert_eq!(r.status, 403, "{method} {token:?}: {}", r.body);
            assert_eq!(r.body, json!({"errors": ["permission denied"]}));
        }
    }
    assert_eq!(
        calls(&s).await,
        before,
        "plugin code ran for a refused request"
    );
    // A valid token does reach it: existence check and request both run for a write.
    let w = call(&s, "POST", "echo/seen", Some("root"), Some(json!({}))).await;
    assert_eq!(w.status, 200, "{}", w.body);
    assert_eq!(w.body["data"]["operation"], "create");
    assert_eq!(calls(&s).await, before + 2);
}

#[tokio::test]
async fn a_plugin_answers_only_what_the_core_allows() {
    let s = server();
    let tune = call(
        &s,
        "POST",
        "sys/mounts/echo/tune",
        Some("root"),
        Some(json!({"allowed_response_headers": ["X-Echo-Allowed", "Cache-Control"]})),
    )
    .await;
    assert_eq!(tune.status, 204, "{}", tune.body);
    let w = call(&s, "GET", "echo/answer", Some("root"), None).await;
    assert_eq!(w.status, 200, "{}", w.body);
    // The plugin asked for its answer to be wrapped (a wrap_info with a TTL): as in Vault the
    // core wraps it, with a wrapping token, creation path and time of its own.
    let text = w.body.to_string();
    assert!(!text.contains("made-by-the-plugin"), "{text}");
    assert_eq!(w.body["data"], Value::Null, "{}", w.body);
    let info = &w.body["wrap_info"];
    assert_eq!(info["ttl"], json!(60), "{}", w.body);
    assert_eq!(info["creation_path"], json!("echo/answer"), "{}", w.body);
    assert_ne!(
        info["creation_time"],
        json!("2026-01-01T00:00:00Z"),
        "{}",
        w.body
    );
    let wrapping_token = info["token"].as_str().expect("wrapping token");
    assert!(wrapping_token.starts_with("hvs."), "{wrapping_token}");
    let r = call(&s, "PUT", "sys/wrapping/unwrap", Some(wrapping_token), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let text = r.body.to_string();
    assert!(!text.contains("made-by-the-plugin"), "{text}");
    assert_eq!(r.body["data"], json!({"answered": true}));
    // The plugin's lease id is dropped; the core registers the secret's lease itself.
    let lease_id = r.body["lease_id"].as_str().unwrap_or_default();
    assert!(lease_id.starts_with("echo/answer/"), "{lease_id}");
    assert_eq!(lease_id.len(), "echo/answer/".len() + 24);
    assert_eq!(r.body["wrap_info"], Value::Null);
    assert_eq!(r.body["auth"]["client_token"], "");
    assert_eq!(r.body["auth"]["accessor"], "");
    // Only the allowed header passes; the server's own headers are never replaced, even when
    // the mount allows the name.
    let r = call(&s, "GET", "echo/headers", Some("root"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.headers["x-echo-allowed"], "yes");
    assert!(r.headers.get("x-echo-other").is_none());
    let cache: Vec<_> = r.headers.get_all("cache-control").iter().collect();
    assert_eq!(cache, ["no-store"]);
    assert_eq!(r.headers["content-type"], "application/json");
}

/// A plugin asks its host for a password from a password policy (the system view's
/// `GeneratePasswordFromPolicy`): under Arca and under OpenBao alike it gets one that follows
/// the policy of the mount's namespace, and a policy that does not exist is the same error.
#[tokio::test]
async fn a_plugin_generates_passwords_from_the_hosts_password_policies() {
    let arca = server();
    let dir = plugin_dir();
    let mut openbao = bao_dev_with_plugins(dir.path());
    openbao.dir = Some(dir);
    // OpenBao's dev mode registers the plugin without mounting it.
    let r = call(
        &openbao,
        "POST",
        "sys/mounts/echo",
        Some("root"),
        Some(json!({"type": "echo"})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let policy = "length = 12\nrule \"charset\" {\n  charset = \"abc\"\n  min-chars = 2\n}\nrule \"charset\" {\n  charset = \"XYZ\"\n  min-chars = 2\n}\n";
    let mut errors = Vec::new();
    for s in [&arca, &openbao] {
        let r = call(
            s,
            "PUT",
            "sys/policies/password/plugin",
            Some("root"),
            Some(json!({ "policy": policy })),
        )
        .await;
        assert_eq!(r.status, 204, "{}: {}", s.addr, r.body);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10 {
            let r = call(s, "GET", "echo/password/plugin", Some("root"), None).await;
            assert_eq!(r.status, 200, "{}: {}", s.addr, r.body);
            let pw = r.body["data"]["password"].as_str().unwrap().to_string();
            assert_eq!(pw.len(), 12, "{pw}");
            assert!(pw.chars().all(|c| "abcXYZ".contains(c)), "{pw}");
            assert!(
                pw.chars().filter(|c| "abc".contains(*c)).count() >= 2,
                "{pw}"
            );
            assert!(
                pw.chars().filter(|c| "XYZ".contains(*c)).count() >= 2,
                "{pw}"
            );
            seen.insert(pw);
        }
        assert!(seen.len() > 1, "{seen:?}");
        let r = call(s, "GET", "echo/password/missing", Some("root"), None).await;
        errors.push((r.status, r.body["errors"].clone()));
    }
    assert_eq!(errors[0], errors[1], "Arca (left) and OpenBao (right)");
    assert_eq!(errors[0].0, 400);
}
