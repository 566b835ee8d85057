//! Issue 20, the `jwt`/`oidc` auth method end to end against the real `arca` binary, side by
//! side with a real OpenBao dev server: config and role answers, JWT logins (identity alias,
//! metadata and group aliases) and every refusal with OpenBao's text, JWKS key rotation, the
//! OIDC code flow with PKCE over HTTP, and `bao login -method=oidc` / `arca login
//! -method=oidc` completing through their local callback listener.
//!
//! The identity provider is a small HTTP/1.1 server inside the test ([`Idp`]): discovery,
//! JWKS, an authorize endpoint that approves at once, a token endpoint that checks the PKCE
//! verifier against the challenge, and userinfo.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{Answer, Server, call, comparable_answer, root_ok, servers};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

// ---------------------------------------------------------------------------------------
// Keys and tokens

/// An ES256 key: its PKCS#8 form signs, its point and SPKI are published.
struct Key {
    kid: String,
    pkcs8: Vec<u8>,
    point: Vec<u8>,
    pem: String,
}

impl Key {
    fn new(kid: &str) -> Key {
        let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("key");
        let pkcs8 = kp.to_pkcs8v1().expect("pkcs8").as_ref().to_vec();
        let point = kp.public_key().as_ref().to_vec();
        let spki = kp.public_key().as_der().expect("spki");
        let b64 = STANDARD.encode(spki.as_ref());
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).expect("ascii"))
            .collect();
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----",
            lines.join("\n")
        );
        Key {
            kid: kid.into(),
            pkcs8,
            point,
            pem,
        }
    }

    fn jwk(&self) -> Value {
        json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(&self.point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&self.point[33..65]),
        })
    }

    /// An ES256 JWT of `claims`, with this key's `kid` when `with_kid`.
    fn sign(&self, claims: &Value, with_kid: bool) -> String {
        let mut h = Header::new(Algorithm::ES256);
        if with_kid {
            h.kid = Some(self.kid.clone());
        }
        jsonwebtoken::encode(&h, claims, &EncodingKey::from_ec_der(&self.pkcs8)).expect("sign")
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn b64json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// A token with `alg: none` and no signature.
fn unsigned(claims: &Value) -> String {
    format!(
        "{}.{}.",
        b64json(&json!({"alg": "none", "typ": "JWT"})),
        b64json(claims)
    )
}

/// HS256 over the claims with the public key's PEM text as the HMAC secret (the classic
/// algorithm-confusion forgery).
fn hmac_with_public_key(key: &Key, claims: &Value) -> String {
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&h, claims, &EncodingKey::from_secret(key.pem.as_bytes())).expect("hmac")
}

// ---------------------------------------------------------------------------------------
// The in-test identity provider

/// The client id the provider knows Arca (and OpenBao) by.
const CLIENT_ID: &str = "arca-client";

struct Grant {
    challenge: String,
    nonce: String,
    redirect_uri: String,
}

#[derive(Default)]
struct IdpState {
    keys: Vec<Key>,
    /// Index of the key that signs ID tokens.
    active: usize,
    grants: HashMap<String, Grant>,
    /// Code exchanges whose verifier matched the challenge.
    pkce_ok: u32,
    /// Code exchanges refused for a wrong or missing verifier.
    pkce_refused: u32,
    /// Code exchanges whose client credentials came in a Basic header / in the form.
    basic_auth: u32,
    form_auth: u32,
    /// Refuse Basic client credentials (a provider that wants them in the form).
    refuse_basic: bool,
    next_code: u32,
}

struct Idp {
    issuer: String,
    state: Arc<Mutex<IdpState>>,
    client_id: String,
}

impl Idp {
    async fn start() -> Idp {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let issuer = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(IdpState {
            keys: vec![Key::new("k1")],
            ..IdpState::default()
        }));
        let (st, iss) = (Arc::clone(&state), issuer.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    continue;
                };
                let (st, iss) = (Arc::clone(&st), iss.clone());
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut sock).await else {
                        return;
                    };
                    let (status, headers, body) = route(&st, &iss, &request);
                    let mut out = format!(
                        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
                        body.len()
                    );
                    for (k, v) in headers {
                        out.push_str(&format!("{k}: {v}\r\n"));
                    }
                    out.push_str("\r\n");
                    let _ = sock.write_all(out.as_bytes()).await;
                    let _ = sock.write_all(body.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Idp {
            issuer,
            state,
            client_id: CLIENT_ID.into(),
        }
    }

    /// Adds a new signing key and makes it the active one (a key rotation).
    fn rotate(&self, kid: &str) {
        let mut s = self.state.lock().expect("idp");
        s.keys.push(Key::new(kid));
        s.active = s.keys.len() - 1;
    }

    fn sign(&self, claims: &Value) -> String {
        let s = self.state.lock().expect("idp");
        s.keys[s.active].sign(claims, true)
    }

    fn pkce(&self) -> (u32, u32) {
        let s = self.state.lock().expect("idp");
        (s.pkce_ok, s.pkce_refused)
    }

    /// How many code exchanges authenticated the client in a Basic header, and in the form.
    fn client_auth(&self) -> (u32, u32) {
        let s = self.state.lock().expect("idp");
        (s.basic_auth, s.form_auth)
    }

    fn refuse_basic(&self, refuse: bool) {
        self.state.lock().expect("idp").refuse_basic = refuse;
    }
}

/// A request to the provider: method, target, `Authorization` header (empty when none), body.
type IdpRequest = (String, String, String, String);

async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<IdpRequest> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.lines();
    let mut first = lines.next()?.split_whitespace();
    let (method, target) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: Vec<(&str, &str)> = lines.filter_map(|l| l.split_once(':')).collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let len: usize = header("content-length").parse().unwrap_or(0);
    let authorization = header("authorization");
    while buf.len() < head_end + len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
    Some((method, target, authorization, body))
}

fn form(s: &str) -> HashMap<String, String> {
    let u = reqwest::Url::parse(&format!("http://x/?{s}")).expect("form");
    u.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

type Reply = (&'static str, Vec<(&'static str, String)>, String);

fn json_reply(status: &'static str, v: Value) -> Reply {
    (
        status,
        vec![("Content-Type", "application/json".into())],
        v.to_string(),
    )
}

