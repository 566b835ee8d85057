//! Group commit for [`FileBackend`](super::FileBackend): every write is queued to one writer
//! thread, which takes everything queued, applies it in one redb write transaction, appends the
//! group's operations to the write-ahead [`Log`] as one record made durable by one
//! `fdatasync`, commits the transaction without syncing (`Durability::None`: readers see it,
//! nothing is written to the database file yet), and only then answers each waiting caller.
//!
//! Every transaction also records the group's sequence number in the [`META`](super::META)
//! table, so the database knows which log records it holds. When the next record would not fit
//! in the log, the writer checkpoints: one durable redb commit (`Durability::Immediate`), then
//! the log starts over. A group larger than the whole log skips the log and is committed
//! durably on its own. On drop the writer checkpoints once more. Recovery (records the database
//! lacks replayed on open) is in [`super::recover`].
//!
//! Guarantees:
//! - A caller is answered `Ok` only after its operations are in a log record that has been
//!   `fdatasync`ed (or in a durable redb commit).
//! - Each caller's operations are a unit: they are validated before anything is applied, applied
//!   in order, and either all committed or none. When the combined transaction of a batch fails,
//!   every caller of the batch is retried in a transaction (and record) of its own, so each gets
//!   the result of its own operations and a failing caller cannot fail the others.
//! - Callers are applied in queue order, so of two writes to one key the later-queued one wins;
//!   a caller that waits for each write before the next keeps its own writes in order.
//! - Once a log write or a commit after it fails, the log and the database may disagree, so the
//!   writer refuses every later write: the store must be opened again, which replays the log.
//!   The callers of the failed group get an error, but their record may still be replayed.
//!
//! No batching delay is added: a batch is whatever queued up while the previous group was
//! written, so a lone writer pays one `fdatasync` per write and many writers share each one.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;

use redb::{Database, Durability};
use tokio::sync::oneshot;

use super::wal::{Log, RecordBuf};
use super::{EntriesTable, META, SEQ_KEY, apply_ops, db_err};
use crate::{StorageError, TxnOp, validate_ops};

/// At most this many callers share one write transaction.
const MAX_BATCH_CALLERS: usize = 1024;

