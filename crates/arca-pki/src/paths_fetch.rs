//! Reading certificates and CRLs: `ca`, `ca/pem`, `ca_chain`, `cert/<serial>` (with the
//! special serials `ca`, `ca_chain`, `crl`, `delta-crl`), `certs`, `certs/revoked`, `crl`,
//! `crl/pem`, `crl/delta[/pem]` and `issuer/<ref>/crl[/der|/pem]`.

use std::sync::Arc;

use arca_sdk::framework::{Field, FieldData, FieldType, PathDef, generic_name_regex};
use arca_sdk::{LogicalError, Operation, Request, Response};
use serde_json::json;

use crate::crl::{self, Kind};
use crate::{State, certs, data, issuers, list, op, raw, storage, x509};

pub(crate) fn paths(state: &Arc<State>) -> Vec<PathDef> {
    let iref = generic_name_regex("issuer_ref");
    vec![
        // Unnamed alternatives, so the OpenAPI document has one path for each, as OpenBao's.
        PathDef::new(r"(ca|ca/pem|ca_chain|crl|crl/pem|crl/delta|crl/delta/pem)")
            .op(Operation::Read, op(state, fetch_raw)),
        PathDef::new(format!(r"issuer/{iref}/crl(/der|/pem)?"))
            .field(Field::new("issuer_ref", FieldType::String, "issuer"))
            .op(Operation::Read, op(state, fetch_issuer_crl)),
        PathDef::new(format!(r"issuer/{iref}/crl/delta(/der|/pem)?"))
            .field(Field::new("issuer_ref", FieldType::String, "issuer"))
            .op(Operation::Read, op(state, fetch_issuer_delta)),
        PathDef::new(r"cert/(ca_chain|crl|delta-crl)")
            .op(Operation::Read, op(state, fetch_special_cert)),
        PathDef::new(r"cert/(?P<serial>[0-9A-Fa-f:-]+|ca|ca_chain|crl|delta-crl)(/raw(/pem)?)?")
            .field(Field::new("serial", FieldType::String, "serial"))
            .op(Operation::Read, op(state, fetch_cert)),
        PathDef::new("certs/?")
            .field(Field::new("after", FieldType::String, "after"))
            .field(Field::new("limit", FieldType::Int, "limit"))
            .op(Operation::List, op(state, list_certs)),
        PathDef::new("certs/revoked/?")
            .field(Field::new("after", FieldType::String, "after"))
            .field(Field::new("limit", FieldType::Int, "limit"))
            .op(Operation::List, op(state, list_revoked)),
    ]
}

async fn default_issuer(req: &Request) -> Result<issuers::IssuerEntry, LogicalError> {
    let s = storage(req)?;
    Ok(issuers::load_issuer(s.as_ref(), "default").await?)
}

fn chain_text(i: &issuers::IssuerEntry) -> String {
    let mut out = String::new();
    for c in &i.ca_chain {
        out.push_str(c);
        out.push('\n');
    }
    out
}

async fn fetch_raw(
    _state: Arc<State>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let what = req.path.trim_end_matches('/');
    match what {
        "ca" | "ca/pem" | "ca_chain" => {
            let Ok(i) = default_issuer(&req).await else {
                return Ok(raw("application/pkix-cert", Vec::new()));
            };
            Ok(match what {
                "ca" => raw("application/pkix-cert", i.cert_der()?),
                "ca/pem" => raw(
                    "application/pem-certificate-chain",
                    format!("{}\n", i.certificate).into_bytes(),
                ),
                _ => raw("application/pkix-cert", chain_text(&i).into_bytes()),
            })
        }
        _ => {
            let kind = if what.starts_with("crl/delta") {
                Kind::Delta
            } else {
                Kind::Full
            };
            let i = default_issuer(&req).await?;
            let Some(der) = crl::load(s.as_ref(), &i.id, kind).await? else {
                return Err(LogicalError::empty_not_found());
            };
            Ok(if what.ends_with("/pem") {
                raw(
                    "application/x-pem-file",
                    format!("{}\n", x509::pem_encode("X509 CRL", &der)).into_bytes(),
                )
            } else {
                raw("application/pkix-crl", der)
            })
        }
    }
}

