//! A named key as OpenBao's keysutil stores it: the policy JSON at `policy/<name>` (key
//! versions still usable for decryption), the archive at `archive/<name>` (every version from
//! the minimum available one), and the backup format that joins both. Field names, order and
//! encodings are Go's, so a key moves between the two servers unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::keytype::KeyType;
use crate::num::BigNum;

/// Bytes written as Go writes `[]byte`: standard base64, `null` when nil.
pub mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};
    use zeroize::Zeroizing;

    /// Serializes optional bytes.
    pub fn serialize<S: Serializer>(
        v: &Option<Zeroizing<Vec<u8>>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_str(&STANDARD.encode(b.as_slice())),
            None => s.serialize_none(),
        }
    }

    /// Deserializes optional bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        match s {
            None => Ok(None),
            Some(s) => STANDARD
                .decode(s.as_bytes())
                .map(|v| Some(Zeroizing::new(v)))
                .map_err(serde::de::Error::custom),
        }
    }
}

/// A list of byte strings (`[][]byte`), `null` when nil.
mod b64_list {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<Vec<u8>>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(list) => s.collect_seq(list.iter().map(|b| STANDARD.encode(b))),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Vec<u8>>>, D::Error> {
        let v: Option<Vec<String>> = Option::deserialize(d)?;
        v.map(|list| {
            list.iter()
                .map(|s| {
                    STANDARD
                        .decode(s.as_bytes())
                        .map_err(serde::de::Error::custom)
                })
                .collect()
        })
        .transpose()
    }
}

/// Go's `rsa.PublicKey` in JSON.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RsaPublicJson {
    /// Modulus.
    #[serde(rename = "N")]
    pub n: BigNum,
    /// Public exponent.
    #[serde(rename = "E")]
    pub e: i64,
}

/// Go's `rsa.PrecomputedValues` in JSON.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RsaPrecomputedJson {
    /// d mod (p-1).
    #[serde(rename = "Dp")]
    pub dp: Option<BigNum>,
    /// d mod (q-1).
    #[serde(rename = "Dq")]
    pub dq: Option<BigNum>,
    /// q^-1 mod p.
    #[serde(rename = "Qinv")]
    pub qinv: Option<BigNum>,
    /// Extra primes' values (always empty for two-prime keys).
    #[serde(rename = "CRTValues", default)]
    pub crt_values: Vec<serde_json::Value>,
}

/// Go's `rsa.PrivateKey` in JSON (public fields promoted). `Debug` shows the public part only.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct RsaPrivateJson {
    /// Modulus.
    #[serde(rename = "N")]
    pub n: BigNum,
    /// Public exponent.
    #[serde(rename = "E")]
    pub e: i64,
    /// Private exponent.
    #[serde(rename = "D")]
    pub d: BigNum,
    /// The prime factors.
    #[serde(rename = "Primes")]
    pub primes: Vec<BigNum>,
    /// The CRT values.
    #[serde(rename = "Precomputed", default)]
    pub precomputed: RsaPrecomputedJson,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("name", &self.name)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("key_type", &self.key_type)
            .field("keys", &self.keys)
            .field("latest_version", &self.latest_version)
            .field("min_decryption_version", &self.min_decryption_version)
            .field("min_encryption_version", &self.min_encryption_version)
            .field("derived", &self.derived)
            .field("exportable", &self.exportable)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for RsaPrivateJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaPrivateJson")
            .field("n", &self.n)
            .field("e", &self.e)
            .finish_non_exhaustive()
    }
}

