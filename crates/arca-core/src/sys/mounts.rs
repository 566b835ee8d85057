//! `sys/mounts`, `sys/auth`, `sys/remount` and `sys/internal/ui/mounts`.

use std::collections::BTreeMap;
use std::sync::Arc;

use arca_sdk::duration::parse_duration_second;
use arca_sdk::framework::{FieldType, convert_field};
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response};
use serde_json::{Value, json};

use super::{Endpoint, bool_field, data, legacy, str_field};
use crate::leases::ExpirationManager;
use crate::mount_store::MountStore;
use crate::mounts::{MountEntry, TableKind, normalize_mount_path};
use crate::namespaces::{Namespace, NamespaceStore};
use crate::policy_store::PolicyStore;

/// The subsystems these endpoints use.
pub(crate) struct Stores<'a> {
    pub(crate) mounts: &'a MountStore,
    pub(crate) policies: &'a PolicyStore,
    pub(crate) leases: &'a ExpirationManager,
    pub(crate) namespaces: &'a NamespaceStore,
    /// The quotas of a disabled mount go with it.
    pub(crate) quotas: &'a crate::quotas::Quotas,
}

/// Runs a mount endpoint for the request's namespace `ns` (its own mount tables).
pub(crate) async fn handle(
    stores: Stores<'_>,
    ns: &Namespace,
    e: Endpoint,
    op: Operation,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    use Endpoint as E;
    use Operation as O;
    let Stores {
        mounts,
        policies,
        leases,
        namespaces,
        quotas,
    } = stores;
    let d = &req.data;
    match (e, op) {
        (E::Mounts, O::Read) => legacy(table_json(mounts, ns, TableKind::Mounts)),
        (E::Auth, O::Read) => legacy(table_json(mounts, ns, TableKind::Auth)),
        (E::Mount(p), O::Read) => read_mount(mounts, ns, TableKind::Mounts, &p),
        (E::AuthMount(p), O::Read) => read_mount(mounts, ns, TableKind::Auth, &p),
        (E::Mount(p), O::Update | O::Create) => {
            enable(mounts, namespaces, ns, TableKind::Mounts, &p, d).await
        }
        (E::AuthMount(p), O::Update | O::Create) => {
            enable(mounts, namespaces, ns, TableKind::Auth, &p, d).await
        }
        (E::Mount(p), O::Delete) => {
            disable(mounts, leases, quotas, ns, TableKind::Mounts, &p).await
        }
        (E::AuthMount(p), O::Delete) => {
            disable(mounts, leases, quotas, ns, TableKind::Auth, &p).await
        }
        (E::MountTune(p), O::Read) => {
            let (kind, path) = split_auth(&p);
            read_tune(mounts, ns, kind, &path)
        }
        (E::AuthTune(p), O::Read) => read_tune(mounts, ns, TableKind::Auth, &p),
        (E::MountTune(p), O::Update | O::Create) => {
            let (kind, path) = split_auth(&p);
            tune(mounts, ns, kind, &path, d).await
        }
        (E::AuthTune(p), O::Update | O::Create) => tune(mounts, ns, TableKind::Auth, &p, d).await,
        (E::Remount, O::Update | O::Create) => remount(mounts, leases, ns, d).await,
        (E::RemountStatus(id), O::Read) => {
            let found = mounts.migrations().lock().get(&id).cloned();
            match found {
                Some((source, target)) => data(json!({
                    "migration_id": id,
                    "migration_info": {"source_mount": source, "target_mount": target, "status": "success"},
                })),
                None => Err(LogicalError::empty_not_found()),
            }
        }
        (E::UiMounts, O::Read) => ui_mounts(mounts, policies, namespaces, ns, req).await,
        (E::UiMount(p), O::Read) => ui_mount(mounts, policies, namespaces, ns, req, &p).await,
        _ => Err(LogicalError::UnsupportedOperation),
    }
}

/// `sys/mounts/auth/x/tune` addresses the auth mount `x`.
fn split_auth(p: &str) -> (TableKind, String) {
    match p.strip_prefix("auth/") {
        Some(rest) => (TableKind::Auth, rest.to_string()),
        None => (TableKind::Mounts, p.to_string()),
    }
}

