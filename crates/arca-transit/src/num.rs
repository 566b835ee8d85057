//! Non-negative big integers as Go's `math/big` writes them in JSON: bare decimal numbers of
//! any length (EC and RSA key parts in OpenBao's stored keys and backups).

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A non-negative integer held as big-endian bytes without leading zeros; wiped on drop.
#[derive(Clone, Default, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct BigNum(Vec<u8>);

impl std::fmt::Debug for BigNum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BigNum({} bytes)", self.0.len())
    }
}

impl BigNum {
    /// The integer of big-endian `bytes` (leading zeros dropped).
    pub fn from_be(bytes: &[u8]) -> BigNum {
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        BigNum(bytes[start..].to_vec())
    }

    /// The minimal big-endian bytes (empty for zero).
    pub fn be(&self) -> &[u8] {
        &self.0
    }

    /// The bytes left-padded with zeros to `len` (longer values are returned whole).
    pub fn be_padded(&self, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len.saturating_sub(self.0.len())];
        out.extend_from_slice(&self.0);
        out
    }

    /// Parses decimal digits; `None` for anything else.
    pub fn from_decimal(text: &str) -> Option<BigNum> {
        if text.is_empty() || !text.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let mut out: Vec<u8> = Vec::new();
        for c in text.bytes() {
            let mut carry = u32::from(c - b'0');
            for b in out.iter_mut().rev() {
                let v = u32::from(*b) * 10 + carry;
                *b = (v & 0xff) as u8;
                carry = v >> 8;
            }
            while carry > 0 {
                out.insert(0, (carry & 0xff) as u8);
                carry >>= 8;
            }
        }
        Some(BigNum::from_be(&out))
    }

    /// The decimal text.
    pub fn to_decimal(&self) -> String {
        let mut n = self.0.clone();
        let mut digits = Vec::new();
        while n.iter().any(|b| *b != 0) {
            let mut rem = 0u32;
            for b in n.iter_mut() {
                let v = (rem << 8) | u32::from(*b);
                *b = (v / 10) as u8;
                rem = v % 10;
            }
            digits.push(b'0' + rem as u8);
        }
        n.zeroize();
        if digits.is_empty() {
            return "0".into();
        }
        digits.reverse();
        String::from_utf8(digits).unwrap_or_default()
    }
}

impl Serialize for BigNum {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw = RawValue::from_string(self.to_decimal()).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

impl<'de> Deserialize<'de> for BigNum {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<BigNum, D::Error> {
        let raw: Box<RawValue> = Deserialize::deserialize(d)?;
        let text = raw.get().trim().trim_matches('"');
        BigNum::from_decimal(text).ok_or_else(|| D::Error::custom("invalid big integer"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_round_trip() {
        let text = "115792089210356248762697446949407573529996955224135760342422259061068512044369";
        let n = BigNum::from_decimal(text).unwrap();
        assert_eq!(n.be().len(), 32);
        assert_eq!(n.to_decimal(), text);
        assert_eq!(BigNum::from_be(&[0, 1, 0]).to_decimal(), "256");
        assert_eq!(BigNum::default().to_decimal(), "0");
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, text);
        let back: BigNum = serde_json::from_str(&json).unwrap();
        assert_eq!(back, n);
        assert!(BigNum::from_decimal("12a").is_none());
    }
}
