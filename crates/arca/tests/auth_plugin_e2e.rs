//! Issue 15: an auth method served as an external plugin (`userpass_plugin`, Arca's userpass
//! behind the plugin protocol, mounted by `-dev-plugin-dir`) logs users in through the host's
//! core: the token it mints, its renewal through the plugin, and lockout, which asks the plugin
//! for the alias first.

mod common;

use common::{Server, call, example_binary};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auth_plugin_logs_users_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        example_binary("userpass_plugin"),
        dir.path().join("userpass_plugin"),
    )
    .expect("copy plugin");
    let arca = Server::dev_with_plugins(dir.path());
    let mounts = call(&arca, "GET", "sys/auth", Some("root"), None).await;
    assert_eq!(
        mounts.body["data"]["userpass_plugin/"]["type"], "userpass_plugin",
        "{}",
        mounts.body
    );
    let r = call(
        &arca,
        "POST",
        "auth/userpass_plugin/users/dana",
        Some("root"),
        Some(json!({"password": "pw", "token_policies": "p1", "token_ttl": 600})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let login = call(
        &arca,
        "POST",
        "auth/userpass_plugin/login/dana",
        None,
        Some(json!({"password": "pw"})),
    )
    .await;
    assert_eq!(login.status, 200, "{}", login.body);
    let auth = &login.body["auth"];
    assert_eq!(auth["policies"], json!(["default", "p1"]));
    assert_eq!(auth["lease_duration"], 600);
    let token = auth["client_token"].as_str().expect("token");
    let look = call(&arca, "GET", "auth/token/lookup-self", Some(token), None).await;
    assert_eq!(look.body["data"]["display_name"], "userpass_plugin-dana");
    assert_eq!(look.body["data"]["meta"], json!({"username": "dana"}));
    let renew = call(&arca, "POST", "auth/token/renew-self", Some(token), None).await;
    assert_eq!(renew.status, 200, "{}", renew.body);
    assert_eq!(renew.body["auth"]["lease_duration"], 600);

    // Lockout applies by the method's type only (`userpass`, `approle`, `ldap`): a plugin of
    // another name is never locked, as in OpenBao.
    for _ in 0..6 {
        let bad = call(
            &arca,
            "POST",
            "auth/userpass_plugin/login/dana",
            None,
            Some(json!({"password": "wrong"})),
        )
        .await;
        assert_eq!(bad.status, 400, "{}", bad.body);
        assert_eq!(bad.body["errors"], json!(["invalid username or password"]));
    }
    let again = call(
        &arca,
        "POST",
        "auth/userpass_plugin/login/dana",
        None,
        Some(json!({"password": "pw"})),
    )
    .await;
    assert_eq!(again.status, 200, "{}", again.body);
}
