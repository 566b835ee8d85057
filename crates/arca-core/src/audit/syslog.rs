//! The `syslog` device: sends lines to the local syslog daemon.

use std::time::Duration;

use async_trait::async_trait;

use super::{AuditError, Options, Sink};

/// A `file` audit device's sink.
pub(crate) struct SyslogSink {}

impl SyslogSink {
    /// Builds the sink from `file_path` (or `path`), `mode` and `write_timeout`; refuses a
    /// file inside `plugin_directory`; opens the file (created 0600) unless it is `stdout` or
    /// `discard`.
    pub(crate) fn new(_options: &Options) -> Result<SyslogSink, AuditError> {
        Err(AuditError::Config(
            "syslog audit devices are not built yet".into(),
        ))
    }
}

#[async_trait]
impl Sink for SyslogSink {
    async fn write(&self, _line: &[u8]) -> Result<(), AuditError> {
        Err(AuditError::Io("not built".into()))
    }

    async fn reload(&self) -> Result<(), AuditError> {
        Ok(())
    }

    fn write_timeout(&self) -> Duration {
        Duration::from_secs(2)
    }
}
