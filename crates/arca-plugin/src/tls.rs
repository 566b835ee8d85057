//! Auto-mTLS as go-plugin does it: each side makes a one-off self-signed certificate and trusts
//! exactly one pinned peer certificate. rustls-webpki refuses go-plugin's CA-flagged leaf
//! certificates, so the verifiers here compare the presented DER with the pinned DER and then
//! check the handshake signatures with the aws-lc-rs provider (which also covers Go's P-521).

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, ServerConfig, SignatureScheme};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::PluginError;

/// The ALPN protocol gRPC needs (grpc-go ≥ 1.67 enforces it over TLS).
pub const ALPN_H2: &[u8] = b"h2";

/// A one-off certificate and its private key.
pub struct OneOffCert {
    der: CertificateDer<'static>,
    pem: String,
    key_pkcs8: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for OneOffCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OneOffCert")
            .field("der_len", &self.der.len())
            .finish_non_exhaustive()
    }
}

impl OneOffCert {
    /// Makes a self-signed ECDSA P-256 certificate for `localhost` with EKU serverAuth and
    /// clientAuth. `ca` sets the CA flag and CertSign usage, as go-plugin's certificates have.
    pub fn generate(ca: bool) -> Result<OneOffCert, PluginError> {
        let tls = |e: rcgen::Error| PluginError::Tls(e.to_string());
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(tls)?;
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).map_err(tls)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "localhost");
        dn.push(DnType::OrganizationName, "HashiCorp");
        params.distinguished_name = dn;
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages.push(KeyUsagePurpose::KeyCertSign);
        }
        let cert = params.self_signed(&key).map_err(tls)?;
        Ok(OneOffCert {
            der: cert.der().clone(),
            pem: cert.pem(),
            key_pkcs8: Zeroizing::new(key.serialize_der()),
        })
    }

    /// The certificate, DER.
    pub fn der(&self) -> &CertificateDer<'static> {
        &self.der
    }

    /// The certificate, PEM (what `PLUGIN_CLIENT_CERT` carries).
    pub fn pem(&self) -> &str {
        &self.pem
    }

    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_pkcs8.to_vec()))
    }
}

/// Reads the first certificate of a PEM text (the `PLUGIN_CLIENT_CERT` value).
pub fn cert_from_pem(pem: &str) -> Result<CertificateDer<'static>, PluginError> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| PluginError::Tls(format!("cannot read peer certificate PEM: {e}")))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Trusts exactly one certificate, by DER, and checks handshake signatures against it.
#[derive(Debug)]
pub struct PinnedVerifier {
    pinned: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl PinnedVerifier {
    /// A verifier for `pinned`.
    pub fn new(pinned: CertificateDer<'static>) -> PinnedVerifier {
        PinnedVerifier {
            pinned,
            provider: provider(),
        }
    }

    fn check(&self, presented: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        let same = presented.len() == self.pinned.len()
            && bool::from(presented.as_ref().ct_eq(self.pinned.as_ref()));
        if same {
            Ok(())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn tls12(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn tls13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls12(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes()
    }
}

impl ClientCertVerifier for PinnedVerifier {
    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls12(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes()
    }
}

const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// A TLS server config: our certificate, a client certificate required and pinned to `peer`,
/// TLS 1.2/1.3, ALPN h2.
pub fn server_config(
    own: &OneOffCert,
    peer: CertificateDer<'static>,
) -> Result<Arc<ServerConfig>, PluginError> {
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| PluginError::Tls(e.to_string()))?
        .with_client_cert_verifier(Arc::new(PinnedVerifier::new(peer)))
        .with_single_cert(vec![own.der.clone()], own.key())
        .map_err(|e| PluginError::Tls(e.to_string()))?;
    cfg.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(Arc::new(cfg))
}

/// A TLS client config: our certificate as the client certificate, the server pinned to
/// `peer`, TLS 1.2/1.3, ALPN h2.
pub fn client_config(
    own: &OneOffCert,
    peer: CertificateDer<'static>,
) -> Result<Arc<ClientConfig>, PluginError> {
    let mut cfg = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| PluginError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedVerifier::new(peer)))
        .with_client_auth_cert(vec![own.der.clone()], own.key())
        .map_err(|e| PluginError::Tls(e.to_string()))?;
    cfg.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(Arc::new(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_and_pinning() {
        let a = OneOffCert::generate(true).unwrap();
        let b = OneOffCert::generate(false).unwrap();
        assert_eq!(&cert_from_pem(a.pem()).unwrap(), a.der());
        let v = PinnedVerifier::new(a.der().clone());
        assert!(v.check(a.der()).is_ok());
        assert!(v.check(b.der()).is_err());
        assert!(server_config(&a, b.der().clone()).is_ok());
        assert!(client_config(&b, a.der().clone()).is_ok());
        assert!(cert_from_pem("not a pem").is_err());
    }
}
