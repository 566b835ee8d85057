//! The system backend (`sys/`): a typed model of every endpoint, parsed from operation and
//! path before anything runs, then served by the core.

mod audit;
mod config_http;
mod endpoint;
mod health;
mod introspection;
mod leases;
mod locked_users;
mod metrics;
mod mounts;
mod namespaces;
mod openapi;
mod password;
mod paths;

pub(crate) use self::namespaces::resume_deletions as resume_namespace_deletions;
mod plugins;
mod policy;
mod quotas;
mod tools;
mod wrapping;

pub(crate) use endpoint::Endpoint;

use std::sync::{Arc, Weak};

use arca_sdk::framework::convert_field;
use arca_sdk::{
    Backend, BackendType, ExistenceCheck, JsonMap, LogicalError, Operation, Request, Response,
    SpecialPaths,
};
use async_trait::async_trait;
use serde_json::{Value, json};

use crate::audit::AuditBroker;
use crate::catalog::Catalog;
use crate::leases::ExpirationManager;
use crate::lockout::Lockout;
use crate::mount_store::MountStore;
use crate::namespace_seals::NamespaceSeals;
use crate::namespaces::{Namespace, NamespaceStore};
use crate::policy_store::PolicyStore;
use crate::reload::ReloadLog;
use crate::seal_ops::{Lifecycle, Seal, decode_key};
use crate::token_store::TokenStore;
use crate::wrapping::Wrapping;

/// The subsystems the `sys/` endpoints serve. The mount table is held weakly: it owns the
/// route that owns this backend.
#[derive(Clone)]
pub(crate) struct SystemDeps {
    /// Seal state: key status, rotate, rekey, generate-root.
    pub(crate) seal: Arc<Seal>,
    /// `sys/mounts`, `sys/auth`, `sys/remount`, `sys/internal/ui/mounts`.
    pub(crate) mounts: Weak<MountStore>,
    /// Capabilities and generate-root's new root token.
    pub(crate) tokens: Arc<TokenStore>,
    /// `sys/policy`, `sys/policies/acl`, capabilities.
    pub(crate) policies: Arc<PolicyStore>,
    /// `sys/plugins/catalog`.
    pub(crate) catalog: Arc<Catalog>,
    /// `sys/plugins/reload`.
    pub(crate) reloads: Arc<ReloadLog>,
    /// `sys/leases/*`, and the revocation of a mount's leases when it is disabled.
    pub(crate) leases: Arc<ExpirationManager>,
    /// `sys/wrapping/*`.
    pub(crate) wrapping: Arc<Wrapping>,
    /// `sys/audit*`, `sys/config/auditing/*`.
    pub(crate) audit: Arc<AuditBroker>,
    /// `sys/namespaces*`; every endpoint answers for the request's namespace.
    pub(crate) namespaces: Arc<NamespaceStore>,
    /// `sys/namespaces/<p>/seal|unseal|seal-status`.
    pub(crate) seals: Arc<NamespaceSeals>,
    /// `sys/locked-users*`.
    pub(crate) lockout: Arc<Lockout>,
    /// The identity store: a token's entity's policies join its own in ACL checks.
    pub(crate) identity: Arc<crate::identity::IdentityStore>,
    /// `sys/policies/password/*`.
    pub(crate) password_policies: Arc<crate::password_policies::PasswordPolicies>,
    /// `sys/leader`, `sys/ha-status`, `sys/step-down`: the HA election, when clustered.
    pub(crate) ha: Option<Arc<crate::ha::Ha>>,
    /// `sys/storage/raft/*`: integrated storage's administration, when it is the storage.
    pub(crate) storage_admin: Option<Arc<dyn crate::ha::StorageAdmin>>,
    /// The server around the core: its config, loggers and in-flight requests.
    pub(crate) server_info: Option<Arc<dyn crate::server_info::ServerInfo>>,
    /// `sys/quotas/*`.
    pub(crate) quotas: Arc<crate::quotas::Quotas>,
    /// `sys/metrics`.
    pub(crate) metrics: crate::metrics::Metrics,
    /// `sys/config/cors`, `sys/config/ui/headers*`.
    pub(crate) http_config: Arc<crate::http_config::HttpConfig>,
}

