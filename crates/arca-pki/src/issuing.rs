//! Building certificates with rcgen: the subject and SANs a request asks for, checked against
//! a role; validity from TTLs and the issuer's own expiry; key usages; the URLs of
//! `config/urls`; and signing with a stored issuer.

use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;

use crate::config::UrlsConfig;
use crate::error::{PkiError, PkiResult};
use crate::issuers::IssuerEntry;
use crate::names;
use crate::roles::Role;

/// What a request asks to put in a certificate, before the role judges it.
#[derive(Debug, Clone, Default)]
pub struct Requested {
    /// `common_name`.
    pub common_name: String,
    /// DNS names and emails of `alt_names`.
    pub alt_names: Vec<String>,
    /// `ip_sans`.
    pub ip_sans: Vec<String>,
    /// `uri_sans`.
    pub uri_sans: Vec<String>,
    /// `exclude_cn_from_sans`.
    pub exclude_cn_from_sans: bool,
    /// The subject's `serialNumber` attribute.
    pub serial_number: String,
    /// Subject fields given on the request (CA generation).
    pub subject: SubjectFields,
    /// `ttl` in seconds (0: unset).
    pub ttl: i64,
    /// `not_after` (RFC 3339, "" when unset).
    pub not_after: String,
}

/// The subject attributes beyond the common name.
#[derive(Debug, Clone, Default)]
#[allow(missing_docs)] // OpenBao's names
pub struct SubjectFields {
    pub ou: Vec<String>,
    pub organization: Vec<String>,
    pub country: Vec<String>,
    pub locality: Vec<String>,
    pub province: Vec<String>,
    pub street_address: Vec<String>,
    pub postal_code: Vec<String>,
}

impl SubjectFields {
    /// The role's subject fields.
    pub fn of_role(r: &Role) -> SubjectFields {
        SubjectFields {
            ou: r.ou.clone(),
            organization: r.organization.clone(),
            country: r.country.clone(),
            locality: r.locality.clone(),
            province: r.province.clone(),
            street_address: r.street_address.clone(),
            postal_code: r.postal_code.clone(),
        }
    }
}

/// Builds the distinguished name.
pub fn distinguished_name(cn: &str, f: &SubjectFields, serial: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for v in &f.country {
        dn.push(DnType::CountryName, v.as_str());
    }
    for v in &f.province {
        dn.push(DnType::StateOrProvinceName, v.as_str());
    }
    for v in &f.locality {
        dn.push(DnType::LocalityName, v.as_str());
    }
    for v in &f.street_address {
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 9]), v.as_str());
    }
    for v in &f.postal_code {
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 17]), v.as_str());
    }
    for v in &f.organization {
        dn.push(DnType::OrganizationName, v.as_str());
    }
    for v in &f.ou {
        dn.push(DnType::OrganizationalUnitName, v.as_str());
    }
    if !cn.is_empty() {
        dn.push(DnType::CommonName, cn);
    }
    if !serial.is_empty() {
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 5]), serial);
    }
    dn
}

/// The SANs of a request, checked against `role` with OpenBao's error texts.
pub fn checked_sans(role: &Role, display_name: &str, req: &Requested) -> PkiResult<Vec<SanType>> {
    let cn = req.common_name.as_str();
    if cn.is_empty() && role.require_cn {
        return Err(PkiError::bad(
            "the common_name field is required, or must be provided in a CSR with \"use_csr_common_name\" set to true, unless \"require_cn\" is set to false",
        ));
    }
    let mut dns = Vec::new();
    let mut emails = Vec::new();
    if !cn.is_empty() && !req.exclude_cn_from_sans {
        if cn.contains('@') {
            emails.push(cn.to_string());
        } else if names::is_hostname(&cn.to_ascii_lowercase()) {
            dns.push(cn.to_string());
        }
    }
    for n in &req.alt_names {
        if n.contains('@') {
            emails.push(n.clone());
        } else if names::is_hostname(n) {
            dns.push(n.clone());
        }
    }
    if !cn.is_empty() && !names::common_name_allowed(role, display_name, cn) {
        return Err(PkiError::bad(format!(
            "common name {cn} not allowed by this role"
        )));
    }
    if let Some(bad) = names::first_disallowed(role, display_name, &dns) {
        return Err(PkiError::bad(format!(
            "subject alternate name {bad} not allowed by this role"
        )));
    }
    if let Some(bad) = names::first_disallowed(role, display_name, &emails) {
        return Err(PkiError::bad(format!(
            "email address {bad} not allowed by this role"
        )));
    }
    if !req.serial_number.is_empty()
        && !role.allowed_serial_numbers.is_empty()
        && !role
            .allowed_serial_numbers
            .iter()
            .any(|p| arca_sdk::glob::glob_match(p, &req.serial_number))
    {
        return Err(PkiError::bad(format!(
            "serial_number {} not allowed by this role",
            req.serial_number
        )));
    }
    let mut ips = Vec::new();
    if !req.ip_sans.is_empty() {
        if !role.allow_ip_sans {
            return Err(PkiError::bad(format!(
                "IP Subject Alternative Names are not allowed in this role, but was provided {}",
                req.ip_sans.join(",")
            )));
        }
        for ip in &req.ip_sans {
            let parsed: IpAddr = ip.parse().map_err(|_| {
                PkiError::bad(format!("the value {ip:?} is not a valid IP address"))
            })?;
            ips.push(parsed);
        }
    }
    for u in &req.uri_sans {
        if !role
            .allowed_uri_sans
            .iter()
            .any(|p| arca_sdk::glob::glob_match(p, u))
        {
            return Err(PkiError::bad(format!(
                "URI Subject Alternative Names are not allowed in this role, but was provided {u}"
            )));
        }
    }
    build_sans(&dedup(dns), &dedup(emails), &ips, &req.uri_sans)
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    v.retain(|x| seen.insert(x.to_ascii_lowercase()));
    v
}

