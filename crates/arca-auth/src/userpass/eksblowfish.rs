//! bcrypt's expensive key schedule (EksBlowfish) and the check of a password against a stored
//! bcrypt hash.
//!
//! Why not the `bcrypt` crate's `verify`: issue 15 holds userpass logins at 16 connections to
//! no fewer than OpenBao's, and a cost-10 bcrypt is all of a login's time. The crate (over
//! RustCrypto's `blowfish`) measured 3–4 % slower per hash than Go's on this machine; this
//! schedule, with the S-boxes in one flat array and each round's P word folded into the round
//! function, measured 8–10 % faster than the crate. Everything around it stays the crate's:
//! hashing for storage, parsing a stored hash (the same hashes are accepted), the bcrypt base64.
//! The tests below hold every output to the crate's.

use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, NO_PAD};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::blowfish_init;

/// The longest key bcrypt uses: 72 bytes (the password, then a NUL when it fits).
const MAX_KEY_BYTES: usize = 72;

/// bcrypt's base64: its own alphabet, no padding (the `bcrypt` crate's, which parsed the hash).
const BCRYPT_BASE64: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::BCRYPT, NO_PAD);

/// The text bcrypt encrypts 64 times under the derived state: "OrpheanBeholderScryDoubt".
const MAGIC: [u32; 6] = [
    0x4f72_7068,
    0x6561_6e42,
    0x6568_6f6c,
    0x6465_7253,
    0x6372_7944,
    0x6f75_6274,
];

/// A Blowfish state being derived from a password; wiped when dropped (it is as sensitive as
/// the password).
struct State {
    s: [u32; 1024],
    p: [u32; 18],
}

impl Drop for State {
    fn drop(&mut self) {
        self.s.zeroize();
        self.p.zeroize();
    }
}

/// Blowfish's round function over the four S-boxes of the flat array.
#[inline(always)]
fn feistel(s: &[u32; 1024], x: u32) -> u32 {
    let a = s[(x >> 24) as usize];
    let b = s[256 | ((x >> 16) & 0xff) as usize];
    let c = s[512 | ((x >> 8) & 0xff) as usize];
    let d = s[768 | (x & 0xff) as usize];
    (a.wrapping_add(b) ^ c).wrapping_add(d)
}

/// The words of `bytes` taken big-endian four bytes at a time, wrapping to the start.
fn next_word(bytes: &[u8], pos: &mut usize) -> u32 {
    let mut word = 0u32;
    for _ in 0..4 {
        if *pos >= bytes.len() {
            *pos = 0;
        }
        word = (word << 8) | u32::from(bytes[*pos]);
        *pos += 1;
    }
    word
}

impl State {
    fn initial() -> Self {
        State {
            s: blowfish_init::S,
            p: blowfish_init::P,
        }
    }

    /// Encrypts one block: the 16 rounds written out.
    #[inline(always)]
    fn encrypt(&self, mut l: u32, mut r: u32) -> (u32, u32) {
        let (p, s) = (&self.p, &self.s);
        l ^= p[0];
        r ^= feistel(s, l) ^ p[1];
        l ^= feistel(s, r) ^ p[2];
        r ^= feistel(s, l) ^ p[3];
        l ^= feistel(s, r) ^ p[4];
        r ^= feistel(s, l) ^ p[5];
        l ^= feistel(s, r) ^ p[6];
        r ^= feistel(s, l) ^ p[7];
        l ^= feistel(s, r) ^ p[8];
        r ^= feistel(s, l) ^ p[9];
        l ^= feistel(s, r) ^ p[10];
        r ^= feistel(s, l) ^ p[11];
        l ^= feistel(s, r) ^ p[12];
        r ^= feistel(s, l) ^ p[13];
        l ^= feistel(s, r) ^ p[14];
        r ^= feistel(s, l) ^ p[15];
        l ^= feistel(s, r) ^ p[16];
        r ^= p[17];
        (r, l)
    }

    fn mix_into_p(&mut self, key: &[u8]) {
        let mut pos = 0;
        for word in &mut self.p {
            *word ^= next_word(key, &mut pos);
        }
    }

    /// Blowfish's key schedule with `key`: P then the S-boxes replaced by successive
    /// encryptions of a running block.
    fn expand(&mut self, key: &[u8]) {
        self.mix_into_p(key);
        let (mut l, mut r) = (0, 0);
        for i in 0..9 {
            (l, r) = self.encrypt(l, r);
            self.p[2 * i] = l;
            self.p[2 * i + 1] = r;
        }
        for i in 0..512 {
            (l, r) = self.encrypt(l, r);
            self.s[2 * i] = l;
            self.s[2 * i + 1] = r;
        }
    }

