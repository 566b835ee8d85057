//! The example KV plugin mounted in a real OpenBao dev server: register (via
//! `-dev-plugin-dir`), enable, write, read, list, delete, and a wrong-cookie run.
//!
//! The pinned `bao` comes from `arca_testkit::bao` (installed when missing): the test fails,
//! never skips. The server listens on a free port, picked again if another process takes it.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use arca_testkit::{bao as bao_path, free_port, http_status, poll_until, wait_until};

/// A `bao server -dev` process and its address; stopped on drop.
struct Server(Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM lets OpenBao shut its plugins down; SIGKILL only if it hangs.
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let stopped = poll_until(Duration::from_secs(10), || {
            matches!(self.0.try_wait(), Ok(Some(_))).then_some(())
        });
        if stopped.is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl Server {
    /// `bao server -dev` loading plugins from `plugin_dir`, on a free port (a new one when the
    /// server exits before answering, its port taken meanwhile), once `sys/health` is 200.
    fn dev(plugin_dir: &std::path::Path) -> Server {
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new(bao_path())
                .args([
                    "server",
                    "-dev",
                    "-dev-root-token-id=root",
                    &format!("-dev-listen-address=127.0.0.1:{port}"),
                    &format!("-dev-plugin-dir={}", plugin_dir.display()),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start bao server");
            let mut server = Server(child, format!("http://127.0.0.1:{port}"));
            let exited = wait_until("bao dev server", Duration::from_secs(120), || {
                if let Ok(Some(_)) = server.0.try_wait() {
                    return Some(true);
                }
                (http_status(port, "/v1/sys/health") == Some(200)).then_some(false)
            });
            if !exited {
                return server;
            }
        }
        panic!("bao dev server exited before listening, 5 times");
    }
}

fn bao(server: &Server, args: &[&str]) -> std::process::Output {
    Command::new(bao_path())
        .args(args)
        .env("BAO_ADDR", &server.1)
        .env("BAO_TOKEN", "root")
        .output()
        .expect("run bao")
}

fn bao_ok(server: &Server, args: &[&str]) -> String {
    let out = bao(server, args);
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
    let server = Server::dev(dir.path());

    bao_ok(&server, &["secrets", "enable", "-path=kvp", "kv_plugin"]);
    bao_ok(
        &server,
        &["write", "kvp/app/db", "user=alice", "pass=s3cret"],
    );
    let read = bao_ok(&server, &["read", "-format=json", "kvp/app/db"]);
    let v: serde_json::Value = serde_json::from_str(&read).unwrap();
    assert_eq!(v["data"]["user"], "alice");
    assert_eq!(v["data"]["pass"], "s3cret");

    let list = bao_ok(&server, &["list", "-format=json", "kvp/app/"]);
    let keys: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(keys, serde_json::json!(["db"]));

    bao_ok(&server, &["delete", "kvp/app/db"]);
    let gone = bao(&server, &["read", "kvp/app/db"]);
    assert!(!gone.status.success(), "deleted entry still readable");

    // An error response of the plugin reaches the client as OpenBao's 400 with its text.
    let out = bao(&server, &["write", "kvp/", "a=1"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Code: 400") && err.contains("missing path"),
        "{err}"
    );
}
