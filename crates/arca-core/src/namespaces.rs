//! The namespace store: every namespace (OpenBao's `id`, `uuid`, `path`, `custom_metadata`,
//! lock and taint), persisted inside the barrier in its parent's storage
//! (`core/namespaces/<uuid>` for children of the root, `namespaces/<parent uuid>/core/
//! namespaces/<uuid>` below), indexed in memory by path and by id, and the resolution of a
//! request's namespace from its header and its path.
//!
//! Everything a non-root namespace owns lives under its storage prefix `namespaces/<uuid>/`
//! (mount tables, mounts' data, policies, leases, child namespaces), so deleting it clears one
//! prefix. Tokens stay in the one token store, tagged with their namespace's id.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arc_swap::ArcSwap;
use arca_sdk::storage::StorageExt;
use arca_sdk::{LogicalError, Storage};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::random::random_base62;

/// The root namespace's id.
pub const ROOT_ID: &str = "root";
/// The root namespace's uuid (OpenBao's).
pub const ROOT_UUID: &str = "00000000-0000-0000-0000-000000000000";
/// Length of a namespace id (OpenBao uses one more character than Vault's five).
pub const NAMESPACE_ID_LEN: usize = 6;
/// Version marker of a stored namespace.
pub const NAMESPACE_ENTRY_VERSION: u32 = 1;
/// Where a namespace's children are recorded, inside its storage prefix.
const CHILDREN_DIR: &str = "core/namespaces/";
/// Names no namespace may take.
const RESERVED_NAMES: [&str; 9] = [
    "",
    ".",
    "..",
    "root",
    "sys",
    "audit",
    "auth",
    "cubbyhole",
    "identity",
];

/// One namespace.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Namespace {
    /// Version marker.
    #[serde(default)]
    pub version: u32,
    /// The short id (`root`, or 6 base62 characters), the suffix of its tokens and leases.
    pub id: String,
    /// The uuid, which names its storage prefix.
    pub uuid: String,
    /// The full path, ending in `/` (`""` for the root).
    pub path: String,
    /// Being created or deleted: not addressable.
    #[serde(default)]
    pub tainted: bool,
    /// Set while the namespace is locked; the key that unlocks it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlock_key: Option<String>,
    /// Free-form metadata.
    #[serde(default)]
    pub custom_metadata: BTreeMap<String, String>,
    /// Has a seal of its own (see `namespace_seals`): its children and data are readable only
    /// while it is unsealed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sealable: bool,
    /// Its storage prefix: `namespaces/<uuid>/` inside its parent's (empty for the root).
    #[serde(default)]
    pub prefix: String,
}

impl std::fmt::Debug for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Namespace")
            .field("id", &self.id)
            .field("path", &self.path)
            .field("tainted", &self.tainted)
            .field("locked", &self.locked())
            .finish_non_exhaustive()
    }
}

impl Namespace {
    /// The root namespace.
    pub fn root() -> Namespace {
        Namespace {
            version: NAMESPACE_ENTRY_VERSION,
            id: ROOT_ID.into(),
            uuid: ROOT_UUID.into(),
            path: String::new(),
            tainted: false,
            unlock_key: None,
            custom_metadata: BTreeMap::new(),
            sealable: false,
            prefix: String::new(),
        }
    }

    /// Whether this is the root namespace.
    pub fn is_root(&self) -> bool {
        self.id == ROOT_ID
    }

    /// Whether an administrator locked it.
    pub fn locked(&self) -> bool {
        self.unlock_key.is_some()
    }

    /// The prefix of everything it stores inside the barrier (`""` for the root): inside its
    /// parent's, so a parent with a seal of its own covers its children's data too.
    pub fn storage_prefix(&self) -> String {
        if self.is_root() {
            String::new()
        } else if self.prefix.is_empty() {
            format!("namespaces/{}/", self.uuid)
        } else {
            self.prefix.clone()
        }
    }

