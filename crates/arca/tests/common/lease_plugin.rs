//! The `lease_plugin` example (an external secrets engine issuing leased `cred` secrets, see
//! `crates/arca-plugin/examples/lease_plugin.rs`) hosted by the real `arca` binary.
//!
//! - [`dev_with_lease_plugin`]: a dev server with it mounted at `lease/`;
//! - [`lease_plugin_dir`] + `Server::with_file_storage_and_plugins` + [`mount_lease_plugin`]: a
//!   server over durable storage (restartable) with it registered in the catalog and mounted,
//!   as in production.
//!
//! Its paths: `config` (`ttl`, `max_ttl`, `fail_revoke`), `creds/<name>` (read: a leased
//! credential), `renewals/<username>` (`{"count","lease_id","increment","issue_time"}` of the
//! latest renewal), `revoked/` (LIST) and
//! `revoked/<username>` (`{"username","count","lease_id","path","data_username"}`).

use std::path::Path;

use serde_json::json;

use super::{Server, call, example_binary, sha256_file};

/// The plugin's catalog name, its binary's name in the plugin directory and its mount path.
pub const LEASE_PLUGIN: &str = "lease";

/// A fresh plugin directory holding the built `lease_plugin` example as `lease`.
pub fn lease_plugin_dir() -> tempfile::TempDir {
    let built = example_binary("lease_plugin");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(&built, dir.path().join(LEASE_PLUGIN)).expect("copy plugin");
    dir
}

/// `arca server -dev` with the lease plugin registered and mounted at `lease/` (the plugin
/// directory lives as long as the server).
pub fn dev_with_lease_plugin() -> Server {
    let dir = lease_plugin_dir();
    let mut s = Server::dev_with_plugins(dir.path());
    s.dir = Some(dir);
    s
}

/// Registers the lease plugin of `plugin_dir` in the catalog and mounts it at `lease/`.
pub async fn mount_lease_plugin(s: &Server, token: &str, plugin_dir: &Path) {
    let sha = sha256_file(&plugin_dir.join(LEASE_PLUGIN));
    let r = call(
        s,
        "PUT",
        &format!("sys/plugins/catalog/secret/{LEASE_PLUGIN}"),
        Some(token),
        Some(json!({"sha256": sha, "command": LEASE_PLUGIN})),
    )
    .await;
    assert_eq!(r.status, 204, "register: {}", r.body);
    let r = call(
        s,
        "POST",
        &format!("sys/mounts/{LEASE_PLUGIN}"),
        Some(token),
        Some(json!({"type": LEASE_PLUGIN})),
    )
    .await;
    assert_eq!(r.status, 204, "mount: {}", r.body);
}

/// Writes the plugin's `config` (`ttl`, `max_ttl`, `fail_revoke`, as given).
pub async fn configure_lease_plugin(s: &Server, token: &str, config: serde_json::Value) {
    let r = call(
        s,
        "POST",
        &format!("{LEASE_PLUGIN}/config"),
        Some(token),
        Some(config),
    )
    .await;
    assert_eq!(r.status, 204, "config: {}", r.body);
}
