//! The `approle` auth method, as OpenBao 2.7.2 has it: roles with a role ID, secret IDs
//! issued against them and stored only as HMACs under a per-role key, and a login that trades
//! a role ID (and, when `bind_secret_id`, a secret ID) for a token.
//!
//! Storage (mount-relative):
//! - `role/<lower-case name>`: the role, with its HMAC key;
//! - `role_id/<salted role id>`: the role's name, to find it at login;
//! - `secret_id/<role name HMAC>/<secret ID HMAC>` (or `secret_id_local/...`): a secret ID;
//! - `accessor/<salted accessor>` (or `accessor_local/...`): the secret ID HMAC of an accessor;
//! - `salt`: the mount's random salt for the two indexes above.

mod cidr;
mod login;
mod role;
mod secret_id;
#[cfg(test)]
mod tests;
mod tidy;

use std::collections::BTreeMap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use arca_sdk::framework::{Field, FieldData, FrameworkBackend, OpHandler, handler};
use arca_sdk::storage::StorageExt;
use arca_sdk::{
    Backend, BackendConfig, BackendType, Factory, LogicalError, Request, Response, SpecialPaths,
    Storage, SystemView,
};
use aws_lc_rs::hmac;
use futures::FutureExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{OnceCell, RwLock};
use zeroize::Zeroizing;

/// Storage prefix of cluster-wide secret IDs.
const SECRET_ID_PREFIX: &str = "secret_id/";
/// Storage prefix of cluster-local secret IDs.
const SECRET_ID_LOCAL_PREFIX: &str = "secret_id_local/";
/// Storage prefix of the accessors of cluster-wide secret IDs.
const ACCESSOR_PREFIX: &str = "accessor/";
/// Storage prefix of the accessors of cluster-local secret IDs.
const ACCESSOR_LOCAL_PREFIX: &str = "accessor_local/";
/// Where the mount's salt lives.
const SALT_KEY: &str = "salt";
/// OpenBao refuses HMAC inputs (role names, secret IDs) longer than this.
const MAX_HMAC_INPUT_LENGTH: usize = 4096;
/// How many buckets the role and secret ID locks hash into.
const LOCK_COUNT: usize = 256;

const BACKEND_HELP: &str =
    "Any registered Role can authenticate itself with OpenBao. The credentials
depends on the constraints that are set on the Role. One common required
credential is the 'role_id' which is a unique identifier of the Role.
It can be retrieved from the 'role/<appname>/role-id' endpoint.

The default constraint configuration is 'bind_secret_id', which requires
the credential 'secret_id' to be presented during login. Refer to the
documentation for other types of constraints.";

/// Builds an `approle` mount.
pub fn factory() -> Factory {
    Arc::new(|config: BackendConfig| {
        async move { Ok(Arc::new(backend(config.system)) as Arc<dyn Backend>) }.boxed()
    })
}

/// The backend for a mount whose system view is `system`.
fn backend(system: Arc<dyn SystemView>) -> FrameworkBackend {
    let st = Arc::new(State::new(system));
    let mut b =
        FrameworkBackend::new(BackendType::Credential, BACKEND_HELP).special_paths(SpecialPaths {
            unauthenticated: vec!["login".into()],
            local_storage: vec![SECRET_ID_LOCAL_PREFIX.into(), ACCESSOR_LOCAL_PREFIX.into()],
            ..SpecialPaths::default()
        });
    for p in role::paths(&st)
        .into_iter()
        .chain(secret_id::paths(&st))
        .chain([login::path(&st), tidy::path(&st)])
    {
        b = b.path(p);
    }
    b.auth_renew(op(&st, login::renew))
}

/// What every handler of a mount shares: its system view, salt, locks and tidy guard.
pub(crate) struct State {
    system: Arc<dyn SystemView>,
    salt: OnceCell<hmac::Key>,
    role_locks: Vec<RwLock<()>>,
    secret_id_locks: Vec<RwLock<()>>,
    tidy_running: AtomicBool,
    /// The schema of `role/<name>`, to rebuild its field data after rewriting a value.
    role_schema: Arc<BTreeMap<String, Field>>,
}

