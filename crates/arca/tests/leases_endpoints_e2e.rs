//! Issue 11 end to end: `sys/leases/*` and `arca lease ...` against the real `arca` binary and a
//! real OpenBao 2.7.2 dev server side by side. Every error text and status (unknown lease,
//! missing `lease_id`, malformed `increment`/`sync`/`include_child_namespaces`, writes to a path
//! ending in `/`, `revoke-prefix` without `sudo`), the shapes of lookup, list and count, token
//! leases (a token created with a TTL holds one), and the `arca lease` and `bao lease` CLIs
//! against both servers. Arca also serves the older `sys/renew`, `sys/revoke`,
//! `sys/revoke-prefix` and `sys/revoke-force`, which OpenBao 2.7.2 no longer has.

mod common;

use common::lease_plugin::{
    configure_lease_plugin, dev_with_lease_plugin, lease_plugin_cred, lease_plugin_stat,
};
use common::{
    Server, bao_dev, call, create_token, normalise, normalise_json, run_arca, run_bao, same_bao,
    same_cli, write_policy,
};
use std::time::Duration;

use arca_testkit::wait_until_async;
use serde_json::{Value, json};

/// Status and normalised body of one request on both servers, Arca first.
async fn both(
    arca: &Server,
    bao: &Server,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> [(u16, Value); 2] {
    let mut out = Vec::new();
    for s in [arca, bao] {
        let r = call(s, method, path, Some(token), body.clone()).await;
        out.push((r.status, normalise_json(&r.body)));
    }
    [out[0].clone(), out[1].clone()]
}

async fn same(arca: &Server, bao: &Server, token: &str, method: &str, path: &str, body: Value) {
    let body = (!body.is_null()).then_some(body);
    let [a, b] = both(arca, bao, token, method, path, body.clone()).await;
    assert_eq!(
        a, b,
        "{method} {path} {body:?} (left: Arca, right: OpenBao)"
    );
}

/// The lease ids under `auth/token/create/` on `s` (LIST as root); none is the empty list's
/// 404.
async fn token_lease_ids(s: &Server) -> Vec<String> {
    let r = call(
        s,
        "LIST",
        "sys/leases/lookup/auth/token/create/",
        Some("root"),
        None,
    )
    .await;
    if r.status == 404 {
        return Vec::new();
    }
    assert_eq!(r.status, 200, "{}: {}", s.addr, r.body);
    r.body["data"]["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| format!("auth/token/create/{}", k.as_str().expect("key")))
        .collect()
}

/// The lease id of the token `accessor` names: the one lease of `after` not in `before`.
fn new_lease(before: &[String], after: &[String]) -> String {
    let fresh: Vec<&String> = after.iter().filter(|id| !before.contains(id)).collect();
    assert_eq!(
        fresh.len(),
        1,
        "one new lease expected: {before:?} -> {after:?}"
    );
    fresh[0].clone()
}

/// The shape of a JSON value: keys and value types.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.first().map(shape).into_iter().collect()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => Value::Null,
    }
}

