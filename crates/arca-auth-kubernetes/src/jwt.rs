//! The service account JWT of a login: parsed, its signature checked against `pem_keys`
//! when there are any, and its claims checked as OpenBao's validator checks them (issuer,
//! audience, times with leeway; tokens with no time claims are taken).

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use base64::Engine;
use serde_json::{Map, Value};

use crate::pem_keys::PublicKey;

/// The algorithms a token may be signed with (OpenBao's `supportedJwtAlgs`).
const SUPPORTED_ALGS: &[&str] = &["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"];

/// The algorithms a token may name at all; others fail to parse.
const PARSABLE_ALGS: &[&str] = &[
    "ES256", "ES384", "ES512", "EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
];

/// Leeway for a missing `exp` or `nbf` derived from the other times, in seconds.
const DERIVED_LEEWAY: i64 = 150;
/// Clock skew allowed on every time claim, in seconds.
const CLOCK_SKEW: i64 = 60;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum JwtError {
    /// The token could not be parsed or its signature not verified (the login answers a bare
    /// `permission denied`).
    #[error("error verifying token signature: {0}")]
    Signature(String),
    /// A claim or header did not hold what was expected (a 403 with this text).
    #[error("{0}")]
    Claims(String),
}

/// What the claims must hold.
#[derive(Debug, Clone, Default)]
pub(crate) struct Expected {
    /// The `iss` the token must carry, when not empty.
    pub issuer: String,
    /// One of these must be in `aud`, when not empty.
    pub audiences: Vec<String>,
}

struct Parts {
    alg: String,
    claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

fn b64(part: &str) -> Result<Vec<u8>, JwtError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| JwtError::Signature(format!("illegal base64 data: {e}")))
}

fn parse(token: &str) -> Result<Parts, JwtError> {
    let pieces: Vec<&str> = token.split('.').collect();
    let [header, payload, sig] = pieces.as_slice() else {
        return Err(JwtError::Signature(
            "go-jose/go-jose: compact JWS format must have three parts".into(),
        ));
    };
    let header: Map<String, Value> =
        serde_json::from_slice(&b64(header)?).map_err(|e| JwtError::Signature(e.to_string()))?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if !PARSABLE_ALGS.contains(&alg.as_str()) {
        return Err(JwtError::Signature(format!(
            "go-jose/go-jose: unexpected signature algorithm {alg:?}"
        )));
    }
    let claims: Map<String, Value> =
        serde_json::from_slice(&b64(payload)?).map_err(|e| JwtError::Signature(e.to_string()))?;
    Ok(Parts {
        alg,
        claims,
        signing_input: format!("{}.{}", pieces[0], pieces[1]),
        signature: b64(sig)?,
    })
}

/// The verifier of `alg` for a key of this kind, if the two go together.
fn verifier(alg: &str, key: &PublicKey) -> Option<&'static dyn VerificationAlgorithm> {
    Some(match (alg, key) {
        ("RS256", PublicKey::Rsa(_)) => &signature::RSA_PKCS1_2048_8192_SHA256,
        ("RS384", PublicKey::Rsa(_)) => &signature::RSA_PKCS1_2048_8192_SHA384,
        ("RS512", PublicKey::Rsa(_)) => &signature::RSA_PKCS1_2048_8192_SHA512,
        ("PS256", PublicKey::Rsa(_)) => &signature::RSA_PSS_2048_8192_SHA256,
        ("PS384", PublicKey::Rsa(_)) => &signature::RSA_PSS_2048_8192_SHA384,
        ("PS512", PublicKey::Rsa(_)) => &signature::RSA_PSS_2048_8192_SHA512,
        ("ES256", PublicKey::Ec(_)) => &signature::ECDSA_P256_SHA256_FIXED,
        ("ES384", PublicKey::Ec(_)) => &signature::ECDSA_P384_SHA384_FIXED,
        ("ES512", PublicKey::Ec(_)) => &signature::ECDSA_P521_SHA512_FIXED,
        ("EdDSA", PublicKey::Ed25519(_)) => &signature::ED25519,
        _ => return None,
    })
}