impl State {
    fn new(system: Arc<dyn SystemView>) -> State {
        State {
            system,
            salt: OnceCell::new(),
            role_locks: (0..LOCK_COUNT).map(|_| RwLock::new(())).collect(),
            secret_id_locks: (0..LOCK_COUNT).map(|_| RwLock::new(())).collect(),
            tidy_running: AtomicBool::new(false),
            role_schema: Arc::new(
                role::role_fields()
                    .into_iter()
                    .map(|f| (f.name.clone(), f))
                    .collect(),
            ),
        }
    }

    /// The mount's maximum lease TTL.
    fn max_lease_ttl(&self) -> Duration {
        self.system.max_lease_ttl()
    }

    /// The lock of a role (by its lower-cased name).
    fn role_lock(&self, name: &str) -> &RwLock<()> {
        &self.role_locks[bucket(&name.to_lowercase())]
    }

    /// The lock of a secret ID (by its HMAC).
    fn secret_id_lock(&self, secret_id_hmac: &str) -> &RwLock<()> {
        &self.secret_id_locks[bucket(secret_id_hmac)]
    }

    /// The mount's salt key, read or created on first use (once, whatever runs concurrently).
    async fn salt(&self, s: &dyn Storage) -> Result<&hmac::Key, LogicalError> {
        self.salt
            .get_or_try_init(|| async {
                let entry = match s.get_json::<SaltEntry>(SALT_KEY).await? {
                    Some(e) => e,
                    None => {
                        let e = SaltEntry {
                            salt: Zeroizing::new(uuid::Uuid::new_v4().to_string()),
                        };
                        s.put_json(SALT_KEY, &e).await?;
                        e
                    }
                };
                Ok(hmac::Key::new(hmac::HMAC_SHA256, entry.salt.as_bytes()))
            })
            .await
    }

    /// `value` salted with the mount's salt, as the role ID and accessor indexes key it.
    async fn salted(&self, s: &dyn Storage, value: &str) -> Result<String, LogicalError> {
        let key = self.salt(s).await?;
        Ok(hex::encode(hmac::sign(key, value.as_bytes()).as_ref()))
    }
}

/// The stored salt of a mount.
#[derive(Serialize, Deserialize)]
struct SaltEntry {
    salt: Zeroizing<String>,
}

/// The lock bucket of `key`.
fn bucket(key: &str) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    // The modulo keeps the value below LOCK_COUNT, so the cast cannot truncate.
    (h.finish() % LOCK_COUNT as u64) as usize
}

/// OpenBao's `createHMAC`: hex of HMAC-SHA256 of `value` under `key`.
fn create_hmac(key: &str, value: &str) -> Result<String, String> {
    if key.is_empty() {
        return Err("invalid HMAC key".into());
    }
    if value.len() > MAX_HMAC_INPUT_LENGTH {
        return Err(format!(
            "value is longer than maximum of {MAX_HMAC_INPUT_LENGTH} bytes"
        ));
    }
    let k = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
    Ok(hex::encode(hmac::sign(&k, value.as_bytes()).as_ref()))
}

/// Wraps a handler taking the shared state as an [`OpHandler`].
fn op<F, Fut>(st: &Arc<State>, f: F) -> OpHandler
where
    F: Fn(Arc<State>, Request, FieldData) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<Response>, LogicalError>> + Send + 'static,
{
    let st = st.clone();
    handler(move |req, d| f(st.clone(), req, d))
}

/// The current time as Unix nanoseconds.
fn now_nanos() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// A time as Go's `time.Time` marshals to JSON (RFC 3339 with trailing zeros of the fraction
/// dropped, UTC); `None` is Go's zero time.
fn go_time(nanos: Option<i64>) -> String {
    let Some(n) = nanos else {
        return "0001-01-01T00:00:00Z".into();
    };
    arca_sdk::go_time::go_time(chrono::DateTime::from_timestamp_nanos(n))
}

/// Go's `%q` of a `[]string`: `["a" "b"]`.
fn go_quote_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(" "))
}
