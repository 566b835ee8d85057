//! Issuers and their keys as stored (`config/issuer/<id>`, `config/key/<id>`), the mount's
//! defaults (`config/issuers`, `config/keys`), resolving an `issuer_ref` / `key_ref`, and
//! building each issuer's CA chain from the issuers the mount holds.

use arca_sdk::{Storage, StorageEntry};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{PkiError, PkiResult};
use crate::keys::KeyEntry;
use crate::x509;

/// Every usage an issuer may have, OpenBao's order.
pub const ALL_USAGES: &[&str] = &[
    "crl-signing",
    "issuing-certificates",
    "ocsp-signing",
    "read-only",
];

/// A stored issuer: a CA certificate, maybe with the key that signs for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuerEntry {
    /// The issuer's UUID.
    pub id: String,
    /// The operator's name for it ("" when unnamed).
    #[serde(default)]
    pub name: String,
    /// The key's id ("" when the mount holds no key for it).
    #[serde(default)]
    pub key_id: String,
    /// The certificate, PEM.
    pub certificate: String,
    /// The chain from this issuer up, PEM, this issuer first.
    #[serde(default)]
    pub ca_chain: Vec<String>,
    /// A chain set by the operator (issuer ids), if any.
    #[serde(default)]
    pub manual_chain: Option<Vec<String>>,
    /// The certificate's serial, colon form.
    pub serial_number: String,
    /// `err`, `truncate` or `permit`.
    #[serde(default = "default_leaf_behavior")]
    pub leaf_not_after_behavior: String,
    /// The usages allowed, sorted.
    #[serde(default = "default_usage")]
    pub usage: Vec<String>,
    /// The algorithm CRLs and OCSP answers are signed with ("" derives it from the key).
    #[serde(default)]
    pub revocation_signature_algorithm: String,
    /// Whether the issuer itself was revoked.
    #[serde(default)]
    pub revoked: bool,
    /// When it was revoked (unix seconds).
    #[serde(default)]
    pub revocation_time: i64,
    /// The certificate's not-after (unix seconds).
    #[serde(default)]
    pub not_after: i64,
}

fn default_leaf_behavior() -> String {
    "err".into()
}

fn default_usage() -> Vec<String> {
    ALL_USAGES.iter().map(|s| s.to_string()).collect()
}

impl IssuerEntry {
    /// A fresh issuer record for `cert_der` with `key_id` ("" for none).
    pub fn new(cert_der: &[u8], key_id: &str, name: &str) -> PkiResult<IssuerEntry> {
        let info = x509::parse_cert(cert_der)?;
        let pem = x509::pem_encode("CERTIFICATE", cert_der);
        Ok(IssuerEntry {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
            key_id: key_id.to_string(),
            certificate: pem.clone(),
            ca_chain: vec![pem],
            manual_chain: None,
            serial_number: info.serial,
            leaf_not_after_behavior: default_leaf_behavior(),
            usage: default_usage(),
            revocation_signature_algorithm: String::new(),
            revoked: false,
            revocation_time: 0,
            not_after: info.not_after,
        })
    }

    /// The certificate as DER.
    pub fn cert_der(&self) -> PkiResult<Vec<u8>> {
        x509::pem_certs(&self.certificate)?
            .into_iter()
            .next()
            .ok_or_else(|| PkiError::Decode {
                what: "issuer",
                reason: "no certificate".into(),
            })
    }

    /// Whether the issuer may be used for `usage`.
    pub fn allows(&self, usage: &str) -> bool {
        self.usage.iter().any(|u| u == usage)
    }

    /// The `usage` field as OpenBao shows it: comma-joined.
    pub fn usage_text(&self) -> String {
        self.usage.join(",")
    }

    /// The issuer as `issuer/<ref>` reads it.
    pub fn to_json(&self, urls: &crate::config::UrlsConfig) -> Value {
        let alg = if self.revocation_signature_algorithm.is_empty() {
            Value::String(String::new())
        } else {
            Value::String(self.revocation_signature_algorithm.clone())
        };
        let mut v = json!({
            "issuer_id": self.id,
            "issuer_name": self.name,
            "key_id": self.key_id,
            "certificate": self.certificate,
            "ca_chain": self.ca_chain,
            "manual_chain": self.manual_chain,
            "leaf_not_after_behavior": self.leaf_not_after_behavior,
            "usage": self.usage_text(),
            "revocation_signature_algorithm": alg,
            "revoked": self.revoked,
            "issuing_certificates": urls.issuing_certificates,
            "crl_distribution_points": urls.crl_distribution_points,
            "delta_crl_distribution_points": urls.delta_crl_distribution_points,
            "ocsp_servers": urls.ocsp_servers,
        });
        if self.revoked {
            v["revocation_time"] = json!(self.revocation_time);
            v["revocation_time_rfc3339"] = json!(crate::rfc3339(self.revocation_time));
        }
        v
    }
}

