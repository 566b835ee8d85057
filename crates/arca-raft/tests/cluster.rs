//! End-to-end behaviour of the Raft backend on loopback clusters with mutual TLS.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arca_raft::RaftNode;
use arca_storage::{HaBackend, PhysicalBackend};
use common::{Cluster, wait_until};
use parking_lot::Mutex;

const WAIT: Duration = Duration::from_secs(10);

/// A 3-node cluster forms by bootstrap + two joins; a write on the leader is readable on
/// both followers once they applied its index.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_form_and_replicate() {
    let mut c = Cluster::new(3, |_| {});
    c.form().await;
    let leader = c.wait_leader(WAIT).await;
    let servers = c.node(leader).configuration();
    assert_eq!(servers.len(), 3, "{servers:?}");
    assert!(servers.iter().all(|s| s.voter));
    assert_eq!(servers.iter().filter(|s| s.leader).count(), 1);

    let index = c
        .node(leader)
        .put_indexed("app/key", b"value".to_vec())
        .await
        .unwrap();
    assert_eq!(c.node(leader).last_write_index(), index);
    for i in (0..3).filter(|i| *i != leader) {
        let f = c.node(i);
        f.wait_for_index(index, WAIT).await.unwrap();
        assert_eq!(
            f.get("app/key").await.unwrap().as_deref(),
            Some(&b"value"[..])
        );
        assert_eq!(f.list("app/").await.unwrap(), vec!["key".to_owned()]);
        // Writes on a follower are refused; the core forwards them to the active node.
        let e = f
            .put("app/other", b"x".to_vec())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("not the active node"), "{e}");
        assert_eq!(f.leader().unwrap().node_id, c.nodes[leader].name);
    }
}

/// The shared storage conformance suite on a one-node cluster, and `max_entry_size`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_on_a_single_node_cluster() {
    let mut c = Cluster::new(1, |cfg| cfg.max_entry_size = 2 * 1024 * 1024);
    c.start(0).await;
    let node = c.node(0);
    node.bootstrap().await.unwrap();
    arca_storage::conformance::run_conformance(&node).await;

    let e = node
        .put("big", vec![0u8; 2 * 1024 * 1024])
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("too large") && e.contains("max: 2097152"), "{e}");
    assert_eq!(node.get("big").await.unwrap(), None);
}

