//! `bao token|policy|login` against Arca and against OpenBao 2.7.2 give the same exit codes and
//! output (tokens, accessors, ids, times and durations normalised; `s.` vs `hvs.` is a
//! documented difference); the `arca` CLI against Arca answers as `bao` does against OpenBao,
//! for tokens, policies, login and kv. `bao login -method=userpass` is not covered: Arca has no
//! userpass auth method yet.

mod common;

use common::{Server, arca_bin, bao, bao_dev, normalise, run_bao, run_cli_in, same_bao, same_cli};
use serde_json::Value;

const APP_POLICY: &str = "path \"secret/data/app/*\" {\n  capabilities = [\"read\"]\n}\n";

fn policy_file() -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(f.path(), APP_POLICY).expect("write policy");
    f
}

/// Token commands with fixed ids (root may set them), so both servers see the same names.
const TOKEN_AND_POLICY_COMMANDS: &[&[&str]] = &[
    &["policy", "list"],
    &["policy", "read", "app"],
    &["policy", "read", "-format=json", "app"],
    &["policy", "read", "nope"],
    &["policy", "delete", "nope"],
    &["token", "create", "-id=lim", "-policy=app", "-ttl=1h"],
    &["token", "create", "-id=lim", "-policy=app"],
    &["token", "lookup", "lim"],
    &["token", "lookup", "-format=json", "lim"],
    &["token", "renew", "-increment=30m", "lim"],
    &["token", "renew", "-format=json", "-increment=20m", "lim"],
    &["token", "capabilities", "lim", "secret/data/app/x"],
    &["token", "capabilities", "lim", "secret/data/other"],
    &["token", "capabilities", "secret/data/app/x"],
    &[
        "token",
        "create",
        "-id=lim2",
        "-policy=app",
        "-use-limit=2",
        "-ttl=1h",
        "-renewable=false",
        "-display-name=foo",
        "-metadata=a=b",
    ],
    &["token", "lookup", "lim2"],
    &["token", "renew", "lim2"],
    &["token", "create", "-orphan", "-id=orph", "-ttl=1h"],
    &["token", "lookup", "-format=json", "orph"],
    &["token", "create", "-period=1h", "-id=per"],
    &["token", "lookup", "per"],
    &[
        "token",
        "create",
        "-format=json",
        "-type=batch",
        "-policy=app",
        "-ttl=1h",
    ],
    // Not `token create -type=batch -use-limit=3`: the CLI always sends
    // `"explicit_max_ttl":"0s"`, and OpenBao then skips its batch `num_uses`/`period` checks
    // (answering "batch tokens cannot be root tokens" here, or creating a batch token with
    // uses); Arca refuses with "batch tokens cannot have \"num_uses\" set".
    &["token", "revoke", "lim"],
    &["token", "lookup", "lim"],
    &["token", "revoke", "lim"],
    &["token", "renew", "lim"],
    &["token", "revoke", "-mode=orphan", "per"],
    &["token", "lookup", "per"],
    &["policy", "delete", "app"],
    &["policy", "list"],
];

#[test]
fn bao_token_and_policy_commands_match_openbao() {
    let arca = Server::dev();
    let openbao = bao_dev();
    let file = policy_file();
    let path = file.path().to_str().expect("path");
    same_bao(&arca, &openbao, "root", &["policy", "write", "app", path]);
    same_bao(
        &arca,
        &openbao,
        "root",
        &["policy", "write", "bad", "/dev/null"],
    );
    same_bao(&arca, &openbao, "root", &["policy", "fmt", path]);
    for args in TOKEN_AND_POLICY_COMMANDS {
        same_bao(&arca, &openbao, "root", args);
    }
    // As a limited token: its own lookup, renew and capabilities; refusals elsewhere.
    same_bao(&arca, &openbao, "root", &["policy", "write", "app", path]);
    same_bao(
        &arca,
        &openbao,
        "root",
        &["token", "create", "-id=mine", "-policy=app"],
    );
    for args in [
        &["token", "lookup"][..],
        &["token", "capabilities", "secret/data/app/x"],
        &["token", "capabilities", "root", "sys/mounts"],
        &["token", "renew", "-increment=1h"],
        &["token", "create"],
        &["token", "lookup", "root"],
        &["policy", "list"],
        &["kv", "get", "secret/other"],
        &["token", "revoke", "-self"],
        &["token", "lookup"],
    ] {
        same_bao(&arca, &openbao, "mine", args);
    }
}

