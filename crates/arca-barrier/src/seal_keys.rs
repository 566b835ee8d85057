//! The Shamir seal's records, kept in physical storage outside the barrier.
//!
//! - [`SEAL_CONFIG_PATH`]: the seal configuration ([`SealConfig`]), plaintext JSON as in
//!   Vault, so `sys/seal-status` can answer while sealed;
//! - [`ROOT_KEY_PATH`]: the root key encrypted by the unseal key (AES-256-GCM, term 0, the
//!   path as associated data); the unseal key itself is never stored, only its shares exist;
//! - [`RECOVERY_CONFIG_PATH`]: with an auto seal, the configuration of the recovery key's
//!   shares (plaintext JSON, as the seal configuration).

use arca_storage::PhysicalBackend;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::aead::{KEY_LEN, TermCipher, blob_term};
use crate::barrier::ROOT_TERM;
use crate::error::BarrierError;
use crate::keyring::{key_array, random_key};

/// Where the seal configuration is stored (plaintext JSON).
pub const SEAL_CONFIG_PATH: &str = "core/seal-config";
/// Where the root key is stored, encrypted by the unseal key.
pub const ROOT_KEY_PATH: &str = "core/hsm/barrier-unseal-keys";
/// Where the recovery key's share configuration is stored with an auto seal (plaintext JSON).
pub const RECOVERY_CONFIG_PATH: &str = "core/recovery-config";
/// The version marker of the stored seal configuration.
pub const SEAL_CONFIG_VERSION: u32 = 1;

fn default_version() -> u32 {
    SEAL_CONFIG_VERSION
}

fn default_type() -> String {
    "shamir".to_string()
}

/// The seal configuration, with Vault's JSON field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealConfig {
    /// Version marker of this record.
    #[serde(default = "default_version")]
    pub version: u32,
    /// The seal type: `shamir`.
    #[serde(rename = "type", default = "default_type")]
    pub seal_type: String,
    /// How many key shares the unseal key is split into.
    pub secret_shares: usize,
    /// How many shares are needed to rebuild the unseal key.
    pub secret_threshold: usize,
    /// How many shares are stored by the seal itself (Vault's field).
    #[serde(default)]
    pub stored_shares: usize,
    /// PGP keys that encrypt the returned shares, one per share.
    #[serde(default)]
    pub pgp_keys: Option<Vec<String>>,
    /// The nonce of an in-progress rekey, empty otherwise.
    #[serde(default)]
    pub nonce: String,
    /// Whether PGP-encrypted shares are backed up.
    #[serde(default)]
    pub backup: bool,
}

impl SealConfig {
    /// A Shamir configuration with `shares` shares and `threshold`.
    ///
    /// `stored_shares` is 1, as Vault and OpenBao set it for a Shamir seal whose root key is
    /// stored encrypted by the unseal key (the layout of this module).
    pub fn shamir(shares: usize, threshold: usize) -> Self {
        Self {
            version: SEAL_CONFIG_VERSION,
            seal_type: default_type(),
            secret_shares: shares,
            secret_threshold: threshold,
            stored_shares: 1,
            pgp_keys: None,
            nonce: String::new(),
            backup: false,
        }
    }

    /// The barrier configuration of an auto seal of type `seal_type` (`transit`): the root
    /// key is one stored "share", encrypted by the seal.
    pub fn auto(seal_type: &str) -> Self {
        Self {
            seal_type: seal_type.to_string(),
            ..Self::shamir(1, 1)
        }
    }

    /// Whether the root key is protected by Shamir shares of an unseal key (not an auto seal).
    #[must_use]
    pub fn is_shamir(&self) -> bool {
        self.seal_type == "shamir"
    }

    /// Checks the configuration with Vault's rules and messages.
    pub fn validate(&self) -> Result<(), BarrierError> {
        let fail = |m: &str| Err(BarrierError::SealConfig(m.to_string()));
        if self.secret_shares < 1 {
            return fail("shares must be at least one");
        }
        if self.secret_threshold < 1 {
            return fail("threshold must be at least one");
        }
        self.validate_recovery()
    }