    /// The first, salted, key schedule: as [`State::expand`], with the salt's words mixed into
    /// the running block before each encryption.
    fn expand_salted(&mut self, salt: &[u8; 16], key: &[u8]) {
        self.mix_into_p(key);
        let mut salt_words = [0u32; 4];
        let mut pos = 0;
        for w in &mut salt_words {
            *w = next_word(salt, &mut pos);
        }
        let (mut l, mut r) = (0, 0);
        let mut half = 0;
        for i in 0..521 {
            l ^= salt_words[half];
            r ^= salt_words[half + 1];
            half ^= 2;
            (l, r) = self.encrypt(l, r);
            if i < 9 {
                self.p[2 * i] = l;
                self.p[2 * i + 1] = r;
            } else {
                self.s[2 * (i - 9)] = l;
                self.s[2 * (i - 9) + 1] = r;
            }
        }
    }
}

/// bcrypt's raw 24-byte output for `key` (the password's bytes and NUL, at most 72, never
/// empty) at `cost` (4 to 31) with `salt`.
fn bcrypt_raw(cost: u32, salt: &[u8; 16], key: &[u8]) -> [u8; 24] {
    let mut state = State::initial();
    state.expand_salted(salt, key);
    for _ in 0..1u64 << cost {
        state.expand(key);
        state.expand(salt);
    }
    let mut text = MAGIC;
    for pair in text.chunks_exact_mut(2) {
        let (mut l, mut r) = (pair[0], pair[1]);
        for _ in 0..64 {
            (l, r) = state.encrypt(l, r);
        }
        pair[0] = l;
        pair[1] = r;
    }
    let mut out = [0u8; 24];
    for (chunk, word) in out.chunks_exact_mut(4).zip(text) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    text.zeroize();
    out
}

/// Whether `password` matches the bcrypt `hash` (`$2a$`, `$2b$`, `$2x$` or `$2y$`, cost 4 to
/// 31): the key is the password's bytes and a NUL, cut at 72 bytes, as the `bcrypt` crate and
/// Go's bcrypt take it, and the digests are compared in constant time. A hash the `bcrypt`
/// crate cannot parse matches nothing.
pub(super) fn verify(password: &[u8], hash: &str) -> bool {
    let Ok(parts) = hash.parse::<bcrypt::HashParts>() else {
        return false;
    };
    let cost = parts.get_cost();
    if !(4..=31).contains(&cost) {
        return false;
    }
    // A parsed hash is 60 ASCII bytes: "$2b$10$", 22 of salt, 31 of digest.
    let mut stored = [0u8; 23];
    if BCRYPT_BASE64
        .decode_slice(&hash.as_bytes()[29..], &mut stored)
        .is_err()
    {
        return false;
    }
    let mut key = [0u8; MAX_KEY_BYTES];
    let used = password.len().min(MAX_KEY_BYTES);
    key[..used].copy_from_slice(&password[..used]);
    let key_len = (used + 1).min(MAX_KEY_BYTES);
    let mut digest = bcrypt_raw(cost, &parts.get_salt_raw(), &key[..key_len]);
    key.zeroize();
    let matched = digest[..23].ct_eq(&stored).into();
    digest.zeroize();
    matched
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic bytes for the comparisons (a small LCG; no test depends on randomness).
    fn bytes(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 33) as u8
            })
            .collect()
    }

    #[test]
    fn raw_output_matches_the_bcrypt_crate() {
        for (seed, len) in [(1u64, 1usize), (2, 5), (3, 28), (4, 55), (5, 71), (6, 72)] {
            let key = bytes(seed, len);
            let salt: [u8; 16] = bytes(seed + 100, 16).try_into().expect("16 bytes");
            for cost in [4, 5] {
                assert_eq!(
                    bcrypt_raw(cost, &salt, &key),
                    bcrypt::bcrypt(cost, salt, &key),
                    "key length {len}, cost {cost}"
                );
            }
        }
    }

    #[test]
    fn verify_agrees_with_the_bcrypt_crate() {
        for (seed, len) in [
            (7u64, 0usize),
            (8, 1),
            (9, 30),
            (10, 71),
            (11, 72),
            (12, 80),
        ] {
            let password = bytes(seed, len);
            let hash = bcrypt::hash(&password, 4).expect("hash");
            assert!(verify(&password, &hash), "length {len}");
            let mut wrong = password.clone();
            wrong.push(b'x');
            assert_eq!(
                verify(&wrong, &hash),
                bcrypt::verify(&wrong, &hash).expect("verify"),
                "length {len}+1"
            );
            assert!(!verify(b"something else", &hash));
        }
    }

    #[test]
    fn verifies_hashes_of_every_prefix_and_a_known_vector() {
        // OpenBSD's test vector: "U*U" at cost 5.
        assert!(verify(
            b"U*U",
            "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
        ));
        let hash = bcrypt::hash("pw", 4).expect("hash");
        for prefix in ["$2a$", "$2b$", "$2x$", "$2y$"] {
            let other = format!("{prefix}{}", &hash[4..]);
            assert!(verify(b"pw", &other), "{prefix}");
        }
    }

    #[test]
    fn malformed_hashes_match_nothing() {
        for hash in [
            "",
            "not a hash",
            "$2b$10$short",
            "$3b$10$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "$2b$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "$2b$xx$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        ] {
            assert!(!verify(b"U*U", hash), "{hash:?}");
        }
    }
}
