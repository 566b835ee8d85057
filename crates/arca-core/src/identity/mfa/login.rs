//! The two-phase login (OpenBao's `buildMFAEnforcementConfigList`, `validateLoginMFA` and
//! `validateTOTP`): which enforcements a login falls under, the requirement handed back in
//! place of a token, the pending logins (kept 300 s, OpenBao's
//! `defaultMFAAuthResponseTTL`), and the check of the passcodes `sys/mfa/validate` brings,
//! with OpenBao's error texts.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arca_sdk::error::multierror;
use arca_sdk::{Auth, LogicalError};
use serde_json::{Value, json};

use super::totp::{self, Algorithm, Params};
use super::{Enforcement, MfaState};
use crate::identity::IdentityStore;

/// How long a login waits for its passcodes.
pub(crate) const PENDING_TTL: Duration = Duration::from_secs(300);

/// OpenBao's answer to a passcode that is missing, malformed, wrong or spent.
const BAD_CREDENTIALS: &str = "MFA credentials not supplied or incorrect";

/// A login held back until its MFA is validated.
pub(crate) struct PendingLogin {
    /// The method's `Auth`, its entity resolved.
    pub auth: Auth,
    /// The auth mount (`auth/userpass/`), inside the namespace.
    pub mount_point: String,
    /// The login path, inside the namespace.
    pub path: String,
    /// The login's namespace.
    pub namespace_id: String,
    /// The namespace's path, for the error of a validation from elsewhere.
    pub namespace_path: String,
    /// When it was held back.
    pub created: Instant,
}

/// The pending logins by request id.
#[derive(Default)]
pub(crate) struct MfaPending {
    by_id: HashMap<String, PendingLogin>,
}

impl MfaPending {
    fn expire(&mut self, now: Instant) {
        self.by_id
            .retain(|_, p| now.duration_since(p.created) < PENDING_TTL);
    }
}

/// What a login brings for one method: a passcode, or nothing (OpenBao's `parseMfaFactors`).
fn parse_factors(creds: &[String]) -> Result<Option<String>, String> {
    let mut passcode: Option<String> = None;
    for cred in creds {
        let code = if cred.is_empty() {
            continue;
        } else if let Some(code) = cred.strip_prefix("passcode=") {
            if code.is_empty() {
                if passcode.is_some() {
                    return Err("found multiple passcodes for the same MFA method".into());
                }
                return Err("invalid passcode".into());
            }
            code
        } else if cred.contains('=') {
            return Err(format!("found an invalid MFA cred: {cred}"));
        } else {
            cred
        };
        if passcode.is_some() {
            return Err("found multiple passcodes for the same MFA method".into());
        }
        passcode = Some(code.to_string());
    }
    Ok(passcode)
}

/// Go's `%v` of a string slice: `[a b]`.
fn go_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

/// The fields of `sys/mfa/validate`: the request id and the payload (method id or name →
/// credentials), converted as OpenBao's framework does and refused with its texts.
pub(crate) fn validate_fields(
    d: &arca_sdk::JsonMap,
) -> Result<(String, HashMap<String, Vec<String>>), LogicalError> {
    use arca_sdk::framework::{FieldType, convert_field};
    let id = match d.get("mfa_request_id") {
        None | Some(Value::Null) => String::new(),
        Some(v) => convert_field("mfa_request_id", FieldType::String, v)?
            .as_str()
            .unwrap_or_default()
            .to_string(),
    };
    let payload = match d.get("mfa_payload") {
        None | Some(Value::Null) => None,
        Some(v) => Some(convert_field("mfa_payload", FieldType::Map, v)?),
    };
    if id.is_empty() {
        return Err(LogicalError::bad_request("missing request ID"));
    }
    // The field is a map with a default, so OpenBao's "missing mfa payload" never shows: an
    // absent payload is an empty one.
    let payload = payload.unwrap_or_else(|| Value::Object(arca_sdk::JsonMap::new()));
    let invalid = || LogicalError::bad_request("invalid mfa payload");
    let mut out = HashMap::new();
    for (k, v) in payload.as_object().ok_or_else(invalid)? {
        let creds = match v {
            Value::Null => Vec::new(),
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_string).ok_or_else(invalid))
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err(invalid()),
        };
        out.insert(k.clone(), creds);
    }
    Ok((id, out))
}

impl IdentityStore {
    /// Whether entity `id` exists.
    pub(crate) fn has_entity(&self, id: &str) -> bool {
        self.read(|ix| ix.entity(id).is_some())
    }