/// SANs of the given names, unchecked.
pub fn build_sans(
    dns: &[String],
    emails: &[String],
    ips: &[IpAddr],
    uris: &[String],
) -> PkiResult<Vec<SanType>> {
    let ia5 = |s: &str| {
        s.to_string()
            .try_into()
            .map_err(|_| PkiError::bad(format!("invalid name {s:?}")))
    };
    let mut out = Vec::new();
    for d in dns {
        out.push(SanType::DnsName(ia5(d)?));
    }
    for e in emails {
        out.push(SanType::Rfc822Name(ia5(e)?));
    }
    for ip in ips {
        out.push(SanType::IpAddress(*ip));
    }
    for u in uris {
        out.push(SanType::URI(ia5(u)?));
    }
    Ok(out)
}

/// Formats unix seconds as Go's RFC 3339 (UTC).
pub fn go_time(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(arca_sdk::go_time::go_time)
        .unwrap_or_default()
}

/// The validity window: `(not_before, not_after)` in unix seconds, plus a warning when the TTL
/// was capped. `issuer` caps it per its `leaf_not_after_behavior`.
pub fn validity(
    req: &Requested,
    default_ttl: i64,
    max_ttl: i64,
    not_before_duration: i64,
    issuer: Option<&IssuerEntry>,
) -> PkiResult<(i64, i64, Vec<String>)> {
    let now = chrono::Utc::now().timestamp();
    let mut warnings = Vec::new();
    let mut not_after = if !req.not_after.is_empty() {
        chrono::DateTime::parse_from_rfc3339(&req.not_after)
            .map_err(|e| PkiError::bad(format!("failed to parse not_after: {e}")))?
            .timestamp()
    } else {
        let mut ttl = if req.ttl > 0 { req.ttl } else { default_ttl };
        if max_ttl > 0 && ttl > max_ttl {
            warnings.push(format!(
                "TTL {:?} is longer than permitted maxTTL {:?}, so maxTTL is being used",
                arca_sdk::duration::format_go_duration(std::time::Duration::from_secs(ttl as u64)),
                arca_sdk::duration::format_go_duration(std::time::Duration::from_secs(
                    max_ttl as u64
                )),
            ));
            ttl = max_ttl;
        }
        now.saturating_add(ttl)
    };
    if let Some(i) = issuer
        && i.not_after > 0
        && not_after > i.not_after
    {
        match i.leaf_not_after_behavior.as_str() {
            "truncate" => not_after = i.not_after,
            "permit" => {}
            _ => {
                return Err(PkiError::bad(format!(
                    "cannot satisfy request, as TTL would result in notAfter of {} that is beyond the expiration of the CA certificate at {}",
                    go_time(not_after),
                    go_time(i.not_after)
                )));
            }
        }
    }
    Ok((now.saturating_sub(not_before_duration), not_after, warnings))
}

fn odt(secs: i64) -> PkiResult<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(secs).map_err(|_| PkiError::bad("invalid validity time"))
}

