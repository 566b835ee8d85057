//! The constraints of a certificate entry a login certificate must meet: allowed names, common
//! names, DNS/email/URI SANs and OUs (each a list of go-glob patterns, any one matching), and
//! required extensions (`oid:value-glob`, all matching). An empty list allows everything.
//! Also the login metadata taken from `allowed_metadata_extensions`.

use std::collections::HashMap;

use arca_sdk::glob::glob_match;

use crate::certificate::ParsedCert;
use crate::entry::CertEntry;

fn any_matches<'a>(patterns: &[String], values: impl Iterator<Item = &'a str> + Clone) -> bool {
    patterns
        .iter()
        .any(|p| values.clone().any(|v| glob_match(p, v)))
}

fn allowed<'a>(
    patterns: &Option<Vec<String>>,
    values: impl Iterator<Item = &'a str> + Clone,
) -> bool {
    match patterns {
        Some(p) if !p.is_empty() => any_matches(p, values),
        _ => true,
    }
}

/// Whether `cert` meets every name, OU and extension constraint of `entry`.
pub(crate) fn matches(cert: &ParsedCert, entry: &CertEntry) -> bool {
    let cn = std::iter::once(cert.common_name.as_str());
    let dns = cert.dns_names.iter().map(String::as_str);
    let emails = cert.emails.iter().map(String::as_str);
    allowed(
        &entry.allowed_names,
        cn.clone().chain(dns.clone()).chain(emails.clone()),
    ) && allowed(&entry.allowed_common_names, cn)
        && allowed(&entry.allowed_dns_sans, dns)
        && allowed(&entry.allowed_email_sans, emails)
        && allowed(
            &entry.allowed_uri_sans,
            cert.uris.iter().map(String::as_str),
        )
        && allowed(
            &entry.allowed_organizational_units,
            cert.organizational_units.iter().map(String::as_str),
        )
        && matches_extensions(cert, entry)
}

/// Every `oid:value` of `required_extensions` must name an extension of the certificate whose
/// string value the glob matches.
fn matches_extensions(cert: &ParsedCert, entry: &CertEntry) -> bool {
    let Some(required) = entry.required_extensions.as_ref().filter(|r| !r.is_empty()) else {
        return true;
    };
    if cert.extensions.is_empty() {
        return false;
    }
    required.iter().all(|r| {
        let (oid, pattern) = r.split_once(':').unwrap_or((r.as_str(), ""));
        cert.extension_string(oid)
            .is_some_and(|value| glob_match(pattern, &value))
    })
}

/// The metadata of `allowed_metadata_extensions` the certificate carries: the OID with dashes
/// for dots as the key, the extension's string value as the value.
pub(crate) fn extension_metadata(cert: &ParsedCert, entry: &CertEntry) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for oid in entry.allowed_metadata_extensions.iter().flatten() {
        if let Some(v) = cert.extension_string(oid) {
            out.insert(oid.replace('.', "-"), v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert() -> ParsedCert {
        ParsedCert {
            der: Vec::new(),
            is_ca: false,
            common_name: "client1".into(),
            subject_text: String::new(),
            dns_names: vec!["client1.example.com".into()],
            emails: vec!["c1@example.com".into()],
            uris: vec!["spiffe://example/c1".into()],
            organizational_units: vec!["eng".into()],
            serial_decimal: "1".into(),
            serial_bytes: vec![1],
            subject_key_id: Vec::new(),
            authority_key_id: Vec::new(),
            extensions: vec![crate::certificate::Extension {
                oid: "1.2.3.4".into(),
                value: vec![0x0c, 5, b'h', b'e', b'l', b'l', b'o'],
            }],
            ext_key_usage: None,
            not_before: 0,
            not_after: 0,
            ocsp_servers: Vec::new(),
            raw_subject: Vec::new(),
            public_key_bits: Vec::new(),
        }
    }

    fn check(set: impl FnOnce(&mut CertEntry)) -> bool {
        let mut e = CertEntry::default();
        set(&mut e);
        matches(&cert(), &e)
    }

    fn some(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn each_constraint_with_globs() {
        assert!(check(|_| {}));
        assert!(check(|e| e.allowed_names = some(&["c1@*"])));
        assert!(check(|e| e.allowed_names = some(&["nope", "*.example.com"])));
        assert!(!check(|e| e.allowed_names = some(&["nope"])));
        assert!(check(|e| e.allowed_common_names = some(&["client*"])));
        assert!(!check(
            |e| e.allowed_common_names = some(&["client1.example.com"])
        ));
        assert!(check(|e| e.allowed_dns_sans = some(&["*.example.com"])));
        assert!(!check(|e| e.allowed_dns_sans = some(&["client1"])));
        assert!(check(|e| e.allowed_email_sans = some(&["*@example.com"])));
        assert!(check(|e| e.allowed_uri_sans = some(&["spiffe://example/*"])));
        assert!(!check(|e| e.allowed_uri_sans = some(&["spiffe://other/*"])));
        assert!(check(|e| e.allowed_organizational_units = some(&["eng"])));
        assert!(!check(|e| e.allowed_organizational_units = some(&["ops"])));
        assert!(check(|e| e.required_extensions = some(&["1.2.3.4:hel*"])));
        assert!(!check(|e| e.required_extensions = some(&["1.2.3.4:bye"])));
        assert!(!check(|e| e.required_extensions = some(&["1.2.3.5:*"])));
        // An empty list allows everything, as nil does.
        assert!(check(|e| e.allowed_names = Some(Vec::new())));
    }

    #[test]
    fn metadata_keys_use_dashes() {
        let e = CertEntry {
            allowed_metadata_extensions: some(&["1.2.3.4", "9.9"]),
            ..CertEntry::default()
        };
        let m = extension_metadata(&cert(), &e);
        assert_eq!(m.get("1-2-3-4").map(String::as_str), Some("hello"));
        assert_eq!(m.len(), 1);
    }
}