/// One version of a key (keysutil's `KeyEntry`). `Debug` never shows private key material.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct KeyEntry {
    /// Symmetric key, HMAC key of an `hmac` key, or the 64-byte ed25519 private key.
    #[serde(with = "b64")]
    pub key: Option<Zeroizing<Vec<u8>>>,
    /// The key for `hmac/` with this version.
    #[serde(with = "b64")]
    pub hmac_key: Option<Zeroizing<Vec<u8>>>,
    /// Creation time, RFC 3339 with nanoseconds.
    pub time: String,
    /// EC public X.
    pub ec_x: Option<BigNum>,
    /// EC public Y.
    pub ec_y: Option<BigNum>,
    /// EC private scalar.
    pub ec_d: Option<BigNum>,
    /// RSA private key.
    pub rsa_key: Option<RsaPrivateJson>,
    /// RSA public key (only a public key was imported).
    pub rsa_public_key: Option<RsaPublicJson>,
    /// The public key: PEM for ECDSA, base64 for ed25519.
    pub public_key: String,
    /// The convergent scheme of this version.
    pub convergent_version: i64,
    /// Creation time in Unix seconds.
    pub creation_time: i64,
    /// DER certificates, leaf first.
    #[serde(with = "b64_list")]
    pub certificate_chain: Option<Vec<Vec<u8>>>,
    /// External key reference (unused by Arca).
    pub external_key_ref: String,
}

impl Default for KeyEntry {
    fn default() -> Self {
        KeyEntry {
            key: None,
            hmac_key: None,
            time: "0001-01-01T00:00:00Z".into(),
            ec_x: None,
            ec_y: None,
            ec_d: None,
            rsa_key: None,
            rsa_public_key: None,
            public_key: String::new(),
            convergent_version: 0,
            creation_time: 0,
            certificate_chain: None,
            external_key_ref: String::new(),
        }
    }
}

impl std::fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |present: bool| if present { "<redacted>" } else { "none" };
        f.debug_struct("KeyEntry")
            .field("key", &shown(self.key.is_some()))
            .field("hmac_key", &shown(self.hmac_key.is_some()))
            .field("time", &self.time)
            .field("ec_x", &self.ec_x)
            .field("ec_y", &self.ec_y)
            .field("ec_d", &shown(self.ec_d.is_some()))
            .field("rsa_key", &self.rsa_key)
            .field("rsa_public_key", &self.rsa_public_key)
            .field("public_key", &self.public_key)
            .field("convergent_version", &self.convergent_version)
            .field("creation_time", &self.creation_time)
            .finish_non_exhaustive()
    }
}

impl KeyEntry {
    /// Whether the version has no private part (a public key was imported).
    pub fn private_missing(&self) -> bool {
        self.rsa_key.is_none()
            && self.ec_d.is_none()
            && self.key.as_ref().is_none_or(|k| k.is_empty())
            && self.external_key_ref.is_empty()
    }
}

/// When a backup or restore happened.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventInfo {
    /// RFC 3339 time.
    pub time: String,
    /// The latest version then.
    pub version: i64,
}

