//! The OIDC browser flow: `oidc/auth_url` starts a login (state, nonce and a PKCE S256
//! verifier kept server side for ten minutes, one use), and `oidc/callback` finishes it:
//! the code is exchanged at the provider's token endpoint with the verifier, the ID token is
//! verified (signature, issuer, audience = client id, times, nonce), userinfo claims are
//! merged in when the provider has the endpoint, and the token is issued.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arca_sdk::framework::FieldData;
use arca_sdk::{JsonMap, LogicalError, Request, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::Shared;
use crate::claims::validate_bound_claims;
use crate::config::{self, JwtConfig, KeySource};
use crate::fetch;
use crate::login::{check_cidrs, identity, make_auth, role_of_login};
use crate::role::{self, JwtRole};
use crate::token::{self, Expected};

/// How long a started login waits for its callback.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);
/// OpenBao's prefix of a failed callback.
const LOGIN_FAILED: &str = "OpenBao login failed.";

/// One started login, keyed by its state. `Debug` is not derived: it holds secrets.
pub(crate) struct PendingLogin {
    role: String,
    redirect_uri: String,
    nonce: Zeroizing<String>,
    code_verifier: Zeroizing<String>,
    client_nonce: Zeroizing<String>,
    expires: Instant,
}

/// The started logins of a mount.
#[derive(Default)]
pub(crate) struct PendingLogins(std::sync::Mutex<HashMap<String, PendingLogin>>);

impl PendingLogins {
    fn insert(&self, state: String, p: PendingLogin) {
        if let Ok(mut m) = self.0.lock() {
            let now = Instant::now();
            m.retain(|_, v| v.expires > now);
            m.insert(state, p);
        }
    }

    /// Takes the login of `state` out (one use); an expired one is gone.
    fn take(&self, state: &str) -> Option<PendingLogin> {
        let mut m = self.0.lock().ok()?;
        let p = m.remove(state)?;
        (p.expires > Instant::now()).then_some(p)
    }
}

fn bad(msg: impl Into<String>) -> LogicalError {
    LogicalError::bad_request(msg)
}

fn failed(msg: &str) -> LogicalError {
    bad(format!("{LOGIN_FAILED} {msg}"))
}

fn random_b64url(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    arca_sdk::random::fill(&mut buf);
    URL_SAFE_NO_PAD.encode(&buf)
}

fn s256(verifier: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(d.as_ref())
}

/// RFC 8252 §7.3: a loopback redirect matches whatever its port; others must be listed.
pub(crate) fn valid_redirect(uri: &str, allowed: &[String]) -> bool {
    let Ok(input) = url::Url::parse(uri) else {
        return false;
    };
    let loopback = matches!(input.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if !loopback {
        return allowed.iter().any(|a| a == uri);
    }
    let strip = |mut u: url::Url| {
        let _ = u.set_port(None);
        u.to_string()
    };
    let input = strip(input);
    allowed.iter().any(|a| match url::Url::parse(a) {
        Ok(a) => strip(a) == input,
        Err(_) => false,
    })
}

/// `POST oidc/auth_url` with `role`, `redirect_uri`, `client_nonce`. As OpenBao, a redirect
/// URI the role does not allow (or a provider that cannot be reached) answers an empty
/// `auth_url`, not an error.
pub(crate) async fn auth_url(
    shared: Arc<Shared>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let Some(config) = config::load(req.storage()?.as_ref()).await? else {
        return Err(bad("could not load configuration"));
    };
    if config.key_source() != KeySource::OidcFlow {
        return Err(bad("OIDC login is not configured for this mount"));
    }
    let (role_name, role) = role_of_login(&shared, &req, &config, &d).await?;
    let client_nonce = Zeroizing::new(d.get_str("client_nonce")?);
    if client_nonce.is_empty() && (role.callback_mode == "direct" || role.callback_mode == "device")
    {
        return Err(bad("missing client_nonce"));
    }
    let redirect_uri = d.get_str("redirect_uri")?;
    if redirect_uri.is_empty() {
        return Err(bad("missing redirect_uri"));
    }
    let mut data = JsonMap::new();
    data.insert("auth_url".into(), Value::from(""));
    // With `namespace_in_state`, a `namespace` query parameter of the redirect URI moves
    // into the state (`<state>,ns=<namespace>`), where OpenBao's UI reads it back on the
    // callback page; the redirect URI is checked without it.
    let (redirect_uri, namespace) = if config.namespace_in_state {
        match split_namespace(&redirect_uri) {
            Some(split) => split,
            None => return Ok(Some(Response::with_data(data))),
        }
    } else {
        (redirect_uri, String::new())
    };
    let allowed = role.allowed_redirect_uris.clone().unwrap_or_default();
    if !valid_redirect(&redirect_uri, &allowed) {
        tracing::warn!("unauthorized redirect_uri");
        return Ok(Some(Response::with_data(data)));
    }
    let Ok(doc) = shared.keys.discovery_doc(&config).await else {
        return Ok(Some(Response::with_data(data)));
    };
    let Some(endpoint) = doc.get("authorization_endpoint").and_then(Value::as_str) else {
        return Ok(Some(Response::with_data(data)));
    };
    let Ok(mut url) = url::Url::parse(endpoint) else {
        return Ok(Some(Response::with_data(data)));
    };
    let state = random_b64url(20);
    let nonce = Zeroizing::new(random_b64url(20));
    let verifier = Zeroizing::new(random_b64url(32));
    let mut scopes = vec!["openid".to_string()];
    scopes.extend(
        role.oidc_scopes
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|s| s != "openid"),
    );
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", &config.oidc_client_id);
        q.append_pair("code_challenge", &s256(&verifier));
        q.append_pair("code_challenge_method", "S256");
        if role.max_age > 0 {
            q.append_pair("max_age", &role.max_age.to_string());
        }
        q.append_pair("nonce", &nonce);
        q.append_pair("redirect_uri", &redirect_uri);
        q.append_pair("response_type", "code");
        q.append_pair("scope", &scopes.join(" "));
        if namespace.is_empty() {
            q.append_pair("state", &state);
        } else {
            q.append_pair("state", &format!("{state},ns={namespace}"));
        }
    }
    shared.pending.insert(
        state,
        PendingLogin {
            role: role_name,
            redirect_uri,
            nonce,
            code_verifier: verifier,
            client_nonce,
            expires: Instant::now() + REQUEST_TIMEOUT,
        },
    );
    data.insert("auth_url".into(), Value::from(url.to_string()));
    Ok(Some(Response::with_data(data)))
}

