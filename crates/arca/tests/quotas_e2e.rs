//! Resource quotas against the real `arca` binary (and a real OpenBao dev server where
//! OpenBao has the feature): `sys/quotas/rate-limit/*` and `sys/quotas/config` answer as
//! OpenBao's (statuses, bodies, error texts); a client over a rate limit gets OpenBao's 429
//! text and headers; exempt paths are never limited; `block_interval` blocks; the most
//! specific quota wins; role-based quotas limit an approle role's logins; lease-count quotas
//! (Vault's; OpenBao has none) refuse the lease over `max_leases`; quotas survive a restart
//! of a file-storage server and a seal.

mod common;

use std::time::{Duration, Instant};

use arca_testkit::wait_until_async;
use common::{Answer, Server, call, init_unseal, root_call, root_ok, same_answer, servers, unseal};
use serde_json::{Value, json};

/// Sends the same request to Arca and OpenBao and asserts the same answer; Arca's.
async fn same(s: &[Server; 2], method: &str, path: &str, body: Option<Value>) -> Answer {
    same_answer(s, method, path, body, &[]).await
}

/// GETs `path` with the root token until one answer is a 429; that answer.
async fn until_refused(s: &Server, path: &str) -> Answer {
    wait_until_async(
        &format!("a 429 from {path}"),
        Duration::from_secs(30),
        || async {
            let a = root_call(s, "GET", path, None).await;
            (a.status == 429).then_some(a)
        },
    )
    .await
}

