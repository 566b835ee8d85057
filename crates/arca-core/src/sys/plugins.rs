//! `sys/plugins/catalog/...` and `sys/plugins/reload/...`: the catalog API and plugin reload,
//! with OpenBao's fields, status codes and error texts, plus Vault's typed reload and reload
//! status endpoints.

use arca_sdk::plugin_catalog::{PluginCatalogEntry, PluginType};
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response};
use serde_json::{Value, json};

use super::{Endpoint, bool_field, data, str_field};
use crate::catalog::Catalog;
use crate::catalog::{CatalogError, PluginRegistration};
use crate::mount_store::MountStore;
use crate::reload::{ReloadLog, ReloadTarget};

pub(crate) async fn handle(
    catalog: &Catalog,
    reloads: Reload<'_>,
    e: Endpoint,
    op: Operation,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    use Endpoint as E;
    use Operation as O;
    let d = &req.data;
    match (e, op) {
        (E::PluginsCatalog, O::Read) => catalog_listing(catalog),
        (E::PluginsCatalogType(t), O::List) => {
            let t = catalog_type(&t)?;
            data(json!({ "keys": catalog.plugin_names(t) }))
        }
        (E::PluginsCatalogEntry(Some(t), name), O::Read) => {
            let t = catalog_type(&t)?;
            let version = str_field(d, "version").unwrap_or_default();
            match catalog.plugin_entry(t, &name, &version)? {
                Some(entry) => data(entry_json(&entry)),
                None => Err(LogicalError::empty_not_found()),
            }
        }
        (E::PluginsCatalogEntry(None, name), O::Read) => {
            let mut r = Response::default();
            r.warn(format!(
                "Deprecated API endpoint, cannot read plugin information from catalog for {name:?}"
            ));
            Ok(Some(r))
        }
        (E::PluginsCatalogEntry(t, name), O::Update | O::Create) => {
            let plugin_type = t.as_deref().map(catalog_type).transpose()?;
            if bool_field(d, "oci")? {
                return Err(LogicalError::bad_request(
                    "OCI plugins are not supported by this server",
                ));
            }
            let reg = PluginRegistration {
                name,
                plugin_type,
                sha256: str_field(d, "sha256")
                    .filter(|s| !s.is_empty())
                    .or_else(|| str_field(d, "sha_256"))
                    .unwrap_or_default(),
                command: str_field(d, "command").unwrap_or_default(),
                args: string_list(d, "args")?,
                env: string_list(d, "env")?.unwrap_or_default(),
                version: str_field(d, "version").unwrap_or_default(),
            };
            catalog.register_plugin(reg).await?;
            Ok(None)
        }
        (E::PluginsCatalogEntry(t, name), O::Delete) => {
            let Some(t) = t else {
                return Err(CatalogError::TypeRequired.into());
            };
            let t = catalog_type(&t)?;
            let version = str_field(d, "version").unwrap_or_default();
            catalog.delete_plugin(t, &name, &version).await?;
            Ok(None)
        }
        (E::PluginsReloadBackend, O::Update | O::Create) => reload_backend(reloads, req).await,
        (E::PluginsReloadTyped(t, name), O::Update | O::Create) => {
            reload_typed(reloads, req, &t, name).await
        }
        (E::PluginsReloadStatus, O::Read) => reload_status(reloads.log, d),
        (E::PluginsReloadBackend, O::List) => Err(LogicalError::UnsupportedPath),
        _ => Err(LogicalError::UnsupportedOperation),
    }
}

/// What plugin reload works on: the mounts it rebuilds, the catalog it reads, the log it
/// writes.
#[derive(Clone, Copy)]
pub(crate) struct Reload<'a> {
    pub(crate) mounts: &'a MountStore,
    pub(crate) catalog: &'a Catalog,
    pub(crate) log: &'a ReloadLog,
}

impl Reload<'_> {
    async fn run(
        self,
        id: &str,
        target: ReloadTarget,
    ) -> Result<crate::reload::ReloadOutcome, LogicalError> {
        self.log
            .reload_plugins(self.mounts, self.catalog, id, target)
            .await
    }
}

fn catalog_type(t: &str) -> Result<PluginType, LogicalError> {
    PluginType::parse(t)
        .ok_or_else(|| LogicalError::bad_request(format!("{t:?} is not a supported plugin type")))
}

/// A list given as a JSON array, or as a comma-separated string.
fn string_list(d: &JsonMap, k: &str) -> Result<Option<Vec<String>>, LogicalError> {
    match d.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(Some(Vec::new())),
        Some(Value::String(s)) => Ok(Some(s.split(',').map(|x| x.trim().to_string()).collect())),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                Value::Bool(b) => Ok(b.to_string()),
                _ => Err(field_error(k, v)),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(field_error(k, other)),
    }
}

fn field_error(k: &str, v: &Value) -> LogicalError {
    let go_type = match v {
        Value::Object(_) => "map[string]interface {}",
        Value::Array(_) => "[]interface {}",
        Value::Bool(_) => "bool",
        Value::Number(_) => "json.Number",
        _ => "string",
    };
    LogicalError::bad_request(format!(
        "Field validation failed: error converting input for field {k:?}: '' expected type 'string', got unconvertible type '{go_type}'"
    ))
}

