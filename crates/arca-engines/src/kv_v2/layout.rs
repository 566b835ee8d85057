//! Where KV v2 keeps things inside the mount's storage view, and the records stored there.
//!
//! Everything lives under `kv2/`, so a mount upgraded from v1 can tell its old values (anything
//! else) from the new layout:
//!
//! | key                              | record                                   |
//! |----------------------------------|------------------------------------------|
//! | `kv2/format`                     | [`FormatMarker`]: layout version, written once the mount is v2 (after any v1 upgrade) |
//! | `kv2/config`                     | [`StoredConfig`]: the mount's `config` endpoint |
//! | `kv2/meta/<path>`                | [`StoredMeta`]: a key's metadata and version list (listing `kv2/meta/<dir>/` lists keys) |
//! | `kv2/data/<hex(path)>/<version>` | [`StoredVersion`]: one version's data (hex keeps key paths from nesting into each other) |
//!
//! Every record carries `"v"`, its format version ([`FORMAT`]). Times are Unix nanoseconds.

use std::collections::BTreeMap;

use arca_sdk::{LogicalError, Storage};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::record::{decode, encode};

/// The format version of every KV v2 record.
pub(crate) const FORMAT: u32 = 1;

/// Vault's default `max_versions` when the mount's config leaves it at 0.
pub(crate) const DEFAULT_MAX_VERSIONS: u32 = 10;

/// The prefix of everything KV v2 stores.
pub(crate) const ROOT: &str = "kv2/";
/// The marker saying the mount is in v2 layout.
pub(crate) const FORMAT_KEY: &str = "kv2/format";
/// The mount's configuration.
pub(crate) const CONFIG_KEY: &str = "kv2/config";
/// The prefix of key metadata.
pub(crate) const META_PREFIX: &str = "kv2/meta/";
/// The prefix of version data.
pub(crate) const DATA_PREFIX: &str = "kv2/data/";

/// The storage key of `path`'s metadata.
pub(crate) fn meta_key(path: &str) -> String {
    format!("{META_PREFIX}{path}")
}

/// The storage key of one version of `path`.
pub(crate) fn version_key(path: &str, version: u64) -> String {
    format!("{DATA_PREFIX}{}/{version}", hex::encode(path.as_bytes()))
}

/// Written when the mount is in v2 layout.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FormatMarker {
    /// Record format.
    pub v: u32,
    /// How many v1 values were moved into the v2 layout when the mount was upgraded.
    pub upgraded_v1_keys: u64,
    /// When the layout was set up.
    pub time: i64,
}

/// The mount-wide settings of the `config` endpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct StoredConfig {
    /// Record format.
    pub v: u32,
    /// Versions kept per key (0: [`DEFAULT_MAX_VERSIONS`]).
    pub max_versions: u32,
    /// Every data write needs `options.cas`.
    pub cas_required: bool,
    /// Seconds after which a new version counts as deleted (0 or negative: never).
    pub delete_version_after: i64,
    /// Every metadata write needs `metadata_cas`.
    pub metadata_cas_required: bool,
}

/// One version's entry in the key's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct VersionMeta {
    /// When the version was written.
    pub created_time: i64,
    /// When it was (or will be) soft-deleted.
    pub deletion_time: Option<i64>,
    /// Its data is gone for good.
    pub destroyed: bool,
}

impl VersionMeta {
    /// Whether the version reads as deleted at `now`.
    pub(crate) fn deleted_at(&self, now: i64) -> bool {
        self.deletion_time.is_some_and(|t| t <= now)
    }
}

/// A key's metadata and the list of its versions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredMeta {
    /// Record format.
    pub v: u32,
    /// The key path (relative to `data/`).
    pub key: String,
    /// Live versions (pruned ones are removed).
    pub versions: BTreeMap<u64, VersionMeta>,
    /// The newest version (0: none written yet).
    pub current_version: u64,
    /// The oldest version kept once any was pruned (0 until then, as Vault reports).
    pub oldest_version: u64,
    /// Versions kept for this key (0: the mount's).
    pub max_versions: u32,
    /// Data writes to this key need `options.cas`.
    pub cas_required: bool,
    /// Seconds after which this key's new versions count as deleted (0: the mount's).
    pub delete_version_after: i64,
    /// User metadata; `None` shows as `null`.
    pub custom_metadata: Option<BTreeMap<String, String>>,
    /// When the key was created.
    pub created_time: i64,
    /// When the key last changed.
    pub updated_time: i64,
    /// Count of metadata writes, compared against `metadata_cas`.
    pub current_metadata_version: u64,
    /// Metadata writes to this key need `metadata_cas`.
    pub metadata_cas_required: bool,
}

