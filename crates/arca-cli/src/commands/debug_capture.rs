//! What `debug` captures and how often, as `bao debug` captures it: the configuration once,
//! then every target polled on its own ticker (`-interval`, `-metrics-interval` for metrics)
//! from the start until `-duration` plus a one-second grace has passed, or until interrupted.
//!
//! Each target stops (or goes on) after a failure as `bao`'s does: `host`,
//! `replication-status` and `requests` stop at their first failure, `metrics` and `pprof`
//! try again at their next tick, `server-status` always goes on; every failure is recorded
//! for `index.json`. One deliberate difference: in `bao` the first target to stop ends the
//! whole capture (its run group interrupts the others), so a server without
//! `sys/replication/status` (OpenBao itself) cuts every bundle short after a few
//! milliseconds; here a stopped target only stops itself and the capture lasts `-duration`.

use std::cell::RefCell;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use arca_api::Client;
use chrono::Utc;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use crate::debug_bundle::{self, CaptureError, json_time};
use crate::raw_http::{RawHttp, transport_error};
use crate::stream_lines::LineBuffer;

/// The `sys/health` query `bao debug` sends: every state answers 299, so a sealed or standby
/// server's status is read like an active one's (`haunhealhty` is bao's own spelling).
pub(super) const HEALTH_CODES: [(&str, &str); 7] = [
    ("drsecondarycode", "299"),
    ("haunhealhty", "299"),
    ("performancestandbycode", "299"),
    ("removedcode", "299"),
    ("sealedcode", "299"),
    ("standbycode", "299"),
    ("uninitcode", "299"),
];

/// The grace added to `-duration`, so a tick that falls on its last second is still taken.
pub const GRACE: Duration = Duration::from_secs(1);

/// The name of the log file of the `log` target: `bao` names it after itself (`bao.log`,
/// Vault `vault.log`), so Arca's is `arca.log`.
pub const LOG_FILE: &str = "arca.log";

/// What to capture, where, and how often.
pub struct Plan {
    /// How long to poll (before the grace).
    pub duration: Duration,
    /// The polling interval of every target but metrics.
    pub interval: Duration,
    /// The polling interval of metrics.
    pub metrics_interval: Duration,
    /// The targets, as given (a target named twice is captured once).
    pub targets: Vec<String>,
    /// The directory the files are written to.
    pub dir: PathBuf,
    /// The `log_format` asked of `sys/monitor`.
    pub log_format: String,
}

impl Plan {
    fn wants(&self, target: &str) -> bool {
        self.targets.iter().any(|t| t == target)
    }
}

/// Why the capture ended, as the text Go's context gives a request it cut short.
type StopReason = &'static str;
const DEADLINE: StopReason = "context deadline exceeded";
const INTERRUPTED: StopReason = "context canceled";

/// One capture run: the clients, the plan, the failures so far and the progress log.
pub struct Capture {
    api: Client,
    raw: RawHttp,
    monitor: RawHttp,
    plan: Plan,
    errors: RefCell<Vec<CaptureError>>,
    log: UnboundedSender<String>,
    stop_tx: watch::Sender<Option<StopReason>>,
    stop_rx: watch::Receiver<Option<StopReason>>,
}

/// The collections of the polled targets, each written to its own file.
#[derive(Default)]
pub struct Collections {
    /// `metrics.json`.
    pub metrics: Vec<Value>,
    /// `server_status.json`.
    pub server_status: Vec<ServerStatus>,
    /// `replication_status.json`.
    pub replication_status: Vec<Value>,
    /// `host_info.json`.
    pub host_info: Vec<Value>,
    /// `requests.json`.
    pub requests: Vec<Value>,
}

