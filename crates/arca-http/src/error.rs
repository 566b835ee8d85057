//! The errors [`crate::serve`] returns before it starts serving.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why a listener could not be started.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The address could not be bound (in use, not permitted, not local...).
    #[error("failed to bind listener on {address}: {source}")]
    Bind {
        /// The address that was asked for.
        address: SocketAddr,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A TLS file could not be read or holds nothing usable.
    #[error("failed to load TLS {what} from {}: {reason}", path.display())]
    TlsFile {
        /// Which file: `certificate`, `key` or `client CA`.
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The TLS options do not make a valid configuration.
    #[error("invalid TLS configuration: {0}")]
    TlsConfig(String),
}
