//! An external plugin (the KV example built on arca-sdk + arca-plugin, the same binary that runs
//! under OpenBao) hosted by Arca: dev-mode registration and mounting, reads and writes through
//! the host's storage, reload by name, a new binary taking effect, and a failed reload that
//! changes nothing.

mod common;

use std::path::Path;

use common::{Server, call, example_binary, sha256_file};
use serde_json::json;

/// Replaces `dst` atomically with `src` plus `extra` trailing bytes (a different checksum, the
/// same program), the way an operator upgrades a running plugin (write to temp, then rename).
fn install_variant(src: &Path, dst: &Path, extra: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    let mut bytes = std::fs::read(src).expect("read plugin");
    bytes.extend_from_slice(extra);
    let tmp = dst.with_extension("tmp");
    std::fs::write(&tmp, bytes).expect("write");
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::rename(&tmp, dst).expect("rename");
}

#[tokio::test]
async fn external_plugin_mount_reload_and_upgrade() {
    let built = example_binary("kv_plugin");
    let dir = tempfile::tempdir().expect("tempdir");
    let plugin = dir.path().join("kvp");
    install_variant(&built, &plugin, b"");
    let sha1 = sha256_file(&plugin);

    let s = Server::dev_with_plugins(dir.path());
    let t = Some("root");

    // Dev mode registered the binary and mounted it at its name.
    let cat = call(&s, "GET", "sys/plugins/catalog/secret/kvp", t, None).await;
    assert_eq!(cat.status, 200, "{}", cat.body);
    assert_eq!(cat.body["data"]["sha256"], sha1);
    assert_eq!(cat.body["data"]["builtin"], false);
    let m = call(&s, "GET", "sys/mounts/kvp", t, None).await;
    assert_eq!(m.body["data"]["type"], "kvp", "{}", m.body);
    assert_eq!(m.body["data"]["running_sha256"], sha1);

    // Reads and writes go through the plugin to Arca's barrier.
    let w = call(
        &s,
        "PUT",
        "kvp/app",
        t,
        Some(json!({"password": "hunter2"})),
    )
    .await;
    assert!(
        w.status == 200 || w.status == 204,
        "{} {}",
        w.status,
        w.body
    );
    let r = call(&s, "GET", "kvp/app", t, None).await;
    assert_eq!(r.body["data"]["password"], "hunter2", "{}", r.body);
    let e = call(&s, "PUT", "kvp/", t, Some(json!({"a": 1}))).await;
    assert_eq!(
        e.status, 400,
        "the plugin's error reaches the client: {}",
        e.body
    );
    // The ACL applies to plugin mounts like any other: no token, no access.
    assert_eq!(call(&s, "GET", "kvp/app", None, None).await.status, 403);

    // Reload by name: a fresh process, the data intact.
    let rl = call(
        &s,
        "PUT",
        "sys/plugins/reload/backend",
        t,
        Some(json!({"plugin": "kvp"})),
    )
    .await;
    assert_eq!(rl.status, 200, "{}", rl.body);
    assert!(rl.body["data"]["reload_id"].is_string());
    assert_eq!(
        call(&s, "GET", "kvp/app", t, None).await.body["data"]["password"],
        "hunter2"
    );

    // A new binary + its new checksum in the catalog + reload: the mount runs the new one.
    install_variant(&built, &plugin, b"\0v2");
    let sha2 = sha256_file(&plugin);
    assert_ne!(sha1, sha2);
    let reg = call(
        &s,
        "PUT",
        "sys/plugins/catalog/secret/kvp",
        t,
        Some(json!({"sha256": sha2, "command": "kvp"})),
    )
    .await;
    assert_eq!(reg.status, 204, "{}", reg.body);
    let rl = call(
        &s,
        "PUT",
        "sys/plugins/reload/backend",
        t,
        Some(json!({"mounts": ["kvp/"]})),
    )
    .await;
    assert_eq!(rl.status, 200, "{}", rl.body);
    let m = call(&s, "GET", "sys/mounts/kvp", t, None).await;
    assert_eq!(m.body["data"]["running_sha256"], sha2);
    assert_eq!(
        call(&s, "GET", "kvp/app", t, None).await.body["data"]["password"],
        "hunter2"
    );

    // A binary whose checksum no longer matches: the reload fails with the reason and the old
    // instance keeps serving (OpenBao leaves the mount broken here).
    install_variant(&built, &plugin, b"\0tampered");
    let bad = call(
        &s,
        "PUT",
        "sys/plugins/reload/backend",
        t,
        Some(json!({"plugin": "kvp"})),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(
        bad.body["errors"][0]
            .as_str()
            .unwrap_or("")
            .contains("checksums did not match"),
        "{}",
        bad.body
    );
    let still = call(&s, "GET", "kvp/app", t, None).await;
    assert_eq!(still.status, 200, "{}", still.body);
    assert_eq!(still.body["data"]["password"], "hunter2");
    assert_eq!(
        call(&s, "GET", "sys/mounts/kvp", t, None).await.body["data"]["running_sha256"],
        sha2
    );
}
