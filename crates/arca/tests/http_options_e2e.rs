//! HTTP options end to end (issue 22, point 3): `sys/config/cors` and
//! `sys/config/ui/headers` compared with a real OpenBao dev server, and the listener options
//! (`x_forwarded_for_*`, `custom_response_headers`, `proxy_protocol_*`, `redact_*`) seen from
//! the outside of a server started with a config file.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// The headers a CORS answer is compared on.
const CORS_HEADERS: &[&str] = &[
    "access-control-allow-origin",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-allow-credentials",
    "access-control-max-age",
    "vary",
    "cache-control",
    "strict-transport-security",
    "content-type",
];

/// Status, the named headers and the body of an answer with a token and extra headers.
async fn shaped(
    s: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    names: &[&str],
) -> (u16, Vec<(String, Option<String>)>, Value) {
    let a = call_with(s, method, path, Some("root"), headers, None).await;
    let picked = names
        .iter()
        .map(|n| {
            (
                n.to_string(),
                a.headers
                    .get(*n)
                    .map(|v| v.to_str().unwrap_or_default().to_string()),
            )
        })
        .collect();
    let mut body = a.body;
    if let Value::Object(m) = &mut body {
        m.remove("request_id");
        m.remove("cluster_name");
        m.remove("cluster_id");
        m.remove("server_time_utc");
        m.remove("version");
        // Arca's health adds `performance_standby` (a README deviation).
        m.remove("performance_standby");
    }
    (a.status, picked, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_and_ui_headers_answer_as_openbao() {
    let s = [Server::dev(), bao_dev()];

    // CORS: read while off, enable with a comma string, read back (the standard headers
    // first), refusals, preflight and simple requests, disable.
    same_answer(&s, "GET", "sys/config/cors", None, &[]).await;
    same_answer(
        &s,
        "PUT",
        "sys/config/cors",
        Some(json!({"allowed_origins": "http://a.example,http://b.example", "allowed_headers": "X-Custom"})),
        &[],
    )
    .await;
    let read = same_answer(&s, "GET", "sys/config/cors", None, &[]).await;
    assert_eq!(read.body["data"]["allowed_headers"][0], "Content-Type");
    assert_eq!(read.body["data"]["allowed_headers"][10], "X-Custom");
    for bad in [json!({"allowed_origins": ["*", "http://x"]}), json!({})] {
        // OpenBao answers these with a 500, Arca with a 400 and the same text.
        let a = same_answer(&s, "PUT", "sys/config/cors", Some(bad), &[]).await;
        assert_eq!(a.status, 400, "{}", a.body);
    }
    let requests: &[(&str, &[(&str, &str)])] = &[
        (
            "OPTIONS",
            &[
                ("Origin", "http://a.example"),
                ("Access-Control-Request-Method", "GET"),
            ],
        ),
        (
            "OPTIONS",
            &[
                ("Origin", "http://a.example"),
                ("Access-Control-Request-Method", "PATCH"),
            ],
        ),
        ("GET", &[("Origin", "http://c.example")]),
        ("GET", &[("Origin", "http://b.example")]),
        ("GET", &[]),
    ];
    for (method, headers) in requests {
        let a = shaped(&s[0], method, "sys/health", headers, CORS_HEADERS).await;
        let b = shaped(&s[1], method, "sys/health", headers, CORS_HEADERS).await;
        assert_eq!(
            a, b,
            "{method} {headers:?}: Arca (left) and OpenBao (right)"
        );
    }
    let refused = shaped(
        &s[0],
        "GET",
        "sys/health",
        &[("Origin", "http://c.example")],
        &[],
    )
    .await;
    assert_eq!(refused.0, 403);
    assert_eq!(refused.2, json!({"errors": ["origin not allowed"]}));
    same_answer(
        &s,
        "PUT",
        "sys/config/cors",
        Some(json!({"allowed_origins": "*", "allow_credentials": true})),
        &[],
    )
    .await;
    let a = shaped(
        &s[0],
        "GET",
        "sys/health",
        &[("Origin", "http://z")],
        CORS_HEADERS,
    )
    .await;
    let b = shaped(
        &s[1],
        "GET",
        "sys/health",
        &[("Origin", "http://z")],
        CORS_HEADERS,
    )
    .await;
    assert_eq!(a, b);
    same_answer(&s, "DELETE", "sys/config/cors", None, &[]).await;
    same_answer(&s, "GET", "sys/config/cors", None, &[]).await;
    let a = shaped(
        &s[0],
        "OPTIONS",
        "sys/health",
        &[("Origin", "http://z")],
        &[],
    )
    .await;
    let b = shaped(
        &s[1],
        "OPTIONS",
        "sys/health",
        &[("Origin", "http://z")],
        &[],
    )
    .await;
    assert_eq!(a, b, "OPTIONS without CORS");

    // UI headers: write (lower-case name, canonical in the listing), read one value and all,
    // the refusals, the CSP warning, delete.
    same_answer(
        &s,
        "PUT",
        "sys/config/ui/headers/x-custom-ui",
        Some(json!({"values": ["a", "b"]})),
        &[],
    )
    .await;
    same_answer(&s, "GET", "sys/config/ui/headers/X-Custom-Ui", None, &[]).await;
    let all = same_answer(
        &s,
        "GET",
        "sys/config/ui/headers/x-custom-ui?multivalue=true",
        None,
        &[],
    )
    .await;
    assert_eq!(all.body["data"]["values"], json!(["a", "b"]));
    let listed = same_answer(&s, "LIST", "sys/config/ui/headers", None, &[]).await;
    assert_eq!(listed.body["data"]["keys"], json!(["X-Custom-Ui"]));
    for (path, body) in [
        (
            "sys/config/ui/headers/X-Vault-Foo",
            json!({"values": ["a"]}),
        ),
        ("sys/config/ui/headers/X-Foo", json!({})),
        (
            "sys/config/ui/headers/Content-Security-Policy",
            json!({"values": ["default-src 'none'"]}),
        ),
        ("sys/config/ui/headers/X-Comma", json!({"values": "x,y"})),
    ] {
        same_answer(&s, "PUT", path, Some(body), &[]).await;
    }
    same_answer(&s, "GET", "sys/config/ui/headers/nope", None, &[]).await;
    same_answer(
        &s,
        "GET",
        "sys/config/ui/headers/X-Comma?multivalue=true",
        None,
        &[],
    )
    .await;

    // The UI's answers carry them (Arca serves a page saying it has no UI).
    let ui = client()
        .get(format!("{}/ui/", s[0].addr))
        .send()
        .await
        .expect("ui");
    assert_eq!(ui.status(), 200);
    let h = ui.headers();
    assert_eq!(h["x-custom-ui"], "a");
    assert_eq!(h["content-security-policy"], "default-src 'none'");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["service-worker-allowed"], "/");
    for path in [
        "sys/config/ui/headers/X-Custom-Ui",
        "sys/config/ui/headers/Content-Security-Policy",
        "sys/config/ui/headers/X-Comma",
    ] {
        same_answer(&s, "DELETE", path, None, &[]).await;
    }
    same_answer(&s, "LIST", "sys/config/ui/headers", None, &[]).await;
    let ui = client()
        .get(format!("{}/ui/", s[0].addr))
        .send()
        .await
        .expect("ui");
    assert!(ui.headers().get("x-custom-ui").is_none());
    assert!(
        ui.headers()["content-security-policy"]
            .to_str()
            .unwrap_or_default()
            .starts_with("default-src 'none'; connect-src 'self'")
    );
}

/// One raw HTTP/1.1 exchange on `stream` after `prefix` (a PROXY header, or nothing): the
/// status code, or `None` when the server closed the connection without answering.
fn raw_status(port: u16, prefix: &[u8], path: &str, token: &str) -> Option<u16> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Vault-Token: {token}\r\nConnection: close\r\n\r\n"
    );
    let mut bytes = prefix.to_vec();
    bytes.extend_from_slice(request.as_bytes());
    if stream.write_all(&bytes).is_err() {
        return None;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// A PROXY protocol v2 header for a TCP over IPv4 connection from `src`.
fn proxy_v2(src: [u8; 4], src_port: u16) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.push(0x21); // version 2, PROXY
    h.push(0x11); // TCP over IPv4
    h.extend_from_slice(&12u16.to_be_bytes());
    h.extend_from_slice(&src);
    h.extend_from_slice(&[127, 0, 0, 1]);
    h.extend_from_slice(&src_port.to_be_bytes());
    h.extend_from_slice(&8200u16.to_be_bytes());
    h
}

