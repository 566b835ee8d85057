//! The `telemetry` stanza (where metrics go and how they are named) and the listener's own
//! `telemetry` block (who may read `sys/metrics` on that listener).
//!
//! ```hcl
//! telemetry {
//!   prometheus_retention_time = "24h"
//!   disable_hostname          = true
//!   statsd_address            = "127.0.0.1:8125"
//! }
//! listener "tcp" {
//!   telemetry { unauthenticated_metrics_access = true }
//! }
//! ```
//!
//! Read as OpenBao 2.7.2 reads it (`configutil.parseTelemetry`): one stanza per file (`only one
//! 'telemetry' block is permitted`); without a stanza there is no Prometheus retention (the
//! Prometheus format is refused), with one and no `prometheus_retention_time` it is 24h;
//! `usage_gauge_period` is 10m unless set, `"none"` turns it off; durations are seconds or Go
//! duration strings (`time: invalid duration "x"` otherwise); `prefix_filter` rules start with
//! `+` or `-`. Keys of sinks Arca does not have (Circonus, Stackdriver, statsite) are accepted
//! with a warning.

use std::time::Duration;

use arca_sdk::duration::{DurationError, parse_duration_second};

use crate::decode::{Site, check_duplicates};
use crate::error::{ConfigError, Location};
use crate::tree::{Entry, Item, Node, Value};

/// OpenBao's Prometheus retention when a `telemetry` stanza sets none: 24h.
pub const DEFAULT_PROMETHEUS_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// OpenBao's `usage_gauge_period` when unset: 10 minutes.
pub const DEFAULT_USAGE_GAUGE_PERIOD: Duration = Duration::from_secs(600);

/// OpenBao's `maximum_gauge_cardinality` when unset (or 0).
pub const DEFAULT_MAXIMUM_GAUGE_CARDINALITY: i64 = 500;

/// OpenBao's `lease_metrics_epsilon` when unset: 1h.
pub const DEFAULT_LEASE_METRICS_EPSILON: Duration = Duration::from_secs(3600);

/// OpenBao's `num_lease_metrics_buckets` when unset (or 0).
pub const DEFAULT_NUM_LEASE_METRICS_BUCKETS: i64 = 168;

/// The server's `telemetry { ... }` stanza, with OpenBao's defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryConfig {
    /// How long a Prometheus series is kept after its last update; `None` turns the Prometheus
    /// format off (`prometheus_retention_time = 0`, or no stanza at all). A negative value in
    /// the file keeps the format on with a zero retention, as OpenBao does.
    pub prometheus_retention_time: Option<Duration>,
    /// Do not put the host name in gauge names (`disable_hostname`).
    pub disable_hostname: bool,
    /// Add a `host` label to every metric instead (`enable_hostname_label`).
    pub enable_hostname_label: bool,
    /// The first part of every metric name (`metrics_prefix`; `vault` when unset).
    pub metrics_prefix: Option<String>,
    /// How often the usage gauges are collected; `None` for `"none"` or 0.
    pub usage_gauge_period: Option<Duration>,
    /// Most label sets a usage gauge reports (`maximum_gauge_cardinality`).
    pub maximum_gauge_cardinality: i64,
    /// A statsd server metrics are sent to over UDP (`statsd_address`, `host:port`).
    pub statsd_address: Option<String>,
    /// A DogStatsD server metrics are sent to over UDP (`dogstatsd_addr`, `host:port`).
    pub dogstatsd_addr: Option<String>,
    /// Tags added to every DogStatsD metric (`dogstatsd_tags`, `"name:value"` each).
    pub dogstatsd_tags: Vec<String>,
    /// `lease_metrics_epsilon`: the width of `vault.expire.leases.by_expiration`'s buckets.
    pub lease_metrics_epsilon: Duration,
    /// `num_lease_metrics_buckets`: how many buckets ahead of now are reported.
    pub num_lease_metrics_buckets: i64,
    /// `add_lease_metrics_namespace_labels`: split those buckets by namespace id too.
    pub add_lease_metrics_namespace_labels: bool,
    /// Whether a metric no prefix rule names is kept (`filter_default`; kept when unset).
    pub filter_default: Option<bool>,
    /// `+prefix` keeps, `-prefix` drops metrics whose dotted name starts with `prefix`.
    pub prefix_filter: Vec<String>,
}

