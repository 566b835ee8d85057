//! A named key loaded for use: its policy and, per version, the aws-lc-rs objects built once at
//! load (AEAD keys, signing key pairs), so a request does no parsing or key setup. Every
//! cryptographic operation of the engine is here, with keysutil's rules and error texts.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::encoding::{AsBigEndian, AsDer, EcPrivateKeyBin, Pkcs8V1Der};
use aws_lc_rs::rsa::{
    KeyPairComponents, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
    PrivateDecryptingKey, PublicEncryptingKey, RsaPssSaltLength,
};
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaEncoding, RsaKeyPair, UnparsedPublicKey,
};
use aws_lc_rs::{hkdf, hmac, rand};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

use crate::der;
use crate::hashing::HashAlg;
use crate::keytype::KeyType;
use crate::num::BigNum;
use crate::policy::{KeyEntry, Policy, RsaPrecomputedJson, RsaPrivateJson};
use crate::xchacha;

/// The convergent scheme new keys use (HMAC of the plaintext as nonce).
pub const CURRENT_CONVERGENT_VERSION: i64 = 3;
/// keysutil's text for a version below the minimum decryption version.
pub const ERR_TOO_OLD: &str = "ciphertext or signature version is disallowed by policy (too old)";

/// Why an operation failed: the caller's fault (400) or the server's (500).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    /// Bad input or a refused operation.
    #[error("{0}")]
    User(String),
    /// A server-side failure.
    #[error("{0}")]
    Internal(String),
}

impl OpError {
    fn user(m: impl Into<String>) -> OpError {
        OpError::User(m.into())
    }
    fn internal(m: impl Into<String>) -> OpError {
        OpError::Internal(m.into())
    }
}

/// Go's `base64.StdEncoding.DecodeString`, with its error text for bad input.
pub use arca_sdk::b64::decode_std as b64_decode;

/// The ECDSA curve of a type: signing algorithm (by digest length), verification algorithms
/// and field size.
fn ecdsa_params(
    t: KeyType,
) -> (
    &'static signature::EcdsaSigningAlgorithm,
    &'static signature::EcdsaSigningAlgorithm,
    &'static signature::EcdsaVerificationAlgorithm,
    &'static signature::EcdsaVerificationAlgorithm,
    &'static digest::Algorithm,
    usize,
) {
    match t {
        KeyType::EcdsaP384 => (
            &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            &signature::ECDSA_P384_SHA384_ASN1,
            &signature::ECDSA_P384_SHA384_FIXED,
            &digest::SHA384,
            48,
        ),
        KeyType::EcdsaP521 => (
            &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
            &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
            &signature::ECDSA_P521_SHA512_ASN1,
            &signature::ECDSA_P521_SHA512_FIXED,
            &digest::SHA512,
            66,
        ),
        _ => (
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &signature::ECDSA_P256_SHA256_ASN1,
            &signature::ECDSA_P256_SHA256_FIXED,
            &digest::SHA256,
            32,
        ),
    }
}

/// ECDSA signs the integer of a digest: its leftmost bits up to the order's size. P-256 and
/// P-384 orders are whole bytes, so the bytes are cut on the left or padded with zeros on the
/// left to the length of the curve's own digest, which leaves that integer unchanged (P-521's
/// SHA-512 is shorter than its order, so padding suffices).
fn ecdsa_digest(input: &[u8], alg: &'static digest::Algorithm) -> Result<Digest, OpError> {
    let mut buf = [0u8; digest::MAX_OUTPUT_LEN];
    let want = alg.output_len();
    let bytes = buf
        .get_mut(..want)
        .ok_or_else(|| OpError::internal("invalid digest length"))?;
    if input.len() >= want {
        bytes.copy_from_slice(&input[..want]);
    } else {
        bytes[want - input.len()..].copy_from_slice(input);
    }
    Digest::import_less_safe(bytes, alg).map_err(|_| OpError::internal("invalid digest length"))
}

/// The ASN.1 signing algorithm of an ECDSA type.
pub fn ecdsa_signing_alg(t: KeyType) -> &'static signature::EcdsaSigningAlgorithm {
    ecdsa_params(t).0
}

/// The coordinate length of an ECDSA type's curve in bytes.
pub fn ecdsa_field_len(t: KeyType) -> usize {
    ecdsa_params(t).5
}

/// PEM `PUBLIC KEY` of an ECDSA key pair.
pub fn ec_public_pem(pair: &EcdsaKeyPair) -> Result<String, OpError> {
    let spki = pair
        .public_key()
        .as_der()
        .map_err(|_| OpError::internal("ECDSA public key encoding failed"))?;
    Ok(der::pem("PUBLIC KEY", spki.as_ref()))
}

/// The PSS salt length asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Salt {
    /// Largest when signing, detected when verifying.
    Auto,
    /// The hash's length.
    Hash,
    /// A number of bytes.
    Len(usize),
}

fn rsa_digest_alg(h: HashAlg) -> Option<&'static digest::Algorithm> {
    match h {
        HashAlg::Sha256 => Some(&digest::SHA256),
        HashAlg::Sha384 => Some(&digest::SHA384),
        HashAlg::Sha512 => Some(&digest::SHA512),
        _ => None,
    }
}

type EncodingCache = HashMap<(u8, bool, i64), &'static signature::RsaSignatureEncoding>;
type ParamCache = HashMap<(u8, bool, i64), &'static signature::RsaParameters>;

fn salt_key(s: RsaPssSaltLength) -> i64 {
    match s {
        RsaPssSaltLength::Digest => -1,
        RsaPssSaltLength::Max => -2,
        RsaPssSaltLength::Custom(n) => i64::from(n),
        _ => -3,
    }
}