impl StoredMeta {
    /// Fresh metadata for `key`, created at `now`.
    pub(crate) fn new(key: &str, now: i64) -> StoredMeta {
        StoredMeta {
            v: FORMAT,
            key: key.to_string(),
            versions: BTreeMap::new(),
            current_version: 0,
            oldest_version: 0,
            max_versions: 0,
            cas_required: false,
            delete_version_after: 0,
            custom_metadata: None,
            created_time: now,
            updated_time: now,
            current_metadata_version: 0,
            metadata_cas_required: false,
        }
    }
}

/// One version's data. `Debug` prints `<redacted>` for the secret.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct StoredVersion {
    /// Record format.
    pub v: u32,
    /// The secret as written (an object, or `null` when written as `null`).
    pub data: Value,
}

impl std::fmt::Debug for StoredVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredVersion")
            .field("v", &self.v)
            .field("data", &arca_sdk::redact::Redacted)
            .finish()
    }
}

/// Reads and decodes a record.
pub(crate) async fn load<T: serde::de::DeserializeOwned>(
    storage: &dyn Storage,
    key: &str,
) -> Result<Option<T>, LogicalError> {
    match storage.get(key).await? {
        Some(entry) => Ok(Some(decode(&entry)?)),
        None => Ok(None),
    }
}

/// Encodes and writes a record.
pub(crate) async fn save<T: Serialize>(
    storage: &dyn Storage,
    key: &str,
    value: &T,
) -> Result<(), LogicalError> {
    storage.put(encode(key, value)?).await?;
    Ok(())
}

/// The mount's configuration (defaults when never written).
pub(crate) async fn load_config(storage: &dyn Storage) -> Result<StoredConfig, LogicalError> {
    Ok(load(storage, CONFIG_KEY).await?.unwrap_or(StoredConfig {
        v: FORMAT,
        ..StoredConfig::default()
    }))
}

/// A key's metadata.
pub(crate) async fn load_meta(
    storage: &dyn Storage,
    path: &str,
) -> Result<Option<StoredMeta>, LogicalError> {
    load(storage, &meta_key(path)).await
}

/// The versions a key keeps: the mount's (or 10), lowered by the key's own setting.
pub(crate) fn effective_max_versions(cfg: &StoredConfig, meta: &StoredMeta) -> u32 {
    let mount = if cfg.max_versions > 0 {
        cfg.max_versions
    } else {
        DEFAULT_MAX_VERSIONS
    };
    if meta.max_versions > 0 && meta.max_versions < mount {
        meta.max_versions
    } else {
        mount
    }
}

/// Seconds after which a new version of the key counts as deleted (`None`: never). The key's
/// setting wins when the mount has none or when it is shorter; a negative one turns it off.
pub(crate) fn effective_delete_after(cfg: &StoredConfig, meta: &StoredMeta) -> Option<i64> {
    let (c, k) = (cfg.delete_version_after, meta.delete_version_after);
    let secs = match (c > 0, k) {
        (_, k) if k < 0 => 0,
        (true, k) if k > 0 => c.min(k),
        (true, _) => c,
        (false, k) => k,
    };
    (secs > 0).then_some(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_version_debug_redacts_the_secret() {
        let v = StoredVersion {
            v: FORMAT,
            data: serde_json::json!({"password": "hunter2-s3cret"}),
        };
        let text = format!("{v:?}");
        assert!(
            !text.contains("hunter2-s3cret") && text.contains("<redacted>"),
            "{text}"
        );
    }

    #[test]
    fn effective_settings() {
        let cfg = |max_versions, delete_version_after| StoredConfig {
            v: FORMAT,
            max_versions,
            delete_version_after,
            ..StoredConfig::default()
        };
        let meta = |max_versions, delete_version_after| StoredMeta {
            max_versions,
            delete_version_after,
            ..StoredMeta::new("k", 0)
        };
        let cases = [
            (cfg(0, 0), meta(0, 0), 10, None),
            (cfg(5, 0), meta(0, 0), 5, None),
            (cfg(5, 0), meta(2, 0), 2, None),
            (cfg(5, 0), meta(u32::MAX, 0), 5, None),
            (cfg(0, 60), meta(0, 0), 10, Some(60)),
            (cfg(0, 60), meta(0, 30), 10, Some(30)),
            (cfg(0, 60), meta(0, 90), 10, Some(60)),
            (cfg(0, 0), meta(0, 90), 10, Some(90)),
            (cfg(0, -1), meta(0, 90), 10, Some(90)),
            (cfg(0, 60), meta(0, -1), 10, None),
        ];
        for (i, (c, m, max, dva)) in cases.into_iter().enumerate() {
            assert_eq!(effective_max_versions(&c, &m), max, "case {i}");
            assert_eq!(effective_delete_after(&c, &m), dva, "case {i}");
        }
    }

    #[test]
    fn version_keys_do_not_nest() {
        assert_ne!(version_key("a", 1), version_key("a/1", 1));
        assert!(!version_key("a/1", 1).starts_with(&version_key("a", 1)));
        assert_eq!(meta_key("x/y z"), "kv2/meta/x/y z");
    }
}
