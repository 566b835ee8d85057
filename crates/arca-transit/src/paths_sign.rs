//! `hmac/`, `sign/` and `verify/` (signatures and HMACs), single or with `batch_input`.

use std::sync::Arc;

use arca_sdk::framework::{
    Field, FieldData, FieldType, PathDef, generic_name_regex, optional_param_regex,
};
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::batch::{self, item_str};
use crate::hashing::{HashAlg, hmac_of};
use crate::keyring::{Loaded, Marshaling, OpError, Salt, SignOpts, b64_decode, go_atoi};
use crate::{State, op};

fn sign_fields(p: PathDef) -> PathDef {
    p.field(Field::new("name", FieldType::String, "Name of the key"))
        .field(Field::new("input", FieldType::String, "Base64 input"))
        .field(Field::new(
            "context",
            FieldType::String,
            "Base64 context for derived keys",
        ))
        .field(
            Field::new(
                "algorithm",
                FieldType::String,
                "Deprecated: use hash_algorithm",
            )
            .default_value(json!("sha2-256")),
        )
        .field(Field::new(
            "urlalgorithm",
            FieldType::String,
            "Hash algorithm in the URL",
        ))
        .field(
            Field::new("hash_algorithm", FieldType::String, "Hash algorithm")
                .default_value(json!("sha2-256")),
        )
        .field(Field::new(
            "prehashed",
            FieldType::Bool,
            "The input is already hashed",
        ))
        .field(Field::new(
            "signature_algorithm",
            FieldType::String,
            "pss or pkcs1v15 (RSA)",
        ))
        .field(
            Field::new("marshaling_algorithm", FieldType::String, "asn1 or jws")
                .default_value(json!("asn1")),
        )
        .field(
            Field::new("salt_length", FieldType::String, "PSS salt length")
                .default_value(json!("auto")),
        )
        .field(Field::new(
            "batch_input",
            FieldType::Slice,
            "Batch of items",
        ))
}

pub(crate) fn paths(state: &Arc<State>) -> Vec<PathDef> {
    vec![
        PathDef::new(format!(
            "hmac/{}{}",
            generic_name_regex("name"),
            optional_param_regex("urlalgorithm")
        ))
        .field(Field::new("name", FieldType::String, "Name of the key"))
        .field(Field::new("input", FieldType::String, "Base64 input"))
        .field(
            Field::new("algorithm", FieldType::String, "Hash algorithm")
                .default_value(json!("sha2-256")),
        )
        .field(Field::new(
            "urlalgorithm",
            FieldType::String,
            "Hash algorithm in the URL",
        ))
        .field(Field::new("key_version", FieldType::Int, "Key version"))
        .field(Field::new(
            "batch_input",
            FieldType::Slice,
            "Batch of items",
        ))
        .op(Operation::Update, op(state, hmac_write)),
        sign_fields(PathDef::new(format!(
            "sign/{}{}",
            generic_name_regex("name"),
            optional_param_regex("urlalgorithm")
        )))
        .field(Field::new("key_version", FieldType::Int, "Key version"))
        .op(Operation::Update, op(state, sign)),
        sign_fields(PathDef::new(format!(
            "verify/{}{}",
            generic_name_regex("name"),
            optional_param_regex("urlalgorithm")
        )))
        .field(Field::new(
            "signature",
            FieldType::String,
            "Signature to verify",
        ))
        .field(Field::new("hmac", FieldType::String, "HMAC to verify"))
        .op(Operation::Update, op(state, verify)),
    ]
}

fn one_or_batch(d: &FieldData, single: JsonMap) -> Result<(Vec<JsonMap>, bool), LogicalError> {
    match batch::items(d)? {
        Some(list) if list.is_empty() => {
            Err(LogicalError::bad_request("missing batch input to process"))
        }
        Some(list) => Ok((list, true)),
        None => Ok((vec![single], false)),
    }
}

/// A single answer from the first item, or the batch answer.
fn answer(
    results: Vec<(JsonMap, Option<OpError>)>,
    is_batch: bool,
    items: &[JsonMap],
) -> Result<Option<Response>, LogicalError> {
    if is_batch {
        let list: Vec<Value> = results
            .into_iter()
            .zip(items)
            .map(|((mut m, _), item)| {
                m.insert(
                    "reference".into(),
                    Value::String(item_str(item, "reference").into_owned()),
                );
                Value::Object(m)
            })
            .collect();
        let mut data = JsonMap::new();
        data.insert("batch_results".into(), Value::Array(list));
        return Ok(Some(Response::with_data(data)));
    }
    let Some((mut m, err)) = results.into_iter().next() else {
        return Err(LogicalError::internal("no result"));
    };
    if let Some(e) = err {
        return Err(e.into());
    }
    m.remove("error");
    Ok(Some(Response::with_data(m)))
}

