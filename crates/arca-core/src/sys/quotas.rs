//! `sys/quotas/config`, `sys/quotas/rate-limit[/<name>]` (OpenBao's) and
//! `sys/quotas/lease-count[/<name>]` (Vault Enterprise's: OpenBao 2.7.2 answers 404), with
//! OpenBao's texts. The rules themselves live in [`crate::quotas`].

use arca_sdk::framework::FieldType;
use arca_sdk::{LogicalError, Operation, Request, Response};
use serde_json::{Value, json};

use super::endpoint::Endpoint;
use super::{bool_field, data, str_field};
use crate::quotas::{ConfigRecord, LeaseCountRecord, QuotaType, Quotas, RateLimitRecord, Scope};

/// `sys/quotas/config`'s fields.
pub(super) const CONFIG_FIELDS: &[(&str, FieldType)] = &[
    ("enable_rate_limit_audit_logging", FieldType::Bool),
    ("enable_rate_limit_response_headers", FieldType::Bool),
    ("rate_limit_exempt_paths", FieldType::StringSlice),
];
/// `sys/quotas/rate-limit/<name>`'s fields (`rate` is a float, converted here).
pub(super) const RATE_LIMIT_FIELDS: &[(&str, FieldType)] = &[
    ("block_interval", FieldType::DurationSecond),
    ("inheritable", FieldType::Bool),
    ("interval", FieldType::DurationSecond),
    ("name", FieldType::String),
    ("path", FieldType::String),
    ("rate", FieldType::Any),
    ("role", FieldType::String),
    ("type", FieldType::String),
];
/// `sys/quotas/lease-count/<name>`'s fields (Vault's).
pub(super) const LEASE_COUNT_FIELDS: &[(&str, FieldType)] = &[
    ("inheritable", FieldType::Bool),
    ("max_leases", FieldType::Int),
    ("name", FieldType::String),
    ("path", FieldType::String),
    ("role", FieldType::String),
    ("type", FieldType::String),
];

/// Parses the quota paths below `sys/`.
pub(super) fn parse(path: &str) -> Option<Endpoint> {
    let p = path.trim_end_matches('/');
    let rest = p.strip_prefix("quotas/")?;
    if rest == "config" {
        return Some(Endpoint::QuotasConfig);
    }
    for kind in [QuotaType::RateLimit, QuotaType::LeaseCount] {
        if rest == kind.as_str() {
            return Some(Endpoint::QuotasList(kind));
        }
        if let Some(name) = rest
            .strip_prefix(kind.as_str())
            .and_then(|r| r.strip_prefix('/'))
        {
            // OpenBao's `GenericNameRegex`: word characters, `-` and `.` inside.
            let ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
                && !name.starts_with(['-', '.'])
                && !name.ends_with(['-', '.']);
            return ok.then(|| Endpoint::Quota(kind, name.to_string()));
        }
    }
    None
}

