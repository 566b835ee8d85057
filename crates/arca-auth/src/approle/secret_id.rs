//! Secret IDs: issued (`role/<n>/secret-id`, `role/<n>/custom-secret-id`), listed by accessor,
//! looked up and destroyed by value or by accessor. A secret ID is stored only as its HMAC
//! under the role's key, at `<prefix><role name HMAC>/<secret ID HMAC>`; its accessor is an
//! index to that HMAC.

use std::collections::BTreeMap;
use std::sync::Arc;

use arca_sdk::framework::{Field, FieldData, FieldType, PathDef, generic_name_regex};
use arca_sdk::storage::StorageExt;
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response, Storage};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;
use zeroize::Zeroizing;

use super::role::{RoleEntry, keys_response, role_entry};
use super::{
    ACCESSOR_LOCAL_PREFIX, ACCESSOR_PREFIX, SECRET_ID_LOCAL_PREFIX, State, create_hmac, go_time,
    now_nanos, op,
};

/// A secret ID as stored (under the HMAC of its value).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct SecretIdEntry {
    /// The accessor: a UUID naming the secret ID without revealing it.
    pub secret_id_accessor: String,
    /// Logins left (0 = unlimited).
    pub secret_id_num_uses: i64,
    /// Its TTL in seconds as asked (0 = none).
    pub secret_id_ttl: u64,
    /// When it was made (Unix nanoseconds).
    pub creation_time: i64,
    /// When it expires (Unix nanoseconds), if ever.
    pub expiration_time: Option<i64>,
    /// When it was last changed (Unix nanoseconds).
    pub last_updated_time: i64,
    /// Metadata given when it was made; added to the token's.
    pub metadata: BTreeMap<String, String>,
    /// CIDR blocks logins with it must come from.
    pub cidr_list: Vec<String>,
    /// CIDR blocks its tokens may be used from (overrides the role's).
    pub token_bound_cidrs: Vec<String>,
}

impl SecretIdEntry {
    /// Whether it has expired at `now` (nanoseconds).
    pub fn expired(&self, now: i64) -> bool {
        self.expiration_time.is_some_and(|t| now > t)
    }

    /// What a lookup shows, as OpenBao's `ToResponseData`.
    fn response_data(&self) -> JsonMap {
        let mut m = JsonMap::new();
        m.insert("secret_id_accessor".into(), json!(self.secret_id_accessor));
        m.insert("secret_id_num_uses".into(), json!(self.secret_id_num_uses));
        m.insert("secret_id_ttl".into(), json!(self.secret_id_ttl));
        m.insert(
            "creation_time".into(),
            json!(go_time(Some(self.creation_time))),
        );
        m.insert(
            "expiration_time".into(),
            json!(go_time(self.expiration_time)),
        );
        m.insert(
            "last_updated_time".into(),
            json!(go_time(Some(self.last_updated_time))),
        );
        m.insert("metadata".into(), json!(self.metadata));
        m.insert("cidr_list".into(), json!(self.cidr_list));
        m.insert("token_bound_cidrs".into(), json!(self.token_bound_cidrs));
        m
    }
}

/// The accessor index entry.
#[derive(Serialize, Deserialize)]
pub(super) struct AccessorEntry {
    /// The HMAC of the secret ID the accessor names.
    pub secret_id_hmac: String,
}

/// Where a role's secret IDs live, and the HMAC of one of them.
pub(super) struct SecretIdKeys {
    /// `<prefix><role name HMAC>/`.
    pub dir: String,
    /// The secret ID's HMAC.
    pub hmac: String,
}

impl SecretIdKeys {
    /// The storage key of the secret ID.
    pub fn key(&self) -> String {
        format!("{}{}", self.dir, self.hmac)
    }
}

/// The directory of a role's secret IDs.
pub(super) fn role_dir(role: &RoleEntry) -> Result<String, LogicalError> {
    let role_hmac = create_hmac(&role.hmac_key, &role.name)
        .map_err(|e| LogicalError::internal(format!("failed to create HMAC of role_name: {e}")))?;
    Ok(format!("{}{role_hmac}/", role.secret_id_prefix))
}

