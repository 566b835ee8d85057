//! Answers on the wire: Vault's JSON envelope for a [`arca_sdk::Response`], raw responses,
//! `204 No Content`, and `{"errors": [...]}` bodies, all with Vault's common headers.

use std::collections::HashMap;

use arca_sdk::Response;
pub(crate) use arca_sdk::envelope::envelope_json;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{Response as HttpResponse, StatusCode};

/// The HTTP answer type of this crate.
pub(crate) type Answer = HttpResponse<Full<Bytes>>;

/// `{"errors": messages}` with `status`.
pub(crate) fn errors(status: StatusCode, messages: &[String]) -> Answer {
    let body = serde_json::json!({ "errors": messages });
    json_answer(status, body.to_string().into_bytes())
}

/// `{"errors": [message]}` with `status`.
pub(crate) fn error(status: StatusCode, message: &str) -> Answer {
    errors(status, &[message.to_string()])
}

/// `{"errors": [message]}` without the common headers: what Vault answers from the handlers
/// outside its generic wrapper (the `X-Forwarded-For` checks).
pub(crate) fn bare_error(status: StatusCode, message: &str) -> Answer {
    let body = serde_json::json!({ "errors": [message] });
    let mut a = HttpResponse::new(Full::new(Bytes::from(body.to_string().into_bytes())));
    *a.status_mut() = status;
    a.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    a
}

/// An empty answer with the common headers (`Cache-Control`, HSTS) and no content type.
pub(crate) fn empty(status: StatusCode) -> Answer {
    with_common_headers(status, Vec::new())
}

