//! One enabled audit device: its table entry, its salt, its format and its sink. Building one
//! parses the options every kind shares, then hands the rest to the kind's sink.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::entry::{AuditRecord, AuditedHeaders, Format, Renderer};
use super::file::FileSink;
use super::hash::Salt;
use super::sink::parse_bool;
use super::socket::SocketSink;
use super::syslog::SyslogSink;
use super::{AuditError, Options, Sink};
use arca_sdk::Response;

/// Which table an entry came from: the API (`sys/audit/<path>`) or the config file.
pub(crate) const TABLE_API: &str = "audit";
/// Entries declared in the config file: enabled at unseal, not disabled through the API.
pub(crate) const TABLE_CONFIG: &str = "audit-config";

/// A device as the audit table keeps it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct AuditEntry {
    /// Where it is enabled, ending in `/`.
    pub(crate) path: String,
    /// `file`, `socket` or `syslog`.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) description: String,
    #[serde(default)]
    pub(crate) options: Options,
    #[serde(default)]
    pub(crate) local: bool,
    /// Names its salt in the barrier.
    pub(crate) uuid: String,
    pub(crate) accessor: String,
    /// [`TABLE_API`] or [`TABLE_CONFIG`].
    pub(crate) table: String,
}

/// An enabled device.
pub(crate) struct Device {
    pub(crate) entry: AuditEntry,
    pub(crate) salt: Salt,
    pub(crate) format: Format,
    pub(crate) sink: Arc<dyn Sink>,
}

impl Device {
    /// Builds the device `entry` describes over `salt`. Option errors carry OpenBao's text.
    pub(crate) fn build(
        entry: AuditEntry,
        salt: Salt,
        plugin_directory: Option<&Path>,
    ) -> Result<Device, AuditError> {
        let format = format_of(&entry.options)?;
        let sink: Arc<dyn Sink> = match entry.kind.as_str() {
            "file" => Arc::new(FileSink::new(&entry.options, plugin_directory)?),
            "socket" => Arc::new(SocketSink::new(&entry.options)?),
            "syslog" => Arc::new(SyslogSink::new(&entry.options)?),
            other => {
                return Err(AuditError::Config(format!(
                    "unknown backend type: {other:?}"
                )));
            }
        };
        Ok(Device {
            entry,
            salt,
            format,
            sink,
        })
    }

    fn renderer<'a>(&'a self, headers: &'a AuditedHeaders) -> Renderer<'a> {
        Renderer {
            salt: &self.salt,
            format: &self.format,
            headers,
        }
    }

    /// Formats and writes the request line.
    pub(crate) async fn log_request(
        &self,
        rec: &AuditRecord,
        error: Option<&str>,
        headers: &AuditedHeaders,
    ) -> Result<(), AuditError> {
        let line = self.renderer(headers).request_line(rec, error);
        self.write(&line).await
    }

    /// Formats and writes the response line.
    pub(crate) async fn log_response(
        &self,
        rec: &AuditRecord,
        resp: Option<&Response>,
        error: Option<&str>,
        headers: &AuditedHeaders,
    ) -> Result<(), AuditError> {
        let line = self.renderer(headers).response_line(rec, resp, error);
        self.write(&line).await
    }

    /// Writes the line that proves a new device works (under a throwaway salt).
    pub(crate) async fn log_test(&self) -> Result<(), AuditError> {
        let salt = Salt::ephemeral();
        let headers = AuditedHeaders::new();
        let line = Renderer {
            salt: &salt,
            format: &self.format,
            headers: &headers,
        }
        .test_line();
        self.write(&line).await
    }

    /// One write, bounded by the sink's timeout whatever the sink does.
    async fn write(&self, line: &[u8]) -> Result<(), AuditError> {
        let limit = self.sink.write_timeout();
        match tokio::time::timeout(limit, self.sink.write(line)).await {
            Ok(result) => result,
            Err(_) => Err(AuditError::Io(format!(
                "audit write timed out after {limit:?}"
            ))),
        }
    }
}

/// The format options every kind shares, with OpenBao's errors; `jsonx` is accepted, as in
/// Vault (OpenBao 2.7.2 refuses it).
fn format_of(options: &Options) -> Result<Format, AuditError> {
    let jsonx = match options.get("format").map(String::as_str) {
        None | Some("json") => false,
        Some("jsonx") => true,
        Some(other) => {
            return Err(AuditError::Config(format!("unknown format type {other:?}")));
        }
    };
    let flag = |name: &str, default: bool| options.get(name).map_or(Ok(default), |v| parse_bool(v));
    Ok(Format {
        raw: flag("log_raw", false)?,
        hmac_accessor: flag("hmac_accessor", true)?,
        elide_list: flag("elide_list_responses", false)?,
        prefix: options.get("prefix").cloned().unwrap_or_default(),
        jsonx,
    })
}
