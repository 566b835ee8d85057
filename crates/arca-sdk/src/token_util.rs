//! The token fields every auth method's role or user carries (OpenBao's `tokenutil`):
//! `token_ttl`, `token_max_ttl`, `token_policies`, `token_bound_cidrs`,
//! `token_explicit_max_ttl`, `token_no_default_policy`, `token_num_uses`, `token_period`,
//! `token_type`, `token_strictly_bind_ip` — their schema, parsing with OpenBao's texts, how a
//! read shows them, how a login's [`Auth`] gets them, and the upgrade from the older names
//! (`policies`, `ttl`, `max_ttl`, `period`, `bound_cidrs`, ...), where the new name wins.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::framework::{Field, FieldData, FieldType};
use crate::{Auth, JsonMap, LogicalError, Request, cidr};

/// The kind of token a login makes. `Default` lets the mount's tuned `token_type` decide.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenType {
    /// Whatever the mount says (`default-service` unless tuned).
    #[default]
    #[serde(rename = "default")]
    Default,
    /// A service token.
    #[serde(rename = "service")]
    Service,
    /// A batch token.
    #[serde(rename = "batch")]
    Batch,
    /// Service unless the caller asks for batch (a mount's tune value).
    #[serde(rename = "default-service")]
    DefaultService,
    /// Batch unless the caller asks for service (a mount's tune value).
    #[serde(rename = "default-batch")]
    DefaultBatch,
}

impl TokenType {
    /// OpenBao's name of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Default => "default",
            TokenType::Service => "service",
            TokenType::Batch => "batch",
            TokenType::DefaultService => "default-service",
            TokenType::DefaultBatch => "default-batch",
        }
    }

    fn is_batch(self) -> bool {
        matches!(self, TokenType::Batch | TokenType::DefaultBatch)
    }
}

/// The token settings of a role or user, stored with it. Durations in seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenParams {
    /// CIDR blocks the token may be used from (go-sockaddr's text).
    pub token_bound_cidrs: Vec<String>,
    /// Hard upper bound of the token's life, whatever the mount says.
    pub token_explicit_max_ttl: u64,
    /// Maximum life of the token.
    pub token_max_ttl: u64,
    /// Leave out the `default` policy.
    pub token_no_default_policy: bool,
    /// Uses of the token (0 = unlimited).
    pub token_num_uses: i64,
    /// Periodic tokens: each renewal resets the TTL to this.
    pub token_period: u64,
    /// Policies of the token.
    pub token_policies: Vec<String>,
    /// Kind of token.
    pub token_type: TokenType,
    /// Initial TTL of the token.
    pub token_ttl: u64,
    /// Bind the token to the address the login came from.
    pub token_strictly_bind_ip: bool,
}

/// The token settings a stored role or user may still hold under their older names
/// (`ttl`, `max_ttl`, `period`, `num_uses`, `policies`, `bound_cidrs`): zero or empty where
/// it has none.
#[derive(Debug, Default, Clone, Copy)]
pub struct LegacyTokenFields<'a> {
    /// `ttl`, seconds.
    pub ttl: u64,
    /// `max_ttl`, seconds.
    pub max_ttl: u64,
    /// `period`, seconds.
    pub period: u64,
    /// `num_uses`.
    pub num_uses: i64,
    /// `policies`.
    pub policies: &'a [String],
    /// `bound_cidrs`.
    pub bound_cidrs: &'a [String],
}

impl TokenParams {
    /// Fills each setting still unset from its older name, as OpenBao does on every read of
    /// a role or user.
    pub fn upgrade_legacy(&mut self, old: LegacyTokenFields<'_>) {
        if self.token_ttl == 0 && old.ttl > 0 {
            self.token_ttl = old.ttl;
        }
        if self.token_max_ttl == 0 && old.max_ttl > 0 {
            self.token_max_ttl = old.max_ttl;
        }
        if self.token_period == 0 && old.period > 0 {
            self.token_period = old.period;
        }
        if self.token_num_uses == 0 && old.num_uses > 0 {
            self.token_num_uses = old.num_uses;
        }
        if self.token_policies.is_empty() && !old.policies.is_empty() {
            self.token_policies = old.policies.to_vec();
        }
        if self.token_bound_cidrs.is_empty() && !old.bound_cidrs.is_empty() {
            self.token_bound_cidrs = old.bound_cidrs.to_vec();
        }
    }

