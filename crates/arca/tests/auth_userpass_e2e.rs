//! Issue 15, userpass end to end against the real `arca` binary and a real OpenBao dev server
//! (one of each for the whole file): mount, users, login and the token it mints (lookup,
//! renewal through the method, policies changed), OpenBao's error texts, user lockout and
//! unlock, CIDR binding at login and on use (from 127.0.0.2), the timing of unknown and known
//! users, and the `bao` and `arca` CLIs.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use common::{Answer, Server, arca_status_for, call, init_unseal, run_arca, run_bao, servers};
use serde_json::{Value, json};

async fn ok(s: &Server, method: &str, path: &str, body: Option<Value>) -> Answer {
    let a = call(s, method, path, Some("root"), body).await;
    assert!(
        a.status < 300,
        "{} {method} {path}: {} {}",
        s.addr,
        a.status,
        a.body
    );
    a
}

async fn login(s: &Server, mount: &str, user: &str, password: &str) -> Answer {
    call(
        s,
        "POST",
        &format!("auth/{mount}/login/{user}"),
        None,
        Some(json!({ "password": password })),
    )
    .await
}

/// A client whose connections come from `127.0.0.<last>`.
fn client_from(last: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

async fn send_from(
    c: &reqwest::Client,
    s: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut rb = c.request(m, s.url(path));
    if let Some(t) = token {
        rb = rb.header("X-Vault-Token", t);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.expect("request");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn sorted_keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

async fn setup(s: &Server) {
    ok(
        s,
        "POST",
        "sys/auth/userpass",
        Some(json!({"type": "userpass"})),
    )
    .await;
    setup_user(s).await;
}

/// Login, the token's fields, renewal through the method, and the errors.
async fn login_and_token(servers: &[Server; 2]) {
    let mut answers = Vec::new();
    for s in servers {
        let a = login(s, "userpass", "alice", "pw").await;
        assert_eq!(a.status, 200, "{}: {}", s.addr, a.body);
        let auth = a.body["auth"].clone();
        assert_eq!(auth["policies"], json!(["a", "b", "default"]), "{}", s.addr);
        assert_eq!(auth["token_policies"], json!(["a", "b", "default"]));
        assert_eq!(auth["metadata"], json!({"username": "alice"}));
        assert_eq!(auth["lease_duration"], 3600, "{}", s.addr);
        assert_eq!(auth["renewable"], true);
        assert_eq!(auth["orphan"], true);
        assert_eq!(auth["token_type"], "service");
        let token = auth["client_token"].as_str().expect("token").to_string();
        let look = call(s, "GET", "auth/token/lookup-self", Some(&token), None).await;
        assert_eq!(look.status, 200, "{}", look.body);
        let d = &look.body["data"];
        assert_eq!(d["display_name"], "userpass-alice", "{}", s.addr);
        assert_eq!(d["meta"], json!({"username": "alice"}));
        assert_eq!(d["path"], "auth/userpass/login/alice");
        assert_eq!(d["policies"], json!(["a", "b", "default"]));
        assert_eq!(d["orphan"], true);
        assert_eq!(d["creation_ttl"], 3600);
        let renew = call(s, "POST", "auth/token/renew-self", Some(&token), None).await;
        assert_eq!(renew.status, 200, "{}: {}", s.addr, renew.body);
        assert_eq!(renew.body["auth"]["lease_duration"], 3600, "{}", s.addr);
        // A lease of its own, under the login path.
        let leases = call(
            s,
            "LIST",
            "sys/leases/lookup/auth/userpass/login/alice/",
            Some("root"),
            None,
        )
        .await;
        assert_eq!(leases.status, 200, "{}: {}", s.addr, leases.body);
        answers.push((sorted_keys(&auth), token));
    }
    assert_eq!(answers[0].0, answers[1].0, "auth keys");

    // The user's policies change: renewal refused, with OpenBao's answer.
    let mut seen = Vec::new();
    for (s, (_, token)) in servers.iter().zip(&answers) {
        ok(
            s,
            "POST",
            "auth/userpass/users/alice/policies",
            Some(json!({"token_policies": "c"})),
        )
        .await;
        let r = call(s, "POST", "auth/token/renew-self", Some(token), None).await;
        seen.push((r.status, r.body["errors"].clone()));
        ok(
            s,
            "POST",
            "auth/userpass/users/alice/policies",
            Some(json!({"token_policies": "a,b"})),
        )
        .await;
        // The user is gone: refused too.
        ok(s, "DELETE", "auth/userpass/users/alice", None).await;
        let r = call(s, "POST", "auth/token/renew-self", Some(token), None).await;
        seen.push((r.status, r.body["errors"].clone()));
        setup_user(s).await;
    }
    assert_eq!(seen[0], seen[2], "policies changed");
    assert_eq!(seen[1], seen[3], "user deleted");
    assert_eq!(seen[0].0, 500, "{seen:?}");

    // Wrong password, unknown user, missing password: the same answers.
    let mut errs = Vec::new();
    for (i, s) in servers.iter().enumerate() {
        for (user, body) in [
            ("alice", json!({"password": "nope"})),
            ("nobody", json!({"password": "pw"})),
            ("alice", json!({})),
        ] {
            let r = call(
                s,
                "POST",
                &format!("auth/userpass/login/{user}"),
                None,
                Some(body),
            )
            .await;
            // OpenBao's 500 for a missing password is Arca's 400.
            let status = if i == 1 {
                arca_status_for(r.status)
            } else {
                r.status
            };
            errs.push((status, r.body.clone()));
        }
        // Upper-case names are the same user.
        assert_eq!(login(s, "userpass", "ALICE", "pw").await.status, 200);
    }
    assert_eq!(errs[..3], errs[3..], "login errors");
    assert_eq!(
        errs[0],
        (400, json!({"errors": ["invalid username or password"]}))
    );
    assert_eq!(errs[0], errs[1], "unknown user reads as a wrong password");

    // The mount as sys/auth shows it.
    for s in servers {
        let a = ok(s, "GET", "sys/auth", None).await;
        assert_eq!(
            a.body["data"]["userpass/"]["config"]["token_type"], "default-service",
            "{}",
            s.addr
        );
    }
}

async fn setup_user(s: &Server) {
    ok(
        s,
        "POST",
        "auth/userpass/users/alice",
        Some(
            json!({"password": "pw", "token_policies": "a,b", "token_ttl": "1h",
                    "token_max_ttl": "2h"}),
        ),
    )
    .await;
}

/// Lockout after the tuned threshold, `sys/locked-users`, unlock.
async fn lockout(servers: &[Server; 2]) {
    let mut seen = Vec::new();
    for s in servers {
        ok(
            s,
            "POST",
            "sys/auth/lock",
            Some(json!({"type": "userpass"})),
        )
        .await;
        ok(
            s,
            "POST",
            "sys/auth/lock/tune",
            Some(json!({"user_lockout_config": {"lockout_threshold": "2",
                                                "lockout_duration": "10m"}})),
        )
        .await;
        let tune = ok(s, "GET", "sys/auth/lock/tune", None).await;
        assert_eq!(tune.body["data"]["user_lockout_threshold"], 2, "{}", s.addr);
        assert_eq!(tune.body["data"]["user_lockout_duration"], 600);
        ok(
            s,
            "POST",
            "auth/lock/users/bob",
            Some(json!({"password": "pw"})),
        )
        .await;
        let mut statuses = Vec::new();
        for pw in ["x", "y", "z", "pw"] {
            let r = login(s, "lock", "bob", pw).await;
            statuses.push((r.status, r.body["errors"].clone()));
        }
        let accessor = ok(s, "GET", "sys/auth", None).await.body["data"]["lock/"]["accessor"]
            .as_str()
            .expect("accessor")
            .to_string();
        let locked = ok(s, "GET", "sys/locked-users", None).await;
        let by_ns = &locked.body["data"]["by_namespace"][0];
        assert_eq!(
            locked.body["data"]["total"], 1,
            "{}: {}",
            s.addr, locked.body
        );
        assert_eq!(by_ns["namespace_id"], "root");
        assert_eq!(
            by_ns["mount_accessors"][0]["mount_accessor"],
            accessor.as_str()
        );
        assert_eq!(
            by_ns["mount_accessors"][0]["alias_identifiers"],
            json!(["bob"])
        );
        let unlock = call(
            s,
            "POST",
            &format!("sys/locked-users/{accessor}/unlock/bob"),
            Some("root"),
            None,
        )
        .await;
        statuses.push((unlock.status, Value::Null));
        let r = login(s, "lock", "bob", "pw").await;
        statuses.push((r.status, r.body["errors"].clone()));
        let after = ok(s, "GET", "sys/locked-users", None).await;
        assert_eq!(after.body["data"]["total"], 0);
        // Not tunable on the token mount.
        let t = call(
            s,
            "POST",
            "sys/auth/token/tune",
            Some("root"),
            Some(json!({"user_lockout_config": {"lockout_threshold": "1"}})),
        )
        .await;
        statuses.push((t.status, t.body["errors"].clone()));
        seen.push(statuses);
    }
    assert_eq!(seen[0], seen[1], "lockout answers");
    assert_eq!(seen[0][2].0, 403, "{:?}", seen[0]);
    assert_eq!(seen[0][3].0, 403, "locked even with the right password");
    assert_eq!(seen[0][5].0, 200, "unlocked");
}

/// `token_bound_cidrs`: refused at login from elsewhere, and on use from elsewhere.
async fn cidr_binding(servers: &[Server; 2]) {
    let here = client_from(1);
    let there = client_from(2);
    let mut seen = Vec::new();
    for s in servers {
        ok(
            s,
            "POST",
            "auth/userpass/users/carol",
            Some(json!({"password": "pw", "token_bound_cidrs": "127.0.0.2/32"})),
        )
        .await;
        let read = ok(s, "GET", "auth/userpass/users/carol", None).await;
        assert_eq!(
            read.body["data"]["token_bound_cidrs"],
            json!(["127.0.0.2"]),
            "{}",
            s.addr
        );
        let refused = send_from(
            &here,
            s,
            "POST",
            "auth/userpass/login/carol",
            None,
            Some(json!({"password": "pw"})),
        )
        .await;
        let (status, body) = send_from(
            &there,
            s,
            "POST",
            "auth/userpass/login/carol",
            None,
            Some(json!({"password": "pw"})),
        )
        .await;
        assert_eq!(status, 200, "{}: {body}", s.addr);
        let token = body["auth"]["client_token"].as_str().expect("token");
        let used_there = send_from(
            &there,
            s,
            "GET",
            "auth/token/lookup-self",
            Some(token),
            None,
        )
        .await;
        assert_eq!(used_there.0, 200, "{}: {}", s.addr, used_there.1);
        let used_here =
            send_from(&here, s, "GET", "auth/token/lookup-self", Some(token), None).await;
        seen.push((refused, used_here.0, used_here.1));
    }
    assert_eq!(seen[0], seen[1], "CIDR answers");
    assert_ne!(seen[0].0.0, 200, "login from outside the block");
    assert_eq!(seen[0].1, 403, "token used from outside the block");
}

/// The cost of a login for an unknown user is that of a wrong password (within 20 %).
async fn timing(arca: &Server) {
    async fn mean(s: &Server, user: &str, n: u32) -> Duration {
        let start = Instant::now();
        for _ in 0..n {
            let r = login(s, "userpass", user, "wrong").await;
            assert_eq!(r.status, 400);
        }
        start.elapsed() / n
    }
    // Many failures in a row: lockout off for this mount, so every one reaches bcrypt.
    ok(
        arca,
        "POST",
        "sys/auth/userpass/tune",
        Some(json!({"user_lockout_config": {"lockout_disable": true}})),
    )
    .await;
    // Warm up both paths, then alternate rounds so load on the machine hits both alike.
    mean(arca, "alice", 2).await;
    mean(arca, "ghost", 2).await;
    let (mut known, mut unknown) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..5 {
        known += mean(arca, "alice", 4).await;
        unknown += mean(arca, "ghost", 4).await;
    }
    let ratio = unknown.as_secs_f64() / known.as_secs_f64();
    assert!(
        (0.8..=1.2).contains(&ratio),
        "unknown {unknown:?} vs known {known:?} (ratio {ratio:.2})"
    );
}

/// The `bao` CLI and Arca's own log in to Arca; `arca auth` manages mounts.
fn clis(arca: &Server) {
    let (code, out, err) = run_bao(
        &arca.addr,
        None,
        &[
            "login",
            "-method=userpass",
            "-no-store",
            "-format=json",
            "username=alice",
            "password=pw",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["auth"]["metadata"]["username"], "alice");
    let (code, out, err) = run_arca(
        &arca.addr,
        None,
        &[
            "login",
            "-method=userpass",
            "-no-store",
            "-token-only",
            "username=alice",
            "password=pw",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.trim().starts_with("hvs."), "{out}");
    let (code, out, err) = run_arca(
        &arca.addr,
        None,
        &[
            "login",
            "-method=userpass",
            "-no-store",
            "username=alice",
            "password=bad",
        ],
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("invalid username or password"), "{err}");
    // No password and no prompting allowed: both CLIs refuse with bao's text.
    let args = [
        "login",
        "-method=userpass",
        "-non-interactive",
        "username=alice",
    ];
    let (b, a) = (
        run_bao(&arca.addr, None, &args),
        run_arca(&arca.addr, None, &args),
    );
    assert_eq!(b.0, 2, "{b:?}");
    assert!(
        b.2.contains("'password' must be specified and refusing to pull from stdin"),
        "{b:?}"
    );
    assert_eq!((a.0, a.2), (b.0, b.2));
    let root = Some("root");
    for args in [
        &["auth", "enable", "-path=up2", "userpass"][..],
        &[
            "auth",
            "tune",
            "-user-lockout-threshold=3",
            "-token-type=batch",
            "up2",
        ],
        &["auth", "move", "up2", "up3"],
    ] {
        let (code, out, err) = run_arca(&arca.addr, root, args);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
    }
    let (code, out, _) = run_arca(&arca.addr, root, &["auth", "list", "-format=json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["up3/"]["type"], "userpass", "{v}");
    assert_eq!(v["up3/"]["config"]["token_type"], "batch");
    assert_eq!(
        v["up3/"]["config"]["user_lockout_config"]["user_lockout_threshold"],
        3
    );
    let (code, out, err) = run_arca(&arca.addr, root, &["auth", "disable", "up3"]);
    assert_eq!(code, 0, "{out}{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userpass_end_to_end() {
    let servers = servers();
    for s in &servers {
        setup(s).await;
    }
    login_and_token(&servers).await;
    lockout(&servers).await;
    cidr_binding(&servers).await;
    timing(&servers[0]).await;
    tokio::task::block_in_place(|| clis(&servers[0]));
}

/// The config's `user_lockout` stanzas: a type's own stanza over `all`, and a lock that
/// survives a restart (it is stored).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_user_lockout_and_restart() {
    let extra = "user_lockout \"all\" {\n  lockout_threshold = 9\n  lockout_duration = \"1h\"\n}\nuser_lockout \"userpass\" {\n  lockout_threshold = 1\n}\n";
    let s = Server::with_config_extra(None, extra);
    let (key, root) = init_unseal(&s).await;
    let as_root = |method: &'static str, path: &'static str, body: Value| {
        let s = &s;
        let root = root.clone();
        async move {
            let a = call(s, method, path, Some(&root), Some(body)).await;
            assert!(a.status < 300, "{path}: {} {}", a.status, a.body);
        }
    };
    as_root("POST", "sys/auth/userpass", json!({"type": "userpass"})).await;
    as_root(
        "POST",
        "auth/userpass/users/erin",
        json!({"password": "pw"}),
    )
    .await;
    assert_eq!(login(&s, "userpass", "erin", "bad").await.status, 400);
    let locked = login(&s, "userpass", "erin", "pw").await;
    assert_eq!(locked.status, 403, "{}", locked.body);
    assert_eq!(locked.body["errors"], json!(["permission denied"]));
    // Restarted over the same storage: still locked (the 1h of `all` applies).
    let dir = s.stop();
    let s = Server::with_config_extra(dir, extra);
    common::unseal(&s, &key).await;
    assert_eq!(login(&s, "userpass", "erin", "pw").await.status, 403);
}
