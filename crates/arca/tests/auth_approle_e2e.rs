//! Issue 15, AppRole end to end against the real `arca` binary and a real OpenBao dev server
//! (one of each for the whole file): role, role ID, secret IDs (plain, response-wrapped, one
//! use under concurrent logins), login and the token it mints, the errors for a role that does
//! not exist, lockout of a role ID, and the `bao` and `arca` CLIs.

mod common;

use common::{Answer, Server, arca_status_for, call, call_with, run_arca, run_bao, servers};
use serde_json::{Value, json};

async fn ok(s: &Server, method: &str, path: &str, body: Option<Value>) -> Answer {
    let a = call(s, method, path, Some("root"), body).await;
    assert!(
        a.status < 300,
        "{} {method} {path}: {} {}",
        s.addr,
        a.status,
        a.body
    );
    a
}

async fn login(s: &Server, mount: &str, role_id: &str, secret_id: &str) -> Answer {
    call(
        s,
        "POST",
        &format!("auth/{mount}/login"),
        None,
        Some(json!({"role_id": role_id, "secret_id": secret_id})),
    )
    .await
}

/// Mounts approle at `approle/` with role `web`; returns its role ID.
async fn setup(s: &Server) -> String {
    ok(
        s,
        "POST",
        "sys/auth/approle",
        Some(json!({"type": "approle"})),
    )
    .await;
    ok(
        s,
        "POST",
        "auth/approle/role/web",
        Some(json!({"token_policies": "a", "token_ttl": "20m", "secret_id_ttl": "10m"})),
    )
    .await;
    let r = ok(s, "GET", "auth/approle/role/web/role-id", None).await;
    r.body["data"]["role_id"]
        .as_str()
        .expect("role_id")
        .to_string()
}