/// The signing encoding for a hash, padding and salt. aws-lc-rs takes them as `'static`
/// values; custom salt lengths are made once each and kept (at most 3 hashes x 512 lengths).
fn rsa_encoding(
    h: &'static digest::Algorithm,
    pss: bool,
    salt: RsaPssSaltLength,
) -> &'static signature::RsaSignatureEncoding {
    static CACHE: OnceLock<Mutex<EncodingCache>> = OnceLock::new();
    let idx = if h == &digest::SHA256 {
        0
    } else if h == &digest::SHA384 {
        1
    } else {
        2
    };
    let key = (idx, pss, salt_key(salt));
    let cache = CACHE.get_or_init(Default::default);
    let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
    map.entry(key).or_insert_with(|| {
        let base = match (idx, pss) {
            (0, true) => signature::RSA_PSS_SHA256,
            (1, true) => signature::RSA_PSS_SHA384,
            (_, true) => signature::RSA_PSS_SHA512,
            (0, false) => signature::RSA_PKCS1_SHA256,
            (1, false) => signature::RSA_PKCS1_SHA384,
            (_, false) => signature::RSA_PKCS1_SHA512,
        };
        Box::leak(Box::new(base.with_pss_salt_length(salt)))
    })
}

/// The verification parameters for a hash, padding and salt (made once each, as above).
fn rsa_params(
    h: &'static digest::Algorithm,
    pss: bool,
    salt: RsaPssSaltLength,
) -> &'static signature::RsaParameters {
    static CACHE: OnceLock<Mutex<ParamCache>> = OnceLock::new();
    let idx = if h == &digest::SHA256 {
        0
    } else if h == &digest::SHA384 {
        1
    } else {
        2
    };
    let key = (idx, pss, salt_key(salt));
    let cache = CACHE.get_or_init(Default::default);
    let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
    map.entry(key).or_insert_with(|| {
        let base = match (idx, pss) {
            (0, true) => signature::RSA_PSS_2048_8192_SHA256,
            (1, true) => signature::RSA_PSS_2048_8192_SHA384,
            (_, true) => signature::RSA_PSS_2048_8192_SHA512,
            (0, false) => signature::RSA_PKCS1_2048_8192_SHA256,
            (1, false) => signature::RSA_PKCS1_2048_8192_SHA384,
            (_, false) => signature::RSA_PKCS1_2048_8192_SHA512,
        };
        Box::leak(Box::new(base.with_pss_salt_length(salt)))
    })
}

/// What one version holds, ready to use.
enum Material {
    /// A non-derived AEAD key (AES-GCM or ChaCha20-Poly1305).
    Aead(LessSafeKey),
    /// Raw bytes used per request (derived keys, XChaCha, HMAC keys).
    Raw,
    /// An Ed25519 key pair (non-derived).
    Ed25519(Ed25519KeyPair),
    /// ECDSA: the pairs for ASN.1 and fixed signatures (absent for a public-only version) and
    /// the public key parsed once for each signature format.
    Ecdsa {
        asn1: Option<EcdsaKeyPair>,
        fixed: Option<EcdsaKeyPair>,
        verify_asn1: signature::ParsedPublicKey,
        verify_fixed: signature::ParsedPublicKey,
    },
    /// RSA: the pair (absent for a public-only version), the PKCS#1 public key, its size.
    Rsa {
        pair: Option<RsaKeyPair>,
        public_der: Vec<u8>,
        bits: usize,
    },
    /// Nothing usable (unknown type or empty entry).
    Empty,
}

/// A policy with its versions prepared.
pub struct Loaded {
    /// The policy as stored.
    pub policy: Policy,
    material: BTreeMap<i64, Material>,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("name", &self.policy.name)
            .finish()
    }
}

fn rsa_pair_of(r: &RsaPrivateJson) -> Result<RsaKeyPair, OpError> {
    if r.primes.len() != 2 {
        return Err(OpError::internal(
            "RSA keys with other than two primes are not supported",
        ));
    }
    let e = BigNum::from_be(&(r.e as u64).to_be_bytes());
    let comps = KeyPairComponents {
        public_key: signature::RsaPublicKeyComponents {
            n: r.n.be(),
            e: e.be(),
        },
        d: r.d.be(),
        p: r.primes[0].be(),
        q: r.primes[1].be(),
        dP: r
            .precomputed
            .dp
            .as_ref()
            .map(BigNum::be)
            .unwrap_or_default(),
        dQ: r
            .precomputed
            .dq
            .as_ref()
            .map(BigNum::be)
            .unwrap_or_default(),
        qInv: r
            .precomputed
            .qinv
            .as_ref()
            .map(BigNum::be)
            .unwrap_or_default(),
    };
    RsaKeyPair::from_components(&comps)
        .map_err(|e| OpError::internal(format!("invalid RSA key: {e}")))
}

/// PKCS#1 `RSAPublicKey` DER of n and e.
fn rsa_public_der(n: &BigNum, e: i64) -> Vec<u8> {
    der::sequence(&[
        der::integer(n.be()),
        der::integer(&(e as u64).to_be_bytes()),
    ])
}

/// PKCS#1 `RSAPrivateKey` DER of a stored key.
pub fn rsa_private_der(r: &RsaPrivateJson) -> Zeroizing<Vec<u8>> {
    let get = |v: &Option<BigNum>| v.as_ref().map(|b| b.be().to_vec()).unwrap_or_default();
    let primes = |i: usize| r.primes.get(i).map(|b| b.be().to_vec()).unwrap_or_default();
    Zeroizing::new(der::sequence(&[
        der::integer(&[0]),
        der::integer(r.n.be()),
        der::integer(&(r.e as u64).to_be_bytes()),
        der::integer(r.d.be()),
        der::integer(&primes(0)),
        der::integer(&primes(1)),
        der::integer(&get(&r.precomputed.dp)),
        der::integer(&get(&r.precomputed.dq)),
        der::integer(&get(&r.precomputed.qinv)),
    ]))
}

