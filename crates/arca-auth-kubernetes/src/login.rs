//! `login`: a service account logs in with its JWT and a role. The JWT's claims are checked
//! against the role (and its signature against `pem_keys`, when set), the API server is asked
//! whether the token is still valid (TokenReview), and the token the login asks the core for
//! carries the account's alias and metadata. Also the alias look-ahead, the role resolution
//! and the renewal of the tokens logins issue.

use std::collections::HashMap;
use std::sync::Arc;

use arca_sdk::cidr::remote_addr_is_ok;
use arca_sdk::framework::{Field, FieldData, FieldType, PathDef};
use arca_sdk::glob::glob_match;
use arca_sdk::{Alias, Auth, JsonMap, LogicalError, Operation, Request, Response};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::config::{self, LoginConfig};
use crate::jwt::{self, Expected, JwtError};
use crate::kube_api;
use crate::role::{self, ALIAS_SOURCE_NAME, ALIAS_SOURCE_UID, RoleEntry};
use crate::selector;
use crate::service_account::ServiceAccount;
use crate::{State, shared_handler};

/// A login's failure as OpenBao answers it: the text as is, with the status given (the core
/// does not wrap a login's errors).
fn failure(status: u16, message: impl Into<String>) -> LogicalError {
    LogicalError::from_status(status, message)
}

/// The `login` path.
pub(crate) fn path(st: &Arc<State>) -> PathDef {
    PathDef::new("login$")
        .field(Field::new(
            "role",
            FieldType::String,
            "Name of the role against which the login is being attempted. This field is required",
        ))
        .field(Field::new(
            "jwt",
            FieldType::String,
            "A signed JWT for authenticating a service account. This field is required.",
        ))
        .op(Operation::Update, shared_handler(st, login))
        .op(
            Operation::AliasLookahead,
            shared_handler(st, alias_lookahead),
        )
        .op(Operation::ResolveRole, shared_handler(st, resolve_role))
        .help(
            "Authenticates Kubernetes service accounts with OpenBao.",
            "Authenticate Kubernetes service accounts.",
        )
}

/// A required string field: `missing <name>` when empty.
fn required(d: &FieldData, name: &str) -> Result<String, LogicalError> {
    let v = d.get_str(name)?;
    if v.is_empty() {
        return Err(LogicalError::bad_request(format!("missing {name}")));
    }
    Ok(v)
}

/// The role a login names, or OpenBao's refusal.
async fn role_of(req: &Request, name: &str) -> Result<RoleEntry, LogicalError> {
    role::load(req.storage()?.as_ref(), name)
        .await?
        .ok_or_else(|| LogicalError::bad_request(format!("invalid role name {name:?}")))
}

async fn login_config(st: &State, req: &Request) -> Result<LoginConfig, LogicalError> {
    config::load_for_login(st, req.storage()?.as_ref())
        .await
        .map_err(|e| failure(500, e))?
        .ok_or_else(|| failure(500, "could not load backend configuration"))
}

