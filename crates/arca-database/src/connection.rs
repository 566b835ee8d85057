//! The connection settings the SQL plugins share (OpenBao's `connutil.SQLConnectionProducer`):
//! `connection_url` with `{{username}}`/`{{password}}`, the root `username`/`password`, pool
//! sizes, connection lifetime, `disable_escaping`, `username_template`.

use std::time::Duration;

use arca_sdk::JsonMap;
use arca_sdk::duration::parse_duration_value;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::plugin::DbError;

/// Characters Go's `url.PathEscape` leaves alone besides letters and digits.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// A string field of the connection details (numbers and booleans as their text).
pub fn get_string(config: &JsonMap, key: &str) -> Result<String, DbError> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::Bool(b)) => Ok(b.to_string()),
        Some(_) => Err(DbError::Invalid(format!("{key} must be a string"))),
    }
}

/// An integer field (a number or a numeric string), 0 when absent.
pub fn get_int(config: &JsonMap, key: &str) -> Result<i64, DbError> {
    let bad = || DbError::Invalid(format!("{key} must be an integer"));
    match config.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n.as_i64().ok_or_else(bad),
        Some(Value::String(s)) if s.is_empty() => Ok(0),
        Some(Value::String(s)) => s.trim().parse().map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

/// A boolean field (a bool or "true"/"false"), false when absent.
pub fn get_bool(config: &JsonMap, key: &str) -> Result<bool, DbError> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) => match s.as_str() {
            "" | "false" | "0" => Ok(false),
            "true" | "1" => Ok(true),
            _ => Err(DbError::Invalid(format!("{key} must be a boolean"))),
        },
        Some(Value::Number(n)) => Ok(n.as_i64() != Some(0)),
        Some(_) => Err(DbError::Invalid(format!("{key} must be a boolean"))),
    }
}

/// The parsed settings of a SQL connection.
pub struct SqlConnection {
    /// The URL with the credentials filled in; it holds the password.
    pub url: Zeroizing<String>,
    /// The root user.
    pub username: String,
    /// The root password.
    pub password: Zeroizing<String>,
    /// Most connections open at once (OpenBao's default 4).
    pub max_open: usize,
    /// Most idle connections kept.
    pub max_idle: usize,
    /// How long a connection is reused (zero: for ever).
    pub max_lifetime: Duration,
    /// The operator's username template, if any.
    pub username_template: String,
}

impl SqlConnection {
    /// Reads the shared settings. `escape_password` is false for MySQL, whose DSN takes the
    /// password as written.
    pub fn parse(config: &JsonMap, escape_password: bool) -> Result<SqlConnection, DbError> {
        let raw_url = get_string(config, "connection_url")?;
        if raw_url.is_empty() {
            return Err(DbError::Invalid("connection_url cannot be empty".into()));
        }
        let username = get_string(config, "username")?;
        let password = Zeroizing::new(get_string(config, "password")?);
        let has_template = |s: &str| s.contains("{{username}}") || s.contains("{{password}}");
        if has_template(&username) || has_template(&password) {
            return Err(DbError::Invalid(
                "username and/or password cannot contain the template variables".into(),
            ));
        }
        let disable_escaping = get_bool(config, "disable_escaping")?;
        let user_in_url = if disable_escaping {
            username.clone()
        } else {
            utf8_percent_encode(&username, PATH_SEGMENT).to_string()
        };
        let password_in_url = Zeroizing::new(if disable_escaping || !escape_password {
            password.to_string()
        } else {
            utf8_percent_encode(&password, PATH_SEGMENT).to_string()
        });
        let url = Zeroizing::new(
            raw_url
                .replace("{{username}}", &user_in_url)
                .replace("{{password}}", &password_in_url),
        );
        let max_open = match get_int(config, "max_open_connections")? {
            n if n <= 0 => 4,
            n => usize::try_from(n).unwrap_or(4),
        };
        let max_idle = match get_int(config, "max_idle_connections")? {
            n if n <= 0 => max_open,
            n => usize::try_from(n).unwrap_or(max_open).min(max_open),
        };
        let max_lifetime = match config.get("max_connection_lifetime") {
            None | Some(Value::Null) => Duration::ZERO,
            Some(v) => parse_duration_value(v)
                .map_err(|e| DbError::Invalid(format!("invalid max_connection_lifetime: {e}")))?,
        };
        Ok(SqlConnection {
            url,
            username,
            password,
            max_open,
            max_idle,
            max_lifetime,
            username_template: get_string(config, "username_template")?,
        })
    }
}
