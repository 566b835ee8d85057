//! Priority-3 commands (token, policy, login, secrets, auth, kv, plugin) compared with the
//! real `bao` CLI against a real `bao` dev server.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{Server, arca, bao, same};

/// Run a mutating command with both CLIs on separate names: `zzx` in the arguments becomes
/// `zzb` for bao and `zza` for arca; outputs must match once the names are swapped back.
fn pair(env: &std::collections::BTreeMap<String, String>, args: &[&str]) -> common::Outcome {
    let b_args: Vec<String> = args.iter().map(|a| a.replace("zzx", "zzb")).collect();
    let a_args: Vec<String> = args.iter().map(|a| a.replace("zzx", "zza")).collect();
    let b_ref: Vec<&str> = b_args.iter().map(String::as_str).collect();
    let a_ref: Vec<&str> = a_args.iter().map(String::as_str).collect();
    let b = bao(env, &b_ref);
    let a = common::arca_with(env, &a_ref, "", arca_cli::SecretPrompt::NotATerminal);
    let fix = |t: &str| common::normalise(t).replace("zzb", "zza");
    let strip = |t: &str| {
        regex::Regex::new(r"[a-z_]+_[0-9a-f]{8}\b")
            .unwrap()
            .replace_all(t, "<accessor>")
            .into_owned()
    };
    assert_eq!(
        a.code, b.code,
        "exit code of {args:?}\nbao: {b:?}\narca: {a:?}"
    );
    assert_eq!(
        strip(&fix(&a.stdout)),
        strip(&fix(&b.stdout)),
        "stdout of {args:?}"
    );
    assert_eq!(
        strip(&fix(&a.stderr)),
        strip(&fix(&b.stderr)),
        "stderr of {args:?}"
    );
    a
}

#[test]
fn token_commands_match_bao() {
    let server = Server::dev();
    let env = server.env(Some("root"));
    same(&env, &["token", "lookup"]);
    same(&env, &["token", "lookup", "-format=json"]);
    same(&env, &["token", "lookup", "a", "b"]);
    same(&env, &["token", "lookup", "-accessor"]);
    same(&env, &["token", "capabilities", "sys/mounts"]);
    same(&env, &["token", "capabilities", "root", "sys/mounts"]);
    same(
        &env,
        &[
            "token",
            "capabilities",
            "-format=json",
            "root",
            "sys/mounts",
        ],
    );
    same(&env, &["token", "capabilities"]);
    same(&env, &["token", "renew"]);
    same(&env, &["token", "renew", "a", "b"]);
    same(&env, &["token", "revoke"]);
    same(&env, &["token", "revoke", "-self", "x"]);
    same(&env, &["token", "revoke", "-mode=bad", "x"]);
    same(&env, &["token", "revoke", "-accessor", "-mode=orphan", "x"]);
    same(&env, &["token", "revoke", "nosuch"]);
    same(&env, &["token", "create", "-ttl=bad"]);
    same(&env, &["token", "create", "-metadata=x"]);
    same(&env, &["token", "create", "extra"]);
    same(&env, &["token", "create", "-role=x"]);
    same(&env, &["token"]);
    let created = arca(
        &env,
        &[
            "token",
            "create",
            "-policy=default",
            "-ttl=1h",
            "-format=json",
        ],
        "",
    );
    assert_eq!(created.code, 0, "{created:?}");
    let v: serde_json::Value = serde_json::from_str(&created.stdout).unwrap();
    assert_eq!(v["auth"]["lease_duration"], 3600);
    let tok = v["auth"]["client_token"].as_str().unwrap().to_string();
    let acc = v["auth"]["accessor"].as_str().unwrap().to_string();
    same(&env, &["token", "capabilities", &tok, "sys/mounts"]);
    same(&env, &["token", "renew", "-increment=2h", &tok]);
    same(
        &env,
        &["token", "lookup", "-format=json", "-field=policies", &tok],
    );
    same(&env, &["token", "revoke", "-accessor", &acc]);
    same(&env, &["token", "lookup", &tok]);
    let table = arca(&env, &["token", "create", "-policy=default", "-ttl=1h"], "");
    assert!(
        table.stdout.contains("token_duration       1h\n"),
        "{table:?}"
    );
    assert!(
        table.stdout.contains("token_policies       [\"default\"]"),
        "{table:?}"
    );
}

