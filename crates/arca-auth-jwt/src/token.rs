//! A JWT's validation as OpenBao's `cap/jwt` validator does it, in its order and with its
//! error texts: the signature (by the configured keys), the `alg` header against the
//! supported algorithms, then `iss`, `sub`, `aud`, and the time claims with their leeways.
//!
//! On time: a token needs at least one of `exp`, `nbf`, `iat` (OpenBao refuses one with
//! none). A missing `exp` is taken as the later of `iat`/`nbf` plus the expiration leeway, a
//! missing `nbf` as `iat` (or `exp` minus the not-before leeway), exactly as OpenBao; a time
//! claim that is present but not a number is refused, never taken as absent.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::config::{JwtConfig, KeySource};
use crate::keys::VerifyKey;
use crate::keystore::KeyStore;
use arca_sdk::JsonMap;

/// The algorithms OpenBao accepts when `jwt_supported_algs` is empty.
const DEFAULT_ALGS: [&str; 10] = [
    "ES256", "ES384", "ES512", "EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
];
/// cap's default leeway for a missing `exp`/`nbf` (seconds).
const DEFAULT_LEEWAY: i64 = 150;
/// go-jose's default clock skew leeway (seconds).
const DEFAULT_SKEW: i64 = 60;

/// A JWS in compact form, split; the signature is checked before the payload is trusted.
pub(crate) struct Compact {
    /// The `alg` header.
    pub alg: String,
    /// The `kid` header, empty when absent.
    pub kid: String,
    signing_input: Zeroizing<String>,
    signature: String,
    payload: Zeroizing<Vec<u8>>,
}

impl Compact {
    /// Splits `token`; errors read as go-jose's.
    pub fn parse(token: &str) -> Result<Compact, String> {
        let parts: Vec<&str> = token.split('.').collect();
        if parts.len() != 3 {
            return Err("go-jose/go-jose: compact JWS format must have three parts".into());
        }
        let header = URL_SAFE_NO_PAD
            .decode(parts[0])
            .map_err(|_| "illegal base64 data in JWS header".to_string())?;
        let header: JsonMap = serde_json::from_slice(&header)
            .map_err(|_| "go-jose/go-jose: invalid JWS header".to_string())?;
        let payload = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(parts[1])
                .map_err(|_| "illegal base64 data in JWS payload".to_string())?,
        );
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        Ok(Compact {
            alg,
            kid,
            signing_input: Zeroizing::new(format!("{}.{}", parts[0], parts[1])),
            signature: parts[2].to_string(),
            payload,
        })
    }

    /// Whether `key` made the signature, with the `alg` the header names.
    pub fn verified_by(&self, key: &VerifyKey) -> bool {
        !self.signature.is_empty()
            && key.verifies(&self.alg, self.signing_input.as_bytes(), &self.signature)
    }

    fn claims(&self) -> Result<JsonMap, String> {
        serde_json::from_slice(&self.payload).map_err(|e| format!("json: {e}"))
    }
}

/// What a token must carry, from the config and role.
pub(crate) struct Expected<'a> {
    /// `bound_issuer` (empty: any).
    pub issuer: &'a str,
    /// `bound_subject` (empty: any).
    pub subject: &'a str,
    /// `bound_audiences` (empty: any).
    pub audiences: &'a [String],
    /// Leeways in seconds (0: default, negative: none).
    pub not_before_leeway: i64,
    /// See `not_before_leeway`.
    pub expiration_leeway: i64,
    /// See `not_before_leeway`.
    pub clock_skew_leeway: i64,
}

/// Validates `token` against `config`'s keys and `expected`; answers all its claims, or
/// the reason it is refused (without OpenBao's `error validating token: ` prefix).
pub(crate) async fn validate(
    keys: &KeyStore,
    config: &JwtConfig,
    token: &str,
    expected: &Expected<'_>,
) -> Result<JsonMap, String> {
    let remote = config.key_source() != KeySource::Static;
    let sig_err = |e: String| format!("error verifying token signature: {e}");
    let t = Compact::parse(token).map_err(|e| {
        if remote {
            sig_err(format!("oidc: malformed jwt: {e}"))
        } else {
            sig_err(e)
        }
    })?;
    keys.verify(config, &t).await.map_err(sig_err)?;
    let claims = t.claims()?;
    check_alg(&t.alg, &config.jwt_supported_algs)
        .map_err(|e| format!("invalid algorithm (alg) header parameter: {e}"))?;
    check_claims(&claims, expected, now_secs())?;
    Ok(claims)
}

fn check_alg(alg: &str, supported: &[String]) -> Result<(), String> {
    let ok = if supported.is_empty() {
        DEFAULT_ALGS.contains(&alg)
    } else {
        supported.iter().any(|s| s == alg)
    };
    if ok {
        Ok(())
    } else {
        Err("token signed with unexpected algorithm".into())
    }
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    }
}

