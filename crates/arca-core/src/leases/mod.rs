//! The expiration manager: every lease — a secret a backend issued with a TTL, or a service
//! token with a TTL — stored inside the barrier under its own view (`sys/expire/`), indexed
//! by the token that obtained it, restored in the background at unseal, and revoked on time
//! by ONE timer task over a time-ordered index ([`pending`]). A revocation that fails is
//! retried with exponential backoff (Vault's base 10 s, doubled per attempt, ±50 % jitter);
//! after [`MAX_REVOKE_ATTEMPTS`] the lease is marked irrevocable with its error kept, and only
//! a forced revocation removes it.
//!
//! Storage (under `sys/expire/`):
//! - `id/<lease id>` → a versioned [`LeaseEntry`] (JSON): mount, mount-relative path, the
//!   `Secret` with its internal data and the response data (secret leases) or the token's id
//!   hash (token leases), the issuing token's id hash, issue/expire/last-renewal times and a
//!   revocation error. Lease ids hold `/`, so `LIST` of a prefix is a storage list.
//! - `token/<token id hash>/<sha256 of the lease id>` → the lease id: the secret leases a token
//!   obtained, so revoking the token revokes them.
//!
//! Public API (what `sys/leases/*`, response wrapping and the pipeline call):
//! - [`ExpirationManager::lookup`] → `Option<LeaseInfo>` (`None`: unknown lease);
//! - [`ExpirationManager::renew`]`(lease_id, increment)` → the backend's renew answer with the
//!   TTL capped as Vault's `CalculateTTL` (400s with Vault's texts: `lease not found`,
//!   `lease is not renewable`, `lease expired`, `tokens cannot be renewed through this
//!   endpoint`, `past the max TTL, cannot renew`);
//! - [`ExpirationManager::revoke`]`(lease_id, sync)` (unknown ids are fine; `sync = false`
//!   marks the lease expired now and lets the timer revoke it; a backend's failed revoke is
//!   400 `failed to revoke entry: resp: (*logical.Response)(nil) err: <its text>`);
//! - [`ExpirationManager::revoke_prefix`]`(prefix, force, sync)` (a prefix naming one lease
//!   revokes it; `force` removes leases whose backend revoke fails);
//! - [`ExpirationManager::list_prefix`] (one level, directories end in `/`);
//! - [`ExpirationManager::irrevocable`] and [`ExpirationManager::irrevocable_counts`];
//! - [`ExpirationManager::tidy`];
//! - [`ExpirationManager::register_token`] (a no-op for batch tokens and tokens without TTL);
//! - `register_response` (the pipeline, once, after the backend's answer is screened).
//!
//! The manager never imports `core`: it is handed the token store, the mount store (weakly:
//! the mount table owns the backends that hold the manager) and its storage view.

pub mod entry;
mod pending;
pub(crate) mod ttl;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use arca_sdk::storage::StorageExt;
use arca_sdk::{LogicalError, Operation, Request, Response, Storage, StorageEntry, StorageOp};
use futures::{StreamExt, TryStreamExt};
use parking_lot::Mutex;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;

pub use self::entry::{IrrevocableLease, LeaseEntry, LeaseInfo};
use self::pending::Pending;
use self::ttl::{TtlAsk, TtlLimits, calculate_ttl};
use crate::mount_store::MountStore;
use crate::mounts::MountEntry;
use crate::namespace_seals::NamespaceSeals;
use crate::namespaces::{Namespace, NamespaceStore};
use crate::random::{fill, random_base62};
use crate::router::RouteEntry;
use crate::token_store::{TokenEntry, TokenStore};

/// Failed revocations before a lease is marked irrevocable (Vault's `maxRevokeAttempts`).
pub const MAX_REVOKE_ATTEMPTS: u32 = 6;
/// Vault's `revokeRetryBase`: the first retry waits about twice this.
pub const DEFAULT_REVOKE_RETRY_BASE: Duration = Duration::from_secs(10);
/// The longest revocation error kept on an irrevocable lease (Vault's, in bytes).
pub const MAX_IRREVOCABLE_ERROR_LENGTH: usize = 240;
/// Random characters at the end of a secret's lease id (Vault's `TokenLength`).
pub const LEASE_RANDOM_LEN: usize = 24;
/// How long a backend may take to revoke or renew before the attempt counts as failed.
pub const BACKEND_CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Revocations run at once by the timer (the rest wait their turn).
const REVOCATION_WORKERS: usize = 64;
/// Concurrent revocations of one `revoke_prefix`.
const PREFIX_REVOKE_CONCURRENCY: usize = 16;
/// Stripes of the per-lease locks (renew, revoke and restore of one lease never interleave).
const LOCK_STRIPES: usize = 256;
/// Mount types whose secrets carry a TTL but no lease (Vault's KV passthrough).
const UNLEASED_KINDS: [&str; 3] = ["kv", "generic", "cubbyhole"];

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn rfc3339(ms: i64) -> String {
    entry::time_of(ms).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// The lease id of a service token: its creation path joined with its id hash (OpenBao:
/// `auth/token/create/<salted id>`).
pub fn token_lease_id(entry: &TokenEntry) -> String {
    let path = entry.path.trim_end_matches('/');
    let path = if path.is_empty() {
        "auth/token/create"
    } else {
        path
    };
    if entry.namespace_id.is_empty() || entry.namespace_id == crate::namespaces::ROOT_ID {
        format!("{path}/{}", entry.id_hash)
    } else {
        format!("{path}/{}.{}", entry.id_hash, entry.namespace_id)
    }
}

fn index_key(client_hash: &str, lease_id: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, lease_id.as_bytes());
    format!(
        "sys/expire/token/{client_hash}/{}",
        hex::encode(digest.as_ref())
    )
}

