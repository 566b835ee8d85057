//! The snapshot format: every key/value pair of the state machine plus its metadata, used
//! both for Raft snapshots (compaction, catching up a lagging follower) and for
//! `snapshot_save` / `snapshot_restore`.
//!
//! Layout: the magic `ARCARAFT-SNAPSHOT-1\n`, a big-endian `u32` length and a JSON header
//! ([`SnapshotHeader`]), then for each pair a `u32` key length, the key, a `u32` value length
//! and the value, and finally a CRC-32 of everything before it.

use serde::{Deserialize, Serialize};

use crate::RaftStorageError;
use crate::types::{HaRecord, PeerNode};

const MAGIC: &[u8] = b"ARCARAFT-SNAPSHOT-1\n";

/// The metadata at the head of a snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotHeader {
    /// openraft's metadata (last included log id, membership, snapshot id).
    pub meta: openraft::SnapshotMeta<u64, PeerNode>,
    /// The HA lock record at that point.
    pub ha_lock: Option<HaRecord>,
    /// How many pairs follow.
    pub count: u64,
}

/// Encodes a snapshot from its header and pairs.
pub(crate) struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    pub(crate) fn new(header: &SnapshotHeader) -> Result<Self, RaftStorageError> {
        let json =
            serde_json::to_vec(header).map_err(|e| RaftStorageError::Snapshot(e.to_string()))?;
        let mut buf = Vec::with_capacity(MAGIC.len() + 4 + json.len());
        buf.extend_from_slice(MAGIC);
        push_len(&mut buf, json.len())?;
        buf.extend_from_slice(&json);
        Ok(Self { buf })
    }

    pub(crate) fn pair(&mut self, key: &str, value: &[u8]) -> Result<(), RaftStorageError> {
        push_len(&mut self.buf, key.len())?;
        self.buf.extend_from_slice(key.as_bytes());
        push_len(&mut self.buf, value.len())?;
        self.buf.extend_from_slice(value);
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        let crc = crc32fast::hash(&self.buf);
        self.buf.extend_from_slice(&crc.to_be_bytes());
        self.buf
    }
}

fn push_len(buf: &mut Vec<u8>, len: usize) -> Result<(), RaftStorageError> {
    let len = u32::try_from(len)
        .map_err(|_| RaftStorageError::Snapshot("an item is larger than 4 GiB".to_owned()))?;
    buf.extend_from_slice(&len.to_be_bytes());
    Ok(())
}

/// A decoded snapshot.
pub struct Decoded {
    /// Its header.
    pub header: SnapshotHeader,
    /// Every pair, in key order.
    pub pairs: Vec<(String, Vec<u8>)>,
}

/// Checks and decodes a snapshot.
pub fn decode(bytes: &[u8]) -> Result<Decoded, RaftStorageError> {
    let bad = |m: &str| RaftStorageError::Snapshot(m.to_owned());
    let body_len = bytes.len().checked_sub(4).ok_or_else(|| bad("too short"))?;
    let (body, crc) = bytes.split_at(body_len);
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| bad("not an Arca raft snapshot"))?;
    let mut crc_bytes = [0u8; 4];
    crc_bytes.copy_from_slice(crc);
    if crc32fast::hash(body) != u32::from_be_bytes(crc_bytes) {
        return Err(bad("checksum mismatch (corrupt or truncated)"));
    }
    let mut cur = Reader { rest };
    let header: SnapshotHeader = serde_json::from_slice(cur.item()?)
        .map_err(|e| RaftStorageError::Snapshot(format!("bad header: {e}")))?;
    let mut pairs = Vec::new();
    for _ in 0..header.count {
        let key = std::str::from_utf8(cur.item()?)
            .map_err(|_| bad("a key is not UTF-8"))?
            .to_owned();
        let value = cur.item()?.to_vec();
        pairs.push((key, value));
    }
    if !cur.rest.is_empty() {
        return Err(bad("trailing bytes after the last pair"));
    }
    Ok(Decoded { header, pairs })
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn item(&mut self) -> Result<&'a [u8], RaftStorageError> {
        let bad = || RaftStorageError::Snapshot("truncated".to_owned());
        if self.rest.len() < 4 {
            return Err(bad());
        }
        let (len, rest) = self.rest.split_at(4);
        let mut b = [0u8; 4];
        b.copy_from_slice(len);
        let len = u32::from_be_bytes(b) as usize;
        if rest.len() < len {
            return Err(bad());
        }
        let (item, rest) = rest.split_at(len);
        self.rest = rest;
        Ok(item)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let header = SnapshotHeader {
            meta: openraft::SnapshotMeta::default(),
            ha_lock: None,
            count: 2,
        };
        let mut enc = Encoder::new(&header).unwrap();
        enc.pair("a", b"1").unwrap();
        enc.pair("b/c", b"").unwrap();
        let bytes = enc.finish();
        let d = decode(&bytes).unwrap();
        assert_eq!(
            d.pairs,
            vec![("a".to_owned(), b"1".to_vec()), ("b/c".to_owned(), vec![])]
        );
        let mut broken = bytes.clone();
        broken[30] ^= 1;
        assert!(decode(&broken).is_err());
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode(b"nope").is_err());
    }
}
