//! Roles: `role/` (list), `role/<name>` (create, read, update, delete), the per-field
//! sub-paths (`role/<name>/policies`, `.../token-ttl`, ...) and `role/<name>/role-id`, with
//! the role ID index a login looks roles up by.

use std::sync::Arc;

use arca_sdk::duration::format_go_duration;
use arca_sdk::framework::{Field, FieldData, FieldType, PathDef, existence, generic_name_regex};
use arca_sdk::storage::StorageExt;
use arca_sdk::token_util::{
    TokenParams, deprecation_text, parse_policies, token_fields, upgrade_duration, upgrade_strings,
};
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response, Storage};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::{MAX_HMAC_INPUT_LENGTH, SECRET_ID_LOCAL_PREFIX, SECRET_ID_PREFIX, State, op};

/// A role as stored. `hmac_key` keys the HMACs of its secret IDs; never shown or logged (the
/// type has no `Debug`).
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct RoleEntry {
    /// The shared token settings.
    #[serde(flatten)]
    pub token: TokenParams,
    /// The role ID, the login's first credential.
    pub role_id: String,
    /// The key of the HMACs of this role's secret IDs.
    pub hmac_key: Zeroizing<String>,
    /// The older `policies` (kept as OpenBao keeps it, shown while set).
    pub policies: Vec<String>,
    /// Uses of a secret ID issued against the role (0 = unlimited).
    pub secret_id_num_uses: i64,
    /// Life of a secret ID issued against the role, in seconds (0 = no expiry).
    pub secret_id_ttl: u64,
    /// Whether a login must present a secret ID.
    pub bind_secret_id: bool,
    /// CIDR blocks logins must come from (Go's `addr/prefix` text, as given).
    pub secret_id_bound_cidrs: Vec<String>,
    /// The older `period`, in seconds.
    pub period: u64,
    /// Roles made here have lower-cased names.
    pub lower_case_role_name: bool,
    /// `secret_id/` or `secret_id_local/`.
    pub secret_id_prefix: String,
    /// The role's name (not stored: set when read).
    #[serde(skip)]
    pub name: String,
}

impl RoleEntry {
    /// Whether the role's secret IDs are cluster-local.
    pub fn local_secret_ids(&self) -> bool {
        self.secret_id_prefix == SECRET_ID_LOCAL_PREFIX
    }

    /// OpenBao's `validateRoleConstraints`.
    fn has_constraint(&self) -> bool {
        self.bind_secret_id
            || !self.secret_id_bound_cidrs.is_empty()
            || !self.token.token_bound_cidrs.is_empty()
    }
}

/// The role ID index entry.
#[derive(Serialize, Deserialize)]
pub(super) struct RoleIdEntry {
    /// The (lower-cased) name of the role.
    pub name: String,
}

fn role_key(name: &str) -> String {
    format!("role/{}", name.to_lowercase())
}

/// Reads a role, upgrading older values as OpenBao does on read.
pub(super) async fn role_entry(
    s: &dyn Storage,
    name: &str,
) -> Result<Option<RoleEntry>, LogicalError> {
    let Some(mut role) = s.get_json::<RoleEntry>(&role_key(name)).await? else {
        return Ok(None);
    };
    if role.secret_id_prefix.is_empty() {
        role.secret_id_prefix = SECRET_ID_PREFIX.into();
    }
    if role.token.token_period == 0 && role.period > 0 {
        role.token.token_period = role.period;
    }
    if role.token.token_policies.is_empty() && !role.policies.is_empty() {
        role.token.token_policies = role.policies.clone();
    }
    role.name = if role.lower_case_role_name {
        name.to_lowercase()
    } else {
        name.to_string()
    };
    Ok(Some(role))
}

async fn role_id_key(st: &State, s: &dyn Storage, role_id: &str) -> Result<String, LogicalError> {
    Ok(format!("role_id/{}", st.salted(s, role_id).await?))
}

/// The role ID index entry of `role_id`.
pub(super) async fn role_id_entry(
    st: &State,
    s: &dyn Storage,
    role_id: &str,
) -> Result<Option<RoleIdEntry>, LogicalError> {
    if role_id.is_empty() {
        return Err(LogicalError::invalid_input("missing role id"));
    }
    s.get_json(&role_id_key(st, s, role_id).await?).await
}

