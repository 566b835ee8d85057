//! The error type of the API client, formatted like Vault's Go client errors.

use std::fmt;

/// An error from a request to the server.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server answered with an error status (4xx/5xx).
    #[error("{0}")]
    Response(ResponseError),
    /// The request never got an HTTP answer (connection refused, TLS failure, ...).
    #[error("{method} \"{url}\": {message}")]
    Transport {
        /// HTTP method, title-cased as Go prints it (`Get`, `Put`, ...).
        method: String,
        /// The full request URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The server address could not be parsed.
    #[error("invalid server address {0:?}")]
    InvalidAddress(String),
    /// The TLS configuration (CA file, ...) could not be loaded.
    #[error("error configuring TLS: {0}")]
    Tls(String),
    /// The server's answer was not the JSON we expected.
    #[error("error decoding the server response: {0}")]
    Decode(String),
    /// The server's answer was not JSON at all, worded as Go's `encoding/json` words it
    /// (`invalid character '#' looking for beginning of value`).
    #[error("{0}")]
    NotJson(String),
    /// The server answered without the `data` the request reads (Go's client wording).
    #[error("data from server response is empty")]
    EmptyData,
}

impl ApiError {
    /// The HTTP status of the server's answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Response(r) => Some(r.status),
            _ => None,
        }
    }

    /// The server's `errors` list (empty when there was no answer).
    pub fn errors(&self) -> &[String] {
        match self {
            ApiError::Response(r) => &r.errors,
            _ => &[],
        }
    }
}

/// An error answer from the server: status, URL and the `errors` list of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseError {
    /// HTTP method as sent (`GET`, `PUT`, ...).
    pub method: String,
    /// Full URL, query string included.
    pub url: String,
    /// HTTP status code.
    pub status: u16,
    /// The server's `errors` list, or the raw body when it was not JSON.
    pub errors: Vec<String>,
    /// True when `errors` holds the raw body instead of a parsed list.
    pub raw: bool,
    /// The namespace the request was sent to, if any.
    pub namespace: Option<String>,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.raw { "Raw Message" } else { "Errors" };
        write!(f, "Error making API request.\n\n")?;
        if let Some(ns) = &self.namespace {
            writeln!(f, "Namespace: {ns}")?;
        }
        write!(
            f,
            "URL: {} {}\nCode: {}. {}:\n\n",
            self.method, self.url, self.status, kind
        )?;
        if self.raw && self.errors.len() == 1 {
            f.write_str(&self.errors[0])?;
        } else {
            for e in &self.errors {
                write!(f, "* {e}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_vault() {
        let e = ApiError::Response(ResponseError {
            method: "GET".into(),
            url: "http://127.0.0.1:8200/v1/sys/mounts".into(),
            status: 403,
            errors: vec!["permission denied".into()],
            raw: false,
            namespace: None,
        });
        assert_eq!(
            e.to_string(),
            "Error making API request.\n\nURL: GET http://127.0.0.1:8200/v1/sys/mounts\nCode: 403. Errors:\n\n* permission denied"
        );
        assert_eq!(e.status(), Some(403));
    }

    #[test]
    fn raw_body_is_shown_as_is() {
        let e = ResponseError {
            method: "PUT".into(),
            url: "http://x/v1/a".into(),
            status: 502,
            errors: vec!["bad gateway".into()],
            raw: true,
            namespace: Some("ns1/".into()),
        };
        assert_eq!(
            e.to_string(),
            "Error making API request.\n\nNamespace: ns1/\nURL: PUT http://x/v1/a\nCode: 502. Raw Message:\n\nbad gateway"
        );
    }
}
