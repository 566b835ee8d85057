//! The hash algorithms OpenBao names (`sha2-256`, `sha3-224`, ...): transit's `hash/`, `hmac/`,
//! `sign/` and `verify/`, and `sys/tools/hash`.

use aws_lc_rs::digest;
use aws_lc_rs::hmac;

/// A hash algorithm name OpenBao accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    /// No hashing (prehashed PKCS#1 v1.5 only).
    None,
    /// SHA-1.
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
    /// SHA3-224 (aws-lc-rs has no SHA3-224: RustCrypto's `sha3` digests it).
    Sha3_224,
    /// SHA3-256.
    Sha3_256,
    /// SHA3-384.
    Sha3_384,
    /// SHA3-512.
    Sha3_512,
}

impl HashAlg {
    /// The algorithm of an OpenBao name (`sha2-256`, ...).
    pub fn parse(name: &str) -> Option<HashAlg> {
        Some(match name {
            "none" => HashAlg::None,
            "sha1" => HashAlg::Sha1,
            "sha2-224" => HashAlg::Sha224,
            "sha2-256" => HashAlg::Sha256,
            "sha2-384" => HashAlg::Sha384,
            "sha2-512" => HashAlg::Sha512,
            "sha3-224" => HashAlg::Sha3_224,
            "sha3-256" => HashAlg::Sha3_256,
            "sha3-384" => HashAlg::Sha3_384,
            "sha3-512" => HashAlg::Sha3_512,
            _ => return None,
        })
    }

    /// The aws-lc-rs digest, when it has one.
    pub fn digest_alg(self) -> Option<&'static digest::Algorithm> {
        Some(match self {
            HashAlg::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            HashAlg::Sha224 => &digest::SHA224,
            HashAlg::Sha256 => &digest::SHA256,
            HashAlg::Sha384 => &digest::SHA384,
            HashAlg::Sha512 => &digest::SHA512,
            HashAlg::Sha3_256 => &digest::SHA3_256,
            HashAlg::Sha3_384 => &digest::SHA3_384,
            HashAlg::Sha3_512 => &digest::SHA3_512,
            HashAlg::None | HashAlg::Sha3_224 => return None,
        })
    }

    /// The HMAC of this hash, when aws-lc-rs has one.
    pub fn hmac_alg(self) -> Option<hmac::Algorithm> {
        Some(match self {
            HashAlg::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            HashAlg::Sha224 => hmac::HMAC_SHA224,
            HashAlg::Sha256 => hmac::HMAC_SHA256,
            HashAlg::Sha384 => hmac::HMAC_SHA384,
            HashAlg::Sha512 => hmac::HMAC_SHA512,
            _ => return None,
        })
    }

    /// The digest of `data`; `None` for `none`.
    pub fn hash(self, data: &[u8]) -> Option<Vec<u8>> {
        if self == HashAlg::Sha3_224 {
            use sha3::Digest;
            return Some(sha3::Sha3_224::digest(data).to_vec());
        }
        self.digest_alg()
            .map(|a| digest::digest(a, data).as_ref().to_vec())
    }
}

/// HMAC of `data` under `key` with this hash: aws-lc-rs' HMAC for SHA-1/SHA-2, the RFC 2104
/// construction over aws-lc-rs' SHA-3 digests otherwise; `None` for `none` and SHA3-224.
pub fn hmac_of(alg: HashAlg, key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    if let Some(h) = alg.hmac_alg() {
        return Some(hmac::sign(&hmac::Key::new(h, key), data).as_ref().to_vec());
    }
    let d = alg.digest_alg()?;
    let block = d.block_len();
    let mut k = zeroize::Zeroizing::new(if key.len() > block {
        digest::digest(d, key).as_ref().to_vec()
    } else {
        key.to_vec()
    });
    k.resize(block, 0);
    let mut inner = digest::Context::new(d);
    let ipad: zeroize::Zeroizing<Vec<u8>> =
        zeroize::Zeroizing::new(k.iter().map(|b| b ^ 0x36).collect());
    inner.update(&ipad);
    inner.update(data);
    let inner = inner.finish();
    let mut outer = digest::Context::new(d);
    let opad: zeroize::Zeroizing<Vec<u8>> =
        zeroize::Zeroizing::new(k.iter().map(|b| b ^ 0x5c).collect());
    outer.update(&opad);
    outer.update(inner.as_ref());
    Some(outer.finish().as_ref().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha3_224_matches_fips_202() {
        // FIPS 202 SHA3-224 of the empty message.
        assert_eq!(
            hex::encode(HashAlg::Sha3_224.hash(b"").unwrap()),
            "6b4e03423667dbb73b6e15454f0eb1abd4597f9a1b078e3f5b5a6bc7"
        );
    }

    #[test]
    fn hmac_sha3_256_matches_nist_vector() {
        // NIST HMAC_SHA3-256 example 1: key 00..1f, message "Sample message for keylen<blocklen".
        let key: Vec<u8> = (0u8..32).collect();
        let mac = hmac_of(
            HashAlg::Sha3_256,
            &key,
            b"Sample message for keylen<blocklen",
        )
        .unwrap();
        assert_eq!(
            hex::encode(mac),
            "4fe8e202c4f058e8dddc23d8c34e467343e23555e24fc2f025d598f558f67205"
        );
        let sha2 = hmac_of(
            HashAlg::Sha256,
            b"key",
            b"The quick brown fox jumps over the lazy dog",
        )
        .unwrap();
        assert_eq!(
            hex::encode(sha2),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }
}
