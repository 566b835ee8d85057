//! The `socket` device: writes lines to a TCP, UDP or unix socket, reconnecting on failure.
//!
//! As OpenBao: the connection is made on the first write; a write that fails reconnects once
//! and tries again, and when the reconnection fails too both errors are returned as Go's
//! `multierror` writes them. Unlike OpenBao, one call to `write` (dial, write, reconnect and
//! retry together) never outlasts `write_timeout`: a write that exceeds it drops the connection
//! (the peer may hold half a line) and fails at once.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use arca_sdk::duration::parse_duration;
use async_trait::async_trait;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket, UnixDatagram, UnixStream};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::os_error::errno_text;
use super::{AuditError, Options, Sink};

/// How long a write may take when the device sets no `write_timeout`.
const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// A `socket` audit device's sink.
pub(crate) struct SocketSink {
    /// Where to connect: `host:port`, or a socket path for `unix`.
    address: String,
    /// Go's network name: `tcp`, `udp`, `unix` (and `tcp4`, `tcp6`, `udp4`, `udp6`,
    /// `unixgram`); anything else fails each dial, as in OpenBao.
    socket_type: String,
    /// How long one write may take, dial and retry included.
    write_timeout: Duration,
    /// The open connection, if any; held across the write so lines never interleave.
    connection: Mutex<Option<Connection>>,
}

/// An open connection of one of the supported kinds.
enum Connection {
    /// A TCP stream.
    Tcp(TcpStream),
    /// A connected UDP socket: one datagram per line.
    Udp(UdpSocket),
    /// A unix stream socket.
    Unix(UnixStream),
    /// A connected unix datagram socket.
    UnixGram(UnixDatagram),
}

impl SocketSink {
    /// Builds the sink from `address`, `socket_type` (default `tcp`) and `write_timeout`
    /// (default 2s). Nothing is dialled until the first write.
    pub(crate) fn new(options: &Options) -> Result<SocketSink, AuditError> {
        let address = options
            .get("address")
            .ok_or_else(|| AuditError::Config("address is required".into()))?
            .clone();
        let socket_type = options
            .get("socket_type")
            .cloned()
            .unwrap_or_else(|| "tcp".to_owned());
        let write_timeout = match options.get("write_timeout") {
            Some(text) => {
                parse_duration(text).map_err(|err| AuditError::Config(err.to_string()))?
            }
            None => DEFAULT_WRITE_TIMEOUT,
        };
        Ok(SocketSink {
            address,
            socket_type,
            write_timeout,
            connection: Mutex::new(None),
        })
    }

    /// Dials the address, within `deadline`; the error is Go's `dial …` text.
    async fn dial(&self, deadline: Instant) -> Result<Connection, String> {
        let net = self.socket_type.as_str();
        let address = self.address.as_str();
        let dialing = async {
            match net {
                "tcp" | "tcp4" | "tcp6" => {
                    let mut last = None;
                    for addr in self.resolve().await? {
                        match TcpStream::connect(addr).await {
                            Ok(stream) => {
                                // Audit lines are written whole; send each at once.
                                let _ = stream.set_nodelay(true);
                                return Ok(Connection::Tcp(stream));
                            }
                            Err(err) => last = Some(err),
                        }
                    }
                    Err(match last {
                        Some(err) => format!("dial {net} {address}: connect: {}", errno_text(&err)),
                        None => format!("dial {net} {address}: no suitable address found"),
                    })
                }
                "udp" | "udp4" | "udp6" => {
                    let addr = self.resolve().await?.into_iter().next().ok_or_else(|| {
                        format!("dial {net} {address}: no suitable address found")
                    })?;
                    let local = if addr.is_ipv4() {
                        "0.0.0.0:0"
                    } else {
                        "[::]:0"
                    };
                    let socket = UdpSocket::bind(local)
                        .await
                        .map_err(|err| format!("dial {net} {address}: {}", errno_text(&err)))?;
                    socket.connect(addr).await.map_err(|err| {
                        format!("dial {net} {address}: connect: {}", errno_text(&err))
                    })?;
                    Ok(Connection::Udp(socket))
                }
                "unix" => UnixStream::connect(address)
                    .await
                    .map(Connection::Unix)
                    .map_err(|err| format!("dial unix {address}: connect: {}", errno_text(&err))),
                "unixgram" => {
                    let socket = UnixDatagram::unbound()
                        .map_err(|err| format!("dial unixgram {address}: {}", errno_text(&err)))?;
                    socket.connect(address).map_err(|err| {
                        format!("dial unixgram {address}: connect: {}", errno_text(&err))
                    })?;
                    Ok(Connection::UnixGram(socket))
                }
                other => Err(format!("dial {other}: unknown network {other}")),
            }
        };
        match tokio::time::timeout_at(deadline, dialing).await {
            Ok(result) => result,
            Err(_) => Err(format!("dial {net} {address}: i/o timeout")),
        }
    }

