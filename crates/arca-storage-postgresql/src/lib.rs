//! OpenBao's PostgreSQL storage backend for Arca, with the HA lock that elects the active node.
//!
//! [`open`] takes the settings of a `storage "postgresql" { ... }` stanza and returns the
//! physical backend and, with `ha_enabled`, the HA lock. The tables, their columns and the SQL
//! semantics are OpenBao 2.7's (`internal/physical/postgresql/postgresql.go`), so an Arca node
//! and an OpenBao node read the same tables the same way.
//!
//! # Settings
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `connection_url` | required | `postgres://user:pass@host:port/db?sslmode=disable` or `key=value` form. `BAO_PG_CONNECTION_URL` (or, when that variable is absent, `VAULT_PG_CONNECTION_URL`) replaces it when non-empty. Only plain-text connections (`sslmode=disable`/`prefer`). |
//! | `table` | `openbao_kv_store` | the data table (quoted: case and any character kept) |
//! | `ha_enabled` | `false` | offer the HA lock |
//! | `ha_table` | `openbao_ha_locks` | the lock table (`haTable`, the older spelling, is read too) |
//! | `max_parallel` | `128` | most connections open at once |
//! | `transaction_max_parallel` | `64` | most transactions at once (below 1: 128) |
//! | `max_idle_connections` | unset: keep all | most idle connections kept (0 or less: none) |
//! | `max_connect_retries` | `1` | connection attempts at start, backoff 15 ms to 5 s (0: no limit for 15 minutes) |
//! | `skip_create_table` | `false` | do not create missing tables |
//!
//! Booleans take Go's spellings (`true`, `false`, `1`, `0`, `t`, `f`, ...). `upsert_function`,
//! dropped by OpenBao in 2.4.0, is ignored with a warning. The connection URL and its password
//! never appear in `Debug` output, logs or error texts.
//!
//! # Schema
//!
//! ```sql
//! CREATE TABLE openbao_kv_store (
//!   parent_path TEXT COLLATE "C" NOT NULL,
//!   path        TEXT COLLATE "C",
//!   key         TEXT COLLATE "C",
//!   value       BYTEA,
//!   CONSTRAINT openbao_kv_store_pkey PRIMARY KEY (path, key));
//! CREATE INDEX openbao_kv_store_idx ON openbao_kv_store (parent_path);
//! CREATE TABLE openbao_ha_locks (
//!   ha_key      TEXT COLLATE "C" NOT NULL,
//!   ha_identity TEXT COLLATE "C" NOT NULL,
//!   ha_value    TEXT COLLATE "C",
//!   valid_until TIMESTAMP WITH TIME ZONE NOT NULL,
//!   CONSTRAINT openbao_ha_locks_pkey PRIMARY KEY (ha_key));
//! ```
//!
//! A key `a/b/c` is the row `("/a/", "/a/b/", "c")`. Listings are computed in SQL, bytewise
//! (`COLLATE "C"`), with the prefix matched as a plain string. A transaction runs its operations
//! in order in one database transaction (pipelined), all or nothing; one the server aborts for
//! a deadlock or a serialization failure is run again, up to three times.
//!
//! # HA
//!
//! The lock is the row `ha_key = 'core/lock'`. A node takes it with an upsert that only
//! replaces an expired row (`valid_until < NOW()`), trying every `retry_interval` (1 s); the
//! holder renews it every `renew_interval` (5 s), each write setting
//! `valid_until = NOW() + lock_ttl` (15 s). Validity is always judged by the database's clock.
//! [`HaBackend::holder`] reads the value of the row while it is valid.
//!
//! Fencing rule: the holder counts the TTL from the moment it *sent* its last successful write
//! (the row's `valid_until` is at least that much later by the database's clock) and declares
//! the lock lost at `lock_ttl - lost_margin` (12 s) unless a renewal succeeded meanwhile, so
//! [`HeldLock::lost`] resolves before any other node can take the row. A renewal that fails is
//! retried every `retry_interval` until then; a renewal still running at the deadline is
//! cancelled on the server; a renewal that finds the row gone or someone else's ends the lock
//! at once. [`HeldLock::held`] and [`HeldLock::lost`] read the deadline from the clock, so they
//! hold even if the renewal task stalls. [`HeldLock::release`] (and dropping the lock) marks it
//! lost first, then deletes the row, so a waiting node takes it at its next attempt.
//! [`HaTimings`] holds the timings; [`open_with_timings`] shortens them for tests.
//!
//! The lock has its own small connection pool, so renewals never wait behind data traffic.

