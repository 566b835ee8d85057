//! Sockets for the plugin link: unix listeners in the temp directory, the TLS-accepting
//! incoming stream a tonic server runs on, and TLS dialing of a unix or TCP address for tonic
//! clients.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixListener, UnixStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint, server::Connected};

use crate::error::PluginError;
use crate::handshake::{Network, SOCKET_DIR_ENV};

/// gRPC message size limit used on both sides (Go's `math.MaxInt32`).
pub const MAX_MESSAGE_SIZE: usize = i32::MAX as usize;

/// A server-side TLS connection over a unix socket, as tonic's server wants it.
pub struct TlsUnixConn(tokio_rustls::server::TlsStream<UnixStream>);

impl Connected for TlsUnixConn {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for TlsUnixConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsUnixConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// A unix listener on a fresh `plugin<digits>` path in `$PLUGIN_UNIX_SOCKET_DIR` or the temp
/// directory, as go-plugin makes them. The caller removes the file when done.
pub fn bind_temp_socket() -> Result<(UnixListener, PathBuf), PluginError> {
    let dir = std::env::var_os(SOCKET_DIR_ENV)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let mut last = None;
    for _ in 0..16 {
        let path = dir.join(format!("plugin{}", rand::random::<u32>()));
        match UnixListener::bind(&path) {
            Ok(l) => return Ok((l, path)),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = Some(e),
            Err(e) => return Err(PluginError::io(format!("listen on {}", path.display()), e)),
        }
    }
    Err(PluginError::io(
        "listen on a temporary unix socket",
        last.unwrap_or_else(|| io::Error::other("no free socket name")),
    ))
}

/// Accepts connections on `listener`, completes the TLS handshake of each on its own task and
/// yields the good ones; failed handshakes are logged and dropped.
pub fn tls_incoming(
    listener: UnixListener,
    config: Arc<rustls::ServerConfig>,
) -> ReceiverStream<Result<TlsUnixConn, io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "plugin socket accept failed");
                    break;
                }
            };
            if tx.is_closed() {
                break;
            }
            let acceptor = acceptor.clone();
            let conn_tx = tx.clone();
            tokio::spawn(async move {
                match acceptor.accept(stream).await {
                    Ok(tls) => {
                        let _ = conn_tx.send(Ok(TlsUnixConn(tls))).await;
                    }
                    Err(e) => tracing::warn!(error = %e, "plugin TLS handshake failed"),
                }
            });
        }
    });
    ReceiverStream::new(rx)
}

/// Dials `address` (unix path or `host:port`) with TLS as client and returns a gRPC channel.
/// The server name is `localhost`, as go-plugin's certificates name it.
pub async fn dial(
    network: Network,
    address: &str,
    config: Arc<rustls::ClientConfig>,
) -> Result<Channel, PluginError> {
    let address = address.to_string();
    let connector = TlsConnector::from(config);
    let endpoint = Endpoint::from_static("http://localhost");
    let channel = endpoint
        .connect_with_connector(tower::service_fn(move |_uri| {
            let address = address.clone();
            let connector = connector.clone();
            async move {
                let name = ServerName::try_from("localhost")
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                match network {
                    Network::Unix => {
                        let s = UnixStream::connect(Path::new(&address)).await?;
                        let tls = connector.connect(name, s).await?;
                        Ok::<_, io::Error>(TokioIo::new(Box::new(tls) as Box<dyn Io>))
                    }
                    Network::Tcp => {
                        let s = TcpStream::connect(&address).await?;
                        let tls = connector.connect(name, s).await?;
                        Ok(TokioIo::new(Box::new(tls) as Box<dyn Io>))
                    }
                }
            }
        }))
        .await?;
    Ok(channel)
}

/// A byte stream a client connection runs on.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}
