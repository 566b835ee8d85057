//! [`PostgresHaLock`]: the active node's lock, one row of the HA table that the holder renews
//! and that any node may take over once it has expired by the database's clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arca_storage::{HaBackend, HeldLock, StorageError};
use async_trait::async_trait;
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until};
use tokio_postgres::NoTls;

use crate::db::{Db, DbFailure, pg, quote_identifier};

/// The `ha_key` of the active node's lock (OpenBao's `CoreLockPath`).
pub const HA_LOCK_KEY: &str = "core/lock";

/// The HA lock's timings. [`HaTimings::default`] is OpenBao's; tests shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HaTimings {
    /// How long a taken or renewed lock row stays valid, counted by the database's clock
    /// (OpenBao's `PostgreSQLLockTTLSeconds`, 15 s).
    pub lock_ttl: Duration,
    /// The pause between renewals of a held lock (`PostgreSQLLockRenewInterval`, 5 s).
    pub renew_interval: Duration,
    /// The pause between attempts to take a lock another node holds, and between retries of a
    /// failed renewal (`PostgreSQLLockRetryInterval`, 1 s).
    pub retry_interval: Duration,
    /// How long before the row could expire a holder whose renewals fail declares the lock
    /// lost (3 s, a fifth of the TTL): the holder counts the TTL from the moment it sent its
    /// last successful renewal and gives up at `lock_ttl - lost_margin`.
    pub lost_margin: Duration,
}

impl Default for HaTimings {
    fn default() -> Self {
        Self {
            lock_ttl: Duration::from_secs(15),
            renew_interval: Duration::from_secs(5),
            retry_interval: Duration::from_secs(1),
            lost_margin: Duration::from_secs(3),
        }
    }
}

impl HaTimings {
    /// Checks the timings can keep a lock: every one positive, and a renewal due before the
    /// holder would have to give the lock up.
    pub fn check(&self) -> Result<(), StorageError> {
        let bad = |msg: String| Err(StorageError::Config(format!("HA timings: {msg}")));
        for (name, value) in [
            ("lock_ttl", self.lock_ttl),
            ("renew_interval", self.renew_interval),
            ("retry_interval", self.retry_interval),
            ("lost_margin", self.lost_margin),
        ] {
            if value.is_zero() {
                return bad(format!("{name} must be positive"));
            }
        }
        if self.lost_margin >= self.lock_ttl {
            return bad(format!(
                "lost_margin ({:?}) must be shorter than lock_ttl ({:?})",
                self.lost_margin, self.lock_ttl
            ));
        }
        if self.renew_interval >= self.held_for() {
            return bad(format!(
                "renew_interval ({:?}) must be shorter than lock_ttl minus lost_margin ({:?})",
                self.renew_interval,
                self.held_for()
            ));
        }
        Ok(())
    }

    /// How long after a successful write was sent this node may still count on the lock.
    fn held_for(&self) -> Duration {
        self.lock_ttl.saturating_sub(self.lost_margin)
    }

    /// The longest one write to the lock row may take (OpenBao's two thirds of the TTL).
    fn write_timeout(&self) -> Duration {
        self.lock_ttl * 2 / 3
    }
}

/// The statements on the HA table. Every one names the database's `NOW()`, never this node's
/// clock, for validity.
struct HaSql {
    /// Takes the lock: inserts the row, or replaces it only when it has expired.
    /// `$1` identity, `$2` key, `$3` value, `$4` TTL in seconds.
    take: String,
    /// Renews our own row; never creates or steals one. Same parameters as `take`.
    renew: String,
    /// Removes our own row. `$1` identity, `$2` key.
    delete: String,
    /// The holder's value while the row is valid. `$1` key.
    value: String,
}

impl HaSql {
    fn new(table: &str) -> Self {
        let t = quote_identifier(table);
        Self {
            take: format!(
                "INSERT INTO {t} AS t (ha_identity, ha_key, ha_value, valid_until) \
                 VALUES ($1, $2, $3, NOW() + make_interval(secs => $4)) \
                 ON CONFLICT (ha_key) DO UPDATE \
                 SET ha_identity = EXCLUDED.ha_identity, ha_value = EXCLUDED.ha_value, \
                     valid_until = EXCLUDED.valid_until \
                 WHERE t.valid_until < NOW() AND t.ha_key = $2"
            ),
            renew: format!(
                "UPDATE {t} SET ha_value = $3, valid_until = NOW() + make_interval(secs => $4) \
                 WHERE ha_identity = $1 AND ha_key = $2"
            ),
            delete: format!("DELETE FROM {t} WHERE ha_identity = $1 AND ha_key = $2"),
            value: format!("SELECT ha_value FROM {t} WHERE NOW() <= valid_until AND ha_key = $1"),
        }
    }
}

