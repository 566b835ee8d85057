//! Creating and rotating keys, and the `keys/<name>` view of a key.

use arca_sdk::{JsonMap, LogicalError};
use serde_json::{Value, json};

use crate::der;
use crate::keyring::{self, Loaded, OpError};
use crate::keytype::KeyType;
use crate::policy::{KeyEntry, Policy, now};

/// HMAC key size bounds in bytes.
pub const HMAC_MIN: i64 = 32;
/// HMAC key size upper bound in bytes.
pub const HMAC_MAX: i64 = 512;

/// What a new key is made with.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    /// Algorithm.
    pub key_type: Option<KeyType>,
    /// Derived.
    pub derived: bool,
    /// Convergent.
    pub convergent: bool,
    /// Exportable.
    pub exportable: bool,
    /// Plaintext backup allowed.
    pub allow_plaintext_backup: bool,
    /// Rotation period in seconds.
    pub auto_rotate_period: i64,
    /// HMAC key size.
    pub key_size: i64,
}

/// keysutil's checks and defaults for a new key, then its first version.
pub fn new_policy(name: &str, req: &NewKey) -> Result<Policy, LogicalError> {
    let t = req.key_type.unwrap_or(KeyType::Aes256Gcm96);
    let refuse = |m: String| Err(LogicalError::invalid_input(m));
    if t.is_aead() {
        if req.convergent && !req.derived {
            return refuse("convergent encryption requires derivation to be enabled".into());
        }
    } else if t == KeyType::Ed25519 {
        if req.convergent {
            return refuse(format!(
                "convergent encryption not supported for keys of type {}",
                t.name()
            ));
        }
    } else if req.derived || req.convergent {
        return refuse(format!(
            "key derivation and convergent encryption not supported for keys of type {}",
            t.name()
        ));
    }
    let mut p = Policy {
        name: name.to_string(),
        key_type: t,
        derived: req.derived,
        exportable: req.exportable,
        allow_plaintext_backup: req.allow_plaintext_backup,
        auto_rotate_period: req.auto_rotate_period.saturating_mul(1_000_000_000),
        key_size: req.key_size,
        ..Policy::default()
    };
    if req.derived {
        p.kdf = 1;
        if req.convergent {
            p.convergent_encryption = true;
            p.convergent_version = -1;
        }
    }
    rotate(&mut p)?;
    Ok(p)
}

/// keysutil's `RotateInMemory`: a new latest version.
pub fn rotate(p: &mut Policy) -> Result<(), LogicalError> {
    if p.soft_deleted {
        return Err(OpError::User("refusing to use soft-deleted key".into()).into());
    }
    if p.imported && !p.allow_imported_key_rotation {
        return Err(LogicalError::invalid_input(format!(
            "imported key {} does not allow rotation within Vault",
            p.name
        )));
    }
    let (time, unix) = now();
    let mut entry = KeyEntry {
        time,
        creation_time: unix,
        hmac_key: Some(keyring::random_bytes(32)?),
        ..KeyEntry::default()
    };
    let t = p.key_type;
    match t {
        _ if t.is_aead() || t == KeyType::Hmac => {
            let n = if t == KeyType::Hmac {
                if p.key_size < HMAC_MIN || p.key_size > HMAC_MAX {
                    return Err(LogicalError::invalid_input(format!(
                        "invalid key size for HMAC key, must be between {HMAC_MIN} and {HMAC_MAX} bytes"
                    )));
                }
                p.key_size as usize
            } else {
                t.key_len()
            };
            let k = keyring::random_bytes(n)?;
            if t == KeyType::Hmac {
                entry.hmac_key = Some(k.clone());
            }
            entry.key = Some(k);
        }
        _ if t.is_ecdsa() => {
            let (d, x, y, pem) = keyring::generate_ecdsa(t)?;
            entry.ec_d = Some(d);
            entry.ec_x = Some(x);
            entry.ec_y = Some(y);
            entry.public_key = pem;
        }
        KeyType::Ed25519 => {
            let (k, public) = keyring::generate_ed25519()?;
            entry.key = Some(k);
            entry.public_key = public;
        }
        _ if t.is_rsa() => {
            entry.rsa_key = Some(keyring::generate_rsa(t.rsa_bits())?);
        }
        _ => {
            return Err(LogicalError::invalid_input(format!(
                "unsupported key type {}",
                t.name()
            )));
        }
    }
    if p.convergent_encryption && (p.convergent_version == -1 || p.convergent_version > 1) {
        entry.convergent_version = keyring::CURRENT_CONVERGENT_VERSION;
    }
    p.latest_version += 1;
    p.keys.insert(p.latest_version.to_string(), entry);
    if p.min_decryption_version == 0 {
        p.min_decryption_version = 1;
    }
    p.imported = false;
    Ok(())
}

/// PEM `PUBLIC KEY` of an RSA version.
pub fn rsa_public_pem(e: &KeyEntry) -> String {
    let (n, exp) = match (&e.rsa_key, &e.rsa_public_key) {
        (Some(k), _) => (&k.n, k.e),
        (None, Some(p)) => (&p.n, p.e),
        _ => return String::new(),
    };
    let pkcs1 = der::sequence(&[
        der::integer(n.be()),
        der::integer(&(exp as u64).to_be_bytes()),
    ]);
    der::pem("PUBLIC KEY", &keyring::rsa_spki(&pkcs1))
}

