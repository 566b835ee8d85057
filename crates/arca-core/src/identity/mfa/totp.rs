//! RFC 6238 time-based one-time passwords over aws-lc-rs HMAC, the base32 secrets they are
//! shared as, and the checks OpenBao's `validateTOTP` makes around them: a passcode is exactly
//! `digits` ASCII digits (no sign, space or `+`, unlike the parsers of CVE-2025-6014/6015), is
//! compared in constant time against the steps `now ± skew`, and a code once accepted is
//! spent for its key and time step.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use subtle::ConstantTimeEq;

/// The hash a method's codes are computed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

impl Algorithm {
    /// The algorithm OpenBao's `algorithm` field names; `None` for any other text.
    pub(crate) fn parse(s: &str) -> Option<Algorithm> {
        match s {
            "SHA1" => Some(Algorithm::Sha1),
            "SHA256" => Some(Algorithm::Sha256),
            "SHA512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    /// Its name as OpenBao prints it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
        }
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            Algorithm::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Algorithm::Sha256 => hmac::HMAC_SHA256,
            Algorithm::Sha512 => hmac::HMAC_SHA512,
        }
    }
}

/// The parameters a code is computed with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Params {
    pub algorithm: Algorithm,
    pub digits: u32,
    pub period: u64,
    pub skew: u64,
}

/// The code of `key` for time step `step` (RFC 4226 dynamic truncation).
pub(crate) fn code_at(key: &[u8], params: Params, step: u64) -> String {
    let tag = hmac::sign(
        &hmac::Key::new(params.algorithm.hmac(), key),
        &step.to_be_bytes(),
    );
    let mac = tag.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let bin = (u32::from(mac[offset] & 0x7f) << 24)
        | (u32::from(mac[offset + 1]) << 16)
        | (u32::from(mac[offset + 2]) << 8)
        | u32::from(mac[offset + 3]);
    let modulus = 10u32.pow(params.digits);
    format!("{:0width$}", bin % modulus, width = params.digits as usize)
}

/// The time step of `unix_secs`.
pub(crate) fn step_of(unix_secs: u64, period: u64) -> u64 {
    unix_secs / period.max(1)
}

/// Whether `passcode` has the shape of a code: exactly `digits` ASCII digits.
pub(crate) fn well_formed(passcode: &str, digits: u32) -> bool {
    passcode.len() == digits as usize && passcode.bytes().all(|b| b.is_ascii_digit())
}

