//! The whole server config: reading the top-level keys of one file, and merging the files of a
//! config directory.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::audit::{self, AuditDevice, Declared};
use crate::decode::{Site, check_duplicates};
use crate::error::{ConfigError, Location};
use crate::keys::{TOP_LEVEL_BLOCKS, UNSUPPORTED_TOP_LEVEL};
use crate::listener::{self, ListenerConfig};
use crate::storage::{self, StorageConfig};
use crate::telemetry::{self, TelemetryConfig};
use crate::tree::{Entry, blocks_of};
use crate::user_lockout::{self, UserLockout};

/// Vault's system default lease TTL when the config sets none: 768h (32 days).
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(768 * 3600);

/// Vault's system maximum lease TTL when the config sets none: 768h (32 days).
pub const DEFAULT_MAX_LEASE_TTL: Duration = Duration::from_secs(768 * 3600);

/// A server config, read from Vault's HCL or JSON format.
///
/// Fields that are `Option` or `false` were not set; the server applies Vault's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerConfig {
    /// The `storage` (or `backend`) stanza.
    pub storage: Option<StorageConfig>,
    /// The `listener` stanzas, in order.
    pub listeners: Vec<ListenerConfig>,
    /// The address advertised to clients for redirects (`api_addr`).
    pub api_addr: Option<String>,
    /// The address advertised to other cluster members (`cluster_addr`).
    pub cluster_addr: Option<String>,
    /// Serve the web UI.
    pub ui: bool,
    /// Do not lock memory with `mlock`.
    pub disable_mlock: bool,
    /// The system default lease TTL ([`DEFAULT_LEASE_TTL`] when unset).
    pub default_lease_ttl: Option<Duration>,
    /// The system maximum lease TTL ([`DEFAULT_MAX_LEASE_TTL`] when unset).
    pub max_lease_ttl: Option<Duration>,
    /// Log level, normalised: `trace`, `debug`, `info`, `warn` or `error`.
    pub log_level: Option<String>,
    /// Log format: `standard` or `json`.
    pub log_format: Option<String>,
    /// Directory holding external plugin binaries.
    pub plugin_directory: Option<PathBuf>,
    /// The cluster's name.
    pub cluster_name: Option<String>,
    /// Turn off the read cache in front of storage.
    pub disable_cache: bool,
    /// Allow audit devices to be enabled through `sys/audit/<path>`. Unset means refused, as
    /// in OpenBao since CVE-2025-6000: devices are then declared with `audit` stanzas.
    pub unsafe_allow_api_audit_creation: Option<bool>,
    /// Allow audit devices to take the `prefix` option (`allow_audit_log_prefixing`; refused
    /// when unset, as in OpenBao).
    pub allow_audit_log_prefixing: bool,
    /// The `audit` stanzas, in order (a directory's files in name order); no two share a path.
    pub audit_devices: Vec<AuditDevice>,
    /// Require a token on the rekey endpoints' unauthenticated forms (default when unset: on).
    pub disable_unauthed_rekey_endpoints: Option<bool>,
    /// Require a token on the generate-root endpoints' unauthenticated forms (default when
    /// unset: on).
    pub disable_unauthed_generate_root_endpoints: Option<bool>,
    /// Enable the `sys/raw` endpoint.
    pub raw_storage_endpoint: bool,
    /// Enable the `sys/internal/inspect` endpoint.
    pub introspection_endpoint: bool,
    /// File to write the server's process id to.
    pub pid_file: Option<PathBuf>,
    /// The `user_lockout` stanzas, keyed by their lowercased type (`all`, `userpass`,
    /// `approle`, `ldap`); a later stanza for a type, in the same file or a later one,
    /// replaces the earlier one whole. Resolve a method's settings with
    /// [`ServerConfig::user_lockout_for`]. (OpenBao, given several files, resolves each file's
    /// stanzas against that file's `all` and keeps the first file's stanza for a type; Arca
    /// lets the later file win, as for its other keys.)
    pub user_lockouts: BTreeMap<String, UserLockout>,
    /// The top-level `seal` stanzas, in order (a directory's files in name order): none means
    /// Shamir; one `transit` stanza means auto-unseal through another server's transit engine;
    /// a stanza with `disabled = "true"` is the seal a migration moves away from.
    pub seals: Vec<crate::seal::SealStanza>,
    /// The `telemetry` stanza; `None` when no file has one (then, as in OpenBao, there is
    /// no Prometheus retention: see [`TelemetryConfig::absent`]).
    pub telemetry: Option<TelemetryConfig>,
    /// Keys that were accepted but ignored, one message each, starting with file and line.
    pub warnings: Vec<String>,
}