/// The keys of `secret_id` under `role`.
pub(super) fn secret_id_keys(
    role: &RoleEntry,
    secret_id: &str,
) -> Result<SecretIdKeys, LogicalError> {
    let hmac = create_hmac(&role.hmac_key, secret_id)
        .map_err(|e| LogicalError::internal(format!("failed to create HMAC of secret_id: {e}")))?;
    Ok(SecretIdKeys {
        dir: role_dir(role)?,
        hmac,
    })
}

/// The accessor index prefix that goes with a secret ID prefix.
pub(super) fn accessor_prefix(secret_id_prefix: &str) -> &'static str {
    if secret_id_prefix == SECRET_ID_LOCAL_PREFIX {
        ACCESSOR_LOCAL_PREFIX
    } else {
        ACCESSOR_PREFIX
    }
}

async fn accessor_key(
    st: &State,
    s: &dyn Storage,
    accessor: &str,
    secret_id_prefix: &str,
) -> Result<String, LogicalError> {
    Ok(format!(
        "{}{}",
        accessor_prefix(secret_id_prefix),
        st.salted(s, accessor).await?
    ))
}

/// The accessor index entry of `accessor`.
pub(super) async fn accessor_entry(
    st: &State,
    s: &dyn Storage,
    accessor: &str,
    secret_id_prefix: &str,
) -> Result<Option<AccessorEntry>, LogicalError> {
    if accessor.is_empty() {
        return Err(LogicalError::invalid_input("missing secretIDAccessor"));
    }
    s.get_json(&accessor_key(st, s, accessor, secret_id_prefix).await?)
        .await
}

/// Deletes the accessor index entry of `accessor`.
pub(super) async fn delete_accessor(
    st: &State,
    s: &dyn Storage,
    accessor: &str,
    secret_id_prefix: &str,
) -> Result<(), LogicalError> {
    s.delete(&accessor_key(st, s, accessor, secret_id_prefix).await?)
        .await
        .map_err(|e| {
            LogicalError::internal(format!("failed to delete accessor storage entry: {e}"))
        })
}

/// The secret ID stored at `key`, expired or not. The caller holds its lock.
pub(super) async fn stored_secret_id(
    s: &dyn Storage,
    key: &str,
) -> Result<Option<SecretIdEntry>, LogicalError> {
    s.get_json(key).await
}

/// The secret ID stored at `key` unless it has expired (an expired one waits for tidy).
pub(super) async fn live_secret_id(
    s: &dyn Storage,
    key: &str,
) -> Result<Option<SecretIdEntry>, LogicalError> {
    Ok(stored_secret_id(s, key)
        .await?
        .filter(|e| !e.expired(now_nanos())))
}

fn field(name: &str, kind: FieldType, description: &str) -> Field {
    Field::new(name, kind, description)
}

fn issue_fields() -> Vec<Field> {
    use FieldType as T;
    vec![
        field(
            "metadata",
            T::String,
            "Metadata to be tied to the SecretID. This should be a JSON formatted string containing the metadata in key value pairs.",
        ),
        field(
            "cidr_list",
            T::CommaStringSlice,
            "Comma separated string or list of CIDR blocks enforcing secret IDs to be used from specific set of IP addresses. If 'bound_cidr_list' is set on the role, then the list of CIDR blocks listed here should be a subset of the CIDR blocks listed on the role.",
        ),
        field(
            "token_bound_cidrs",
            T::CommaStringSlice,
            "Comma separated string or list of CIDR blocks. If set, specifies the blocks of IP addresses which can use the returned token. Should be a subset of the token CIDR blocks listed on the role, if any.",
        ),
        field(
            "num_uses",
            T::Int,
            "Number of times this SecretID can be used, after which the SecretID expires. Overrides secret_id_num_uses role option when supplied. May not be higher than role's secret_id_num_uses.",
        ),
        field(
            "ttl",
            T::DurationSecond,
            "Duration in seconds after which this SecretID expires. Overrides secret_id_ttl role option when supplied. May not be longer than role's secret_id_ttl.",
        ),
    ]
}

fn path_with(suffix: &str, fields: Vec<Field>) -> PathDef {
    let mut p = PathDef::new(format!("role/{}{suffix}", generic_name_regex("role_name")))
        .field(field("role_name", FieldType::String, "Name of the role."));
    for f in fields {
        p = p.field(f);
    }
    p
}

