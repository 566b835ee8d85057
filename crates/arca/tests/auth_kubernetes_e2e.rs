//! Issue 20 (point 3), the kubernetes auth method end to end against the real `arca` binary
//! and a real OpenBao dev server, both pointed at one small Kubernetes API server run by the
//! test over HTTPS (a certificate made with rcgen): it answers TokenReview (authenticated or
//! not per token, the service account's username, UID and audiences, only for the reviewer
//! JWT or the token itself as bearer) and `GET /api/v1/namespaces/<ns>` with labels.
//! Checked side by side: config and role answers, logins (alias and metadata through
//! `lookup-self` and the identity entity), renewal, every refusal with OpenBao's text and
//! status, and `login -method=kubernetes` with the `bao` and `arca` CLIs.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use common::{Answer, Server, call, comparable_answer, root_ok, run_arca, run_bao, servers};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const REVIEWER_JWT: &str = "reviewer-jwt-for-tests";
const DEFAULT_AUD: &str = "https://kubernetes.default.svc";

// ---------------------------------------------------------------------------------------
// The in-test Kubernetes API server.

/// What the API server saw: (path, bearer token) of each request.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// A running API server: its URL, the CA (its own certificate) to trust, and what it saw.
struct ApiServer {
    url: String,
    ca_pem: String,
    seen: Seen,
}

fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
}

/// The unverified claims of a compact JWT (empty when it is none).
fn claims_of(token: &str) -> serde_json::Map<String, Value> {
    token
        .split('.')
        .nth(1)
        .and_then(b64url_decode)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn status_body(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code})
}

/// The API server's answer to one request.
fn answer(method: &str, path: &str, bearer: &str, body: &[u8]) -> (u16, Value) {
    let namespaces: BTreeMap<&str, Value> = BTreeMap::from([
        ("ns1", json!({"team": "a", "env": "dev"})),
        ("ns2", json!({"team": "b"})),
    ]);
    if method == "GET" {
        if bearer != REVIEWER_JWT {
            return (401, status_body(401, "Unauthorized", "Unauthorized"));
        }
        let ns = path.trim_start_matches("/api/v1/namespaces/");
        return match namespaces.get(ns) {
            Some(labels) => (
                200,
                json!({"kind": "Namespace", "apiVersion": "v1",
                    "metadata": {"name": ns, "labels": labels}}),
            ),
            None => (
                404,
                status_body(404, "NotFound", &format!("namespaces \"{ns}\" not found")),
            ),
        };
    }
    if path != "/apis/authentication.k8s.io/v1/tokenreviews" {
        return (
            404,
            status_body(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ),
        );
    }
    let review: Value = serde_json::from_slice(body).unwrap_or_default();
    let token = review["spec"]["token"].as_str().unwrap_or_default();
    // The reviewer JWT may review any token; a token may review itself.
    if bearer != REVIEWER_JWT && bearer != token {
        return (401, status_body(401, "Unauthorized", "Unauthorized"));
    }
    let c = claims_of(token);
    if c.get("test_deny").is_some() {
        return (
            201,
            json!({"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
            "spec": review["spec"], "status": {"authenticated": false}}),
        );
    }
    let s = |k: &str| {
        c.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let audiences = c
        .get("test_review_aud")
        .cloned()
        .unwrap_or_else(|| json!([DEFAULT_AUD]));
    (
        201,
        json!({"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
            "spec": review["spec"],
            "status": {"authenticated": true, "audiences": audiences,
                "user": {"username": format!("system:serviceaccount:{}:{}",
                        s("kubernetes.io/serviceaccount/namespace"),
                        s("kubernetes.io/serviceaccount/service-account.name")),
                    "uid": s("kubernetes.io/serviceaccount/service-account.uid"),
                    "groups": ["system:serviceaccounts"]}}}),
    )
}

/// Reads one HTTP/1.1 request: method, path, bearer token, body.
async fn read_request<S: tokio::io::AsyncRead + Unpin>(
    s: &mut S,
) -> Option<(String, String, String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let mut length = 0usize;
    let mut bearer = String::new();
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        match k.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = v.trim().parse().unwrap_or(0),
            "authorization" => bearer = v.trim().trim_start_matches("Bearer ").to_string(),
            _ => {}
        }
    }
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((method, path, bearer, body))
}

