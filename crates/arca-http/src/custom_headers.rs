//! `custom_response_headers`: headers a listener adds to its answers by status, as Vault's
//! `StatusHeaderResponseWriter` sets them — `default` first, then the status class (`4xx`),
//! then the exact status (`404`), each replacing a header of the same name set before.

use std::collections::HashMap;

use hyper::header::{HeaderName, HeaderValue};

use crate::envelope::Answer;

/// The headers of one listener, by `default`, `Nxx` or exact status.
#[derive(Debug, Clone, Default)]
pub struct CustomHeaders {
    by_status: HashMap<String, Vec<(HeaderName, HeaderValue)>>,
}

impl CustomHeaders {
    /// Builds the table from (status key, header name, value) triples; a name or value that
    /// HTTP cannot carry is left out with a warning.
    pub fn new<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>) -> Self {
        let mut by_status: HashMap<String, Vec<(HeaderName, HeaderValue)>> = HashMap::new();
        for (status, name, value) in entries {
            match (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                (Ok(n), Ok(v)) => by_status.entry(status.to_owned()).or_default().push((n, v)),
                _ => {
                    tracing::warn!(header = %name, "custom response header left out: not valid HTTP")
                }
            }
        }
        CustomHeaders { by_status }
    }

    /// Sets the headers that apply to `answer`'s status.
    pub(crate) fn apply(&self, answer: &mut Answer) {
        if self.by_status.is_empty() {
            return;
        }
        let status = answer.status().as_u16();
        let class = format!("{}xx", status / 100);
        for key in ["default", class.as_str(), &status.to_string()] {
            if let Some(headers) = self.by_status.get(key) {
                for (n, v) in headers {
                    answer.headers_mut().insert(n.clone(), v.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope;
    use hyper::StatusCode;

    #[test]
    fn the_exact_status_wins_over_the_class_and_the_default() {
        let h = CustomHeaders::new([
            ("default", "X-A", "default"),
            ("default", "X-B", "default"),
            ("4xx", "X-A", "4xx"),
            ("404", "X-A", "404"),
            ("2xx", "X-C", "2xx"),
        ]);
        let mut a = envelope::error(StatusCode::NOT_FOUND, "x");
        h.apply(&mut a);
        assert_eq!(a.headers()["x-a"], "404");
        assert_eq!(a.headers()["x-b"], "default");
        assert!(a.headers().get("x-c").is_none());
        let mut a = envelope::error(StatusCode::BAD_REQUEST, "x");
        h.apply(&mut a);
        assert_eq!(a.headers()["x-a"], "4xx");
    }
}
