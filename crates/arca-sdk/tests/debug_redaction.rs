//! `{:?}` of every SDK type that carries a token or secret data prints `<redacted>` in its
//! place: the secret string never appears, what is not secret still does.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use arca_sdk::{Auth, JsonMap, Operation, RawHttp, Request, Response, ResponseWrapInfo, Secret};
use serde_json::json;
use zeroize::Zeroizing;

const SECRET: &str = "hunter2-s3cret-value";

fn secret_map() -> JsonMap {
    json!({"password": SECRET, "nested": {"api_key": SECRET}})
        .as_object()
        .unwrap()
        .clone()
}

/// Formats `value` both ways and checks the secret is absent and `shown` is present.
fn assert_redacted(value: &impl std::fmt::Debug, shown: &str) {
    for text in [format!("{value:?}"), format!("{value:#?}")] {
        assert!(!text.contains(SECRET), "secret printed: {text}");
        assert!(text.contains("<redacted>"), "no <redacted> marker: {text}");
        assert!(text.contains(shown), "{shown} missing: {text}");
    }
}

fn auth() -> Auth {
    Auth {
        client_token: SECRET.to_string().into(),
        internal_data: secret_map(),
        accessor: "acc-123".into(),
        ..Auth::default()
    }
}

fn secret() -> Secret {
    Secret {
        internal_data: secret_map(),
        lease_id: "kv/lease/1".into(),
        ..Secret::default()
    }
}

fn wrap_info() -> ResponseWrapInfo {
    ResponseWrapInfo {
        token: SECRET.to_string().into(),
        accessor: "wrap-acc".into(),
        ..ResponseWrapInfo::default()
    }
}

#[test]
fn auth_redacts_the_token_and_internal_data() {
    assert_redacted(&auth(), "acc-123");
}

#[test]
fn secret_redacts_internal_data() {
    assert_redacted(&secret(), "kv/lease/1");
}

#[test]
fn wrap_info_redacts_the_token() {
    assert_redacted(&wrap_info(), "wrap-acc");
}

#[test]
fn response_redacts_data_headers_and_what_it_carries() {
    let mut headers = HashMap::new();
    headers.insert("X-Token".to_string(), vec![SECRET.to_string()]);
    let r = Response {
        data: Some(secret_map()),
        secret: Some(secret()),
        auth: Some(auth()),
        wrap_info: Some(wrap_info()),
        headers,
        raw: Some(RawHttp {
            status: 200,
            content_type: "text/plain".into(),
            body: SECRET.as_bytes().to_vec(),
            stream: None,
        }),
        ..Response::default()
    };
    assert_redacted(&r, "password");
}

#[test]
fn request_redacts_token_data_and_headers() {
    let mut req = Request::new(Operation::Update, "secret/data/app");
    req.client_token = Some(Zeroizing::new(SECRET.into()));
    req.data = secret_map();
    req.headers
        .insert("x-vault-token".into(), vec![SECRET.to_string()]);
    req.auth = Some(auth());
    req.secret = Some(secret());
    assert_redacted(&req, "secret/data/app");
}
