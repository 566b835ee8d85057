//! `namespace` commands and the `-namespace`/`-ns` flags and `BAO_NAMESPACE`/`VAULT_NAMESPACE`
//! compared with the real `bao` CLI against one real `bao` dev server (namespaces are part of
//! OpenBao's open-source build).

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::collections::BTreeMap;

use common::{Outcome, Server, arca, bao};
use serde_json::Value;

type Env = BTreeMap<String, String>;

/// Every namespace id on the server (two levels deep), to hide them in outputs: ids are
/// random per namespace, and bao and arca work on different namespaces in [`pair`].
fn namespace_ids(env: &Env) -> Vec<String> {
    let mut ids = Vec::new();
    let mut parents = vec![String::new()];
    for _depth in 0..2 {
        let mut next = Vec::new();
        for parent in &parents {
            let ns = format!("-namespace={parent}");
            let out = arca(
                env,
                &["namespace", "list", "-detailed", "-format=json", &ns],
                "",
            );
            let Ok(Value::Object(info)) = serde_json::from_str::<Value>(&out.stdout) else {
                continue;
            };
            for entry in info.values() {
                if let Some(id) = entry["id"].as_str() {
                    ids.push(id.to_string());
                }
                if let Some(path) = entry["path"].as_str() {
                    next.push(path.to_string());
                }
            }
        }
        parents = next;
    }
    ids
}

