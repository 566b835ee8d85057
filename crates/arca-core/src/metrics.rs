//! Telemetry: Vault's metric names, kept in up to four sinks at once, as go-metrics' fan-out
//! does for OpenBao.
//!
//! - **in-memory** (always, as OpenBao's `InmemSink`): 10-second intervals kept one minute;
//!   `sys/metrics` in JSON shows the last finished interval (`Timestamp`, `Gauges`, `Points`,
//!   `Counters`, `Samples`, go-metrics' `DisplayMetrics` shape);
//! - **Prometheus** (`prometheus_retention_time` > 0): `metrics-exporter-prometheus`'s recorder,
//!   summaries with the 0.5/0.9/0.99 quantiles, series dropped after the retention;
//! - **statsd** / **DogStatsD** (`statsd_address` / `dogstatsd_addr`): lines queued without
//!   blocking and sent over UDP by a thread of their own, in packets of at most 1400 bytes,
//!   at least every 100 ms.
//!
//! Every metric is registered once, when its [`Sample`], [`Counter`] or [`Gauge`] handle is
//! made: its names for each sink are built then. An update on the hot path is a few atomic
//! operations and one uncontended lock; it never allocates or formats a name. Keys that
//! depend on a request (the route's mount) are cached per mount ([`Metrics::route`]).
//!
//! Naming as OpenBao's: every key starts with the prefix (`vault`, or `metrics_prefix`); with
//! more than one outside sink (Prometheus, statsd, DogStatsD) and `disable_hostname` unset,
//! gauges get the host name after the prefix; `enable_hostname_label` adds a `host` label
//! instead; `prefix_filter` keeps or drops keys by their dotted prefix.
//!
//! This module imports nothing else of the core; subsystems get the handle they need.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arca_config::TelemetryConfig;
use metrics::Recorder as _;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use metrics_util::MetricKindMask;
use parking_lot::{Mutex, RwLock};

/// The in-memory sink's interval (go-metrics' `NewInmemSink(10*time.Second, time.Minute)`).
const INTERVAL_SECS: u64 = 10;
/// The most bytes of one statsd packet (go-metrics' `statsdMaxLen`).
const STATSD_MAX_LEN: usize = 1400;
/// How often queued statsd lines are sent at the latest.
const STATSD_FLUSH: Duration = Duration::from_millis(100);
/// The statsd queue (go-metrics' 4096): lines beyond it are dropped, never waited for.
const STATSD_QUEUE: usize = 4096;

/// Why telemetry could not start (OpenBao: `Error initializing telemetry: ...`).
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The DogStatsD address does not resolve.
    #[error("failed to start DogStatsD sink: {0}")]
    DogStatsd(String),
    /// The Prometheus recorder refused its settings.
    #[error("{0}")]
    Prometheus(String),
}

/// The kind of a metric, for the in-memory sink and the statsd line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gauge,
    Counter,
    Sample,
}

/// The operations a request is routed with, in [`arca_sdk::Operation`]'s order.
const OPERATIONS: usize = 12;

/// Index of an operation in a [`RouteTimers`].
fn op_index(op: arca_sdk::Operation) -> usize {
    use arca_sdk::Operation as O;
    match op {
        O::Create => 0,
        O::Read => 1,
        O::Update => 2,
        O::Patch => 3,
        O::Delete => 4,
        O::List => 5,
        O::Help => 6,
        O::Renew => 7,
        O::Revoke => 8,
        O::Rollback => 9,
        O::ResolveRole => 10,
        O::AliasLookahead => 11,
    }
}

// ---------------------------------------------------------------------------------------------
// Handles

/// The sinks one metric is kept in, each with the name it has there.
struct Targets {
    prom: Option<PromTarget>,
    inmem: Option<Arc<InmemEntry>>,
    statsd: Option<UdpKey>,
    dogstatsd: Option<UdpKey>,
}

enum PromTarget {
    Histogram(metrics::Histogram),
    Counter(metrics::Counter),
    Gauge(metrics::Gauge),
}

impl Targets {
    #[inline]
    fn emit(&self, value: f64) {
        match &self.prom {
            Some(PromTarget::Histogram(h)) => h.record(value),
            Some(PromTarget::Counter(c)) => {
                // Prometheus counters are whole; Vault's increments are whole too (0 or 1).
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                c.increment(value.max(0.0) as u64);
            }
            Some(PromTarget::Gauge(g)) => g.set(value),
            None => {}
        }
        if let Some(entry) = &self.inmem {
            entry.ingest(value);
        }
        if let Some(key) = &self.statsd {
            key.push(value);
        }
        if let Some(key) = &self.dogstatsd {
            key.push(value);
        }
    }
}

/// What a lazily registered key needs: the sinks, the key's parts and its labels.
type KeySpec = (Weak<Inner>, Vec<String>, Vec<(String, String)>);

/// A metric's key, registered in the sinks at its first update (so a metric never updated
/// shows no series, as in go-metrics, where a key exists once emitted).
struct Lazy {
    kind: Kind,
    /// The server's sinks (weak: the core's handles live inside them), key parts and labels;
    /// `None` for a handle that keeps nothing.
    spec: Option<KeySpec>,
    targets: OnceLock<Option<Arc<Targets>>>,
}

impl Lazy {
    fn none(kind: Kind) -> Arc<Lazy> {
        Arc::new(Lazy {
            kind,
            spec: None,
            targets: OnceLock::new(),
        })
    }

    #[inline]
    fn targets(&self) -> Option<&Arc<Targets>> {
        self.targets.get_or_init(|| self.register()).as_ref()
    }

    #[inline]
    fn emit(&self, value: f64) {
        if let Some(t) = self.targets() {
            t.emit(value);
        }
    }

    fn register(&self) -> Option<Arc<Targets>> {
        let (weak, parts, labels) = self.spec.as_ref()?;
        let metrics = Metrics {
            inner: weak.upgrade()?,
        };
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        let labels: Vec<(&str, &str)> = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        metrics.register(self.kind, &parts, &labels)
    }
}

/// A latency summary (go-metrics' `MeasureSince`/`AddSample`), in milliseconds.
#[derive(Clone)]
pub struct Sample(Arc<Lazy>);

