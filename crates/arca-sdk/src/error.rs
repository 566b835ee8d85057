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
    /// A login with wrong credentials (Vault's error response + `ErrInvalidCredentials`): 400
    /// with the text as is; the core counts it toward the user's lockout.
    #[error("{0}")]
    InvalidCredentials(String),
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
    /// A failed login (wrong password, unknown user or secret ID): 400 with `message`,
    /// counted toward user lockout.
    pub fn invalid_credentials(message: impl Into<String>) -> Self {
        LogicalError::InvalidCredentials(message.into())
    }

    /// A 400 error response with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        LogicalError::BadRequest(message.into())
    }

    /// An error response with a status code chosen elsewhere: a plugin's `CodedError` as it
    /// came over the wire. Errors Arca decides itself use the named constructors below, so
    /// every status the server gives is chosen in this file.
    pub fn from_status(status: u16, message: impl Into<String>) -> Self {
        LogicalError::Coded {
            status,
            message: message.into(),
        }
    }

    /// Vault's bare 404, `{"errors":[]}` on the wire: the thing asked for does not exist.
    pub fn empty_not_found() -> Self {
        Self::from_status(404, String::new())
    }

    /// A 404 with a message (`no handler for route …`, `no reload found with reload_id …`).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::from_status(404, message)
    }

    /// A bare 405, `{"errors":[]}`: endpoints Vault serves outside its logical router
    /// (`sys/health`, `sys/init`, `sys/leader`, ...) answer other methods with it.
    pub fn empty_method_not_allowed() -> Self {
        Self::from_status(405, String::new())
    }

    /// A 503 with a message: a namespace an administrator locked.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::from_status(503, message)
    }

    /// A 403 with a message of its own (`bad token` from `auth/token/lookup`).
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::from_status(403, message)
    }

    /// The refusal of a known token by its ACL (or because its last use is taken): 403 with
    /// `permission denied` wrapped as a multierror, as OpenBao words it. An unknown or missing
    /// token gets the bare [`LogicalError::PermissionDenied`] instead.
    pub fn acl_denied() -> Self {
        Self::from_status(403, multierror(&["permission denied".to_string()]))
    }

    /// A 429: a quota refused the request (`request path "…": lease count quota exceeded`).
    pub fn too_many_requests(message: impl Into<String>) -> Self {
        Self::from_status(429, message)
    }

    /// A 415: the body's content type is not one the endpoint takes.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::from_status(415, message)
    }

    /// Bad input OpenBao answers with a 500 (a plain error from its handler): Arca keeps
    /// OpenBao's multierror text but answers 400, as a client's mistake is not a server
    /// failure (README, differences table).
    pub fn invalid_input(message: impl std::fmt::Display) -> Self {
        LogicalError::InvalidRequest(message.to_string())
    }

    /// An internal (500) error.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        LogicalError::Internal(message.to_string())
    }

    /// The HTTP status code this error maps to.
    pub fn status(&self) -> u16 {
        match self {
            LogicalError::BadRequest(_)
            | LogicalError::InvalidRequest(_)
            | LogicalError::InvalidCredentials(_) => 400,
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
        assert_eq!(LogicalError::from_status(429, "y").status(), 429);
        let table: &[(LogicalError, u16, &[&str])] = &[
            (LogicalError::empty_not_found(), 404, &[]),
            (LogicalError::not_found("gone"), 404, &["gone"]),
            (LogicalError::empty_method_not_allowed(), 405, &[]),
            (LogicalError::forbidden("bad token"), 403, &["bad token"]),
            (
                LogicalError::acl_denied(),
                403,
                &["1 error occurred:\n\t* permission denied\n\n"],
            ),
            (LogicalError::unsupported_media_type("no"), 415, &["no"]),
        ];
        for (err, status, wire) in table {
            assert_eq!(err.status(), *status, "{err:?}");
            assert_eq!(err.wire_messages(), *wire, "{err:?}");
        }
    }
}
