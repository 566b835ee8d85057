//! [`PostgresBackend`]: the data table, with OpenBao's layout and SQL semantics.

use arca_storage::{PhysicalBackend, StorageError, TxnOp, validate_key, validate_ops};
use async_trait::async_trait;
use futures::future::try_join_all;
use tokio::sync::Semaphore;
use tokio_postgres::error::SqlState;

use crate::db::{Db, DbFailure, pg, quote_identifier};

/// Statements of one batch sent to the server before their answers are awaited.
const PIPELINE: usize = 512;
/// Runs of a batch that the server aborted for a deadlock or a serialization failure.
const TRANSACTION_ATTEMPTS: usize = 3;

/// OpenBao's PostgreSQL storage: one row per key in a table of
/// `(parent_path, path, key, value)`, keyed by `(path, key)`.
///
/// A key `a/b/c` is stored as `parent_path = "/a/"`, `path = "/a/b/"`, `key = "c"`; a key
/// without `/` as `parent_path = ""`, `path = "/"`. Tables written by OpenBao are read as they
/// are, and the other way round.
pub struct PostgresBackend {
    db: Db,
    sql: DataSql,
    /// Bounds the transactions running at once (`transaction_max_parallel`).
    transactions: Semaphore,
}

impl std::fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresBackend")
            .field("table", &self.sql.table)
            .finish_non_exhaustive()
    }
}

/// The statements on the data table, built once with its quoted name.
struct DataSql {
    table: String,
    get: String,
    put: String,
    delete: String,
    list: String,
}

impl DataSql {
    fn new(table: &str) -> Self {
        let t = quote_identifier(table);
        Self {
            table: table.to_owned(),
            get: format!("SELECT value FROM {t} WHERE path = $1 AND key = $2"),
            put: format!(
                "INSERT INTO {t} (parent_path, path, key, value) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (path, key) DO UPDATE \
                 SET parent_path = EXCLUDED.parent_path, value = EXCLUDED.value"
            ),
            delete: format!("DELETE FROM {t} WHERE path = $1 AND key = $2"),
            list: list_sql(&t),
        }
    }
}

/// The listing statement. Its parameters:
///
/// - `$1` the directory part of the prefix as a path (`"/" + D`, D ending in `/` or empty),
/// - `$2` the rest of the prefix (P, without `/`),
/// - `$3`/`$4` the bounds of the leaf keys (`key > P + after`, `key < P` incremented or no bound),
/// - `$5`/`$6` the bounds of the deeper paths (from `"/" + D + P + after`, below
///   `"/" + D + P` incremented; a deeper path also sorts after `$1`),
/// - `$7` `after` (`""` for none), `$8` the limit (`NULL` for none).
///
/// Leaves come from the `(path, key)` index in key order. Sub-directories come from a loose
/// index scan: find the first deeper path, report its first segment, then seek straight past
/// every path below that segment (`segment + "0"`, `0` being the byte after `/`), so a
/// directory holding many keys costs one index probe. The columns' `"C"` collation makes every
/// comparison bytewise, the order the listing promises.
fn list_sql(t: &str) -> String {
    format!(
        "WITH RECURSIVE dirs(path) AS ( \
           (SELECT path FROM {t} WHERE path > $1 AND path >= $5 AND path < $6 \
             ORDER BY path LIMIT 1) \
           UNION ALL \
           SELECT (SELECT n.path FROM {t} AS n \
                    WHERE n.path >= ($1 || split_part(substr(d.path, length($1) + 1), '/', 1) \
                                     || '0') COLLATE \"C\" \
                      AND n.path < $6 \
                    ORDER BY n.path LIMIT 1) \
             FROM dirs AS d WHERE d.path IS NOT NULL \
         ) \
         SELECT child FROM ( \
           (SELECT substr(key, length($2) + 1) COLLATE \"C\" AS child FROM {t} \
             WHERE path = $1 AND key > $3 AND ($4::text IS NULL OR key < $4) \
             ORDER BY key LIMIT $8) \
           UNION ALL \
           (SELECT child FROM ( \
              SELECT (substr(split_part(substr(path, length($1) + 1), '/', 1), length($2) + 1) \
                      || '/') COLLATE \"C\" AS child \
                FROM dirs WHERE path IS NOT NULL) AS sub \
             WHERE child > $7 LIMIT $8) \
         ) AS children \
         WHERE child > $7 \
         ORDER BY child \
         LIMIT $8"
    )
}

