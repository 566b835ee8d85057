//! `raft3`: KV v2 on a 3-node Arca cluster beside a 3-node OpenBao cluster, both with
//! integrated storage (`storage "raft"`), all six processes on loopback with free ports, each
//! node with its own data directory and cluster port.
//!
//! Each cluster is formed the way an operator forms one: `sys/init` (one key share) and
//! `sys/unseal` on node1, which bootstraps a one-node Raft cluster and becomes active; then
//! `sys/storage/raft/join` (`leader_api_addr` = node1) and `sys/unseal` on node2 and node3;
//! then the bench waits until `sys/storage/raft/configuration` lists three voters (OpenBao
//! promotes a joined node only after its autopilot stabilisation time, about 10 s) and both
//! other nodes answer `sys/health` as standbys (429). KV v2 is mounted at `secret/` through
//! the active node.
//!
//! Then, for each concurrency level, in this order: KV v2 writes (`kv2-write`, one key per
//! worker) through the active node, the same through a standby, KV v2 reads (`kv2-read`, one
//! secret written through the active node) through the active node and through a standby. The
//! node addressed is found again before every cell (`sys/leader` `is_self`); a leader change
//! during a cell is recorded. Each cell gets the usual warm-up per cluster and its rounds
//! interleaved (Arca, OpenBao, Arca, OpenBao, ...). Around every measured run the bench reads
//! each node's CPU time (`/proc/<pid>/stat`), so the report gives server CPU per request,
//! split by node.
//!
//! Durability is the same on both sides: an acknowledged write is in the Raft log, fsynced,
//! on a quorum (two of three nodes) and applied on the leader (Arca: `arca-raft` commits every
//! log append with `Durability::Immediate`; OpenBao: raft-boltdb syncs every append).
//!
//! The run writes `raft3.md` (see [`Raft3Report::markdown`]); [`selected`] says when `--only`
//! asks for it.

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::client::{HttpClient, call, new_client};
use crate::error::BenchError;
use crate::load::drive;
use crate::machine::Machine;
use crate::runner::{Settings, add_outcome, load_spec};
use crate::server::{Product, parse_vm_hwm, parse_vm_rss};
use crate::stats::{Samples, Summary};
use crate::workload::{KV2_READ, KV2_WRITE, Workload};

/// The workload's name, as `--only` gives it.
pub const NAME: &str = "raft3";

/// Nodes per cluster.
pub const NODES: usize = 3;

/// Longest wait for any one formation step (a node answering, a leader, three voters).
const STEP_TIMEOUT: Duration = Duration::from_secs(120);

/// Kernel clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// Whether `only` (the `--only` list) asks for the 3-node workload: one of its entries is
/// `raft3`. It is never part of a run without `--only`.
pub fn selected(only: &[String]) -> bool {
    only.iter().any(|o| o == NAME)
}

/// Which node of a cluster a cell's requests go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// The active node (the Raft leader).
    Active,
    /// A standby (a follower). Arca's forwards every request to the active node; OpenBao's
    /// forwards writes and answers reads from its own replica.
    Standby,
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Via::Active => "active",
            Via::Standby => "standby",
        })
    }
}

/// One node's process, killed when dropped (its data directory goes with it).
struct Node {
    name: String,
    base: String,
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    /// Writes the node's config into a fresh temp dir and starts `bin server -config=...`.
    fn spawn(
        product: Product,
        bin: &Path,
        name: &str,
        port: u16,
        cluster_port: u16,
    ) -> Result<Node, BenchError> {
        let dir = tempfile::tempdir().map_err(|e| BenchError::io("temp dir", e))?;
        let data = match product {
            // Arca creates its raft directory itself (0700).
            Product::Arca => dir.path().join("raft"),
            Product::OpenBao => {
                let d = dir.path().join("data");
                std::fs::create_dir_all(&d).map_err(|e| BenchError::io("data dir", e))?;
                d
            }
        };
        let cfg = dir.path().join("config.hcl");
        std::fs::write(&cfg, node_config(product, &data, name, port, cluster_port))
            .map_err(|e| BenchError::io("config file", e))?;
        let log = dir.path().join("server.log");
        let out = std::fs::File::create(&log).map_err(|e| BenchError::io("log file", e))?;
        let err = out.try_clone().map_err(|e| BenchError::io("log file", e))?;
        let child = Command::new(bin)
            .arg("server")
            .arg(format!("-config={}", cfg.display()))
            .env("HOME", dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| BenchError::Start {
                server: format!("{product} {name}"),
                detail: format!("spawn {}: {e}", bin.display()),
                log: log.clone(),
            })?;
        Ok(Node {
            name: name.to_string(),
            base: format!("http://127.0.0.1:{port}"),
            child,
            log,
            _dir: dir,
        })
    }

    fn proc_file(&self, file: &str) -> Option<String> {
        std::fs::read_to_string(format!("/proc/{}/{file}", self.child.id())).ok()
    }

    /// Resident set size now (`VmRSS`), KiB.
    fn rss_kib(&self) -> Option<u64> {
        parse_vm_rss(&self.proc_file("status")?)
    }

    /// Peak resident set size (`VmHWM`), KiB.
    fn peak_rss_kib(&self) -> Option<u64> {
        parse_vm_hwm(&self.proc_file("status")?)
    }

    /// The process has exited (it is gone or a zombie not yet waited for).
    fn exited(&self) -> bool {
        self.proc_file("stat").is_none_or(|stat| {
            stat.rfind(')')
                .and_then(|p| stat[p + 1..].split_whitespace().next())
                .is_some_and(|state| state == "Z" || state == "X")
        })
    }

    /// User plus system CPU time of all the process's threads so far, clock ticks.
    fn cpu_ticks(&self) -> Option<u64> {
        parse_cpu_ticks(&self.proc_file("stat")?)
    }
}

