//! Transit auto-unseal, end to end: an Arca server whose config has `seal "transit"` unseals
//! itself through another server's transit engine. The provider today is a real OpenBao dev
//! server (`bao secrets enable transit`, key `unseal`); `auto_unseal_by_arca` runs the same
//! flow against an Arca provider once Arca has a transit engine.
//!
//! Shapes and texts are OpenBao 2.7.2's, observed against a `bao server` with the same
//! stanza: `sys/seal-status` (type `transit`, `recovery_seal`, `recovery_seal_type`), `sys/init`
//! (recovery keys, no unseal keys; parameters of the other seal refused by name), recovery
//! shares for unseal / generate-root / `rekey -target=recovery`, and `operator unseal
//! -migrate` between Shamir and transit.

mod common;

use std::time::Duration;

use arca_testkit::wait_until_async;
use common::{Server, bao_dev, bao_with_config_extra, call, run_arca, run_bao, write_policy};
use serde_json::{Value, json};

/// How long a server may take to unseal itself (a loaded two-core machine is slow).
const UNSEAL_WAIT: Duration = Duration::from_secs(60);

/// Starts a real OpenBao dev server with a transit engine at `transit/` and a key `unseal`.
fn openbao_provider() -> Server {
    let bao = bao_dev();
    for args in [
        &["secrets", "enable", "transit"][..],
        &["write", "-f", "transit/keys/unseal"][..],
    ] {
        let (code, out, err) = run_bao(&bao.addr, Some("root"), args);
        assert_eq!(code, 0, "bao {args:?}: {out}{err}");
    }
    bao
}

/// The `seal "transit"` stanza pointing at `provider` with `token`.
fn stanza(provider: &Server, token: &str, disabled: bool) -> String {
    let disabled = if disabled {
        "  disabled = \"true\"\n"
    } else {
        ""
    };
    format!(
        "seal \"transit\" {{\n  address = \"{}\"\n  token = \"{token}\"\n  key_name = \"unseal\"\n  mount_path = \"transit/\"\n{disabled}}}\n",
        provider.addr
    )
}

/// `bao <args>` against `server`, which must succeed; its stdout parsed as JSON when it is.
fn bao_ok(server: &Server, token: Option<&str>, args: &[&str]) -> Value {
    let (code, out, err) = run_bao(&server.addr, token, args);
    assert_eq!(code, 0, "bao {args:?}: {out}{err}");
    serde_json::from_str(&out).unwrap_or(Value::String(out))
}

/// `arca <args>` (Arca's own CLI) against `server`, which must succeed; its stdout parsed as
/// JSON when it is.
fn arca_ok(server: &Server, token: Option<&str>, args: &[&str]) -> Value {
    let (code, out, err) = run_arca(&server.addr, token, args);
    assert_eq!(code, 0, "arca {args:?}: {out}{err}");
    serde_json::from_str(&out).unwrap_or(Value::String(out))
}

/// `bao <args>` against `server`, which must fail; its stderr.
fn bao_fails(server: &Server, token: Option<&str>, args: &[&str]) -> String {
    let (code, out, err) = run_bao(&server.addr, token, args);
    assert_ne!(code, 0, "bao {args:?} succeeded: {out}");
    err
}

async fn seal_status(server: &Server) -> Value {
    let s = call(server, "GET", "sys/seal-status", None, None).await;
    assert_eq!(s.status, 200, "{}", s.body);
    s.body
}

/// Waits until `server` reports itself unsealed.
async fn wait_unsealed(server: &Server) {
    wait_until_async("the server to unseal itself", UNSEAL_WAIT, || async {
        (seal_status(server).await["sealed"] == json!(false)).then_some(())
    })
    .await;
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|k| k.as_str().expect("string").to_string())
        .collect()
}

/// The server's log so far.
fn log_of(server: &Server) -> String {
    std::fs::read_to_string(&server.log).unwrap_or_default()
}

