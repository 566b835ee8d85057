//! The signing keys of identity tokens: generation for each algorithm OpenBao offers, the
//! public half as a JWK, compact JWS signing, and signature checks against a JWK.

use std::fmt;

use arca_sdk::LogicalError;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

/// The algorithms a named key may have, in OpenBao's order (the discovery document lists them
/// so).
pub(crate) const SUPPORTED_ALGS: [&str; 7] = [
    "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA",
];

/// A private signing key: its key ID, algorithm and PKCS#8 document. `Debug` shows the ID only.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct SigningKey {
    /// The key ID (`kid`), a UUID.
    pub kid: String,
    /// The JWS algorithm.
    pub alg: String,
    /// The PKCS#8 DER, base64 in storage.
    #[serde(with = "pkcs8_b64")]
    pkcs8: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

mod pkcs8_b64 {
    use super::*;

    pub(super) fn serialize<S: serde::Serializer>(
        v: &Zeroizing<Vec<u8>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v.as_slice()))
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Zeroizing<Vec<u8>>, D::Error> {
        let s = Zeroizing::new(String::deserialize(d)?);
        STANDARD
            .decode(s.as_bytes())
            .map(Zeroizing::new)
            .map_err(serde::de::Error::custom)
    }
}

fn crypto_err(what: &str) -> LogicalError {
    LogicalError::internal(format!("identity token key: {what}"))
}

fn ecdsa_signing(alg: &str) -> Option<&'static signature::EcdsaSigningAlgorithm> {
    match alg {
        "ES256" => Some(&signature::ECDSA_P256_SHA256_FIXED_SIGNING),
        "ES384" => Some(&signature::ECDSA_P384_SHA384_FIXED_SIGNING),
        "ES512" => Some(&signature::ECDSA_P521_SHA512_FIXED_SIGNING),
        _ => None,
    }
}

fn rsa_signing(alg: &str) -> Option<&'static signature::RsaSignatureEncoding> {
    match alg {
        "RS256" => Some(&signature::RSA_PKCS1_SHA256),
        "RS384" => Some(&signature::RSA_PKCS1_SHA384),
        "RS512" => Some(&signature::RSA_PKCS1_SHA512),
        _ => None,
    }
}

fn curve_name(alg: &str) -> &'static str {
    match alg {
        "ES384" => "P-384",
        "ES512" => "P-521",
        _ => "P-256",
    }
}

/// A new key of `alg` (RSA keys are 2048 bits, as OpenBao's) and its public JWK.
pub(crate) fn generate(alg: &str) -> Result<(SigningKey, Value), LogicalError> {
    let kid = uuid::Uuid::new_v4().to_string();
    let mut jwk = Map::new();
    jwk.insert("use".into(), json!("sig"));
    let pkcs8: Vec<u8> = if let Some(ec) = ecdsa_signing(alg) {
        let key = EcdsaKeyPair::generate(ec).map_err(|_| crypto_err("generation failed"))?;
        let point = key.public_key().as_ref();
        let half = (point.len().saturating_sub(1)) / 2;
        let (x, y) = point
            .get(1..)
            .map(|xy| xy.split_at(half))
            .ok_or_else(|| crypto_err("bad public key"))?;
        jwk.insert("kty".into(), json!("EC"));
        jwk.insert("kid".into(), json!(kid));
        jwk.insert("crv".into(), json!(curve_name(alg)));
        jwk.insert("alg".into(), json!(alg));
        jwk.insert("x".into(), json!(B64.encode(x)));
        jwk.insert("y".into(), json!(B64.encode(y)));
        key.to_pkcs8v1()
            .map_err(|_| crypto_err("export failed"))?
            .as_ref()
            .to_vec()
    } else if rsa_signing(alg).is_some() {
        let key =
            RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| crypto_err("generation failed"))?;
        let public = key.public_key();
        jwk.insert("kty".into(), json!("RSA"));
        jwk.insert("kid".into(), json!(kid));
        jwk.insert("alg".into(), json!(alg));
        jwk.insert(
            "n".into(),
            json!(B64.encode(public.modulus().big_endian_without_leading_zero())),
        );
        jwk.insert(
            "e".into(),
            json!(B64.encode(public.exponent().big_endian_without_leading_zero())),
        );
        key.as_der()
            .map_err(|_| crypto_err("export failed"))?
            .as_ref()
            .to_vec()
    } else if alg == "EdDSA" {
        let key = Ed25519KeyPair::generate().map_err(|_| crypto_err("generation failed"))?;
        jwk.insert("kty".into(), json!("OKP"));
        jwk.insert("kid".into(), json!(kid));
        jwk.insert("crv".into(), json!("Ed25519"));
        jwk.insert("alg".into(), json!(alg));
        jwk.insert("x".into(), json!(B64.encode(key.public_key().as_ref())));
        key.to_pkcs8()
            .map_err(|_| crypto_err("export failed"))?
            .as_ref()
            .to_vec()
    } else {
        return Err(LogicalError::bad_request(format!(
            "unknown signing algorithm {alg:?}"
        )));
    };
    Ok((
        SigningKey {
            kid,
            alg: alg.to_string(),
            pkcs8: Zeroizing::new(pkcs8),
        },
        Value::Object(jwk),
    ))
}

