//! [`FileBackend`]: the durable embedded store behind `storage "file" { path = "DIR" }`: one
//! `redb` database file `DIR/arca.redb` holding one table of path → ciphertext, with a
//! write-ahead log `DIR/arca.wal` in front of it.
//!
//! redb is synchronous. A single key's read runs on the calling thread (a few cached pages);
//! listings run on Tokio's blocking pool. Each read has its own read transaction over committed
//! state. Writes (`put`, `delete`, `transaction`) go through [`group_commit`]:
//! one writer thread takes everything queued, applies it in one redb write transaction, appends
//! it to the log ([`wal`]) as one record made durable by one `fdatasync`, commits the
//! transaction without syncing, and only then answers every caller, so a write is on disk
//! before its call returns and concurrent writers share the `fdatasync`. A redb commit with
//! `Durability::Immediate` (a checkpoint) happens only when the log is full and at close.
//!
//! A durable redb commit writes pages all over the database file plus its header and syncs
//! them; a log record is one small write into a file whose size never changes, so its
//! `fdatasync` has no metadata to write. On open, [`recover`] replays the log records the
//! database lacks (each transaction stores its group's sequence number in the [`META`] table)
//! and checkpoints.
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
mod wal;

use group_commit::GroupCommit;
use wal::{LOG_CAPACITY, LOG_FILE_NAME, Log};

/// Name of the database file inside the storage directory.
pub const DB_FILE_NAME: &str = "arca.redb";

/// The one table: storage path → opaque (already encrypted) value.
const ENTRIES: TableDefinition<&str, &[u8]> = TableDefinition::new("entries");

/// The [`ENTRIES`] table as opened inside a write transaction.
type EntriesTable<'txn> = Table<'txn, &'static str, &'static [u8]>;
/// The table of the store's own bookkeeping (the last log record applied).
type MetaTable<'txn> = Table<'txn, &'static str, u64>;

/// The most memory redb keeps for pages it has read or is about to write. Its default is 1 GiB,
/// and with that it held every page it touched: a server filled with 100,000 leases sat at
/// 479 MiB, most of it this cache. At 32 MiB the cache filled during the bench's equal-work
/// run and was a third of the durable server's RSS; at 8 MiB that run ends about 28 MiB
/// lower. The kernel's page cache still serves what falls out of it.
const CACHE_BYTES: usize = 8 * 1024 * 1024;

/// The store's own bookkeeping: [`SEQ_KEY`] → sequence number of the last log record applied.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// The [`META`] key of the last applied log record's sequence number.
const SEQ_KEY: &str = "log_seq";

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
        FileBackend::open_with_log_capacity(path, LOG_CAPACITY)
    }

    /// [`FileBackend::open`] with a log of `capacity` bytes (tests use small ones to make
    /// checkpoints frequent).
    fn open_with_log_capacity(
        path: impl AsRef<Path>,
        capacity: u64,
    ) -> Result<FileBackend, StorageError> {
        let dir = path.as_ref();
        ensure_private_dir(dir)?;
        let file = dir.join(DB_FILE_NAME);
        ensure_private_file(&file)?;
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(&file)
            .map_err(|e| match e {
                DatabaseError::DatabaseAlreadyOpen => StorageError::Backend(format!(
                    "database file {} is already open (by this or another process)",
                    file.display()
                )),
                other => StorageError::Backend(format!(
                    "cannot open database file {}: {other}",
                    file.display()
                )),
            })?;
        // Create the tables up front so that readers can always open them.
        write(&db, |_, _| Ok(()))?;
        let mut log = Log::open(&dir.join(LOG_FILE_NAME), capacity)?;
        let last_seq = recover(&db, &log)?;
        log.prepare()?;
        let db = Arc::new(db);
        let writes = GroupCommit::start(Arc::clone(&db), log, last_seq)?;
        Ok(FileBackend {
            shared: Arc::new(Shared { writes, db, file }),
        })
    }

    /// The path of the database file.
    pub fn file_path(&self) -> &Path {
        &self.shared.file
    }

    /// How many groups of writes the writer thread has made durable since
    /// [`FileBackend::open`], each with one `fdatasync` of the log (or, for a group larger than
    /// the log, one durable database commit). Concurrent writes share groups, so under load this
    /// grows more slowly than the number of writes.
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
    F: FnOnce(&mut EntriesTable<'_>, &mut MetaTable<'_>) -> Result<(), StorageError>,
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
        let mut meta = txn
            .open_table(META)
            .map_err(|e| db_err("open meta table", e))?;
        apply(&mut table, &mut meta)?;
    }
    txn.commit().map_err(|e| db_err("commit", e))
}