impl Default for Sample {
    fn default() -> Self {
        Sample(Lazy::none(Kind::Sample))
    }
}

impl Sample {
    /// Records the time since `start`.
    #[inline]
    pub fn since(&self, start: Instant) {
        self.0.emit(start.elapsed().as_secs_f64() * 1000.0);
    }

    /// Records `elapsed`.
    #[inline]
    pub fn elapsed(&self, elapsed: Duration) {
        self.0.emit(elapsed.as_secs_f64() * 1000.0);
    }

    /// A guard that records the time from now until it is dropped (every return path of a
    /// function, `?` included).
    #[inline]
    pub fn start(&self) -> SampleGuard<'_> {
        SampleGuard {
            sample: self,
            started: Instant::now(),
        }
    }

    /// Records a value as it is (not a duration).
    #[inline]
    pub fn value(&self, value: f64) {
        self.0.emit(value);
    }
}

/// Records the time since [`Sample::start`] when dropped.
pub struct SampleGuard<'a> {
    sample: &'a Sample,
    started: Instant,
}

impl Drop for SampleGuard<'_> {
    fn drop(&mut self) {
        self.sample.since(self.started);
    }
}

/// A counter (go-metrics' `IncrCounter`).
#[derive(Clone)]
pub struct Counter(Arc<Lazy>);

impl Default for Counter {
    fn default() -> Self {
        Counter(Lazy::none(Kind::Counter))
    }
}

impl Counter {
    /// Adds `by` (0 still counts a sample, as go-metrics' audit failure counters do).
    #[inline]
    pub fn incr(&self, by: f64) {
        self.0.emit(by);
    }
}

/// A gauge (go-metrics' `SetGauge`).
#[derive(Clone)]
pub struct Gauge(Arc<Lazy>);

impl Default for Gauge {
    fn default() -> Self {
        Gauge(Lazy::none(Kind::Gauge))
    }
}

impl Gauge {
    /// Whether a sink keeps this gauge (its key passes the prefix filter); registers it.
    pub fn is_kept(&self) -> bool {
        self.0.targets().is_some()
    }
}

impl Gauge {
    /// Sets the value.
    #[inline]
    pub fn set(&self, value: f64) {
        self.0.emit(value);
    }
}

/// `vault.route.<operation>.<mount>` for one mount, each operation registered at its first
/// use (so an operation never used on a mount shows no series).
pub struct RouteTimers {
    metrics: Metrics,
    /// The mount's path with `/` written `-`, as Vault's router names it.
    mount: String,
    ops: [OnceLock<Sample>; OPERATIONS],
}

impl RouteTimers {
    /// The summary of `op` on this mount.
    #[inline]
    pub fn op(&self, op: arca_sdk::Operation) -> &Sample {
        self.ops[op_index(op)].get_or_init(|| {
            self.metrics
                .sample(&["route", op.as_str(), &self.mount], &[])
        })
    }
}

/// The fixed metrics of the core, registered once.
#[derive(Default)]
pub struct CoreMetrics {
    /// `vault.core.handle_request`: every request after the seal check.
    pub handle_request: Sample,
    /// `vault.core.handle_login_request`: logins (an unauthenticated write to `auth/`).
    pub handle_login_request: Sample,
    /// `vault.barrier.get`.
    pub barrier_get: Sample,
    /// `vault.barrier.put`.
    pub barrier_put: Sample,
    /// `vault.barrier.delete`.
    pub barrier_delete: Sample,
    /// `vault.barrier.list`.
    pub barrier_list: Sample,
    /// `vault.barrier.list-page`.
    pub barrier_list_page: Sample,
    /// `vault.token.lookup`.
    pub token_lookup: Sample,
    /// `vault.token.create`.
    pub token_create: Sample,
    /// `vault.token.store`.
    pub token_store: Sample,
    /// `vault.token.revoke`.
    pub token_revoke: Sample,
    /// `vault.token.revoke-tree`.
    pub token_revoke_tree: Sample,
    /// `vault.token.create_root`.
    pub token_create_root: Counter,
    /// `vault.expire.register`.
    pub expire_register: Sample,
    /// `vault.expire.register-auth`.
    pub expire_register_auth: Sample,
    /// `vault.expire.renew`.
    pub expire_renew: Sample,
    /// `vault.expire.renew-token`.
    pub expire_renew_token: Sample,
    /// `vault.expire.revoke`.
    pub expire_revoke: Sample,
    /// `vault.expire.revoke-prefix`.
    pub expire_revoke_prefix: Sample,
    /// `vault.expire.revoke-by-token`.
    pub expire_revoke_by_token: Sample,
    /// `vault.audit.log_request`.
    pub audit_log_request: Sample,
    /// `vault.audit.log_response`.
    pub audit_log_response: Sample,
    /// `vault.audit.log_request_failure` (0 on success, 1 on failure).
    pub audit_log_request_failure: Counter,
    /// `vault.audit.log_response_failure`.
    pub audit_log_response_failure: Counter,
    /// `vault.policy.get_policy`.
    pub policy_get_policy: Sample,
    /// `vault.core.unseal`.
    pub core_unseal: Sample,
    /// `vault.core.post_unseal`.
    pub core_post_unseal: Sample,
    /// `vault.core.pre_seal`.
    pub core_pre_seal: Sample,
    /// `vault.expire.num_leases`.
    pub expire_num_leases: Gauge,
    /// `vault.expire.num_irrevocable_leases`.
    pub expire_num_irrevocable_leases: Gauge,
    /// `vault.core.locked_users`.
    pub core_locked_users: Gauge,
    /// `vault.core.in_flight_requests`: the requests the listeners are serving.
    pub core_in_flight_requests: Gauge,
    /// `vault.identity.num_entities`: every namespace's entities.
    pub identity_num_entities: Gauge,
    /// `vault.runtime.alloc_bytes`: the resident set (Arca has no garbage-collected heap).
    pub runtime_alloc_bytes: Gauge,
    /// `vault.runtime.sys_bytes`: the virtual memory size.
    pub runtime_sys_bytes: Gauge,
    /// `vault.runtime.num_goroutines`: the tokio tasks alive.
    pub runtime_num_goroutines: Gauge,
    /// `vault.runtime.num_threads`: the process's OS threads (an Arca addition).
    pub runtime_num_threads: Gauge,
}

