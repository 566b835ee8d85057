//! `/ui/`: Arca ships no web UI, so with `ui = true` it answers as an OpenBao built without
//! one does — a short page saying so — with the UI's response headers (the defaults and those
//! `sys/config/ui/headers` sets), which is where Vault applies them.

use arca_sdk::http_settings::UiHeaders;
use hyper::StatusCode;
use hyper::header::{HeaderName, HeaderValue};

use crate::envelope::{self, Answer};

/// The page.
const STUB_HTML: &str = "<!DOCTYPE html>\n<html>\n<head><title>Arca</title></head>\n<body>\n\
<h1>The web UI is not available in this binary.</h1>\n\
<p>Arca serves the Vault HTTP API under <code>/v1/</code>; use the CLI or any Vault client.</p>\n\
</body>\n</html>\n";

/// Whether `path` is the UI's.
pub(crate) fn is_ui_path(path: &str) -> bool {
    path == "/ui" || path.starts_with("/ui/")
}

/// The UI's answer, with its headers.
pub(crate) fn answer(headers: &UiHeaders) -> Answer {
    let mut a = envelope::with_body(
        StatusCode::OK,
        "text/html; charset=utf-8",
        STUB_HTML.as_bytes().to_vec(),
    );
    for (name, value) in &headers.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            a.headers_mut().insert(n, v);
        }
    }
    a
}
