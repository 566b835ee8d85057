//! Plugin reload, make before break: every new backend instance is built and initialised
//! while the old ones keep serving; only when all of them are ready are they swapped in, each
//! with one atomic store, so a request never waits and never fails. Requests already running
//! finish on the instance they started with; that instance is cleaned up once the last of
//! them lets go. A failed build changes nothing, and a list of mounts is all or nothing.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arca_sdk::LogicalError;
use arca_sdk::error::multierror;
use arca_sdk::plugin_catalog::PluginType;
use parking_lot::Mutex;

use crate::catalog::{Catalog, is_singleton_type};
use crate::mount_store::MountStore;
use crate::mounts::{MountEntry, TableKind};
use crate::router::{BackendHandle, RouteEntry};

/// How many reload results `sys/plugins/reload/backend/status` remembers.
const KEPT_RELOADS: usize = 128;
/// How long a replaced instance may stay busy before it is cleaned up anyway.
const DRAIN_LIMIT: Duration = Duration::from_secs(600);

/// What to reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadTarget {
    /// Every mount running the plugin `name` (of `plugin_type`, or any when `None`).
    Plugin {
        /// The catalog name.
        name: String,
        /// Restricts the mounts to one type (Vault's `sys/plugins/reload/:type/:name`).
        plugin_type: Option<PluginType>,
    },
    /// The mounts covering these paths (longest prefix; `auth/x/` or `sys/auth/x/` for auth
    /// methods).
    Mounts(Vec<String>),
}

/// A finished reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadOutcome {
    /// The reload's id (the request id).
    pub reload_id: String,
    /// Route paths of the mounts reloaded (`secret/`, `auth/approle/`).
    pub mounts: Vec<String>,
}

/// What this node remembers of one reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadStatus {
    /// The reload's id.
    pub reload_id: String,
    /// The node that ran it.
    pub node: String,
    /// When it finished.
    pub timestamp: chrono::DateTime<chrono::Utc>,
    /// Empty on success, else the reason.
    pub error: String,
}

/// Recent reload results, newest last.
#[derive(Default)]
pub(crate) struct ReloadLog {
    entries: Mutex<VecDeque<ReloadStatus>>,
}

impl ReloadLog {
    fn record(&self, status: ReloadStatus) {
        let mut e = self.entries.lock();
        if e.len() >= KEPT_RELOADS {
            e.pop_front();
        }
        e.push_back(status);
    }

    fn find(&self, id: &str) -> Option<ReloadStatus> {
        self.entries
            .lock()
            .iter()
            .rev()
            .find(|s| s.reload_id == id)
            .cloned()
    }
}

/// This node's name in reload results: the host name.
pub fn node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "localhost".to_string())
}

/// A mount path as the reload API takes it: `sys/auth/x` → `auth/x/`, always with a slash.
fn normalize_reload_path(p: &str) -> String {
    let p = p.trim_start_matches('/');
    let p = match p.strip_prefix("sys/auth/") {
        Some(rest) => format!("auth/{rest}"),
        None => p.to_string(),
    };
    if p.ends_with('/') { p } else { format!("{p}/") }
}

