//! CIDR blocks as Vault's `token_bound_cidrs`, `secret_id_bound_cidrs` and `cidr_list` take
//! them: parsed as go-sockaddr's `NewSockAddr` does (an address alone is a full mask), shown as
//! it prints them, and matched against a client's address as `cidrutil.RemoteAddrIsOk` does.

use std::fmt;
use std::net::IpAddr;

/// One parsed block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cidr {
    /// An IPv4 or IPv6 address with its prefix length (the address as given, not masked).
    Ip {
        /// The address as written.
        addr: IpAddr,
        /// Prefix length (32 or 128 for an address alone).
        prefix: u8,
    },
    /// What go-sockaddr takes for a UNIX socket path (text with a `/` that is no address): it
    /// is accepted, as OpenBao accepts it, and matches no client.
    Unix(String),
}

impl Cidr {
    /// Parses one block: `10.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let unable =
            || format!("Unable to convert {s:?} to an IPv4 or IPv6 address, or a UNIX Socket");
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, bits)) => (ip, Some(bits)),
            None => (s, None),
        };
        let parsed = ip.parse::<IpAddr>().ok().and_then(|addr| {
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                None => max,
                Some(b) => b.parse::<u8>().ok().filter(|b| *b <= max)?,
            };
            Some(Cidr::Ip { addr, prefix })
        });
        match parsed {
            Some(c) => Ok(c),
            None if s.len() > 1 && (s.starts_with(['.', '/']) || s.contains('/')) => {
                Ok(Cidr::Unix(s.to_string()))
            }
            None => Err(unable()),
        }
    }

    /// Whether `ip` lies in the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let Cidr::Ip { addr, prefix } = self else {
            return false;
        };
        match (addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => masked(u32::from(*a).into(), *prefix, 32)
                .eq(&masked(u32::from(b).into(), *prefix, 32)),
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                masked(u128::from(*a), *prefix, 128) == masked(u128::from(b), *prefix, 128)
            }
            (IpAddr::V4(a), IpAddr::V6(b)) => b.to_ipv4_mapped().is_some_and(|b| {
                masked(u32::from(*a).into(), *prefix, 32)
                    == masked(u32::from(b).into(), *prefix, 32)
            }),
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

fn masked(v: u128, prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let shift = u32::from(width - prefix.min(width));
    (v >> shift) << shift
}

impl fmt::Display for Cidr {
    /// go-sockaddr's text: the address alone for a full mask, else `addr/prefix`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cidr::Ip { addr, prefix } => {
                let full = if addr.is_ipv4() { 32 } else { 128 };
                if *prefix == full {
                    write!(f, "{addr}")
                } else {
                    write!(f, "{addr}/{prefix}")
                }
            }
            Cidr::Unix(p) => f.write_str(p),
        }
    }
}

/// Parses every block (parseutil's `ParseAddrs`): the first bad one fails with
/// `error parsing address "<a>": <reason>`.
pub fn parse_addrs<S: AsRef<str>>(addrs: &[S]) -> Result<Vec<Cidr>, String> {
    addrs
        .iter()
        .map(|a| {
            let a = a.as_ref().trim();
            Cidr::parse(a).map_err(|e| format!("error parsing address {a:?}: {e}"))
        })
        .collect()
}

/// Parses blocks and gives them back in go-sockaddr's text, as a record stores them.
pub fn normalize<S: AsRef<str>>(addrs: &[S]) -> Result<Vec<String>, String> {
    Ok(parse_addrs(addrs)?.iter().map(Cidr::to_string).collect())
}

/// Whether a client at `remote_addr` may use something bound to `cidrs` (stored text): always
/// when `cidrs` is empty; never when the address does not parse or a block is invalid.
pub fn remote_addr_is_ok<S: AsRef<str>>(remote_addr: &str, cidrs: &[S]) -> bool {
    if cidrs.is_empty() {
        return true;
    }
    let Ok(ip) = remote_addr.parse::<IpAddr>() else {
        return false;
    };
    cidrs
        .iter()
        .filter_map(|c| Cidr::parse(c.as_ref()).ok())
        .any(|c| c.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_as_go_sockaddr() {
        assert_eq!(Cidr::parse("10.0.0.1").unwrap().to_string(), "10.0.0.1");
        assert_eq!(Cidr::parse("10.0.0.1/32").unwrap().to_string(), "10.0.0.1");
        assert_eq!(Cidr::parse("10.1.2.3/8").unwrap().to_string(), "10.1.2.3/8");
        assert_eq!(Cidr::parse("fd00::/8").unwrap().to_string(), "fd00::/8");
        assert_eq!(
            Cidr::parse("bogus").unwrap_err(),
            "Unable to convert \"bogus\" to an IPv4 or IPv6 address, or a UNIX Socket"
        );
        assert!(Cidr::parse("10.0.0.0/33").is_ok_and(|c| matches!(c, Cidr::Unix(_))));
        assert_eq!(
            parse_addrs(&["127.0.0.1", "nope"]).unwrap_err(),
            "error parsing address \"nope\": Unable to convert \"nope\" to an IPv4 or IPv6 address, or a UNIX Socket"
        );
    }

    #[test]
    fn matches_addresses() {
        assert!(remote_addr_is_ok::<&str>("1.2.3.4", &[]));
        assert!(remote_addr_is_ok("10.9.8.7", &["10.0.0.0/8"]));
        assert!(!remote_addr_is_ok("11.9.8.7", &["10.0.0.0/8"]));
        assert!(remote_addr_is_ok("127.0.0.1", &["127.0.0.1"]));
        assert!(!remote_addr_is_ok("127.0.0.2", &["127.0.0.1"]));
        assert!(remote_addr_is_ok("::1", &["::1/128"]));
        assert!(remote_addr_is_ok("::ffff:10.0.0.1", &["10.0.0.0/24"]));
        assert!(remote_addr_is_ok("0.0.0.1", &["0.0.0.0/0"]));
        assert!(!remote_addr_is_ok("garbage", &["0.0.0.0/0"]));
        assert!(!remote_addr_is_ok("10.0.0.1", &["/tmp/sock"]));
    }
}
