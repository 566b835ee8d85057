//! The builtin MySQL and Redis/Valkey plugins against real local servers: MariaDB at
//! 127.0.0.1:3306 (root, empty password) and Redis at 127.0.0.1:6379 (no authentication).
//! Every test removes what it creates, also when an assertion fails halfway (guards drop the
//! users).

use std::sync::Arc;

use arca_database::plugin::{
    ChangeExpiration, ChangePassword, CredentialType, Database, DeleteUserRequest, NewUserRequest,
    UpdateUserRequest, UsernameMetadata, builtin,
};
use arca_sdk::JsonMap;
use chrono::{Duration as ChronoDuration, Utc};
use mysql_async::prelude::Queryable;
use serde_json::json;
use zeroize::Zeroizing;

const MYSQL_HOST: &str = "127.0.0.1";
const MYSQL_PORT: u16 = 3306;
const REDIS_URL: &str = "redis://127.0.0.1:6379";

fn config(v: serde_json::Value) -> JsonMap {
    v.as_object().cloned().expect("an object")
}

fn mysql_config() -> JsonMap {
    config(json!({
        "connection_url": "{{username}}:{{password}}@tcp(127.0.0.1:3306)/",
        "username": "root",
        "password": "",
    }))
}

async fn init(plugin: &str, cfg: JsonMap) -> Arc<dyn Database> {
    let init = builtin(plugin).expect("a builtin plugin");
    init(cfg, true)
        .await
        .unwrap_or_else(|e| panic!("initialize {plugin}: {}", e.message()))
        .database
}

fn new_user_request(statements: &[&str], rollback: &[&str], password: &str) -> NewUserRequest {
    NewUserRequest {
        username_config: UsernameMetadata {
            display_name: "token-test-display".into(),
            role_name: "readonly-role".into(),
        },
        statements: statements.iter().map(|s| s.to_string()).collect(),
        rollback_statements: rollback.iter().map(|s| s.to_string()).collect(),
        credential_type: CredentialType::Password,
        password: Zeroizing::new(password.to_string()),
        public_key: Vec::new(),
        subject: String::new(),
        expiration: Utc::now() + ChronoDuration::hours(1),
    }
}

fn password_change(username: &str, password: &str) -> UpdateUserRequest {
    UpdateUserRequest {
        username: username.to_string(),
        credential_type: CredentialType::Password,
        password: Some(ChangePassword {
            new_password: Zeroizing::new(password.to_string()),
            statements: Vec::new(),
        }),
        public_key: None,
        expiration: None,
    }
}

fn delete_request(username: &str) -> DeleteUserRequest {
    DeleteUserRequest {
        username: username.to_string(),
        statements: Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// MySQL / MariaDB
// ---------------------------------------------------------------------------------------------

const CREATE: &str = "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; \
                      GRANT SELECT ON *.* TO '{{name}}'@'%';";

async fn root_conn() -> mysql_async::Conn {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(MYSQL_HOST)
        .tcp_port(MYSQL_PORT)
        .prefer_socket(false)
        .user(Some("root"));
    mysql_async::Conn::new(opts).await.expect("root connects")
}

/// Logs in as `user` and runs a query; the error text on failure.
async fn mysql_login(user: &str, password: &str) -> Result<(), String> {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(MYSQL_HOST)
        .tcp_port(MYSQL_PORT)
        .prefer_socket(false)
        .user(Some(user))
        .pass(Some(password));
    let mut conn = mysql_async::Conn::new(opts)
        .await
        .map_err(|e| e.to_string())?;
    let one: Option<i64> = conn
        .query_first("SELECT 1")
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(one, Some(1));
    let _ = conn.disconnect().await;
    Ok(())
}

async fn mysql_user_hosts(user: &str) -> Vec<String> {
    let mut conn = root_conn().await;
    let hosts: Vec<String> = conn
        .exec("SELECT host FROM mysql.user WHERE user = ?", (user,))
        .await
        .expect("reads mysql.user");
    let _ = conn.disconnect().await;
    hosts
}

/// A MySQL string literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// Drops the users of a name however the test ends.
struct MysqlCleanup(Vec<String>);

impl Drop for MysqlCleanup {
    fn drop(&mut self) {
        let users = std::mem::take(&mut self.0);
        if users.is_empty() {
            return;
        }
        // A runtime of its own: the test's may be shutting down.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async {
                let mut conn = root_conn().await;
                for user in users {
                    let hosts: Vec<String> = conn
                        .exec(
                            "SELECT host FROM mysql.user WHERE user = ?",
                            (user.as_str(),),
                        )
                        .await
                        .unwrap_or_default();
                    for host in hosts {
                        // DROP USER cannot be prepared: the names go in as quoted literals.
                        let drop = format!("DROP USER {}@{}", literal(&user), literal(&host));
                        if let Err(e) = conn.query_drop(drop).await {
                            eprintln!("cleanup: could not drop {user}@{host}: {e}");
                        }
                    }
                }
                let _ = conn.disconnect().await;
            });
        })
        .join()
        .expect("cleanup thread");
    }
}

