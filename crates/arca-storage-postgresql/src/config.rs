//! The settings of a `storage "postgresql" { ... }` stanza, parsed and checked the way
//! OpenBao's `NewPostgreSQLBackend` reads them (`internal/physical/postgresql/postgresql.go`).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use arca_storage::StorageError;

/// The data table when `table` is not set.
pub const DEFAULT_TABLE: &str = "openbao_kv_store";
/// The lock table when neither `ha_table` nor the older `haTable` is set.
pub const DEFAULT_HA_TABLE: &str = "openbao_ha_locks";
/// Connections to PostgreSQL when `max_parallel` is not set (OpenBao's
/// `physical.DefaultParallelOperations`).
pub const DEFAULT_MAX_PARALLEL: usize = 128;
/// Concurrent transactions when `transaction_max_parallel` is not set (OpenBao's
/// `physical.DefaultParallelTransactions`).
pub const DEFAULT_TRANSACTION_MAX_PARALLEL: usize = 64;
/// Connection attempts at start when `max_connect_retries` is not set.
pub const DEFAULT_MAX_CONNECT_RETRIES: u32 = 1;
/// The environment variable that overrides `connection_url` (`VAULT_PG_CONNECTION_URL` is read
/// when it is absent).
pub const CONNECTION_URL_ENV: &str = "BAO_PG_CONNECTION_URL";
/// The upstream name of [`CONNECTION_URL_ENV`].
pub const CONNECTION_URL_ENV_UPSTREAM: &str = "VAULT_PG_CONNECTION_URL";

/// How long one connection attempt may take when the URL sets no `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The settings of a `storage "postgresql"` stanza, checked. `Debug` never shows the password.
#[derive(Clone)]
pub struct PostgresConfig {
    /// The parsed connection URL (holds the password).
    pub(crate) pg: tokio_postgres::Config,
    /// Scrubs the URL and its password out of error texts.
    pub(crate) redactor: Arc<Redactor>,
    /// The data table's name, unquoted (`table`).
    pub table: String,
    /// The lock table's name, unquoted (`ha_table`).
    pub ha_table: String,
    /// Whether the HA lock is offered (`ha_enabled`).
    pub ha_enabled: bool,
    /// The most connections to PostgreSQL at once (`max_parallel`).
    pub max_parallel: usize,
    /// The most [`arca_storage::PhysicalBackend::transaction`] calls at once
    /// (`transaction_max_parallel`).
    pub transaction_max_parallel: usize,
    /// The most idle connections kept open (`max_idle_connections`); `None` keeps every one up to
    /// `max_parallel`.
    pub max_idle_connections: Option<usize>,
    /// Connection attempts at start, `0` for no limit (`max_connect_retries`).
    pub max_connect_retries: u32,
    /// Whether the tables are left for an operator to create (`skip_create_table`).
    pub skip_create_table: bool,
}

impl fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("target", &target_of(&self.pg))
            .field("table", &self.table)
            .field("ha_table", &self.ha_table)
            .field("ha_enabled", &self.ha_enabled)
            .field("max_parallel", &self.max_parallel)
            .field("transaction_max_parallel", &self.transaction_max_parallel)
            .field("max_idle_connections", &self.max_idle_connections)
            .field("max_connect_retries", &self.max_connect_retries)
            .field("skip_create_table", &self.skip_create_table)
            .finish()
    }
}

impl PostgresConfig {
    /// Parses a stanza's settings, reading `BAO_PG_CONNECTION_URL` (or, when that variable is
    /// absent, `VAULT_PG_CONNECTION_URL`) from the environment: when non-empty it replaces
    /// `connection_url`, as in OpenBao.
    pub fn from_map(conf: &HashMap<String, String>) -> Result<Self, StorageError> {
        Self::from_map_with_env(conf, |name| std::env::var(name).ok())
    }