/// The secret ID paths of a role.
pub(super) fn paths(st: &Arc<State>) -> Vec<PathDef> {
    let secret_id = || {
        field(
            "secret_id",
            FieldType::String,
            "SecretID attached to the role.",
        )
    };
    let accessor = || {
        field(
            "secret_id_accessor",
            FieldType::String,
            "Accessor of the SecretID",
        )
    };
    let mut list_fields = issue_fields();
    list_fields.push(field(
        "after",
        FieldType::String,
        "Optional entry to list begin listing after, not required to exist.",
    ));
    list_fields.push(field(
        "limit",
        FieldType::Int,
        "Optional number of entries to return; defaults to all entries.",
    ));
    let mut custom_fields = issue_fields();
    custom_fields.push(secret_id());
    vec![
        path_with("/secret-id/?", list_fields)
            .op(Operation::Update, op(st, issue))
            .op(Operation::List, op(st, list)),
        path_with("/secret-id/lookup/?", vec![secret_id()]).op(Operation::Update, op(st, lookup)),
        path_with("/secret-id/destroy/?", vec![secret_id()])
            .op(Operation::Update, op(st, destroy))
            .op(Operation::Delete, op(st, destroy)),
        path_with("/secret-id-accessor/lookup/?", vec![accessor()])
            .op(Operation::Update, op(st, accessor_lookup)),
        path_with("/secret-id-accessor/destroy/?", vec![accessor()])
            .op(Operation::Update, op(st, accessor_destroy))
            .op(Operation::Delete, op(st, accessor_destroy)),
        path_with("/custom-secret-id", custom_fields).op(Operation::Update, op(st, issue_custom)),
    ]
}

fn role_name(d: &FieldData) -> Result<String, LogicalError> {
    let name = d.get_str("role_name")?;
    if name.is_empty() {
        return Err(LogicalError::bad_request("missing role_name"));
    }
    Ok(name)
}

fn given_secret(d: &FieldData, name: &str) -> Result<Zeroizing<String>, LogicalError> {
    let v = Zeroizing::new(d.get_str(name)?);
    if v.is_empty() {
        return Err(LogicalError::bad_request(format!("missing {name}")));
    }
    Ok(v)
}

async fn issue(
    st: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let secret_id = Zeroizing::new(uuid::Uuid::new_v4().to_string());
    issue_common(st, req, d, secret_id).await
}

async fn issue_custom(
    st: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    role_name(&d)?;
    let secret_id = given_secret(&d, "secret_id")?;
    issue_common(st, req, d, secret_id).await
}

/// OpenBao's `handleRoleSecretIDCommon`: checks the request against the role, then stores
/// the secret ID.
async fn issue_common(
    st: Arc<State>,
    req: Request,
    d: FieldData,
    secret_id: Zeroizing<String>,
) -> Result<Option<Response>, LogicalError> {
    let name = role_name(&d)?;
    let s = req.storage()?.clone();
    let _guard = st.role_lock(&name).read().await;
    let Some(role) = role_entry(s.as_ref(), &name).await? else {
        return Err(LogicalError::not_found(format!(
            "role {name:?} does not exist"
        )));
    };
    if !role.bind_secret_id {
        return Err(LogicalError::bad_request(
            "bind_secret_id is not set on the role",
        ));
    }
    let mut entry = requested_entry(&role, &d)?;
    register(&st, s.as_ref(), &role, &secret_id, &mut entry).await?;
    let mut data = JsonMap::new();
    data.insert("secret_id".into(), json!(secret_id.as_str()));
    data.insert("secret_id_accessor".into(), json!(entry.secret_id_accessor));
    data.insert(
        "secret_id_ttl".into(),
        json!(derive_ttl(&st, entry.secret_id_ttl)),
    );
    data.insert("secret_id_num_uses".into(), json!(entry.secret_id_num_uses));
    Ok(Some(Response::with_data(data)))
}

