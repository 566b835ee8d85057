//! Revocation and mount configuration: `revoke`, `revoke-with-key`, `crl/rotate`,
//! `crl/rotate-delta`, `config/crl`, `config/urls`, `tidy`, `tidy-status`, `tidy-cancel` and
//! `config/auto-tidy`.

use std::sync::Arc;

use arca_sdk::framework::{Field, FieldData, FieldType, PathDef};
use arca_sdk::{LogicalError, Operation, Request, Response, Storage};
use serde_json::{Value, json};

use crate::certs::{self, Revoked};
use crate::config::{CrlConfig, UrlsConfig};
use crate::error::PkiError;
use crate::{State, crl, data, op, storage, x509};

pub(crate) fn paths(state: &Arc<State>) -> Vec<PathDef> {
    let list = |n: &str| Field::new(n, FieldType::CommaStringSlice, n.replace('_', " "));
    let st = |n: &str| Field::new(n, FieldType::String, n.replace('_', " "));
    let b = |n: &str| Field::new(n, FieldType::Bool, n.replace('_', " "));
    vec![
        PathDef::new("revoke")
            .field(st("serial_number"))
            .field(st("certificate"))
            .op(Operation::Update, op(state, revoke)),
        PathDef::new("revoke-with-key")
            .field(st("serial_number"))
            .field(st("certificate"))
            .field(st("private_key"))
            .op(Operation::Update, op(state, revoke_with_key)),
        PathDef::new("crl/rotate").op(Operation::Read, op(state, rotate)),
        PathDef::new("crl/rotate-delta").op(Operation::Read, op(state, rotate)),
        PathDef::new("config/urls")
            .field(list("issuing_certificates"))
            .field(list("crl_distribution_points"))
            .field(list("delta_crl_distribution_points"))
            .field(list("ocsp_servers"))
            .field(b("enable_templating"))
            .op(Operation::Read, op(state, read_urls))
            .op(Operation::Update, op(state, write_urls)),
        PathDef::new("config/crl")
            .field(st("expiry"))
            .field(b("disable"))
            .field(b("ocsp_disable"))
            .field(st("ocsp_expiry"))
            .field(b("auto_rebuild"))
            .field(st("auto_rebuild_grace_period"))
            .field(b("enable_delta"))
            .field(st("delta_rebuild_interval"))
            .field(b("allow_expired_cert_revocation"))
            .field(b("cross_cluster_revocation"))
            .field(b("unified_crl"))
            .field(b("unified_crl_on_existing_paths"))
            .op(Operation::Read, op(state, read_crl_config))
            .op(Operation::Update, op(state, write_crl_config)),
        PathDef::new("config/acme")
            .field(b("enabled"))
            .field(list("allowed_issuers"))
            .field(list("allowed_roles"))
            .field(b("allow_role_ext_key_usage"))
            .field(st("default_directory_policy"))
            .field(st("dns_resolver"))
            .field(st("eab_policy"))
            .op(Operation::Read, op(state, read_acme_config))
            .op(Operation::Update, op(state, write_acme_config)),
    ]
}

/// Revokes `serial` and rebuilds the CRLs; the wire answer of `revoke`.
pub(crate) async fn revoke_serial(
    state: &State,
    s: &dyn Storage,
    serial: &str,
) -> Result<Option<Response>, LogicalError> {
    let cfg = CrlConfig::load(s).await?;
    let outcome = certs::revoke(s, serial, cfg.allow_expired_cert_revocation).await?;
    match outcome {
        Revoked::Expired => {
            let mut resp = Response::default();
            resp.warn(format!(
                "certificate with serial {} is expired, not revoking",
                x509::normalize_serial(serial)
            ));
            Ok(Some(resp))
        }
        Revoked::Done(r) => {
            // CRLs are rebuilt on every revocation, `auto_rebuild` or not.
            let _guard = state.crl_lock.lock().await;
            crl::rebuild_all(s).await?;
            Ok(data(json!({
                "revocation_time": r.revocation_time,
                "revocation_time_rfc3339": r.revocation_time_utc,
                "state": "revoked",
            })))
        }
    }
}