impl Default for TelemetryConfig {
    /// What a stanza with no keys means: Prometheus kept 24h, usage gauges every 10m.
    fn default() -> Self {
        Self {
            prometheus_retention_time: Some(DEFAULT_PROMETHEUS_RETENTION),
            disable_hostname: false,
            enable_hostname_label: false,
            metrics_prefix: None,
            usage_gauge_period: Some(DEFAULT_USAGE_GAUGE_PERIOD),
            maximum_gauge_cardinality: DEFAULT_MAXIMUM_GAUGE_CARDINALITY,
            statsd_address: None,
            dogstatsd_addr: None,
            dogstatsd_tags: Vec::new(),
            lease_metrics_epsilon: DEFAULT_LEASE_METRICS_EPSILON,
            num_lease_metrics_buckets: DEFAULT_NUM_LEASE_METRICS_BUCKETS,
            add_lease_metrics_namespace_labels: false,
            filter_default: None,
            prefix_filter: Vec::new(),
        }
    }
}

impl TelemetryConfig {
    /// What a server without a `telemetry` stanza runs with (OpenBao's `&Telemetry{}`): no
    /// Prometheus retention, no usage gauges period set.
    #[must_use]
    pub fn absent() -> Self {
        Self {
            prometheus_retention_time: None,
            usage_gauge_period: None,
            maximum_gauge_cardinality: 0,
            lease_metrics_epsilon: Duration::ZERO,
            num_lease_metrics_buckets: 0,
            ..Self::default()
        }
    }

    /// The prefix rules split into kept and dropped prefixes.
    #[must_use]
    pub fn prefix_rules(&self) -> (Vec<String>, Vec<String>) {
        let mut allow = Vec::new();
        let mut block = Vec::new();
        for rule in &self.prefix_filter {
            if let Some(p) = rule.strip_prefix('+') {
                allow.push(p.to_owned());
            } else if let Some(p) = rule.strip_prefix('-') {
                block.push(p.to_owned());
            }
        }
        (allow, block)
    }
}

/// A listener's `telemetry { ... }` block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListenerTelemetry {
    /// Serve `GET /v1/sys/metrics` without a token on this listener.
    pub unauthenticated_metrics_access: bool,
    /// Refuse `sys/metrics` on this listener (403).
    pub disallow_metrics: bool,
    /// Serve nothing but the metrics on this listener (404 for every other path).
    pub metrics_only: bool,
    /// With `metrics_only`, the path the metrics are served at instead of `/v1/sys/metrics`.
    pub metrics_path: Option<String>,
}

/// Keys of sinks Arca does not have: accepted, with a warning.
const UNSUPPORTED: &[&str] = &[
    "circonus_api_app",
    "circonus_api_token",
    "circonus_api_url",
    "circonus_broker_id",
    "circonus_broker_select_tag",
    "circonus_check_display_name",
    "circonus_check_force_metric_activation",
    "circonus_check_id",
    "circonus_check_instance_id",
    "circonus_check_search_tag",
    "circonus_check_tags",
    "circonus_submission_interval",
    "circonus_submission_url",
    "stackdriver_debug_logs",
    "stackdriver_location",
    "stackdriver_namespace",
    "stackdriver_project_id",
    "statsite_address",
];