/// Starts Arca with four listeners: `main` (the harness's), `xff` trusting loopback's
/// `X-Forwarded-For` with custom headers, `strict` refusing it from loopback and redacting,
/// `proxy` with the PROXY protocol always used, `deny` refusing PROXY connections from
/// loopback. Returns the server and the extra ports.
fn listener_server() -> (Server, [u16; 4]) {
    let ports = [free_port(), free_port(), free_port(), free_port()];
    let [xff, strict, proxy, deny] = ports;
    let s = server_with(|_| {
        format!(
            r#"cluster_name = "http-options"
listener "tcp" {{
  address = "127.0.0.1:{xff}"
  tls_disable = true
  x_forwarded_for_authorized_addrs = "127.0.0.1/32"
  x_forwarded_for_hop_skips = 1
  custom_response_headers = {{
    "default" = {{ "X-Default" = ["d1", "d2"] }}
    "4xx" = {{ "X-Class" = ["class"] }}
    "403" = {{ "X-Class" = ["exact"] }}
    "2xx" = {{ "X-Ok" = ["ok"], "X-Vault-Nope" = ["no"] }}
  }}
}}
listener "tcp" {{
  address = "127.0.0.1:{strict}"
  tls_disable = true
  x_forwarded_for_authorized_addrs = ["10.0.0.0/8"]
  x_forwarded_for_reject_not_authorized = true
  redact_version = true
  redact_cluster_name = true
  redact_addresses = true
}}
listener "tcp" {{
  address = "127.0.0.1:{proxy}"
  tls_disable = true
  proxy_protocol_behavior = "use_always"
}}
listener "tcp" {{
  address = "127.0.0.1:{deny}"
  tls_disable = true
  proxy_protocol_behavior = "deny_unauthorized"
  proxy_protocol_authorized_addrs = "10.0.0.0/8"
}}
"#
        )
    });
    (s, ports)
}

