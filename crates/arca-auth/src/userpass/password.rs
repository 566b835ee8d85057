//! Every bcrypt operation of the method, each run with `spawn_blocking` (a cost-10 hash takes
//! tens of milliseconds of CPU, which must not stall the async runtime), at most one per core
//! at a time.
//!
//! Length rule: Go's bcrypt, which OpenBao uses, refuses to hash more than 72 bytes and hashes
//! a password of up to 72 bytes in full. The `bcrypt` crate's non-truncating calls refuse 72
//! bytes already (they count the terminating NUL), so a 72-byte password OpenBao accepts would
//! be refused; this module checks the 72-byte limit itself and then calls the plain
//! `hash`/`verify`, which truncate nothing at that length. The hashes are the same as Go's.

use std::sync::OnceLock;

use arca_sdk::LogicalError;

use super::eksblowfish;
use zeroize::Zeroizing;

/// The cost of every hash this method makes: Go's `bcrypt.DefaultCost`.
pub(super) const BCRYPT_COST: u32 = 10;

/// The longest password bcrypt takes whole.
const MAX_PASSWORD_BYTES: usize = 72;

/// The lowest cost a `password_hash` may have (`htpasswd -B`'s default).
const IMPORT_MIN_COST: u32 = 5;

/// The highest cost a `password_hash` may have: a costlier hash makes every login a burden.
const IMPORT_MAX_COST: u32 = 12;

/// The costs Go's bcrypt can parse at all.
const BCRYPT_COSTS: std::ops::RangeInclusive<u32> = 4..=31;

/// What a write sets the password to.
pub(super) enum NewPassword {
    /// A password to hash.
    Plain(Zeroizing<String>),
    /// A bcrypt hash given by the operator, already checked.
    Hash(Zeroizing<String>),
}

/// Refuses a write that gives both or neither of `password` and `password_hash` (400, OpenBao's
/// texts).
pub(super) fn require_one(password: &str, password_hash: &str) -> Result<(), LogicalError> {
    match (password.is_empty(), password_hash.is_empty()) {
        (false, false) => Err(LogicalError::bad_request(
            "only one of password or password_hash may be provided",
        )),
        (true, true) => Err(LogicalError::bad_request(
            "must provide either password or password_hash",
        )),
        _ => Ok(()),
    }
}

/// Picks the password a write gives: exactly one of `password` and `password_hash`, the first
/// at most 72 bytes (else OpenBao's 500), the second a bcrypt hash of an accepted cost (400).
pub(super) fn choose(
    password: Zeroizing<String>,
    password_hash: Zeroizing<String>,
) -> Result<NewPassword, LogicalError> {
    require_one(&password, &password_hash)?;
    if password.is_empty() {
        check_import(&password_hash)?;
        Ok(NewPassword::Hash(password_hash))
    } else {
        check_length(&password)?;
        Ok(NewPassword::Plain(password))
    }
}

/// Checks a `password_hash` the operator gives, with OpenBao's texts.
fn check_import(hash: &str) -> Result<(), LogicalError> {
    let cost = hash
        .parse::<bcrypt::HashParts>()
        .ok()
        .map(|parts| parts.get_cost())
        .filter(|cost| BCRYPT_COSTS.contains(cost))
        .ok_or_else(|| LogicalError::bad_request("password_hash is not a valid bcrypt hash"))?;
    if cost < IMPORT_MIN_COST {
        return Err(LogicalError::bad_request(format!(
            "bcrypt cost of {cost} is too low, want {IMPORT_MIN_COST} at minimum"
        )));
    }
    if cost > IMPORT_MAX_COST {
        return Err(LogicalError::bad_request(format!(
            "bcrypt cost of {cost} exceeds maximum cost of {IMPORT_MAX_COST}"
        )));
    }
    Ok(())
}

/// The hash a write stores for `new`.
pub(super) async fn hash_of(new: NewPassword) -> Result<Zeroizing<String>, LogicalError> {
    match new {
        NewPassword::Hash(h) => Ok(h),
        NewPassword::Plain(p) => blocking(move || hash_now(&p)).await?,
    }
}

/// Go's refusal of a password bcrypt cannot take whole (OpenBao answers it with a 500; a 400
/// with the same text here).
fn check_length(password: &str) -> Result<(), LogicalError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(LogicalError::invalid_input(
            "bcrypt: password length exceeds 72 bytes",
        ));
    }
    Ok(())
}

fn hash_now(password: &str) -> Result<Zeroizing<String>, LogicalError> {
    check_length(password)?;
    bcrypt::hash(password, BCRYPT_COST)
        .map(Zeroizing::new)
        .map_err(|e| LogicalError::internal(format!("failed to hash the password: {e}")))
}

/// Whether `password` matches `hash`. Without a hash (no such user, or a record without
/// one), the password is checked against a fixed dummy hash of the same cost and the answer is
/// no: every refusal costs one bcrypt computation, so timing does not tell whether the user
/// exists. A password over 72 bytes never matches (Go's bcrypt would compare its first 72
/// bytes only), and costs the same.
pub(super) async fn verify(
    password: Zeroizing<String>,
    hash: Option<Zeroizing<String>>,
) -> Result<bool, LogicalError> {
    blocking(move || {
        let (hash, real) = match hash.as_deref() {
            Some(h) if !h.is_empty() => (h.as_str(), true),
            _ => (dummy_hash()?, false),
        };
        let fits = password.len() <= MAX_PASSWORD_BYTES;
        let candidate = if fits { password.as_str() } else { "" };
        let matched = eksblowfish::verify(candidate.as_bytes(), hash);
        Ok(matched && real && fits)
    })
    .await?
}

/// The dummy hash unknown users are checked against: computed once, on the first need, on a
/// blocking thread.
fn dummy_hash() -> Result<&'static str, LogicalError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h);
    }
    let made = bcrypt::hash("dummy", BCRYPT_COST)
        .map_err(|e| LogicalError::internal(format!("failed to hash the password: {e}")))?;
    Ok(DUMMY.get_or_init(|| made))
}

/// Runs CPU-heavy work off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, LogicalError> {
    // At most one bcrypt per core at a time: more only share the cores and lengthen each.
    static POOL: OnceLock<std::sync::Arc<tokio::sync::Semaphore>> = OnceLock::new();
    let pool = POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        std::sync::Arc::new(tokio::sync::Semaphore::new(cores))
    });
    let permit = pool
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| LogicalError::internal(format!("bcrypt pool closed: {e}")))?;
    tokio::task::spawn_blocking(move || {
        let out = f();
        drop(permit);
        out
    })
    .await
    .map_err(|e| LogicalError::internal(format!("bcrypt task failed: {e}")))
}

#[cfg(test)]
pub(super) fn warm_dummy() {
    let _ = dummy_hash();
}