/// The value of header `name` of an answer.
fn header(a: &Answer, name: &str) -> Option<String> {
    a.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

#[tokio::test]
async fn rate_limit_quota_endpoints_answer_as_openbao() {
    let s = servers();
    let config = same(&s, "GET", "sys/quotas/config", None).await;
    assert_eq!(
        config.body["data"]["rate_limit_exempt_paths"][4],
        "sys/health"
    );
    assert_eq!(
        same(&s, "LIST", "sys/quotas/rate-limit", None).await.status,
        404
    );
    assert_eq!(
        same(&s, "GET", "sys/quotas/rate-limit/nope", None)
            .await
            .status,
        404
    );

    // Validation, with OpenBao's texts.
    for bad in [
        json!({}),
        json!({"rate": 0}),
        json!({"rate": -1}),
        json!({"rate": "abc"}),
    ] {
        let a = same(&s, "POST", "sys/quotas/rate-limit/q1", Some(bad)).await;
        assert_eq!(a.status, 400, "{}", a.body);
    }
    for bad in [
        json!({"rate": 1.5, "path": "secret", "block_interval": -1}),
        json!({"rate": 1.5, "path": "secret", "interval": -5}),
        json!({"rate": 10, "path": "nomount"}),
        json!({"rate": 10, "path": "secret/", "role": "x"}),
        json!({"rate": 10, "path": "secret/data/foo", "role": "r"}),
    ] {
        let a = same(&s, "POST", "sys/quotas/rate-limit/q4", Some(bad)).await;
        assert_eq!(a.status, 400, "{}", a.body);
    }
    assert_eq!(
        same(
            &s,
            "POST",
            "sys/quotas/rate-limit/q4",
            Some(json!({"rate": 10, "path": "nomount"}))
        )
        .await
        .body,
        json!({"errors": ["invalid mount path \"nomount/\""]})
    );

    // A global quota (inheritable by default), read back field for field.
    let global = json!({"rate": 100000});
    assert_eq!(
        same(&s, "POST", "sys/quotas/rate-limit/q1", Some(global))
            .await
            .status,
        204
    );
    let r = same(&s, "GET", "sys/quotas/rate-limit/q1", None).await;
    assert_eq!(r.body["data"]["inheritable"], true);
    let dup = same(
        &s,
        "POST",
        "sys/quotas/rate-limit/q2",
        Some(json!({"rate": 5})),
    )
    .await;
    assert_eq!(
        dup.body,
        json!({"errors": ["quota rule with similar properties exists under the name \"q1\""]})
    );

    // Mount, path, glob and fractional rates; durations in seconds.
    let writes = [
        (
            "q3",
            json!({"rate": 10, "path": "secret/data/foo", "interval": "1m", "block_interval": "2h"}),
        ),
        (
            "q5",
            json!({"rate": 10, "path": "secret", "inheritable": true}),
        ),
        ("q8", json!({"rate": 10, "path": "secret/*"})),
        (
            "q10",
            json!({"rate": 1.5, "path": "cubbyhole", "interval": 30}),
        ),
    ];
    for (name, body) in writes {
        let path = format!("sys/quotas/rate-limit/{name}");
        assert_eq!(same(&s, "POST", &path, Some(body)).await.status, 204);
        same(&s, "GET", &path, None).await;
    }
    let dup = same(
        &s,
        "POST",
        "sys/quotas/rate-limit/q9",
        Some(json!({"rate": 1, "path": "/secret/"})),
    )
    .await;
    assert_eq!(dup.status, 400);

    // Role-based quotas need an auth mount whose method has roles.
    for (path, body) in [
        ("sys/auth/approle", json!({"type": "approle"})),
        ("sys/auth/userpass", json!({"type": "userpass"})),
    ] {
        same(&s, "POST", path, Some(body)).await;
    }
    let a = same(
        &s,
        "POST",
        "sys/quotas/rate-limit/q6",
        Some(json!({"rate": 10, "path": "auth/userpass", "role": "r"})),
    )
    .await;
    assert_eq!(
        a.body,
        json!({"errors": ["Mount path \"auth/userpass/\" does not support use with role-based quotas"]})
    );
    let body = json!({"rate": 10, "path": "auth/approle", "role": "r"});
    assert_eq!(
        same(&s, "POST", "sys/quotas/rate-limit/q6", Some(body))
            .await
            .status,
        204
    );
    let r = same(&s, "GET", "sys/quotas/rate-limit/q6", None).await;
    assert_eq!(r.body["data"]["path"], "auth/approle/");

    // The list holds every name (OpenBao's order is by id: compared as sets).
    let lists: Vec<Vec<String>> = futures::future::join_all(s.iter().map(|srv| async move {
        let a = root_call(srv, "LIST", "sys/quotas/rate-limit", None).await;
        let mut keys: Vec<String> =
            serde_json::from_value(a.body["data"]["keys"].clone()).unwrap_or_default();
        keys.sort();
        keys
    }))
    .await;
    assert_eq!(lists[0], lists[1]);
    assert_eq!(lists[0], ["q1", "q10", "q3", "q5", "q6", "q8"]);

    // The config: every field written, an absent one as its zero value.
    let a = same(
        &s,
        "POST",
        "sys/quotas/config",
        Some(json!({"enable_rate_limit_response_headers": true})),
    )
    .await;
    assert_eq!(a.status, 204);
    let r = same(&s, "GET", "sys/quotas/config", None).await;
    assert_eq!(r.body["data"]["rate_limit_exempt_paths"], json!([]));
    let body = json!({"rate_limit_exempt_paths": ["sys/health", "secret/open/*"], "enable_rate_limit_audit_logging": true});
    same(&s, "POST", "sys/quotas/config", Some(body)).await;
    same(&s, "GET", "sys/quotas/config", None).await;

    // Delete (twice: absent is fine), then gone.
    assert_eq!(
        same(&s, "DELETE", "sys/quotas/rate-limit/q1", None)
            .await
            .status,
        204
    );
    assert_eq!(
        same(&s, "DELETE", "sys/quotas/rate-limit/q1", None)
            .await
            .status,
        204
    );
    assert_eq!(
        same(&s, "GET", "sys/quotas/rate-limit/q1", None)
            .await
            .status,
        404
    );

    // Outside the root namespace the quota endpoints are not served.
    for srv in &s {
        assert_eq!(
            root_call(srv, "POST", "sys/namespaces/team", None)
                .await
                .status,
            200
        );
    }
    let a = call(&s[0], "GET", "sys/quotas/config", Some("root"), None).await;
    assert_eq!(a.status, 200);
    for srv in &s {
        let a = common::call_with(
            srv,
            "GET",
            "sys/quotas/config",
            Some("root"),
            &[("X-Vault-Namespace", "team")],
            None,
        )
        .await;
        assert_eq!(a.status, 400, "{}", a.body);
    }
    // A namespace quota.
    let body = json!({"rate": 1000, "path": "team/"});
    assert_eq!(
        same(&s, "POST", "sys/quotas/rate-limit/team", Some(body))
            .await
            .status,
        204
    );
    let r = same(&s, "GET", "sys/quotas/rate-limit/team", None).await;
    assert_eq!(r.body["data"]["path"], "team/");
}

#[tokio::test]
async fn over_the_limit_is_openbaos_429_with_its_headers() {
    let s = servers();
    for srv in &s {
        root_ok(srv, "POST", "sys/mounts/kvq", Some(json!({"type": "kv"}))).await;
        root_ok(
            srv,
            "POST",
            "sys/quotas/config",
            Some(json!({"enable_rate_limit_response_headers": true})),
        )
        .await;
        root_ok(
            srv,
            "POST",
            "sys/quotas/rate-limit/kvq",
            Some(json!({"rate": 2, "path": "kvq", "interval": "30s"})),
        )
        .await;
    }
    for srv in &s {
        let first = root_call(srv, "GET", "kvq/x", None).await;
        assert_eq!(first.status, 404);
        assert_eq!(header(&first, "x-ratelimit-limit").as_deref(), Some("2"));
        assert_eq!(
            header(&first, "x-ratelimit-remaining").as_deref(),
            Some("1")
        );
        assert!(header(&first, "x-ratelimit-reset").is_some());
        let refused = until_refused(srv, "kvq/x").await;
        assert_eq!(
            refused.body,
            json!({"errors": ["request path \"kvq/x\": rate limit quota exceeded"]})
        );
        assert_eq!(
            header(&refused, "x-ratelimit-remaining").as_deref(),
            Some("0")
        );
        assert_eq!(header(&refused, "x-ratelimit-limit").as_deref(), Some("2"));
        let retry: u64 = header(&refused, "retry-after")
            .and_then(|v| v.parse().ok())
            .expect("Retry-After");
        assert!(retry <= 30, "Retry-After {retry}");
        // The limit comes before the body is looked at: a body that is not JSON is not a 400.
        let bad = common::call_with(
            srv,
            "POST",
            "kvq/x",
            Some("root"),
            &[],
            Some(common::Body::Text("{not json".into())),
        )
        .await;
        assert_eq!(bad.status, 429, "{}", bad.body);
        // A LIST names its path with the trailing slash, as OpenBao's.
        let list = root_call(srv, "LIST", "kvq/dir", None).await;
        assert_eq!(
            list.body,
            json!({"errors": ["request path \"kvq/dir/\": rate limit quota exceeded"]})
        );
    }
    // Without the headers asked for, none are sent.
    for srv in &s {
        root_ok(srv, "POST", "sys/quotas/config", Some(json!({}))).await;
        let refused = until_refused(srv, "kvq/x").await;
        assert!(header(&refused, "retry-after").is_none());
        assert!(header(&refused, "x-ratelimit-limit").is_none());
    }
}

#[tokio::test]
async fn exempt_paths_are_never_limited() {
    let s = Server::dev();
    root_ok(&s, "POST", "sys/mounts/kve", Some(json!({"type": "kv"}))).await;
    // A global quota of three requests in ten seconds: everything but the exempt paths is
    // limited.
    root_ok(
        &s,
        "POST",
        "sys/quotas/rate-limit/global",
        Some(json!({"rate": 3, "interval": "10s"})),
    )
    .await;
    until_refused(&s, "kve/x").await;
    for _ in 0..20 {
        for path in ["sys/health", "sys/seal-status"] {
            let a = call(&s, "GET", path, None, None).await;
            assert_eq!(a.status, 200, "{path} was limited: {}", a.body);
        }
    }
    // sys/quotas itself is not exempt: the operator's change waits for room too.
    wait_until_async(
        "the quota endpoint to answer",
        Duration::from_secs(30),
        || async {
            let a = root_call(&s, "DELETE", "sys/quotas/rate-limit/global", None).await;
            (a.status == 204).then_some(())
        },
    )
    .await;
    root_ok(
        &s,
        "POST",
        "sys/quotas/rate-limit/kve",
        Some(json!({"rate": 1, "path": "kve", "interval": "60s"})),
    )
    .await;
    root_ok(
        &s,
        "POST",
        "sys/quotas/config",
        Some(json!({"rate_limit_exempt_paths": ["kve/open/*"]})),
    )
    .await;
    for i in 0..20 {
        let a = root_call(&s, "GET", &format!("kve/open/{i}"), None).await;
        assert_eq!(a.status, 404, "an exempt path was limited: {}", a.body);
    }
    until_refused(&s, "kve/closed").await;
}

#[tokio::test]
async fn block_interval_blocks_the_client() {
    let s = Server::dev();
    root_ok(&s, "POST", "sys/mounts/kvb", Some(json!({"type": "kv"}))).await;
    root_ok(
        &s,
        "POST",
        "sys/quotas/config",
        Some(json!({"enable_rate_limit_response_headers": true})),
    )
    .await;
    root_ok(
        &s,
        "POST",
        "sys/quotas/rate-limit/kvb",
        Some(json!({"rate": 5, "path": "kvb", "interval": "1s", "block_interval": "4s"})),
    )
    .await;
    let refused = until_refused(&s, "kvb/x").await;
    let blocked_at = Instant::now();
    let retry: u64 = header(&refused, "retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((3..=4).contains(&retry), "Retry-After {retry}");
    // Without the block the client would be let in again within a fifth of a second.
    wait_until_async("the block to end", Duration::from_secs(20), || async {
        let a = root_call(&s, "GET", "kvb/x", None).await;
        (a.status == 404).then_some(())
    })
    .await;
    let blocked = blocked_at.elapsed();
    assert!(
        blocked >= Duration::from_millis(3500),
        "blocked only {blocked:?}"
    );
}

#[tokio::test]
async fn the_most_specific_quota_wins() {
    let s = Server::dev();
    root_ok(&s, "POST", "sys/mounts/kvm", Some(json!({"type": "kv"}))).await;
    let quotas = [
        (
            "mount",
            json!({"rate": 1, "path": "kvm", "interval": "60s"}),
        ),
        ("open", json!({"rate": 100000, "path": "kvm/open"})),
        (
            "glob",
            json!({"rate": 2, "path": "kvm/glob/*", "interval": "60s"}),
        ),
    ];
    for (name, body) in quotas {
        root_ok(
            &s,
            "POST",
            &format!("sys/quotas/rate-limit/{name}"),
            Some(body),
        )
        .await;
    }
    // The mount's quota: the second request is refused.
    until_refused(&s, "kvm/other").await;
    // The exact path's quota, not the mount's.
    for _ in 0..20 {
        let a = root_call(&s, "GET", "kvm/open", None).await;
        assert_eq!(a.status, 404, "{}", a.body);
    }
    // The glob's: two requests in a minute, whatever the path under it.
    assert_eq!(root_call(&s, "GET", "kvm/glob/a", None).await.status, 404);
    assert_eq!(root_call(&s, "GET", "kvm/glob/b/c", None).await.status, 404);
    assert_eq!(root_call(&s, "GET", "kvm/glob/d", None).await.status, 429);
    // Disabling the mount deletes its quotas, as OpenBao's.
    root_ok(&s, "DELETE", "sys/mounts/kvm", None).await;
    for name in ["mount", "open", "glob"] {
        let a = root_call(&s, "GET", &format!("sys/quotas/rate-limit/{name}"), None).await;
        assert_eq!(a.status, 404, "{name}: {}", a.body);
    }
}

#[tokio::test]
async fn role_quotas_limit_one_roles_logins() {
    let s = Server::dev();
    root_ok(
        &s,
        "POST",
        "sys/auth/approle",
        Some(json!({"type": "approle"})),
    )
    .await;
    let mut ids = Vec::new();
    for role in ["limited", "free"] {
        root_ok(
            &s,
            "POST",
            &format!("auth/approle/role/{role}"),
            Some(json!({"bind_secret_id": false, "secret_id_bound_cidrs": ["127.0.0.0/8"]})),
        )
        .await;
        let r = root_ok(
            &s,
            "GET",
            &format!("auth/approle/role/{role}/role-id"),
            None,
        )
        .await;
        ids.push(r["data"]["role_id"].as_str().expect("role_id").to_string());
    }
    root_ok(
        &s,
        "POST",
        "sys/quotas/rate-limit/limited",
        Some(json!({"rate": 1, "path": "auth/approle", "role": "limited", "interval": "60s"})),
    )
    .await;
    let login = |id: String| {
        let s = &s;
        async move {
            call(
                s,
                "POST",
                "auth/approle/login",
                None,
                Some(json!({ "role_id": id })),
            )
            .await
        }
    };
    assert_eq!(login(ids[0].clone()).await.status, 200);
    let refused = login(ids[0].clone()).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(
        refused.body,
        json!({"errors": ["request path \"auth/approle/login\": rate limit quota exceeded"]})
    );
    for _ in 0..5 {
        assert_eq!(login(ids[1].clone()).await.status, 200);
    }
}

#[tokio::test]
async fn lease_count_quota_refuses_the_lease_over_max() {
    let s = Server::dev();
    let a = root_call(
        &s,
        "POST",
        "sys/quotas/lease-count/tokens",
        Some(json!({"max_leases": 0, "path": "auth/token"})),
    )
    .await;
    assert_eq!(a.body, json!({"errors": ["'max_leases' is invalid"]}));
    root_ok(
        &s,
        "POST",
        "sys/quotas/lease-count/tokens",
        Some(json!({"max_leases": 2, "path": "auth/token"})),
    )
    .await;
    let r = root_ok(&s, "GET", "sys/quotas/lease-count/tokens", None).await;
    assert_eq!(
        r["data"],
        json!({"name": "tokens", "path": "auth/token/", "type": "lease-count", "max_leases": 2,
               "counter": 0, "role": "", "inheritable": false})
    );
    let r = root_ok(&s, "LIST", "sys/quotas/lease-count", None).await;
    assert_eq!(r["data"]["keys"], json!(["tokens"]));
    // Root tokens' leases do not count (Vault's rule): a child with the root policy is one.
    root_ok(&s, "POST", "auth/token/create", Some(json!({"ttl": "1h"}))).await;
    let r = root_ok(&s, "GET", "sys/quotas/lease-count/tokens", None).await;
    assert_eq!(r["data"]["counter"], 0);
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let r = root_ok(
            &s,
            "POST",
            "auth/token/create",
            Some(json!({"ttl": "1h", "policies": ["default"]})),
        )
        .await;
        tokens.push(
            r["auth"]["client_token"]
                .as_str()
                .expect("token")
                .to_string(),
        );
    }
    let over = root_call(
        &s,
        "POST",
        "auth/token/create",
        Some(json!({"ttl": "1h", "policies": ["default"]})),
    )
    .await;
    assert_eq!(over.status, 429, "{}", over.body);
    assert_eq!(
        over.body,
        json!({"errors": ["1 error occurred:\n\t* request path \"auth/token/create\": lease count quota exceeded\n\n"]})
    );
    let r = root_ok(&s, "GET", "sys/quotas/lease-count/tokens", None).await;
    assert_eq!(r["data"]["counter"], 2);
    // A revoked lease makes room again.
    root_ok(
        &s,
        "POST",
        "auth/token/revoke",
        Some(json!({"token": tokens[0]})),
    )
    .await;
    wait_until_async("the counter to drop", Duration::from_secs(10), || async {
        let r = root_ok(&s, "GET", "sys/quotas/lease-count/tokens", None).await;
        (r["data"]["counter"] == 1).then_some(())
    })
    .await;
    assert_eq!(
        root_call(
            &s,
            "POST",
            "auth/token/create",
            Some(json!({"ttl": "1h", "policies": ["default"]}))
        )
        .await
        .status,
        200
    );
    // Raising the limit counts the leases already there.
    root_ok(
        &s,
        "POST",
        "sys/quotas/lease-count/tokens",
        Some(json!({"max_leases": 5, "path": "auth/token"})),
    )
    .await;
    let r = root_ok(&s, "GET", "sys/quotas/lease-count/tokens", None).await;
    assert_eq!(r["data"]["counter"], 2);
    assert_eq!(
        root_ok(&s, "DELETE", "sys/quotas/lease-count/tokens", None).await,
        Value::Null
    );
}

#[tokio::test]
async fn lease_count_quotas_are_not_in_openbao() {
    // The deviation the README records: OpenBao 2.7.2 has no lease-count quotas.
    let bao = common::bao_dev();
    let a = root_call(
        &bao,
        "POST",
        "sys/quotas/lease-count/x",
        Some(json!({"max_leases": 1})),
    )
    .await;
    assert_eq!(a.status, 404, "{}", a.body);
}

#[tokio::test]
async fn quotas_survive_a_restart_and_a_seal() {
    let s = Server::with_file_storage(None);
    let (key, root) = init_unseal(&s).await;
    let root = root.as_str();
    let writes = [
        ("sys/mounts/kvr", json!({"type": "kv"})),
        (
            "sys/quotas/rate-limit/kvr",
            json!({"rate": 1, "path": "kvr", "interval": "1h", "block_interval": "10s"}),
        ),
        ("sys/quotas/lease-count/all", json!({"max_leases": 50})),
        (
            "sys/quotas/config",
            json!({"enable_rate_limit_response_headers": true, "rate_limit_exempt_paths": ["sys/health"]}),
        ),
    ];
    for (path, body) in writes {
        let a = call(&s, "POST", path, Some(root), Some(body)).await;
        assert_eq!(a.status, 204, "{path}: {}", a.body);
    }
    let reads = [
        "sys/quotas/rate-limit/kvr",
        "sys/quotas/lease-count/all",
        "sys/quotas/config",
    ];
    let mut before = Vec::new();
    for path in reads {
        before.push(call(&s, "GET", path, Some(root), None).await.body["data"].clone());
    }
    let dir = s.stop();
    let s = Server::with_file_storage(dir);
    unseal(&s, &key).await;
    for (path, was) in reads.iter().zip(&before) {
        let now = call(&s, "GET", path, Some(root), None).await;
        assert_eq!(&now.body["data"], was, "{path} after the restart");
    }
    assert_eq!(before[0]["block_interval"], 10);
    // Still enforced: one request an hour.
    assert_eq!(call(&s, "GET", "kvr/x", Some(root), None).await.status, 404);
    assert_eq!(call(&s, "GET", "kvr/x", Some(root), None).await.status, 429);
    // And after a seal and an unseal.
    let a = call(&s, "POST", "sys/seal", Some(root), None).await;
    assert_eq!(a.status, 204, "{}", a.body);
    unseal(&s, &key).await;
    let again = call(&s, "GET", reads[0], Some(root), None).await;
    assert_eq!(again.body["data"], before[0]);
}

/// The audit entries in the file at `path` whose error says a rate limit refused the request.
fn refusal_entries(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| {
            e["error"]
                .as_str()
                .is_some_and(|t| t.contains("rate limit quota exceeded"))
        })
        .collect()
}

