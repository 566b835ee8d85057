//! The conformance suite: every endpoint Arca implements, driven by the same scripted sequences
//! against Arca (dev) and a live OpenBao 2.7.2 dev server; status codes and response shapes must
//! match unless `allowlist.txt` (deliberate) or `known_gaps.txt` (to fix) covers the difference.

use std::collections::HashSet;

use arca_conformance::allowlist::AllowList;
use arca_conformance::script::{Case, case, run_case, step};
use arca_conformance::servers::{DevServer, Product};
use serde_json::json;

const MERGE_PATCH: &str = "application/merge-patch+json";

fn sys_cases() -> Vec<Case> {
    vec![
        case(
            "sys.status",
            vec![
                step("GET", "sys/seal-status").anonymous(),
                step("GET", "sys/health").anonymous(),
                step("GET", "sys/health?standbyok=true&perfstandbyok=true").anonymous(),
                step("GET", "sys/leader").anonymous(),
                step("GET", "sys/init").anonymous(),
            ],
        ),
        case(
            "sys.keys",
            vec![
                step("GET", "sys/key-status"),
                step("POST", "sys/rotate"),
                step("GET", "sys/key-status"),
                step("GET", "sys/key-status").anonymous(),
            ],
        ),
    ]
}

fn mount_cases() -> Vec<Case> {
    vec![
        case(
            "mounts.crud",
            vec![
                step("GET", "sys/mounts"),
                step("POST", "sys/mounts/conf-kv").body(
                    json!({"type": "kv", "description": "conformance", "options": {"version": "1"}}),
                ),
                step("GET", "sys/mounts/conf-kv"),
                step("POST", "sys/mounts/conf-kv").body(json!({"type": "kv"})),
                step("GET", "sys/mounts"),
                step("DELETE", "sys/mounts/conf-kv"),
                step("GET", "sys/mounts/conf-kv"),
                step("POST", "sys/mounts/conf-bad").body(json!({"type": "no-such-engine"})),
                step("POST", "sys/mounts/conf-notype").body(json!({})),
            ],
        ),
        case(
            "mounts.tune",
            vec![
                step("POST", "sys/mounts/conf-tune").body(json!({"type": "kv"})),
                step("GET", "sys/mounts/conf-tune/tune"),
                step("POST", "sys/mounts/conf-tune/tune").body(json!({
                    "default_lease_ttl": "1h",
                    "max_lease_ttl": "2h",
                    "description": "tuned",
                    "listing_visibility": "unauth"
                })),
                step("GET", "sys/mounts/conf-tune/tune"),
                step("GET", "sys/mounts/secret/tune"),
                step("POST", "sys/mounts/conf-tune/tune").body(json!({"default_lease_ttl": "nonsense"})),
                step("GET", "sys/mounts/conf-none/tune"),
            ],
        ),
        case(
            "mounts.remount",
            vec![
                step("POST", "sys/mounts/conf-from").body(json!({"type": "kv"})),
                step("PUT", "conf-from/k").body(json!({"v": "1"})),
                step("POST", "sys/remount")
                    .body(json!({"from": "conf-from", "to": "conf-to"}))
                    .capture("mid", "/migration_id"),
                step("GET", "sys/remount/status/{mid}").until(200).status_only(),
                step("GET", "conf-to/k").until(200),
                step("GET", "sys/mounts/conf-to"),
                step("POST", "sys/remount").body(json!({"from": "conf-none", "to": "conf-x"})),
                step("POST", "sys/remount").body(json!({"from": "conf-to", "to": "secret"})),
            ],
        ),
        case(
            "auth.list",
            vec![step("GET", "sys/auth"), step("GET", "sys/auth").anonymous()],
        ),
        case(
            "internal.ui.mounts",
            vec![
                step("GET", "sys/internal/ui/mounts"),
                step("GET", "sys/internal/ui/mounts").anonymous(),
                step("GET", "sys/internal/ui/mounts/secret"),
                step("GET", "sys/internal/ui/mounts/secret/some/key"),
                step("GET", "sys/internal/ui/mounts/no-such-mount"),
            ],
        ),
    ]
}