#[test]
fn bao_login_matches_openbao() {
    let arca = Server::dev();
    let openbao = bao_dev();
    same_bao(
        &arca,
        &openbao,
        "root",
        &["token", "create", "-id=who", "-ttl=1h"],
    );
    for args in [
        &["login", "-no-store", "who"][..],
        &["login", "-no-store", "-format=json", "who"],
        &["login", "-no-store", "bogus"],
        &["login", "-no-store", "-token-only", "who"],
    ] {
        same_bao(&arca, &openbao, "root", args);
    }
    // Without -no-store the token lands in the token helper (~/.vault-token), each server in
    // its own HOME; a following command uses it.
    let mut stored = Vec::new();
    for s in [&arca, &openbao] {
        let home = tempfile::tempdir().expect("home");
        let login = run_cli_in(&bao(), &s.addr, None, &["login", "who"], home.path());
        assert_eq!(login.0, 0, "{}", login.2);
        let helper = std::fs::read_to_string(home.path().join(".vault-token")).expect("helper");
        assert_eq!(helper.trim(), "who");
        let lookup = run_cli_in(&bao(), &s.addr, None, &["token", "lookup"], home.path());
        stored.push((normalise(&login.1), lookup.0, normalise(&lookup.1)));
    }
    assert_eq!(stored[0], stored[1], "left: Arca, right: OpenBao");
}

#[test]
fn arca_cli_answers_as_bao_does() {
    let arca = Server::dev();
    let openbao = bao_dev();
    let file = policy_file();
    let path = file.path().to_str().expect("path");
    let cli = |args: &[&str]| same_cli(&arca, &openbao, "root", args);
    cli(&["policy", "write", "app", path]);
    for args in [
        &["policy", "list"][..],
        &["policy", "read", "app"],
        &["policy", "read", "nope"],
        &["policy", "write", "app2", path],
        &["policy", "delete", "app2"],
        &["token", "capabilities", "secret/data/app/x"],
        &["login", "-no-store", "root"],
        &["kv", "put", "secret/cli", "a=1"],
        &["kv", "put", "-format=json", "secret/cli", "a=2"],
        &["kv", "get", "secret/cli"],
        &["kv", "get", "-format=json", "secret/cli"],
        &["kv", "get", "-version=1", "-field=a", "secret/cli"],
        &["kv", "patch", "secret/cli", "b=2"],
        &["kv", "patch", "secret/nope", "a=1"],
        &["kv", "metadata", "get", "secret/cli"],
        &["kv", "metadata", "put", "-max-versions=3", "secret/cli"],
        &["kv", "list", "secret"],
        &["kv", "delete", "secret/cli"],
        &["kv", "get", "secret/cli"],
        &["kv", "undelete", "-versions=3", "secret/cli"],
        &["kv", "destroy", "-versions=1", "secret/cli"],
        &["kv", "rollback", "-version=2", "secret/cli"],
        &["kv", "get", "secret/cli"],
        &["kv", "metadata", "delete", "secret/cli"],
        &["kv", "get", "secret/cli"],
        &["kv", "get", "secret/nope"],
    ] {
        cli(args);
    }
    // Tokens: created without a custom id (no warning), then addressed by the value each
    // server handed out.
    let mut made = Vec::new();
    for (bin_is_arca, s) in [(true, &arca), (false, &openbao)] {
        let args = ["token", "create", "-format=json", "-policy=app", "-ttl=1h"];
        let (code, out, err) = if bin_is_arca {
            run_cli_in(
                &arca_bin(),
                &s.addr,
                Some("root"),
                &args,
                &std::env::temp_dir(),
            )
        } else {
            run_bao(&s.addr, Some("root"), &args)
        };
        assert_eq!(code, 0, "{err}");
        let v: Value = serde_json::from_str(&out).expect("json");
        made.push(
            v["auth"]["client_token"]
                .as_str()
                .expect("token")
                .to_string(),
        );
    }
    for args in [
        &["token", "lookup"][..],
        &["token", "lookup", "-format=json"],
        &["token", "capabilities", "secret/data/app/x"],
        &["token", "renew", "-increment=30m"],
        &["kv", "get", "secret/other"],
        &["token", "revoke", "-self"],
        &["token", "lookup"],
    ] {
        let a = run_cli_in(
            &arca_bin(),
            &arca.addr,
            Some(&made[0]),
            args,
            &std::env::temp_dir(),
        );
        let b = run_bao(&openbao.addr, Some(&made[1]), args);
        assert_eq!(
            (a.0, normalise(&format!("{}{}", a.1, a.2))),
            (b.0, normalise(&format!("{}{}", b.1, b.2))),
            "{} (left: arca CLI on Arca, right: bao on OpenBao)",
            args.join(" ")
        );
    }
}
