//! The plugin catalog: external plugins registered by name, type and version, kept inside the
//! barrier at `core/plugin-catalog/<type>/<name>[/<version>]` (each record with a version
//! marker) and cached in memory while unsealed; the builtin backends of the registry are
//! listed beside them. It also picks the plugin a mount runs and checks an executable's
//! SHA-256 before every launch.

pub mod version;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use arca_barrier::Barrier;
use arca_sdk::plugin_catalog::PluginRuntime;
use arca_sdk::plugin_catalog::{
    PluginCatalogEntry, PluginPathError, PluginRunner, PluginType, resolve_plugin_command,
    split_env,
};
use arca_sdk::{Factory, LogicalError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use subtle::ConstantTimeEq;

use crate::mounts::TableKind;
use crate::views::barrier_err;
use version::PluginVersion;

/// Storage prefix of the catalog, inside the barrier.
pub const CATALOG_PREFIX: &str = "core/plugin-catalog/";
/// Version marker written with every catalog record.
pub const CATALOG_RECORD_VERSION: u32 = 1;

/// Backends that exist once per core and are never in the catalog.
const SINGLETONS: [&str; 4] = ["system", "cubbyhole", "identity", "token"];

/// Whether `name` is a singleton backend type (`system`, `cubbyhole`, `identity`, `token`).
pub fn is_singleton_type(name: &str) -> bool {
    SINGLETONS.contains(&name)
}

/// Why a catalog operation failed. Texts follow OpenBao where it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// The version is not semantic.
    #[error("{0}")]
    InvalidVersion(String),
    /// The version carries `+builtin` metadata.
    #[error("version {0:?} is not allowed because 'builtin' is a reserved metadata identifier")]
    ReservedVersion(String),
    /// No `sha256`.
    #[error("missing SHA-256 value")]
    MissingSha,
    /// No `command`.
    #[error("missing command value")]
    MissingCommand,
    /// Arguments both inside `command` and in `args`.
    #[error("must not specify args in command and args field")]
    ArgsTwice,
    /// `sha256` is not hex.
    #[error("Could not decode SHA-256 value from Hex")]
    ShaNotHex,
    /// `sha256` is not 32 bytes.
    #[error("Decoded SHA-256 value is not 32 bytes")]
    ShaLength,
    /// No `plugin_directory` in the server config.
    #[error("could not set plugin, plugin directory is not configured")]
    NoDirectory,
    /// The command does not resolve inside the plugin directory.
    #[error(transparent)]
    Path(#[from] PluginPathError),
    /// The file's checksum is not the one given at registration.
    #[error(
        "sha256 mismatch for plugin command {command:?}: the file has {actual}, the request gave {expected}"
    )]
    RegisterMismatch {
        /// The command as registered.
        command: String,
        /// The file's checksum.
        actual: String,
        /// The checksum given.
        expected: String,
    },
    /// The file changed since registration (checked at every launch).
    #[error(
        "invalid backend version: checksums did not match: plugin command {command:?} has sha256 {actual}, the catalog expects {expected}"
    )]
    LaunchMismatch {
        /// The command.
        command: String,
        /// The file's checksum now.
        actual: String,
        /// The catalog's.
        expected: String,
    },
    /// The file could not be read.
    #[error("could not read plugin command {command:?}: {reason}")]
    Read {
        /// The command.
        command: String,
        /// The system's reason.
        reason: String,
    },
    /// A builtin's version cannot be deleted.
    #[error("version {0:?} cannot be deleted")]
    BuiltinDelete(String),
    /// No such plugin (or version).
    #[error("plugin not found in the catalog: {name}{}", version_suffix(.version))]
    NotFound {
        /// The plugin name.
        name: String,
        /// The version asked for, if any.
        version: String,
    },
    /// `kv` only exists as a builtin.
    #[error("cannot select non-builtin version of secrets plugin kv")]
    NonBuiltinKv,
    /// An external plugin was asked for but no runtime can run it.
    #[error("plugin {0:?} is an external plugin and this server has no plugin runtime to run it")]
    NoRuntime(String),
    /// The untyped registration form needs a type Arca cannot detect.
    #[error("the plugin type must be given: use sys/plugins/catalog/<auth|database|secret>/<name>")]
    TypeRequired,
    /// Storage failed.
    #[error("{0}")]
    Storage(String),
}

fn version_suffix(v: &str) -> String {
    if v.is_empty() {
        String::new()
    } else {
        format!(", version={v}")
    }
}

