//! `identity/oidc/key/<name>`: named signing keys (algorithm, rotation period, how long a
//! rotated key still verifies, which roles' client IDs may use it), manual rotation, and the
//! upkeep that rotates due keys and drops expired public keys.

use std::collections::BTreeSet;
use std::sync::Arc;

use arca_sdk::framework::{Field, FieldData, FieldType, PathDef, handler};
use arca_sdk::storage::StorageExt;
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response, Storage};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::keys::{self, SUPPORTED_ALGS, SigningKey};
use super::roles::{ROLE_PREFIX, Role};
use super::{IdentityTokens, exists_under, name_field, named, now_unix, with};

/// Where named keys are stored.
pub(super) const KEY_PREFIX: &str = "oidc_tokens/named_keys/";
/// Where the public halves are stored, by key ID.
pub(super) const PUBLIC_PREFIX: &str = "oidc_tokens/public_keys/";
/// The key every namespace has, which cannot be deleted.
pub(super) const DEFAULT_KEY: &str = "default";
const DAY: u64 = 24 * 3600;

/// One key ID of a named key's ring and when it stops verifying (0: not yet scheduled).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct RingEntry {
    pub kid: String,
    #[serde(default)]
    pub expire_at: i64,
}

/// A named key as stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct NamedKey {
    pub algorithm: String,
    /// Seconds between rotations.
    pub rotation_period: u64,
    /// Seconds a rotated-out key still verifies.
    pub verification_ttl: u64,
    #[serde(default)]
    pub allowed_client_ids: Vec<String>,
    /// When the next rotation is due (Unix seconds; 0: unset).
    #[serde(default)]
    pub next_rotation: i64,
    #[serde(default)]
    pub signing_key: Option<SigningKey>,
    #[serde(default)]
    pub next_signing_key: Option<SigningKey>,
    #[serde(default)]
    pub key_ring: Vec<RingEntry>,
}

impl NamedKey {
    fn default_key() -> NamedKey {
        NamedKey {
            algorithm: "RS256".into(),
            rotation_period: DAY,
            verification_ttl: DAY,
            allowed_client_ids: vec!["*".into()],
            next_rotation: now_unix() + DAY as i64,
            ..NamedKey::default()
        }
    }

    /// Whether a role with client ID `client_id` may sign with this key.
    pub(super) fn allows(&self, client_id: &str) -> bool {
        self.allowed_client_ids
            .iter()
            .any(|c| c == "*" || c == client_id)
    }

    /// A fresh key of this algorithm, its public half stored.
    async fn fresh(&mut self, storage: &dyn Storage) -> Result<SigningKey, LogicalError> {
        let alg = self.algorithm.clone();
        let (key, jwk) = tokio::task::spawn_blocking(move || keys::generate(&alg))
            .await
            .map_err(|e| LogicalError::internal(format!("key generation failed: {e}")))??;
        storage
            .put_json(&format!("{PUBLIC_PREFIX}{}", key.kid), &jwk)
            .await?;
        self.key_ring.push(RingEntry {
            kid: key.kid.clone(),
            expire_at: 0,
        });
        Ok(key)
    }

    /// New current and next keys (a new key, or a new algorithm).
    async fn generate_both(&mut self, storage: &dyn Storage) -> Result<(), LogicalError> {
        self.signing_key = Some(self.fresh(storage).await?);
        self.next_signing_key = Some(self.fresh(storage).await?);
        Ok(())
    }

    /// Rotation: the current key verifies for `verification_ttl` more seconds, the next one
    /// signs, and a new next one is made.
    async fn rotate(
        &mut self,
        storage: &dyn Storage,
        verification_ttl: u64,
    ) -> Result<(), LogicalError> {
        let now = now_unix();
        if let Some(current) = &self.signing_key
            && let Some(entry) = self.key_ring.iter_mut().find(|e| e.kid == current.kid)
        {
            entry.expire_at = now + i64::try_from(verification_ttl).unwrap_or(i64::MAX / 2);
        }
        let next = match self.next_signing_key.take() {
            Some(k) => k,
            None => self.fresh(storage).await?,
        };
        self.signing_key = Some(next);
        self.next_rotation = now + i64::try_from(self.rotation_period).unwrap_or(i64::MAX / 2);
        self.next_signing_key = Some(self.fresh(storage).await?);
        Ok(())
    }
}

