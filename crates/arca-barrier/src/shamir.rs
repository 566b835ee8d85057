//! Shamir's secret sharing over GF(2^8), in Vault's share format.
//!
//! The field is GF(2^8) with the AES reduction polynomial x^8 + x^4 + x^3 + x + 1 (0x11B).
//! Multiplication is a fixed eight-round shift-and-add with masks instead of branches and
//! no log/exp tables (the table-based implementation was Vault's CVE-2023-25000); the
//! inverse is a^254, again a fixed sequence of multiplications.
//!
//! A share is `len(secret) + 1` bytes: the polynomial values `y` for each secret byte,
//! then the share's x coordinate as the **last** byte, exactly as Vault's `shamir.Split`
//! produces them, so Vault-format unseal keys interoperate.
//!
//! One exception, matching Vault's behaviour for a single key share: with
//! `parts == 1 && threshold == 1` the secret is not split at all and the only "share" is
//! the secret itself; [`combine`] given exactly one share of [`crate::KEY_LEN`] bytes
//! returns it unchanged. A threshold of 1 with more than one part is refused (it would hand
//! the secret to every share holder), as Vault's init refuses it.

use aws_lc_rs::rand;
use zeroize::{Zeroize, Zeroizing};

use crate::aead::KEY_LEN;

/// The largest number of shares: x coordinates are the non-zero bytes.
pub const MAX_PARTS: usize = 255;

/// Errors from [`split`] and [`combine`]. None of them carries share or secret bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShamirError {
    /// `parts` is zero or above [`MAX_PARTS`].
    #[error("parts must be between 1 and 255, got {0}")]
    PartsOutOfRange(usize),
    /// `threshold` is zero or above `parts`.
    #[error("threshold must be between 1 and parts ({parts}), got {threshold}")]
    ThresholdOutOfRange {
        /// The requested threshold.
        threshold: usize,
        /// The requested number of parts.
        parts: usize,
    },
    /// A threshold of 1 is only allowed with a single part.
    #[error("threshold must be greater than one for multiple shares")]
    ThresholdTooLow,
    /// The secret is empty.
    #[error("cannot split an empty secret")]
    EmptySecret,
    /// Fewer than two split shares were given to [`combine`].
    #[error("less than two parts cannot be used to reconstruct the secret")]
    TooFewShares,
    /// More than [`MAX_PARTS`] shares were given to [`combine`].
    #[error("too many parts: at most 255 can be combined")]
    TooManyShares,
    /// A share is shorter than two bytes.
    #[error("parts must be at least two bytes")]
    ShareTooShort,
    /// The shares do not all have the same length.
    #[error("all parts must be the same length")]
    LengthMismatch,
    /// Two shares carry the same x coordinate (or an x coordinate is zero).
    #[error("duplicate part detected")]
    DuplicateShare,
    /// The system random source failed.
    #[error("random source failed")]
    Random,
}

/// Multiplies two field elements in constant time (no tables, no data-dependent branches).
#[inline]
fn gf_mul(a: u8, b: u8) -> u8 {
    let mut a = a;
    let mut b = b;
    let mut product = 0u8;
    for _ in 0..8 {
        // add `a` when the low bit of `b` is set: mask is 0xFF or 0x00
        product ^= a & (b & 1).wrapping_neg();
        // a *= x, reducing by 0x11B when the high bit falls off
        let carry = a >> 7;
        a = (a << 1) ^ (0x1B & carry.wrapping_neg());
        b >>= 1;
    }
    product
}

/// The multiplicative inverse a^254 (with 0 mapping to 0), in constant time.
#[inline]
fn gf_inv(a: u8) -> u8 {
    // 254 = 2 + 4 + 8 + 16 + 32 + 64 + 128: multiply the successive squares together.
    let mut square = gf_mul(a, a); // a^2
    let mut result = square;
    for _ in 0..6 {
        square = gf_mul(square, square); // a^4, a^8, ..., a^128
        result = gf_mul(result, square);
    }
    result
}

