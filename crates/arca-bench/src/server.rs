//! The servers under test: Arca or OpenBao, in-memory (dev mode) or durable (Arca's `file`,
//! OpenBao's `raft`), started as child processes on loopback and killed on drop. Each may get
//! the example KV plugin in its plugin directory, registered and mounted at
//! [`PLUGIN_NAME`](crate::workload::PLUGIN_NAME), and may allow audit devices to be enabled
//! over the API (see [`crate::audit`]).

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::audit::{API_AUDIT_CONFIG, DEVICE_PATH, device_body};
use crate::client::{HttpClient, call};
use crate::error::BenchError;
use crate::workload::PLUGIN_NAME;

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

/// How a server is started beyond its product and storage kind.
#[derive(Debug, Clone, Copy, Default)]
pub struct StartOptions<'a> {
    /// The example KV plugin binary: the server gets a plugin directory holding it as
    /// [`PLUGIN_NAME`], registered in the catalog and mounted at `PLUGIN_NAME/`.
    pub plugin: Option<&'a Path>,
    /// The config sets `unsafe_allow_api_audit_creation = true`, so `PUT sys/audit/<path>`
    /// works (a dev server gets it from a second `-config` file, which `bao server -dev`
    /// merges into its dev config).
    pub api_audit: bool,
    /// An in-memory server started from a config file (`storage "inmem"`) and initialised,
    /// unsealed and given KV v2 at `secret/` over the API, instead of a dev server.
    pub inmem_config: bool,
}

impl StartOptions<'_> {
    /// The server is started from a config file (durable, or in memory on request) and so
    /// initialised and unsealed over the API.
    fn config_file(&self, storage: Storage) -> bool {
        storage == Storage::Durable || self.inmem_config
    }
}

/// The answer to enabling the bench's audit device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditEnable {
    /// The device is enabled and writes to the file asked for.
    Enabled,
    /// The server refused it (e.g. API creation not allowed by its config).
    Refused {
        /// HTTP status.
        status: u16,
        /// Response body.
        body: String,
    },
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
    /// The example plugin is registered and mounted at [`PLUGIN_NAME`].
    pub has_plugin: bool,
    token: Zeroizing<String>,
    child: Child,
    log: PathBuf,
    dir: tempfile::TempDir,
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
    /// cluster listener), waits until it is active, and mounts KV v2 at `secret/` when started
    /// from a config file; `opts` says what else it gets.
    pub async fn start(
        product: Product,
        storage: Storage,
        bin: &Path,
        port: u16,
        client: &HttpClient,
        opts: StartOptions<'_>,
    ) -> Result<RunningServer, BenchError> {
        let dir = tempfile::tempdir().map_err(|e| BenchError::io("temp dir", e))?;
        let log = dir.path().join("server.log");
        let plugin_dir = match opts.plugin {
            Some(p) => Some(install_plugin(p, &dir.path().join("plugins"))?),
            None => None,
        };
        let args = server_args(
            product,
            storage,
            dir.path(),
            port,
            plugin_dir.as_deref(),
            opts,
        )?;
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
            has_plugin: false,
            token: Zeroizing::new("root".to_string()),
            child,
            log,
            dir,
        };
        server.wait_for(client, "sys/seal-status", |_| true).await?;
        server.startup = t0.elapsed();
        if opts.config_file(storage) {
            server.init_and_unseal(client).await?;
        }
        server.wait_for(client, "sys/health", |s| s == 200).await?;
        server.ready = t0.elapsed();
        if opts.config_file(storage) {
            let body = json!({"type": "kv", "options": {"version": "2"}});
            server
                .expect_ok(client, "POST", "sys/mounts/secret", &body)
                .await?;
        }
        if let Some(dir) = &plugin_dir {
            server.mount_plugin(client, dir, opts).await?;
        }
        Ok(server)
    }

    /// Enables the bench's `file` audit device at [`DEVICE_PATH`], writing to `file_name` in
    /// this server's temp dir (default options: json format, HMAC on), and returns the file's
    /// path with the answer.
    pub async fn enable_file_audit(
        &self,
        client: &HttpClient,
        file_name: &str,
    ) -> Result<(PathBuf, AuditEnable), BenchError> {
        let file = self.dir.path().join(file_name);
        let body = device_body(&file);
        let path = format!("sys/audit/{DEVICE_PATH}");
        let (status, answer) = call(
            client,
            &self.base,
            "PUT",
            &path,
            Some(&self.token),
            Some(&body),
        )
        .await?;
        let outcome = if (200..300).contains(&status) {
            AuditEnable::Enabled
        } else {
            AuditEnable::Refused {
                status,
                body: answer.to_string(),
            }
        };
        Ok((file, outcome))
    }

    /// Disables the bench's audit device (a no-op when none is enabled there).
    pub async fn disable_audit(&self, client: &HttpClient) -> Result<(), BenchError> {
        let path = format!("sys/audit/{DEVICE_PATH}");
        let (status, answer) =
            call(client, &self.base, "DELETE", &path, Some(&self.token), None).await?;
        if (200..300).contains(&status) {
            return Ok(());
        }
        Err(BenchError::Setup {
            server: self.product.to_string(),
            step: format!("DELETE {path}"),
            status,
            body: answer.to_string(),
        })
    }

    /// Registers the plugin in the catalog (dev servers already did) and mounts it at its name
    /// (Arca's dev mode already did; OpenBao's only registers).
    async fn mount_plugin(
        &mut self,
        client: &HttpClient,
        dir: &Path,
        opts: StartOptions<'_>,
    ) -> Result<(), BenchError> {
        let dev = !opts.config_file(self.storage);
        if !dev {
            let sha = sha256_hex(&dir.join(PLUGIN_NAME))?;
            let body = json!({"sha256": sha, "command": PLUGIN_NAME});
            self.expect_ok(
                client,
                "PUT",
                &format!("sys/plugins/catalog/secret/{PLUGIN_NAME}"),
                &body,
            )
            .await?;
        }
        if !(self.product == Product::Arca && dev) {
            let body = json!({"type": PLUGIN_NAME});
            self.expect_ok(client, "POST", &format!("sys/mounts/{PLUGIN_NAME}"), &body)
                .await?;
        }
        self.has_plugin = true;
        Ok(())
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

    /// Resident set size now (`VmRSS`), KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        parse_vm_rss(&status)
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

/// Copies the plugin binary into `dir` as [`PLUGIN_NAME`] (mode 0755) and returns `dir`.
fn install_plugin(binary: &Path, dir: &Path) -> Result<PathBuf, BenchError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).map_err(|e| BenchError::io("plugin dir", e))?;
    let dst = dir.join(PLUGIN_NAME);
    std::fs::copy(binary, &dst)
        .map_err(|e| BenchError::io(format!("copying plugin {}", binary.display()), e))?;
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| BenchError::io("plugin mode", e))?;
    Ok(dir.to_path_buf())
}

