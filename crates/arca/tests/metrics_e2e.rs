//! `sys/metrics` end to end, against the real `arca` binary and, where the answer does not
//! depend on timing, a real OpenBao 2.7.2: the JSON summary's shape, the Prometheus text, the
//! 400s, who may read the metrics on which listener, Vault's metric names after real
//! requests (KV through a mount, tokens, a lease, an audit device), statsd and DogStatsD
//! datagrams, and the `telemetry` stanza's validation.

mod common;

use std::collections::BTreeSet;
use std::net::UdpSocket;
use std::path::Path;
use std::time::Duration;

use arca_testkit::poll_until;
use common::{
    Answer, Server, arca_bin, bao, bao_dev, call, call_with, init_unseal, run_arca, run_bao,
    spawn_on_free_port,
};
use serde_json::{Value, json};
use std::future::Future;

/// The Prometheus text content type OpenBao answers with.
const PROM_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Awaits `ready()` until it yields `Some`, at most `timeout` long.
async fn poll_async<T, F, Fut>(timeout: Duration, mut ready: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = ready().await {
            return Some(v);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn content_type(a: &Answer) -> &str {
    a.headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The body as text (the harness keeps a non-JSON body as a JSON string).
fn text(a: &Answer) -> String {
    match &a.body {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Checks every line of a Prometheus text exposition and returns the metric names it has.
fn prometheus_names(body: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in body.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut words = rest.splitn(3, ' ');
            let kind = words.next().unwrap_or("");
            assert!(
                kind == "HELP" || kind == "TYPE",
                "bad comment line {line:?}"
            );
            let name = words.next().unwrap_or("");
            assert!(valid_name(name), "bad name in {line:?}");
            if kind == "TYPE" {
                let t = words.next().unwrap_or("");
                assert!(
                    ["counter", "gauge", "summary", "histogram", "untyped"].contains(&t),
                    "bad type in {line:?}"
                );
            }
            continue;
        }
        // `name{labels} value` or `name value`.
        let (series, value) = line.rsplit_once(' ').expect("series and value");
        assert!(
            value.parse::<f64>().is_ok() || ["NaN", "+Inf", "-Inf"].contains(&value),
            "bad value in {line:?}"
        );
        let name = match series.split_once('{') {
            Some((name, labels)) => {
                assert!(labels.ends_with('}'), "unclosed labels in {line:?}");
                name
            }
            None => series,
        };
        assert!(valid_name(name), "bad series name in {line:?}");
        names.insert(name.to_string());
    }
    names
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

async fn prometheus(s: &Server, token: Option<&str>) -> BTreeSet<String> {
    let a = call(s, "GET", "sys/metrics?format=prometheus", token, None).await;
    assert_eq!(a.status, 200, "{}", text(&a));
    assert_eq!(content_type(&a), PROM_TYPE);
    prometheus_names(&text(&a))
}

/// The requests whose metrics the tests look for: a KV v2 write and read through `secret/`,
/// a token created with a TTL (its lease) and looked up, renewed, revoked.
async fn drive(s: &Server) {
    let t = Some("root");
    let w = call(
        s,
        "PUT",
        "secret/data/m",
        t,
        Some(json!({"data": {"a": "b"}})),
    )
    .await;
    assert_eq!(w.status, 200, "{}", w.body);
    let r = call(s, "GET", "secret/data/m", t, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let c = call(
        s,
        "POST",
        "auth/token/create",
        t,
        Some(json!({"ttl": "1h"})),
    )
    .await;
    assert_eq!(c.status, 200, "{}", c.body);
    let token = c.body["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    let l = call(s, "GET", "auth/token/lookup-self", Some(&token), None).await;
    assert_eq!(l.status, 200, "{}", l.body);
    let rn = call(
        s,
        "POST",
        "auth/token/renew-self",
        Some(&token),
        Some(json!({})),
    )
    .await;
    assert_eq!(rn.status, 200, "{}", rn.body);
    let rv = call(s, "POST", "auth/token/revoke-self", Some(&token), None).await;
    assert_eq!(rv.status, 204, "{}", rv.body);
}

/// Vault's names that the requests of [`drive`] must produce, in Prometheus form.
const EXPECTED: &[&str] = &[
    "vault_core_handle_request",
    "vault_route_create_secret_",
    "vault_route_read_secret_",
    "vault_route_update_auth_token_",
    "vault_barrier_get",
    "vault_barrier_put",
    "vault_barrier_delete",
    "vault_token_lookup",
    "vault_token_create",
    "vault_token_creation",
    "vault_token_revoke_tree",
    "vault_expire_register_auth",
    "vault_expire_renew_token",
    "vault_expire_revoke_by_token",
    "vault_expire_num_leases",
    "vault_core_unsealed",
    "vault_core_active",
    "vault_runtime_alloc_bytes",
    "vault_runtime_num_goroutines",
    "vault_core_unseal",
    "vault_core_post_unseal",
    "vault_token_create_root",
];

/// The summary series of a name: `name`, `name_sum`, `name_count` all count.
fn has(names: &BTreeSet<String>, name: &str) -> bool {
    names.contains(name) || names.contains(&format!("{name}_count"))
}

#[tokio::test]
async fn dev_server_answers_as_bao_and_names_metrics_as_vault() {
    let arca = Server::dev();
    let openbao = bao_dev();

    // A dev server serves the metrics without a token, in JSON by default.
    for s in [&arca, &openbao] {
        let a = call(s, "GET", "sys/metrics", None, None).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(content_type(&a), "application/json");
        let keys: BTreeSet<&str> = a
            .body
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["Counters", "Gauges", "Points", "Samples", "Timestamp"]),
            "{}",
            a.body
        );
        assert!(
            a.body["Timestamp"]
                .as_str()
                .is_some_and(|t| t.ends_with(" +0000 UTC"))
        );
    }

    // The same 400s, in plain text, with and without a token.
    for token in [None, Some("root")] {
        let answers = [
            call(&arca, "GET", "sys/metrics?format=bogus", token, None).await,
            call(&openbao, "GET", "sys/metrics?format=bogus", token, None).await,
        ];
        for a in &answers {
            assert_eq!(a.status, 400);
            assert_eq!(content_type(a), "text/plain");
            assert_eq!(text(a), "metric response format \"bogus\" unknown");
        }
    }
    // Only GET: a write is 405 with no error text, as OpenBao's unauthenticated handler.
    let a = call(&arca, "POST", "sys/metrics", None, Some(json!({}))).await;
    let b = call(&openbao, "POST", "sys/metrics", None, Some(json!({}))).await;
    assert_eq!((a.status, &a.body), (b.status, &b.body));
    assert_eq!(a.status, 405);

    // The same requests on both; every name Arca must have is one OpenBao has too.
    drive(&arca).await;
    drive(&openbao).await;
    let found = poll_async(Duration::from_secs(20), || async {
        let names = prometheus(&arca, None).await;
        EXPECTED.iter().all(|n| has(&names, n)).then_some(())
    })
    .await;
    let arca_names = prometheus(&arca, None).await;
    let missing: Vec<&&str> = EXPECTED.iter().filter(|n| !has(&arca_names, n)).collect();
    assert!(
        found.is_some(),
        "missing in Arca: {missing:?}\n{arca_names:?}"
    );
    // OpenBao's gauges come from a loop too: wait for them as well.
    let _ = poll_async(Duration::from_secs(20), || async {
        let names = prometheus(&openbao, Some("root")).await;
        EXPECTED.iter().all(|n| has(&names, n)).then_some(())
    })
    .await;
    let bao_names = prometheus(&openbao, Some("root")).await;
    for name in EXPECTED {
        // OpenBao has no tokio tasks: its `num_goroutines` is the same gauge.
        assert!(has(&bao_names, name), "{name} is not a name OpenBao uses");
    }
    // The Accept header asks for Prometheus too (OpenBao's `FormatFromRequest`).
    let a = call_with(
        &arca,
        "GET",
        "sys/metrics",
        None,
        &[("Accept", "prometheus/telemetry")],
        None,
    )
    .await;
    assert_eq!(content_type(&a), PROM_TYPE);

    // The labelled token counter carries OpenBao's labels.
    let body = text(&call(&arca, "GET", "sys/metrics?format=prometheus", None, None).await);
    let creation = body
        .lines()
        .find(|l| l.starts_with("vault_token_creation{") && l.contains("creation_ttl=\"1h\""))
        .expect("vault_token_creation series");
    for label in [
        "auth_method=\"token\"",
        "mount_point=\"auth/token/\"",
        "namespace=\"root\"",
        "creation_ttl=\"1h\"",
        "token_type=\"service\"",
    ] {
        assert!(creation.contains(label), "{creation}");
    }

    // The JSON summary shows the last finished 10-second interval, as go-metrics' does: wait
    // for one that holds the requests, then hold its rows to OpenBao's keys.
    let sample = poll_async(Duration::from_secs(40), || async {
        let a = call(&arca, "GET", "sys/metrics", None, None).await;
        let _ = call(&arca, "GET", "secret/data/m", Some("root"), None).await;
        a.body["Samples"]
            .as_array()?
            .iter()
            .find(|s| s["Name"] == "vault.core.handle_request")
            .cloned()
    })
    .await
    .expect("vault.core.handle_request in the JSON summary");
    let keys: BTreeSet<&str> = sample
        .as_object()
        .expect("row")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "Count", "Labels", "Max", "Mean", "Min", "Name", "Rate", "Stddev", "Sum"
        ])
    );
    assert!(sample["Count"].as_u64().is_some_and(|c| c > 0), "{sample}");
    let bao_json = call(&openbao, "GET", "sys/metrics", None, None).await.body;
    let bao_sample = bao_json["Samples"]
        .as_array()
        .and_then(|s| s.first())
        .expect("a sample in OpenBao's summary");
    let bao_keys: BTreeSet<&str> = bao_sample
        .as_object()
        .expect("row")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, bao_keys);
    let gauge = bao_json["Gauges"]
        .as_array()
        .and_then(|g| g.first())
        .expect("gauge");
    let gauge_keys: BTreeSet<&str> = gauge
        .as_object()
        .expect("row")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(gauge_keys, BTreeSet::from(["Labels", "Name", "Value"]));

    // The CLI reads the metrics as `bao read` does: the summary's keys as the data.
    let (code, out, err) = run_arca(
        &arca.addr,
        Some("root"),
        &["read", "-format=json", "sys/metrics"],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    let data: BTreeSet<&str> = v["data"]
        .as_object()
        .expect("data")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        data,
        BTreeSet::from(["Counters", "Gauges", "Points", "Samples", "Timestamp"])
    );
    let (code, out, _) = run_bao(
        &openbao.addr,
        Some("root"),
        &["read", "-format=json", "sys/metrics"],
    );
    assert_eq!(code, 0);
    let b: Value = serde_json::from_str(&out).expect("json");
    let mut shape = v.clone();
    let mut bao_shape = b.clone();
    shape["data"] = Value::Null;
    bao_shape["data"] = Value::Null;
    assert_eq!(shape, bao_shape);
    // `-format=raw` prints the Prometheus text; a plain read of it fails as bao's does.
    for args in [
        ["read", "-format=raw", "sys/metrics", "format=prometheus"],
        ["read", "-format=table", "sys/metrics", "format=prometheus"],
    ] {
        let (a_code, a_out, a_err) = run_arca(&arca.addr, Some("root"), &args);
        let (b_code, b_out, b_err) = run_bao(&openbao.addr, Some("root"), &args);
        assert_eq!(a_code, b_code, "{args:?}: {a_err} / {b_err}");
        if a_code == 0 {
            assert!(
                a_out.contains("# TYPE vault_core_handle_request summary"),
                "{a_out}"
            );
            assert!(b_out.contains("# TYPE "), "{b_out}");
        } else {
            assert_eq!(a_err.trim(), b_err.trim(), "{args:?}");
        }
    }
}

