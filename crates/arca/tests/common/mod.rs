//! Test harness: starts the real `arca` binary on a free loopback port and talks to it over HTTP.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use arca_testkit::poll_until;
use serde_json::Value;

pub use arca_testkit::{bao, free_port};

pub mod ha;
pub mod lease_plugin;
pub mod transit;

/// How many fresh ports a server start tries: another process may take a free port between
/// the pick and the server's bind, and the server then exits.
const START_ATTEMPTS: usize = 5;

/// A running server process, killed on drop.
pub struct Server {
    pub child: Child,
    pub addr: String,
    pub dir: Option<tempfile::TempDir>,
    pub log: PathBuf,
    /// This is a real OpenBao (the `bao` binary), not Arca: where the two deliberately differ
    /// (README, differences table), a test asks this.
    pub openbao: bool,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn log_dir() -> PathBuf {
    let d = std::env::temp_dir().join("arca-test-logs");
    let _ = std::fs::create_dir_all(&d);
    d
}

/// Starts `bin` with the arguments `args_for(port)` builds for a free loopback port (files it
/// needs go in `dir`) and waits until it listens. A server that exits first (its port taken by
/// another process meanwhile) is started again on a new port.
pub fn spawn_on_free_port(
    bin: &Path,
    dir: Option<tempfile::TempDir>,
    args_for: impl Fn(u16, Option<&Path>) -> Vec<String>,
) -> Server {
    spawn_with_env(bin, dir, &[], args_for)
}

/// [`spawn_on_free_port`] with extra environment variables for the server process.
pub fn spawn_with_env(
    bin: &Path,
    mut dir: Option<tempfile::TempDir>,
    envs: &[(&str, &str)],
    args_for: impl Fn(u16, Option<&Path>) -> Vec<String>,
) -> Server {
    for attempt in 1..=START_ATTEMPTS {
        let port = free_port();
        let args = args_for(port, dir.as_ref().map(|d| d.path()));
        let log = log_dir().join(format!("server-{port}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(bin)
            .args(&args)
            .env("HOME", std::env::temp_dir())
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("spawn server");
        let mut server = Server {
            child,
            addr: format!("http://127.0.0.1:{port}"),
            dir: dir.take(),
            log,
            openbao: bin.file_name().is_some_and(|n| n == "bao"),
        };
        // Generous: a loaded two-core machine can take many seconds to start a server.
        let listening = poll_until(Duration::from_secs(120), || {
            if let Ok(Some(_)) = server.child.try_wait() {
                return Some(false);
            }
            answers_http(port).then_some(true)
        });
        match listening {
            Some(true) => return server,
            Some(false) if attempt < START_ATTEMPTS => dir = server.dir.take(),
            _ => panic!(
                "{} on port {port} did not start; log:\n{}",
                bin.display(),
                std::fs::read_to_string(&server.log).unwrap_or_default()
            ),
        }
    }
    unreachable!("the last attempt returns or panics")
}

/// Whether a server on loopback `port` answers an HTTP request. A bare TCP connect is not
/// enough: on a port of the ephemeral range a connect can reach itself (TCP simultaneous
/// open, source port = destination port) while no server listens, and the test's first
/// request then meets a reset.
fn answers_http(port: u16) -> bool {
    use std::io::{Read, Write};
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return false;
    };
    if stream.local_addr().ok() == stream.peer_addr().ok() {
        return false;
    }
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = b"GET /v1/sys/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if stream.write_all(request).is_err() {
        return false;
    }
    let mut head = [0u8; 5];
    stream.read_exact(&mut head).is_ok() && &head == b"HTTP/"
}

/// Builds (if needed) and returns an example plugin binary of `arca-plugin`.
pub fn example_binary(name: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "-q", "-p", "arca-plugin", "--example", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo build");
    assert!(status.success(), "building example {name} failed");
    let path = arca_bin()
        .parent()
        .expect("target/<profile>")
        .join("examples")
        .join(name);
    assert!(path.exists(), "{} missing", path.display());
    path
}

/// The builtin secrets engines the `arca` binary registers, as `LIST sys/plugins/catalog/secret`
/// shows them (sorted); catalog tests add their own plugins to this list.
pub const BUILTIN_SECRETS: &[&str] = &["database", "kv", "pki", "rabbitmq", "transit"];

/// `BUILTIN_SECRETS` plus `extra`, sorted as the catalog lists them.
pub fn secret_catalog_with(extra: &[&str]) -> serde_json::Value {
    let mut all: Vec<&str> = BUILTIN_SECRETS.iter().chain(extra).copied().collect();
    all.sort_unstable();
    serde_json::json!(all)
}

/// The SHA-256 of the file at `path`, hex, as the plugin catalog takes it.
pub fn sha256_file(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("digest")
        .to_string()
}

/// Path of the built `arca` binary.
pub fn arca_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_arca"))
}

