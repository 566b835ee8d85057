//! The JSON shapes KV v2 answers with, field for field as OpenBao prints them.

use std::collections::BTreeMap;

use arca_sdk::JsonMap;
use arca_sdk::duration::format_go_duration;
use serde_json::{Value, json};

use super::layout::{StoredConfig, StoredMeta, VersionMeta};
use crate::timestamp::format_nanos;

/// Seconds as Go prints a `time.Duration` (`"1h0m0s"`, `"0s"`, `"-1s"`).
pub(crate) fn format_secs(secs: i64) -> String {
    let d = std::time::Duration::from_secs(secs.unsigned_abs());
    if secs < 0 {
        format!("-{}", format_go_duration(d))
    } else {
        format_go_duration(d)
    }
}

fn deletion(vm: &VersionMeta) -> String {
    vm.deletion_time.map(format_nanos).unwrap_or_default()
}

/// `custom_metadata` as shown: `null` when unset or empty.
pub(crate) fn custom_metadata_json(cm: &Option<BTreeMap<String, String>>) -> Value {
    match cm {
        Some(m) if !m.is_empty() => json!(m),
        _ => Value::Null,
    }
}

/// A version's metadata as data reads and writes show it.
pub(crate) fn version_json(meta: &StoredMeta, version: u64, vm: &VersionMeta) -> JsonMap {
    let mut m = JsonMap::new();
    m.insert("created_time".into(), json!(format_nanos(vm.created_time)));
    m.insert(
        "custom_metadata".into(),
        custom_metadata_json(&meta.custom_metadata),
    );
    m.insert("deletion_time".into(), json!(deletion(vm)));
    m.insert("destroyed".into(), json!(vm.destroyed));
    m.insert("version".into(), json!(version));
    m
}

/// The `metadata/:path` read body.
pub(crate) fn metadata_json(meta: &StoredMeta) -> JsonMap {
    let versions: JsonMap = meta
        .versions
        .iter()
        .map(|(n, vm)| {
            (
                n.to_string(),
                json!({
                    "created_time": format_nanos(vm.created_time),
                    "deletion_time": deletion(vm),
                    "destroyed": vm.destroyed,
                }),
            )
        })
        .collect();
    let body = json!({
        "cas_required": meta.cas_required,
        "created_time": format_nanos(meta.created_time),
        "current_metadata_version": meta.current_metadata_version,
        "current_version": meta.current_version,
        "custom_metadata": custom_metadata_json(&meta.custom_metadata),
        "delete_version_after": format_secs(meta.delete_version_after),
        "max_versions": meta.max_versions,
        "metadata_cas_required": meta.metadata_cas_required,
        "oldest_version": meta.oldest_version,
        "updated_time": format_nanos(meta.updated_time),
        "versions": versions,
    });
    match body {
        Value::Object(m) => m,
        _ => JsonMap::new(),
    }
}

/// The `config` read body.
pub(crate) fn config_json(cfg: &StoredConfig) -> JsonMap {
    let mut m = JsonMap::new();
    m.insert("cas_required".into(), json!(cfg.cas_required));
    m.insert(
        "delete_version_after".into(),
        json!(format_secs(cfg.delete_version_after)),
    );
    m.insert("max_versions".into(), json!(cfg.max_versions));
    m.insert(
        "metadata_cas_required".into(),
        json!(cfg.metadata_cas_required),
    );
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_go() {
        for (secs, want) in [(0, "0s"), (3600, "1h0m0s"), (-1, "-1s"), (90, "1m30s")] {
            assert_eq!(format_secs(secs), want);
        }
    }
}