/// A named key (keysutil's `Policy`). `Debug` never shows key material.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    /// The key's name.
    pub name: String,
    /// The pre-versioning single key (only in very old data).
    #[serde(with = "b64", skip_serializing_if = "Option::is_none")]
    pub key: Option<Zeroizing<Vec<u8>>>,
    /// HMAC key size in bytes.
    #[serde(skip_serializing_if = "is_zero")]
    pub key_size: i64,
    /// Versions kept in the policy, by decimal version.
    pub keys: BTreeMap<String, KeyEntry>,
    /// Keys are derived per request from a context.
    pub derived: bool,
    /// 0: HMAC-SHA256 counter mode; 1: HKDF-SHA256.
    pub kdf: i64,
    /// Convergent encryption.
    pub convergent_encryption: bool,
    /// Keys may be exported.
    pub exportable: bool,
    /// Oldest version allowed to decrypt.
    pub min_decryption_version: i64,
    /// Oldest version allowed to encrypt (0: any).
    pub min_encryption_version: i64,
    /// The newest version.
    pub latest_version: i64,
    /// The newest version in the archive.
    pub archive_version: i64,
    /// The oldest version in the archive.
    pub archive_min_version: i64,
    /// Versions below this are trimmed.
    pub min_available_version: i64,
    /// The key may be deleted.
    pub deletion_allowed: bool,
    /// Convergent scheme for new versions (-1: per version).
    pub convergent_version: i64,
    /// The algorithm.
    #[serde(rename = "type")]
    pub key_type: KeyType,
    /// Last backup.
    pub backup_info: Option<EventInfo>,
    /// Last restore.
    pub restore_info: Option<EventInfo>,
    /// Plaintext backups allowed (cannot be unset).
    pub allow_plaintext_backup: bool,
    /// Ciphertext prefix template; empty for `vault:v{{version}}:`.
    pub version_template: String,
    /// Storage prefix (unused by transit).
    pub storage_prefix: String,
    /// Automatic rotation period in nanoseconds (0: off).
    pub auto_rotate_period: i64,
    /// The key was imported.
    #[serde(rename = "Imported")]
    pub imported: bool,
    /// An imported key may be rotated.
    #[serde(rename = "AllowImportedKeyRotation")]
    pub allow_imported_key_rotation: bool,
    /// Soft-deleted.
    pub soft_deleted: bool,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            name: String::new(),
            key: None,
            key_size: 0,
            keys: BTreeMap::new(),
            derived: false,
            kdf: 0,
            convergent_encryption: false,
            exportable: false,
            min_decryption_version: 0,
            min_encryption_version: 0,
            latest_version: 0,
            archive_version: 0,
            archive_min_version: 0,
            min_available_version: 0,
            deletion_allowed: false,
            convergent_version: 0,
            key_type: KeyType::Aes256Gcm96,
            backup_info: None,
            restore_info: None,
            allow_plaintext_backup: false,
            version_template: String::new(),
            storage_prefix: String::new(),
            auto_rotate_period: 0,
            imported: false,
            allow_imported_key_rotation: false,
            soft_deleted: false,
        }
    }
}

/// The archive of every version from the minimum available one (index 0 is that version).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Archive {
    /// The versions, oldest first.
    #[serde(default)]
    pub keys: Vec<KeyEntry>,
}

/// The backup format: the policy and its archive, JSON then base64.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyData {
    /// The policy.
    pub policy: Policy,
    /// Its archive.
    pub archived_keys: Archive,
}

/// Go's `time.Now()` as RFC 3339 with nanoseconds, and the Unix seconds.
pub fn now() -> (String, i64) {
    let t = chrono::Utc::now();
    (go_rfc3339_nano(&t), t.timestamp())
}

/// Go's `time.RFC3339Nano` in UTC: nanoseconds with trailing zeros (and a bare `.`) dropped.
pub fn go_rfc3339_nano(t: &chrono::DateTime<chrono::Utc>) -> String {
    let full = t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let Some(body) = full.strip_suffix('Z') else {
        return full;
    };
    match body.split_once('.') {
        Some((secs, frac)) => {
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                format!("{secs}Z")
            } else {
                format!("{secs}.{frac}Z")
            }
        }
        None => full,
    }
}

impl Policy {
    /// The entry of `version` among the policy's keys.
    pub fn entry(&self, version: i64) -> Option<&KeyEntry> {
        self.keys.get(&version.to_string())
    }

    /// The version template in force (the default when the key has none).
    fn template(&self) -> &str {
        if self.version_template.is_empty() {
            crate::DEFAULT_VERSION_TEMPLATE
        } else {
            &self.version_template
        }
    }

    /// Appends the ciphertext prefix of `version` to `out`: the template with every
    /// `{{version}}` replaced by the number.
    pub fn write_prefix(&self, version: i64, out: &mut String) {
        use std::fmt::Write as _;
        if self.version_template.is_empty() {
            // The default template, without searching it for `{{version}}`.
            let _ = write!(out, "vault:v{version}:");
            return;
        }
        let mut parts = self.template().split("{{version}}");
        if let Some(first) = parts.next() {
            out.push_str(first);
        }
        for part in parts {
            // Writing to a String cannot fail.
            let _ = write!(out, "{version}");
            out.push_str(part);
        }
    }

