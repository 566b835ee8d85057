//! The `storage "raft" { ... }` stanza: parsing, defaults and the node id file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use arca_storage::StorageError;

use crate::perms;

/// Vault's default `performance_multiplier`.
pub const DEFAULT_PERFORMANCE_MULTIPLIER: u32 = 5;
/// Vault's default `snapshot_threshold`: committed entries between two snapshots.
pub const DEFAULT_SNAPSHOT_THRESHOLD: u64 = 8192;
/// Vault's default `trailing_logs`: entries kept in the log behind a snapshot.
pub const DEFAULT_TRAILING_LOGS: u64 = 10_000;
/// Vault's default `max_entry_size` (1 MiB): the largest encoded single write.
pub const DEFAULT_MAX_ENTRY_SIZE: u64 = 1024 * 1024;
/// Name of the file in the data directory that keeps a generated node id.
pub const NODE_ID_FILE: &str = "node-id";

/// hashicorp/raft's base heartbeat (follower) timeout, scaled by the multiplier.
const BASE_ELECTION_TIMEOUT: Duration = Duration::from_millis(1000);

/// Settings of one Raft node.
#[derive(Debug, Clone)]
pub struct RaftConfig {
    /// The data directory (`path`): the log, the state machine and the current snapshot.
    pub path: PathBuf,
    /// The node id (`node_id`); `None` means read or create `<path>/node-id`.
    pub node_id: Option<String>,
    /// `performance_multiplier` (1..=10, default 5): scales the timings below.
    pub performance_multiplier: u32,
    /// `snapshot_threshold`: committed entries after which a new snapshot is taken.
    pub snapshot_threshold: u64,
    /// `trailing_logs`: log entries kept behind the latest snapshot.
    pub trailing_logs: u64,
    /// `max_entry_size`: the largest encoded single write in bytes; a transaction may be
    /// eight times larger, as in Vault.
    pub max_entry_size: u64,
    /// How often the leader sends heartbeats (100 ms × multiplier).
    pub heartbeat_interval: Duration,
    /// The shortest election timeout (1 s × multiplier); the longest is twice that.
    pub election_timeout: Duration,
    /// How long a write waits to be committed and applied before it fails.
    pub apply_timeout: Duration,
}

