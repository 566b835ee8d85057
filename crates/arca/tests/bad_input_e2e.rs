//! Bad input fails closed, with OpenBao's answer: each request goes to a fresh `arca server
//! -dev` and a fresh OpenBao 2.7.2 dev server, and Arca must give the same status, the same
//! `errors` and the same `warnings` (wrongly typed fields, TTLs past Go's limits, KV versions,
//! refused mounts, `type=generic`, `sys/rekey/backup`, unknown parameters on any endpoint).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Answer, Server, bao_dev, call, example_binary};
use serde_json::{Value, json};

/// Sends the same request to both servers and holds Arca to OpenBao's status, `errors` and
/// `warnings`; hands back both answers for further checks.
async fn same(
    arca: &Server,
    bao: &Server,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (Answer, Answer) {
    let a = call(arca, method, path, Some("root"), body.clone()).await;
    let b = call(bao, method, path, Some("root"), body.clone()).await;
    let what = format!("{method} {path} {}", body.unwrap_or(Value::Null));
    assert_eq!(a.status, b.status, "{what}: arca {} bao {}", a.body, b.body);
    assert_eq!(a.body["errors"], b.body["errors"], "{what}");
    assert_eq!(a.body["warnings"], b.body["warnings"], "{what}");
    (a, b)
}

#[tokio::test]
async fn token_fields_convert_or_refuse_as_openbao() {
    let (arca, bao) = (Server::dev(), bao_dev());
    // Converted, never dropped: 5 is the policy "5" (not the parent's root policy).
    let (a, b) = same(
        &arca,
        &bao,
        "POST",
        "auth/token/create",
        Some(json!({"policies": 5})),
    )
    .await;
    assert_eq!(a.body["auth"]["policies"], json!(["5", "default"]));
    assert_eq!(a.body["auth"]["policies"], b.body["auth"]["policies"]);
    let (a, b) = same(
        &arca,
        &bao,
        "POST",
        "auth/token/create",
        Some(json!({"policies": true})),
    )
    .await;
    assert_eq!(a.body["auth"]["policies"], b.body["auth"]["policies"]);
    let (a, b) = same(
        &arca,
        &bao,
        "POST",
        "auth/token/create",
        Some(json!({"meta": {"a": 1}})),
    )
    .await;
    assert_eq!(a.body["auth"]["metadata"], json!({"a": "1"}));
    assert_eq!(a.body["auth"]["metadata"], b.body["auth"]["metadata"]);
    let (a, b) = same(
        &arca,
        &bao,
        "POST",
        "auth/token/create",
        Some(json!({"num_uses": "0x10"})),
    )
    .await;
    assert_eq!(a.body["auth"]["num_uses"], b.body["auth"]["num_uses"]);
    // Refused with the framework's 400 (a root parent must never hand out root by accident).
    for body in [
        json!({"policies": {"a": 1}}),
        json!({"policies": [1, {"a": 1}]}),
        json!({"policies": [{"a": 1}, [2], {"b": 1}]}),
        json!({"meta": "x"}),
        json!({"meta": 5}),
        json!({"meta": ["a=1", "b"]}),
        json!({"meta": {"a": {"b": 1}}}),
        json!({"renewable": "maybe"}),
        json!({"renewable": 5}),
        json!({"renewable": [true]}),
        json!({"num_uses": "x"}),
        json!({"num_uses": 1.5}),
        json!({"num_uses": 18446744073709551615u64}),
        json!({"display_name": {"a": 1}}),
        json!({"ttl": [1]}),
    ] {
        let (a, _) = same(&arca, &bao, "POST", "auth/token/create", Some(body.clone())).await;
        assert_eq!(a.status, 400, "{body}");
        let text = a.body["errors"][0].as_str().unwrap();
        assert!(
            text.starts_with("Field validation failed: error converting input for field"),
            "{text}"
        );
    }
    // TTLs: Go's duration texts, never a 500.
    for body in [
        json!({"ttl": 1.5}),
        json!({"ttl": "1.5"}),
        json!({"ttl": 1e30}),
        json!({"ttl": 18446744073709551615u64}),
        json!({"ttl": 99999999999u64}),
        json!({"ttl": "1d12h"}),
        json!({"ttl": "1.5d"}),
        json!({"ttl": " 30 "}),
        json!({"period": 1e30}),
        json!({"explicit_max_ttl": "9223372037s"}),
    ] {
        let (a, _) = same(&arca, &bao, "POST", "auth/token/create", Some(body.clone())).await;
        assert_eq!(a.status, 400, "{body}");
    }
    for body in [
        json!({"ttl": "2d"}),
        json!({"ttl": "1.5h"}),
        json!({"ttl": "+30"}),
    ] {
        let (a, b) = same(&arca, &bao, "POST", "auth/token/create", Some(body.clone())).await;
        assert_eq!(
            a.body["auth"]["lease_duration"], b.body["auth"]["lease_duration"],
            "{body}"
        );
    }
    // Token roles: the same conversions, worded without the framework's prefix.
    for body in [
        json!({"period": "1e30"}),
        json!({"token_period": [1]}),
        json!({"explicit_max_ttl": true}),
        json!({"token_explicit_max_ttl": "1.5"}),
        json!({"path_suffix": {"a": 1}}),
        json!({"token_type": {"a": 1}}),
        json!({"token_num_uses": [1]}),
        json!({"renewable": "maybe"}),
        json!({"token_no_default_policy": [1]}),
    ] {
        let (a, _) = same(
            &arca,
            &bao,
            "POST",
            "auth/token/roles/r",
            Some(body.clone()),
        )
        .await;
        assert_eq!(a.status, 400, "{body}");
    }
    // A list of maps is refused too (OpenBao's older decoder words the list differently).
    let body = json!({"allowed_policies": [{"a": 1}]});
    let a = call(
        &arca,
        "POST",
        "auth/token/roles/r",
        Some("root"),
        Some(body.clone()),
    )
    .await;
    let b = call(&bao, "POST", "auth/token/roles/r", Some("root"), Some(body)).await;
    assert_eq!((a.status, b.status), (400, 400), "{}", a.body);
    same(
        &arca,
        &bao,
        "POST",
        "auth/token/roles/r",
        Some(json!({"disallowed_policies": 5})),
    )
    .await;
    let (a, b) = same(&arca, &bao, "GET", "auth/token/roles/r", None).await;
    assert_eq!(
        a.body["data"]["disallowed_policies"],
        b.body["data"]["disallowed_policies"]
    );
    // Unknown parameters: the warning, on token endpoints that answer.
    same(
        &arca,
        &bao,
        "POST",
        "auth/token/create",
        Some(json!({"polices": ["a"]})),
    )
    .await;
    let (a, _) = same(
        &arca,
        &bao,
        "POST",
        "auth/token/lookup-self",
        Some(json!({"bogus": 1})),
    )
    .await;
    assert_eq!(
        a.body["warnings"],
        json!(["Endpoint ignored these unrecognized parameters: [bogus]"])
    );
}

#[tokio::test]
async fn mounts_refuse_bad_ttls_versions_and_paths_as_openbao() {
    let (arca, bao) = (Server::dev(), bao_dev());
    for (i, config) in [
        json!({"default_lease_ttl": 1e30}),
        json!({"default_lease_ttl": "1e30"}),
        json!({"max_lease_ttl": 1e30}),
        json!({"default_lease_ttl": 18446744073709551615u64}),
        json!({"default_lease_ttl": [1]}),
        json!({"default_lease_ttl": 1.5}),
        json!({"default_lease_ttl": "1.5"}),
    ]
    .into_iter()
    .enumerate()
    {
        let path = format!("sys/mounts/ttl{i}");
        let (a, _) = same(
            &arca,
            &bao,
            "POST",
            &path,
            Some(json!({"type": "kv", "config": config})),
        )
        .await;
        assert_eq!(a.status, 400, "{config}");
        // Nothing was mounted.
        same(&arca, &bao, "GET", &path, None).await;
    }
    same(
        &arca,
        &bao,
        "POST",
        "sys/mounts/tuned",
        Some(json!({"type": "kv"})),
    )
    .await;
    for body in [
        json!({"default_lease_ttl": 1e30}),
        json!({"max_lease_ttl": 1e30}),
        json!({"default_lease_ttl": 18446744073709551615u64}),
        json!({"default_lease_ttl": "1.5"}),
        json!({"default_lease_ttl": [1]}),
    ] {
        let (a, _) = same(
            &arca,
            &bao,
            "POST",
            "sys/mounts/tuned/tune",
            Some(body.clone()),
        )
        .await;
        assert_eq!(a.status, 400, "{body}");
    }
    // An unknown parameter is warned about on the tune read, as OpenBao does.
    same(&arca, &bao, "GET", "sys/mounts/tuned/tune?bogus=1", None).await;
    for version in [json!("7"), json!(7), json!("0"), json!("abc")] {
        let (a, _) = same(
            &arca,
            &bao,
            "POST",
            "sys/mounts/kvbad",
            Some(json!({"type": "kv", "options": {"version": version}})),
        )
        .await;
        assert_eq!(
            a.body["errors"],
            json!(["nil backend of type \"kv\" returned from factory"])
        );
        same(&arca, &bao, "GET", "sys/mounts/kvbad", None).await;
    }
    for path in ["sys/mounts/audit", "sys/mounts/audit/x"] {
        let (a, _) = same(&arca, &bao, "POST", path, Some(json!({"type": "kv"}))).await;
        assert_eq!(a.status, 400);
    }
    // `generic` is KV v1 under its old name, and takes no version.
    same(
        &arca,
        &bao,
        "POST",
        "sys/mounts/old",
        Some(json!({"type": "generic"})),
    )
    .await;
    let (a, b) = same(&arca, &bao, "GET", "sys/mounts/old", None).await;
    assert_eq!(a.body["data"]["type"], "generic");
    assert_eq!(a.body["data"]["options"], b.body["data"]["options"]);
    same(&arca, &bao, "POST", "old/a", Some(json!({"x": "1"}))).await;
    let (a, b) = same(&arca, &bao, "GET", "old/a", None).await;
    assert_eq!(a.body["data"], b.body["data"]);
    same(
        &arca,
        &bao,
        "POST",
        "sys/mounts/old2",
        Some(json!({"type": "generic", "options": {"version": "2"}})),
    )
    .await;
    // KV v2 `versions` past 64 bits or not integers.
    same(
        &arca,
        &bao,
        "POST",
        "secret/data/v",
        Some(json!({"data": {"a": 1}})),
    )
    .await;
    for versions in [
        json!([18446744073709551615u64]),
        json!("99999999999999999999"),
        json!([1e30]),
        json!([1.5]),
        json!({"a": 1}),
        json!("1, 2"),
    ] {
        let (a, _) = same(
            &arca,
            &bao,
            "POST",
            "secret/destroy/v",
            Some(json!({"versions": versions})),
        )
        .await;
        assert_eq!(a.status, 400, "{versions}");
    }
}

#[tokio::test]
async fn sys_endpoints_answer_as_openbao() {
    let (arca, bao) = (Server::dev(), bao_dev());
    for method in ["GET", "DELETE", "POST", "PUT", "LIST"] {
        same(&arca, &bao, method, "sys/rekey/backup", None).await;
        same(&arca, &bao, method, "sys/rekey-recovery-key/backup", None).await;
    }
    let (a, _) = same(&arca, &bao, "GET", "sys/rekey/backup", None).await;
    assert_eq!(a.body["errors"], json!(["no backed-up keys found"]));
    // Unknown parameters on sys/ endpoints that answer draw the warning ...
    let (a, _) = same(
        &arca,
        &bao,
        "POST",
        "sys/capabilities-self",
        Some(json!({"paths": ["a"], "bogus": 1})),
    )
    .await;
    assert_eq!(
        a.body["warnings"],
        json!(["Endpoint ignored these unrecognized parameters: [bogus]"])
    );
    same(&arca, &bao, "GET", "sys/mounts?bogus=1", None).await;
    // ... and a bodiless answer stays bodiless (204), as OpenBao's does.
    let (a, _) = same(
        &arca,
        &bao,
        "POST",
        "sys/policy/p1",
        Some(json!({"policy": "path \"a\" { capabilities = [\"read\"] }", "bogus": 1})),
    )
    .await;
    assert_eq!(a.status, 204);
    // Wrongly typed sys/ parameters: the framework's 400, nothing mounted or changed.
    for body in [
        json!({"type": "kv", "description": {"a": 1}}),
        json!({"type": "kv", "local": "maybe"}),
        json!({"type": {"a": 1}}),
        json!({"type": "kv", "options": "x"}),
        json!({"type": "kv", "config": "x"}),
        json!({"type": "kv", "seal_wrap": [1]}),
    ] {
        let (a, _) = same(&arca, &bao, "POST", "sys/mounts/typed", Some(body.clone())).await;
        assert_eq!(a.status, 400, "{body}");
        same(&arca, &bao, "GET", "sys/mounts/typed", None).await;
    }
    let body = json!({"type": "kv", "options": {"version": 2}});
    same(&arca, &bao, "POST", "sys/mounts/v2num", Some(body)).await;
    let (a, b) = same(&arca, &bao, "GET", "sys/mounts/v2num", None).await;
    assert_eq!(a.body["data"]["options"], b.body["data"]["options"]);
    same(
        &arca,
        &bao,
        "POST",
        "sys/policy/px",
        Some(json!({"policy": {"a": 1}})),
    )
    .await;
    same(
        &arca,
        &bao,
        "POST",
        "sys/mounts/m5",
        Some(json!({"type": "kv", "bogus": 1})),
    )
    .await;
    for body in [
        json!({"description": {"a": 1}}),
        json!({"listing_visibility": [1]}),
    ] {
        same(&arca, &bao, "POST", "sys/mounts/m5/tune", Some(body)).await;
    }
    // Lists of maps are refused too (OpenBao's older decoder words them differently).
    for (path, body) in [
        (
            "sys/mounts/m5/tune",
            json!({"passthrough_request_headers": {"a": 1}}),
        ),
        ("sys/capabilities-self", json!({"paths": {"a": 1}})),
    ] {
        let a = call(&arca, "POST", path, Some("root"), Some(body.clone())).await;
        let b = call(&bao, "POST", path, Some("root"), Some(body)).await;
        assert_eq!((a.status, b.status), (400, 400), "{path}: {}", a.body);
    }
    same(
        &arca,
        &bao,
        "POST",
        "sys/mounts/m5/tune",
        Some(json!({"bogus": 1})),
    )
    .await;
}

/// The rest of the `sys/` framework endpoints: a wrongly typed field is refused with the
/// framework's 400 before the handler runs, an unknown one draws the warning.
#[tokio::test]
async fn sys_framework_endpoints_convert_and_warn_as_openbao() {
    let (arca, bao) = (Server::dev(), bao_dev());
    let bogus = "Endpoint ignored these unrecognized parameters: [bogus]";
    // Unknown parameters, on reads and lists ...
    for (method, path) in [
        ("GET", "sys/policies/acl?list=true&bogus=1"),
        ("LIST", "sys/policies/acl?bogus=1"),
        ("LIST", "sys/policy?bogus=1"),
        ("GET", "sys/policy?bogus=1"),
        ("GET", "sys/internal/ui/mounts?bogus=1"),
        ("GET", "sys/internal/ui/mounts/secret?bogus=1"),
        ("GET", "sys/internal/ui/resultant-acl?bogus=1"),
        ("GET", "sys/key-status?bogus=1"),
        ("GET", "sys/plugins/catalog?bogus=1"),
        ("LIST", "sys/plugins/catalog/secret?bogus=1"),
        ("GET", "sys/plugins/catalog/secret/kv?bogus=1"),
        ("GET", "sys/plugins/catalog/kv?bogus=1"),
        ("GET", "sys/generate-root-token/attempt?bogus=1"),
    ] {
        let (a, _) = same(&arca, &bao, method, path, None).await;
        assert_eq!(a.status, 200, "{method} {path}: {}", a.body);
        let warnings = a.body["warnings"].as_array().unwrap();
        assert_eq!(warnings.last(), Some(&json!(bogus)), "{method} {path}");
    }
    same(&arca, &bao, "GET", "sys/remount/status/nope?bogus=1", None).await;
    // ... and on writes.
    same(&arca, &bao, "POST", "sys/rotate", Some(json!({"bogus": 1}))).await;
    same(
        &arca,
        &bao,
        "POST",
        "sys/mounts/from1",
        Some(json!({"type": "kv"})),
    )
    .await;
    let (a, _) = same(
        &arca,
        &bao,
        "POST",
        "sys/remount",
        Some(json!({"from": "from1", "to": "to1", "bogus": 1})),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (a, _) = same(
        &arca,
        &bao,
        "PUT",
        "sys/generate-root-token/attempt",
        Some(json!({"bogus": 1})),
    )
    .await;
    assert_eq!(a.body["warnings"], json!([bogus]));
    same(
        &arca,
        &bao,
        "DELETE",
        "sys/generate-root-token/attempt",
        None,
    )
    .await;
    // Converted as the framework does: a number is the string it spells.
    same(
        &arca,
        &bao,
        "POST",
        "sys/remount",
        Some(json!({"from": 5, "to": "to2"})),
    )
    .await;
    // Wrongly typed: the framework's 400, nothing changed.
    for (method, path, body) in [
        (
            "POST",
            "sys/remount",
            json!({"from": {"a": 1}, "to": "to3"}),
        ),
        ("POST", "sys/remount", json!({"from": "to1", "to": [1]})),
        (
            "POST",
            "sys/plugins/catalog/secret/foo",
            json!({"command": {"a": 1}, "sha256": "ab"}),
        ),
        (
            "POST",
            "sys/plugins/catalog/secret/foo",
            json!({"command": "x", "sha256": "ab", "args": {"a": 1}}),
        ),
        (
            "POST",
            "sys/plugins/catalog/secret/foo",
            json!({"command": "x", "sha256": "ab", "env": [{"a": 1}]}),
        ),
        (
            "POST",
            "sys/plugins/catalog/secret/foo",
            json!({"command": "x", "sha256": "ab", "oci": "maybe"}),
        ),
        (
            "POST",
            "sys/plugins/catalog/secret/foo",
            json!({"command": "x", "sha256": "ab", "version": [1]}),
        ),
        (
            "POST",
            "sys/plugins/catalog/foo",
            json!({"command": "x", "sha256": {"a": 1}}),
        ),
        (
            "POST",
            "sys/plugins/reload/backend",
            json!({"plugin": {"a": 1}}),
        ),
        (
            "POST",
            "sys/plugins/reload/backend",
            json!({"plugin": "kv", "scope": [1]}),
        ),
        (
            "PUT",
            "sys/generate-root-token/attempt",
            json!({"pgp_key": {"a": 1}}),
        ),
        (
            "PUT",
            "sys/generate-root-token/update",
            json!({"key": {"a": 1}, "nonce": "x"}),
        ),
        (
            "PUT",
            "sys/generate-root-token/update",
            json!({"key": "abc", "nonce": [1]}),
        ),
    ] {
        let (a, _) = same(&arca, &bao, method, path, Some(body.clone())).await;
        assert_eq!(a.status, 400, "{path} {body}");
        let text = a.body["errors"][0].as_str().unwrap();
        assert!(
            text.starts_with("Field validation failed: error converting input for field"),
            "{text}"
        );
    }
    let (a, _) = same(&arca, &bao, "GET", "sys/mounts/to1", None).await;
    assert_eq!(
        a.status, 200,
        "the refused remounts moved nothing: {}",
        a.body
    );
    let (a, _) = same(&arca, &bao, "GET", "sys/generate-root-token/attempt", None).await;
    assert_eq!(a.body["started"], json!(false), "{}", a.body);
    // A list of maps for `mounts` is refused too (OpenBao's older decoder words it
    // differently).
    let body = json!({"mounts": {"a": 1}});
    let a = call(
        &arca,
        "POST",
        "sys/plugins/reload/backend",
        Some("root"),
        Some(body.clone()),
    )
    .await;
    let b = call(
        &bao,
        "POST",
        "sys/plugins/reload/backend",
        Some("root"),
        Some(body),
    )
    .await;
    assert_eq!((a.status, b.status), (400, 400), "{}", a.body);
}

/// The endpoints Vault serves outside its logical router decode the body into a Go struct:
/// a field of the wrong JSON type is refused with `encoding/json`'s text, never converted.
#[tokio::test]
async fn raw_sys_endpoints_refuse_wrong_json_types_as_openbao() {
    let (arca, bao) = (Server::dev(), bao_dev());
    let refused = |text: &str| {
        json!([format!(
            "failed to decode JSON input: json: cannot unmarshal {text}"
        )])
    };
    for (path, body, text) in [
        (
            "sys/unseal",
            json!({"key": 5}),
            "number into Go struct field UnsealRequest.key of type string",
        ),
        (
            "sys/unseal",
            json!({"reset": "maybe"}),
            "string into Go struct field UnsealRequest.reset of type bool",
        ),
        (
            "sys/unseal",
            json!({"reset": 5}),
            "number into Go struct field UnsealRequest.reset of type bool",
        ),
        (
            "sys/unseal",
            json!({"key": "abc", "migrate": "x"}),
            "string into Go struct field UnsealRequest.migrate of type bool",
        ),
        (
            "sys/init",
            json!({"secret_shares": "3"}),
            "string into Go struct field InitRequest.secret_shares of type int",
        ),
        (
            "sys/init",
            json!({"pgp_keys": ["a", 5]}),
            "number into InitRequest.pgp_keys.1 of type string",
        ),
        (
            "sys/init",
            json!({"root_token_pgp_key": 5}),
            "number into Go struct field InitRequest.root_token_pgp_key of type string",
        ),
        (
            "sys/init",
            json!({"recovery_pgp_keys": "x"}),
            "string into Go struct field InitRequest.recovery_pgp_keys of type []string",
        ),
    ] {
        let (a, _) = same(&arca, &bao, "PUT", path, Some(body)).await;
        assert_eq!(a.body["errors"], refused(text));
    }
    // OpenBao 2.7.2 turns its unauthenticated `rekey/*` off by default (405 to a dev server);
    // with `disable_unauthed_rekey_endpoints = false` on the listener it answers these texts,
    // which Arca's authenticated rekey gives too.
    for (path, body, text) in [
        (
            "sys/rekey/init",
            json!({"secret_shares": "3", "secret_threshold": 2}),
            "string into Go struct field RekeyRequest.secret_shares of type int",
        ),
        (
            "sys/rekey/init",
            json!({"secret_shares": 3.5, "secret_threshold": 2}),
            "number 3.5 into Go struct field RekeyRequest.secret_shares of type int",
        ),
        (
            "sys/rekey/init",
            json!({"secret_shares": 1e30, "secret_threshold": 2}),
            // The client writes 1e30 as `1e+30`; Go quotes the number as it was written.
            "number 1e+30 into Go struct field RekeyRequest.secret_shares of type int",
        ),
        (
            "sys/rekey/init",
            json!({"secret_shares": 3, "secret_threshold": 2, "pgp_keys": ["a", 5]}),
            "number into RekeyRequest.pgp_keys.1 of type string",
        ),
        (
            "sys/rekey/init",
            json!({"secret_shares": 3, "secret_threshold": 2, "backup": "maybe"}),
            "string into Go struct field RekeyRequest.backup of type bool",
        ),
        (
            "sys/rekey/init",
            json!({"secret_shares": 3, "secret_threshold": 2, "require_verification": 1}),
            "number into Go struct field RekeyRequest.require_verification of type bool",
        ),
        (
            "sys/rekey/update",
            json!({"key": true, "nonce": "x"}),
            "bool into Go struct field RekeyUpdateRequest.key of type string",
        ),
        (
            "sys/rekey/verify",
            json!({"key": "a", "nonce": 5}),
            "number into Go struct field RekeyVerificationUpdateRequest.nonce of type string",
        ),
    ] {
        let a = call(&arca, "PUT", path, Some("root"), Some(body.clone())).await;
        assert_eq!(a.status, 400, "{path} {body}: {}", a.body);
        assert_eq!(a.body["errors"], refused(text), "{path} {body}");
    }
    let a = call(&arca, "GET", "sys/rekey/init", Some("root"), None).await;
    assert_eq!(a.body["started"], json!(false), "{}", a.body);
}

/// Mounting a plugin in the wrong table is refused and leaves nothing mounted (texts observed
/// on OpenBao 2.7.2, `openbao-answers.md`).
#[tokio::test]
async fn plugins_of_the_wrong_kind_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for example in ["auth_plugin", "kv_plugin"] {
        std::fs::copy(example_binary(example), dir.path().join(example)).unwrap();
    }
    let arca = Server::dev_with_plugins(dir.path());
    for (command, register_as, table, name, want) in [
        (
            "auth_plugin",
            "secret",
            "sys/mounts",
            "wrong-auth",
            "unknown backend type: \"wrong-auth\"",
        ),
        (
            "kv_plugin",
            "auth",
            "sys/auth",
            "wrong-kv",
            "cannot mount \"wrong-kv\" of type \"secret\" as an auth backend",
        ),
    ] {
        let sha = sha256_hex(&std::fs::read(dir.path().join(command)).unwrap());
        let r = call(
            &arca,
            "PUT",
            &format!("sys/plugins/catalog/{register_as}/{name}"),
            Some("root"),
            Some(json!({"sha256": sha, "command": command})),
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.body);
        let mount = format!("{table}/{name}");
        let r = call(
            &arca,
            "POST",
            &mount,
            Some("root"),
            Some(json!({"type": name})),
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.body["errors"], json!([want]));
        let listing = call(&arca, "GET", table, Some("root"), None).await;
        assert!(
            listing.body["data"].get(format!("{name}/")).is_none(),
            "{mount} was left mounted: {}",
            listing.body
        );
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}
