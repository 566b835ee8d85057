//! `identity/oidc/role/<name>`: which named key signs a role's tokens, the client ID they are
//! issued to (`aud`), their TTL, and the JSON template of extra claims.

use std::sync::Arc;

use arca_sdk::framework::{Field, FieldData, FieldType, PathDef, handler};
use arca_sdk::storage::StorageExt;
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::named_keys::{self, DEFAULT_KEY};
use super::{IdentityTokens, exists_under, name_field, named, with};
use crate::identity_template::{self, Mode, TemplateEntity, TemplateInput};

/// Where roles are stored.
pub(super) const ROLE_PREFIX: &str = "oidc_tokens/roles/";

/// The claims a template may not set.
pub(super) const RESERVED_CLAIMS: [&str; 10] = [
    "iat",
    "aud",
    "exp",
    "iss",
    "sub",
    "namespace",
    "nonce",
    "auth_time",
    "at_hash",
    "c_hash",
];

/// A role as stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Role {
    pub key: String,
    #[serde(default)]
    pub template: String,
    pub client_id: String,
    /// Token TTL, seconds.
    pub ttl: u64,
}

/// Loads the role `name`.
pub(super) async fn load(
    storage: &dyn arca_sdk::Storage,
    name: &str,
) -> Result<Option<Role>, LogicalError> {
    storage.get_json(&format!("{ROLE_PREFIX}{name}")).await
}

pub(super) fn role_path(state: &Arc<IdentityTokens>) -> PathDef {
    PathDef::new(named("oidc/role"))
        .field(name_field("role"))
        .field(
            Field::new(
                "key",
                FieldType::String,
                "The named key that signs this role's tokens.",
            )
            .required(),
        )
        .field(Field::new(
            "template",
            FieldType::String,
            "A JSON template of extra claims (plain or base64).",
        ))
        .field(Field::new(
            "client_id",
            FieldType::String,
            "The audience of the tokens (generated when not given).",
        ))
        .field(
            Field::new(
                "ttl",
                FieldType::DurationSecond,
                "How long the tokens live.",
            )
            .default_value(json!("24h")),
        )
        .op(Operation::Create, with(state, write))
        .op(Operation::Update, with(state, write))
        .op(Operation::Read, handler(read))
        .op(Operation::Delete, handler(delete))
        .existence(exists_under(ROLE_PREFIX))
        .help(
            "CRUD operations on OIDC Roles",
            "Create, read, update and delete roles: the key that signs, the client ID, the TTL \
             and a template of extra claims.",
        )
}

pub(super) fn list_path() -> PathDef {
    PathDef::new("oidc/role/?")
        .op(Operation::List, handler(list))
        .help("List configured OIDC roles", "List the roles.")
}

/// Checks a template the way OpenBao does: it fills with an empty entity and no groups, the
/// result is a JSON object, and it sets no reserved claim.
pub(super) fn check_template(template: &str) -> Result<(), LogicalError> {
    if template.is_empty() {
        return Ok(());
    }
    let empty = TemplateEntity::default();
    let (_, filled) = identity_template::populate(
        template,
        &TemplateInput {
            entity: Some(&empty),
            groups: &[],
            namespace_id: "",
            now: super::now_unix(),
            mode: Mode::Json,
        },
    )
    .map_err(|e| LogicalError::bad_request(format!("error parsing template: {e}")))?;
    let parsed: serde_json::Map<String, Value> = serde_json::from_str(&filled)
        .map_err(|e| LogicalError::bad_request(format!("error parsing template JSON: {e}")))?;
    if let Some(k) = parsed
        .keys()
        .find(|k| RESERVED_CLAIMS.contains(&k.as_str()))
    {
        return Err(LogicalError::bad_request(format!(
            "top level key {k:?} not allowed. Restricted keys: {}",
            RESERVED_CLAIMS.join(", ")
        )));
    }
    Ok(())
}

