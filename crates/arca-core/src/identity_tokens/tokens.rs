//! `identity/oidc/token/<role>` (a signed identity token for the caller's entity),
//! `oidc/introspect`, and the unauthenticated `oidc/.well-known/openid-configuration` and
//! `oidc/.well-known/keys`.

use std::sync::Arc;

use arca_sdk::framework::{Field, FieldData, FieldType, PathDef};
use arca_sdk::{JsonMap, LogicalError, Operation, RawHttp, Request, Response, Storage};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Map, Value, json};

use super::keys::{self, SUPPORTED_ALGS};
use super::named_keys;
use super::roles::{self, RESERVED_CLAIMS, ROLE_PREFIX};
use super::{IdentityTokens, name_field, named, now_unix, with};
use crate::identity_template::{self, Mode, TemplateInput};

/// go-jose's default leeway for `exp` and `iat`, seconds.
const LEEWAY: i64 = 60;

pub(super) fn token_path(state: &Arc<IdentityTokens>) -> PathDef {
    PathDef::new(named("oidc/token"))
        .field(name_field("role"))
        .op(Operation::Read, with(state, token))
        .help(
            "Generate an OIDC token",
            "A JWT signed by the role's key, for the entity of the calling token.",
        )
}

pub(super) fn introspect_path(state: &Arc<IdentityTokens>) -> PathDef {
    PathDef::new("oidc/introspect/?")
        .field(Field::new(
            "token",
            FieldType::String,
            "The token to check.",
        ))
        .field(Field::new(
            "client_id",
            FieldType::String,
            "The client ID the token must be issued to (optional).",
        ))
        .op(Operation::Update, with(state, introspect))
        .help(
            "Verify the authenticity of an OIDC token",
            "Whether a token is active: signed by a current key, unexpired, for a live entity.",
        )
}

pub(super) fn discovery_path(state: &Arc<IdentityTokens>) -> PathDef {
    PathDef::new("oidc/\\.well-known/openid-configuration/?")
        .op(Operation::Read, with(state, discovery))
        .help(
            "Query OIDC configurations",
            "The OIDC discovery document of identity tokens.",
        )
}

pub(super) fn keys_path(state: &Arc<IdentityTokens>) -> PathDef {
    PathDef::new("oidc/\\.well-known/keys/?")
        .op(Operation::Read, with(state, jwks))
        .help(
            "Retrieve public keys",
            "The public keys of every key a role uses: current, next and rotated-out ones that \
             still verify.",
        )
}

/// A raw JSON answer (200), with a `Cache-Control` when given.
pub(super) fn raw_json(body: &Value, cache_control: Option<String>) -> Response {
    let mut resp = Response {
        raw: Some(RawHttp {
            status: 200,
            content_type: "application/json".into(),
            body: body.to_string().into_bytes(),
            stream: None,
        }),
        ..Response::default()
    };
    if let Some(cc) = cache_control {
        resp.headers.insert("Cache-Control".into(), vec![cc]);
    }
    resp
}

