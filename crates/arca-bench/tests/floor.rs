//! The floor server binary (`arca-bench floor`): started on a free port, it must answer
//! `GET /v1/sys/health` the way Arca's dev server does (200, Arca's headers, the health JSON)
//! on a keep-alive connection, and `--copy-from` must copy another server's answer byte for
//! byte.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use arca_bench::client::{build_request, new_client};
use http_body_util::BodyExt;

/// A floor process, killed on drop.
struct Floor {
    child: Child,
    base: String,
}

impl Drop for Floor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `arca-bench floor` on port 0 and reads the address it bound from its first line.
fn start(extra: &[&str]) -> Floor {
    let mut child = Command::new(env!("CARGO_BIN_EXE_arca-bench"))
        .args(["floor", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    Floor {
        child,
        base: format!("http://{addr}"),
    }
}

async fn get(
    client: &arca_bench::client::HttpClient,
    base: &str,
) -> (hyper::StatusCode, hyper::HeaderMap, bytes::Bytes) {
    let req = build_request(base, "GET", "sys/health", Some("root"), None).unwrap();
    let resp = client.request(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

#[tokio::test]
async fn answers_like_arca_sys_health_on_one_connection() {
    let floor = start(&[]);
    let client = new_client(1);
    let (status, headers, body) = get(&client, &floor.base).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(
        headers["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    assert_eq!(
        headers["content-length"].to_str().unwrap(),
        body.len().to_string()
    );
    assert!(headers.contains_key("date"));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["initialized"], true);
    assert_eq!(v["sealed"], false);
    assert_eq!(v["standby"], false);
    assert_eq!(v["replication_dr_mode"], "disabled");
    assert!(v["server_time_utc"].is_i64());
    assert!(v["cluster_id"].is_string() && v["version"].is_string());
    // Any path, any number of times, the same bytes (keep-alive: one pooled connection).
    for _ in 0..3 {
        let (s, _, again) = get(&client, &floor.base).await;
        assert_eq!(s, 200);
        assert_eq!(again, body);
    }
}

#[tokio::test]
async fn copy_from_answers_another_servers_health_byte_for_byte() {
    let original = start(&[]);
    let copy = start(&["--copy-from", &original.base]);
    let client = new_client(2);
    let (s1, h1, b1) = get(&client, &original.base).await;
    let (s2, h2, b2) = get(&client, &copy.base).await;
    assert_eq!((s1, &b1), (s2, &b2));
    let names = |h: &hyper::HeaderMap| {
        let mut v: Vec<(String, String)> = h
            .iter()
            .filter(|(n, _)| n.as_str() != "date")
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&h1), names(&h2));
}
