//! The OCSP check of a login certificate (RFC 6960), as OpenBao's OCSP client does it: a
//! SHA-1 CertID request POSTed to each responder (the `ocsp_servers_override` list, else the
//! certificate's AIA), the response's signature checked against the issuer (or a responder
//! certificate the issuer signed), and the status of the certificate's serial read from it.
//! Requests are written with yasna, responses read with yasna, signatures checked with
//! x509-parser (aws-lc-rs).

use std::time::Duration;

use x509_parser::asn1_rs::BitString;
use x509_parser::prelude::{AlgorithmIdentifier, FromDer, X509Certificate};
use yasna::Tag;
use yasna::models::ObjectIdentifier;

use crate::certificate::{ParsedCert, hex_colons};
use crate::ocsp_cache::{CertId, OcspCache};

const SHA1: &[u64] = &[1, 3, 14, 3, 2, 26];
const BASIC_RESPONSE: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1, 1];
/// How long one responder may take (OpenBao's default responder timeout).
const TIMEOUT: Duration = Duration::from_secs(10);

/// The merged OCSP settings of the entries a login considered.
#[derive(Debug, Clone, Default)]
pub(crate) struct VerifyConfig {
    /// Responders to ask instead of the certificate's own.
    pub servers_override: Vec<String>,
    /// An unknown status lets the login through.
    pub fail_open: bool,
    /// Ask every responder.
    pub query_all: bool,
}

/// A certificate status a responder gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Not revoked.
    Good,
    /// Revoked.
    Revoked,
    /// The responder does not know the certificate.
    Unknown,
}

fn sha1(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, data)
        .as_ref()
        .to_vec()
}

/// The DER OCSPRequest for `cert` issued by `issuer`.
pub(crate) fn build_request(cert: &ParsedCert, issuer: &ParsedCert) -> Vec<u8> {
    let name_hash = sha1(&issuer.raw_subject);
    let key_hash = sha1(&issuer.public_key_bits);
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            // tbsRequest
            w.next().write_sequence(|w| {
                // requestList
                w.next().write_sequence(|w| {
                    // Request
                    w.next().write_sequence(|w| {
                        // CertID
                        w.next().write_sequence(|w| {
                            w.next().write_sequence(|w| {
                                w.next().write_oid(&ObjectIdentifier::from_slice(SHA1));
                                w.next().write_null();
                            });
                            w.next().write_bytes(&name_hash);
                            w.next().write_bytes(&key_hash);
                            w.next().write_bigint_bytes(&cert.serial_bytes, true);
                        });
                    });
                });
            });
        });
    })
}

fn trim_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    &b[start..]
}

/// One SingleResponse: the serial it is about, its status and next update (Unix seconds).
struct Single {
    serial: Vec<u8>,
    status: Status,
    next_update: Option<i64>,
}

fn parse_single(der: &[u8]) -> yasna::ASN1Result<Single> {
    yasna::parse_der(der, |r| {
        r.read_sequence(|r| {
            let serial = r.next().read_sequence(|r| {
                r.next().read_der()?;
                r.next().read_bytes()?;
                r.next().read_bytes()?;
                Ok(r.next().read_bigint_bytes()?.0)
            })?;
            let status = match r.next().read_tagged_der()?.tag() {
                t if t == Tag::context(0) => Status::Good,
                t if t == Tag::context(1) => Status::Revoked,
                _ => Status::Unknown,
            };
            r.next().read_generalized_time()?;
            let next_update =
                r.read_optional(|r| r.read_tagged(Tag::context(0), |r| r.read_generalized_time()))?;
            r.read_optional(|r| r.read_tagged(Tag::context(1), |r| r.read_der()))?;
            Ok(Single {
                serial,
                status,
                next_update: next_update.map(|t| t.datetime().unix_timestamp()),
            })
        })
    })
}

/// The parts of a BasicOCSPResponse.
struct Basic {
    tbs: Vec<u8>,
    alg: Vec<u8>,
    signature: Vec<u8>,
    certs: Vec<Vec<u8>>,
    singles: Vec<Vec<u8>>,
}

