//! Private keys: the key types OpenBao's PKI engine knows, generating them (RSA off the async
//! runtime's threads), importing them, and the stored key record (`config/key/<id>`).

use std::fmt;

use rcgen::{KeyPair, RsaKeySize, SignatureAlgorithm};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{PkiError, PkiResult};

/// A key algorithm and size, as a role or a CA request names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    /// RSA with a modulus of this many bits.
    Rsa(u32),
    /// ECDSA on the NIST curve of this many bits.
    Ec(u32),
    /// Ed25519.
    Ed25519,
}

impl KeySpec {
    /// Parses `key_type` and `key_bits` (0: the type's default) as OpenBao validates them.
    pub fn parse(key_type: &str, key_bits: i64) -> PkiResult<KeySpec> {
        match key_type {
            "rsa" => {
                let bits = if key_bits == 0 { 2048 } else { key_bits };
                match bits {
                    b if b < 2048 => Err(PkiError::bad(format!(
                        "RSA keys < 2048 bits are unsafe and not supported: got {b}"
                    ))),
                    2048 | 3072 | 4096 => Ok(KeySpec::Rsa(bits as u32)),
                    8192 => Err(PkiError::bad("RSA keys of 8192 bits are not supported")),
                    _ => Err(PkiError::bad(format!(
                        "unsupported bit length for RSA key: {bits}"
                    ))),
                }
            }
            "ec" => {
                let bits = if key_bits == 0 { 256 } else { key_bits };
                match bits {
                    256 | 384 | 521 => Ok(KeySpec::Ec(bits as u32)),
                    224 => Err(PkiError::bad("EC keys on P-224 are not supported")),
                    _ => Err(PkiError::bad(format!(
                        "unsupported bit length for EC key: {bits}"
                    ))),
                }
            }
            "ed25519" => Ok(KeySpec::Ed25519),
            other => Err(PkiError::bad(format!("unknown key type {other}"))),
        }
    }

    /// OpenBao's name of the type.
    pub fn type_name(&self) -> &'static str {
        match self {
            KeySpec::Rsa(_) => "rsa",
            KeySpec::Ec(_) => "ec",
            KeySpec::Ed25519 => "ed25519",
        }
    }

    /// The size in bits (0 for ed25519, as OpenBao reports it).
    pub fn bits(&self) -> u32 {
        match self {
            KeySpec::Rsa(b) | KeySpec::Ec(b) => *b,
            KeySpec::Ed25519 => 0,
        }
    }

    /// The signature algorithm a key of this spec signs with; `signature_bits` (0: default)
    /// picks the RSA hash.
    pub fn signature_algorithm(
        &self,
        signature_bits: i64,
    ) -> PkiResult<&'static SignatureAlgorithm> {
        Ok(match self {
            KeySpec::Rsa(_) => match signature_bits {
                0 | 256 => &rcgen::PKCS_RSA_SHA256,
                384 => &rcgen::PKCS_RSA_SHA384,
                512 => &rcgen::PKCS_RSA_SHA512,
                other => {
                    return Err(PkiError::bad(format!(
                        "unsupported signature_bits value: {other}"
                    )));
                }
            },
            KeySpec::Ec(256) => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeySpec::Ec(384) => &rcgen::PKCS_ECDSA_P384_SHA384,
            KeySpec::Ec(_) => &rcgen::PKCS_ECDSA_P521_SHA512,
            KeySpec::Ed25519 => &rcgen::PKCS_ED25519,
        })
    }

    /// The spec of an existing key.
    pub fn of(key: &KeyPair) -> PkiResult<KeySpec> {
        spec_of_alg(key.algorithm(), key.public_key_raw().len())
    }
}

/// The spec of a public key given its algorithm and raw public key length.
pub fn spec_of_alg(alg: &'static SignatureAlgorithm, raw_len: usize) -> PkiResult<KeySpec> {
    if alg == &rcgen::PKCS_ED25519 {
        Ok(KeySpec::Ed25519)
    } else if alg == &rcgen::PKCS_ECDSA_P256_SHA256 {
        Ok(KeySpec::Ec(256))
    } else if alg == &rcgen::PKCS_ECDSA_P384_SHA384 {
        Ok(KeySpec::Ec(384))
    } else if alg == &rcgen::PKCS_ECDSA_P521_SHA512
        || alg == &rcgen::PKCS_ECDSA_P521_SHA256
        || alg == &rcgen::PKCS_ECDSA_P521_SHA384
    {
        Ok(KeySpec::Ec(521))
    } else if alg == &rcgen::PKCS_RSA_SHA256
        || alg == &rcgen::PKCS_RSA_SHA384
        || alg == &rcgen::PKCS_RSA_SHA512
    {
        // The raw key is the PKCS#1 RSAPublicKey: modulus plus a few bytes of framing.
        let bits = match raw_len {
            0..=300 => 2048,
            301..=430 => 3072,
            _ => 4096,
        };
        Ok(KeySpec::Rsa(bits))
    } else {
        Err(PkiError::bad("unsupported key algorithm"))
    }
}