/// The arguments of a dev server (`arca` or `bao`) on `port` with root token `root`.
fn dev_args(port: u16) -> Vec<String> {
    vec![
        "server".into(),
        "-dev".into(),
        "-dev-root-token-id=root".into(),
        format!("-dev-listen-address=127.0.0.1:{port}"),
        "-dev-no-store-token".into(),
    ]
}

impl Server {
    /// `arca server -dev` with root token `root`.
    pub fn dev() -> Server {
        spawn_on_free_port(&arca_bin(), None, |port, _| dev_args(port))
    }

    /// `arca server -dev` that registers and mounts every plugin binary in `dir`.
    pub fn dev_with_plugins(dir: &Path) -> Server {
        Server::dev_with_plugins_env(dir, &[])
    }

    /// [`Server::dev_with_plugins`] with extra environment variables.
    pub fn dev_with_plugins_env(dir: &Path, envs: &[(&str, &str)]) -> Server {
        spawn_with_env(&arca_bin(), None, envs, |port, _| {
            let mut args = dev_args(port);
            args.push(format!("-dev-plugin-dir={}", dir.display()));
            args
        })
    }

    /// `arca server -config=...` with file storage in a fresh directory (`storage_dir` reused
    /// when given, to restart over the same data).
    pub fn with_file_storage(dir: Option<tempfile::TempDir>) -> Server {
        Server::with_file_storage_and_plugins(dir, None)
    }

    /// [`Server::with_file_storage`] whose config names `plugin_dir` as its
    /// `plugin_directory` (plugins are registered and mounted through the API, as in
    /// production).
    pub fn with_file_storage_and_plugins(
        dir: Option<tempfile::TempDir>,
        plugin_dir: Option<&Path>,
    ) -> Server {
        let plugins = plugin_dir
            .map(|p| format!("plugin_directory = \"{}\"\n", p.display()))
            .unwrap_or_default();
        Server::with_config_extra(dir, &plugins)
    }

    /// [`Server::with_file_storage`] whose config file ends with `extra` (more top-level
    /// keys and stanzas, e.g. `unsafe_allow_api_audit_creation = true` or `audit` blocks).
    pub fn with_config_extra(dir: Option<tempfile::TempDir>, extra: &str) -> Server {
        let dir = dir.unwrap_or_else(|| tempfile::tempdir().expect("tempdir"));
        spawn_on_free_port(&arca_bin(), Some(dir), |port, dir| {
            let dir = dir.expect("storage dir");
            let storage = format!(
                "storage \"file\" {{\n  path = \"{}\"\n}}\n",
                dir.join("data").display()
            );
            config_file_args(dir, &storage, port, extra)
        })
    }

    /// Stops the process and hands back its storage directory.
    pub fn stop(mut self) -> Option<tempfile::TempDir> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.dir.take()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/v1/{}", self.addr, path.trim_start_matches('/'))
    }
}

/// A status and a parsed JSON body (Null when empty).
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

pub fn client() -> reqwest::Client {
    static C: OnceLock<reqwest::Client> = OnceLock::new();
    // No idle connections are kept: each test has a runtime of its own, and a connection
    // pooled by a finished test (its runtime gone) to a port a later server reuses would be
    // handed out dead (`connection reset by peer`).
    C.get_or_init(|| {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("HTTP client")
    })
    .clone()
}

/// Sends a request with an optional token and JSON body.
pub async fn call(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    call_with(server, method, path, token, &[], body.map(Body::Json)).await
}

/// A request body: JSON, or text sent as it is.
pub enum Body {
    /// Serialized as JSON.
    Json(Value),
    /// Sent verbatim.
    Text(String),
}

/// Sends a request with an optional token, extra headers and body; the answer's body is its
/// JSON, or the text as a JSON string, or `null` when empty.
pub async fn call_with(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Body>,
) -> Answer {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut rb = client().request(m, server.url(path));
    if let Some(t) = token {
        rb = rb.header("X-Vault-Token", t);
    }
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    match body {
        Some(Body::Json(b)) => rb = rb.json(&b),
        Some(Body::Text(t)) => rb = rb.body(t),
        None => {}
    }
    let resp = rb.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Answer {
        status,
        body,
        headers,
    }
}

