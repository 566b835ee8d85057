//! `login`: a role ID (and, when the role binds one, a secret ID) traded for a token, with
//! OpenBao's checks in its order and its texts; the alias lookahead; and token renewal.

use std::collections::HashMap;
use std::sync::Arc;

use arca_sdk::framework::{Field, FieldData, FieldType, PathDef};
use arca_sdk::storage::StorageExt;
use arca_sdk::{Alias, Auth, LogicalError, Operation, Request, Response, Storage};
use serde_json::json;
use zeroize::Zeroizing;

use super::cidr::{ip_belongs_to_blocks, verify_subset};
use super::role::{RoleEntry, role_entry, role_id_entry};
use super::secret_id::{
    SecretIdEntry, SecretIdKeys, accessor_entry, delete_accessor, live_secret_id, secret_id_keys,
    stored_secret_id,
};
use super::{State, now_nanos, op};

/// OpenBao's answer to every unknown role ID or secret ID.
const INVALID: &str = "invalid role or secret ID";

/// The `login` path.
pub(super) fn path(st: &Arc<State>) -> PathDef {
    PathDef::new("login")
        .field(Field::new(
            "role_id",
            FieldType::String,
            "Unique identifier of the Role. Required to be supplied when the 'bind_secret_id' constraint is set.",
        ))
        .field(
            Field::new("secret_id", FieldType::String, "SecretID belong to the App role")
                .default_value(json!("")),
        )
        .op(Operation::Update, op(st, login))
        .op(Operation::AliasLookahead, op(st, alias_lookahead))
        .op(Operation::ResolveRole, op(st, resolve_role))
        .help(
            "Issue a token based on the credentials supplied",
            "While the credential 'role_id' is required at all times, other credentials required depends on the properties App role to which the 'role_id' belongs to.",
        )
}

fn role_id_of(d: &FieldData) -> Result<String, LogicalError> {
    Ok(d.get_str("role_id")?.trim().to_string())
}

/// The alias a login would have (its role ID), credentials unchecked.
async fn alias_lookahead(
    _st: Arc<State>,
    _req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let role_id = role_id_of(&d)?;
    if role_id.is_empty() {
        // OpenBao returns a plain error here, which its core answers as a bare 500; the
        // client's mistake gets a 400 with the same bare text.
        return Err(LogicalError::bad_request("missing role_id"));
    }
    Ok(Some(Response::alias_lookahead(role_id)))
}

/// The role a login names (`{"role": <name>}`), credentials unchecked beyond the role ID.
async fn resolve_role(
    st: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let role = role_of_login(&st, &req, &d).await.map_err(unwrapped)?;
    let mut data = arca_sdk::JsonMap::new();
    data.insert("role".into(), json!(role.name));
    Ok(Some(Response::with_data(data)))
}

/// The role whose role ID a login gives, with OpenBao's texts when there is none.
async fn role_of_login(
    st: &State,
    req: &Request,
    d: &FieldData,
) -> Result<RoleEntry, LogicalError> {
    let role_id = role_id_of(d)?;
    if role_id.is_empty() {
        return Err(LogicalError::bad_request("missing role_id"));
    }
    let s = req.storage()?;
    let Some(index) = role_id_entry(st, s.as_ref(), &role_id).await? else {
        return Err(LogicalError::bad_request(INVALID));
    };
    let _guard = st.role_lock(&index.name).read().await;
    role_entry(s.as_ref(), &index.name)
        .await?
        .ok_or_else(|| LogicalError::bad_request(INVALID))
}

fn remote_addr(req: &Request) -> String {
    req.connection
        .as_ref()
        .map(|c| c.remote_addr.clone())
        .unwrap_or_default()
}

/// A login's failures reach the client as the bare text: OpenBao's core does not wrap a
/// login's errors as it wraps other requests'. Failures inside the server keep their 500; bad
/// input OpenBao answers with a 500 too gets a 400 here.
fn unwrapped(e: LogicalError) -> LogicalError {
    match e {
        LogicalError::Internal(m) => LogicalError::from_status(500, m),
        LogicalError::InvalidRequest(m) => LogicalError::bad_request(m),
        other => other,
    }
}

async fn login(
    st: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    login_checked(st, req, d).await.map_err(unwrapped)
}

