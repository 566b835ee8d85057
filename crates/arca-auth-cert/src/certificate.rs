//! What the method reads of an X.509 certificate, parsed once into owned fields: the subject
//! names the constraints match, the identifiers the login metadata shows, the validity period,
//! and the raw parts OCSP needs. Also the PEM reader that picks certificates out of a bundle
//! as OpenBao's `parsePEM` does.

use x509_parser::der_parser::ber::BerObjectContent;
use x509_parser::der_parser::der::parse_der;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::pem::Pem;
use x509_parser::prelude::{FromDer, X509Certificate};

/// `id-kp-clientAuth` and `anyExtendedKeyUsage` as dotted strings.
const EKU_CLIENT_AUTH: &str = "1.3.6.1.5.5.7.3.2";
const EKU_ANY: &str = "2.5.29.37.0";
/// `id-ad-ocsp` in the Authority Information Access extension.
const AD_OCSP: &str = "1.3.6.1.5.5.7.48.1";

/// One extension: its OID (dotted) and its raw `extnValue` bytes.
#[derive(Debug, Clone)]
pub(crate) struct Extension {
    /// The OID, dotted (`1.2.3.4`).
    pub oid: String,
    /// The DER inside the OCTET STRING.
    pub value: Vec<u8>,
}

/// A certificate, parsed.
#[derive(Debug, Clone)]
pub(crate) struct ParsedCert {
    /// The whole certificate, DER.
    pub der: Vec<u8>,
    /// Basic constraints say CA.
    pub is_ca: bool,
    /// The subject's common name (the last one, as Go keeps it); empty when none.
    pub common_name: String,
    /// The subject, as printed in messages (RFC 4514-ish).
    pub subject_text: String,
    /// DNS names of the SAN extension.
    pub dns_names: Vec<String>,
    /// rfc822 names of the SAN extension.
    pub emails: Vec<String>,
    /// URIs of the SAN extension.
    pub uris: Vec<String>,
    /// The subject's organizational units.
    pub organizational_units: Vec<String>,
    /// The serial number in decimal.
    pub serial_decimal: String,
    /// The serial number's big-endian magnitude bytes.
    pub serial_bytes: Vec<u8>,
    /// The subject key identifier.
    pub subject_key_id: Vec<u8>,
    /// The authority key identifier's key id.
    pub authority_key_id: Vec<u8>,
    /// Every extension.
    pub extensions: Vec<Extension>,
    /// Extended key usages (dotted OIDs); `None` without the extension.
    pub ext_key_usage: Option<Vec<String>>,
    /// Validity start and end, Unix seconds.
    pub not_before: i64,
    /// See `not_before`.
    pub not_after: i64,
    /// OCSP responder URLs from the AIA extension.
    pub ocsp_servers: Vec<String>,
    /// The DER of the subject name.
    pub raw_subject: Vec<u8>,
    /// The subject public key bits (what OCSP's key hash is of).
    pub public_key_bits: Vec<u8>,
}

impl ParsedCert {
    /// Parses a DER certificate; `None` when it is not one.
    pub(crate) fn from_der(der: &[u8]) -> Option<ParsedCert> {
        let (_, c) = X509Certificate::from_der(der).ok()?;
        Some(Self::of(der, &c))
    }