/// The HA lock on a PostgreSQL table shared by every node, OpenBao's `PostgreSQLLock`.
///
/// One row per lock key (`ha_key`, `ha_identity`, `ha_value`, `valid_until`). A node takes the
/// row when it is absent or its `valid_until` has passed by the database's clock, then renews
/// it every `renew_interval`; it declares the lock lost `lock_ttl - lost_margin` after sending
/// its last successful renewal, before the row can expire, so two nodes never both hold it.
pub struct PostgresHaLock {
    db: Arc<Db>,
    sql: Arc<HaSql>,
    timings: HaTimings,
    key: String,
    table: String,
}

impl std::fmt::Debug for PostgresHaLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresHaLock")
            .field("table", &self.table)
            .field("key", &self.key)
            .field("timings", &self.timings)
            .finish_non_exhaustive()
    }
}

impl PostgresHaLock {
    pub(crate) fn new(db: Db, table: &str, timings: HaTimings) -> Self {
        Self {
            db: Arc::new(db),
            sql: Arc::new(HaSql::new(table)),
            timings,
            key: HA_LOCK_KEY.to_owned(),
            table: table.to_owned(),
        }
    }

    /// The timings this lock runs with.
    pub fn timings(&self) -> HaTimings {
        self.timings
    }

    /// The lock table's name, unquoted.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Closes the lock's connection pool: held locks can no longer be renewed (they are lost
    /// within their TTL) and later calls fail.
    pub fn close(&self) {
        self.db.close();
    }
}

#[async_trait]
impl HaBackend for PostgresHaLock {
    /// Tries to take the row at once and then every `retry_interval`. A database error ends the
    /// wait with that error, as in OpenBao; the caller tries again.
    async fn acquire(&self, value: &str) -> Result<Box<dyn HeldLock>, StorageError> {
        let identity = uuid::Uuid::new_v4().to_string();
        let t = self.timings;
        loop {
            let taken = write_row(
                &self.db,
                &self.sql.take,
                [&identity, &self.key, value],
                t.lock_ttl,
                t.write_timeout(),
                "acquire lock",
            )
            .await
            .map_err(|e| self.db.error(e))?;
            if let Some(sent) = taken {
                let shared = Arc::new(Shared {
                    db: Arc::clone(&self.db),
                    sql: Arc::clone(&self.sql),
                    timings: t,
                    key: self.key.clone(),
                    identity: identity.clone(),
                    value: value.to_owned(),
                    state: watch::Sender::new(LockState {
                        deadline: sent + t.held_for(),
                        lost: false,
                    }),
                    released: AtomicBool::new(false),
                });
                if !shared.held() {
                    // The answer came too late to be sure of the lock: give it back, try again.
                    shared.delete_row().await;
                    continue;
                }
                let renewal = tokio::spawn(keep_renewed(Arc::clone(&shared), sent));
                tracing::debug!(table = %self.table, "postgresql storage: HA lock acquired");
                return Ok(Box::new(PostgresHeldLock {
                    shared,
                    renewal: Mutex::new(Some(renewal)),
                }));
            }
            sleep(t.retry_interval).await;
        }
    }

    async fn holder(&self) -> Result<Option<String>, StorageError> {
        let read = async {
            let conn = self.db.conn().await?;
            let stmt = conn
                .prepare_cached(&self.sql.value)
                .await
                .map_err(pg("read lock holder"))?;
            let row = conn
                .query_opt(&stmt, &[&self.key])
                .await
                .map_err(pg("read lock holder"))?;
            row.map(|row| row.try_get::<_, Option<String>>(0))
                .transpose()
                .map(|v| v.map(Option::unwrap_or_default))
                .map_err(pg("read lock holder"))
        };
        read.await.map_err(|e| self.db.error(e))
    }
}

