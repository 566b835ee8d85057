//! `identity/oidc/assignment/<name>`: which entities and groups may use an OIDC client. The
//! `allow_all` assignment (every entity and group) always exists and cannot change.

use std::sync::Arc;

use arca_sdk::framework::{Field, FieldData, FieldType, PathDef, handler};
use arca_sdk::storage::StorageExt;
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response, Storage};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{IdentityTokens, exists_under, name_field, named, remove_duplicates, with};

/// Where assignments are stored.
pub(super) const ASSIGNMENT_PREFIX: &str = "oidc_provider/assignment/";
/// The assignment that lets every entity in.
pub(super) const ALLOW_ALL: &str = "allow_all";

/// An assignment as stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Assignment {
    #[serde(default)]
    pub group_ids: Vec<String>,
    #[serde(default)]
    pub entity_ids: Vec<String>,
}

/// Loads the assignment `name`.
pub(super) async fn load(
    storage: &dyn Storage,
    name: &str,
) -> Result<Option<Assignment>, LogicalError> {
    storage
        .get_json(&format!("{ASSIGNMENT_PREFIX}{name}"))
        .await
}

/// Makes sure `allow_all` exists.
pub(super) async fn ensure_default(storage: &dyn Storage) -> Result<(), LogicalError> {
    if load(storage, ALLOW_ALL).await?.is_none() {
        let all = Assignment {
            group_ids: vec!["*".into()],
            entity_ids: vec!["*".into()],
        };
        storage
            .put_json(&format!("{ASSIGNMENT_PREFIX}{ALLOW_ALL}"), &all)
            .await?;
    }
    Ok(())
}

/// OpenBao's `LowercaseIdentityIDs` (the ID lower-cased, a namespace suffix kept), then its
/// duplicate removal.
fn normalised(ids: Vec<String>) -> Vec<String> {
    remove_duplicates(
        ids.into_iter()
            .map(|id| match id.split_once('.') {
                Some((id, ns)) => format!("{}.{ns}", id.to_lowercase()),
                None => id.to_lowercase(),
            })
            .collect(),
    )
}

pub(super) fn assignment_path(state: &Arc<IdentityTokens>) -> PathDef {
    PathDef::new(named("oidc/assignment"))
        .field(name_field("assignment"))
        .field(Field::new(
            "entity_ids",
            FieldType::CommaStringSlice,
            "Comma separated string or array of identity entity IDs",
        ))
        .field(Field::new(
            "group_ids",
            FieldType::CommaStringSlice,
            "Comma separated string or array of identity group IDs",
        ))
        .op(Operation::Create, with(state, write))
        .op(Operation::Update, with(state, write))
        .op(Operation::Read, handler(read))
        .op(Operation::Delete, with(state, delete))
        .existence(exists_under(ASSIGNMENT_PREFIX))
        .help(
            "CRUD operations for OIDC assignments.",
            "Create, Read, Update, and Delete OIDC assignments.",
        )
}

pub(super) fn list_path() -> PathDef {
    PathDef::new("oidc/assignment/?")
        .op(Operation::List, handler(list))
        .help(
            "List OIDC assignments",
            "List all configured OIDC assignments in the identity backend.",
        )
}

async fn write(
    state: Arc<IdentityTokens>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = d.get_str("name")?;
    if name == ALLOW_ALL {
        return Err(LogicalError::bad_request(format!(
            "modification of assignment {ALLOW_ALL:?} not allowed"
        )));
    }
    let storage = req.storage()?.as_ref();
    let create = req.operation == Operation::Create;
    let _guard = state.lock.lock().await;
    let mut a = if create {
        Assignment::default()
    } else {
        load(storage, &name).await?.unwrap_or_default()
    };
    if create || d.is_set("entity_ids") {
        a.entity_ids = d.get_strings("entity_ids")?;
    }
    if create || d.is_set("group_ids") {
        a.group_ids = d.get_strings("group_ids")?;
    }
    a.entity_ids = normalised(a.entity_ids);
    a.group_ids = normalised(a.group_ids);
    storage
        .put_json(&format!("{ASSIGNMENT_PREFIX}{name}"), &a)
        .await?;
    Ok(None)
}

async fn read(req: Request, d: FieldData) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?.as_ref();
    ensure_default(storage).await?;
    let Some(a) = load(storage, &d.get_str("name")?).await? else {
        return Ok(None);
    };
    let mut data = JsonMap::new();
    data.insert("group_ids".into(), json!(a.group_ids));
    data.insert("entity_ids".into(), json!(a.entity_ids));
    Ok(Some(Response::with_data(data)))
}

async fn delete(
    state: Arc<IdentityTokens>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = d.get_str("name")?;
    if name == ALLOW_ALL {
        return Err(LogicalError::bad_request(format!(
            "deletion of assignment {ALLOW_ALL:?} not allowed"
        )));
    }
    let storage = req.storage()?.as_ref();
    let _guard = state.lock.lock().await;
    let users: Vec<String> = super::clients::all(storage)
        .await?
        .into_iter()
        .filter(|(_, c)| c.assignments.contains(&name))
        .map(|(n, _)| n)
        .collect();
    if !users.is_empty() {
        return Err(LogicalError::bad_request(format!(
            "unable to delete assignment {name:?} because it is currently referenced by these \
             clients: {}",
            users.join(", ")
        )));
    }
    storage
        .delete(&format!("{ASSIGNMENT_PREFIX}{name}"))
        .await?;
    Ok(None)
}

async fn list(req: Request, _d: FieldData) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?.as_ref();
    ensure_default(storage).await?;
    let names = storage.list(ASSIGNMENT_PREFIX).await?;
    let mut data = JsonMap::new();
    data.insert("keys".into(), Value::from(names));
    Ok(Some(Response::with_data(data)))
}