use std::collections::HashMap;
use std::sync::Arc;

use arca_storage::{HaBackend, PhysicalBackend, StorageError};

mod backend;
mod config;
mod db;
mod ha;

pub use backend::PostgresBackend;
pub use config::{
    CONNECTION_URL_ENV, CONNECTION_URL_ENV_UPSTREAM, DEFAULT_HA_TABLE, DEFAULT_MAX_CONNECT_RETRIES,
    DEFAULT_MAX_PARALLEL, DEFAULT_TABLE, DEFAULT_TRANSACTION_MAX_PARALLEL, PostgresConfig,
};
pub use ha::{HA_LOCK_KEY, HaTimings, PostgresHaLock};

#[cfg(doc)]
use arca_storage::HeldLock;

use crate::db::Db;

/// Connections of the HA lock's own pool: one renewing, the others for `acquire` and `holder`.
const HA_POOL_SIZE: usize = 4;

/// Opens the PostgreSQL storage described by a `storage "postgresql"` stanza's settings, with
/// OpenBao's HA timings. The HA lock is `Some` when `ha_enabled` is true.
pub async fn open(
    config: &HashMap<String, String>,
) -> Result<(Arc<dyn PhysicalBackend>, Option<Arc<dyn HaBackend>>), StorageError> {
    open_with_timings(config, HaTimings::default()).await
}

/// [`open`] with the HA lock's timings given.
pub async fn open_with_timings(
    config: &HashMap<String, String>,
    timings: HaTimings,
) -> Result<(Arc<dyn PhysicalBackend>, Option<Arc<dyn HaBackend>>), StorageError> {
    let config = PostgresConfig::from_map(config)?;
    let (backend, ha) = connect(&config, timings).await?;
    Ok((backend, ha.map(|ha| ha as Arc<dyn HaBackend>)))
}

/// Connects with parsed settings and returns the concrete types: checks the server (PostgreSQL
/// 9.5 or later), creates missing tables unless `skip_create_table`, and builds the HA lock when
/// `ha_enabled`.
pub async fn connect(
    config: &PostgresConfig,
    timings: HaTimings,
) -> Result<(Arc<PostgresBackend>, Option<Arc<PostgresHaLock>>), StorageError> {
    timings.check()?;
    let db = Db::new(
        &config.pg,
        config.max_parallel,
        config.max_idle_connections,
        Arc::clone(&config.redactor),
        config.target(),
    )?;
    {
        let conn = db
            .connect_with_retries(config.max_connect_retries)
            .await
            .map_err(|e| db.error(e))?;
        backend::check_version(&db, &conn).await?;
    }
    if !config.skip_create_table {
        let ha_table = config.ha_enabled.then_some(config.ha_table.as_str());
        backend::create_tables(&db, &config.table, ha_table).await?;
    }
    let ha = if config.ha_enabled {
        let ha_db = Db::new(
            &config.pg,
            HA_POOL_SIZE,
            None,
            Arc::clone(&config.redactor),
            config.target(),
        )?;
        Some(Arc::new(PostgresHaLock::new(
            ha_db,
            &config.ha_table,
            timings,
        )))
    } else {
        None
    };
    let backend = Arc::new(PostgresBackend::new(
        db,
        &config.table,
        config.transaction_max_parallel,
    ));
    tracing::debug!(
        target_db = %config.target(),
        table = %config.table,
        ha_enabled = config.ha_enabled,
        "postgresql storage opened"
    );
    Ok((backend, ha))
}
