//! `arca debug` against the real `arca` server, and the real `bao debug` against the same
//! server (one Arca dev server for the file): the bundle holds the files `bao`'s holds, each
//! holding what the server answers, and `index.json` lists the targets, files and failures
//! as `bao`'s does (the same failure texts, word for word). `bao`'s console lines are held
//! to the same text too, and the `log` target streams `sys/monitor` into the bundle. The
//! test fails (it does not skip) when `bao` is missing.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Server, arca_bin, bao, bao_dev, call, root_ok, run_cli_in};
use serde_json::Value;

/// Every target but `replication-status`: `bao` ends its whole capture as soon as one
/// target stops, and `replication-status` stops at once on OpenBao and Arca alike (both
/// answer `sys/replication/status` with 404), so a comparison with `bao` leaves it out.
const COMPARED_TARGETS: [&str; 7] = [
    "-target=config",
    "-target=host",
    "-target=requests",
    "-target=metrics",
    "-target=pprof",
    "-target=server-status",
    "-target=log",
];

/// The shortest capture: one five-second interval (and the second of grace).
const SHORT: [&str; 3] = ["-duration=5s", "-interval=5s", "-metrics-interval=5s"];

/// `<bin> debug <args>` against `s` with the root token.
fn run(bin: &Path, s: &Server, args: &[String], home: &Path) -> (i32, String, String) {
    let args: Vec<&str> = std::iter::once("debug")
        .chain(args.iter().map(String::as_str))
        .collect();
    run_cli_in(bin, &s.addr, Some("root"), &args, home)
}

fn args(parts: &[&[&str]]) -> Vec<String> {
    parts
        .iter()
        .flat_map(|p| p.iter().map(|a| a.to_string()))
        .collect()
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The names in `dir`, directories with a trailing `/`.
fn listing(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let e = e.expect("entry");
            let name = e.file_name().to_string_lossy().into_owned();
            if e.file_type().expect("type").is_dir() {
                format!("{name}/")
            } else {
                name
            }
        })
        .collect()
}

/// The listing with interval directories (named after a time) as `<interval>/`.
fn file_set(dir: &Path) -> BTreeSet<String> {
    listing(dir)
        .into_iter()
        .map(|n| {
            if n.ends_with("Z/") {
                "<interval>/".into()
            } else {
                n
            }
        })
        .collect()
}

/// The `(target, error)` pairs of an index, ports and times taken out.
fn failures(index: &Value) -> BTreeSet<(String, String)> {
    index["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            assert!(e["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
            (
                e["target"].as_str().expect("target").to_string(),
                e["error"].as_str().expect("error").to_string(),
            )
        })
        .collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn untar(archive: &Path, into: &Path) {
    let status = Command::new("tar")
        .arg("xzf")
        .arg(archive)
        .arg("-C")
        .arg(into)
        .status()
        .expect("run tar");
    assert!(status.success(), "tar xzf {}", archive.display());
}

#[tokio::test(flavor = "multi_thread")]
async fn debug_bundles_as_bao_does() {
    let s = Server::dev();
    let home = tempfile::tempdir().expect("home");
    let work = tempfile::tempdir().expect("work");
    let out = |name: &str| work.path().join(name).display().to_string();

    // Three captures at once (each lasts six seconds): `arca debug` with every target into
    // an archive, then `arca debug` and `bao debug` with the compared targets into plain
    // directories.
    let full_args = args(&[&SHORT, &[&format!("-output={}", out("full"))]]);
    let arca_dir_args = args(&[
        &SHORT,
        &COMPARED_TARGETS,
        &["-compress=false", &format!("-output={}", out("arca-dir"))],
    ]);
    let bao_dir_args = args(&[
        &SHORT,
        &COMPARED_TARGETS,
        &["-compress=false", &format!("-output={}", out("bao-dir"))],
    ]);
    let (full, arca_dir, bao_dir) = std::thread::scope(|scope| {
        let full = scope.spawn(|| run(&arca_bin(), &s, &full_args, home.path()));
        let arca_dir = scope.spawn(|| run(&arca_bin(), &s, &arca_dir_args, home.path()));
        let bao_dir = scope.spawn(|| run(&bao(), &s, &bao_dir_args, home.path()));
        (
            full.join().expect("full"),
            arca_dir.join().expect("arca"),
            bao_dir.join().expect("bao"),
        )
    });

    full_bundle(&s, &full, &full_args, work.path()).await;
    same_bundle_as_bao(&s, &arca_dir, &bao_dir, work.path());
    refusals_as_bao(&s, work.path(), home.path());
    replication_status_as_openbao(&s).await;
}

