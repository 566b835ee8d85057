//! `config`: the mount-wide `max_versions`, `cas_required`, `delete_version_after` and
//! `metadata_cas_required`.

use arca_sdk::framework::FieldData;
use arca_sdk::{LogicalError, Request, Response};

use super::layout::{CONFIG_KEY, FORMAT, load_config, save};
use super::params;
use super::responses::config_json;

/// GET `config`.
pub(crate) async fn read(req: Request, _d: FieldData) -> Result<Option<Response>, LogicalError> {
    let cfg = load_config(req.storage()?.as_ref()).await?;
    Ok(Some(Response::with_data(config_json(&cfg))))
}

/// POST/PUT `config`: changes the fields given, keeps the others.
pub(crate) async fn write(req: Request, d: FieldData) -> Result<Option<Response>, LogicalError> {
    let delete_after = d
        .raw()
        .get("delete_version_after")
        .map(|v| params::signed_duration("delete_version_after", v))
        .transpose()?;
    let storage = req.storage()?;
    let mut cfg = load_config(storage.as_ref()).await?;
    cfg.v = FORMAT;
    if let Some(v) = d.get_given("max_versions")? {
        // A uint32 in Vault: -1 wraps to 4294967295.
        cfg.max_versions = v.as_i64().unwrap_or(0) as u32;
    }
    if let Some(v) = d.get_given("cas_required")? {
        cfg.cas_required = v.as_bool().unwrap_or(false);
    }
    if let Some(v) = d.get_given("metadata_cas_required")? {
        cfg.metadata_cas_required = v.as_bool().unwrap_or(false);
    }
    if let Some(secs) = delete_after {
        cfg.delete_version_after = secs;
    }
    save(storage.as_ref(), CONFIG_KEY, &cfg).await?;
    Ok(None)
}