fn policy_cases() -> Vec<Case> {
    let rules = "path \"secret/data/conf/*\" {\n  capabilities = [\"read\", \"list\"]\n}\n";
    vec![
        case(
            "policies.acl",
            vec![
                step("PUT", "sys/policies/acl/conf-p").body(json!({"policy": rules})),
                step("GET", "sys/policies/acl/conf-p"),
                step("LIST", "sys/policies/acl"),
                step("GET", "sys/policies/acl?list=true"),
                step("GET", "sys/policies/acl/default"),
                step("GET", "sys/policies/acl/root"),
                step("PUT", "sys/policies/acl/conf-bad").body(json!({"policy": "path {"})),
                step("PUT", "sys/policies/acl/root").body(json!({"policy": rules})),
                step("DELETE", "sys/policies/acl/default"),
                step("DELETE", "sys/policies/acl/conf-p"),
                step("GET", "sys/policies/acl/conf-p"),
                step("DELETE", "sys/policies/acl/conf-p"),
            ],
        ),
        case(
            "policies.legacy",
            vec![
                step("PUT", "sys/policy/conf-legacy").body(json!({"rules": rules})),
                step("GET", "sys/policy"),
                step("GET", "sys/policy/conf-legacy"),
                step("PUT", "sys/policy/conf-legacy2").body(json!({"policy": rules})),
                step("GET", "sys/policy/conf-legacy2"),
                step("DELETE", "sys/policy/conf-legacy"),
                step("DELETE", "sys/policy/conf-legacy2"),
                step("GET", "sys/policy/conf-legacy"),
            ],
        ),
        case(
            "capabilities",
            vec![
                step("PUT", "sys/policies/acl/conf-cap").body(json!({"policy": rules})),
                step("POST", "auth/token/create")
                    .body(json!({"policies": ["conf-cap"]}))
                    .capture("t", "/auth/client_token")
                    .capture("acc", "/auth/accessor"),
                step("POST", "sys/capabilities")
                    .body(json!({"token": "{t}", "paths": ["secret/data/conf/a", "sys/mounts"]})),
                step("POST", "sys/capabilities")
                    .body(json!({"token": "{t}", "path": "secret/data/conf/a"})),
                step("POST", "sys/capabilities-self")
                    .token_var("t")
                    .body(json!({"paths": ["secret/data/conf/a", "secret/data/other"]})),
                step("POST", "sys/capabilities-self").body(json!({"paths": ["anything"]})),
                step("POST", "sys/capabilities-accessor")
                    .body(json!({"accessor": "{acc}", "paths": ["secret/data/conf/a"]})),
                step("POST", "sys/capabilities")
                    .token_var("t")
                    .body(json!({"token": "{t}", "paths": ["secret/data/conf/a"]})),
                step("POST", "sys/capabilities")
                    .body(json!({"token": "no-such-token", "paths": ["x"]})),
            ],
        ),
    ]
}

fn token_cases() -> Vec<Case> {
    vec![
        case(
            "token.lifecycle",
            vec![
                step("POST", "auth/token/create")
                    .body(json!({
                        "policies": ["default"],
                        "ttl": "1h",
                        "renewable": true,
                        "display_name": "conf",
                        "meta": {"team": "conformance"}
                    }))
                    .capture("t", "/auth/client_token")
                    .capture("acc", "/auth/accessor"),
                step("GET", "auth/token/lookup-self").token_var("t"),
                step("GET", "auth/token/lookup-self"),
                step("POST", "auth/token/lookup").body(json!({"token": "{t}"})),
                step("POST", "auth/token/lookup-accessor").body(json!({"accessor": "{acc}"})),
                step("POST", "auth/token/renew-self")
                    .token_var("t")
                    .body(json!({"increment": "30m"})),
                step("POST", "auth/token/renew").body(json!({"token": "{t}", "increment": "30m"})),
                step("POST", "auth/token/renew-accessor").body(json!({"accessor": "{acc}"})),
                step("LIST", "auth/token/accessors").status_only(),
                step("POST", "auth/token/revoke").body(json!({"token": "{t}"})),
                step("POST", "auth/token/lookup").body(json!({"token": "{t}"})),
                step("GET", "auth/token/lookup-self").token_var("t"),
            ],
        ),
        case(
            "token.revocation",
            vec![
                step("POST", "auth/token/create")
                    .body(json!({"policies": ["default"]}))
                    .capture("parent", "/auth/client_token"),
                step("POST", "auth/token/create")
                    .token_var("parent")
                    .body(json!({"policies": ["default"]}))
                    .capture("child", "/auth/client_token"),
                step("POST", "auth/token/revoke-orphan").body(json!({"token": "{parent}"})),
                step("GET", "auth/token/lookup-self").token_var("child"),
                step("POST", "auth/token/create")
                    .body(json!({"policies": ["default"]}))
                    .capture("a", "/auth/client_token")
                    .capture("a_acc", "/auth/accessor"),
                step("POST", "auth/token/revoke-accessor").body(json!({"accessor": "{a_acc}"})),
                step("GET", "auth/token/lookup-self").token_var("a"),
                step("POST", "auth/token/create")
                    .body(json!({"policies": ["default"]}))
                    .capture("s", "/auth/client_token"),
                step("POST", "auth/token/revoke-self").token_var("s"),
                step("GET", "auth/token/lookup-self").token_var("s"),
                step("POST", "auth/token/create-orphan")
                    .body(json!({"policies": ["default"], "ttl": "10m"})),
                step("POST", "auth/token/create")
                    .body(json!({"type": "batch", "policies": ["default"], "ttl": "10m"}))
                    .capture("b", "/auth/client_token"),
                step("GET", "auth/token/lookup-self").token_var("b"),
                step("POST", "auth/token/lookup").body(json!({"token": "no-such-token"})),
                step("POST", "auth/token/create").body(json!({"ttl": "not-a-duration"})),
            ],
        ),
        case(
            "token.roles",
            vec![
                step("POST", "auth/token/roles/conf-role").body(json!({
                    "allowed_policies": ["default", "conf-x"],
                    "orphan": true,
                    "renewable": true,
                    "token_explicit_max_ttl": "2h"
                })),
                step("GET", "auth/token/roles/conf-role"),
                step("LIST", "auth/token/roles"),
                step("POST", "auth/token/create/conf-role")
                    .body(json!({"policies": ["default"]}))
                    .capture("rt", "/auth/client_token"),
                step("GET", "auth/token/lookup-self").token_var("rt"),
                step("POST", "auth/token/create/conf-role").body(json!({"policies": ["root"]})),
                step("DELETE", "auth/token/roles/conf-role"),
                step("GET", "auth/token/roles/conf-role"),
                step("POST", "auth/token/create/conf-role").body(json!({})),
            ],
        ),
    ]
}