impl From<CatalogError> for LogicalError {
    fn from(e: CatalogError) -> LogicalError {
        match e {
            CatalogError::NoDirectory
            | CatalogError::Path(_)
            | CatalogError::Read { .. }
            | CatalogError::Storage(_) => LogicalError::internal(e),
            other => LogicalError::bad_request(other.to_string()),
        }
    }
}

/// A registration as the API gives it, before validation.
#[derive(Debug, Clone, Default)]
pub struct PluginRegistration {
    /// Plugin name.
    pub name: String,
    /// Its type.
    pub plugin_type: Option<PluginType>,
    /// `sha256` as hex.
    pub sha256: String,
    /// `command`, possibly with arguments after spaces.
    pub command: String,
    /// `args`, if given.
    pub args: Option<Vec<String>>,
    /// `env`, `KEY=VALUE` each.
    pub env: Vec<String>,
    /// `version`, possibly empty.
    pub version: String,
}

/// Checks a version given by a user: semantic, not `+builtin`; returns the canonical form
/// (empty stays empty).
pub fn canonical_version(v: &str) -> Result<String, CatalogError> {
    if v.is_empty() {
        return Ok(String::new());
    }
    let parsed = PluginVersion::parse(v).map_err(CatalogError::InvalidVersion)?;
    if parsed.is_builtin() {
        return Err(CatalogError::ReservedVersion(v.to_string()));
    }
    Ok(parsed.canonical())
}

impl PluginRegistration {
    /// Validates in OpenBao's order (version, sha present, command present, args, sha hex
    /// and length) and builds the entry.
    pub fn validate(self) -> Result<PluginCatalogEntry, CatalogError> {
        let plugin_type = self.plugin_type.ok_or(CatalogError::TypeRequired)?;
        let version = canonical_version(&self.version)?;
        if self.sha256.is_empty() {
            return Err(CatalogError::MissingSha);
        }
        if self.command.is_empty() {
            return Err(CatalogError::MissingCommand);
        }
        let mut parts = self.command.split(' ');
        let command = parts.next().unwrap_or_default().to_string();
        let inline: Vec<String> = parts.map(String::from).collect();
        let args = match self.args {
            Some(a) if !a.is_empty() => {
                if !inline.is_empty() {
                    return Err(CatalogError::ArgsTwice);
                }
                a
            }
            _ => inline,
        };
        let sha256 = hex::decode(&self.sha256).map_err(|_| CatalogError::ShaNotHex)?;
        if sha256.len() != 32 {
            return Err(CatalogError::ShaLength);
        }
        Ok(PluginCatalogEntry {
            name: self.name,
            plugin_type,
            version,
            command,
            args,
            env: self.env,
            sha256,
            builtin: false,
        })
    }
}

/// A stored catalog record.
#[derive(Serialize, Deserialize)]
struct CatalogRecord {
    version: u32,
    plugin: PluginCatalogEntry,
}

type CatalogKey = (PluginType, String, String);

/// Builtin backends the core can mount, by type name. The binary fills it at start-up.
#[derive(Clone, Default)]
pub struct BackendRegistry {
    /// Secrets engines.
    pub secrets: HashMap<String, Factory>,
    /// Auth methods.
    pub auth: HashMap<String, Factory>,
    /// Builtin database plugins (run by the database engine itself, listed in the catalog as
    /// OpenBao lists its own).
    pub databases: Vec<String>,
}

/// The plugin catalog subsystem: the registry's builtins, the stored externals (cached in
/// memory while unsealed), the plugin directory and the runtime that runs externals.
pub(crate) struct Catalog {
    externals: ArcSwap<BTreeMap<CatalogKey, PluginCatalogEntry>>,
    barrier: Arc<Barrier>,
    registry: BackendRegistry,
    version: String,
    plugin_directory: Option<PathBuf>,
    plugin_runtime: Option<Arc<dyn PluginRuntime>>,
    /// The mount-table lock: catalog changes wait for mount changes and reloads.
    table_lock: Arc<tokio::sync::Mutex<()>>,
}

fn key_of(e: &PluginCatalogEntry) -> CatalogKey {
    (e.plugin_type, e.name.clone(), e.version.clone())
}

fn storage_key(e: &PluginCatalogEntry) -> String {
    if e.version.is_empty() {
        format!("{CATALOG_PREFIX}{}/{}", e.plugin_type, e.name)
    } else {
        format!("{CATALOG_PREFIX}{}/{}/{}", e.plugin_type, e.name, e.version)
    }
}

