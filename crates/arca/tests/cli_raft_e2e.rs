//! The `arca` CLI's `operator raft ...`, `operator members` and `operator step-down` against a
//! real three-node OpenBao 2.7.2 raft cluster print what `bao` prints for the same command:
//! same exit code, same stdout and stderr once addresses, ids, times and the autopilot's live
//! counters are normalised. The cluster is the oracle: the Arca server's raft endpoints are
//! not involved. The test fails (it does not skip) when the `bao` binary is missing.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arca_testkit::wait_until_async;
use common::{Server, arca_bin, bao, call, normalise, run_cli_in, spawn_on_free_port};
use serde_json::{Value, json};

/// Which `bao` texts are read as `arca` texts before comparing.
#[derive(Clone, Copy, PartialEq)]
enum Texts {
    /// Server answers and CLI messages: compared as they are.
    AsIs,
    /// Help texts: `bao` is `arca`, OpenBao is Arca.
    Help,
}

/// What a command printed: exit code, normalised stdout, normalised stderr.
type Printed = (i32, String, String);

/// Lines whose value is a live counter of the autopilot (it moves between two calls).
const LIVE_LABELS: &[&str] = &[
    "Last Contact:",
    "\"LastContact\":",
    "LastContact:",
    "Last Index:",
    "\"LastIndex\":",
    "LastIndex:",
    "Last Term:",
    "\"LastTerm\":",
    "LastTerm:",
];

fn normalised(text: &str) -> String {
    let lines: Vec<String> = normalise(text)
        .lines()
        .map(|line| {
            match LIVE_LABELS
                .iter()
                .find_map(|label| line.find(label).map(|at| at + label.len()))
            {
                Some(end) => format!("{} LIVE", &line[..end]),
                None => line.to_string(),
            }
        })
        .collect();
    lines.join("\n")
}

/// Runs `bin` with `args` against `addr` with token `token` and HOME `home`; normalised.
fn run(bin: &Path, addr: &str, token: &str, args: &[&str], home: &Path) -> Printed {
    let (code, out, err) = run_cli_in(bin, addr, Some(token), args, home);
    (code, normalised(&out), normalised(&err))
}

/// Runs `arca` and `bao` with `args` against `addr` and asserts they print the same; returns
/// what `arca` printed.
fn same(addr: &str, token: &str, args: &[&str], texts: Texts, home: &Path) -> Printed {
    let a = run(&arca_bin(), addr, token, args, home);
    let mut b = run(&bao(), addr, token, args, home);
    if texts == Texts::Help {
        let arca_words = |s: &str| {
            s.replace("OpenBao", "Arca")
                .replace("bao operator", "arca operator")
        };
        b = (b.0, arca_words(&b.1), arca_words(&b.2));
    }
    assert_eq!(a, b, "arca/bao {} (left: arca, right: bao)", args.join(" "));
    a
}

