//! Mutual TLS between cluster members: each node presents its certificate, and both sides
//! accept only peers whose certificate chains to the cluster CA.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::RaftStorageError;

/// ALPN protocol of the cluster RPCs.
pub const ALPN: &[u8] = b"arca-raft/1";

/// The node's TLS material, all DER: the cluster CA, the node's certificate (valid for the
/// host of its cluster address, used both as server and as client certificate) and its
/// PKCS#8 private key.
#[derive(Clone)]
pub struct RaftTls {
    /// The CA that signs every member's certificate.
    pub ca_cert_der: Vec<u8>,
    /// This node's certificate.
    pub cert_der: Vec<u8>,
    /// This node's private key (PKCS#8).
    pub key_der: Vec<u8>,
}

impl std::fmt::Debug for RaftTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftTls").finish_non_exhaustive()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn tls_err(e: impl std::fmt::Display) -> RaftStorageError {
    RaftStorageError::Config(format!("raft TLS: {e}"))
}

impl RaftTls {
    fn roots(&self) -> Result<Arc<RootCertStore>, RaftStorageError> {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from(self.ca_cert_der.clone()))
            .map_err(tls_err)?;
        Ok(Arc::new(roots))
    }

    fn identity(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        (
            vec![CertificateDer::from(self.cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone())),
        )
    }

    /// The listener's configuration: requires a client certificate signed by the CA.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, RaftStorageError> {
        let provider = provider();
        let verifier = WebPkiClientVerifier::builder_with_provider(self.roots()?, provider.clone())
            .build()
            .map_err(tls_err)?;
        let (certs, key) = self.identity();
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .map_err(tls_err)?;
        config.alpn_protocols = vec![ALPN.to_vec()];
        Ok(Arc::new(config))
    }

    /// The dialer's configuration: trusts only the CA and presents this node's certificate.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, RaftStorageError> {
        let (certs, key) = self.identity();
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?
            .with_root_certificates(self.roots()?)
            .with_client_auth_cert(certs, key)
            .map_err(tls_err)?;
        config.alpn_protocols = vec![ALPN.to_vec()];
        Ok(Arc::new(config))
    }
}