/// The secret ID the request asks for, checked against the role with OpenBao's texts.
fn requested_entry(role: &RoleEntry, d: &FieldData) -> Result<SecretIdEntry, LogicalError> {
    let cidr_list = d.get_strings("cidr_list")?;
    if !cidr_list.is_empty() {
        super::cidr::validate_list(&cidr_list).map_err(|e| {
            LogicalError::invalid_input(format!("failed to validate CIDR blocks: {e}"))
        })?;
    }
    super::cidr::verify_subset(&cidr_list, &role.secret_id_bound_cidrs)
        .map_err(LogicalError::invalid_input)?;
    let token_cidrs = d.get_strings("token_bound_cidrs")?;
    if !token_cidrs.is_empty() {
        super::cidr::validate_list(&token_cidrs).map_err(|e| {
            LogicalError::invalid_input(format!("failed to validate token CIDR blocks: {e}"))
        })?;
    }
    super::cidr::verify_subset(&token_cidrs, &role.token.token_bound_cidrs)
        .map_err(LogicalError::invalid_input)?;
    let num_uses = match d.get_given("num_uses")? {
        Some(v) => {
            let n = v.as_i64().unwrap_or(0);
            if n < 0 {
                return Err(LogicalError::bad_request("num_uses cannot be negative"));
            }
            let role_max = role.secret_id_num_uses;
            if role_max > 0 && (n == 0 || n > role_max) {
                return Err(LogicalError::bad_request(
                    "num_uses cannot be higher than the role's secret_id_num_uses",
                ));
            }
            n
        }
        None => role.secret_id_num_uses,
    };
    let ttl = match d.get_given("ttl")? {
        Some(v) => {
            let t = v.as_u64().unwrap_or(0);
            let role_max = role.secret_id_ttl;
            if role_max > 0 && (t == 0 || t > role_max) {
                return Err(LogicalError::bad_request(
                    "ttl cannot be longer than the role's secret_id_ttl",
                ));
            }
            t
        }
        None => role.secret_id_ttl,
    };
    let metadata = parse_metadata(&d.get_str("metadata")?)
        .map_err(|e| LogicalError::bad_request(format!("failed to parse metadata: {e}")))?;
    Ok(SecretIdEntry {
        secret_id_num_uses: num_uses,
        secret_id_ttl: ttl,
        metadata,
        cidr_list,
        token_bound_cidrs: token_cidrs,
        ..SecretIdEntry::default()
    })
}

/// OpenBao's `deriveSecretIDTTL`: a TTL above the mount's maximum is the maximum.
fn derive_ttl(st: &State, ttl: u64) -> u64 {
    ttl.min(st.max_lease_ttl().as_secs())
}

/// OpenBao's `registerSecretIDEntry`: refuses a secret ID already stored, stamps the times,
/// writes the accessor index, then the secret ID, under the secret ID's lock. Its errors carry
/// OpenBao's `failed to store secret_id: …` text; a secret ID already taken is the caller's
/// mistake (a 400; OpenBao answers it with a 500).
async fn register(
    st: &State,
    s: &dyn Storage,
    role: &RoleEntry,
    secret_id: &str,
    entry: &mut SecretIdEntry,
) -> Result<(), LogicalError> {
    let fail = |m: String| LogicalError::internal(format!("failed to store secret_id: {m}"));
    let hmac = create_hmac(&role.hmac_key, secret_id)
        .map_err(|e| fail(format!("failed to create HMAC of secret ID: {e}")))?;
    let role_hmac = create_hmac(&role.hmac_key, &role.name)
        .map_err(|e| fail(format!("failed to create HMAC of role_name: {e}")))?;
    let keys = SecretIdKeys {
        dir: format!("{}{role_hmac}/", role.secret_id_prefix),
        hmac,
    };
    let _lock = st.secret_id_lock(&keys.hmac).write().await;
    if stored_secret_id(s, &keys.key())
        .await
        .map_err(|e| fail(e.to_string()))?
        .is_some()
    {
        return Err(LogicalError::invalid_input(
            "failed to store secret_id: SecretID is already registered",
        ));
    }
    let now = now_nanos();
    entry.creation_time = now;
    entry.last_updated_time = now;
    let ttl = derive_ttl(st, entry.secret_id_ttl);
    if ttl != 0 {
        let ttl_nanos = i64::try_from(ttl)
            .unwrap_or(i64::MAX)
            .saturating_mul(1_000_000_000);
        entry.expiration_time = Some(now.saturating_add(ttl_nanos));
    }
    entry.secret_id_accessor = uuid::Uuid::new_v4().to_string();
    let index = AccessorEntry {
        secret_id_hmac: keys.hmac.clone(),
    };
    let akey = accessor_key(st, s, &entry.secret_id_accessor, &role.secret_id_prefix)
        .await
        .map_err(|e| fail(e.to_string()))?;
    s.put_json(&akey, &index)
        .await
        .map_err(|e| fail(format!("failed to persist accessor index entry: {e}")))?;
    s.put_json(&keys.key(), entry)
        .await
        .map_err(|e| fail(e.to_string()))
}