/// Group help and the errors both CLIs find before talking to a server: no cluster needed
/// (the address is a closed port).
#[test]
fn raft_help_and_argument_errors_match_bao() {
    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    let addr = format!("http://127.0.0.1:{}", common::free_port());
    let help_cases: &[&[&str]] = &[
        &["operator", "raft"],
        &["operator", "raft", "-h"],
        &["operator", "raft", "nope"],
        &["operator", "raft", "snapshot"],
        &["operator", "raft", "snapshot", "-h"],
        &["operator", "raft", "autopilot"],
        &["operator", "raft", "autopilot", "-help"],
    ];
    for args in help_cases {
        let (code, out, err) = same(&addr, "t", args, Texts::Help, h);
        assert!(
            !(out.is_empty() && err.is_empty()),
            "{args:?} printed nothing"
        );
        assert!(code == 0 || code == 1, "{args:?}: exit {code}");
    }
    let error_cases: &[&[&str]] = &[
        &["operator", "raft", "join", "a", "b"],
        &["operator", "raft", "join", "-auto-join-scheme=ftp", "x"],
        &["operator", "raft", "join", "-auto-join-port=abc", "x"],
        &["operator", "raft", "join", "-auto-join-port=-1", "x"],
        &[
            "operator",
            "raft",
            "join",
            "-leader-ca-cert=@/nonexistent/ca.pem",
            "x",
        ],
        &[
            "operator",
            "raft",
            "join",
            "-leader-client-cert=@/nonexistent/c.pem",
            "x",
        ],
        &[
            "operator",
            "raft",
            "join",
            "-leader-client-key=@/nonexistent/k.pem",
            "x",
        ],
        &["operator", "raft", "join", "-bogus", "x"],
        &["operator", "raft", "remove-peer"],
        &["operator", "raft", "remove-peer", " "],
        &["operator", "raft", "remove-peer", "a", "b"],
        &["operator", "raft", "promote"],
        &["operator", "raft", "demote", "a", "b"],
        &["operator", "raft", "snapshot", "save"],
        &["operator", "raft", "snapshot", "save", "a", "b"],
        &["operator", "raft", "snapshot", "restore"],
        &[
            "operator",
            "raft",
            "snapshot",
            "restore",
            "/nonexistent/x.snap",
        ],
        &["operator", "raft", "autopilot", "get-config", "x"],
        &["operator", "raft", "autopilot", "state", "x"],
        &["operator", "raft", "autopilot", "set-config", "x"],
        &[
            "operator",
            "raft",
            "autopilot",
            "set-config",
            "-min-quorum=x",
        ],
        &[
            "operator",
            "raft",
            "autopilot",
            "set-config",
            "-max-trailing-logs=-3",
        ],
        &[
            "operator",
            "raft",
            "autopilot",
            "set-config",
            "-min-quorum=99999999999999999999",
        ],
        &[
            "operator",
            "raft",
            "autopilot",
            "set-config",
            "-last-contact-threshold=abc",
        ],
        &[
            "operator",
            "raft",
            "autopilot",
            "set-config",
            "-cleanup-dead-servers=maybe",
        ],
        &["operator", "raft", "list-peers", "-format=raw"],
        &["operator", "raft", "list-peers", "-format=bogus"],
        &["operator", "members", "-format=raw"],
        &["operator", "step-down", "x"],
        &["operator", "step-down", "-format=json"],
        &["operator", "step-down", "-format=bogus"],
    ];
    for args in error_cases {
        let (code, _, err) = same(&addr, "t", args, Texts::AsIs, h);
        assert_ne!(code, 0, "{args:?} succeeded");
        assert!(!err.is_empty(), "{args:?} printed no error");
    }
}

/// A node of the test cluster: its server, API address and node id.
struct Node {
    server: Server,
    id: String,
}

impl Node {
    fn addr(&self) -> &str {
        &self.server.addr
    }
}

/// Starts OpenBao node `id` over raft storage in a fresh directory: API on a free port, the
/// cluster port next to it.
fn start_node(id: &str) -> Node {
    let dir = tempfile::tempdir().expect("node dir");
    let node_id = id.to_string();
    let server = spawn_on_free_port(&bao(), Some(dir), move |port, dir| {
        let dir = dir.expect("node dir");
        let data = dir.join(format!("data-{port}"));
        std::fs::create_dir_all(&data).expect("raft dir");
        let cluster = port + 1;
        let config = format!(
            "storage \"raft\" {{\n  path = \"{}\"\n  node_id = \"{node_id}\"\n  \
             performance_multiplier = 1\n  autopilot_update_interval = \"500ms\"\n  \
             autopilot_reconcile_interval = \"1s\"\n}}\n\
             listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  \
             cluster_address = \"127.0.0.1:{cluster}\"\n  tls_disable = true\n}}\n\
             api_addr = \"http://127.0.0.1:{port}\"\n\
             cluster_addr = \"http://127.0.0.1:{cluster}\"\n\
             disable_mlock = true\n",
            data.display()
        );
        let file = dir.join("config.hcl");
        std::fs::write(&file, config).expect("write config");
        vec!["server".into(), format!("-config={}", file.display())]
    });
    Node {
        server,
        id: id.to_string(),
    }
}

/// `GET path` on `node` with `token`: the status and JSON body.
async fn get(node: &Node, path: &str, token: Option<&str>) -> (u16, Value) {
    let a = call(&node.server, "GET", path, token, None).await;
    (a.status, a.body)
}

/// Waits until `node` is the active node (`sys/health` answers 200).
async fn wait_active(node: &Node, within: Duration) {
    wait_until_async(&format!("{} active", node.id), within, || async {
        (get(node, "sys/health", None).await.0 == 200).then_some(())
    })
    .await;
}

/// When `node` last became the active node (`sys/leader`'s `active_time`).
async fn active_since(node: &Node) -> Value {
    get(node, "sys/leader", None).await.1["active_time"].clone()
}

/// Waits until `node` has installed a restored snapshot: the restore tears the active node
/// down and brings it up again, so it is active again, since another time than `before`.
/// Returns that time.
async fn wait_restored(node: &Node, before: Value) -> Value {
    wait_until_async("the restore", Duration::from_secs(30), || async {
        let now = active_since(node).await;
        let serving = get(node, "sys/health", None).await.0 == 200;
        (serving && now.is_string() && now != before).then_some(now)
    })
    .await
}

