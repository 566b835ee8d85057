//! The `lease_plugin` example, an external secrets engine written with the Rust plugin SDK, hosted
//! by the real `arca` binary over Vault's plugin protocol: its configuration, and a credential
//! read answering a renewable secret with the configured TTL whose internal data stays inside
//! the server; the core's lease for it renewed and revoked through `sys/leases/*` reaching the
//! SDK's secret-type handlers in the plugin, and a refused revocation, as OpenBao answers them
//! (`arca-plugin/tests/openbao.rs` runs the same plugin under OpenBao).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::lease_plugin::{
    LEASE_PLUGIN, configure_lease_plugin, dev_with_lease_plugin, lease_plugin_dir,
    lease_plugin_stat, mount_lease_plugin,
};
use common::{Server, call, init_unseal};
use serde_json::json;

#[tokio::test]
async fn a_plugin_credential_carries_a_renewable_secret_with_the_configured_ttl() {
    let s = dev_with_lease_plugin();
    let root = Some("root");

    let r = call(&s, "GET", "lease/config", root, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["data"],
        json!({"ttl": 0, "max_ttl": 0, "fail_revoke": false})
    );
    configure_lease_plugin(&s, "root", json!({"ttl": "30s", "max_ttl": 120})).await;
    let r = call(&s, "GET", "lease/config", root, None).await;
    assert_eq!(
        r.body["data"],
        json!({"ttl": 30, "max_ttl": 120, "fail_revoke": false})
    );
    let r = call(
        &s,
        "POST",
        "lease/config",
        root,
        Some(json!({"fail_revoke": "maybe"})),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);

    let r = call(&s, "GET", "lease/creds/x", root, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let username = r.body["data"]["username"].as_str().expect("username");
    assert!(username.starts_with("x-"), "{username}");
    assert_eq!(
        r.body["data"]["password"].as_str().map(str::len),
        Some(20),
        "{}",
        r.body
    );
    assert_eq!(r.body["renewable"], true, "{}", r.body);
    assert_eq!(r.body["lease_duration"], 30, "{}", r.body);
    let lease_id = r.body["lease_id"].as_str().expect("lease id").to_string();
    assert!(lease_id.starts_with("lease/creds/x/"), "{}", r.body);
    // The secret's internal data (`secret_type`, `username`) never reaches the client.
    let text = r.body.to_string();
    assert!(!text.contains("secret_type"), "{text}");
    assert!(!text.contains("internal"), "{text}");

    // Nothing is revoked nor renewed yet: an empty LIST is a 404 ...
    let r = call(&s, "LIST", "lease/revoked/", root, None).await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = call(&s, "GET", "lease/stats", root, None).await;
    assert_eq!(
        (r.status, &r.body["data"]),
        (200, &json!({"revoke_attempts": 0, "renewals": 0}))
    );
    // A plugin's read answered with nothing is OpenBao's bare 404, not a 204.
    for kind in ["revoked", "renewals"] {
        let r = call(&s, "GET", &format!("lease/{kind}/{username}"), root, None).await;
        assert_eq!(r.status, 404, "{kind}: {}", r.body);
        assert_eq!(r.body, json!({"errors": []}), "{kind}");
    }
}

#[tokio::test]
async fn the_plugin_is_registered_and_mounted_over_durable_storage() {
    let plugins = lease_plugin_dir();
    let s = Server::with_file_storage_and_plugins(None, Some(plugins.path()));
    let (_key, root) = init_unseal(&s).await;

    mount_lease_plugin(&s, &root, plugins.path()).await;
    configure_lease_plugin(&s, &root, json!({"ttl": 60})).await;
    let r = call(&s, "GET", "lease/creds/y", Some(&root), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["lease_duration"], 60, "{}", r.body);
    assert_eq!(r.body["renewable"], true, "{}", r.body);
    let m = call(
        &s,
        "GET",
        &format!("sys/mounts/{LEASE_PLUGIN}"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(m.body["data"]["type"], LEASE_PLUGIN, "{}", m.body);
}

#[tokio::test]
async fn the_cores_renew_and_revoke_reach_the_plugins_secret_type() {
    let s = dev_with_lease_plugin();
    let root = Some("root");
    configure_lease_plugin(&s, "root", json!({"ttl": 30, "max_ttl": 300})).await;
    let r = call(&s, "GET", "lease/creds/x", root, None).await;
    let lease_id = r.body["lease_id"].as_str().expect("lease id").to_string();
    let username = r.body["data"]["username"]
        .as_str()
        .expect("username")
        .to_string();

    let r = call(
        &s,
        "PUT",
        "sys/leases/renew",
        root,
        Some(json!({"lease_id": lease_id, "increment": 120})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["lease_id"], lease_id.as_str());
    assert_eq!(r.body["lease_duration"], 120, "{}", r.body);
    // What the plugin saw: OpenBao's renew sends the secret without its lease id, with the
    // lease's issue time and the increment asked.
    let seen = call(&s, "GET", &format!("lease/renewals/{username}"), root, None).await;
    assert_eq!(seen.body["data"]["count"], 1, "{}", seen.body);
    assert_eq!(seen.body["data"]["increment"], 120);
    assert_eq!(seen.body["data"]["lease_id"], "", "{}", seen.body);
    assert!(seen.body["data"]["issue_time"].is_string(), "{}", seen.body);
    assert_eq!(lease_plugin_stat(&s, "root", "renewals").await, 1);
    assert_eq!(lease_plugin_stat(&s, "root", "revoke_attempts").await, 0);

    configure_lease_plugin(&s, "root", json!({"fail_revoke": true})).await;
    let r = call(
        &s,
        "PUT",
        "sys/leases/revoke",
        root,
        Some(json!({"lease_id": lease_id, "sync": true})),
    )
    .await;
    // OpenBao 2.7.2's answer (its `revokeEntry` wraps the backend's error).
    assert_eq!(
        (r.status, r.body),
        (
            400,
            json!({"errors": ["failed to revoke entry: resp: (*logical.Response)(nil) err: \
                               revocation refused: fail_revoke is set"]})
        )
    );
    // The refused attempt reached the plugin and recorded nothing.
    assert_eq!(lease_plugin_stat(&s, "root", "revoke_attempts").await, 1);
    let r = call(&s, "LIST", "lease/revoked/", root, None).await;
    assert_eq!(r.status, 404, "{}", r.body);

    configure_lease_plugin(&s, "root", json!({"fail_revoke": false})).await;
    let r = call(
        &s,
        "PUT",
        "sys/leases/revoke",
        root,
        Some(json!({"lease_id": lease_id, "sync": true})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    // What the plugin saw: the lease id, the path, and the renewal's (empty) data in place of
    // the data the lease was issued with, as OpenBao's RenewLease leaves it.
    let rec = call(&s, "GET", &format!("lease/revoked/{username}"), root, None).await;
    assert_eq!(rec.status, 200, "{}", rec.body);
    assert_eq!(
        rec.body["data"],
        json!({"username": username, "count": 1, "lease_id": lease_id, "path": "creds/x",
               "data_username": ""})
    );
    assert_eq!(lease_plugin_stat(&s, "root", "revoke_attempts").await, 2);
    let r = call(
        &s,
        "PUT",
        "sys/leases/lookup",
        root,
        Some(json!({"lease_id": lease_id})),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
}
