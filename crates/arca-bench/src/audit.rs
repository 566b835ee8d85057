//! The audit device of the `-audited` workloads and what it wrote: the same `file` device on
//! both servers (default options: `format` json, strings HMAC'd, no `log_raw`), enabled at
//! [`DEVICE_PATH`] before each audited cell and disabled after it, writing to a fresh file in
//! the server's temp dir whose size and line count are read once the cell is measured.

use std::io::Read as _;
use std::path::Path;

use serde::Serialize;
use serde_json::{Value, json};

use crate::error::BenchError;

/// Where the bench's device is mounted (`sys/audit/<DEVICE_PATH>`).
pub const DEVICE_PATH: &str = "bench";

/// The config line that lets a server enable audit devices over the API (both refuse it by
/// default since OpenBao's fix of CVE-2025-6000).
pub const API_AUDIT_CONFIG: &str = "unsafe_allow_api_audit_creation = true\n";

/// The body of `PUT sys/audit/<DEVICE_PATH>`: a `file` device writing to `file`, every other
/// option left at its default (json lines, HMAC'd strings).
pub fn device_body(file: &Path) -> Value {
    json!({
        "type": "file",
        "description": "arca-bench",
        "options": {"file_path": file.to_string_lossy()},
    })
}

/// What one server's device wrote during one audited cell (its warm-up included).
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct AuditVolume {
    /// Size of the audit file, bytes.
    pub bytes: u64,
    /// Lines in it (one per request and one per response, plus the test line written when
    /// the device is enabled).
    pub lines: u64,
    /// Requests sent while the device was enabled (warm-up and measured runs).
    pub requests: u64,
    /// `bytes / lines`.
    pub bytes_per_line: f64,
    /// `bytes / requests`: the audit file's growth per request.
    pub bytes_per_request: f64,
}

impl AuditVolume {
    /// The volume of `bytes` in `lines` lines written for `requests` requests.
    pub fn new(bytes: u64, lines: u64, requests: u64) -> AuditVolume {
        let per = |n: u64| if n == 0 { 0.0 } else { bytes as f64 / n as f64 };
        AuditVolume {
            bytes,
            lines,
            requests,
            bytes_per_line: per(lines),
            bytes_per_request: per(requests),
        }
    }
}

/// Both servers' audit volumes of one cell.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct AuditVolumes {
    /// Arca's device.
    pub arca: AuditVolume,
    /// OpenBao's device.
    pub openbao: AuditVolume,
}

/// Reads the audit file at `path` (off the async runtime): its size and its line count.
pub async fn file_volume(path: &Path, requests: u64) -> Result<AuditVolume, BenchError> {
    let owned = path.to_path_buf();
    let counted = tokio::task::spawn_blocking(move || count_lines(&owned))
        .await
        .map_err(|e| BenchError::io("audit file", std::io::Error::other(e)))?;
    let (bytes, lines) = counted.map_err(|e| BenchError::io(format!("{}", path.display()), e))?;
    Ok(AuditVolume::new(bytes, lines, requests))
}

/// The size of the file at `path` and the number of `\n` in it.
fn count_lines(path: &Path) -> std::io::Result<(u64, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let (mut bytes, mut lines) = (0u64, 0u64);
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok((bytes, lines));
        }
        bytes += n as u64;
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_is_a_default_file_device() {
        let body = device_body(Path::new("/tmp/x/audit.log"));
        assert_eq!(body["type"], "file");
        assert_eq!(body["options"], json!({"file_path": "/tmp/x/audit.log"}));
    }

    #[tokio::test]
    async fn counts_bytes_and_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let line = "{\"type\":\"request\"}\n";
        std::fs::write(&path, line.repeat(3)).unwrap();
        let v = file_volume(&path, 2).await.unwrap();
        assert_eq!((v.bytes, v.lines, v.requests), (57, 3, 2));
        assert_eq!(v.bytes_per_line, 19.0);
        assert_eq!(v.bytes_per_request, 28.5);
        assert!(file_volume(&dir.path().join("none"), 1).await.is_err());
        assert_eq!(AuditVolume::new(10, 0, 0).bytes_per_line, 0.0);
    }
}
