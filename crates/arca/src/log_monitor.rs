//! `sys/monitor`'s side of the log: every event, whatever the server's own level, copied as
//! hclog would print it (standard or JSON) to each monitor that asked for its level. Nothing is
//! formatted or even looked at while no monitor is open: the filter then tells tracing that no
//! call site is of interest, and re-registers them when a monitor comes or goes.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arca_sdk::body_stream::Chunks;
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Filter, Layer};

/// Lines a slow monitor may have waiting before new ones are dropped (OpenBao's buffer).
const BUFFER: usize = 512;

/// One open monitor.
struct Watcher {
    id: u64,
    level: LevelFilter,
    json: bool,
    lines: mpsc::Sender<Vec<u8>>,
    /// Lines dropped because the client read too slowly, reported with the next line sent.
    dropped: usize,
}

/// The open monitors, shared by the layer, its filter and the streams' guards.
#[derive(Default)]
pub(crate) struct Monitors {
    watchers: Mutex<Vec<Watcher>>,
    /// The most verbose level any monitor wants, as `LevelFilter`'s index (0: none open).
    max: AtomicUsize,
    next_id: AtomicU64,
}

/// `LevelFilter` as a number that grows with verbosity (OFF = 0, TRACE = 5).
fn rank(filter: LevelFilter) -> usize {
    match filter.into_level() {
        None => 0,
        Some(Level::ERROR) => 1,
        Some(Level::WARN) => 2,
        Some(Level::INFO) => 3,
        Some(Level::DEBUG) => 4,
        Some(Level::TRACE) => 5,
    }
}

impl Monitors {
    /// Opens a monitor of the events at `level` or above, as hclog's standard lines or JSON.
    pub(crate) fn open(self: &Arc<Self>, level: LevelFilter, json: bool) -> Chunks {
        let (tx, rx) = mpsc::channel(BUFFER);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut watchers) = self.watchers.lock() {
            watchers.push(Watcher {
                id,
                level,
                json,
                lines: tx,
                dropped: 0,
            });
            self.recompute(&watchers);
        }
        tracing::callsite::rebuild_interest_cache();
        let guard = Closing {
            monitors: self.clone(),
            id,
        };
        Box::pin(futures::stream::unfold(
            (rx, guard),
            |(mut rx, guard)| async move { rx.recv().await.map(|line| (line, (rx, guard))) },
        ))
    }

    fn recompute(&self, watchers: &[Watcher]) {
        let max = watchers.iter().map(|w| rank(w.level)).max().unwrap_or(0);
        self.max.store(max, Ordering::Release);
    }

    fn wants(&self, level: &Level) -> bool {
        rank(LevelFilter::from_level(*level)) <= self.max.load(Ordering::Acquire)
    }

    fn max_filter(&self) -> LevelFilter {
        match self.max.load(Ordering::Acquire) {
            0 => LevelFilter::OFF,
            1 => LevelFilter::ERROR,
            2 => LevelFilter::WARN,
            3 => LevelFilter::INFO,
            4 => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        }
    }

    fn close(&self, id: u64) {
        if let Ok(mut watchers) = self.watchers.lock() {
            watchers.retain(|w| w.id != id);
            self.recompute(&watchers);
        }
        tracing::callsite::rebuild_interest_cache();
    }
}

/// Closes its monitor when the stream is dropped (the client left or the body ended).
struct Closing {
    monitors: Arc<Monitors>,
    id: u64,
}

impl Drop for Closing {
    fn drop(&mut self) {
        self.monitors.close(self.id);
    }
}

/// The layer that copies events to the monitors.
pub(crate) struct MonitorLayer {
    monitors: Arc<Monitors>,
    /// Maps an event's target to its Vault logger name.
    module: fn(&str) -> Option<&'static str>,
}

impl MonitorLayer {
    /// The layer over `monitors`, naming each event's module with `module`.
    pub(crate) fn new(monitors: Arc<Monitors>, module: fn(&str) -> Option<&'static str>) -> Self {
        MonitorLayer { monitors, module }
    }
}

impl<S: Subscriber> Layer<S> for MonitorLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let Ok(mut watchers) = self.monitors.watchers.lock() else {
            return;
        };
        let mut fields = Fields::default();
        event.record(&mut fields);
        let module = (self.module)(meta.target());
        let now = chrono::Utc::now();
        let (mut standard, mut json) = (None, None);
        for w in watchers.iter_mut() {
            if *meta.level() > w.level {
                continue;
            }
            let line = if w.json {
                json.get_or_insert_with(|| json_line(now, meta.level(), module, &fields))
            } else {
                standard.get_or_insert_with(|| standard_line(now, meta.level(), module, &fields))
            };
            if w.dropped > 0 {
                let note = Fields {
                    message: format!("Monitor dropped {} logs during monitor request", w.dropped),
                    pairs: Vec::new(),
                };
                let text = if w.json {
                    json_line(now, &Level::WARN, None, &note)
                } else {
                    standard_line(now, &Level::WARN, None, &note)
                };
                if w.lines.try_send(text).is_ok() {
                    w.dropped = 0;
                }
            }
            if w.lines.try_send(line.clone()).is_err() {
                w.dropped += 1;
            }
        }
    }
}

/// The per-layer filter of [`MonitorLayer`]: only the levels some monitor wants, and the chatty
/// libraries the server's own log keeps quiet at most at WARN.
pub(crate) struct MonitorFilter {
    monitors: Arc<Monitors>,
    quiet: fn(&str) -> bool,
}

impl MonitorFilter {
    /// The filter over `monitors`; `quiet` names the targets kept to WARN and above.
    pub(crate) fn new(monitors: Arc<Monitors>, quiet: fn(&str) -> bool) -> Self {
        MonitorFilter { monitors, quiet }
    }