/// A self-signed certificate for 127.0.0.1: (certificate PEM, key PEM).
fn self_signed() -> (String, String) {
    let c = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("certificate");
    (c.cert.pem(), c.signing_key.serialize_pem())
}

/// Starts the API server on a free port, in this test's runtime.
async fn start_api_server() -> ApiServer {
    let (cert_pem, key_pem) = self_signed();
    let certs = vec![rustls_pki_types::CertificateDer::from(
        rustls_pki_types::pem::PemObject::from_pem_slice(cert_pem.as_bytes())
            .map(|c: rustls_pki_types::CertificateDer<'static>| c.to_vec())
            .expect("cert der"),
    )];
    let key: rustls_pki_types::PrivateKeyDer<'static> =
        rustls_pki_types::pem::PemObject::from_pem_slice(key_pem.as_bytes()).expect("key der");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen: Seen = Arc::default();
    let seen2 = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let seen = Arc::clone(&seen2);
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Some((method, path, bearer, body)) = read_request(&mut tls).await else {
                    return;
                };
                if let Ok(mut seen) = seen.lock() {
                    seen.push((path.clone(), bearer.clone()));
                }
                let (code, v) = answer(&method, &path, &bearer, &body);
                let text = v.to_string();
                let resp = format!(
                    "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    ApiServer {
        url: format!("https://127.0.0.1:{port}"),
        ca_pem: cert_pem,
        seen,
    }
}

// ---------------------------------------------------------------------------------------
// Service account tokens.

/// The key pods' tokens are signed with, and the PEM of its public key.
struct Signer {
    key: jsonwebtoken::EncodingKey,
    public_pem: String,
}

fn signer() -> Signer {
    let pair = rcgen::KeyPair::generate().expect("key");
    Signer {
        key: jsonwebtoken::EncodingKey::from_ec_der(&pair.serialize_der()),
        public_pem: pair.public_key_pem(),
    }
}

/// A legacy service account token of `ns`/`name` (UID `uid-<name>`), with `extra` claims.
fn sa_token(signer: &Signer, ns: &str, name: &str, extra: Value) -> String {
    let mut claims = json!({
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": ns,
        "kubernetes.io/serviceaccount/secret.name": format!("{name}-token-x1"),
        "kubernetes.io/serviceaccount/service-account.name": name,
        "kubernetes.io/serviceaccount/service-account.uid": format!("uid-{name}"),
        "sub": format!("system:serviceaccount:{ns}:{name}"),
        "aud": [DEFAULT_AUD],
    });
    if let (Some(m), Value::Object(e)) = (claims.as_object_mut(), extra) {
        m.extend(e);
    }
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
        &claims,
        &signer.key,
    )
    .expect("sign")
}

// ---------------------------------------------------------------------------------------
// Helpers.

/// Sends the same root request to both servers and asserts the same comparable answer.
async fn same(s: &[Server; 2], method: &str, path: &str, body: Option<Value>) -> Answer {
    common::same_answer(s, method, path, body, &[]).await
}

async fn both_ok(s: &[Server; 2], method: &str, path: &str, body: Value) {
    for server in s {
        root_ok(server, method, path, Some(body.clone())).await;
    }
}

async fn login(s: &Server, body: Value) -> Answer {
    call(s, "POST", "auth/kubernetes/login", None, Some(body)).await
}

/// The same login on both servers: the same status and errors, or for a success the same
/// auth apart from the token, accessor and entity.
async fn same_login(s: &[Server; 2], body: Value) -> Answer {
    let a = login(&s[0], body.clone()).await;
    let b = login(&s[1], body.clone()).await;
    let strip = |x: &Answer| {
        let (status, mut v) = comparable_answer(x, &[]);
        if let Some(auth) = v.get_mut("auth").and_then(Value::as_object_mut) {
            for k in ["client_token", "accessor", "entity_id"] {
                auth.remove(k);
            }
        }
        (status, v)
    };
    assert_eq!(
        strip(&a),
        strip(&b),
        "login {body}: Arca (left) and OpenBao (right) differ"
    );
    a
}