    /// The template split around its one `{{version}}` (`None` unless there is exactly one).
    pub fn template_parts(&self) -> Option<(&str, &str)> {
        if self.version_template.is_empty() {
            return Some(("vault:v", ":"));
        }
        let (head, tail) = self.template().split_once("{{version}}")?;
        (!tail.contains("{{version}}")).then_some((head, tail))
    }

    /// The convergent scheme of `version` (0 when not convergent).
    pub fn convergent_version_of(&self, version: i64) -> i64 {
        if !self.convergent_encryption {
            return 0;
        }
        let mut v = if self.convergent_version == 0 {
            1
        } else {
            self.convergent_version
        };
        if let Some(e) = self.entry(version)
            && e.convergent_version != 0
        {
            v = e.convergent_version;
        }
        v
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn debug_shows_no_key_material() {
        let entry = KeyEntry {
            key: Some(Zeroizing::new(vec![0xAB; 32])),
            hmac_key: Some(Zeroizing::new(vec![0xCD; 32])),
            ..KeyEntry::default()
        };
        let mut p = Policy {
            key: Some(Zeroizing::new(vec![0xEF; 32])),
            ..Policy::default()
        };
        p.keys.insert("1".into(), entry);
        let text = format!("{p:?}");
        for needle in ["171", "205", "239", "AB", "ab,", "[171"] {
            assert!(!text.contains(needle), "{needle} in {text}");
        }
        assert!(text.contains("<redacted>"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openbao_policy_json_round_trips() {
        let text = r#"{"name":"k","keys":{"1":{"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","hmac_key":"AQ==","time":"2026-12-06T06:10:22.721467177Z","ec_x":null,"ec_y":null,"ec_d":null,"rsa_key":null,"rsa_public_key":null,"public_key":"","convergent_version":0,"creation_time":1796537422,"certificate_chain":null,"external_key_ref":""}},"derived":false,"kdf":0,"convergent_encryption":false,"exportable":true,"min_decryption_version":1,"min_encryption_version":0,"latest_version":1,"archive_version":1,"archive_min_version":0,"min_available_version":0,"deletion_allowed":false,"convergent_version":0,"type":0,"backup_info":null,"restore_info":null,"allow_plaintext_backup":true,"version_template":"","storage_prefix":"","auto_rotate_period":0,"Imported":false,"AllowImportedKeyRotation":false,"soft_deleted":false}"#;
        let p: Policy = serde_json::from_str(text).unwrap();
        assert_eq!(p.entry(1).unwrap().key.as_ref().unwrap().len(), 32);
        assert_eq!(serde_json::to_string(&p).unwrap(), text);
        let mut prefix = String::new();
        p.write_prefix(3, &mut prefix);
        assert_eq!(prefix, "vault:v3:");
        assert_eq!(p.template_parts(), Some(("vault:v", ":")));
        let mut custom = p.clone();
        custom.version_template = "x{{version}}-{{version}}|".into();
        let mut prefix = String::new();
        custom.write_prefix(12, &mut prefix);
        assert_eq!(prefix, "x12-12|");
        assert_eq!(custom.template_parts(), None);
        custom.version_template = crate::DEFAULT_VERSION_TEMPLATE.into();
        assert_eq!(custom.template_parts(), Some(("vault:v", ":")));
    }

    #[test]
    fn times_are_written_as_go_writes_them() {
        let t = chrono::DateTime::from_timestamp(1_796_537_422, 299_373_100).unwrap();
        assert_eq!(go_rfc3339_nano(&t), "2026-12-06T06:10:22.2993731Z");
        let t = chrono::DateTime::from_timestamp(1_796_537_422, 0).unwrap();
        assert_eq!(go_rfc3339_nano(&t), "2026-12-06T06:10:22Z");
    }
}
