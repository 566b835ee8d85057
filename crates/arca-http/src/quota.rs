//! Rate-limit quotas at the edge: the handler is asked before the body is read (so a client
//! over its limit costs no body read or JSON parse, CVE-2025-12044), and an over-limit request
//! gets OpenBao's 429 with the handler's headers.

use hyper::StatusCode;
use hyper::header::{HeaderName, HeaderValue};

use crate::envelope::{self, Answer};

/// One request as the rate limiter sees it.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitAsk<'a> {
    /// The API path after `/v1/` (a LIST's with a trailing `/`, as OpenBao's).
    pub path: &'a str,
    /// The namespace the header names (`""` for the root).
    pub namespace: &'a str,
    /// The client's address.
    pub client: &'a str,
    /// The login's role, once asked for with [`RateLimitVerdict::NeedsRole`].
    pub role: Option<&'a str>,
}

/// What the rate-limit quotas decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateLimitVerdict {
    /// Served; these headers go with the answer.
    Allowed(Vec<(&'static str, String)>),
    /// 429 `request path "<path>": rate limit quota exceeded`, with these headers.
    Refused(Vec<(&'static str, String)>),
    /// A role-based quota may apply: read the body and ask again with the role.
    NeedsRole,
}

/// OpenBao's answer to a request over its rate limit.
pub(crate) fn refused(path: &str, headers: &[(&'static str, String)]) -> Answer {
    let mut answer = envelope::error(StatusCode::TOO_MANY_REQUESTS, &refusal(path));
    add_headers(&mut answer, headers);
    answer
}

/// OpenBao's error for a request to `path` over its rate limit.
pub(crate) fn refusal(path: &str) -> String {
    format!("request path {path:?}: rate limit quota exceeded")
}

/// Adds the quota's headers to an answer.
pub(crate) fn add_headers(answer: &mut Answer, headers: &[(&'static str, String)]) {
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            answer.headers_mut().insert(n, v);
        }
    }
}
