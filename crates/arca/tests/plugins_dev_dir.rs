//! `arca server -dev -dev-plugin-dir=DIR` with several plugins: they are probed concurrently,
//! yet every one is registered and mounted at its name with its checksum, and a broken plugin
//! stops the start with the error of the first broken one in name order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Server, arca_bin, call, example_binary, free_port, secret_catalog_with, sha256_file};
use serde_json::json;

const NAMES: [&str; 5] = ["p1", "p2", "p3", "p4", "p5"];

fn install(src: &Path, dst: &Path) {
    std::fs::copy(src, dst).unwrap();
    std::fs::set_permissions(dst, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[tokio::test]
async fn five_plugins_are_registered_and_mounted_at_their_names() {
    let plugin = example_binary("kv_plugin");
    let dir = tempfile::tempdir().unwrap();
    for n in NAMES {
        install(&plugin, &dir.path().join(n));
    }
    let sha = sha256_file(&plugin);
    let s = Server::dev_with_plugins(dir.path());
    let root = Some("root");

    let r = call(&s, "LIST", "sys/plugins/catalog/secret", root, None).await;
    assert_eq!(r.body["data"]["keys"], secret_catalog_with(&NAMES));
    for n in NAMES {
        let r = call(
            &s,
            "GET",
            &format!("sys/plugins/catalog/secret/{n}"),
            root,
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{n}: {}", r.body);
        assert_eq!(r.body["data"]["command"], n);
        assert_eq!(r.body["data"]["sha256"], sha.as_str());
        assert_eq!(r.body["data"]["version"], "");

        let m = call(&s, "GET", &format!("sys/mounts/{n}"), root, None).await;
        assert_eq!(m.status, 200, "{n}: {}", m.body);
        assert_eq!(m.body["data"]["type"], n);
        assert_eq!(m.body["data"]["running_sha256"], sha.as_str());

        // Each mount answers, with its own storage.
        let w = call(&s, "PUT", &format!("{n}/k"), root, Some(json!({"v": n}))).await;
        assert!(w.status == 200 || w.status == 204, "{n}: {}", w.body);
    }
    for n in NAMES {
        let r = call(&s, "GET", &format!("{n}/k"), root, None).await;
        assert_eq!(r.body["data"], json!({"v": n}), "{n}");
    }
}

#[test]
fn the_first_broken_plugin_in_name_order_stops_the_start() {
    let plugin = example_binary("kv_plugin");
    let dir = tempfile::tempdir().unwrap();
    for n in NAMES {
        install(&plugin, &dir.path().join(n));
    }
    // Two broken ones: each prints a line that is no handshake. p3 comes first.
    for n in ["p3", "p4"] {
        let path = dir.path().join(n);
        std::fs::write(&path, format!("#!/bin/sh\necho not-a-handshake-{n}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let port = free_port();
    let mut child = Command::new(arca_bin())
        .args([
            "server",
            "-dev",
            "-dev-root-token-id=root",
            &format!("-dev-listen-address=127.0.0.1:{port}"),
            "-dev-no-store-token",
            &format!("-dev-plugin-dir={}", dir.path().display()),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = arca_testkit::wait_until("the server to exit", Duration::from_secs(120), || {
        child.try_wait().unwrap()
    });
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "Error: dev plugin p3: Unrecognized remote plugin message: not-a-handshake-p3"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("dev plugin p4"), "{stderr}");
}
