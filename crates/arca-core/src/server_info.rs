//! What only the server around the core knows: its config, its loggers, the requests its
//! listeners are serving. The binary implements [`ServerInfo`]; `sys/config/state/sanitized`,
//! `sys/loggers`, `sys/monitor` and `sys/in-flight-req` read it.

use std::collections::BTreeMap;

use serde_json::Value;

/// Why a logger could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum LoggerError {
    /// No logger has this name.
    #[error("logger {0:?} not found")]
    NotFound(String),
    /// The level is not one of trace, debug, info, warn, error, off.
    #[error("invalid level provided: unknown log level: {0}")]
    InvalidLevel(String),
}

/// The server's side of the introspection endpoints.
pub trait ServerInfo: Send + Sync {
    /// The config with secrets left out (`sys/config/state/sanitized`).
    fn sanitized_config(&self) -> Value;
    /// Every named logger and its current level.
    fn loggers(&self) -> BTreeMap<String, String>;
    /// Sets `level` on the logger `name`, or on every logger for `None`.
    fn set_log_level(&self, name: Option<&str>, level: &str) -> Result<(), LoggerError>;
    /// Returns the logger `name` (every logger for `None`) to the configured level.
    fn reset_log_level(&self, name: Option<&str>) -> Result<(), LoggerError>;
    /// The log from now on at `level` (an hclog level name), as hclog's standard lines or, with
    /// `json`, its JSON lines (`sys/monitor`); the stream ends when dropped.
    fn monitor(
        &self,
        level: &str,
        json: bool,
    ) -> Result<arca_sdk::body_stream::Chunks, LoggerError>;
    /// The requests being served, by request id (`sys/in-flight-req`).
    fn in_flight_requests(&self) -> Value;
}
