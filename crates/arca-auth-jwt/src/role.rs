//! `role/<name>` (create, read, update, delete) and `LIST role/`: what a login must carry
//! (audiences, subject, bound claims), how its identity is named (user, groups, metadata
//! claims), the OIDC browser-flow settings, and the shared token settings.

use std::collections::HashMap;
use std::sync::Arc;

use arca_sdk::duration::parse_duration_second;
use arca_sdk::framework::FieldData;
use arca_sdk::storage::StorageExt;
use arca_sdk::token_util::{
    LegacyTokenFields, TokenParams, upgrade_duration, upgrade_int, upgrade_strings,
};
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response, Storage};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Shared;
use crate::claims::normalize_expected;

/// Where roles live in the mount's storage.
pub(crate) const ROLE_PREFIX: &str = "role/";
/// The version of the record layout this code writes.
const RECORD_VERSION: u32 = 1;

/// One role, as stored.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct JwtRole {
    pub version: u32,
    pub token: TokenParams,
    pub role_type: String,
    pub expiration_leeway: i64,
    pub not_before_leeway: i64,
    pub clock_skew_leeway: i64,
    pub bound_audiences: Option<Vec<String>>,
    pub bound_subject: String,
    pub bound_claims_type: String,
    pub bound_claims: Option<JsonMap>,
    pub claim_mappings: Option<HashMap<String, String>>,
    pub oauth2_metadata: Option<Vec<String>>,
    pub user_claim: String,
    pub user_claim_json_pointer: bool,
    pub groups_claim: String,
    pub oidc_scopes: Option<Vec<String>>,
    pub allowed_redirect_uris: Option<Vec<String>>,
    pub callback_mode: String,
    pub poll_interval: i64,
    pub verbose_oidc_logging: bool,
    pub max_age: i64,
    pub token_policies_template_claims: bool,
    pub oidc_disable_confirmation: bool,
    pub policies: Vec<String>,
    pub num_uses: i64,
    pub ttl: u64,
    pub max_ttl: u64,
    pub period: u64,
    pub bound_cidrs: Vec<String>,
}

impl JwtRole {
    /// The bound audiences (none when unset).
    pub fn audiences(&self) -> &[String] {
        self.bound_audiences.as_deref().unwrap_or(&[])
    }

    /// Whether bound claims are globs.
    pub fn glob_claims(&self) -> bool {
        self.bound_claims_type == "glob"
    }
}

fn key(name: &str) -> String {
    format!("{ROLE_PREFIX}{name}")
}

/// Reads role `name`, with OpenBao's read-time defaults and legacy-field upgrades.
pub(crate) async fn load(
    storage: &dyn Storage,
    name: &str,
) -> Result<Option<JwtRole>, LogicalError> {
    let Some(mut r) = storage.get_json::<JwtRole>(&key(name)).await? else {
        return Ok(None);
    };
    if r.version > RECORD_VERSION {
        return Err(LogicalError::internal(
            "role record version is newer than this server understands",
        ));
    }
    if r.role_type.is_empty() {
        r.role_type = "jwt".into();
    }
    if r.bound_claims_type.is_empty() {
        r.bound_claims_type = "string".into();
    }
    r.token.upgrade_legacy(LegacyTokenFields {
        ttl: r.ttl,
        max_ttl: r.max_ttl,
        period: r.period,
        num_uses: r.num_uses,
        policies: &r.policies,
        bound_cidrs: &r.bound_cidrs,
    });
    Ok(Some(r))
}

async fn store(
    shared: &Shared,
    storage: &dyn Storage,
    name: &str,
    r: &JwtRole,
) -> Result<(), LogicalError> {
    let mut r = r.clone();
    r.version = RECORD_VERSION;
    let stored = storage.put_json(&key(name), &r).await;
    shared.cache.forget();
    stored
}

/// The role name of a request, lower-cased.
fn name_of(d: &FieldData) -> Result<String, LogicalError> {
    Ok(d.get_str("name")?.to_lowercase())
}

/// Existence check: create when absent.
pub(crate) async fn exists(req: Request, d: FieldData) -> Result<bool, LogicalError> {
    Ok(load(req.storage()?.as_ref(), &name_of(&d)?)
        .await?
        .is_some())
}

