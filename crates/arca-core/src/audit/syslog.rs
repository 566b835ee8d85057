//! The `syslog` device: sends lines to the local syslog daemon.
//!
//! As OpenBao (Go's `log/syslog` through `go-syslog`): the daemon is reached on the first of
//! `/dev/log`, `/var/run/syslog`, `/var/run/log` that accepts a datagram connection, else on
//! the first that accepts a stream connection; each line goes at severity INFO of the device's
//! facility as `<PRI>Mmm dd hh:mm:ss TAG[PID]: LINE`, with the local time and a newline at the
//! end (added when the line has none); a failed send reconnects once and tries again.
//!
//! Test and operations seam: the environment variable `ARCA_SYSLOG_SOCKET`, when set, names
//! the one socket [`SyslogSink::new`] uses instead of the standard list.

use std::io;
use std::os::unix::net as std_unix;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use tokio::net::{UnixDatagram, UnixStream};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::os_error::errno_text;
use super::{AuditError, Options, Sink};

/// The environment variable naming the syslog socket to use instead of the standard ones.
pub(crate) const SOCKET_ENV: &str = "ARCA_SYSLOG_SOCKET";
/// Where the local syslog daemon listens, in the order Go tries them.
const SOCKET_PATHS: [&str; 3] = ["/dev/log", "/var/run/syslog", "/var/run/log"];
/// The syslog severity of every audit line: INFO.
const SEVERITY_INFO: u8 = 6;
/// How long one send may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// The error Go gives when no local syslog socket accepts a connection.
const NO_DAEMON: &str = "Unix syslog delivery error";

/// A `syslog` audit device's sink.
pub(crate) struct SyslogSink {
    /// `facility * 8 + INFO`.
    priority: u8,
    /// The tag before `[pid]:` (default `vault`).
    tag: String,
    /// The sockets tried, in order.
    paths: Vec<PathBuf>,
    /// The connection to the daemon; `None` after a failed send until the retry reconnects.
    connection: Mutex<Option<Connection>>,
}

/// A connection to the syslog daemon.
enum Connection {
    /// Made by the constructor, outside any runtime; made asynchronous on first use.
    Pending(PendingConnection),
    /// A datagram socket: one datagram per line.
    Gram(UnixDatagram),
    /// A stream socket.
    Stream(UnixStream),
}

/// A blocking-mode socket, as connected before a runtime was at hand.
enum PendingConnection {
    /// A connected datagram socket.
    Gram(std_unix::UnixDatagram),
    /// A connected stream socket.
    Stream(std_unix::UnixStream),
}

impl SyslogSink {
    /// Builds the sink from `facility` (default AUTH) and `tag` (default `vault`) and
    /// connects to the local syslog daemon (or to `$ARCA_SYSLOG_SOCKET`).
    pub(crate) fn new(options: &Options) -> Result<SyslogSink, AuditError> {
        let paths = match std::env::var_os(SOCKET_ENV) {
            Some(path) if !path.is_empty() => vec![PathBuf::from(path)],
            _ => SOCKET_PATHS.iter().map(PathBuf::from).collect(),
        };
        SyslogSink::with_paths(options, paths)
    }

    /// [`SyslogSink::new`] with the sockets to try given.
    pub(crate) fn with_paths(
        options: &Options,
        paths: Vec<PathBuf>,
    ) -> Result<SyslogSink, AuditError> {
        let facility = facility_code(options.get("facility").map_or("AUTH", String::as_str))?;
        let tag = options
            .get("tag")
            .cloned()
            .unwrap_or_else(|| "vault".to_owned());
        let pending = connect(&paths).ok_or_else(|| AuditError::Config(NO_DAEMON.into()))?;
        Ok(SyslogSink {
            priority: facility * 8 + SEVERITY_INFO,
            tag,
            paths,
            connection: Mutex::new(Some(Connection::Pending(pending))),
        })
    }

    /// The bytes sent for `line`: Go's local syslog format.
    fn message(&self, line: &[u8]) -> Vec<u8> {
        let stamp = chrono::Local::now().format("%b %e %H:%M:%S");
        let mut out = format!(
            "<{}>{stamp} {}[{}]: ",
            self.priority,
            self.tag,
            std::process::id()
        )
        .into_bytes();
        out.reserve(line.len() + 1);
        out.extend_from_slice(line);
        if !line.ends_with(b"\n") {
            out.push(b'\n');
        }
        out
    }
}

