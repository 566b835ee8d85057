//! An external database plugin (the `db_plugin` example of arca-plugin, whose "database" is a
//! JSON file of users) registered in the catalog as `sys/plugins/catalog/database/<name>` and
//! run by the `database` engine over the database plugin protocol v5: credentials made on
//! demand appear in the plugin's users file with the password Arca answered, revoking the
//! lease drops the user, rotate-root changes the root password in the file, and unmounting
//! stops the plugin processes. An unregistered plugin name is refused.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Server, example_binary, root_call as root, root_ok as ok, sha256_file};
use serde_json::{Value, json};

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

/// Runs `openssl` with `args`; its stdout.
fn openssl(args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("openssl");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write");
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().expect("openssl output");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn external_plugin_gets_rsa_keys_and_client_certificates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (s, _exe) = server_with_plugin(dir.path(), "keydb").await;
    let file = dir.path().join("users.json");
    std::fs::write(
        &file,
        json!({"root": {"password": "rootpw"}, "svc": {"password": "x"}}).to_string(),
    )
    .expect("users");
    ok(
        &s,
        "POST",
        "sys/mounts/database",
        Some(json!({"type": "database"})),
    )
    .await;
    ok(
        &s,
        "POST",
        "database/config/ext",
        Some(json!({"plugin_name": "keydb", "users_file": file, "username": "root", "password": "rootpw", "allowed_roles": "*"})),
    )
    .await;

    // An RSA key pair: the caller gets the private key, the database its public half.
    ok(
        &s,
        "POST",
        "database/roles/keyed",
        Some(json!({"db_name": "ext", "creation_statements": ["x"], "credential_type": "rsa_private_key", "credential_config": {"key_bits": 2048}})),
    )
    .await;
    let r = ok(&s, "GET", "database/roles/keyed", None).await;
    assert_eq!(
        r["data"]["credential_config"],
        json!({"format": "pkcs8", "key_bits": 2048})
    );
    let c = ok(&s, "GET", "database/creds/keyed", None).await;
    let user = c["data"]["username"].as_str().expect("username");
    let private = c["data"]["rsa_private_key"]
        .as_str()
        .expect("rsa_private_key");
    assert!(c["data"].get("password").is_none(), "{c}");
    let public = openssl(&["pkey", "-pubout"], Some(private));
    assert_eq!(
        users(&file)[user]["public_key"].as_str().map(str::trim),
        Some(public.trim()),
        "the database holds the key's public half"
    );
    assert!(openssl(&["rsa", "-noout", "-text"], Some(private)).contains("2048 bit"));

    // A client certificate signed by the role's CA, its subject given to the database.
    let ca_key = dir.path().join("ca.key");
    let ca_pem = dir.path().join("ca.pem");
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            ca_key.to_str().expect("path"),
            "-out",
            ca_pem.to_str().expect("path"),
            "-subj",
            "/CN=Database Test CA",
            "-days",
            "1",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
        ],
        None,
    );
    let ca_cert = std::fs::read_to_string(&ca_pem).expect("ca");
    let ca_private = std::fs::read_to_string(&ca_key).expect("ca key");
    let not_ca = root(
        &s,
        "POST",
        "database/roles/certs",
        Some(
            json!({"db_name": "ext", "credential_type": "client_certificate",
            "credential_config": {"common_name_template": "{{.RoleName}}-user", "key_type": "ec"}}),
        ),
    )
    .await;
    assert_eq!(not_ca.status, 400, "{}", not_ca.body);
    assert_eq!(
        not_ca.body["errors"][0],
        "credential_config validation failed: missing required ca_cert"
    );
    ok(
        &s,
        "POST",
        "database/roles/certs",
        Some(json!({"db_name": "ext", "creation_statements": ["x"], "credential_type": "client_certificate",
            "credential_config": {"common_name_template": "{{.RoleName}}-user", "key_type": "ec",
                "ca_cert": ca_cert, "ca_private_key": ca_private}})),
    )
    .await;
    let r = ok(&s, "GET", "database/roles/certs", None).await;
    assert!(
        r["data"]["credential_config"]
            .get("ca_private_key")
            .is_none(),
        "{r}"
    );
    assert_eq!(r["data"]["credential_config"]["key_bits"], 256, "{r}");
    let c = ok(&s, "GET", "database/creds/certs", None).await;
    assert_eq!(c["data"]["private_key_type"], "ec", "{c}");
    let cert = c["data"]["client_certificate"]
        .as_str()
        .expect("certificate");
    let cert_file = dir.path().join("client.pem");
    std::fs::write(&cert_file, cert).expect("write cert");
    let verified = openssl(
        &[
            "verify",
            "-CAfile",
            ca_pem.to_str().expect("path"),
            "-purpose",
            "sslclient",
            cert_file.to_str().expect("path"),
        ],
        None,
    );
    assert!(verified.contains(": OK"), "{verified}");
    let subject = openssl(&["x509", "-noout", "-subject"], Some(cert));
    assert!(
        subject.contains("CN = certs-user") || subject.contains("CN=certs-user"),
        "{subject}"
    );
    let user = c["data"]["username"].as_str().expect("username");
    assert_eq!(users(&file)[user]["subject"], "CN=certs-user");
    let key_pub = openssl(&["pkey", "-pubout"], c["data"]["private_key"].as_str());
    let cert_pub = openssl(&["x509", "-noout", "-pubkey"], Some(cert));
    assert_eq!(
        key_pub.trim(),
        cert_pub.trim(),
        "the key belongs to the certificate"
    );

    // A static role with a key: rotated at creation and on demand, the database always
    // holding the public half of the key Arca hands out.
    ok(
        &s,
        "POST",
        "database/static-roles/svc",
        Some(json!({"db_name": "ext", "username": "svc", "rotation_period": "1h", "credential_type": "rsa_private_key"})),
    )
    .await;
    let first = ok(&s, "GET", "database/static-creds/svc", None).await;
    let k1 = first["data"]["rsa_private_key"]
        .as_str()
        .expect("key")
        .to_string();
    assert_eq!(
        users(&file)["svc"]["public_key"].as_str().map(str::trim),
        Some(openssl(&["pkey", "-pubout"], Some(&k1)).trim())
    );
    ok(&s, "POST", "database/rotate-role/svc", None).await;
    let second = ok(&s, "GET", "database/static-creds/svc", None).await;
    let k2 = second["data"]["rsa_private_key"]
        .as_str()
        .expect("key")
        .to_string();
    assert_ne!(k1, k2);
    assert_eq!(
        users(&file)["svc"]["public_key"].as_str().map(str::trim),
        Some(openssl(&["pkey", "-pubout"], Some(&k2)).trim())
    );
}
