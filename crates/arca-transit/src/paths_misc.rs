//! `hash/`, `random/`, `export/`, `backup/`, `restore/`, `cache-config` and `config/keys`.

use std::sync::Arc;

use arca_sdk::framework::{
    Field, FieldData, FieldType, PathDef, generic_name_regex, optional_param_regex,
};
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response, StorageEntry};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::hashing::HashAlg;
use crate::keyring::{Loaded, b64_decode, go_atoi, random_bytes};
use crate::keytype::KeyType;
use crate::lifecycle::rsa_public_pem;
use crate::policy::{EventInfo, KeyData, KeyEntry, now};
use crate::{State, op};

/// The smallest bounded cache OpenBao accepts.
const MIN_CACHE_SIZE: i64 = 10;

pub(crate) fn paths(state: &Arc<State>) -> Vec<PathDef> {
    vec![
        PathDef::new(format!("hash{}", optional_param_regex("urlalgorithm")))
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
            .field(
                Field::new("format", FieldType::String, "hex or base64")
                    .default_value(json!("hex")),
            )
            .op(Operation::Update, op(state, hash)),
        PathDef::new(format!(
            "random{}{}",
            optional_param_regex("source"),
            optional_param_regex("urlbytes")
        ))
        .field(Field::new(
            "urlbytes",
            FieldType::String,
            "Bytes in the URL",
        ))
        .field(Field::new("bytes", FieldType::Int, "Number of bytes").default_value(json!(32)))
        .field(
            Field::new("format", FieldType::String, "hex or base64").default_value(json!("base64")),
        )
        .field(
            Field::new("source", FieldType::String, "platform, seal or all")
                .default_value(json!("platform")),
        )
        .op(Operation::Update, op(state, random)),
        PathDef::new(format!(
            "export/{}/{}{}",
            generic_name_regex("type"),
            generic_name_regex("name"),
            optional_param_regex("version")
        ))
        .field(Field::new(
            "type",
            FieldType::String,
            "Kind of key to export",
        ))
        .field(Field::new("name", FieldType::String, "Name of the key"))
        .field(Field::new(
            "version",
            FieldType::String,
            "Version to export",
        ))
        .field(Field::new("format", FieldType::String, "Export format"))
        .op(Operation::Read, op(state, export)),
        PathDef::new(format!("backup/{}", generic_name_regex("name")))
            .field(Field::new("name", FieldType::String, "Name of the key"))
            .op(Operation::Read, op(state, backup)),
        PathDef::new(format!("restore{}", optional_param_regex("name")))
            .field(Field::new("backup", FieldType::String, "Backup to restore"))
            .field(Field::new("name", FieldType::String, "Name to restore as"))
            .field(Field::new(
                "force",
                FieldType::Bool,
                "Overwrite an existing key",
            ))
            .op(Operation::Update, op(state, restore)),
        PathDef::new("cache-config")
            .field(
                Field::new("size", FieldType::Int, "Cache size (0: unbounded)")
                    .default_value(json!(0)),
            )
            .op(Operation::Read, op(state, cache_read))
            .op(Operation::Update, op(state, cache_write))
            .op(Operation::Create, op(state, cache_write)),
        PathDef::new("config/keys")
            .field(Field::new(
                "disable_upsert",
                FieldType::Bool,
                "Refuse to create keys on encrypt",
            ))
            .op(Operation::Read, op(state, keys_config_read))
            .op(Operation::Update, op(state, keys_config_write)),
    ]
}

async fn hash(
    _state: Arc<State>,
    _req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let input = b64_decode(&d.get_str("input")?)
        .map_err(|e| LogicalError::bad_request(format!("unable to decode input as base64: {e}")))?;
    let mut alg_name = d.get_str("urlalgorithm")?;
    if alg_name.is_empty() {
        alg_name = d.get_str("algorithm")?;
    }
    let format = d.get_str("format")?;
    if format != "hex" && format != "base64" {
        return Err(LogicalError::bad_request(format!(
            "unsupported encoding format {format}; must be \"hex\" or \"base64\""
        )));
    }
    let sum = match HashAlg::parse(&alg_name) {
        Some(a) if a != HashAlg::None && a != HashAlg::Sha1 => a.hash(&input),
        _ => None,
    };
    let Some(sum) = sum else {
        return Err(LogicalError::bad_request(format!(
            "unsupported algorithm {alg_name}"
        )));
    };
    let out = if format == "hex" {
        hex::encode(sum)
    } else {
        STANDARD.encode(sum)
    };
    let mut data = JsonMap::new();
    data.insert("sum".into(), json!(out));
    Ok(Some(Response::with_data(data)))
}