/// The `keys/<name>` answer (OpenBao's `formatKeyPolicy`).
pub fn format_key(k: &Loaded, context: &[u8]) -> Result<JsonMap, LogicalError> {
    let p = &k.policy;
    let t = p.key_type;
    let mut d = JsonMap::new();
    d.insert("name".into(), json!(p.name));
    d.insert("type".into(), json!(t.name()));
    d.insert("derived".into(), json!(p.derived));
    d.insert("deletion_allowed".into(), json!(p.deletion_allowed));
    d.insert(
        "min_available_version".into(),
        json!(p.min_available_version),
    );
    d.insert(
        "min_decryption_version".into(),
        json!(p.min_decryption_version),
    );
    d.insert(
        "min_encryption_version".into(),
        json!(p.min_encryption_version),
    );
    d.insert("latest_version".into(), json!(p.latest_version));
    d.insert("exportable".into(), json!(p.exportable));
    d.insert(
        "allow_plaintext_backup".into(),
        json!(p.allow_plaintext_backup),
    );
    d.insert(
        "supports_encryption".into(),
        json!(t.encryption_supported()),
    );
    d.insert(
        "supports_decryption".into(),
        json!(t.encryption_supported()),
    );
    d.insert("supports_signing".into(), json!(t.signing_supported()));
    d.insert(
        "supports_derivation".into(),
        json!(t.derivation_supported()),
    );
    d.insert(
        "auto_rotate_period".into(),
        json!(p.auto_rotate_period / 1_000_000_000),
    );
    d.insert("imported_key".into(), json!(p.imported));
    d.insert("soft_deleted".into(), json!(p.soft_deleted));
    if p.key_size != 0 {
        d.insert("key_size".into(), json!(p.key_size));
    }
    if p.imported {
        d.insert(
            "imported_key_allow_rotation".into(),
            json!(p.allow_imported_key_rotation),
        );
    }
    if let Some(b) = &p.backup_info {
        d.insert(
            "backup_info".into(),
            json!({"time": b.time, "version": b.version}),
        );
    }
    if let Some(r) = &p.restore_info {
        d.insert(
            "restore_info".into(),
            json!({"time": r.time, "version": r.version}),
        );
    }
    if p.derived {
        if p.kdf == 0 {
            d.insert("kdf".into(), json!("hmac-sha256-counter"));
            d.insert("kdf_mode".into(), json!("hmac-sha256-counter"));
        } else {
            d.insert("kdf".into(), json!("hkdf_sha256"));
        }
        d.insert(
            "convergent_encryption".into(),
            json!(p.convergent_encryption),
        );
        if p.convergent_encryption {
            d.insert(
                "convergent_encryption_version".into(),
                json!(p.convergent_version),
            );
        }
    }
    if t.is_aead() {
        let keys: JsonMap = p
            .keys
            .iter()
            .map(|(v, e)| (v.clone(), json!(e.creation_time)))
            .collect();
        d.insert("keys".into(), Value::Object(keys));
    } else if t.signing_supported() {
        let mut keys = JsonMap::new();
        for (v, e) in &p.keys {
            let created = if e.time.starts_with("0001-01-01") {
                chrono::DateTime::from_timestamp(e.creation_time, 0)
                    .map(|t| crate::policy::go_rfc3339_nano(&t))
                    .unwrap_or_default()
            } else {
                e.time.clone()
            };
            let chain = e
                .certificate_chain
                .as_ref()
                .map(|c| {
                    c.iter()
                        .map(|d| der::pem("CERTIFICATE", d).trim().to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default();
            let (name, public) = match t {
                KeyType::EcdsaP256 => ("P-256".to_string(), e.public_key.clone()),
                KeyType::EcdsaP384 => ("P-384".to_string(), e.public_key.clone()),
                KeyType::EcdsaP521 => ("P-521".to_string(), e.public_key.clone()),
                KeyType::Ed25519 => {
                    let public = if !p.derived {
                        e.public_key.clone()
                    } else if context.is_empty() {
                        String::new()
                    } else {
                        let ver: i64 = v.parse().unwrap_or(0);
                        k.derived_ed25519_public(context, ver).map_err(|err| {
                            LogicalError::internal(format!(
                                "failed to derive key to return public component: {err}"
                            ))
                        })?
                    };
                    ("ed25519".to_string(), public)
                }
                _ => (t.name().to_string(), rsa_public_pem(e)),
            };
            keys.insert(
                v.clone(),
                json!({"name": name, "public_key": public, "certificate_chain": chain, "creation_time": created}),
            );
        }
        d.insert("keys".into(), Value::Object(keys));
    } else if t == KeyType::Hmac {
        // OpenBao returns no `keys` for HMAC keys.
    }
    Ok(d)
}

/// Whether a key's automatic rotation is due at `now`: a period is set, the key may be
/// rotated, and its latest version is older than the period.
pub fn rotation_due(p: &Policy, now: chrono::DateTime<chrono::Utc>) -> bool {
    if p.auto_rotate_period <= 0 || p.soft_deleted || (p.imported && !p.allow_imported_key_rotation)
    {
        return false;
    }
    let Some(e) = p.entry(p.latest_version) else {
        return false;
    };
    let created = chrono::DateTime::parse_from_rfc3339(&e.time)
        .map(|t| t.with_timezone(&chrono::Utc))
        .ok()
        .filter(|t| t.timestamp() > 0)
        .or_else(|| chrono::DateTime::from_timestamp(e.creation_time, 0));
    let Some(created) = created else {
        return false;
    };
    now > created + chrono::Duration::nanoseconds(p.auto_rotate_period)
}
