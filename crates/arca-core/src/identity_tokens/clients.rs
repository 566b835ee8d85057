//! `identity/oidc/client/<name>`: relying parties of the OIDC provider — their redirect URIs,
//! the assignments that say who may sign in to them, the key that signs their ID tokens, token
//! lifetimes, and (confidential clients) a client secret.

use std::sync::Arc;

use arca_sdk::framework::{Field, FieldData, FieldType, PathDef, handler};
use arca_sdk::storage::StorageExt;
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response, Storage};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::named_keys::{self, DEFAULT_KEY};
use super::{IdentityTokens, assignments, exists_under, named, remove_duplicates, with};

/// Where clients are stored.
pub(super) const CLIENT_PREFIX: &str = "oidc_provider/client/";
const CLIENT_ID_LEN: usize = 32;
const CLIENT_SECRET_LEN: usize = 64;
const CLIENT_SECRET_PREFIX: &str = "hvo_secret_";

/// A client as stored. No `Debug`: it holds the client secret.
#[derive(Clone, Default, Serialize, Deserialize)]
pub(super) struct Client {
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub assignments: Vec<String>,
    pub key: String,
    /// Seconds.
    pub id_token_ttl: u64,
    /// Seconds.
    pub access_token_ttl: u64,
    /// `confidential` or `public`.
    pub client_type: String,
    #[serde(default)]
    pub authorization_code: Option<bool>,
    #[serde(default)]
    pub client_credentials: bool,
    pub client_id: String,
    #[serde(default)]
    pub client_secret: String,
}

impl Client {
    /// Whether the authorization-code flow is allowed (it is unless turned off).
    pub(super) fn authorization_code_flow(&self) -> bool {
        self.authorization_code.unwrap_or(true)
    }

    /// Whether the client must prove possession of a PKCE verifier.
    pub(super) fn is_public(&self) -> bool {
        self.client_type == "public"
    }

    fn data(&self, with_secret: bool) -> JsonMap {
        let mut data = JsonMap::new();
        data.insert("redirect_uris".into(), json!(self.redirect_uris));
        data.insert("assignments".into(), json!(self.assignments));
        data.insert("key".into(), json!(self.key));
        data.insert("id_token_ttl".into(), json!(self.id_token_ttl));
        data.insert("access_token_ttl".into(), json!(self.access_token_ttl));
        data.insert("client_id".into(), json!(self.client_id));
        data.insert("client_type".into(), json!(self.client_type));
        data.insert("client_credentials".into(), json!(self.client_credentials));
        data.insert("authorization_code".into(), json!(self.authorization_code));
        if with_secret && !self.is_public() {
            data.insert("client_secret".into(), json!(self.client_secret));
        }
        data
    }
}

/// Every client, by name.
pub(super) async fn all(storage: &dyn Storage) -> Result<Vec<(String, Client)>, LogicalError> {
    let mut out = Vec::new();
    for name in storage.list(CLIENT_PREFIX).await? {
        if let Some(c) = load(storage, &name).await? {
            out.push((name, c));
        }
    }
    Ok(out)
}

/// Loads the client `name`.
pub(super) async fn load(
    storage: &dyn Storage,
    name: &str,
) -> Result<Option<Client>, LogicalError> {
    storage.get_json(&format!("{CLIENT_PREFIX}{name}")).await
}

/// The client whose client ID is `id` in the request's namespace: the remembered name's
/// record when it still carries that ID, else found among all clients (and remembered).
pub(super) async fn by_client_id(
    state: &IdentityTokens,
    req: &Request,
    id: &str,
) -> Result<Option<Client>, LogicalError> {
    let storage = req.storage()?.as_ref();
    let key = (req.namespace_id.clone(), id.to_string());
    let hint = state.client_names.lock().get(&key).cloned();
    if let Some(name) = hint
        && let Some(c) = load(storage, &name).await?
        && c.client_id == id
    {
        return Ok(Some(c));
    }
    let found = all(storage)
        .await?
        .into_iter()
        .find(|(_, c)| c.client_id == id);
    let mut names = state.client_names.lock();
    match found {
        Some((name, c)) => {
            names.insert(key, name);
            Ok(Some(c))
        }
        None => {
            names.remove(&key);
            Ok(None)
        }
    }
}

pub(super) fn client_path(state: &Arc<IdentityTokens>) -> PathDef {
    PathDef::new(named("oidc/client"))
        // OpenBao's words for the client's name end with a full stop, unlike the others.
        .field(Field::new("name", FieldType::String, "Name of the client."))
        .field(Field::new(
            "redirect_uris",
            FieldType::CommaStringSlice,
            "Redirect URIs of the client; an authentication request's redirect_uri must match one.",
        ))
        .field(Field::new(
            "assignments",
            FieldType::CommaStringSlice,
            "Assignments that say which entities and groups may use the client.",
        ))
        .field(
            Field::new(
                "key",
                FieldType::String,
                "The named key that signs the client's ID tokens (fixed at creation).",
            )
            .default_value(json!(DEFAULT_KEY)),
        )
        .field(
            Field::new(
                "id_token_ttl",
                FieldType::DurationSecond,
                "The time-to-live for ID tokens obtained by the client.",
            )
            .default_value(json!("24h")),
        )
        .field(
            Field::new(
                "access_token_ttl",
                FieldType::DurationSecond,
                "The time-to-live for access tokens obtained by the client.",
            )
            .default_value(json!("24h")),
        )
        .field(
            Field::new(
                "client_type",
                FieldType::String,
                "confidential (with a client secret) or public (PKCE required).",
            )
            .default_value(json!("confidential")),
        )
        .field(
            Field::new(
                "authorization_code",
                FieldType::Bool,
                "Whether the authorization code flow is allowed.",
            )
            .default_value(json!(true)),
        )
        .field(
            Field::new(
                "client_credentials",
                FieldType::Bool,
                "Whether the client credentials flow is allowed.",
            )
            .default_value(json!(false)),
        )
        .op(Operation::Create, with(state, write))
        .op(Operation::Update, with(state, write))
        .op(Operation::Read, handler(read))
        .op(Operation::Delete, with(state, delete))
        .existence(exists_under(CLIENT_PREFIX))
        .help(
            "CRUD operations for OIDC clients.",
            "Create, Read, Update, and Delete OIDC clients.",
        )
}