/// PKCS#8 wrapping of a PKCS#1 RSA private key.
pub fn rsa_pkcs8(pkcs1: &[u8]) -> Zeroizing<Vec<u8>> {
    // rsaEncryption OID 1.2.840.113549.1.1.1 with NULL parameters.
    let alg = vec![
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    Zeroizing::new(der::sequence(&[
        der::integer(&[0]),
        alg,
        der::tlv(der::OCTET_STRING, pkcs1),
    ]))
}

/// Generates an RSA key of `bits` in Go's JSON shape.
pub fn generate_rsa(bits: usize) -> Result<RsaPrivateJson, OpError> {
    let size = match bits {
        3072 => aws_lc_rs::rsa::KeySize::Rsa3072,
        4096 => aws_lc_rs::rsa::KeySize::Rsa4096,
        _ => aws_lc_rs::rsa::KeySize::Rsa2048,
    };
    let pair =
        RsaKeyPair::generate(size).map_err(|_| OpError::internal("RSA key generation failed"))?;
    let pkcs8: Pkcs8V1Der = pair
        .as_der()
        .map_err(|_| OpError::internal("RSA key encoding failed"))?;
    let pkcs8 = Zeroizing::new(pkcs8.as_ref().to_vec());
    rsa_from_pkcs8(&pkcs8).ok_or_else(|| OpError::internal("RSA key decoding failed"))
}

/// The RSA private key inside PKCS#8 DER.
pub fn rsa_from_pkcs8(pkcs8: &[u8]) -> Option<RsaPrivateJson> {
    let (_, outer, _) = der::read(pkcs8)?;
    let els = der::elements(outer)?;
    let (_, inner) = els.iter().find(|(t, _)| *t == der::OCTET_STRING)?;
    rsa_from_pkcs1(inner)
}

/// The RSA private key of PKCS#1 DER.
pub fn rsa_from_pkcs1(pkcs1: &[u8]) -> Option<RsaPrivateJson> {
    let (_, body, _) = der::read(pkcs1)?;
    let ints = der::elements(body)?;
    if ints.len() < 9 {
        return None;
    }
    let n = |i: usize| BigNum::from_be(ints[i].1);
    let e_bytes = ints[2].1;
    if e_bytes.len() > 8 {
        return None;
    }
    let mut e = 0i64;
    for b in e_bytes {
        e = (e << 8) | i64::from(*b);
    }
    Some(RsaPrivateJson {
        n: n(1),
        e,
        d: n(3),
        primes: vec![n(4), n(5)],
        precomputed: RsaPrecomputedJson {
            dp: Some(n(6)),
            dq: Some(n(7)),
            qinv: Some(n(8)),
            crt_values: Vec::new(),
        },
    })
}

/// A new ECDSA key: (d, x, y, PEM public key).
pub fn generate_ecdsa(t: KeyType) -> Result<(BigNum, BigNum, BigNum, String), OpError> {
    let (alg, _, _, _, _, _) = ecdsa_params(t);
    let pair = EcdsaKeyPair::generate(alg)
        .map_err(|_| OpError::internal("ECDSA key generation failed"))?;
    let d: EcPrivateKeyBin = pair
        .private_key()
        .as_be_bytes()
        .map_err(|_| OpError::internal("ECDSA key encoding failed"))?;
    let d = BigNum::from_be(d.as_ref());
    let point = pair.public_key().as_ref();
    let coord = (point.len() - 1) / 2;
    let x = BigNum::from_be(&point[1..1 + coord]);
    let y = BigNum::from_be(&point[1 + coord..]);
    let spki = pair
        .public_key()
        .as_der()
        .map_err(|_| OpError::internal("ECDSA public key encoding failed"))?;
    Ok((d, x, y, der::pem("PUBLIC KEY", spki.as_ref())))
}

/// A new Ed25519 key: (64-byte private key, base64 public key).
pub fn generate_ed25519() -> Result<(Zeroizing<Vec<u8>>, String), OpError> {
    let mut seed = Zeroizing::new([0u8; 32]);
    rand::fill(seed.as_mut_slice()).map_err(|_| OpError::internal("random source failed"))?;
    let pair = Ed25519KeyPair::from_seed_unchecked(seed.as_slice())
        .map_err(|_| OpError::internal("Ed25519 key generation failed"))?;
    let public = pair.public_key().as_ref().to_vec();
    let mut key = Zeroizing::new(seed.to_vec());
    key.extend_from_slice(&public);
    Ok((key, STANDARD.encode(public)))
}

/// Random bytes.
pub fn random_bytes(n: usize) -> Result<Zeroizing<Vec<u8>>, OpError> {
    let mut v = Zeroizing::new(vec![0u8; n]);
    rand::fill(v.as_mut_slice()).map_err(|_| OpError::internal("random source failed"))?;
    Ok(v)
}

struct Len(usize);
impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-SHA256 with no salt: `n` bytes from `key` and `info` (Go's `hkdf.New(sha256.New, key,
/// nil, info)`).
pub fn hkdf_sha256(key: &[u8], info: &[u8], n: usize) -> Result<Zeroizing<Vec<u8>>, OpError> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(key);
    let info = [info];
    let okm = prk
        .expand(&info, Len(n))
        .map_err(|_| OpError::internal("error reading returned derived bytes"))?;
    let mut out = Zeroizing::new(vec![0u8; n]);
    okm.fill(out.as_mut_slice())
        .map_err(|_| OpError::internal("error reading returned derived bytes"))?;
    Ok(out)
}

/// NIST SP 800-108 counter mode with HMAC-SHA256, 256 bits (keysutil's original KDF).
fn counter_kdf(key: &[u8], context: &[u8]) -> Zeroizing<Vec<u8>> {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut input = Vec::with_capacity(context.len() + 8);
    input.extend_from_slice(&0u32.to_be_bytes());
    input.extend_from_slice(context);
    input.extend_from_slice(&256u32.to_be_bytes());
    Zeroizing::new(hmac::sign(&k, &input).as_ref().to_vec())
}

fn aead_alg(t: KeyType) -> &'static aead::Algorithm {
    match t {
        KeyType::Aes128Gcm96 => &aead::AES_128_GCM,
        KeyType::ChaCha20Poly1305 => &aead::CHACHA20_POLY1305,
        _ => &aead::AES_256_GCM,
    }
}

