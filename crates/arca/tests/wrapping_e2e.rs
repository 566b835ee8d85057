//! Issue 11, response wrapping, end to end against the real `arca` binary and a real OpenBao
//! dev server: wrapped KV reads and token creates (`wrapped_accessor`; the unwrapped auth
//! works as a token), `sys/wrapping/wrap|unwrap|lookup|rewrap`, OpenBao's error texts, the
//! policy's min/max wrapping TTL, one winner among 32 concurrent unwrappers, the expiry of an
//! unused wrapping token, and the `bao` and `arca` CLIs (`-wrap-ttl`, `unwrap`).

mod common;

use std::time::Duration;

use arca_testkit::wait_until_async;
use common::{
    Answer, Body, Server, call_with, client, normalise, normalise_json, run_arca, run_bao, servers,
    write_policy,
};
use serde_json::{Value, json};

/// A request with an optional token, JSON body and `X-Vault-Wrap-TTL`.
async fn send(
    s: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    wrap_ttl: Option<&str>,
) -> Answer {
    let headers: Vec<(&str, &str)> = wrap_ttl
        .map(|w| ("X-Vault-Wrap-TTL", w))
        .into_iter()
        .collect();
    call_with(s, method, path, token, &headers, body.map(Body::Json)).await
}

/// An answer as compared between the servers.
fn seen(a: Answer) -> (u16, Value) {
    (a.status, normalise_json(&a.body))
}

fn invalid() -> Value {
    json!({"errors": ["wrapping token is not valid or does not exist"]})
}

async fn put_secret(s: &Server) {
    let r = send(
        s,
        "POST",
        "secret/data/foo",
        Some("root"),
        Some(json!({"data": {"a": "b"}})),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}: {}", s.addr, r.body);
}