async fn mysql_lifecycle(plugin: &str, max_len: usize) {
    let db = init(plugin, mysql_config()).await;
    assert_eq!(db.type_name(), "mysql");
    let mut cleanup = MysqlCleanup(Vec::new());

    let password = "Pw-1st'quote\\back-9Xq";
    let username = db
        .new_user(new_user_request(&[CREATE], &[], password))
        .await
        .unwrap_or_else(|e| panic!("new_user: {}", e.message()));
    cleanup.0.push(username.clone());
    assert!(username.starts_with("v-"), "{username}");
    assert!(
        username.len() <= max_len,
        "{username} is longer than {max_len}"
    );
    assert_eq!(mysql_user_hosts(&username).await, vec!["%".to_string()]);

    mysql_login(&username, password)
        .await
        .unwrap_or_else(|e| panic!("the new user cannot log in: {e}"));
    let wrong = mysql_login(&username, "not-the-password").await;
    assert!(
        wrong.as_ref().is_err_and(|e| e.contains("1045")),
        "a wrong password was not refused: {wrong:?}"
    );

    // SELECT was granted, nothing more.
    {
        let opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname(MYSQL_HOST)
            .tcp_port(MYSQL_PORT)
            .prefer_socket(false)
            .user(Some(username.as_str()))
            .pass(Some(password));
        let mut conn = mysql_async::Conn::new(opts).await.expect("connects");
        let denied = conn
            .query_drop("CREATE DATABASE arca_plugin_test_denied")
            .await;
        assert!(denied.is_err(), "the user could create a database");
        let _ = conn.disconnect().await;
    }

    // Rotation.
    let new_password = "Rotated-Pw-2nd-7Lm";
    db.update_user(password_change(&username, new_password))
        .await
        .unwrap_or_else(|e| panic!("update_user: {}", e.message()));
    assert!(
        mysql_login(&username, password).await.is_err(),
        "the old password still works"
    );
    mysql_login(&username, new_password)
        .await
        .unwrap_or_else(|e| panic!("the new password does not work: {e}"));

    // An expiry change is accepted and changes nothing (MySQL users do not expire).
    db.update_user(UpdateUserRequest {
        username: username.clone(),
        credential_type: CredentialType::Password,
        password: None,
        public_key: None,
        expiration: Some(ChangeExpiration {
            new_expiration: Utc::now() + ChronoDuration::hours(2),
            statements: Vec::new(),
        }),
    })
    .await
    .unwrap_or_else(|e| panic!("expiry update: {}", e.message()));
    mysql_login(&username, new_password)
        .await
        .unwrap_or_else(|e| panic!("the password broke after an expiry update: {e}"));

    // No change at all is refused, as OpenBao does.
    let none = db
        .update_user(UpdateUserRequest {
            username: username.clone(),
            credential_type: CredentialType::Password,
            password: None,
            public_key: None,
            expiration: None,
        })
        .await;
    assert_eq!(
        none.err().map(|e| e.message().to_string()).as_deref(),
        Some("no change requested")
    );

    // Deletion with the default revocation statements.
    db.delete_user(delete_request(&username))
        .await
        .unwrap_or_else(|e| panic!("delete_user: {}", e.message()));
    assert!(
        mysql_login(&username, new_password).await.is_err(),
        "the deleted user can still log in"
    );
    assert!(
        mysql_user_hosts(&username).await.is_empty(),
        "the user is still in mysql.user"
    );
    // Deleting a user that is gone is not an error (the default statements check first).
    db.delete_user(delete_request(&username))
        .await
        .unwrap_or_else(|e| panic!("second delete_user: {}", e.message()));
    db.close().await;
}