/// A plain-HTTP listener block on `port` with `telemetry` options.
fn listener(port: u16, telemetry: &str) -> String {
    format!(
        "listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_disable = true\n  {telemetry}\n}}\n"
    )
}

/// Starts `bin` from a config file over in-memory (OpenBao) or file (Arca) storage whose
/// first listener is on the harness's port; `rest(dir)` is the rest of the file.
fn from_config(bin: &Path, first_telemetry: &str, rest: impl Fn(&Path) -> String) -> Server {
    let is_bao = bin == bao().as_path();
    let dir = tempfile::tempdir().expect("tempdir");
    spawn_on_free_port(bin, Some(dir), |port, dir| {
        let dir = dir.expect("dir");
        let storage = if is_bao {
            "storage \"inmem\" {}\n".to_string()
        } else {
            format!(
                "storage \"file\" {{\n  path = \"{}\"\n}}\n",
                dir.join("data").display()
            )
        };
        let cfg = dir.join("config.hcl");
        std::fs::write(
            &cfg,
            format!(
                "{storage}{}disable_mlock = true\napi_addr = \"http://127.0.0.1:{port}\"\n{}",
                listener(port, first_telemetry),
                rest(dir)
            ),
        )
        .expect("config");
        vec!["server".into(), format!("-config={}", cfg.display())]
    })
}

