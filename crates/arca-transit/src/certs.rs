//! `keys/<name>/csr` (a PKCS#10 request signed by a key version) and
//! `keys/<name>/set-certificate` (a certificate chain whose leaf holds that version's key).

use std::sync::Arc;

use arca_sdk::framework::{Field, FieldData, FieldType, PathDef, generic_name_regex};
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response};
use aws_lc_rs::rand::SystemRandom;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::der;
use crate::keyring::Loaded;
use crate::keytype::KeyType;
use crate::lifecycle::rsa_public_pem;
use crate::policy::KeyEntry;
use crate::{State, op};

pub(crate) fn paths(state: &Arc<State>) -> Vec<PathDef> {
    vec![
        PathDef::new(format!("keys/{}/csr", generic_name_regex("name")))
            .field(Field::new("name", FieldType::String, "Name of the key"))
            .field(Field::new(
                "version",
                FieldType::Int,
                "Key version (latest when absent)",
            ))
            .field(Field::new(
                "csr",
                FieldType::String,
                "PEM CSR used as a template",
            ))
            .op(Operation::Update, op(state, csr)),
        PathDef::new(format!(
            "keys/{}/set-certificate",
            generic_name_regex("name")
        ))
        .field(Field::new("name", FieldType::String, "Name of the key"))
        .field(Field::new(
            "version",
            FieldType::Int,
            "Key version (latest when absent)",
        ))
        .field(Field::new(
            "certificate_chain",
            FieldType::String,
            "PEM chain, leaf first",
        ))
        .op(Operation::Update, op(state, set_certificate)),
    ]
}

/// The key (checked for signing and derivation) and the version asked for.
async fn signing_key(
    state: &State,
    req: &Request,
    d: &FieldData,
) -> Result<(Arc<Loaded>, i64), LogicalError> {
    let storage = req.storage()?;
    let name = d.get_str("name")?;
    let Some(k) = state.keys.get(storage.as_ref(), &name).await? else {
        return Err(LogicalError::bad_request(format!(
            "key with provided name '{name}' not found"
        )));
    };
    let t = k.policy.key_type;
    if !t.signing_supported() {
        return Err(LogicalError::bad_request(format!(
            "key type '{}' does not support signing",
            t.name()
        )));
    }
    if k.policy.derived {
        return Err(LogicalError::bad_request(
            "operation not supported for keys with derivation enabled",
        ));
    }
    let ver = match d.get_given("version")?.and_then(|v| v.as_i64()) {
        Some(v) if v != 0 => v,
        _ => k.policy.latest_version,
    };
    Ok((k, ver))
}

/// The SubjectPublicKeyInfo DER of a version.
fn spki_of(t: KeyType, e: &KeyEntry) -> Option<Vec<u8>> {
    if t.is_ecdsa() {
        return der::pem_decode(&e.public_key).map(|(_, d)| d);
    }
    if t.is_rsa() {
        return der::pem_decode(&rsa_public_pem(e)).map(|(_, d)| d);
    }
    let raw = STANDARD.decode(e.public_key.as_bytes()).ok()?;
    let mut spki = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    spki.extend_from_slice(&raw);
    Some(spki)
}

/// The signature AlgorithmIdentifier DER Go's x509 picks for a key type.
fn signature_algorithm(t: KeyType) -> Vec<u8> {
    match t {
        KeyType::EcdsaP256 => vec![
            0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
        ],
        KeyType::EcdsaP384 => vec![
            0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03,
        ],
        KeyType::EcdsaP521 => vec![
            0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04,
        ],
        KeyType::Ed25519 => vec![0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70],
        _ => vec![
            0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05,
            0x00,
        ],
    }
}

