//! `login/<name>`: the login itself, the alias look-ahead the core asks for before it (user
//! lockout), and the renewal of the tokens logins issue.

use std::collections::{BTreeSet, HashMap};

use arca_sdk::cidr::remote_addr_is_ok;
use arca_sdk::framework::FieldData;
use arca_sdk::{Alias, Auth, LogicalError, Request, Response};
use zeroize::Zeroizing;

use super::entry::{self, UserEntry};
use super::password;

/// The one refusal of a bad login, whatever was wrong.
const INVALID: &str = "invalid username or password";

/// An internal failure of a login as OpenBao answers it: a 500 with the text as is (the core
/// does not wrap a login's errors as it wraps other requests').
fn login_failure(message: impl Into<String>) -> LogicalError {
    LogicalError::from_status(500, message)
}

/// The refusal of a login naming no user. OpenBao answers it as an error response that is not
/// an invalid-credentials error, so that only existing users' failures count toward lockout;
/// this keeps that (a 400 with the same text as a wrong password, not counted).
fn unknown_user_refusal() -> LogicalError {
    LogicalError::bad_request(INVALID)
}

/// `POST login/<name>` with `password`.
pub(super) async fn login(req: Request, d: FieldData) -> Result<Option<Response>, LogicalError> {
    let name = entry::username(&d)?;
    let password = Zeroizing::new(d.get_str("password")?);
    if password.is_empty() {
        // OpenBao answers this with a 500; a missing field is the client's mistake: 400.
        return Err(LogicalError::bad_request("missing password"));
    }
    // As OpenBao: a user that cannot be read is checked like an unknown one.
    let user = entry::load(req.storage()?.as_ref(), &name)
        .await
        .ok()
        .flatten();
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let matched = password::verify(password, hash).await?;
    let Some(user) = user else {
        return Err(unknown_user_refusal());
    };
    if !matched {
        if user.password_hash.is_empty() {
            // A record without a hash: OpenBao refuses it without counting a failure.
            return Err(LogicalError::bad_request(INVALID));
        }
        return Err(LogicalError::invalid_credentials(INVALID));
    }
    check_bound_cidrs(&user, &req)?;
    let auth = login_auth(&name, &user, &req)?;
    Ok(Some(Response {
        auth: Some(auth),
        ..Response::default()
    }))
}

/// The user's `token_bound_cidrs` must hold the client's address (403 otherwise, or when the
/// address is unknown).
fn check_bound_cidrs(user: &UserEntry, req: &Request) -> Result<(), LogicalError> {
    let cidrs = &user.token.token_bound_cidrs;
    if cidrs.is_empty() {
        return Ok(());
    }
    match req.connection.as_ref() {
        Some(conn) if remote_addr_is_ok(&conn.remote_addr, cidrs) => Ok(()),
        _ => Err(LogicalError::PermissionDenied),
    }
}

fn alias(name: &str) -> Option<Alias> {
    Some(Alias {
        name: name.to_string(),
        ..Alias::default()
    })
}

/// The token a successful login asks the core for.
fn login_auth(name: &str, user: &UserEntry, req: &Request) -> Result<Auth, LogicalError> {
    let mut auth = Auth {
        metadata: HashMap::from([("username".to_string(), name.to_string())]),
        display_name: name.to_string(),
        alias: alias(name),
        ..Auth::default()
    };
    user.token
        .populate_token_auth(&mut auth, req)
        .map_err(|e| login_failure(format!("failed to populate auth information: {e}")))?;
    Ok(auth)
}

/// The alias look-ahead of `login/<name>`: the alias alone, no credential checked.
pub(super) async fn alias_lookahead(
    _req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = entry::username(&d)?;
    if name.is_empty() {
        return Err(LogicalError::bad_request("missing username"));
    }
    Ok(Some(Response::alias_lookahead(name)))
}

/// Renews a login's token: the user must still exist (else no renewal: `Ok(None)`, as
/// OpenBao), with the same policies; the answer carries the user's current TTL, max TTL and
/// period.
pub(super) async fn renew(req: Request, _d: FieldData) -> Result<Option<Response>, LogicalError> {
    let Some(mut auth) = req.auth.clone() else {
        return Err(LogicalError::internal("request has no auth"));
    };
    let name = auth
        .metadata
        .get("username")
        .map(|n| n.to_lowercase())
        .unwrap_or_default();
    let Some(user) = entry::load(req.storage()?.as_ref(), &name).await? else {
        return Ok(None);
    };
    let held = if auth.token_policies.is_empty() {
        &auth.policies
    } else {
        &auth.token_policies
    };
    if !equivalent_policies(&user.token.token_policies, held) {
        return Err(LogicalError::internal(
            "policies have changed, not renewing",
        ));
    }
    user.token.apply_to_renewal(&mut auth);
    Ok(Some(Response {
        auth: Some(auth),
        ..Response::default()
    }))
}

/// OpenBao's `policyutil.EquivalentPolicies`: the same names, `default`, order and
/// duplicates aside.
pub(super) fn equivalent_policies<A: AsRef<str>, B: AsRef<str>>(a: &[A], b: &[B]) -> bool {
    fn names<S: AsRef<str>>(list: &[S]) -> BTreeSet<&str> {
        list.iter()
            .map(AsRef::as_ref)
            .filter(|p| *p != "default")
            .collect()
    }
    names(a) == names(b)
}
