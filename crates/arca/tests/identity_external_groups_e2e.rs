//! Issue 16, point 2: external groups follow the groups an auth method reports. The method is
//! the `auth_plugin` example served as an external plugin (no builtin method of Arca reports
//! groups yet): its login names the user as the alias and its configured groups as group
//! aliases, and its renewal reads the groups again. A login joins the external groups whose
//! group alias names one of them on that mount; a renewal after the groups changed leaves the
//! old ones and joins the new; internal groups and other mounts' external groups are never
//! touched; a group's policies reach the token through `identity_policies` and the ACL.

mod common;

use common::{Answer, Server, call, example_binary};
use serde_json::{Value, json};

async fn ok(s: &Server, method: &str, path: &str, body: Option<Value>) -> Answer {
    let a = call(s, method, path, Some("root"), body).await;
    assert!(a.status < 300, "{method} {path}: {} {}", a.status, a.body);
    a
}

async fn group(s: &Server, name: &str, kind: &str, policy: &str) -> String {
    let a = ok(
        s,
        "POST",
        "identity/group",
        Some(json!({"name": name, "type": kind, "policies": policy})),
    )
    .await;
    a.body["data"]["id"].as_str().expect("group id").to_string()
}

async fn members(s: &Server, id: &str) -> Value {
    let a = ok(s, "GET", &format!("identity/group/id/{id}"), None).await;
    // OpenBao shows a group that never had members with `null`.
    match &a.body["data"]["member_entity_ids"] {
        Value::Null => json!([]),
        v => v.clone(),
    }
}

async fn configure(s: &Server, groups: &str) {
    ok(
        s,
        "POST",
        "auth/auth_plugin/config",
        Some(json!({"username": "dana", "password": "pw", "groups": groups})),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_groups_follow_the_methods_groups_at_login_and_renewal() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        example_binary("auth_plugin"),
        dir.path().join("auth_plugin"),
    )
    .expect("copy plugin");
    let arca = Server::dev_with_plugins(dir.path());
    let auths = ok(&arca, "GET", "sys/auth", None).await;
    let plugin = auths.body["data"]["auth_plugin/"]["accessor"]
        .as_str()
        .expect("plugin mount accessor")
        .to_string();
    let token_mount = auths.body["data"]["token/"]["accessor"]
        .as_str()
        .expect("token mount accessor")
        .to_string();
    ok(
        &arca,
        "PUT",
        "sys/policies/acl/p-ops",
        Some(json!({"policy": "path \"secret/ops/*\" { capabilities = [\"read\"] }"})),
    )
    .await;

    let eng = group(&arca, "ext-eng", "external", "p-eng").await;
    let ops = group(&arca, "ext-ops", "external", "p-ops").await;
    let sales = group(&arca, "ext-sales", "external", "p-sales").await;
    for (name, id) in [("eng", &eng), ("ops", &ops), ("sales", &sales)] {
        ok(
            &arca,
            "POST",
            "identity/group-alias",
            Some(json!({"name": name, "mount_accessor": plugin, "canonical_id": id})),
        )
        .await;
    }
    // An external group of another mount that also names "eng": a login here never joins
    // it, nor leaves it.
    let elsewhere = group(&arca, "ext-elsewhere", "external", "p-elsewhere").await;
    ok(
        &arca,
        "POST",
        "identity/group-alias",
        Some(json!({"name": "eng", "mount_accessor": token_mount, "canonical_id": elsewhere})),
    )
    .await;

    configure(&arca, "eng,ops,unknown").await;
    let login = call(
        &arca,
        "POST",
        "auth/auth_plugin/login",
        None,
        Some(json!({"username": "dana", "password": "pw"})),
    )
    .await;
    assert_eq!(login.status, 200, "{}", login.body);
    let entity = login.body["auth"]["entity_id"]
        .as_str()
        .expect("entity id")
        .to_string();
    assert!(!entity.is_empty(), "{}", login.body);
    assert_eq!(
        login.body["auth"]["identity_policies"],
        json!(["p-eng", "p-ops"]),
        "{}",
        login.body
    );
    let token = login.body["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    assert_eq!(members(&arca, &eng).await, json!([entity]));
    assert_eq!(members(&arca, &ops).await, json!([entity]));
    assert_eq!(members(&arca, &sales).await, json!([]));
    assert_eq!(members(&arca, &elsewhere).await, json!([]));
    let e = ok(&arca, "GET", &format!("identity/entity/id/{entity}"), None).await;
    let mut direct: Vec<String> =
        serde_json::from_value(e.body["data"]["direct_group_ids"].clone())
            .expect("direct_group_ids");
    direct.sort();
    let mut want = vec![eng.clone(), ops.clone()];
    want.sort();
    assert_eq!(direct, want, "{}", e.body);

    // The group's policy reaches the ACL: p-ops grants the read.
    let caps = call(
        &arca,
        "POST",
        "sys/capabilities-self",
        Some(&token),
        Some(json!({"path": "secret/ops/x"})),
    )
    .await;
    assert_eq!(caps.body["capabilities"], json!(["read"]), "{}", caps.body);

    // An internal group the entity was put in by hand, and the other mount's external group
    // made to hold the entity, are left as they are by the renewal below.
    let internal = group(&arca, "int-staff", "internal", "p-staff").await;
    ok(
        &arca,
        "POST",
        &format!("identity/group/id/{internal}"),
        Some(json!({"member_entity_ids": [entity]})),
    )
    .await;

    // The method now reports other groups: a renewal moves the entity.
    configure(&arca, "ops,sales").await;
    let renew = call(&arca, "POST", "auth/token/renew-self", Some(&token), None).await;
    assert_eq!(renew.status, 200, "{}", renew.body);
    assert_eq!(members(&arca, &eng).await, json!([]));
    assert_eq!(members(&arca, &ops).await, json!([entity]));
    assert_eq!(members(&arca, &sales).await, json!([entity]));
    assert_eq!(members(&arca, &internal).await, json!([entity]));
    let look = call(&arca, "GET", "auth/token/lookup-self", Some(&token), None).await;
    assert_eq!(
        look.body["data"]["identity_policies"],
        json!(["p-ops", "p-sales", "p-staff"]),
        "{}",
        look.body
    );

    // No groups at all: the next login leaves this mount's external groups, nothing else.
    configure(&arca, "").await;
    let again = call(
        &arca,
        "POST",
        "auth/auth_plugin/login",
        None,
        Some(json!({"username": "dana", "password": "pw"})),
    )
    .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["auth"]["entity_id"], json!(entity));
    assert_eq!(members(&arca, &ops).await, json!([]));
    assert_eq!(members(&arca, &sales).await, json!([]));
    assert_eq!(members(&arca, &internal).await, json!([entity]));
    assert_eq!(
        again.body["auth"]["identity_policies"],
        json!(["p-staff"]),
        "{}",
        again.body
    );
}