#[tokio::test]
async fn without_telemetry_the_metrics_need_a_token_and_prometheus_is_off() {
    let audit_rest = |dir: &Path| {
        format!(
            "audit \"file\" \"file/\" {{\n  options {{\n    file_path = \"{}\"\n  }}\n}}\n",
            dir.join("audit.log").display()
        )
    };
    let arca = from_config(&arca_bin(), "", audit_rest);
    let openbao = from_config(&bao(), "", |_| String::new());
    let (_, arca_root) = init_unseal(&arca).await;
    let (_, bao_root) = init_unseal(&openbao).await;

    // No token: refused as any other path; a bad token too.
    for token in [None, Some("nope")] {
        let a = call(&arca, "GET", "sys/metrics", token, None).await;
        let b = call(&openbao, "GET", "sys/metrics", token, None).await;
        assert_eq!((a.status, &a.body), (b.status, &b.body));
        assert_eq!(a.status, 403);
    }
    // With a token: JSON, but no Prometheus without a retention.
    for (s, root) in [(&arca, &arca_root), (&openbao, &bao_root)] {
        let a = call(s, "GET", "sys/metrics?format=prometheus", Some(root), None).await;
        assert_eq!(a.status, 400);
        assert_eq!(content_type(&a), "text/plain");
        assert_eq!(text(&a), "prometheus is not enabled");
        let j = call(s, "GET", "sys/metrics", Some(root), None).await;
        assert_eq!(j.status, 200);
        assert_eq!(content_type(&j), "application/json");
        // Only GET: a write is OpenBao's framework 405, a LIST its 404.
        let w = call(s, "POST", "sys/metrics", Some(root), Some(json!({}))).await;
        assert_eq!(w.status, 405, "{}", w.body);
    }
    let a = call(&arca, "LIST", "sys/metrics", Some(&arca_root), None).await;
    let b = call(&openbao, "LIST", "sys/metrics", Some(&bao_root), None).await;
    assert_eq!(a.status, b.status, "{} / {}", a.body, b.body);

    // The audit device's metrics, in the in-memory summary (each line logged, none failed).
    let found = poll_async(Duration::from_secs(40), || async {
        let j = call(&arca, "GET", "sys/metrics", Some(&arca_root), None)
            .await
            .body;
        let named = |kind: &str, name: &str| {
            j[kind]
                .as_array()
                .is_some_and(|rows| rows.iter().any(|r| r["Name"] == name))
        };
        (named("Samples", "vault.audit.log_request")
            && named("Samples", "vault.audit.log_response")
            && named("Counters", "vault.audit.log_request_failure"))
        .then(|| j.clone())
    })
    .await
    .expect("audit metrics in the summary");
    let failure = found["Counters"]
        .as_array()
        .and_then(|rows| {
            rows.iter()
                .find(|r| r["Name"] == "vault.audit.log_request_failure")
        })
        .expect("failure counter");
    assert_eq!(failure["Sum"], json!(0), "{failure}");
    assert!(
        failure["Count"].as_u64().is_some_and(|c| c > 0),
        "{failure}"
    );
}