    /// Gives a renewed login's `auth` the role's or user's current TTL, max TTL and period.
    pub fn apply_to_renewal(&self, auth: &mut Auth) {
        auth.lease.ttl = std::time::Duration::from_secs(self.token_ttl);
        auth.lease.max_ttl = std::time::Duration::from_secs(self.token_max_ttl);
        auth.period = std::time::Duration::from_secs(self.token_period);
    }
}

/// The schema of the token fields, to add to a role's or user's path.
pub fn token_fields() -> Vec<Field> {
    use FieldType as T;
    vec![
        Field::new(
            "token_bound_cidrs",
            T::CommaStringSlice,
            "Comma separated string or JSON list of CIDR blocks. If set, specifies the blocks of IP addresses which are allowed to use the generated token.",
        ),
        Field::new(
            "token_explicit_max_ttl",
            T::DurationSecond,
            "If set, tokens created via this role carry an explicit maximum TTL.",
        ),
        Field::new(
            "token_max_ttl",
            T::DurationSecond,
            "The maximum lifetime of the generated token",
        ),
        Field::new(
            "token_no_default_policy",
            T::Bool,
            "If true, the 'default' policy will not automatically be added to generated tokens",
        ),
        Field::new(
            "token_period",
            T::DurationSecond,
            "If set, tokens created via this role will have no max lifetime; instead, their renewal period will be fixed to this value.",
        ),
        Field::new(
            "token_policies",
            T::CommaStringSlice,
            "Comma-separated list of policies",
        ),
        Field::new(
            "token_type",
            T::String,
            "The type of token to generate, service or batch",
        )
        .default_value(Value::from("default-service")),
        Field::new(
            "token_ttl",
            T::DurationSecond,
            "The initial ttl of the token to generate",
        ),
        Field::new(
            "token_num_uses",
            T::Int,
            "The maximum number of times a token may be used, a value of zero means unlimited",
        ),
        Field::new(
            "token_strictly_bind_ip",
            T::Bool,
            "If true, CIDRs for the token will be strictly bound to the source IP address of the login request",
        ),
    ]
}

fn bad(msg: impl Into<String>) -> LogicalError {
    LogicalError::bad_request(msg)
}

fn given_secs(d: &FieldData, name: &str) -> Result<Option<u64>, LogicalError> {
    Ok(d.get_given(name)?.map(|v| v.as_u64().unwrap_or(0)))
}

fn given_strings(d: &FieldData, name: &str) -> Result<Option<Vec<String>>, LogicalError> {
    Ok(d.get_given(name)?.map(|v| match v {
        Value::Array(a) => a
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }))
}

impl TokenParams {
    /// Reads the token fields the request gives over the current values, with OpenBao's
    /// checks and texts (a 400 each).
    pub fn parse_token_fields(&mut self, d: &FieldData) -> Result<(), LogicalError> {
        if let Some(cidrs) = given_strings(d, "token_bound_cidrs")? {
            self.token_bound_cidrs = cidr::normalize(&cidrs).map_err(bad)?;
        }
        if let Some(v) = given_secs(d, "token_explicit_max_ttl")? {
            self.token_explicit_max_ttl = v;
        }
        if let Some(v) = given_secs(d, "token_max_ttl")? {
            self.token_max_ttl = v;
        }
        if let Some(v) = d.get_given("token_no_default_policy")? {
            self.token_no_default_policy = v.as_bool().unwrap_or(false);
        }
        if let Some(v) = given_secs(d, "token_period")? {
            self.token_period = v;
        }
        if let Some(v) = given_strings(d, "token_policies")? {
            self.token_policies = v;
        }
        if let Some(v) = d.get_given("token_type")? {
            let s = v.as_str().unwrap_or_default();
            self.token_type = match s {
                "" | "default" => TokenType::Default,
                "service" => TokenType::Service,
                "batch" => TokenType::Batch,
                _ => return Err(bad(format!("invalid 'token_type' value {s:?}"))),
            };
        }
        if let Some(v) = d.get_given("token_num_uses")? {
            self.token_num_uses = v.as_i64().unwrap_or(0);
        }
        if self.token_num_uses < 0 {
            return Err(bad("'token_num_uses' cannot be negative"));
        }
        if self.token_type.is_batch() {
            if self.token_period != 0 {
                return Err(bad(
                    "'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens",
                ));
            }
            if self.token_num_uses != 0 {
                return Err(bad(
                    "'token_type' cannot be 'batch' or 'default_batch' when set to generate tokens with limited use count",
                ));
            }
        }
        if let Some(v) = given_secs(d, "token_ttl")? {
            self.token_ttl = v;
        }
        if self.token_ttl > 0 && self.token_max_ttl > 0 && self.token_ttl > self.token_max_ttl {
            return Err(bad("'token_ttl' cannot be greater than 'token_max_ttl'"));
        }
        if let Some(v) = d.get_given("token_strictly_bind_ip")? {
            self.token_strictly_bind_ip = v.as_bool().unwrap_or(false);
        }
        if self.token_strictly_bind_ip && !self.token_bound_cidrs.is_empty() {
            return Err(bad(
                "'token_strictly_bind_ip' conflicts with 'token_bound_cidrs'; set only one",
            ));
        }
        Ok(())
    }

