//! The keyring: the root key and every data-key term, and its stored JSON form.
//!
//! The stored record (encrypted by the root key at [`crate::KEYRING_PATH`]) is
//!
//! ```json
//! {"version":1,"root_key":"<base64>","keys":[{"term":1,"value":"<base64>","install_time":"<RFC 3339>"}]}
//! ```
//!
//! Key bytes are encoded and decoded through fixed stack buffers that are wiped afterwards,
//! and the serialized record is returned in a [`Zeroizing`] buffer sized up front so it never
//! reallocates (which would leave copies behind).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use zeroize::{Zeroize, Zeroizing};

use crate::aead::KEY_LEN;
use crate::error::BarrierError;

/// The version marker of the stored keyring record.
pub const KEYRING_VERSION: u32 = 1;

/// Length of a base64 (padded) encoding of a [`KEY_LEN`]-byte key.
const KEY_B64_LEN: usize = KEY_LEN.div_ceil(3) * 4;

/// Generates a random [`KEY_LEN`]-byte key.
pub(crate) fn random_key() -> Result<Zeroizing<[u8; KEY_LEN]>, BarrierError> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    aws_lc_rs::rand::fill(key.as_mut_slice())
        .map_err(|_| BarrierError::Crypto("random source failed"))?;
    Ok(key)
}

/// Copies a key slice into a fixed-size zeroizing array, checking its length.
pub(crate) fn key_array(key: &[u8]) -> Result<Zeroizing<[u8; KEY_LEN]>, BarrierError> {
    if key.len() != KEY_LEN {
        return Err(BarrierError::InvalidKeyLength {
            got: key.len(),
            expected: KEY_LEN,
        });
    }
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    out.copy_from_slice(key);
    Ok(out)
}

/// One data-encryption key of the keyring.
pub struct Key {
    /// The term: written into every ciphertext this key produces.
    pub term: u32,
    /// The AES-256 key bytes.
    pub value: Zeroizing<[u8; KEY_LEN]>,
    /// When this term was installed.
    pub install_time: DateTime<Utc>,
    /// How many values this key has encrypted since unseal (in memory only, not stored).
    pub encryptions: AtomicU64,
}

impl Key {
    /// A new key for `term` with random bytes, installed now.
    pub fn generate(term: u32) -> Result<Self, BarrierError> {
        Ok(Self {
            term,
            value: random_key()?,
            install_time: Utc::now(),
            encryptions: AtomicU64::new(0),
        })
    }

    /// The number of encryptions counted so far.
    pub fn encryptions(&self) -> u64 {
        self.encryptions.load(Ordering::Relaxed)
    }
}

impl Clone for Key {
    fn clone(&self) -> Self {
        Self {
            term: self.term,
            value: self.value.clone(),
            install_time: self.install_time,
            encryptions: AtomicU64::new(self.encryptions()),
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("term", &self.term)
            .field("value", &"<redacted>")
            .field("install_time", &self.install_time)
            .field("encryptions", &self.encryptions())
            .finish()
    }
}

/// The root key and the data keys by term; the highest term is the active one.
#[derive(Clone)]
pub struct Keyring {
    /// The root key that encrypts this keyring in storage.
    pub root_key: Zeroizing<[u8; KEY_LEN]>,
    /// Data keys by term.
    pub keys: BTreeMap<u32, Key>,
}

impl Keyring {
    /// A keyring with `root_key` and one fresh random data key at term 1.
    pub fn new(root_key: &[u8]) -> Result<Self, BarrierError> {
        let root_key = key_array(root_key)?;
        let mut keys = BTreeMap::new();
        keys.insert(1, Key::generate(1)?);
        Ok(Self { root_key, keys })
    }

    /// The active (highest-term) key.
    pub fn active_key(&self) -> Result<&Key, BarrierError> {
        self.keys
            .values()
            .next_back()
            .ok_or_else(|| BarrierError::Keyring("no keys".into()))
    }

    /// The active term.
    pub fn active_term(&self) -> Result<u32, BarrierError> {
        self.active_key().map(|k| k.term)
    }

    /// The key for `term`, if the keyring holds it.
    pub fn term_key(&self, term: u32) -> Option<&Key> {
        self.keys.get(&term)
    }