async fn token(
    state: Arc<IdentityTokens>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?.as_ref();
    let role_name = d.get_str("name")?;
    let Some(role) = roles::load(storage, &role_name).await? else {
        return Err(LogicalError::bad_request(format!(
            "role {role_name:?} not found"
        )));
    };
    state.upkeep_if_due(&req).await?;
    let Some(key) = named_keys::load(storage, &role.key).await? else {
        return Err(LogicalError::bad_request(format!(
            "key {:?} not found",
            role.key
        )));
    };
    if !key.allows(&role.client_id) {
        return Err(LogicalError::bad_request(format!(
            "the key {:?} does not list the client ID of the role {role_name:?} as an allowed \
             client ID",
            role.key
        )));
    }
    if req.entity_id.is_empty() {
        return Err(LogicalError::bad_request(
            "no entity associated with the request's token",
        ));
    }
    let issuer = state.issuer(&req).await?;
    let mut resp = Response::default();
    let mut expiry = role.ttl;
    if expiry > key.verification_ttl {
        expiry = key.verification_ttl;
        resp.warn(format!(
            "a role's token ttl cannot be longer than the verification_ttl of the key it \
             references, setting token ttl to {expiry}"
        ));
    }
    let Some(view) = state.entity(&req.entity_id) else {
        return Err(LogicalError::internal(format!(
            "error loading entity ID {:?}",
            req.entity_id
        )));
    };
    let now = now_unix();
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(issuer));
    claims.insert("namespace".into(), json!(req.namespace_id));
    claims.insert("sub".into(), json!(req.entity_id));
    claims.insert("aud".into(), json!(role.client_id));
    claims.insert(
        "exp".into(),
        json!(now + i64::try_from(expiry).unwrap_or(i64::MAX / 2)),
    );
    claims.insert("iat".into(), json!(now));
    // A template that no longer fills leaves the basic token (OpenBao logs and goes on).
    match identity_template::populate(
        &role.template,
        &TemplateInput {
            entity: Some(&view.entity),
            groups: &view.groups,
            namespace_id: &req.namespace_id,
            now,
            mode: Mode::Json,
        },
    ) {
        Ok((_, filled)) if !filled.is_empty() => {
            match serde_json::from_str::<Map<String, Value>>(&filled) {
                Ok(extra) => {
                    for (k, v) in extra {
                        if !RESERVED_CLAIMS.contains(&k.as_str()) {
                            claims.insert(k, v);
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(role = %role_name, error = %e, "identity token template is not JSON")
                }
            }
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(role = %role_name, error = %e, "error populating identity token template")
        }
    }
    let Some(signing) = key.signing_key.as_ref() else {
        return Err(LogicalError::internal(
            "error signing OIDC token: signing key is nil; rotate the key and try again",
        ));
    };
    let payload = Value::Object(claims).to_string();
    let jwt = keys::sign(signing, payload.as_bytes())?;
    let mut data = JsonMap::new();
    data.insert("token".into(), json!(jwt));
    data.insert("client_id".into(), json!(role.client_id));
    data.insert("ttl".into(), json!(role.ttl));
    resp.data = Some(data);
    Ok(Some(resp))
}

/// The public JWKs of every key some role uses.
async fn role_jwks(storage: &dyn Storage) -> Result<Vec<Value>, LogicalError> {
    let mut key_names = std::collections::BTreeSet::new();
    for role_name in storage.list(ROLE_PREFIX).await? {
        if let Some(role) = roles::load(storage, &role_name).await? {
            key_names.insert(role.key);
        }
    }
    named_keys::public_jwks(storage, &key_names).await
}

async fn jwks(
    state: Arc<IdentityTokens>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?.as_ref();
    let next_change = state.upkeep_if_due(&req).await?;
    let keys = role_jwks(storage).await?;
    let until_change = (next_change - now_unix()).max(0);
    let cache = (!keys.is_empty()).then(|| format!("max-age={until_change}"));
    Ok(Some(raw_json(&json!({"keys": keys}), cache)))
}

async fn discovery(
    state: Arc<IdentityTokens>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let issuer = state.issuer(&req).await?;
    let doc = json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/keys"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": SUPPORTED_ALGS,
    });
    Ok(Some(raw_json(&doc, Some("max-age=3600".into()))))
}

fn introspection(error: Option<String>) -> Response {
    let body = match error {
        None => json!({"active": true}),
        Some(e) => json!({"active": false, "error": e}),
    };
    raw_json(&body, None)
}

/// The header, claims and signed parts of a compact JWS, or go-jose's complaint.
fn parse_jws(token: &str) -> Result<(Value, Value, &str, Vec<u8>), String> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, claims, sig] = parts.as_slice() else {
        return Err("go-jose/go-jose: compact JWS format must have three parts".into());
    };
    let decode = |s: &str| B64.decode(s).map_err(|e| e.to_string());
    let header_json: Value = serde_json::from_slice(&decode(header)?).map_err(|e| e.to_string())?;
    let alg = header_json.get("alg").and_then(Value::as_str).unwrap_or("");
    if !SUPPORTED_ALGS.contains(&alg) {
        return Err(format!(
            "go-jose/go-jose: unexpected signature algorithm \"{alg}\"; expected {SUPPORTED_ALGS:?}"
        ));
    }
    let claims_json: Value = serde_json::from_slice(&decode(claims)?).map_err(|e| e.to_string())?;
    let signed_len = header.len() + 1 + claims.len();
    let signed = token.get(..signed_len).unwrap_or_default();
    Ok((header_json, claims_json, signed, decode(sig)?))
}

