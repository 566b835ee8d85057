//! `role/<name>` (create, read, update, delete) and `role/` (list): which service accounts,
//! in which namespaces, may log in, and the tokens they get. Stored at `role/<lower-cased
//! name>`.

use std::fmt;
use std::sync::Arc;

use arca_sdk::duration::format_go_duration;
use arca_sdk::framework::{
    Field, FieldData, FieldType, PathDef, existence, generic_name_regex, handler, paged_list_path,
};
use arca_sdk::storage::StorageExt;
use arca_sdk::token_util::{
    LegacyTokenFields, TokenParams, deprecation_text, token_fields, upgrade_duration, upgrade_int,
    upgrade_strings,
};
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response, Storage};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::selector;
use crate::{State, shared_handler};

/// Where roles live in the mount's storage.
const ROLE_PREFIX: &str = "role/";

/// The version of the record layout this code writes and reads.
const RECORD_VERSION: u32 = 1;

/// Alias names are the service account's UID (the default).
pub(crate) const ALIAS_SOURCE_UID: &str = "serviceaccount_uid";
/// Alias names are `<namespace>/<name>`.
pub(crate) const ALIAS_SOURCE_NAME: &str = "serviceaccount_name";

/// One role.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct RoleEntry {
    /// Layout version ([`RECORD_VERSION`]).
    pub version: u32,
    /// The token settings.
    pub token: TokenParams,
    /// Service account names (globs) allowed, or `*`.
    pub bound_service_account_names: Vec<String>,
    /// Namespaces (globs) allowed, or `*`; absent when never given (a read shows `null`).
    pub bound_service_account_namespaces: Option<Vec<String>>,
    /// A label selector of the namespaces allowed, as given.
    pub bound_service_account_namespace_selector: String,
    /// The audience the JWT must carry, when set.
    pub audience: String,
    /// What alias names are made of.
    pub alias_name_source: String,
    /// Legacy `policies`.
    pub policies: Vec<String>,
    /// Legacy `num_uses`.
    pub num_uses: i64,
    /// Legacy `ttl` in seconds.
    pub ttl: u64,
    /// Legacy `max_ttl` in seconds.
    pub max_ttl: u64,
    /// Legacy `period` in seconds.
    pub period: u64,
    /// Legacy `bound_cidrs`.
    pub bound_cidrs: Vec<String>,
}

impl fmt::Debug for RoleEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoleEntry")
            .field("names", &self.bound_service_account_names)
            .field("namespaces", &self.bound_service_account_namespaces)
            .field("selector", &self.bound_service_account_namespace_selector)
            .field("audience", &self.audience)
            .field("alias_name_source", &self.alias_name_source)
            .field("token", &self.token)
            .finish()
    }
}

impl RoleEntry {
    /// Fills token settings a record only has under the older names, as OpenBao does on
    /// every read of a role.
    fn upgrade_legacy(&mut self) {
        self.token.upgrade_legacy(LegacyTokenFields {
            ttl: self.ttl,
            max_ttl: self.max_ttl,
            period: self.period,
            num_uses: self.num_uses,
            policies: &self.policies,
            bound_cidrs: &self.bound_cidrs,
        });
    }
}

fn key(name: &str) -> String {
    format!("{ROLE_PREFIX}{}", name.to_lowercase())
}

/// Reads the role `name` (any case), legacy fields upgraded.
pub(crate) async fn load(
    storage: &dyn Storage,
    name: &str,
) -> Result<Option<RoleEntry>, LogicalError> {
    let Some(mut role) = storage.get_json::<RoleEntry>(&key(name)).await? else {
        return Ok(None);
    };
    if role.version > RECORD_VERSION {
        return Err(LogicalError::internal(format!(
            "kubernetes role record version {} is newer than this server understands",
            role.version
        )));
    }
    role.upgrade_legacy();
    Ok(Some(role))
}

/// The `role/` list path.
pub(crate) fn list_path() -> PathDef {
    paged_list_path("role/?$", ROLE_PREFIX).help(
        "Lists all the roles registered with the backend.",
        "The list will contain the names of the roles.",
    )
}

