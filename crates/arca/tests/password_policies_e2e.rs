//! Password policies (`sys/policies/password/*`) against the real `arca` binary and a real
//! OpenBao dev server, one of each for the file: the same statuses, bodies and error texts
//! for every write, read, list, generate and delete; generated passwords follow the rules
//! and use the whole charset evenly; policies are per namespace; the `bao` CLI drives Arca.

mod common;

use std::collections::HashMap;

use common::{Answer, Server, call, call_with, run_bao, same_answer, servers};
use serde_json::{Value, json};

const LOWER_DIGITS: &str = "length = 20\nrule \"charset\" {\n  charset = \"abcdefghijklmnopqrstuvwxyz\"\n  min-chars = 1\n}\nrule \"charset\" {\n  charset = \"0123456789\"\n  min-chars = 1\n}\n";

/// Sends the same request to both servers and asserts the same answer (the random password
/// aside); returns Arca's.
async fn same(s: &[Server; 2], method: &str, path: &str, body: Option<Value>) -> Answer {
    same_answer(s, method, path, body, &["password"]).await
}

async fn put_policy(s: &[Server; 2], name: &str, text: &str) -> Answer {
    same(
        s,
        "PUT",
        &format!("sys/policies/password/{name}"),
        Some(json!({ "policy": text })),
    )
    .await
}

