//! The `cert` auth method end to end: Arca and a real OpenBao each serve a TLS listener that
//! asks for client certificates; the same `certs/`, `crls/` and `config` writes must read back
//! the same, and the same client certificates (made here with rcgen) must log in or be refused
//! with the same status and text. OCSP is checked against Arca's own PKI responder, renewal
//! over the login's connection, and `bao login -method=cert` / `arca login -method=cert` with
//! `-client-cert`/`-client-key`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::{
    Answer, Server, bao, call, comparable_answer, free_port, init_unseal, run_arca, run_bao,
    spawn_on_free_port,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CustomExtension, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevokedCertParams, SanType, SerialNumber, date_time_ymd,
};
use serde_json::{Value, json};

/// A client certificate and its key, PEM.
#[derive(Clone)]
struct Pair {
    cert: String,
    key: String,
}

/// A CA that signs client certificates.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca(cn: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = p.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(p, key),
    }
}

/// An intermediate CA signed by `parent`, serial 777.
fn sub_ca(parent: &Ca, cn: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.serial_number = Some(SerialNumber::from(777u64));
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = p.signed_by(&key, &parent.issuer).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(p, key),
    }
}

/// UTF8String `text`, DER.
fn utf8(text: &str) -> Vec<u8> {
    let mut v = vec![0x0c, u8::try_from(text.len()).unwrap()];
    v.extend_from_slice(text.as_bytes());
    v
}

