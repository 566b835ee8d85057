//! Certificate revocation lists: one per issuer that holds a key, rebuilt from `revoked/`,
//! stored as DER under `crls/<issuer id>`, numbered in `crls/numbers`.

use std::collections::BTreeMap;

use arca_sdk::{Storage, StorageEntry};
use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber};
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;

use crate::config::CrlConfig;
use crate::error::{PkiError, PkiResult};
use crate::issuers::{put_json, read_json};
use crate::{certs, issuers, issuing, x509};

/// Which list: the complete CRL or the delta since the last complete one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The complete CRL.
    Full,
    /// The delta CRL.
    Delta,
}

impl Kind {
    fn key(self, issuer_id: &str) -> String {
        match self {
            Kind::Full => format!("crls/{issuer_id}"),
            Kind::Delta => format!("crls/{issuer_id}-delta"),
        }
    }
}

/// Rebuilds every issuer's CRL (unless CRLs are disabled, when they are rebuilt empty, as
/// OpenBao serves an empty list then).
pub async fn rebuild_all(s: &dyn Storage) -> PkiResult<()> {
    let cfg = CrlConfig::load(s).await?;
    let expiry = arca_sdk::duration::parse_duration(&cfg.expiry)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(72 * 3600)
        .max(1);
    let revoked = if cfg.disable {
        Vec::new()
    } else {
        certs::all_revocations(s).await?
    };
    let mut numbers: BTreeMap<String, u64> = read_json(s, "crls/numbers", "CRL numbers")
        .await?
        .unwrap_or_default();
    let all = issuers::all_issuers(s).await?;
    for i in &all {
        if i.key_id.is_empty() || !i.allows("crl-signing") {
            continue;
        }
        let Ok(signer) = issuing::load_signer(s, &i.id, "crl-signing").await else {
            continue;
        };
        // The issuers that share this issuer's subject and key sign the same CRL.
        let entries: Vec<RevokedCertParams> = revoked
            .iter()
            .filter_map(|r| {
                let der = r.cert_der().ok()?;
                if !x509::signed_by(&der, &signer.cert_der) {
                    return None;
                }
                let info = x509::parse_cert(&der).ok()?;
                Some(RevokedCertParams {
                    serial_number: SerialNumber::from_slice(
                        &x509::serial_bytes(&info.serial).ok()?,
                    ),
                    revocation_time: OffsetDateTime::from_unix_timestamp(r.revocation_time).ok()?,
                    reason_code: None,
                    invalidity_date: None,
                })
            })
            .collect();
        let n = numbers.entry(i.id.clone()).or_insert(0);
        let now = chrono::Utc::now().timestamp();
        let params = CertificateRevocationListParams {
            this_update: odt(now)?,
            next_update: odt(now.saturating_add(expiry))?,
            crl_number: SerialNumber::from_slice(&n.to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs: entries,
            key_identifier_method: KeyIdMethod::PreSpecified(
                x509::parse_cert(&signer.cert_der)
                    .ok()
                    .and_then(|c| x509::serial_bytes(&c.subject_key_id).ok())
                    .unwrap_or_default(),
            ),
        };
        *n += 1;
        let issuer = rcgen::Issuer::from_ca_cert_der(
            &CertificateDer::from(signer.cert_der.as_slice()),
            &signer.key,
        )?;
        let crl = params.signed_by(&issuer)?;
        s.put(StorageEntry::new(Kind::Full.key(&i.id), crl.der().to_vec()))
            .await?;
    }
    put_json(s, "crls/numbers", &numbers).await?;
    Ok(())
}

fn odt(secs: i64) -> PkiResult<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(secs).map_err(|_| PkiError::bad("invalid CRL time"))
}

/// The stored CRL of `issuer_id`, building it first when none exists yet.
pub async fn load(s: &dyn Storage, issuer_id: &str, kind: Kind) -> PkiResult<Option<Vec<u8>>> {
    if let Some(e) = s.get(&kind.key(issuer_id)).await? {
        return Ok(Some(e.value.to_vec()));
    }
    if kind == Kind::Delta {
        return Ok(None);
    }
    rebuild_all(s).await?;
    Ok(s.get(&kind.key(issuer_id)).await?.map(|e| e.value.to_vec()))
}