// ---------------------------------------------------------------------------------------------
// Naming

/// How keys are named and filtered (fixed at start).
struct Naming {
    prefix: String,
    /// Put in gauge keys after the prefix.
    gauge_host: Option<String>,
    /// Added as a `host` label to every metric.
    host_label: Option<String>,
    /// DogStatsD removes the host name from keys.
    hostname: String,
    filter_default: bool,
    allow: Vec<String>,
    block: Vec<String>,
}

impl Naming {
    /// go-metrics' `allowMetric`: the longest matching prefix rule decides, else the default.
    fn allowed(&self, dotted: &str) -> bool {
        let mut best: Option<(usize, bool)> = None;
        for (rules, verdict) in [(&self.allow, true), (&self.block, false)] {
            for p in rules {
                if dotted.starts_with(p.as_str()) && best.is_none_or(|(len, _)| p.len() >= len) {
                    best = Some((p.len(), verdict));
                }
            }
        }
        best.map_or(self.filter_default, |(_, verdict)| verdict)
    }
}

/// Prometheus' form of a key: parts joined by `_`, go-metrics' forbidden characters replaced.
fn prom_name(parts: &[&str]) -> String {
    parts
        .join("_")
        .chars()
        .map(|c| match c {
            ' ' | '.' | '=' | '-' | '/' => '_',
            c => c,
        })
        .collect()
}

/// statsd's form: dotted, `:` and space replaced.
fn statsd_name(parts: &[&str]) -> String {
    parts
        .join(".")
        .chars()
        .map(|c| if c == ':' || c == ' ' { '_' } else { c })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The in-memory sink

#[derive(Debug, Clone, Copy, Default)]
struct Agg {
    count: u64,
    sum: f64,
    sum_sq: f64,
    min: f64,
    max: f64,
    /// The gauge's value, for gauges.
    last: f64,
}

impl Agg {
    fn ingest(&mut self, v: f64) {
        self.count += 1;
        self.sum += v;
        self.sum_sq += v * v;
        if self.count == 1 || v < self.min {
            self.min = v;
        }
        if self.count == 1 || v > self.max {
            self.max = v;
        }
        self.last = v;
    }

    /// go-metrics' `Stddev`.
    fn stddev(&self) -> f64 {
        let n = self.count as f64;
        let div = n * (n - 1.0);
        if div == 0.0 {
            return 0.0;
        }
        let num = n * self.sum_sq - self.sum * self.sum;
        (num / div).max(0.0).sqrt()
    }
}

#[derive(Default)]
struct Window {
    interval: u64,
    cur: Agg,
    prev_interval: u64,
    prev: Agg,
}

/// One key (name + labels) of the in-memory sink.
struct InmemEntry {
    kind: Kind,
    name: String,
    labels: Vec<(String, String)>,
    hash: String,
    /// The sink's clock (the current interval number), shared.
    clock: Arc<AtomicU64>,
    window: Mutex<Window>,
}

impl InmemEntry {
    #[inline]
    fn ingest(&self, v: f64) {
        let now = self.clock.load(Ordering::Relaxed);
        let mut w = self.window.lock();
        if w.interval != now {
            w.prev_interval = w.interval;
            w.prev = w.cur;
            w.interval = now;
            w.cur = Agg::default();
        }
        w.cur.ingest(v);
    }

    /// What this key holds for interval `at`, if anything.
    fn at(&self, at: u64) -> Option<Agg> {
        let w = self.window.lock();
        if w.interval == at && w.cur.count > 0 {
            Some(w.cur)
        } else if w.prev_interval == at && w.prev.count > 0 {
            Some(w.prev)
        } else {
            None
        }
    }
}

/// The current interval number (seconds since the epoch / 10).
fn interval_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / INTERVAL_SECS)
}

struct Inmem {
    clock: Arc<AtomicU64>,
    first_interval: u64,
    entries: Mutex<HashMap<String, Arc<InmemEntry>>>,
}

