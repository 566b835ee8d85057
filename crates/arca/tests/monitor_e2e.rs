//! `sys/monitor` against the real `arca` binary (one server for the file), beside a real
//! OpenBao dev server for the error answers: the log streams as hclog's standard lines or JSON,
//! at the level asked for whatever the server's own level, until the client leaves or the core
//! seals; `arca monitor` and `bao monitor` print it.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Server, arca_bin, bao, client, root_call, root_ok, run_arca, run_bao, servers};
use serde_json::{Value, json};

/// How long a line may take to arrive.
const WAIT: Duration = Duration::from_secs(20);

/// An open monitor: the answer being read and what has arrived but not been taken.
struct Monitor {
    answer: reqwest::Response,
    pending: Vec<u8>,
    /// Every line taken so far.
    seen: Vec<String>,
}

impl Monitor {
    async fn open(s: &Server, query: &str) -> Monitor {
        let answer = client()
            .get(s.url(&format!("sys/monitor?{query}")))
            .header("X-Vault-Token", "root")
            .send()
            .await
            .expect("monitor request");
        assert_eq!(answer.status(), 200, "monitor: {:?}", answer.headers());
        assert!(
            answer.headers().get("content-type").is_none(),
            "OpenBao's monitor sends no content type"
        );
        assert_eq!(answer.headers()["cache-control"], "no-store");
        Monitor {
            answer,
            pending: Vec::new(),
            seen: Vec::new(),
        }
    }

    /// The next whole line, `None` when the stream ended.
    async fn line(&mut self) -> Option<String> {
        loop {
            if let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line[..end]).into_owned();
                self.seen.push(line.clone());
                return Some(line);
            }
            match tokio::time::timeout(WAIT, self.answer.chunk()).await {
                Ok(Ok(Some(chunk))) => self.pending.extend_from_slice(&chunk),
                Ok(Ok(None)) | Ok(Err(_)) => {
                    if self.pending.is_empty() {
                        return None;
                    }
                    let rest = String::from_utf8_lossy(&self.pending).into_owned();
                    self.pending.clear();
                    self.seen.push(rest.clone());
                    return Some(rest);
                }
                Err(_) => panic!("no monitor line within {WAIT:?}; seen {:#?}", self.seen),
            }
        }
    }

    /// The first line from now on that contains `text`.
    async fn until(&mut self, text: &str) -> String {
        loop {
            match self.line().await {
                Some(line) if line.contains(text) => return line,
                Some(_) => {}
                None => panic!("the monitor ended before {text:?}; seen {:#?}", self.seen),
            }
        }
    }
}

/// Whether `line` is an hclog standard line: `<RFC 3339 ms>Z [LEVEL] rest`.
fn standard_shape(line: &str) -> bool {
    let (time, rest) = line.split_at(line.find(' ').unwrap_or(0));
    let time_ok = time.len() == 24
        && time.ends_with('Z')
        && chrono::DateTime::parse_from_rfc3339(time).is_ok();
    let level_ok = ["[TRACE] ", "[DEBUG] ", "[INFO]  ", "[WARN]  ", "[ERROR] "]
        .iter()
        .any(|tag| rest.strip_prefix(' ').is_some_and(|r| r.starts_with(tag)));
    time_ok && level_ok
}

async fn mount(s: &Server, path: &str) {
    root_ok(
        s,
        "POST",
        &format!("sys/mounts/{path}"),
        Some(json!({"type": "kv"})),
    )
    .await;
}

#[tokio::test]
async fn monitor_streams_the_log() {
    let s = servers();
    let arca = &s[0];
    errors_match_openbao(&s).await;
    standard_lines(arca).await;
    json_lines(arca).await;
    cli_monitors(arca, &s[1]).await;
    sealing_ends_the_stream(arca).await;
}

/// Bad parameters, methods and tokens get OpenBao's answers.
async fn errors_match_openbao(s: &[Server; 2]) {
    for (method, path, token) in [
        ("GET", "sys/monitor?log_level=bogus", Some("root")),
        ("GET", "sys/monitor?log_format=xml", Some("root")),
        (
            "GET",
            "sys/monitor?log_level=bogus&log_format=xml",
            Some("root"),
        ),
        ("GET", "sys/monitor?log_format=", Some("root")),
        ("PUT", "sys/monitor", Some("root")),
        ("GET", "sys/monitor", None),
        ("GET", "sys/monitor", Some("not-a-token")),
    ] {
        let mut answers = Vec::new();
        for server in s {
            let a = common::call(server, method, path, token, None).await;
            answers.push((a.status, a.body));
        }
        assert_eq!(answers[0], answers[1], "{method} {path} token {token:?}");
        assert!(answers[0].0 >= 400, "{method} {path}: {:?}", answers[0]);
    }
    let a = root_call(&s[0], "GET", "sys/monitor?log_level=bogus", None).await;
    assert_eq!(a.body, json!({"errors": ["unknown log level"]}));
}