#[tokio::test]
async fn listener_options_and_statsd_sinks() {
    let statsd = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let dogstatsd = UdpSocket::bind("127.0.0.1:0").expect("udp");
    for s in [&statsd, &dogstatsd] {
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
    }
    let statsd_addr = statsd.local_addr().expect("addr");
    let dog_addr = dogstatsd.local_addr().expect("addr");
    let second = common::free_port();
    let third = common::free_port();
    let rest = move |_: &Path| {
        format!(
            "{}{}telemetry {{\n  prometheus_retention_time = \"1h\"\n  disable_hostname = true\n  statsd_address = \"{statsd_addr}\"\n  dogstatsd_addr = \"{dog_addr}\"\n  dogstatsd_tags = [\"env:test\"]\n}}\n",
            listener(second, "telemetry {\n    disallow_metrics = true\n  }"),
            listener(
                third,
                "telemetry {\n    metrics_only = true\n    unauthenticated_metrics_access = true\n  }"
            ),
        )
    };
    let arca = from_config(
        &arca_bin(),
        "telemetry {\n    unauthenticated_metrics_access = true\n  }",
        rest,
    );
    let (_, root) = init_unseal(&arca).await;

    // No token needed on this listener, in either format.
    let a = call(&arca, "GET", "sys/metrics?format=prometheus", None, None).await;
    assert_eq!(a.status, 200, "{}", text(&a));
    assert_eq!(content_type(&a), PROM_TYPE);
    prometheus_names(&text(&a));
    assert_eq!(
        call(&arca, "GET", "sys/metrics", None, None).await.status,
        200
    );

    // The second listener refuses the metrics; the third serves nothing else.
    let on = |port: u16, path: &str| format!("http://127.0.0.1:{port}{path}");
    let refused = common::client()
        .get(on(second, "/v1/sys/metrics"))
        .header("X-Vault-Token", &root)
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status().as_u16(), 403);
    assert_eq!(
        refused.text().await.expect("body"),
        "metrics endpoint is disabled for this listener\n"
    );
    let other = common::client()
        .get(on(second, "/v1/sys/health"))
        .send()
        .await
        .expect("request");
    assert_eq!(other.status().as_u16(), 200);
    let only = common::client()
        .get(on(third, "/v1/sys/health"))
        .send()
        .await
        .expect("request");
    assert_eq!(only.status().as_u16(), 404);
    assert_eq!(
        only.text().await.expect("body"),
        "this listener only serves the metrics endpoint\n"
    );
    let served = common::client()
        .get(on(third, "/v1/sys/metrics?format=prometheus"))
        .send()
        .await
        .expect("request");
    assert_eq!(served.status().as_u16(), 200);

    // Requests reach statsd (`%f` values, `|ms` timers) and DogStatsD (tags) over UDP.
    let w = call(
        &arca,
        "POST",
        "auth/token/create",
        Some(&root),
        Some(json!({"ttl": "30m"})),
    )
    .await;
    assert_eq!(w.status, 200, "{}", w.body);
    let statsd_lines = receive_until(&statsd, "vault.core.handle_request:");
    let line = statsd_lines
        .lines()
        .find(|l| l.starts_with("vault.core.handle_request:"))
        .expect("statsd line");
    let value = line
        .strip_prefix("vault.core.handle_request:")
        .and_then(|r| r.strip_suffix("|ms"))
        .expect("timer line");
    assert!(
        value.parse::<f64>().is_ok() && value.split('.').nth(1).is_some_and(|d| d.len() == 6),
        "{line}"
    );
    let dog_lines = receive_until(&dogstatsd, "vault.token.creation:");
    let line = dog_lines
        .lines()
        .find(|l| l.starts_with("vault.token.creation:"))
        .expect("dogstatsd line");
    assert!(line.starts_with("vault.token.creation:1|c|#env:test,namespace:root,auth_method:token,mount_point:auth/token/,creation_ttl:1h,token_type:service"), "{line}");
}