/// Runs `statement` (`take` or `renew`) on the lock row within `limit`. `Some(sent)` when it
/// changed the row, `sent` being the moment just before the statement went out: the row's new
/// `valid_until` is at least `lock_ttl` after that moment by the database's clock.
///
/// A statement still running at `limit` is cancelled on the server, so a late renewal cannot
/// revive a lock this node already gave up.
async fn write_row(
    db: &Db,
    statement: &str,
    [identity, key, value]: [&str; 3],
    ttl: Duration,
    limit: Duration,
    what: &'static str,
) -> Result<Option<Instant>, DbFailure> {
    let mut cancel = None;
    let attempt = async {
        let conn = db.conn().await?;
        let stmt = conn.prepare_cached(statement).await.map_err(pg(what))?;
        cancel = Some(conn.cancel_token());
        let sent = Instant::now();
        let changed = conn
            .execute(&stmt, &[&identity, &key, &value, &ttl.as_secs_f64()])
            .await
            .map_err(pg(what))?;
        Ok((changed == 1).then_some(sent))
    };
    let result = tokio::time::timeout(limit, attempt).await;
    match result {
        Ok(done) => done,
        Err(_) => {
            if let Some(token) = cancel {
                let redactor = db.redactor();
                tokio::spawn(async move {
                    if let Err(e) = token.cancel_query(NoTls).await {
                        tracing::debug!(
                            error = %redactor.scrub(e.to_string()),
                            "postgresql storage: cancelling a lock write failed"
                        );
                    }
                });
            }
            Err(DbFailure::Timeout(what, limit))
        }
    }
}

/// Until when a held lock counts as held, and whether it was given up.
#[derive(Debug, Clone, Copy)]
struct LockState {
    /// `lock_ttl - lost_margin` after the last successful write was sent.
    deadline: Instant,
    /// Lost for good: released, taken over, or the deadline passed.
    lost: bool,
}

/// One held lock, shared by its handle and its renewal task.
struct Shared {
    db: Arc<Db>,
    sql: Arc<HaSql>,
    timings: HaTimings,
    key: String,
    identity: String,
    value: String,
    state: watch::Sender<LockState>,
    /// Set by `release` or drop, so the row is removed once.
    released: AtomicBool,
}

impl Shared {
    /// Held: not given up and the deadline not reached. Read from the clock, not only from the
    /// renewal task, so a stalled task cannot keep the lock held past its deadline.
    fn held(&self) -> bool {
        let state = *self.state.borrow();
        !state.lost && Instant::now() < state.deadline
    }

    fn mark_lost(&self) {
        self.state
            .send_if_modified(|s| !std::mem::replace(&mut s.lost, true));
    }

    /// Moves the deadline after a renewal sent at `sent` succeeded; false (and lost) when the
    /// lock had already lapsed: a lost lock is never held again.
    fn extend(&self, sent: Instant) -> bool {
        let mut extended = false;
        self.state.send_modify(|s| {
            if !s.lost && Instant::now() < s.deadline {
                s.deadline = s.deadline.max(sent + self.timings.held_for());
                extended = true;
            } else {
                s.lost = true;
            }
        });
        extended
    }

    /// Removes this node's row, if it is still this node's, so another node can take the lock
    /// at its next attempt instead of after the TTL.
    async fn delete_row(&self) {
        let limit = self.timings.write_timeout();
        let delete = async {
            let conn = self.db.conn().await?;
            let stmt = conn
                .prepare_cached(&self.sql.delete)
                .await
                .map_err(pg("release lock"))?;
            conn.execute(&stmt, &[&self.identity, &self.key])
                .await
                .map_err(pg("release lock"))
        };
        match tokio::time::timeout(limit, delete).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(
                error = %self.db.error(e),
                "postgresql storage: removing the HA lock row failed; it expires after its TTL"
            ),
            Err(_) => tracing::warn!(
                "postgresql storage: removing the HA lock row timed out; it expires after its TTL"
            ),
        }
    }
}

/// Marks the lock lost when the renewal task ends, however it ends.
struct LostOnExit(Arc<Shared>);

impl Drop for LostOnExit {
    fn drop(&mut self) {
        self.0.mark_lost();
    }
}

