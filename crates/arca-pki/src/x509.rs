//! Reading certificates, CSRs and PEM: serial numbers in OpenBao's colon form, PEM encoding
//! with `\n` line ends, and the facts the engine needs from a parsed certificate.

use x509_parser::prelude::{FromDer, X509Certificate};

use crate::error::{PkiError, PkiResult};

/// PEM-encodes `der` under `tag`, `\n` line ends, no trailing newline (as OpenBao's JSON).
pub fn pem_encode(tag: &str, der: &[u8]) -> String {
    let p = pem::Pem::new(tag, der.to_vec());
    pem::encode_config(
        &p,
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
    .trim_end()
    .to_string()
}

/// Every `CERTIFICATE` block of a PEM bundle, as DER; other blocks are skipped.
pub fn pem_certs(text: &str) -> PkiResult<Vec<Vec<u8>>> {
    let blocks = pem::parse_many(text.as_bytes())
        .map_err(|e| PkiError::bad(format!("error parsing PEM: {e}")))?;
    Ok(blocks
        .into_iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(pem::Pem::into_contents)
        .collect())
}

/// Every private key block of a PEM bundle, as PEM text.
pub fn pem_keys(text: &str) -> PkiResult<Vec<String>> {
    let blocks = pem::parse_many(text.as_bytes())
        .map_err(|e| PkiError::bad(format!("error parsing PEM: {e}")))?;
    Ok(blocks
        .into_iter()
        .filter(|b| b.tag().ends_with("PRIVATE KEY"))
        .map(|b| pem_encode(b.tag(), b.contents()))
        .collect())
}

/// Formats serial bytes as OpenBao does: lowercase hex pairs joined by colons.
pub fn serial_colons(bytes: &[u8]) -> String {
    let trimmed: &[u8] = {
        let mut b = bytes;
        while b.len() > 1 && b[0] == 0 {
            b = &b[1..];
        }
        b
    };
    trimmed
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Normalises a serial given by a caller (`aa:bb`, `aa-bb`, upper case) to the colon form.
pub fn normalize_serial(s: &str) -> String {
    s.trim().to_ascii_lowercase().replace('-', ":")
}

/// The storage key form of a serial (`aa-bb`), as OpenBao stores `certs/<serial>`.
pub fn serial_key(s: &str) -> String {
    normalize_serial(s).replace(':', "-")
}

/// The bytes of a colon-form serial.
pub fn serial_bytes(s: &str) -> PkiResult<Vec<u8>> {
    hex::decode(normalize_serial(s).replace(':', ""))
        .map_err(|_| PkiError::bad(format!("invalid serial number {s}")))
}

/// What the engine needs to know of a certificate.
#[derive(Debug, Clone)]
pub struct CertInfo {
    /// Serial, colon form.
    pub serial: String,
    /// Not-before, unix seconds.
    pub not_before: i64,
    /// Not-after, unix seconds.
    pub not_after: i64,
    /// Whether basic constraints say CA.
    pub is_ca: bool,
    /// The subject key identifier, colon form ("" when absent).
    pub subject_key_id: String,
    /// The DER SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
}

/// Parses a DER certificate.
pub fn parse_cert(der: &[u8]) -> PkiResult<CertInfo> {
    let (_, c) = X509Certificate::from_der(der)
        .map_err(|e| PkiError::bad(format!("unable to parse certificate: {e}")))?;
    Ok(info_of(&c))
}

/// The facts of a parsed certificate.
pub fn info_of(c: &X509Certificate<'_>) -> CertInfo {
    let skid = c
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => {
                Some(serial_colons_raw(k.0))
            }
            _ => None,
        })
        .unwrap_or_default();
    CertInfo {
        serial: serial_colons(c.raw_serial()),
        not_before: c.validity().not_before.timestamp(),
        not_after: c.validity().not_after.timestamp(),
        is_ca: c.is_ca(),
        subject_key_id: skid,
        spki_der: c.public_key().raw.to_vec(),
    }
}

/// Colon hex of bytes, keeping leading zeros (key identifiers).
pub fn serial_colons_raw(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Whether `child` is signed by the key of `parent` (both DER).
pub fn signed_by(child: &[u8], parent: &[u8]) -> bool {
    let (Ok((_, c)), Ok((_, p))) = (
        X509Certificate::from_der(child),
        X509Certificate::from_der(parent),
    ) else {
        return false;
    };
    c.issuer().as_raw() == p.subject().as_raw() && c.verify_signature(Some(p.public_key())).is_ok()
}

/// Random serial bytes: 20 bytes, positive, no leading zero byte.
pub fn random_serial() -> PkiResult<Vec<u8>> {
    let mut b = [0u8; 20];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| PkiError::Crypto("random source failed".into()))?;
    b[0] &= 0x7f;
    if b[0] == 0 {
        b[0] = 0x01;
    }
    Ok(b.to_vec())
}

/// An rcgen distinguished name with the attributes of a parsed one (string values only).
pub fn dn_of(name: &x509_parser::x509::X509Name<'_>) -> rcgen::DistinguishedName {
    let mut dn = rcgen::DistinguishedName::new();
    for attr in name.iter_attributes() {
        let Some(oid) = attr.attr_type().iter() else {
            continue;
        };
        let oid: Vec<u64> = oid.collect();
        if let Ok(v) = attr.as_str() {
            dn.push(rcgen::DnType::from_oid(&oid), v);
        }
    }
    dn
}