#[test]
fn policy_and_login_match_bao() {
    let server = Server::dev();
    let env = server.env(Some("root"));
    let file = common::scratch(&server, "p.hcl");
    std::fs::write(&file, "path \"a/*\" {\n capabilities=[\"read\"]\n}\n").unwrap();
    let f = file.display().to_string();
    same(&env, &["policy", "write", "p1", &f]);
    same(&env, &["policy", "write", "p2", "/nonexistent"]);
    same(&env, &["policy", "write", "bad", "/dev/null"]);
    same(&env, &["policy", "read", "p1"]);
    same(&env, &["policy", "read", "-format=json", "p1"]);
    same(&env, &["policy", "read", "-format=yaml", "default"]);
    same(&env, &["policy", "read", "nosuch"]);
    same(&env, &["policy", "read"]);
    same(&env, &["policy", "list"]);
    same(&env, &["policy", "list", "-format=json"]);
    same(&env, &["policy", "list", "x"]);
    same(&env, &["policy", "delete", "p1"]);
    same(&env, &["policy", "fmt", "/nonexistent"]);
    same(&env, &["policy"]);
    // fmt rewrites the file: run bao on one copy and arca on another.
    let src = "# c\npath \"a/*\" {\ncapabilities=[\"read\",\"list\"]\n    min_wrapping_ttl = \"1s\"\n}\npath \"b\" { capabilities = [\"deny\"] }\n";
    let (fa, fb) = (
        common::scratch(&server, "a.hcl"),
        common::scratch(&server, "b.hcl"),
    );
    std::fs::write(&fa, src).unwrap();
    std::fs::write(&fb, src).unwrap();
    assert_eq!(
        bao(&env, &["policy", "fmt", &fb.display().to_string()]).code,
        0
    );
    assert_eq!(
        arca(&env, &["policy", "fmt", &fa.display().to_string()], "").code,
        0
    );
    assert_eq!(
        std::fs::read_to_string(&fa).unwrap(),
        std::fs::read_to_string(&fb).unwrap()
    );

    // login with a token: stores ~/.vault-token under HOME.
    let token_file = server.home.path().join(".vault-token");
    same(&env, &["login", "root"]);
    assert_eq!(std::fs::read_to_string(&token_file).unwrap(), "root");
    std::fs::remove_file(&token_file).unwrap();
    same(&env, &["login", "-no-store", "root"]);
    assert!(!token_file.exists());
    same(&env, &["login", "-format=json", "root"]);
    same(&env, &["login", "-token-only", "root"]);
    same(&env, &["login", "bogus"]);
    same(&env, &["login", "-no-store", "-no-print", "root"]);
    same(&env, &["login", "-method=nosuch", "x"]);
    same(&env, &["login", "a", "b"]);
    let noenv = server.env(None);
    same(&noenv, &["login"]);
    same(&noenv, &["login", "root"]);
    // userpass
    assert_eq!(bao(&env, &["auth", "enable", "userpass"]).code, 0);
    assert_eq!(
        bao(
            &env,
            &[
                "write",
                "auth/userpass/users/bob",
                "password=pw",
                "token_policies=default"
            ]
        )
        .code,
        0
    );
    same(
        &env,
        &[
            "login",
            "-method=userpass",
            "username=bob",
            "password=wrong",
        ],
    );
    same(
        &env,
        &[
            "login",
            "-method=userpass",
            "-path=nope",
            "username=bob",
            "password=pw",
        ],
    );
    same(&env, &["login", "-method=userpass", "a=b"]);
    same(
        &env,
        &[
            "login",
            "-method=userpass",
            "-no-print",
            "username=bob",
            "password=pw",
        ],
    );
    same(
        &env,
        &[
            "login",
            "-method=userpass",
            "-field=token_policies",
            "username=bob",
            "password=pw",
        ],
    );
    let up = arca(
        &env,
        &["login", "-method=userpass", "username=bob", "password=pw"],
        "",
    );
    assert_eq!(up.code, 0, "{up:?}");
    assert!(up.stdout.contains("token_meta_username    bob"), "{up:?}");
    let stored = std::fs::read_to_string(&token_file).unwrap();
    assert!(stored.starts_with("s."), "{stored}");
}

