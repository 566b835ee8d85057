//! `identity/mfa/method/totp[/<id>]` and `identity/mfa/method[/<id>]`: TOTP method
//! configurations, parsed and refused with OpenBao's texts (`parseTOTPConfig`), read and
//! listed in its shape.

use std::sync::Arc;

use arca_sdk::framework::{FieldType, convert_field};
use arca_sdk::storage::StorageExt;
use arca_sdk::{JsonMap, LogicalError, Request, Response};
use serde_json::{Value, json};

use super::totp::Algorithm;
use super::{METHOD_PREFIX, RECORD_VERSION, SECRET_PREFIX, TotpMethod};
use crate::identity::IdentityStore;
use crate::identity::entities::list_response;
use crate::identity::fields;

/// The type name of the one method type served.
pub(crate) const TOTP: &str = "totp";

/// An integer parameter converted as the framework's `TypeInt` (or `TypeDurationSecond`),
/// `default` when absent.
fn int(d: &JsonMap, name: &str, kind: FieldType, default: i64) -> Result<i64, LogicalError> {
    match d.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => Ok(convert_field(name, kind, v)?.as_i64().unwrap_or(default)),
    }
}

/// A method as OpenBao reads and lists it.
pub(crate) fn method_json(m: &TotpMethod) -> Value {
    json!({
        "algorithm": m.algorithm,
        "digits": m.digits,
        "id": m.id,
        "issuer": m.issuer,
        "key_size": m.key_size,
        "max_validation_attempts": m.max_validation_attempts,
        "name": m.name,
        "namespace_id": m.namespace_id,
        "namespace_path": m.namespace_path,
        "period": m.period,
        "qr_size": m.qr_size,
        "skew": m.skew,
        "type": TOTP,
    })
}

/// Fills `m` from the request as OpenBao's `parseTOTPConfig`: every field from the request
/// or its default, checked in its order.
fn parse_totp(d: &JsonMap, m: &mut TotpMethod) -> Result<(), LogicalError> {
    // The framework converts every field before the handler looks at any.
    let algorithm = fields::string(d, "algorithm")?.unwrap_or_else(|| "SHA1".into());
    let digits = int(d, "digits", FieldType::Int, 6)?;
    let period = int(d, "period", FieldType::DurationSecond, 30)?;
    let skew = int(d, "skew", FieldType::Int, 1)?;
    let key_size = int(d, "key_size", FieldType::Int, 20)?;
    let issuer = fields::string_or_empty(d, "issuer")?;
    let max_attempts = int(d, "max_validation_attempts", FieldType::Int, 5)?;
    let qr_size = int(d, "qr_size", FieldType::Int, 200)?;
    let bad = |t: &str| Err(LogicalError::bad_request(t));
    let Some(algorithm) = Algorithm::parse(&algorithm) else {
        return bad("unrecognized algorithm");
    };
    if digits != 6 && digits != 8 {
        return bad("digits can only be 6 or 8");
    }
    if period <= 0 {
        return bad("period must be greater than zero");
    }
    if skew != 0 && skew != 1 {
        return bad("skew must be 0 or 1");
    }
    if key_size <= 0 {
        return bad("key_size must be greater than zero");
    }
    if issuer.is_empty() {
        return bad("issuer must be set");
    }
    if max_attempts < 0 {
        return bad("max_validation_attempts must be greater than zero");
    }
    m.algorithm = algorithm.name().to_string();
    m.digits = digits as u32;
    m.period = period as u64;
    m.skew = skew as u64;
    m.key_size = key_size as u64;
    m.issuer = issuer;
    m.max_validation_attempts = match max_attempts {
        0 => 5,
        n => u32::try_from(n).unwrap_or(u32::MAX),
    };
    m.qr_size = qr_size;
    Ok(())
}

