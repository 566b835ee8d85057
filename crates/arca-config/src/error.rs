//! The error type of config loading, and the file/line location every message starts with.

use std::fmt;
use std::path::PathBuf;

/// Where in a config file a problem is: the file name and, when known, the 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file name as it was given to [`crate::load_file`] or [`crate::parse_str`].
    pub file: String,
    /// The 1-based line, when the problem can be pinned to one.
    pub line: Option<usize>,
}

impl Location {
    /// A location in `file` at `line`.
    pub(crate) fn new(file: &str, line: Option<usize>) -> Self {
        Self {
            file: file.to_owned(),
            line,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.file),
            None => f.write_str(&self.file),
        }
    }
}

/// Why a config could not be loaded.
///
/// Every variant's message starts with the file (and line when there is one), so it can be shown
/// to an operator as it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file or directory could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid HCL or JSON.
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        /// The file name.
        file: String,
        /// The 1-based line of the error.
        line: usize,
        /// The 1-based column of the error.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// The text parses but a key has a wrong type, a bad value, or breaks a rule.
    #[error("{location}: {key}: {message}")]
    Invalid {
        /// Where the key is.
        location: Location,
        /// The dotted key path, e.g. `listener.tcp.max_request_size`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

impl ConfigError {
    /// An [`ConfigError::Invalid`] for `key` at `line` of `file`.
    pub(crate) fn invalid(
        file: &str,
        line: Option<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Invalid {
            location: Location::new(file, line),
            key: key.into(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_names_file_line_and_key() {
        let err = ConfigError::invalid("config.hcl", Some(7), "ui", "expected a boolean");
        assert_eq!(err.to_string(), "config.hcl:7: ui: expected a boolean");
    }

    #[test]
    fn invalid_without_line_names_file_and_key() {
        let err = ConfigError::invalid("config.json", None, "ui", "expected a boolean");
        assert_eq!(err.to_string(), "config.json: ui: expected a boolean");
    }

    #[test]
    fn syntax_names_file_line_and_column() {
        let err = ConfigError::Syntax {
            file: "config.hcl".into(),
            line: 3,
            column: 14,
            message: "unexpected token".into(),
        };
        assert_eq!(err.to_string(), "config.hcl:3:14: unexpected token");
    }
}