#[tokio::test]
async fn lease_endpoints_answer_as_openbao() {
    let arca = Server::dev();
    let bao = bao_dev();
    let (a, b) = (&arca, &bao);

    // Bad input and unknown leases: the same status and text on both.
    let cases: Vec<(&str, &str, Value)> = vec![
        ("PUT", "sys/leases/lookup", json!({"lease_id": "nope"})),
        ("PUT", "sys/leases/lookup", json!({})),
        ("PUT", "sys/leases/lookup/", json!({"lease_id": "nope"})),
        ("PUT", "sys/leases/lookup/auth", Value::Null),
        ("GET", "sys/leases/lookup", Value::Null),
        ("PUT", "sys/leases/renew", json!({"lease_id": "nope"})),
        ("PUT", "sys/leases/renew", json!({})),
        ("PUT", "sys/leases/renew/nope/x", Value::Null),
        ("PUT", "sys/leases/renew/", json!({"lease_id": "nope"})),
        (
            "PUT",
            "sys/leases/renew",
            json!({"lease_id": "x", "increment": "abc"}),
        ),
        (
            "PUT",
            "sys/leases/renew",
            json!({"lease_id": "x", "increment": -5}),
        ),
        ("PUT", "sys/leases/revoke", json!({"lease_id": "nope"})),
        ("PUT", "sys/leases/revoke", json!({})),
        ("PUT", "sys/leases/revoke/nope", Value::Null),
        ("PUT", "sys/leases/revoke/nope", json!({"sync": false})),
        (
            "PUT",
            "sys/leases/revoke",
            json!({"lease_id": "x", "sync": "abc"}),
        ),
        ("PUT", "sys/leases/revoke-prefix/nope", Value::Null),
        (
            "PUT",
            "sys/leases/revoke-prefix/nope",
            json!({"sync": false}),
        ),
        ("PUT", "sys/leases/revoke-prefix/nope/", Value::Null),
        ("PUT", "sys/leases/revoke-prefix", Value::Null),
        ("PUT", "sys/leases/revoke-force/nope", Value::Null),
        ("PUT", "sys/leases/revoke-force/nope/", json!({})),
        ("PUT", "sys/leases/tidy", Value::Null),
        ("PUT", "sys/leases/tidy/", Value::Null),
        ("GET", "sys/leases/count?type=irrevocable", Value::Null),
        (
            "GET",
            "sys/leases/count?type=irrevocable&foo=1",
            Value::Null,
        ),
        ("GET", "sys/leases/count", Value::Null),
        ("GET", "sys/leases/count?type=all", Value::Null),
        (
            "GET",
            "sys/leases/count?type=irrevocable&include_child_namespaces=abc",
            Value::Null,
        ),
        ("PUT", "sys/leases/count", Value::Null),
        ("GET", "sys/leases?type=irrevocable", Value::Null),
        ("GET", "sys/leases?type=IRREVOCABLE&limit=none", Value::Null),
        ("GET", "sys/leases?type=irrevocable&limit=5", Value::Null),
        ("GET", "sys/leases", Value::Null),
        ("LIST", "sys/leases/lookup/nope/", Value::Null),
    ];
    for (method, path, body) in cases {
        same(a, b, "root", method, path, body).await;
    }

    // OpenBao answers a bad `limit` with a 500; Arca with a 400 of the same text.
    for (query, text) in [
        (
            "limit=abc",
            "invalid 'limit' provided: strconv.Atoi: parsing \"abc\": invalid syntax",
        ),
        ("limit=-1", "limit must be 'none' or a positive integer"),
    ] {
        let path = format!("sys/leases?type=irrevocable&{query}");
        let [ra, rb] = both(a, b, "root", "GET", &path, None).await;
        assert_eq!(rb.0, 500, "{path}: {:?}", rb.1);
        assert_eq!(
            rb.1,
            json!({"errors": [format!("1 error occurred:\n\t* {text}\n\n")]})
        );
        assert_eq!(ra, (400, json!({"errors": [text]})), "{path}");
    }

    // Token leases: a token with a TTL holds one under auth/token/create/.
    let mut ids = Vec::new();
    let mut tokens = Vec::new();
    for s in [a, b] {
        let before = token_lease_ids(s).await;
        let (t, _) = create_token(s, "root", json!({"policies": ["default"], "ttl": "1h"})).await;
        ids.push(new_lease(&before, &token_lease_ids(s).await));
        tokens.push(t);
    }
    same(a, b, "root", "LIST", "sys/leases/lookup/", Value::Null).await;
    same(a, b, "root", "LIST", "sys/leases/lookup", Value::Null).await;
    same(a, b, "root", "LIST", "sys/leases/lookup/auth/", Value::Null).await;
    same(
        a,
        b,
        "root",
        "LIST",
        "sys/leases/lookup/auth/token",
        Value::Null,
    )
    .await;
    let mut lookups = Vec::new();
    for (s, id) in [a, b].into_iter().zip(&ids) {
        let r = call(
            s,
            "PUT",
            "sys/leases/lookup",
            Some("root"),
            Some(json!({"lease_id": id})),
        )
        .await;
        assert_eq!(r.status, 200, "{}: {}", s.addr, r.body);
        let d = &r.body["data"];
        assert_eq!(d["id"], json!(id));
        assert_eq!(d["path"], "auth/token/create");
        assert_eq!(d["renewable"], true);
        assert_eq!(d["last_renewal"], Value::Null);
        let ttl = d["ttl"].as_i64().expect("ttl");
        assert!((3590..=3600).contains(&ttl), "{}: ttl {ttl}", s.addr);
        lookups.push(shape(&normalise_json(&r.body)));
    }
    assert_eq!(lookups[0], lookups[1], "lookup shape (left: Arca)");

    // A token's lease is renewed through auth/token/renew only; the default policy lets a
    // token look leases up and ask for renewals.
    for (s, (id, t)) in [a, b].into_iter().zip(ids.iter().zip(&tokens)) {
        for token in ["root", t.as_str()] {
            let r = call(
                s,
                "PUT",
                "sys/leases/renew",
                Some(token),
                Some(json!({"lease_id": id})),
            )
            .await;
            assert_eq!(
                (r.status, r.body),
                (
                    400,
                    json!({"errors": ["tokens cannot be renewed through this endpoint"]})
                ),
                "{}",
                s.addr
            );
        }
        let r = call(
            s,
            "PUT",
            "sys/leases/lookup",
            Some(t),
            Some(json!({"lease_id": id})),
        )
        .await;
        assert_eq!(r.status, 200, "{}: {}", s.addr, r.body);
    }
    for (s, t) in [a, b].into_iter().zip(&tokens) {
        let r = call(
            s,
            "PUT",
            "sys/leases/lookup",
            Some(t),
            Some(json!({"lease_id": "nope"})),
        )
        .await;
        assert_eq!(
            (r.status, r.body),
            (400, json!({"errors": ["invalid lease"]})),
            "{}",
            s.addr
        );
    }

    // revoke-prefix, revoke-force and the list need sudo: update alone is refused with 403.
    let rules = "path \"sys/leases/revoke-prefix/*\" {\n  capabilities = [\"update\"]\n}\npath \"sys/leases/revoke-force/*\" {\n  capabilities = [\"update\"]\n}\npath \"sys/leases/lookup/*\" {\n  capabilities = [\"list\"]\n}\n";
    let sudo_rules = rules.replace("\"update\"]", "\"update\", \"sudo\"]");
    let mut limited = Vec::new();
    let mut sudoers = Vec::new();
    for s in [a, b] {
        write_policy(s, "leaser", rules).await;
        write_policy(s, "lease-sudo", &sudo_rules).await;
        limited.push(
            create_token(s, "root", json!({"policies": ["leaser"]}))
                .await
                .0,
        );
        sudoers.push(
            create_token(s, "root", json!({"policies": ["lease-sudo"]}))
                .await
                .0,
        );
    }
    for (method, path) in [
        ("PUT", "sys/leases/revoke-prefix/auth/token/create/x"),
        ("PUT", "sys/leases/revoke-force/auth/token/create/x"),
        ("LIST", "sys/leases/lookup/auth/"),
    ] {
        let mut answers = Vec::new();
        for (s, t) in [a, b].into_iter().zip(&limited) {
            let r = call(s, method, path, Some(t), None).await;
            answers.push((r.status, normalise_json(&r.body)));
        }
        assert_eq!(answers[0].0, 403, "{method} {path}: {:?}", answers[0]);
        assert_eq!(answers[0], answers[1], "{method} {path} (left: Arca)");
    }
    for (s, t) in [a, b].into_iter().zip(&sudoers) {
        let r = call(
            s,
            "PUT",
            "sys/leases/revoke-prefix/auth/token/create/x",
            Some(t),
            None,
        )
        .await;
        assert_eq!(r.status, 204, "{}: {}", s.addr, r.body);
    }

    // Revoking a token's lease (a prefix naming exactly that lease) revokes the token.
    for (s, (id, t)) in [a, b].into_iter().zip(ids.iter().zip(&tokens)) {
        let r = call(
            s,
            "PUT",
            &format!("sys/leases/revoke-prefix/{id}"),
            Some("root"),
            Some(json!({"sync": true})),
        )
        .await;
        assert_eq!(r.status, 204, "{}: {}", s.addr, r.body);
        let r = call(s, "GET", "auth/token/lookup-self", Some(t), None).await;
        assert_eq!(r.status, 403, "{}: revoked token still works", s.addr);
        let r = call(
            s,
            "PUT",
            "sys/leases/lookup",
            Some("root"),
            Some(json!({"lease_id": id})),
        )
        .await;
        assert_eq!(
            (r.status, r.body),
            (400, json!({"errors": ["invalid lease"]}))
        );
    }
}