fn route(st: &Mutex<IdpState>, issuer: &str, request: &IdpRequest) -> Reply {
    let (method, target, authorization, body) = (
        request.0.as_str(),
        request.1.as_str(),
        request.2.as_str(),
        request.3.as_str(),
    );
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut s = st.lock().expect("idp");
    match (method, path) {
        ("GET", "/.well-known/openid-configuration") => json_reply(
            "200 OK",
            json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{issuer}/authorize"),
                "token_endpoint": format!("{issuer}/token"),
                "jwks_uri": format!("{issuer}/jwks"),
                "userinfo_endpoint": format!("{issuer}/userinfo"),
                "id_token_signing_alg_values_supported": ["ES256"],
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
            }),
        ),
        ("GET", "/jwks") => {
            let keys: Vec<Value> = s.keys.iter().map(Key::jwk).collect();
            json_reply("200 OK", json!({ "keys": keys }))
        }
        ("GET", "/authorize") => {
            let q = form(query);
            s.next_code += 1;
            let code = format!("code-{}", s.next_code);
            let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
            s.grants.insert(
                code.clone(),
                Grant {
                    challenge: q.get("code_challenge").cloned().unwrap_or_default(),
                    nonce: q.get("nonce").cloned().unwrap_or_default(),
                    redirect_uri: redirect.clone(),
                },
            );
            let mut loc = reqwest::Url::parse(&redirect).expect("redirect_uri");
            loc.query_pairs_mut()
                .append_pair("code", &code)
                .append_pair("state", q.get("state").map_or("", String::as_str));
            (
                "302 Found",
                vec![("Location", loc.to_string())],
                String::new(),
            )
        }
        ("POST", "/token") => {
            let f = form(body);
            // The client authenticates with its secret, in a Basic header (each half
            // URL-encoded) or in the form.
            if let Some(basic) = authorization.strip_prefix("Basic ") {
                let decoded = STANDARD.decode(basic).unwrap_or_default();
                if s.refuse_basic || decoded != format!("{CLIENT_ID}:s3cret").as_bytes() {
                    return json_reply("401 Unauthorized", json!({"error": "invalid_client"}));
                }
                s.basic_auth += 1;
            } else if f.get("client_id").map(String::as_str) == Some(CLIENT_ID)
                && f.get("client_secret").map(String::as_str) == Some("s3cret")
            {
                s.form_auth += 1;
            } else {
                return json_reply("401 Unauthorized", json!({"error": "invalid_client"}));
            }
            let code = f.get("code").cloned().unwrap_or_default();
            let Some(grant) = s.grants.remove(&code) else {
                return json_reply("400 Bad Request", json!({"error": "invalid_grant"}));
            };
            let verifier = f.get("code_verifier").cloned().unwrap_or_default();
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
            if verifier.is_empty() || URL_SAFE_NO_PAD.encode(digest.as_ref()) != grant.challenge {
                s.pkce_refused += 1;
                return json_reply("400 Bad Request", json!({"error": "invalid_grant"}));
            }
            if f.get("redirect_uri") != Some(&grant.redirect_uri) {
                return json_reply("400 Bad Request", json!({"error": "invalid_grant"}));
            }
            s.pkce_ok += 1;
            let t = now();
            let claims = json!({
                "iss": issuer, "sub": "carol", "aud": CLIENT_ID,
                "iat": t, "exp": t + 300, "nonce": grant.nonce,
                "email": "carol@example.com", "groups": ["engineers", "oncall"],
            });
            let id_token = s.keys[s.active].sign(&claims, true);
            json_reply(
                "200 OK",
                json!({"access_token": "opaque-access", "token_type": "Bearer", "expires_in": 300, "id_token": id_token}),
            )
        }
        ("GET", "/userinfo") => {
            json_reply("200 OK", json!({"sub": "carol", "department": "platform"}))
        }
        _ => ("404 Not Found", Vec::new(), String::new()),
    }
}

// ---------------------------------------------------------------------------------------
// Helpers

async fn both_ok(s: &[Server; 2], method: &str, path: &str, body: Value) {
    for srv in s {
        root_ok(srv, method, path, Some(body.clone())).await;
    }
}

/// The same unauthenticated request to both servers must get the same answer.
async fn same_unauth(s: &[Server; 2], method: &str, path: &str, body: Option<Value>) -> Answer {
    let a = call(&s[0], method, path, None, body.clone()).await;
    let b = call(&s[1], method, path, None, body).await;
    assert_eq!(
        comparable_answer(&a, &[]),
        comparable_answer(&b, &[]),
        "{method} {path}: Arca (left) and OpenBao (right) differ"
    );
    a
}

async fn same_root(s: &[Server; 2], method: &str, path: &str, body: Option<Value>) -> Answer {
    common::same_answer(s, method, path, body, &[]).await
}

fn errors(a: &Answer) -> String {
    a.body["errors"].to_string()
}

// ---------------------------------------------------------------------------------------
// Tests