    /// A copy of this keyring with a new random key at the next term.
    pub fn with_new_term(&self) -> Result<Self, BarrierError> {
        let next = self
            .active_term()?
            .checked_add(1)
            .ok_or(BarrierError::TermExhausted)?;
        let mut ring = self.clone();
        ring.keys.insert(next, Key::generate(next)?);
        Ok(ring)
    }

    /// A copy of this keyring under another root key.
    pub fn with_root_key(&self, root_key: &[u8]) -> Result<Self, BarrierError> {
        let mut ring = self.clone();
        ring.root_key = key_array(root_key)?;
        Ok(ring)
    }

    /// Encodes the stored record (JSON with `"version": 1`) into a zeroizing buffer.
    pub fn serialize(&self) -> Result<Zeroizing<Vec<u8>>, BarrierError> {
        let record = RecordRef {
            version: KEYRING_VERSION,
            root_key: KeyBytes(&self.root_key),
            keys: self
                .keys
                .values()
                .map(|k| KeyRecordRef {
                    term: k.term,
                    value: KeyBytes(&k.value),
                    install_time: k.install_time,
                })
                .collect(),
        };
        // Generous upper bound so the buffer never grows: the fixed part plus, per key,
        // a term, a base64 key and an RFC 3339 timestamp.
        let capacity = 128 + KEY_B64_LEN + self.keys.len() * (96 + KEY_B64_LEN);
        let mut out = Zeroizing::new(Vec::with_capacity(capacity));
        serde_json::to_writer(&mut *out, &record)
            .map_err(|e| BarrierError::Keyring(e.to_string()))?;
        Ok(out)
    }

    /// Decodes a stored record produced by [`Keyring::serialize`].
    pub fn deserialize(bytes: &[u8]) -> Result<Self, BarrierError> {
        let record: Record = serde_json::from_slice(bytes)
            .map_err(|e| BarrierError::Keyring(format!("cannot decode: {}", e.classify_str())))?;
        if record.version != KEYRING_VERSION {
            return Err(BarrierError::Keyring(format!(
                "unsupported version {}",
                record.version
            )));
        }
        if record.keys.is_empty() {
            return Err(BarrierError::Keyring("no keys".into()));
        }
        let mut keys = BTreeMap::new();
        for k in record.keys {
            if k.term == 0 {
                return Err(BarrierError::Keyring("term 0 is reserved".into()));
            }
            let key = Key {
                term: k.term,
                value: k.value.0,
                install_time: k.install_time,
                encryptions: AtomicU64::new(0),
            };
            if keys.insert(k.term, key).is_some() {
                return Err(BarrierError::Keyring(format!("duplicate term {}", k.term)));
            }
        }
        Ok(Self {
            root_key: record.root_key.0,
            keys,
        })
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("root_key", &"<redacted>")
            .field("keys", &self.keys.values().collect::<Vec<_>>())
            .finish()
    }
}

/// A short, input-free description of a serde_json error (never echoes the record).
trait ClassifyStr {
    fn classify_str(&self) -> &'static str;
}

impl ClassifyStr for serde_json::Error {
    fn classify_str(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected data",
            serde_json::error::Category::Eof => "unexpected end",
        }
    }
}

#[derive(Serialize)]
struct RecordRef<'a> {
    version: u32,
    root_key: KeyBytes<'a>,
    keys: Vec<KeyRecordRef<'a>>,
}

#[derive(Serialize)]
struct KeyRecordRef<'a> {
    term: u32,
    value: KeyBytes<'a>,
    install_time: DateTime<Utc>,
}

#[derive(Deserialize)]
struct Record {
    version: u32,
    root_key: OwnedKeyBytes,
    keys: Vec<KeyRecord>,
}

#[derive(Deserialize)]
struct KeyRecord {
    term: u32,
    value: OwnedKeyBytes,
    install_time: DateTime<Utc>,
}

/// Serializes a key as base64 through a stack buffer that is wiped afterwards.
struct KeyBytes<'a>(&'a [u8; KEY_LEN]);