#[tokio::test]
async fn arca_serves_the_older_aliases() {
    let arca = Server::dev();
    let bao = bao_dev();
    for (path, body, status, errors) in [
        (
            "sys/renew",
            json!({"lease_id": "nope"}),
            400,
            json!(["lease not found"]),
        ),
        (
            "sys/renew/nope",
            Value::Null,
            400,
            json!(["lease not found"]),
        ),
        (
            "sys/renew",
            json!({}),
            400,
            json!(["lease_id must be specified"]),
        ),
        ("sys/revoke", json!({"lease_id": "nope"}), 204, Value::Null),
        ("sys/revoke/nope", Value::Null, 204, Value::Null),
        ("sys/revoke-prefix/nope", Value::Null, 204, Value::Null),
        ("sys/revoke-force/nope", Value::Null, 204, Value::Null),
    ] {
        let body = (!body.is_null()).then_some(body);
        let r = call(&arca, "PUT", path, Some("root"), body.clone()).await;
        let got = if errors.is_null() {
            r.body.clone()
        } else {
            r.body["errors"].clone()
        };
        assert_eq!((r.status, got), (status, errors), "{path}");
        // OpenBao 2.7.2 no longer routes them (README: deliberate differences).
        let r = call(&bao, "PUT", path, Some("root"), body).await;
        assert_eq!(r.status, 404, "OpenBao {path}: {}", r.body);
    }
}

