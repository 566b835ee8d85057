//! Issue 16 point 6, login MFA with TOTP end to end against the real `arca` binary and a real
//! OpenBao dev server (one of each for the file), every answer checked on both: TOTP methods
//! (create, read, update, list, delete, every parameter's error), secrets (`generate`,
//! `admin-generate`, `admin-destroy`), login enforcements (CRUD and their errors), and the
//! two-phase login: a userpass login under an enforcement answers `mfa_requirement` and no
//! token, `sys/mfa/validate` with a code computed here from the `url`'s secret answers the
//! real token, a wrong code and a reused code are refused with OpenBao's texts, the attempts
//! are capped, and the `bao` CLI (its stdin a terminal, through `script`) prompts for the
//! passcode and logs in.

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use common::{Answer, Server, call, servers, write_policy};
use serde_json::{Value, json};

async fn ok(s: &Server, method: &str, path: &str, body: Option<Value>) -> Answer {
    let a = call(s, method, path, Some("root"), body).await;
    assert!(
        a.status < 300,
        "{} {method} {path}: {} {}",
        s.addr,
        a.status,
        a.body
    );
    a
}

/// Asserts `status` with exactly the error `text`.
async fn refused_with(
    s: &Server,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Value,
    status: u16,
    text: &str,
) {
    let a = call(s, method, path, token, Some(body)).await;
    assert_eq!(a.status, status, "{} {path}: {}", s.addr, a.body);
    assert_eq!(a.body["errors"], json!([text]), "{} {path}", s.addr);
}

/// Asserts a 400 with exactly `text` (root token).
async fn refused(s: &Server, method: &str, path: &str, body: Value, text: &str) {
    refused_with(s, Some("root"), method, path, body, 400, text).await;
}

fn sorted_keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

fn base32_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u64, 0u32);
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|&x| x == c).expect("base32");
        buf = (buf << 5) | v as u64;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    out
}

/// The secret (`secret=`) and digits of an `otpauth://` URL.
fn url_secret(url: &str) -> (Vec<u8>, u32) {
    let query = url.split_once('?').expect("query").1;
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .expect(name)
            .to_string()
    };
    (
        base32_decode(&param("secret")),
        param("digits").parse().expect("digits"),
    )
}

/// RFC 6238 (SHA-1, 30 s) for the current time step.
fn totp_now(key: &[u8], digits: u32) -> String {
    let step = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs()
        / 30;
    let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let mac = aws_lc_rs::hmac::sign(&k, &step.to_be_bytes());
    let mac = mac.as_ref();
    let o = usize::from(mac[19] & 0x0f);
    let bin = u32::from_be_bytes([mac[o] & 0x7f, mac[o + 1], mac[o + 2], mac[o + 3]]);
    format!("{:0w$}", bin % 10u32.pow(digits), w = digits as usize)
}

/// A code that is not the current one (nor, but by a one-in-a-million chance, a neighbour).
fn wrong_code(right: &str) -> String {
    let n: u32 = right.parse().expect("digits");
    format!(
        "{:0w$}",
        (n + 1) % 10u32.pow(right.len() as u32),
        w = right.len()
    )
}

async fn login(s: &Server, user: &str) -> Answer {
    let a = call(
        s,
        "POST",
        &format!("auth/userpass/login/{user}"),
        None,
        Some(json!({ "password": "pw" })),
    )
    .await;
    assert_eq!(a.status, 200, "{}: {}", s.addr, a.body);
    a
}

async fn validate(s: &Server, request_id: &str, method_id: &str, code: &str) -> Answer {
    call(
        s,
        "POST",
        "sys/mfa/validate",
        None,
        Some(json!({"mfa_request_id": request_id, "mfa_payload": {method_id: [code]}})),
    )
    .await
}

/// The text of a failed enforcement with one method and one cause.
fn unsatisfied(method_id: &str, cause: &str) -> String {
    format!(
        "failed to satisfy enforcement e1. error: 2 errors occurred:\n\t* {cause}\n\t* login MFA validation failed for methodID: [{method_id}]\n\n"
    )
}