async fn login_checked(
    st: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let role = role_of_login(&st, &req, &d).await?;
    let s = req.storage()?.clone();
    let remote = remote_addr(&req);
    let mut metadata = HashMap::new();
    let mut token_cidrs = None;
    if role.bind_secret_id {
        let entry = use_secret_id(&st, s.as_ref(), &role, &d, &remote).await?;
        if !entry.token_bound_cidrs.is_empty() {
            token_cidrs = Some(
                arca_sdk::cidr::normalize(&entry.token_bound_cidrs)
                    .map_err(LogicalError::bad_request)?,
            );
        }
        metadata.extend(entry.metadata);
    }
    check_role_cidrs(&role, &remote)?;
    metadata.insert("role_name".to_string(), role.name.clone());
    let mut auth = Auth {
        metadata: metadata.clone(),
        alias: Some(Alias {
            name: role.role_id.clone(),
            metadata,
        }),
        ..Auth::default()
    };
    auth.internal_data
        .insert("role_name".into(), json!(role.name));
    role.token
        .populate_token_auth(&mut auth, &req)
        .map_err(|e| LogicalError::internal(format!("failed to populate auth information: {e}")))?;
    // The secret ID's token CIDRs replace the role's. (OpenBao also replaces a strict binding
    // to the login's address with the role's empty list; Arca keeps the binding.)
    if let Some(c) = token_cidrs {
        auth.bound_cidrs = c;
    }
    Ok(Some(Response {
        auth: Some(auth),
        ..Response::default()
    }))
}

/// The role's `secret_id_bound_cidrs` against the client's address.
fn check_role_cidrs(role: &RoleEntry, remote: &str) -> Result<(), LogicalError> {
    if role.secret_id_bound_cidrs.is_empty() {
        return Ok(());
    }
    if remote.is_empty() {
        return Err(LogicalError::internal(
            "failed to get connection information",
        ));
    }
    match ip_belongs_to_blocks(remote, &role.secret_id_bound_cidrs) {
        Ok(true) => Ok(()),
        other => Err(LogicalError::bad_request(format!(
            "source address {remote:?} unauthorized by CIDR restrictions on the role: {}",
            go_err(other.err())
        ))),
    }
}

/// Go's `%w` of a possibly-nil error.
fn go_err(e: Option<String>) -> String {
    e.unwrap_or_else(|| "%!w(<nil>)".to_string())
}

/// Checks the secret ID of a login and spends one of its uses, under its lock: with limited
/// uses the lock is taken for writing and the entry read again, so two logins never both
/// spend the last use.
async fn use_secret_id(
    st: &State,
    s: &dyn Storage,
    role: &RoleEntry,
    d: &FieldData,
    remote: &str,
) -> Result<SecretIdEntry, LogicalError> {
    let secret_id = Zeroizing::new(d.get_str("secret_id")?.trim().to_string());
    if secret_id.is_empty() {
        return Err(LogicalError::bad_request("missing secret_id"));
    }
    let keys = secret_id_keys(role, &secret_id)?;
    let lock = st.secret_id_lock(&keys.hmac);
    let read = lock.read().await;
    let Some(entry) = live_secret_id(s, &keys.key()).await? else {
        return Err(LogicalError::invalid_credentials(INVALID));
    };
    if !has_accessor(st, s, &entry, role).await? {
        drop(read);
        let _write = lock.write().await;
        return revoke_without_accessor(st, s, role, &keys).await;
    }
    if entry.secret_id_num_uses == 0 {
        check_secret_id_cidrs_unlimited(&entry, role, remote)?;
        return Ok(entry);
    }
    drop(read);
    let _write = lock.write().await;
    let Some(entry) = live_secret_id(s, &keys.key()).await? else {
        // Another login took the last use meanwhile. (OpenBao's text here quotes the secret
        // ID; Arca never echoes a secret.)
        return Err(LogicalError::invalid_credentials(INVALID));
    };
    spend_use(st, s, role, &keys, entry.clone()).await?;
    verify_subset(&entry.cidr_list, &role.secret_id_bound_cidrs).map_err(LogicalError::internal)?;
    if !entry.cidr_list.is_empty() {
        if remote.is_empty() {
            return Err(LogicalError::internal(
                "failed to get connection information",
            ));
        }
        match ip_belongs_to_blocks(remote, &entry.cidr_list) {
            Ok(true) => {}
            other => {
                return Err(LogicalError::bad_request(format!(
                    "source address {remote:?} unauthorized by CIDR restrictions on the secret ID: {}",
                    go_err(other.err())
                )));
            }
        }
    }
    Ok(entry)
}

