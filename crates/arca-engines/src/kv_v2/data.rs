//! `data/:path` (read a version, write, patch, soft-delete the latest) and `subkeys/:path`.

use std::sync::Arc;

use arca_sdk::framework::FieldData;
use arca_sdk::{JsonMap, LogicalError, RawHttp, Request, Response, Storage, StorageOp};
use serde_json::{Value, json};

use super::Shared;
use super::layout::{
    FORMAT, StoredConfig, StoredMeta, StoredVersion, VersionMeta, effective_delete_after,
    effective_max_versions, load, load_config, load_meta, meta_key, save, version_key,
};
use super::merge_patch::{merge_patch, subkeys};
use super::params;
use super::responses::version_json;
use crate::EngineError;
use crate::passthrough::not_found;
use crate::record::encode;
use crate::timestamp::now_nanos;

/// A response with a non-200 status and a body (OpenBao's soft-deleted reads).
fn with_status(status: u16, data: JsonMap) -> Response {
    let mut r = Response::with_data(data);
    r.status = Some(status);
    r
}

/// A 404 with an empty body: OpenBao's answer to a PATCH of a key that does not exist
/// (unlike a read's `{"errors":[]}`; clients print "Raw Message:" for it).
fn empty_not_found() -> Response {
    Response {
        raw: Some(RawHttp {
            status: 404,
            content_type: "application/json".into(),
            body: Vec::new(),
            stream: None,
        }),
        ..Response::default()
    }
}

/// What a read of one version found.
enum Found {
    /// No such key or version.
    Missing,
    /// The version is deleted or destroyed: its metadata only.
    Gone(StoredMeta, u64, VersionMeta),
    /// The version and its data.
    Live(StoredMeta, u64, VersionMeta, Value),
}

/// Looks up version `version` of `path` (0 or less: the current one).
async fn find(storage: &dyn Storage, path: &str, version: i64) -> Result<Found, LogicalError> {
    let Some(meta) = load_meta(storage, path).await? else {
        return Ok(Found::Missing);
    };
    let n = if version <= 0 {
        meta.current_version
    } else {
        version as u64
    };
    let Some(vm) = meta.versions.get(&n).cloned() else {
        return Ok(Found::Missing);
    };
    if vm.destroyed || vm.deleted_at(now_nanos()) {
        return Ok(Found::Gone(meta, n, vm));
    }
    let data = load::<StoredVersion>(storage, &version_key(path, n))
        .await?
        .map(|s| s.data)
        .unwrap_or(Value::Null);
    Ok(Found::Live(meta, n, vm, data))
}

/// GET `data/:path?version=`.
pub(crate) async fn read(req: Request, d: FieldData) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?;
    let path = d.get_str("path")?;
    match find(storage.as_ref(), &path, d.get_i64("version")?).await? {
        Found::Missing => Err(not_found()),
        Found::Gone(meta, n, vm) => {
            let mut body = JsonMap::new();
            body.insert("data".into(), Value::Null);
            body.insert(
                "metadata".into(),
                Value::Object(version_json(&meta, n, &vm)),
            );
            Ok(Some(with_status(404, body)))
        }
        Found::Live(meta, n, vm, data) => {
            let mut body = JsonMap::new();
            body.insert("data".into(), data);
            body.insert(
                "metadata".into(),
                Value::Object(version_json(&meta, n, &vm)),
            );
            Ok(Some(Response::with_data(body)))
        }
    }
}

/// GET `subkeys/:path?version=&depth=`.
pub(crate) async fn read_subkeys(
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?;
    let path = d.get_str("path")?;
    // OpenBao treats any negative depth like 1.
    let depth = match d.get_i64("depth")? {
        n if n < 0 => 1,
        n => n,
    };
    match find(storage.as_ref(), &path, d.get_i64("version")?).await? {
        Found::Missing => Err(not_found()),
        Found::Gone(meta, n, vm) => {
            let mut body = JsonMap::new();
            body.insert(
                "metadata".into(),
                Value::Object(version_json(&meta, n, &vm)),
            );
            body.insert("subkeys".into(), Value::Null);
            Ok(Some(with_status(404, body)))
        }
        Found::Live(meta, n, vm, data) => {
            let mut body = JsonMap::new();
            body.insert(
                "metadata".into(),
                Value::Object(version_json(&meta, n, &vm)),
            );
            body.insert("subkeys".into(), subkeys(&data, depth));
            Ok(Some(Response::with_data(body)))
        }
    }
}

/// Refuses writes to the mount root or a path ending in `/`.
pub(crate) fn check_writable(path: &str) -> Result<(), EngineError> {
    if path.is_empty() || path.ends_with('/') {
        return Err(EngineError::TrailingSlash);
    }
    Ok(())
}

/// Applies the check-and-set rules of the key and the mount to a data write.
fn check_cas(cfg: &StoredConfig, meta: &StoredMeta, cas: Option<i64>) -> Result<(), EngineError> {
    match cas {
        None if cfg.cas_required || meta.cas_required => Err(EngineError::CasRequired),
        Some(c) if c < 0 || c as u64 != meta.current_version => Err(EngineError::CasMismatch),
        _ => Ok(()),
    }
}

