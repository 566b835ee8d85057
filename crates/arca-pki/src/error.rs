//! The engine's typed errors and how each reaches the wire (status and OpenBao's text).

use arca_sdk::LogicalError;

/// What can go wrong in the PKI engine.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// The caller asked for something invalid; the text is OpenBao's.
    #[error("{0}")]
    BadRequest(String),
    /// A referenced object does not exist (OpenBao answers 400 for most of these, 404 for some).
    #[error("{0}")]
    NotFound(String),
    /// A stored record could not be read back.
    #[error("failed to decode stored {what}: {reason}")]
    Decode {
        /// The kind of record.
        what: &'static str,
        /// Why decoding failed.
        reason: String,
    },
    /// The crypto library refused an operation.
    #[error("{0}")]
    Crypto(String),
    /// The storage layer failed.
    #[error("storage error: {0}")]
    Storage(String),
}

impl PkiError {
    /// A 400 with `msg`.
    pub fn bad(msg: impl Into<String>) -> Self {
        PkiError::BadRequest(msg.into())
    }
}

impl From<PkiError> for LogicalError {
    fn from(e: PkiError) -> LogicalError {
        match e {
            PkiError::BadRequest(m) => LogicalError::bad_request(m),
            PkiError::NotFound(m) => LogicalError::not_found(m),
            other => LogicalError::internal(other),
        }
    }
}

impl From<rcgen::Error> for PkiError {
    fn from(e: rcgen::Error) -> Self {
        PkiError::Crypto(format!("error creating certificate: {e}"))
    }
}

impl From<arca_sdk::StorageError> for PkiError {
    fn from(e: arca_sdk::StorageError) -> Self {
        PkiError::Storage(e.to_string())
    }
}

/// Shorthand for results of this crate.
pub type PkiResult<T> = Result<T, PkiError>;
