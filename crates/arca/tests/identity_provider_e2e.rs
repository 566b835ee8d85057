//! Issue 16, the OIDC provider end to end with a real relying-party library (`openidconnect`)
//! against the real `arca` binary and a real OpenBao dev server (one of each for the file):
//! discovery, the authorization-code flow for a confidential client (client secret) and a
//! public one (PKCE, ES256), ID-token verification against the published keys with the nonce
//! and the access-token hash, userinfo with a scope's claims, and the OAuth errors.

mod common;

use common::{Server, call, servers};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJwsSigningAlgorithm,
    CoreProviderMetadata,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
    UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const REDIRECT: &str = "http://127.0.0.1:8251/callback";

#[derive(Debug, Deserialize, Serialize)]
struct UserClaims {
    username: Option<String>,
    groups: Option<Vec<String>>,
}
impl AdditionalClaims for UserClaims {}

async fn root(s: &Server, method: &str, path: &str, body: Value) -> Value {
    let r = call(s, method, path, Some("root"), Some(body)).await;
    assert!(
        r.status < 300,
        "{} {method} {path}: {} {}",
        s.addr,
        r.status,
        r.body
    );
    r.body
}

/// Sets up a user, a scope, a provider and two clients; returns the user's token, entity ID
/// and entity name and the two clients' (ID, secret).
async fn setup(s: &Server) -> (String, String, String, (String, String), String) {
    root(s, "POST", "sys/auth/userpass", json!({"type": "userpass"})).await;
    root(
        s,
        "POST",
        "auth/userpass/users/alice",
        json!({"password": "pw"}),
    )
    .await;
    let login = call(
        s,
        "POST",
        "auth/userpass/login/alice",
        None,
        Some(json!({"password": "pw"})),
    )
    .await;
    assert_eq!(login.status, 200, "{}", login.body);
    let token = login.body["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    let entity = login.body["auth"]["entity_id"]
        .as_str()
        .expect("entity")
        .to_string();
    let e = call(
        s,
        "GET",
        &format!("identity/entity/id/{entity}"),
        Some("root"),
        None,
    )
    .await;
    let entity_name = e.body["data"]["name"].as_str().expect("name").to_string();
    root(
        s,
        "POST",
        "identity/group",
        json!({"name": "eng", "member_entity_ids": [entity]}),
    )
    .await;
    root(
        s,
        "POST",
        "identity/oidc/scope/user",
        json!({"template": "{\"username\":{{identity.entity.name}},\"groups\":{{identity.entity.groups.names}}}"}),
    )
    .await;
    root(
        s,
        "POST",
        "identity/oidc/key/ec",
        json!({"algorithm": "ES256", "allowed_client_ids": "*"}),
    )
    .await;
    root(
        s,
        "POST",
        "identity/oidc/provider/p",
        json!({"scopes_supported": "user", "allowed_client_ids": "*"}),
    )
    .await;
    root(
        s,
        "POST",
        "identity/oidc/client/web",
        json!({"redirect_uris": REDIRECT, "assignments": "allow_all"}),
    )
    .await;
    root(
        s,
        "POST",
        "identity/oidc/client/cli",
        json!({"redirect_uris": REDIRECT, "assignments": "allow_all", "client_type": "public", "key": "ec"}),
    )
    .await;
    let web = root(s, "GET", "identity/oidc/client/web", json!({})).await;
    let cli = root(s, "GET", "identity/oidc/client/cli", json!({})).await;
    (
        token,
        entity,
        entity_name,
        (
            web["data"]["client_id"].as_str().expect("id").to_string(),
            web["data"]["client_secret"]
                .as_str()
                .expect("secret")
                .to_string(),
        ),
        cli["data"]["client_id"].as_str().expect("id").to_string(),
    )
}

/// What the browser step of the flow does: the signed-in user's token asks the provider's
/// authorize endpoint for a code, with the query string the relying party built.
async fn authorize(s: &Server, token: &str, auth_url: &openidconnect::url::Url) -> Value {
    let r = common::client()
        .get(format!(
            "{}/v1/identity/oidc/provider/p/authorize?{}",
            s.addr,
            auth_url.query().unwrap_or_default()
        ))
        .header("X-Vault-Token", token)
        .send()
        .await
        .expect("authorize");
    let status = r.status().as_u16();
    let v: Value = r.json().await.expect("json");
    assert_eq!(status, 200, "{}: {v}", s.addr);
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relying_party_signs_users_in() {
    let servers = servers();
    for s in &servers {
        relying_party(s).await;
        errors(s).await;
    }
}

async fn relying_party(s: &Server) {
    let (token, entity, entity_name, (web_id, web_secret), cli_id) = setup(s).await;
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .expect("http client");
    let issuer = IssuerUrl::new(format!("{}/v1/identity/oidc/provider/p", s.addr)).expect("issuer");
    let metadata = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .unwrap_or_else(|e| panic!("{}: discovery: {e:?}", s.addr));
    for (client_id, secret, pkce, alg) in [
        (
            web_id.clone(),
            Some(web_secret.clone()),
            false,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        ),
        (
            cli_id.clone(),
            None,
            true,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        ),
    ] {
        let client = CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(client_id.clone()),
            secret.map(ClientSecret::new),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_string()).expect("redirect"));
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("user".to_string()));
        if pkce {
            request = request.set_pkce_challenge(challenge);
        }
        let (auth_url, csrf, nonce) = request.url();
        let answer = authorize(s, &token, &auth_url).await;
        assert_eq!(answer["state"], json!(csrf.secret()));
        let code = answer["code"].as_str().expect("code").to_string();
        let mut exchange = client
            .exchange_code(AuthorizationCode::new(code.clone()))
            .expect("token endpoint");
        if pkce {
            exchange = exchange.set_pkce_verifier(verifier);
        }
        let tokens = exchange
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("{}: token exchange: {e:?}", s.addr));
        let id_token = tokens.id_token().expect("id token");
        let id_verifier = client
            .id_token_verifier()
            .set_allowed_algs(vec![alg.clone()]);
        let claims = id_token
            .claims(&id_verifier, &nonce)
            .unwrap_or_else(|e| panic!("{}: id token: {e:?}", s.addr));
        assert_eq!(claims.subject().as_str(), entity);
        let expected = claims.access_token_hash().expect("at_hash");
        let actual = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().expect("alg"),
            id_token.signing_key(&id_verifier).expect("key"),
        )
        .expect("hash");
        assert_eq!(&actual, expected, "{}: at_hash", s.addr);
        // The same code cannot be redeemed twice.
        let again = client
            .exchange_code(AuthorizationCode::new(code))
            .expect("token endpoint")
            .request_async(&http)
            .await;
        assert!(again.is_err(), "{}: a code redeemed twice", s.addr);
        let info: UserInfoClaims<UserClaims, CoreGenderClaim> = client
            .user_info(tokens.access_token().to_owned(), None)
            .expect("userinfo endpoint")
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("{}: userinfo: {e:?}", s.addr));
        assert_eq!(info.subject().as_str(), entity);
        assert_eq!(
            info.additional_claims().username.as_deref(),
            Some(entity_name.as_str())
        );
        assert_eq!(
            info.additional_claims().groups.as_deref(),
            Some(&["eng".to_string()][..])
        );
    }
}