/// The `role/<name>` path.
pub(crate) fn path(st: &Arc<State>) -> PathDef {
    let legacy =
        |name: &str, kind: FieldType, new: &str| Field::new(name, kind, deprecation_text(new));
    let mut p = PathDef::new(format!("role/{}$", generic_name_regex("name")))
        .field(Field::new("name", FieldType::String, "Name of the role."))
        .field(Field::new(
            "bound_service_account_names",
            FieldType::CommaStringSlice,
            "List of service account names able to access this role. If set to \"*\" all names are allowed.",
        ))
        .field(Field::new(
            "bound_service_account_namespaces",
            FieldType::CommaStringSlice,
            "List of namespaces allowed to access this role. If set to \"*\" all namespaces are allowed.",
        ))
        .field(Field::new(
            "bound_service_account_namespace_selector",
            FieldType::String,
            "A label selector for Kubernetes namespaces which are allowed to access this role. Accepts either a JSON or YAML object. If set with bound_service_account_namespaces, the conditions are ORed.",
        ))
        .field(Field::new(
            "audience",
            FieldType::String,
            "Optional Audience claim to verify in the jwt.",
        ))
        .field(
            Field::new(
                "alias_name_source",
                FieldType::String,
                "Source to use when deriving the Alias name. valid choices: \"serviceaccount_uid\" : <token.uid> e.g. 474b11b5-0f20-4f9d-8ca5-65715ab325e0 (most secure choice) \"serviceaccount_name\" : <namespace>/<serviceaccount> e.g. vault/vault-agent default: \"serviceaccount_uid\"",
            )
            .default_value(Value::from(ALIAS_SOURCE_UID)),
        )
        .field(legacy("policies", FieldType::CommaStringSlice, "token_policies"))
        .field(legacy("num_uses", FieldType::Int, "token_num_uses"))
        .field(legacy("ttl", FieldType::DurationSecond, "token_ttl"))
        .field(legacy("max_ttl", FieldType::DurationSecond, "token_max_ttl"))
        .field(legacy("period", FieldType::DurationSecond, "token_period"))
        .field(legacy("bound_cidrs", FieldType::CommaStringSlice, "token_bound_cidrs"));
    for f in token_fields() {
        p = p.field(f);
    }
    p.op(Operation::Read, handler(read))
        .op(Operation::Create, shared_handler(st, write))
        .op(Operation::Update, shared_handler(st, write))
        .op(Operation::Delete, shared_handler(st, delete))
        .existence(existence(exists))
        .help(
            "Register an role with the backend.",
            "A role is required to authenticate with this backend. The role binds kubernetes service account metadata with token policies and settings. The bindings, token polices and token settings can all be configured using this endpoint",
        )
}

async fn exists(req: Request, d: FieldData) -> Result<bool, LogicalError> {
    let name = d.get_str("name")?;
    Ok(load(req.storage()?.as_ref(), &name).await?.is_some())
}

/// `GET role/<name>`: as OpenBao shows it; a bare 404 when absent.
async fn read(req: Request, d: FieldData) -> Result<Option<Response>, LogicalError> {
    let name = d.get_str("name")?;
    if name.is_empty() {
        return Err(LogicalError::bad_request("missing name"));
    }
    let Some(role) = load(req.storage()?.as_ref(), &name).await? else {
        return Err(LogicalError::empty_not_found());
    };
    Ok(Some(Response::with_data(read_data(&role))))
}

fn read_data(role: &RoleEntry) -> JsonMap {
    let mut d = JsonMap::new();
    d.insert(
        "bound_service_account_names".into(),
        Value::from(role.bound_service_account_names.clone()),
    );
    d.insert(
        "bound_service_account_namespaces".into(),
        role.bound_service_account_namespaces
            .clone()
            .map_or(Value::Null, Value::from),
    );
    d.insert(
        "bound_service_account_namespace_selector".into(),
        Value::from(role.bound_service_account_namespace_selector.clone()),
    );
    if !role.audience.is_empty() {
        d.insert("audience".into(), Value::from(role.audience.clone()));
    }
    role.token.populate_token_data(&mut d);
    if !role.policies.is_empty() {
        d.insert(
            "policies".into(),
            Value::from(role.token.token_policies.clone()),
        );
    }
    if !role.bound_cidrs.is_empty() {
        d.insert(
            "bound_cidrs".into(),
            Value::from(role.token.token_bound_cidrs.clone()),
        );
    }
    if role.ttl > 0 {
        d.insert("ttl".into(), Value::from(role.ttl));
    }
    if role.max_ttl > 0 {
        d.insert("max_ttl".into(), Value::from(role.max_ttl));
    }
    if role.period > 0 {
        d.insert("period".into(), Value::from(role.period));
    }
    if role.num_uses > 0 {
        d.insert("num_uses".into(), Value::from(role.num_uses));
    }
    d.insert(
        "alias_name_source".into(),
        Value::from(role.alias_name_source.clone()),
    );
    d
}

/// `DELETE role/<name>`: absent is fine.
async fn delete(
    st: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = d.get_str("name")?;
    if name.is_empty() {
        return Err(LogicalError::bad_request("missing role name"));
    }
    let _guard = st.write_lock.lock().await;
    req.storage()?.delete(&key(&name)).await?;
    Ok(None)
}

fn mix_error() -> LogicalError {
    LogicalError::bad_request("can not mix \"*\" with values")
}