/// The sequence number of the last log record the database holds (0 for a new store).
fn applied_seq(db: &Database) -> Result<u64, StorageError> {
    let txn = db
        .begin_read()
        .map_err(|e| db_err("begin read transaction", e))?;
    let meta = txn
        .open_table(META)
        .map_err(|e| db_err("open meta table", e))?;
    let seq = meta
        .get(SEQ_KEY)
        .map_err(|e| db_err("read sequence number", e))?;
    Ok(seq.map_or(0, |v| v.value()))
}

/// Brings the database up to date with `log`: applies, in one durable transaction, every record
/// after the last one the database holds, and returns the sequence number of the last group
/// the database now holds. A log whose chain starts past the next record expected is refused:
/// groups in between would be missing.
fn recover(db: &Database, log: &Log) -> Result<u64, StorageError> {
    let applied = applied_seq(db)?;
    let records = log.records()?;
    let missing: Vec<_> = records.iter().filter(|r| r.seq > applied).collect();
    let Some(first) = missing.first() else {
        return Ok(applied);
    };
    if first.seq != applied + 1 {
        return Err(StorageError::Backend(format!(
            "the log continues at record {} but the database holds records up to {applied}",
            first.seq
        )));
    }
    let last = missing.last().map_or(applied, |r| r.seq);
    write(db, |table, meta| {
        for record in &missing {
            apply_ops(table, &record.ops)?;
        }
        meta.insert(SEQ_KEY, last)
            .map_err(|e| db_err("write sequence number", e))?;
        Ok(())
    })?;
    Ok(last)
}

#[async_trait]
impl PhysicalBackend for FileBackend {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        // On the calling thread, not the blocking pool: one key's read is a few B-tree pages,
        // from redb's cache or the kernel's page cache, microseconds; a hand-off to the pool
        // and back (two thread wake-ups) cost more than the read, several times per request.
        let txn = self
            .shared
            .db
            .begin_read()
            .map_err(|e| db_err("begin read transaction", e))?;
        let table = txn
            .open_table(ENTRIES)
            .map_err(|e| db_err("open table", e))?;
        let value = table.get(key).map_err(|e| db_err("read", e))?;
        Ok(value.map(|v| v.value().to_vec()))
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

    impl FileBackend {
        /// `put` with owned arguments, for futures that outlive a loop variable.
        async fn put_owned(&self, key: String, value: Vec<u8>) -> Result<(), StorageError> {
            self.put(&key, value).await
        }
    }

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

    /// Copies the store's files as a `kill -9` leaves them: the process gone, everything it
    /// wrote (synced or not) in the files, nothing it only held in memory.
    fn crash_copy(from: &Path) -> tempfile::TempDir {
        let to = tempfile::tempdir().unwrap();
        for name in [DB_FILE_NAME, LOG_FILE_NAME] {
            std::fs::copy(from.join(name), to.path().join(name)).unwrap();
        }
        to
    }

    fn value(i: usize) -> Vec<u8> {
        format!("value-{i}-{}", "x".repeat(i % 50)).into_bytes()
    }

    /// Offset just past the last non-zero byte of the log: the end of its last record.
    fn log_end(dir: &Path) -> usize {
        let bytes = std::fs::read(dir.join(LOG_FILE_NAME)).unwrap();
        bytes.iter().rposition(|b| *b != 0).unwrap() + 1
    }

    #[tokio::test]
    async fn acknowledged_writes_survive_a_crash_through_the_log() {
        let tmp = tempfile::tempdir().unwrap();
        let backend = FileBackend::open(tmp.path()).unwrap();
        backend.put("a", b"1".to_vec()).await.unwrap();
        backend
            .transaction(vec![
                TxnOp::Put {
                    key: "b".into(),
                    value: b"2".to_vec(),
                },
                TxnOp::Put {
                    key: "c".into(),
                    value: b"3".to_vec(),
                },
            ])
            .await
            .unwrap();
        backend.delete("c").await.unwrap();
        let crashed = crash_copy(tmp.path());

        // The database file alone has none of it: the log is what made the writes durable.
        let db_only = tempfile::tempdir().unwrap();
        std::fs::copy(
            crashed.path().join(DB_FILE_NAME),
            db_only.path().join(DB_FILE_NAME),
        )
        .unwrap();
        let without_log = FileBackend::open(db_only.path()).unwrap();
        assert_eq!(without_log.get("a").await.unwrap(), None);

        let recovered = FileBackend::open(crashed.path()).unwrap();
        assert_eq!(recovered.get("a").await.unwrap(), Some(b"1".to_vec()));
        assert_eq!(recovered.get("b").await.unwrap(), Some(b"2".to_vec()));
        assert_eq!(recovered.get("c").await.unwrap(), None);
        // Recovery checkpointed: the records are in the database, and later writes follow.
        recovered.put("d", b"4".to_vec()).await.unwrap();
        drop(recovered);
        let reopened = FileBackend::open(crashed.path()).unwrap();
        assert_eq!(reopened.list("").await.unwrap(), ["a", "b", "d"]);
        drop(backend);
    }