/// A client certificate for `cn` (OU `eng`, a DNS and an email SAN, extension 1.2.3.4 =
/// "hello") with serial `serial`, signed by `ca` (self-signed when `None`).
fn client(cn: &str, serial: u64, ca: Option<&Ca>, expired: bool) -> Pair {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec![format!("{cn}.example.com")]).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.distinguished_name
        .push(DnType::OrganizationalUnitName, "eng");
    p.subject_alt_names.push(SanType::Rfc822Name(
        format!("{cn}@example.com").try_into().unwrap(),
    ));
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    p.custom_extensions.push(CustomExtension::from_oid_content(
        &[1, 2, 3, 4],
        utf8("hello"),
    ));
    p.serial_number = Some(SerialNumber::from(serial));
    p.key_identifier_method = KeyIdMethod::Sha256;
    if expired {
        p.not_before = date_time_ymd(2020, 1, 1);
        p.not_after = date_time_ymd(2021, 1, 1);
    }
    let cert = match ca {
        Some(ca) => p.signed_by(&key, &ca.issuer).unwrap(),
        None => p.self_signed(&key).unwrap(),
    };
    Pair {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

/// A CRL of `ca` listing `serials`.
fn crl(ca: &Ca, serials: &[u64]) -> String {
    CertificateRevocationListParams {
        this_update: date_time_ymd(2025, 1, 1),
        next_update: date_time_ymd(2099, 1, 1),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: serials
            .iter()
            .map(|s| RevokedCertParams {
                serial_number: SerialNumber::from(*s),
                revocation_time: date_time_ymd(2025, 1, 1),
                reason_code: None,
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&ca.issuer)
    .unwrap()
    .pem()
    .unwrap()
}

/// The server certificate of the TLS listeners (for 127.0.0.1), written into `dir`.
fn listener_files(dir: &Path) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    p.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    p.distinguished_name.push(DnType::CommonName, "localhost");
    let cert = p.self_signed(&key).unwrap();
    let c = dir.join("listener.pem");
    let k = dir.join("listener.key");
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c.display().to_string(), k.display().to_string())
}

fn tls_listener(port: u16, cert: &str, key: &str) -> String {
    format!(
        "listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_cert_file = \"{cert}\"\n  tls_key_file = \"{key}\"\n}}\n"
    )
}

/// One server under test: its plain-HTTP API, its TLS address and its root token.
struct Target {
    server: Server,
    tls: String,
    token: String,
    ca_file: String,
}

impl Target {
    /// Arca over file storage with a TLS listener beside the plain one.
    async fn arca(dir: &Path) -> Target {
        let (cert, key) = listener_files(dir);
        let port = free_port();
        let server = Server::with_config_extra(None, &tls_listener(port, &cert, &key));
        let (_, token) = init_unseal(&server).await;
        Target {
            server,
            tls: format!("https://127.0.0.1:{port}"),
            token,
            ca_file: cert,
        }
    }

    /// An OpenBao dev server with a TLS listener from a config file.
    fn bao(dir: &Path) -> Target {
        let (cert, key) = listener_files(dir);
        let port = free_port();
        let cfg = dir.join("tls.hcl");
        std::fs::write(&cfg, tls_listener(port, &cert, &key)).unwrap();
        let server = spawn_on_free_port(&bao(), None, |p, _| {
            vec![
                "server".into(),
                "-dev".into(),
                "-dev-root-token-id=root".into(),
                format!("-dev-listen-address=127.0.0.1:{p}"),
                "-dev-no-store-token".into(),
                format!("-config={}", cfg.display()),
            ]
        });
        Target {
            server,
            tls: format!("https://127.0.0.1:{port}"),
            token: "root".into(),
            ca_file: cert,
        }
    }

    async fn root(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        call(&self.server, method, path, Some(&self.token), body).await
    }

    async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let a = self.root(method, path, body).await;
        assert!(
            a.status == 200 || a.status == 204,
            "{method} {path} on {}: {} {}",
            self.server.addr,
            a.status,
            a.body
        );
        a.body
    }

    /// `POST path` over TLS presenting `pair` (none when `None`), with `token` if given.
    async fn tls_call(
        &self,
        pair: Option<&Pair>,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> Answer {
        let mut b = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .pool_max_idle_per_host(0);
        if let Some(p) = pair {
            let pem = format!("{}\n{}", p.cert, p.key);
            b = b.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
        }
        let mut rb = b
            .build()
            .unwrap()
            .post(format!("{}/v1/{path}", self.tls))
            .json(&body);
        if let Some(t) = token {
            rb = rb.header("X-Vault-Token", t);
        }
        let resp = rb.send().await.expect("TLS request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        Answer {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            headers,
        }
    }

    async fn login(&self, pair: Option<&Pair>, body: Value) -> Answer {
        self.tls_call(pair, "auth/cert/login", None, body).await
    }
}

/// The same request on both; the same comparable answer; Arca's body.
async fn both(t: &[Target; 2], method: &str, path: &str, body: Option<Value>) -> Value {
    let a = t[0].root(method, path, body.clone()).await;
    let b = t[1].root(method, path, body).await;
    assert_eq!(
        comparable_answer(&a, &[]),
        comparable_answer(&b, &[]),
        "{method} {path}: Arca (left) and OpenBao (right) differ"
    );
    a.body
}

/// The status and error text of a refused login; the current time in Go's validity message
/// is cut, since the two servers read their clocks apart.
fn refusal(a: &Answer) -> (u16, String) {
    let text = a.body["errors"][0].as_str().unwrap_or_default().to_string();
    let text = match text.find("current time ") {
        Some(i) => {
            let rest = &text[i + "current time ".len()..];
            let after = rest.find(' ').map(|j| &rest[j..]).unwrap_or("");
            format!("{}current time T{after}", &text[..i])
        }
        None => text,
    };
    (a.status, text)
}

/// The same login on both; both refused the same way; the refusal.
async fn same_refusal(t: &[Target; 2], pair: Option<&Pair>, body: Value) -> (u16, String) {
    let a = refusal(&t[0].login(pair, body.clone()).await);
    let b = refusal(&t[1].login(pair, body).await);
    assert_eq!(
        a, b,
        "refused login: Arca (left) and OpenBao (right) differ"
    );
    assert_ne!(a.0, 200);
    a
}

/// The login's auth with what differs per server taken out.
fn auth_shape(a: &Answer) -> Value {
    assert_eq!(a.status, 200, "{}", a.body);
    let mut auth = a.body["auth"].clone();
    for k in ["client_token", "accessor", "entity_id"] {
        auth.as_object_mut().unwrap().remove(k);
    }
    auth
}

/// The name and metadata of the entity alias a login token belongs to.
async fn alias_of(t: &Target, login: &Answer) -> (String, Value) {
    let entity = login.body["auth"]["entity_id"]
        .as_str()
        .unwrap()
        .to_string();
    let e = t
        .ok("GET", &format!("identity/entity/id/{entity}"), None)
        .await;
    let alias = &e["data"]["aliases"][0];
    (
        alias["name"].as_str().unwrap_or_default().to_string(),
        alias["metadata"].clone(),
    )
}

#[tokio::test]
async fn cert_endpoints_logins_and_refusals_match_openbao() {
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let t = [Target::arca(dir_a.path()).await, Target::bao(dir_b.path())];
    both(&t, "POST", "sys/auth/cert", Some(json!({"type": "cert"}))).await;

    let trusted = ca("Test CA");
    let other = ca("Other CA");
    let good = client("client1", 1001, Some(&trusted), false);
    let revoked = client("client2", 1002, Some(&trusted), false);
    let expired = client("client3", 1003, Some(&trusted), true);
    let stranger = client("client4", 1004, Some(&other), false);
    let pinned = client("pinned", 1005, None, false);

    // Entries, read back as OpenBao reads them (nulls for lists never given, legacy fields).
    both(
        &t,
        "POST",
        "auth/cert/certs/web",
        Some(json!({"certificate": trusted.pem, "token_policies": "p1", "display_name": "webby"})),
    )
    .await;
    both(&t, "GET", "auth/cert/certs/web", None).await;
    both(
        &t,
        "POST",
        "auth/cert/certs/legacy",
        Some(json!({
            "certificate": trusted.pem, "policies": "b,a", "ttl": "1h", "max_ttl": 7200,
            "period": 60, "bound_cidrs": "127.0.0.1/32", "allowed_names": "",
            "ocsp_servers_override": "http://127.0.0.1:1/ocsp", "required_extensions": ["1.2.3.4:*"],
        })),
    )
    .await;
    both(&t, "GET", "auth/cert/certs/legacy", None).await;
    both(&t, "LIST", "auth/cert/certs", None).await;
    both(&t, "DELETE", "auth/cert/certs/legacy", None).await;
    both(&t, "GET", "auth/cert/certs/legacy", None).await;
    // Bad input.
    both(
        &t,
        "POST",
        "auth/cert/certs/bad",
        Some(json!({"certificate": "not a certificate"})),
    )
    .await;
    both(
        &t,
        "POST",
        "auth/cert/certs/bad",
        Some(json!({"certificate": trusted.pem, "token_ttl": 100, "token_max_ttl": 10})),
    )
    .await;
    // Warnings for TTLs above the mount's, and a bad token type.
    both(
        &t,
        "POST",
        "auth/cert/certs/long",
        Some(json!({"certificate": trusted.pem, "token_ttl": "800h", "token_max_ttl": "900h", "token_period": "900h"})),
    )
    .await;
    both(&t, "GET", "auth/cert/certs/long", None).await;
    both(&t, "DELETE", "auth/cert/certs/long", None).await;
    both(
        &t,
        "POST",
        "auth/cert/certs/bad",
        Some(json!({"certificate": trusted.pem, "token_type": "bogus"})),
    )
    .await;
    // Config.
    both(&t, "GET", "auth/cert/config", None).await;
    both(
        &t,
        "POST",
        "auth/cert/config",
        Some(json!({"ocsp_cache_size": 1})),
    )
    .await;
    both(
        &t,
        "POST",
        "auth/cert/config",
        Some(json!({"enable_identity_alias_metadata": true, "ocsp_cache_size": 50})),
    )
    .await;
    both(&t, "GET", "auth/cert/config", None).await;
    // CRLs.
    both(&t, "LIST", "auth/cert/crls", None).await;
    both(&t, "GET", "auth/cert/crls/none", None).await;
    both(&t, "DELETE", "auth/cert/crls/none", None).await;
    both(&t, "POST", "auth/cert/crls/none", Some(json!({}))).await;

    // A login through the trusted CA: the same token shape and metadata on both.
    let a = t[0].login(Some(&good), json!({})).await;
    let b = t[1].login(Some(&good), json!({})).await;
    assert_eq!(auth_shape(&a), auth_shape(&b));
    assert_eq!(a.body["auth"]["metadata"]["cert_name"], "web");
    assert_eq!(a.body["auth"]["metadata"]["common_name"], "client1");
    assert_eq!(a.body["auth"]["metadata"]["serial_number"], "1001");
    // The entity alias is named after the common name and carries the metadata.
    let (name_a, meta_a) = alias_of(&t[0], &a).await;
    let (name_b, meta_b) = alias_of(&t[1], &b).await;
    assert_eq!((name_a.as_str(), &meta_a), (name_b.as_str(), &meta_b));
    assert_eq!(name_a, "client1");
    assert_eq!(meta_a["cert_name"], "web");
    // The token's display name comes from the entry.
    let token = a.body["auth"]["client_token"].as_str().unwrap();
    let look = call(
        &t[0].server,
        "GET",
        "auth/token/lookup-self",
        Some(token),
        None,
    )
    .await;
    assert_eq!(look.body["data"]["display_name"], "cert-webby");

    // `bao login -method=cert` prints the same on both; `arca login` prints what bao does.
    let (cert_file, key_file) = write_pair(dir_a.path(), "good", &good);
    let args = [
        "login",
        "-method=cert",
        "-no-store",
        "-tls-skip-verify",
        &format!("-client-cert={cert_file}"),
        &format!("-client-key={key_file}"),
        "name=web",
    ];
    // Go prints the metadata in map order, which varies from run to run: lines are sorted.
    let text = |out: &(i32, String, String)| {
        let n = common::normalise(&format!("{}{}", out.1, out.2)).replace("\"arca ", "\"bao ");
        let mut lines: Vec<String> = n.lines().map(str::to_string).collect();
        lines.sort_unstable();
        lines.join("\n")
    };
    let on_bao = run_bao(&t[1].tls, None, &args);
    let on_arca = run_bao(&t[0].tls, None, &args);
    assert_eq!(
        (on_arca.0, text(&on_arca)),
        (on_bao.0, text(&on_bao)),
        "bao login -method=cert: Arca (left) and OpenBao (right) differ"
    );
    let arca_cli = run_arca(&t[0].tls, None, &args);
    assert_eq!(
        (arca_cli.0, text(&arca_cli)),
        (on_bao.0, text(&on_bao)),
        "arca login -method=cert on Arca (left), bao on OpenBao (right)"
    );
    assert_eq!(on_bao.0, 0);

    // Refusals, each with OpenBao's status and text.
    let (_, no_cert) = same_refusal(&t, None, json!({})).await;
    assert_eq!(no_cert, "no client certificate found");
    let (_, untrusted) = same_refusal(&t, Some(&stranger), json!({})).await;
    assert_eq!(
        untrusted,
        "invalid certificate or no client certificate supplied"
    );
    let (status, old) = same_refusal(&t, Some(&expired), json!({})).await;
    assert_eq!(status, 500);
    assert!(
        old.contains("certificate has expired or is not yet valid"),
        "{old}"
    );
    same_refusal(&t, Some(&good), json!({"name": "missing"})).await;
    // Constraints: names, CN, SANs, OUs and required extensions.
    for (field, value) in [
        ("allowed_names", json!("nope*")),
        ("allowed_common_names", json!("client1.example.com")),
        ("allowed_dns_sans", json!("*.other.com")),
        ("allowed_email_sans", json!("*@other.com")),
        ("allowed_uri_sans", json!("spiffe://*")),
        ("allowed_organizational_units", json!("ops")),
        ("required_extensions", json!("1.2.3.4:bye")),
    ] {
        both(
            &t,
            "POST",
            "auth/cert/certs/strict",
            Some(json!({"certificate": trusted.pem, field: value})),
        )
        .await;
        let (_, text) = same_refusal(&t, Some(&good), json!({"name": "strict"})).await;
        assert_eq!(
            text, "no chain matching all constraints could be found for this login certificate",
            "{field}"
        );
        both(&t, "DELETE", "auth/cert/certs/strict", None).await;
    }
    // Matching constraints and metadata extensions.
    both(
        &t,
        "POST",
        "auth/cert/certs/strict",
        Some(json!({
            "certificate": trusted.pem, "allowed_common_names": "client*",
            "allowed_dns_sans": "*.example.com", "allowed_email_sans": "*@example.com",
            "allowed_organizational_units": "eng", "required_extensions": "1.2.3.4:hel*",
            "allowed_metadata_extensions": "1.2.3.4",
        })),
    )
    .await;
    let a = t[0].login(Some(&good), json!({"name": "strict"})).await;
    let b = t[1].login(Some(&good), json!({"name": "strict"})).await;
    assert_eq!(auth_shape(&a), auth_shape(&b));
    assert_eq!(a.body["auth"]["metadata"]["1-2-3-4"], "hello");

    // A CRL listing a serial refuses that certificate, not the others.
    both(
        &t,
        "POST",
        "auth/cert/crls/revoked",
        Some(json!({"crl": crl(&trusted, &[1002])})),
    )
    .await;
    both(&t, "GET", "auth/cert/crls/revoked", None).await;
    both(&t, "LIST", "auth/cert/crls", None).await;
    let (_, text) = same_refusal(&t, Some(&revoked), json!({"name": "web"})).await;
    assert_eq!(
        text,
        "no chain matching all constraints could be found for this login certificate"
    );
    assert_eq!(
        t[0].login(Some(&good), json!({"name": "web"})).await.status,
        200
    );
    both(&t, "DELETE", "auth/cert/crls/revoked", None).await;
    assert_eq!(
        t[0].login(Some(&revoked), json!({"name": "web"}))
            .await
            .status,
        200
    );

    // A client presenting its intermediate chains to the trusted root; without it, no chain.
    let intermediate = sub_ca(&trusted, "Intermediate CA");
    let mut chained = client("client5", 1006, Some(&intermediate), false);
    let bare = chained.clone();
    chained.cert = format!("{}{}", chained.cert, intermediate.pem);
    let a = t[0].login(Some(&chained), json!({"name": "web"})).await;
    let b = t[1].login(Some(&chained), json!({"name": "web"})).await;
    assert_eq!(auth_shape(&a), auth_shape(&b));
    let (_, text) = same_refusal(&t, Some(&bare), json!({"name": "web"})).await;
    assert_eq!(
        text,
        "invalid certificate or no client certificate supplied"
    );
    // A CRL listing the intermediate refuses the chain through it.
    both(
        &t,
        "POST",
        "auth/cert/crls/root",
        Some(json!({"crl": crl(&trusted, &[777])})),
    )
    .await;
    let (_, text) = same_refusal(&t, Some(&chained), json!({"name": "web"})).await;
    assert_eq!(
        text,
        "no chain matching all constraints could be found for this login certificate"
    );
    both(&t, "DELETE", "auth/cert/crls/root", None).await;
    // An empty CRL reads back without serials.
    both(
        &t,
        "POST",
        "auth/cert/crls/empty",
        Some(json!({"crl": crl(&trusted, &[])})),
    )
    .await;
    both(&t, "GET", "auth/cert/crls/empty", None).await;

    // A pinned (non-CA) leaf logs in with exactly that certificate.
    both(
        &t,
        "POST",
        "auth/cert/certs/pin",
        Some(json!({"certificate": pinned.cert})),
    )
    .await;
    let a = t[0].login(Some(&pinned), json!({"name": "pin"})).await;
    let b = t[1].login(Some(&pinned), json!({"name": "pin"})).await;
    assert_eq!(auth_shape(&a), auth_shape(&b));
    let impostor = client("pinned", 1005, None, false);
    same_refusal(&t, Some(&impostor), json!({"name": "pin"})).await;

    // OCSP against one responder (Arca's PKI, whose answers carry the issuer certificate):
    // both accept a good certificate and refuse a revoked one.
    let ca_pem = pki(&t[0]).await;
    let (ok_pair, _) = issue(&t[0], "client", "ok.example.com").await;
    let (gone, gone_serial) = issue(&t[0], "client", "gone.example.com").await;
    t[0].ok(
        "POST",
        "pki/revoke",
        Some(json!({"serial_number": gone_serial})),
    )
    .await;
    let responder = format!("{}/v1/pki/ocsp", t[0].server.addr);
    both(
        &t,
        "POST",
        "auth/cert/certs/ocsp",
        Some(json!({
            "certificate": ca_pem, "ocsp_enabled": true, "ocsp_servers_override": responder,
        })),
    )
    .await;
    for target in &t {
        let a = target.login(Some(&ok_pair), json!({"name": "ocsp"})).await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    same_refusal(&t, Some(&gone), json!({"name": "ocsp"})).await;
}

/// A PKI mount in `t` with a root CA; a role `client` issuing client certificates. Returns the
/// CA certificate.
async fn pki(t: &Target) -> String {
    t.ok("POST", "sys/mounts/pki", Some(json!({"type": "pki"})))
        .await;
    let root = t
        .ok(
            "POST",
            "pki/root/generate/internal",
            Some(json!({"common_name": "OCSP Root", "ttl": "24h"})),
        )
        .await;
    t.ok(
        "POST",
        "pki/roles/client",
        Some(
            json!({"allow_any_name": true, "client_flag": true, "server_flag": false, "ttl": "1h"}),
        ),
    )
    .await;
    t.ok(
        "POST",
        "pki/roles/nostore",
        Some(json!({"allow_any_name": true, "client_flag": true, "no_store": true, "ttl": "1h"})),
    )
    .await;
    root["data"]["certificate"].as_str().unwrap().to_string()
}

async fn issue(t: &Target, role: &str, cn: &str) -> (Pair, String) {
    let d = t
        .ok(
            "POST",
            &format!("pki/issue/{role}"),
            Some(json!({"common_name": cn})),
        )
        .await;
    let s = |k: &str| d["data"][k].as_str().unwrap().to_string();
    (
        Pair {
            cert: s("certificate"),
            key: s("private_key"),
        },
        s("serial_number"),
    )
}

fn write_pair(dir: &Path, name: &str, p: &Pair) -> (String, String) {
    let c = dir.join(format!("{name}.pem"));
    let k = dir.join(format!("{name}.key"));
    std::fs::write(&c, &p.cert).unwrap();
    std::fs::write(&k, &p.key).unwrap();
    (c.display().to_string(), k.display().to_string())
}

/// A tiny HTTP proxy in front of an OCSP responder: each POST body is forwarded to
/// `upstream`, its answer returned, and the request counted. Answers its URL and the count.
async fn counting_ocsp_proxy(upstream: String) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ocsp", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let upstream = upstream.clone();
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, length) = loop {
                    let Ok(n) = conn.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        break (i + 4, length);
                    }
                };
                while buf.len() < head_end + length {
                    match conn.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let answer = reqwest::Client::new()
                    .post(&upstream)
                    .header("Content-Type", "application/ocsp-request")
                    .body(buf[head_end..head_end + length].to_vec())
                    .send()
                    .await
                    .unwrap();
                let status = answer.status().as_u16();
                let body = answer.bytes().await.unwrap();
                let head = format!(
                    "HTTP/1.1 {status} OK\r\nContent-Type: application/ocsp-response\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes()).await;
                let _ = conn.write_all(&body).await;
            });
        }
    });
    (url, count)
}