async fn serial_of_request(d: &FieldData) -> Result<String, LogicalError> {
    let serial = d.get_str("serial_number")?;
    let cert = d.get_str("certificate")?;
    match (serial.is_empty(), cert.is_empty()) {
        (true, true) => Err(LogicalError::bad_request(
            "The serial number must be provided",
        )),
        (false, false) => Err(LogicalError::bad_request(
            "Must provide either the certificate or the serial to revoke; not both.",
        )),
        (false, true) => Ok(serial),
        (true, false) => {
            let der = x509::pem_certs(&cert)?
                .into_iter()
                .next()
                .ok_or_else(|| LogicalError::bad_request("certificate contains no PEM data"))?;
            Ok(x509::parse_cert(&der)?.serial)
        }
    }
}

async fn revoke(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let serial = serial_of_request(&d).await?;
    revoke_serial(&state, s.as_ref(), &serial).await
}

async fn revoke_with_key(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let key_text = d.get_str("private_key")?;
    if key_text.trim().len() < 64 {
        return Err(LogicalError::bad_request(
            "Provided data for private_key was too short; perhaps a path was passed to the API rather than the contents of a PEM file?",
        ));
    }
    let serial = serial_of_request(&d).await?;
    let Some(der) = certs::load(s.as_ref(), &serial).await? else {
        return Err(PkiError::bad(format!(
            "certificate with serial {} not found.",
            x509::normalize_serial(&serial)
        ))
        .into());
    };
    let info = x509::parse_cert(&der)?;
    let kp = crate::keys::load(&key_text, 0)?;
    if rcgen::PublicKeyData::subject_public_key_info(&kp) != info.spki_der {
        return Err(LogicalError::bad_request(
            "failed to validate private key match with certificate: public key mismatch",
        ));
    }
    revoke_serial(&state, s.as_ref(), &serial).await
}

async fn rotate(
    state: Arc<State>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let _guard = state.crl_lock.lock().await;
    crl::rebuild_all(s.as_ref()).await?;
    Ok(data(json!({"success": true})))
}

fn urls_json(u: &UrlsConfig) -> Value {
    json!({
        "issuing_certificates": u.issuing_certificates,
        "crl_distribution_points": u.crl_distribution_points,
        "delta_crl_distribution_points": u.delta_crl_distribution_points,
        "ocsp_servers": u.ocsp_servers,
        "enable_templating": u.enable_templating,
    })
}

async fn read_urls(
    _state: Arc<State>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    Ok(data(urls_json(&UrlsConfig::load(s.as_ref()).await?)))
}

async fn write_urls(
    _state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let mut u = UrlsConfig::load(s.as_ref()).await?;
    let set = |name: &str, target: &mut Vec<String>| -> Result<(), LogicalError> {
        if d.is_set(name) {
            *target = d
                .get_strings(name)?
                .into_iter()
                .filter(|v| !v.is_empty())
                .collect();
            for v in target.iter() {
                if !v.starts_with("http://") && !v.starts_with("https://") && !v.starts_with("ldap")
                {
                    return Err(LogicalError::bad_request(format!(
                        "invalid URL found in {name}: {v}"
                    )));
                }
            }
        }
        Ok(())
    };
    set("issuing_certificates", &mut u.issuing_certificates)?;
    set("crl_distribution_points", &mut u.crl_distribution_points)?;
    set(
        "delta_crl_distribution_points",
        &mut u.delta_crl_distribution_points,
    )?;
    set("ocsp_servers", &mut u.ocsp_servers)?;
    if d.is_set("enable_templating") {
        u.enable_templating = d.get_bool("enable_templating")?;
    }
    u.save(s.as_ref()).await?;
    Ok(data(urls_json(&u)))
}