/// An answer with `body` of `content_type` and the common headers.
pub(crate) fn with_body(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Answer {
    let mut a = with_common_headers(status, body);
    a.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    a
}

/// The answer to any request for `/`: 307 to the UI, as OpenBao's (Go's `http.Redirect`: an
/// HTML body for GET and HEAD only).
pub(crate) fn redirect_to_ui(method: &hyper::Method) -> Answer {
    let html = matches!(*method, hyper::Method::GET | hyper::Method::HEAD);
    let body = if html {
        b"<a href=\"/ui/\">Temporary Redirect</a>.\n\n".to_vec()
    } else {
        Vec::new()
    };
    let mut a = with_common_headers(StatusCode::TEMPORARY_REDIRECT, body);
    a.headers_mut()
        .insert(hyper::header::LOCATION, HeaderValue::from_static("/ui/"));
    if html {
        a.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
    }
    a
}

/// Vault's one rule for every LIST answer (`RespondErrorCommon`): no response, no data, or no
/// keys is 404 `{"errors":[]}`, like a GET of nothing; keys that are not strings are a 500.
/// `None` lets the answer through as it is (it has keys, other data, warnings, is wrapped or
/// raw).
pub(crate) fn empty_list_status(resp: Option<&Response>) -> Option<StatusCode> {
    let Some(resp) = resp else {
        return Some(StatusCode::NOT_FOUND);
    };
    if resp.wrap_info.is_some() || resp.raw.is_some() {
        return None;
    }
    let data = resp.data.as_ref().filter(|d| !d.is_empty());
    let Some(data) = data else {
        return resp.warnings.is_empty().then_some(StatusCode::NOT_FOUND);
    };
    match data.get("keys") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Array(keys)) if keys.iter().all(|k| k.is_string()) => {
            keys.is_empty().then_some(StatusCode::NOT_FOUND)
        }
        Some(_) => Some(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// The answer for a handler's error.
pub(crate) fn logical_error(err: &arca_sdk::LogicalError) -> Answer {
    errors(status_code(err.status()), &err.wire_messages())
}

/// `204 No Content` with the common headers.
pub(crate) fn no_content() -> Answer {
    json_answer(StatusCode::NO_CONTENT, Vec::new())
}

/// The answer for a handler's response: raw, or the JSON envelope.
pub(crate) fn response(request_id: &str, resp: &Response) -> Answer {
    let mut answer = match &resp.raw {
        Some(raw) => {
            let mut a = with_common_headers(status_code(raw.status), raw.body.clone());
            if !raw.content_type.is_empty()
                && let Ok(ct) = HeaderValue::from_str(&raw.content_type)
            {
                a.headers_mut().insert(CONTENT_TYPE, ct);
            }
            if let Some(stream) = &raw.stream {
                crate::streaming::attach(&mut a, stream.clone());
            }
            // A raw response may say how long it can be cached (OpenBao's
            // `HTTPCacheControlHeader`: the OIDC discovery document and key set).
            if let Some(cc) = resp
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("cache-control"))
                .and_then(|(_, v)| v.first())
                .and_then(|v| HeaderValue::from_str(v).ok())
            {
                a.headers_mut().insert(CACHE_CONTROL, cc);
            }
            a
        }
        None => {
            let status = status_code(resp.status.unwrap_or(200));
            json_answer(status, envelope_json(request_id, resp))
        }
    };
    add_headers(&mut answer, &resp.headers, resp.raw.is_some());
    answer
}

fn status_code(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn json_answer(status: StatusCode, body: Vec<u8>) -> Answer {
    let mut a = with_common_headers(status, body);
    a.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    a
}

fn with_common_headers(status: StatusCode, body: Vec<u8>) -> Answer {
    let mut a = HttpResponse::new(Full::new(Bytes::from(body)));
    *a.status_mut() = status;
    let h = a.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // OpenBao sends this on every answer by default.
    h.insert(
        hyper::header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
    a
}

/// Adds the headers the backend answered with (the core has already kept only those the mount
/// allows). A header the server set itself (`Cache-Control`, `Content-Type`,
/// `Strict-Transport-Security`, and any listener header) is never replaced nor doubled.
fn add_headers(answer: &mut Answer, extra: &HashMap<String, Vec<String>>, raw: bool) {
    // Most answers carry none: nothing to list the server's own headers for.
    if extra.is_empty() {
        return;
    }
    let server_set: Vec<HeaderName> = answer.headers().keys().cloned().collect();
    for (name, values) in extra {
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            tracing::warn!(header = %name, "dropping a response header with an invalid name");
            continue;
        };
        if raw && name == CACHE_CONTROL {
            // Already set from the raw response's own value.
            continue;
        }
        if server_set.contains(&name) {
            tracing::warn!(header = %name, "a backend may not replace a server response header");
            continue;
        }
        for value in values {
            match HeaderValue::from_str(value) {
                Ok(v) => {
                    answer.headers_mut().append(name.clone(), v);
                }
                Err(_) => {
                    tracing::warn!(header = %name, "dropping an invalid response header value");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arca_sdk::envelope::ENVELOPE_KEYS;
    use arca_sdk::{Auth, ResponseWrapInfo};
    use arca_sdk::{LeaseOptions, Secret};
    use serde_json::{Value, json};
    use std::time::Duration;

    fn keys(bytes: &[u8]) -> Vec<String> {
        // Key order as written: walk the top-level object with a streaming deserializer
        // into a Vec of pairs.
        let v: serde_json::Map<String, Value> = serde_json::from_slice(bytes).unwrap();
        let mut found: Vec<(usize, String)> = v
            .keys()
            .map(|k| {
                let needle = format!("\"{k}\":");
                let pos = std::str::from_utf8(bytes).unwrap().find(&needle).unwrap();
                (pos, k.clone())
            })
            .collect();
        found.sort();
        found.into_iter().map(|(_, k)| k).collect()
    }

    #[test]
    fn backend_headers_never_replace_the_servers_but_raw_caching() {
        let mut resp = Response::with_data(json!({"a": 1}).as_object().unwrap().clone());
        for (name, value) in [
            ("Cache-Control", "public, max-age=99999"),
            ("content-type", "text/html"),
            ("Strict-Transport-Security", "max-age=0"),
            ("X-Backend", "yes"),
        ] {
            resp.headers
                .insert(name.to_string(), vec![value.to_string()]);
        }
        let answer = response("rid", &resp);
        let h = answer.headers();
        assert_eq!(h.get_all(CACHE_CONTROL).iter().count(), 1);
        assert_eq!(h[CACHE_CONTROL], "no-store");
        assert_eq!(h[CONTENT_TYPE], "application/json");
        assert_eq!(
            h[hyper::header::STRICT_TRANSPORT_SECURITY],
            "max-age=31536000; includeSubDomains"
        );
        assert_eq!(h["x-backend"], "yes");

        // A raw answer's content type is the backend's own field, not a header it adds.
        resp.raw = Some(arca_sdk::RawHttp {
            status: 200,
            content_type: "application/pkix-cert".into(),
            body: vec![1],
            stream: None,
        });
        let answer = response("rid", &resp);
        assert_eq!(answer.headers()[CONTENT_TYPE], "application/pkix-cert");
        // ...while its Cache-Control is its own to say (OpenBao's `HTTPCacheControlHeader`,
        // the OIDC discovery document's `max-age=3600`), once.
        assert_eq!(answer.headers().get_all(CACHE_CONTROL).iter().count(), 1);
        assert_eq!(answer.headers()[CACHE_CONTROL], "public, max-age=99999");
        resp.headers.clear();
        let answer = response("rid", &resp);
        assert_eq!(answer.headers()[CACHE_CONTROL], "no-store");
    }

    #[test]
    fn empty_lists_are_not_found() {
        let list = |v: Value| Response::with_data(v.as_object().unwrap().clone());
        assert_eq!(empty_list_status(None), Some(StatusCode::NOT_FOUND));
        assert_eq!(
            empty_list_status(Some(&Response::default())),
            Some(StatusCode::NOT_FOUND)
        );
        assert_eq!(
            empty_list_status(Some(&list(json!({"keys": []})))),
            Some(StatusCode::NOT_FOUND)
        );
        assert_eq!(empty_list_status(Some(&list(json!({"keys": ["a"]})))), None);
        assert_eq!(
            empty_list_status(Some(&list(json!({"keys": [1]})))),
            Some(StatusCode::INTERNAL_SERVER_ERROR)
        );
        assert_eq!(
            empty_list_status(Some(&list(json!({"keys": "a"})))),
            Some(StatusCode::INTERNAL_SERVER_ERROR)
        );
        // Other data, or only warnings, pass as they are.
        assert_eq!(empty_list_status(Some(&list(json!({"x": 1})))), None);
        let warned = Response {
            warnings: vec!["w".into()],
            ..Response::default()
        };
        assert_eq!(empty_list_status(Some(&warned)), None);
    }

    #[test]
    fn root_redirects_to_the_ui() {
        let a = redirect_to_ui(&hyper::Method::GET);
        assert_eq!(a.status(), StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(a.headers()[hyper::header::LOCATION], "/ui/");
        assert_eq!(a.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        let a = redirect_to_ui(&hyper::Method::POST);
        assert_eq!(a.headers()[hyper::header::LOCATION], "/ui/");
        assert!(a.headers().get(CONTENT_TYPE).is_none());
    }

    #[test]
    fn envelope_keys_in_vault_order() {
        let resp = Response::with_data(json!({"a": 1}).as_object().unwrap().clone());
        let bytes = envelope_json("rid", &resp);
        assert_eq!(keys(&bytes), ENVELOPE_KEYS);
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            v,
            json!({"request_id":"rid","lease_id":"","renewable":false,"lease_duration":0,
                   "data":{"a":1},"wrap_info":null,"warnings":null,"auth":null,"mount_type":""})
        );
    }

    #[test]
    fn secret_auth_and_warnings() {
        let resp = Response {
            secret: Some(Secret {
                lease: LeaseOptions {
                    ttl: Duration::from_secs(60),
                    renewable: true,
                    ..LeaseOptions::default()
                },
                lease_id: "kv/creds/abc".into(),
                ..Secret::default()
            }),
            auth: Some(Auth {
                client_token: "hvs.x".to_string().into(),
                accessor: "acc".into(),
                policies: vec!["default".into()],
                token_policies: vec!["default".into()],
                metadata: [("username".to_string(), "bob".to_string())].into(),
                lease: LeaseOptions {
                    ttl: Duration::from_secs(2764800),
                    renewable: true,
                    ..LeaseOptions::default()
                },
                token_type: "service".into(),
                orphan: true,
                ..Auth::default()
            }),
            warnings: vec!["w".into()],
            mount_type: "kv".into(),
            ..Response::default()
        };
        let bytes = envelope_json("rid", &resp);
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["lease_id"], "kv/creds/abc");
        assert_eq!(v["renewable"], true);
        assert_eq!(v["lease_duration"], 60);
        assert_eq!(v["warnings"], json!(["w"]));
        assert_eq!(v["mount_type"], "kv");
        assert_eq!(v["data"], Value::Null);
        // The shape of a `bao login` answer's `auth`.
        assert_eq!(
            v["auth"],
            json!({"client_token":"hvs.x","accessor":"acc","policies":["default"],
                   "token_policies":["default"],"metadata":{"username":"bob"},
                   "lease_duration":2764800,"renewable":true,"entity_id":"",
                   "token_type":"service","orphan":true,"mfa_requirement":null,"num_uses":0})
        );
        let auth_bytes = serde_json::to_vec(&v["auth"]).unwrap();
        assert!(!auth_bytes.is_empty());
    }

    #[test]
    fn wrapped_answers_hide_data() {
        let mut resp = Response::with_data(json!({"secret": "s"}).as_object().unwrap().clone());
        resp.wrap_info = Some(ResponseWrapInfo {
            token: "hvs.w".to_string().into(),
            accessor: "wa".into(),
            ttl: 300,
            creation_time: "2026-01-01T00:00:00Z".into(),
            creation_path: "secret/foo".into(),
            wrapped_accessor: String::new(),
        });
        let v: Value = serde_json::from_slice(&envelope_json("rid", &resp)).unwrap();
        assert_eq!(v["data"], Value::Null);
        assert_eq!(v["request_id"], "");
        assert_eq!(
            v["wrap_info"],
            json!({"token":"hvs.w","accessor":"wa","ttl":300,
                   "creation_time":"2026-01-01T00:00:00Z","creation_path":"secret/foo"})
        );
    }

    #[test]
    fn top_level_data_comes_first_and_loses_to_envelope_keys() {
        let mut resp = Response::with_data(
            json!({"type":"kv","data":"shadowed","accessor":"kv_1"})
                .as_object()
                .unwrap()
                .clone(),
        );
        resp.top_level_data = true;
        let bytes = envelope_json("rid", &resp);
        let mut want = vec!["accessor".to_string(), "type".to_string()];
        want.extend(ENVELOPE_KEYS.iter().map(|k| k.to_string()));
        assert_eq!(keys(&bytes), want);
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["type"], "kv");
        assert_eq!(v["data"]["data"], "shadowed");
    }
}