fn key_bytes(key: &PublicKey) -> &[u8] {
    match key {
        PublicKey::Rsa(b) | PublicKey::Ec(b) | PublicKey::Ed25519(b) => b,
    }
}

fn verify_signature(parts: &Parts, keys: &[PublicKey]) -> Result<(), JwtError> {
    let ok = keys.iter().any(|key| {
        verifier(&parts.alg, key).is_some_and(|alg| {
            UnparsedPublicKey::new(alg, key_bytes(key))
                .verify(parts.signing_input.as_bytes(), &parts.signature)
                .is_ok()
        })
    });
    if ok {
        Ok(())
    } else {
        Err(JwtError::Signature(
            "failed to verify id token signature".into(),
        ))
    }
}

/// A time claim as go-jose reads it: a number (fraction dropped), 0 when absent.
fn time_claim(claims: &Map<String, Value>, name: &str) -> Result<i64, JwtError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => Ok(n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .unwrap_or(0)),
        Some(_) => Err(JwtError::Claims(
            "go-jose/go-jose/jwt: expected number value to unmarshal NumericDate".into(),
        )),
    }
}

/// The `aud` claim as a list (a single string is a list of one).
fn audience_claim(claims: &Map<String, Value>) -> Result<Vec<String>, JwtError> {
    let bad = || {
        JwtError::Claims(
            "go-jose/go-jose/jwt: expected string or array value to unmarshal to Audience".into(),
        )
    };
    match claims.get("aud") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(bad))
            .collect(),
        Some(_) => Err(bad()),
    }
}

/// Parses and checks `token`, verifying it with `keys` when there are any; answers its claims.
pub(crate) fn validate(
    token: &str,
    keys: &[PublicKey],
    expected: &Expected,
    now: i64,
) -> Result<Map<String, Value>, JwtError> {
    let parts = parse(token)?;
    if !keys.is_empty() {
        verify_signature(&parts, keys)?;
    }
    if parts.signature.is_empty() {
        return Err(JwtError::Claims(
            "invalid algorithm (alg) header parameter: token must be signed".into(),
        ));
    }
    if !SUPPORTED_ALGS.contains(&parts.alg.as_str()) {
        return Err(JwtError::Claims(
            "invalid algorithm (alg) header parameter: token signed with unexpected algorithm"
                .into(),
        ));
    }
    let claims = parts.claims;
    let issuer = match claims.get("iss") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(JwtError::Claims(
                "json: cannot unmarshal into Go struct field Claims.iss of type string".into(),
            ));
        }
    };
    let audiences = audience_claim(&claims)?;
    let (exp, nbf, iat) = (
        time_claim(&claims, "exp")?,
        time_claim(&claims, "nbf")?,
        time_claim(&claims, "iat")?,
    );
    if !expected.issuer.is_empty() && expected.issuer != issuer {
        return Err(JwtError::Claims("invalid issuer (iss) claim".into()));
    }
    if !expected.audiences.is_empty() && !expected.audiences.iter().any(|a| audiences.contains(a)) {
        return Err(JwtError::Claims(
            "invalid audience (aud) claim: audience claim does not match any expected audience"
                .into(),
        ));
    }
    check_times(exp, nbf, iat, now)?;
    Ok(claims)
}

