//! The servers under test: Arca or OpenBao, in-memory (dev mode) or durable (Arca's `file`,
//! OpenBao's `raft`), started as child processes on loopback and killed on drop.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::client::{HttpClient, call};
use crate::error::BenchError;

/// Longest wait for a server to answer or become active.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Which implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Product {
    /// This project.
    Arca,
    /// The reference, OpenBao 2.7.2.
    OpenBao,
}

impl fmt::Display for Product {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Product::Arca => "Arca",
            Product::OpenBao => "OpenBao",
        })
    }
}

/// Which storage kind both servers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    /// Dev servers: in-memory storage, unsealed at start.
    Memory,
    /// Arca `file`, OpenBao `raft`: initialised and unsealed over the API.
    Durable,
}

impl fmt::Display for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Storage::Memory => "in-memory",
            Storage::Durable => "durable",
        })
    }
}

/// A server process, killed when dropped.
pub struct RunningServer {
    /// Which implementation.
    pub product: Product,
    /// Which storage kind.
    pub storage: Storage,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Spawn to first HTTP answer.
    pub startup: Duration,
    /// Spawn to active (`sys/health` 200), including init and unseal for durable storage.
    pub ready: Duration,
    token: Zeroizing<String>,
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningServer")
            .field("product", &self.product)
            .field("storage", &self.storage)
            .field("base", &self.base)
            .field("pid", &self.child.id())
            .finish_non_exhaustive()
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RunningServer {
    /// Starts `product` from `bin` on `127.0.0.1:port` (OpenBao also takes `port + 1` for its
    /// cluster listener), waits until it is active, and mounts KV v2 at `secret/` when durable.
    pub async fn start(
        product: Product,
        storage: Storage,
        bin: &Path,
        port: u16,
        client: &HttpClient,
    ) -> Result<RunningServer, BenchError> {
        let dir = tempfile::tempdir().map_err(|e| BenchError::io("temp dir", e))?;
        let log = dir.path().join("server.log");
        let args = server_args(product, storage, dir.path(), port)?;
        let out = std::fs::File::create(&log).map_err(|e| BenchError::io("log file", e))?;
        let err = out.try_clone().map_err(|e| BenchError::io("log file", e))?;
        let t0 = Instant::now();
        let child = Command::new(bin)
            .args(&args)
            .env("HOME", dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| BenchError::Start {
                server: product.to_string(),
                detail: format!("spawn {}: {e}", bin.display()),
                log: log.clone(),
            })?;
        let mut server = RunningServer {
            product,
            storage,
            base: format!("http://127.0.0.1:{port}"),
            startup: Duration::ZERO,
            ready: Duration::ZERO,
            token: Zeroizing::new("root".to_string()),
            child,
            log,
            _dir: dir,
        };
        server.wait_for(client, "sys/seal-status", |_| true).await?;
        server.startup = t0.elapsed();
        if storage == Storage::Durable {
            server.init_and_unseal(client).await?;
        }
        server.wait_for(client, "sys/health", |s| s == 200).await?;
        server.ready = t0.elapsed();
        if storage == Storage::Durable {
            let body = json!({"type": "kv", "options": {"version": "2"}});
            server
                .expect_ok(client, "POST", "sys/mounts/secret", &body)
                .await?;
        }
        Ok(server)
    }

    /// The root token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Peak resident set size so far (`VmHWM`), KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        parse_vm_hwm(&status)
    }