/// strutil's `ParseArbitraryKeyValues`: JSON (or base64 of JSON) of a string map, else
/// `k=v` pairs separated by commas (lower-cased), with its texts.
pub(super) fn parse_metadata(input: &str) -> Result<BTreeMap<String, String>, String> {
    let input = input.trim();
    if input.is_empty() {
        return Ok(BTreeMap::new());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(input)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    let input = decoded.as_deref().unwrap_or(input);
    let out = match serde_json::from_str::<BTreeMap<String, String>>(input) {
        Ok(m) => m,
        Err(_) => parse_key_values(input).map_err(|e| format!("failed to parse the input: {e}"))?,
    };
    for (k, v) in &out {
        if !k.is_empty() && v.is_empty() {
            return Err(format!("invalid value for key {k:?}"));
        }
    }
    Ok(out)
}

/// strutil's `ParseKeyValues` with `,`.
fn parse_key_values(input: &str) -> Result<BTreeMap<String, String>, String> {
    let mut items: Vec<String> = input
        .split(',')
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    items.sort();
    items.dedup();
    let mut out = BTreeMap::new();
    for item in items {
        let shards: Vec<&str> = item.split('=').collect();
        let [k, v] = shards.as_slice() else {
            return Err("invalid <key,value> format".into());
        };
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || v.is_empty() {
            return Err(format!("invalid <key,value> pair: key: {k:?} value: {v:?}"));
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

async fn list(
    st: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = role_name(&d)?;
    let s = req.storage()?.clone();
    let _guard = st.role_lock(&name).read().await;
    let Some(role) = role_entry(s.as_ref(), &name).await? else {
        return Err(LogicalError::bad_request(format!(
            "role {name:?} does not exist"
        )));
    };
    let dir = role_dir(&role)?;
    let after = d.get_str("after")?;
    let limit = usize::try_from(d.get_i64("limit")?).unwrap_or(0);
    let mut accessors = Vec::new();
    for hmac in s.list_page(&dir, &after, limit).await? {
        if hmac.is_empty() {
            continue;
        }
        let _lock = st.secret_id_lock(&hmac).read().await;
        let Some(e) = stored_secret_id(s.as_ref(), &format!("{dir}{hmac}")).await? else {
            return Err(LogicalError::internal(
                "storage entry for SecretID is present but no content found at the index",
            ));
        };
        accessors.push(e.secret_id_accessor);
    }
    keys_response(accessors)
}

/// The role a lookup or destroy names; a missing role is a 500 there in OpenBao, a 400 with
/// the same text here.
async fn existing_role(s: &dyn Storage, name: &str) -> Result<RoleEntry, LogicalError> {
    role_entry(s, name)
        .await?
        .ok_or_else(|| LogicalError::invalid_input(format!("role {name:?} does not exist")))
}

async fn lookup(
    st: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = role_name(&d)?;
    let secret_id = given_secret(&d, "secret_id")?;
    let s = req.storage()?.clone();
    let _guard = st.role_lock(&name).read().await;
    let role = existing_role(s.as_ref(), &name).await?;
    let keys = secret_id_keys(&role, &secret_id)?;
    let _lock = st.secret_id_lock(&keys.hmac).write().await;
    let Some(entry) = live_secret_id(s.as_ref(), &keys.key()).await? else {
        return Ok(None);
    };
    if accessor_entry(
        &st,
        s.as_ref(),
        &entry.secret_id_accessor,
        &role.secret_id_prefix,
    )
    .await
    .map_err(|e| LogicalError::internal(format!("failed to read secret ID accessor entry: {e}")))?
    .is_none()
    {
        // A secret ID without its accessor is revoked on sight.
        s.delete(&keys.key()).await?;
        return Err(LogicalError::bad_request("invalid secret id"));
    }
    Ok(Some(Response::with_data(entry.response_data())))
}

async fn destroy(
    st: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = role_name(&d)?;
    let secret_id = given_secret(&d, "secret_id")?;
    let s = req.storage()?.clone();
    let _guard = st.role_lock(&name).read().await;
    let role = existing_role(s.as_ref(), &name).await?;
    let keys = secret_id_keys(&role, &secret_id)?;
    let _lock = st.secret_id_lock(&keys.hmac).write().await;
    let Some(entry) = stored_secret_id(s.as_ref(), &keys.key()).await? else {
        return Ok(None);
    };
    delete_accessor(
        &st,
        s.as_ref(),
        &entry.secret_id_accessor,
        &role.secret_id_prefix,
    )
    .await?;
    s.delete(&keys.key())
        .await
        .map_err(|e| LogicalError::internal(format!("failed to delete secret_id: {e}")))?;
    Ok(None)
}

async fn accessor_lookup(
    st: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = role_name(&d)?;
    let accessor = d.get_str("secret_id_accessor")?;
    if accessor.is_empty() {
        return Err(LogicalError::bad_request("missing secret_id_accessor"));
    }
    let s = req.storage()?.clone();
    let _guard = st.role_lock(&name).read().await;
    let role = existing_role(s.as_ref(), &name).await?;
    let Some(index) = accessor_entry(&st, s.as_ref(), &accessor, &role.secret_id_prefix).await?
    else {
        // OpenBao answers this one with a 404 carrying the text as `data.error`.
        let mut data = JsonMap::new();
        data.insert(
            "error".into(),
            json!(format!(
                "failed to find accessor entry for secret_id_accessor: {accessor:?}"
            )),
        );
        let mut resp = Response::with_data(data);
        resp.status = Some(404);
        return Ok(Some(resp));
    };
    let dir = role_dir(&role)?;
    let _lock = st.secret_id_lock(&index.secret_id_hmac).read().await;
    // An accessor of another role names no secret ID under this role's directory.
    let Some(entry) = live_secret_id(s.as_ref(), &format!("{dir}{}", index.secret_id_hmac)).await?
    else {
        return Ok(None);
    };
    Ok(Some(Response::with_data(entry.response_data())))
}

async fn accessor_destroy(
    st: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = role_name(&d)?;
    let accessor = d.get_str("secret_id_accessor")?;
    if accessor.is_empty() {
        return Err(LogicalError::bad_request("missing secret_id_accessor"));
    }
    let s = req.storage()?.clone();
    let _guard = st.role_lock(&name).read().await;
    let role = existing_role(s.as_ref(), &name).await?;
    let Some(index) = accessor_entry(&st, s.as_ref(), &accessor, &role.secret_id_prefix).await?
    else {
        // OpenBao: a 500; an accessor that does not exist is the caller's mistake: 400.
        return Err(LogicalError::invalid_input(format!(
            "failed to find accessor entry for secret_id_accessor: {accessor:?}"
        )));
    };
    let key = format!("{}{}", role_dir(&role)?, index.secret_id_hmac);
    let _lock = st.secret_id_lock(&index.secret_id_hmac).write().await;
    if stored_secret_id(s.as_ref(), &key).await?.is_none() {
        // The accessor belongs to another role.
        return Err(LogicalError::forbidden("invalid secret id accessor"));
    }
    delete_accessor(&st, s.as_ref(), &accessor, &role.secret_id_prefix).await?;
    s.delete(&key)
        .await
        .map_err(|e| LogicalError::internal(format!("failed to delete secret_id: {e}")))?;
    Ok(None)
}

/// Deletes every secret ID of `role` (and its accessor), when the role goes.
pub(super) async fn flush_role_secret_ids(
    st: &State,
    s: &dyn Storage,
    role: &RoleEntry,
) -> Result<(), LogicalError> {
    let dir = role_dir(role)?;
    for hmac in s.list(&dir).await? {
        let _lock = st.secret_id_lock(&hmac).write().await;
        let key = format!("{dir}{hmac}");
        if let Some(e) = stored_secret_id(s, &key).await?
            && !e.secret_id_accessor.is_empty()
        {
            delete_accessor(st, s, &e.secret_id_accessor, &role.secret_id_prefix).await?;
        }
        s.delete(&key).await.map_err(|e| {
            LogicalError::internal(format!(
                "error deleting SecretID {hmac:?} from storage: {e}"
            ))
        })?;
    }
    Ok(())
}
