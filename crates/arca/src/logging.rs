//! The server's log: a filter that `sys/loggers` changes while the server runs, over Vault's
//! logger names mapped to Arca's crates and modules.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use arca_core::server_info::LoggerError;
use arca_sdk::body_stream::Chunks;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

/// Vault's logger names (the ones Arca has a counterpart for) and the tracing target each
/// covers. A more specific target wins over its parent's, as in the filter.
const LOGGERS: &[(&str, &str)] = &[
    ("audit", "arca_core::audit"),
    ("core", "arca_core"),
    ("core.cluster-listener", "arca::cluster"),
    ("expiration", "arca_core::leases"),
    ("http", "arca_http"),
    ("identity", "arca_core::identity"),
    ("namespace", "arca_core::namespaces"),
    ("plugin", "arca_plugin"),
    ("policy", "arca_core::policy_store"),
    ("secrets.database", "arca_database"),
    ("secrets.kv", "arca_engines"),
    ("secrets.pki", "arca_pki"),
    ("secrets.transit", "arca_transit"),
    ("auth.cert", "arca_auth_cert"),
    ("auth.jwt", "arca_auth_jwt"),
    ("auth.kubernetes", "arca_auth_kubernetes"),
    ("auth", "arca_auth"),
    ("storage", "arca_storage"),
    ("storage.postgresql", "arca_storage_postgresql"),
    ("storage.raft", "arca_raft"),
    ("token", "arca_core::token_store"),
];

/// Libraries kept at WARN whatever the level (their debug logs are per-frame noise).
const QUIET: &[&str] = &["hyper", "h2", "rustls", "openraft"];

/// Whether `target` is one of the [`QUIET`] libraries' (or their modules').
fn is_quiet(target: &str) -> bool {
    QUIET.iter().any(|lib| within(target, lib))
}

/// Whether `target` is `parent` or one of its modules.
fn within(target: &str, parent: &str) -> bool {
    target
        .strip_prefix(parent)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

/// The Vault logger name of `target`: the logger whose target is the most specific one holding
/// it; `None` for the targets no logger names.
fn logger_of(target: &str) -> Option<&'static str> {
    LOGGERS
        .iter()
        .filter(|(_, t)| within(target, t))
        .max_by_key(|(_, t)| t.len())
        .map(|(name, _)| *name)
}

/// The levels hclog knows, as `sys/loggers` names them.
fn parse_level(level: &str) -> Result<&'static str, LoggerError> {
    Ok(match level.trim().to_ascii_lowercase().as_str() {
        "trace" => "trace",
        "debug" => "debug",
        "info" => "info",
        "warn" | "warning" => "warn",
        "error" => "error",
        "off" => "off",
        _ => return Err(LoggerError::InvalidLevel(level.to_string())),
    })
}

/// A parsed level as a filter.
fn level_filter(level: &str) -> LevelFilter {
    level.parse().unwrap_or(LevelFilter::INFO)
}

/// The live levels, and the handle that swaps the filter.
pub(crate) struct Logging {
    /// The level the server was started with (`DELETE sys/loggers` returns to it).
    base: &'static str,
    levels: Mutex<BTreeMap<&'static str, &'static str>>,
    handle: reload::Handle<EnvFilter, Registry>,
    /// The open `sys/monitor` streams.
    monitors: Arc<crate::log_monitor::Monitors>,
}

impl Logging {
    /// Installs the process's subscriber at `level` (an unknown level means `info`).
    pub(crate) fn init(level: &str) -> Logging {
        let base = parse_level(level).unwrap_or("info");
        let levels: BTreeMap<_, _> = LOGGERS.iter().map(|(name, _)| (*name, base)).collect();
        let filter = filter_for(base, &levels);
        let (filter, handle) = reload::Layer::new(filter);
        let monitors = Arc::new(crate::log_monitor::Monitors::default());
        // Each layer filters on its own: a monitor at DEBUG sees DEBUG events the server's
        // own log, at INFO, leaves out.
        let _ = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_target(false)
                    .with_filter(filter),
            )
            .with(
                crate::log_monitor::MonitorLayer::new(monitors.clone(), logger_of).with_filter(
                    crate::log_monitor::MonitorFilter::new(monitors.clone(), is_quiet),
                ),
            )
            .try_init();
        Logging {
            base,
            levels: Mutex::new(levels),
            handle,
            monitors,
        }
    }

    /// A stream of the log at `level` from now on, as hclog's standard lines or JSON
    /// (`sys/monitor`); it ends when dropped.
    pub(crate) fn monitor(&self, level: &str, json: bool) -> Result<Chunks, LoggerError> {
        let level = parse_level(level)?;
        Ok(self.monitors.open(level_filter(level), json))
    }

    /// Every logger and its level.
    pub(crate) fn loggers(&self) -> BTreeMap<String, String> {
        self.levels
            .lock()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sets `level` on `name` (`None`: every logger).
    pub(crate) fn set(&self, name: Option<&str>, level: &str) -> Result<(), LoggerError> {
        let level = parse_level(level)?;
        self.change(name, level)
    }

    /// Returns `name` (`None`: every logger) to the level the server started with.
    pub(crate) fn reset(&self, name: Option<&str>) -> Result<(), LoggerError> {
        self.change(name, self.base)
    }

    fn change(&self, name: Option<&str>, level: &'static str) -> Result<(), LoggerError> {
        let Ok(mut levels) = self.levels.lock() else {
            return Ok(());
        };
        match name {
            None => levels.values_mut().for_each(|l| *l = level),
            Some(name) => match levels.get_mut(name) {
                Some(l) => *l = level,
                None => return Err(LoggerError::NotFound(name.to_string())),
            },
        }
        // Targets no logger names follow the level every logger shares, else the base.
        let all_same = levels.values().all(|l| *l == level);
        let default = if name.is_none() || all_same {
            level
        } else {
            self.base
        };
        let filter = filter_for(default, &levels);
        if let Err(e) = self.handle.reload(filter) {
            tracing::warn!(error = %e, "logging: could not change the log filter");
        }
        Ok(())
    }
}

/// The filter: `default` for every target, each logger's level for its target, libraries kept
/// quiet.
fn filter_for(default: &str, levels: &BTreeMap<&'static str, &'static str>) -> EnvFilter {
    let mut directives = default.to_string();
    for lib in QUIET {
        directives.push_str(&format!(",{lib}=warn"));
    }
    for (name, target) in LOGGERS {
        if let Some(level) = levels.get(name) {
            directives.push_str(&format!(",{target}={level}"));
        }
    }
    EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("info"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_as_hclog() {
        assert_eq!(parse_level("WARNING").unwrap(), "warn");
        assert_eq!(
            parse_level("bogus").unwrap_err().to_string(),
            "invalid level provided: unknown log level: bogus"
        );
    }

    #[test]
    fn targets_map_to_the_most_specific_logger() {
        assert_eq!(logger_of("arca_core::audit::broker"), Some("audit"));
        assert_eq!(logger_of("arca_core::seal_ops"), Some("core"));
        assert_eq!(logger_of("arca_core_extra"), None);
        assert_eq!(logger_of("arca_auth_jwt::oidc"), Some("auth.jwt"));
        assert!(is_quiet("hyper::proto::h1") && !is_quiet("hyperx"));
    }

    #[test]
    fn the_filter_names_every_logger() {
        let levels: BTreeMap<_, _> = LOGGERS.iter().map(|(n, _)| (*n, "debug")).collect();
        let text = filter_for("info", &levels).to_string();
        assert!(text.contains("arca_core::audit=debug"), "{text}");
    }
}
