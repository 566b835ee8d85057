//! The token store: service tokens stored only under a salted HMAC of their id, accessors,
//! the parent/child tree, expiry and use counts.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arca_sdk::storage::StorageExt;
use arca_sdk::{LogicalError, Storage};
use aws_lc_rs::hmac;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::random::{fill, random_base62};

/// Version marker of a stored token entry.
pub const TOKEN_ENTRY_VERSION: u32 = 1;
/// Prefix of service tokens.
pub const SERVICE_TOKEN_PREFIX: &str = "hvs.";
/// Random characters after the prefix (`hvs.` + 24 = 28, Vault's `otp_length`).
pub const TOKEN_RANDOM_LEN: usize = 24;

/// A stored token. The token itself is never stored, only its HMAC (`id_hash`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenEntry {
    /// Version marker.
    pub version: u32,
    /// HMAC of the token under the store's salt: the storage key.
    pub id_hash: String,
    /// The accessor.
    pub accessor: String,
    /// `id_hash` of the parent token, empty for orphans.
    #[serde(default)]
    pub parent: String,
    /// Attached policies.
    pub policies: Vec<String>,
    /// Creation path (`auth/token/create`, `auth/userpass/login/bob`).
    pub path: String,
    /// Metadata.
    #[serde(default)]
    pub meta: BTreeMap<String, String>,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// Remaining uses, 0 = unlimited.
    #[serde(default)]
    pub num_uses: i64,
    /// Unix seconds of creation.
    pub creation_time: i64,
    /// TTL in seconds at creation or last renewal (0 = never expires).
    #[serde(default)]
    pub ttl: u64,
    /// Unix seconds of the last renewal (0 = never renewed).
    #[serde(default)]
    pub last_renewal_time: i64,
    /// Hard cap in seconds from creation (0 = none).
    #[serde(default)]
    pub explicit_max_ttl: u64,
    /// Periodic tokens: each renewal resets TTL to this.
    #[serde(default)]
    pub period: u64,
    /// Token role it was created against.
    #[serde(default)]
    pub role: String,
    /// Entity id.
    #[serde(default)]
    pub entity_id: String,
    /// Whether it can be renewed.
    #[serde(default)]
    pub renewable: bool,
    /// No parent.
    #[serde(default)]
    pub orphan: bool,
    /// `"service"`.
    #[serde(default)]
    pub token_type: String,
}

impl TokenEntry {
    /// Unix second at which the token expires, `None` when it never does.
    pub fn expire_time(&self) -> Option<i64> {
        if self.ttl == 0 {
            return None;
        }
        let base = if self.last_renewal_time > 0 {
            self.last_renewal_time
        } else {
            self.creation_time
        };
        Some(base + self.ttl as i64)
    }

    /// Whether the token is expired at unix second `now`.
    pub fn expired_at(&self, now: i64) -> bool {
        self.expire_time().is_some_and(|t| t <= now)
    }

    /// Whether the token carries the root policy.
    pub fn is_root(&self) -> bool {
        self.policies.iter().any(|p| p == "root")
    }
}

#[derive(Serialize, Deserialize)]
struct AccessorEntry {
    version: u32,
    id_hash: String,
}

/// Unix seconds now.
pub fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The token store over its storage view (`sys/token/`).
pub struct TokenStore {
    view: Arc<dyn Storage>,
    salt: RwLock<Option<hmac::Key>>,
    cache: RwLock<HashMap<String, Arc<TokenEntry>>>,
    write_lock: tokio::sync::Mutex<()>,
}

