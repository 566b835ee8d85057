//! The token store: service tokens stored only under a salted HMAC of their id, batch tokens
//! sealed in an AEAD blob and never persisted, accessors, the parent/child tree, expiry, use
//! counts, tidy, and a hook that lets the core drop a revoked token's cubbyhole and leases.

use std::collections::BTreeMap;
use std::sync::Arc;

use arca_sdk::redact::Redacted;
use arca_sdk::storage::{StorageExt, is_default};
use arca_sdk::{LogicalError, Storage, StorageEntry, StorageOp};
use aws_lc_rs::{aead, hmac};
use base64::Engine;
use futures::future::BoxFuture;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::random::{fill, random_base62};

/// Version marker of a stored token entry.
pub const TOKEN_ENTRY_VERSION: u32 = 1;
/// Prefix of service tokens.
pub const SERVICE_TOKEN_PREFIX: &str = "hvs.";
/// Prefix of batch tokens.
pub const BATCH_TOKEN_PREFIX: &str = "hvb.";
/// Random characters after the prefix (`hvs.` + 24 = 28, Vault's `otp_length`).
pub const TOKEN_RANDOM_LEN: usize = 24;
/// Storage key (under the store's `sys/token/` view) of the batch token key.
pub const BATCH_KEY_PATH: &str = "batch-key";
/// `num_uses` of a token whose last use is in progress: refused by every lookup but the
/// one that serves that last request, then revoked.
pub const TAINTED_USES: i64 = -1;

/// Called with every revoked service token's entry, after it is gone from storage, so the
/// core can delete its cubbyhole and revoke the leases it obtained.
pub type RevokeHook = Arc<dyn Fn(Arc<TokenEntry>) -> BoxFuture<'static, ()> + Send + Sync>;

/// A token's entry. For service tokens it is what is stored (as JSON, fields at their
/// default left out); the token itself never is, only its HMAC (`id_hash`). `Debug` redacts
/// `id_hash`, `parent` and `cubbyhole_id`: each names storage that only the token's holder
/// may reach.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenEntry {
    /// Version marker.
    pub version: u32,
    /// HMAC of the token under the store's salt: the storage key (empty for batch tokens).
    pub id_hash: String,
    /// The accessor (empty for batch tokens).
    pub accessor: String,
    /// `id_hash` of the parent token, empty for orphans.
    #[serde(default, skip_serializing_if = "is_default")]
    pub parent: String,
    /// Attached policies.
    pub policies: Vec<String>,
    /// Creation path (`auth/token/create`, `auth/userpass/login/bob`).
    pub path: String,
    /// Metadata.
    #[serde(default, skip_serializing_if = "is_default")]
    pub meta: BTreeMap<String, String>,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// Remaining uses, 0 = unlimited, [`TAINTED_USES`] = last use in progress.
    #[serde(default, skip_serializing_if = "is_default")]
    pub num_uses: i64,
    /// Unix seconds of creation.
    pub creation_time: i64,
    /// TTL in seconds at creation or last renewal (0 = never expires).
    #[serde(default, skip_serializing_if = "is_default")]
    pub ttl: u64,
    /// TTL in seconds given at creation (`creation_ttl` in lookups).
    #[serde(default, skip_serializing_if = "is_default")]
    pub creation_ttl: u64,
    /// Unix seconds of the last renewal (0 = never renewed).
    #[serde(default, skip_serializing_if = "is_default")]
    pub last_renewal_time: i64,
    /// Hard cap in seconds from creation (0 = none).
    #[serde(default, skip_serializing_if = "is_default")]
    pub explicit_max_ttl: u64,
    /// Periodic tokens: each renewal resets TTL to this.
    #[serde(default, skip_serializing_if = "is_default")]
    pub period: u64,
    /// Token role it was created against.
    #[serde(default, skip_serializing_if = "is_default")]
    pub role: String,
    /// Entity id.
    #[serde(default, skip_serializing_if = "is_default")]
    pub entity_id: String,
    /// Whether it can be renewed.
    #[serde(default, skip_serializing_if = "is_default")]
    pub renewable: bool,
    /// No parent.
    #[serde(default, skip_serializing_if = "is_default")]
    pub orphan: bool,
    /// `"service"` or `"batch"`.
    #[serde(default)]
    pub token_type: String,
    /// Random id of the token's cubbyhole (never shown by lookups).
    #[serde(default)]
    pub cubbyhole_id: String,
    /// The id of the namespace the token was created in (`root`).
    #[serde(
        default = "root_namespace_id",
        skip_serializing_if = "is_root_namespace_id"
    )]
    pub namespace_id: String,
    /// CIDR blocks the token may be used from (go-sockaddr's text); empty for anywhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bound_cidrs: Vec<String>,
}