/// OpenBao's subject key identifier: SHA-1 of the subjectPublicKey bits.
pub fn key_id(public_key_raw: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, public_key_raw)
        .as_ref()
        .to_vec()
}

/// Base certificate parameters: subject, SANs, validity, a fresh serial, OpenBao's key id.
pub fn base_params(
    dn: DistinguishedName,
    sans: Vec<SanType>,
    not_before: i64,
    not_after: i64,
    public_key_raw: &[u8],
) -> PkiResult<(CertificateParams, String)> {
    let serial = crate::x509::random_serial()?;
    let mut p = CertificateParams::default();
    p.distinguished_name = dn;
    p.subject_alt_names = sans;
    p.not_before = odt(not_before)?;
    p.not_after = odt(not_after)?;
    p.serial_number = Some(SerialNumber::from_slice(&serial));
    p.key_identifier_method = KeyIdMethod::PreSpecified(key_id(public_key_raw));
    Ok((p, crate::x509::serial_colons(&serial)))
}

/// Makes `p` a CA certificate (path length -1: unconstrained).
pub fn make_ca(p: &mut CertificateParams, max_path_length: i64) {
    p.is_ca = if max_path_length < 0 {
        IsCa::Ca(BasicConstraints::Unconstrained)
    } else {
        IsCa::Ca(BasicConstraints::Constrained(max_path_length.min(255) as u8))
    };
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
}

/// Applies a role's key usages, extended key usages and policies to a leaf.
pub fn apply_role_usages(p: &mut CertificateParams, role: &Role) -> PkiResult<()> {
    for ku in &role.key_usage {
        let k = match ku.to_ascii_lowercase().as_str() {
            "digitalsignature" => KeyUsagePurpose::DigitalSignature,
            "contentcommitment" => KeyUsagePurpose::ContentCommitment,
            "keyencipherment" => KeyUsagePurpose::KeyEncipherment,
            "dataencipherment" => KeyUsagePurpose::DataEncipherment,
            "keyagreement" => KeyUsagePurpose::KeyAgreement,
            "certsign" => KeyUsagePurpose::KeyCertSign,
            "crlsign" => KeyUsagePurpose::CrlSign,
            "encipheronly" => KeyUsagePurpose::EncipherOnly,
            "decipheronly" => KeyUsagePurpose::DecipherOnly,
            _ => continue,
        };
        if !p.key_usages.contains(&k) {
            p.key_usages.push(k);
        }
    }
    let mut ekus = Vec::new();
    if role.server_flag {
        ekus.push(ExtendedKeyUsagePurpose::ServerAuth);
    }
    if role.client_flag {
        ekus.push(ExtendedKeyUsagePurpose::ClientAuth);
    }
    if role.code_signing_flag {
        ekus.push(ExtendedKeyUsagePurpose::CodeSigning);
    }
    if role.email_protection_flag {
        ekus.push(ExtendedKeyUsagePurpose::EmailProtection);
    }
    for e in &role.ext_key_usage {
        let purpose = match e.to_ascii_lowercase().as_str() {
            "any" => ExtendedKeyUsagePurpose::Any,
            "serverauth" => ExtendedKeyUsagePurpose::ServerAuth,
            "clientauth" => ExtendedKeyUsagePurpose::ClientAuth,
            "codesigning" => ExtendedKeyUsagePurpose::CodeSigning,
            "emailprotection" => ExtendedKeyUsagePurpose::EmailProtection,
            "timestamping" => ExtendedKeyUsagePurpose::TimeStamping,
            "ocspsigning" => ExtendedKeyUsagePurpose::OcspSigning,
            other => {
                return Err(PkiError::bad(format!("invalid extended key usage {other}")));
            }
        };
        ekus.push(purpose);
    }
    for oid in &role.ext_key_usage_oids {
        ekus.push(ExtendedKeyUsagePurpose::Other(parse_oid(oid)?));
    }
    for e in ekus {
        p.insert_extended_key_usage(e);
    }
    if !role.policy_identifiers.is_empty() {
        let oids = role
            .policy_identifiers
            .iter()
            .map(|o| parse_oid(o))
            .collect::<PkiResult<Vec<_>>>()?;
        p.custom_extensions.push(policies_extension(&oids));
    }
    if role.basic_constraints_valid_for_non_ca {
        p.is_ca = IsCa::ExplicitNoCa;
    }
    Ok(())
}

