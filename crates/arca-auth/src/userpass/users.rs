//! The management endpoints: `users/` (list), `users/<name>` (create, read, update, delete),
//! `users/<name>/password` and `users/<name>/policies`.
//!
//! A write checks everything first (in OpenBao's order, so the same request gets the same
//! error), hashes a new password without holding any lock, then re-reads the user under the
//! mount's write lock, applies the same changes and stores the result.

use std::sync::Arc;

use arca_sdk::framework::FieldData;
use arca_sdk::token_util::{upgrade_duration, upgrade_strings};
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response, Storage};
use serde_json::Value;
use zeroize::Zeroizing;

use super::Shared;
use super::entry::{self, USER_PREFIX, UserEntry};
use super::password::{self, NewPassword};

/// The refusal to set the password or policies of an absent user: OpenBao's text, which it
/// answers with a 500, as a 400.
fn no_such_user() -> LogicalError {
    LogicalError::invalid_input("username does not exist")
}

fn storage_of(req: &Request) -> Result<Arc<dyn Storage>, LogicalError> {
    req.storage().map(Arc::clone)
}

/// Existence check of `users/<name>`: create when absent, update when present.
pub(super) async fn exists(req: Request, d: FieldData) -> Result<bool, LogicalError> {
    let name = entry::username(&d)?;
    Ok(entry::load(req.storage()?.as_ref(), &name).await?.is_some())
}

/// `LIST users/`: the user names, after `after`, at most `limit`; a bare 404 when none.
pub(super) async fn list(req: Request, d: FieldData) -> Result<Option<Response>, LogicalError> {
    let after = d.get_str("after")?;
    let limit = usize::try_from(d.get_i64("limit")?).unwrap_or(0);
    let keys = req.storage()?.list_page(USER_PREFIX, &after, limit).await?;
    if keys.is_empty() {
        return Err(LogicalError::empty_not_found());
    }
    let mut data = JsonMap::new();
    data.insert("keys".into(), Value::from(keys));
    Ok(Some(Response::with_data(data)))
}

/// `GET users/<name>`: the token settings, plus the older fields the operator still uses.
pub(super) async fn read(req: Request, d: FieldData) -> Result<Option<Response>, LogicalError> {
    let name = entry::username(&d)?;
    let Some(user) = entry::load(req.storage()?.as_ref(), &name).await? else {
        return Err(LogicalError::empty_not_found());
    };
    Ok(Some(Response::with_data(read_data(&user))))
}

fn read_data(user: &UserEntry) -> JsonMap {
    let mut data = JsonMap::new();
    user.token.populate_token_data(&mut data);
    if user.ttl > 0 {
        data.insert("ttl".into(), Value::from(user.ttl));
    }
    if user.max_ttl > 0 {
        data.insert("max_ttl".into(), Value::from(user.max_ttl));
    }
    if !user.policies.is_empty() {
        data.insert(
            "policies".into(),
            Value::from(user.token.token_policies.clone()),
        );
    }
    if !user.bound_cidrs.is_empty() {
        data.insert("bound_cidrs".into(), Value::from(user.bound_cidrs.clone()));
    }
    data
}

/// `POST users/<name>` (create or update).
pub(super) async fn write(
    shared: Arc<Shared>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = entry::username(&d)?;
    let storage = storage_of(&req)?;
    let creating = req.operation == Operation::Create;
    let current = entry::load(storage.as_ref(), &name).await?;
    let (_, new_password) = apply_write(current, creating, &d)?;
    let new_hash = match new_password {
        Some(p) => Some(password::hash_of(p).await?),
        None => None,
    };
    let _guard = shared.write_lock.lock().await;
    let current = entry::load(storage.as_ref(), &name).await?;
    let (mut user, _) = apply_write(current, creating, &d)?;
    if let Some(h) = new_hash {
        user.password_hash = h;
    }
    entry::store(storage.as_ref(), &name, &user).await?;
    Ok(None)
}

