//! External database plugins: a plugin binary registered in the plugin catalog as type
//! `database` (`sys/plugins/catalog/database/<name>`), run over OpenBao's database plugin
//! protocol v5 by `arca-plugin` and seen by the engine as any other [`Database`].
//!
//! The engine tries its builtin plugins first ([`crate::plugin::builtin`]), then
//! [`initialize_external`]. A process runs per connection; [`Database::close`] stops it
//! (`Close`, `GRPCController.Shutdown`, then a kill). When the process dies, the call that
//! meets it fails with `plugin shutdown`, as in OpenBao, and the next call starts the plugin
//! again with the connection details it was initialised with.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use arca_plugin::PluginLauncher;
use arca_plugin::database::{self as dbp, DatabaseError, DatabasePluginClient};
use arca_sdk::plugin_catalog::PluginRunner;
use arca_sdk::{JsonMap, SystemView};
use async_trait::async_trait;
use parking_lot::RwLock;
use zeroize::Zeroizing;

use crate::plugin::{
    Database, DbError, DeleteUserRequest, Initialized, NewUserRequest, UpdateUserRequest,
};

/// A plugin's error as the engine's.
fn db_error(e: DatabaseError) -> DbError {
    match e {
        DatabaseError::Invalid(m) => DbError::Invalid(m),
        DatabaseError::Failed(m) => DbError::Database(m),
        DatabaseError::Launch(e) => DbError::Database(e.to_string()),
    }
}

/// `name` as a `&'static str`: type names are few (one per plugin type), so each distinct
/// one is leaked once and reused.
fn interned(name: &str) -> &'static str {
    static NAMES: OnceLock<parking_lot::Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES.get_or_init(Default::default).lock();
    if let Some(n) = names.get(name) {
        return n;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.insert(leaked);
    leaked
}

/// Builds the database of `config/<name>` from the external database plugin registered as
/// `name` at `version` (empty: the unversioned registration) in the plugin catalog: launches
/// the binary (its sha256 checked right before exec) and calls `Initialize` with `config`,
/// connecting first when `verify` is set. `Ok(None)` when no such plugin is registered.
///
/// Errors carry the texts of OpenBao's database plugin client (`unable to initialize: rpc
/// error: ...`); the engine shows them as `error creating database object: <error>`.
pub async fn initialize_external(
    system: &dyn SystemView,
    name: &str,
    version: &str,
    config: JsonMap,
    verify: bool,
) -> Result<Option<Initialized>, DbError> {
    let Some(runner) = system
        .lookup_database_plugin(name, version)
        .await
        .map_err(|e| DbError::Invalid(e.to_string()))?
    else {
        return Ok(None);
    };
    let plugin = Plugin::new(runner, system.server_version());
    let client = plugin.start(&config, verify).await?;
    let stored = client.config;
    let database = ExternalDatabase {
        type_name: interned(client.db.type_name()),
        plugin,
        client: RwLock::new(Arc::new(client.db)),
        details: Zeroizing::new(serde_json::to_string(&stored).map_err(|e| {
            DbError::Database(format!("unable to keep the connection details: {e}"))
        })?),
        relaunch: tokio::sync::Mutex::new(()),
        closed: AtomicBool::new(false),
    };
    Ok(Some(Initialized {
        database: Arc::new(database),
        config: stored,
    }))
}

/// How to start the plugin of one connection.
struct Plugin {
    launcher: PluginLauncher,
    server_version: String,
}

/// A started and initialised plugin, and the details it answered.
struct Started {
    db: DatabasePluginClient,
    config: JsonMap,
}

impl Plugin {
    fn new(runner: PluginRunner, server_version: String) -> Plugin {
        Plugin {
            launcher: PluginLauncher::new(runner.command, runner.args, runner.env, runner.sha256),
            server_version,
        }
    }

    /// Launches the plugin and initialises it; a plugin that refuses the details is stopped.
    async fn start(&self, config: &JsonMap, verify: bool) -> Result<Started, DbError> {
        let db = DatabasePluginClient::launch(self.launcher.clone(), &self.server_version)
            .await
            .map_err(db_error)?;
        match db.initialize(config, verify).await {
            Ok(config) => Ok(Started { db, config }),
            Err(e) => {
                let _ = db.close().await;
                Err(db_error(e))
            }
        }
    }
}

/// An external plugin serving one connection.
struct ExternalDatabase {
    plugin: Plugin,
    type_name: &'static str,
    client: RwLock<Arc<DatabasePluginClient>>,
    /// The connection details the plugin was initialised with (JSON), for a restart.
    details: Zeroizing<String>,
    /// Restarts one at a time.
    relaunch: tokio::sync::Mutex<()>,
    closed: AtomicBool,
}

impl ExternalDatabase {
    /// The client of a running process: the current one, or, when its process has ended, a
    /// fresh one initialised with the same details (connecting first, as a connection the
    /// engine sets up again is).
    async fn client(&self) -> Result<Arc<DatabasePluginClient>, DbError> {
        let current = self.client.read().clone();
        if !current.has_exited() || self.closed.load(Ordering::SeqCst) {
            return Ok(current);
        }
        let _one = self.relaunch.lock().await;
        let current = self.client.read().clone();
        if !current.has_exited() {
            return Ok(current);
        }
        let details: JsonMap = serde_json::from_str(&self.details).map_err(|e| {
            DbError::Database(format!("unable to read the connection details: {e}"))
        })?;
        tracing::warn!(
            r#type = self.type_name,
            "database plugin process is gone; starting it again"
        );
        let fresh = Arc::new(self.plugin.start(&details, true).await?.db);
        *self.client.write() = fresh.clone();
        Ok(fresh)
    }
}

#[async_trait]
impl Database for ExternalDatabase {
    async fn new_user(&self, req: NewUserRequest) -> Result<String, DbError> {
        let new = dbp::NewUser {
            username_config: dbp::UsernameConfig {
                display_name: req.username_config.display_name,
                role_name: req.username_config.role_name,
            },
            credential_type: i32::try_from(req.credential_type.number()).unwrap_or(-1),
            password: req.password,
            public_key: req.public_key,
            subject: req.subject,
            expiration: Some(req.expiration),
            statements: req.statements,
            rollback_statements: req.rollback_statements,
        };
        self.client().await?.new_user(new).await.map_err(db_error)
    }

    async fn update_user(&self, req: UpdateUserRequest) -> Result<(), DbError> {
        let update = dbp::UpdateUser {
            username: req.username,
            credential_type: i32::try_from(req.credential_type.number()).unwrap_or(-1),
            password: req.password.map(|p| dbp::ChangePassword {
                new_password: p.new_password,
                statements: p.statements,
            }),
            public_key: req.public_key.map(|(key, s)| dbp::ChangePublicKey {
                new_public_key: key,
                statements: s,
            }),
            expiration: req.expiration.map(|e| dbp::ChangeExpiration {
                new_expiration: e.new_expiration,
                statements: e.statements,
            }),
        };
        self.client()
            .await?
            .update_user(update)
            .await
            .map_err(db_error)
    }

    async fn delete_user(&self, req: DeleteUserRequest) -> Result<(), DbError> {
        self.client()
            .await?
            .delete_user(dbp::DeleteUser {
                username: req.username,
                statements: req.statements,
            })
            .await
            .map_err(db_error)
    }

    fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// `Close`, then the process is stopped (killed if it does not exit).
    async fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let _wait_for_restart = self.relaunch.lock().await;
        let client = self.client.read().clone();
        if let Err(e) = client.close().await {
            tracing::debug!(r#type = self.type_name, error = %e, "database plugin close");
        }
    }
}