impl Collections {
    /// Writes each collection to its file in `dir`, in the order `bao` writes them; the
    /// failures, each with its file name.
    pub fn write(&self, dir: &Path) -> Vec<(&'static str, String)> {
        let written = [
            (
                "metrics.json",
                debug_bundle::write_collection(dir, "metrics.json", &self.metrics),
            ),
            (
                "server_status.json",
                debug_bundle::write_collection(dir, "server_status.json", &self.server_status),
            ),
            (
                "replication_status.json",
                debug_bundle::write_collection(
                    dir,
                    "replication_status.json",
                    &self.replication_status,
                ),
            ),
            (
                "host_info.json",
                debug_bundle::write_collection(dir, "host_info.json", &self.host_info),
            ),
            (
                "requests.json",
                debug_bundle::write_collection(dir, "requests.json", &self.requests),
            ),
        ];
        written
            .into_iter()
            .filter_map(|(name, result)| result.err().map(|e| (name, e)))
            .collect()
    }
}

/// One `server-status` capture: `sys/health` and `sys/seal-status` as `bao`'s structs keep
/// them (their fields in their order), `null` for a failed request.
#[derive(Debug, Serialize)]
pub struct ServerStatus {
    health: Option<Health>,
    seal: Option<arca_api::sys::SealStatus>,
    timestamp: String,
}

impl Capture {
    /// A capture with `api`, and the raw-bytes clients built like it (`raw` for requests,
    /// `monitor` without a time limit for the log stream), following `plan`; progress lines
    /// for stderr go to `log`.
    pub fn new(
        api: Client,
        raw: RawHttp,
        monitor: RawHttp,
        plan: Plan,
        log: UnboundedSender<String>,
    ) -> Capture {
        let (stop_tx, stop_rx) = watch::channel(None);
        Capture {
            api,
            raw,
            monitor,
            plan,
            errors: RefCell::new(Vec::new()),
            log,
            stop_tx,
            stop_rx,
        }
    }

    /// The failures recorded, in order.
    pub fn take_errors(&self) -> Vec<CaptureError> {
        std::mem::take(&mut self.errors.borrow_mut())
    }

    fn record(&self, target: &str, error: impl Into<String>) {
        self.errors.borrow_mut().push(CaptureError {
            error: error.into(),
            target: target.to_string(),
            timestamp: json_time(Utc::now()),
        });
    }

    fn info(&self, message: &str, count: Option<usize>) {
        let fields = count.map(|c| ("count", c.to_string()));
        let _ = self.log.send(log_line("INFO", message, fields.as_slice()));
    }

    /// The `config` target: `sys/config/state/sanitized`, once, into `config.json`.
    pub async fn capture_static(&self) -> Result<(), String> {
        if !self.plan.wants("config") {
            return Ok(());
        }
        self.info("capturing configuration state", None);
        let secret = match self.api.read("sys/config/state/sanitized").await {
            Ok(secret) => secret,
            Err(e) => {
                let text = e.to_string();
                self.record("config", text.clone());
                let _ = self.log.send(log_line(
                    "ERROR",
                    "config: error capturing config state",
                    &[("error", text)],
                ));
                return Ok(());
            }
        };
        let Some(data) = secret.and_then(|s| s.data) else {
            return Ok(());
        };
        let entry = json!({
            "config": Value::Object(data.into_iter().collect()),
            "timestamp": json_time(Utc::now()),
        });
        debug_bundle::write_collection(&self.plan.dir, "config.json", &[sorted(&entry)])
            .map_err(|e| format!("Error writing data to config.json: {e}"))
    }

    /// Polls every chosen target until the duration (plus grace) has passed or the command
    /// is interrupted; returns what was collected.
    pub async fn capture_polling(&self) -> Collections {
        let deadline = Instant::now() + self.plan.duration + GRACE;
        let watcher = async {
            let reason = tokio::select! {
                () = tokio::time::sleep_until(deadline) => DEADLINE,
                () = interrupted() => INTERRUPTED,
            };
            let _ = self.stop_tx.send(Some(reason));
        };
        let (_, host_info, metrics, (), replication_status, server_status, requests, ()) = tokio::join!(
            watcher,
            self.when("host", self.host_info()),
            self.when("metrics", self.metrics()),
            self.when("pprof", self.pprof()),
            self.when("replication-status", self.replication_status()),
            self.when("server-status", self.server_status()),
            self.when("requests", self.requests()),
            self.when("log", self.monitor_log()),
        );
        Collections {
            metrics,
            server_status,
            replication_status,
            host_info,
            requests,
        }
    }