/// A redirect URI without its `namespace` query parameter (the rest of the query
/// re-encoded in key order, as Go's `url.Values.Encode`), and that namespace (the first
/// value; empty when there is none, the URI then unchanged). `None` when the URI does not
/// parse.
fn split_namespace(uri: &str) -> Option<(String, String)> {
    let mut u = url::Url::parse(uri).ok()?;
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let Some(namespace) = pairs
        .iter()
        .find(|(k, _)| k == "namespace")
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
    else {
        return Some((uri.to_string(), String::new()));
    };
    let mut rest: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(k, _)| k != "namespace")
        .collect();
    rest.sort_by(|a, b| a.0.cmp(&b.0));
    if rest.is_empty() {
        u.set_query(None);
    } else {
        u.query_pairs_mut().clear().extend_pairs(rest);
    }
    Some((u.to_string(), namespace))
}

/// `GET oidc/callback` with `state`, `code` and the `client_nonce` given to `auth_url`.
pub(crate) async fn callback(
    shared: Arc<Shared>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let Some(config) = config::load(req.storage()?.as_ref()).await? else {
        return Err(failed("Could not load configuration"));
    };
    let state = d.get_str("state")?;
    let Some(pending) = shared.pending.take(&state) else {
        return Err(failed("Expired or missing OAuth state."));
    };
    let Some(role) = role::load(req.storage()?.as_ref(), &pending.role).await? else {
        return Err(failed("Role could not be found"));
    };
    let oidc_error = d.get_str("error")?.trim().to_lowercase();
    if !oidc_error.is_empty() {
        const KNOWN: [&str; 7] = [
            "invalid_request",
            "unauthorized_client",
            "access_denied",
            "unsupported_response_type",
            "invalid_scope",
            "server_error",
            "temporarily_unavailable",
        ];
        if KNOWN.contains(&oidc_error.as_str()) {
            return Err(failed(&oidc_error));
        }
        return Err(failed(
            "An unknown error occurred during OIDC authentication. Check server logs for details",
        ));
    }
    let client_nonce = Zeroizing::new(d.get_str("client_nonce")?);
    if !pending.client_nonce.is_empty()
        && !bool::from(
            client_nonce
                .as_bytes()
                .ct_eq(pending.client_nonce.as_bytes()),
        )
    {
        return Err(bad("invalid client_nonce"));
    }
    check_cidrs(&role, &req)?;
    let code = Zeroizing::new(d.get_str("code")?);
    if code.is_empty() {
        return Err(failed("No code or id_token received."));
    }
    let doc = shared.keys.discovery_doc(&config).await.map_err(|e| {
        LogicalError::internal(format!("error getting provider for login operation: {e}"))
    })?;
    let (id_token, access_token) = exchange(&config, &doc, &pending, &code)
        .await
        .map_err(|e| failed(&format!("Error exchanging oidc code: {}.", go_quote(&e))))?;
    let mut claims = verify_id_token(&shared, &config, &doc, &role, &pending, &id_token)
        .await
        .map_err(|e| failed(&format!("Error exchanging oidc code: {}.", go_quote(&e))))?;
    claims.remove("nonce");
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if !role.bound_subject.is_empty() && role.bound_subject != subject {
        return Err(failed("sub claim does not match bound subject"));
    }
    if let Some(at) = access_token.as_ref() {
        merge_userinfo(&config, &doc, at, &subject, &mut claims).await;
    }
    let mut oauth2 = HashMap::new();
    for name in role.oauth2_metadata.clone().unwrap_or_default() {
        let v = match name.as_str() {
            "id_token" => id_token.to_string(),
            "access_token" => access_token
                .as_deref()
                .map(|s| s.to_string())
                .unwrap_or_default(),
            _ => String::new(),
        };
        oauth2.insert(format!("oauth2_{name}"), v);
    }
    let (alias, group_aliases) = identity(&claims, &pending.role, &role).map_err(|e| failed(&e))?;
    validate_bound_claims(
        role.glob_claims(),
        role.bound_claims.as_ref().unwrap_or(&JsonMap::new()),
        &claims,
    )
    .map_err(|e| failed(&format!("error validating claims: {e}")))?;
    let mut auth = make_auth(&req, &pending.role, &role, alias, group_aliases, oauth2)?;
    if role.token_policies_template_claims {
        crate::policy_templates::apply(&mut auth, &claims)?;
    }
    Ok(Some(Response {
        auth: Some(auth),
        ..Response::default()
    }))
}

