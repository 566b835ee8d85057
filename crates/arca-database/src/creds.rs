//! `creds/<role>` (a new database user under a lease of type `creds`, dropped when the lease
//! ends), `static-creds/<role>`, `rotate-role/<role>`, and the lease's renew and revoke.

use std::sync::Arc;
use std::time::Duration;

use arca_sdk::framework::{Field, FieldType, PathDef, SecretType, generic_name_regex, handler};
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response};
use chrono::Utc;
use serde_json::{Value, json};

use crate::credentials;
use crate::plugin::{
    ChangeExpiration, CredentialType, DeleteUserRequest, NewUserRequest, UpdateUserRequest,
    UsernameMetadata,
};
use crate::roles::{role, static_role};
use crate::rotation;
use crate::state::{State, lease_ttl};

/// The secret type of dynamic credentials.
pub const SECRET_CREDS: &str = "creds";
/// The grace OpenBao adds to a user's database expiry beyond its lease.
const EXPIRY_GRACE: Duration = Duration::from_secs(5);

fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or_else(|_| chrono::Duration::zero())
}

/// A plugin error on a request path: the plugin's text, as OpenBao answers it (a 500).
fn plugin_error(e: crate::plugin::DbError) -> LogicalError {
    LogicalError::internal(e.to_string())
}

/// `creds/<role>`.
pub fn creds_path(state: Arc<State>, issue: SecretType) -> PathDef {
    PathDef::new(format!("creds/{}", generic_name_regex("name")))
        .field(Field::new("name", FieldType::String, "Name of the role."))
        .op(
            Operation::Read,
            handler(move |req, d| {
                let state = state.clone();
                let issue = issue.clone();
                async move {
                    let name = d.get_str("name")?;
                    create_creds(&state, &issue, &req, &name).await
                }
            }),
        )
}

async fn create_creds(
    state: &State,
    issue: &SecretType,
    req: &Request,
    name: &str,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?.clone();
    let Some(r) = role(storage.as_ref(), name).await? else {
        return Err(LogicalError::bad_request(format!("unknown role: {name}")));
    };
    let config = State::config(storage.as_ref(), &r.db_name)
        .await?
        .ok_or_else(|| crate::state::missing_config(&r.db_name))?;
    if !config.allows(name) {
        return Err(LogicalError::invalid_input(format!(
            "{name:?} is not an allowed role"
        )));
    }
    let t = r.credential_type();
    if !config.supports(t) {
        return Err(LogicalError::bad_request(format!(
            "unsupported credential_type: {:?}",
            t.as_str()
        )));
    }
    let ttl = lease_ttl(
        state.system.as_ref(),
        Duration::ZERO,
        r.default_ttl(),
        r.max_ttl(),
        None,
    );
    let inst = state.instance(&r.db_name, &config).await?;
    let expiration = Utc::now() + chrono_of(ttl) + chrono_of(EXPIRY_GRACE);
    let meta = UsernameMetadata {
        display_name: req.display_name.clone(),
        role_name: name.to_string(),
    };
    let credential_config = r.credential_config.clone().unwrap_or_default();
    let mut data = JsonMap::new();
    let mut new_user = NewUserRequest {
        username_config: meta.clone(),
        statements: r.statements.creation.clone(),
        rollback_statements: r.statements.rollback.clone(),
        credential_type: t,
        password: zeroize::Zeroizing::new(String::new()),
        public_key: Vec::new(),
        subject: String::new(),
        expiration,
    };
    match t {
        CredentialType::Password => {
            let mut policy = r.password_policy();
            if policy.is_empty() {
                policy = config.password_policy.clone();
            }
            new_user.password = state
                .generate_password(&policy)
                .await
                .map_err(|e| LogicalError::internal(format!("failed to generate password: {e}")))?;
            data.insert("password".into(), json!(new_user.password.as_str()));
        }
        CredentialType::RsaPrivateKey => {
            let key = credentials::rsa_key(&credential_config)
                .await
                .map_err(|e| {
                    LogicalError::internal(format!("failed to generate RSA key pair: {e}"))
                })?;
            new_user.public_key = key.public_pem;
            data.insert("rsa_private_key".into(), json!(key.private_pem.as_str()));
        }
        CredentialType::ClientCertificate => {
            let cert = credentials::client_certificate(&credential_config, expiration, &meta)
                .await
                .map_err(|e| {
                    LogicalError::internal(format!("failed to generate client certificate: {e}"))
                })?;
            new_user.subject = cert.subject.clone();
            data.insert("client_certificate".into(), json!(cert.certificate));
            data.insert("private_key".into(), json!(cert.private_key.as_str()));
            data.insert("private_key_type".into(), json!(cert.private_key_type));
        }
    }
    let username = inst.db.new_user(new_user).await.map_err(plugin_error)?;
    data.insert("username".into(), json!(username));
    let mut internal = JsonMap::new();
    internal.insert("username".into(), json!(username));
    internal.insert("role".into(), json!(name));
    internal.insert("db_name".into(), json!(r.db_name));
    internal.insert(
        "revocation_statements".into(),
        json!(r.statements.revocation),
    );
    let mut resp = issue.response(data, internal);
    if let Some(secret) = resp.secret.as_mut() {
        secret.lease.ttl = r.default_ttl();
        secret.lease.max_ttl = r.max_ttl();
    }
    Ok(Some(resp))
}

