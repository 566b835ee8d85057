//! The trusted certificate endpoints: `certs/` (list) and `certs/<name>` (write, read,
//! delete), with OpenBao's checks and warnings in its order.

use std::sync::Arc;

use arca_sdk::framework::FieldData;
use arca_sdk::token_util::{upgrade_duration, upgrade_strings};
use arca_sdk::{JsonMap, LogicalError, Request, Response};
use serde_json::Value;

use crate::State;
use crate::certificate::parse_pem_bundle;
use crate::entry::{self, CertEntry};

/// The `name` of a request, lower-cased.
fn name_of(d: &FieldData) -> Result<String, LogicalError> {
    Ok(d.get_str("name")?.to_lowercase())
}

/// `GET certs/<name>`.
pub(crate) async fn read(req: Request, d: FieldData) -> Result<Option<Response>, LogicalError> {
    let name = name_of(&d)?;
    let Some(cert) = entry::load_cert(req.storage()?.as_ref(), &name).await? else {
        return Err(LogicalError::empty_not_found());
    };
    Ok(Some(Response::with_data(read_data(&cert))))
}

fn list_value(v: &Option<Vec<String>>) -> Value {
    match v {
        Some(l) => Value::from(l.clone()),
        None => Value::Null,
    }
}

fn read_data(cert: &CertEntry) -> JsonMap {
    let mut data = JsonMap::new();
    let mut put = |k: &str, v: Value| {
        data.insert(k.to_string(), v);
    };
    put("certificate", Value::from(cert.certificate.clone()));
    put("display_name", Value::from(cert.display_name.clone()));
    put("allowed_names", list_value(&cert.allowed_names));
    put(
        "allowed_common_names",
        list_value(&cert.allowed_common_names),
    );
    put("allowed_dns_sans", list_value(&cert.allowed_dns_sans));
    put("allowed_email_sans", list_value(&cert.allowed_email_sans));
    put("allowed_uri_sans", list_value(&cert.allowed_uri_sans));
    put(
        "allowed_organizational_units",
        list_value(&cert.allowed_organizational_units),
    );
    put("required_extensions", list_value(&cert.required_extensions));
    put(
        "allowed_metadata_extensions",
        list_value(&cert.allowed_metadata_extensions),
    );
    put(
        "ocsp_ca_certificates",
        Value::from(cert.ocsp_ca_certificates.clone()),
    );
    put("ocsp_enabled", Value::from(cert.ocsp_enabled));
    put(
        "ocsp_servers_override",
        list_value(&cert.ocsp_servers_override),
    );
    put("ocsp_fail_open", Value::from(cert.ocsp_fail_open));
    put(
        "ocsp_query_all_servers",
        Value::from(cert.ocsp_query_all_servers),
    );
    cert.token.populate_token_data(&mut data);
    if cert.ttl > 0 {
        data.insert("ttl".into(), Value::from(cert.ttl));
    }
    if cert.max_ttl > 0 {
        data.insert("max_ttl".into(), Value::from(cert.max_ttl));
    }
    if cert.period > 0 {
        data.insert("period".into(), Value::from(cert.period));
    }
    if !cert.policies.is_empty() {
        data.insert(
            "policies".into(),
            Value::from(cert.token.token_policies.clone()),
        );
    }
    if !cert.bound_cidrs.is_empty() {
        data.insert(
            "bound_cidrs".into(),
            Value::from(cert.token.token_bound_cidrs.clone()),
        );
    }
    data
}

/// `DELETE certs/<name>`: absent is fine.
pub(crate) async fn delete(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = name_of(&d)?;
    let _guard = state.write_lock.lock().await;
    req.storage()?
        .delete(&format!("{}{name}", entry::CERT_PREFIX))
        .await?;
    Ok(None)
}

fn set_list(d: &FieldData, key: &str, slot: &mut Option<Vec<String>>) -> Result<(), LogicalError> {
    if d.get_given(key)?.is_some() {
        *slot = Some(d.get_strings(key)?);
    }
    Ok(())
}

fn set_str(d: &FieldData, key: &str, slot: &mut String) -> Result<(), LogicalError> {
    if d.get_given(key)?.is_some() {
        *slot = d.get_str(key)?;
    }
    Ok(())
}

fn set_bool(d: &FieldData, key: &str, slot: &mut bool) -> Result<(), LogicalError> {
    if d.get_given(key)?.is_some() {
        *slot = d.get_bool(key)?;
    }
    Ok(())
}