/// [`common::normalise`], namespace ids and unlock keys hidden, `zzb` (bao's names) read as
/// `zza` (arca's).
fn fix(text: &str, ids: &[String]) -> String {
    let mut s = common::normalise(text).replace("zzb", "zza");
    for id in ids {
        // Ids are six characters: "<nsid>" keeps the table columns where they were.
        s = s.replace(id.as_str(), "<nsid>");
    }
    let rules = [
        (r"(Unlock Key: )\S+", "${1}<key>"),
        (r#"("unlock_key": ")[^"]+"#, "${1}<key>"),
        (r"(unlock_key: )\S+", "${1}<key>"),
        (r"(Unseal Key \d+: )\S+", "${1}<share>"),
        (r#""[0-9a-f]{66}""#, "\"<share>\""),
        (r"- [0-9a-f]{66}", "- <share>"),
    ];
    for (re, rep) in rules {
        s = regex::Regex::new(re)
            .unwrap()
            .replace_all(&s, rep)
            .into_owned();
    }
    s
}

/// Assert two outcomes of the same command match once normalised.
fn assert_alike(env: &Env, what: &str, b: &Outcome, a: &Outcome) {
    let ids = namespace_ids(env);
    assert_eq!(
        a.code, b.code,
        "exit code of {what}\nbao: {b:?}\narca: {a:?}"
    );
    assert_eq!(
        fix(&a.stdout, &ids),
        fix(&b.stdout, &ids),
        "stdout of {what}"
    );
    assert_eq!(
        fix(&a.stderr, &ids),
        fix(&b.stderr, &ids),
        "stderr of {what}"
    );
}

fn run_arca(env: &Env, args: &[&str]) -> Outcome {
    common::arca_with(env, args, "", arca_cli::SecretPrompt::NotATerminal)
}

/// Run `args` with both CLIs on the same names and compare.
fn same(env: &Env, args: &[&str]) -> Outcome {
    let b = bao(env, args);
    let a = run_arca(env, args);
    assert_alike(env, &format!("{args:?}"), &b, &a);
    a
}

/// Like [`same`] with the lines of stdout compared as sets: OpenBao lists namespaces in
/// no particular order, and `bao` prints the JSON/YAML list as the server sent it.
fn same_lines(env: &Env, args: &[&str]) {
    let mut b = bao(env, args);
    let mut a = run_arca(env, args);
    for o in [&mut b, &mut a] {
        // The last element of a JSON list has no comma: which one that is varies.
        let mut lines: Vec<&str> = o.stdout.lines().map(|l| l.trim_end_matches(',')).collect();
        lines.sort();
        o.stdout = lines.join("\n");
    }
    assert_alike(env, &format!("{args:?}"), &b, &a);
}

/// Run a mutating command with both CLIs on separate names: `zzx` in the arguments becomes
/// `zzb` for bao and `zza` for arca.
fn pair(env: &Env, args: &[&str]) -> (Outcome, Outcome) {
    let b_args: Vec<String> = args.iter().map(|a| a.replace("zzx", "zzb")).collect();
    let a_args: Vec<String> = args.iter().map(|a| a.replace("zzx", "zza")).collect();
    let b = bao(env, &b_args.iter().map(String::as_str).collect::<Vec<_>>());
    let a = run_arca(env, &a_args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_alike(env, &format!("{args:?}"), &b, &a);
    (b, a)
}

fn with(env: &Env, name: &str, value: &str) -> Env {
    let mut env = env.clone();
    env.insert(name.to_string(), value.to_string());
    env
}

fn unlock_key(out: &Outcome) -> String {
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    v["unlock_key"].as_str().unwrap().to_string()
}

#[test]
fn namespace_commands_match_bao() {
    let server = Server::dev();
    let env = server.env(Some("root"));

    // Nothing yet, and argument and flag errors.
    same(&env, &["namespace", "list"]);
    same(&env, &["namespace", "list", "-format=json"]);
    same(&env, &["namespace", "list", "x"]);
    same(&env, &["namespace", "create"]);
    same(&env, &["namespace", "create", "a", "b"]);
    same(&env, &["namespace", "create", " "]);
    same(&env, &["namespace", "create", "-custom-metadata=c", "x"]);
    same(&env, &["namespace", "create", "x", "-custom-metadata=a=b"]);
    same(&env, &["namespace", "lookup"]);
    same(&env, &["namespace", "lookup", "a", "b"]);
    same(&env, &["namespace", "delete", "x", "-y"]);
    same(&env, &["namespace", "delete", "-format=json", "x"]);
    same(&env, &["namespace", "patch", "x"]);
    same(&env, &["namespace", "patch", "-custom-metadata=c", "x"]);
    same(&env, &["namespace", "lock", "a", "b"]);
    same(&env, &["namespace", "unlock", "a", "b"]);

    // create, in every output format, at the root and below team-a.
    assert_eq!(bao(&env, &["namespace", "create", "team-a"]).code, 0);
    assert_eq!(bao(&env, &["namespace", "create", "team-b"]).code, 0);
    pair(&env, &["namespace", "create", "zzx-a"]);
    pair(
        &env,
        &[
            "namespace",
            "create",
            "-custom-metadata=a=1",
            "-custom-metadata=b=2",
            "zzx-b",
        ],
    );
    pair(&env, &["namespace", "create", "-format=json", "zzx-c"]);
    pair(&env, &["namespace", "create", "-format=yaml", "zzx-d"]);
    pair(&env, &["namespace", "create", "-field=path", "zzx-e"]);
    pair(&env, &["namespace", "create", "-field=nope", "zzx-f"]);
    pair(
        &env,
        &["namespace", "create", "-namespace=team-a", "zzx-child"],
    );
    pair(&env, &["namespace", "create", "-ns=/team-a/", "zzx-child2"]);

    // lookup.
    same(&env, &["namespace", "lookup", "zza-b"]);
    same(&env, &["namespace", "lookup", "-format=json", "zza-b"]);
    same(&env, &["namespace", "lookup", "-format=yaml", "zza-b/"]);
    same(&env, &["namespace", "lookup", "nosuch"]);
    same(&env, &["namespace", "lookup", "-format=json", "nosuch"]);
    same(&env, &["namespace", "lookup", "team-a/zza-child"]);
    same(
        &env,
        &["namespace", "lookup", "-namespace=team-a", "zza-child"],
    );

    // list.
    same(&env, &["namespace", "list"]);
    same(&env, &["namespace", "list", "-detailed"]);
    same_lines(&env, &["namespace", "list", "-format=json"]);
    same_lines(&env, &["namespace", "list", "-format=yaml"]);
    same(&env, &["namespace", "list", "-detailed", "-format=json"]);
    same(
        &env,
        &[
            "namespace",
            "list",
            "-ns=team-a",
            "-detailed",
            "-format=yaml",
        ],
    );
    same(&env, &["namespace", "list", "-namespace=team-a"]);

    // patch: add, change and remove custom metadata.
    pair(
        &env,
        &[
            "namespace",
            "patch",
            "-custom-metadata=c=3",
            "-remove-custom-metadata=a",
            "zzx-b",
        ],
    );
    pair(
        &env,
        &[
            "namespace",
            "patch",
            "-format=json",
            "-custom-metadata=c=4",
            "zzx-b",
        ],
    );
    pair(
        &env,
        &[
            "namespace",
            "patch",
            "-field=custom_metadata",
            "-custom-metadata=d=5",
            "zzx-b",
        ],
    );
    same(
        &env,
        &["namespace", "patch", "-custom-metadata=c=3", "nosuch"],
    );

    // lock and unlock: a child, the current namespace, with and without the unlock key.
    pair(&env, &["namespace", "lock", "zzx-c"]);
    pair(&env, &["namespace", "lookup", "zzx-c"]);
    pair(&env, &["namespace", "lock", "zzx-c"]);
    pair(&env, &["namespace", "unlock", "zzx-c"]);
    let (b, a) = pair(&env, &["namespace", "lock", "-format=json", "zzx-d"]);
    let (b_key, a_key) = (unlock_key(&b), unlock_key(&a));
    pair(&env, &["namespace", "unlock", "-unlock-key=bogus", "zzx-d"]);
    let b = bao(
        &env,
        &[
            "namespace",
            "unlock",
            &format!("-unlock-key={b_key}"),
            "zzb-d",
        ],
    );
    let a = run_arca(
        &env,
        &[
            "namespace",
            "unlock",
            &format!("-unlock-key={a_key}"),
            "zza-d",
        ],
    );
    assert_alike(&env, "unlock with the key", &b, &a);
    pair(&env, &["namespace", "lock", "-format=yaml", "zzx-d"]);
    pair(&env, &["namespace", "lock", "-namespace=zzx-e"]);
    pair(&env, &["namespace", "list", "-namespace=zzx-e"]);
    pair(&env, &["namespace", "unlock", "-namespace=zzx-e"]);
    same(&env, &["namespace", "lock", "nosuch"]);
    same(&env, &["namespace", "unlock", "nosuch"]);

    // The namespace flags and variables on other commands.
    assert_eq!(
        bao(
            &env,
            &["secrets", "enable", "-ns=team-a", "-path=kv2", "kv-v2"]
        )
        .code,
        0
    );
    assert_eq!(
        bao(&env, &["kv", "put", "-namespace=team-a", "kv2/x", "a=1"]).code,
        0
    );
    same(&env, &["secrets", "list", "-namespace=team-a"]);
    same(&env, &["secrets", "list", "-ns=team-a", "-format=json"]);
    same(&env, &["kv", "get", "-ns=team-a", "-format=json", "kv2/x"]);
    same(&with(&env, "BAO_NAMESPACE", "team-a"), &["secrets", "list"]);
    same(
        &with(&env, "VAULT_NAMESPACE", "team-a"),
        &["read", "kv2/data/x"],
    );
    same(
        &with(&env, "BAO_NAMESPACE", "nosuchns"),
        &["secrets", "list"],
    );
    // The flag wins over the environment, -ns over -namespace, and an empty flag means root.
    same(
        &with(&env, "BAO_NAMESPACE", "team-b"),
        &["read", "-namespace=team-a", "kv2/data/x"],
    );
    same(
        &env,
        &["read", "-ns=team-b", "-namespace=team-a", "kv2/data/x"],
    );
    same(
        &with(&env, "BAO_NAMESPACE", "team-a"),
        &["read", "-namespace=", "sys/namespaces/team-a"],
    );

    // delete: one with children, one that does not exist, then real deletions.
    same(&env, &["namespace", "delete", "team-a"]);
    same(&env, &["namespace", "delete", "nosuch"]);
    pair(&env, &["namespace", "delete", "zzx-a"]);
    pair(
        &env,
        &["namespace", "delete", "-namespace=team-a", "zzx-child/"],
    );

    // Namespaces with a seal of their own.
    pair(&env, &["namespace", "create", "-key-shares=3", "zzx-bad"]);
    pair(
        &env,
        &[
            "namespace",
            "create",
            "-key-shares=1",
            "-key-threshold=1",
            "zzx-t",
        ],
    );
    let (b, a) = pair(
        &env,
        &[
            "namespace",
            "create",
            "-key-shares=3",
            "-key-threshold=2",
            "-format=json",
            "zzx-s",
        ],
    );
    let shares = |o: &Outcome| -> Vec<String> {
        let v: Value = serde_json::from_str(&o.stdout).unwrap();
        v["key_shares"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect()
    };
    let (b_keys, a_keys) = (shares(&b), shares(&a));
    pair(&env, &["namespace", "seal-status", "zzx-s"]);
    pair(&env, &["namespace", "seal-status", "-format=json", "zzx-s"]);
    pair(&env, &["namespace", "unseal", "zzx-s", "zz"]);
    pair(&env, &["namespace", "unseal"]);
    let unseal = |b_key: &str, a_key: &str, extra: &[&str]| {
        let mut b_args = vec!["namespace", "unseal"];
        b_args.extend_from_slice(extra);
        let mut a_args = b_args.clone();
        b_args.extend(["zzb-s", b_key]);
        a_args.extend(["zza-s", a_key]);
        let b = bao(&env, &b_args);
        let a = run_arca(&env, &a_args);
        assert_alike(&env, &format!("{a_args:?}"), &b, &a);
    };
    unseal(&b_keys[0], &a_keys[0], &[]);
    pair(&env, &["namespace", "unseal", "-reset", "zzx-s"]);
    unseal(&b_keys[1], &a_keys[1], &["-format=json"]);
    unseal(&b_keys[2], &a_keys[2], &[]);
    pair(&env, &["namespace", "seal-status", "zzx-s"]);
    pair(&env, &["namespace", "seal", "zzx-s"]);
    pair(&env, &["namespace", "seal", "zzx-s"]);
    pair(&env, &["namespace", "seal-status", "-format=yaml", "zzx-s"]);
}