    /// `work` when `target` was chosen, else nothing.
    async fn when<T: Default>(&self, target: &str, work: impl Future<Output = T>) -> T {
        if self.plan.wants(target) {
            work.await
        } else {
            T::default()
        }
    }

    /// Resolves, with the reason, once the capture has ended.
    async fn stopped(&self) -> StopReason {
        let mut rx = self.stop_rx.clone();
        loop {
            if let Some(reason) = *rx.borrow_and_update() {
                return reason;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// `work`, unless the capture ends first: then the reason is the error, as a request
    /// whose context ended.
    async fn until_stop<T>(
        &self,
        work: impl Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        tokio::select! {
            out = work => out,
            reason = self.stopped() => Err(reason.to_string()),
        }
    }

    /// Waits for the next tick of `ticker`; `false` when the capture ended first.
    async fn next_tick(&self, ticker: &mut tokio::time::Interval) -> bool {
        tokio::select! {
            _ = ticker.tick() => true,
            _ = self.stopped() => false,
        }
    }

    /// The body of `GET path` (a `?query` may follow), an error status being an error.
    async fn get(&self, http: &RawHttp, path: &str) -> Result<Vec<u8>, String> {
        let resp = http
            .send(Method::GET, path, None)
            .await
            .map_err(|e| e.to_string())?;
        let url = resp.url().to_string();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| transport_error(&Method::GET, &url, &e).to_string())?;
        Ok(bytes.to_vec())
    }

    /// The JSON answer of `GET path`.
    async fn get_json(&self, path: &str) -> Result<Value, String> {
        let bytes = self.until_stop(self.get(&self.raw, path)).await?;
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    }

    /// The `data` object of the answer of `GET path`, `None` when it has none.
    async fn get_data(&self, path: &str) -> Result<Option<Map<String, Value>>, String> {
        let body = self.get_json(path).await?;
        Ok(match body.get("data") {
            Some(Value::Object(data)) => Some(data.clone()),
            _ => None,
        })
    }

    fn ticker(&self, period: Duration) -> tokio::time::Interval {
        let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        ticker
    }

    async fn host_info(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut ticker = self.ticker(self.plan.interval);
        for count in 0.. {
            if count > 0 && !self.next_tick(&mut ticker).await {
                break;
            }
            self.info("capturing host information", Some(count));
            match self.get_data("sys/host-info").await {
                Ok(Some(data)) => out.push(sorted(&Value::Object(data))),
                Ok(None) => {}
                Err(e) => {
                    self.record("host", e);
                    break;
                }
            }
        }
        out
    }

    async fn metrics(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut ticker = self.ticker(self.plan.metrics_interval);
        for count in 0.. {
            if count > 0 && !self.next_tick(&mut ticker).await {
                break;
            }
            self.info("capturing metrics", Some(count));
            match self.get_json("sys/metrics").await {
                // Go decodes the metrics into plain maps: every number becomes a float64.
                Ok(body @ Value::Object(_)) => out.push(sorted(&as_go_floats(&body))),
                Ok(_) => self.record(
                    "metrics",
                    "json: cannot unmarshal value into Go value of type map[string]interface {}",
                ),
                Err(e) => self.record("metrics", e),
            }
        }
        out
    }

    async fn replication_status(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut ticker = self.ticker(self.plan.interval);
        for count in 0.. {
            if count > 0 && !self.next_tick(&mut ticker).await {
                break;
            }
            self.info("capturing replication status", Some(count));
            match self.get_data("sys/replication/status").await {
                Ok(Some(mut data)) => {
                    data.insert("timestamp".into(), json_time(Utc::now()).into());
                    out.push(sorted(&Value::Object(data)));
                }
                Ok(None) => {}
                Err(e) => {
                    self.record("replication-status", e);
                    break;
                }
            }
        }
        out
    }

    async fn server_status(&self) -> Vec<ServerStatus> {
        let mut out = Vec::new();
        let mut ticker = self.ticker(self.plan.interval);
        for count in 0.. {
            if count > 0 && !self.next_tick(&mut ticker).await {
                break;
            }
            self.info("capturing server status", Some(count));
            // `bao` asks these without the capture's context: a late answer is still kept.
            let health = match self
                .api
                .request_full(Method::GET, "sys/health", &HEALTH_CODES, None, None)
                .await
            {
                Ok(raw) => Some(
                    raw.body
                        .and_then(|b| serde_json::from_value(b).ok())
                        .unwrap_or_default(),
                ),
                Err(e) => {
                    self.record("server-status.health", e.to_string());
                    None
                }
            };
            let seal = match self.api.seal_status().await {
                Ok(status) => Some(status),
                Err(e) => {
                    self.record("server-status.seal", e.to_string());
                    None
                }
            };
            out.push(ServerStatus {
                health,
                seal,
                timestamp: json_time(Utc::now()),
            });
        }
        out
    }

    async fn requests(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut ticker = self.ticker(self.plan.interval);
        for count in 0.. {
            if count > 0 && !self.next_tick(&mut ticker).await {
                break;
            }
            self.info("capturing in-flight request status", Some(count));
            match self.get_json("sys/in-flight-req").await {
                Ok(data) => out.push(json!({
                    "in_flight_requests": sorted(&data),
                    "timestamp": json_time(Utc::now()),
                })),
                Err(e) => {
                    self.record("requests", e);
                    break;
                }
            }
        }
        out
    }

    /// The `pprof` target: a directory per interval holding the Go runtime's profiles. A
    /// server without `sys/pprof` (Arca) fails each request: the failures are recorded and
    /// the directories stay empty, as `bao` leaves them.
    async fn pprof(&self) {
        let start = Instant::now();
        let mut ticker = self.ticker(self.plan.interval);
        for count in 0.. {
            if count > 0 && !self.next_tick(&mut ticker).await {
                break;
            }
            let now = Utc::now();
            self.info("capturing pprof data", Some(count));
            let dir = self.plan.dir.join(debug_bundle::dir_time(now));
            if let Err(e) = debug_bundle::create_private_dir(&dir) {
                let _ = self.log.send(format!(
                    "Error creating sub-directory for time interval: {}",
                    crate::go_io::path_error("mkdir", &dir.display().to_string(), &e)
                ));
                continue;
            }
            // Profile and trace last an interval: skipped when less than that is left.
            let left = (self.plan.duration + GRACE).saturating_sub(start.elapsed());
            let long = left >= self.plan.interval;
            let seconds = self.plan.interval.as_secs().to_string();
            let timed = format!("?seconds={seconds}");
            let dir = dir.as_path();
            tokio::join!(
                self.pprof_file(
                    dir,
                    "threadcreate",
                    "",
                    "threadcreate.prof",
                    "pprof.threadcreate"
                ),
                self.pprof_file(dir, "allocs", "", "allocs.prof", "pprof.allocs"),
                self.pprof_file(dir, "block", "", "block.prof", "pprof.block"),
                self.pprof_file(dir, "mutex", "", "mutex.prof", "pprof.mutex"),
                self.pprof_file(dir, "goroutine", "", "goroutine.prof", "pprof.goroutine"),
                self.pprof_file(dir, "heap", "", "heap.prof", "pprof.heap"),
                self.pprof_file(
                    dir,
                    "goroutine",
                    "?debug=2",
                    "goroutines.txt",
                    "pprof.goroutines-text"
                ),
                async {
                    if long {
                        self.pprof_file(dir, "profile", &timed, "profile.prof", "pprof.profile")
                            .await;
                    }
                },
                async {
                    if long {
                        self.pprof_file(dir, "trace", &timed, "trace.out", "pprof.trace")
                            .await;
                    }
                },
            );
        }
    }

    async fn pprof_file(&self, dir: &Path, profile: &str, query: &str, file: &str, target: &str) {
        let path = format!("sys/pprof/{profile}{query}");
        match self.until_stop(self.get(&self.raw, &path)).await {
            Ok(bytes) => {
                let at = dir.join(file);
                if let Err(e) = debug_bundle::write_private(&at, &bytes) {
                    self.record(
                        target,
                        crate::go_io::path_error("open", &at.display().to_string(), &e),
                    );
                }
            }
            Err(e) => self.record(target, e),
        }
    }

    /// The `log` target: the server's log lines from `sys/monitor` at trace level, streamed
    /// into [`LOG_FILE`] until the capture ends.
    async fn monitor_log(&self) {
        let path = self.plan.dir.join(LOG_FILE);
        let file = match debug_bundle::create_private(&path) {
            Ok(f) => f,
            Err(e) => {
                self.record(
                    "log",
                    crate::go_io::path_error("open", &path.display().to_string(), &e),
                );
                return;
            }
        };
        let query = format!(
            "sys/monitor?log_format={}&log_level=trace",
            query_escape(&self.plan.log_format)
        );
        let streamed = self.until_stop(self.stream_lines(&query, file)).await;
        match streamed {
            // The capture's end closes the stream: not a failure.
            Err(e) if e == DEADLINE || e == INTERRUPTED => {}
            Err(e) => {
                self.record("log", e);
                self.stopped().await;
            }
            // The server closed the stream: wait for the capture's end, as `bao` does.
            Ok(()) => {
                self.stopped().await;
            }
        }
    }

    /// Copies the lines of the streamed answer of `GET path` into `file`, each ending with a
    /// newline, until the server ends the stream.
    async fn stream_lines(&self, path: &str, mut file: std::fs::File) -> Result<(), String> {
        use std::io::Write;
        let mut resp = self
            .monitor
            .send(Method::GET, path, None)
            .await
            .map_err(|e| e.to_string())?;
        let write = |file: &mut std::fs::File, line: &[u8]| -> Result<(), String> {
            if line.is_empty() {
                return Ok(());
            }
            file.write_all(line)
                .and_then(|()| file.write_all(b"\n"))
                .map_err(|e| crate::go_io::reason(&e))
        };
        let mut lines = LineBuffer::default();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    for line in lines.push(&chunk) {
                        if let Err(e) = write(&mut file, &line) {
                            self.record("log", e);
                            return Ok(());
                        }
                    }
                }
                // The end of the stream, or a broken one: what was read is kept.
                Ok(None) | Err(_) => {
                    let last = lines.finish().unwrap_or_default();
                    if let Err(e) = write(&mut file, &last) {
                        self.record("log", e);
                    }
                    return Ok(());
                }
            }
        }
    }
}