/// `LIST role/`.
pub(crate) async fn list(req: Request, d: FieldData) -> Result<Option<Response>, LogicalError> {
    let after = d.get_str("after")?;
    let limit = usize::try_from(d.get_i64("limit")?).unwrap_or(0);
    let keys = req.storage()?.list_page(ROLE_PREFIX, &after, limit).await?;
    if keys.is_empty() {
        return Err(LogicalError::empty_not_found());
    }
    let mut data = JsonMap::new();
    data.insert("keys".into(), Value::from(keys));
    Ok(Some(Response::with_data(data)))
}

fn opt_list(v: &Option<Vec<String>>) -> Value {
    v.as_ref().map_or(Value::Null, |l| Value::from(l.clone()))
}

/// `GET role/<name>`; a role without a `callback_mode` is given `client` and stored back,
/// as OpenBao does.
pub(crate) async fn read(
    shared: Arc<Shared>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = name_of(&d)?;
    if name.is_empty() {
        return Err(LogicalError::bad_request("missing name"));
    }
    let storage = req.storage()?.clone();
    let _guard = shared.write_lock.lock().await;
    let Some(mut r) = load(storage.as_ref(), &name).await? else {
        return Ok(None);
    };
    if r.callback_mode.is_empty() {
        r.callback_mode = "client".into();
        store(&shared, storage.as_ref(), &name, &r).await?;
    }
    let mut m = JsonMap::new();
    m.insert("role_type".into(), Value::from(r.role_type.clone()));
    m.insert("expiration_leeway".into(), Value::from(r.expiration_leeway));
    m.insert("not_before_leeway".into(), Value::from(r.not_before_leeway));
    m.insert("clock_skew_leeway".into(), Value::from(r.clock_skew_leeway));
    m.insert("bound_audiences".into(), opt_list(&r.bound_audiences));
    m.insert("bound_subject".into(), Value::from(r.bound_subject.clone()));
    m.insert(
        "bound_claims_type".into(),
        Value::from(r.bound_claims_type.clone()),
    );
    m.insert(
        "bound_claims".into(),
        r.bound_claims.clone().map_or(Value::Null, Value::Object),
    );
    m.insert(
        "claim_mappings".into(),
        r.claim_mappings.as_ref().map_or(Value::Null, |c| {
            serde_json::to_value(c).unwrap_or(Value::Null)
        }),
    );
    m.insert("oauth2_metadata".into(), opt_list(&r.oauth2_metadata));
    m.insert("user_claim".into(), Value::from(r.user_claim.clone()));
    m.insert(
        "user_claim_json_pointer".into(),
        Value::from(r.user_claim_json_pointer),
    );
    m.insert("groups_claim".into(), Value::from(r.groups_claim.clone()));
    m.insert(
        "allowed_redirect_uris".into(),
        opt_list(&r.allowed_redirect_uris),
    );
    m.insert("callback_mode".into(), Value::from(r.callback_mode.clone()));
    m.insert("oidc_scopes".into(), opt_list(&r.oidc_scopes));
    m.insert(
        "verbose_oidc_logging".into(),
        Value::from(r.verbose_oidc_logging),
    );
    m.insert("max_age".into(), Value::from(r.max_age));
    m.insert(
        "token_policies_template_claims".into(),
        Value::from(r.token_policies_template_claims),
    );
    m.insert(
        "oidc_disable_confirmation".into(),
        Value::from(r.oidc_disable_confirmation),
    );
    r.token.populate_token_data(&mut m);
    if r.poll_interval > 0 {
        m.insert("poll_interval".into(), Value::from(r.poll_interval));
    }
    if !r.policies.is_empty() {
        let p = m.get("token_policies").cloned().unwrap_or(Value::Null);
        m.insert("policies".into(), p);
    }
    if !r.bound_cidrs.is_empty() {
        let c = m.get("token_bound_cidrs").cloned().unwrap_or(Value::Null);
        m.insert("bound_cidrs".into(), c);
    }
    for (k, v) in [("ttl", r.ttl), ("max_ttl", r.max_ttl), ("period", r.period)] {
        if v > 0 {
            m.insert(k.into(), Value::from(v));
        }
    }
    if r.num_uses > 0 {
        m.insert("num_uses".into(), Value::from(r.num_uses));
    }
    Ok(Some(Response::with_data(m)))
}

/// `DELETE role/<name>`.
pub(crate) async fn delete(
    shared: Arc<Shared>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = name_of(&d)?;
    if name.is_empty() {
        return Err(LogicalError::bad_request("role name required"));
    }
    let _guard = shared.write_lock.lock().await;
    let deleted = req.storage()?.delete(&key(&name)).await;
    shared.cache.forget();
    deleted?;
    Ok(None)
}