fn nonce_len(t: KeyType) -> usize {
    if t == KeyType::XChaCha20Poly1305 {
        24
    } else {
        12
    }
}

fn seal(
    t: KeyType,
    key: &[u8],
    nonce: &[u8],
    plaintext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, OpError> {
    if t == KeyType::XChaCha20Poly1305 {
        let sealed = xchacha::seal(key, nonce, plaintext, aad)
            .ok_or_else(|| OpError::internal("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        return Ok(out);
    }
    let k = LessSafeKey::new(
        UnboundKey::new(aead_alg(t), key).map_err(|_| OpError::internal("invalid key length"))?,
    );
    seal_with(&k, nonce, plaintext, aad)
}

fn seal_with(
    k: &LessSafeKey,
    nonce: &[u8],
    plaintext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, OpError> {
    let n =
        Nonce::try_assume_unique_for_key(nonce).map_err(|_| OpError::internal("invalid nonce"))?;
    let mut out = Vec::with_capacity(nonce.len() + plaintext.len() + 16);
    out.extend_from_slice(nonce);
    out.extend_from_slice(plaintext);
    let tag = k
        .seal_in_place_separate_tag(n, Aad::from(aad), &mut out[nonce.len()..])
        .map_err(|_| OpError::internal("encryption failed"))?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// Opens `data` (nonce, ciphertext, tag) in place: the plaintext, in the same buffer.
fn open(
    t: KeyType,
    prepared: Option<&LessSafeKey>,
    key: &[u8],
    mut data: Vec<u8>,
    aad: &[u8],
) -> Result<Vec<u8>, OpError> {
    let nl = nonce_len(t);
    if data.len() < nl {
        return Err(OpError::user("invalid ciphertext length"));
    }
    let failed = || OpError::user("cipher: message authentication failed");
    if t == KeyType::XChaCha20Poly1305 {
        let (nonce, sealed) = data.split_at(nl);
        return xchacha::open(key, nonce, sealed, aad).ok_or_else(failed);
    }
    let owned;
    let k = match prepared {
        Some(k) => k,
        None => {
            owned = LessSafeKey::new(
                UnboundKey::new(aead_alg(t), key)
                    .map_err(|_| OpError::internal("invalid key length"))?,
            );
            &owned
        }
    };
    let (nonce, sealed) = data.split_at_mut(nl);
    let n = Nonce::try_assume_unique_for_key(nonce).map_err(|_| failed())?;
    let len = k
        .open_in_place(n, Aad::from(aad), sealed)
        .map_err(|_| failed())?
        .len();
    data.copy_within(nl..nl + len, 0);
    data.truncate(len);
    Ok(data)
}

fn prepare(t: KeyType, derived: bool, e: &KeyEntry) -> Result<Material, OpError> {
    Ok(match t {
        KeyType::Aes128Gcm96 | KeyType::Aes256Gcm96 | KeyType::ChaCha20Poly1305 if !derived => {
            match e.key.as_ref() {
                Some(k) if k.len() == t.key_len() => Material::Aead(LessSafeKey::new(
                    UnboundKey::new(aead_alg(t), k)
                        .map_err(|_| OpError::internal("invalid key length"))?,
                )),
                _ => Material::Empty,
            }
        }
        KeyType::Ed25519 if !derived => match e.key.as_ref() {
            Some(k) if k.len() == 64 => Material::Ed25519(
                Ed25519KeyPair::from_seed_and_public_key(&k[..32], &k[32..])
                    .map_err(|_| OpError::internal("invalid Ed25519 key"))?,
            ),
            _ => Material::Empty,
        },
        KeyType::EcdsaP256 | KeyType::EcdsaP384 | KeyType::EcdsaP521 => {
            let (asn1_alg, fixed_alg, _, _, _, size) = ecdsa_params(t);
            let (Some(x), Some(y)) = (e.ec_x.as_ref(), e.ec_y.as_ref()) else {
                return Ok(Material::Empty);
            };
            let mut point = vec![4u8];
            point.extend_from_slice(&x.be_padded(size));
            point.extend_from_slice(&y.be_padded(size));
            let (asn1, fixed) = match e.ec_d.as_ref() {
                Some(d) => {
                    let d = Zeroizing::new(d.be_padded(size));
                    let mk = |alg| {
                        EcdsaKeyPair::from_private_key_and_public_key(alg, &d, &point)
                            .map_err(|_| OpError::internal("invalid ECDSA key"))
                    };
                    (Some(mk(asn1_alg)?), Some(mk(fixed_alg)?))
                }
                None => (None, None),
            };
            let (_, _, asn1_verify, fixed_verify, _, _) = ecdsa_params(t);
            let parse = |alg: &'static signature::EcdsaVerificationAlgorithm| {
                UnparsedPublicKey::new(alg, &point)
                    .parse()
                    .map_err(|_| OpError::internal("invalid ECDSA public key"))
            };
            Material::Ecdsa {
                asn1,
                fixed,
                verify_asn1: parse(asn1_verify)?,
                verify_fixed: parse(fixed_verify)?,
            }
        }
        KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => {
            if let Some(r) = e.rsa_key.as_ref() {
                Material::Rsa {
                    pair: Some(rsa_pair_of(r)?),
                    public_der: rsa_public_der(&r.n, r.e),
                    bits: r.n.be().len() * 8,
                }
            } else if let Some(p) = e.rsa_public_key.as_ref() {
                Material::Rsa {
                    pair: None,
                    public_der: rsa_public_der(&p.n, p.e),
                    bits: p.n.be().len() * 8,
                }
            } else {
                Material::Empty
            }
        }
        KeyType::Unknown(_) => Material::Empty,
        _ => Material::Raw,
    })
}

impl Loaded {
    /// Prepares every version the policy holds.
    pub fn new(policy: Policy) -> Result<Loaded, OpError> {
        let mut material = BTreeMap::new();
        for (v, e) in &policy.keys {
            if let Ok(n) = v.parse::<i64>() {
                material.insert(n, prepare(policy.key_type, policy.derived, e)?);
            }
        }
        Ok(Loaded { policy, material })
    }

    fn entry(&self, ver: i64) -> Result<&KeyEntry, OpError> {
        self.policy
            .entry(ver)
            .ok_or_else(|| OpError::user("no such key version"))
    }

    /// keysutil's `DeriveKey`: `n` bytes for `context` from version `ver`.
    pub fn derive_key(
        &self,
        context: &[u8],
        ver: i64,
        n: usize,
    ) -> Result<Zeroizing<Vec<u8>>, OpError> {
        let p = &self.policy;
        if !p.key_type.derivation_supported() {
            return Err(OpError::user(format!(
                "derivation not supported for key type {}",
                p.key_type.name()
            )));
        }
        if p.keys.is_empty() || p.latest_version == 0 {
            return Err(OpError::internal(
                "unable to access the key; no key versions found",
            ));
        }
        if ver <= 0 || ver > p.latest_version {
            return Err(OpError::user("invalid key version"));
        }
        if context.is_empty() {
            return Err(OpError::user(
                "missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key",
            ));
        }
        let e = self.entry(ver)?;
        let key = e.key.as_ref().map(|k| k.as_slice()).unwrap_or_default();
        match p.kdf {
            0 => Ok(counter_kdf(key, context)),
            1 => {
                if p.key_type == KeyType::Ed25519 {
                    let seed = hkdf_sha256(key, context, 32)?;
                    let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
                        .map_err(|_| OpError::internal("error generating derived key"))?;
                    let mut out = Zeroizing::new(seed.to_vec());
                    out.extend_from_slice(pair.public_key().as_ref());
                    Ok(out)
                } else {
                    hkdf_sha256(key, context, n)
                }
            }
            _ => Err(OpError::internal("unsupported key derivation mode")),
        }
    }

    /// keysutil's `GetKey`: the raw key, or the derived one.
    fn get_key(&self, context: &[u8], ver: i64, n: usize) -> Result<Zeroizing<Vec<u8>>, OpError> {
        if !self.policy.derived {
            let e = self.entry(ver)?;
            return Ok(Zeroizing::new(
                e.key.as_ref().map(|k| k.to_vec()).unwrap_or_default(),
            ));
        }
        self.derive_key(context, ver, n)
    }

    fn check_soft_deleted(&self) -> Result<(), OpError> {
        if self.policy.soft_deleted {
            return Err(OpError::user("refusing to use soft-deleted key"));
        }
        Ok(())
    }

    /// Encrypts `plaintext` with version `ver` (0: latest): the `vault:v<N>:` ciphertext.
    pub fn encrypt(
        &self,
        ver: i64,
        context: &[u8],
        plaintext: &[u8],
        aad: &[u8],
    ) -> Result<(String, i64), OpError> {
        self.check_soft_deleted()?;
        let p = &self.policy;
        if !p.key_type.encryption_supported() {
            return Err(OpError::user(format!(
                "message encryption not supported for key type {}",
                p.key_type.name()
            )));
        }
        let ver = match ver {
            0 => p.latest_version,
            v if v < 0 => {
                return Err(OpError::user(
                    "requested version for encryption is negative",
                ));
            }
            v if v > p.latest_version => {
                return Err(OpError::user(
                    "requested version for encryption is higher than the latest key version",
                ));
            }
            v if v < p.min_encryption_version => {
                return Err(OpError::user(
                    "requested version for encryption is less than the minimum encryption key version",
                ));
            }
            v => v,
        };
        let t = p.key_type;
        let ciphertext = if t.is_aead() {
            let conv = p.convergent_version_of(ver);
            if p.convergent_encryption && conv < CURRENT_CONVERGENT_VERSION && conv > 0 {
                return Err(OpError::user(format!(
                    "refusing to support decryption with old convergent encryption key: version {conv}"
                )));
            }
            let enc_len = t.key_len();
            if conv > 2 {
                let key = self.get_key(context, ver, enc_len + 32)?;
                if key.len() < enc_len + 32 {
                    return Err(OpError::internal("could not derive key, length too small"));
                }
                let (enc, mac) = key.split_at(enc_len);
                let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, mac), plaintext);
                let nonce = &tag.as_ref()[..nonce_len(t)];
                seal(t, enc, nonce, plaintext, aad)?
            } else {
                let mut nonce_buf = [0u8; 24];
                let nonce = &mut nonce_buf[..nonce_len(t)];
                rand::fill(nonce).map_err(|_| OpError::internal("random source failed"))?;
                let nonce: &[u8] = nonce;
                match self.material.get(&ver) {
                    Some(Material::Aead(k)) if !p.derived => seal_with(k, nonce, plaintext, aad)?,
                    _ => {
                        let key = self.get_key(context, ver, enc_len)?;
                        if key.len() < enc_len {
                            return Err(OpError::internal(
                                "could not derive enc key, length not correct",
                            ));
                        }
                        seal(t, &key[..enc_len], nonce, plaintext, aad)?
                    }
                }
            }
        } else {
            let Some(Material::Rsa { public_der, .. }) = self.material.get(&ver) else {
                return Err(OpError::user("no such key version"));
            };
            let pk = PublicEncryptingKey::from_der(&rsa_spki(public_der))
                .map_err(|_| OpError::internal("invalid RSA public key"))?;
            let oaep = OaepPublicEncryptingKey::new(pk)
                .map_err(|_| OpError::internal("invalid RSA public key"))?;
            let mut out = vec![0u8; oaep.ciphertext_size()];
            let n = oaep
                .encrypt(&OAEP_SHA256_MGF1SHA256, plaintext, &mut out, None)
                .map_err(|_| {
                    OpError::internal(
                        "failed to RSA encrypt the plaintext: message too long for RSA key size",
                    )
                })?
                .len();
            out.truncate(n);
            out
        };
        Ok((versioned(p, ver, Alphabet::Std, &ciphertext), ver))
    }

    /// Splits a `vault:v<N>:` value: version and the rest.
    fn split_versioned<'a>(&self, value: &'a str, what: &str) -> Result<(i64, &'a str), OpError> {
        let (head, sep) = self
            .policy
            .template_parts()
            .ok_or_else(|| OpError::internal("error parsing version template"))?;
        let Some(rest) = value.strip_prefix(head) else {
            return Err(OpError::user(format!("invalid {what}: no prefix")));
        };
        // The default separator is one character: found without a substring searcher.
        let split = match sep.as_bytes() {
            [b] if b.is_ascii() => rest.split_once(char::from(*b)),
            _ => rest.split_once(sep),
        };
        let Some((ver, body)) = split else {
            return Err(OpError::user(format!(
                "invalid {what}: wrong number of fields"
            )));
        };
        let ver: i64 = go_atoi(ver).ok_or_else(|| {
            OpError::user(format!(
                "invalid {what}: version number could not be decoded"
            ))
        })?;
        Ok((ver, body))
    }

    /// Decrypts a ciphertext: the plaintext bytes and the version used.
    pub fn decrypt(
        &self,
        context: &[u8],
        value: &str,
        aad: &[u8],
    ) -> Result<(Zeroizing<Vec<u8>>, i64), OpError> {
        self.check_soft_deleted()?;
        let p = &self.policy;
        if !p.key_type.encryption_supported() {
            return Err(OpError::user(format!(
                "message decryption not supported for key type {}",
                p.key_type.name()
            )));
        }
        let (mut ver, body) = self.split_versioned(value, "ciphertext")?;
        if ver == 0 {
            ver = 1;
        }
        if ver > p.latest_version {
            return Err(OpError::user("invalid ciphertext: version is too new"));
        }
        if p.min_decryption_version > 0 && ver < p.min_decryption_version {
            return Err(OpError::user(ERR_TOO_OLD));
        }
        let conv = p.convergent_version_of(ver);
        if p.convergent_encryption && conv < CURRENT_CONVERGENT_VERSION && conv > 0 {
            return Err(OpError::user(format!(
                "refusing to support decryption with old convergent encryption key: version {conv}"
            )));
        }
        let data = b64_decode(body)
            .map_err(|_| OpError::user("invalid ciphertext: could not decode base64"))?;
        let t = p.key_type;
        let plain = if t.is_aead() {
            match self.material.get(&ver) {
                Some(Material::Aead(k)) if !p.derived => open(t, Some(k), &[], data, aad)?,
                _ => {
                    let n = t.key_len();
                    let key = self.get_key(context, ver, n)?;
                    if key.len() != n && !(p.derived && p.kdf == 0) {
                        return Err(OpError::internal(
                            "could not derive enc key, length not correct",
                        ));
                    }
                    open(t, None, &key[..n.min(key.len())], data, aad)?
                }
            }
        } else {
            let e = self.entry(ver)?;
            let Some(r) = e.rsa_key.as_ref() else {
                return Err(OpError::internal(
                    "cannot decrypt ciphertext, key version does not have a private counterpart",
                ));
            };
            let pkcs8 = rsa_pkcs8(&rsa_private_der(r));
            let sk = PrivateDecryptingKey::from_pkcs8(&pkcs8)
                .map_err(|_| OpError::internal("invalid RSA key"))?;
            let oaep = OaepPrivateDecryptingKey::new(sk)
                .map_err(|_| OpError::internal("invalid RSA key"))?;
            let mut out = vec![0u8; oaep.key_size_bytes()];
            let n = oaep
                .decrypt(&OAEP_SHA256_MGF1SHA256, &data, &mut out, None)
                .map_err(|_| {
                    OpError::internal(
                        "failed to RSA decrypt the ciphertext: crypto/rsa: decryption error",
                    )
                })?
                .len();
            out.truncate(n);
            out
        };
        Ok((Zeroizing::new(plain), ver))
    }

    /// The HMAC key of a version (keysutil's `HMACKey`).
    pub fn hmac_key(&self, ver: i64) -> Result<Zeroizing<Vec<u8>>, OpError> {
        self.check_soft_deleted()?;
        let p = &self.policy;
        if ver < 0 {
            return Err(OpError::internal(
                "key version does not exist (cannot be negative)",
            ));
        }
        if ver > p.latest_version {
            return Err(OpError::internal(format!(
                "key version does not exist; latest key version is {}",
                p.latest_version
            )));
        }
        let e = self.entry(ver)?;
        let k = if p.key_type == KeyType::Hmac {
            &e.key
        } else {
            &e.hmac_key
        };
        match k {
            Some(k) => Ok(Zeroizing::new(k.to_vec())),
            None => Err(OpError::internal("no HMAC key exists for that key version")),
        }
    }

    /// Signs `input` (already hashed for ECDSA and RSA) with version `ver` (0: latest):
    /// the signature text and, for derived Ed25519, the public key used.
    pub fn sign(
        &self,
        ver: i64,
        context: &[u8],
        input: &[u8],
        opts: &SignOpts,
    ) -> Result<(String, i64, Option<Vec<u8>>), OpError> {
        self.check_soft_deleted()?;
        let p = &self.policy;
        let t = p.key_type;
        if !t.signing_supported() {
            return Err(OpError::internal(format!(
                "message signing not supported for key type {}",
                t.name()
            )));
        }
        let ver = match ver {
            0 => p.latest_version,
            v if v < 0 => return Err(OpError::user("requested version for signing is negative")),
            v if v > p.latest_version => {
                return Err(OpError::user(
                    "requested version for signing is higher than the latest key version",
                ));
            }
            v if p.min_encryption_version > 0 && v < p.min_encryption_version => {
                return Err(OpError::user(
                    "requested version for signing is less than the minimum encryption key version",
                ));
            }
            v => v,
        };
        let e = self.entry(ver)?;
        if e.private_missing() {
            return Err(OpError::user(
                "requested version for signing does not contain a private part",
            ));
        }
        let mut public = None;
        let sig: Vec<u8> = match (t, self.material.get(&ver)) {
            (KeyType::Ed25519, m) => {
                if p.derived {
                    let key = self
                        .get_key(context, ver, 32)
                        .map_err(|e| OpError::internal(format!("error deriving key: {e}")))?;
                    let pair = Ed25519KeyPair::from_seed_unchecked(&key[..32])
                        .map_err(|_| OpError::internal("error deriving key"))?;
                    public = Some(pair.public_key().as_ref().to_vec());
                    pair.sign(input).as_ref().to_vec()
                } else if let Some(Material::Ed25519(pair)) = m {
                    pair.sign(input).as_ref().to_vec()
                } else {
                    return Err(OpError::internal("invalid Ed25519 key"));
                }
            }
            (_, Some(Material::Ecdsa { asn1, fixed, .. })) => {
                let pair = match opts.marshaling {
                    Marshaling::Asn1 => asn1,
                    Marshaling::Jws => fixed,
                };
                let Some(pair) = pair else {
                    return Err(OpError::user(
                        "requested version for signing does not contain a private part",
                    ));
                };
                let (_, _, _, _, dalg, _) = ecdsa_params(t);
                let digest = ecdsa_digest(input, dalg)?;
                pair.sign_digest(&digest)
                    .map_err(|_| OpError::internal("ECDSA signing failed"))?
                    .as_ref()
                    .to_vec()
            }
            (
                _,
                Some(Material::Rsa {
                    pair: Some(pair),
                    bits,
                    ..
                }),
            ) => {
                let Some(dalg) = rsa_digest_alg(opts.hash) else {
                    return Err(OpError::user(format!(
                        "hash algorithm {} is not supported for RSA signatures by Arca",
                        opts.hash_name
                    )));
                };
                let digest = Digest::import_less_safe(input, dalg)
                    .map_err(|_| OpError::user("input length does not match the hash algorithm"))?;
                let enc: &'static dyn RsaEncoding = match opts.sig_alg.as_str() {
                    "" | "pss" => {
                        let salt = pss_salt(opts.salt, *bits, dalg.output_len())?;
                        rsa_encoding(dalg, true, salt)
                    }
                    "pkcs1v15" => rsa_encoding(dalg, false, RsaPssSaltLength::Digest),
                    other => {
                        return Err(OpError::internal(format!(
                            "unsupported rsa signature algorithm {other}"
                        )));
                    }
                };
                let mut out = vec![0u8; pair.public_modulus_len()];
                pair.sign_digest(enc, &digest, &mut out)
                    .map_err(|_| OpError::internal("RSA signing failed"))?;
                out
            }
            _ => {
                return Err(OpError::user(
                    "requested version for signing does not contain a private part",
                ));
            }
        };
        let text = match opts.marshaling {
            Marshaling::Asn1 => versioned(p, ver, Alphabet::Std, &sig),
            Marshaling::Jws => versioned(p, ver, Alphabet::UrlNoPad, &sig),
        };
        Ok((text, ver, public))
    }

    /// Verifies a signature over `input` (already hashed for ECDSA and RSA).
    pub fn verify(
        &self,
        context: &[u8],
        input: &[u8],
        sig: &str,
        opts: &SignOpts,
    ) -> Result<bool, OpError> {
        self.check_soft_deleted()?;
        let p = &self.policy;
        let t = p.key_type;
        if !t.signing_supported() {
            return Err(OpError::user(format!(
                "message verification not supported for key type {}",
                t.name()
            )));
        }
        let (ver, body) = self.split_versioned(sig, "signature")?;
        if ver > p.latest_version {
            return Err(OpError::user("invalid signature: version is too new"));
        }
        if p.min_decryption_version > 0 && ver < p.min_decryption_version {
            return Err(OpError::user(ERR_TOO_OLD));
        }
        let sig = match opts.marshaling {
            Marshaling::Asn1 => STANDARD.decode(body.as_bytes()),
            Marshaling::Jws => URL_SAFE_NO_PAD.decode(body.as_bytes()),
        }
        .map_err(|_| OpError::user("invalid base64 signature value"))?;
        match (t, self.material.get(&ver)) {
            (KeyType::Ed25519, _) => {
                let public = if p.derived {
                    let key = self
                        .get_key(context, ver, 32)
                        .map_err(|e| OpError::internal(format!("error deriving key: {e}")))?;
                    key[32..].to_vec()
                } else {
                    let e = self.entry(ver)?;
                    STANDARD
                        .decode(e.public_key.as_bytes())
                        .map_err(|e| OpError::internal(e.to_string()))?
                };
                Ok(UnparsedPublicKey::new(&signature::ED25519, &public)
                    .verify(input, &sig)
                    .is_ok())
            }
            (
                _,
                Some(Material::Ecdsa {
                    verify_asn1,
                    verify_fixed,
                    ..
                }),
            ) => {
                let (_, _, _, _, dalg, size) = ecdsa_params(t);
                let key = match opts.marshaling {
                    Marshaling::Asn1 => {
                        if der::read(&sig).is_none_or(|(tag, _, _)| tag != der::SEQUENCE) {
                            return Err(OpError::user("supplied signature is invalid"));
                        }
                        if der::read(&sig).is_some_and(|(_, _, rest)| !rest.is_empty()) {
                            return Err(OpError::user("supplied signature contains extra data"));
                        }
                        verify_asn1
                    }
                    Marshaling::Jws => {
                        if sig.len() != 2 * size {
                            return Ok(false);
                        }
                        verify_fixed
                    }
                };
                let digest = ecdsa_digest(input, dalg)?;
                Ok(key.verify_digest_sig(&digest, &sig).is_ok())
            }
            (
                _,
                Some(Material::Rsa {
                    public_der, bits, ..
                }),
            ) => {
                let Some(dalg) = rsa_digest_alg(opts.hash) else {
                    return Err(OpError::user(format!(
                        "hash algorithm {} is not supported for RSA signatures by Arca",
                        opts.hash_name
                    )));
                };
                let Ok(digest) = Digest::import_less_safe(input, dalg) else {
                    return Ok(false);
                };
                let check = |params: &'static signature::RsaParameters| {
                    UnparsedPublicKey::new(params, public_der)
                        .verify_digest(&digest, &sig)
                        .is_ok()
                };
                match opts.sig_alg.as_str() {
                    "" | "pss" => {
                        if opts.salt == Salt::Auto {
                            Ok(check(rsa_params(dalg, true, RsaPssSaltLength::Max))
                                || check(rsa_params(dalg, true, RsaPssSaltLength::Digest)))
                        } else {
                            let salt = pss_salt(opts.salt, *bits, dalg.output_len())?;
                            Ok(check(rsa_params(dalg, true, salt)))
                        }
                    }
                    "pkcs1v15" => Ok(check(rsa_params(dalg, false, RsaPssSaltLength::Digest))),
                    other => Err(OpError::internal(format!(
                        "unsupported rsa signature algorithm {other}"
                    ))),
                }
            }
            _ => Err(OpError::user("no such key version")),
        }
    }

    /// The public key of a version for `keys/<name>` reads of derived Ed25519 keys.
    pub fn derived_ed25519_public(&self, context: &[u8], ver: i64) -> Result<String, OpError> {
        let key = self.derive_key(context, ver, 32)?;
        Ok(STANDARD.encode(&key[32..]))
    }
}