/// With `enable_rate_limit_audit_logging`, a refused request is audited as OpenBao audits it:
/// a request entry only, without a token, its error the refusal; without it, nothing.
#[tokio::test]
async fn refused_requests_are_audited_when_asked() {
    const CONFIG: &str = "unsafe_allow_api_audit_creation = true\n";
    let dir = tempfile::tempdir().expect("tempdir");
    let s = [
        Server::with_config_extra(None, CONFIG),
        common::bao_with_config_extra(CONFIG),
    ];
    let arca_root = init_unseal(&s[0]).await.1;
    let bao_root = init_unseal(&s[1]).await.1;
    let tokens = [arca_root.as_str(), bao_root.as_str()];
    let mut logs = Vec::new();
    for (i, (srv, token)) in s.iter().zip(tokens).enumerate() {
        let log = dir.path().join(format!("audit-{i}.log"));
        let ok = |a: Answer| assert!(a.status < 300, "{}", a.body);
        ok(call(
            srv,
            "PUT",
            "sys/audit/file",
            Some(token),
            Some(json!({"type": "file", "options": {"file_path": log.display().to_string()}})),
        )
        .await);
        ok(call(
            srv,
            "POST",
            "sys/mounts/kva",
            Some(token),
            Some(json!({"type": "kv"})),
        )
        .await);
        ok(call(
            srv,
            "POST",
            "sys/quotas/rate-limit/kva",
            Some(token),
            Some(json!({"rate": 1, "path": "kva", "interval": "1m"})),
        )
        .await);
        logs.push(log);
    }
    // Not asked for: a refusal leaves no entry.
    for (i, (srv, token)) in s.iter().zip(tokens).enumerate() {
        wait_until_async("a 429", Duration::from_secs(30), || async {
            let a = call(srv, "GET", "kva/quiet", Some(token), None).await;
            (a.status == 429).then_some(())
        })
        .await;
        assert!(refusal_entries(&logs[i]).is_empty(), "server {i}");
    }
    let mut entries = Vec::new();
    for (i, (srv, token)) in s.iter().zip(tokens).enumerate() {
        let a = call(
            srv,
            "POST",
            "sys/quotas/config",
            Some(token),
            Some(json!({"enable_rate_limit_audit_logging": true})),
        )
        .await;
        assert!(a.status < 300, "{}", a.body);
        let a = call(
            srv,
            "POST",
            "kva/loud",
            Some(token),
            Some(json!({"k": "v"})),
        )
        .await;
        assert_eq!(a.status, 429, "{}", a.body);
        let found = wait_until_async("the refusal's audit entry", Duration::from_secs(10), || {
            let log = logs[i].clone();
            async move {
                refusal_entries(&log)
                    .into_iter()
                    .find(|e| e["request"]["path"] == "kva/loud")
            }
        })
        .await;
        entries.push(found);
    }
    for e in &entries {
        assert_eq!(e["type"], "request", "{e}");
        assert_eq!(
            e["error"],
            "request path \"kva/loud\": rate limit quota exceeded"
        );
        assert_eq!(e["request"]["operation"], "update");
        // Nothing was authenticated: no token in the entry.
        assert!(
            e["auth"]["client_token"].as_str().unwrap_or("").is_empty(),
            "{e}"
        );
        assert!(
            e["request"]["client_token"]
                .as_str()
                .unwrap_or("")
                .is_empty()
        );
        // The body's values are hashed.
        assert!(
            e["request"]["data"]["k"]
                .as_str()
                .is_some_and(|v| v.starts_with("hmac-sha256:")),
            "{e}"
        );
    }
    let keys = |v: &Value| -> Vec<String> {
        v.as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    assert_eq!(keys(&entries[0]), keys(&entries[1]));
    // Only the request line: no response entry follows for the refused request.
    for log in &logs {
        let responses = std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["type"] == "response" && e["request"]["path"] == "kva/loud")
            .count();
        assert_eq!(responses, 0);
    }
}