/// An answer with what differs per request or per server taken out: `request_id`,
/// `lease_id`, Arca's documented extra `mount_type`, and the named `data` fields (random
/// passwords and the like).
pub fn comparable_answer(a: &Answer, ignored_data: &[&str]) -> (u16, Value) {
    let mut body = a.body.clone();
    if let Value::Object(m) = &mut body {
        for k in ["request_id", "mount_type", "lease_id"] {
            m.remove(k);
        }
        if let Some(Value::Object(d)) = m.get_mut("data") {
            for k in ignored_data {
                d.remove(*k);
            }
        }
    }
    (a.status, body)
}

/// Sends a request with the root token `root`.
pub async fn root_call(s: &Server, method: &str, path: &str, body: Option<Value>) -> Answer {
    call(s, method, path, Some("root"), body).await
}

/// [`root_call`] that must succeed (200 or 204); the answer's body.
pub async fn root_ok(s: &Server, method: &str, path: &str, body: Option<Value>) -> Value {
    let a = root_call(s, method, path, body).await;
    assert!(
        a.status == 200 || a.status == 204,
        "{method} {path}: {} {}",
        a.status,
        a.body
    );
    a.body
}

/// The status Arca gives where OpenBao answered `openbao_status`: OpenBao answers some bad
/// input with a 500 (a plain error from its handler), Arca with a 400 and the same text
/// (README, differences table); every other status is the same.
pub fn arca_status_for(openbao_status: u16) -> u16 {
    if openbao_status == 500 {
        400
    } else {
        openbao_status
    }
}

/// Sends the same request (root token) to Arca and OpenBao (`servers()`'s order), asserts the
/// same answer as [`comparable_answer`] sees it (OpenBao's status as [`arca_status_for`]
/// maps it), and returns Arca's.
pub async fn same_answer(
    s: &[Server; 2],
    method: &str,
    path: &str,
    body: Option<Value>,
    ignored_data: &[&str],
) -> Answer {
    let a = call(&s[0], method, path, Some("root"), body.clone()).await;
    let b = call(&s[1], method, path, Some("root"), body).await;
    let (status, body) = comparable_answer(&b, ignored_data);
    assert_eq!(
        comparable_answer(&a, ignored_data),
        (arca_status_for(status), body),
        "{method} {path}: Arca (left) and OpenBao (right) differ"
    );
    a
}

/// Arca and OpenBao dev servers, Arca first, for tests that hold both to the same answer.
pub fn servers() -> [Server; 2] {
    [Server::dev(), bao_dev()]
}

/// Runs `bao` with VAULT_ADDR pointed at `addr`; returns (exit code, stdout, stderr).
pub fn run_bao(addr: &str, token: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(bao());
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("VAULT_ADDR", addr)
        .env("BAO_ADDR", addr);
    if let Some(t) = token {
        cmd.env("VAULT_TOKEN", t).env("BAO_TOKEN", t);
    }
    let out = cmd.output().expect("run bao");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Writes `config.hcl` in `dir`: `storage`, a plain-HTTP listener on `port`, `api_addr`, then
/// `extra`; returns the `server -config=...` arguments.
fn config_file_args(dir: &Path, storage: &str, port: u16, extra: &str) -> Vec<String> {
    let cfg = dir.join("config.hcl");
    std::fs::write(
        &cfg,
        format!(
            "{storage}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_disable = true\n}}\n\ndisable_mlock = true\napi_addr = \"http://127.0.0.1:{port}\"\n{extra}"
        ),
    )
    .expect("write config");
    vec!["server".into(), format!("-config={}", cfg.display())]
}

/// A real OpenBao server started from a config file ending with `extra`, as
/// [`Server::with_config_extra`] starts Arca, over in-memory storage (OpenBao 2.7 has no
/// `file` storage); it starts uninitialized.
pub fn bao_with_config_extra(extra: &str) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    spawn_on_free_port(&bao(), Some(dir), |port, dir| {
        config_file_args(
            dir.expect("config dir"),
            "storage \"inmem\" {}\n",
            port,
            extra,
        )
    })
}

/// A real OpenBao dev server whose `-dev-plugin-dir` is `dir`: each executable in it is
/// registered and mounted at its name, as `arca server -dev -dev-plugin-dir` does.
pub fn bao_dev_with_plugins(dir: &Path) -> Server {
    spawn_on_free_port(&bao(), None, |port, _| {
        let mut args = dev_args(port);
        args.push(format!("-dev-plugin-dir={}", dir.display()));
        args
    })
}

