//! `Acl::allow` tables: one line per request. The parameter and wrapping lines under
//! `PARAMS` were run live against OpenBao 2.7.2 (kv v1 mounted at `kv1/`, `bao write` with
//! a token holding only `data/policies_allow_params.hcl`) and gave the same answers.

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use arca_policy::{
    Acl, AclRequest, AclResult, Capabilities, Operation, PolicyError, default_policy, parse_policy,
    root_policy,
};
use serde_json::{Map, Value, json};

use Operation::*;

const PARAMS: &str = include_str!("data/policies_allow_params.hcl");

fn acl(texts: &[&str]) -> Acl {
    let policies: Vec<_> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| parse_policy(&format!("p{i}"), t).unwrap())
        .collect();
    Acl::new(&policies).unwrap()
}

fn data(v: Value) -> Option<Map<String, Value>> {
    match v {
        Value::Null => None,
        Value::Object(m) => Some(m),
        other => panic!("not an object: {other}"),
    }
}

fn ask(acl: &Acl, path: &str, op: Operation, body: Value, wrap: Option<u64>) -> AclResult {
    let body = data(body);
    acl.allow(&AclRequest {
        path,
        operation: op,
        data: body.as_ref(),
        wrap_ttl: wrap.map(Duration::from_secs),
    })
}

#[test]
fn parameter_and_wrapping_constraints() {
    let acl = acl(&[PARAMS]);
    #[rustfmt::skip]
    let cases: &[(&str, Operation, Value, Option<u64>, bool)] = &[
        ("kv1/restricted", Update, json!({"foo": "anything"}), None, true),
        ("kv1/restricted", Update, json!({"foo": "1", "bar": "zip"}), None, true),
        ("kv1/restricted", Update, json!({"bar": "zop"}), None, false),
        ("kv1/restricted", Update, json!({"other": "1"}), None, false),
        ("kv1/restricted", Update, json!({"FOO": "1"}), None, true),
        ("kv1/restricted", Update, json!({}), None, true),
        ("kv1/restricted", Create, Value::Null, None, true),
        ("kv1/restricted", Read, json!({}), None, false),
        ("kv1/star", Update, json!({"bar": "zip", "other": "1"}), None, true),
        ("kv1/star", Update, json!({"bar": "nope", "other": "1"}), None, false),
        ("kv1/denied", Update, json!({"no_store": "false", "x": "1"}), None, false),
        ("kv1/denied", Update, json!({"no_store": false}), None, false),
        ("kv1/denied", Update, json!({"x": "1"}), None, true),
        ("kv1/denied", Update, json!({"no_store": "true"}), None, true),
        ("kv1/denied", Update, json!({"secret": "s"}), None, false),
        ("kv1/denied", Update, json!({"SECRET": "s"}), None, false),
        ("kv1/denyall", Update, json!({"x": "1"}), None, false),
        ("kv1/denyall", Update, json!({}), None, true),
        ("kv1/required", Update, json!({"name": "a", "id": "b"}), None, true),
        ("kv1/required", Update, json!({"name": "a"}), None, false),
        ("kv1/required", Update, json!({"NAME": "a", "ID": "b"}), None, false),
        ("kv1/required", Update, Value::Null, None, false),
        ("kv1/glob", Update, json!({"bar": "foo-x"}), None, true),
        ("kv1/glob", Update, json!({"bar": "x-foo"}), None, false),
        ("kv1/both", Update, json!({"a": "1", "b": "ok"}), None, true),
        ("kv1/both", Update, json!({"a": "1", "b": "bad"}), None, false),
        ("kv1/both", Update, json!({"a": "1", "c": "1"}), None, false),
        ("kv1/wrapped", Update, json!({"x": "2"}), None, false),
        ("kv1/wrapped", Update, json!({"x": "2"}), Some(30), true),
        ("kv1/wrapped", Update, json!({"x": "2"}), Some(120), false),
        ("kv1/wrapped", Update, json!({"x": "2"}), Some(90), true),
        ("kv1/wrapped", Update, json!({"x": "2"}), Some(1), true),
        ("kv1/wrapped", Update, json!({"x": "2"}), Some(0), false),
        ("kv1/wrapped", Read, Value::Null, Some(30), true),
        ("kv1/wrapped", Read, Value::Null, None, false),
    ];
    for (path, op, body, wrap, want) in cases {
        let got = ask(&acl, path, *op, body.clone(), *wrap).allowed;
        assert_eq!(got, *want, "{op:?} {path} {body} wrap={wrap:?}");
    }
}

