//! `roles/<name>` (dynamic roles: users made per lease) and `static-roles/<name>` (one existing
//! user whose password Arca rotates), as OpenBao stores and answers them.

use std::sync::Arc;
use std::time::Duration;

use arca_sdk::framework::{
    Field, FieldType, PathDef, existence, generic_name_regex, handler, paged_list_path,
};
use arca_sdk::storage::StorageExt;
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response, Storage};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::plugin::CredentialType;
use crate::rotation;
use crate::state::{ROLE_PREFIX, STATIC_ROLE_PREFIX, State};

/// OpenBao's shortest static rotation period (its queue tick).
pub const MIN_ROTATION_PERIOD: Duration = Duration::from_secs(5);
/// Vault's shortest rotation window.
pub const MIN_ROTATION_WINDOW: Duration = Duration::from_secs(3600);

/// The statements of a role, under OpenBao's stored names.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Statements {
    /// Create a user.
    #[serde(default, rename = "creation", skip_serializing_if = "Vec::is_empty")]
    pub creation: Vec<String>,
    /// Drop a user.
    #[serde(default, rename = "revocation", skip_serializing_if = "Vec::is_empty")]
    pub revocation: Vec<String>,
    /// Undo a failed creation.
    #[serde(default, rename = "rollback", skip_serializing_if = "Vec::is_empty")]
    pub rollback: Vec<String>,
    /// Extend a user's validity.
    #[serde(default, rename = "renewal", skip_serializing_if = "Vec::is_empty")]
    pub renewal: Vec<String>,
    /// Set a static user's password.
    #[serde(default, rename = "rotation", skip_serializing_if = "Vec::is_empty")]
    pub rotation: Vec<String>,
}

/// The static account of a static role.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct StaticAccount {
    /// The database user.
    pub username: String,
    /// Its current password.
    #[serde(default)]
    pub password: String,
    /// Its current private key (PKCS#8 PEM), for `rsa_private_key` roles.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub private_key: String,
    /// When Arca last set it.
    #[serde(default)]
    pub last_vault_rotation: Option<DateTime<Utc>>,
    /// How often it is rotated, in nanoseconds (Go's `time.Duration`); zero with a schedule.
    #[serde(default)]
    pub rotation_period: u64,
    /// A cron schedule (five fields) instead of a period.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rotation_schedule: String,
    /// How long after a scheduled time a rotation may still happen, in nanoseconds (zero:
    /// until the next scheduled time).
    #[serde(default)]
    pub rotation_window: u64,
}

/// Parses a cron schedule as Vault's standard parser does: five fields, or a `@daily`-style
/// descriptor.
pub fn parse_schedule(text: &str) -> Result<croner::Cron, String> {
    croner::Cron::new(text).parse().map_err(|e| e.to_string())
}

impl Drop for StaticAccount {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.password);
        zeroize::Zeroize::zeroize(&mut self.private_key);
    }
}

impl StaticAccount {
    /// The rotation period.
    pub fn period(&self) -> Duration {
        Duration::from_nanos(self.rotation_period)
    }

    /// The rotation window (schedules only).
    pub fn window(&self) -> Duration {
        Duration::from_nanos(self.rotation_window)
    }

    /// The first scheduled time after `t`, if the role rotates on a schedule.
    pub fn scheduled_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.rotation_schedule.is_empty() {
            return None;
        }
        parse_schedule(&self.rotation_schedule)
            .ok()?
            .find_next_occurrence(&t, false)
            .ok()
    }

    /// When the password is next due to change: the period after the last rotation, or the
    /// first scheduled time after it.
    pub fn next_rotation(&self) -> DateTime<Utc> {
        let last = self.last_vault_rotation.unwrap_or_else(Utc::now);
        if !self.rotation_schedule.is_empty() {
            return self
                .scheduled_after(last)
                .unwrap_or_else(|| last + chrono::Duration::days(365 * 100));
        }
        last + chrono::Duration::from_std(self.period())
            .unwrap_or_else(|_| chrono::Duration::zero())
    }

    /// Whether a rotation due at `due` may still run at `now` (always, unless a schedule's
    /// window has passed).
    pub fn inside_window(&self, due: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        if self.rotation_schedule.is_empty() || self.rotation_window == 0 {
            return true;
        }
        now < due
            + chrono::Duration::from_std(self.window()).unwrap_or_else(|_| chrono::Duration::zero())
    }

    /// Seconds until the next rotation (never negative).
    pub fn ttl_secs(&self) -> i64 {
        let left = self.next_rotation() - Utc::now();
        ((left.num_milliseconds() as f64) / 1000.0).round().max(0.0) as i64
    }
}

