//! The one error type of the benchmark.

use std::path::PathBuf;

/// Anything that stops a benchmark run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A file or directory could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A server process could not be started or never became ready.
    #[error("{server} did not start: {detail} (log: {log})")]
    Start {
        /// Which server.
        server: String,
        /// Why.
        detail: String,
        /// Its log file.
        log: PathBuf,
    },
    /// An HTTP exchange failed outright (connection, timeout, bad URI).
    #[error("HTTP {method} {path}: {detail}")]
    Http {
        /// Request method.
        method: String,
        /// Request path.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// A server answered a setup request with an unexpected status.
    #[error("{server}: {step} answered {status}: {body}")]
    Setup {
        /// Which server.
        server: String,
        /// Which setup step.
        step: String,
        /// HTTP status.
        status: u16,
        /// Response body (never holds a secret: setup bodies are errors or metadata).
        body: String,
    },
    /// OpenBao's `bao` binary could not be found or installed.
    #[error("OpenBao: {0}")]
    OpenBao(String),
    /// The chart could not be drawn.
    #[error("chart: {0}")]
    Chart(String),
    /// A command-line value is out of range.
    #[error("{0}")]
    Usage(String),
    /// The instruction-count driver or report failed.
    #[error("callgrind: {0}")]
    Callgrind(String),
    /// The in-process transit cost measurement failed.
    #[error("transit cost: {0}")]
    TransitCost(String),
    /// JSON could not be written.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl BenchError {
    /// An [`BenchError::Io`] with a description of what was being done.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> BenchError {
        BenchError::Io {
            what: what.into(),
            source,
        }
    }
}
