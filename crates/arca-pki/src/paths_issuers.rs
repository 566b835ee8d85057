//! Managing issuers and keys: `issuers`, `issuer/<ref>` (and its `json`/`der`/`pem`),
//! `config/issuers`, `keys`, `key/<ref>`, `keys/generate/*`, `keys/import`, `config/keys`.

use std::sync::Arc;

use arca_sdk::framework::{Field, FieldData, FieldType, PathDef, generic_name_regex};
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response};
use serde_json::{Value, json};

use crate::config::UrlsConfig;
use crate::issuers::{self, ALL_USAGES};
use crate::keys::{self, KeyEntry, KeySpec};
use crate::{State, data, list, op, raw, storage, x509};

pub(crate) fn paths(state: &Arc<State>) -> Vec<PathDef> {
    let iref = generic_name_regex("issuer_ref");
    let kref = generic_name_regex("key_ref");
    let s = |n: &str| Field::new(n, FieldType::String, n.replace('_', " "));
    vec![
        PathDef::new("issuers/?").op(Operation::List, op(state, list_issuers)),
        // Unnamed alternatives: one OpenAPI path each, as OpenBao's.
        PathDef::new(format!("issuer/{iref}/(json|der|pem)"))
            .field(s("issuer_ref"))
            .op(Operation::Read, op(state, fetch_issuer)),
        PathDef::new(format!("issuer/{iref}"))
            .field(s("issuer_ref"))
            .field(s("issuer_name"))
            .field(s("leaf_not_after_behavior"))
            .field(Field::new("usage", FieldType::CommaStringSlice, "usages"))
            .field(Field::new(
                "manual_chain",
                FieldType::CommaStringSlice,
                "chain",
            ))
            .field(s("revocation_signature_algorithm"))
            .field(Field::new(
                "issuing_certificates",
                FieldType::CommaStringSlice,
                "AIA",
            ))
            .field(Field::new(
                "crl_distribution_points",
                FieldType::CommaStringSlice,
                "CDP",
            ))
            .field(Field::new(
                "delta_crl_distribution_points",
                FieldType::CommaStringSlice,
                "delta CDP",
            ))
            .field(Field::new(
                "ocsp_servers",
                FieldType::CommaStringSlice,
                "OCSP",
            ))
            .field(Field::new(
                "enable_aia_url_templating",
                FieldType::Bool,
                "templating",
            ))
            .op(Operation::Read, op(state, read_issuer))
            .op(Operation::Update, op(state, update_issuer))
            .op(Operation::Patch, op(state, update_issuer))
            .op(Operation::Delete, op(state, delete_issuer)),
        PathDef::new("config/issuers")
            .field(s("default"))
            .field(Field::new(
                "default_follows_latest_issuer",
                FieldType::Bool,
                "follow",
            ))
            .op(Operation::Read, op(state, read_issuer_defaults))
            .op(Operation::Update, op(state, write_issuer_defaults)),
        PathDef::new("keys/?").op(Operation::List, op(state, list_keys)),
        PathDef::new(format!("key/{kref}"))
            .field(s("key_ref"))
            .field(s("key_name"))
            .op(Operation::Read, op(state, read_key))
            .op(Operation::Update, op(state, update_key))
            .op(Operation::Delete, op(state, delete_key)),
        PathDef::new(r"keys/generate/(internal|exported|kms)")
            .field(s("key_name"))
            .field(Field::new("key_type", FieldType::String, "type").default_value(json!("rsa")))
            .field(Field::new("key_bits", FieldType::Int, "bits").default_value(json!(0)))
            .field(s("managed_key_name"))
            .field(s("managed_key_id"))
            .op(Operation::Update, op(state, generate_key)),
        PathDef::new("keys/import")
            .field(s("key_name"))
            .field(s("pem_bundle"))
            .op(Operation::Update, op(state, import_key)),
        PathDef::new("config/keys")
            .field(s("default"))
            .op(Operation::Read, op(state, read_key_defaults))
            .op(Operation::Update, op(state, write_key_defaults)),
    ]
}

async fn list_issuers(
    _state: Arc<State>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let default = issuers::issuer_defaults(s.as_ref()).await?.default;
    let mut ids = Vec::new();
    let mut info = JsonMap::new();
    for i in issuers::all_issuers(s.as_ref()).await? {
        info.insert(
            i.id.clone(),
            json!({
                "is_default": i.id == default,
                "issuer_name": i.name,
                "key_id": i.key_id,
                "serial_number": i.serial_number,
            }),
        );
        ids.push(i.id);
    }
    ids.sort();
    Ok(list(ids, Some(info)))
}

async fn fetch_issuer(
    _state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let i = issuers::load_issuer(s.as_ref(), &d.get_str("issuer_ref")?).await?;
    match crate::last_segment(&req.path) {
        "der" => Ok(raw("application/pkix-cert", i.cert_der()?)),
        "pem" => Ok(raw(
            "application/pem-certificate-chain",
            format!("{}\n", i.certificate).into_bytes(),
        )),
        _ => Ok(data(json!({
            "issuer_id": i.id,
            "issuer_name": i.name,
            "certificate": i.certificate,
            "ca_chain": i.ca_chain,
        }))),
    }
}

