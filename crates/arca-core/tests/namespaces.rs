//! Namespaces through the core's pipeline, with the physical storage in view: a namespace's
//! data lives under `namespaces/<uuid>/`, and deleting it (with 1,000 leases) leaves nothing
//! behind — no storage key, no token, no lease, no index entry.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use arca_core::{Core, CoreConfig};
use arca_sdk::{JsonMap, Operation, Response};
use arca_storage::{InmemBackend, PhysicalBackend};
use common::call_in;
use serde_json::json;

/// An unsealed core over storage the test can look into, its root token and unseal key.
async fn core() -> (Core, Arc<InmemBackend>, String, Vec<u8>) {
    let physical = Arc::new(InmemBackend::new());
    let core = Core::new(CoreConfig::new(physical.clone(), "inmem"));
    let init = core.initialize(1, 1, None).await.unwrap();
    core.unseal_with_key(&init.keys[0]).await.unwrap();
    let key = init.keys[0].to_vec();
    (core, physical, init.root_token.to_string(), key)
}

fn data(resp: Option<Response>) -> JsonMap {
    resp.and_then(|r| r.data).unwrap_or_default()
}

/// Every physical key under `prefix`, walking the tree.
async fn keys_under(physical: &InmemBackend, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![prefix.to_string()];
    while let Some(dir) = stack.pop() {
        for k in physical.list(&dir).await.unwrap() {
            let key = format!("{dir}{k}");
            if k.ends_with('/') {
                stack.push(key);
            } else {
                out.push(key);
            }
        }
    }
    out
}

#[tokio::test]
async fn deleting_a_namespace_with_a_thousand_leases_leaves_nothing_behind() {
    let (core, physical, root, _) = core().await;
    let ns = data(
        call_in(
            &core,
            "",
            Operation::Update,
            "sys/namespaces/team-a",
            json!({}),
            &root,
        )
        .await
        .unwrap(),
    );
    let uuid = ns["uuid"].as_str().unwrap().to_string();
    let id = ns["id"].as_str().unwrap().to_string();
    let prefix = format!("namespaces/{uuid}/");
    // Its tables, policies and mounts live under its prefix.
    let before = keys_under(&physical, &prefix).await;
    assert!(
        before.iter().any(|k| k.ends_with("core/mounts")),
        "{before:?}"
    );
    assert!(
        before.iter().any(|k| k.ends_with("sys/policy/default")),
        "{before:?}"
    );

    call_in(
        &core,
        "team-a/",
        Operation::Update,
        "sys/policies/acl/reader",
        json!({"policy": "path \"secret/*\" { capabilities = [\"read\"] }"}),
        &root,
    )
    .await
    .unwrap();
    // 1,000 tokens with a TTL: 1,000 leases in the namespace.
    let mut tokens = Vec::new();
    for _ in 0..1000 {
        let resp = call_in(
            &core,
            "team-a/",
            Operation::Update,
            "auth/token/create",
            json!({"ttl": "1h", "policies": ["default"]}),
            &root,
        )
        .await
        .unwrap()
        .unwrap();
        let token = resp.auth.unwrap().client_token.to_string();
        assert!(token.ends_with(&format!(".{id}")), "{token}");
        tokens.push(token);
    }
    let leases = data(
        call_in(
            &core,
            "team-a/",
            Operation::List,
            "sys/leases/lookup/auth/token/create/",
            json!({}),
            &root,
        )
        .await
        .unwrap(),
    );
    assert_eq!(leases["keys"].as_array().unwrap().len(), 1000);
    assert!(
        leases["keys"][0]
            .as_str()
            .unwrap()
            .ends_with(&format!(".{id}"))
    );

    let deleting = data(
        call_in(
            &core,
            "",
            Operation::Delete,
            "sys/namespaces/team-a",
            json!({}),
            &root,
        )
        .await
        .unwrap(),
    );
    assert_eq!(deleting["status"], "in-progress");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !keys_under(&physical, &prefix).await.is_empty()
        || core.leases().pending_count() > 0
        || !keys_under(&physical, "core/namespaces/").await.is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "deletion never finished"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // No token of it is left, nor any index naming one.
    for t in tokens.iter().take(20) {
        assert!(core.token_store().lookup(t).await.unwrap().is_none());
    }
    assert!(
        keys_under(&physical, "sys/token/namespace/")
            .await
            .is_empty()
    );
    assert!(keys_under(&physical, "sys/expire/token/").await.is_empty());
    // The namespace is gone: addressing it is 404, and a new one of the same name is empty.
    let gone = call_in(
        &core,
        "team-a/",
        Operation::Read,
        "secret/data/x",
        json!({}),
        &root,
    )
    .await;
    assert_eq!(gone.unwrap_err().status(), 404);
    call_in(
        &core,
        "",
        Operation::Update,
        "sys/namespaces/team-a",
        json!({}),
        &root,
    )
    .await
    .unwrap();
    let listed = call_in(
        &core,
        "team-a/",
        Operation::List,
        "sys/leases/lookup/auth/token/create/",
        json!({}),
        &root,
    )
    .await;
    assert!(listed.is_err() || data(listed.unwrap()).get("keys").is_none());
    let mounts = data(
        call_in(
            &core,
            "team-a/",
            Operation::Read,
            "sys/mounts",
            json!({}),
            &root,
        )
        .await
        .unwrap(),
    );
    assert!(mounts.get("secret/").is_none(), "{mounts:?}");
}

