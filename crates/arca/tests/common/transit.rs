//! Transit helpers shared by the transit tests.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{Server, call};

/// Wraps `key` for import as OpenBao's docs describe: RSA-OAEP(SHA-256) of an ephemeral
/// AES-256 key, then AES-KWP of the key under it.
pub async fn wrap_for_import(s: &Server, key: &[u8]) -> String {
    use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
    use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey};
    let wk = call(s, "GET", "transit/wrapping_key", Some("root"), None).await;
    assert_eq!(wk.status, 200, "{}", wk.body);
    let pem = wk.body["data"]["public_key"]
        .as_str()
        .expect("public_key")
        .to_string();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    let b64body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let spki = STANDARD.decode(b64body).expect("PEM body");
    let pk =
        OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(&spki).expect("RSA public key"))
            .expect("OAEP key");
    assert_eq!(pk.key_size_bits(), 4096);
    let mut eph = [0u8; 32];
    aws_lc_rs::rand::fill(&mut eph).expect("wrapping");
    let mut wrapped_eph = vec![0u8; pk.ciphertext_size()];
    let wrapped_eph = pk
        .encrypt(&OAEP_SHA256_MGF1SHA256, &eph, &mut wrapped_eph, None)
        .expect("wrapping")
        .to_vec();
    let kek = AesKek::new(&AES_256, &eph).expect("wrapping");
    let mut out = vec![0u8; key.len() + 16];
    let wrapped = kek
        .wrap_with_padding(key, &mut out)
        .expect("wrapping")
        .to_vec();
    STANDARD.encode([wrapped_eph, wrapped].concat())
}
