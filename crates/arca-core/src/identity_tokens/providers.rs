//! `identity/oidc/provider/<name>`: OIDC providers — which clients may use them, which scopes
//! they offer, their issuer — and each provider's unauthenticated discovery document and key
//! set. The `default` provider always exists.

use std::collections::BTreeSet;
use std::sync::Arc;

use arca_sdk::framework::{Field, FieldData, FieldType, PathDef, handler};
use arca_sdk::storage::StorageExt;
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response, Storage};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::keys::SUPPORTED_ALGS;
use super::named_keys;
use super::scopes::{self, OPENID};
use super::{
    ISSUER_WARNING, IdentityTokens, clients, exists_under, name_field, named, remove_duplicates,
    valid_issuer, with,
};
use crate::identity_template::{self, Mode, TemplateEntity, TemplateInput};

/// Where providers are stored.
pub(super) const PROVIDER_PREFIX: &str = "oidc_provider/provider/";
/// The provider that always exists.
pub(super) const DEFAULT_PROVIDER: &str = "default";

/// A provider as stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Provider {
    #[serde(default)]
    pub issuer: String,
    #[serde(default)]
    pub allowed_client_ids: Vec<String>,
    #[serde(default)]
    pub scopes_supported: Vec<String>,
}

impl Provider {
    /// Whether the client `client_id` may use this provider.
    pub(super) fn allows(&self, client_id: &str) -> bool {
        self.allowed_client_ids
            .iter()
            .any(|c| c == "*" || c == client_id)
    }

    /// The issuer its tokens name: its own or `api_addr`, then
    /// `/v1/<namespace>identity/oidc/provider/<name>`.
    pub(super) fn effective_issuer(
        &self,
        state: &IdentityTokens,
        req: &Request,
        name: &str,
    ) -> String {
        let base = if self.issuer.is_empty() {
            state.api_addr.clone().unwrap_or_default()
        } else {
            self.issuer.clone()
        };
        format!(
            "{base}/v1/{}identity/oidc/provider/{name}",
            req.namespace_path.trim_start_matches('/')
        )
    }

    fn data(&self, issuer: String) -> JsonMap {
        let mut data = JsonMap::new();
        data.insert("issuer".into(), json!(issuer));
        data.insert("allowed_client_ids".into(), json!(self.allowed_client_ids));
        data.insert("scopes_supported".into(), json!(self.scopes_supported));
        data
    }
}

/// Makes sure the `default` provider exists.
pub(super) async fn ensure_default(storage: &dyn Storage) -> Result<(), LogicalError> {
    if load(storage, DEFAULT_PROVIDER).await?.is_none() {
        let p = Provider {
            issuer: String::new(),
            allowed_client_ids: vec!["*".into()],
            scopes_supported: Vec::new(),
        };
        storage
            .put_json(&format!("{PROVIDER_PREFIX}{DEFAULT_PROVIDER}"), &p)
            .await?;
    }
    Ok(())
}

/// Loads the provider `name`.
pub(super) async fn load(
    storage: &dyn Storage,
    name: &str,
) -> Result<Option<Provider>, LogicalError> {
    storage.get_json(&format!("{PROVIDER_PREFIX}{name}")).await
}

/// Every provider, by name.
pub(super) async fn all(storage: &dyn Storage) -> Result<Vec<(String, Provider)>, LogicalError> {
    let mut out = Vec::new();
    for name in storage.list(PROVIDER_PREFIX).await? {
        if let Some(p) = load(storage, &name).await? {
            out.push((name, p));
        }
    }
    Ok(out)
}

pub(super) fn provider_path(state: &Arc<IdentityTokens>) -> PathDef {
    PathDef::new(named("oidc/provider"))
        .field(name_field("provider"))
        .field(Field::new(
            "issuer",
            FieldType::String,
            "Specifies what will be used for the iss claim of ID tokens.",
        ))
        .field(Field::new(
            "allowed_client_ids",
            FieldType::CommaStringSlice,
            "The client IDs that are permitted to use the provider",
        ))
        .field(Field::new(
            "scopes_supported",
            FieldType::CommaStringSlice,
            "The scopes supported for requesting on the provider",
        ))
        .op(Operation::Create, with(state, write))
        .op(Operation::Update, with(state, write))
        .op(Operation::Read, with(state, read))
        .op(Operation::Delete, handler(delete))
        .existence(exists_under(PROVIDER_PREFIX))
        .help(
            "CRUD operations for OIDC providers.",
            "Create, Read, Update, and Delete OIDC named providers.",
        )
}

