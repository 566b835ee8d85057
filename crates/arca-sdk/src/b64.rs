//! Standard base64 for the hot paths: SIMD encoding and decoding (`base64-simd`), with a failed
//! decode worded as Go's `encoding/base64` words it, for the error texts OpenBao's endpoints
//! pass through.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Decodes padded standard base64; the error is Go's `illegal base64 data at input byte N`.
/// Accepts exactly what `base64`'s `STANDARD` engine accepts (canonical padding and trailing
/// bits, no whitespace); a test holds the two decoders to the same answers.
pub fn decode_std(s: &str) -> Result<Vec<u8>, String> {
    match base64_simd::STANDARD.decode_to_vec(s.as_bytes()) {
        Ok(bytes) => Ok(bytes),
        Err(_) => decode_std_slow(s),
    }
}

/// [`decode_std`] with the `base64` crate alone, which says where the input went wrong.
fn decode_std_slow(s: &str) -> Result<Vec<u8>, String> {
    STANDARD.decode(s.as_bytes()).map_err(|e| {
        let at = match e {
            base64::DecodeError::InvalidByte(i, _) => i,
            base64::DecodeError::InvalidLength(l) => l - l % 4,
            base64::DecodeError::InvalidLastSymbol(i, _) => i,
            base64::DecodeError::InvalidPadding => s.len().saturating_sub(1),
        };
        format!("illegal base64 data at input byte {at}")
    })
}

/// Padded standard base64 of `bytes`.
pub fn encode_std(bytes: &[u8]) -> String {
    base64_simd::STANDARD.encode_to_string(bytes)
}

/// Appends the padded standard base64 of `bytes` to `out`.
pub fn encode_std_append(bytes: &[u8], out: &mut String) {
    base64_simd::STANDARD.encode_append(bytes, out);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn words_errors_as_go() {
        assert_eq!(decode_std("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(
            decode_std("notb64!").unwrap_err(),
            "illegal base64 data at input byte 6"
        );
    }

    /// The SIMD decoder accepts and refuses what the `base64` crate does: edge cases of
    /// padding, trailing bits, whitespace and the URL alphabet, and a few hundred thousand
    /// generated strings; the encoders agree on every length to 300 bytes.
    #[test]
    fn simd_and_scalar_agree() {
        let edges = [
            "",
            "aGk=",
            "aGl=",
            "aGk",
            "aG==",
            "aR==",
            "aGk=\n",
            " aGk=",
            "aGk==",
            "a===",
            "====",
            "aGk=aGk=",
            "YWJj",
            "YWJjZA=",
            "YWJjZA==",
            "YWJjZB==",
            "-_8=",
            "+/8=",
            "+/9=",
            "YWJj\r\nZA==",
            "YW Jj",
        ];
        for s in edges {
            assert_eq!(decode_std(s).ok(), decode_std_slow(s).ok(), "{s:?}");
        }
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let junk = b"=-_ \n.";
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..300_000 {
            let len = (next() % 41) as usize;
            let s: String = (0..len)
                .map(|_| {
                    let r = next();
                    match r % 100 {
                        0..85 => alphabet[(r >> 8) as usize % 64] as char,
                        85..95 => '=',
                        _ => junk[(r >> 8) as usize % junk.len()] as char,
                    }
                })
                .collect();
            assert_eq!(decode_std(&s).ok(), decode_std_slow(&s).ok(), "{s:?}");
            // A valid encoding with one character changed.
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let mut enc = STANDARD.encode(&bytes).into_bytes();
            if !enc.is_empty() {
                let at = (next() as usize) % enc.len();
                enc[at] = alphabet[(next() as usize) % 64];
            }
            let enc = String::from_utf8(enc).unwrap();
            assert_eq!(decode_std(&enc).ok(), decode_std_slow(&enc).ok(), "{enc:?}");
        }
        for n in 0..300usize {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 37 + n) as u8).collect();
            assert_eq!(encode_std(&bytes), STANDARD.encode(&bytes));
            let mut out = String::from("vault:v1:");
            encode_std_append(&bytes, &mut out);
            assert_eq!(out, format!("vault:v1:{}", STANDARD.encode(&bytes)));
        }
    }
}
