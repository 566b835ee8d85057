//! An external database plugin (the `db_plugin` example of arca-plugin, whose "database" is a
//! JSON file of users) registered in the catalog as `sys/plugins/catalog/database/<name>` and
//! run by the `database` engine over the database plugin protocol v5: credentials made on
//! demand appear in the plugin's users file with the password Arca answered, revoking the
//! lease drops the user, rotate-root changes the root password in the file, and unmounting
//! stops the plugin processes. An unregistered plugin name is refused.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Answer, Server, call, example_binary, sha256_file};
use serde_json::{Value, json};

async fn root(s: &Server, method: &str, path: &str, body: Option<Value>) -> Answer {
    call(s, method, path, Some("root"), body).await
}

async fn ok(s: &Server, method: &str, path: &str, body: Option<Value>) -> Value {
    let a = root(s, method, path, body).await;
    assert!(
        a.status == 200 || a.status == 204,
        "{method} {path}: {} {}",
        a.status,
        a.body
    );
    a.body
}

/// Copies the built plugin into the plugin directory as an executable.
fn install(src: &Path, dst: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::copy(src, dst).expect("copy plugin");
    std::fs::set_permissions(dst, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn users(path: &Path) -> serde_json::Map<String, Value> {
    match serde_json::from_slice(&std::fs::read(path).expect("users file")) {
        Ok(Value::Object(m)) => m,
        other => panic!("users file is not an object: {other:?}"),
    }
}

/// The ids of the running processes executing `exe`.
fn processes_of(exe: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|p| p == exe)
                && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .unwrap_or_default()
                    .contains(") Z ")
        })
        .collect()
}

/// Waits up to `limit` for `cond`.
async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cond()
}

/// A dev server with an (initially empty) plugin directory, the example database plugin
/// installed in it as `name` and registered as a database plugin.
async fn server_with_plugin(dir: &Path, name: &str) -> (Server, PathBuf) {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugin dir");
    // Dev mode mounts every binary it finds at start as a secrets engine or auth method: the
    // database plugin is installed after the start and registered by hand.
    let s = Server::dev_with_plugins(&plugins);
    let plugin = plugins.join(name);
    install(&example_binary("db_plugin"), &plugin);
    ok(
        &s,
        "PUT",
        &format!("sys/plugins/catalog/database/{name}"),
        Some(json!({"sha256": sha256_file(&plugin), "command": name})),
    )
    .await;
    let exe = std::fs::canonicalize(&plugin).expect("plugin path");
    (s, exe)
}

