//! The router: longest-prefix match from a request path to a mount, each mount's backend held
//! behind an atomically swappable handle so a reload never blocks or fails a request.

use std::collections::BTreeMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use arca_sdk::backend::special_path_matches;
use arca_sdk::{Backend, SpecialPaths, Storage};

use crate::mounts::MountEntry;

/// A running backend and the special paths it declared.
pub struct BackendHandle {
    /// The backend.
    pub backend: Arc<dyn Backend>,
    /// Its special paths, read once at mount.
    pub special: SpecialPaths,
}

/// One routed mount.
pub struct RouteEntry {
    /// The mount entry (replaced on tune).
    pub mount: ArcSwap<MountEntry>,
    /// The backend (replaced on reload).
    pub backend: ArcSwap<BackendHandle>,
    /// The backend's storage view.
    pub storage: Arc<dyn Storage>,
}

impl RouteEntry {
    /// Whether `rel` (mount-relative) is a root-protected path of the backend.
    pub fn is_root_path(&self, rel: &str) -> bool {
        self.backend
            .load()
            .special
            .root
            .iter()
            .any(|p| special_path_matches(p, rel))
    }

    /// Whether `rel` is reachable without a token.
    pub fn is_unauthenticated_path(&self, rel: &str) -> bool {
        self.backend
            .load()
            .special
            .unauthenticated
            .iter()
            .any(|p| special_path_matches(p, rel))
    }
}

/// Maps route paths (`"secret/"`, `"auth/token/"`) to mounts.
#[derive(Default)]
pub struct Router {
    routes: ArcSwap<BTreeMap<String, Arc<RouteEntry>>>,
}

impl Router {
    /// An empty router.
    pub fn new() -> Router {
        Router::default()
    }

    /// Adds or replaces the route at `path`.
    pub fn insert(&self, path: String, entry: Arc<RouteEntry>) {
        self.routes.rcu(|old| {
            let mut m = (**old).clone();
            m.insert(path.clone(), entry.clone());
            m
        });
    }

    /// Removes the route at `path`, returning it.
    pub fn remove(&self, path: &str) -> Option<Arc<RouteEntry>> {
        let mut removed = None;
        self.routes.rcu(|old| {
            let mut m = (**old).clone();
            removed = m.remove(path);
            m
        });
        removed
    }

    /// Removes every route.
    pub fn clear(&self) -> Vec<Arc<RouteEntry>> {
        let old = self.routes.swap(Arc::new(BTreeMap::new()));
        old.values().cloned().collect()
    }

    /// The route exactly at `path`.
    pub fn get(&self, path: &str) -> Option<Arc<RouteEntry>> {
        self.routes.load().get(path).cloned()
    }

    /// The longest mount that is a prefix of `path` (a path equal to a mount without its
    /// trailing slash also matches), with the mount path.
    pub fn route(&self, path: &str) -> Option<(String, Arc<RouteEntry>)> {
        let routes = self.routes.load();
        // Candidate prefixes end at each '/', longest first; plus the whole path + '/'.
        let with_slash = format!("{path}/");
        if !path.ends_with('/')
            && let Some(e) = routes.get(&with_slash)
        {
            return Some((with_slash, e.clone()));
        }
        let bytes = path.as_bytes();
        let mut i = bytes.len();
        while i > 0 {
            if bytes[i - 1] == b'/' {
                let prefix = &path[..i];
                if let Some(e) = routes.get(prefix) {
                    return Some((prefix.to_string(), e.clone()));
                }
            }
            i -= 1;
        }
        None
    }

    /// Every route, sorted by path.
    pub fn all(&self) -> Vec<(String, Arc<RouteEntry>)> {
        self.routes
            .load()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}