#[tokio::test]
async fn mysql_user_lifecycle() {
    mysql_lifecycle("mysql-database-plugin", 32).await;
}

#[tokio::test]
async fn mysql_legacy_user_lifecycle() {
    mysql_lifecycle("mysql-legacy-database-plugin", 16).await;
}

#[tokio::test]
async fn mysql_usernames_are_cut_to_32_and_16() {
    for (plugin, max) in [
        ("mysql-database-plugin", 32),
        ("mysql-aurora-database-plugin", 16),
        ("mysql-rds-database-plugin", 16),
        ("mysql-legacy-database-plugin", 16),
    ] {
        let db = init(plugin, mysql_config()).await;
        let mut cleanup = MysqlCleanup(Vec::new());
        let mut req = new_user_request(&[CREATE], &[], "Pw-length-test-1");
        req.username_config = UsernameMetadata {
            display_name: "a-really-long-display-name-for-testing".into(),
            role_name: "a-really-long-role-name-for-testing".into(),
        };
        let username = db
            .new_user(req)
            .await
            .unwrap_or_else(|e| panic!("{plugin} new_user: {}", e.message()));
        cleanup.0.push(username.clone());
        assert_eq!(username.len(), max, "{plugin}: {username}");
        db.delete_user(delete_request(&username))
            .await
            .unwrap_or_else(|e| panic!("{plugin} delete_user: {}", e.message()));
        db.close().await;
    }
}

#[tokio::test]
async fn mysql_failing_creation_leaves_no_user() {
    // A username prefix of this test's own, so that users other tests make meanwhile do not
    // count.
    let mut cfg = mysql_config();
    cfg.insert(
        "username_template".into(),
        json!("arcafail-{{ random 12 }}"),
    );
    let db = init("mysql-database-plugin", cfg).await;
    let mut cleanup = MysqlCleanup(Vec::new());
    // CREATE USER commits implicitly; the GRANT on a table that does not exist fails after.
    let stmts = [
        "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}';",
        "GRANT SELECT ON `arca_no_such_db_x9`.`no_such_table` TO '{{name}}'@'%';",
    ];
    let err = db
        .new_user(new_user_request(&stmts, &[], "Pw-failing-creation-1"))
        .await
        .expect_err("a failing statement fails the creation");
    assert!(err.message().contains("1146"), "{}", err.message());
    assert!(!err.message().contains("Pw-failing-creation-1"));
    let left: Vec<String> = {
        let mut conn = root_conn().await;
        let users = conn
            .query("SELECT user FROM mysql.user WHERE user LIKE 'arcafail-%'")
            .await
            .expect("lists users");
        let _ = conn.disconnect().await;
        users
    };
    cleanup.0.extend(left.iter().cloned());
    assert!(left.is_empty(), "users left behind: {left:?}");

    // With rollback statements too, and a failure in the first statement.
    let err = db
        .new_user(new_user_request(
            &["CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}' BOGUS;"],
            &["DROP USER IF EXISTS '{{name}}'@'%';"],
            "Pw-failing-creation-2",
        ))
        .await
        .expect_err("a syntax error fails the creation");
    assert!(err.message().contains("1064"), "{}", err.message());

    // No creation statements at all.
    let err = db
        .new_user(new_user_request(&[], &[], "x"))
        .await
        .expect_err("no statements");
    assert_eq!(err.message(), "empty creation statements");
    db.close().await;
}

#[tokio::test]
async fn mysql_custom_revocation_and_rotation_statements() {
    let db = init("mysql-database-plugin", mysql_config()).await;
    let mut cleanup = MysqlCleanup(Vec::new());
    let username = db
        .new_user(new_user_request(&[CREATE], &[], "Pw-custom-1"))
        .await
        .unwrap_or_else(|e| panic!("new_user: {}", e.message()));
    cleanup.0.push(username.clone());
    let mut change = password_change(&username, "Pw-custom-2");
    if let Some(p) = change.password.as_mut() {
        p.statements = vec!["SET PASSWORD FOR '{{name}}'@'%' = PASSWORD('{{password}}')".into()];
    }
    db.update_user(change)
        .await
        .unwrap_or_else(|e| panic!("update_user: {}", e.message()));
    mysql_login(&username, "Pw-custom-2")
        .await
        .unwrap_or_else(|e| panic!("custom rotation did not take: {e}"));
    db.delete_user(DeleteUserRequest {
        username: username.clone(),
        statements: vec!["DROP USER '{{username}}'@'%'".into()],
    })
    .await
    .unwrap_or_else(|e| panic!("delete_user: {}", e.message()));
    assert!(mysql_user_hosts(&username).await.is_empty());
    db.close().await;
}