fn config_body(api: &ApiServer, extra: Value) -> Value {
    let mut v = json!({"kubernetes_host": api.url, "kubernetes_ca_cert": api.ca_pem,
        "token_reviewer_jwt": REVIEWER_JWT});
    if let (Some(m), Value::Object(e)) = (v.as_object_mut(), extra) {
        m.extend(e);
    }
    v
}

async fn enable(s: &[Server; 2]) {
    both_ok(
        s,
        "POST",
        "sys/auth/kubernetes",
        json!({"type": "kubernetes"}),
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// Tests.

#[tokio::test]
async fn config_and_roles_answer_as_openbao() {
    let s = servers();
    enable(&s).await;
    let api = start_api_server().await;
    let signer = signer();
    assert_eq!(
        same(&s, "GET", "auth/kubernetes/config", None).await.status,
        404
    );
    for body in [
        json!({}),
        json!({"kubernetes_host": "https://x", "disable_local_ca_jwt": true}),
        json!({"kubernetes_host": "https://x", "pem_keys": ["garbage"]}),
        json!({"kubernetes_host": "https://x", "kubernetes_ca_cert": "c", "pem_keys": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"}),
        json!({"kubernetes_host": "https://x", "kubernetes_ca_cert": "c", "pem_keys": [format!("{}trailing", signer.public_pem)]}),
        // No CA given and none in the pod: the pod's CA file is missing.
        json!({"kubernetes_host": "https://x", "token_reviewer_jwt": "t"}),
    ] {
        let a = same(&s, "POST", "auth/kubernetes/config", Some(body.clone())).await;
        assert_eq!(a.status, 400, "{body}: {}", a.body);
    }
    for body in [
        json!({"kubernetes_host": "https://x", "kubernetes_ca_cert": "garbage"}),
        config_body(
            &api,
            json!({"pem_keys": [signer.public_pem], "issuer": "iss", "disable_iss_validation": false}),
        ),
        config_body(&api, json!({"disable_local_ca_jwt": true})),
    ] {
        same(&s, "POST", "auth/kubernetes/config", Some(body)).await;
        let read = same(&s, "GET", "auth/kubernetes/config", None).await;
        assert_eq!(
            read.body["data"].get("token_reviewer_jwt"),
            None,
            "never shown"
        );
    }

    let roles = "auth/kubernetes/role";
    for body in [
        json!({}),
        json!({"bound_service_account_names": "a,*"}),
        json!({"bound_service_account_names": "a"}),
        json!({"bound_service_account_names": "a", "bound_service_account_namespaces": "x,*"}),
        json!({"bound_service_account_names": "a", "bound_service_account_namespace_selector": "garbage"}),
        json!({"bound_service_account_names": "a", "bound_service_account_namespace_selector": "{\"matchExpressions\":[]}"}),
        json!({"bound_service_account_names": "a", "bound_service_account_namespace_selector": "matchLabels: x"}),
        json!({"bound_service_account_names": "a", "bound_service_account_namespaces": "ns", "alias_name_source": "x"}),
        json!({"bound_service_account_names": "a", "bound_service_account_namespaces": "ns", "ttl": "1h", "max_ttl": "30m"}),
        json!({"bound_service_account_names": "a", "bound_service_account_namespaces": "ns", "token_type": "bogus"}),
        json!({"bound_service_account_names": "a", "bound_service_account_namespaces": "ns", "token_period": "999999h"}),
    ] {
        let a = same(&s, "POST", &format!("{roles}/bad"), Some(body.clone())).await;
        assert_eq!(a.status, 400, "{body}: {}", a.body);
    }
    assert_eq!(
        same(&s, "GET", &format!("{roles}/bad"), None).await.status,
        404
    );
    for (name, body) in [
        (
            "r1",
            json!({"bound_service_account_names": "a", "bound_service_account_namespaces": "ns", "alias_name_source": ""}),
        ),
        (
            "R2",
            json!({"bound_service_account_names": ["a", "b*"], "bound_service_account_namespaces": ["n1"], "alias_name_source": "serviceaccount_name", "audience": "vault", "token_policies": "p1,p2", "token_ttl": "1h"}),
        ),
        (
            "r3",
            json!({"bound_service_account_names": "a", "bound_service_account_namespace_selector": "matchLabels:\n  team: a\n", "policies": "P1,p2", "ttl": "1h", "max_ttl": "2h", "period": "10m", "num_uses": 3, "bound_cidrs": "10.0.0.0/8"}),
        ),
        (
            "r4",
            json!({"bound_service_account_names": "a", "bound_service_account_namespaces": "", "bound_service_account_namespace_selector": "{\"matchLabels\":{\"n\":1}}", "token_max_ttl": "9999h"}),
        ),
    ] {
        let write = same(&s, "POST", &format!("{roles}/{name}"), Some(body)).await;
        assert!(write.status == 204 || write.status == 200, "{}", write.body);
        let read = same(&s, "GET", &format!("{roles}/{}", name.to_lowercase()), None).await;
        assert_eq!(read.status, 200);
    }
    let warned = call(
        &s[0],
        "POST",
        &format!("{roles}/r4"),
        Some("root"),
        Some(json!({"bound_service_account_namespace_selector": "{}", "token_max_ttl": "9999h"})),
    )
    .await;
    assert_eq!(
        warned.body["warnings"][0],
        "max_ttl is greater than the system or backend mount's maximum TTL value; issued tokens' max TTL value will be truncated"
    );
    // An update without the selector clears it, and then nothing binds the namespaces.
    let a = same(
        &s,
        "POST",
        &format!("{roles}/r4"),
        Some(json!({"token_ttl": "5m"})),
    )
    .await;
    assert_eq!(a.status, 400);
    let list = same(&s, "LIST", roles, None).await;
    assert_eq!(list.body["data"]["keys"], json!(["r1", "r2", "r3", "r4"]));
    same(&s, "DELETE", &format!("{roles}/R2"), None).await;
    same(&s, "DELETE", &format!("{roles}/absent"), None).await;
    let list = same(&s, "LIST", roles, None).await;
    assert_eq!(list.body["data"]["keys"], json!(["r1", "r3", "r4"]));
}

#[tokio::test]
async fn logins_and_refusals_as_openbao() {
    let s = servers();
    enable(&s).await;
    let api = start_api_server().await;
    let pods = signer();
    let other = signer();
    both_ok(
        &s,
        "POST",
        "auth/kubernetes/config",
        config_body(&api, json!({})),
    )
    .await;
    both_ok(&s, "POST", "auth/kubernetes/role/app", json!({"bound_service_account_names": "sa1,web-*", "bound_service_account_namespaces": "ns1", "token_policies": "p1", "token_ttl": "1h"})).await;
    both_ok(&s, "POST", "auth/kubernetes/role/byname", json!({"bound_service_account_names": "*", "bound_service_account_namespaces": "*", "alias_name_source": "serviceaccount_name"})).await;
    both_ok(&s, "POST", "auth/kubernetes/role/sel", json!({"bound_service_account_names": "*", "bound_service_account_namespace_selector": "matchLabels:\n  team: a\n"})).await;
    both_ok(&s, "POST", "auth/kubernetes/role/aud", json!({"bound_service_account_names": "sa1", "bound_service_account_namespaces": "ns1", "audience": "vault"})).await;

    // A successful login: alias (the UID) and metadata as OpenBao gives them.
    let jwt = sa_token(&pods, "ns1", "sa1", json!({}));
    let a = same_login(&s, json!({"role": "app", "jwt": jwt})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let meta = json!({"role": "app", "service_account_name": "sa1", "service_account_namespace": "ns1",
        "service_account_secret_name": "sa1-token-x1", "service_account_uid": "uid-sa1"});
    assert_eq!(a.body["auth"]["metadata"], meta);
    assert_eq!(a.body["auth"]["policies"], json!(["default", "p1"]));
    let token = a.body["auth"]["client_token"].as_str().unwrap().to_string();
    let me = call(&s[0], "GET", "auth/token/lookup-self", Some(&token), None).await;
    assert_eq!(me.body["data"]["display_name"], "kubernetes-ns1-sa1");
    assert_eq!(me.body["data"]["meta"], meta);
    let entity = a.body["auth"]["entity_id"].as_str().unwrap();
    let e = root_ok(&s[0], "GET", &format!("identity/entity/id/{entity}"), None).await;
    let alias = &e["data"]["aliases"][0];
    assert_eq!(alias["name"], "uid-sa1");
    assert_eq!(
        alias["metadata"],
        json!({"service_account_name": "sa1", "service_account_namespace": "ns1",
        "service_account_secret_name": "sa1-token-x1", "service_account_uid": "uid-sa1"})
    );
    // The review went to the API server with the reviewer JWT as bearer.
    assert!(
        api.seen
            .lock()
            .unwrap()
            .iter()
            .any(|(p, b)| p.ends_with("/tokenreviews") && b == REVIEWER_JWT)
    );
    // Renewal goes through the method and keeps the role's TTL.
    let r = call(
        &s[0],
        "POST",
        "auth/token/renew-self",
        Some(&token),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["auth"]["lease_duration"], 3600);
    // Once its role is gone, a login's token no longer renews.
    let body =
        json!({"bound_service_account_names": "sa1", "bound_service_account_namespaces": "ns1"});
    both_ok(&s, "POST", "auth/kubernetes/role/gone", body).await;
    let mut renewals = Vec::new();
    for server in &s {
        let jwt = sa_token(&pods, "ns1", "sa1", json!({}));
        let a = login(server, json!({"role": "gone", "jwt": jwt})).await;
        let token = a.body["auth"]["client_token"].as_str().unwrap().to_string();
        root_ok(server, "DELETE", "auth/kubernetes/role/gone", None).await;
        let r = call(
            server,
            "POST",
            "auth/token/renew-self",
            Some(&token),
            Some(json!({})),
        )
        .await;
        renewals.push((r.status, r.body["errors"].clone()));
    }
    assert_eq!(renewals[0], renewals[1], "renewal without the role");
    assert_eq!(renewals[0].0, 500);

    // Alias by name, a glob name, and a namespace chosen by its labels.
    let a = same_login(
        &s,
        json!({"role": "byname", "jwt": sa_token(&pods, "ns2", "web-x", json!({}))}),
    )
    .await;
    let e = root_ok(
        &s[0],
        "GET",
        &format!(
            "identity/entity/id/{}",
            a.body["auth"]["entity_id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(e["data"]["aliases"][0]["name"], "ns2/web-x");
    assert_eq!(
        same_login(
            &s,
            json!({"role": "app", "jwt": sa_token(&pods, "ns1", "web-1", json!({}))})
        )
        .await
        .status,
        200
    );
    assert_eq!(
        same_login(
            &s,
            json!({"role": "sel", "jwt": sa_token(&pods, "ns1", "any", json!({}))})
        )
        .await
        .status,
        200
    );
    assert_eq!(same_login(&s, json!({"role": "aud", "jwt": sa_token(&pods, "ns1", "sa1", json!({"aud": ["vault"], "test_review_aud": ["vault"]}))})).await.status, 200);

    // Refusals: the same status and text from both.
    let refusals = [
        (json!({"role": "app"}), 400),
        (json!({"jwt": "x"}), 400),
        (json!({"role": "nope", "jwt": "x"}), 400),
        (json!({"role": "app", "jwt": "not-a-jwt"}), 403),
        (
            json!({"role": "app", "jwt": sa_token(&pods, "ns1", "sa1", json!({"test_deny": true}))}),
            403,
        ),
        (
            json!({"role": "app", "jwt": sa_token(&pods, "ns1", "other", json!({}))}),
            403,
        ),
        (
            json!({"role": "app", "jwt": sa_token(&pods, "ns2", "sa1", json!({}))}),
            403,
        ),
        (
            json!({"role": "sel", "jwt": sa_token(&pods, "ns2", "sa1", json!({}))}),
            403,
        ),
        (
            json!({"role": "sel", "jwt": sa_token(&pods, "ns9", "sa1", json!({}))}),
            403,
        ),
        (
            json!({"role": "aud", "jwt": sa_token(&pods, "ns1", "sa1", json!({"aud": ["other"]}))}),
            403,
        ),
        // The JWT names the audience but the API server says it is for another.
        (
            json!({"role": "aud", "jwt": sa_token(&pods, "ns1", "sa1", json!({"aud": ["vault"]}))}),
            403,
        ),
        (
            json!({"role": "app", "jwt": sa_token(&pods, "ns1", "sa1", json!({"exp": 1000}))}),
            403,
        ),
        (
            json!({"role": "app", "jwt": sa_token(&pods, "ns1", "sa1", json!({"aud": "vault"}))}),
            500,
        ),
    ];
    for (body, status) in &refusals {
        let a = same_login(&s, body.clone()).await;
        assert_eq!(a.status, *status, "{body}: {}", a.body);
    }
    let texts: Vec<Value> = [5, 6, 7, 8, 9]
        .iter()
        .map(|i| login(&s[0], refusals[*i].0.clone()))
        .collect::<futures::future::JoinAll<_>>()
        .await
        .into_iter()
        .map(|a| a.body["errors"][0].clone())
        .collect();
    assert_eq!(texts[0], "service account name not authorized");
    assert_eq!(texts[1], "namespace not authorized");
    assert_eq!(texts[2], "namespace not authorized");
    assert_eq!(
        texts[3],
        "namespace not authorized err=failed to get namespace (code 404 status namespaces \"ns9\" not found)"
    );
    assert_eq!(
        texts[4],
        "invalid audience (aud) claim: audience claim does not match any expected audience"
    );

    // With pem_keys the signature is checked here: another key's token is refused.
    both_ok(
        &s,
        "POST",
        "auth/kubernetes/config",
        config_body(&api, json!({"pem_keys": [pods.public_pem]})),
    )
    .await;
    assert_eq!(
        same_login(
            &s,
            json!({"role": "app", "jwt": sa_token(&pods, "ns1", "sa1", json!({}))})
        )
        .await
        .status,
        200
    );
    let bad = same_login(
        &s,
        json!({"role": "app", "jwt": sa_token(&other, "ns1", "sa1", json!({}))}),
    )
    .await;
    assert_eq!(
        (bad.status, &bad.body["errors"][0]),
        (403, &json!("permission denied"))
    );

    // Without a reviewer JWT the token reviews itself; namespace selectors then cannot work.
    both_ok(&s, "POST", "auth/kubernetes/config", json!({"kubernetes_host": api.url, "kubernetes_ca_cert": api.ca_pem, "disable_local_ca_jwt": true})).await;
    let jwt = sa_token(&pods, "ns1", "sa1", json!({}));
    assert_eq!(
        same_login(&s, json!({"role": "app", "jwt": jwt}))
            .await
            .status,
        200
    );
    assert!(
        api.seen.lock().unwrap().iter().any(|(_, b)| b == &jwt),
        "self-review bearer"
    );
    let a = same_login(
        &s,
        json!({"role": "sel", "jwt": sa_token(&pods, "ns1", "sa1", json!({}))}),
    )
    .await;
    assert_eq!(
        a.body["errors"][0],
        "namespace not authorized err=namespace lookup failed: TokenReviewer JWT needs to be configured to use namespace selectors"
    );

    // An API server that cannot be reached, or one whose certificate is not trusted.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_url = format!("https://{}", closed.local_addr().unwrap());
    drop(closed);
    let (untrusted, _) = self_signed();
    for config in [
        json!({"kubernetes_host": closed_url, "kubernetes_ca_cert": api.ca_pem, "token_reviewer_jwt": REVIEWER_JWT}),
        json!({"kubernetes_host": api.url, "kubernetes_ca_cert": untrusted, "token_reviewer_jwt": REVIEWER_JWT}),
    ] {
        both_ok(&s, "POST", "auth/kubernetes/config", config).await;
        let a = same_login(
            &s,
            json!({"role": "app", "jwt": sa_token(&pods, "ns1", "sa1", json!({}))}),
        )
        .await;
        assert_eq!(
            (a.status, &a.body["errors"][0]),
            (403, &json!("permission denied"))
        );
    }
    let a = login(
        &s[0],
        json!({"role": "sel", "jwt": sa_token(&pods, "ns1", "sa1", json!({}))}),
    )
    .await;
    assert_eq!(a.status, 403);
    assert!(
        a.body["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("namespace not authorized err=Get \"https://127.0.0.1:"),
        "{}",
        a.body
    );
}

// The CLIs run blocking: the API server needs threads of its own meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_login_with_bao_and_arca() {
    let s = servers();
    enable(&s).await;
    let api = start_api_server().await;
    let pods = signer();
    both_ok(
        &s,
        "POST",
        "auth/kubernetes/config",
        config_body(&api, json!({})),
    )
    .await;
    both_ok(&s, "POST", "sys/auth/k8s-b", json!({"type": "kubernetes"})).await;
    both_ok(
        &s,
        "POST",
        "auth/k8s-b/config",
        config_body(&api, json!({})),
    )
    .await;
    for mount in ["kubernetes", "k8s-b"] {
        both_ok(&s, "POST", &format!("auth/{mount}/role/app"), json!({"bound_service_account_names": "sa1", "bound_service_account_namespaces": "ns1", "token_policies": "p1"})).await;
    }
    let jwt = sa_token(&pods, "ns1", "sa1", json!({}));
    let jwt_arg = format!("jwt={jwt}");
    for args in [
        vec![
            "login",
            "-method=kubernetes",
            "-format=json",
            "role=app",
            jwt_arg.as_str(),
        ],
        vec![
            "login",
            "-method=kubernetes",
            "-path=k8s-b",
            "-format=json",
            "role=app",
            jwt_arg.as_str(),
        ],
        vec![
            "login",
            "-method=kubernetes",
            "-format=json",
            "mount=k8s-b",
            "role=app",
            jwt_arg.as_str(),
        ],
    ] {
        for server in &s {
            for (who, out) in [
                ("bao", run_bao(&server.addr, None, &args)),
                ("arca", run_arca(&server.addr, None, &args)),
            ] {
                assert_eq!(
                    out.0, 0,
                    "{who} {args:?} at {}: {} {}",
                    server.addr, out.1, out.2
                );
                let v: Value = serde_json::from_str(&out.1).expect("json");
                assert_eq!(v["auth"]["metadata"]["service_account_name"], "sa1");
                assert_eq!(v["auth"]["policies"], json!(["default", "p1"]));
            }
        }
    }
    // Refusals worded as bao words them.
    for args in [
        vec!["login", "-method=kubernetes", jwt_arg.as_str()],
        vec!["login", "-method=kubernetes", "role=app", "jwt=not-a-jwt"],
        // No JWT and no terminal to ask on: refused before any request.
        vec![
            "login",
            "-method=kubernetes",
            "-non-interactive",
            "role=app",
        ],
    ] {
        let b = run_bao(&s[1].addr, None, &args);
        for out in [
            run_bao(&s[0].addr, None, &args),
            run_arca(&s[0].addr, None, &args),
        ] {
            assert_eq!(
                (out.0, common::normalise(&out.2)),
                (b.0, common::normalise(&b.2)),
                "{args:?}"
            );
        }
    }
}
