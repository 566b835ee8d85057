//! The Raft log and the vote, in one redb file (`raft.db`). Every append, truncation and vote
//! is committed with `Durability::Immediate` (fsync) before openraft is told it is done, so an
//! entry a node acknowledged survives a crash.
#![allow(
    clippy::result_large_err,
    reason = "openraft's storage traits return its large `StorageError`; the helpers here share it"
)]

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{Entry, LogId, LogState, RaftLogReader, StorageError, Vote};
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
};

use crate::error::sto_err;
use crate::perms;
use crate::types::TypeConfig;

/// Log entries by index, JSON-encoded.
const LOGS: TableDefinition<u64, &[u8]> = TableDefinition::new("logs");
/// `vote`, `committed`, `purged`, JSON-encoded.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// File name of the log database.
pub const LOG_FILE: &str = "raft.db";

type Result<T> = std::result::Result<T, StorageError<u64>>;

/// The log store; clones share the database (the clone is the log reader).
#[derive(Clone)]
pub struct LogStore {
    db: Arc<Database>,
}

impl LogStore {
    /// Opens (or creates) `<dir>/raft.db`.
    pub(crate) fn open(dir: &Path) -> std::result::Result<Self, crate::RaftStorageError> {
        let path = dir.join(LOG_FILE);
        perms::ensure_private_file(&path)?;
        let db = crate::state_machine::open_db(&path)?;
        let txn = db
            .begin_write()
            .map_err(|e| crate::RaftStorageError::Storage(e.to_string()))?;
        {
            txn.open_table(LOGS)
                .map_err(|e| crate::RaftStorageError::Storage(e.to_string()))?;
            txn.open_table(META)
                .map_err(|e| crate::RaftStorageError::Storage(e.to_string()))?;
        }
        txn.commit()
            .map_err(|e| crate::RaftStorageError::Storage(e.to_string()))?;
        Ok(Self { db: Arc::new(db) })
    }

    fn read_meta<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let txn = self.db.begin_read().map_err(sto_err)?;
        let table = txn.open_table(META).map_err(sto_err)?;
        match table.get(key).map_err(sto_err)? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(v.value()).map(Some).map_err(sto_err),
        }
    }

    /// Runs `f` in one durable write transaction on a blocking thread.
    async fn write<F>(&self, durability: Durability, f: F) -> Result<()>
    where
        F: FnOnce(&redb::WriteTransaction) -> Result<()> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut txn = db.begin_write().map_err(sto_err)?;
            txn.set_durability(durability).map_err(sto_err)?;
            f(&txn)?;
            txn.commit().map_err(sto_err)
        })
        .await
        .map_err(sto_err)?
    }

    async fn write_meta<T: serde::Serialize>(
        &self,
        key: &'static str,
        value: &T,
        durability: Durability,
    ) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(sto_err)?;
        self.write(durability, move |txn| {
            let mut table = txn.open_table(META).map_err(sto_err)?;
            table.insert(key, bytes.as_slice()).map_err(sto_err)?;
            Ok(())
        })
        .await
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>> {
        let start = match range.start_bound() {
            Bound::Included(i) => Bound::Included(*i),
            Bound::Excluded(i) => Bound::Excluded(*i),
            Bound::Unbounded => Bound::Unbounded,
        };
        let end = match range.end_bound() {
            Bound::Included(i) => Bound::Included(*i),
            Bound::Excluded(i) => Bound::Excluded(*i),
            Bound::Unbounded => Bound::Unbounded,
        };
        let txn = self.db.begin_read().map_err(sto_err)?;
        let table = txn.open_table(LOGS).map_err(sto_err)?;
        let mut out = Vec::new();
        for item in table.range::<u64>((start, end)).map_err(sto_err)? {
            let (_, v) = item.map_err(sto_err)?;
            out.push(serde_json::from_slice(v.value()).map_err(sto_err)?);
        }
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>> {
        let purged: Option<LogId<u64>> = self.read_meta("purged")?;
        let txn = self.db.begin_read().map_err(sto_err)?;
        let table = txn.open_table(LOGS).map_err(sto_err)?;
        let last = match table.last().map_err(sto_err)? {
            Some((_, v)) => {
                let entry: Entry<TypeConfig> =
                    serde_json::from_slice(v.value()).map_err(sto_err)?;
                Some(entry.log_id)
            }
            None => purged,
        };
        Ok(LogState {
            last_purged_log_id: purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<()> {
        self.write_meta("vote", vote, Durability::Immediate).await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>> {
        self.read_meta("vote")
    }

    async fn save_committed(&mut self, committed: Option<LogId<u64>>) -> Result<()> {
        // Only an optimisation for restarts: made durable by the next durable commit.
        self.write_meta("committed", &committed, Durability::None)
            .await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<u64>>> {
        Ok(self.read_meta::<Option<LogId<u64>>>("committed")?.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<()>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let mut encoded = Vec::new();
        for entry in entries {
            let bytes = serde_json::to_vec(&entry).map_err(sto_err)?;
            encoded.push((entry.log_id.index, bytes));
        }
        let res = self
            .write(Durability::Immediate, move |txn| {
                let mut table = txn.open_table(LOGS).map_err(sto_err)?;
                for (index, bytes) in &encoded {
                    table.insert(*index, bytes.as_slice()).map_err(sto_err)?;
                }
                Ok(())
            })
            .await;
        match res {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(e)
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<()> {
        let from = log_id.index;
        self.write(Durability::Immediate, move |txn| {
            let mut table = txn.open_table(LOGS).map_err(sto_err)?;
            table.retain_in(from.., |_, _| false).map_err(sto_err)?;
            Ok(())
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<()> {
        let bytes = serde_json::to_vec(&Some(log_id)).map_err(sto_err)?;
        let upto = log_id.index;
        self.write(Durability::Immediate, move |txn| {
            let mut meta = txn.open_table(META).map_err(sto_err)?;
            meta.insert("purged", bytes.as_slice()).map_err(sto_err)?;
            let mut table = txn.open_table(LOGS).map_err(sto_err)?;
            table.retain_in(..=upto, |_, _| false).map_err(sto_err)?;
            Ok(())
        })
        .await
    }
}

impl LogStore {
    /// The number of entries currently in the log (for tests and diagnostics).
    pub fn len(&self) -> std::result::Result<u64, crate::RaftStorageError> {
        let txn = self
            .db
            .begin_read()
            .map_err(|e| crate::RaftStorageError::Storage(e.to_string()))?;
        let table = txn
            .open_table(LOGS)
            .map_err(|e| crate::RaftStorageError::Storage(e.to_string()))?;
        table
            .len()
            .map_err(|e| crate::RaftStorageError::Storage(e.to_string()))
    }
}
