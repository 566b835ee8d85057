//! The policy store: ACL policies persisted under each namespace's `sys/policy/`, the
//! built-in `default` and `root`, and a cache of compiled ACLs per namespace and policy set.

use std::collections::HashMap;
use std::sync::Arc;

use arca_policy::{
    Acl, Policy, RESPONSE_WRAPPING_POLICY_NAME, RESPONSE_WRAPPING_POLICY_TEXT, default_policy,
    normalize_name, parse_policy, root_policy,
};
use arca_sdk::storage::StorageExt;
use arca_sdk::{LogicalError, Storage};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::namespaces::Namespace;

/// A cache key: namespace id and policy name.
type NameKey = (String, String);
/// A cache key: namespace id and the sorted policy names of a set.
type SetKey = (String, Vec<String>);

/// Version marker of a stored policy.
pub const POLICY_ENTRY_VERSION: u32 = 1;

/// A policy as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyEntry {
    /// Version marker.
    pub version: u32,
    /// Normalised name.
    pub name: String,
    /// The policy text as written.
    pub raw: String,
    /// RFC 3339 time of the last write.
    #[serde(default)]
    pub modified: String,
    /// How many times the policy was written (`version` in reads, checked by `cas`).
    #[serde(default)]
    pub policy_version: u64,
}

/// Stores policies and compiles ACLs.
pub struct PolicyStore {
    /// The whole barrier: keys are `<namespace prefix>sys/policy/<name>`.
    view: Arc<dyn Storage>,
    policies: RwLock<HashMap<NameKey, Arc<Policy>>>,
    /// Looked up on every request with a token: Fx, not SipHash (names an operator chose).
    acls: RwLock<rustc_hash::FxHashMap<SetKey, Arc<Acl>>>,
    write_lock: tokio::sync::Mutex<()>,
}

/// The storage key of policy `name` in `ns`.
fn key(ns: &Namespace, name: &str) -> String {
    format!("{}sys/policy/{name}", ns.storage_prefix())
}

