//! Issued certificates (`certs/<serial>`, raw DER as OpenBao stores them) and revocations
//! (`revoked/<serial>`), and revoking one.

use arca_sdk::{Storage, StorageEntry};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::error::{PkiError, PkiResult};
use crate::issuers::{put_json, read_json};
use crate::x509;

/// OpenBao's record of a revocation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevocationInfo {
    /// The revoked certificate, base64 DER.
    pub certificate_bytes: String,
    /// When, unix seconds.
    pub revocation_time: i64,
    /// When, RFC 3339.
    #[serde(default)]
    pub revocation_time_utc: String,
    /// The issuer that signed it ("" when unknown).
    #[serde(default)]
    pub certificate_issuer: String,
}

impl RevocationInfo {
    /// The certificate's DER.
    pub fn cert_der(&self) -> PkiResult<Vec<u8>> {
        STANDARD
            .decode(&self.certificate_bytes)
            .map_err(|e| PkiError::Decode {
                what: "revocation",
                reason: e.to_string(),
            })
    }
}

/// Stores an issued certificate under its serial.
pub async fn store(s: &dyn Storage, serial: &str, der: &[u8]) -> PkiResult<()> {
    s.put(StorageEntry::new(
        format!("certs/{}", x509::serial_key(serial)),
        der.to_vec(),
    ))
    .await?;
    Ok(())
}

/// The stored certificate of `serial`, DER.
pub async fn load(s: &dyn Storage, serial: &str) -> PkiResult<Option<Vec<u8>>> {
    Ok(s.get(&format!("certs/{}", x509::serial_key(serial)))
        .await?
        .map(|e| e.value.to_vec()))
}

/// The serials stored under `prefix`, colon form, sorted.
async fn list_serials(s: &dyn Storage, prefix: &str) -> PkiResult<Vec<String>> {
    let mut v: Vec<String> = s
        .list(prefix)
        .await?
        .into_iter()
        .map(|k| k.replace('-', ":"))
        .collect();
    v.sort();
    Ok(v)
}

/// Every stored serial, colon form, sorted.
pub async fn list(s: &dyn Storage) -> PkiResult<Vec<String>> {
    list_serials(s, "certs/").await
}

/// Every revoked serial, colon form, sorted.
pub async fn list_revoked(s: &dyn Storage) -> PkiResult<Vec<String>> {
    list_serials(s, "revoked/").await
}

/// The revocation of `serial`, if revoked.
pub async fn revocation(s: &dyn Storage, serial: &str) -> PkiResult<Option<RevocationInfo>> {
    read_json(
        s,
        &format!("revoked/{}", x509::serial_key(serial)),
        "revocation",
    )
    .await
}

/// Every revocation.
pub async fn all_revocations(s: &dyn Storage) -> PkiResult<Vec<RevocationInfo>> {
    let mut out = Vec::new();
    for serial in list_revoked(s).await? {
        if let Some(r) = revocation(s, &serial).await? {
            out.push(r);
        }
    }
    Ok(out)
}

/// The issuer (of the mount) that signed `der`, "" when none did.
pub async fn issuer_of(s: &dyn Storage, der: &[u8]) -> PkiResult<String> {
    for i in crate::issuers::all_issuers(s).await? {
        if let Ok(idder) = i.cert_der()
            && x509::signed_by(der, &idder)
        {
            return Ok(i.id);
        }
    }
    Ok(String::new())
}

/// Outcome of a revocation request.
pub enum Revoked {
    /// Newly revoked (or already revoked: the stored record).
    Done(RevocationInfo),
    /// The certificate had expired; nothing recorded.
    Expired,
}

/// Revokes `serial`: records it in `revoked/` (an existing record is kept).
pub async fn revoke(s: &dyn Storage, serial: &str, allow_expired: bool) -> PkiResult<Revoked> {
    let serial = x509::normalize_serial(serial);
    if let Some(existing) = revocation(s, &serial).await? {
        return Ok(Revoked::Done(existing));
    }
    for i in crate::issuers::all_issuers(s).await? {
        if i.serial_number == serial {
            return Err(PkiError::bad(format!(
                "adding issuer (id: {}) to its own CRL is not allowed",
                i.id
            )));
        }
    }
    let Some(der) = load(s, &serial).await? else {
        return Err(PkiError::bad(format!(
            "certificate with serial {serial} not found."
        )));
    };
    let info = x509::parse_cert(&der)?;
    let now = chrono::Utc::now();
    if info.not_after < now.timestamp() && !allow_expired {
        return Ok(Revoked::Expired);
    }
    let rec = RevocationInfo {
        certificate_bytes: STANDARD.encode(&der),
        revocation_time: now.timestamp(),
        revocation_time_utc: now.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        certificate_issuer: issuer_of(s, &der).await?,
    };
    put_json(s, &format!("revoked/{}", x509::serial_key(&serial)), &rec).await?;
    Ok(Revoked::Done(rec))
}
