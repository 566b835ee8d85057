//! The plugin catalog's entry and the seam through which an external-plugin runtime hands the
//! core a [`Factory`] for a registered plugin.
//!
//! The core owns the catalog (registration, storage, version selection, the sha256 check
//! before every launch); a runtime only turns one catalog entry into a factory. The runtime
//! crate depends on this crate alone, so both sides meet here.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Factory, LogicalError};

/// The kind of backend a catalog entry serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginType {
    /// Not said at registration.
    Unknown,
    /// An auth method.
    Auth,
    /// A database plugin (run by a database secrets engine).
    Database,
    /// A secrets engine.
    Secret,
}

impl PluginType {
    /// The name used in API paths and storage keys (`secret`, `auth`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            PluginType::Unknown => "unknown",
            PluginType::Auth => "auth",
            PluginType::Database => "database",
            PluginType::Secret => "secret",
        }
    }

    /// Parses a type name as the API spells it.
    pub fn parse(s: &str) -> Option<PluginType> {
        match s {
            "unknown" => Some(PluginType::Unknown),
            "auth" => Some(PluginType::Auth),
            "database" => Some(PluginType::Database),
            "secret" => Some(PluginType::Secret),
            _ => None,
        }
    }
}

impl fmt::Display for PluginType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One plugin registered in the catalog (or a builtin, with `builtin` set and no command).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginCatalogEntry {
    /// The plugin name mounts refer to (`type` of a mount).
    pub name: String,
    /// What it serves.
    #[serde(rename = "type")]
    pub plugin_type: PluginType,
    /// Canonical semantic version with a leading `v` (`v1.2.3`), or empty for an unversioned
    /// registration.
    #[serde(default)]
    pub version: String,
    /// The executable, relative to the plugin directory.
    #[serde(default)]
    pub command: String,
    /// Arguments the executable is started with.
    #[serde(default)]
    pub args: Vec<String>,
    /// `KEY=VALUE` pairs added to the plugin's environment. They may hold credentials, so
    /// `Debug` shows only the keys.
    #[serde(default)]
    pub env: Vec<String>,
    /// The SHA-256 of the executable (32 bytes).
    #[serde(default, with = "hex_bytes")]
    pub sha256: Vec<u8>,
    /// A builtin backend of the server, not an executable.
    #[serde(default)]
    pub builtin: bool,
}

impl fmt::Debug for PluginCatalogEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env_keys: Vec<&str> = self
            .env
            .iter()
            .map(|kv| kv.split_once('=').map_or(kv.as_str(), |(k, _)| k))
            .collect();
        f.debug_struct("PluginCatalogEntry")
            .field("name", &self.name)
            .field("plugin_type", &self.plugin_type)
            .field("version", &self.version)
            .field("command", &self.command)
            .field("args", &self.args)
            .field("env_keys", &env_keys)
            .field("sha256", &self.sha256_hex())
            .field("builtin", &self.builtin)
            .finish()
    }
}

impl PluginCatalogEntry {
    /// The checksum as lowercase hex.
    pub fn sha256_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(self.sha256.len() * 2);
        for b in &self.sha256 {
            s.push(DIGITS[(b >> 4) as usize] as char);
            s.push(DIGITS[(b & 0x0f) as usize] as char);
        }
        s
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        let mut out = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            out.push_str(&format!("{b:02x}"));
        }
        s.serialize_str(&out)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        if text.len() % 2 != 0 {
            return Err(D::Error::custom("odd hex length"));
        }
        (0..text.len())
            .step_by(2)
            .map(|i| {
                text.get(i..i + 2)
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                    .ok_or_else(|| D::Error::custom("invalid hex"))
            })
            .collect()
    }
}

/// How to run one external plugin of the catalog (OpenBao's `PluginRunner` of a plugin that is
/// not builtin): what a database secrets engine launches for a connection whose
/// `plugin_name` is a registered database plugin.
#[derive(Clone, PartialEq, Eq)]
pub struct PluginRunner {
    /// The name it is registered under.
    pub name: String,
    /// The registered version (`v1.2.3`), empty for an unversioned registration.
    pub version: String,
    /// The executable, already resolved (symlinks followed) inside the plugin directory.
    pub command: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Its extra environment as `(key, value)` pairs. Values may hold credentials, so `Debug`
    /// shows only the keys.
    pub env: Vec<(String, String)>,
    /// The SHA-256 the executable must have right before it is run.
    pub sha256: [u8; 32],
}