const BAD: &str = "MFA credentials not supplied or incorrect";

/// Every TOTP method parameter's refusal, create/read/update/list; returns the method id.
async fn methods(s: &Server) -> String {
    let p = "identity/mfa/method/totp";
    refused(s, "POST", p, json!({}), "issuer must be set").await;
    for (body, text) in [
        (
            json!({"issuer": "x", "algorithm": "MD5"}),
            "unrecognized algorithm",
        ),
        (
            json!({"issuer": "x", "digits": 7}),
            "digits can only be 6 or 8",
        ),
        (json!({"issuer": "x", "skew": 2}), "skew must be 0 or 1"),
        (
            json!({"issuer": "x", "period": 0}),
            "period must be greater than zero",
        ),
        (
            json!({"issuer": "x", "key_size": 0}),
            "key_size must be greater than zero",
        ),
        (
            json!({"issuer": "x", "max_validation_attempts": -1}),
            "max_validation_attempts must be greater than zero",
        ),
        (
            json!({"issuer": "x", "period": "abc"}),
            "Field validation failed: error converting input for field \"period\": time: invalid duration \"abc\"",
        ),
    ] {
        refused(s, "POST", p, body, text).await;
    }
    let created = ok(
        s,
        "POST",
        p,
        Some(json!({"issuer": "Arca", "method_name": "m1"})),
    )
    .await;
    assert_eq!(created.status, 200);
    assert_eq!(sorted_keys(&created.body["data"]), ["method_id"]);
    let id = created.body["data"]["method_id"]
        .as_str()
        .expect("method_id")
        .to_string();
    // The same name again updates that method.
    let again = ok(
        s,
        "POST",
        p,
        Some(json!({"issuer": "Arca", "method_name": "m1"})),
    )
    .await;
    assert_eq!(again.body["data"]["method_id"], json!(id), "{}", s.addr);
    let read = ok(s, "GET", &format!("{p}/{id}"), None).await;
    assert_eq!(
        read.body["data"],
        json!({
            "algorithm": "SHA1", "digits": 6, "id": id, "issuer": "Arca", "key_size": 20,
            "max_validation_attempts": 5, "name": "m1", "namespace_id": "root",
            "namespace_path": "", "period": 30, "qr_size": 200, "skew": 1, "type": "totp"
        }),
        "{}",
        s.addr
    );
    // An update sets every field again (defaults for those not given).
    let upd = ok(
        s,
        "POST",
        &format!("{p}/{id}"),
        Some(json!({"issuer": "Arca", "digits": 8, "period": "1m", "qr_size": 100})),
    )
    .await;
    assert_eq!(upd.status, 204);
    let read = ok(s, "GET", &format!("identity/mfa/method/{id}"), None).await;
    assert_eq!(read.body["data"]["digits"], json!(8), "{}", s.addr);
    assert_eq!(read.body["data"]["period"], json!(60), "{}", s.addr);
    assert_eq!(read.body["data"]["name"], json!("m1"), "{}", s.addr);
    ok(
        s,
        "POST",
        &format!("{p}/{id}"),
        Some(json!({"issuer": "Arca", "max_validation_attempts": 0})),
    )
    .await;
    let read = ok(s, "GET", &format!("{p}/{id}"), None).await;
    assert_eq!(read.body["data"]["digits"], json!(6), "{}", s.addr);
    assert_eq!(read.body["data"]["max_validation_attempts"], json!(5));
    // Ids are UUIDs: anything else is no path at all.
    for (method, path) in [
        ("GET", format!("{p}/nope")),
        ("GET", "identity/mfa/method/nope".to_string()),
        ("POST", format!("{p}/nope")),
        ("DELETE", format!("{p}/nope")),
        ("GET", "identity/mfa/login-enforcement/-x".to_string()),
    ] {
        let a = call(s, method, &path, Some("root"), Some(json!({"issuer": "y"}))).await;
        assert_eq!(a.status, 404, "{} {method} {path}", s.addr);
        assert_eq!(
            a.body["errors"],
            json!(["1 error occurred:\n\t* unsupported path\n\n"])
        );
    }
    refused(s, "GET", p, json!({}), "missing method ID").await;
    for path in [p, "identity/mfa/method"] {
        let list = ok(s, "LIST", path, None).await;
        assert_eq!(list.body["data"]["keys"], json!([id]), "{}", s.addr);
        assert_eq!(list.body["data"]["key_info"][&id], read.body["data"]);
    }
    // A second method, deleted again.
    let m2 = ok(s, "POST", p, Some(json!({"issuer": "two"}))).await;
    let m2 = m2.body["data"]["method_id"]
        .as_str()
        .expect("id")
        .to_string();
    // Gone, it reads as nothing; deleting or updating it again does nothing.
    for _ in 0..2 {
        assert_eq!(
            ok(s, "DELETE", &format!("{p}/{m2}"), None).await.status,
            204
        );
    }
    let a = ok(
        s,
        "POST",
        &format!("{p}/{m2}"),
        Some(json!({"issuer": "y"})),
    )
    .await;
    assert_eq!(a.status, 204, "{}", s.addr);
    let a = call(
        s,
        "GET",
        &format!("identity/mfa/method/{m2}"),
        Some("root"),
        None,
    )
    .await;
    assert_eq!(
        (a.status, &a.body),
        (404, &json!({"errors": []})),
        "{}",
        s.addr
    );
    let list = ok(s, "LIST", p, None).await;
    assert_eq!(list.body["data"]["keys"], json!([id]), "{}", s.addr);
    id
}