/// Lower-case hex SHA-256 of a file, as the plugin catalog wants it.
fn sha256_hex(path: &Path) -> Result<String, BenchError> {
    let bytes = std::fs::read(path).map_err(|e| BenchError::io("reading plugin", e))?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes);
    Ok(digest
        .as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        }))
}

fn server_args(
    product: Product,
    storage: Storage,
    dir: &Path,
    port: u16,
    plugin_dir: Option<&Path>,
    opts: StartOptions<'_>,
) -> Result<Vec<String>, BenchError> {
    if !opts.config_file(storage) {
        let mut args = vec![
            "server".into(),
            "-dev".into(),
            "-dev-root-token-id=root".into(),
            format!("-dev-listen-address=127.0.0.1:{port}"),
            "-dev-no-store-token".into(),
        ];
        if let Some(p) = plugin_dir {
            args.push(format!("-dev-plugin-dir={}", p.display()));
        }
        if opts.api_audit {
            let extra = dir.join("audit.hcl");
            std::fs::write(&extra, API_AUDIT_CONFIG)
                .map_err(|e| BenchError::io("config file", e))?;
            args.push(format!("-config={}", extra.display()));
        }
        return Ok(args);
    }
    let storage_stanza = match (storage, product) {
        (Storage::Memory, _) => "storage \"inmem\" {}\n".to_string(),
        (Storage::Durable, Product::Arca) => {
            format!(
                "storage \"file\" {{\n  path = \"{}\"\n}}\n",
                data_dir(dir)?.display()
            )
        }
        (Storage::Durable, Product::OpenBao) => format!(
            "storage \"raft\" {{\n  path = \"{}\"\n  node_id = \"bench\"\n}}\n",
            data_dir(dir)?.display()
        ),
    };
    let rest = match product {
        Product::Arca => format!(
            "listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_disable = true\n}}\ndisable_mlock = true\napi_addr = \"http://127.0.0.1:{port}\"\n"
        ),
        Product::OpenBao => format!(
            "listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  cluster_address = \"127.0.0.1:{}\"\n  tls_disable = true\n}}\ndisable_mlock = true\napi_addr = \"http://127.0.0.1:{port}\"\ncluster_addr = \"http://127.0.0.1:{}\"\n",
            port + 1,
            port + 1
        ),
    };
    let mut config = storage_stanza + &rest;
    if let Some(p) = plugin_dir {
        config.push_str(&format!("plugin_directory = \"{}\"\n", p.display()));
    }
    if opts.api_audit {
        config.push_str(API_AUDIT_CONFIG);
    }
    let cfg = dir.join("config.hcl");
    std::fs::write(&cfg, config).map_err(|e| BenchError::io("config file", e))?;
    Ok(vec!["server".into(), format!("-config={}", cfg.display())])
}