#[test]
fn secrets_and_auth_match_bao() {
    let server = Server::dev();
    let env = server.env(Some("root"));
    pair(
        &env,
        &["secrets", "enable", "-path=zzx2", "-version=2", "kv"],
    );
    pair(&env, &["secrets", "enable", "-path=zzxkv", "kv"]);
    pair(&env, &["secrets", "enable", "-path=zzxkv", "kv"]);
    pair(&env, &["secrets", "enable", "zzxnosuch"]);
    pair(&env, &["secrets", "enable"]);
    pair(
        &env,
        &[
            "secrets",
            "enable",
            "-description=my d",
            "-default-lease-ttl=1h",
            "-max-lease-ttl=2h",
            "-audit-non-hmac-request-keys=a",
            "-passthrough-request-headers=X",
            "-options=foo=bar",
            "-local",
            "-seal-wrap",
            "-force-no-cache",
            "-path=zzxt",
            "transit",
        ],
    );
    same(&env, &["secrets", "list"]);
    same(&env, &["secrets", "list", "-format=json"]);
    same(&env, &["secrets", "list", "-format=yaml"]);
    pair(
        &env,
        &[
            "secrets",
            "tune",
            "-default-lease-ttl=1h",
            "-description=tuned",
            "zzxkv",
        ],
    );
    pair(&env, &["secrets", "tune", "zzxnosuch"]);
    pair(&env, &["secrets", "tune", "-max-lease-ttl=bad", "zzxkv"]);
    pair(&env, &["secrets", "tune", "-options=version=2", "zzxkv"]);
    same(&env, &["secrets", "list", "-detailed"]);
    let mv = arca(&env, &["secrets", "move", "zzakv", "zzam"], "");
    assert_eq!(mv.code, 0, "{mv:?}");
    assert!(
        mv.stdout
            .contains("Success! Finished moving secrets engine zzakv/ to zzam/"),
        "{mv:?}"
    );
    assert_eq!(bao(&env, &["secrets", "move", "zzbkv", "zzbm"]).code, 0);
    pair(&env, &["secrets", "move", "zzxm"]);
    pair(&env, &["secrets", "move", "zzxnosuch", "x"]);
    pair(&env, &["secrets", "disable", "zzxm"]);
    pair(&env, &["secrets", "disable", "zzxnosuch"]);
    pair(&env, &["auth", "enable", "-path=zzxup", "userpass"]);
    pair(&env, &["auth", "enable", "-path=zzxup", "userpass"]);
    pair(
        &env,
        &["auth", "enable", "-path=zzxu", "-description=x", "userpass"],
    );
    pair(&env, &["auth", "enable", "zzxnosuch"]);
    pair(
        &env,
        &[
            "auth",
            "tune",
            "-token-type=batch",
            "-listing-visibility=unauth",
            "-audit-non-hmac-response-keys=b",
            "-allowed-response-headers=Y",
            "zzxup",
        ],
    );
    pair(&env, &["auth", "tune", "-default-lease-ttl=30m", "zzxu"]);
    same(&env, &["auth", "list"]);
    same(&env, &["auth", "list", "-detailed"]);
    same(&env, &["auth", "list", "-format=json"]);
    pair(&env, &["auth", "disable", "zzxu"]);
    pair(&env, &["auth", "disable", "zzxnosuch"]);
}