    /// Writes the token fields into a read's `data`, as OpenBao shows them.
    pub fn populate_token_data(&self, m: &mut JsonMap) {
        m.insert(
            "token_bound_cidrs".into(),
            Value::from(self.token_bound_cidrs.clone()),
        );
        m.insert(
            "token_explicit_max_ttl".into(),
            Value::from(self.token_explicit_max_ttl),
        );
        m.insert("token_max_ttl".into(), Value::from(self.token_max_ttl));
        m.insert(
            "token_no_default_policy".into(),
            Value::from(self.token_no_default_policy),
        );
        m.insert("token_period".into(), Value::from(self.token_period));
        m.insert(
            "token_policies".into(),
            Value::from(self.token_policies.clone()),
        );
        m.insert("token_type".into(), Value::from(self.token_type.as_str()));
        m.insert("token_ttl".into(), Value::from(self.token_ttl));
        m.insert("token_num_uses".into(), Value::from(self.token_num_uses));
        m.insert(
            "token_strictly_bind_ip".into(),
            Value::from(self.token_strictly_bind_ip),
        );
    }

    /// Sets a login's [`Auth`] from these settings (renewable; bound to the client's
    /// address when `token_strictly_bind_ip`).
    pub fn populate_token_auth(&self, auth: &mut Auth, req: &Request) -> Result<(), LogicalError> {
        auth.bound_cidrs = self.token_bound_cidrs.clone();
        auth.explicit_max_ttl = Duration::from_secs(self.token_explicit_max_ttl);
        auth.lease.max_ttl = Duration::from_secs(self.token_max_ttl);
        auth.no_default_policy = self.token_no_default_policy;
        auth.period = Duration::from_secs(self.token_period);
        auth.policies = self.token_policies.clone();
        auth.lease.renewable = true;
        auth.token_type = self.token_type.as_str().to_string();
        auth.lease.ttl = Duration::from_secs(self.token_ttl);
        auth.num_uses = u64::try_from(self.token_num_uses).unwrap_or(0);
        if self.token_strictly_bind_ip {
            let addr = req
                .connection
                .as_ref()
                .map(|c| c.remote_addr.as_str())
                .unwrap_or_default();
            auth.bound_cidrs = cidr::normalize(&[addr]).map_err(bad)?;
        }
        Ok(())
    }
}

/// OpenBao's `DeprecationText`: the description of an older field a `token_*` one replaces.
pub fn deprecation_text(param: &str) -> String {
    format!(
        "Use {param:?} instead. If this and {param:?} are both specified, only {param:?} will be used."
    )
}

/// Which of an older field and its `token_*` replacement a request gave, and the value the
/// older one keeps: OpenBao's `UpgradeValue`. The new name wins; given only the old name, both
/// take its value; given only the new one, the old value is cleared.
enum Upgrade<T> {
    /// Both get this value.
    Both(T),
    /// The old field keeps the new value.
    OldTakesNew,
    /// The old field is cleared.
    ClearOld,
    /// Neither was given.
    Neither,
}

fn upgrade<T>(
    d: &FieldData,
    old_key: &str,
    new_key: &str,
    read_old: impl FnOnce(&Value) -> Result<T, LogicalError>,
) -> Result<Upgrade<T>, LogicalError> {
    let new_given = d.is_set(new_key) && d.get_given(new_key)?.is_some();
    let old = d.get_given(old_key)?;
    Ok(match (new_given, old) {
        (false, Some(v)) => Upgrade::Both(read_old(&v)?),
        (false, None) => Upgrade::Neither,
        (true, Some(_)) => Upgrade::OldTakesNew,
        (true, None) => Upgrade::ClearOld,
    })
}