/// A node restarted from its data directory keeps its id, its data and its log, and leads
/// its one-node cluster again; its files are private.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_keeps_data_and_log() {
    use std::os::unix::fs::PermissionsExt;
    let mut c = Cluster::new(1, |cfg| cfg.node_id = None);
    let first = c.start(0).await;
    first.bootstrap().await.unwrap();
    let id = first.node_id().to_owned();
    let mut last = 0;
    for i in 0..20 {
        last = first
            .put_indexed(&format!("d/{i:02}"), vec![i])
            .await
            .unwrap();
    }
    let log_len = first.log_len().unwrap();
    assert!(log_len >= 20, "log holds {log_len} entries");
    drop(first);
    c.kill(0).await;

    let again = c.start(0).await;
    assert_eq!(
        again.node_id(),
        id,
        "node id read back from the node-id file"
    );
    assert!(again.last_applied_index() >= last);
    assert_eq!(again.log_len().unwrap(), log_len);
    assert_eq!(again.list("d/").await.unwrap().len(), 20);
    assert_eq!(again.get("d/07").await.unwrap(), Some(vec![7]));
    c.wait_leader(WAIT).await;
    let next = again.put_indexed("d/after", vec![1]).await.unwrap();
    assert!(next > last);

    let dir = &c.nodes[0].dir;
    assert_eq!(
        std::fs::metadata(dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for f in [
        arca_raft::LOG_FILE,
        arca_raft::FSM_FILE,
        arca_raft::NODE_ID_FILE,
    ] {
        let mode = std::fs::metadata(dir.join(f)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
}

/// 20 rounds of killing the leader while a writer writes through whichever node leads: a
/// new leader is elected within 10 s, it holds every write that was acknowledged, and the
/// killed node restarts from its directory, rejoins and catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failover_loses_no_acknowledged_write() {
    const ROUNDS: usize = 20;
    let mut c = Cluster::new(3, |cfg| {
        cfg.heartbeat_interval = Duration::from_millis(30);
        cfg.election_timeout = Duration::from_millis(300);
    });
    c.form().await;
    let nodes: Arc<Mutex<Vec<Option<RaftNode>>>> =
        Arc::new(Mutex::new((0..3).map(|i| Some(c.node(i))).collect()));
    // Every acknowledged key and the index it was applied at.
    let acked: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (nodes, acked, stop) = (nodes.clone(), acked.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let leader = nodes
                    .lock()
                    .iter()
                    .flatten()
                    .find(|x| x.is_leader())
                    .cloned();
                let Some(leader) = leader else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                n += 1;
                let key = format!("w/{n:06}");
                if let Ok(index) = leader.put_indexed(&key, key.clone().into_bytes()).await {
                    acked.lock().insert(key, index);
                }
            }
        })
    };
    for round in 0..ROUNDS {
        // Let some writes land in this round's term.
        let before = acked.lock().len();
        wait_until(WAIT, "writes before the kill", || async {
            (acked.lock().len() >= before + 5).then_some(())
        })
        .await;
        let old = c.wait_leader(WAIT).await;
        nodes.lock()[old] = None;
        c.kill(old).await;
        let killed_at = Instant::now();
        let new = c.wait_leader(WAIT).await;
        assert_ne!(new, old);
        assert!(
            killed_at.elapsed() < WAIT,
            "round {round}: election took too long"
        );
        // Every write acknowledged so far is on the new leader.
        let snapshot: Vec<(String, u64)> =
            acked.lock().iter().map(|(k, v)| (k.clone(), *v)).collect();
        let max = snapshot.iter().map(|(_, i)| *i).max().unwrap_or(0);
        let leader = c.node(new);
        leader.wait_for_index(max, WAIT).await.unwrap();
        for (key, _) in &snapshot {
            assert_eq!(
                leader.get(key).await.unwrap().as_deref(),
                Some(key.as_bytes()),
                "round {round}: acknowledged {key} lost"
            );
        }
        // The killed node comes back from its directory and catches up.
        let t = Instant::now();
        let back = c.start(old).await;
        let started = t.elapsed();
        nodes.lock()[old] = Some(back.clone());
        let target = c.node(new).last_applied_index();
        back.wait_for_index(target, WAIT).await.unwrap();
        eprintln!(
            "round {round}: elected after {:?}, restart {started:?}, caught up after {:?}",
            killed_at.elapsed() - t.elapsed(),
            t.elapsed()
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.await.unwrap();
    let acked = acked.lock().clone();
    assert!(
        acked.len() > ROUNDS * 5,
        "only {} writes acknowledged",
        acked.len()
    );
    let leader = c.node(c.wait_leader(WAIT).await);
    let max = acked.values().copied().max().unwrap();
    for (_, node) in c.running() {
        node.wait_for_index(max, WAIT).await.unwrap();
        for key in acked.keys() {
            assert!(node.get(key).await.unwrap().is_some(), "{key} missing");
        }
    }
    assert_eq!(leader.configuration().len(), 3);
}

/// A follower that was down while more than `snapshot_threshold` entries were written comes
/// back and catches up by installing the leader's snapshot (its log entries were purged).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lagging_follower_catches_up_by_snapshot() {
    let mut c = Cluster::new(3, |cfg| {
        cfg.snapshot_threshold = 20;
        cfg.trailing_logs = 5;
    });
    c.form().await;
    let leader_i = c.wait_leader(WAIT).await;
    let down = (leader_i + 1) % 3;
    c.kill(down).await;
    let leader = c.node(leader_i);
    let mut last = 0;
    for i in 0..100u32 {
        last = leader
            .put_indexed(&format!("s/{i:03}"), i.to_be_bytes().to_vec())
            .await
            .unwrap();
    }
    // The leader compacted: a snapshot past the restarted node's position, log purged.
    let m = leader.metrics().borrow().clone();
    assert!(
        m.snapshot.is_some_and(|s| s.index >= 60),
        "{:?}",
        m.snapshot
    );
    assert!(m.purged.is_some(), "leader log not purged");
    assert!(
        leader.log_len().unwrap() < 60,
        "log holds {}",
        leader.log_len().unwrap()
    );

    let back = c.start(down).await;
    assert_eq!(back.snapshot_installs(), 0);
    back.wait_for_index(last, WAIT).await.unwrap();
    assert!(
        back.snapshot_installs() >= 1,
        "caught up without a snapshot"
    );
    assert_eq!(back.list("s/").await.unwrap().len(), 100);
    assert_eq!(
        back.get("s/042").await.unwrap(),
        Some(42u32.to_be_bytes().to_vec())
    );
    // Replication goes on by log entries afterwards.
    let next = leader.put_indexed("s/after", vec![1]).await.unwrap();
    back.wait_for_index(next, WAIT).await.unwrap();
    assert_eq!(back.get("s/after").await.unwrap(), Some(vec![1]));
}