fn algorithm(d: &FieldData, names: &[&str]) -> Result<String, LogicalError> {
    for n in names {
        let v = d.get_str(n)?;
        if !v.is_empty() {
            return Ok(v);
        }
    }
    Ok("sha2-256".into())
}

async fn hmac_write(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?;
    let name = d.get_str("name")?;
    let mut ver = d.get_i64("key_version")?;
    let alg_name = algorithm(&d, &["urlalgorithm", "algorithm"])?;
    let Some(k) = state.keys.get(storage.as_ref(), &name).await? else {
        return Err(LogicalError::bad_request("encryption key not found"));
    };
    let p = &k.policy;
    if ver == 0 {
        ver = p.latest_version;
    } else if ver != p.latest_version
        && p.min_encryption_version > 0
        && ver < p.min_encryption_version
    {
        return Err(LogicalError::bad_request(
            "cannot generate HMAC: version is too old (disallowed by policy)",
        ));
    }
    let key = k
        .hmac_key(ver)
        .map_err(|e| LogicalError::bad_request(e.to_string()))?;
    let Some(alg) = HashAlg::parse(&alg_name) else {
        return Err(LogicalError::bad_request(format!(
            "unsupported algorithm {alg_name:?}"
        )));
    };
    let single = match d.get_given("input")? {
        Some(v) => {
            let mut m = JsonMap::new();
            m.insert("input".into(), v);
            m
        }
        None if d.raw().get("batch_input").is_none() => {
            return Err(LogicalError::bad_request("missing input for HMAC"));
        }
        None => JsonMap::new(),
    };
    let (items, is_batch) = one_or_batch(&d, single)?;
    let mut results = Vec::with_capacity(items.len());
    for item in &items {
        let mut m = JsonMap::new();
        let outcome = match item.get("input") {
            None => Err(OpError::User("missing input for HMAC".into())),
            Some(_) => b64_decode(&item_str(item, "input"))
                .map_err(|e| OpError::User(format!("unable to decode input as base64: {e}")))
                .and_then(|input| {
                    hmac_of(alg, &key, &input)
                        .ok_or_else(|| OpError::User(format!("unsupported algorithm {alg_name:?}")))
                }),
        };
        match outcome {
            Ok(mac) => {
                m.insert(
                    "hmac".into(),
                    Value::String(format!("vault:v{ver}:{}", STANDARD.encode(mac))),
                );
                results.push((m, None));
            }
            Err(e) => {
                m.insert("error".into(), Value::String(e.to_string()));
                results.push((m, Some(e)));
            }
        }
    }
    answer(results, is_batch, &items)
}

fn sign_opts(d: &FieldData) -> Result<(SignOpts, bool), LogicalError> {
    let hash_name = algorithm(d, &["urlalgorithm", "hash_algorithm", "algorithm"])?;
    let Some(hash) = HashAlg::parse(&hash_name) else {
        return Err(LogicalError::bad_request(format!(
            "invalid hash algorithm {hash_name:?}"
        )));
    };
    let marshaling = match d.get_str("marshaling_algorithm")?.as_str() {
        "asn1" => Marshaling::Asn1,
        "jws" => Marshaling::Jws,
        other => {
            return Err(LogicalError::bad_request(format!(
                "invalid marshaling type {other:?}"
            )));
        }
    };
    let prehashed = d.get_bool("prehashed")?;
    let sig_alg = d.get_str("signature_algorithm")?;
    let raw_salt = d.get_str("salt_length")?;
    let salt = match raw_salt.to_lowercase().as_str() {
        "auto" => Salt::Auto,
        "hash" => Salt::Hash,
        s => match go_atoi(s) {
            None => {
                return Err(LogicalError::bad_request(format!(
                    "salt length neither 'auto', 'hash', nor an int: {raw_salt}"
                )));
            }
            Some(n) if n < -1 => {
                return Err(LogicalError::bad_request(format!(
                    "salt length is invalid: {n}"
                )));
            }
            Some(-1) => Salt::Hash,
            Some(0) => Salt::Auto,
            Some(n) => Salt::Len(n as usize),
        },
    };
    if hash == HashAlg::None && (!prehashed || sig_alg != "pkcs1v15") {
        return Err(LogicalError::bad_request(
            "hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15",
        ));
    }
    Ok((
        SignOpts {
            hash,
            hash_name,
            sig_alg,
            marshaling,
            salt,
        },
        prehashed,
    ))
}

