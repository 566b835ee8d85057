//! Integrated storage end to end: real `arca` processes with `storage "raft"` on loopback.
//!
//! A 3-node cluster forms (init bootstraps the first node; one node joins by `retry_join` in
//! its config, one through `sys/storage/raft/join`; each joins only once unsealed with the
//! cluster's key); writes through standbys land; `kill -9` of the active node under a write
//! load hands over within 10 s and loses no acknowledged write; the killed node comes back and
//! catches up; remove-peer; a snapshot saved on the cluster and restored on a fresh one gives
//! the same data. `bao operator raft list-peers` reads Arca's configuration.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::ha::{Writer, assert_all_present, is_active, wait_for};
use common::{Server, call, free_port, run_bao, spawn_on_free_port};
use serde_json::{Value, json};

/// A node: its server, its data directory (kept across restarts) and cluster address.
fn start_node(name: &str, dir: Option<tempfile::TempDir>, extra: &str) -> Server {
    start_node_fresh(name, dir, extra).0
}

/// [`start_node`] that also returns the cluster port it took: a new one for each start
/// attempt, as for the API port, so a port another process took meanwhile is not fatal.
fn start_node_fresh(name: &str, dir: Option<tempfile::TempDir>, extra: &str) -> (Server, u16) {
    spawn_node(name, dir, extra, None)
}

/// [`start_node`] with its cluster port given (a restarted node keeps its address).
fn start_node_on(
    name: &str,
    dir: Option<tempfile::TempDir>,
    extra: &str,
    cluster_port: u16,
) -> Server {
    spawn_node(name, dir, extra, Some(cluster_port)).0
}

/// Starts a node on a free API port and on `cluster_port` (or a free one per attempt).
fn spawn_node(
    name: &str,
    dir: Option<tempfile::TempDir>,
    extra: &str,
    fixed_cluster_port: Option<u16>,
) -> (Server, u16) {
    let name = name.to_string();
    let extra = extra.to_string();
    let dir = dir.unwrap_or_else(|| tempfile::tempdir().unwrap());
    let taken = std::cell::Cell::new(0u16);
    let server = spawn_on_free_port(&common::arca_bin(), Some(dir), |port, dir| {
        let cluster_port = fixed_cluster_port.unwrap_or_else(free_port);
        taken.set(cluster_port);
        let dir: &Path = dir.unwrap();
        let cfg = dir.join("config.hcl");
        std::fs::write(
            &cfg,
            format!(
                r#"storage "raft" {{
  path = "{}"
  node_id = "{name}"
  performance_multiplier = 1
{extra}
}}
listener "tcp" {{
  address = "127.0.0.1:{port}"
  tls_disable = true
}}
disable_mlock = true
api_addr = "http://127.0.0.1:{port}"
cluster_addr = "https://127.0.0.1:{cluster_port}"
"#,
                dir.join("raft").display()
            ),
        )
        .unwrap();
        vec!["server".into(), format!("-config={}", cfg.display())]
    });
    (server, taken.get())
}