/// A registered string claim (`iss`, `sub`, `jti`): absent/null is empty.
fn string_claim(claims: &JsonMap, name: &str) -> Result<String, String> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(v) => Err(format!(
            "json: cannot unmarshal {} into Go struct field Claims.{name} of type string",
            json_kind(v)
        )),
    }
}

/// A NumericDate claim: absent/null is 0; anything but a number is refused.
fn date_claim(claims: &JsonMap, name: &str) -> Result<i64, String> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => {
            let f = n.as_f64().unwrap_or(0.0);
            #[allow(clippy::cast_possible_truncation)]
            Ok(f as i64)
        }
        Some(_) => {
            Err("go-jose/go-jose/jwt: expected number value to unmarshal NumericDate".into())
        }
    }
}

/// The `aud` claim as a list (a single string counts as one).
pub(crate) fn audience(claims: &JsonMap) -> Result<Vec<String>, String> {
    const BAD: &str =
        "go-jose/go-jose/jwt: expected string or array value to unmarshal to Audience";
    match claims.get("aud") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| BAD.to_string())
            })
            .collect(),
        Some(_) => Err(BAD.into()),
    }
}

fn leeway(v: i64, default: i64) -> i64 {
    match v {
        v if v < 0 => 0,
        0 => default,
        v => v,
    }
}

/// cap's claim checks, in its order; `now` in seconds since the epoch.
pub(crate) fn check_claims(claims: &JsonMap, e: &Expected<'_>, now: f64) -> Result<(), String> {
    let iss = string_claim(claims, "iss")?;
    let sub = string_claim(claims, "sub")?;
    string_claim(claims, "jti")?;
    let aud = audience(claims)?;
    let mut exp = date_claim(claims, "exp")?;
    let mut nbf = date_claim(claims, "nbf")?;
    let iat = date_claim(claims, "iat")?;
    if !e.issuer.is_empty() && e.issuer != iss {
        return Err("invalid issuer (iss) claim".into());
    }
    if !e.subject.is_empty() && e.subject != sub {
        return Err("invalid subject (sub) claim".into());
    }
    if !e.audiences.is_empty() && !e.audiences.iter().any(|a| aud.contains(a)) {
        return Err(
            "invalid audience (aud) claim: audience claim does not match any expected audience"
                .into(),
        );
    }
    if iat == 0 && exp == 0 && nbf == 0 {
        return Err(
            "no issued at (iat), not before (nbf), or expiration time (exp) claims in token".into(),
        );
    }
    if exp == 0 {
        exp = iat.max(nbf) + leeway(e.expiration_leeway, DEFAULT_LEEWAY);
    }
    if nbf == 0 {
        nbf = if iat != 0 {
            iat
        } else {
            exp - leeway(e.not_before_leeway, DEFAULT_LEEWAY)
        };
    }
    #[allow(clippy::cast_precision_loss)]
    let (skew, nbf, exp, iat) = (
        leeway(e.clock_skew_leeway, DEFAULT_SKEW) as f64,
        nbf as f64,
        exp as f64,
        iat as f64,
    );
    if now + skew < nbf {
        return Err("invalid not before (nbf) claim: token not yet valid".into());
    }
    if now - skew > exp {
        return Err("invalid expiration time (exp) claim: token is expired".into());
    }
    if now + skew < iat {
        return Err("invalid issued at (iat) claim: token issued in the future".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(claims: Value) -> Result<(), String> {
        let e = Expected {
            issuer: "",
            subject: "",
            audiences: &[],
            not_before_leeway: 0,
            expiration_leeway: 0,
            clock_skew_leeway: 0,
        };
        let Value::Object(m) = claims else {
            panic!("object")
        };
        check_claims(&m, &e, 10_000.0)
    }

    #[test]
    fn time_rules_follow_openbao() {
        assert!(check(json!({"exp": 10_100, "iat": 9_000})).is_ok());
        assert!(check(json!({})).unwrap_err().starts_with("no issued at"));
        // Only a distant exp: nbf becomes exp - 150, not yet valid.
        assert!(
            check(json!({"exp": 20_000}))
                .unwrap_err()
                .contains("not yet valid")
        );
        // Only iat: exp becomes iat + 150 (+60 skew).
        assert!(check(json!({"iat": 9_900})).is_ok());
        assert!(
            check(json!({"iat": 9_000}))
                .unwrap_err()
                .contains("expired")
        );
        // Malformed time claims are refused, never treated as absent.
        assert!(
            check(json!({"exp": "soon", "iat": 9_990}))
                .unwrap_err()
                .contains("NumericDate")
        );
        assert!(
            check(json!({"nbf": true, "iat": 9_990}))
                .unwrap_err()
                .contains("NumericDate")
        );
    }
}
