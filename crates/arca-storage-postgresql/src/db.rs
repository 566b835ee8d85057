//! The connection pool both the data backend and the HA lock use, and the texts of its errors
//! (always scrubbed of the connection URL and its password).

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arca_storage::StorageError;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use crate::config::Redactor;

/// A pool of connections to one PostgreSQL database.
pub(crate) struct Db {
    pool: Pool,
    redactor: Arc<Redactor>,
    /// Idle connections above this many are closed when a connection comes back.
    max_idle: Option<usize>,
    /// `user=... host=... database=...` for error texts.
    target: String,
}

/// Why a database call failed, kept apart so callers can look at the SQLSTATE.
pub(crate) enum DbFailure {
    /// No connection could be had.
    Pool(PoolError),
    /// A statement failed; the text says what was being done.
    Pg(&'static str, tokio_postgres::Error),
    /// A call did not finish in time.
    Timeout(&'static str, Duration),
}

impl DbFailure {
    /// The server's SQLSTATE, when the server refused a statement.
    pub(crate) fn code(&self) -> Option<&SqlState> {
        match self {
            DbFailure::Pg(_, e) => e.code(),
            _ => None,
        }
    }
}

/// Wraps a driver error with what was being done.
pub(crate) fn pg(what: &'static str) -> impl FnOnce(tokio_postgres::Error) -> DbFailure {
    move |e| DbFailure::Pg(what, e)
}

impl Db {
    /// A pool of at most `max_size` connections; none is opened until one is needed.
    pub(crate) fn new(
        pg: &tokio_postgres::Config,
        max_size: usize,
        max_idle: Option<usize>,
        redactor: Arc<Redactor>,
        target: String,
    ) -> Result<Self, StorageError> {
        let manager = Manager::from_config(
            pg.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_size)
            .build()
            .map_err(|e| {
                StorageError::Config(redactor.scrub(format!("error creating connection pool: {e}")))
            })?;
        Ok(Self {
            pool,
            redactor,
            max_idle,
            target,
        })
    }

    /// A pooled connection, given back when the returned guard is dropped.
    pub(crate) async fn conn(&self) -> Result<Conn<'_>, DbFailure> {
        let obj = self.pool.get().await.map_err(DbFailure::Pool)?;
        Ok(Conn {
            obj: Some(obj),
            db: self,
        })
    }

    /// Connects until one connection works and answers `check`, trying `attempts` times
    /// (`0`: until 15 minutes have passed) with exponential backoff from 15 ms to 5 s between
    /// tries, as OpenBao's start does.
    pub(crate) async fn connect_with_retries(&self, attempts: u32) -> Result<Conn<'_>, DbFailure> {
        const GIVE_UP_AFTER: Duration = Duration::from_secs(15 * 60);
        let started = Instant::now();
        let mut wait = Duration::from_millis(15);
        let mut tried = 0u32;
        loop {
            tried = tried.saturating_add(1);
            let conn = match self.conn().await {
                Ok(conn) => match conn.simple_query("SELECT 1").await {
                    Ok(_) => return Ok(conn),
                    Err(e) => Err(DbFailure::Pg("unable to verify connection", e)),
                },
                Err(e) => Err(e),
            };
            let out_of_tries = if attempts == 0 {
                started.elapsed() + wait > GIVE_UP_AFTER
            } else {
                tried >= attempts
            };
            if out_of_tries {
                return conn;
            }
            if let Err(e) = &conn {
                tracing::debug!(
                    error = %self.describe(e),
                    "postgresql storage: database not ready"
                );
            }
            tokio::time::sleep(wait).await;
            wait = wait.mul_f64(1.5).min(Duration::from_secs(5));
        }
    }

    /// The scrubber of this pool's secrets, for texts made outside it.
    pub(crate) fn redactor(&self) -> Arc<Redactor> {
        Arc::clone(&self.redactor)
    }

    /// Closes the pool: every connection is closed once given back, later calls fail.
    pub(crate) fn close(&self) {
        self.pool.close();
    }

    /// How many connections are open and how many of them are idle.
    pub(crate) fn status(&self) -> (usize, usize) {
        let status = self.pool.status();
        (status.size, status.available)
    }

    /// A storage error for `failure`, scrubbed of secrets.
    pub(crate) fn error(&self, failure: DbFailure) -> StorageError {
        StorageError::Backend(self.describe(&failure))
    }

    fn describe(&self, failure: &DbFailure) -> String {
        let text = match failure {
            DbFailure::Pool(PoolError::Backend(e)) => {
                format!("failed to connect to `{}`: {}", self.target, pg_error(e))
            }
            DbFailure::Pool(PoolError::Closed) => "the postgresql storage is closed".to_owned(),
            DbFailure::Pool(other) => {
                format!("failed to connect to `{}`: {other}", self.target)
            }
            DbFailure::Pg(what, e) => format!("{what}: {}", pg_error(e)),
            DbFailure::Timeout(what, after) => format!("{what}: timed out after {after:?}"),
        };
        self.redactor.scrub(text)
    }

    /// Closes idle connections beyond `max_idle`.
    fn trim_idle(&self) {
        let Some(max) = self.max_idle else {
            return;
        };
        if self.pool.status().available <= max {
            return;
        }
        let mut kept = 0usize;
        // `retain` only walks the idle connections; the ones it removes are closed on drop.
        drop(self.pool.retain(|_, _| {
            kept += 1;
            kept <= max
        }));
    }
}

/// A driver error as text: the server's message and SQLSTATE for a refused statement, else the
/// error with its causes (`error connecting to server: Connection refused (os error 111)`).
fn pg_error(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        );
    }
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// A pooled connection; on drop it goes back to the pool, which then closes idle connections
/// beyond `max_idle_connections`.
pub(crate) struct Conn<'a> {
    obj: Option<Object>,
    db: &'a Db,
}

impl Deref for Conn<'_> {
    type Target = Object;

    fn deref(&self) -> &Object {
        match &self.obj {
            Some(obj) => obj,
            // `obj` is only taken in `drop`.
            None => unreachable!("connection used after it was given back"),
        }
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Object {
        match &mut self.obj {
            Some(obj) => obj,
            None => unreachable!("connection used after it was given back"),
        }
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        drop(self.obj.take());
        self.db.trim_idle();
    }
}

/// Quotes `name` as one SQL identifier (`"` doubled), as OpenBao's `dbutil.QuoteIdentifier`.
pub(crate) fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