    /// Sends `body` with the root token, retrying for a while when the answer is not 2xx
    /// (OpenBao's fresh KV v2 mount refuses writes until its upgrade finishes).
    pub async fn expect_ok(
        &self,
        client: &HttpClient,
        method: &str,
        path: &str,
        body: &Value,
    ) -> Result<Value, BenchError> {
        let start = Instant::now();
        loop {
            let (status, answer) = call(
                client,
                &self.base,
                method,
                path,
                Some(&self.token),
                Some(body),
            )
            .await?;
            if (200..300).contains(&status) {
                return Ok(answer);
            }
            if start.elapsed() > Duration::from_secs(20) {
                return Err(BenchError::Setup {
                    server: self.product.to_string(),
                    step: format!("{method} {path}"),
                    status,
                    body: answer.to_string(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_for(
        &mut self,
        client: &HttpClient,
        path: &str,
        accept: impl Fn(u16) -> bool,
    ) -> Result<(), BenchError> {
        let start = Instant::now();
        let mut last = String::from("no answer");
        while start.elapsed() < START_TIMEOUT {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(self.start_error(format!("exited with {status}")));
            }
            match call(client, &self.base, "GET", path, None, None).await {
                Ok((status, _)) if accept(status) => return Ok(()),
                Ok((status, body)) => last = format!("{path} answered {status}: {body}"),
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(self.start_error(last))
    }

    async fn init_and_unseal(&mut self, client: &HttpClient) -> Result<(), BenchError> {
        let init = json!({"secret_shares": 1, "secret_threshold": 1});
        let (status, answer) =
            call(client, &self.base, "PUT", "sys/init", None, Some(&init)).await?;
        if status != 200 {
            return Err(self.start_error(format!("sys/init answered {status}")));
        }
        let key = Zeroizing::new(
            answer["keys_base64"][0]
                .as_str()
                .or_else(|| answer["keys"][0].as_str())
                .unwrap_or_default()
                .to_string(),
        );
        self.token = Zeroizing::new(
            answer["root_token"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        let unseal = json!({"key": key.as_str()});
        let (status, _) =
            call(client, &self.base, "PUT", "sys/unseal", None, Some(&unseal)).await?;
        if status != 200 {
            return Err(self.start_error(format!("sys/unseal answered {status}")));
        }
        Ok(())
    }

    fn start_error(&self, detail: String) -> BenchError {
        BenchError::Start {
            server: format!("{} ({})", self.product, self.storage),
            detail,
            log: self.log.clone(),
        }
    }
}

fn server_args(
    product: Product,
    storage: Storage,
    dir: &Path,
    port: u16,
) -> Result<Vec<String>, BenchError> {
    if storage == Storage::Memory {
        return Ok(vec![
            "server".into(),
            "-dev".into(),
            "-dev-root-token-id=root".into(),
            format!("-dev-listen-address=127.0.0.1:{port}"),
            "-dev-no-store-token".into(),
        ]);
    }
    let data = dir.join("data");
    std::fs::create_dir_all(&data).map_err(|e| BenchError::io("data dir", e))?;
    let config = match product {
        Product::Arca => format!(
            "storage \"file\" {{\n  path = \"{}\"\n}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_disable = true\n}}\ndisable_mlock = true\napi_addr = \"http://127.0.0.1:{port}\"\n",
            data.display()
        ),
        Product::OpenBao => format!(
            "storage \"raft\" {{\n  path = \"{}\"\n  node_id = \"bench\"\n}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  cluster_address = \"127.0.0.1:{}\"\n  tls_disable = true\n}}\ndisable_mlock = true\napi_addr = \"http://127.0.0.1:{port}\"\ncluster_addr = \"http://127.0.0.1:{}\"\n",
            data.display(),
            port + 1,
            port + 1
        ),
    };
    let cfg = dir.join("config.hcl");
    std::fs::write(&cfg, config).map_err(|e| BenchError::io("config file", e))?;
    Ok(vec!["server".into(), format!("-config={}", cfg.display())])
}

/// `VmHWM` from a `/proc/<pid>/status` text, in KiB.
pub fn parse_vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_hwm() {
        let status = "Name:\tarca\nVmPeak:\t  999 kB\nVmHWM:\t   12345 kB\nVmRSS:\t 100 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(12345));
        assert_eq!(parse_vm_hwm("Name: x\n"), None);
    }

    #[test]
    fn own_process_has_a_peak() {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        assert!(parse_vm_hwm(&status).unwrap() > 0);
    }

    #[test]
    fn durable_configs_name_their_storage() {
        let dir = tempfile::tempdir().unwrap();
        let args = server_args(Product::OpenBao, Storage::Durable, dir.path(), 18336).unwrap();
        let cfg = std::fs::read_to_string(dir.path().join("config.hcl")).unwrap();
        assert!(args[1].starts_with("-config="));
        assert!(cfg.contains("storage \"raft\"") && cfg.contains("127.0.0.1:18337"));
        server_args(Product::Arca, Storage::Durable, dir.path(), 18334).unwrap();
        let cfg = std::fs::read_to_string(dir.path().join("config.hcl")).unwrap();
        assert!(cfg.contains("storage \"file\""));
    }
}
