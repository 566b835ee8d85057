//! Issuing and signing leaf certificates: `issue/<role>`, `sign/<role>`,
//! `sign-verbatim[/<role>]` and their `issuer/<ref>/...` forms.

use std::sync::Arc;

use arca_sdk::framework::{Field, FieldData, FieldType, PathDef, generic_name_regex};
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response};
use rcgen::PublicKeyData;
use serde_json::{Value, json};

use crate::issuing::{self, Requested, SubjectFields};
use crate::keys::{self, KeySpec};
use crate::paths_ca::{parse_csr, subject_fields};
use crate::roles::{self, Role};
use crate::{State, certs, op, storage, x509};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Issue,
    Sign,
    Verbatim,
}

fn with_fields(mut p: PathDef) -> PathDef {
    for f in subject_fields() {
        p = p.field(f);
    }
    p.field(Field::new("role", FieldType::String, "The role"))
}

pub(crate) fn paths(state: &Arc<State>) -> Vec<PathDef> {
    let role = generic_name_regex("role");
    let iref = generic_name_regex("issuer_ref");
    vec![
        with_fields(PathDef::new(format!("(issuer/{iref}/)?issue/{role}"))).op(
            Operation::Update,
            op(state, |st, r, d| handle(st, r, d, Mode::Issue)),
        ),
        with_fields(PathDef::new(format!("(issuer/{iref}/)?sign/{role}"))).op(
            Operation::Update,
            op(state, |st, r, d| handle(st, r, d, Mode::Sign)),
        ),
        with_fields(PathDef::new(format!(
            "(issuer/{iref}/)?sign-verbatim(/{role})?"
        )))
        .field(
            Field::new("key_usage", FieldType::CommaStringSlice, "Key usages").default_value(
                json!(["DigitalSignature", "KeyAgreement", "KeyEncipherment"]),
            ),
        )
        .field(Field::new(
            "ext_key_usage",
            FieldType::CommaStringSlice,
            "Extended key usages",
        ))
        .field(Field::new(
            "ext_key_usage_oids",
            FieldType::CommaStringSlice,
            "Extended key usage OIDs",
        ))
        .op(
            Operation::Update,
            op(state, |st, r, d| handle(st, r, d, Mode::Verbatim)),
        ),
    ]
}