/// Generates a key of `spec`; RSA generation takes long, so it runs on a blocking thread.
pub async fn generate(spec: KeySpec) -> PkiResult<KeyPair> {
    match spec {
        KeySpec::Rsa(bits) => {
            let size = match bits {
                3072 => RsaKeySize::_3072,
                4096 => RsaKeySize::_4096,
                _ => RsaKeySize::_2048,
            };
            tokio::task::spawn_blocking(move || {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, size)
            })
            .await
            .map_err(|e| PkiError::Crypto(format!("key generation task failed: {e}")))?
            .map_err(|e| PkiError::Crypto(format!("error generating RSA private key: {e}")))
        }
        other => KeyPair::generate_for(other.signature_algorithm(0)?)
            .map_err(|e| PkiError::Crypto(format!("error generating private key: {e}"))),
    }
}

/// Loads a PEM private key (PKCS#8, PKCS#1 or SEC1) to sign with `signature_bits`.
pub fn load(pem_text: &str, signature_bits: i64) -> PkiResult<KeyPair> {
    let probe = KeyPair::from_pem(pem_text)
        .map_err(|_| PkiError::bad("unable to parse private key: unknown or invalid key format"))?;
    let spec = KeySpec::of(&probe)?;
    let alg = spec.signature_algorithm(signature_bits)?;
    if std::ptr::eq(alg, probe.algorithm()) {
        return Ok(probe);
    }
    KeyPair::from_pem_and_sign_algo(pem_text, alg)
        .map_err(|e| PkiError::Crypto(format!("unable to load private key: {e}")))
}

/// A stored issuer key: `config/key/<id>`. The private key never shows in `Debug`.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeyEntry {
    /// The key's UUID.
    pub id: String,
    /// The operator's name for it ("" when unnamed).
    #[serde(default)]
    pub name: String,
    /// `rsa`, `ec` or `ed25519`.
    pub private_key_type: String,
    /// The private key, PKCS#8 PEM.
    pub private_key: Zeroizing<String>,
}

impl fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyEntry")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("private_key_type", &self.private_key_type)
            .finish_non_exhaustive()
    }
}

impl KeyEntry {
    /// A record for `key` with a fresh id.
    pub fn new(key: &KeyPair, name: &str) -> PkiResult<KeyEntry> {
        Ok(KeyEntry {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
            private_key_type: KeySpec::of(key)?.type_name().to_string(),
            private_key: Zeroizing::new(key.serialize_pem()),
        })
    }

    /// The key, ready to sign with `signature_bits`.
    pub fn key_pair(&self, signature_bits: i64) -> PkiResult<KeyPair> {
        load(&self.private_key, signature_bits)
    }
}

/// The private key as OpenBao hands it out: with `private_key_format` `pkcs8` a PKCS#8 PEM;
/// otherwise (`der`, the default, or `pem`) the key type's own format, PEM-encoded: PKCS#1
/// (`RSA PRIVATE KEY`) for RSA, SEC 1 (`EC PRIVATE KEY`) for EC, PKCS#8 for Ed25519.
pub fn export_private(key: &KeyPair, private_key_format: &str) -> String {
    let pkcs8 = key.serialize_der();
    if private_key_format != "pkcs8" {
        match KeySpec::of(key) {
            Ok(KeySpec::Rsa(_)) => {
                if let Some(pkcs1) = pkcs8_inner_key(&pkcs8) {
                    return crate::x509::pem_encode("RSA PRIVATE KEY", &pkcs1);
                }
            }
            Ok(KeySpec::Ec(bits)) => {
                if let Some(sec1) = sec1_of(&pkcs8, bits) {
                    return crate::x509::pem_encode("EC PRIVATE KEY", &sec1);
                }
            }
            _ => {}
        }
    }
    if let Ok(KeySpec::Ed25519) = KeySpec::of(key)
        && let Some(v1) = ed25519_v1(&pkcs8)
    {
        return crate::x509::pem_encode("PRIVATE KEY", &v1);
    }
    crate::x509::pem_encode("PRIVATE KEY", &pkcs8)
}

/// An Ed25519 key as PKCS#8 v1 (OpenSSL 3.0 does not read the v2 form with the public key).
fn ed25519_v1(pkcs8: &[u8]) -> Option<Vec<u8>> {
    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
    let kp = aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).ok()?;
    let der: Pkcs8V1Der<'static> = kp.as_der().ok()?;
    Some(der.as_ref().to_vec())
}

/// The privateKey OCTET STRING of a PKCS#8 PrivateKeyInfo (for RSA: the PKCS#1 key).
fn pkcs8_inner_key(pkcs8: &[u8]) -> Option<Vec<u8>> {
    let (_, info) = x509_parser::der_parser::parse_der(pkcs8).ok()?;
    let fields = info.as_sequence().ok()?;
    Some(fields.get(2)?.as_slice().ok()?.to_vec())
}

/// The SEC 1 ECPrivateKey (with its curve) of a PKCS#8 EC key, from aws-lc-rs.
fn sec1_of(pkcs8: &[u8], bits: u32) -> Option<Vec<u8>> {
    use aws_lc_rs::encoding::AsDer;
    let alg = match bits {
        256 => &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        384 => &aws_lc_rs::signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        _ => &aws_lc_rs::signature::ECDSA_P521_SHA512_ASN1_SIGNING,
    };
    let kp = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8).ok()?;
    let der = kp.private_key().as_der().ok()?;
    Some(der.as_ref().to_vec())
}
