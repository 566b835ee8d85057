//! Issue 3 end to end: tokens and policies over HTTP against the real `arca` binary, each check
//! also run against a real OpenBao dev server and required to give the same status and body.
//! Limited tokens are refused outside their policy and allowed inside; revoking a parent revokes
//! its children while `revoke-orphan` does not; `num_uses` runs out (a refused request spends a
//! use too); expired tokens are refused.

mod common;

use arca_testkit::wait_until_async;
use common::{Server, call, create_token, normalise_json, servers, write_policy};
use serde_json::{Value, json};

const APP_POLICY: &str = "path \"secret/data/app/*\" {\n  capabilities = [\"read\"]\n}\n";
const MAKER_POLICY: &str = "path \"auth/token/create\" {\n  capabilities = [\"update\"]\n}\n";

/// The wire text of an ACL refusal of a known token (OpenBao wraps it as a multierror).
fn acl_denied() -> Value {
    json!({"errors": ["1 error occurred:\n\t* permission denied\n\n"]})
}

/// The wire text of an unknown, revoked, expired or missing token.
fn bare_denied() -> Value {
    json!({"errors": ["permission denied"]})
}

async fn status_body(s: &Server, method: &str, path: &str, token: &str) -> (u16, Value) {
    let r = call(s, method, path, Some(token), None).await;
    (r.status, r.body)
}

