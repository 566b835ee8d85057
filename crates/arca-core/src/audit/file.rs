//! The `file` device: appends lines to a file (or stdout, or nowhere), reopened on SIGHUP.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;

use super::{AuditError, Options, Sink};

/// A `file` audit device's sink.
pub(crate) struct FileSink {}

impl FileSink {
    /// Builds the sink from `file_path` (or `path`), `mode` and `write_timeout`; refuses a
    /// file inside `plugin_directory`; opens the file (created 0600) unless it is `stdout` or
    /// `discard`.
    pub(crate) fn new(
        _options: &Options,
        _plugin_directory: Option<&Path>,
    ) -> Result<FileSink, AuditError> {
        Err(AuditError::Config(
            "file audit devices are not built yet".into(),
        ))
    }
}

#[async_trait]
impl Sink for FileSink {
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
