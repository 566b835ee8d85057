//! AES-256-GCM with the barrier's ciphertext layout.
//!
//! Every stored value is
//! `[4-byte big-endian key term][1-byte version = 2][12-byte random nonce][ciphertext ‖ 16-byte tag]`
//! with the storage path as associated data (Vault's version-2 layout), so a value copied to
//! another path, encrypted under another term or altered in any bit fails to decrypt.
//!
//! A [`TermCipher`] holds one term's key, prepared once by aws-lc-rs; nonces come from
//! aws-lc-rs's [`RandomizedNonceKey`], never from a caller.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use zeroize::Zeroizing;

use crate::error::BarrierError;

/// Length of every key in the hierarchy (data keys, root key, unseal key): 256 bits.
pub const KEY_LEN: usize = 32;
/// The ciphertext format version: 2 binds the storage path as associated data.
pub const VERSION: u8 = 2;
/// Length of the authentication tag appended to the ciphertext.
pub const TAG_LEN: usize = 16;
/// Length of the header before the ciphertext: term, version, nonce.
pub const HEADER_LEN: usize = 4 + 1 + NONCE_LEN;
/// The smallest well-formed blob: a header and a tag around an empty plaintext.
pub const MIN_BLOB_LEN: usize = HEADER_LEN + TAG_LEN;

/// Reads the key term from a blob's header, checking its length and version.
pub fn blob_term(blob: &[u8]) -> Result<u32, BarrierError> {
    if blob.len() < MIN_BLOB_LEN {
        return Err(BarrierError::Malformed("value too short"));
    }
    if blob[4] != VERSION {
        return Err(BarrierError::Malformed("unknown version"));
    }
    Ok(u32::from_be_bytes([blob[0], blob[1], blob[2], blob[3]]))
}

/// One key term's AES-256-GCM key, ready to encrypt and decrypt barrier values.
pub struct TermCipher {
    term: u32,
    key: RandomizedNonceKey,
}

impl TermCipher {
    /// Prepares `key` (exactly [`KEY_LEN`] bytes) for `term`.
    pub fn new(term: u32, key: &[u8]) -> Result<Self, BarrierError> {
        if key.len() != KEY_LEN {
            return Err(BarrierError::InvalidKeyLength {
                got: key.len(),
                expected: KEY_LEN,
            });
        }
        let key = RandomizedNonceKey::new(&AES_256_GCM, key)
            .map_err(|_| BarrierError::Crypto("cannot build AES-256-GCM key"))?;
        Ok(Self { term, key })
    }

    /// The key term this cipher writes into its headers.
    pub fn term(&self) -> u32 {
        self.term
    }

    /// Encrypts `plaintext` with a fresh random nonce, binding `aad` (the storage path).
    pub fn encrypt(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, BarrierError> {
        // One allocation: header, then the plaintext encrypted in place, then the tag.
        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&self.term.to_be_bytes());
        out.push(VERSION);
        out.extend_from_slice(&[0u8; NONCE_LEN]);
        out.extend_from_slice(plaintext);
        let (nonce, tag) = self
            .key
            .seal_in_place_separate_tag(Aad::from(aad), &mut out[HEADER_LEN..])
            .map_err(|_| BarrierError::Crypto("encryption failed"))?;
        out[5..HEADER_LEN].copy_from_slice(nonce.as_ref());
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Decrypts `blob` (which must carry this cipher's term), checking it against `aad`.
    ///
    /// The blob's buffer is reused for the plaintext and zeroized on drop, also on failure.
    pub fn decrypt(&self, aad: &[u8], blob: Vec<u8>) -> Result<Zeroizing<Vec<u8>>, BarrierError> {
        let mut buf = Zeroizing::new(blob);
        let term = blob_term(&buf)?;
        if term != self.term {
            return Err(BarrierError::UnknownTerm(term));
        }
        let nonce = Nonce::try_assume_unique_for_key(&buf[5..HEADER_LEN])
            .map_err(|_| BarrierError::Malformed("bad nonce"))?;
        let plain_len = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut buf[HEADER_LEN..])
            .map_err(|_| BarrierError::Decrypt)?
            .len();
        buf.copy_within(HEADER_LEN..HEADER_LEN + plain_len, 0);
        buf.truncate(plain_len);
        Ok(buf)
    }
}

impl fmt::Debug for TermCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TermCipher")
            .field("term", &self.term)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn cipher(term: u32) -> TermCipher {
        let mut key = [0u8; KEY_LEN];
        aws_lc_rs::rand::fill(&mut key).unwrap();
        TermCipher::new(term, &key).unwrap()
    }