/// `remove_peer` takes a node out of the configuration (it stops receiving writes), and the
/// same node can join again and catch up.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn remove_peer_and_rejoin() {
    let mut c = Cluster::new(3, |_| {});
    c.form().await;
    let leader_i = c.wait_leader(WAIT).await;
    let gone = (leader_i + 1) % 3;
    let leader = c.node(leader_i);
    let name = c.nodes[gone].name.clone();
    leader.remove_peer(&name).await.unwrap();
    let servers = leader.configuration();
    assert_eq!(servers.len(), 2, "{servers:?}");
    assert!(servers.iter().all(|s| s.node_id != name));
    assert!(leader.remove_peer("nobody").await.is_err());
    let e = leader
        .remove_peer(leader.node_id())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("leader itself"), "{e}");

    // Writes commit on the two remaining voters and no longer reach the removed node.
    let index = leader
        .put_indexed("r/while-out", b"1".to_vec())
        .await
        .unwrap();
    let other = 3 - leader_i - gone;
    c.node(other).wait_for_index(index, WAIT).await.unwrap();
    assert!(c.node(gone).last_applied_index() < index);

    // The same node (same id, same directory) joins again through the leader.
    let leader_addr = c.nodes[leader_i].addr.clone();
    let removed = c.node(gone);
    wait_until(WAIT, "re-join", || {
        let (removed, addr) = (removed.clone(), leader_addr.clone());
        async move { removed.join(&addr).await.ok() }
    })
    .await;
    let leader_i = c.wait_leader(WAIT).await;
    let leader = c.node(leader_i);
    let servers = leader.configuration();
    assert_eq!(servers.len(), 3, "{servers:?}");
    assert!(servers.iter().all(|s| s.voter));
    let index = leader.put_indexed("r/after", b"2".to_vec()).await.unwrap();
    removed.wait_for_index(index, WAIT).await.unwrap();
    assert_eq!(
        removed.get("r/while-out").await.unwrap(),
        Some(b"1".to_vec())
    );
    assert_eq!(removed.get("r/after").await.unwrap(), Some(b"2".to_vec()));
}

/// `snapshot_save` on one cluster and `snapshot_restore` on a fresh, running 3-node cluster:
/// every node ends up with exactly the saved data; a corrupt snapshot changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn snapshot_save_and_restore_on_another_cluster() {
    let mut a = Cluster::new(1, |_| {});
    a.start(0).await;
    let src = a.node(0);
    src.bootstrap().await.unwrap();
    for i in 0..50u8 {
        src.put(&format!("data/{i:02}"), vec![i; 3]).await.unwrap();
    }
    src.put("data/nested/deep/key", b"deep".to_vec())
        .await
        .unwrap();
    src.put("top", b"t".to_vec()).await.unwrap();
    let saved = src.snapshot_save().await.unwrap();

    let mut b = Cluster::new(3, |_| {});
    b.form().await;
    let leader = b.node(b.wait_leader(WAIT).await);
    leader
        .put("old/stuff", b"gone soon".to_vec())
        .await
        .unwrap();

    let mut corrupt = saved.clone();
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0xff;
    assert!(leader.snapshot_restore(&corrupt).await.is_err());
    assert_eq!(
        leader.get("old/stuff").await.unwrap().as_deref(),
        Some(&b"gone soon"[..])
    );

    let index = leader.snapshot_restore(&saved).await.unwrap();
    for (_, node) in b.running() {
        node.wait_for_index(index, WAIT).await.unwrap();
        assert_eq!(node.get("old/stuff").await.unwrap(), None);
        assert_eq!(node.list("").await.unwrap(), vec!["data/", "top"]);
        assert_eq!(node.list("data/").await.unwrap().len(), 51);
        assert_eq!(node.get("data/07").await.unwrap(), Some(vec![7; 3]));
        assert_eq!(
            node.get("data/nested/deep/key").await.unwrap(),
            Some(b"deep".to_vec())
        );
    }
    // The restored cluster keeps its own membership and still takes writes.
    assert_eq!(leader.configuration().len(), 3);
    leader.put("after-restore", b"x".to_vec()).await.unwrap();
}

