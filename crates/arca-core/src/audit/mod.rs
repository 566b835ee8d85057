//! Audit devices: the broker the request pipeline logs every request and response through,
//! the device table kept in the barrier, Vault's entry format with HMAC'd strings, and the
//! device kinds (file, socket, syslog).

mod broker;
mod device;
mod entry;
mod file;
mod hash;
mod jsonx;
mod os_error;
mod sink;
mod socket;
mod syslog;

pub(crate) use broker::{AuditBroker, BrokerConfig};
pub(crate) use entry::AuditRecord;
pub(crate) use sink::{Options, Sink};

/// An audit device declared in the server config.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigAuditDevice {
    /// `file`, `socket` or `syslog`.
    pub kind: String,
    /// Where it is enabled (`sys/audit/<path>`), without the trailing slash.
    pub path: String,
    /// Free text shown by `sys/audit`.
    pub description: String,
    /// Not replicated to other clusters (shown as given).
    pub local: bool,
    /// The device's options, strings by name.
    pub options: std::collections::BTreeMap<String, String>,
}

/// Why an audit device could not be set up or could not write.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AuditError {
    /// Bad options or a device that cannot be opened: a 400 with this text.
    #[error("{0}")]
    Config(String),
    /// A write (or reopen) that failed.
    #[error("{0}")]
    Io(String),
}