/// A server over file storage whose config has a plain listener on the harness's port, then
/// `rest(port)` (more listeners and keys).
fn server_with(rest: impl Fn(u16) -> String) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    spawn_on_free_port(&arca_bin(), Some(dir), |port, dir| {
        let dir: &Path = dir.expect("dir");
        let cfg = dir.join("config.hcl");
        std::fs::write(
            &cfg,
            format!(
                r#"storage "file" {{
  path = "{data}"
}}
disable_mlock = true
api_addr = "http://127.0.0.1:{port}"
listener "tcp" {{
  address = "127.0.0.1:{port}"
  tls_disable = true
}}
{rest}"#,
                data = dir.join("data").display(),
                rest = rest(port)
            ),
        )
        .expect("write config");
        vec!["server".into(), format!("-config={}", cfg.display())]
    })
}

/// The same server reached through another of its listeners.
fn on_port(port: u16) -> Server {
    Server {
        child: std::process::Command::new("true")
            .spawn()
            .expect("placeholder"),
        addr: format!("http://127.0.0.1:{port}"),
        dir: None,
        log: std::env::temp_dir().join("arca-test-logs").join("none.log"),
        openbao: false,
    }
}

/// alice's userpass login with extra headers.
async fn login(server: &Server, headers: &[(&str, &str)]) -> Answer {
    call_with(
        server,
        "POST",
        "auth/userpass/login/alice",
        None,
        headers,
        Some(Body::Json(json!({"password": "pw"}))),
    )
    .await
}

