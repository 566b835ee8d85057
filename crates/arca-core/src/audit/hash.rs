//! The HMAC every audit device applies to what it records: `hmac-sha256:<hex>` under the
//! device's own salt.

use aws_lc_rs::hmac;

/// The length of `hmac-sha256:` and 64 hex digits.
pub(crate) const HMAC_LEN: usize = 12 + 64;

/// A device's salt, kept in the barrier beside its table entry. Two devices hash the same
/// input differently; `sys/audit-hash/<path>` hashes with the named device's salt.
pub(crate) struct Salt {
    key: hmac::Key,
}

impl Salt {
    /// A salt from its stored bytes.
    pub(crate) fn new(salt: &[u8]) -> Salt {
        Salt {
            key: hmac::Key::new(hmac::HMAC_SHA256, salt),
        }
    }

    /// A salt nobody keeps (the test line written when a device is enabled).
    pub(crate) fn ephemeral() -> Salt {
        Salt::new(uuid::Uuid::new_v4().to_string().as_bytes())
    }

    /// `hmac-sha256:<hex>` of `data`, as Vault's `GetIdentifiedHMAC`.
    pub(crate) fn hmac(&self, data: &str) -> String {
        let out = self.hmac_bytes(data);
        // The buffer holds only ASCII.
        String::from_utf8_lossy(&out).into_owned()
    }

    /// [`Salt::hmac`] into a fixed buffer, without allocating.
    pub(crate) fn hmac_bytes(&self, data: &str) -> [u8; HMAC_LEN] {
        const PREFIX: &[u8] = b"hmac-sha256:";
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let tag = hmac::sign(&self.key, data.as_bytes());
        let mut out = [0u8; HMAC_LEN];
        out[..PREFIX.len()].copy_from_slice(PREFIX);
        for (i, b) in tag.as_ref().iter().enumerate() {
            out[PREFIX.len() + 2 * i] = HEX[usize::from(b >> 4)];
            out[PREFIX.len() + 2 * i + 1] = HEX[usize::from(b & 0x0f)];
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_a_known_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let s = Salt::new(b"Jefe");
        assert_eq!(
            s.hmac("what do ya want for nothing?"),
            "hmac-sha256:5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
