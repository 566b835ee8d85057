//! The errors of launching, serving and talking to a plugin.

/// Something went wrong on either side of the plugin link.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The handshake (cookie, environment or stdout line) failed.
    #[error("{0}")]
    Handshake(String),
    /// Certificates or TLS configuration failed.
    #[error("tls: {0}")]
    Tls(String),
    /// A socket, pipe or process call failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The plugin binary does not match the catalog's sha256.
    #[error("checksums did not match")]
    Checksum,
    /// A gRPC call failed.
    #[error("rpc error: code = {code:?} desc = {message}")]
    Rpc {
        /// The gRPC status code.
        code: tonic::Code,
        /// The status message.
        message: String,
    },
    /// The plugin reported an error from `Setup`.
    #[error("{0}")]
    Setup(String),
}

impl PluginError {
    /// An I/O error with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> PluginError {
        PluginError::Io {
            context: context.into(),
            source,
        }
    }
}

impl From<tonic::Status> for PluginError {
    fn from(s: tonic::Status) -> Self {
        PluginError::Rpc {
            code: s.code(),
            message: s.message().to_string(),
        }
    }
}

impl From<tonic::transport::Error> for PluginError {
    fn from(e: tonic::transport::Error) -> Self {
        PluginError::Rpc {
            code: tonic::Code::Unavailable,
            message: e.to_string(),
        }
    }
}
