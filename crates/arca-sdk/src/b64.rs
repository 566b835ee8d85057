//! Standard base64 decoding that words its failure as Go's `encoding/base64` does, for the
//! error texts OpenBao's endpoints pass through.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Decodes padded standard base64; the error is Go's `illegal base64 data at input byte N`.
pub fn decode_std(s: &str) -> Result<Vec<u8>, String> {
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

#[cfg(test)]
mod tests {
    #[test]
    fn words_errors_as_go() {
        assert_eq!(super::decode_std("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(
            super::decode_std("notb64!").unwrap_err(),
            "illegal base64 data at input byte 6"
        );
    }
}