/// A batch stops taking callers once their values add up to this many bytes (at least one
/// caller is always taken, whatever its size).
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// How the writer applies one caller's operations inside a write transaction.
pub(super) type ApplyFn = fn(&mut EntriesTable<'_>, &[TxnOp]) -> Result<(), StorageError>;

/// One caller's operations and where its result goes.
struct Request {
    ops: Vec<TxnOp>,
    reply: oneshot::Sender<Result<(), StorageError>>,
}

impl Request {
    /// Roughly how many bytes this request writes, for [`MAX_BATCH_BYTES`].
    fn size(&self) -> usize {
        self.ops
            .iter()
            .map(|op| match op {
                TxnOp::Put { key, value } => key.len() + value.len(),
                TxnOp::Delete { key } => key.len(),
            })
            .sum()
    }

    /// Sends `result` to the caller; a caller that stopped waiting is not an error.
    fn answer(self, result: Result<(), StorageError>) {
        let _ = self.reply.send(result);
    }
}

/// The handle on the writer thread: submits operations, and on drop stops the thread and waits
/// for it to finish what was queued and checkpoint.
pub(super) struct GroupCommit {
    /// `None` only while dropping, to close the queue before joining the thread.
    queue: Option<mpsc::Sender<Request>>,
    writer: Option<thread::JoinHandle<()>>,
    commits: Arc<AtomicU64>,
}

impl GroupCommit {
    /// Starts the writer thread for `db` and its recovered, prepared `log`; the last group
    /// the database holds is `last_seq`.
    pub(super) fn start(
        db: Arc<Database>,
        log: Log,
        last_seq: u64,
    ) -> Result<GroupCommit, StorageError> {
        GroupCommit::start_with(db, log, last_seq, apply_ops)
    }

    /// [`GroupCommit::start`], applying each caller's operations with `apply`.
    pub(super) fn start_with(
        db: Arc<Database>,
        log: Log,
        last_seq: u64,
        apply: ApplyFn,
    ) -> Result<GroupCommit, StorageError> {
        let (queue, requests) = mpsc::channel();
        let commits = Arc::new(AtomicU64::new(0));
        let writer = Writer {
            db,
            log,
            next_seq: last_seq + 1,
            apply,
            commits: Arc::clone(&commits),
            broken: None,
        };
        let writer = thread::Builder::new()
            .name("arca-storage-writer".to_owned())
            .spawn(move || writer.run(&requests))
            .map_err(|e| StorageError::Backend(format!("cannot start the writer thread: {e}")))?;
        Ok(GroupCommit {
            queue: Some(queue),
            writer: Some(writer),
            commits,
        })
    }

    /// Queues `ops` as one unit and waits until they are durable (or failed).
    pub(super) async fn submit(&self, ops: Vec<TxnOp>) -> Result<(), StorageError> {
        let (reply, result) = oneshot::channel();
        let stopped = || StorageError::Backend("the storage writer thread has stopped".to_owned());
        self.queue
            .as_ref()
            .ok_or_else(stopped)?
            .send(Request { ops, reply })
            .map_err(|_| stopped())?;
        result.await.map_err(|_| stopped())?
    }

    /// How many groups the writer has made durable, each with one `fdatasync` (log record) or
    /// one durable commit.
    pub(super) fn commit_count(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        // Closing the queue ends the writer's loop once it has drained what is queued.
        drop(self.queue.take());
        if let Some(writer) = self.writer.take() {
            // A panicked writer has already failed its callers; nothing is left to report.
            let _ = writer.join();
        }
    }
}

/// Why a group was not made durable.
enum GroupError {
    /// Nothing was logged or committed: the group may be retried caller by caller.
    NotApplied(StorageError),
    /// The log or the database may hold the group: the writer must stop taking writes.
    Broken(StorageError),
}

/// The writer thread's state.
struct Writer {
    db: Arc<Database>,
    log: Log,
    /// Sequence number of the next group.
    next_seq: u64,
    apply: ApplyFn,
    commits: Arc<AtomicU64>,
    /// Set once a log write or a commit after it failed: every later write is refused.
    broken: Option<String>,
}

impl Writer {
    /// Commits batch after batch until the queue is closed and empty, then checkpoints.
    fn run(mut self, requests: &mpsc::Receiver<Request>) {
        while let Ok(first) = requests.recv() {
            let mut bytes = first.size();
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH_CALLERS && bytes < MAX_BATCH_BYTES {
                match requests.try_recv() {
                    Ok(next) => {
                        bytes += next.size();
                        batch.push(next);
                    }
                    Err(_) => break,
                }
            }
            self.commit_batch(batch);
        }
        if self.broken.is_none() {
            // A failed checkpoint leaves the records in the log, replayed on the next open.
            let _ = self.checkpoint();
        }
    }

    /// Commits one batch and answers each of its callers.
    fn commit_batch(&mut self, batch: Vec<Request>) {
        let mut valid = Vec::with_capacity(batch.len());
        for request in batch {
            match self.refusal() {
                Some(e) => request.answer(Err(e)),
                None => match validate_ops(&request.ops) {
                    Ok(()) => valid.push(request),
                    Err(e) => request.answer(Err(e)),
                },
            }
        }
        if valid.len() > 1 {
            match self.commit_group(&valid) {
                Ok(()) => {
                    valid.into_iter().for_each(|request| request.answer(Ok(())));
                    return;
                }
                Err(GroupError::Broken(e)) => {
                    let reason = e.to_string();
                    valid.into_iter().for_each(|request| {
                        request.answer(Err(StorageError::Backend(reason.clone())));
                    });
                    return;
                }
                Err(GroupError::NotApplied(_)) => {}
            }
        }
        // A lone caller, or a batch whose combined transaction failed: one group each.
        for request in valid {
            let result = match self.refusal() {
                Some(e) => Err(e),
                None => self
                    .commit_group(std::slice::from_ref(&request))
                    .map_err(|(GroupError::NotApplied(e) | GroupError::Broken(e))| e),
            };
            request.answer(result);
        }
    }

    /// The error every write gets once the writer is broken.
    fn refusal(&self) -> Option<StorageError> {
        self.broken.as_ref().map(|reason| {
            StorageError::Backend(format!(
                "storage refuses writes after a failed log write ({reason}); restart to recover"
            ))
        })
    }

    /// Makes `requests` durable as one group: applied in one transaction, logged as one record
    /// (one `fdatasync`), committed without sync. Marks the writer broken when the log or the
    /// database may be left holding a group its callers are told failed.
    fn commit_group(&mut self, requests: &[Request]) -> Result<(), GroupError> {
        let seq = self.next_seq;
        let mut record = RecordBuf::new();
        for request in requests {
            record
                .push_ops(&request.ops)
                .map_err(GroupError::NotApplied)?;
        }
        let record = record.finish(seq).map_err(GroupError::NotApplied)?;
        if !self.log.fits(record.len()) {
            self.checkpoint().map_err(GroupError::NotApplied)?;
        }
        let logged = self.log.can_ever_hold(record.len());

        let mut txn = self
            .db
            .begin_write()
            .map_err(|e| GroupError::NotApplied(db_err("begin write transaction", e)))?;
        let durability = if logged {
            Durability::None
        } else {
            Durability::Immediate
        };
        txn.set_durability(durability)
            .map_err(|e| GroupError::NotApplied(db_err("set durability", e)))?;
        {
            let mut table = txn
                .open_table(super::ENTRIES)
                .map_err(|e| GroupError::NotApplied(db_err("open table", e)))?;
            for request in requests {
                (self.apply)(&mut table, &request.ops).map_err(GroupError::NotApplied)?;
            }
            let mut meta = txn
                .open_table(META)
                .map_err(|e| GroupError::NotApplied(db_err("open meta table", e)))?;
            meta.insert(SEQ_KEY, seq)
                .map_err(|e| GroupError::NotApplied(db_err("write sequence number", e)))?;
        }
        if logged {
            if let Err(e) = self.log.append(&record) {
                return Err(self.break_with(e));
            }
            if let Err(e) = txn.commit() {
                return Err(self.break_with(db_err("commit", e)));
            }
        } else {
            txn.commit()
                .map_err(|e| GroupError::NotApplied(db_err("commit", e)))?;
        }
        self.next_seq += 1;
        self.commits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Marks the writer broken by `e` and returns it as [`GroupError::Broken`].
    fn break_with(&mut self, e: StorageError) -> GroupError {
        self.broken = Some(e.to_string());
        GroupError::Broken(e)
    }

    /// Commits everything so far durably (one empty transaction with `Durability::Immediate`
    /// persists the groups committed without sync before it), then starts the log over.
    fn checkpoint(&mut self) -> Result<(), StorageError> {
        if self.log.used() == 0 {
            return Ok(());
        }
        let mut txn = self
            .db
            .begin_write()
            .map_err(|e| db_err("begin write transaction", e))?;
        txn.set_durability(Durability::Immediate)
            .map_err(|e| db_err("set durability", e))?;
        txn.commit().map_err(|e| db_err("checkpoint commit", e))?;
        self.log.reset();
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use futures::future::join_all;
    use redb::ReadableDatabase;

    use super::super::{ENTRIES, write};
    use super::*;

    /// The key [`apply_or_fail_on_poison`] refuses inside the transaction.
    const POISON: &str = "poison";

    /// Like [`apply_ops`], but fails (after applying what came before) at a put of [`POISON`],
    /// as a database error would: it gets past validation and fails the write transaction.
    fn apply_or_fail_on_poison(
        table: &mut EntriesTable<'_>,
        ops: &[TxnOp],
    ) -> Result<(), StorageError> {
        for op in ops {
            if op.key() == POISON {
                return Err(StorageError::Backend("poisoned write".to_owned()));
            }
            apply_ops(table, std::slice::from_ref(op))?;
        }
        Ok(())
    }

    fn open(dir: &tempfile::TempDir) -> Arc<Database> {
        let db = Database::create(dir.path().join("test.redb")).unwrap();
        write(&db, |_, _| Ok(())).unwrap();
        Arc::new(db)
    }

    /// A writer for `db` with a fresh log in `dir`, applying with `apply`.
    fn start(dir: &tempfile::TempDir, db: &Arc<Database>, apply: ApplyFn) -> GroupCommit {
        let mut log = Log::open(&dir.path().join("test.wal"), 1024 * 1024).unwrap();
        log.prepare().unwrap();
        GroupCommit::start_with(Arc::clone(db), log, 0, apply).unwrap()
    }

    fn read(db: &Database, key: &str) -> Option<Vec<u8>> {
        let txn = db.begin_read().unwrap();
        let table = txn.open_table(ENTRIES).unwrap();
        table.get(key).unwrap().map(|v| v.value().to_vec())
    }

    fn put(key: &str, value: &[u8]) -> TxnOp {
        TxnOp::Put {
            key: key.to_owned(),
            value: value.to_vec(),
        }
    }

    /// Submits every batch of `ops` at once from its own future and returns each result.
    async fn submit_all(
        commit: &GroupCommit,
        batches: Vec<Vec<TxnOp>>,
    ) -> Vec<Result<(), StorageError>> {
        join_all(batches.into_iter().map(|ops| commit.submit(ops))).await
    }

    #[tokio::test]
    async fn a_failing_caller_does_not_fail_the_rest_of_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir);
        let commit = start(&dir, &db, apply_or_fail_on_poison);
        // Round after round, so that some rounds surely share a batch with the failing callers.
        for round in 0..20 {
            let mut batches: Vec<Vec<TxnOp>> = (0..8)
                .map(|i| vec![put(&format!("r{round}/ok{i}"), b"v")])
                .collect();
            batches.insert(
                3,
                vec![
                    put(&format!("r{round}/before-poison"), b"x"),
                    put(POISON, b"x"),
                ],
            );
            batches.insert(
                6,
                vec![put(&format!("r{round}/before-empty"), b"x"), put("", b"x")],
            );
            let results = submit_all(&commit, batches).await;
            for (i, result) in results.iter().enumerate() {
                match i {
                    3 => assert!(
                        matches!(result, Err(StorageError::Backend(m)) if m == "poisoned write"),
                        "{result:?}"
                    ),
                    6 => assert!(
                        matches!(result, Err(StorageError::InvalidKey(_))),
                        "{result:?}"
                    ),
                    _ => assert!(result.is_ok(), "caller {i} of round {round}: {result:?}"),
                }
            }
            for i in 0..8 {
                assert_eq!(read(&db, &format!("r{round}/ok{i}")), Some(b"v".to_vec()));
            }
            assert_eq!(read(&db, &format!("r{round}/before-poison")), None);
            assert_eq!(read(&db, &format!("r{round}/before-empty")), None);
            assert_eq!(read(&db, POISON), None);
        }
    }

    #[tokio::test]
    async fn concurrent_callers_share_commits() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir);
        let commit = start(&dir, &db, apply_ops);
        let batches = (0..200)
            .map(|i| vec![put(&format!("k{i:03}"), b"v")])
            .collect();
        let results = submit_all(&commit, batches).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        // join_all queues all 200 before the writer can have committed more than a few.
        let commits = commit.commit_count();
        assert!(
            (1..50).contains(&commits),
            "200 writes in {commits} commits"
        );
        for i in 0..200 {
            assert_eq!(read(&db, &format!("k{i:03}")), Some(b"v".to_vec()));
        }
    }

    #[tokio::test]
    async fn later_callers_win_and_each_callers_ops_keep_their_order() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir);
        let commit = start(&dir, &db, apply_ops);
        let batches = (0..50u8)
            .map(|i| {
                vec![
                    put("shared", &[i]),
                    put(&format!("own{i}"), b"first"),
                    TxnOp::Delete {
                        key: format!("own{i}"),
                    },
                    put(&format!("own{i}"), &[i]),
                ]
            })
            .collect();
        let results = submit_all(&commit, batches).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(read(&db, "shared"), Some(vec![49]), "the last queued wins");
        for i in 0..50u8 {
            assert_eq!(read(&db, &format!("own{i}")), Some(vec![i]));
        }
    }

    #[test]
    fn drop_drains_the_queue_and_releases_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir);
        let commit = start(&dir, &db, apply_ops);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime
            .block_on(commit.submit(vec![put("k", b"v")]))
            .unwrap();
        drop(commit);
        assert_eq!(
            Arc::strong_count(&db),
            1,
            "the writer thread has let go of the database"
        );
    }
}