/// A wrapped answer: OpenBao's envelope with only `wrap_info`; returns the wrapping token.
fn wrapped(s: &Server, a: &Answer, ttl: u64, path: &str) -> String {
    assert_eq!(a.status, 200, "{}: {}", s.addr, a.body);
    let b = &a.body;
    assert_eq!(b["request_id"], "", "{}", s.addr);
    assert_eq!(b["data"], Value::Null);
    assert_eq!(b["auth"], Value::Null);
    assert_eq!(b["lease_id"], "");
    assert_eq!(b["wrap_info"]["ttl"], ttl, "{}: {b}", s.addr);
    assert_eq!(b["wrap_info"]["creation_path"], path);
    assert!(
        b["wrap_info"]["creation_time"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert!(
        b["wrap_info"]["accessor"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    b["wrap_info"]["token"]
        .as_str()
        .expect("wrapping token")
        .to_string()
}

#[tokio::test]
async fn a_wrapped_kv_read_unwraps_once_and_its_token_looks_like_openbaos() {
    for s in servers() {
        put_secret(&s).await;
        let a = send(&s, "GET", "secret/data/foo", Some("root"), None, Some("60")).await;
        let t = wrapped(&s, &a, 60, "secret/data/foo");
        let keys: Vec<&String> = a.body["wrap_info"].as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["accessor", "creation_path", "creation_time", "token", "ttl"],
            "{}",
            s.addr
        );

        // The wrapping token: one use, an orphan, response-wrapping only, not renewable.
        let look = send(
            &s,
            "POST",
            "auth/token/lookup",
            Some("root"),
            Some(json!({ "token": t })),
            None,
        )
        .await;
        let d = &look.body["data"];
        assert_eq!(d["policies"], json!(["response-wrapping"]), "{}", s.addr);
        assert_eq!(d["num_uses"], 1);
        assert_eq!(d["orphan"], true);
        assert_eq!(d["renewable"], false);
        assert_eq!(d["explicit_max_ttl"], 60);
        assert_eq!(d["creation_ttl"], 60);
        assert_eq!(d["path"], "secret/data/foo");

        // Lookup needs no token and spends nothing, by query or by header.
        let l = send(
            &s,
            "GET",
            &format!("sys/wrapping/lookup?token={t}"),
            None,
            None,
            None,
        )
        .await;
        assert_eq!(l.status, 200, "{}: {}", s.addr, l.body);
        assert_eq!(l.body["data"]["creation_path"], "secret/data/foo");
        assert_eq!(l.body["data"]["creation_ttl"], 60);
        let l = send(&s, "POST", "sys/wrapping/lookup", Some(&t), None, None).await;
        assert_eq!(l.status, 200, "{}: {}", s.addr, l.body);

        // Unwrapped by its own token: the envelope the read would have answered.
        let u = send(&s, "POST", "sys/wrapping/unwrap", Some(&t), None, None).await;
        assert_eq!(u.status, 200, "{}: {}", s.addr, u.body);
        assert_eq!(u.body["data"]["data"], json!({"a": "b"}));
        assert_eq!(u.body["data"]["metadata"]["version"], 1);
        assert_eq!(u.body["wrap_info"], Value::Null);
        for again in [
            send(&s, "POST", "sys/wrapping/unwrap", Some(&t), None, None).await,
            send(
                &s,
                "POST",
                "sys/wrapping/unwrap",
                Some("root"),
                Some(json!({"token": t})),
                None,
            )
            .await,
            send(
                &s,
                "POST",
                "sys/wrapping/lookup",
                None,
                Some(json!({"token": t})),
                None,
            )
            .await,
        ] {
            assert_eq!((again.status, again.body), (400, invalid()), "{}", s.addr);
        }

        // Not found is answered, not wrapped.
        let nf = send(
            &s,
            "GET",
            "secret/data/nope",
            Some("root"),
            None,
            Some("60"),
        )
        .await;
        assert_eq!(
            (nf.status, nf.body["wrap_info"].clone()),
            (404, Value::Null)
        );
        // A TTL of 0 asks for nothing.
        let plain = send(&s, "GET", "secret/data/foo", Some("root"), None, Some("0")).await;
        assert_eq!(plain.body["data"]["data"], json!({"a": "b"}), "{}", s.addr);
        // Long TTLs are taken as given, up to Go's duration range (the header's own limit).
        for (ttl, secs) in [
            ("999999h", 3_599_996_400_u64),
            ("9223372036", 9_223_372_036),
        ] {
            let a = send(&s, "GET", "secret/data/foo", Some("root"), None, Some(ttl)).await;
            wrapped(&s, &a, secs, "secret/data/foo");
        }
    }
}

#[tokio::test]
async fn a_wrapped_token_create_unwraps_to_a_working_token() {
    for s in servers() {
        let a = send(
            &s,
            "POST",
            "auth/token/create",
            Some("root"),
            Some(json!({"policies": ["default"], "ttl": "1h"})),
            Some("120"),
        )
        .await;
        let t = wrapped(&s, &a, 120, "auth/token/create");
        let wrapped_accessor = a.body["wrap_info"]["wrapped_accessor"]
            .as_str()
            .expect("wrapped_accessor")
            .to_string();

        // A third party unwraps with its own token and names the wrapping token.
        let u = send(
            &s,
            "POST",
            "sys/wrapping/unwrap",
            Some("root"),
            Some(json!({ "token": t })),
            None,
        )
        .await;
        assert_eq!(u.status, 200, "{}: {}", s.addr, u.body);
        let auth = &u.body["auth"];
        assert_eq!(auth["accessor"], wrapped_accessor.as_str(), "{}", s.addr);
        assert_eq!(auth["policies"], json!(["default"]));
        assert_eq!(auth["lease_duration"], 3600);
        assert_eq!(u.body["data"], Value::Null);
        let token = auth["client_token"].as_str().expect("client token");
        let me = send(&s, "GET", "auth/token/lookup-self", Some(token), None, None).await;
        assert_eq!(me.status, 200, "{}: {}", s.addr, me.body);
        assert_eq!(me.body["data"]["accessor"], wrapped_accessor.as_str());
    }
}

#[tokio::test]
async fn wrap_rewrap_and_the_error_texts_match_openbao() {
    let [arca, openbao] = servers();
    let mut answers: Vec<Vec<(u16, Value)>> = Vec::new();
    for s in [&arca, &openbao] {
        let mut got: Vec<(u16, Value)> = Vec::new();
        macro_rules! note {
            ($a:expr $(,)?) => {
                got.push(seen($a))
            };
        }

        // wrap needs the header; with it, the body comes back on unwrap.
        note!(
            send(
                s,
                "POST",
                "sys/wrapping/wrap",
                Some("root"),
                Some(json!({"a": 1})),
                None
            )
            .await
        );
        let w = send(
            s,
            "POST",
            "sys/wrapping/wrap",
            Some("root"),
            Some(json!({"a": 1, "b": "x"})),
            Some("90"),
        )
        .await;
        let t1 = wrapped(s, &w, 90, "sys/wrapping/wrap");
        // rewrap: a new token with the old TTL and creation path; the old one is dead.
        let r = send(
            s,
            "POST",
            "sys/wrapping/rewrap",
            Some("root"),
            Some(json!({ "token": t1 })),
            Some("30"),
        )
        .await;
        let t2 = wrapped(s, &r, 30, "sys/wrapping/wrap");
        assert_ne!(t1, t2);
        let r2 = send(
            s,
            "POST",
            "sys/wrapping/rewrap",
            Some("root"),
            Some(json!({ "token": t2 })),
            None,
        )
        .await;
        let t3 = wrapped(s, &r2, 30, "sys/wrapping/wrap");
        note!(
            send(
                s,
                "POST",
                "sys/wrapping/unwrap",
                Some("root"),
                Some(json!({"token": t1})),
                None
            )
            .await
        );
        note!(
            send(
                s,
                "POST",
                "sys/wrapping/unwrap",
                Some("root"),
                Some(json!({"token": t2})),
                None
            )
            .await
        );
        let l = send(
            s,
            "POST",
            "sys/wrapping/lookup",
            None,
            Some(json!({"token": t3})),
            None,
        )
        .await;
        note!(l);
        note!(send(s, "POST", "sys/wrapping/unwrap", Some(&t3), None, None).await);

        // Errors, as OpenBao words them.
        for path in [
            "sys/wrapping/unwrap",
            "sys/wrapping/lookup",
            "sys/wrapping/rewrap",
        ] {
            note!(send(s, "POST", path, None, None, None).await);
            note!(send(s, "POST", path, None, Some(json!({"token": ""})), None).await);
            note!(
                send(
                    s,
                    "POST",
                    path,
                    Some("root"),
                    Some(json!({"token": 5})),
                    None
                )
                .await
            );
            note!(send(s, "POST", path, Some("root"), None, None).await);
            note!(
                send(
                    s,
                    "POST",
                    path,
                    Some("root"),
                    Some(json!({"token": "nope"})),
                    None
                )
                .await
            );
        }
        for ttl in ["abc", "-5", "1.5", "1e3", "10000000000"] {
            note!(send(s, "GET", "secret/data/x", Some("root"), None, Some(ttl)).await);
        }

        // An empty listing asked to be wrapped is not wrapped: `unsupported path`, whether the
        // backend finds nothing (KV's bare 404) or lists no keys.
        for path in [
            "secret/metadata/nothere/",
            "sys/leases/lookup/nothere/",
            "cubbyhole/",
        ] {
            note!(send(s, "LIST", path, Some("root"), None, Some("60")).await);
        }
        // The deprecated read of a wrapping token's own cubbyhole/response, with its warning.
        let w = send(
            s,
            "POST",
            "sys/wrapping/wrap",
            Some("root"),
            Some(json!({"z": 1})),
            Some("60"),
        )
        .await;
        let t = wrapped(s, &w, 60, "sys/wrapping/wrap");
        let r = send(s, "GET", "cubbyhole/response", Some(&t), None, None).await;
        assert_eq!(r.status, 200, "{}: {}", s.addr, r.body);
        let inner: Value =
            serde_json::from_str(r.body["data"]["response"].as_str().unwrap()).unwrap();
        assert_eq!(inner["data"], json!({"z": 1}));
        got.push((r.status, r.body["warnings"].clone()));
        note!(send(s, "POST", "sys/wrapping/unwrap", Some(&t), None, None).await);
        // Any other use of a wrapping token spends its single use: its policy lets it unwrap,
        // not rewrap itself.
        let w = send(
            s,
            "POST",
            "sys/wrapping/wrap",
            Some("root"),
            Some(json!({"k": 1})),
            Some("60"),
        )
        .await;
        let t = wrapped(s, &w, 60, "sys/wrapping/wrap");
        note!(send(s, "POST", "sys/wrapping/rewrap", Some(&t), None, None).await);
        note!(send(s, "POST", "sys/wrapping/unwrap", Some(&t), None, None).await);

        // The fixed policy: readable, not listed, not writable, not deletable, not assignable.
        note!(send(s, "GET", "sys/policy", Some("root"), None, None).await);
        let p = send(
            s,
            "GET",
            "sys/policies/acl/response-wrapping",
            Some("root"),
            None,
            None,
        )
        .await;
        assert_eq!(p.status, 200, "{}: {}", s.addr, p.body);
        got.push((p.status, json!(p.body["data"]["policy"].clone())));
        note!(
            send(
                s,
                "PUT",
                "sys/policies/acl/response-wrapping",
                Some("root"),
                Some(json!({"policy": "path \"x\" { capabilities = [\"read\"] }"})),
                None,
            )
            .await,
        );
        note!(
            send(
                s,
                "DELETE",
                "sys/policies/acl/response-wrapping",
                Some("root"),
                None,
                None
            )
            .await
        );
        note!(
            send(
                s,
                "POST",
                "auth/token/create",
                Some("root"),
                Some(json!({"policies": ["response-wrapping"]})),
                None,
            )
            .await,
        );
        answers.push(got);
    }
    let [a, b] = [&answers[0], &answers[1]];
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
        assert_eq!(x, y, "answer {i} (left: Arca, right: OpenBao)");
    }
    // The values the comparisons above saw, spelled out.
    assert_eq!(
        a[0],
        (
            400,
            json!({"errors": ["endpoint requires response wrapping to be used"]})
        )
    );
    assert_eq!(a[1], (400, invalid()));
    assert_eq!(a[2], (400, invalid()));
    assert_eq!(a[4].1["data"], json!({"a": 1, "b": "x"}));
    assert_eq!(
        a[5],
        (
            403,
            json!({"errors": ["error validating wrapping token: token is empty"]})
        )
    );
}

#[tokio::test]
async fn the_policy_bounds_and_requires_wrapping() {
    let rules = "path \"secret/data/*\" {\n  capabilities = [\"read\"]\n  min_wrapping_ttl = \"30s\"\n  max_wrapping_ttl = \"90s\"\n}\n";
    for s in servers() {
        put_secret(&s).await;
        write_policy(&s, "wrapped-only", rules).await;
        let r = send(
            &s,
            "POST",
            "auth/token/create",
            Some("root"),
            Some(json!({"policies": ["wrapped-only"]})),
            None,
        )
        .await;
        let token = r.body["auth"]["client_token"].as_str().unwrap().to_string();
        for (ttl, status) in [
            (None, 403),
            (Some("10"), 403),
            (Some("120"), 403),
            (Some("60"), 200),
        ] {
            let a = send(&s, "GET", "secret/data/foo", Some(&token), None, ttl).await;
            assert_eq!(a.status, status, "{} wrap ttl {ttl:?}: {}", s.addr, a.body);
            if status == 200 {
                let t = wrapped(&s, &a, 60, "secret/data/foo");
                let u = send(&s, "POST", "sys/wrapping/unwrap", Some(&t), None, None).await;
                assert_eq!(u.body["data"]["data"], json!({"a": "b"}));
            } else {
                assert_eq!(
                    a.body,
                    json!({"errors": ["1 error occurred:\n\t* permission denied\n\n"]})
                );
            }
        }
    }
}

/// Sends `n` unwraps of `t` at once (by header when `own`, else in the body with root's
/// token); returns the statuses and bodies.
async fn race(s: &Server, t: &str, n: usize, own: bool) -> Vec<(u16, Value)> {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let url = s.url("sys/wrapping/unwrap");
        let t = t.to_string();
        tasks.push(tokio::spawn(async move {
            let rb = client().post(url);
            let rb = if own {
                rb.header("X-Vault-Token", t)
            } else {
                rb.header("X-Vault-Token", "root")
                    .json(&json!({ "token": t }))
            };
            let r = rb.send().await.expect("request");
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_of_32_concurrent_unwrappers_wins() {
    let s = Server::dev();
    put_secret(&s).await;
    for own in [false, true] {
        let a = send(&s, "GET", "secret/data/foo", Some("root"), None, Some("60")).await;
        let t = wrapped(&s, &a, 60, "secret/data/foo");
        let answers = race(&s, &t, 32, own).await;
        let won: Vec<_> = answers.iter().filter(|(st, _)| *st == 200).collect();
        assert_eq!(won.len(), 1, "own token {own}: {answers:?}");
        assert_eq!(won[0].1["data"]["data"], json!({"a": "b"}));
        for (st, body) in answers.iter().filter(|(st, _)| *st != 200) {
            assert_eq!((*st, body.clone()), (400, invalid()), "own token {own}");
        }
    }
}

#[tokio::test]
async fn an_unused_wrapping_token_expires_on_time() {
    for s in servers() {
        let w = send(
            &s,
            "POST",
            "sys/wrapping/wrap",
            Some("root"),
            Some(json!({"k": 1})),
            Some("2s"),
        )
        .await;
        let t = wrapped(&s, &w, 2, "sys/wrapping/wrap");
        // Its lease lives under the creation path while the token does...
        let leases = "sys/leases/lookup/sys/wrapping/wrap/";
        let l = send(&s, "LIST", leases, Some("root"), None, None).await;
        assert_eq!(l.status, 200, "{}: {}", s.addr, l.body);
        assert_eq!(l.body["data"]["keys"].as_array().map(Vec::len), Some(1));
        // ...and the expiration manager revokes it on time, with nobody touching the token.
        wait_until_async(
            "the wrapping token's lease to expire",
            Duration::from_secs(10),
            || async {
                let l = send(&s, "LIST", leases, Some("root"), None, None).await;
                (l.status == 404).then_some(())
            },
        )
        .await;
        let l = send(
            &s,
            "POST",
            "sys/wrapping/lookup",
            None,
            Some(json!({"token": t})),
            None,
        )
        .await;
        assert_eq!((l.status, l.body), (400, invalid()), "{}", s.addr);
        let u = send(
            &s,
            "POST",
            "sys/wrapping/unwrap",
            Some("root"),
            Some(json!({"token": t})),
            None,
        )
        .await;
        assert_eq!((u.status, u.body), (400, invalid()), "{}", s.addr);
    }
}

/// CLI output as compared between the servers: [`normalise`]d, and the Go-printed creation
/// time of a wrapping token (not RFC 3339) masked.
fn cli_text(code: i32, out: &str, err: &str) -> (i32, String) {
    let text: String = format!("{out}{err}")
        .lines()
        .map(|l| match l.strip_prefix("wrapping_token_creation_time:") {
            Some(_) => "wrapping_token_creation_time: TIME\n".to_string(),
            None => format!("{l}\n"),
        })
        .collect();
    (code, normalise(&text).replace("\"arca ", "\"bao "))
}

/// A fresh wrapping token of `{"a": "b"}` on `s`, made with the `bao` CLI.
fn cli_wrapped(s: &Server) -> String {
    let (code, out, err) = run_bao(
        &s.addr,
        Some("root"),
        &[
            "write",
            "-wrap-ttl=60",
            "-field=wrapping_token",
            "sys/wrapping/wrap",
            "a=b",
        ],
    );
    assert_eq!(code, 0, "{}: {err}", s.addr);
    out.trim().to_string()
}

#[tokio::test]
async fn the_cli_prints_wrapped_answers_and_unwraps_as_bao() {
    let [arca, openbao] = servers();
    for s in [&arca, &openbao] {
        put_secret(s).await;
    }
    for args in [
        &["read", "-wrap-ttl=60", "secret/data/foo"][..],
        &["kv", "get", "-wrap-ttl=60", "secret/foo"],
        &["write", "-wrap-ttl=60", "sys/wrapping/wrap", "a=b"],
        &["token", "create", "-wrap-ttl=60", "-policy=default"],
        &["read", "-format=json", "-wrap-ttl=2m", "secret/data/foo"],
    ] {
        let want = {
            let (c, o, e) = run_bao(&openbao.addr, Some("root"), args);
            cli_text(c, &o, &e)
        };
        let (c, o, e) = run_bao(&arca.addr, Some("root"), args);
        assert_eq!(cli_text(c, &o, &e), want, "bao {args:?} (left: Arca)");
        let (c, o, e) = run_arca(&arca.addr, Some("root"), args);
        assert_eq!(cli_text(c, &o, &e), want, "arca {args:?} (left: Arca)");
        assert!(want.1.contains("wrapping_token") || want.1.contains("wrap_info"));
    }

    // `unwrap TOKEN` (a third party), `unwrap` with the wrapping token as the CLI's own, the
    // output formats, and the errors.
    for (own, extra) in [
        (false, None),
        (true, None),
        (false, Some("-format=json")),
        (false, Some("-format=yaml")),
    ] {
        let (wa, wb) = (cli_wrapped(&arca), cli_wrapped(&openbao));
        let args = |t: &str| -> Vec<String> {
            let mut v = vec!["unwrap".to_string()];
            v.extend(extra.map(String::from));
            if !own {
                v.push(t.to_string());
            }
            v
        };
        let token = |t: &str| {
            if own {
                t.to_string()
            } else {
                "root".to_string()
            }
        };
        let want = {
            let a = args(&wb);
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            let (c, o, e) = run_bao(&openbao.addr, Some(&token(&wb)), &a);
            cli_text(c, &o, &e)
        };
        assert_eq!(want.0, 0, "{}", want.1);
        let a = args(&wa);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let (c, o, e) = run_arca(&arca.addr, Some(&token(&wa)), &a);
        assert_eq!(cli_text(c, &o, &e), want, "arca {a:?} (left: Arca)");
        // The token is spent: bao's CLI on Arca now meets OpenBao's error.
        let (c, o, e) = run_bao(&arca.addr, Some("root"), &["unwrap", &wa]);
        let (c2, o2, e2) = run_bao(&openbao.addr, Some("root"), &["unwrap", &wb]);
        assert_eq!(cli_text(c, &o, &e), cli_text(c2, &o2, &e2));
        assert_eq!(c, 2);
    }
    // bao's CLI unwraps what Arca wrapped: a token create, whose token then works.
    let (c, o, _) = run_bao(
        &arca.addr,
        Some("root"),
        &[
            "token",
            "create",
            "-wrap-ttl=60",
            "-policy=default",
            "-field=wrapping_token",
        ],
    );
    assert_eq!(c, 0);
    let (c, o, e) = run_bao(
        &arca.addr,
        Some("root"),
        &["unwrap", "-field=token", o.trim()],
    );
    assert_eq!(c, 0, "{e}");
    let (c, _, e) = run_bao(&arca.addr, Some(o.trim()), &["token", "lookup"]);
    assert_eq!(c, 0, "{e}");
    for args in [&["unwrap", "nope"][..], &["unwrap", "a", "b"]] {
        let (c, o, e) = run_bao(&openbao.addr, Some("root"), args);
        let want = cli_text(c, &o, &e);
        let (c, o, e) = run_arca(&arca.addr, Some("root"), args);
        assert_eq!(cli_text(c, &o, &e), want, "{args:?}");
    }
}

/// The claims of a JWT (its middle part).
fn jwt_claims(jwt: &str) -> Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).expect("claims part");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url claims");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// Sends `method path` with `X-Vault-Wrap-Format: jwt` and a wrap TTL of 90 s.
async fn send_jwt(s: &Server, path: &str, body: Value) -> Answer {
    let headers = [("X-Vault-Wrap-TTL", "90"), ("X-Vault-Wrap-Format", "jwt")];
    call_with(
        s,
        "POST",
        path,
        Some("root"),
        &headers,
        Some(Body::Json(body)),
    )
    .await
}

#[tokio::test]
async fn jwt_wrapping_tokens_are_signed_es512_and_unwrap() {
    for s in servers() {
        let w = send_jwt(&s, "sys/wrapping/wrap", json!({"a": 1})).await;
        let jwt = wrapped(&s, &w, 90, "sys/wrapping/wrap");
        let header = jwt.split('.').next().unwrap();
        assert_eq!(header, "eyJhbGciOiJFUzUxMiIsInR5cCI6IkpXVCJ9", "{}", s.addr);
        let claims = jwt_claims(&jwt);
        assert_eq!(claims["type"], "wrapping");
        assert_eq!(claims["addr"], s.addr.as_str());
        assert_eq!(claims["accessor"], "");
        let exp = claims["exp"].as_i64().unwrap();
        assert_eq!(exp - claims["iat"].as_i64().unwrap(), 90);
        let inner = claims["jti"].as_str().unwrap().to_string();

        // The JWT looks up and unwraps in place of the token it names.
        let l = send(
            &s,
            "POST",
            "sys/wrapping/lookup",
            None,
            Some(json!({"token": jwt})),
            None,
        )
        .await;
        assert_eq!(l.status, 200, "{}: {}", s.addr, l.body);
        assert_eq!(l.body["data"]["creation_ttl"], 90);
        // A signature that does not check out is OpenBao's 403.
        let mut forged = jwt.clone();
        let last = forged.pop().unwrap();
        forged.push(if last == 'A' { 'B' } else { 'A' });
        let f = send(
            &s,
            "POST",
            "sys/wrapping/unwrap",
            Some("root"),
            Some(json!({"token": forged})),
            None,
        )
        .await;
        let want = json!({"errors": ["error validating wrapping token: wrapping token signature could not be validated: go-jose/go-jose: error in cryptographic primitive"]});
        assert_eq!((f.status, f.body), (403, want), "{}", s.addr);
        let u = send(&s, "POST", "sys/wrapping/unwrap", Some(&jwt), None, None).await;
        assert_eq!(u.status, 200, "{}: {}", s.addr, u.body);
        assert_eq!(u.body["data"], json!({"a": 1}));
        let again = send(
            &s,
            "POST",
            "sys/wrapping/unwrap",
            Some("root"),
            Some(json!({"token": inner})),
            None,
        )
        .await;
        assert_eq!((again.status, again.body), (400, invalid()));

        // A wrapped token create names the created token's accessor.
        let t = send_jwt(&s, "auth/token/create", json!({"policies": ["default"]})).await;
        let jwt = wrapped(&s, &t, 90, "auth/token/create");
        assert_eq!(
            jwt_claims(&jwt)["accessor"],
            t.body["wrap_info"]["wrapped_accessor"],
            "{}",
            s.addr
        );
        let u = send(
            &s,
            "POST",
            "sys/wrapping/unwrap",
            Some("root"),
            Some(json!({"token": jwt})),
            None,
        )
        .await;
        assert_eq!(u.status, 200, "{}: {}", s.addr, u.body);
        assert_eq!(u.body["auth"]["policies"], json!(["default"]));
    }
}

#[tokio::test]
async fn wrapped_responses_survive_a_restart() {
    let s = Server::with_file_storage(None);
    let (key, root) = common::init_unseal(&s).await;
    let w = send(
        &s,
        "POST",
        "sys/wrapping/wrap",
        Some(&root),
        Some(json!({"kept": 1})),
        Some("300"),
    )
    .await;
    let plain = wrapped(&s, &w, 300, "sys/wrapping/wrap");
    let j = client()
        .post(s.url("sys/wrapping/wrap"))
        .header("X-Vault-Token", &root)
        .header("X-Vault-Wrap-TTL", "300")
        .header("X-Vault-Wrap-Format", "jwt")
        .json(&json!({"kept": 2}))
        .send()
        .await
        .expect("request");
    let j: Value = j.json().await.expect("json");
    let jwt = j["wrap_info"]["token"].as_str().expect("jwt").to_string();

    let s = Server::with_file_storage(s.stop());
    common::unseal(&s, &key).await;
    // The token, its cubbyhole and the JWT signing key all come back from storage.
    for (token, want) in [(plain, 1), (jwt, 2)] {
        let u = send(
            &s,
            "POST",
            "sys/wrapping/unwrap",
            Some(&root),
            Some(json!({ "token": token })),
            None,
        )
        .await;
        assert_eq!(u.status, 200, "{}", u.body);
        assert_eq!(u.body["data"], json!({ "kept": want }));
    }
}
