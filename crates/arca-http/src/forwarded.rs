//! `X-Forwarded-For` from trusted proxies (Vault's `x_forwarded_for_*` listener options, its
//! `wrapForwardedForHandler`): when the peer is authorized, the address the chain names (after
//! `hop_skips` from its end) becomes the client's address — the one audit records, token
//! `bound_cidrs` and login CIDR checks see.

use std::net::IpAddr;

use arca_sdk::Connection;
use arca_sdk::cidr::Cidr;
use hyper::StatusCode;
use hyper::header::HeaderMap;

use crate::envelope::{self, Answer};
use crate::header_names::X_FORWARDED_FOR;

/// A listener's `x_forwarded_for_*` settings; no authorized address turns the header off.
#[derive(Debug, Clone, Default)]
pub struct ForwardedFor {
    /// Peers whose header is believed (`x_forwarded_for_authorized_addrs`).
    pub authorized_addrs: Vec<Cidr>,
    /// Addresses skipped from the end of the chain (`x_forwarded_for_hop_skips`).
    pub hop_skips: u64,
    /// Refuse a header from a peer not authorized (`x_forwarded_for_reject_not_authorized`).
    pub reject_not_authorized: bool,
    /// Refuse a request without the header (`x_forwarded_for_reject_not_present`).
    pub reject_not_present: bool,
    /// The forwarded client certificate's header and decoders.
    pub client_cert: crate::client_cert::ForwardedClientCert,
    /// Keep the certificate headers of a request without the header
    /// (`x_forwarded_for_client_cert_keep_not_forwarded`).
    pub keep_cert_not_forwarded: bool,
    /// Keep the certificate headers of a request from a peer not authorized
    /// (`x_forwarded_for_client_cert_keep_unauthorized`).
    pub keep_cert_unauthorized: bool,
}

/// What to do with a request.
pub(crate) enum Verdict {
    /// Serve it with the peer's own address (the header, if any, was removed).
    Peer,
    /// Serve it as coming from this address.
    Client(String),
    /// Answer this instead.
    Refuse(Answer),
}

impl ForwardedFor {
    /// Whether the header is honoured at all.
    pub(crate) fn enabled(&self) -> bool {
        !self.authorized_addrs.is_empty()
    }

    /// Vault's rules for one request from `peer`; an untrusted header is removed from
    /// `headers` so nothing later believes it.
    pub(crate) fn check(&self, peer: &Connection, headers: &mut HeaderMap) -> Verdict {
        let values: Vec<String> = headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        if values.is_empty() {
            if self.reject_not_present {
                return Verdict::Refuse(refuse(
                    "missing x-forwarded-for header and configured to reject when not present",
                ));
            }
            // Not from a proxy: a forwarded certificate is not believed either.
            if !self.keep_cert_not_forwarded {
                self.client_cert.strip(headers);
            }
            return Verdict::Peer;
        }
        let Ok(addr) = peer.remote_addr.parse::<IpAddr>() else {
            if self.reject_not_present {
                return Verdict::Refuse(refuse(&format!(
                    "error parsing client address: Unable to convert {:?} to an IPv4 or IPv6 address",
                    peer.remote_addr
                )));
            }
            return Verdict::Peer;
        };
        if !self.authorized_addrs.iter().any(|c| c.contains(addr)) {
            if self.reject_not_authorized {
                return Verdict::Refuse(refuse(
                    "client address not authorized for x-forwarded-for and configured to reject connection",
                ));
            }
            headers.remove(&X_FORWARDED_FOR);
            if !self.keep_cert_unauthorized {
                self.client_cert.strip(headers);
            }
            return Verdict::Peer;
        }
        let chain: Vec<&str> = values
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let index =
            i128::try_from(chain.len()).unwrap_or(i128::MAX) - 1 - i128::from(self.hop_skips);
        match usize::try_from(index).ok().and_then(|i| chain.get(i)) {
            Some(client) => Verdict::Client((*client).to_owned()),
            None => Verdict::Refuse(refuse(&format!(
                "malformed x-forwarded-for configuration or request, hops to skip ({}) would skip before earliest chain link (chain length {})",
                self.hop_skips,
                values.len()
            ))),
        }
    }
}

/// Vault answers these outside its generic wrapper: a bare JSON error, 400.
fn refuse(message: &str) -> Answer {
    envelope::bare_error(StatusCode::BAD_REQUEST, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(addr: &str) -> Connection {
        Connection {
            remote_addr: addr.into(),
            remote_port: 5000,
            peer_certificates: Vec::new(),
        }
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(X_FORWARDED_FOR.clone(), v.parse().unwrap());
        }
        h
    }

    fn opts(skips: u64) -> ForwardedFor {
        ForwardedFor {
            authorized_addrs: vec![Cidr::parse("127.0.0.0/8").unwrap()],
            hop_skips: skips,
            reject_not_authorized: true,
            reject_not_present: false,
            ..ForwardedFor::default()
        }
    }

    #[test]
    fn the_chain_is_read_from_its_end() {
        let mut h = xff(&["1.1.1.1, 2.2.2.2", "3.3.3.3"]);
        match opts(0).check(&conn("127.0.0.1"), &mut h) {
            Verdict::Client(c) => assert_eq!(c, "3.3.3.3"),
            _ => panic!("expected a client"),
        }
        match opts(2).check(&conn("127.0.0.1"), &mut h) {
            Verdict::Client(c) => assert_eq!(c, "1.1.1.1"),
            _ => panic!("expected a client"),
        }
        assert!(matches!(
            opts(3).check(&conn("127.0.0.1"), &mut h),
            Verdict::Refuse(_)
        ));
    }

    #[test]
    fn an_unauthorized_peer_is_refused_or_ignored() {
        let mut h = xff(&["9.9.9.9"]);
        assert!(matches!(
            opts(0).check(&conn("10.0.0.1"), &mut h),
            Verdict::Refuse(_)
        ));
        let mut lenient = opts(0);
        lenient.reject_not_authorized = false;
        assert!(matches!(
            lenient.check(&conn("10.0.0.1"), &mut h),
            Verdict::Peer
        ));
        assert!(h.get(&X_FORWARDED_FOR).is_none());
    }
}