fn root_namespace_id() -> String {
    crate::namespaces::ROOT_ID.to_string()
}

fn is_root_namespace_id(id: &str) -> bool {
    id == crate::namespaces::ROOT_ID
}

impl std::fmt::Debug for TokenEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEntry")
            .field("version", &self.version)
            .field("id_hash", &Redacted)
            .field("accessor", &self.accessor)
            .field("parent", &Redacted)
            .field("policies", &self.policies)
            .field("path", &self.path)
            .field("meta", &self.meta)
            .field("display_name", &self.display_name)
            .field("num_uses", &self.num_uses)
            .field("creation_time", &self.creation_time)
            .field("ttl", &self.ttl)
            .field("explicit_max_ttl", &self.explicit_max_ttl)
            .field("period", &self.period)
            .field("role", &self.role)
            .field("entity_id", &self.entity_id)
            .field("renewable", &self.renewable)
            .field("orphan", &self.orphan)
            .field("token_type", &self.token_type)
            .field("cubbyhole_id", &Redacted)
            .field("namespace_id", &self.namespace_id)
            .finish_non_exhaustive()
    }
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

    /// Whether a client at `remote_addr` may use the token (its bound CIDR blocks).
    pub fn usable_from(&self, remote_addr: Option<&str>) -> bool {
        // As OpenBao: the blocks bind every token but a non-expiring root token.
        self.bound_cidrs.is_empty()
            || self.ttl == 0
            || remote_addr.is_some_and(|a| arca_sdk::cidr::remote_addr_is_ok(a, &self.bound_cidrs))
    }

    /// Whether this is a batch token.
    pub fn is_batch(&self) -> bool {
        self.token_type == "batch"
    }

    /// Whether its last allowed use is in progress.
    pub fn is_tainted(&self) -> bool {
        self.num_uses == TAINTED_USES
    }
}

#[derive(Serialize, Deserialize)]
struct AccessorEntry {
    version: u32,
    id_hash: String,
    /// The accessor itself, so `auth/token/accessors` can list it.
    #[serde(default)]
    accessor: String,
}

/// What `tidy` found and fixed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TidyReport {
    /// Accessor index entries pointing at no token, deleted.
    pub dangling_accessors: usize,
    /// Expired or used-up tokens revoked.
    pub revoked: usize,
    /// Parent index entries of vanished tokens, removed (their children made orphans).
    pub stale_parent_links: usize,
}

/// Unix seconds now.
pub fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// How many token entries the store keeps in memory; past it the oldest cached entry goes
/// (storage still has every token).
pub const TOKEN_CACHE_CAPACITY: usize = 16_384;

/// Token entries by id hash, at most `capacity` of them: inserting past it evicts the entry
/// cached longest ago (first in, first out). A token is admitted on its second load from
/// storage, not its first ([`TokenCache::admit`]): most tokens a login hands out are used
/// once or never, and caching those would cost memory and save no storage read.
struct TokenCache {
    capacity: usize,
    /// By the token's salted hash (nothing a client can steer), looked up on every request
    /// with a token: Fx, not SipHash. The key is shared with `order`.
    entries: rustc_hash::FxHashMap<Arc<str>, (u64, Arc<TokenEntry>)>,
    /// Insertion order as (sequence, key); a pair whose sequence no longer matches the map
    /// is stale (the key was removed or inserted again) and is skipped.
    order: std::collections::VecDeque<(u64, Arc<str>)>,
    next: u64,
    /// Fingerprints of the id hashes loaded from storage once and not cached yet; emptied
    /// when it reaches `capacity`, so a token seen long ago just waits for one more load.
    seen_once: rustc_hash::FxHashSet<u64>,
}

