//! Vault's usage gauges (OpenBao's `emitMetricsActiveNode`): every `usage_gauge_period`, on the
//! active node, the tokens that hold a lease (OpenBao walks the token leases: a root token
//! without a TTL is not counted) by namespace, policy, auth method and creation TTL, and the
//! identity entities and their aliases by namespace and mount, the secrets of each KV mount and
//! the leases by expiry time; every gauge carries the
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
    /// Leases by rounded expiry time (and namespace id, when asked for).
    leases: Counts<(String, String)>,
    /// Secrets by KV mount and namespace.
    kv_secrets: Counts<(String, String)>,
}

/// How many secrets a KV mount holds, counted as OpenBao counts them: LIST requests through
/// the mount's backend (not its storage), from the root (v1) or `metadata/` (v2) down, every
/// key not ending in `/` one secret.
async fn count_kv_secrets(route: &crate::router::RouteEntry, mount_point: &str, v2: bool) -> u64 {
    let backend = route.backend.load_full().backend.clone();
    let mut dirs = vec![if v2 {
        "metadata/".to_owned()
    } else {
        String::new()
    }];
    let mut secrets = 0;
    while let Some(dir) = dirs.pop() {
        let mut req = arca_sdk::Request::new(arca_sdk::Operation::List, dir.clone());
        req.mount_point = mount_point.to_owned();
        req.storage = Some(route.storage.clone());
        let Ok(Some(resp)) = backend.handle_request(req).await else {
            continue;
        };
        let keys = resp
            .data
            .as_ref()
            .and_then(|d| d.get("keys"))
            .and_then(|k| k.as_array());
        for key in keys.into_iter().flatten().filter_map(|k| k.as_str()) {
            if key.ends_with('/') {
                dirs.push(format!("{dir}{key}"));
            } else {
                secrets += 1;
            }
        }
    }
    secrets
}

/// Go's `time.Time.Round(epsilon).String()` of `due_ms` (Unix milliseconds) in UTC: halfway
/// rounds up, as Go's does.
fn expiry_label(due_ms: i64, epsilon: Duration) -> String {
    let eps = i64::try_from(epsilon.as_millis())
        .unwrap_or(i64::MAX)
        .max(1);
    let rounded = (due_ms + eps / 2).div_euclid(eps) * eps;
    let time = chrono::DateTime::from_timestamp_millis(rounded).unwrap_or_default();
    let mut text = time.format("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = time.timestamp_subsec_nanos();
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text.push_str(" +0000 UTC");
    text
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
        let buckets = self.metrics().lease_buckets();
        let window = crate::leases::now_ms().saturating_add(
            i64::try_from(
                buckets
                    .epsilon
                    .as_millis()
                    .saturating_mul(u128::from(buckets.count)),
            )
            .unwrap_or(i64::MAX),
        );
        inner.leases.for_each_pending(|id, due| {
            if due >= window {
                return;
            }
            let ns = if buckets.namespace_labels {
                crate::namespaces::id_suffix(id)
                    .unwrap_or("root")
                    .to_owned()
            } else {
                String::new()
            };
            *usage
                .leases
                .entry((expiry_label(due, buckets.epsilon), ns))
                .or_default() += 1;
        });
        for (_, route) in router.all() {
            let mount = route.mount.load_full();
            if mount.table != crate::mounts::TableKind::Mounts
                || !matches!(mount.kind.as_str(), "kv" | "generic")
            {
                continue;
            }
            let v2 = mount
                .options
                .as_ref()
                .and_then(|o| o.get("version"))
                .is_some_and(|v| v == "2");
            let secrets = count_kv_secrets(&route, &mount.path, v2).await;
            let ns = namespace_label(&mount.namespace_path).to_owned();
            usage.kv_secrets.insert((mount.path.clone(), ns), secrets);
        }
        let mounts = inner.mounts.accessor_names();
        for (namespace_id, accessors) in inner.identity.entity_usage() {
            let (ns, _) = namespace_of(&namespace_id);
            *usage.entities.entry(ns.clone()).or_default() += 1;
            for accessor in accessors {
                let (method, path) = mounts.get(&accessor).cloned().unwrap_or_default();
                *usage.aliases.entry((method, path, ns.clone())).or_default() += 1;
            }
        }
        self.metrics()
            .core()
            .identity_num_entities
            .set(inner.identity.entity_count() as f64);
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
        for ((mount_point, ns), n) in &u.kv_secrets {
            m.gauge(
                &["secret", "kv", "count"],
                &[
                    ("cluster", cluster),
                    ("mount_point", mount_point),
                    ("namespace", ns),
                ],
            )
            .set(count(n));
        }
        self.set_lease_buckets(u, cluster);
    }

    fn set_lease_buckets(&self, u: &Usage, cluster: &str) {
        let m = self.metrics();
        let by_namespace = m.lease_buckets().namespace_labels;
        for ((expiring, ns), n) in &u.leases {
            let mut labels = vec![("cluster", cluster), ("expiring", expiring.as_str())];
            if by_namespace {
                labels.push(("namespace", ns.as_str()));
            }
            m.gauge(&["expire", "leases", "by_expiration"], &labels)
                .set(*n as f64);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_labels_round_as_go() {
        let hour = Duration::from_secs(3600);
        // 2026-12-07 15:57:00 UTC rounds to 16:00; 15:29:59.999 to 15:00; 15:30 up to 16:00.
        let at = |h: i64, m: i64, ms: i64| 1_796_601_600_000 + ((h * 60 + m) * 60_000) + ms;
        assert_eq!(
            expiry_label(at(15, 57, 0), hour),
            "2026-12-07 16:00:00 +0000 UTC"
        );
        assert_eq!(
            expiry_label(at(15, 29, 59_999), hour),
            "2026-12-07 15:00:00 +0000 UTC"
        );
        assert_eq!(
            expiry_label(at(15, 30, 0), hour),
            "2026-12-07 16:00:00 +0000 UTC"
        );
        assert_eq!(
            expiry_label(at(15, 30, 250), Duration::from_millis(500)),
            "2026-12-07 15:30:00.5 +0000 UTC"
        );
    }
}
