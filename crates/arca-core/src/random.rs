//! Random identifiers and secrets from the system CSPRNG (aws-lc-rs).

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

/// Fills `buf` with random bytes. The system generator failing is unrecoverable.
pub fn fill(buf: &mut [u8]) {
    if SystemRandom::new().fill(buf).is_err() {
        // Without randomness no key or token can be made safely.
        std::process::abort();
    }
}

/// `n` random bytes as lower-case hex.
pub fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    fill(&mut b);
    hex::encode(b)
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A uniformly random base62 string of `len` characters (rejection sampling, no modulo bias).
pub fn random_base62(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        fill(&mut buf);
        for b in buf {
            if out.len() == len {
                break;
            }
            // 248 = 62 * 4: values at or above it would bias the result.
            if b < 248 {
                out.push(BASE62[(b % 62) as usize] as char);
            }
        }
    }
    out
}

/// A random UUID v4 string.
pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let t = random_base62(24);
        assert_eq!(t.len(), 24);
        assert!(t.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(random_base62(24), t);
        assert_eq!(random_hex(4).len(), 8);
    }
}
