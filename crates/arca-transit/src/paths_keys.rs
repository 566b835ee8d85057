//! `keys/`: create, read, list, delete, configure, rotate and trim named keys.

use std::sync::Arc;

use arca_sdk::framework::{Field, FieldData, FieldType, PathDef, generic_name_regex};
use arca_sdk::{LogicalError, Operation, Request, Response};
use serde_json::json;

use crate::keyring::b64_decode;
use crate::keytype::KeyType;
use crate::lifecycle::{HMAC_MAX, HMAC_MIN, NewKey, format_key, new_policy, rotate};
use crate::{State, op};

fn name_field() -> Field {
    Field::new("name", FieldType::String, "Name of the key")
}

pub(crate) fn paths(state: &Arc<State>) -> Vec<PathDef> {
    vec![
        PathDef::new("keys/?")
            .field(Field::new(
                "after",
                FieldType::String,
                "List keys after this one",
            ))
            .field(Field::new("limit", FieldType::Int, "Most keys to list"))
            .op(Operation::List, op(state, list)),
        PathDef::new(format!("keys/{}", generic_name_regex("name")))
            .field(name_field())
            .field(
                Field::new("type", FieldType::String, "Key type")
                    .default_value(json!("aes256-gcm96")),
            )
            .field(Field::new(
                "derived",
                FieldType::Bool,
                "Derive keys per context",
            ))
            .field(Field::new(
                "convergent_encryption",
                FieldType::Bool,
                "Convergent encryption",
            ))
            .field(Field::new("exportable", FieldType::Bool, "Allow export"))
            .field(Field::new(
                "allow_plaintext_backup",
                FieldType::Bool,
                "Allow plaintext backup",
            ))
            .field(Field::new(
                "context",
                FieldType::String,
                "Context for derived public keys",
            ))
            .field(
                Field::new(
                    "auto_rotate_period",
                    FieldType::DurationSecond,
                    "Rotation period",
                )
                .default_value(json!(0)),
            )
            .field(Field::new("key_size", FieldType::Int, "HMAC key size").default_value(json!(0)))
            .field(Field::new(
                "external_key_ref",
                FieldType::String,
                "External key reference",
            ))
            .op(Operation::Update, op(state, write))
            .op(Operation::Read, op(state, read))
            .op(Operation::Delete, op(state, delete)),
        PathDef::new(format!("keys/{}/config", generic_name_regex("name")))
            .field(name_field())
            .field(Field::new(
                "min_decryption_version",
                FieldType::Int,
                "Oldest version for decryption",
            ))
            .field(Field::new(
                "min_encryption_version",
                FieldType::Int,
                "Oldest version for encryption",
            ))
            .field(Field::new(
                "deletion_allowed",
                FieldType::Bool,
                "Allow deletion",
            ))
            .field(Field::new("exportable", FieldType::Bool, "Allow export"))
            .field(Field::new(
                "allow_plaintext_backup",
                FieldType::Bool,
                "Allow plaintext backup",
            ))
            .field(Field::new(
                "auto_rotate_period",
                FieldType::DurationSecond,
                "Rotation period",
            ))
            .op(Operation::Update, op(state, config)),
        PathDef::new(format!("keys/{}/rotate", generic_name_regex("name")))
            .field(name_field())
            .field(Field::new(
                "external_key_ref",
                FieldType::String,
                "External key reference",
            ))
            .op(Operation::Update, op(state, rotate_key)),
        PathDef::new(format!("keys/{}/soft-delete", generic_name_regex("name")))
            .field(name_field())
            .op(Operation::Delete, op(state, soft_delete)),
        PathDef::new(format!(
            "keys/{}/soft-delete-restore",
            generic_name_regex("name")
        ))
        .field(name_field())
        .op(Operation::Update, op(state, soft_delete_restore)),
        PathDef::new(format!("keys/{}/trim", generic_name_regex("name")))
            .field(name_field())
            .field(Field::new(
                "min_available_version",
                FieldType::Int,
                "Oldest version kept",
            ))
            .op(Operation::Update, op(state, trim)),
    ]
}

async fn list(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let _ = state;
    let storage = req.storage()?;
    let after = d.get_str("after")?;
    let limit = d.get_i64("limit")?;
    let keys = storage
        .list_page(
            "policy/",
            &after,
            if limit <= 0 { 0 } else { limit as usize },
        )
        .await?;
    let mut data = arca_sdk::JsonMap::new();
    data.insert("keys".into(), json!(keys));
    Ok(Some(Response::with_data(data)))
}

