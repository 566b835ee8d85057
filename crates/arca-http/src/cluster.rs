//! The cluster port between the nodes of an HA cluster: a standby forwards client requests
//! to the active node over it, and tells the active node it is alive.
//!
//! Both ends authenticate with the one certificate the active node made for its term and
//! published inside the barrier: the active node's cluster listener presents it and accepts
//! only clients presenting it too, a standby's forwarder trusts exactly it. Only unsealed
//! nodes can read it, so only they can talk on the cluster port (as Vault's request
//! forwarding does).
//!
//! A forwarded request is the client's HTTP request as it came (method, path and query,
//! headers, body), with the client's address and TLS certificates in headers that only the
//! cluster listener trusts; the answer goes back to the client unchanged.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use zeroize::Zeroizing;

use crate::error::HttpError;

/// Header carrying the client's address (`ip:port`) on a forwarded request.
pub(crate) const FORWARDED_FOR: &str = "x-arca-forwarded-for";
/// Header carrying the client's TLS certificates (base64 DER, comma-separated) on a
/// forwarded request.
pub(crate) const FORWARDED_CERTS: &str = "x-arca-forwarded-client-certs";
/// The path a standby's echo is posted to on the cluster port.
pub(crate) const ECHO_PATH: &str = "/cluster/echo";
/// How long a forwarded request may take at most (the active node's own limit applies too).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(90);

/// The identity of the active node's term: its certificate and PKCS#8 key, both DER.
#[derive(Clone)]
pub struct ClusterIdentity {
    /// The self-signed certificate.
    pub cert_der: Vec<u8>,
    /// Its private key.
    pub key_der: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for ClusterIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterIdentity").finish_non_exhaustive()
    }
}

impl ClusterIdentity {
    /// A new identity: a P-256 key and a self-signed certificate for it.
    pub fn generate() -> Result<ClusterIdentity, HttpError> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| HttpError::TlsConfig(format!("cluster key: {e}")))?;
        let mut params = rcgen::CertificateParams::new(vec!["arca-cluster".to_string()])
            .map_err(|e| HttpError::TlsConfig(format!("cluster certificate: {e}")))?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "arca-cluster");
        let cert = params
            .self_signed(&key)
            .map_err(|e| HttpError::TlsConfig(format!("cluster certificate: {e}")))?;
        Ok(ClusterIdentity {
            cert_der: cert.der().to_vec(),
            key_der: Zeroizing::new(key.serialize_der()),
        })
    }

    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.to_vec()))
    }
}

/// The rustls configuration of the active node's cluster listener.
pub(crate) fn server_config(
    identity: &ClusterIdentity,
) -> Result<Arc<rustls::ServerConfig>, HttpError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(Pinned {
        cert: identity.cert_der.clone(),
        algorithms: provider.signature_verification_algorithms,
    });
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| HttpError::TlsConfig(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(identity.cert_der.clone())],
            identity.key(),
        )
        .map_err(|e| HttpError::TlsConfig(format!("cluster certificate and key: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A standby's client to the active node's cluster port.
#[derive(Clone)]
pub struct Forwarder {
    client: reqwest::Client,
    base: String,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Forwarder {
    /// A client for the active node at `cluster_addr` (`https://host:port`) presenting and
    /// trusting `identity`.
    pub fn new(cluster_addr: &str, identity: &ClusterIdentity) -> Result<Forwarder, HttpError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = Arc::new(Pinned {
            cert: identity.cert_der.clone(),
            algorithms: provider.signature_verification_algorithms,
        });
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| HttpError::TlsConfig(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_client_auth_cert(
                vec![CertificateDer::from(identity.cert_der.clone())],
                identity.key(),
            )
            .map_err(|e| HttpError::TlsConfig(format!("cluster client certificate: {e}")))?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(config)
            .http2_prior_knowledge()
            .timeout(FORWARD_TIMEOUT)
            .build()
            .map_err(|e| HttpError::TlsConfig(format!("cluster client: {e}")))?;
        let base = cluster_addr.trim_end_matches('/').to_string();
        let base = if base.contains("://") {
            base.replacen("http://", "https://", 1)
        } else {
            format!("https://{base}")
        };
        Ok(Forwarder { client, base })
    }

    /// Sends the client's request on and returns the active node's answer.
    pub(crate) async fn forward(
        &self,
        parts: &hyper::http::request::Parts,
        body: Bytes,
        client: &arca_sdk::Connection,
    ) -> Result<hyper::Response<http_body_util::Full<Bytes>>, reqwest::Error> {
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let mut req = self
            .client
            .request(parts.method.clone(), format!("{}{path}", self.base))
            .body(body);
        for (name, value) in &parts.headers {
            if is_hop_by_hop(name.as_str())
                || name == FORWARDED_FOR
                || name == FORWARDED_CERTS
                || name == hyper::header::HOST
            {
                continue;
            }
            req = req.header(name, value);
        }
        req = req.header(
            FORWARDED_FOR,
            format!("{}:{}", client.remote_addr, client.remote_port),
        );
        if !client.peer_certificates.is_empty() {
            let engine = base64::engine::general_purpose::STANDARD;
            let certs: Vec<String> = client
                .peer_certificates
                .iter()
                .map(|c| engine.encode(c))
                .collect();
            req = req.header(FORWARDED_CERTS, certs.join(","));
        }
        let resp = req.send().await?;
        let mut answer = hyper::Response::builder().status(resp.status());
        for (name, value) in resp.headers() {
            if is_hop_by_hop(name.as_str()) || name == hyper::header::CONTENT_LENGTH {
                continue;
            }
            answer = answer.header(name, value);
        }
        let bytes = resp.bytes().await?;
        Ok(answer
            .body(http_body_util::Full::new(bytes))
            .unwrap_or_else(|_| {
                crate::envelope::error(
                    hyper::StatusCode::INTERNAL_SERVER_ERROR,
                    "invalid forwarded response",
                )
            }))
    }

    /// Tells the active node this standby is alive (`sys/ha-status`).
    pub async fn echo(&self, node: &serde_json::Value) -> Result<(), reqwest::Error> {
        self.client
            .post(format!("{}{ECHO_PATH}", self.base))
            .json(node)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }
}

fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "upgrade"
            | "te"
            | "trailer"
    )
}

/// The client address and certificates a forwarded request carries.
pub(crate) fn forwarded_connection(
    headers: &hyper::HeaderMap,
    fallback: &arca_sdk::Connection,
) -> arca_sdk::Connection {
    let mut conn = fallback.clone();
    if let Some(addr) = headers
        .get(FORWARDED_FOR)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<SocketAddr>().ok())
    {
        conn.remote_addr = addr.ip().to_string();
        conn.remote_port = addr.port();
    }
    conn.peer_certificates = headers
        .get(FORWARDED_CERTS)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let engine = base64::engine::general_purpose::STANDARD;
            v.split(',')
                .filter_map(|c| engine.decode(c.trim()).ok())
                .collect()
        })
        .unwrap_or_default();
    conn
}

/// Accepts exactly one certificate (the term's cluster certificate), on either side.
#[derive(Debug)]
struct Pinned {
    cert: Vec<u8>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl Pinned {
    fn check(&self, end_entity: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        use subtle::ConstantTimeEq;
        if end_entity.as_ref().len() == self.cert.len()
            && bool::from(end_entity.as_ref().ct_eq(&self.cert))
        {
            Ok(())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))
        }
    }
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|()| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl ClientCertVerifier for Pinned {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|()| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