/// The mount's default issuer and key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Defaults {
    /// The default issuer's id ("" when none).
    #[serde(default)]
    pub default: String,
    /// Whether each new issuer becomes the default.
    #[serde(default)]
    pub default_follows_latest_issuer: bool,
}

async fn get_json<T: serde::de::DeserializeOwned>(
    s: &dyn Storage,
    key: &str,
    what: &'static str,
) -> PkiResult<Option<T>> {
    match s.get(key).await? {
        Some(e) => serde_json::from_slice(&e.value)
            .map(Some)
            .map_err(|err| PkiError::Decode {
                what,
                reason: err.to_string(),
            }),
        None => Ok(None),
    }
}

/// Writes `value` as JSON at `key`.
pub async fn put_json<T: Serialize>(s: &dyn Storage, key: &str, value: &T) -> PkiResult<()> {
    let bytes = serde_json::to_vec(value).map_err(|e| PkiError::Decode {
        what: "record",
        reason: e.to_string(),
    })?;
    s.put(StorageEntry::new(key, bytes)).await?;
    Ok(())
}

/// Reads a JSON record.
pub async fn read_json<T: serde::de::DeserializeOwned>(
    s: &dyn Storage,
    key: &str,
    what: &'static str,
) -> PkiResult<Option<T>> {
    get_json(s, key, what).await
}

/// Every issuer id.
pub async fn issuer_ids(s: &dyn Storage) -> PkiResult<Vec<String>> {
    Ok(s.list("config/issuer/").await?)
}

/// Every issuer.
pub async fn all_issuers(s: &dyn Storage) -> PkiResult<Vec<IssuerEntry>> {
    let mut out = Vec::new();
    for id in issuer_ids(s).await? {
        if let Some(i) = get_issuer(s, &id).await? {
            out.push(i);
        }
    }
    Ok(out)
}

/// The issuer with this id.
pub async fn get_issuer(s: &dyn Storage, id: &str) -> PkiResult<Option<IssuerEntry>> {
    get_json(s, &format!("config/issuer/{id}"), "issuer").await
}

/// Stores an issuer.
pub async fn put_issuer(s: &dyn Storage, i: &IssuerEntry) -> PkiResult<()> {
    put_json(s, &format!("config/issuer/{}", i.id), i).await
}

/// Every key id.
pub async fn key_ids(s: &dyn Storage) -> PkiResult<Vec<String>> {
    Ok(s.list("config/key/").await?)
}

/// The key with this id.
pub async fn get_key(s: &dyn Storage, id: &str) -> PkiResult<Option<KeyEntry>> {
    get_json(s, &format!("config/key/{id}"), "key").await
}

/// Stores a key.
pub async fn put_key(s: &dyn Storage, k: &KeyEntry) -> PkiResult<()> {
    put_json(s, &format!("config/key/{}", k.id), k).await
}

/// The issuer defaults.
pub async fn issuer_defaults(s: &dyn Storage) -> PkiResult<Defaults> {
    Ok(get_json(s, "config/issuers", "issuer config")
        .await?
        .unwrap_or_default())
}

/// The key defaults.
pub async fn key_defaults(s: &dyn Storage) -> PkiResult<Defaults> {
    Ok(get_json(s, "config/keys", "key config")
        .await?
        .unwrap_or_default())
}

/// Resolves an issuer reference (`default`, an id or a name) to an id.
pub async fn resolve_issuer(s: &dyn Storage, reference: &str) -> PkiResult<String> {
    let r = reference.trim();
    if r.is_empty() || r == "default" {
        let d = issuer_defaults(s).await?;
        if d.default.is_empty() || get_issuer(s, &d.default).await?.is_none() {
            return Err(PkiError::bad("no default issuer currently configured"));
        }
        return Ok(d.default);
    }
    if get_issuer(s, r).await?.is_some() {
        return Ok(r.to_string());
    }
    for i in all_issuers(s).await? {
        if i.name == r {
            return Ok(i.id);
        }
    }
    Err(PkiError::bad(format!(
        "unable to find PKI issuer for reference: {r}"
    )))
}

/// Loads the issuer `reference` names.
pub async fn load_issuer(s: &dyn Storage, reference: &str) -> PkiResult<IssuerEntry> {
    let id = resolve_issuer(s, reference).await?;
    get_issuer(s, &id).await?.ok_or_else(|| {
        PkiError::bad(format!(
            "unable to find PKI issuer for reference: {reference}"
        ))
    })
}