    /// Checks a recovery key configuration: as [`SealConfig::validate`], except that zero
    /// shares (no recovery key at all) are allowed, as in OpenBao.
    pub fn validate_recovery(&self) -> Result<(), BarrierError> {
        let fail = |m: &str| Err(BarrierError::SealConfig(m.to_string()));
        if self.secret_shares > 1 && self.secret_threshold == 1 {
            return fail("threshold must be greater than one for multiple shares");
        }
        if self.secret_shares > 255 {
            return fail("shares must be less than 256");
        }
        if self.secret_threshold > 255 {
            return fail("threshold must be less than 256");
        }
        if self.secret_threshold > self.secret_shares {
            return fail("threshold cannot be larger than shares");
        }
        if self.stored_shares > self.secret_shares {
            return fail("stored keys cannot be larger than shares");
        }
        if let Some(keys) = &self.pgp_keys
            && !keys.is_empty()
            && keys.len() != self.secret_shares
        {
            return fail("count mismatch between number of provided PGP keys and number of shares");
        }
        Ok(())
    }
}

/// Reads the seal configuration, `None` when the seal was never configured.
pub async fn read_seal_config(
    physical: &dyn PhysicalBackend,
) -> Result<Option<SealConfig>, BarrierError> {
    let Some(bytes) = physical.get(SEAL_CONFIG_PATH).await? else {
        return Ok(None);
    };
    let config: SealConfig = serde_json::from_slice(&bytes)
        .map_err(|e| BarrierError::SealConfig(format!("cannot decode: {e}")))?;
    if config.version != SEAL_CONFIG_VERSION {
        return Err(BarrierError::SealConfig(format!(
            "unsupported version {}",
            config.version
        )));
    }
    Ok(Some(config))
}

/// Validates and writes the seal configuration.
pub async fn write_seal_config(
    physical: &dyn PhysicalBackend,
    config: &SealConfig,
) -> Result<(), BarrierError> {
    config.validate()?;
    let bytes = serde_json::to_vec(config).map_err(|e| BarrierError::SealConfig(e.to_string()))?;
    physical.put(SEAL_CONFIG_PATH, bytes).await?;
    Ok(())
}

/// Reads the recovery key configuration of an auto seal, `None` when there is none.
pub async fn read_recovery_config(
    physical: &dyn PhysicalBackend,
) -> Result<Option<SealConfig>, BarrierError> {
    let Some(bytes) = physical.get(RECOVERY_CONFIG_PATH).await? else {
        return Ok(None);
    };
    let config: SealConfig = serde_json::from_slice(&bytes)
        .map_err(|e| BarrierError::SealConfig(format!("cannot decode recovery config: {e}")))?;
    Ok(Some(config))
}

/// Validates (as a recovery configuration) and writes the recovery key configuration.
pub async fn write_recovery_config(
    physical: &dyn PhysicalBackend,
    config: &SealConfig,
) -> Result<(), BarrierError> {
    config.validate_recovery()?;
    let bytes = serde_json::to_vec(config).map_err(|e| BarrierError::SealConfig(e.to_string()))?;
    physical.put(RECOVERY_CONFIG_PATH, bytes).await?;
    Ok(())
}

/// Encrypts `root_key` with `unseal_key` and stores it at [`ROOT_KEY_PATH`].
pub async fn store_root_key(
    physical: &dyn PhysicalBackend,
    unseal_key: &[u8],
    root_key: &[u8],
) -> Result<(), BarrierError> {
    let root_key = key_array(root_key)?;
    let cipher = TermCipher::new(ROOT_TERM, unseal_key)?;
    let blob = cipher.encrypt(ROOT_KEY_PATH.as_bytes(), root_key.as_slice())?;
    physical.put(ROOT_KEY_PATH, blob).await?;
    Ok(())
}

/// Decrypts the stored root key with `unseal_key`; a wrong key gives
/// [`BarrierError::InvalidKey`].
pub async fn recover_root_key(
    physical: &dyn PhysicalBackend,
    unseal_key: &[u8],
) -> Result<Zeroizing<Vec<u8>>, BarrierError> {
    let blob = physical
        .get(ROOT_KEY_PATH)
        .await?
        .ok_or(BarrierError::NotInitialized)?;
    if unseal_key.len() != KEY_LEN {
        return Err(BarrierError::InvalidKey);
    }
    if blob_term(&blob)? != ROOT_TERM {
        return Err(BarrierError::Malformed("root key not under the unseal key"));
    }
    let cipher = TermCipher::new(ROOT_TERM, unseal_key)?;
    let root = cipher
        .decrypt(ROOT_KEY_PATH.as_bytes(), blob)
        .map_err(|e| match e {
            BarrierError::Decrypt => BarrierError::InvalidKey,
            other => other,
        })?;
    if root.len() != KEY_LEN {
        return Err(BarrierError::Malformed(
            "stored root key has the wrong length",
        ));
    }
    Ok(root)
}