/// The user a write makes of `current` and the password it sets, with OpenBao's checks in
/// its order: a creation must give a password; then the token fields, the password, and the
/// older field names.
fn apply_write(
    current: Option<UserEntry>,
    creating: bool,
    d: &FieldData,
) -> Result<(UserEntry, Option<NewPassword>), LogicalError> {
    let password = Zeroizing::new(d.get_str("password")?);
    let password_hash = Zeroizing::new(d.get_str("password_hash")?);
    if creating {
        password::require_one(&password, &password_hash)?;
    }
    let mut user = current.unwrap_or_default();
    user.token.parse_token_fields(d)?;
    let new_password = if password.is_empty() && password_hash.is_empty() {
        None
    } else {
        Some(password::choose(password, password_hash)?)
    };
    upgrade_legacy_fields(&mut user, d)?;
    Ok((user, new_password))
}

/// OpenBao's `UpgradeValue` for `policies`, `ttl`, `max_ttl` and `bound_cidrs`: the
/// `token_*` name wins; given alone, the older name sets both.
fn upgrade_legacy_fields(user: &mut UserEntry, d: &FieldData) -> Result<(), LogicalError> {
    let t = &mut user.token;
    upgrade_strings(
        d,
        "policies",
        "token_policies",
        &mut user.policies,
        &mut t.token_policies,
    )?;
    if d.is_set("policies") && !d.is_set("token_policies") && has_root(&t.token_policies) {
        // OpenBao's policy parsing keeps `root` alone when it is among the names.
        user.policies = vec!["root".into()];
        t.token_policies = user.policies.clone();
    }
    upgrade_duration(d, "ttl", "token_ttl", &mut user.ttl, &mut t.token_ttl)?;
    upgrade_duration(
        d,
        "max_ttl",
        "token_max_ttl",
        &mut user.max_ttl,
        &mut t.token_max_ttl,
    )?;
    upgrade_strings(
        d,
        "bound_cidrs",
        "token_bound_cidrs",
        &mut user.bound_cidrs,
        &mut t.token_bound_cidrs,
    )
}

fn has_root(policies: &[String]) -> bool {
    policies.iter().any(|p| p == "root")
}

/// `DELETE users/<name>`: absent is fine.
pub(super) async fn delete(
    shared: Arc<Shared>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = entry::username(&d)?;
    let storage = storage_of(&req)?;
    let _guard = shared.write_lock.lock().await;
    entry::delete(storage.as_ref(), &name).await?;
    Ok(None)
}

/// `POST users/<name>/password`: a new password or password hash for an existing user.
pub(super) async fn update_password(
    shared: Arc<Shared>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = entry::username(&d)?;
    let storage = storage_of(&req)?;
    if entry::load(storage.as_ref(), &name).await?.is_none() {
        return Err(no_such_user());
    }
    let new = password::choose(
        Zeroizing::new(d.get_str("password")?),
        Zeroizing::new(d.get_str("password_hash")?),
    )?;
    let hash = password::hash_of(new).await?;
    let _guard = shared.write_lock.lock().await;
    let Some(mut user) = entry::load(storage.as_ref(), &name).await? else {
        return Err(no_such_user());
    };
    user.password_hash = hash;
    entry::store(storage.as_ref(), &name, &user).await?;
    Ok(None)
}

/// `POST users/<name>/policies`: `token_policies` wins over the older `policies`; the older
/// name is kept only when the request gave it.
pub(super) async fn update_policies(
    shared: Arc<Shared>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = entry::username(&d)?;
    let storage = storage_of(&req)?;
    let _guard = shared.write_lock.lock().await;
    let Some(mut user) = entry::load(storage.as_ref(), &name).await? else {
        return Err(no_such_user());
    };
    let legacy_given = d.is_set("policies");
    if d.is_set("token_policies") {
        user.token.token_policies = sanitize_policies(&d.get_strings("token_policies")?);
        user.policies = if legacy_given {
            user.token.token_policies.clone()
        } else {
            Vec::new()
        };
    } else if legacy_given {
        user.policies = sanitize_policies(&d.get_strings("policies")?);
        user.token.token_policies = user.policies.clone();
    }
    entry::store(storage.as_ref(), &name, &user).await?;
    Ok(None)
}

/// OpenBao's `policyutil.ParsePolicies` of a list: trimmed, lower-cased, empties and
/// duplicates dropped, sorted; `root` among them leaves `root` alone.
fn sanitize_policies(list: &[String]) -> Vec<String> {
    let mut out: Vec<String> = list
        .iter()
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    if has_root(&out) {
        return vec!["root".into()];
    }
    out.sort();
    out.dedup();
    out
}