async fn set_role_id_entry(
    st: &State,
    s: &dyn Storage,
    role_id: &str,
    name: &str,
) -> Result<(), LogicalError> {
    let entry = RoleIdEntry { name: name.into() };
    s.put_json(&role_id_key(st, s, role_id).await?, &entry)
        .await
}

async fn delete_role_id_entry(
    st: &State,
    s: &dyn Storage,
    role_id: &str,
) -> Result<(), LogicalError> {
    if role_id.is_empty() {
        return Err(LogicalError::invalid_input("missing role id"));
    }
    s.delete(&role_id_key(st, s, role_id).await?).await?;
    Ok(())
}

/// OpenBao's `setRoleEntry`: checks the constraints and that the role ID is not another
/// role's, moves the index when the role ID changed, writes the role. Its failures are 500s.
async fn set_role_entry(
    st: &State,
    s: &dyn Storage,
    role: &RoleEntry,
    previous_role_id: &str,
) -> Result<(), LogicalError> {
    if !role.has_constraint() {
        return Err(LogicalError::invalid_input(
            "at least one constraint should be enabled on the role",
        ));
    }
    if let Some(idx) = role_id_entry(st, s, &role.role_id).await?
        && idx.name != role.name
    {
        return Err(LogicalError::invalid_input("role_id already in use"));
    }
    if !previous_role_id.is_empty() && previous_role_id != role.role_id {
        delete_role_id_entry(st, s, previous_role_id)
            .await
            .map_err(|e| {
                LogicalError::internal(format!("failed to delete previous role ID index: {e}"))
            })?;
    }
    s.put_json(&role_key(&role.name), role).await?;
    if !previous_role_id.is_empty() && previous_role_id == role.role_id {
        return Ok(());
    }
    set_role_id_entry(st, s, &role.role_id, &role.name).await
}

fn role_name(d: &FieldData) -> Result<String, LogicalError> {
    let name = d.get_str("role_name")?;
    if name.is_empty() {
        return Err(LogicalError::bad_request("missing role_name"));
    }
    Ok(name)
}

fn role_pattern(suffix: &str) -> String {
    format!("role/{}{suffix}", generic_name_regex("role_name"))
}

fn name_field() -> Field {
    Field::new(
        "role_name",
        FieldType::String,
        format!("Name of the role. Must be less than {MAX_HMAC_INPUT_LENGTH} bytes."),
    )
}

/// The fields of `role/<name>`.
pub(super) fn role_fields() -> Vec<Field> {
    use FieldType as T;
    let mut f = vec![
        name_field(),
        Field::new(
            "bind_secret_id",
            T::Bool,
            "Impose secret_id to be presented when logging in using this role. Defaults to 'true'.",
        )
        .default_value(json!(true)),
        Field::new(
            "bound_cidr_list",
            T::CommaStringSlice,
            r#"Use "secret_id_bound_cidrs" instead."#,
        ),
        Field::new(
            "secret_id_bound_cidrs",
            T::CommaStringSlice,
            "Comma separated string or list of CIDR blocks. If set, specifies the blocks of IP addresses which can perform the login operation.",
        ),
        Field::new(
            "policies",
            T::CommaStringSlice,
            deprecation_text("token_policies"),
        ),
        Field::new(
            "secret_id_num_uses",
            T::Int,
            "Number of times a SecretID can access the role, after which the SecretID will expire. Defaults to 0 meaning that the the secret_id is of unlimited use.",
        ),
        Field::new(
            "secret_id_ttl",
            T::DurationSecond,
            "Duration in seconds after which the issued SecretID should expire. Defaults to 0, meaning no expiration.",
        ),
        Field::new(
            "period",
            T::DurationSecond,
            deprecation_text("token_period"),
        ),
        Field::new(
            "role_id",
            T::String,
            "Identifier of the role. Defaults to a UUID.",
        ),
        Field::new(
            "local_secret_ids",
            T::Bool,
            "If set, the secret IDs generated using this role will be cluster local. This can only be set during role creation and once set, it can't be reset later.",
        ),
    ];
    f.extend(token_fields());
    f
}

