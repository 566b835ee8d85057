//! The host side of a database plugin: launches the binary with the database handshake
//! (cookie `VAULT_DATABASE_PLUGIN`, protocol 5 or 6, auto-mTLS) on the same launcher as
//! backend plugins, and calls its `dbplugin.v5.Database` service as OpenBao's `gRPCClient`
//! does, texts of its errors included.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arca_sdk::JsonMap;
use tonic::Status;

use super::marshal::{map_to_struct, statements, struct_to_map, timestamp};
use super::{
    CREDENTIAL_TYPE_CLIENT_CERTIFICATE, CREDENTIAL_TYPE_PASSWORD, CREDENTIAL_TYPE_RSA_PRIVATE_KEY,
    DatabaseError, DeleteUser, NewUser, UpdateUser,
};
use crate::error::PluginError;
use crate::handshake::DATABASE_HANDSHAKE;
use crate::host::{Intercepted, MultiplexId, PluginLauncher};
use crate::host_process::PluginProcess;
use crate::proto::dbplugin::{self as pb, database_client::DatabaseClient};
use crate::proto::logical::{self, plugin_version_client::PluginVersionClient};
use crate::transport::MAX_MESSAGE_SIZE;

/// How long `Close` may take (OpenBao's client gives it one second).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long `Type` may take. OpenBao gives it one second; a loaded host can need more for
/// the first call on a fresh process.
const TYPE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a failed call waits to see whether the process went away.
const EXIT_PROBE: Duration = Duration::from_millis(300);

/// A running database plugin process and the client of its `Database` service. Every call
/// carries a `multiplex_id`, so a plugin that chose protocol 6 (multiplexed) serves it too.
/// [`DatabasePluginClient::close`] stops the process; dropping the client kills it.
pub struct DatabasePluginClient {
    process: Arc<PluginProcess>,
    client: DatabaseClient<Intercepted>,
    type_name: String,
    version: Option<String>,
    closed: AtomicBool,
}

impl std::fmt::Debug for DatabasePluginClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabasePluginClient")
            .field("plugin", &self.process.name)
            .field("pid", &self.process.pid())
            .field("type_name", &self.type_name)
            .field("version", &self.version)
            .finish()
    }
}

/// The text OpenBao's client gives an error of a call after the plugin process ended.
pub const PLUGIN_SHUTDOWN: &str = "plugin shutdown";

