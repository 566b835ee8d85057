//! The errors a backend or the core returns, each knowing its HTTP status and the exact text
//! Vault/OpenBao put in the `errors` array.

/// Formats messages the way Go's `hashicorp/go-multierror` does; Vault wraps errors returned by
/// backends (rather than error *responses*) in it, so clients see this exact text.
pub fn multierror(messages: &[String]) -> String {
    let mut out = if messages.len() == 1 {
        "1 error occurred:\n".to_string()
    } else {
        format!("{} errors occurred:\n", messages.len())
    };
    for m in messages {
        out.push_str("\t* ");
        out.push_str(m);
        out.push('\n');
    }
    out.push('\n');
    out
}

/// An error from the request pipeline or a backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogicalError {
    /// A backend's error *response* (Vault's `logical.ErrorResponse`): 400 with the text as is.
    #[error("{0}")]
    BadRequest(String),
    /// An error response with another status code, text as is.
    #[error("{message}")]
    Coded {
        /// HTTP status code.
        status: u16,
        /// The text put in `errors`.
        message: String,
    },
    /// Vault's `ErrInvalidRequest` returned as an error: 400, wrapped as a multierror.
    #[error("{0}")]
    InvalidRequest(String),
    /// The token or ACL refused the request: 403 `permission denied`, nothing else revealed.
    #[error("permission denied")]
    PermissionDenied,
    /// The path exists but not for this operation: 405.
    #[error("unsupported operation")]
    UnsupportedOperation,
    /// No path of the backend matches: 404.
    #[error("unsupported path")]
    UnsupportedPath,
    /// The core is sealed: 503.
    #[error("Vault is sealed")]
    Sealed,
    /// Something failed inside the server: 500, wrapped as a multierror.
    #[error("{0}")]
    Internal(String),
}

impl LogicalError {
    /// A 400 error response with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        LogicalError::BadRequest(message.into())
    }

    /// An error response with any status code.
    pub fn coded(status: u16, message: impl Into<String>) -> Self {
        LogicalError::Coded {
            status,
            message: message.into(),
        }
    }

    /// An internal (500) error.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        LogicalError::Internal(message.to_string())
    }

    /// The HTTP status code this error maps to.
    pub fn status(&self) -> u16 {
        match self {
            LogicalError::BadRequest(_) | LogicalError::InvalidRequest(_) => 400,
            LogicalError::Coded { status, .. } => *status,
            LogicalError::PermissionDenied => 403,
            LogicalError::UnsupportedOperation => 405,
            LogicalError::UnsupportedPath => 404,
            LogicalError::Sealed => 503,
            LogicalError::Internal(_) => 500,
        }
    }

    /// The exact strings for the `errors` array of the HTTP body.
    pub fn wire_messages(&self) -> Vec<String> {
        match self {
            LogicalError::InvalidRequest(_)
            | LogicalError::UnsupportedOperation
            | LogicalError::UnsupportedPath
            | LogicalError::Internal(_) => vec![multierror(&[self.to_string()])],
            // An empty message is Vault's bare `{"errors":[]}`.
            LogicalError::Coded { message, .. } if message.is_empty() => Vec::new(),
            _ => vec![self.to_string()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_texts_match_openbao() {
        assert_eq!(
            LogicalError::UnsupportedOperation.wire_messages(),
            vec!["1 error occurred:\n\t* unsupported operation\n\n".to_string()]
        );
        assert_eq!(LogicalError::UnsupportedPath.status(), 404);
        assert_eq!(
            LogicalError::PermissionDenied.wire_messages(),
            vec!["permission denied".to_string()]
        );
        assert_eq!(
            multierror(&["a".into(), "b".into()]),
            "2 errors occurred:\n\t* a\n\t* b\n\n"
        );
        assert_eq!(LogicalError::bad_request("x").wire_messages(), vec!["x"]);
        assert_eq!(LogicalError::coded(429, "y").status(), 429);
    }
}