/// Every role path: the role, the list, the per-field sub-paths and `role-id`.
pub(super) fn paths(st: &Arc<State>) -> Vec<PathDef> {
    let mut role = PathDef::new(role_pattern(""))
        .op(Operation::Create, op(st, create_update))
        .op(Operation::Update, op(st, create_update))
        .op(Operation::Read, op(st, read))
        .op(Operation::Delete, op(st, delete))
        .existence(existence(|req: Request, d: FieldData| async move {
            let name =
                role_name(&d).map_err(|_| LogicalError::invalid_input("missing role_name"))?;
            Ok(role_entry(req.storage()?.as_ref(), &name).await?.is_some())
        }))
        .help(
            "Register an role with the backend.",
            "A role can represent a service, a machine or anything that can be IDed.",
        );
    for f in role_fields() {
        role = role.field(f);
    }
    let list = PathDef::new("role/?")
        .field(Field::new(
            "after",
            FieldType::String,
            "Optional entry to list begin listing after, not required to exist.",
        ))
        .field(Field::new(
            "limit",
            FieldType::Int,
            "Optional number of entries to return; defaults to all entries.",
        ))
        .op(Operation::List, op(st, list))
        .help(
            "Lists all the roles registered with the backend.",
            "The list will contain the names of the roles.",
        );
    let role_id = PathDef::new(role_pattern("/role-id"))
        .field(name_field())
        .field(Field::new(
            "role_id",
            FieldType::String,
            "Identifier of the role. Defaults to a UUID.",
        ))
        .op(Operation::Read, op(st, role_id_read))
        .op(Operation::Update, op(st, role_id_update))
        .help("Returns the 'role_id' of the role.", "");
    let mut out = vec![role, list, role_id];
    out.extend(SubPath::ALL.iter().map(|s| s.path(st)));
    out
}

async fn list(
    _st: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let after = d.get_str("after")?;
    let limit = usize::try_from(d.get_i64("limit")?).unwrap_or(0);
    let keys = req.storage()?.list_page("role/", &after, limit).await?;
    keys_response(keys)
}

/// `{"keys": [...]}`, or Vault's bare 404 when there are none.
pub(super) fn keys_response(keys: Vec<String>) -> Result<Option<Response>, LogicalError> {
    if keys.is_empty() {
        return Err(LogicalError::empty_not_found());
    }
    let mut data = JsonMap::new();
    data.insert("keys".into(), json!(keys));
    Ok(Some(Response::with_data(data)))
}

/// Rewrites OpenBao's older `token_type` values on a role write, with its warning.
fn adjust_token_type(st: &State, d: FieldData, resp: &mut Response) -> FieldData {
    let (to, warning) = match d.raw().get("token_type").and_then(Value::as_str) {
        Some("default-service") => (
            "service",
            "default-service has no useful meaning; adjusting to service",
        ),
        Some("default-batch") => (
            "batch",
            "default-batch has no useful meaning; adjusting to batch",
        ),
        _ => return d,
    };
    resp.warn(warning);
    let mut raw = d.into_raw();
    raw.insert("token_type".into(), json!(to));
    FieldData::new(raw, st.role_schema.clone())
}

async fn create_update(
    st: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = role_name(&d)?;
    if name.len() > MAX_HMAC_INPUT_LENGTH {
        return Err(LogicalError::bad_request(format!(
            "role_name is longer than maximum of {MAX_HMAC_INPUT_LENGTH} bytes"
        )));
    }
    let s = req.storage()?.clone();
    let _guard = st.role_lock(&name).write().await;
    let creating = req.operation == Operation::Create;
    let mut role = match role_entry(s.as_ref(), &name).await? {
        Some(r) => r,
        None if creating => RoleEntry {
            name: name.to_lowercase(),
            hmac_key: Zeroizing::new(uuid::Uuid::new_v4().to_string()),
            lower_case_role_name: true,
            ..RoleEntry::default()
        },
        None => {
            return Err(LogicalError::not_found(format!(
                "role name {name:?} doesn't exist"
            )));
        }
    };
    let mut resp = Response::default();
    let d = adjust_token_type(&st, d, &mut resp);
    role.token.parse_token_fields(&d)?;
    let previous = apply_role_fields(&st, &d, &mut role, creating)?;
    if role.token.token_max_ttl > st.max_lease_ttl().as_secs() {
        resp.warn("token_max_ttl is greater than the backend mount's maximum TTL value; issued tokens' max TTL value will be truncated");
    }
    set_role_entry(&st, s.as_ref(), &role, &previous).await?;
    Ok((!resp.warnings.is_empty()).then_some(resp))
}