/// Resolves a key reference (`default`, an id or a name) to an id.
pub async fn resolve_key(s: &dyn Storage, reference: &str) -> PkiResult<String> {
    let r = reference.trim();
    if r.is_empty() || r == "default" {
        let d = key_defaults(s).await?;
        if d.default.is_empty() || get_key(s, &d.default).await?.is_none() {
            return Err(PkiError::bad("no default key currently configured"));
        }
        return Ok(d.default);
    }
    if get_key(s, r).await?.is_some() {
        return Ok(r.to_string());
    }
    for id in key_ids(s).await? {
        if let Some(k) = get_key(s, &id).await?
            && k.name == r
        {
            return Ok(k.id);
        }
    }
    Err(PkiError::bad(format!(
        "unable to find PKI key for reference: {r}"
    )))
}

/// Checks that `name` is a usable issuer or key name, unique among `taken`.
pub fn check_name(name: &str, kind: &str) -> PkiResult<()> {
    if name == "default" {
        return Err(PkiError::bad(format!(
            "reserved keyword 'default' can not be used as {kind} name"
        )));
    }
    if !name.is_empty()
        && !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(PkiError::bad(format!(
            "{kind} name contained invalid characters"
        )));
    }
    Ok(())
}

/// Stores `key` unless the mount already holds the same key, returning the id used and whether
/// it was new. The first key becomes the default.
pub async fn import_key(s: &dyn Storage, key: KeyEntry) -> PkiResult<(String, bool)> {
    let pub_of = |k: &KeyEntry| k.key_pair(0).map(|kp| kp.public_key_raw().to_vec());
    let mine = pub_of(&key)?;
    for id in key_ids(s).await? {
        if let Some(k) = get_key(s, &id).await?
            && pub_of(&k).ok().as_deref() == Some(mine.as_slice())
        {
            return Ok((k.id, false));
        }
    }
    put_key(s, &key).await?;
    let mut d = key_defaults(s).await?;
    if d.default.is_empty() {
        d.default = key.id.clone();
        put_json(s, "config/keys", &d).await?;
    }
    Ok((key.id, true))
}

/// Stores a CA certificate as an issuer unless the mount already holds it, linking it to the
/// key whose public key it carries. Returns the id and whether it was new. The first issuer
/// (or every new one, when defaults follow the latest) becomes the default.
pub async fn import_issuer(
    s: &dyn Storage,
    cert_der: &[u8],
    name: &str,
) -> PkiResult<(String, bool)> {
    let info = x509::parse_cert(cert_der)?;
    for i in all_issuers(s).await? {
        if i.cert_der().ok().as_deref() == Some(cert_der) {
            return Ok((i.id, false));
        }
    }
    let mut key_id = String::new();
    for id in key_ids(s).await? {
        if let Some(k) = get_key(s, &id).await?
            && let Ok(kp) = k.key_pair(0)
            && rcgen::PublicKeyData::subject_public_key_info(&kp) == info.spki_der
        {
            key_id = k.id;
            break;
        }
    }
    let entry = IssuerEntry::new(cert_der, &key_id, name)?;
    put_issuer(s, &entry).await?;
    let mut d = issuer_defaults(s).await?;
    if d.default.is_empty() || d.default_follows_latest_issuer {
        d.default = entry.id.clone();
        put_json(s, "config/issuers", &d).await?;
    }
    rebuild_chains(s).await?;
    Ok((entry.id, true))
}

/// Rebuilds every issuer's `ca_chain`: itself, then whichever issuer of the mount signed the
/// previous one, up to a self-signed root. A manual chain is kept as set.
pub async fn rebuild_chains(s: &dyn Storage) -> PkiResult<()> {
    let all = all_issuers(s).await?;
    let ders: Vec<(String, Vec<u8>, String)> = all
        .iter()
        .filter_map(|i| {
            i.cert_der()
                .ok()
                .map(|d| (i.id.clone(), d, i.certificate.clone()))
        })
        .collect();
    for mut i in all.clone() {
        let chain = if let Some(manual) = &i.manual_chain {
            manual
                .iter()
                .filter_map(|id| {
                    ders.iter()
                        .find(|(d, _, _)| d == id)
                        .map(|(_, _, p)| p.clone())
                })
                .collect()
        } else {
            let Ok(mut cur) = i.cert_der() else { continue };
            let mut chain = vec![i.certificate.clone()];
            let mut seen = vec![i.id.clone()];
            loop {
                if x509::signed_by(&cur, &cur) {
                    break;
                }
                let Some((id, der, pem)) = ders
                    .iter()
                    .find(|(id, der, _)| !seen.contains(id) && x509::signed_by(&cur, der))
                else {
                    break;
                };
                seen.push(id.clone());
                chain.push(pem.clone());
                cur = der.clone();
            }
            chain
        };
        if chain != i.ca_chain {
            i.ca_chain = chain;
            put_issuer(s, &i).await?;
        }
    }
    Ok(())
}