impl TokenCache {
    fn new(capacity: usize) -> TokenCache {
        TokenCache {
            capacity: capacity.max(1),
            entries: rustc_hash::FxHashMap::default(),
            order: std::collections::VecDeque::new(),
            next: 0,
            seen_once: rustc_hash::FxHashSet::default(),
        }
    }

    fn get(&self, key: &str) -> Option<Arc<TokenEntry>> {
        self.entries.get(key).map(|(_, e)| e.clone())
    }

    /// Whether the entry just loaded from storage under `key` should be cached: yes when it
    /// was loaded once before, else it is remembered for next time.
    fn admit(&mut self, key: &str) -> bool {
        use std::hash::BuildHasher;
        let fingerprint = rustc_hash::FxBuildHasher.hash_one(key);
        if self.seen_once.remove(&fingerprint) {
            return true;
        }
        if self.seen_once.len() >= self.capacity {
            self.seen_once.clear();
        }
        self.seen_once.insert(fingerprint);
        false
    }

    fn insert(&mut self, key: &str, entry: Arc<TokenEntry>) {
        self.next += 1;
        let key: Arc<str> = Arc::from(key);
        self.order.push_back((self.next, key.clone()));
        self.entries.insert(key, (self.next, entry));
        while self.entries.len() > self.capacity {
            let Some((seq, key)) = self.order.pop_front() else {
                break;
            };
            if self.entries.get(&key).is_some_and(|(s, _)| *s == seq) {
                self.entries.remove(&key);
            }
        }
        // Stale pairs are dropped once they outnumber the live ones.
        if self.order.len() > 2 * self.capacity {
            let entries = &self.entries;
            self.order
                .retain(|(seq, key)| entries.get(key).is_some_and(|(s, _)| s == seq));
        }
    }