async fn write(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?.clone();
    let name = d.get_str("name")?;
    let derived = d.get_bool("derived")?;
    let convergent = d.get_bool("convergent_encryption")?;
    let type_name = d.get_str("type")?;
    let key_size = d.get_i64("key_size")?;
    let period = d.get_i64("auto_rotate_period")?;
    if period != 0 && period < 3600 {
        return Err(LogicalError::bad_request(
            "auto rotate period must be 0 to disable or at least an hour",
        ));
    }
    if !derived && convergent {
        return Err(LogicalError::bad_request(
            "convergent encryption requires derivation to be enabled",
        ));
    }
    let Some(key_type) = KeyType::parse(&type_name) else {
        return Err(LogicalError::bad_request(format!(
            "unknown key type {type_name}"
        )));
    };
    if key_size != 0 {
        if key_type != KeyType::Hmac {
            return Err(LogicalError::bad_request(format!(
                "key_size is not valid for algorithm {}",
                key_type.name()
            )));
        }
        if !(HMAC_MIN..=HMAC_MAX).contains(&key_size) {
            return Err(LogicalError::bad_request(format!(
                "invalid key_size {key_size}"
            )));
        }
    }
    if !d.get_str("external_key_ref")?.is_empty() {
        return Err(LogicalError::bad_request(
            "must provide type=external-key to use external_key_ref",
        ));
    }
    let new = NewKey {
        key_type: Some(key_type),
        derived,
        convergent,
        exportable: d.get_bool("exportable")?,
        allow_plaintext_backup: d.get_bool("allow_plaintext_backup")?,
        auto_rotate_period: period,
        key_size,
    };
    let existed = state
        .keys
        .update(storage.as_ref(), &name, |current| match current {
            Some(_) => Ok((None, true)),
            None => Ok((Some(new_policy(&name, &new)?), false)),
        })
        .await?;
    let Some(k) = state.keys.get(storage.as_ref(), &name).await? else {
        return Err(LogicalError::internal(
            "error generating key: returned policy was nil",
        ));
    };
    let mut resp = Response::with_data(format_key(&k, &[])?);
    if existed {
        resp.warn(format!("key {name} already existed"));
    }
    Ok(Some(resp))
}

async fn read(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?;
    let name = d.get_str("name")?;
    let Some(k) = state.keys.get(storage.as_ref(), &name).await? else {
        return Ok(None);
    };
    let ctx_raw = d.get_str("context")?;
    let context = if ctx_raw.is_empty() {
        Vec::new()
    } else {
        b64_decode(&ctx_raw)
            .map_err(|_| LogicalError::bad_request("failed to base64-decode context"))?
    };
    Ok(Some(Response::with_data(format_key(&k, &context)?)))
}

async fn delete(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?;
    let name = d.get_str("name")?;
    let why = match state.keys.get(storage.as_ref(), &name).await? {
        None => Some("could not delete key; not found"),
        Some(k) if !k.policy.deletion_allowed => Some("deletion is not allowed for this key"),
        Some(_) => None,
    };
    if let Some(why) = why {
        return Err(LogicalError::bad_request(format!(
            "error deleting policy {name}: {why}"
        )));
    }
    state.keys.delete(storage.as_ref(), &name).await?;
    Ok(None)
}

async fn config(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?;
    let name = d.get_str("name")?;
    let min_dec = d
        .get_given("min_decryption_version")?
        .and_then(|v| v.as_i64());
    let min_enc = d
        .get_given("min_encryption_version")?
        .and_then(|v| v.as_i64());
    let deletion = d.get_given("deletion_allowed")?.and_then(|v| v.as_bool());
    let exportable = d.get_given("exportable")?.and_then(|v| v.as_bool());
    let plaintext_backup = d
        .get_given("allow_plaintext_backup")?
        .and_then(|v| v.as_bool());
    let period = d.get_given("auto_rotate_period")?.and_then(|v| v.as_i64());
    let warning = state
        .keys
        .update(storage.as_ref(), &name, |current| {
            let Some(mut p) = current else {
                return Err(LogicalError::bad_request(format!("no existing key named {name} could be found")));
            };
            let mut warning = None;
            let mut changed = false;
            if let Some(mut v) = min_dec {
                if v < 0 {
                    return Err(LogicalError::bad_request("min decryption version cannot be negative"));
                }
                if v == 0 {
                    v = 1;
                    warning = Some("since Vault 0.3 (prior to the OpenBao fork), transit key numbering starts at 1; forcing minimum to 1".to_string());
                }
                if v != p.min_decryption_version {
                    if v > p.latest_version {
                        return Err(LogicalError::bad_request(format!(
                            "cannot set min decryption version of {v}, latest key version is {}",
                            p.latest_version
                        )));
                    }
                    p.min_decryption_version = v;
                    changed = true;
                }
            }
            if let Some(v) = min_enc {
                if v < 0 {
                    return Err(LogicalError::bad_request("min encryption version cannot be negative"));
                }
                if v != p.min_encryption_version {
                    if v > p.latest_version {
                        return Err(LogicalError::bad_request(format!(
                            "cannot set min encryption version of {v}, latest key version is {}",
                            p.latest_version
                        )));
                    }
                    p.min_encryption_version = v;
                    changed = true;
                }
            }
            if p.min_encryption_version > 0 && p.min_encryption_version < p.min_decryption_version {
                return Err(LogicalError::bad_request(format!(
                    "cannot set min encryption/decryption values; min encryption version of {} must be greater than or equal to min decryption version of {}",
                    p.min_encryption_version, p.min_decryption_version
                )));
            }
            if let Some(v) = deletion
                && v != p.deletion_allowed
            {
                p.deletion_allowed = v;
                changed = true;
            }
            if p.min_decryption_version == 0 {
                p.min_decryption_version = 1;
                changed = true;
            }
            if exportable == Some(true) && !p.exportable {
                p.exportable = true;
                changed = true;
            }
            if plaintext_backup == Some(true) && !p.allow_plaintext_backup {
                p.allow_plaintext_backup = true;
                changed = true;
            }
            if let Some(secs) = period {
                if secs != 0 && secs < 3600 {
                    return Err(LogicalError::bad_request("auto rotate period must be 0 to disable or at least an hour"));
                }
                let ns = secs.saturating_mul(1_000_000_000);
                if ns != p.auto_rotate_period {
                    p.auto_rotate_period = ns;
                    changed = true;
                }
            }
            if !changed {
                return Ok((None, warning));
            }
            if p.min_available_version > p.min_encryption_version {
                return Err(LogicalError::bad_request("min encryption version should not be less than min available version"));
            }
            if p.min_available_version > p.min_decryption_version {
                return Err(LogicalError::bad_request("min decryption version should not be less then min available version"));
            }
            Ok((Some(p), warning))
        })
        .await?;
    let Some(k) = state.keys.get(storage.as_ref(), &name).await? else {
        return Err(LogicalError::bad_request(format!(
            "no existing key named {name} could be found"
        )));
    };
    let mut resp = Response::with_data(format_key(&k, &[])?);
    if let Some(w) = warning {
        resp.warn(w);
    }
    Ok(Some(resp))
}

