//! Static-role password rotation: the schedule of when each role is next due, the task that
//! rotates roles when they fall due, and the write-ahead entry that makes a rotation safe to
//! retry after a crash between changing the database and storing the new password.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Weak};
use std::time::Duration;

use arca_sdk::storage::StorageExt;
use arca_sdk::{LogicalError, Storage};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::plugin::{ChangePassword, CredentialType, UpdateUserRequest};
use crate::roles::{RoleEntry, static_role};
use crate::state::{STATIC_ROLE_PREFIX, State};

/// Where the pending password of a rotation in progress is kept (one per role).
const WAL_PREFIX: &str = "wal/static-role/";
/// How long a failed rotation waits before the next try (OpenBao's 10 s).
const RETRY_AFTER: Duration = Duration::from_secs(10);
/// The longest the rotation task sleeps without looking at the schedule.
const TICK: Duration = Duration::from_secs(5);

/// Static roles by the time they are next due.
#[derive(Default)]
pub struct Schedule {
    due: BTreeSet<(i64, String)>,
    by_name: HashMap<String, i64>,
}

impl Schedule {
    /// Schedules (or reschedules) `name` at `at`.
    pub fn set(&mut self, name: &str, at: DateTime<Utc>) {
        self.remove(name);
        let ms = at.timestamp_millis();
        self.due.insert((ms, name.to_string()));
        self.by_name.insert(name.to_string(), ms);
    }

    /// Takes `name` off the schedule.
    pub fn remove(&mut self, name: &str) {
        if let Some(ms) = self.by_name.remove(name) {
            self.due.remove(&(ms, name.to_string()));
        }
    }

    /// When the earliest role is due.
    pub fn next_due(&self) -> Option<i64> {
        self.due.first().map(|(ms, _)| *ms)
    }

    /// Takes the earliest role off the schedule if it is due at `now_ms`.
    pub fn pop_due(&mut self, now_ms: i64) -> Option<String> {
        let (ms, name) = self.due.first()?.clone();
        if ms > now_ms {
            return None;
        }
        self.due.remove(&(ms, name.clone()));
        self.by_name.remove(&name);
        Some(name)
    }
}

/// A rotation in progress: the password about to be set.
#[derive(Serialize, Deserialize)]
struct Wal {
    username: String,
    /// The new password, or for `rsa_private_key` roles the new private key (PEM).
    new_password: String,
}

impl Drop for Wal {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.new_password);
    }
}

/// Deletes a role's pending rotation entry.
pub async fn delete_wal(storage: &dyn Storage, role: &str) -> Result<(), LogicalError> {
    storage.delete(&format!("{WAL_PREFIX}{role}")).await?;
    Ok(())
}

/// Gives a static role a new password (OpenBao's `setStaticAccount`): generates one (or takes
/// the one a failed earlier try recorded), sets it in the database, then stores it with the
/// rotation time. `role` is updated in place and stored.
pub async fn set_static_account(
    state: &State,
    storage: &dyn Storage,
    name: &str,
    role: &mut RoleEntry,
) -> Result<(), LogicalError> {
    let (inst, config) = state.connection(storage, &role.db_name).await?;
    if !config.allows(name) {
        return Err(LogicalError::internal(format!(
            "{name:?} is not an allowed role"
        )));
    }
    let t = role.credential_type();
    if !config.supports(t) {
        return Err(LogicalError::internal(format!(
            "unsupported credential_type: {:?}",
            t.as_str()
        )));
    }
    let username = role
        .static_account
        .as_ref()
        .map(|a| a.username.clone())
        .unwrap_or_default();
    let wal_key = format!("{WAL_PREFIX}{name}");
    let pending = storage
        .get_json::<Wal>(&wal_key)
        .await?
        .filter(|w| w.username == username && !w.new_password.is_empty());
    let secret = match pending {
        Some(w) => zeroize::Zeroizing::new(w.new_password.clone()),
        None => {
            let secret = match t {
                CredentialType::RsaPrivateKey => {
                    let config = role.credential_config.clone().unwrap_or_default();
                    crate::credentials::rsa_key(&config)
                        .await
                        .map_err(|e| {
                            LogicalError::internal(format!("failed to generate RSA key pair: {e}"))
                        })?
                        .private_pem
                }
                _ => {
                    let mut policy = role.password_policy();
                    if policy.is_empty() {
                        policy = config.password_policy.clone();
                    }
                    state.generate_password(&policy).await?
                }
            };
            storage
                .put_json(
                    &wal_key,
                    &Wal {
                        username: username.clone(),
                        new_password: secret.to_string(),
                    },
                )
                .await?;
            secret
        }
    };
    let mut update = UpdateUserRequest {
        username: username.clone(),
        credential_type: t,
        password: None,
        public_key: None,
        expiration: None,
    };
    if t == CredentialType::RsaPrivateKey {
        let public = rcgen::KeyPair::from_pem(&secret)
            .map_err(|e| LogicalError::internal(format!("failed to read the new key: {e}")))?
            .public_key_pem();
        update.public_key = Some((public.into_bytes(), role.statements.rotation.clone()));
    } else {
        update.password = Some(ChangePassword {
            new_password: secret.clone(),
            statements: role.statements.rotation.clone(),
        });
    }
    inst.db
        .update_user(update)
        .await
        .map_err(|e| LogicalError::internal(format!("error setting credentials: {e}")))?;
    if let Some(a) = role.static_account.as_mut() {
        if t == CredentialType::RsaPrivateKey {
            a.private_key = secret.to_string();
        } else {
            a.password = secret.to_string();
        }
        a.last_vault_rotation = Some(Utc::now());
    }
    storage
        .put_json(&format!("{STATIC_ROLE_PREFIX}{name}"), role)
        .await?;
    delete_wal(storage, name).await?;
    Ok(())
}