/// `auth/token/lookup-self` with `token` and extra headers.
async fn lookup(server: &Server, token: &str, headers: &[(&str, &str)]) -> Answer {
    call_with(
        server,
        "GET",
        "auth/token/lookup-self",
        Some(token),
        headers,
        None,
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn listener_options_take_effect() {
    let (s, [xff_port, strict_port, proxy_port, deny_port]) = listener_server();
    let (_key, root) = init_unseal(&s).await;
    let xff = on_port(xff_port);
    let strict = on_port(strict_port);

    // A token bound to an address the test cannot have but a proxy can name.
    let enable = call(
        &s,
        "POST",
        "sys/auth/userpass",
        Some(&root),
        Some(json!({"type": "userpass"})),
    )
    .await;
    assert_eq!(enable.status, 204, "{}", enable.body);
    let user = call(
        &s,
        "POST",
        "auth/userpass/users/alice",
        Some(&root),
        Some(json!({"password": "pw", "token_bound_cidrs": "203.0.113.5/32", "token_ttl": "1h"})),
    )
    .await;
    assert_eq!(user.status, 204, "{}", user.body);
    // The login is checked against the forwarded address too.
    let refused = login(&s, &[]).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let created = login(&xff, &[("X-Forwarded-For", "203.0.113.5, 10.1.1.1")]).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let token = created.body["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    // From loopback itself: refused.
    let a = lookup(&s, &token, &[]).await;
    assert_eq!(a.status, 403, "{}", a.body);
    // Through the trusting listener, with one hop skipped: the chain's second-to-last entry
    // is the client.
    let a = lookup(
        &xff,
        &token,
        &[("X-Forwarded-For", "203.0.113.5, 10.1.1.1")],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = lookup(
        &xff,
        &token,
        &[("X-Forwarded-For", "198.51.100.1, 10.1.1.1")],
    )
    .await;
    assert_eq!(a.status, 403, "{}", a.body);
    // The same header on the main listener (no trusted proxies) is ignored.
    let a = lookup(&s, &token, &[("X-Forwarded-For", "203.0.113.5")]).await;
    assert_eq!(a.status, 403);
    // A chain too short for the hops to skip.
    let a = lookup(&xff, &token, &[("X-Forwarded-For", "203.0.113.5")]).await;
    assert_eq!(a.status, 400);
    assert_eq!(
        a.body["errors"][0],
        "malformed x-forwarded-for configuration or request, hops to skip (1) would skip before earliest chain link (chain length 1)"
    );
    // From a peer not authorized, with rejection on.
    let a = lookup(&strict, &token, &[("X-Forwarded-For", "203.0.113.5")]).await;
    assert_eq!(a.status, 400);
    assert_eq!(
        a.body["errors"][0],
        "client address not authorized for x-forwarded-for and configured to reject connection"
    );

    // Custom response headers by status: default, class, exact; X-Vault-* never.
    let ok = call(&xff, "GET", "sys/health", None, None).await;
    assert_eq!(ok.headers["x-default"], "d1; d2");
    assert_eq!(ok.headers["x-ok"], "ok");
    assert!(ok.headers.get("x-class").is_none());
    assert!(ok.headers.get("x-vault-nope").is_none());
    let denied = call(&xff, "GET", "secret/nothing", None, None).await;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.headers["x-class"], "exact");
    assert_eq!(denied.headers["x-default"], "d1; d2");
    let missing = call(&xff, "GET", "sys/policy/none", Some(&root), None).await;
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert_eq!(missing.headers["x-class"], "class");
    let plain = call(&s, "GET", "sys/health", None, None).await;
    assert!(plain.headers.get("x-default").is_none());

    // Redaction on the strict listener only.
    for path in ["sys/health", "sys/seal-status"] {
        let full = call(&s, "GET", path, None, None).await;
        assert_eq!(full.body["cluster_name"], "http-options", "{path}");
        assert_ne!(full.body["version"], "", "{path}");
        let redacted = call(&strict, "GET", path, None, None).await;
        assert_eq!(redacted.status, 200, "{path}");
        assert_eq!(redacted.body["version"], "", "{path}: {}", redacted.body);
        assert!(redacted.body.get("cluster_name").is_none(), "{path}");
        assert_eq!(redacted.body["initialized"], true, "{path}");
    }
    let leader = call(&strict, "GET", "sys/leader", None, None).await;
    assert_eq!(leader.status, 200, "{}", leader.body);
    if leader.body.get("leader_address").is_some() {
        assert_eq!(leader.body["leader_address"], "");
    }

    // PROXY protocol v1 and v2: the header names the client.
    let path = "/v1/auth/token/lookup-self";
    let v1 = b"PROXY TCP4 203.0.113.5 127.0.0.1 5555 8200\r\n";
    let token_c = token.clone();
    let statuses = tokio::task::spawn_blocking(move || {
        [
            raw_status(proxy_port, v1, path, &token_c),
            raw_status(
                proxy_port,
                &proxy_v2([203, 0, 113, 5], 5555),
                path,
                &token_c,
            ),
            raw_status(
                proxy_port,
                &proxy_v2([198, 51, 100, 1], 5555),
                path,
                &token_c,
            ),
            // No header: the peer's own address (refused by the token's binding).
            raw_status(proxy_port, b"", path, &token_c),
            // A PROXY connection from loopback where only 10/8 may send one: closed.
            raw_status(deny_port, v1, path, &token_c),
            raw_status(deny_port, b"", path, &token_c),
        ]
    })
    .await
    .expect("raw requests");
    assert_eq!(
        statuses,
        [Some(200), Some(200), Some(403), Some(403), None, None]
    );
}

/// A CA and a client certificate it signed (PEM).
fn ca_and_client() -> (String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.distinguished_name.push(DnType::CommonName, "proxy-ca");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_pem = ca.self_signed(&ca_key).expect("ca").pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("key");
    let mut client = CertificateParams::new(vec!["alice.example.com".into()]).expect("params");
    client.distinguished_name.push(DnType::CommonName, "alice");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_pem = client.signed_by(&key, &issuer).expect("client").pem();
    (ca_pem, client_pem)
}

/// A server whose second listener believes a certificate forwarded by a proxy on loopback
/// (URL-encoded PEM in `X-SSL-Client-Cert`), and whose third trusts only proxies elsewhere.
fn client_cert_server() -> (Server, [u16; 2]) {
    let ports = [free_port(), free_port()];
    let [fwd, untrusted] = ports;
    let s = server_with(|_| {
        format!(
            r#"listener "tcp" {{
  address = "127.0.0.1:{fwd}"
  tls_disable = true
  x_forwarded_for_authorized_addrs = "127.0.0.1/32"
  x_forwarded_for_client_cert_header = "X-SSL-Client-Cert"
  x_forwarded_for_client_cert_decoders = ["URL", "PEM"]
}}
listener "tcp" {{
  address = "127.0.0.1:{untrusted}"
  tls_disable = true
  x_forwarded_for_authorized_addrs = "10.0.0.0/8"
  x_forwarded_for_client_cert_header = "X-SSL-Client-Cert"
  x_forwarded_for_client_cert_decoders = ["URL", "PEM"]
}}
"#
        )
    });
    (s, ports)
}

/// A cert auth login through `server` with extra headers.
async fn cert_login(server: &Server, headers: &[(&str, &str)]) -> Answer {
    call_with(
        server,
        "POST",
        "auth/cert/login",
        None,
        headers,
        Some(Body::Json(json!({"name": "web"}))),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarded_client_certificates_log_in_with_cert_auth() {
    let (s, [fwd_port, untrusted_port]) = client_cert_server();
    let (_key, root) = init_unseal(&s).await;
    let fwd = on_port(fwd_port);
    let untrusted = on_port(untrusted_port);
    let (ca, client) = ca_and_client();
    let enable = call(
        &s,
        "POST",
        "sys/auth/cert",
        Some(&root),
        Some(json!({"type": "cert"})),
    )
    .await;
    assert_eq!(enable.status, 204, "{}", enable.body);
    let role = call(
        &s,
        "POST",
        "auth/cert/certs/web",
        Some(&root),
        Some(json!({"certificate": ca, "token_ttl": "1h"})),
    )
    .await;
    assert_eq!(role.status, 204, "{}", role.body);
    let encoded: String = form_urlencoded_pem(&client);

    // Through the proxy: the forwarded certificate logs in.
    let ok = cert_login(
        &fwd,
        &[
            ("X-Forwarded-For", "203.0.113.9"),
            ("X-SSL-Client-Cert", &encoded),
        ],
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["auth"]["metadata"]["common_name"], "alice");

    // Not forwarded, from a proxy not trusted, or on a listener without the option: the
    // header is not believed, so there is no certificate to log in with.
    for (server, headers) in [
        (&fwd, vec![("X-SSL-Client-Cert", encoded.as_str())]),
        (
            &untrusted,
            vec![
                ("X-Forwarded-For", "203.0.113.9"),
                ("X-SSL-Client-Cert", encoded.as_str()),
            ],
        ),
        (
            &s,
            vec![
                ("X-Forwarded-For", "203.0.113.9"),
                ("X-SSL-Client-Cert", encoded.as_str()),
            ],
        ),
    ] {
        let refused = cert_login(server, &headers).await;
        assert!(
            refused.status == 400 || refused.status == 403,
            "{}: {} {}",
            server.addr,
            refused.status,
            refused.body
        );
        assert!(refused.body["auth"].is_null());
    }

    // Values that are not a certificate get OpenBao's 400s.
    let xff = ("X-Forwarded-For", "203.0.113.9");
    for (value, error) in [
        ("%zz", "error url decoding client certificate header"),
        ("hello", "failed to decode PEM certificate"),
    ] {
        let a = cert_login(&fwd, &[xff, ("X-SSL-Client-Cert", value)]).await;
        assert_eq!(a.status, 400, "{value}: {}", a.body);
        assert_eq!(a.body, json!({"errors": [error]}), "{value}");
    }
    let twice = call_with(
        &fwd,
        "POST",
        "auth/cert/login",
        None,
        &[
            xff,
            ("X-SSL-Client-Cert", &encoded),
            ("X-SSL-Client-Cert", &encoded),
        ],
        Some(Body::Json(json!({"name": "web"}))),
    )
    .await;
    assert_eq!(twice.status, 400);
    assert_eq!(
        twice.body["errors"][0],
        "too many values for client certificate header; check RFC 9440 and do not send chain"
    );
}

/// `pem` URL-encoded as a proxy (nginx's `$ssl_client_escaped_cert`) sends it.
fn form_urlencoded_pem(pem: &str) -> String {
    pem.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