/// The time checks, OpenBao's way: skipped when no time claim is set; a missing `exp` or
/// `nbf` is derived from the others.
fn check_times(exp: i64, nbf: i64, iat: i64, now: i64) -> Result<(), JwtError> {
    if exp == 0 && nbf == 0 && iat == 0 {
        return Ok(());
    }
    let exp = if exp == 0 {
        iat.max(nbf).saturating_add(DERIVED_LEEWAY)
    } else {
        exp
    };
    let nbf = match (nbf, iat) {
        (0, 0) => exp.saturating_sub(DERIVED_LEEWAY),
        (0, iat) => iat,
        (nbf, _) => nbf,
    };
    if now.saturating_add(CLOCK_SKEW) < nbf {
        return Err(JwtError::Claims(
            "invalid not before (nbf) claim: token not yet valid".into(),
        ));
    }
    if now.saturating_sub(CLOCK_SKEW) > exp {
        return Err(JwtError::Claims(
            "invalid expiration time (exp) claim: token is expired".into(),
        ));
    }
    if now.saturating_add(CLOCK_SKEW) < iat {
        return Err(JwtError::Claims(
            "invalid issued at (iat) claim: token issued in the future".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(header: &str, claims: &str, sig: &[u8]) -> String {
        let e = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        format!(
            "{}.{}.{}",
            e(header.as_bytes()),
            e(claims.as_bytes()),
            e(sig)
        )
    }

    #[test]
    fn unverified_tokens_are_parsed_and_claims_checked() {
        let rs = r#"{"alg":"RS256"}"#;
        let ok = validate(
            &token(rs, r#"{"iss":"i","aud":["a"]}"#, b"x"),
            &[],
            &Expected::default(),
            0,
        );
        assert_eq!(ok.unwrap()["iss"], "i");
        let exp = Expected {
            issuer: "j".into(),
            audiences: vec![],
        };
        assert_eq!(
            validate(&token(rs, r#"{"iss":"i"}"#, b"x"), &[], &exp, 0),
            Err(JwtError::Claims("invalid issuer (iss) claim".into()))
        );
        let exp = Expected {
            issuer: String::new(),
            audiences: vec!["b".into()],
        };
        assert!(matches!(
            validate(&token(rs, r#"{"aud":"a"}"#, b"x"), &[], &exp, 0),
            Err(JwtError::Claims(m)) if m.starts_with("invalid audience (aud) claim")
        ));
        assert!(matches!(
            validate("notajwt", &[], &Expected::default(), 0),
            Err(JwtError::Signature(_))
        ));
        assert!(matches!(
            validate(
                &token(r#"{"alg":"HS256"}"#, "{}", b"x"),
                &[],
                &Expected::default(),
                0
            ),
            Err(JwtError::Signature(_))
        ));
        assert!(matches!(
            validate(&token(r#"{"alg":"PS256"}"#, "{}", b"x"), &[], &Expected::default(), 0),
            Err(JwtError::Claims(m)) if m.ends_with("token signed with unexpected algorithm")
        ));
    }

    #[test]
    fn times_have_openbao_leeway() {
        assert!(check_times(1000, 0, 0, 1000 + CLOCK_SKEW).is_ok());
        assert!(check_times(1000, 0, 0, 1001 + CLOCK_SKEW).is_err());
        assert!(check_times(0, 0, 1000, 1000 + DERIVED_LEEWAY + CLOCK_SKEW).is_ok());
        assert!(check_times(0, 2000, 0, 2000 - CLOCK_SKEW - 1).is_err());
        assert!(check_times(0, 0, 0, 0).is_ok());
    }

    #[test]
    fn a_key_verifies_and_a_wrong_one_refuses() {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let key = PublicKey::Ec(pair.public_key().as_ref().to_vec());
        let e = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let input = format!("{}.{}", e(br#"{"alg":"ES256"}"#), e(br#"{"sub":"x"}"#));
        let sig = pair.sign(&rng, input.as_bytes()).unwrap();
        let good = format!("{input}.{}", e(sig.as_ref()));
        assert!(validate(&good, std::slice::from_ref(&key), &Expected::default(), 0).is_ok());
        let bad = format!("{input}.{}", e(b"nope"));
        assert!(matches!(
            validate(&bad, &[key], &Expected::default(), 0),
            Err(JwtError::Signature(_))
        ));
    }
}
