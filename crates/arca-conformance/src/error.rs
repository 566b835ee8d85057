//! Errors of the harness itself (not differences between the servers).

use std::path::PathBuf;

/// Why the harness could not compare.
#[derive(Debug, thiserror::Error)]
pub enum ConformanceError {
    /// A binary is missing or could not be built.
    #[error("binary: {0}")]
    Binary(String),
    /// A server did not start.
    #[error("{server} did not start: {detail} (log: {log})")]
    Start {
        /// Which server.
        server: String,
        /// Why.
        detail: String,
        /// Its log file.
        log: PathBuf,
    },
    /// An HTTP exchange failed on the wire.
    #[error("HTTP {0}")]
    Http(#[from] reqwest::Error),
    /// The allow-list could not be read or has an entry without a reason.
    #[error("allow-list line {line}: {detail}")]
    AllowList {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        detail: String,
    },
    /// A step refers to a variable no earlier step captured.
    #[error("case {case}: {detail}")]
    Script {
        /// The case.
        case: String,
        /// What is wrong.
        detail: String,
    },
    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
}