/// What a mount runs.
pub(crate) enum Selected {
    /// A builtin backend with its factory.
    Builtin(Factory),
    /// An external plugin from the catalog.
    External(PluginCatalogEntry),
}

/// The catalog type of a mount table.
pub(crate) fn table_plugin_type(table: TableKind) -> PluginType {
    match table {
        TableKind::Mounts => PluginType::Secret,
        TableKind::Auth => PluginType::Auth,
    }
}

fn sha256_hex_of(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

async fn hash_file(path: PathBuf) -> Result<Vec<u8>, String> {
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut f = std::fs::File::open(&path).map_err(|e| e.to_string())?;
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = f.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            ctx.update(buf.get(..n).unwrap_or_default());
        }
        Ok(ctx.finish().as_ref().to_vec())
    })
    .await
    .map_err(|e| e.to_string())?
}

impl Catalog {
    /// A catalog over `barrier`, empty until [`Catalog::load`].
    pub(crate) fn new(
        barrier: Arc<Barrier>,
        registry: BackendRegistry,
        version: String,
        plugin_directory: Option<PathBuf>,
        plugin_runtime: Option<Arc<dyn PluginRuntime>>,
        table_lock: Arc<tokio::sync::Mutex<()>>,
    ) -> Catalog {
        Catalog {
            externals: ArcSwap::default(),
            barrier,
            registry,
            version,
            plugin_directory,
            plugin_runtime,
            table_lock,
        }
    }

    /// The builtin factory of `kind` in the registry (no singletons, no catalog lookup).
    pub(crate) fn registry_factory(&self, table: TableKind, kind: &str) -> Option<Factory> {
        match table {
            TableKind::Mounts => self.registry.secrets.get(kind).cloned(),
            TableKind::Auth => self.registry.auth.get(kind).cloned(),
        }
    }

    /// Whether the registry has a builtin of `kind` for `table`.
    pub(crate) fn registry_has(&self, table: TableKind, kind: &str) -> bool {
        self.registry_factory(table, kind).is_some()
    }

    /// The builtin version string (`v<arca version>+builtin`).
    pub fn builtin_plugin_version(&self) -> String {
        crate::builtin_version(&self.version)
    }

    fn builtin_factory(&self, t: PluginType, name: &str) -> Option<Factory> {
        if is_singleton_type(name) {
            return None;
        }
        let reg = &self.registry;
        match t {
            PluginType::Secret => reg.secrets.get(name).cloned(),
            PluginType::Auth => reg.auth.get(name).cloned(),
            PluginType::Database | PluginType::Unknown => None,
        }
    }

    /// Whether `name` is a builtin of type `t` (a backend with a factory, or a database
    /// plugin).
    fn has_builtin(&self, t: PluginType, name: &str) -> bool {
        match t {
            PluginType::Database => self.registry.databases.iter().any(|d| d == name),
            _ => self.builtin_factory(t, name).is_some(),
        }
    }

    fn builtin_entry(&self, t: PluginType, name: &str) -> PluginCatalogEntry {
        PluginCatalogEntry {
            name: name.to_string(),
            plugin_type: t,
            version: self.builtin_plugin_version(),
            command: String::new(),
            args: Vec::new(),
            env: Vec::new(),
            sha256: Vec::new(),
            builtin: true,
        }
    }

    fn builtin_entries(&self) -> Vec<PluginCatalogEntry> {
        let reg = &self.registry;
        let mut out = Vec::new();
        for (t, names) in [
            (PluginType::Secret, reg.secrets.keys()),
            (PluginType::Auth, reg.auth.keys()),
        ] {
            for n in names {
                if !is_singleton_type(n) {
                    out.push(self.builtin_entry(t, n));
                }
            }
        }
        for n in &reg.databases {
            out.push(self.builtin_entry(PluginType::Database, n));
        }
        out
    }

    /// Reads the stored catalog into memory (at unseal).
    pub(crate) async fn load(&self) -> Result<(), LogicalError> {
        let b = &self.barrier;
        let mut map = BTreeMap::new();
        let mut pending = vec![CATALOG_PREFIX.to_string()];
        while let Some(prefix) = pending.pop() {
            for k in b.list(&prefix).await.map_err(barrier_err)? {
                let full = format!("{prefix}{k}");
                if k.ends_with('/') {
                    pending.push(full);
                    continue;
                }
                let Some(bytes) = b.get(&full).await.map_err(barrier_err)? else {
                    continue;
                };
                let rec: CatalogRecord =
                    serde_json::from_slice(&bytes).map_err(LogicalError::internal)?;
                if rec.version != CATALOG_RECORD_VERSION {
                    return Err(LogicalError::internal(format!(
                        "unsupported plugin catalog record version {} at {full}",
                        rec.version
                    )));
                }
                map.insert(key_of(&rec.plugin), rec.plugin);
            }
        }
        self.externals.store(Arc::new(map));
        Ok(())
    }