/// The bytes to sign or verify: the input hashed for ECDSA and RSA unless prehashed.
fn prepared_input(
    k: &Loaded,
    item: &JsonMap,
    opts: &SignOpts,
    prehashed: bool,
) -> Result<(Vec<u8>, Vec<u8>), OpError> {
    if !item.contains_key("input") {
        return Err(OpError::User("missing input".into()));
    }
    let mut input = b64_decode(&item_str(item, "input"))
        .map_err(|e| OpError::User(format!("unable to decode input as base64: {e}")))?;
    let t = k.policy.key_type;
    if (t.is_ecdsa() || t.is_rsa()) && !prehashed && opts.hash != HashAlg::None {
        input = opts.hash.hash(&input).ok_or_else(|| {
            OpError::User(format!(
                "hash algorithm {} is not supported by Arca",
                opts.hash_name
            ))
        })?;
    }
    let ctx = item_str(item, "context");
    let context = if ctx.is_empty() {
        Vec::new()
    } else {
        b64_decode(&ctx).map_err(|_| OpError::User("failed to base64-decode context".into()))?
    };
    Ok((input, context))
}

async fn sign(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?;
    let name = d.get_str("name")?;
    let ver = d.get_i64("key_version")?;
    let (opts, prehashed) = sign_opts(&d)?;
    let Some(k) = state.keys.get(storage.as_ref(), &name).await? else {
        return Err(LogicalError::bad_request("signing key not found"));
    };
    if !k.policy.key_type.signing_supported() {
        return Err(LogicalError::bad_request(format!(
            "key type {} does not support signing",
            k.policy.key_type.name()
        )));
    }
    let mut single = JsonMap::new();
    single.insert("input".into(), Value::String(d.get_str("input")?));
    single.insert("context".into(), Value::String(d.get_str("context")?));
    let (items, is_batch) = one_or_batch(&d, single)?;
    let mut results = Vec::with_capacity(items.len());
    for item in &items {
        let mut m = JsonMap::new();
        let outcome = prepared_input(&k, item, &opts, prehashed)
            .and_then(|(input, context)| k.sign(ver, &context, &input, &opts));
        match outcome {
            Ok((sig, used, public)) => {
                m.insert("signature".into(), Value::String(sig));
                m.insert("key_version".into(), Value::from(used));
                if let Some(pk) = public {
                    let key = if is_batch { "publickey" } else { "public_key" };
                    m.insert(key.into(), Value::String(STANDARD.encode(pk)));
                }
                results.push((m, None));
            }
            Err(e) => {
                m.insert("key_version".into(), Value::from(0));
                m.insert("error".into(), Value::String(e.to_string()));
                results.push((m, Some(e)));
            }
        }
    }
    answer(results, is_batch, &items)
}