/// Generates a root token with `keys` through the real CLI and checks it works.
fn generate_root_with(server: &Server, token: &str, keys: &[String]) {
    let init = bao_ok(
        server,
        Some(token),
        &["operator", "generate-root", "-init", "-format=json"],
    );
    let nonce = init["nonce"].as_str().expect("nonce").to_string();
    let otp = init["otp"].as_str().expect("otp").to_string();
    let mut last = Value::Null;
    for key in keys {
        last = bao_ok(
            server,
            Some(token),
            &[
                "operator",
                "generate-root",
                &format!("-nonce={nonce}"),
                "-format=json",
                key,
            ],
        );
    }
    assert_eq!(last["complete"], json!(true), "{last}");
    let encoded = last["encoded_root_token"].as_str().expect("encoded");
    let decoded = bao_ok(
        server,
        Some(token),
        &[
            "operator",
            "generate-root",
            &format!("-decode={encoded}"),
            &format!("-otp={otp}"),
        ],
    );
    let new_root = decoded.as_str().expect("token").trim().to_string();
    let me = bao_ok(
        server,
        Some(&new_root),
        &["token", "lookup", "-format=json"],
    );
    assert_eq!(me["data"]["policies"], json!(["root"]), "{me}");
}

/// The whole auto-unseal flow against `provider` (a server with transit at `transit/` and a
/// key `unseal`, root token `root`).
async fn auto_unseal_flow(provider: &Server) {
    let seal = stanza(provider, "root", false);
    let arca = Server::with_config_extra(None, &seal);
    let bao = bao_with_config_extra(&seal);

    // Before init: the same status shape as OpenBao's (values aside).
    let (a, b) = (seal_status(&arca).await, seal_status(&bao).await);
    for key in [
        "type",
        "initialized",
        "sealed",
        "t",
        "n",
        "progress",
        "recovery_seal",
        "recovery_seal_type",
        "migration",
    ] {
        assert_eq!(a[key], b[key], "seal-status {key}: arca {a} bao {b}");
    }
    assert_eq!(a["type"], "transit");
    assert_eq!(a["recovery_seal"], true);

    // Init refuses the other seal's parameters, and bad recovery configs, as OpenBao does.
    for body in [
        json!({"secret_shares": 3, "secret_threshold": 2}),
        json!({"recovery_shares": 3, "recovery_threshold": 1}),
        json!({"recovery_shares": 2, "recovery_threshold": 3}),
    ] {
        let x = call(&arca, "PUT", "sys/init", None, Some(body.clone())).await;
        let y = call(&bao, "PUT", "sys/init", None, Some(body.clone())).await;
        assert_eq!(x.status, 400, "{body}: {}", x.body);
        assert_eq!((x.status, &x.body), (y.status, &y.body), "{body}");
    }
    drop(bao);

    // Init through the real CLI: recovery keys, no unseal keys; the server unseals itself.
    let init = bao_ok(
        &arca,
        None,
        &[
            "operator",
            "init",
            "-recovery-shares=5",
            "-recovery-threshold=3",
            "-format=json",
        ],
    );
    assert_eq!(init["unseal_keys_b64"], json!([]), "{init}");
    let recovery = strings(&init["recovery_keys_b64"]);
    assert_eq!(recovery.len(), 5);
    assert_eq!(strings(&init["recovery_keys_hex"]).len(), 5);
    let root = init["root_token"].as_str().expect("root").to_string();
    wait_unsealed(&arca).await;
    let status = seal_status(&arca).await;
    assert_eq!(
        (status["t"].clone(), status["n"].clone()),
        (json!(3), json!(5))
    );
    assert_eq!(status["recovery_seal_type"], "shamir");
    enable_kv(&arca, &root);
    bao_ok(
        &arca,
        Some(&root),
        &["kv", "put", "-mount=secret", "app", "v=1"],
    );

    // A restart unseals through the provider, with no key from anyone.
    let dir = arca.stop();
    let arca = Server::with_config_extra(dir, &seal);
    wait_unsealed(&arca).await;
    let got = bao_ok(
        &arca,
        Some(&root),
        &["kv", "get", "-mount=secret", "-format=json", "app"],
    );
    assert_eq!(got["data"]["data"]["v"], "1", "{got}");

    // After a manual seal, recovery keys unseal; a wrong set is refused with OpenBao's text.
    bao_ok(&arca, Some(&root), &["operator", "seal"]);
    let wrong = [&recovery[0], &recovery[1]]
        .into_iter()
        .cloned()
        .chain([init["recovery_keys_b64"][4]
            .as_str()
            .map(|k| {
                // The same share with a byte of its value changed.
                let mut bytes = base64_decode(k);
                bytes[0] ^= 0x01;
                base64_encode(&bytes)
            })
            .expect("key")])
        .collect::<Vec<_>>();
    for (i, key) in wrong.iter().enumerate() {
        let body = json!({ "key": key });
        let r = call(&arca, "PUT", "sys/unseal", None, Some(body)).await;
        if i < 2 {
            assert_eq!(r.body["progress"], json!(i + 1), "{}", r.body);
        } else {
            assert_eq!(r.status, 400, "{}", r.body);
            assert_eq!(
                r.body["errors"],
                json!([
                    "invalid key: failed to verify recovery key: recovery key does not match submitted values"
                ])
            );
        }
    }
    for key in &recovery[..3] {
        bao_ok(&arca, None, &["operator", "unseal", key]);
    }
    assert_eq!(seal_status(&arca).await["sealed"], false);

    // generate-root takes the recovery keys (required = the recovery threshold).
    let attempt = call(
        &arca,
        "GET",
        "sys/generate-root-token/attempt",
        Some(&root),
        None,
    )
    .await;
    assert_eq!(attempt.body["data"]["required"], 3, "{}", attempt.body);
    generate_root_with(&arca, &root, &recovery[2..5]);

    // rekey -target=recovery makes new recovery shares; the old ones stop working.
    let started = bao_ok(
        &arca,
        Some(&root),
        &[
            "operator",
            "rekey",
            "-target=recovery",
            "-init",
            "-key-shares=3",
            "-key-threshold=2",
            "-format=json",
        ],
    );
    let nonce = started["nonce"].as_str().expect("nonce").to_string();
    let mut done = Value::Null;
    for key in &recovery[..3] {
        done = bao_ok(
            &arca,
            Some(&root),
            &[
                "operator",
                "rekey",
                "-target=recovery",
                &format!("-nonce={nonce}"),
                "-format=json",
                key,
            ],
        );
    }
    assert_eq!(done["complete"], json!(true), "{done}");
    let new_recovery = strings(&done["keys_base64"]);
    assert_eq!(new_recovery.len(), 3);
    let status = seal_status(&arca).await;
    assert_eq!(
        (status["t"].clone(), status["n"].clone()),
        (json!(2), json!(3))
    );
    bao_ok(&arca, Some(&root), &["operator", "seal"]);
    // The new threshold is 2: the second old share completes the set, which is refused.
    bao_ok(&arca, None, &["operator", "unseal", &recovery[0]]);
    let err = bao_fails(&arca, None, &["operator", "unseal", &recovery[1]]);
    assert!(err.contains("recovery key does not match"), "{err}");
    for key in &new_recovery[1..] {
        bao_ok(&arca, None, &["operator", "unseal", key]);
    }
    assert_eq!(seal_status(&arca).await["sealed"], false);
    generate_root_with(&arca, &root, &new_recovery[..2]);

    // Old recovery shares: generate-root and the recovery rekey refuse them with OpenBao's
    // texts (OpenBao answers the generate-root one with a 500; Arca with a 400).
    let attempt = call(
        &arca,
        "PUT",
        "sys/generate-root-token/attempt",
        Some(&root),
        Some(json!({})),
    )
    .await;
    let nonce = attempt.body["data"]["nonce"]
        .as_str()
        .expect("nonce")
        .to_string();
    let mut last = None;
    for key in &recovery[..2] {
        let body = json!({ "key": key, "nonce": nonce });
        last = Some(
            call(
                &arca,
                "PUT",
                "sys/generate-root-token/update",
                Some(&root),
                Some(body),
            )
            .await,
        );
    }
    let last = last.expect("answer");
    assert_eq!(last.status, 400, "{}", last.body);
    assert_eq!(
        last.body["errors"],
        json!([
            "1 error occurred:\n\t* root generation aborted: unable to authenticate: recovery key verification failed: recovery key does not match submitted values\n\n"
        ])
    );
    let started = call(
        &arca,
        "PUT",
        "sys/rekey-recovery-key/init",
        Some(&root),
        Some(json!({"secret_shares": 1, "secret_threshold": 1})),
    )
    .await;
    let nonce = started.body["nonce"].as_str().expect("nonce").to_string();
    let mut last = None;
    for key in &recovery[..2] {
        let body = json!({ "key": key, "nonce": nonce });
        last = Some(
            call(
                &arca,
                "PUT",
                "sys/rekey-recovery-key/update",
                Some(&root),
                Some(body),
            )
            .await,
        );
    }
    let last = last.expect("answer");
    assert_eq!(last.status, 400, "{}", last.body);
    assert_eq!(
        last.body["errors"],
        json!(["recovery key verification failed: recovery key does not match submitted values"])
    );
    call(
        &arca,
        "DELETE",
        "sys/rekey-recovery-key/init",
        Some(&root),
        None,
    )
    .await;

    // The root key of an auto seal is not rekeyed (Arca refuses; see the report).
    let err = bao_fails(
        &arca,
        Some(&root),
        &[
            "operator",
            "rekey",
            "-init",
            "-key-shares=1",
            "-key-threshold=1",
        ],
    );
    assert!(err.contains("rekey the recovery key instead"), "{err}");
}