#[tokio::test]
async fn lease_cli_matches_bao() {
    let arca = Server::dev();
    let bao = bao_dev();
    let (a, b) = (&arca, &bao);
    for args in [
        &["lease", "lookup", "nope"][..],
        &["lease", "lookup"],
        &["lease", "lookup", "a", "b"],
        &["lease", "renew", "nope"],
        &["lease", "renew", "-increment=10m", "nope"],
        &["lease", "renew", "-increment=abc", "nope"],
        &["lease", "renew", "a", "b"],
        &["lease", "renew"],
        &["lease", "revoke", "nope"],
        &["lease", "revoke", "-sync", "nope"],
        &["lease", "revoke", "-prefix", "nope"],
        &["lease", "revoke", "-prefix", "-sync", "nope"],
        &["lease", "revoke", "-force", "nope"],
        &["lease", "revoke", "-force", "-prefix", "nope"],
        &["lease", "revoke", "-f", "-prefix", "nope"],
        &["lease", "revoke", "-prefix", "nope/"],
        &["lease", "revoke", "-force", "-prefix", "nope/"],
        &["lease", "revoke"],
        &["lease", "revoke", "a", "b"],
        &["lease", "revoke", "-bogus", "x"],
    ] {
        same_cli(a, b, "root", args);
        same_bao(a, b, "root", args);
    }

    // Lookup and revoke of a real token lease, table, JSON and YAML.
    let mut ids = Vec::new();
    for s in [a, b] {
        let before = token_lease_ids(s).await;
        create_token(s, "root", json!({"ttl": "1h"})).await;
        ids.push(new_lease(&before, &token_lease_ids(s).await));
    }
    for format in ["table", "json", "yaml"] {
        let flag = format!("-format={format}");
        let mut outs = Vec::new();
        for (s, id) in [a, b].into_iter().zip(&ids) {
            let (code, out, err) = if outs.is_empty() {
                run_arca(&s.addr, Some("root"), &["lease", "lookup", &flag, id])
            } else {
                run_bao(&s.addr, Some("root"), &["lease", "lookup", &flag, id])
            };
            let text = normalise(&format!("{out}{err}").replace(id.as_str(), "ID"));
            // The ttl a second apart is no difference.
            let text: String = text
                .lines()
                .map(|l| {
                    if l.trim_start().starts_with("ttl") {
                        "ttl\n".to_string()
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            outs.push((code, text));
        }
        assert_eq!(outs[0], outs[1], "lease lookup {flag} (left: arca on Arca)");
        assert_eq!(outs[0].0, 0);
    }
    for (s, id) in [a, b].into_iter().zip(&ids) {
        let (code, out, err) = run_arca(&s.addr, Some("root"), &["lease", "revoke", "-sync", id]);
        assert_eq!(
            (code, out, err),
            (0, format!("Success! Revoked lease: {id}\n"), String::new()),
            "{}",
            s.addr
        );
        let (code, _, err) = run_bao(&s.addr, Some("root"), &["lease", "lookup", id]);
        assert_eq!(code, 2, "{}: {err}", s.addr);
        assert!(err.contains("* invalid lease"), "{}: {err}", s.addr);
    }
}

/// An Arca dev server with the example echo plugin mounted at `echo/`: its `answer` read
/// returns a secret with a TTL and no renew or revoke handler, so the core gives it a lease
/// that cannot be renewed and whose backend revoke fails. Failed revocations are retried
/// 10 ms apart (doubling), so a lease becomes irrevocable in about a second.
fn arca_with_echo_plugin() -> Server {
    let built = common::example_binary("echo_plugin");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(&built, dir.path().join("echo")).expect("copy plugin");
    let mut s =
        Server::dev_with_plugins_env(dir.path(), &[("ARCA_LEASE_REVOKE_RETRY_BASE", "10ms")]);
    s.dir = Some(dir);
    s
}

#[tokio::test]
async fn a_secret_lease_is_looked_up_refused_renewal_and_force_revoked() {
    let s = arca_with_echo_plugin();
    let mut ids = Vec::new();
    for _ in 0..2 {
        // The echo plugin asks for its answer to be wrapped; the lease is the wrapped secret's.
        let w = call(&s, "GET", "echo/answer", Some("root"), None).await;
        assert_eq!(w.status, 200, "{}", w.body);
        let wrapping_token = w.body["wrap_info"]["token"].as_str().expect("wrapped");
        let r = call(&s, "PUT", "sys/wrapping/unwrap", Some(wrapping_token), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        ids.push(r.body["lease_id"].as_str().expect("lease_id").to_string());
    }
    let r = call(
        &s,
        "LIST",
        "sys/leases/lookup/echo/answer",
        Some("root"),
        None,
    )
    .await;
    let mut want: Vec<String> = ids
        .iter()
        .map(|id| id.trim_start_matches("echo/answer/").to_string())
        .collect();
    want.sort();
    assert_eq!(r.body["data"]["keys"], json!(want));

    let r = call(
        &s,
        "PUT",
        "sys/leases/lookup",
        Some("root"),
        Some(json!({"lease_id": ids[0]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let d = &r.body["data"];
    assert_eq!(
        (&d["id"], &d["path"], &d["renewable"], &d["last_renewal"]),
        (
            &json!(ids[0]),
            &json!("echo/answer"),
            &json!(false),
            &Value::Null
        )
    );
    assert!(d["expire_time"].is_string() && d["ttl"].as_i64().unwrap_or(0) > 0);

    // OpenBao's text for a lease whose secret is not renewable.
    let (code, _, err) = run_arca(&s.addr, Some("root"), &["lease", "renew", &ids[0]]);
    assert_eq!(code, 2);
    assert!(err.ends_with("* lease is not renewable\n"), "{err}");

    // The plugin cannot revoke: a synchronous revoke fails and keeps the lease ...
    let r = call(
        &s,
        "PUT",
        "sys/leases/revoke",
        Some("root"),
        Some(json!({"lease_id": ids[0]})),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = call(
        &s,
        "PUT",
        "sys/leases/lookup",
        Some("root"),
        Some(json!({"lease_id": ids[0]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Queued, it is retried until it is irrevocable; its lookup then shows why.
    let r = call(
        &s,
        "PUT",
        "sys/leases/revoke",
        Some("root"),
        Some(json!({"lease_id": ids[1], "sync": false})),
    )
    .await;
    assert_eq!((r.status, r.body), (202, Value::Null));
    let lookup = || async {
        let r = call(
            &s,
            "PUT",
            "sys/leases/lookup",
            Some("root"),
            Some(json!({"lease_id": ids[1]})),
        )
        .await;
        r.body["data"]["revoke_error"].as_str().map(str::to_string)
    };
    let error = wait_until_async(
        "revoke_error on the lookup",
        Duration::from_secs(20),
        lookup,
    )
    .await;
    assert!(error.starts_with("out of retries"), "{error}");
    let r = call(
        &s,
        "GET",
        "sys/leases/count?type=irrevocable",
        Some("root"),
        None,
    )
    .await;
    assert_eq!(r.body["data"]["lease_count"], 1, "{}", r.body);
    let r = call(
        &s,
        "GET",
        "sys/leases?type=irrevocable&limit=1",
        Some("root"),
        None,
    )
    .await;
    assert_eq!(
        r.body["data"]["leases"][0]["lease_id"],
        json!(ids[1]),
        "{}",
        r.body
    );
    assert_eq!(r.body["warnings"], Value::Null, "{}", r.body);
    // ... and revoke-force removes every lease under the prefix anyway.
    let (code, out, _) = run_arca(
        &s.addr,
        Some("root"),
        &["lease", "revoke", "-force", "-prefix", "echo/"],
    );
    assert_eq!(
        (code, out.as_str()),
        (0, "Success! Force revoked any leases with prefix: echo/\n")
    );
    let r = call(
        &s,
        "LIST",
        "sys/leases/lookup/echo/answer",
        Some("root"),
        None,
    )
    .await;
    assert_eq!((r.status, r.body), (404, json!({"errors": []})));
}

#[tokio::test]
async fn arca_and_bao_lease_cli_renew_a_secret_lease_alike() {
    let s = dev_with_lease_plugin();
    configure_lease_plugin(&s, "root", json!({"ttl": "10m", "max_ttl": "1h"})).await;
    let issued = lease_plugin_cred(&s, "root", "app").await;
    assert_eq!(
        (&issued["lease_duration"], &issued["renewable"]),
        (&json!(600), &json!(true))
    );
    let id = issued["lease_id"].as_str().expect("lease_id").to_string();
    for format in ["table", "json", "yaml"] {
        let flag = format!("-format={format}");
        let args = [
            "lease",
            "renew",
            "-increment=5m",
            flag.as_str(),
            id.as_str(),
        ];
        let a = run_arca(&s.addr, Some("root"), &args);
        let b = run_bao(&s.addr, Some("root"), &args);
        let text = |o: &(i32, String, String)| (o.0, normalise(&format!("{}{}", o.1, o.2)));
        assert_eq!(text(&a), text(&b), "lease renew {flag} (left: arca CLI)");
        assert_eq!(a.0, 0, "{}", a.2);
    }
    // The increment, below the secret's own TTL, is what the lease gets.
    let (code, out, err) = run_arca(
        &s.addr,
        Some("root"),
        &["lease", "renew", "-increment=5m", "-format=json", &id],
    );
    assert_eq!(code, 0, "{err}");
    let answer: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        (
            &answer["lease_id"],
            &answer["lease_duration"],
            &answer["renewable"]
        ),
        (&json!(id), &json!(300), &json!(true))
    );
    // Every renewal (three formats on each CLI, and the last) reached the plugin.
    assert_eq!(lease_plugin_stat(&s, "root", "renewals").await, 7);
}