/// Starts a real OpenBao dev server (root token `root`) for differential checks.
pub fn bao_dev() -> Server {
    let s = spawn_on_free_port(&bao(), None, |port, _| dev_args(port));
    // OpenBao's dev server upgrades its `secret/` KV mount to v2 in the background after it
    // starts listening, answering 400 "Upgrading from non-versioned to versioned data" until
    // done: wait for the mount to serve.
    let port: u16 = s
        .addr
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    arca_testkit::wait_until("OpenBao's secret/ mount", Duration::from_secs(30), || {
        (arca_testkit::http_status_with_token(port, "/v1/secret/config", Some("root")) == Some(200))
            .then_some(())
    });
    s
}

/// Runs `bin` (the `bao` binary or `arca` as a CLI) with VAULT_ADDR/BAO_ADDR pointed at `addr`
/// and HOME at `home`; returns (exit code, stdout, stderr).
pub fn run_cli_in(
    bin: &Path,
    addr: &str,
    token: Option<&str>,
    args: &[&str],
    home: &Path,
) -> (i32, String, String) {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("VAULT_ADDR", addr)
        .env("BAO_ADDR", addr)
        .stdin(Stdio::null());
    if let Some(t) = token {
        cmd.env("VAULT_TOKEN", t).env("BAO_TOKEN", t);
    }
    let out = cmd.output().expect("run cli");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `arca` as a CLI against `addr` (HOME is the temp dir, as for [`run_bao`]).
pub fn run_arca(addr: &str, token: Option<&str>, args: &[&str]) -> (i32, String, String) {
    run_cli_in(&arca_bin(), addr, token, args, &std::env::temp_dir())
}

fn word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '+')
}

fn is_duration(w: &str) -> bool {
    let mut digits = false;
    let mut units = 0;
    let mut last = ' ';
    for c in w.chars() {
        if c.is_ascii_digit() {
            digits = true;
        } else if matches!(c, 'h' | 'm' | 's') && digits {
            let rank = |u: char| match u {
                'h' => 0,
                'm' => 1,
                _ => 2,
            };
            if last != ' ' && rank(c) <= rank(last) {
                return false;
            }
            last = c;
            units += 1;
            digits = false;
        } else {
            return false;
        }
    }
    units > 0 && !digits
}

fn normalise_word(w: &str) -> Option<&'static str> {
    let b = w.as_bytes();
    if w.starts_with("127.0.0.1:") {
        return Some("ADDR");
    }
    for p in ["hvs.", "hvb.", "s.", "b."] {
        if let Some(rest) = w.strip_prefix(p)
            && rest.len() >= 20
        {
            return Some("TOKEN");
        }
    }
    if b.len() >= 20 && b[4] == b'-' && b[10] == b'T' && b[..4].iter().all(u8::is_ascii_digit) {
        return Some("TIME");
    }
    if b.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
        && w.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
    {
        return Some("UUID");
    }
    if b.len() == 24 && w.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Some("ACCESSOR");
    }
    if is_duration(w) {
        return Some("DUR");
    }
    if b.len() >= 9 && w.chars().all(|c| c.is_ascii_digit()) {
        return Some("EPOCH");
    }
    None
}

/// CLI output with what legitimately differs between two servers replaced by placeholders:
/// tokens (`s.`/`hvs.`/`hvb.`), accessors, UUIDs, RFC 3339 times, epoch seconds, durations,
/// the server address, the numbers of JSON `ttl`/`*_duration` keys, and `mount_type` lines.
pub fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for line in s.lines() {
        let t = line.trim_start();
        if t.starts_with("\"mount_type\":") {
            continue;
        }
        let timed = ["\"ttl\":", "\"lease_duration\":", "\"token_duration\":"]
            .iter()
            .any(|k| t.starts_with(k));
        let mut word = String::new();
        let flush = |word: &mut String, out: &mut String| {
            if !word.is_empty() {
                let numeric = word.chars().all(|c| c.is_ascii_digit());
                match normalise_word(word) {
                    Some(p) => out.push_str(p),
                    None if timed && numeric => out.push('N'),
                    None => out.push_str(word),
                }
                word.clear();
            }
        };
        for c in line.chars() {
            if word_char(c) {
                word.push(c);
            } else {
                flush(&mut word, &mut out);
                out.push(c);
            }
        }
        flush(&mut word, &mut out);
        out.push('\n');
    }
    out
}

/// One CLI answer, normalised: exit code and stdout+stderr.
pub type CliAnswer = (i32, String);

