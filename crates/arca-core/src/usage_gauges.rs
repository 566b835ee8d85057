//! Vault's usage gauges (OpenBao's `emitMetricsActiveNode`): every `usage_gauge_period`, on the
//! active node, the tokens that hold a lease (OpenBao walks the token leases: a root token
//! without a TTL is not counted) by namespace, policy, auth method and creation TTL, and the
//! identity entities and their aliases by namespace and mount; every gauge carries the
//! cluster's name, as OpenBao's collection processes add it, and every namespace gets its
//! token and entity counts, zero when it has none.

use std::collections::BTreeMap;
use std::time::Duration;

use arca_sdk::LogicalError;

use crate::core::Core;
use crate::metrics::{namespace_label, ttl_bucket};

/// Counts by a tuple of label values.
type Counts<K> = BTreeMap<K, u64>;

/// What one collection counted.
#[derive(Default)]
struct Usage {
    tokens: Counts<String>,
    tokens_by_policy: Counts<(String, String)>,
    tokens_by_auth: Counts<(String, String)>,
    tokens_by_ttl: Counts<(String, String)>,
    entities: Counts<String>,
    aliases: Counts<(String, String, String)>,
}

impl Core {
    /// Collects the usage gauges once and sets them (active node only).
    pub(crate) async fn emit_usage_gauges(&self) -> Result<(), LogicalError> {
        let inner = &self.inner;
        let namespace_of = |id: &str| {
            inner
                .namespaces
                .by_id(id)
                .map(|ns| (namespace_label(&ns.path).to_owned(), ns.path.clone()))
                .unwrap_or_else(|| ("root".to_owned(), String::new()))
        };
        let mut usage = Usage::default();
        for ns in inner.namespaces.all() {
            let label = namespace_label(&ns.path).to_owned();
            usage.tokens.insert(label.clone(), 0);
            usage.entities.insert(label, 0);
        }
        let router = inner.mounts.router();
        inner
            .tokens
            .for_each_token(|t| {
                if t.creation_ttl == 0 && t.period == 0 {
                    return;
                }
                let (ns, ns_path) = namespace_of(&t.namespace_id);
                *usage.tokens.entry(ns.clone()).or_default() += 1;
                for policy in &t.policies {
                    *usage
                        .tokens_by_policy
                        .entry((policy.clone(), ns.clone()))
                        .or_default() += 1;
                }
                let method = router
                    .route(&format!("{ns_path}{}", t.path))
                    .map(|(_, r)| r.mount.load().api_type())
                    .unwrap_or_default();
                *usage
                    .tokens_by_auth
                    .entry((method, ns.clone()))
                    .or_default() += 1;
                let ttl = ttl_bucket(Duration::from_secs(t.creation_ttl.max(t.period)));
                *usage.tokens_by_ttl.entry((ttl.to_owned(), ns)).or_default() += 1;
            })
            .await?;
        let mounts = inner.mounts.accessor_names();
        for (namespace_id, accessors) in inner.identity.entity_usage() {
            let (ns, _) = namespace_of(&namespace_id);
            *usage.entities.entry(ns.clone()).or_default() += 1;
            for accessor in accessors {
                let (method, path) = mounts.get(&accessor).cloned().unwrap_or_default();
                *usage.aliases.entry((method, path, ns.clone())).or_default() += 1;
            }
        }
        self.set_usage(&usage);
        Ok(())
    }

    fn set_usage(&self, u: &Usage) {
        let m = self.metrics();
        let cluster = self.cluster_info().map(|c| c.name).unwrap_or_default();
        let cluster = cluster.as_str();
        let count = |v: &u64| *v as f64;
        // Labels in OpenBao's (alphabetical) order.
        for (ns, n) in &u.tokens {
            m.gauge(
                &["token", "count"],
                &[("cluster", cluster), ("namespace", ns)],
            )
            .set(count(n));
        }
        for ((policy, ns), n) in &u.tokens_by_policy {
            m.gauge(
                &["token", "count", "by_policy"],
                &[("cluster", cluster), ("namespace", ns), ("policy", policy)],
            )
            .set(count(n));
        }
        for ((method, ns), n) in &u.tokens_by_auth {
            m.gauge(
                &["token", "count", "by_auth"],
                &[
                    ("auth_method", method),
                    ("cluster", cluster),
                    ("namespace", ns),
                ],
            )
            .set(count(n));
        }
        for ((ttl, ns), n) in &u.tokens_by_ttl {
            m.gauge(
                &["token", "count", "by_ttl"],
                &[
                    ("cluster", cluster),
                    ("creation_ttl", ttl),
                    ("namespace", ns),
                ],
            )
            .set(count(n));
        }
        for (ns, n) in &u.entities {
            m.gauge(
                &["identity", "entity", "count"],
                &[("cluster", cluster), ("namespace", ns)],
            )
            .set(count(n));
        }
        for ((method, path, ns), n) in &u.aliases {
            m.gauge(
                &["identity", "entity", "alias", "count"],
                &[
                    ("auth_method", method),
                    ("cluster", cluster),
                    ("mount_point", path),
                    ("namespace", ns),
                ],
            )
            .set(count(n));
        }
    }

    /// Starts the usage gauge collection every `usage_gauge_period` (none when it is off).
    /// It ends when the core is dropped. Call from inside a tokio runtime.
    pub(crate) fn start_usage_gauges(&self) {
        let Some(period) = self.metrics().usage_gauge_period() else {
            return;
        };
        let weak = std::sync::Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first collection comes one period after the start, as OpenBao's.
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                let core = Core { inner };
                if core.sealed() || core.standby() {
                    continue;
                }
                if let Err(e) = core.emit_usage_gauges().await {
                    tracing::warn!(error = %e, "metrics: could not collect the usage gauges");
                }
            }
        });
    }
}