impl fmt::Debug for PluginRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginRunner")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("command", &self.command)
            .field("args", &self.args)
            .field(
                "env_keys",
                &self.env.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Splits catalog `env` entries (`"K=V"`) into pairs; an entry without `=` is skipped.
pub fn split_env(env: &[String]) -> Vec<(String, String)> {
    env.iter()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// Builds factories for external plugins. The server's core holds at most one, and calls it
/// every time a mount of an external plugin is set up or reloaded.
///
/// Before calling it, the core has checked that `entry.command` resolves (after symlinks)
/// directly inside `plugin_directory` and that the file's SHA-256 equals `entry.sha256`. The
/// runtime should check the checksum again right before it executes the file (see
/// [`resolve_plugin_command`]). The factory it returns is called once per mount instance, with
/// the mount's storage, system view and config (`plugin_name`, `plugin_type`,
/// `plugin_version` plus the mount options); the core then calls `initialize()` on the backend
/// and, on reload, `cleanup()` on the instance it replaced once no request holds it any more.
#[async_trait]
pub trait PluginRuntime: Send + Sync {
    /// A factory for the plugin `entry`, whose executable lives in `plugin_directory`.
    async fn factory(
        &self,
        entry: &PluginCatalogEntry,
        plugin_directory: &Path,
    ) -> Result<Factory, LogicalError>;
}

/// Why a plugin command cannot be run from the plugin directory. The texts are OpenBao's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginPathError {
    /// The command climbs with `..`.
    #[error("path cannot contain parent references")]
    ParentReference,
    /// After following symlinks the file is not directly inside the plugin directory.
    #[error("cannot execute files outside of configured plugin directory")]
    OutsideDirectory,
    /// A path component does not exist or cannot be read.
    #[error("error while validating the command path: lstat {path}: {reason}")]
    Lookup {
        /// The path that failed.
        path: String,
        /// The system's reason.
        reason: String,
    },
    /// The plugin directory itself cannot be resolved.
    #[error("could not resolve the plugin directory {path}: {reason}")]
    Directory {
        /// The configured directory.
        path: String,
        /// The system's reason.
        reason: String,
    },
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

/// Resolves `command` (relative to `plugin_directory`; a leading `/` is joined too, as OpenBao
/// does) to the real file it names, following symlinks, and checks that file sits directly
/// inside the (resolved) plugin directory.
pub fn resolve_plugin_command(
    plugin_directory: &Path,
    command: &str,
) -> Result<PathBuf, PluginPathError> {
    let relative = Path::new(command);
    if relative.components().any(|c| c == Component::ParentDir) {
        return Err(PluginPathError::ParentReference);
    }
    let dir = std::fs::canonicalize(plugin_directory).map_err(|e| PluginPathError::Directory {
        path: plugin_directory.display().to_string(),
        reason: io_reason(&e),
    })?;
    let mut joined = plugin_directory.to_path_buf();
    for c in relative.components() {
        if let Component::Normal(part) = c {
            joined.push(part);
            if let Err(e) = std::fs::symlink_metadata(&joined) {
                return Err(PluginPathError::Lookup {
                    path: joined.display().to_string(),
                    reason: io_reason(&e),
                });
            }
        }
    }
    let real = std::fs::canonicalize(&joined).map_err(|e| PluginPathError::Lookup {
        path: joined.display().to_string(),
        reason: io_reason(&e),
    })?;
    if real.parent() != Some(dir.as_path()) {
        return Err(PluginPathError::OutsideDirectory);
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn types_round_trip() {
        for t in [
            PluginType::Unknown,
            PluginType::Auth,
            PluginType::Database,
            PluginType::Secret,
        ] {
            assert_eq!(PluginType::parse(t.as_str()), Some(t));
        }
        assert_eq!(PluginType::parse("kms"), None);
    }

    #[test]
    fn entry_serializes_sha_as_hex_and_hides_env_values() {
        let e = PluginCatalogEntry {
            name: "p".into(),
            plugin_type: PluginType::Secret,
            version: "v1.0.0".into(),
            command: "p".into(),
            args: vec![],
            env: vec!["TOKEN=hunter2".into()],
            sha256: vec![0xab, 0x01],
            builtin: false,
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["sha256"], "ab01");
        assert_eq!(v["type"], "secret");
        let back: PluginCatalogEntry = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
        let dbg = format!("{e:?}");
        assert!(dbg.contains("TOKEN"));
        assert!(!dbg.contains("hunter2"));
    }

    #[test]
    fn commands_stay_inside_the_directory() {
        let root = std::env::temp_dir().join(format!("arca-sdk-plugin-{}", std::process::id()));
        let dir = root.join("plugins");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("good"), b"x").unwrap();
        std::fs::write(dir.join("sub/nested"), b"x").unwrap();
        std::fs::write(root.join("outside"), b"x").unwrap();
        let _ = std::fs::remove_file(dir.join("link-out"));
        let _ = std::fs::remove_file(dir.join("link-in"));
        std::os::unix::fs::symlink(root.join("outside"), dir.join("link-out")).unwrap();
        std::os::unix::fs::symlink(dir.join("good"), dir.join("link-in")).unwrap();

        assert!(resolve_plugin_command(&dir, "good").is_ok());
        assert_eq!(
            resolve_plugin_command(&dir, "link-in").unwrap(),
            std::fs::canonicalize(dir.join("good")).unwrap()
        );
        assert_eq!(
            resolve_plugin_command(&dir, "../outside"),
            Err(PluginPathError::ParentReference)
        );
        assert_eq!(
            resolve_plugin_command(&dir, "link-out"),
            Err(PluginPathError::OutsideDirectory)
        );
        assert_eq!(
            resolve_plugin_command(&dir, "sub/nested"),
            Err(PluginPathError::OutsideDirectory)
        );
        let missing = resolve_plugin_command(&dir, "/bin/sh").unwrap_err();
        assert_eq!(
            missing.to_string(),
            format!(
                "error while validating the command path: lstat {}: no such file or directory",
                dir.join("bin").display()
            )
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}
