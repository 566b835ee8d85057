//! The HTTP ⇄ Request/Response translation, end to end over real sockets.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use arca_sdk::Operation;
use common::{Server, raw_request, start};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn json_of(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let body = resp.bytes().await.unwrap();
    (status, serde_json::from_slice(&body).unwrap())
}

async fn send(server: &Server, method: &str, path: &str) -> reqwest::Response {
    client()
        .request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            server.url(path),
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn methods_map_to_operations() {
    let s = start(|_| {}).await;
    let cases = [
        ("GET", Operation::Read, "secret/foo"),
        ("LIST", Operation::List, "secret/foo/"),
        ("POST", Operation::Update, "secret/foo"),
        ("PUT", Operation::Update, "secret/foo"),
        ("DELETE", Operation::Delete, "secret/foo"),
        ("HEAD", Operation::Read, "secret/foo"),
    ];
    for (method, op, path) in cases {
        let resp = send(&s, method, "/v1/secret/foo").await;
        assert_eq!(resp.status(), 200, "{method}");
        let req = s.last();
        assert_eq!(req.operation, op, "{method}");
        assert_eq!(req.path, path, "{method}");
    }
    let resp = client()
        .patch(s.url("/v1/secret/foo"))
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"a":"b"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(s.last().operation, Operation::Patch);
    assert_eq!(s.last().data["a"], "b");

    // Methods Vault does not serve: 405 with OpenBao's empty error list.
    let before = s.calls();
    for method in ["OPTIONS", "FOO"] {
        let (status, body) = json_of(send(&s, method, "/v1/secret/foo").await).await;
        assert_eq!(status, 405, "{method}");
        assert_eq!(body, json!({"errors": []}));
    }
    assert_eq!(s.calls(), before);
}

#[tokio::test]
async fn list_and_help_queries() {
    let s = start(|_| {}).await;
    let (status, body) =
        json_of(send(&s, "GET", "/v1/secret/metadata?list=true&after=a&limit=2").await).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["operation"], "list");
    // Vault appends the slash for list requests.
    assert_eq!(body["data"]["path"], "secret/metadata/");
    // `list` is Vault's own parameter; pagination parameters stay in the data.
    assert_eq!(body["data"]["data"], json!({"after": "a", "limit": "2"}));

    send(&s, "GET", "/v1/secret/?list=1").await;
    assert_eq!(s.last().operation, Operation::List);
    assert_eq!(s.last().path, "secret/");
    send(&s, "GET", "/v1/secret/x?list=false").await;
    assert_eq!(s.last().operation, Operation::Read);

    let (status, _) = json_of(send(&s, "GET", "/v1/secret/x?list=yes").await).await;
    assert_eq!(status, 400);

    send(&s, "GET", "/v1/sys/mounts?help=1").await;
    assert_eq!(s.last().operation, Operation::Help);
    assert!(s.last().data.is_empty());
    let resp = client()
        .post(s.url("/v1/secret/x?help=1"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(s.last().operation, Operation::Help);
}

#[tokio::test]
async fn query_parameters_become_data() {
    let s = start(|_| {}).await;
    for method in ["GET", "DELETE", "LIST", "HEAD"] {
        send(&s, method, "/v1/kv/x?a=1&b=two%20words&c=1&c=2&help=").await;
        let data = Value::Object(s.last().data);
        assert_eq!(
            data,
            json!({"a": "1", "b": "two words", "c": ["1", "2"]}),
            "{method}"
        );
    }
    // POST ignores the query: its data is the body.
    client()
        .post(s.url("/v1/kv/x?a=1"))
        .body(r#"{"b":2}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(Value::Object(s.last().data), json!({"b": 2}));
}

#[tokio::test]
async fn json_and_form_bodies() {
    let s = start(|_| {}).await;
    let post = |body: &'static str, ctype: Option<&'static str>| {
        let mut rb = client().post(s.url("/v1/kv/x")).body(body);
        if let Some(ct) = ctype {
            rb = rb.header("content-type", ct);
        }
        rb.send()
    };

    let resp = post(r#"{"a":1,"n":{"b":[true,null]}}"#, Some("application/json"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        Value::Object(s.last().data),
        json!({"a": 1, "n": {"b": [true, null]}})
    );

    // No content type at all: JSON.
    post(r#"{"a":"b"}"#, None).await.unwrap();
    assert_eq!(Value::Object(s.last().data), json!({"a": "b"}));

    // Empty body: empty data.
    let resp = post("", None).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(s.last().data.is_empty());

    // A form, repeated keys joined as Vault does.
    post(
        "a=1&b=x+y&a=3",
        Some("application/x-www-form-urlencoded; charset=utf-8"),
    )
    .await
    .unwrap();
    assert_eq!(
        Value::Object(s.last().data),
        json!({"a": "1,3", "b": "x y"})
    );

    // `curl -d '{...}'` labels JSON as a form; Vault reads it as JSON.
    post(r#"{"p":"w"}"#, Some("application/x-www-form-urlencoded"))
        .await
        .unwrap();
    assert_eq!(Value::Object(s.last().data), json!({"p": "w"}));

    let (status, body) = json_of(post("[1,2]", None).await.unwrap()).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"errors": ["failed to decode JSON input: json: cannot unmarshal array into Go value of type map[string]interface {}"]})
    );
    let (status, body) = json_of(post(r#"{"a":"#, None).await.unwrap()).await;
    assert_eq!(status, 400);
    assert!(
        body["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("failed to decode JSON input: ")
    );
}

#[tokio::test]
async fn patch_needs_a_json_content_type() {
    let s = start(|_| {}).await;
    for ct in [
        "application/merge-patch+json",
        "application/merge-patch+json; charset=utf-8",
        "Application/Merge-Patch+JSON",
    ] {
        let resp = client()
            .patch(s.url("/v1/kv/data/x"))
            .header("content-type", ct)
            .body(r#"{"data":{"a":"b"}}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{ct}");
        assert_eq!(s.last().data["data"], json!({"a": "b"}));
    }
    // OpenBao's answers: plain JSON (what `curl -X PATCH -H ...json` sends) is refused too, and
    // the backend never runs.
    let before = s.calls();
    for (ct, status, message) in [
        (
            Some("text/plain; charset=utf-8"),
            415,
            "PATCH requires Content-Type of application/merge-patch+json, provided text/plain",
        ),
        (
            Some("application/json"),
            415,
            "PATCH requires Content-Type of application/merge-patch+json, provided \
             application/json",
        ),
        (
            Some("application/x-www-form-urlencoded"),
            415,
            "PATCH requires Content-Type of application/merge-patch+json, provided \
             application/x-www-form-urlencoded",
        ),
        (None, 400, "mime: no media type"),
    ] {
        let mut req = client()
            .patch(s.url("/v1/kv/data/x"))
            .body(r#"{"data":{}}"#);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let (got, body) = json_of(req.send().await.unwrap()).await;
        assert_eq!(got, status, "{ct:?}");
        assert_eq!(body, json!({ "errors": [message] }), "{ct:?}");
    }
    assert_eq!(s.calls(), before);
}

#[tokio::test]
async fn form_bodies_have_the_json_limits() {
    let s = start(|o| {
        o.max_json_string_length = 8;
        o.max_json_object_entries = 3;
    })
    .await;
    let post = |body: &'static str| {
        client()
            .post(s.url("/v1/kv/x"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let resp = post("a=12345678&b=2&a=3").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(s.last().data["a"], "12345678,3");
    let before = s.calls();
    for (body, message) in [
        ("a=1&b=2&c=3&d=4", "form exceeds allowed entry count"),
        ("a=1&a=2&a=3&a=4", "form exceeds allowed entry count"),
        ("a=123456789", "form value exceeds allowed length"),
        ("abcdefghi=1", "form value exceeds allowed length"),
    ] {
        let (status, v) = json_of(post(body).await.unwrap()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            v,
            json!({ "errors": [format!("error parsing form data: {message}")] }),
            "{body}"
        );
    }
    assert_eq!(s.calls(), before);
}

#[tokio::test]
async fn the_namespace_header_reaches_the_core_canonical() {
    let s = start(|_| {}).await;
    let get = |path: &'static str, ns: &'static str| {
        client()
            .get(s.url(path))
            .header("X-Vault-Namespace", ns)
            .header("X-Vault-Token", "hvs.whatever")
            .send()
    };
    for (ns, want) in [
        ("root", ""),
        ("/", ""),
        ("root/", ""),
        ("/root", ""),
        ("team-a", "team-a/"),
        ("/team-a/", "team-a/"),
        ("ROOT", "ROOT/"),
        ("root/child", "root/child/"),
    ] {
        let resp = get("/v1/kv/x", ns).await.unwrap();
        assert_eq!(resp.status(), 200, "{ns}");
        // OpenBao names the namespace in the answer.
        assert_eq!(resp.headers()["x-vault-namespace"], ns);
        assert_eq!(s.last().namespace_path, want, "{ns}");
    }
    let resp = client().get(s.url("/v1/kv/x")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(s.last().namespace_path, "");
    let before = s.calls();
    let (status, v) = json_of(get("/v1/sys/health", "root").await.unwrap()).await;
    assert_eq!(status, 400);
    assert_eq!(
        v,
        json!({"errors": ["operation unavailable in namespaces"]})
    );
    assert_eq!(s.calls(), before);
}

#[tokio::test]
async fn the_root_path_redirects_to_the_ui() {
    let s = start(|_| {}).await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = no_redirects.get(s.url("/")).send().await.unwrap();
    assert_eq!(resp.status(), 307);
    assert_eq!(resp.headers()["location"], "/ui/");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(
        resp.text().await.unwrap(),
        "<a href=\"/ui/\">Temporary Redirect</a>.\n\n"
    );
    assert_eq!(s.calls(), 0);
}

#[tokio::test]
async fn an_empty_list_is_not_found() {
    let s = start(|_| {}).await;
    for path in ["/v1/emptylist/", "/v1/none/", "/v1/emptylist/?list=true"] {
        let method = if path.contains("list=true") {
            "GET"
        } else {
            "LIST"
        };
        let (status, v) = json_of(send(&s, method, path).await).await;
        assert_eq!(status, 404, "{method} {path}");
        assert_eq!(v, json!({"errors": []}), "{method} {path}");
    }
    // A read of the same answer is not a list: it passes as it is.
    let (status, v) = json_of(send(&s, "GET", "/v1/emptylist").await).await;
    assert_eq!(status, 200);
    assert_eq!(v["data"], json!({"keys": []}));
    // A list answer with data other than keys passes too.
    assert_eq!(send(&s, "LIST", "/v1/kv/").await.status(), 200);
}

#[tokio::test]
async fn tokens_headers_and_connection() {
    let s = start(|_| {}).await;
    client()
        .get(s.url("/v1/kv/x"))
        .header("X-Vault-Token", "hvs.token-one")
        .header("X-Custom-Thing", "v1")
        .send()
        .await
        .unwrap();
    let req = s.last();
    assert_eq!(req.token(), "hvs.token-one");
    assert_eq!(req.header("x-custom-thing"), Some("v1"));
    assert!(req.headers.contains_key("x-custom-thing"));
    assert!(!req.headers.contains_key("x-vault-token"));
    assert!(!req.from_api_client);
    assert!(req.wrap_info.is_none());
    let conn = req.connection.unwrap();
    assert_eq!(conn.remote_addr, "127.0.0.1");
    assert_ne!(conn.remote_port, 0);
    assert_ne!(conn.remote_port, s.handle.local_addr.port());
    assert!(conn.peer_certificates.is_empty());
    // A fresh UUID v4 per request.
    let id = req.id.clone();
    assert_eq!(id.len(), 36);
    assert_eq!(id.as_bytes()[14], b'4');
    client().get(s.url("/v1/kv/x")).send().await.unwrap();
    assert_ne!(s.last().id, id);
    assert!(s.last().client_token.is_none());

    client()
        .get(s.url("/v1/kv/x"))
        .header("Authorization", "Bearer hvs.token-two")
        .header("X-Vault-Request", "true")
        .send()
        .await
        .unwrap();
    let req = s.last();
    assert_eq!(req.token(), "hvs.token-two");
    assert!(!req.headers.contains_key("authorization"));
    assert!(req.from_api_client);
}

#[tokio::test]
async fn wrap_headers() {
    let s = start(|_| {}).await;
    client()
        .get(s.url("/v1/kv/x"))
        .header("X-Vault-Wrap-TTL", "5m")
        .header("X-Vault-Wrap-Format", "jwt")
        .send()
        .await
        .unwrap();
    let wrap = s.last().wrap_info.unwrap();
    assert_eq!(wrap.ttl, Duration::from_secs(300));
    assert_eq!(wrap.format, "jwt");

    client()
        .get(s.url("/v1/kv/x"))
        .header("X-Vault-Wrap-TTL", "90")
        .send()
        .await
        .unwrap();
    let wrap = s.last().wrap_info.unwrap();
    assert_eq!(wrap.ttl, Duration::from_secs(90));
    assert_eq!(wrap.format, "");

    let before = s.calls();
    let (status, body) = json_of(
        client()
            .get(s.url("/v1/kv/x"))
            .header("X-Vault-Wrap-TTL", "abc")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"errors": ["error parsing X-Vault-Wrap-TTL header: time: invalid duration \"abc\""]})
    );
    assert_eq!(s.calls(), before);
}

#[tokio::test]
async fn envelope_shape_and_headers() {
    let s = start(|_| {}).await;
    let resp = client()
        .post(s.url("/v1/kv/x"))
        .body(r#"{"k":"v"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["content-type"], "application/json");
    let text = resp.text().await.unwrap();
    let request_id = s.last().id;
    // The exact bytes: keys in Vault's order, mount_type last.
    assert_eq!(
        text,
        format!(
            r#"{{"request_id":"{request_id}","lease_id":"","renewable":false,"lease_duration":0,"data":{{"data":{{"k":"v"}},"operation":"update","path":"kv/x"}},"wrap_info":null,"warnings":null,"auth":null,"mount_type":"echo"}}"#
        )
    );
}

#[tokio::test]
async fn special_answers() {
    let s = start(|_| {}).await;

    let resp = send(&s, "DELETE", "/v1/none").await;
    assert_eq!(resp.status(), 204);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(resp.bytes().await.unwrap().is_empty());

    let resp = send(&s, "GET", "/v1/raw").await;
    assert_eq!(resp.status(), 202);
    assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(&resp.bytes().await.unwrap()[..], b"raw body \x00\xff");

    // Legacy sys answers: data keys copied to the top level, before the envelope.
    let resp = send(&s, "GET", "/v1/toplevel").await;
    let text = resp.text().await.unwrap();
    assert!(
        text.starts_with(
            r#"{"accessor":"kv_1","options":{"version":"2"},"type":"kv","request_id":""#
        ),
        "{text}"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["data"]["type"], "kv");
    assert_eq!(v["type"], "kv");

    let (status, v) = json_of(send(&s, "GET", "/v1/wrapped").await).await;
    assert_eq!(status, 200);
    assert_eq!(v["data"], Value::Null);
    assert_eq!(v["auth"], Value::Null);
    assert_eq!(
        v["wrap_info"],
        json!({"token":"hvs.wrap","accessor":"wacc","ttl":300,
               "creation_time":"2026-11-27T00:00:00Z","creation_path":"wrapped"})
    );

    let (status, v) = json_of(send(&s, "GET", "/v1/status404").await).await;
    assert_eq!(status, 404);
    assert_eq!(v["data"], json!({"keys": []}));

    let resp = send(&s, "GET", "/v1/headers").await;
    let values: Vec<_> = resp
        .headers()
        .get_all("x-arca-test")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert_eq!(values, ["a", "b"]);
    // The handler's Cache-Control does not replace the server's.
    let cache: Vec<_> = resp.headers().get_all("cache-control").iter().collect();
    assert_eq!(cache, ["no-store"]);
}

#[tokio::test]
async fn errors_use_the_wire_messages() {
    let s = start(|_| {}).await;
    let (status, v) = json_of(send(&s, "GET", "/v1/deny").await).await;
    assert_eq!(status, 403);
    assert_eq!(v, json!({"errors": ["permission denied"]}));

    let (status, v) = json_of(send(&s, "GET", "/v1/nopath").await).await;
    assert_eq!(status, 404);
    assert_eq!(
        v,
        json!({"errors": ["1 error occurred:\n\t* unsupported path\n\n"]})
    );

    // A panicking handler is a 500, and the server keeps serving.
    let (status, v) = json_of(send(&s, "GET", "/v1/panic").await).await;
    assert_eq!(status, 500);
    assert_eq!(
        v,
        json!({"errors": ["1 error occurred:\n\t* internal error\n\n"]})
    );
    assert_eq!(send(&s, "GET", "/v1/kv/x").await.status(), 200);

    // Outside /v1/: 404, the handler is not asked.
    let before = s.calls();
    for path in ["/", "/v1", "/v2/sys/health", "/ui/"] {
        let (status, v) = json_of(send(&s, "GET", path).await).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(v, json!({"errors": []}));
    }
    assert_eq!(s.calls(), before);
}

#[tokio::test]
async fn head_has_no_body() {
    let s = start(|_| {}).await;
    let get = send(&s, "GET", "/v1/kv/x").await;
    let get_len = get.bytes().await.unwrap().len();
    assert!(get_len > 0);

    let (status, head, body) = raw_request(
        s.handle.local_addr,
        b"HEAD /v1/kv/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.is_empty());
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-type: application/json"));
    // The length the GET body would have.
    assert!(
        head.contains(&format!("content-length: {get_len}")),
        "{head}"
    );
    assert_eq!(s.last().operation, Operation::Read);

    let (status, _, body) = raw_request(
        s.handle.local_addr,
        b"HEAD /v1/deny HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 403);
    assert!(body.is_empty());
}

#[tokio::test]
async fn non_canonical_paths_are_refused_before_routing() {
    // OpenBao redirects `//`, `/./` and `/../` to the cleaned path (307); Arca refuses them
    // so that nothing after this layer can see a path other than the one the client sent.
    let s = start(|_| {}).await;
    let cases = [
        (
            "/v1/sys//mounts",
            "invalid request path: empty segment (//)",
        ),
        (
            "/v1/sys/mounts//",
            "invalid request path: empty segment (//)",
        ),
        (
            "/v1/sys/%2F/mounts",
            "invalid request path: empty segment (//)",
        ),
        (
            "/v1/sys/./mounts",
            "invalid request path: relative segment (. or ..)",
        ),
        (
            "/v1/kv/../sys/mounts",
            "invalid request path: relative segment (. or ..)",
        ),
        (
            "/v1/kv/%2e%2e/sys/mounts",
            "invalid request path: relative segment (. or ..)",
        ),
        (
            "/v1/kv/%2E/x",
            "invalid request path: relative segment (. or ..)",
        ),
        ("/v1/kv/a%00b", "invalid request path: NUL byte"),
        (
            "/v1/kv/a%zzb",
            "invalid request path: malformed percent-encoding",
        ),
        (
            "/v1/../v1/kv",
            "invalid request path: relative segment (. or ..)",
        ),
    ];
    for (path, message) in cases {
        let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let (status, _, body) = raw_request(s.handle.local_addr, request.as_bytes()).await;
        assert_eq!(status, 400, "{path}");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v, json!({"errors": [message]}), "{path}");
    }
    assert_eq!(s.calls(), 0);

    // Decoded once: an escaped character in a segment is fine.
    let request = "GET /v1/kv/a%20b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let (status, _, _) = raw_request(s.handle.local_addr, request.as_bytes()).await;
    assert_eq!(status, 200);
    assert_eq!(s.last().path, "kv/a b");
}

#[tokio::test]
async fn request_size_limit() {
    let s = start(|o| o.max_request_size = Some(1024)).await;
    let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(2000));
    let (status, v) = json_of(
        client()
            .post(s.url("/v1/kv/x"))
            .body(big.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 413);
    assert_eq!(v, json!({"errors": ["http: request body too large"]}));

    // Without a Content-Length (chunked), the limit is enforced while reading.
    let mut request = b"POST /v1/kv/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for chunk in big.as_bytes().chunks(300) {
        request.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend(chunk);
        request.extend(b"\r\n");
    }
    request.extend(b"0\r\n\r\n");
    let (status, _, body) = raw_request(s.handle.local_addr, &request).await;
    assert_eq!(status, 413);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v, json!({"errors": ["http: request body too large"]}));
    assert_eq!(s.calls(), 0);

    let small = format!(r#"{{"a":"{}"}}"#, "x".repeat(1000));
    let resp = client()
        .post(s.url("/v1/kv/x"))
        .body(small)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // None = unlimited.
    let s = start(|o| o.max_request_size = None).await;
    let huge = format!(r#"{{"a":"{}"}}"#, "x".repeat(40 * 1024 * 1024));
    let resp = client()
        .post(s.url("/v1/kv/x"))
        .body(huge)
        .send()
        .await
        .unwrap();
    // The string is longer than the 1 MiB JSON string limit, so the pre-scan (not the size
    // limit) refuses it.
    let (status, v) = json_of(resp).await;
    assert_eq!(status, 400);
    assert_eq!(
        v,
        json!({"errors": ["JSON string value exceeds allowed length"]})
    );
}

#[tokio::test]
async fn json_shape_limits() {
    let s = start(|o| {
        o.max_json_depth = 3;
        o.max_json_string_length = 8;
        o.max_json_object_entries = 3;
        o.max_json_array_elements = 4;
    })
    .await;
    let cases = [
        (r#"{"a":{"b":{"c":1}}}"#, None),
        (
            r#"{"a":{"b":{"c":[]}}}"#,
            Some("JSON input exceeds allowed nesting depth"),
        ),
        (r#"{"a":"12345678"}"#, None),
        (
            r#"{"a":"123456789"}"#,
            Some("JSON string value exceeds allowed length"),
        ),
        (r#"{"a":1,"b":2,"c":3}"#, None),
        (
            r#"{"a":1,"b":2,"c":3,"d":4}"#,
            Some("JSON object exceeds allowed entry count"),
        ),
        (r#"{"a":[1,2,3,4]}"#, None),
        (
            r#"{"a":[1,2,3,4,5]}"#,
            Some("JSON array exceeds allowed element count"),
        ),
        (r#"{"a":1,"a":2}"#, Some("duplicate key in JSON object")),
    ];
    for (body, refusal) in cases {
        let resp = client()
            .post(s.url("/v1/kv/x"))
            .body(body)
            .send()
            .await
            .unwrap();
        match refusal {
            None => assert_eq!(resp.status(), 200, "{body}"),
            Some(message) => {
                let (status, v) = json_of(resp).await;
                assert_eq!(status, 400, "{body}");
                assert_eq!(v, json!({"errors": [message]}), "{body}");
            }
        }
    }

    // The defaults: 500 levels pass (deeper than serde_json's own limit), 501 do not.
    let s = start(|_| {}).await;
    let nest = |n: usize| format!(r#"{{"a":{}{}}}"#, "[".repeat(n - 1), "]".repeat(n - 1));
    let resp = client()
        .post(s.url("/v1/kv/x"))
        .body(nest(500))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (status, v) = json_of(
        client()
            .post(s.url("/v1/kv/x"))
            .body(nest(501))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        v,
        json!({"errors": ["JSON input exceeds allowed nesting depth"]})
    );
}

#[tokio::test]
async fn request_duration_limit() {
    let s = start(|o| o.max_request_duration = Duration::from_millis(300)).await;
    let started = Instant::now();
    let (status, v) = json_of(send(&s, "GET", "/v1/slow").await).await;
    assert_eq!(status, 503);
    assert_eq!(v, json!({"errors": ["context deadline exceeded"]}));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(s.recorder.slow_started.load(Ordering::SeqCst));
    // The handler's future was dropped, not left running.
    arca_testkit::wait_until_async(
        "the slow handler's future to be dropped",
        Duration::from_secs(30),
        || async { s.recorder.slow_dropped.load(Ordering::SeqCst).then_some(()) },
    )
    .await;
    // Fast requests are unaffected.
    assert_eq!(send(&s, "GET", "/v1/kv/x").await.status(), 200);
}

#[tokio::test]
async fn http2_without_tls() {
    let s = start(|_| {}).await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let resp = h2.get(s.url("/v1/kv/x")).send().await.unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn bind_errors_and_shutdown() {
    let s = start(|_| {}).await;
    let taken = arca_http::ListenerOptions::new(s.handle.local_addr);
    let err = arca_http::serve(
        taken,
        s.recorder.clone(),
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, arca_http::HttpError::Bind { .. }), "{err}");

    assert_eq!(send(&s, "GET", "/v1/kv/x").await.status(), 200);
    s.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(15), s.handle.join)
        .await
        .expect("server did not stop")
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(s.handle.local_addr)
            .await
            .is_err()
    );
}