#[tokio::test]
async fn mysql_bad_connection_fails_verification_without_leaking() {
    let init_fn = builtin("mysql-database-plugin").expect("builtin");
    let cfg = config(json!({
        "connection_url": "{{username}}:{{password}}@tcp(127.0.0.1:3306)/",
        "username": "nouser",
        "password": "secretpw",
    }));
    let err = match init_fn(cfg.clone(), true).await {
        Ok(_) => panic!("a user that does not exist was accepted"),
        Err(e) => e.message().to_string(),
    };
    assert!(err.starts_with("error verifying"), "{err}");
    assert!(err.contains("1045"), "{err}");
    assert!(!err.contains("secretpw"), "{err}");
    // Without verification it initialises, and fails on use, still without the password.
    let db = init_fn(cfg, false)
        .await
        .map_err(|e| e.message().to_string());
    let db = db.expect("unverified initialisation").database;
    let err = db
        .new_user(new_user_request(&[CREATE], &[], "Pw-x"))
        .await
        .expect_err("no connection");
    assert!(!err.message().contains("secretpw"), "{}", err.message());

    // Nothing listening.
    let err = match init_fn(
        config(json!({
            "connection_url": "root:secretpw@tcp(127.0.0.1:1)/",
        })),
        true,
    )
    .await
    {
        Ok(_) => panic!("port 1 was accepted"),
        Err(e) => e.message().to_string(),
    };
    assert!(err.starts_with("error verifying"), "{err}");
    assert!(!err.contains("secretpw"), "{err}");

    // A broken DSN.
    let err = match init_fn(
        config(json!({
            "connection_url": "root:secretpw@tcp(127.0.0.1:3306",
        })),
        true,
    )
    .await
    {
        Ok(_) => panic!("a broken DSN was accepted"),
        Err(e) => e.message().to_string(),
    };
    assert!(err.contains("invalid DSN"), "{err}");
    assert!(!err.contains("secretpw"), "{err}");

    let err = match init_fn(config(json!({})), false).await {
        Ok(_) => panic!("no connection_url was accepted"),
        Err(e) => e.message().to_string(),
    };
    assert_eq!(err, "connection_url cannot be empty");
}

#[tokio::test]
async fn mysql_url_and_failover_forms_connect() {
    let mut cleanup = MysqlCleanup(Vec::new());
    for url in [
        "mysql://{{username}}:{{password}}@127.0.0.1:3306/?prefer_socket=false",
        // The first host refuses; the plugin goes on to the second.
        "{{username}}:{{password}}@tcp(127.0.0.1:1,127.0.0.1:3306)/mysql",
    ] {
        let db = init(
            "mysql-database-plugin",
            config(json!({"connection_url": url, "username": "root", "password": ""})),
        )
        .await;
        let username = db
            .new_user(new_user_request(&[CREATE], &[], "Pw-forms-1"))
            .await
            .unwrap_or_else(|e| panic!("{url}: new_user: {}", e.message()));
        cleanup.0.push(username.clone());
        mysql_login(&username, "Pw-forms-1")
            .await
            .unwrap_or_else(|e| panic!("{url}: login: {e}"));
        db.delete_user(delete_request(&username))
            .await
            .unwrap_or_else(|e| panic!("{url}: delete_user: {}", e.message()));
        db.close().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Redis / Valkey
// ---------------------------------------------------------------------------------------------

fn redis_config() -> JsonMap {
    // The server's `default` user has `nopass`, so any password authenticates it.
    config(json!({
        "host": "127.0.0.1",
        "port": 6379,
        "username": "default",
        "password": "any-password",
    }))
}

async fn redis_admin() -> redis::aio::MultiplexedConnection {
    redis::Client::open(REDIS_URL)
        .expect("a client")
        .get_multiplexed_async_connection()
        .await
        .expect("redis connects")
}

/// Logs in as `user` on a fresh connection; the connection or the error text.
async fn redis_login(
    user: &str,
    password: &str,
) -> Result<redis::aio::MultiplexedConnection, String> {
    let mut conn = redis_admin().await;
    redis::cmd("AUTH")
        .arg(user)
        .arg(password)
        .query_async::<()>(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    Ok(conn)
}

/// Deletes the ACL users however the test ends.
struct RedisCleanup(Vec<String>);

impl Drop for RedisCleanup {
    fn drop(&mut self) {
        let users = std::mem::take(&mut self.0);
        if users.is_empty() {
            return;
        }
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async {
                let mut conn = redis_admin().await;
                for user in users {
                    let _ = redis::cmd("ACL")
                        .arg("DELUSER")
                        .arg(&user)
                        .query_async::<i64>(&mut conn)
                        .await;
                }
            });
        })
        .join()
        .expect("cleanup thread");
    }
}