/// Secrets: `generate` for the caller, `admin-generate`, `admin-destroy`, their errors.
/// Returns (alice's entity, her key and digits, bob's entity).
async fn secrets(s: &Server, m: &str) -> (String, (Vec<u8>, u32), String) {
    let base = "identity/mfa/method/totp";
    let gen_path = format!("{base}/admin-generate");
    refused(s, "POST", &gen_path, json!({}), "missing method ID").await;
    refused(
        s,
        "POST",
        &gen_path,
        json!({"method_id": m}),
        "missing entityID",
    )
    .await;
    refused(
        s,
        "POST",
        &gen_path,
        json!({"method_id": "nope", "entity_id": "x"}),
        "configuration for method ID \"nope\" does not exist",
    )
    .await;
    refused(
        s,
        "POST",
        &gen_path,
        json!({"method_id": m, "entity_id": "x"}),
        "invalid entity ID",
    )
    .await;
    let root_gen = format!("{base}/generate");
    refused(s, "POST", &root_gen, json!({}), "missing method ID").await;
    // The root token has no entity.
    refused(
        s,
        "POST",
        &root_gen,
        json!({"method_id": m}),
        "missing entityID",
    )
    .await;

    let alice = login(s, "alice").await.body["auth"]["entity_id"]
        .as_str()
        .expect("entity")
        .to_string();
    let bob = login(s, "bob").await.body["auth"]["entity_id"]
        .as_str()
        .expect("entity")
        .to_string();
    // Carol generates her own, with a policy that lets her.
    let carol = login(s, "carol").await;
    let carol_token = carol.body["auth"]["client_token"].as_str().expect("token");
    let own = call(
        s,
        "POST",
        &root_gen,
        Some(carol_token),
        Some(json!({"method_id": m})),
    )
    .await;
    assert_eq!(own.status, 200, "{}: {}", s.addr, own.body);
    assert_eq!(sorted_keys(&own.body["data"]), ["barcode", "url"]);
    let again = call(
        s,
        "POST",
        &root_gen,
        Some(carol_token),
        Some(json!({"method_id": m})),
    )
    .await;
    assert_eq!(again.status, 200, "{}", s.addr);
    assert_eq!(again.body["data"], Value::Null, "{}", s.addr);
    assert_eq!(
        again.body["warnings"],
        json!(["Entity already has a secret for MFA method \"m1\""])
    );

    let made = ok(
        s,
        "POST",
        &gen_path,
        Some(json!({"method_id": m, "entity_id": alice})),
    )
    .await;
    let url = made.body["data"]["url"].as_str().expect("url");
    let prefix = format!(
        "otpauth://totp/Arca:{alice}?algorithm=SHA1&digits=6&issuer=Arca&period=30&secret="
    );
    assert!(url.starts_with(&prefix), "{}: {url}", s.addr);
    assert_eq!(url.len(), prefix.len() + 32, "{url}");
    let barcode = made.body["data"]["barcode"].as_str().expect("barcode");
    assert!(barcode.starts_with("iVBORw0KGgo"), "a PNG: {barcode}");
    let key = url_secret(url);

    // Destroy: errors, then twice without complaint, then a fresh secret for bob.
    let destroy = format!("{base}/admin-destroy");
    refused(s, "POST", &destroy, json!({}), "missing method ID").await;
    refused(
        s,
        "POST",
        &destroy,
        json!({"method_id": m}),
        "missing entity ID",
    )
    .await;
    refused(
        s,
        "POST",
        &destroy,
        json!({"method_id": "nope", "entity_id": bob}),
        "configuration for method ID \"nope\" does not exist",
    )
    .await;
    ok(
        s,
        "POST",
        &gen_path,
        Some(json!({"method_id": m, "entity_id": bob})),
    )
    .await;
    for _ in 0..2 {
        let a = ok(
            s,
            "POST",
            &destroy,
            Some(json!({"method_id": m, "entity_id": bob})),
        )
        .await;
        assert_eq!(a.status, 204);
    }
    (alice, key, bob)
}