/// Polls `check` (every 100 ms, up to 15 s) until it holds.
async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn ocsp_renewal_and_cli_logins() {
    let dir = tempfile::tempdir().unwrap();
    let t = Target::arca(dir.path()).await;
    t.ok("POST", "sys/auth/cert", Some(json!({"type": "cert"})))
        .await;
    let ca_pem = pki(&t).await;
    let (good, _) = issue(&t, "client", "good.example.com").await;
    let (revoked, serial) = issue(&t, "client", "revoked.example.com").await;
    let (unknown, _) = issue(&t, "nostore", "unknown.example.com").await;
    t.ok("POST", "pki/revoke", Some(json!({"serial_number": serial})))
        .await;
    // The responder is Arca's own PKI, behind a proxy that counts the requests.
    let (responder, asked) = counting_ocsp_proxy(format!("{}/v1/pki/ocsp", t.server.addr)).await;
    let asked = move || asked.load(Ordering::SeqCst);
    t.ok(
        "POST",
        "auth/cert/certs/ocsp",
        Some(json!({
            "certificate": ca_pem, "ocsp_enabled": true,
            "ocsp_servers_override": responder, "token_policies": "default",
        })),
    )
    .await;

    // OCSP: good logs in, revoked is refused, unknown is refused unless fail-open. Each
    // answer (it has a next update) is cached: asked once per certificate.
    let login = t.login(Some(&good), json!({"name": "ocsp"})).await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert_eq!(asked(), 1);
    let again = t.login(Some(&good), json!({"name": "ocsp"})).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(asked(), 1, "the second login uses the cached answer");
    for _ in 0..2 {
        let refused = t.login(Some(&revoked), json!({"name": "ocsp"})).await;
        assert_eq!(
            refusal(&refused),
            (
                400,
                "no chain matching all constraints could be found for this login certificate"
                    .to_string()
            )
        );
    }
    assert_eq!(asked(), 2, "a revoked answer is cached too");
    let refused = t.login(Some(&unknown), json!({"name": "ocsp"})).await;
    let (status, text) = refusal(&refused);
    assert_eq!(status, 400);
    assert!(
        text.starts_with(
            "no chain matching all constraints could be found for this login certificate; \
             additionally got errors during verification: 1 error occurred:\n\t* unknown OCSP \
             status for cert with serial number "
        ),
        "{text}"
    );
    assert_eq!(asked(), 3);
    t.ok(
        "POST",
        "auth/cert/certs/ocsp",
        Some(json!({"ocsp_fail_open": true})),
    )
    .await;
    assert_eq!(
        t.login(Some(&unknown), json!({"name": "ocsp"}))
            .await
            .status,
        200
    );
    assert_eq!(
        asked(),
        3,
        "the unknown answer is cached, fail-open lets it through"
    );

    // Revoked after its good answer was cached: logins go on until the cache is emptied,
    // which storing `config` does (OpenBao builds a new OCSP client of the configured size).
    let (later, later_serial) = issue(&t, "client", "later.example.com").await;
    let login_later = || t.login(Some(&later), json!({"name": "ocsp"}));
    assert_eq!(login_later().await.status, 200);
    assert_eq!(asked(), 4);
    t.ok(
        "POST",
        "pki/revoke",
        Some(json!({"serial_number": later_serial})),
    )
    .await;
    assert_eq!(login_later().await.status, 200, "good answer still cached");
    assert_eq!(asked(), 4);
    t.ok(
        "POST",
        "auth/cert/config",
        Some(json!({"ocsp_cache_size": 200})),
    )
    .await;
    assert_eq!(login_later().await.status, 400, "asked again: revoked");
    assert_eq!(asked(), 5);

    // `ocsp_ca_certificates` of a pinned leaf: OpenBao appends them to the entry's
    // certificates, so the first is the issuer OCSP asks about (and signs the answer).
    // Without them the trusted chain is the leaf alone and OCSP is not consulted.
    let (pinned, pinned_serial) = issue(&t, "client", "pinned.example.com").await;
    let pinned_entry = |ocsp_cas: &str| {
        json!({
            "certificate": pinned.cert, "ocsp_enabled": true, "ocsp_ca_certificates": ocsp_cas,
            "ocsp_servers_override": responder, "token_policies": "default",
        })
    };
    t.ok(
        "POST",
        "auth/cert/certs/pinned",
        Some(pinned_entry(&ca_pem)),
    )
    .await;
    let login_pinned = || t.login(Some(&pinned), json!({"name": "pinned"}));
    assert_eq!(login_pinned().await.status, 200);
    assert_eq!(asked(), 6);
    t.ok(
        "POST",
        "pki/revoke",
        Some(json!({"serial_number": pinned_serial})),
    )
    .await;
    t.ok(
        "POST",
        "auth/cert/config",
        Some(json!({"ocsp_cache_size": 100})),
    )
    .await;
    assert_eq!(login_pinned().await.status, 400);
    assert_eq!(asked(), 7);
    t.ok("POST", "auth/cert/certs/pinned", Some(pinned_entry("")))
        .await;
    assert_eq!(login_pinned().await.status, 200);
    assert_eq!(asked(), 7);
    t.ok("DELETE", "auth/cert/certs/pinned", None).await;

    // A responder that cannot be reached is an error, fail-open or not (as OpenBao).
    t.ok(
        "POST",
        "auth/cert/certs/ocsp",
        Some(json!({"ocsp_servers_override": format!("http://127.0.0.1:{}/ocsp", free_port())})),
    )
    .await;
    assert_eq!(
        t.login(Some(&good), json!({"name": "ocsp"})).await.status,
        400
    );
    t.ok(
        "POST",
        "auth/cert/certs/ocsp",
        Some(json!({"ocsp_enabled": false})),
    )
    .await;

    // A CRL fetched from a distribution point: the PKI mount's own CRL, valid for 2 s. Once
    // its next update has passed the mount fetches it again by itself (OpenBao's periodic
    // function), so a certificate revoked in the PKI meanwhile is refused without writing
    // `crls/pki` again.
    t.ok("POST", "pki/config/crl", Some(json!({"expiry": "2s"})))
        .await;
    t.ok("GET", "pki/crl/rotate", None).await;
    let (crl_later, crl_serial) = issue(&t, "client", "crl.example.com").await;
    let crl_url = format!("{}/v1/pki/crl", t.server.addr);
    t.ok("POST", "auth/cert/crls/pki", Some(json!({"url": crl_url})))
        .await;
    let read = t.ok("GET", "auth/cert/crls/pki", None).await;
    assert_eq!(read["data"]["cdp"]["url"], crl_url.as_str(), "{read}");
    assert_eq!(
        read["data"]["serials"].as_object().map(|m| m.len()),
        Some(3),
        "{read}"
    );
    let login_crl = || t.login(Some(&crl_later), json!({"name": "ocsp"}));
    assert_eq!(login_crl().await.status, 200);
    t.ok(
        "POST",
        "pki/revoke",
        Some(json!({"serial_number": crl_serial})),
    )
    .await;
    wait_until(
        "the CRL refresh to refuse the revoked certificate",
        || async { login_crl().await.status == 400 },
    )
    .await;
    let read = t.ok("GET", "auth/cert/crls/pki", None).await;
    assert_eq!(
        read["data"]["serials"].as_object().map(|m| m.len()),
        Some(4),
        "{read}"
    );
    t.ok("DELETE", "auth/cert/crls/pki", None).await;

    // Renewal: over a connection presenting the login's certificate; another valid
    // certificate of the same entry is refused.
    let token = login.body["auth"]["client_token"]
        .as_str()
        .unwrap()
        .to_string();
    let renewed = t
        .tls_call(
            Some(&good),
            "auth/token/renew-self",
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    assert_eq!(renewed.body["auth"]["metadata"]["cert_name"], "ocsp");
    let other = t
        .tls_call(
            Some(&unknown),
            "auth/token/renew-self",
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(other.status, 500, "{}", other.body);
    let text = other.body["errors"][0].as_str().unwrap_or_default();
    assert!(
        text.starts_with(
            "1 error occurred:\n\t* failed to renew entry: client identity during renewal not \
             matching client identity used during login:\n\toriginal: [48 130 "
        ),
        "{text}"
    );
    // Policies changed: no renewal.
    t.ok(
        "POST",
        "auth/cert/certs/ocsp",
        Some(json!({"token_policies": "other"})),
    )
    .await;
    let changed = t
        .tls_call(
            Some(&good),
            "auth/token/renew-self",
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(changed.status, 500, "{}", changed.body);
    assert!(
        changed.body["errors"][0]
            .as_str()
            .unwrap_or_default()
            .contains("policies have changed, not renewing"),
        "{}",
        changed.body
    );

    // The CLIs: `bao login -method=cert` and `arca login -method=cert` with the client
    // certificate flags, and the environment variables.
    let (cert, key) = write_pair(dir.path(), "good", &good);
    for bin in ["bao", "arca"] {
        let args = [
            "login",
            "-method=cert",
            "-format=json",
            "-no-store",
            &format!("-ca-cert={}", t.ca_file),
            &format!("-client-cert={cert}"),
            &format!("-client-key={key}"),
            "name=ocsp",
        ];
        let (code, out, err) = if bin == "bao" {
            run_bao(&t.tls, None, &args)
        } else {
            run_arca(&t.tls, None, &args)
        };
        assert_eq!(code, 0, "{bin}: {out}{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v["auth"]["metadata"]["common_name"], "good.example.com",
            "{bin}"
        );
        assert_eq!(v["auth"]["metadata"]["cert_name"], "ocsp", "{bin}");
    }
    // Without a client certificate both CLIs report the server's refusal.
    for bin in ["bao", "arca"] {
        let args = [
            "login",
            "-method=cert",
            "-no-store",
            &format!("-ca-cert={}", t.ca_file),
        ];
        let (code, out, err) = if bin == "bao" {
            run_bao(&t.tls, None, &args)
        } else {
            run_arca(&t.tls, None, &args)
        };
        assert_eq!(code, 2, "{bin}: {out}{err}");
        assert!(
            err.contains("no client certificate found"),
            "{bin}: {out}{err}"
        );
    }
    // The environment variables name the certificate too.
    let out = std::process::Command::new(common::arca_bin())
        .args([
            "login",
            "-method=cert",
            "-format=json",
            "-no-store",
            "mount=cert",
        ])
        .env_clear()
        .env("HOME", dir.path())
        .env("BAO_ADDR", &t.tls)
        .env("BAO_CACERT", &t.ca_file)
        .env("BAO_CLIENT_CERT", &cert)
        .env("VAULT_CLIENT_KEY", &key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
