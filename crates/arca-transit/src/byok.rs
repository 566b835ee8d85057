//! Bring your own key: the RSA-4096 wrapping key (`wrapping_key`), and `keys/<name>/import` /
//! `import_version`, which take a key wrapped as OpenBao expects (RSA-OAEP of an ephemeral
//! AES-256 key, then AES-KWP of the key) or a PEM public key.

use std::sync::Arc;

use arca_sdk::framework::{Field, FieldData, FieldType, PathDef, generic_name_regex};
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response};
use aws_lc_rs::encoding::{AsBigEndian, Curve25519SeedBin, EcPrivateKeyBin};
use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384, OAEP_SHA512_MGF1SHA512,
    OaepAlgorithm, OaepPrivateDecryptingKey, PrivateDecryptingKey,
};
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use zeroize::Zeroizing;

use crate::der;
use crate::keyring::{self, b64_decode, random_bytes};
use crate::keytype::KeyType;
use crate::lifecycle::{HMAC_MAX, HMAC_MIN, NewKey, new_policy, rsa_public_pem};
use crate::num::BigNum;
use crate::policy::{KeyEntry, Policy, RsaPublicJson, now};
use crate::{State, op};

/// The name the wrapping key is kept under (`policy/import/wrapping-key`).
const WRAPPING_KEY: &str = "import/wrapping-key";
/// Length of the RSA-4096 wrapped ephemeral key at the head of an import ciphertext.
const WRAPPED_EPHEMERAL_LEN: usize = 512;

pub(crate) fn paths(state: &Arc<State>) -> Vec<PathDef> {
    let import_fields = |p: PathDef| {
        p.field(Field::new("name", FieldType::String, "Name of the key"))
            .field(Field::new(
                "ciphertext",
                FieldType::String,
                "Wrapped key material",
            ))
            .field(Field::new(
                "public_key",
                FieldType::String,
                "PEM public key",
            ))
            .field(
                Field::new("hash_function", FieldType::String, "OAEP hash")
                    .default_value(json!("SHA256")),
            )
    };
    vec![
        PathDef::new("wrapping_key").op(Operation::Read, op(state, wrapping_key)),
        import_fields(PathDef::new(format!(
            "keys/{}/import",
            generic_name_regex("name")
        )))
        .field(
            Field::new("type", FieldType::String, "Key type").default_value(json!("aes256-gcm96")),
        )
        .field(Field::new(
            "allow_rotation",
            FieldType::Bool,
            "Allow rotating the imported key",
        ))
        .field(Field::new("derived", FieldType::Bool, "Derived key"))
        .field(Field::new(
            "convergent_encryption",
            FieldType::Bool,
            "Not allowed on import",
        ))
        .field(Field::new("exportable", FieldType::Bool, "Exportable"))
        .field(Field::new(
            "allow_plaintext_backup",
            FieldType::Bool,
            "Plaintext backup",
        ))
        .field(
            Field::new(
                "auto_rotate_period",
                FieldType::DurationSecond,
                "Rotation period",
            )
            .default_value(json!(0)),
        )
        .field(Field::new("context", FieldType::String, "Unused"))
        .op(Operation::Update, op(state, import)),
        import_fields(PathDef::new(format!(
            "keys/{}/import_version",
            generic_name_regex("name")
        )))
        .field(Field::new(
            "version",
            FieldType::Int,
            "Version whose private part to import",
        ))
        .op(Operation::Update, op(state, import_version)),
    ]
}

async fn wrapping_policy(
    state: &State,
    req: &Request,
) -> Result<Arc<keyring::Loaded>, LogicalError> {
    let storage = req.storage()?;
    state
        .keys
        .update(storage.as_ref(), WRAPPING_KEY, |current| match current {
            Some(_) => Ok((None, ())),
            None => {
                let new = NewKey {
                    key_type: Some(KeyType::Rsa4096),
                    ..NewKey::default()
                };
                Ok((Some(new_policy(WRAPPING_KEY, &new)?), ()))
            }
        })
        .await?;
    state
        .keys
        .get(storage.as_ref(), WRAPPING_KEY)
        .await?
        .ok_or_else(|| {
            LogicalError::internal("error retrieving wrapping key: returned policy was nil")
        })
}

async fn wrapping_key(
    state: Arc<State>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let k = wrapping_policy(&state, &req).await?;
    let e = k
        .policy
        .entry(k.policy.latest_version)
        .ok_or_else(|| LogicalError::internal("wrapping key has no versions"))?;
    let mut data = JsonMap::new();
    data.insert("public_key".into(), json!(rsa_public_pem(e)));
    Ok(Some(Response::with_data(data)))
}