/// Rotates one role taken off the schedule and puts it back at its next time (or in 10 s if
/// the rotation failed).
async fn rotate_due(state: &State, name: &str) {
    let lock = state.role_lock(name);
    let _held = lock.lock().await;
    let storage = state.storage.clone();
    let mut role = match static_role(storage.as_ref(), name).await {
        Ok(Some(r)) => r,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(role = name, error = %e, "unable to load static role");
            retry_later(state, name);
            return;
        }
    };
    let Some(next) = role.static_account.as_ref().map(|a| a.next_rotation()) else {
        return;
    };
    let has_wal = matches!(
        storage
            .get_json::<Wal>(&format!("{WAL_PREFIX}{name}"))
            .await,
        Ok(Some(_))
    );
    let now = Utc::now();
    if next > now && !has_wal {
        // Rotated by hand since it was scheduled.
        state.schedule.lock().set(name, next);
        return;
    }
    let outside_window = role
        .static_account
        .as_ref()
        .is_some_and(|a| !a.inside_window(next, now));
    if outside_window && !has_wal {
        // The schedule's window passed (the server was down): wait for the next time.
        if let Some(after) = role
            .static_account
            .as_ref()
            .and_then(|a| a.scheduled_after(now))
        {
            state.schedule.lock().set(name, after);
        }
        return;
    }
    match set_static_account(state, storage.as_ref(), name, &mut role).await {
        Ok(()) => {
            if let Some(a) = &role.static_account {
                state.schedule.lock().set(name, a.next_rotation());
            }
        }
        Err(e) => {
            tracing::warn!(role = name, error = %e, "static role rotation failed; retrying");
            retry_later(state, name);
        }
    }
}

/// Puts a role back on the schedule for another try.
pub fn retry_later(state: &State, name: &str) {
    let at = Utc::now() + chrono::Duration::from_std(RETRY_AFTER).unwrap_or_default();
    state.schedule.lock().set(name, at);
}

/// Schedules every stored static role: at its next rotation time, or now if it is overdue or
/// a rotation was left unfinished (so a restart never skips a rotation).
pub async fn populate(state: &State) -> Result<(), LogicalError> {
    let storage = state.storage.clone();
    let names = storage.list(STATIC_ROLE_PREFIX).await?;
    let pending: BTreeSet<String> = storage.list(WAL_PREFIX).await?.into_iter().collect();
    for name in names {
        let Some(role) = static_role(storage.as_ref(), &name).await? else {
            continue;
        };
        let Some(a) = &role.static_account else {
            continue;
        };
        let at = if pending.contains(&name) {
            Utc::now()
        } else {
            a.next_rotation()
        };
        state.schedule.lock().set(&name, at);
    }
    Ok(())
}

/// The rotation task: sleeps until the earliest role is due (at most [`TICK`], or until the
/// schedule changes), rotates what is due, and stops when the engine is gone.
pub async fn run(state: Weak<State>) {
    loop {
        let Some(s) = state.upgrade() else { return };
        let now = Utc::now().timestamp_millis();
        loop {
            // The schedule's lock is released before the rotation awaits.
            let next = s.schedule.lock().pop_due(now);
            let Some(name) = next else { break };
            rotate_due(&s, &name).await;
        }
        let wait = s
            .schedule
            .lock()
            .next_due()
            .map(|ms| Duration::from_millis(u64::try_from(ms - now).unwrap_or(0)))
            .unwrap_or(TICK)
            .min(TICK);
        let notified = Arc::clone(&s);
        drop(s);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = notified.wake.notified() => {}
        }
    }
}
