//! The `Backend` trait every secrets engine and auth method implements, and the factory the
//! core calls to build one for a mount.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use futures::future::BoxFuture;

use crate::{LogicalError, Request, Response, Storage, SystemView};

/// Paths of a backend that the core treats specially. Each entry is an exact path, a prefix
/// ending in `*`, or a pattern with `+` standing for one segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecialPaths {
    /// Paths that need `sudo` in addition to the capability.
    pub root: Vec<String>,
    /// Paths reachable without a token (logins).
    pub unauthenticated: Vec<String>,
    /// Paths whose storage is local to this node.
    pub local_storage: Vec<String>,
    /// Paths whose storage is seal-wrapped.
    pub seal_wrap_storage: Vec<String>,
}

/// Whether a mount serves secrets or logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendType {
    /// Not known (a plugin that did not say).
    Unknown,
    /// A secrets engine.
    Logical,
    /// An auth method.
    Credential,
}

/// The answer of an existence check: whether the backend checked, and whether the entry exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExistenceCheck {
    /// The path has an existence check.
    pub check_found: bool,
    /// The entry exists (create → update).
    pub exists: bool,
}

/// A secrets engine or auth method serving one mount.
#[async_trait]
pub trait Backend: Send + Sync {
    /// Handles a request whose `path` is relative to the mount. `Ok(None)` means 204.
    async fn handle_request(&self, req: Request) -> Result<Option<Response>, LogicalError>;

    /// Says whether the entry a create/update request names exists.
    async fn handle_existence_check(&self, req: &Request) -> Result<ExistenceCheck, LogicalError>;

    /// The backend's special paths.
    fn special_paths(&self) -> SpecialPaths;

    /// Logical or credential.
    fn backend_type(&self) -> BackendType;

    /// Called once after the factory built the backend, before requests arrive.
    async fn initialize(&self) -> Result<(), LogicalError> {
        Ok(())
    }

    /// Called when the mount is disabled or the backend is replaced by a reload.
    async fn cleanup(&self) {}

    /// Called when another node changed `key` in the mount's storage.
    async fn invalidate(&self, _key: &str) {}

    /// The version the backend reports (plugins), if any.
    fn version(&self) -> Option<String> {
        None
    }
}

/// What a factory gets to build a backend for a mount.
#[derive(Clone)]
pub struct BackendConfig {
    /// The mount's storage view.
    pub storage: Arc<dyn Storage>,
    /// The mount's system view.
    pub system: Arc<dyn SystemView>,
    /// The mount's options plus `plugin_name`, `plugin_type`, `plugin_version`.
    pub config: HashMap<String, String>,
    /// The mount's UUID.
    pub backend_uuid: String,
}

/// Builds a backend for a mount.
pub type Factory = Arc<
    dyn Fn(BackendConfig) -> BoxFuture<'static, Result<Arc<dyn Backend>, LogicalError>>
        + Send
        + Sync,
>;

/// Matches `path` against one special-path entry (exact, `*` suffix, `+` segments).
pub fn special_path_matches(pattern: &str, path: &str) -> bool {
    let (pat, prefix) = match pattern.strip_suffix('*') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    if !pat.contains('+') {
        return if prefix {
            path.starts_with(pat)
        } else {
            path == pat
        };
    }
    let pat_segs: Vec<&str> = pat.split('/').collect();
    let path_segs: Vec<&str> = path.split('/').collect();
    if path_segs.len() < pat_segs.len() || (!prefix && path_segs.len() != pat_segs.len()) {
        return false;
    }
    for (i, ps) in pat_segs.iter().enumerate() {
        let seg = path_segs[i];
        let last = i == pat_segs.len() - 1;
        if *ps == "+" {
            continue;
        }
        if last && prefix {
            if !seg.starts_with(ps) {
                return false;
            }
        } else if seg != *ps {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_path_patterns() {
        let cases = [
            ("login", "login", true),
            ("login", "login/x", false),
            ("login/*", "login/bob", true),
            ("login*", "loginx", true),
            ("role/+/secret-id", "role/r1/secret-id", true),
            ("role/+/secret-id", "role/r1/other", false),
            ("role/+/secret*", "role/r1/secret-id/x", true),
            ("a/+", "a/b/c", false),
        ];
        for (pat, path, want) in cases {
            assert_eq!(special_path_matches(pat, path), want, "{pat} vs {path}");
        }
    }
}