async fn put_secret(s: &Server, path: &str) {
    let r = call(
        s,
        "POST",
        &format!("secret/data/{path}"),
        Some("root"),
        Some(json!({"data": {"k": "v"}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}: {}", s.addr, r.body);
}

#[tokio::test]
async fn limited_token_is_allowed_inside_its_policy_and_refused_outside() {
    for s in servers() {
        write_policy(&s, "app", APP_POLICY).await;
        put_secret(&s, "app/one").await;
        put_secret(&s, "other").await;
        let (t, _) = create_token(&s, "root", json!({"policies": ["app"], "ttl": "1h"})).await;

        let (st, body) = status_body(&s, "GET", "secret/data/app/one", &t).await;
        assert_eq!(st, 200, "{}: {body}", s.addr);
        assert_eq!(body["data"]["data"], json!({"k": "v"}));

        for (method, path) in [
            ("GET", "secret/data/other"),
            ("GET", "secret/metadata/app/one"),
            ("DELETE", "secret/data/app/one"),
            ("GET", "sys/mounts"),
            ("GET", "sys/policies/acl/app"),
            ("POST", "auth/token/create"),
            ("LIST", "auth/token/accessors"),
        ] {
            assert_eq!(
                status_body(&s, method, path, &t).await,
                (403, acl_denied()),
                "{method} {path} on {}",
                s.addr
            );
        }
        // A write inside the read-only policy is refused as well.
        let r = call(
            &s,
            "POST",
            "secret/data/app/one",
            Some(&t),
            Some(json!({"data": {"x": 1}})),
        )
        .await;
        assert_eq!((r.status, r.body), (403, acl_denied()), "{}", s.addr);
        // The default policy still lets it look itself up.
        let (st, body) = status_body(&s, "GET", "auth/token/lookup-self", &t).await;
        assert_eq!(st, 200);
        assert_eq!(body["data"]["policies"], json!(["app", "default"]));
        // Unknown and missing tokens: the bare text, nothing revealed.
        assert_eq!(
            status_body(&s, "GET", "secret/data/app/one", "hvs.nope").await,
            (403, bare_denied())
        );
        let r = call(&s, "GET", "secret/data/app/one", None, None).await;
        assert_eq!((r.status, r.body), (403, bare_denied()));
    }
}

#[tokio::test]
async fn revoking_a_parent_revokes_its_children_but_revoke_orphan_does_not() {
    for s in servers() {
        write_policy(&s, "maker", MAKER_POLICY).await;
        let body = json!({"policies": ["maker"], "ttl": "1h"});

        // revoke: the whole tree goes.
        let (parent, _) = create_token(&s, "root", body.clone()).await;
        let (child, _) = create_token(&s, &parent, body.clone()).await;
        let (grandchild, _) = create_token(&s, &child, body.clone()).await;
        let r = call(
            &s,
            "POST",
            "auth/token/revoke",
            Some("root"),
            Some(json!({"token": parent})),
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.body);
        for t in [&parent, &child, &grandchild] {
            assert_eq!(
                status_body(&s, "GET", "auth/token/lookup-self", t).await,
                (403, bare_denied()),
                "{}",
                s.addr
            );
        }

        // revoke-orphan: the parent goes, the child stays and becomes an orphan.
        let (parent, _) = create_token(&s, "root", body.clone()).await;
        let (child, _) = create_token(&s, &parent, body.clone()).await;
        let (st, before) = status_body(&s, "GET", "auth/token/lookup-self", &child).await;
        assert_eq!((st, &before["data"]["orphan"]), (200, &json!(false)));
        let r = call(
            &s,
            "POST",
            "auth/token/revoke-orphan",
            Some("root"),
            Some(json!({"token": parent})),
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.body);
        assert_eq!(
            status_body(&s, "GET", "auth/token/lookup-self", &parent)
                .await
                .0,
            403
        );
        let (st, after) = status_body(&s, "GET", "auth/token/lookup-self", &child).await;
        assert_eq!(st, 200, "{}: {after}", s.addr);
        assert_eq!(after["data"]["orphan"], true, "{}", s.addr);
        // The orphan is no longer revoked with anything above it.
        let (st, _) = status_body(&s, "GET", "auth/token/lookup-self", &child).await;
        assert_eq!(st, 200);

        // revoke-self on a child leaves its parent alone.
        let (parent, _) = create_token(&s, "root", body.clone()).await;
        let (child, _) = create_token(&s, &parent, body.clone()).await;
        let r = call(&s, "POST", "auth/token/revoke-self", Some(&child), None).await;
        assert_eq!(r.status, 204);
        assert_eq!(
            status_body(&s, "GET", "auth/token/lookup-self", &parent)
                .await
                .0,
            200
        );
    }
}

#[tokio::test]
async fn num_uses_run_out_and_a_refused_request_spends_one() {
    for s in servers() {
        write_policy(&s, "app", APP_POLICY).await;
        put_secret(&s, "app/one").await;
        let (t, accessor) = create_token(
            &s,
            "root",
            json!({"policies": ["app"], "num_uses": 3, "ttl": "1h"}),
        )
        .await;
        // Use 1: allowed.
        assert_eq!(
            status_body(&s, "GET", "secret/data/app/one", &t).await.0,
            200
        );
        let r = call(
            &s,
            "POST",
            "auth/token/lookup-accessor",
            Some("root"),
            Some(json!({"accessor": accessor})),
        )
        .await;
        assert_eq!(r.body["data"]["num_uses"], 2, "{}", s.addr);
        // Use 2: refused by the ACL, and spent all the same.
        assert_eq!(
            status_body(&s, "GET", "secret/data/other", &t).await,
            (403, acl_denied()),
            "{}",
            s.addr
        );
        // Use 3, the last: allowed, then the token is gone.
        assert_eq!(
            status_body(&s, "GET", "secret/data/app/one", &t).await.0,
            200,
            "{}",
            s.addr
        );
        assert_eq!(
            status_body(&s, "GET", "secret/data/app/one", &t).await,
            (403, bare_denied()),
            "{}",
            s.addr
        );
        // Both servers revoke the spent token in the background, after the last use answered:
        // wait for its accessor to be gone.
        wait_until_async(
            &format!("the spent token's accessor to go on {}", s.addr),
            std::time::Duration::from_secs(30),
            || async {
                let r = call(
                    &s,
                    "POST",
                    "auth/token/lookup-accessor",
                    Some("root"),
                    Some(json!({"accessor": accessor})),
                )
                .await;
                (r.status == 400).then_some(())
            },
        )
        .await;

        // A single-use token whose one use the ACL refuses is revoked by that refusal.
        let (t, _) = create_token(
            &s,
            "root",
            json!({"policies": ["app"], "num_uses": 1, "ttl": "1h"}),
        )
        .await;
        assert_eq!(
            status_body(&s, "GET", "sys/mounts", &t).await,
            (403, acl_denied())
        );
        assert_eq!(
            status_body(&s, "GET", "secret/data/app/one", &t).await,
            (403, bare_denied()),
            "{}",
            s.addr
        );
    }
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let servers = servers();
    let mut tokens = Vec::new();
    for s in &servers {
        write_policy(s, "app", APP_POLICY).await;
        put_secret(s, "app/one").await;
        let (t, _) = create_token(s, "root", json!({"policies": ["app"], "ttl": "2s"})).await;
        assert_eq!(
            status_body(s, "GET", "secret/data/app/one", &t).await.0,
            200
        );
        tokens.push(t);
    }
    // The behaviour under test is the expiry: wait until each server refuses the token, with
    // a deadline well past the TTL.
    for (s, t) in servers.iter().zip(&tokens) {
        wait_until_async(
            &format!("the 2s token to expire on {}", s.addr),
            std::time::Duration::from_secs(30),
            || async {
                (status_body(s, "GET", "secret/data/app/one", t).await.0 == 403).then_some(())
            },
        )
        .await;
    }
    for (s, t) in servers.iter().zip(&tokens) {
        assert_eq!(
            status_body(s, "GET", "secret/data/app/one", t).await,
            (403, bare_denied()),
            "{}",
            s.addr
        );
        assert_eq!(
            status_body(s, "GET", "auth/token/lookup-self", t).await,
            (403, bare_denied())
        );
        // Renewing it is too late as well.
        let r = call(
            s,
            "POST",
            "auth/token/renew",
            Some("root"),
            Some(json!({"token": t})),
        )
        .await;
        assert_eq!(r.status, 400, "{}: {}", s.addr, r.body);
    }
}

#[tokio::test]
async fn policies_over_http_match_openbao() {
    let [arca, openbao] = servers();
    let mut answers = Vec::new();
    for s in [&arca, &openbao] {
        write_policy(s, "app", APP_POLICY).await;
        let mut a = Vec::new();
        for (method, path, body) in [
            ("GET", "sys/policies/acl/app", None),
            ("LIST", "sys/policies/acl", None),
            ("GET", "sys/policy", None),
            ("GET", "sys/policies/acl/nope", None),
            (
                "PUT",
                "sys/policies/acl/bad",
                Some(json!({"policy": "path {"})),
            ),
            ("PUT", "sys/policies/acl/root", Some(json!({"policy": ""}))),
            ("DELETE", "sys/policies/acl/default", None),
            ("DELETE", "sys/policies/acl/nope", None),
            (
                "POST",
                "sys/capabilities",
                Some(json!({"token": "root", "paths": ["secret/data/app/x"]})),
            ),
        ] {
            let r = call(s, method, path, Some("root"), body).await;
            a.push((method, path, r.status, normalise_json(&r.body)));
        }
        answers.push(a);
    }
    for (x, y) in answers[0].iter().zip(&answers[1]) {
        if x.1 == "sys/policies/acl/bad" {
            // The parser's own words differ (OpenBao's HCL library vs Arca's); the status and
            // the single `failed to parse policy: ` prefix are the same.
            assert_eq!((x.2, y.2), (400, 400));
            for v in [&x.3, &y.3] {
                let text = v["errors"][0].as_str().expect("error text");
                assert!(text.starts_with("failed to parse policy: "), "{text}");
                assert_eq!(text.matches("failed to parse policy").count(), 1, "{text}");
            }
            continue;
        }
        assert_eq!(x, y, "left: Arca, right: OpenBao");
    }
}