/// The storage directory of `ns`'s leases under id prefix `dir`.
fn id_dir(ns: &Namespace, dir: &str) -> String {
    format!("{}sys/expire/id/{dir}", ns.storage_prefix())
}

/// A lease id (or prefix) that can name storage: no `..` segment, no leading `/`.
fn valid_id(id: &str) -> bool {
    !id.starts_with('/') && !id.split('/').any(|s| s == "..")
}

/// A backend's failed revoke as OpenBao's `revokeEntry` words it (the backend answered with
/// an error, not a response): the text every revocation path (sync revoke, revoke-prefix, the
/// timer's irrevocable error) carries.
fn revoke_entry_failed(e: LogicalError) -> LogicalError {
    LogicalError::bad_request(format!(
        "failed to revoke entry: resp: (*logical.Response)(nil) err: {e}"
    ))
}

/// The text of a revocation error, cut to Vault's length on a character boundary.
fn truncate_error(mut s: String) -> String {
    if s.is_empty() {
        s = "unknown".into();
    }
    if s.len() > MAX_IRREVOCABLE_ERROR_LENGTH {
        let mut end = MAX_IRREVOCABLE_ERROR_LENGTH;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// A change of the set of leases, reported to the observer (the lease-count quotas).
#[derive(Debug, Clone, Copy)]
pub enum LeaseEvent<'a> {
    /// A lease is held: just made, or restored at unseal (root tokens' leases are not).
    Added {
        /// Its id.
        lease_id: &'a str,
        /// The mount it came from, with the namespace's path.
        mount_path: &'a str,
        /// The request path below the mount.
        rel_path: &'a str,
    },
    /// A lease is gone (revoked, expired, tidied).
    Removed {
        /// Its id.
        lease_id: &'a str,
    },
}

/// Told of every [`LeaseEvent`].
pub type LeaseObserver = Arc<dyn Fn(LeaseEvent<'_>) + Send + Sync>;

/// What [`ExpirationManager::tidy`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseTidyReport {
    /// Leases looked at.
    pub checked: usize,
    /// Secret leases whose token no longer exists, marked for revocation.
    pub revoked: usize,
    /// Token index entries naming a lease that no longer exists, deleted.
    pub dangling_index: usize,
}

/// The expiration manager. Built by the core, started at unseal after the mounts, stopped
/// at seal.
pub struct ExpirationManager {
    /// The whole barrier: a namespace's leases are under `<its prefix>sys/expire/id/`, the
    /// token index under `sys/expire/token/`.
    view: Arc<dyn Storage>,
    namespaces: Arc<NamespaceStore>,
    /// Leases of a sealed namespace are neither restored nor tidied until it unseals.
    seals: Arc<NamespaceSeals>,
    tokens: Arc<TokenStore>,
    mounts: Weak<MountStore>,
    pending: Mutex<Pending>,
    irrevocable: Mutex<BTreeMap<String, IrrevocableLease>>,
    /// Wakes the timer when a lease becomes the earliest.
    wake: Notify,
    /// Bumped at every start and stop: work of an older generation is dropped.
    generation: AtomicU64,
    restored: AtomicBool,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    workers: Arc<Semaphore>,
    locks: Vec<tokio::sync::Mutex<()>>,
    retry_base: Duration,
    /// Told of every lease added or removed.
    observer: std::sync::OnceLock<LeaseObserver>,
    /// `vault.expire.*` summaries.
    metrics: crate::metrics::Metrics,
}

impl ExpirationManager {
    /// A stopped manager over `view` (the whole barrier).
    pub(crate) fn new(
        view: Arc<dyn Storage>,
        namespaces: Arc<NamespaceStore>,
        seals: Arc<NamespaceSeals>,
        tokens: Arc<TokenStore>,
        mounts: Weak<MountStore>,
        retry_base: Duration,
        metrics: crate::metrics::Metrics,
    ) -> ExpirationManager {
        ExpirationManager {
            view,
            namespaces,
            seals,
            tokens,
            mounts,
            pending: Mutex::new(Pending::default()),
            irrevocable: Mutex::new(BTreeMap::new()),
            wake: Notify::new(),
            generation: AtomicU64::new(0),
            restored: AtomicBool::new(false),
            tasks: Mutex::new(Vec::new()),
            workers: Arc::new(Semaphore::new(REVOCATION_WORKERS)),
            locks: (0..LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            retry_base,
            observer: std::sync::OnceLock::new(),
            metrics,
        }
    }

    /// Sets the observer told of every lease added or removed (once, at construction).
    pub(crate) fn set_observer(&self, observer: LeaseObserver) {
        let _ = self.observer.set(observer);
    }

    /// Tells the observer that `le` is held, unless it is a root token's lease.
    fn observe_added(&self, le: &LeaseEntry) {
        if let Some(observe) = self.observer.get()
            && !(le.is_token() && le.expire_time == 0)
        {
            observe(LeaseEvent::Added {
                lease_id: &le.lease_id,
                mount_path: &le.mount_path,
                rel_path: &le.rel_path,
            });
        }
    }

    /// Starts the timer and the background restore of the stored leases (unseal, after
    /// the mounts are up). Requests are served while the restore runs.
    pub(crate) fn start(self: &Arc<Self>) {
        // A second start without a stop replaces the first timer rather than adding one.
        for t in self.tasks.lock().drain(..) {
            t.abort();
        }
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        self.restored.store(false, Ordering::SeqCst);
        let timer = tokio::spawn(self.clone().run_timer(generation));
        let restore = tokio::spawn(self.clone().restore(generation));
        self.tasks.lock().extend([timer, restore]);
    }

    /// Stops the timer, the restore and the revocations in flight, and forgets the
    /// in-memory index (seal). Stored leases stay and are restored at the next unseal.
    pub(crate) fn stop(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        for t in self.tasks.lock().drain(..) {
            t.abort();
        }
        self.pending.lock().clear();
        self.irrevocable.lock().clear();
        self.restored.store(false, Ordering::SeqCst);
    }

    /// Whether the restore after the last unseal has finished.
    pub fn is_restored(&self) -> bool {
        self.restored.load(Ordering::SeqCst)
    }

    /// Calls `visit` with every lease waiting to expire and its due time (Unix milliseconds),
    /// under the index's lock (keep `visit` short).
    pub(crate) fn for_each_pending(&self, visit: impl FnMut(&str, i64)) {
        self.pending.lock().for_each(visit);
    }

    /// How many leases wait in the timer's index.
    pub fn pending_count(&self) -> usize {
        self.pending.lock().len()
    }

    fn current(&self, generation: u64) -> bool {
        self.generation.load(Ordering::SeqCst) == generation
    }

    async fn lock_for(&self, id: &str) -> tokio::sync::MutexGuard<'_, ()> {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, id.as_bytes());
        let n = digest.as_ref().first().copied().unwrap_or(0) as usize % LOCK_STRIPES;
        match self.locks.get(n) {
            Some(l) => l.lock().await,
            None => self.locks[0].lock().await,
        }
    }

    /// Token leases are not locked: revoking one revokes the token, whose revocation hook
    /// comes back here for the token's own lease.
    async fn lock_secret(&self, id: &str) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        if id.starts_with("auth/token/") {
            None
        } else {
            Some(self.lock_for(id).await)
        }
    }

    fn schedule(&self, id: &str, due: i64) {
        if self.pending.lock().schedule(id, due) {
            self.wake.notify_one();
        }
    }

    fn forget(&self, id: &str) {
        self.pending.lock().remove(id);
        self.irrevocable.lock().remove(id);
    }

    /// The storage key of lease `id`, in the namespace its suffix names.
    fn id_key(&self, id: &str) -> String {
        let ns = self
            .namespaces
            .of_id(id)
            .unwrap_or_else(|| self.namespaces.root());
        id_dir(&ns, id)
    }

    async fn load(&self, id: &str) -> Result<Option<LeaseEntry>, LogicalError> {
        if id.is_empty() || !valid_id(id) || id.ends_with('/') {
            return Ok(None);
        }
        self.view.get_json::<LeaseEntry>(&self.id_key(id)).await
    }

    async fn persist(&self, le: &LeaseEntry) -> Result<(), LogicalError> {
        self.view.put_json(&self.id_key(&le.lease_id), le).await
    }

    async fn delete_entry(&self, le: &LeaseEntry) -> Result<(), LogicalError> {
        let mut ops = vec![StorageOp::Delete(self.id_key(&le.lease_id))];
        if !le.client_token_hash.is_empty() {
            ops.push(StorageOp::Delete(index_key(
                &le.client_token_hash,
                &le.lease_id,
            )));
        }
        self.view.transaction(ops).await?;
        if let Some(observe) = self.observer.get() {
            observe(LeaseEvent::Removed {
                lease_id: &le.lease_id,
            });
        }
        Ok(())
    }

    // ---- registration ----

    /// The pipeline's one call after a backend's answer is screened: a `secret` gets a lease
    /// (its TTL computed as Vault's `CalculateTTL` against the mount's limits; KV, generic
    /// and cubbyhole mounts answer the TTL with `renewable: false` and no lease). Tokens get
    /// theirs where they are minted ([`ExpirationManager::register_token`]).
    pub(crate) async fn register_response(
        &self,
        mount_path: &str,
        rel: &str,
        mount: &MountEntry,
        issuer: Option<&TokenEntry>,
        resp: &mut Response,
    ) -> Result<(), LogicalError> {
        if resp.secret.is_some() && mount.kind != "system" {
            // Boxed: only an answer with a secret pays for the registration future.
            Box::pin(self.register_secret(mount_path, rel, mount, issuer, resp)).await?;
        }
        Ok(())
    }

    async fn register_secret(
        &self,
        mount_path: &str,
        rel: &str,
        mount: &MountEntry,
        issuer: Option<&TokenEntry>,
        resp: &mut Response,
    ) -> Result<(), LogicalError> {
        let _timed = self.metrics.core().expire_register.start();
        let Some(secret) = resp.secret.as_mut() else {
            return Ok(());
        };
        if UNLEASED_KINDS.contains(&mount.kind.as_str()) {
            secret.lease.renewable = false;
            return Ok(());
        }
        let system = match self.mounts.upgrade() {
            Some(m) => m.system_ttls(),
            None => return Err(LogicalError::Sealed),
        };
        let now = now_ms();
        let (ttl, warnings) = calculate_ttl(
            TtlLimits::of_mount(mount, system),
            TtlAsk {
                backend_ttl: secret.lease.ttl.as_secs(),
                backend_max_ttl: secret.lease.max_ttl.as_secs(),
                start: now / 1000,
                now: now / 1000,
                ..TtlAsk::default()
            },
        )?;
        secret.lease.ttl = Duration::from_secs(ttl);
        if ttl == 0 {
            resp.warnings.extend(warnings);
            return Ok(());
        }
        // Ids are relative to the namespace, with its id as a suffix outside the root.
        let base = format!("{}{rel}", mount.rel_route_path());
        let suffix = if mount.namespace_id == crate::namespaces::ROOT_ID {
            ""
        } else {
            mount.namespace_id.as_str()
        };
        let id = format!(
            "{}/{}{}{suffix}",
            base.trim_end_matches('/'),
            random_base62(LEASE_RANDOM_LEN),
            if suffix.is_empty() { "" } else { "." }
        );
        secret.lease_id = id.clone();
        secret.lease.issue_time = Some(rfc3339(now));
        // Batch tokens are indexed under their parent (an orphan batch token's leases are
        // revoked only by their expiry), service tokens under themselves.
        let client_token_hash = match issuer {
            Some(t) if t.is_batch() => t.parent.clone(),
            Some(t) => t.id_hash.clone(),
            None => String::new(),
        };
        let le = LeaseEntry {
            version: entry::LEASE_ENTRY_VERSION,
            lease_id: id.clone(),
            path: base.trim_end_matches('/').to_string(),
            mount_path: mount_path.to_string(),
            mount_accessor: mount.accessor.clone(),
            rel_path: rel.to_string(),
            secret: Some(secret.clone()),
            data: resp.data.clone(),
            client_token_hash: client_token_hash.clone(),
            issue_time: now,
            expire_time: now + ttl as i64 * 1000,
            ..LeaseEntry::default()
        };
        let mut ops = vec![StorageOp::Put(StorageEntry::json(self.id_key(&id), &le)?)];
        if !client_token_hash.is_empty() {
            ops.push(StorageOp::Put(StorageEntry::new(
                index_key(&client_token_hash, &id),
                id.clone().into_bytes(),
            )));
        }
        if let Err(e) = self.view.transaction(ops).await {
            // Untracked, the secret would never be revoked: revoke it now, as Vault does.
            if let Err(revoke) = self.call_backend(&le, Operation::Revoke, 0).await {
                tracing::warn!(error = %revoke, "leases: could not revoke a secret whose lease failed to register");
            }
            return Err(e.into());
        }
        self.observe_added(&le);
        self.schedule(&id, le.expire_time);
        resp.warnings.extend(warnings);
        // `vault.secret.lease.creation`, labelled with the mount (OpenBao's).
        self.metrics.incr_labelled(
            &["secret", "lease", "creation"],
            &[
                (
                    "namespace",
                    crate::metrics::namespace_label(&mount.namespace_path),
                ),
                ("secret_engine", &mount.kind),
                ("mount_point", mount.rel_route_path().as_str()),
                (
                    "creation_ttl",
                    crate::metrics::ttl_bucket(Duration::from_secs(ttl)),
                ),
            ],
        );
        Ok(())
    }

    /// Gives a service token with a TTL its lease (`<creation path>/<id hash>`), so it is
    /// revoked when it expires; a root token without TTL gets a lease that never expires (as
    /// OpenBao lists it). Batch tokens and other tokens without TTL get none.
    pub async fn register_token(&self, entry: &TokenEntry) -> Result<(), LogicalError> {
        let _timed = self.metrics.core().expire_register_auth.start();
        self.register_token_lease(entry, None).await
    }

    /// Gives a login's service token its lease (`<login path>/<id hash>`) on the auth mount
    /// that issued it, keeping the method's `auth` (without the token) for renewals.
    pub async fn register_login(
        &self,
        entry: &TokenEntry,
        mount_path: &str,
        auth: &arca_sdk::Auth,
    ) -> Result<(), LogicalError> {
        let _timed = self.metrics.core().expire_register_auth.start();
        let mut kept = auth.clone();
        kept.client_token = zeroize::Zeroizing::new(String::new());
        self.register_token_lease(entry, Some((mount_path, kept)))
            .await
    }

    async fn register_token_lease(
        &self,
        entry: &TokenEntry,
        login: Option<(&str, arca_sdk::Auth)>,
    ) -> Result<(), LogicalError> {
        let expire_s = match entry.expire_time() {
            Some(t) => t,
            None if entry.is_root() => 0,
            None => return Ok(()),
        };
        if entry.is_batch() || entry.id_hash.is_empty() {
            return Ok(());
        }
        let id = token_lease_id(entry);
        let ns_path = self
            .namespaces
            .by_id(&entry.namespace_id)
            .map(|ns| ns.path.clone())
            .unwrap_or_default();
        let (mount_rel, auth) = match login {
            Some((m, auth)) => (m.to_string(), Some(auth)),
            None => ("auth/token/".to_string(), None),
        };
        let mount_path = format!("{ns_path}{mount_rel}");
        let accessor = self
            .mounts
            .upgrade()
            .and_then(|m| m.router().get(&mount_path))
            .map(|r| r.mount.load().accessor.clone())
            .unwrap_or_default();
        let path = id
            .rsplit_once('/')
            .map(|(p, _)| p.to_string())
            .unwrap_or_default();
        let le = LeaseEntry {
            version: entry::LEASE_ENTRY_VERSION,
            lease_id: id.clone(),
            rel_path: path.strip_prefix(&mount_rel).unwrap_or("").to_string(),
            path,
            mount_path,
            mount_accessor: accessor,
            token_hash: entry.id_hash.clone(),
            token_renewable: entry.renewable,
            auth,
            issue_time: now_ms(),
            expire_time: expire_s * 1000,
            ..LeaseEntry::default()
        };
        self.persist(&le).await?;
        if !entry.is_root() {
            self.observe_added(&le);
        }
        if le.expire_time > 0 {
            self.schedule(&id, le.expire_time);
        }
        Ok(())
    }

    /// Moves a token's lease to its new expiry after a renewal (`auth/token/renew*`).
    pub(crate) async fn token_renewed(&self, entry: &TokenEntry) -> Result<(), LogicalError> {
        let _timed = self.metrics.core().expire_renew_token.start();
        let id = token_lease_id(entry);
        let Some(mut le) = self.load(&id).await? else {
            return self.register_token(entry).await;
        };
        let Some(expire_s) = entry.expire_time() else {
            return Ok(());
        };
        le.expire_time = expire_s * 1000;
        le.last_renewal = now_ms();
        le.token_renewable = entry.renewable;
        self.persist(&le).await?;
        self.schedule(&id, le.expire_time);
        Ok(())
    }

    /// Moves a login token's lease to its new expiry and keeps the auth its method answered
    /// to the renewal.
    pub(crate) async fn login_renewed(
        &self,
        entry: &TokenEntry,
        auth: &arca_sdk::Auth,
    ) -> Result<(), LogicalError> {
        let id = token_lease_id(entry);
        let Some(mut le) = self.load(&id).await? else {
            return Err(LogicalError::bad_request("invalid lease ID"));
        };
        let mut kept = auth.clone();
        kept.client_token = zeroize::Zeroizing::new(String::new());
        le.auth = Some(kept);
        le.token_renewable = entry.renewable && auth.lease.renewable;
        le.last_renewal = now_ms();
        if let Some(expire_s) = entry.expire_time() {
            le.expire_time = expire_s * 1000;
        }
        self.persist(&le).await?;
        if le.expire_time > 0 {
            self.schedule(&id, le.expire_time);
        }
        Ok(())
    }

    /// Called for every revoked token (the token store's revocation hook): the secret
    /// leases it obtained are marked expired now (the timer revokes them through their
    /// backends, with retries), and its own lease goes.
    pub(crate) async fn revoke_by_token(&self, entry: &TokenEntry) -> Result<(), LogicalError> {
        let _timed = self.metrics.core().expire_revoke_by_token.start();
        if entry.id_hash.is_empty() {
            return Ok(());
        }
        let dir = format!("sys/expire/token/{}/", entry.id_hash);
        for key in self.view.list(&dir).await? {
            if let Some(e) = self.view.get(&format!("{dir}{key}")).await?
                && let Ok(id) = String::from_utf8(e.value.to_vec())
            {
                self.lazy_revoke(&id).await?;
            }
        }
        let id = token_lease_id(entry);
        // Non-expiring root token leases are in no index.
        let known = (entry.is_root() && entry.ttl == 0)
            || self.pending.lock().contains(&id)
            || self.irrevocable.lock().contains_key(&id);
        // Once the restore is done, a token lease the index does not hold is not stored.
        if known || !self.is_restored() {
            self.view.delete(&self.id_key(&id)).await?;
            self.forget(&id);
            if let Some(observe) = self.observer.get() {
                observe(LeaseEvent::Removed { lease_id: &id });
            }
        }
        Ok(())
    }

    // ---- lookup, renew, revoke ----

    /// The lease `lease_id` as `sys/leases/lookup` shows it; `None` when there is none.
    pub async fn lookup(&self, lease_id: &str) -> Result<Option<LeaseInfo>, LogicalError> {
        Ok(self.load(lease_id).await?.map(|le| le.info(now_ms())))
    }

    /// The stored entry of `lease_id` (tests, tooling).
    pub async fn entry(&self, lease_id: &str) -> Result<Option<LeaseEntry>, LogicalError> {
        self.load(lease_id).await
    }

    /// The lease ids and directories one level under `prefix` (`""` or ending in `/`),
    /// sorted; directories end in `/`.
    pub async fn list_prefix(
        &self,
        ns: &Namespace,
        prefix: &str,
    ) -> Result<Vec<String>, LogicalError> {
        if !(prefix.is_empty() || prefix.ends_with('/')) || !valid_id(prefix) {
            return Ok(Vec::new());
        }
        let mut keys = self.view.list(&id_dir(ns, prefix)).await?;
        keys.sort();
        Ok(keys)
    }

    fn route_of(
        &self,
        le: &LeaseEntry,
    ) -> Result<(Arc<MountStore>, Arc<RouteEntry>), LogicalError> {
        let mounts = self.mounts.upgrade().ok_or(LogicalError::Sealed)?;
        let by_path = mounts
            .router()
            .get(&le.mount_path)
            .filter(|r| r.mount.load().accessor == le.mount_accessor);
        let route = match by_path {
            Some(r) => Some(r),
            None => mounts
                .router()
                .all()
                .into_iter()
                .map(|(_, r)| r)
                .find(|r| r.mount.load().accessor == le.mount_accessor),
        };
        match route {
            Some(r) => Ok((mounts, r)),
            None => Err(LogicalError::internal(format!(
                "no mount serves the lease's mount {:?} any more",
                le.mount_path
            ))),
        }
    }

    /// Calls the backend that issued a secret lease with `op` (`Renew` or `Revoke`): the
    /// mount-relative path, the stored secret (with `increment` on renew) and data, the
    /// mount's storage view. As OpenBao's `renewEntry`/`revokeEntry`, a revoke's secret
    /// carries the lease id and a renew's an empty one.
    async fn call_backend(
        &self,
        le: &LeaseEntry,
        op: Operation,
        increment: u64,
    ) -> Result<Option<Response>, LogicalError> {
        let (_, route) = self.route_of(le)?;
        let mount = route.mount.load_full();
        let handle = route.backend.load_full();
        let mut req = Request::new(op, le.rel_path.clone());
        req.mount_point = mount.rel_route_path();
        req.namespace_id.clone_from(&mount.namespace_id);
        req.namespace_path.clone_from(&mount.namespace_path);
        req.mount_type = mount.kind.clone();
        req.mount_accessor = mount.accessor.clone();
        req.storage = Some(route.storage.clone());
        let mut secret = le.secret.clone().unwrap_or_default();
        secret.lease.increment = Duration::from_secs(increment);
        secret.lease.issue_time = Some(rfc3339(le.issue_time));
        secret.lease_id = if op == Operation::Renew {
            String::new()
        } else {
            le.lease_id.clone()
        };
        req.secret = Some(secret);
        req.data = le.data.clone().unwrap_or_default();
        match tokio::time::timeout(BACKEND_CALL_TIMEOUT, handle.backend.handle_request(req)).await {
            Ok(r) => r,
            Err(_) => Err(LogicalError::internal(
                "the backend did not answer the lease request in time",
            )),
        }
    }

    /// Renews a secret lease through its backend: the backend's answer, its TTL capped by
    /// the increment asked, the secret's own max TTL, the mount's and the system's max.
    /// Token leases are renewed through `auth/token/renew*` only (OpenBao's answer).
    pub async fn renew(
        &self,
        lease_id: &str,
        increment: Option<Duration>,
    ) -> Result<Option<Response>, LogicalError> {
        let _timed = self.metrics.core().expire_renew.start();
        let _guard = self.lock_secret(lease_id).await;
        let Some(mut le) = self.load(lease_id).await? else {
            return Err(LogicalError::bad_request("lease not found"));
        };
        let now = now_ms();
        le.renewable(now).map_err(LogicalError::bad_request)?;
        if le.secret.is_none() {
            return Err(LogicalError::bad_request(
                "tokens cannot be renewed through this endpoint",
            ));
        }
        let increment = increment.map(|d| d.as_secs()).unwrap_or(0);
        let Some(mut resp) = self.call_backend(&le, Operation::Renew, increment).await? else {
            return Ok(None);
        };
        let (_, route) = self.route_of(&le)?;
        let limits = {
            let mounts = self.mounts.upgrade().ok_or(LogicalError::Sealed)?;
            TtlLimits::of_mount(&route.mount.load(), mounts.system_ttls())
        };
        let Some(secret) = resp.secret.as_mut() else {
            return Ok(None);
        };
        let (ttl, warnings) = calculate_ttl(
            limits,
            TtlAsk {
                increment,
                backend_ttl: secret.lease.ttl.as_secs(),
                backend_max_ttl: secret.lease.max_ttl.as_secs(),
                start: le.issue_time / 1000,
                now: now / 1000,
                ..TtlAsk::default()
            },
        )?;
        secret.lease.ttl = Duration::from_secs(ttl);
        secret.lease_id = lease_id.to_string();
        if secret.internal_data.is_empty()
            && let Some(old) = &le.secret
        {
            secret.internal_data = old.internal_data.clone();
        }
        le.secret = Some(secret.clone());
        le.data = resp.data.clone();
        le.expire_time = now + ttl as i64 * 1000;
        le.last_renewal = now;
        self.persist(&le).await?;
        self.schedule(lease_id, le.expire_time);
        resp.warnings.extend(warnings);
        Ok(Some(resp))
    }

    /// Revokes `lease_id`: at once through its backend when `sync` (a failure is the
    /// caller's 400 and the lease stays), else marked expired now for the timer. An unknown
    /// lease is no error.
    pub async fn revoke(&self, lease_id: &str, sync: bool) -> Result<(), LogicalError> {
        let _timed = self.metrics.core().expire_revoke.start();
        if sync {
            self.revoke_lease(lease_id, false)
                .await
                .map_err(|e| LogicalError::bad_request(e.to_string()))
        } else {
            self.lazy_revoke(lease_id).await
        }
    }

    /// Revokes every lease under `prefix` (a prefix naming one lease revokes that one).
    /// `force` removes a lease even when its backend's revoke fails (`revoke-force`);
    /// `sync = false` marks them expired now for the timer.
    pub async fn revoke_prefix(
        &self,
        ns: &Namespace,
        prefix: &str,
        force: bool,
        sync: bool,
    ) -> Result<(), LogicalError> {
        let _timed = self.metrics.core().expire_revoke_prefix.start();
        let mut prefix = prefix.to_string();
        if !prefix.ends_with('/') {
            if self.load(&prefix).await?.is_some() {
                return if sync {
                    self.revoke_lease(&prefix, force).await.map_err(|e| {
                        LogicalError::bad_request(format!("failed to revoke {prefix:?}: {e}"))
                    })
                } else {
                    self.lazy_revoke(&prefix).await
                };
            }
            prefix.push('/');
        }
        let ids = self.collect(ns, &prefix).await?;
        let total = ids.len();
        if sync {
            futures::stream::iter(ids.into_iter().enumerate())
                .map(|(i, id)| async move {
                    self.revoke_lease(&id, force).await.map_err(|e| {
                        LogicalError::bad_request(format!(
                            "failed to revoke {id:?} ({} / {total}): {e}",
                            i + 1
                        ))
                    })
                })
                .buffer_unordered(PREFIX_REVOKE_CONCURRENCY)
                .try_collect::<Vec<()>>()
                .await?;
        } else {
            for id in ids {
                self.lazy_revoke(&id).await?;
            }
        }
        Ok(())
    }

    /// Revokes every lease of `ns` through its backend, keeping none whose backend fails
    /// (the namespace is being deleted); how many there were.
    pub(crate) async fn revoke_namespace(&self, ns: &Namespace) -> Result<usize, LogicalError> {
        let ids = self.collect(ns, "").await?;
        let total = ids.len();
        futures::stream::iter(ids)
            .map(|id| async move { self.revoke_lease(&id, true).await })
            .buffer_unordered(PREFIX_REVOKE_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(total)
    }

    /// Every lease id of `ns` under `prefix` (which ends in `/`), walking the storage tree.
    async fn collect(&self, ns: &Namespace, prefix: &str) -> Result<Vec<String>, LogicalError> {
        let mut out = Vec::new();
        if !valid_id(prefix) {
            return Ok(out);
        }
        let mut stack = vec![prefix.to_string()];
        while let Some(dir) = stack.pop() {
            for k in self.view.list(&id_dir(ns, &dir)).await? {
                let full = format!("{dir}{k}");
                if k.ends_with('/') {
                    stack.push(full);
                } else {
                    out.push(full);
                }
            }
        }
        Ok(out)
    }

    /// Marks a lease expired now (stored and in the index): the timer revokes it.
    async fn lazy_revoke(&self, lease_id: &str) -> Result<(), LogicalError> {
        let _guard = self.lock_secret(lease_id).await;
        let Some(mut le) = self.load(lease_id).await? else {
            return Ok(());
        };
        let now = now_ms();
        if le.expire_time == 0 || le.expire_time > now {
            le.expire_time = now;
            self.persist(&le).await?;
        }
        if !le.is_irrevocable() {
            self.schedule(lease_id, now);
        }
        Ok(())
    }

    /// Vault's `revokeCommon`: the backend's revoke (or the token's revocation), then the
    /// entry and its index go. With `force`, a failing backend does not keep the lease.
    async fn revoke_lease(&self, lease_id: &str, force: bool) -> Result<(), LogicalError> {
        let _guard = self.lock_secret(lease_id).await;
        let Some(le) = self.load(lease_id).await? else {
            self.forget(lease_id);
            return Ok(());
        };
        let outcome = if le.secret.is_some() {
            self.call_backend(&le, Operation::Revoke, 0)
                .await
                .map(|_| ())
                .map_err(revoke_entry_failed)
        } else if !le.token_hash.is_empty() {
            self.tokens.revoke_tree(&le.token_hash).await
        } else {
            Ok(())
        };
        if let Err(e) = outcome {
            if !force {
                return Err(e);
            }
            tracing::warn!(error = %e, "leases: the backend's revoke failed; removed anyway (force)");
        }
        self.delete_entry(&le).await?;
        self.forget(lease_id);
        Ok(())
    }

    // ---- the timer ----

    async fn run_timer(self: Arc<Self>, generation: u64) {
        loop {
            if !self.current(generation) {
                return;
            }
            let now = now_ms();
            let (due, next) = {
                let mut p = self.pending.lock();
                (p.take_due(now, 4096), p.next_due())
            };
            if !due.is_empty() {
                for id in due {
                    tokio::spawn(self.clone().expire(id, generation));
                }
                tokio::task::yield_now().await;
                continue;
            }
            let wait = next.map_or(3_600_000, |t| (t - now).clamp(1, 3_600_000)) as u64;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    /// Revokes one lease the timer found due; a failure is retried with backoff, and after
    /// the last attempt the lease is kept as irrevocable.
    async fn expire(self: Arc<Self>, id: Arc<str>, generation: u64) {
        let Ok(_permit) = self.workers.clone().acquire_owned().await else {
            return;
        };
        if !self.current(generation) {
            return;
        }
        let result = self.revoke_lease(&id, false).await;
        if !self.current(generation) {
            return;
        }
        match result {
            Ok(()) => self.pending.lock().remove(&id),
            Err(e) => self.revocation_failed(&id, e).await,
        }
    }

    async fn revocation_failed(&self, id: &str, err: LogicalError) {
        let attempts = self.pending.lock().attempts(id) + 1;
        let token_lease = id.starts_with("auth/token/");
        if attempts >= MAX_REVOKE_ATTEMPTS {
            let text = truncate_error(format!("out of retries: {err}"));
            let _guard = self.lock_secret(id).await;
            match self.load(id).await {
                Ok(Some(mut le)) => {
                    le.revoke_err = text.clone();
                    if let Err(e) = self.persist(&le).await {
                        tracing::warn!(error = %e, "leases: could not store an irrevocable lease");
                    }
                    self.pending.lock().remove(id);
                    self.irrevocable.lock().insert(
                        id.to_string(),
                        IrrevocableLease {
                            lease_id: id.to_string(),
                            mount_id: le.mount_accessor.clone(),
                            error: text,
                        },
                    );
                    if !token_lease {
                        tracing::error!(lease_id = %id, error = %err, "leases: revocation failed for good; the lease is irrevocable");
                    }
                }
                Ok(None) => self.pending.lock().remove(id),
                Err(e) => {
                    // Storage is failing too: keep trying later.
                    tracing::warn!(error = %e, "leases: could not load a lease to mark it irrevocable");
                    let due = now_ms() + self.backoff(attempts).as_millis() as i64;
                    if self.pending.lock().retry(id, due, attempts - 1) {
                        self.wake.notify_one();
                    }
                }
            }
            return;
        }
        let backoff = self.backoff(attempts);
        if !token_lease {
            tracing::warn!(lease_id = %id, error = %err, attempts, next_attempt_ms = backoff.as_millis() as u64, "leases: revocation failed; retrying");
        }
        let due = now_ms() + backoff.as_millis() as i64;
        if self.pending.lock().retry(id, due, attempts) {
            self.wake.notify_one();
        }
    }

    /// Vault's backoff: `2^attempt × base`, uniformly within ±50 %.
    fn backoff(&self, attempts: u32) -> Duration {
        let exp = self.retry_base.saturating_mul(1u32 << attempts.min(16));
        let mut b = [0u8; 8];
        fill(&mut b);
        let unit = (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64;
        exp.mul_f64(0.5 + unit)
    }

    // ---- restore ----

    async fn restore(self: Arc<Self>, generation: u64) {
        match self.restore_all(generation).await {
            Ok(n) => tracing::debug!(leases = n, "leases: restored"),
            Err(e) => tracing::error!(error = %e, "leases: restore failed"),
        }
        if self.current(generation) {
            self.restored.store(true, Ordering::SeqCst);
        }
    }

    async fn restore_all(&self, generation: u64) -> Result<usize, LogicalError> {
        let mut n = 0;
        for ns in self.namespaces.all() {
            if !self.seals.sealed_at(&ns.path) {
                n += self.restore_namespace(&ns, generation).await?;
            }
        }
        Ok(n)
    }

    /// Restores the leases of `namespaces` (just unsealed) in the background.
    pub(crate) fn restore_in_background(self: &Arc<Self>, namespaces: Vec<Arc<Namespace>>) {
        let generation = self.generation.load(Ordering::SeqCst);
        let me = self.clone();
        let task = tokio::spawn(async move {
            for ns in namespaces {
                if let Err(e) = me.restore_namespace(&ns, generation).await {
                    tracing::error!(namespace = %ns.path, error = %e, "leases: restore failed");
                }
            }
        });
        self.tasks.lock().push(task);
    }

    /// Drops the timer's entries of the leases of `ns` (it is being sealed; they are restored
    /// when it unseals).
    pub(crate) fn forget_namespace(&self, ns: &Namespace) {
        let suffix = ns.id_suffix();
        if suffix.is_empty() {
            return;
        }
        self.pending.lock().retain(|id| !id.ends_with(&suffix));
        self.irrevocable
            .lock()
            .retain(|id, _| !id.ends_with(&suffix));
    }

    async fn restore_namespace(
        &self,
        ns: &Namespace,
        generation: u64,
    ) -> Result<usize, LogicalError> {
        let mut n = 0;
        let mut stack = vec![String::new()];
        while let Some(dir) = stack.pop() {
            for k in self.view.list(&id_dir(ns, &dir)).await? {
                if !self.current(generation) {
                    return Ok(n);
                }
                let id = format!("{dir}{k}");
                if k.ends_with('/') {
                    stack.push(id);
                    continue;
                }
                let Some(le) = self.load(&id).await? else {
                    continue;
                };
                n += 1;
                self.observe_added(&le);
                if le.is_irrevocable() {
                    self.irrevocable.lock().insert(
                        id.clone(),
                        IrrevocableLease {
                            lease_id: id,
                            mount_id: le.mount_accessor,
                            error: le.revoke_err,
                        },
                    );
                } else if le.expire_time > 0
                    && self.pending.lock().schedule_if_absent(&id, le.expire_time)
                {
                    self.wake.notify_one();
                }
            }
        }
        Ok(n)
    }

    // ---- irrevocable leases, tidy ----

    /// The irrevocable leases, by lease id.
    pub fn irrevocable(&self) -> Vec<IrrevocableLease> {
        self.irrevocable.lock().values().cloned().collect()
    }

    /// How many leases are irrevocable, in all and by mount accessor.
    pub fn irrevocable_counts(&self) -> (usize, BTreeMap<String, usize>) {
        let map = self.irrevocable.lock();
        let mut by_mount = BTreeMap::new();
        for l in map.values() {
            *by_mount.entry(l.mount_id.clone()).or_insert(0) += 1;
        }
        (map.len(), by_mount)
    }

    /// Vault's lease tidy: secret leases whose token no longer exists are marked for
    /// revocation, and token index entries of vanished leases are deleted.
    pub async fn tidy(&self) -> Result<LeaseTidyReport, LogicalError> {
        let mut report = LeaseTidyReport::default();
        let mut ids = Vec::new();
        for ns in self.namespaces.all() {
            if !self.seals.sealed_at(&ns.path) {
                ids.extend(self.collect(&ns, "").await?);
            }
        }
        for id in ids {
            let Some(le) = self.load(&id).await? else {
                continue;
            };
            report.checked += 1;
            if le.secret.is_some()
                && !le.client_token_hash.is_empty()
                && self
                    .tokens
                    .lookup_hash(&le.client_token_hash)
                    .await?
                    .is_none()
            {
                self.lazy_revoke(&id).await?;
                report.revoked += 1;
            }
        }
        for token_dir in self.view.list("sys/expire/token/").await? {
            let dir = format!("sys/expire/token/{token_dir}");
            for key in self.view.list(&dir).await? {
                let k = format!("{dir}{key}");
                let Some(e) = self.view.get(&k).await? else {
                    continue;
                };
                let id = String::from_utf8_lossy(&e.value).to_string();
                if self.load(&id).await?.is_none() {
                    self.view.delete(&k).await?;
                    report.dangling_index += 1;
                }
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_cut_on_a_character_boundary() {
        assert_eq!(truncate_error(String::new()), "unknown");
        let long = "é".repeat(200);
        let cut = truncate_error(long);
        assert!(cut.len() <= MAX_IRREVOCABLE_ERROR_LENGTH && cut.len() >= 238);
    }

    #[test]
    fn token_lease_ids_join_the_creation_path_and_the_hash() {
        let e = TokenEntry {
            path: "auth/token/create".into(),
            id_hash: "abc".into(),
            ..TokenEntry::default()
        };
        assert_eq!(token_lease_id(&e), "auth/token/create/abc");
        assert!(valid_id("a/b/") && !valid_id("a/../b") && !valid_id("/a"));
    }
}