/// Subject and attributes (both re-encoded whole) of a template CSR.
fn template_parts(pem: &str) -> Result<(Vec<u8>, Vec<u8>), LogicalError> {
    let bad = || LogicalError::bad_request("could not decode PEM CSR");
    let (_, der_bytes) = der::pem_decode(pem).ok_or_else(bad)?;
    let parse = || -> Option<(Vec<u8>, Vec<u8>)> {
        let (_, outer, _) = der::read(&der_bytes)?;
        let (_, info, _) = der::read(outer)?;
        let els = der::elements(info)?;
        let subject = els.get(1).map(|(t, c)| der::tlv(*t, c))?;
        let attrs = els
            .get(3)
            .map(|(t, c)| der::tlv(*t, c))
            .unwrap_or_else(|| vec![0xa0, 0x00]);
        Some((subject, attrs))
    };
    parse().ok_or_else(|| LogicalError::bad_request("x509: malformed certificate request"))
}

async fn csr(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let (k, ver) = signing_key(&state, &req, &d).await?;
    let t = k.policy.key_type;
    let Some(e) = k.policy.entry(ver) else {
        return Err(LogicalError::bad_request("no such key version"));
    };
    if e.private_missing() {
        return Err(LogicalError::bad_request(
            "private key not imported for key version selected",
        ));
    }
    let template = d.get_str("csr")?;
    let (subject, attrs) = if template.is_empty() {
        (vec![0x30, 0x00], vec![0xa0, 0x00])
    } else {
        template_parts(&template)?
    };
    let spki =
        spki_of(t, e).ok_or_else(|| LogicalError::internal("could not encode the public key"))?;
    let info = der::sequence(&[der::integer(&[0]), subject, spki, attrs]);
    let sig = sign_raw(&k, ver, &info)
        .map_err(|m| LogicalError::internal(format!("could not create the CSR: {m}")))?;
    let mut bits = vec![0u8];
    bits.extend_from_slice(&sig);
    let csr = der::sequence(&[
        info,
        signature_algorithm(t),
        der::tlv(der::BIT_STRING, &bits),
    ]);
    let mut data = JsonMap::new();
    data.insert("name".into(), json!(k.policy.name));
    data.insert("type".into(), json!(t.name()));
    data.insert("csr".into(), json!(der::pem("CERTIFICATE REQUEST", &csr)));
    Ok(Some(Response::with_data(data)))
}

/// Signs `msg` as X.509 does for the key type (hash inside the algorithm).
fn sign_raw(k: &Loaded, ver: i64, msg: &[u8]) -> Result<Vec<u8>, String> {
    let t = k.policy.key_type;
    let e = k.policy.entry(ver).ok_or("no such key version")?;
    let rng = SystemRandom::new();
    if t == KeyType::Ed25519 {
        let key = e
            .key
            .as_ref()
            .filter(|k| k.len() == 64)
            .ok_or("invalid Ed25519 key")?;
        let pair =
            aws_lc_rs::signature::Ed25519KeyPair::from_seed_and_public_key(&key[..32], &key[32..])
                .map_err(|e| e.to_string())?;
        return Ok(pair.sign(msg).as_ref().to_vec());
    }
    if t.is_rsa() {
        let r = e.rsa_key.as_ref().ok_or("no RSA private key")?;
        let pkcs8 = crate::keyring::rsa_pkcs8(&crate::keyring::rsa_private_der(r));
        let pair =
            aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&pkcs8).map_err(|e| e.to_string())?;
        let mut sig = vec![0u8; pair.public_modulus_len()];
        pair.sign(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &rng, msg, &mut sig)
            .map_err(|e| e.to_string())?;
        return Ok(sig);
    }
    let alg = match t {
        KeyType::EcdsaP384 => &aws_lc_rs::signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        KeyType::EcdsaP521 => &aws_lc_rs::signature::ECDSA_P521_SHA512_ASN1_SIGNING,
        _ => &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
    };
    let der = k.ec_private_der(ver).map_err(|e| e.to_string())?;
    let pair = aws_lc_rs::signature::EcdsaKeyPair::from_private_key_der(alg, &der)
        .map_err(|e| e.to_string())?;
    Ok(pair
        .sign(&rng, msg)
        .map_err(|e| e.to_string())?
        .as_ref()
        .to_vec())
}