/// Reads datagrams from `socket` until one holds `needle` (a server sends at least every
/// 100 ms); returns everything read.
fn receive_until(socket: &UdpSocket, needle: &str) -> String {
    let mut seen = String::new();
    let mut buf = [0u8; 2048];
    let got = poll_until(Duration::from_secs(20), || {
        if let Ok(n) = socket.recv(&mut buf) {
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        seen.contains(needle).then_some(())
    });
    assert!(got.is_some(), "no {needle:?} in:\n{seen}");
    seen
}

/// Starts `bin` from `config`; returns its exit code and output, or `None` if it kept running.
fn start_fails(bin: &Path, config: &str) -> Option<(i32, String)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("bad.hcl");
    std::fs::write(&cfg, config).expect("config");
    let mut child = std::process::Command::new(bin)
        .args(["server", &format!("-config={}", cfg.display())])
        .env("HOME", std::env::temp_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let exited = poll_until(Duration::from_secs(20), || child.try_wait().ok().flatten());
    let Some(status) = exited else {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    };
    let out = child.wait_with_output().expect("output");
    Some((
        status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

#[test]
fn bad_telemetry_stanzas_stop_the_server_as_bao() {
    let port = common::free_port();
    let base = format!(
        "storage \"inmem\" {{}}\ndisable_mlock = true\n{}",
        listener(port, "LISTENER")
    );
    let cases = [
        (
            "",
            "telemetry { prometheus_retention_time = \"bogus\" }",
            "time: invalid duration \"bogus\"",
        ),
        (
            "",
            "telemetry { usage_gauge_period = \"xx\" }",
            "time: invalid duration \"xx\"",
        ),
        (
            "",
            "telemetry {\n  disable_hostname = true\n}\ntelemetry {\n  disable_hostname = true\n}",
            "only one 'telemetry' block is permitted",
        ),
        (
            "",
            "telemetry { prefix_filter = [\"x\"] }",
            "filter rule must begin with either '+' or '-': \"x\"",
        ),
        (
            "telemetry {\n    unauthenticated_metrics_access = \"maybe\"\n  }",
            "",
            "invalid value for telemetry.unauthenticated_metrics_access",
        ),
    ];
    for (in_listener, top, needle) in cases {
        let config = format!("{}{top}\n", base.replace("LISTENER", in_listener));
        let (code, out) = start_fails(&arca_bin(), &config)
            .unwrap_or_else(|| panic!("arca started with:\n{config}"));
        assert_ne!(code, 0);
        assert!(out.contains(needle), "arca: {needle:?} not in {out}");
        let (code, out) =
            start_fails(&bao(), &config).unwrap_or_else(|| panic!("bao started with:\n{config}"));
        assert_ne!(code, 0);
        assert!(out.contains(needle), "bao: {needle:?} not in {out}");
    }
}

/// The Prometheus lines of the usage gauge families (`vault_token_count*` but `by_policy`,
/// `vault_identity_entity_*count`, `vault_expire_leases_by_expiration`), sorted, with the cluster's (random) name replaced by `C`.
fn usage_lines(body: &str) -> Vec<String> {
    let mut lines: Vec<String> = body
        .lines()
        .filter(|l| {
            (l.starts_with("vault_token_count") && !l.starts_with("vault_token_count_by_policy"))
                || l.starts_with("vault_identity_entity_count")
                || l.starts_with("vault_identity_entity_alias_count")
                || l.starts_with("vault_expire_leases_by_expiration")
                || l.starts_with("vault_secret_kv_count")
        })
        .map(|l| {
            const KEY: &str = "cluster=\"";
            let Some(start) = l.find(KEY).map(|i| i + KEY.len()) else {
                return l.to_string();
            };
            match l[start..].find('"') {
                Some(len) => format!("{}C{}", &l[..start], &l[start + len..]),
                None => l.to_string(),
            }
        })
        .collect();
    lines.sort();
    lines
}

/// With `usage_gauge_period`, the active node counts its tokens (by namespace, policy, auth
/// method and creation TTL), its entities and aliases, its KV mounts' secrets, and its leases
/// by rounded expiry time,
/// with OpenBao's names, labels and values for the same tokens, entities and leases.
#[tokio::test]
async fn usage_gauges_count_as_openbaos() {
    let telemetry = |_: &Path| {
        "telemetry {\n  prometheus_retention_time = \"1h\"\n  disable_hostname = true\n  usage_gauge_period = \"1s\"\n}\n".to_string()
    };
    let servers = [
        from_config(&arca_bin(), "", telemetry),
        from_config(&bao(), "", telemetry),
    ];
    let mut seen = Vec::new();
    let mut arca_root = String::new();
    for s in &servers {
        let (_, root) = init_unseal(s).await;
        if arca_root.is_empty() {
            arca_root = root.clone();
        }
        let ok = |a: Answer| assert!(a.status < 300, "{}", text(&a));
        ok(call(
            s,
            "POST",
            "sys/auth/userpass",
            Some(&root),
            Some(json!({"type": "userpass"})),
        )
        .await);
        ok(call(
            s,
            "POST",
            "auth/userpass/users/u",
            Some(&root),
            Some(json!({"password": "pw", "token_ttl": "1h"})),
        )
        .await);
        for _ in 0..2 {
            ok(call(
                s,
                "POST",
                "auth/userpass/login/u",
                None,
                Some(json!({"password": "pw"})),
            )
            .await);
        }
        // KV mounts: three secrets (one nested) in a v2 mount, one in a v1 mount.
        ok(call(
            s,
            "POST",
            "sys/mounts/kvc",
            Some(&root),
            Some(json!({"type": "kv", "options": {"version": "2"}})),
        )
        .await);
        ok(call(
            s,
            "POST",
            "sys/mounts/kv1",
            Some(&root),
            Some(json!({"type": "kv"})),
        )
        .await);
        for path in ["kvc/data/a", "kvc/data/b", "kvc/data/dir/c"] {
            ok(call(
                s,
                "POST",
                path,
                Some(&root),
                Some(json!({"data": {"k": "v"}})),
            )
            .await);
        }
        ok(call(s, "POST", "kv1/x", Some(&root), Some(json!({"k": "v"}))).await);
        let wanted = "vault_token_count_by_auth{auth_method=\"userpass\",cluster=\"C\",namespace=\"root\"} 2";
        let token = root.as_str();
        let lines = poll_async(Duration::from_secs(30), || async move {
            let a = call(s, "GET", "sys/metrics?format=prometheus", Some(token), None).await;
            let lines = usage_lines(&text(&a));
            // Each family is collected on its own schedule: wait for all of them.
            let all = [
                "vault_token_count{",
                "vault_token_count_by_ttl{",
                "vault_identity_entity_count{",
                "vault_identity_entity_alias_count{",
                "vault_expire_leases_by_expiration{",
                "vault_secret_kv_count{",
            ]
            .iter()
            .all(|family| lines.iter().any(|l| l.starts_with(family)));
            (all && lines.iter().any(|l| l == wanted)).then_some(lines)
        })
        .await
        .unwrap_or_else(|| panic!("{}: no {wanted}", s.addr));
        seen.push(lines);
    }
    assert!(
        seen[0].contains(
            &"vault_secret_kv_count{cluster=\"C\",mount_point=\"kvc/\",namespace=\"root\"} 3"
                .to_string()
        ),
        "{:#?}",
        seen[0]
    );
    // The root token, without a TTL, holds no lease and is not counted.
    assert!(
        seen[0].contains(&"vault_token_count{cluster=\"C\",namespace=\"root\"} 2".to_string()),
        "{:#?}",
        seen[0]
    );
    assert_eq!(seen[0], seen[1], "Arca, then OpenBao");
    // Arca's once-a-second and per-collection gauges beside them (OpenBao counts entities
    // every ten minutes only).
    let a = call(
        &servers[0],
        "GET",
        "sys/metrics?format=prometheus",
        Some(&arca_root),
        None,
    )
    .await;
    let body = text(&a);
    assert!(body.contains("\nvault_identity_num_entities 1\n"), "{body}");
    assert!(body.contains("\nvault_core_in_flight_requests "), "{body}");
}
