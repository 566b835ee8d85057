//! The audit broker: the device table (in the barrier, restored at unseal, config-declared
//! devices reconciled in), enabling and disabling devices, and logging each request and
//! response through every device: fail closed, as Vault — when devices are enabled and none
//! records a line, the request fails.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use arca_sdk::storage::StorageExt;
use arca_sdk::{LogicalError, Response, Storage};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::device::{AuditEntry, Device, TABLE_API, TABLE_CONFIG};
use super::entry::{AuditRecord, AuditedHeaders};
use super::hash::Salt;
use super::{AuditError, ConfigAuditDevice, Options};
use crate::random::random_hex;
use crate::views::BarrierView;

/// Where the table of replicated devices is kept (under `core/`).
const TABLE_KEY: &str = "audit";
/// Where the table of `local` devices is kept (under `core/`).
const LOCAL_TABLE_KEY: &str = "local-audit";
/// Where the audited request headers are kept (under `core/`).
const HEADERS_KEY: &str = "audited-headers-config";

/// A stored audit table.
#[derive(Default, Serialize, Deserialize)]
struct StoredTable {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    entries: Vec<AuditEntry>,
}

/// One audited header as stored and shown (`{"hmac": bool}`).
#[derive(Serialize, Deserialize)]
struct HeaderSetting {
    hmac: bool,
}

/// What the broker is configured with at start.
pub(crate) struct BrokerConfig {
    /// Devices the config file declares.
    pub(crate) devices: Vec<ConfigAuditDevice>,
    /// `unsafe_allow_api_audit_creation`.
    pub(crate) allow_api_creation: bool,
    /// `allow_audit_log_prefixing`.
    pub(crate) allow_prefix: bool,
    /// No file device may write inside it.
    pub(crate) plugin_directory: Option<PathBuf>,
    /// `vault.audit.*`: the time to log, and a 0/1 failure count per line.
    pub(crate) metrics: crate::metrics::Metrics,
}

/// The audit broker.
pub(crate) struct AuditBroker {
    config: BrokerConfig,
    /// `core/`: the tables and the audited headers.
    core: Arc<BarrierView>,
    /// `audit/`: each device's salt at `<uuid>/salt`.
    salts: Arc<BarrierView>,
    /// The enabled devices, read lock-free by every request.
    devices: ArcSwap<Vec<Arc<Device>>>,
    /// Audited request headers.
    headers: ArcSwap<AuditedHeaders>,
    /// Serialises changes to the table.
    table_lock: tokio::sync::Mutex<()>,
}

/// OpenBao's answer when no device could record a request: 500 `internal error`.
pub(crate) fn audit_failed() -> LogicalError {
    LogicalError::from_status(500, "internal error")
}

fn bad(e: impl std::fmt::Display) -> LogicalError {
    LogicalError::bad_request(e.to_string())
}

/// Hands each device its line, all at once (one device, the usual case, without a join).
async fn write_all(
    devices: &[Arc<Device>],
    lines: Vec<Result<Vec<u8>, AuditError>>,
) -> Vec<Result<(), AuditError>> {
    if let [d] = devices
        && lines.len() == 1
    {
        let mut lines = lines;
        return vec![match lines.pop() {
            Some(Ok(line)) => d.write(line).await,
            Some(Err(e)) => Err(e),
            None => Err(AuditError::Io("no line".into())),
        }];
    }
    futures::future::join_all(devices.iter().zip(lines).map(|(d, line)| async move {
        match line {
            Ok(line) => d.write(line).await,
            Err(e) => Err(e),
        }
    }))
    .await
}

/// `path` with exactly one trailing slash.
fn dir_path(path: &str) -> String {
    format!("{}/", path.trim_end_matches('/'))
}

