//! `sys/internal/specs/openapi` against the real `arca` binary and a real OpenBao dev server
//! (one of each for the file, the same mounts on both): the document is valid OpenAPI 3 for
//! `openapi-spec-validator`, has OpenBao's path keys and operations for the same mounts, is
//! filtered by the token's policies and served for the request's namespace, `?help=1` carries
//! a path's document, and a time-bounded `schemathesis` run against Arca from the document
//! gets no 5xx at all (OpenBao's own 500s for bad input are 400s in Arca). The Python tools come
//! from `scripts/openapi-tools.sh` (pinned, installed when missing); a machine where they
//! cannot be installed fails this test.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Answer, Server, bao_dev, call, call_with, root_ok};
use serde_json::{Value, json};

/// The python interpreter that has the pinned tools, as the set-up script prints it.
fn tools_python() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/openapi-tools.sh");
    let out = Command::new("bash")
        .arg(&script)
        .output()
        .expect("run scripts/openapi-tools.sh");
    assert!(
        out.status.success(),
        "scripts/openapi-tools.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// The same mounts on a server: KV v1 beside the dev server's KV v2, transit, userpass, PKI,
/// database, approle.
async fn mount_all(s: &Server) {
    root_ok(
        s,
        "POST",
        "sys/mounts/kv-v1",
        Some(json!({"type": "kv", "options": {"version": "1"}})),
    )
    .await;
    root_ok(
        s,
        "POST",
        "sys/mounts/transit",
        Some(json!({"type": "transit"})),
    )
    .await;
    root_ok(
        s,
        "POST",
        "sys/auth/userpass",
        Some(json!({"type": "userpass"})),
    )
    .await;
    for (path, kind) in [
        ("sys/mounts/pki", "pki"),
        ("sys/mounts/database", "database"),
        ("sys/auth/approle", "approle"),
    ] {
        root_ok(s, "POST", path, Some(json!({ "type": kind }))).await;
    }
}

async fn spec(s: &Server, token: Option<&str>, query: &str) -> Answer {
    call(
        s,
        "GET",
        &format!("sys/internal/specs/openapi{query}"),
        token,
        None,
    )
    .await
}

fn path_keys(doc: &Value) -> BTreeSet<String> {
    doc["paths"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// The HTTP methods a path item of `doc` has.
fn methods(doc: &Value, path: &str) -> BTreeSet<String> {
    let item = &doc["paths"][path];
    ["get", "post", "patch", "delete"]
        .into_iter()
        .filter(|m| item.get(*m).is_some())
        .map(String::from)
        .collect()
}

/// The first segment of each path key: the mounts a document covers (`auth/x` for methods).
fn mounts_of(doc: &Value) -> BTreeSet<String> {
    path_keys(doc)
        .into_iter()
        .map(|p| {
            let mut segs = p.trim_start_matches('/').split('/');
            match segs.next() {
                Some("auth") => format!("auth/{}", segs.next().unwrap_or_default()),
                Some(first) => first.to_string(),
                None => String::new(),
            }
        })
        .collect()
}

/// `identity/` paths of OpenBao's document Arca does not serve, each with the reason.
const IDENTITY_OMITTED: &[(&str, &str)] = &[
    (
        "/identity/alias",
        "OpenBao's oldest name for entity aliases (after `persona`): Arca serves \
         `entity-alias` and `persona` only",
    ),
    ("/identity/alias/id", "as /identity/alias"),
    ("/identity/alias/id/{id}", "as /identity/alias"),
    (
        "/identity/mfa/method/duo",
        "Duo, Okta and PingID MFA need their services: Arca serves TOTP only",
    ),
    ("/identity/mfa/method/duo/{method_id}", "as Duo"),
    ("/identity/mfa/method/okta", "as Duo"),
    ("/identity/mfa/method/okta/{method_id}", "as Duo"),
    ("/identity/mfa/method/pingid", "as Duo"),
    ("/identity/mfa/method/pingid/{method_id}", "as Duo"),
];

/// `sys/` paths of OpenBao's document Arca does not serve (a 404 there), each with the reason.
const SYS_OMITTED: &[(&str, &str)] = &[
    (
        "/sys/config/reload/{subsystem}",
        "no reloadable subsystem over the API",
    ),
    (
        "/sys/control-group/authorize",
        "control groups are Vault Enterprise's",
    ),
    (
        "/sys/control-group/request",
        "control groups are Vault Enterprise's",
    ),
    (
        "/sys/decode-token",
        "no encoded root tokens to decode through the API",
    ),
    (
        "/sys/external-keys/configs",
        "no external keys (KMS) configuration",
    ),
    (
        "/sys/external-keys/configs/{config}",
        "as external-keys/configs",
    ),
    (
        "/sys/external-keys/configs/{config}/keys",
        "as external-keys/configs",
    ),
    (
        "/sys/external-keys/configs/{config}/keys/{key}",
        "as external-keys/configs",
    ),
    (
        "/sys/external-keys/configs/{config}/keys/{key}/grants",
        "as external-keys/configs",
    ),
    (
        "/sys/external-keys/configs/{config}/keys/{key}/grants/{mount}",
        "as external-keys/configs",
    ),
    (
        "/sys/generate-root",
        "Arca serves generate-root/attempt only",
    ),
    ("/sys/internal/inspect/request", "no request inspection"),
    ("/sys/internal/inspect/router/{tag}", "no router inspection"),
    ("/sys/internal/ui/namespaces", "not served"),
    (
        "/sys/namespaces/{path}/delete-sealed",
        "a sealed namespace is deleted as any other",
    ),
    ("/sys/policies/detailed/acl", "not served"),
    ("/sys/policies/detailed/acl/{name}", "not served"),
    ("/sys/pprof", "Go's profiler"),
    ("/sys/pprof/allocs", "Go's profiler"),
    ("/sys/pprof/block", "Go's profiler"),
    ("/sys/pprof/cmdline", "Go's profiler"),
    ("/sys/pprof/goroutine", "Go's profiler"),
    ("/sys/pprof/heap", "Go's profiler"),
    ("/sys/pprof/mutex", "Go's profiler"),
    ("/sys/pprof/profile", "Go's profiler"),
    ("/sys/pprof/symbol", "Go's profiler"),
    ("/sys/pprof/threadcreate", "Go's profiler"),
    ("/sys/pprof/trace", "Go's profiler"),
    ("/sys/raw", "raw storage access is not served"),
    ("/sys/raw/{path}", "raw storage access is not served"),
    ("/sys/rekey/recovery-key-backup", "no recovery keys"),
    ("/sys/rotate/config", "no automatic rotation configuration"),
    (
        "/sys/rotate/keyring",
        "Arca's keyring rotation is sys/rotate",
    ),
    ("/sys/rotate/keyring/config", "as rotate/config"),
    ("/sys/rotate/recovery/backup", "no recovery keys"),
    ("/sys/rotate/recovery/init", "no recovery keys"),
    ("/sys/rotate/recovery/update", "no recovery keys"),
    ("/sys/rotate/recovery/verify", "no recovery keys"),
    (
        "/sys/rotate/root",
        "Arca's root-key rotation is sys/rekey/*",
    ),
    ("/sys/rotate/root/backup", "as rotate/root"),
    ("/sys/rotate/root/init", "as rotate/root"),
    ("/sys/rotate/root/update", "as rotate/root"),
    ("/sys/rotate/root/verify", "as rotate/root"),
    ("/sys/workflows/execute/{path}", "no workflows"),
    ("/sys/workflows/manage", "no workflows"),
    ("/sys/workflows/manage/{path}", "no workflows"),
    ("/sys/workflows/trace/{path}", "no workflows"),
];

/// `sys/` paths Arca documents that OpenBao's dev server does not: lease-count quotas, which
/// Arca serves.
const SYS_EXTRA: &[&str] = &["/sys/quotas/lease-count", "/sys/quotas/lease-count/{name}"];

/// Operations of OpenBao's `sys/` paths that Arca does not serve (a 405), by path.
const SYS_OPS_OMITTED: &[(&str, &[&str], &str)] = &[(
    "/sys/policies/acl/{name}",
    &["patch"],
    "no PATCH of an ACL policy (nor LIST of a name prefix)",
)];

/// Flags of `sys/` paths that differ from OpenBao's, each with the reason.
const SYS_FLAGS_DIFFER: &[(&str, &str)] = &[
    (
        "/sys/generate-root/attempt",
        "OpenBao lists it without a token (and disables it: 405); Arca needs a sudo token",
    ),
    ("/sys/generate-root/update", "as generate-root/attempt"),
    (
        "/sys/generate-root-token/attempt",
        "Arca needs a sudo token",
    ),
    ("/sys/generate-root-token/update", "Arca needs a sudo token"),
    ("/sys/rekey/init", "as generate-root/attempt"),
    ("/sys/rekey/update", "as generate-root/attempt"),
    ("/sys/rekey/verify", "as generate-root/attempt"),
    ("/sys/rekey/backup", "Arca needs a sudo token"),
    (
        "/sys/seal",
        "OpenBao's handler checks sudo itself, unflagged; Arca's router does",
    ),
    ("/sys/step-down", "as seal"),
];

/// Every `sys/` path of OpenBao's document that Arca serves is in Arca's with the same
/// operations (but those Arca does not serve), path parameters and flags.
fn sys_paths_match_openbao(a: &Value, b: &Value) {
    let (ours, theirs) = (keys_under(a, "/sys/"), keys_under(b, "/sys/"));
    let omitted = check_omitted(&ours, &theirs, SYS_OMITTED);
    let mut expected: BTreeSet<String> = theirs.difference(&omitted).cloned().collect();
    expected.extend(SYS_EXTRA.iter().map(|p| p.to_string()));
    assert_eq!(ours, expected, "sys/ path keys");
    for path in theirs.difference(&omitted) {
        let mut want = methods(b, path);
        if let Some((_, ops, _)) = SYS_OPS_OMITTED.iter().find(|(p, _, _)| p == path) {
            for op in *ops {
                assert!(want.remove(*op), "OpenBao no longer has {op} on {path}");
            }
        }
        assert_eq!(methods(a, path), want, "operations of {path}");
        assert_eq!(
            path_params(a, path),
            path_params(b, path),
            "path parameters of {path}"
        );
        if SYS_FLAGS_DIFFER.iter().any(|(p, _)| p == path) {
            continue;
        }
        for flag in ["x-vault-sudo", "x-vault-unauthenticated"] {
            assert_eq!(
                a["paths"][path].get(flag),
                b["paths"][path].get(flag),
                "{flag} of {path}"
            );
        }
    }
}

/// The path keys of `doc` that start with `prefix`.
fn keys_under(doc: &Value, prefix: &str) -> BTreeSet<String> {
    path_keys(doc)
        .into_iter()
        .filter(|p| p.starts_with(prefix))
        .collect()
}

/// The paths of an omission list (path, reason), each checked to be documented by OpenBao
/// (`theirs`) and not by Arca (`ours`), so a list entry that no longer applies fails.
fn check_omitted(
    ours: &BTreeSet<String>,
    theirs: &BTreeSet<String>,
    list: &[(&str, &str)],
) -> BTreeSet<String> {
    let omitted: BTreeSet<String> = list.iter().map(|(p, _)| p.to_string()).collect();
    for path in &omitted {
        assert!(theirs.contains(path), "OpenBao no longer has {path}");
        assert!(
            !ours.contains(path),
            "Arca documents {path}: drop its omission"
        );
    }
    omitted
}

/// The names of the path parameters of `path` in `doc`.
fn path_params(doc: &Value, path: &str) -> BTreeSet<String> {
    doc["paths"][path]["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "path")
        .map(|p| p["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Every `identity/` path of OpenBao's document that Arca serves is in Arca's, with the
/// same operations, path parameters and flags; Arca documents none OpenBao does not.
fn identity_paths_match_openbao(a: &Value, b: &Value) {
    let (ours, theirs) = (keys_under(a, "/identity/"), keys_under(b, "/identity/"));
    assert!(theirs.len() > 50, "OpenBao documents {theirs:?}");
    let omitted = check_omitted(&ours, &theirs, IDENTITY_OMITTED);
    let expected: BTreeSet<String> = theirs.difference(&omitted).cloned().collect();
    assert_eq!(ours, expected, "identity/ path keys");
    for path in &expected {
        assert_eq!(methods(a, path), methods(b, path), "operations of {path}");
        assert_eq!(
            path_params(a, path),
            path_params(b, path),
            "path parameters of {path}"
        );
        for flag in ["x-vault-sudo", "x-vault-unauthenticated"] {
            // The provider's userinfo endpoint checks its Bearer token itself in Arca, so it
            // is reached without a Vault token (OpenBao's access token is one).
            if path == "/identity/oidc/provider/{name}/userinfo"
                && flag == "x-vault-unauthenticated"
            {
                assert_eq!(a["paths"][path][flag], true);
                continue;
            }
            assert_eq!(
                a["paths"][path].get(flag),
                b["paths"][path].get(flag),
                "{flag} of {path}"
            );
        }
        // LIST-only paths take `list=true` as OpenBao's.
        let list = |d: &Value| -> Option<Value> {
            d["paths"][path]["get"]["parameters"]
                .as_array()
                .and_then(|ps| ps.iter().find(|p| p["name"] == "list"))
                .map(|p| p["required"].clone())
        };
        assert_eq!(list(a), list(b), "list parameter of {path}");
    }
}

#[tokio::test]
async fn the_openapi_document_is_valid_and_matches_openbao() {
    let python = tools_python();
    let arca = Server::dev();
    let bao = bao_dev();
    mount_all(&arca).await;
    mount_all(&bao).await;

    let a = spec(&arca, Some("root"), "").await;
    let b = spec(&bao, Some("root"), "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(b.status, 200);
    assert_eq!(
        a.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    // The document itself, not Vault's envelope around it.
    let top: BTreeSet<&str> = a
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        top,
        BTreeSet::from(["openapi", "info", "paths", "components"])
    );
    assert_eq!(a.body["openapi"], "3.0.2");
    assert!(a.body["components"]["schemas"].is_object());

    validates(&python, &a.body);
    same_paths_as_openbao(&a.body, &b.body);
    filtered_by_policy(&arca, &bao).await;
    generic_mount_paths(&arca, &bao).await;
    path_help(&arca, &bao).await;
    per_namespace(&arca).await;
    schemathesis_finds_no_server_errors(&python, &arca, &bao, &a.body);
}

/// `openapi-spec-validator` accepts the document.
fn validates(python: &Path, doc: &Value) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(doc).unwrap()).unwrap();
    let out = Command::new(python)
        .args([
            "-c",
            "import json,sys\n\
             from openapi_spec_validator import validate\n\
             validate(json.load(open(sys.argv[1])))\n\
             print('valid')",
        ])
        .arg(&file)
        .output()
        .expect("run openapi-spec-validator");
    assert!(
        out.status.success(),
        "openapi-spec-validator refused the document: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The same path keys and operations as OpenBao's document for the same mounts.
fn same_paths_as_openbao(a: &Value, b: &Value) {
    for path in [
        "/secret/data/{path}",
        "/secret/metadata/{path}",
        "/secret/config",
        "/kv-v1/{path}",
        "/cubbyhole/{path}",
        "/transit/keys/{name}",
        "/transit/encrypt/{name}",
        "/auth/userpass/users/{username}",
        "/auth/userpass/login/{username}",
        "/auth/token/create",
        "/auth/token/lookup-self",
        "/auth/token/roles/{role_name}",
        "/auth/token/accessors",
        "/sys/mounts",
        "/sys/mounts/{path}",
        "/sys/mounts/{path}/tune",
        "/sys/auth/{path}",
        "/sys/policies/acl",
        "/sys/policy/{name}",
        "/sys/internal/specs/openapi",
        "/sys/wrapping/wrap",
        "/sys/tools/random/{urlbytes}",
    ] {
        assert!(b["paths"].get(path).is_some(), "OpenBao has no {path}");
        assert!(a["paths"].get(path).is_some(), "Arca has no {path}");
        assert_eq!(methods(a, path), methods(b, path), "operations of {path}");
        for flag in ["x-vault-sudo", "x-vault-unauthenticated"] {
            assert_eq!(
                a["paths"][path].get(flag),
                b["paths"][path].get(flag),
                "{flag} of {path}"
            );
        }
        // Path parameters as OpenBao declares them.
        assert_eq!(
            path_params(a, path),
            path_params(b, path),
            "path parameters of {path}"
        );
    }
    // LIST is a GET with a required `list=true`.
    let list = &a["paths"]["/auth/token/accessors"]["get"]["parameters"][0];
    assert_eq!(list["name"], "list");
    assert_eq!(list["required"], true);
    // Every mount OpenBao documents, Arca documents too.
    assert_eq!(mounts_of(a), mounts_of(b));
    identity_paths_match_openbao(a, b);
    sys_paths_match_openbao(a, b);
    // Whole mounts: every operation OpenBao documents, and no other, but what is not built.
    for prefix in [
        "/auth/approle/",
        "/database/",
        "/pki/",
        "/transit/",
        "/auth/userpass/",
    ] {
        let ops = |d: &Value| -> BTreeSet<(String, String)> {
            path_keys(d)
                .into_iter()
                .filter(|p| p.starts_with(prefix) && !PKI_NOT_BUILT.iter().any(|n| p.contains(n)))
                .flat_map(|p| {
                    methods(d, &p)
                        .into_iter()
                        .map(move |m| (p.clone(), m))
                        .collect::<Vec<_>>()
                })
                .filter(|(p, m)| !NOT_BUILT.contains(&(p.as_str(), m.as_str())))
                .collect()
        };
        assert_eq!(ops(a), ops(b), "operations under {prefix}");
    }
}

/// Parts of OpenBao's PKI engine Arca does not serve yet (README, differences table): ACME,
/// CEL roles, EAB.
const PKI_NOT_BUILT: &[&str] = &["/acme/", "/cel/", "/pki/eab"];

/// Operations OpenBao documents that Arca does not serve yet: PKI's detailed listing, cluster
/// config, cross-signing, issuer revocation and CRL re-signing, role PATCH; transit's
/// `byok-export` and `derive-key` (transit issue, point 9).
const NOT_BUILT: &[(&str, &str)] = &[
    ("/pki/certs/detailed", "get"),
    ("/pki/config/cluster", "get"),
    ("/pki/config/cluster", "post"),
    ("/pki/intermediate/cross-sign", "post"),
    ("/pki/issuer/{issuer_ref}/resign-crls", "post"),
    ("/pki/issuer/{issuer_ref}/revoke", "post"),
    ("/pki/issuer/{issuer_ref}/sign-revocation-list", "post"),
    ("/pki/roles/{name}", "patch"),
    ("/transit/byok-export/{destination}/{source}", "get"),
    (
        "/transit/byok-export/{destination}/{source}/{version}",
        "get",
    ),
    ("/transit/derive-key/{name}", "post"),
];

/// Only the mounts the token's policies reach; no token: none; a bad token: refused.
async fn filtered_by_policy(arca: &Server, bao: &Server) {
    let policy = r#"path "transit/*" { capabilities = ["read"] }"#;
    let mut docs = Vec::new();
    for s in [arca, bao] {
        root_ok(
            s,
            "PUT",
            "sys/policies/acl/transit-only",
            Some(json!({ "policy": policy })),
        )
        .await;
        let t = root_ok(
            s,
            "POST",
            "auth/token/create",
            Some(json!({"policies": ["transit-only"]})),
        )
        .await;
        let token = t["auth"]["client_token"].as_str().unwrap().to_string();
        let a = spec(s, Some(&token), "").await;
        assert_eq!(a.status, 200, "{}", a.body);
        docs.push(a.body);
        let none = spec(s, None, "").await;
        assert_eq!(none.status, 200);
        assert!(path_keys(&none.body).is_empty(), "{}", none.body["paths"]);
        assert_eq!(spec(s, Some("not-a-token"), "").await.status, 403);
    }
    assert!(mounts_of(&docs[0]).contains("transit"));
    assert!(!mounts_of(&docs[0]).contains("secret"));
    assert_eq!(mounts_of(&docs[0]), mounts_of(&docs[1]));
}

/// `generic_mount_paths=true` names each mount by a parameter, but the singletons.
async fn generic_mount_paths(arca: &Server, bao: &Server) {
    let a = spec(arca, Some("root"), "?generic_mount_paths=true").await;
    let b = spec(bao, Some("root"), "?generic_mount_paths=true").await;
    assert_eq!(a.status, 200);
    for path in [
        "/{transit_mount_path}/keys/{name}",
        "/auth/{userpass_mount_path}/users/{username}",
        "/{kv_v1_mount_path}/{path}",
        "/sys/mounts",
        "/auth/token/create",
        "/cubbyhole/{path}",
    ] {
        assert!(b.body["paths"].get(path).is_some(), "OpenBao has no {path}");
        assert!(a.body["paths"].get(path).is_some(), "Arca has no {path}");
    }
    let param = a.body["paths"]["/{transit_mount_path}/keys/{name}"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "transit_mount_path")
        .cloned()
        .unwrap();
    assert_eq!(param["schema"]["default"], "transit");
    assert_eq!(param["required"], true);
}

/// `?help=1` on a path: the help text and that path's document, no envelope.
async fn path_help(arca: &Server, bao: &Server) {
    for (s, name) in [(arca, "Arca"), (bao, "OpenBao")] {
        for (path, key) in [
            ("secret/data/foo?help=1", "/data/{path}"),
            ("sys/mounts/foo?help=1", "/mounts/{path}"),
            ("auth/token/create?help=1", "/create"),
            ("identity/entity/id/foo?help=1", "/entity/id/{id}"),
            ("identity/oidc/key/foo?help=1", "/oidc/key/{name}"),
        ] {
            let a = call(s, "GET", path, Some("root"), None).await;
            assert_eq!(a.status, 200, "{name} {path}: {}", a.body);
            let keys: BTreeSet<&str> = a
                .body
                .as_object()
                .unwrap()
                .keys()
                .map(|k| k.as_str())
                .collect();
            assert_eq!(
                keys,
                BTreeSet::from(["help", "openapi", "see_also"]),
                "{name} {path}"
            );
            assert!(
                a.body["openapi"]["paths"].get(key).is_some(),
                "{name} {path}: {}",
                a.body["openapi"]["paths"]
            );
        }
    }
}

/// A namespace's document has its own mounts, not the root's.
async fn per_namespace(arca: &Server) {
    root_ok(arca, "POST", "sys/namespaces/team", None).await;
    let ns = [("X-Vault-Namespace", "team")];
    let a = call_with(
        arca,
        "POST",
        "sys/mounts/team-kv",
        Some("root"),
        &ns,
        Some(common::Body::Json(json!({"type": "kv"}))),
    )
    .await;
    assert!(a.status == 200 || a.status == 204, "{}", a.body);
    let a = call_with(
        arca,
        "GET",
        "sys/internal/specs/openapi",
        Some("root"),
        &ns,
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let mounts = mounts_of(&a.body);
    assert!(mounts.contains("team-kv"), "{mounts:?}");
    assert!(!mounts.contains("transit"), "{mounts:?}");
    assert!(!mounts.contains("secret"), "{mounts:?}");
}

/// Paths a generated request must not reach: they seal, step down, rotate, rekey, lock or
/// seal namespaces, revoke tokens or leases (the root token among them), change mounts, audit
/// devices, plugins or quotas (a rate limit would throttle the run itself), or stream the log
/// until the client hangs up (`monitor`).
const UNSAFE_PATHS: &str = "^/sys/(seal|step-down|rotate|rekey|generate-root|init|unseal\
    |audit|namespaces|quotas|leases/revoke|revoke|plugins|remount|storage|raw|mounts/|auth/\
    |config/auditing|loggers|monitor)|^/auth/token/revoke";

/// A `schemathesis` run from the document against Arca, bounded in time, finds no 5xx (every
/// request is sent to OpenBao too, so both servers go through the same states and a failure
/// shows OpenBao's answer; `fixtures/openapi/arca_checks.py`).
fn schemathesis_finds_no_server_errors(python: &Path, arca: &Server, bao: &Server, doc: &Value) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(doc).unwrap()).unwrap();
    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/openapi");
    let out = Command::new(python)
        .current_dir(dir.path())
        .env("PYTHONPATH", &hooks)
        .env("SCHEMATHESIS_HOOKS", "arca_checks")
        .env("ARCA_OPENBAO_URL", format!("{}/v1", bao.addr))
        .env("ARCA_ROOT_TOKEN", "root")
        .args(["-m", "schemathesis.cli", "run"])
        .arg(&file)
        .args(["--url", &format!("{}/v1", arca.addr)])
        .args(["-H", "X-Vault-Token: root"])
        .args(["--checks", "no_server_error"])
        .args(["--exclude-path-regex", UNSAFE_PATHS])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", "8"])
        .args(["--max-time", "90"])
        .args(["--workers", "1"])
        .args(["--seed", "22"])
        .args(["--request-timeout", "10"])
        .args(["--suppress-health-check", "all"])
        .args(["--no-color", "--warnings", "off"])
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found server errors:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The run did test: operations were selected and requests sent.
    assert!(stdout.contains("Tested:"), "{stdout}");
}