impl TokenStore {
    /// A store over `view`; call [`TokenStore::setup`] after unseal.
    pub fn new(view: Arc<dyn Storage>) -> TokenStore {
        TokenStore {
            view,
            salt: RwLock::new(None),
            cache: RwLock::new(HashMap::new()),
            write_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Loads (or creates) the salt. Called after every unseal.
    pub async fn setup(&self) -> Result<(), LogicalError> {
        let salt: Zeroizing<Vec<u8>> = match self.view.get("salt").await? {
            Some(e) => e.value,
            None => {
                let mut s = Zeroizing::new(vec![0u8; 32]);
                fill(&mut s);
                self.view
                    .put(arca_sdk::StorageEntry {
                        key: "salt".into(),
                        value: s.clone(),
                        seal_wrap: false,
                    })
                    .await?;
                s
            }
        };
        *self.salt.write() = Some(hmac::Key::new(hmac::HMAC_SHA256, &salt));
        self.cache.write().clear();
        Ok(())
    }

    /// Forgets the salt and cache (on seal).
    pub fn teardown(&self) {
        *self.salt.write() = None;
        self.cache.write().clear();
    }

    /// The salted HMAC of a token or accessor, hex.
    pub fn hash(&self, value: &str) -> Result<String, LogicalError> {
        let guard = self.salt.read();
        let key = guard.as_ref().ok_or(LogicalError::Sealed)?;
        Ok(hex::encode(hmac::sign(key, value.as_bytes()).as_ref()))
    }

    /// Stores a new token. `id` is used as the token when given (root token ids in dev mode),
    /// otherwise a fresh `hvs.` token is made. Returns the token and the stored entry.
    pub async fn create(
        &self,
        mut entry: TokenEntry,
        id: Option<String>,
    ) -> Result<(Zeroizing<String>, Arc<TokenEntry>), LogicalError> {
        let token = Zeroizing::new(match id {
            Some(id) if !id.is_empty() => id,
            _ => format!("{SERVICE_TOKEN_PREFIX}{}", random_base62(TOKEN_RANDOM_LEN)),
        });
        let id_hash = self.hash(&token)?;
        if self.view.get(&format!("id/{id_hash}")).await?.is_some() {
            return Err(LogicalError::bad_request(
                "cannot create a token with a duplicate ID",
            ));
        }
        entry.version = TOKEN_ENTRY_VERSION;
        entry.id_hash = id_hash.clone();
        entry.accessor = random_base62(TOKEN_RANDOM_LEN);
        if entry.creation_time == 0 {
            entry.creation_time = now_unix();
        }
        if entry.token_type.is_empty() {
            entry.token_type = "service".into();
        }
        let accessor_hash = self.hash(&entry.accessor)?;
        self.view
            .put_json(
                &format!("accessor/{accessor_hash}"),
                &AccessorEntry {
                    version: TOKEN_ENTRY_VERSION,
                    id_hash: id_hash.clone(),
                },
            )
            .await?;
        if !entry.parent.is_empty() {
            self.view
                .put(arca_sdk::StorageEntry::new(
                    format!("parent/{}/{id_hash}", entry.parent),
                    Vec::new(),
                ))
                .await?;
        }
        self.view.put_json(&format!("id/{id_hash}"), &entry).await?;
        let entry = Arc::new(entry);
        self.cache.write().insert(id_hash, entry.clone());
        Ok((token, entry))
    }

    /// Looks a token up by its id hash, dropping it when expired.
    pub async fn lookup_hash(
        &self,
        id_hash: &str,
    ) -> Result<Option<Arc<TokenEntry>>, LogicalError> {
        let cached = self.cache.read().get(id_hash).cloned();
        let entry = match cached {
            Some(e) => e,
            None => {
                let Some(e) = self
                    .view
                    .get_json::<TokenEntry>(&format!("id/{id_hash}"))
                    .await?
                else {
                    return Ok(None);
                };
                let e = Arc::new(e);
                self.cache.write().insert(id_hash.to_string(), e.clone());
                e
            }
        };
        if entry.expired_at(now_unix()) {
            self.revoke_tree(id_hash).await?;
            return Ok(None);
        }
        Ok(Some(entry))
    }

    /// Looks a token up.
    pub async fn lookup(&self, token: &str) -> Result<Option<Arc<TokenEntry>>, LogicalError> {
        if token.is_empty() {
            return Ok(None);
        }
        let h = self.hash(token)?;
        self.lookup_hash(&h).await
    }

    /// Looks a token up by accessor.
    pub async fn lookup_accessor(
        &self,
        accessor: &str,
    ) -> Result<Option<Arc<TokenEntry>>, LogicalError> {
        let ah = self.hash(accessor)?;
        let Some(a) = self
            .view
            .get_json::<AccessorEntry>(&format!("accessor/{ah}"))
            .await?
        else {
            return Ok(None);
        };
        self.lookup_hash(&a.id_hash).await
    }

    /// Replaces a stored entry (renewal, use count).
    pub async fn update(&self, entry: TokenEntry) -> Result<Arc<TokenEntry>, LogicalError> {
        self.view
            .put_json(&format!("id/{}", entry.id_hash), &entry)
            .await?;
        let entry = Arc::new(entry);
        self.cache
            .write()
            .insert(entry.id_hash.clone(), entry.clone());
        Ok(entry)
    }

    /// Counts one use of a limited-use token; revokes it after its last use. Returns the entry
    /// as it was before the use, or `None` when it has no uses left.
    pub async fn use_token(
        &self,
        entry: &Arc<TokenEntry>,
    ) -> Result<Option<Arc<TokenEntry>>, LogicalError> {
        if entry.num_uses == 0 {
            return Ok(Some(entry.clone()));
        }
        let _guard = self.write_lock.lock().await;
        let Some(current) = self
            .view
            .get_json::<TokenEntry>(&format!("id/{}", entry.id_hash))
            .await?
        else {
            return Ok(None);
        };
        if current.num_uses <= 0 {
            return Ok(None);
        }
        if current.num_uses == 1 {
            self.revoke_tree(&current.id_hash).await?;
        } else {
            let mut next = current.clone();
            next.num_uses -= 1;
            self.update(next).await?;
        }
        Ok(Some(Arc::new(current)))
    }

    /// Revokes a token and, recursively, all its children.
    pub async fn revoke_tree(&self, id_hash: &str) -> Result<(), LogicalError> {
        let mut stack = vec![id_hash.to_string()];
        let mut order = Vec::new();
        while let Some(h) = stack.pop() {
            for child in self.view.list(&format!("parent/{h}/")).await? {
                stack.push(child.trim_end_matches('/').to_string());
            }
            order.push(h);
        }
        for h in order.into_iter().rev() {
            self.revoke_one(&h).await?;
        }
        Ok(())
    }

    /// Revokes one token; its children become orphans.
    pub async fn revoke_orphan(&self, id_hash: &str) -> Result<(), LogicalError> {
        for child in self.view.list(&format!("parent/{id_hash}/")).await? {
            let ch = child.trim_end_matches('/');
            if let Some(mut e) = self
                .view
                .get_json::<TokenEntry>(&format!("id/{ch}"))
                .await?
            {
                e.parent.clear();
                e.orphan = true;
                self.update(e).await?;
            }
            self.view.delete(&format!("parent/{id_hash}/{ch}")).await?;
        }
        self.revoke_one(id_hash).await
    }

    async fn revoke_one(&self, id_hash: &str) -> Result<(), LogicalError> {
        let entry = self
            .view
            .get_json::<TokenEntry>(&format!("id/{id_hash}"))
            .await?;
        self.cache.write().remove(id_hash);
        if let Some(e) = entry {
            let ah = self.hash(&e.accessor)?;
            self.view.delete(&format!("accessor/{ah}")).await?;
            if !e.parent.is_empty() {
                self.view
                    .delete(&format!("parent/{}/{id_hash}", e.parent))
                    .await?;
            }
        }
        self.view.delete(&format!("id/{id_hash}")).await?;
        Ok(())
    }

    /// Every stored accessor hash (for `auth/token/accessors`, tidy).
    pub async fn accessor_hashes(&self) -> Result<Vec<String>, LogicalError> {
        Ok(self.view.list("accessor/").await?)
    }
}

/// Compares two secrets in constant time.
pub fn ct_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arca_sdk::storage::MemoryStorage;

    #[tokio::test]
    async fn create_lookup_revoke_tree() {
        let ts = TokenStore::new(Arc::new(MemoryStorage::new()));
        ts.setup().await.unwrap();
        let (parent, pe) = ts
            .create(
                TokenEntry {
                    policies: vec!["root".into()],
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        assert!(parent.starts_with("hvs.") && parent.len() == 28);
        let (child, _) = ts
            .create(
                TokenEntry {
                    parent: pe.id_hash.clone(),
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        assert!(ts.lookup(&child).await.unwrap().is_some());
        assert!(ts.lookup_accessor(&pe.accessor).await.unwrap().is_some());
        ts.revoke_tree(&pe.id_hash).await.unwrap();
        assert!(ts.lookup(&parent).await.unwrap().is_none());
        assert!(ts.lookup(&child).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn expiry_and_uses() {
        let ts = TokenStore::new(Arc::new(MemoryStorage::new()));
        ts.setup().await.unwrap();
        let (t, _) = ts
            .create(
                TokenEntry {
                    ttl: 10,
                    creation_time: now_unix() - 20,
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        assert!(ts.lookup(&t).await.unwrap().is_none());
        let (t, e) = ts
            .create(
                TokenEntry {
                    num_uses: 2,
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        assert!(ts.use_token(&e).await.unwrap().is_some());
        assert!(ts.use_token(&e).await.unwrap().is_some());
        assert!(ts.lookup(&t).await.unwrap().is_none());
        assert!(ts.use_token(&e).await.unwrap().is_none());
        assert!(ct_eq("abc", "abc") && !ct_eq("abc", "abd") && !ct_eq("a", "ab"));
    }
}
