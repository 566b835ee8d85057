//! The PROXY protocol (v1 text and v2 binary, parsed by the `ppp` crate) in front of a
//! connection, with OpenBao's `proxy_protocol_behavior`: `use_always` believes a header from
//! anyone, `allow_authorized` only from `proxy_protocol_authorized_addrs` (others' headers are
//! read and ignored), `deny_unauthorized` closes connections from anyone else. A header is
//! optional in every mode, as with go-proxyproto's `USE` policy; a malformed one closes the
//! connection.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use arca_sdk::cidr::Cidr;
use ppp::PartialResult;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// How long the header may take to arrive (go-proxyproto's `ReadHeaderTimeout` in OpenBao).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The v1 header starts with this.
const V1_PREFIX: &[u8] = b"PROXY ";
/// The v2 header starts with this signature.
const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
/// The longest v1 header (the specification's 107 bytes).
const V1_MAX: usize = 107;

/// `proxy_protocol_behavior`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    /// `use_always`.
    UseAlways,
    /// `allow_authorized`.
    AllowAuthorized,
    /// `deny_unauthorized`.
    DenyUnauthorized,
}

/// A listener's PROXY protocol settings.
#[derive(Debug, Clone)]
pub struct ProxyProtocol {
    /// What to do with a header.
    pub behavior: Behavior,
    /// The proxies `allow_authorized` and `deny_unauthorized` trust.
    pub authorized_addrs: Vec<Cidr>,
}

/// Why a connection is closed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProxyError {
    /// `deny_unauthorized` and the peer is no authorized proxy.
    #[error("upstream connection not trusted proxy_protocol_behavior is \"deny_unauthorized\"")]
    Untrusted,
    /// The header was malformed, cut short or too slow.
    #[error("invalid PROXY protocol header: {0}")]
    Invalid(String),
}

impl ProxyProtocol {
    /// Reads the header, if any, off `stream` and returns the client's address: the header's
    /// source when it is believed, else `peer`.
    pub(crate) async fn accept(
        &self,
        stream: &mut TcpStream,
        peer: SocketAddr,
    ) -> Result<SocketAddr, ProxyError> {
        let trusted = self.authorized_addrs.iter().any(|c| c.contains(peer.ip()));
        let believe = match self.behavior {
            Behavior::UseAlways => true,
            Behavior::AllowAuthorized => trusted,
            Behavior::DenyUnauthorized if trusted => true,
            Behavior::DenyUnauthorized => return Err(ProxyError::Untrusted),
        };
        let source = tokio::time::timeout(HEADER_TIMEOUT, read_header(stream))
            .await
            .map_err(|_| ProxyError::Invalid("timed out".into()))??;
        Ok(match source {
            Some(addr) if believe => addr,
            _ => peer,
        })
    }
}

/// Reads a PROXY header off the stream if one starts it (nothing else is consumed): the
/// source address it names (`None` for no header, or one that names none: `UNKNOWN`, `LOCAL`).
async fn read_header(stream: &mut TcpStream) -> Result<Option<SocketAddr>, ProxyError> {
    let invalid = |e: std::io::Error| ProxyError::Invalid(e.to_string());
    // Peek until the first bytes decide: a prefix of neither signature is no header.
    let mut probe = [0u8; 12];
    loop {
        let n = stream.peek(&mut probe).await.map_err(invalid)?;
        if n == 0 {
            return Ok(None);
        }
        let seen = &probe[..n];
        let v1 = seen.len() >= V1_PREFIX.len() && seen.starts_with(V1_PREFIX);
        let v2 = seen.len() >= V2_SIGNATURE.len() && seen.starts_with(V2_SIGNATURE);
        if v1 || v2 {
            break;
        }
        let maybe = V1_PREFIX.starts_with(&seen[..n.min(V1_PREFIX.len())])
            || V2_SIGNATURE.starts_with(seen);
        if !maybe {
            return Ok(None);
        }
        // A prefix of a signature so far: wait for more bytes.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut header = Vec::with_capacity(V1_MAX);
    if probe.starts_with(V1_PREFIX) {
        while !header.ends_with(b"\r\n") {
            if header.len() >= V1_MAX {
                return Err(ProxyError::Invalid("v1 header too long".into()));
            }
            header.push(stream.read_u8().await.map_err(invalid)?);
        }
    } else {
        header.resize(16, 0);
        stream.read_exact(&mut header).await.map_err(invalid)?;
        let len = usize::from(u16::from_be_bytes([header[14], header[15]]));
        header.resize(16 + len, 0);
        stream
            .read_exact(&mut header[16..])
            .await
            .map_err(invalid)?;
    }
    let parsed = ppp::HeaderResult::parse(&header);
    if !parsed.is_complete() {
        return Err(ProxyError::Invalid("incomplete header".into()));
    }
    let ip4 = |a: ppp::v1::IPv4| SocketAddr::new(IpAddr::V4(a.source_address), a.source_port);
    let ip6 = |a: ppp::v1::IPv6| SocketAddr::new(IpAddr::V6(a.source_address), a.source_port);
    match parsed {
        ppp::HeaderResult::V1(Ok(h)) => Ok(match h.addresses {
            ppp::v1::Addresses::Tcp4(a) => Some(ip4(a)),
            ppp::v1::Addresses::Tcp6(a) => Some(ip6(a)),
            ppp::v1::Addresses::Unknown => None,
        }),
        ppp::HeaderResult::V2(Ok(h)) => Ok(match (h.command, h.addresses) {
            (ppp::v2::Command::Local, _) => None,
            (_, ppp::v2::Addresses::IPv4(a)) => Some(ip4(a)),
            (_, ppp::v2::Addresses::IPv6(a)) => Some(ip6(a)),
            _ => None,
        }),
        ppp::HeaderResult::V1(Err(e)) => Err(ProxyError::Invalid(e.to_string())),
        ppp::HeaderResult::V2(Err(e)) => Err(ProxyError::Invalid(e.to_string())),
    }
}