#[test]
fn operations_map_to_capabilities() {
    let acl = acl(&[r#"
path "r"   { capabilities = ["read"] }
path "l/"  { capabilities = ["list"] }
path "l2"  { capabilities = ["list"] }
path "l3*" { capabilities = ["list"] }
path "c"   { capabilities = ["create"] }
path "u"   { capabilities = ["update"] }
path "p"   { capabilities = ["patch"] }
path "d"   { capabilities = ["delete"] }
path "s"   { capabilities = ["scan"] }
path "su"  { capabilities = ["read", "sudo"] }
path "no"  { capabilities = ["deny"] }
"#]);
    #[rustfmt::skip]
    let cases: &[(&str, Operation, bool)] = &[
        ("r", Read, true), ("r", List, false), ("r", Update, false), ("r", Create, false),
        ("l/", List, true), ("l/", Read, false),
        // A list of `l2/` also finds the exact rule `l2` (trailing slash trimmed)...
        ("l2/", List, true), ("l2", List, true),
        // ...but only for list/scan.
        ("l2/", Read, false),
        ("l3/", List, true), ("l3", List, true),
        ("c", Create, true), ("c", Update, false),
        ("u", Update, true), ("u", Create, false),
        ("u", Renew, true), ("u", Revoke, true), ("u", Rollback, true),
        ("r", Renew, false),
        ("p", Patch, true), ("p", Update, false),
        ("d", Delete, true), ("d", Read, false),
        ("s", Scan, true), ("s", List, false),
        ("s/", Scan, true),
        ("/r", Read, true), ("//r", Read, true),
        ("nomatch", Help, true), ("no", Help, true),
        ("no", Read, false), ("nomatch", Read, false),
    ];
    for (path, op, want) in cases {
        let got = ask(&acl, path, *op, Value::Null, None).allowed;
        assert_eq!(got, *want, "{op:?} {path}");
    }
}

#[test]
fn results_carry_sudo_and_reveal_nothing_when_denied() {
    let acl = acl(&[
        r#"path "sys/audit*" { capabilities = ["read", "sudo"] }"#,
        r#"path "sys/audit/x" { capabilities = ["update"] }"#,
    ]);
    let ok = ask(&acl, "sys/audit", Read, Value::Null, None);
    assert!(ok.allowed && ok.root_privs && !ok.is_root);
    assert_eq!(ok.capabilities, Capabilities::READ | Capabilities::SUDO);
    assert_eq!(ok.granting_policies, vec!["p0".to_string()]);

    let upd = ask(&acl, "sys/audit/x", Update, Value::Null, None);
    assert!(upd.allowed && !upd.root_privs);
    assert_eq!(upd.granting_policies, vec!["p1".to_string()]);

    let denied = ask(&acl, "sys/audit", Delete, Value::Null, None);
    assert_eq!(denied, AclResult::default());
    let nothing = ask(&acl, "elsewhere", Read, Value::Null, None);
    assert_eq!(nothing, AclResult::default());
}

#[test]
fn merged_policies_union_and_deny_wins() {
    let a = r#"path "secret/app" { capabilities = ["read"] }
path "secret/locked" { capabilities = ["read", "sudo"] }"#;
    let b = r#"path "secret/app" { capabilities = ["update"] }
path "secret/locked" { capabilities = ["deny"] }"#;
    let c = r#"path "secret/app" {
  capabilities = ["create"]
  allowed_parameters = { "k" = ["v"] }
}"#;
    #[rustfmt::skip]
    let cases: &[(&[&str], &str, Operation, Value, bool)] = &[
        (&[a, b], "secret/app", Read, Value::Null, true),
        (&[a, b], "secret/app", Update, Value::Null, true),
        (&[a, b], "secret/app", Create, Value::Null, false),
        (&[a, b], "secret/locked", Read, Value::Null, false),
        (&[b, a], "secret/locked", Read, Value::Null, false),
        (&[a], "secret/locked", Read, Value::Null, true),
        // Parameter constraints of one policy apply to the merged rule.
        (&[a, c], "secret/app", Read, json!({"k": "v"}), true),
        (&[a, c], "secret/app", Read, json!({"other": "v"}), false),
    ];
    for (texts, path, op, body, want) in cases {
        let got = ask(&acl(texts), path, *op, body.clone(), None).allowed;
        assert_eq!(got, *want, "{op:?} {path} with {} policies", texts.len());
    }
    let merged = acl(&[a, b]);
    assert_eq!(merged.capabilities("secret/locked"), ["deny"]);
    assert_eq!(merged.capabilities("secret/app"), ["read", "update"]);
}

#[test]
fn merged_wrapping_ttls_keep_the_smallest_bounds() {
    let a = r#"path "w" {
  capabilities = ["read"]
  min_wrapping_ttl = "10s"
  max_wrapping_ttl = "100s"
}"#;
    let b = r#"path "w" {
  capabilities = ["read"]
  min_wrapping_ttl = "20s"
  max_wrapping_ttl = "50s"
}"#;
    let both = acl(&[a, b]);
    #[rustfmt::skip]
    let cases: &[(u64, bool)] = &[(5, false), (10, true), (15, true), (50, true), (60, false), (100, false)];
    for (ttl, want) in cases {
        assert_eq!(
            ask(&both, "w", Read, Value::Null, Some(*ttl)).allowed,
            *want,
            "ttl {ttl}"
        );
    }
    // Merging can give min > max: then nothing is allowed.
    let c = r#"path "w" {
  capabilities = ["read"]
  min_wrapping_ttl = "60s"
}"#;
    let d = r#"path "w" {
  capabilities = ["read"]
  max_wrapping_ttl = "30s"
}"#;
    let crossed = acl(&[c, d]);
    for ttl in [10, 30, 45, 60, 90] {
        assert!(
            !ask(&crossed, "w", Read, Value::Null, Some(ttl)).allowed,
            "ttl {ttl}"
        );
    }
}