/// The `sys/` backend.
pub(crate) struct SystemBackend {
    deps: SystemDeps,
}

impl SystemBackend {
    pub(crate) fn new(deps: SystemDeps) -> SystemBackend {
        SystemBackend { deps }
    }

    /// The namespace the request runs in.
    fn namespace(&self, req: &Request) -> Result<Arc<Namespace>, LogicalError> {
        if req.namespace_id.is_empty() {
            return Ok(self.deps.namespaces.root());
        }
        self.deps
            .namespaces
            .by_id(&req.namespace_id)
            .ok_or_else(|| LogicalError::not_found("namespace not found"))
    }

    fn mounts(&self) -> Result<Arc<MountStore>, LogicalError> {
        self.deps
            .mounts
            .upgrade()
            .ok_or_else(|| LogicalError::internal("core is gone"))
    }
}

/// A response whose data Vault also copies to the top level of the envelope.
pub(crate) fn legacy(data: Value) -> Result<Option<Response>, LogicalError> {
    let Value::Object(map) = data else {
        return Err(LogicalError::internal("response is not an object"));
    };
    let mut r = Response::with_data(map);
    r.top_level_data = true;
    Ok(Some(r))
}

/// A plain response.
pub(crate) fn data(data: Value) -> Result<Option<Response>, LogicalError> {
    let Value::Object(map) = data else {
        return Err(LogicalError::internal("response is not an object"));
    };
    Ok(Some(Response::with_data(map)))
}

/// A raw JSON answer with a status code (the unauthenticated endpoints answer without the
/// envelope, as Vault's do).
/// Anything that serializes: a JSON value, or a borrowed struct (no JSON tree built first).
pub(crate) fn raw_json<T: serde::Serialize + ?Sized>(
    status: u16,
    v: &T,
) -> Result<Option<Response>, LogicalError> {
    let body = serde_json::to_vec(v).map_err(LogicalError::internal)?;
    Ok(Some(Response {
        raw: Some(arca_sdk::RawHttp {
            status,
            content_type: "application/json".into(),
            body,
            stream: None,
        }),
        ..Response::default()
    }))
}

pub(crate) fn str_field(d: &JsonMap, k: &str) -> Option<String> {
    match d.get(k) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    }
}

pub(crate) fn bool_field(d: &JsonMap, k: &str) -> Result<bool, LogicalError> {
    match d.get(k) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) => match s.as_str() {
            "true" | "1" | "t" | "T" | "TRUE" | "True" => Ok(true),
            "false" | "0" | "f" | "F" | "FALSE" | "False" | "" => Ok(false),
            _ => Err(LogicalError::bad_request(format!(
                "{k:?} must be a boolean"
            ))),
        },
        Some(Value::Number(n)) => Ok(n.as_f64().unwrap_or(0.0) != 0.0),
        _ => Err(LogicalError::bad_request(format!(
            "{k:?} must be a boolean"
        ))),
    }
}

pub(crate) fn uint_field(d: &JsonMap, k: &str) -> Result<Option<usize>, LogicalError> {
    match d.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(|v| Some(v as usize)).ok_or_else(|| {
            LogicalError::bad_request(format!("{k:?} must be a non-negative integer"))
        }),
        Some(Value::String(s)) => s.trim().parse::<usize>().map(Some).map_err(|_| {
            LogicalError::bad_request(format!("{k:?} must be a non-negative integer"))
        }),
        _ => Err(LogicalError::bad_request(format!(
            "{k:?} must be a non-negative integer"
        ))),
    }
}

