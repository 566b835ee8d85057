//! The database plugin interface, OpenBao's `dbplugin/v5` in Rust: a plugin is initialised with
//! a connection's details and then creates, updates and deletes users. The engine knows only
//! this trait; the builtin PostgreSQL, MySQL and Redis/Valkey plugins implement it.

use std::sync::Arc;

use arca_sdk::JsonMap;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use zeroize::Zeroizing;

/// What went wrong inside a plugin. The text is shown to the operator, so a plugin never puts a
/// password into it (see [`DbError::sanitized`]).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The connection details or a request are not usable; shown as a 400.
    #[error("{0}")]
    Invalid(String),
    /// The database refused or failed a statement, or could not be reached.
    #[error("{0}")]
    Database(String),
}

impl DbError {
    /// Replaces every occurrence of each secret in the message with `[password]`, as OpenBao's
    /// error-sanitizing middleware does, so a driver that echoes a connection string or a
    /// statement cannot leak the password it held.
    pub fn sanitized(self, secrets: &[&str]) -> DbError {
        let clean = |mut s: String| {
            for secret in secrets.iter().filter(|s| !s.is_empty()) {
                s = s.replace(secret, "[password]");
            }
            s
        };
        match self {
            DbError::Invalid(s) => DbError::Invalid(clean(s)),
            DbError::Database(s) => DbError::Database(clean(s)),
        }
    }

    /// The message, whatever the kind.
    pub fn message(&self) -> &str {
        match self {
            DbError::Invalid(s) | DbError::Database(s) => s,
        }
    }
}

/// The kinds of credential a role hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CredentialType {
    /// A generated password.
    #[default]
    Password,
    /// An RSA key pair; the database gets the public key.
    RsaPrivateKey,
    /// A client certificate; the database gets its subject.
    ClientCertificate,
}

impl CredentialType {
    /// OpenBao's name for the type.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialType::Password => "password",
            CredentialType::RsaPrivateKey => "rsa_private_key",
            CredentialType::ClientCertificate => "client_certificate",
        }
    }

    /// The type OpenBao's stored number stands for (`v5.CredentialType`).
    pub fn from_number(n: i64) -> Option<CredentialType> {
        match n {
            0 => Some(CredentialType::Password),
            1 => Some(CredentialType::RsaPrivateKey),
            2 => Some(CredentialType::ClientCertificate),
            _ => None,
        }
    }

    /// The number OpenBao stores for the type.
    pub fn number(self) -> i64 {
        match self {
            CredentialType::Password => 0,
            CredentialType::RsaPrivateKey => 1,
            CredentialType::ClientCertificate => 2,
        }
    }

    /// Parses OpenBao's name of a type.
    pub fn parse(s: &str) -> Option<CredentialType> {
        match s {
            "password" => Some(CredentialType::Password),
            "rsa_private_key" => Some(CredentialType::RsaPrivateKey),
            "client_certificate" => Some(CredentialType::ClientCertificate),
            _ => None,
        }
    }
}

/// The name parts a plugin builds a username from.
#[derive(Debug, Clone, Default)]
pub struct UsernameMetadata {
    /// The requesting token's display name.
    pub display_name: String,
    /// The role the credentials are for.
    pub role_name: String,
}

impl UsernameMetadata {
    /// The values a username (or common name) template sees: `.DisplayName`, `.RoleName`.
    pub fn template_values(&self) -> std::collections::BTreeMap<&'static str, String> {
        std::collections::BTreeMap::from([
            ("DisplayName", self.display_name.clone()),
            ("RoleName", self.role_name.clone()),
        ])
    }
}

/// Asks for a new user.
pub struct NewUserRequest {
    /// What the username is made from.
    pub username_config: UsernameMetadata,
    /// The role's creation statements.
    pub statements: Vec<String>,
    /// Run if a creation statement fails (the creation itself is rolled back first).
    pub rollback_statements: Vec<String>,
    /// The kind of credential.
    pub credential_type: CredentialType,
    /// The password, for [`CredentialType::Password`].
    pub password: Zeroizing<String>,
    /// The PEM public key, for [`CredentialType::RsaPrivateKey`].
    pub public_key: Vec<u8>,
    /// The certificate subject, for [`CredentialType::ClientCertificate`].
    pub subject: String,
    /// When the user should stop working.
    pub expiration: DateTime<Utc>,
}

/// A new password for an existing user.
pub struct ChangePassword {
    /// The password.
    pub new_password: Zeroizing<String>,
    /// Statements that set it (the plugin's default when empty).
    pub statements: Vec<String>,
}

/// A new expiry for an existing user.
pub struct ChangeExpiration {
    /// The new end of the user's validity.
    pub new_expiration: DateTime<Utc>,
    /// Statements that set it (the plugin's default when empty).
    pub statements: Vec<String>,
}

/// Changes an existing user.
pub struct UpdateUserRequest {
    /// The user.
    pub username: String,
    /// The kind of credential being changed.
    pub credential_type: CredentialType,
    /// A password change.
    pub password: Option<ChangePassword>,
    /// A public-key change (PEM).
    pub public_key: Option<(Vec<u8>, Vec<String>)>,
    /// An expiry change.
    pub expiration: Option<ChangeExpiration>,
}

/// Drops a user.
pub struct DeleteUserRequest {
    /// The user.
    pub username: String,
    /// The role's revocation statements (the plugin's default when empty).
    pub statements: Vec<String>,
}

/// A connected database: what the engine drives for a `config/<name>`.
#[async_trait]
pub trait Database: Send + Sync {
    /// Creates a user; answers its name.
    async fn new_user(&self, req: NewUserRequest) -> Result<String, DbError>;
    /// Changes a user's password or expiry.
    async fn update_user(&self, req: UpdateUserRequest) -> Result<(), DbError>;
    /// Drops a user.
    async fn delete_user(&self, req: DeleteUserRequest) -> Result<(), DbError>;
    /// The plugin's type name (`pgx`, `mysql`, `valkey`).
    fn type_name(&self) -> &'static str;
    /// Closes the plugin's connections.
    async fn close(&self);
}

/// A plugin after `Initialize`: the database and the connection details to store (a plugin may
/// add to them, e.g. `supported_credential_types`).
pub struct Initialized {
    /// The connected database.
    pub database: Arc<dyn Database>,
    /// The connection details as the engine should store them.
    pub config: JsonMap,
}

/// `Initialize`: builds a plugin for the given connection details, connecting first when
/// `verify_connection` is set.
pub type InitFn = fn(
    config: JsonMap,
    verify_connection: bool,
) -> BoxFuture<'static, Result<Initialized, DbError>>;

/// The builtin plugins by the names OpenBao gives them.
pub fn builtin(name: &str) -> Option<InitFn> {
    Some(match name {
        "postgresql-database-plugin" => crate::postgres::initialize,
        "mysql-database-plugin" => crate::mysql::initialize_default,
        "mysql-aurora-database-plugin"
        | "mysql-rds-database-plugin"
        | "mysql-legacy-database-plugin" => crate::mysql::initialize_legacy,
        "redis-database-plugin" | "valkey-database-plugin" => crate::redis::initialize,
        _ => return None,
    })
}

/// The builtin plugin names, for the plugin catalog.
pub const BUILTIN_NAMES: &[&str] = &[
    "mysql-aurora-database-plugin",
    "mysql-database-plugin",
    "mysql-legacy-database-plugin",
    "mysql-rds-database-plugin",
    "postgresql-database-plugin",
    "redis-database-plugin",
    "valkey-database-plugin",
];