fn table_json(mounts: &MountStore, ns: &Namespace, kind: TableKind) -> Value {
    let mut m = serde_json::Map::new();
    for e in mounts.entries(ns, kind) {
        m.insert(e.path.clone(), e.to_api_json());
    }
    Value::Object(m)
}

fn find(
    mounts: &MountStore,
    ns: &Namespace,
    kind: TableKind,
    path: &str,
) -> Result<MountEntry, LogicalError> {
    let p = normalize_mount_path(path).map_err(LogicalError::bad_request)?;
    mounts
        .entries(ns, kind)
        .into_iter()
        .find(|e| e.path == p)
        .ok_or_else(|| LogicalError::bad_request(format!("no matching mount at \"{p}\"")))
}

fn read_mount(
    mounts: &MountStore,
    ns: &Namespace,
    kind: TableKind,
    path: &str,
) -> Result<Option<Response>, LogicalError> {
    let p = normalize_mount_path(path).map_err(LogicalError::bad_request)?;
    let Some(e) = mounts.entries(ns, kind).into_iter().find(|e| e.path == p) else {
        // OpenBao's words for reading a mount that does not exist.
        return Err(LogicalError::bad_request(match kind {
            TableKind::Mounts => format!("No secret engine mount at {p}"),
            TableKind::Auth => format!("No auth engine at {p}"),
        }));
    };
    legacy(e.to_api_json())
}

/// Where a TTL is given: `sys/mounts/<path>`'s `config` or `sys/mounts/<path>/tune`; each
/// words a bad one as OpenBao does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TtlSource {
    MountConfig,
    Tune,
}

/// A lease TTL of a mount in seconds; `None` when absent or empty, 0 for `"system"`.
fn ttl_secs(d: &JsonMap, key: &str, source: TtlSource) -> Result<Option<u64>, LogicalError> {
    let Some(given) = d.get(key).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    // Both read the TTL as a string first (numbers as written, `true` as `1`); the mount's
    // `config` refuses anything else as a whole, tune as the framework refuses a field.
    let text = match convert_field(key, FieldType::String, given) {
        Ok(Value::String(text)) => text,
        Ok(_) | Err(_) if source == TtlSource::MountConfig => {
            return Err(LogicalError::bad_request(
                "unable to convert given mount config information",
            ));
        }
        Ok(_) => return Ok(None),
        Err(e) => return Err(e),
    };
    if text.is_empty() {
        return Ok(None);
    }
    if text == "system" {
        return Ok(Some(0));
    }
    let parsed = parse_duration_second(&text).map(|nanos| nanos / 1_000_000_000);
    match (parsed, source) {
        // As OpenBao, a negative TTL reads as zero: the system default.
        (Ok(secs), _) => Ok(Some(u64::try_from(secs).unwrap_or(0))),
        (Err(e), TtlSource::Tune) => Err(LogicalError::bad_request(e.to_string())),
        (Err(e), TtlSource::MountConfig) => {
            let which = if key == "max_lease_ttl" {
                "max"
            } else {
                "default"
            };
            Err(LogicalError::bad_request(format!(
                "unable to parse {which} TTL of {text}: {e}"
            )))
        }
    }
}

fn string_vec(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        Some(Value::String(s)) if !s.is_empty() => {
            s.split(',').map(|x| x.trim().to_string()).collect()
        }
        _ => Vec::new(),
    }
}

fn options_map(v: Option<&Value>) -> Result<Option<BTreeMap<String, String>>, LogicalError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => {
            let mut out = BTreeMap::new();
            for (k, v) in m {
                let s = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => {
                        return Err(LogicalError::bad_request(format!(
                            "option {k:?} must be a string"
                        )));
                    }
                };
                out.insert(k.clone(), s);
            }
            Ok(Some(out))
        }
        Some(_) => Err(LogicalError::bad_request("options must be an object")),
    }
}

fn check_ttls(mounts: &MountStore, default: u64, max: u64) -> Result<(), LogicalError> {
    let sys_max = mounts.system_ttls().1.as_secs();
    if max > sys_max {
        return Err(LogicalError::bad_request(
            "given max_lease_ttl is greater than system max lease TTL",
        ));
    }
    if default > sys_max {
        return Err(LogicalError::bad_request(
            "given default_lease_ttl is greater than system max lease TTL",
        ));
    }
    if max != 0 && default > max {
        return Err(LogicalError::bad_request(
            "given default_lease_ttl cannot be greater than given max_lease_ttl",
        ));
    }
    Ok(())
}