/// The role's own fields of a create/update, in OpenBao's order and with its texts; answers
/// the role ID the role had before.
fn apply_role_fields(
    st: &State,
    d: &FieldData,
    role: &mut RoleEntry,
    creating: bool,
) -> Result<String, LogicalError> {
    if let Some(v) = d.get_given("local_secret_ids")? {
        if !creating {
            return Err(LogicalError::bad_request(
                "local_secret_ids can only be modified during role creation",
            ));
        }
        if v.as_bool() == Some(true) {
            role.secret_id_prefix = SECRET_ID_LOCAL_PREFIX.into();
        }
    }
    if role.secret_id_prefix.is_empty() {
        role.secret_id_prefix = SECRET_ID_PREFIX.into();
    }
    let previous = std::mem::take(&mut role.role_id);
    role.role_id = match d.get_given("role_id")? {
        Some(v) => v.as_str().unwrap_or_default().to_string(),
        None if creating => uuid::Uuid::new_v4().to_string(),
        None => previous.clone(),
    };
    if role.role_id.is_empty() {
        return Err(LogicalError::bad_request(
            "invalid role_id supplied, or failed to generate a role_id",
        ));
    }
    if d.is_set("bind_secret_id") || creating {
        role.bind_secret_id = d.get_bool("bind_secret_id")?;
    }
    let cidrs = match d.get_given("secret_id_bound_cidrs")? {
        Some(v) => Some(v),
        None => d.get_given("bound_cidr_list")?,
    };
    if let Some(v) = cidrs {
        role.secret_id_bound_cidrs = strings_of(&v);
    }
    if !role.secret_id_bound_cidrs.is_empty() {
        super::cidr::validate_list(&role.secret_id_bound_cidrs).map_err(|e| {
            LogicalError::invalid_input(format!("failed to validate CIDR blocks: {e}"))
        })?;
    }
    if d.is_set("secret_id_num_uses") || creating {
        role.secret_id_num_uses = d.get_i64("secret_id_num_uses")?;
    }
    if role.secret_id_num_uses < 0 {
        return Err(LogicalError::bad_request(
            "secret_id_num_uses cannot be negative",
        ));
    }
    if d.is_set("secret_id_ttl") || creating {
        role.secret_id_ttl = d.get_duration("secret_id_ttl")?.as_secs();
    }
    upgrade_strings(
        d,
        "policies",
        "token_policies",
        &mut role.policies,
        &mut role.token.token_policies,
    )?;
    upgrade_duration(
        d,
        "period",
        "token_period",
        &mut role.period,
        &mut role.token.token_period,
    )?;
    check_period(st, role.period, role.period)?;
    Ok(previous)
}

/// OpenBao's refusal of a period above the mount's maximum TTL; `shown` is the value its text
/// names (OpenBao names the older `period` even when `token_period` is the one too long).
fn check_period(st: &State, period: u64, shown: u64) -> Result<(), LogicalError> {
    let max = st.max_lease_ttl();
    if period > max.as_secs() {
        return Err(LogicalError::bad_request(format!(
            "period of {:?} is greater than the backend's maximum lease TTL of {:?}",
            format_go_duration(std::time::Duration::from_secs(shown)),
            format_go_duration(max)
        )));
    }
    Ok(())
}

