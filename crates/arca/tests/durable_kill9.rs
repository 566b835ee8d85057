//! `kill -9` loses no acknowledged write: a file-storage server is killed (SIGKILL) at a random
//! moment while several connections write KV v2 secrets, restarted and unsealed, and every
//! write it answered 2xx must read back with its value, round after round over the same data.
//!
//! The long variant (more rounds, more writes, release build) is `bench/kill9.sh`.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Server, call, init_unseal, unseal};
use serde_json::{Value, json};
use tokio::sync::watch;

/// Rounds of write, kill, restart, check (environment variable `ARCA_KILL9_ROUNDS`).
const ROUNDS: usize = 100;
/// Concurrent writers, each on its own keep-alive connection (`ARCA_KILL9_WRITERS`).
const WRITERS: usize = 4;
/// The kill comes after a random number of acknowledged writes, 1 to this many
/// (`ARCA_KILL9_MAX_ACKED`).
const MAX_ACKED_BEFORE_KILL: u64 = 40;

/// The number in environment variable `name`, or `default`.
fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One acknowledged write: the key under `secret/data/` and the value written.
#[derive(Clone, Debug)]
struct Acked {
    key: String,
    value: String,
}

/// What one writer saw acknowledged in one round: unique keys, and how far its counter key
/// (rewritten on every write, holding its write number) got.
#[derive(Default)]
struct WriterLog {
    acked: Vec<Acked>,
    counter_key: String,
    last_counter: u64,
}

/// A small xorshift generator: the test prints its seed so a failing run can be repeated.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Writes until a request fails (the server was killed): each write is a unique key, then the
/// writer's counter key with the write's number, alternating. Reports every acknowledged write
/// on `acks` (the total count) and returns them.
async fn writer(
    addr: String,
    token: String,
    round: usize,
    w: usize,
    acks: watch::Sender<u64>,
) -> WriterLog {
    let client = reqwest::Client::new();
    let mut log = WriterLog {
        counter_key: format!("kill9/r{round}/counter{w}"),
        ..WriterLog::default()
    };
    // A writer stops at its first failed request: the kill always comes first.
    for i in 0.. {
        let (key, body, value) = if i % 2 == 0 {
            let key = format!("kill9/r{round}/w{w}/k{i}");
            let value = format!("{round}-{w}-{i}-{}", "v".repeat(i % 64));
            (key, json!({"data": {"v": value}}), Some(value))
        } else {
            let n = log.last_counter + 1;
            (log.counter_key.clone(), json!({"data": {"n": n}}), None)
        };
        let sent = client
            .post(format!("{addr}/v1/secret/data/{key}"))
            .header("X-Vault-Token", &token)
            .json(&body)
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {}
            _ => break,
        }
        match value {
            Some(value) => log.acked.push(Acked { key, value }),
            None => log.last_counter += 1,
        }
        acks.send_modify(|n| *n += 1);
    }
    log
}

/// The `data` object of `secret/data/<key>`; panics unless it answers 200.
async fn read(s: &Server, token: &str, key: &str) -> Value {
    let r = call(s, "GET", &format!("secret/data/{key}"), Some(token), None).await;
    assert_eq!(r.status, 200, "{key} after the restart: {}", r.body);
    r.body["data"].clone()
}

/// Checks one writer's round after a restart: every acknowledged unique write reads back, and
/// its counter key holds the last acknowledged number or the one after it (a write in flight
/// at the kill may or may not have landed), as the version the KV engine recorded with it.
async fn check_writer(s: &Server, token: &str, log: &WriterLog) {
    for acked in &log.acked {
        let data = read(s, token, &acked.key).await;
        assert_eq!(data["data"]["v"], acked.value.as_str(), "{}", acked.key);
    }
    if log.last_counter == 0 {
        return;
    }
    let data = read(s, token, &log.counter_key).await;
    let n = data["data"]["n"].as_u64().expect("counter value");
    assert!(
        n == log.last_counter || n == log.last_counter + 1,
        "{}: {n} after {} acknowledged",
        log.counter_key,
        log.last_counter
    );
    assert_eq!(
        data["metadata"]["version"].as_u64(),
        Some(n),
        "{}: the version and its metadata were written together",
        log.counter_key
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_write() {
    let rounds = setting("ARCA_KILL9_ROUNDS", ROUNDS);
    let writers = setting("ARCA_KILL9_WRITERS", WRITERS);
    let max_acked = setting("ARCA_KILL9_MAX_ACKED", MAX_ACKED_BEFORE_KILL).max(1);
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    println!(
        "kill -9 test: seed {seed}, {rounds} rounds, {writers} writers, kill after 1-{max_acked} acknowledged writes"
    );
    let mut rng = Rng(seed);

    let mut server = Server::with_file_storage(None);
    let (key, root) = init_unseal(&server).await;
    let r = call(
        &server,
        "POST",
        "sys/mounts/secret",
        Some(&root),
        Some(json!({"type": "kv", "options": {"version": "2"}})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);

    let mut all: Vec<WriterLog> = Vec::new();
    let mut total_acked = 0;
    for round in 0..rounds {
        let kill_after = 1 + rng.below(max_acked);
        let (acks, mut acked) = watch::channel(0u64);
        let tasks: Vec<_> = (0..writers)
            .map(|w| {
                tokio::spawn(writer(
                    server.addr.clone(),
                    root.clone(),
                    round,
                    w,
                    acks.clone(),
                ))
            })
            .collect();
        drop(acks);
        tokio::time::timeout(
            Duration::from_secs(120),
            acked.wait_for(|n| *n >= kill_after),
        )
        .await
        .unwrap_or_else(|_| panic!("round {round}: {kill_after} writes were not acknowledged"))
        .unwrap_or_else(|_| panic!("round {round}: the writers stopped early"));
        // SIGKILL, with writes in flight on the other connections.
        let dir = server.stop();
        let mut logs = Vec::with_capacity(writers);
        for handle in tasks {
            logs.push(handle.await.unwrap());
        }
        total_acked += logs
            .iter()
            .map(|l| l.acked.len() as u64 + l.last_counter)
            .sum::<u64>();

        server = Server::with_file_storage(dir);
        unseal(&server, &key).await;
        for log in &logs {
            check_writer(&server, &root, log).await;
        }
        all.extend(logs);
    }
    // Later rounds kept what earlier rounds wrote.
    for log in &all {
        check_writer(&server, &root, log).await;
    }
    println!("kill -9 test: {rounds} rounds, {total_acked} acknowledged writes, none lost");
}