async fn enable(
    mounts: &MountStore,
    namespaces: &NamespaceStore,
    ns: &Namespace,
    kind: TableKind,
    path: &str,
    d: &JsonMap,
) -> Result<Option<Response>, LogicalError> {
    let path = normalize_mount_path(path).map_err(LogicalError::bad_request)?;
    let mut typ = str_field(d, "type").unwrap_or_default();
    if typ.is_empty() {
        return Err(LogicalError::bad_request(
            "backend type must be specified as a string",
        ));
    }
    let mut options = options_map(d.get("options"))?;
    if kind == TableKind::Mounts && typ == "kv-v2" {
        typ = "kv".into();
        options
            .get_or_insert_with(BTreeMap::new)
            .insert("version".into(), "2".into());
    }
    if kind == TableKind::Mounts && (typ == "kv" || typ == "generic") {
        let options = options.get_or_insert_with(BTreeMap::new);
        // `generic` is KV v1 under its old name; it has no versions.
        if typ == "generic" && options.get("version").is_some_and(|v| !v.is_empty()) {
            return Err(LogicalError::bad_request(
                "secrets engine \"generic\" does not allow setting a version",
            ));
        }
    }
    match (kind, typ.as_str()) {
        (TableKind::Mounts, "system" | "cubbyhole" | "identity") | (TableKind::Auth, "token") => {
            return Err(LogicalError::bad_request(format!(
                "mount type of \"{typ}\" is not mountable"
            )));
        }
        _ => {}
    }
    // `audit/` is where Vault's audit devices once lived; OpenBao still refuses it.
    if kind == TableKind::Mounts && path.starts_with("audit/") {
        return Err(LogicalError::bad_request(format!("cannot mount {path:?}")));
    }
    if kind == TableKind::Mounts {
        for reserved in ["sys/", "auth/", "cubbyhole/", "identity/"] {
            if path.starts_with(reserved) {
                return Err(LogicalError::bad_request(format!(
                    "cannot mount under reserved path \"{reserved}\""
                )));
            }
        }
    }
    if !mounts.has_backend_type(kind, &typ) {
        return Err(LogicalError::bad_request(format!(
            "plugin not found in the catalog: {typ}"
        )));
    }
    let config_in = match d.get("config") {
        None | Some(Value::Null) => JsonMap::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(LogicalError::bad_request("config must be an object")),
    };
    let description = str_field(d, "description").unwrap_or_default();
    let mut entry = MountEntry::new(kind, &path, &typ, &description);
    entry.options = options;
    entry.local = bool_field(d, "local")?;
    entry.seal_wrap = bool_field(d, "seal_wrap")?;
    entry.external_entropy_access = bool_field(d, "external_entropy_access")?;
    // OpenBao reads the version from `config` only; a top-level `plugin_version` is ignored.
    entry.plugin_version = str_field(&config_in, "plugin_version").unwrap_or_default();
    entry.config.default_lease_ttl =
        ttl_secs(&config_in, "default_lease_ttl", TtlSource::MountConfig)?.unwrap_or(0);
    entry.config.max_lease_ttl =
        ttl_secs(&config_in, "max_lease_ttl", TtlSource::MountConfig)?.unwrap_or(0);
    check_ttls(
        mounts,
        entry.config.default_lease_ttl,
        entry.config.max_lease_ttl,
    )?;
    entry.config.force_no_cache = bool_field(&config_in, "force_no_cache")?;
    entry.config.audit_non_hmac_request_keys =
        string_vec(config_in.get("audit_non_hmac_request_keys"));
    entry.config.audit_non_hmac_response_keys =
        string_vec(config_in.get("audit_non_hmac_response_keys"));
    entry.config.passthrough_request_headers =
        string_vec(config_in.get("passthrough_request_headers"));
    entry.config.allowed_response_headers = string_vec(config_in.get("allowed_response_headers"));
    entry.config.listing_visibility =
        str_field(&config_in, "listing_visibility").unwrap_or_default();
    if !matches!(
        entry.config.listing_visibility.as_str(),
        "" | "unauth" | "hidden"
    ) {
        return Err(LogicalError::bad_request(
            "listing_visibility must be one of: unauth, hidden",
        ));
    }
    if kind == TableKind::Auth {
        entry.config.token_type =
            auth_token_type(&str_field(&config_in, "token_type").unwrap_or_default())?;
    }

    entry.set_namespace(ns);
    let _guard = mounts.lock().await;
    // A child namespace already answers at that path.
    if kind == TableKind::Mounts
        && let Some(child) = namespaces
            .children(ns)
            .into_iter()
            .find(|c| ns.relative(&c.path) == path)
    {
        return Err(LogicalError::bad_request(format!(
            "path is already in use at {}",
            ns.relative(&child.path)
        )));
    }
    let existing: Vec<MountEntry> = mounts.entries(ns, kind);
    if let Some(conflict) = existing
        .iter()
        .find(|e| path.starts_with(&e.path) || e.path.starts_with(&path))
    {
        let shown = match kind {
            TableKind::Mounts => conflict.path.clone(),
            TableKind::Auth => format!("auth/{}", conflict.path),
        };
        return Err(LogicalError::bad_request(format!(
            "path is already in use at {shown}"
        )));
    }
    let route_path = entry.route_path();
    let (mount_type, version) = (entry.kind.clone(), entry.plugin_version.clone());
    mounts.setup_route(entry, false).await?;
    if let Err(e) = mounts.persist_table(ns, kind).await {
        // Keep memory and storage in agreement: undo the route.
        if let Some(r) = mounts.router().remove(&route_path) {
            r.backend.load().backend.cleanup().await;
        }
        return Err(e);
    }
    // OpenBao's log lines (operators grep for them).
    let message = match kind {
        TableKind::Mounts => "successful mount",
        TableKind::Auth => "enabled credential backend",
    };
    tracing::info!(namespace = %ns.path, path = %path, r#type = %mount_type, version = %version, "{message}");
    Ok(None)
}

async fn disable(
    mounts: &MountStore,
    leases: &ExpirationManager,
    quotas: &crate::quotas::Quotas,
    ns: &Namespace,
    kind: TableKind,
    path: &str,
) -> Result<Option<Response>, LogicalError> {
    let path = normalize_mount_path(path).map_err(LogicalError::bad_request)?;
    let _guard = mounts.lock().await;
    let Some(entry) = mounts
        .entries(ns, kind)
        .into_iter()
        .find(|e| e.path == path)
    else {
        return Ok(None);
    };
    if entry.is_singleton() {
        return Err(LogicalError::bad_request(format!(
            "cannot unmount {:?}",
            entry.rel_route_path()
        )));
    }
    let route_path = entry.route_path();
    // As Vault: the mount's leases are revoked through its backend first; a failure keeps
    // the mount.
    leases
        .revoke_prefix(ns, &entry.rel_route_path(), false, true)
        .await?;
    let Some(route) = mounts.router().remove(&route_path) else {
        return Ok(None);
    };
    if let Err(e) = mounts.persist_table(ns, kind).await {
        mounts.router().insert(route_path, route);
        return Err(e);
    }
    route.backend.load().backend.cleanup().await;
    // As OpenBao's `HandleBackendDisabling`: the mount's quotas are deleted with it.
    if let Err(e) = quotas.prune_mount(&ns.path, &entry.rel_route_path()).await {
        tracing::warn!(mount = %route_path, error = %e, "core: could not delete the quotas of a disabled mount");
    }
    let view = mounts.view(entry.storage_prefix());
    if let Err(e) = view.clear().await {
        tracing::warn!(mount = %route_path, error = %e, "core: could not clear storage of disabled mount");
    }
    let message = match kind {
        TableKind::Mounts => "successfully unmounted",
        TableKind::Auth => "disabled credential backend",
    };
    tracing::info!(namespace = %ns.path, path = %path, "{message}");
    Ok(None)
}

fn effective_ttls(mounts: &MountStore, e: &MountEntry) -> (u64, u64) {
    let def = if e.config.default_lease_ttl > 0 {
        e.config.default_lease_ttl
    } else {
        mounts.system_ttls().0.as_secs()
    };
    let max = if e.config.max_lease_ttl > 0 {
        e.config.max_lease_ttl
    } else {
        mounts.system_ttls().1.as_secs()
    };
    (def, max)
}

fn read_tune(
    mounts: &MountStore,
    ns: &Namespace,
    kind: TableKind,
    path: &str,
) -> Result<Option<Response>, LogicalError> {
    let e = find(mounts, ns, kind, path)?;
    let (def, max) = effective_ttls(mounts, &e);
    let mut v = json!({
        "default_lease_ttl": def,
        "max_lease_ttl": max,
        "force_no_cache": e.config.force_no_cache,
        "description": e.description,
    });
    if let Value::Object(m) = &mut v {
        if let Some(o) = e.options.as_ref().filter(|o| !o.is_empty()) {
            m.insert("options".into(), json!(o));
        }
        if !e.config.token_type.is_empty() {
            m.insert("token_type".into(), json!(e.config.token_type));
        }
        if let Some(Value::Object(u)) = e
            .config
            .user_lockout_config
            .as_ref()
            .map(|u| u.to_api_json())
        {
            m.extend(u);
        }
        if !e.config.passthrough_request_headers.is_empty() {
            m.insert(
                "passthrough_request_headers".into(),
                json!(e.config.passthrough_request_headers),
            );
        }
        if !e.config.allowed_response_headers.is_empty() {
            m.insert(
                "allowed_response_headers".into(),
                json!(e.config.allowed_response_headers),
            );
        }
        if !e.config.audit_non_hmac_request_keys.is_empty() {
            m.insert(
                "audit_non_hmac_request_keys".into(),
                json!(e.config.audit_non_hmac_request_keys),
            );
        }
        if !e.config.audit_non_hmac_response_keys.is_empty() {
            m.insert(
                "audit_non_hmac_response_keys".into(),
                json!(e.config.audit_non_hmac_response_keys),
            );
        }
        if !e.config.listing_visibility.is_empty() {
            m.insert(
                "listing_visibility".into(),
                json!(e.config.listing_visibility),
            );
        }
    }
    legacy(v)
}

async fn tune(
    mounts: &MountStore,
    ns: &Namespace,
    kind: TableKind,
    path: &str,
    d: &JsonMap,
) -> Result<Option<Response>, LogicalError> {
    let _guard = mounts.lock().await;
    let e = find(mounts, ns, kind, path)?;
    let route = mounts
        .router()
        .get(&e.route_path())
        .ok_or_else(|| LogicalError::bad_request(format!("no matching mount at \"{}\"", e.path)))?;
    let mut n = e.clone();
    if let Some(t) = ttl_secs(d, "default_lease_ttl", TtlSource::Tune)? {
        n.config.default_lease_ttl = t;
    }
    if let Some(t) = ttl_secs(d, "max_lease_ttl", TtlSource::Tune)? {
        n.config.max_lease_ttl = t;
    }
    check_ttls(mounts, n.config.default_lease_ttl, n.config.max_lease_ttl)?;
    if let Some(desc) = str_field(d, "description") {
        n.description = desc;
    }
    if d.contains_key("force_no_cache") {
        n.config.force_no_cache = bool_field(d, "force_no_cache")?;
    }
    for (key, slot) in [
        (
            "audit_non_hmac_request_keys",
            &mut n.config.audit_non_hmac_request_keys,
        ),
        (
            "audit_non_hmac_response_keys",
            &mut n.config.audit_non_hmac_response_keys,
        ),
        (
            "passthrough_request_headers",
            &mut n.config.passthrough_request_headers,
        ),
        (
            "allowed_response_headers",
            &mut n.config.allowed_response_headers,
        ),
    ] {
        if d.contains_key(key) {
            *slot = string_vec(d.get(key));
        }
    }
    if let Some(v) = str_field(d, "listing_visibility") {
        if !matches!(v.as_str(), "" | "unauth" | "hidden") {
            return Err(LogicalError::bad_request(
                "listing_visibility must be one of: unauth, hidden",
            ));
        }
        n.config.listing_visibility = v;
    }
    if let Some(v) = str_field(d, "token_type") {
        if kind != TableKind::Auth {
            return Err(LogicalError::bad_request(
                "'token_type' can only be modified on auth mounts",
            ));
        }
        if n.kind == "token" || n.kind == "ns_token" {
            return Err(LogicalError::bad_request(
                "'token_type' cannot be set for 'token' or 'ns_token' auth mounts",
            ));
        }
        n.config.token_type = auth_token_type(&v)?;
    }
    if let Some(v) = str_field(d, "plugin_version") {
        n.plugin_version = v;
    }
    tune_user_lockout(&mut n, d)?;
    let mut rebuild = false;
    if let Some(opts) = options_map(d.get("options"))? {
        let mut merged = n.options.clone().unwrap_or_default();
        if let Some(v) = opts.get("version") {
            let old = merged.get("version").cloned().unwrap_or_else(|| "1".into());
            if n.kind == "kv" && v != &old {
                if old == "2" && v == "1" {
                    return Err(LogicalError::bad_request(
                        "cannot downgrade mount from KV version 2 to 1",
                    ));
                }
                rebuild = true;
            }
        }
        for (k, v) in opts {
            merged.insert(k, v);
        }
        n.options = Some(merged);
    }
    let old_mount = route.mount.load_full();
    route.mount.store(Arc::new(n.clone()));
    if let Err(err) = mounts.persist_table(ns, kind).await {
        route.mount.store(old_mount);
        return Err(err);
    }
    if rebuild {
        // An options change such as a KV version upgrade needs a new backend instance on the
        // same storage; it is built before it replaces the old one.
        let handle = mounts.build_backend(&n, &route).await?;
        let old = route.backend.swap(Arc::new(handle));
        old.backend.cleanup().await;
    }
    Ok(None)
}

async fn remount(
    mounts: &MountStore,
    leases: &ExpirationManager,
    ns: &Namespace,
    d: &JsonMap,
) -> Result<Option<Response>, LogicalError> {
    let from = str_field(d, "from").unwrap_or_default();
    let to = str_field(d, "to").unwrap_or_default();
    if from.is_empty() || to.is_empty() {
        return Err(LogicalError::bad_request(
            "both 'from' and 'to' path must be specified as a string",
        ));
    }
    let (kind_from, from_p) = split_auth(from.trim_start_matches('/'));
    let (kind_to, to_p) = split_auth(to.trim_start_matches('/'));
    if kind_from != kind_to {
        return Err(LogicalError::bad_request(
            "cannot remount between secrets engines and auth methods",
        ));
    }
    let from_p = normalize_mount_path(&from_p).map_err(LogicalError::bad_request)?;
    let to_p = normalize_mount_path(&to_p).map_err(LogicalError::bad_request)?;
    let _guard = mounts.lock().await;
    let entries = mounts.entries(ns, kind_from);
    let Some(entry) = entries.iter().find(|e| e.path == from_p).cloned() else {
        return Err(LogicalError::bad_request(format!(
            "no matching mount at \"{from_p}\""
        )));
    };
    if entry.is_singleton() {
        return Err(LogicalError::bad_request(format!(
            "cannot remount \"{from_p}\""
        )));
    }
    if let Some(c) = entries
        .iter()
        .find(|e| e.path != from_p && (to_p.starts_with(&e.path) || e.path.starts_with(&to_p)))
    {
        return Err(LogicalError::bad_request(format!(
            "path already in use at \"{}\"",
            c.path
        )));
    }
    if kind_from == TableKind::Mounts {
        for reserved in ["sys/", "auth/", "cubbyhole/", "identity/"] {
            if to_p.starts_with(reserved) {
                return Err(LogicalError::bad_request(format!(
                    "cannot remount to reserved path \"{reserved}\""
                )));
            }
        }
    }
    let old_route_path = entry.route_path();
    // As Vault: lease ids name the mount path, so the mount's leases are revoked first.
    leases
        .revoke_prefix(ns, &entry.rel_route_path(), false, true)
        .await?;
    let Some(route) = mounts.router().remove(&old_route_path) else {
        return Err(LogicalError::bad_request(format!(
            "no matching mount at \"{from_p}\""
        )));
    };
    let mut moved = entry.clone();
    moved.path = to_p.clone();
    route.mount.store(Arc::new(moved.clone()));
    mounts.router().insert(moved.route_path(), route.clone());
    if let Err(e) = mounts.persist_table(ns, kind_from).await {
        mounts.router().remove(&moved.route_path());
        route.mount.store(Arc::new(entry));
        mounts.router().insert(old_route_path, route);
        return Err(e);
    }
    let id = crate::random::uuid();
    // The move is done once the table is written (storage is keyed by uuid, not path).
    mounts
        .migrations()
        .lock()
        .insert(id.clone(), (entry.rel_route_path(), moved.rel_route_path()));
    let mut r = Response::with_data(
        json!({"migration_id": id})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    r.top_level_data = true;
    r.warn("Mount move has been queued. Progress will be reported in OpenBao's server log, tagged with the returned migration_id");
    Ok(Some(r))
}

/// The ACL of the request's token and the prefix its paths need from the request's
/// namespace `ns` (`b/` for a token of `a/` asking in `a/b/`); `None` when the request
/// carries no token (these paths are reachable without one); a token that is not valid is
/// refused (403), as OpenBao's. The token's namespace is its accessor's suffix.
async fn request_acl(
    policies: &PolicyStore,
    namespaces: &NamespaceStore,
    ns: &Namespace,
    req: &Request,
) -> Result<Option<(Arc<arca_policy::Acl>, String)>, LogicalError> {
    if req.client_token_accessor.is_empty() {
        if !req.token().is_empty() {
            return Err(LogicalError::PermissionDenied);
        }
        return Ok(None);
    }
    let Some(token_ns) = namespaces.of_id(&req.client_token_accessor) else {
        return Ok(None);
    };
    let prefix = token_ns.relative(&ns.path).to_string();
    Ok(Some((
        policies.acl(&token_ns, &req.policies).await?,
        prefix,
    )))
}

/// `sys/internal/ui/mounts`: without a token only the mounts tuned `listing_visibility=unauth`
/// (type, description, options); with one, the mounts its policies reach.
async fn ui_mounts(
    mounts: &MountStore,
    policies: &PolicyStore,
    namespaces: &NamespaceStore,
    ns: &Namespace,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    let acl = request_acl(policies, namespaces, ns, req).await?;
    let mut out = serde_json::Map::new();
    for (key, kind) in [("secret", TableKind::Mounts), ("auth", TableKind::Auth)] {
        let mut m = serde_json::Map::new();
        for e in mounts.entries(ns, kind) {
            if !is_listed(acl.as_ref(), &e) {
                continue;
            }
            let v = match acl {
                Some(_) => e.to_api_json(),
                None => json!({"type": e.kind, "description": e.description, "options": e.options}),
            };
            m.insert(e.path.clone(), v);
        }
        out.insert(key.into(), Value::Object(m));
    }
    data(Value::Object(out))
}

/// Whether `sys/internal/ui/mounts` lists `e` for a request with `acl` (its token's ACL and
/// namespace prefix, `None` without a token): a mount tuned `listing_visibility=unauth`
/// always, any other when the ACL reaches it.
fn is_listed(acl: Option<&(Arc<arca_policy::Acl>, String)>, e: &MountEntry) -> bool {
    e.config.listing_visibility == "unauth"
        || acl.is_some_and(|(acl, prefix)| {
            acl.has_mount_access(&format!("{prefix}{}", e.rel_route_path()))
        })
}

/// The mounts (secrets engines, then auth methods) of `ns` that `sys/internal/ui/mounts`
/// lists for `req`: what `sys/internal/specs/openapi` documents, as OpenBao's does.
pub(crate) async fn listed_mounts(
    mounts: &MountStore,
    policies: &PolicyStore,
    namespaces: &NamespaceStore,
    ns: &Namespace,
    req: &Request,
) -> Result<Vec<MountEntry>, LogicalError> {
    let acl = request_acl(policies, namespaces, ns, req).await?;
    let mut out = Vec::new();
    for kind in [TableKind::Mounts, TableKind::Auth] {
        out.extend(
            mounts
                .entries(ns, kind)
                .into_iter()
                .filter(|e| is_listed(acl.as_ref(), e)),
        );
    }
    Ok(out)
}

/// `sys/internal/ui/mounts/<path>`: the mount serving `path`, for a token that reaches it.
async fn ui_mount(
    mounts: &MountStore,
    policies: &PolicyStore,
    namespaces: &NamespaceStore,
    ns: &Namespace,
    req: &Request,
    path: &str,
) -> Result<Option<Response>, LogicalError> {
    let Some((acl, prefix)) = request_acl(policies, namespaces, ns, req).await? else {
        return Err(LogicalError::PermissionDenied);
    };
    let full = path.trim_start_matches('/');
    let (kind, lookup) = match full.strip_prefix("auth/") {
        Some(rest) => (TableKind::Auth, rest.to_string()),
        None => (TableKind::Mounts, full.to_string()),
    };
    let probe = if lookup.ends_with('/') {
        lookup.clone()
    } else {
        format!("{lookup}/")
    };
    let best = mounts
        .entries(ns, kind)
        .into_iter()
        .filter(|e| probe.starts_with(&e.path))
        .max_by_key(|e| e.path.len());
    let Some(e) = best.filter(|e| acl.has_mount_access(&format!("{prefix}{}", e.rel_route_path())))
    else {
        return Err(LogicalError::PermissionDenied);
    };
    let mut v = e.to_api_json();
    if let Value::Object(m) = &mut v {
        m.insert("path".into(), json!(e.rel_route_path()));
    }
    data(v)
}

/// `user_lockout_config` of a tune (OpenBao's): only on `userpass`, `approle` and `ldap`
/// mounts; each of `lockout_threshold`, `lockout_duration`, `lockout_counter_reset`
/// (durations, or `system` for the server's) and `lockout_disable` when given.
fn tune_user_lockout(n: &mut crate::mounts::MountEntry, d: &JsonMap) -> Result<(), LogicalError> {
    let Some(Value::Object(cfg)) = d.get("user_lockout_config") else {
        return Ok(());
    };
    if cfg.is_empty() {
        return Ok(());
    }
    if !matches!(
        n.kind.to_lowercase().as_str(),
        "ldap" | "approle" | "userpass"
    ) {
        return Err(LogicalError::bad_request(format!(
            "tuning of user lockout configuration for auth type {:?} not allowed",
            n.kind
        )));
    }
    let text = |k: &str| -> Result<Option<String>, LogicalError> {
        match cfg.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(x)) => Ok(Some(x.to_string())),
            Some(_) => Err(LogicalError::bad_request(
                "unable to convert given user lockout config information",
            )),
        }
    };
    let secs = |v: &str| -> Result<u64, LogicalError> {
        if v == "system" {
            return Ok(0);
        }
        arca_sdk::duration::parse_duration_value(&Value::from(v))
            .map(|d| d.as_secs())
            .map_err(|e| LogicalError::bad_request(e.to_string()))
    };
    let mut u = n.config.user_lockout_config.clone().unwrap_or_default();
    if let Some(t) = text("lockout_threshold")?.filter(|t| !t.is_empty()) {
        u.lockout_threshold = t.parse::<u64>().map_err(|e| {
            LogicalError::bad_request(format!(
                "unable to parse user lockout threshold: strconv.ParseUint: parsing {t:?}: {}",
                if matches!(e.kind(), std::num::IntErrorKind::PosOverflow) {
                    "value out of range"
                } else {
                    "invalid syntax"
                }
            ))
        })?;
    }
    if let Some(t) = text("lockout_duration")?.filter(|t| !t.is_empty()) {
        u.lockout_duration = secs(&t)?;
    }
    if let Some(t) = text("lockout_counter_reset")?.filter(|t| !t.is_empty()) {
        u.lockout_counter_reset = secs(&t)?;
    }
    match cfg.get("lockout_disable") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => u.disable_lockout = *b,
        Some(Value::String(s)) if matches!(s.as_str(), "true" | "false") => {
            u.disable_lockout = s == "true";
        }
        Some(_) => {
            return Err(LogicalError::bad_request(
                "unable to convert given user lockout config information",
            ));
        }
    }
    n.config.user_lockout_config = Some(u);
    Ok(())
}

/// An auth mount's `token_type` as OpenBao stores it (`""` is `default-service`).
fn auth_token_type(v: &str) -> Result<String, LogicalError> {
    match v {
        "" | "default-service" => Ok("default-service".into()),
        "default-batch" | "service" | "batch" => Ok(v.to_string()),
        _ => Err(LogicalError::bad_request("invalid value for 'token_type'")),
    }
}
