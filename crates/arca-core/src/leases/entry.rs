//! What the expiration manager stores for one lease, and what it shows of it.

use arca_sdk::redact::{KeysOnly, Redacted};
use arca_sdk::storage::is_default;
use arca_sdk::{JsonMap, Secret};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Version marker of a stored lease entry.
pub const LEASE_ENTRY_VERSION: u32 = 1;

/// One lease as stored under `sys/expire/id/<lease id>` (as JSON, fields at their default left
/// out): everything needed to renew and revoke it without the request that made it. `Debug`
/// shows no secret material.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct LeaseEntry {
    /// Version marker.
    pub version: u32,
    /// The lease id (`<mount path><request path>/<random>`, or a token's
    /// `<creation path>/<token id hash>`).
    pub lease_id: String,
    /// The full request path that issued it (Vault's `path`: `secret/creds/web`,
    /// `auth/token/create`).
    pub path: String,
    /// The mount it was issued by (`secret/`, `auth/token/`).
    pub mount_path: String,
    /// That mount's accessor (`mount_id` in irrevocable listings).
    pub mount_accessor: String,
    /// The request path relative to the mount (what the backend's revoke and renew see).
    pub rel_path: String,
    /// A secret lease: the secret with its internal data and lease timing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    /// The response data stored with a secret lease (handed back on renew and revoke).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<JsonMap>,
    /// A token lease: the token's id hash.
    #[serde(default, skip_serializing_if = "is_default")]
    pub token_hash: String,
    /// A token lease: whether the token is renewable.
    #[serde(default, skip_serializing_if = "is_default")]
    pub token_renewable: bool,
    /// A login's token lease: the auth its method answered (no client token), handed back to
    /// the method when the token is renewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<arca_sdk::Auth>,
    /// The id hash of the token that obtained a secret lease (the token index); empty when
    /// none (orphan batch tokens, unauthenticated paths).
    #[serde(default, skip_serializing_if = "is_default")]
    pub client_token_hash: String,
    /// Unix milliseconds it was issued.
    pub issue_time: i64,
    /// Unix milliseconds it expires (0: never).
    #[serde(default, skip_serializing_if = "is_default")]
    pub expire_time: i64,
    /// Unix milliseconds of the last renewal (0: never renewed).
    #[serde(default, skip_serializing_if = "is_default")]
    pub last_renewal: i64,
    /// Why revocation failed for good (non-empty: the lease is irrevocable).
    #[serde(default, skip_serializing_if = "is_default")]
    pub revoke_err: String,
}

impl std::fmt::Debug for LeaseEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseEntry")
            .field("lease_id", &self.lease_id)
            .field("path", &self.path)
            .field("mount_path", &self.mount_path)
            .field("secret", &self.secret)
            .field("data", &self.data.as_ref().map(KeysOnly::new))
            .field("auth", &self.auth)
            .field("token_hash", &Redacted)
            .field("client_token_hash", &Redacted)
            .field("issue_time", &self.issue_time)
            .field("expire_time", &self.expire_time)
            .field("last_renewal", &self.last_renewal)
            .field("revoke_err", &self.revoke_err)
            .finish_non_exhaustive()
    }
}

impl LeaseEntry {
    /// Whether this is a token's lease.
    pub fn is_token(&self) -> bool {
        self.secret.is_none() && !self.token_hash.is_empty()
    }

    /// Whether revocation failed for good.
    pub fn is_irrevocable(&self) -> bool {
        !self.revoke_err.is_empty()
    }

    /// Vault's `leaseEntry.renewable`: `Ok(())` when it may be renewed now, else the
    /// reason (the texts `sys/leases/renew` answers with a 400).
    pub fn renewable(&self, now_ms: i64) -> Result<(), &'static str> {
        if self.is_irrevocable() {
            return Err("lease is expired and has failed previous revocation attempts");
        }
        if self.expire_time == 0 {
            return Err("lease is not renewable");
        }
        if self.expire_time < now_ms {
            return Err("lease expired");
        }
        match &self.secret {
            Some(s) if !s.lease.renewable => Err("lease is not renewable"),
            None if !self.token_renewable => Err("lease is not renewable"),
            _ => Ok(()),
        }
    }

    /// What `sys/leases/lookup` shows of it at `now_ms`.
    pub fn info(&self, now_ms: i64) -> LeaseInfo {
        let expire_time = (self.expire_time > 0).then(|| time_of(self.expire_time));
        LeaseInfo {
            id: self.lease_id.clone(),
            path: self.path.clone(),
            issue_time: time_of(self.issue_time),
            expire_time,
            last_renewal: (self.last_renewal > 0).then(|| time_of(self.last_renewal)),
            renewable: self.renewable(now_ms).is_ok(),
            // Vault's `le.ttl()`: whole seconds from now (rounded) to the expiry.
            ttl: if self.expire_time > 0 {
                let now_rounded = (now_ms + 500).div_euclid(1000) * 1000;
                (self.expire_time - now_rounded).div_euclid(1000).max(0)
            } else {
                0
            },
        }
    }
}

/// A time in unix milliseconds as a UTC date.
pub fn time_of(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// What `sys/leases/lookup` answers for a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseInfo {
    /// The lease id.
    pub id: String,
    /// The request path that issued it.
    pub path: String,
    /// When it was issued.
    pub issue_time: DateTime<Utc>,
    /// When it expires (`None`: never).
    pub expire_time: Option<DateTime<Utc>>,
    /// When it was last renewed (`None`: never).
    pub last_renewal: Option<DateTime<Utc>>,
    /// Whether it may be renewed now.
    pub renewable: bool,
    /// Seconds left (0 for a lease that never expires).
    pub ttl: i64,
}

/// One irrevocable lease as `sys/leases?type=irrevocable` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IrrevocableLease {
    /// The lease id.
    pub lease_id: String,
    /// The accessor of the mount that issued it.
    pub mount_id: String,
    /// The revocation error kept (at most 240 bytes, as Vault).
    pub error: String,
}