impl ServerConfig {
    /// The user lockout settings for auth method type `mount_type` (`userpass`, ...), every
    /// field set: its own stanza's values, then the `all` stanza's, then OpenBao's defaults
    /// (5 failures, 15m lockout, 15m counter reset, lockout on).
    #[must_use]
    pub fn user_lockout_for(&self, mount_type: &str) -> UserLockout {
        let own = self
            .user_lockouts
            .get(mount_type)
            .copied()
            .unwrap_or_default();
        own.resolve(self.user_lockouts.get("all"))
    }
}

/// The plain-`bool` fields, whose presence a file records so that a later file in a directory
/// overrides only what it sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BoolKey {
    Ui,
    DisableMlock,
    DisableCache,
    RawStorageEndpoint,
    IntrospectionEndpoint,
    AllowAuditLogPrefixing,
}

impl BoolKey {
    fn of(key: &str) -> Option<Self> {
        Some(match key {
            "ui" => Self::Ui,
            "disable_mlock" => Self::DisableMlock,
            "disable_cache" => Self::DisableCache,
            "raw_storage_endpoint" => Self::RawStorageEndpoint,
            "introspection_endpoint" => Self::IntrospectionEndpoint,
            "allow_audit_log_prefixing" => Self::AllowAuditLogPrefixing,
            _ => return None,
        })
    }

    fn field(self, config: &mut ServerConfig) -> &mut bool {
        match self {
            Self::Ui => &mut config.ui,
            Self::DisableMlock => &mut config.disable_mlock,
            Self::DisableCache => &mut config.disable_cache,
            Self::RawStorageEndpoint => &mut config.raw_storage_endpoint,
            Self::IntrospectionEndpoint => &mut config.introspection_endpoint,
            Self::AllowAuditLogPrefixing => &mut config.allow_audit_log_prefixing,
        }
    }
}

/// One file's config, with what it set explicitly.
#[derive(Debug, Default)]
pub(crate) struct Layer {
    pub config: ServerConfig,
    bools_set: Vec<BoolKey>,
    /// The line of `default_lease_ttl`, for the TTL check.
    default_lease_ttl_line: Option<usize>,
    /// Where each of `config.audit_devices` was declared, for the duplicate-path check.
    audit_declared: Vec<Declared>,
}

/// Log levels Vault accepts, and the name each normalises to.
const LOG_LEVELS: &[(&str, &str)] = &[
    ("trace", "trace"),
    ("debug", "debug"),
    ("info", "info"),
    ("warn", "warn"),
    ("warning", "warn"),
    ("err", "error"),
    ("error", "error"),
];

