//! `sys/policy`, `sys/policies/acl`, `sys/capabilities*` and the resultant ACL through the
//! core, against the answers OpenBao 2.7.2 gives.
#![allow(clippy::unwrap_used)]

mod common;

use arca_core::Core;
use arca_sdk::{JsonMap, LogicalError, Operation, Response};
use common::{call, core};
use serde_json::{Value, json};

const P1: &str = "path \"secret/*\" { capabilities = [\"read\",\"list\"] }\npath \"secret/foo\" { capabilities = [\"create\",\"sudo\"] }\npath \"kv/+/x\" { capabilities = [\"deny\"] }";

fn data(r: Option<Response>) -> JsonMap {
    r.unwrap().data.unwrap()
}

#[tokio::test]
async fn policy_crud_answers_like_openbao() {
    let (core, root) = core().await;
    assert!(
        call(
            &core,
            Operation::Update,
            "sys/policies/acl/p1",
            json!({"policy": P1}),
            &root
        )
        .await
        .unwrap()
        .is_none()
    );
    let d = data(
        call(
            &core,
            Operation::Read,
            "sys/policies/acl/p1",
            json!({}),
            &root,
        )
        .await
        .unwrap(),
    );
    assert_eq!(d["name"], "p1");
    assert_eq!(d["policy"], P1);
    assert_eq!(d["version"], 1);
    assert_eq!(d["cas_required"], false);
    assert_eq!(d["allow_wildcards_in_identity_templates"], false);
    assert_eq!(d["allow_slashes_in_identity_templates"], false);
    assert!(d["modified"].as_str().unwrap().ends_with('Z'));
    // Legacy read: `rules`, copied to the top level.
    let r = call(&core, Operation::Read, "sys/policy/p1", json!({}), &root)
        .await
        .unwrap()
        .unwrap();
    assert!(r.top_level_data);
    let d = r.data.unwrap();
    assert_eq!(d["rules"], P1);
    assert!(!d.contains_key("policy"));
    // Lists.
    let d = data(
        call(&core, Operation::List, "sys/policies/acl", json!({}), &root)
            .await
            .unwrap(),
    );
    assert_eq!(Value::Object(d), json!({"keys": ["default", "p1", "root"]}));
    let r = call(&core, Operation::Read, "sys/policy", json!({}), &root)
        .await
        .unwrap()
        .unwrap();
    assert!(r.top_level_data);
    assert_eq!(
        Value::Object(r.data.unwrap()),
        json!({"keys": ["default", "p1", "root"], "policies": ["default", "p1", "root"]})
    );
    assert_eq!(
        call(&core, Operation::Read, "sys/policies/acl", json!({}), &root)
            .await
            .unwrap_err(),
        LogicalError::UnsupportedOperation
    );
    // Root reads as empty, version 0, no modified.
    let d = data(
        call(
            &core,
            Operation::Read,
            "sys/policies/acl/root",
            json!({}),
            &root,
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        Value::Object(d),
        json!({"allow_slashes_in_identity_templates": false, "allow_wildcards_in_identity_templates": false, "cas_required": false, "name": "root", "policy": "", "version": 0})
    );
    // Names are lower-cased; JSON policies are accepted; `rules` warns.
    call(
        &core,
        Operation::Update,
        "sys/policy/P3",
        json!({"policy": "{\"path\":{\"b\":{\"capabilities\":[\"read\"]}}}"}),
        &root,
    )
    .await
    .unwrap();
    assert!(
        call(&core, Operation::Read, "sys/policy/p3", json!({}), &root)
            .await
            .is_ok()
    );
    let r = call(
        &core,
        Operation::Update,
        "sys/policy/p2",
        json!({"rules": "path \"a\" {capabilities=[\"read\"]}"}),
        &root,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        r.warnings,
        vec!["'rules' is deprecated, please use 'policy' instead"]
    );
    // cas.
    call(
        &core,
        Operation::Update,
        "sys/policies/acl/p1",
        json!({"policy": P1}),
        &root,
    )
    .await
    .unwrap();
    let e = call(
        &core,
        Operation::Update,
        "sys/policies/acl/p1",
        json!({"policy": P1, "cas": 5}),
        &root,
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "check-and-set parameter 5 did not match the current version 2"
    );
    assert!(
        call(
            &core,
            Operation::Update,
            "sys/policies/acl/p1",
            json!({"policy": P1, "cas": 2}),
            &root
        )
        .await
        .is_ok()
    );
    // Deletes: 204, also for a missing one.
    assert!(
        call(
            &core,
            Operation::Delete,
            "sys/policies/acl/p3",
            json!({}),
            &root
        )
        .await
        .unwrap()
        .is_none()
    );
    assert!(
        call(
            &core,
            Operation::Delete,
            "sys/policies/acl/nope",
            json!({}),
            &root
        )
        .await
        .unwrap()
        .is_none()
    );
    assert_eq!(
        call(
            &core,
            Operation::Read,
            "sys/policies/acl/p3",
            json!({}),
            &root
        )
        .await
        .unwrap_err()
        .status(),
        404
    );
}

#[tokio::test]
async fn policy_errors() {
    let (core, root) = core().await;
    let cases: Vec<(Operation, &str, Value, &str)> = vec![
        (
            Operation::Update,
            "sys/policies/acl/root",
            json!({"policy": "path \"a\" {capabilities=[\"read\"]}"}),
            "cannot update \"root\" policy",
        ),
        (
            Operation::Delete,
            "sys/policies/acl/root",
            json!({}),
            "cannot delete \"root\" policy",
        ),
        (
            Operation::Delete,
            "sys/policies/acl/default",
            json!({}),
            "cannot delete default policy",
        ),
        (
            Operation::Delete,
            "sys/policy/default",
            json!({}),
            "cannot delete default policy",
        ),
        (
            Operation::Update,
            "sys/policies/acl/p2",
            json!({}),
            "'policy' parameter not supplied or empty",
        ),
        (
            Operation::Update,
            "sys/policies/acl/p2",
            json!({"rules": "path \"a\" {capabilities=[\"read\"]}"}),
            "'policy' parameter not supplied or empty",
        ),
    ];
    for (op, path, body, text) in cases {
        let e = call(&core, op, path, body.clone(), &root)
            .await
            .unwrap_err();
        assert_eq!(e.status(), 400, "{path}");
        assert_eq!(e.to_string(), text, "{path} {body}");
    }
    let e = call(
        &core,
        Operation::Update,
        "sys/policies/acl/p2",
        json!({"policy": "garbage {"}),
        &root,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().starts_with("failed to parse policy: "), "{e}");
    // The default policy may be edited.
    assert!(
        call(
            &core,
            Operation::Update,
            "sys/policies/acl/default",
            json!({"policy": "path \"x\" {capabilities=[\"read\"]}"}),
            &root
        )
        .await
        .is_ok()
    );
}

async fn limited_token(core: &Core, root: &str) -> (String, String) {
    call(
        core,
        Operation::Update,
        "sys/policies/acl/p1",
        json!({"policy": P1}),
        root,
    )
    .await
    .unwrap();
    let r = call(
        core,
        Operation::Update,
        "auth/token/create",
        json!({"policies": ["p1"]}),
        root,
    )
    .await
    .unwrap()
    .unwrap();
    let a = r.auth.unwrap();
    (a.client_token.to_string(), a.accessor)
}

#[tokio::test]
async fn capabilities_endpoints() {
    let (core, root) = core().await;
    let (t, acc) = limited_token(&core, &root).await;
    let r = call(
        &core,
        Operation::Update,
        "sys/capabilities",
        json!({"token": t, "paths": ["secret/foo", "secret/bar", "kv/a/x", "nope"]}),
        &root,
    )
    .await
    .unwrap()
    .unwrap();
    assert!(r.top_level_data);
    assert_eq!(
        Value::Object(r.data.unwrap()),
        json!({"secret/foo": ["create", "sudo"], "secret/bar": ["list", "read"], "kv/a/x": ["deny"], "nope": ["deny"]})
    );
    let single = json!({"capabilities": ["create", "sudo"], "secret/foo": ["create", "sudo"]});
    let d = data(
        call(
            &core,
            Operation::Update,
            "sys/capabilities",
            json!({"token": t, "path": "secret/foo"}),
            &root,
        )
        .await
        .unwrap(),
    );
    assert_eq!(Value::Object(d), single);
    let d = data(
        call(
            &core,
            Operation::Update,
            "sys/capabilities-self",
            json!({"paths": "secret/foo"}),
            &t,
        )
        .await
        .unwrap(),
    );
    assert_eq!(Value::Object(d), single);
    let d = data(
        call(
            &core,
            Operation::Update,
            "sys/capabilities-accessor",
            json!({"accessor": acc, "paths": ["secret/x"]}),
            &root,
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        Value::Object(d),
        json!({"capabilities": ["list", "read"], "secret/x": ["list", "read"]})
    );
    let d = data(
        call(
            &core,
            Operation::Update,
            "sys/capabilities-self",
            json!({"paths": ["a"]}),
            &root,
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        Value::Object(d),
        json!({"capabilities": ["root"], "a": ["root"]})
    );

    let cases: Vec<(&str, Value, &str, u16, &str)> = vec![
        (
            "sys/capabilities",
            json!({"paths": ["a"]}),
            &root,
            400, // OpenBao: 500, same text
            "no token found",
        ),
        (
            "sys/capabilities",
            json!({"token": "bad", "paths": ["a"]}),
            &root,
            400,
            "invalid token",
        ),
        (
            "sys/capabilities-accessor",
            json!({"accessor": "bad", "paths": ["a"]}),
            &root,
            400,
            "invalid accessor",
        ),
        (
            "sys/capabilities-accessor",
            json!({"paths": ["a"]}),
            &root,
            400,
            "missing accessor",
        ),
        (
            "sys/capabilities-self",
            json!({}),
            &t,
            400,
            "paths must be supplied",
        ),
    ];
    for (path, body, tok, status, text) in cases {
        let e = call(&core, Operation::Update, path, body.clone(), tok)
            .await
            .unwrap_err();
        assert_eq!(
            (e.status(), e.to_string().as_str()),
            (status, text),
            "{path} {body}"
        );
    }
}

#[tokio::test]
async fn resultant_acl_lists_exact_and_glob_paths() {
    let (core, root) = core().await;
    let (t, _) = limited_token(&core, &root).await;
    let d = data(
        call(
            &core,
            Operation::Read,
            "sys/internal/ui/resultant-acl",
            json!({}),
            &t,
        )
        .await
        .unwrap(),
    );
    assert_eq!(d["root"], false);
    assert_eq!(
        d["exact_paths"]["secret/foo"],
        json!({"capabilities": ["create", "sudo"]})
    );
    assert_eq!(
        d["exact_paths"]["auth/token/lookup-self"],
        json!({"capabilities": ["read"]})
    );
    assert_eq!(
        d["glob_paths"]["secret/"],
        json!({"capabilities": ["list", "read"]})
    );
    assert_eq!(
        d["glob_paths"]["cubbyhole/"],
        json!({"capabilities": ["create", "delete", "list", "read", "update"]})
    );
    // Segment wildcards are not listed.
    assert!(d["exact_paths"].get("kv/+/x").is_none() && d["glob_paths"].get("kv/+/x").is_none());
    let d = data(
        call(
            &core,
            Operation::Read,
            "sys/internal/ui/resultant-acl",
            json!({}),
            &root,
        )
        .await
        .unwrap(),
    );
    assert_eq!(Value::Object(d), json!({"root": true}));
}