#[test]
fn pagination_limits() {
    let limited = r#"path "pg/*" {
  capabilities = ["list", "scan"]
  pagination_limit = 10
}
path "pgreq/*" {
  capabilities = ["list"]
  pagination_limit = 10
  required_parameters = ["limit"]
}
path "free/*" {
  capabilities = ["list"]
}"#;
    let acl = acl(&[limited]);
    #[rustfmt::skip]
    let cases: &[(&str, Value, bool, Option<&str>)] = &[
        ("pg/", Value::Null, true, Some("10")),
        ("pg/", json!({"limit": 5}), true, None),
        ("pg/", json!({"limit": "5"}), true, None),
        ("pg/", json!({"limit": 10}), true, None),
        ("pg/", json!({"limit": 11}), false, None),
        ("pg/", json!({"limit": -1}), false, None),
        ("pg/", json!({"limit": 0}), true, Some("10")),
        ("pg/", json!({"limit": "max"}), true, Some("10")),
        ("pg/", json!({"limit": "lots"}), false, None),
        ("pgreq/", Value::Null, false, None),
        ("pgreq/", json!({"limit": 3}), true, None),
        ("free/", json!({"limit": "max"}), true, Some("0")),
        ("free/", json!({"limit": 1000}), true, None),
    ];
    for (path, body, want, limit) in cases {
        let res = ask(&acl, path, List, body.clone(), None);
        assert_eq!(res.allowed, *want, "{path} {body}");
        assert_eq!(res.limit_override.as_deref(), *limit, "{path} {body}");
    }
}

#[test]
fn response_filter_and_mfa_are_reported() {
    let acl = acl(&[r#"path "kv/metadata/*" {
  capabilities = ["list", "read"]
  list_scan_response_keys_filter_path = "{{ .path }}{{ .key }}"
  mfa_methods = ["totp"]
}"#]);
    let list = ask(&acl, "kv/metadata/", List, Value::Null, None);
    assert!(list.allowed);
    assert_eq!(
        list.response_keys_filter_path.as_deref(),
        Some("{{ .path }}{{ .key }}")
    );
    assert_eq!(list.mfa_methods, vec!["totp".to_string()]);
    let read = ask(&acl, "kv/metadata/x", Read, Value::Null, None);
    assert!(read.allowed);
    assert_eq!(read.response_keys_filter_path, None);
}

#[test]
fn root_acl_allows_everything() {
    let root = Acl::new(&[root_policy()]).unwrap();
    assert!(root.is_root());
    for op in [Read, List, Create, Update, Patch, Delete, Scan, Help, Renew] {
        let res = ask(&root, "sys/raw/anything", op, json!({"x": 1}), None);
        assert!(res.allowed && res.root_privs && res.is_root, "{op:?}");
        assert_eq!(res.capabilities, Capabilities::ROOT);
    }
    assert_eq!(root.capabilities("any/path"), ["root"]);

    // Root cannot be mixed with other policies (OpenBao refuses too).
    let err = Acl::new(&[root_policy(), default_policy()]).unwrap_err();
    assert_eq!(err, PolicyError::RootWithOthers);
    assert_eq!(err.to_string(), "other policies present along with root");

    // A hand-built policy named in another spelling of root is still root.
    let mut shouty = root_policy();
    shouty.name = "ROOT".into();
    assert!(Acl::new(&[shouty]).unwrap().is_root());
}

#[test]
fn unrendered_templates_and_expired_rules_grant_nothing() {
    let acl = acl(&[r#"
path "secret/data/{{identity.entity.id}}/*" { capabilities = ["read"] }
path "temp/gone" {
  capabilities = ["read"]
  expiration = "2001-01-01T00:00:00Z"
}
path "temp/kept" {
  capabilities = ["read"]
  expiration = "2999-01-01T00:00:00Z"
}"#]);
    #[rustfmt::skip]
    let cases: &[(&str, bool)] = &[
        ("secret/data/{{identity.entity.id}}/x", false),
        ("temp/gone", false),
        ("temp/kept", true),
    ];
    for (path, want) in cases {
        assert_eq!(
            ask(&acl, path, Read, Value::Null, None).allowed,
            *want,
            "{path}"
        );
    }
}

#[test]
fn empty_acl_denies() {
    let acl = Acl::new(&[]).unwrap();
    assert!(!acl.is_root());
    assert!(!ask(&acl, "x", Read, Value::Null, None).allowed);
    assert!(ask(&acl, "x", Help, Value::Null, None).allowed);
    assert_eq!(acl.capabilities("x"), ["deny"]);
}