#[tokio::test]
async fn external_database_plugin_makes_revokes_and_rotates_users() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (s, exe) = server_with_plugin(dir.path(), "filedb").await;
    let file = dir.path().join("users.json");
    std::fs::write(&file, json!({"root": {"password": "rootpw"}}).to_string()).expect("users");

    // The catalog lists it as a database plugin.
    let cat = ok(&s, "GET", "sys/plugins/catalog/database/filedb", None).await;
    assert_eq!(cat["data"]["builtin"], false, "{cat}");

    ok(
        &s,
        "POST",
        "sys/mounts/database",
        Some(json!({"type": "database"})),
    )
    .await;

    // Initialize runs in the plugin: a wrong root password is its refusal, shown as OpenBao
    // shows a plugin's error.
    let bad = root(
        &s,
        "POST",
        "database/config/ext",
        Some(json!({
            "plugin_name": "filedb",
            "users_file": file,
            "username": "root",
            "password": "wrong",
        })),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(
        bad.body["errors"][0],
        "error creating database object: unable to initialize: rpc error: code = Internal desc = failed to initialize: authentication failed for user \"root\"",
    );
    // The refused plugin's process did not stay behind.
    assert!(
        eventually(Duration::from_secs(10), || processes_of(&exe).is_empty()).await,
        "plugin processes left: {:?}",
        processes_of(&exe)
    );

    ok(
        &s,
        "POST",
        "database/config/ext",
        Some(json!({
            "plugin_name": "filedb",
            "users_file": file,
            "username": "root",
            "password": "rootpw",
            "allowed_roles": "*",
        })),
    )
    .await;
    let cfg = ok(&s, "GET", "database/config/ext", None).await;
    assert_eq!(cfg["data"]["plugin_name"], "filedb", "{cfg}");
    assert_eq!(
        cfg["data"]["connection_details"]["users_file"],
        json!(file),
        "{cfg}"
    );

    ok(
        &s,
        "POST",
        "database/roles/ro",
        Some(json!({
            "db_name": "ext",
            "creation_statements": ["CREATE USER '{{name}}'"],
            "default_ttl": "1h",
        })),
    )
    .await;

    // Credentials on demand: the user is in the plugin's file with Arca's password.
    let creds = ok(&s, "GET", "database/creds/ro", None).await;
    let username = creds["data"]["username"].as_str().expect("username");
    let password = creds["data"]["password"].as_str().expect("password");
    let lease = creds["lease_id"].as_str().expect("lease_id");
    // `v-<display name>-<role>-<random>`, as the plugin builds it.
    assert!(
        username.starts_with("v-") && username.contains("-ro-"),
        "{username}"
    );
    assert!(!password.is_empty());
    let u = users(&file);
    assert_eq!(u[username]["password"], password, "{u:?}");
    assert_eq!(u[username]["role_name"], "ro");
    assert_eq!(u[username]["statements"], json!(["CREATE USER '{{name}}'"]));
    assert!(u[username]["expiration"].is_string(), "{u:?}");

    // Revoking the lease drops the user.
    ok(
        &s,
        "PUT",
        "sys/leases/revoke",
        Some(json!({"lease_id": lease})),
    )
    .await;
    assert!(
        eventually(Duration::from_secs(10), || !users(&file)
            .contains_key(username))
        .await,
        "{:?}",
        users(&file)
    );

    // rotate-root gives the root user a new password in the file; the connection set up
    // again with it (a new Initialize logging in) still makes users.
    ok(&s, "POST", "database/rotate-root/ext", None).await;
    let root_pw = users(&file)["root"]["password"].clone();
    assert!(root_pw.is_string() && root_pw != "rootpw", "{root_pw}");
    let again = ok(&s, "GET", "database/creds/ro", None).await;
    let second = again["data"]["username"].as_str().expect("username");
    assert_eq!(
        users(&file)[second]["password"],
        again["data"]["password"],
        "{:?}",
        users(&file)
    );
    let running = processes_of(&exe);
    assert_eq!(
        running.len(),
        1,
        "one plugin process per connection: {running:?}"
    );

    // A plugin process that dies is started again for the next use of the connection.
    let killed = std::process::Command::new("kill")
        .args(["-9", &running[0].to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    assert!(
        eventually(Duration::from_secs(10), || {
            !Path::new(&format!("/proc/{}", running[0])).exists()
        })
        .await,
        "the killed plugin was not reaped"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let third = ok(&s, "GET", "database/creds/ro", None).await;
    let third_user = third["data"]["username"].as_str().expect("username");
    assert_eq!(
        users(&file)[third_user]["password"],
        third["data"]["password"]
    );
    let restarted = processes_of(&exe);
    assert_eq!(restarted.len(), 1, "{restarted:?}");
    assert_ne!(restarted, running);

    // Unmounting closes the connection: the plugin process is stopped.
    ok(&s, "DELETE", "sys/mounts/database", None).await;
    assert!(
        eventually(Duration::from_secs(15), || processes_of(&exe).is_empty()).await,
        "plugin processes left after unmount: {:?}",
        processes_of(&exe)
    );
}

#[tokio::test]
async fn an_unregistered_database_plugin_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (s, _) = server_with_plugin(dir.path(), "filedb").await;
    ok(
        &s,
        "POST",
        "sys/mounts/database",
        Some(json!({"type": "database"})),
    )
    .await;
    let a = root(
        &s,
        "POST",
        "database/config/x",
        Some(json!({"plugin_name": "no-such-plugin", "users_file": "/nonexistent"})),
    )
    .await;
    assert_eq!(a.status, 400, "{}", a.body);
    let text = a.body["errors"][0].as_str().unwrap_or_default();
    assert!(
        text.starts_with("error creating database object: "),
        "{text}"
    );
    assert!(text.contains("no-such-plugin"), "{text}");

    // A plugin registered as a secrets engine is no database plugin.
    let plugin = dir.path().join("plugins").join("filedb");
    ok(
        &s,
        "PUT",
        "sys/plugins/catalog/secret/onlysecret",
        Some(json!({"sha256": sha256_file(&plugin), "command": "filedb"})),
    )
    .await;
    let a = root(
        &s,
        "POST",
        "database/config/y",
        Some(json!({"plugin_name": "onlysecret", "users_file": "/nonexistent"})),
    )
    .await;
    assert_eq!(a.status, 400, "{}", a.body);
    let text = a.body["errors"][0].as_str().unwrap_or_default();
    assert!(
        text.starts_with("error creating database object: "),
        "{text}"
    );
}
