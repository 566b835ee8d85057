//! `config/<name>` (a database connection and the plugin that serves it), `config/` listing,
//! `reset/<name>` and `rotate-root/<name>`.

use std::sync::Arc;

use arca_sdk::framework::{Field, FieldType, PathDef, existence, generic_name_regex, handler};
use arca_sdk::{JsonMap, LogicalError, Operation, Response};
use serde_json::{Value, json};

use crate::plugin::{ChangePassword, CredentialType, UpdateUserRequest};
use crate::state::{CONFIG_PREFIX, DatabaseConfig, State, missing_config};

/// Fields the engine keeps for itself; everything else is the plugin's connection details.
const ENGINE_FIELDS: &[&str] = &[
    "name",
    "plugin_name",
    "plugin_version",
    "allowed_roles",
    "verify_connection",
    "root_rotation_statements",
    "password_policy",
];

/// A URL as Go's `url.Parse` would accept it: braces (a `{{password}}` template) are not
/// valid user info there, so a templated URL is not a URL with a password.
fn parse_url(raw: &str) -> Option<url::Url> {
    if raw.contains('{') || raw.contains('}') {
        return None;
    }
    url::Url::parse(raw).ok()
}

/// `connection_url` with any password in its user info replaced by `xxxxx`, as Go's
/// `url.Redacted` shows it.
fn redacted_url(raw: &str) -> String {
    match parse_url(raw) {
        Some(mut u) if u.password().is_some() => {
            if u.set_password(Some("xxxxx")).is_ok() {
                u.to_string()
            } else {
                raw.to_string()
            }
        }
        _ => raw.to_string(),
    }
}

/// Whether the URL carries a literal password (not a `{{password}}` template).
fn url_has_password(raw: &str) -> bool {
    parse_url(raw)
        .and_then(|u| u.password().map(|p| !p.is_empty()))
        .unwrap_or(false)
}

fn config_answer(c: &DatabaseConfig) -> JsonMap {
    let mut details = c.connection_details.clone();
    details.remove("password");
    details.remove("private_key");
    if let Some(Value::String(u)) = details.get("connection_url") {
        let r = redacted_url(u);
        details.insert("connection_url".into(), json!(r));
    }
    let mut data = JsonMap::new();
    data.insert("plugin_name".into(), json!(c.plugin_name));
    data.insert("plugin_version".into(), json!(c.plugin_version));
    data.insert("connection_details".into(), Value::Object(details));
    data.insert("allowed_roles".into(), json!(c.allowed_roles));
    data.insert(
        "root_credentials_rotate_statements".into(),
        json!(c.root_credentials_rotate_statements),
    );
    data.insert("password_policy".into(), json!(c.password_policy));
    data
}

/// `config/` (LIST).
pub fn list_path() -> PathDef {
    PathDef::new("config/?$").op(
        Operation::List,
        handler(|req, _d| async move {
            let keys = req.storage()?.list(CONFIG_PREFIX).await?;
            let mut data = JsonMap::new();
            data.insert("keys".into(), json!(keys));
            Ok(Some(Response::with_data(data)))
        }),
    )
}

