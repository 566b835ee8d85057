//! JWT-format wrapping tokens (`X-Vault-Wrap-Format: jwt`), as Vault's: an ES512 (P-521)
//! JWS whose `jti` is the wrapping token itself, signed with a key kept in the barrier
//! (`core/wrapping/jwtkey`, made at the first unseal). Unwrap, lookup and rewrap accept the
//! JWT in place of the token once its signature and `type` claim check out.

use std::sync::Arc;

use arca_sdk::{LogicalError, Storage, StorageEntry};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P521_SHA512_FIXED, ECDSA_P521_SHA512_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use parking_lot::RwLock;
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// Where the signing key lives, under the view the core hands over (`core/wrapping/`).
const KEY_PATH: &str = "jwtkey";

/// The protected header of every wrapping JWT.
const HEADER: &str = r#"{"alg":"ES512","typ":"JWT"}"#;

/// Vault's `IsJWT`: three dot-separated parts, none of the first ones trivially short.
pub(crate) fn is_jwt(token: &str) -> bool {
    let b = token.as_bytes();
    b.len() > 3 && token.matches('.').count() == 2 && b[3] != b'.' && b[1] != b'.'
}

/// The signing key, loaded at unseal and dropped at seal.
pub(crate) struct JwtKeys {
    view: Arc<dyn Storage>,
    key: RwLock<Option<Arc<EcdsaKeyPair>>>,
}

impl JwtKeys {
    /// Keys over `view` (`core/wrapping/`).
    pub(crate) fn new(view: Arc<dyn Storage>) -> JwtKeys {
        JwtKeys {
            view,
            key: RwLock::new(None),
        }
    }

    /// Loads the key, making and storing it the first time.
    pub(crate) async fn setup(&self) -> Result<(), LogicalError> {
        let pkcs8 = match self.view.get(KEY_PATH).await? {
            Some(e) => e.value,
            None => {
                let doc = EcdsaKeyPair::generate_pkcs8(
                    &ECDSA_P521_SHA512_FIXED_SIGNING,
                    &SystemRandom::new(),
                )
                .map_err(|_| LogicalError::internal("failed to generate wrapping key"))?;
                let value = Zeroizing::new(doc.as_ref().to_vec());
                self.view
                    .put(StorageEntry {
                        key: KEY_PATH.into(),
                        value: value.clone(),
                        seal_wrap: false,
                    })
                    .await?;
                value
            }
        };
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P521_SHA512_FIXED_SIGNING, &pkcs8)
            .map_err(|_| LogicalError::internal("failed to load wrapping key"))?;
        *self.key.write() = Some(Arc::new(pair));
        Ok(())
    }

    /// Forgets the key (at seal).
    pub(crate) fn teardown(&self) {
        *self.key.write() = None;
    }

    fn key(&self) -> Result<Arc<EcdsaKeyPair>, LogicalError> {
        self.key.read().clone().ok_or(LogicalError::Sealed)
    }

    /// The JWT standing for wrapping token `token`: issued at `iat`, expiring at `exp` (Unix
    /// seconds), with the wrapped token's `accessor` and the server's `addr`.
    pub(crate) fn sign(
        &self,
        token: &str,
        accessor: &str,
        addr: &str,
        iat: i64,
        exp: i64,
    ) -> Result<Zeroizing<String>, LogicalError> {
        let claims = json!({
            "accessor": accessor,
            "addr": addr,
            "exp": exp,
            "iat": iat,
            "jti": token,
            "nbf": chrono::Utc::now().timestamp() - 5,
            "type": "wrapping",
        });
        let claims = Zeroizing::new(claims.to_string());
        let mut jwt = Zeroizing::new(format!(
            "{}.{}",
            B64.encode(HEADER),
            B64.encode(claims.as_bytes())
        ));
        let sig = self
            .key()?
            .sign(&SystemRandom::new(), jwt.as_bytes())
            .map_err(|_| LogicalError::internal("failed to sign wrapping token"))?;
        jwt.push('.');
        jwt.push_str(&B64.encode(sig.as_ref()));
        Ok(jwt)
    }

    /// The wrapping token a JWT stands for, once its signature and claims check out; the
    /// error is the reason, as OpenBao words it.
    pub(crate) fn open(&self, jwt: &str) -> Result<Zeroizing<String>, String> {
        let parts: Vec<&str> = jwt.split('.').collect();
        let [header, claims, sig] = parts.as_slice() else {
            return Err("wrapping token could not be parsed: go-jose/go-jose: compact JWS format must have three parts".into());
        };
        let decoded = |part: &str| B64.decode(part.trim_end_matches('='));
        let header: Value = decoded(header)
            .ok()
            .and_then(|h| serde_json::from_slice(&h).ok())
            .ok_or("wrapping token could not be parsed: illegal base64 data")?;
        if header.get("alg").and_then(Value::as_str) != Some("ES512") {
            return Err("wrapping token could not be parsed: go-jose/go-jose: unexpected signature algorithm".into());
        }
        let invalid = "wrapping token signature could not be validated: go-jose/go-jose: error in cryptographic primitive";
        let sig = decoded(sig).map_err(|_| invalid.to_string())?;
        let key = self.key().map_err(|_| invalid.to_string())?;
        let signed = &jwt[..jwt.rfind('.').unwrap_or(0)];
        UnparsedPublicKey::new(&ECDSA_P521_SHA512_FIXED, key.public_key().as_ref())
            .verify(signed.as_bytes(), &sig)
            .map_err(|_| invalid.to_string())?;
        let claims: Value = decoded(claims)
            .ok()
            .and_then(|c| serde_json::from_slice(&c).ok())
            .ok_or(invalid)?;
        match claims.get("type") {
            None => return Err("could not validate type claim".into()),
            Some(Value::String(t)) if t == "wrapping" => {}
            Some(Value::String(_)) => return Err("unexpected type claim".into()),
            Some(_) => return Err("could not parse type claim".into()),
        }
        match claims.get("jti").and_then(Value::as_str) {
            Some(id) => Ok(Zeroizing::new(id.to_string())),
            None => Err("token is empty".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_jwts_as_vault_does() {
        assert!(is_jwt("eyJh.eyJ4.c2ln"));
        assert!(!is_jwt("a.b.c"));
        assert!(!is_jwt("hvs.abcdefghijklmnop"));
        assert!(!is_jwt("abc.def"));
    }
}