    /// The path of its parent (`""` for a child of the root; `None` for the root).
    pub fn parent_path(&self) -> Option<&str> {
        if self.is_root() {
            return None;
        }
        let trimmed = self.path.trim_end_matches('/');
        Some(match trimmed.rfind('/') {
            Some(i) => &self.path[..=i],
            None => "",
        })
    }

    /// Whether `self` is `other` or one of its ancestors.
    pub fn contains(&self, other: &Namespace) -> bool {
        other.path.starts_with(&self.path)
    }

    /// `path` relative to this namespace (`team-a/b/` seen from `team-a/` is `b/`).
    pub fn relative<'a>(&self, path: &'a str) -> &'a str {
        path.strip_prefix(self.path.as_str()).unwrap_or(path)
    }

    /// The suffix its tokens, accessors and leases carry (`.<id>`; none in the root).
    pub fn id_suffix(&self) -> String {
        if self.is_root() {
            String::new()
        } else {
            format!(".{}", self.id)
        }
    }

    /// The JSON `sys/namespaces` answers for it (`path` in full).
    pub fn to_api_json(&self) -> Value {
        json!({
            "id": self.id,
            "uuid": self.uuid,
            "path": self.path,
            "custom_metadata": self.custom_metadata,
            "locked": self.locked(),
            "tainted": self.tainted,
        })
    }
}

pub use arca_sdk::namespace::canonicalize;

/// Checks a new namespace's path (relative to its parent, canonical) as OpenBao's
/// `Validate`: every segment non-empty, not reserved, printable, without spaces or wildcards.
pub fn validate_path(path: &str) -> Result<(), LogicalError> {
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    if trimmed.is_empty() {
        return Err(LogicalError::bad_request(
            "path is missing; cannot validate root namespace",
        ));
    }
    for segment in trimmed.split('/') {
        if segment.is_empty() {
            return Err(LogicalError::bad_request("namespace name cannot be empty"));
        }
        if RESERVED_NAMES.contains(&segment) {
            return Err(LogicalError::bad_request(format!(
                "{segment:?} is a reserved path and cannot be used as a namespace name"
            )));
        }
        for c in segment.chars() {
            if c.is_whitespace() {
                return Err(LogicalError::bad_request(format!(
                    "{segment:?} contains space characters that cannot be used in a namespace name"
                )));
            }
            if c.is_control() {
                return Err(LogicalError::bad_request(format!(
                    "{segment:?} contains unicode characters that cannot be used in a namespace name: {c:?}"
                )));
            }
            if c == '+' || c == '*' {
                return Err(LogicalError::bad_request(format!(
                    "{segment:?} contains wildcard characters that cannot be used in a namespace name: {c:?}"
                )));
            }
        }
    }
    Ok(())
}

/// Splits the namespace id suffix off a token, accessor or lease id (`hvs.X.ab12Cd` →
/// `Some("ab12Cd")`); `None` when the id carries none (the root namespace's).
pub fn id_suffix(id: &str) -> Option<&str> {
    let last = id.rsplit('/').next().unwrap_or(id);
    let last = last
        .strip_prefix("hvs.")
        .or_else(|| last.strip_prefix("hvb."))
        .unwrap_or(last);
    let (_, suffix) = last.rsplit_once('.')?;
    (!suffix.is_empty()).then_some(suffix)
}

/// The in-memory index.
#[derive(Default)]
struct Tree {
    by_path: HashMap<String, Arc<Namespace>>,
    by_id: HashMap<String, Arc<Namespace>>,
    /// The most segments any namespace's path has (how deep a request path is searched).
    max_depth: usize,
    /// Whether any namespace is locked (else the pipeline's lock walk is skipped).
    any_locked: bool,
}

impl Tree {
    fn with_root() -> Tree {
        let mut t = Tree::default();
        t.insert(Arc::new(Namespace::root()));
        t
    }

