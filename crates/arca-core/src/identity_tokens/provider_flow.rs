//! The OIDC provider's flows: `authorize` (a signed-in entity gets a one-time code for a
//! client), `token` (the client trades the code, with its secret or PKCE verifier, for an ID
//! token and an access token; or, with client credentials, for a signed access token) and
//! `userinfo` (the access token's entity's claims). Errors are OAuth's JSON answers with
//! OpenBao's texts.
//!
//! Access tokens are batch tokens without policies; the client, the entity and the scopes ride
//! in the token's metadata, and `userinfo` checks the token itself (OpenBao gives the token an
//! inline policy for that one path instead).

use std::collections::BTreeMap;
use std::sync::Arc;

use arca_sdk::framework::{Field, FieldData, FieldType, PathDef};
use arca_sdk::{LogicalError, Operation, RawHttp, Request, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::clients::{self, Client};
use super::providers::{self, Provider};
use super::scopes::{self, OPENID};
use super::{
    EntityView, IdentityTokens, assignments, keys, name_field, named, named_keys, now_unix, with,
};
use crate::identity_template::{self, Mode, TemplateInput};
use crate::token_store::TokenEntry;

/// How long an authorization code can be redeemed, seconds (OpenBao: five minutes).
const CODE_TTL: i64 = 300;
const META_TYPE: &str = "oidc_token_type";
const META_CLIENT: &str = "oidc_client_id";
const META_ENTITY: &str = "oidc_entity_id";
const META_SCOPES: &str = "oidc_scopes";

/// A code handed out by `authorize`, waiting to be redeemed once.
#[derive(Clone)]
pub(super) struct AuthCode {
    provider: String,
    client_id: String,
    entity_id: String,
    redirect_uri: String,
    nonce: String,
    scopes: Vec<String>,
    auth_time: i64,
    code_challenge: String,
    code_challenge_method: String,
    pub(super) expires_at: i64,
}

pub(super) fn authorize_path(state: &Arc<IdentityTokens>) -> PathDef {
    let p = PathDef::new(format!("{}/authorize", named("oidc/provider")))
        .field(name_field("provider"))
        .field(Field::new("client_id", FieldType::String, "The ID of the requesting client.").required())
        .field(Field::new("scope", FieldType::String, "A space-delimited list of scopes; must contain openid.").required())
        .field(Field::new("redirect_uri", FieldType::String, "The redirection URI to which the response will be sent.").required())
        .field(Field::new("response_type", FieldType::String, "The OIDC authentication flow to be used (code).").required())
        .field(Field::new("state", FieldType::String, "A value used to maintain state between the authentication request and client callback."))
        .field(Field::new("nonce", FieldType::String, "The value that will be returned in the ID token nonce claim."))
        .field(Field::new("max_age", FieldType::Int, "The allowable elapsed time in seconds since the last time the end-user was actively authenticated."))
        .field(Field::new("code_challenge", FieldType::String, "The PKCE code challenge derived from the code verifier."))
        .field(
            Field::new("code_challenge_method", FieldType::String, "The method used to derive the code challenge (plain or S256).")
                .default_value(json!("plain")),
        )
        .field(Field::new("request", FieldType::String, "Not supported."))
        .field(Field::new("request_uri", FieldType::String, "Not supported."));
    p.op(Operation::Read, with(state, authorize))
        .op(Operation::Update, with(state, authorize))
        .help(
            "Provides the OIDC Authorization Endpoint.",
            "Provides the OIDC Authorization Endpoint.",
        )
}

pub(super) fn token_path(state: &Arc<IdentityTokens>) -> PathDef {
    PathDef::new(format!("{}/token", named("oidc/provider")))
        .field(name_field("provider"))
        .field(
            Field::new(
                "grant_type",
                FieldType::String,
                "authorization_code or client_credentials.",
            )
            .required(),
        )
        .field(
            Field::new(
                "code",
                FieldType::String,
                "The authorization code received from the provider's authorization endpoint.",
            )
            .required(),
        )
        .field(
            Field::new(
                "redirect_uri",
                FieldType::String,
                "The callback location where the authentication response was sent.",
            )
            .required(),
        )
        .field(Field::new(
            "code_verifier",
            FieldType::String,
            "The PKCE code verifier.",
        ))
        .field(Field::new(
            "client_id",
            FieldType::String,
            "The ID of the requesting client.",
        ))
        .field(Field::new(
            "client_secret",
            FieldType::String,
            "The secret of the requesting client.",
        ))
        .field(
            Field::new(
                "scope",
                FieldType::String,
                "Scopes, for the client credentials flow.",
            )
            .required(),
        )
        .op(Operation::Update, with(state, token))
        .help(
            "Provides the OIDC Token Endpoint.",
            "Provides the OIDC Token Endpoint.",
        )
}

pub(super) fn userinfo_path(state: &Arc<IdentityTokens>) -> PathDef {
    PathDef::new(format!("{}/userinfo", named("oidc/provider")))
        .field(name_field("provider"))
        .op(Operation::Read, with(state, userinfo))
        .op(Operation::Update, with(state, userinfo))
        .help(
            "Provides the OIDC UserInfo Endpoint.",
            "Provides the OIDC UserInfo Endpoint.",
        )
}

fn raw(status: u16, body: &Value, headers: &[(&str, String)]) -> Response {
    let mut resp = Response {
        raw: Some(RawHttp {
            status,
            content_type: "application/json".into(),
            body: body.to_string().into_bytes(),
            stream: None,
        }),
        ..Response::default()
    };
    for (k, v) in headers {
        resp.headers.insert((*k).to_string(), vec![v.clone()]);
    }
    resp
}

fn auth_error(state: &str, code: &str, description: &str) -> Response {
    let status = if code == "server_error" { 500 } else { 400 };
    raw(
        status,
        &json!({"error": code, "error_description": description, "state": state}),
        &[],
    )
}

fn token_error(code: &str, description: &str) -> Response {
    let status = match code {
        "invalid_client" => 401,
        "server_error" => 500,
        _ => 400,
    };
    let mut headers = vec![
        ("Cache-Control", "no-store".to_string()),
        ("Pragma", "no-cache".to_string()),
    ];
    if code == "invalid_client" {
        headers.push(("WWW-Authenticate", "Basic".into()));
    }
    raw(
        status,
        &json!({"error": code, "error_description": description}),
        &headers,
    )
}

fn userinfo_error(code: &str, description: &str) -> Response {
    let status = match code {
        "invalid_request" => 400,
        "invalid_token" => 401,
        "access_denied" => 403,
        _ => 500,
    };
    let mut headers = Vec::new();
    if code == "invalid_request" || code == "invalid_token" {
        headers.push((
            "WWW-Authenticate",
            format!("Bearer error={code:?},error_description={description:?}"),
        ));
    }
    raw(
        status,
        &json!({"error": code, "error_description": description}),
        &headers,
    )
}

/// The host of a URI's authority (no user info, no port, IPv6 brackets removed) and the URI
/// with the port dropped; `None` when it is not `scheme://authority…`.
fn without_port(uri: &str) -> Option<(String, String)> {
    let (scheme, rest) = uri.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split_once(']').map(|(h, _)| h)?
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    let shown = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    Some((host.to_string(), format!("{scheme}://{shown}{tail}")))
}

/// OpenBao's `validRedirect`: an exact match, or for a loopback address a match in any port.
fn valid_redirect(uri: &str, allowed: &[String]) -> bool {
    let Some((host, bare)) = without_port(uri) else {
        return false;
    };
    if !["localhost", "127.0.0.1", "::1"].contains(&host.as_str()) {
        return allowed.iter().any(|a| a == uri);
    }
    allowed
        .iter()
        .any(|a| without_port(a).is_some_and(|(_, b)| b == bare))
}

/// The requested scopes the provider supports, without `openid`; `None` when `openid` is
/// missing.
fn requested_scopes(raw: &str, provider: &Provider) -> Option<Vec<String>> {
    let mut requested: Vec<String> = raw
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    requested.sort();
    requested.dedup();
    if !requested.iter().any(|s| s == OPENID) {
        return None;
    }
    Some(
        requested
            .into_iter()
            .filter(|s| s != OPENID && provider.scopes_supported.contains(s))
            .collect(),
    )
}

/// Whether `entity` may use a client with `client_assignments` (a disabled entity never).
async fn entity_assigned(
    storage: &dyn arca_sdk::Storage,
    view: &EntityView,
    client_assignments: &[String],
) -> Result<bool, String> {
    if view.disabled {
        return Ok(false);
    }
    if client_assignments
        .iter()
        .any(|a| a == assignments::ALLOW_ALL)
    {
        return Ok(true);
    }
    for name in client_assignments {
        let a = assignments::load(storage, name)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("client assignment {name:?} not found"))?;
        if view.groups.iter().any(|g| a.group_ids.contains(&g.id))
            || a.entity_ids.contains(&view.entity.id)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The filled templates of `scopes` for `entity` (none for client credentials); a claim two
/// scopes both set is an error (`Err(true, …)`), other failures `Err(false, …)`.
async fn scope_claims(
    storage: &dyn arca_sdk::Storage,
    scopes: &[String],
    view: Option<&EntityView>,
    namespace_id: &str,
) -> Result<Map<String, Value>, (bool, String)> {
    let mut out = Map::new();
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    for name in scopes {
        let Some(scope) = scopes::load(storage, name)
            .await
            .map_err(|e| (false, e.to_string()))?
        else {
            continue;
        };
        let filled = identity_template::populate(
            &scope.template,
            &TemplateInput {
                entity: view.map(|v| &v.entity),
                groups: view.map_or(&[], |v| v.groups.as_slice()),
                namespace_id,
                now: now_unix(),
                mode: Mode::Json,
            },
        );
        let filled = match filled {
            Ok((_, f)) => f,
            Err(e) => {
                tracing::warn!(scope = %name, error = %e, "error populating OIDC scope template");
                continue;
            }
        };
        if filled.is_empty() {
            continue;
        }
        let Ok(claims) = serde_json::from_str::<Map<String, Value>>(&filled) else {
            continue;
        };
        for (k, v) in claims {
            if let Some(other) = owner.get(&k) {
                return Err((
                    true,
                    format!(
                        "found scopes with conflicting top-level claim: claim {k:?} in scopes {name:?}, {other:?}"
                    ),
                ));
            }
            owner.insert(k.clone(), name.clone());
            if !super::roles::RESERVED_CLAIMS.contains(&k.as_str()) {
                out.insert(k, v);
            }
        }
    }
    Ok(out)
}

async fn authorize(
    state: Arc<IdentityTokens>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let st = d.get_str("state")?;
    let fail = |code: &str, desc: &str| Ok(Some(auth_error(&st, code, desc)));
    let storage = req.storage()?.as_ref();
    let client_id = d.get_str("client_id")?;
    if client_id.is_empty() {
        return fail("invalid_client_id", "client_id parameter is required");
    }
    let Some(client) = clients::by_client_id(&state, &req, &client_id).await? else {
        return fail("invalid_client_id", "client with client_id not found");
    };
    if !client.authorization_code_flow() {
        return fail(
            "invalid_grant",
            "client not allowed to perform authorization code credential flow",
        );
    }
    let redirect_uri = d.get_str("redirect_uri")?;
    if redirect_uri.is_empty() {
        return fail("invalid_request", "redirect_uri parameter is required");
    }
    if !valid_redirect(&redirect_uri, &client.redirect_uris) {
        return fail(
            "invalid_redirect_uri",
            "redirect_uri is not allowed for the client",
        );
    }
    let name = d.get_str("name")?;
    providers::ensure_default(storage).await?;
    let Some(provider) = providers::load(storage, &name).await? else {
        return fail("invalid_request", "provider not found");
    };
    if !provider.allows(&client_id) {
        return fail(
            "unauthorized_client",
            "client is not authorized to use the provider",
        );
    }
    if d.is_set("request") {
        return Ok(Some(auth_error(
            "",
            "request_not_supported",
            "request parameter is not supported",
        )));
    }
    if d.is_set("request_uri") {
        return Ok(Some(auth_error(
            "",
            "request_uri_not_supported",
            "request_uri parameter is not supported",
        )));
    }
    let Some(scopes) = requested_scopes(&d.get_str("scope")?, &provider) else {
        return fail(
            "invalid_request",
            "scope parameter must contain the \"openid\" value",
        );
    };
    let response_type = d.get_str("response_type")?;
    if response_type.is_empty() {
        return fail("invalid_request", "response_type parameter is required");
    }
    if response_type != "code" {
        return fail(
            "unsupported_response_type",
            "unsupported response_type value",
        );
    }
    if req.entity_id.is_empty() {
        return fail(
            "access_denied",
            "identity entity must be associated with the request",
        );
    }
    let Some(view) = state.entity(&req.entity_id) else {
        return fail(
            "access_denied",
            "identity entity associated with the request not found",
        );
    };
    match entity_assigned(storage, &view, &client.assignments).await {
        Ok(true) => {}
        Ok(false) => {
            return fail(
                "access_denied",
                "identity entity not authorized by client assignment",
            );
        }
        Err(e) => return fail("server_error", &e),
    }
    let mut code_entry = AuthCode {
        provider: name,
        client_id: client_id.clone(),
        entity_id: view.entity.id.clone(),
        redirect_uri,
        nonce: d.get_str("nonce")?,
        scopes,
        auth_time: 0,
        code_challenge: String::new(),
        code_challenge_method: String::new(),
        expires_at: now_unix() + CODE_TTL,
    };
    if !d.is_set("code_challenge") && client.is_public() {
        return fail("invalid_request", "PKCE is required for public clients");
    }
    if d.is_set("code_challenge") {
        let challenge = d.get_str("code_challenge")?;
        let method = match d.get_str("code_challenge_method")?.as_str() {
            "" | "plain" => "plain",
            "S256" => "S256",
            _ => return fail("invalid_request", "invalid code_challenge_method"),
        };
        if !(43..=128).contains(&challenge.len()) {
            return fail("invalid_request", "invalid code_challenge");
        }
        code_entry.code_challenge = challenge;
        code_entry.code_challenge_method = method.into();
    }
    if d.is_set("max_age") {
        let max_age = d.get_i64("max_age")?;
        if max_age < 1 {
            return fail("invalid_request", "max_age must be greater than zero");
        }
        let token = req
            .client_token
            .as_ref()
            .map(|t| t.as_str())
            .unwrap_or_default();
        let Some(te) = state.token_entry(token).await? else {
            return fail("access_denied", "token associated with request not found");
        };
        if now_unix() - te.creation_time > max_age {
            return fail(
                "max_age_violation",
                "active re-authentication is required by max_age",
            );
        }
        code_entry.auth_time = te.creation_time;
    }
    let code = crate::random::random_base62(32);
    state.put_code(&req.namespace_id, &code, code_entry);
    Ok(Some(raw(200, &json!({"code": code, "state": st}), &[])))
}

/// The client ID and secret of `Authorization: Basic …`, when the request has one.
fn basic_auth(req: &Request) -> Option<(String, Zeroizing<String>)> {
    let header = req
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .and_then(|(_, v)| v.first())?;
    let (scheme, value) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = Zeroizing::new(STANDARD.decode(value.trim()).ok()?);
    let text = std::str::from_utf8(&decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), Zeroizing::new(secret.to_string())))
}

