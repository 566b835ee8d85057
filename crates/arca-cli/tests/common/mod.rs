//! Test support: a real `bao` server on a free port, and running the same command with
//! `bao` and with `arca_cli::run_with` to compare outputs.

// Test support: a panic is how a failed setup is reported.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use arca_testkit::{bao as bao_path, free_port, http_status, wait_until};

/// How many fresh ports a server start tries before giving up (another process may take a
/// free port between the pick and the server's bind).
const START_ATTEMPTS: usize = 5;

/// A running `bao server`, killed on drop.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub addr: String,
    /// A scratch HOME for token files and config.
    pub home: tempfile::TempDir,
}

impl Server {
    /// Start `bao server -dev` with root token `root`; ready once `sys/health` says active.
    pub fn dev() -> Server {
        Self::start(200, |port, _home| {
            let mut cmd = Command::new(bao_path());
            cmd.args([
                "server",
                "-dev",
                "-dev-root-token-id=root",
                &format!("-dev-listen-address=127.0.0.1:{port}"),
            ]);
            cmd
        })
    }

    /// Start an uninitialised `bao server` with in-memory storage; ready once `sys/health`
    /// answers "not initialised" (501).
    pub fn uninitialised() -> Server {
        Self::start(501, |port, home| {
            let cfg = home.join("server.hcl");
            std::fs::write(
                &cfg,
                format!(
                    "storage \"inmem\" {{}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  cluster_address = \"127.0.0.1:{}\"\n  tls_disable = true\n}}\n",
                    port + 1
                ),
            )
            .unwrap();
            let mut cmd = Command::new(bao_path());
            cmd.args(["server", &format!("-config={}", cfg.display())]);
            cmd
        })
    }

    /// Starts the command `build` makes for a free port, and waits until `sys/health` answers
    /// `ready_status`; a server that exits first (its port taken meanwhile) is retried on a
    /// new port.
    fn start(ready_status: u16, build: impl Fn(u16, &std::path::Path) -> Command) -> Server {
        let mut exits = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let home = tempfile::tempdir().unwrap();
            let child = build(port, home.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start bao server");
            let mut server = Server {
                child,
                addr: format!("http://127.0.0.1:{port}"),
                home,
            };
            // Generous: on a loaded 2-core machine a dev server can take many seconds to start.
            let exited = wait_until(
                &format!("bao server on port {port}"),
                Duration::from_secs(120),
                || {
                    if let Ok(Some(status)) = server.child.try_wait() {
                        return Some(Some(status));
                    }
                    (http_status(port, "/v1/sys/health") == Some(ready_status)).then_some(None)
                },
            );
            match exited {
                None => return server,
                Some(status) => exits.push(format!("port {port}: {status}")),
            }
        }
        panic!("bao server exited before listening, {START_ATTEMPTS} times: {exits:?}");
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
