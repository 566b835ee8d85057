//! A tiny auth method served as an external plugin: `config` (root-protected) stores one
//! username and password, and the groups the user is in; `login` (unauthenticated) returns a
//! token for them, naming the user as its alias and the groups as group aliases, which a
//! renewal reads again (as LDAP's method does), so external identity groups follow them.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use arca_sdk::framework::{Field, FieldType, FrameworkBackend, PathDef, handler};
use arca_sdk::storage::StorageExt;
use arca_sdk::{
    Alias, Auth, Backend, BackendConfig, BackendType, Factory, LeaseOptions, LogicalError,
    Operation, Response, SpecialPaths,
};
use futures::FutureExt;
use serde_json::Value;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

const CONFIG_KEY: &str = "config";

fn auth_backend() -> FrameworkBackend {
    FrameworkBackend::new(
        BackendType::Credential,
        "Log in with one fixed user and password.",
    )
    .special_paths(SpecialPaths {
        root: vec!["config".into()],
        unauthenticated: vec!["login".into()],
        ..SpecialPaths::default()
    })
    .path(
        PathDef::new("config")
            .field(Field::new("username", FieldType::String, "The user name."))
            .field(Field::new("password", FieldType::String, "The password."))
            .field(Field::new(
                "groups",
                FieldType::CommaStringSlice,
                "The user's groups.",
            ))
            .op(
                Operation::Update,
                handler(|req, d| async move {
                    let username = d.get_str("username")?;
                    let groups = d.get_strings("groups")?;
                    let password = Zeroizing::new(d.get_str("password")?);
                    if username.is_empty() || password.is_empty() {
                        return Err(LogicalError::bad_request(
                            "username and password are required",
                        ));
                    }
                    let stored = serde_json::json!({
                        "username": username,
                        "password": *password,
                        "groups": groups,
                    });
                    req.storage()?.put_json(CONFIG_KEY, &stored).await?;
                    Ok(None)
                }),
            ),
    )
    .path(
        PathDef::new("login")
            .field(Field::new("username", FieldType::String, "The user name."))
            .field(Field::new("password", FieldType::String, "The password."))
            .op(
                Operation::Update,
                handler(|req, d| async move {
                    let config: Option<Value> = req.storage()?.get_json(CONFIG_KEY).await?;
                    let Some(config) = config else {
                        return Err(LogicalError::bad_request("auth method is not configured"));
                    };
                    let want_user = config["username"].as_str().unwrap_or_default();
                    let want_pass =
                        Zeroizing::new(config["password"].as_str().unwrap_or_default().to_string());
                    let user = d.get_str("username")?;
                    let pass = Zeroizing::new(d.get_str("password")?);
                    let user_ok = user.as_bytes().ct_eq(want_user.as_bytes());
                    let pass_ok = pass.as_bytes().ct_eq(want_pass.as_bytes());
                    if !bool::from(user_ok & pass_ok) {
                        return Err(LogicalError::bad_request("invalid username or password"));
                    }
                    let auth = Auth {
                        lease: LeaseOptions {
                            ttl: Duration::from_secs(3600),
                            renewable: true,
                            ..LeaseOptions::default()
                        },
                        display_name: user.clone(),
                        policies: vec!["default".into()],
                        metadata: [("username".to_string(), user.clone())]
                            .into_iter()
                            .collect(),
                        alias: Some(Alias {
                            name: user,
                            ..Alias::default()
                        }),
                        group_aliases: group_aliases(&config),
                        ..Auth::default()
                    };
                    Ok(Some(Response {
                        auth: Some(auth),
                        ..Response::default()
                    }))
                }),
            ),
    )
    .auth_renew(handler(|req, _d| async move {
        let Some(mut auth) = req.auth.clone() else {
            return Err(LogicalError::internal("request has no auth"));
        };
        let config: Option<Value> = req.storage()?.get_json(CONFIG_KEY).await?;
        let Some(config) = config else {
            return Ok(None);
        };
        auth.group_aliases = group_aliases(&config);
        auth.lease.ttl = Duration::from_secs(3600);
        Ok(Some(Response {
            auth: Some(auth),
            ..Response::default()
        }))
    }))
}

/// The configured groups as group aliases.
fn group_aliases(config: &Value) -> Vec<Alias> {
    config["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|name| Alias {
            name: name.to_string(),
            ..Alias::default()
        })
        .collect()
}

fn factory() -> Factory {
    Arc::new(|_config: BackendConfig| {
        async move { Ok(Arc::new(auth_backend()) as Arc<dyn Backend>) }.boxed()
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    arca_plugin::serve(factory()).await
}
