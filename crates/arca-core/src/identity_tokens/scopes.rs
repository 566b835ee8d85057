//! `identity/oidc/scope/<name>`: named claim templates a provider offers and a relying party
//! asks for (`openid` is implied and reserved).

use std::sync::Arc;

use arca_sdk::framework::{Field, FieldData, FieldType, PathDef, handler};
use arca_sdk::storage::StorageExt;
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response, Storage};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{IdentityTokens, exists_under, name_field, named, with};

/// Where scopes are stored.
pub(super) const SCOPE_PREFIX: &str = "oidc_provider/scope/";
/// The scope every OIDC request names; it cannot be defined.
pub(super) const OPENID: &str = "openid";

/// A scope as stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Scope {
    #[serde(default)]
    pub template: String,
    #[serde(default)]
    pub description: String,
}

/// Loads the scope `name`.
pub(super) async fn load(storage: &dyn Storage, name: &str) -> Result<Option<Scope>, LogicalError> {
    storage.get_json(&format!("{SCOPE_PREFIX}{name}")).await
}

pub(super) fn scope_path(state: &Arc<IdentityTokens>) -> PathDef {
    PathDef::new(named("oidc/scope"))
        .field(name_field("scope"))
        .field(Field::new(
            "template",
            FieldType::String,
            "The template string to use for the scope. This may be in string-ified JSON or \
             base64 format.",
        ))
        .field(Field::new(
            "description",
            FieldType::String,
            "The description of the scope",
        ))
        .op(Operation::Create, with(state, write))
        .op(Operation::Update, with(state, write))
        .op(Operation::Read, handler(read))
        .op(Operation::Delete, with(state, delete))
        .existence(exists_under(SCOPE_PREFIX))
        .help(
            "CRUD operations for OIDC scopes.",
            "Create, Read, Update, and Delete OIDC scopes.",
        )
}

pub(super) fn list_path() -> PathDef {
    PathDef::new("oidc/scope/?")
        .op(Operation::List, handler(list))
        .help(
            "List OIDC scopes",
            "List all configured OIDC scopes in the identity backend.",
        )
}

async fn write(
    state: Arc<IdentityTokens>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = d.get_str("name")?;
    if name == OPENID {
        return Err(LogicalError::bad_request(format!(
            "the {OPENID:?} scope name is reserved"
        )));
    }
    let storage = req.storage()?.as_ref();
    let create = req.operation == Operation::Create;
    let _guard = state.lock.lock().await;
    let mut scope = if create {
        Scope::default()
    } else {
        load(storage, &name).await?.unwrap_or_default()
    };
    if create || d.is_set("description") {
        scope.description = d.get_str("description")?;
    }
    if create || d.is_set("template") {
        scope.template = d.get_str("template")?;
    }
    if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(&scope.template)
        && let Ok(text) = String::from_utf8(decoded)
    {
        scope.template = text;
    }
    super::roles::check_template(&scope.template)?;
    storage
        .put_json(&format!("{SCOPE_PREFIX}{name}"), &scope)
        .await?;
    Ok(None)
}

async fn read(req: Request, d: FieldData) -> Result<Option<Response>, LogicalError> {
    let Some(scope) = load(req.storage()?.as_ref(), &d.get_str("name")?).await? else {
        return Ok(None);
    };
    let mut data = JsonMap::new();
    data.insert("template".into(), json!(scope.template));
    data.insert("description".into(), json!(scope.description));
    Ok(Some(Response::with_data(data)))
}

async fn delete(
    state: Arc<IdentityTokens>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = d.get_str("name")?;
    let storage = req.storage()?.as_ref();
    let _guard = state.lock.lock().await;
    let users: Vec<String> = super::providers::all(storage)
        .await?
        .into_iter()
        .filter(|(_, p)| p.scopes_supported.contains(&name))
        .map(|(n, _)| n)
        .collect();
    if !users.is_empty() {
        return Err(LogicalError::bad_request(format!(
            "unable to delete scope {name:?} because it is currently referenced by these \
             providers: {}",
            users.join(", ")
        )));
    }
    storage.delete(&format!("{SCOPE_PREFIX}{name}")).await?;
    Ok(None)
}

async fn list(req: Request, _d: FieldData) -> Result<Option<Response>, LogicalError> {
    let names = req.storage()?.list(SCOPE_PREFIX).await?;
    if names.is_empty() {
        return Err(LogicalError::empty_not_found());
    }
    let mut data = JsonMap::new();
    data.insert("keys".into(), Value::from(names));
    Ok(Some(Response::with_data(data)))
}