fn bad(msg: impl Into<String>) -> LogicalError {
    LogicalError::bad_request(msg)
}

/// A signed duration in seconds (`TypeSignedDurationSecond`): a number, or text such as
/// `"-1"` or `"90s"`.
fn signed_secs(d: &FieldData, name: &str) -> Result<Option<i64>, LogicalError> {
    let Some(v) = d.get_given(name)? else {
        return Ok(None);
    };
    let secs = match &v {
        Value::Number(n) => n.as_i64().or_else(|| {
            #[allow(clippy::cast_possible_truncation)]
            n.as_f64().map(|f| f as i64)
        }),
        Value::String(s) => parse_duration_second(s).ok().map(|n| n / 1_000_000_000),
        _ => None,
    };
    secs.map(Some).ok_or_else(|| {
        bad(format!(
            "error converting input {v} for field \"{name}\": invalid duration"
        ))
    })
}

/// `POST role/<name>`: OpenBao's checks in its order, then stores.
pub(crate) async fn write(
    shared: Arc<Shared>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = name_of(&d)?;
    if name.is_empty() {
        return Err(bad("missing role name"));
    }
    let storage = req.storage()?.clone();
    let _guard = shared.write_lock.lock().await;
    let existing = load(storage.as_ref(), &name).await?;
    if existing.is_none() && req.operation == Operation::Update {
        return Err(LogicalError::internal(
            "role entry not found during update operation",
        ));
    }
    let mut r = existing.unwrap_or_default();
    let role_type = match d.get_str("role_type")? {
        t if t.is_empty() => "oidc".to_string(),
        t => t,
    };
    if role_type != "jwt" && role_type != "oidc" {
        return Err(bad(format!("invalid 'role_type': {role_type}")));
    }
    r.role_type = role_type.clone();
    r.token.parse_token_fields(&d)?;
    upgrade_strings(
        &d,
        "policies",
        "token_policies",
        &mut r.policies,
        &mut r.token.token_policies,
    )?;
    upgrade_strings(
        &d,
        "bound_cidrs",
        "token_bound_cidrs",
        &mut r.bound_cidrs,
        &mut r.token.token_bound_cidrs,
    )?;
    upgrade_int(
        &d,
        "num_uses",
        "token_num_uses",
        &mut r.num_uses,
        &mut r.token.token_num_uses,
    )?;
    upgrade_duration(&d, "ttl", "token_ttl", &mut r.ttl, &mut r.token.token_ttl)?;
    upgrade_duration(
        &d,
        "max_ttl",
        "token_max_ttl",
        &mut r.max_ttl,
        &mut r.token.token_max_ttl,
    )?;
    upgrade_duration(
        &d,
        "period",
        "token_period",
        &mut r.period,
        &mut r.token.token_period,
    )?;
    let max_lease = shared.system.max_lease_ttl().as_secs();
    if r.token.token_period > max_lease {
        return Err(bad(format!(
            "'period' of '\"{}s\"' is greater than the backend's maximum lease TTL of '\"{}s\"'",
            r.token.token_period, max_lease
        )));
    }
    if let Some(v) = signed_secs(&d, "expiration_leeway")? {
        r.expiration_leeway = v;
    }
    if let Some(v) = signed_secs(&d, "not_before_leeway")? {
        r.not_before_leeway = v;
    }
    if let Some(v) = signed_secs(&d, "clock_skew_leeway")? {
        r.clock_skew_leeway = v;
    }
    if d.is_set("bound_audiences") {
        r.bound_audiences = Some(d.get_strings("bound_audiences")?);
    }
    if d.is_set("bound_subject") {
        r.bound_subject = d.get_str("bound_subject")?;
    }
    if d.is_set("verbose_oidc_logging") {
        r.verbose_oidc_logging = d.get_bool("verbose_oidc_logging")?;
    }
    if d.is_set("max_age") {
        r.max_age = i64::try_from(d.get_duration("max_age")?.as_secs()).unwrap_or(i64::MAX);
    }
    if d.is_set("token_policies_template_claims") {
        r.token_policies_template_claims = d.get_bool("token_policies_template_claims")?;
    }
    let claims_type = match d.get_str("bound_claims_type")? {
        t if t.is_empty() => "string".to_string(),
        t => t,
    };
    if claims_type != "string" && claims_type != "glob" {
        return Err(bad(format!("invalid 'bound_claims_type': {claims_type}")));
    }
    r.bound_claims_type = claims_type.clone();
    if d.is_set("bound_claims") {
        let bc = d.get_map("bound_claims")?;
        if claims_type == "glob" {
            for v in bc.values() {
                let Some(list) = normalize_expected(v) else {
                    return Err(bad(format!("claim is not a string or list: {v}")));
                };
                for item in list {
                    if !item.is_string() {
                        return Err(bad(format!("claim is not a string: {item}")));
                    }
                }
            }
        }
        r.bound_claims = Some(bc);
    }
    if d.is_set("claim_mappings") {
        let raw = d.get_map("claim_mappings")?;
        let mut mappings = HashMap::new();
        let mut targets = std::collections::HashSet::new();
        for (k, v) in raw {
            let target = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            if target == "role" {
                return Err(bad(format!(
                    "metadata key \"{target}\" is reserved and may not be a mapping destination"
                )));
            }
            if !targets.insert(target.clone()) {
                return Err(bad(format!(
                    "multiple keys are mapped to metadata key \"{target}\""
                )));
            }
            mappings.insert(k, target);
        }
        r.claim_mappings = Some(mappings);
    }
    if d.is_set("oauth2_metadata") {
        let md = d.get_strings("oauth2_metadata")?;
        for m in &md {
            if !["id_token", "refresh_token", "access_token"].contains(&m.as_str()) {
                return Err(bad(format!("Unrecognized oauth2 metadata name {m}")));
            }
        }
        r.oauth2_metadata = Some(md);
    }
    if d.is_set("user_claim") {
        r.user_claim = d.get_str("user_claim")?;
    }
    if r.user_claim.is_empty() {
        return Err(bad("a user claim must be defined on the role"));
    }
    if d.is_set("user_claim_json_pointer") {
        r.user_claim_json_pointer = d.get_bool("user_claim_json_pointer")?;
    }
    if d.is_set("groups_claim") {
        r.groups_claim = d.get_str("groups_claim")?;
    }
    if d.is_set("oidc_scopes") {
        r.oidc_scopes = Some(d.get_strings("oidc_scopes")?);
    }
    if d.is_set("allowed_redirect_uris") {
        r.allowed_redirect_uris = Some(d.get_strings("allowed_redirect_uris")?);
    }
    if d.is_set("poll_interval") {
        r.poll_interval = d.get_i64("poll_interval")?;
    }
    let mode = match d.get_str("callback_mode")? {
        m if m.is_empty() => "client".to_string(),
        m => m,
    };
    if !["device", "direct", "client"].contains(&mode.as_str()) {
        return Err(bad(format!("invalid 'callback_mode': {mode}")));
    }
    r.callback_mode = mode;
    r.oidc_disable_confirmation = d.get_bool("oidc_disable_confirmation")?;
    if r.role_type == "oidc" && r.allowed_redirect_uris.as_ref().is_none_or(Vec::is_empty) {
        return Err(bad(
            "'allowed_redirect_uris' must be set if 'role_type' is 'oidc' or unspecified.",
        ));
    }
    if role_type != "oidc"
        && r.audiences().is_empty()
        && r.token.token_bound_cidrs.is_empty()
        && r.bound_subject.is_empty()
        && r.bound_claims.as_ref().is_none_or(JsonMap::is_empty)
    {
        return Err(bad(
            "must have at least one bound constraint when creating/updating a role",
        ));
    }
    if r.token.token_max_ttl > 0 && r.token.token_ttl > r.token.token_max_ttl {
        return Err(bad("ttl should not be greater than max ttl"));
    }
    let mut resp = Response::default();
    if r.token.token_max_ttl > max_lease {
        resp.warn("token max ttl is greater than the system or backend mount's maximum TTL value; issued tokens' max TTL value will be truncated");
    }
    if r.verbose_oidc_logging {
        resp.warn("verbose_oidc_logging has been enabled for this role. This is not recommended in production since sensitive information may be present in OIDC responses.");
    }
    if r.token_policies_template_claims {
        crate::policy_templates::check(&r.token.token_policies)?;
    }
    store(&shared, storage.as_ref(), &name, &r).await?;
    if resp.warnings.is_empty() {
        Ok(None)
    } else {
        Ok(Some(resp))
    }
}
