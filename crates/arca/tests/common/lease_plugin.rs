//! The `lease_plugin` example (an external secrets engine issuing leased `cred` secrets, see
//! `crates/arca-plugin/examples/lease_plugin.rs`) hosted by the real `arca` binary.
//!
//! - [`dev_with_lease_plugin`] ([`dev_with_lease_plugin_env`] with environment variables for
//!   the server): a dev server with it mounted at `lease/`;
//! - [`lease_plugin_dir`] + `Server::with_file_storage_and_plugins` + [`mount_lease_plugin`]: a
//!   server over durable storage (restartable) with it registered in the catalog and mounted,
//!   as in production.
//!
//! Its paths: `config` (`ttl`, `max_ttl`, `fail_revoke`), `creds/<name>` (read: a leased
//! credential for the username `<name>-<random>`, [`lease_plugin_cred`]), `renewals/<username>`
//! (`{"count","lease_id","increment","issue_time"}` of the latest renewal), `revoked/` (LIST,
//! [`lease_plugin_revoked`]), `revoked/<username>`
//! (`{"username","count","lease_id","path","data_username"}`) and `stats`
//! (`{"revoke_attempts","renewals"}`, failed revocations counted too, [`lease_plugin_stat`]).

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
    dev_with_lease_plugin_env(&[])
}

/// [`dev_with_lease_plugin`] with `envs` set for the server (e.g. the lease revocation retry
/// base).
pub fn dev_with_lease_plugin_env(envs: &[(&str, &str)]) -> Server {
    let dir = lease_plugin_dir();
    let mut s = Server::dev_with_plugins_env(dir.path(), envs);
    s.dir = Some(dir);
    s
}

/// Reads `lease/creds/<name>` (which must answer 200): the whole answer, with `lease_id` and
/// `data.username`.
pub async fn lease_plugin_cred(s: &Server, token: &str, name: &str) -> serde_json::Value {
    let r = call(
        s,
        "GET",
        &format!("{LEASE_PLUGIN}/creds/{name}"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "creds/{name}: {}", r.body);
    r.body
}

/// The usernames the plugin recorded as revoked (`LIST revoked/`; none is OpenBao's 404).
pub async fn lease_plugin_revoked(s: &Server, token: &str) -> Vec<String> {
    let r = call(
        s,
        "LIST",
        &format!("{LEASE_PLUGIN}/revoked/"),
        Some(token),
        None,
    )
    .await;
    match r.status {
        404 => Vec::new(),
        200 => serde_json::from_value(r.body["data"]["keys"].clone()).expect("keys"),
        st => panic!("LIST revoked/: {st} {}", r.body),
    }
}

/// The plugin's `stats` counter `name` (`revoke_attempts` or `renewals`).
pub async fn lease_plugin_stat(s: &Server, token: &str, name: &str) -> u64 {
    let r = call(
        s,
        "GET",
        &format!("{LEASE_PLUGIN}/stats"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "stats: {}", r.body);
    r.body["data"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("stats has no {name}: {}", r.body))
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