impl Inmem {
    fn new() -> Inmem {
        let now = interval_now();
        Inmem {
            clock: Arc::new(AtomicU64::new(now)),
            first_interval: now,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entry(&self, kind: Kind, name: &str, labels: &[(String, String)]) -> Arc<InmemEntry> {
        let mut hash = name.replace(' ', "_");
        for (k, v) in labels {
            let _ = write!(hash, ";{k}={v}");
        }
        let hash = hash.replace(' ', "_");
        let mut entries = self.entries.lock();
        entries
            .entry(format!("{kind:?};{hash}"))
            .or_insert_with(|| {
                Arc::new(InmemEntry {
                    kind,
                    name: name.replace(' ', "_"),
                    labels: labels.to_vec(),
                    hash,
                    clock: self.clock.clone(),
                    window: Mutex::new(Window::default()),
                })
            })
            .clone()
    }

    /// go-metrics' `DisplayMetrics`: the last finished interval (the current one while it is
    /// the first).
    fn display(&self) -> Summary {
        let now = interval_now();
        self.clock.store(now, Ordering::Relaxed);
        let at = if now == self.first_interval {
            now
        } else {
            now - 1
        };
        let timestamp = chrono::DateTime::from_timestamp(
            i64::try_from(at * INTERVAL_SECS).unwrap_or(i64::MAX),
            0,
        )
        .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
        .unwrap_or_default();
        let mut rows: Vec<(String, Row)> = Vec::new();
        for e in self.entries.lock().values() {
            let Some(agg) = e.at(at) else { continue };
            let labels: std::collections::BTreeMap<String, String> =
                e.labels.iter().cloned().collect();
            let row = match e.kind {
                Kind::Gauge => Row::Gauge(GaugeRow {
                    name: e.name.clone(),
                    value: agg.last,
                    labels,
                }),
                Kind::Counter | Kind::Sample => {
                    let sampled = SampledRow {
                        name: e.name.clone(),
                        count: agg.count,
                        rate: agg.sum / INTERVAL_SECS as f64,
                        sum: agg.sum,
                        min: agg.min,
                        max: agg.max,
                        mean: agg.sum / agg.count.max(1) as f64,
                        stddev: agg.stddev(),
                        labels,
                    };
                    if e.kind == Kind::Counter {
                        Row::Counter(sampled)
                    } else {
                        Row::Sample(sampled)
                    }
                }
            };
            rows.push((e.hash.clone(), row));
        }
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        let mut summary = Summary {
            timestamp,
            gauges: Vec::new(),
            points: Vec::new(),
            counters: Vec::new(),
            samples: Vec::new(),
        };
        for (_, row) in rows {
            match row {
                Row::Gauge(g) => summary.gauges.push(g),
                Row::Counter(c) => summary.counters.push(c),
                Row::Sample(s) => summary.samples.push(s),
            }
        }
        summary
    }
}

/// go-metrics' `MetricsSummary`, its fields in Go's order.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct Summary {
    timestamp: String,
    gauges: Vec<GaugeRow>,
    points: Vec<serde_json::Value>,
    counters: Vec<SampledRow>,
    samples: Vec<SampledRow>,
}

/// A float as Go's `encoding/json` writes it: a whole number without `.0`.
fn go_float<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        // Whole and in range: the conversion is exact.
        #[allow(clippy::cast_possible_truncation)]
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct GaugeRow {
    name: String,
    #[serde(serialize_with = "go_float")]
    value: f64,
    labels: std::collections::BTreeMap<String, String>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct SampledRow {
    name: String,
    count: u64,
    #[serde(serialize_with = "go_float")]
    rate: f64,
    #[serde(serialize_with = "go_float")]
    sum: f64,
    #[serde(serialize_with = "go_float")]
    min: f64,
    #[serde(serialize_with = "go_float")]
    max: f64,
    #[serde(serialize_with = "go_float")]
    mean: f64,
    #[serde(serialize_with = "go_float")]
    stddev: f64,
    labels: std::collections::BTreeMap<String, String>,
}

enum Row {
    Gauge(GaugeRow),
    Counter(SampledRow),
    Sample(SampledRow),
}

// ---------------------------------------------------------------------------------------------
// statsd / DogStatsD

#[derive(Clone, Copy, PartialEq, Eq)]
enum UdpFormat {
    Statsd,
    DogStatsd,
}

struct Line {
    key: Arc<UdpKeyText>,
    value: f64,
}

struct UdpKeyText {
    name: String,
    kind: Kind,
    /// DogStatsD tags, `|#a:b,c:d` ready to append (empty for none).
    tags: String,
}

/// One metric's statsd line prefix and the queue it goes to.
struct UdpKey {
    text: Arc<UdpKeyText>,
    queue: SyncSender<Line>,
}

impl UdpKey {
    #[inline]
    fn push(&self, value: f64) {
        match self.queue.try_send(Line {
            key: self.text.clone(),
            value,
        }) {
            Ok(()) | Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {}
        }
    }
}

struct UdpSink {
    format: UdpFormat,
    queue: SyncSender<Line>,
    global_tags: Vec<String>,
}

impl UdpSink {
    fn start(format: UdpFormat, addr: String, global_tags: Vec<String>) -> UdpSink {
        let (queue, rx) = sync_channel(STATSD_QUEUE);
        let spawned = std::thread::Builder::new()
            .name(match format {
                UdpFormat::Statsd => "statsd".into(),
                UdpFormat::DogStatsd => "dogstatsd".into(),
            })
            .spawn(move || flush_loop(format, &addr, &rx));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the statsd sender");
        }
        UdpSink {
            format,
            queue,
            global_tags,
        }
    }

    fn key(&self, kind: Kind, parts: &[&str], labels: &[(String, String)], host: &str) -> UdpKey {
        let text = match self.format {
            UdpFormat::Statsd => {
                let mut all: Vec<&str> = parts.to_vec();
                all.extend(labels.iter().map(|(_, v)| v.as_str()));
                UdpKeyText {
                    name: statsd_name(&all),
                    kind,
                    tags: String::new(),
                }
            }
            UdpFormat::DogStatsd => {
                let mut kept: Vec<&str> = parts.to_vec();
                if let Some(i) = kept.iter().position(|p| *p == host) {
                    kept.remove(i);
                }
                let clean = |s: &str| s.replace([':', ' '], "_");
                let mut tags: Vec<String> = self.global_tags.clone();
                for (k, v) in labels {
                    if v.is_empty() {
                        tags.push(clean(k));
                    } else {
                        tags.push(format!("{}:{}", clean(k), clean(v)));
                    }
                }
                UdpKeyText {
                    name: statsd_name(&kept),
                    kind,
                    tags: if tags.is_empty() {
                        String::new()
                    } else {
                        format!("|#{}", tags.join(","))
                    },
                }
            }
        };
        UdpKey {
            text: Arc::new(text),
            queue: self.queue.clone(),
        }
    }
}

/// Formats one line as go-metrics' statsd sink (`%f`) or datadog-go (shortest form) does.
fn render_line(format: UdpFormat, line: &Line, out: &mut String) {
    let k = &line.key;
    let kind = match (k.kind, format) {
        (Kind::Gauge, _) => "g",
        (Kind::Counter, _) => "c",
        (Kind::Sample, _) => "ms",
    };
    match format {
        UdpFormat::Statsd => {
            let _ = writeln!(out, "{}:{:.6}|{kind}", k.name, line.value);
        }
        UdpFormat::DogStatsd => {
            if k.kind == Kind::Counter {
                #[allow(clippy::cast_possible_truncation)]
                let n = line.value as i64;
                let _ = writeln!(out, "{}:{n}|{kind}{}", k.name, k.tags);
            } else {
                let _ = writeln!(out, "{}:{}|{kind}{}", k.name, line.value, k.tags);
            }
        }
    }
}

/// The sender thread: batches lines into packets and sends them, at the latest every 100 ms.
fn flush_loop(format: UdpFormat, addr: &str, rx: &Receiver<Line>) {
    let socket = UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect(addr).map(|()| s))
        .or_else(|_| UdpSocket::bind("[::]:0").and_then(|s| s.connect(addr).map(|()| s)));
    let socket = match socket {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(address = %addr, error = %e, "error connecting to statsd");
            // Drain the queue so senders never block on it.
            while rx.recv().is_ok() {}
            return;
        }
    };
    let mut buf = String::with_capacity(STATSD_MAX_LEN);
    let mut line = String::with_capacity(128);
    let mut deadline = Instant::now() + STATSD_FLUSH;
    loop {
        let wait = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(l) => {
                line.clear();
                render_line(format, &l, &mut line);
                if !buf.is_empty() && buf.len() + line.len() > STATSD_MAX_LEN {
                    let _ = socket.send(buf.as_bytes());
                    buf.clear();
                }
                buf.push_str(&line);
            }
            Err(RecvTimeoutError::Timeout) => {
                if !buf.is_empty() {
                    let _ = socket.send(buf.as_bytes());
                    buf.clear();
                }
                deadline = Instant::now() + STATSD_FLUSH;
            }
            Err(RecvTimeoutError::Disconnected) => {
                if !buf.is_empty() {
                    let _ = socket.send(buf.as_bytes());
                }
                return;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The handle

struct Inner {
    naming: Naming,
    prom: Option<(PrometheusRecorder, PrometheusHandle)>,
    inmem: Option<Inmem>,
    statsd: Option<UdpSink>,
    dogstatsd: Option<UdpSink>,
    core: OnceLock<Arc<CoreMetrics>>,
    /// By mount path, looked up on every routed request: Fx, not SipHash.
    routes: RwLock<rustc_hash::FxHashMap<String, Arc<RouteTimers>>>,
    labelled: Mutex<HashMap<String, Counter>>,
    cluster_gauges: Mutex<HashMap<String, Gauge>>,
    /// How often the usage gauges are collected (`usage_gauge_period`; `None`: never).
    usage_period: Option<Duration>,
    /// How `vault.expire.leases.by_expiration` buckets leases.
    lease_buckets: LeaseBuckets,
}

/// The lease expiry histogram's settings (`lease_metrics_epsilon`, `num_lease_metrics_buckets`,
/// `add_lease_metrics_namespace_labels`).
#[derive(Debug, Clone, Copy)]
pub struct LeaseBuckets {
    /// The width of a bucket; expiry times are rounded to it.
    pub epsilon: Duration,
    /// How many buckets ahead of now are reported.
    pub count: u32,
    /// Whether each bucket is also split by namespace.
    pub namespace_labels: bool,
}

impl Default for LeaseBuckets {
    fn default() -> LeaseBuckets {
        LeaseBuckets {
            epsilon: Duration::from_secs(3600),
            count: 168,
            namespace_labels: false,
        }
    }
}

/// The telemetry handle: cheap to clone, one per server. [`Metrics::disabled`] keeps nothing.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("prometheus", &self.inner.prom.is_some())
            .field("statsd", &self.inner.statsd.is_some())
            .field("dogstatsd", &self.inner.dogstatsd.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::disabled()
    }
}

/// What `sys/metrics` answers: status, content type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl Metrics {
    /// A handle that keeps nothing (tests, embedded cores).
    #[must_use]
    pub fn disabled() -> Metrics {
        Metrics {
            inner: Arc::new(Inner {
                naming: Naming {
                    prefix: "vault".into(),
                    gauge_host: None,
                    host_label: None,
                    hostname: String::new(),
                    filter_default: true,
                    allow: Vec::new(),
                    block: Vec::new(),
                },
                prom: None,
                inmem: None,
                statsd: None,
                dogstatsd: None,
                core: OnceLock::new(),
                routes: RwLock::new(rustc_hash::FxHashMap::default()),
                labelled: Mutex::new(HashMap::new()),
                cluster_gauges: Mutex::new(HashMap::new()),
                usage_period: None,
                lease_buckets: LeaseBuckets::default(),
            }),
        }
    }

    /// The sinks the server's `telemetry` stanza asks for (`None`: no stanza), as OpenBao's
    /// `SetupTelemetry`; `hostname` is this machine's name.
    pub fn from_config(
        config: Option<&TelemetryConfig>,
        hostname: &str,
    ) -> Result<Metrics, MetricsError> {
        let absent = TelemetryConfig::absent();
        let config = config.unwrap_or(&absent);
        let prom = match config.prometheus_retention_time {
            Some(retention) => {
                let recorder = PrometheusBuilder::new()
                    .set_quantiles(&[0.5, 0.9, 0.99])
                    .map_err(|e| MetricsError::Prometheus(e.to_string()))?
                    .idle_timeout(MetricKindMask::ALL, Some(retention))
                    .build_recorder();
                let handle = recorder.handle();
                Some((recorder, handle))
            }
            None => None,
        };
        let dogstatsd = match &config.dogstatsd_addr {
            Some(addr) => {
                addr.to_socket_addrs()
                    .map_err(|e| MetricsError::DogStatsd(e.to_string()))?;
                Some(UdpSink::start(
                    UdpFormat::DogStatsd,
                    addr.clone(),
                    config.dogstatsd_tags.clone(),
                ))
            }
            None => None,
        };
        let statsd = config
            .statsd_address
            .as_ref()
            .map(|addr| UdpSink::start(UdpFormat::Statsd, addr.clone(), Vec::new()));
        let outside = usize::from(prom.is_some())
            + usize::from(statsd.is_some())
            + usize::from(dogstatsd.is_some());
        if outside > 1 && !config.disable_hostname {
            tracing::warn!(
                "telemetry.disable_hostname has been set to false. Recommended setting is true for Prometheus to avoid poorly named metrics."
            );
        }
        let (allow, block) = config.prefix_rules();
        let naming = Naming {
            prefix: config
                .metrics_prefix
                .clone()
                .unwrap_or_else(|| "vault".into()),
            gauge_host: (outside > 1 && !config.disable_hostname && !config.enable_hostname_label)
                .then(|| hostname.to_owned()),
            host_label: config.enable_hostname_label.then(|| hostname.to_owned()),
            hostname: hostname.to_owned(),
            filter_default: config.filter_default.unwrap_or(true),
            allow,
            block,
        };
        Ok(Metrics {
            inner: Arc::new(Inner {
                naming,
                prom,
                inmem: Some(Inmem::new()),
                statsd,
                dogstatsd,
                core: OnceLock::new(),
                routes: RwLock::new(rustc_hash::FxHashMap::default()),
                labelled: Mutex::new(HashMap::new()),
                cluster_gauges: Mutex::new(HashMap::new()),
                usage_period: config.usage_gauge_period.filter(|p| !p.is_zero()),
                lease_buckets: LeaseBuckets {
                    epsilon: if config.lease_metrics_epsilon.is_zero() {
                        LeaseBuckets::default().epsilon
                    } else {
                        config.lease_metrics_epsilon
                    },
                    count: u32::try_from(config.num_lease_metrics_buckets)
                        .ok()
                        .filter(|n| *n > 0)
                        .unwrap_or(LeaseBuckets::default().count),
                    namespace_labels: config.add_lease_metrics_namespace_labels,
                },
            }),
        })
    }

    /// How `vault.expire.leases.by_expiration` buckets leases.
    pub fn lease_buckets(&self) -> LeaseBuckets {
        self.inner.lease_buckets
    }

    /// How often the usage gauges are collected (`usage_gauge_period`); `None`: never.
    pub fn usage_gauge_period(&self) -> Option<Duration> {
        self.inner.usage_period
    }

    /// Registers one metric in every sink; `None` when no sink keeps it.
    fn register(
        &self,
        kind: Kind,
        parts: &[&str],
        labels: &[(&str, &str)],
    ) -> Option<Arc<Targets>> {
        let inner = &self.inner;
        let n = &inner.naming;
        if inner.prom.is_none()
            && inner.inmem.is_none()
            && inner.statsd.is_none()
            && inner.dogstatsd.is_none()
        {
            return None;
        }
        let mut key: Vec<&str> = Vec::with_capacity(parts.len() + 2);
        key.push(&n.prefix);
        if kind == Kind::Gauge
            && let Some(host) = &n.gauge_host
        {
            key.push(host);
        }
        key.extend_from_slice(parts);
        let mut labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        if let Some(host) = &n.host_label {
            labels.push(("host".into(), host.clone()));
        }
        let dotted = key.join(".");
        if !n.allowed(&dotted) {
            return None;
        }
        let prom = inner.prom.as_ref().map(|(recorder, _)| {
            let name = prom_name(&key);
            let mkey = metrics::Key::from_parts(
                name.clone(),
                labels
                    .iter()
                    .map(|(k, v)| metrics::Label::new(k.clone(), v.clone()))
                    .collect::<Vec<_>>(),
            );
            let meta = metrics::Metadata::new(module_path!(), metrics::Level::INFO, None);
            let help = metrics::SharedString::from(name.clone());
            match kind {
                Kind::Sample => {
                    recorder.describe_histogram(name.into(), None, help);
                    PromTarget::Histogram(recorder.register_histogram(&mkey, &meta))
                }
                Kind::Counter => {
                    recorder.describe_counter(name.into(), None, help);
                    PromTarget::Counter(recorder.register_counter(&mkey, &meta))
                }
                Kind::Gauge => {
                    recorder.describe_gauge(name.into(), None, help);
                    PromTarget::Gauge(recorder.register_gauge(&mkey, &meta))
                }
            }
        });
        let inmem = inner
            .inmem
            .as_ref()
            .map(|sink| sink.entry(kind, &dotted, &labels));
        let statsd = inner
            .statsd
            .as_ref()
            .map(|s| s.key(kind, &key, &labels, &n.hostname));
        let dogstatsd = inner
            .dogstatsd
            .as_ref()
            .map(|s| s.key(kind, &key, &labels, &n.hostname));
        Some(Arc::new(Targets {
            prom,
            inmem,
            statsd,
            dogstatsd,
        }))
    }

    /// A handle registered at its first update.
    fn lazy(&self, kind: Kind, parts: &[&str], labels: &[(&str, &str)]) -> Arc<Lazy> {
        Arc::new(Lazy {
            kind,
            spec: Some((
                Arc::downgrade(&self.inner),
                parts.iter().map(|p| (*p).to_owned()).collect(),
                labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            )),
            targets: OnceLock::new(),
        })
    }

    /// A latency summary `vault.<parts...>`.
    #[must_use]
    pub fn sample(&self, parts: &[&str], labels: &[(&str, &str)]) -> Sample {
        Sample(self.lazy(Kind::Sample, parts, labels))
    }

    /// A counter `vault.<parts...>`.
    #[must_use]
    pub fn counter(&self, parts: &[&str], labels: &[(&str, &str)]) -> Counter {
        Counter(self.lazy(Kind::Counter, parts, labels))
    }

    /// A gauge `vault.<parts...>`.
    #[must_use]
    pub fn gauge(&self, parts: &[&str], labels: &[(&str, &str)]) -> Gauge {
        Gauge(self.lazy(Kind::Gauge, parts, labels))
    }

    /// The core's fixed metrics, registered at the first call.
    pub fn core(&self) -> &CoreMetrics {
        self.inner.core.get_or_init(|| {
            let s = |parts: &[&str]| self.sample(parts, &[]);
            let c = |parts: &[&str]| self.counter(parts, &[]);
            let g = |parts: &[&str]| self.gauge(parts, &[]);
            Arc::new(CoreMetrics {
                handle_request: s(&["core", "handle_request"]),
                handle_login_request: s(&["core", "handle_login_request"]),
                barrier_get: s(&["barrier", "get"]),
                barrier_put: s(&["barrier", "put"]),
                barrier_delete: s(&["barrier", "delete"]),
                barrier_list: s(&["barrier", "list"]),
                barrier_list_page: s(&["barrier", "list-page"]),
                token_lookup: s(&["token", "lookup"]),
                token_create: s(&["token", "create"]),
                token_store: s(&["token", "store"]),
                token_revoke: s(&["token", "revoke"]),
                token_revoke_tree: s(&["token", "revoke-tree"]),
                token_create_root: c(&["token", "create_root"]),
                expire_register: s(&["expire", "register"]),
                expire_register_auth: s(&["expire", "register-auth"]),
                expire_renew: s(&["expire", "renew"]),
                expire_renew_token: s(&["expire", "renew-token"]),
                expire_revoke: s(&["expire", "revoke"]),
                expire_revoke_prefix: s(&["expire", "revoke-prefix"]),
                expire_revoke_by_token: s(&["expire", "revoke-by-token"]),
                audit_log_request: s(&["audit", "log_request"]),
                audit_log_response: s(&["audit", "log_response"]),
                audit_log_request_failure: c(&["audit", "log_request_failure"]),
                audit_log_response_failure: c(&["audit", "log_response_failure"]),
                policy_get_policy: s(&["policy", "get_policy"]),
                core_unseal: s(&["core", "unseal"]),
                core_post_unseal: s(&["core", "post_unseal"]),
                core_pre_seal: s(&["core", "pre_seal"]),
                expire_num_leases: g(&["expire", "num_leases"]),
                expire_num_irrevocable_leases: g(&["expire", "num_irrevocable_leases"]),
                core_locked_users: g(&["core", "locked_users"]),
                core_in_flight_requests: g(&["core", "in_flight_requests"]),
                identity_num_entities: g(&["identity", "num_entities"]),
                runtime_alloc_bytes: g(&["runtime", "alloc_bytes"]),
                runtime_sys_bytes: g(&["runtime", "sys_bytes"]),
                runtime_num_goroutines: g(&["runtime", "num_goroutines"]),
                runtime_num_threads: g(&["runtime", "num_threads"]),
            })
        })
    }

    /// The `vault.route.<op>.<mount>` summaries of the mount at `mount_path` (its full path,
    /// `/` written `-` as Vault's router does), made at the mount's first request and cached.
    pub fn route(&self, mount_path: &str) -> Arc<RouteTimers> {
        if let Some(t) = self.inner.routes.read().get(mount_path) {
            return t.clone();
        }
        let timers = Arc::new(RouteTimers {
            metrics: self.clone(),
            mount: mount_path.replace('/', "-"),
            ops: Default::default(),
        });
        self.inner
            .routes
            .write()
            .entry(mount_path.to_owned())
            .or_insert(timers)
            .clone()
    }

    /// Forgets a mount's route summaries (unmount), so its keys are not kept forever.
    pub fn forget_route(&self, mount_path: &str) {
        self.inner.routes.write().remove(mount_path);
    }

    /// Adds 1 to a counter whose labels vary (`vault.token.creation`, ...); each label set is
    /// registered once and cached. Not for the hot path of reads.
    pub fn incr_labelled(&self, parts: &[&str], labels: &[(&str, &str)]) {
        let mut cache_key = parts.join(".");
        for (k, v) in labels {
            let _ = write!(cache_key, ";{k}={v}");
        }
        let counter = {
            let cached = self.inner.labelled.lock().get(&cache_key).cloned();
            match cached {
                Some(c) => c,
                None => {
                    let c = self.counter(parts, labels);
                    self.inner.labelled.lock().insert(cache_key, c.clone());
                    c
                }
            }
        };
        counter.incr(1.0);
    }

    /// Sets a gauge that carries the `cluster` label (`vault.core.unsealed`, ...).
    pub fn set_cluster_gauge(&self, parts: &[&str], cluster: &str, value: f64) {
        let cache_key = format!("{};{cluster}", parts.join("."));
        let gauge = {
            let cached = self.inner.cluster_gauges.lock().get(&cache_key).cloned();
            match cached {
                Some(g) => g,
                None => {
                    let g = self.gauge(parts, &[("cluster", cluster)]);
                    self.inner
                        .cluster_gauges
                        .lock()
                        .insert(cache_key, g.clone());
                    g
                }
            }
        };
        gauge.set(value);
    }

    /// Housekeeping, once a second: the in-memory sink's clock, the Prometheus recorder's
    /// upkeep (draining summaries, dropping series past their retention) and the runtime
    /// gauges.
    pub fn tick(&self) {
        if let Some(inmem) = &self.inner.inmem {
            inmem.clock.store(interval_now(), Ordering::Relaxed);
        }
        if let Some((_, handle)) = &self.inner.prom {
            handle.run_upkeep();
        }
        let core = self.core();
        if let Some(status) = read_proc_status() {
            core.runtime_alloc_bytes.set(status.rss_bytes as f64);
            core.runtime_sys_bytes.set(status.vm_bytes as f64);
            core.runtime_num_threads.set(status.threads as f64);
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            core.runtime_num_goroutines
                .set(rt.metrics().num_alive_tasks() as f64);
        }
    }

    /// Whether the Prometheus format is served (`prometheus_retention_time` > 0).
    pub fn prometheus_enabled(&self) -> bool {
        self.inner.prom.is_some()
    }

    /// `sys/metrics` in `format` (`""`: JSON, `prometheus`), as OpenBao's
    /// `MetricsHelper.ResponseForFormat`.
    pub fn answer(&self, format: &str) -> MetricsAnswer {
        const TEXT: &str = "text/plain";
        match format {
            "prometheus" => match &self.inner.prom {
                None => MetricsAnswer {
                    status: 400,
                    content_type: TEXT,
                    body: b"prometheus is not enabled".to_vec(),
                },
                Some((_, handle)) => MetricsAnswer {
                    status: 200,
                    content_type: "text/plain; version=0.0.4; charset=utf-8",
                    body: handle.render().into_bytes(),
                },
            },
            "" => {
                let body = match &self.inner.inmem {
                    Some(inmem) => serde_json::to_vec(&inmem.display()),
                    None => serde_json::to_vec(&Summary {
                        timestamp: String::new(),
                        gauges: Vec::new(),
                        points: Vec::new(),
                        counters: Vec::new(),
                        samples: Vec::new(),
                    }),
                };
                MetricsAnswer {
                    status: 200,
                    content_type: "application/json",
                    body: body.unwrap_or_default(),
                }
            }
            other => MetricsAnswer {
                status: 400,
                content_type: TEXT,
                body: format!(
                    "metric response format {} unknown",
                    serde_json::Value::String(other.to_owned())
                )
                .into_bytes(),
            },
        }
    }
}