async fn secret_id(s: &Server, body: Value) -> String {
    let r = ok(s, "POST", "auth/approle/role/web/secret-id", Some(body)).await;
    r.body["data"]["secret_id"]
        .as_str()
        .expect("secret_id")
        .to_string()
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

async fn login_and_token(servers: &[Server; 2], role_ids: &[String]) {
    let mut shapes = Vec::new();
    for (s, role_id) in servers.iter().zip(role_ids) {
        let sid = secret_id(s, json!({"metadata": "{\"env\":\"prod\"}"})).await;
        let a = login(s, "approle", role_id, &sid).await;
        assert_eq!(a.status, 200, "{}: {}", s.addr, a.body);
        let auth = &a.body["auth"];
        assert_eq!(auth["policies"], json!(["a", "default"]), "{}", s.addr);
        assert_eq!(auth["metadata"], json!({"role_name": "web", "env": "prod"}));
        assert_eq!(auth["lease_duration"], 1200);
        let token = auth["client_token"].as_str().expect("token");
        let look = call(s, "GET", "auth/token/lookup-self", Some(token), None).await;
        assert_eq!(look.body["data"]["display_name"], "approle", "{}", s.addr);
        assert_eq!(look.body["data"]["path"], "auth/approle/login");
        let renew = call(s, "POST", "auth/token/renew-self", Some(token), None).await;
        assert_eq!(renew.status, 200, "{}: {}", s.addr, renew.body);
        let lookup = ok(
            s,
            "POST",
            "auth/approle/role/web/secret-id/lookup",
            Some(json!({"secret_id": sid})),
        )
        .await;
        shapes.push((keys(auth), keys(&lookup.body["data"])));
    }
    assert_eq!(shapes[0], shapes[1], "auth and secret-id lookup keys");
}

/// A one-use secret ID under two concurrent logins: exactly one wins.
async fn one_use(servers: &[Server; 2], role_ids: &[String]) {
    for (s, role_id) in servers.iter().zip(role_ids) {
        for _ in 0..5 {
            let sid = secret_id(s, json!({"num_uses": 1})).await;
            let (a, b) = tokio::join!(
                login(s, "approle", role_id, &sid),
                login(s, "approle", role_id, &sid)
            );
            let wins = [a.status, b.status].iter().filter(|c| **c == 200).count();
            assert_eq!(
                wins, 1,
                "{}: {} {} / {} {}",
                s.addr, a.status, a.body, b.status, b.body
            );
        }
    }
}

/// A secret ID handed out response-wrapped: unwrapped once, it logs in.
async fn wrapped(servers: &[Server; 2], role_ids: &[String]) {
    for (s, role_id) in servers.iter().zip(role_ids) {
        let w = call_with(
            s,
            "POST",
            "auth/approle/role/web/secret-id",
            Some("root"),
            &[("X-Vault-Wrap-TTL", "60")],
            None,
        )
        .await;
        assert_eq!(w.status, 200, "{}", w.body);
        let wrap_token = w.body["wrap_info"]["token"].as_str().expect("wrap token");
        assert_eq!(
            w.body["wrap_info"]["creation_path"],
            "auth/approle/role/web/secret-id"
        );
        let u = call(s, "POST", "sys/wrapping/unwrap", Some(wrap_token), None).await;
        assert_eq!(u.status, 200, "{}", u.body);
        let sid = u.body["data"]["secret_id"].as_str().expect("secret_id");
        assert_eq!(login(s, "approle", role_id, sid).await.status, 200);
    }
}

/// The errors for a role that does not exist, and for bad credentials, as OpenBao's.
async fn errors(servers: &[Server; 2], role_ids: &[String]) {
    let mut seen = Vec::new();
    for (i, (s, role_id)) in servers.iter().zip(role_ids).enumerate() {
        // OpenBao's 500s for bad input are Arca's 400s.
        let status = |st: u16| if i == 1 { arca_status_for(st) } else { st };
        let mut one = Vec::new();
        for (method, path, body) in [
            ("GET", "auth/approle/role/nope", None),
            ("GET", "auth/approle/role/nope/role-id", None),
            ("POST", "auth/approle/role/nope/secret-id", None),
            ("LIST", "auth/approle/role/nope/secret-id", None),
            (
                "POST",
                "auth/approle/role/nope/secret-id/lookup",
                Some(json!({"secret_id": "x"})),
            ),
            (
                "POST",
                "auth/approle/role/nope/custom-secret-id",
                Some(json!({"secret_id": "x"})),
            ),
        ] {
            let r = call(s, method, path, Some("root"), body).await;
            one.push((path, status(r.status), r.body["errors"].clone()));
        }
        for body in [
            json!({}),
            json!({"role_id": "no-such-role"}),
            json!({"role_id": role_id}),
            json!({"role_id": role_id, "secret_id": "wrong"}),
        ] {
            let r = call(s, "POST", "auth/approle/login", None, Some(body)).await;
            one.push(("login", status(r.status), r.body["errors"].clone()));
        }
        seen.push(one);
    }
    assert_eq!(seen[0], seen[1]);
}

/// Failed secret IDs count toward the role ID's lockout, as for userpass users.
async fn lockout(servers: &[Server; 2], role_ids: &[String]) {
    let mut seen = Vec::new();
    for (s, role_id) in servers.iter().zip(role_ids) {
        ok(
            s,
            "POST",
            "sys/auth/approle/tune",
            Some(json!({"user_lockout_config": {"lockout_threshold": "2"}})),
        )
        .await;
        let good = secret_id(s, json!({})).await;
        // A success first clears what earlier sections counted.
        assert_eq!(login(s, "approle", role_id, &good).await.status, 200);
        let mut one = Vec::new();
        for sid in ["bad1", "bad2", good.as_str()] {
            let r = login(s, "approle", role_id, sid).await;
            one.push((r.status, r.body["errors"].clone()));
        }
        let locked = ok(s, "GET", "sys/locked-users", None).await;
        let aliases =
            &locked.body["data"]["by_namespace"][0]["mount_accessors"][0]["alias_identifiers"];
        assert_eq!(aliases, &json!([role_id]), "{}: {}", s.addr, locked.body);
        seen.push(one);
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0][2].0, 403, "{:?}", seen[0]);
}

fn clis(arca: &Server, role_id: &str) {
    let root = Some("root");
    let (code, out, err) = run_bao(
        &arca.addr,
        root,
        &[
            "write",
            "-f",
            "-field=secret_id",
            "auth/approle/role/web/secret-id",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let sid = out.trim().to_string();
    let (code, out, err) = run_bao(
        &arca.addr,
        None,
        &[
            "write",
            "-format=json",
            "auth/approle/login",
            &format!("role_id={role_id}"),
            &format!("secret_id={sid}"),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["auth"]["metadata"]["role_name"], "web");
    let (code, out, err) = run_arca(
        &arca.addr,
        None,
        &[
            "login",
            "-method=approle",
            "-no-store",
            "-token-only",
            &format!("role_id={role_id}"),
            &format!("secret_id={sid}"),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.trim().starts_with("hvs."), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approle_end_to_end() {
    let servers = servers();
    let mut role_ids = Vec::new();
    for s in &servers {
        role_ids.push(setup(s).await);
    }
    login_and_token(&servers, &role_ids).await;
    one_use(&servers, &role_ids).await;
    wrapped(&servers, &role_ids).await;
    errors(&servers, &role_ids).await;
    tokio::task::block_in_place(|| clis(&servers[0], &role_ids[0]));
    lockout(&servers, &role_ids).await;
}