impl Layer {
    /// Reads the top-level `entries` of `file`.
    pub(crate) fn from_entries(entries: &[Entry], file: &str) -> Result<Self, ConfigError> {
        check_duplicates(entries, file, "", TOP_LEVEL_BLOCKS)?;
        let mut layer = Layer::default();
        let mut first_storage: Option<Option<usize>> = None;
        let telemetry_entries: Vec<&Entry> =
            entries.iter().filter(|e| e.key == "telemetry").collect();
        layer.config.telemetry =
            telemetry::from_entries(&telemetry_entries, file, &mut layer.config.warnings)?;
        for entry in entries {
            let key = entry.key.as_str();
            let site = Site {
                file,
                key: entry.key.clone(),
                line: entry.line,
            };
            match key {
                "storage" | "backend" => {
                    for block in blocks_of(entry, file, "storage type")? {
                        if let Some(first) = first_storage {
                            let first = first.map_or_else(String::new, |line| {
                                format!(" (the first is on line {line})")
                            });
                            return Err(ConfigError::invalid(
                                file,
                                block.line,
                                format!("{key}.{}", block.labels.join(".")),
                                format!("only one storage block is allowed{first}"),
                            ));
                        }
                        first_storage = Some(block.line);
                        layer.config.storage = Some(storage::from_block(key, &block, file)?);
                    }
                }
                "listener" => {
                    for block in blocks_of(entry, file, "listener type")? {
                        let listener =
                            listener::from_block(&block, file, &mut layer.config.warnings)?;
                        layer.config.listeners.push(listener);
                    }
                }
                "audit" => {
                    let devices = audit::from_entry(entry, file, &mut layer.config.warnings)?;
                    for (device, declared) in devices {
                        layer.config.audit_devices.push(device);
                        layer.audit_declared.push(declared);
                    }
                }
                "telemetry" => {}
                "seal" => {
                    let stanzas = crate::seal::stanzas_of(entry, file)?;
                    layer.config.seals.extend(stanzas);
                }
                "user_lockout" => {
                    let stanzas =
                        user_lockout::from_entry(entry, file, &mut layer.config.warnings)?;
                    layer.config.user_lockouts.extend(stanzas);
                }
                _ if UNSUPPORTED_TOP_LEVEL.contains(&key) => {
                    layer.warn(file, entry, "not supported by Arca yet; ignored")
                }
                _ => layer.scalar(entry, &site)?,
            }
        }
        layer.check_lease_ttls(file, layer.default_lease_ttl_line)?;
        layer.check_audit_paths()?;
        Ok(layer)
    }

    fn warn(&mut self, file: &str, entry: &Entry, why: &str) {
        self.config.warnings.push(format!(
            "{}: {}: {why}",
            Location::new(file, entry.line),
            entry.key
        ));
    }

    /// Reads a top-level `key = value`.
    fn scalar(&mut self, entry: &Entry, site: &Site<'_>) -> Result<(), ConfigError> {
        const KNOWN: &[&str] = &[
            "allow_audit_log_prefixing",
            "api_addr",
            "cluster_addr",
            "cluster_name",
            "default_lease_ttl",
            "disable_cache",
            "disable_mlock",
            "disable_unauthed_generate_root_endpoints",
            "disable_unauthed_rekey_endpoints",
            "introspection_endpoint",
            "log_format",
            "log_level",
            "max_lease_ttl",
            "pid_file",
            "plugin_directory",
            "raw_storage_endpoint",
            "ui",
            "unsafe_allow_api_audit_creation",
        ];
        let key = entry.key.as_str();
        if !KNOWN.contains(&key) {
            self.warn(site.file, entry, "unknown key; ignored");
            return Ok(());
        }
        let Some(node) = site.set_value(entry)? else {
            return Ok(());
        };
        if let Some(flag) = BoolKey::of(key) {
            *flag.field(&mut self.config) = site.bool(node)?;
            self.bools_set.retain(|&set| set != flag);
            self.bools_set.push(flag);
            return Ok(());
        }
        let c = &mut self.config;
        match key {
            "api_addr" => c.api_addr = Some(site.non_empty_string(node)?),
            "cluster_addr" => c.cluster_addr = Some(site.non_empty_string(node)?),
            "cluster_name" => c.cluster_name = Some(site.non_empty_string(node)?),
            "default_lease_ttl" => {
                c.default_lease_ttl = Some(site.duration(node)?);
                self.default_lease_ttl_line = entry.line;
            }
            "max_lease_ttl" => c.max_lease_ttl = Some(site.duration(node)?),
            "log_level" => {
                let given = site.string(node)?;
                let wanted = given.trim().to_ascii_lowercase();
                let level = LOG_LEVELS
                    .iter()
                    .find(|(name, _)| *name == wanted)
                    .map(|(_, normal)| (*normal).to_owned())
                    .ok_or_else(|| {
                        site.error(format!(
                            "unknown log level {}; expected trace, debug, info, warn or error",
                            node.value.describe()
                        ))
                    })?;
                c.log_level = Some(level);
            }
            "log_format" => {
                let format = site.string(node)?.trim().to_ascii_lowercase();
                if format != "standard" && format != "json" {
                    return Err(site.error(format!(
                        "unknown log format {}; expected standard or json",
                        node.value.describe()
                    )));
                }
                c.log_format = Some(format);
            }
            "plugin_directory" => c.plugin_directory = Some(site.path(node)?),
            "pid_file" => c.pid_file = Some(site.path(node)?),
            "unsafe_allow_api_audit_creation" => {
                c.unsafe_allow_api_audit_creation = Some(site.bool(node)?);
            }
            "disable_unauthed_rekey_endpoints" => {
                c.disable_unauthed_rekey_endpoints = Some(site.bool(node)?);
            }
            "disable_unauthed_generate_root_endpoints" => {
                c.disable_unauthed_generate_root_endpoints = Some(site.bool(node)?);
            }
            _ => {}
        }
        Ok(())
    }