/// `config/<name>`.
pub fn config_path(state: Arc<State>) -> PathDef {
    let (s_write, s_delete) = (state.clone(), state);
    let write = handler(move |req, d| {
        let state = s_write.clone();
        async move {
            let name = d.get_str("name")?;
            if name.is_empty() {
                return Err(LogicalError::bad_request("empty name attribute given"));
            }
            let create = req.operation == Operation::Create;
            let storage = req.storage()?.clone();
            let verify = d.get_bool("verify_connection")?;
            let mut config = State::config(storage.as_ref(), &name)
                .await?
                .unwrap_or_default();
            if d.is_set("plugin_name") || create {
                config.plugin_name = d.get_str("plugin_name")?;
            }
            if config.plugin_name.is_empty() {
                return Err(LogicalError::bad_request("empty plugin name"));
            }
            if d.is_set("plugin_version") {
                config.plugin_version = d.get_str("plugin_version")?;
            }
            if d.is_set("allowed_roles") || create {
                config.allowed_roles = d.get_strings("allowed_roles")?;
            }
            if d.is_set("root_rotation_statements") || create {
                config.root_credentials_rotate_statements =
                    d.get_strings("root_rotation_statements")?;
            }
            if d.is_set("password_policy") {
                config.password_policy = d.get_str("password_policy")?;
            }
            let mut details: JsonMap = d
                .raw()
                .iter()
                .filter(|(k, _)| !ENGINE_FIELDS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !create {
                let mut merged = std::mem::take(&mut config.connection_details);
                merged.append(&mut details);
                details = merged;
            }
            let creating =
                |e| LogicalError::bad_request(format!("error creating database object: {e}"));
            let initialized = state
                .initialize_plugin(&config.plugin_name, &config.plugin_version, details, verify)
                .await
                .map_err(creating)?
                .ok_or_else(|| {
                    let missing = if config.plugin_version.is_empty() {
                        format!("plugin not found in the catalog: {}", config.plugin_name)
                    } else {
                        format!(
                            "plugin not found in the catalog: {}, version={}",
                            config.plugin_name, config.plugin_version
                        )
                    };
                    LogicalError::bad_request(format!(
                        "error creating database object: invalid database version: {}",
                        arca_sdk::error::multierror(&[missing.clone(), missing])
                    ))
                })?;
            config.connection_details = initialized.config;
            state.put_connection(&name, initialized.database).await;
            State::store_config(storage.as_ref(), &name, &config).await?;
            let has_password = matches!(
                config.connection_details.get("connection_url"),
                Some(Value::String(u)) if url_has_password(u)
            );
            if has_password {
                let mut resp = Response::default();
                resp.warnings.push(
                    "Password found in connection_url, use a templated url to enable root rotation and prevent read access to password information."
                        .into(),
                );
                return Ok(Some(resp));
            }
            Ok(None)
        }
    });
    // Connection details are not declared fields: as in OpenBao, a response that exists (a
    // warning) also names them as unrecognised, and a bodiless answer stays bodiless.
    PathDef::new(format!("config/{}", generic_name_regex("name")))
        .field(Field::new(
            "name",
            FieldType::String,
            "Name of this database connection",
        ))
        .field(Field::new(
            "plugin_name",
            FieldType::String,
            "The name of a builtin or previously registered plugin known to OpenBao. This endpoint will create an instance of that plugin type.",
        ))
        .field(Field::new(
            "plugin_version",
            FieldType::String,
            "The version of the plugin to use.",
        ))
        .field(
            Field::new(
                "verify_connection",
                FieldType::Bool,
                "If true, the connection details are verified by actually connecting to the database. Defaults to true.",
            )
            .default_value(json!(true)),
        )
        .field(Field::new(
            "allowed_roles",
            FieldType::CommaStringSlice,
            "Comma separated string or array of the role names allowed to get creds from this database connection. If empty no roles are allowed. If \"*\" all roles are allowed.",
        ))
        .field(Field::new(
            "root_rotation_statements",
            FieldType::StringSlice,
            "Specifies the database statements to be executed to rotate the root user's credentials.",
        ))
        .field(Field::new(
            "password_policy",
            FieldType::String,
            "Password policy to use when generating passwords.",
        ))
        .existence(existence(|req, d| async move {
            let name = d.get_str("name")?;
            Ok(State::config(req.storage()?.as_ref(), &name).await?.is_some())
        }))
        .op(Operation::Create, write.clone())
        .op(Operation::Update, write)
        .op(
            Operation::Read,
            handler(|req, d| async move {
                let name = d.get_str("name")?;
                Ok(State::config(req.storage()?.as_ref(), &name)
                    .await?
                    .map(|c| Response::with_data(config_answer(&c))))
            }),
        )
        .op(
            Operation::Delete,
            handler(move |req, d| {
                let state = s_delete.clone();
                async move {
                    let name = d.get_str("name")?;
                    req.storage()?
                        .delete(&format!("{CONFIG_PREFIX}{name}"))
                        .await?;
                    state.clear_connection(&name).await;
                    Ok(None)
                }
            }),
        )
}

/// `reset/<name>`: closes the connection's plugin and starts a new one from the stored details.
pub fn reset_path(state: Arc<State>) -> PathDef {
    PathDef::new(format!("reset/{}", generic_name_regex("name")))
        .field(Field::new(
            "name",
            FieldType::String,
            "Name of this database connection",
        ))
        .op(
            Operation::Update,
            handler(move |req, d| {
                let state = state.clone();
                async move {
                    let name = d.get_str("name")?;
                    state.clear_connection(&name).await;
                    state.connection(req.storage()?.as_ref(), &name).await?;
                    Ok(None)
                }
            }),
        )
}

/// `rotate-root/<name>`: gives the connection's root user a new password that only Arca knows.
pub fn rotate_root_path(state: Arc<State>) -> PathDef {
    PathDef::new(format!("rotate-root/{}", generic_name_regex("name")))
        .field(Field::new(
            "name",
            FieldType::String,
            "Name of this database connection",
        ))
        .op(
            Operation::Update,
            handler(move |req, d| {
                let state = state.clone();
                async move {
                    let name = d.get_str("name")?;
                    let storage = req.storage()?.clone();
                    let mut config = State::config(storage.as_ref(), &name)
                        .await?
                        .ok_or_else(|| missing_config(&name))?;
                    let text = |k: &str| {
                        config
                            .connection_details
                            .get(k)
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string()
                    };
                    let username = text("username");
                    if username.is_empty() {
                        return Err(LogicalError::internal(
                            "unable to rotate root credentials: no username in configuration",
                        ));
                    }
                    if text("password").is_empty() {
                        return Err(LogicalError::internal(
                            "unable to rotate root credentials: no password in configuration",
                        ));
                    }
                    let inst = state.instance(&name, &config).await?;
                    let password = state.generate_password(&config.password_policy).await?;
                    let result = inst
                        .db
                        .update_user(UpdateUserRequest {
                            username,
                            credential_type: CredentialType::Password,
                            password: Some(ChangePassword {
                                new_password: password.clone(),
                                statements: config.root_credentials_rotate_statements.clone(),
                            }),
                            public_key: None,
                            expiration: None,
                        })
                        .await;
                    // The running plugin holds the old password either way: the next use
                    // starts one from the stored details.
                    state.clear_connection_if(&name, inst.id).await;
                    result.map_err(|e| {
                        LogicalError::internal(format!("failed to update user: {e}"))
                    })?;
                    config
                        .connection_details
                        .insert("password".into(), json!(password.as_str()));
                    State::store_config(storage.as_ref(), &name, &config).await?;
                    Ok(None)
                }
            }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted_like_go() {
        assert_eq!(
            redacted_url("postgresql://root:secret@127.0.0.1:5432/db"),
            "postgresql://root:xxxxx@127.0.0.1:5432/db"
        );
        assert_eq!(
            redacted_url("postgresql://{{username}}:{{password}}@127.0.0.1:5432/db"),
            "postgresql://{{username}}:{{password}}@127.0.0.1:5432/db"
        );
        assert!(url_has_password("postgresql://root:secret@h/db"));
        assert!(!url_has_password(
            "{{username}}:{{password}}@tcp(127.0.0.1:3306)/"
        ));
    }
}