async fn random(
    _state: Arc<State>,
    _req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let mut bytes = d.get_i64("bytes")?;
    let url_bytes = d.get_str("urlbytes")?;
    let mut source = d.get_str("source")?;
    // `random/<n>` puts the count where the source would be.
    if url_bytes.is_empty() && go_atoi(&source).is_some() {
        bytes = go_atoi(&source).unwrap_or(bytes);
        source = "platform".into();
    } else if !url_bytes.is_empty() {
        bytes = go_atoi(&url_bytes)
            .ok_or_else(|| LogicalError::bad_request(format!("error parsing url-set byte count: strconv.Atoi: parsing {url_bytes:?}: invalid syntax")))?;
    }
    if !matches!(source.as_str(), "" | "platform" | "seal" | "all") {
        return Err(LogicalError::bad_request(format!(
            "unsupported entropy source {source:?}; must be \"platform\" or \"seal\", or \"all\""
        )));
    }
    let format = d.get_str("format")?;
    if bytes < 1 {
        return Err(LogicalError::bad_request("bytes cannot be less than 1"));
    }
    if bytes > 1024 * 1024 {
        return Err(LogicalError::bad_request(format!(
            "bytes cannot be more than {}",
            1024 * 1024
        )));
    }
    let out = random_bytes(bytes as usize)?;
    let text = match format.as_str() {
        "hex" => hex::encode(out.as_slice()),
        "base64" => STANDARD.encode(out.as_slice()),
        other => {
            return Err(LogicalError::bad_request(format!(
                "unsupported encoding format {other}; must be \"hex\" or \"base64\""
            )));
        }
    };
    let mut data = JsonMap::new();
    data.insert("random_bytes".into(), json!(text));
    Ok(Some(Response::with_data(data)))
}

fn export_one(k: &Loaded, e: &KeyEntry, kind: &str, format: &str) -> Result<String, LogicalError> {
    let t = k.policy.key_type;
    let unsupported = || {
        LogicalError::invalid_input(format!(
            "unknown key type {} for export type {kind}",
            t.name()
        ))
    };
    let der_or_pem = |label: &str, der: &[u8], trim: bool| -> String {
        if format == "der" {
            STANDARD.encode(der)
        } else {
            let p = crate::der::pem(label, der);
            if trim { p.trim().to_string() } else { p }
        }
    };
    match kind {
        "hmac-key" => {
            if format == "der" || format == "pem" {
                return Err(LogicalError::invalid_input(
                    "unknown format for HMAC key; supported values are `` or `raw`",
                ));
            }
            let src = if t == KeyType::Hmac {
                &e.key
            } else {
                &e.hmac_key
            };
            Ok(src
                .as_ref()
                .map(|k| STANDARD.encode(k.as_slice()))
                .unwrap_or_default())
        }
        "encryption-key" if t.is_aead() => {
            if format == "der" || format == "pem" {
                return Err(LogicalError::invalid_input(
                    "unknown format for HMAC key; supported values are `` or `raw`",
                ));
            }
            Ok(e.key
                .as_ref()
                .map(|k| STANDARD.encode(k.as_slice()))
                .unwrap_or_default())
        }
        "encryption-key" | "signing-key" if t.is_rsa() => {
            if format == "raw" {
                return Err(LogicalError::invalid_input(
                    "unknown key format for rsa key; supported values are ``, `der`, or `pem`",
                ));
            }
            let Some(r) = e.rsa_key.as_ref() else {
                return Ok(String::new());
            };
            let pkcs1 = crate::keyring::rsa_private_der(r);
            if format.is_empty() {
                Ok(crate::der::pem("RSA PRIVATE KEY", &pkcs1))
            } else {
                Err(LogicalError::bad_request(
                    "PKCS#8 export of RSA keys is not supported by Arca; use the default format",
                ))
            }
        }
        "signing-key" if t == KeyType::Ed25519 => {
            let Some(key) = e.key.as_ref().filter(|k| !k.is_empty()) else {
                return Ok(String::new());
            };
            if format.is_empty() || format == "raw" {
                Ok(STANDARD.encode(key.as_slice()))
            } else {
                Err(LogicalError::bad_request(
                    "PKCS#8 export of Ed25519 keys is not supported by Arca; use the default format",
                ))
            }
        }
        "signing-key" if t.is_ecdsa() => {
            if format == "raw" {
                return Err(LogicalError::invalid_input(
                    "unknown key format for ec key; supported values are ``, `der`, or `pem`",
                ));
            }
            if e.ec_d.is_none() {
                return Ok(String::new());
            }
            if !format.is_empty() {
                return Err(LogicalError::bad_request(
                    "PKCS#8 export of EC keys is not supported by Arca; use the default format",
                ));
            }
            let ver = k
                .policy
                .keys
                .iter()
                .find(|(_, v)| std::ptr::eq(*v, e))
                .and_then(|(v, _)| v.parse().ok())
                .unwrap_or(0);
            let der = k.ec_private_der(ver)?;
            Ok(crate::der::pem("EC PRIVATE KEY", &der).trim().to_string())
        }
        "public-key" if t.is_ecdsa() => {
            if format == "raw" {
                return Err(LogicalError::invalid_input(
                    "unknown key format for ec key; supported values are ``, `der`, or `pem`",
                ));
            }
            let (_, der) = crate::der::pem_decode(&e.public_key).ok_or_else(unsupported)?;
            Ok(der_or_pem("PUBLIC KEY", &der, true))
        }
        "public-key" if t == KeyType::Ed25519 => {
            if format.is_empty() || format == "raw" {
                Ok(e.public_key.clone())
            } else {
                let raw = STANDARD
                    .decode(e.public_key.as_bytes())
                    .map_err(LogicalError::internal)?;
                let mut spki = vec![
                    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
                ];
                spki.extend_from_slice(&raw);
                Ok(der_or_pem("PUBLIC KEY", &spki, true))
            }
        }
        "public-key" if t.is_rsa() => {
            if format == "raw" {
                return Err(LogicalError::invalid_input(
                    "unknown key format for rsa key; supported values are ``, `der`, or `pem`",
                ));
            }
            let pem = rsa_public_pem(e);
            if format == "der" {
                let (_, der) = crate::der::pem_decode(&pem).ok_or_else(unsupported)?;
                Ok(STANDARD.encode(der))
            } else {
                Ok(pem)
            }
        }
        "certificate-chain" => match &e.certificate_chain {
            None => Err(LogicalError::invalid_input(
                "selected key version does not have a certificate chain imported",
            )),
            Some(c) => Ok(c
                .iter()
                .map(|d| crate::der::pem("CERTIFICATE", d).trim().to_string())
                .collect::<Vec<_>>()
                .join("\n")),
        },
        _ => Err(unsupported()),
    }
}

