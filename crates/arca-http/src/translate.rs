//! HTTP request headers and connection → the fields of an [`arca_sdk::Request`]: the client
//! token, the header map, response-wrapping wishes, the API-client flag and the connection.

use std::collections::HashMap;
use std::time::Duration;

use arca_sdk::RequestWrapInfo;
use arca_sdk::duration::parse_duration_second;
use hyper::HeaderMap;
use hyper::header::{AUTHORIZATION, HeaderValue};
use zeroize::Zeroizing;

use crate::header_names::{X_VAULT_REQUEST, X_VAULT_TOKEN, X_VAULT_WRAP_FORMAT, X_VAULT_WRAP_TTL};

/// What the headers say, split from the map so the token never sits in a plain `String`.
pub(crate) struct HeaderParts {
    /// The client token from `X-Vault-Token` or `Authorization: Bearer`.
    pub(crate) client_token: Option<Zeroizing<String>>,
    /// Every other header, names lower-case.
    pub(crate) headers: HashMap<String, Vec<String>>,
    /// `X-Vault-Wrap-TTL` / `X-Vault-Wrap-Format`.
    pub(crate) wrap_info: Option<RequestWrapInfo>,
    /// `X-Vault-Request` was sent.
    pub(crate) from_api_client: bool,
    /// The client token came in `Authorization: Bearer`.
    pub(crate) token_from_authorization: bool,
}

/// Reads the headers. Fails (with the text for `errors`) only on a bad `X-Vault-Wrap-TTL`.
pub(crate) fn header_parts(map: &HeaderMap) -> Result<HeaderParts, String> {
    // The headers asked for, each its first value (as `HeaderMap::get`), found in one pass
    // over the few a request has instead of a hashed lookup apiece.
    let mut vault_token = None;
    let mut authorization = None;
    let mut wrap_ttl = None;
    let mut wrap_format = None;
    let mut vault_request = None;
    for (name, value) in map {
        let slot = if *name == X_VAULT_TOKEN {
            &mut vault_token
        } else if *name == AUTHORIZATION {
            &mut authorization
        } else if *name == X_VAULT_WRAP_TTL {
            &mut wrap_ttl
        } else if *name == X_VAULT_WRAP_FORMAT {
            &mut wrap_format
        } else if *name == X_VAULT_REQUEST {
            &mut vault_request
        } else {
            continue;
        };
        slot.get_or_insert(value);
    }
    let mut token_from_authorization = false;
    let client_token = match text(vault_token) {
        Some(t) => Some(Zeroizing::new(t.to_string())),
        None => text(authorization).and_then(bearer_token).map(|t| {
            token_from_authorization = true;
            Zeroizing::new(t.to_string())
        }),
    };
    let mut headers: HashMap<String, Vec<String>> = HashMap::with_capacity(map.keys_len());
    for (name, value) in map {
        // Tokens are kept out of the plain map: they live in `client_token` only.
        if *name == X_VAULT_TOKEN || (*name == AUTHORIZATION && token_from_authorization) {
            continue;
        }
        headers
            .entry(name.as_str().to_string())
            .or_insert_with(|| Vec::with_capacity(1))
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    let wrap_info = match text(wrap_ttl) {
        None => None,
        Some(raw) => {
            let ttl = parse_wrap_ttl(raw)
                .map_err(|e| format!("error parsing X-Vault-Wrap-TTL header: {e}"))?;
            (!ttl.is_zero()).then(|| RequestWrapInfo {
                ttl,
                format: match text(wrap_format) {
                    Some("jwt") => "jwt".to_string(),
                    _ => String::new(),
                },
            })
        }
    };
    Ok(HeaderParts {
        token_from_authorization,
        client_token,
        headers,
        wrap_info,
        from_api_client: text(vault_request).is_some(),
    })
}

/// A header's value as text, trimmed; `None` when absent, empty or not visible ASCII.
fn text(value: Option<&HeaderValue>) -> Option<&str> {
    value
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Seconds or a Go duration, with the texts Go's parser gives for bad input.
fn parse_wrap_ttl(raw: &str) -> Result<Duration, String> {
    let nanos = parse_duration_second(raw).map_err(|e| e.to_string())?;
    u64::try_from(nanos)
        .map(Duration::from_nanos)
        .map_err(|_| "requested wrap ttl cannot be negative".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn token_from_either_header() {
        let p = header_parts(&headers(&[("x-vault-token", "s.a"), ("x-other", "1")])).unwrap();
        assert_eq!(p.client_token.as_deref().map(String::as_str), Some("s.a"));
        assert!(!p.headers.contains_key("x-vault-token"));
        assert_eq!(p.headers["x-other"], vec!["1"]);

        let p = header_parts(&headers(&[("authorization", "Bearer s.b")])).unwrap();
        assert_eq!(p.client_token.as_deref().map(String::as_str), Some("s.b"));
        assert!(!p.headers.contains_key("authorization"));

        // X-Vault-Token wins; Authorization is then left to whoever needs it.
        let p = header_parts(&headers(&[
            ("authorization", "Bearer s.b"),
            ("x-vault-token", "s.a"),
        ]))
        .unwrap();
        assert_eq!(p.client_token.as_deref().map(String::as_str), Some("s.a"));
        assert_eq!(p.headers["authorization"], vec!["Bearer s.b"]);

        let p = header_parts(&headers(&[("authorization", "Basic abc")])).unwrap();
        assert!(p.client_token.is_none());
    }

    #[test]
    fn wrap_ttl() {
        let p = header_parts(&headers(&[("x-vault-wrap-ttl", "5m")])).unwrap();
        assert_eq!(
            p.wrap_info,
            Some(RequestWrapInfo {
                ttl: Duration::from_secs(300),
                format: String::new()
            })
        );
        let p = header_parts(&headers(&[
            ("x-vault-wrap-ttl", "60"),
            ("x-vault-wrap-format", "jwt"),
        ]))
        .unwrap();
        assert_eq!(p.wrap_info.unwrap().format, "jwt");
        assert!(
            header_parts(&headers(&[("x-vault-wrap-ttl", "0")]))
                .unwrap()
                .wrap_info
                .is_none()
        );
        for (bad, text) in [
            (
                "abc",
                "error parsing X-Vault-Wrap-TTL header: time: invalid duration \"abc\"",
            ),
            (
                "1.5",
                "error parsing X-Vault-Wrap-TTL header: time: missing unit in duration \"1.5\"",
            ),
            (
                "-5",
                "error parsing X-Vault-Wrap-TTL header: requested wrap ttl cannot be negative",
            ),
        ] {
            let err = header_parts(&headers(&[("x-vault-wrap-ttl", bad)]))
                .err()
                .unwrap();
            assert_eq!(err, text);
        }
    }

    #[test]
    fn api_client_flag() {
        assert!(
            header_parts(&headers(&[("x-vault-request", "true")]))
                .unwrap()
                .from_api_client
        );
        assert!(!header_parts(&headers(&[])).unwrap().from_api_client);
    }
}
