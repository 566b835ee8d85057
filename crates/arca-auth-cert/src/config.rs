//! `config`: the mount's settings (`disable_binding`, `enable_identity_alias_metadata`,
//! `ocsp_cache_size`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use arca_sdk::framework::FieldData;
use arca_sdk::{JsonMap, LogicalError, Request, Response};
use serde_json::Value;

use crate::{State, entry};

/// The largest OCSP cache size OpenBao accepts.
const MAX_CACHE_SIZE: i64 = 100_000;

/// `POST config`: only the fields given change.
/// Storing it empties the OCSP cache and resizes it, as OpenBao's new OCSP client does.
pub(crate) async fn write(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?;
    let mut config = entry::load_config(storage.as_ref()).await?;
    if d.get_given("disable_binding")?.is_some() {
        config.disable_binding = d.get_bool("disable_binding")?;
    }
    if d.get_given("enable_identity_alias_metadata")?.is_some() {
        config.enable_identity_alias_metadata = d.get_bool("enable_identity_alias_metadata")?;
    }
    if d.get_given("ocsp_cache_size")?.is_some() {
        let size = d.get_i64("ocsp_cache_size")?;
        if !(2..=MAX_CACHE_SIZE).contains(&size) {
            return Err(LogicalError::bad_request(format!(
                "invalid cache size, must be >= 2 and <= {MAX_CACHE_SIZE}"
            )));
        }
        config.ocsp_cache_size = size;
    }
    entry::store_config(storage.as_ref(), &config).await?;
    state.ocsp_cache.reset(config.ocsp_cache_size);
    state.config_updated.store(false, Ordering::SeqCst);
    Ok(None)
}

/// `GET config`.
pub(crate) async fn read(req: Request, _d: FieldData) -> Result<Option<Response>, LogicalError> {
    let config = entry::load_config(req.storage()?.as_ref()).await?;
    let mut data = JsonMap::new();
    data.insert(
        "disable_binding".into(),
        Value::from(config.disable_binding),
    );
    data.insert(
        "enable_identity_alias_metadata".into(),
        Value::from(config.enable_identity_alias_metadata),
    );
    data.insert(
        "ocsp_cache_size".into(),
        Value::from(config.ocsp_cache_size),
    );
    Ok(Some(Response::with_data(data)))
}
