//! `metadata/:path`: read, write and patch a key's settings, delete a key with all its
//! versions, and list keys.

use std::collections::BTreeMap;
use std::sync::Arc;

use arca_sdk::framework::FieldData;
use arca_sdk::{LogicalError, Request, Response};

use super::Shared;
use super::layout::{META_PREFIX, StoredMeta, load_config, load_meta, meta_key, save, version_key};
use super::params;
use super::responses::metadata_json;
use crate::EngineError;
use crate::passthrough::{as_dir, keys_response, not_found};
use crate::timestamp::now_nanos;

/// The fields a metadata write changes; a write giving none of them changes nothing.
const SETTABLE: [&str; 5] = [
    "max_versions",
    "cas_required",
    "metadata_cas_required",
    "delete_version_after",
    "custom_metadata",
];

/// GET `metadata/:path`.
pub(crate) async fn read(req: Request, d: FieldData) -> Result<Option<Response>, LogicalError> {
    let path = d.get_str("path")?;
    match load_meta(req.storage()?.as_ref(), &path).await? {
        Some(meta) => Ok(Some(Response::with_data(metadata_json(&meta)))),
        None => Err(not_found()),
    }
}

/// LIST `metadata/:prefix`.
pub(crate) async fn list(req: Request, d: FieldData) -> Result<Option<Response>, LogicalError> {
    let prefix = format!("{META_PREFIX}{}", as_dir(&d.get_str("path")?));
    let keys = req.storage()?.list(&prefix).await?;
    if keys.is_empty() {
        return Err(not_found());
    }
    Ok(Some(keys_response(keys)))
}

/// The validated changes of a metadata write.
struct Changes {
    max_versions: Option<u32>,
    cas_required: Option<bool>,
    metadata_cas_required: Option<bool>,
    delete_version_after: Option<i64>,
    custom_metadata: Option<BTreeMap<String, Option<String>>>,
    metadata_cas: Option<i64>,
}

fn changes(d: &FieldData) -> Result<Changes, LogicalError> {
    Ok(Changes {
        // Vault keeps this in a uint32: -1 wraps to 4294967295.
        max_versions: d
            .get_given("max_versions")?
            .map(|v| v.as_i64().unwrap_or(0) as u32),
        cas_required: d.get_given("cas_required")?.and_then(|v| v.as_bool()),
        metadata_cas_required: d
            .get_given("metadata_cas_required")?
            .and_then(|v| v.as_bool()),
        delete_version_after: d
            .raw()
            .get("delete_version_after")
            .map(|v| params::signed_duration("delete_version_after", v))
            .transpose()?,
        custom_metadata: d
            .raw()
            .get("custom_metadata")
            .map(params::custom_metadata)
            .transpose()?,
        metadata_cas: d.get_given("metadata_cas")?.and_then(|v| v.as_i64()),
    })
}

/// POST/PUT (`patch = false`) or PATCH (`patch = true`) `metadata/:path`.
pub(crate) async fn write(
    patch: bool,
    shared: Arc<Shared>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let path = d.get_str("path")?;
    if !patch {
        super::data::check_writable(&path)?;
    }
    let ch = changes(&d)?;
    if !SETTABLE.iter().any(|f| d.is_set(f)) {
        return Ok(None);
    }
    let storage = req.storage()?;
    let _guard = shared.locks.lock(&path).await;
    let cfg = load_config(storage.as_ref()).await?;
    let previous = load_meta(storage.as_ref(), &path).await?;
    if patch && previous.is_none() {
        return Err(not_found());
    }
    let required =
        cfg.metadata_cas_required || previous.as_ref().is_some_and(|m| m.metadata_cas_required);
    match (ch.metadata_cas, &previous) {
        (None, _) if required => return Err(EngineError::MetadataCasRequired.into()),
        (Some(c), None) if c != 0 => return Err(EngineError::MetadataCasNotZero.into()),
        (Some(c), Some(m)) if c < 0 || c as u64 != m.current_metadata_version => {
            return Err(EngineError::MetadataCasMismatch.into());
        }
        _ => {}
    }
    let now = now_nanos();
    let mut meta = previous.unwrap_or_else(|| StoredMeta::new(&path, now));
    if let Some(v) = ch.max_versions {
        meta.max_versions = v;
    }
    if let Some(v) = ch.cas_required {
        meta.cas_required = v;
    }
    if let Some(v) = ch.metadata_cas_required {
        meta.metadata_cas_required = v;
    }
    if let Some(v) = ch.delete_version_after {
        meta.delete_version_after = v;
    }
    if let Some(cm) = ch.custom_metadata {
        let mut merged = if patch {
            meta.custom_metadata.take().unwrap_or_default()
        } else {
            BTreeMap::new()
        };
        for (k, v) in cm {
            match v {
                Some(v) => {
                    merged.insert(k, v);
                }
                None => {
                    merged.remove(&k);
                }
            }
        }
        meta.custom_metadata = Some(merged);
    }
    meta.current_metadata_version += 1;
    meta.updated_time = now;
    save(storage.as_ref(), &meta_key(&path), &meta).await?;
    Ok(None)
}

/// DELETE `metadata/:path`: the key, its metadata and every version.
pub(crate) async fn delete(
    shared: Arc<Shared>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let path = d.get_str("path")?;
    let storage = req.storage()?;
    let _guard = shared.locks.lock(&path).await;
    let Some(meta) = load_meta(storage.as_ref(), &path).await? else {
        return Ok(None);
    };
    for n in meta.versions.keys() {
        storage.delete(&version_key(&path, *n)).await?;
    }
    storage.delete(&meta_key(&path)).await?;
    Ok(None)
}