    /// The enforcements of `namespace_id` a login of `entity_id` on the mount with
    /// `accessor` and type `kind` falls under: by entity, by group (direct or inherited), by
    /// mount accessor, by method type.
    pub(crate) fn login_enforcements(
        &self,
        entity_id: &str,
        accessor: &str,
        kind: &str,
        namespace_id: &str,
    ) -> Vec<Arc<Enforcement>> {
        let enforcements: Vec<Arc<Enforcement>> = {
            let st = self.mfa.read();
            if st.enforcements.is_empty() {
                return Vec::new();
            }
            st.enforcements
                .values()
                .filter(|e| e.namespace_id == namespace_id)
                .cloned()
                .collect()
        };
        let groups: Vec<String> = if entity_id.is_empty() {
            Vec::new()
        } else {
            self.read(|ix| {
                let direct = ix.direct_groups(entity_id);
                let mut all = ix.ancestors(&direct);
                all.extend(direct);
                all
            })
        };
        enforcements
            .into_iter()
            .filter(|e| {
                (!entity_id.is_empty() && e.identity_entity_ids.iter().any(|x| x == entity_id))
                    || e.identity_group_ids.iter().any(|g| groups.contains(g))
                    || e.auth_method_accessors.iter().any(|a| a == accessor)
                    || e.auth_method_types.iter().any(|t| t == kind)
            })
            .collect()
    }

    /// Holds `login` back and returns the `mfa_requirement` the client gets instead of a
    /// token: a request id and, per enforcement, the methods any of which satisfies it.
    pub(crate) fn hold_login(&self, login: PendingLogin, matched: &[Arc<Enforcement>]) -> Value {
        let id = crate::random::uuid();
        let mut st = self.mfa.write();
        let mut constraints = serde_json::Map::new();
        for e in matched {
            let any: Vec<Value> = e
                .mfa_method_ids
                .iter()
                .map(|mid| {
                    let name = st.methods.get(mid).map(|m| m.name.clone());
                    json!({
                        "type": "totp",
                        "id": mid,
                        "uses_passcode": true,
                        "name": name.unwrap_or_default(),
                    })
                })
                .collect();
            constraints.insert(e.name.clone(), json!({ "any": any }));
        }
        st.pending.expire(login.created);
        st.pending.by_id.insert(id.clone(), login);
        json!({ "mfa_request_id": id, "mfa_constraints": constraints })
    }

    /// Takes the pending login `id` (gone, or expired: `None`).
    pub(crate) fn take_pending(&self, id: &str) -> Option<PendingLogin> {
        let mut st = self.mfa.write();
        st.pending.expire(Instant::now());
        st.pending.by_id.remove(id)
    }

    /// Puts a pending login back after a failed validation, so it can be tried again.
    pub(crate) fn put_back(&self, id: String, login: PendingLogin) {
        self.mfa.write().pending.by_id.insert(id, login);
    }

    /// Checks the passcodes `payload` (method id or name → credentials) against one
    /// enforcement for `entity_id`; the error is OpenBao's text after
    /// `failed to satisfy enforcement <name>. error: `.
    pub(crate) async fn satisfy_enforcement(
        &self,
        e: &Enforcement,
        entity_id: &str,
        payload: &HashMap<String, Vec<String>>,
    ) -> Result<(), String> {
        // OpenBao's `sanitizeMFACredsWithLoginEnforcementMethodIDs`.
        let mut creds: Vec<(String, Vec<String>)> = Vec::new();
        let mut missing = Vec::new();
        {
            let st = self.mfa.read();
            for mid in &e.mfa_method_ids {
                if let Some(c) = payload.get(mid) {
                    creds.push((mid.clone(), c.clone()));
                    continue;
                }
                match st.methods.get(mid) {
                    None => missing.push(format!("failed to find MFA config for method ID {mid}")),
                    Some(m) => match payload.get(&m.name) {
                        Some(c) => creds.push((mid.clone(), c.clone())),
                        None => missing.push(format!(
                            "failed to find MFA credentials associated with an MFA method ID {mid}, method name {}",
                            m.name
                        )),
                    },
                }
            }
        }
        let failed = format!(
            "login MFA validation failed for methodID: {}",
            go_list(&e.mfa_method_ids)
        );
        if creds.is_empty() {
            if missing.is_empty() {
                return Err(failed);
            }
            return Err(format!(
                "failed to sanitize MFA creds, {}",
                multierror(&missing)
            ));
        }
        let mut errors = Vec::new();
        for mid in &e.mfa_method_ids {
            let Some((_, c)) = creds.iter().find(|(m, _)| m == mid) else {
                continue;
            };
            match self.check_method(mid, entity_id, c).await {
                Ok(()) => return Ok(()),
                Err(err) => errors.push(err),
            }
        }
        errors.push(failed);
        Err(multierror(&errors))
    }

