//! The write-ahead log in front of the redb database: one preallocated, zero-filled file
//! `DIR/arca.wal` that the writer thread fills with one record per group commit, each made
//! durable by one `fdatasync` before any caller of the group is answered.
//!
//! A record is `crc32 (u32) | payload length (u32) | sequence number (u64) | payload`, all
//! little-endian; the checksum covers the length, the sequence number and the payload. The
//! payload is the group's operations in order, each `tag (u8: 1 put, 2 delete) | key length
//! (u32) | key | [value length (u32) | value]`.
//!
//! The file's length never changes once it is filled, so an `fdatasync` after a record writes
//! only that record's pages, no file-size or extent metadata. Records are written from offset
//! 0; after a checkpoint (a durable redb commit holding everything logged so far) the writer
//! starts again at offset 0 without clearing the file. Reading stops at the first record that is
//! zero, torn (bad checksum), runs past the end of the file, or whose sequence number does not
//! follow its predecessor's: records left from before a checkpoint all carry sequence numbers
//! at or below the checkpoint's, so they end the chain instead of joining it.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::perms::ensure_private_file;
use crate::{StorageError, TxnOp};

/// Name of the log file inside the storage directory.
pub(super) const LOG_FILE_NAME: &str = "arca.wal";

/// Size of the log file: a checkpoint empties the log when the next record would not fit.
pub(super) const LOG_CAPACITY: u64 = 8 * 1024 * 1024;

/// Bytes before a record's payload: checksum, payload length, sequence number.
const HEADER_LEN: usize = 16;

/// Tag of a put in a record's payload.
const TAG_PUT: u8 = 1;
/// Tag of a delete in a record's payload.
const TAG_DELETE: u8 = 2;

/// One record read back from the log.
#[derive(Debug)]
pub(super) struct Record {
    /// The record's sequence number (one per group commit, increasing by one).
    pub(super) seq: u64,
    /// The group's operations, in the order they were applied.
    pub(super) ops: Vec<TxnOp>,
}

/// A record being built: operations are appended to a buffer that starts with room for the
/// header, which [`RecordBuf::finish`] fills in.
pub(super) struct RecordBuf {
    bytes: Vec<u8>,
}

impl RecordBuf {
    /// An empty record.
    pub(super) fn new() -> RecordBuf {
        let mut bytes = Vec::with_capacity(512);
        bytes.resize(HEADER_LEN, 0);
        RecordBuf { bytes }
    }

    /// Appends `ops` to the payload.
    pub(super) fn push_ops(&mut self, ops: &[TxnOp]) -> Result<(), StorageError> {
        for op in ops {
            match op {
                TxnOp::Put { key, value } => {
                    self.bytes.push(TAG_PUT);
                    self.push_bytes(key.as_bytes())?;
                    self.push_bytes(value)?;
                }
                TxnOp::Delete { key } => {
                    self.bytes.push(TAG_DELETE);
                    self.push_bytes(key.as_bytes())?;
                }
            }
        }
        Ok(())
    }

    /// Appends a length-prefixed byte string.
    fn push_bytes(&mut self, data: &[u8]) -> Result<(), StorageError> {
        let len = u32::try_from(data.len()).map_err(|_| {
            StorageError::Backend(format!(
                "a key or value of {} bytes is too large",
                data.len()
            ))
        })?;
        self.bytes.extend_from_slice(&len.to_le_bytes());
        self.bytes.extend_from_slice(data);
        Ok(())
    }

    /// The whole record with sequence number `seq`, header filled in.
    pub(super) fn finish(mut self, seq: u64) -> Result<Vec<u8>, StorageError> {
        let payload_len = u32::try_from(self.bytes.len() - HEADER_LEN).map_err(|_| {
            StorageError::Backend(format!(
                "a write of {} bytes is too large for the log",
                self.bytes.len()
            ))
        })?;
        self.bytes[4..8].copy_from_slice(&payload_len.to_le_bytes());
        self.bytes[8..16].copy_from_slice(&seq.to_le_bytes());
        let crc = crc32fast::hash(&self.bytes[4..]);
        self.bytes[0..4].copy_from_slice(&crc.to_le_bytes());
        Ok(self.bytes)
    }
}