/// The facility number of `name` (case-insensitive), or Go's error.
fn facility_code(name: &str) -> Result<u8, AuditError> {
    let upper = name.to_ascii_uppercase();
    let code = match upper.as_str() {
        "KERN" => 0,
        "USER" => 1,
        "MAIL" => 2,
        "DAEMON" => 3,
        "AUTH" => 4,
        "SYSLOG" => 5,
        "LPR" => 6,
        "NEWS" => 7,
        "UUCP" => 8,
        "CRON" => 9,
        "AUTHPRIV" => 10,
        "FTP" => 11,
        "LOCAL0" => 16,
        "LOCAL1" => 17,
        "LOCAL2" => 18,
        "LOCAL3" => 19,
        "LOCAL4" => 20,
        "LOCAL5" => 21,
        "LOCAL6" => 22,
        "LOCAL7" => 23,
        _ => {
            return Err(AuditError::Config(format!(
                "invalid syslog facility: {upper}"
            )));
        }
    };
    Ok(code)
}

/// Connects to the first socket of `paths` that takes datagrams, else to the first that
/// takes a stream, as Go does.
fn connect(paths: &[PathBuf]) -> Option<PendingConnection> {
    for path in paths {
        if let Ok(socket) = std_unix::UnixDatagram::unbound()
            && socket.connect(path).is_ok()
        {
            return Some(PendingConnection::Gram(socket));
        }
    }
    for path in paths {
        if let Ok(stream) = std_unix::UnixStream::connect(path) {
            return Some(PendingConnection::Stream(stream));
        }
    }
    None
}

impl PendingConnection {
    /// The same socket, registered with the runtime.
    fn into_async(self) -> io::Result<Connection> {
        match self {
            PendingConnection::Gram(socket) => {
                socket.set_nonblocking(true)?;
                UnixDatagram::from_std(socket).map(Connection::Gram)
            }
            PendingConnection::Stream(stream) => {
                stream.set_nonblocking(true)?;
                UnixStream::from_std(stream).map(Connection::Stream)
            }
        }
    }
}

/// Sends one message whole on the connection in `slot`, within `deadline`; a connection
/// made outside the runtime is registered with it first.
async fn send(slot: &mut Option<Connection>, message: &[u8], deadline: Instant) -> io::Result<()> {
    if let Some(Connection::Pending(_)) = slot
        && let Some(Connection::Pending(pending)) = slot.take()
    {
        *slot = Some(pending.into_async()?);
    }
    let sending = async {
        match slot {
            Some(Connection::Gram(socket)) => socket.send(message).await.map(drop),
            Some(Connection::Stream(stream)) => {
                tokio::io::AsyncWriteExt::write_all(stream, message).await
            }
            Some(Connection::Pending(_)) | None => {
                Err(io::Error::from(io::ErrorKind::NotConnected))
            }
        }
    };
    tokio::time::timeout_at(deadline, sending)
        .await
        .unwrap_or_else(|_| Err(io::Error::from(io::ErrorKind::TimedOut)))
}

#[async_trait]
impl Sink for SyslogSink {
    async fn write(&self, line: Vec<u8>) -> Result<(), AuditError> {
        let line = &line[..];
        let message = self.message(line);
        let deadline = Instant::now() + WRITE_TIMEOUT;
        let mut slot = self.connection.lock().await;
        if slot.is_some() && send(&mut slot, &message, deadline).await.is_ok() {
            return Ok(());
        }
        // As Go: reconnect once and send again.
        *slot = None;
        let pending = connect(&self.paths).ok_or_else(|| AuditError::Io(NO_DAEMON.into()))?;
        *slot = Some(Connection::Pending(pending));
        send(&mut slot, &message, deadline)
            .await
            .map_err(|err| AuditError::Io(format!("write syslog: {}", errno_text(&err))))
    }

    async fn reload(&self) -> Result<(), AuditError> {
        let mut slot = self.connection.lock().await;
        *slot = None;
        let pending = connect(&self.paths).ok_or_else(|| AuditError::Io(NO_DAEMON.into()))?;
        *slot = Some(Connection::Pending(pending));
        Ok(())
    }

    fn write_timeout(&self) -> Duration {
        WRITE_TIMEOUT
    }
}

