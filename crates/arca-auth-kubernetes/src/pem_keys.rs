//! `pem_keys`: the public keys (or certificates, whose keys are taken) that verify service
//! account JWTs locally, parsed as OpenBao's `ParsePublicKeyPEM` parses them.

use base64::Engine;
use x509_parser::oid_registry::{
    OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION, OID_SIG_ED25519,
};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::x509::SubjectPublicKeyInfo;

/// A public key that can verify JWT signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicKey {
    /// An RSA key: its PKCS#1 `RSAPublicKey` DER.
    Rsa(Vec<u8>),
    /// An ECDSA key: its uncompressed point.
    Ec(Vec<u8>),
    /// An Ed25519 key: its 32 bytes.
    Ed25519(Vec<u8>),
}

/// Why a `pem_keys` entry was refused; the text is OpenBao's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PemKeyError {
    /// No PEM block, or a key of a type that cannot verify JWTs.
    #[error("data does not contain any valid public keys")]
    NoKey,
    /// Something follows the first PEM block.
    #[error("unexpected trailing data after parsed PEM block")]
    TrailingData,
    /// The block is neither a public key nor a certificate.
    #[error("x509: malformed certificate")]
    Malformed,
}

/// One PEM block found in a text: its DER body and what follows it.
struct Block<'a> {
    der: Vec<u8>,
    rest: &'a str,
}

/// The first PEM block of `text` (text before it is skipped, as Go's `pem.Decode` does).
fn first_block(text: &str) -> Option<Block<'_>> {
    let mut search = text;
    loop {
        let start = search.find("-----BEGIN ")?;
        let after_begin = &search[start + "-----BEGIN ".len()..];
        let label_end = after_begin.find("-----")?;
        let label = &after_begin[..label_end];
        let body_start = &after_begin[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = body_start.find(&end_marker) else {
            search = body_start;
            continue;
        };
        let body: String = body_start[..end]
            .lines()
            .filter(|l| !l.contains(':'))
            .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
            .collect();
        let Ok(der) = base64::engine::general_purpose::STANDARD.decode(body) else {
            search = body_start;
            continue;
        };
        let mut rest = &body_start[end + end_marker.len()..];
        rest = rest
            .strip_prefix("\r\n")
            .or_else(|| rest.strip_prefix('\n'))
            .unwrap_or(rest);
        return Some(Block { der, rest });
    }
}

/// Parses one `pem_keys` entry: a PKIX public key, or else a certificate's key.
pub(crate) fn parse_public_key_pem(text: &str) -> Result<PublicKey, PemKeyError> {
    let Some(block) = first_block(text) else {
        return Err(PemKeyError::NoKey);
    };
    if !block.rest.trim().is_empty() {
        return Err(PemKeyError::TrailingData);
    }
    let key = match SubjectPublicKeyInfo::from_der(&block.der) {
        Ok((_, spki)) => key_of(&spki),
        Err(_) => match X509Certificate::from_der(&block.der) {
            Ok((_, cert)) => key_of(cert.public_key()),
            Err(_) => return Err(PemKeyError::Malformed),
        },
    };
    key.ok_or(PemKeyError::NoKey)
}

fn key_of(spki: &SubjectPublicKeyInfo<'_>) -> Option<PublicKey> {
    let alg = &spki.algorithm.algorithm;
    let bits = spki.subject_public_key.data.to_vec();
    if *alg == OID_PKCS1_RSAENCRYPTION {
        Some(PublicKey::Rsa(bits))
    } else if *alg == OID_KEY_TYPE_EC_PUBLIC_KEY {
        Some(PublicKey::Ec(bits))
    } else if *alg == OID_SIG_ED25519 {
        Some(PublicKey::Ed25519(bits))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqgSHZVzMg8DcVq1xp9H0eh4fbf3b
jr7QHRTw7e0ePUWle+nxQTgiA0wZl3NlENPaPrc9BXqSpikPUycVYMEFXw==
-----END PUBLIC KEY-----
";

    #[test]
    fn parses_keys_and_refuses_others_with_openbao_texts() {
        assert!(matches!(parse_public_key_pem(EC_KEY), Ok(PublicKey::Ec(p)) if p.len() == 65));
        assert_eq!(parse_public_key_pem("garbage"), Err(PemKeyError::NoKey));
        assert_eq!(
            parse_public_key_pem(&format!("{EC_KEY}more")),
            Err(PemKeyError::TrailingData)
        );
        assert_eq!(
            parse_public_key_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"),
            Err(PemKeyError::Malformed)
        );
    }
}