    fn of(der: &[u8], c: &X509Certificate<'_>) -> ParsedCert {
        let subject = c.subject();
        let common_name = subject
            .iter_common_name()
            .filter_map(|a| a.as_str().ok())
            .last()
            .unwrap_or_default()
            .to_string();
        let organizational_units = subject
            .iter_organizational_unit()
            .filter_map(|a| a.as_str().ok().map(str::to_string))
            .collect();
        let mut p = ParsedCert {
            der: der.to_vec(),
            is_ca: c.is_ca(),
            common_name,
            subject_text: subject.to_string(),
            dns_names: Vec::new(),
            emails: Vec::new(),
            uris: Vec::new(),
            organizational_units,
            serial_decimal: c.serial.to_string(),
            serial_bytes: c.serial.to_bytes_be(),
            subject_key_id: Vec::new(),
            authority_key_id: Vec::new(),
            extensions: Vec::new(),
            ext_key_usage: None,
            not_before: c.validity().not_before.timestamp(),
            not_after: c.validity().not_after.timestamp(),
            ocsp_servers: Vec::new(),
            raw_subject: subject.as_raw().to_vec(),
            public_key_bits: c.public_key().subject_public_key.data.to_vec(),
        };
        for ext in c.extensions() {
            p.extensions.push(Extension {
                oid: ext.oid.to_id_string(),
                value: ext.value.to_vec(),
            });
            match ext.parsed_extension() {
                ParsedExtension::SubjectAlternativeName(san) => {
                    for name in &san.general_names {
                        match name {
                            GeneralName::DNSName(n) => p.dns_names.push((*n).to_string()),
                            GeneralName::RFC822Name(n) => p.emails.push((*n).to_string()),
                            GeneralName::URI(n) => p.uris.push((*n).to_string()),
                            _ => {}
                        }
                    }
                }
                ParsedExtension::SubjectKeyIdentifier(k) => p.subject_key_id = k.0.to_vec(),
                ParsedExtension::AuthorityKeyIdentifier(a) => {
                    if let Some(k) = &a.key_identifier {
                        p.authority_key_id = k.0.to_vec();
                    }
                }
                ParsedExtension::ExtendedKeyUsage(eku) => {
                    let mut list = Vec::new();
                    if eku.any {
                        list.push(EKU_ANY.to_string());
                    }
                    if eku.client_auth {
                        list.push(EKU_CLIENT_AUTH.to_string());
                    }
                    // Any other usage Go knows only matters as "not client auth"; usages Go
                    // does not know leave its list empty (nil), as here.
                    if eku.server_auth
                        || eku.code_signing
                        || eku.email_protection
                        || eku.time_stamping
                        || eku.ocsp_signing
                    {
                        list.push("other".to_string());
                    }
                    if !list.is_empty() {
                        p.ext_key_usage = Some(list);
                    }
                }
                ParsedExtension::AuthorityInfoAccess(aia) => {
                    for d in &aia.accessdescs {
                        if d.access_method.to_id_string() == AD_OCSP
                            && let GeneralName::URI(u) = &d.access_location
                        {
                            p.ocsp_servers.push((*u).to_string());
                        }
                    }
                }
                _ => {}
            }
        }
        p
    }

    /// Whether a non-CA certificate may be trusted for client login: without an extended key
    /// usage, or with client auth or any among them.
    pub(crate) fn allows_client_auth(&self) -> bool {
        match &self.ext_key_usage {
            None => true,
            Some(list) => list.iter().any(|u| u == EKU_CLIENT_AUTH || u == EKU_ANY),
        }
    }

    /// The value of extension `oid` read as an ASN.1 string, as Go's `asn1.Unmarshal` into a
    /// string does (empty when absent or not a string); `None` when the extension is absent.
    pub(crate) fn extension_string(&self, oid: &str) -> Option<String> {
        self.extensions
            .iter()
            .find(|e| e.oid == oid)
            .map(|e| asn1_string(&e.value))
    }
}

/// An ASN.1 string value (UTF8String, PrintableString, IA5String, T61String, NumericString,
/// BMPString...) as text; anything else is the empty string.
pub(crate) fn asn1_string(der: &[u8]) -> String {
    let Ok((_, obj)) = parse_der(der) else {
        return String::new();
    };
    match obj.content {
        BerObjectContent::UTF8String(s)
        | BerObjectContent::PrintableString(s)
        | BerObjectContent::IA5String(s)
        | BerObjectContent::NumericString(s)
        | BerObjectContent::VisibleString(s)
        | BerObjectContent::GeneralString(s) => s.to_string(),
        BerObjectContent::T61String(s) => s.to_string(),
        BerObjectContent::BmpString(b) => {
            let units: Vec<u16> = b
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        _ => String::new(),
    }
}

/// The certificates of a PEM bundle: `CERTIFICATE` and `TRUSTED CERTIFICATE` blocks that
/// parse; other blocks and bad ones are skipped, as OpenBao's `parsePEM`.
pub(crate) fn parse_pem_bundle(text: &str) -> Vec<ParsedCert> {
    let mut out = Vec::new();
    for block in Pem::iter_from_buffer(text.as_bytes()) {
        let Ok(block) = block else { break };
        if block.label != "CERTIFICATE" && block.label != "TRUSTED CERTIFICATE" {
            continue;
        }
        if let Some(c) = ParsedCert::from_der(&block.contents) {
            out.push(c);
        }
    }
    out
}

/// Bytes as lower-case hex pairs joined by `:` (OpenBao's `GetHexFormatted`).
pub(crate) fn hex_colons(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asn1_strings_read_as_go_does() {
        // UTF8String "hello"
        assert_eq!(
            asn1_string(&[0x0c, 5, b'h', b'e', b'l', b'l', b'o']),
            "hello"
        );
        // INTEGER 5 is no string
        assert_eq!(asn1_string(&[0x02, 1, 5]), "");
        assert_eq!(asn1_string(&[]), "");
    }

    #[test]
    fn hex_is_colon_separated() {
        assert_eq!(hex_colons(&[0xca, 0x3e, 0x01]), "ca:3e:01");
        assert_eq!(hex_colons(&[]), "");
    }
}
