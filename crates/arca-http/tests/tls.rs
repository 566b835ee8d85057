//! TLS listeners: certificates made here with rcgen, client certificates requested, required
//! or not asked for, and passed through to the request.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use arca_http::{HttpError, TlsOptions, TlsVersion};
use common::start;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};

/// A server certificate for 127.0.0.1, written as PEM files in a fresh directory.
struct Pki {
    dir: PathBuf,
    server_cert_pem: String,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("arca-http-tls-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let server = rcgen::generate_simple_self_signed(vec![
            "127.0.0.1".to_string(),
            "localhost".to_string(),
        ])
        .unwrap();
        std::fs::write(dir.join("server.pem"), server.cert.pem()).unwrap();
        std::fs::write(
            dir.join("server-key.pem"),
            server.signing_key.serialize_pem(),
        )
        .unwrap();
        Pki {
            dir,
            server_cert_pem: server.cert.pem(),
        }
    }

    fn options(&self) -> TlsOptions {
        TlsOptions::new(self.dir.join("server.pem"), self.dir.join("server-key.pem"))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn client(&self, identity: Option<&Identity>) -> reqwest::Client {
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .add_root_certificate(
                reqwest::Certificate::from_pem(self.server_cert_pem.as_bytes()).unwrap(),
            );
        if let Some(id) = identity {
            b = b.identity(reqwest::Identity::from_pem(id.pem.as_bytes()).unwrap());
        }
        b.build().unwrap()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A client certificate: its DER and the PEM of certificate plus key.
struct Identity {
    der: Vec<u8>,
    pem: String,
}

fn self_signed_client() -> Identity {
    let ck = rcgen::generate_simple_self_signed(vec!["client.example".to_string()]).unwrap();
    Identity {
        der: ck.cert.der().to_vec(),
        pem: format!("{}{}", ck.cert.pem(), ck.signing_key.serialize_pem()),
    }
}

/// A CA (written to `ca.pem`) and a client certificate it signed.
fn ca_and_client(pki: &Pki) -> Identity {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Arca Test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    std::fs::write(pki.path("ca.pem"), ca.pem()).unwrap();

    let mut params = CertificateParams::new(vec!["client.example".to_string()]).unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    Identity {
        der: cert.der().to_vec(),
        pem: format!("{}{}", cert.pem(), key.serialize_pem()),
    }
}

#[tokio::test]
async fn tls_without_a_client_certificate() {
    let pki = Pki::new("plain");
    let tls = pki.options();
    let s = start(move |o| o.tls = Some(tls)).await;
    let resp = pki
        .client(None)
        .get(s.url("/v1/kv/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // ALPN offers h2.
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    let conn = s.last().connection.unwrap();
    assert_eq!(conn.remote_addr, "127.0.0.1");
    assert!(conn.peer_certificates.is_empty());

    // Plain HTTP on a TLS listener does not get an answer.
    assert!(
        reqwest::get(format!("http://{}/v1/kv/x", s.handle.local_addr))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn any_client_certificate_is_passed_through_without_a_ca() {
    // No client CA: the certificate is requested, accepted unverified (the cert auth method
    // judges it later), and its DER reaches the request.
    let pki = Pki::new("any");
    let tls = pki.options();
    let s = start(move |o| o.tls = Some(tls)).await;
    let id = self_signed_client();
    let resp = pki
        .client(Some(&id))
        .get(s.url("/v1/auth/cert/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let conn = s.last().connection.unwrap();
    assert_eq!(conn.peer_certificates, vec![id.der]);
}

#[tokio::test]
async fn client_ca_verifies_presented_certificates_but_does_not_require_one() {
    let pki = Pki::new("ca-optional");
    let id = ca_and_client(&pki);
    let mut tls = pki.options();
    tls.client_ca_file = Some(pki.path("ca.pem"));
    let s = start(move |o| o.tls = Some(tls)).await;

    let resp = pki
        .client(Some(&id))
        .get(s.url("/v1/kv/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(s.last().connection.unwrap().peer_certificates, vec![id.der]);

    let resp = pki
        .client(None)
        .get(s.url("/v1/kv/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(s.last().connection.unwrap().peer_certificates.is_empty());

    // A certificate from another issuer is refused in the handshake.
    let stranger = self_signed_client();
    assert!(
        pki.client(Some(&stranger))
            .get(s.url("/v1/kv/x"))
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn required_client_certificates() {
    let pki = Pki::new("required");
    let id = ca_and_client(&pki);
    let mut tls = pki.options();
    tls.client_ca_file = Some(pki.path("ca.pem"));
    tls.require_and_verify_client_cert = true;
    let s = start(move |o| o.tls = Some(tls)).await;

    let resp = pki
        .client(Some(&id))
        .get(s.url("/v1/kv/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(s.last().connection.unwrap().peer_certificates, vec![id.der]);

    let before = s.calls();
    assert!(
        pki.client(None)
            .get(s.url("/v1/kv/x"))
            .send()
            .await
            .is_err()
    );
    assert_eq!(s.calls(), before);
}

#[tokio::test]
async fn disabled_client_certificates_are_not_asked_for() {
    let pki = Pki::new("disabled");
    let mut tls = pki.options();
    tls.disable_client_certs = true;
    let s = start(move |o| o.tls = Some(tls)).await;
    let id = self_signed_client();
    let resp = pki
        .client(Some(&id))
        .get(s.url("/v1/kv/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(s.last().connection.unwrap().peer_certificates.is_empty());
}

#[tokio::test]
async fn protocol_versions() {
    let pki = Pki::new("versions");
    let mut tls = pki.options();
    tls.min_version = TlsVersion::Tls13;
    let s = start(move |o| o.tls = Some(tls)).await;
    let tls12_only = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(
            reqwest::Certificate::from_pem(pki.server_cert_pem.as_bytes()).unwrap(),
        )
        .max_tls_version(reqwest::tls::Version::TLS_1_2)
        .build()
        .unwrap();
    assert!(tls12_only.get(s.url("/v1/kv/x")).send().await.is_err());
    let resp = pki
        .client(None)
        .get(s.url("/v1/kv/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let mut tls = pki.options();
    tls.max_version = Some(TlsVersion::Tls12);
    let s = start(move |o| o.tls = Some(tls)).await;
    let tls13_only = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(
            reqwest::Certificate::from_pem(pki.server_cert_pem.as_bytes()).unwrap(),
        )
        .min_tls_version(reqwest::tls::Version::TLS_1_3)
        .build()
        .unwrap();
    assert!(tls13_only.get(s.url("/v1/kv/x")).send().await.is_err());
    assert_eq!(
        pki.client(None)
            .get(s.url("/v1/kv/x"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

async fn start_err(tls: TlsOptions) -> HttpError {
    let mut opts = arca_http::ListenerOptions::new("127.0.0.1:0".parse().unwrap());
    opts.tls = Some(tls);
    arca_http::serve(
        opts,
        std::sync::Arc::new(common::Recorder::default()),
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap_err()
}

#[tokio::test]
async fn bad_tls_configuration_is_reported_at_start() {
    let pki = Pki::new("bad");
    let missing = TlsOptions::new(pki.path("nope.pem"), pki.path("server-key.pem"));
    assert!(matches!(
        start_err(missing).await,
        HttpError::TlsFile {
            what: "certificate",
            ..
        }
    ));

    std::fs::write(pki.path("empty.pem"), "").unwrap();
    let empty = TlsOptions::new(pki.path("empty.pem"), pki.path("server-key.pem"));
    assert!(matches!(start_err(empty).await, HttpError::TlsFile { .. }));

    let mut no_ca = pki.options();
    no_ca.require_and_verify_client_cert = true;
    assert!(matches!(start_err(no_ca).await, HttpError::TlsConfig(_)));

    let mut both = pki.options();
    both.disable_client_certs = true;
    both.require_and_verify_client_cert = true;
    assert!(matches!(start_err(both).await, HttpError::TlsConfig(_)));

    let mut inverted = pki.options();
    inverted.min_version = TlsVersion::Tls13;
    inverted.max_version = Some(TlsVersion::Tls12);
    assert!(matches!(start_err(inverted).await, HttpError::TlsConfig(_)));

    // The key of another certificate.
    let other = rcgen::generate_simple_self_signed(vec!["x".to_string()]).unwrap();
    std::fs::write(pki.path("other-key.pem"), other.signing_key.serialize_pem()).unwrap();
    let mismatched = TlsOptions::new(pki.path("server.pem"), pki.path("other-key.pem"));
    assert!(matches!(
        start_err(mismatched).await,
        HttpError::TlsConfig(_)
    ));
}
