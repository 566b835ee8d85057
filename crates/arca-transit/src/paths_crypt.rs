//! `encrypt/`, `decrypt/`, `rewrap/` and `datakey/`, single or with `batch_input`.

use std::borrow::Cow;
use std::sync::Arc;

use arca_sdk::framework::{Field, FieldData, FieldType, PathDef, existence, generic_name_regex};
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::batch::{self, value_int, value_str};
use crate::keyring::{Loaded, OpError, b64_decode};
use crate::keytype::KeyType;
use crate::lifecycle::{NewKey, new_policy};
use crate::{State, op};

fn common(p: PathDef) -> PathDef {
    p.field(Field::new("name", FieldType::String, "Name of the key"))
        .field(Field::new(
            "context",
            FieldType::String,
            "Base64 context for key derivation",
        ))
        .field(Field::new(
            "key_version",
            FieldType::Int,
            "Key version to use",
        ))
        .field(Field::new(
            "associated_data",
            FieldType::String,
            "Base64 associated data (AEAD)",
        ))
        .field(Field::new(
            "batch_input",
            FieldType::Slice,
            "Batch of items",
        ))
        .field(Field::new(
            "partial_failure_response_code",
            FieldType::Int,
            "Status when some batch items fail",
        ))
}

pub(crate) fn paths(state: &Arc<State>) -> Vec<PathDef> {
    let exists_state = state.clone();
    vec![
        common(PathDef::new(format!(
            "encrypt/{}",
            generic_name_regex("name")
        )))
        .field(Field::new(
            "plaintext",
            FieldType::String,
            "Base64 plaintext",
        ))
        .field(
            Field::new(
                "type",
                FieldType::String,
                "Key type when the key is created",
            )
            .default_value(json!("aes256-gcm96")),
        )
        .field(Field::new(
            "convergent_encryption",
            FieldType::Bool,
            "Convergent key when created",
        ))
        .op(Operation::Create, op(state, encrypt))
        .op(Operation::Update, op(state, encrypt))
        .existence_by_path(existence(move |req, d| {
            let s = exists_state.clone();
            async move {
                let storage = req.storage()?.clone();
                Ok(s.keys
                    .get(storage.as_ref(), &d.get_str("name")?)
                    .await?
                    .is_some())
            }
        })),
        common(PathDef::new(format!(
            "decrypt/{}",
            generic_name_regex("name")
        )))
        .field(Field::new(
            "ciphertext",
            FieldType::String,
            "Ciphertext to decrypt",
        ))
        .op(Operation::Update, op(state, decrypt)),
        common(PathDef::new(format!(
            "rewrap/{}",
            generic_name_regex("name")
        )))
        .field(Field::new(
            "ciphertext",
            FieldType::String,
            "Ciphertext to rewrap",
        ))
        .op(Operation::Update, op(state, rewrap)),
        PathDef::new(format!(
            "datakey/{}/{}",
            generic_name_regex("plaintext"),
            generic_name_regex("name")
        ))
        .field(Field::new("name", FieldType::String, "Name of the key"))
        .field(Field::new(
            "plaintext",
            FieldType::String,
            "plaintext or wrapped",
        ))
        .field(Field::new(
            "context",
            FieldType::String,
            "Base64 context for key derivation",
        ))
        .field(Field::new("bits", FieldType::Int, "Data key size").default_value(json!(256)))
        .field(Field::new(
            "key_version",
            FieldType::Int,
            "Key version to use",
        ))
        .field(Field::new(
            "associated_data",
            FieldType::String,
            "Base64 associated data (AEAD)",
        ))
        .op(Operation::Update, op(state, datakey)),
    ]
}

/// One request item, its texts borrowed from the request.
#[derive(Default)]
struct Item<'a> {
    plaintext: Cow<'a, str>,
    ciphertext: Cow<'a, str>,
    context: Cow<'a, str>,
    decoded_context: Vec<u8>,
    key_version: i64,
    associated_data: Cow<'a, str>,
    reference: Cow<'a, str>,
}