/// `config` and `role/<name>` answer as OpenBao's: the validation errors of both, and the
/// reads (every field, nulls included), list and delete.
#[tokio::test(flavor = "multi_thread")]
async fn config_and_roles_answer_as_openbao() {
    let s = servers();
    both_ok(&s, "POST", "sys/auth/jwt", json!({"type": "jwt"})).await;
    both_ok(&s, "POST", "sys/auth/oidc", json!({"type": "oidc"})).await;
    let key = Key::new("k");
    // Configuration refusals, in OpenBao's order.
    for body in [
        json!({"bound_issuer": "x"}),
        json!({"jwt_validation_pubkeys": [key.pem], "jwks_url": "http://127.0.0.1:1/jwks"}),
        json!({"jwt_validation_pubkeys": ["garbage"]}),
        json!({"jwks_url": "http://127.0.0.1:1/jwks"}),
        json!({"oidc_discovery_url": "http://127.0.0.1:1/.well-known/openid-configuration"}),
        json!({"oidc_client_id": "a", "oidc_discovery_url": "http://x"}),
        json!({"jwt_validation_pubkeys": [key.pem], "oidc_client_id": "a", "oidc_client_secret": "b"}),
        json!({"jwt_validation_pubkeys": [key.pem], "jwt_supported_algs": "HS256"}),
        json!({"jwt_validation_pubkeys": [key.pem], "oidc_response_types": "foo"}),
        json!({"jwt_validation_pubkeys": [key.pem], "oidc_response_types": "id_token"}),
        json!({"jwt_validation_pubkeys": [key.pem], "oidc_response_mode": "x"}),
        json!({"jwt_validation_pubkeys": [key.pem], "provider_config": {"provider": "nope"}}),
    ] {
        let a = same_root(&s, "POST", "auth/jwt/config", Some(body.clone())).await;
        assert_eq!(a.status, 400, "{body}: {}", a.body);
    }
    // A provider's sensitive keys are not read back (G Suite's service account).
    let gsuite = json!({
        "jwt_validation_pubkeys": [key.pem],
        "provider_config": {
            "provider": "gsuite", "gsuite_admin_impersonate": "admin@example.com",
            "gsuite_service_account": "{\"type\": \"service_account\", \"client_email\": \"a@example.com\", \"private_key\": \"not-shown\"}",
        },
    });
    same_root(&s, "POST", "auth/oidc/config", Some(gsuite)).await;
    let read = same_root(&s, "GET", "auth/oidc/config", None).await;
    assert_eq!(
        read.body["data"]["provider_config"],
        json!({"provider": "gsuite", "gsuite_admin_impersonate": "admin@example.com"})
    );
    // Nothing configured yet: a read is a bare 404 on both.
    same_root(&s, "GET", "auth/jwt/config", None).await;
    same_root(
        &s,
        "POST",
        "auth/jwt/config",
        Some(json!({"jwks_url": "http://127.0.0.1:1/jwks", "skip_jwks_validation": true})),
    )
    .await;
    same_root(&s, "GET", "auth/jwt/config", None).await;
    let cfg = json!({
        "jwt_validation_pubkeys": [key.pem], "bound_issuer": "https://issuer.example",
        "jwt_supported_algs": ["ES256", "RS256"], "default_role": "CI",
    });
    same_root(&s, "POST", "auth/jwt/config", Some(cfg)).await;
    let read = same_root(&s, "GET", "auth/jwt/config", None).await;
    assert_eq!(read.body["data"]["status"], "valid");
    assert!(read.body["data"].get("oidc_client_secret").is_none());
    assert_eq!(read.body["data"]["default_role"], "ci");

    // Role refusals.
    for body in [
        json!({"user_claim": "sub"}),
        json!({"role_type": "jwt", "user_claim": "sub"}),
        json!({"role_type": "jwt", "bound_subject": "x"}),
        json!({"role_type": "x"}),
        json!({"role_type": "jwt", "bound_subject": "x", "user_claim": "sub", "claim_mappings": {"a": "role"}}),
        json!({"role_type": "jwt", "bound_subject": "x", "user_claim": "sub", "claim_mappings": {"a": "m", "b": "m"}}),
        json!({"role_type": "jwt", "bound_subject": "x", "user_claim": "sub", "bound_claims_type": "glob", "bound_claims": {"a": 5}}),
        json!({"role_type": "jwt", "bound_subject": "x", "user_claim": "sub", "bound_claims_type": "x"}),
        json!({"role_type": "jwt", "bound_subject": "x", "user_claim": "sub", "callback_mode": "x"}),
        json!({"role_type": "jwt", "bound_subject": "x", "user_claim": "sub", "oauth2_metadata": "x"}),
        json!({"role_type": "jwt", "bound_subject": "x", "user_claim": "sub", "token_ttl": 10, "token_max_ttl": 5}),
    ] {
        let a = same_root(&s, "POST", "auth/jwt/role/bad", Some(body.clone())).await;
        assert_eq!(a.status, 400, "{body}: {}", a.body);
    }
    // Roles that are accepted read back field for field as OpenBao's.
    let roles = [
        (
            "ci",
            json!({
                "role_type": "jwt", "bound_audiences": "aud1,aud2", "user_claim": "sub",
                "bound_claims_type": "glob", "bound_claims": {"/org/team": ["al*", "beta"], "env": "prod"},
                "claim_mappings": {"email": "mail"}, "groups_claim": "groups",
                "expiration_leeway": -1, "not_before_leeway": "30s", "clock_skew_leeway": 5,
                "token_policies": "a,b", "token_ttl": "1h", "verbose_oidc_logging": false,
            }),
        ),
        (
            "web",
            json!({
                "user_claim": "email", "allowed_redirect_uris": ["http://localhost:8250/oidc/callback"],
                "oidc_scopes": "profile,email", "max_age": "10m", "user_claim_json_pointer": true,
            }),
        ),
        (
            "legacy",
            json!({"role_type": "jwt", "bound_subject": "s", "user_claim": "sub", "policies": "p1", "ttl": 60, "num_uses": 3}),
        ),
    ];
    for (name, body) in &roles {
        same_root(
            &s,
            "POST",
            &format!("auth/jwt/role/{name}"),
            Some(body.clone()),
        )
        .await;
        same_root(&s, "GET", &format!("auth/jwt/role/{name}"), None).await;
    }
    // An update keeps what it does not name.
    same_root(
        &s,
        "POST",
        "auth/jwt/role/ci",
        Some(json!({"role_type": "jwt", "bound_subject": "alice"})),
    )
    .await;
    same_root(&s, "GET", "auth/jwt/role/ci", None).await;
    same_root(&s, "LIST", "auth/jwt/role", None).await;
    same_root(&s, "DELETE", "auth/jwt/role/legacy", None).await;
    same_root(&s, "GET", "auth/jwt/role/legacy", None).await;
    same_root(&s, "LIST", "auth/oidc/role", None).await;
    // The oidc mount type is the same method.
    same_root(&s, "POST", "auth/oidc/role/web", Some(roles[1].1.clone())).await;
    same_root(&s, "GET", "auth/oidc/role/web", None).await;
}

