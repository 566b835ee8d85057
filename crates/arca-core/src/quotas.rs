//! Resource quotas (OpenBao's `vault/quotas`): rate-limit quotas, lease-count quotas (Vault
//! Enterprise's; OpenBao 2.7.2 has none) and the quota configuration.
//!
//! A quota applies to a scope: the whole server (global), a namespace, a mount, a path below
//! a mount (exactly, or every path sharing the prefix before a trailing `*`), or a role of an
//! auth mount's logins. The most specific quota wins, as OpenBao's `queryQuota`: role, then
//! exact path, then the longest glob, then mount, then namespace (the global quota is the
//! root namespace's); a request in a child namespace with none of these falls back on the
//! nearest ancestor's inheritable namespace quota.
//!
//! Rate limits are keyed by client address: one GCRA limiter per quota from `governor`,
//! `round(rate)` (at least one) requests per `interval`, all available at once, as OpenBao's
//! limiter hands them out. A client over the limit of a quota with
//! a `block_interval` is refused for that long. A task purges stale per-client state every
//! minute ([`PURGE_INTERVAL`]) so it never grows without bound. The HTTP layer asks
//! [`Quotas::rate_limit`] before it reads a request's body.
//!
//! Lease counts: every lease the expiration manager adds or removes is reported here
//! ([`Quotas::lease_added`], [`Quotas::lease_removed`]) and counted toward the most specific
//! lease-count quota of its path (a login's toward its role's quota too, through the role the
//! pipeline resolved). Before a backend runs, [`Quotas::reserve_lease`] refuses a request
//! whose quota is full (429).
//!
//! Storage (inside the barrier, `sys/quotas/`): `config`, `rate-limit/<name>`,
//! `lease-count/<name>`, each JSON with a version marker. Loaded at unseal
//! ([`Quotas::setup`]), dropped at seal ([`Quotas::teardown`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use arca_sdk::storage::StorageExt;
use arca_sdk::{LogicalError, Storage};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use crate::mount_store::MountStore;
use crate::namespaces::NamespaceStore;

/// Version marker of every stored quota record.
const RECORD_VERSION: u32 = 1;
/// How often stale per-client limiter state and expired blocks are dropped (OpenBao's
/// `DefaultRateLimitPurgeInterval`).
pub(crate) const PURGE_INTERVAL: Duration = Duration::from_secs(60);
/// Storage key of the configuration, under `sys/quotas/`.
const CONFIG_KEY: &str = "config";

/// OpenBao's default `rate_limit_exempt_paths`, used until an operator writes the config.
pub(crate) const DEFAULT_EXEMPT_PATHS: [&str; 7] = [
    "sys/generate-recovery-token/attempt",
    "sys/generate-recovery-token/update",
    "sys/generate-root/attempt",
    "sys/generate-root/update",
    "sys/health",
    "sys/seal-status",
    "sys/unseal",
];

/// The two kinds of quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QuotaType {
    /// `sys/quotas/rate-limit`.
    RateLimit,
    /// `sys/quotas/lease-count`.
    LeaseCount,
}

impl QuotaType {
    /// The name in paths, storage keys and read answers.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            QuotaType::RateLimit => "rate-limit",
            QuotaType::LeaseCount => "lease-count",
        }
    }
}

/// What a quota applies to. Empty strings mean "not set"; the root namespace is `""`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct Scope {
    /// The namespace's path (`""` for the root, `team-a/` below it).
    pub namespace_path: String,
    /// The mount's path inside the namespace (`kv/`, `auth/approle/`), or empty.
    pub mount_path: String,
    /// The path below the mount (`data/foo`, `data/*`), or empty.
    pub path_suffix: String,
    /// The login role, or empty.
    pub role: String,
}

impl Scope {
    /// The path a read answers: namespace, mount and suffix joined.
    pub(crate) fn path(&self) -> String {
        format!(
            "{}{}{}",
            self.namespace_path, self.mount_path, self.path_suffix
        )
    }
}

/// A rate-limit quota as stored (OpenBao's `RateLimitQuota` fields, durations in nanoseconds).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RateLimitRecord {
    /// Record format version.
    #[serde(default)]
    pub version: u32,
    /// A UUID.
    pub id: String,
    /// The quota's name.
    pub name: String,
    /// Where it applies.
    #[serde(flatten)]
    pub scope: Scope,
    /// Requests allowed per interval.
    pub rate: f64,
    /// The interval, in nanoseconds (Go's `time.Duration`).
    pub interval: i64,
    /// How long a client over the limit is refused, in nanoseconds (0: not at all).
    pub block_interval: i64,
    /// Whether child namespaces fall back on it.
    pub inheritable: bool,
}

/// A lease-count quota as stored (Vault Enterprise's fields).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LeaseCountRecord {
    /// Record format version.
    #[serde(default)]
    pub version: u32,
    /// A UUID.
    pub id: String,
    /// The quota's name.
    pub name: String,
    /// Where it applies.
    #[serde(flatten)]
    pub scope: Scope,
    /// Leases allowed under it.
    pub max_leases: i64,
    /// Whether child namespaces fall back on it.
    pub inheritable: bool,
}