impl<'a> Item<'a> {
    /// A `batch_input` item, its fields read by [`value_str`] and [`value_int`], in one pass
    /// over the item (a batch has many small items).
    fn of(m: &'a JsonMap) -> Item<'a> {
        let mut item = Item::default();
        for (k, v) in m {
            match k.as_str() {
                "plaintext" => item.plaintext = value_str(v),
                "ciphertext" => item.ciphertext = value_str(v),
                "context" => item.context = value_str(v),
                "key_version" => item.key_version = value_int(v),
                "associated_data" => item.associated_data = value_str(v),
                "reference" => item.reference = value_str(v),
                _ => {}
            }
        }
        item
    }
}

fn read_items<'a>(
    d: &'a FieldData,
    single_field: &str,
    missing: &str,
) -> Result<(Vec<Item<'a>>, bool), LogicalError> {
    let batch = batch::items_ref(d)?;
    let is_batch = batch.is_some();
    let items = match batch {
        Some(list) => {
            if list.is_empty() {
                return Err(LogicalError::bad_request("missing batch input to process"));
            }
            list.into_iter().map(Item::of).collect::<Vec<_>>()
        }
        None => {
            let Some(v) = d.get_given(single_field)? else {
                return Err(LogicalError::bad_request(missing));
            };
            let v = match v {
                Value::String(s) => Cow::Owned(s),
                _ => Cow::Borrowed(""),
            };
            let mut item = Item {
                plaintext: Cow::Borrowed(""),
                ciphertext: Cow::Borrowed(""),
                context: Cow::Owned(d.get_str("context")?),
                decoded_context: Vec::new(),
                key_version: d.get_i64("key_version")?,
                associated_data: Cow::Owned(d.get_str("associated_data")?),
                reference: Cow::Borrowed(""),
            };
            if single_field == "plaintext" {
                item.plaintext = v;
            } else {
                item.ciphertext = v;
            }
            vec![item]
        }
    };
    Ok((items, is_batch))
}

fn aad_of(k: &Loaded, item: &Item<'_>, i: usize) -> Result<Vec<u8>, OpError> {
    if item.associated_data.is_empty() {
        return Ok(Vec::new());
    }
    if !k.policy.key_type.is_aead() {
        return Err(OpError::User(format!(
            "'[{i}].associated_data' provided for non-AEAD cipher suite {}",
            k.policy.key_type.name()
        )));
    }
    b64_decode(&item.associated_data).map_err(|e| {
        OpError::Internal(format!(
            "unable to get associated_data/additional_data from factory[0]: {e}"
        ))
    })
}