/// OIDC's `at_hash`/`c_hash`: the left half of the algorithm's hash, base64url.
fn hash_claim(alg: &str, input: &str) -> String {
    use aws_lc_rs::digest;
    let algorithm = match alg {
        "RS384" | "ES384" => &digest::SHA384,
        "RS512" | "ES512" | "EdDSA" => &digest::SHA512,
        _ => &digest::SHA256,
    };
    let sum = digest::digest(algorithm, input.as_bytes());
    let bytes = sum.as_ref();
    B64.encode(&bytes[..bytes.len() / 2])
}

fn code_challenge(verifier: &str, method: &str) -> String {
    if method == "S256" {
        let sum = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
        B64.encode(sum.as_ref())
    } else {
        verifier.to_string()
    }
}

async fn token(
    state: Arc<IdentityTokens>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?.as_ref();
    let name = d.get_str("name")?;
    providers::ensure_default(storage).await?;
    let Some(provider) = providers::load(storage, &name).await? else {
        return Ok(Some(token_error("invalid_request", "provider not found")));
    };
    let (client_id, secret) = match basic_auth(&req) {
        Some(pair) => pair,
        None => {
            let id = d.get_str("client_id")?;
            if id.is_empty() {
                return Ok(Some(token_error(
                    "invalid_request",
                    "client_id parameter is required",
                )));
            }
            (id, Zeroizing::new(d.get_str("client_secret")?))
        }
    };
    let Some(client) = clients::by_client_id(&state, &req, &client_id).await? else {
        return Ok(Some(token_error(
            "invalid_client",
            "client failed to authenticate",
        )));
    };
    if !client.is_public() && !bool::from(client.client_secret.as_bytes().ct_eq(secret.as_bytes()))
    {
        return Ok(Some(token_error(
            "invalid_client",
            "client failed to authenticate",
        )));
    }
    if !provider.allows(&client_id) {
        return Ok(Some(token_error(
            "invalid_client",
            "client is not authorized to use the provider",
        )));
    }
    state.upkeep_if_due(&req).await?;
    let Some(key) = named_keys::load(storage, &client.key).await? else {
        return Ok(Some(token_error(
            "server_error",
            &format!("client key {:?} not found", client.key),
        )));
    };
    if !key.allows(&client_id) {
        return Ok(Some(token_error(
            "invalid_client",
            "client is not authorized to use the key",
        )));
    }
    let grant = d.get_str("grant_type")?;
    let allowed = match grant.as_str() {
        "authorization_code" => client.authorization_code_flow(),
        "client_credentials" => client.client_credentials,
        _ => {
            return Ok(Some(token_error(
                "unsupported_grant_type",
                "unsupported grant_type or parameter is empty value",
            )));
        }
    };
    if !allowed {
        return Ok(Some(token_error(
            "invalid_grant",
            "client is not authorized to use given credentials flow",
        )));
    }
    let Some(signing) = key.signing_key.clone() else {
        return Ok(Some(token_error(
            "server_error",
            "signing key is nil; rotate the key and try again",
        )));
    };
    let issuer = provider.effective_issuer(&state, &req, &name);
    if grant == "client_credentials" {
        return client_credentials(&req, &d, &provider, &client, &signing, issuer).await;
    }
    let code = d.get_str("code")?;
    if code.is_empty() {
        return Ok(Some(token_error(
            "invalid_request",
            "code parameter is required",
        )));
    }
    let Some(entry) = state.take_code(&req.namespace_id, &code) else {
        return Ok(Some(token_error(
            "invalid_grant",
            "authorization grant is invalid or expired",
        )));
    };
    if entry.client_id != client.client_id {
        return Ok(Some(token_error(
            "invalid_grant",
            "authorization code was not issued to the client",
        )));
    }
    if entry.provider != name {
        return Ok(Some(token_error(
            "invalid_grant",
            "authorization code was not issued by the provider",
        )));
    }
    let redirect_uri = d.get_str("redirect_uri")?;
    if redirect_uri.is_empty() {
        return Ok(Some(token_error(
            "invalid_request",
            "redirect_uri parameter is required",
        )));
    }
    if entry.redirect_uri != redirect_uri {
        return Ok(Some(token_error(
            "invalid_grant",
            "redirect_uri does not match the redirect_uri used in the authorization request",
        )));
    }
    let Some(view) = state.entity(&entry.entity_id) else {
        return Ok(Some(token_error(
            "invalid_request",
            "identity entity associated with the request not found",
        )));
    };
    match entity_assigned(storage, &view, &client.assignments).await {
        Ok(true) => {}
        Ok(false) => {
            return Ok(Some(token_error(
                "invalid_request",
                "identity entity not authorized by client assignment",
            )));
        }
        Err(e) => return Ok(Some(token_error("server_error", &e))),
    }
    let used_pkce = !entry.code_challenge.is_empty();
    let verifier = d.get_str("code_verifier")?;
    match (used_pkce, verifier.is_empty()) {
        (false, _) if client.is_public() => {
            return Ok(Some(token_error(
                "invalid_request",
                "PKCE is required for public clients",
            )));
        }
        (false, false) => {
            return Ok(Some(token_error(
                "invalid_request",
                "unexpected code_verifier for token exchange",
            )));
        }
        (true, true) => {
            return Ok(Some(token_error(
                "invalid_request",
                "expected code_verifier for token exchange",
            )));
        }
        (true, false) => {
            let computed = code_challenge(&verifier, &entry.code_challenge_method);
            if !bool::from(computed.as_bytes().ct_eq(entry.code_challenge.as_bytes())) {
                return Ok(Some(token_error(
                    "invalid_grant",
                    "invalid code_verifier for token exchange",
                )));
            }
        }
        (false, true) => {}
    }
    let meta = BTreeMap::from([
        (META_TYPE.to_string(), "access token".to_string()),
        (META_CLIENT.to_string(), client.client_id.clone()),
        (META_ENTITY.to_string(), entry.entity_id.clone()),
        (META_SCOPES.to_string(), entry.scopes.join(" ")),
    ]);
    let access_entry = TokenEntry {
        token_type: "batch".into(),
        namespace_id: req.namespace_id.clone(),
        path: req.path.clone(),
        ttl: client.access_token_ttl,
        meta,
        display_name: "oidc-access-token".into(),
        ..TokenEntry::default()
    };
    let access_token = state.create_token(access_entry).await?;
    let templates = match scope_claims(storage, &entry.scopes, Some(&view), &req.namespace_id).await
    {
        Ok(c) => c,
        Err((true, e)) => return Ok(Some(token_error("invalid_request", &e))),
        Err((false, e)) => return Ok(Some(token_error("server_error", &e))),
    };
    let now = now_unix();
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(issuer));
    claims.insert("namespace".into(), json!(req.namespace_id));
    claims.insert("sub".into(), json!(entry.entity_id));
    claims.insert("aud".into(), json!(entry.client_id));
    claims.insert(
        "exp".into(),
        json!(now + i64::try_from(client.id_token_ttl).unwrap_or(i64::MAX / 2)),
    );
    claims.insert("iat".into(), json!(now));
    if !entry.nonce.is_empty() {
        claims.insert("nonce".into(), json!(entry.nonce));
    }
    if entry.auth_time > 0 {
        claims.insert("auth_time".into(), json!(entry.auth_time));
    }
    claims.insert(
        "at_hash".into(),
        json!(hash_claim(&signing.alg, &access_token)),
    );
    claims.insert("c_hash".into(), json!(hash_claim(&signing.alg, &code)));
    claims.extend(templates);
    let id_token = keys::sign(&signing, Value::Object(claims).to_string().as_bytes())?;
    Ok(Some(raw(
        200,
        &json!({
            "token_type": "Bearer",
            "access_token": access_token.as_str(),
            "id_token": id_token,
            "expires_in": client.access_token_ttl,
        }),
        &[
            ("Cache-Control", "no-store".into()),
            ("Pragma", "no-cache".into()),
        ],
    )))
}