    #[tokio::test]
    async fn a_torn_last_record_is_ignored_and_everything_before_it_is_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let backend = FileBackend::open(tmp.path()).unwrap();
        for i in 1..=5 {
            backend.put(&format!("k{i}"), value(i)).await.unwrap();
        }
        for tear in ["flip the last byte", "zero the tail", "cut the file"] {
            let crashed = crash_copy(tmp.path());
            let log = crashed.path().join(LOG_FILE_NAME);
            let end = log_end(crashed.path());
            let mut bytes = std::fs::read(&log).unwrap();
            match tear {
                "flip the last byte" => bytes[end - 1] ^= 0xff,
                "zero the tail" => bytes[end - 4..end].fill(0),
                _ => bytes.truncate(end - 4),
            }
            std::fs::write(&log, &bytes).unwrap();

            let recovered = FileBackend::open(crashed.path()).unwrap();
            for i in 1..=4 {
                assert_eq!(
                    recovered.get(&format!("k{i}")).await.unwrap(),
                    Some(value(i)),
                    "{tear}: k{i}"
                );
            }
            assert_eq!(recovered.get("k5").await.unwrap(), None, "{tear}");
            // New records overwrite the torn one; a second crash keeps them.
            recovered.put("k6", value(6)).await.unwrap();
            let again = crash_copy(crashed.path());
            drop(recovered);
            let recovered = FileBackend::open(again.path()).unwrap();
            assert_eq!(
                recovered.list("").await.unwrap(),
                ["k1", "k2", "k3", "k4", "k6"],
                "{tear}"
            );
        }
    }

    #[tokio::test]
    async fn writes_across_checkpoints_survive_a_crash_and_a_reopen() {
        const KEYS: usize = 300;
        let tmp = tempfile::tempdir().unwrap();
        // A log of 4 KiB holds a few dozen of these records: many checkpoints.
        let backend = FileBackend::open_with_log_capacity(tmp.path(), 4096).unwrap();
        for i in 0..KEYS {
            backend.put(&format!("k{i:03}"), value(i)).await.unwrap();
            if i % 7 == 0 {
                backend.delete(&format!("k{:03}", i / 2)).await.unwrap();
            }
        }
        // One group larger than the whole log is committed durably without it.
        backend.put("big", vec![7; 10_000]).await.unwrap();
        backend.put("after-big", b"x".to_vec()).await.unwrap();
        let expected = |i: usize| (0..KEYS).step_by(7).all(|j| j / 2 != i);
        let check = |b: FileBackend, what: &'static str| async move {
            for i in 0..KEYS {
                let want = expected(i).then(|| value(i));
                assert_eq!(
                    b.get(&format!("k{i:03}")).await.unwrap(),
                    want,
                    "{what}: k{i}"
                );
            }
            assert_eq!(b.get("big").await.unwrap(), Some(vec![7; 10_000]), "{what}");
            assert_eq!(
                b.get("after-big").await.unwrap(),
                Some(b"x".to_vec()),
                "{what}"
            );
        };
        let crashed = crash_copy(tmp.path());
        check(FileBackend::open(crashed.path()).unwrap(), "after a crash").await;
        drop(backend);
        check(
            FileBackend::open(tmp.path()).unwrap(),
            "after a clean close",
        )
        .await;
    }

    #[tokio::test]
    async fn concurrent_writes_share_log_records_and_all_survive_a_crash() {
        let tmp = tempfile::tempdir().unwrap();
        let backend = FileBackend::open(tmp.path()).unwrap();
        let writes = (0..200).map(|i| backend.put_owned(format!("c{i:03}"), value(i)));
        let results = futures::future::join_all(writes).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let groups = backend.commit_count();
        assert!((1..50).contains(&groups), "200 writes in {groups} groups");
        let crashed = crash_copy(tmp.path());
        let recovered = FileBackend::open(crashed.path()).unwrap();
        for i in 0..200 {
            assert_eq!(
                recovered.get(&format!("c{i:03}")).await.unwrap(),
                Some(value(i))
            );
        }
        drop(backend);
    }

    #[test]
    fn debug_shows_only_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let backend = FileBackend::open(tmp.path()).unwrap();
        let shown = format!("{backend:?}");
        assert!(shown.starts_with("FileBackend { file: "), "{shown}");
    }
}