async fn rotate_key(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?;
    let name = d.get_str("name")?;
    let ext = d.get_str("external_key_ref")?;
    state
        .keys
        .update(storage.as_ref(), &name, |current| {
            let Some(mut p) = current else {
                return Err(LogicalError::bad_request("key not found"));
            };
            if !ext.is_empty() {
                return Err(LogicalError::bad_request(format!(
                    "cannot use external_key_ref on key of type {}",
                    p.key_type.name()
                )));
            }
            rotate(&mut p)?;
            Ok((Some(p), ()))
        })
        .await?;
    let Some(k) = state.keys.get(storage.as_ref(), &name).await? else {
        return Err(LogicalError::bad_request("key not found"));
    };
    Ok(Some(Response::with_data(format_key(&k, &[])?)))
}

async fn trim(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?;
    let name = d.get_str("name")?;
    let given = d
        .get_given("min_available_version")?
        .and_then(|v| v.as_i64());
    state
        .keys
        .update(storage.as_ref(), &name, |current| {
            let Some(mut p) = current else {
                return Err(LogicalError::bad_request("invalid key name"));
            };
            let Some(v) = given else {
                return Err(LogicalError::bad_request("missing min_available_version"));
            };
            let refuse = |m: &str| Err(LogicalError::bad_request(m));
            if v < p.min_available_version {
                return refuse("minimum available version cannot be decremented");
            } else if p.min_encryption_version == 0 {
                return refuse("minimum available version cannot be set when minimum encryption version is not set");
            } else if p.min_decryption_version == 0 {
                return refuse("minimum available version cannot be set when minimum decryption version is not set");
            } else if v > p.min_encryption_version {
                return refuse("minimum available version cannot be greater than minmum encryption version");
            } else if v > p.min_decryption_version {
                return refuse("minimum available version cannot be greater than minimum decryption version");
            } else if v < 0 {
                return refuse("minimum available version cannot be negative");
            } else if v == 0 {
                return refuse("minimum available version should be positive");
            }
            p.min_available_version = v;
            Ok((Some(p), ()))
        })
        .await?;
    let Some(k) = state.keys.get(storage.as_ref(), &name).await? else {
        return Err(LogicalError::bad_request("invalid key name"));
    };
    Ok(Some(Response::with_data(format_key(&k, &[])?)))
}

/// Sets or clears `soft_deleted`; `None` when the key does not exist (OpenBao's 204/404).
async fn set_soft_deleted(
    state: &State,
    req: &Request,
    d: &FieldData,
    deleted: bool,
    unchanged: &str,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?;
    let name = d.get_str("name")?;
    let was = state
        .keys
        .update(storage.as_ref(), &name, |current| match current {
            None => Ok((None, None)),
            Some(mut p) => {
                let was = p.soft_deleted;
                p.soft_deleted = deleted;
                Ok((Some(p), Some(was)))
            }
        })
        .await?;
    let Some(was) = was else {
        return Ok(None);
    };
    let Some(k) = state.keys.get(storage.as_ref(), &name).await? else {
        return Ok(None);
    };
    let mut resp = Response::with_data(format_key(&k, &[])?);
    if was == deleted {
        resp.warn(unchanged);
    }
    Ok(Some(resp))
}

async fn soft_delete(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    set_soft_deleted(
        &state,
        &req,
        &d,
        true,
        "key was already marked as soft deleted",
    )
    .await
}

async fn soft_delete_restore(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    set_soft_deleted(&state, &req, &d, false, "key was already restored").await
}
