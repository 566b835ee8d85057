//! The state machine, in its own redb file (`fsm.db`): the key/value data, the last applied
//! log id, the last membership and the HA lock record, all changed together in one durable
//! commit per applied batch. The current snapshot is kept beside it (`snapshot.bin`).
#![allow(
    clippy::result_large_err,
    reason = "openraft's storage traits return its large `StorageError`; the helpers here share it"
)]

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    Entry, EntryPayload, LogId, RaftSnapshotBuilder, SnapshotMeta, StorageError, StoredMembership,
};
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
};
use tokio::sync::watch;

use crate::RaftStorageError;
use crate::error::sto_err;
use crate::perms;
use crate::snapshot::{self, Encoder, SnapshotHeader};
use crate::types::{Command, CommandResponse, HaRecord, Op, PeerNode, TypeConfig};

/// The key/value data.
const DATA: TableDefinition<&str, &[u8]> = TableDefinition::new("data");
/// `last_applied`, `membership`, `ha_lock`, JSON-encoded.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// File name of the state machine database.
pub const FSM_FILE: &str = "fsm.db";
/// File name of the current snapshot.
pub const SNAPSHOT_FILE: &str = "snapshot.bin";

type Result<T> = std::result::Result<T, StorageError<u64>>;

fn rse(e: impl std::fmt::Display) -> RaftStorageError {
    RaftStorageError::Storage(e.to_string())
}

/// Opens (or creates) a redb database, waiting a little while an instance of the same node
/// that is shutting down in this process still holds it.
pub(crate) fn open_db(path: &Path) -> std::result::Result<Database, RaftStorageError> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match Database::create(path) {
            Ok(db) => return Ok(db),
            Err(redb::DatabaseError::DatabaseAlreadyOpen)
                if std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => {
                return Err(RaftStorageError::Storage(format!(
                    "cannot open {}: {e}",
                    path.display()
                )));
            }
        }
    }
}

struct Shared {
    db: Database,
    dir: PathBuf,
    /// The last applied log index, for `wait_for_index`.
    applied: watch::Sender<u64>,
    /// How many snapshots were installed from the leader.
    installs: AtomicU64,
}

/// The state machine; clones share it (the node reads through a clone while openraft applies
/// through another).
#[derive(Clone)]
pub struct StateMachineStore {
    shared: Arc<Shared>,
}

impl StateMachineStore {
    /// Opens (or creates) `<dir>/fsm.db`.
    pub(crate) fn open(dir: &Path) -> std::result::Result<Self, RaftStorageError> {
        let path = dir.join(FSM_FILE);
        perms::ensure_private_file(&path)?;
        let db = open_db(&path)?;
        let txn = db.begin_write().map_err(rse)?;
        {
            txn.open_table(DATA).map_err(rse)?;
            txn.open_table(META).map_err(rse)?;
        }
        txn.commit().map_err(rse)?;
        let sm = Self {
            shared: Arc::new(Shared {
                db,
                dir: dir.to_owned(),
                applied: watch::channel(0).0,
                installs: AtomicU64::new(0),
            }),
        };
        let applied = sm
            .read_meta::<LogId<u64>>("last_applied")
            .map_err(rse)?
            .map_or(0, |l| l.index);
        sm.shared.applied.send_replace(applied);
        Ok(sm)
    }