#[test]
fn kv_matches_bao() {
    let server = Server::dev();
    let env = server.env(Some("root"));
    assert_eq!(
        bao(
            &env,
            &["secrets", "enable", "-path=zzx1", "-version=1", "kv"]
        )
        .code,
        0
    );
    pair(
        &env,
        &[
            "kv",
            "put",
            "-mount=secret",
            "zzx/db",
            "user=admin",
            "pass=s3",
        ],
    );
    pair(
        &env,
        &["kv", "put", "secret/zzx/db", "user=admin", "pass=v2"],
    );
    pair(&env, &["kv", "put", "-format=json", "secret/zzx/db", "a=1"]);
    pair(&env, &["kv", "put", "-cas=0", "secret/zzx/db", "a=1"]);
    pair(&env, &["kv", "get", "secret/zzx/db"]);
    pair(
        &env,
        &["kv", "get", "-version=1", "-format=json", "secret/zzx/db"],
    );
    pair(&env, &["kv", "get", "-field=a", "secret/zzx/db"]);
    pair(&env, &["kv", "get", "-field=nope", "secret/zzx/db"]);
    pair(&env, &["kv", "get", "secret/zzx/nope"]);
    pair(&env, &["kv", "get", "-mount=secret", "zzxnope"]);
    pair(&env, &["kv", "get", "nosuchmount/x"]);
    pair(&env, &["kv", "get", "secret"]);
    pair(&env, &["kv", "get"]);
    pair(&env, &["kv", "put", "secret/x"]);
    pair(&env, &["kv", "put", "zzx1/foo", "bar=baz"]);
    pair(&env, &["kv", "get", "zzx1/foo"]);
    pair(&env, &["kv", "get", "-format=json", "zzx1/foo"]);
    pair(&env, &["kv", "get", "-field=bar", "zzx1/foo"]);
    pair(&env, &["kv", "get", "zzx1/nope"]);
    pair(&env, &["kv", "patch", "secret/zzx/db", "b=2"]);
    pair(&env, &["kv", "patch", "secret/zzx/nope", "b=2"]);
    pair(&env, &["kv", "patch", "-method=rw", "secret/zzx/db", "c=3"]);
    pair(&env, &["kv", "patch", "zzx1/foo", "a=1"]);
    pair(&env, &["kv", "list", "secret/zzx"]);
    pair(&env, &["kv", "list", "secret/"]);
    pair(&env, &["kv", "list", "-format=json", "secret/zzx"]);
    pair(&env, &["kv", "list", "secret/nope"]);
    pair(&env, &["kv", "list", "zzx1"]);
    pair(&env, &["kv", "delete", "secret/zzx/db"]);
    pair(&env, &["kv", "delete", "-versions=1", "secret/zzx/db"]);
    pair(&env, &["kv", "get", "secret/zzx/db"]);
    pair(&env, &["kv", "undelete", "secret/zzx/db"]);
    pair(&env, &["kv", "undelete", "-versions=5", "secret/zzx/db"]);
    pair(&env, &["kv", "destroy", "-versions=1", "secret/zzx/db"]);
    pair(&env, &["kv", "destroy", "zzx1/foo"]);
    pair(
        &env,
        &[
            "kv",
            "metadata",
            "put",
            "-max-versions=5",
            "-custom-metadata=owner=cli",
            "-delete-version-after=1h",
            "-cas-required",
            "secret/zzx/db",
        ],
    );
    pair(&env, &["kv", "metadata", "get", "secret/zzx/db"]);
    pair(
        &env,
        &["kv", "metadata", "get", "-format=json", "secret/zzx/db"],
    );
    pair(&env, &["kv", "metadata", "get", "secret/nope"]);
    pair(
        &env,
        &[
            "kv",
            "metadata",
            "patch",
            "-max-versions=7",
            "secret/zzx/db",
        ],
    );
    pair(
        &env,
        &[
            "kv",
            "metadata",
            "patch",
            "-custom-metadata=x=y",
            "secret/nope",
        ],
    );
    pair(&env, &["kv", "metadata", "get", "zzx1/foo"]);
    pair(&env, &["kv", "rollback", "-version=1", "secret/zzx/db"]);
    pair(&env, &["kv", "rollback", "secret/zzx/db"]);
    let rb = arca(&env, &["kv", "rollback", "-version=5", "secret/zza/db"], "");
    assert_eq!(rb.code, 0, "{rb:?}");
    assert!(rb.stdout.contains("version            6"), "{rb:?}");
    pair(&env, &["kv", "metadata", "delete", "secret/zzx/db"]);
    pair(&env, &["kv", "delete", "zzx1/foo"]);
    pair(&env, &["kv", "enable-versioning", "zzx1"]);
}

#[test]
fn plugin_commands_match_bao() {
    let server = Server::dev();
    let env = server.env(Some("root"));
    same(&env, &["plugin", "list"]);
    same(&env, &["plugin", "list", "secret"]);
    same(&env, &["plugin", "list", "-detailed"]);
    same(&env, &["plugin", "list", "-format=json"]);
    same(&env, &["plugin", "list", "bogus"]);
    same(&env, &["plugin", "info", "secret", "kv"]);
    same(&env, &["plugin", "info", "-format=json", "secret", "kv"]);
    same(&env, &["plugin", "info", "secret", "nosuch"]);
    same(&env, &["plugin", "info", "kv"]);
    same(&env, &["plugin", "info", "bogus", "kv"]);
    same(&env, &["plugin", "reload", "-plugin=kv"]);
    same(&env, &["plugin", "reload", "-mounts=secret/"]);
    same(&env, &["plugin", "reload"]);
    same(&env, &["plugin", "reload", "-plugin=kv", "-mounts=x"]);
    same(&env, &["plugin", "reload-status"]);
    same(&env, &["plugin", "reload-status", "abc"]);
    same(
        &env,
        &["plugin", "register", "-sha256=00", "secret", "nosuch"],
    );
    same(&env, &["plugin", "register", "secret", "nosuch"]);
    same(&env, &["plugin", "deregister", "secret", "nosuch"]);
    same(
        &env,
        &[
            "plugin",
            "deregister",
            "-version=v1.0.0",
            "secret",
            "nosuch",
        ],
    );
    same(&env, &["plugin", "deregister", "nosuch"]);
}