async fn client_credentials(
    req: &Request,
    d: &FieldData,
    provider: &Provider,
    client: &Client,
    signing: &keys::SigningKey,
    issuer: String,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?.as_ref();
    let Some(scopes) = requested_scopes(&d.get_str("scope")?, provider) else {
        return Ok(Some(token_error(
            "invalid_request",
            "scope parameter must contain the \"openid\" value",
        )));
    };
    let templates = match scope_claims(storage, &scopes, None, &req.namespace_id).await {
        Ok(c) => c,
        Err((true, e)) => return Ok(Some(token_error("invalid_request", &e))),
        Err((false, e)) => return Ok(Some(token_error("server_error", &e))),
    };
    let now = now_unix();
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(issuer));
    claims.insert("namespace".into(), json!(req.namespace_id));
    claims.insert("sub".into(), json!(client.client_id));
    claims.insert("aud".into(), json!(client.client_id));
    claims.insert(
        "exp".into(),
        json!(now + i64::try_from(client.id_token_ttl).unwrap_or(i64::MAX / 2)),
    );
    claims.insert("iat".into(), json!(now));
    claims.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));
    claims.extend(templates);
    let access_token = keys::sign(signing, Value::Object(claims).to_string().as_bytes())?;
    Ok(Some(raw(
        200,
        &json!({"token_type": "Bearer", "access_token": access_token, "expires_in": client.id_token_ttl}),
        &[
            ("Cache-Control", "no-store".into()),
            ("Pragma", "no-cache".into()),
        ],
    )))
}