fn parse_response(der: &[u8]) -> Result<Basic, String> {
    let bad = |e: yasna::ASN1Error| format!("failed to parse OCSP response: {e}");
    let (status, bytes) = yasna::parse_der(der, |r| {
        r.read_sequence(|r| {
            let status = r.next().read_enum()?;
            let bytes = r.read_optional(|r| {
                r.read_tagged(Tag::context(0), |r| {
                    r.read_sequence(|r| {
                        let oid = r.next().read_oid()?;
                        let b = r.next().read_bytes()?;
                        Ok((oid, b))
                    })
                })
            })?;
            Ok((status, bytes))
        })
    })
    .map_err(bad)?;
    if status != 0 {
        return Err(format!("OCSP response status {status}"));
    }
    let Some((oid, basic)) = bytes else {
        return Err("OCSP response has no response bytes".to_string());
    };
    if oid != ObjectIdentifier::from_slice(BASIC_RESPONSE) {
        return Err("OCSP response is not a basic response".to_string());
    }
    let (tbs, alg, signature, certs) = yasna::parse_der(&basic, |r| {
        r.read_sequence(|r| {
            let tbs = r.next().read_der()?;
            let alg = r.next().read_der()?;
            let signature = r.next().read_der()?;
            let certs = r
                .read_optional(|r| {
                    r.read_tagged(Tag::context(0), |r| {
                        let mut v = Vec::new();
                        r.read_sequence_of(|r| {
                            v.push(r.read_der()?);
                            Ok(())
                        })?;
                        Ok(v)
                    })
                })?
                .unwrap_or_default();
            Ok((tbs, alg, signature, certs))
        })
    })
    .map_err(bad)?;
    let singles = yasna::parse_der(&tbs, |r| {
        r.read_sequence(|r| {
            r.read_optional(|r| r.read_tagged(Tag::context(0), |r| r.read_u64()))?;
            r.next().read_der()?; // responderID
            r.next().read_generalized_time()?; // producedAt
            let mut singles = Vec::new();
            r.next().read_sequence_of(|r| {
                singles.push(r.read_der()?);
                Ok(())
            })?;
            r.read_optional(|r| r.read_tagged(Tag::context(1), |r| r.read_der()))?;
            Ok(singles)
        })
    })
    .map_err(bad)?;
    Ok(Basic {
        tbs,
        alg,
        signature,
        certs,
        singles,
    })
}

/// Checks the response's signature as OpenBao's OCSP client does: with no certificate in the
/// response, by the issuer; with one, by that certificate, which must be the issuer itself or
/// a delegated responder: signed by the issuer, not expired, with the OCSP Signing extended
/// key usage.
fn check_signature(basic: &Basic, issuer: &ParsedCert, now: i64) -> Result<(), String> {
    let bad = || "bad signature on OCSP response".to_string();
    let (_, issuer_cert) = X509Certificate::from_der(&issuer.der).map_err(|_| bad())?;
    let (_, alg) = AlgorithmIdentifier::from_der(&basic.alg).map_err(|_| bad())?;
    let (_, sig) = BitString::from_der(&basic.signature).map_err(|_| bad())?;
    if basic.certs.len() > 1 {
        return Err("OCSP response contains bad number of certificates".to_string());
    }
    let Some(embedded) = basic.certs.first() else {
        return x509_parser::verify::verify_signature(
            issuer_cert.public_key(),
            &alg,
            &sig,
            &basic.tbs,
        )
        .map_err(|_| bad());
    };
    let (_, responder) = X509Certificate::from_der(embedded).map_err(|_| bad())?;
    x509_parser::verify::verify_signature(responder.public_key(), &alg, &sig, &basic.tbs)
        .map_err(|_| "bad signature on embedded certificate".to_string())?;
    if embedded.as_slice() == issuer.der.as_slice() {
        return Ok(());
    }
    responder
        .verify_signature(Some(issuer_cert.public_key()))
        .map_err(|_| {
            format!(
                "error checking chain of trust on POST OCSP response via {} failed: x509: \
                 invalid signature",
                issuer.subject_text
            )
        })?;
    if responder.validity().not_after.timestamp() < now {
        return Err(
            "error checking delegated OCSP responder on POST OCSP response: certificate has \
             expired"
                .to_string(),
        );
    }
    let has_eku = responder
        .extended_key_usage()
        .ok()
        .flatten()
        .is_some_and(|e| e.value.ocsp_signing);
    if !has_eku {
        return Err(
            "error checking delegated OCSP responder on POST OCSP response: certificate lacks \
             the OCSP Signing EKU"
                .to_string(),
        );
    }
    Ok(())
}

