//! Token store behaviour through the core's request pipeline: create variants, lookups,
//! renewals, revocation (tree and orphan), limited tokens refused outside their policy,
//! use counts, batch tokens, roles, accessors and the cubbyhole hook.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

mod common;

use arca_core::Core;
use arca_sdk::{JsonMap, LogicalError, Operation, Response};
use common::{call, core};
use parking_lot::Mutex;
use serde_json::{Value, json};

async fn create(core: &Core, token: &str, path: &str, body: Value) -> (String, arca_sdk::Auth) {
    let r = call(core, Operation::Update, path, body, token)
        .await
        .unwrap()
        .unwrap();
    let auth = r.auth.unwrap();
    (auth.client_token.to_string(), auth)
}

fn data(r: Option<Response>) -> JsonMap {
    r.unwrap().data.unwrap()
}

async fn policy(core: &Core, root: &str, name: &str, text: &str) {
    call(
        core,
        Operation::Update,
        &format!("sys/policies/acl/{name}"),
        json!({ "policy": text }),
        root,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn create_fills_every_auth_field_and_lookup_matches() {
    let (core, root) = core().await;
    let (t, auth) = create(
        &core,
        &root,
        "auth/token/create",
        json!({"policies": ["p1"], "ttl": "1h", "meta": {"a": "b"}, "display_name": "Foo Bar", "num_uses": 5, "explicit_max_ttl": "2h"}),
    )
    .await;
    assert!(t.starts_with("hvs.") && t.len() == 28, "{t}");
    assert_eq!(auth.policies, vec!["default", "p1"]);
    assert_eq!(auth.token_policies, auth.policies);
    assert_eq!(auth.metadata.get("a").map(String::as_str), Some("b"));
    assert_eq!(auth.lease.ttl.as_secs(), 3600);
    assert!(auth.lease.renewable);
    assert_eq!(auth.token_type, "service");
    assert!(!auth.orphan);
    assert_eq!(auth.num_uses, 5);
    assert_eq!(auth.accessor.len(), 24);

    let d = data(
        call(
            &core,
            Operation::Update,
            "auth/token/lookup",
            json!({"token": t}),
            &root,
        )
        .await
        .unwrap(),
    );
    assert_eq!(d["display_name"], "token-Foo-Bar");
    assert_eq!(d["id"], json!(t));
    assert_eq!(d["accessor"], json!(auth.accessor));
    assert_eq!(d["creation_ttl"], 3600);
    assert_eq!(d["explicit_max_ttl"], 7200);
    assert_eq!(d["num_uses"], 5);
    assert_eq!(d["path"], "auth/token/create");
    assert_eq!(d["type"], "service");
    assert!(d["ttl"].as_u64().unwrap() > 3590);
    assert!(d.get("cubbyhole_id").is_none());

    // lookup-self spends a use, and shows the count after it.
    let d = data(
        call(
            &core,
            Operation::Read,
            "auth/token/lookup-self",
            json!({}),
            &t,
        )
        .await
        .unwrap(),
    );
    assert_eq!(d["num_uses"], 4);

    // By accessor: no id.
    let d = data(
        call(
            &core,
            Operation::Update,
            "auth/token/lookup-accessor",
            json!({"accessor": auth.accessor}),
            &root,
        )
        .await
        .unwrap(),
    );
    assert_eq!(d["id"], "");
}

#[tokio::test]
async fn error_texts_match_openbao() {
    let (core, root) = core().await;
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "auth/token/lookup",
            json!({"token": "nope"}),
            403,
            "bad token",
        ),
        (
            "auth/token/lookup-accessor",
            json!({"accessor": "nope"}),
            400,
            "invalid accessor",
        ),
        (
            "auth/token/lookup-accessor",
            json!({}),
            400,
            "missing accessor",
        ),
        ("auth/token/renew", json!({}), 400, "missing token ID"),
        (
            "auth/token/renew",
            json!({"token": "zz"}),
            400,
            "token not found",
        ),
        (
            "auth/token/renew-self",
            json!({}),
            400,
            "lease is not renewable",
        ),
        ("auth/token/revoke", json!({}), 400, "missing token ID"),
        (
            "auth/token/revoke-orphan",
            json!({"token": "zz"}),
            400,
            "token to revoke not found",
        ),
        (
            "auth/token/create",
            json!({"id": "hvs.abc"}),
            400,
            "custom token ID cannot have the 'hvs.' prefix",
        ),
        (
            "auth/token/create",
            json!({"id": "a.b"}),
            400,
            "custom token ID cannot have a '.' in the value",
        ),
        (
            "auth/token/create",
            json!({"num_uses": -1}),
            400,
            "number of uses cannot be negative",
        ),
        (
            "auth/token/create",
            json!({"type": "weird"}),
            400,
            "invalid 'token_type' value",
        ),
        (
            "auth/token/create",
            json!({"type": "batch", "num_uses": 3}),
            400,
            "batch tokens cannot have \"num_uses\" set",
        ),
        (
            "auth/token/create",
            json!({"type": "batch", "policies": ["root"]}),
            400,
            "batch tokens cannot be root tokens",
        ),
        (
            "auth/token/create",
            json!({"entity_alias": "x"}),
            400,
            "'entity_alias' is only allowed in combination with token role",
        ),
        (
            "auth/token/create/nope",
            json!({}),
            400,
            "unknown role nope",
        ),
        (
            "auth/token/create",
            json!({"ttl": "-5s"}),
            400,
            "ttl must be positive",
        ),
    ];
    for (path, body, status, text) in cases {
        let e = call(&core, Operation::Update, path, body.clone(), &root)
            .await
            .unwrap_err();
        assert_eq!(e.status(), status, "{path} {body}");
        assert_eq!(e.to_string(), text, "{path} {body}");
    }
    // Revoking an unknown token and an unknown accessor are not errors.
    assert!(
        call(
            &core,
            Operation::Update,
            "auth/token/revoke",
            json!({"token": "zz"}),
            &root
        )
        .await
        .unwrap()
        .is_none()
    );
    let r = call(
        &core,
        Operation::Update,
        "auth/token/revoke-accessor",
        json!({"accessor": "zz"}),
        &root,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(r.warnings, vec!["No token found with this accessor"]);
}

#[tokio::test]
async fn limited_token_is_refused_outside_its_policy() {
    let (core, root) = core().await;
    policy(
        &core,
        &root,
        "reader",
        r#"path "sys/policies/acl/*" { capabilities = ["read"] }"#,
    )
    .await;
    let (t, _) = create(
        &core,
        &root,
        "auth/token/create",
        json!({"policies": ["reader"]}),
    )
    .await;
    // Inside the policy.
    assert!(
        call(
            &core,
            Operation::Read,
            "sys/policies/acl/reader",
            json!({}),
            &t
        )
        .await
        .is_ok()
    );
    // Outside it: writes, other paths, creating tokens, sudo endpoints.
    for (op, path, body) in [
        (
            Operation::Update,
            "sys/policies/acl/reader",
            json!({"policy": "path \"a\" {capabilities=[\"read\"]}"}),
        ),
        (Operation::Read, "sys/mounts", json!({})),
        (Operation::Update, "auth/token/create", json!({})),
        (Operation::List, "auth/token/accessors", json!({})),
    ] {
        // A known token the ACL refuses: OpenBao's multierror-wrapped text.
        let e = call(&core, op, path, body, &t).await.unwrap_err();
        assert_eq!(
            (e.status(), e.wire_messages()),
            (
                403,
                vec!["1 error occurred:\n\t* permission denied\n\n".to_string()]
            ),
            "{path}"
        );
    }
    // default policy paths work.
    assert!(
        call(
            &core,
            Operation::Read,
            "auth/token/lookup-self",
            json!({}),
            &t
        )
        .await
        .is_ok()
    );
    // Garbage token.
    let e = call(
        &core,
        Operation::Read,
        "sys/policies/acl/reader",
        json!({}),
        "hvs.nope",
    )
    .await
    .unwrap_err();
    assert_eq!(e, LogicalError::PermissionDenied);
}

#[tokio::test]
async fn child_policies_and_sudo_rules() {
    let (core, root) = core().await;
    policy(
        &core,
        &root,
        "maker",
        r#"path "auth/token/create*" { capabilities = ["update"] }"#,
    )
    .await;
    let (maker, _) = create(
        &core,
        &root,
        "auth/token/create",
        json!({"policies": ["maker"]}),
    )
    .await;
    let cases: Vec<(Value, Result<Vec<&str>, &str>)> = vec![
        (json!({}), Ok(vec!["default", "maker"])),
        (
            json!({"policies": ["maker"], "no_default_policy": true}),
            Ok(vec!["maker"]),
        ),
        (
            json!({"policies": ["other"]}),
            Err("child policies must be subset of parent"),
        ),
        (
            json!({"policies": ["root"]}),
            Err("child policies must be subset of parent"),
        ),
        (
            json!({"no_parent": true}),
            Err("root or sudo privileges required to create orphan token"),
        ),
        (
            json!({"period": "1h"}),
            Err("root or sudo privileges required to create periodic token"),
        ),
        (
            json!({"id": "custom"}),
            Err("root or sudo privileges required to specify token id"),
        ),
    ];
    for (body, want) in cases {
        let r = call(
            &core,
            Operation::Update,
            "auth/token/create",
            body.clone(),
            &maker,
        )
        .await;
        match want {
            Ok(p) => assert_eq!(r.unwrap().unwrap().auth.unwrap().policies, p, "{body}"),
            Err(t) => assert_eq!(r.unwrap_err().to_string(), t, "{body}"),
        }
    }
    // A limited-use token cannot make children.
    let (limited, _) = create(
        &core,
        &root,
        "auth/token/create",
        json!({"policies": ["maker"], "num_uses": 3}),
    )
    .await;
    let e = call(
        &core,
        Operation::Update,
        "auth/token/create",
        json!({}),
        &limited,
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "restricted use token cannot generate child tokens"
    );
    // Root may do all of it; a custom id warns.
    let r = call(
        &core,
        Operation::Update,
        "auth/token/create",
        json!({"id": "mytoken", "policies": ["x"], "period": "2h"}),
        &root,
    )
    .await
    .unwrap()
    .unwrap();
    let a = r.auth.unwrap();
    assert_eq!(a.client_token.as_str(), "mytoken");
    assert_eq!(a.lease.ttl.as_secs(), 7200);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.starts_with("Supplying a custom ID"))
    );
    assert!(
        r.warnings
            .contains(&"Policy \"x\" does not exist".to_string())
    );
}