/// Loads the named key `name`.
pub(super) async fn load(
    storage: &dyn Storage,
    name: &str,
) -> Result<Option<NamedKey>, LogicalError> {
    storage.get_json(&format!("{KEY_PREFIX}{name}")).await
}

async fn save(storage: &dyn Storage, name: &str, key: &NamedKey) -> Result<(), LogicalError> {
    storage.put_json(&format!("{KEY_PREFIX}{name}"), key).await
}

/// Makes sure the `default` key exists (without signing keys until a role uses it).
pub(super) async fn ensure_default(storage: &dyn Storage) -> Result<(), LogicalError> {
    if load(storage, DEFAULT_KEY).await?.is_none() {
        save(storage, DEFAULT_KEY, &NamedKey::default_key()).await?;
    }
    Ok(())
}

/// Gives the `default` key its signing keys when it has none (a role now uses it).
pub(super) async fn ensure_default_signing(storage: &dyn Storage) -> Result<(), LogicalError> {
    let mut key = load(storage, DEFAULT_KEY)
        .await?
        .unwrap_or_else(NamedKey::default_key);
    if key.signing_key.is_none() {
        key.generate_both(storage).await?;
        save(storage, DEFAULT_KEY, &key).await?;
    }
    Ok(())
}

/// Rotates every key whose rotation is due, drops expired ring entries and deletes public
/// keys no ring holds; says when the next rotation or expiry falls (Unix seconds, at most a day
/// ahead). Runs under the module's lock.
pub(super) async fn upkeep(storage: &dyn Storage) -> Result<i64, LogicalError> {
    let now = now_unix();
    let mut soonest = now + DAY as i64;
    let mut used = BTreeSet::new();
    for name in storage.list(KEY_PREFIX).await? {
        let Some(mut key) = load(storage, &name).await? else {
            continue;
        };
        let mut changed = false;
        if key.signing_key.is_some() && key.next_rotation != 0 && key.next_rotation <= now {
            let ttl = key.verification_ttl;
            key.rotate(storage, ttl).await?;
            changed = true;
        }
        let before = key.key_ring.len();
        key.key_ring
            .retain(|e| e.expire_at == 0 || e.expire_at >= now);
        changed |= key.key_ring.len() != before;
        used.extend(key.key_ring.iter().map(|e| e.kid.clone()));
        if key.signing_key.is_some() && key.next_rotation > 0 {
            soonest = soonest.min(key.next_rotation);
        }
        for e in key.key_ring.iter().filter(|e| e.expire_at > 0) {
            soonest = soonest.min(e.expire_at + 1);
        }
        if changed {
            save(storage, &name, &key).await?;
        }
    }
    for kid in storage.list(PUBLIC_PREFIX).await? {
        if !used.contains(&kid) {
            storage.delete(&format!("{PUBLIC_PREFIX}{kid}")).await?;
        }
    }
    Ok(soonest)
}

/// The public JWKs of every key in the rings of the named keys `names` (current, next and
/// rotated-out ones that still verify).
pub(super) async fn public_jwks(
    storage: &dyn Storage,
    names: &BTreeSet<String>,
) -> Result<Vec<Value>, LogicalError> {
    let mut out = Vec::new();
    for name in names {
        if let Some(key) = load(storage, name).await? {
            for entry in key.key_ring {
                if let Some(jwk) = storage
                    .get_json::<Value>(&format!("{PUBLIC_PREFIX}{}", entry.kid))
                    .await?
                {
                    out.push(jwk);
                }
            }
        }
    }
    Ok(out)
}

