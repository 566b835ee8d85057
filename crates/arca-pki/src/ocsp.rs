//! The OCSP responder (RFC 6960): `ocsp` (POST, the DER request as the body) and
//! `ocsp/<base64 request>` (GET). Requests are read with der-parser (through x509-parser);
//! responses are written with yasna and signed by the issuer's key, as OpenBao signs them.

use std::sync::Arc;

use arca_sdk::framework::{Field, FieldData, FieldType, PathDef};
use arca_sdk::{LogicalError, Operation, Request, Response, Storage};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rcgen::{KeyPair, SigningKey};
use x509_parser::der_parser::ber::{BerObject, BerObjectContent};
use x509_parser::prelude::{FromDer, X509Certificate};
use yasna::models::{GeneralizedTime, ObjectIdentifier};
use yasna::{DERWriter, Tag};

use crate::config::CrlConfig;
use crate::issuing::{self, Signer};
use crate::{State, certs, issuers, op, raw, storage, x509};

const SHA1: &[u64] = &[1, 3, 14, 3, 2, 26];
const SHA256: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 2, 1];
const CONTENT_TYPE: &str = "application/ocsp-response";

pub(crate) fn paths(state: &Arc<State>) -> Vec<PathDef> {
    vec![
        PathDef::new("ocsp")
            .field(Field::new(
                "http_raw_body",
                FieldType::String,
                "The DER request, base64",
            ))
            .op(Operation::Update, op(state, post)),
        PathDef::new(r"ocsp/(?P<req>.+)")
            .field(Field::new(
                "req",
                FieldType::String,
                "The DER request, base64",
            ))
            .op(Operation::Read, op(state, get)),
    ]
}

/// The status-only answers of RFC 6960 (no response bytes).
#[derive(Clone, Copy)]
enum Failure {
    Malformed = 1,
    Internal = 2,
    Unauthorized = 6,
}

fn failure(f: Failure) -> Option<Response> {
    let der = yasna::construct_der(|w| {
        w.write_sequence(|w| w.next().write_enum(f as i64));
    });
    raw(CONTENT_TYPE, der)
}

async fn post(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let body = STANDARD
        .decode(d.get_str("http_raw_body")?.as_bytes())
        .unwrap_or_default();
    answer(&state, &req, &body).await
}

async fn get(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let text = d.get_str("req")?;
    let decoded = percent_decode(&text);
    // Standard base64 as OpenBao reads it; URL-safe base64 too, since a standard encoding
    // holding `//` cannot travel in a request path.
    let body = STANDARD
        .decode(decoded.as_bytes())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(decoded.as_bytes()));
    let Ok(body) = body else {
        return Ok(failure(Failure::Malformed));
    };
    answer(&state, &req, &body).await
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One CertID of a request.
struct CertId {
    hash_oid: Vec<u64>,
    name_hash: Vec<u8>,
    key_hash: Vec<u8>,
    serial: Vec<u8>,
}

fn seq<'a, 'b>(o: &'b BerObject<'a>) -> Option<&'b Vec<BerObject<'a>>> {
    match &o.content {
        BerObjectContent::Sequence(v) => Some(v),
        _ => None,
    }
}

/// Reads the first CertID of an OCSPRequest.
fn parse_request(der: &[u8]) -> Option<CertId> {
    let (_, outer) = x509_parser::der_parser::parse_der(der).ok()?;
    let tbs = seq(outer.as_sequence().ok()?.first()?)?;
    // version [0], requestorName [1] are context-tagged; the request list is the SEQUENCE.
    let list = tbs.iter().find_map(seq)?;
    let request = seq(list.first()?)?;
    let cert_id = seq(request.first()?)?;
    let alg = seq(cert_id.first()?)?;
    let hash_oid: Vec<u64> = alg.first()?.as_oid().ok()?.iter()?.collect();
    let name_hash = cert_id.get(1)?.as_slice().ok()?.to_vec();
    let key_hash = cert_id.get(2)?.as_slice().ok()?.to_vec();
    let serial = match &cert_id.get(3)?.content {
        BerObjectContent::Integer(b) => b.to_vec(),
        _ => return None,
    };
    Some(CertId {
        hash_oid,
        name_hash,
        key_hash,
        serial,
    })
}

fn digest(oid: &[u64], data: &[u8]) -> Option<Vec<u8>> {
    let alg = if oid == SHA1 {
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY
    } else if oid == SHA256 {
        &aws_lc_rs::digest::SHA256
    } else {
        return None;
    };
    Some(aws_lc_rs::digest::digest(alg, data).as_ref().to_vec())
}

/// The issuer of the mount whose name and key hash match the request.
async fn find_signer(s: &dyn Storage, id: &CertId) -> Result<Option<Signer>, LogicalError> {
    for i in issuers::all_issuers(s).await? {
        let Ok(der) = i.cert_der() else { continue };
        let Ok((_, c)) = X509Certificate::from_der(&der) else {
            continue;
        };
        let name = digest(&id.hash_oid, c.subject().as_raw());
        let key = digest(&id.hash_oid, &c.public_key().subject_public_key.data);
        if name.as_deref() == Some(id.name_hash.as_slice())
            && key.as_deref() == Some(id.key_hash.as_slice())
            && !i.key_id.is_empty()
            && let Ok(signer) = issuing::load_signer(s, &i.id, "ocsp-signing").await
        {
            return Ok(Some(signer));
        }
    }
    Ok(None)
}