fn internal_str(req: &Request, key: &str) -> Option<String> {
    req.secret
        .as_ref()
        .and_then(|s| s.internal_data.get(key))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The `creds` secret type: renewal moves the user's expiry, revocation drops the user.
pub fn creds_type(state: Arc<State>) -> SecretType {
    let renew_state = state.clone();
    SecretType::new(SECRET_CREDS)
        .renew(handler(move |req, _d| {
            let state = renew_state.clone();
            async move {
                let username = internal_str(&req, "username").ok_or_else(|| {
                    LogicalError::internal("secret is missing \"username\" field in internal data")
                })?;
                let role_name = internal_str(&req, "role").ok_or_else(|| {
                    LogicalError::internal("secret is missing \"role\" field in internal data")
                })?;
                let storage = req.storage()?.clone();
                let r = role(storage.as_ref(), &role_name).await?.ok_or_else(|| {
                    LogicalError::internal(format!(
                        "error during renew: could not find role with name {role_name:?}"
                    ))
                })?;
                let (inst, _) = state.connection(storage.as_ref(), &r.db_name).await?;
                let mut secret = req.secret.clone().unwrap_or_default();
                let issued = secret
                    .lease
                    .issue_time
                    .as_deref()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc));
                let ttl = lease_ttl(
                    state.system.as_ref(),
                    secret.lease.increment,
                    r.default_ttl(),
                    r.max_ttl(),
                    issued,
                );
                if !ttl.is_zero() {
                    let new_expiration = Utc::now() + chrono_of(ttl) + chrono_of(EXPIRY_GRACE);
                    inst.db
                        .update_user(UpdateUserRequest {
                            username,
                            credential_type: CredentialType::Password,
                            password: None,
                            public_key: None,
                            expiration: Some(ChangeExpiration {
                                new_expiration,
                                statements: r.statements.renewal.clone(),
                            }),
                        })
                        .await
                        .map_err(plugin_error)?;
                }
                secret.lease.ttl = r.default_ttl();
                secret.lease.max_ttl = r.max_ttl();
                Ok(Some(Response {
                    secret: Some(secret),
                    ..Response::default()
                }))
            }
        }))
        .revoke(handler(move |req, _d| {
            let state = state.clone();
            async move {
                let username = internal_str(&req, "username").ok_or_else(|| {
                    LogicalError::internal("secret is missing username internal data")
                })?;
                let role_name = internal_str(&req, "role")
                    .ok_or_else(|| LogicalError::internal("no role name was provided"))?;
                let storage = req.storage()?.clone();
                // The role's current statements if it still exists, else those the lease
                // recorded when it was made.
                let (db_name, statements) = match role(storage.as_ref(), &role_name).await? {
                    Some(r) => (r.db_name.clone(), r.statements.revocation.clone()),
                    None => {
                        let db = internal_str(&req, "db_name").ok_or_else(|| {
                            LogicalError::internal(format!(
                                "error during revoke: could not find role with name {role_name:?} or embedded revocation db name data"
                            ))
                        })?;
                        let stmts = req
                            .secret
                            .as_ref()
                            .and_then(|s| s.internal_data.get("revocation_statements"))
                            .and_then(Value::as_array)
                            .map(|a| {
                                a.iter()
                                    .filter_map(Value::as_str)
                                    .map(str::to_string)
                                    .collect()
                            })
                            .unwrap_or_default();
                        (db, stmts)
                    }
                };
                let (inst, _) = state.connection(storage.as_ref(), &db_name).await?;
                inst.db
                    .delete_user(DeleteUserRequest {
                        username,
                        statements,
                    })
                    .await
                    .map_err(plugin_error)?;
                Ok(None)
            }
        }))
}