    fn remove(&mut self, key: &str) {
        self.entries.remove(key);
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
        self.seen_once.clear();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// The token store over its storage view (`sys/token/`).
pub struct TokenStore {
    view: Arc<dyn Storage>,
    salt: RwLock<Option<hmac::Key>>,
    batch_key: RwLock<Option<Arc<aead::LessSafeKey>>>,
    cache: RwLock<TokenCache>,
    write_lock: tokio::sync::Mutex<()>,
    on_revoke: RwLock<Option<RevokeHook>>,
    /// `vault.token.*` summaries.
    metrics: crate::metrics::Metrics,
}

impl TokenStore {
    /// Counts a token minted by a token-store create or a login: `vault.token.creation`,
    /// labelled as OpenBao's (namespace, auth method, mount point, TTL bucket, token type).
    pub(crate) fn count_creation(
        &self,
        namespace_path: &str,
        auth_method: &str,
        mount_point: &str,
        entry: &TokenEntry,
    ) {
        let token_type = if entry.is_batch() { "batch" } else { "service" };
        self.metrics.incr_labelled(
            &["token", "creation"],
            &[
                ("namespace", crate::metrics::namespace_label(namespace_path)),
                ("auth_method", auth_method),
                ("mount_point", mount_point),
                (
                    "creation_ttl",
                    crate::metrics::ttl_bucket(std::time::Duration::from_secs(entry.ttl)),
                ),
                ("token_type", token_type),
            ],
        );
    }

    /// The same store, reporting `vault.token.*` to `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: crate::metrics::Metrics) -> TokenStore {
        self.metrics = metrics;
        self
    }

    /// A store over `view`; call [`TokenStore::setup`] after unseal.
    pub fn new(view: Arc<dyn Storage>) -> TokenStore {
        TokenStore {
            view,
            salt: RwLock::new(None),
            batch_key: RwLock::new(None),
            cache: RwLock::new(TokenCache::new(TOKEN_CACHE_CAPACITY)),
            write_lock: tokio::sync::Mutex::new(()),
            on_revoke: RwLock::new(None),
            metrics: crate::metrics::Metrics::disabled(),
        }
    }

    /// Sets the hook called with the entry of every revoked service token.
    pub fn set_on_revoke(&self, hook: RevokeHook) {
        *self.on_revoke.write() = Some(hook);
    }

    async fn load_or_make_key(&self, key: &str) -> Result<Zeroizing<Vec<u8>>, LogicalError> {
        Ok(match self.view.get(key).await? {
            Some(e) => e.value,
            None => {
                let mut s = Zeroizing::new(vec![0u8; 32]);
                fill(&mut s);
                self.view
                    .put(arca_sdk::StorageEntry {
                        key: key.into(),
                        value: s.clone(),
                        seal_wrap: false,
                    })
                    .await?;
                s
            }
        })
    }

    /// Loads (or creates) the salt and the batch token key. Called after every unseal.
    pub async fn setup(&self) -> Result<(), LogicalError> {
        let salt = self.load_or_make_key("salt").await?;
        let batch = self.load_or_make_key(BATCH_KEY_PATH).await?;
        let unbound = aead::UnboundKey::new(&aead::AES_256_GCM, &batch)
            .map_err(|_| LogicalError::internal("invalid batch token key"))?;
        *self.salt.write() = Some(hmac::Key::new(hmac::HMAC_SHA256, &salt));
        *self.batch_key.write() = Some(Arc::new(aead::LessSafeKey::new(unbound)));
        self.cache.write().clear();
        Ok(())
    }

    /// Forgets the keys and cache (on seal).
    pub fn teardown(&self) {
        *self.salt.write() = None;
        *self.batch_key.write() = None;
        self.cache.write().clear();
    }

    /// The salted HMAC of a token or accessor, hex.
    pub fn hash(&self, value: &str) -> Result<String, LogicalError> {
        let guard = self.salt.read();
        let key = guard.as_ref().ok_or(LogicalError::Sealed)?;
        Ok(hex::encode(hmac::sign(key, value.as_bytes()).as_ref()))
    }

    fn batch_key(&self) -> Result<Arc<aead::LessSafeKey>, LogicalError> {
        self.batch_key.read().clone().ok_or(LogicalError::Sealed)
    }

    /// Creates a root token (the init token, generate-root, dev mode).
    pub async fn create_root(
        &self,
        id: Option<Zeroizing<String>>,
    ) -> Result<(Zeroizing<String>, Arc<TokenEntry>), LogicalError> {
        self.metrics.core().token_create_root.incr(1.0);
        self.create(
            TokenEntry {
                policies: vec!["root".into()],
                path: "auth/token/root".into(),
                display_name: "root".into(),
                orphan: true,
                ..TokenEntry::default()
            },
            id,
        )
        .await
    }

    /// Stores a new token. `id` is used as the token when given (root token ids in dev mode,
    /// `id` on create), otherwise a fresh `hvs.` token is made. A `token_type` of `"batch"`
    /// makes an `hvb.` token that holds the entry itself, sealed, and is stored nowhere.
    /// Returns the token and the entry.
    pub async fn create(
        &self,
        mut entry: TokenEntry,
        id: Option<Zeroizing<String>>,
    ) -> Result<(Zeroizing<String>, Arc<TokenEntry>), LogicalError> {
        let _timed = self.metrics.core().token_create.start();
        entry.version = TOKEN_ENTRY_VERSION;
        if entry.creation_time == 0 {
            entry.creation_time = now_unix();
        }
        if entry.creation_ttl == 0 {
            entry.creation_ttl = entry.ttl;
        }
        if entry.token_type.is_empty() {
            entry.token_type = "service".into();
        }
        if entry.namespace_id.is_empty() {
            entry.namespace_id = root_namespace_id();
        }
        // Tokens and accessors of a namespace other than the root end in `.<its id>`.
        let suffix = if entry.namespace_id == crate::namespaces::ROOT_ID {
            String::new()
        } else {
            format!(".{}", entry.namespace_id)
        };
        if entry.is_batch() {
            return self.create_batch(entry, &suffix);
        }
        let custom_id = id.as_ref().is_some_and(|i| !i.is_empty());
        let token = match id {
            Some(id) if !id.is_empty() => id,
            _ => Zeroizing::new(format!(
                "{SERVICE_TOKEN_PREFIX}{}{suffix}",
                random_base62(TOKEN_RANDOM_LEN)
            )),
        };
        let id_hash = self.hash(&token)?;
        // Only a caller-chosen id can collide (generated ones carry 143 random bits): only then
        // are creations serialized around the duplicate check, so concurrent creations of
        // generated tokens share storage commits.
        let _guard = if custom_id {
            Some(self.write_lock.lock().await)
        } else {
            None
        };
        if self.view.get(&format!("id/{id_hash}")).await?.is_some() {
            return Err(LogicalError::bad_request(
                "cannot create a token with a duplicate ID",
            ));
        }
        if !entry.parent.is_empty()
            && self
                .view
                .get(&format!("id/{}", entry.parent))
                .await?
                .is_none()
        {
            return Err(LogicalError::bad_request("parent token not found"));
        }
        entry.id_hash = id_hash.clone();
        entry.accessor = format!("{}{suffix}", random_base62(TOKEN_RANDOM_LEN));
        entry.cubbyhole_id = random_base62(TOKEN_RANDOM_LEN);
        let accessor_hash = self.hash(&entry.accessor)?;
        // The accessor, the parent link and the entry land together or not at all.
        let mut ops = vec![StorageOp::Put(StorageEntry::json(
            format!("accessor/{accessor_hash}"),
            &AccessorEntry {
                version: TOKEN_ENTRY_VERSION,
                id_hash: id_hash.clone(),
                accessor: entry.accessor.clone(),
            },
        )?)];
        if !entry.parent.is_empty() {
            ops.push(StorageOp::Put(StorageEntry::new(
                format!("parent/{}/{id_hash}", entry.parent),
                Vec::new(),
            )));
        }
        if !suffix.is_empty() {
            ops.push(StorageOp::Put(StorageEntry::new(
                format!("namespace/{}/{id_hash}", entry.namespace_id),
                Vec::new(),
            )));
        }
        ops.push(StorageOp::Put(StorageEntry::json(
            format!("id/{id_hash}"),
            &entry,
        )?));
        self.view.transaction(ops).await?;
        // Not cached here, nor at its first lookup: its second load from storage caches it
        // ([`TokenCache::admit`]). Most tokens a login or a create hands out are used a few
        // times or never, and a cached entry costs about 1.5 KB beside its stored copy.
        Ok((token, Arc::new(entry)))
    }

    fn create_batch(
        &self,
        mut entry: TokenEntry,
        suffix: &str,
    ) -> Result<(Zeroizing<String>, Arc<TokenEntry>), LogicalError> {
        entry.id_hash.clear();
        entry.accessor.clear();
        entry.cubbyhole_id.clear();
        entry.renewable = false;
        entry.num_uses = 0;
        let key = self.batch_key()?;
        let mut nonce = [0u8; aead::NONCE_LEN];
        fill(&mut nonce);
        let mut sealed =
            Zeroizing::new(serde_json::to_vec(&entry).map_err(LogicalError::internal)?);
        key.seal_in_place_append_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(BATCH_TOKEN_PREFIX.as_bytes()),
            &mut *sealed,
        )
        .map_err(|_| LogicalError::internal("failed to seal batch token"))?;
        let mut blob = Vec::with_capacity(nonce.len() + sealed.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&sealed);
        let token = Zeroizing::new(format!(
            "{BATCH_TOKEN_PREFIX}{}{suffix}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(blob)
        ));
        Ok((token, Arc::new(entry)))
    }