    /// [`PostgresConfig::from_map`] with the environment read through `env`.
    pub fn from_map_with_env(
        conf: &HashMap<String, String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, StorageError> {
        // A present BAO_ variable wins even when empty; only a non-empty value overrides.
        let from_env = env(CONNECTION_URL_ENV).or_else(|| env(CONNECTION_URL_ENV_UPSTREAM));
        let url = match from_env.filter(|u| !u.is_empty()) {
            Some(url) => url,
            None => conf.get("connection_url").cloned().unwrap_or_default(),
        };
        if url.trim().is_empty() {
            return Err(config_error(format!(
                "connection_url must be set for postgresql storage (or the {CONNECTION_URL_ENV} \
                 environment variable)"
            )));
        }
        let mut redactor = Redactor::new();
        redactor.add(&url);
        // Until the URL is parsed its password is unknown: a parse error names no part of it.
        let mut pg = tokio_postgres::Config::from_str(&url).map_err(|e| {
            config_error(redactor.scrub(format!("failed parsing connection_url: {e}")))
        })?;
        if let Some(password) = pg.get_password() {
            redactor.add(&String::from_utf8_lossy(password));
        }
        if pg.get_application_name().is_none() {
            pg.application_name("arca");
        }
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(CONNECT_TIMEOUT);
        }

        let table = identifier(conf, &["table"], DEFAULT_TABLE)?;
        let ha_table = identifier(conf, &["ha_table", "haTable"], DEFAULT_HA_TABLE)?;
        let ha_enabled = boolean(conf, "ha_enabled")?;
        let skip_create_table = boolean(conf, "skip_create_table")?;

        let max_parallel = match integer(conf, "max_parallel")? {
            None => DEFAULT_MAX_PARALLEL,
            Some(n) if n >= 1 => usize::try_from(n).unwrap_or(usize::MAX),
            Some(n) => {
                return Err(config_error(format!(
                    "max_parallel must be at least 1, got {n}"
                )));
            }
        };
        // OpenBao's permit pool falls back to 128 permits below 1.
        let transaction_max_parallel = match integer(conf, "transaction_max_parallel")? {
            None => DEFAULT_TRANSACTION_MAX_PARALLEL,
            Some(n) if n >= 1 => usize::try_from(n).unwrap_or(usize::MAX),
            Some(_) => DEFAULT_MAX_PARALLEL,
        };
        // Go's SetMaxIdleConns: zero or less keeps no idle connection.
        let max_idle_connections = integer(conf, "max_idle_connections")?
            .map(|n| usize::try_from(n.max(0)).unwrap_or(usize::MAX));
        let max_connect_retries = match integer(conf, "max_connect_retries")? {
            None => DEFAULT_MAX_CONNECT_RETRIES,
            Some(n) => u32::try_from(n).map_err(|_| {
                config_error(format!(
                    "max_connect_retries must be between 0 and {}, got {n}",
                    u32::MAX
                ))
            })?,
        };
        if conf.contains_key("upsert_function") {
            tracing::warn!(
                "postgresql storage: upsert_function is ignored (OpenBao dropped it in 2.4.0)"
            );
        }

        Ok(Self {
            pg,
            redactor: Arc::new(redactor),
            table,
            ha_table,
            ha_enabled,
            max_parallel,
            transaction_max_parallel,
            max_idle_connections,
            max_connect_retries,
            skip_create_table,
        })
    }

    /// `user=... host=... database=...`, for logs and error texts; never the password.
    pub fn target(&self) -> String {
        target_of(&self.pg)
    }
}

fn config_error(msg: String) -> StorageError {
    StorageError::Config(msg)
}

fn target_of(pg: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = pg
        .get_hosts()
        .iter()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    format!(
        "user={} host={} database={}",
        pg.get_user().unwrap_or_default(),
        hosts.join(","),
        pg.get_dbname().unwrap_or_default()
    )
}

/// A table name: the first of `keys` that is set, else `default`. It is quoted into SQL as one
/// identifier, so any text goes except the empty string and NUL.
fn identifier(
    conf: &HashMap<String, String>,
    keys: &[&str],
    default: &str,
) -> Result<String, StorageError> {
    let Some((key, value)) = keys
        .iter()
        .find_map(|k| conf.get(*k).map(|v| (*k, v.clone())))
    else {
        return Ok(default.to_owned());
    };
    if value.is_empty() {
        return Err(config_error(format!("{key} must not be empty")));
    }
    if value.contains('\0') {
        return Err(config_error(format!("{key} must not contain a NUL byte")));
    }
    Ok(value)
}

