//! The introspection and tool endpoints of `sys/` against the real `arca` binary and a real
//! OpenBao dev server, one of each for the file: `tools/random` and `tools/hash` (the same
//! sums, statuses and error texts), the counters, `version-history`, `host-info` (OpenBao's
//! shape), `config/state/sanitized`, `loggers` (levels change the live log) and
//! `in-flight-req` (a request that has not finished is listed, and leaves the list when it
//! ends).

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

use arca_testkit::poll_until;
use base64::Engine;
use common::{Answer, Server, call, comparable_answer, root_call, root_ok, same_answer, servers};
use serde_json::{Value, json};

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

async fn same(s: &[Server; 2], method: &str, path: &str, body: Option<Value>) -> Answer {
    same_answer(s, method, path, body, &["random_bytes"]).await
}

/// `text` with the space-separated names of its final `[...]` sorted.
fn sorted_bracket_list(text: &str) -> String {
    match (text.rfind('['), text.ends_with(']')) {
        (Some(open), true) => {
            let mut names: Vec<&str> = text[open + 1..text.len() - 1].split(' ').collect();
            names.sort_unstable();
            format!("{}[{}]", &text[..open], names.join(" "))
        }
        _ => text.to_string(),
    }
}

fn random_len(a: &Answer, hex: bool) -> usize {
    let text = a.body["data"]["random_bytes"]
        .as_str()
        .expect("random_bytes");
    if hex {
        text.len() / 2
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .expect("base64")
            .len()
    }
}

#[tokio::test]
async fn introspection_answers_as_openbao() {
    let s = servers();
    tools(&s).await;
    counters(&s).await;
    version_history(&s).await;
    host_info(&s).await;
    sanitized(&s).await;
    loggers(&s).await;
    in_flight(&s[0]).await;
}