/// `sys/replication/status`, which `debug` reads: OpenBao lists it as needing no token and
/// serves nothing there, so it answers a bare 404 (not the usual wrapped one) to any token
/// or none; a LIST or a trailing `/` is an ordinary unknown path; a namespace is refused.
async fn replication_status_as_openbao(arca: &Server) {
    let openbao = bao_dev();
    call(arca, "POST", "sys/namespaces/team", Some("root"), None).await;
    call(&openbao, "POST", "sys/namespaces/team", Some("root"), None).await;
    for (method, path, token) in [
        ("GET", "sys/replication/status", Some("root")),
        ("GET", "sys/replication/status", None),
        ("GET", "sys/replication/status", Some("not-a-token")),
        ("PUT", "sys/replication/status", Some("root")),
        ("DELETE", "sys/replication/status", None),
        ("LIST", "sys/replication/status", Some("root")),
        ("LIST", "sys/replication/status", None),
        ("GET", "sys/replication/status/", Some("root")),
        ("GET", "sys/replication/status/x", Some("root")),
        ("GET", "team/sys/replication/status", Some("root")),
    ] {
        let a = call(arca, method, path, token, None).await;
        let b = call(&openbao, method, path, token, None).await;
        assert_eq!(
            (a.status, &a.body),
            (b.status, &b.body),
            "{method} {path} {token:?}: Arca (left), OpenBao (right)"
        );
    }
}

/// The keys of a JSON text in the order they first appear (independent of how many entries
/// a capture took).
fn key_order(text: &str) -> Vec<&str> {
    let mut seen = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.trim_start().strip_prefix('"') else {
            continue;
        };
        if let Some((key, _)) = rest.split_once("\": ")
            && !seen.contains(&key)
        {
            seen.push(key);
        }
    }
    seen
}