/// `UpgradeValue` for a duration in seconds (`ttl` → `token_ttl`, ...).
pub fn upgrade_duration(
    d: &FieldData,
    old_key: &str,
    new_key: &str,
    old_val: &mut u64,
    new_val: &mut u64,
) -> Result<(), LogicalError> {
    match upgrade(d, old_key, new_key, |v| Ok(v.as_u64().unwrap_or(0)))? {
        Upgrade::Both(v) => {
            *old_val = v;
            *new_val = v;
        }
        Upgrade::OldTakesNew => *old_val = *new_val,
        Upgrade::ClearOld => *old_val = 0,
        Upgrade::Neither => {}
    }
    Ok(())
}

/// `UpgradeValue` for an integer (`num_uses`-style fields).
pub fn upgrade_int(
    d: &FieldData,
    old_key: &str,
    new_key: &str,
    old_val: &mut i64,
    new_val: &mut i64,
) -> Result<(), LogicalError> {
    match upgrade(d, old_key, new_key, |v| Ok(v.as_i64().unwrap_or(0)))? {
        Upgrade::Both(v) => {
            *old_val = v;
            *new_val = v;
        }
        Upgrade::OldTakesNew => *old_val = *new_val,
        Upgrade::ClearOld => *old_val = 0,
        Upgrade::Neither => {}
    }
    Ok(())
}

/// `UpgradeValue` for a list of strings. Policies (`new_key` = `token_policies`) are parsed as
/// OpenBao's `ParsePolicies` does: trimmed, lower-cased, duplicates and empties dropped,
/// sorted. Bound CIDRs (`new_key` ending in `bound_cidrs`) are parsed and normalized.
pub fn upgrade_strings(
    d: &FieldData,
    old_key: &str,
    new_key: &str,
    old_val: &mut Vec<String>,
    new_val: &mut Vec<String>,
) -> Result<(), LogicalError> {
    let read = |v: &Value| -> Result<Vec<String>, LogicalError> {
        let list: Vec<String> = match v {
            Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            Value::String(s) => s.split(',').map(str::to_string).collect(),
            _ => Vec::new(),
        };
        if new_key == "token_policies" {
            Ok(parse_policies(&list))
        } else if new_key.ends_with("bound_cidrs") {
            cidr::normalize(&list).map_err(bad)
        } else {
            Ok(list)
        }
    };
    match upgrade(d, old_key, new_key, read)? {
        Upgrade::Both(v) => {
            *old_val = v.clone();
            *new_val = v;
        }
        Upgrade::OldTakesNew => *old_val = new_val.clone(),
        Upgrade::ClearOld => old_val.clear(),
        Upgrade::Neither => {}
    }
    Ok(())
}