/// Evaluates the polynomial with `coefficients` (constant term first) at `x` (Horner).
#[inline]
fn evaluate(coefficients: &[u8], x: u8) -> u8 {
    coefficients
        .iter()
        .rev()
        .fold(0u8, |acc, &c| gf_mul(acc, x) ^ c)
}

/// A uniform random byte below `bound` (1..=256), by rejection sampling.
fn random_below(bound: usize) -> Result<usize, ShamirError> {
    debug_assert!((1..=256).contains(&bound));
    // the largest multiple of `bound` that fits in 0..256
    let limit = 256 - (256 % bound);
    loop {
        let mut byte = [0u8; 1];
        rand::fill(&mut byte).map_err(|_| ShamirError::Random)?;
        let value = usize::from(byte[0]);
        if value < limit {
            return Ok(value % bound);
        }
    }
}

/// `parts` distinct random non-zero x coordinates (a partial Fisher–Yates shuffle of 1..=255).
fn random_x_coordinates(parts: usize) -> Result<Vec<u8>, ShamirError> {
    let mut pool: Vec<u8> = (1..=255u8).collect();
    for i in 0..parts {
        let j = i + random_below(pool.len() - i)?;
        pool.swap(i, j);
    }
    pool.truncate(parts);
    Ok(pool)
}

/// Splits `secret` into `parts` shares, any `threshold` of which reconstruct it.
///
/// Each share is `secret.len() + 1` bytes with its x coordinate last (Vault's format).
/// With `parts == 1 && threshold == 1` the single share is the secret itself (see the module
/// documentation). Polynomial coefficients are uniform over 0..=255; the constant term of
/// the polynomial for byte `i` is `secret[i]`.
pub fn split(
    secret: &[u8],
    parts: usize,
    threshold: usize,
) -> Result<Vec<Zeroizing<Vec<u8>>>, ShamirError> {
    if parts == 0 || parts > MAX_PARTS {
        return Err(ShamirError::PartsOutOfRange(parts));
    }
    if threshold == 0 || threshold > parts {
        return Err(ShamirError::ThresholdOutOfRange { threshold, parts });
    }
    if secret.is_empty() {
        return Err(ShamirError::EmptySecret);
    }
    if threshold == 1 {
        if parts == 1 {
            return Ok(vec![Zeroizing::new(secret.to_vec())]);
        }
        return Err(ShamirError::ThresholdTooLow);
    }

    let xs = random_x_coordinates(parts)?;
    let mut shares: Vec<Zeroizing<Vec<u8>>> = xs
        .iter()
        .map(|&x| {
            let mut share = Zeroizing::new(vec![0u8; secret.len() + 1]);
            share[secret.len()] = x;
            share
        })
        .collect();

    // One polynomial per secret byte: coefficients[0] is the secret byte, the rest random.
    let mut coefficients = Zeroizing::new(vec![0u8; threshold]);
    for (idx, &byte) in secret.iter().enumerate() {
        coefficients[0] = byte;
        rand::fill(&mut coefficients[1..]).map_err(|_| ShamirError::Random)?;
        for (share, &x) in shares.iter_mut().zip(&xs) {
            share[idx] = evaluate(&coefficients, x);
        }
    }
    coefficients.zeroize();
    Ok(shares)
}

