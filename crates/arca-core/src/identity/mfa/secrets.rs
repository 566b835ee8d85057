//! Each entity's TOTP secrets: `identity/mfa/method/totp/generate` (for the caller's own
//! entity), `admin-generate` and `admin-destroy`. A secret is stored beside the entity in the
//! identity view (`mfa/totp-secrets/<method id>/<entity id>`, inside the barrier) and only
//! ever leaves the server once, in the `url` and `barcode` of the answer that made it.

use arca_sdk::storage::StorageExt;
use arca_sdk::{JsonMap, LogicalError, Request, Response};
use serde_json::Value;
use zeroize::Zeroizing;

use super::totp::base32_encode;
use super::{RECORD_VERSION, SECRET_PREFIX, TotpMethod, TotpSecret, qr};
use crate::identity::IdentityStore;
use crate::identity::fields;

/// Percent-encodes `s`, keeping the unreserved characters and `keep`; a space is `space`.
fn escape(s: &str, keep: &[u8], space: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(b as char);
        } else if b == b' ' {
            out.push_str(space);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `otpauth://` URL of a secret, as pquerna/otp (OpenBao's library) writes it: the label
/// `<issuer>:<account>` as a path, the parameters sorted.
pub(crate) fn otpauth_url(s: &TotpSecret, account: &str) -> String {
    let path_keep = b"!$&'()*+,;=:@";
    let label = escape(&format!("{}:{account}", s.issuer), path_keep, "%20");
    format!(
        "otpauth://totp/{label}?algorithm={}&digits={}&issuer={}&period={}&secret={}",
        s.algorithm,
        s.digits,
        escape(&s.issuer, b"", "+"),
        s.period,
        s.key
    )
}

impl IdentityStore {
    /// `generate`: a secret for the caller's token's entity.
    pub(crate) async fn generate_totp_self(
        &self,
        req: &Request,
    ) -> Result<Option<Response>, LogicalError> {
        let method_id = fields::string_or_empty(&req.data, "method_id")?;
        self.generate_totp(&method_id, &req.entity_id).await
    }

    /// `admin-generate`: a secret for the entity named in the request.
    pub(crate) async fn generate_totp_admin(
        &self,
        req: &Request,
    ) -> Result<Option<Response>, LogicalError> {
        let method_id = fields::string_or_empty(&req.data, "method_id")?;
        let entity_id = fields::string_or_empty(&req.data, "entity_id")?;
        self.generate_totp(&method_id, &entity_id).await
    }

    /// The method `method_id` names, or OpenBao's 400.
    fn totp_method(&self, method_id: &str) -> Result<std::sync::Arc<TotpMethod>, LogicalError> {
        self.mfa
            .read()
            .methods
            .get(method_id)
            .cloned()
            .ok_or_else(|| {
                LogicalError::bad_request(format!(
                    "configuration for method ID {method_id:?} does not exist"
                ))
            })
    }

    /// Makes `entity_id`'s secret for `method_id` (OpenBao's `HandleMFAGenerateTOTP`): a
    /// warning, and nothing else, when it already has one.
    async fn generate_totp(
        &self,
        method_id: &str,
        entity_id: &str,
    ) -> Result<Option<Response>, LogicalError> {
        if method_id.is_empty() {
            return Err(LogicalError::bad_request("missing method ID"));
        }
        if entity_id.is_empty() {
            return Err(LogicalError::bad_request("missing entityID"));
        }
        let method = self.totp_method(method_id)?;
        let _guard = self.write.lock().await;
        if self.read(|ix| ix.entity(entity_id)).is_none() {
            return Err(LogicalError::bad_request("invalid entity ID"));
        }
        if self.mfa.read().has_secret(method_id, entity_id) {
            let mut resp = Response::default();
            resp.warn(format!(
                "Entity already has a secret for MFA method {:?}",
                method.name
            ));
            return Ok(Some(resp));
        }
        let mut raw = Zeroizing::new(vec![0u8; usize::try_from(method.key_size).unwrap_or(20)]);
        crate::random::fill(&mut raw);
        let secret = TotpSecret {
            version: RECORD_VERSION,
            key: base32_encode(&raw),
            issuer: method.issuer.clone(),
            period: method.period,
            algorithm: method.algorithm.clone(),
            digits: method.digits,
            skew: method.skew,
            key_size: method.key_size,
        };
        let url = Zeroizing::new(otpauth_url(&secret, entity_id));
        let barcode = if method.qr_size != 0 {
            let size = u32::try_from(method.qr_size.unsigned_abs()).unwrap_or(200);
            qr::barcode(&url, size)
                .ok_or_else(|| LogicalError::internal("failed to generate QR code image"))?
        } else {
            String::new()
        };
        self.storage()?
            .put_json(&format!("{SECRET_PREFIX}{method_id}/{entity_id}"), &secret)
            .await?;
        let mut st = self.mfa.write();
        st.secrets
            .entry(method_id.to_string())
            .or_default()
            .insert(entity_id.to_string());
        st.emptied.remove(entity_id);
        drop(st);
        let mut data = JsonMap::new();
        data.insert("barcode".into(), Value::String(barcode));
        data.insert("url".into(), Value::String(url.to_string()));
        Ok(Some(Response::with_data(data)))
    }

    /// `admin-destroy`: removes `entity_id`'s secret for `method_id` (none is no error).
    pub(crate) async fn destroy_totp_admin(&self, req: &Request) -> Result<(), LogicalError> {
        let method_id = fields::string_or_empty(&req.data, "method_id")?;
        let entity_id = fields::string_or_empty(&req.data, "entity_id")?;
        if method_id.is_empty() {
            return Err(LogicalError::bad_request("missing method ID"));
        }
        if entity_id.is_empty() {
            return Err(LogicalError::bad_request("missing entity ID"));
        }
        let _guard = self.write.lock().await;
        if self.read(|ix| ix.entity(&entity_id)).is_none() {
            return Err(LogicalError::bad_request("invalid entity ID"));
        }
        self.totp_method(&method_id)?;
        self.storage()?
            .delete(&format!("{SECRET_PREFIX}{method_id}/{entity_id}"))
            .await?;
        let mut st = self.mfa.write();
        if let Some(s) = st.secrets.get_mut(&method_id) {
            s.remove(&entity_id);
        }
        if !st.secrets.values().any(|s| s.contains(&entity_id)) {
            st.emptied.insert(entity_id);
        }
        Ok(())
    }

    /// Removes every secret of `entity_id` (the entity is being deleted; OpenBao keeps them
    /// inside the entity, so they go with it). The caller holds the write lock.
    pub(crate) async fn drop_entity_secrets(&self, entity_id: &str) -> Result<(), LogicalError> {
        let methods: Vec<String> = self
            .mfa
            .read()
            .secrets
            .iter()
            .filter(|(_, holders)| holders.contains(entity_id))
            .map(|(m, _)| m.clone())
            .collect();
        let storage = self.storage()?;
        for m in &methods {
            storage
                .delete(&format!("{SECRET_PREFIX}{m}/{entity_id}"))
                .await?;
        }
        let mut st = self.mfa.write();
        for holders in st.secrets.values_mut() {
            holders.remove(entity_id);
        }
        st.emptied.remove(entity_id);
        Ok(())
    }

    /// The stored secret of `entity_id` for `method_id`, if it has one.
    pub(crate) async fn totp_secret(
        &self,
        method_id: &str,
        entity_id: &str,
    ) -> Result<Option<TotpSecret>, LogicalError> {
        self.storage()?
            .get_json::<TotpSecret>(&format!("{SECRET_PREFIX}{method_id}/{entity_id}"))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_as_pquerna_writes_it() {
        let s = TotpSecret {
            version: 1,
            key: "ODRHSTVVG3HSYFXBBNRZFWWQ7OWESRQN".into(),
            issuer: "y".into(),
            period: 30,
            algorithm: "SHA1".into(),
            digits: 8,
            skew: 1,
            key_size: 20,
        };
        // Observed from OpenBao 2.7.2.
        assert_eq!(
            otpauth_url(&s, "848cf091-4807-0e87-cc55-109ceed9fd34"),
            "otpauth://totp/y:848cf091-4807-0e87-cc55-109ceed9fd34?algorithm=SHA1&digits=8&issuer=y&period=30&secret=ODRHSTVVG3HSYFXBBNRZFWWQ7OWESRQN"
        );
    }
}

/// What an entity merge does to the MFA secrets: the records the target gains (stored in the
/// merge's transaction) and the methods they are for.
#[derive(Default)]
pub(crate) struct SecretMoves {
    /// Puts of the target's new secret records.
    pub ops: Vec<arca_sdk::StorageOp>,
    /// The methods the target now has a secret for.
    methods: Vec<String>,
    /// The target entity.
    target: String,
}

impl IdentityStore {
    /// Plans moving the secrets of the `from` entities to `to`, as OpenBao's merge does: a
    /// method the target already has a secret for (or gained from an earlier `from`) is a
    /// conflict unless `force`, where the later secret wins. Reads only; the caller holds the
    /// write lock and stores [`SecretMoves::ops`] with the merge.
    pub(crate) async fn plan_secret_moves(
        &self,
        to: &str,
        from: &[String],
        force: bool,
    ) -> Result<SecretMoves, LogicalError> {
        let (mut held, wanted): (std::collections::BTreeSet<String>, Vec<(String, String)>) = {
            let st = self.mfa.read();
            let held = st
                .secrets
                .iter()
                .filter(|(_, holders)| holders.contains(to))
                .map(|(m, _)| m.clone())
                .collect();
            let mut wanted = Vec::new();
            for f in from {
                for (m, holders) in &st.secrets {
                    if holders.contains(f) {
                        wanted.push((f.clone(), m.clone()));
                    }
                }
            }
            (held, wanted)
        };
        let storage = self.storage()?;
        let mut moves = SecretMoves {
            target: to.to_string(),
            ..SecretMoves::default()
        };
        for (f, m) in wanted {
            if held.contains(&m) && !force {
                // OpenBao's 500 (a plain error of its merge), Go's multierror around it.
                return Err(LogicalError::bad_request(arca_sdk::error::multierror(&[
                    format!("conflicting MFA config ID {m:?} in entity ID {f:?}"),
                ])));
            }
            let Some(entry) = storage.get(&format!("{SECRET_PREFIX}{m}/{f}")).await? else {
                continue;
            };
            let key = format!("{SECRET_PREFIX}{m}/{to}");
            // A forced later secret replaces the one planned before it.
            moves
                .ops
                .retain(|op| !matches!(op, arca_sdk::StorageOp::Put(e) if e.key == key));
            moves
                .ops
                .push(arca_sdk::StorageOp::Put(arca_sdk::StorageEntry {
                    key,
                    ..entry
                }));
            held.insert(m.clone());
            moves.methods.push(m);
        }
        Ok(moves)
    }

    /// Records in memory the secrets a merge moved (after its transaction stored them).
    pub(crate) fn apply_secret_moves(&self, moves: &SecretMoves) {
        if moves.methods.is_empty() {
            return;
        }
        let mut st = self.mfa.write();
        for m in &moves.methods {
            st.secrets
                .entry(m.clone())
                .or_default()
                .insert(moves.target.clone());
        }
        st.emptied.remove(&moves.target);
    }
}