/// The durable storage's data folder inside `dir`, created.
fn data_dir(dir: &Path) -> Result<PathBuf, BenchError> {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).map_err(|e| BenchError::io("data dir", e))?;
    Ok(data)
}

/// `VmHWM` from a `/proc/<pid>/status` text, in KiB.
pub fn parse_vm_hwm(status: &str) -> Option<u64> {
    status_kib(status, "VmHWM:")
}

/// `VmRSS` (resident set size now) from a `/proc/<pid>/status` text, in KiB.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    status_kib(status, "VmRSS:")
}

fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
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
        assert_eq!(parse_vm_rss(status), Some(100));
    }

    #[test]
    fn own_process_has_a_peak() {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        assert!(parse_vm_hwm(&status).unwrap() > 0);
    }

    #[test]
    fn durable_configs_name_their_storage() {
        let dir = tempfile::tempdir().unwrap();
        let args = server_args(
            Product::OpenBao,
            Storage::Durable,
            dir.path(),
            18336,
            None,
            StartOptions::default(),
        )
        .unwrap();
        let cfg = std::fs::read_to_string(dir.path().join("config.hcl")).unwrap();
        assert!(args[1].starts_with("-config="));
        assert!(cfg.contains("storage \"raft\"") && cfg.contains("127.0.0.1:18337"));
        assert!(!cfg.contains("plugin_directory"));
        let plugins = dir.path().join("plugins");
        server_args(
            Product::Arca,
            Storage::Durable,
            dir.path(),
            18334,
            Some(&plugins),
            StartOptions::default(),
        )
        .unwrap();
        let cfg = std::fs::read_to_string(dir.path().join("config.hcl")).unwrap();
        assert!(cfg.contains("storage \"file\""));
        assert!(cfg.contains(&format!("plugin_directory = \"{}\"", plugins.display())));
    }

    #[test]
    fn dev_servers_get_the_plugin_dir_flag() {
        let dir = tempfile::tempdir().unwrap();
        let plugins = dir.path().join("plugins");
        let args = server_args(
            Product::OpenBao,
            Storage::Memory,
            dir.path(),
            1,
            Some(&plugins),
            StartOptions::default(),
        )
        .unwrap();
        assert_eq!(
            args.last().unwrap(),
            &format!("-dev-plugin-dir={}", plugins.display())
        );
        let args = server_args(
            Product::Arca,
            Storage::Memory,
            dir.path(),
            1,
            None,
            StartOptions::default(),
        )
        .unwrap();
        assert!(!args.iter().any(|a| a.starts_with("-dev-plugin-dir")));
        assert!(!args.iter().any(|a| a.starts_with("-config")));
    }

    #[test]
    fn api_audit_creation_is_allowed_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let audit = StartOptions {
            api_audit: true,
            ..StartOptions::default()
        };
        // A dev server gets the flag from a second config file.
        let args = server_args(
            Product::OpenBao,
            Storage::Memory,
            dir.path(),
            1,
            None,
            audit,
        )
        .unwrap();
        assert!(args.contains(&"-dev".to_string()));
        let extra = args.last().unwrap().strip_prefix("-config=").unwrap();
        assert_eq!(
            std::fs::read_to_string(extra).unwrap(),
            "unsafe_allow_api_audit_creation = true\n"
        );
        // A durable server gets it in its config, an in-memory config server too.
        for (storage, inmem_config, stanza) in [
            (Storage::Durable, false, "storage \"file\""),
            (Storage::Memory, true, "storage \"inmem\" {}"),
        ] {
            let opts = StartOptions {
                inmem_config,
                ..audit
            };
            let args = server_args(Product::Arca, storage, dir.path(), 2, None, opts).unwrap();
            assert_eq!(args.len(), 2, "{args:?}");
            let cfg = std::fs::read_to_string(dir.path().join("config.hcl")).unwrap();
            assert!(cfg.contains(stanza), "{cfg}");
            assert!(
                cfg.contains("unsafe_allow_api_audit_creation = true"),
                "{cfg}"
            );
            assert!(cfg.contains("address = \"127.0.0.1:2\""), "{cfg}");
        }
        let args = server_args(
            Product::Arca,
            Storage::Durable,
            dir.path(),
            2,
            None,
            StartOptions::default(),
        )
        .unwrap();
        assert_eq!(args.len(), 2);
        let cfg = std::fs::read_to_string(dir.path().join("config.hcl")).unwrap();
        assert!(!cfg.contains("unsafe_allow_api_audit_creation"), "{cfg}");
    }

    #[test]
    fn installs_the_plugin_executable_with_its_checksum() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src-bin");
        std::fs::write(&src, b"abc").unwrap();
        let plugins = install_plugin(&src, &dir.path().join("plugins")).unwrap();
        let dst = plugins.join(PLUGIN_NAME);
        let mode = std::fs::metadata(&dst).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        // SHA-256("abc"), FIPS 180-2 test vector.
        assert_eq!(
            sha256_hex(&dst).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
