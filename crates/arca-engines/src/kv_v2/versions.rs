//! `delete/:path`, `undelete/:path` and `destroy/:path`: act on listed versions of a key.

use std::sync::Arc;

use arca_sdk::framework::FieldData;
use arca_sdk::{LogicalError, Request, Response};

use super::Shared;
use super::layout::{load_meta, meta_key, save, version_key};
use super::params;
use crate::EngineError;
use crate::timestamp::now_nanos;

/// What to do to each listed version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Soft-delete (set the deletion time to now).
    Delete,
    /// Clear the deletion time.
    Undelete,
    /// Mark destroyed and remove the data.
    Destroy,
}

/// Applies `action` to the versions given in `versions`.
pub(crate) async fn apply(
    action: Action,
    shared: Arc<Shared>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let path = d.get_str("path")?;
    let versions = params::versions(d.raw().get("versions"))?;
    if versions.is_empty() {
        return Err(match action {
            Action::Destroy => EngineError::NoVersionsDestroy,
            _ => EngineError::NoVersions,
        }
        .into());
    }
    let storage = req.storage()?;
    let _guard = shared.locks.lock(&path).await;
    let Some(mut meta) = load_meta(storage.as_ref(), &path).await? else {
        return Ok(None);
    };
    let now = now_nanos();
    let mut destroyed = Vec::new();
    for n in versions {
        let Some(vm) = meta.versions.get_mut(&n) else {
            continue;
        };
        if vm.destroyed {
            continue;
        }
        match action {
            Action::Delete => {
                if !vm.deleted_at(now) {
                    vm.deletion_time = Some(now);
                }
            }
            Action::Undelete => vm.deletion_time = None,
            Action::Destroy => {
                vm.destroyed = true;
                destroyed.push(n);
            }
        }
    }
    save(storage.as_ref(), &meta_key(&path), &meta).await?;
    for n in destroyed {
        storage.delete(&version_key(&path, n)).await?;
    }
    Ok(None)
}