/// The Go type a field of a raw endpoint's request struct has.
#[derive(Clone, Copy)]
pub(crate) enum GoJson {
    /// `int`.
    Int,
    /// `bool`.
    Bool,
    /// `string`.
    String,
    /// `[]string`.
    Strings,
}

/// Go's `encoding/json` name for the kind of a JSON value.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    }
}

/// Checks `d` as Go's `encoding/json` decodes it into the request struct `what` of an
/// endpoint Vault serves outside its logical router (init, unseal, `rekey/*`): a declared
/// field of the wrong JSON type is refused with Vault's 400 `failed to decode JSON input: json:
/// cannot unmarshal ...`, nothing is converted, unknown fields are ignored silently.
pub(crate) fn decode_strict(
    d: &JsonMap,
    what: &str,
    fields: &[(&str, GoJson)],
) -> Result<(), LogicalError> {
    let refuse = |text: String| {
        Err(LogicalError::bad_request(format!(
            "failed to decode JSON input: json: cannot unmarshal {text}"
        )))
    };
    for (name, v) in d {
        let Some((_, kind)) = fields.iter().find(|(n, _)| n == name) else {
            continue;
        };
        let go_type = match (kind, v) {
            (_, Value::Null) | (GoJson::Bool, Value::Bool(_)) => continue,
            (GoJson::String, Value::String(_)) => continue,
            (GoJson::Int, Value::Number(n)) if n.as_i64().is_some() => continue,
            (GoJson::Int, Value::Number(n)) => {
                let text = arca_sdk::number::number_text(n);
                return refuse(format!(
                    "number {text} into Go struct field {what}.{name} of type int"
                ));
            }
            (GoJson::Strings, Value::Array(items)) => {
                match items
                    .iter()
                    .enumerate()
                    .find(|(_, i)| !matches!(i, Value::String(_) | Value::Null))
                {
                    Some((i, item)) => {
                        return refuse(format!(
                            "{} into {what}.{name}.{i} of type string",
                            json_kind(item)
                        ));
                    }
                    None => continue,
                }
            }
            (GoJson::Int, _) => "int",
            (GoJson::Bool, _) => "bool",
            (GoJson::String, _) => "string",
            (GoJson::Strings, _) => "[]string",
        };
        return refuse(format!(
            "{} into Go struct field {what}.{name} of type {go_type}",
            json_kind(v)
        ));
    }
    Ok(())
}

/// Vault's `InitRequest`.
const INIT_REQUEST: &[(&str, GoJson)] = &[
    ("secret_shares", GoJson::Int),
    ("secret_threshold", GoJson::Int),
    ("pgp_keys", GoJson::Strings),
    ("recovery_shares", GoJson::Int),
    ("recovery_threshold", GoJson::Int),
    ("recovery_pgp_keys", GoJson::Strings),
    ("root_token_pgp_key", GoJson::String),
];
/// Vault's `UnsealRequest`.
const UNSEAL_REQUEST: &[(&str, GoJson)] = &[
    ("key", GoJson::String),
    ("reset", GoJson::Bool),
    ("migrate", GoJson::Bool),
];
/// Vault's `RekeyRequest`.
const REKEY_REQUEST: &[(&str, GoJson)] = &[
    ("secret_shares", GoJson::Int),
    ("secret_threshold", GoJson::Int),
    ("pgp_keys", GoJson::Strings),
    ("backup", GoJson::Bool),
    ("require_verification", GoJson::Bool),
];
/// Vault's `RekeyUpdateRequest` and `RekeyVerificationUpdateRequest`.
const KEY_NONCE_REQUEST: &[(&str, GoJson)] = &[("key", GoJson::String), ("nonce", GoJson::String)];

fn string_list(d: &JsonMap, k: &str) -> Option<Vec<String>> {
    match d.get(k) {
        Some(Value::Array(a)) => Some(
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
        ),
        Some(Value::String(s)) if !s.is_empty() => {
            Some(s.split(',').map(|x| x.trim().to_string()).collect())
        }
        _ => None,
    }
}

