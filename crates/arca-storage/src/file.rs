//! [`FileBackend`]: the durable embedded store behind `storage "file" { path = "DIR" }`, one
//! `redb` database file `DIR/arca.redb` holding one table of path → ciphertext.
//!
//! redb is synchronous. Reads run on Tokio's blocking pool, each in its own read transaction
//! over committed state. Writes (`put`, `delete`, `transaction`) go through [`group_commit`]:
//! one writer thread takes everything queued, applies it in one redb write transaction
//! committed with `Durability::Immediate` (one fsync), and only then answers every caller, so a
//! write is on disk before its call returns and concurrent writers share the fsync.
//!
//! redb's commit settings stay at their defaults: a 1-phase commit, crash-safe through the
//! page checksums, costs one `fsync` (`fdatasync`); `set_two_phase_commit(true)` would add a
//! second one per commit, and `set_quick_repair(true)` implies it and also writes the allocator
//! state on every commit, which only shortens recovery after a crash.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, DatabaseError, Durability, ReadableDatabase, Table, TableDefinition};

use crate::listing::list_children;
use crate::perms::{ensure_private_dir, ensure_private_file};
use crate::{PhysicalBackend, StorageError, TxnOp, validate_key, validate_ops};

mod group_commit;

use group_commit::GroupCommit;

/// Name of the database file inside the storage directory.
pub const DB_FILE_NAME: &str = "arca.redb";

/// The one table: storage path → opaque (already encrypted) value.
const ENTRIES: TableDefinition<&str, &[u8]> = TableDefinition::new("entries");

/// The [`ENTRIES`] table as opened inside a write transaction.
type EntriesTable<'txn> = Table<'txn, &'static str, &'static [u8]>;

/// A durable physical backend: one redb database in a directory only its owner can read.
///
/// Cloning is cheap and shares the open database and its writer thread. Dropping the last clone
/// stops the writer thread and waits for it (at most the commit it is in), so the database file
/// can be opened again right after.
#[derive(Clone)]
pub struct FileBackend {
    shared: Arc<Shared>,
}

/// What every clone of a [`FileBackend`] shares.
struct Shared {
    /// Declared first so it is dropped first: stopping the writer releases its database handle.
    writes: GroupCommit,
    db: Arc<Database>,
    file: PathBuf,
}

impl FileBackend {
    /// Opens the store in directory `path`, creating the directory (mode `0700`) and the
    /// database file [`DB_FILE_NAME`] (mode `0600`) when missing, and tightening either when
    /// it grants more than that. Blocks on file I/O: call it at start-up, not on a hot path.
    ///
    /// A database file can be open only once at a time (this process or another); a second
    /// open fails with [`StorageError::Backend`].
    pub fn open(path: impl AsRef<Path>) -> Result<FileBackend, StorageError> {
        let dir = path.as_ref();
        ensure_private_dir(dir)?;
        let file = dir.join(DB_FILE_NAME);
        ensure_private_file(&file)?;
        let db = Database::create(&file).map_err(|e| match e {
            DatabaseError::DatabaseAlreadyOpen => StorageError::Backend(format!(
                "database file {} is already open (by this or another process)",
                file.display()
            )),
            other => StorageError::Backend(format!(
                "cannot open database file {}: {other}",
                file.display()
            )),
        })?;
        // Create the table up front so that readers can always open it.
        write(&db, |_| Ok(()))?;
        let db = Arc::new(db);
        let writes = GroupCommit::start(Arc::clone(&db))?;
        Ok(FileBackend {
            shared: Arc::new(Shared { writes, db, file }),
        })
    }

    /// The path of the database file.
    pub fn file_path(&self) -> &Path {
        &self.shared.file
    }

    /// How many write transactions the writer thread has committed since [`FileBackend::open`],
    /// each one fsync. Concurrent writes share commits, so under load this grows more slowly
    /// than the number of writes.
    pub fn commit_count(&self) -> u64 {
        self.shared.writes.commit_count()
    }

    /// Runs `f` against the database on the blocking pool.
    async fn blocking<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, StorageError> + Send + 'static,
    {
        let db = Arc::clone(&self.shared.db);
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| StorageError::Backend(format!("storage task failed: {e}")))?
    }
}

impl fmt::Debug for FileBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileBackend")
            .field("file", &self.shared.file)
            .finish_non_exhaustive()
    }
}

/// Maps a redb error to [`StorageError::Backend`], saying what was being done.
fn db_err(doing: &str, e: impl Into<redb::Error>) -> StorageError {
    StorageError::Backend(format!("{doing}: {}", e.into()))
}