/// `POST certs/<name>`: creates or updates the entry.
pub(crate) async fn write(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = name_of(&d)?;
    let storage = Arc::clone(req.storage()?);
    let _guard = state.write_lock.lock().await;
    let mut cert = entry::load_cert(storage.as_ref(), &name)
        .await?
        .unwrap_or_else(|| CertEntry {
            name: name.clone(),
            ..CertEntry::default()
        });
    set_str(&d, "certificate", &mut cert.certificate)?;
    set_str(&d, "ocsp_ca_certificates", &mut cert.ocsp_ca_certificates)?;
    set_bool(&d, "ocsp_enabled", &mut cert.ocsp_enabled)?;
    set_list(&d, "ocsp_servers_override", &mut cert.ocsp_servers_override)?;
    set_bool(&d, "ocsp_fail_open", &mut cert.ocsp_fail_open)?;
    set_bool(
        &d,
        "ocsp_query_all_servers",
        &mut cert.ocsp_query_all_servers,
    )?;
    set_str(&d, "display_name", &mut cert.display_name)?;
    set_list(&d, "allowed_names", &mut cert.allowed_names)?;
    set_list(&d, "allowed_common_names", &mut cert.allowed_common_names)?;
    set_list(&d, "allowed_dns_sans", &mut cert.allowed_dns_sans)?;
    set_list(&d, "allowed_email_sans", &mut cert.allowed_email_sans)?;
    set_list(&d, "allowed_uri_sans", &mut cert.allowed_uri_sans)?;
    set_list(
        &d,
        "allowed_organizational_units",
        &mut cert.allowed_organizational_units,
    )?;
    set_list(&d, "required_extensions", &mut cert.required_extensions)?;
    set_list(
        &d,
        "allowed_metadata_extensions",
        &mut cert.allowed_metadata_extensions,
    )?;
    cert.token.parse_token_fields(&d)?;
    upgrade_legacy_fields(&mut cert, &d)?;

    let mut resp = Response::default();
    let default_ttl = state.system.default_lease_ttl().as_secs();
    let max_ttl = state.system.max_lease_ttl().as_secs();
    let t = &cert.token;
    if t.token_ttl > default_ttl {
        resp.warn(format!(
            "Given ttl of {} seconds is greater than current mount/system default of {default_ttl} seconds",
            t.token_ttl
        ));
    }
    if t.token_max_ttl > max_ttl {
        resp.warn(format!(
            "Given max_ttl of {} seconds is greater than current mount/system default of {max_ttl} seconds",
            t.token_max_ttl
        ));
    }
    if t.token_max_ttl != 0 && t.token_ttl > t.token_max_ttl {
        return Err(LogicalError::bad_request(
            "ttl should be shorter than max_ttl",
        ));
    }
    if t.token_period > max_ttl {
        resp.warn(format!(
            "Given period of {} seconds is greater than the backend's maximum TTL of {max_ttl} seconds",
            t.token_period
        ));
    }
    if cert.display_name.is_empty() {
        cert.display_name = name.clone();
    }
    let parsed = parse_pem_bundle(&cert.certificate);
    let Some(first) = parsed.first() else {
        return Err(LogicalError::bad_request("failed to parse certificate"));
    };
    if !first.is_ca && !first.allows_client_auth() {
        return Err(LogicalError::bad_request(
            "nonCA certificates should have TLS client authentication set as an extended key usage",
        ));
    }
    entry::store_cert(storage.as_ref(), &cert).await?;
    if resp.warnings.is_empty() {
        return Ok(None);
    }
    Ok(Some(resp))
}

/// OpenBao's `UpgradeValue` for `policies`, `ttl` (and the older `lease`), `max_ttl`,
/// `period` and `bound_cidrs`.
fn upgrade_legacy_fields(cert: &mut CertEntry, d: &FieldData) -> Result<(), LogicalError> {
    let t = &mut cert.token;
    upgrade_strings(
        d,
        "policies",
        "token_policies",
        &mut cert.policies,
        &mut t.token_policies,
    )?;
    upgrade_duration(d, "ttl", "token_ttl", &mut cert.ttl, &mut t.token_ttl)?;
    if !d.is_set("token_ttl") && !d.is_set("ttl") && d.get_given("lease")?.is_some() {
        let lease = u64::try_from(d.get_i64("lease")?).unwrap_or(0);
        cert.ttl = lease;
        t.token_ttl = lease;
    }
    upgrade_duration(
        d,
        "max_ttl",
        "token_max_ttl",
        &mut cert.max_ttl,
        &mut t.token_max_ttl,
    )?;
    upgrade_duration(
        d,
        "period",
        "token_period",
        &mut cert.period,
        &mut t.token_period,
    )?;
    upgrade_strings(
        d,
        "bound_cidrs",
        "token_bound_cidrs",
        &mut cert.bound_cidrs,
        &mut t.token_bound_cidrs,
    )
}