/// OpenBao's `TTLBucket`: the smallest of 1m, 10m, 20m, 1h, 2h, 1d, 2d, 7d, 30d that holds
/// `ttl`, else `+Inf` (the `creation_ttl` label).
pub fn ttl_bucket(ttl: Duration) -> &'static str {
    const BUCKETS: [(u64, &str); 9] = [
        (60, "1m"),
        (600, "10m"),
        (1200, "20m"),
        (3600, "1h"),
        (7200, "2h"),
        (86_400, "1d"),
        (172_800, "2d"),
        (604_800, "7d"),
        (2_592_000, "30d"),
    ];
    BUCKETS
        .iter()
        .find(|(secs, _)| ttl <= Duration::from_secs(*secs))
        .map_or("+Inf", |(_, label)| label)
}

/// The `namespace` label: `root`, or the namespace's path without slashes at either end.
pub fn namespace_label(path: &str) -> &str {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() { "root" } else { trimmed }
}

/// The format a request asks for without `?format=`: OpenBao's `FormatFromRequest` reads the
/// `Accept` header (`application/openmetrics-text…` first, or `prometheus/telemetry` in any).
pub fn format_from_accept(accept: &[&str]) -> &'static str {
    if let Some(first) = accept.first()
        && first.starts_with("application/openmetrics-text")
    {
        return "prometheus";
    }
    if accept.iter().any(|h| h.contains("prometheus/telemetry")) {
        return "prometheus";
    }
    ""
}