/// JWT logins: success makes the entity alias (named by `user_claim`, metadata from
/// `claim_mappings` and the role) and puts the entity in the external groups named by the
/// groups claim; every refusal answers as OpenBao does, with its text.
#[tokio::test(flavor = "multi_thread")]
async fn jwt_login_identity_and_refusals() {
    let s = servers();
    both_ok(&s, "POST", "sys/auth/jwt", json!({"type": "jwt"})).await;
    let key = Key::new("k1");
    let other = Key::new("k1");
    both_ok(
        &s,
        "POST",
        "auth/jwt/config",
        json!({"jwt_validation_pubkeys": [key.pem], "bound_issuer": "iss1"}),
    )
    .await;
    let role = json!({
        "role_type": "jwt", "bound_audiences": "aud1", "user_claim": "sub",
        "bound_claims_type": "glob", "bound_claims": {"/org/team": ["al*", "beta"]},
        "claim_mappings": {"email": "mail", "/org/team": "team"}, "groups_claim": "groups",
        "token_policies": "dev",
    });
    both_ok(&s, "POST", "auth/jwt/role/r1", role).await;
    both_ok(
        &s,
        "POST",
        "auth/jwt/role/r2",
        json!({"role_type": "jwt", "bound_subject": "alice", "user_claim": "sub"}),
    )
    .await;
    both_ok(&s, "POST", "auth/jwt/role/web", json!({"user_claim": "sub", "allowed_redirect_uris": "http://localhost:8250/oidc/callback"})).await;

    let t = now();
    let base = json!({
        "iss": "iss1", "sub": "alice", "aud": "aud1", "exp": t + 600, "iat": t,
        "org": {"team": "alpha"}, "groups": ["g1", "g2"], "email": "alice@example.com",
    });
    let with = |patch: Value| {
        let mut c = base.clone();
        for (k, v) in patch.as_object().expect("patch") {
            if v.is_null() {
                c.as_object_mut().expect("claims").remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    let login = |role: &str, jwt: String| json!({"role": role, "jwt": jwt});
    let refusals = [
        (
            "expired",
            login(
                "r1",
                key.sign(&with(json!({"exp": t - 1000, "iat": t - 2000})), false),
            ),
        ),
        (
            "wrong audience",
            login("r1", key.sign(&with(json!({"aud": "other"})), false)),
        ),
        (
            "wrong issuer",
            login("r1", key.sign(&with(json!({"iss": "other"})), false)),
        ),
        ("bad signature", login("r1", other.sign(&base, false))),
        (
            "claim not matching",
            login(
                "r1",
                key.sign(&with(json!({"org": {"team": "gamma"}})), false),
            ),
        ),
        (
            "claim missing",
            login("r1", key.sign(&with(json!({"org": null})), false)),
        ),
        ("alg none", login("r1", unsigned(&base))),
        (
            "HS256 with the public key",
            login("r1", hmac_with_public_key(&key, &base)),
        ),
        (
            "no time claims",
            login(
                "r1",
                key.sign(&with(json!({"exp": null, "iat": null})), false),
            ),
        ),
        (
            "malformed exp",
            login("r1", key.sign(&with(json!({"exp": "soon"})), false)),
        ),
        (
            "not yet valid",
            login("r1", key.sign(&with(json!({"nbf": t + 1000})), false)),
        ),
        (
            "exp alone, far",
            login("r1", key.sign(&with(json!({"iat": null})), false)),
        ),
        ("not a JWT", login("r1", "abc".into())),
        (
            "no user claim",
            login("r1", key.sign(&with(json!({"sub": null})), false)),
        ),
        (
            "numeric sub",
            login("r1", key.sign(&with(json!({"sub": 5})), false)),
        ),
        (
            "numeric group",
            login("r1", key.sign(&with(json!({"groups": 5})), false)),
        ),
        ("aud but none bound", login("r2", key.sign(&base, false))),
        ("unknown role", login("zz", key.sign(&base, false))),
        ("oidc role", login("web", key.sign(&base, false))),
        ("no role", json!({"jwt": key.sign(&base, false)})),
        ("no jwt", json!({"role": "r1"})),
    ];
    for (what, body) in refusals {
        let a = same_unauth(&s, "POST", "auth/jwt/login", Some(body)).await;
        assert_eq!(a.status, 400, "{what}: {}", a.body);
    }
    let a = same_unauth(
        &s,
        "POST",
        "auth/jwt/login",
        Some(login("r1", unsigned(&base))),
    )
    .await;
    assert!(
        errors(&a).contains("no known key successfully validated"),
        "{}",
        a.body
    );

    // Success: the same answer's shape on both, then the identity Arca made.
    let accessor = root_ok(&s[0], "GET", "sys/auth", None).await["data"]["jwt/"]["accessor"]
        .as_str()
        .expect("accessor")
        .to_string();
    let group = root_ok(
        &s[0],
        "POST",
        "identity/group",
        Some(json!({"name": "ext-g1", "type": "external"})),
    )
    .await;
    let group_id = group["data"]["id"].as_str().expect("group id").to_string();
    root_ok(
        &s[0],
        "POST",
        "identity/group-alias",
        Some(json!({"name": "g1", "mount_accessor": accessor, "canonical_id": group_id})),
    )
    .await;

    let good = login("r1", key.sign(&with(json!({"aud": ["x", "aud1"]})), false));
    let a = call(&s[0], "POST", "auth/jwt/login", None, Some(good.clone())).await;
    let b = call(&s[1], "POST", "auth/jwt/login", None, Some(good)).await;
    assert_eq!((a.status, b.status), (200, 200), "{} / {}", a.body, b.body);
    for k in [
        "metadata",
        "policies",
        "token_policies",
        "renewable",
        "token_type",
        "orphan",
        "lease_duration",
    ] {
        assert_eq!(a.body["auth"][k], b.body["auth"][k], "auth.{k}");
    }
    assert_eq!(
        a.body["auth"]["metadata"],
        json!({"mail": "alice@example.com", "team": "alpha", "role": "r1"})
    );
    let entity_id = a.body["auth"]["entity_id"]
        .as_str()
        .expect("entity")
        .to_string();
    let entity = root_ok(
        &s[0],
        "GET",
        &format!("identity/entity/id/{entity_id}"),
        None,
    )
    .await;
    let alias = &entity["data"]["aliases"][0];
    assert_eq!(alias["name"], "alice");
    assert_eq!(alias["mount_accessor"], accessor.as_str());
    assert_eq!(
        alias["metadata"],
        json!({"mail": "alice@example.com", "team": "alpha", "role": "r1"})
    );
    let g = root_ok(&s[0], "GET", &format!("identity/group/id/{group_id}"), None).await;
    assert!(
        g["data"]["member_entity_ids"]
            .as_array()
            .expect("members")
            .iter()
            .any(|m| m == entity_id.as_str()),
        "{g}"
    );
    // The token renews through the method.
    let token = a.body["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    let r = call(
        &s[0],
        "POST",
        "auth/token/renew-self",
        Some(&token),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let good = login("r1", key.sign(&with(json!({"aud": ["x", "aud1"]})), false));
    for srv in &s {
        mfa_on_jwt_login(srv, &good).await;
    }

    // default_role stands in for a missing role; jwt_supported_algs is enforced.
    both_ok(&s, "POST", "auth/jwt/config", json!({"jwt_validation_pubkeys": [key.pem], "bound_issuer": "iss1", "default_role": "r1", "jwt_supported_algs": "RS256"})).await;
    let a = same_unauth(
        &s,
        "POST",
        "auth/jwt/login",
        Some(json!({"jwt": key.sign(&base, false)})),
    )
    .await;
    assert!(errors(&a).contains("unexpected algorithm"), "{}", a.body);
    templated_policies(&s, &key).await;
    es512_login(&s).await;
}

/// `token_policies_template_claims`: the role's policies are Go templates over the
/// token's claims; a claim the template names and the token lacks fails the login, and a
/// template that does not parse is refused when the role is written, each as OpenBao.
async fn templated_policies(s: &[Server; 2], key: &Key) {
    let cfg = json!({"jwt_validation_pubkeys": [key.pem]});
    both_ok(s, "POST", "auth/jwt/config", cfg).await;
    let role = json!({
        "role_type": "jwt", "user_claim": "sub", "bound_subject": "alice", "token_policies_template_claims": true,
        "token_policies": ["base", "team-{{.team}}", "{{ .env | lowercase }}", "{{.team}}-x", "base"],
    });
    let w = same_root(s, "POST", "auth/jwt/role/tp", Some(role)).await;
    assert_eq!(w.status, 204, "{}", w.body);
    same_root(s, "GET", "auth/jwt/role/tp", None).await;
    let t = now();
    let claims = json!({"sub": "alice", "iat": t, "exp": t + 600, "team": "alpha", "env": "PROD"});
    let body = json!({"role": "tp", "jwt": key.sign(&claims, false)});
    let a = call(&s[0], "POST", "auth/jwt/login", None, Some(body.clone())).await;
    let b = call(&s[1], "POST", "auth/jwt/login", None, Some(body)).await;
    assert_eq!((a.status, b.status), (200, 200), "{} / {}", a.body, b.body);
    for k in ["policies", "token_policies"] {
        assert_eq!(a.body["auth"][k], b.body["auth"][k], "auth.{k}");
    }
    let lacking = json!({"sub": "alice", "iat": t, "exp": t + 600, "env": "dev"});
    let body = json!({"role": "tp", "jwt": key.sign(&lacking, false)});
    let a = same_unauth(s, "POST", "auth/jwt/login", Some(body)).await;
    assert!(
        errors(&a).contains("map has no entry for key"),
        "{}",
        a.body
    );
    for bad in ["{{.team", "{{ nosuchfunc }}"] {
        let role = json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "alice", "token_policies_template_claims": true, "token_policies": [bad]});
        let a = same_root(s, "POST", "auth/jwt/role/tp2", Some(role)).await;
        assert!(
            errors(&a).contains("failed to parse template policy [0]"),
            "{}",
            a.body
        );
    }
}

/// ES512 (P-521, which `jsonwebtoken` lacks): a token signed with the configured PEM key
/// logs in on both; one with a flipped signature byte is refused with the same text.
async fn es512_login(s: &[Server; 2]) {
    use aws_lc_rs::signature::ECDSA_P521_SHA512_FIXED_SIGNING;
    let kp = EcdsaKeyPair::generate(&ECDSA_P521_SHA512_FIXED_SIGNING).expect("P-521 key");
    let spki = kp.public_key().as_der().expect("spki");
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----",
        STANDARD.encode(spki.as_ref())
    );
    let cfg = json!({"jwt_validation_pubkeys": [pem], "jwt_supported_algs": "ES512"});
    both_ok(s, "POST", "auth/jwt/config", cfg).await;
    let t = now();
    let input = format!(
        "{}.{}",
        b64json(&json!({"alg": "ES512", "typ": "JWT"})),
        b64json(&json!({"sub": "alice", "iat": t, "exp": t + 600}))
    );
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let mut sig = kp
        .sign(&rng, input.as_bytes())
        .expect("sign")
        .as_ref()
        .to_vec();
    assert_eq!(sig.len(), 132);
    let good = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&sig));
    for srv in s {
        let body = json!({"role": "r2", "jwt": good});
        let a = call(srv, "POST", "auth/jwt/login", None, Some(body)).await;
        assert_eq!(a.status, 200, "{}: {}", srv.addr, a.body);
        assert_eq!(a.body["auth"]["metadata"]["role"], "r2");
    }
    sig[10] ^= 1;
    let bad = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&sig));
    let a = same_unauth(
        s,
        "POST",
        "auth/jwt/login",
        Some(json!({"role": "r2", "jwt": bad})),
    )
    .await;
    assert_eq!(a.status, 400);
    assert!(
        errors(&a).contains("no known key successfully validated"),
        "{}",
        a.body
    );
}