    /// Opens a batch token; `None` when it is not one of ours or was tampered with.
    fn open_batch(&self, token: &str) -> Result<Option<TokenEntry>, LogicalError> {
        let Some(b64) = token.strip_prefix(BATCH_TOKEN_PREFIX) else {
            return Ok(None);
        };
        // A namespace's batch token ends in `.<its id>`, outside the sealed blob (base64url
        // has no `.`); the id inside the blob is the one that counts.
        let b64 = b64.split_once('.').map_or(b64, |(blob, _)| blob);
        let Ok(blob) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(b64) else {
            return Ok(None);
        };
        if blob.len() < aead::NONCE_LEN + aead::AES_256_GCM.tag_len() {
            return Ok(None);
        }
        let (nonce, ct) = blob.split_at(aead::NONCE_LEN);
        let Ok(nonce) = aead::Nonce::try_assume_unique_for_key(nonce) else {
            return Ok(None);
        };
        let key = self.batch_key()?;
        let mut buf = Zeroizing::new(ct.to_vec());
        let Ok(plain) = key.open_in_place(
            nonce,
            aead::Aad::from(BATCH_TOKEN_PREFIX.as_bytes()),
            &mut buf,
        ) else {
            return Ok(None);
        };
        Ok(serde_json::from_slice::<TokenEntry>(plain).ok())
    }