async fn generate(s: &Server, name: &str) -> String {
    let a = call(
        s,
        "GET",
        &format!("sys/policies/password/{name}/generate"),
        Some("root"),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body["data"]["password"]
        .as_str()
        .expect("password")
        .to_string()
}

#[tokio::test]
async fn password_policies_answer_as_openbao() {
    let s = servers();

    // Write, read back as written, list.
    assert_eq!(
        put_policy(&s, "lower-digits", LOWER_DIGITS).await.status,
        204
    );
    let r = same(&s, "GET", "sys/policies/password/lower-digits", None).await;
    assert_eq!(r.body["data"]["policy"], LOWER_DIGITS);
    let r = same(&s, "LIST", "sys/policies/password", None).await;
    assert_eq!(r.body["data"]["keys"], json!(["lower-digits"]));

    // Passwords follow the rules on both servers and are not repeated.
    let mut seen = std::collections::HashSet::new();
    for server in &s {
        for _ in 0..20 {
            let pw = generate(server, "lower-digits").await;
            assert_eq!(pw.len(), 20, "{pw}");
            assert!(pw.chars().any(|c| c.is_ascii_digit()), "{pw}");
            assert!(pw.chars().any(|c| c.is_ascii_lowercase()), "{pw}");
            assert!(
                pw.chars()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()),
                "{pw}"
            );
            assert!(seen.insert(pw));
        }
    }
    // The generate answer's shape (password aside) is OpenBao's.
    same(
        &s,
        "GET",
        "sys/policies/password/lower-digits/generate",
        None,
    )
    .await;

    // A base64 policy is stored decoded; JSON policies work too.
    let b64 = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        "length = 6\nrule \"charset\" {\n charset = \"xyz\"\n}",
    );
    assert_eq!(put_policy(&s, "b64", &b64).await.status, 204);
    let r = same(&s, "GET", "sys/policies/password/b64", None).await;
    assert_eq!(
        r.body["data"]["policy"],
        "length = 6\nrule \"charset\" {\n charset = \"xyz\"\n}"
    );
    let json_policy = r#"{"length": 8, "rule": [{"charset": {"charset": "ab", "min-chars": 2}}]}"#;
    assert_eq!(put_policy(&s, "json", json_policy).await.status, 204);
    for server in &s {
        let pw = generate(server, "json").await;
        assert_eq!(pw.len(), 8);
        assert!(pw.chars().all(|c| c == 'a' || c == 'b'), "{pw}");
    }

    // Refusals: the same status and text on both servers, and nothing stored.
    let refused = [
        ("no-policy", None),
        (
            "short",
            Some("length = 3\nrule \"charset\" {\n charset = \"abc\"\n}"),
        ),
        (
            "long",
            Some("length = 101\nrule \"charset\" {\n charset = \"abc\"\n}"),
        ),
        (
            "minimums",
            Some("length = 5\nrule \"charset\" {\n charset = \"abc\"\n min-chars = 6\n}"),
        ),
        (
            "two-minimums",
            Some(
                "length = 5\nrule \"charset\" {\n charset = \"abc\"\n min-chars = 3\n}\nrule \"charset\" {\n charset = \"xyz\"\n min-chars = 3\n}",
            ),
        ),
        ("no-charset", Some("length = 5")),
        ("zero", Some("length = 0")),
        (
            "unknown-rule",
            Some("length = 5\nrule \"foo\" {\n charset = \"abc\"\n}"),
        ),
        (
            "unprintable",
            Some("length = 5\nrule \"charset\" {\n charset = \"a\\u0001\"\n}"),
        ),
    ];
    for (name, text) in refused {
        let body = match text {
            Some(t) => json!({ "policy": t }),
            None => json!({}),
        };
        let r = same(
            &s,
            "PUT",
            &format!("sys/policies/password/{name}"),
            Some(body),
        )
        .await;
        assert_eq!(r.status, 400, "{name}: {}", r.body);
        let r = same(&s, "GET", &format!("sys/policies/password/{name}"), None).await;
        assert_eq!(r.status, 404, "{name} was stored");
    }
    let r = same(&s, "GET", "sys/policies/password/short", None).await;
    assert_eq!(
        r.body["errors"],
        json!(["1 error occurred:\n\t* policy does not exist\n\n"])
    );
    let r = same(&s, "GET", "sys/policies/password/nope/generate", None).await;
    assert_eq!(r.status, 404);
    // Only reads generate; the policy path takes no PATCH.
    let r = same(&s, "POST", "sys/policies/password/json/generate", None).await;
    assert_eq!(r.status, 405);

    // A rule whose charset is empty but asks for characters: OpenBao's handler panics on it
    // (the connection drops); Arca refuses it as impossible and stores nothing.
    let r = call(
        &s[0],
        "PUT",
        "sys/policies/password/impossible",
        Some("root"),
        Some(json!({"policy": "length = 5\nrule \"charset\" {\n charset = \"\"\n min-chars = 1\n}\nrule \"charset\" {\n charset = \"abc\"\n}"})),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.body["errors"],
        json!([
            "1 error occurred:\n\t* unable to construct test password from provided policy: are the rules impossible?\n\n"
        ])
    );

    // Policies belong to their namespace.
    for server in &s {
        let r = call(server, "PUT", "sys/namespaces/team", Some("root"), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let ns = [("X-Vault-Namespace", "team")];
    for server in &s {
        let r = call_with(
            server,
            "PUT",
            "sys/policies/password/inner",
            Some("root"),
            &ns,
            Some(common::Body::Json(
                json!({"policy": "length = 5\nrule \"charset\" {\n charset = \"abc\"\n}"}),
            )),
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.body);
        let r = call_with(
            server,
            "LIST",
            "sys/policies/password",
            Some("root"),
            &ns,
            None,
        )
        .await;
        assert_eq!(r.body["data"]["keys"], json!(["inner"]), "{}", server.addr);
    }
    let r = same(&s, "LIST", "sys/policies/password", None).await;
    assert_eq!(
        r.body["data"]["keys"],
        json!(["b64", "json", "lower-digits"])
    );

    // Deletes are idempotent; an empty list is OpenBao's bare 404.
    for name in ["b64", "json", "lower-digits", "lower-digits"] {
        let r = same(&s, "DELETE", &format!("sys/policies/password/{name}"), None).await;
        assert_eq!(r.status, 204);
    }
    let r = same(&s, "LIST", "sys/policies/password", None).await;
    assert_eq!(r.status, 404);
}

/// Every character of a 63-character set is drawn about equally often: bytes past the last
/// whole multiple of the set's size are thrown away rather than folded onto its start.
#[tokio::test]
async fn generated_passwords_use_the_charset_evenly() {
    let s = Server::dev();
    let set: String = ('a'..='z')
        .chain('A'..='Z')
        .chain('0'..='9')
        .chain(['-'])
        .collect();
    let r = call(
        &s,
        "PUT",
        "sys/policies/password/even",
        Some("root"),
        Some(json!({"policy": format!("length = 100\nrule \"charset\" {{\n charset = \"{set}\"\n}}")})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let mut counts: HashMap<char, u32> = HashMap::new();
    for _ in 0..252 {
        for c in generate(&s, "even").await.chars() {
            *counts.entry(c).or_default() += 1;
        }
    }
    // 400 expected per character (25,200 draws); folding bytes 252..=255 onto the first four
    // characters would give those ~25 % more. Five standard deviations either side: 300..500.
    assert_eq!(counts.len(), 63, "{counts:?}");
    assert!(
        counts.values().all(|&n| (300..500).contains(&n)),
        "{counts:?}"
    );
}

/// The `bao` CLI writes a policy from a file and reads a password from it, against Arca.
#[test]
fn the_bao_cli_writes_and_generates() {
    let s = Server::dev();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("policy.hcl");
    std::fs::write(&file, LOWER_DIGITS).expect("write");
    let arg = format!("policy=@{}", file.display());
    let (code, out, err) = run_bao(
        &s.addr,
        Some("root"),
        &["write", "sys/policies/password/cli", &arg],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run_bao(
        &s.addr,
        Some("root"),
        &[
            "read",
            "-field=password",
            "sys/policies/password/cli/generate",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let pw = out.trim();
    assert_eq!(pw.len(), 20, "{pw}");
    assert!(pw.chars().all(|c| c.is_ascii_alphanumeric()), "{pw}");
}