/// `POST login` with `role` and `jwt`.
async fn login(
    st: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let role_name = required(&d, "role")?;
    let jwt = Zeroizing::new(required(&d, "jwt")?);
    let role = role_of(&req, &role_name).await?;
    let cidrs = &role.token.token_bound_cidrs;
    if !cidrs.is_empty() {
        match req.connection.as_ref() {
            Some(conn) if remote_addr_is_ok(&conn.remote_addr, cidrs) => {}
            _ => return Err(LogicalError::PermissionDenied),
        }
    }
    let config = login_config(&st, &req).await?;
    let client = st.http_client(&config.config.ca_cert);
    let sa = match parse_and_validate(client.as_ref(), &jwt, &role, &config).await {
        Ok(sa) => sa,
        Err(Refusal::Signature(e)) => {
            tracing::debug!(error = %e, "kubernetes login unauthorized");
            return Err(LogicalError::PermissionDenied);
        }
        Err(Refusal::Error(e)) => return Err(e),
    };
    let audiences = if role.audience.is_empty() {
        sa.audience.clone()
    } else {
        vec![role.audience.clone()]
    };
    let c = &config.config;
    let reviewed = kube_api::token_review(
        client.as_ref(),
        &c.host,
        &c.token_reviewer_jwt,
        &jwt,
        &audiences,
    )
    .await
    .and_then(|r| check_review(&sa, &r));
    if let Err(e) = reviewed {
        tracing::debug!(error = %e, "kubernetes login unauthorized");
        return Err(LogicalError::PermissionDenied);
    }
    let alias_name = alias_name(&role, &sa).map_err(|e| failure(500, e))?;
    let uid = sa.uid().map_err(|e| failure(500, e))?.to_string();
    let metadata = HashMap::from([
        ("service_account_uid".to_string(), uid),
        ("service_account_name".to_string(), sa.name().to_string()),
        (
            "service_account_namespace".to_string(),
            sa.namespace().to_string(),
        ),
        (
            "service_account_secret_name".to_string(),
            sa.secret_name.clone(),
        ),
    ]);
    let mut auth_metadata = metadata.clone();
    auth_metadata.insert("role".into(), role_name.clone());
    let mut internal = JsonMap::new();
    internal.insert("role".into(), Value::from(role_name));
    let mut auth = Auth {
        alias: Some(Alias {
            name: alias_name,
            metadata,
        }),
        internal_data: internal,
        metadata: auth_metadata,
        display_name: format!("{}-{}", sa.namespace(), sa.name()),
        ..Auth::default()
    };
    role.token
        .populate_token_auth(&mut auth, &req)
        .map_err(|e| failure(500, format!("failed to populate auth information: {e}")))?;
    Ok(Some(Response {
        auth: Some(auth),
        ..Response::default()
    }))
}

/// The review must name the account the JWT names.
fn check_review(sa: &ServiceAccount, r: &kube_api::Reviewed) -> Result<(), String> {
    if sa.name() != r.name {
        return Err("JWT names did not match".into());
    }
    if sa.uid()? != r.uid {
        return Err("JWT UIDs did not match".into());
    }
    if sa.namespace() != r.namespace {
        return Err("JWT namepaces did not match".into());
    }
    Ok(())
}

/// The alias name the role's `alias_name_source` asks for.
fn alias_name(role: &RoleEntry, sa: &ServiceAccount) -> Result<String, String> {
    match role.alias_name_source.as_str() {
        ALIAS_SOURCE_UID | "" => sa.uid().map(str::to_string),
        ALIAS_SOURCE_NAME => {
            let (ns, name) = (sa.namespace(), sa.name());
            if ns.is_empty() || name.is_empty() {
                return Err("service account namespace and name must be set".into());
            }
            Ok(format!("{ns}/{name}"))
        }
        other => Err(format!("unknown alias_name_source {other:?}")),
    }
}

/// Why a JWT was not taken.
enum Refusal {
    /// Unparsable or badly signed: the login answers only `permission denied`.
    Signature(String),
    /// Any other refusal, answered as is.
    Error(LogicalError),
}

impl From<LogicalError> for Refusal {
    fn from(e: LogicalError) -> Refusal {
        Refusal::Error(e)
    }
}

