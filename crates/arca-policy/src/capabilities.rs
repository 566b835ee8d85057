//! The capability bit set a path rule grants (`read`, `list`, `deny`, ...).

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign};

/// A set of capabilities, stored as bits (the same bit values OpenBao uses internally).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Capabilities(u32);

/// Every named capability, in the order `sys/capabilities` lists them (alphabetical).
const NAMED: &[(Capabilities, &str)] = &[
    (Capabilities::CREATE, "create"),
    (Capabilities::DELETE, "delete"),
    (Capabilities::LIST, "list"),
    (Capabilities::PATCH, "patch"),
    (Capabilities::READ, "read"),
    (Capabilities::SCAN, "scan"),
    (Capabilities::SUBSCRIBE, "subscribe"),
    (Capabilities::SUDO, "sudo"),
    (Capabilities::UPDATE, "update"),
];

impl Capabilities {
    /// No capability at all (what an unmatched path has).
    pub const NONE: Capabilities = Capabilities(0);
    /// `deny`: wins over everything else, including `sudo`.
    pub const DENY: Capabilities = Capabilities(1 << 0);
    /// `create` (POST/PUT on a path that does not exist yet).
    pub const CREATE: Capabilities = Capabilities(1 << 1);
    /// `read` (GET).
    pub const READ: Capabilities = Capabilities(1 << 2);
    /// `update` (POST/PUT on an existing path; also renew, revoke and rollback).
    pub const UPDATE: Capabilities = Capabilities(1 << 3);
    /// `delete` (DELETE).
    pub const DELETE: Capabilities = Capabilities(1 << 4);
    /// `list` (LIST, or GET with `?list=true`).
    pub const LIST: Capabilities = Capabilities(1 << 5);
    /// `sudo`: access to root-protected paths.
    pub const SUDO: Capabilities = Capabilities(1 << 6);
    /// `patch` (PATCH).
    pub const PATCH: Capabilities = Capabilities(1 << 7);
    /// `scan`: OpenBao's recursive listing.
    pub const SCAN: Capabilities = Capabilities(1 << 8);
    /// Vault's `subscribe` (event subscriptions). OpenBao 2.7.2 rejects it in policies, so
    /// the parser never sets it; it exists so a caller can name the bit.
    pub const SUBSCRIBE: Capabilities = Capabilities(1 << 9);
    /// Marker for the `root` policy: everything is allowed.
    pub const ROOT: Capabilities = Capabilities(1 << 31);

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// A set from raw bits (unknown bits are kept as given).
    pub const fn from_bits(bits: u32) -> Capabilities {
        Capabilities(bits)
    }

    /// Whether every bit of `other` is set in `self`.
    pub const fn contains(self, other: Capabilities) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }

    /// Whether any bit of `other` is set in `self`.
    pub const fn intersects(self, other: Capabilities) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The capability a policy may name, by its policy-syntax name. `root` and `subscribe`
    /// are not accepted (OpenBao 2.7.2 rejects both in a policy).
    pub fn from_policy_name(name: &str) -> Option<Capabilities> {
        match name {
            "deny" => Some(Capabilities::DENY),
            "create" => Some(Capabilities::CREATE),
            "read" => Some(Capabilities::READ),
            "update" => Some(Capabilities::UPDATE),
            "delete" => Some(Capabilities::DELETE),
            "list" => Some(Capabilities::LIST),
            "sudo" => Some(Capabilities::SUDO),
            "patch" => Some(Capabilities::PATCH),
            "scan" => Some(Capabilities::SCAN),
            _ => None,
        }
    }

    /// The names as `sys/capabilities` returns them: `["root"]` for root, `["deny"]` when
    /// `deny` is set or nothing is, otherwise the granted names in alphabetical order
    /// (OpenBao sorts them, e.g. `["create","delete","list","read","sudo","update"]`).
    pub fn names(&self) -> Vec<&'static str> {
        if self.intersects(Capabilities::ROOT) {
            return vec!["root"];
        }
        if self.intersects(Capabilities::DENY) {
            return vec!["deny"];
        }
        let names: Vec<&'static str> = NAMED
            .iter()
            .filter(|(cap, _)| self.intersects(*cap))
            .map(|(_, name)| *name)
            .collect();
        if names.is_empty() {
            vec!["deny"]
        } else {
            names
        }
    }

    /// Each single-bit capability set in `self` (deny and root included).
    pub(crate) fn single_bits(self) -> impl Iterator<Item = Capabilities> {
        (0..32)
            .map(|bit| Capabilities(1 << bit))
            .filter(move |cap| self.intersects(*cap))
    }
}

impl BitOr for Capabilities {
    type Output = Capabilities;
    fn bitor(self, rhs: Capabilities) -> Capabilities {
        Capabilities(self.0 | rhs.0)
    }
}

impl BitOrAssign for Capabilities {
    fn bitor_assign(&mut self, rhs: Capabilities) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for Capabilities {
    type Output = Capabilities;
    fn bitand(self, rhs: Capabilities) -> Capabilities {
        Capabilities(self.0 & rhs.0)
    }
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("Capabilities(none)");
        }
        write!(f, "Capabilities({})", self.names().join("|"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_sys_capabilities() {
        let c = Capabilities::CREATE;
        let cases: &[(Capabilities, &[&str])] = &[
            (Capabilities::NONE, &["deny"]),
            (Capabilities::DENY, &["deny"]),
            (Capabilities::DENY | Capabilities::READ, &["deny"]),
            (Capabilities::ROOT, &["root"]),
            (Capabilities::ROOT | Capabilities::SUDO, &["root"]),
            (Capabilities::READ, &["read"]),
            (
                c | Capabilities::READ
                    | Capabilities::UPDATE
                    | Capabilities::DELETE
                    | Capabilities::LIST
                    | Capabilities::SUDO,
                &["create", "delete", "list", "read", "sudo", "update"],
            ),
            (
                Capabilities::SCAN | Capabilities::PATCH | Capabilities::READ,
                &["patch", "read", "scan"],
            ),
        ];
        for (caps, want) in cases {
            assert_eq!(caps.names(), *want, "{caps:?}");
        }
    }

    #[test]
    fn policy_names_map_to_bits() {
        let cases: &[(&str, Option<Capabilities>)] = &[
            ("deny", Some(Capabilities::DENY)),
            ("create", Some(Capabilities::CREATE)),
            ("read", Some(Capabilities::READ)),
            ("update", Some(Capabilities::UPDATE)),
            ("delete", Some(Capabilities::DELETE)),
            ("list", Some(Capabilities::LIST)),
            ("sudo", Some(Capabilities::SUDO)),
            ("patch", Some(Capabilities::PATCH)),
            ("scan", Some(Capabilities::SCAN)),
            ("subscribe", None),
            ("root", None),
            ("READ", None),
            ("write", None),
        ];
        for (name, want) in cases {
            assert_eq!(Capabilities::from_policy_name(name), *want, "{name}");
        }
    }

    #[test]
    fn bit_operations() {
        let rl = Capabilities::READ | Capabilities::LIST;
        assert!(rl.contains(Capabilities::READ));
        assert!(!rl.contains(Capabilities::READ | Capabilities::UPDATE));
        assert!(rl.intersects(Capabilities::READ | Capabilities::UPDATE));
        assert!(!rl.contains(Capabilities::NONE));
        assert_eq!(rl.single_bits().count(), 2);
        assert_eq!(Capabilities::from_bits(rl.bits()), rl);
    }
}
