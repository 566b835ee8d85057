//! Setting up certificate authorities: `root/generate/*`, `intermediate/generate/*`,
//! `root/sign-intermediate`, `intermediate/set-signed`, `config/ca` (and `issuers/import/*`),
//! `root/sign-self-issued`, `root/rotate/*`, `root/replace` and `DELETE root`.

use std::sync::Arc;

use arca_sdk::framework::{Field, FieldData, FieldType, PathDef, generic_name_regex};
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response, Storage};
use rcgen::{KeyPair, PublicKeyData};
use rustls_pki_types::CertificateSigningRequestDer;
use serde_json::{Value, json};
use x509_parser::prelude::FromDer;

use crate::error::PkiError;
use crate::issuers::{self, IssuerEntry};
use crate::issuing::{self, Requested, SubjectFields};
use crate::keys::{self, KeyEntry, KeySpec};
use crate::{State, certs, data, op, storage, x509};

/// The warning OpenBao gives when no AIA URLs are configured.
pub(crate) const AIA_WARNING: &str = "This mount hasn't configured any authority information access (AIA) fields; this may make it harder for systems to find missing certificates in the chain or to validate revocation status of certificates. Consider updating /config/urls or the newly generated issuer with this information.";

/// Fields shared by every request that names a subject.
pub(crate) fn subject_fields() -> Vec<Field> {
    use FieldType::{Bool, CommaStringSlice, DurationSecond, Int, String as Str};
    vec![
        Field::new("common_name", Str, "The requested common name"),
        Field::new("alt_names", CommaStringSlice, "DNS and email SANs"),
        Field::new("ip_sans", CommaStringSlice, "IP SANs"),
        Field::new("uri_sans", CommaStringSlice, "URI SANs"),
        Field::new("other_sans", CommaStringSlice, "Other SANs"),
        Field::new("ttl", DurationSecond, "Requested TTL"),
        Field::new("not_after", Str, "Requested notAfter (RFC 3339)"),
        Field::new("format", Str, "pem, der or pem_bundle").default_value(json!("pem")),
        Field::new("private_key_format", Str, "der, pem or pkcs8").default_value(json!("der")),
        Field::new("exclude_cn_from_sans", Bool, "Keep the CN out of the SANs"),
        Field::new("serial_number", Str, "The subject's serialNumber attribute"),
        Field::new("user_ids", CommaStringSlice, "User IDs"),
        Field::new(
            "remove_roots_from_chain",
            Bool,
            "Leave self-signed certs out of ca_chain",
        ),
        Field::new("not_before_duration", DurationSecond, "Backdating").default_value(json!(30)),
        Field::new("issuer_ref", Str, "The issuer to use").default_value(json!("default")),
        Field::new("key_type", Str, "rsa, ec or ed25519").default_value(json!("rsa")),
        Field::new("key_bits", Int, "Key size").default_value(json!(0)),
        Field::new("signature_bits", Int, "RSA signature hash size").default_value(json!(0)),
        Field::new("use_pss", Bool, "Use PSS signatures"),
        Field::new("ou", CommaStringSlice, "OU"),
        Field::new("organization", CommaStringSlice, "O"),
        Field::new("country", CommaStringSlice, "C"),
        Field::new("locality", CommaStringSlice, "L"),
        Field::new("province", CommaStringSlice, "ST"),
        Field::new("street_address", CommaStringSlice, "Street"),
        Field::new("postal_code", CommaStringSlice, "Postal code"),
        Field::new("max_path_length", Int, "Path length constraint").default_value(json!(-1)),
        Field::new(
            "permitted_dns_domains",
            CommaStringSlice,
            "Name constraints",
        ),
        Field::new("issuer_name", Str, "Name for the new issuer"),
        Field::new("key_name", Str, "Name for the new key"),
        Field::new("key_ref", Str, "Existing key to use").default_value(json!("default")),
        Field::new("managed_key_name", Str, "Unsupported"),
        Field::new("managed_key_id", Str, "Unsupported"),
        Field::new(
            "add_basic_constraints",
            Bool,
            "Ask for CA basic constraints in the CSR",
        ),
        Field::new("csr", Str, "A PEM CSR"),
        Field::new("use_csr_values", Bool, "Take subject and SANs from the CSR"),
        Field::new("skid", Str, "Subject key identifier to set"),
    ]
}