    /// The addresses `address` names, of the family the socket type asks for.
    async fn resolve(&self) -> Result<Vec<SocketAddr>, String> {
        let net = self.socket_type.as_str();
        let address = self.address.as_str();
        if !address.contains(':') {
            return Err(format!(
                "dial {net} {address}: address {address}: missing port in address"
            ));
        }
        let found = tokio::net::lookup_host(address)
            .await
            .map_err(|err| format!("dial {net}: lookup {address}: {}", errno_text(&err)))?;
        Ok(found
            .filter(|addr| match net {
                "tcp4" | "udp4" => addr.is_ipv4(),
                "tcp6" | "udp6" => addr.is_ipv6(),
                _ => true,
            })
            .collect())
    }

    /// Writes `line` on the connection (dialling first if there is none), within `deadline`.
    /// `Err((text, timed_out))` on failure; the connection is dropped after a timeout.
    async fn write_once(
        &self,
        slot: &mut Option<Connection>,
        line: &[u8],
        deadline: Instant,
    ) -> Result<(), (String, bool)> {
        if slot.is_none() {
            *slot = Some(self.dial(deadline).await.map_err(|text| (text, false))?);
        }
        let Some(connection) = slot.as_mut() else {
            return Err(("no connection".to_owned(), false));
        };
        let label = connection.label(&self.socket_type, &self.address);
        let writing = async {
            match connection {
                Connection::Tcp(stream) => stream.write_all(line).await,
                Connection::Unix(stream) => stream.write_all(line).await,
                Connection::Udp(socket) => socket.send(line).await.map(drop),
                Connection::UnixGram(socket) => socket.send(line).await.map(drop),
            }
        };
        match tokio::time::timeout_at(deadline, writing).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err((format!("write {label}: {}", errno_text(&err)), false)),
            Err(_) => {
                *slot = None;
                Err((format!("write {label}: i/o timeout"), true))
            }
        }
    }
}

impl Connection {
    /// The connection as Go's `net.OpError` names it: `tcp 127.0.0.1:5000->127.0.0.1:9090`.
    fn label(&self, net: &str, address: &str) -> String {
        let pair = |local: io::Result<SocketAddr>, peer: io::Result<SocketAddr>| match (local, peer)
        {
            (Ok(local), Ok(peer)) => format!("{net} {local}->{peer}"),
            _ => format!("{net} {address}"),
        };
        match self {
            Connection::Tcp(stream) => pair(stream.local_addr(), stream.peer_addr()),
            Connection::Udp(socket) => pair(socket.local_addr(), socket.peer_addr()),
            Connection::Unix(_) | Connection::UnixGram(_) => format!("{net} ->{address}"),
        }
    }
}

/// Two errors as Go's `multierror.Append` writes them.
fn two_errors(first: &str, second: &str) -> String {
    format!("2 errors occurred:\n\t* {first}\n\t* {second}\n\n")
}

#[async_trait]
impl Sink for SocketSink {
    async fn write(&self, line: Vec<u8>) -> Result<(), AuditError> {
        let line = &line[..];
        let deadline = Instant::now() + self.write_timeout;
        let mut slot = self.connection.lock().await;
        let first = match self.write_once(&mut slot, line, deadline).await {
            Ok(()) => return Ok(()),
            Err((text, true)) => return Err(AuditError::Io(text)),
            Err((text, false)) => text,
        };
        // As OpenBao: reconnect once and try again.
        *slot = None;
        match self.dial(deadline).await {
            Err(second) => Err(AuditError::Io(two_errors(&first, &second))),
            Ok(connection) => {
                *slot = Some(connection);
                self.write_once(&mut slot, line, deadline)
                    .await
                    .map_err(|(text, _)| AuditError::Io(text))
            }
        }
    }

    async fn reload(&self) -> Result<(), AuditError> {
        let deadline = Instant::now() + self.write_timeout;
        let mut slot = self.connection.lock().await;
        *slot = None;
        *slot = Some(self.dial(deadline).await.map_err(AuditError::Io)?);
        Ok(())
    }

    fn write_timeout(&self) -> Duration {
        self.write_timeout
    }
}

#[cfg(test)]
mod tests {
    use super::super::sink::test_support::options;
    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio::net::{TcpListener, UnixListener};

    use super::*;