async fn read_issuer(
    _state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let i = issuers::load_issuer(s.as_ref(), &d.get_str("issuer_ref")?).await?;
    let urls = UrlsConfig::default();
    Ok(data(i.to_json(&urls)))
}

async fn update_issuer(
    _state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let mut i = issuers::load_issuer(s.as_ref(), &d.get_str("issuer_ref")?).await?;
    let patch = req.operation == Operation::Patch;
    if !patch || d.is_set("issuer_name") {
        let name = d.get_str("issuer_name")?;
        issuers::check_name(&name, "issuer")?;
        if !name.is_empty() && name != i.name {
            for other in issuers::all_issuers(s.as_ref()).await? {
                if other.name == name && other.id != i.id {
                    return Err(LogicalError::bad_request("issuer name already in use"));
                }
            }
        }
        i.name = name;
    }
    if !patch || d.is_set("leaf_not_after_behavior") {
        let b = d.get_str("leaf_not_after_behavior")?;
        let b = if b.is_empty() { "err".to_string() } else { b };
        if !matches!(b.as_str(), "err" | "truncate" | "permit") {
            return Err(LogicalError::bad_request(format!(
                "Unknown value for field `leaf_not_after_behavior`. Possible values are `err`, `truncate`, and `permit`, but got: {b}"
            )));
        }
        i.leaf_not_after_behavior = b;
    }
    if !patch || d.is_set("usage") {
        let given = d.get_strings("usage")?;
        let mut usage: Vec<String> = if d.is_set("usage") {
            given
        } else {
            ALL_USAGES.iter().map(|s| s.to_string()).collect()
        };
        for u in &mut usage {
            *u = u.trim().to_ascii_lowercase();
            if !ALL_USAGES.contains(&u.as_str()) {
                return Err(LogicalError::bad_request(format!(
                    "Unable to parse specified usages: unknown usage: {u}"
                )));
            }
        }
        usage.sort();
        usage.dedup();
        i.usage = usage;
    }
    if !patch || d.is_set("revocation_signature_algorithm") {
        i.revocation_signature_algorithm = d.get_str("revocation_signature_algorithm")?;
    }
    if d.is_set("manual_chain") {
        let refs = d.get_strings("manual_chain")?;
        if refs.is_empty() || (refs.len() == 1 && refs[0] == "default") {
            i.manual_chain = None;
        } else {
            let mut ids = Vec::new();
            for r in refs {
                if r == "self" {
                    ids.push(i.id.clone());
                } else {
                    ids.push(issuers::resolve_issuer(s.as_ref(), &r).await?);
                }
            }
            if ids.first() != Some(&i.id) {
                return Err(LogicalError::bad_request(
                    "expected manual chain to start with this issuer",
                ));
            }
            i.manual_chain = Some(ids);
        }
    }
    issuers::put_issuer(s.as_ref(), &i).await?;
    issuers::rebuild_chains(s.as_ref()).await?;
    let i = issuers::load_issuer(s.as_ref(), &i.id).await?;
    Ok(data(i.to_json(&UrlsConfig::default())))
}

async fn delete_issuer(
    _state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let Ok(id) = issuers::resolve_issuer(s.as_ref(), &d.get_str("issuer_ref")?).await else {
        return Ok(None);
    };
    s.delete(&format!("config/issuer/{id}")).await?;
    s.delete(&format!("crls/{id}")).await?;
    let mut resp = Response::default();
    let mut cfg = issuers::issuer_defaults(s.as_ref()).await?;
    if cfg.default == id {
        cfg.default = String::new();
        issuers::put_json(s.as_ref(), "config/issuers", &cfg).await?;
        resp.warn("Deleted issuer was the default issuer; a new default issuer has not been set.");
    }
    issuers::rebuild_chains(s.as_ref()).await?;
    if resp.warnings.is_empty() {
        return Ok(None);
    }
    Ok(Some(resp))
}

async fn read_issuer_defaults(
    _state: Arc<State>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let cfg = issuers::issuer_defaults(s.as_ref()).await?;
    Ok(data(json!({
        "default": cfg.default,
        "default_follows_latest_issuer": cfg.default_follows_latest_issuer,
    })))
}

async fn write_issuer_defaults(
    _state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let mut cfg = issuers::issuer_defaults(s.as_ref()).await?;
    if d.is_set("default") {
        let r = d.get_str("default")?;
        cfg.default = issuers::resolve_issuer(s.as_ref(), &r).await.map_err(|e| {
            LogicalError::bad_request(format!("Error resolving issuer reference: {e}"))
        })?;
    }
    if d.is_set("default_follows_latest_issuer") {
        cfg.default_follows_latest_issuer = d.get_bool("default_follows_latest_issuer")?;
    }
    issuers::put_json(s.as_ref(), "config/issuers", &cfg).await?;
    Ok(data(json!({
        "default": cfg.default,
        "default_follows_latest_issuer": cfg.default_follows_latest_issuer,
    })))
}