pub(super) fn key_path(state: &Arc<IdentityTokens>) -> PathDef {
    PathDef::new(named("oidc/key"))
        .field(name_field("key"))
        .field(
            Field::new(
                "rotation_period",
                FieldType::DurationSecond,
                "How often the key rotates (at least one minute).",
            )
            .default_value(json!("24h")),
        )
        .field(
            Field::new(
                "verification_ttl",
                FieldType::DurationSecond,
                "How long a rotated-out key still verifies tokens (at most 10 rotation periods).",
            )
            .default_value(json!("24h")),
        )
        .field(
            Field::new(
                "algorithm",
                FieldType::String,
                "Signing algorithm: RS256, RS384, RS512, ES256, ES384, ES512 or EdDSA.",
            )
            .default_value(json!("RS256")),
        )
        .field(Field::new(
            "allowed_client_ids",
            FieldType::CommaStringSlice,
            "The client IDs of roles that may sign with this key (\"*\": all).",
        ))
        .op(Operation::Create, with(state, write))
        .op(Operation::Update, with(state, write))
        .op(Operation::Read, handler(read))
        .op(Operation::Delete, with(state, delete))
        .existence(exists_under(KEY_PREFIX))
        .help(
            "CRUD operations for OIDC keys.",
            "Create, read, update and delete named keys. A key rotates every rotation_period; a \
             rotated-out key still verifies for verification_ttl.",
        )
}

pub(super) fn rotate_path(state: &Arc<IdentityTokens>) -> PathDef {
    PathDef::new(format!("{}/rotate/?", named("oidc/key")))
        .field(name_field("key"))
        .field(Field::new(
            "verification_ttl",
            FieldType::DurationSecond,
            "How long the rotated-out key still verifies (default: the key's verification_ttl).",
        ))
        .op(Operation::Update, with(state, rotate))
        .help("Rotate a named OIDC key.", "Rotate a named key now.")
}

pub(super) fn list_path() -> PathDef {
    PathDef::new("oidc/key/?")
        .op(Operation::List, handler(list))
        .help("List OIDC keys", "List the named keys.")
}

fn secs(d: &FieldData, name: &str) -> Result<u64, LogicalError> {
    Ok(d.get_duration(name)?.as_secs())
}

async fn write(
    state: Arc<IdentityTokens>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?.as_ref();
    let name = d.get_str("name")?;
    let create = req.operation == Operation::Create;
    let _guard = state.lock.lock().await;
    ensure_default(storage).await?;
    let mut key = if create {
        NamedKey::default()
    } else {
        load(storage, &name).await?.unwrap_or_default()
    };
    if create || d.is_set("rotation_period") {
        key.rotation_period = secs(&d, "rotation_period")?;
    }
    if key.rotation_period < 60 {
        return Err(LogicalError::bad_request(
            "rotation_period must be at least one minute",
        ));
    }
    if create || d.is_set("verification_ttl") {
        key.verification_ttl = secs(&d, "verification_ttl")?;
    }
    if key.verification_ttl > key.rotation_period.saturating_mul(10) {
        return Err(LogicalError::bad_request(
            "verification_ttl cannot be longer than 10x rotation_period",
        ));
    }
    if !create {
        for role in roles_using(storage, &name).await?.values() {
            if role.ttl > key.verification_ttl {
                return Err(LogicalError::bad_request(format!(
                    "unable to update key {name:?} because it is currently referenced by one or \
                     more roles with a token ttl greater than {} seconds",
                    key.verification_ttl
                )));
            }
        }
    }
    if !create {
        for (_, client) in super::clients::all(storage).await? {
            if client.key == name && client.id_token_ttl > key.verification_ttl {
                return Err(LogicalError::bad_request(format!(
                    "unable to update key {name:?} because it is currently referenced by one or \
                     more clients with an id_token_ttl greater than {} seconds",
                    key.verification_ttl
                )));
            }
        }
    }
    if create || d.is_set("allowed_client_ids") {
        key.allowed_client_ids = d.get_strings("allowed_client_ids")?;
    }
    let previous = key.algorithm.clone();
    if create || d.is_set("algorithm") {
        key.algorithm = d.get_str("algorithm")?;
    }
    if !SUPPORTED_ALGS.contains(&key.algorithm.as_str()) {
        return Err(LogicalError::bad_request(format!(
            "unknown signing algorithm {:?}",
            key.algorithm
        )));
    }
    let next = now_unix() + i64::try_from(key.rotation_period).unwrap_or(i64::MAX / 2);
    if key.next_rotation == 0 || next < key.next_rotation {
        key.next_rotation = next;
    }
    if key.algorithm != previous {
        key.generate_both(storage).await?;
    }
    save(storage, &name, &key).await?;
    state.keys_changed(&req);
    Ok(None)
}

