//! The two servers under comparison: the `arca` binary and OpenBao's `bao`, both in dev mode
//! (in-memory storage, root token `root`) on loopback, killed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::error::ConformanceError;

/// How many fresh ports a start tries: another process may take a free port between the pick
/// and the server's bind, and the server then exits.
const START_ATTEMPTS: usize = 5;

/// Which implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Product {
    /// This project.
    Arca,
    /// The reference, OpenBao 2.7.2.
    OpenBao,
}

/// A dev server process, killed on drop.
#[derive(Debug)]
pub struct DevServer {
    /// Which implementation.
    pub product: Product,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Where its output goes.
    pub log: PathBuf,
    child: Child,
    _home: tempfile::TempDir,
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl DevServer {
    /// Starts `product` in dev mode with root token `root` on a free loopback port and waits
    /// until `sys/health` is 200; a server that exits first (its port taken meanwhile) is
    /// started again on a new port.
    pub async fn start(product: Product) -> Result<DevServer, ConformanceError> {
        let bin = match product {
            Product::Arca => arca_bin()?,
            Product::OpenBao => bao_bin()?,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut server = Self::spawn(product, &bin)?;
            match server.wait_active().await {
                Ok(()) => return Ok(server),
                Err(e) if attempt < START_ATTEMPTS && server.exited() => {
                    eprintln!("{e}; starting again on a new port");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Spawns `bin` in dev mode on a free port (OpenBao's cluster listener takes the next
    /// port too, which [`arca_testkit::free_port`] leaves free).
    fn spawn(product: Product, bin: &Path) -> Result<DevServer, ConformanceError> {
        let port = arca_testkit::free_port();
        let home = tempfile::tempdir().map_err(|e| ConformanceError::Io {
            what: "temp dir".into(),
            source: e,
        })?;
        let log = home.path().join("server.log");
        let out = std::fs::File::create(&log).map_err(|e| ConformanceError::Io {
            what: "log file".into(),
            source: e,
        })?;
        let err = out.try_clone().map_err(|e| ConformanceError::Io {
            what: "log file".into(),
            source: e,
        })?;
        let child = Command::new(bin)
            .args([
                "server".to_string(),
                "-dev".into(),
                "-dev-root-token-id=root".into(),
                format!("-dev-listen-address=127.0.0.1:{port}"),
                "-dev-no-store-token".into(),
            ])
            .env("HOME", home.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| ConformanceError::Binary(format!("spawn {}: {e}", bin.display())))?;
        Ok(DevServer {
            product,
            base: format!("http://127.0.0.1:{port}"),
            log,
            child,
            _home: home,
        })
    }

    /// Whether the process has exited.
    fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    async fn wait_active(&mut self) -> Result<(), ConformanceError> {
        let client = reqwest::Client::new();
        let url = format!("{}/v1/sys/health", self.base);
        let start = Instant::now();
        let mut last = String::from("no answer");
        while start.elapsed() < Duration::from_secs(60) {
            if let Ok(Some(status)) = self.child.try_wait() {
                last = format!("exited with {status}");
                break;
            }
            match client.get(&url).send().await {
                Ok(r) if r.status().as_u16() == 200 => return Ok(()),
                Ok(r) => last = format!("sys/health answered {}", r.status()),
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err(ConformanceError::Start {
            server: format!("{:?}", self.product),
            detail: last,
            log: self.log.clone(),
        })
    }
}

/// The `arca` binary: `$ARCA_BIN`, or the workspace's own build, brought up to date with
/// `cargo build -p arca` (same profile and target folder as this test).
pub fn arca_bin() -> Result<PathBuf, ConformanceError> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("ARCA_BIN") {
            return Ok(PathBuf::from(p));
        }
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        // target/<profile>/deps/<test binary>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .ok_or("cannot find the target folder")?
            .to_path_buf();
        let target_dir = profile_dir
            .parent()
            .ok_or("cannot find the target folder")?;
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", "arca"])
            .arg("--target-dir")
            .arg(target_dir)
            .current_dir(&workspace);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd
            .status()
            .map_err(|e| format!("cargo build -p arca: {e}"))?;
        if !status.success() {
            return Err(format!("cargo build -p arca failed: {status}"));
        }
        let bin = profile_dir.join("arca");
        if bin.is_file() {
            Ok(bin)
        } else {
            Err(format!("no arca binary at {}", bin.display()))
        }
    })
    .clone()
    .map_err(ConformanceError::Binary)
}

/// OpenBao's pinned `bao` binary, as `scripts/bao.sh` finds or installs it (`$BAO_BIN`
/// overrides; see [`arca_testkit::bao_binary`]).
pub fn bao_bin() -> Result<PathBuf, ConformanceError> {
    arca_testkit::bao_binary().map_err(ConformanceError::Binary)
}