/// Resolves when the process is interrupted (Ctrl-C); never when that cannot be watched.
async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// `sys/health`'s answer as `bao`'s `HealthResponse` keeps it: its fields, in its order.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Health {
    #[serde(default)]
    initialized: bool,
    #[serde(default)]
    sealed: bool,
    #[serde(default)]
    standby: bool,
    #[serde(default)]
    replication_performance_mode: String,
    #[serde(default)]
    replication_dr_mode: String,
    #[serde(default)]
    server_time_utc: i64,
    #[serde(default)]
    version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    cluster_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    cluster_id: String,
    #[serde(default)]
    performance_standby: bool,
    #[serde(default, skip_serializing_if = "is_zero")]
    last_wal: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// `v` with object keys sorted, as Go writes the maps it decoded.
fn sorted(v: &Value) -> Value {
    crate::output::sorted(v)
}

/// `v` with every number as Go's `float64` would print it: a whole number without a
/// fraction (`3`, not `3.0`), an integer past 2^53 rounded.
fn as_go_floats(v: &Value) -> Value {
    match v {
        Value::Number(n) => {
            let Some(f) = n.as_f64() else {
                return v.clone();
            };
            // Whole numbers that fit an i64 print as integers; others keep their fraction.
            if f.fract() == 0.0 && f.abs() < 9.2e18 {
                #[allow(clippy::cast_possible_truncation, reason = "whole and within i64")]
                let whole = f as i64;
                Value::from(whole)
            } else {
                serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(as_go_floats).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), as_go_floats(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A query value escaped as Go's `url.Values.Encode` escapes it.
fn query_escape(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// A line as the `bao` CLI's logger (hclog) writes it on stderr:
/// `2026-12-07T13:58:54.494Z [INFO]  capturing metrics: count=0`. A value spanning lines
/// is written below the message, each line behind `  | `.
fn log_line(level: &str, message: &str, fields: &[(&str, String)]) -> String {
    let now = chrono::Local::now();
    let zone = if now.offset().local_minus_utc() == 0 {
        "Z".to_string()
    } else {
        now.format("%z").to_string()
    };
    let mut line = format!(
        "{}{zone} {:<8}{message}",
        now.format("%Y-%m-%dT%H:%M:%S%.3f"),
        format!("[{level}]")
    );
    if fields.is_empty() {
        return line;
    }
    line.push(':');
    let mut trailer = String::new();
    for (key, value) in fields {
        if value.contains('\n') {
            trailer.push_str(&format!("\n  {key}=\n"));
            let mut rest = value.as_str();
            while let Some(at) = rest.find('\n') {
                trailer.push_str(&format!("  | {}\n", escape_controls(&rest[..at])));
                rest = &rest[at + 1..];
            }
            if !rest.is_empty() {
                trailer.push_str(&format!("  | {}\n", escape_controls(rest)));
            }
            trailer.push_str("  ");
        } else if value.is_empty()
            || value
                .chars()
                .any(|c| c == ' ' || c == '=' || c == '"' || c.is_control())
        {
            line.push_str(&format!(" {key}={value:?}"));
        } else {
            line.push_str(&format!(" {key}={value}"));
        }
    }
    line.push_str(&trailer);
    line
}

/// Control characters as Go's escapes (`\t`), the way hclog writes a multi-line value.
fn escape_controls(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_go_floats() {
        let v = json!({"a": 3.0, "b": [1.5, 7], "c": 9007199254740993u64});
        assert_eq!(
            as_go_floats(&v).to_string(),
            r#"{"a":3,"b":[1.5,7],"c":9007199254740992}"#
        );
    }

    #[test]
    fn log_lines_read_like_hclog() {
        let line = log_line("INFO", "capturing metrics", &[("count", "0".into())]);
        assert!(
            line.ends_with(" [INFO]  capturing metrics: count=0"),
            "{line}"
        );
        let line = log_line(
            "ERROR",
            "config: error capturing config state",
            &[("error", "Error making API request.\n\nCode: 403. Errors:\n\n* 1 error occurred:\n\t* permission denied\n\n".into())],
        );
        let (head, tail) = line.split_once('\n').expect("multi-line");
        assert!(head.ends_with(" [ERROR] config: error capturing config state:"));
        assert_eq!(
            tail,
            "  error=\n  | Error making API request.\n  | \n  | Code: 403. Errors:\n  | \n  | * 1 error occurred:\n  | \\t* permission denied\n  | \n  "
        );
        let line = log_line("ERROR", "m", &[("error", "Get \"x\": refused".into())]);
        assert!(line.ends_with(r#"m: error="Get \"x\": refused""#), "{line}");
    }

    #[test]
    fn query_values_escaped_as_go() {
        assert_eq!(query_escape("json"), "json");
        assert_eq!(query_escape("a b&c"), "a+b%26c");
    }
}
