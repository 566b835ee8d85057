//! CIDR blocks as AppRole's `secret_id_bound_cidrs` and `cidr_list` take them: strictly as Go's
//! `net.ParseCIDR` does (a mask is required), with OpenBao's `cidrutil` checks and texts.
//! (`token_bound_cidrs` goes through `arca_sdk::cidr` instead, as OpenBao's `ParseAddrs`.)

use std::net::IpAddr;

/// A parsed block: the address as written and its prefix length.
#[derive(Debug, Clone, Copy)]
pub(super) struct Block {
    addr: IpAddr,
    prefix: u8,
}

impl Block {
    /// Go's `net.ParseCIDR`: `invalid CIDR address: <s>` when it is not `addr/prefix`.
    pub(super) fn parse(s: &str) -> Result<Block, String> {
        let bad = || format!("invalid CIDR address: {s}");
        let (ip, mask) = s.split_once('/').ok_or_else(bad)?;
        let addr: IpAddr = ip.parse().map_err(|_| bad())?;
        if mask.is_empty() || !mask.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = mask.parse().ok().filter(|p| *p <= max).ok_or_else(bad)?;
        Ok(Block { addr, prefix })
    }

    fn width(&self) -> u8 {
        if self.addr.is_ipv4() { 32 } else { 128 }
    }

    fn bits(ip: IpAddr) -> u128 {
        match ip {
            IpAddr::V4(a) => u128::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a),
        }
    }

    fn mask(v: u128, prefix: u8, width: u8) -> u128 {
        if prefix == 0 {
            return 0;
        }
        let shift = u32::from(width - prefix.min(width));
        (v >> shift) << shift
    }

    /// The network address (the address with the host bits cleared).
    fn network(&self) -> IpAddr {
        let v = Self::mask(Self::bits(self.addr), self.prefix, self.width());
        match self.addr {
            // The value fits 32 bits: it came from one and was only shifted.
            IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::from(v as u32)),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::from(v)),
        }
    }

    /// Go's `IPNet.Contains`: an IPv4 (or IPv4-mapped) address in an IPv4 block, IPv6 in IPv6.
    fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        if ip.is_ipv4() != self.addr.is_ipv4() {
            return false;
        }
        let w = self.width();
        Self::mask(Self::bits(ip), self.prefix, w)
            == Self::mask(Self::bits(self.addr), self.prefix, w)
    }

    fn is_zero_addr(&self) -> bool {
        match self.addr {
            IpAddr::V4(a) => a.is_unspecified(),
            IpAddr::V6(a) => a.is_unspecified(),
        }
    }
}

/// `cidrutil.ValidateCIDRListSlice`: every block parses (the first error otherwise).
pub(super) fn validate_list(blocks: &[String]) -> Result<(), String> {
    for b in blocks {
        Block::parse(b.trim())?;
    }
    Ok(())
}

/// `cidrutil.IPBelongsToCIDRBlocksSlice`.
pub(super) fn ip_belongs_to_blocks(ip: &str, blocks: &[String]) -> Result<bool, String> {
    if ip.is_empty() {
        return Err("missing IP address".into());
    }
    if blocks.is_empty() {
        return Err("missing CIDR blocks to be checked against".into());
    }
    let addr: IpAddr = ip.parse().map_err(|_| "invalid IP address".to_string())?;
    for b in blocks {
        if Block::parse(b)?.contains(addr) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `cidrutil.Subset`: whether `inner` lies within `outer`.
fn subset(outer: &str, inner: &str) -> Result<bool, String> {
    let o = Block::parse(outer)
        .map_err(|e| format!("failed to parse the CIDR to be checked against: {e}"))?;
    if !o.is_zero_addr() && o.prefix == 0 {
        return Err("CIDR to be checked against is not in its canonical form".into());
    }
    let i = Block::parse(inner)
        .map_err(|e| format!("failed to parse the CIDR that needs to be checked: {e}"))?;
    if !i.is_zero_addr() && i.prefix == 0 {
        return Err("CIDR that needs to be checked is not in its canonical form".into());
    }
    if i.prefix < o.prefix {
        return Ok(false);
    }
    Ok(o.contains(i.network()))
}

/// `cidrutil.SubsetBlocks`: every block of `inner` lies within some block of `outer`.
fn subset_blocks(outer: &[String], inner: &[String]) -> Result<bool, String> {
    if outer.is_empty() {
        return Err("missing CIDR blocks to be checked against".into());
    }
    if inner.is_empty() {
        return Err("missing CIDR blocks that needs to be checked".into());
    }
    for i in inner {
        let mut found = false;
        for o in outer {
            if subset(o, i)? {
                found = true;
                break;
            }
        }
        if !found {
            return Ok(false);
        }
    }
    Ok(true)
}

/// OpenBao's `verifyCIDRRoleSecretIDSubset`: the secret ID's blocks lie within the role's
/// (always when either is empty). Blocks of the role without a mask count as `/32`, as OpenBao
/// counts them; the text is OpenBao's, `%!w(<nil>)` included when nothing failed to parse.
pub(super) fn verify_subset(
    secret_id_cidrs: &[String],
    role_cidrs: &[String],
) -> Result<(), String> {
    if secret_id_cidrs.is_empty() || role_cidrs.is_empty() {
        return Ok(());
    }
    let role: Vec<String> = role_cidrs
        .iter()
        .map(|b| {
            if b.contains('/') {
                b.clone()
            } else {
                format!("{b}/32")
            }
        })
        .collect();
    let (ok, err) = match subset_blocks(&role, secret_id_cidrs) {
        Ok(ok) => (ok, "%!w(<nil>)".to_string()),
        Err(e) => (false, e),
    };
    if ok {
        return Ok(());
    }
    Err(format!(
        "failed to verify subset relationship between CIDR blocks on the role {} and CIDR blocks on the secret ID {}: {err}",
        super::go_quote_list(&role),
        super::go_quote_list(secret_id_cidrs),
    ))
}
