//! The `database` secrets engine as OpenBao 2.7.2 has it: connections (`config/<name>`), roles
//! that create users on demand under a lease (`roles/`, `creds/`), static roles whose password
//! is rotated on a schedule (`static-roles/`, `static-creds/`, `rotate-role/`), root rotation
//! (`rotate-root/`) and `reset/`. Databases are reached through plugins behind
//! [`plugin::Database`]: PostgreSQL, MySQL/MariaDB (and its aurora/rds/legacy names) and
//! Redis/Valkey are builtin.

mod config;
pub mod connection;
pub mod credentials;
mod creds;
pub mod external;
pub mod mysql;
pub mod plugin;
pub mod postgres;
pub mod redis;
mod roles;
mod rotation;
mod state;
pub mod statements;

use std::sync::Arc;

use arca_sdk::framework::FrameworkBackend;
use arca_sdk::{
    Backend, BackendConfig, BackendType, ExistenceCheck, Factory, LogicalError, Request, Response,
    SpecialPaths,
};
use async_trait::async_trait;
use futures::FutureExt;
use parking_lot::Mutex;

use state::State;

/// The engine of one mount: OpenBao's paths over the framework, plus the static-role rotation
/// task that lives as long as the mount.
struct DatabaseBackend {
    inner: FrameworkBackend,
    state: Arc<State>,
    rotation_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

#[async_trait]
impl Backend for DatabaseBackend {
    async fn handle_request(&self, req: Request) -> Result<Option<Response>, LogicalError> {
        self.inner.handle_request(req).await
    }

    async fn handle_existence_check(&self, req: &Request) -> Result<ExistenceCheck, LogicalError> {
        self.inner.handle_existence_check(req).await
    }

    fn special_paths(&self) -> SpecialPaths {
        SpecialPaths {
            local_storage: vec!["wal/".into()],
            seal_wrap_storage: vec!["config/*".into(), "static-role/*".into()],
            ..SpecialPaths::default()
        }
    }

    fn backend_type(&self) -> BackendType {
        BackendType::Logical
    }

    async fn initialize(&self) -> Result<(), LogicalError> {
        rotation::populate(&self.state).await?;
        let task = tokio::spawn(rotation::run(Arc::downgrade(&self.state)));
        if let Some(old) = self.rotation_task.lock().replace(task) {
            old.abort();
        }
        Ok(())
    }

    async fn cleanup(&self) {
        if let Some(task) = self.rotation_task.lock().take() {
            task.abort();
        }
        self.state.close_all().await;
    }

    async fn invalidate(&self, key: &str) {
        if let Some(name) = key.strip_prefix(state::CONFIG_PREFIX) {
            self.state.clear_connection(name).await;
        }
    }
}

fn backend(config: BackendConfig) -> DatabaseBackend {
    let state = Arc::new(State::new(config.system, config.storage));
    let creds_secret = creds::creds_type(state.clone());
    let mut inner = FrameworkBackend::new(
        BackendType::Logical,
        "The database backend supports using many different databases as secret backends, including but not limited to: mysql, postgres, redis.\n\nAfter mounting this backend, configure it using the endpoints within the \"database/config/\" path.",
    )
    .secret(creds_secret.clone())
    .path(config::list_path())
    .path(config::config_path(state.clone()))
    .path(config::reset_path(state.clone()));
    for p in roles::list_paths() {
        inner = inner.path(p);
    }
    inner = inner
        .path(roles::role_path())
        .path(roles::static_role_path(state.clone()))
        .path(creds::creds_path(state.clone(), creds_secret))
        .path(creds::static_creds_path())
        .path(config::rotate_root_path(state.clone()))
        .path(creds::rotate_role_path(state.clone()));
    DatabaseBackend {
        inner,
        state,
        rotation_task: Mutex::new(None),
    }
}

/// The factory registered as the builtin secrets engine type `database`.
pub fn factory() -> Factory {
    Arc::new(|config: BackendConfig| {
        async move { Ok(Arc::new(backend(config)) as Arc<dyn Backend>) }.boxed()
    })
}
