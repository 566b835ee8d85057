//! Request bodies: read under the size limit, then decoded into the request's data map from
//! JSON (after the shape pre-scan) or from a form.

use arca_sdk::JsonMap;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::Value;

use crate::json_limits::{self, JsonLimits};

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// Larger than `max_request_size`.
    TooLarge,
    /// The connection failed while reading.
    Io,
}

/// Reads the whole body, refusing it as soon as it grows past `limit`.
pub(crate) async fn read_limited(
    body: Incoming,
    limit: Option<usize>,
    content_length: Option<u64>,
) -> Result<Bytes, ReadError> {
    let Some(limit) = limit else {
        return body
            .collect()
            .await
            .map(|c| c.to_bytes())
            .map_err(|_| ReadError::Io);
    };
    if content_length.is_some_and(|n| n > limit as u64) {
        return Err(ReadError::TooLarge);
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ReadError::TooLarge),
        Err(_) => Err(ReadError::Io),
    }
}

/// Decodes a JSON body into a map: empty or `null` → empty map, any other non-object refused.
/// The error text is what goes into `errors`.
pub(crate) fn decode_json(bytes: &[u8], limits: &JsonLimits) -> Result<JsonMap, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(JsonMap::new());
    }
    json_limits::check(bytes, limits).map_err(|e| e.to_string())?;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    // The pre-scan has bounded the depth, so the parser's own recursion limit is not needed
    // (and would refuse bodies Vault accepts).
    de.disable_recursion_limit();
    let value = Value::deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| format!("failed to decode JSON input: {e}"))?;
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(JsonMap::new()),
        other => Err(format!(
            "failed to decode JSON input: json: cannot unmarshal {} into Go value of type \
             map[string]interface {{}}",
            go_kind(&other)
        )),
    }
}

fn go_kind(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Null | Value::Object(_) => "object",
    }
}

/// Decodes a form body (`a=1&b=2`) under the same bounds as a JSON object: at most
/// `max_object_entries` pairs and keys and values no longer than `max_string_length` (both
/// after percent-decoding). Repeated keys are joined with `,` as Vault does. The error text is
/// what goes into `errors`.
pub(crate) fn decode_form(bytes: &[u8], limits: &JsonLimits) -> Result<JsonMap, String> {
    let refuse = |e: FormLimitError| format!("error parsing form data: {e}");
    let too_long = |s: &str| limits.max_string_length != 0 && s.len() > limits.max_string_length;
    let mut map = JsonMap::new();
    for (count, (k, v)) in form_urlencoded::parse(bytes).enumerate() {
        if limits.max_object_entries != 0 && count >= limits.max_object_entries {
            return Err(refuse(FormLimitError::Entries));
        }
        if too_long(&k) || too_long(&v) {
            return Err(refuse(FormLimitError::Length));
        }
        match map.get_mut(k.as_ref()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&v);
            }
            _ => {
                map.insert(k.into_owned(), Value::String(v.into_owned()));
            }
        }
    }
    Ok(map)
}

/// The bound a form body broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
enum FormLimitError {
    /// More pairs than a JSON object may have entries.
    #[error("form exceeds allowed entry count")]
    Entries,
    /// A key or value longer than a JSON string may be.
    #[error("form value exceeds allowed length")]
    Length,
}

