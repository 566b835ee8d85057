//! The errors of this crate's engines and the exact texts OpenBao answers with for them.

use arca_sdk::LogicalError;

/// Why an engine refused or failed a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// A write to a path ending in `/` (or to the mount root).
    #[error("cannot write to a path ending in '/'")]
    TrailingSlash,
    /// A KV v1 or cubbyhole write without any field.
    #[error("missing data fields")]
    MissingDataFields,
    /// A cubbyhole request on the mount root.
    #[error("missing path")]
    MissingPath,
    /// A cubbyhole request without a token (the core always sends one).
    #[error("client token empty")]
    ClientTokenEmpty,
    /// KV v2 write or patch without `data`.
    #[error("no data provided")]
    NoDataProvided,
    /// `options.cas` is not an integer.
    #[error("error parsing check-and-set parameter")]
    CasUnparsable,
    /// `options.cas` differs from the current version.
    #[error("check-and-set parameter did not match the current version")]
    CasMismatch,
    /// The key or the mount requires `options.cas`.
    #[error("check-and-set parameter required for this call")]
    CasRequired,
    /// The key or the mount requires `metadata_cas`.
    #[error("metadata check-and-set parameter required for this call")]
    MetadataCasRequired,
    /// `metadata_cas` differs from the current metadata version.
    #[error("metadata check-and-set parameter does not match the current version")]
    MetadataCasMismatch,
    /// `metadata_cas` other than 0 on a key without metadata.
    #[error("metadata_cas must be 0 when creating new metadata")]
    MetadataCasNotZero,
    /// `delete/` or `undelete/` without versions.
    #[error("No version number provided")]
    NoVersions,
    /// `destroy/` without versions (OpenBao spells this one in lower case).
    #[error("no version number provided")]
    NoVersionsDestroy,
    /// A request field that does not convert to its type; the text is the whole message.
    #[error("{0}")]
    InvalidField(String),
    /// The mount options name a KV version this crate does not serve (the version given is
    /// kept for logs); OpenBao's factory returns no backend, and the mount is refused with 400.
    #[error("nil backend of type \"kv\" returned from factory")]
    UnknownKvVersion(String),
    /// A stored record is unreadable.
    #[error("failed to decode stored entry {key:?}: {reason}")]
    Corrupt {
        /// The storage key.
        key: String,
        /// What the decoder said.
        reason: String,
    },
}

impl From<EngineError> for LogicalError {
    fn from(e: EngineError) -> Self {
        match e {
            // Vault returns this one as a plain Go error from the cubbyhole handlers (500,
            // wrapped); the client's mistake gets a 400 with the same wrapped text.
            EngineError::MissingPath => LogicalError::invalid_input(e),
            EngineError::Corrupt { .. } => LogicalError::internal(e),
            other => LogicalError::bad_request(other.to_string()),
        }
    }
}