/// Renews the row every `renew_interval` (a failed renewal is retried every `retry_interval`)
/// until the lock is lost: the row was taken over or removed, or no renewal succeeded before
/// the deadline.
async fn keep_renewed(shared: Arc<Shared>, acquired: Instant) {
    let _lost_on_exit = LostOnExit(Arc::clone(&shared));
    let t = shared.timings;
    let mut next = acquired + t.renew_interval;
    loop {
        let deadline = shared.state.borrow().deadline;
        if !shared.held() {
            break;
        }
        tokio::select! {
            () = sleep_until(deadline) => break,
            () = sleep_until(next) => {}
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let renewed = write_row(
            &shared.db,
            &shared.sql.renew,
            [&shared.identity, &shared.key, &shared.value],
            t.lock_ttl,
            left.min(t.write_timeout()),
            "renew lock",
        )
        .await;
        match renewed {
            Ok(Some(sent)) => {
                if !shared.extend(sent) {
                    break;
                }
                next = sent + t.renew_interval;
            }
            Ok(None) => {
                tracing::warn!(
                    "postgresql storage: the HA lock row was taken over or removed; lock lost"
                );
                break;
            }
            Err(e) => {
                tracing::warn!(
                    error = %shared.db.error(e),
                    "postgresql storage: HA lock renewal failed; retrying until the lock lapses"
                );
                next = Instant::now() + t.retry_interval.min(t.renew_interval);
            }
        }
    }
    shared.mark_lost();
    if !shared.released.swap(true, Ordering::AcqRel) {
        shared.delete_row().await;
    }
}

/// A held [`PostgresHaLock`].
struct PostgresHeldLock {
    shared: Arc<Shared>,
    renewal: Mutex<Option<JoinHandle<()>>>,
}

impl PostgresHeldLock {
    fn stop_renewing(&self) {
        if let Some(task) = self.renewal.lock().take() {
            task.abort();
        }
    }
}

#[async_trait]
impl HeldLock for PostgresHeldLock {
    async fn lost(&self) {
        let mut rx = self.shared.state.subscribe();
        loop {
            let state = *rx.borrow_and_update();
            if state.lost || Instant::now() >= state.deadline {
                return;
            }
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                () = sleep_until(state.deadline) => {}
            }
        }
    }

    fn held(&self) -> bool {
        self.shared.held()
    }

    async fn release(&self) {
        // Lost first: this node stops being active before the row goes.
        self.shared.mark_lost();
        self.stop_renewing();
        if !self.shared.released.swap(true, Ordering::AcqRel) {
            self.shared.delete_row().await;
        }
    }
}

impl Drop for PostgresHeldLock {
    fn drop(&mut self) {
        self.shared.mark_lost();
        self.stop_renewing();
        if !self.shared.released.swap(true, Ordering::AcqRel) {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    let shared = Arc::clone(&self.shared);
                    runtime.spawn(async move { shared.delete_row().await });
                }
                Err(_) => tracing::debug!(
                    "postgresql storage: HA lock dropped outside a runtime; its row expires"
                ),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn openbao_timings_pass_the_check() {
        let t = HaTimings::default();
        t.check().unwrap();
        assert_eq!(t.lock_ttl, Duration::from_secs(15));
        assert_eq!(t.renew_interval, Duration::from_secs(5));
        assert_eq!(t.retry_interval, Duration::from_secs(1));
        assert_eq!(t.held_for(), Duration::from_secs(12));
        assert_eq!(t.write_timeout(), Duration::from_secs(10));
    }

    #[test]
    fn timings_that_cannot_keep_a_lock_are_refused() {
        let message = |t: HaTimings| match t.check() {
            Err(StorageError::Config(msg)) => msg,
            other => panic!("expected a config error, got {other:?}"),
        };
        let base = HaTimings::default();
        assert_eq!(
            message(HaTimings {
                retry_interval: Duration::ZERO,
                ..base
            }),
            "HA timings: retry_interval must be positive"
        );
        assert_eq!(
            message(HaTimings {
                lost_margin: Duration::from_secs(15),
                ..base
            }),
            "HA timings: lost_margin (15s) must be shorter than lock_ttl (15s)"
        );
        assert_eq!(
            message(HaTimings {
                renew_interval: Duration::from_secs(12),
                ..base
            }),
            "HA timings: renew_interval (12s) must be shorter than lock_ttl minus lost_margin \
             (12s)"
        );
    }
}