/// The quota configuration as stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ConfigRecord {
    /// Record format version.
    #[serde(default)]
    pub version: u32,
    /// Audit-log requests refused by a rate limit.
    pub enable_rate_limit_audit_logging: bool,
    /// Send the `X-Ratelimit-*` and `Retry-After` headers.
    pub enable_rate_limit_response_headers: bool,
    /// Paths no rate limit applies to; `None` until an operator writes them (the defaults).
    pub rate_limit_exempt_paths: Option<Vec<String>>,
}

impl ConfigRecord {
    /// The exempt paths in force.
    pub(crate) fn exempt_paths(&self) -> Vec<String> {
        match &self.rate_limit_exempt_paths {
            Some(p) => p.clone(),
            None => DEFAULT_EXEMPT_PATHS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// A keyed GCRA limiter that reports its state.
type Limiter =
    RateLimiter<String, DashMapStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// A rate-limit quota in force.
pub(crate) struct RateLimitQuota {
    /// What is stored.
    pub record: RateLimitRecord,
    limiter: Limiter,
    /// `X-Ratelimit-Limit`: the rate, rounded (OpenBao's token count).
    limit: u64,
    /// The time one request's allowance takes to come back.
    period: Duration,
    block: Duration,
    /// Clients refused until their block ends: when it began.
    blocked: Mutex<HashMap<String, Instant>>,
}

impl RateLimitQuota {
    /// A quota with a fresh limiter; `None` for a rate or interval no limiter can take.
    fn new(record: RateLimitRecord) -> Option<RateLimitQuota> {
        if !(record.rate.is_finite() && record.rate > 0.0) {
            return None;
        }
        let interval = Duration::from_nanos(u64::try_from(record.interval).ok()?.max(1));
        let burst = record.rate.round().clamp(1.0, f64::from(u32::MAX)) as u32;
        // OpenBao's limiter hands out `round(rate)` (at least one) requests per interval.
        let period = interval / burst;
        let quota = Quota::with_period(period.max(Duration::from_nanos(1)))?
            .allow_burst(burst.try_into().ok()?);
        let limiter = RateLimiter::dashmap(quota).with_middleware::<StateInformationMiddleware>();
        Some(RateLimitQuota {
            block: Duration::from_nanos(u64::try_from(record.block_interval).unwrap_or(0)),
            record,
            limiter,
            limit: u64::from(burst),
            period,
            blocked: Mutex::new(HashMap::new()),
        })
    }

    /// Takes one request of `client`: whether it may go on, and the headers that say so.
    fn take(&self, client: &str) -> RateLimitVerdict {
        let mut headers = Vec::with_capacity(4);
        if !self.block.is_zero() {
            let mut blocked = self.blocked.lock();
            if let Some(at) = blocked.get(client).copied() {
                if at.elapsed() < self.block {
                    let left = (at + self.block).saturating_duration_since(Instant::now());
                    headers.push((RETRY_AFTER, left.as_secs().to_string()));
                    return RateLimitVerdict::Refused(headers);
                }
                blocked.remove(client);
            }
        }
        let key = client.to_string();
        match self.limiter.check_key(&key) {
            Ok(state) => {
                let remaining = u64::from(state.remaining_burst_capacity()).min(self.limit);
                let reset = self
                    .period
                    .saturating_mul(u32::try_from(self.limit - remaining).unwrap_or(u32::MAX));
                headers.push((LIMIT, self.limit.to_string()));
                headers.push((REMAINING, remaining.to_string()));
                headers.push((RESET, reset.as_secs().to_string()));
                RateLimitVerdict::Allowed(headers)
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.limiter.clock().now());
                headers.push((LIMIT, self.limit.to_string()));
                headers.push((REMAINING, "0".to_string()));
                headers.push((RESET, wait.as_secs().to_string()));
                let mut retry = wait;
                if !self.block.is_zero() {
                    let at = Instant::now();
                    self.blocked.lock().insert(key, at);
                    retry = (at + self.block).saturating_duration_since(Instant::now());
                }
                headers.push((RETRY_AFTER, retry.as_secs().to_string()));
                RateLimitVerdict::Refused(headers)
            }
        }
    }

    /// Drops the state of clients that look like new ones again, and blocks that ended.
    fn purge(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
        let block = self.block;
        let mut blocked = self.blocked.lock();
        blocked.retain(|_, at| at.elapsed() < block);
        blocked.shrink_to_fit();
    }

    /// Clients whose state the limiter holds (tests of the purge).
    #[cfg(test)]
    fn clients(&self) -> usize {
        self.limiter.len()
    }
}

/// A lease-count quota in force.
pub(crate) struct LeaseCountQuota {
    /// What is stored.
    pub record: LeaseCountRecord,
    /// Leases counted toward it.
    count: AtomicI64,
    /// Requests under way that may add one (taken before the backend runs).
    reserved: AtomicI64,
}

impl LeaseCountQuota {
    /// The leases counted toward the quota now.
    pub(crate) fn counter(&self) -> i64 {
        self.count.load(Ordering::SeqCst)
    }
}

/// Something with a scope the precedence rules pick from.
trait Scoped {
    fn scope(&self) -> &Scope;
    fn inheritable(&self) -> bool;
}

impl Scoped for Arc<RateLimitQuota> {
    fn scope(&self) -> &Scope {
        &self.record.scope
    }
    fn inheritable(&self) -> bool {
        self.record.inheritable
    }
}

impl Scoped for Arc<LeaseCountQuota> {
    fn scope(&self) -> &Scope {
        &self.record.scope
    }
    fn inheritable(&self) -> bool {
        self.record.inheritable
    }
}

/// The header names OpenBao sends (Go's canonical spelling).
const RETRY_AFTER: &str = "Retry-After";
const LIMIT: &str = "X-Ratelimit-Limit";
const REMAINING: &str = "X-Ratelimit-Remaining";
const RESET: &str = "X-Ratelimit-Reset";

/// A rate-limit decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateLimitVerdict {
    /// The request goes on; the headers describe the client's allowance.
    Allowed(Vec<(&'static str, String)>),
    /// 429; the headers say when to come back.
    Refused(Vec<(&'static str, String)>),
    /// A role-based quota may apply: the login's role is needed (read from its body).
    NeedsRole,
}

/// One request as the rate limiter sees it, before its body is read.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitAsk<'a> {
    /// The API path after `/v1/` (a LIST's with its trailing `/`).
    pub path: &'a str,
    /// The namespace the header names (canonical: `""` for the root, else `team-a/`).
    pub namespace: &'a str,
    /// The client's address.
    pub client: &'a str,
    /// The login's role, once resolved after [`RateLimitVerdict::NeedsRole`].
    pub role: Option<&'a str>,
}

/// Where a request lands: its namespace, mount and path below the mount.
#[derive(Debug, Clone, Default)]
pub(crate) struct Landing {
    /// The namespace's path (`""` for the root).
    pub namespace_path: String,
    /// The mount inside the namespace, or empty when no mount serves the path.
    pub mount_path: String,
    /// The path below the mount, without a trailing `/`.
    pub path_suffix: String,
}

/// The quotas in force, swapped as a whole on every change.
#[derive(Default)]
struct Rules {
    rate: Vec<Arc<RateLimitQuota>>,
    lease: Vec<Arc<LeaseCountQuota>>,
    config: ConfigRecord,
    /// Exact exempt paths, and prefixes (from entries ending in `*`).
    exempt_exact: Vec<String>,
    exempt_prefix: Vec<String>,
}

impl Rules {
    fn exempt(&self, path: &str) -> bool {
        let path = path.trim_start_matches('/');
        let trimmed = path.trim_end_matches('/');
        self.exempt_exact.iter().any(|p| p == path || p == trimmed)
            || self
                .exempt_prefix
                .iter()
                .any(|p| path.starts_with(p.as_str()))
    }
}

/// A lease as its quota sees it.
#[derive(Debug, Clone)]
struct TrackedLease {
    landing: Landing,
    role: String,
    /// The id of the quota it counts toward.
    quota: Option<String>,
}

tokio::task_local! {
    /// The role of the login being handled, for the lease it obtains.
    static LOGIN_ROLE: String;
}

/// Runs `f` with `role` as the role of the login whose leases it adds.
pub(crate) async fn with_login_role<F: std::future::Future>(role: String, f: F) -> F::Output {
    LOGIN_ROLE.scope(role, f).await
}

/// The quota subsystem.
pub(crate) struct Quotas {
    view: Arc<dyn Storage>,
    namespaces: Arc<NamespaceStore>,
    mounts: Weak<MountStore>,
    rules: ArcSwap<Rules>,
    /// Serializes changes (writes, deletes, setup).
    write: tokio::sync::Mutex<()>,
    /// Every lease the expiration manager holds, with the quota it counts toward.
    leases: Mutex<HashMap<String, TrackedLease>>,
    purger: Mutex<Option<JoinHandle<()>>>,
}

/// A request's claim on room under a lease-count quota, given back when dropped.
pub(crate) struct LeaseReservation {
    quota: Arc<LeaseCountQuota>,
}

impl Drop for LeaseReservation {
    fn drop(&mut self) {
        self.quota.reserved.fetch_sub(1, Ordering::SeqCst);
    }
}

/// 429 `request path "<path>": lease count quota exceeded`, as Vault words it.
fn lease_count_exceeded(path: &str) -> LogicalError {
    LogicalError::too_many_requests(arca_sdk::error::multierror(&[format!(
        "request path {path:?}: lease count quota exceeded"
    )]))
}

impl Quotas {
    /// A quota subsystem over `view` (the barrier at `sys/quotas/`).
    pub(crate) fn new(
        view: Arc<dyn Storage>,
        namespaces: Arc<NamespaceStore>,
        mounts: Weak<MountStore>,
    ) -> Quotas {
        Quotas {
            view,
            namespaces,
            mounts,
            rules: ArcSwap::from_pointee(rules_with(
                ConfigRecord::default(),
                Vec::new(),
                Vec::new(),
            )),
            write: tokio::sync::Mutex::new(()),
            leases: Mutex::new(HashMap::new()),
            purger: Mutex::new(None),
        }
    }

    // ---- lifecycle ----

    /// Loads the configuration and every quota, and starts the purge task.
    pub(crate) async fn setup(self: &Arc<Self>) -> Result<(), LogicalError> {
        let _w = self.write.lock().await;
        let config = self
            .view
            .get_json::<ConfigRecord>(CONFIG_KEY)
            .await?
            .unwrap_or_default();
        let mut rate = Vec::new();
        for name in self.view.list("rate-limit/").await? {
            if let Some(rec) = self
                .view
                .get_json::<RateLimitRecord>(&format!("rate-limit/{name}"))
                .await?
                && let Some(q) = RateLimitQuota::new(rec)
            {
                rate.push(Arc::new(q));
            }
        }
        let mut lease = Vec::new();
        for name in self.view.list("lease-count/").await? {
            if let Some(rec) = self
                .view
                .get_json::<LeaseCountRecord>(&format!("lease-count/{name}"))
                .await?
            {
                lease.push(Arc::new(new_lease_quota(rec)));
            }
        }
        self.install(rules_with(config, rate, lease));
        let weak = Arc::downgrade(self);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(PURGE_INTERVAL);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(me) = weak.upgrade() else { return };
                me.purge();
            }
        });
        if let Some(old) = self.purger.lock().replace(task) {
            old.abort();
        }
        Ok(())
    }

    /// Forgets every quota and lease (the node seals or steps down).
    pub(crate) fn teardown(&self) {
        if let Some(task) = self.purger.lock().take() {
            task.abort();
        }
        self.rules.store(Arc::new(rules_with(
            ConfigRecord::default(),
            Vec::new(),
            Vec::new(),
        )));
        self.leases.lock().clear();
    }

    /// Drops stale per-client limiter state and ended blocks (every [`PURGE_INTERVAL`]).
    pub(crate) fn purge(&self) {
        for q in &self.rules.load().rate {
            q.purge();
        }
    }

    /// Puts `rules` in force and counts every known lease toward its lease-count quota.
    fn install(&self, rules: Rules) {
        let mut leases = self.leases.lock();
        for lease in leases.values_mut() {
            lease.quota = pick(&rules.lease, &lease.landing, &lease.role).map(|q| {
                q.count.fetch_add(1, Ordering::SeqCst);
                q.record.id.clone()
            });
        }
        self.rules.store(Arc::new(rules));
    }

    // ---- the configuration ----

    /// The configuration in force.
    pub(crate) fn config(&self) -> ConfigRecord {
        self.rules.load().config.clone()
    }

    /// Stores and applies a new configuration.
    pub(crate) async fn set_config(&self, mut config: ConfigRecord) -> Result<(), LogicalError> {
        let _w = self.write.lock().await;
        config.version = RECORD_VERSION;
        self.view.put_json(CONFIG_KEY, &config).await?;
        let old = self.rules.load();
        let rules = rules_with(config, old.rate.clone(), old.lease.clone());
        self.rules.store(Arc::new(rules));
        Ok(())
    }

    // ---- rules ----

    /// The names of every quota of `kind`, sorted.
    pub(crate) fn names(&self, kind: QuotaType) -> Vec<String> {
        let rules = self.rules.load();
        let mut names: Vec<String> = match kind {
            QuotaType::RateLimit => rules.rate.iter().map(|q| q.record.name.clone()).collect(),
            QuotaType::LeaseCount => rules.lease.iter().map(|q| q.record.name.clone()).collect(),
        };
        names.sort();
        names
    }

    /// The rate-limit quota `name`.
    pub(crate) fn rate_limit_quota(&self, name: &str) -> Option<Arc<RateLimitQuota>> {
        self.rules
            .load()
            .rate
            .iter()
            .find(|q| q.record.name == name)
            .cloned()
    }

    /// The lease-count quota `name`.
    pub(crate) fn lease_count_quota(&self, name: &str) -> Option<Arc<LeaseCountQuota>> {
        self.rules
            .load()
            .lease
            .iter()
            .find(|q| q.record.name == name)
            .cloned()
    }

    /// The name of another quota of `kind` with exactly `scope`, if one exists.
    pub(crate) fn same_scope(&self, kind: QuotaType, scope: &Scope, name: &str) -> Option<String> {
        let rules = self.rules.load();
        match kind {
            QuotaType::RateLimit => rules
                .rate
                .iter()
                .find(|q| &q.record.scope == scope && q.record.name != name)
                .map(|q| q.record.name.clone()),
            QuotaType::LeaseCount => rules
                .lease
                .iter()
                .find(|q| &q.record.scope == scope && q.record.name != name)
                .map(|q| q.record.name.clone()),
        }
    }

    /// Stores and applies a rate-limit quota (a new limiter: clients start afresh).
    pub(crate) async fn put_rate_limit(
        &self,
        mut rec: RateLimitRecord,
    ) -> Result<(), LogicalError> {
        let _w = self.write.lock().await;
        rec.version = RECORD_VERSION;
        let quota = RateLimitQuota::new(rec.clone())
            .ok_or_else(|| LogicalError::bad_request("'rate' is invalid"))?;
        self.view
            .put_json(&format!("rate-limit/{}", rec.name), &rec)
            .await?;
        let old = self.rules.load();
        let mut rate: Vec<_> = old
            .rate
            .iter()
            .filter(|q| q.record.name != rec.name)
            .cloned()
            .collect();
        rate.push(Arc::new(quota));
        let rules = rules_with(old.config.clone(), rate, old.lease.clone());
        self.rules.store(Arc::new(rules));
        Ok(())
    }

    /// Stores and applies a lease-count quota, counting the leases already under it.
    pub(crate) async fn put_lease_count(
        &self,
        mut rec: LeaseCountRecord,
    ) -> Result<(), LogicalError> {
        let _w = self.write.lock().await;
        rec.version = RECORD_VERSION;
        self.view
            .put_json(&format!("lease-count/{}", rec.name), &rec)
            .await?;
        let old = self.rules.load();
        let mut lease: Vec<_> = old
            .lease
            .iter()
            .filter(|q| q.record.name != rec.name)
            .map(|q| Arc::new(new_lease_quota(q.record.clone())))
            .collect();
        lease.push(Arc::new(new_lease_quota(rec)));
        self.install(rules_with(old.config.clone(), old.rate.clone(), lease));
        Ok(())
    }

    /// Deletes the quota `name` of `kind` (absent is fine).
    pub(crate) async fn delete(&self, kind: QuotaType, name: &str) -> Result<(), LogicalError> {
        let _w = self.write.lock().await;
        self.view
            .delete(&format!("{}/{name}", kind.as_str()))
            .await?;
        let old = self.rules.load();
        match kind {
            QuotaType::RateLimit => {
                let rate = old
                    .rate
                    .iter()
                    .filter(|q| q.record.name != name)
                    .cloned()
                    .collect();
                self.rules.store(Arc::new(rules_with(
                    old.config.clone(),
                    rate,
                    old.lease.clone(),
                )));
            }
            QuotaType::LeaseCount => {
                let lease = old
                    .lease
                    .iter()
                    .filter(|q| q.record.name != name)
                    .map(|q| Arc::new(new_lease_quota(q.record.clone())))
                    .collect();
                self.install(rules_with(old.config.clone(), old.rate.clone(), lease));
            }
        }
        Ok(())
    }

    /// Deletes every quota on the mount `mount_path` of namespace `ns_path` (it is being
    /// disabled).
    pub(crate) async fn prune_mount(
        &self,
        ns_path: &str,
        mount_path: &str,
    ) -> Result<(), LogicalError> {
        let rules = self.rules.load_full();
        let on_mount = |s: &Scope| s.namespace_path == ns_path && s.mount_path == mount_path;
        for q in rules.rate.iter().filter(|q| on_mount(&q.record.scope)) {
            self.delete(QuotaType::RateLimit, &q.record.name).await?;
        }
        for q in rules.lease.iter().filter(|q| on_mount(&q.record.scope)) {
            self.delete(QuotaType::LeaseCount, &q.record.name).await?;
        }
        Ok(())
    }

    // ---- where a path lands ----

    /// The namespace and mount of a quota's `path` (OpenBao's sanitized path: no leading
    /// `/`, a trailing `/` added): `Err` with the mount path no mount serves.
    pub(crate) fn scope_of(&self, path: &str) -> Result<(Landing, bool), String> {
        let mut p = path.to_string();
        if !p.ends_with('/') {
            p.push('/');
        }
        let p = p.trim_start_matches('/').to_string();
        let (ns_path, rest) = match self.namespaces.resolve("", &p) {
            Ok(r) => (
                r.namespace.path.clone(),
                p.get(r.strip..).unwrap_or("").to_string(),
            ),
            Err(_) => (String::new(), p.clone()),
        };
        if rest.is_empty() {
            return Ok((
                Landing {
                    namespace_path: ns_path,
                    ..Landing::default()
                },
                false,
            ));
        }
        let Some((mount, auth)) = self.mount_of(&ns_path, &rest) else {
            return Err(rest);
        };
        let suffix = rest
            .strip_prefix(&mount)
            .unwrap_or("")
            .trim_end_matches('/')
            .to_string();
        Ok((
            Landing {
                namespace_path: ns_path,
                mount_path: mount,
                path_suffix: suffix,
            },
            auth,
        ))
    }

    /// The mount of namespace `ns_path` serving `rel` (its path inside the namespace), and
    /// whether it is an auth mount.
    fn mount_of(&self, ns_path: &str, rel: &str) -> Option<(String, bool)> {
        let mounts = self.mounts.upgrade()?;
        let full = format!("{ns_path}{rel}");
        let ns = self.namespaces.by_path(ns_path)?;
        let (mount_path, route) = mounts.router().route(&full)?;
        if route.mount.load().namespace_id != ns.id {
            return None;
        }
        let inside = mount_path.get(ns_path.len()..)?.to_string();
        let auth = inside.starts_with("auth/");
        Some((inside, auth))
    }

    /// The backend of the auth mount `mount_path` of namespace `ns_path`, with its storage.
    pub(crate) fn auth_backend(
        &self,
        ns_path: &str,
        mount_path: &str,
    ) -> Option<(Arc<dyn arca_sdk::Backend>, Arc<dyn Storage>)> {
        let mounts = self.mounts.upgrade()?;
        let route = mounts.router().get(&format!("{ns_path}{mount_path}"))?;
        let backend = route.backend.load_full().backend.clone();
        Some((backend, route.storage.clone()))
    }

    /// Where an API request lands: its namespace (header, then path), mount and suffix.
    fn landing(&self, namespace: &str, path: &str) -> Landing {
        let Ok(resolved) = self.namespaces.resolve(namespace, path) else {
            return Landing::default();
        };
        let ns_path = resolved.namespace.path.clone();
        let rel = path.get(resolved.strip..).unwrap_or("");
        let Some((mount, _)) = self.mount_of(&ns_path, rel) else {
            return Landing {
                namespace_path: ns_path,
                ..Landing::default()
            };
        };
        let suffix = rel
            .strip_prefix(mount.as_str())
            .unwrap_or("")
            .trim_end_matches('/')
            .to_string();
        Landing {
            namespace_path: ns_path,
            mount_path: mount,
            path_suffix: suffix,
        }
    }

    // ---- rate limits ----

    /// Whether quotas of either kind exist for role-based matching on this landing.
    fn has_role_quota(&self, landing: &Landing, kind: QuotaType) -> bool {
        let rules = self.rules.load();
        let hit = |s: &Scope| {
            !s.role.is_empty()
                && s.namespace_path == landing.namespace_path
                && s.mount_path == landing.mount_path
        };
        match kind {
            QuotaType::RateLimit => rules.rate.iter().any(|q| hit(&q.record.scope)),
            QuotaType::LeaseCount => rules.lease.iter().any(|q| hit(&q.record.scope)),
        }
    }

    /// Applies the rate-limit quota that covers the request, if any. Asked before the body
    /// is read; a role-based quota on the mount makes it ask for the login's role first.
    pub fn rate_limit(&self, ask: &RateLimitAsk<'_>) -> RateLimitVerdict {
        let rules = self.rules.load();
        if rules.rate.is_empty() || rules.exempt(ask.path) {
            return RateLimitVerdict::Allowed(Vec::new());
        }
        let landing = self.landing(ask.namespace, ask.path);
        let role = match ask.role {
            Some(r) => r,
            None if self.has_role_quota(&landing, QuotaType::RateLimit) => {
                return RateLimitVerdict::NeedsRole;
            }
            None => "",
        };
        let verdict = match pick(&rules.rate, &landing, role) {
            Some(q) => q.take(ask.client),
            None => return RateLimitVerdict::Allowed(Vec::new()),
        };
        if rules.config.enable_rate_limit_response_headers {
            return verdict;
        }
        match verdict {
            RateLimitVerdict::Refused(_) => RateLimitVerdict::Refused(Vec::new()),
            _ => RateLimitVerdict::Allowed(Vec::new()),
        }
    }

    /// Whether rate-limit headers are sent.
    pub fn response_headers_enabled(&self) -> bool {
        self.rules.load().config.enable_rate_limit_response_headers
    }

    /// Whether refused requests are audited (`enable_rate_limit_audit_logging`).
    pub fn audit_logging_enabled(&self) -> bool {
        self.rules.load().config.enable_rate_limit_audit_logging
    }

    /// Where `ask` lands, for the role resolution of a login (namespace and mount).
    pub(crate) fn landing_of(&self, ask: &RateLimitAsk<'_>) -> Landing {
        self.landing(ask.namespace, ask.path)
    }

    // ---- lease counts ----

    /// Whether any lease-count quota exists.
    pub(crate) fn has_lease_quotas(&self) -> bool {
        !self.rules.load().lease.is_empty()
    }

    /// Whether a role-based lease-count quota sits on this mount (the login's role is
    /// needed to pick the quota).
    pub(crate) fn lease_role_needed(&self, namespace_path: &str, mount_path: &str) -> bool {
        self.has_role_quota(
            &Landing {
                namespace_path: namespace_path.to_string(),
                mount_path: mount_path.to_string(),
                path_suffix: String::new(),
            },
            QuotaType::LeaseCount,
        )
    }

    /// Takes room for one lease under the quota that covers the request (`ns_path` and
    /// `mount_path` as the router found them, `rel` below the mount): 429 when the quota is
    /// full. `None` when no quota applies.
    pub(crate) fn reserve_lease(
        &self,
        namespace_path: &str,
        mount_path: &str,
        rel: &str,
        role: &str,
        request_path: &str,
    ) -> Result<Option<LeaseReservation>, LogicalError> {
        let rules = self.rules.load();
        if rules.lease.is_empty() {
            return Ok(None);
        }
        let landing = Landing {
            namespace_path: namespace_path.to_string(),
            mount_path: mount_path.to_string(),
            path_suffix: rel.trim_end_matches('/').to_string(),
        };
        let Some(q) = pick(&rules.lease, &landing, role) else {
            return Ok(None);
        };
        let max = q.record.max_leases;
        let taken = q.reserved.fetch_add(1, Ordering::SeqCst) + 1;
        let reservation = LeaseReservation { quota: q.clone() };
        if q.count.load(Ordering::SeqCst) + taken > max {
            drop(reservation);
            return Err(lease_count_exceeded(request_path));
        }
        Ok(Some(reservation))
    }

    /// A lease the expiration manager now holds (made, or restored at unseal): counted
    /// toward the quota of its path (and of the login role being handled, if any).
    pub(crate) fn lease_added(&self, lease_id: &str, mount_path: &str, rel_path: &str) {
        let ns = self
            .namespaces
            .of_id(lease_id)
            .unwrap_or_else(|| self.namespaces.root());
        let landing = Landing {
            mount_path: mount_path
                .strip_prefix(ns.path.as_str())
                .unwrap_or(mount_path)
                .to_string(),
            namespace_path: ns.path.clone(),
            path_suffix: rel_path.trim_end_matches('/').to_string(),
        };
        let role = LOGIN_ROLE.try_with(Clone::clone).unwrap_or_default();
        // The rules are read under the lock `install` holds while it swaps them, so the lease
        // is counted by the quotas in force.
        let mut leases = self.leases.lock();
        if leases.contains_key(lease_id) {
            return;
        }
        let rules = self.rules.load();
        let quota = pick(&rules.lease, &landing, &role).map(|q| {
            q.count.fetch_add(1, Ordering::SeqCst);
            q.record.id.clone()
        });
        leases.insert(
            lease_id.to_string(),
            TrackedLease {
                landing,
                role,
                quota,
            },
        );
    }

    /// A lease the expiration manager removed (revoked, expired, tidied).
    pub(crate) fn lease_removed(&self, lease_id: &str) {
        let mut leases = self.leases.lock();
        let Some(lease) = leases.remove(lease_id) else {
            return;
        };
        if let Some(id) = lease.quota
            && let Some(q) = self.rules.load().lease.iter().find(|q| q.record.id == id)
        {
            q.count.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// A lease-count quota with nothing counted yet.
fn new_lease_quota(record: LeaseCountRecord) -> LeaseCountQuota {
    LeaseCountQuota {
        record,
        count: AtomicI64::new(0),
        reserved: AtomicI64::new(0),
    }
}

/// Rules from their parts, the exempt paths split into exact ones and prefixes.
fn rules_with(
    config: ConfigRecord,
    rate: Vec<Arc<RateLimitQuota>>,
    lease: Vec<Arc<LeaseCountQuota>>,
) -> Rules {
    let mut exempt_exact = Vec::new();
    let mut exempt_prefix = Vec::new();
    for p in config.exempt_paths() {
        let p = p.trim_start_matches('/');
        match p.strip_suffix('*') {
            Some(prefix) => exempt_prefix.push(prefix.to_string()),
            None => exempt_exact.push(p.to_string()),
        }
    }
    Rules {
        rate,
        lease,
        config,
        exempt_exact,
        exempt_prefix,
    }
}

/// The quota of `quotas` that covers `landing` (and `role`), by OpenBao's precedence.
fn pick<'a, Q: Scoped>(quotas: &'a [Q], landing: &Landing, role: &str) -> Option<&'a Q> {
    if quotas.is_empty() {
        return None;
    }
    let ns = landing.namespace_path.as_str();
    let mount = landing.mount_path.as_str();
    let find = |ns: &str, mount: &str, suffix: &str, role: &str| {
        quotas.iter().find(|q| {
            let s = q.scope();
            s.namespace_path == ns
                && s.mount_path == mount
                && s.path_suffix == suffix
                && s.role == role
        })
    };
    if !mount.is_empty() {
        if !role.is_empty()
            && let Some(q) = find(ns, mount, "", role)
        {
            return Some(q);
        }
        let suffix = landing.path_suffix.as_str();
        if !suffix.is_empty()
            && let Some(q) = find(ns, mount, suffix, "")
        {
            return Some(q);
        }
        // Globs: the longest prefix of the suffix followed by `*` first, `*` alone last.
        let mut end = suffix.len();
        loop {
            if suffix.is_char_boundary(end)
                && let Some(q) = find(ns, mount, &format!("{}*", &suffix[..end]), "")
            {
                return Some(q);
            }
            if end == 0 {
                break;
            }
            end -= 1;
        }
        if let Some(q) = find(ns, mount, "", "") {
            return Some(q);
        }
    }
    if let Some(q) = find(ns, "", "", "") {
        return Some(q);
    }
    // A child namespace falls back on its nearest ancestor's inheritable quota.
    let mut parent = ns;
    while !parent.is_empty() {
        let trimmed = parent.trim_end_matches('/');
        parent = match trimmed.rfind('/') {
            Some(i) => &parent[..=i],
            None => "",
        };
        if let Some(q) = find(parent, "", "", "")
            && q.inheritable()
        {
            return Some(q);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(
        name: &str,
        ns: &str,
        mount: &str,
        suffix: &str,
        role: &str,
        rate: f64,
    ) -> Arc<RateLimitQuota> {
        Arc::new(
            RateLimitQuota::new(RateLimitRecord {
                version: RECORD_VERSION,
                id: name.into(),
                name: name.into(),
                scope: Scope {
                    namespace_path: ns.into(),
                    mount_path: mount.into(),
                    path_suffix: suffix.into(),
                    role: role.into(),
                },
                rate,
                interval: 1_000_000_000,
                block_interval: 0,
                inheritable: ns.is_empty() && mount.is_empty(),
            })
            .unwrap_or_else(|| panic!("quota {name}")),
        )
    }

    fn land(ns: &str, mount: &str, suffix: &str) -> Landing {
        Landing {
            namespace_path: ns.into(),
            mount_path: mount.into(),
            path_suffix: suffix.into(),
        }
    }

    fn picked(qs: &[Arc<RateLimitQuota>], l: &Landing, role: &str) -> Option<String> {
        pick(qs, l, role).map(|q| q.record.name.clone())
    }

    #[test]
    fn most_specific_quota_wins() {
        let qs = vec![
            rate("global", "", "", "", "", 1.0),
            rate("ns", "team/", "", "", "", 1.0),
            rate("mount", "", "kv/", "", "", 1.0),
            rate("exact", "", "kv/", "a/b", "", 1.0),
            rate("glob", "", "kv/", "a/*", "", 1.0),
            rate("all", "", "kv/", "*", "", 1.0),
            rate("role", "", "auth/approle/", "", "r1", 1.0),
        ];
        assert_eq!(
            picked(&qs, &land("", "kv/", "a/b"), ""),
            Some("exact".into())
        );
        assert_eq!(
            picked(&qs, &land("", "kv/", "a/c"), ""),
            Some("glob".into())
        );
        assert_eq!(picked(&qs, &land("", "kv/", "b"), ""), Some("all".into()));
        assert_eq!(
            picked(&qs, &land("", "kv2/", "b"), ""),
            Some("global".into())
        );
        assert_eq!(
            picked(&qs, &land("team/", "kv/", "b"), ""),
            Some("ns".into())
        );
        // The global quota is inheritable; a namespace quota is not by default.
        assert_eq!(
            picked(&qs, &land("other/", "kv/", ""), ""),
            Some("global".into())
        );
        assert_eq!(
            picked(&qs, &land("team/sub/", "", ""), ""),
            Some("global".into())
        );
        assert_eq!(
            picked(&qs, &land("", "auth/approle/", "login"), "r1"),
            Some("role".into())
        );
        assert_eq!(
            picked(&qs, &land("", "auth/approle/", "login"), "r2"),
            Some("global".into())
        );
        let only_mount = vec![rate("mount", "", "kv/", "", "", 1.0)];
        assert_eq!(
            picked(&only_mount, &land("", "kv/", "x"), ""),
            Some("mount".into())
        );
    }

    #[test]
    fn limits_per_client_and_purges() {
        let q = rate("q", "", "", "", "", 2.0);
        assert!(matches!(q.take("1.1.1.1"), RateLimitVerdict::Allowed(_)));
        assert!(matches!(q.take("1.1.1.1"), RateLimitVerdict::Allowed(_)));
        let RateLimitVerdict::Refused(h) = q.take("1.1.1.1") else {
            panic!("third request allowed")
        };
        assert!(h.iter().any(|(k, v)| *k == RETRY_AFTER && v == "0"));
        assert!(h.iter().any(|(k, v)| *k == REMAINING && v == "0"));
        // Another client has its own allowance.
        assert!(matches!(q.take("2.2.2.2"), RateLimitVerdict::Allowed(_)));
        assert_eq!(q.clients(), 2);
        // A client is stale once a whole period has passed since its allowance came back.
        std::thread::sleep(Duration::from_millis(1600));
        q.purge();
        assert_eq!(q.clients(), 0, "stale clients are purged");
    }

    #[test]
    fn exempt_paths() {
        let rules = rules_with(
            ConfigRecord {
                rate_limit_exempt_paths: Some(vec!["sys/health".into(), "kv/open/*".into()]),
                ..ConfigRecord::default()
            },
            Vec::new(),
            Vec::new(),
        );
        assert!(rules.exempt("sys/health"));
        assert!(rules.exempt("kv/open/x"));
        assert!(!rules.exempt("kv/closed"));
        let defaults = rules_with(ConfigRecord::default(), Vec::new(), Vec::new());
        assert!(defaults.exempt("sys/seal-status"));
    }
}