impl PolicyStore {
    /// A store over the whole barrier.
    pub fn new(view: Arc<dyn Storage>) -> PolicyStore {
        PolicyStore {
            view,
            policies: RwLock::new(HashMap::new()),
            acls: RwLock::new(rustc_hash::FxHashMap::default()),
            write_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Writes `ns`'s built-in `default` policy if absent, and the fixed `response-wrapping`
    /// policy whenever its text is not OpenBao's. Called after unseal for every namespace,
    /// and when a namespace is created.
    pub async fn setup(&self, ns: &Namespace) -> Result<(), LogicalError> {
        self.forget(ns);
        if self.view.get(&key(ns, "default")).await?.is_none() {
            let p = default_policy();
            self.write_raw(ns, "default", &p.raw, 1).await?;
        }
        let wrapping = self
            .view
            .get_json::<PolicyEntry>(&key(ns, RESPONSE_WRAPPING_POLICY_NAME))
            .await?;
        if wrapping.is_none_or(|e| e.raw != RESPONSE_WRAPPING_POLICY_TEXT) {
            self.write_raw(
                ns,
                RESPONSE_WRAPPING_POLICY_NAME,
                RESPONSE_WRAPPING_POLICY_TEXT,
                1,
            )
            .await?;
        }
        Ok(())
    }

    /// Drops the caches (on seal).
    pub fn teardown(&self) {
        self.policies.write().clear();
        self.acls.write().clear();
    }

    /// Drops what is cached of `ns` (set up again, or deleted).
    pub fn forget(&self, ns: &Namespace) {
        self.policies.write().retain(|(id, _), _| *id != ns.id);
        self.acls.write().retain(|(id, _), _| *id != ns.id);
    }

    async fn write_raw(
        &self,
        ns: &Namespace,
        name: &str,
        raw: &str,
        version: u64,
    ) -> Result<(), LogicalError> {
        let entry = PolicyEntry {
            version: POLICY_ENTRY_VERSION,
            name: name.to_string(),
            raw: raw.to_string(),
            modified: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            policy_version: version,
        };
        self.view.put_json(&key(ns, name), &entry).await
    }

    /// Parses and stores a policy. `root` cannot be written. With `cas`, the write happens
    /// only when the stored version is `cas` (0 = the policy must not exist yet).
    pub async fn set(
        &self,
        ns: &Namespace,
        name: &str,
        raw: &str,
        cas: Option<u64>,
    ) -> Result<(), LogicalError> {
        let name = normalize_name(name);
        if name.is_empty() {
            return Err(LogicalError::bad_request("policy name must be provided"));
        }
        if name == "root" || name == RESPONSE_WRAPPING_POLICY_NAME {
            return Err(LogicalError::bad_request(format!(
                "cannot update {name:?} policy"
            )));
        }
        // The parse error's text already starts with OpenBao's `failed to parse policy: `.
        let policy =
            parse_policy(&name, raw).map_err(|e| LogicalError::bad_request(e.to_string()))?;
        let _guard = self.write_lock.lock().await;
        let current = self
            .view
            .get_json::<PolicyEntry>(&key(ns, &name))
            .await?
            .map(|e| e.policy_version.max(1))
            .unwrap_or(0);
        if let Some(cas) = cas
            && cas != current
        {
            return Err(LogicalError::bad_request(format!(
                "check-and-set parameter {cas} did not match the current version {current}"
            )));
        }
        self.write_raw(ns, &name, raw, current + 1).await?;
        self.policies
            .write()
            .insert((ns.id.clone(), name), Arc::new(policy));
        self.acls.write().retain(|(id, _), _| *id != ns.id);
        Ok(())
    }

    /// Reads the stored entry.
    pub async fn get_entry(
        &self,
        ns: &Namespace,
        name: &str,
    ) -> Result<Option<PolicyEntry>, LogicalError> {
        let name = normalize_name(name);
        if name == "root" {
            return Ok(Some(PolicyEntry {
                version: POLICY_ENTRY_VERSION,
                name,
                raw: String::new(),
                modified: String::new(),
                policy_version: 0,
            }));
        }
        self.view.get_json(&key(ns, &name)).await
    }

    /// The parsed policy, cached.
    pub async fn get(
        &self,
        ns: &Namespace,
        name: &str,
    ) -> Result<Option<Arc<Policy>>, LogicalError> {
        let name = normalize_name(name);
        if name == "root" {
            return Ok(Some(Arc::new(root_policy())));
        }
        let cache_key = (ns.id.clone(), name);
        if let Some(p) = self.policies.read().get(&cache_key) {
            return Ok(Some(p.clone()));
        }
        let Some(entry) = self
            .view
            .get_json::<PolicyEntry>(&key(ns, &cache_key.1))
            .await?
        else {
            return Ok(None);
        };
        let p = Arc::new(
            parse_policy(&cache_key.1, &entry.raw)
                .map_err(|e| LogicalError::internal(e.to_string()))?,
        );
        self.policies.write().insert(cache_key, p.clone());
        Ok(Some(p))
    }

    /// Deletes a policy; `root` and `default` cannot be deleted.
    pub async fn delete(&self, ns: &Namespace, name: &str) -> Result<(), LogicalError> {
        let name = normalize_name(name);
        match name.as_str() {
            "root" | RESPONSE_WRAPPING_POLICY_NAME => {
                return Err(LogicalError::bad_request(format!(
                    "cannot delete {name:?} policy"
                )));
            }
            "default" => {
                return Err(LogicalError::bad_request("cannot delete default policy"));
            }
            _ => {}
        }
        let _guard = self.write_lock.lock().await;
        self.view.delete(&key(ns, &name)).await?;
        self.policies.write().remove(&(ns.id.clone(), name));
        self.acls.write().retain(|(id, _), _| *id != ns.id);
        Ok(())
    }

    /// Names of all stored policies of `ns`, plus `root` in the root namespace, sorted
    /// (`response-wrapping` is not listed, as in OpenBao).
    pub async fn list(&self, ns: &Namespace) -> Result<Vec<String>, LogicalError> {
        let mut names = self.view.list(&key(ns, "")).await?;
        names.retain(|n| !n.ends_with('/') && n != RESPONSE_WRAPPING_POLICY_NAME);
        // `root` is listed in the root namespace only (OpenBao).
        if ns.is_root() {
            names.push("root".into());
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// The ACL for a set of policy names of namespace `ns` (missing policies are skipped, as
    /// Vault does).
    pub async fn acl(&self, ns: &Namespace, names: &[String]) -> Result<Arc<Acl>, LogicalError> {
        let mut names: Vec<String> = names.iter().map(|n| normalize_name(n)).collect();
        names.sort();
        names.dedup();
        let cache_key = (ns.id.clone(), names);
        if let Some(a) = self.acls.read().get(&cache_key) {
            return Ok(a.clone());
        }
        // Boxed: a cached ACL (most requests) does not carry the policy reads' state.
        Box::pin(self.build_acl(ns, cache_key)).await
    }

    /// [`PolicyStore::acl`] of a set not cached: its policies read, the ACL built and cached.
    async fn build_acl(
        &self,
        ns: &Namespace,
        cache_key: (String, Vec<String>),
    ) -> Result<Arc<Acl>, LogicalError> {
        let mut policies = Vec::with_capacity(cache_key.1.len());
        for n in &cache_key.1 {
            if let Some(p) = self.get(ns, n).await? {
                policies.push((*p).clone());
            }
        }
        let acl = Arc::new(Acl::new(&policies).map_err(|e| LogicalError::internal(e.to_string()))?);
        self.acls.write().insert(cache_key, acl.clone());
        Ok(acl)
    }
}