/// The strings of a converted list value.
pub(super) fn strings_of(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

async fn read(
    st: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = role_name(&d)?;
    let s = req.storage()?.clone();
    // A read lock is enough even to repair the index: the repair writes what is already true.
    let _guard = st.role_lock(&name).read().await;
    let Some(role) = role_entry(s.as_ref(), &name).await? else {
        return Ok(None);
    };
    let mut data = JsonMap::new();
    data.insert("bind_secret_id".into(), json!(role.bind_secret_id));
    data.insert(
        "secret_id_bound_cidrs".into(),
        nullable(&role.secret_id_bound_cidrs),
    );
    data.insert("secret_id_num_uses".into(), json!(role.secret_id_num_uses));
    data.insert("secret_id_ttl".into(), json!(role.secret_id_ttl));
    data.insert("local_secret_ids".into(), json!(role.local_secret_ids()));
    role.token.populate_token_data(&mut data);
    if role.period != 0 {
        data.insert("period".into(), json!(role.period));
    }
    if !role.policies.is_empty() {
        data.insert("policies".into(), json!(role.policies));
    }
    let mut resp = Response::with_data(data);
    if !role.has_constraint() {
        resp.warn("Role does not have any constraints set on it. Updates to this role will require a constraint to be set");
    }
    if role_id_entry(&st, s.as_ref(), &role.role_id)
        .await?
        .is_none()
    {
        set_role_id_entry(&st, s.as_ref(), &role.role_id, &role.name)
            .await
            .map_err(|e| {
                LogicalError::internal(format!(
                    "failed to create secondary index for role_id {:?}: {e}",
                    role.role_id
                ))
            })?;
        resp.warn("Role identifier was missing an index back to role name. A new index has been added. Please report this observation.");
    }
    Ok(Some(resp))
}

/// A list as Go marshals a possibly-nil slice: `null` when empty.
fn nullable(v: &[String]) -> Value {
    if v.is_empty() { Value::Null } else { json!(v) }
}

async fn delete(
    st: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = role_name(&d)?;
    let s = req.storage()?.clone();
    let _guard = st.role_lock(&name).write().await;
    let Some(role) = role_entry(s.as_ref(), &name).await? else {
        return Ok(None);
    };
    super::secret_id::flush_role_secret_ids(&st, s.as_ref(), &role)
        .await
        .map_err(|e| {
            LogicalError::internal(format!(
                "failed to invalidate the secrets belonging to role {:?}: {e}",
                role.name
            ))
        })?;
    delete_role_id_entry(&st, s.as_ref(), &role.role_id)
        .await
        .map_err(|e| {
            LogicalError::internal(format!(
                "failed to delete the mapping from RoleID to role {:?}: {e}",
                role.name
            ))
        })?;
    s.delete(&role_key(&role.name)).await?;
    Ok(None)
}

async fn role_id_read(
    st: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = role_name(&d)?;
    let _guard = st.role_lock(&name).read().await;
    let Some(role) = role_entry(req.storage()?.as_ref(), &name).await? else {
        return Ok(None);
    };
    let mut data = JsonMap::new();
    data.insert("role_id".into(), json!(role.role_id));
    Ok(Some(Response::with_data(data)))
}

async fn role_id_update(
    st: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = role_name(&d)?;
    let s = req.storage()?.clone();
    let _guard = st.role_lock(&name).write().await;
    let Some(mut role) = role_entry(s.as_ref(), &name).await? else {
        return Err(LogicalError::UnsupportedPath);
    };
    let previous = std::mem::replace(&mut role.role_id, d.get_str("role_id")?);
    if role.role_id.is_empty() {
        return Err(LogicalError::bad_request("missing role_id"));
    }
    set_role_entry(&st, s.as_ref(), &role, &previous).await?;
    Ok(None)
}

fn bad(msg: impl Into<String>) -> LogicalError {
    LogicalError::bad_request(msg)
}

/// The per-field sub-paths of a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubPath {
    Policies,
    BoundCidrList,
    SecretIdBoundCidrs,
    TokenBoundCidrs,
    BindSecretId,
    SecretIdNumUses,
    SecretIdTtl,
    Period,
    TokenNumUses,
    TokenTtl,
    TokenMaxTtl,
    LocalSecretIds,
}

