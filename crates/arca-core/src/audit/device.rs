//! One enabled audit device: its table entry, its salt, its format and its sink. Building one
//! parses the options every kind shares, then hands the rest to the kind's sink.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use std::sync::atomic::{AtomicU64, Ordering};

use super::entry::{AuditRecord, AuditedHeaders, Format, Parts, Renderer};
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
    /// Names this device among every device built (see [`NEXT_ID`]).
    pub(crate) id: u64,
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
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
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

    /// Renders this device's `auth` and `request` objects of `rec` and its request line.
    pub(crate) fn request_line(
        &self,
        rec: &AuditRecord,
        error: Option<&str>,
        headers: &AuditedHeaders,
    ) -> Result<(Parts, Vec<u8>), AuditError> {
        let r = self.renderer(headers);
        let parts = r.parts(rec).map_err(render_error)?;
        let line = r.request_line(&parts, error);
        Ok((parts, line))
    }

    /// Renders the response line, over the parts of the request line when given.
    pub(crate) fn response_line(
        &self,
        parts: Option<&Parts>,
        rec: &AuditRecord,
        resp: Option<&Response>,
        error: Option<&str>,
        headers: &AuditedHeaders,
    ) -> Result<Vec<u8>, AuditError> {
        let r = self.renderer(headers);
        let fresh;
        let parts = match parts {
            Some(p) => p,
            None => {
                fresh = r.parts(rec).map_err(render_error)?;
                &fresh
            }
        };
        r.response_line(parts, rec, resp, error)
            .map_err(render_error)
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
        self.write(line).await
    }

    /// One write, bounded by the sink's timeout whatever the sink does (waiting for a
    /// socket's connection included).
    pub(crate) async fn write(&self, line: Vec<u8>) -> Result<(), AuditError> {
        let limit = self.sink.write_timeout();
        match tokio::time::timeout(limit, self.sink.write(line)).await {
            Ok(result) => result,
            Err(_) => Err(AuditError::Io(format!(
                "audit write timed out after {limit:?}"
            ))),
        }
    }
}

/// A line that could not be rendered (a value `serde_json` refuses): the device fails it.
fn render_error(e: serde_json::Error) -> AuditError {
    AuditError::Io(format!("cannot render the audit line: {e}"))
}

/// A process-wide number naming each device built, so a request's rendered parts find
/// their device again for the response line.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

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