/// `key` as a boolean (`false` when unset), accepting Go's `strconv.ParseBool` spellings.
fn boolean(conf: &HashMap<String, String>, key: &str) -> Result<bool, StorageError> {
    match conf.get(key).map(|v| v.trim()) {
        None | Some("") => Ok(false),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
        Some(other) => Err(config_error(format!(
            "failed to parse value for {key}: {other:?} is not a boolean (true or false)"
        ))),
    }
}

/// `key` as an integer, `None` when unset.
fn integer(conf: &HashMap<String, String>, key: &str) -> Result<Option<i64>, StorageError> {
    conf.get(key)
        .map(|v| {
            v.trim().parse::<i64>().map_err(|_| {
                config_error(format!(
                    "failed parsing {key} parameter: {v:?} is not an integer"
                ))
            })
        })
        .transpose()
}

/// Removes secrets (the connection URL, its password) from texts that leave the crate.
#[derive(Default)]
pub(crate) struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    fn new() -> Self {
        Self::default()
    }

    fn add(&mut self, secret: &str) {
        if !secret.is_empty() {
            self.secrets.push(secret.to_owned());
            // Longest first, so the URL goes before the password inside it.
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// `text` with every secret replaced by `<redacted>`.
    pub(crate) fn scrub(&self, mut text: String) -> String {
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "<redacted>");
            }
        }
        text
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    fn conf(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<PostgresConfig, StorageError> {
        PostgresConfig::from_map_with_env(&conf(pairs), no_env)
    }

    fn config_message(pairs: &[(&str, &str)]) -> String {
        match parse(pairs) {
            Err(StorageError::Config(msg)) => msg,
            Err(other) => panic!("expected a config error, got {other}"),
            Ok(cfg) => panic!("expected a config error, got {cfg:?}"),
        }
    }

    const URL: &str = "postgres://arca:s3cr3t-pw@db.example:5432/vault?sslmode=disable";

    #[test]
    fn defaults_are_openbao_s() {
        let cfg = parse(&[("connection_url", URL)]).unwrap();
        assert_eq!(cfg.table, "openbao_kv_store");
        assert_eq!(cfg.ha_table, "openbao_ha_locks");
        assert!(!cfg.ha_enabled);
        assert_eq!(cfg.max_parallel, 128);
        assert_eq!(cfg.transaction_max_parallel, 64);
        assert_eq!(cfg.max_idle_connections, None);
        assert_eq!(cfg.max_connect_retries, 1);
        assert!(!cfg.skip_create_table);
        assert_eq!(cfg.target(), "user=arca host=db.example database=vault");
    }

    #[test]
    fn every_key_is_read() {
        let cfg = parse(&[
            ("connection_url", URL),
            ("table", "My Table"),
            ("ha_table", "locks"),
            ("ha_enabled", "true"),
            ("max_parallel", "7"),
            ("transaction_max_parallel", "3"),
            ("max_idle_connections", "2"),
            ("max_connect_retries", "0"),
            ("skip_create_table", "1"),
        ])
        .unwrap();
        assert_eq!(cfg.table, "My Table");
        assert_eq!(cfg.ha_table, "locks");
        assert!(cfg.ha_enabled);
        assert_eq!(cfg.max_parallel, 7);
        assert_eq!(cfg.transaction_max_parallel, 3);
        assert_eq!(cfg.max_idle_connections, Some(2));
        assert_eq!(cfg.max_connect_retries, 0);
        assert!(cfg.skip_create_table);
    }

    #[test]
    fn older_ha_table_spelling_and_go_edge_cases() {
        let cfg = parse(&[
            ("connection_url", URL),
            ("haTable", "old_locks"),
            ("transaction_max_parallel", "0"),
            ("max_idle_connections", "-1"),
        ])
        .unwrap();
        assert_eq!(cfg.ha_table, "old_locks");
        assert_eq!(cfg.transaction_max_parallel, 128);
        assert_eq!(cfg.max_idle_connections, Some(0));
        // ha_table wins over haTable.
        let cfg = parse(&[
            ("connection_url", URL),
            ("haTable", "old"),
            ("ha_table", "new"),
        ])
        .unwrap();
        assert_eq!(cfg.ha_table, "new");
    }

    #[test]
    fn connection_url_is_required() {
        for pairs in [
            &[][..],
            &[("connection_url", "")][..],
            &[("connection_url", "  ")][..],
        ] {
            assert_eq!(
                config_message(pairs),
                "connection_url must be set for postgresql storage (or the \
                 BAO_PG_CONNECTION_URL environment variable)"
            );
        }
    }

    #[test]
    fn environment_overrides_connection_url() {
        let cfg = PostgresConfig::from_map_with_env(&conf(&[("connection_url", URL)]), |name| {
            (name == "BAO_PG_CONNECTION_URL").then(|| "postgres://envuser@envhost/envdb".into())
        })
        .unwrap();
        assert_eq!(cfg.target(), "user=envuser host=envhost database=envdb");

        let cfg = PostgresConfig::from_map_with_env(&HashMap::new(), |name| {
            (name == "VAULT_PG_CONNECTION_URL").then(|| "postgres://up@uphost/updb".into())
        })
        .unwrap();
        assert_eq!(cfg.target(), "user=up host=uphost database=updb");

        // A BAO_ variable set but empty hides the VAULT_ one and does not override the file.
        let cfg =
            PostgresConfig::from_map_with_env(
                &conf(&[("connection_url", URL)]),
                |name| match name {
                    "BAO_PG_CONNECTION_URL" => Some(String::new()),
                    _ => Some("postgres://up@uphost/updb".into()),
                },
            )
            .unwrap();
        assert_eq!(cfg.target(), "user=arca host=db.example database=vault");
    }

    #[test]
    fn bad_values_name_the_key() {
        assert_eq!(
            config_message(&[("connection_url", URL), ("max_parallel", "lots")]),
            "failed parsing max_parallel parameter: \"lots\" is not an integer"
        );
        assert_eq!(
            config_message(&[("connection_url", URL), ("max_parallel", "0")]),
            "max_parallel must be at least 1, got 0"
        );
        assert_eq!(
            config_message(&[("connection_url", URL), ("max_idle_connections", "1.5")]),
            "failed parsing max_idle_connections parameter: \"1.5\" is not an integer"
        );
        assert_eq!(
            config_message(&[("connection_url", URL), ("max_connect_retries", "-2")]),
            "max_connect_retries must be between 0 and 4294967295, got -2"
        );
        assert_eq!(
            config_message(&[("connection_url", URL), ("ha_enabled", "yes")]),
            "failed to parse value for ha_enabled: \"yes\" is not a boolean (true or false)"
        );
        assert_eq!(
            config_message(&[("connection_url", URL), ("skip_create_table", "maybe")]),
            "failed to parse value for skip_create_table: \"maybe\" is not a boolean (true or \
             false)"
        );
        assert_eq!(
            config_message(&[("connection_url", URL), ("table", "")]),
            "table must not be empty"
        );
        assert_eq!(
            config_message(&[("connection_url", URL), ("ha_table", "a\0b")]),
            "ha_table must not contain a NUL byte"
        );
    }

    #[test]
    fn a_bad_url_is_refused_without_showing_it() {
        let url = "postgres://arca:hunter22@db:notaport/vault";
        let msg = config_message(&[("connection_url", url)]);
        assert!(msg.starts_with("failed parsing connection_url: "), "{msg}");
        assert!(!msg.contains("hunter22"), "{msg}");
    }

    #[test]
    fn debug_and_errors_never_show_the_password() {
        let cfg = parse(&[("connection_url", URL)]).unwrap();
        let debug = format!("{cfg:?}");
        assert!(!debug.contains("s3cr3t-pw"), "{debug}");
        assert!(debug.contains("db.example"), "{debug}");
        assert_eq!(
            cfg.redactor
                .scrub(format!("oops {URL} and s3cr3t-pw again")),
            "oops <redacted> and <redacted> again"
        );
    }
}