async fn errors(s: &Server) {
    let web = root(s, "GET", "identity/oidc/client/web", json!({})).await;
    let web_id = web["data"]["client_id"].as_str().expect("id").to_string();
    let cli = root(s, "GET", "identity/oidc/client/cli", json!({})).await;
    let cli_id = cli["data"]["client_id"].as_str().expect("id").to_string();
    let login = call(
        s,
        "POST",
        "auth/userpass/login/alice",
        None,
        Some(json!({"password": "pw"})),
    )
    .await;
    let token = login.body["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    let get = |query: String| {
        let token = token.clone();
        async move {
            let r = common::client()
                .get(format!(
                    "{}/v1/identity/oidc/provider/p/authorize?{query}",
                    s.addr
                ))
                .header("X-Vault-Token", token)
                .send()
                .await
                .expect("authorize");
            (r.status().as_u16(), r.json::<Value>().await.expect("json"))
        }
    };
    let q = |client: &str, extra: &str| {
        format!(
            "client_id={client}&redirect_uri={REDIRECT}&response_type=code&scope=openid&state=st{extra}"
        )
    };
    let cases: Vec<(String, u16, &str, &str)> = vec![
        (
            "state=st".into(),
            400,
            "invalid_client_id",
            "client_id parameter is required",
        ),
        (
            q("nope", ""),
            400,
            "invalid_client_id",
            "client with client_id not found",
        ),
        (
            q(&web_id, "").replace(REDIRECT, "http://evil.example/cb"),
            400,
            "invalid_redirect_uri",
            "redirect_uri is not allowed for the client",
        ),
        (
            q(&web_id, "").replace("scope=openid", "scope=user"),
            400,
            "invalid_request",
            "scope parameter must contain the \"openid\" value",
        ),
        (
            q(&web_id, "").replace("response_type=code", "response_type=token"),
            400,
            "unsupported_response_type",
            "unsupported response_type value",
        ),
        (
            q(&cli_id, ""),
            400,
            "invalid_request",
            "PKCE is required for public clients",
        ),
        (
            q(&web_id, "&code_challenge=short"),
            400,
            "invalid_request",
            "invalid code_challenge",
        ),
        (
            q(&web_id, "&max_age=0"),
            400,
            "invalid_request",
            "max_age must be greater than zero",
        ),
    ];
    for (query, status, error, description) in cases {
        let (st, body) = get(query.clone()).await;
        assert_eq!(st, status, "{}: {query}: {body}", s.addr);
        assert_eq!(body["error"], json!(error), "{}: {query}: {body}", s.addr);
        assert_eq!(
            body["error_description"],
            json!(description),
            "{}: {query}",
            s.addr
        );
    }
    // A client found once and then deleted, or made again under its name (a new client ID),
    // is not found by its old ID.
    root(
        s,
        "POST",
        "identity/oidc/client/gone",
        json!({"redirect_uris": REDIRECT, "assignments": "allow_all"}),
    )
    .await;
    let gone = root(s, "GET", "identity/oidc/client/gone", json!({})).await;
    let gone_id = gone["data"]["client_id"]
        .as_str()
        .expect("client_id")
        .to_string();
    let (st, body) = get(q(&gone_id, "&max_age=0")).await;
    assert_eq!(st, 400, "{}: {body}", s.addr);
    assert_eq!(
        body["error_description"],
        json!("max_age must be greater than zero")
    );
    root(s, "DELETE", "identity/oidc/client/gone", json!({})).await;
    root(
        s,
        "POST",
        "identity/oidc/client/gone",
        json!({"redirect_uris": REDIRECT, "assignments": "allow_all"}),
    )
    .await;
    let (st, body) = get(q(&gone_id, "&max_age=0")).await;
    assert_eq!(st, 400, "{}: {body}", s.addr);
    assert_eq!(
        body["error_description"],
        json!("client with client_id not found"),
        "{}",
        s.addr
    );
    root(s, "DELETE", "identity/oidc/client/gone", json!({})).await;
    // The token endpoint: a wrong secret is 401 invalid_client with WWW-Authenticate: Basic.
    let r = common::client()
        .post(format!("{}/v1/identity/oidc/provider/p/token", s.addr))
        .basic_auth(&web_id, Some("wrong"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status().as_u16(), 401, "{}", s.addr);
    assert_eq!(
        r.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Basic")
    );
    let v: Value = r.json().await.expect("json");
    assert_eq!(
        v,
        json!({"error": "invalid_client", "error_description": "client failed to authenticate"})
    );
    let web_secret = web["data"]["client_secret"].as_str().expect("secret");
    for (form, error, description) in [
        (
            vec![("grant_type", "password")],
            "unsupported_grant_type",
            "unsupported grant_type or parameter is empty value",
        ),
        (
            vec![("grant_type", "client_credentials")],
            "invalid_grant",
            "client is not authorized to use given credentials flow",
        ),
        (
            vec![("grant_type", "authorization_code")],
            "invalid_request",
            "code parameter is required",
        ),
        (
            vec![("grant_type", "authorization_code"), ("code", "nope")],
            "invalid_grant",
            "authorization grant is invalid or expired",
        ),
    ] {
        let r = common::client()
            .post(format!("{}/v1/identity/oidc/provider/p/token", s.addr))
            .basic_auth(&web_id, Some(web_secret))
            .form(&form)
            .send()
            .await
            .expect("token");
        assert_eq!(r.status().as_u16(), 400, "{}: {form:?}", s.addr);
        assert_eq!(
            r.headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
        let v: Value = r.json().await.expect("json");
        assert_eq!(
            v,
            json!({"error": error, "error_description": description}),
            "{}",
            s.addr
        );
    }
    // userinfo with a token that is not an access token.
    let r = common::client()
        .get(format!("{}/v1/identity/oidc/provider/p/userinfo", s.addr))
        .bearer_auth(&token)
        .send()
        .await
        .expect("userinfo");
    assert_eq!(r.status().as_u16(), 401, "{}", s.addr);
    let v: Value = r.json().await.expect("json");
    assert_eq!(
        v,
        json!({"error": "invalid_token", "error_description": "permission denied"}),
        "{}",
        s.addr
    );
}
