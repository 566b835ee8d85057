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

/// `bao <args> -format=json <operand>`: the flag goes after the (sub)command, before the
/// last argument.
fn bao_json(server: &Server, args: &[&str]) -> serde_json::Value {
    let (last, command) = args.split_last().expect("arguments");
    let mut all = command.to_vec();
    all.extend(["-format=json", last]);
    serde_json::from_str(&bao_ok(server, &all)).expect("bao prints JSON")
}

/// The lease example under OpenBao's expiration manager: what OpenBao sends a plugin on renew
/// and revoke (the reference Arca's manager is held to) crosses the protocol both ways.
#[test]
fn lease_plugin_under_openbao() {
    let plugin = common::example_binary("lease_plugin");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&plugin, dir.path().join("lease")).unwrap();
    let server = Server::dev(dir.path());

    bao_ok(&server, &["secrets", "enable", "lease"]);
    bao_ok(
        &server,
        &["write", "lease/config", "ttl=60s", "max_ttl=300s"],
    );
    let issued = bao_json(&server, &["read", "lease/creds/x"]);
    let lease_id = issued["lease_id"].as_str().unwrap().to_string();
    assert!(lease_id.starts_with("lease/creds/x/"), "{issued}");
    assert_eq!(issued["lease_duration"], 60);
    assert_eq!(issued["renewable"], true);
    let username = issued["data"]["username"].as_str().unwrap().to_string();

    // A renewal: the plugin's answer (ttl 60s) gives way to the asked increment within max_ttl;
    // OpenBao sends the secret without its lease id, with the lease's issue time and increment.
    let renewed = bao_json(&server, &["lease", "renew", "-increment=120", &lease_id]);
    assert_eq!(renewed["lease_id"], lease_id.as_str());
    assert_eq!(renewed["lease_duration"], 120, "{renewed}");
    let seen = bao_json(&server, &["read", &format!("lease/renewals/{username}")]);
    assert_eq!(seen["data"]["count"], 1);
    assert_eq!(seen["data"]["increment"], 120);
    assert_eq!(seen["data"]["lease_id"], "");
    assert!(seen["data"]["issue_time"].is_string(), "{seen}");

    // A revocation the plugin refuses: OpenBao's error wraps the plugin's text.
    bao_ok(&server, &["write", "lease/config", "fail_revoke=true"]);
    let out = bao(&server, &["lease", "revoke", "-sync", &lease_id]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Code: 400")
            && err.contains(
                "failed to revoke entry: resp: (*logical.Response)(nil) err: \
                 revocation refused: fail_revoke is set"
            ),
        "{err}"
    );
    assert!(!bao(&server, &["list", "lease/revoked/"]).status.success());
    // The refused attempt was counted, as was the renewal.
    let stats = bao_json(&server, &["read", "lease/stats"]);
    assert_eq!(
        stats["data"],
        serde_json::json!({"revoke_attempts": 1, "renewals": 1})
    );

    // Revocations reach the plugin with the lease id; the renewal's (empty) data replaced the
    // data stored with the lease, as OpenBao's RenewLease does, and an unrenewed lease keeps it.
    bao_ok(&server, &["write", "lease/config", "fail_revoke=false"]);
    let other = bao_json(&server, &["read", "lease/creds/y"]);
    let other_id = other["lease_id"].as_str().unwrap().to_string();
    let other_user = other["data"]["username"].as_str().unwrap().to_string();
    bao_ok(&server, &["lease", "revoke", "-sync", &lease_id]);
    bao_ok(&server, &["lease", "revoke", "-sync", &other_id]);
    let rec = bao_json(&server, &["read", &format!("lease/revoked/{username}")]);
    assert_eq!(
        rec["data"],
        serde_json::json!({"username": username, "count": 1, "lease_id": lease_id,
                           "path": "creds/x", "data_username": ""})
    );
    let rec = bao_json(&server, &["read", &format!("lease/revoked/{other_user}")]);
    assert_eq!(rec["data"]["data_username"], other_user.as_str());
    assert_eq!(rec["data"]["path"], "creds/y");
    let list = bao_json(&server, &["list", "lease/revoked/"]);
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
}

/// The users file of the `db_plugin` example, as a JSON object.
fn db_users(path: &std::path::Path) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_slice(&std::fs::read(path).expect("users file")) {
        Ok(serde_json::Value::Object(m)) => m,
        other => panic!("users file is not an object: {other:?}"),
    }
}

/// The database plugin example under OpenBao's database engine (its `dbplugin` v5 client and
/// plugin catalog): the wire format, the handshake and the error texts are OpenBao's.
#[test]
fn database_plugin_under_openbao() {
    let plugin = common::example_binary("db_plugin");
    // Without the database cookie the binary refuses to run.
    let out = Command::new(&plugin)
        .env_remove("VAULT_DATABASE_PLUGIN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("This binary is a plugin."));

    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    let server = Server::dev(&plugins);
    // Installed after the start and registered by hand, with its type.
    std::fs::copy(&plugin, plugins.join("filedb")).unwrap();
    let sha = hex::encode(arca_plugin::sha256_file(&plugins.join("filedb")).unwrap());
    bao_ok(
        &server,
        &[
            "plugin",
            "register",
            &format!("-sha256={sha}"),
            "-command=filedb",
            "database",
            "filedb",
        ],
    );
    let file = dir.path().join("users.json");
    std::fs::write(&file, r#"{"root": {"password": "rootpw"}}"#).unwrap();
    let users_file = format!("users_file={}", file.display());

    bao_ok(&server, &["secrets", "enable", "database"]);
    let out = bao(
        &server,
        &[
            "write",
            "database/config/ext",
            "plugin_name=filedb",
            &users_file,
            "username=root",
            "password=wrong",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "error creating database object: unable to initialize: rpc error: code = Internal \
             desc = failed to initialize: authentication failed for user \"root\""
        ),
        "{err}"
    );
    bao_ok(
        &server,
        &[
            "write",
            "database/config/ext",
            "plugin_name=filedb",
            &users_file,
            "username=root",
            "password=rootpw",
            "allowed_roles=*",
        ],
    );
    bao_ok(
        &server,
        &[
            "write",
            "database/roles/ro",
            "db_name=ext",
            "creation_statements=CREATE USER '{{name}}'",
            "default_ttl=1h",
        ],
    );
    let creds = bao_json(&server, &["read", "database/creds/ro"]);
    let username = creds["data"]["username"].as_str().unwrap().to_string();
    let lease_id = creds["lease_id"].as_str().unwrap().to_string();
    let users = db_users(&file);
    assert_eq!(users[&username]["password"], creds["data"]["password"]);
    assert_eq!(users[&username]["role_name"], "ro");
    assert_eq!(
        users[&username]["statements"],
        serde_json::json!(["CREATE USER '{{name}}'"])
    );

    bao_ok(&server, &["lease", "revoke", "-sync", &lease_id]);
    assert!(!db_users(&file).contains_key(&username));

    bao_ok(&server, &["write", "-f", "database/rotate-root/ext"]);
    assert_ne!(db_users(&file)["root"]["password"], "rootpw");
    let again = bao_json(&server, &["read", "database/creds/ro"]);
    let second = again["data"]["username"].as_str().unwrap();
    assert_eq!(
        db_users(&file)[second]["password"],
        again["data"]["password"]
    );
}