impl arca_barrier::BarrierObserver for Metrics {
    fn observe(&self, op: arca_barrier::BarrierOpKind, elapsed: Duration) {
        use arca_barrier::BarrierOpKind as K;
        let c = self.core();
        match op {
            K::Get => c.barrier_get.elapsed(elapsed),
            K::Put => c.barrier_put.elapsed(elapsed),
            K::Delete => c.barrier_delete.elapsed(elapsed),
            K::List => c.barrier_list.elapsed(elapsed),
            K::ListPage => c.barrier_list_page.elapsed(elapsed),
        }
    }
}

/// What `/proc/self/status` says of the process's memory and threads.
struct ProcStatus {
    rss_bytes: u64,
    vm_bytes: u64,
    threads: u64,
}

fn read_proc_status() -> Option<ProcStatus> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
    };
    Some(ProcStatus {
        rss_bytes: field("VmRSS:")? * 1024,
        vm_bytes: field("VmSize:")? * 1024,
        threads: field("Threads:")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> TelemetryConfig {
        TelemetryConfig {
            disable_hostname: true,
            ..TelemetryConfig::default()
        }
    }

    #[test]
    fn samples_show_in_both_formats() {
        let m = Metrics::from_config(Some(&config()), "host").unwrap();
        m.core().handle_request.elapsed(Duration::from_millis(2));
        m.route("secret/").op(arca_sdk::Operation::Read).value(1.0);
        let prom = String::from_utf8(m.answer("prometheus").body).unwrap();
        assert!(
            prom.contains("# TYPE vault_core_handle_request summary"),
            "{prom}"
        );
        assert!(prom.contains("vault_route_read_secret_"), "{prom}");
        let json: serde_json::Value = serde_json::from_slice(&m.answer("").body).unwrap();
        let names: Vec<&str> = json["Samples"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["Name"].as_str())
            .collect();
        assert!(names.contains(&"vault.core.handle_request"), "{json}");
        assert!(names.contains(&"vault.route.read.secret-"), "{json}");
    }

    #[test]
    fn bad_format_and_disabled_prometheus() {
        let m = Metrics::from_config(None, "host").unwrap();
        let a = m.answer("bogus");
        assert_eq!(a.status, 400);
        assert_eq!(a.body, b"metric response format \"bogus\" unknown");
        let p = m.answer("prometheus");
        assert_eq!(
            (p.status, p.body.as_slice()),
            (400, &b"prometheus is not enabled"[..])
        );
    }

    #[test]
    fn hostname_goes_into_gauges_with_two_outside_sinks() {
        let c = TelemetryConfig {
            statsd_address: Some("127.0.0.1:9".into()),
            ..TelemetryConfig::default()
        };
        let m = Metrics::from_config(Some(&c), "myhost").unwrap();
        m.core().expire_num_leases.set(3.0);
        let prom = String::from_utf8(m.answer("prometheus").body).unwrap();
        assert!(prom.contains("vault_myhost_expire_num_leases 3"), "{prom}");
    }

    #[test]
    fn prefix_filter_drops_keys() {
        let mut c = config();
        c.prefix_filter = vec!["-vault.expire".into(), "+vault.expire.num_leases".into()];
        let m = Metrics::from_config(Some(&c), "h").unwrap();
        assert!(
            !m.gauge(&["expire", "num_irrevocable_leases"], &[])
                .is_kept()
        );
        assert!(m.gauge(&["expire", "num_leases"], &[]).is_kept());
    }

    #[test]
    fn accept_header_picks_prometheus() {
        assert_eq!(
            format_from_accept(&["application/openmetrics-text; version=1"]),
            "prometheus"
        );
        assert_eq!(
            format_from_accept(&["text/html", "prometheus/telemetry"]),
            "prometheus"
        );
        assert_eq!(format_from_accept(&["application/json"]), "");
    }

    #[test]
    fn a_sample_update_costs_well_under_a_microsecond() {
        let m = Metrics::from_config(Some(&config()), "h").unwrap();
        let s = m.route("secret/").op(arca_sdk::Operation::Read).clone();
        let n = 200_000u32;
        let start = Instant::now();
        for _ in 0..n {
            s.since(start);
        }
        let per = start.elapsed() / n;
        eprintln!("one latency-summary update (clock read included): {per:?}");
        // Debug builds are slow; the release figure is in the README.
        assert!(per < Duration::from_micros(5), "{per:?} per update");
    }
}