#[cfg(test)]
mod tests {
    use super::super::sink::test_support::{config_error, options};
    use super::*;

    /// Checks `<PRI>Mmm dd hh:mm:ss TAG[PID]: ` before `rest`, and returns `rest`.
    fn strip_header<'a>(received: &'a str, priority: u8, tag: &str) -> &'a str {
        let start = format!("<{priority}>");
        let after = received
            .strip_prefix(&start)
            .unwrap_or_else(|| panic!("{received}"));
        let (stamp, rest) = after.split_at(15);
        let bytes = stamp.as_bytes();
        assert!(bytes[..3].iter().all(u8::is_ascii_alphabetic), "{stamp}");
        assert_eq!(bytes[3], b' ', "{stamp}");
        assert!(bytes[4] == b' ' || bytes[4].is_ascii_digit(), "{stamp}");
        assert!(bytes[5].is_ascii_digit(), "{stamp}");
        assert_eq!(&stamp[6..7], " ", "{stamp}");
        assert_eq!((&stamp[9..10], &stamp[12..13]), (":", ":"), "{stamp}");
        let head = format!(" {tag}[{}]: ", std::process::id());
        rest.strip_prefix(&head)
            .unwrap_or_else(|| panic!("{received}"))
    }

    #[tokio::test]
    async fn a_datagram_socket_receives_go_s_local_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let daemon = UnixDatagram::bind(&path).unwrap();
        let sink = SyslogSink::with_paths(
            &options(&[]),
            vec![dir.path().join("missing"), path.clone()],
        )
        .unwrap();
        sink.write(b"{\"type\":\"request\"}\n".to_vec())
            .await
            .unwrap();
        let mut buf = vec![0u8; 4096];
        let n = daemon.recv(&mut buf).await.unwrap();
        let received = std::str::from_utf8(&buf[..n]).unwrap();
        assert_eq!(
            strip_header(received, 38, "vault"),
            "{\"type\":\"request\"}\n"
        );

        // A line without a newline gets one; facility and tag as given.
        let sink = SyslogSink::with_paths(
            &options(&[("facility", "local7"), ("tag", "arca")]),
            vec![path.clone()],
        )
        .unwrap();
        sink.write(b"plain".to_vec()).await.unwrap();
        let n = daemon.recv(&mut buf).await.unwrap();
        let received = std::str::from_utf8(&buf[..n]).unwrap();
        assert_eq!(strip_header(received, 23 * 8 + 6, "arca"), "plain\n");
    }

    #[tokio::test]
    async fn a_restarted_daemon_is_reconnected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let daemon = UnixDatagram::bind(&path).unwrap();
        let sink = SyslogSink::with_paths(&options(&[]), vec![path.clone()]).unwrap();
        sink.write(b"before\n".to_vec()).await.unwrap();
        drop(daemon);
        std::fs::remove_file(&path).unwrap();
        let daemon = UnixDatagram::bind(&path).unwrap();
        sink.write(b"after\n".to_vec()).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = daemon.recv(&mut buf).await.unwrap();
        let received = std::str::from_utf8(&buf[..n]).unwrap();
        assert_eq!(strip_header(received, 38, "vault"), "after\n");
    }

    #[tokio::test]
    async fn a_stream_socket_is_the_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let daemon = tokio::net::UnixListener::bind(&path).unwrap();
        let sink = SyslogSink::with_paths(&options(&[]), vec![path]).unwrap();
        sink.write(b"streamed\n".to_vec()).await.unwrap();
        let (stream, _) = daemon.accept().await.unwrap();
        let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stream));
        let line = lines.next_line().await.unwrap().unwrap();
        assert_eq!(strip_header(&line, 38, "vault"), "streamed");
    }

    #[test]
    fn option_and_daemon_errors_have_openbao_texts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let _daemon = std_unix::UnixDatagram::bind(&path).unwrap();
        assert_eq!(
            config_error(SyslogSink::with_paths(
                &options(&[("facility", "BOGUS")]),
                vec![path.clone()]
            )),
            "invalid syslog facility: BOGUS"
        );
        assert_eq!(
            config_error(SyslogSink::with_paths(
                &options(&[]),
                vec![dir.path().join("nobody-here")]
            )),
            "Unix syslog delivery error"
        );
        assert!(SyslogSink::with_paths(&options(&[("facility", "authPriv")]), vec![path]).is_ok());
    }
}