/// Serves the quota endpoints.
pub(super) async fn handle(
    quotas: &Quotas,
    e: Endpoint,
    op: Operation,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    use Operation as O;
    match (e, op) {
        (Endpoint::QuotasConfig, O::Read) => {
            let c = quotas.config();
            data(json!({
                "enable_rate_limit_audit_logging": c.enable_rate_limit_audit_logging,
                "enable_rate_limit_response_headers": c.enable_rate_limit_response_headers,
                "rate_limit_exempt_paths": c.exempt_paths(),
            }))
        }
        (Endpoint::QuotasConfig, O::Update | O::Create) => {
            // As OpenBao: every field is written, an absent one as its zero value.
            let d = &req.data;
            let paths = match d.get("rate_limit_exempt_paths") {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect(),
                _ => Vec::new(),
            };
            quotas
                .set_config(ConfigRecord {
                    version: 0,
                    enable_rate_limit_audit_logging: bool_field(
                        d,
                        "enable_rate_limit_audit_logging",
                    )?,
                    enable_rate_limit_response_headers: bool_field(
                        d,
                        "enable_rate_limit_response_headers",
                    )?,
                    rate_limit_exempt_paths: Some(paths),
                })
                .await?;
            Ok(None)
        }
        (Endpoint::QuotasList(kind), O::List) => data(json!({ "keys": quotas.names(kind) })),
        (Endpoint::Quota(QuotaType::RateLimit, name), O::Read) => {
            let Some(q) = quotas.rate_limit_quota(&name) else {
                return Ok(None);
            };
            let r = &q.record;
            data(json!({
                "type": QuotaType::RateLimit.as_str(),
                "name": r.name,
                "path": r.scope.path(),
                "role": r.scope.role,
                "rate": go_float(r.rate),
                "interval": r.interval / 1_000_000_000,
                "block_interval": r.block_interval / 1_000_000_000,
                "inheritable": r.inheritable,
            }))
        }
        (Endpoint::Quota(QuotaType::LeaseCount, name), O::Read) => {
            let Some(q) = quotas.lease_count_quota(&name) else {
                return Ok(None);
            };
            let r = &q.record;
            data(json!({
                "type": QuotaType::LeaseCount.as_str(),
                "name": r.name,
                "path": r.scope.path(),
                "role": r.scope.role,
                "max_leases": r.max_leases,
                "counter": q.counter(),
                "inheritable": r.inheritable,
            }))
        }
        (Endpoint::Quota(QuotaType::RateLimit, name), O::Update | O::Create) => {
            write_rate_limit(quotas, name, req).await
        }
        (Endpoint::Quota(QuotaType::LeaseCount, name), O::Update | O::Create) => {
            write_lease_count(quotas, name, req).await
        }
        (Endpoint::Quota(kind, name), O::Delete) => {
            quotas.delete(kind, &name).await?;
            Ok(None)
        }
        _ => Err(LogicalError::UnsupportedOperation),
    }
}