/// Login enforcements: errors, create, read, list.
async fn enforcements(s: &Server, m: &str, alice: &str) {
    let p = "identity/mfa/login-enforcement/e1";
    refused(s, "POST", p, json!({}), "missing method ids").await;
    refused(
        s,
        "POST",
        p,
        json!({"mfa_method_ids": ["nope"], "auth_method_types": ["userpass"]}),
        "one of the provided method ids doesn't exist",
    )
    .await;
    refused(
        s,
        "POST",
        p,
        json!({"mfa_method_ids": [m]}),
        "One of auth_method_accessors, auth_method_types, identity_group_ids, identity_entity_ids must be specified",
    )
    .await;
    for (field, text) in [
        (
            "auth_method_accessors",
            "one of the auth method accessors provided is invalid",
        ),
        (
            "auth_method_types",
            "one of the auth method types provided is invalid",
        ),
        (
            "identity_group_ids",
            "one of the provided group ids doesn't exist",
        ),
        (
            "identity_entity_ids",
            "one of the provided entity ids doesn't exist",
        ),
    ] {
        refused(
            s,
            "POST",
            p,
            json!({"mfa_method_ids": [m], field: ["nope"]}),
            text,
        )
        .await;
    }
    let a = call(s, "GET", p, Some("root"), None).await;
    assert_eq!(
        (a.status, &a.body),
        (404, &json!({"errors": []})),
        "{}",
        s.addr
    );
    let made = ok(
        s,
        "POST",
        p,
        Some(json!({"mfa_method_ids": [m], "auth_method_types": ["userpass"], "identity_entity_ids": [alice]})),
    )
    .await;
    assert_eq!(made.status, 204);
    let read = ok(s, "GET", p, None).await;
    let d = &read.body["data"];
    assert_eq!(
        sorted_keys(d),
        [
            "auth_method_accessors",
            "auth_method_types",
            "id",
            "identity_entity_ids",
            "identity_group_ids",
            "mfa_method_ids",
            "name",
            "namespace_id",
            "namespace_path"
        ]
    );
    assert_eq!(d["auth_method_accessors"], json!([]), "{}", s.addr);
    assert_eq!(d["auth_method_types"], json!(["userpass"]));
    assert_eq!(d["identity_entity_ids"], json!([alice]));
    assert_eq!(d["mfa_method_ids"], json!([m]));
    assert_eq!(
        (&d["name"], &d["namespace_id"]),
        (&json!("e1"), &json!("root"))
    );
    let list = ok(s, "LIST", "identity/mfa/login-enforcement", None).await;
    assert_eq!(list.body["data"]["keys"], json!(["e1"]));
    assert_eq!(list.body["data"]["key_info"]["e1"], *d);
    // The method is in use: it cannot go.
    let del = call(
        s,
        "DELETE",
        &format!("identity/mfa/method/totp/{m}"),
        Some("root"),
        None,
    )
    .await;
    // OpenBao's 500 for it is a 400 in Arca, with the same text.
    let want = if s.openbao { 500 } else { 400 };
    assert_eq!(del.status, want, "{}", s.addr);
    let id = d["id"].as_str().expect("id");
    assert_eq!(
        del.body["errors"],
        json!([format!(
            "1 error occurred:\n\t* methodID is still used by an enforcement configuration with ID: {id}\n\n"
        )])
    );
    // Deleting one that is not there is no error.
    let a = ok(s, "DELETE", "identity/mfa/login-enforcement/nope", None).await;
    assert_eq!(a.status, 204);
}