/// Runs the `bao` CLI with `args` against Arca and against OpenBao and asserts the same exit
/// code and the same normalised output; returns Arca's raw stdout.
pub fn same_bao(arca: &Server, openbao: &Server, token: &str, args: &[&str]) -> String {
    let a = run_bao(&arca.addr, Some(token), args);
    let b = run_bao(&openbao.addr, Some(token), args);
    assert_eq!(
        (a.0, normalise(&format!("{}{}", a.1, a.2))),
        (b.0, normalise(&format!("{}{}", b.1, b.2))),
        "bao {} (left: Arca, right: OpenBao)",
        args.join(" ")
    );
    a.1
}

/// Runs the `arca` CLI against Arca and `bao` against OpenBao with `args` and asserts the same
/// exit code and normalised output (`arca` in texts read as `bao`); returns Arca's stdout.
pub fn same_cli(arca: &Server, openbao: &Server, token: &str, args: &[&str]) -> String {
    let a = run_arca(&arca.addr, Some(token), args);
    let b = run_bao(&openbao.addr, Some(token), args);
    let a_text = normalise(&format!("{}{}", a.1, a.2)).replace("\"arca ", "\"bao ");
    assert_eq!(
        (a.0, a_text),
        (b.0, normalise(&format!("{}{}", b.1, b.2))),
        "arca/bao {} (left: arca CLI on Arca, right: bao CLI on OpenBao)",
        args.join(" ")
    );
    a.1
}

/// `POST auth/token/create` as `parent` with `body`; returns (token, accessor).
pub async fn create_token(server: &Server, parent: &str, body: Value) -> (String, String) {
    let r = call(
        server,
        "POST",
        "auth/token/create",
        Some(parent),
        Some(body),
    )
    .await;
    assert_eq!(r.status, 200, "token create on {}: {}", server.addr, r.body);
    let s = |k: &str| r.body["auth"][k].as_str().expect("auth field").to_string();
    (s("client_token"), s("accessor"))
}

/// Writes ACL policy `name` with HCL `rules` as root.
pub async fn write_policy(server: &Server, name: &str, rules: &str) {
    let r = call(
        server,
        "PUT",
        &format!("sys/policies/acl/{name}"),
        Some("root"),
        Some(serde_json::json!({ "policy": rules })),
    )
    .await;
    assert_eq!(r.status, 204, "policy write on {}: {}", server.addr, r.body);
}

/// A JSON body with what legitimately differs between two servers replaced: `request_id` and
/// `mount_type` dropped, string values passed through [`normalise`].
pub fn normalise_json(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| k.as_str() != "request_id" && k.as_str() != "mount_type")
                .map(|(k, v)| (k.clone(), normalise_json(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalise_json).collect()),
        Value::String(s) => {
            let n = normalise(s);
            let n = if s.ends_with('\n') {
                n
            } else {
                n.trim_end_matches('\n').to_string()
            };
            Value::String(n)
        }
        other => other.clone(),
    }
}

/// Initializes and unseals a fresh file-storage server; returns (unseal key, root token).
pub async fn init_unseal(s: &Server) -> (String, String) {
    let init = call(
        s,
        "PUT",
        "sys/init",
        None,
        Some(serde_json::json!({"secret_shares": 1, "secret_threshold": 1})),
    )
    .await;
    assert_eq!(init.status, 200, "{}", init.body);
    let key = init.body["keys_base64"][0]
        .as_str()
        .expect("key")
        .to_string();
    let root = init.body["root_token"].as_str().expect("root").to_string();
    unseal(s, &key).await;
    (key, root)
}

/// Submits the single unseal key `key`; the server must answer unsealed.
pub async fn unseal(s: &Server, key: &str) {
    let r = call(
        s,
        "PUT",
        "sys/unseal",
        None,
        Some(serde_json::json!({ "key": key })),
    )
    .await;
    assert_eq!(r.body["sealed"], false, "{}", r.body);
}

#[cfg(test)]
mod normalise_tests {
    use super::normalise;

    #[test]
    fn placeholders() {
        assert_eq!(
            normalise("token  hvs.CAESIabcdefghijklmnopqrstuv x\n\"ttl\": 1799,\nttl 59m59s 1h\n"),
            "token  TOKEN x\n\"ttl\": N,\nttl DUR DUR\n"
        );
        assert_eq!(
            normalise("URL: GET http://127.0.0.1:4000/v1/x"),
            "URL: GET http://ADDR/v1/x\n"
        );
        assert_eq!(normalise("version 3 max 10"), "version 3 max 10\n");
    }
}