impl Serialize for KeyBytes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = Zeroizing::new([0u8; KEY_B64_LEN]);
        let n = STANDARD
            .encode_slice(self.0, buf.as_mut_slice())
            .map_err(serde::ser::Error::custom)?;
        let text = std::str::from_utf8(&buf[..n]).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(text)
    }
}

/// Deserializes a base64 key straight into a zeroizing array.
struct OwnedKeyBytes(Zeroizing<[u8; KEY_LEN]>);

impl<'de> Deserialize<'de> for OwnedKeyBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = OwnedKeyBytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a base64-encoded 32-byte key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                // room for a little slack so an over-long input is reported, not truncated
                let mut buf = Zeroizing::new([0u8; KEY_LEN + 3]);
                let n = STANDARD
                    .decode_slice(v.as_bytes(), buf.as_mut_slice())
                    .map_err(|_| E::custom("invalid base64 key"))?;
                if n != KEY_LEN {
                    return Err(E::custom("key has the wrong length"));
                }
                let mut key = Zeroizing::new([0u8; KEY_LEN]);
                key.copy_from_slice(&buf[..KEY_LEN]);
                buf.zeroize();
                Ok(OwnedKeyBytes(key))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn serialize_round_trip_with_version_marker() {
        let ring = Keyring::new(&[7u8; KEY_LEN])
            .unwrap()
            .with_new_term()
            .unwrap()
            .with_new_term()
            .unwrap();
        let bytes = ring.serialize().unwrap();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["version"], 1);
        assert_eq!(value["root_key"], STANDARD.encode([7u8; KEY_LEN]));
        assert_eq!(value["keys"].as_array().unwrap().len(), 3);
        assert_eq!(value["keys"][2]["term"], 3);
        // RFC 3339 timestamps
        let ts = value["keys"][0]["install_time"].as_str().unwrap();
        assert!(DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");

        let back = Keyring::deserialize(&bytes).unwrap();
        assert_eq!(*back.root_key, [7u8; KEY_LEN]);
        assert_eq!(back.active_term().unwrap(), 3);
        for (term, key) in &ring.keys {
            let other = back.term_key(*term).unwrap();
            assert_eq!(*other.value, *key.value);
            assert_eq!(other.install_time, key.install_time);
        }
    }

    #[test]
    fn serialized_buffer_never_reallocates() {
        let mut ring = Keyring::new(&[1u8; KEY_LEN]).unwrap();
        for _ in 0..40 {
            ring = ring.with_new_term().unwrap();
        }
        let bytes = ring.serialize().unwrap();
        let capacity = 128 + KEY_B64_LEN + ring.keys.len() * (96 + KEY_B64_LEN);
        assert!(bytes.len() <= capacity);
        assert_eq!(bytes.capacity(), capacity);
    }

    #[test]
    fn rejects_bad_records() {
        let good = Keyring::new(&[1u8; KEY_LEN]).unwrap().serialize().unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&good).unwrap();
        v["version"] = 2.into();
        assert!(Keyring::deserialize(&serde_json::to_vec(&v).unwrap()).is_err());
        v["version"] = 1.into();
        v["root_key"] = STANDARD.encode([1u8; 16]).into();
        assert!(Keyring::deserialize(&serde_json::to_vec(&v).unwrap()).is_err());
        v["root_key"] = "not base64!".into();
        assert!(Keyring::deserialize(&serde_json::to_vec(&v).unwrap()).is_err());
        v["root_key"] = STANDARD.encode([1u8; KEY_LEN]).into();
        v["keys"] = serde_json::json!([]);
        assert!(Keyring::deserialize(&serde_json::to_vec(&v).unwrap()).is_err());
        assert!(Keyring::deserialize(b"{").is_err());
    }

    #[test]
    fn decode_errors_do_not_echo_input() {
        let err = Keyring::deserialize(br#"{"version":1,"root_key":"SECRETSECRET"}"#)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("SECRET"), "{err}");
    }

    #[test]
    fn debug_redacts_keys() {
        let ring = Keyring::new(&[0x5A; KEY_LEN]).unwrap();
        let text = format!("{ring:?}");
        assert!(text.contains("<redacted>"));
        assert!(!text.contains("90, 90"), "{text}");
        assert!(!text.contains(&STANDARD.encode([0x5A; KEY_LEN])));
    }
}
