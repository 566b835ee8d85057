//! Auto seals: the root key protected by an outside service (OpenBao's `seal "transit"`)
//! instead of Shamir shares of an unseal key.
//!
//! The core only knows the [`AutoSeal`] trait: encrypt and decrypt a few bytes. The binary
//! supplies the implementation (the HTTP client of a transit engine). With an auto seal the
//! physical storage holds, beside the plaintext seal configuration:
//! - [`AUTO_ROOT_KEY_PATH`]: the root key encrypted by the seal;
//! - [`RECOVERY_KEY_PATH`]: the recovery key encrypted by the seal (its shares, the recovery
//!   keys, authorize generate-root, the recovery rekey and a migration back to Shamir; they
//!   cannot decrypt anything themselves);
//! - [`arca_barrier::RECOVERY_CONFIG_PATH`]: the recovery shares' configuration.

use std::sync::Arc;

use arca_sdk::LogicalError;
use arca_storage::PhysicalBackend;
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Where the root key is stored, encrypted by the auto seal.
pub const AUTO_ROOT_KEY_PATH: &str = "core/auto-seal/root-key";
/// Where the recovery key is stored, encrypted by the auto seal.
pub const RECOVERY_KEY_PATH: &str = "core/auto-seal/recovery-key";

/// Why the outside service could not encrypt or decrypt. The text never carries key
/// material or credentials.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct AutoSealError(pub String);

/// A seal that encrypts the root key through an outside service.
#[async_trait]
pub trait AutoSeal: Send + Sync {
    /// The seal type, as `sys/seal-status` reports it (`transit`).
    fn seal_type(&self) -> &str;
    /// Encrypts `plaintext`; the result is opaque bytes to store.
    async fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, AutoSealError>;
    /// Decrypts what [`AutoSeal::encrypt`] returned.
    async fn decrypt(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, AutoSealError>;
}

/// The seals the server config names.
#[derive(Clone, Default)]
pub struct SealSetup {
    /// The seal in use; `None` is Shamir.
    pub auto: Option<Arc<dyn AutoSeal>>,
    /// An auto seal whose stanza says `disabled = "true"`: the seal a migration to Shamir
    /// moves away from, still needed to decrypt the stored root key once.
    pub disabled: Option<Arc<dyn AutoSeal>>,
}

impl std::fmt::Debug for SealSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealSetup")
            .field("auto", &self.auto.as_ref().map(|s| s.seal_type()))
            .field("disabled", &self.disabled.as_ref().map(|s| s.seal_type()))
            .finish()
    }
}

impl SealSetup {
    /// The type of the seal in use: the auto seal's, or `shamir`.
    #[must_use]
    pub fn seal_type(&self) -> &str {
        self.auto.as_ref().map_or("shamir", |a| a.seal_type())
    }

    /// The configured seal (in use or disabled) of type `seal_type`.
    pub(crate) fn by_type(&self, seal_type: &str) -> Result<&Arc<dyn AutoSeal>, LogicalError> {
        self.auto
            .iter()
            .chain(self.disabled.iter())
            .find(|s| s.seal_type() == seal_type)
            .ok_or_else(|| {
                LogicalError::internal(format!(
                    "the stored keys are protected by a {seal_type:?} seal, which the server config does not name"
                ))
            })
    }
}

/// A value encrypted by an auto seal, as stored.
#[derive(Serialize, Deserialize)]
struct SealedRecord {
    /// The type of the seal that encrypted it.
    seal_type: String,
    /// What the seal returned, base64.
    ciphertext: String,
}

fn seal_err(what: &str, e: AutoSealError) -> LogicalError {
    LogicalError::internal(format!("{what}: {e}"))
}

/// Encrypts `plaintext` with `seal` and stores it at `path` (physical storage).
pub(crate) async fn store_sealed(
    physical: &dyn PhysicalBackend,
    seal: &dyn AutoSeal,
    path: &str,
    plaintext: &[u8],
) -> Result<(), LogicalError> {
    let ciphertext = seal
        .encrypt(plaintext)
        .await
        .map_err(|e| seal_err("failed to encrypt with the seal", e))?;
    let record = SealedRecord {
        seal_type: seal.seal_type().to_string(),
        ciphertext: STANDARD.encode(ciphertext),
    };
    let bytes = serde_json::to_vec(&record).map_err(LogicalError::internal)?;
    physical
        .put(path, bytes)
        .await
        .map_err(|e| LogicalError::internal(format!("failed to store {path}: {e}")))
}

/// Reads the record at `path` and decrypts it with the configured seal of its type; `None`
/// when there is no record.
pub(crate) async fn load_sealed(
    physical: &dyn PhysicalBackend,
    seals: &SealSetup,
    path: &str,
) -> Result<Option<Zeroizing<Vec<u8>>>, LogicalError> {
    let Some(bytes) = physical
        .get(path)
        .await
        .map_err(|e| LogicalError::internal(format!("failed to read {path}: {e}")))?
    else {
        return Ok(None);
    };
    let record: SealedRecord = serde_json::from_slice(&bytes)
        .map_err(|e| LogicalError::internal(format!("cannot decode {path}: {e}")))?;
    let ciphertext = STANDARD
        .decode(record.ciphertext.as_bytes())
        .map_err(|e| LogicalError::internal(format!("cannot decode {path}: {e}")))?;
    let seal = seals.by_type(&record.seal_type)?;
    let plaintext = seal
        .decrypt(&ciphertext)
        .await
        .map_err(|e| seal_err("failed to decrypt with the seal", e))?;
    Ok(Some(plaintext))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
pub(crate) mod tests {
    use super::*;

    /// A seal that XORs with a fixed byte: enough to tell sealed from plain in tests.
    pub(crate) struct XorSeal(pub u8, pub &'static str);

    #[async_trait]
    impl AutoSeal for XorSeal {
        fn seal_type(&self) -> &str {
            self.1
        }
        async fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, AutoSealError> {
            Ok(plaintext.iter().map(|b| b ^ self.0).collect())
        }
        async fn decrypt(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, AutoSealError> {
            Ok(Zeroizing::new(
                ciphertext.iter().map(|b| b ^ self.0).collect(),
            ))
        }
    }

    #[tokio::test]
    async fn sealed_records_round_trip_through_the_seal_of_their_type() {
        let physical = arca_storage::InmemBackend::new();
        let seals = SealSetup {
            auto: Some(Arc::new(XorSeal(0x5a, "transit"))),
            disabled: None,
        };
        let seal = seals.auto.clone().unwrap();
        store_sealed(&physical, seal.as_ref(), "k", b"secret")
            .await
            .unwrap();
        let raw = physical.get("k").await.unwrap().unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains("secret"));
        let back = load_sealed(&physical, &seals, "k").await.unwrap().unwrap();
        assert_eq!(back.as_slice(), b"secret");
        assert!(
            load_sealed(&physical, &seals, "none")
                .await
                .unwrap()
                .is_none()
        );
        // A record of a seal type the config does not name cannot be opened.
        let other = SealSetup::default();
        assert!(load_sealed(&physical, &other, "k").await.is_err());
        assert_eq!(other.seal_type(), "shamir");
    }
}