/// `static-creds/<role>`.
pub fn static_creds_path() -> PathDef {
    PathDef::new(format!("static-creds/{}", generic_name_regex("name")))
        .field(Field::new(
            "name",
            FieldType::String,
            "Name of the static role.",
        ))
        .op(
            Operation::Read,
            handler(|req, d| async move {
                let name = d.get_str("name")?;
                let storage = req.storage()?.clone();
                let Some(r) = static_role(storage.as_ref(), &name).await? else {
                    return Err(LogicalError::bad_request(format!("unknown role: {name}")));
                };
                let config = State::config(storage.as_ref(), &r.db_name)
                    .await?
                    .ok_or_else(|| crate::state::missing_config(&r.db_name))?;
                if !config.allows(&name) {
                    return Err(LogicalError::invalid_input(format!(
                        "{name:?} is not an allowed role"
                    )));
                }
                let Some(a) = &r.static_account else {
                    return Err(LogicalError::internal("static role has no account"));
                };
                let mut data = JsonMap::new();
                data.insert("username".into(), json!(a.username));
                data.insert("ttl".into(), json!(a.ttl_secs()));
                crate::roles::insert_rotation(&mut data, a);
                data.insert(
                    "last_vault_rotation".into(),
                    json!(a.last_vault_rotation.map(arca_sdk::go_time::go_time)),
                );
                match r.credential_type() {
                    CredentialType::RsaPrivateKey => {
                        data.insert("rsa_private_key".into(), json!(a.private_key));
                    }
                    _ => {
                        data.insert("password".into(), json!(a.password));
                    }
                }
                Ok(Some(Response::with_data(data)))
            }),
        )
}

/// `rotate-role/<role>`: rotates a static role's password now.
pub fn rotate_role_path(state: Arc<State>) -> PathDef {
    PathDef::new(format!("rotate-role/{}", generic_name_regex("name")))
        .field(Field::new(
            "name",
            FieldType::String,
            "Name of the static role",
        ))
        .op(
            Operation::Update,
            handler(move |req, d| {
                let state = state.clone();
                async move {
                    let name = d.get_str("name")?;
                    if name.is_empty() {
                        return Err(LogicalError::bad_request("empty role name attribute given"));
                    }
                    let lock = state.role_lock(&name);
                    let _held = lock.lock().await;
                    let storage = req.storage()?.clone();
                    let Some(mut r) = static_role(storage.as_ref(), &name).await? else {
                        return Err(LogicalError::bad_request(
                            "no static role found for role name",
                        ));
                    };
                    state.schedule.lock().remove(&name);
                    let result =
                        rotation::set_static_account(&state, storage.as_ref(), &name, &mut r).await;
                    match result {
                        Ok(()) => {
                            if let Some(a) = &r.static_account {
                                state.schedule.lock().set(&name, a.next_rotation());
                            }
                            state.wake.notify_one();
                            Ok(None)
                        }
                        Err(e) => {
                            rotation::retry_later(&state, &name);
                            state.wake.notify_one();
                            Err(LogicalError::internal(format!(
                                "unable to finish rotating credentials; retries will continue in the background but it is also safe to retry manually: {}",
                                e
                            )))
                        }
                    }
                }
            }),
        )
}