async fn export(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?;
    let kind = d.get_str("type")?;
    let name = d.get_str("name")?;
    let version = d.get_str("version")?;
    let format = d.get_str("format")?;
    if !matches!(
        kind.as_str(),
        "encryption-key" | "signing-key" | "hmac-key" | "public-key" | "certificate-chain"
    ) {
        return Err(LogicalError::bad_request(format!(
            "invalid export type: {kind}"
        )));
    }
    if !matches!(format.as_str(), "" | "raw" | "der" | "pem") {
        return Err(LogicalError::bad_request(format!(
            "invalid format: {format}"
        )));
    }
    let Some(k) = state.keys.get(storage.as_ref(), &name).await? else {
        return Ok(None);
    };
    let p = &k.policy;
    if !p.exportable && kind != "public-key" && kind != "certificate-chain" {
        return Err(LogicalError::bad_request(
            "private key material is not exportable",
        ));
    }
    if p.soft_deleted {
        return Err(LogicalError::invalid_input(
            "refusing to use soft-deleted key",
        ));
    }
    match kind.as_str() {
        "encryption-key" if !p.key_type.encryption_supported() => {
            return Err(LogicalError::bad_request(
                "encryption not supported for the key",
            ));
        }
        "signing-key" if !p.key_type.signing_supported() => {
            return Err(LogicalError::bad_request(
                "signing not supported for the key",
            ));
        }
        "certificate-chain" if !p.key_type.signing_supported() => {
            return Err(LogicalError::bad_request(
                "certificate chain not supported for keys that do not support signing",
            ));
        }
        _ => {}
    }
    let mut keys = JsonMap::new();
    if version.is_empty() {
        for (v, e) in &p.keys {
            keys.insert(v.clone(), json!(export_one(&k, e, &kind, &format)?));
        }
    } else {
        let ver = if version == "latest" {
            p.latest_version
        } else {
            go_atoi(version.strip_prefix('v').unwrap_or(&version))
                .ok_or_else(|| LogicalError::bad_request("invalid key version"))?
        };
        if ver < p.min_decryption_version {
            return Err(LogicalError::bad_request(
                "version for export is below minimum decryption version",
            ));
        }
        let Some(e) = p.entry(ver) else {
            return Err(LogicalError::bad_request(
                "version does not exist or cannot be found",
            ));
        };
        keys.insert(ver.to_string(), json!(export_one(&k, e, &kind, &format)?));
    }
    let mut data = JsonMap::new();
    data.insert("name".into(), json!(p.name));
    data.insert("type".into(), json!(p.key_type.name()));
    data.insert("keys".into(), Value::Object(keys));
    Ok(Some(Response::with_data(data)))
}

