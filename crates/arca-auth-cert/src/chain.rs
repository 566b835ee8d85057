//! Chain verification of a login certificate against the trusted CA certificates, with
//! rustls-webpki: every path from the leaf (through the intermediates the client presented)
//! to a trusted certificate is found, as Go's `Certificate.Verify` returns every chain.
//!
//! As OpenBao: the leaf's validity period is checked first (an expired or not-yet-valid leaf
//! is an error with Go's text), an unknown issuer (or a bad signature) is "no chain" rather
//! than an error, and a leaf without client-auth usage is an error.

use std::cell::RefCell;

use rustls_pki_types::{CertificateDer, UnixTime};
use webpki::{EndEntityCert, KeyUsage};

/// Why verification failed outright (as opposed to finding no chain).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ChainError {
    /// Go's `x509: certificate has expired or is not yet valid: ...`.
    #[error(
        "x509: certificate has expired or is not yet valid: current time {now} is {relation} {bound}"
    )]
    Validity {
        /// The current time, RFC 3339.
        now: String,
        /// `after` or `before`.
        relation: &'static str,
        /// The bound crossed, RFC 3339.
        bound: String,
    },
    /// The leaf's extended key usage excludes client auth.
    #[error("x509: certificate specifies an incompatible key usage")]
    KeyUsage,
    /// The leaf does not parse.
    #[error("x509: malformed certificate")]
    Malformed,
}

fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// Checks the leaf's validity period at `now` (Unix seconds).
pub(crate) fn check_validity(not_before: i64, not_after: i64, now: i64) -> Result<(), ChainError> {
    if now < not_before {
        return Err(ChainError::Validity {
            now: rfc3339(now),
            relation: "before",
            bound: rfc3339(not_before),
        });
    }
    if now > not_after {
        return Err(ChainError::Validity {
            now: rfc3339(now),
            relation: "after",
            bound: rfc3339(not_after),
        });
    }
    Ok(())
}

/// Every chain (DER, leaf first, trusted certificate last) from `leaf` through
/// `intermediates` to one of `roots`, at `now` (Unix seconds). No chain is an empty list.
pub(crate) fn verify_chains(
    leaf: &[u8],
    intermediates: &[Vec<u8>],
    roots: &[Vec<u8>],
    now: i64,
) -> Result<Vec<Vec<Vec<u8>>>, ChainError> {
    let leaf_der = CertificateDer::from(leaf);
    let ee = EndEntityCert::try_from(&leaf_der).map_err(|_| ChainError::Malformed)?;
    let root_ders: Vec<CertificateDer<'_>> = roots
        .iter()
        .map(|r| CertificateDer::from(r.as_slice()))
        .collect();
    let mut anchors = Vec::new();
    let mut anchor_index = Vec::new();
    for (i, r) in root_ders.iter().enumerate() {
        if let Ok(a) = webpki::anchor_from_trusted_cert(r) {
            anchors.push(a);
            anchor_index.push(i);
        }
    }
    if anchors.is_empty() {
        return Ok(Vec::new());
    }
    let inter: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(now).unwrap_or(0),
    ));
    let found: RefCell<Vec<Vec<Vec<u8>>>> = RefCell::new(Vec::new());
    let collect = |path: &webpki::VerifiedPath<'_>| -> Result<(), webpki::Error> {
        let mut chain = vec![leaf.to_vec()];
        for c in path.intermediate_certificates() {
            chain.push(c.der().to_vec());
        }
        let anchor = path.anchor();
        let root = anchors
            .iter()
            .position(|a| {
                a.subject == anchor.subject
                    && a.subject_public_key_info == anchor.subject_public_key_info
            })
            .and_then(|p| anchor_index.get(p))
            .and_then(|i| roots.get(*i));
        if let Some(root) = root
            && chain.last() != Some(root)
        {
            chain.push(root.clone());
        }
        let mut found = found.borrow_mut();
        if !found.contains(&chain) {
            found.push(chain);
        }
        // Refused on purpose, so that path building goes on to the other chains.
        Err(webpki::Error::UnknownIssuer)
    };
    let result = ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        &inter,
        time,
        KeyUsage::client_auth(),
        None,
        Some(&collect),
    );
    let chains = found.into_inner();
    if !chains.is_empty() {
        return Ok(chains);
    }
    match result {
        Err(webpki::Error::RequiredEkuNotFoundContext(_)) => Err(ChainError::KeyUsage),
        _ => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    };

    fn ca_params(cn: &str) -> CertificateParams {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p
    }

    fn leaf(usage: ExtendedKeyUsagePurpose, issuer: &Issuer<'_, KeyPair>) -> Vec<u8> {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec!["leaf.example.com".to_string()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, "leaf");
        p.extended_key_usages = vec![usage];
        p.signed_by(&key, issuer).unwrap().der().to_vec()
    }

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn chains_go_through_presented_intermediates() {
        let root_key = KeyPair::generate().unwrap();
        let root_params = ca_params("root");
        let root = root_params.self_signed(&root_key).unwrap().der().to_vec();
        let root_issuer = Issuer::new(root_params, root_key);
        let int_key = KeyPair::generate().unwrap();
        let int_params = ca_params("intermediate");
        let int = int_params
            .signed_by(&int_key, &root_issuer)
            .unwrap()
            .der()
            .to_vec();
        let int_issuer = Issuer::new(int_params, int_key);
        let client = leaf(ExtendedKeyUsagePurpose::ClientAuth, &int_issuer);

        let chains = verify_chains(
            &client,
            std::slice::from_ref(&int),
            std::slice::from_ref(&root),
            NOW,
        )
        .unwrap();
        assert_eq!(
            chains,
            vec![vec![client.clone(), int.clone(), root.clone()]]
        );
        // Without the intermediate, or with nothing trusted: no chain, no error.
        assert!(
            verify_chains(&client, &[], std::slice::from_ref(&root), NOW)
                .unwrap()
                .is_empty()
        );
        assert!(
            verify_chains(&client, std::slice::from_ref(&int), &[], NOW)
                .unwrap()
                .is_empty()
        );
        // Trusting the intermediate itself is enough.
        let direct = verify_chains(&client, &[], std::slice::from_ref(&int), NOW).unwrap();
        assert_eq!(direct, vec![vec![client.clone(), int.clone()]]);
        // A server-only certificate is refused with Go's text.
        let server = leaf(ExtendedKeyUsagePurpose::ServerAuth, &int_issuer);
        assert_eq!(
            verify_chains(&server, &[], std::slice::from_ref(&int), NOW),
            Err(ChainError::KeyUsage)
        );
    }

    #[test]
    fn validity_texts_are_go_s() {
        assert_eq!(check_validity(0, 10, 5), Ok(()));
        assert_eq!(
            check_validity(0, 10, 11).unwrap_err().to_string(),
            "x509: certificate has expired or is not yet valid: current time \
             1970-01-01T00:00:11Z is after 1970-01-01T00:00:10Z"
        );
        assert_eq!(
            check_validity(20, 30, 11).unwrap_err().to_string(),
            "x509: certificate has expired or is not yet valid: current time \
             1970-01-01T00:00:11Z is before 1970-01-01T00:00:20Z"
        );
    }
}