async fn handle(
    state: Arc<State>,
    req: Request,
    d: FieldData,
    mode: Mode,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let role_name = d.get_str("role")?;
    let mut role = if mode == Mode::Verbatim && role_name.is_empty() {
        roles::verbatim()
    } else {
        match roles::get(s.as_ref(), &role_name).await? {
            Some(r) => r,
            None => {
                return Err(LogicalError::bad_request(format!(
                    "unknown role: {role_name}"
                )));
            }
        }
    };
    if mode == Mode::Verbatim {
        let base = roles::verbatim();
        role = Role {
            key_usage: d.get_strings("key_usage")?,
            ext_key_usage: d.get_strings("ext_key_usage")?,
            ext_key_usage_oids: d.get_strings("ext_key_usage_oids")?,
            server_flag: false,
            client_flag: false,
            ttl: role.ttl,
            max_ttl: role.max_ttl,
            generate_lease: role.generate_lease,
            no_store: role.no_store,
            issuer_ref: role.issuer_ref.clone(),
            ..base
        };
    }
    let mut warnings = Vec::new();
    // The issuer: the path's, else the role's, else the default.
    let mut issuer_ref = if req.path.starts_with("issuer/") {
        d.get_str("issuer_ref")?
    } else {
        String::new()
    };
    if issuer_ref.is_empty() {
        issuer_ref = if role.issuer_ref.is_empty() {
            "default".into()
        } else {
            role.issuer_ref.clone()
        };
    }
    let signer = issuing::load_signer(s.as_ref(), &issuer_ref, "issuing-certificates").await?;

    let mut r = Requested {
        common_name: d.get_str("common_name")?,
        alt_names: d.get_strings("alt_names")?,
        ip_sans: d.get_strings("ip_sans")?,
        uri_sans: d.get_strings("uri_sans")?,
        exclude_cn_from_sans: d.get_bool("exclude_cn_from_sans")?,
        serial_number: d.get_str("serial_number")?,
        subject: SubjectFields::of_role(&role),
        ttl: d.get_i64("ttl")?,
        not_after: d.get_str("not_after")?,
    };

    // The subject's key: generated here (issue) or taken from the CSR (sign).
    let mut generated = None;
    let (spki, public_raw): (rcgen::SubjectPublicKeyInfo, Vec<u8>) = match mode {
        Mode::Issue => {
            if d.is_set("key_type") || d.is_set("key_bits") {
                warnings.push(
                    "parameters key_type and key_bits ignored as role had specific values"
                        .to_string(),
                );
            }
            if role.key_type == "any" {
                return Err(LogicalError::bad_request(
                    "role key type \"any\" not allowed for issuing certificates, only signing",
                ));
            }
            let spec = KeySpec::parse(&role.key_type, role.key_bits)?;
            let kp = keys::generate(spec).await?;
            let raw = kp.public_key_raw().to_vec();
            let spki = rcgen::SubjectPublicKeyInfo::from_der(&kp.subject_public_key_info())
                .map_err(|e| LogicalError::internal(format!("public key: {e}")))?;
            generated = Some(kp);
            (spki, raw)
        }
        Mode::Sign | Mode::Verbatim => {
            let csr_pem = d.get_str("csr")?;
            if csr_pem.is_empty() {
                return Err(LogicalError::bad_request("\"csr\" is empty"));
            }
            let csr = parse_csr(&csr_pem)?;
            if mode == Mode::Sign && role.key_type != "any" {
                let got = keys::spec_of_alg(csr.spki.algorithm(), csr.spki.der_bytes().len())?;
                if got.type_name() != role.key_type {
                    return Err(LogicalError::bad_request(format!(
                        "role requires keys of type {}",
                        role.key_type
                    )));
                }
            }
            if (role.use_csr_common_name && !csr.common_name.is_empty()) || mode == Mode::Verbatim {
                r.common_name = csr.common_name.clone();
            }
            if role.use_csr_sans || mode == Mode::Verbatim {
                if !csr.alt_names.is_empty() || mode == Mode::Verbatim {
                    r.alt_names = csr.alt_names.clone();
                }
                if !csr.ip_sans.is_empty() || mode == Mode::Verbatim {
                    r.ip_sans = csr.ip_sans.clone();
                }
                if !csr.uri_sans.is_empty() || mode == Mode::Verbatim {
                    r.uri_sans = csr.uri_sans.clone();
                }
            }
            let raw = csr.spki.der_bytes().to_vec();
            (csr.spki, raw)
        }
    };

    let sans = issuing::checked_sans(&role, &req.display_name, &r)?;
    let default_ttl = if role.ttl > 0 {
        role.ttl
    } else {
        state.system.default_lease_ttl().as_secs() as i64
    };
    let max_ttl = if role.max_ttl > 0 {
        role.max_ttl
    } else {
        state.system.max_lease_ttl().as_secs() as i64
    };
    let (nb, na, w) = issuing::validity(
        &r,
        default_ttl,
        max_ttl,
        role.not_before_duration,
        Some(&signer.issuer),
    )?;
    warnings.extend(w);
    let dn = issuing::distinguished_name(&r.common_name, &r.subject, &r.serial_number);
    let (mut params, serial) = issuing::base_params(dn, sans, nb, na, &public_raw)?;
    issuing::apply_role_usages(&mut params, &role)?;
    params
        .custom_extensions
        .push(issuing::ski_extension(&public_raw));
    let urls = crate::config::UrlsConfig::load(s.as_ref())
        .await?
        .for_issuer(&signer.issuer.id);
    issuing::apply_urls(&mut params, &urls);
    let der = signer.sign(&mut params, &spki)?;
    if !role.no_store {
        certs::store(s.as_ref(), &serial, &der).await?;
    }

    let format = d.get_str("format")?;
    let enc = |der: &[u8]| -> String {
        if format == "der" {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(der)
        } else {
            x509::pem_encode("CERTIFICATE", der)
        }
    };
    let mut chain: Vec<String> = signer.issuer.ca_chain.clone();
    if d.get_bool("remove_roots_from_chain")? {
        chain.retain(|p| {
            x509::pem_certs(p)
                .ok()
                .and_then(|v| v.into_iter().next())
                .is_some_and(|der| !x509::signed_by(&der, &der))
        });
    }
    let mut certificate = enc(&der);
    if format == "pem_bundle" {
        let mut parts = Vec::new();
        if let Some(kp) = &generated {
            parts.push(keys::export_private(kp, &d.get_str("private_key_format")?));
        }
        parts.push(certificate.clone());
        parts.push(signer.issuer.certificate.clone());
        certificate = parts.join("\n");
    }
    let mut m = JsonMap::new();
    m.insert("certificate".into(), json!(certificate));
    m.insert("issuing_ca".into(), json!(signer.issuer.certificate));
    m.insert("ca_chain".into(), json!(chain));
    m.insert("serial_number".into(), json!(serial));
    m.insert("expiration".into(), json!(na));
    if mode == Mode::Issue {
        m.insert("not_before".into(), json!(nb));
    }
    if let Some(kp) = &generated {
        m.insert(
            "private_key".into(),
            json!(keys::export_private(kp, &d.get_str("private_key_format")?)),
        );
        m.insert(
            "private_key_type".into(),
            json!(KeySpec::of(kp)?.type_name()),
        );
    }
    let mut resp = if role.generate_lease {
        let cert_secret = state
            .cert_secret
            .get()
            .cloned()
            .ok_or_else(|| LogicalError::internal("secret type not registered"))?;
        let mut internal = JsonMap::new();
        internal.insert("serial_number".into(), Value::String(serial.clone()));
        let mut resp = cert_secret.response(m, internal);
        if let Some(sec) = resp.secret.as_mut() {
            let ttl = (na - chrono::Utc::now().timestamp()).max(1) as u64;
            sec.lease.ttl = std::time::Duration::from_secs(ttl);
        }
        resp
    } else {
        Response::with_data(m)
    };
    for w in warnings {
        resp.warn(w);
    }
    Ok(Some(resp))
}