async fn issuer_crl(
    req: &Request,
    d: &FieldData,
    kind: Kind,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(req)?;
    let i = issuers::load_issuer(s.as_ref(), &d.get_str("issuer_ref")?).await?;
    let Some(der) = crl::load(s.as_ref(), &i.id, kind).await? else {
        return Err(LogicalError::empty_not_found());
    };
    Ok(match crate::last_segment(&req.path) {
        "der" => raw("application/pkix-crl", der),
        "pem" => raw(
            "application/x-pem-file",
            format!("{}\n", x509::pem_encode("X509 CRL", &der)).into_bytes(),
        ),
        _ => data(json!({"crl": x509::pem_encode("X509 CRL", &der)})),
    })
}

async fn fetch_issuer_crl(
    _state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    issuer_crl(&req, &d, Kind::Full).await
}

async fn fetch_issuer_delta(
    _state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    issuer_crl(&req, &d, Kind::Delta).await
}

/// `cert/ca_chain`, `cert/crl`, `cert/delta-crl`: paths of their own in OpenBao's document,
/// answered as `cert/<serial>` answers those serials.
async fn fetch_special_cert(
    _state: Arc<State>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let serial = crate::last_segment(&req.path).to_string();
    cert_answer(&req, &serial).await
}

async fn fetch_cert(
    _state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    cert_answer(&req, &d.get_str("serial")?).await
}

/// The answer of `cert/<serial>[/raw[/pem]]`, the special serials included.
async fn cert_answer(req: &Request, serial: &str) -> Result<Option<Response>, LogicalError> {
    let s = storage(req)?;
    let raw_suffix = req.path.contains("/raw");
    let pem_suffix = req.path.ends_with("/raw/pem");
    let (pem_text, der, revoked) = match serial {
        "ca" => {
            let i = default_issuer(req).await?;
            (i.certificate.clone(), i.cert_der()?, None)
        }
        "ca_chain" => {
            let i = default_issuer(req).await?;
            let text = i.ca_chain.join("\n");
            return Ok(data(json!({"certificate": text, "ca_chain": text})));
        }
        "crl" | "delta-crl" => {
            let i = default_issuer(req).await?;
            let kind = if serial == "crl" {
                Kind::Full
            } else {
                Kind::Delta
            };
            let der = crl::load(s.as_ref(), &i.id, kind)
                .await?
                .unwrap_or_default();
            return Ok(data(
                json!({"certificate": x509::pem_encode("X509 CRL", &der)}),
            ));
        }
        other => {
            let Some(der) = certs::load(s.as_ref(), other).await? else {
                return Ok(None);
            };
            let rev = certs::revocation(s.as_ref(), other).await?;
            (x509::pem_encode("CERTIFICATE", &der), der, rev)
        }
    };
    if raw_suffix {
        return Ok(if pem_suffix {
            raw(
                "application/pem-certificate-chain",
                format!("{pem_text}\n").into_bytes(),
            )
        } else {
            raw("application/pkix-cert", der)
        });
    }
    let (t, t3339) = match &revoked {
        Some(r) => (r.revocation_time, crate::rfc3339(r.revocation_time)),
        None => (0, String::new()),
    };
    let mut v = json!({
        "certificate": pem_text,
        "revocation_time": t,
        "revocation_time_rfc3339": t3339,
    });
    if let Some(r) = revoked {
        v["issuer_id"] = json!(r.certificate_issuer);
    }
    Ok(data(v))
}

async fn list_certs(
    _state: Arc<State>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    Ok(list(certs::list(s.as_ref()).await?, None))
}

async fn list_revoked(
    _state: Arc<State>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    Ok(list(certs::list_revoked(s.as_ref()).await?, None))
}
