//! Parsing tables: one line per policy text and the expected outcome (a summary of the rules,
//! or the exact error text with its line).

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use arca_policy::{
    Capabilities, DEFAULT_POLICY_TEXT, PolicyError, default_policy, parse_policy, root_policy,
};
use serde_json::json;

/// `pattern=caps` for each rule, `;`-separated (caps as `sys/capabilities` names them).
fn summary(text: &str) -> Result<String, String> {
    parse_policy("t", text)
        .map(|p| {
            p.paths
                .iter()
                .map(|r| format!("{}={}", r.pattern(), r.capabilities.names().join(",")))
                .collect::<Vec<_>>()
                .join(";")
        })
        .map_err(|e| e.to_string())
}

#[test]
fn accepted_policies() {
    #[rustfmt::skip]
    let cases: &[(&str, &str)] = &[
        ("", ""),
        ("# only a comment\n", ""),
        (r#"path "secret/foo" { capabilities = ["read"] }"#, "secret/foo=read"),
        (r#"path "secret/*" { capabilities = ["read", "list"] }"#, "secret/*=list,read"),
        (r#"path "/lead" { capabilities = ["read"] }"#, "lead=read"),
        (r#"path "a" { capabilities = ["deny", "read", "sudo"] }"#, "a=deny"),
        (r#"path "a" { capabilities = [] }"#, "a=deny"),
        (r#"path "a" { }"#, "a=deny"),
        (r#"path "a" { policy = "read" }"#, "a=list,read"),
        (r#"path "a" { policy = "write" }"#, "a=create,delete,list,read,update"),
        (r#"path "a" { policy = "sudo" }"#, "a=create,delete,list,read,sudo,update"),
        (r#"path "a" { policy = "deny" }"#, "a=deny"),
        (r#"path "a" { capabilities = ["patch", "scan"] }"#, "a=patch,scan"),
        ("name = \"ignored\"\npath \"a\" { capabilities = [\"read\"] }", "a=read"),
        ("path \"a\" {\n  capabilities = [\"read\"]\n}\npath \"a\" {\n  capabilities = [\"list\"]\n}", "a=read;a=list"),
        ("path \"a\" {\n  capabilities = [\"read\"]\n  comment = \"why\"\n  control_group = {}\n}", "a=read"),
        (r#"{"path": {"secret/foo": {"capabilities": ["read"]}}}"#, "secret/foo=read"),
        ("  \n{\"path\": [{\"x/y\": {\"capabilities\": [\"read\"]}}, {\"x/z*\": {\"capabilities\": [\"list\"]}}]}", "x/y=read;x/z*=list"),
        (r#"{"path": {"x": {"capabilities": ["read"]}, "x": {"capabilities": ["list"]}}}"#, "x=read;x=list"),
        (r#"{"path": {"x": [{"capabilities": ["read"]}]}}"#, "x=read"),
    ];
    for (text, want) in cases {
        assert_eq!(summary(text).as_deref(), Ok(*want), "{text}");
    }
}

#[test]
fn rejected_policies_name_the_line() {
    #[rustfmt::skip]
    let cases: &[(&str, &str)] = &[
        ("path \"a\" {\n  capabilities = [\"read\"]\n}\npath \"b\" {\n  capabilities = [\"read\"\n",
         "failed to parse policy: line 5: expected `]`"),
        ("path \"a\" {\n  capabilities = [\"reed\"]\n}",
         "failed to parse policy: line 2: path \"a\": invalid capability \"reed\""),
        ("path \"a\" {\n  capabilities = [\"read\", \"subscribe\"]\n}",
         "failed to parse policy: line 2: path \"a\": invalid capability \"subscribe\""),
        ("path \"a\" {\n  capabilities = [\"read\", 1]\n}",
         "failed to parse policy: line 2: path \"a\": invalid capability \"1\""),
        ("path \"a\" {\n  capabilities = [\"read\"]\n  capabilities = [\"list\"]\n}",
         "failed to parse policy: line 3: duplicate attribute \"capabilities\" (each attribute may be given once)"),
        ("name = \"a\"\nname = \"b\"\n",
         "failed to parse policy: line 2: duplicate attribute \"name\" (each attribute may be given once)"),
        ("path \"a\" {\n  allowed_parameters = {}\n  allowed_parameters {\n  }\n}",
         "failed to parse policy: line 3: path \"a\": duplicate attribute \"allowed_parameters\" (each attribute may be given once)"),
        (r#"{"path": {"a": {"capabilities": ["read"], "capabilities": ["list"]}}}"#,
         "failed to parse policy: path \"a\": duplicate attribute \"capabilities\" (each attribute may be given once)"),
        ("\n\nfoo \"a\" {\n  capabilities = [\"read\"]\n}",
         "failed to parse policy: line 3: invalid key \"foo\""),
        ("path \"a\" {\n  capabilities = [\"read\"]\n  bogus = 1\n}",
         "failed to parse policy: line 3: path \"a\": invalid key \"bogus\""),
        ("path \"a\" {\n  policy = \"bogus\"\n}",
         "failed to parse policy: line 2: path \"a\": invalid policy \"bogus\""),
        ("path \"a\" { capabilities = \"read\" }",
         "failed to parse policy: line 1: path \"a\": capabilities must be a list of strings, found string"),
        ("path \"a+*\" { capabilities = [\"read\"] }",
         "failed to parse policy: line 1: path \"a+*\": invalid use of wildcards ('+*' is forbidden)"),
        ("path \"a\" {\n  capabilities = [\"read\"]\n  min_wrapping_ttl = \"2h\"\n  max_wrapping_ttl = \"1h\"\n}",
         "failed to parse policy: line 1: path \"a\": max_wrapping_ttl cannot be less than min_wrapping_ttl"),
        ("path \"a\" {\n  capabilities = [\"read\"]\n  min_wrapping_ttl = \"abc\"\n}",
         "failed to parse policy: line 3: path \"a\": error parsing min_wrapping_ttl: time: invalid duration \"abc\""),
        ("path \"a\" {\n  capabilities = [\"list\"]\n  pagination_limit = \"x\"\n}",
         "failed to parse policy: line 3: path \"a\": strconv.ParseInt: parsing \"x\": invalid syntax"),
        ("path \"a\" {\n  capabilities = [\"read\"]\n  expiration = \"bogus\"\n}",
         "failed to parse policy: line 3: path \"a\": invalid expiration time: could not parse string as date and time"),
        ("path \"a/{{identity.entity.id\" { capabilities = [\"read\"] }",
         "failed to parse policy: line 1: path \"a/{{identity.entity.id\": failed to validate policy templating: unbalanced templating characters"),
        ("path \"a\" {\n  capabilities = [\"read\"]\n  list_scan_response_keys_filter_path = \"{{ .key }}\"\n}",
         "failed to parse policy: line 3: path \"a\": list_scan_response_keys_filter_path needs to be used on a path with the list capability"),
        ("path \"a\" {\n  capabilities = [\"list\"]\n  list_scan_response_keys_filter_path = \"fixed\"\n}",
         "failed to parse policy: line 3: path \"a\": list_scan_response_keys_filter_path resulted in same path for two different keys"),
        ("path \"a\" {\n  capabilities = [\"read\"]\n  allowed_parameters = {\n    \"x\" = \"y\"\n  }\n}",
         "failed to parse policy: line 4: path \"a\": allowed_parameters: \"x\": expected a list of values, found string"),
        ("path \"a\" {\n  capabilities = [\"read\"]\n  required_parameters = \"x\"\n}",
         "failed to parse policy: line 3: path \"a\": required_parameters: expected a list of strings, found string"),
        ("path = \"a\"",
         "failed to parse policy: line 1: \"path\" must be a block with the path as its label, e.g. path \"secret/*\" { ... }"),
        ("path { capabilities = [\"read\"] }",
         "failed to parse policy: line 1: \"path\" must be a block with the path as its label, e.g. path \"secret/*\" { ... }"),
        ("[1, 2]", "failed to parse policy: line 1: unexpected token"),
        ("{\"path\": {\"a\": {\"capabilities\": [\"read\",]}}}",
         "failed to parse policy: line 1: trailing comma"),
        ("{\"path\": {\"a\": {\"capabilities\": [\"read\"]}}} extra",
         "failed to parse policy: line 1: trailing characters"),
        ("{\"path\": {\"a\": {\"capabilities\": [\"nope\"]}}}",
         "failed to parse policy: path \"a\": invalid capability \"nope\""),
    ];
    for (text, want) in cases {
        assert_eq!(
            summary(text).as_ref().map_err(String::as_str),
            Err(*want),
            "{text}"
        );
    }
}

#[test]
fn rule_fields() {
    let text = r#"
path "secret/+/teamb" {
  capabilities = ["read"]
}
path "secret/+/team*" {
  capabilities = ["list"]
}
path "secret/restricted" {
  capabilities = ["create", "update"]
  allowed_parameters = {
    "Foo" = []
    "bar" = ["zip", "zap", 1, true, null]
  }
  denied_parameters = {
    "*" = []
  }
  required_parameters = ["name", "id"]
  min_wrapping_ttl = 1
  max_wrapping_ttl = "90s"
  pagination_limit = 25
  mfa_methods = ["m1"]
  expiration = "2999-01-02T15:04:05Z"
}
path "ids/{{identity.entity.id}}" {
  capabilities = ["read"]
}
"#;
    let p = parse_policy("  Team-Policy ", text).unwrap();
    assert_eq!(p.name, "team-policy");
    assert_eq!(p.raw, text);
    assert!(p.templated);
    assert_eq!(p.paths.len(), 4);

    let plus = &p.paths[0];
    assert_eq!(
        (
            plus.path.as_str(),
            plus.is_prefix,
            plus.has_segment_wildcards
        ),
        ("secret/+/teamb", false, true)
    );
    assert_eq!(plus.line, Some(2));
    let plus_glob = &p.paths[1];
    assert_eq!(
        (
            plus_glob.path.as_str(),
            plus_glob.is_prefix,
            plus_glob.has_segment_wildcards
        ),
        ("secret/+/team", true, true)
    );

    let r = &p.paths[2];
    assert_eq!(r.capabilities, Capabilities::CREATE | Capabilities::UPDATE);
    assert!(!r.has_segment_wildcards && !r.is_prefix && !r.templated);
    assert_eq!(r.allowed_parameters["foo"], Vec::<serde_json::Value>::new());
    assert_eq!(
        r.allowed_parameters["bar"],
        vec![
            json!("zip"),
            json!("zap"),
            json!(1),
            json!(true),
            json!(null)
        ]
    );
    assert!(r.denied_parameters["*"].is_empty());
    assert_eq!(r.required_parameters, ["name", "id"]);
    assert_eq!(r.min_wrapping_ttl, Some(Duration::from_secs(1)));
    assert_eq!(r.max_wrapping_ttl, Some(Duration::from_secs(90)));
    assert_eq!(r.pagination_limit, Some(25));
    assert_eq!(r.mfa_methods, ["m1"]);
    assert_eq!(
        r.expiration.map(|t| t.to_rfc3339()),
        Some("2999-01-02T15:04:05+00:00".to_string())
    );
    assert!(p.paths[3].templated);

    // The JSON form gives the same rules.
    let json_text = r#"{"path": {"secret/restricted": {
        "capabilities": ["create", "update"],
        "allowed_parameters": {"Foo": [], "bar": ["zip", "zap", 1, true, null]},
        "denied_parameters": {"*": []},
        "required_parameters": ["name", "id"],
        "min_wrapping_ttl": 1, "max_wrapping_ttl": "90s", "pagination_limit": 25,
        "mfa_methods": ["m1"], "expiration": "2999-01-02T15:04:05Z"}}}"#;
    let j = parse_policy("j", json_text).unwrap();
    let mut hcl_rule = r.clone();
    hcl_rule.line = None;
    assert_eq!(j.paths, vec![hcl_rule]);
}

#[test]
fn expired_paths_are_dropped_at_parse() {
    let p = parse_policy(
        "e",
        "path \"old\" {\n  capabilities = [\"read\"]\n  expiration = \"2006-01-02T15:04:05Z\"\n}\npath \"unix\" {\n  capabilities = [\"read\"]\n  expiration = 1136214245\n}\npath \"new\" {\n  capabilities = [\"read\"]\n}",
    )
    .unwrap();
    let kept: Vec<&str> = p.paths.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(kept, ["new"]);
}

#[test]
fn names_are_normalised_and_root_is_reserved() {
    #[rustfmt::skip]
    let cases: &[(&str, Result<&str, PolicyError>)] = &[
        ("dev", Ok("dev")),
        ("DevOps", Ok("devops")),
        (" spaced ", Ok("spaced")),
        ("root", Err(PolicyError::ReservedName)),
        ("ROOT", Err(PolicyError::ReservedName)),
        (" Root ", Err(PolicyError::ReservedName)),
        ("", Err(PolicyError::EmptyName)),
        ("   ", Err(PolicyError::EmptyName)),
    ];
    for (name, want) in cases {
        let got = parse_policy(name, "").map(|p| p.name);
        assert_eq!(
            got.as_deref().map_err(Clone::clone),
            want.clone(),
            "{name:?}"
        );
    }
    assert_eq!(
        PolicyError::ReservedName.to_string(),
        "cannot update \"root\" policy"
    );
}

#[test]
fn builtin_policies() {
    let d = default_policy();
    assert_eq!(d.name, "default");
    assert_eq!(d.raw, DEFAULT_POLICY_TEXT);
    assert!(d.templated);
    assert_eq!(d.paths.len(), 16);
    assert!(DEFAULT_POLICY_TEXT.starts_with("\n# Allow tokens to look up their own properties\n"));
    assert!(DEFAULT_POLICY_TEXT.ends_with("path \"identity/oidc/provider/+/authorize\" {\n    capabilities = [\"read\", \"update\"]\n}\n"));
    let cubby = d.paths.iter().find(|r| r.path == "cubbyhole/").unwrap();
    assert!(cubby.is_prefix);

    let r = root_policy();
    assert_eq!(r.name, "root");
    assert!(r.paths.is_empty() && r.raw.is_empty());
}