/// Isolating the leader: the majority elects a new leader, the old leader's lock is lost
/// before the new leader's `acquire` returns, the old leader cannot commit, and after healing
/// there is one leader and every node holds the same data.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn partitioned_leader_loses_lock_and_cannot_commit() {
    let mut c = Cluster::new(3, |cfg| cfg.apply_timeout = Duration::from_secs(3));
    c.form().await;
    let old_i = c.wait_leader(WAIT).await;
    let old = c.node(old_i);
    let others: Vec<usize> = (0..3).filter(|i| *i != old_i).collect();
    let held = old.acquire("old-active").await.unwrap();
    assert!(held.held());
    let index = old.put_indexed("p/before", b"b".to_vec()).await.unwrap();
    for i in &others {
        c.node(*i).wait_for_index(index, WAIT).await.unwrap();
        assert_eq!(
            c.node(*i).holder().await.unwrap().as_deref(),
            Some("old-active")
        );
    }

    let lost_at = tokio::spawn(async move {
        held.lost().await;
        assert!(!held.held());
        Instant::now()
    });
    let acquirers: Vec<_> = others
        .iter()
        .map(|i| {
            let node = c.node(*i);
            let value = format!("new-active-{i}");
            tokio::spawn(async move {
                let lock = node.acquire(&value).await.unwrap();
                (Instant::now(), lock, value)
            })
        })
        .collect();

    let names: Vec<String> = others.iter().map(|i| c.nodes[*i].name.clone()).collect();
    let others_names: Vec<&str> = names.iter().map(String::as_str).collect();
    c.faults.isolate(&c.nodes[old_i].name, &others_names);

    // The cut-off leader cannot commit anything.
    let minority = old.put("p/minority", b"m".to_vec()).await;
    assert!(
        minority.is_err(),
        "a leader without a quorum committed a write"
    );

    // The majority elects a new leader, whose acquire succeeds only after the old lock is lost.
    let (acquired_at, new_lock, new_value) = first_finished(acquirers, "a new lock holder").await;
    let lost_at = lost_at.await.unwrap();
    assert!(lost_at <= acquired_at, "two nodes held the lock at once");
    assert!(new_lock.held());
    let new_i = others
        .iter()
        .copied()
        .find(|i| c.node(*i).is_leader())
        .expect("the majority has a leader");
    let new = c.node(new_i);
    let index = new.put_indexed("p/majority", b"M".to_vec()).await.unwrap();

    c.faults.heal();
    wait_until(WAIT, "the old leader to step down", || async {
        (!old.is_leader()).then_some(())
    })
    .await;
    assert_eq!(c.wait_leader(WAIT).await, new_i);
    old.wait_for_index(index, WAIT).await.unwrap();
    let barrier = new.put_indexed("p/healed", b"h".to_vec()).await.unwrap();
    for (_, node) in c.running() {
        node.wait_for_index(barrier, WAIT).await.unwrap();
        assert_eq!(node.get("p/minority").await.unwrap(), None);
        assert_eq!(node.get("p/majority").await.unwrap(), Some(b"M".to_vec()));
        assert_eq!(
            node.list("p/").await.unwrap(),
            vec!["before", "healed", "majority"]
        );
        assert_eq!(node.holder().await.unwrap(), Some(new_value.clone()));
    }
}

