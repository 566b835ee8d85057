//! A database plugin (OpenBao's `dbplugin` protocol 5) whose "database" is a JSON file: the
//! users it creates, changes and drops are written to the file `users_file` of the connection
//! details names, so a test (or an operator) can see what the host asked for.
//!
//! - `Initialize` takes `users_file` (required), and `username`/`password` of the root user.
//!   With `verify_connection` the root user must be in the file with that password, as a real
//!   database checks a login.
//! - `NewUser` adds `v-<display>-<role>-<random>` with its password, expiry, role and
//!   statements; only password credentials are supported.
//! - `UpdateUser` changes an existing user's password or expiry; `DeleteUser` removes a user.
//!
//! The file maps each username to `{"password", "expiration", "role_name", "display_name",
//! "statements"}`. Build with `cargo build -p arca-plugin --example db_plugin`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use arca_plugin::database::{
    CREDENTIAL_TYPE_CLIENT_CERTIFICATE, CREDENTIAL_TYPE_PASSWORD, CREDENTIAL_TYPE_RSA_PRIVATE_KEY,
    DatabaseError, DatabasePlugin, DeleteUser, NewUser, UpdateUser, serve_database,
};
use arca_sdk::JsonMap;
use async_trait::async_trait;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use tokio::sync::Mutex;

/// The plugin's type name.
const TYPE_NAME: &str = "arca-example-db";

/// The users file, once `Initialize` named it; the lock serialises the file's changes.
#[derive(Default)]
struct FileDatabase {
    users_file: Mutex<Option<PathBuf>>,
}

fn invalid(msg: impl Into<String>) -> DatabaseError {
    DatabaseError::Invalid(msg.into())
}

fn failed(msg: impl Into<String>) -> DatabaseError {
    DatabaseError::Failed(msg.into())
}

/// The users in `path` (none when the file does not exist yet).
async fn load(path: &PathBuf) -> Result<JsonMap, DatabaseError> {
    match tokio::fs::read(path).await {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(failed(format!("{}: not a JSON object", path.display()))),
            Err(e) => Err(failed(format!("{}: {e}", path.display()))),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(JsonMap::new()),
        Err(e) => Err(failed(format!("reading {}: {e}", path.display()))),
    }
}

/// Writes the users to `path` atomically (a temporary file renamed over it).
async fn store(path: &PathBuf, users: &JsonMap) -> Result<(), DatabaseError> {
    let bytes = serde_json::to_vec_pretty(users).map_err(|e| failed(e.to_string()))?;
    let tmp = path.with_extension("tmp");
    tokio::fs::write(&tmp, bytes)
        .await
        .map_err(|e| failed(format!("writing {}: {e}", tmp.display())))?;
    tokio::fs::rename(&tmp, path)
        .await
        .map_err(|e| failed(format!("writing {}: {e}", path.display())))
}

/// At most `n` characters of `s`, only `[a-z0-9_]` (others become `_`).
fn part(s: &str, n: usize) -> String {
    s.chars()
        .take(n)
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() { c } else { '_' }
        })
        .collect()
}

fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..20)
        .map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]))
        .collect()
}

impl FileDatabase {
    async fn path(&self) -> Result<PathBuf, DatabaseError> {
        self.users_file
            .lock()
            .await
            .clone()
            .ok_or_else(|| failed("plugin is not initialized"))
    }
}

#[async_trait]
impl DatabasePlugin for FileDatabase {
    async fn initialize(
        &self,
        config: JsonMap,
        verify_connection: bool,
    ) -> Result<JsonMap, DatabaseError> {
        let path = match config.get("users_file") {
            Some(Value::String(p)) if !p.is_empty() => PathBuf::from(p),
            _ => return Err(invalid("users_file is required")),
        };
        let text = |k: &str| config.get(k).and_then(Value::as_str).unwrap_or_default();
        if verify_connection && !text("username").is_empty() {
            let users = load(&path).await?;
            let stored = users
                .get(text("username"))
                .and_then(|u| u.get("password"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            let given = text("password");
            let same = stored.len() == given.len()
                && bool::from(stored.as_bytes().ct_eq(given.as_bytes()));
            if !same {
                return Err(failed(format!(
                    "authentication failed for user {:?}",
                    text("username")
                )));
            }
        }
        *self.users_file.lock().await = Some(path);
        // Like plugins that take keys or certificates (Snowflake's, say), it says so.
        let mut config = config;
        config.insert(
            "supported_credential_types".into(),
            json!(["password", "rsa_private_key", "client_certificate"]),
        );
        Ok(config)
    }

    async fn new_user(&self, req: NewUser) -> Result<String, DatabaseError> {
        let credential = match req.credential_type {
            CREDENTIAL_TYPE_PASSWORD => json!({ "password": req.password.as_str() }),
            CREDENTIAL_TYPE_RSA_PRIVATE_KEY => {
                json!({ "public_key": String::from_utf8_lossy(&req.public_key) })
            }
            CREDENTIAL_TYPE_CLIENT_CERTIFICATE => json!({ "subject": req.subject }),
            other => return Err(invalid(format!("unsupported credential type {other}"))),
        };
        let path = self.path().await?;
        let _one_at_a_time = self.users_file.lock().await;
        let mut users = load(&path).await?;
        let username = format!(
            "v-{}-{}-{}",
            part(&req.username_config.display_name, 8),
            part(&req.username_config.role_name, 8),
            random_suffix()
        );
        if users.contains_key(&username) {
            return Err(failed(format!("user {username:?} already exists")));
        }
        let mut user = json!({
            "expiration": req.expiration.map(|t| t.to_rfc3339()),
            "role_name": req.username_config.role_name,
            "display_name": req.username_config.display_name,
            "statements": req.statements,
        });
        if let (Value::Object(u), Value::Object(c)) = (&mut user, credential) {
            u.extend(c);
        }
        users.insert(username.clone(), user);
        store(&path, &users).await?;
        Ok(username)
    }

    async fn update_user(&self, req: UpdateUser) -> Result<(), DatabaseError> {
        let path = self.path().await?;
        let _one_at_a_time = self.users_file.lock().await;
        let mut users = load(&path).await?;
        let Some(Value::Object(user)) = users.get_mut(&req.username) else {
            return Err(failed(format!("user {:?} does not exist", req.username)));
        };
        if let Some(p) = &req.password {
            user.insert("password".into(), json!(p.new_password.as_str()));
        }
        if let Some(e) = &req.expiration {
            user.insert("expiration".into(), json!(e.new_expiration.to_rfc3339()));
        }
        if let Some(k) = &req.public_key {
            user.insert(
                "public_key".into(),
                json!(String::from_utf8_lossy(&k.new_public_key)),
            );
        }
        store(&path, &users).await
    }

    async fn delete_user(&self, req: DeleteUser) -> Result<(), DatabaseError> {
        let path = self.path().await?;
        let _one_at_a_time = self.users_file.lock().await;
        let mut users = load(&path).await?;
        if users.remove(&req.username).is_some() {
            store(&path, &users).await?;
        }
        Ok(())
    }

    fn type_name(&self) -> String {
        TYPE_NAME.to_string()
    }

    async fn close(&self) -> Result<(), DatabaseError> {
        *self.users_file.lock().await = None;
        Ok(())
    }

    fn version(&self) -> Option<String> {
        Some("v0.1.0".into())
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    serve_database(Arc::new(FileDatabase::default())).await
}