/// The status `der` (an OCSPResponse) gives for `cert` and the response's next update (Unix
/// seconds, if it has one), its signature checked.
pub(crate) fn read_status(
    der: &[u8],
    cert: &ParsedCert,
    issuer: &ParsedCert,
    now: i64,
) -> Result<(Status, Option<i64>), String> {
    let basic = parse_response(der)?;
    check_signature(&basic, issuer, now)?;
    let want = trim_zeros(&cert.serial_bytes);
    for s in &basic.singles {
        let Ok(single) = parse_single(s) else {
            continue;
        };
        if trim_zeros(&single.serial) != want {
            continue;
        }
        if let Some(next) = single.next_update
            && now > next
        {
            return Err("invalid validity: the OCSP response is past its next update".to_string());
        }
        return Ok((single.status, single.next_update));
    }
    Err("no OCSP response for the certificate's serial number".to_string())
}

async fn ask(url: &str, request: &[u8]) -> Result<Vec<u8>, String> {
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    let resp = client
        .post(url)
        .header("Content-Type", "application/ocsp-request")
        .header("Accept", "application/ocsp-response")
        .body(request.to_vec())
        .send()
        .await
        .map_err(|e| format!("failed to query OCSP server {url}: {e}"))?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(format!("OCSP server {url} answered HTTP status {status}"));
    }
    resp.bytes()
        .await
        .map(|b| b.to_vec())
        .map_err(|e| e.to_string())
}

/// The CertID key of `cert` issued by `issuer` in the answer cache.
fn cert_id(cert: &ParsedCert, issuer: &ParsedCert) -> CertId {
    (
        sha1(&issuer.raw_subject),
        sha1(&issuer.public_key_bits),
        trim_zeros(&cert.serial_bytes).to_vec(),
    )
}

/// The OCSP verdict on `cert`: `Ok(true)` good (or unknown with fail-open), `Ok(false)`
/// revoked, `Err` any other failure (OpenBao's texts for an unknown status). A status the
/// cache holds is used without asking; a fresh one with a next update is cached.
pub(crate) async fn check(
    cert: &ParsedCert,
    issuer: &ParsedCert,
    conf: &VerifyConfig,
    cache: &OcspCache,
) -> Result<bool, String> {
    let id = cert_id(cert, issuer);
    let now = chrono::Utc::now().timestamp();
    let status = match cache.get(&id, now) {
        Some(status) => status,
        None => {
            let (status, next_update) = ask_responders(cert, issuer, conf, now).await?;
            // OpenBao caches only answers that say when fresher ones come.
            if let Some(next) = next_update {
                cache.put(id, status, next, now);
            }
            status
        }
    };
    // OpenBao names the issuer's serial number in these texts.
    let serial = hex_colons(&issuer.serial_bytes);
    match status {
        Status::Good => Ok(true),
        Status::Revoked => Ok(false),
        Status::Unknown if conf.fail_open => Ok(true),
        Status::Unknown => Err(format!(
            "unknown OCSP status for cert with serial number {serial}"
        )),
    }
}