fn with_fields(mut p: PathDef, extra: Vec<Field>) -> PathDef {
    for f in subject_fields().into_iter().chain(extra) {
        p = p.field(f);
    }
    p
}

pub(crate) fn paths(state: &Arc<State>) -> Vec<PathDef> {
    let kind = || {
        Field::new(
            "exported",
            FieldType::String,
            "internal, exported or existing",
        )
    };
    vec![
        with_fields(
            PathDef::new(r"root/generate/(?P<exported>internal|exported|existing|kms)"),
            vec![kind()],
        )
        .op(Operation::Update, op(state, generate_root)),
        with_fields(
            PathDef::new(r"issuers/generate/root/(?P<exported>internal|exported|existing|kms)"),
            vec![kind()],
        )
        .op(Operation::Update, op(state, generate_root)),
        with_fields(
            PathDef::new(r"root/rotate/(?P<exported>internal|exported|existing|kms)"),
            vec![kind()],
        )
        .op(Operation::Update, op(state, rotate_root)),
        with_fields(
            PathDef::new(r"(intermediate/generate|issuers/generate/intermediate)/(?P<exported>internal|exported|existing|kms)"),
            vec![kind()],
        )
        .op(Operation::Update, op(state, generate_intermediate)),
        with_fields(
            PathDef::new(format!(
                r"(root/sign-intermediate|issuer/{}/sign-intermediate)",
                generic_name_regex("issuer_ref")
            )),
            vec![],
        )
        .op(Operation::Update, op(state, sign_intermediate)),
        PathDef::new(format!(
            r"(root/sign-self-issued|issuer/{}/sign-self-issued)",
            generic_name_regex("issuer_ref")
        ))
        .field(Field::new("certificate", FieldType::String, "PEM self-issued certificate"))
        .field(Field::new("issuer_ref", FieldType::String, "Issuer").default_value(json!("default")))
        .field(Field::new("require_matching_certificate_algorithms", FieldType::Bool, "Match algorithms"))
        .op(Operation::Update, op(state, sign_self_issued)),
        PathDef::new(r"(intermediate/set-signed|config/ca|issuers/import/(cert|bundle))")
            .field(Field::new("certificate", FieldType::String, "PEM bundle"))
            .field(Field::new("pem_bundle", FieldType::String, "PEM bundle"))
            .op(Operation::Update, op(state, import_bundle)),
        PathDef::new("root/replace")
            .field(Field::new("default", FieldType::String, "New default issuer").default_value(json!("next")))
            .op(Operation::Update, op(state, replace_root)),
        PathDef::new("root").op(Operation::Delete, op(state, delete_root)),
    ]
}

/// The subject and SANs a CA request asks for.
fn requested(d: &FieldData) -> Result<Requested, LogicalError> {
    Ok(Requested {
        common_name: d.get_str("common_name")?,
        alt_names: d.get_strings("alt_names")?,
        ip_sans: d.get_strings("ip_sans")?,
        uri_sans: d.get_strings("uri_sans")?,
        exclude_cn_from_sans: d.get_bool("exclude_cn_from_sans")?,
        serial_number: d.get_str("serial_number")?,
        subject: SubjectFields {
            ou: d.get_strings("ou")?,
            organization: d.get_strings("organization")?,
            country: d.get_strings("country")?,
            locality: d.get_strings("locality")?,
            province: d.get_strings("province")?,
            street_address: d.get_strings("street_address")?,
            postal_code: d.get_strings("postal_code")?,
        },
        ttl: d.get_i64("ttl")?,
        not_after: d.get_str("not_after")?,
    })
}

