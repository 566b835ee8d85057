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

/// The object identifier of the P-521 curve (secp521r1) in an EC key's parameters.
const P521_OID: &str = "1.3.132.0.35";
/// The length of one P-521 coordinate, and so of each half of an ES512 signature.
const P521_COORD: usize = 66;

/// One verification key, with the `kid` a JWKS gave it.
#[derive(Clone)]
pub(crate) struct VerifyKey {
    /// The key id (`kid`), empty for a PEM key.
    pub kid: String,
    key: KeyKind,
}

/// What checks a signature: `jsonwebtoken` for every algorithm but ES512, which it lacks
/// (no P-521); that one `aws-lc-rs` checks directly.
#[derive(Clone)]
enum KeyKind {
    /// An RSA, ECDSA P-256/P-384 or Ed25519 key.
    Jwt(DecodingKey),
    /// A P-521 public key, as its uncompressed point (`04 || x || y`).
    P521(Vec<u8>),
}

impl VerifyKey {
    /// Whether `sig` over `message` is a valid `alg` signature by this key. An algorithm of
    /// another family than the key's (HMAC with an RSA key, say) never verifies.
    pub fn verifies(&self, alg: &str, message: &[u8], sig: &str) -> bool {
        match &self.key {
            KeyKind::P521(point) => alg == "ES512" && verify_es512(point, message, sig),
            KeyKind::Jwt(key) => {
                let Ok(alg) = Algorithm::from_str(alg) else {
                    return false;
                };
                if alg.family() != key.family()
                    || alg.family() == jsonwebtoken::AlgorithmFamily::Hmac
                {
                    return false;
                }
                matches!(
                    jsonwebtoken::crypto::verify(sig, message, key, alg),
                    Ok(true)
                )
            }
        }
    }
}

/// An ES512 signature (JWS form: `r || s`, 66 bytes each, base64url) over `message` by the
/// P-521 key `point`.
fn verify_es512(point: &[u8], message: &[u8], sig: &str) -> bool {
    use aws_lc_rs::signature::{ECDSA_P521_SHA512_FIXED, UnparsedPublicKey};
    use base64::Engine;
    let Ok(sig) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sig) else {
        return false;
    };
    if sig.len() != 2 * P521_COORD {
        return false;
    }
    UnparsedPublicKey::new(&ECDSA_P521_SHA512_FIXED, point)
        .verify(message, &sig)
        .is_ok()
}

/// The uncompressed point of a JWK `EC`/`P-521` key, from its `x` and `y`.
fn p521_point(jwk: &Value) -> Option<Vec<u8>> {
    use base64::Engine;
    let coord = |name: &str| {
        let text = jwk.get(name)?.as_str()?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        (bytes.len() == P521_COORD).then_some(bytes)
    };
    let mut point = vec![4u8];
    point.extend(coord("x")?);
    point.extend(coord("y")?);
    Some(point)
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
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|o| o.to_id_string())
        .unwrap_or_default();
    let key = match oid.as_str() {
        "1.2.840.113549.1.1.1" => KeyKind::Jwt(DecodingKey::from_rsa_der(&raw)),
        "1.2.840.10045.2.1" if curve == P521_OID => KeyKind::P521(raw),
        "1.2.840.10045.2.1" => KeyKind::Jwt(DecodingKey::from_ec_der(&raw)),
        "1.3.101.112" => KeyKind::Jwt(DecodingKey::from_ed_der(&raw)),
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
        .filter_map(|k| {
            let kty = k.get("kty").and_then(Value::as_str);
            if kty == Some("EC") && k.get("crv").and_then(Value::as_str) == Some("P-521") {
                let kid = k.get("kid").and_then(Value::as_str).unwrap_or_default();
                return Some(VerifyKey {
                    kid: kid.to_string(),
                    key: KeyKind::P521(p521_point(k)?),
                });
            }
            let jwk = serde_json::from_value::<Jwk>(k.clone()).ok()?;
            let key = DecodingKey::from_jwk(&jwk).ok()?;
            if key.family() == jsonwebtoken::AlgorithmFamily::Hmac {
                return None;
            }
            Some(VerifyKey {
                kid: jwk.common.key_id.clone().unwrap_or_default(),
                key: KeyKind::Jwt(key),
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

    /// A P-521 key pair's JWK and PEM, and an ES512 signature over `msg` in JWS form.
    fn p521(msg: &[u8]) -> (Value, String, String) {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{ECDSA_P521_SHA512_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        use base64::Engine;
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        let kp = EcdsaKeyPair::generate(&ECDSA_P521_SHA512_FIXED_SIGNING).unwrap();
        let point = kp.public_key().as_ref().to_vec();
        let jwk = serde_json::json!({
            "kty": "EC", "crv": "P-521", "kid": "p",
            "x": URL_SAFE_NO_PAD.encode(&point[1..67]),
            "y": URL_SAFE_NO_PAD.encode(&point[67..]),
        });
        let spki = kp.public_key().as_der().unwrap();
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----",
            STANDARD.encode(spki.as_ref())
        );
        let sig = kp.sign(&SystemRandom::new(), msg).unwrap();
        (jwk, pem, URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    #[test]
    fn es512_verifies_with_pem_and_jwk_keys_only() {
        let (jwk, pem, sig) = p521(b"head.body");
        let from_pem = parse_pem_key(&pem).unwrap();
        let from_jwks = parse_jwks(&serde_json::json!({"keys": [jwk]}));
        assert_eq!(from_jwks.len(), 1);
        assert_eq!(from_jwks[0].kid, "p");
        for k in [&from_pem, &from_jwks[0]] {
            assert!(k.verifies("ES512", b"head.body", &sig));
            assert!(!k.verifies("ES512", b"head.bodz", &sig));
            assert!(!k.verifies("ES256", b"head.body", &sig));
            assert!(!k.verifies("ES512", b"head.body", "AAAA"));
        }
    }

    #[test]
    fn oct_keys_are_dropped() {
        let doc = serde_json::json!({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]});
        assert!(parse_jwks(&doc).is_empty());
    }
}