    fn admits(&self, meta: &Metadata<'_>) -> bool {
        if (self.quiet)(meta.target()) && *meta.level() > Level::WARN {
            return false;
        }
        self.monitors.wants(meta.level())
    }
}

impl<S: Subscriber> Filter<S> for MonitorFilter {
    fn enabled(&self, meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        meta.is_event() && self.admits(meta)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        // Asked again (`rebuild_interest_cache`) whenever a monitor opens or closes.
        if meta.is_event() && self.admits(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.monitors.max_filter())
    }
}

/// An event's message and its other fields, in the order they were given.
#[derive(Default)]
struct Fields {
    message: String,
    pairs: Vec<(String, Value)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.pairs
                .push((field.name().to_string(), Value::from(value)));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.pairs
            .push((field.name().to_string(), Value::from(value)));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.pairs
            .push((field.name().to_string(), Value::from(value)));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.pairs
            .push((field.name().to_string(), Value::from(value)));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.pairs
                .push((field.name().to_string(), Value::from(text)));
        }
    }
}

/// hclog's bracketed level, padded to one width.
fn level_tag(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "[TRACE]",
        Level::DEBUG => "[DEBUG]",
        Level::INFO => "[INFO] ",
        Level::WARN => "[WARN] ",
        Level::ERROR => "[ERROR]",
    }
}

/// A value as hclog writes it after `key=`: `""` when empty, bare when every character is
/// between `-` and `~`, else quoted with only `"` and the unprintable characters escaped
/// (hclog's `needsQuoting` and `writeEscapedForOutput`).
fn standard_value(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.as_str(),
        other => return other.to_string(),
    };
    if text.is_empty() {
        return "\"\"".to_owned();
    }
    if text.chars().all(|c| ('-'..='~').contains(&c)) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `2026-12-07T13:58:47.460Z [INFO]  core: message: key=value`.
fn standard_line(
    now: chrono::DateTime<chrono::Utc>,
    level: &Level,
    module: Option<&str>,
    fields: &Fields,
) -> Vec<u8> {
    let mut line = format!(
        "{} {} ",
        now.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
        level_tag(level)
    );
    if let Some(module) = module {
        let _ = write!(line, "{module}: ");
    }
    line.push_str(&fields.message);
    if !fields.pairs.is_empty() {
        line.push(':');
        for (key, value) in &fields.pairs {
            let _ = write!(line, " {key}={}", standard_value(value));
        }
    }
    line.push('\n');
    line.into_bytes()
}

/// `{"@level":"info","@message":"...","@module":"core","@timestamp":"...",key: value}`.
fn json_line(
    now: chrono::DateTime<chrono::Utc>,
    level: &Level,
    module: Option<&str>,
    fields: &Fields,
) -> Vec<u8> {
    let mut object = Map::new();
    for (key, value) in &fields.pairs {
        object.insert(key.clone(), value.clone());
    }
    object.insert(
        "@level".into(),
        Value::from(level.as_str().to_ascii_lowercase()),
    );
    object.insert("@message".into(), Value::from(fields.message.as_str()));
    if let Some(module) = module {
        object.insert("@module".into(), Value::from(module));
    }
    object.insert(
        "@timestamp".into(),
        Value::from(now.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()),
    );
    let mut line = Value::Object(object).to_string().into_bytes();
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields {
        Fields {
            message: "successful mount".into(),
            pairs: vec![
                ("namespace".into(), Value::from("")),
                ("path".into(), Value::from("foo/")),
                ("note".into(), Value::from("two words")),
                ("count".into(), Value::from(3)),
            ],
        }
    }

    #[test]
    fn standard_lines_read_as_hclog_writes_them() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-07T13:58:47.460123Z")
            .expect("time")
            .with_timezone(&chrono::Utc);
        let line = String::from_utf8(standard_line(now, &Level::INFO, Some("core"), &fields()))
            .expect("utf-8");
        assert_eq!(
            line,
            "2026-12-07T13:58:47.460Z [INFO]  core: successful mount: namespace=\"\" \
             path=foo/ note=\"two words\" count=3\n"
        );
        let bare = Fields {
            message: "plain".into(),
            pairs: Vec::new(),
        };
        let line = String::from_utf8(standard_line(now, &Level::ERROR, None, &bare)).expect("utf");
        assert_eq!(line, "2026-12-07T13:58:47.460Z [ERROR] plain\n");
    }

    #[test]
    fn a_dropped_stream_closes_its_monitor() {
        let monitors = Arc::new(Monitors::default());
        let debug = monitors.open(LevelFilter::DEBUG, false);
        let warn = monitors.open(LevelFilter::WARN, true);
        assert_eq!(monitors.max_filter(), LevelFilter::DEBUG);
        assert!(monitors.wants(&Level::DEBUG) && !monitors.wants(&Level::TRACE));
        drop(debug);
        assert_eq!(monitors.max_filter(), LevelFilter::WARN);
        drop(warn);
        assert_eq!(monitors.max_filter(), LevelFilter::OFF);
        assert!(!monitors.wants(&Level::ERROR));
    }

    #[test]
    fn json_lines_carry_hclogs_keys() {
        let now = chrono::Utc::now();
        let line = json_line(now, &Level::DEBUG, Some("http"), &fields());
        let v: Value = serde_json::from_slice(&line).expect("json");
        assert_eq!(v["@level"], "debug");
        assert_eq!(v["@module"], "http");
        assert_eq!(v["@message"], "successful mount");
        assert_eq!(v["count"], 3);
        assert!(v["@timestamp"].as_str().expect("ts").ends_with('Z'));
    }
}