/// `POST role/<name>`: OpenBao's checks in its order, with its texts.
async fn write(
    st: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = d.get_str("name")?;
    if name.is_empty() {
        return Err(LogicalError::bad_request("missing role name"));
    }
    let storage = req.storage()?.clone();
    let _guard = st.write_lock.lock().await;
    let creating = req.operation == Operation::Create;
    let mut role = match load(storage.as_ref(), &name).await? {
        Some(r) => r,
        None if creating => RoleEntry::default(),
        None => {
            return Err(LogicalError::internal(
                "role entry not found during update operation",
            ));
        }
    };
    role.token.parse_token_fields(&d)?;
    upgrade_legacy_fields(&mut role, &d)?;
    let max_lease = st.system.max_lease_ttl();
    if role.token.token_period > max_lease.as_secs() {
        return Err(LogicalError::bad_request(format!(
            "token period of '{:?}' is greater than the backend's maximum lease TTL of '{:?}'",
            format_go_duration(std::time::Duration::from_secs(role.token.token_period)),
            format_go_duration(max_lease)
        )));
    }
    if role.token.token_max_ttl > 0 && role.token.token_ttl > role.token.token_max_ttl {
        return Err(LogicalError::bad_request(
            "token ttl should not be greater than token max ttl",
        ));
    }
    let mut resp = Response::default();
    if role.token.token_max_ttl > max_lease.as_secs() {
        resp.warn("max_ttl is greater than the system or backend mount's maximum TTL value; issued tokens' max TTL value will be truncated");
    }
    apply_bindings(&mut role, &d, creating)?;
    role.version = RECORD_VERSION;
    storage.put_json(&key(&name), &role).await?;
    Ok((!resp.warnings.is_empty()).then_some(resp))
}

/// OpenBao's `UpgradeValue` for each older field: the `token_*` name wins.
fn upgrade_legacy_fields(role: &mut RoleEntry, d: &FieldData) -> Result<(), LogicalError> {
    let t = &mut role.token;
    upgrade_strings(
        d,
        "policies",
        "token_policies",
        &mut role.policies,
        &mut t.token_policies,
    )?;
    upgrade_strings(
        d,
        "bound_cidrs",
        "token_bound_cidrs",
        &mut role.bound_cidrs,
        &mut t.token_bound_cidrs,
    )?;
    upgrade_int(
        d,
        "num_uses",
        "token_num_uses",
        &mut role.num_uses,
        &mut t.token_num_uses,
    )?;
    upgrade_duration(d, "ttl", "token_ttl", &mut role.ttl, &mut t.token_ttl)?;
    upgrade_duration(
        d,
        "max_ttl",
        "token_max_ttl",
        &mut role.max_ttl,
        &mut t.token_max_ttl,
    )?;
    upgrade_duration(
        d,
        "period",
        "token_period",
        &mut role.period,
        &mut t.token_period,
    )
}

/// The role's own fields: names, namespaces, selector (replaced by every write), audience
/// and alias name source.
fn apply_bindings(role: &mut RoleEntry, d: &FieldData, creating: bool) -> Result<(), LogicalError> {
    if d.is_set("bound_service_account_names") || creating {
        role.bound_service_account_names = d.get_strings("bound_service_account_names")?;
    }
    let names = &role.bound_service_account_names;
    if names.is_empty() {
        return Err(LogicalError::bad_request(
            "\"bound_service_account_names\" can not be empty",
        ));
    }
    if names.len() > 1 && names.iter().any(|n| n == "*") {
        return Err(mix_error());
    }
    if d.is_set("bound_service_account_namespaces") {
        role.bound_service_account_namespaces =
            Some(d.get_strings("bound_service_account_namespaces")?);
    }
    role.bound_service_account_namespace_selector =
        d.get_str("bound_service_account_namespace_selector")?;
    let namespaces = role
        .bound_service_account_namespaces
        .clone()
        .unwrap_or_default();
    let selector_text = &role.bound_service_account_namespace_selector;
    if namespaces.is_empty() && selector_text.is_empty() {
        return Err(LogicalError::bad_request(
            "\"bound_service_account_namespaces\" can not be empty if \"bound_service_account_namespace_selector\" is not set",
        ));
    }
    if !selector_text.is_empty() && selector::parse(selector_text).is_err() {
        return Err(LogicalError::bad_request(
            "invalid \"bound_service_account_namespace_selector\" configured",
        ));
    }
    if namespaces.len() > 1 && namespaces.iter().any(|n| n == "*") {
        return Err(mix_error());
    }
    if d.is_set("audience") {
        role.audience = d.get_str("audience")?;
    }
    if d.is_set("alias_name_source") {
        let given = d.get_str("alias_name_source")?;
        role.alias_name_source = if role.alias_name_source.is_empty() && given.is_empty() {
            ALIAS_SOURCE_UID.to_string()
        } else {
            given
        };
    } else if role.alias_name_source.is_empty() {
        role.alias_name_source = d.get_str("alias_name_source")?;
    }
    if ![ALIAS_SOURCE_UID, ALIAS_SOURCE_NAME].contains(&role.alias_name_source.as_str()) {
        return Err(LogicalError::bad_request(format!(
            "invalid alias_name_source, must be one of: {ALIAS_SOURCE_UID}, {ALIAS_SOURCE_NAME}"
        )));
    }
    Ok(())
}