/// Decrypts a root-key blob as stored at [`ROOT_KEY_PATH`] (handed over by the active node
/// of a cluster to a node joining it) with `unseal_key`.
pub fn open_root_key_blob(
    blob: Vec<u8>,
    unseal_key: &[u8],
) -> Result<Zeroizing<Vec<u8>>, BarrierError> {
    if unseal_key.len() != KEY_LEN || blob_term(&blob)? != ROOT_TERM {
        return Err(BarrierError::InvalidKey);
    }
    let cipher = TermCipher::new(ROOT_TERM, unseal_key)?;
    cipher
        .decrypt(ROOT_KEY_PATH.as_bytes(), blob)
        .map_err(|_| BarrierError::InvalidKey)
}

/// Opens what [`crate::Barrier::encrypt_with_root_key`] sealed, with the root key.
pub fn open_with_root_key(
    root_key: &[u8],
    aad: &[u8],
    blob: Vec<u8>,
) -> Result<Zeroizing<Vec<u8>>, BarrierError> {
    let cipher = TermCipher::new(ROOT_TERM, root_key)?;
    cipher
        .decrypt(aad, blob)
        .map_err(|_| BarrierError::InvalidKey)
}

/// A fresh random 32-byte key (root key or unseal key).
pub fn generate_key() -> Result<Zeroizing<Vec<u8>>, BarrierError> {
    let key = random_key()?;
    Ok(Zeroizing::new(key.to_vec()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn seal_config_json_uses_vault_field_names() {
        let config = SealConfig::shamir(5, 3);
        let v = serde_json::to_value(&config).unwrap();
        assert_eq!(v["type"], "shamir");
        assert_eq!(v["secret_shares"], 5);
        assert_eq!(v["secret_threshold"], 3);
        assert_eq!(v["stored_shares"], 1);
        assert_eq!(v["version"], 1);
        assert_eq!(v["pgp_keys"], serde_json::Value::Null);
        let back: SealConfig = serde_json::from_value(v).unwrap();
        assert_eq!(back, config);
    }

    #[test]
    fn seal_config_defaults_for_missing_fields() {
        let c: SealConfig =
            serde_json::from_str(r#"{"secret_shares":1,"secret_threshold":1}"#).unwrap();
        assert_eq!(c.version, 1);
        assert_eq!(c.seal_type, "shamir");
        assert_eq!(c.stored_shares, 0);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn seal_config_validation() {
        let ok = |s, t| SealConfig::shamir(s, t).validate().is_ok();
        assert!(ok(5, 3));
        assert!(ok(1, 1));
        assert!(ok(255, 255));
        assert!(!ok(0, 0));
        assert!(!ok(3, 0));
        assert!(!ok(3, 1));
        assert!(!ok(3, 4));
        assert!(!ok(256, 2));
        let mut c = SealConfig::shamir(3, 2);
        c.pgp_keys = Some(vec!["k".into()]);
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("count mismatch"), "{err}");
    }

    #[test]
    fn recovery_config_may_have_no_shares() {
        // A recovery configuration stores no share itself.
        let none = SealConfig {
            stored_shares: 0,
            ..SealConfig::shamir(0, 0)
        };
        assert!(none.validate_recovery().is_ok());
        assert!(none.validate().is_err());
        let err = SealConfig::shamir(3, 1).validate_recovery().unwrap_err();
        assert!(err.to_string().contains("greater than one"), "{err}");
        let auto = SealConfig::auto("transit");
        assert_eq!((auto.secret_shares, auto.secret_threshold), (1, 1));
        assert!(!auto.is_shamir() && SealConfig::shamir(1, 1).is_shamir());
    }

    #[test]
    fn generated_keys_are_random_32_bytes() {
        let a = generate_key().unwrap();
        let b = generate_key().unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