/// The paths [`handle_pre_seal`] answers (a trailing `/` aside).
const PRE_SEAL_PATHS: [&str; 4] = ["sys/health", "sys/seal-status", "sys/init", "sys/unseal"];

/// Whether [`handle_pre_seal`] answers `path`.
pub(crate) fn is_pre_seal_path(path: &str) -> bool {
    PRE_SEAL_PATHS.contains(&path.trim_end_matches('/'))
}

/// Serves the endpoints that work before unseal and without a token: health, seal-status,
/// init and unseal. Returns `None` for every other request.
pub(crate) async fn handle_pre_seal(
    seal: &Seal,
    lifecycle: &dyn Lifecycle,
    tokens: &TokenStore,
    standby: bool,
    req: &Request,
) -> Option<Result<Option<Response>, LogicalError>> {
    let op = req.operation;
    match req.path.trim_end_matches('/') {
        "sys/health" => Some(match op {
            Operation::Read => health::health(seal, standby, &req.data).await,
            _ => Err(LogicalError::empty_method_not_allowed()),
        }),
        "sys/seal-status" => Some(match op {
            Operation::Read => seal.seal_status().await.and_then(|v| raw_json(200, &v)),
            _ => Err(LogicalError::empty_method_not_allowed()),
        }),
        "sys/init" => Some(match op {
            Operation::Read => match seal.initialized().await {
                Ok(i) => raw_json(200, &json!({"initialized": i})),
                Err(e) => Err(e),
            },
            Operation::Update | Operation::Create => {
                Box::pin(init(seal, lifecycle, tokens, &req.data)).await
            }
            _ => Err(LogicalError::empty_method_not_allowed()),
        }),
        "sys/unseal" => Some(match op {
            Operation::Update | Operation::Create => {
                Box::pin(unseal(seal, lifecycle, &req.data)).await
            }
            _ => Err(LogicalError::empty_method_not_allowed()),
        }),
        _ => None,
    }
}