async fn read(req: Request, d: FieldData) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?.as_ref();
    ensure_default(storage).await?;
    let Some(key) = load(storage, &d.get_str("name")?).await? else {
        return Ok(None);
    };
    let mut data = JsonMap::new();
    data.insert("algorithm".into(), json!(key.algorithm));
    data.insert("allowed_client_ids".into(), json!(key.allowed_client_ids));
    data.insert("rotation_period".into(), json!(key.rotation_period));
    data.insert("verification_ttl".into(), json!(key.verification_ttl));
    Ok(Some(Response::with_data(data)))
}

/// The roles that sign with the key `name`, by role name.
pub(super) async fn roles_using(
    storage: &dyn Storage,
    name: &str,
) -> Result<std::collections::BTreeMap<String, Role>, LogicalError> {
    let mut out = std::collections::BTreeMap::new();
    for role_name in storage.list(ROLE_PREFIX).await? {
        if let Some(role) = storage
            .get_json::<Role>(&format!("{ROLE_PREFIX}{role_name}"))
            .await?
            && role.key == name
        {
            out.insert(role_name, role);
        }
    }
    Ok(out)
}

async fn delete(
    state: Arc<IdentityTokens>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?.as_ref();
    let name = d.get_str("name")?;
    if name == DEFAULT_KEY {
        return Err(LogicalError::bad_request(format!(
            "deletion of key {DEFAULT_KEY:?} not allowed"
        )));
    }
    let _guard = state.lock.lock().await;
    let users: Vec<String> = roles_using(storage, &name).await?.into_keys().collect();
    if !users.is_empty() {
        return Err(LogicalError::bad_request(format!(
            "unable to delete key {name:?} because it is currently referenced by these roles: {}",
            users.join(", ")
        )));
    }
    let clients: Vec<String> = super::clients::all(storage)
        .await?
        .into_iter()
        .filter(|(_, c)| c.key == name)
        .map(|(n, _)| n)
        .collect();
    if !clients.is_empty() {
        return Err(LogicalError::bad_request(format!(
            "unable to delete key {name:?} because it is currently referenced by these clients: {}",
            clients.join(", ")
        )));
    }
    storage.delete(&format!("{KEY_PREFIX}{name}")).await?;
    upkeep(storage).await?;
    state.keys_changed(&req);
    Ok(None)
}

async fn list(req: Request, _d: FieldData) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?.as_ref();
    ensure_default(storage).await?;
    let names = storage.list(KEY_PREFIX).await?;
    let mut data = JsonMap::new();
    data.insert("keys".into(), Value::from(names));
    Ok(Some(Response::with_data(data)))
}

async fn rotate(
    state: Arc<IdentityTokens>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?.as_ref();
    let name = d.get_str("name")?;
    let _guard = state.lock.lock().await;
    ensure_default(storage).await?;
    let Some(mut key) = load(storage, &name).await? else {
        return Err(LogicalError::bad_request(format!(
            "no named key found at {name:?}"
        )));
    };
    let ttl = if d.is_set("verification_ttl") {
        secs(&d, "verification_ttl")?
    } else {
        key.verification_ttl
    };
    key.rotate(storage, ttl).await?;
    save(storage, &name, &key).await?;
    state.keys_changed(&req);
    Ok(None)
}