    /// Refuses a default lease TTL above the maximum (each defaulting to 768h), as Vault does
    /// at startup.
    pub(crate) fn check_lease_ttls(
        &self,
        file: &str,
        line: Option<usize>,
    ) -> Result<(), ConfigError> {
        let c = &self.config;
        let default = c.default_lease_ttl.filter(|d| !d.is_zero());
        let max = c
            .max_lease_ttl
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_MAX_LEASE_TTL);
        match default {
            Some(default) if default > max => Err(ConfigError::invalid(
                file,
                line,
                "default_lease_ttl",
                format!(
                    "must not exceed max_lease_ttl ({}s > {}s)",
                    default.as_secs(),
                    max.as_secs()
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Refuses two audit devices with the same path.
    pub(crate) fn check_audit_paths(&self) -> Result<(), ConfigError> {
        audit::check_paths(&self.config.audit_devices, &self.audit_declared)
    }

    /// Applies a later file over this one: scalars it sets override, listeners and audit
    /// devices append, its storage stanza replaces this one's, and each of its `user_lockout`
    /// stanzas replaces this one's for the same type.
    pub(crate) fn merge(&mut self, later: Layer) {
        let Layer {
            config: l,
            bools_set,
            audit_declared,
            ..
        } = later;
        self.audit_declared.extend(audit_declared);
        let c = &mut self.config;
        if l.storage.is_some() {
            c.storage = l.storage;
        }
        c.listeners.extend(l.listeners);
        c.audit_devices.extend(l.audit_devices);
        c.user_lockouts.extend(l.user_lockouts);
        c.seals.extend(l.seals);
        if l.telemetry.is_some() {
            c.telemetry = l.telemetry;
        }
        fn take<T>(slot: &mut Option<T>, value: Option<T>) {
            if value.is_some() {
                *slot = value;
            }
        }
        take(&mut c.api_addr, l.api_addr);
        take(&mut c.cluster_addr, l.cluster_addr);
        take(&mut c.default_lease_ttl, l.default_lease_ttl);
        take(&mut c.max_lease_ttl, l.max_lease_ttl);
        take(&mut c.log_level, l.log_level);
        take(&mut c.log_format, l.log_format);
        take(&mut c.plugin_directory, l.plugin_directory);
        take(&mut c.cluster_name, l.cluster_name);
        take(
            &mut c.unsafe_allow_api_audit_creation,
            l.unsafe_allow_api_audit_creation,
        );
        take(
            &mut c.disable_unauthed_rekey_endpoints,
            l.disable_unauthed_rekey_endpoints,
        );
        take(
            &mut c.disable_unauthed_generate_root_endpoints,
            l.disable_unauthed_generate_root_endpoints,
        );
        take(&mut c.pid_file, l.pid_file);
        let mut later_config = ServerConfig {
            ui: l.ui,
            disable_mlock: l.disable_mlock,
            disable_cache: l.disable_cache,
            raw_storage_endpoint: l.raw_storage_endpoint,
            introspection_endpoint: l.introspection_endpoint,
            allow_audit_log_prefixing: l.allow_audit_log_prefixing,
            ..ServerConfig::default()
        };
        for flag in bools_set {
            *flag.field(c) = *flag.field(&mut later_config);
            if !self.bools_set.contains(&flag) {
                self.bools_set.push(flag);
            }
        }
        self.config.warnings.extend(l.warnings);
    }
}
