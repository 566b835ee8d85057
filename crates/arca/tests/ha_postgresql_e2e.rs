//! HA on PostgreSQL storage, end to end: two (then three) real `arca` processes share one
//! database with `ha_enabled = "true"`. One is active, the others are standbys that forward
//! requests to it over the cluster port (or answer 307 when the client refuses forwarding);
//! a step-down and a `kill -9` of the active node hand the lock over, and no write the cluster
//! acknowledged is lost.
//!
//! Needs the PostgreSQL server of this machine (127.0.0.1:5432, user `postgres`, database
//! `test`); each run uses tables of its own.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::ha::{Writer, assert_all_present, is_active, wait_for};
use common::{Server, call, call_with, free_port, spawn_with_env};
use serde_json::{Value, json};

const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable";
/// The lock's time to live in these tests (OpenBao's is 15 s).
const LOCK_TTL: &str = "3s";

/// One node's config: PostgreSQL storage with HA on `tables`, its own API and cluster ports.
fn start_node(tables: &str, dir: Option<tempfile::TempDir>) -> (Server, String) {
    let cluster_port = free_port();
    let cluster_addr = format!("https://127.0.0.1:{cluster_port}");
    let tables = tables.to_string();
    let cluster = cluster_addr.clone();
    let dir = dir.unwrap_or_else(|| tempfile::tempdir().unwrap());
    let server = spawn_with_env(
        &common::arca_bin(),
        Some(dir),
        &[("ARCA_PG_HA_LOCK_TTL", LOCK_TTL)],
        move |port, dir| {
            let dir: &Path = dir.unwrap();
            let cfg = dir.join("config.hcl");
            std::fs::write(
                &cfg,
                format!(
                    r#"storage "postgresql" {{
  connection_url = "{PG_URL}"
  table = "{tables}_kv"
  ha_enabled = "true"
  ha_table = "{tables}_ha"
}}
listener "tcp" {{
  address = "127.0.0.1:{port}"
  tls_disable = true
}}
disable_mlock = true
api_addr = "http://127.0.0.1:{port}"
cluster_addr = "{cluster}"
"#
                ),
            )
            .unwrap();
            vec!["server".into(), format!("-config={}", cfg.display())]
        },
    );
    (server, cluster_addr)
}

async fn leader(s: &Server) -> Value {
    call(s, "GET", "sys/leader", None, None).await.body
}

async fn unseal_key(s: &Server, key: &str) {
    let r = call(s, "PUT", "sys/unseal", None, Some(json!({ "key": key }))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["sealed"], false, "{}", r.body);
}