/// Runs `apply` in one write transaction and commits it durably (fsync before returning).
/// When `apply` fails, the transaction is dropped uncommitted and nothing is written.
fn write<F>(db: &Database, apply: F) -> Result<(), StorageError>
where
    F: FnOnce(&mut EntriesTable<'_>) -> Result<(), StorageError>,
{
    let mut txn = db
        .begin_write()
        .map_err(|e| db_err("begin write transaction", e))?;
    txn.set_durability(Durability::Immediate)
        .map_err(|e| db_err("set durability", e))?;
    {
        let mut table = txn
            .open_table(ENTRIES)
            .map_err(|e| db_err("open table", e))?;
        apply(&mut table)?;
    }
    txn.commit().map_err(|e| db_err("commit", e))
}

#[async_trait]
impl PhysicalBackend for FileBackend {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let key = key.to_owned();
        self.blocking(move |db| {
            let txn = db
                .begin_read()
                .map_err(|e| db_err("begin read transaction", e))?;
            let table = txn
                .open_table(ENTRIES)
                .map_err(|e| db_err("open table", e))?;
            let value = table.get(key.as_str()).map_err(|e| db_err("read", e))?;
            Ok(value.map(|v| v.value().to_vec()))
        })
        .await
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        validate_key(key)?;
        let op = TxnOp::Put {
            key: key.to_owned(),
            value,
        };
        self.shared.writes.submit(vec![op]).await
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        validate_key(key)?;
        let op = TxnOp::Delete {
            key: key.to_owned(),
        };
        self.shared.writes.submit(vec![op]).await
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
        let prefix = prefix.to_owned();
        let after = after.to_owned();
        self.blocking(move |db| {
            let txn = db
                .begin_read()
                .map_err(|e| db_err("begin read transaction", e))?;
            let table = txn
                .open_table(ENTRIES)
                .map_err(|e| db_err("open table", e))?;
            list_children(&prefix, &after, limit, |from: &str| {
                let range = table
                    .range::<&str>(from..)
                    .map_err(|e| db_err("range scan", e))?;
                Ok(range.map(|entry| {
                    entry
                        .map(|(key, _)| key.value().to_owned())
                        .map_err(|e| db_err("range scan", e))
                }))
            })
        })
        .await
    }

    async fn transaction(&self, ops: Vec<TxnOp>) -> Result<(), StorageError> {
        validate_ops(&ops)?;
        self.shared.writes.submit(ops).await
    }
}

/// Applies `ops` in order to `table` (inside a write transaction the caller commits).
fn apply_ops(table: &mut EntriesTable<'_>, ops: &[TxnOp]) -> Result<(), StorageError> {
    for op in ops {
        match op {
            TxnOp::Put { key, value } => {
                table
                    .insert(key.as_str(), value.as_slice())
                    .map_err(|e| db_err("write", e))?;
            }
            TxnOp::Delete { key } => {
                table
                    .remove(key.as_str())
                    .map_err(|e| db_err("delete", e))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[tokio::test]
    async fn second_open_of_the_same_directory_fails_clearly() {
        let tmp = tempfile::tempdir().unwrap();
        let _first = FileBackend::open(tmp.path()).unwrap();
        let err = FileBackend::open(tmp.path()).unwrap_err();
        assert!(err.to_string().contains("already open"), "{err}");
    }

    #[tokio::test]
    async fn reopen_after_drop_sees_committed_batch() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let backend = FileBackend::open(tmp.path()).unwrap();
            backend
                .transaction(vec![
                    TxnOp::Put {
                        key: "a".into(),
                        value: b"1".to_vec(),
                    },
                    TxnOp::Put {
                        key: "b".into(),
                        value: b"2".to_vec(),
                    },
                    TxnOp::Delete { key: "a".into() },
                ])
                .await
                .unwrap();
        }
        let backend = FileBackend::open(tmp.path()).unwrap();
        assert_eq!(backend.get("a").await.unwrap(), None);
        assert_eq!(backend.get("b").await.unwrap(), Some(b"2".to_vec()));
        assert_eq!(backend.file_path(), tmp.path().join(DB_FILE_NAME));
    }

    #[test]
    fn debug_shows_only_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let backend = FileBackend::open(tmp.path()).unwrap();
        let shown = format!("{backend:?}");
        assert!(shown.starts_with("FileBackend { file: "), "{shown}");
    }
}