/// Appends `data` as the key's next version, prunes versions past the key's limit, saves the
/// metadata, and answers with the new version's metadata. The key's lock must be held.
async fn append_version(
    storage: &dyn Storage,
    cfg: &StoredConfig,
    mut meta: StoredMeta,
    path: &str,
    data: Value,
) -> Result<Option<Response>, LogicalError> {
    let now = now_nanos();
    let n = meta.current_version + 1;
    // The new version, the metadata and the pruning land in one storage transaction: one
    // commit on durable storage, and never a version without its metadata.
    let mut ops = vec![StorageOp::Put(encode(
        &version_key(path, n),
        &StoredVersion { v: FORMAT, data },
    )?)];
    let vm = VersionMeta {
        created_time: now,
        deletion_time: effective_delete_after(cfg, &meta)
            .map(|secs| now.saturating_add(secs.saturating_mul(1_000_000_000))),
        destroyed: false,
    };
    meta.versions.insert(n, vm.clone());
    meta.current_version = n;
    meta.updated_time = now;

    let max = u64::from(effective_max_versions(cfg, &meta));
    let mut pruned = Vec::new();
    if meta.versions.len() as u64 > max {
        let last_to_delete = n.saturating_sub(max);
        pruned = meta
            .versions
            .range(..=last_to_delete)
            .map(|(v, _)| *v)
            .collect();
        for v in &pruned {
            meta.versions.remove(v);
        }
        meta.oldest_version = last_to_delete + 1;
    }
    ops.push(StorageOp::Put(encode(&meta_key(path), &meta)?));
    for v in pruned {
        ops.push(StorageOp::Delete(version_key(path, v)));
    }
    storage.transaction(ops).await?;
    Ok(Some(Response::with_data(version_json(&meta, n, &vm))))
}

/// POST/PUT `data/:path` with `data` and `options.cas`.
pub(crate) async fn write(
    shared: Arc<Shared>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let path = d.get_str("path")?;
    check_writable(&path)?;
    let data = match d.raw().get("data") {
        None => return Err(EngineError::NoDataProvided.into()),
        Some(Value::Null) => Value::Null,
        Some(_) => d.get("data")?,
    };
    let cas = params::cas(&d.get_map("options")?)?;
    let storage = req.storage()?;
    let _guard = shared.locks.lock(&path).await;
    let cfg = load_config(storage.as_ref()).await?;
    let meta = load_meta(storage.as_ref(), &path)
        .await?
        .unwrap_or_else(|| StoredMeta::new(&path, now_nanos()));
    check_cas(&cfg, &meta, cas)?;
    append_version(storage.as_ref(), &cfg, meta, &path, data).await
}

/// PATCH `data/:path`: a JSON merge patch of the current version, written as a new version.
pub(crate) async fn patch(
    shared: Arc<Shared>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let path = d.get_str("path")?;
    if !d.is_set("data") {
        return Err(EngineError::NoDataProvided.into());
    }
    let patch = Value::Object(d.get_map("data")?);
    let cas = params::cas(&d.get_map("options")?)?;
    let storage = req.storage()?;
    let _guard = shared.locks.lock(&path).await;
    let cfg = load_config(storage.as_ref()).await?;
    let Some(meta) = load_meta(storage.as_ref(), &path).await? else {
        return Ok(Some(empty_not_found()));
    };
    let n = meta.current_version;
    let Some(vm) = meta.versions.get(&n).cloned() else {
        return Ok(Some(empty_not_found()));
    };
    check_cas(&cfg, &meta, cas)?;
    if vm.destroyed || vm.deleted_at(now_nanos()) {
        return Ok(Some(with_status(404, version_json(&meta, n, &vm))));
    }
    let mut current = load::<StoredVersion>(storage.as_ref(), &version_key(&path, n))
        .await?
        .map(|s| s.data)
        .unwrap_or(Value::Null);
    if !current.is_object() {
        current = json!({});
    }
    merge_patch(&mut current, &patch);
    append_version(storage.as_ref(), &cfg, meta, &path, current).await
}

/// DELETE `data/:path`: soft-deletes the current version.
pub(crate) async fn delete_latest(
    shared: Arc<Shared>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let path = d.get_str("path")?;
    let storage = req.storage()?;
    let _guard = shared.locks.lock(&path).await;
    let Some(mut meta) = load_meta(storage.as_ref(), &path).await? else {
        return Ok(None);
    };
    let now = now_nanos();
    let n = meta.current_version;
    let Some(vm) = meta.versions.get_mut(&n) else {
        return Ok(None);
    };
    if vm.destroyed || vm.deleted_at(now) {
        return Ok(None);
    }
    vm.deletion_time = Some(now);
    save(storage.as_ref(), &meta_key(&path), &meta).await?;
    Ok(None)
}

/// Whether `path` names an existing key (data and metadata writes: create vs update).
pub(crate) async fn exists(req: Request, d: FieldData) -> Result<bool, LogicalError> {
    let path = d.get_str("path")?;
    // Whether the metadata record is there (read through the barrier, so decrypted and
    // authenticated), without decoding it: the write that follows decodes it anyway, and a
    // record that does not decode fails that write as it would fail here.
    Ok(req.storage()?.get(&meta_key(&path)).await?.is_some())
}