/// The open log file and where the next record goes.
pub(super) struct Log {
    file: File,
    path: PathBuf,
    capacity: u64,
    /// Offset of the next record.
    end: u64,
}

impl Log {
    /// Opens the log at `path` (creating it owner-only when missing) for a log of `capacity`
    /// bytes. Call [`Log::records`] to recover, then [`Log::prepare`] before appending.
    pub(super) fn open(path: &Path, capacity: u64) -> Result<Log, StorageError> {
        ensure_private_file(path)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| io_err("open", path, &e))?;
        Ok(Log {
            file,
            path: path.to_owned(),
            capacity,
            end: 0,
        })
    }

    /// The chain of valid records from the start of the file (see the module comment for where
    /// it ends). A record with a valid checksum whose payload cannot be decoded is an error:
    /// the checksum says the bytes are the ones written, so the log is not ours or is damaged.
    pub(super) fn records(&self) -> Result<Vec<Record>, StorageError> {
        let bytes = std::fs::read(&self.path).map_err(|e| io_err("read", &self.path, &e))?;
        let mut records = Vec::new();
        let mut at = 0;
        let mut expected: Option<u64> = None;
        while let Some((seq, payload)) = read_record(&bytes, at) {
            if expected.is_some_and(|next| next != seq) {
                break;
            }
            let ops = decode_ops(payload).ok_or_else(|| {
                StorageError::Backend(format!(
                    "log {} holds a malformed record {seq} at offset {at}",
                    self.path.display()
                ))
            })?;
            records.push(Record { seq, ops });
            at += HEADER_LEN + payload.len();
            expected = seq.checked_add(1);
        }
        Ok(records)
    }

    /// Makes the file `capacity` bytes of zeros when its length is anything else (a new log,
    /// or one whose filling was cut short), durably, and sets the next record at offset 0.
    /// Call it only once the database holds everything in the log (after recovery).
    pub(super) fn prepare(&mut self) -> Result<(), StorageError> {
        let len = self
            .file
            .metadata()
            .map_err(|e| io_err("inspect", &self.path, &e))?
            .len();
        if len != self.capacity {
            self.zero_fill()?;
        }
        self.end = 0;
        Ok(())
    }

    /// Writes zeros over the whole file at its full capacity and syncs it and its directory.
    fn zero_fill(&mut self) -> Result<(), StorageError> {
        const CHUNK: usize = 1024 * 1024;
        let zeros = vec![0u8; CHUNK];
        self.file
            .set_len(0)
            .map_err(|e| io_err("truncate", &self.path, &e))?;
        let mut at = 0u64;
        while at < self.capacity {
            let n = usize::try_from(self.capacity - at).map_or(CHUNK, |left| left.min(CHUNK));
            write_at(&self.file, &zeros[..n], at).map_err(|e| io_err("fill", &self.path, &e))?;
            at += n as u64;
        }
        self.file
            .sync_all()
            .map_err(|e| io_err("sync", &self.path, &e))?;
        sync_parent_dir(&self.path)
    }

    /// Whether a record of `len` bytes fits after the records written since the last reset.
    pub(super) fn fits(&self, len: usize) -> bool {
        self.end.saturating_add(len as u64) <= self.capacity
    }

    /// Whether a record of `len` bytes fits in an empty log.
    pub(super) fn can_ever_hold(&self, len: usize) -> bool {
        len as u64 <= self.capacity
    }

    /// Writes `record` (built by [`RecordBuf::finish`]) at the end of the log and waits for
    /// `fdatasync`. The caller checks [`Log::fits`] first.
    pub(super) fn append(&mut self, record: &[u8]) -> Result<(), StorageError> {
        write_at(&self.file, record, self.end).map_err(|e| io_err("write", &self.path, &e))?;
        self.file
            .sync_data()
            .map_err(|e| io_err("sync", &self.path, &e))?;
        self.end += record.len() as u64;
        Ok(())
    }

    /// Starts the log over at offset 0, once the database durably holds every record.
    pub(super) fn reset(&mut self) {
        self.end = 0;
    }

    /// Bytes written since the last reset.
    pub(super) fn used(&self) -> u64 {
        self.end
    }
}