/// The HA lock across a failover: the leader's `acquire` publishes its value to every node;
/// a follower's `acquire` waits; when the leader dies its lock is lost and the new leader's
/// `acquire` returns; `release` gives up the lock and leadership.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ha_lock_follows_the_leader() {
    let mut c = Cluster::new(3, |_| {});
    c.form().await;
    let first_i = c.wait_leader(WAIT).await;
    let first = c.node(first_i);
    assert_eq!(first.holder().await.unwrap(), None);
    let held = first.acquire("https://first:8200").await.unwrap();
    assert!(held.held());
    for (_, node) in c.running() {
        wait_until(WAIT, "the holder on every node", || async {
            (node.holder().await.unwrap().as_deref() == Some("https://first:8200")).then_some(())
        })
        .await;
    }
    let waiting: Vec<_> = (0..3)
        .filter(|i| *i != first_i)
        .map(|i| {
            let node = c.node(i);
            tokio::spawn(async move {
                let value = format!("https://node-{i}:8200");
                let lock = node.acquire(&value).await.unwrap();
                (i, lock, value)
            })
        })
        .collect();
    // Nobody else gets the lock while the leader lives (a bounded check of a non-event).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(waiting.iter().all(|h| !h.is_finished()));
    assert!(held.held());

    let lost = tokio::spawn(async move {
        held.lost().await;
        held.held()
    });
    drop(first);
    c.kill(first_i).await;
    assert!(!tokio::time::timeout(WAIT, lost).await.unwrap().unwrap());

    let (new_i, new_lock, new_value) = first_finished(waiting, "the new leader's lock").await;
    assert!(new_lock.held());
    assert!(c.node(new_i).is_leader());
    for (_, node) in c.running() {
        wait_until(WAIT, "the new holder on every node", || async {
            (node.holder().await.unwrap() == Some(new_value.clone())).then_some(())
        })
        .await;
    }

    // Release: the lock is gone at once and another node takes over leadership.
    c.start(first_i).await;
    new_lock.release().await;
    assert!(!new_lock.held());
    new_lock.lost().await;
    wait_until(WAIT, "leadership to move after release", || async {
        c.running()
            .into_iter()
            .find(|(i, n)| *i != new_i && n.is_leader())
            .map(|_| ())
    })
    .await;
    assert_eq!(c.node(new_i).holder().await.unwrap(), None);
}

/// Waits until one of `handles` finished and returns its output; aborts the others.
async fn first_finished<T>(handles: Vec<tokio::task::JoinHandle<T>>, what: &str) -> T {
    wait_until(WAIT, what, || async {
        handles.iter().any(|h| h.is_finished()).then_some(())
    })
    .await;
    let mut got = None;
    for h in handles {
        if h.is_finished() && got.is_none() {
            got = Some(h.await.unwrap());
        } else {
            h.abort();
        }
    }
    got.unwrap()
}

/// The cluster port speaks mutual TLS only: a node whose certificate comes from another CA
/// can neither join nor be reached, and the cluster is unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_foreign_certificate_is_refused() {
    let mut c = Cluster::new(1, |_| {});
    c.start(0).await;
    c.node(0).bootstrap().await.unwrap();
    let addr = c.nodes[0].addr.clone();

    let mut stranger = Cluster::new(1, |cfg| cfg.node_id = Some("stranger".to_owned()));
    let outsider = stranger.start(0).await;
    let e = outsider.join(&addr).await.unwrap_err().to_string();
    assert!(e.contains("TLS") || e.contains("unreachable"), "{e}");
    assert_eq!(c.node(0).configuration().len(), 1);

    // A client that trusts the cluster CA but presents a certificate of another CA is
    // refused by the listener.
    let mixed = arca_raft::RaftTls {
        ca_cert_der: c.pki.node_tls().ca_cert_der,
        ..stranger.pki.node_tls()
    };
    use arca_raft::Transport;
    let transport = arca_raft::TlsTransport::new(&mixed).unwrap();
    let peer = arca_raft::PeerNode {
        name: "node-0".to_owned(),
        addr: addr.clone(),
    };
    let answer = transport
        .call(&peer, "vote", bytes::Bytes::from_static(b"{}"), WAIT)
        .await;
    assert!(
        matches!(
            answer,
            Err(arca_raft::TransportError::Unreachable(_) | arca_raft::TransportError::Network(_))
        ),
        "{answer:?}"
    );
    // The same request with the cluster's own certificate reaches the node (which refuses
    // the malformed vote as a remote error): the difference is the certificate alone.
    let own = arca_raft::TlsTransport::new(&c.nodes[0].tls).unwrap();
    let answer = own
        .call(&peer, "vote", bytes::Bytes::from_static(b"{}"), WAIT)
        .await;
    assert!(
        matches!(answer, Err(arca_raft::TransportError::Remote(ref m)) if m.contains("bad vote request")),
        "{answer:?}"
    );

    // A plain TCP client without TLS gets nothing useful either.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    tcp.write_all(b"POST /v1/raft/vote HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(WAIT, tcp.read_to_end(&mut buf)).await;
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));
}