impl IdentityStore {
    /// `identity/mfa/method/totp` (create, or update the method named `method_name`) and
    /// `identity/mfa/method/totp/<id>` (update; 404 when there is no such method).
    pub(crate) async fn write_totp_method(
        &self,
        req: &Request,
        method_id: Option<&str>,
    ) -> Result<Option<Response>, LogicalError> {
        let d = &req.data;
        let name = fields::string_or_empty(d, "method_name")?;
        let _guard = self.write.lock().await;
        let (by_id, by_name) = {
            let st = self.mfa.read();
            (
                method_id.map(|id| st.methods.get(id).cloned()),
                (!name.is_empty())
                    .then(|| st.method_by_name(&name))
                    .flatten(),
            )
        };
        let mut current = match by_id {
            // An id nothing has: OpenBao's handler answers nothing (204).
            Some(None) => return Ok(None),
            Some(Some(m)) => Some(m),
            None => None,
        };
        if let Some(named) = by_name {
            match &current {
                None => current = Some(named),
                Some(m) if m.id != named.id => {
                    return Err(LogicalError::invalid_input(format!(
                        "a login MFA method configuration with the method name {name} already exists"
                    )));
                }
                Some(_) => {}
            }
        }
        let mut m = match current {
            Some(m) => (*m).clone(),
            None => TotpMethod {
                version: RECORD_VERSION,
                id: crate::random::uuid(),
                name: String::new(),
                namespace_id: req.namespace_id.clone(),
                namespace_path: req.namespace_path.clone(),
                issuer: String::new(),
                period: 30,
                key_size: 20,
                qr_size: 200,
                algorithm: "SHA1".into(),
                digits: 6,
                skew: 1,
                max_validation_attempts: 5,
            },
        };
        if !name.is_empty() {
            m.name = name;
        }
        if m.namespace_id != req.namespace_id {
            return Err(LogicalError::bad_request(
                "request namespace does not match method namespace",
            ));
        }
        parse_totp(d, &mut m)?;
        m.version = RECORD_VERSION;
        self.storage()?
            .put_json(&format!("{METHOD_PREFIX}{}", m.id), &m)
            .await?;
        let id = m.id.clone();
        self.mfa.write().methods.insert(id.clone(), Arc::new(m));
        if method_id.is_some() {
            return Ok(None);
        }
        let mut data = JsonMap::new();
        data.insert("method_id".into(), Value::String(id));
        Ok(Some(Response::with_data(data)))
    }

    /// `identity/mfa/method[/totp]/<id>`: the method, 404 `{"errors":[]}` when absent.
    pub(crate) fn read_mfa_method(&self, id: Option<&str>) -> Result<Response, LogicalError> {
        let id = id.ok_or_else(|| LogicalError::bad_request("missing method ID"))?;
        let m = self
            .mfa
            .read()
            .methods
            .get(id)
            .cloned()
            .ok_or_else(LogicalError::empty_not_found)?;
        match method_json(&m) {
            Value::Object(data) => Ok(Response::with_data(data)),
            _ => Err(LogicalError::internal("internal error")),
        }
    }

    /// LIST `identity/mfa/method[/totp]`: every method, with its configuration as key info.
    pub(crate) fn list_mfa_methods(&self) -> Result<Response, LogicalError> {
        let st = self.mfa.read();
        let mut info = serde_json::Map::new();
        for (id, m) in &st.methods {
            info.insert(id.clone(), method_json(m));
        }
        let keys: Vec<&String> = st.methods.keys().collect();
        list_response(json!({ "key_info": info, "keys": keys }))
    }

    /// DELETE `identity/mfa/method/totp/<id>`: refused while an enforcement uses it (500, as
    /// OpenBao's); the entities' secrets for it go with it. An absent one is no error.
    pub(crate) async fn delete_totp_method(&self, id: Option<&str>) -> Result<(), LogicalError> {
        let id = id.ok_or_else(|| LogicalError::bad_request("missing method ID"))?;
        let _guard = self.write.lock().await;
        let (exists, used_by, secret_holders) = {
            let st = self.mfa.read();
            (
                st.methods.contains_key(id),
                st.enforcements
                    .values()
                    .find(|e| e.mfa_method_ids.iter().any(|m| m == id))
                    .map(|e| e.id.clone()),
                st.secrets.get(id).cloned().unwrap_or_default(),
            )
        };
        if !exists {
            return Ok(());
        }
        if let Some(e) = used_by {
            return Err(LogicalError::invalid_input(format!(
                "methodID is still used by an enforcement configuration with ID: {e}"
            )));
        }
        let storage = self.storage()?;
        for entity in &secret_holders {
            storage
                .delete(&format!("{SECRET_PREFIX}{id}/{entity}"))
                .await?;
        }
        storage.delete(&format!("{METHOD_PREFIX}{id}")).await?;
        let mut st = self.mfa.write();
        st.methods.remove(id);
        st.secrets.remove(id);
        Ok(())
    }
}