async fn has_accessor(
    st: &State,
    s: &dyn Storage,
    entry: &SecretIdEntry,
    role: &RoleEntry,
) -> Result<bool, LogicalError> {
    Ok(
        accessor_entry(st, s, &entry.secret_id_accessor, &role.secret_id_prefix)
            .await
            .map_err(|e| {
                LogicalError::internal(format!("failed to read secret ID accessor entry: {e}"))
            })?
            .is_some(),
    )
}

/// A secret ID whose accessor is gone is deleted and refused (the caller holds the write lock).
async fn revoke_without_accessor(
    st: &State,
    s: &dyn Storage,
    role: &RoleEntry,
    keys: &SecretIdKeys,
) -> Result<SecretIdEntry, LogicalError> {
    let Some(entry) = stored_secret_id(s, &keys.key()).await? else {
        return Err(LogicalError::bad_request(INVALID));
    };
    if !has_accessor(st, s, &entry, role).await? {
        s.delete(&keys.key()).await.map_err(|e| {
            LogicalError::internal(format!(
                "error deleting secret ID {:?} from storage: {e}",
                keys.hmac
            ))
        })?;
    }
    Err(LogicalError::bad_request(INVALID))
}

/// The CIDR checks of a secret ID with unlimited uses (OpenBao's wording for that case).
fn check_secret_id_cidrs_unlimited(
    entry: &SecretIdEntry,
    role: &RoleEntry,
    remote: &str,
) -> Result<(), LogicalError> {
    verify_subset(&entry.cidr_list, &role.secret_id_bound_cidrs).map_err(LogicalError::internal)?;
    if entry.cidr_list.is_empty() {
        return Ok(());
    }
    if remote.is_empty() {
        return Err(LogicalError::internal(
            "failed to get connection information",
        ));
    }
    match ip_belongs_to_blocks(remote, &entry.cidr_list) {
        Ok(true) => Ok(()),
        Ok(false) => Err(LogicalError::bad_request(format!(
            "source address {remote:?} unauthorized through CIDR restrictions on the secret ID"
        ))),
        Err(e) => Err(LogicalError::bad_request(e)),
    }
}

/// Spends one use: the last one deletes the secret ID and its accessor (the caller holds the
/// write lock).
async fn spend_use(
    st: &State,
    s: &dyn Storage,
    role: &RoleEntry,
    keys: &SecretIdKeys,
    mut entry: SecretIdEntry,
) -> Result<(), LogicalError> {
    if entry.secret_id_num_uses == 1 {
        delete_accessor(st, s, &entry.secret_id_accessor, &role.secret_id_prefix).await?;
        s.delete(&keys.key())
            .await
            .map_err(|e| LogicalError::internal(format!("failed to delete secret ID: {e}")))?;
        return Ok(());
    }
    entry.secret_id_num_uses -= 1;
    entry.last_updated_time = now_nanos();
    s.put_json(&keys.key(), &entry).await
}

/// Renews a token of this method: its role must still exist; the TTLs are the role's now.
pub(super) async fn renew(
    st: Arc<State>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let Some(mut auth) = req.auth.clone() else {
        return Err(LogicalError::internal("request has no auth"));
    };
    let name = auth
        .internal_data
        .get("role_name")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    if name.is_empty() {
        return Err(LogicalError::internal(
            "failed to fetch role_name during renewal",
        ));
    }
    let s = req.storage()?.clone();
    let _guard = st.role_lock(&name).read().await;
    let role = role_entry(s.as_ref(), &name).await.map_err(|e| {
        LogicalError::internal(format!(
            "failed to validate role {name:?} during renewal: {e}"
        ))
    })?;
    let Some(role) = role else {
        return Err(LogicalError::internal(format!(
            "role {name:?} does not exist during renewal"
        )));
    };
    role.token.apply_to_renewal(&mut auth);
    Ok(Some(Response {
        auth: Some(auth),
        ..Response::default()
    }))
}