pub(super) fn list_path(state: &Arc<IdentityTokens>) -> PathDef {
    PathDef::new("oidc/provider/?")
        .field(
            Field::new(
                "allowed_client_id",
                FieldType::String,
                "Filters the list of OIDC providers to those that allow the given client ID in \
             their set of allowed_client_ids.",
            )
            .query(),
        )
        .op(Operation::List, with(state, list))
        .help(
            "List OIDC providers",
            "List all configured OIDC providers in the identity backend.",
        )
}

pub(super) fn discovery_path(state: &Arc<IdentityTokens>) -> PathDef {
    PathDef::new(format!(
        "{}/\\.well-known/openid-configuration",
        named("oidc/provider")
    ))
    .field(name_field("provider"))
    .op(Operation::Read, with(state, discovery))
    .help(
        "Query OIDC configurations",
        "Query this path to retrieve the configured OIDC Issuer and Keys endpoints, response \
         types, subject types, and signing algorithms used by the OIDC backend.",
    )
}

pub(super) fn keys_path(state: &Arc<IdentityTokens>) -> PathDef {
    PathDef::new(format!("{}/\\.well-known/keys", named("oidc/provider")))
        .field(name_field("provider"))
        .op(Operation::Read, with(state, jwks))
        .help(
            "Retrieve public keys",
            "Returns the public portion of keys for a named OIDC provider. Clients can use \
             them to validate the authenticity of an identity token.",
        )
}

async fn write(
    state: Arc<IdentityTokens>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = d.get_str("name")?;
    let storage = req.storage()?.as_ref();
    let create = req.operation == Operation::Create;
    let _guard = state.lock.lock().await;
    let mut p = if create {
        Provider::default()
    } else {
        load(storage, &name).await?.unwrap_or_default()
    };
    if create || d.is_set("issuer") {
        p.issuer = d.get_str("issuer")?;
    }
    if create || d.is_set("allowed_client_ids") {
        p.allowed_client_ids = d.get_strings("allowed_client_ids")?;
    }
    if create || d.is_set("scopes_supported") {
        p.scopes_supported = d.get_strings("scopes_supported")?;
    }
    p.allowed_client_ids = remove_duplicates(std::mem::take(&mut p.allowed_client_ids));
    p.scopes_supported = remove_duplicates(std::mem::take(&mut p.scopes_supported));
    let mut resp = Response::default();
    if !p.issuer.is_empty() {
        if !valid_issuer(&p.issuer) {
            return Err(LogicalError::bad_request(
                "invalid issuer, which must include only a scheme, host, and optional port \
                 (e.g. https://example.com:8200)",
            ));
        }
        resp.warn(ISSUER_WARNING);
    }
    let mut claim_owner: Vec<(String, String)> = Vec::new();
    for scope_name in &p.scopes_supported {
        let Some(scope) = scopes::load(storage, scope_name).await? else {
            return Err(LogicalError::bad_request(format!(
                "scope {scope_name:?} does not exist"
            )));
        };
        for claim in template_claims(&scope.template) {
            if let Some((_, other)) = claim_owner
                .iter()
                .find(|(c, s)| *c == claim && s != scope_name)
            {
                resp.warn(format!(
                    "Found scope templates with conflicting top-level keys: conflict {claim:?} \
                     in scopes {scope_name:?}, {other:?}. This may result in an error if the \
                     scopes are requested in an OIDC Authentication Request."
                ));
            }
            claim_owner.push((claim, scope_name.clone()));
        }
    }
    storage
        .put_json(&format!("{PROVIDER_PREFIX}{name}"), &p)
        .await?;
    Ok((!resp.warnings.is_empty()).then_some(resp))
}

