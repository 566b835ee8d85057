//! Bad input at the pipeline's edge gets OpenBao's answer: each check runs against the real
//! `arca` binary and a real OpenBao 2.7.2 dev server and requires the same status and body.
//! A path no mount serves is `permission denied` (never a hint of which mounts exist), a
//! namespace other than root is `namespace not found`, an empty LIST is 404 `{"errors":[]}`,
//! `GET /` redirects to the UI, and PATCH without merge-patch is 415 and changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Body, Server, call, call_with, create_token, servers};
use serde_json::{Value, json};

/// Status and body of `method path` with optional extra headers (a body that is not JSON
/// reads as `null`).
async fn send(
    s: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, Value) {
    let body = body.map(|b| Body::Text(b.to_string()));
    let a = call_with(s, method, path, token, headers, body).await;
    let value = if a.body.is_string() {
        Value::Null
    } else {
        a.body
    };
    (a.status, value)
}

#[tokio::test]
async fn a_path_no_mount_serves_is_permission_denied() {
    for s in servers() {
        let (t, _) = create_token(&s, "root", json!({"policies": ["default"]})).await;
        for token in [None, Some("hvs.not-a-token")] {
            let got = send(&s, "GET", "nomount/x", token, &[], None).await;
            assert_eq!(
                got,
                (403, json!({"errors": ["permission denied"]})),
                "{}",
                s.addr
            );
        }
        let got = send(&s, "GET", "nomount/x", Some(&t), &[], None).await;
        assert_eq!(
            got,
            (
                403,
                json!({"errors": ["1 error occurred:\n\t* permission denied\n\n"]})
            ),
            "{}",
            s.addr
        );
    }
}

#[tokio::test]
async fn a_namespace_other_than_root_is_not_found() {
    for s in servers() {
        for ns in ["team-a", "team-a/", "ROOT"] {
            for token in [Some("root"), Some("bad"), None] {
                let got = send(
                    &s,
                    "GET",
                    "sys/mounts",
                    token,
                    &[("X-Vault-Namespace", ns)],
                    None,
                )
                .await;
                assert_eq!(
                    got,
                    (404, json!({"errors": ["namespace not found"]})),
                    "{} {ns}",
                    s.addr
                );
            }
        }
        for ns in ["root", "/", "root/"] {
            let (status, _) = send(
                &s,
                "GET",
                "sys/mounts",
                Some("root"),
                &[("X-Vault-Namespace", ns)],
                None,
            )
            .await;
            assert_eq!(status, 200, "{} {ns}", s.addr);
        }
    }
}

#[tokio::test]
async fn an_empty_list_is_not_found() {
    for s in servers() {
        for (method, path) in [
            ("LIST", "auth/token/roles"),
            ("GET", "auth/token/roles?list=true"),
            ("LIST", "secret/metadata/"),
        ] {
            let got = send(&s, method, path, Some("root"), &[], None).await;
            assert_eq!(got, (404, json!({"errors": []})), "{} {path}", s.addr);
        }
    }
}

#[tokio::test]
async fn the_root_path_redirects_to_the_ui() {
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for s in servers() {
        let resp = no_redirects
            .get(format!("{}/", s.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 307, "{}", s.addr);
        assert_eq!(resp.headers()["location"], "/ui/", "{}", s.addr);
    }
}

#[tokio::test]
async fn patch_without_merge_patch_is_refused_and_changes_nothing() {
    for s in servers() {
        let m = call(
            &s,
            "POST",
            "sys/mounts/kv1",
            Some("root"),
            Some(json!({"type": "kv"})),
        )
        .await;
        assert_eq!(m.status, 204, "{}: {}", s.addr, m.body);
        let w = call(&s, "POST", "kv1/x", Some("root"), Some(json!({"a": "1"}))).await;
        assert_eq!(w.status, 204, "{}: {}", s.addr, w.body);
        let w = call(
            &s,
            "POST",
            "secret/data/x",
            Some("root"),
            Some(json!({"data": {"a": "1"}})),
        )
        .await;
        assert_eq!(w.status, 200, "{}: {}", s.addr, w.body);
        for (path, body) in [
            ("kv1/x", r#"{"a":"2"}"#),
            ("secret/data/x", r#"{"data":{"a":"2"}}"#),
        ] {
            for (ct, status, message) in [
                (
                    "application/json",
                    415,
                    "PATCH requires Content-Type of application/merge-patch+json, provided \
                     application/json",
                ),
                (
                    "text/plain; charset=utf-8",
                    415,
                    "PATCH requires Content-Type of application/merge-patch+json, provided \
                     text/plain",
                ),
            ] {
                let got = send(
                    &s,
                    "PATCH",
                    path,
                    Some("root"),
                    &[("Content-Type", ct)],
                    Some(body),
                )
                .await;
                assert_eq!(
                    got,
                    (status, json!({ "errors": [message] })),
                    "{} {path} {ct}",
                    s.addr
                );
            }
        }
        let r = call(&s, "GET", "kv1/x", Some("root"), None).await;
        assert_eq!(r.body["data"], json!({"a": "1"}), "{}", s.addr);
        let r = call(&s, "GET", "secret/data/x", Some("root"), None).await;
        assert_eq!(r.body["data"]["data"], json!({"a": "1"}), "{}", s.addr);
    }
}

#[tokio::test]
async fn no_write_reaches_a_path_ending_in_a_slash() {
    let refused = (
        400,
        json!({"errors": ["cannot write to a path ending in '/'"]}),
    );
    for s in servers() {
        for (method, path, token, body) in [
            ("PUT", "sys/policy/foo/", Some("root"), r#"{"policy":""}"#),
            ("POST", "sys/mounts/x/", Some("root"), r#"{"type":"kv"}"#),
            ("PUT", "secret/data/foo/", Some("root"), r#"{"data":{}}"#),
            ("PUT", "nomount/x/", Some("root"), "{}"),
            // Before the token is looked at.
            ("PUT", "secret/data/foo/", None, "{}"),
        ] {
            let got = send(&s, method, path, token, &[], Some(body)).await;
            assert_eq!(got, refused, "{method} {path} on {}", s.addr);
        }
        // A merge patch is a write too.
        let patch = [("Content-Type", "application/merge-patch+json")];
        let got = send(
            &s,
            "PATCH",
            "secret/data/foo/",
            Some("root"),
            &patch,
            Some("{}"),
        )
        .await;
        assert_eq!(got, refused, "PATCH on {}", s.addr);
        // Nothing was written: the mount and the policy do not exist.
        let (status, _) = send(&s, "GET", "sys/policy/foo", Some("root"), &[], None).await;
        assert_eq!(status, 404, "{}", s.addr);
        let (status, _) = send(&s, "GET", "sys/mounts/x", Some("root"), &[], None).await;
        assert_eq!(status, 400, "{}", s.addr);
        // Reads and deletes of such paths are not writes.
        let (status, _) = send(&s, "DELETE", "secret/data/foo/", Some("root"), &[], None).await;
        assert_eq!(status, 204, "{}", s.addr);
    }
}
