//! The key algorithms, numbered as keysutil numbers them in stored JSON.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A key's algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// AES-256-GCM with 96-bit nonces (0, the default).
    Aes256Gcm96,
    /// ECDSA on P-256 (1).
    EcdsaP256,
    /// Ed25519 (2).
    Ed25519,
    /// RSA 2048 (3).
    Rsa2048,
    /// RSA 4096 (4).
    Rsa4096,
    /// ChaCha20-Poly1305 (5).
    ChaCha20Poly1305,
    /// ECDSA on P-384 (6).
    EcdsaP384,
    /// ECDSA on P-521 (7).
    EcdsaP521,
    /// AES-128-GCM with 96-bit nonces (8).
    Aes128Gcm96,
    /// RSA 3072 (9).
    Rsa3072,
    /// HMAC-only key (10).
    Hmac,
    /// XChaCha20-Poly1305 (11).
    XChaCha20Poly1305,
    /// A type number Arca does not know (kept to refuse it clearly).
    Unknown(i64),
}

impl KeyType {
    /// The stored number.
    pub fn number(self) -> i64 {
        match self {
            KeyType::Aes256Gcm96 => 0,
            KeyType::EcdsaP256 => 1,
            KeyType::Ed25519 => 2,
            KeyType::Rsa2048 => 3,
            KeyType::Rsa4096 => 4,
            KeyType::ChaCha20Poly1305 => 5,
            KeyType::EcdsaP384 => 6,
            KeyType::EcdsaP521 => 7,
            KeyType::Aes128Gcm96 => 8,
            KeyType::Rsa3072 => 9,
            KeyType::Hmac => 10,
            KeyType::XChaCha20Poly1305 => 11,
            KeyType::Unknown(n) => n,
        }
    }

    /// The type of a stored number.
    pub fn from_number(n: i64) -> KeyType {
        match n {
            0 => KeyType::Aes256Gcm96,
            1 => KeyType::EcdsaP256,
            2 => KeyType::Ed25519,
            3 => KeyType::Rsa2048,
            4 => KeyType::Rsa4096,
            5 => KeyType::ChaCha20Poly1305,
            6 => KeyType::EcdsaP384,
            7 => KeyType::EcdsaP521,
            8 => KeyType::Aes128Gcm96,
            9 => KeyType::Rsa3072,
            10 => KeyType::Hmac,
            11 => KeyType::XChaCha20Poly1305,
            other => KeyType::Unknown(other),
        }
    }

    /// The API name (`aes256-gcm96`, ...).
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Aes128Gcm96 => "aes128-gcm96",
            KeyType::Aes256Gcm96 => "aes256-gcm96",
            KeyType::ChaCha20Poly1305 => "chacha20-poly1305",
            KeyType::XChaCha20Poly1305 => "xchacha20-poly1305",
            KeyType::EcdsaP256 => "ecdsa-p256",
            KeyType::EcdsaP384 => "ecdsa-p384",
            KeyType::EcdsaP521 => "ecdsa-p521",
            KeyType::Ed25519 => "ed25519",
            KeyType::Rsa2048 => "rsa-2048",
            KeyType::Rsa3072 => "rsa-3072",
            KeyType::Rsa4096 => "rsa-4096",
            KeyType::Hmac => "hmac",
            KeyType::Unknown(_) => "[unknown]",
        }
    }

    /// The type of an API name.
    pub fn parse(name: &str) -> Option<KeyType> {
        [
            KeyType::Aes128Gcm96,
            KeyType::Aes256Gcm96,
            KeyType::ChaCha20Poly1305,
            KeyType::XChaCha20Poly1305,
            KeyType::EcdsaP256,
            KeyType::EcdsaP384,
            KeyType::EcdsaP521,
            KeyType::Ed25519,
            KeyType::Rsa2048,
            KeyType::Rsa3072,
            KeyType::Rsa4096,
            KeyType::Hmac,
        ]
        .into_iter()
        .find(|t| t.name() == name)
    }

    /// A symmetric AEAD type.
    pub fn is_aead(self) -> bool {
        matches!(
            self,
            KeyType::Aes128Gcm96
                | KeyType::Aes256Gcm96
                | KeyType::ChaCha20Poly1305
                | KeyType::XChaCha20Poly1305
        )
    }

    /// An RSA type.
    pub fn is_rsa(self) -> bool {
        matches!(self, KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096)
    }

    /// An ECDSA type.
    pub fn is_ecdsa(self) -> bool {
        matches!(
            self,
            KeyType::EcdsaP256 | KeyType::EcdsaP384 | KeyType::EcdsaP521
        )
    }

    /// Encrypts (and decrypts).
    pub fn encryption_supported(self) -> bool {
        self.is_aead() || self.is_rsa()
    }

    /// Signs and verifies.
    pub fn signing_supported(self) -> bool {
        self.is_ecdsa() || self.is_rsa() || self == KeyType::Ed25519
    }

    /// Derives per-context keys.
    pub fn derivation_supported(self) -> bool {
        self.is_aead() || self == KeyType::Ed25519
    }

    /// The symmetric key length in bytes.
    pub fn key_len(self) -> usize {
        if self == KeyType::Aes128Gcm96 { 16 } else { 32 }
    }

    /// The RSA modulus size in bits.
    pub fn rsa_bits(self) -> usize {
        match self {
            KeyType::Rsa3072 => 3072,
            KeyType::Rsa4096 => 4096,
            _ => 2048,
        }
    }
}

impl Serialize for KeyType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.number())
    }
}

impl<'de> Deserialize<'de> for KeyType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<KeyType, D::Error> {
        Ok(KeyType::from_number(i64::deserialize(d)?))
    }
}