/// Drops the test's tables.
async fn drop_tables(tables: &str) {
    let Ok((client, conn)) = tokio_postgres::connect(PG_URL, tokio_postgres::NoTls).await else {
        return;
    };
    tokio::spawn(conn);
    let _ = client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS {tables}_kv; DROP TABLE IF EXISTS {tables}_ha;"
        ))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_elect_one_active_forward_and_fail_over_without_losing_writes() {
    let tables = format!(
        "arca_ha_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let (a, a_cluster) = start_node(&tables, None);
    let (b, _) = start_node(&tables, None);

    // Init through A; A unsealed first becomes active.
    let init = call(
        &a,
        "PUT",
        "sys/init",
        None,
        Some(json!({"secret_shares": 1, "secret_threshold": 1})),
    )
    .await;
    assert_eq!(init.status, 200, "{}", init.body);
    let key = init.body["keys_base64"][0].as_str().unwrap().to_string();
    let root = init.body["root_token"].as_str().unwrap().to_string();
    // B sees the same (shared) storage: initialized, sealed.
    let b_status = call(&b, "GET", "sys/seal-status", None, None).await;
    assert_eq!(b_status.body["initialized"], true, "{}", b_status.body);
    assert_eq!(b_status.body["sealed"], true);

    unseal_key(&a, &key).await;
    wait_for(Duration::from_secs(20), "A to become active", || {
        is_active(&a)
    })
    .await;
    unseal_key(&b, &key).await;

    // B is a standby: sys/leader names A, health answers 429 (200 with standbyok).
    wait_for(Duration::from_secs(10), "B to know the leader", || async {
        leader(&b).await["leader_address"] == a.addr.as_str()
    })
    .await;
    let l = leader(&b).await;
    assert_eq!(l["ha_enabled"], true);
    assert!(l.get("is_self").is_none(), "{l}");
    assert!(l.get("active_time").is_none(), "{l}");
    assert_eq!(l["leader_cluster_address"], a_cluster.as_str());
    let la = leader(&a).await;
    assert_eq!(la["is_self"], true, "{la}");
    assert!(la["active_time"].as_str().is_some(), "{la}");
    let h = call(&b, "GET", "sys/health", None, None).await;
    assert_eq!(h.status, 429, "{}", h.body);
    assert_eq!(h.body["standby"], true);
    assert_eq!(h.body["sealed"], false);
    let h = call(&b, "GET", "sys/health?standbyok=true", None, None).await;
    assert_eq!(h.status, 200);
    let h = call(&b, "GET", "sys/health?standbycode=299", None, None).await;
    assert_eq!(h.status, 299);
    let h = call(&a, "GET", "sys/health", None, None).await;
    assert_eq!(h.status, 200);
    assert_eq!(h.body["standby"], false);

    // Writes through the standby are forwarded and land on the active node.
    let r = call(
        &b,
        "POST",
        "sys/mounts/secret",
        Some(&root),
        Some(json!({"type": "kv", "options": {"version": "2"}})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = call(
        &b,
        "PUT",
        "secret/data/via-standby",
        Some(&root),
        Some(json!({"data": {"v": "1"}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(&a, "GET", "secret/data/via-standby", Some(&root), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["data"]["v"], "1");
    // Reads through the standby too, and errors come back as the active node gave them.
    let r = call(&b, "GET", "secret/data/via-standby", Some(&root), None).await;
    assert_eq!(r.body["data"]["data"]["v"], "1", "{}", r.body);
    let r = call(&b, "GET", "secret/data/nope", Some(&root), None).await;
    assert_eq!(r.status, 404);
    let r = call(&b, "GET", "secret/data/via-standby", Some("bogus"), None).await;
    assert_eq!(r.status, 403, "{}", r.body);

    // A client that refuses forwarding is sent to the active node: 307, same path and query.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirects
        .get(b.url("secret/data/via-standby?version=1"))
        .header("X-Vault-Token", &root)
        .header("X-Vault-No-Request-Forwarding", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 307);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!("{}/v1/secret/data/via-standby?version=1", a.addr)
    );

    // Sealing a standby is refused, as OpenBao refuses it.
    let r = call(&b, "PUT", "sys/seal", Some(&root), None).await;
    assert_eq!(r.status, 500, "{}", r.body);
    assert_eq!(
        r.body["errors"][0],
        "vault cannot seal when in standby mode; please restart instead"
    );

    // The active node lists the standby once it has echoed.
    wait_for(Duration::from_secs(15), "B in sys/ha-status", || async {
        let r = call(&a, "GET", "sys/ha-status", Some(&root), None).await;
        r.body["data"]["nodes"]
            .as_array()
            .is_some_and(|n| n.len() == 2)
    })
    .await;
    let r = call(&b, "GET", "sys/ha-status", Some(&root), None).await;
    let nodes = r.body["data"]["nodes"].as_array().unwrap().clone();
    // OpenBao copies the nodes to the top level of the answer too.
    assert_eq!(r.body["nodes"], r.body["data"]["nodes"]);
    let active: Vec<_> = nodes.iter().filter(|n| n["active_node"] == true).collect();
    assert_eq!(active.len(), 1, "{nodes:?}");
    assert_eq!(active[0]["api_address"], a.addr.as_str());
    let standby = nodes.iter().find(|n| n["active_node"] == false).unwrap();
    assert_eq!(standby["api_address"], b.addr.as_str());
    assert!(standby["last_echo"].as_str().is_some());

    // Failover: kill -9 the active node (A) while a writer writes through B (a standby,
    // forwarding, then the active node itself); every acknowledged write must be there.
    let writer = Writer::start(&b.addr, &root, "failover");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let a_dir = a.stop();
    let killed_at = Instant::now();
    wait_for(Duration::from_secs(20), "B to take over", || is_active(&b)).await;
    let takeover = killed_at.elapsed();
    assert!(
        takeover < Duration::from_secs(10),
        "takeover took {takeover:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let acked = writer.finish().await;
    assert!(
        acked.len() > 5,
        "too few writes acknowledged: {}",
        acked.len()
    );
    assert_all_present(&b, &root, &acked, "after kill -9").await;
    println!(
        "takeover after kill -9: {takeover:?}, {} writes acknowledged",
        acked.len()
    );

    // The killed node comes back (same config directory) as a standby of B.
    let (a2, _) = start_node(&tables, a_dir);
    unseal_key(&a2, &key).await;
    wait_for(Duration::from_secs(10), "A to follow B", || async {
        leader(&a2).await["leader_address"] == b.addr.as_str()
    })
    .await;
    let h = call_with(&a2, "GET", "sys/health", None, &[], None).await;
    assert_eq!(h.status, 429);

    // Step-down: B gives the lock up, A takes it and serves the same data; B follows A.
    let r = call(&b, "PUT", "sys/step-down", Some(&root), None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    wait_for(Duration::from_secs(15), "A to become active", || {
        is_active(&a2)
    })
    .await;
    let r = call(&a2, "GET", "secret/data/via-standby", Some(&root), None).await;
    assert_eq!(r.body["data"]["data"]["v"], "1", "{}", r.body);
    wait_for(Duration::from_secs(10), "B to follow A", || async {
        leader(&b).await["leader_address"] == a2.addr.as_str()
    })
    .await;
    let r = call(
        &b,
        "PUT",
        "secret/data/after-step-down",
        Some(&root),
        Some(json!({"data": {"v": "2"}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(&a2, "GET", "secret/data/after-step-down", Some(&root), None).await;
    assert_eq!(r.body["data"]["data"]["v"], "2", "{}", r.body);

    drop(a2);
    drop(b);
    drop_tables(&tables).await;
}