async fn list_keys(
    _state: Arc<State>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let default = issuers::key_defaults(s.as_ref()).await?.default;
    let mut ids = Vec::new();
    let mut info = JsonMap::new();
    for id in issuers::key_ids(s.as_ref()).await? {
        if let Some(k) = issuers::get_key(s.as_ref(), &id).await? {
            info.insert(
                k.id.clone(),
                json!({"is_default": k.id == default, "key_name": k.name}),
            );
            ids.push(k.id);
        }
    }
    Ok(list(ids, Some(info)))
}

fn key_json(k: &KeyEntry) -> Value {
    let skid = k
        .key_pair(0)
        .map(|kp| x509::serial_colons_raw(&crate::issuing::key_id(kp.public_key_raw())))
        .unwrap_or_default();
    json!({
        "key_id": k.id,
        "key_name": k.name,
        "key_type": k.private_key_type,
        "subject_key_id": skid,
    })
}

async fn read_key(
    _state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let id = issuers::resolve_key(s.as_ref(), &d.get_str("key_ref")?).await?;
    let k = issuers::get_key(s.as_ref(), &id)
        .await?
        .ok_or_else(LogicalError::empty_not_found)?;
    Ok(data(key_json(&k)))
}

async fn update_key(
    _state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let id = issuers::resolve_key(s.as_ref(), &d.get_str("key_ref")?).await?;
    let mut k = issuers::get_key(s.as_ref(), &id)
        .await?
        .ok_or_else(LogicalError::empty_not_found)?;
    let name = d.get_str("key_name")?;
    issuers::check_name(&name, "key")?;
    k.name = name;
    issuers::put_key(s.as_ref(), &k).await?;
    let mut v = key_json(&k);
    if let Value::Object(m) = &mut v {
        m.remove("subject_key_id");
    }
    Ok(data(v))
}

async fn delete_key(
    _state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let Ok(id) = issuers::resolve_key(s.as_ref(), &d.get_str("key_ref")?).await else {
        return Ok(None);
    };
    for i in issuers::all_issuers(s.as_ref()).await? {
        if i.key_id == id {
            return Err(LogicalError::bad_request(format!(
                "unable to delete key as it is in use by an issuer: {}",
                i.id
            )));
        }
    }
    s.delete(&format!("config/key/{id}")).await?;
    let mut cfg = issuers::key_defaults(s.as_ref()).await?;
    if cfg.default == id {
        cfg.default = String::new();
        issuers::put_json(s.as_ref(), "config/keys", &cfg).await?;
    }
    Ok(None)
}

async fn generate_key(
    _state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let kind = crate::last_segment(&req.path);
    if kind == "kms" {
        return Err(LogicalError::bad_request("managed keys are not supported"));
    }
    let name = d.get_str("key_name")?;
    issuers::check_name(&name, "key")?;
    let spec = KeySpec::parse(&d.get_str("key_type")?, d.get_i64("key_bits")?)?;
    let kp = keys::generate(spec).await?;
    let entry = KeyEntry::new(&kp, &name)?;
    let (id, _) = issuers::import_key(s.as_ref(), entry).await?;
    let mut m = JsonMap::new();
    m.insert("key_id".into(), json!(id));
    m.insert("key_name".into(), json!(name));
    m.insert("key_type".into(), json!(spec.type_name()));
    if kind == "exported" {
        m.insert(
            "private_key".into(),
            json!(keys::export_private(&kp, "der")),
        );
    }
    Ok(Some(Response::with_data(m)))
}

async fn import_key(
    _state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let name = d.get_str("key_name")?;
    issuers::check_name(&name, "key")?;
    let pems = x509::pem_keys(&d.get_str("pem_bundle")?)?;
    if pems.len() != 1 {
        return Err(LogicalError::bad_request(
            "only a single private key can be present within the pem_bundle for importing",
        ));
    }
    let kp = keys::load(&pems[0], 0)?;
    let entry = KeyEntry::new(&kp, &name)?;
    let (id, new) = issuers::import_key(s.as_ref(), entry).await?;
    let k = issuers::get_key(s.as_ref(), &id)
        .await?
        .ok_or_else(|| LogicalError::internal("key vanished"))?;
    let mut resp = Response::with_data(match key_json(&k) {
        Value::Object(mut m) => {
            m.remove("subject_key_id");
            m
        }
        _ => JsonMap::new(),
    });
    if !new {
        resp.warn("Key already imported, use key/ endpoint to update name.");
    }
    Ok(Some(resp))
}

async fn read_key_defaults(
    _state: Arc<State>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let cfg = issuers::key_defaults(s.as_ref()).await?;
    Ok(data(json!({"default": cfg.default})))
}

async fn write_key_defaults(
    _state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let r = d.get_str("default")?;
    let id = issuers::resolve_key(s.as_ref(), &r)
        .await
        .map_err(|e| LogicalError::bad_request(format!("Error resolving issuer reference: {e}")))?;
    let mut cfg = issuers::key_defaults(s.as_ref()).await?;
    cfg.default = id;
    issuers::put_json(s.as_ref(), "config/keys", &cfg).await?;
    Ok(data(json!({"default": cfg.default})))
}