fn kv_cases() -> Vec<Case> {
    vec![
        case(
            "kv1",
            vec![
                step("POST", "sys/mounts/conf-kv1")
                    .body(json!({"type": "kv", "options": {"version": "1"}})),
                step("PUT", "conf-kv1/a").body(json!({"x": "y", "n": 1})),
                step("PUT", "conf-kv1/dir/b").body(json!({"x": "z"})),
                step("GET", "conf-kv1/a"),
                step("LIST", "conf-kv1/"),
                step("GET", "conf-kv1/?list=true"),
                step("LIST", "conf-kv1/dir"),
                step("DELETE", "conf-kv1/a"),
                step("GET", "conf-kv1/a"),
                step("LIST", "conf-kv1/nothing"),
                step("PUT", "conf-kv1/empty").body(json!({})),
            ],
        ),
        case(
            "kv2.data",
            vec![
                step("POST", "secret/data/conf").body(json!({"data": {"a": "1"}})),
                step("GET", "secret/data/conf"),
                step("POST", "secret/data/conf")
                    .body(json!({"options": {"cas": 1}, "data": {"a": "2"}})),
                step("POST", "secret/data/conf")
                    .body(json!({"options": {"cas": 1}, "data": {"a": "3"}})),
                step("GET", "secret/data/conf?version=1"),
                step("PATCH", "secret/data/conf")
                    .content_type(MERGE_PATCH)
                    .body(json!({"data": {"b": "x"}})),
                step("GET", "secret/data/conf"),
                step("GET", "secret/subkeys/conf"),
                step("GET", "secret/data/missing"),
                step("POST", "secret/data/conf").body(json!({"no_data": true})),
            ],
        ),
        case(
            "kv2.versions",
            vec![
                step("POST", "secret/data/conf-v").body(json!({"data": {"a": "1"}})),
                step("POST", "secret/data/conf-v").body(json!({"data": {"a": "2"}})),
                step("POST", "secret/data/conf-v").body(json!({"data": {"a": "3"}})),
                step("DELETE", "secret/data/conf-v"),
                step("GET", "secret/data/conf-v"),
                step("POST", "secret/undelete/conf-v").body(json!({"versions": [3]})),
                step("GET", "secret/data/conf-v"),
                step("POST", "secret/delete/conf-v").body(json!({"versions": [1]})),
                step("POST", "secret/destroy/conf-v").body(json!({"versions": [2]})),
                step("GET", "secret/data/conf-v?version=2"),
                step("GET", "secret/metadata/conf-v"),
            ],
        ),
        case(
            "kv2.metadata",
            vec![
                step("POST", "secret/data/conf-m/one").body(json!({"data": {"a": "1"}})),
                step("POST", "secret/metadata/conf-m/one").body(json!({
                    "max_versions": 5,
                    "cas_required": false,
                    "custom_metadata": {"owner": "conformance"}
                })),
                step("GET", "secret/metadata/conf-m/one"),
                step("PATCH", "secret/metadata/conf-m/one")
                    .content_type(MERGE_PATCH)
                    .body(json!({"max_versions": 6})),
                step("LIST", "secret/metadata/conf-m"),
                step("LIST", "secret/metadata/"),
                step("GET", "secret/config"),
                step("POST", "secret/config").body(json!({"max_versions": 7})),
                step("GET", "secret/config"),
                step("POST", "secret/config").body(json!({"max_versions": 0})),
                step("DELETE", "secret/metadata/conf-m/one"),
                step("GET", "secret/metadata/conf-m/one"),
                step("GET", "secret/data/conf-m/one"),
                step("LIST", "secret/metadata/conf-m"),
            ],
        ),
    ]
}