/// The key a CA request uses: a new one (`internal`/`exported`) or `key_ref` (`existing`).
async fn ca_key(s: &dyn Storage, d: &FieldData) -> Result<(KeyPair, KeyEntry, bool), LogicalError> {
    let kind = d.get_str("exported")?;
    if kind == "kms" {
        return Err(LogicalError::bad_request("managed keys are not supported"));
    }
    if kind == "existing" {
        let id = issuers::resolve_key(s, &d.get_str("key_ref")?).await?;
        let entry = issuers::get_key(s, &id)
            .await?
            .ok_or_else(|| LogicalError::bad_request("unable to find key"))?;
        let kp = entry.key_pair(d.get_i64("signature_bits")?)?;
        return Ok((kp, entry, false));
    }
    let key_name = d.get_str("key_name")?;
    issuers::check_name(&key_name, "key")?;
    let spec = KeySpec::parse(&d.get_str("key_type")?, d.get_i64("key_bits")?)?;
    let kp = keys::generate(spec).await?;
    let entry = KeyEntry::new(&kp, &key_name)?;
    let kp = if d.get_i64("signature_bits")? != 0 {
        entry.key_pair(d.get_i64("signature_bits")?)?
    } else {
        kp
    };
    Ok((kp, entry, true))
}

fn add_private(m: &mut JsonMap, d: &FieldData, kp: &KeyPair) -> Result<(), LogicalError> {
    if d.get_str("exported")? == "exported" {
        m.insert(
            "private_key".into(),
            json!(keys::export_private(kp, &d.get_str("private_key_format")?)),
        );
        m.insert(
            "private_key_type".into(),
            json!(KeySpec::of(kp)?.type_name()),
        );
    }
    Ok(())
}

fn cert_out(der: &[u8], format: &str) -> String {
    match format {
        "der" => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(der)
        }
        _ => x509::pem_encode("CERTIFICATE", der),
    }
}

async fn warn_aia(s: &dyn Storage, resp: &mut Response) -> Result<(), LogicalError> {
    let urls = crate::config::UrlsConfig::load(s).await?;
    if urls.issuing_certificates.is_empty()
        && urls.crl_distribution_points.is_empty()
        && urls.ocsp_servers.is_empty()
    {
        resp.warn(AIA_WARNING);
    }
    Ok(())
}

/// Builds and stores a self-signed root; returns the response data and the new issuer.
async fn make_root(
    state: &State,
    s: &dyn Storage,
    d: &FieldData,
) -> Result<(JsonMap, IssuerEntry, Vec<String>), LogicalError> {
    let issuer_name = d.get_str("issuer_name")?;
    issuers::check_name(&issuer_name, "issuer")?;
    let r = requested(d)?;
    if r.common_name.is_empty() {
        return Err(LogicalError::bad_request(
            "the common_name field is required",
        ));
    }
    let (kp, key_entry, new_key) = ca_key(s, d).await?;
    let (nb, na, warnings) = issuing::validity(
        &r,
        state.system.default_lease_ttl().as_secs() as i64,
        state.system.max_lease_ttl().as_secs() as i64,
        d.get_i64("not_before_duration")?,
        None,
    )?;
    let sans = ca_sans(&r)?;
    let dn = issuing::distinguished_name(&r.common_name, &r.subject, &r.serial_number);
    let (mut params, serial) = issuing::base_params(dn, sans, nb, na, kp.public_key_raw())?;
    issuing::make_ca(&mut params, d.get_i64("max_path_length")?);
    let urls = crate::config::UrlsConfig::load(s).await?;
    issuing::apply_urls(&mut params, &urls);
    let der = params
        .self_signed(&kp)
        .map_err(PkiError::from)?
        .der()
        .to_vec();
    let (key_id, _) = if new_key {
        issuers::import_key(s, key_entry).await?
    } else {
        (key_entry.id.clone(), false)
    };
    let (issuer_id, _) = issuers::import_issuer(s, &der, &issuer_name).await?;
    let issuer = issuers::get_issuer(s, &issuer_id)
        .await?
        .ok_or_else(|| LogicalError::internal("issuer vanished"))?;
    certs::store(s, &serial, &der).await?;
    let key = issuers::get_key(s, &key_id).await?;
    let format = d.get_str("format")?;
    let mut m = JsonMap::new();
    m.insert("certificate".into(), json!(cert_out(&der, &format)));
    m.insert("issuing_ca".into(), json!(cert_out(&der, &format)));
    m.insert("serial_number".into(), json!(serial));
    m.insert("expiration".into(), json!(na));
    m.insert("issuer_id".into(), json!(issuer.id));
    m.insert("issuer_name".into(), json!(issuer.name));
    m.insert("key_id".into(), json!(key_id));
    m.insert(
        "key_name".into(),
        json!(key.map(|k| k.name).unwrap_or_default()),
    );
    add_private(&mut m, d, &kp)?;
    Ok((m, issuer, warnings))
}

