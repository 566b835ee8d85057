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
pub(crate) use entry::{AuditRecord, MountInfo};
pub(crate) use sink::{Options, Sink};

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