/// The two-phase login: requirement, validate errors, success, reuse, the attempt cap.
async fn mfa_login(s: &Server, m: &str, alice: &str, key: &(Vec<u8>, u32), bob: &str) {
    let first = login(s, "alice").await;
    let auth = &first.body["auth"];
    assert_eq!(auth["client_token"], json!(""), "{}", s.addr);
    assert_eq!(auth["accessor"], json!(""));
    assert_eq!(auth["policies"], Value::Null);
    assert_eq!(auth["token_type"], json!("default"));
    assert_eq!(auth["entity_id"], json!(""));
    let req = &auth["mfa_requirement"];
    let request_id = req["mfa_request_id"]
        .as_str()
        .expect("request id")
        .to_string();
    assert_eq!(
        req["mfa_constraints"],
        json!({"e1": {"any": [{"type": "totp", "id": m, "uses_passcode": true, "name": "m1"}]}}),
        "{}",
        s.addr
    );
    assert_eq!(
        first.body["warnings"],
        json!([
            "A login request was issued that is subject to MFA validation. Please make sure to validate the login by sending another request to mfa/validate endpoint."
        ])
    );

    let v = "sys/mfa/validate";
    for (method, status) in [("GET", 405), ("DELETE", 405), ("LIST", 404)] {
        let a = call(s, method, v, Some("root"), None).await;
        assert_eq!(a.status, status, "{} {method}: {}", s.addr, a.body);
    }
    refused_with(s, None, "POST", v, json!({}), 400, "missing request ID").await;
    refused_with(
        s,
        None,
        "POST",
        v,
        json!({"mfa_request_id": "x"}),
        400,
        "invalid request ID",
    )
    .await;
    refused_with(
        s,
        None,
        "POST",
        v,
        json!({"mfa_request_id": "x", "mfa_payload": {}}),
        400,
        "invalid request ID",
    )
    .await;
    refused_with(
        s,
        None,
        "POST",
        v,
        json!({"mfa_request_id": "x", "mfa_payload": "zz"}),
        400,
        "Field validation failed: error converting input for field \"mfa_payload\": '' expected type 'map[string]interface {}', got unconvertible type 'string'",
    )
    .await;
    refused_with(
        s,
        None,
        "POST",
        v,
        json!({"mfa_request_id": request_id, "mfa_payload": {}}),
        403,
        &format!(
            "failed to satisfy enforcement e1. error: failed to sanitize MFA creds, 1 error occurred:\n\t* failed to find MFA credentials associated with an MFA method ID {m}, method name m1\n\n"
        ),
    )
    .await;
    for (cred, cause) in [
        (
            "a=b",
            "failed to parse MFA factor, found an invalid MFA cred: a=b",
        ),
        ("passcode=", "failed to parse MFA factor, invalid passcode"),
        ("12345", BAD),
        (" 12345", BAD),
    ] {
        let a = validate(s, &request_id, m, cred).await;
        assert_eq!(a.status, 403, "{} {cred:?}: {}", s.addr, a.body);
        assert_eq!(
            a.body["errors"],
            json!([unsatisfied(m, cause)]),
            "{} {cred:?}",
            s.addr
        );
    }
    // A wrong code (one attempt), then the right one.
    let code = totp_now(&key.0, key.1);
    let a = validate(s, &request_id, m, &wrong_code(&code)).await;
    assert_eq!(a.status, 403, "{}", s.addr);
    assert_eq!(a.body["errors"], json!([unsatisfied(m, BAD)]));
    let done = validate(s, &request_id, m, &format!("passcode={code}")).await;
    assert_eq!(done.status, 200, "{}: {}", s.addr, done.body);
    let auth = &done.body["auth"];
    assert_eq!(auth["entity_id"], json!(alice), "{}", s.addr);
    assert_eq!(auth["mfa_requirement"], Value::Null);
    assert_eq!(auth["metadata"], json!({"username": "alice"}));
    let token = auth["client_token"].as_str().expect("token");
    assert!(!token.is_empty());
    let me = call(s, "GET", "auth/token/lookup-self", Some(token), None).await;
    assert_eq!(me.status, 200, "{}", s.addr);
    assert_eq!(me.body["data"]["display_name"], json!("userpass-alice"));
    assert_eq!(me.body["data"]["entity_id"], json!(alice));
    // The request is spent.
    let a = validate(s, &request_id, m, &code).await;
    assert_eq!(
        (a.status, &a.body["errors"]),
        (400, &json!(["invalid request ID"])),
        "{}",
        s.addr
    );

    // The same code again, for a fresh login: refused, as any wrong code.
    let second = login(s, "alice").await;
    let rid = second.body["auth"]["mfa_requirement"]["mfa_request_id"]
        .as_str()
        .expect("request id")
        .to_string();
    let a = validate(s, &rid, m, &code).await;
    assert_eq!(a.status, 403, "{}: {}", s.addr, a.body);
    assert_eq!(a.body["errors"], json!([unsatisfied(m, BAD)]));
    // Five wrong codes are heard out; the sixth is over the cap.
    for _ in 0..5 {
        let a = validate(s, &rid, m, "000000").await;
        assert_eq!(a.body["errors"], json!([unsatisfied(m, BAD)]), "{}", s.addr);
    }
    let a = validate(s, &rid, m, "000000").await;
    assert_eq!(a.status, 403);
    assert_eq!(
        a.body["errors"],
        json!([unsatisfied(
            m,
            "maximum TOTP validation attempts 6 exceeded the allowed attempts 5. Please try again in 30.000000002s seconds"
        )]),
        "{}",
        s.addr
    );

    // Bob has no secret (destroyed): the enforcement by method type still holds him.
    let b = login(s, "bob").await;
    let rid = b.body["auth"]["mfa_requirement"]["mfa_request_id"]
        .as_str()
        .expect("request id")
        .to_string();
    let a = validate(s, &rid, m, "123456").await;
    assert_eq!(
        a.body["errors"],
        json!([unsatisfied(
            m,
            // Named by id: his last secret was destroyed (OpenBao's nil secret map).
            &format!("MFA secret for method ID \"{m}\" not present in entity \"{bob}\"")
        )]),
        "{}",
        s.addr
    );
}

