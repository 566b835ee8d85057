//! The public keys a JWT's signature is checked with: PEM keys from the config
//! (`jwt_validation_pubkeys`), and JSON Web Key Sets from `jwks_url` or an OIDC discovery
//! document. Only asymmetric keys exist here: an HMAC (`oct`) key is never built, so a token
//! "signed" with a public key as an HMAC secret cannot verify.

use std::str::FromStr;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::x509::SubjectPublicKeyInfo;

/// The signing algorithms OpenBao accepts from a JWKS (go-oidc's list, in its order).
pub(crate) const JWKS_ALGS: [&str; 10] = [
    "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA",
];

/// The algorithms `jwt_supported_algs` may name (cap's `SupportedSigningAlgorithm`).
pub(crate) const SUPPORTED_ALGS: [&str; 10] = JWKS_ALGS;

/// One verification key, with the `kid` a JWKS gave it.
#[derive(Clone)]
pub(crate) struct VerifyKey {
    /// The key id (`kid`), empty for a PEM key.
    pub kid: String,
    key: DecodingKey,
}

impl VerifyKey {
    /// Whether `sig` over `message` is a valid `alg` signature by this key. An algorithm of
    /// another family than the key's (HMAC with an RSA key, say) never verifies.
    pub fn verifies(&self, alg: &str, message: &[u8], sig: &str) -> bool {
        let Ok(alg) = Algorithm::from_str(alg) else {
            return false;
        };
        if alg.family() != self.key.family() || alg.family() == jsonwebtoken::AlgorithmFamily::Hmac
        {
            return false;
        }
        matches!(
            jsonwebtoken::crypto::verify(sig, message, &self.key, alg),
            Ok(true)
        )
    }
}

/// Parses a PEM public key (PKIX `PUBLIC KEY`, or the key of a `CERTIFICATE`) as OpenBao's
/// `certutil.ParsePublicKeyPEM` does: RSA, ECDSA or Ed25519.
pub(crate) fn parse_pem_key(text: &str) -> Result<VerifyKey, String> {
    const NONE: &str = "data does not contain any valid public keys";
    let Ok(block) = pem::parse(text.trim()) else {
        return Err(NONE.into());
    };
    let der = block.contents();
    let spki_of_cert;
    let spki = match SubjectPublicKeyInfo::from_der(der) {
        Ok((_, spki)) => spki,
        Err(_) => match X509Certificate::from_der(der) {
            Ok((_, cert)) => {
                spki_of_cert = cert.tbs_certificate.subject_pki;
                spki_of_cert
            }
            Err(e) => return Err(format!("x509: malformed certificate: {e}")),
        },
    };
    let raw = spki.subject_public_key.data.to_vec();
    let oid = spki.algorithm.algorithm.to_id_string();
    let key = match oid.as_str() {
        "1.2.840.113549.1.1.1" => DecodingKey::from_rsa_der(&raw),
        "1.2.840.10045.2.1" => DecodingKey::from_ec_der(&raw),
        "1.3.101.112" => DecodingKey::from_ed_der(&raw),
        _ => return Err(NONE.into()),
    };
    Ok(VerifyKey {
        kid: String::new(),
        key,
    })
}

/// The asymmetric keys of a JWKS document (`{"keys": [...]}`); keys of other kinds, or that
/// do not parse, are left out.
pub(crate) fn parse_jwks(doc: &Value) -> Vec<VerifyKey> {
    let Some(keys) = doc.get("keys").and_then(Value::as_array) else {
        return Vec::new();
    };
    keys.iter()
        .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
        .filter_map(|jwk| {
            let key = DecodingKey::from_jwk(&jwk).ok()?;
            if key.family() == jsonwebtoken::AlgorithmFamily::Hmac {
                return None;
            }
            Some(VerifyKey {
                kid: jwk.common.key_id.clone().unwrap_or_default(),
                key,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_no_key() {
        assert_eq!(
            parse_pem_key("garbage").err().as_deref(),
            Some("data does not contain any valid public keys")
        );
    }

    #[test]
    fn oct_keys_are_dropped() {
        let doc = serde_json::json!({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]});
        assert!(parse_jwks(&doc).is_empty());
    }
}
