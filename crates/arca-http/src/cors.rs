//! CORS (OpenBao's `wrapCORSHandler`): with `sys/config/cors` enabled, a request naming an
//! `Origin` must name an allowed one (else 403 `origin not allowed`); a preflight `OPTIONS` is
//! answered here; other answers get `Access-Control-Allow-Origin` and `Vary: Origin`.

use arca_sdk::http_settings::CorsConfig;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, StatusCode};

use crate::envelope::{self, Answer};

/// The methods a preflight allows, in OpenBao's order.
const ALLOWED_METHODS: &[&str] = &["DELETE", "GET", "OPTIONS", "POST", "PUT", "LIST", "SCAN"];

/// What CORS makes of a request.
pub(crate) enum Cors {
    /// Not a CORS request (disabled, or no `Origin`): nothing to add.
    None,
    /// Serve it, then add these to the answer.
    Allow {
        origin: HeaderValue,
        credentials: bool,
    },
    /// Answer this, without running the request. `custom` says whether the listener's custom
    /// headers apply (OpenBao's preflight answer bypasses them).
    Answer { answer: Answer, custom: bool },
}

/// Checks a request against the configuration.
pub(crate) fn check(config: Option<&CorsConfig>, method: &Method, headers: &HeaderMap) -> Cors {
    let Some(config) = config.filter(|c| c.is_enabled()) else {
        return Cors::None;
    };
    let Some(origin) = headers.get(hyper::header::ORIGIN).filter(|o| !o.is_empty()) else {
        return Cors::None;
    };
    let origin_text = String::from_utf8_lossy(origin.as_bytes());
    if !config.is_valid_origin(&origin_text) {
        return Cors::Answer {
            answer: envelope::error(StatusCode::FORBIDDEN, "origin not allowed"),
            custom: true,
        };
    }
    if method == Method::OPTIONS {
        let requested = headers
            .get(hyper::header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !ALLOWED_METHODS.contains(&requested) {
            return Cors::Answer {
                answer: envelope::empty(StatusCode::METHOD_NOT_ALLOWED),
                custom: true,
            };
        }
        let mut answer = hyper::Response::new(http_body_util::Full::new(bytes::Bytes::new()));
        let h = answer.headers_mut();
        h.insert(
            hyper::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
        allow(h, origin.clone(), config.allow_credentials);
        h.insert(
            hyper::header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("DELETE,GET,OPTIONS,POST,PUT,LIST,SCAN"),
        );
        if let Ok(v) = HeaderValue::from_str(&config.allowed_headers.join(",")) {
            h.insert(hyper::header::ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
        h.insert(
            hyper::header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("300"),
        );
        return Cors::Answer {
            answer,
            custom: false,
        };
    }
    Cors::Allow {
        origin: origin.clone(),
        credentials: config.allow_credentials,
    }
}

/// Adds the allow headers to an answer.
pub(crate) fn allow(h: &mut HeaderMap, origin: HeaderValue, credentials: bool) {
    h.insert(hyper::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(hyper::header::VARY, HeaderValue::from_static("Origin"));
    if credentials {
        h.insert(
            hyper::header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> CorsConfig {
        CorsConfig {
            enabled: 1,
            allowed_origins: vec!["http://a.example".into()],
            allowed_headers: vec!["Content-Type".into(), "X-Custom".into()],
            allow_credentials: false,
        }
    }

    fn headers(origin: &str, method: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(hyper::header::ORIGIN, origin.parse().unwrap());
        if let Some(m) = method {
            h.insert(
                hyper::header::ACCESS_CONTROL_REQUEST_METHOD,
                m.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn preflight_is_answered_with_openbao_headers() {
        let c = config();
        let Cors::Answer { answer, custom } = check(
            Some(&c),
            &Method::OPTIONS,
            &headers("http://a.example", Some("GET")),
        ) else {
            panic!("expected an answer");
        };
        assert!(!custom);
        assert_eq!(answer.status(), StatusCode::OK);
        let h = answer.headers();
        assert_eq!(h["access-control-allow-origin"], "http://a.example");
        assert_eq!(
            h["access-control-allow-methods"],
            "DELETE,GET,OPTIONS,POST,PUT,LIST,SCAN"
        );
        assert_eq!(h["access-control-allow-headers"], "Content-Type,X-Custom");
        assert_eq!(h["access-control-max-age"], "300");
        assert_eq!(h["vary"], "Origin");
    }

    #[test]
    fn other_origins_and_methods_are_refused() {
        let c = config();
        let Cors::Answer { answer, .. } =
            check(Some(&c), &Method::GET, &headers("http://b.example", None))
        else {
            panic!("expected an answer");
        };
        assert_eq!(answer.status(), StatusCode::FORBIDDEN);
        let Cors::Answer { answer, .. } = check(
            Some(&c),
            &Method::OPTIONS,
            &headers("http://a.example", Some("PATCH")),
        ) else {
            panic!("expected an answer");
        };
        assert_eq!(answer.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert!(matches!(
            check(Some(&c), &Method::GET, &headers("http://a.example", None)),
            Cors::Allow { .. }
        ));
    }
}