/// The body of an unlabelled block (`telemetry { ... }` in HCL, `"telemetry": {...}` in JSON);
/// a JSON list of objects is several blocks.
pub(crate) fn bodies(entry: &Entry, file: &str) -> Result<Vec<Vec<Entry>>, ConfigError> {
    let bad = |line, got: &Value| {
        ConfigError::invalid(
            file,
            line,
            &entry.key,
            format!("expected a block, got {}", got.describe()),
        )
    };
    match &entry.item {
        Item::Block(block) => Ok(vec![block.body.clone()]),
        Item::Value(node) => match &node.value {
            Value::Map(_) => Ok(crate::tree::map_entries(node).into_iter().collect()),
            Value::List(items) => items
                .iter()
                .map(|item| {
                    crate::tree::map_entries(item).ok_or_else(|| bad(item.line, &item.value))
                })
                .collect(),
            other => Err(bad(node.line, other)),
        },
    }
}

/// A duration as OpenBao's `parseutil.ParseDurationSecond` reads it, in nanoseconds (negative
/// allowed); the error text is Go's.
fn duration_nanos(site: &Site<'_>, node: &Node) -> Result<i64, ConfigError> {
    match &node.value {
        Value::Str(s) => parse_duration_second(s),
        Value::Int(secs) => secs
            .checked_mul(1_000_000_000)
            .ok_or(DurationError::Overflow),
        Value::Float(secs) if secs.is_finite() => {
            // Whole seconds toward zero, as Go converts the float.
            #[allow(clippy::cast_possible_truncation)]
            let whole = secs.trunc() as i64;
            whole
                .checked_mul(1_000_000_000)
                .ok_or(DurationError::Overflow)
        }
        _ => Err(DurationError::NotADuration),
    }
    .map_err(|err| site.error(err.to_string()))
}

fn non_negative(nanos: i64) -> Duration {
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
}

