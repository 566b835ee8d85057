//! The database plugin protocol end to end: the host side launches the `db_plugin` example
//! (the database handshake, auto-mTLS, sha256 check), initialises it and creates, changes and
//! drops users, which the plugin writes to its users file; `close` stops the process.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use arca_plugin::database::{
    CREDENTIAL_TYPE_PASSWORD, ChangePassword, DatabaseError, DatabasePluginClient, DeleteUser,
    NewUser, UpdateUser, UsernameConfig,
};
use arca_plugin::{PluginError, PluginLauncher, sha256_file};
use arca_sdk::JsonMap;
use serde_json::{Value, json};

fn users(path: &Path) -> JsonMap {
    match serde_json::from_slice(&std::fs::read(path).unwrap_or_default()) {
        Ok(Value::Object(m)) => m,
        _ => JsonMap::new(),
    }
}

fn details(v: Value) -> JsonMap {
    v.as_object().cloned().unwrap_or_default()
}

async fn launch() -> DatabasePluginClient {
    let bin = common::example_binary("db_plugin");
    let sha = sha256_file(&bin).unwrap();
    DatabasePluginClient::launch(PluginLauncher::new(bin, vec![], vec![], sha), "2.7.2")
        .await
        .unwrap()
}

#[tokio::test]
async fn users_are_created_changed_and_dropped_through_the_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.json");
    std::fs::write(&file, json!({"root": {"password": "rootpw"}}).to_string()).unwrap();

    let db = launch().await;
    assert_eq!(db.type_name(), "arca-example-db");
    assert_eq!(db.plugin_version(), Some("v0.1.0"));
    let pid = db.pid().expect("running");

    // verify_connection logs in as the root user.
    let wrong = db
        .initialize(
            &details(json!({"users_file": file, "username": "root", "password": "nope", "n": 4})),
            true,
        )
        .await
        .unwrap_err();
    assert_eq!(
        wrong.to_string(),
        "unable to initialize: rpc error: code = Internal desc = failed to initialize: authentication failed for user \"root\""
    );
    let stored = db
        .initialize(
            &details(json!({"users_file": file, "username": "root", "password": "rootpw", "n": 4})),
            true,
        )
        .await
        .unwrap();
    assert_eq!(stored["n"], json!(4), "whole numbers stay integers");
    assert_eq!(stored["username"], "root");

    let expiration = chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap();
    let name = db
        .new_user(NewUser {
            username_config: UsernameConfig {
                display_name: "token".into(),
                role_name: "readonly".into(),
            },
            credential_type: CREDENTIAL_TYPE_PASSWORD,
            password: String::from("s3cret-pw").into(),
            expiration: Some(expiration),
            statements: vec!["CREATE USER".into()],
            ..NewUser::default()
        })
        .await
        .unwrap();
    assert!(name.starts_with("v-token-readonly-"), "{name}");
    let u = users(&file);
    assert_eq!(u[&name]["password"], "s3cret-pw");
    assert_eq!(u[&name]["statements"], json!(["CREATE USER"]));
    assert_eq!(u[&name]["expiration"], expiration.to_rfc3339());

    // Refused by the host side before anything is sent, as OpenBao's client does.
    let missing = db
        .new_user(NewUser {
            credential_type: CREDENTIAL_TYPE_PASSWORD,
            ..NewUser::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(missing, DatabaseError::Invalid(ref m) if m == "missing password credential"));
    let nothing = db
        .update_user(UpdateUser {
            username: name.clone(),
            ..UpdateUser::default()
        })
        .await
        .unwrap_err();
    assert_eq!(nothing.to_string(), "missing changes");

    db.update_user(UpdateUser {
        username: name.clone(),
        credential_type: CREDENTIAL_TYPE_PASSWORD,
        password: Some(ChangePassword {
            new_password: String::from("n3w-pw").into(),
            statements: vec![],
        }),
        ..UpdateUser::default()
    })
    .await
    .unwrap();
    assert_eq!(users(&file)[&name]["password"], "n3w-pw");

    let ghost = db
        .update_user(UpdateUser {
            username: "ghost".into(),
            password: Some(ChangePassword {
                new_password: String::from("x").into(),
                statements: vec![],
            }),
            ..UpdateUser::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        ghost.to_string(),
        "unable to update user: rpc error: code = Internal desc = unable to update user: user \"ghost\" does not exist"
    );

    db.delete_user(DeleteUser {
        username: name.clone(),
        statements: vec![],
    })
    .await
    .unwrap();
    assert!(!users(&file).contains_key(&name));
    assert!(users(&file).contains_key("root"));

    db.close().await.unwrap();
    assert!(db.has_exited());
    assert_eq!(db.pid(), None);
    // The process is really gone (a zombie would still answer kill -0 until reaped: the
    // launcher reaps it).
    let alive = std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(!alive, "plugin process {pid} still runs after close");
    let after = db
        .delete_user(DeleteUser {
            username: "root".into(),
            statements: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(after.to_string(), "plugin shutdown");
}

#[tokio::test]
async fn a_changed_binary_and_a_backend_plugin_are_refused() {
    let bin = common::example_binary("db_plugin");
    let mut sha = sha256_file(&bin).unwrap();
    sha[0] ^= 1;
    let err = DatabasePluginClient::launch(PluginLauncher::new(bin, vec![], vec![], sha), "2.7.2")
        .await
        .unwrap_err();
    assert!(
        matches!(err, DatabaseError::Launch(PluginError::Checksum)),
        "{err}"
    );

    // A backend plugin does not know the database cookie: it exits without a handshake.
    let kv = common::example_binary("kv_plugin");
    let sha = sha256_file(&kv).unwrap();
    let mut launcher = PluginLauncher::new(kv, vec![], vec![], sha);
    launcher.start_timeout = Duration::from_secs(20);
    let err = DatabasePluginClient::launch(launcher, "2.7.2")
        .await
        .unwrap_err();
    assert!(matches!(err, DatabaseError::Launch(_)), "{err}");
}