async fn redis_user_exists(user: &str) -> bool {
    let mut conn = redis_admin().await;
    let users: Vec<String> = redis::cmd("ACL")
        .arg("USERS")
        .query_async(&mut conn)
        .await
        .expect("ACL USERS");
    users.iter().any(|u| u == user)
}

#[tokio::test]
async fn redis_and_valkey_user_lifecycle() {
    for plugin in ["redis-database-plugin", "valkey-database-plugin"] {
        let db = init(plugin, redis_config()).await;
        assert_eq!(db.type_name(), "valkey");
        let mut cleanup = RedisCleanup(Vec::new());

        let password = "Redis-Pw-1st-4Tz";
        let username = db
            .new_user(new_user_request(&[r#"["+@read","~*"]"#], &[], password))
            .await
            .unwrap_or_else(|e| panic!("{plugin} new_user: {}", e.message()));
        cleanup.0.push(username.clone());
        assert!(
            username.starts_with("V_TOKEN-TEST-DISPLAY_READONLY-ROLE_"),
            "{username}"
        );
        assert_eq!(username, username.to_uppercase());
        assert!(redis_user_exists(&username).await);

        let mut conn = redis_login(&username, password)
            .await
            .unwrap_or_else(|e| panic!("{plugin}: the new user cannot log in: {e}"));
        let read: Option<String> = redis::cmd("GET")
            .arg("arca-plugin-test-key")
            .query_async(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{plugin}: a read was refused: {e}"));
        assert_eq!(read, None);
        let write = redis::cmd("SET")
            .arg("arca-plugin-test-key")
            .arg("v")
            .query_async::<()>(&mut conn)
            .await;
        let write_err = write.expect_err("a write was allowed");
        assert_eq!(write_err.code(), Some("NOPERM"), "{write_err}");
        let wrong = redis_login(&username, "not-the-password").await;
        assert!(
            wrong.as_ref().is_err_and(|e| e.contains("WRONGPASS")),
            "{plugin}: a wrong password was not refused"
        );

        // Rotation.
        let new_password = "Redis-Pw-2nd-8Qw";
        db.update_user(password_change(&username, new_password))
            .await
            .unwrap_or_else(|e| panic!("{plugin} update_user: {}", e.message()));
        assert!(
            redis_login(&username, password).await.is_err(),
            "{plugin}: the old password still works"
        );
        redis_login(&username, new_password)
            .await
            .unwrap_or_else(|e| panic!("{plugin}: the new password does not work: {e}"));

        // Deletion.
        db.delete_user(delete_request(&username))
            .await
            .unwrap_or_else(|e| panic!("{plugin} delete_user: {}", e.message()));
        assert!(
            redis_login(&username, new_password).await.is_err(),
            "{plugin}: the deleted user can still log in"
        );
        assert!(!redis_user_exists(&username).await);

        // Rotating a user that is gone fails as OpenBao's does.
        let err = db
            .update_user(password_change(&username, "x-y-z"))
            .await
            .expect_err("a missing user cannot be rotated");
        assert_eq!(
            err.message(),
            format!("changeUserPassword for user {username} failed: user not found")
        );
        db.close().await;
    }
}

#[tokio::test]
async fn redis_default_and_raw_rules() {
    let db = init("valkey-database-plugin", redis_config()).await;
    let mut cleanup = RedisCleanup(Vec::new());

    // No statements: OpenBao's default `["~*", "+@read"]`.
    let username = db
        .new_user(new_user_request(&[], &[], "Redis-Pw-default-1"))
        .await
        .unwrap_or_else(|e| panic!("new_user: {}", e.message()));
    cleanup.0.push(username.clone());
    let mut conn = redis_login(&username, "Redis-Pw-default-1")
        .await
        .unwrap_or_else(|e| panic!("login: {e}"));
    redis::cmd("GET")
        .arg("k")
        .query_async::<Option<String>>(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("read: {e}"));
    let err = redis::cmd("DEL")
        .arg("k")
        .query_async::<i64>(&mut conn)
        .await
        .expect_err("a write was allowed");
    assert_eq!(err.code(), Some("NOPERM"));

    // Statements that are not JSON are rules, one each.
    let username = db
        .new_user(new_user_request(
            &["+ping", "~only:*"],
            &[],
            "Redis-Pw-raw-1",
        ))
        .await
        .unwrap_or_else(|e| panic!("new_user: {}", e.message()));
    cleanup.0.push(username.clone());
    let mut conn = redis_login(&username, "Redis-Pw-raw-1")
        .await
        .unwrap_or_else(|e| panic!("login: {e}"));
    redis::cmd("PING")
        .query_async::<String>(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("ping: {e}"));
    let err = redis::cmd("GET")
        .arg("only:k")
        .query_async::<Option<String>>(&mut conn)
        .await
        .expect_err("GET was not granted");
    assert_eq!(err.code(), Some("NOPERM"));

    // A bad rule is the server's error, without the password.
    let err = db
        .new_user(new_user_request(
            &[r#"["+@nosuchcategory"]"#],
            &[],
            "Redis-Pw-bad-1",
        ))
        .await
        .expect_err("a bad rule fails");
    assert!(err.message().starts_with("ERR "), "{}", err.message());
    assert!(!err.message().contains("Redis-Pw-bad-1"));

    for user in cleanup.0.clone() {
        db.delete_user(delete_request(&user))
            .await
            .unwrap_or_else(|e| panic!("delete_user: {}", e.message()));
        assert!(!redis_user_exists(&user).await);
    }
    db.close().await;
}

#[tokio::test]
async fn redis_connection_settings_and_errors() {
    let init_fn = builtin("redis-database-plugin").expect("builtin");
    let err = |cfg: serde_json::Value| {
        let cfg = config(cfg);
        async move {
            match init_fn(cfg, true).await {
                Ok(_) => "ok".to_string(),
                Err(e) => e.message().to_string(),
            }
        }
    };
    assert_eq!(err(json!({"port": 6379})).await, "host cannot be empty");
    assert_eq!(
        err(json!({"host": "127.0.0.1"})).await,
        "port cannot be empty"
    );
    assert_eq!(
        err(json!({"host": "127.0.0.1", "port": 6379})).await,
        "username cannot be empty"
    );
    assert_eq!(
        err(json!({"host": "127.0.0.1", "port": 6379, "username": "default"})).await,
        "password cannot be empty"
    );
    assert_eq!(
        err(json!({"host": "127.0.0.1", "port": 6379, "username": "default", "password": "p", "tls": true})).await,
        "ca_cert cannot be empty"
    );
    let tls = err(
        json!({"host": "127.0.0.1", "port": 6379, "username": "default",
        "password": "p", "tls": true, "ca_cert": "-----BEGIN CERTIFICATE-----"}),
    )
    .await;
    assert!(tls.contains("TLS"), "{tls}");

    // Nothing listening: the verification fails and names neither password nor user.
    let refused = err(
        json!({"host": "127.0.0.1", "port": 1, "username": "someone",
        "password": "secretpw"}),
    )
    .await;
    assert!(
        refused.starts_with("error verifying connection: "),
        "{refused}"
    );
    assert!(!refused.contains("secretpw"), "{refused}");

    // A user that does not exist: refused by the server.
    let wrong = err(
        json!({"host": "127.0.0.1", "port": 6379, "username": "arca-no-such-user",
        "password": "secretpw"}),
    )
    .await;
    assert!(wrong.starts_with("error verifying connection: "), "{wrong}");
    assert!(!wrong.contains("secretpw"), "{wrong}");

    // The URL form works.
    assert_eq!(
        err(json!({"connection_url": "valkey://default:whatever@127.0.0.1:6379"})).await,
        "ok"
    );
    assert_eq!(
        err(json!({"connection_url": "valkey://127.0.0.1:6379", "host": "x"})).await,
        "cannot specify both connection_url and individual connection parameters"
    );
}