#[tokio::test]
async fn a_namespace_survives_a_seal_and_a_deletion_cut_by_a_seal_finishes_after_unseal() {
    let (core, physical, root, key) = core().await;
    call_in(
        &core,
        "",
        Operation::Update,
        "sys/namespaces/team-b",
        json!({"custom_metadata": {"k": "v"}}),
        &root,
    )
    .await
    .unwrap();
    call_in(
        &core,
        "team-b/",
        Operation::Update,
        "sys/policies/acl/reader",
        json!({"policy": "path \"secret/*\" { capabilities = [\"read\"] }"}),
        &root,
    )
    .await
    .unwrap();
    core.seal().await.unwrap();
    core.unseal_with_key(&key).await.unwrap();
    let ns = data(
        call_in(
            &core,
            "",
            Operation::Read,
            "sys/namespaces/team-b",
            json!({}),
            &root,
        )
        .await
        .unwrap(),
    );
    assert_eq!(ns["custom_metadata"], json!({"k": "v"}));
    let policy = data(
        call_in(
            &core,
            "team-b/",
            Operation::Read,
            "sys/policies/acl/reader",
            json!({}),
            &root,
        )
        .await
        .unwrap(),
    );
    assert!(policy["policy"].as_str().unwrap().contains("secret/*"));
    // The root namespace does not see team-b's policy.
    let root_policy = call_in(
        &core,
        "",
        Operation::Read,
        "sys/policies/acl/reader",
        json!({}),
        &root,
    )
    .await;
    assert!(root_policy.is_err() || root_policy.unwrap().is_none());

    let uuid = ns["uuid"].as_str().unwrap().to_string();
    call_in(
        &core,
        "",
        Operation::Delete,
        "sys/namespaces/team-b",
        json!({}),
        &root,
    )
    .await
    .unwrap();
    // Sealed at once: whatever the deletion had done, the next unseal finishes it.
    core.seal().await.unwrap();
    core.unseal_with_key(&key).await.unwrap();
    let prefix = format!("namespaces/{uuid}/");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !keys_under(&physical, &prefix).await.is_empty()
        || !keys_under(&physical, "core/namespaces/").await.is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "deletion never finished"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let read = call_in(
        &core,
        "",
        Operation::Read,
        "sys/namespaces/team-b",
        json!({}),
        &root,
    )
    .await
    .unwrap();
    assert!(read.is_none());
}

#[tokio::test]
async fn a_namespace_with_its_own_seal_starts_sealed_after_a_restart_and_opens_with_its_share() {
    let (core, _physical, root, key) = core().await;
    let created = data(
        call_in(
            &core,
            "",
            Operation::Update,
            "sys/namespaces/vault-of-b",
            json!({"seal": "seal \"shamir\" {\n shares = 1\n threshold = 1\n}"}),
            &root,
        )
        .await
        .unwrap(),
    );
    let share = created["key_shares"][0].as_str().unwrap().to_string();
    // It starts sealed.
    let sealed = call_in(
        &core,
        "vault-of-b/",
        Operation::Read,
        "sys/mounts",
        json!({}),
        &root,
    )
    .await
    .unwrap_err();
    assert_eq!(sealed.status(), 503);
    call_in(
        &core,
        "",
        Operation::Update,
        "sys/namespaces/vault-of-b/unseal",
        json!({ "key": share }),
        &root,
    )
    .await
    .unwrap();
    call_in(
        &core,
        "vault-of-b/",
        Operation::Update,
        "sys/policies/acl/reader",
        json!({"policy": "path \"secret/*\" { capabilities = [\"read\"] }"}),
        &root,
    )
    .await
    .unwrap();
    // A child inside it goes and comes back with it.
    call_in(
        &core,
        "vault-of-b/",
        Operation::Update,
        "sys/namespaces/inner",
        json!({}),
        &root,
    )
    .await
    .unwrap();
    core.seal().await.unwrap();
    core.unseal_with_key(&key).await.unwrap();
    for ns in ["vault-of-b/", "vault-of-b/inner/"] {
        let refused = call_in(
            &core,
            ns,
            Operation::Read,
            "sys/policies/acl/default",
            json!({}),
            &root,
        )
        .await;
        assert!(refused.is_err(), "{ns} answered while sealed");
    }
    let status = data(
        call_in(
            &core,
            "",
            Operation::Read,
            "sys/namespaces/vault-of-b/seal-status",
            json!({}),
            &root,
        )
        .await
        .unwrap(),
    );
    assert_eq!(status["sealed"], true);
    // A wrong share of the right length does not open it.
    let wrong = call_in(
        &core,
        "",
        Operation::Update,
        "sys/namespaces/vault-of-b/unseal",
        json!({ "key": "00".repeat(share.len() / 2) }),
        &root,
    )
    .await;
    assert!(wrong.is_err());
    call_in(
        &core,
        "",
        Operation::Update,
        "sys/namespaces/vault-of-b/unseal",
        json!({ "key": share }),
        &root,
    )
    .await
    .unwrap();
    let policy = data(
        call_in(
            &core,
            "vault-of-b/",
            Operation::Read,
            "sys/policies/acl/reader",
            json!({}),
            &root,
        )
        .await
        .unwrap(),
    );
    assert!(policy["policy"].as_str().unwrap().contains("secret/*"));
    let inner = call_in(
        &core,
        "vault-of-b/inner/",
        Operation::Read,
        "sys/policies/acl/default",
        json!({}),
        &root,
    )
    .await
    .unwrap();
    assert!(inner.is_some());
}