/// Turns query pairs into request data: one value → a string, repeated → an array of strings.
/// `list` and `help` are Vault's own parameters and are left out.
pub(crate) fn query_data(pairs: &[(String, String)]) -> JsonMap {
    let mut map = JsonMap::new();
    for (k, v) in pairs {
        if k == "list" || k == "help" {
            continue;
        }
        match map.get_mut(k) {
            Some(Value::Array(values)) => values.push(Value::String(v.clone())),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(v.clone())]);
            }
            None => {
                map.insert(k.clone(), Value::String(v.clone()));
            }
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LIMITS: JsonLimits = JsonLimits {
        max_depth: 500,
        max_string_length: 1 << 20,
        max_object_entries: 10_000,
        max_array_elements: 10_000,
    };

    #[test]
    fn json_bodies() {
        assert_eq!(decode_json(b"", &LIMITS), Ok(JsonMap::new()));
        assert_eq!(decode_json(b" \n", &LIMITS), Ok(JsonMap::new()));
        assert_eq!(decode_json(b"null", &LIMITS), Ok(JsonMap::new()));
        let m = decode_json(br#"{"a":1,"b":{"c":[true]}}"#, &LIMITS).unwrap();
        assert_eq!(Value::Object(m), json!({"a":1,"b":{"c":[true]}}));
        assert_eq!(
            decode_json(b"[1,2]", &LIMITS).unwrap_err(),
            "failed to decode JSON input: json: cannot unmarshal array into Go value of type \
             map[string]interface {}"
        );
        assert!(
            decode_json(br#"{"a":"#, &LIMITS)
                .unwrap_err()
                .starts_with("failed to decode JSON input: ")
        );
        assert!(decode_json(br#"{"a":1} x"#, &LIMITS).is_err());
    }

    #[test]
    fn deep_json_within_the_limit_parses() {
        // Deeper than serde_json's default recursion limit (128), within Vault's (500).
        let body = format!("{{\"a\":{}{}}}", "[".repeat(499), "]".repeat(499));
        assert!(decode_json(body.as_bytes(), &LIMITS).is_ok());
        let too_deep = format!("{{\"a\":{}{}}}", "[".repeat(500), "]".repeat(500));
        assert_eq!(
            decode_json(too_deep.as_bytes(), &LIMITS).unwrap_err(),
            "JSON input exceeds allowed nesting depth"
        );
    }

    #[test]
    fn hard_depth_cap_fits_a_worker_stack() {
        // tokio's worker threads have 2 MiB stacks; the deepest body the server ever lets
        // through (the hard cap on `max_json_depth`) must parse and drop within one.
        let depth = crate::server::HARD_MAX_JSON_DEPTH;
        let limits = JsonLimits {
            max_depth: depth,
            ..LIMITS
        };
        let body = format!(
            "{{\"a\":{}{}}}",
            "[".repeat(depth - 1),
            "]".repeat(depth - 1)
        );
        let parsed = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || decode_json(body.as_bytes(), &limits).is_ok())
            .unwrap()
            .join()
            .unwrap();
        assert!(parsed);
    }

    #[test]
    fn form_bodies_join_repeats() {
        let m = decode_form(b"a=1&b=x+y&a=3&c=%2F", &LIMITS).unwrap();
        assert_eq!(Value::Object(m), json!({"a":"1,3","b":"x y","c":"/"}));
    }

    #[test]
    fn form_bodies_have_the_json_limits() {
        let small = JsonLimits {
            max_string_length: 5,
            max_object_entries: 3,
            ..LIMITS
        };
        // Every pair counts, repeated keys too (as Go counts form parameters).
        assert!(decode_form(b"a=1&b=2&a=3", &small).is_ok());
        assert_eq!(
            decode_form(b"a=1&b=2&a=3&c=4", &small).unwrap_err(),
            "error parsing form data: form exceeds allowed entry count"
        );
        assert!(decode_form(b"a=12345", &small).is_ok());
        for long in [&b"a=123456"[..], b"abcdef=1", b"a=%31%32%33%34%35%36"] {
            assert_eq!(
                decode_form(long, &small).unwrap_err(),
                "error parsing form data: form value exceeds allowed length"
            );
        }
        // A huge number of pairs is refused without building them all.
        let many = "a=1&".repeat(100_000);
        assert!(decode_form(many.as_bytes(), &LIMITS).is_err());
    }

    #[test]
    fn query_data_skips_vault_parameters() {
        let pairs: Vec<(String, String)> = [
            ("a", "1"),
            ("list", "true"),
            ("help", "1"),
            ("b", "2"),
            ("b", "3"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            Value::Object(query_data(&pairs)),
            json!({"a":"1","b":["2","3"]})
        );
    }
}