/// A role as stored (OpenBao's `roleEntry`).
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct RoleEntry {
    /// The connection the role uses.
    pub db_name: String,
    /// Its statements.
    #[serde(default)]
    pub statements: Statements,
    /// Lease default, in nanoseconds.
    #[serde(default)]
    pub default_ttl: u64,
    /// Lease maximum, in nanoseconds.
    #[serde(default)]
    pub max_ttl: u64,
    /// OpenBao's number for the credential type.
    #[serde(default)]
    pub credential_type: i64,
    /// The credential generator's settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_config: Option<JsonMap>,
    /// Present for static roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_account: Option<StaticAccount>,
}

impl RoleEntry {
    /// The credential type.
    pub fn credential_type(&self) -> CredentialType {
        CredentialType::from_number(self.credential_type).unwrap_or_default()
    }
    /// The lease default.
    pub fn default_ttl(&self) -> Duration {
        Duration::from_nanos(self.default_ttl)
    }
    /// The lease maximum.
    pub fn max_ttl(&self) -> Duration {
        Duration::from_nanos(self.max_ttl)
    }
    /// The password policy the role's credential config names, if any.
    pub fn password_policy(&self) -> String {
        self.credential_config
            .as_ref()
            .and_then(|c| c.get("password_policy"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Reads a dynamic role.
pub async fn role(storage: &dyn Storage, name: &str) -> Result<Option<RoleEntry>, LogicalError> {
    storage.get_json(&format!("{ROLE_PREFIX}{name}")).await
}

/// Reads a static role.
pub async fn static_role(
    storage: &dyn Storage,
    name: &str,
) -> Result<Option<RoleEntry>, LogicalError> {
    storage
        .get_json(&format!("{STATIC_ROLE_PREFIX}{name}"))
        .await
}

/// Validates `credential_config` for the type and answers what OpenBao stores of it.
fn credential_config(t: CredentialType, raw: &JsonMap) -> Result<Option<JsonMap>, String> {
    let text = |k: &str| -> String {
        match raw.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        }
    };
    let int = |k: &str| -> Result<i64, String> {
        let s = text(k);
        if s.is_empty() {
            return Ok(0);
        }
        s.parse().map_err(|_| {
            format!("cannot parse '{k}' as int: strconv.ParseInt: parsing {s:?}: invalid syntax")
        })
    };
    let mut out = JsonMap::new();
    match t {
        CredentialType::Password => {
            let p = text("password_policy");
            if !p.is_empty() {
                out.insert("password_policy".into(), json!(p));
            }
        }
        CredentialType::RsaPrivateKey => {
            let format = text("format").to_lowercase();
            match format.as_str() {
                "" | "pkcs8" => {}
                other => return Err(format!("invalid format: {other}")),
            }
            let bits = match int("key_bits")? {
                0 => 2048,
                b @ (2048 | 3072 | 4096) => b,
                b => return Err(format!("invalid key_bits: {b}")),
            };
            out.insert("format".into(), json!("pkcs8"));
            out.insert("key_bits".into(), json!(bits));
        }
        CredentialType::ClientCertificate => {
            let key_type = text("key_type");
            let key_bits = int("key_bits")?;
            let key_bits = match key_type.as_str() {
                "rsa" => match key_bits {
                    0 => 2048,
                    2048 | 3072 | 4096 => key_bits,
                    _ => return Err("invalid key_bits".into()),
                },
                "ec" => match key_bits {
                    0 => 256,
                    224 | 256 | 384 | 521 => key_bits,
                    _ => return Err("invalid key_bits".into()),
                },
                "ed25519" => 0,
                _ => return Err("invalid key_type".into()),
            };
            let signature_bits = match int("signature_bits")? {
                0 => 256,
                b @ (256 | 384 | 512) => b,
                _ => return Err("invalid signature_bits".into()),
            };
            let cn = text("common_name_template");
            if cn.is_empty() {
                return Err("missing required common_name_template".into());
            }
            arca_sdk::username_template::UsernameTemplate::parse(&cn)
                .map_err(|e| format!("failed to create template: {e}"))?;
            crate::credentials::check_ca(raw)?;
            out.insert("common_name_template".into(), json!(cn));
            for k in ["ca_cert", "ca_private_key"] {
                out.insert(k.into(), json!(text(k)));
            }
            out.insert("key_type".into(), json!(key_type));
            if key_bits != 0 {
                out.insert("key_bits".into(), json!(key_bits));
            }
            out.insert("signature_bits".into(), json!(signature_bits));
        }
    }
    Ok(if out.is_empty() { None } else { Some(out) })
}

fn common_fields(p: PathDef) -> PathDef {
    p.field(Field::new("name", FieldType::String, "Name of the role."))
        .field(Field::new(
            "db_name",
            FieldType::String,
            "Name of the database this role acts on.",
        ))
        .field(Field::new(
            "credential_type",
            FieldType::String,
            "The type of credential to manage. Options include: 'password', 'rsa_private_key', 'client_certificate'. Defaults to 'password'.",
        ).default_value(json!("password")))
        .field(Field::new(
            "credential_config",
            FieldType::Map,
            "The configuration for the given credential_type.",
        ))
}

/// `roles/` and `static-roles/` listings.
pub fn list_paths() -> Vec<PathDef> {
    vec![
        paged_list_path("roles/?$", ROLE_PREFIX),
        paged_list_path("static-roles/?$", STATIC_ROLE_PREFIX),
    ]
}

fn string_list(v: &[String]) -> Value {
    json!(v)
}

fn role_answer(r: &RoleEntry) -> JsonMap {
    let mut data = JsonMap::new();
    data.insert("db_name".into(), json!(r.db_name));
    data.insert(
        "creation_statements".into(),
        string_list(&r.statements.creation),
    );
    data.insert(
        "revocation_statements".into(),
        string_list(&r.statements.revocation),
    );
    data.insert(
        "rollback_statements".into(),
        string_list(&r.statements.rollback),
    );
    data.insert(
        "renew_statements".into(),
        string_list(&r.statements.renewal),
    );
    data.insert("default_ttl".into(), json!(r.default_ttl().as_secs()));
    data.insert("max_ttl".into(), json!(r.max_ttl().as_secs()));
    data.insert(
        "credential_type".into(),
        json!(r.credential_type().as_str()),
    );
    if let Some(c) = &r.credential_config {
        data.insert("credential_config".into(), config_answer(c));
    }
    data
}

/// `rotation_period`, or `rotation_schedule` and (when set) `rotation_window`.
pub fn insert_rotation(data: &mut JsonMap, a: &StaticAccount) {
    if a.rotation_schedule.is_empty() {
        data.insert("rotation_period".into(), json!(a.period().as_secs()));
    } else {
        data.insert("rotation_schedule".into(), json!(a.rotation_schedule));
        if a.rotation_window != 0 {
            data.insert("rotation_window".into(), json!(a.window().as_secs()));
        }
    }
}

/// A credential config as read back: the CA's private key is never shown.
fn config_answer(c: &JsonMap) -> Value {
    let mut c = c.clone();
    c.remove("ca_private_key");
    Value::Object(c)
}

fn static_role_answer(r: &RoleEntry) -> JsonMap {
    let mut data = JsonMap::new();
    data.insert("db_name".into(), json!(r.db_name));
    data.insert(
        "rotation_statements".into(),
        string_list(&r.statements.rotation),
    );
    data.insert(
        "credential_type".into(),
        json!(r.credential_type().as_str()),
    );
    if let Some(a) = &r.static_account {
        data.insert("username".into(), json!(a.username));
        insert_rotation(&mut data, a);
        if let Some(t) = a.last_vault_rotation {
            data.insert(
                "last_vault_rotation".into(),
                json!(arca_sdk::go_time::go_time(t)),
            );
        }
    }
    if let Some(c) = &r.credential_config {
        data.insert("credential_config".into(), config_answer(c));
    }
    data
}

/// Applies `credential_type` and `credential_config` of a write to `role`.
fn apply_credentials(
    role: &mut RoleEntry,
    d: &arca_sdk::framework::FieldData,
    create: bool,
) -> Result<(), LogicalError> {
    if d.is_set("credential_type") {
        let t = d.get_str("credential_type")?;
        let t = CredentialType::parse(&t)
            .ok_or_else(|| LogicalError::bad_request(format!("invalid credential_type {t:?}")))?;
        role.credential_type = t.number();
    }
    if d.is_set("credential_config") || create {
        let raw = d.get_map("credential_config")?;
        role.credential_config = credential_config(role.credential_type(), &raw).map_err(|e| {
            LogicalError::bad_request(format!("credential_config validation failed: {e}"))
        })?;
    }
    Ok(())
}

fn statement_fields(p: PathDef) -> PathDef {
    let mut p = p;
    for (name, what) in [
        ("creation_statements", "create and configure a user"),
        ("revocation_statements", "revoke a user"),
        ("renew_statements", "renew a user"),
        (
            "rollback_statements",
            "rollback a create operation in the event of an error",
        ),
    ] {
        p = p.field(Field::new(
            name,
            FieldType::StringSlice,
            format!("Specifies the database statements executed to {what}."),
        ));
    }
    p
}

/// `roles/<name>`.
pub fn role_path() -> PathDef {
    let p = PathDef::new(format!("roles/{}", generic_name_regex("name")));
    statement_fields(common_fields(p))
        .field(Field::new(
            "default_ttl",
            FieldType::DurationSecond,
            "Default ttl for role.",
        ))
        .field(Field::new(
            "max_ttl",
            FieldType::DurationSecond,
            "Maximum time a credential is valid for",
        ))
        .existence(existence(|req, d| async move {
            Ok(role(req.storage()?.as_ref(), &d.get_str("name")?)
                .await?
                .is_some())
        }))
        .op(
            Operation::Read,
            handler(|req, d| async move {
                let name = d.get_str("name")?;
                Ok(role(req.storage()?.as_ref(), &name)
                    .await?
                    .map(|r| Response::with_data(role_answer(&r))))
            }),
        )
        .op(Operation::Create, handler(write_role))
        .op(Operation::Update, handler(write_role))
        .op(
            Operation::Delete,
            handler(|req, d| async move {
                let name = d.get_str("name")?;
                req.storage()?
                    .delete(&format!("{ROLE_PREFIX}{name}"))
                    .await?;
                Ok(None)
            }),
        )
}

async fn write_role(
    req: Request,
    d: arca_sdk::framework::FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = d.get_str("name")?;
    if name.is_empty() {
        return Err(LogicalError::bad_request("empty role name attribute given"));
    }
    let storage = req.storage()?;
    if static_role(storage.as_ref(), &name).await?.is_some() {
        return Err(LogicalError::bad_request(
            "Role and Static Role names must be unique",
        ));
    }
    let create = req.operation == Operation::Create;
    let mut r = role(storage.as_ref(), &name).await?.unwrap_or_default();
    if d.is_set("db_name") || create {
        r.db_name = d.get_str("db_name")?;
    }
    if r.db_name.is_empty() {
        return Err(LogicalError::bad_request("database name is required"));
    }
    apply_credentials(&mut r, &d, create)?;
    let set = |field: &str, target: &mut Vec<String>| -> Result<(), LogicalError> {
        if d.is_set(field) || create {
            *target = d.get_strings(field)?;
        }
        Ok(())
    };
    set("creation_statements", &mut r.statements.creation)?;
    set("revocation_statements", &mut r.statements.revocation)?;
    set("rollback_statements", &mut r.statements.rollback)?;
    set("renew_statements", &mut r.statements.renewal)?;
    r.statements.revocation.retain(|s| !s.is_empty());
    if d.is_set("default_ttl") || create {
        r.default_ttl = nanos(d.get_duration("default_ttl")?);
    }
    if d.is_set("max_ttl") || create {
        r.max_ttl = nanos(d.get_duration("max_ttl")?);
    }
    storage
        .put_json(&format!("{ROLE_PREFIX}{name}"), &r)
        .await?;
    Ok(None)
}

/// `static-roles/<name>`.
pub fn static_role_path(state: Arc<State>) -> PathDef {
    let p = PathDef::new(format!("static-roles/{}", generic_name_regex("name")));
    let (s1, s2, s3) = (state.clone(), state.clone(), state);
    common_fields(p)
        .field(Field::new(
            "username",
            FieldType::String,
            "Name of the static user account for OpenBao to manage. Requires \"rotation_period\" to be specified",
        ))
        .field(Field::new(
            "rotation_period",
            FieldType::DurationSecond,
            "Period for automatic credential rotation of the given username. Not valid unless used with \"username\".",
        ))
        .field(Field::new(
            "rotation_schedule",
            FieldType::String,
            "Schedule for automatic credential rotation of the given username (cron syntax, five fields). Mutually exclusive with rotation_period.",
        ))
        .field(Field::new(
            "rotation_window",
            FieldType::DurationSecond,
            "The window of time in which rotations are allowed to occur starting from a given rotation_schedule. At least an hour; only with rotation_schedule.",
        ))
        .field(Field::new(
            "rotation_statements",
            FieldType::StringSlice,
            "Specifies the database statements to be executed to rotate the accounts credentials.",
        ))
        .existence(existence(|req, d| async move {
            Ok(static_role(req.storage()?.as_ref(), &d.get_str("name")?)
                .await?
                .is_some())
        }))
        .op(
            Operation::Read,
            handler(|req, d| async move {
                let name = d.get_str("name")?;
                Ok(static_role(req.storage()?.as_ref(), &name)
                    .await?
                    .map(|r| Response::with_data(static_role_answer(&r))))
            }),
        )
        .op(
            Operation::Create,
            handler(move |req, d| write_static_role(s1.clone(), req, d)),
        )
        .op(
            Operation::Update,
            handler(move |req, d| write_static_role(s2.clone(), req, d)),
        )
        .op(
            Operation::Delete,
            handler(move |req, d| {
                let state = s3.clone();
                async move {
                    let name = d.get_str("name")?;
                    let lock = state.role_lock(&name);
                    let _held = lock.lock().await;
                    state.schedule.lock().remove(&name);
                    let storage = req.storage()?;
                    storage
                        .delete(&format!("{STATIC_ROLE_PREFIX}{name}"))
                        .await?;
                    rotation::delete_wal(storage.as_ref(), &name).await?;
                    Ok(None)
                }
            }),
        )
}

async fn write_static_role(
    state: Arc<State>,
    req: Request,
    d: arca_sdk::framework::FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = d.get_str("name")?;
    if name.is_empty() {
        return Err(LogicalError::bad_request("empty role name attribute given"));
    }
    let lock = state.role_lock(&name);
    let _held = lock.lock().await;
    let storage = req.storage()?;
    if role(storage.as_ref(), &name).await?.is_some() {
        return Err(LogicalError::bad_request(
            "Role and Static Role names must be unique",
        ));
    }
    let existing = static_role(storage.as_ref(), &name).await?;
    let create = existing.is_none();
    let mut r = existing.unwrap_or_else(|| RoleEntry {
        static_account: Some(StaticAccount::default()),
        ..RoleEntry::default()
    });
    if d.is_set("db_name") || create {
        r.db_name = d.get_str("db_name")?;
    }
    if r.db_name.is_empty() {
        return Err(LogicalError::bad_request(
            "database name is a required field",
        ));
    }
    let username = d.get_str("username")?;
    if username.is_empty() && create {
        return Err(LogicalError::bad_request(
            "username is a required field to create a static account",
        ));
    }
    let account = r.static_account.get_or_insert_with(StaticAccount::default);
    if !account.username.is_empty() && account.username != username {
        return Err(LogicalError::bad_request(
            "cannot update static account username",
        ));
    }
    account.username = username;
    let period_given = d.get_given("rotation_period")?.is_some();
    let schedule = d.get_str("rotation_schedule")?;
    let window_given = d.get_given("rotation_window")?.is_some();
    if !schedule.is_empty() && period_given {
        return Err(LogicalError::bad_request(
            "mutually exclusive fields rotation_period and rotation_schedule were both specified; only one of them can be provided",
        ));
    }
    if create && schedule.is_empty() && !period_given {
        return Err(LogicalError::bad_request(
            "rotation_period is required to create static accounts",
        ));
    }
    if period_given {
        let period = d.get_duration("rotation_period")?;
        if period < MIN_ROTATION_PERIOD {
            return Err(LogicalError::bad_request(format!(
                "rotation_period must be {} seconds or more",
                MIN_ROTATION_PERIOD.as_secs()
            )));
        }
        if window_given {
            return Err(LogicalError::bad_request(
                "rotation_window is invalid with use of rotation_period",
            ));
        }
        account.rotation_period = nanos(period);
        account.rotation_schedule.clear();
        account.rotation_window = 0;
    }
    if !schedule.is_empty() {
        parse_schedule(&schedule).map_err(|e| {
            LogicalError::bad_request(format!("could not parse rotation_schedule: {e}"))
        })?;
        account.rotation_schedule = schedule;
        if window_given {
            let window = d.get_duration("rotation_window")?;
            if window < MIN_ROTATION_WINDOW {
                return Err(LogicalError::bad_request(format!(
                    "rotation_window is invalid: rotation_window must be {} seconds or more",
                    MIN_ROTATION_WINDOW.as_secs()
                )));
            }
            account.rotation_window = nanos(window);
        }
        account.rotation_period = 0;
    } else if window_given && account.rotation_schedule.is_empty() {
        return Err(LogicalError::bad_request(
            "rotation_window is invalid with use of rotation_period",
        ));
    }
    if d.is_set("rotation_statements") || req.operation == Operation::Create {
        r.statements.rotation = d.get_strings("rotation_statements")?;
    }
    apply_credentials(&mut r, &d, req.operation == Operation::Create)?;
    if create {
        // A new static role gets its password at once; it is stored only if that worked.
        rotation::set_static_account(&state, storage.as_ref(), &name, &mut r).await?;
    } else {
        storage
            .put_json(&format!("{STATIC_ROLE_PREFIX}{name}"), &r)
            .await?;
    }
    if let Some(a) = &r.static_account {
        state.schedule.lock().set(&name, a.next_rotation());
        state.wake.notify_one();
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn schedules_give_the_next_time_after_the_last_rotation() {
        let mut a = StaticAccount::default();
        a.rotation_schedule = "30 2 * * *".into();
        a.rotation_window = 3600 * 1_000_000_000;
        a.last_vault_rotation = Some(at("2026-12-06T10:00:00Z"));
        let due = a.next_rotation();
        assert_eq!(due, at("2026-12-07T02:30:00Z"));
        assert!(a.inside_window(due, at("2026-12-07T03:29:00Z")));
        assert!(!a.inside_window(due, at("2026-12-07T03:31:00Z")));
        let mut p = StaticAccount::default();
        p.rotation_period = 60 * 1_000_000_000;
        p.last_vault_rotation = Some(at("2026-12-06T10:00:00Z"));
        assert_eq!(p.next_rotation(), at("2026-12-06T10:01:00Z"));
        assert!(p.inside_window(p.next_rotation(), at("2030-01-01T00:00:00Z")));
        assert!(parse_schedule("not a cron").is_err());
    }
}