/// OpenBao's `policyutil.ParsePolicies` without the default policy: each name trimmed and
/// lower-cased, empties and duplicates dropped, sorted.
pub fn parse_policies<S: AsRef<str>>(list: &[S]) -> Vec<String> {
    let mut out: Vec<String> = list
        .iter()
        .flat_map(|s| s.as_ref().split(','))
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    fn fd(raw: Value, extra: Vec<Field>) -> FieldData {
        let mut schema = BTreeMap::new();
        for f in token_fields().into_iter().chain(extra) {
            schema.insert(f.name.clone(), f);
        }
        let Value::Object(raw) = raw else {
            panic!("object")
        };
        FieldData::new(raw, Arc::new(schema))
    }

    fn err(raw: Value) -> String {
        let mut p = TokenParams::default();
        p.parse_token_fields(&fd(raw, vec![]))
            .unwrap_err()
            .wire_messages()
            .join("")
    }

    #[test]
    fn parses_with_openbao_texts() {
        let mut p = TokenParams::default();
        p.parse_token_fields(&fd(
            json!({"token_ttl": "1h", "token_max_ttl": 7200, "token_policies": "a,b",
                   "token_bound_cidrs": "10.0.0.0/8,127.0.0.1", "token_type": "batch"}),
            vec![],
        ))
        .unwrap();
        assert_eq!(p.token_ttl, 3600);
        assert_eq!(p.token_max_ttl, 7200);
        assert_eq!(p.token_policies, ["a", "b"]);
        assert_eq!(p.token_bound_cidrs, ["10.0.0.0/8", "127.0.0.1"]);
        assert_eq!(p.token_type, TokenType::Batch);
        assert_eq!(
            err(json!({"token_ttl": 10, "token_max_ttl": 5})),
            "'token_ttl' cannot be greater than 'token_max_ttl'"
        );
        assert_eq!(
            err(json!({"token_type": "x"})),
            "invalid 'token_type' value \"x\""
        );
        assert_eq!(
            err(json!({"token_type": "default-service"})),
            "invalid 'token_type' value \"default-service\""
        );
        assert_eq!(
            err(json!({"token_num_uses": -1})),
            "'token_num_uses' cannot be negative"
        );
        assert_eq!(
            err(json!({"token_type": "batch", "token_period": 5})),
            "'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens"
        );
        assert_eq!(
            err(json!({"token_strictly_bind_ip": true, "token_bound_cidrs": "1.2.3.4"})),
            "'token_strictly_bind_ip' conflicts with 'token_bound_cidrs'; set only one"
        );
    }

    #[test]
    fn shows_and_populates() {
        let p = TokenParams {
            token_ttl: 60,
            token_policies: vec!["a".into()],
            ..TokenParams::default()
        };
        let mut m = JsonMap::new();
        p.populate_token_data(&mut m);
        assert_eq!(m["token_type"], "default");
        assert_eq!(m["token_bound_cidrs"], json!([]));
        assert_eq!(m["token_ttl"], 60);
        let mut auth = Auth::default();
        let mut req = Request::new(crate::Operation::Update, "login");
        p.populate_token_auth(&mut auth, &req).unwrap();
        assert!(auth.lease.renewable);
        assert_eq!(auth.lease.ttl, Duration::from_secs(60));
        assert_eq!(auth.token_type, "default");
        let strict = TokenParams {
            token_strictly_bind_ip: true,
            ..TokenParams::default()
        };
        req.connection = Some(crate::Connection {
            remote_addr: "10.1.1.1".into(),
            ..Default::default()
        });
        strict.populate_token_auth(&mut auth, &req).unwrap();
        assert_eq!(auth.bound_cidrs, ["10.1.1.1"]);
    }

    #[test]
    fn stored_legacy_fields_fill_only_unset_settings() {
        let mut t = TokenParams {
            token_ttl: 30,
            ..TokenParams::default()
        };
        let policies = vec!["old".to_string()];
        t.upgrade_legacy(LegacyTokenFields {
            ttl: 60,
            max_ttl: 120,
            num_uses: 3,
            policies: &policies,
            ..LegacyTokenFields::default()
        });
        assert_eq!(
            (
                t.token_ttl,
                t.token_max_ttl,
                t.token_num_uses,
                t.token_period
            ),
            (30, 120, 3, 0)
        );
        assert_eq!(t.token_policies, policies);
        let mut auth = Auth::default();
        t.apply_to_renewal(&mut auth);
        assert_eq!(auth.lease.ttl, Duration::from_secs(30));
        assert_eq!(auth.lease.max_ttl, Duration::from_secs(120));
    }

    #[test]
    fn upgrades_older_names() {
        let old = || {
            vec![
                Field::new("ttl", FieldType::DurationSecond, ""),
                Field::new("policies", FieldType::CommaStringSlice, ""),
            ]
        };
        // Only the old name: both take it.
        let d = fd(json!({"ttl": "2m", "policies": "B, a,a"}), old());
        let (mut o, mut n) = (0, 0);
        upgrade_duration(&d, "ttl", "token_ttl", &mut o, &mut n).unwrap();
        assert_eq!((o, n), (120, 120));
        let (mut op, mut np) = (vec![], vec![]);
        upgrade_strings(&d, "policies", "token_policies", &mut op, &mut np).unwrap();
        assert_eq!(np, ["a", "b"]);
        assert_eq!(op, np);
        // Both: the new one wins.
        let d = fd(json!({"ttl": "2m", "token_ttl": 30}), old());
        let (mut o, mut n) = (0, 30);
        upgrade_duration(&d, "ttl", "token_ttl", &mut o, &mut n).unwrap();
        assert_eq!((o, n), (30, 30));
        // Only the new one: the old is cleared.
        let d = fd(json!({"token_ttl": 30}), old());
        let (mut o, mut n) = (99, 30);
        upgrade_duration(&d, "ttl", "token_ttl", &mut o, &mut n).unwrap();
        assert_eq!((o, n), (0, 30));
    }
}