    async fn load(&self, id_hash: &str) -> Result<Option<Arc<TokenEntry>>, LogicalError> {
        let cached = self.cache.read().get(id_hash);
        if let Some(e) = cached {
            return Ok(Some(e));
        }
        // Boxed: a cached token (most requests) does not carry the storage read's state.
        Box::pin(self.load_stored(id_hash)).await
    }

    /// [`TokenStore::load`] of a token not cached: read from storage, then cached if the
    /// cache admits it (its second load).
    async fn load_stored(&self, id_hash: &str) -> Result<Option<Arc<TokenEntry>>, LogicalError> {
        let Some(e) = self
            .view
            .get_json::<TokenEntry>(&format!("id/{id_hash}"))
            .await?
        else {
            return Ok(None);
        };
        let e = Arc::new(e);
        let mut cache = self.cache.write();
        if cache.admit(id_hash) {
            cache.insert(id_hash, e.clone());
        }
        Ok(Some(e))
    }

    /// Looks a service token up by its id hash, revoking it when expired. Tokens whose last
    /// use is in progress are shown only when `tainted` is set.
    pub async fn lookup_hash_with(
        &self,
        id_hash: &str,
        tainted: bool,
    ) -> Result<Option<Arc<TokenEntry>>, LogicalError> {
        let Some(entry) = self.load(id_hash).await? else {
            return Ok(None);
        };
        if entry.expired_at(now_unix()) {
            // Boxed: every lookup's future would carry the revocation's state.
            Box::pin(self.revoke_tree(id_hash)).await?;
            return Ok(None);
        }
        if entry.is_tainted() && !tainted {
            return Ok(None);
        }
        Ok(Some(entry))
    }

    /// Looks a service token up by its id hash, dropping it when expired.
    pub async fn lookup_hash(
        &self,
        id_hash: &str,
    ) -> Result<Option<Arc<TokenEntry>>, LogicalError> {
        self.lookup_hash_with(id_hash, false).await
    }

    /// Looks a token (service or batch) up; `tainted` also shows a token in its last use.
    pub async fn lookup_with(
        &self,
        token: &str,
        tainted: bool,
    ) -> Result<Option<Arc<TokenEntry>>, LogicalError> {
        if token.is_empty() {
            return Ok(None);
        }
        let _timed = self.metrics.core().token_lookup.start();
        if token.starts_with(BATCH_TOKEN_PREFIX) {
            let Some(e) = self.open_batch(token)? else {
                return Ok(None);
            };
            if e.expired_at(now_unix()) {
                return Ok(None);
            }
            // A batch token dies with its parent.
            if !e.parent.is_empty() && Box::pin(self.lookup_hash(&e.parent)).await?.is_none() {
                return Ok(None);
            }
            return Ok(Some(Arc::new(e)));
        }
        let h = self.hash(token)?;
        self.lookup_hash_with(&h, tainted).await
    }

    /// Looks a token up (service or batch), refusing expired and used-up ones.
    pub async fn lookup(&self, token: &str) -> Result<Option<Arc<TokenEntry>>, LogicalError> {
        self.lookup_with(token, false).await
    }

    /// Looks a token up by accessor.
    pub async fn lookup_accessor(
        &self,
        accessor: &str,
    ) -> Result<Option<Arc<TokenEntry>>, LogicalError> {
        if accessor.is_empty() {
            return Ok(None);
        }
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
        self.cache.write().insert(&entry.id_hash, entry.clone());
        Ok(entry)
    }