    /// Forgets the in-memory catalog (at seal).
    pub(crate) fn clear(&self) {
        self.externals.store(Arc::new(BTreeMap::new()));
    }

    fn plugin_directory(&self) -> Result<&Path, CatalogError> {
        self.plugin_directory
            .as_deref()
            .ok_or(CatalogError::NoDirectory)
    }

    /// Hashes the file `command` names and compares it with `expected` in constant time;
    /// `Ok(Err(actual))` on a mismatch.
    async fn check_plugin_file(
        &self,
        command: &str,
        expected: &[u8],
    ) -> Result<Result<(), String>, CatalogError> {
        let dir = self.plugin_directory()?;
        let path = resolve_plugin_command(dir, command)?;
        let actual = hash_file(path).await.map_err(|reason| CatalogError::Read {
            command: command.to_string(),
            reason,
        })?;
        if actual.len() == expected.len() && bool::from(actual.ct_eq(expected)) {
            Ok(Ok(()))
        } else {
            Ok(Err(sha256_hex_of(&actual)))
        }
    }

    /// Checks an external entry's executable right before it is launched.
    pub(crate) async fn verify_plugin_launch(
        &self,
        entry: &PluginCatalogEntry,
    ) -> Result<(), CatalogError> {
        match self
            .check_plugin_file(&entry.command, &entry.sha256)
            .await?
        {
            Ok(()) => Ok(()),
            Err(actual) => Err(CatalogError::LaunchMismatch {
                command: entry.command.clone(),
                actual,
                expected: entry.sha256_hex(),
            }),
        }
    }

    /// Registers (or replaces) an external plugin: the command must resolve directly inside
    /// the plugin directory and the file must have the given SHA-256.
    pub async fn register_plugin(&self, reg: PluginRegistration) -> Result<(), LogicalError> {
        let entry = reg.validate()?;
        if let Err(actual) = self
            .check_plugin_file(&entry.command, &entry.sha256)
            .await?
        {
            return Err(CatalogError::RegisterMismatch {
                command: entry.command.clone(),
                actual,
                expected: entry.sha256_hex(),
            }
            .into());
        }
        let _guard = self.table_lock.lock().await;
        let rec = CatalogRecord {
            version: CATALOG_RECORD_VERSION,
            plugin: entry.clone(),
        };
        let bytes = serde_json::to_vec(&rec).map_err(LogicalError::internal)?;
        self.barrier
            .put(&storage_key(&entry), &bytes)
            .await
            .map_err(barrier_err)?;
        self.externals.rcu(|old| {
            let mut m = (**old).clone();
            m.insert(key_of(&entry), entry.clone());
            m
        });
        Ok(())
    }

    /// The entry of `name` at `version` (empty: the unversioned external, else the builtin).
    pub fn plugin_entry(
        &self,
        t: PluginType,
        name: &str,
        version: &str,
    ) -> Result<Option<PluginCatalogEntry>, LogicalError> {
        let builtin = self.builtin_plugin_version();
        let externals = self.externals.load();
        if version.is_empty() {
            if let Some(e) = externals.get(&(t, name.to_string(), String::new())) {
                return Ok(Some(e.clone()));
            }
            return Ok(self
                .has_builtin(t, name)
                .then(|| self.builtin_entry(t, name)));
        }
        let parsed = PluginVersion::parse(version).map_err(CatalogError::InvalidVersion)?;
        if parsed.is_builtin() {
            return Ok((parsed.canonical() == builtin && self.has_builtin(t, name))
                .then(|| self.builtin_entry(t, name)));
        }
        Ok(externals
            .get(&(t, name.to_string(), parsed.canonical()))
            .cloned())
    }

