//! Where a device's lines go: the seam between the broker, which formats a line, and the
//! device kinds (file, socket, syslog), which only write bytes.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use super::AuditError;

/// A device's options as `sys/audit/<path>` takes them: strings by name.
pub(crate) type Options = BTreeMap<String, String>;

/// The byte sink of one audit device.
///
/// `write` is handed one complete line (prefix, entry and the trailing newline) and returns
/// once the line is written, or fails. A sink never blocks its caller longer than its
/// `write_timeout` ([`Sink::write_timeout`]); the broker also bounds the call by it, so a
/// stuck disk or a full socket fails the write instead of holding the server.
#[async_trait]
pub(crate) trait Sink: Send + Sync {
    /// Writes one complete line (handed over: a sink that queues it does not copy it).
    async fn write(&self, line: Vec<u8>) -> Result<(), AuditError>;

    /// Reopens the file or reconnects the socket (SIGHUP, after log rotation).
    async fn reload(&self) -> Result<(), AuditError>;

    /// How long one write may take before it fails.
    fn write_timeout(&self) -> Duration;
}

/// Parses a boolean option as Go's `strconv.ParseBool` does, with its error text.
pub(crate) fn parse_bool(value: &str) -> Result<bool, AuditError> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(AuditError::Config(format!(
            "strconv.ParseBool: parsing {value:?}: invalid syntax"
        ))),
    }
}

/// Helpers the device kinds' tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use super::{AuditError, Options};

    /// Options from name/value pairs.
    pub(crate) fn options(pairs: &[(&str, &str)]) -> Options {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// The text of a refused construction (panics unless it is a `Config` error).
    pub(crate) fn config_error<T>(result: Result<T, AuditError>) -> String {
        match result {
            Err(AuditError::Config(text)) => text,
            Err(AuditError::Io(text)) => panic!("an Io error, not Config: {text}"),
            Ok(_) => panic!("accepted"),
        }
    }
}