async fn unseal(s: &Server, key: &str) -> Value {
    let r = call(s, "PUT", "sys/unseal", None, Some(json!({ "key": key }))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

async fn init(s: &Server) -> (String, String) {
    let init = call(
        s,
        "PUT",
        "sys/init",
        None,
        Some(json!({"secret_shares": 1, "secret_threshold": 1})),
    )
    .await;
    assert_eq!(init.status, 200, "{}", init.body);
    (
        init.body["keys_base64"][0].as_str().unwrap().to_string(),
        init.body["root_token"].as_str().unwrap().to_string(),
    )
}

async fn servers(s: &Server, token: &str) -> Vec<Value> {
    let r = call(
        s,
        "GET",
        "sys/storage/raft/configuration",
        Some(token),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["data"]["config"]["servers"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_form_forward_fail_over_and_restore() {
    let (n1, n1_cluster_port) = start_node_fresh("node1", None, "");
    let (key, root) = init(&n1).await;
    assert_eq!(unseal(&n1, &key).await["sealed"], false);
    wait_for(Duration::from_secs(20), "node1 active", || is_active(&n1)).await;
    // At its first activation node1 moves the cluster's CA key inside the barrier: only its
    // own certificate and key stay on disk.
    let tls_dir = n1.dir.as_ref().unwrap().path().join("raft/tls");
    wait_for(
        Duration::from_secs(10),
        "the CA key to leave the disk",
        || async { !tls_dir.join("ca.key").exists() },
    )
    .await;
    assert!(tls_dir.join("node.key").exists() && tls_dir.join("ca.der").exists());
    let r = call(
        &n1,
        "POST",
        "sys/mounts/secret",
        Some(&root),
        Some(json!({"type": "kv", "options": {"version": "2"}})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = call(
        &n1,
        "PUT",
        "secret/data/first",
        Some(&root),
        Some(json!({"data": {"v": "1"}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // node2 joins by retry_join from its config; node3 through the join endpoint.
    let n2 = start_node(
        "node2",
        None,
        &format!(
            "  retry_join {{\n    leader_api_addr = \"{}\"\n  }}",
            n1.addr
        ),
    );
    let n3 = start_node("node3", None, "");
    let r = call(
        &n3,
        "POST",
        "sys/storage/raft/join",
        None,
        Some(json!({"leader_api_addr": n1.addr})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"joined": true}));
    // A joining node reports the cluster's seal (initialized, sealed, its threshold).
    wait_for(
        Duration::from_secs(20),
        "node2's join challenge",
        || async {
            call(&n2, "GET", "sys/seal-status", None, None).await.body["initialized"] == true
        },
    )
    .await;
    let st = call(&n3, "GET", "sys/seal-status", None, None).await.body;
    assert_eq!(st["initialized"], true, "{st}");
    assert_eq!(st["sealed"], true);
    assert_eq!(st["t"], 1);
    // A wrong key is refused and the join stays pending.
    let wrong = call(
        &n3,
        "PUT",
        "sys/unseal",
        None,
        Some(json!({"key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="})),
    )
    .await;
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    for n in [&n2, &n3] {
        let st = unseal(n, &key).await;
        assert_eq!(st["sealed"], false, "{st}");
    }
    // All three vote; one leads.
    wait_for(Duration::from_secs(60), "three voters", || async {
        let s = servers(&n1, &root).await;
        s.len() == 3 && s.iter().all(|v| v["voter"] == true)
    })
    .await;
    let s = servers(&n2, &root).await;
    assert_eq!(s.iter().filter(|v| v["leader"] == true).count(), 1, "{s:?}");
    let mut ids: Vec<_> = s
        .iter()
        .map(|v| v["node_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, ["node1", "node2", "node3"]);
    // bao's CLI reads the same configuration.
    let (code, out, err) = run_bao(&n1.addr, Some(&root), &["operator", "raft", "list-peers"]);
    assert_eq!(code, 0, "{err}");
    for id in ["node1", "node2", "node3"] {
        assert!(out.contains(id), "{out}");
    }
    assert!(out.contains("leader"), "{out}");

    // sys/leader on a standby names the active node, with Raft's indexes as OpenBao gives them.
    let l = call(&n2, "GET", "sys/leader", None, None).await.body;
    assert_eq!(l["ha_enabled"], true, "{l}");
    assert_eq!(l["leader_address"], n1.addr.as_str(), "{l}");
    assert!(l["raft_applied_index"].as_u64().unwrap() > 0, "{l}");
    assert!(l["raft_committed_index"].as_u64().unwrap() > 0, "{l}");
    assert!(l.get("is_self").is_none(), "{l}");

    // Standbys: 429 health, writes through them land, reads see them.
    for n in [&n2, &n3] {
        assert_eq!(call(n, "GET", "sys/health", None, None).await.status, 429);
    }
    let r = call(
        &n2,
        "PUT",
        "secret/data/via-n2",
        Some(&root),
        Some(json!({"data": {"v": "2"}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(&n3, "GET", "secret/data/via-n2", Some(&root), None).await;
    assert_eq!(r.body["data"]["data"]["v"], "2", "{}", r.body);
    let r = call(&n1, "GET", "secret/data/via-n2", Some(&root), None).await;
    assert_eq!(r.body["data"]["data"]["v"], "2", "{}", r.body);

    // Autopilot: OpenBao's validation, and a short contact threshold for the kill below.
    for (body, text) in [
        (
            json!({"cleanup_dead_servers": true, "dead_server_last_contact_threshold": "10s", "min_quorum": 3}),
            "dead_server_last_contact_threshold should not be set to less than 1m; received: 10",
        ),
        (
            json!({"cleanup_dead_servers": true}),
            "min_quorum must be set when cleanup_dead_servers is set and it should at least be 3; cleanup_dead_servers: true, min_quorum: 0x0",
        ),
        (
            json!({"last_contact_threshold": "abc"}),
            "Field validation failed: error converting input for field \"last_contact_threshold\": time: invalid duration \"abc\"",
        ),
    ] {
        let r = call(
            &n2,
            "POST",
            "sys/storage/raft/autopilot/configuration",
            Some(&root),
            Some(body),
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.body["errors"][0], text);
    }
    let r = call(
        &n2,
        "POST",
        "sys/storage/raft/autopilot/configuration",
        Some(&root),
        Some(json!({"last_contact_threshold": "1s"})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let c = call(
        &n3,
        "GET",
        "sys/storage/raft/autopilot/configuration",
        Some(&root),
        None,
    )
    .await;
    assert_eq!(c.body["data"]["last_contact_threshold"], "1s", "{}", c.body);
    assert_eq!(
        c.body["data"]["dead_server_last_contact_threshold"],
        "24h0m0s"
    );
    let st = call(
        &n1,
        "GET",
        "sys/storage/raft/autopilot/state",
        Some(&root),
        None,
    )
    .await
    .body;
    assert_eq!(st["data"]["healthy"], true, "{st}");
    assert_eq!(st["data"]["failure_tolerance"], 1, "{st}");
    assert_eq!(st["data"]["leader"], "node1");

    // kill -9 the active node under a write load through node2.
    let writer = Writer::start(&n2.addr, &root, "failover");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let n1_dir = n1.stop();
    let killed = Instant::now();
    let new_active = loop {
        if is_active(&n2).await {
            break Some(0);
        }
        if is_active(&n3).await {
            break Some(1);
        }
        assert!(
            killed.elapsed() < Duration::from_secs(20),
            "no new active node"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let takeover = killed.elapsed();
    assert!(
        takeover < Duration::from_secs(10),
        "takeover took {takeover:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let acked = writer.finish().await;
    assert!(
        acked.len() > 5,
        "too few writes acknowledged: {}",
        acked.len()
    );
    let active = if new_active == Some(0) { &n2 } else { &n3 };
    assert_all_present(active, &root, &acked, "after kill -9").await;
    println!(
        "raft takeover after kill -9: {takeover:?}; {} writes acknowledged",
        acked.len()
    );

    // Autopilot on the new active node sees node1 gone: unhealthy, no failure tolerance.
    wait_for(
        Duration::from_secs(20),
        "autopilot to see node1 failed",
        || async {
            let st = call(
                active,
                "GET",
                "sys/storage/raft/autopilot/state",
                Some(&root),
                None,
            )
            .await
            .body;
            st["data"]["servers"]["node1"]["healthy"] == false
                && st["data"]["healthy"] == false
                && st["data"]["failure_tolerance"] == 0
        },
    )
    .await;

    // node1 comes back from its directory, unseals as a standby and catches up.
    let n1 = start_node_on("node1", n1_dir, "", n1_cluster_port);
    assert_eq!(unseal(&n1, &key).await["sealed"], false);
    let (last, _) = acked.last().unwrap().clone();
    wait_for(
        Duration::from_secs(30),
        "node1 to serve the last write",
        || async {
            call(
                &n1,
                "GET",
                &format!("secret/data/{last}"),
                Some(&root),
                None,
            )
            .await
            .status
                == 200
        },
    )
    .await;

    wait_for(
        Duration::from_secs(20),
        "autopilot to see node1 back",
        || async {
            let st = call(
                active,
                "GET",
                "sys/storage/raft/autopilot/state",
                Some(&root),
                None,
            )
            .await
            .body;
            st["data"]["servers"]["node1"]["healthy"] == true && st["data"]["healthy"] == true
        },
    )
    .await;

    // demote and promote (the CLI's `operator raft demote|promote`).
    let other = if new_active == Some(0) {
        "node3"
    } else {
        "node2"
    };
    let (code, out, err) = common::run_arca(
        &active.addr,
        Some(&root),
        &["operator", "raft", "demote", other],
    );
    assert_eq!(code, 0, "{out}{err}");
    wait_for(
        Duration::from_secs(10),
        "the demoted node to stop voting",
        || async {
            servers(active, &root)
                .await
                .iter()
                .any(|v| v["node_id"] == other && v["voter"] == false)
        },
    )
    .await;
    let (code, out, err) = common::run_arca(
        &active.addr,
        Some(&root),
        &["operator", "raft", "promote", other],
    );
    assert_eq!(code, 0, "{out}{err}");
    wait_for(
        Duration::from_secs(10),
        "the promoted node to vote",
        || async {
            servers(active, &root)
                .await
                .iter()
                .any(|v| v["node_id"] == other && v["voter"] == true)
        },
    )
    .await;

    // remove-peer: node3 leaves the configuration (an unknown id is not an error).
    let r = call(
        active,
        "POST",
        "sys/storage/raft/remove-peer",
        Some(&root),
        Some(json!({"server_id": "nobody"})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let removed = if new_active == Some(1) {
        "node2"
    } else {
        "node3"
    };
    let r = call(
        active,
        "POST",
        "sys/storage/raft/remove-peer",
        Some(&root),
        Some(json!({"server_id": removed})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    wait_for(Duration::from_secs(10), "two servers left", || async {
        servers(active, &root).await.len() == 2
    })
    .await;

    // A snapshot of this cluster restored on a fresh one gives the same data, under the
    // keys of the cluster it came from.
    let snap = common::client()
        .get(active.url("sys/storage/raft/snapshot"))
        .header("X-Vault-Token", &root)
        .send()
        .await
        .unwrap();
    assert_eq!(snap.status(), 200);
    let snapshot = snap.bytes().await.unwrap();
    assert!(!snapshot.is_empty());
    // bao's CLI saves Arca's snapshot (it checks the archive's sealed checksums), and arca's
    // CLI restores it on the same cluster without -force.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("raft.snap");
    let file = file.to_str().unwrap();
    let (code, out, err) = run_bao(
        &active.addr,
        Some(&root),
        &["operator", "raft", "snapshot", "save", file],
    );
    assert_eq!(code, 0, "{out}{err}");
    let r = call(
        active,
        "PUT",
        "secret/data/after-snapshot",
        Some(&root),
        Some(json!({"data": {"v": "3"}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (code, out, err) = common::run_arca(
        &active.addr,
        Some(&root),
        &["operator", "raft", "snapshot", "restore", file],
    );
    assert_eq!(code, 0, "{out}{err}");
    // The restored state is the snapshot's: the later write is gone, the earlier ones stay.
    wait_for(
        Duration::from_secs(20),
        "the restore to take effect",
        || async {
            call(
                active,
                "GET",
                "secret/data/after-snapshot",
                Some(&root),
                None,
            )
            .await
            .status
                == 404
        },
    )
    .await;
    let r = call(active, "GET", "secret/data/via-n2", Some(&root), None).await;
    assert_eq!(r.body["data"]["data"]["v"], "2", "{}", r.body);

    // The snapshot is OpenBao's archive shape: gzip'd tar, sealed checksums last.
    assert_eq!(&snapshot[..2], &[0x1f, 0x8b], "not gzip");
    let fresh = start_node("fresh1", None, "");
    let (fresh_key, fresh_root) = init(&fresh).await;
    unseal(&fresh, &fresh_key).await;
    wait_for(Duration::from_secs(20), "fresh node active", || {
        is_active(&fresh)
    })
    .await;
    // Without -force, a snapshot of another cluster is refused.
    let r = common::client()
        .post(fresh.url("sys/storage/raft/snapshot"))
        .header("X-Vault-Token", &fresh_root)
        .body(snapshot.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("snapshot-force"));
    let r = common::client()
        .post(fresh.url("sys/storage/raft/snapshot-force"))
        .header("X-Vault-Token", &fresh_root)
        .body(snapshot.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    // The restored data is under the old cluster's keys: the node seals itself, and unseals
    // with them.
    wait_for(
        Duration::from_secs(20),
        "the restored node to seal",
        || async {
            call(&fresh, "GET", "sys/seal-status", None, None)
                .await
                .body["sealed"]
                == true
        },
    )
    .await;
    let st = unseal(&fresh, &key).await;
    assert_eq!(st["sealed"], false, "{st}");
    wait_for(Duration::from_secs(20), "restored node active", || {
        is_active(&fresh)
    })
    .await;
    let r = call(&fresh, "GET", "secret/data/via-n2", Some(&root), None).await;
    assert_eq!(r.body["data"]["data"]["v"], "2", "{}", r.body);
    let r = call(
        &fresh,
        "GET",
        &format!("secret/data/{last}"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A garbage snapshot is refused and changes nothing.
    let r = common::client()
        .post(fresh.url("sys/storage/raft/snapshot-force"))
        .header("X-Vault-Token", &root)
        .body("not a snapshot")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = call(&fresh, "GET", "secret/data/first", Some(&root), None).await;
    assert_eq!(r.body["data"]["data"]["v"], "1", "{}", r.body);
}

/// One node of [`failover_rounds_lose_no_acknowledged_write`]'s cluster.
struct Node {
    name: String,
    cluster_port: u16,
    server: Option<Server>,
    dir: Option<tempfile::TempDir>,
}

impl Node {
    fn s(&self) -> &Server {
        self.server.as_ref().unwrap()
    }
}

/// Rounds of kill -9 (environment variable `ARCA_RAFT_ROUNDS`, default 20).
fn rounds() -> usize {
    std::env::var("ARCA_RAFT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

/// Round after round: a writer writes through a standby, the active node is killed (SIGKILL),
/// another takes over within 10 s, every write the cluster acknowledged is there, and the
/// killed node comes back (same directory and cluster address) as a standby.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failover_rounds_lose_no_acknowledged_write() {
    let mut nodes: Vec<Node> = (1..=3)
        .map(|i| Node {
            name: format!("r{i}"),
            cluster_port: 0,
            server: None,
            dir: None,
        })
        .collect();
    // Each node's first start takes a free cluster port (kept for its restarts).
    let (first, port) = start_node_fresh("r1", None, "");
    nodes[0].server = Some(first);
    nodes[0].cluster_port = port;
    let (key, root) = init(nodes[0].s()).await;
    unseal(nodes[0].s(), &key).await;
    wait_for(Duration::from_secs(20), "r1 active", || {
        is_active(nodes[0].s())
    })
    .await;
    let leader_api = nodes[0].s().addr.clone();
    for n in nodes.iter_mut().skip(1) {
        let (s, port) = start_node_fresh(&n.name, None, "");
        n.cluster_port = port;
        let r = call(
            &s,
            "POST",
            "sys/storage/raft/join",
            None,
            Some(json!({"leader_api_addr": leader_api})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(unseal(&s, &key).await["sealed"], false);
        n.server = Some(s);
    }
    wait_for(Duration::from_secs(60), "three voters", || async {
        let s = servers(nodes[0].s(), &root).await;
        s.len() == 3 && s.iter().all(|v| v["voter"] == true)
    })
    .await;
    let r = call(
        nodes[0].s(),
        "POST",
        "sys/mounts/secret",
        Some(&root),
        Some(json!({"type": "kv", "options": {"version": "2"}})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);

    // Step-down hands over at once: the most up-to-date voter is asked to stand for election.
    let r = call(nodes[0].s(), "PUT", "sys/step-down", Some(&root), None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let handover = wait_for(
        Duration::from_secs(20),
        "another node to take over",
        || async { is_active(nodes[1].s()).await || is_active(nodes[2].s()).await },
    )
    .await;
    assert!(
        handover < Duration::from_secs(5),
        "step-down took {handover:?}"
    );
    println!("step-down handover: {handover:?}");

    let mut all_acked: Vec<(String, String)> = Vec::new();
    let mut slowest = Duration::ZERO;
    for round in 0..rounds() {
        let mut active = None;
        for (i, n) in nodes.iter().enumerate() {
            if is_active(n.s()).await {
                active = Some(i);
            }
        }
        let active = active.expect("an active node");
        let via = (active + 1) % 3;
        let writer = Writer::start(&nodes[via].s().addr, &root, &format!("rounds/r{round}"));
        tokio::time::sleep(Duration::from_millis(200)).await;
        nodes[active].dir = nodes[active].server.take().unwrap().stop();
        let killed = Instant::now();
        let new_active = loop {
            let mut found = None;
            for (i, n) in nodes.iter().enumerate() {
                if let Some(s) = &n.server
                    && is_active(s).await
                {
                    found = Some(i);
                }
            }
            if let Some(i) = found {
                break i;
            }
            assert!(
                killed.elapsed() < Duration::from_secs(20),
                "round {round}: no new active node"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let takeover = killed.elapsed();
        assert!(
            takeover < Duration::from_secs(10),
            "round {round}: takeover took {takeover:?}"
        );
        slowest = slowest.max(takeover);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let acked = writer.finish().await;
        assert!(!acked.is_empty(), "round {round}: nothing acknowledged");
        all_acked.extend(acked);
        // Every write acknowledged so far, this round and before, is on the new active node.
        assert_all_present(
            nodes[new_active].s(),
            &root,
            &all_acked,
            &format!("round {round}"),
        )
        .await;
        // The killed node comes back as a standby of the new active node.
        let n = &mut nodes[active];
        let s = start_node_on(&n.name, n.dir.take(), "", n.cluster_port);
        assert_eq!(unseal(&s, &key).await["sealed"], false);
        let expected = nodes[new_active].s().addr.clone();
        wait_for(
            Duration::from_secs(30),
            "the restarted node to follow",
            || async {
                call(&s, "GET", "sys/leader", None, None).await.body["leader_address"]
                    == expected.as_str()
            },
        )
        .await;
        nodes[active].server = Some(s);
    }
    // A sealed node votes but never leads: with one node restarted and left sealed, killing
    // the active node still leaves an active node (the other unsealed one).
    let mut active = None;
    for (i, n) in nodes.iter().enumerate() {
        if is_active(n.s()).await {
            active = Some(i);
        }
    }
    let active = active.expect("an active node");
    let (sealed, survivor) = ((active + 1) % 3, (active + 2) % 3);
    let n = &mut nodes[sealed];
    n.dir = n.server.take().unwrap().stop();
    n.server = Some(start_node_on(&n.name, n.dir.take(), "", n.cluster_port));
    assert_eq!(
        call(nodes[sealed].s(), "GET", "sys/seal-status", None, None)
            .await
            .body["sealed"],
        true
    );
    let n = &mut nodes[active];
    n.dir = n.server.take().unwrap().stop();
    let took = wait_for(
        Duration::from_secs(20),
        "the unsealed survivor to become active",
        || is_active(nodes[survivor].s()),
    )
    .await;
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_all_present(nodes[survivor].s(), &root, &all_acked, "with a sealed peer").await;

    println!(
        "{} rounds, {} acknowledged writes all present, slowest takeover {slowest:?}",
        rounds(),
        all_acked.len()
    );
}