/// `bao login -method=userpass` prompts for the passcode on a terminal (here `script`'s),
/// posts it to `sys/mfa/validate` and stores nothing (`-no-store`); returns its output.
fn cli_login(s: &Server, user: &str, code: &str) -> String {
    let cmd = format!(
        "{} login -method=userpass -no-store username={user} password=pw",
        arca_testkit::bao().display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("VAULT_ADDR", &s.addr)
        .env("BAO_ADDR", &s.addr)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux");
    // The passcode waits in the terminal's input until bao asks; stdin stays open until bao
    // is done, so `script` does not end the session early.
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(format!("{code}\n").as_bytes())
        .expect("write passcode");
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read");
    drop(stdin);
    let status = child.wait().expect("wait");
    assert!(status.success(), "{}: {out}", s.addr);
    out
}

async fn cli(s: &Server, m: &str, bob: &str) {
    let made = ok(
        s,
        "POST",
        "identity/mfa/method/totp/admin-generate",
        Some(json!({"method_id": m, "entity_id": bob})),
    )
    .await;
    let (key, digits) = url_secret(made.body["data"]["url"].as_str().expect("url"));
    let out = cli_login(s, "bob", &totp_now(&key, digits));
    assert!(
        out.contains("Initiating Interactive MFA Validation..."),
        "{}: {out}",
        s.addr
    );
    assert!(
        out.contains(&format!(
            "Enter the passphrase for methodID \"{m}\" of type \"totp\":"
        )),
        "{out}"
    );
    assert!(
        out.contains("Success! You are now authenticated."),
        "{}: {out}",
        s.addr
    );
    assert!(out.contains("token_meta_username    bob"), "{out}");
}

/// Whether a login of `user` is held for MFA (else it got its token).
async fn held(s: &Server, user: &str) -> bool {
    let a = login(s, user).await;
    let held = a.body["auth"]["mfa_requirement"].is_object();
    let token = a.body["auth"]["client_token"].as_str().unwrap_or_default();
    assert_eq!(held, token.is_empty(), "{}: {}", s.addr, a.body);
    held
}

/// Enforcements by group (inherited too) and by mount accessor, each alone (`e1`, by method
/// type, goes first: an update keeps the lists it is not given).
async fn matching(s: &Server, m: &str, bob: &str) {
    ok(s, "DELETE", "identity/mfa/login-enforcement/e1", None).await;
    assert!(!held(s, "carol").await, "{}", s.addr);
    let inner = ok(
        s,
        "POST",
        "identity/group",
        Some(json!({"name": "inner", "member_entity_ids": [bob]})),
    )
    .await;
    let inner = inner.body["data"]["id"].as_str().expect("id").to_string();
    let outer = ok(
        s,
        "POST",
        "identity/group",
        Some(json!({"name": "outer", "member_group_ids": [inner]})),
    )
    .await;
    let outer = outer.body["data"]["id"].as_str().expect("id").to_string();
    let g = "identity/mfa/login-enforcement/by-group";
    ok(
        s,
        "POST",
        g,
        Some(json!({"mfa_method_ids": [m], "identity_group_ids": [outer]})),
    )
    .await;
    let b = login(s, "bob").await;
    let constraints = &b.body["auth"]["mfa_requirement"]["mfa_constraints"];
    assert_eq!(
        sorted_keys(constraints),
        ["by-group"],
        "{}: bob is in outer through inner",
        s.addr
    );
    assert!(!held(s, "carol").await, "{}", s.addr);
    ok(s, "DELETE", g, None).await;
    let auths = ok(s, "GET", "sys/auth", None).await;
    let acc = auths.body["data"]["userpass/"]["accessor"]
        .as_str()
        .expect("accessor");
    let a = "identity/mfa/login-enforcement/by-accessor";
    ok(
        s,
        "POST",
        a,
        Some(json!({"mfa_method_ids": [m], "auth_method_accessors": [acc]})),
    )
    .await;
    assert!(held(s, "carol").await, "{}", s.addr);
    ok(
        s,
        "POST",
        a,
        Some(json!({"mfa_method_ids": [m], "identity_entity_ids": [bob]})),
    )
    .await;
    let read = ok(s, "GET", a, None).await;
    assert_eq!(
        read.body["data"]["auth_method_accessors"],
        json!([acc]),
        "{}",
        s.addr
    );
    assert_eq!(read.body["data"]["identity_entity_ids"], json!([bob]));
    ok(s, "DELETE", a, None).await;
}

/// An entity merge moves the merged entities' secrets to the target; a secret for a method
/// the target already has is a conflict (OpenBao's text; its status is 500, Arca's 400) unless
/// `force`.
async fn merges(s: &Server, m: &str, openbao: bool) {
    let mut ids = Vec::new();
    for name in ["mfa-to", "mfa-from-1", "mfa-from-2"] {
        let a = ok(s, "POST", "identity/entity", Some(json!({"name": name}))).await;
        ids.push(a.body["data"]["id"].as_str().expect("id").to_string());
    }
    let (to, one, two) = (&ids[0], &ids[1], &ids[2]);
    let generate = "identity/mfa/method/totp/admin-generate";
    for e in [one, two] {
        let a = ok(
            s,
            "POST",
            generate,
            Some(json!({"method_id": m, "entity_id": e})),
        )
        .await;
        assert!(a.body["data"]["url"].is_string(), "{}: {}", s.addr, a.body);
    }
    let merge = |from: &str, force: bool| json!({"to_entity_id": to, "from_entity_ids": [from], "force": force});
    ok(s, "POST", "identity/entity/merge", Some(merge(one, false))).await;
    // The target now holds the secret: generating another is refused with a warning.
    let a = ok(
        s,
        "POST",
        generate,
        Some(json!({"method_id": m, "entity_id": to})),
    )
    .await;
    assert!(a.body["data"].is_null(), "{}: {}", s.addr, a.body);
    assert_eq!(
        a.body["warnings"].as_array().map(Vec::len),
        Some(1),
        "{}",
        a.body
    );
    let a = call(
        s,
        "POST",
        "identity/entity/merge",
        Some("root"),
        Some(merge(two, false)),
    )
    .await;
    assert_eq!(
        a.status,
        if openbao { 500 } else { 400 },
        "{}: {}",
        s.addr,
        a.body
    );
    assert_eq!(
        a.body["errors"],
        json!([format!(
            "1 error occurred:\n\t* conflicting MFA config ID {m:?} in entity ID {two:?}\n\n"
        )]),
        "{}",
        s.addr
    );
    // Refused: nothing moved, the source entity is still there.
    ok(s, "GET", &format!("identity/entity/id/{two}"), None).await;
    ok(s, "POST", "identity/entity/merge", Some(merge(two, true))).await;
    let a = call(
        s,
        "GET",
        &format!("identity/entity/id/{two}"),
        Some("root"),
        None,
    )
    .await;
    assert_eq!(a.status, 404, "{}: {}", s.addr, a.body);
    ok(
        s,
        "POST",
        "identity/entity/batch-delete",
        Some(json!({"entity_ids": [to]})),
    )
    .await;
}

async fn cleanup(s: &Server, m: &str) {
    let a = call(
        s,
        "LIST",
        "identity/mfa/login-enforcement",
        Some("root"),
        None,
    )
    .await;
    assert_eq!(a.status, 404, "{}", s.addr);
    ok(s, "DELETE", &format!("identity/mfa/method/totp/{m}"), None).await;
    let a = call(s, "LIST", "identity/mfa/method", Some("root"), None).await;
    assert_eq!(a.status, 404, "{}", s.addr);
    // Without the enforcement, logins get their token at once again.
    let a = login(s, "alice").await;
    assert!(
        a.body["auth"]["client_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_mfa_totp_end_to_end() {
    let servers = servers();
    // The first is Arca, the second OpenBao.
    for (i, s) in servers.iter().enumerate() {
        ok(
            s,
            "POST",
            "sys/auth/userpass",
            Some(json!({"type": "userpass"})),
        )
        .await;
        write_policy(
            s,
            "mfa-self",
            r#"path "identity/mfa/method/totp/generate" { capabilities = ["update"] }"#,
        )
        .await;
        for u in ["alice", "bob", "carol"] {
            ok(
                s,
                "POST",
                &format!("auth/userpass/users/{u}"),
                Some(json!({"password": "pw", "token_policies": "mfa-self"})),
            )
            .await;
        }
        let m = methods(s).await;
        let (alice, key, bob) = secrets(s, &m).await;
        enforcements(s, &m, &alice).await;
        mfa_login(s, &m, &alice, &key, &bob).await;
        cli(s, &m, &bob).await;
        matching(s, &m, &bob).await;
        merges(s, &m, i == 1).await;
        cleanup(s, &m).await;
    }
}