/// Reconstructs the secret from shares produced by [`split`].
///
/// Needs at least two shares of equal length with distinct non-zero x coordinates; a single
/// share of exactly [`KEY_LEN`] bytes is the unsplit key of a one-share seal and is returned
/// unchanged. Combining fewer shares than the threshold returns a wrong value, not an error:
/// the scheme cannot tell.
pub fn combine(shares: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>, ShamirError> {
    if shares.len() == 1 && shares[0].len() == KEY_LEN {
        return Ok(Zeroizing::new(shares[0].to_vec()));
    }
    if shares.len() < 2 {
        return Err(ShamirError::TooFewShares);
    }
    if shares.len() > MAX_PARTS {
        return Err(ShamirError::TooManyShares);
    }
    let share_len = shares[0].len();
    if share_len < 2 {
        return Err(ShamirError::ShareTooShort);
    }
    if shares.iter().any(|s| s.len() != share_len) {
        return Err(ShamirError::LengthMismatch);
    }
    let secret_len = share_len - 1;

    // x coordinates are public; check them for zero and duplicates.
    let xs: Vec<u8> = shares.iter().map(|s| s[secret_len]).collect();
    let mut seen = [false; 256];
    for &x in &xs {
        if x == 0 || seen[usize::from(x)] {
            return Err(ShamirError::DuplicateShare);
        }
        seen[usize::from(x)] = true;
    }

    // Lagrange basis at 0: l_i = prod_{j != i} x_j / (x_i - x_j); subtraction is xor.
    let basis: Vec<u8> = xs
        .iter()
        .enumerate()
        .map(|(i, &xi)| {
            xs.iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .fold(1u8, |acc, (_, &xj)| {
                    gf_mul(acc, gf_mul(xj, gf_inv(xi ^ xj)))
                })
        })
        .collect();

    let mut secret = Zeroizing::new(vec![0u8; secret_len]);
    for (idx, out) in secret.iter_mut().enumerate() {
        *out = shares
            .iter()
            .zip(&basis)
            .fold(0u8, |acc, (share, &l)| acc ^ gf_mul(share[idx], l));
    }
    Ok(secret)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    /// Schoolbook reference multiplication with branches, for cross-checking.
    fn reference_mul(mut a: u8, mut b: u8) -> u8 {
        let mut p = 0u8;
        while b != 0 {
            if b & 1 == 1 {
                p ^= a;
            }
            let hi = a & 0x80 != 0;
            a <<= 1;
            if hi {
                a ^= 0x1B;
            }
            b >>= 1;
        }
        p
    }

    fn random_bytes(n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        rand::fill(&mut v).unwrap();
        v
    }

    fn random_in(lo: usize, hi: usize) -> usize {
        lo + random_below(hi - lo + 1).unwrap()
    }

    /// A random subset of `k` distinct indices below `n`.
    fn random_subset(n: usize, k: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = i + random_below(n - i).unwrap();
            idx.swap(i, j);
        }
        idx.truncate(k);
        idx
    }

    #[test]
    fn field_multiplication_matches_reference_exhaustively() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(gf_mul(a, b), reference_mul(a, b), "{a} * {b}");
            }
        }
        // FIPS-197 §4.2 example: {57} x {83} = {c1}
        assert_eq!(gf_mul(0x57, 0x83), 0xC1);
        // FIPS-197 §5.1.1: the inverse of {53} is {ca}
        assert_eq!(gf_inv(0x53), 0xCA);
    }

    #[test]
    fn every_nonzero_element_has_its_inverse() {
        assert_eq!(gf_inv(0), 0);
        for a in 1..=255u8 {
            assert_eq!(gf_mul(a, gf_inv(a)), 1, "inverse of {a}");
        }
    }

    #[test]
    fn shares_have_vault_layout() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let shares = split(secret, 5, 3).unwrap();
        assert_eq!(shares.len(), 5);
        let mut xs: Vec<u8> = shares
            .iter()
            .map(|s| {
                assert_eq!(s.len(), secret.len() + 1);
                s[secret.len()]
            })
            .collect();
        assert!(xs.iter().all(|&x| x != 0));
        xs.sort_unstable();
        xs.dedup();
        assert_eq!(xs.len(), 5, "x tags must be distinct");
    }

    #[test]
    fn split_then_combine_any_threshold_subset() {
        for _ in 0..300 {
            let secret = random_bytes(random_in(1, 48));
            let parts = random_in(2, 12);
            let threshold = random_in(2, parts);
            let shares = split(&secret, parts, threshold).unwrap();
            let k = random_in(threshold, parts);
            let chosen: Vec<&[u8]> = random_subset(parts, k)
                .into_iter()
                .map(|i| shares[i].as_slice())
                .collect();
            let recovered = combine(&chosen).unwrap();
            assert_eq!(
                recovered.as_slice(),
                secret.as_slice(),
                "parts={parts} threshold={threshold} k={k}"
            );
        }
    }

    #[test]
    fn fewer_than_threshold_shares_do_not_reveal_the_secret() {
        for _ in 0..200 {
            let secret = random_bytes(32);
            let parts = random_in(3, 12);
            let threshold = random_in(3, parts);
            let shares = split(&secret, parts, threshold).unwrap();
            let chosen: Vec<&[u8]> = random_subset(parts, threshold - 1)
                .into_iter()
                .map(|i| shares[i].as_slice())
                .collect();
            let recovered = combine(&chosen).unwrap();
            // equality has probability 2^-256
            assert_ne!(recovered.as_slice(), secret.as_slice());
        }
    }

    #[test]
    fn maximum_parts() {
        let secret = random_bytes(32);
        let shares = split(&secret, 255, 255).unwrap();
        let all: Vec<&[u8]> = shares.iter().map(|s| s.as_slice()).collect();
        assert_eq!(combine(&all).unwrap().as_slice(), secret.as_slice());
        let some: Vec<&[u8]> = all[100..103].to_vec();
        assert_ne!(combine(&some).unwrap().as_slice(), secret.as_slice());
    }

    #[test]
    fn single_share_is_the_secret_itself() {
        let secret = random_bytes(32);
        let shares = split(&secret, 1, 1).unwrap();
        assert_eq!(shares.len(), 1);
        assert_eq!(shares[0].as_slice(), secret.as_slice());
        assert_eq!(
            combine(&[&shares[0]]).unwrap().as_slice(),
            secret.as_slice()
        );
    }

    #[test]
    fn split_rejects_bad_parameters() {
        let s = b"secret";
        assert_eq!(split(s, 0, 0), Err(ShamirError::PartsOutOfRange(0)));
        assert_eq!(split(s, 256, 2), Err(ShamirError::PartsOutOfRange(256)));
        assert_eq!(
            split(s, 3, 0),
            Err(ShamirError::ThresholdOutOfRange {
                threshold: 0,
                parts: 3
            })
        );
        assert_eq!(
            split(s, 3, 4),
            Err(ShamirError::ThresholdOutOfRange {
                threshold: 4,
                parts: 3
            })
        );
        assert_eq!(split(s, 3, 1), Err(ShamirError::ThresholdTooLow));
        assert_eq!(split(b"", 3, 2), Err(ShamirError::EmptySecret));
    }

    #[test]
    fn combine_rejects_bad_shares() {
        let shares = split(b"some secret", 4, 2).unwrap();
        let a = shares[0].as_slice();
        let b = shares[1].as_slice();
        assert_eq!(combine(&[]), Err(ShamirError::TooFewShares));
        assert_eq!(combine(&[a]), Err(ShamirError::TooFewShares));
        assert_eq!(combine(&[a, a]), Err(ShamirError::DuplicateShare));
        assert_eq!(combine(&[a, &b[1..]]), Err(ShamirError::LengthMismatch));
        assert_eq!(combine(&[&[1], &[2]]), Err(ShamirError::ShareTooShort));
        let mut zero_x = b.to_vec();
        *zero_x.last_mut().unwrap() = 0;
        assert_eq!(combine(&[a, &zero_x]), Err(ShamirError::DuplicateShare));
    }

    #[test]
    fn random_below_stays_in_range() {
        for bound in [1usize, 2, 3, 7, 100, 255, 256] {
            for _ in 0..50 {
                assert!(random_below(bound).unwrap() < bound);
            }
        }
    }
}