fn oaep_of(name: &str) -> Result<&'static OaepAlgorithm, LogicalError> {
    Ok(match name.to_uppercase().as_str() {
        "SHA1" => &OAEP_SHA1_MGF1SHA1,
        "SHA256" => &OAEP_SHA256_MGF1SHA256,
        "SHA384" => &OAEP_SHA384_MGF1SHA384,
        "SHA512" => &OAEP_SHA512_MGF1SHA512,
        _ => {
            return Err(LogicalError::bad_request(format!(
                "unknown hash function: {name}"
            )));
        }
    })
}

/// The key material of an import request: unwrapped private or raw key (`true`) or the PEM
/// public key's bytes (`false`).
async fn key_from_fields(
    state: &State,
    req: &Request,
    d: &FieldData,
    t: KeyType,
) -> Result<(Zeroizing<Vec<u8>>, bool), LogicalError> {
    let has_ct = d.raw().contains_key("ciphertext");
    // OpenBao looks for `publicKey` here (not the field's name, `public_key`), so a request
    // with `ciphertext` and `public_key` is a ciphertext import there; the same here.
    if has_ct && d.raw().contains_key("publicKey") {
        return Err(LogicalError::invalid_input(
            "only one of the following fields, ciphertext and public_key, can be set",
        ));
    }
    if !has_ct {
        if !(t.is_rsa() || t.is_ecdsa() || t == KeyType::Ed25519) {
            return Err(LogicalError::invalid_input(
                "provided type does not support public_key import",
            ));
        }
        return Ok((Zeroizing::new(d.get_str("public_key")?.into_bytes()), false));
    }
    let alg = oaep_of(&d.get_str("hash_function")?)?;
    let ct = b64_decode(&d.get_str("ciphertext")?).map_err(LogicalError::internal)?;
    if ct.len() <= WRAPPED_EPHEMERAL_LEN {
        return Err(LogicalError::invalid_input(
            "provided ciphertext is too short",
        ));
    }
    let (wrapped_eph, wrapped_key) = ct.split_at(WRAPPED_EPHEMERAL_LEN);
    let wk = wrapping_policy(state, req).await?;
    let e = wk
        .policy
        .entry(wk.policy.latest_version)
        .and_then(|e| e.rsa_key.as_ref())
        .ok_or_else(|| LogicalError::internal("error importing key: wrapping key was nil"))?;
    let pkcs1 = keyring::rsa_private_der(e);
    let pkcs8 = keyring::rsa_pkcs8(&pkcs1);
    let sk = PrivateDecryptingKey::from_pkcs8(&pkcs8)
        .map_err(|_| LogicalError::internal("invalid wrapping key"))?;
    let oaep = OaepPrivateDecryptingKey::new(sk)
        .map_err(|_| LogicalError::internal("invalid wrapping key"))?;
    let mut eph = Zeroizing::new(vec![0u8; 512]);
    let n = oaep
        .decrypt(alg, wrapped_eph, &mut eph, Some(&[]))
        .map_err(|_| LogicalError::invalid_input("crypto/rsa: decryption error"))?
        .len();
    eph.truncate(n);
    if eph.len() != 32 {
        return Err(LogicalError::invalid_input(
            "expected ephemeral AES key to be 256-bit",
        ));
    }
    let kek = AesKek::new(&AES_256, &eph)
        .map_err(|_| LogicalError::invalid_input("invalid ephemeral key"))?;
    let mut out = Zeroizing::new(vec![0u8; wrapped_key.len()]);
    let n = kek
        .unwrap_with_padding(wrapped_key, &mut out)
        .map_err(|_| LogicalError::invalid_input("failed to unwrap key"))?
        .len();
    out.truncate(n);
    Ok((out, true))
}