/// hclog's standard lines, at DEBUG while the server logs at INFO; an INFO monitor open at the
/// same time sees no DEBUG line.
async fn standard_lines(s: &Server) {
    let mut debug = Monitor::open(s, "log_level=debug").await;
    let mut info = Monitor::open(s, "log_level=INFO&log_format=standard").await;
    root_ok(s, "GET", "sys/mounts", None).await;
    mount(s, "mon-std").await;

    let line = debug.until("successful mount").await;
    let (_, rest) = line.split_once(' ').expect("time");
    assert_eq!(
        rest,
        "[INFO]  core: successful mount: namespace=\"\" path=mon-std/ type=kv version=\"\""
    );
    assert!(standard_shape(&line), "{line}");
    // The HTTP layer's DEBUG line for a request made before the mount.
    assert!(
        debug
            .seen
            .iter()
            .any(|l| l.contains("[DEBUG] http: request:") && l.contains("path=/v1/sys/mounts")),
        "no DEBUG request line: {:#?}",
        debug.seen
    );
    let line = info.until("successful mount").await;
    assert!(standard_shape(&line), "{line}");
    assert!(
        info.seen.iter().all(|l| !l.contains("[DEBUG]")),
        "an INFO monitor got DEBUG lines: {:#?}",
        info.seen
    );
    // The server's own log stays at its level.
    let own = std::fs::read_to_string(&s.log).unwrap_or_default();
    assert!(
        !own.contains("path=/v1/sys/mounts status"),
        "the server's own log got a monitor's DEBUG lines"
    );

    // A disabled mount is logged too; the same monitor keeps streaming.
    root_ok(s, "DELETE", "sys/mounts/mon-std", None).await;
    let line = debug.until("successfully unmounted").await;
    assert!(line.ends_with("core: successfully unmounted: namespace=\"\" path=mon-std/"));
}

/// hclog's JSON lines.
async fn json_lines(s: &Server) {
    let mut m = Monitor::open(s, "log_format=json").await;
    mount(s, "mon-json").await;
    let line = m.until("mon-json").await;
    let v: Value = serde_json::from_str(&line).expect("a JSON line");
    assert_eq!(v["@level"], "info");
    assert_eq!(v["@message"], "successful mount");
    assert_eq!(v["@module"], "core");
    assert_eq!(v["path"], "mon-json/");
    assert_eq!(v["type"], "kv");
    let ts = v["@timestamp"].as_str().expect("timestamp");
    assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok() && ts.ends_with('Z'));
}

/// Starts `bin` with `args` against `s` and hands back its stdout lines as they come.
fn spawn_cli(
    bin: &std::path::Path,
    s: &Server,
    args: &[&str],
) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut child = Command::new(bin)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("VAULT_ADDR", &s.addr)
        .env("BAO_ADDR", &s.addr)
        .env("VAULT_TOKEN", "root")
        .env("BAO_TOKEN", "root")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the CLI");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// `arca monitor` and `bao monitor` print the stream; bad flags fail as `bao`'s do.
async fn cli_monitors(arca: &Server, openbao: &Server) {
    for (name, bin) in [("arca", arca_bin()), ("bao", bao())] {
        let (mut child, lines) = spawn_cli(&bin, arca, &["monitor", "-log-level=debug"]);
        let path = format!("mon-{name}");
        let deadline = Instant::now() + WAIT;
        let mut found = None;
        // The monitor opens asynchronously: mount again until its line shows.
        let mut round = 0;
        while found.is_none() && Instant::now() < deadline {
            round += 1;
            mount(arca, &format!("{path}-{round}")).await;
            while let Ok(line) = lines.recv_timeout(Duration::from_millis(500)) {
                if line.contains("successful mount") && line.contains(&path) {
                    found = Some(line);
                    break;
                }
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        let line = found.unwrap_or_else(|| panic!("`{name} monitor` printed no mount line"));
        assert!(standard_shape(&line), "{name}: {line}");
    }
    for args in [
        &["monitor", "-log-level=bogus"][..],
        &["monitor", "-log-format=xml"][..],
        &["monitor", "extra"][..],
    ] {
        let (code, _, err) = run_arca(&arca.addr, Some("root"), args);
        let (bao_code, _, bao_err) = run_bao(&openbao.addr, Some("root"), args);
        assert_eq!(code, bao_code, "{args:?}");
        assert_eq!(err.trim(), bao_err.trim(), "{args:?}");
    }
}

/// Sealing the core ends every monitor with OpenBao's last line.
async fn sealing_ends_the_stream(s: &Server) {
    let mut m = Monitor::open(s, "log_level=info").await;
    let a = root_call(s, "PUT", "sys/seal", None).await;
    assert_eq!(a.status, 204, "{:?}", a.body);
    let deadline = Instant::now() + WAIT;
    let mut last = String::new();
    while let Some(line) = m.line().await {
        last = line;
        assert!(Instant::now() < deadline, "the monitor did not end");
    }
    assert_eq!(
        last,
        "core received sealed state change, ending monitor session"
    );
}