async fn backup(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?.clone();
    let name = d.get_str("name")?;
    let policy = state
        .keys
        .update(storage.as_ref(), &name, |current| {
            let Some(mut p) = current else {
                return Err(LogicalError::invalid_input(format!(
                    "key {name:?} not found"
                )));
            };
            if p.soft_deleted {
                return Err(LogicalError::bad_request(
                    "refusing to use soft-deleted key",
                ));
            }
            if !p.exportable {
                return Err(LogicalError::invalid_input(
                    "exporting is disallowed on the policy",
                ));
            }
            if !p.allow_plaintext_backup {
                return Err(LogicalError::invalid_input(
                    "plaintext backup is disallowed on the policy",
                ));
            }
            let (time, _) = now();
            p.backup_info = Some(EventInfo {
                time,
                version: p.latest_version,
            });
            Ok((Some(p.clone()), p))
        })
        .await?;
    let archive = state.keys.archive(storage.as_ref(), &name).await?;
    // The policy as persisted (persist moves versions); re-read so the backup holds exactly
    // what is stored.
    let stored = match storage.get(&crate::store::policy_key(&name)).await? {
        Some(e) => serde_json::from_slice(&e.value).map_err(LogicalError::internal)?,
        None => policy,
    };
    let data = KeyData {
        policy: stored,
        archived_keys: archive,
    };
    let json = zeroize::Zeroizing::new(serde_json::to_vec(&data).map_err(LogicalError::internal)?);
    let mut out = JsonMap::new();
    out.insert("backup".into(), json!(STANDARD.encode(json.as_slice())));
    Ok(Some(Response::with_data(out)))
}

async fn restore(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?;
    let raw = d.get_str("backup")?;
    let force = d.get_bool("force")?;
    if raw.is_empty() {
        return Err(LogicalError::bad_request("'backup' must be supplied"));
    }
    let name = d.get_str("name")?;
    if name.contains('/') {
        return Err(LogicalError::invalid_input(
            "key name contains invalid characters",
        ));
    }
    let bytes = zeroize::Zeroizing::new(b64_decode(&raw).map_err(LogicalError::invalid_input)?);
    let mut data: KeyData = serde_json::from_slice(&bytes).map_err(LogicalError::invalid_input)?;
    if !name.is_empty() {
        data.policy.name = name;
    }
    let name = data.policy.name.clone();
    if name.is_empty() || name.contains('/') {
        return Err(LogicalError::invalid_input(
            "key name contains invalid characters",
        ));
    }
    let (time, _) = now();
    data.policy.restore_info = Some(EventInfo {
        time,
        version: data.policy.latest_version,
    });
    state
        .keys
        .restore(
            storage.as_ref(),
            &name,
            data.policy,
            data.archived_keys,
            force,
        )
        .await?;
    Ok(None)
}

async fn cache_write(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?;
    let size = d.get_i64("size")?;
    if size != 0 && size < MIN_CACHE_SIZE {
        return Err(LogicalError::bad_request(format!(
            "size must be 0 or a value greater or equal to {MIN_CACHE_SIZE}"
        )));
    }
    let bytes = serde_json::to_vec(&json!({"size": size})).map_err(LogicalError::internal)?;
    storage
        .put(StorageEntry::new("config/cache", bytes))
        .await?;
    state.keys.set_cache_size(size as usize);
    let mut data = JsonMap::new();
    data.insert("size".into(), json!(size));
    Ok(Some(Response::with_data(data)))
}

async fn cache_read(
    state: Arc<State>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?;
    let size = crate::stored_cache_size(storage.as_ref()).await?;
    if size != state.keys.cache_size() {
        state.keys.set_cache_size(size);
    }
    let mut data = JsonMap::new();
    data.insert("size".into(), json!(size));
    Ok(Some(Response::with_data(data)))
}

async fn keys_config_write(
    _state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?;
    let disable = d.get_bool("disable_upsert")?;
    let bytes =
        serde_json::to_vec(&json!({"disable_upsert": disable})).map_err(LogicalError::internal)?;
    storage.put(StorageEntry::new("config/keys", bytes)).await?;
    let mut data = JsonMap::new();
    data.insert("disable_upsert".into(), json!(disable));
    Ok(Some(Response::with_data(data)))
}

async fn keys_config_read(
    _state: Arc<State>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?;
    let disable = match storage.get("config/keys").await? {
        Some(e) => serde_json::from_slice::<Value>(&e.value)
            .ok()
            .and_then(|v| v.get("disable_upsert").and_then(Value::as_bool))
            .unwrap_or(false),
        None => false,
    };
    let mut data = JsonMap::new();
    data.insert("disable_upsert".into(), json!(disable));
    Ok(Some(Response::with_data(data)))
}