#[tokio::test]
async fn revoking_a_parent_revokes_children_but_revoke_orphan_does_not() {
    let (core, root) = core().await;
    let (parent, _) = create(
        &core,
        &root,
        "auth/token/create",
        json!({"policies": ["default"]}),
    )
    .await;
    let (child, _) = create(&core, &root, "auth/token/create", json!({})).await;
    let _ = child;
    // Children of `parent` (made with parent's token; default lets nobody create, so use root
    // policies via a sudo parent instead).
    let (p2, _) = create(
        &core,
        &root,
        "auth/token/create",
        json!({"policies": ["root"]}),
    )
    .await;
    let (c2, _) = create(&core, &p2, "auth/token/create", json!({})).await;
    let (gc2, _) = create(&core, &c2, "auth/token/create", json!({})).await;
    let (orphan, oa) = create(&core, &p2, "auth/token/create-orphan", json!({})).await;
    assert!(oa.orphan);
    call(
        &core,
        Operation::Update,
        "auth/token/revoke",
        json!({"token": p2}),
        &root,
    )
    .await
    .unwrap();
    for t in [&p2, &c2, &gc2] {
        let e = call(
            &core,
            Operation::Update,
            "auth/token/lookup",
            json!({"token": t}),
            &root,
        )
        .await
        .unwrap_err();
        assert_eq!(e.to_string(), "bad token");
    }
    assert!(
        call(
            &core,
            Operation::Update,
            "auth/token/lookup",
            json!({"token": orphan}),
            &root
        )
        .await
        .is_ok()
    );

    let (p3, _) = create(
        &core,
        &root,
        "auth/token/create",
        json!({"policies": ["root"]}),
    )
    .await;
    let (c3, _) = create(&core, &p3, "auth/token/create", json!({})).await;
    call(
        &core,
        Operation::Update,
        "auth/token/revoke-orphan",
        json!({"token": p3}),
        &root,
    )
    .await
    .unwrap();
    assert!(
        call(
            &core,
            Operation::Update,
            "auth/token/lookup",
            json!({"token": p3}),
            &root
        )
        .await
        .is_err()
    );
    let d = data(
        call(
            &core,
            Operation::Update,
            "auth/token/lookup",
            json!({"token": c3}),
            &root,
        )
        .await
        .unwrap(),
    );
    assert_eq!(d["orphan"], true);
    assert!(
        call(
            &core,
            Operation::Update,
            "auth/token/lookup",
            json!({"token": parent}),
            &root
        )
        .await
        .is_ok()
    );

    // revoke-self and revoke-accessor.
    let (s, sa) = create(&core, &root, "auth/token/create", json!({})).await;
    call(
        &core,
        Operation::Update,
        "auth/token/revoke-self",
        json!({}),
        &s,
    )
    .await
    .unwrap();
    assert!(
        core.token_store()
            .lookup_accessor(&sa.accessor)
            .await
            .unwrap()
            .is_none()
    );
    let (_, aa) = create(&core, &root, "auth/token/create", json!({})).await;
    call(
        &core,
        Operation::Update,
        "auth/token/revoke-accessor",
        json!({"accessor": aa.accessor}),
        &root,
    )
    .await
    .unwrap();
    assert!(
        core.token_store()
            .lookup_accessor(&aa.accessor)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn renewals_respect_increment_and_max() {
    let (core, root) = core().await;
    let (t, a) = create(
        &core,
        &root,
        "auth/token/create",
        json!({"ttl": "1h", "explicit_max_ttl": "2h"}),
    )
    .await;
    let r = call(
        &core,
        Operation::Update,
        "auth/token/renew",
        json!({"token": t, "increment": "30m"}),
        &root,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(r.auth.unwrap().lease.ttl.as_secs(), 1800);
    let r = call(
        &core,
        Operation::Update,
        "auth/token/renew-self",
        json!({"increment": "10h"}),
        &t,
    )
    .await
    .unwrap()
    .unwrap();
    let ttl = r.auth.unwrap().lease.ttl.as_secs();
    assert!((7190..=7200).contains(&ttl), "{ttl}");
    assert!(r.warnings[0].starts_with("TTL of \"10h\" exceeded the effective max_ttl of"));
    let r = call(
        &core,
        Operation::Update,
        "auth/token/renew-accessor",
        json!({"accessor": a.accessor}),
        &root,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(r.auth.unwrap().lease.ttl.as_secs(), 3600);
    let d = data(
        call(
            &core,
            Operation::Update,
            "auth/token/lookup",
            json!({"token": t}),
            &root,
        )
        .await
        .unwrap(),
    );
    assert!(d.contains_key("last_renewal_time"));
    // Non-renewable tokens refuse.
    let (nr, _) = create(
        &core,
        &root,
        "auth/token/create",
        json!({"renewable": false}),
    )
    .await;
    let e = call(
        &core,
        Operation::Update,
        "auth/token/renew-self",
        json!({}),
        &nr,
    )
    .await
    .unwrap_err();
    assert_eq!(e.to_string(), "lease is not renewable");
}

#[tokio::test]
async fn ttls_are_capped_by_the_system_max() {
    let (core, root) = core().await;
    let (_, a) = create(&core, &root, "auth/token/create", json!({"ttl": "10000h"})).await;
    assert_eq!(a.lease.ttl.as_secs(), 768 * 3600);
    let (_, a) = create(
        &core,
        &root,
        "auth/token/create",
        json!({"policies": ["x"]}),
    )
    .await;
    assert_eq!(a.lease.ttl.as_secs(), 768 * 3600);
    // Root children of root: no TTL, not renewable.
    let (_, a) = create(&core, &root, "auth/token/create", json!({})).await;
    assert_eq!(a.lease.ttl.as_secs(), 0);
    assert!(!a.lease.renewable);
}

#[tokio::test]
async fn use_counts_run_out() {
    let (core, root) = core().await;
    let (t, _) = create(
        &core,
        &root,
        "auth/token/create",
        json!({"policies": ["default"], "num_uses": 2}),
    )
    .await;
    assert!(
        call(
            &core,
            Operation::Read,
            "auth/token/lookup-self",
            json!({}),
            &t
        )
        .await
        .is_ok()
    );
    // The last use is served...
    let d = data(
        call(
            &core,
            Operation::Read,
            "auth/token/lookup-self",
            json!({}),
            &t,
        )
        .await
        .unwrap(),
    );
    assert_eq!(d["num_uses"], 0);
    // ...and then the token is gone.
    let e = call(
        &core,
        Operation::Read,
        "auth/token/lookup-self",
        json!({}),
        &t,
    )
    .await
    .unwrap_err();
    assert_eq!(e, LogicalError::PermissionDenied);
}

#[tokio::test]
async fn batch_tokens_are_sealed_blobs() {
    let (core, root) = core().await;
    let (t, a) = create(
        &core,
        &root,
        "auth/token/create",
        json!({"type": "batch", "policies": ["default"], "ttl": "1h"}),
    )
    .await;
    assert!(t.starts_with("hvb."), "{t}");
    assert_eq!(a.token_type, "batch");
    assert_eq!(a.accessor, "");
    assert!(!a.lease.renewable);
    let d = data(
        call(
            &core,
            Operation::Read,
            "auth/token/lookup-self",
            json!({}),
            &t,
        )
        .await
        .unwrap(),
    );
    assert_eq!(d["type"], "batch");
    assert_eq!(d["policies"], json!(["default"]));
    let e = call(
        &core,
        Operation::Update,
        "auth/token/revoke",
        json!({"token": t}),
        &root,
    )
    .await
    .unwrap_err();
    assert_eq!(e.to_string(), "batch tokens cannot be revoked");
    let e = call(
        &core,
        Operation::Update,
        "auth/token/renew",
        json!({"token": t}),
        &root,
    )
    .await
    .unwrap_err();
    assert_eq!(e.to_string(), "batch tokens cannot be renewed");
    // Tampering breaks it.
    let mut bad = t.clone();
    let last = bad.pop().unwrap();
    bad.push(if last == 'A' { 'B' } else { 'A' });
    assert!(core.token_store().lookup(&bad).await.unwrap().is_none());
    // Batch tokens cannot create tokens.
    policy(
        &core,
        &root,
        "maker",
        r#"path "auth/token/create" { capabilities = ["update"] }"#,
    )
    .await;
    let (bt, _) = create(
        &core,
        &root,
        "auth/token/create",
        json!({"type": "batch", "policies": ["maker"]}),
    )
    .await;
    let e = call(
        &core,
        Operation::Update,
        "auth/token/create",
        json!({}),
        &bt,
    )
    .await
    .unwrap_err();
    assert_eq!(e.to_string(), "batch tokens cannot create more tokens");
    // A batch token dies with its parent.
    let (p, _) = create(
        &core,
        &root,
        "auth/token/create",
        json!({"policies": ["maker"]}),
    )
    .await;
    let (bc, _) = create(&core, &p, "auth/token/create", json!({"type": "batch"})).await;
    assert!(core.token_store().lookup(&bc).await.unwrap().is_some());
    call(
        &core,
        Operation::Update,
        "auth/token/revoke",
        json!({"token": p}),
        &root,
    )
    .await
    .unwrap();
    assert!(core.token_store().lookup(&bc).await.unwrap().is_none());
}

#[tokio::test]
async fn roles_crud_and_create_by_role() {
    let (core, root) = core().await;
    call(&core, Operation::Update, "auth/token/roles/r1", json!({"allowed_policies": ["p1", "p2"], "orphan": true, "token_period": "1h", "token_type": "service", "path_suffix": "sfx"}), &root)
        .await
        .unwrap();
    let d = data(
        call(
            &core,
            Operation::Read,
            "auth/token/roles/r1",
            json!({}),
            &root,
        )
        .await
        .unwrap(),
    );
    let want = json!({"allowed_entity_aliases": null, "allowed_policies": ["p1", "p2"], "allowed_policies_glob": [], "disallowed_policies": [], "disallowed_policies_glob": [], "explicit_max_ttl": 0, "name": "r1", "orphan": true, "path_suffix": "sfx", "period": 0, "renewable": true, "token_explicit_max_ttl": 0, "token_no_default_policy": false, "token_period": 3600, "token_type": "service"});
    assert_eq!(Value::Object(d), want);
    let d = data(
        call(&core, Operation::List, "auth/token/roles", json!({}), &root)
            .await
            .unwrap(),
    );
    assert_eq!(d["keys"], json!(["r1"]));
    let (t, a) = create(
        &core,
        &root,
        "auth/token/create/r1",
        json!({"policies": ["p1"]}),
    )
    .await;
    assert_eq!(a.policies, vec!["default", "p1"]);
    assert!(a.orphan);
    assert_eq!(a.lease.ttl.as_secs(), 3600);
    let d = data(
        call(
            &core,
            Operation::Update,
            "auth/token/lookup",
            json!({"token": t}),
            &root,
        )
        .await
        .unwrap(),
    );
    assert_eq!(d["path"], "auth/token/create/r1/sfx");
    assert_eq!(d["role"], "r1");
    assert_eq!(d["period"], 3600);
    let e = call(
        &core,
        Operation::Update,
        "auth/token/create/r1",
        json!({"policies": ["p3"]}),
        &root,
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "token policies ([\"default\" \"p3\"]) must be subset of the role's allowed policies ([\"default\" \"p1\" \"p2\"]) or glob policies ([])"
    );
    let e = call(
        &core,
        Operation::Update,
        "auth/token/roles/r2",
        json!({"token_type": "bogus"}),
        &root,
    )
    .await
    .unwrap_err();
    assert_eq!(e.to_string(), "invalid 'token_type' value \"bogus\"");
    let r = call(
        &core,
        Operation::Update,
        "auth/token/roles/r2",
        json!({"period": "1h", "token_period": "2h"}),
        &root,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        r.warnings,
        vec![
            "Both 'token_period' and deprecated 'period' value supplied, ignoring the deprecated value"
        ]
    );
    let d = data(
        call(
            &core,
            Operation::Read,
            "auth/token/roles/r2",
            json!({}),
            &root,
        )
        .await
        .unwrap(),
    );
    assert_eq!(d["token_type"], "default-service");
    assert_eq!(d["token_period"], 7200);
    assert!(
        call(
            &core,
            Operation::Delete,
            "auth/token/roles/r2",
            json!({}),
            &root
        )
        .await
        .unwrap()
        .is_none()
    );
    let e = call(
        &core,
        Operation::Read,
        "auth/token/roles/r2",
        json!({}),
        &root,
    )
    .await
    .unwrap_err();
    assert_eq!(e.status(), 404);
}

#[tokio::test]
async fn accessors_tidy_and_cubbyhole_hook() {
    let (core, root) = core().await;
    let seen: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    core.token_store().set_on_revoke(Arc::new(
        move |entry: Arc<arca_core::token_store::TokenEntry>| {
            let s = s2.clone();
            Box::pin(async move {
                s.lock().push(entry.cubbyhole_id.clone());
            })
        },
    ));
    let (t, a) = create(&core, &root, "auth/token/create", json!({})).await;
    let d = data(
        call(
            &core,
            Operation::List,
            "auth/token/accessors",
            json!({}),
            &root,
        )
        .await
        .unwrap(),
    );
    let keys: Vec<String> = serde_json::from_value(d["keys"].clone()).unwrap();
    assert!(keys.contains(&a.accessor));
    assert_eq!(keys.len(), 2); // the root token and t
    let cubby = core
        .token_store()
        .lookup(&t)
        .await
        .unwrap()
        .unwrap()
        .cubbyhole_id
        .clone();
    assert_eq!(cubby.len(), 24);
    call(
        &core,
        Operation::Update,
        "auth/token/revoke",
        json!({"token": t}),
        &root,
    )
    .await
    .unwrap();
    assert_eq!(*seen.lock(), vec![cubby]);
    let r = call(
        &core,
        Operation::Update,
        "auth/token/tidy",
        json!({}),
        &root,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(r.status, Some(202));
    assert_eq!(core.token_store().tidy().await.unwrap(), Default::default());
}