/// The status the responders give for `cert` (OpenBao's `GetRevocationStatus` without its
/// cache): each responder in turn until one answers (all of them with `query_all`), a
/// revoked answer winning over good, good over unknown; and the chosen response's next
/// update.
async fn ask_responders(
    cert: &ParsedCert,
    issuer: &ParsedCert,
    conf: &VerifyConfig,
    now: i64,
) -> Result<(Status, Option<i64>), String> {
    let hosts: &[String] = if conf.servers_override.is_empty() {
        &cert.ocsp_servers
    } else {
        &conf.servers_override
    };
    if hosts.is_empty() {
        return Err(format!(
            "no OCSP responder URL: subject: {}",
            cert.subject_text
        ));
    }
    let request = build_request(cert, issuer);
    let mut results: Vec<Result<(Status, Option<i64>), String>> = Vec::new();
    for host in hosts {
        let r = match ask(host, &request).await {
            Ok(body) => read_status(&body, cert, issuer, now),
            Err(e) => Err(e),
        };
        let done = r.is_ok() && !conf.query_all;
        results.push(r);
        if done {
            break;
        }
    }
    let mut verdict: Option<(Status, Option<i64>)> = None;
    let mut first_error: Option<String> = None;
    for r in results {
        match r {
            Err(e) => {
                first_error.get_or_insert(e);
            }
            Ok(answer @ (Status::Revoked, _)) => {
                verdict = Some(answer);
                break;
            }
            Ok(answer @ (Status::Good, _)) => {
                if matches!(verdict, None | Some((Status::Unknown, _))) {
                    verdict = Some(answer);
                }
            }
            Ok(answer @ (Status::Unknown, _)) => {
                verdict.get_or_insert(answer);
            }
        }
    }
    if matches!(verdict, None | Some((Status::Unknown, _)))
        && let Some(e) = first_error
    {
        return Err(e);
    }
    verdict.ok_or_else(|| {
        "failed to extract a known response code or error from the OCSP server".to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SigningKey};

    /// A CA, a leaf it issued (serial 4242), and the CA's key.
    fn pki() -> (ParsedCert, ParsedCert, KeyPair) {
        let ca_key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, "ca");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = p.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(p, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut lp = CertificateParams::new(vec!["leaf".to_string()]).unwrap();
        lp.serial_number = Some(rcgen::SerialNumber::from(4242u64));
        let leaf = lp.signed_by(&key, &issuer).unwrap();
        let signer = KeyPair::from_pem(&issuer.key().serialize_pem()).unwrap();
        (
            ParsedCert::from_der(ca.der()).unwrap(),
            ParsedCert::from_der(leaf.der()).unwrap(),
            signer,
        )
    }

    /// A basic OCSP response about `serial` with status tag `status`, signed by `key`.
    fn response(serial: &[u8], status: u8, key: &KeyPair) -> Vec<u8> {
        response_with(serial, status, key, None)
    }

    /// As [`response`], the certificate `embed` (DER) carried in the response.
    fn response_with(serial: &[u8], status: u8, key: &KeyPair, embed: Option<&[u8]>) -> Vec<u8> {
        let time = yasna::models::GeneralizedTime::from_datetime(
            time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
        );
        let tbs = yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next()
                    .write_tagged(Tag::context(2), |w| w.write_bytes(&[1; 20]));
                w.next().write_generalized_time(&time);
                w.next().write_sequence(|w| {
                    w.next().write_sequence(|w| {
                        w.next().write_sequence(|w| {
                            w.next().write_sequence(|w| {
                                w.next().write_oid(&ObjectIdentifier::from_slice(SHA1));
                                w.next().write_null();
                            });
                            w.next().write_bytes(&[0; 20]);
                            w.next().write_bytes(&[0; 20]);
                            w.next().write_bigint_bytes(serial, true);
                        });
                        w.next()
                            .write_tagged_implicit(Tag::context(u64::from(status)), |w| {
                                if status == 1 {
                                    w.write_sequence(|w| w.next().write_generalized_time(&time));
                                } else {
                                    w.write_null();
                                }
                            });
                        w.next().write_generalized_time(&time);
                    });
                });
            });
        });
        let sig = key.sign(&tbs).unwrap();
        let basic = yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next().write_der(&tbs);
                w.next().write_sequence(|w| {
                    w.next()
                        .write_oid(&ObjectIdentifier::from_slice(&[1, 2, 840, 10045, 4, 3, 2]));
                });
                w.next().write_bitvec_bytes(&sig, sig.len() * 8);
                if let Some(der) = embed {
                    w.next().write_tagged(Tag::context(0), |w| {
                        w.write_sequence(|w| w.next().write_der(der))
                    });
                }
            });
        });
        yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next().write_enum(0);
                w.next().write_tagged(Tag::context(0), |w| {
                    w.write_sequence(|w| {
                        w.next()
                            .write_oid(&ObjectIdentifier::from_slice(BASIC_RESPONSE));
                        w.next().write_bytes(&basic);
                    })
                });
            });
        })
    }

    #[test]
    fn statuses_are_read_from_signed_responses() {
        let (ca, leaf, key) = pki();
        let now = 1_800_000_000;
        let serial = leaf.serial_bytes.clone();
        for (tag, want) in [
            (0, Status::Good),
            (1, Status::Revoked),
            (2, Status::Unknown),
        ] {
            let r = response(&serial, tag, &key);
            assert_eq!(read_status(&r, &leaf, &ca, now).map(|a| a.0), Ok(want));
        }
        // Signed by another key: refused.
        let other = KeyPair::generate().unwrap();
        assert!(read_status(&response(&serial, 0, &other), &leaf, &ca, now).is_err());
        // About another serial: no answer for this certificate.
        assert!(read_status(&response(&[7], 0, &key), &leaf, &ca, now).is_err());
        // A failed response status.
        let failed = yasna::construct_der(|w| w.write_sequence(|w| w.next().write_enum(1)));
        assert!(read_status(&failed, &leaf, &ca, now).is_err());
    }

    /// A responder certificate issued by a fresh CA (`ca`, returned parsed) and its key.
    fn delegated(
        eku: bool,
        expired: bool,
        signed_by_other: bool,
    ) -> (ParsedCert, ParsedCert, KeyPair, Vec<u8>) {
        let ca_key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, "ca");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = p.self_signed(&ca_key).unwrap();
        let ca_issuer = Issuer::new(p, ca_key);
        let other_key = KeyPair::generate().unwrap();
        let mut op = CertificateParams::new(Vec::<String>::new()).unwrap();
        op.distinguished_name.push(DnType::CommonName, "other");
        op.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let other_issuer = Issuer::new(op, other_key);
        let leaf_key = KeyPair::generate().unwrap();
        let mut lp = CertificateParams::new(vec!["leaf".to_string()]).unwrap();
        lp.serial_number = Some(rcgen::SerialNumber::from(77u64));
        let leaf = lp.signed_by(&leaf_key, &ca_issuer).unwrap();
        let responder_key = KeyPair::generate().unwrap();
        let mut rp = CertificateParams::new(Vec::<String>::new()).unwrap();
        rp.distinguished_name.push(DnType::CommonName, "responder");
        if eku {
            rp.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::OcspSigning];
        }
        if expired {
            rp.not_before = rcgen::date_time_ymd(2000, 1, 1);
            rp.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        let signer = if signed_by_other {
            &other_issuer
        } else {
            &ca_issuer
        };
        let responder = rp.signed_by(&responder_key, signer).unwrap();
        (
            ParsedCert::from_der(ca.der()).unwrap(),
            ParsedCert::from_der(leaf.der()).unwrap(),
            responder_key,
            responder.der().to_vec(),
        )
    }

    #[test]
    fn delegated_responders_are_checked_as_openbao_does() {
        let now = 1_800_000_000;
        let (ca, leaf, key, der) = delegated(true, false, false);
        let r = response_with(&leaf.serial_bytes, 1, &key, Some(&der));
        assert_eq!(
            read_status(&r, &leaf, &ca, now).map(|a| a.0),
            Ok(Status::Revoked)
        );
        // Signed by another key than the embedded certificate's.
        let other = KeyPair::generate().unwrap();
        let r = response_with(&leaf.serial_bytes, 0, &other, Some(&der));
        assert_eq!(
            read_status(&r, &leaf, &ca, now),
            Err("bad signature on embedded certificate".to_string())
        );
        let (ca, leaf, key, der) = delegated(false, false, false);
        let r = response_with(&leaf.serial_bytes, 0, &key, Some(&der));
        assert_eq!(
            read_status(&r, &leaf, &ca, now),
            Err(
                "error checking delegated OCSP responder on POST OCSP response: certificate \
                 lacks the OCSP Signing EKU"
                    .to_string()
            )
        );
        let (ca, leaf, key, der) = delegated(true, true, false);
        let r = response_with(&leaf.serial_bytes, 0, &key, Some(&der));
        assert_eq!(
            read_status(&r, &leaf, &ca, now),
            Err(
                "error checking delegated OCSP responder on POST OCSP response: certificate \
                 has expired"
                    .to_string()
            )
        );
        let (ca, leaf, key, der) = delegated(true, false, true);
        let r = response_with(&leaf.serial_bytes, 0, &key, Some(&der));
        let err = read_status(&r, &leaf, &ca, now).unwrap_err();
        assert!(
            err.starts_with("error checking chain of trust on POST OCSP response via "),
            "{err}"
        );
    }

    #[test]
    fn requests_name_the_issuer_by_hashes() {
        let (ca, leaf, _) = pki();
        let req = build_request(&leaf, &ca);
        let (name_hash, key_hash, serial) = yasna::parse_der(&req, |r| {
            r.read_sequence(|r| {
                r.next().read_sequence(|r| {
                    r.next().read_sequence(|r| {
                        r.next().read_sequence(|r| {
                            r.next().read_sequence(|r| {
                                r.next().read_der()?;
                                let n = r.next().read_bytes()?;
                                let k = r.next().read_bytes()?;
                                let s = r.next().read_bigint_bytes()?.0;
                                Ok((n, k, s))
                            })
                        })
                    })
                })
            })
        })
        .unwrap();
        assert_eq!(name_hash, sha1(&ca.raw_subject));
        assert_eq!(key_hash, sha1(&ca.public_key_bits));
        assert_eq!(trim_zeros(&serial), trim_zeros(&leaf.serial_bytes));
    }
}