    /// How to launch the external database plugin `name` at `version` (empty: the
    /// unversioned registration), as OpenBao's catalog `Get` answers a database engine:
    /// `None` when it is not registered or no plugin directory is configured (then only
    /// builtins exist, and database builtins are the engine's own).
    pub(crate) fn database_runner(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<PluginRunner>, LogicalError> {
        let Some(dir) = self.plugin_directory.as_deref() else {
            return Ok(None);
        };
        let Some(entry) = self
            .plugin_entry(PluginType::Database, name, version)?
            .filter(|e| !e.builtin)
        else {
            return Ok(None);
        };
        let command = resolve_plugin_command(dir, &entry.command)
            .map_err(|e| LogicalError::bad_request(e.to_string()))?;
        let sha256: [u8; 32] = entry
            .sha256
            .as_slice()
            .try_into()
            .map_err(|_| LogicalError::bad_request(CatalogError::ShaLength.to_string()))?;
        Ok(Some(PluginRunner {
            name: entry.name.clone(),
            version: entry.version.clone(),
            command,
            args: entry.args.clone(),
            env: split_env(&entry.env),
            sha256,
        }))
    }

    /// Removes a registration; deleting something absent (or a builtin, without a version)
    /// is a no-op. A `+builtin` version cannot be deleted.
    pub async fn delete_plugin(
        &self,
        t: PluginType,
        name: &str,
        version: &str,
    ) -> Result<(), LogicalError> {
        let canonical = if version.is_empty() {
            String::new()
        } else {
            let parsed = PluginVersion::parse(version).map_err(CatalogError::InvalidVersion)?;
            if parsed.is_builtin() {
                return Err(CatalogError::BuiltinDelete(version.to_string()).into());
            }
            parsed.canonical()
        };
        let _guard = self.table_lock.lock().await;
        let key = (t, name.to_string(), canonical);
        let Some(entry) = self.externals.load().get(&key).cloned() else {
            return Ok(());
        };
        self.barrier
            .delete(&storage_key(&entry))
            .await
            .map_err(barrier_err)?;
        self.externals.rcu(|old| {
            let mut m = (**old).clone();
            m.remove(&key);
            m
        });
        Ok(())
    }

    /// Every plugin name of type `t` (builtins and externals), sorted, once each.
    pub fn plugin_names(&self, t: PluginType) -> Vec<String> {
        let mut names: Vec<String> = self
            .plugin_catalog()
            .into_iter()
            .filter(|e| e.plugin_type == t)
            .map(|e| e.name)
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The whole catalog: builtins and every registered version, sorted by type, name and
    /// version.
    pub fn plugin_catalog(&self) -> Vec<PluginCatalogEntry> {
        let mut all = self.builtin_entries();
        all.extend(self.externals.load().values().cloned());
        all.sort_by(|a, b| {
            (a.plugin_type.as_str(), &a.name, !a.builtin, &a.version).cmp(&(
                b.plugin_type.as_str(),
                &b.name,
                !b.builtin,
                &b.version,
            ))
        });
        all
    }

    /// Whether `name` exists in the catalog as any type; the types it has.
    pub fn plugin_types_of(&self, name: &str) -> Vec<PluginType> {
        let mut types: Vec<PluginType> = self
            .plugin_catalog()
            .into_iter()
            .filter(|e| e.name == name)
            .map(|e| e.plugin_type)
            .collect();
        types.dedup();
        types
    }

    /// Whether a mount of type `kind` in `table` can be created (builtin or registered).
    pub(crate) fn catalog_has(&self, table: TableKind, kind: &str) -> bool {
        let t = table_plugin_type(table);
        self.builtin_factory(t, kind).is_some()
            || self
                .externals
                .load()
                .keys()
                .any(|(kt, n, _)| *kt == t && n == kind)
    }

    /// Picks what a mount of `kind` asking for `version` runs, as OpenBao does: a given
    /// version must exist (the builtin version selects the builtin); with none, an
    /// unversioned external wins, else the highest registered version, else the builtin.
    pub(crate) fn select_plugin(
        &self,
        table: TableKind,
        kind: &str,
        version: &str,
    ) -> Result<Selected, CatalogError> {
        let t = table_plugin_type(table);
        let externals = self.externals.load();
        let builtin = self.builtin_factory(t, kind);
        if !version.is_empty() {
            let parsed = PluginVersion::parse(version).map_err(CatalogError::InvalidVersion)?;
            let canonical = parsed.canonical();
            if parsed.is_builtin() {
                if canonical == self.builtin_plugin_version()
                    && let Some(f) = builtin
                {
                    return Ok(Selected::Builtin(f));
                }
            } else if let Some(e) = externals.get(&(t, kind.to_string(), canonical)) {
                return Ok(Selected::External(e.clone()));
            }
            if table == TableKind::Mounts && kind == "kv" {
                return Err(CatalogError::NonBuiltinKv);
            }
            return Err(CatalogError::NotFound {
                name: kind.to_string(),
                version: version.to_string(),
            });
        }
        if let Some(e) = externals.get(&(t, kind.to_string(), String::new())) {
            return Ok(Selected::External(e.clone()));
        }
        let best = externals
            .iter()
            .filter(|((kt, n, v), _)| *kt == t && n == kind && !v.is_empty())
            .filter_map(|(_, e)| PluginVersion::parse(&e.version).ok().map(|v| (v, e)))
            .max_by(|a, b| a.0.cmp(&b.0));
        if let Some((_, e)) = best {
            return Ok(Selected::External(e.clone()));
        }
        match builtin {
            Some(f) => Ok(Selected::Builtin(f)),
            None => Err(CatalogError::NotFound {
                name: kind.to_string(),
                version: String::new(),
            }),
        }
    }

    /// A factory for an external entry: checks the executable's checksum, then asks the
    /// plugin runtime.
    pub(crate) async fn external_factory(
        &self,
        entry: &PluginCatalogEntry,
    ) -> Result<Factory, LogicalError> {
        let Some(runtime) = self.plugin_runtime.clone() else {
            return Err(CatalogError::NoRuntime(entry.name.clone()).into());
        };
        self.verify_plugin_launch(entry)
            .await
            .map_err(|e| match e {
                // A launch failure is the mount's problem (400), not the server's.
                CatalogError::Path(p) => LogicalError::bad_request(p.to_string()),
                CatalogError::NoDirectory => LogicalError::bad_request(
                    "cannot run external plugins: plugin directory is not configured",
                ),
                other => other.into(),
            })?;
        let dir = self.plugin_directory()?;
        runtime.factory(entry, dir).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn reg(sha: &str, command: &str, args: Option<Vec<&str>>, version: &str) -> PluginRegistration {
        PluginRegistration {
            name: "p".into(),
            plugin_type: Some(PluginType::Secret),
            sha256: sha.into(),
            command: command.into(),
            args: args.map(|a| a.into_iter().map(String::from).collect()),
            env: vec![],
            version: version.into(),
        }
    }

    const SHA: &str = "299001868fb8c02fd431c336c6d058f5558c5dff5b5af5e6fe04b870a6a9cbba";

    #[test]
    fn validation_order_is_openbaos() {
        let err = |r: PluginRegistration| r.validate().unwrap_err().to_string();
        assert_eq!(
            err(reg("zz", "a b", Some(vec!["c"]), "bad")),
            "version \"bad\" is not a valid semantic version: malformed version: bad"
        );
        assert_eq!(err(reg("", "", None, "")), "missing SHA-256 value");
        assert_eq!(err(reg("zz", "", None, "")), "missing command value");
        assert_eq!(
            err(reg("zz", "a b", Some(vec!["c"]), "")),
            "must not specify args in command and args field"
        );
        assert_eq!(
            err(reg("zz", "a", None, "")),
            "Could not decode SHA-256 value from Hex"
        );
        assert_eq!(
            err(reg("ab", "a", None, "")),
            "Decoded SHA-256 value is not 32 bytes"
        );
        assert_eq!(
            err(reg(SHA, "a", None, "v1.0.0+builtin")),
            "version \"v1.0.0+builtin\" is not allowed because 'builtin' is a reserved metadata identifier"
        );
        let ok = reg(SHA, "a -x -y", None, "1.0").validate().unwrap();
        assert_eq!(ok.command, "a");
        assert_eq!(ok.args, vec!["-x", "-y"]);
        assert_eq!(ok.version, "v1.0.0");
        assert_eq!(ok.sha256_hex(), SHA);
    }

    #[test]
    fn errors_map_to_openbaos_statuses() {
        let e: LogicalError = CatalogError::NoDirectory.into();
        assert_eq!(e.status(), 500);
        assert_eq!(
            e.wire_messages(),
            vec![
                "1 error occurred:\n\t* could not set plugin, plugin directory is not configured\n\n"
            ]
        );
        let e: LogicalError = CatalogError::Path(PluginPathError::ParentReference).into();
        assert_eq!(e.status(), 500);
        let e: LogicalError = CatalogError::NotFound {
            name: "approle".into(),
            version: "v1.0.0".into(),
        }
        .into();
        assert_eq!(
            e.wire_messages(),
            vec!["plugin not found in the catalog: approle, version=v1.0.0"]
        );
        assert_eq!(e.status(), 400);
    }
}