/// Parses a dotted OID.
pub fn parse_oid(s: &str) -> PkiResult<Vec<u64>> {
    let parts: Result<Vec<u64>, _> = s.trim().split('.').map(str::parse).collect();
    match parts {
        Ok(v) if v.len() >= 2 => Ok(v),
        _ => Err(PkiError::bad(format!("{s:?} is not a valid OID"))),
    }
}

/// certificatePolicies (2.5.29.32) with bare policy identifiers, encoded by yasna.
fn policies_extension(oids: &[Vec<u64>]) -> CustomExtension {
    let der = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            for oid in oids {
                w.next().write_sequence(|w| {
                    w.next()
                        .write_oid(&yasna::models::ObjectIdentifier::from_slice(oid));
                });
            }
        });
    });
    CustomExtension::from_oid_content(&[2, 5, 29, 32], der)
}

/// subjectKeyIdentifier (2.5.29.14), for leaves (rcgen writes it only for CAs).
pub fn ski_extension(public_key_raw: &[u8]) -> CustomExtension {
    let der = yasna::construct_der(|w| w.write_bytes(&key_id(public_key_raw)));
    CustomExtension::from_oid_content(&[2, 5, 29, 14], der)
}

/// Puts `config/urls` in a certificate: AIA (issuers, OCSP) and CRL distribution points.
pub fn apply_urls(p: &mut CertificateParams, urls: &UrlsConfig) {
    if !urls.crl_distribution_points.is_empty() {
        p.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
            uris: urls.crl_distribution_points.clone(),
        }];
    }
    if urls.issuing_certificates.is_empty() && urls.ocsp_servers.is_empty() {
        return;
    }
    // authorityInfoAccess (1.3.6.1.5.5.7.1.1): SEQUENCE OF AccessDescription.
    let der = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            let mut entry = |method: &[u64], uri: &str| {
                w.next().write_sequence(|w| {
                    w.next()
                        .write_oid(&yasna::models::ObjectIdentifier::from_slice(method));
                    // GeneralName uniformResourceIdentifier [6] IMPLICIT IA5String
                    w.next()
                        .write_tagged_implicit(yasna::Tag::context(6), |w| w.write_ia5_string(uri));
                });
            };
            for u in &urls.ocsp_servers {
                entry(&[1, 3, 6, 1, 5, 5, 7, 48, 1], u);
            }
            for u in &urls.issuing_certificates {
                entry(&[1, 3, 6, 1, 5, 5, 7, 48, 2], u);
            }
        });
    });
    p.custom_extensions.push(CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 5, 5, 7, 1, 1],
        der,
    ));
}

/// An issuer loaded to sign: its record, certificate and key.
pub struct Signer {
    /// The issuer record.
    pub issuer: IssuerEntry,
    /// Its certificate, DER.
    pub cert_der: Vec<u8>,
    /// Its key.
    pub key: KeyPair,
}

impl Signer {
    /// Signs `params` for `public_key`, with the authority key identifier set.
    pub fn sign(
        &self,
        params: &mut CertificateParams,
        public_key: &impl rcgen::PublicKeyData,
    ) -> PkiResult<Vec<u8>> {
        params.use_authority_key_identifier_extension = true;
        let issuer = rcgen::Issuer::from_ca_cert_der(
            &CertificateDer::from(self.cert_der.as_slice()),
            &self.key,
        )?;
        Ok(params.signed_by(public_key, &issuer)?.der().to_vec())
    }
}

/// Loads the issuer `reference` names with its key, for `usage`.
pub async fn load_signer(
    s: &dyn arca_sdk::Storage,
    reference: &str,
    usage: &str,
) -> PkiResult<Signer> {
    let issuer = crate::issuers::load_issuer(s, reference).await?;
    if !issuer.allows(usage) {
        return Err(PkiError::bad(format!(
            "issuer ({}) does not have the {usage} usage",
            issuer.id
        )));
    }
    if issuer.key_id.is_empty() {
        return Err(PkiError::bad(format!(
            "unable to fetch corresponding key for issuer {}; unable to use this issuer for signing",
            issuer.id
        )));
    }
    let key = crate::issuers::get_key(s, &issuer.key_id)
        .await?
        .ok_or_else(|| PkiError::bad("unable to fetch the issuer's key"))?;
    let sig_bits = match issuer.revocation_signature_algorithm.as_str() {
        "SHA384WithRSA" => 384,
        "SHA512WithRSA" => 512,
        _ => 0,
    };
    let key = key.key_pair(sig_bits)?;
    let cert_der = issuer.cert_der()?;
    Ok(Signer {
        issuer,
        cert_der,
        key,
    })
}
