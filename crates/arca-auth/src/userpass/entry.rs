//! The stored user record: `user/<lower-cased name>` holding a versioned JSON object with the
//! bcrypt hash (never the password), the token settings and the older (pre-`token_*`) fields
//! as the operator last gave them, which reads show back.

use std::fmt;

use arca_sdk::framework::FieldData;
use arca_sdk::storage::StorageExt;
use arca_sdk::token_util::{LegacyTokenFields, TokenParams};
use arca_sdk::{LogicalError, Storage};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Where user records live in the mount's storage.
pub(super) const USER_PREFIX: &str = "user/";

/// The version of the record layout this code writes and reads.
const RECORD_VERSION: u32 = 1;

/// One user. `Debug` leaves the hash out.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct UserEntry {
    /// Layout version ([`RECORD_VERSION`]).
    pub version: u32,
    /// The bcrypt hash of the password (`$2a$`/`$2b$`/`$2y$`...).
    pub password_hash: Zeroizing<String>,
    /// The token settings.
    pub token: TokenParams,
    /// Legacy `policies`, kept while the operator uses that name.
    pub policies: Vec<String>,
    /// Legacy `ttl` in seconds.
    pub ttl: u64,
    /// Legacy `max_ttl` in seconds.
    pub max_ttl: u64,
    /// Legacy `bound_cidrs`.
    pub bound_cidrs: Vec<String>,
}

impl fmt::Debug for UserEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserEntry")
            .field("version", &self.version)
            .field("password_hash", &"<redacted>")
            .field("token", &self.token)
            .field("policies", &self.policies)
            .field("ttl", &self.ttl)
            .field("max_ttl", &self.max_ttl)
            .field("bound_cidrs", &self.bound_cidrs)
            .finish()
    }
}

impl UserEntry {
    /// Fills token settings a record only has under the older names, as OpenBao does on every
    /// read of a user.
    fn upgrade_legacy(&mut self) {
        self.token.upgrade_legacy(LegacyTokenFields {
            ttl: self.ttl,
            max_ttl: self.max_ttl,
            policies: &self.policies,
            bound_cidrs: &self.bound_cidrs,
            ..LegacyTokenFields::default()
        });
    }
}

/// The `username` of a request, lower-cased: every lookup and write uses this form.
pub(super) fn username(d: &FieldData) -> Result<String, LogicalError> {
    Ok(d.get_str("username")?.to_lowercase())
}

fn key(username: &str) -> String {
    format!("{USER_PREFIX}{username}")
}

/// Reads the user `username` (already lower-cased), legacy fields upgraded.
pub(super) async fn load(
    storage: &dyn Storage,
    username: &str,
) -> Result<Option<UserEntry>, LogicalError> {
    if username.is_empty() {
        return Err(LogicalError::invalid_input("missing username"));
    }
    let Some(mut entry) = storage.get_json::<UserEntry>(&key(username)).await? else {
        return Ok(None);
    };
    if entry.version > RECORD_VERSION {
        return Err(LogicalError::internal(format!(
            "user record version {} is newer than this server understands",
            entry.version
        )));
    }
    entry.upgrade_legacy();
    Ok(Some(entry))
}

/// Writes the user `username` (already lower-cased).
pub(super) async fn store(
    storage: &dyn Storage,
    username: &str,
    entry: &UserEntry,
) -> Result<(), LogicalError> {
    let mut entry = entry.clone();
    entry.version = RECORD_VERSION;
    storage.put_json(&key(username), &entry).await
}

/// Deletes the user `username` (already lower-cased); absent is fine.
pub(super) async fn delete(storage: &dyn Storage, username: &str) -> Result<(), LogicalError> {
    storage.delete(&key(username)).await?;
    Ok(())
}