/// Waits until `node` is unsealed.
async fn wait_unsealed(node: &Node) {
    wait_until_async(
        &format!("{} unsealed", node.id),
        Duration::from_secs(30),
        || async {
            let (_, body) = get(node, "sys/seal-status", None).await;
            (body["sealed"] == false).then_some(())
        },
    )
    .await;
}

/// The raft servers the leader reports: (node id, voter).
async fn peers(node: &Node, token: &str) -> Vec<(String, bool)> {
    let (_, body) = get(node, "sys/storage/raft/configuration", Some(token)).await;
    body["data"]["config"]["servers"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|s| {
                    (
                        s["node_id"].as_str().unwrap_or_default().to_string(),
                        s["voter"] == true,
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The node `sys/leader` names active, as an index into `nodes`.
async fn active_index(nodes: &[Node]) -> Option<usize> {
    for (i, node) in nodes.iter().enumerate() {
        let (status, body) = get(node, "sys/leader", None).await;
        if status == 200 && body["is_self"] == true && get(node, "sys/health", None).await.0 == 200
        {
            return Some(i);
        }
    }
    None
}

fn snapshot_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

fn is_gzip(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| b.len() > 512 && b[0] == 0x1f && b[1] == 0x8b)
}

/// The whole life of a raft cluster driven by both CLIs: autopilot configuration, joins,
/// peers, autopilot state, members, peer changes, snapshots and step-down.
#[tokio::test]
async fn raft_cluster_commands_match_bao() {
    let started = Instant::now();
    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    let nodes: [Node; 3] = std::thread::scope(|scope| {
        ["n1", "n2", "n3"]
            .map(|id| scope.spawn(move || start_node(id)))
            .map(|started| started.join().expect("node start"))
    });
    let [n1, n2, n3] = &nodes;

    // Node 1 starts the cluster.
    let init = call(
        &n1.server,
        "PUT",
        "sys/init",
        None,
        Some(json!({"secret_shares": 1, "secret_threshold": 1})),
    )
    .await;
    assert_eq!(init.status, 200, "init: {}", init.body);
    let key = init.body["keys_base64"][0]
        .as_str()
        .expect("key")
        .to_string();
    let root = init.body["root_token"].as_str().expect("root").to_string();
    let root = root.as_str();
    call(
        &n1.server,
        "PUT",
        "sys/unseal",
        None,
        Some(json!({"key": key})),
    )
    .await;
    wait_active(n1, Duration::from_secs(30)).await;

    // Autopilot configuration: what `arca` sets, `bao` reads back, and the other way round.
    let a = run(
        &arca_bin(),
        n1.addr(),
        root,
        &[
            "operator",
            "raft",
            "autopilot",
            "set-config",
            "-cleanup-dead-servers",
            "-last-contact-threshold=7s",
            "-dead-server-last-contact-threshold=1h30m",
            "-max-trailing-logs=0x1f4",
            "-min-quorum=3",
            "-server-stabilization-time=90",
        ],
        h,
    );
    assert_eq!(a, (0, String::new(), String::new()), "arca set-config");
    let (_, by_bao, _) = run_cli_in(
        &bao(),
        n1.addr(),
        Some(root),
        &[
            "operator",
            "raft",
            "autopilot",
            "get-config",
            "-format=json",
        ],
        h,
    );
    let by_bao: Value = serde_json::from_str(&by_bao).expect("bao get-config JSON");
    assert_eq!(
        by_bao,
        json!({"cleanup_dead_servers": true, "last_contact_threshold": "7s",
            "dead_server_last_contact_threshold": "1h30m0s", "max_trailing_logs": 500,
            "min_quorum": 3, "server_stabilization_time": "1m30s"}),
        "the configuration arca set, as bao reads it"
    );
    let set_back = [
        "operator",
        "raft",
        "autopilot",
        "set-config",
        "-cleanup-dead-servers=false",
        "-server-stabilization-time=1s",
        "-last-contact-threshold=10s",
        "-max-trailing-logs=1000",
    ];
    same(n1.addr(), root, &set_back, Texts::AsIs, h);
    for format in [
        "-format=table",
        "-format=json",
        "-format=yaml",
        "-format=pretty",
    ] {
        same(
            n1.addr(),
            root,
            &["operator", "raft", "autopilot", "get-config", format],
            Texts::AsIs,
            h,
        );
    }
    let table = same(
        n1.addr(),
        root,
        &["operator", "raft", "autopilot", "get-config"],
        Texts::AsIs,
        h,
    );
    assert!(
        table
            .1
            .contains("Server Stabilization Time             DUR"),
        "{}",
        table.1
    );

    // Joins: node 2 by `arca`, node 3 by `bao`, then unsealed with the same key.
    let joined = "Key       Value\n---       -----\nJoined    true";
    let leader = n1.addr().to_string();
    let a = run(
        &arca_bin(),
        n2.addr(),
        root,
        &["operator", "raft", "join", &leader],
        h,
    );
    let b = run(
        &bao(),
        n3.addr(),
        root,
        &["operator", "raft", "join", &leader],
        h,
    );
    assert_eq!(a, b, "join (left: arca on n2, right: bao on n3)");
    assert_eq!(a, (0, joined.to_string(), String::new()));
    for node in [n2, n3] {
        call(
            &node.server,
            "PUT",
            "sys/unseal",
            None,
            Some(json!({"key": key})),
        )
        .await;
    }
    for node in [n2, n3] {
        wait_unsealed(node).await;
    }
    wait_until_async("three voters", Duration::from_secs(30), || async {
        let p = peers(n1, root).await;
        (p.len() == 3 && p.iter().all(|(_, voter)| *voter)).then_some(())
    })
    .await;
    // A node already in the cluster answers `joined` again.
    for format in ["-format=json", "-format=yaml", "-format=pretty"] {
        same(
            n3.addr(),
            root,
            &[
                "operator",
                "raft",
                "join",
                format,
                "-retry",
                "-non-voter",
                &leader,
            ],
            Texts::AsIs,
            h,
        );
    }

    // Peers, from the leader and from a standby.
    for node in [n1, n2] {
        for format in [
            "-format=table",
            "-format=json",
            "-format=yaml",
            "-format=pretty",
        ] {
            same(
                node.addr(),
                root,
                &["operator", "raft", "list-peers", format],
                Texts::AsIs,
                h,
            );
        }
    }
    let peers_table = same(
        n1.addr(),
        root,
        &["operator", "raft", "list-peers"],
        Texts::AsIs,
        h,
    );
    // Addresses are normalised after the columns were aligned to their real width.
    assert_eq!(
        peers_table.1,
        "Node    Address            State       Voter\n\
         ----    -------            -----       -----\n\
         n1      ADDR    leader      true\n\
         n2      ADDR    follower    true\n\
         n3      ADDR    follower    true"
    );

    // Autopilot state, once autopilot sees all three healthy.
    wait_until_async("autopilot healthy", Duration::from_secs(30), || async {
        let (_, body) = get(n1, "sys/storage/raft/autopilot/state", Some(root)).await;
        let d = &body["data"];
        (d["healthy"] == true && d["voters"].as_array().is_some_and(|v| v.len() == 3)).then_some(())
    })
    .await;
    for format in [
        "-format=table",
        "-format=pretty",
        "-format=json",
        "-format=yaml",
    ] {
        same(
            n2.addr(),
            root,
            &["operator", "raft", "autopilot", "state", format],
            Texts::AsIs,
            h,
        );
    }
    let state = same(
        n1.addr(),
        root,
        &["operator", "raft", "autopilot", "state"],
        Texts::AsIs,
        h,
    );
    assert!(
        state.1.starts_with("Healthy:                         true\nFailure Tolerance:               1\nLeader:                          n1\nVoters:\n"),
        "{}",
        state.1
    );

    // Members.
    for node in [n1, n3] {
        for format in [
            "-format=table",
            "-format=json",
            "-format=yaml",
            "-format=pretty",
        ] {
            same(
                node.addr(),
                root,
                &["operator", "members", format],
                Texts::AsIs,
                h,
            );
        }
    }
    let members = same(n1.addr(), root, &["operator", "members"], Texts::AsIs, h);
    assert_eq!(members.1.lines().count(), 5, "{}", members.1);

    // Peer changes of an unknown id, and every command with a token that may do nothing.
    let removed = same(
        n1.addr(),
        root,
        &["operator", "raft", "remove-peer", "no-such-node"],
        Texts::AsIs,
        h,
    );
    assert_eq!(
        removed,
        (0, "Peer removed successfully!".into(), String::new())
    );
    for change in ["promote", "demote"] {
        let (code, _, err) = same(
            n1.addr(),
            root,
            &["operator", "raft", change, "no-such-node"],
            Texts::AsIs,
            h,
        );
        assert_eq!(code, 2);
        assert!(err.contains("server no-such-node not found"), "{err}");
    }
    let forbidden_snap = h.join("forbidden.snap");
    let forbidden_snap = forbidden_snap.to_str().expect("path");
    let forbidden: &[&[&str]] = &[
        &["operator", "raft", "list-peers"],
        &["operator", "raft", "remove-peer", "n3"],
        &["operator", "raft", "autopilot", "get-config"],
        &[
            "operator",
            "raft",
            "autopilot",
            "set-config",
            "-min-quorum=5",
        ],
        &["operator", "raft", "autopilot", "state"],
        &["operator", "raft", "snapshot", "save", forbidden_snap],
        &["operator", "members"],
        &["operator", "step-down"],
    ];
    for args in forbidden {
        let (code, _, err) = same(n1.addr(), "not-a-token", args, Texts::AsIs, h);
        assert_eq!(code, 2, "{args:?}");
        assert!(err.contains("Code: 403"), "{args:?}: {err}");
    }
    assert!(
        !Path::new(forbidden_snap).exists(),
        "a refused save leaves no file"
    );

    // Snapshots: both CLIs save the same kind of file; `arca` restores its own, which brings
    // back the state it saved (a policy written after the save is gone); a file that is no
    // snapshot is refused alike, with and without -force.
    let by_arca = snapshot_path(h, "arca.snap");
    let by_bao = snapshot_path(h, "bao.snap");
    let save = |bin: &Path, file: &Path| {
        let path = file.to_str().expect("path");
        run(
            bin,
            n1.addr(),
            root,
            &["operator", "raft", "snapshot", "save", path],
            h,
        )
    };
    assert_eq!(
        save(&arca_bin(), &by_arca),
        (0, String::new(), String::new())
    );
    assert_eq!(save(&bao(), &by_bao), (0, String::new(), String::new()));
    assert!(
        is_gzip(&by_arca) && is_gzip(&by_bao),
        "snapshots are gzip'd tar files"
    );
    let policy = json!({"policy": "path \"x/*\" { capabilities = [\"read\"] }"});
    let put = call(
        &n1.server,
        "PUT",
        "sys/policies/acl/after-save",
        Some(root),
        Some(policy),
    )
    .await;
    assert_eq!(put.status, 204, "{}", put.body);
    let before = active_since(n1).await;
    let path = by_arca.to_str().expect("path");
    assert_eq!(
        run(
            &arca_bin(),
            n1.addr(),
            root,
            &["operator", "raft", "snapshot", "restore", path],
            h,
        ),
        (0, String::new(), String::new())
    );
    wait_restored(n1, before).await;
    let gone = get(n1, "sys/policies/acl/after-save", Some(root)).await.0;
    assert_eq!(
        gone, 404,
        "the snapshot arca saved and restored brought back the state before the policy"
    );
    let garbage = h.join("garbage.snap");
    std::fs::write(&garbage, b"this is not a raft snapshot").expect("garbage");
    let garbage = garbage.to_str().expect("path");
    for force in [&[][..], &["-force"][..]] {
        let mut args = vec!["operator", "raft", "snapshot", "restore"];
        args.extend_from_slice(force);
        args.push(garbage);
        let (code, _, err) = same(n1.addr(), root, &args, Texts::AsIs, h);
        assert_eq!(code, 2);
        assert!(err.contains("failed to decompress snapshot"), "{err}");
    }
    let (code, _, err) = same(
        n1.addr(),
        root,
        &[
            "operator",
            "raft",
            "snapshot",
            "save",
            "/nonexistent-dir/x.snap",
        ],
        Texts::AsIs,
        h,
    );
    assert_eq!(code, 2);
    assert!(err.contains("no such file or directory"), "{err}");
    wait_until_async(
        "three voters after the restores",
        Duration::from_secs(30),
        || async {
            let p = peers(n1, root).await;
            (p.len() == 3 && p.iter().all(|(_, voter)| *voter)).then_some(())
        },
    )
    .await;

    // Step-down: `arca` makes the active node resign, then `bao` the next one.
    let mut outputs = Vec::new();
    for bin in [arca_bin(), bao()] {
        let active = wait_until_async("an active node", Duration::from_secs(30), || async {
            active_index(&nodes).await
        })
        .await;
        let node = &nodes[active];
        let printed = run(&bin, node.addr(), root, &["operator", "step-down"], h);
        assert_eq!(printed.0, 0, "{} step-down: {printed:?}", bin.display());
        wait_until_async("the step-down", Duration::from_secs(30), || async {
            (get(node, "sys/health", None).await.0 != 200).then_some(())
        })
        .await;
        outputs.push(printed);
    }
    assert_eq!(outputs[0], outputs[1], "step-down (left: arca, right: bao)");
    assert_eq!(outputs[0].1, "Success! Stepped down: http://ADDR");

    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(60),
        "the cluster test took {took:?}"
    );
}