/// The record at offset `at` of `bytes`, as (sequence number, payload), when it is complete
/// and its checksum matches.
fn read_record(bytes: &[u8], at: usize) -> Option<(u64, &[u8])> {
    let header = bytes.get(at..at.checked_add(HEADER_LEN)?)?;
    let crc = u32::from_le_bytes(header[0..4].try_into().ok()?);
    let len = usize::try_from(u32::from_le_bytes(header[4..8].try_into().ok()?)).ok()?;
    let seq = u64::from_le_bytes(header[8..16].try_into().ok()?);
    let end = at.checked_add(HEADER_LEN)?.checked_add(len)?;
    let covered = bytes.get(at + 4..end)?;
    if crc == 0 && len == 0 && seq == 0 {
        return None;
    }
    (crc32fast::hash(covered) == crc).then(|| (seq, &bytes[at + HEADER_LEN..end]))
}

/// Decodes a record's payload into its operations; `None` when it is malformed.
fn decode_ops(mut payload: &[u8]) -> Option<Vec<TxnOp>> {
    let mut ops = Vec::new();
    while let Some((&tag, rest)) = payload.split_first() {
        payload = rest;
        let key = String::from_utf8(take_bytes(&mut payload)?.to_vec()).ok()?;
        match tag {
            TAG_PUT => {
                let value = take_bytes(&mut payload)?.to_vec();
                ops.push(TxnOp::Put { key, value });
            }
            TAG_DELETE => ops.push(TxnOp::Delete { key }),
            _ => return None,
        }
    }
    Some(ops)
}

/// Takes one length-prefixed byte string off the front of `payload`.
fn take_bytes<'a>(payload: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (len, rest) = payload.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
    if rest.len() < len {
        return None;
    }
    let (data, rest) = rest.split_at(len);
    *payload = rest;
    Some(data)
}

/// An I/O error on the log as a [`StorageError::Backend`].
fn io_err(doing: &str, path: &Path, e: &std::io::Error) -> StorageError {
    StorageError::Backend(format!("cannot {doing} the log {}: {e}", path.display()))
}

/// Writes all of `data` at `offset`.
#[cfg(unix)]
fn write_at(file: &File, data: &[u8], offset: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.write_all_at(data, offset)
}