    /// OpenBao's `validateLoginMFAInternal` and `validateTOTP` for one method.
    async fn check_method(
        &self,
        method_id: &str,
        entity_id: &str,
        creds: &[String],
    ) -> Result<(), String> {
        let Some(method) = self.mfa.read().methods.get(method_id).cloned() else {
            return Err("MFA method configuration not present".into());
        };
        let passcode =
            parse_factors(creds).map_err(|e| format!("failed to parse MFA factor, {e}"))?;
        let (has_secret, emptied) = {
            let st = self.mfa.read();
            (
                st.has_secret(method_id, entity_id),
                st.emptied.contains(entity_id),
            )
        };
        if !has_secret {
            return Err(if emptied {
                format!(
                    "MFA secret for method ID {method_id:?} not present in entity {entity_id:?}"
                )
            } else {
                format!(
                    "MFA secret for method name {:?} not present in entity {entity_id:?}",
                    method.name
                )
            });
        }
        let Some(passcode) = passcode else {
            return Err(BAD_CREDENTIALS.into());
        };
        let secret = self
            .totp_secret(method_id, entity_id)
            .await
            .map_err(|e| format!("error fetching TOTP key: {e}"))?
            .ok_or_else(|| "empty key for entity's TOTP secret".to_string())?;
        if passcode.trim() != passcode || passcode.len() != secret.digits as usize {
            return Err(BAD_CREDENTIALS.into());
        }
        let key = totp::base32_decode(&secret.key)
            .ok_or_else(|| "empty key for entity's TOTP secret".to_string())?;
        let params = Params {
            algorithm: Algorithm::parse(&secret.algorithm).unwrap_or(Algorithm::Sha1),
            digits: secret.digits,
            period: secret.period.max(1),
            skew: secret.skew,
        };
        let unix = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
        let step = totp::matching_step(&key, params, &passcode, unix);
        let now = Instant::now();
        let mut st = self.mfa.write();
        let MfaState { used, .. } = &mut *st;
        if let Some(step) = step
            && used.is_used(method_id, entity_id, step, now)
        {
            return Err(BAD_CREDENTIALS.into());
        }
        // OpenBao's window: the period, plus twice the skew in nanoseconds.
        let window_nanos = i64::try_from(params.period)
            .unwrap_or(i64::MAX / 2_000_000_000)
            .saturating_mul(1_000_000_000)
            .saturating_add(2 * i64::try_from(params.skew).unwrap_or(0));
        let window = Duration::from_nanos(u64::try_from(window_nanos).unwrap_or(0));
        let attempts = used.attempt(method_id, entity_id, window, now);
        if attempts > method.max_validation_attempts {
            return Err(format!(
                "maximum TOTP validation attempts {attempts} exceeded the allowed attempts {}. Please try again in {} seconds",
                method.max_validation_attempts,
                arca_sdk::duration::format_go_nanos(window_nanos)
            ));
        }
        let Some(step) = step else {
            return Err(BAD_CREDENTIALS.into());
        };
        let valid_for = Duration::from_secs(params.period.saturating_mul(2 + params.skew));
        used.spend(method_id, entity_id, step, now + valid_for);
        used.clear_attempts(method_id, entity_id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn factors_as_openbao_parses_them() {
        assert_eq!(parse_factors(&v(&["123456"])), Ok(Some("123456".into())));
        assert_eq!(
            parse_factors(&v(&["passcode=123456"])),
            Ok(Some("123456".into()))
        );
        assert_eq!(parse_factors(&v(&["", ""])), Ok(None));
        assert_eq!(parse_factors(&v(&[])), Ok(None));
        assert_eq!(
            parse_factors(&v(&["1", "2"])),
            Err("found multiple passcodes for the same MFA method".into())
        );
        assert_eq!(
            parse_factors(&v(&["passcode="])),
            Err("invalid passcode".into())
        );
        assert_eq!(
            parse_factors(&v(&["a=b"])),
            Err("found an invalid MFA cred: a=b".into())
        );
    }

    #[test]
    fn a_pending_login_lasts_five_minutes() {
        let now = Instant::now();
        let login = |age: u64| PendingLogin {
            auth: Auth::default(),
            mount_point: "auth/userpass/".into(),
            path: "auth/userpass/login/alice".into(),
            namespace_id: "root".into(),
            namespace_path: String::new(),
            created: now.checked_sub(Duration::from_secs(age)).unwrap_or(now),
        };
        let mut p = MfaPending::default();
        p.by_id.insert("fresh".into(), login(299));
        p.by_id.insert("stale".into(), login(300));
        p.expire(now);
        assert!(p.by_id.contains_key("fresh"));
        assert!(!p.by_id.contains_key("stale"));
    }

    #[test]
    fn go_lists() {
        assert_eq!(go_list(&v(&["a", "b"])), "[a b]");
    }
}
