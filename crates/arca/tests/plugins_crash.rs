//! An external plugin hosted by Arca when its process dies or is shared: `kill -9` of the
//! plugin process, then reads through Arca's HTTP API still succeed (one relaunch, even for
//! concurrent requests); two mounts of the multiplexing example plugin share one process, and
//! reloading one of them leaves the other serving; the plugin's `[WARN]` stderr line reaches
//! the server log.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Server, call, example_binary};
use serde_json::json;

/// The live processes whose command line is exactly `path` (zombies excluded).
fn plugin_pids(path: &Path) -> Vec<u32> {
    let out = Command::new("pgrep")
        .args(["-f", "-x", &path.display().to_string()])
        .output()
        .expect("pgrep");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .map(|s| !s.contains(") Z "))
                .unwrap_or(false)
        })
        .collect()
}

/// Waits until exactly one process runs `path` and returns its pid.
fn the_plugin_pid(path: &Path) -> u32 {
    let start = Instant::now();
    loop {
        let pids = plugin_pids(path);
        if pids.len() == 1 {
            return pids[0];
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "expected one plugin process, found {pids:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kill9(pid: u32) {
    let ok = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill -9 {pid}");
}

#[tokio::test]
async fn a_killed_plugin_is_restarted_and_mounts_share_one_process() {
    let built = example_binary("kv_plugin");
    let dir = tempfile::tempdir().expect("tempdir");
    let plugin = dir.path().join("kvp");
    std::fs::copy(&built, &plugin).expect("install plugin");

    let s = Server::dev_with_plugins(dir.path());
    let t = Some("root");

    // A second mount of the same plugin: the example multiplexes, so one process serves both.
    let m = call(
        &s,
        "POST",
        "sys/mounts/kvp2",
        t,
        Some(json!({"type": "kvp"})),
    )
    .await;
    assert_eq!(m.status, 204, "{}", m.body);
    for (mount, v) in [("kvp", "hunter2"), ("kvp2", "swordfish")] {
        let w = call(
            &s,
            "PUT",
            &format!("{mount}/app"),
            t,
            Some(json!({"password": v})),
        )
        .await;
        assert!(
            w.status == 200 || w.status == 204,
            "{} {}",
            w.status,
            w.body
        );
    }
    let shared = the_plugin_pid(&plugin);

    // Reloading one mount leaves the other one serving, on the same process.
    let rl = call(
        &s,
        "PUT",
        "sys/plugins/reload/backend",
        t,
        Some(json!({"mounts": ["kvp2/"]})),
    )
    .await;
    assert_eq!(rl.status, 200, "{}", rl.body);
    let r = call(&s, "GET", "kvp/app", t, None).await;
    assert_eq!(r.body["data"]["password"], "hunter2", "{}", r.body);
    let r = call(&s, "GET", "kvp2/app", t, None).await;
    assert_eq!(r.body["data"]["password"], "swordfish", "{}", r.body);
    assert_eq!(the_plugin_pid(&plugin), shared);

    // kill -9: the next requests (several at once, on both mounts) relaunch it once.
    kill9(shared);
    let reads: Vec<_> = (0..6)
        .map(|i| spawn_read(&s.addr, if i % 2 == 0 { "kvp/app" } else { "kvp2/app" }))
        .collect();
    for (i, task) in reads.into_iter().enumerate() {
        let (status, body) = task.await.expect("read task");
        let want = if i % 2 == 0 { "hunter2" } else { "swordfish" };
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["password"], want, "{body}");
    }
    let relaunched = the_plugin_pid(&plugin);
    assert_ne!(relaunched, shared);

    // Writes work again too.
    let w = call(&s, "PUT", "kvp/after", t, Some(json!({"n": 1}))).await;
    assert!(
        w.status == 200 || w.status == 204,
        "{} {}",
        w.status,
        w.body
    );
    assert_eq!(
        call(&s, "GET", "kvp/after", t, None).await.body["data"]["n"],
        1
    );

    // The plugin's stderr reached the server log at WARN, and so did the restart.
    let log = std::fs::read_to_string(&s.log).expect("server log");
    let warn_line = log
        .lines()
        .find(|l| l.contains("[WARN]  kv_plugin: example engine mounted"))
        .unwrap_or_else(|| panic!("plugin stderr line missing from the log:\n{log}"));
    assert!(
        warn_line.contains("WARN") && warn_line.contains("kvp"),
        "{warn_line}"
    );
    assert!(
        log.contains("plugin process is gone; restarting it"),
        "restart not logged:\n{log}"
    );
}

/// GET `/v1/{path}` with the root token on its own task; the status and JSON body.
fn spawn_read(addr: &str, path: &str) -> tokio::task::JoinHandle<(u16, serde_json::Value)> {
    let url = format!("{addr}/v1/{path}");
    tokio::spawn(async move {
        let resp = reqwest::Client::new()
            .get(url)
            .header("X-Vault-Token", "root")
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        (status, body)
    })
}