/// Reads the `telemetry` entries of one file (OpenBao refuses a second one).
pub(crate) fn from_entries(
    entries: &[&Entry],
    file: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<TelemetryConfig>, ConfigError> {
    let mut all = Vec::new();
    for entry in entries {
        for body in bodies(entry, file)? {
            all.push((entry.line, body));
        }
    }
    if all.len() > 1 {
        let line = all.get(1).and_then(|(line, _)| *line);
        return Err(ConfigError::invalid(
            file,
            line,
            "telemetry",
            "only one 'telemetry' block is permitted",
        ));
    }
    let Some((_, body)) = all.into_iter().next() else {
        return Ok(None);
    };
    check_duplicates(&body, file, "telemetry", &[])?;
    let mut t = TelemetryConfig::default();
    for entry in &body {
        let key = entry.key.as_str();
        let site = Site {
            file,
            key: format!("telemetry.{key}"),
            line: entry.line,
        };
        if UNSUPPORTED.contains(&key) {
            warnings.push(format!(
                "{}: {}: not supported by Arca; ignored",
                Location::new(file, entry.line),
                site.key
            ));
            continue;
        }
        const KNOWN: &[&str] = &[
            "add_lease_metrics_namespace_labels",
            "disable_hostname",
            "dogstatsd_addr",
            "dogstatsd_tags",
            "enable_hostname_label",
            "filter_default",
            "lease_metrics_epsilon",
            "maximum_gauge_cardinality",
            "metrics_prefix",
            "num_lease_metrics_buckets",
            "prefix_filter",
            "prometheus_retention_time",
            "statsd_address",
            "usage_gauge_period",
        ];
        if !KNOWN.contains(&key) {
            site.unknown_key(warnings);
            continue;
        }
        let Some(node) = site.set_value(entry)? else {
            continue;
        };
        match key {
            "prometheus_retention_time" => {
                let nanos = duration_nanos(&site, node)?;
                t.prometheus_retention_time = (nanos != 0).then(|| non_negative(nanos));
            }
            "usage_gauge_period" => {
                t.usage_gauge_period = if matches!(&node.value, Value::Str(s) if s == "none") {
                    None
                } else {
                    let nanos = duration_nanos(&site, node)?;
                    (nanos > 0).then(|| non_negative(nanos))
                };
            }
            "lease_metrics_epsilon" => {
                t.lease_metrics_epsilon = if matches!(&node.value, Value::Str(s) if s == "none") {
                    Duration::ZERO
                } else {
                    non_negative(duration_nanos(&site, node)?)
                };
            }
            "disable_hostname" => t.disable_hostname = site.bool(node)?,
            "enable_hostname_label" => t.enable_hostname_label = site.bool(node)?,
            "add_lease_metrics_namespace_labels" => {
                t.add_lease_metrics_namespace_labels = site.bool(node)?;
            }
            "filter_default" => t.filter_default = Some(site.bool(node)?),
            "metrics_prefix" => {
                let prefix = site.string(node)?;
                t.metrics_prefix = (!prefix.is_empty()).then_some(prefix);
            }
            "statsd_address" => {
                let addr = site.string(node)?;
                t.statsd_address = (!addr.is_empty()).then_some(addr);
            }
            "dogstatsd_addr" => {
                let addr = site.string(node)?;
                t.dogstatsd_addr = (!addr.is_empty()).then_some(addr);
            }
            "maximum_gauge_cardinality" => {
                t.maximum_gauge_cardinality = match site.int(node)? {
                    0 => DEFAULT_MAXIMUM_GAUGE_CARDINALITY,
                    n => n,
                };
            }
            "num_lease_metrics_buckets" => {
                t.num_lease_metrics_buckets = match site.int(node)? {
                    0 => DEFAULT_NUM_LEASE_METRICS_BUCKETS,
                    n => n,
                };
            }
            "dogstatsd_tags" => t.dogstatsd_tags = site.strings(node)?,
            "prefix_filter" => {
                let rules = site.strings(node)?;
                for rule in &rules {
                    if rule.is_empty() {
                        return Err(site.error("cannot have empty filter rule in prefix_filter"));
                    }
                    if !rule.starts_with('+') && !rule.starts_with('-') {
                        return Err(site.error(format!(
                            "filter rule must begin with either '+' or '-': {}",
                            Value::Str(rule.clone()).describe()
                        )));
                    }
                }
                t.prefix_filter = rules;
            }
            _ => {}
        }
    }
    Ok(Some(t))
}

/// Reads a listener's `telemetry` block; `prefix` is `listener.tcp`.
pub(crate) fn listener_telemetry(
    entry: &Entry,
    file: &str,
    prefix: &str,
    warnings: &mut Vec<String>,
    into: &mut ListenerTelemetry,
) -> Result<(), ConfigError> {
    for body in bodies(entry, file)? {
        check_duplicates(&body, file, &format!("{prefix}.telemetry"), &[])?;
        for e in &body {
            let site = Site {
                file,
                key: format!("{prefix}.telemetry.{}", e.key),
                line: e.line,
            };
            let known = [
                "unauthenticated_metrics_access",
                "disallow_metrics",
                "metrics_only",
                "metrics_path",
            ];
            if !known.contains(&e.key.as_str()) {
                site.unknown_key(warnings);
                continue;
            }
            let Some(node) = site.set_value(e)? else {
                continue;
            };
            // OpenBao's text: `invalid value for telemetry.<key>: cannot parse '' as bool: ...`.
            let flag = |node: &Node| {
                site.bool(node).map_err(|_| {
                    site.error(format!(
                        "invalid value for telemetry.{}: cannot parse '' as bool: strconv.ParseBool: parsing {}: invalid syntax",
                        e.key,
                        node.value.describe()
                    ))
                })
            };
            match e.key.as_str() {
                "unauthenticated_metrics_access" => {
                    into.unauthenticated_metrics_access = flag(node)?;
                }
                "disallow_metrics" => into.disallow_metrics = flag(node)?,
                "metrics_only" => into.metrics_only = flag(node)?,
                "metrics_path" => {
                    let path = site.string(node)?;
                    into.metrics_path = (!path.is_empty()).then_some(path);
                }
                _ => {}
            }
        }
    }
    Ok(())
}