/// The archive of every target: its layout, and each file against the server's answers.
async fn full_bundle(s: &Server, ran: &(i32, String, String), given: &[String], work: &Path) {
    let (code, stdout, stderr) = ran;
    assert_eq!(*code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let archive = work.join("full.tar.gz");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "==> Starting debug capture...");
    assert_eq!(lines[1], format!("          Arca Address: {}", s.addr));
    assert_eq!(lines[4], "              Duration: 5s");
    assert_eq!(
        lines[7],
        "               Targets: config, host, requests, metrics, pprof, replication-status, server-status, log"
    );
    assert_eq!(
        lines[8],
        format!("                Output: {}", archive.display())
    );
    assert_eq!(
        lines.last().copied(),
        Some(format!("Success! Bundle written to: {}", archive.display()).as_str())
    );
    for progress in [
        "[INFO]  capturing configuration state",
        "[INFO]  capturing host information: count=0",
        "[INFO]  capturing metrics: count=1",
        "[INFO]  capturing replication status: count=0",
        "[INFO]  capturing in-flight request status: count=0",
    ] {
        assert!(stderr.contains(progress), "{progress} in {stderr}");
    }
    // The directory is gone once archived; the archive holds it.
    assert!(!work.join("full").exists());
    let unpacked = work.join("unpacked");
    std::fs::create_dir(&unpacked).expect("mkdir");
    untar(&archive, &unpacked);
    let root = unpacked.join("full");
    assert_eq!(
        file_set(&root),
        [
            "<interval>/",
            "arca.log",
            "config.json",
            "host_info.json",
            "index.json",
            "metrics.json",
            "requests.json",
            "server_status.json",
        ]
        .into_iter()
        .map(String::from)
        .collect(),
        "no replication_status.json: the server has no replication status"
    );

    let index = read_json(&root.join("index.json"));
    assert_eq!(index["version"], 1);
    assert_eq!(index["vault_address"], s.addr.as_str());
    assert_eq!(index["server_version"], index["client_version"]);
    assert_eq!(index["duration_seconds"], 5);
    assert_eq!(index["interval_seconds"], 5);
    assert_eq!(index["metrics_interval_seconds"], 5);
    assert_eq!(index["compress"], true);
    assert_eq!(index["raw_args"], serde_json::json!(given));
    assert_eq!(
        index["targets"],
        serde_json::json!([
            "config",
            "host",
            "requests",
            "metrics",
            "pprof",
            "replication-status",
            "server-status",
            "log"
        ])
    );
    // `output` lists the top files (not index.json, written after) and each interval.
    let output = &index["output"];
    assert_eq!(
        output["files"],
        serde_json::json!([
            "arca.log",
            "config.json",
            "host_info.json",
            "metrics.json",
            "requests.json",
            "server_status.json"
        ])
    );
    let intervals: Vec<String> = keys(output).into_iter().filter(|k| k != "files").collect();
    assert!(!intervals.is_empty());
    for name in &intervals {
        let interval = &output[name.as_str()];
        assert_eq!(
            interval["files"],
            serde_json::json!([]),
            "Arca has no pprof"
        );
        let stamp = interval["timestamp"].as_str().expect("timestamp");
        assert_eq!(stamp.replace(':', "-"), *name);
        assert!(root.join(name).is_dir());
    }
    let failed = failures(&index);
    let targets: BTreeSet<&str> = failed.iter().map(|(t, _)| t.as_str()).collect();
    for pprof in [
        "pprof.threadcreate",
        "pprof.allocs",
        "pprof.block",
        "pprof.mutex",
        "pprof.goroutine",
        "pprof.heap",
        "pprof.goroutines-text",
        "pprof.profile",
        "pprof.trace",
    ] {
        assert!(targets.contains(pprof), "{pprof} in {failed:?}");
    }
    assert!(failed.contains(&(
        "replication-status".to_string(),
        format!(
            "Error making API request.\n\nURL: GET {}/v1/sys/replication/status\nCode: 404. Errors:\n\n* unsupported path",
            s.addr
        )
    )));
    for fine in ["host", "metrics", "requests", "config", "log"] {
        assert!(!targets.contains(fine), "{fine} failed: {failed:?}");
    }

    // The log target streamed the server's log (at trace level) for the whole capture: the
    // capture's own requests are in it.
    let log = std::fs::read_to_string(root.join("arca.log")).expect("arca.log");
    assert!(log.ends_with('\n'), "{log}");
    assert!(
        log.lines().any(|l| l.contains("/v1/sys/")),
        "the capture's requests in the log: {log}"
    );

    // Each file holds what the server answers.
    let config = read_json(&root.join("config.json"));
    let sanitized = root_ok(s, "GET", "sys/config/state/sanitized", None).await;
    assert_eq!(config[0]["config"], sanitized["data"]);
    assert!(config[0]["timestamp"].is_string());

    let host = read_json(&root.join("host_info.json"));
    let answered = root_ok(s, "GET", "sys/host-info", None).await;
    // One per tick (0s, 5s): the second may miss the deadline on a loaded machine.
    let taken = host.as_array().map_or(0, Vec::len);
    assert!((1..=2).contains(&taken), "{taken} host captures");
    assert_eq!(keys(&host[0]), keys(&answered["data"]));
    for part in ["cpu", "memory", "host", "disk", "cpu_times"] {
        assert!(!host[0][part].is_null(), "{part} in {}", host[0]);
    }

    let metrics = read_json(&root.join("metrics.json"));
    let taken = metrics.as_array().map_or(0, Vec::len);
    assert!((1..=2).contains(&taken), "{taken} metrics captures");
    for part in ["Counters", "Gauges", "Samples", "Timestamp"] {
        assert!(metrics[0].get(part).is_some(), "{part} in {}", metrics[0]);
    }
    let gauges: Vec<&str> = metrics[0]["Gauges"]
        .as_array()
        .expect("gauges")
        .iter()
        .filter_map(|g| g["Name"].as_str())
        .collect();
    assert!(
        gauges.iter().any(|n| n.starts_with("vault.")),
        "Vault metric names: {gauges:?}"
    );

    let requests = read_json(&root.join("requests.json"));
    let seen: Vec<&str> = requests[0]["in_flight_requests"]
        .as_object()
        .expect("in-flight requests")
        .values()
        .filter_map(|r| r["request_path"].as_str())
        .collect();
    assert!(seen.contains(&"/v1/sys/in-flight-req"), "{seen:?}");

    let status = read_json(&root.join("server_status.json"));
    assert_eq!(status[0]["health"]["initialized"], true);
    assert_eq!(status[0]["health"]["sealed"], false);
    assert_eq!(status[0]["seal"]["type"], "shamir");
    assert_eq!(status[0]["seal"]["version"], index["server_version"]);
}