/// Go's `url.QueryEscape`: what the oauth2 client applies to each half of the Basic
/// credentials.
fn form_urlencoded(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Go's `%q` of a message: quoted, with quotes and backslashes escaped.
fn go_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The authorization-code grant with the PKCE verifier; answers the ID token and the
/// access token.
async fn exchange(
    config: &JwtConfig,
    doc: &Value,
    pending: &PendingLogin,
    code: &str,
) -> Result<(Zeroizing<String>, Option<Zeroizing<String>>), String> {
    let endpoint = doc
        .get("token_endpoint")
        .and_then(Value::as_str)
        .ok_or("the provider has no token endpoint")?;
    let client = fetch::client(&config.oidc_discovery_ca_pem)?;
    let grant = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", pending.redirect_uri.as_str()),
        ("code_verifier", pending.code_verifier.as_str()),
    ];
    // As Go's oauth2 client detecting the provider's style: the client credentials in an
    // HTTP Basic header first (each part URL-encoded), then, if that is refused, in the form.
    let (id, secret) = (
        form_urlencoded(&config.oidc_client_id),
        Zeroizing::new(form_urlencoded(&config.oidc_client_secret)),
    );
    let in_header = fetch::post_form(&client, endpoint, &grant, Some((&id, &secret))).await;
    let answer = match in_header {
        Ok(a) => Ok(a),
        Err(_) => {
            let mut form = grant.to_vec();
            form.push(("client_id", config.oidc_client_id.as_str()));
            if !config.oidc_client_secret.is_empty() {
                form.push(("client_secret", config.oidc_client_secret.as_str()));
            }
            fetch::post_form(&client, endpoint, &form, None).await
        }
    }
    .map_err(|e| format!("oauth2: cannot fetch token: {e}"))?;
    let Some(id) = answer.get("id_token").and_then(Value::as_str) else {
        return Err("id_token is missing from auth code exchange".into());
    };
    let access = answer
        .get("access_token")
        .and_then(Value::as_str)
        .map(|s| Zeroizing::new(s.to_string()));
    Ok((Zeroizing::new(id.to_string()), access))
}