/// Checks contexts are given in all items or none and decodes them; per-item failures are
/// recorded in `errors`.
fn decode_contexts(
    items: &mut [Item<'_>],
    errors: &mut [Option<String>],
) -> Result<(), LogicalError> {
    let context_set = !items[0].context.is_empty();
    for (i, item) in items.iter_mut().enumerate() {
        if item.context.is_empty() == context_set {
            return Err(LogicalError::bad_request(
                "context should be set either in all the request blocks or in none",
            ));
        }
        if errors[i].is_some() || item.context.is_empty() {
            continue;
        }
        match b64_decode(&item.context) {
            Ok(c) => item.decoded_context = c,
            Err(e) => errors[i] = Some(e),
        }
    }
    Ok(())
}

/// The batch answer's list of result maps.
fn objects(results: Vec<JsonMap>) -> Value {
    Value::Array(results.into_iter().map(Value::Object).collect())
}

async fn disable_upsert(req: &Request) -> Result<bool, LogicalError> {
    let storage = req.storage()?;
    Ok(match storage.get("config/keys").await? {
        Some(e) => serde_json::from_slice::<Value>(&e.value)
            .ok()
            .and_then(|v| v.get("disable_upsert").and_then(Value::as_bool))
            .unwrap_or(false),
        None => false,
    })
}

async fn encrypt(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?.clone();
    let name = d.get_str("name")?;
    let (mut items, is_batch) = read_items(&d, "plaintext", "missing plaintext to encrypt")?;
    let mut errors: Vec<Option<String>> = vec![None; items.len()];
    let mut plaintexts: Vec<Vec<u8>> = vec![Vec::new(); items.len()];
    let context_set = !items[0].context.is_empty();
    for (i, item) in items.iter().enumerate() {
        if item.context.is_empty() == context_set {
            return Err(LogicalError::bad_request(
                "context should be set either in all the request blocks or in none",
            ));
        }
        match b64_decode(&item.plaintext) {
            Ok(p) => plaintexts[i] = p,
            Err(e) => errors[i] = Some(e),
        }
    }
    decode_contexts(&mut items, &mut errors)?;
    let mut upsert_warning = false;
    let key = if req.operation == Operation::Create {
        let convergent = d.get_bool("convergent_encryption")?;
        if convergent && !context_set {
            return Err(LogicalError::bad_request(
                "convergent encryption requires derivation to be enabled, so context is required",
            ));
        }
        let type_name = d.get_str("type")?;
        let key_type = match KeyType::parse(&type_name) {
            Some(t) if t.is_aead() => t,
            Some(t) if t.is_ecdsa() => {
                return Err(LogicalError::bad_request(format!(
                    "key type {type_name} not supported for this operation"
                )));
            }
            _ => {
                return Err(LogicalError::bad_request(format!(
                    "unknown key type {type_name}"
                )));
            }
        };
        if disable_upsert(&req).await? {
            state.keys.get(storage.as_ref(), &name).await?
        } else {
            let new = NewKey {
                key_type: Some(key_type),
                derived: context_set,
                convergent,
                ..NewKey::default()
            };
            let existed = state
                .keys
                .update(storage.as_ref(), &name, |current| match current {
                    Some(_) => Ok((None, true)),
                    None => Ok((Some(new_policy(&name, &new)?), false)),
                })
                .await?;
            upsert_warning = existed;
            state.keys.get(storage.as_ref(), &name).await?
        }
    } else {
        state.keys.get(storage.as_ref(), &name).await?
    };
    let Some(k) = key else {
        return Err(LogicalError::bad_request("encryption key not found"));
    };
    let (mut user_err, mut internal_err, mut successes) = (false, false, false);
    let mut results = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let mut out = JsonMap::new();
        let outcome = match errors[i].take() {
            Some(e) => Err(OpError::User(e)),
            None => aad_of(&k, item, i).and_then(|aad| {
                k.encrypt(
                    item.key_version,
                    &item.decoded_context,
                    &plaintexts[i],
                    &aad,
                )
            }),
        };
        match outcome {
            Ok((ct, ver)) => {
                successes = true;
                out.insert("ciphertext".into(), Value::String(ct));
                out.insert("key_version".into(), Value::from(ver));
            }
            Err(OpError::User(e)) => {
                user_err = true;
                out.insert("error".into(), Value::String(e));
            }
            Err(OpError::Internal(e)) => {
                internal_err = true;
                out.insert("error".into(), Value::String(e));
            }
        }
        out.insert(
            "reference".into(),
            Value::String(String::from(item.reference.as_ref())),
        );
        results.push(out);
    }
    let mut resp = if is_batch {
        let mut data = JsonMap::new();
        data.insert("batch_results".into(), objects(results));
        Response::with_data(data)
    } else {
        let mut r = results.remove(0);
        if let Some(Value::String(e)) = r.remove("error") {
            return Err(if internal_err {
                LogicalError::internal(e)
            } else {
                LogicalError::bad_request(e)
            });
        }
        r.remove("reference");
        Response::with_data(r)
    };
    if upsert_warning {
        resp.warn("Attempted creation of the key during the encrypt operation, but it was created beforehand");
    }
    batch::finish(&d, resp, successes, user_err, internal_err)
}

async fn decrypt(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?;
    let name = d.get_str("name")?;
    let (mut items, is_batch) = read_items(&d, "ciphertext", "missing ciphertext to decrypt")?;
    let mut errors: Vec<Option<String>> = vec![None; items.len()];
    for (i, item) in items.iter().enumerate() {
        if item.ciphertext.is_empty() {
            errors[i] = Some("missing ciphertext to decrypt".into());
        }
    }
    decode_contexts(&mut items, &mut errors)?;
    let Some(k) = state.keys.get(storage.as_ref(), &name).await? else {
        return Err(LogicalError::bad_request("encryption key not found"));
    };
    let (mut user_err, mut internal_err, mut successes) = (false, false, false);
    let mut results = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let mut out = JsonMap::new();
        let outcome = match errors[i].take() {
            Some(e) => Err(OpError::User(e)),
            None => aad_of(&k, item, i)
                .and_then(|aad| k.decrypt(&item.decoded_context, &item.ciphertext, &aad)),
        };
        match outcome {
            Ok((plain, _)) => {
                successes = true;
                out.insert(
                    "plaintext".into(),
                    Value::String(arca_sdk::b64::encode_std(plain.as_slice())),
                );
            }
            Err(OpError::User(e)) => {
                user_err = true;
                out.insert("plaintext".into(), Value::String(String::new()));
                out.insert("error".into(), Value::String(e));
            }
            Err(OpError::Internal(e)) => {
                internal_err = true;
                out.insert("plaintext".into(), Value::String(String::new()));
                out.insert("error".into(), Value::String(e));
            }
        }
        out.insert(
            "reference".into(),
            Value::String(String::from(item.reference.as_ref())),
        );
        results.push(out);
    }
    let resp = if is_batch {
        let mut data = JsonMap::new();
        data.insert("batch_results".into(), objects(results));
        Response::with_data(data)
    } else {
        let mut r = results.remove(0);
        if let Some(Value::String(e)) = r.remove("error") {
            return Err(if internal_err {
                LogicalError::internal(e)
            } else {
                LogicalError::bad_request(e)
            });
        }
        r.remove("reference");
        Response::with_data(r)
    };
    batch::finish(&d, resp, successes, user_err, internal_err)
}