fn detailed_json(e: &PluginCatalogEntry) -> Value {
    if e.builtin {
        json!({
            "builtin": true,
            "deprecation_status": "supported",
            "name": e.name,
            "type": e.plugin_type.as_str(),
            "version": e.version,
        })
    } else {
        json!({
            "builtin": false,
            "name": e.name,
            "sha256": e.sha256_hex(),
            "type": e.plugin_type.as_str(),
            "version": e.version,
        })
    }
}

fn entry_json(e: &PluginCatalogEntry) -> Value {
    if e.builtin {
        json!({
            "args": null,
            "builtin": true,
            "command": "",
            "declarative": false,
            "deprecation_status": "supported",
            "name": e.name,
            "oci": false,
            "sha256": "",
            "version": e.version,
        })
    } else {
        json!({
            "args": e.args,
            "builtin": false,
            "command": e.command,
            "declarative": false,
            "name": e.name,
            "oci": false,
            "sha256": e.sha256_hex(),
            "version": e.version,
        })
    }
}

fn catalog_listing(catalog: &Catalog) -> Result<Option<Response>, LogicalError> {
    let all = catalog.plugin_catalog();
    let detailed: Vec<Value> = all.iter().map(detailed_json).collect();
    data(json!({
        "auth": catalog.plugin_names(PluginType::Auth),
        "database": catalog.plugin_names(PluginType::Database),
        "secret": catalog.plugin_names(PluginType::Secret),
        "detailed": detailed,
    }))
}

fn reload_id(req: &Request) -> String {
    if req.id.is_empty() {
        crate::random::uuid()
    } else {
        req.id.clone()
    }
}

/// Checks `scope`: `true` for `global`.
fn global_scope(d: &JsonMap) -> Result<bool, LogicalError> {
    match str_field(d, "scope").unwrap_or_default().as_str() {
        "" => Ok(false),
        "global" => Ok(true),
        _ => Err(LogicalError::bad_request(
            "scope must be unset or \"global\"",
        )),
    }
}

fn reload_response(id: &str, warning: Option<String>, status: Option<u16>) -> Response {
    let mut map = JsonMap::new();
    map.insert("reload_id".into(), Value::String(id.to_string()));
    let mut r = Response::with_data(map);
    if let Some(w) = warning {
        r.warn(w);
    }
    r.status = status;
    r
}

/// OpenBao's `sys/plugins/reload/backend`.
async fn reload_backend(
    reloads: Reload<'_>,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    let d = &req.data;
    let plugin = str_field(d, "plugin").unwrap_or_default();
    let mounts: Vec<String> = string_list(d, "mounts")?
        .unwrap_or_default()
        .into_iter()
        .filter(|m| !m.is_empty())
        .collect();
    if !plugin.is_empty() && !mounts.is_empty() {
        return Err(LogicalError::bad_request(
            "plugin and mounts cannot be set at the same time",
        ));
    }
    if plugin.is_empty() && mounts.is_empty() {
        return Err(LogicalError::bad_request(
            "plugin or mounts must be provided",
        ));
    }
    // OpenBao has no cross-node reload: `global` reloads this node and answers 200.
    global_scope(d)?;
    let target = if plugin.is_empty() {
        ReloadTarget::Mounts(mounts)
    } else {
        ReloadTarget::Plugin {
            name: plugin,
            plugin_type: None,
        }
    };
    let id = reload_id(req);
    reloads.run(&id, target).await?;
    Ok(Some(reload_response(&id, None, None)))
}

/// Vault's `sys/plugins/reload/:type/:name`.
async fn reload_typed(
    reloads: Reload<'_>,
    req: &Request,
    t: &str,
    name: String,
) -> Result<Option<Response>, LogicalError> {
    let d = &req.data;
    let global = global_scope(d)?;
    let plugin_type = match PluginType::parse(t) {
        Some(PluginType::Unknown) | None => None,
        Some(other) => Some(other),
    };
    let id = reload_id(req);
    let outcome = reloads
        .run(
            &id,
            ReloadTarget::Plugin {
                name: name.clone(),
                plugin_type,
            },
        )
        .await?;
    let warning = outcome
        .mounts
        .is_empty()
        .then(|| format!("no plugins were reloaded: no mount runs plugin {name:?}"));
    // Vault answers 202 Accepted to a cluster-wide reload.
    Ok(Some(reload_response(&id, warning, global.then_some(202))))
}

/// Vault's `sys/plugins/reload/backend/status?reload_id=`: this node's result.
fn reload_status(log: &ReloadLog, d: &JsonMap) -> Result<Option<Response>, LogicalError> {
    let id = str_field(d, "reload_id").unwrap_or_default();
    if id.is_empty() {
        return Err(LogicalError::bad_request("reload_id must be provided"));
    }
    let Some(status) = log.reload_status(&id) else {
        return Err(LogicalError::not_found(format!(
            "no reload found with reload_id {id:?}"
        )));
    };
    let mut results = JsonMap::new();
    results.insert(
        status.node.clone(),
        json!({
            "timestamp": status.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            "error": status.error,
        }),
    );
    data(json!({ "reload_id": status.reload_id, "results": results }))
}