/// The config file of one node: `storage "raft"` in `data` with `node_id = name`, the API on
/// `127.0.0.1:port` without TLS, the cluster port on `127.0.0.1:cluster_port`.
pub fn node_config(
    product: Product,
    data: &Path,
    name: &str,
    port: u16,
    cluster_port: u16,
) -> String {
    let listener_cluster = match product {
        Product::Arca => String::new(),
        Product::OpenBao => format!("  cluster_address = \"127.0.0.1:{cluster_port}\"\n"),
    };
    format!(
        "storage \"raft\" {{\n  path = \"{}\"\n  node_id = \"{name}\"\n}}\n\
         listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n{listener_cluster}  tls_disable = true\n}}\n\
         api_addr = \"http://127.0.0.1:{port}\"\n\
         cluster_addr = \"https://127.0.0.1:{cluster_port}\"\n\
         disable_mlock = true\n",
        data.display()
    )
}

/// `utime + stime` (fields 14 and 15) of a `/proc/<pid>/stat` text.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// `n` distinct free TCP ports on 127.0.0.1 (all bound at once, then released).
fn free_ports(n: usize) -> Result<Vec<u16>, BenchError> {
    let listeners = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| BenchError::io("free port", e))?;
    listeners
        .iter()
        .map(|l| {
            l.local_addr()
                .map(|a| a.port())
                .map_err(|e| BenchError::io("free port", e))
        })
        .collect()
}

