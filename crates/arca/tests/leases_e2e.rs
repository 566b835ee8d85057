//! Leases against the real `arca` binary, side by side with a real OpenBao dev server where
//! the answer is observable the same way: token leases (the envelope of a token with a TTL,
//! expiry revoking the token without anyone looking it up, a parent's revocation taking its
//! children), and a restart over file storage keeping a token lease and expiring it later.

mod common;

use std::time::Duration;

use arca_testkit::wait_until_async;
use common::lease_plugin::{
    dev_with_lease_plugin_env, lease_plugin_cred, lease_plugin_revoked, lease_plugin_stat,
};
use common::{Server, bao_dev, call, create_token};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

/// The accessors `LIST auth/token/accessors` shows (read without touching the tokens, so a
/// token leaves the list only when something revoked it).
async fn accessors(server: &Server) -> Vec<String> {
    let r = call(server, "LIST", "auth/token/accessors", Some("root"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_value(r.body["data"]["keys"].clone()).expect("keys")
}

async fn wait_gone(server: &Server, accessor: &str, what: &str) {
    wait_until_async(what, WAIT, || async {
        (!accessors(server).await.iter().any(|a| a == accessor)).then_some(())
    })
    .await;
}

/// A token with a TTL answers its lease in `auth` and none in the envelope; when it runs
/// out the server revokes it by itself.
async fn token_lease_and_expiry(server: &Server) -> Value {
    let r = call(
        server,
        "POST",
        "auth/token/create",
        Some("root"),
        Some(json!({"ttl": "2s", "policies": ["default"]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let shape = json!({
        "lease_id": r.body["lease_id"],
        "renewable": r.body["renewable"],
        "lease_duration": r.body["lease_duration"],
        "auth.lease_duration": r.body["auth"]["lease_duration"],
        "auth.renewable": r.body["auth"]["renewable"],
    });
    let accessor = r.body["auth"]["accessor"]
        .as_str()
        .expect("accessor")
        .to_string();
    assert!(accessors(server).await.contains(&accessor));
    wait_gone(server, &accessor, "the expired token's revocation").await;
    shape
}

/// Revoking a parent revokes its children (and their leases); revoke-orphan keeps them.
async fn tree_revocation(server: &Server) {
    let (parent, _) = create_token(server, "root", json!({"ttl": "1h"})).await;
    let (_, child_acc) = create_token(server, &parent, json!({"ttl": "1h"})).await;
    let (keeper, _) = create_token(server, "root", json!({"ttl": "1h"})).await;
    let (_, kept_acc) = create_token(server, &keeper, json!({"ttl": "1h"})).await;
    let r = call(
        server,
        "POST",
        "auth/token/revoke-self",
        Some(&parent),
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    wait_gone(server, &child_acc, "the child's revocation").await;
    let r = call(
        server,
        "POST",
        "auth/token/revoke-orphan",
        Some("root"),
        Some(json!({"token": keeper})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(accessors(server).await.contains(&kept_acc));
}

async fn token_lease_ids(server: &Server) -> Vec<String> {
    let r = call(
        server,
        "LIST",
        "sys/leases/lookup/auth/token/create/",
        Some("root"),
        None,
    )
    .await;
    match r.status {
        404 => Vec::new(),
        200 => serde_json::from_value(r.body["data"]["keys"].clone()).expect("keys"),
        s => panic!("LIST token leases: {s} {}", r.body),
    }
}

/// A token's lease through `sys/leases`: listed while it lives, not renewable there (tokens
/// renew through `auth/token/renew*`), and revoking the lease revokes the token.
async fn token_lease_through_sys_leases(server: &Server) -> Vec<(u16, Value)> {
    let before = token_lease_ids(server).await;
    let (token, accessor) = create_token(server, "root", json!({"ttl": "1h"})).await;
    let after = token_lease_ids(server).await;
    let new: Vec<&String> = after.iter().filter(|id| !before.contains(id)).collect();
    assert_eq!(new.len(), 1, "{before:?} -> {after:?}");
    let lease_id = format!("auth/token/create/{}", new[0]);
    let mut answers = Vec::new();
    let r = call(
        server,
        "PUT",
        "sys/leases/renew",
        Some("root"),
        Some(json!({"lease_id": lease_id})),
    )
    .await;
    answers.push((r.status, r.body));
    let r = call(
        server,
        "PUT",
        "sys/leases/revoke",
        Some("root"),
        Some(json!({"lease_id": lease_id})),
    )
    .await;
    answers.push((r.status, r.body));
    let r = call(server, "GET", "auth/token/lookup-self", Some(&token), None).await;
    answers.push((r.status, r.body));
    assert!(!accessors(server).await.contains(&accessor));
    assert!(!token_lease_ids(server).await.contains(new[0]));

    // A root token without TTL has a lease that never expires.
    let before = token_lease_ids(server).await;
    create_token(server, "root", json!({"policies": ["root"]})).await;
    let after = token_lease_ids(server).await;
    let new: Vec<&String> = after.iter().filter(|id| !before.contains(id)).collect();
    assert_eq!(new.len(), 1, "{before:?} -> {after:?}");
    let r = call(
        server,
        "PUT",
        "sys/leases/lookup",
        Some("root"),
        Some(json!({"lease_id": format!("auth/token/create/{}", new[0])})),
    )
    .await;
    let mut data = r.body["data"].clone();
    for k in ["id", "issue_time"] {
        assert!(data[k].is_string(), "{data}");
        data[k] = json!("-");
    }
    answers.push((r.status, data));
    answers
}

#[tokio::test]
async fn token_leases_expire_and_die_with_their_parent_as_openbaos() {
    let (arca, bao) = (Server::dev(), bao_dev());
    let (a, b) = tokio::join!(token_lease_and_expiry(&arca), token_lease_and_expiry(&bao));
    assert_eq!(a, b);
    assert_eq!(
        a,
        json!({"lease_id": "", "renewable": false, "lease_duration": 0,
               "auth.lease_duration": 2, "auth.renewable": true})
    );
    tokio::join!(tree_revocation(&arca), tree_revocation(&bao));
    let (a, b) = tokio::join!(
        token_lease_through_sys_leases(&arca),
        token_lease_through_sys_leases(&bao)
    );
    assert_eq!(a, b);
    assert_eq!(
        a[0],
        (
            400,
            json!({"errors": ["tokens cannot be renewed through this endpoint"]})
        )
    );
}

#[tokio::test]
async fn a_restart_keeps_a_token_lease_and_expires_it_later() {
    let server = Server::with_file_storage(None);
    let init = call(
        &server,
        "PUT",
        "sys/init",
        None,
        Some(json!({"secret_shares": 1, "secret_threshold": 1})),
    )
    .await;
    assert_eq!(init.status, 200, "{}", init.body);
    let key = init.body["keys"][0].as_str().expect("key").to_string();
    let root = init.body["root_token"].as_str().expect("root").to_string();
    let unseal = |server: &Server| {
        let key = key.clone();
        let url = server.url("sys/unseal");
        async move {
            let r = common::client()
                .put(url)
                .json(&json!({ "key": key }))
                .send()
                .await
                .expect("unseal");
            assert_eq!(r.status().as_u16(), 200);
        }
    };
    unseal(&server).await;
    let r = call(
        &server,
        "POST",
        "auth/token/create",
        Some(&root),
        Some(json!({"ttl": "6s"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let created = std::time::Instant::now();
    let accessor = r.body["auth"]["accessor"]
        .as_str()
        .expect("accessor")
        .to_string();
    let dir = server.stop();
    let server = Server::with_file_storage(dir);
    unseal(&server).await;
    let list = |server: &Server| {
        let url = server.url("auth/token/accessors");
        let root = root.clone();
        async move {
            let r = common::client()
                .request(reqwest::Method::from_bytes(b"LIST").expect("LIST"), url)
                .header("X-Vault-Token", root)
                .send()
                .await
                .expect("list");
            let v: Value = r.json().await.expect("json");
            serde_json::from_value::<Vec<String>>(v["data"]["keys"].clone()).expect("keys")
        }
    };
    // Kept across the restart (when the restart beat its TTL), then revoked by the restored
    // timer without anyone looking the token up.
    let still_live = created.elapsed() < Duration::from_secs(5);
    if still_live {
        assert!(list(&server).await.contains(&accessor));
    }
    wait_until_async("the restored token lease's expiry", WAIT, || async {
        (!list(&server).await.contains(&accessor)).then_some(())
    })
    .await;
}

/// The dev server with the `lease_plugin` example mounted at `lease/`, its failed
/// revocations retried after about 2 × 100 ms, doubling.
fn plugin_server() -> Server {
    dev_with_lease_plugin_env(&[("ARCA_LEASE_REVOKE_RETRY_BASE", "100ms")])
}

async fn put(s: &Server, path: &str, body: Value) -> common::Answer {
    call(s, "PUT", path, Some("root"), Some(body)).await
}

async fn revoked(s: &Server) -> Vec<String> {
    lease_plugin_revoked(s, "root").await
}

async fn stat(s: &Server, name: &str) -> u64 {
    lease_plugin_stat(s, "root", name).await
}

/// A credential for `name`: its lease id and its username.
async fn lease_of(s: &Server, name: &str) -> (String, String) {
    let body = lease_plugin_cred(s, "root", name).await;
    let field = |v: &Value| v.as_str().expect("a string").to_string();
    (field(&body["lease_id"]), field(&body["data"]["username"]))
}

#[tokio::test]
async fn secret_leases_through_a_real_plugin_expire_renew_and_retry() {
    let s = plugin_server();
    let r = put(&s, "lease/config", json!({"ttl": 2, "max_ttl": 30})).await;
    assert_eq!(r.status, 204, "{}", r.body);

    // Issued with a lease the core minted.
    let body = lease_plugin_cred(&s, "root", "alice").await;
    let id = body["lease_id"].as_str().expect("lease id").to_string();
    let alice = body["data"]["username"]
        .as_str()
        .expect("username")
        .to_string();
    assert!(id.starts_with("lease/creds/alice/"), "{id}");
    assert!(alice.starts_with("alice-"), "{alice}");
    assert_eq!(
        (body["lease_duration"].clone(), body["renewable"].clone()),
        (json!(2), json!(true))
    );

    // Renewed through sys/leases/renew: the plugin's renew runs, the increment is honoured.
    let r = put(
        &s,
        "sys/leases/renew",
        json!({"lease_id": id, "increment": 3}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["lease_id"], json!(id));
    assert_eq!(r.body["lease_duration"], json!(3));
    assert_eq!(stat(&s, "renewals").await, 1);
    let r = put(&s, "sys/leases/lookup", json!({"lease_id": id})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["data"]["last_renewal"].is_string(), "{}", r.body);

    // Expiry calls the plugin's revoke; the lease is gone.
    wait_until_async("the plugin's revoke on expiry", WAIT, || async {
        revoked(&s).await.contains(&alice).then_some(())
    })
    .await;
    assert_eq!(stat(&s, "revoke_attempts").await, 1);
    let r = put(&s, "sys/leases/lookup", json!({"lease_id": id})).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (400, json!({"errors": ["invalid lease"]}))
    );

    // A failing revoke is retried with backoff, and succeeds once the plugin recovers.
    put(&s, "lease/config", json!({"ttl": 1, "fail_revoke": true})).await;
    let (bob_id, bob) = lease_of(&s, "bob").await;
    wait_until_async("two failed revoke attempts", WAIT, || async {
        (stat(&s, "revoke_attempts").await >= 3).then_some(())
    })
    .await;
    let r = put(&s, "sys/leases/lookup", json!({"lease_id": bob_id})).await;
    assert_eq!(
        r.status, 200,
        "the lease stays while its revoke fails: {}",
        r.body
    );
    assert!(!revoked(&s).await.contains(&bob));
    put(&s, "lease/config", json!({"ttl": 1, "fail_revoke": false})).await;
    wait_until_async("the retried revoke", WAIT, || async {
        revoked(&s).await.contains(&bob).then_some(())
    })
    .await;

    // A revoke that never succeeds: irrevocable after Vault's six attempts, listed and
    // counted with OpenBao's text, and only revoke-force removes it.
    put(&s, "lease/config", json!({"ttl": 1, "fail_revoke": true})).await;
    let (carol_id, carol) = lease_of(&s, "carol").await;
    let listed = wait_until_async("the irrevocable lease", WAIT, || async {
        let r = call(&s, "GET", "sys/leases?type=irrevocable", Some("root"), None).await;
        (r.body["data"]["lease_count"] == json!(1)).then_some(r.body)
    })
    .await;
    assert_eq!(listed["data"]["leases"][0]["lease_id"], json!(carol_id));
    assert_eq!(
        listed["data"]["leases"][0]["error"],
        json!(
            "out of retries: failed to revoke entry: resp: (*logical.Response)(nil) err: \
             revocation refused: fail_revoke is set"
        )
    );
    let r = call(
        &s,
        "GET",
        "sys/leases/count?type=irrevocable",
        Some("root"),
        None,
    )
    .await;
    assert_eq!(r.body["data"]["lease_count"], json!(1), "{}", r.body);
    let r = put(&s, "sys/leases/revoke-force/lease/creds/carol", json!({})).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = call(&s, "GET", "sys/leases?type=irrevocable", Some("root"), None).await;
    assert_eq!(r.body["data"]["lease_count"], json!(0), "{}", r.body);
    let r = put(&s, "sys/leases/lookup", json!({"lease_id": carol_id})).await;
    assert_eq!(r.status, 400);
    assert!(!revoked(&s).await.contains(&carol));
}
