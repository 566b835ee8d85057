//! Database plugins over OpenBao's database plugin protocol (`dbplugin.v5`): the host side
//! ([`DatabasePluginClient`], which launches a plugin binary and calls it) and the plugin side
//! ([`serve_database`], which serves a [`DatabasePlugin`] as a plugin binary).
//!
//! The types here are plain Rust, independent of any engine: the database secrets engine
//! adapts them to its own plugin interface.

mod client;
mod marshal;
mod server;

use arca_sdk::JsonMap;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

use crate::error::PluginError;

pub use client::DatabasePluginClient;
pub use marshal::{map_to_struct, struct_to_map};
pub use server::{run_database, serve_database};

/// `CredentialType` number of a password.
pub const CREDENTIAL_TYPE_PASSWORD: i32 = 0;
/// `CredentialType` number of an RSA key pair (the database gets the public key).
pub const CREDENTIAL_TYPE_RSA_PRIVATE_KEY: i32 = 1;
/// `CredentialType` number of a client certificate (the database gets its subject).
pub const CREDENTIAL_TYPE_CLIENT_CERTIFICATE: i32 = 2;

/// What went wrong with a database plugin, on either side. The texts follow OpenBao's
/// `dbplugin/v5` client and server.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// A request is not usable (refused before it was sent, or by the plugin as invalid).
    #[error("{0}")]
    Invalid(String),
    /// The plugin (or the database behind it) failed the call, or the link to it broke.
    #[error("{0}")]
    Failed(String),
    /// The plugin process could not be started or reached.
    #[error(transparent)]
    Launch(#[from] PluginError),
}

/// The parts a plugin builds a username from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsernameConfig {
    /// The requesting token's display name.
    pub display_name: String,
    /// The role the credentials are for.
    pub role_name: String,
}

/// `NewUser`: a user to create.
#[derive(Clone, Default)]
pub struct NewUser {
    /// What the username is made from.
    pub username_config: UsernameConfig,
    /// One of the `CREDENTIAL_TYPE_*` numbers.
    pub credential_type: i32,
    /// The password, for [`CREDENTIAL_TYPE_PASSWORD`].
    pub password: Zeroizing<String>,
    /// The PEM public key, for [`CREDENTIAL_TYPE_RSA_PRIVATE_KEY`].
    pub public_key: Vec<u8>,
    /// The certificate subject, for [`CREDENTIAL_TYPE_CLIENT_CERTIFICATE`].
    pub subject: String,
    /// When the user should stop working (`None` when the host sent none).
    pub expiration: Option<DateTime<Utc>>,
    /// The creation statements.
    pub statements: Vec<String>,
    /// Statements to run when a creation statement fails.
    pub rollback_statements: Vec<String>,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("username_config", &self.username_config)
            .field("credential_type", &self.credential_type)
            .field("subject", &self.subject)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// A new password and the statements that set it.
#[derive(Clone, Default)]
pub struct ChangePassword {
    /// The password.
    pub new_password: Zeroizing<String>,
    /// Statements that set it (the plugin's default when empty).
    pub statements: Vec<String>,
}

/// A new public key (PEM) and the statements that set it.
#[derive(Debug, Clone, Default)]
pub struct ChangePublicKey {
    /// The key.
    pub new_public_key: Vec<u8>,
    /// Statements that set it.
    pub statements: Vec<String>,
}

/// A new expiry and the statements that set it.
#[derive(Debug, Clone)]
pub struct ChangeExpiration {
    /// The new end of the user's validity.
    pub new_expiration: DateTime<Utc>,
    /// Statements that set it.
    pub statements: Vec<String>,
}

/// `UpdateUser`: changes to an existing user (at least one).
#[derive(Clone, Default)]
pub struct UpdateUser {
    /// The user.
    pub username: String,
    /// One of the `CREDENTIAL_TYPE_*` numbers.
    pub credential_type: i32,
    /// A password change.
    pub password: Option<ChangePassword>,
    /// A public-key change.
    pub public_key: Option<ChangePublicKey>,
    /// An expiry change.
    pub expiration: Option<ChangeExpiration>,
}

impl std::fmt::Debug for UpdateUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateUser")
            .field("username", &self.username)
            .field("credential_type", &self.credential_type)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("public_key", &self.public_key)
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// `DeleteUser`: a user to drop.
#[derive(Debug, Clone, Default)]
pub struct DeleteUser {
    /// The user.
    pub username: String,
    /// The revocation statements (the plugin's default when empty).
    pub statements: Vec<String>,
}

/// A database as a plugin binary serves it: what a plugin author implements and hands to
/// [`serve_database`] (OpenBao's `dbplugin.Database`).
#[async_trait]
pub trait DatabasePlugin: Send + Sync {
    /// Takes the connection details (connecting first when `verify_connection` is set) and
    /// answers them as the host should store them.
    async fn initialize(
        &self,
        config: JsonMap,
        verify_connection: bool,
    ) -> Result<JsonMap, DatabaseError>;
    /// Creates a user; answers its name.
    async fn new_user(&self, req: NewUser) -> Result<String, DatabaseError>;
    /// Changes a user's password, public key or expiry.
    async fn update_user(&self, req: UpdateUser) -> Result<(), DatabaseError>;
    /// Drops a user.
    async fn delete_user(&self, req: DeleteUser) -> Result<(), DatabaseError>;
    /// The plugin's type name (`Type`).
    fn type_name(&self) -> String;
    /// Closes the plugin's connections (`Close`); the host stops the process next.
    async fn close(&self) -> Result<(), DatabaseError>;
    /// The plugin's version, answered to `PluginVersion.Version` (empty when `None`).
    fn version(&self) -> Option<String> {
        None
    }
}