    /// Whether `path` names an existing unix socket.
    fn is_socket(path: &std::path::Path) -> bool {
        use std::os::unix::fs::FileTypeExt;
        std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket())
    }

    fn io_error(result: Result<(), AuditError>) -> String {
        match result {
            Err(AuditError::Io(text)) => text,
            other => panic!("not an Io error: {other:?}"),
        }
    }

    #[tokio::test]
    async fn tcp_lines_reach_the_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let sink = SocketSink::new(&options(&[("address", &address)])).unwrap();
        let writer = async {
            sink.write(b"first\n".to_vec()).await.unwrap();
            sink.write(b"second\n".to_vec()).await.unwrap();
        };
        let reader = async {
            let (stream, _) = listener.accept().await.unwrap();
            let mut lines = BufReader::new(stream).lines();
            let one = lines.next_line().await.unwrap().unwrap();
            let two = lines.next_line().await.unwrap().unwrap();
            (one, two)
        };
        let ((), (one, two)) = tokio::join!(writer, reader);
        assert_eq!((one.as_str(), two.as_str()), ("first", "second"));
    }

    #[tokio::test]
    async fn udp_lines_reach_the_listener() {
        let listener = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let sink =
            SocketSink::new(&options(&[("address", &address), ("socket_type", "udp")])).unwrap();
        sink.write(b"datagram\n".to_vec()).await.unwrap();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"datagram\n");
    }

    #[tokio::test]
    async fn unix_lines_reach_the_listener_and_reload_reconnects() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.sock");
        let listener = UnixListener::bind(&path).unwrap();
        assert!(is_socket(&path));
        let sink = SocketSink::new(&options(&[
            ("address", path.to_str().unwrap()),
            ("socket_type", "unix"),
        ]))
        .unwrap();
        sink.write(b"over unix\n".to_vec()).await.unwrap();
        let (first, _) = listener.accept().await.unwrap();
        let mut lines = BufReader::new(first).lines();
        assert_eq!(lines.next_line().await.unwrap().unwrap(), "over unix");

        sink.reload().await.unwrap();
        sink.write(b"after reload\n".to_vec()).await.unwrap();
        let (second, _) = listener.accept().await.unwrap();
        let mut lines2 = BufReader::new(second).lines();
        assert_eq!(lines2.next_line().await.unwrap().unwrap(), "after reload");
        // The old connection was closed by the reload.
        assert_eq!(lines.next_line().await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_closed_port_gives_go_s_two_errors() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        drop(listener);
        let sink = SocketSink::new(&options(&[("address", &address)])).unwrap();
        let dial = format!("dial tcp {address}: connect: connection refused");
        assert_eq!(
            io_error(sink.write(b"x\n".to_vec()).await),
            format!("2 errors occurred:\n\t* {dial}\n\t* {dial}\n\n")
        );
    }

    #[tokio::test]
    async fn an_unknown_network_fails_each_dial() {
        let sink = SocketSink::new(&options(&[
            ("address", "127.0.0.1:1"),
            ("socket_type", "bogus"),
        ]))
        .unwrap();
        let dial = "dial bogus: unknown network bogus";
        assert_eq!(
            io_error(sink.write(b"x\n".to_vec()).await),
            format!("2 errors occurred:\n\t* {dial}\n\t* {dial}\n\n")
        );
    }

    #[test]
    fn option_errors_have_openbao_texts() {
        let text = |opts: &[(&str, &str)]| match SocketSink::new(&options(opts)) {
            Err(AuditError::Config(text)) => text,
            _ => panic!("accepted"),
        };
        assert_eq!(text(&[("socket_type", "tcp")]), "address is required");
        assert_eq!(
            text(&[("address", "127.0.0.1:1"), ("write_timeout", "zz")]),
            r#"time: invalid duration "zz""#
        );
        let sink =
            SocketSink::new(&options(&[("address", "x:1"), ("write_timeout", "3")])).unwrap();
        assert_eq!(sink.write_timeout(), Duration::from_secs(3));
    }

    #[tokio::test]
    async fn a_peer_that_never_reads_fails_the_write_after_the_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let sink = SocketSink::new(&options(&[
            ("address", &address),
            ("write_timeout", "200ms"),
        ]))
        .unwrap();
        // Accept and hold every connection without reading it.
        let holder = tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                held.push(stream);
            }
        });
        let line = vec![b'x'; 64 << 20];
        let started = std::time::Instant::now();
        let result = tokio::time::timeout(Duration::from_secs(10), sink.write(line.clone()))
            .await
            .expect("the write hung");
        let elapsed = started.elapsed();
        let text = io_error(result);
        assert!(text.starts_with("write tcp 127.0.0.1:"), "{text}");
        assert!(text.ends_with(": i/o timeout"), "{text}");
        assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
        assert!(
            sink.connection.lock().await.is_none(),
            "the connection was kept"
        );
        holder.abort();
    }
}