    /// Counts one use of a limited-use token, atomically. The last use marks the token
    /// tainted ([`TAINTED_USES`]): no other request can use it, and the core calls
    /// [`TokenStore::finish_use`] after the request to revoke it. Returns the entry as it
    /// was before the use, or `None` when it has no uses left.
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
        let mut next = current.clone();
        next.num_uses = if current.num_uses == 1 {
            TAINTED_USES
        } else {
            current.num_uses - 1
        };
        self.update(next).await?;
        Ok(Some(Arc::new(current)))
    }

    /// Revokes the token behind `id_hash` if its last use is done (called by the core after
    /// a request made with a limited-use token).
    pub async fn finish_use(&self, id_hash: &str) -> Result<(), LogicalError> {
        if let Some(e) = self.load(id_hash).await?
            && e.is_tainted()
        {
            self.revoke_tree(id_hash).await?;
        }
        Ok(())
    }

    /// Revokes a token and, recursively, all its children.
    pub async fn revoke_tree(&self, id_hash: &str) -> Result<(), LogicalError> {
        let _timed = self.metrics.core().token_revoke_tree.start();
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
        let mut ops = Vec::new();
        if let Some(e) = &entry {
            let ah = self.hash(&e.accessor)?;
            ops.push(StorageOp::Delete(format!("accessor/{ah}")));
            if !e.parent.is_empty() {
                ops.push(StorageOp::Delete(format!("parent/{}/{id_hash}", e.parent)));
            }
            if e.namespace_id != crate::namespaces::ROOT_ID {
                ops.push(StorageOp::Delete(format!(
                    "namespace/{}/{id_hash}",
                    e.namespace_id
                )));
            }
        }
        ops.push(StorageOp::Delete(format!("id/{id_hash}")));
        self.view.transaction(ops).await?;
        if let Some(e) = entry {
            let hook = self.on_revoke.read().clone();
            if let Some(hook) = hook {
                hook(Arc::new(e)).await;
            }
        }
        Ok(())
    }

    /// Revokes every token of the namespace with id `namespace_id`, with its children
    /// (the namespace is being deleted).
    pub async fn revoke_namespace(&self, namespace_id: &str) -> Result<usize, LogicalError> {
        let dir = format!("namespace/{namespace_id}/");
        let mut revoked = 0;
        loop {
            let hashes = self.view.list(&dir).await?;
            if hashes.is_empty() {
                return Ok(revoked);
            }
            for h in hashes {
                self.revoke_tree(h.trim_end_matches('/')).await?;
                // A token already gone leaves its index entry behind: drop it.
                self.view.delete(&format!("{dir}{h}")).await?;
                revoked += 1;
            }
        }
    }

    /// How many service tokens are stored (batch tokens never are), for
    /// `sys/internal/counters/tokens`.
    pub async fn count(&self) -> Result<usize, LogicalError> {
        Ok(self.view.list("id/").await?.len())
    }

    /// Calls `visit` with every stored service token, for the usage gauges.
    pub(crate) async fn for_each_token(
        &self,
        mut visit: impl FnMut(&TokenEntry),
    ) -> Result<(), LogicalError> {
        for hash in self.view.list("id/").await? {
            if let Some(entry) = self
                .view
                .get_json::<TokenEntry>(&format!("id/{hash}"))
                .await?
            {
                visit(&entry);
            }
        }
        Ok(())
    }

    /// Every stored accessor hash.
    pub async fn accessor_hashes(&self) -> Result<Vec<String>, LogicalError> {
        Ok(self.view.list("accessor/").await?)
    }

    /// Every accessor of a live service token, for `LIST auth/token/accessors`.
    pub async fn accessors(&self) -> Result<Vec<String>, LogicalError> {
        let mut out = Vec::new();
        for ah in self.accessor_hashes().await? {
            if let Some(a) = self
                .view
                .get_json::<AccessorEntry>(&format!("accessor/{ah}"))
                .await?
                && !a.accessor.is_empty()
            {
                out.push(a.accessor);
            }
        }
        Ok(out)
    }

    /// Cleans the store: deletes accessor entries of vanished tokens, revokes expired and
    /// used-up tokens, and turns children of vanished parents into orphans.
    pub async fn tidy(&self) -> Result<TidyReport, LogicalError> {
        let mut report = TidyReport::default();
        let now = now_unix();
        for ah in self.accessor_hashes().await? {
            let key = format!("accessor/{ah}");
            let Some(a) = self.view.get_json::<AccessorEntry>(&key).await? else {
                continue;
            };
            match self
                .view
                .get_json::<TokenEntry>(&format!("id/{}", a.id_hash))
                .await?
            {
                None => {
                    self.view.delete(&key).await?;
                    report.dangling_accessors += 1;
                }
                Some(e) if e.expired_at(now) || e.num_uses < 0 => {
                    self.revoke_tree(&e.id_hash).await?;
                    report.revoked += 1;
                }
                Some(_) => {}
            }
        }
        for parent in self.view.list("parent/").await? {
            let parent = parent.trim_end_matches('/').to_string();
            if self.view.get(&format!("id/{parent}")).await?.is_some() {
                continue;
            }
            for child in self.view.list(&format!("parent/{parent}/")).await? {
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
                self.view.delete(&format!("parent/{parent}/{ch}")).await?;
                report.stale_parent_links += 1;
            }
        }
        Ok(report)
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

    #[test]
    fn token_entry_debug_redacts_what_names_its_storage() {
        let e = TokenEntry {
            id_hash: "idhash-s3cret".into(),
            parent: "parent-s3cret".into(),
            cubbyhole_id: "cubby-s3cret".into(),
            accessor: "acc-shown".into(),
            ..Default::default()
        };
        for text in [format!("{e:?}"), format!("{e:#?}")] {
            assert!(!text.contains("s3cret"), "{text}");
            assert!(
                text.contains("<redacted>") && text.contains("acc-shown"),
                "{text}"
            );
        }
    }

    fn entry(n: usize) -> Arc<TokenEntry> {
        Arc::new(TokenEntry {
            accessor: format!("a{n}"),
            ..Default::default()
        })
    }

    #[test]
    fn token_cache_stays_bounded_and_evicts_the_oldest() {
        let mut c = TokenCache::new(4);
        for n in 0..1000 {
            c.insert(&format!("k{n}"), entry(n));
            assert!(c.len() <= 4, "{} entries after {n}", c.len());
            assert!(
                c.order.len() <= 2 * 4 + 1,
                "order grew to {}",
                c.order.len()
            );
        }
        assert!(c.get("k0").is_none());
        assert_eq!(c.get("k999").unwrap().accessor, "a999");
        // Inserting one key again and again, and removing keys, keeps it bounded too.
        for n in 0..1000 {
            c.insert("same", entry(n));
            c.remove(&format!("k{}", 996 + n % 4));
            assert!(c.order.len() <= 2 * 4 + 1);
        }
        assert_eq!(c.get("same").unwrap().accessor, "a999");
        c.clear();
        assert_eq!(c.len(), 0);
    }

    #[tokio::test]
    async fn the_store_caches_at_most_its_capacity() {
        let ts = TokenStore::new(Arc::new(MemoryStorage::new()));
        ts.setup().await.unwrap();
        *ts.cache.write() = TokenCache::new(8);
        let mut tokens = Vec::new();
        for _ in 0..40 {
            let (t, _) = ts.create(TokenEntry::default(), None).await.unwrap();
            tokens.push(t);
            assert!(ts.cache.read().len() <= 8);
        }
        // Creating caches nothing, nor does a token's first lookup: its second does.
        assert_eq!(ts.cache.read().len(), 0);
        let first = ts.lookup(&tokens[0]).await.unwrap().unwrap();
        assert_eq!(ts.cache.read().len(), 0);
        assert_eq!(ts.lookup(&tokens[0]).await.unwrap().unwrap(), first);
        assert!(ts.cache.read().get(&first.id_hash).is_some());
        // Evicted entries still come from storage.
        for t in &tokens {
            for _ in 0..2 {
                assert!(ts.lookup(t).await.unwrap().is_some());
                assert!(ts.cache.read().len() <= 8);
            }
        }
        assert_eq!(ts.cache.read().len(), 8);
    }

    #[test]
    fn token_cache_admits_on_the_second_load_and_forgets_in_bounds() {
        let mut c = TokenCache::new(4);
        assert!(!c.admit("a"));
        assert!(c.admit("a"));
        // Admitted once: a later load starts over.
        assert!(!c.admit("a"));
        // Many one-time loads keep the remembered set within the capacity.
        for n in 0..100 {
            assert!(!c.admit(&format!("once{n}")));
            assert!(c.seen_once.len() <= 4);
        }
    }
}
