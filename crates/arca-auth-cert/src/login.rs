//! `login`: the client certificate of the TLS connection checked against the trusted entries
//! (chain to a trusted CA, or equal to a pinned leaf), their constraints, the stored CRLs and
//! OCSP; the alias look-ahead; and the renewal of the tokens logins issue.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use arca_sdk::cidr::remote_addr_is_ok;
use arca_sdk::error::multierror;
use arca_sdk::framework::FieldData;
use arca_sdk::{Alias, Auth, LogicalError, Request, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use subtle::ConstantTimeEq;

use crate::certificate::{ParsedCert, hex_colons, parse_pem_bundle};
use crate::entry::{self, CertEntry};
use crate::ocsp::{self, VerifyConfig};
use crate::ocsp_cache::OcspCache;
use crate::{State, chain, constraints};

/// The refusal when no chain reaches a trusted certificate.
const NO_CHAIN: &str = "invalid certificate or no client certificate supplied";
/// The refusal when chains exist but no entry's constraints hold.
const NO_MATCH: &str =
    "no chain matching all constraints could be found for this login certificate";

/// A trusted entry with its certificates parsed (the entry's, then its OCSP CA ones).
struct Trusted {
    entry: CertEntry,
    certs: Vec<ParsedCert>,
}

/// The entry a login certificate matched, and the login certificate.
pub(crate) struct Matched {
    entry: CertEntry,
    leaf: ParsedCert,
}

/// An internal failure of a login as OpenBao answers it: a 500 with the text as is.
fn login_failure(message: impl Into<String>) -> LogicalError {
    LogicalError::from_status(500, message)
}

/// The client's certificate chain (DER, leaf first).
fn client_certs(req: &Request) -> Result<&[Vec<u8>], LogicalError> {
    let Some(conn) = req.connection.as_ref() else {
        return Err(LogicalError::bad_request("tls connection not found"));
    };
    if conn.peer_certificates.is_empty() {
        return Err(LogicalError::bad_request("no client certificate found"));
    }
    Ok(&conn.peer_certificates)
}

/// The entries to consider (`name` alone when given), split into CA entries and pinned
/// leaves, and the OCSP settings merged over them.
async fn load_trusted(
    req: &Request,
    name: &str,
) -> Result<(Vec<Trusted>, Vec<Trusted>, VerifyConfig), LogicalError> {
    let storage = req.storage()?;
    let names = if name.is_empty() {
        storage.list(entry::CERT_PREFIX).await.unwrap_or_default()
    } else {
        vec![name.to_lowercase()]
    };
    let mut cas = Vec::new();
    let mut pinned = Vec::new();
    let mut conf = VerifyConfig::default();
    for n in names {
        let Ok(Some(e)) = entry::load_cert(storage.as_ref(), &n).await else {
            continue;
        };
        let mut certs = parse_pem_bundle(&e.certificate);
        let Some(first) = certs.first() else { continue };
        let is_ca = first.is_ca;
        certs.extend(parse_pem_bundle(&e.ocsp_ca_certificates));
        if e.ocsp_enabled {
            conf.servers_override
                .extend(e.ocsp_servers_override.iter().flatten().cloned());
            conf.fail_open = e.ocsp_fail_open;
            conf.query_all = conf.query_all || e.ocsp_query_all_servers;
        }
        let t = Trusted { entry: e, certs };
        if is_ca {
            cas.push(t);
        } else {
            pinned.push(t);
        }
    }
    Ok((cas, pinned, conf))
}

/// Whether any certificate of `chain` has its serial in a stored CRL.
fn revoked_by_crl(chain: &[ParsedCert], crls: &[entry::CrlInfo]) -> bool {
    chain.iter().any(|c| {
        crls.iter()
            .any(|crl| crl.serials.contains_key(&c.serial_decimal))
    })
}

/// OpenBao's `matchesConstraints`: CRLs, names and extensions, then OCSP when the entry
/// enables it (an OCSP failure other than "revoked" is an error to report).
async fn matches_constraints(
    leaf: &ParsedCert,
    chain: &[ParsedCert],
    trusted: &Trusted,
    crls: &[entry::CrlInfo],
    conf: &VerifyConfig,
    cache: &OcspCache,
) -> (bool, Option<String>) {
    let so_far = !revoked_by_crl(chain, crls) && constraints::matches(leaf, &trusted.entry);
    if !trusted.entry.ocsp_enabled {
        return (so_far, None);
    }
    let Some(issuer) = chain.get(1) else {
        return (so_far, None);
    };
    match ocsp::check(leaf, issuer, conf, cache).await {
        Ok(good) => (so_far && good, None),
        Err(e) => (false, Some(e)),
    }
}

fn add_error(errors: &mut Vec<String>, e: Option<String>) {
    if let Some(e) = e
        && !errors.contains(&e)
    {
        errors.push(e);
    }
}

fn refusal(base: &str, errors: &[String]) -> LogicalError {
    if errors.is_empty() {
        return LogicalError::bad_request(base);
    }
    LogicalError::bad_request(format!(
        "{base}; additionally got errors during verification: {}",
        multierror(errors)
    ))
}

/// OpenBao's `verifyCredentials`: the entry the connection's certificate logs in with.
pub(crate) async fn verify_credentials(
    state: &State,
    req: &Request,
    name: &str,
) -> Result<Matched, LogicalError> {
    let presented = client_certs(req)?;
    let Some(leaf) = presented.first().and_then(|d| ParsedCert::from_der(d)) else {
        return Err(LogicalError::bad_request(NO_CHAIN));
    };
    let (cas, pinned, conf) = load_trusted(req, name).await?;
    let now = chrono::Utc::now().timestamp();
    let verify_err =
        |e: chain::ChainError| login_failure(format!("failed to verify client's certificate: {e}"));
    chain::check_validity(leaf.not_before, leaf.not_after, now).map_err(verify_err)?;
    let roots: Vec<Vec<u8>> = cas
        .iter()
        .flat_map(|t| t.certs.iter().map(|c| c.der.clone()))
        .collect();
    let chains =
        chain::verify_chains(&leaf.der, &presented[1..], &roots, now).map_err(verify_err)?;
    let storage = req.storage()?;
    let crls = entry::all_crls(storage.as_ref()).await?;
    state.refresh_config(storage.as_ref()).await?;

    let mut errors = Vec::new();
    for t in &pinned {
        let Some(first) = t.certs.first() else {
            continue;
        };
        if bool::from(first.der.as_slice().ct_eq(leaf.der.as_slice())) {
            let (ok, err) =
                matches_constraints(&leaf, &t.certs, t, &crls, &conf, &state.ocsp_cache).await;
            add_error(&mut errors, err);
            if ok {
                return Ok(Matched {
                    entry: t.entry.clone(),
                    leaf,
                });
            }
        }
    }
    if chains.is_empty() {
        return Err(refusal(NO_CHAIN, &errors));
    }
    let parsed_chains: Vec<Vec<ParsedCert>> = chains
        .iter()
        .map(|c| c.iter().filter_map(|d| ParsedCert::from_der(d)).collect())
        .collect();
    for t in &cas {
        for tc in &t.certs {
            for chain in &parsed_chains {
                if !chain.iter().any(|c| c.der == tc.der) {
                    continue;
                }
                let (ok, err) =
                    matches_constraints(&leaf, chain, t, &crls, &conf, &state.ocsp_cache).await;
                let failed = err.is_some();
                add_error(&mut errors, err);
                if ok && !failed {
                    return Ok(Matched {
                        entry: t.entry.clone(),
                        leaf,
                    });
                }
            }
        }
    }
    Err(refusal(NO_MATCH, &errors))
}

/// `POST login` (optionally `name`).
pub(crate) async fn login(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let config = entry::load_config(req.storage()?.as_ref()).await?;
    let name = d.get_str("name")?;
    let Matched { entry, leaf } = verify_credentials(&state, &req, &name).await?;
    let cidrs = &entry.token.token_bound_cidrs;
    if !cidrs.is_empty() {
        match req.connection.as_ref() {
            Some(conn) if remote_addr_is_ok(&conn.remote_addr, cidrs) => {}
            _ => return Err(LogicalError::PermissionDenied),
        }
    }
    let mut metadata = HashMap::from([
        ("cert_name".to_string(), entry.name.clone()),
        ("common_name".to_string(), leaf.common_name.clone()),
        ("serial_number".to_string(), leaf.serial_decimal.clone()),
        (
            "subject_key_id".to_string(),
            hex_colons(&leaf.subject_key_id),
        ),
        (
            "authority_key_id".to_string(),
            hex_colons(&leaf.authority_key_id),
        ),
    ]);
    metadata.extend(constraints::extension_metadata(&leaf, &entry));
    let mut internal = serde_json::Map::new();
    internal.insert(
        "certificate".into(),
        Value::from(STANDARD.encode(&leaf.der)),
    );
    internal.insert(
        "subject_key_id".into(),
        Value::from(STANDARD.encode(&leaf.subject_key_id)),
    );
    internal.insert(
        "authority_key_id".into(),
        Value::from(STANDARD.encode(&leaf.authority_key_id)),
    );
    let mut auth = Auth {
        internal_data: internal,
        display_name: entry.display_name.clone(),
        metadata: metadata.clone(),
        alias: Some(Alias {
            name: leaf.common_name.clone(),
            metadata: if config.enable_identity_alias_metadata {
                metadata
            } else {
                HashMap::new()
            },
        }),
        ..Auth::default()
    };
    entry
        .token
        .populate_token_auth(&mut auth, &req)
        .map_err(|e| login_failure(format!("failed to populate auth information: {e}")))?;
    Ok(Some(Response {
        auth: Some(auth),
        ..Response::default()
    }))
}

/// The role a login resolves to (for quotas): the matched entry's name.
pub(crate) async fn resolve_role(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = d.get_str("name")?;
    let matched = verify_credentials(&state, &req, &name).await?;
    let mut data = serde_json::Map::new();
    data.insert("role".into(), Value::from(matched.entry.name));
    Ok(Some(Response::with_data(data)))
}

/// The alias look-ahead: the client certificate's common name, nothing verified.
pub(crate) async fn alias_lookahead(
    _state: Arc<State>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let certs = client_certs(&req)?;
    let name = certs
        .first()
        .and_then(|d| ParsedCert::from_der(d))
        .map(|c| c.common_name)
        .unwrap_or_default();
    Ok(Some(Response::alias_lookahead(name)))
}

/// Bytes as Go's `%v` prints a byte slice: `[48 130 3]`.
fn go_bytes(b: &[u8]) -> String {
    let parts: Vec<String> = b.iter().map(u8::to_string).collect();
    format!("[{}]", parts.join(" "))
}

/// OpenBao's `policyutil.EquivalentPolicies`: the same names, `default` aside.
fn equivalent_policies(a: &[String], b: &[String]) -> bool {
    let names = |l: &[String]| -> BTreeSet<String> {
        l.iter().filter(|p| *p != "default").cloned().collect()
    };
    names(a) == names(b)
}

/// Renews a login's token: the entry must still exist (else no renewal) with the same
/// policies, and unless `disable_binding`, the connection must present the login's very
/// certificate, still valid for the entry.
pub(crate) async fn renew(
    state: Arc<State>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let Some(mut auth) = req.auth.clone() else {
        return Err(LogicalError::internal("request has no auth"));
    };
    let storage = req.storage()?;
    let config = entry::load_config(storage.as_ref()).await?;
    let cert_name = auth.metadata.get("cert_name").cloned().unwrap_or_default();
    let Some(cert) = entry::load_cert(storage.as_ref(), &cert_name.to_lowercase()).await? else {
        return Ok(None);
    };
    let held = if auth.token_policies.is_empty() {
        &auth.policies
    } else {
        &auth.token_policies
    };
    if !equivalent_policies(&cert.token.token_policies, held) {
        return Err(LogicalError::internal(
            "policies have changed, not renewing",
        ));
    }
    if !config.disable_binding {
        let Some(original) = auth
            .internal_data
            .get("certificate")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            return Err(LogicalError::internal(
                "cannot validate renewal for cert auth for non-stored client certificate",
            ));
        };
        let matched = verify_credentials(&state, &req, &cert_name).await?;
        let original = STANDARD.decode(original.as_bytes()).map_err(|e| {
            LogicalError::internal(format!("failed to base64-decode original certificate: {e}"))
        })?;
        if !bool::from(original.as_slice().ct_eq(matched.leaf.der.as_slice())) {
            // As OpenBao words it: the bytes as Go prints them, the second being the first
            // certificate of the matched entry.
            let entry_cert = parse_pem_bundle(&matched.entry.certificate)
                .into_iter()
                .next()
                .map(|c| c.der)
                .unwrap_or_default();
            return Err(LogicalError::internal(format!(
                "client identity during renewal not matching client identity used during \
                 login:\n\toriginal: {}\n\trenewal: {}",
                go_bytes(&original),
                go_bytes(&entry_cert)
            )));
        }
    }
    cert.token.apply_to_renewal(&mut auth);
    Ok(Some(Response {
        auth: Some(auth),
        ..Response::default()
    }))
}