/// keysutil's salt-length bounds, then the aws-lc-rs setting for it.
fn pss_salt(salt: Salt, bits: usize, hash_len: usize) -> Result<RsaPssSaltLength, OpError> {
    let max = (bits.saturating_sub(1))
        .div_ceil(8)
        .saturating_sub(2 + hash_len);
    Ok(match salt {
        Salt::Auto => RsaPssSaltLength::Max,
        Salt::Hash => RsaPssSaltLength::Digest,
        Salt::Len(n) if n > max => {
            return Err(OpError::user(format!(
                "requested salt length {n} is invalid"
            )));
        }
        Salt::Len(n) => RsaPssSaltLength::Custom(u16::try_from(n).unwrap_or(u16::MAX)),
    })
}

/// SubjectPublicKeyInfo DER around a PKCS#1 RSA public key.
pub fn rsa_spki(pkcs1: &[u8]) -> Vec<u8> {
    let alg = vec![
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bits = vec![0u8];
    bits.extend_from_slice(pkcs1);
    der::sequence(&[alg, der::tlv(der::BIT_STRING, &bits)])
}

/// Which base64 a versioned value is written in.
#[derive(Debug, Clone, Copy)]
enum Alphabet {
    /// Standard, padded (ciphertexts, ASN.1 signatures).
    Std,
    /// URL-safe, unpadded (JWS signatures).
    UrlNoPad,
}

/// `bytes` in base64 after the version prefix of `ver`: a ciphertext or signature as the API
/// returns it, written into one buffer.
fn versioned(p: &Policy, ver: i64, alphabet: Alphabet, bytes: &[u8]) -> String {
    let mut out = String::with_capacity(16 + bytes.len().div_ceil(3) * 4);
    p.write_prefix(ver, &mut out);
    match alphabet {
        Alphabet::Std => arca_sdk::b64::encode_std_append(bytes, &mut out),
        Alphabet::UrlNoPad => URL_SAFE_NO_PAD.encode_string(bytes, &mut out),
    }
    out
}

/// Go's `strconv.Atoi`: optional sign and decimal digits.
pub fn go_atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// How a signature is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marshaling {
    /// DER (ECDSA) / raw, standard base64.
    Asn1,
    /// Fixed-size r||s, URL-safe base64 without padding.
    Jws,
}

