//! The rustls server configuration of a TLS listener: certificate and key from PEM files,
//! protocol versions, ALPN, and how client certificates are asked for.
//!
//! Client certificates follow Vault's listener options:
//! - by default a certificate is requested but not required; with `client_ca_file` a presented
//!   one must chain to it, without it any chain is accepted here (the handshake signature is
//!   still checked) so the cert auth method can do the full validation itself;
//! - `require_and_verify_client_cert` requires one that chains to `client_ca_file`;
//! - `disable_client_certs` never asks.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};

use crate::error::HttpError;
use crate::options::{TlsOptions, TlsVersion};

/// Builds the server configuration, reading the files now so errors show at start-up.
pub(crate) fn server_config(opts: &TlsOptions) -> Result<Arc<ServerConfig>, HttpError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let certs = load_certs(&opts.cert_file, "certificate")?;
    let key = PrivateKeyDer::from_pem_file(&opts.key_file).map_err(|e| HttpError::TlsFile {
        what: "key",
        path: opts.key_file.clone(),
        reason: e.to_string(),
    })?;
    let versions = protocol_versions(opts)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| HttpError::TlsConfig(e.to_string()))?;
    let builder = match client_verifier(opts, &provider)? {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| HttpError::TlsConfig(format!("certificate and key: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn protocol_versions(
    opts: &TlsOptions,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, HttpError> {
    let max = opts.max_version.unwrap_or(TlsVersion::Tls13);
    let versions: Vec<_> = [
        (TlsVersion::Tls12, &rustls::version::TLS12),
        (TlsVersion::Tls13, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(v, _)| *v >= opts.min_version && *v <= max)
    .map(|(_, p)| p)
    .collect();
    if versions.is_empty() {
        return Err(HttpError::TlsConfig(
            "tls_min_version is above tls_max_version".to_string(),
        ));
    }
    Ok(versions)
}

fn client_verifier(
    opts: &TlsOptions,
    provider: &Arc<CryptoProvider>,
) -> Result<Option<Arc<dyn ClientCertVerifier>>, HttpError> {
    if opts.disable_client_certs {
        if opts.require_and_verify_client_cert {
            return Err(HttpError::TlsConfig(
                "'tls_disable_client_certs' and 'tls_require_and_verify_client_cert' are \
                 mutually exclusive"
                    .to_string(),
            ));
        }
        return Ok(None);
    }
    let roots = match &opts.client_ca_file {
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for cert in load_certs(path, "client CA")? {
                roots.add(cert).map_err(|e| HttpError::TlsFile {
                    what: "client CA",
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            }
            Some(Arc::new(roots))
        }
        None => None,
    };
    let webpki = |roots| WebPkiClientVerifier::builder_with_provider(roots, provider.clone());
    let verifier: Arc<dyn ClientCertVerifier> = match (roots, opts.require_and_verify_client_cert) {
        (Some(roots), true) => webpki(roots)
            .build()
            .map_err(|e| HttpError::TlsConfig(e.to_string()))?,
        (None, true) => {
            return Err(HttpError::TlsConfig(
                "'tls_require_and_verify_client_cert' needs 'tls_client_ca_file'".to_string(),
            ));
        }
        (Some(roots), false) => webpki(roots)
            .allow_unauthenticated()
            .build()
            .map_err(|e| HttpError::TlsConfig(e.to_string()))?,
        (None, false) => Arc::new(AnyClientCert {
            algorithms: provider.signature_verification_algorithms,
        }),
    };
    Ok(Some(verifier))
}

fn load_certs(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, HttpError> {
    let err = |reason: String| HttpError::TlsFile {
        what,
        path: path.to_path_buf(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no certificate found".to_string()));
    }
    Ok(certs)
}

/// Requests a client certificate, does not require one, and accepts any chain: the proof of
/// possession (the handshake signature) is still checked, the chain is judged later by the
/// cert auth method against its own trust configuration.
#[derive(Debug)]
struct AnyClientCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
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