impl SubPath {
    const ALL: [SubPath; 12] = [
        SubPath::LocalSecretIds,
        SubPath::Policies,
        SubPath::BoundCidrList,
        SubPath::SecretIdBoundCidrs,
        SubPath::TokenBoundCidrs,
        SubPath::BindSecretId,
        SubPath::SecretIdNumUses,
        SubPath::SecretIdTtl,
        SubPath::Period,
        SubPath::TokenNumUses,
        SubPath::TokenTtl,
        SubPath::TokenMaxTtl,
    ];

    fn suffix(self) -> &'static str {
        match self {
            SubPath::Policies => "/policies",
            SubPath::BoundCidrList => "/bound-cidr-list",
            SubPath::SecretIdBoundCidrs => "/secret-id-bound-cidrs",
            SubPath::TokenBoundCidrs => "/token-bound-cidrs",
            SubPath::BindSecretId => "/bind-secret-id",
            SubPath::SecretIdNumUses => "/secret-id-num-uses",
            SubPath::SecretIdTtl => "/secret-id-ttl",
            SubPath::Period => "/period",
            SubPath::TokenNumUses => "/token-num-uses",
            SubPath::TokenTtl => "/token-ttl",
            SubPath::TokenMaxTtl => "/token-max-ttl",
            SubPath::LocalSecretIds => "/local-secret-ids",
        }
    }

    fn fields(self) -> Vec<Field> {
        use FieldType as T;
        let f = |n: &str, t: FieldType| Field::new(n, t, "");
        match self {
            SubPath::Policies => vec![
                f("policies", T::CommaStringSlice),
                f("token_policies", T::CommaStringSlice),
            ],
            SubPath::BoundCidrList => vec![f("bound_cidr_list", T::CommaStringSlice)],
            SubPath::SecretIdBoundCidrs => vec![f("secret_id_bound_cidrs", T::CommaStringSlice)],
            SubPath::TokenBoundCidrs => vec![f("token_bound_cidrs", T::CommaStringSlice)],
            SubPath::BindSecretId => vec![f("bind_secret_id", T::Bool).default_value(json!(true))],
            SubPath::SecretIdNumUses => vec![f("secret_id_num_uses", T::Int)],
            SubPath::SecretIdTtl => vec![f("secret_id_ttl", T::DurationSecond)],
            SubPath::Period => vec![
                f("period", T::DurationSecond),
                f("token_period", T::DurationSecond),
            ],
            SubPath::TokenNumUses => vec![f("token_num_uses", T::Int)],
            SubPath::TokenTtl => vec![f("token_ttl", T::DurationSecond)],
            SubPath::TokenMaxTtl => vec![f("token_max_ttl", T::DurationSecond)],
            SubPath::LocalSecretIds => vec![],
        }
    }

    fn path(self, st: &Arc<State>) -> PathDef {
        let mut p = PathDef::new(role_pattern(self.suffix())).field(name_field());
        for f in self.fields() {
            p = p.field(f);
        }
        p = p.op(
            Operation::Read,
            op(st, move |st, req, d| sub_read(st, req, d, self)),
        );
        if self != SubPath::LocalSecretIds {
            p = p
                .op(
                    Operation::Update,
                    op(st, move |st, req, d| sub_update(st, req, d, self)),
                )
                .op(
                    Operation::Delete,
                    op(st, move |st, req, d| sub_delete(st, req, d, self)),
                );
        }
        p
    }

    /// The data a read of the sub-path shows (and its warning, if any).
    fn read_data(self, role: &RoleEntry) -> (JsonMap, Option<&'static str>) {
        let mut m = JsonMap::new();
        let t = &role.token;
        let mut warning = None;
        match self {
            SubPath::Policies => {
                m.insert("token_policies".into(), json!(t.token_policies));
                if !role.policies.is_empty() {
                    m.insert("policies".into(), json!(role.policies));
                }
            }
            SubPath::BoundCidrList => {
                // Older roles' list is moved to secret_id_bound_cidrs on read: nothing is left.
                m.insert("bound_cidr_list".into(), Value::Null);
                warning = Some(
                    r#"The "bound_cidr_list" field is deprecated and will be removed. Please use "secret_id_bound_cidrs" instead."#,
                );
            }
            SubPath::SecretIdBoundCidrs => {
                m.insert(
                    "secret_id_bound_cidrs".into(),
                    nullable(&role.secret_id_bound_cidrs),
                );
            }
            SubPath::TokenBoundCidrs => {
                m.insert("token_bound_cidrs".into(), nullable(&t.token_bound_cidrs));
            }
            SubPath::BindSecretId => {
                m.insert("bind_secret_id".into(), json!(role.bind_secret_id));
            }
            SubPath::SecretIdNumUses => {
                m.insert("secret_id_num_uses".into(), json!(role.secret_id_num_uses));
            }
            SubPath::SecretIdTtl => {
                m.insert("secret_id_ttl".into(), json!(role.secret_id_ttl));
            }
            SubPath::Period => {
                m.insert("token_period".into(), json!(t.token_period));
                if role.period > 0 {
                    m.insert("period".into(), json!(role.period));
                }
            }
            SubPath::TokenNumUses => {
                m.insert("token_num_uses".into(), json!(t.token_num_uses));
            }
            SubPath::TokenTtl => {
                m.insert("token_ttl".into(), json!(t.token_ttl));
            }
            SubPath::TokenMaxTtl => {
                m.insert("token_max_ttl".into(), json!(t.token_max_ttl));
            }
            SubPath::LocalSecretIds => {
                m.insert("local_secret_ids".into(), json!(role.local_secret_ids()));
            }
        }
        (m, warning)
    }

    /// Sets the sub-path's value from an update, with OpenBao's texts.
    fn update(self, st: &State, role: &mut RoleEntry, d: &FieldData) -> Result<(), LogicalError> {
        let secs = |name: &str| -> Result<Option<u64>, LogicalError> {
            Ok(d.get_given(name)?.map(|v| v.as_u64().unwrap_or(0)))
        };
        let t = &mut role.token;
        match self {
            SubPath::Policies => match (d.get_given("token_policies")?, d.get_given("policies")?) {
                (Some(tp), old) => {
                    t.token_policies = parse_policies(&strings_of(&tp));
                    role.policies = if old.is_some() {
                        t.token_policies.clone()
                    } else {
                        Vec::new()
                    };
                }
                (None, Some(p)) => {
                    role.policies = parse_policies(&strings_of(&p));
                    t.token_policies = role.policies.clone();
                }
                (None, None) => return Err(bad("missing token_policies")),
            },
            SubPath::BoundCidrList | SubPath::SecretIdBoundCidrs => {
                let name = if self == SubPath::BoundCidrList {
                    "bound_cidr_list"
                } else {
                    "secret_id_bound_cidrs"
                };
                if let Some(v) = d.get_given(name)? {
                    let cidrs = strings_of(&v);
                    if cidrs.is_empty() {
                        return Err(bad("missing bound_cidr_list"));
                    }
                    super::cidr::validate_list(&cidrs)
                        .map_err(|e| bad(format!("failed to validate CIDR blocks: {e}")))?;
                    role.secret_id_bound_cidrs = cidrs;
                }
            }
            SubPath::TokenBoundCidrs => {
                if let Some(v) = d.get_given("token_bound_cidrs")? {
                    t.token_bound_cidrs = arca_sdk::cidr::normalize(&strings_of(&v))
                        .map_err(|e| bad(format!("failed to parse token_bound_cidrs: {e}")))?;
                }
            }
            SubPath::BindSecretId => match d.get_given("bind_secret_id")? {
                Some(v) => role.bind_secret_id = v.as_bool().unwrap_or(false),
                None => return Err(bad("missing bind_secret_id")),
            },
            SubPath::SecretIdNumUses => match d.get_given("secret_id_num_uses")? {
                Some(v) => {
                    role.secret_id_num_uses = v.as_i64().unwrap_or(0);
                    if role.secret_id_num_uses < 0 {
                        return Err(bad("secret_id_num_uses cannot be negative"));
                    }
                }
                None => return Err(bad("missing secret_id_num_uses")),
            },
            SubPath::SecretIdTtl => {
                role.secret_id_ttl =
                    secs("secret_id_ttl")?.ok_or_else(|| bad("missing secret_id_ttl"))?
            }
            SubPath::Period => {
                match (secs("token_period")?, secs("period")?) {
                    (Some(tp), old) => {
                        t.token_period = tp;
                        role.period = if old.is_some() { tp } else { 0 };
                    }
                    (None, Some(p)) => {
                        role.period = p;
                        t.token_period = p;
                    }
                    (None, None) => return Err(bad("missing period")),
                }
                check_period(st, t.token_period, role.period)?;
            }
            SubPath::TokenNumUses => match d.get_given("token_num_uses")? {
                Some(v) => t.token_num_uses = v.as_i64().unwrap_or(0),
                None => return Err(bad("missing token_num_uses")),
            },
            SubPath::TokenTtl => {
                t.token_ttl = secs("token_ttl")?.ok_or_else(|| bad("missing token_ttl"))?;
                if t.token_max_ttl > 0 && t.token_ttl > t.token_max_ttl {
                    return Err(bad("token_ttl should not be greater than token_max_ttl"));
                }
            }
            SubPath::TokenMaxTtl => {
                t.token_max_ttl =
                    secs("token_max_ttl")?.ok_or_else(|| bad("missing token_max_ttl"))?;
                if t.token_max_ttl > 0 && t.token_ttl > t.token_max_ttl {
                    return Err(bad(
                        "token_max_ttl should be greater than or equal to token_ttl",
                    ));
                }
            }
            SubPath::LocalSecretIds => return Err(LogicalError::UnsupportedOperation),
        }
        Ok(())
    }

    /// Resets the sub-path's value to its default.
    fn reset(self, role: &mut RoleEntry) {
        let t = &mut role.token;
        match self {
            SubPath::Policies => {
                t.token_policies.clear();
                role.policies.clear();
            }
            // Nothing is stored under the older name (see `read_data`).
            SubPath::BoundCidrList | SubPath::LocalSecretIds => {}
            SubPath::SecretIdBoundCidrs => role.secret_id_bound_cidrs.clear(),
            SubPath::TokenBoundCidrs => t.token_bound_cidrs.clear(),
            SubPath::BindSecretId => role.bind_secret_id = true,
            SubPath::SecretIdNumUses => role.secret_id_num_uses = 0,
            SubPath::SecretIdTtl => role.secret_id_ttl = 0,
            SubPath::Period => {
                t.token_period = 0;
                role.period = 0;
            }
            SubPath::TokenNumUses => t.token_num_uses = 0,
            SubPath::TokenTtl => t.token_ttl = 0,
            SubPath::TokenMaxTtl => t.token_max_ttl = 0,
        }
    }
}