/// OpenBao's `parseAndValidateJWT`: the claims (and signature, with `pem_keys`), then the
/// service account name and namespace against the role.
async fn parse_and_validate(
    client: Option<&reqwest::Client>,
    token: &str,
    role: &RoleEntry,
    config: &LoginConfig,
) -> Result<ServiceAccount, Refusal> {
    let c = &config.config;
    let mut expected = Expected::default();
    if !c.disable_iss_validation && !c.issuer.is_empty() {
        expected.issuer = c.issuer.clone();
    }
    if !role.audience.is_empty() {
        expected.audiences = vec![role.audience.clone()];
    }
    let now = chrono::Utc::now().timestamp();
    let claims = match jwt::validate(token, &config.public_keys, &expected, now) {
        Ok(c) => c,
        Err(e @ JwtError::Signature(_)) => return Err(Refusal::Signature(e.to_string())),
        Err(JwtError::Claims(m)) => return Err(failure(403, m).into()),
    };
    let sa = ServiceAccount::from_claims(&claims).map_err(|e| failure(500, e))?;
    let names = &role.bound_service_account_names;
    let any_name = names.len() == 1 && names[0] == "*";
    if !any_name && !names.iter().any(|n| glob_match(n, sa.name())) {
        return Err(failure(403, "service account name not authorized").into());
    }
    let namespaces = role
        .bound_service_account_namespaces
        .as_deref()
        .unwrap_or_default();
    let mut allowed = namespaces.first().is_some_and(|first| {
        first == "*" || namespaces.iter().any(|n| glob_match(n, sa.namespace()))
    });
    let mut why = None;
    let selector_text = &role.bound_service_account_namespace_selector;
    if !allowed && !selector_text.is_empty() {
        match namespace_selected(client, c, sa.namespace(), selector_text).await {
            Ok(yes) => allowed = yes,
            Err(e) => why = Some(e),
        }
    }
    if !allowed {
        let message = match why {
            Some(e) => format!("namespace not authorized err={e}"),
            None => "namespace not authorized".to_string(),
        };
        return Err(failure(403, message).into());
    }
    Ok(sa)
}

/// Whether the namespace's labels (read from the API server) match the role's selector.
async fn namespace_selected(
    client: Option<&reqwest::Client>,
    c: &config::KubeConfig,
    namespace: &str,
    selector_text: &str,
) -> Result<bool, String> {
    let selector = selector::parse(selector_text).map_err(|e| e.to_string())?;
    if let Some(bad) = selector.invalid_key() {
        return Err(bad);
    }
    let labels =
        kube_api::namespace_labels(client, &c.host, &c.token_reviewer_jwt, namespace).await?;
    Ok(selector.matches(&labels))
}

/// The alias look-ahead: the alias a login with this JWT would have, the JWT checked against
/// the role but not reviewed.
async fn alias_lookahead(
    st: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let role_name = required(&d, "role")?;
    let jwt = Zeroizing::new(required(&d, "jwt")?);
    let role = role_of(&req, &role_name).await?;
    let config = login_config(&st, &req).await?;
    let client = st.http_client(&config.config.ca_cert);
    let sa = match parse_and_validate(client.as_ref(), &jwt, &role, &config).await {
        Ok(sa) => sa,
        Err(Refusal::Signature(e)) => return Err(failure(403, e)),
        Err(Refusal::Error(e)) => return Err(e),
    };
    let name = alias_name(&role, &sa).map_err(|e| failure(500, e))?;
    Ok(Some(Response::alias_lookahead(name)))
}

/// The role a login names (`{"role": <name>}`) when it exists.
async fn resolve_role(
    _st: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let role_name = required(&d, "role")?;
    role_of(&req, &role_name).await?;
    let mut data = JsonMap::new();
    data.insert("role".into(), Value::from(role_name));
    Ok(Some(Response::with_data(data)))
}

/// Renews a login's token: the role must still exist; the answer carries its current TTL,
/// max TTL and period.
pub(crate) async fn renew(req: Request, _d: FieldData) -> Result<Option<Response>, LogicalError> {
    let Some(mut auth) = req.auth.clone() else {
        return Err(LogicalError::internal("request has no auth"));
    };
    let role_name = auth
        .internal_data
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if role_name.is_empty() {
        return Err(LogicalError::internal(
            "failed to fetch role_name during renewal",
        ));
    }
    let role = role::load(req.storage()?.as_ref(), &role_name)
        .await
        .map_err(|e| {
            LogicalError::internal(format!(
                "failed to validate role {role_name} during renewal:{e}"
            ))
        })?
        .ok_or_else(|| {
            LogicalError::internal(format!("role {role_name} does not exist during renewal"))
        })?;
    role.token.apply_to_renewal(&mut auth);
    Ok(Some(Response {
        auth: Some(auth),
        ..Response::default()
    }))
}