async fn rewrap(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?;
    let name = d.get_str("name")?;
    let (mut items, is_batch) = read_items(&d, "ciphertext", "missing ciphertext to decrypt")?;
    let mut errors: Vec<Option<String>> = vec![None; items.len()];
    for (i, item) in items.iter().enumerate() {
        if item.ciphertext.is_empty() {
            errors[i] = Some("missing ciphertext to decrypt".into());
        }
    }
    decode_contexts(&mut items, &mut errors)?;
    let Some(k) = state.keys.get(storage.as_ref(), &name).await? else {
        return Err(LogicalError::bad_request("encryption key not found"));
    };
    let (mut user_err, mut internal_err, mut successes) = (false, false, false);
    let mut results = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let mut out = JsonMap::new();
        let outcome = match errors[i].take() {
            Some(e) => Err(OpError::User(e)),
            None => k
                .decrypt(&item.decoded_context, &item.ciphertext, &[])
                .and_then(|(plain, _)| {
                    k.encrypt(item.key_version, &item.decoded_context, &plain, &[])
                }),
        };
        match outcome {
            Ok((ct, ver)) => {
                successes = true;
                out.insert("ciphertext".into(), Value::String(ct));
                out.insert("key_version".into(), Value::from(ver));
            }
            Err(OpError::User(e)) => {
                user_err = true;
                out.insert("error".into(), Value::String(e));
            }
            Err(OpError::Internal(e)) => {
                if !is_batch {
                    return Err(LogicalError::internal(e));
                }
                internal_err = true;
                out.insert("error".into(), Value::String(e));
            }
        }
        out.insert(
            "reference".into(),
            Value::String(String::from(item.reference.as_ref())),
        );
        results.push(out);
    }
    let resp = if is_batch {
        let mut data = JsonMap::new();
        data.insert("batch_results".into(), objects(results));
        Response::with_data(data)
    } else {
        let mut r = results.remove(0);
        if let Some(Value::String(e)) = r.remove("error") {
            return Err(LogicalError::bad_request(e));
        }
        r.remove("reference");
        Response::with_data(r)
    };
    batch::finish(&d, resp, successes, user_err, internal_err)
}

async fn datakey(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?;
    let name = d.get_str("name")?;
    let ver = d.get_i64("key_version")?;
    let with_plaintext = match d.get_str("plaintext")?.as_str() {
        "plaintext" => true,
        "wrapped" => false,
        _ => {
            return Err(LogicalError::bad_request(
                "Invalid path, must be 'plaintext' or 'wrapped'",
            ));
        }
    };
    let ctx_raw = d.get_str("context")?;
    let context = if ctx_raw.is_empty() {
        Vec::new()
    } else {
        b64_decode(&ctx_raw)
            .map_err(|_| LogicalError::bad_request("failed to base64-decode context"))?
    };
    let Some(k) = state.keys.get(storage.as_ref(), &name).await? else {
        return Err(LogicalError::bad_request("encryption key not found"));
    };
    let len = match d.get_i64("bits")? {
        512 => 64,
        256 => 32,
        128 => 16,
        _ => return Err(LogicalError::bad_request("invalid bit length")),
    };
    let new_key = crate::keyring::random_bytes(len)?;
    let aad_raw = d.get_str("associated_data")?;
    let aad = if aad_raw.is_empty() {
        Vec::new()
    } else {
        if !k.policy.key_type.is_aead() {
            return Err(LogicalError::bad_request(format!(
                "'associated_data' provided for non-AEAD cipher suite {}",
                k.policy.key_type.name()
            )));
        }
        b64_decode(&aad_raw).map_err(|e| {
            LogicalError::internal(format!(
                "unable to get associated_data/additional_data from factory[0]: {e}"
            ))
        })?
    };
    let (ct, used) = k.encrypt(ver, &context, &new_key, &aad)?;
    let mut data = JsonMap::new();
    data.insert("ciphertext".into(), json!(ct));
    data.insert(
        "key_version".into(),
        json!(if ver == 0 { used } else { ver }),
    );
    if with_plaintext {
        data.insert(
            "plaintext".into(),
            json!(STANDARD.encode(new_key.as_slice())),
        );
    }
    Ok(Some(Response::with_data(data)))
}