async fn sub_read(
    st: Arc<State>,
    req: Request,
    d: FieldData,
    sub: SubPath,
) -> Result<Option<Response>, LogicalError> {
    let name = role_name(&d)?;
    let _guard = st.role_lock(&name).read().await;
    let Some(role) = role_entry(req.storage()?.as_ref(), &name).await? else {
        return Ok(None);
    };
    let (data, warning) = sub.read_data(&role);
    let mut resp = Response::with_data(data);
    if let Some(w) = warning {
        resp.warn(w);
    }
    Ok(Some(resp))
}

async fn sub_update(
    st: Arc<State>,
    req: Request,
    d: FieldData,
    sub: SubPath,
) -> Result<Option<Response>, LogicalError> {
    let name = role_name(&d)?;
    let s = req.storage()?.clone();
    let _guard = st.role_lock(&name).write().await;
    let Some(mut role) = role_entry(s.as_ref(), &name).await? else {
        return Err(LogicalError::UnsupportedPath);
    };
    sub.update(&st, &mut role, &d)?;
    set_role_entry(&st, s.as_ref(), &role, "").await?;
    Ok(None)
}

async fn sub_delete(
    st: Arc<State>,
    req: Request,
    d: FieldData,
    sub: SubPath,
) -> Result<Option<Response>, LogicalError> {
    let name = role_name(&d)?;
    let s = req.storage()?.clone();
    let _guard = st.role_lock(&name).write().await;
    let Some(mut role) = role_entry(s.as_ref(), &name).await? else {
        return Ok(None);
    };
    sub.reset(&mut role);
    set_role_entry(&st, s.as_ref(), &role, "").await?;
    Ok(None)
}