/// The time step whose code `passcode` is, among the steps `now ± skew`; `None` if it is none
/// of them or not a well-formed code. Every candidate is compared, in constant time.
pub(crate) fn matching_step(
    key: &[u8],
    params: Params,
    passcode: &str,
    unix_secs: u64,
) -> Option<u64> {
    if !well_formed(passcode, params.digits) {
        return None;
    }
    let now = step_of(unix_secs, params.period);
    let mut found = None;
    for step in now.saturating_sub(params.skew)..=now.saturating_add(params.skew) {
        let code = code_at(key, params, step);
        if bool::from(code.as_bytes().ct_eq(passcode.as_bytes())) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding, as OpenBao hands out TOTP secrets.
pub(crate) fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let mut buf: u64 = 0;
    let mut bits = 0u32;
    for &b in data {
        buf = (buf << 8) | u64::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[((buf >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes base32 (upper or lower case, padding ignored); `None` for any other character.
pub(crate) fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let mut buf: u64 = 0;
    let mut bits = 0u32;
    for c in s.trim_end_matches('=').bytes() {
        let v = BASE32.iter().position(|&x| x == c.to_ascii_uppercase())?;
        buf = (buf << 5) | v as u64;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buf >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// Codes already accepted, per (method, entity) key and time step, kept while they could
/// still be valid; and the attempts counted against each key (OpenBao's rate limit).
#[derive(Default)]
pub(crate) struct UsedCodes {
    used: HashMap<(String, String, u64), Instant>,
    attempts: HashMap<(String, String), (u32, Instant)>,
}

impl UsedCodes {
    /// Whether the code of `step` was already accepted for `(method, entity)`.
    pub(crate) fn is_used(&mut self, method: &str, entity: &str, step: u64, now: Instant) -> bool {
        self.used.retain(|_, until| *until > now);
        self.used
            .contains_key(&(method.to_string(), entity.to_string(), step))
    }

    /// Spends the code of `step` for `(method, entity)` until `until`.
    pub(crate) fn spend(&mut self, method: &str, entity: &str, step: u64, until: Instant) {
        self.used
            .insert((method.to_string(), entity.to_string(), step), until);
    }

    /// Counts one attempt against `(method, entity)`; the count starts afresh `window`
    /// after the first. Returns the count including this one.
    pub(crate) fn attempt(
        &mut self,
        method: &str,
        entity: &str,
        window: Duration,
        now: Instant,
    ) -> u32 {
        self.attempts.retain(|_, (_, until)| *until > now);
        let e = self
            .attempts
            .entry((method.to_string(), entity.to_string()))
            .or_insert((0, now + window));
        e.0 = e.0.saturating_add(1);
        e.0
    }

    /// Clears the attempts of `(method, entity)` after a success.
    pub(crate) fn clear_attempts(&mut self, method: &str, entity: &str) {
        self.attempts
            .remove(&(method.to_string(), entity.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(algorithm: Algorithm, digits: u32) -> Params {
        Params {
            algorithm,
            digits,
            period: 30,
            skew: 1,
        }
    }

    /// RFC 6238 appendix B: the test vectors for each hash at T = 59 and 1111111109.
    #[test]
    fn rfc6238_vectors() {
        let k1 = b"12345678901234567890";
        let k256 = b"12345678901234567890123456789012";
        let k512 = b"1234567890123456789012345678901234567890123456789012345678901234";
        assert_eq!(code_at(k1, p(Algorithm::Sha1, 8), 59 / 30), "94287082");
        assert_eq!(code_at(k256, p(Algorithm::Sha256, 8), 59 / 30), "46119246");
        assert_eq!(code_at(k512, p(Algorithm::Sha512, 8), 59 / 30), "90693936");
        assert_eq!(
            code_at(k1, p(Algorithm::Sha1, 8), 1_111_111_109 / 30),
            "07081804"
        );
        assert_eq!(
            code_at(k512, p(Algorithm::Sha512, 8), 20_000_000_000 / 30),
            "47863826"
        );
        // Six digits are the last six of the eight.
        assert_eq!(code_at(k1, p(Algorithm::Sha1, 6), 59 / 30), "287082");
    }

    #[test]
    fn only_plain_digits_of_the_right_length_pass() {
        let k = b"12345678901234567890";
        let params = p(Algorithm::Sha1, 8);
        assert_eq!(matching_step(k, params, "94287082", 59), Some(1));
        for bad in [
            "+94287082",
            " 94287082",
            "94287082 ",
            "9428708",
            "942870820",
            "-4287082",
            "9428708a",
            "",
            "９4287082",
        ] {
            assert_eq!(matching_step(k, params, bad, 59), None, "{bad:?}");
        }
    }

    #[test]
    fn skew_admits_one_step_either_side_only() {
        let k = b"12345678901234567890";
        let params = p(Algorithm::Sha1, 6);
        let code = code_at(k, params, 100);
        assert_eq!(matching_step(k, params, &code, 99 * 30), Some(100));
        assert_eq!(matching_step(k, params, &code, 101 * 30 + 29), Some(100));
        assert_eq!(matching_step(k, params, &code, 102 * 30), None);
        let strict = Params { skew: 0, ..params };
        assert_eq!(matching_step(k, strict, &code, 99 * 30), None);
        assert_eq!(matching_step(k, strict, &code, 100 * 30), Some(100));
    }

    #[test]
    fn base32_round_trips() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
            assert_eq!(base32_decode(&base32_encode(data)).as_deref(), Some(data));
        }
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("mzxw6ytboi======").unwrap(), b"foobar");
        assert_eq!(base32_decode("MZ1W"), None);
    }

    #[test]
    fn a_spent_code_stays_spent_and_attempts_count() {
        let mut u = UsedCodes::default();
        let now = Instant::now();
        assert!(!u.is_used("m", "e", 5, now));
        u.spend("m", "e", 5, now + Duration::from_secs(90));
        assert!(u.is_used("m", "e", 5, now));
        assert!(!u.is_used("m", "other", 5, now));
        assert!(!u.is_used("m", "e", 6, now));
        assert!(!u.is_used("m", "e", 5, now + Duration::from_secs(91)));
        let w = Duration::from_secs(30);
        assert_eq!(u.attempt("m", "e", w, now), 1);
        assert_eq!(u.attempt("m", "e", w, now), 2);
        assert_eq!(u.attempt("m", "e", w, now + Duration::from_secs(31)), 1);
        u.clear_attempts("m", "e");
        assert_eq!(u.attempt("m", "e", w, now), 1);
    }
}