pub(super) fn list_path() -> PathDef {
    PathDef::new("oidc/client/?")
        .op(Operation::List, handler(list))
        .help(
            "List OIDC clients",
            "List all configured OIDC clients in the identity backend.",
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
    assignments::ensure_default(storage).await?;
    named_keys::ensure_default(storage).await?;
    let mut c = if create {
        Client::default()
    } else {
        load(storage, &name).await?.unwrap_or_default()
    };
    if create || d.is_set("redirect_uris") {
        c.redirect_uris = d.get_strings("redirect_uris")?;
    }
    if create || d.is_set("assignments") {
        c.assignments = d.get_strings("assignments")?;
    }
    c.assignments = remove_duplicates(std::mem::take(&mut c.assignments));
    c.redirect_uris = remove_duplicates(std::mem::take(&mut c.redirect_uris));
    for a in &c.assignments {
        if assignments::load(storage, a).await?.is_none() {
            return Err(LogicalError::bad_request(format!(
                "assignment {a:?} does not exist"
            )));
        }
    }
    if d.is_set("key") {
        let key = d.get_str("key")?;
        if !create && c.key != key {
            return Err(LogicalError::bad_request("key modification is not allowed"));
        }
        c.key = key;
    } else if create {
        c.key = d.get_str("key")?;
    }
    let Some(key) = named_keys::load(storage, &c.key).await? else {
        return Err(LogicalError::bad_request(format!(
            "key {:?} does not exist",
            c.key
        )));
    };
    if c.key == DEFAULT_KEY {
        named_keys::ensure_default_signing(storage).await?;
        state.keys_changed(&req);
    }
    if create || d.is_set("id_token_ttl") {
        c.id_token_ttl = d.get_duration("id_token_ttl")?.as_secs();
    }
    if c.id_token_ttl > key.verification_ttl {
        return Err(LogicalError::bad_request(
            "a client's id_token_ttl cannot be greater than the verification_ttl of the key it \
             references",
        ));
    }
    if create || d.is_set("access_token_ttl") {
        c.access_token_ttl = d.get_duration("access_token_ttl")?.as_secs();
    }
    if create || d.is_set("authorization_code") {
        c.authorization_code = Some(d.get_bool("authorization_code")?);
    }
    if create || d.is_set("client_credentials") {
        c.client_credentials = d.get_bool("client_credentials")?;
    }
    if create || d.is_set("client_type") {
        let t = d.get_str("client_type")?;
        if !create && c.client_type != t {
            return Err(LogicalError::bad_request(
                "client_type modification is not allowed",
            ));
        }
        if t != "confidential" && t != "public" {
            return Err(LogicalError::bad_request(format!(
                "invalid client_type {t:?}"
            )));
        }
        c.client_type = t;
    }
    if c.client_id.is_empty() {
        c.client_id = crate::random::random_base62(CLIENT_ID_LEN);
    }
    if !c.is_public() && c.client_secret.is_empty() {
        c.client_secret = format!(
            "{CLIENT_SECRET_PREFIX}{}",
            crate::random::random_base62(CLIENT_SECRET_LEN)
        );
    }
    storage
        .put_json(&format!("{CLIENT_PREFIX}{name}"), &c)
        .await?;
    Ok(None)
}

async fn read(req: Request, d: FieldData) -> Result<Option<Response>, LogicalError> {
    let Some(c) = load(req.storage()?.as_ref(), &d.get_str("name")?).await? else {
        return Ok(None);
    };
    Ok(Some(Response::with_data(c.data(true))))
}

async fn delete(
    state: Arc<IdentityTokens>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = d.get_str("name")?;
    let _guard = state.lock.lock().await;
    req.storage()?
        .delete(&format!("{CLIENT_PREFIX}{name}"))
        .await?;
    Ok(None)
}

async fn list(req: Request, _d: FieldData) -> Result<Option<Response>, LogicalError> {
    let clients = all(req.storage()?.as_ref()).await?;
    if clients.is_empty() {
        return Err(LogicalError::empty_not_found());
    }
    let mut info = JsonMap::new();
    let mut keys = Vec::new();
    for (name, c) in clients {
        info.insert(name.clone(), Value::Object(c.data(false)));
        keys.push(name);
    }
    let mut data = JsonMap::new();
    data.insert("keys".into(), json!(keys));
    data.insert("key_info".into(), Value::Object(info));
    Ok(Some(Response::with_data(data)))
}