async fn init(
    seal: &Seal,
    lifecycle: &dyn Lifecycle,
    tokens: &TokenStore,
    d: &JsonMap,
) -> Result<Option<Response>, LogicalError> {
    decode_strict(d, "InitRequest", INIT_REQUEST)?;
    if string_list(d, "pgp_keys").is_some_and(|k| !k.is_empty())
        || str_field(d, "root_token_pgp_key").is_some_and(|k| !k.is_empty())
    {
        return Err(LogicalError::bad_request(
            "pgp_keys and root_token_pgp_key are not supported yet by this server",
        ));
    }
    let shares = uint_field(d, "secret_shares")?.unwrap_or(0);
    let threshold = uint_field(d, "secret_threshold")?.unwrap_or(0);
    let recovery_shares = uint_field(d, "recovery_shares")?.unwrap_or(0);
    let recovery_threshold = uint_field(d, "recovery_threshold")?.unwrap_or(0);
    // As OpenBao: the parameters of the other kind of seal are refused by name.
    let given = |fields: [(&'static str, bool); 3]| -> Vec<&'static str> {
        fields
            .iter()
            .filter(|(_, set)| *set)
            .map(|(n, _)| *n)
            .collect()
    };
    let misplaced = if seal.recovery_supported() {
        given([
            ("secret_shares", shares != 0),
            ("secret_threshold", threshold != 0),
            ("pgp_keys", false),
        ])
    } else {
        given([
            ("recovery_shares", recovery_shares != 0),
            ("recovery_threshold", recovery_threshold != 0),
            (
                "recovery_pgp_keys",
                string_list(d, "recovery_pgp_keys").is_some_and(|k| !k.is_empty()),
            ),
        ])
    };
    if !misplaced.is_empty() {
        return Err(LogicalError::bad_request(format!(
            "parameters {} not applicable to seal type {}",
            misplaced.join(","),
            seal.seal_type()
        )));
    }
    if string_list(d, "recovery_pgp_keys").is_some_and(|k| !k.is_empty()) {
        return Err(LogicalError::bad_request(
            "recovery_pgp_keys are not supported yet by this server",
        ));
    }
    let result = seal
        .initialize(
            shares,
            threshold,
            (recovery_shares, recovery_threshold),
            None,
            lifecycle,
            tokens,
        )
        .await?;
    let hex_of = |keys: &[zeroize::Zeroizing<Vec<u8>>]| -> Vec<String> {
        keys.iter().map(|k| hex::encode(k.as_slice())).collect()
    };
    let b64_of = |keys: &[zeroize::Zeroizing<Vec<u8>>]| -> Vec<String> {
        keys.iter()
            .map(|k| {
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, k.as_slice())
            })
            .collect()
    };
    let mut answer = json!({
        "keys": hex_of(&result.keys),
        "keys_base64": b64_of(&result.keys),
    });
    if let Value::Object(m) = &mut answer {
        // OpenBao leaves the recovery keys out when there are none.
        if !result.recovery_keys.is_empty() {
            m.insert("recovery_keys".into(), json!(hex_of(&result.recovery_keys)));
            m.insert(
                "recovery_keys_base64".into(),
                json!(b64_of(&result.recovery_keys)),
            );
        }
        m.insert("root_token".into(), json!(result.root_token.as_str()));
    }
    raw_json(200, &answer)
}

async fn unseal(
    seal: &Seal,
    lifecycle: &dyn Lifecycle,
    d: &JsonMap,
) -> Result<Option<Response>, LogicalError> {
    decode_strict(d, "UnsealRequest", UNSEAL_REQUEST)?;
    if !seal.initialized().await? {
        return Err(LogicalError::bad_request("Vault is not initialized"));
    }
    if bool_field(d, "reset")? {
        let v = seal.reset_unseal().await?;
        return raw_json(200, &v);
    }
    let Some(key) = str_field(d, "key").filter(|k| !k.is_empty()) else {
        return Err(LogicalError::bad_request(
            "'key' must be specified in request body as JSON, or 'reset' set to true",
        ));
    };
    let key = decode_key(&key)?;
    let migrate = bool_field(d, "migrate")?;
    let v = seal.submit_unseal_key(key, migrate, lifecycle).await?;
    raw_json(200, &v)
}

#[async_trait]
impl Backend for SystemBackend {
    async fn handle_request(&self, mut req: Request) -> Result<Option<Response>, LogicalError> {
        if req.operation == Operation::Help {
            return Ok(Some(openapi::help(&req, &self.special_paths())));
        }
        let endpoint = Endpoint::parse(&req.path).ok_or(LogicalError::UnsupportedPath)?;
        // Declared parameters are converted (or refused) before any handler reads them; the
        // rest draw OpenBao's warning on the answer.
        let mut unknown = Vec::new();
        let replaced = tools::replaced_by_path(&endpoint, &req.data);
        if let Some(fields) = endpoint.fields() {
            for (name, value) in req.data.iter_mut() {
                match fields.iter().find(|(n, _)| n == name) {
                    Some((_, kind)) => *value = convert_field(name, *kind, value)?,
                    None => unknown.push(name.clone()),
                }
            }
            unknown.sort();
        }
        let mut resp = self.dispatch(endpoint, req).await?;
        if let Some(resp) = resp.as_mut().filter(|r| r.raw.is_none()) {
            arca_sdk::framework::add_unknown_warning(resp, &unknown);
            arca_sdk::framework::add_replaced_warning(resp, &replaced);
        }
        Ok(resp)
    }

    async fn handle_existence_check(&self, _req: &Request) -> Result<ExistenceCheck, LogicalError> {
        Ok(ExistenceCheck::default())
    }

    fn special_paths(&self) -> SpecialPaths {
        SpecialPaths {
            root: [
                "auth/*",
                "remount",
                "audit",
                "audit/*",
                "raw",
                "raw/*",
                "rotate",
                "seal",
                "step-down",
                "rekey/*",
                "rekey-recovery-key/*",
                "generate-root/*",
                "generate-root-token/*",
                "config/cors",
                "config/auditing/*",
                "config/ui/headers/*",
                "plugins/catalog/*",
                "revoke-prefix/*",
                "revoke-force/*",
                "leases/revoke-prefix/*",
                "leases/revoke-force/*",
                "leases/lookup/*",
                "leases",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            unauthenticated: [
                "leader",
                "internal/ui/mounts",
                "internal/ui/mounts/*",
                "internal/specs/openapi",
                "wrapping/lookup",
                "replication/status",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            ..SpecialPaths::default()
        }
    }

    fn backend_type(&self) -> BackendType {
        BackendType::Logical
    }
}

impl SystemBackend {
    /// Runs the `sys/` endpoint `endpoint` names.
    async fn dispatch(
        &self,
        endpoint: Endpoint,
        req: Request,
    ) -> Result<Option<Response>, LogicalError> {
        let deps = &self.deps;
        let seal = &deps.seal;
        let op = req.operation;
        let ns = self.namespace(&req)?;
        // Outside the root namespace, the keyring and the plugin catalog stay out of reach:
        // they are the whole server's.
        if !ns.is_root()
            && matches!(
                endpoint,
                E::KeyStatus
                    | E::Rotate
                    | E::PluginsCatalog
                    | E::PluginsCatalogType(_)
                    | E::PluginsCatalogEntry(..)
                    | E::PluginsReloadBackend
                    | E::PluginsReloadStatus
                    | E::PluginsReloadTyped(..)
            )
        {
            return Err(LogicalError::bad_request(
                "operation only available in root namespace",
            ));
        }
        let d = &req.data;
        use Endpoint as E;
        use Operation as O;
        match (endpoint, op) {
            (E::Leader, O::Read) => match &self.deps.ha {
                Some(ha) => raw_json(200, &ha.leader_status(seal.active_since())),
                None => raw_json(200, &json!({"ha_enabled": false})),
            },
            (E::StorageRaft(rest), op) => match &self.deps.storage_admin {
                Some(admin) => admin.handle(op, &rest, d).await,
                None => Err(LogicalError::UnsupportedPath),
            },
            (E::HaStatus, O::Read) => match &self.deps.ha {
                // OpenBao copies the nodes to the top level of the answer too.
                Some(ha) => legacy(ha.members(seal.version())),
                None => legacy(json!({ "nodes": [{
                    "hostname": crate::reload::node_name(),
                    "api_address": "",
                    "cluster_address": "",
                    "active_node": true,
                    "last_echo": null,
                    "version": seal.version(),
                }]})),
            },
            // Vault serves sys/leader outside the logical router: other methods get a bare 405.
            (E::Leader, _) => Err(LogicalError::empty_method_not_allowed()),
            // No handler behind OpenBao's unauthenticated path: its router's bare error (a
            // LIST, whose path ends with `/`, is the usual wrapped one).
            (E::ReplicationStatus, O::List) => Err(LogicalError::UnsupportedPath),
            (E::ReplicationStatus, _) => Err(LogicalError::not_found("unsupported path")),
            // The pipeline seals once this request has let go of the state lock.
            (E::Seal, O::Update | O::Create) => Ok(None),
            (E::StepDown, O::Update | O::Create) => Ok(None),
            (E::KeyStatus, O::Read) => {
                let info = seal.key_info()?;
                legacy(json!({
                    "term": info.term,
                    "install_time": info.install_time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                    "encryptions": info.encryptions,
                }))
            }
            (E::Rotate, O::Update | O::Create) => {
                seal.rotate().await?;
                Ok(None)
            }
            (E::RekeyInit(recovery), O::Read) => legacy(seal.rekey_status(recovery).await?),
            (E::RekeyInit(recovery), O::Update | O::Create) => {
                decode_strict(d, "RekeyRequest", REKEY_REQUEST)?;
                let shares = uint_field(d, "secret_shares")?.unwrap_or(0);
                let threshold = uint_field(d, "secret_threshold")?.unwrap_or(0);
                let v = seal
                    .rekey_init(
                        recovery,
                        shares,
                        threshold,
                        string_list(d, "pgp_keys"),
                        bool_field(d, "backup")?,
                        bool_field(d, "require_verification")?,
                    )
                    .await?;
                legacy(v)
            }
            (E::RekeyInit(recovery), O::Delete) => {
                seal.rekey_cancel(recovery);
                Ok(None)
            }
            (E::RekeyUpdate(recovery), O::Update | O::Create) => {
                decode_strict(d, "RekeyUpdateRequest", KEY_NONCE_REQUEST)?;
                let key = decode_key(&str_field(d, "key").unwrap_or_default())?;
                let nonce = str_field(d, "nonce").unwrap_or_default();
                legacy(seal.rekey_update(recovery, key, &nonce).await?)
            }
            (E::RekeyVerify(recovery), O::Read) => legacy(seal.rekey_verify_status(recovery)?),
            (E::RekeyVerify(recovery), O::Delete) => legacy(seal.rekey_verify_cancel(recovery)?),
            (E::RekeyVerify(recovery), O::Update | O::Create) => {
                decode_strict(d, "RekeyVerificationUpdateRequest", KEY_NONCE_REQUEST)?;
                let key = decode_key(&str_field(d, "key").unwrap_or_default())?;
                let nonce = str_field(d, "nonce").unwrap_or_default();
                legacy(seal.rekey_verify(recovery, key, &nonce).await?)
            }
            // Arca never keeps PGP-encrypted key backups: nothing to read, nothing to delete.
            (E::RekeyBackup, O::Read) => Err(LogicalError::bad_request("no backed-up keys found")),
            (E::RekeyBackup, O::Delete) => Ok(None),
            (E::RekeyBackup, O::List) => Err(LogicalError::UnsupportedPath),
            (E::GenerateRootAttempt, O::Read) => legacy(seal.generate_root_status().await?),
            (E::GenerateRootAttempt, O::Update | O::Create) => legacy(
                seal.generate_root_init(
                    str_field(d, "otp").map(zeroize::Zeroizing::new),
                    str_field(d, "pgp_key"),
                )
                .await?,
            ),
            (E::GenerateRootAttempt, O::Delete) => {
                seal.generate_root_cancel();
                Ok(None)
            }
            (E::GenerateRootUpdate, O::Update | O::Create) => {
                let key = decode_key(&str_field(d, "key").unwrap_or_default())?;
                let nonce = str_field(d, "nonce").unwrap_or_default();
                let (answer, root) = seal.generate_root_update(key, &nonce, &deps.tokens).await?;
                // The new root token gets its lease, as the init token does.
                if let Some(entry) = root {
                    deps.leases.register_token(&entry).await?;
                }
                legacy(answer)
            }
            (
                e @ (E::Mounts
                | E::Mount(_)
                | E::MountTune(_)
                | E::Remount
                | E::RemountStatus(_)
                | E::Auth
                | E::AuthMount(_)
                | E::AuthTune(_)
                | E::UiMounts
                | E::UiMount(_)),
                op,
            ) => {
                let stores = mounts::Stores {
                    mounts: &*self.mounts()?,
                    policies: &deps.policies,
                    leases: &deps.leases,
                    namespaces: &deps.namespaces,
                    quotas: &deps.quotas,
                };
                mounts::handle(stores, &ns, e, op, &req).await
            }
            (
                e @ (E::Policies
                | E::Policy(_)
                | E::PoliciesAcl
                | E::PolicyAcl(_)
                | E::Capabilities
                | E::CapabilitiesSelf
                | E::CapabilitiesAccessor
                | E::ResultantAcl),
                op,
            ) => policy::handle(deps, &ns, e, op, &req).await,
            (
                e @ (E::PasswordPolicies | E::PasswordPolicy(_) | E::PasswordPolicyGenerate(_)),
                op,
            ) => password::handle(&deps.password_policies, &ns, e, op, &req).await,
            (
                e @ (E::PluginsCatalog
                | E::PluginsCatalogType(_)
                | E::PluginsCatalogEntry(..)
                | E::PluginsReloadBackend
                | E::PluginsReloadStatus
                | E::PluginsReloadTyped(..)),
                op,
            ) => {
                let mounts = self.mounts()?;
                let reload = plugins::Reload {
                    mounts: &mounts,
                    catalog: &deps.catalog,
                    log: &deps.reloads,
                };
                plugins::handle(&deps.catalog, reload, e, op, &req).await
            }
            (
                e @ (E::LeaseLookup
                | E::LeaseLookupList(_)
                | E::LeaseRenew(_)
                | E::LeaseRevoke(_)
                | E::LeaseRevokePrefix(_)
                | E::LeaseRevokeForce(_)
                | E::LeaseTidy
                | E::LeaseCount
                | E::Leases),
                op,
            ) => leases::handle(&deps.leases, &deps.namespaces, &ns, e, op, &req).await,
            (
                e @ (E::WrappingWrap | E::WrappingUnwrap | E::WrappingLookup | E::WrappingRewrap),
                op,
            ) => wrapping::handle(&deps.wrapping, e, op, &req).await,
            (
                e @ (E::Audit
                | E::AuditDevice(_)
                | E::AuditHash(_)
                | E::AuditedHeaders
                | E::AuditedHeader(_)),
                op,
            ) => audit::handle(&deps.audit, e, op, &req).await,
            (
                e @ (E::Namespaces
                | E::Namespace(_)
                | E::NamespaceLock(_)
                | E::NamespaceUnlock(_)
                | E::NamespaceSeal(..)),
                op,
            ) => namespaces::handle(deps, &self.mounts()?, &ns, e, op, &req).await,
            (e @ (E::ToolsRandom(_) | E::ToolsHash(_)), op) => tools::handle(e, op, &req),
            (
                e @ (E::HostInfo
                | E::InFlightReq
                | E::ConfigStateSanitized
                | E::VersionHistory
                | E::CountersTokens
                | E::CountersEntities
                | E::CountersRequests
                | E::Loggers
                | E::Logger(_)
                | E::Monitor),
                op,
            ) => introspection::handle(deps, e, op, &req).await,
            (e @ (E::QuotasConfig | E::QuotasList(_) | E::Quota(..)), op) => {
                quotas::handle(&deps.quotas, e, op, &req).await
            }
            (E::Metrics, op) => metrics::handle(&deps.metrics, op, &req),
            (E::OpenApi, O::Read | O::Update | O::Create) => {
                let mounts = self.mounts()?;
                let sources = openapi::Sources {
                    mounts: &mounts,
                    policies: &deps.policies,
                    namespaces: &deps.namespaces,
                    version: seal.version(),
                };
                openapi::handle(sources, &ns, &req).await
            }
            (e @ (E::ConfigCors | E::UiHeaders | E::UiHeader(_)), op) => {
                config_http::handle(&deps.http_config, e, op, &req).await
            }
            (e @ (E::LockedUsers | E::LockedUserUnlock(..)), op) => {
                locked_users::handle(&deps.lockout, &deps.namespaces, &ns, e, op, &req).await
            }
            (E::Health | E::SealStatus | E::Init | E::Unseal, _) => {
                Err(LogicalError::UnsupportedOperation)
            }
            _ => Err(LogicalError::UnsupportedOperation),
        }
    }
}
