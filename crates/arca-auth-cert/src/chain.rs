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