/// Verifies the ID token: signature by the provider's keys, issuer, audience (the client id
/// and the role's bound audiences), times with the role's leeways, and the nonce.
async fn verify_id_token(
    shared: &Shared,
    config: &JwtConfig,
    doc: &Value,
    role: &JwtRole,
    pending: &PendingLogin,
    id_token: &str,
) -> Result<JsonMap, String> {
    // The browser flow accepts only `jwt_supported_algs` (RS256 when empty), as OpenBao's
    // provider does.
    let alg = token::Compact::parse(id_token)
        .map(|t| t.alg)
        .unwrap_or_default();
    let allowed: Vec<String> = if config.jwt_supported_algs.is_empty() {
        vec!["RS256".into()]
    } else {
        config.jwt_supported_algs.clone()
    };
    if !allowed.contains(&alg) {
        let listed: Vec<String> = allowed.iter().map(|a| format!("\"{a}\"")).collect();
        return Err(format!(
            "Provider.Exchange: id_token failed verification: Provider.VerifyIDToken: invalid id_token: oidc: malformed jwt: unexpected signature algorithm \"{alg}\"; expected [{}]: unsupported signing algorithm",
            listed.join(" ")
        ));
    }
    let issuer = doc.get("issuer").and_then(Value::as_str).unwrap_or("");
    let expected = Expected {
        issuer,
        subject: "",
        audiences: &[],
        not_before_leeway: role.not_before_leeway,
        expiration_leeway: role.expiration_leeway,
        clock_skew_leeway: role.clock_skew_leeway,
    };
    let claims = token::validate(&shared.keys, config, id_token, &expected).await?;
    let aud = token::audience(&claims)?;
    if !aud.iter().any(|a| a == &config.oidc_client_id) {
        return Err("invalid id_token audiences: unable to match client ID".into());
    }
    if !role.audiences().is_empty() && !role.audiences().iter().any(|a| aud.contains(a)) {
        return Err(
            "invalid id_token audiences: aud claim does not match any bound audience".into(),
        );
    }
    if role.max_age > 0 {
        // The provider must say when the user last authenticated, within max_age (with
        // the same one-minute skew allowance as the other time claims).
        let Some(auth_time) = claims.get("auth_time").and_then(Value::as_f64) else {
            return Err("Provider.Exchange: id_token failed verification: Provider.VerifyIDToken: missing auth_time claim when max age was requested: missing required claim".into());
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        #[allow(clippy::cast_precision_loss)]
        if now - auth_time > role.max_age as f64 + 60.0 {
            return Err("Provider.Exchange: id_token failed verification: Provider.VerifyIDToken: auth_time is beyond max age: expired auth time".into());
        }
    }
    let nonce = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
    if !bool::from(nonce.as_bytes().ct_eq(pending.nonce.as_bytes())) {
        return Err("invalid id_token nonce: ID token nonce does not match".into());
    }
    Ok(claims)
}

/// Merges the userinfo endpoint's claims in (the ID token's `sub` must match); a provider
/// without the endpoint, or a failure, leaves the claims as they are, as OpenBao does.
async fn merge_userinfo(
    config: &JwtConfig,
    doc: &Value,
    access_token: &str,
    subject: &str,
    claims: &mut JsonMap,
) {
    let Some(endpoint) = doc.get("userinfo_endpoint").and_then(Value::as_str) else {
        return;
    };
    let Ok(client) = fetch::client(&config.oidc_discovery_ca_pem) else {
        return;
    };
    let Ok(resp) = client.get(endpoint).bearer_auth(access_token).send().await else {
        tracing::warn!("error reading /userinfo endpoint");
        return;
    };
    let Ok(Value::Object(info)) = resp.json::<Value>().await else {
        return;
    };
    if info.get("sub").and_then(Value::as_str) != Some(subject) {
        tracing::warn!("userinfo sub does not match the ID token's");
        return;
    }
    for (k, v) in info {
        claims.insert(k, v);
    }
}