fn crl_json(c: &CrlConfig) -> Value {
    json!({
        "expiry": c.expiry,
        "disable": c.disable,
        "ocsp_disable": c.ocsp_disable,
        "ocsp_expiry": c.ocsp_expiry,
        "auto_rebuild": c.auto_rebuild,
        "auto_rebuild_grace_period": c.auto_rebuild_grace_period,
        "enable_delta": c.enable_delta,
        "delta_rebuild_interval": c.delta_rebuild_interval,
        "allow_expired_cert_revocation": c.allow_expired_cert_revocation,
    })
}

async fn read_crl_config(
    _state: Arc<State>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    Ok(data(crl_json(&CrlConfig::load(s.as_ref()).await?)))
}

async fn write_crl_config(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let mut c = CrlConfig::load(s.as_ref()).await?;
    let dur = |name: &str, target: &mut String| -> Result<(), LogicalError> {
        if d.is_set(name) {
            let v = d.get_str(name)?;
            arca_sdk::duration::parse_duration(&v).map_err(|e| {
                LogicalError::bad_request(format!("given {name} could not be decoded: {e}"))
            })?;
            *target = v;
        }
        Ok(())
    };
    dur("expiry", &mut c.expiry)?;
    dur("ocsp_expiry", &mut c.ocsp_expiry)?;
    dur(
        "auto_rebuild_grace_period",
        &mut c.auto_rebuild_grace_period,
    )?;
    dur("delta_rebuild_interval", &mut c.delta_rebuild_interval)?;
    let flag = |name: &str, target: &mut bool| -> Result<(), LogicalError> {
        if d.is_set(name) {
            *target = d.get_bool(name)?;
        }
        Ok(())
    };
    flag("disable", &mut c.disable)?;
    flag("ocsp_disable", &mut c.ocsp_disable)?;
    flag("auto_rebuild", &mut c.auto_rebuild)?;
    flag("enable_delta", &mut c.enable_delta)?;
    flag(
        "allow_expired_cert_revocation",
        &mut c.allow_expired_cert_revocation,
    )?;
    if c.enable_delta {
        return Err(LogicalError::bad_request(
            "delta CRLs are not supported by this server",
        ));
    }
    if c.enable_delta && !c.auto_rebuild {
        return Err(LogicalError::bad_request(
            "Delta CRLs cannot be enabled when auto rebuilding is disabled as the complete CRL is always regenerated!",
        ));
    }
    c.save(s.as_ref()).await?;
    {
        let _guard = state.crl_lock.lock().await;
        crl::rebuild_all(s.as_ref()).await?;
    }
    Ok(data(crl_json(&c)))
}

fn acme_defaults() -> Value {
    json!({
        "allow_role_ext_key_usage": false,
        "allowed_issuers": ["*"],
        "allowed_roles": ["*"],
        "default_directory_policy": "sign-verbatim",
        "dns_resolver": "",
        "eab_policy": "not-required",
        "enabled": false,
    })
}

async fn read_acme_config(
    _state: Arc<State>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let cfg: Value = crate::issuers::read_json(s.as_ref(), "config/acme", "ACME config")
        .await?
        .unwrap_or_else(acme_defaults);
    Ok(data(cfg))
}

/// ACME itself is not served: the configuration is kept (so tools that read it see
/// OpenBao's shape) but enabling it is refused.
async fn write_acme_config(
    _state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    if d.get_bool("enabled")? {
        return Err(LogicalError::bad_request(
            "ACME is not supported by this server",
        ));
    }
    let mut cfg: Value = crate::issuers::read_json(s.as_ref(), "config/acme", "ACME config")
        .await?
        .unwrap_or_else(acme_defaults);
    for k in [
        "allowed_issuers",
        "allowed_roles",
        "allow_role_ext_key_usage",
        "default_directory_policy",
        "dns_resolver",
        "eab_policy",
    ] {
        if d.is_set(k) {
            cfg[k] = d.get(k)?;
        }
    }
    crate::issuers::put_json(s.as_ref(), "config/acme", &cfg).await?;
    Ok(data(cfg))
}