impl AuditBroker {
    /// A broker with no devices until [`AuditBroker::setup`].
    pub(crate) fn new(
        config: BrokerConfig,
        core: Arc<BarrierView>,
        salts: Arc<BarrierView>,
    ) -> AuditBroker {
        AuditBroker {
            config,
            core,
            salts,
            devices: ArcSwap::from_pointee(Vec::new()),
            headers: ArcSwap::from_pointee(AuditedHeaders::new()),
            table_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Whether any device is enabled (the pipeline skips all audit work otherwise).
    pub(crate) fn enabled(&self) -> bool {
        !self.devices.load().is_empty()
    }

    async fn load_entries(&self) -> Result<Vec<AuditEntry>, LogicalError> {
        let mut entries = Vec::new();
        for key in [TABLE_KEY, LOCAL_TABLE_KEY] {
            if let Some(t) = self.core.get_json::<StoredTable>(key).await? {
                entries.extend(t.entries);
            }
        }
        Ok(entries)
    }

    async fn persist(&self, entries: &[AuditEntry]) -> Result<(), LogicalError> {
        let (local, shared): (Vec<_>, Vec<_>) = entries.iter().cloned().partition(|e| e.local);
        for (key, entries) in [(TABLE_KEY, shared), (LOCAL_TABLE_KEY, local)] {
            let table = StoredTable {
                kind: "audit".into(),
                entries,
            };
            self.core.put_json(key, &table).await?;
        }
        Ok(())
    }

    /// The device's salt, made on first use.
    async fn salt(&self, uuid: &str) -> Result<Salt, LogicalError> {
        let key = format!("{uuid}/salt");
        if let Some(e) = self.salts.get(&key).await? {
            return Ok(Salt::new(&e.value));
        }
        let fresh = uuid::Uuid::new_v4().to_string();
        self.salts
            .put(arca_sdk::StorageEntry::new(&key, fresh.as_bytes().to_vec()))
            .await?;
        Ok(Salt::new(fresh.as_bytes()))
    }

    fn new_entry(kind: &str, path: &str, table: &str) -> AuditEntry {
        AuditEntry {
            path: path.to_string(),
            kind: kind.to_string(),
            description: String::new(),
            options: Options::new(),
            local: false,
            uuid: uuid::Uuid::new_v4().to_string(),
            accessor: format!("audit_{kind}_{}", random_hex(4)),
            table: table.to_string(),
        }
    }

    /// Brings the devices up at unseal: the stored table, reconciled with the devices the
    /// config declares (added, updated, or disabled when no longer declared). A device that
    /// cannot be built is logged and left out; if none can be, unseal fails rather than run
    /// unaudited.
    pub(crate) async fn setup(&self) -> Result<(), LogicalError> {
        let _guard = self.table_lock.lock().await;
        let mut entries = self.load_entries().await?;
        let changed = self.reconcile_config(&mut entries);
        let mut devices = Vec::new();
        for entry in &entries {
            let salt = self.salt(&entry.uuid).await?;
            let path = entry.path.clone();
            match Device::build(entry.clone(), salt, self.config.plugin_directory.as_deref()) {
                Ok(d) => {
                    tracing::info!(path = %path, kind = %entry.kind, "enabled audit backend");
                    devices.push(Arc::new(d));
                }
                Err(e) => {
                    tracing::error!(path = %path, error = %e, "failed to set up audit backend")
                }
            }
        }
        if !entries.is_empty() && devices.is_empty() {
            return Err(LogicalError::internal("failed to setup audit table"));
        }
        if changed {
            self.persist(&entries).await?;
        }
        self.devices.store(Arc::new(devices));
        let headers: BTreeMap<String, HeaderSetting> =
            self.core.get_json(HEADERS_KEY).await?.unwrap_or_default();
        self.headers.store(Arc::new(
            headers.into_iter().map(|(k, v)| (k, v.hmac)).collect(),
        ));
        Ok(())
    }

    /// Applies the config's devices to `entries`; true when something changed.
    fn reconcile_config(&self, entries: &mut Vec<AuditEntry>) -> bool {
        let mut changed = false;
        let mut declared: Vec<String> = Vec::new();
        for dev in &self.config.devices {
            let path = dir_path(&dev.path);
            if path == "/" {
                tracing::error!("an audit device in the config is missing a path");
                continue;
            }
            if declared.contains(&path) {
                tracing::error!(path = %path, "two audit devices with the same path exist in the config");
                continue;
            }
            declared.push(path.clone());
            match entries.iter_mut().find(|e| e.path == path) {
                Some(e) if e.table != TABLE_CONFIG => {
                    tracing::error!(
                        path = %path,
                        "audit device in configuration was already created by API; remove the API audit device before attempting to create a duplicate configuration-based version"
                    );
                }
                Some(e) => {
                    if e.kind != dev.kind
                        || e.description != dev.description
                        || e.local != dev.local
                        || e.options != dev.options
                    {
                        tracing::info!(path = %path, "updating audit device from the config");
                        e.kind = dev.kind.clone();
                        e.description = dev.description.clone();
                        e.local = dev.local;
                        e.options = dev.options.clone();
                        changed = true;
                    }
                }
                None => {
                    if entries
                        .iter()
                        .any(|e| e.path.starts_with(&path) || path.starts_with(&e.path))
                    {
                        tracing::error!(path = %path, "audit device path from the config already in use");
                        continue;
                    }
                    tracing::info!(path = %path, "adding new audit device");
                    let mut e = Self::new_entry(&dev.kind, &path, TABLE_CONFIG);
                    e.description = dev.description.clone();
                    e.local = dev.local;
                    e.options = dev.options.clone();
                    entries.push(e);
                    changed = true;
                }
            }
        }
        let before = entries.len();
        entries.retain(|e| {
            let keep = e.table != TABLE_CONFIG || declared.contains(&e.path);
            if !keep {
                tracing::info!(path = %e.path, "disabling removed audit device");
            }
            keep
        });
        changed || entries.len() != before
    }

    /// Drops every device (seal).
    pub(crate) fn teardown(&self) {
        self.devices.store(Arc::new(Vec::new()));
        self.headers.store(Arc::new(AuditedHeaders::new()));
    }

    /// `sys/audit/<path>` PUT: enables a device, after proving it can write.
    pub(crate) async fn enable(
        &self,
        path: &str,
        kind: &str,
        description: &str,
        options: Options,
        local: bool,
    ) -> Result<(), LogicalError> {
        if !self.config.allow_api_creation {
            return Err(bad(
                "cannot enable audit device via API; use declarative, config-based audit device management instead",
            ));
        }
        if options.contains_key("prefix") && !self.config.allow_prefix {
            return Err(bad("audit log prefixing is not allowed"));
        }
        let path = dir_path(path);
        if path == "/" {
            return Err(bad("backend path must be specified"));
        }
        let _guard = self.table_lock.lock().await;
        let mut entries = self.load_entries().await?;
        if entries
            .iter()
            .any(|e| e.path.starts_with(&path) || path.starts_with(&e.path))
        {
            return Err(bad("path already in use"));
        }
        let mut entry = Self::new_entry(kind, &path, TABLE_API);
        entry.description = description.to_string();
        entry.local = local;
        entry.options = options;
        let skip_test = entry.options.get("skip_test").map(String::as_str) == Some("true");
        let uuid = entry.uuid.clone();
        let device = Device::build(
            entry.clone(),
            Salt::ephemeral(),
            self.config.plugin_directory.as_deref(),
        )
        .map_err(bad)?;
        if !skip_test && let Err(e) = device.log_test().await {
            tracing::error!(path = %path, kind = %kind, error = %e, "new audit backend failed test");
            return Err(bad(format!("audit backend failed test message: {e}")));
        }
        let device = Device {
            salt: self.salt(&uuid).await?,
            ..device
        };
        entries.push(entry);
        self.persist(&entries).await?;
        let mut devices: Vec<Arc<Device>> = self.devices.load().as_ref().clone();
        devices.push(Arc::new(device));
        self.devices.store(Arc::new(devices));
        tracing::info!(path = %path, kind = %kind, "enabled audit backend");
        Ok(())
    }

    /// `sys/audit/<path>` DELETE: disables a device (nothing to do when there is none).
    pub(crate) async fn disable(&self, path: &str) -> Result<(), LogicalError> {
        let path = dir_path(path);
        if path == "/" {
            return Err(bad("audit device path must be specified"));
        }
        let _guard = self.table_lock.lock().await;
        let mut entries = self.load_entries().await?;
        let Some(pos) = entries.iter().position(|e| e.path == path) else {
            return Ok(());
        };
        if entries[pos].table == TABLE_CONFIG {
            return Err(bad("cannot disable configuration-managed audit device"));
        }
        let entry = entries.remove(pos);
        self.persist(&entries).await?;
        let devices: Vec<Arc<Device>> = self
            .devices
            .load()
            .iter()
            .filter(|d| d.entry.path != path)
            .cloned()
            .collect();
        self.devices.store(Arc::new(devices));
        self.salts.delete(&format!("{}/salt", entry.uuid)).await?;
        tracing::info!(path = %path, "disabled audit backend");
        Ok(())
    }

    /// `sys/audit` GET: every device by path.
    pub(crate) async fn list(&self) -> Result<Value, LogicalError> {
        let entries = self.load_entries().await?;
        let mut out = Map::new();
        for e in entries {
            out.insert(
                e.path.clone(),
                json!({
                    "path": e.path,
                    "type": e.kind,
                    "description": e.description,
                    "options": e.options,
                    "local": e.local,
                }),
            );
        }
        Ok(Value::Object(out))
    }

    /// `sys/audit-hash/<path>`: `input` HMAC'd with that device's salt.
    pub(crate) fn hash(&self, path: &str, input: &str) -> Result<String, LogicalError> {
        let path = dir_path(path);
        let devices = self.devices.load();
        let device = devices
            .iter()
            .find(|d| d.entry.path == path)
            .ok_or_else(|| bad(format!("unknown audit backend {path:?}")))?;
        Ok(device.salt.hmac(input))
    }

    /// Writes the request line to every device; fails (500 `internal error`) when devices
    /// are enabled and none of them wrote it. Each device's rendered parts are kept in `rec`
    /// for its response line.
    pub(crate) async fn log_request(
        &self,
        rec: &mut AuditRecord,
        error: Option<&str>,
    ) -> Result<(), LogicalError> {
        let started = std::time::Instant::now();
        let devices = self.devices.load_full();
        if devices.is_empty() {
            return Ok(());
        }
        let headers = self.headers.load();
        rec.parts.clear();
        let mut lines = Vec::with_capacity(devices.len());
        for d in devices.iter() {
            match d.request_line(rec, error, &headers) {
                Ok((parts, line)) => {
                    rec.parts.push((d.id, parts));
                    lines.push(Ok(line));
                }
                Err(e) => lines.push(Err(e)),
            }
        }
        let results = write_all(&devices, lines).await;
        let settled = self.settle(&devices, results, "request", &rec.path);
        let m = self.config.metrics.core();
        m.audit_log_request.since(started);
        m.audit_log_request_failure
            .incr(if settled.is_ok() { 0.0 } else { 1.0 });
        settled
    }

    /// Writes the response line to every device, failing as [`AuditBroker::log_request`].
    pub(crate) async fn log_response(
        &self,
        rec: &AuditRecord,
        resp: Option<&Response>,
        error: Option<&str>,
    ) -> Result<(), LogicalError> {
        let started = std::time::Instant::now();
        let devices = self.devices.load_full();
        if devices.is_empty() {
            return Ok(());
        }
        let headers = self.headers.load();
        let lines: Vec<_> = devices
            .iter()
            .map(|d| {
                let parts = rec.parts.iter().find(|(id, _)| *id == d.id).map(|(_, p)| p);
                d.response_line(parts, rec, resp, error, &headers)
            })
            .collect();
        let results = write_all(&devices, lines).await;
        let settled = self.settle(&devices, results, "response", &rec.path);
        let m = self.config.metrics.core();
        m.audit_log_response.since(started);
        m.audit_log_response_failure
            .incr(if settled.is_ok() { 0.0 } else { 1.0 });
        settled
    }

    fn settle(
        &self,
        devices: &[Arc<Device>],
        results: Vec<Result<(), AuditError>>,
        what: &str,
        path: &str,
    ) -> Result<(), LogicalError> {
        let mut any = false;
        for (d, r) in devices.iter().zip(results) {
            match r {
                Ok(()) => any = true,
                Err(e) => tracing::error!(
                    backend = %d.entry.path,
                    error = %e,
                    "backend failed to log {what}"
                ),
            }
        }
        if any {
            Ok(())
        } else {
            tracing::error!(path = %path, "failed to audit {what}: no audit backend succeeded in logging the {what}");
            Err(audit_failed())
        }
    }

    /// Reopens files and reconnects sockets (SIGHUP).
    pub(crate) async fn reload(&self) {
        for d in self.devices.load().iter() {
            tracing::info!(path = %d.entry.path, kind = %d.entry.kind, "reloading audit backend");
            if let Err(e) = d.sink.reload().await {
                tracing::error!(path = %d.entry.path, error = %e, "failed to reload audit backend");
            }
        }
    }

    /// The headers of `given` that are audited (none unless configured).
    pub(crate) fn pick_headers(
        &self,
        given: &std::collections::HashMap<String, Vec<String>>,
    ) -> std::collections::HashMap<String, Vec<String>> {
        let audited = self.headers.load();
        audited
            .keys()
            .filter_map(|name| given.get(name).map(|v| (name.clone(), v.clone())))
            .collect()
    }

    /// `sys/config/auditing/request-headers`: every audited header.
    pub(crate) fn headers(&self) -> Value {
        let h = self.headers.load();
        let map: Map<String, Value> = h
            .iter()
            .map(|(k, v)| (k.clone(), json!({ "hmac": v })))
            .collect();
        Value::Object(map)
    }

    /// Adds (or replaces) an audited header.
    pub(crate) async fn set_header(&self, name: &str, hmac: bool) -> Result<(), LogicalError> {
        let _guard = self.table_lock.lock().await;
        let mut h = self.headers.load().as_ref().clone();
        h.insert(name.to_ascii_lowercase(), hmac);
        self.store_headers(h).await
    }

    /// Removes an audited header.
    pub(crate) async fn remove_header(&self, name: &str) -> Result<(), LogicalError> {
        let _guard = self.table_lock.lock().await;
        let mut h = self.headers.load().as_ref().clone();
        h.remove(&name.to_ascii_lowercase());
        self.store_headers(h).await
    }

    async fn store_headers(&self, h: AuditedHeaders) -> Result<(), LogicalError> {
        let stored: BTreeMap<&String, HeaderSetting> = h
            .iter()
            .map(|(k, v)| (k, HeaderSetting { hmac: *v }))
            .collect();
        self.core.put_json(HEADERS_KEY, &stored).await?;
        self.headers.store(Arc::new(h));
        Ok(())
    }
}
