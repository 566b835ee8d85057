//! Randomness for backends: the system CSPRNG (aws-lc-rs) and base62 strings drawn from it.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

/// The base62 alphabet of Vault's `base62.Random`.
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Fills `buf` from the system CSPRNG. The generator failing is unrecoverable: without
/// randomness no key, token or password can be made safely, so the process aborts.
pub fn fill(buf: &mut [u8]) {
    if SystemRandom::new().fill(buf).is_err() {
        std::process::abort();
    }
}

/// A uniformly random base62 string of `len` characters from the system CSPRNG.
pub fn base62(len: usize) -> String {
    base62_with(len, &mut fill)
}

/// A uniformly random base62 string of `len` characters from `fill`'s bytes (rejection
/// sampling: bytes at or above 248 = 4 × 62 would favour the alphabet's start).
pub fn base62_with(len: usize, fill: &mut dyn FnMut(&mut [u8])) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        fill(&mut buf);
        for b in buf {
            if out.len() == len {
                break;
            }
            if b < 248 {
                out.push(char::from(BASE62[usize::from(b % 62)]));
            }
        }
    }
    out
}
