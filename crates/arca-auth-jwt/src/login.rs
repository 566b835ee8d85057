//! `login` (a JWT against a `jwt` role), the identity a verified set of claims makes (alias,
//! alias metadata, group aliases) for both the JWT login and the OIDC callback, and the
//! renewal of the tokens they issue.

use std::collections::HashMap;
use std::sync::Arc;

use arca_sdk::cidr::remote_addr_is_ok;
use arca_sdk::framework::FieldData;
use arca_sdk::{Alias, Auth, JsonMap, LogicalError, Request, Response};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::Shared;
use crate::claims::{extract_metadata, get_claim, groups, validate_bound_claims};
use crate::config::JwtConfig;
use crate::policy_templates;
use crate::role::{self, JwtRole};
use crate::token::{self, Expected};

fn bad(msg: impl Into<String>) -> LogicalError {
    LogicalError::bad_request(msg)
}

/// The role a login names (or the config's `default_role`), which must exist.
pub(crate) async fn role_of_login(
    shared: &Shared,
    req: &Request,
    config: &JwtConfig,
    d: &FieldData,
) -> Result<(String, Arc<JwtRole>), LogicalError> {
    let mut name = d.get_str("role")?.to_lowercase();
    if name.is_empty() {
        name = config.default_role.clone();
    }
    if name.is_empty() {
        return Err(bad("missing role"));
    }
    let Some(r) = shared.cache.role(req.storage()?.as_ref(), &name).await? else {
        return Err(bad(format!("role \"{name}\" could not be found")));
    };
    Ok((name, r))
}

/// The role's `token_bound_cidrs` must hold the client's address.
pub(crate) fn check_cidrs(role: &JwtRole, req: &Request) -> Result<(), LogicalError> {
    let cidrs = &role.token.token_bound_cidrs;
    if cidrs.is_empty() {
        return Ok(());
    }
    match req.connection.as_ref() {
        Some(c) if remote_addr_is_ok(&c.remote_addr, cidrs) => Ok(()),
        _ => Err(LogicalError::PermissionDenied),
    }
}

/// The role a login resolves to (for role-based quotas): the named role or the default
/// one, which must exist; nothing else is checked.
pub(crate) async fn resolve_role(
    shared: Arc<Shared>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let Some(config) = shared.cache.config(req.storage()?.as_ref()).await? else {
        return Err(bad("could not load configuration"));
    };
    let (name, _) = role_of_login(&shared, &req, &config, &d).await?;
    let mut data = JsonMap::new();
    data.insert("role".into(), Value::from(name));
    Ok(Some(Response::with_data(data)))
}

/// `POST login` with `role` and `jwt`.
pub(crate) async fn login(
    shared: Arc<Shared>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let Some(config) = shared.cache.config(req.storage()?.as_ref()).await? else {
        return Err(bad("could not load configuration"));
    };
    let (role_name, role) = role_of_login(&shared, &req, &config, &d).await?;
    if role.role_type == "oidc" {
        return Err(bad("role with oidc role_type is not allowed"));
    }
    let jwt = Zeroizing::new(d.get_str("jwt")?);
    if jwt.is_empty() {
        return Err(bad("missing token"));
    }
    check_cidrs(&role, &req)?;
    let expected = Expected {
        issuer: &config.bound_issuer,
        subject: &role.bound_subject,
        audiences: role.audiences(),
        not_before_leeway: role.not_before_leeway,
        expiration_leeway: role.expiration_leeway,
        clock_skew_leeway: role.clock_skew_leeway,
    };
    let claims = token::validate(&shared.keys, &config, &jwt, &expected)
        .await
        .map_err(|e| bad(format!("error validating token: {e}")))?;
    let aud = token::audience(&claims).unwrap_or_default();
    if !aud.is_empty() && role.audiences().is_empty() {
        return Err(bad(
            "audience claim found in JWT but no audiences bound to the role",
        ));
    }
    let (alias, group_aliases) = identity(&claims, &role_name, &role).map_err(bad)?;
    validate_bound_claims(
        role.glob_claims(),
        role.bound_claims.as_ref().unwrap_or(&JsonMap::new()),
        &claims,
    )
    .map_err(|e| bad(format!("error validating claims: {e}")))?;
    let mut auth = make_auth(
        &req,
        &role_name,
        &role,
        alias,
        group_aliases,
        HashMap::new(),
    )?;
    if role.token_policies_template_claims {
        policy_templates::apply(&mut auth, &claims)?;
    }
    Ok(Some(Response {
        auth: Some(auth),
        ..Response::default()
    }))
}

/// The alias (named by `user_claim`, metadata from `claim_mappings` plus `role`) and the
/// group aliases (from `groups_claim`) of verified `claims`.
pub(crate) fn identity(
    claims: &JsonMap,
    role_name: &str,
    role: &JwtRole,
) -> Result<(Alias, Vec<Alias>), String> {
    let user = if role.user_claim_json_pointer {
        get_claim(claims, &role.user_claim)
    } else {
        claims
            .get(&role.user_claim)
            .filter(|v| !v.is_null())
            .cloned()
    };
    let Some(user) = user else {
        return Err(format!("claim \"{}\" not found in token", role.user_claim));
    };
    let Value::String(user) = user else {
        return Err(format!(
            "claim \"{}\" could not be converted to string",
            role.user_claim
        ));
    };
    let empty = HashMap::new();
    let mut metadata = extract_metadata(claims, role.claim_mappings.as_ref().unwrap_or(&empty))?;
    metadata.insert("role".into(), role_name.to_string());
    let alias = Alias {
        name: user,
        metadata,
    };
    if role.groups_claim.is_empty() {
        return Ok((alias, Vec::new()));
    }
    let group_aliases = groups(claims, &role.groups_claim)?
        .into_iter()
        .map(|name| Alias {
            name,
            metadata: HashMap::new(),
        })
        .collect();
    Ok((alias, group_aliases))
}

/// The token a successful login asks the core for.
pub(crate) fn make_auth(
    req: &Request,
    role_name: &str,
    role: &JwtRole,
    alias: Alias,
    group_aliases: Vec<Alias>,
    extra_metadata: HashMap<String, String>,
) -> Result<Auth, LogicalError> {
    let mut metadata = alias.metadata.clone();
    metadata.extend(extra_metadata);
    let mut internal = JsonMap::new();
    internal.insert("role".into(), Value::from(role_name));
    internal.insert("role_type".into(), Value::from("native"));
    let mut auth = Auth {
        display_name: alias.name.clone(),
        alias: Some(alias),
        group_aliases,
        internal_data: internal,
        metadata,
        ..Auth::default()
    };
    role.token
        .populate_token_auth(&mut auth, req)
        .map_err(|e| LogicalError::internal(format!("failed to populate auth information: {e}")))?;
    Ok(auth)
}

/// Renews a token of this method: its role must still exist; the answer carries the role's
/// current TTL, max TTL and period.
pub(crate) async fn renew(req: Request, _d: FieldData) -> Result<Option<Response>, LogicalError> {
    let Some(mut auth) = req.auth.clone() else {
        return Err(LogicalError::internal("request has no auth"));
    };
    let name = auth
        .internal_data
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if name.is_empty() {
        return Err(LogicalError::internal(
            "failed to fetch role_name during renewal",
        ));
    }
    let Some(role) = role::load(req.storage()?.as_ref(), &name).await? else {
        return Err(LogicalError::internal(format!(
            "role {name} does not exist during renewal"
        )));
    };
    role.token.apply_to_renewal(&mut auth);
    Ok(Some(Response {
        auth: Some(auth),
        ..Response::default()
    }))
}
