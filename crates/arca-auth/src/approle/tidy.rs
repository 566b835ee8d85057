//! `tidy/secret-id`: removes expired secret IDs, secret IDs whose accessor is gone, and
//! accessors whose secret ID is gone. It runs in a task of its own, one at a time, and answers
//! at once (202, as OpenBao).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use arca_sdk::framework::{FieldData, PathDef};
use arca_sdk::storage::StorageExt;
use arca_sdk::{LogicalError, Operation, Request, Response, Storage};

use super::secret_id::{AccessorEntry, accessor_entry, delete_accessor, stored_secret_id};
use super::{
    ACCESSOR_LOCAL_PREFIX, ACCESSOR_PREFIX, SECRET_ID_LOCAL_PREFIX, SECRET_ID_PREFIX, State,
    now_nanos, op,
};

/// The `tidy/secret-id` path.
pub(super) fn path(st: &Arc<State>) -> PathDef {
    PathDef::new("tidy/secret-id")
        .op(Operation::Update, op(st, start))
        .help(
            "Trigger the clean-up of expired SecretID entries.",
            "SecretIDs will have expiration time attached to them. Invoking this endpoint will trigger the clean-up action, without waiting for the backend's periodic function.",
        )
}

async fn start(
    st: Arc<State>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = req.storage()?.clone();
    let mut resp = Response::default();
    if st
        .tidy_running
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        resp.warn("Tidy operation already in progress.");
        return Ok(Some(resp));
    }
    tokio::spawn(async move {
        if let Err(e) = tidy(&st, s.as_ref()).await {
            tracing::error!(error = %e, "error tidying secret IDs");
        }
        st.tidy_running.store(false, Ordering::Release);
    });
    resp.warn("Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs.");
    resp.status = Some(202);
    Ok(Some(resp))
}

/// Tidies the cluster-wide secret IDs, then the local ones.
pub(super) async fn tidy(st: &State, s: &dyn Storage) -> Result<(), LogicalError> {
    tidy_prefix(st, s, SECRET_ID_PREFIX, ACCESSOR_PREFIX).await?;
    tidy_prefix(st, s, SECRET_ID_LOCAL_PREFIX, ACCESSOR_LOCAL_PREFIX).await
}

async fn tidy_prefix(
    st: &State,
    s: &dyn Storage,
    secret_prefix: &str,
    accessor_prefix: &str,
) -> Result<(), LogicalError> {
    // Accessors first: one written after this listing is not judged below.
    let mut accessors = Vec::new();
    for salted in s.list(accessor_prefix).await? {
        if let Some(e) = s
            .get_json::<AccessorEntry>(&format!("{accessor_prefix}{salted}"))
            .await?
        {
            accessors.push((salted, e.secret_id_hmac));
        }
    }
    let mut kept = HashSet::new();
    let role_dirs = s.list(secret_prefix).await?;
    for dir in &role_dirs {
        let dir = format!("{secret_prefix}{dir}");
        for hmac in s.list(&dir).await? {
            if let Some(salted) = tidy_secret_id(st, s, secret_prefix, &dir, &hmac).await? {
                kept.insert(salted);
            }
        }
    }
    if accessors.len() <= kept.len() {
        return Ok(());
    }
    let mut live = HashSet::new();
    for dir in &role_dirs {
        live.extend(s.list(&format!("{secret_prefix}{dir}")).await?);
    }
    for (salted, hmac) in accessors {
        if kept.contains(&salted) || live.contains(&hmac) {
            continue;
        }
        let _lock = st.secret_id_lock(&hmac).write().await;
        s.delete(&format!("{accessor_prefix}{salted}")).await?;
    }
    Ok(())
}

/// Removes one secret ID if it expired or lost its accessor; answers its salted accessor when
/// it stays.
async fn tidy_secret_id(
    st: &State,
    s: &dyn Storage,
    secret_prefix: &str,
    dir: &str,
    hmac: &str,
) -> Result<Option<String>, LogicalError> {
    let _lock = st.secret_id_lock(hmac).write().await;
    let key = format!("{dir}{hmac}");
    let Some(entry) = stored_secret_id(s, &key).await? else {
        return Ok(None);
    };
    let accessor = entry.secret_id_accessor.clone();
    if accessor.is_empty()
        || accessor_entry(st, s, &accessor, secret_prefix)
            .await?
            .is_none()
    {
        s.delete(&key).await?;
        return Ok(None);
    }
    if entry.expired(now_nanos()) {
        delete_accessor(st, s, &accessor, secret_prefix).await?;
        s.delete(&key).await?;
        return Ok(None);
    }
    Ok(Some(st.salted(s, &accessor).await?))
}