/// The signature algorithm identifier of `key`, written into `w`.
fn write_sig_alg(w: DERWriter<'_>, key: &KeyPair) {
    let alg = key.algorithm();
    let (oid, null): (&[u64], bool) = if alg == &rcgen::PKCS_ECDSA_P256_SHA256 {
        (&[1, 2, 840, 10045, 4, 3, 2], false)
    } else if alg == &rcgen::PKCS_ECDSA_P384_SHA384 {
        (&[1, 2, 840, 10045, 4, 3, 3], false)
    } else if alg == &rcgen::PKCS_ECDSA_P521_SHA512 {
        (&[1, 2, 840, 10045, 4, 3, 4], false)
    } else if alg == &rcgen::PKCS_ED25519 {
        (&[1, 3, 101, 112], false)
    } else if alg == &rcgen::PKCS_RSA_SHA384 {
        (&[1, 2, 840, 113549, 1, 1, 12], true)
    } else if alg == &rcgen::PKCS_RSA_SHA512 {
        (&[1, 2, 840, 113549, 1, 1, 13], true)
    } else {
        (&[1, 2, 840, 113549, 1, 1, 11], true)
    };
    w.write_sequence(|w| {
        w.next().write_oid(&ObjectIdentifier::from_slice(oid));
        if null {
            w.next().write_null();
        }
    });
}

fn gtime(secs: i64) -> GeneralizedTime {
    let t =
        time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    GeneralizedTime::from_datetime(t)
}

/// The status of the requested serial.
enum Status {
    Good,
    Revoked(i64),
    Unknown,
}

async fn answer(
    state: &State,
    req: &Request,
    body: &[u8],
) -> Result<Option<Response>, LogicalError> {
    let s = storage(req)?;
    if CrlConfig::load(s.as_ref()).await?.ocsp_disable {
        return Ok(failure(Failure::Unauthorized));
    }
    let Some(id) = parse_request(body) else {
        return Ok(failure(Failure::Malformed));
    };
    let Some(signer) = find_signer(s.as_ref(), &id).await? else {
        return Ok(failure(Failure::Unauthorized));
    };
    let serial = x509::serial_colons(&id.serial);
    let status = match certs::revocation(s.as_ref(), &serial).await? {
        Some(r) => Status::Revoked(r.revocation_time),
        None => match certs::load(s.as_ref(), &serial).await? {
            Some(_) => Status::Good,
            None => Status::Unknown,
        },
    };
    let expiry =
        arca_sdk::duration::parse_duration(&CrlConfig::load(s.as_ref()).await?.ocsp_expiry)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(12 * 3600);
    let now = chrono::Utc::now().timestamp();
    let Ok((_, issuer_cert)) = X509Certificate::from_der(&signer.cert_der) else {
        return Ok(failure(Failure::Internal));
    };
    let key_hash =
        digest(SHA1, &issuer_cert.public_key().subject_public_key.data).unwrap_or_default();
    let tbs = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            // responderID byKey [2] EXPLICIT KeyHash
            w.next()
                .write_tagged(Tag::context(2), |w| w.write_bytes(&key_hash));
            w.next().write_generalized_time(&gtime(now));
            w.next().write_sequence(|w| {
                w.next().write_sequence(|w| {
                    w.next().write_sequence(|w| {
                        w.next().write_sequence(|w| {
                            w.next()
                                .write_oid(&ObjectIdentifier::from_slice(&id.hash_oid));
                            w.next().write_null();
                        });
                        w.next().write_bytes(&id.name_hash);
                        w.next().write_bytes(&id.key_hash);
                        w.next().write_bigint_bytes(&id.serial, true);
                    });
                    match status {
                        Status::Good => w
                            .next()
                            .write_tagged_implicit(Tag::context(0), |w| w.write_null()),
                        Status::Revoked(t) => {
                            w.next().write_tagged_implicit(Tag::context(1), |w| {
                                w.write_sequence(|w| {
                                    w.next().write_generalized_time(&gtime(t));
                                })
                            })
                        }
                        Status::Unknown => w
                            .next()
                            .write_tagged_implicit(Tag::context(2), |w| w.write_null()),
                    }
                    w.next().write_generalized_time(&gtime(now));
                    w.next().write_tagged(Tag::context(0), |w| {
                        w.write_generalized_time(&gtime(now.saturating_add(expiry)))
                    });
                });
            });
        });
    });
    let Ok(signature) = signer.key.sign(&tbs) else {
        return Ok(failure(Failure::Internal));
    };
    let basic = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_der(&tbs);
            write_sig_alg(w.next(), &signer.key);
            w.next().write_bitvec_bytes(&signature, signature.len() * 8);
            w.next().write_tagged(Tag::context(0), |w| {
                w.write_sequence(|w| w.next().write_der(&signer.cert_der))
            });
        });
    });
    let der = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_enum(0);
            w.next().write_tagged(Tag::context(0), |w| {
                w.write_sequence(|w| {
                    w.next().write_oid(&ObjectIdentifier::from_slice(&[
                        1, 3, 6, 1, 5, 5, 7, 48, 1, 1,
                    ]));
                    w.next().write_bytes(&basic);
                })
            });
        });
    });
    let _ = state;
    Ok(raw(CONTENT_TYPE, der))
}
