//! Audit devices end to end, against the real binary: what a line holds and what it must
//! never hold, fail-closed behaviour with a device that cannot write or that blocks, the
//! table surviving a restart, and log rotation on SIGHUP.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Server, call, call_with, init_unseal};
use serde_json::{Value, json};

/// The config every server here runs with: API-enabled audit devices, and the server's own
/// log at its most verbose (the golden test reads it too).
const CONFIG: &str = "unsafe_allow_api_audit_creation = true\nlog_level = \"trace\"\n";

/// A server with audit devices allowed through the API, initialized and unsealed.
async fn server() -> (Server, String, String) {
    let s = Server::with_config_extra(None, CONFIG);
    let (key, root) = init_unseal(&s).await;
    (s, key, root)
}

async fn enable(s: &Server, root: &str, path: &str, body: Value) -> common::Answer {
    call(
        s,
        "PUT",
        &format!("sys/audit/{path}"),
        Some(root),
        Some(body),
    )
    .await
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The lines of `path` recording requests to `req_path`, request and response.
fn lines_for(path: &Path, req_path: &str) -> Vec<Value> {
    lines(path)
        .into_iter()
        .filter(|l| l["request"]["path"] == req_path)
        .collect()
}

#[tokio::test]
async fn lines_hold_hmacs_and_never_a_secret() {
    let (s, key, root) = server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("audit.log");
    let logx = dir.path().join("audit.xml.log");
    let r = enable(
        &s,
        &root,
        "file",
        json!({"type": "file", "options": {"file_path": log}}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = enable(
        &s,
        &root,
        "xml",
        json!({"type": "file", "options": {"file_path": logx, "format": "jsonx"}}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let mode = std::fs::metadata(&log).expect("log").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "an audit file is created 0600");

    let mut secrets: Vec<String> = vec![root.clone(), key.clone()];
    let kv_secret = "GOLDEN-kv-value-7f3a19";
    secrets.push(kv_secret.into());
    let r = call(
        &s,
        "POST",
        "sys/mounts/secret",
        Some(&root),
        Some(json!({"type": "kv", "options": {"version": "2"}})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = call(
        &s,
        "PUT",
        "secret/data/app",
        Some(&root),
        Some(json!({"data": {"password": kv_secret, "port": 5432, "enabled": true}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(&s, "GET", "secret/data/app", Some(&root), None).await;
    assert_eq!(r.body["data"]["data"]["password"], kv_secret);

    // A wrapped read, then its unwrap: neither the wrapping token nor the secret shows.
    let r = call_with(
        &s,
        "GET",
        "secret/data/app",
        Some(&root),
        &[("X-Vault-Wrap-TTL", "60")],
        None,
    )
    .await;
    let wrapping = r.body["wrap_info"]["token"]
        .as_str()
        .expect("wrap token")
        .to_string();
    secrets.push(wrapping.clone());
    let r = call(&s, "PUT", "sys/wrapping/unwrap", Some(&wrapping), None).await;
    assert_eq!(r.body["data"]["data"]["password"], kv_secret, "{}", r.body);
    let wrapped_secret = "GOLDEN-wrapped-c0ffee";
    secrets.push(wrapped_secret.into());
    let r = call_with(
        &s,
        "PUT",
        "sys/wrapping/wrap",
        Some(&root),
        &[("X-Vault-Wrap-TTL", "60")],
        Some(common::Body::Json(json!({"inner": wrapped_secret}))),
    )
    .await;
    let wrapping2 = r.body["wrap_info"]["token"]
        .as_str()
        .expect("wrap token")
        .to_string();
    secrets.push(wrapping2);

    // A child token, used, looked up by value, and its accessor.
    let (child, accessor) = common::create_token(&s, &root, json!({"policies": ["default"]})).await;
    secrets.push(child.clone());
    secrets.push(accessor.clone());
    let r = call(&s, "GET", "auth/token/lookup-self", Some(&child), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(
        &s,
        "PUT",
        "auth/token/lookup",
        Some(&root),
        Some(json!({"token": child})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Refused requests are recorded too: a bad token, and a token the ACL turns away.
    let r = call(
        &s,
        "GET",
        "secret/data/app",
        Some("hvs.GOLDEN-bogus-token"),
        None,
    )
    .await;
    assert_eq!(r.status, 403);
    secrets.push("hvs.GOLDEN-bogus-token".into());
    let r = call(&s, "GET", "secret/data/app", Some(&child), None).await;
    assert_eq!(r.status, 403);
    let r = call(
        &s,
        "PUT",
        "sys/plugins/reload/backend",
        Some(&root),
        Some(json!({"mounts": ["secret/"]})),
    )
    .await;
    assert!(r.status < 300, "{}", r.body);
    // Unaudited: health and seal status. Sealing is recorded; the unseal key never is.
    for p in ["sys/health", "sys/seal-status"] {
        assert_eq!(call(&s, "GET", p, None, None).await.status, 200);
    }
    let r = call(&s, "PUT", "sys/seal", Some(&root), None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    common::unseal(&s, &key).await;
    let r = call(&s, "GET", "secret/data/app", Some(&root), None).await;
    assert_eq!(r.status, 200, "devices come back after unseal: {}", r.body);

    let all = lines(&log);
    assert!(all.len() > 20, "{} lines", all.len());
    for l in &all {
        assert!(l["type"] == "request" || l["type"] == "response", "{l}");
        assert!(l["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{l}");
        assert_ne!(l["request"]["path"], "sys/health");
        assert_ne!(l["request"]["path"], "sys/seal-status");
    }
    // The KV write: strings HMAC'd with the device's salt (sys/audit-hash gives the same),
    // numbers and booleans kept.
    let write = lines_for(&log, "secret/data/app")
        .into_iter()
        .find(|l| l["request"]["operation"] == "create")
        .expect("the write's request line");
    let r = call(
        &s,
        "PUT",
        "sys/audit-hash/file",
        Some(&root),
        Some(json!({"input": kv_secret})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let hash = r.body["data"]["hash"].as_str().expect("hash").to_string();
    assert!(
        hash.starts_with("hmac-sha256:") && hash.len() == 12 + 64,
        "{hash}"
    );
    assert_eq!(write["request"]["data"]["data"]["password"], hash.as_str());
    assert_eq!(write["request"]["data"]["data"]["port"], 5432);
    assert_eq!(write["request"]["data"]["data"]["enabled"], true);
    assert_eq!(write["request"]["mount_type"], "kv");
    assert_eq!(write["request"]["mount_point"], "secret/");
    assert_eq!(write["request"]["namespace"]["id"], "root");
    assert_eq!(write["auth"]["policies"], json!(["root"]));
    assert_eq!(write["auth"]["display_name"], "root");
    assert_eq!(write["auth"]["policy_results"]["allowed"], true);
    assert!(write["request"]["remote_address"].as_str().is_some());
    // Another device hashes with another salt.
    let r = call(
        &s,
        "PUT",
        "sys/audit-hash/xml",
        Some(&root),
        Some(json!({"input": kv_secret})),
    )
    .await;
    assert_ne!(r.body["data"]["hash"].as_str(), Some(hash.as_str()));
    // The token's own HMAC is the request's client_token.
    let r = call(
        &s,
        "PUT",
        "sys/audit-hash/file",
        Some(&root),
        Some(json!({"input": root})),
    )
    .await;
    assert_eq!(write["request"]["client_token"], r.body["data"]["hash"]);
    assert_eq!(write["auth"]["client_token"], r.body["data"]["hash"]);
    // The child's creation: its token and accessor recorded as HMACs only.
    let created = lines_for(&log, "auth/token/create")
        .into_iter()
        .find(|l| l["type"] == "response")
        .expect("token create response line");
    let r = call(
        &s,
        "PUT",
        "sys/audit-hash/file",
        Some(&root),
        Some(json!({"input": child})),
    )
    .await;
    assert_eq!(
        created["response"]["auth"]["client_token"],
        r.body["data"]["hash"]
    );
    // Refusals carry their error.
    let refused: Vec<Value> = lines_for(&log, "secret/data/app")
        .into_iter()
        .filter(|l| l["error"].is_string())
        .collect();
    assert!(
        refused
            .iter()
            .any(|l| l["error"] == "permission denied" && l["auth"]["token_type"] == "default"),
        "{refused:?}"
    );
    assert!(
        refused
            .iter()
            .any(|l| l["auth"]["policy_results"]["allowed"] == false),
        "{refused:?}"
    );
    // The wrapped read's response names the wrapping, hashed.
    let wrapped = lines_for(&log, "secret/data/app")
        .into_iter()
        .find(|l| l["type"] == "response" && l["response"]["wrap_info"].is_object())
        .expect("wrapped response line");
    assert_eq!(wrapped["request"]["wrap_ttl"], 60);
    assert!(
        wrapped["response"]["wrap_info"]["token"]
            .as_str()
            .is_some_and(|t| t.starts_with("hmac-sha256:"))
    );

    // No secret anywhere: neither audit file, nor the server's own trace-level log.
    let texts = [
        ("audit.log", std::fs::read_to_string(&log).expect("log")),
        (
            "audit.xml.log",
            std::fs::read_to_string(&logx).expect("xml log"),
        ),
        (
            "server log",
            std::fs::read_to_string(&s.log).expect("server log"),
        ),
    ];
    for (name, text) in &texts {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{name} holds a secret");
        }
    }

    // JSONx: every line an XML document, the same entry.
    let xml = std::fs::read_to_string(&logx).expect("xml log");
    let mut paths = Vec::new();
    for line in xml.lines() {
        let doc = roxmltree::Document::parse(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let root_el = doc.root_element();
        assert_eq!(root_el.tag_name().name(), "object", "{line}");
        for n in doc.descendants() {
            if n.attribute("name") == Some("path")
                && let Some(t) = n.text()
            {
                paths.push(t.to_string());
            }
        }
    }
    assert!(paths.iter().any(|p| p == "secret/data/app"), "{paths:?}");
}

/// A unix-socket listener that records the lines it is sent until stopped.
struct Collector {
    path: PathBuf,
    lines: Arc<Mutex<Vec<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Collector {
    /// Listens at `path`; `read` false accepts connections but never reads (a peer that
    /// blocks).
    fn start(path: &Path, read: bool) -> Collector {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path).expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (l2, s2) = (lines.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            let mut readers: Vec<std::thread::JoinHandle<()>> = Vec::new();
            while !s2.load(std::sync::atomic::Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        if read {
                            let l3 = l2.clone();
                            let s3 = s2.clone();
                            let held_conn = conn.try_clone().expect("clone");
                            held.push(held_conn);
                            readers.push(std::thread::spawn(move || {
                                let mut r = BufReader::new(conn);
                                let mut line = String::new();
                                while !s3.load(std::sync::atomic::Ordering::SeqCst) {
                                    line.clear();
                                    match r.read_line(&mut line) {
                                        Ok(0) | Err(_) => break,
                                        Ok(_) => l3.lock().expect("lines").push(line.clone()),
                                    }
                                }
                            }));
                        } else {
                            held.push(conn);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            for c in &held {
                let _ = c.shutdown(std::net::Shutdown::Both);
            }
            for r in readers {
                let _ = r.join();
            }
        });
        Collector {
            path: path.to_path_buf(),
            lines,
            stop,
            thread: Some(thread),
        }
    }

    fn count(&self) -> usize {
        self.lines.lock().expect("lines").len()
    }

    /// Closes every connection and removes the socket: writes fail, reconnects are refused.
    fn stop(mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn kv_write(s: &Server, root: &str, key: &str) -> common::Answer {
    call(
        s,
        "PUT",
        &format!("kv/{key}"),
        Some(root),
        Some(json!({"value": "v"})),
    )
    .await
}

#[tokio::test]
async fn no_device_records_the_request_so_it_fails_and_changes_nothing() {
    let (s, _key, root) = server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("audit.sock");
    let r = call(
        &s,
        "POST",
        "sys/mounts/kv",
        Some(&root),
        Some(json!({"type": "kv"})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let collector = Collector::start(&sock, true);
    let r = enable(
        &s,
        &root,
        "sock",
        json!({"type": "socket", "options": {"address": sock, "socket_type": "unix"}}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(kv_write(&s, &root, "before").await.status, 204);
    arca_testkit::wait_until("the device's lines", Duration::from_secs(10), || {
        (collector.count() >= 2).then_some(())
    });
    let accessors = call(&s, "LIST", "auth/token/accessors", Some(&root), None).await;
    let accessors_before = accessors.body["data"]["keys"].as_array().map(Vec::len);
    collector.stop();

    // The only device cannot write: every audited request fails with OpenBao's answer and
    // its backend never runs.
    let r = kv_write(&s, &root, "during").await;
    assert_eq!(r.status, 500, "{}", r.body);
    assert_eq!(r.body, json!({"errors": ["internal error"]}));
    let r = call(
        &s,
        "POST",
        "auth/token/create",
        Some(&root),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, 500, "{}", r.body);
    let r = call(&s, "GET", "kv/before", None, None).await;
    assert_eq!(r.status, 500, "even a request without a token: {}", r.body);
    // Unaudited endpoints still answer.
    assert_eq!(call(&s, "GET", "sys/health", None, None).await.status, 200);

    // The device comes back: nothing was written, no token minted.
    let collector = Collector::start(&sock, true);
    let r = call(&s, "GET", "kv/during", Some(&root), None).await;
    assert_eq!(
        r.status, 404,
        "the refused write changed nothing: {}",
        r.body
    );
    let accessors = call(&s, "LIST", "auth/token/accessors", Some(&root), None).await;
    assert_eq!(
        accessors.body["data"]["keys"].as_array().map(Vec::len),
        accessors_before,
        "the refused token create minted nothing"
    );

    // With a second device, one failing device does not fail the request.
    let file = dir.path().join("audit.log");
    let r = enable(
        &s,
        &root,
        "file",
        json!({"type": "file", "options": {"file_path": file}}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    collector.stop();
    assert_eq!(kv_write(&s, &root, "after").await.status, 204);
    assert_eq!(lines_for(&file, "kv/after").len(), 2);
    let r = call(&s, "GET", "kv/after", Some(&root), None).await;
    assert_eq!(r.body["data"]["value"], "v");
}

#[tokio::test]
async fn a_blocked_device_fails_after_its_write_timeout_and_holds_nothing() {
    let (s, _key, root) = server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("stuck.sock");
    let r = call(
        &s,
        "POST",
        "sys/mounts/kv",
        Some(&root),
        Some(json!({"type": "kv"})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let stuck = Collector::start(&sock, false);
    let r = enable(
        &s,
        &root,
        "stuck",
        json!({"type": "socket", "options": {
            "address": sock, "socket_type": "unix", "write_timeout": "500ms"}}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    // Numbers are logged as they are: each line carries ~300 KB, so the socket's buffer
    // fills within a few requests and the next write blocks.
    let big: serde_json::Map<String, Value> = (0..20)
        .map(|k| {
            let numbers: Vec<u64> = (0..5_000).map(|i| 1_000_000 + i).collect();
            (format!("n{k}"), json!(numbers))
        })
        .collect();
    let mut failed = None;
    for i in 0..40 {
        let started = Instant::now();
        let r = call(
            &s,
            "PUT",
            &format!("kv/big{i}"),
            Some(&root),
            Some(Value::Object(big.clone())),
        )
        .await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "a request waited {:?}",
            started.elapsed()
        );
        if r.status == 500 {
            failed = Some(i);
            break;
        }
        assert_eq!(r.status, 204, "{}", r.body);
    }
    let failed = failed.expect("a request failed once the device blocked");
    // The refused write is not stored; the server still answers what needs no audit.
    assert_eq!(call(&s, "GET", "sys/health", None, None).await.status, 200);
    stuck.stop();
    // The device reconnects to a peer that reads: the refused write was never stored.
    let collector = Collector::start(&sock, true);
    let r = call(&s, "GET", &format!("kv/big{failed}"), Some(&root), None).await;
    assert_eq!(r.status, 404, "{}", r.body);
    collector.stop();
}

#[tokio::test]
async fn the_table_and_salts_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logdir = tempfile::tempdir().expect("tempdir");
    let log = logdir.path().join("audit.log");
    let s = Server::with_config_extra(Some(dir), CONFIG);
    let (key, root) = init_unseal(&s).await;
    let r = enable(
        &s,
        &root,
        "file",
        json!({"type": "file", "description": "kept", "options": {"file_path": log}}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let hash = call(
        &s,
        "PUT",
        "sys/audit-hash/file",
        Some(&root),
        Some(json!({"input": "x"})),
    )
    .await
    .body["data"]["hash"]
        .clone();
    let listed = call(&s, "GET", "sys/audit", Some(&root), None).await;
    assert_eq!(listed.status, 200);
    assert_eq!(
        listed.body["data"]["file/"],
        json!({"description": "kept", "local": false, "options": {"file_path": log},
               "path": "file/", "type": "file"})
    );
    assert_eq!(
        listed.body["file/"], listed.body["data"]["file/"],
        "mirrored at the top"
    );

    let dir = s.stop();
    let s = Server::with_config_extra(dir, CONFIG);
    common::unseal(&s, &key).await;
    let again = call(&s, "GET", "sys/audit", Some(&root), None).await;
    assert_eq!(again.body["data"], listed.body["data"]);
    let r = call(
        &s,
        "PUT",
        "sys/audit-hash/file",
        Some(&root),
        Some(json!({"input": "x"})),
    )
    .await;
    assert_eq!(r.body["data"]["hash"], hash, "the salt is kept");
    assert_eq!(lines_for(&log, "sys/audit-hash/file").len(), 4);

    // Disabled, it records no more, and is gone after a restart.
    let r = call(&s, "DELETE", "sys/audit/file", Some(&root), None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let before = lines(&log).len();
    assert_eq!(
        call(&s, "GET", "sys/audit", Some(&root), None).await.status,
        200
    );
    assert_eq!(lines(&log).len(), before);
    let dir = s.stop();
    let s = Server::with_config_extra(dir, CONFIG);
    common::unseal(&s, &key).await;
    let r = call(&s, "GET", "sys/audit", Some(&root), None).await;
    assert_eq!(r.body["data"], json!({}));
}

#[tokio::test]
async fn enabling_answers_as_openbao() {
    let (s, _key, root) = server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("a.log");
    let ok = |p: &Path| json!({"type": "file", "options": {"file_path": p}});
    assert_eq!(enable(&s, &root, "f1", ok(&log)).await.status, 204);
    // Each case: body, and OpenBao 2.7.2's 400 text (AUDIT answers observed with `bao`).
    let cases: Vec<(&str, Value, &str)> = vec![
        ("f1", ok(&log), "path already in use"),
        ("f1/sub", ok(&log), "path already in use"),
        (
            "f2",
            json!({"type": "file", "options": {}}),
            "file_path is required",
        ),
        (
            "f2",
            json!({"type": "nope"}),
            "unknown backend type: \"nope\"",
        ),
        ("f2", json!({"options": {}}), "unknown backend type: \"\""),
        (
            "f2",
            json!({"type": "file", "options": {"file_path": log, "format": "xml"}}),
            "unknown format type \"xml\"",
        ),
        (
            "f2",
            json!({"type": "file", "options": {"file_path": log, "prefix": "X"}}),
            "audit log prefixing is not allowed",
        ),
        (
            "f2",
            json!({"type": "file", "options": {"file_path": log, "log_raw": "maybe"}}),
            "strconv.ParseBool: parsing \"maybe\": invalid syntax",
        ),
        (
            "f2",
            json!({"type": "file", "options": {"file_path": log, "mode": "abc"}}),
            "strconv.ParseUint: parsing \"abc\": invalid syntax",
        ),
        (
            "f2",
            json!({"type": "socket", "options": {}}),
            "address is required",
        ),
        (
            "f2",
            json!({"type": "socket", "options": {"address": "127.0.0.1:1", "write_timeout": "zz"}}),
            "time: invalid duration \"zz\"",
        ),
        (
            "f2",
            json!({"type": "syslog", "options": {"facility": "BOGUS"}}),
            "invalid syslog facility: BOGUS",
        ),
    ];
    for (path, body, text) in cases {
        let r = enable(&s, &root, path, body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.body, json!({"errors": [text]}), "{body}");
    }
    let r = enable(
        &s,
        &root,
        "f2",
        json!({"type": "socket", "options": {"address": "127.0.0.1:1"}}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["errors"][0]
            .as_str()
            .is_some_and(|e| e.starts_with("audit backend failed test message: ")),
        "{}",
        r.body
    );
    // The executable bits of a mode are dropped.
    let exe = dir.path().join("exe.log");
    let r = enable(
        &s,
        &root,
        "exe",
        json!({"type": "file", "options": {"file_path": exe, "mode": "0755"}}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let mode = std::fs::metadata(&exe).expect("exe").permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    // Other endpoints and methods.
    let r = call(&s, "DELETE", "sys/audit/nonexistent", Some(&root), None).await;
    assert_eq!(r.status, 204);
    let r = call(&s, "GET", "sys/audit/f1", Some(&root), None).await;
    assert_eq!(r.status, 405);
    let r = call(&s, "PUT", "sys/audit/", Some(&root), Some(ok(&log))).await;
    assert_eq!(
        r.body,
        json!({"errors": ["cannot write to a path ending in '/'"]})
    );
    let r = call(
        &s,
        "PUT",
        "sys/audit-hash/nope",
        Some(&root),
        Some(json!({"input": "x"})),
    )
    .await;
    assert_eq!(
        r.body,
        json!({"errors": ["unknown audit backend \"nope/\""]})
    );
    let r = call(&s, "PUT", "sys/audit-hash/f1", Some(&root), Some(json!({}))).await;
    assert_eq!(
        r.body,
        json!({"errors": ["the \"input\" parameter is empty"]})
    );
    // Audited request headers: recorded when configured, HMAC'd when asked.
    for (h, body) in [("X-Test", json!({"hmac": true})), ("X-Plain", json!({}))] {
        let r = call(
            &s,
            "PUT",
            &format!("sys/config/auditing/request-headers/{h}"),
            Some(&root),
            Some(body),
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.body);
    }
    let r = call(
        &s,
        "GET",
        "sys/config/auditing/request-headers",
        Some(&root),
        None,
    )
    .await;
    assert_eq!(
        r.body["data"],
        json!({"headers": {"x-plain": {"hmac": false}, "x-test": {"hmac": true}}})
    );
    assert_eq!(r.body["headers"], r.body["data"]["headers"]);
    let r = call(
        &s,
        "GET",
        "sys/config/auditing/request-headers/X-Test",
        Some(&root),
        None,
    )
    .await;
    assert_eq!(r.body["data"], json!({"X-Test": {"hmac": true}}));
    let r = call(
        &s,
        "GET",
        "sys/config/auditing/request-headers/nope",
        Some(&root),
        None,
    )
    .await;
    assert_eq!(
        r.body,
        json!({"errors": ["Could not find header in config"]})
    );
    let r = call_with(
        &s,
        "GET",
        "sys/mounts",
        Some(&root),
        &[("X-Test", "secretval"), ("X-Plain", "p1"), ("X-Other", "o")],
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let hash = call(
        &s,
        "PUT",
        "sys/audit-hash/f1",
        Some(&root),
        Some(json!({"input": "secretval"})),
    )
    .await
    .body["data"]["hash"]
        .clone();
    let line = lines_for(&log, "sys/mounts")
        .pop()
        .expect("sys/mounts line");
    assert_eq!(
        line["request"]["headers"],
        json!({"x-plain": ["p1"], "x-test": [hash]})
    );
    let r = call(
        &s,
        "DELETE",
        "sys/config/auditing/request-headers/X-Plain",
        Some(&root),
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    // sys/audit needs sudo.
    let (child, _) = common::create_token(&s, &root, json!({"policies": ["default"]})).await;
    let r = call(&s, "GET", "sys/audit", Some(&child), None).await;
    assert_eq!(r.status, 403);
    let r = enable(&s, &child, "f3", ok(&log)).await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn without_the_flag_the_api_cannot_enable_a_device() {
    let s = Server::with_config_extra(None, "");
    let (_key, root) = init_unseal(&s).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let r = enable(
        &s,
        &root,
        "f",
        json!({"type": "file", "options": {"file_path": dir.path().join("a.log")}}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({"errors": ["cannot enable audit device via API; use declarative, config-based audit device management instead"]})
    );
    assert!(!dir.path().join("a.log").exists());
}

#[tokio::test]
async fn a_file_device_reopens_on_sighup_and_stays_out_of_the_plugin_directory() {
    let plugins = tempfile::tempdir().expect("tempdir");
    let logs = tempfile::tempdir().expect("tempdir");
    let log = logs.path().join("audit.log");
    let extra = format!(
        "{CONFIG}plugin_directory = \"{}\"\n",
        plugins.path().display()
    );
    let s = Server::with_config_extra(None, &extra);
    let (_key, root) = init_unseal(&s).await;
    // CVE-2025-6000: no audit file inside the plugin directory, whatever the spelling.
    for inside in [
        plugins.path().join("evil"),
        plugins.path().join("sub/../evil2"),
        plugins.path().join("new/dir/evil3"),
    ] {
        let r = enable(
            &s,
            &root,
            "evil",
            json!({"type": "file", "options": {"file_path": inside}}),
        )
        .await;
        assert_eq!(r.status, 400, "{}: {}", inside.display(), r.body);
        assert!(!inside.exists(), "{}", inside.display());
    }
    let r = enable(
        &s,
        &root,
        "file",
        json!({"type": "file", "options": {"file_path": log}}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        call(&s, "GET", "sys/mounts", Some(&root), None)
            .await
            .status,
        200
    );
    assert_eq!(lines_for(&log, "sys/mounts").len(), 2);

    // logrotate: the file is moved away, SIGHUP reopens the configured path.
    let rotated = logs.path().join("audit.log.1");
    std::fs::rename(&log, &rotated).expect("rotate");
    let status = std::process::Command::new("kill")
        .args(["-HUP", &s.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    // The reopen creates the file again at once.
    arca_testkit::wait_until("the file reopened", Duration::from_secs(20), || {
        log.exists().then_some(())
    });
    let r = call(&s, "GET", "sys/policy", Some(&root), None).await;
    assert_eq!(r.status, 200, "the server survives SIGHUP: {}", r.body);
    assert_eq!(
        lines_for(&log, "sys/policy").len(),
        2,
        "new lines go to the new file"
    );
    let mode = std::fs::metadata(&log).expect("log").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(
        lines_for(&rotated, "sys/mounts").len(),
        2,
        "the old file keeps its lines"
    );
}

#[tokio::test]
async fn a_device_declared_in_the_config_is_enabled_at_unseal_and_kept() {
    let logs = tempfile::tempdir().expect("tempdir");
    let log = logs.path().join("declared.log");
    // No API creation: a declared device is enabled either way.
    let extra = format!(
        "audit \"file\" \"declared\" {{\n  description = \"from config\"\n  options = {{\n    file_path = \"{}\"\n  }}\n}}\n",
        log.display()
    );
    let s = Server::with_config_extra(None, &extra);
    let (_key, root) = init_unseal(&s).await;
    let r = call(&s, "GET", "sys/audit", Some(&root), None).await;
    assert_eq!(
        r.body["data"]["declared/"],
        json!({"description": "from config", "local": false,
               "options": {"file_path": log}, "path": "declared/", "type": "file"})
    );
    assert!(!lines_for(&log, "sys/audit").is_empty(), "it records");
    let r = call(&s, "DELETE", "sys/audit/declared", Some(&root), None).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({"errors": ["cannot disable configuration-managed audit device"]})
    );
    let r = call(&s, "GET", "sys/audit", Some(&root), None).await;
    assert!(r.body["data"]["declared/"].is_object());
}

#[tokio::test]
async fn format_options_shape_the_lines() {
    let (s, _key, root) = server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("raw.log");
    let elided = dir.path().join("elided.log");
    let r = enable(
        &s,
        &root,
        "raw",
        json!({"type": "file", "options": {"file_path": raw, "log_raw": "true"}}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = enable(
        &s,
        &root,
        "elided",
        json!({"type": "file", "options": {
            "file_path": elided, "elide_list_responses": "true", "hmac_accessor": "false"}}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    // A mount's audit_non_hmac_request_keys / _response_keys stay readable.
    let r = call(
        &s,
        "POST",
        "sys/mounts/kv",
        Some(&root),
        Some(json!({"type": "kv", "config": {
            "audit_non_hmac_request_keys": ["visible"],
            "audit_non_hmac_response_keys": ["visible"]}})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    for k in ["a", "b", "c"] {
        let r = call(
            &s,
            "PUT",
            &format!("kv/{k}"),
            Some(&root),
            Some(json!({"visible": "shown", "hidden": "kept-secret"})),
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.body);
    }
    assert_eq!(call(&s, "GET", "kv/a", Some(&root), None).await.status, 200);
    assert_eq!(call(&s, "LIST", "kv", Some(&root), None).await.status, 200);

    // log_raw: nothing hashed.
    let write = lines_for(&raw, "kv/a")
        .into_iter()
        .find(|l| l["type"] == "request" && l["request"]["operation"] == "create")
        .expect("raw write line");
    assert_eq!(write["request"]["data"]["hidden"], "kept-secret");
    assert_eq!(write["request"]["client_token"], root.as_str());
    // Hashed, but the mount's non-HMAC keys in clear, both ways.
    let write = lines_for(&elided, "kv/a")
        .into_iter()
        .find(|l| l["type"] == "request" && l["request"]["operation"] == "create")
        .expect("write line");
    assert_eq!(write["request"]["data"]["visible"], "shown");
    assert!(
        write["request"]["data"]["hidden"]
            .as_str()
            .is_some_and(|h| h.starts_with("hmac-sha256:"))
    );
    let read = lines_for(&elided, "kv/a")
        .into_iter()
        .find(|l| l["type"] == "response" && l["request"]["operation"] == "read")
        .expect("read line");
    assert_eq!(read["response"]["data"]["visible"], "shown");
    assert_ne!(read["response"]["data"]["hidden"], "kept-secret");
    // hmac_accessor=false: the accessor in clear (the token still hashed).
    let r = call(&s, "GET", "auth/token/lookup-self", Some(&root), None).await;
    let accessor = r.body["data"]["accessor"]
        .as_str()
        .expect("accessor")
        .to_string();
    assert_eq!(write["auth"]["accessor"], accessor.as_str());
    assert_eq!(write["request"]["client_token_accessor"], accessor.as_str());
    assert_ne!(write["request"]["client_token"], root.as_str());
    // elide_list_responses: a LIST answer's keys become their count.
    let list = lines_for(&elided, "kv/")
        .into_iter()
        .find(|l| l["type"] == "response")
        .expect("list line");
    assert_eq!(list["response"]["data"]["keys"], 3, "{list}");
    let list = lines_for(&raw, "kv/")
        .into_iter()
        .find(|l| l["type"] == "response")
        .expect("list line");
    assert_eq!(list["response"]["data"]["keys"], json!(["a", "b", "c"]));
}

#[tokio::test]
async fn lines_name_the_namespace_as_openbao_writes_it() {
    let (s, _key, root) = server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("audit.log");
    let r = enable(
        &s,
        &root,
        "file",
        json!({"type": "file", "options": {"file_path": log}}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = call(&s, "PUT", "sys/namespaces/team-a", Some(&root), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ns_id = r.body["data"]["id"].as_str().expect("id").to_string();
    let r = call_with(
        &s,
        "POST",
        "sys/mounts/secret",
        Some(&root),
        &[("X-Vault-Namespace", "team-a")],
        Some(common::Body::Json(
            json!({"type": "kv", "options": {"version": "2"}}),
        )),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    // By path prefix and by header: both logged inside the namespace.
    let r = call(
        &s,
        "POST",
        "team-a/secret/data/x",
        Some(&root),
        Some(json!({"data": {"v": "a"}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call_with(
        &s,
        "GET",
        "secret/data/x",
        Some(&root),
        &[("X-Vault-Namespace", "team-a")],
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let found = lines_for(&log, "secret/data/x");
    assert_eq!(found.len(), 4, "{found:?}");
    for line in &found {
        assert_eq!(
            line["request"]["namespace"],
            json!({"id": ns_id, "path": "team-a/"}),
            "{line}"
        );
        assert_eq!(line["request"]["mount_point"], "team-a/secret/", "{line}");
    }
    // The root namespace's lines keep `{"id": "root"}`.
    let root_lines = lines_for(&log, "sys/namespaces/team-a");
    assert!(!root_lines.is_empty());
    for line in root_lines {
        assert_eq!(line["request"]["namespace"], json!({"id": "root"}));
    }
}