async fn tools(s: &[Server; 2]) {
    // Random bytes: the count from the body, the path, or the path after a source.
    let a = same(s, "POST", "sys/tools/random", None).await;
    assert_eq!(random_len(&a, false), 32);
    let a = same(
        s,
        "POST",
        "sys/tools/random/64",
        Some(json!({"format": "hex"})),
    )
    .await;
    assert_eq!(random_len(&a, true), 64);
    let a = same(s, "POST", "sys/tools/random/16", Some(json!({"bytes": 8}))).await;
    assert_eq!(random_len(&a, false), 16);
    let a = same(s, "POST", "sys/tools/random/all/12", None).await;
    assert_eq!(random_len(&a, false), 12);
    // The seal source says it falls back to the platform's entropy.
    let a = same(s, "POST", "sys/tools/random/seal/8", None).await;
    assert_eq!(random_len(&a, false), 8);
    // A body source is replaced by the path's, with OpenBao's warning. OpenBao lists the
    // replaced names in its map's order, which varies from run to run: compared sorted.
    let body = json!({"bytes": 8, "source": "all", "urlbytes": "4"});
    let mut answers = Vec::new();
    for server in s {
        let a = call(
            server,
            "POST",
            "sys/tools/random",
            Some("root"),
            Some(body.clone()),
        )
        .await;
        let (status, mut v) = comparable_answer(&a, &["random_bytes"]);
        if let Some(w) = v["warnings"][0].as_str() {
            v["warnings"][0] = json!(sorted_bracket_list(w));
        }
        answers.push((status, v, a));
    }
    assert_eq!(
        (answers[0].0, &answers[0].1),
        (answers[1].0, &answers[1].1),
        "Arca (left) and OpenBao (right) differ"
    );
    assert!(
        answers[0].1["warnings"][0]
            .as_str()
            .is_some_and(|w| w.ends_with("[source urlbytes]")),
        "{}",
        answers[0].1
    );
    assert_eq!(random_len(&answers[0].2, false), 8);
    for (path, body) in [
        ("sys/tools/random", json!({"bytes": 0})),
        ("sys/tools/random", json!({"bytes": -1})),
        ("sys/tools/random", json!({"bytes": "x"})),
        ("sys/tools/random", json!({"bytes": 1_000_000})),
        ("sys/tools/random", json!({"format": "bogus"})),
        ("sys/tools/random/bogus/8", json!({})),
        ("sys/tools/random/all/x", json!({})),
        ("sys/tools/random/platform/8/9", json!({})),
        ("sys/tools/random/99999999", json!({})),
    ] {
        let a = same(s, "POST", path, Some(body.clone())).await;
        assert_eq!(a.status, 400, "{path} {body}: {}", a.body);
    }
    // GET is not an operation of either tool.
    assert_eq!(same(s, "GET", "sys/tools/random/8", None).await.status, 405);
    assert_eq!(same(s, "GET", "sys/tools/hash", None).await.status, 405);

    // Hashes: the same sums as OpenBao's for every algorithm and both formats.
    for alg in [
        "sha2-224", "sha2-256", "sha2-384", "sha2-512", "sha3-224", "sha3-256", "sha3-384",
        "sha3-512",
    ] {
        for format in ["hex", "base64"] {
            let body = json!({"input": "aGVsbG8gd29ybGQ=", "format": format});
            let a = same(s, "POST", &format!("sys/tools/hash/{alg}"), Some(body)).await;
            assert_eq!(a.status, 200, "{alg}: {}", a.body);
            let body = json!({"input": "aGVsbG8gd29ybGQ=", "algorithm": alg, "format": format});
            same(s, "POST", "sys/tools/hash", Some(body)).await;
        }
    }
    let a = same(
        s,
        "POST",
        "sys/tools/hash",
        Some(json!({"input": "aGVsbG8="})),
    )
    .await;
    assert_eq!(
        a.body["data"]["sum"],
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    // The path's algorithm wins, and the body's `urlalgorithm` draws the warning.
    same(
        s,
        "POST",
        "sys/tools/hash/sha2-256",
        Some(json!({"input": "aGVsbG8=", "algorithm": "sha2-512", "urlalgorithm": "x", "zz": 1})),
    )
    .await;
    for body in [
        json!({"input": "aGVsbG8=", "algorithm": "md5"}),
        json!({"input": "aGVsbG8=", "algorithm": "sha1"}),
        json!({"input": "aGVsbG8=", "format": "bogus"}),
        json!({"input": "notb64!"}),
    ] {
        let a = same(s, "POST", "sys/tools/hash", Some(body.clone())).await;
        assert_eq!(a.status, 400, "{body}: {}", a.body);
    }
}

async fn counters(s: &[Server; 2]) {
    for server in s.iter() {
        let before = root_ok(server, "GET", "sys/internal/counters/tokens", None).await;
        let before = before["data"]["counters"]["service_tokens"]["total"]
            .as_u64()
            .expect("total");
        root_ok(
            server,
            "POST",
            "auth/token/create",
            Some(json!({"policies": ["default"]})),
        )
        .await;
        let after = root_ok(server, "GET", "sys/internal/counters/tokens", None).await;
        assert_eq!(
            after["data"]["counters"]["service_tokens"]["total"].as_u64(),
            Some(before + 1),
            "{}",
            server.addr
        );
        let e = root_ok(server, "GET", "sys/internal/counters/entities", None).await;
        let before = e["data"]["counters"]["entities"]["total"]
            .as_u64()
            .expect("total");
        root_ok(
            server,
            "POST",
            "identity/entity",
            Some(json!({"name": "counted"})),
        )
        .await;
        let e = root_ok(server, "GET", "sys/internal/counters/entities", None).await;
        assert_eq!(
            e["data"]["counters"]["entities"]["total"].as_u64(),
            Some(before + 1)
        );
    }
    // The request counter is gone from OpenBao, which says so; activity counting is not in
    // OpenBao 2.7.2 at all.
    same(s, "GET", "sys/internal/counters/requests", None).await;
    same(s, "GET", "sys/internal/counters/activity", None).await;
    // Unauthenticated: denied.
    for server in s.iter() {
        let a = call(server, "GET", "sys/internal/counters/tokens", None, None).await;
        assert_eq!(a.status, 403);
    }
}

async fn version_history(s: &[Server; 2]) {
    let a = root_call(&s[0], "LIST", "sys/version-history", None).await;
    let b = root_call(&s[1], "LIST", "sys/version-history", None).await;
    assert_eq!((a.status, b.status), (200, 200), "{} {}", a.body, b.body);
    let version = a.body["data"]["keys"][0].as_str().expect("a version");
    assert_eq!(a.body["data"]["keys"].as_array().map(Vec::len), Some(1));
    let info = &a.body["data"]["key_info"][version];
    let bao_version = b.body["data"]["keys"][0].as_str().expect("bao's version");
    assert_eq!(keys(info), keys(&b.body["data"]["key_info"][bao_version]));
    assert_eq!(info["previous_version"], Value::Null);
    let installed = info["timestamp_installed"].as_str().expect("timestamp");
    // RFC 3339 to the second, UTC, as OpenBao's (`2026-12-07T10:54:49Z`).
    assert!(
        installed.len() == 20 && installed.ends_with('Z') && installed.as_bytes()[10] == b'T',
        "{installed}"
    );
    // LIST only.
    same(s, "GET", "sys/version-history", None).await;
}

async fn host_info(s: &[Server; 2]) {
    let a = root_ok(&s[0], "GET", "sys/host-info", None).await;
    let b = root_ok(&s[1], "GET", "sys/host-info", None).await;
    let (a, b) = (&a["data"], &b["data"]);
    assert_eq!(keys(a), keys(b));
    for section in ["host", "memory"] {
        assert_eq!(keys(&a[section]), keys(&b[section]), "{section}");
    }
    for section in ["cpu", "cpu_times", "disk"] {
        assert_eq!(
            keys(&a[section][0]),
            keys(&b[section][0]),
            "{section}: {}",
            a[section]
        );
    }
    // The same machine: the same CPUs, memory and host name.
    assert_eq!(
        a["cpu"].as_array().map(Vec::len),
        b["cpu"].as_array().map(Vec::len)
    );
    assert_eq!(a["memory"]["total"], b["memory"]["total"]);
    assert_eq!(a["host"]["hostname"], b["host"]["hostname"]);
    assert_eq!(a["host"]["kernelVersion"], b["host"]["kernelVersion"]);
    assert_eq!(a["cpu"][0]["modelName"], b["cpu"][0]["modelName"]);
}

async fn sanitized(s: &[Server; 2]) {
    let a = root_ok(&s[0], "GET", "sys/config/state/sanitized", None).await;
    let b = root_ok(&s[1], "GET", "sys/config/state/sanitized", None).await;
    let (a, b) = (&a["data"], &b["data"]);
    // Every key Arca shows is one OpenBao shows too.
    let extra: Vec<_> = keys(a).difference(&keys(b)).cloned().collect();
    assert!(extra.is_empty(), "{extra:?}");
    assert_eq!(a["storage"]["type"], "inmem");
    assert_eq!(a["seals"], b["seals"]);
    assert_eq!(keys(&a["storage"]), keys(&b["storage"]));
    let port = s[0].addr.rsplit(':').next().expect("port");
    assert!(
        a["listeners"][0]["config"]["address"]
            .as_str()
            .is_some_and(|addr| addr.ends_with(port)),
        "{a}"
    );
    same(s, "POST", "sys/config/state/sanitized", None).await;
}

/// Whether the server's log has a line containing `needle`.
fn log_has(s: &Server, needle: &str) -> bool {
    std::fs::read_to_string(&s.log).is_ok_and(|l| l.contains(needle))
}

/// `GET sys/loggers/<name>`'s data on both servers, which must agree (OpenBao's envelope
/// carries `warnings: []` there, Arca's `null`: a README deviation).
async fn logger_data(s: &[Server; 2], name: &str) -> Value {
    let path = format!("sys/loggers/{name}");
    let a = root_ok(&s[0], "GET", &path, None).await;
    let b = root_ok(&s[1], "GET", &path, None).await;
    assert_eq!(a["data"], b["data"], "{path}");
    a["data"].clone()
}

async fn loggers(s: &[Server; 2]) {
    let arca = &s[0];
    let all = root_ok(arca, "GET", "sys/loggers", None).await;
    for name in ["core", "audit", "expiration", "token"] {
        assert_eq!(all["data"][name], "info", "{name}: {}", all["data"]);
    }
    // The same answers and texts as OpenBao's for the names both have.
    same(
        s,
        "POST",
        "sys/loggers/core",
        Some(json!({"level": "debug"})),
    )
    .await;
    assert_eq!(logger_data(s, "core").await, json!({"core": "debug"}));
    same(
        s,
        "POST",
        "sys/loggers/core",
        Some(json!({"level": "bogus"})),
    )
    .await;
    same(s, "POST", "sys/loggers/core", Some(json!({}))).await;
    same(
        s,
        "POST",
        "sys/loggers/nope",
        Some(json!({"level": "debug"})),
    )
    .await;
    same(s, "DELETE", "sys/loggers/core", None).await;
    assert_eq!(logger_data(s, "core").await, json!({"core": "info"}));
    // An unknown logger reads as nothing on both.
    assert_eq!(logger_data(s, "nope").await, json!({}));
    same(s, "POST", "sys/loggers", Some(json!({"level": "bogus"}))).await;

    // The level changes the live log: the HTTP layer's per-request debug line appears once
    // `http` is at debug, and stops when it is reset.
    let marker = "sys/loggers-marker-one";
    root_call(arca, "GET", marker, None).await;
    assert!(!log_has(arca, marker), "logged at info");
    root_ok(
        arca,
        "POST",
        "sys/loggers/http",
        Some(json!({"level": "debug"})),
    )
    .await;
    root_call(arca, "GET", marker, None).await;
    assert!(
        poll_until(Duration::from_secs(5), || log_has(arca, marker)
            .then_some(()))
        .is_some(),
        "the debug line never came"
    );
    root_ok(arca, "DELETE", "sys/loggers/http", None).await;
    let marker = "sys/loggers-marker-two";
    root_call(arca, "GET", marker, None).await;
    // The answer has come back, so the line would already be written.
    root_ok(arca, "GET", "sys/loggers", None).await;
    assert!(!log_has(arca, marker), "still at debug after the reset");
    // Every logger at once, and back.
    root_ok(arca, "POST", "sys/loggers", Some(json!({"level": "trace"}))).await;
    let all = root_ok(arca, "GET", "sys/loggers", None).await;
    assert!(
        all["data"]
            .as_object()
            .expect("map")
            .values()
            .all(|l| l == "trace")
    );
    root_ok(arca, "DELETE", "sys/loggers", None).await;
    let all = root_ok(arca, "GET", "sys/loggers", None).await;
    assert!(
        all["data"]
            .as_object()
            .expect("map")
            .values()
            .all(|l| l == "info")
    );
}

async fn in_flight(arca: &Server) {
    // A request whose body has not all arrived is in flight until the client gives up.
    let hostport = arca.addr.trim_start_matches("http://").to_string();
    let mut conn = std::net::TcpStream::connect(&hostport).expect("connect");
    write!(
        conn,
        "POST /v1/secret/data/in-flight HTTP/1.1\r\nHost: {hostport}\r\nX-Vault-Token: root\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"data\":"
    )
    .expect("write");
    conn.flush().expect("flush");
    let listed = |v: &Value| {
        v.as_object().is_some_and(|m| {
            m.values().any(|r| {
                r["request_path"] == "/v1/secret/data/in-flight"
                    && r["request_method"] == "POST"
                    && r["client_remote_address"]
                        .as_str()
                        .is_some_and(|a| a.starts_with("127.0.0.1:"))
            })
        })
    };
    let mut seen = Value::Null;
    for _ in 0..100 {
        let a = root_call(arca, "GET", "sys/in-flight-req", None).await;
        assert_eq!(a.status, 200);
        seen = a.body;
        if listed(&seen) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(listed(&seen), "{seen}");
    // The answer is the raw map (no envelope), and the asking request is in it too.
    assert!(seen.get("data").is_none(), "{seen}");
    assert!(
        seen.as_object()
            .expect("map")
            .values()
            .any(|r| r["request_path"] == "/v1/sys/in-flight-req"),
        "{seen}"
    );
    drop(conn);
    let mut gone = false;
    for _ in 0..100 {
        let a = root_call(arca, "GET", "sys/in-flight-req", None).await;
        if !listed(&a.body) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "the abandoned request is still listed");
}