/// Fills `entry` from an imported key (keysutil's `parseFromKey`).
fn parse_into(entry: &mut KeyEntry, t: KeyType, key: &[u8], private: bool) -> Result<(), String> {
    if t.is_aead() || t == KeyType::Hmac {
        let ok = match t {
            KeyType::Aes128Gcm96 => key.len() == 16,
            KeyType::Hmac => (HMAC_MIN as usize..=HMAC_MAX as usize).contains(&key.len()),
            _ => key.len() == 32,
        };
        if !ok {
            return Err(format!(
                "invalid key size {} bytes for key type {}",
                key.len(),
                t.name()
            ));
        }
        entry.key = Some(Zeroizing::new(key.to_vec()));
        if t == KeyType::Hmac {
            entry.hmac_key = Some(Zeroizing::new(key.to_vec()));
        }
        return Ok(());
    }
    if private {
        if t.is_rsa() {
            let r = keyring::rsa_from_pkcs8(key)
                .ok_or("error parsing asymmetric key: not an RSA PKCS#8 key")?;
            if r.n.be().len() * 8 != t.rsa_bits() {
                return Err(format!(
                    "invalid key size: expected {} bytes, got {} bytes",
                    t.rsa_bits() / 8,
                    r.n.be().len()
                ));
            }
            entry.rsa_public_key = Some(RsaPublicJson {
                n: r.n.clone(),
                e: r.e,
            });
            entry.rsa_key = Some(r);
        } else if t.is_ecdsa() {
            let alg = keyring::ecdsa_signing_alg(t);
            let pair = EcdsaKeyPair::from_pkcs8(alg, key)
                .map_err(|e| format!("error parsing asymmetric key: {e}"))?;
            let d: EcPrivateKeyBin = pair
                .private_key()
                .as_be_bytes()
                .map_err(|_| "invalid EC key")?;
            let point = pair.public_key().as_ref();
            let c = (point.len() - 1) / 2;
            entry.ec_d = Some(BigNum::from_be(d.as_ref()));
            entry.ec_x = Some(BigNum::from_be(&point[1..1 + c]));
            entry.ec_y = Some(BigNum::from_be(&point[1 + c..]));
            entry.public_key = keyring::ec_public_pem(&pair).map_err(|e| e.to_string())?;
        } else {
            let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(key)
                .map_err(|e| format!("error parsing asymmetric key: {e}"))?;
            let seed = pair.seed().map_err(|_| "invalid Ed25519 key")?;
            let seed: Curve25519SeedBin = seed.as_be_bytes().map_err(|_| "invalid Ed25519 key")?;
            let mut k = Zeroizing::new(seed.as_ref().to_vec());
            k.extend_from_slice(pair.public_key().as_ref());
            entry.key = Some(k);
            entry.public_key = STANDARD.encode(pair.public_key().as_ref());
        }
        return Ok(());
    }
    let text =
        std::str::from_utf8(key).map_err(|_| "error parsing public key: not in PEM format")?;
    let (_, spki) = der::pem_decode(text).ok_or("error parsing public key: not in PEM format")?;
    let (_, body, _) = der::read(&spki).ok_or("error parsing public key: malformed")?;
    let els = der::elements(body).ok_or("error parsing public key: malformed")?;
    let bits = els
        .iter()
        .find(|(tag, _)| *tag == der::BIT_STRING)
        .map(|(_, b)| b.get(1..).unwrap_or_default())
        .ok_or("error parsing public key: malformed")?;
    if t.is_rsa() {
        let (_, seq, _) = der::read(bits).ok_or("error parsing public key: malformed")?;
        let ints = der::elements(seq).ok_or("error parsing public key: malformed")?;
        if ints.len() != 2 {
            return Err("error parsing public key: malformed".into());
        }
        let n = BigNum::from_be(ints[0].1);
        let mut e = 0i64;
        for b in ints[1].1.iter().take(8) {
            e = (e << 8) | i64::from(*b);
        }
        if n.be().len() * 8 != t.rsa_bits() {
            return Err(format!(
                "invalid key size: expected {} bytes, got {} bytes",
                t.rsa_bits() / 8,
                n.be().len()
            ));
        }
        entry.rsa_public_key = Some(RsaPublicJson { n, e });
    } else if t.is_ecdsa() {
        let size = keyring::ecdsa_field_len(t);
        if bits.len() != 1 + 2 * size || bits[0] != 4 {
            return Err(format!("invalid curve: expected a {} point", t.name()));
        }
        entry.ec_x = Some(BigNum::from_be(&bits[1..1 + size]));
        entry.ec_y = Some(BigNum::from_be(&bits[1 + size..]));
        entry.public_key = der::pem("PUBLIC KEY", &spki);
    } else {
        if bits.len() != 32 {
            return Err("invalid key type: expected an Ed25519 public key".into());
        }
        entry.public_key = STANDARD.encode(bits);
    }
    Ok(())
}

/// keysutil's `ImportPublicOrPrivate`: a new version from the imported key.
fn import_into(p: &mut Policy, key: &[u8], private: bool) -> Result<(), LogicalError> {
    let wrap = |e: String| LogicalError::internal(format!("error importing key: {e}"));
    if p.latest_version > 0
        && private
        && p.entry(p.latest_version)
            .is_some_and(KeyEntry::private_missing)
        && import_private_for_version(p, p.latest_version, key).is_ok()
    {
        return Ok(());
    }
    let (time, unix) = now();
    let mut entry = KeyEntry {
        time,
        creation_time: unix,
        ..KeyEntry::default()
    };
    if p.key_type != KeyType::Hmac {
        entry.hmac_key = Some(random_bytes(32)?);
    }
    if p.key_type == KeyType::Ed25519 && p.derived && !private {
        return Err(wrap("unable to import only public key for derived Ed25519 key: imported key should not be an Ed25519 key pair but is instead an HKDF key".into()));
    }
    parse_into(&mut entry, p.key_type, key, private).map_err(wrap)?;
    if p.key_type == KeyType::Hmac {
        p.key_size = key.len() as i64;
    }
    p.latest_version += 1;
    p.keys.insert(p.latest_version.to_string(), entry);
    if p.min_decryption_version == 0 {
        p.min_decryption_version = 1;
    }
    Ok(())
}