/// RFC 6238 (SHA-1, 30 s) for the current step, with the secret and digits of the
/// `otpauth://` URL of `admin-generate`.
fn totp_now(otpauth: &str) -> String {
    let query = otpauth.split_once('?').expect("query").1;
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .expect(name)
            .to_string()
    };
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut key, mut buf, mut bits) = (Vec::new(), 0u64, 0u32);
    for c in param("secret").bytes() {
        let v = ALPHABET.iter().position(|&x| x == c).expect("base32");
        buf = (buf << 5) | v as u64;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            key.push((buf >> bits) as u8);
        }
    }
    let digits: u32 = param("digits").parse().expect("digits");
    let step = (now() / 30) as u64;
    let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &key);
    let mac = aws_lc_rs::hmac::sign(&k, &step.to_be_bytes());
    let mac = mac.as_ref();
    let o = usize::from(mac[19] & 0x0f);
    let bin = u32::from_be_bytes([mac[o] & 0x7f, mac[o + 1], mac[o + 2], mac[o + 3]]);
    format!("{:0w$}", bin % 10u32.pow(digits), w = digits as usize)
}

/// Login MFA on a jwt mount: with a TOTP login enforcement bound to the mount's accessor,
/// the login of an entity that has a TOTP secret is held (`mfa_requirement`, no token)
/// until `sys/mfa/validate` gets the code; the token then carries the login's metadata.
async fn mfa_on_jwt_login(srv: &Server, good: &Value) {
    let first = call(srv, "POST", "auth/jwt/login", None, Some(good.clone())).await;
    assert_eq!(first.status, 200, "{}: {}", srv.addr, first.body);
    let entity = first.body["auth"]["entity_id"].as_str().expect("entity");
    let m = root_ok(
        srv,
        "POST",
        "identity/mfa/method/totp",
        Some(json!({"issuer": "Arca", "period": 30})),
    )
    .await;
    let m = m["data"]["method_id"]
        .as_str()
        .expect("method id")
        .to_string();
    let secret = root_ok(
        srv,
        "POST",
        "identity/mfa/method/totp/admin-generate",
        Some(json!({"method_id": m, "entity_id": entity})),
    )
    .await;
    let otpauth = secret["data"]["url"].as_str().expect("url").to_string();
    let auths = root_ok(srv, "GET", "sys/auth", None).await;
    let accessor = auths["data"]["jwt/"]["accessor"]
        .as_str()
        .expect("accessor");
    let e = "identity/mfa/login-enforcement/jwt-logins";
    let body = json!({"mfa_method_ids": [m], "auth_method_accessors": [accessor]});
    root_ok(srv, "POST", e, Some(body)).await;
    let held = call(srv, "POST", "auth/jwt/login", None, Some(good.clone())).await;
    assert_eq!(held.status, 200, "{}: {}", srv.addr, held.body);
    let auth = &held.body["auth"];
    assert_eq!(auth["client_token"], "", "{}: {}", srv.addr, held.body);
    let req = &auth["mfa_requirement"];
    assert_eq!(
        req["mfa_constraints"]["jwt-logins"]["any"][0]["id"],
        m.as_str(),
        "{}: {}",
        srv.addr,
        held.body
    );
    let request_id = req["mfa_request_id"].as_str().expect("request id");
    let payload =
        json!({"mfa_request_id": request_id, "mfa_payload": {m.as_str(): [totp_now(&otpauth)]}});
    let done = call(srv, "POST", "sys/mfa/validate", None, Some(payload)).await;
    assert_eq!(done.status, 200, "{}: {}", srv.addr, done.body);
    assert_eq!(done.body["auth"]["entity_id"], entity, "{}", srv.addr);
    assert_eq!(done.body["auth"]["metadata"]["role"], "r1");
    assert!(
        !done.body["auth"]["client_token"]
            .as_str()
            .unwrap_or("")
            .is_empty()
    );
    root_ok(srv, "DELETE", e, None).await;
}

