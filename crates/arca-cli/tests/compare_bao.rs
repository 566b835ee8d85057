//! Runs the same commands with the real `bao` CLI and with arca's client commands against a
//! real `bao` server, and asserts the same output and exit codes.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{Server, arca, bao, normalise, same};

#[test]
fn read_write_list_delete_match_bao() {
    let server = Server::dev();
    let env = server.env(Some("root"));
    assert_eq!(
        bao(
            &env,
            &["secrets", "enable", "-path=kv1", "-version=1", "kv"]
        )
        .code,
        0
    );

    let w = same(&env, &["write", "kv1/foo", "a=1", "b=two"]);
    assert_eq!(w.stdout, "Success! Data written to: kv1/foo\n");
    let r = same(&env, &["read", "kv1/foo"]);
    assert!(
        r.stdout.contains("refresh_interval    768h"),
        "{}",
        r.stdout
    );
    same(&env, &["read", "-format=json", "kv1/foo"]);
    same(&env, &["read", "--format", "yaml", "kv1/foo"]);
    let f = same(&env, &["read", "-field=b", "kv1/foo"]);
    assert_eq!(f.stdout, "two");
    same(&env, &["read", "-field=zz", "kv1/foo"]);
    same(&env, &["read", "-format", "json", "-field", "b", "kv1/foo"]);
    same(&env, &["read", "kv1/missing"]);
    same(&env, &["read", "secret/nope"]);
    same(&env, &["read", "sys/mounts/kv1/tune"]);
    same(&env, &["read", "auth/token/lookup-self"]);
    same(&env, &["read", "-format=yaml", "auth/token/lookup-self"]);
    same(&env, &["list", "kv1"]);
    same(&env, &["list", "-format=json", "kv1"]);
    same(&env, &["list", "kv1/none"]);
    same(&env, &["list", "-format=json", "kv1/none"]);
    same(&env, &["write", "kv1/x"]);
    same(&env, &["write", "-f", "kv1/x"]);
    same(&env, &["write", "kv1/x", "a"]);
    same(&env, &["write", "-format=json", "kv1/z", "a=1"]);
    same(&env, &["delete", "kv1/z"]);
    same(&env, &["patch", "kv1/foo", "a=1"]);
    same(&env, &["path-help", "kv1/foo"]);

    // key=@file, repeated keys and JSON on stdin.
    let file = common::scratch(&server, "value.txt");
    std::fs::write(&file, "filedata").unwrap();
    let at = format!("a=@{}", file.display());
    same(&env, &["write", "kv1/j2", &at, "a=2"]);
    same(&env, &["read", "-format=json", "-field=a", "kv1/j2"]);
    let piped = arca(&env, &["write", "kv1/j", "-"], r#"{"x": {"y": 1}, "n": 2}"#);
    assert_eq!(piped.code, 0, "{piped:?}");
    same(&env, &["read", "kv1/j"]);

    // Usage errors and bad flags.
    same(&env, &["read"]);
    same(&env, &["read", "-token=bad", "sys/mounts"]);
    same(&env, &["read", "-format=xml", "sys/health"]);
    same(&env, &["read", "-format"]);
    same(&env, &["status", "extra"]);

    // Server errors: bad token.
    let bad = server.env(Some("bad-token"));
    same(&bad, &["read", "sys/mounts"]);

    // Token from the token file when no VAULT_TOKEN is set.
    let no_env = server.env(None);
    std::fs::write(server.home.path().join(".vault-token"), "root\n").unwrap();
    same(
        &no_env,
        &["read", "-field=display_name", "auth/token/lookup-self"],
    );
}

#[test]
fn status_and_dev_operator_commands_match_bao() {
    let server = Server::dev();
    let env = server.env(Some("root"));
    let s = same(&env, &["status"]);
    assert!(s.stdout.contains("Sealed          false"));
    same(&env, &["status", "-format=json"]);
    same(&env, &["status", "-format=yaml"]);
    same(&env, &["operator", "key-status"]);
    same(&env, &["operator", "key-status", "-format=json"]);
    same(&env, &["operator", "generate-root", "-status"]);
    same(
        &env,
        &["operator", "generate-root", "-status", "-format=json"],
    );
    same(&env, &["operator", "generate-root", "-cancel"]);
    same(&env, &["operator", "rekey", "-status"]);
    same(&env, &["operator", "init", "-status"]);
    same(&env, &["operator", "init"]);
    same(&env, &["operator", "unseal", "abc"]);
    same(&env, &["operator", "init", "-pgp-keys=/nonexistent/key"]);
    // rotate bumps the term: compare shape, not numbers.
    let a = arca(&env, &["operator", "rotate"], "");
    assert_eq!(a.code, 0);
    assert!(
        a.stdout
            .starts_with("Success! Rotated key\n\nKey Term            2\n"),
        "{}",
        a.stdout
    );
    // Connection errors.
    let dead = {
        let mut e = env.clone();
        e.insert("VAULT_ADDR".into(), "http://127.0.0.1:9".into());
        e
    };
    same(&dead, &["status"]);
    same(&dead, &["read", "a/b"]);
    // Sealing is last: the server is useless afterwards.
    same(&env, &["operator", "seal"]);
    let sealed = same(&env, &["status"]);
    assert_eq!(sealed.code, 2);
    same(&env, &["read", "sys/mounts"]);
}

#[test]
fn init_unseal_and_generate_root_against_a_fresh_server() {
    let server = Server::uninitialised();
    let env = server.env(None);
    let st = same(&env, &["status"]);
    assert_eq!(st.code, 2);
    same(&env, &["operator", "init", "-status"]);
    same(
        &env,
        &["operator", "init", "-key-shares=3", "-key-threshold=5"],
    );

    let init = arca(
        &env,
        &[
            "operator",
            "init",
            "-key-shares=3",
            "-key-threshold=2",
            "-format=json",
        ],
        "",
    );
    assert_eq!(init.code, 0, "{init:?}");
    let v: serde_json::Value = serde_json::from_str(&init.stdout).unwrap();
    assert_eq!(v["unseal_shares"], 3);
    assert_eq!(v["unseal_threshold"], 2);
    let keys: Vec<String> = v["unseal_keys_b64"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys.len(), 3);
    let root = v["root_token"].as_str().unwrap().to_string();
    same(&env, &["operator", "init", "-status"]);

    // Unseal: first key by argument, progress shown; reset; then key from the prompt.
    let one = arca(&env, &["operator", "unseal", &keys[0]], "");
    assert_eq!(one.code, 0);
    assert!(
        one.stdout.contains("Unseal Progress    1/2"),
        "{}",
        one.stdout
    );
    same(&env, &["status"]);
    let reset = arca(&env, &["operator", "unseal", "-reset"], "");
    assert!(
        reset.stdout.contains("Unseal Progress    0/2"),
        "{}",
        reset.stdout
    );
    same(&env, &["operator", "unseal"]);
    let prompted = arca(&env, &["operator", "unseal"], &format!("{}\n", keys[1]));
    assert!(
        prompted
            .stdout
            .starts_with("Unseal Key (will be hidden): \n")
    );
    assert!(
        prompted.stdout.contains("Unseal Progress    1/2"),
        "{}",
        prompted.stdout
    );
    let done = arca(&env, &["operator", "unseal", "-format=json", &keys[2]], "");
    assert_eq!(done.code, 0);
    let s: serde_json::Value = serde_json::from_str(&done.stdout).unwrap();
    assert_eq!(s["sealed"], false);
    let renv = server.env(Some(&root));
    same(&renv, &["status"]);

    // Root token generation with an OTP, then decoding.
    let otp = arca(&renv, &["operator", "generate-root", "-generate-otp"], "").stdout;
    assert_eq!(otp.len(), 26);
    same(&renv, &["operator", "generate-root", "-status"]);
    let started = arca(
        &renv,
        &[
            "operator",
            "generate-root",
            "-init",
            &format!("-otp={otp}"),
            "-format=json",
        ],
        "",
    );
    assert_eq!(started.code, 0, "{started:?}");
    let nonce = serde_json::from_str::<serde_json::Value>(&started.stdout).unwrap()["nonce"]
        .as_str()
        .unwrap()
        .to_string();
    same(&renv, &["operator", "generate-root", "-status"]);
    same(&renv, &["operator", "generate-root", &keys[0]]);
    let nonce_flag = format!("-nonce={nonce}");
    let p1 = arca(
        &renv,
        &["operator", "generate-root", &nonce_flag, &keys[0]],
        "",
    );
    assert!(p1.stdout.contains("Progress    1/2"), "{}", p1.stdout);
    let p2 = arca(
        &renv,
        &[
            "operator",
            "generate-root",
            &nonce_flag,
            "-format=json",
            &keys[1],
        ],
        "",
    );
    let fin: serde_json::Value = serde_json::from_str(&p2.stdout).unwrap();
    assert_eq!(fin["complete"], true);
    let encoded = fin["encoded_token"].as_str().unwrap().to_string();
    let decode = format!("-decode={encoded}");
    let otp_flag = format!("-otp={otp}");
    let token = same(&renv, &["operator", "generate-root", &decode, &otp_flag]);
    assert!(token.stdout.starts_with("s."), "{token:?}");
    same(
        &renv,
        &[
            "operator",
            "generate-root",
            &decode,
            &otp_flag,
            "-format=json",
        ],
    );
    same(&renv, &["operator", "generate-root", &decode]);
    // The generated token works.
    let lookup = arca(
        &server.env(Some(&token.stdout)),
        &["read", "-field=policies", "auth/token/lookup-self"],
        "",
    );
    assert_eq!(lookup.stdout, "[root]");
    same(&renv, &["operator", "generate-root", "-cancel"]);

    // Same init output shape as bao: compare a second init attempt's error.
    same(&renv, &["operator", "init"]);
    assert_eq!(
        normalise(&arca(&renv, &["operator", "seal"], "").stdout),
        "Success! Vault is sealed.\n"
    );
}