async fn write(
    state: Arc<IdentityTokens>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?.as_ref();
    let name = d.get_str("name")?;
    let create = req.operation == Operation::Create;
    let _guard = state.lock.lock().await;
    named_keys::ensure_default(storage).await?;
    let mut role = if create {
        Role::default()
    } else {
        load(storage, &name).await?.unwrap_or_default()
    };
    if create || d.is_set("key") {
        role.key = d.get_str("key")?;
    }
    if role.key.is_empty() {
        return Err(LogicalError::bad_request("the key parameter is required"));
    }
    if role.key == DEFAULT_KEY {
        named_keys::ensure_default_signing(storage).await?;
        state.keys_changed(&req);
    }
    if create || d.is_set("template") {
        role.template = d.get_str("template")?;
    }
    // A template may come base64-encoded (OpenBao decodes it when it decodes).
    if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(&role.template)
        && let Ok(text) = String::from_utf8(decoded)
    {
        role.template = text;
    }
    check_template(&role.template)?;
    if create || d.is_set("ttl") {
        role.ttl = d.get_duration("ttl")?.as_secs();
    }
    let Some(key) = named_keys::load(storage, &role.key).await? else {
        return Err(LogicalError::bad_request(format!(
            "cannot find key {:?}",
            role.key
        )));
    };
    if role.ttl > key.verification_ttl {
        return Err(LogicalError::bad_request(
            "a role's token ttl cannot be longer than the verification_ttl of the key it \
             references",
        ));
    }
    if d.is_set("client_id") {
        role.client_id = d.get_str("client_id")?;
    }
    if role.client_id.is_empty() {
        role.client_id = crate::random::random_base62(26);
    }
    storage
        .put_json(&format!("{ROLE_PREFIX}{name}"), &role)
        .await?;
    Ok(None)
}

async fn read(req: Request, d: FieldData) -> Result<Option<Response>, LogicalError> {
    let Some(role) = load(req.storage()?.as_ref(), &d.get_str("name")?).await? else {
        return Ok(None);
    };
    let mut data = JsonMap::new();
    data.insert("client_id".into(), json!(role.client_id));
    data.insert("key".into(), json!(role.key));
    data.insert("template".into(), json!(role.template));
    data.insert("ttl".into(), json!(role.ttl));
    Ok(Some(Response::with_data(data)))
}

async fn delete(req: Request, d: FieldData) -> Result<Option<Response>, LogicalError> {
    let name = d.get_str("name")?;
    req.storage()?
        .delete(&format!("{ROLE_PREFIX}{name}"))
        .await?;
    Ok(None)
}

async fn list(req: Request, _d: FieldData) -> Result<Option<Response>, LogicalError> {
    let names = req.storage()?.list(ROLE_PREFIX).await?;
    if names.is_empty() {
        return Err(LogicalError::empty_not_found());
    }
    let mut data = JsonMap::new();
    data.insert("keys".into(), Value::from(names));
    Ok(Some(Response::with_data(data)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_checked_as_openbao_checks_them() {
        assert!(check_template("").is_ok());
        assert!(check_template(r#"{"n":{{identity.entity.name}}}"#).is_ok());
        let msg = |t: &str| {
            check_template(t)
                .expect_err("refused")
                .wire_messages()
                .join("")
        };
        assert_eq!(
            msg(r#"{"iss":1}"#),
            "top level key \"iss\" not allowed. Restricted keys: iat, aud, exp, iss, sub, \
             namespace, nonce, auth_time, at_hash, c_hash"
        );
        assert_eq!(
            msg("{{bad"),
            "error parsing template: unbalanced templating characters"
        );
        assert!(msg("not json").starts_with("error parsing template JSON: "));
        assert_eq!(
            msg(r#"{"g":{{identity.groups.names.x.id}}}"#),
            "error parsing template: string contains groups template directives but no groups \
             were provided"
        );
    }
}