/// keysutil's `ImportPrivateKeyForVersion`: the private half of a public-only version.
fn import_private_for_version(p: &mut Policy, ver: i64, key: &[u8]) -> Result<(), String> {
    let t = p.key_type;
    let Some(current) = p.entry(ver).cloned() else {
        return Err("no such key version".into());
    };
    let mut entry = current.clone();
    parse_into(&mut entry, t, key, true)?;
    let same = if t.is_rsa() {
        current.rsa_public_key.as_ref().map(|k| k.n.clone())
            == entry.rsa_key.as_ref().map(|k| k.n.clone())
    } else if t.is_ecdsa() {
        current.ec_x == entry.ec_x && current.ec_y == entry.ec_y
    } else {
        current.public_key == entry.public_key
    };
    if !same {
        return Err("cannot import key, key pair does not match".into());
    }
    p.keys.insert(ver.to_string(), entry);
    Ok(())
}

async fn import(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?.clone();
    let name = d.get_str("name")?;
    if d.raw().contains_key("convergent_encryption") {
        return Err(LogicalError::invalid_input(
            "import cannot be used on keys with convergent encryption enabled",
        ));
    }
    let allow_rotation = d.get_bool("allow_rotation")?;
    let period = d.get_i64("auto_rotate_period")?;
    if period > 0 && !allow_rotation {
        return Err(LogicalError::invalid_input(
            "allow_rotation must be set to true if auto-rotation is enabled",
        ));
    }
    let type_name = d.get_str("type")?;
    let Some(t) = KeyType::parse(&type_name.to_lowercase()) else {
        return Err(LogicalError::bad_request(format!(
            "unknown key type: {type_name}"
        )));
    };
    if state.keys.get(storage.as_ref(), &name).await?.is_some() {
        return Err(LogicalError::invalid_input(
            "the import path cannot be used with an existing key; use import-version to rotate an existing imported key",
        ));
    }
    let (key, private) = key_from_fields(&state, &req, &d, t).await?;
    let derived = d.get_bool("derived")?;
    let exportable = d.get_bool("exportable")?;
    let plaintext_backup = d.get_bool("allow_plaintext_backup")?;
    state
        .keys
        .update(storage.as_ref(), &name, |current| {
            let mut p = current.unwrap_or_else(|| Policy {
                name: name.clone(),
                key_type: t,
                derived,
                kdf: if derived { 1 } else { 0 },
                exportable,
                allow_plaintext_backup: plaintext_backup,
                auto_rotate_period: period.saturating_mul(1_000_000_000),
                allow_imported_key_rotation: allow_rotation,
                imported: true,
                ..Policy::default()
            });
            import_into(&mut p, &key, private)?;
            Ok((Some(p), ()))
        })
        .await?;
    Ok(None)
}

async fn import_version(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?.clone();
    let name = d.get_str("name")?;
    let Some(k) = state.keys.get(storage.as_ref(), &name).await? else {
        return Err(LogicalError::invalid_input(format!(
            "no key found with name {name}; to import a new key, use the import/ endpoint"
        )));
    };
    if !k.policy.imported {
        return Err(LogicalError::invalid_input(
            "the import_version endpoint can only be used with an imported key",
        ));
    }
    if k.policy.convergent_encryption {
        return Err(LogicalError::invalid_input(
            "import_version cannot be used on keys with convergent encryption enabled",
        ));
    }
    let (key, private) = key_from_fields(&state, &req, &d, k.policy.key_type).await?;
    let version = d.get_given("version")?.and_then(|v| v.as_i64());
    state
        .keys
        .update(storage.as_ref(), &name, |current| {
            let Some(mut p) = current else {
                return Err(LogicalError::invalid_input(format!("no key found with name {name}")));
            };
            match version {
                Some(v) => {
                    let t = p.key_type;
                    let Some(e) = p.entry(v) else {
                        return Err(LogicalError::invalid_input("no such key version"));
                    };
                    if !(t.is_rsa() || t.is_ecdsa() || t == KeyType::Ed25519) {
                        return Err(LogicalError::invalid_input("provided type does not support importing key versions"));
                    }
                    let missing = e.private_missing();
                    if missing && !private {
                        return Err(LogicalError::invalid_input("cannot add a public key to a key version that already has a public key set"));
                    }
                    if !missing {
                        return Err(LogicalError::invalid_input("private key imported, key version cannot be updated"));
                    }
                    import_private_for_version(&mut p, v, &key).map_err(LogicalError::internal)?;
                }
                None => import_into(&mut p, &key, private)?,
            }
            Ok((Some(p), ()))
        })
        .await?;
    Ok(None)
}