    /// A copy to change.
    fn copy(&self) -> Tree {
        Tree {
            by_path: self.by_path.clone(),
            by_id: self.by_id.clone(),
            max_depth: self.max_depth,
            any_locked: self.any_locked,
        }
    }

    fn insert(&mut self, ns: Arc<Namespace>) {
        self.by_id.insert(ns.id.clone(), ns.clone());
        self.by_path.insert(ns.path.clone(), ns);
        self.summarize();
    }

    fn remove(&mut self, ns: &Namespace) {
        self.by_id.remove(&ns.id);
        self.by_path.remove(&ns.path);
        self.summarize();
    }

    fn summarize(&mut self) {
        self.max_depth = self
            .by_path
            .keys()
            .map(|p| p.matches('/').count())
            .max()
            .unwrap_or(0);
        self.any_locked = self.by_path.values().any(|n| n.locked());
    }
}

/// Where a request runs: its namespace, and how many bytes at the start of the request's
/// path named namespaces below the header's (the path inside the namespace follows them).
pub struct Resolved {
    /// The namespace.
    pub namespace: Arc<Namespace>,
    /// Bytes of the path that named child namespaces.
    pub strip: usize,
}

/// The namespaces.
pub struct NamespaceStore {
    /// The whole barrier (keys are full paths).
    storage: Arc<dyn Storage>,
    tree: ArcSwap<Tree>,
    /// Serializes changes.
    lock: tokio::sync::Mutex<()>,
}