/// Splits a key the way OpenBao does: `(parent_path, path, key)`.
pub(crate) fn split_key(full: &str) -> (String, String, String) {
    match full.rfind('/') {
        None => (String::new(), "/".to_owned(), full.to_owned()),
        Some(last) => {
            let dir = &full[..last];
            let key = &full[last + 1..];
            let path = format!("/{dir}/");
            let parent = match dir.rfind('/') {
                None => "/".to_owned(),
                Some(up) => format!("/{}/", &dir[..up]),
            };
            (parent, path, key.to_owned())
        }
    }
}

/// The least string greater than every string that starts with `s`, `None` when there is none
/// (`s` empty or made only of U+10FFFF). UTF-8 byte order is code point order, so raising the
/// last code point that can be raised is enough.
pub(crate) fn prefix_upper_bound(s: &str) -> Option<String> {
    let mut chars: Vec<char> = s.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match u32::from(last) {
            0xD7FF => Some('\u{E000}'),
            n => char::from_u32(n + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The parameters of [`list_sql`] for one listing.
struct ListParams {
    dir_path: String,
    partial: String,
    leaf_lo: String,
    leaf_hi: Option<String>,
    deep_lo: String,
    deep_hi: Option<String>,
    after: String,
    limit: Option<i64>,
}

impl ListParams {
    fn new(prefix: &str, after: &str, limit: usize) -> Self {
        let (dir, partial) = match prefix.rfind('/') {
            Some(slash) => prefix.split_at(slash + 1),
            None => ("", prefix),
        };
        let dir_path = format!("/{dir}");
        let below = format!("/{prefix}");
        Self {
            leaf_lo: format!("{partial}{after}"),
            leaf_hi: prefix_upper_bound(partial),
            deep_lo: format!("{below}{after}"),
            deep_hi: prefix_upper_bound(&below),
            dir_path,
            partial: partial.to_owned(),
            after: after.to_owned(),
            limit: (limit > 0).then(|| i64::try_from(limit).unwrap_or(i64::MAX)),
        }
    }
}

impl PostgresBackend {
    pub(crate) fn new(db: Db, table: &str, transaction_max_parallel: usize) -> Self {
        Self {
            db,
            sql: DataSql::new(table),
            transactions: Semaphore::new(transaction_max_parallel),
        }
    }

    /// The data table's name, unquoted.
    pub fn table(&self) -> &str {
        &self.sql.table
    }

    /// Closes the connection pool; every later call fails with a [`StorageError::Backend`].
    pub fn close(&self) {
        self.db.close();
    }

    /// How many connections to PostgreSQL are open, and how many of those are idle.
    pub fn connections(&self) -> (usize, usize) {
        self.db.status()
    }

    async fn run_get(&self, key: &str) -> Result<Option<Vec<u8>>, DbFailure> {
        let (_, path, key) = split_key(key);
        let conn = self.db.conn().await?;
        let stmt = conn
            .prepare_cached(&self.sql.get)
            .await
            .map_err(pg("get"))?;
        let row = conn
            .query_opt(&stmt, &[&path, &key])
            .await
            .map_err(pg("get"))?;
        row.map(|row| row.try_get::<_, Option<Vec<u8>>>(0))
            .transpose()
            .map(|v| v.map(Option::unwrap_or_default))
            .map_err(pg("get"))
    }

    async fn run_put(&self, key: &str, value: &[u8]) -> Result<(), DbFailure> {
        let (parent, path, key) = split_key(key);
        let conn = self.db.conn().await?;
        let stmt = conn
            .prepare_cached(&self.sql.put)
            .await
            .map_err(pg("put"))?;
        conn.execute(&stmt, &[&parent, &path, &key, &value])
            .await
            .map_err(pg("put"))?;
        Ok(())
    }

    async fn run_delete(&self, key: &str) -> Result<(), DbFailure> {
        let (_, path, key) = split_key(key);
        let conn = self.db.conn().await?;
        let stmt = conn
            .prepare_cached(&self.sql.delete)
            .await
            .map_err(pg("delete"))?;
        conn.execute(&stmt, &[&path, &key])
            .await
            .map_err(pg("delete"))?;
        Ok(())
    }

    async fn run_list(
        &self,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<String>, DbFailure> {
        let p = ListParams::new(prefix, after, limit);
        let conn = self.db.conn().await?;
        let stmt = conn
            .prepare_cached(&self.sql.list)
            .await
            .map_err(pg("list"))?;
        let rows = conn
            .query(
                &stmt,
                &[
                    &p.dir_path,
                    &p.partial,
                    &p.leaf_lo,
                    &p.leaf_hi,
                    &p.deep_lo,
                    &p.deep_hi,
                    &p.after,
                    &p.limit,
                ],
            )
            .await
            .map_err(pg("list"))?;
        rows.iter()
            .map(|row| row.try_get::<_, String>(0))
            .collect::<Result<Vec<_>, _>>()
            .map_err(pg("list"))
    }

    /// Runs `ops` in one database transaction, all or nothing. The statements are pipelined
    /// (sent without waiting for each answer) and run in order. The batch only writes, so the
    /// default READ COMMITTED isolation is enough; OpenBao's REPEATABLE READ is for its
    /// transactions that also read.
    async fn run_transaction(&self, ops: &[TxnOp]) -> Result<(), DbFailure> {
        let mut conn = self.db.conn().await?;
        let tx = conn.transaction().await.map_err(pg("begin transaction"))?;
        let put = tx
            .prepare_cached(&self.sql.put)
            .await
            .map_err(pg("transaction put"))?;
        let delete = tx
            .prepare_cached(&self.sql.delete)
            .await
            .map_err(pg("transaction delete"))?;
        for chunk in ops.chunks(PIPELINE) {
            let split: Vec<(String, String, String)> =
                chunk.iter().map(|op| split_key(op.key())).collect();
            let statements = chunk.iter().zip(&split).map(|(op, (parent, path, key))| {
                let (tx, put, delete) = (&tx, &put, &delete);
                async move {
                    match op {
                        TxnOp::Put { value, .. } => tx
                            .execute(put, &[parent, path, key, value])
                            .await
                            .map_err(pg("transaction put")),
                        TxnOp::Delete { .. } => tx
                            .execute(delete, &[path, key])
                            .await
                            .map_err(pg("transaction delete")),
                    }
                }
            });
            if let Err(e) = try_join_all(statements).await {
                // Dropping the transaction would roll back too; say so to the server now.
                if let Err(rollback) = tx.rollback().await {
                    tracing::debug!(
                        error = %self.db.error(DbFailure::Pg("rollback", rollback)),
                        "postgresql storage: rollback failed"
                    );
                }
                return Err(e);
            }
        }
        tx.commit().await.map_err(pg("commit transaction"))
    }
}

#[async_trait]
impl PhysicalBackend for PostgresBackend {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.run_get(key).await.map_err(|e| self.db.error(e))
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        validate_key(key)?;
        self.run_put(key, &value)
            .await
            .map_err(|e| self.db.error(e))
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        validate_key(key)?;
        self.run_delete(key).await.map_err(|e| self.db.error(e))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.list_page(prefix, "", 0).await
    }

    async fn list_page(
        &self,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<String>, StorageError> {
        self.run_list(prefix, after, limit)
            .await
            .map_err(|e| self.db.error(e))
    }

    async fn transaction(&self, ops: Vec<TxnOp>) -> Result<(), StorageError> {
        validate_ops(&ops)?;
        if ops.is_empty() {
            return Ok(());
        }
        let _permit =
            self.transactions.acquire().await.map_err(|_| {
                StorageError::Backend("the postgresql storage is closed".to_owned())
            })?;
        let mut attempt = 1;
        loop {
            match self.run_transaction(&ops).await {
                Ok(()) => return Ok(()),
                Err(e)
                    if attempt < TRANSACTION_ATTEMPTS
                        && matches!(
                            e.code(),
                            Some(&SqlState::T_R_DEADLOCK_DETECTED)
                                | Some(&SqlState::T_R_SERIALIZATION_FAILURE)
                        ) =>
                {
                    tracing::debug!(
                        error = %self.db.error(e),
                        attempt,
                        "postgresql storage: transaction aborted by the server, running it again"
                    );
                    attempt += 1;
                }
                Err(e) => return Err(self.db.error(e)),
            }
        }
    }
}

/// Creates the data table and its index, and the lock table when `ha_table` is given, unless
/// they exist: OpenBao's schema, in one transaction. A concurrent creation by another node is
/// waited out by trying again; a read-only database is left alone with a warning.
pub(crate) async fn create_tables(
    db: &Db,
    table: &str,
    ha_table: Option<&str>,
) -> Result<(), StorageError> {
    let t = quote_identifier(table);
    let mut statements = vec![
        format!(
            "CREATE TABLE IF NOT EXISTS {t} ( \
               parent_path TEXT COLLATE \"C\" NOT NULL, \
               path        TEXT COLLATE \"C\", \
               key         TEXT COLLATE \"C\", \
               value       BYTEA, \
               CONSTRAINT {} PRIMARY KEY (path, key))",
            quote_identifier(&format!("{table}_pkey"))
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS {} ON {t} (parent_path)",
            quote_identifier(&format!("{table}_idx"))
        ),
    ];
    if let Some(ha) = ha_table {
        statements.push(format!(
            "CREATE TABLE IF NOT EXISTS {} ( \
               ha_key      TEXT COLLATE \"C\" NOT NULL, \
               ha_identity TEXT COLLATE \"C\" NOT NULL, \
               ha_value    TEXT COLLATE \"C\", \
               valid_until TIMESTAMP WITH TIME ZONE NOT NULL, \
               CONSTRAINT {} PRIMARY KEY (ha_key))",
            quote_identifier(ha),
            quote_identifier(&format!("{ha}_pkey"))
        ));
    }
    const ATTEMPTS: usize = 5;
    let mut attempt = 1;
    loop {
        match create_once(db, &statements).await {
            Ok(()) => return Ok(()),
            Err(e) if e.code() == Some(&SqlState::READ_ONLY_SQL_TRANSACTION) => {
                tracing::warn!(
                    error = %db.error(e),
                    "postgresql storage: the database is read-only, tables not created"
                );
                return Ok(());
            }
            // Two nodes creating the same table at once: one of them fails on the catalog's
            // unique index, or on the table's row type the other just made (42710); the next
            // try finds the table there.
            Err(e)
                if attempt < ATTEMPTS
                    && matches!(
                        e.code(),
                        Some(&SqlState::UNIQUE_VIOLATION)
                            | Some(&SqlState::DUPLICATE_TABLE)
                            | Some(&SqlState::DUPLICATE_OBJECT)
                    ) =>
            {
                attempt += 1;
            }
            Err(e) => {
                return Err(match db.error(e) {
                    StorageError::Backend(msg) => {
                        StorageError::Backend(format!("failed to create tables: {msg}"))
                    }
                    other => other,
                });
            }
        }
    }
}

async fn create_once(db: &Db, statements: &[String]) -> Result<(), DbFailure> {
    let mut conn = db.conn().await?;
    let tx = conn
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .start()
        .await
        .map_err(pg("begin"))?;
    for statement in statements {
        tx.batch_execute(statement).await.map_err(pg("create"))?;
    }
    tx.commit().await.map_err(pg("commit"))
}

/// Checks the server is PostgreSQL 9.5 or later, as OpenBao does.
pub(crate) async fn check_version(db: &Db, conn: &crate::db::Conn<'_>) -> Result<(), StorageError> {
    let row = conn
        .query_one(
            "SELECT current_setting('server_version_num')::int >= 90500",
            &[],
        )
        .await
        .map_err(pg("failed to check for supported PostgreSQL version"))
        .map_err(|e| db.error(e))?;
    let supported: bool = row
        .try_get(0)
        .map_err(pg("failed to check for supported PostgreSQL version"))
        .map_err(|e| db.error(e))?;
    if supported {
        Ok(())
    } else {
        Err(StorageError::Backend(
            "PostgreSQL version must be at least 9.5".to_owned(),
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    fn split(k: &str) -> (&'static str, &'static str, &'static str) {
        let (a, b, c) = split_key(k);
        (a.leak(), b.leak(), c.leak())
    }

    #[test]
    fn keys_split_as_openbao_splits_them() {
        assert_eq!(split("a"), ("", "/", "a"));
        assert_eq!(split("a/b"), ("/", "/a/", "b"));
        assert_eq!(split("a/b/c"), ("/a/", "/a/b/", "c"));
        assert_eq!(split("a/b/c/d"), ("/a/b/", "/a/b/c/", "d"));
        assert_eq!(split("a/"), ("/", "/a/", ""));
        assert_eq!(split("/a"), ("/", "//", "a"));
        assert_eq!(split("a//b"), ("/a/", "/a//", "b"));
    }

    #[test]
    fn the_key_is_the_path_without_its_slash_and_the_key() {
        for k in ["a", "a/b", "a/b/c", "a/", "/a", "a//b", "x/y/", "日本/語"] {
            let (_, path, key) = split_key(k);
            assert_eq!(format!("{}{key}", &path[1..]), k);
        }
    }

    #[test]
    fn upper_bounds() {
        assert_eq!(prefix_upper_bound(""), None);
        assert_eq!(prefix_upper_bound("/"), Some("0".to_owned()));
        assert_eq!(prefix_upper_bound("/a/b"), Some("/a/c".to_owned()));
        assert_eq!(
            prefix_upper_bound("a\u{D7FF}"),
            Some("a\u{E000}".to_owned())
        );
        assert_eq!(prefix_upper_bound("a\u{10FFFF}"), Some("b".to_owned()));
        assert_eq!(prefix_upper_bound("\u{10FFFF}\u{10FFFF}"), None);
    }

    #[test]
    fn list_parameters() {
        let p = ListParams::new("conf-ls/b", "", 0);
        assert_eq!(p.dir_path, "/conf-ls/");
        assert_eq!(p.partial, "b");
        assert_eq!(p.leaf_lo, "b");
        assert_eq!(p.leaf_hi.as_deref(), Some("c"));
        assert_eq!(p.deep_lo, "/conf-ls/b");
        assert_eq!(p.deep_hi.as_deref(), Some("/conf-ls/c"));
        assert_eq!(p.limit, None);

        let p = ListParams::new("", "k05", 3);
        assert_eq!(p.dir_path, "/");
        assert_eq!(p.partial, "");
        assert_eq!(p.leaf_lo, "k05");
        assert_eq!(p.leaf_hi, None);
        assert_eq!(p.deep_lo, "/k05");
        assert_eq!(p.deep_hi.as_deref(), Some("0"));
        assert_eq!(p.limit, Some(3));
    }
}
