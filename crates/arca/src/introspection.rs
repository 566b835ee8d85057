//! The server's answers to the core's introspection questions (`sys/config/state/sanitized`,
//! `sys/loggers`, `sys/monitor`, `sys/in-flight-req`).

use std::collections::BTreeMap;
use std::sync::Arc;

use arca_core::server_info::{LoggerError, ServerInfo};
use arca_sdk::body_stream::Chunks;
use serde_json::Value;

use crate::logging::Logging;

/// What the server knows about itself.
pub(crate) struct Introspection {
    /// The config as loaded, with secrets left out.
    pub(crate) sanitized: Value,
    /// The live log filter.
    pub(crate) logging: Arc<Logging>,
    /// Every listener's in-flight requests.
    pub(crate) in_flight: Arc<arca_http::InFlight>,
}

impl ServerInfo for Introspection {
    fn sanitized_config(&self) -> Value {
        self.sanitized.clone()
    }

    fn loggers(&self) -> BTreeMap<String, String> {
        self.logging.loggers()
    }

    fn set_log_level(&self, name: Option<&str>, level: &str) -> Result<(), LoggerError> {
        self.logging.set(name, level)
    }

    fn reset_log_level(&self, name: Option<&str>) -> Result<(), LoggerError> {
        self.logging.reset(name)
    }

    fn monitor(&self, level: &str, json: bool) -> Result<Chunks, LoggerError> {
        self.logging.monitor(level, json)
    }

    fn in_flight_requests(&self) -> Value {
        self.in_flight.snapshot()
    }
}