/// A formed 3-node cluster.
pub struct Cluster {
    /// Which implementation.
    pub product: Product,
    nodes: Vec<Node>,
    token: Zeroizing<String>,
    /// From spawning the three processes to three voters and two standbys.
    pub formed: Duration,
    /// From the last node's unseal to three voters (OpenBao's autopilot waits here).
    pub voters_after_unseal: Duration,
    /// What went wrong while forming and how the bench recovered (a lost join, joined again).
    pub incidents: Vec<String>,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("product", &self.product)
            .field(
                "nodes",
                &self.nodes.iter().map(|n| &n.base).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Starts three nodes of `product` from `bin`, forms the cluster (init and unseal node1,
    /// join and unseal node2 and node3, wait for three voters and two standbys), mounts KV v2
    /// at `secret/` and writes the secret the read cells read. When that fails and `logs` is
    /// given, the nodes' logs are copied there first.
    pub async fn start(
        product: Product,
        bin: &Path,
        client: &HttpClient,
        logs: Option<&Path>,
    ) -> Result<Cluster, BenchError> {
        let ports = free_ports(2 * NODES)?;
        let t0 = Instant::now();
        let mut nodes = Vec::with_capacity(NODES);
        for i in 0..NODES {
            nodes.push(Node::spawn(
                product,
                bin,
                &format!("node{}", i + 1),
                ports[2 * i],
                ports[2 * i + 1],
            )?);
        }
        let mut cluster = Cluster {
            product,
            nodes,
            token: Zeroizing::new(String::new()),
            formed: Duration::ZERO,
            voters_after_unseal: Duration::ZERO,
            incidents: Vec::new(),
        };
        match cluster.form(client, t0).await {
            Ok(()) => Ok(cluster),
            Err(e) => {
                if let Some(dir) = logs {
                    let _ = cluster.copy_logs(dir);
                }
                Err(e)
            }
        }
    }

    /// The formation steps of [`Cluster::start`] on its freshly spawned nodes; `t0` is when
    /// they were spawned.
    async fn form(&mut self, client: &HttpClient, t0: Instant) -> Result<(), BenchError> {
        let cluster = self;
        for i in 0..NODES {
            let c = &*cluster;
            c.wait(i, "to answer sys/seal-status", |i| async move {
                c.get(client, i, "sys/seal-status", false).await.map(|_| ())
            })
            .await?;
        }
        let init = json!({"secret_shares": 1, "secret_threshold": 1});
        let answer = cluster.expect(client, 0, "PUT", "sys/init", &init).await?;
        let key = Zeroizing::new(
            answer["keys_base64"][0]
                .as_str()
                .or_else(|| answer["keys"][0].as_str())
                .unwrap_or_default()
                .to_string(),
        );
        cluster.token = Zeroizing::new(
            answer["root_token"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        let c = &*cluster;
        if let Err(e) = c.unseal(client, 0, &key).await? {
            return Err(c.fail(0, e));
        }
        c.wait(0, "to become active", |i| async move {
            c.is_self(client, i)
                .await?
                .then_some(())
                .ok_or_else(|| "sys/leader: is_self is not true".to_string())
        })
        .await?;
        let mut incidents = Vec::new();
        for i in 1..NODES {
            c.join(client, i).await?;
        }
        for i in 1..NODES {
            let mut attempt = 1;
            while let Err(lost) = c.unseal(client, i, &key).await? {
                let what = format!(
                    "{}'s join was lost (attempt {attempt}): {lost}",
                    c.nodes[i].name
                );
                if attempt == 3 {
                    return Err(c.fail(i, what));
                }
                incidents.push(format!("{what}; joined it again"));
                c.join(client, i).await?;
                attempt += 1;
            }
        }
        let unsealed = Instant::now();
        c.wait(0, "to list three voters", |i| async move {
            let servers = c.servers(client, i).await?;
            let voters = servers.iter().filter(|s| s["voter"] == true).count();
            (servers.len() == NODES && voters == NODES)
                .then_some(())
                .ok_or_else(|| format!("{voters} voters of {}", servers.len()))
        })
        .await?;
        let voters_after_unseal = unsealed.elapsed();
        for i in 1..NODES {
            c.wait(i, "to be a standby", |i| async move {
                let (status, _) = c.raw(client, i, "GET", "sys/health", false, None).await?;
                (status == 429)
                    .then_some(())
                    .ok_or_else(|| format!("sys/health answered {status}"))
            })
            .await?;
        }
        cluster.voters_after_unseal = voters_after_unseal;
        cluster.incidents = incidents;
        cluster.formed = t0.elapsed();
        let mount = json!({"type": "kv", "options": {"version": "2"}});
        cluster
            .expect_retrying(client, 0, "POST", "sys/mounts/secret", &mount)
            .await?;
        for step in KV2_READ.setup {
            let body: Value = serde_json::from_str(step.body)?;
            cluster
                .expect_retrying(client, 0, step.method, step.path, &body)
                .await?;
        }
        Ok(())
    }

    /// `POST sys/storage/raft/join` on node `i` with node1 as the leader; it must answer
    /// `{"joined": true}`.
    async fn join(&self, client: &HttpClient, i: usize) -> Result<(), BenchError> {
        let leader = json!({"leader_api_addr": self.nodes[0].base});
        let (status, joined) = self
            .raw(
                client,
                i,
                "POST",
                "sys/storage/raft/join",
                false,
                Some(&leader),
            )
            .await
            .map_err(|e| self.fail(i, e))?;
        if status != 200 || joined["joined"] != true {
            return Err(self.fail(
                i,
                format!("sys/storage/raft/join answered {status}: {joined}"),
            ));
        }
        Ok(())
    }

    /// The root token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The index of the node that says it is active (`sys/leader` `is_self`), waiting while
    /// none does (an election).
    async fn active(&self, client: &HttpClient) -> Result<usize, BenchError> {
        let start = Instant::now();
        loop {
            for i in 0..self.nodes.len() {
                if let Ok(true) = self.is_self(client, i).await {
                    return Ok(i);
                }
            }
            if start.elapsed() > STEP_TIMEOUT {
                return Err(self.fail(0, "no node says it is active".into()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// CPU ticks of each node so far.
    fn cpu_ticks(&self) -> Vec<Option<u64>> {
        self.nodes.iter().map(Node::cpu_ticks).collect()
    }

    /// `VmRSS` of each node, KiB.
    fn rss_kib(&self) -> Vec<Option<u64>> {
        self.nodes.iter().map(Node::rss_kib).collect()
    }

    /// `VmHWM` of each node, KiB.
    fn peak_rss_kib(&self) -> Vec<Option<u64>> {
        self.nodes.iter().map(Node::peak_rss_kib).collect()
    }

    /// Lines of the nodes' logs that hold `WARN` or `ERROR`: a count and the first few of each
    /// node.
    fn log_warnings(&self) -> Vec<LogWarnings> {
        self.nodes
            .iter()
            .map(|n| {
                let text = std::fs::read_to_string(&n.log).unwrap_or_default();
                let hits: Vec<String> = text
                    .lines()
                    .map(strip_ansi)
                    .filter(|l| l.contains("WARN") || l.contains("ERROR"))
                    .collect();
                LogWarnings {
                    node: n.name.clone(),
                    lines: hits.len() as u64,
                    first: hits
                        .into_iter()
                        .take(5)
                        .map(|l| l.chars().take(400).collect())
                        .collect(),
                }
            })
            .collect()
    }

    /// Copies every node's log into `dir` as `<product>-<node>.log`.
    fn copy_logs(&self, dir: &Path) -> Result<(), BenchError> {
        std::fs::create_dir_all(dir).map_err(|e| BenchError::io("log folder", e))?;
        for n in &self.nodes {
            let to = dir.join(format!(
                "{}-{}.log",
                self.product.to_string().to_lowercase(),
                n.name
            ));
            std::fs::copy(&n.log, &to).map_err(|e| BenchError::io("copying a node log", e))?;
        }
        Ok(())
    }

    async fn is_self(&self, client: &HttpClient, i: usize) -> Result<bool, String> {
        let leader = self.get(client, i, "sys/leader", false).await?;
        Ok(leader["is_self"] == true)
    }

    async fn servers(&self, client: &HttpClient, i: usize) -> Result<Vec<Value>, String> {
        let answer = self
            .get(client, i, "sys/storage/raft/configuration", true)
            .await?;
        Ok(answer["data"]["config"]["servers"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// Sends the unseal key to node `i` and waits until it is unsealed (a joining node
    /// finishes its join first); the key is sent again every 10 s while it stays sealed. The
    /// inner error is a lost join: the node, sealed, answers the key with "not initialized" or
    /// "no join in progress" (its join challenge is spent but it never became a member).
    async fn unseal(
        &self,
        client: &HttpClient,
        i: usize,
        key: &str,
    ) -> Result<Result<(), String>, BenchError> {
        let body = json!({"key": key});
        let start = Instant::now();
        let mut sent: Option<Instant> = None;
        let mut unseal_answer = String::from("not sent");
        let mut status = String::from("not asked");
        while start.elapsed() < STEP_TIMEOUT {
            if sent.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                unseal_answer = match self
                    .raw(client, i, "PUT", "sys/unseal", false, Some(&body))
                    .await
                {
                    Ok((200, answer)) if answer["sealed"] == false => return Ok(Ok(())),
                    Ok((code, answer)) => {
                        let text = answer.to_string();
                        if i > 0
                            && (text.contains("not initialized")
                                || text.contains("no join in progress"))
                        {
                            return Ok(Err(format!(
                                "after {:.1} s sys/unseal answered {code}: {text} (sys/seal-status before: {status})",
                                start.elapsed().as_secs_f64()
                            )));
                        }
                        format!("{code}: {text}")
                    }
                    Err(e) => e,
                };
                sent = Some(Instant::now());
            }
            status = match self.get(client, i, "sys/seal-status", false).await {
                Ok(s) if s["sealed"] == false => return Ok(Ok(())),
                Ok(s) => s.to_string(),
                Err(e) => e,
            };
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(self.fail(
            i,
            format!(
                "still sealed after {STEP_TIMEOUT:?}; last sys/unseal answer {unseal_answer}; sys/seal-status {status}"
            ),
        ))
    }

    /// Polls `check` on node `i` until it succeeds, failing with its last complaint after
    /// [`STEP_TIMEOUT`] or as soon as the node's process has exited.
    async fn wait<F, Fut>(&self, i: usize, what: &str, check: F) -> Result<(), BenchError>
    where
        F: Fn(usize) -> Fut,
        Fut: std::future::Future<Output = Result<(), String>>,
    {
        let start = Instant::now();
        let mut last = String::from("no answer");
        while start.elapsed() < STEP_TIMEOUT {
            if self.nodes[i].exited() {
                return Err(self.fail(i, format!("exited while waiting {what}: {last}")));
            }
            match check(i).await {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(self.fail(i, format!("timed out waiting {what}: {last}")))
    }

    /// `GET path` on node `i` (with the root token when `auth`), the body of a 2xx answer.
    async fn get(
        &self,
        client: &HttpClient,
        i: usize,
        path: &str,
        auth: bool,
    ) -> Result<Value, String> {
        match self.raw(client, i, "GET", path, auth, None).await? {
            (status, body) if (200..300).contains(&status) => Ok(body),
            (status, body) => Err(format!("{path} answered {status}: {body}")),
        }
    }

    async fn raw(
        &self,
        client: &HttpClient,
        i: usize,
        method: &str,
        path: &str,
        auth: bool,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let token = auth.then_some(self.token.as_str());
        call(client, &self.nodes[i].base, method, path, token, body)
            .await
            .map_err(|e| e.to_string())
    }

    /// Sends a request to node `i` (with the root token once there is one); anything but 2xx
    /// fails the run.
    async fn expect(
        &self,
        client: &HttpClient,
        i: usize,
        method: &str,
        path: &str,
        body: &Value,
    ) -> Result<Value, BenchError> {
        let auth = !self.token.is_empty();
        match self.raw(client, i, method, path, auth, Some(body)).await {
            Ok((status, answer)) if (200..300).contains(&status) => Ok(answer),
            Ok((status, answer)) => Err(BenchError::Setup {
                server: format!("{} {}", self.product, self.nodes[i].name),
                step: format!("{method} {path}"),
                status,
                body: answer.to_string(),
            }),
            Err(e) => Err(self.fail(i, e)),
        }
    }

    /// [`Cluster::expect`], retried for 20 s while the answer is not 2xx (OpenBao's fresh KV
    /// v2 mount refuses writes until its upgrade is done).
    async fn expect_retrying(
        &self,
        client: &HttpClient,
        i: usize,
        method: &str,
        path: &str,
        body: &Value,
    ) -> Result<Value, BenchError> {
        let start = Instant::now();
        loop {
            match self.expect(client, i, method, path, body).await {
                Ok(v) => return Ok(v),
                Err(e) if start.elapsed() > Duration::from_secs(20) => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// A start error naming node `i`, with the end of its log (the log goes with the node).
    fn fail(&self, i: usize, detail: String) -> BenchError {
        let node = &self.nodes[i];
        let text = std::fs::read_to_string(&node.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..]
            .iter()
            .map(|l| strip_ansi(l))
            .collect::<Vec<_>>()
            .join("\n");
        BenchError::Start {
            server: format!("{} {} ({})", self.product, node.name, node.base),
            detail: format!("{detail}\n--- last lines of its log ---\n{tail}"),
            log: node.log.clone(),
        }
    }
}

/// `s` without ANSI colour escapes (`ESC [ ... m`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Log lines with `WARN` or `ERROR` of one node.
#[derive(Debug, Clone, Serialize)]
pub struct LogWarnings {
    /// The node (`node1`, ...).
    pub node: String,
    /// How many lines.
    pub lines: u64,
    /// The first five (colour escapes removed, cut at 400 characters).
    pub first: Vec<String>,
}

/// Server CPU time per request of one cluster in one cell, over its measured rounds.
#[derive(Debug, Clone, Serialize)]
pub struct CpuPerRequest {
    /// Microseconds of CPU per request of each node (node1, node2, node3).
    pub per_node_us: Vec<f64>,
    /// Their sum.
    pub total_us: f64,
}

/// One workload through one kind of node at one concurrency, both clusters.
#[derive(Debug, Clone, Serialize)]
pub struct Raft3Cell {
    /// `kv2-write` or `kv2-read`.
    pub workload: String,
    /// Through the active node or a standby.
    pub via: Via,
    /// Concurrency level.
    pub concurrency: usize,
    /// The node of the Arca cluster the requests went to.
    pub arca_node: String,
    /// The node of the OpenBao cluster the requests went to.
    pub openbao_node: String,
    /// Arca's numbers.
    pub arca: Summary,
    /// OpenBao's numbers.
    pub openbao: Summary,
    /// Arca's server CPU per request.
    pub arca_cpu: Option<CpuPerRequest>,
    /// OpenBao's server CPU per request.
    pub openbao_cpu: Option<CpuPerRequest>,
    /// The first failed request of Arca's runs (status and body, or the transport error).
    pub arca_first_error: Option<String>,
    /// The first failed request of OpenBao's runs.
    pub openbao_first_error: Option<String>,
}

impl Raft3Cell {
    /// Arca requests/s over OpenBao requests/s (above 1: Arca is faster).
    pub fn ratio_rps(&self) -> Option<f64> {
        ratio(self.arca.rps, self.openbao.rps)
    }
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then_some(a / b)
}

/// Formation, memory and events of one cluster.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterInfo {
    /// Which implementation.
    pub product: Product,
    /// Spawn of the three processes to three voters and two standbys, milliseconds.
    pub formed_ms: f64,
    /// Last unseal to three voters, milliseconds.
    pub voters_after_unseal_ms: f64,
    /// `VmRSS` of each node once formed (KV v2 mounted, one secret), KiB.
    pub rss_formed_kib: Vec<Option<u64>>,
    /// `VmRSS` of each node after the last cell, KiB.
    pub rss_after_kib: Vec<Option<u64>>,
    /// `VmHWM` (peak RSS) of each node after the last cell, KiB.
    pub peak_rss_kib: Vec<Option<u64>>,
    /// What went wrong while forming and how the bench recovered.
    pub formation_incidents: Vec<String>,
    /// Leader changes seen between or during cells.
    pub leader_changes: Vec<String>,
    /// `WARN`/`ERROR` lines of each node's log at the end.
    pub log_warnings: Vec<LogWarnings>,
}

/// How a `raft3` run was driven.
#[derive(Debug, Clone, Serialize)]
pub struct Raft3Settings {
    /// Concurrency levels, in order.
    pub concurrency: Vec<usize>,
    /// Unmeasured warm-up per cluster and cell, milliseconds.
    pub warmup_ms: u64,
    /// Time bound of one measured run, milliseconds.
    pub duration_ms: u64,
    /// Request bound of one measured run.
    pub max_requests: u64,
    /// Measured runs per cluster and cell (Arca, OpenBao, Arca, ...).
    pub rounds: usize,
    /// Tokio worker threads of the load generator.
    pub client_threads: usize,
    /// Open loop: requests per second each run was scheduled at (`None`: closed loop).
    pub rate: Option<f64>,
}

/// Everything a `raft3` run produced.
#[derive(Debug, Clone, Serialize)]
pub struct Raft3Report {
    /// Seconds since the Unix epoch when the run ended.
    pub generated_unix: u64,
    /// Wall time of the whole run (formation included), seconds.
    pub total_s: f64,
    /// The machine.
    pub machine: Machine,
    /// `/proc/loadavg` when the run started.
    pub loadavg_start: String,
    /// `/proc/loadavg` when it ended.
    pub loadavg_end: String,
    /// How it was driven.
    pub settings: Raft3Settings,
    /// Arca's cluster, then OpenBao's.
    pub clusters: Vec<ClusterInfo>,
    /// The cells, in the order measured.
    pub cells: Vec<Raft3Cell>,
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Starts both clusters, measures every cell and returns the report; `progress` gets one line
/// per step. With `logs`, every node's log is copied there at the end.
pub async fn run(
    settings: &Settings,
    logs: Option<&Path>,
    progress: impl Fn(&str),
) -> Result<Raft3Report, BenchError> {
    let started = Instant::now();
    let loadavg_start = loadavg();
    let setup = new_client(4);
    let mut clusters = Vec::new();
    for (product, bin) in [
        (Product::Arca, &settings.arca_bin),
        (Product::OpenBao, &settings.bao_bin),
    ] {
        progress(&format!("raft3: forming a 3-node {product} cluster"));
        let cluster = Cluster::start(product, bin, &setup, logs).await?;
        progress(&format!(
            "raft3: {product} formed in {:.1} s (three voters {:.1} s after the last unseal)",
            cluster.formed.as_secs_f64(),
            cluster.voters_after_unseal.as_secs_f64()
        ));
        clusters.push(cluster);
    }
    let (Some(arca), Some(bao)) = (clusters.first(), clusters.get(1)) else {
        return Err(BenchError::Usage("raft3: clusters missing".into()));
    };
    let pair = [arca, bao];
    let mut infos: Vec<ClusterInfo> = pair
        .iter()
        .map(|c| ClusterInfo {
            product: c.product,
            formed_ms: c.formed.as_secs_f64() * 1000.0,
            voters_after_unseal_ms: c.voters_after_unseal.as_secs_f64() * 1000.0,
            rss_formed_kib: c.rss_kib(),
            formation_incidents: c.incidents.clone(),
            rss_after_kib: Vec::new(),
            peak_rss_kib: Vec::new(),
            leader_changes: Vec::new(),
            log_warnings: Vec::new(),
        })
        .collect();
    for (c, info) in pair.iter().zip(&mut infos) {
        let active = c.active(&setup).await?;
        if active != 0 {
            info.leader_changes.push(format!(
                "after formation: {} is active, not node1",
                c.nodes[active].name
            ));
        }
    }
    for c in pair {
        wait_readable(c, &setup).await?;
    }
    let mut cells = Vec::new();
    for w in [&KV2_WRITE, &KV2_READ] {
        for via in [Via::Active, Via::Standby] {
            for &conc in &settings.concurrency {
                let cell = measure(settings, w, via, conc, pair, &setup, &mut infos).await?;
                progress(&format!(
                    "raft3 {} via {via} c{conc}: Arca {:.0} req/s ({} errors); OpenBao {:.0} req/s ({} errors)",
                    w.name, cell.arca.rps, cell.arca.errors, cell.openbao.rps, cell.openbao.errors
                ));
                cells.push(cell);
            }
        }
    }
    for (c, info) in pair.iter().zip(&mut infos) {
        info.rss_after_kib = c.rss_kib();
        info.peak_rss_kib = c.peak_rss_kib();
        info.log_warnings = c.log_warnings();
        if let Some(dir) = logs {
            c.copy_logs(dir)?;
        }
    }
    Ok(Raft3Report {
        generated_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        total_s: started.elapsed().as_secs_f64(),
        machine: Machine::current(),
        loadavg_start,
        loadavg_end: loadavg(),
        settings: Raft3Settings {
            concurrency: settings.concurrency.clone(),
            warmup_ms: u64::try_from(settings.warmup.as_millis()).unwrap_or(u64::MAX),
            duration_ms: u64::try_from(settings.duration.as_millis()).unwrap_or(u64::MAX),
            max_requests: settings.max_requests,
            rounds: settings.rounds,
            client_threads: settings.client_threads,
            rate: settings.rate,
        },
        clusters: infos,
        cells,
    })
}

/// Waits until every node of `c` answers the read workload's secret (a standby that read its
/// own copy would otherwise miss a write it has not applied yet).
async fn wait_readable(c: &Cluster, client: &HttpClient) -> Result<(), BenchError> {
    let path = (KV2_READ.path)(0, 0);
    for i in 0..c.nodes.len() {
        let start = Instant::now();
        loop {
            match c.get(client, i, &path, true).await {
                Ok(_) => break,
                Err(e) if start.elapsed() > STEP_TIMEOUT => return Err(c.fail(i, e)),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
    Ok(())
}

/// Measures `w` through the `via` node of both clusters at `conc`: a warm-up each, then the
/// rounds interleaved, with each cluster's CPU time read around each of its runs. Leader
/// changes go into `infos`.
async fn measure(
    settings: &Settings,
    w: &Workload,
    via: Via,
    conc: usize,
    pair: [&Cluster; 2],
    setup: &HttpClient,
    infos: &mut [ClusterInfo],
) -> Result<Raft3Cell, BenchError> {
    let mut targets = Vec::with_capacity(2);
    for c in pair {
        let active = c.active(setup).await?;
        let node = match via {
            Via::Active => active,
            Via::Standby => (active + 1) % c.nodes.len(),
        };
        targets.push((c, active, node, new_client(conc)));
    }
    let warm = load_spec(settings, conc, settings.warmup);
    for (c, _, node, client) in &targets {
        drive(client, &c.nodes[*node].base, c.token(), w, warm).await?;
    }
    let spec = load_spec(settings, conc, settings.duration);
    let mut samples = [Samples::default(), Samples::default()];
    let mut ticks = [vec![0u64; NODES], vec![0u64; NODES]];
    let mut first_errors: [Option<String>; 2] = [None, None];
    let mut cpu_known = [true, true];
    for _ in 0..settings.rounds {
        for (k, (c, _, node, client)) in targets.iter().enumerate() {
            let before = c.cpu_ticks();
            let out = drive(client, &c.nodes[*node].base, c.token(), w, spec).await?;
            let after = c.cpu_ticks();
            for (n, (b, a)) in before.iter().zip(&after).enumerate() {
                match (b, a) {
                    (Some(b), Some(a)) => ticks[k][n] += a.saturating_sub(*b),
                    _ => cpu_known[k] = false,
                }
            }
            if let Some(e) = &out.first_error {
                eprintln!(
                    "  {} raft3 {} via {via} ({}) c{conc}: {} errors, first: {e}",
                    c.product, w.name, c.nodes[*node].name, out.errors
                );
                if first_errors[k].is_none() {
                    first_errors[k] = Some(e.clone());
                }
            }
            add_outcome(&mut samples[k], out, settings.rate);
        }
    }
    for ((c, active, _, _), info) in targets.iter().zip(infos.iter_mut()) {
        let now = c.active(setup).await?;
        if now != *active {
            info.leader_changes.push(format!(
                "during {} via {via} c{conc}: {} -> {}",
                w.name, c.nodes[*active].name, c.nodes[now].name
            ));
        }
    }
    let [sa, so] = samples;
    let (arca, openbao) = (sa.summary(), so.summary());
    let cpu = |k: usize, s: &Summary| {
        (cpu_known[k] && s.requests > 0).then(|| {
            let per_node_us: Vec<f64> = ticks[k]
                .iter()
                .map(|&t| t as f64 / TICKS_PER_SECOND * 1e6 / s.requests as f64)
                .collect();
            CpuPerRequest {
                total_us: per_node_us.iter().sum(),
                per_node_us,
            }
        })
    };
    let [fa, fo] = first_errors;
    Ok(Raft3Cell {
        workload: w.name.to_string(),
        via,
        concurrency: conc,
        arca_node: targets[0].0.nodes[targets[0].2].name.clone(),
        openbao_node: targets[1].0.nodes[targets[1].2].name.clone(),
        arca_cpu: cpu(0, &arca),
        openbao_cpu: cpu(1, &openbao),
        arca,
        openbao,
        arca_first_error: fa,
        openbao_first_error: fo,
    })
}

/// `YYYY-MM-DD` (UTC) of a Unix time.
fn date(unix: u64) -> String {
    // Howard Hinnant's days-to-civil.
    let z = (unix / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn mib_sum(v: &[Option<u64>]) -> String {
    if v.is_empty() || v.iter().any(Option::is_none) {
        return "?".into();
    }
    let sum: u64 = v.iter().flatten().sum();
    let parts: Vec<String> = v
        .iter()
        .flatten()
        .map(|k| format!("{:.1}", *k as f64 / 1024.0))
        .collect();
    format!("{:.1} ({})", sum as f64 / 1024.0, parts.join(" + "))
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or("-".into(), |r| format!("{r:.2}"))
}

fn fmt_cpu(c: Option<&CpuPerRequest>) -> String {
    c.map_or("?".into(), |c| {
        let parts: Vec<String> = c.per_node_us.iter().map(|u| format!("{u:.0}")).collect();
        format!("{:.0} ({})", c.total_us, parts.join(" / "))
    })
}

impl Raft3Report {
    /// The report as pretty JSON.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// `raft3.md`: how it was run, the throughput/latency table, server CPU per request, memory
    /// and formation, leader changes, errors and log warnings.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let st = &self.settings;
        let conc: Vec<String> = st.concurrency.iter().map(usize::to_string).collect();
        let _ = writeln!(
            s,
            "# raft3: 3-node KV v2, Arca beside OpenBao 2.7.2 (integrated storage)\n"
        );
        let _ = writeln!(
            s,
            "Written by `arca-bench --only raft3` on {} (UTC): {} cores ({}), {:.1} GiB, kernel \
             `{}`; both clusters (six server processes) and the load generator ({} tokio worker \
             thread{}) on this one machine; load average {} at the start, {} at the end; the run \
             took {:.0} s, cluster formation included.\n",
            date(self.generated_unix),
            self.machine.cores,
            self.machine.cpu_model,
            self.machine.mem_total_kib as f64 / 1024.0 / 1024.0,
            self.machine.kernel,
            st.client_threads,
            if st.client_threads == 1 { "" } else { "s" },
            self.loadavg_start,
            self.loadavg_end,
            self.total_s
        );
        let _ = writeln!(
            s,
            "Each cluster: three nodes on 127.0.0.1, each with its own data directory, API port and \
             cluster port; `storage \"raft\"`, TLS off on the API listener, the cluster port with \
             each product's own TLS. Formed by `sys/init` (one key share) and `sys/unseal` on node1, \
             then `sys/storage/raft/join` and `sys/unseal` on node2 and node3, then waiting until \
             `sys/storage/raft/configuration` lists three voters; KV v2 at `secret/` mounted through \
             the active node. **Durability is the same on both sides:** a write is acknowledged only \
             once its Raft log entry is fsynced on a quorum (two of the three nodes) and applied on \
             the leader (Arca: every log append is a redb commit with `Durability::Immediate`; \
             OpenBao: raft-boltdb syncs every append).\n"
        );
        let _ = writeln!(
            s,
            "Workloads: `kv2-write` (`POST secret/data/bench-write-<worker>`, one key per worker) \
             and `kv2-read` (`GET secret/data/bench-read`, one secret written through the active \
             node), each through the active node and through a standby, at concurrency {}; per cell and \
             cluster a {} ms warm-up, then {} measured runs of {} ms (at most {} requests each), \
             the clusters interleaved run by run (Arca, OpenBao, ...); {}. Ratios: requests/s above \
             1 and latency below 1 favour Arca. Through a standby the two do different work: an \
             Arca standby forwards every request to the active node (HTTP/2, mutual TLS, cluster \
             port); an OpenBao standby forwards writes (gRPC, cluster port) but answers reads from \
             its own replica (`disable_standby_reads` is false by default).\n",
            conc.join(", "),
            st.warmup_ms,
            st.rounds,
            st.duration_ms,
            st.max_requests,
            match st.rate {
                None =>
                    "closed loop (each connection sends its next request when its answer is in)"
                        .to_string(),
                Some(r) =>
                    format!("open loop at {r:.0} requests/s (latency from each request's due time)"),
            }
        );
        let _ = writeln!(
            s,
            "| workload | via | conc | Arca req/s | OpenBao req/s | ratio | Arca p50 ms | OpenBao p50 ms | ratio | Arca p99 ms | OpenBao p99 ms | ratio | errors A/O |"
        );
        let _ = writeln!(
            s,
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for c in &self.cells {
            let (a, o) = (&c.arca, &c.openbao);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.0} | {:.0} | {} | {:.2} | {:.2} | {} | {:.2} | {:.2} | {} | {}/{} |",
                c.workload,
                c.via,
                c.concurrency,
                a.rps,
                o.rps,
                fmt_ratio(c.ratio_rps()),
                a.p50_ms,
                o.p50_ms,
                fmt_ratio(ratio(a.p50_ms, o.p50_ms)),
                a.p99_ms,
                o.p99_ms,
                fmt_ratio(ratio(a.p99_ms, o.p99_ms)),
                a.errors,
                o.errors
            );
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "Server CPU per request (user + system time of the three processes, `/proc/<pid>/stat`, \
             over the measured runs; in parentheses node1 / node2 / node3; node1 is the active \
             node unless a leader change is listed below), and the slowest request:\n"
        );
        let _ = writeln!(
            s,
            "| workload | via | conc | nodes addressed A/O | Arca CPU µs/req | OpenBao CPU µs/req | OpenBao/Arca CPU | Arca max ms | OpenBao max ms |"
        );
        let _ = writeln!(s, "|---|---|---:|---|---:|---:|---:|---:|---:|");
        for c in &self.cells {
            let cpu_ratio = match (&c.arca_cpu, &c.openbao_cpu) {
                (Some(a), Some(o)) => ratio(o.total_us, a.total_us),
                _ => None,
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {}/{} | {} | {} | {} | {:.1} | {:.1} |",
                c.workload,
                c.via,
                c.concurrency,
                c.arca_node,
                c.openbao_node,
                fmt_cpu(c.arca_cpu.as_ref()),
                fmt_cpu(c.openbao_cpu.as_ref()),
                fmt_ratio(cpu_ratio),
                c.arca.max_ms,
                c.openbao.max_ms
            );
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "Memory (sum of the three processes, in parentheses node1 + node2 + node3) and formation:\n"
        );
        let _ = writeln!(
            s,
            "| cluster | formed s (spawn to 3 voters) | 3 voters after last unseal s | RSS formed MiB | RSS after the run MiB | peak RSS MiB (VmHWM) |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|");
        for c in &self.clusters {
            let _ = writeln!(
                s,
                "| {} | {:.1} | {:.1} | {} | {} | {} |",
                c.product,
                c.formed_ms / 1000.0,
                c.voters_after_unseal_ms / 1000.0,
                mib_sum(&c.rss_formed_kib),
                mib_sum(&c.rss_after_kib),
                mib_sum(&c.peak_rss_kib)
            );
        }
        let _ = writeln!(s);
        for c in &self.clusters {
            for incident in &c.formation_incidents {
                let _ = writeln!(s, "{} formation: {incident}.\n", c.product);
            }
        }
        for c in &self.clusters {
            if c.leader_changes.is_empty() {
                let _ = writeln!(s, "{}: no leader change.", c.product);
            } else {
                let _ = writeln!(
                    s,
                    "{}: leader changes: {}.",
                    c.product,
                    c.leader_changes.join("; ")
                );
            }
        }
        let errors: Vec<String> = self
            .cells
            .iter()
            .flat_map(|c| {
                [
                    ("Arca", &c.arca_first_error, c.arca.errors),
                    ("OpenBao", &c.openbao_first_error, c.openbao.errors),
                ]
                .into_iter()
                .filter_map(move |(who, e, n)| {
                    e.as_ref().map(|e| {
                        format!(
                            "- {who}, {} via {} c{}: {n} failed, first: `{}`",
                            c.workload,
                            c.via,
                            c.concurrency,
                            e.replace('`', "'")
                        )
                    })
                })
            })
            .collect();
        let _ = writeln!(s);
        if errors.is_empty() {
            let _ = writeln!(s, "No request failed.");
        } else {
            let _ = writeln!(s, "Failed requests:\n");
            for e in errors {
                let _ = writeln!(s, "{e}");
            }
        }
        let _ = writeln!(s);
        for c in &self.clusters {
            let total: u64 = c.log_warnings.iter().map(|w| w.lines).sum();
            let counts: Vec<String> = c
                .log_warnings
                .iter()
                .map(|w| format!("{} {}", w.node, w.lines))
                .collect();
            let _ = writeln!(
                s,
                "{} server logs, lines with WARN or ERROR: {total} ({}).\n",
                c.product,
                counts.join(", ")
            );
            if total > 0 {
                let _ = writeln!(s, "```text");
                for w in &c.log_warnings {
                    for line in &w.first {
                        let _ = writeln!(s, "{}: {}", w.node, line);
                    }
                }
                let _ = writeln!(s, "```\n");
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selected_only_by_name() {
        assert!(!selected(&[]));
        assert!(selected(&["kv2-read".into(), "raft3".into()]));
        assert!(!selected(&["kv2".into()]));
        // The other workloads do not pick it up, nor does it pick them.
        assert!(crate::runner::selected(&["raft3".into()]).is_empty());
    }

    #[test]
    fn configs_give_each_node_its_ports_and_dir() {
        let dir = Path::new("/tmp/x/raft");
        let arca = node_config(Product::Arca, dir, "node2", 18000, 18001);
        assert!(arca.contains("path = \"/tmp/x/raft\""), "{arca}");
        assert!(arca.contains("node_id = \"node2\""), "{arca}");
        assert!(arca.contains("address = \"127.0.0.1:18000\""), "{arca}");
        assert!(
            arca.contains("cluster_addr = \"https://127.0.0.1:18001\""),
            "{arca}"
        );
        assert!(
            arca.contains("api_addr = \"http://127.0.0.1:18000\""),
            "{arca}"
        );
        assert!(!arca.contains("cluster_address"), "{arca}");
        let bao = node_config(Product::OpenBao, dir, "node3", 18002, 18003);
        assert!(
            bao.contains("cluster_address = \"127.0.0.1:18003\""),
            "{bao}"
        );
        assert!(
            bao.contains("cluster_addr = \"https://127.0.0.1:18003\""),
            "{bao}"
        );
        assert!(bao.contains("disable_mlock = true"), "{bao}");
    }

    #[test]
    fn cpu_ticks_from_stat() {
        let stat = "1234 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 9 0 100 0 0";
        assert_eq!(parse_cpu_ticks(stat), Some(300));
        assert_eq!(parse_cpu_ticks("garbage"), None);
        let own = std::fs::read_to_string("/proc/self/stat").unwrap();
        assert!(parse_cpu_ticks(&own).is_some());
    }

    #[test]
    fn free_ports_are_distinct() {
        let mut p = free_ports(6).unwrap();
        p.sort_unstable();
        p.dedup();
        assert_eq!(p.len(), 6);
    }

    #[test]
    fn dates_and_escapes() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_700_000_000), "2023-11-14");
        assert_eq!(
            strip_ansi("\u{1b}[2m2026\u{1b}[0m \u{1b}[33m WARN\u{1b}[0m x"),
            "2026  WARN x"
        );
        assert_eq!(mib_sum(&[Some(1024), Some(2048)]), "3.0 (1.0 + 2.0)");
        assert_eq!(mib_sum(&[Some(1024), None]), "?");
    }

    #[test]
    fn markdown_has_every_cell() {
        let sum = |rps: f64| Summary {
            requests: 100,
            errors: 0,
            elapsed_s: 1.0,
            rps,
            p50_ms: 1.0,
            p99_ms: 2.0,
            max_ms: 3.0,
            reloads: None,
            open_loop: None,
        };
        let cell = Raft3Cell {
            workload: "kv2-write".into(),
            via: Via::Standby,
            concurrency: 16,
            arca_node: "node2".into(),
            openbao_node: "node2".into(),
            arca: sum(3000.0),
            openbao: sum(1000.0),
            arca_cpu: Some(CpuPerRequest {
                per_node_us: vec![100.0, 50.0, 50.0],
                total_us: 200.0,
            }),
            openbao_cpu: None,
            arca_first_error: Some("500 Internal Server Error: {}".into()),
            openbao_first_error: None,
        };
        let report = Raft3Report {
            generated_unix: 1_700_000_000,
            total_s: 60.0,
            machine: Machine::current(),
            loadavg_start: "1.00 1.00 1.00".into(),
            loadavg_end: "2.00 1.00 1.00".into(),
            settings: Raft3Settings {
                concurrency: vec![1, 16],
                warmup_ms: 200,
                duration_ms: 1000,
                max_requests: 50_000,
                rounds: 2,
                client_threads: 1,
                rate: None,
            },
            clusters: vec![ClusterInfo {
                product: Product::Arca,
                formed_ms: 1500.0,
                voters_after_unseal_ms: 200.0,
                rss_formed_kib: vec![Some(1024); 3],
                rss_after_kib: vec![Some(2048); 3],
                peak_rss_kib: vec![Some(4096); 3],
                formation_incidents: vec!["node3's join was lost".into()],
                leader_changes: vec![],
                log_warnings: vec![],
            }],
            cells: vec![cell],
        };
        let md = report.markdown();
        assert!(
            md.contains("| kv2-write | standby | 16 | 3000 | 1000 | 3.00 |"),
            "{md}"
        );
        assert!(md.contains("200 (100 / 50 / 50)"), "{md}");
        assert!(
            md.contains("| Arca | 1.5 | 0.2 | 3.0 (1.0 + 1.0 + 1.0) | 6.0"),
            "{md}"
        );
        assert!(
            md.contains("Arca, kv2-write via standby c16: 0 failed"),
            "{md}"
        );
        assert!(md.contains("2023-11-14"), "{md}");
        assert!(
            md.contains("Arca formation: node3's join was lost."),
            "{md}"
        );
    }
}