/// go-jose's claim checks, in its order, with its texts.
fn check_claims(claims: &Value, issuer: &str, client_id: &str, now: i64) -> Result<(), String> {
    const PREFIX: &str = "go-jose/go-jose/jwt: validation";
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(format!("{PREFIX} failed, invalid issuer claim (iss)"));
    }
    if !client_id.is_empty() {
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => a == client_id,
            Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(client_id)),
            _ => false,
        };
        if !aud_ok {
            return Err(format!("{PREFIX} failed, invalid audience claim (aud)"));
        }
    }
    if let Some(nbf) = claims.get("nbf").and_then(Value::as_i64)
        && now + LEEWAY < nbf
    {
        return Err(format!("{PREFIX} failed, token not valid yet (nbf)"));
    }
    if let Some(exp) = claims.get("exp").and_then(Value::as_i64)
        && now - LEEWAY > exp
    {
        return Err(format!("{PREFIX} failed, token is expired (exp)"));
    }
    if let Some(iat) = claims.get("iat").and_then(Value::as_i64)
        && now + LEEWAY < iat
    {
        return Err(format!("{PREFIX} field, token issued in the future (iat)"));
    }
    Ok(())
}

async fn introspect(
    state: Arc<IdentityTokens>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?.as_ref();
    let token = d.get_str("token")?;
    let client_id = d.get_str("client_id")?;
    let (header, claims, signed, sig) = match parse_jws(&token) {
        Ok(p) => p,
        Err(e) => {
            return Ok(Some(introspection(Some(format!(
                "error parsing token: {e}"
            )))));
        }
    };
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    state.upkeep_if_due(&req).await?;
    let jwks = role_jwks(storage).await?;
    if !jwks
        .iter()
        .any(|jwk| keys::verify(jwk, alg, signed.as_bytes(), &sig))
    {
        return Ok(Some(introspection(Some(
            "unable to validate the token signature".into(),
        ))));
    }
    let issuer = state.issuer(&req).await?;
    if let Err(e) = check_claims(&claims, &issuer, &client_id, now_unix()) {
        return Ok(Some(introspection(Some(format!(
            "error validating claims: {e}"
        )))));
    }
    let subject = claims.get("sub").and_then(Value::as_str).unwrap_or("");
    let error = match state.entity(subject) {
        None => Some("entity was not found".to_string()),
        Some(v) if v.disabled => Some("entity is disabled".to_string()),
        Some(_) => None,
    };
    Ok(Some(introspection(error)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_tokens_get_go_joses_texts() {
        assert_eq!(
            parse_jws("abc").expect_err("refused"),
            "go-jose/go-jose: compact JWS format must have three parts"
        );
        let none = format!("{}.{}.", B64.encode(r#"{"alg":"none"}"#), B64.encode("{}"));
        assert!(
            parse_jws(&none)
                .expect_err("refused")
                .contains("unexpected signature algorithm")
        );
    }

    #[test]
    fn claims_are_checked_in_go_joses_order() {
        let claims = json!({"iss": "I", "aud": "A", "exp": 1000, "iat": 900});
        assert_eq!(check_claims(&claims, "I", "A", 950), Ok(()));
        assert!(
            check_claims(&claims, "X", "A", 950)
                .expect_err("issuer")
                .ends_with("invalid issuer claim (iss)")
        );
        assert!(
            check_claims(&claims, "I", "B", 950)
                .expect_err("audience")
                .ends_with("invalid audience claim (aud)")
        );
        assert_eq!(check_claims(&claims, "I", "", 1050), Ok(()), "leeway");
        assert!(
            check_claims(&claims, "I", "", 1061)
                .expect_err("expired")
                .ends_with("token is expired (exp)")
        );
    }
}