    #[test]
    fn layout_and_round_trip() {
        let c = cipher(7);
        let blob = c.encrypt(b"logical/x/foo", b"hello world").unwrap();
        assert_eq!(blob.len(), HEADER_LEN + 11 + TAG_LEN);
        assert_eq!(&blob[..4], &7u32.to_be_bytes());
        assert_eq!(blob[4], 2);
        assert_eq!(blob_term(&blob).unwrap(), 7);
        let plain = c.decrypt(b"logical/x/foo", blob).unwrap();
        assert_eq!(plain.as_slice(), b"hello world");
    }

    #[test]
    fn empty_plaintext_round_trips() {
        let c = cipher(1);
        let blob = c.encrypt(b"p", b"").unwrap();
        assert_eq!(blob.len(), MIN_BLOB_LEN);
        assert!(c.decrypt(b"p", blob).unwrap().is_empty());
    }

    #[test]
    fn nonces_are_fresh() {
        let c = cipher(1);
        let a = c.encrypt(b"p", b"same").unwrap();
        let b = c.encrypt(b"p", b"same").unwrap();
        assert_ne!(a[5..HEADER_LEN], b[5..HEADER_LEN]);
        assert_ne!(a, b);
    }

    #[test]
    fn wrong_path_fails() {
        let c = cipher(1);
        let blob = c.encrypt(b"a/b", b"v").unwrap();
        assert!(matches!(
            c.decrypt(b"a/c", blob),
            Err(BarrierError::Decrypt)
        ));
    }

    #[test]
    fn every_flipped_bit_fails() {
        let c = cipher(3);
        let blob = c.encrypt(b"k", b"some value").unwrap();
        for byte in 0..blob.len() {
            for bit in 0..8 {
                let mut bad = blob.clone();
                bad[byte] ^= 1 << bit;
                assert!(c.decrypt(b"k", bad).is_err(), "byte {byte} bit {bit}");
            }
        }
    }

    #[test]
    fn truncated_blobs_fail_without_panicking() {
        let c = cipher(3);
        let blob = c.encrypt(b"k", b"some value").unwrap();
        for len in 0..blob.len() {
            assert!(c.decrypt(b"k", blob[..len].to_vec()).is_err(), "len {len}");
        }
    }

    #[test]
    fn other_term_and_other_key_fail() {
        let c = cipher(1);
        let blob = c.encrypt(b"k", b"v").unwrap();
        assert!(matches!(
            cipher(2).decrypt(b"k", blob.clone()),
            Err(BarrierError::UnknownTerm(1))
        ));
        assert!(matches!(
            cipher(1).decrypt(b"k", blob),
            Err(BarrierError::Decrypt)
        ));
    }

    #[test]
    fn unknown_version_fails() {
        let c = cipher(1);
        let mut blob = c.encrypt(b"k", b"v").unwrap();
        blob[4] = 1;
        assert!(matches!(
            c.decrypt(b"k", blob),
            Err(BarrierError::Malformed(_))
        ));
    }

    #[test]
    fn key_length_is_checked() {
        assert!(matches!(
            TermCipher::new(1, &[0u8; 16]),
            Err(BarrierError::InvalidKeyLength {
                got: 16,
                expected: 32
            })
        ));
    }

    #[test]
    fn debug_shows_no_key() {
        let text = format!("{:?}", TermCipher::new(9, &[0xAB; KEY_LEN]).unwrap());
        assert!(text.contains("term: 9"));
        assert!(!text.to_lowercase().contains("ab"));
    }
}