/// The top-level claims a scope template sets (filled with an empty entity).
fn template_claims(template: &str) -> Vec<String> {
    let empty = TemplateEntity::default();
    identity_template::populate(
        template,
        &TemplateInput {
            entity: Some(&empty),
            groups: &[],
            namespace_id: "",
            now: 0,
            mode: Mode::Json,
        },
    )
    .ok()
    .and_then(|(_, filled)| serde_json::from_str::<Map<String, Value>>(&filled).ok())
    .map(|m| m.keys().cloned().collect())
    .unwrap_or_default()
}

async fn read(
    state: Arc<IdentityTokens>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?.as_ref();
    ensure_default(storage).await?;
    let name = d.get_str("name")?;
    let Some(p) = load(storage, &name).await? else {
        return Ok(None);
    };
    let issuer = p.effective_issuer(&state, &req, &name);
    Ok(Some(Response::with_data(p.data(issuer))))
}

async fn delete(req: Request, d: FieldData) -> Result<Option<Response>, LogicalError> {
    let name = d.get_str("name")?;
    if name == DEFAULT_PROVIDER {
        return Err(LogicalError::bad_request(format!(
            "deletion of OIDC provider {DEFAULT_PROVIDER:?} not allowed"
        )));
    }
    req.storage()?
        .delete(&format!("{PROVIDER_PREFIX}{name}"))
        .await?;
    Ok(None)
}

async fn list(
    state: Arc<IdentityTokens>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?.as_ref();
    ensure_default(storage).await?;
    let filter = d.get_str("allowed_client_id")?;
    let mut keys = Vec::new();
    let mut info = JsonMap::new();
    for (name, p) in all(storage).await? {
        if !filter.is_empty() && !p.allows(&filter) {
            continue;
        }
        let issuer = p.effective_issuer(&state, &req, &name);
        info.insert(name.clone(), Value::Object(p.data(issuer)));
        keys.push(name);
    }
    if keys.is_empty() {
        return Err(LogicalError::empty_not_found());
    }
    let mut data = JsonMap::new();
    data.insert("keys".into(), json!(keys));
    data.insert("key_info".into(), Value::Object(info));
    Ok(Some(Response::with_data(data)))
}

async fn discovery(
    state: Arc<IdentityTokens>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?.as_ref();
    ensure_default(storage).await?;
    let name = d.get_str("name")?;
    let Some(p) = load(storage, &name).await? else {
        return Ok(None);
    };
    let issuer = p.effective_issuer(&state, &req, &name);
    let mut scopes = p.scopes_supported.clone();
    scopes.push(OPENID.into());
    let doc = json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/keys"),
        "authorization_endpoint": format!("{}/authorize", issuer.replacen("/v1/", "/ui/vault/", 1)),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "id_token_signing_alg_values_supported": SUPPORTED_ALGS,
        "response_types_supported": ["code"],
        "scopes_supported": scopes,
        "claims_supported": [],
        "subject_types_supported": ["public"],
        "grant_types_supported": ["authorization_code"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
    });
    Ok(Some(super::tokens::raw_json(
        &doc,
        Some("max-age=3600".into()),
    )))
}

async fn jwks(
    state: Arc<IdentityTokens>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?.as_ref();
    ensure_default(storage).await?;
    let name = d.get_str("name")?;
    let Some(p) = load(storage, &name).await? else {
        return Ok(None);
    };
    state.upkeep_if_due(&req).await?;
    let clients = clients::all(storage).await?;
    let mut key_names: BTreeSet<String> = BTreeSet::new();
    if p.allowed_client_ids.iter().any(|c| c == "*") {
        key_names.extend(clients.iter().map(|(_, c)| c.key.clone()));
    }
    if key_names.is_empty() {
        for id in &p.allowed_client_ids {
            if let Some((_, c)) = clients.iter().find(|(_, c)| &c.client_id == id) {
                key_names.insert(c.key.clone());
            }
        }
    }
    let keys = named_keys::public_jwks(storage, &key_names).await?;
    Ok(Some(super::tokens::raw_json(&json!({"keys": keys}), None)))
}