/// What set-certificate needs of one certificate: its SubjectPublicKeyInfo and whether it is a
/// CA (basicConstraints cA true).
struct CertInfo {
    der: Vec<u8>,
    spki: Vec<u8>,
    is_ca: bool,
}

fn parse_cert(der_bytes: Vec<u8>) -> Option<CertInfo> {
    let (_, outer, _) = der::read(&der_bytes)?;
    let (_, tbs, _) = der::read(outer)?;
    let els = der::elements(tbs)?;
    // An explicit version ([0]) shifts the fields by one.
    let base = usize::from(els.first()?.0 == 0xa0);
    let (tag, content) = els.get(base + 5)?;
    let spki = der::tlv(*tag, content);
    // basicConstraints (2.5.29.19) with cA TRUE, anywhere in the extensions ([3]).
    let bc_oid: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x13];
    let is_ca = els.iter().filter(|(t, _)| *t == 0xa3).any(|(_, ext)| {
        ext.windows(bc_oid.len())
            .position(|w| w == bc_oid)
            .is_some_and(|at| {
                ext[at..]
                    .windows(3)
                    .take(24)
                    .any(|w| w == [0x01, 0x01, 0xff])
            })
    });
    Some(CertInfo {
        der: der_bytes,
        spki,
        is_ca,
    })
}

async fn set_certificate(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let (k, ver) = signing_key(&state, &req, &d).await?;
    let t = k.policy.key_type;
    let text = d.get_str("certificate_chain")?;
    let mut certs = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("-----BEGIN ") {
        let block = &rest[start..];
        let Some(end) = block.find("-----END ") else {
            return Err(LogicalError::bad_request(
                "could not decode a PEM block in the certificate chain",
            ));
        };
        let after = block[end + 9..]
            .find("-----")
            .map(|i| end + 9 + i + 5)
            .unwrap_or(block.len());
        let (_, der_bytes) = der::pem_decode(&block[..after]).ok_or_else(|| {
            LogicalError::bad_request("could not decode a PEM block in the certificate chain")
        })?;
        let cert = parse_cert(der_bytes).ok_or_else(|| {
            LogicalError::bad_request("could not parse a certificate in the certificate chain: x509: malformed certificate")
        })?;
        certs.push(cert);
        rest = &block[after..];
    }
    if certs.is_empty() {
        return Err(LogicalError::bad_request(
            "provided certificate chain did not contain any valid PEM encoded certificate",
        ));
    }
    if certs[0].is_ca {
        return Err(LogicalError::bad_request(
            "certificate in the first element is not a valid leaf certificate",
        ));
    }
    if certs.len() > 1 && certs[1..].iter().any(|c| !c.is_ca) {
        return Err(LogicalError::bad_request(
            "certificate in the last element is not a valid CA certificate",
        ));
    }
    let Some(e) = k.policy.entry(ver) else {
        return Err(LogicalError::bad_request("no such key version"));
    };
    if spki_of(t, e).as_deref() != Some(certs[0].spki.as_slice()) {
        return Err(LogicalError::invalid_input(
            "leaf certificate public key does not match the selected key version",
        ));
    }
    let chain: Vec<Vec<u8>> = certs.into_iter().map(|c| c.der).collect();
    let storage = req.storage()?;
    let name = k.policy.name.clone();
    let stored = chain.clone();
    state
        .keys
        .update(storage.as_ref(), &name, |current| {
            let Some(mut p) = current else {
                return Err(LogicalError::bad_request("key not found"));
            };
            let Some(entry) = p.keys.get_mut(&ver.to_string()) else {
                return Err(LogicalError::bad_request("no such key version"));
            };
            entry.certificate_chain = Some(stored);
            Ok((Some(p), ()))
        })
        .await?;
    let pem_chain = chain
        .iter()
        .map(|c| der::pem("CERTIFICATE", c).trim().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let mut data = JsonMap::new();
    data.insert("name".into(), json!(k.policy.name));
    data.insert("type".into(), json!(t.name()));
    data.insert("certificate_chain".into(), json!(pem_chain));
    Ok(Some(Response::with_data(data)))
}