/// Cleans `old` up once no request holds it any more (or after [`DRAIN_LIMIT`]).
fn retire(route: String, old: Arc<BackendHandle>) {
    let cleanup = async move {
        let start = Instant::now();
        let mut pause = Duration::from_millis(1);
        while Arc::strong_count(&old) > 1 {
            if start.elapsed() > DRAIN_LIMIT {
                tracing::warn!(mount = %route, "reload: replaced backend still busy, cleaning it up anyway");
                break;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
        old.backend.cleanup().await;
        tracing::debug!(mount = %route, "reload: replaced backend cleaned up");
    };
    match tokio::runtime::Handle::try_current() {
        Ok(h) => {
            h.spawn(cleanup);
        }
        Err(_) => tracing::warn!("reload: no runtime to clean the replaced backend up"),
    }
}

impl ReloadLog {
    /// Reloads the backends `target` names and records the result under `reload_id`.
    pub(crate) async fn reload_plugins(
        &self,
        mounts: &MountStore,
        catalog: &Catalog,
        reload_id: &str,
        target: ReloadTarget,
    ) -> Result<ReloadOutcome, LogicalError> {
        let result = reload_now(mounts, catalog, target).await;
        self.record(ReloadStatus {
            reload_id: reload_id.to_string(),
            node: node_name(),
            timestamp: chrono::Utc::now(),
            error: match &result {
                Ok(_) => String::new(),
                Err(e) => e.to_string(),
            },
        });
        let mounts = result?;
        tracing::info!(reload_id, mounts = ?mounts, "reload: backends reloaded");
        Ok(ReloadOutcome {
            reload_id: reload_id.to_string(),
            mounts,
        })
    }

    /// The recorded result of the reload `reload_id`, if this node still has it.
    pub(crate) fn reload_status(&self, reload_id: &str) -> Option<ReloadStatus> {
        self.find(reload_id)
    }
}

/// The routes `target` names, or the error OpenBao gives.
fn reload_routes(
    mounts: &MountStore,
    catalog: &Catalog,
    target: &ReloadTarget,
) -> Result<Vec<(String, Arc<RouteEntry>)>, LogicalError> {
    match target {
        ReloadTarget::Plugin { name, plugin_type } => {
            if is_singleton_type(name) {
                return Err(LogicalError::bad_request(format!(
                    "singleton plugin cannot be reloaded: {name:?}"
                )));
            }
            let types: Vec<PluginType> = catalog
                .plugin_types_of(name)
                .into_iter()
                .filter(|t| plugin_type.is_none_or(|want| want == *t))
                .collect();
            if types.is_empty() {
                return Err(LogicalError::bad_request(format!(
                    "plugin not found in the catalog: {name:?}"
                )));
            }
            let reloadable = |t: &PluginType| matches!(t, PluginType::Secret | PluginType::Auth);
            if plugin_type.is_none() && !types.iter().any(reloadable) {
                return Err(LogicalError::bad_request(format!(
                    "plugin {name:?} cannot be reloaded, only plugins of type auth and secret can be reloaded"
                )));
            }
            let mut out = Vec::new();
            for (table, t) in [
                (TableKind::Mounts, PluginType::Secret),
                (TableKind::Auth, PluginType::Auth),
            ] {
                if !types.contains(&t) {
                    continue;
                }
                for (path, route) in mounts.router().all() {
                    let m = route.mount.load();
                    if m.table == table && m.kind == *name {
                        out.push((path, route.clone()));
                    }
                }
            }
            Ok(out)
        }
        ReloadTarget::Mounts(paths) => {
            let mut errors = Vec::new();
            let mut out: Vec<(String, Arc<RouteEntry>)> = Vec::new();
            for raw in paths {
                let p = normalize_reload_path(raw);
                let Some((mount_path, route)) = mounts.router().route(&p) else {
                    errors.push(format!("cannot fetch mount entry on {p:?}"));
                    continue;
                };
                let m = route.mount.load();
                if m.is_singleton() {
                    errors.push(format!(
                        "cannot reload plugin on {p:?}: singleton plugin cannot be reloaded: {:?}",
                        m.kind
                    ));
                    continue;
                }
                if !out.iter().any(|(q, _)| *q == mount_path) {
                    out.push((mount_path, route.clone()));
                }
            }
            if !errors.is_empty() {
                return Err(LogicalError::bad_request(multierror(&errors)));
            }
            Ok(out)
        }
    }
}

/// Builds every replacement, then swaps them all in; returns the reloaded route paths.
async fn reload_now(
    mounts: &MountStore,
    catalog: &Catalog,
    target: ReloadTarget,
) -> Result<Vec<String>, LogicalError> {
    // Mount-table changes (enable, disable, tune, move) wait; requests do not.
    let _guard = mounts.lock().await;
    let routes = reload_routes(mounts, catalog, &target)?;

    let mut built = Vec::with_capacity(routes.len());
    for (path, route) in &routes {
        let entry = route.mount.load_full();
        match mounts.build_backend_running(&entry, route).await {
            Ok((handle, running)) => built.push((path.clone(), route.clone(), handle, running)),
            Err(e) => {
                // Nothing was swapped: throw the instances built so far away.
                for (_, _, handle, _) in built {
                    handle.backend.cleanup().await;
                }
                tracing::warn!(mount = %path, error = %e, "reload: failed; the running backends keep serving");
                return Err(LogicalError::bad_request(multierror(&[format!(
                    "cannot reload plugin on {path:?}: {e}"
                )])));
            }
        }
    }

    let mut changed_tables = Vec::new();
    let mut reloaded = Vec::with_capacity(built.len());
    for (path, route, handle, running) in built {
        let old = route.backend.swap(Arc::new(handle));
        let mut entry = (*route.mount.load_full()).clone();
        if running.apply(&mut entry) {
            if !changed_tables
                .iter()
                .any(|(e, t): &(MountEntry, TableKind)| {
                    *t == entry.table && e.namespace_id == entry.namespace_id
                })
            {
                changed_tables.push((entry.clone(), entry.table));
            }
            route.mount.store(Arc::new(entry));
        }
        retire(path.clone(), old);
        reloaded.push(path);
    }
    for (entry, table) in changed_tables {
        if let Err(e) = mounts.persist_table_of(&entry, table).await {
            tracing::warn!(error = %e, "reload: could not persist the running plugin versions");
        }
    }
    Ok(reloaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reload_paths_are_normalized_as_openbao_does() {
        assert_eq!(normalize_reload_path("secret"), "secret/");
        assert_eq!(normalize_reload_path("secret/"), "secret/");
        assert_eq!(
            normalize_reload_path("sys/auth/approle2/"),
            "auth/approle2/"
        );
        assert_eq!(normalize_reload_path("sys/auth/token"), "auth/token/");
        assert_eq!(
            normalize_reload_path("auth/approle/login"),
            "auth/approle/login/"
        );
    }

    #[test]
    fn the_log_keeps_the_newest() {
        let log = ReloadLog::default();
        for i in 0..(KEPT_RELOADS + 5) {
            log.record(ReloadStatus {
                reload_id: format!("r{i}"),
                node: "n".into(),
                timestamp: chrono::Utc::now(),
                error: String::new(),
            });
        }
        assert!(log.find("r0").is_none());
        assert!(log.find(&format!("r{}", KEPT_RELOADS + 4)).is_some());
    }
}