fn ca_sans(r: &Requested) -> Result<Vec<rcgen::SanType>, LogicalError> {
    let mut dns = Vec::new();
    let mut emails = Vec::new();
    if !r.exclude_cn_from_sans && !r.common_name.is_empty() {
        if r.common_name.contains('@') {
            emails.push(r.common_name.clone());
        } else if crate::names::is_hostname(&r.common_name) {
            dns.push(r.common_name.clone());
        }
    }
    for n in &r.alt_names {
        if n.contains('@') {
            emails.push(n.clone());
        } else {
            dns.push(n.clone());
        }
    }
    let ips = r
        .ip_sans
        .iter()
        .map(|ip| {
            ip.parse().map_err(|_| {
                LogicalError::bad_request(format!("the value {ip:?} is not a valid IP address"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(issuing::build_sans(&dns, &emails, &ips, &r.uri_sans)?)
}

async fn generate_root(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let (m, _, warnings) = make_root(&state, s.as_ref(), &d).await?;
    crate::crl::rebuild_all(s.as_ref()).await?;
    let mut resp = Response::with_data(m);
    for w in warnings {
        resp.warn(w);
    }
    warn_aia(s.as_ref(), &mut resp).await?;
    Ok(Some(resp))
}

async fn rotate_root(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    // A rotated root does not become the default until `root/replace`.
    let before = issuers::issuer_defaults(s.as_ref()).await?;
    let (m, _, warnings) = make_root(&state, s.as_ref(), &d).await?;
    if !before.default.is_empty() {
        issuers::put_json(s.as_ref(), "config/issuers", &before).await?;
    }
    let mut resp = Response::with_data(m);
    for w in warnings {
        resp.warn(w);
    }
    warn_aia(s.as_ref(), &mut resp).await?;
    Ok(Some(resp))
}

async fn replace_root(
    _state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let mut target = d.get_str("default")?;
    if target.is_empty() || target == "next" {
        // The newest issuer that is not the current default.
        let cur = issuers::issuer_defaults(s.as_ref()).await?.default;
        let mut newest: Option<(i64, String)> = None;
        for i in issuers::all_issuers(s.as_ref()).await? {
            if i.id == cur || i.key_id.is_empty() {
                continue;
            }
            let nb = i
                .cert_der()
                .ok()
                .and_then(|d| x509::parse_cert(&d).ok())
                .map(|c| c.not_before)
                .unwrap_or(0);
            if newest.as_ref().is_none_or(|(t, _)| nb >= *t) {
                newest = Some((nb, i.id));
            }
        }
        target = newest
            .map(|(_, id)| id)
            .ok_or_else(|| LogicalError::bad_request("no issuer to replace the default with"))?;
    }
    let id = issuers::resolve_issuer(s.as_ref(), &target).await?;
    let mut cfg = issuers::issuer_defaults(s.as_ref()).await?;
    cfg.default = id.clone();
    issuers::put_json(s.as_ref(), "config/issuers", &cfg).await?;
    Ok(data(json!({
        "default": id,
        "default_follows_latest_issuer": cfg.default_follows_latest_issuer,
    })))
}

async fn generate_intermediate(
    _state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let r = requested(&d)?;
    let (kp, key_entry, new_key) = ca_key(s.as_ref(), &d).await?;
    let sans = ca_sans(&r)?;
    let dn = issuing::distinguished_name(&r.common_name, &r.subject, &r.serial_number);
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = dn;
    params.subject_alt_names = sans;
    if d.get_bool("add_basic_constraints")? {
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    }
    let csr = params.serialize_request(&kp).map_err(PkiError::from)?;
    let key_id = if new_key {
        issuers::import_key(s.as_ref(), key_entry).await?.0
    } else {
        key_entry.id.clone()
    };
    let mut m = JsonMap::new();
    let csr_out = if d.get_str("format")? == "der" {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(csr.der())
    } else {
        x509::pem_encode("CERTIFICATE REQUEST", csr.der())
    };
    m.insert("csr".into(), json!(csr_out));
    m.insert("key_id".into(), json!(key_id));
    add_private(&mut m, &d, &kp)?;
    let mut resp = Response::with_data(m);
    warn_aia(s.as_ref(), &mut resp).await?;
    Ok(Some(resp))
}

/// Parses and verifies a PEM CSR, returning its parsed form's subject DER, SPKI DER and names.
pub(crate) struct ParsedCsr {
    /// The CSR's public key.
    pub spki: rcgen::SubjectPublicKeyInfo,
    /// Its SPKI DER.
    pub spki_der: Vec<u8>,
    /// Its common name.
    pub common_name: String,
    /// DNS and email SANs it asks for.
    pub alt_names: Vec<String>,
    /// IP SANs.
    pub ip_sans: Vec<String>,
    /// URI SANs.
    pub uri_sans: Vec<String>,
    /// Its subject, as rcgen holds it.
    pub subject: rcgen::DistinguishedName,
}

pub(crate) fn parse_csr(pem_text: &str) -> Result<ParsedCsr, LogicalError> {
    let der = pem::parse(pem_text.trim())
        .map(pem::Pem::into_contents)
        .map_err(|_| LogicalError::bad_request("certificate request could not be parsed"))?;
    let (_, csr) = x509_parser::certification_request::X509CertificationRequest::from_der(&der)
        .map_err(|_| LogicalError::bad_request("certificate request could not be parsed"))?;
    csr.verify_signature()
        .map_err(|_| LogicalError::bad_request("request signature invalid"))?;
    let info = &csr.certification_request_info;
    let spki_der = info.subject_pki.raw.to_vec();
    let spki = rcgen::SubjectPublicKeyInfo::from_der(&spki_der)
        .map_err(|e| LogicalError::bad_request(format!("unsupported CSR public key: {e}")))?;
    let common_name = info
        .subject
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut alt_names = Vec::new();
    let mut ip_sans = Vec::new();
    let mut uri_sans = Vec::new();
    if let Some(exts) = csr.requested_extensions() {
        for e in exts {
            if let x509_parser::extensions::ParsedExtension::SubjectAlternativeName(san) = e {
                for n in &san.general_names {
                    match n {
                        x509_parser::extensions::GeneralName::DNSName(s)
                        | x509_parser::extensions::GeneralName::RFC822Name(s) => {
                            alt_names.push(s.to_string())
                        }
                        x509_parser::extensions::GeneralName::URI(s) => {
                            uri_sans.push(s.to_string())
                        }
                        x509_parser::extensions::GeneralName::IPAddress(b) => {
                            let ip = match b.len() {
                                4 => <[u8; 4]>::try_from(*b).ok().map(std::net::IpAddr::from),
                                16 => <[u8; 16]>::try_from(*b).ok().map(std::net::IpAddr::from),
                                _ => None,
                            };
                            if let Some(ip) = ip {
                                ip_sans.push(ip.to_string());
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    let subject = crate::x509::dn_of(&info.subject);
    let _ = CertificateSigningRequestDer::from(der.as_slice());
    Ok(ParsedCsr {
        spki,
        spki_der,
        common_name,
        alt_names,
        ip_sans,
        uri_sans,
        subject,
    })
}

async fn sign_intermediate(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let csr_pem = d.get_str("csr")?;
    if csr_pem.is_empty() {
        return Err(LogicalError::bad_request("\"csr\" is empty"));
    }
    let csr = parse_csr(&csr_pem)?;
    let signer = issuing::load_signer(
        s.as_ref(),
        &d.get_str("issuer_ref")?,
        "issuing-certificates",
    )
    .await?;
    let mut r = requested(&d)?;
    let dn = if d.get_bool("use_csr_values")? {
        r.common_name = csr.common_name.clone();
        r.alt_names = csr.alt_names.clone();
        csr.subject.clone()
    } else {
        issuing::distinguished_name(&r.common_name, &r.subject, &r.serial_number)
    };
    let (nb, na, warnings) = issuing::validity(
        &r,
        state.system.default_lease_ttl().as_secs() as i64,
        state.system.max_lease_ttl().as_secs() as i64,
        d.get_i64("not_before_duration")?,
        Some(&signer.issuer),
    )?;
    let sans = ca_sans(&r)?;
    let (mut params, serial) = issuing::base_params(dn, sans, nb, na, csr.spki.der_bytes())?;
    issuing::make_ca(&mut params, d.get_i64("max_path_length")?);
    let urls = crate::config::UrlsConfig::load(s.as_ref())
        .await?
        .for_issuer(&signer.issuer.id);
    issuing::apply_urls(&mut params, &urls);
    let der = signer.sign(&mut params, &csr.spki)?;
    certs::store(s.as_ref(), &serial, &der).await?;
    let format = d.get_str("format")?;
    let mut chain = vec![cert_out(&der, &format)];
    chain.extend(signer.issuer.ca_chain.iter().cloned());
    let _ = &csr.spki_der;
    let mut resp = data(json!({
        "certificate": cert_out(&der, &format),
        "issuing_ca": signer.issuer.certificate,
        "ca_chain": chain,
        "serial_number": serial,
        "expiration": na,
    }))
    .unwrap_or_default();
    for w in warnings {
        resp.warn(w);
    }
    warn_aia(s.as_ref(), &mut resp).await?;
    Ok(Some(resp))
}

async fn sign_self_issued(
    _state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let certs_der = x509::pem_certs(&d.get_str("certificate")?)?;
    let Some(der) = certs_der.first() else {
        return Err(LogicalError::bad_request("no certificate found in input"));
    };
    let (_, c) = x509_parser::certificate::X509Certificate::from_der(der)
        .map_err(|e| LogicalError::bad_request(format!("error parsing certificate: {e}")))?;
    if c.subject().as_raw() != c.issuer().as_raw() {
        return Err(LogicalError::bad_request(
            "given certificate is not self-issued",
        ));
    }
    if !c.is_ca() {
        return Err(LogicalError::bad_request(
            "given certificate is not a CA certificate",
        ));
    }
    let signer = issuing::load_signer(
        s.as_ref(),
        &d.get_str("issuer_ref")?,
        "issuing-certificates",
    )
    .await?;
    let spki = rcgen::SubjectPublicKeyInfo::from_der(c.public_key().raw)
        .map_err(|e| LogicalError::bad_request(format!("unsupported public key: {e}")))?;
    let dn = crate::x509::dn_of(c.subject());
    let (mut params, serial) = issuing::base_params(
        dn,
        Vec::new(),
        c.validity().not_before.timestamp(),
        c.validity().not_after.timestamp(),
        spki.der_bytes(),
    )?;
    issuing::make_ca(&mut params, -1);
    let out = signer.sign(&mut params, &spki)?;
    certs::store(s.as_ref(), &serial, &out).await?;
    Ok(data(json!({
        "certificate": x509::pem_encode("CERTIFICATE", &out),
        "issuing_ca": signer.issuer.certificate,
    })))
}

async fn import_bundle(
    _state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let mut text = d.get_str("pem_bundle")?;
    if text.is_empty() {
        text = d.get_str("certificate")?;
    }
    if text.trim().is_empty() {
        return Err(LogicalError::bad_request(
            "'pem_bundle' parameter was empty",
        ));
    }
    let cert_ders = x509::pem_certs(&text)?;
    let key_pems = x509::pem_keys(&text)?;
    if cert_ders.is_empty() && key_pems.is_empty() {
        return Err(LogicalError::bad_request("no data found in PEM block"));
    }
    let mut imported_keys = Vec::new();
    let mut existing_keys = Vec::new();
    for k in key_pems {
        let kp = keys::load(&k, 0)?;
        let (id, new) = issuers::import_key(s.as_ref(), KeyEntry::new(&kp, "")?).await?;
        if new {
            imported_keys.push(id);
        } else {
            existing_keys.push(id);
        }
    }
    let mut imported = Vec::new();
    let mut existing = Vec::new();
    let mut mapping = JsonMap::new();
    for der in &cert_ders {
        let info = x509::parse_cert(der)?;
        if !info.is_ca {
            return Err(LogicalError::bad_request(
                "refusing to import non-CA certificate",
            ));
        }
        let (id, new) = issuers::import_issuer(s.as_ref(), der, "").await?;
        let issuer = issuers::get_issuer(s.as_ref(), &id).await?;
        mapping.insert(
            id.clone(),
            json!(issuer.map(|i| i.key_id).unwrap_or_default()),
        );
        if new {
            imported.push(id);
        } else {
            existing.push(id);
        }
    }
    // Keys imported after their issuers: link them now.
    for id in issuers::issuer_ids(s.as_ref()).await? {
        if let Some(mut i) = issuers::get_issuer(s.as_ref(), &id).await?
            && i.key_id.is_empty()
        {
            let Ok(der) = i.cert_der() else { continue };
            let Ok(info) = x509::parse_cert(&der) else {
                continue;
            };
            for kid in issuers::key_ids(s.as_ref()).await? {
                if let Some(k) = issuers::get_key(s.as_ref(), &kid).await?
                    && let Ok(kp) = k.key_pair(0)
                    && kp.subject_public_key_info() == info.spki_der
                {
                    i.key_id = kid.clone();
                    issuers::put_issuer(s.as_ref(), &i).await?;
                    if mapping.contains_key(&i.id) {
                        mapping.insert(i.id.clone(), json!(kid));
                    }
                    break;
                }
            }
        }
    }
    crate::crl::rebuild_all(s.as_ref()).await?;
    let opt = |v: Vec<String>| if v.is_empty() { Value::Null } else { json!(v) };
    let mut resp = data(json!({
        "imported_issuers": opt(imported),
        "imported_keys": opt(imported_keys),
        "existing_issuers": opt(existing),
        "existing_keys": opt(existing_keys),
        "mapping": mapping,
    }))
    .unwrap_or_default();
    warn_aia(s.as_ref(), &mut resp).await?;
    Ok(Some(resp))
}

async fn delete_root(
    _state: Arc<State>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    for id in issuers::issuer_ids(s.as_ref()).await? {
        s.delete(&format!("config/issuer/{id}")).await?;
        s.delete(&format!("crls/{id}")).await?;
        s.delete(&format!("crls/{id}-delta")).await?;
    }
    for id in issuers::key_ids(s.as_ref()).await? {
        s.delete(&format!("config/key/{id}")).await?;
    }
    s.delete("config/issuers").await?;
    s.delete("config/keys").await?;
    let mut resp = Response::default();
    resp.warn("DELETE /root deletes all keys and issuers; prefer the new DELETE /key/:key_ref and DELETE /issuer/:issuer_ref for finer granularity, unless removal of all keys and issuers is desired.");
    Ok(Some(resp))
}
