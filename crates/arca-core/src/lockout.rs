//! User lockout (OpenBao 2.x, Vault 1.13+): failed logins per alias and auth mount are counted
//! in memory; at the threshold the alias is locked for the lockout duration, recorded at
//! `core/login/lockedUsers/<mount accessor>/<alias>` (inside the namespace's prefix) so it
//! survives a restart. A locked alias is refused before its auth method runs. Settings, from
//! strongest: the `BAO_DISABLE_USER_LOCKOUT` / `VAULT_DISABLE_USER_LOCKOUT` variable, the
//! mount's tuned `user_lockout_config`, the server config's `user_lockout` stanza for the
//! method's type (or `all`), OpenBao's defaults (5 failures, 15 minutes, 15 minutes).

use std::collections::HashMap;
use std::sync::Arc;

use arca_sdk::{LogicalError, Storage, StorageEntry};
use parking_lot::Mutex;

use crate::mounts::{MountEntry, UserLockoutConfig};

/// Where locked aliases are recorded, under a namespace's prefix.
const LOCKED_USERS: &str = "core/login/lockedUsers/";

/// The auth method types lockout applies to.
const SUPPORTED: &[&str] = &["userpass", "approle", "ldap"];

/// The settings that apply to one mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Settings {
    /// Failures that lock.
    pub threshold: u64,
    /// Seconds locked.
    pub duration: i64,
    /// Seconds after the last failure when counting starts again.
    pub counter_reset: i64,
}

/// The alias of one login on one mount.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct LoginUser {
    /// The auth mount's accessor.
    pub mount_accessor: String,
    /// The alias name the method named in its lookahead.
    pub alias: String,
    /// The namespace's storage prefix (`""` for the root).
    pub ns_prefix: String,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u64,
    last: i64,
}

/// The failed-login counts and the locked aliases.
pub(crate) struct Lockout {
    view: Arc<dyn Storage>,
    failures: Mutex<HashMap<LoginUser, Failures>>,
    /// From the server config: settings by method type (`all` for every type).
    configured: HashMap<String, UserLockoutConfig>,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn env_disabled() -> bool {
    ["BAO_DISABLE_USER_LOCKOUT", "VAULT_DISABLE_USER_LOCKOUT"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .any(|v| matches!(v.as_str(), "1" | "t" | "T" | "true" | "TRUE" | "True"))
}

impl Lockout {
    /// A lockout over the barrier's root view, with the server config's settings by type.
    pub(crate) fn new(
        view: Arc<dyn Storage>,
        configured: HashMap<String, UserLockoutConfig>,
    ) -> Lockout {
        Lockout {
            view,
            failures: Mutex::new(HashMap::new()),
            configured,
        }
    }

    /// The settings for `mount`, or `None` when lockout does not apply to it.
    pub(crate) fn settings(&self, mount: &MountEntry) -> Option<Settings> {
        let kind = mount.kind.to_lowercase();
        if !SUPPORTED.contains(&kind.as_str()) || env_disabled() {
            return None;
        }
        let mut s = Settings {
            threshold: 5,
            duration: 15 * 60,
            counter_reset: 15 * 60,
        };
        let mut disabled = false;
        for layer in [
            self.configured.get("all"),
            self.configured.get(&kind),
            mount.config.user_lockout_config.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            if layer.lockout_threshold != 0 {
                s.threshold = layer.lockout_threshold;
            }
            if layer.lockout_duration != 0 {
                s.duration = i64::try_from(layer.lockout_duration).unwrap_or(i64::MAX);
            }
            if layer.lockout_counter_reset != 0 {
                s.counter_reset = i64::try_from(layer.lockout_counter_reset).unwrap_or(i64::MAX);
            }
            if layer.disable_lockout {
                disabled = true;
            }
        }
        (!disabled).then_some(s)
    }

    fn key(user: &LoginUser) -> String {
        format!(
            "{}{LOCKED_USERS}{}/{}",
            user.ns_prefix, user.mount_accessor, user.alias
        )
    }

    /// Whether `user` is locked now.
    pub(crate) async fn is_locked(
        &self,
        user: &LoginUser,
        s: Settings,
    ) -> Result<bool, LogicalError> {
        let known = self.failures.lock().get(user).copied();
        let now = now();
        if let Some(f) = known {
            return Ok(f.count >= s.threshold && now - f.last < s.duration);
        }
        // Not counted since start: a lock recorded before a restart still holds.
        let Some(e) = self.view.get(&Self::key(user)).await? else {
            return Ok(false);
        };
        let last: i64 = serde_json::from_slice(&e.value).map_err(LogicalError::internal)?;
        Ok(now - last < s.duration)
    }

    /// Counts a failed login of `user`; at the threshold the lock is recorded.
    pub(crate) async fn failed(&self, user: &LoginUser, s: Settings) -> Result<(), LogicalError> {
        let now = now();
        let f = {
            let mut map = self.failures.lock();
            let f = map.entry(user.clone()).or_insert(Failures {
                count: 0,
                last: now,
            });
            if f.count > 0 && now > f.last.saturating_add(s.counter_reset) {
                f.count = 0;
            }
            f.count += 1;
            f.last = now;
            *f
        };
        if f.count >= s.threshold {
            let value = serde_json::to_vec(&f.last).map_err(LogicalError::internal)?;
            self.view
                .put(StorageEntry::new(Self::key(user), value))
                .await?;
        }
        Ok(())
    }

    /// A successful login forgets `user`'s failures.
    pub(crate) fn succeeded(&self, user: &LoginUser) {
        self.failures.lock().remove(user);
    }

    /// Unlocks `user`: its record and its count go.
    pub(crate) async fn unlock(&self, user: &LoginUser) -> Result<(), LogicalError> {
        self.view.delete(&Self::key(user)).await?;
        self.failures.lock().remove(user);
        Ok(())
    }

    /// The locked aliases recorded under a namespace's prefix, by mount accessor (all mounts,
    /// or only `accessor`), each list sorted.
    pub(crate) async fn locked(
        &self,
        ns_prefix: &str,
        accessor: Option<&str>,
    ) -> Result<Vec<(String, Vec<String>)>, LogicalError> {
        let base = format!("{ns_prefix}{LOCKED_USERS}");
        let accessors = match accessor {
            Some(a) => vec![format!("{a}/")],
            None => self.view.list(&base).await?,
        };
        let mut out = Vec::new();
        for a in accessors {
            let mut aliases = self.view.list(&format!("{base}{a}")).await?;
            if aliases.is_empty() {
                continue;
            }
            aliases.sort();
            out.push((a.trim_end_matches('/').to_string(), aliases));
        }
        Ok(out)
    }

    /// Forgets every count (seal).
    pub(crate) fn clear(&self) {
        self.failures.lock().clear();
    }
}