/// A float as Go's `encoding/json` writes it: whole numbers without a fraction.
fn go_float(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

/// `rate` as the framework's `TypeFloat` converts it (mapstructure's weak decode).
fn float_field(d: &arca_sdk::JsonMap, k: &str) -> Result<f64, LogicalError> {
    let why = match d.get(k) {
        None | Some(Value::Null) => return Ok(0.0),
        Some(Value::Number(n)) => return Ok(n.as_f64().unwrap_or(0.0)),
        Some(Value::Bool(b)) => return Ok(if *b { 1.0 } else { 0.0 }),
        Some(Value::String(s)) if s.is_empty() => return Ok(0.0),
        Some(Value::String(s)) => match s.trim().parse::<f64>() {
            Ok(v) => return Ok(v),
            Err(_) => {
                "'' cannot parse value as 'float64': strconv.ParseFloat: invalid syntax".to_string()
            }
        },
        Some(Value::Array(_)) => {
            "'' expected type 'float64', got unconvertible type '[]interface {}'".to_string()
        }
        Some(Value::Object(_)) => {
            "'' expected type 'float64', got unconvertible type 'map[string]interface {}'"
                .to_string()
        }
    };
    Err(LogicalError::bad_request(format!(
        "Field validation failed: error converting input for field {k:?}: {why}"
    )))
}

/// Seconds of a converted `DurationSecond` field (0 when absent).
fn seconds(d: &arca_sdk::JsonMap, k: &str) -> i64 {
    d.get(k).and_then(Value::as_i64).unwrap_or(0)
}

/// The scope a quota's `path` and `role` name, checked as OpenBao's
/// `handleRateLimitQuotasUpdate` checks them.
async fn scope_of(quotas: &Quotas, req: &Request) -> Result<Scope, LogicalError> {
    let path = str_field(&req.data, "path").unwrap_or_default();
    let (landing, auth) = quotas
        .scope_of(&path)
        .map_err(|rest| LogicalError::bad_request(format!("invalid mount path {rest:?}")))?;
    let role = str_field(&req.data, "role").unwrap_or_default();
    if !role.is_empty() {
        if !landing.path_suffix.is_empty() {
            return Err(LogicalError::bad_request(
                "Quotas cannot contain both a path suffix and a role. If a role is provided, \
                 path must be a valid auth mount with a concept of roles",
            ));
        }
        let mount = &landing.mount_path;
        let backend = auth
            .then(|| quotas.auth_backend(&landing.namespace_path, mount))
            .flatten();
        let Some((backend, storage)) = backend else {
            return Err(LogicalError::bad_request(format!(
                "Mount path {mount:?} is not a valid auth method and therefore unsuitable for \
                 use with role-based quotas"
            )));
        };
        // As OpenBao: a role resolution with no data fails anyway; only "unsupported" counts.
        let mut probe = Request::new(Operation::ResolveRole, "login");
        probe.mount_point = mount.clone();
        probe.storage = Some(storage);
        if let Err(LogicalError::UnsupportedOperation | LogicalError::UnsupportedPath) =
            backend.handle_request(probe).await
        {
            return Err(LogicalError::bad_request(format!(
                "Mount path {mount:?} does not support use with role-based quotas"
            )));
        }
    }
    Ok(Scope {
        namespace_path: landing.namespace_path,
        mount_path: landing.mount_path,
        path_suffix: landing.path_suffix,
        role,
    })
}

/// `inheritable` as given, else true for the global quota only.
fn inheritable(req: &Request, scope: &Scope) -> Result<bool, LogicalError> {
    match req.data.get("inheritable") {
        Some(v) if !v.is_null() => bool_field(&req.data, "inheritable"),
        _ => Ok(scope.namespace_path.is_empty() && scope.mount_path.is_empty()),
    }
}

async fn write_rate_limit(
    quotas: &Quotas,
    name: String,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    let rate = float_field(&req.data, "rate")?;
    if rate.is_nan() || rate <= 0.0 || rate.is_infinite() {
        return Err(LogicalError::bad_request("'rate' is invalid"));
    }
    let interval = match seconds(&req.data, "interval") {
        0 => 1,
        s => s,
    };
    let block = seconds(&req.data, "block_interval");
    let mut scope = scope_of(quotas, req).await?;
    if let Some(other) = quotas.same_scope(QuotaType::RateLimit, &scope, &name) {
        return Err(LogicalError::bad_request(format!(
            "quota rule with similar properties exists under the name {other:?}"
        )));
    }
    let existing = quotas.rate_limit_quota(&name);
    let inheritable = inheritable(req, &scope)?;
    let id = match &existing {
        Some(q) => {
            // As OpenBao: an update keeps the quota's role.
            scope.role.clone_from(&q.record.scope.role);
            q.record.id.clone()
        }
        None => uuid::Uuid::new_v4().to_string(),
    };
    quotas
        .put_rate_limit(RateLimitRecord {
            version: 0,
            id,
            name,
            scope,
            rate,
            interval: interval.saturating_mul(1_000_000_000),
            block_interval: block.saturating_mul(1_000_000_000),
            inheritable,
        })
        .await?;
    Ok(None)
}

async fn write_lease_count(
    quotas: &Quotas,
    name: String,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    let max_leases = req
        .data
        .get("max_leases")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if max_leases <= 0 {
        return Err(LogicalError::bad_request("'max_leases' is invalid"));
    }
    let scope = scope_of(quotas, req).await?;
    if let Some(other) = quotas.same_scope(QuotaType::LeaseCount, &scope, &name) {
        return Err(LogicalError::bad_request(format!(
            "quota rule with similar properties exists under the name {other:?}"
        )));
    }
    let inheritable = inheritable(req, &scope)?;
    let id = match quotas.lease_count_quota(&name) {
        Some(q) => q.record.id.clone(),
        None => uuid::Uuid::new_v4().to_string(),
    };
    quotas
        .put_lease_count(LeaseCountRecord {
            version: 0,
            id,
            name,
            scope,
            max_leases,
            inheritable,
        })
        .await?;
    Ok(None)
}