async fn verify(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?;
    let batch_items = batch::items(&d)?;
    let is_batch = batch_items.is_some();
    let items = match batch_items {
        Some(list) if list.is_empty() => {
            return Err(LogicalError::bad_request("missing batch input to process"));
        }
        Some(list) => list,
        None => {
            let mut m = JsonMap::new();
            m.insert("input".into(), Value::String(d.get_str("input")?));
            if let Some(s) = d.get_given("signature")? {
                m.insert("signature".into(), s);
            }
            if let Some(h) = d.get_given("hmac")? {
                m.insert("hmac".into(), h);
            }
            m.insert("context".into(), Value::String(d.get_str("context")?));
            vec![m]
        }
    };
    let (mut sig_found, mut hmac_found, mut missing) = (false, false, false);
    for m in &items {
        if m.contains_key("signature") {
            sig_found = true;
        } else if m.contains_key("hmac") {
            hmac_found = true;
        } else {
            missing = true;
        }
    }
    let refuse = |m: &str| Err(LogicalError::bad_request(m));
    if !is_batch && sig_found && hmac_found {
        return refuse("provide one of 'signature' or 'hmac'");
    } else if !is_batch && !sig_found && !hmac_found {
        return refuse("neither a 'signature' nor an 'hmac' were given to verify");
    } else if sig_found && hmac_found {
        return refuse(
            "elements of batch_input must all provide 'signature' or all provide 'hmac'",
        );
    } else if missing && sig_found {
        return refuse("some elements of batch_input are missing 'signature'");
    } else if missing && hmac_found {
        return refuse("some elements of batch_input are missing 'hmac'");
    } else if missing {
        return refuse("no batch_input elements have 'signature' or 'hmac'");
    }
    let name = d.get_str("name")?;
    if hmac_found {
        let alg_name = algorithm(&d, &["urlalgorithm", "hash_algorithm", "algorithm"])?;
        let Some(k) = state.keys.get(storage.as_ref(), &name).await? else {
            return Err(LogicalError::bad_request("encryption key not found"));
        };
        let Some(alg) = HashAlg::parse(&alg_name) else {
            return Err(LogicalError::bad_request(format!(
                "invalid hash algorithm {alg_name:?}"
            )));
        };
        let results = items.iter().map(|item| {
            let mut m = JsonMap::new();
            match verify_hmac(&k, alg, &alg_name, item) {
                Ok(valid) => {
                    if valid {
                        m.insert("valid".into(), Value::Bool(true));
                    }
                    (m, None)
                }
                Err(e) => {
                    m.insert("error".into(), Value::String(e.to_string()));
                    (m, Some(e))
                }
            }
        });
        let results: Vec<_> = results.collect();
        let mut resp = answer(results, is_batch, &items)?;
        if !is_batch
            && let Some(r) = resp.as_mut()
            && let Some(data) = r.data.as_mut()
        {
            let valid = data.get("valid").and_then(Value::as_bool).unwrap_or(false);
            data.insert("valid".into(), Value::Bool(valid));
        }
        return Ok(resp);
    }
    let (opts, prehashed) = sign_opts(&d)?;
    let Some(k) = state.keys.get(storage.as_ref(), &name).await? else {
        return Err(LogicalError::bad_request(
            "signature verification key not found",
        ));
    };
    if !k.policy.key_type.signing_supported() {
        return Err(LogicalError::bad_request(format!(
            "key type {} does not support verification",
            k.policy.key_type.name()
        )));
    }
    let mut results = Vec::with_capacity(items.len());
    for item in &items {
        let mut m = JsonMap::new();
        let outcome = prepared_input(&k, item, &opts, prehashed).and_then(|(input, context)| {
            let sig = item_str(item, "signature");
            k.verify(&context, &input, &sig, &opts)
        });
        match outcome {
            Ok(valid) => {
                m.insert("valid".into(), Value::Bool(valid));
                results.push((m, None));
            }
            Err(e) => {
                m.insert("valid".into(), Value::Bool(false));
                m.insert("error".into(), Value::String(e.to_string()));
                results.push((m, Some(e)));
            }
        }
    }
    answer(results, is_batch, &items)
}

fn verify_hmac(k: &Loaded, alg: HashAlg, alg_name: &str, item: &JsonMap) -> Result<bool, OpError> {
    let user = |m: String| Err(OpError::User(m));
    if !item.contains_key("input") {
        return user("missing input".into());
    }
    let input = match b64_decode(&item_str(item, "input")) {
        Ok(i) => i,
        Err(e) => return user(format!("unable to decode input as base64: {e}")),
    };
    let given = item_str(item, "hmac");
    let Some(rest) = given.strip_prefix("vault:v") else {
        return user("invalid HMAC to verify: no prefix".into());
    };
    let Some((ver, mac)) = rest.split_once(':') else {
        return user("invalid HMAC: wrong number of fields".into());
    };
    let Some(ver) = go_atoi(ver) else {
        return user("invalid HMAC: version number could not be decoded".into());
    };
    let mac = match b64_decode(mac) {
        Ok(m) => m,
        Err(e) => return user(format!("unable to decode verification HMAC as base64: {e}")),
    };
    let p = &k.policy;
    if ver > p.latest_version {
        return user("invalid HMAC: version is too new".into());
    }
    if p.min_decryption_version > 0 && ver < p.min_decryption_version {
        return user("cannot verify HMAC: version is too old (disallowed by policy)".into());
    }
    let key = k.hmac_key(ver).map_err(|e| OpError::User(e.to_string()))?;
    let Some(want) = hmac_of(alg, &key, &input) else {
        return user(format!("unsupported algorithm {alg_name:?}"));
    };
    Ok(bool::from(want.ct_eq(&mac)))
}