async fn userinfo(
    state: Arc<IdentityTokens>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?.as_ref();
    let name = d.get_str("name")?;
    providers::ensure_default(storage).await?;
    let Some(provider) = providers::load(storage, &name).await? else {
        return Ok(Some(userinfo_error(
            "invalid_request",
            "provider not found",
        )));
    };
    let bearer = req
        .client_token
        .as_ref()
        .filter(|_| req.client_token_from_authorization)
        .cloned();
    let Some(bearer) = bearer else {
        return Ok(Some(userinfo_error(
            "invalid_token",
            "access token must be sent as a Bearer token",
        )));
    };
    let Some(te) = state.token_entry(&bearer).await? else {
        return Ok(Some(userinfo_error(
            "invalid_token",
            "access token is expired",
        )));
    };
    if !te.is_batch() || te.meta.get(META_TYPE).map(String::as_str) != Some("access token") {
        // OpenBao's ACL turns away a token that is no access token before its handler runs
        // (the answer is then `permission denied`), unless the token may do anything.
        let reason = if te.policies.iter().any(|p| p == "root") {
            "access token is malformed or invalid"
        } else {
            "permission denied"
        };
        return Ok(Some(userinfo_error("invalid_token", reason)));
    }
    let client_id = te.meta.get(META_CLIENT).cloned().unwrap_or_default();
    let Some(client) = clients::by_client_id(&state, &req, &client_id).await? else {
        return Ok(Some(userinfo_error("access_denied", "client not found")));
    };
    let entity_id = te.meta.get(META_ENTITY).cloned().unwrap_or_default();
    let Some(view) = state.entity(&entity_id) else {
        return Ok(Some(userinfo_error(
            "access_denied",
            "identity entity associated with the request not found",
        )));
    };
    match entity_assigned(storage, &view, &client.assignments).await {
        Ok(true) => {}
        Ok(false) => {
            return Ok(Some(userinfo_error(
                "access_denied",
                "identity entity not authorized by client assignment",
            )));
        }
        Err(e) => return Ok(Some(userinfo_error("server_error", &e))),
    }
    if !provider.allows(&client_id) {
        return Ok(Some(userinfo_error(
            "access_denied",
            "client is not authorized to use the provider",
        )));
    }
    let scopes: Vec<String> = te
        .meta
        .get(META_SCOPES)
        .map(|s| {
            s.split(' ')
                .filter(|x| !x.is_empty() && provider.scopes_supported.iter().any(|p| p == x))
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(entity_id));
    match scope_claims(storage, &scopes, Some(&view), &req.namespace_id).await {
        Ok(extra) => claims.extend(extra),
        Err((true, e)) => return Ok(Some(userinfo_error("invalid_request", &e))),
        Err((false, e)) => return Ok(Some(userinfo_error("server_error", &e))),
    }
    Ok(Some(raw(200, &Value::Object(claims), &[])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_match_exactly_or_in_any_loopback_port() {
        let allowed = vec![
            "https://app.example/cb".to_string(),
            "http://127.0.0.1:8250/oidc/callback".to_string(),
            "http://[::1]/cb".to_string(),
        ];
        assert!(valid_redirect("https://app.example/cb", &allowed));
        assert!(!valid_redirect("https://app.example:444/cb", &allowed));
        assert!(valid_redirect(
            "http://127.0.0.1:9999/oidc/callback",
            &allowed
        ));
        assert!(valid_redirect("http://127.0.0.1/oidc/callback", &allowed));
        assert!(!valid_redirect("http://127.0.0.1:9999/other", &allowed));
        assert!(valid_redirect("http://[::1]:1234/cb", &allowed));
        assert!(!valid_redirect("not a uri", &allowed));
    }

    #[test]
    fn pkce_and_hash_claims_follow_the_rfcs() {
        // RFC 7636, appendix B.
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "S256"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(code_challenge("abc", "plain"), "abc");
        // 16 bytes of SHA-256, base64url: 22 characters.
        assert_eq!(hash_claim("RS256", "token").len(), 22);
        assert_eq!(hash_claim("ES512", "token").len(), 43);
    }
}
