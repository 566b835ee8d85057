//! Login MFA (OpenBao's `identity/mfa/*` and `sys/mfa/validate`), TOTP only: method
//! configurations (`methods.rs`), each entity's TOTP secrets (`secrets.rs`), login
//! enforcements (`enforcements.rs`) and the two-phase login (`login.rs`: a login an
//! enforcement matches is held back as a pending request until `sys/mfa/validate` brings a
//! valid passcode). Methods, enforcements and secrets are stored in the identity mount's
//! view (inside the barrier) and kept in memory; pending requests, spent codes and attempt
//! counts live in memory only, as OpenBao's.

mod enforcements;
pub(crate) mod login;
mod methods;
mod qr;
mod secrets;
pub(crate) mod totp;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arca_sdk::storage::StorageExt;
use arca_sdk::{LogicalError, Storage};
use serde::{Deserialize, Serialize};

pub(crate) use self::login::{MfaPending, PendingLogin, validate_fields};

/// The version every MFA record is written with.
const RECORD_VERSION: u32 = 1;
/// Storage prefix of method configurations (`mfa/methods/<id>`).
const METHOD_PREFIX: &str = "mfa/methods/";
/// Storage prefix of login enforcements (`mfa/enforcements/<name>`).
const ENFORCEMENT_PREFIX: &str = "mfa/enforcements/";
/// Storage prefix of TOTP secrets (`mfa/totp-secrets/<method id>/<entity id>`).
const SECRET_PREFIX: &str = "mfa/totp-secrets/";

/// A TOTP method's configuration, as OpenBao's `mfa.Config` with its `TOTPConfig`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TotpMethod {
    #[serde(default)]
    pub version: u32,
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub namespace_id: String,
    #[serde(default)]
    pub namespace_path: String,
    pub issuer: String,
    pub period: u64,
    pub key_size: u64,
    pub qr_size: i64,
    pub algorithm: String,
    pub digits: u32,
    pub skew: u64,
    pub max_validation_attempts: u32,
}

/// A login enforcement: which logins need which methods.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Enforcement {
    #[serde(default)]
    pub version: u32,
    pub id: String,
    pub name: String,
    pub namespace_id: String,
    #[serde(default)]
    pub namespace_path: String,
    pub mfa_method_ids: Vec<String>,
    #[serde(default)]
    pub auth_method_accessors: Vec<String>,
    #[serde(default)]
    pub auth_method_types: Vec<String>,
    #[serde(default)]
    pub identity_group_ids: Vec<String>,
    #[serde(default)]
    pub identity_entity_ids: Vec<String>,
}

/// An entity's TOTP secret for one method: the key and the parameters it was made with
/// (codes are checked with these, whatever the method says later). Never logged: no Debug.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct TotpSecret {
    #[serde(default)]
    pub version: u32,
    /// The base32 key.
    pub key: String,
    pub issuer: String,
    pub period: u64,
    pub algorithm: String,
    pub digits: u32,
    pub skew: u64,
    pub key_size: u64,
}

/// Everything login MFA keeps in memory.
#[derive(Default)]
pub(crate) struct MfaState {
    /// Methods by id.
    pub methods: BTreeMap<String, Arc<TotpMethod>>,
    /// Enforcements by name.
    pub enforcements: BTreeMap<String, Arc<Enforcement>>,
    /// Which (method, entity) pairs have a secret (the secrets themselves stay in storage).
    pub secrets: HashMap<String, std::collections::BTreeSet<String>>,
    /// Entities whose last secret was destroyed: OpenBao names the method by id, not by
    /// name, when such an entity lacks a secret (its entity's secret map is then nil).
    pub emptied: std::collections::HashSet<String>,
    /// Logins waiting for their passcodes.
    pub pending: MfaPending,
    /// Spent codes and attempt counts.
    pub used: totp::UsedCodes,
}

impl MfaState {
    /// The method named `name`, if any.
    fn method_by_name(&self, name: &str) -> Option<Arc<TotpMethod>> {
        self.methods.values().find(|m| m.name == name).cloned()
    }

    /// Whether `entity` has a secret for `method`.
    fn has_secret(&self, method: &str, entity: &str) -> bool {
        self.secrets.get(method).is_some_and(|s| s.contains(entity))
    }
}

/// Reads every method, enforcement and secret marker from `storage` into fresh state.
pub(crate) async fn load(storage: &dyn Storage) -> Result<MfaState, LogicalError> {
    let mut state = MfaState::default();
    for key in storage.list(METHOD_PREFIX).await? {
        if let Some(m) = storage
            .get_json::<TotpMethod>(&format!("{METHOD_PREFIX}{key}"))
            .await?
        {
            state.methods.insert(m.id.clone(), Arc::new(m));
        }
    }
    for key in storage.list(ENFORCEMENT_PREFIX).await? {
        if let Some(e) = storage
            .get_json::<Enforcement>(&format!("{ENFORCEMENT_PREFIX}{key}"))
            .await?
        {
            state.enforcements.insert(e.name.clone(), Arc::new(e));
        }
    }
    for method in storage.list(SECRET_PREFIX).await? {
        let method = method.trim_end_matches('/').to_string();
        let entities = storage.list(&format!("{SECRET_PREFIX}{method}/")).await?;
        state.secrets.insert(method, entities.into_iter().collect());
    }
    Ok(state)
}
