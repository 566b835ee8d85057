//! The non-password credentials a role can hand out (OpenBao's `credentials.go`): an RSA key
//! pair whose public half goes to the database, or a client certificate signed by the CA the
//! role's `credential_config` names, whose subject goes to the database.

use arca_sdk::JsonMap;
use arca_sdk::username_template::UsernameTemplate;
use chrono::{DateTime, Utc};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, RsaKeySize,
};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::plugin::UsernameMetadata;

/// A text field of a credential config (numbers as their text).
fn text(config: &JsonMap, key: &str) -> String {
    match config.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn bits(config: &JsonMap, key: &str) -> i64 {
    text(config, key).parse().unwrap_or(0)
}

fn rsa_size(bits: i64) -> Result<RsaKeySize, String> {
    Ok(match bits {
        0 | 2048 => RsaKeySize::_2048,
        3072 => RsaKeySize::_3072,
        4096 => RsaKeySize::_4096,
        other => return Err(format!("invalid key_bits: {other}")),
    })
}

/// Generates a key; RSA on a blocking thread (it takes long).
async fn generate(key_type: &str, key_bits: i64) -> Result<KeyPair, String> {
    match key_type {
        "rsa" => {
            let size = rsa_size(key_bits)?;
            tokio::task::spawn_blocking(move || {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, size)
            })
            .await
            .map_err(|e| format!("key generation failed: {e}"))?
            .map_err(|e| format!("failed to generate RSA key pair: {e}"))
        }
        "ec" => {
            let alg = match key_bits {
                0 | 256 => &rcgen::PKCS_ECDSA_P256_SHA256,
                384 => &rcgen::PKCS_ECDSA_P384_SHA384,
                521 => &rcgen::PKCS_ECDSA_P521_SHA512,
                other => return Err(format!("unsupported EC key size: {other}")),
            };
            KeyPair::generate_for(alg).map_err(|e| format!("failed to generate key: {e}"))
        }
        "ed25519" => KeyPair::generate_for(&rcgen::PKCS_ED25519)
            .map_err(|e| format!("failed to generate key: {e}")),
        other => Err(format!("invalid key_type: {other}")),
    }
}

/// An RSA key pair for `rsa_private_key` roles.
pub struct RsaCredential {
    /// The public key, PEM (`PUBLIC KEY`), for the database.
    pub public_pem: Vec<u8>,
    /// The private key, PKCS#8 PEM, for the caller.
    pub private_pem: Zeroizing<String>,
}

/// Generates the key pair a role's `credential_config` (`key_bits`) asks for.
pub async fn rsa_key(config: &JsonMap) -> Result<RsaCredential, String> {
    let key = generate("rsa", bits(config, "key_bits")).await?;
    Ok(RsaCredential {
        public_pem: key.public_key_pem().into_bytes(),
        private_pem: Zeroizing::new(key.serialize_pem()),
    })
}

/// A client certificate for `client_certificate` roles.
pub struct ClientCertificate {
    /// The certificate, PEM.
    pub certificate: String,
    /// Its private key, PKCS#8 PEM.
    pub private_key: Zeroizing<String>,
    /// `rsa`, `ec` or `ed25519`.
    pub private_key_type: String,
    /// The subject as Go prints a `pkix.Name` (`CN=<name>`), for the database.
    pub subject: String,
}

/// Checks the CA a client-certificate config names: both halves present, the certificate a CA.
pub fn check_ca(config: &JsonMap) -> Result<(), String> {
    let cert = text(config, "ca_cert");
    if cert.is_empty() {
        return Err("missing required ca_cert".into());
    }
    let key = Zeroizing::new(text(config, "ca_private_key"));
    if key.is_empty() {
        return Err("missing required ca_private_key".into());
    }
    KeyPair::from_pem(&key).map_err(|_| "private key not found in the PEM bundle".to_string())?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert.as_bytes())
        .map_err(|_| "certificate not found in the PEM bundle".to_string())?;
    let parsed = pem
        .parse_x509()
        .map_err(|_| "certificate not found in the PEM bundle".to_string())?;
    match parsed.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => Ok(()),
        Ok(Some(_)) => Err("the given certificate is not marked for CA use".into()),
        _ => Err("the given certificate does not meet basic constraints for CA use".into()),
    }
}

/// Issues a client certificate valid until `expiration`, named by the config's
/// `common_name_template`, signed by its CA.
pub async fn client_certificate(
    config: &JsonMap,
    expiration: DateTime<Utc>,
    meta: &UsernameMetadata,
) -> Result<ClientCertificate, String> {
    let template = UsernameTemplate::parse(&text(config, "common_name_template"))
        .map_err(|e| format!("failed to create template: {e}"))?;
    let common_name = template
        .generate(&meta.template_values(), &mut arca_sdk::random::fill)
        .map_err(|e| format!("invalid common_name_template: {e}"))?;
    let key_type = text(config, "key_type");
    let key = generate(&key_type, bits(config, "key_bits")).await?;
    let ca_key = KeyPair::from_pem(&Zeroizing::new(text(config, "ca_private_key")))
        .map_err(|e| format!("unable to load the CA key: {e}"))?;
    let issuer = rcgen::Issuer::from_ca_cert_pem(&text(config, "ca_cert"), ca_key)
        .map_err(|e| format!("unable to load the CA certificate: {e}"))?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name.clone());
    params.distinguished_name = dn;
    let now = Utc::now();
    let to_time = |t: DateTime<Utc>| {
        time::OffsetDateTime::from_unix_timestamp(t.timestamp())
            .map_err(|e| format!("invalid time: {e}"))
    };
    params.not_before = to_time(now - chrono::Duration::seconds(30))?;
    params.not_after = to_time(expiration)?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.is_ca = IsCa::ExplicitNoCa;
    let mut serial = [0u8; 16];
    arca_sdk::random::fill(&mut serial);
    serial[0] &= 0x7f;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    params.use_authority_key_identifier_extension = true;
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(|e| format!("unable to generate client certificate: {e}"))?;
    Ok(ClientCertificate {
        certificate: cert.pem(),
        private_key: Zeroizing::new(key.serialize_pem()),
        private_key_type: key_type,
        subject: format!("CN={common_name}"),
    })
}