impl RaftConfig {
    /// A configuration with every default, storing under `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let mut config = Self {
            path: path.into(),
            node_id: None,
            performance_multiplier: DEFAULT_PERFORMANCE_MULTIPLIER,
            snapshot_threshold: DEFAULT_SNAPSHOT_THRESHOLD,
            trailing_logs: DEFAULT_TRAILING_LOGS,
            max_entry_size: DEFAULT_MAX_ENTRY_SIZE,
            heartbeat_interval: Duration::ZERO,
            election_timeout: Duration::ZERO,
            apply_timeout: Duration::from_secs(30),
        };
        config.set_performance_multiplier(DEFAULT_PERFORMANCE_MULTIPLIER);
        config
    }

    /// Sets the multiplier and the heartbeat and election timings derived from it.
    pub fn set_performance_multiplier(&mut self, multiplier: u32) {
        self.performance_multiplier = multiplier;
        self.election_timeout = BASE_ELECTION_TIMEOUT * multiplier;
        self.heartbeat_interval = self.election_timeout / 10;
    }

    /// Parses the keys of a `storage "raft"` stanza; unknown keys (such as the server's
    /// `retry_join`) are ignored.
    pub fn from_map(conf: &HashMap<String, String>) -> Result<Self, StorageError> {
        let path = conf
            .get("path")
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                StorageError::Config("raft storage needs 'path', the data directory".to_owned())
            })?;
        let mut config = Self::new(path);
        if let Some(id) = conf
            .get("node_id")
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
        {
            config.node_id = Some(id.to_owned());
        }
        if let Some(m) = number(conf, "performance_multiplier")? {
            let m = if m == 0 {
                u64::from(DEFAULT_PERFORMANCE_MULTIPLIER)
            } else {
                m
            };
            let m = u32::try_from(m).ok().filter(|m| *m <= 10).ok_or_else(|| {
                StorageError::Config(format!(
                    "'performance_multiplier' must be between 1 and 10, got {m}"
                ))
            })?;
            config.set_performance_multiplier(m);
        }
        if let Some(t) = number(conf, "snapshot_threshold")? {
            if t == 0 {
                return Err(StorageError::Config(
                    "'snapshot_threshold' must be at least 1".to_owned(),
                ));
            }
            config.snapshot_threshold = t;
        }
        if let Some(t) = number(conf, "trailing_logs")? {
            config.trailing_logs = t;
        }
        if let Some(s) = number(conf, "max_entry_size")? {
            if s == 0 {
                return Err(StorageError::Config(
                    "'max_entry_size' must be at least 1 byte".to_owned(),
                ));
            }
            config.max_entry_size = s;
        }
        Ok(config)
    }

    /// The node id: the configured one, else the one in `<path>/node-id`, else a new UUID
    /// written there (mode 0600) so that the node keeps it across restarts.
    pub fn resolve_node_id(&self) -> Result<String, StorageError> {
        if let Some(id) = &self.node_id {
            return Ok(id.clone());
        }
        perms::ensure_private_dir(&self.path)?;
        let file = self.path.join(NODE_ID_FILE);
        match std::fs::read_to_string(&file) {
            Ok(id) if !id.trim().is_empty() => return Ok(id.trim().to_owned()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(StorageError::Backend(format!(
                    "cannot read {}: {e}",
                    file.display()
                )));
            }
        }
        let id = uuid::Uuid::new_v4().to_string();
        perms::write_private_file(&file, id.as_bytes())?;
        Ok(id)
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Parses `conf[key]` as an unsigned integer, `None` when absent.
fn number(conf: &HashMap<String, String>, key: &str) -> Result<Option<u64>, StorageError> {
    match conf.get(key).map(|s| s.trim()) {
        None | Some("") => Ok(None),
        Some(raw) => raw.parse::<u64>().map(Some).map_err(|e| {
            StorageError::Config(format!(
                "'{key}' must be a non-negative integer, got {raw:?}: {e}"
            ))
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_and_overrides() {
        let c = RaftConfig::from_map(&map(&[("path", "/tmp/x")])).unwrap();
        assert_eq!(c.performance_multiplier, 5);
        assert_eq!(c.election_timeout, Duration::from_secs(5));
        assert_eq!(c.heartbeat_interval, Duration::from_millis(500));
        assert_eq!(c.snapshot_threshold, 8192);
        assert_eq!(c.trailing_logs, 10_000);
        assert_eq!(c.max_entry_size, 1 << 20);
        let c = RaftConfig::from_map(&map(&[
            ("path", "/tmp/x"),
            ("node_id", "n1"),
            ("performance_multiplier", "1"),
            ("snapshot_threshold", "10"),
            ("trailing_logs", "3"),
            ("max_entry_size", "2048"),
        ]))
        .unwrap();
        assert_eq!(c.node_id.as_deref(), Some("n1"));
        assert_eq!(c.election_timeout, Duration::from_secs(1));
        assert_eq!(
            (c.snapshot_threshold, c.trailing_logs, c.max_entry_size),
            (10, 3, 2048)
        );
    }

    #[test]
    fn clear_errors() {
        let e = RaftConfig::from_map(&map(&[])).unwrap_err().to_string();
        assert!(e.contains("'path'"), "{e}");
        let e = RaftConfig::from_map(&map(&[("path", "/x"), ("trailing_logs", "lots")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("'trailing_logs'") && e.contains("lots"), "{e}");
        let e = RaftConfig::from_map(&map(&[("path", "/x"), ("performance_multiplier", "11")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("between 1 and 10"), "{e}");
    }

    #[test]
    fn node_id_file_is_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let c = RaftConfig::new(dir.path().join("data"));
        let a = c.resolve_node_id().unwrap();
        let b = c.resolve_node_id().unwrap();
        assert_eq!(a, b);
        assert!(uuid::Uuid::parse_str(&a).is_ok());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("data").join(NODE_ID_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