    fn read_meta<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let txn = self.shared.db.begin_read().map_err(sto_err)?;
        let table = txn.open_table(META).map_err(sto_err)?;
        match table.get(key).map_err(sto_err)? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(v.value()).map(Some).map_err(sto_err),
        }
    }

    /// The value at `key`.
    pub(crate) fn get(&self, key: &str) -> std::result::Result<Option<Vec<u8>>, RaftStorageError> {
        let txn = self.shared.db.begin_read().map_err(rse)?;
        let table = txn.open_table(DATA).map_err(rse)?;
        Ok(table.get(key).map_err(rse)?.map(|v| v.value().to_vec()))
    }

    /// The immediate children of `prefix` after `after`, at most `limit` (0 = all).
    pub(crate) fn list(
        &self,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> std::result::Result<Vec<String>, RaftStorageError> {
        let txn = self.shared.db.begin_read().map_err(rse)?;
        let table = txn.open_table(DATA).map_err(rse)?;
        let mut out: Vec<String> = Vec::new();
        let mut from = format!("{prefix}{after}");
        'seek: loop {
            for item in table.range::<&str>(from.as_str()..).map_err(rse)? {
                let (k, _) = item.map_err(rse)?;
                let key = k.value();
                let Some(rest) = key.strip_prefix(prefix) else {
                    break 'seek;
                };
                if rest.is_empty() {
                    continue;
                }
                let (child, dir) = match rest.find('/') {
                    Some(i) => (&rest[..=i], Some(&rest[..i])),
                    None => (rest, None),
                };
                if after.is_empty() || child > after {
                    out.push(child.to_owned());
                    if limit > 0 && out.len() >= limit {
                        break 'seek;
                    }
                }
                if let Some(name) = dir {
                    // Every key under `prefix name/` sorts below `prefix name0`.
                    from = format!("{prefix}{name}0");
                    continue 'seek;
                }
            }
            break;
        }
        Ok(out)
    }

    /// The HA lock record.
    pub(crate) fn ha_lock(&self) -> std::result::Result<Option<HaRecord>, RaftStorageError> {
        Ok(self
            .read_meta::<Option<HaRecord>>("ha_lock")
            .map_err(rse)?
            .flatten())
    }

    /// A watch of the last applied index.
    pub(crate) fn applied(&self) -> watch::Receiver<u64> {
        self.shared.applied.subscribe()
    }

    /// How many snapshots this node installed from a leader since it started.
    pub(crate) fn snapshot_installs(&self) -> u64 {
        self.shared.installs.load(Ordering::Relaxed)
    }

    /// Encodes the whole state machine as of one read transaction.
    pub(crate) fn encode(
        &self,
        snapshot_id: Option<String>,
    ) -> std::result::Result<(SnapshotMeta<u64, PeerNode>, Vec<u8>), RaftStorageError> {
        let txn = self.shared.db.begin_read().map_err(rse)?;
        let meta_t = txn.open_table(META).map_err(rse)?;
        let get = |k: &str| -> std::result::Result<Option<Vec<u8>>, RaftStorageError> {
            Ok(meta_t.get(k).map_err(rse)?.map(|v| v.value().to_vec()))
        };
        let last_applied: Option<LogId<u64>> = match get("last_applied")? {
            Some(b) => serde_json::from_slice(&b).map_err(rse)?,
            None => None,
        };
        let membership: StoredMembership<u64, PeerNode> = match get("membership")? {
            Some(b) => serde_json::from_slice(&b).map_err(rse)?,
            None => StoredMembership::default(),
        };
        let ha_lock: Option<HaRecord> = match get("ha_lock")? {
            Some(b) => serde_json::from_slice(&b).map_err(rse)?,
            None => None,
        };
        let data = txn.open_table(DATA).map_err(rse)?;
        let count = data.len().map_err(rse)?;
        let snapshot_id = snapshot_id.unwrap_or_else(|| {
            let (term, index) = last_applied.map_or((0, 0), |l| (l.leader_id.term, l.index));
            format!("{term}-{index}-{}", uuid::Uuid::new_v4().simple())
        });
        let meta = SnapshotMeta {
            last_log_id: last_applied,
            last_membership: membership,
            snapshot_id,
        };
        let mut enc = Encoder::new(&SnapshotHeader {
            meta: meta.clone(),
            ha_lock,
            count,
        })?;
        for item in data.iter().map_err(rse)? {
            let (k, v) = item.map_err(rse)?;
            enc.pair(k.value(), v.value())?;
        }
        Ok((meta, enc.finish()))
    }

    fn write_blocking<F, T>(&self, f: F) -> std::result::Result<T, RaftStorageError>
    where
        F: FnOnce(&redb::WriteTransaction) -> std::result::Result<T, RaftStorageError>,
    {
        let mut txn = self.shared.db.begin_write().map_err(rse)?;
        txn.set_durability(Durability::Immediate).map_err(rse)?;
        let out = f(&txn)?;
        txn.commit().map_err(rse)?;
        Ok(out)
    }

    fn apply_blocking(
        &self,
        entries: Vec<Entry<TypeConfig>>,
    ) -> std::result::Result<(Vec<CommandResponse>, u64), RaftStorageError> {
        let mut last = None;
        let responses = self.write_blocking(|txn| {
            let mut data = txn.open_table(DATA).map_err(rse)?;
            let mut meta = txn.open_table(META).map_err(rse)?;
            let mut responses = Vec::with_capacity(entries.len());
            for entry in &entries {
                match &entry.payload {
                    EntryPayload::Blank => {}
                    EntryPayload::Normal(Command::Txn { ops }) => {
                        for op in ops {
                            match op {
                                Op::Put { key, value } => {
                                    data.insert(key.as_str(), value.as_slice()).map_err(rse)?;
                                }
                                Op::Delete { key } => {
                                    data.remove(key.as_str()).map_err(rse)?;
                                }
                            }
                        }
                    }
                    EntryPayload::Normal(Command::SetHaLock { record }) => {
                        let b = serde_json::to_vec(record).map_err(rse)?;
                        meta.insert("ha_lock", b.as_slice()).map_err(rse)?;
                    }
                    EntryPayload::Normal(Command::Restore { pairs }) => {
                        data.retain(|_, _| false).map_err(rse)?;
                        for p in pairs {
                            data.insert(p.key.as_str(), p.value.as_slice())
                                .map_err(rse)?;
                        }
                    }
                    EntryPayload::Membership(m) => {
                        let stored = StoredMembership::new(Some(entry.log_id), m.clone());
                        let b = serde_json::to_vec(&stored).map_err(rse)?;
                        meta.insert("membership", b.as_slice()).map_err(rse)?;
                    }
                }
                last = Some(entry.log_id);
                responses.push(CommandResponse {
                    index: entry.log_id.index,
                });
            }
            if let Some(last) = last {
                let b = serde_json::to_vec(&last).map_err(rse)?;
                meta.insert("last_applied", b.as_slice()).map_err(rse)?;
            }
            Ok(responses)
        })?;
        Ok((responses, last.map_or(0, |l| l.index)))
    }

    fn install_blocking(
        &self,
        meta: SnapshotMeta<u64, PeerNode>,
        bytes: Vec<u8>,
    ) -> std::result::Result<(), RaftStorageError> {
        let decoded = snapshot::decode(&bytes)?;
        self.write_blocking(|txn| {
            let mut data = txn.open_table(DATA).map_err(rse)?;
            let mut meta_t = txn.open_table(META).map_err(rse)?;
            data.retain(|_, _| false).map_err(rse)?;
            for (k, v) in &decoded.pairs {
                data.insert(k.as_str(), v.as_slice()).map_err(rse)?;
            }
            let b = serde_json::to_vec(&meta.last_log_id).map_err(rse)?;
            meta_t.insert("last_applied", b.as_slice()).map_err(rse)?;
            let b = serde_json::to_vec(&meta.last_membership).map_err(rse)?;
            meta_t.insert("membership", b.as_slice()).map_err(rse)?;
            let b = serde_json::to_vec(&decoded.header.ha_lock).map_err(rse)?;
            meta_t.insert("ha_lock", b.as_slice()).map_err(rse)?;
            Ok(())
        })?;
        perms::write_private_file(&self.shared.dir.join(SNAPSHOT_FILE), &bytes)?;
        let index = meta.last_log_id.map_or(0, |l| l.index);
        self.shared.applied.send_modify(|a| *a = (*a).max(index));
        self.shared.installs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn blocking<F, T>(&self, f: F) -> Result<T>
    where
        F: FnOnce(StateMachineStore) -> std::result::Result<T, RaftStorageError> + Send + 'static,
        T: Send + 'static,
    {
        let sm = self.clone();
        tokio::task::spawn_blocking(move || f(sm))
            .await
            .map_err(sto_err)?
            .map_err(sto_err)
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>> {
        let (meta, bytes) = self
            .blocking(|sm| {
                let (meta, bytes) = sm.encode(None)?;
                perms::write_private_file(&sm.shared.dir.join(SNAPSHOT_FILE), &bytes)?;
                Ok((meta, bytes))
            })
            .await?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = StateMachineStore;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<u64>>, StoredMembership<u64, PeerNode>)> {
        let last = self
            .read_meta::<Option<LogId<u64>>>("last_applied")?
            .flatten();
        let membership = self
            .read_meta::<StoredMembership<u64, PeerNode>>("membership")?
            .unwrap_or_default();
        Ok((last, membership))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<CommandResponse>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<_> = entries.into_iter().collect();
        let (responses, last) = self.blocking(move |sm| sm.apply_blocking(entries)).await?;
        if last > 0 {
            self.shared.applied.send_modify(|a| *a = (*a).max(last));
        }
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, PeerNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<()> {
        let meta = meta.clone();
        let bytes = snapshot.into_inner();
        self.blocking(move |sm| sm.install_blocking(meta, bytes))
            .await
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>> {
        self.blocking(|sm| {
            let path = sm.shared.dir.join(SNAPSHOT_FILE);
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(rse(format!("cannot read {}: {e}", path.display()))),
            };
            let header = snapshot::decode(&bytes)?.header;
            Ok(Some(Snapshot {
                meta: header.meta,
                snapshot: Box::new(Cursor::new(bytes)),
            }))
        })
        .await
    }
}