/// Writes all of `data` at `offset`.
#[cfg(not(unix))]
fn write_at(mut file: &File, data: &[u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    file.seek(SeekFrom::Start(offset))?;
    file.write_all(data)
}

/// Syncs the directory holding `path`, so a newly created file's name survives a crash.
#[cfg(unix)]
fn sync_parent_dir(path: &Path) -> Result<(), StorageError> {
    let Some(dir) = path.parent() else {
        return Ok(());
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err("sync the directory of", path, &e))
}

/// Directories cannot be synced here; nothing to do.
#[cfg(not(unix))]
fn sync_parent_dir(_path: &Path) -> Result<(), StorageError> {
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    fn put(key: &str, value: &[u8]) -> TxnOp {
        TxnOp::Put {
            key: key.to_owned(),
            value: value.to_vec(),
        }
    }

    fn record(seq: u64, ops: &[TxnOp]) -> Vec<u8> {
        let mut buf = RecordBuf::new();
        buf.push_ops(ops).unwrap();
        buf.finish(seq).unwrap()
    }

    fn new_log(dir: &tempfile::TempDir, capacity: u64) -> Log {
        let mut log = Log::open(&dir.path().join(LOG_FILE_NAME), capacity).unwrap();
        log.prepare().unwrap();
        log
    }

    fn seqs(log: &Log) -> Vec<u64> {
        log.records().unwrap().iter().map(|r| r.seq).collect()
    }

    #[test]
    fn records_round_trip_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = new_log(&dir, 4096);
        assert_eq!(std::fs::metadata(&log.path).unwrap().len(), 4096);
        let first = vec![put("a", b"1"), TxnOp::Delete { key: "b".into() }];
        let second = vec![put("ключ", &[0, 255, 7]), put("empty", b"")];
        log.append(&record(7, &first)).unwrap();
        log.append(&record(8, &second)).unwrap();
        let records = log.records().unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!((records[0].seq, &records[0].ops), (7, &first));
        assert_eq!((records[1].seq, &records[1].ops), (8, &second));
    }

    #[test]
    fn a_torn_or_garbled_record_ends_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = new_log(&dir, 4096);
        for seq in 1..=3 {
            log.append(&record(seq, &[put(&format!("k{seq}"), b"v")]))
                .unwrap();
        }
        let third_at = usize::try_from(log.used()).unwrap() - record(3, &[put("k3", b"v")]).len();
        let mut bytes = std::fs::read(&log.path).unwrap();
        bytes[third_at + HEADER_LEN + 2] ^= 0x40;
        std::fs::write(&log.path, &bytes).unwrap();
        assert_eq!(seqs(&log), [1, 2]);
        // A file cut short in the middle of a record.
        std::fs::write(&log.path, &bytes[..third_at + 5]).unwrap();
        assert_eq!(seqs(&log), [1, 2]);
    }

    #[test]
    fn records_left_from_before_a_reset_end_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = new_log(&dir, 4096);
        for seq in 1..=4 {
            log.append(&record(seq, &[put("k", b"a-long-enough-value")]))
                .unwrap();
        }
        log.reset();
        // The new generation: shorter records, so the old ones are read at shifted offsets
        // too, and the one that lines up again carries an old sequence number.
        log.append(&record(5, &[put("k", b"new")])).unwrap();
        assert_eq!(seqs(&log), [5]);
        log.reset();
        log.append(&record(6, &[put("k", b"a-long-enough-value")]))
            .unwrap();
        assert_eq!(seqs(&log), [6], "record 2 of the first run follows, stale");
    }

    #[test]
    fn a_short_file_is_filled_again_and_fits_checks_the_capacity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOG_FILE_NAME);
        std::fs::write(&path, b"partial").unwrap();
        let mut log = Log::open(&path, 64).unwrap();
        log.prepare().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), vec![0; 64]);
        assert!(log.records().unwrap().is_empty());
        let rec = record(1, &[put("k", b"0123456789")]);
        assert!(log.fits(rec.len()) && log.can_ever_hold(64) && !log.can_ever_hold(65));
        log.append(&rec).unwrap();
        assert!(!log.fits(64 - rec.len() + 1));
        assert!(log.fits(64 - rec.len()));
    }

    #[test]
    fn a_record_with_a_valid_checksum_but_bad_payload_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = new_log(&dir, 4096);
        let mut bad = vec![0u8; HEADER_LEN];
        bad.push(9); // unknown tag
        bad.extend_from_slice(&0u32.to_le_bytes());
        let len = u32::try_from(bad.len() - HEADER_LEN).unwrap();
        bad[4..8].copy_from_slice(&len.to_le_bytes());
        bad[8..16].copy_from_slice(&1u64.to_le_bytes());
        let crc = crc32fast::hash(&bad[4..]);
        bad[0..4].copy_from_slice(&crc.to_le_bytes());
        log.append(&bad).unwrap();
        let err = log.records().unwrap_err();
        assert!(err.to_string().contains("malformed record 1"), "{err}");
    }
}