/// JWKS keys are fetched, cached, and fetched again when a token names an unknown `kid`:
/// after the provider rotates its key, a login with the new key works with no change to the
/// config. Tokens signed by unpublished keys, `alg: none` and HS256 are refused as OpenBao
/// refuses them.
#[tokio::test(flavor = "multi_thread")]
async fn jwks_rotation_and_refusals() {
    let idp = Idp::start().await;
    let s = servers();
    both_ok(&s, "POST", "sys/auth/jwt", json!({"type": "jwt"})).await;
    both_ok(
        &s,
        "POST",
        "auth/jwt/config",
        json!({"jwks_url": format!("{}/jwks", idp.issuer)}),
    )
    .await;
    both_ok(
        &s,
        "POST",
        "auth/jwt/role/ci",
        json!({"role_type": "jwt", "bound_audiences": "ci", "user_claim": "sub"}),
    )
    .await;
    let t = now();
    let claims = json!({"sub": "runner", "aud": "ci", "iat": t, "exp": t + 600});
    let body = |jwt: String| Some(json!({"role": "ci", "jwt": jwt}));
    for srv in &s {
        let a = call(srv, "POST", "auth/jwt/login", None, body(idp.sign(&claims))).await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    // A key the provider never published.
    let stranger = Key::new("k9");
    let a = same_unauth(
        &s,
        "POST",
        "auth/jwt/login",
        body(stranger.sign(&claims, true)),
    )
    .await;
    assert!(
        errors(&a).contains("failed to verify id token signature"),
        "{}",
        a.body
    );
    let a = same_unauth(&s, "POST", "auth/jwt/login", body(unsigned(&claims))).await;
    assert!(
        errors(&a).contains("unexpected signature algorithm"),
        "{}",
        a.body
    );
    let pem_key = Key::new("k1");
    same_unauth(
        &s,
        "POST",
        "auth/jwt/login",
        body(hmac_with_public_key(&pem_key, &claims)),
    )
    .await;
    same_unauth(&s, "POST", "auth/jwt/login", body("abc".into())).await;
    // Rotation: the cached set lacks k2, so the set is fetched again.
    idp.rotate("k2");
    for srv in &s {
        let a = call(srv, "POST", "auth/jwt/login", None, body(idp.sign(&claims))).await;
        assert_eq!(a.status, 200, "after rotation: {}", a.body);
    }
    // `arca login -method=jwt` (an Arca addition: OpenBao's CLI has no jwt method).
    let jwt = format!("jwt={}", idp.sign(&claims));
    let args = [
        "login",
        "-method=jwt",
        "-no-store",
        "-format=json",
        "role=ci",
        jwt.as_str(),
    ];
    let (code, out, err) = common::run_arca(&s[0].addr, None, &args);
    assert_eq!(code, 0, "{out}\n{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["auth"]["metadata"]["role"], "ci");
    let (code, _, err) = common::run_bao(&s[1].addr, None, &args);
    assert_eq!(code, 1, "OpenBao's CLI has no jwt method: {err}");
}

/// Configures the `oidc` mount of `srv` for the in-test provider.
async fn setup_oidc(srv: &Server, idp: &Idp, algs: &str) {
    root_ok(srv, "POST", "sys/auth/oidc", Some(json!({"type": "oidc"}))).await;
    root_ok(
        srv,
        "POST",
        "auth/oidc/config",
        Some(json!({
            "oidc_discovery_url": idp.issuer, "oidc_client_id": idp.client_id,
            "oidc_client_secret": "s3cret", "default_role": "web", "jwt_supported_algs": algs,
        })),
    )
    .await;
    root_ok(
        srv,
        "POST",
        "auth/oidc/role/web",
        Some(json!({
            "user_claim": "sub", "groups_claim": "groups", "oidc_scopes": "email",
            "allowed_redirect_uris": ["http://localhost:8250/oidc/callback"],
            "claim_mappings": {"email": "email", "department": "department"},
            "token_policies": "reader",
        })),
    )
    .await;
}

/// The OIDC code flow over HTTP: auth_url, the provider's redirect, the callback (code
/// exchanged with the PKCE verifier, ID token and nonce verified, userinfo merged), and
/// OpenBao's answers to unknown state, disallowed redirect URIs and missing roles.
#[tokio::test(flavor = "multi_thread")]
async fn oidc_flow_over_http() {
    let idp = Idp::start().await;
    let s = servers();
    for srv in &s {
        setup_oidc(srv, &idp, "").await;
    }
    let cfg = same_root(&s, "GET", "auth/oidc/config", None).await;
    assert!(cfg.body["data"].get("oidc_client_secret").is_none());
    // Refusals, as OpenBao.
    same_unauth(
        &s,
        "POST",
        "auth/oidc/oidc/auth_url",
        Some(json!({"role": "nope", "redirect_uri": "http://localhost:8250/oidc/callback"})),
    )
    .await;
    same_unauth(
        &s,
        "POST",
        "auth/oidc/oidc/auth_url",
        Some(json!({"role": "web"})),
    )
    .await;
    let a = same_unauth(
        &s,
        "POST",
        "auth/oidc/oidc/auth_url",
        Some(json!({"role": "web", "redirect_uri": "https://evil.example/cb"})),
    )
    .await;
    assert_eq!(a.body["data"]["auth_url"], "");
    let a = same_unauth(
        &s,
        "GET",
        "auth/oidc/oidc/callback?state=unknown&code=x",
        None,
    )
    .await;
    assert!(
        errors(&a).contains("Expired or missing OAuth state"),
        "{}",
        a.body
    );

    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    // With no jwt_supported_algs the flow takes RS256 ID tokens only: the provider's ES256
    // one is refused, with the same text on both.
    let mut refused = Vec::new();
    for srv in &s {
        let (state, code) = authorize(srv, &no_redirect, &idp, "cn0").await;
        let path = format!("auth/oidc/oidc/callback?state={state}&code={code}&client_nonce=cn0");
        refused.push(comparable_answer(
            &call(srv, "GET", &path, None, None).await,
            &[],
        ));
    }
    assert_eq!(refused[0], refused[1]);
    assert!(
        refused[0]
            .1
            .to_string()
            .contains("unexpected signature algorithm"),
        "{:?}",
        refused[0]
    );
    for srv in &s {
        root_ok(srv, "POST", "auth/oidc/config", Some(json!({
            "oidc_discovery_url": idp.issuer, "oidc_client_id": idp.client_id,
            "oidc_client_secret": "s3cret", "default_role": "web", "jwt_supported_algs": "ES256",
        }))).await;
    }
    for srv in &s {
        let (state, code) = authorize(srv, &no_redirect, &idp, "cn1").await;
        let path = format!("auth/oidc/oidc/callback?state={state}&code={code}&client_nonce=cn1");
        let done = call(srv, "GET", &path, None, None).await;
        assert_eq!(done.status, 200, "{}: {}", srv.addr, done.body);
        assert_eq!(done.body["auth"]["metadata"]["role"], "web");
        assert_eq!(done.body["auth"]["metadata"]["email"], "carol@example.com");
        assert_eq!(done.body["auth"]["metadata"]["department"], "platform");
        // The state is single use.
        let again = call(srv, "GET", &path, None, None).await;
        assert_eq!(again.status, 400);
        assert!(
            errors(&again).contains("Expired or missing OAuth state"),
            "{}",
            again.body
        );
    }
    assert_eq!(
        idp.pkce(),
        (4, 0),
        "each code exchange carried the right PKCE verifier"
    );
    assert_eq!(
        idp.client_auth(),
        (4, 0),
        "both servers send the client credentials in a Basic header first"
    );
    // A provider that refuses Basic credentials gets them in the form on the second try.
    idp.refuse_basic(true);
    for srv in &s {
        let (state, code) = authorize(srv, &no_redirect, &idp, "cn1").await;
        let path = format!("auth/oidc/oidc/callback?state={state}&code={code}&client_nonce=cn1");
        let done = call(srv, "GET", &path, None, None).await;
        assert_eq!(done.status, 200, "{}: {}", srv.addr, done.body);
    }
    assert_eq!(
        idp.client_auth(),
        (4, 2),
        "each server fell back to the form"
    );
    idp.refuse_basic(false);
    // A wrong client nonce is refused, as OpenBao refuses it.
    let mut wrong = Vec::new();
    for srv in &s {
        let (state, code) = authorize(srv, &no_redirect, &idp, "cn2").await;
        let path = format!("auth/oidc/oidc/callback?state={state}&code={code}&client_nonce=other");
        wrong.push(comparable_answer(
            &call(srv, "GET", &path, None, None).await,
            &[],
        ));
    }
    assert_eq!(wrong[0], wrong[1]);
    assert_eq!(wrong[0].0, 400);
    // With max_age the ID token must carry auth_time (the provider's has none).
    let mut aged = Vec::new();
    for srv in &s {
        root_ok(
            srv,
            "POST",
            "auth/oidc/role/web",
            Some(json!({"max_age": "10m"})),
        )
        .await;
        let (state, code) = authorize(srv, &no_redirect, &idp, "cn3").await;
        let path = format!("auth/oidc/oidc/callback?state={state}&code={code}&client_nonce=cn3");
        aged.push(comparable_answer(
            &call(srv, "GET", &path, None, None).await,
            &[],
        ));
    }
    assert_eq!(aged[0], aged[1]);
    assert_eq!(aged[0].0, 400);
    namespace_in_state(&s, &idp, &no_redirect).await;
}

/// `namespace_in_state` (on by default) in a child namespace: a `namespace` query
/// parameter of the redirect URI moves into the state as `,ns=<namespace>` (the redirect
/// URI is checked and sent without it); the callback takes the bare state, as OpenBao's UI
/// sends it, and refuses the suffixed one as OpenBao does. Turned off, the parameter stays
/// in the redirect URI, which the role then does not allow.
async fn namespace_in_state(s: &[Server; 2], idp: &Idp, no_redirect: &reqwest::Client) {
    let ns = Some("ns1");
    let redirect = "http://localhost:9999/oidc/callback?namespace=ns1";
    let mut queries = Vec::new();
    for srv in s {
        root_ok(srv, "POST", "sys/namespaces/ns1", None).await;
        let root = Some("root");
        for (method, path, body) in [
            ("POST", "sys/auth/oidc", json!({"type": "oidc"})),
            (
                "POST",
                "auth/oidc/config",
                json!({
                    "oidc_discovery_url": idp.issuer, "oidc_client_id": idp.client_id,
                    "oidc_client_secret": "s3cret", "default_role": "web",
                    "jwt_supported_algs": "ES256",
                }),
            ),
            (
                "POST",
                "auth/oidc/role/web",
                json!({
                    "user_claim": "sub",
                    "allowed_redirect_uris": ["http://localhost:8250/oidc/callback"],
                }),
            ),
        ] {
            let a = ns_call(srv, ns, method, path, root, Some(body)).await;
            assert!(a.status == 200 || a.status == 204, "{path}: {}", a.body);
        }
        let read = ns_call(srv, ns, "GET", "auth/oidc/config", root, None).await;
        assert_eq!(
            read.body["data"]["namespace_in_state"], true,
            "{}",
            srv.addr
        );
        let (state, code, mut q) = authorize_in(srv, ns, redirect, no_redirect, idp, "n1").await;
        let (bare, suffix) = state.split_once(',').expect("state with the namespace");
        assert_eq!(suffix, "ns=ns1", "{}", srv.addr);
        assert_eq!(q["redirect_uri"], "http://localhost:9999/oidc/callback");
        // The state with its suffix is not a started login, on both.
        let path = format!(
            "auth/oidc/oidc/callback?state={}&code={code}&client_nonce=n1",
            state.replace(',', "%2C").replace('=', "%3D")
        );
        let suffixed = ns_call(srv, ns, "GET", &path, None, None).await;
        assert_eq!(suffixed.status, 400);
        assert!(
            errors(&suffixed).contains("Expired or missing OAuth state"),
            "{}",
            suffixed.body
        );
        let path = format!("auth/oidc/oidc/callback?state={bare}&code={code}&client_nonce=n1");
        let done = ns_call(srv, ns, "GET", &path, None, None).await;
        assert_eq!(done.status, 200, "{}: {}", srv.addr, done.body);
        assert_eq!(done.body["auth"]["metadata"]["role"], "web");
        for k in ["state", "nonce", "code_challenge"] {
            q.remove(k);
        }
        queries.push(q);
        // Off: the redirect URI keeps its parameter and is not allowed.
        let off = json!({
            "oidc_discovery_url": idp.issuer, "oidc_client_id": idp.client_id,
            "oidc_client_secret": "s3cret", "default_role": "web", "namespace_in_state": false,
        });
        let a = ns_call(srv, ns, "POST", "auth/oidc/config", root, Some(off)).await;
        assert_eq!(a.status, 204, "{}", a.body);
        let body = json!({"redirect_uri": redirect});
        let a = ns_call(srv, ns, "POST", "auth/oidc/oidc/auth_url", None, Some(body)).await;
        assert_eq!(a.body["data"]["auth_url"], "", "{}: {}", srv.addr, a.body);
    }
    assert_eq!(
        queries[0], queries[1],
        "Arca (left) and OpenBao (right) differ"
    );
}

/// Asks `srv` for an authorization URL (a loopback redirect URI on another port than the
/// allowed one: loopback URIs match whatever the port), checks it, and follows it to the
/// provider, which approves at once; answers the state and code of the redirect back.
async fn authorize(
    srv: &Server,
    no_redirect: &reqwest::Client,
    idp: &Idp,
    client_nonce: &str,
) -> (String, String) {
    let (state, code, _) = authorize_in(
        srv,
        None,
        "http://localhost:9999/oidc/callback",
        no_redirect,
        idp,
        client_nonce,
    )
    .await;
    (state, code)
}

/// [`authorize`] in namespace `ns` (root when `None`) with `redirect_uri`; answers the
/// authorization URL's query too.
async fn authorize_in(
    srv: &Server,
    ns: Option<&str>,
    redirect_uri: &str,
    no_redirect: &reqwest::Client,
    idp: &Idp,
    client_nonce: &str,
) -> (String, String, HashMap<String, String>) {
    let body = json!({"redirect_uri": redirect_uri, "client_nonce": client_nonce});
    let a = ns_call(srv, ns, "POST", "auth/oidc/oidc/auth_url", None, Some(body)).await;
    let url = a.body["data"]["auth_url"]
        .as_str()
        .expect("auth_url")
        .to_string();
    assert!(
        url.starts_with(&format!("{}/authorize?", idp.issuer)),
        "{url}"
    );
    let u = reqwest::Url::parse(&url).expect("url");
    let q: HashMap<String, String> = u
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["client_id"], idp.client_id);
    assert!(q["scope"].split(' ').any(|x| x == "openid"), "{url}");
    let r = no_redirect.get(&url).send().await.expect("authorize");
    assert_eq!(r.status().as_u16(), 302);
    let loc =
        reqwest::Url::parse(r.headers()["location"].to_str().expect("location")).expect("loc");
    let back: HashMap<String, String> = loc
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    (back["state"].clone(), back["code"].clone(), q)
}

/// A request in namespace `ns` (`X-Vault-Namespace`), or the root one.
async fn ns_call(
    srv: &Server,
    ns: Option<&str>,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let headers: Vec<(&str, &str)> = ns.map(|n| ("X-Vault-Namespace", n)).into_iter().collect();
    common::call_with(
        srv,
        method,
        path,
        token,
        &headers,
        body.map(common::Body::Json),
    )
    .await
}

/// Spawns `bin login -method=oidc` against `addr` with the callback listener on a free
/// port, opens the URL it prints (following redirects to its listener) and returns its
/// exit code and stdout.
async fn cli_oidc_login(bin: std::path::PathBuf, addr: String) -> (i32, String, String) {
    let port = arca_testkit::free_port();
    let mut child = Command::new(bin)
        .args([
            "login",
            "-method=oidc",
            "-format=json",
            "role=web",
            "skip_browser=true",
            &format!("port={port}"),
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("VAULT_ADDR", &addr)
        .env("BAO_ADDR", &addr)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cli");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.trim_start().starts_with("http") {
                let _ = tx.send(line.trim().to_string());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let url = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(60)))
        .await
        .expect("join")
        .expect("the CLI printed the authorization URL");
    // The provider redirects to the CLI's listener, which finishes the login.
    let r = match reqwest::Client::new().get(&url).send().await {
        Ok(r) => r,
        Err(e) => {
            let _ = child.kill();
            let out = child.wait_with_output().expect("cli");
            let err = reader.join().expect("reader");
            panic!(
                "open {url}: {e}\nstdout: {}\nstderr: {err}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    };
    assert!(r.status().is_success(), "{}", r.status());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("cli");
    let err = reader.join().expect("reader");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        err,
    )
}

/// `bao login -method=oidc` (the real OpenBao CLI) and `arca login -method=oidc` both
/// complete the browser flow against Arca.
#[tokio::test(flavor = "multi_thread")]
async fn cli_oidc_login_with_bao_and_arca() {
    let idp = Idp::start().await;
    let arca = Server::dev();
    setup_oidc(&arca, &idp, "ES256").await;
    for bin in [arca_testkit::bao(), common::arca_bin()] {
        let (code, out, err) = cli_oidc_login(bin.clone(), arca.addr.clone()).await;
        assert_eq!(code, 0, "{}: {out}\n{err}", bin.display());
        assert!(
            err.contains("Complete the login via your OIDC provider. Open the following link in your browser:"),
            "{err}"
        );
        let v: Value = serde_json::from_str(&out).expect("json output");
        let token = v["auth"]["client_token"].as_str().expect("token");
        let me = call(&arca, "GET", "auth/token/lookup-self", Some(token), None).await;
        assert_eq!(me.status, 200);
        assert_eq!(me.body["data"]["meta"]["role"], "web");
    }
}