impl NamespaceStore {
    /// A store over the whole barrier; only the root namespace until [`NamespaceStore::load`].
    pub fn new(storage: Arc<dyn Storage>) -> NamespaceStore {
        NamespaceStore {
            storage,
            tree: ArcSwap::from_pointee(Tree::with_root()),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Takes the change lock.
    pub async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.lock.lock().await
    }

    /// The root namespace.
    pub fn root(&self) -> Arc<Namespace> {
        self.tree
            .load()
            .by_id
            .get(ROOT_ID)
            .cloned()
            .unwrap_or_else(|| Arc::new(Namespace::root()))
    }

    /// Reads every namespace (at unseal), parents before children. The children of a
    /// namespace with a seal of its own are not read: it starts sealed.
    pub async fn load(&self) -> Result<(), LogicalError> {
        let found = self.read_below(&Namespace::root()).await?;
        let mut tree = Tree::with_root();
        for ns in found {
            tree.insert(Arc::new(ns));
        }
        self.tree.store(Arc::new(tree));
        Ok(())
    }

    /// Reads the namespaces below `top` from storage, not looking below sealable ones.
    async fn read_below(&self, top: &Namespace) -> Result<Vec<Namespace>, LogicalError> {
        let mut out = Vec::new();
        let mut queue = vec![top.clone()];
        while let Some(parent) = queue.pop() {
            let dir = format!("{}{CHILDREN_DIR}", parent.storage_prefix());
            for key in self.storage.list(&dir).await? {
                if key.ends_with('/') {
                    continue;
                }
                let Some(ns) = self
                    .storage
                    .get_json::<Namespace>(&format!("{dir}{key}"))
                    .await?
                else {
                    continue;
                };
                if !ns.sealable {
                    queue.push(ns.clone());
                }
                out.push(ns);
            }
        }
        Ok(out)
    }

    /// Reads the namespaces below `top` (just unsealed) into the index; returns them.
    pub async fn load_below(&self, top: &Namespace) -> Result<Vec<Arc<Namespace>>, LogicalError> {
        let found: Vec<Arc<Namespace>> = self
            .read_below(top)
            .await?
            .into_iter()
            .map(Arc::new)
            .collect();
        self.tree.rcu(|old| {
            let mut t = old.copy();
            for ns in &found {
                t.insert(ns.clone());
            }
            t
        });
        Ok(found)
    }

    /// Drops the namespaces below `top` from the index (it is being sealed); storage keeps
    /// them.
    pub fn unload_below(&self, top: &Namespace) {
        self.tree.rcu(|old| {
            let mut t = old.copy();
            let below: Vec<Arc<Namespace>> = t
                .by_path
                .values()
                .filter(|n| n.path != top.path && n.path.starts_with(&top.path))
                .cloned()
                .collect();
            for n in below {
                t.remove(&n);
            }
            t
        });
    }

    /// Forgets every namespace but the root (at seal).
    pub fn teardown(&self) {
        self.tree.store(Arc::new(Tree::with_root()));
    }

    /// Whether any namespace besides the root exists.
    pub fn any(&self) -> bool {
        self.tree.load().by_id.len() > 1
    }

    /// The namespace at `path` (canonical; `""` is the root).
    pub fn by_path(&self, path: &str) -> Option<Arc<Namespace>> {
        self.tree.load().by_path.get(path).cloned()
    }

    /// The namespace with id `id`.
    pub fn by_id(&self, id: &str) -> Option<Arc<Namespace>> {
        self.tree.load().by_id.get(id).cloned()
    }

    /// The namespace an id (token, accessor, lease) belongs to by its suffix: the root for
    /// none; `None` for a suffix no namespace has.
    pub fn of_id(&self, id: &str) -> Option<Arc<Namespace>> {
        match id_suffix(id) {
            Some(suffix) => self.by_id(suffix),
            None => Some(self.root()),
        }
    }

    /// Every namespace, sorted by path.
    pub fn all(&self) -> Vec<Arc<Namespace>> {
        let mut v: Vec<_> = self.tree.load().by_path.values().cloned().collect();
        v.sort_by(|a, b| a.path.cmp(&b.path));
        v
    }

    /// The direct children of `ns`, sorted by path.
    pub fn children(&self, ns: &Namespace) -> Vec<Arc<Namespace>> {
        self.all()
            .into_iter()
            .filter(|c| c.parent_path() == Some(ns.path.as_str()))
            .collect()
    }

    /// Every namespace below `ns`, deepest first.
    pub fn descendants(&self, ns: &Namespace) -> Vec<Arc<Namespace>> {
        let mut v: Vec<_> = self
            .all()
            .into_iter()
            .filter(|c| c.path != ns.path && c.path.starts_with(&ns.path))
            .collect();
        v.sort_by_key(|c| std::cmp::Reverse(c.path.matches('/').count()));
        v
    }

    /// Resolves a request: the namespace named by the header (`header`, canonical), then the
    /// deepest namespace below it that the path begins with. A header naming no namespace
    /// (or one being created or deleted) is 404 `namespace not found`.
    pub fn resolve(&self, header: &str, path: &str) -> Result<Resolved, LogicalError> {
        let tree = self.tree.load();
        let Some(base) = tree.by_path.get(header).filter(|n| !n.tainted) else {
            return Err(LogicalError::not_found("namespace not found"));
        };
        if tree.by_id.len() == 1 {
            return Ok(Resolved {
                namespace: base.clone(),
                strip: 0,
            });
        }
        // The deepest namespace the path begins with: only as many segments as the deepest
        // namespace has are tried, deepest first. Below the root the candidates are slices of
        // the path itself; below another namespace, of the header and the path joined.
        let depth = tree
            .max_depth
            .saturating_sub(base.path.matches('/').count());
        let ends: Vec<usize> = path
            .match_indices('/')
            .take(depth)
            .map(|(i, _)| i + 1)
            .collect();
        let joined;
        let (full, start) = if base.path.is_empty() {
            (path, 0)
        } else {
            joined = format!("{}{path}", base.path);
            (joined.as_str(), base.path.len())
        };
        for end in ends.into_iter().rev() {
            if let Some(ns) = tree.by_path.get(&full[..start + end])
                && !ns.tainted
            {
                return Ok(Resolved {
                    namespace: ns.clone(),
                    strip: end,
                });
            }
        }
        Ok(Resolved {
            namespace: base.clone(),
            strip: 0,
        })
    }

    /// The locked namespace closest to the root among `ns` and its ancestors, if any.
    pub fn locked_ancestor(&self, ns: &Namespace) -> Option<Arc<Namespace>> {
        let tree = self.tree.load();
        if !tree.any_locked {
            return None;
        }
        let mut end = 0;
        let path = ns.path.as_str();
        while end < path.len() {
            end += path[end..].find('/').map_or(path.len() - end, |i| i + 1);
            if let Some(n) = tree.by_path.get(&path[..end])
                && n.locked()
            {
                return Some(n.clone());
            }
        }
        None
    }

    /// A fresh id no namespace has.
    pub fn new_id(&self) -> String {
        loop {
            let id = random_base62(NAMESPACE_ID_LEN);
            if self.by_id(&id).is_none() {
                return id;
            }
        }
    }

    /// The storage key of `ns`'s record (in its parent's prefix).
    fn record_key(&self, ns: &Namespace) -> Result<String, LogicalError> {
        let parent_path = ns
            .parent_path()
            .ok_or_else(|| LogicalError::bad_request("cannot store the root namespace"))?;
        let parent = self
            .by_path(parent_path)
            .ok_or_else(|| LogicalError::internal(format!("parent of {:?} missing", ns.path)))?;
        Ok(format!(
            "{}{CHILDREN_DIR}{}",
            parent.storage_prefix(),
            ns.uuid
        ))
    }

    /// Persists `ns` and makes it current (call with the change lock held).
    pub async fn put(&self, ns: Namespace) -> Result<Arc<Namespace>, LogicalError> {
        let key = self.record_key(&ns)?;
        self.storage.put_json(&key, &ns).await?;
        let ns = Arc::new(ns);
        self.tree.rcu(|old| {
            let mut t = old.copy();
            t.insert(ns.clone());
            t
        });
        Ok(ns)
    }

    /// Deletes `ns`'s record and forgets it (its data must be gone already).
    pub async fn remove(&self, ns: &Namespace) -> Result<(), LogicalError> {
        let key = self.record_key(ns)?;
        self.storage.delete(&key).await?;
        self.tree.rcu(|old| {
            let mut t = old.copy();
            t.remove(ns);
            t
        });
        Ok(())
    }

    /// Deletes every key under `ns`'s storage prefix.
    pub async fn clear_storage(&self, ns: &Namespace) -> Result<(), LogicalError> {
        if ns.is_root() {
            return Err(LogicalError::bad_request("cannot clear the root namespace"));
        }
        let prefix = ns.storage_prefix();
        let mut stack = vec![prefix];
        while let Some(dir) = stack.pop() {
            for k in self.storage.list(&dir).await? {
                let key = format!("{dir}{k}");
                if k.ends_with('/') {
                    stack.push(key);
                } else {
                    self.storage.delete(&key).await?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes() {
        assert_eq!(id_suffix("hvs.abcdef.X1y2Z3"), Some("X1y2Z3"));
        assert_eq!(id_suffix("hvs.abcdef"), None);
        assert_eq!(id_suffix("secret/creds/x/AbC.X1y2Z3"), Some("X1y2Z3"));
        assert_eq!(id_suffix("secret/creds/x.y/AbC"), None);
        assert_eq!(id_suffix("abc"), None);
    }

    #[test]
    fn paths() {
        let mut ns = Namespace::root();
        ns.id = "abcdef".into();
        ns.path = "a/b/".into();
        assert_eq!(ns.parent_path(), Some("a/"));
        ns.path = "a/".into();
        assert_eq!(ns.parent_path(), Some(""));
        assert!(validate_path("team-a/").is_ok());
        assert!(validate_path("sys/").is_err());
        assert!(validate_path("a b/").is_err());
        assert!(validate_path("a*/").is_err());
    }
}