impl DatabasePluginClient {
    /// Starts the plugin `launcher` names as a database plugin (its handshake is set to
    /// [`DATABASE_HANDSHAKE`]): checks the binary's sha256 right before exec, reads the
    /// handshake line, dials it with mTLS and asks its `Type` and version. `server_version`
    /// is passed to the plugin as `VAULT_VERSION`/`BAO_VERSION`.
    pub async fn launch(
        launcher: PluginLauncher,
        server_version: &str,
    ) -> Result<DatabasePluginClient, DatabaseError> {
        let launcher = launcher.with_handshake(DATABASE_HANDSHAKE);
        let process =
            Arc::new(PluginProcess::connect(launcher.start(server_version).await?).await?);
        let mux = MultiplexId::random();
        let mut client = DatabaseClient::with_interceptor(process.channel.clone(), mux.clone())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
        let type_name = match tokio::time::timeout(TYPE_TIMEOUT, client.r#type(pb::Empty {})).await
        {
            Ok(Ok(r)) => r.into_inner().r#type,
            Ok(Err(s)) => {
                process.stop().await;
                return Err(DatabaseError::Failed(format!(
                    "error getting plugin type: unable to get database plugin type: {}",
                    PluginError::from(s)
                )));
            }
            Err(_) => {
                process.stop().await;
                return Err(DatabaseError::Failed(
                    "error getting plugin type: unable to get database plugin type: rpc error: code = DeadlineExceeded desc = context deadline exceeded"
                        .into(),
                ));
            }
        };
        let version = PluginVersionClient::with_interceptor(process.channel.clone(), mux)
            .version(logical::Empty {})
            .await
            .ok()
            .map(|r| r.into_inner().plugin_version)
            .filter(|v| !v.is_empty());
        tracing::debug!(
            plugin = %process.name,
            pid = ?process.pid(),
            r#type = %type_name,
            "database plugin started"
        );
        Ok(DatabasePluginClient {
            process,
            client,
            type_name,
            version,
            closed: AtomicBool::new(false),
        })
    }

    /// The plugin's type name, as `Type` answered at launch.
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// The plugin's own version, if it reports one.
    pub fn plugin_version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The process id while the process runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// Whether the process has ended (closed, killed or crashed).
    pub fn has_exited(&self) -> bool {
        self.process.has_exited()
    }

    /// The error of a failed call: [`PLUGIN_SHUTDOWN`] when the process is gone (OpenBao's
    /// `ErrPluginShutdown`), else `<what>: rpc error: ...`.
    async fn failure(&self, what: &str, status: Status) -> DatabaseError {
        let transport = matches!(
            status.code(),
            tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
        );
        if self.process.has_exited() || (transport && self.process.wait_exit(EXIT_PROBE).await) {
            return DatabaseError::Failed(PLUGIN_SHUTDOWN.into());
        }
        let invalid = status.code() == tonic::Code::InvalidArgument;
        let text = format!("{what}: {}", PluginError::from(status));
        if invalid {
            DatabaseError::Invalid(text)
        } else {
            DatabaseError::Failed(text)
        }
    }

    /// `Initialize`: hands the plugin the connection details; answers them as the plugin
    /// wants them stored.
    pub async fn initialize(
        &self,
        config: &JsonMap,
        verify_connection: bool,
    ) -> Result<JsonMap, DatabaseError> {
        let req = pb::InitializeRequest {
            config_data: Some(map_to_struct(config)),
            verify_connection,
        };
        match self.client.clone().initialize(req).await {
            Ok(r) => Ok(struct_to_map(r.into_inner().config_data)),
            // OpenBao's client does not check for a shutdown here.
            Err(s) => Err(DatabaseError::Failed(format!(
                "unable to initialize: {}",
                PluginError::from(s)
            ))),
        }
    }

    /// `NewUser`: creates a user; answers its name.
    pub async fn new_user(&self, req: NewUser) -> Result<String, DatabaseError> {
        let missing = match req.credential_type {
            CREDENTIAL_TYPE_PASSWORD => req
                .password
                .is_empty()
                .then_some("missing password credential"),
            CREDENTIAL_TYPE_RSA_PRIVATE_KEY => req
                .public_key
                .is_empty()
                .then_some("missing public key credential"),
            CREDENTIAL_TYPE_CLIENT_CERTIFICATE => req
                .subject
                .is_empty()
                .then_some("missing certificate subject"),
            _ => Some("unknown credential type"),
        };
        if let Some(m) = missing {
            return Err(DatabaseError::Invalid(m.into()));
        }
        let expiration = match &req.expiration {
            Some(t) => Some(timestamp(t).ok_or_else(|| {
                DatabaseError::Invalid(format!(
                    "unable to marshal expiration date: timestamp {t} out of range"
                ))
            })?),
            // Go's zero time, as OpenBao's client sends an unset expiry.
            None => Some(prost_types::Timestamp {
                seconds: -62_135_596_800,
                nanos: 0,
            }),
        };
        let rpc = pb::NewUserRequest {
            username_config: Some(pb::UsernameConfig {
                display_name: req.username_config.display_name.clone(),
                role_name: req.username_config.role_name.clone(),
            }),
            password: req.password.to_string(),
            expiration,
            statements: statements(&req.statements),
            rollback_statements: statements(&req.rollback_statements),
            credential_type: req.credential_type,
            public_key: req.public_key.clone(),
            subject: req.subject.clone(),
        };
        match self.client.clone().new_user(rpc).await {
            Ok(r) => Ok(r.into_inner().username),
            Err(s) => Err(self.failure("unable to create new user", s).await),
        }
    }

    /// `UpdateUser`: changes a user's password, public key or expiry (at least one).
    pub async fn update_user(&self, req: UpdateUser) -> Result<(), DatabaseError> {
        if req.username.is_empty() {
            return Err(DatabaseError::Invalid("missing username".into()));
        }
        let password = req
            .password
            .as_ref()
            .filter(|p| !p.new_password.is_empty())
            .map(|p| pb::ChangePassword {
                new_password: p.new_password.to_string(),
                statements: statements(&p.statements),
            });
        let public_key = req
            .public_key
            .as_ref()
            .filter(|k| !k.new_public_key.is_empty())
            .map(|k| pb::ChangePublicKey {
                new_public_key: k.new_public_key.clone(),
                statements: statements(&k.statements),
            });
        let expiration = match &req.expiration {
            None => None,
            Some(e) => Some(pb::ChangeExpiration {
                new_expiration: Some(timestamp(&e.new_expiration).ok_or_else(|| {
                    DatabaseError::Invalid(format!(
                        "unable to parse new expiration date: timestamp {} out of range",
                        e.new_expiration
                    ))
                })?),
                statements: statements(&e.statements),
            }),
        };
        if password.is_none() && public_key.is_none() && expiration.is_none() {
            return Err(DatabaseError::Invalid("missing changes".into()));
        }
        let rpc = pb::UpdateUserRequest {
            username: req.username.clone(),
            password,
            expiration,
            public_key,
            credential_type: req.credential_type,
        };
        match self.client.clone().update_user(rpc).await {
            Ok(_) => Ok(()),
            Err(s) => Err(self.failure("unable to update user", s).await),
        }
    }

    /// `DeleteUser`: drops a user.
    pub async fn delete_user(&self, req: DeleteUser) -> Result<(), DatabaseError> {
        if req.username.is_empty() {
            return Err(DatabaseError::Invalid("missing username".into()));
        }
        let rpc = pb::DeleteUserRequest {
            username: req.username.clone(),
            statements: statements(&req.statements),
        };
        match self.client.clone().delete_user(rpc).await {
            Ok(_) => Ok(()),
            Err(s) => Err(self.failure("unable to delete user", s).await),
        }
    }

    /// `Close`, then the process is stopped (`GRPCController.Shutdown`, killed if it has not
    /// exited after two seconds). Only the first call does anything; the answer is the
    /// plugin's `Close` result.
    pub async fn close(&self) -> Result<(), DatabaseError> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let result = if self.process.has_exited() {
            Err(DatabaseError::Failed(PLUGIN_SHUTDOWN.into()))
        } else {
            match tokio::time::timeout(CLOSE_TIMEOUT, self.client.clone().close(pb::Empty {})).await
            {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(s)) => Err(DatabaseError::Failed(PluginError::from(s).to_string())),
                Err(_) => Err(DatabaseError::Failed(
                    "rpc error: code = DeadlineExceeded desc = context deadline exceeded".into(),
                )),
            }
        };
        self.process.stop().await;
        tracing::debug!(plugin = %self.process.name, "database plugin stopped");
        result
    }
}