fn cubbyhole_cases() -> Vec<Case> {
    vec![case(
        "cubbyhole",
        vec![
            step("PUT", "cubbyhole/c").body(json!({"x": "y"})),
            step("GET", "cubbyhole/c"),
            step("LIST", "cubbyhole/"),
            step("POST", "auth/token/create")
                .body(json!({"policies": ["default"]}))
                .capture("t", "/auth/client_token"),
            step("GET", "cubbyhole/c").token_var("t"),
            step("PUT", "cubbyhole/mine")
                .token_var("t")
                .body(json!({"z": "1"})),
            step("GET", "cubbyhole/mine").token_var("t"),
            step("DELETE", "cubbyhole/c"),
            step("GET", "cubbyhole/c"),
            step("LIST", "cubbyhole/"),
        ],
    )]
}

fn error_cases() -> Vec<Case> {
    vec![case(
        "errors",
        vec![
            // 403: no token, unknown token, token without the capability.
            step("GET", "secret/data/x").anonymous(),
            step("GET", "secret/data/x").token("no-such-token"),
            step("POST", "auth/token/create")
                .body(json!({"policies": ["default"]}))
                .capture("t", "/auth/client_token"),
            step("GET", "secret/data/x").token_var("t"),
            step("GET", "sys/mounts").token_var("t"),
            step("POST", "sys/rotate").token_var("t"),
            // 404: nothing routes there.
            step("GET", "no-such-mount/x"),
            step("GET", "sys/no-such-endpoint"),
            // 405: the path exists, the operation does not.
            step("DELETE", "sys/seal-status"),
            step("PUT", "sys/leader"),
            step("DELETE", "sys/key-status"),
            // 400: malformed bodies and arguments.
            step("PUT", "sys/policies/acl/conf-x").raw("{not json"),
            step("PUT", "sys/policies/acl/conf-x").raw("[1, 2]"),
            step("POST", "sys/mounts/conf-e").body(json!({"type": 5})),
            step("POST", "secret/data/conf-e").body(json!({"data": "not an object"})),
        ],
    )]
}

/// Every case, by group.
fn all_cases() -> Vec<Case> {
    let mut v = sys_cases();
    v.extend(mount_cases());
    v.extend(policy_cases());
    v.extend(token_cases());
    v.extend(kv_cases());
    v.extend(cubbyhole_cases());
    v.extend(error_cases());
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arca_answers_like_openbao() {
    let lists = AllowList::all().expect("allow-lists parse");
    let deliberate = AllowList::builtin().expect("allowlist.txt");
    let arca = DevServer::start(Product::Arca)
        .await
        .expect("arca dev server");
    let openbao = DevServer::start(Product::OpenBao)
        .await
        .expect("openbao dev server");
    let cases = all_cases();
    let mut failures = Vec::new();
    let mut gaps = Vec::new();
    let mut deliberate_count = 0usize;
    let mut used = HashSet::new();
    for c in &cases {
        let diffs = run_case(c, &arca, &openbao, &lists)
            .await
            .unwrap_or_else(|e| panic!("case {}: {e}", c.name));
        for d in diffs {
            match &d.allowed_by {
                Some(e) => {
                    used.insert((e.case.clone(), e.pointer.clone()));
                    if deliberate.allows(&d.case, &d.pointer).is_some() {
                        deliberate_count += 1;
                    } else {
                        gaps.push(format!("{d} ({})", e.reason));
                    }
                }
                None => failures.push(d.to_string()),
            }
        }
    }
    let steps: usize = cases.iter().map(|c| c.steps.len()).sum();
    println!(
        "{} cases, {steps} steps compared; {deliberate_count} deliberate differences \
         (allowlist.txt), {} known gaps (known_gaps.txt):",
        cases.len(),
        gaps.len()
    );
    for g in &gaps {
        println!("  {g}");
    }
    assert!(
        failures.is_empty(),
        "{} differences from OpenBao not in allowlist.txt or known_gaps.txt:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let stale: Vec<String> = lists
        .entries()
        .iter()
        .filter(|e| !used.contains(&(e.case.clone(), e.pointer.clone())))
        .map(|e| format!("{} {} ({})", e.case, e.pointer, e.reason))
        .collect();
    // A stale entry is reported, not failed: gaps get fixed by other work in parallel, and the
    // entry is then removed here.
    for e in &stale {
        println!("STALE list entry (covers no difference any more; remove it): {e}");
    }
}