/// `payload` signed as a compact JWS (header `alg` and `kid`).
pub(crate) fn sign(key: &SigningKey, payload: &[u8]) -> Result<String, LogicalError> {
    let header = json!({"alg": key.alg, "kid": key.kid}).to_string();
    let input = format!("{}.{}", B64.encode(header), B64.encode(payload));
    let sig: Vec<u8> = if let Some(ec) = ecdsa_signing(&key.alg) {
        let pair = EcdsaKeyPair::from_pkcs8(ec, &key.pkcs8)
            .map_err(|_| crypto_err("stored key unreadable"))?;
        pair.sign(&SystemRandom::new(), input.as_bytes())
            .map_err(|_| crypto_err("signing failed"))?
            .as_ref()
            .to_vec()
    } else if let Some(enc) = rsa_signing(&key.alg) {
        let pair =
            RsaKeyPair::from_pkcs8(&key.pkcs8).map_err(|_| crypto_err("stored key unreadable"))?;
        let mut sig = vec![0u8; pair.public_modulus_len()];
        pair.sign(enc, &SystemRandom::new(), input.as_bytes(), &mut sig)
            .map_err(|_| crypto_err("signing failed"))?;
        sig
    } else if key.alg == "EdDSA" {
        let pair = Ed25519KeyPair::from_pkcs8(&key.pkcs8)
            .map_err(|_| crypto_err("stored key unreadable"))?;
        pair.sign(input.as_bytes()).as_ref().to_vec()
    } else {
        return Err(crypto_err("unknown algorithm"));
    };
    Ok(format!("{input}.{}", B64.encode(sig)))
}

fn jwk_bytes(jwk: &Value, field: &str) -> Option<Vec<u8>> {
    jwk.get(field)
        .and_then(Value::as_str)
        .and_then(|s| B64.decode(s).ok())
}

/// Whether `sig` over `input` verifies under the public `jwk` with the JWS algorithm `alg`
/// (which must be the key's own).
pub(crate) fn verify(jwk: &Value, alg: &str, input: &[u8], sig: &[u8]) -> bool {
    if jwk.get("alg").and_then(Value::as_str) != Some(alg) {
        return false;
    }
    match alg {
        "ES256" | "ES384" | "ES512" => {
            let verifier: &'static signature::EcdsaVerificationAlgorithm = match alg {
                "ES256" => &signature::ECDSA_P256_SHA256_FIXED,
                "ES384" => &signature::ECDSA_P384_SHA384_FIXED,
                _ => &signature::ECDSA_P521_SHA512_FIXED,
            };
            let (Some(x), Some(y)) = (jwk_bytes(jwk, "x"), jwk_bytes(jwk, "y")) else {
                return false;
            };
            let mut point = vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            signature::UnparsedPublicKey::new(verifier, point)
                .verify(input, sig)
                .is_ok()
        }
        "RS256" | "RS384" | "RS512" => {
            let verifier: &'static signature::RsaParameters = match alg {
                "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
                "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
                _ => &signature::RSA_PKCS1_2048_8192_SHA512,
            };
            let (Some(n), Some(e)) = (jwk_bytes(jwk, "n"), jwk_bytes(jwk, "e")) else {
                return false;
            };
            signature::RsaPublicKeyComponents { n: &n, e: &e }
                .verify(verifier, input, sig)
                .is_ok()
        }
        "EdDSA" => jwk_bytes(jwk, "x").is_some_and(|x| {
            signature::UnparsedPublicKey::new(&signature::ED25519, x)
                .verify(input, sig)
                .is_ok()
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_signs_and_verifies_against_its_jwk() {
        for alg in SUPPORTED_ALGS {
            let (key, jwk) = generate(alg).expect("generates");
            assert_eq!(jwk["kid"], json!(key.kid));
            let jws = sign(&key, br#"{"sub":"x"}"#).expect("signs");
            let (input, sig) = jws.rsplit_once('.').expect("three parts");
            let sig = B64.decode(sig).expect("b64");
            assert!(verify(&jwk, alg, input.as_bytes(), &sig), "{alg}");
            assert!(!verify(&jwk, alg, b"other", &sig), "{alg} other input");
            // The stored form reads back and still signs.
            let stored = serde_json::to_string(&key).expect("ser");
            let back: SigningKey = serde_json::from_str(&stored).expect("de");
            assert!(sign(&back, b"{}").is_ok());
            assert!(!format!("{back:?}").contains(&STANDARD.encode(back.pkcs8.as_slice())));
        }
    }

    #[test]
    fn a_key_of_another_algorithm_does_not_verify() {
        let (key, jwk) = generate("ES256").expect("generates");
        let jws = sign(&key, b"{}").expect("signs");
        let (input, sig) = jws.rsplit_once('.').expect("parts");
        let sig = B64.decode(sig).expect("b64");
        assert!(!verify(&jwk, "ES384", input.as_bytes(), &sig));
    }
}
