//! Moving a KV v1 mount's values into the v2 layout, once, when the mount is upgraded.
//!
//! A mount is in v2 layout when `kv2/format` exists. When it does not, every key in the view is
//! a v1 value (a fresh mount simply has none): each becomes version 1 of the same path, its old
//! key is deleted, and the marker is written last, so an interrupted upgrade resumes on the next
//! start. Values a v1 user stored under `kv2/` itself are read and removed first, before any v2
//! record is written there.

use arca_sdk::{LogicalError, Storage};
use serde_json::Value;

use super::layout::{
    FORMAT, FORMAT_KEY, FormatMarker, ROOT, StoredMeta, StoredVersion, VersionMeta, load,
    load_meta, meta_key, save, version_key,
};
use crate::record::decode_plain;
use crate::timestamp::now_nanos;

/// Every key under `prefix`, recursively.
async fn all_keys(storage: &dyn Storage, prefix: &str) -> Result<Vec<String>, LogicalError> {
    let mut out = Vec::new();
    let mut dirs = vec![prefix.to_string()];
    while let Some(dir) = dirs.pop() {
        for child in storage.list(&dir).await? {
            let full = format!("{dir}{child}");
            if child.ends_with('/') {
                dirs.push(full);
            } else {
                out.push(full);
            }
        }
    }
    Ok(out)
}

/// Writes `data` as version 1 of `path` (unless the path already has v2 metadata, which only
/// happens when a previous upgrade was interrupted after writing it).
async fn adopt(
    storage: &dyn Storage,
    path: &str,
    data: Value,
    now: i64,
) -> Result<(), LogicalError> {
    if load_meta(storage, path).await?.is_some() {
        return Ok(());
    }
    save(
        storage,
        &version_key(path, 1),
        &StoredVersion { v: FORMAT, data },
    )
    .await?;
    let mut meta = StoredMeta::new(path, now);
    meta.versions.insert(
        1,
        VersionMeta {
            created_time: now,
            deletion_time: None,
            destroyed: false,
        },
    );
    meta.current_version = 1;
    save(storage, &meta_key(path), &meta).await
}

/// Upgrades the view to the v2 layout if it is not in it yet; returns how many v1 values moved.
pub(crate) async fn ensure_v2_layout(storage: &dyn Storage) -> Result<u64, LogicalError> {
    if load::<FormatMarker>(storage, FORMAT_KEY).await?.is_some() {
        return Ok(0);
    }
    let now = now_nanos();
    let keys = all_keys(storage, "").await?;
    let (inside, outside): (Vec<String>, Vec<String>) =
        keys.into_iter().partition(|k| k.starts_with(ROOT));
    // v1 values that sit where v2 records go: hold them, clear the area, then adopt them.
    let mut held = Vec::with_capacity(inside.len());
    for key in inside {
        if let Some(entry) = storage.get(&key).await? {
            held.push((key.clone(), decode_plain(&entry)?));
        }
        storage.delete(&key).await?;
    }
    let mut moved = 0u64;
    for (key, data) in held {
        adopt(storage, &key, Value::Object(data), now).await?;
        moved += 1;
    }
    for key in outside {
        let Some(entry) = storage.get(&key).await? else {
            continue;
        };
        let data = decode_plain(&entry)?;
        adopt(storage, &key, Value::Object(data), now).await?;
        storage.delete(&key).await?;
        moved += 1;
    }
    save(
        storage,
        FORMAT_KEY,
        &FormatMarker {
            v: FORMAT,
            upgraded_v1_keys: moved,
            time: now,
        },
    )
    .await?;
    Ok(moved)
}
