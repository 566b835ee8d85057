//! Random identifiers and secrets from the system CSPRNG (aws-lc-rs).

pub use arca_sdk::random::fill;

/// `n` random bytes as lower-case hex.
pub fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    fill(&mut b);
    hex::encode(b)
}

/// A uniformly random base62 string of `len` characters (rejection sampling, no modulo bias).
pub fn random_base62(len: usize) -> String {
    arca_sdk::random::base62(len)
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