/// Mounts KV v2 at `secret/`, for a secret that must survive every seal change.
fn enable_kv(server: &Server, root: &str) {
    bao_ok(
        server,
        Some(root),
        &["secrets", "enable", "-path=secret", "-version=2", "kv"],
    );
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64")
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_unseal_by_openbao() {
    let provider = openbao_provider();
    auto_unseal_flow(&provider).await;
}

/// The same flow with an Arca server (its transit secrets engine) as the transit provider.
#[tokio::test(flavor = "multi_thread")]
async fn auto_unseal_by_arca() {
    let provider = Server::dev();
    for args in [
        &["secrets", "enable", "transit"][..],
        &["write", "-f", "transit/keys/unseal"][..],
    ] {
        bao_ok(&provider, Some("root"), args);
    }
    auto_unseal_flow(&provider).await;
}

/// While the transit server refuses (here: the seal's token lost its policy), the server
/// answers sealed, logs the failure without the token and retries; it unseals itself as
/// soon as the provider answers again.
#[tokio::test(flavor = "multi_thread")]
async fn auto_unseal_retries_until_the_provider_answers() {
    let provider = openbao_provider();
    let allow = "path \"transit/encrypt/unseal\" { capabilities = [\"update\"] }\npath \"transit/decrypt/unseal\" { capabilities = [\"update\"] }\n";
    write_policy(&provider, "unseal", allow).await;
    let created = bao_ok(
        &provider,
        Some("root"),
        &[
            "token",
            "create",
            "-orphan",
            "-policy=unseal",
            "-no-default-policy",
            "-format=json",
        ],
    );
    let token = created["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    let seal = stanza(&provider, &token, false);
    let arca = Server::with_config_extra(None, &seal);
    let init = call(
        &arca,
        "PUT",
        "sys/init",
        None,
        Some(json!({"recovery_shares": 1, "recovery_threshold": 1})),
    )
    .await;
    assert_eq!(init.status, 200, "{}", init.body);
    wait_unsealed(&arca).await;

    // The provider now refuses the seal's token: a restarted Arca stays sealed, retrying.
    write_policy(
        &provider,
        "unseal",
        "path \"sys/nothing\" { capabilities = [\"read\"] }\n",
    )
    .await;
    let dir = arca.stop();
    let arca = Server::with_config_extra(dir, &seal);
    wait_until_async("a failed auto-unseal in the log", UNSEAL_WAIT, || async {
        log_of(&arca)
            .matches("failed to unseal core")
            .nth(1)
            .map(|_| ())
    })
    .await;
    let status = seal_status(&arca).await;
    assert_eq!(status["sealed"], true, "{status}");
    assert_eq!(status["initialized"], true, "{status}");
    let log = log_of(&arca);
    assert!(log.contains("403"), "{log}");
    assert!(!log.contains(&token), "the seal's token is in the log");

    // The provider answers again: the server unseals itself, nobody submits a key.
    write_policy(&provider, "unseal", allow).await;
    wait_unsealed(&arca).await;
}

/// `operator unseal -migrate`: a Shamir-sealed store moves to transit (the unseal keys become
/// the recovery keys), then back to Shamir (the recovery keys become the unseal keys).
#[tokio::test(flavor = "multi_thread")]
async fn migration_shamir_to_transit_and_back() {
    let provider = openbao_provider();
    let arca = Server::with_config_extra(None, "");
    let init = bao_ok(
        &arca,
        None,
        &[
            "operator",
            "init",
            "-key-shares=3",
            "-key-threshold=2",
            "-format=json",
        ],
    );
    let keys = strings(&init["unseal_keys_b64"]);
    let root = init["root_token"].as_str().expect("root").to_string();
    // A Shamir seal refuses recovery parameters, as OpenBao's does.
    let refused = call(
        &arca,
        "PUT",
        "sys/init",
        None,
        Some(json!({"recovery_shares": 3, "recovery_threshold": 2})),
    )
    .await;
    assert_eq!(
        refused.body["errors"],
        json!(["parameters recovery_shares,recovery_threshold not applicable to seal type shamir"])
    );
    for key in &keys[..2] {
        bao_ok(&arca, None, &["operator", "unseal", key]);
    }
    enable_kv(&arca, &root);
    bao_ok(
        &arca,
        Some(&root),
        &["kv", "put", "-mount=secret", "app", "v=1"],
    );
    // Without a pending migration, -migrate is refused.
    bao_ok(&arca, Some(&root), &["operator", "seal"]);
    let err = bao_fails(&arca, None, &["operator", "unseal", "-migrate", &keys[0]]);
    assert!(
        err.contains("can't perform a seal migration, no migration seal found"),
        "{err}"
    );

    // Shamir -> transit: the config names the transit seal.
    let dir = arca.stop();
    let to_transit = stanza(&provider, "root", false);
    let arca = Server::with_config_extra(dir, &to_transit);
    let status = seal_status(&arca).await;
    assert_eq!(status["migration"], true, "{status}");
    assert_eq!(status["type"], "transit", "{status}");
    assert_eq!(status["recovery_seal"], true, "{status}");
    assert_eq!(
        (status["t"].clone(), status["n"].clone()),
        (json!(2), json!(3))
    );
    let r = call(
        &arca,
        "PUT",
        "sys/unseal",
        None,
        Some(json!({"key": keys[0]})),
    )
    .await;
    assert_eq!(
        r.body["errors"],
        json!(["migrate option not provided and seal migration is pending"]),
        "{}",
        r.body
    );
    for key in &keys[1..] {
        bao_ok(&arca, None, &["operator", "unseal", "-migrate", key]);
    }
    let status = seal_status(&arca).await;
    assert_eq!(status["sealed"], false, "{status}");
    assert_eq!(status["migration"], false, "{status}");
    // From now on it unseals itself, and the old unseal keys are its recovery keys.
    let dir = arca.stop();
    let arca = Server::with_config_extra(dir, &to_transit);
    wait_unsealed(&arca).await;
    generate_root_with(&arca, &root, &keys[..2]);
    let got = bao_ok(
        &arca,
        Some(&root),
        &["kv", "get", "-mount=secret", "-format=json", "app"],
    );
    assert_eq!(got["data"]["data"]["v"], "1", "{got}");

    // Transit -> Shamir: the transit stanza says disabled = "true".
    let dir = arca.stop();
    let back = stanza(&provider, "root", true);
    let arca = Server::with_config_extra(dir, &back);
    let status = seal_status(&arca).await;
    assert_eq!(status["migration"], true, "{status}");
    assert_eq!(status["type"], "shamir", "{status}");
    assert_eq!(status["recovery_seal"], false, "{status}");
    assert!(status.get("recovery_seal_type").is_none(), "{status}");
    // This leg through Arca's own CLI.
    for key in &keys[..2] {
        arca_ok(&arca, None, &["operator", "unseal", "-migrate", key]);
    }
    assert_eq!(seal_status(&arca).await["sealed"], false);

    // Shamir again, without any seal stanza: sealed at start, the same shares unseal.
    let dir = arca.stop();
    let arca = Server::with_config_extra(dir, "");
    let status = seal_status(&arca).await;
    assert_eq!(status["sealed"], true, "{status}");
    assert_eq!(status["migration"], false, "{status}");
    assert_eq!(status["type"], "shamir", "{status}");
    for key in &keys[1..] {
        bao_ok(&arca, None, &["operator", "unseal", key]);
    }
    let got = bao_ok(
        &arca,
        Some(&root),
        &["kv", "get", "-mount=secret", "-format=json", "app"],
    );
    assert_eq!(got["data"]["data"]["v"], "1", "{got}");
}

/// Arca's own CLI drives an auto-sealed server as `bao` does: `operator init` sends only the
/// recovery parameters and prints recovery keys (unseal shares 1 of 1), `operator rekey
/// -target=recovery` replaces them, `operator unseal` takes them after a manual seal.
#[tokio::test(flavor = "multi_thread")]
async fn arca_cli_with_an_auto_seal() {
    let provider = openbao_provider();
    let arca = Server::with_config_extra(None, &stanza(&provider, "root", false));
    let init = arca_ok(
        &arca,
        None,
        &[
            "operator",
            "init",
            "-recovery-shares=3",
            "-recovery-threshold=2",
            "-format=json",
        ],
    );
    assert_eq!(init["unseal_keys_b64"], json!([]), "{init}");
    assert_eq!(init["unseal_shares"], 1, "{init}");
    assert_eq!(init["recovery_keys_shares"], 3, "{init}");
    assert_eq!(init["recovery_keys_threshold"], 2, "{init}");
    let recovery = strings(&init["recovery_keys_b64"]);
    assert_eq!(recovery.len(), 3);
    let root = init["root_token"].as_str().expect("root").to_string();
    wait_unsealed(&arca).await;

    let (code, _, err) = run_arca(
        &arca.addr,
        Some(&root),
        &["operator", "rekey", "-target=nope", "-init"],
    );
    assert_eq!((code, err.trim()), (1, "Unknown target: nope"));
    let started = arca_ok(
        &arca,
        Some(&root),
        &[
            "operator",
            "rekey",
            "-target=recovery",
            "-init",
            "-key-shares=2",
            "-key-threshold=2",
            "-format=json",
        ],
    );
    let nonce = started["nonce"].as_str().expect("nonce").to_string();
    assert_eq!(started["required"], 2, "{started}");
    let mut done = Value::Null;
    for key in &recovery[..2] {
        done = arca_ok(
            &arca,
            Some(&root),
            &[
                "operator",
                "rekey",
                "-target=recovery",
                &format!("-nonce={nonce}"),
                "-format=json",
                key,
            ],
        );
    }
    assert_eq!(done["complete"], json!(true), "{done}");
    let new_recovery = strings(&done["keys_base64"]);
    arca_ok(&arca, Some(&root), &["operator", "seal"]);
    for key in &new_recovery {
        arca_ok(&arca, None, &["operator", "unseal", key]);
    }
    assert_eq!(seal_status(&arca).await["sealed"], false);
}