/// The options of a signature.
#[derive(Debug, Clone)]
pub struct SignOpts {
    /// The hash the input went through.
    pub hash: HashAlg,
    /// Its OpenBao name (for messages).
    pub hash_name: String,
    /// `pss` (default) or `pkcs1v15` for RSA.
    pub sig_alg: String,
    /// Signature encoding.
    pub marshaling: Marshaling,
    /// PSS salt length.
    pub salt: Salt,
}

impl Loaded {
    /// SEC 1 `ECPrivateKey` DER of an ECDSA version (for `export/signing-key`).
    pub fn ec_private_der(&self, ver: i64) -> Result<Vec<u8>, OpError> {
        match self.material.get(&ver) {
            Some(Material::Ecdsa {
                asn1: Some(pair), ..
            }) => {
                let der: aws_lc_rs::encoding::EcPrivateKeyRfc5915Der = pair
                    .private_key()
                    .as_der()
                    .map_err(|_| OpError::internal("EC key encoding failed"))?;
                Ok(der.as_ref().to_vec())
            }
            _ => Err(OpError::internal("no EC private key for that version")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hkdf_matches_rfc5869_case_3() {
        // RFC 5869 A.3: no salt, no info.
        let ikm = [0x0bu8; 22];
        let okm = hkdf_sha256(&ikm, &[], 42).unwrap();
        assert_eq!(
            hex::encode(okm.as_slice()),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
        );
    }

    #[test]
    fn rsa_components_round_trip() {
        let r = generate_rsa(2048).unwrap();
        let pair = rsa_pair_of(&r).unwrap();
        assert_eq!(pair.public_modulus_len(), 256);
        let again = rsa_from_pkcs1(&rsa_private_der(&r)).unwrap();
        assert_eq!(again.n, r.n);
        assert_eq!(again.e, 65537);
    }
}