/// `arca debug` and `bao debug`, same targets, same server: the same files, the same
/// shapes, the same failures (texts included), the same console lines.
fn same_bundle_as_bao(
    s: &Server,
    arca: &(i32, String, String),
    bao: &(i32, String, String),
    work: &Path,
) {
    assert_eq!(arca.0, 0, "arca: {arca:?}");
    assert_eq!(bao.0, 0, "bao: {bao:?}");
    let arca_root = work.join("arca-dir");
    let bao_root = work.join("bao-dir");
    let mut bao_files = file_set(&bao_root);
    // Each CLI names the log after itself.
    assert!(bao_files.remove("bao.log"));
    bao_files.insert("arca.log".into());
    assert_eq!(file_set(&arca_root), bao_files);

    let arca_index = read_json(&arca_root.join("index.json"));
    let bao_index = read_json(&bao_root.join("index.json"));
    assert_eq!(keys(&arca_index), keys(&bao_index));
    for same in [
        "version",
        "vault_address",
        "server_version",
        "targets",
        "compress",
    ] {
        assert_eq!(arca_index[same], bao_index[same], "{same}");
    }
    assert_eq!(failures(&arca_index), failures(&bao_index));
    // Both streamed the server's log.
    for log in [arca_root.join("arca.log"), bao_root.join("bao.log")] {
        let text = std::fs::read_to_string(&log).expect("log");
        assert!(text.lines().count() > 1, "{}: {text}", log.display());
    }

    for (file, part) in [
        ("host_info.json", None),
        ("metrics.json", None),
        ("server_status.json", Some("health")),
        ("server_status.json", Some("seal")),
        ("requests.json", None),
        ("config.json", Some("config")),
    ] {
        let a = read_json(&arca_root.join(file));
        let b = read_json(&bao_root.join(file));
        let pick = |v: &Value| match part {
            Some(p) => v[0][p].clone(),
            None => v[0].clone(),
        };
        assert_eq!(keys(&pick(&a)), keys(&pick(&b)), "{file} {part:?}");
    }
    // Written alike: the same keys in the same order (Go's struct order for the health and
    // seal answers, sorted keys for the maps).
    for file in [
        "config.json",
        "host_info.json",
        "metrics.json",
        "server_status.json",
    ] {
        let a = std::fs::read_to_string(arca_root.join(file)).expect("arca file");
        let b = std::fs::read_to_string(bao_root.join(file)).expect("bao file");
        assert_eq!(key_order(&a), key_order(&b), "{file}");
    }
    let a = read_json(&arca_root.join("server_status.json"));
    let b = read_json(&bao_root.join("server_status.json"));
    let strip = |v: &Value| {
        let mut v = v.clone();
        v["server_time_utc"] = Value::Null;
        v
    };
    assert_eq!(strip(&a[0]["health"]), strip(&b[0]["health"]));
    assert_eq!(a[0]["seal"], b[0]["seal"]);

    // Console lines: the same but for the product's name, the version and the path.
    let console = |text: &str, root: &Path| -> Vec<String> {
        text.lines()
            .filter(|l| !l.contains("Client Version:"))
            .map(|l| {
                l.replace("       OpenBao Address:", "          Arca Address:")
                    .replace(&root.display().to_string(), "<output>")
            })
            .collect()
    };
    assert_eq!(console(&arca.1, &arca_root), console(&bao.1, &bao_root));
    assert!(arca.1.contains(&format!("Arca Address: {}", s.addr)));
}

/// Checks refused before any capture: the same words and exit codes as `bao`'s.
fn refusals_as_bao(s: &Server, work: &Path, home: &Path) {
    std::fs::create_dir(work.join("taken")).expect("mkdir");
    std::fs::write(work.join("taken-archive.tar.gz"), b"x").expect("write");
    let taken = work.join("taken").display().to_string();
    let archive = work.join("taken-archive").display().to_string();
    let cases: Vec<Vec<String>> = vec![
        args(&[&["extra"]]),
        args(&[&["-duration=soon"]]),
        args(&[&["-format=json"]]),
        args(&[&["-compress=false", &format!("-output={taken}")]]),
        args(&[&[&format!("-output={archive}")]]),
        args(&[&[
            "-duration=1s",
            "-interval=2s",
            "-compress=false",
            &format!("-output={taken}"),
        ]]),
        args(&[&[
            "-duration=6s",
            "-interval=7s",
            "-metrics-interval=8s",
            "-target=HOST",
            "-target=bogus",
            "-compress=false",
            &format!("-output={taken}"),
        ]]),
    ];
    for case in cases {
        let a = run(&arca_bin(), s, &case, home);
        let b = run(&bao(), s, &case, home);
        assert_eq!(a, b, "{case:?}");
    }
    // An unreachable server.
    let gone: PathBuf = work.join("never");
    let case = [
        format!("-output={}", gone.display()),
        "-address=http://127.0.0.1:1".into(),
    ];
    let a = run(&arca_bin(), s, &case, home);
    let b = run(&bao(), s, &case, home);
    assert_eq!(a, b);
    assert!(!gone.exists());
}
