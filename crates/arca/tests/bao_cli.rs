//! The real `bao` CLI against Arca and against OpenBao 2.7.2: `bao status`, `bao operator init`,
//! `bao operator unseal` and `bao read sys/health` give the same answers (same exit codes, same
//! JSON keys and value types; ids, times and versions aside).

mod common;

use std::collections::BTreeSet;

use common::{Server, bao, run_bao, spawn_on_free_port};
use serde_json::Value;

/// An uninitialized OpenBao with integrated storage (its only durable backend); its cluster
/// listener takes the port after the API port, which `free_port` leaves free.
fn openbao_uninitialized() -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    spawn_on_free_port(&bao(), Some(dir), |port, dir| {
        let dir = dir.expect("data dir");
        let cluster = port + 1;
        let raft = dir.join("raft");
        let _ = std::fs::remove_dir_all(&raft);
        std::fs::create_dir_all(&raft).expect("raft dir");
        let cfg = dir.join("bao.hcl");
        std::fs::write(
            &cfg,
            format!(
                "storage \"raft\" {{\n  path = \"{}\"\n  node_id = \"n1\"\n}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  cluster_address = \"127.0.0.1:{cluster}\"\n  tls_disable = true\n}}\napi_addr = \"http://127.0.0.1:{port}\"\ncluster_addr = \"http://127.0.0.1:{cluster}\"\n",
                raft.display()
            ),
        )
        .expect("config");
        vec!["server".into(), format!("-config={}", cfg.display())]
    })
}

/// The shape of a JSON value: keys (recursively) and value types, nothing else.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.first().map(shape).into_iter().collect()),
        Value::String(_) => Value::String("string".into()),
        Value::Number(_) => Value::String("number".into()),
        Value::Bool(_) => Value::String("bool".into()),
        Value::Null => Value::Null,
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn json_out(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn bao_cli_gives_the_same_answers_against_arca_and_openbao() {
    let arca = Server::with_file_storage(None);
    let reference = openbao_uninitialized();
    let mut answers = Vec::new();
    for s in [&arca, &reference] {
        // Uninitialized: `bao status` exits 2 (sealed) and says so.
        let (code, out, err) = run_bao(&s.addr, None, &["status", "-format=json"]);
        assert_eq!(code, 2, "status on {}: {out}{err}", s.addr);
        let before = json_out(&out);
        assert_eq!(before["initialized"], false);

        let (code, out, err) = run_bao(
            &s.addr,
            None,
            &[
                "operator",
                "init",
                "-key-shares=1",
                "-key-threshold=1",
                "-format=json",
            ],
        );
        assert_eq!(code, 0, "init on {}: {err}", s.addr);
        let init = json_out(&out);
        let key = init["unseal_keys_b64"][0]
            .as_str()
            .expect("key")
            .to_string();
        let root = init["root_token"].as_str().expect("root").to_string();

        let (code, out, err) =
            run_bao(&s.addr, None, &["operator", "unseal", "-format=json", &key]);
        assert_eq!(code, 0, "unseal on {}: {err}", s.addr);
        let unsealed = json_out(&out);
        assert_eq!(unsealed["sealed"], false);

        let (code, out, err) = run_bao(&s.addr, None, &["status"]);
        assert_eq!(code, 0, "status after unseal on {}: {err}", s.addr);
        assert!(
            out.lines()
                .any(|l| l.starts_with("Sealed ") && l.trim_end().ends_with("false")),
            "{out}"
        );

        let (code, out, err) = run_bao(
            &s.addr,
            Some(&root),
            &["read", "-format=json", "sys/health"],
        );
        assert_eq!(code, 0, "read sys/health on {}: {err}", s.addr);
        let health = json_out(&out);
        assert_eq!(health["data"]["initialized"], true);
        assert_eq!(health["data"]["sealed"], false);

        answers.push((before, init, unsealed, health));
    }
    let (a, b) = (&answers[0], &answers[1]);
    assert_eq!(keys(&a.0), keys(&b.0), "bao status -format=json keys");
    assert_eq!(
        shape(&a.1),
        shape(&b.1),
        "bao operator init -format=json shape"
    );
    // Arca is not HA yet: OpenBao with raft reports its HA fields in status; compare the rest.
    let ha_only: BTreeSet<String> = [
        "ha_enabled",
        "is_self",
        "active_time",
        "leader_address",
        "leader_cluster_address",
        "raft_committed_index",
        "raft_applied_index",
        "performance_standby",
        "performance_standby_last_remote_wal",
        "last_wal",
        "ha_cluster",
        "raft_leader_id",
        "raft_leader_address",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let ka: BTreeSet<String> = keys(&a.2).difference(&ha_only).cloned().collect();
    let kb: BTreeSet<String> = keys(&b.2).difference(&ha_only).cloned().collect();
    assert_eq!(ka, kb, "bao operator unseal -format=json keys");
    // Arca adds `performance_standby` (vaultrs needs it; a README deviation).
    let mut arca_health = keys(&a.3["data"]);
    assert!(arca_health.remove("performance_standby"));
    assert_eq!(
        arca_health,
        keys(&b.3["data"]),
        "bao read sys/health data keys"
    );
}
