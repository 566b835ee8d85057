//! The logical operations a request can carry, as Vault names them.

use std::fmt;

/// What a request asks of a path. The HTTP layer derives it from the method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// Create a new entry (POST/PUT when the existence check says the entry is absent).
    Create,
    /// Read an entry (GET).
    Read,
    /// Update an entry (POST/PUT).
    Update,
    /// Partially update an entry (PATCH).
    Patch,
    /// Delete an entry (DELETE).
    Delete,
    /// List children (LIST, or GET with `?list=true`).
    List,
    /// Return the help text of a path (GET with `?help=1`).
    Help,
    /// Renew a lease or a token (internal, issued by the core).
    Renew,
    /// Revoke a lease (internal, issued by the core).
    Revoke,
    /// Periodic roll-back hook (internal).
    Rollback,
    /// Resolve the role of a login request (internal).
    ResolveRole,
    /// Look ahead for an alias on login (internal).
    AliasLookahead,
}

impl Operation {
    /// The name Vault uses for the operation (`"read"`, `"update"`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Read => "read",
            Operation::Update => "update",
            Operation::Patch => "patch",
            Operation::Delete => "delete",
            Operation::List => "list",
            Operation::Help => "help",
            Operation::Renew => "renew",
            Operation::Revoke => "revoke",
            Operation::Rollback => "rollback",
            Operation::ResolveRole => "resolve-role",
            Operation::AliasLookahead => "alias-lookahead",
        }
    }

    /// Parses a Vault operation name.
    pub fn parse(s: &str) -> Option<Operation> {
        Some(match s {
            "create" => Operation::Create,
            "read" => Operation::Read,
            "update" => Operation::Update,
            "patch" => Operation::Patch,
            "delete" => Operation::Delete,
            "list" => Operation::List,
            "help" => Operation::Help,
            "renew" => Operation::Renew,
            "revoke" => Operation::Revoke,
            "rollback" => Operation::Rollback,
            "resolve-role" => Operation::ResolveRole,
            "alias-lookahead" => Operation::AliasLookahead,
            _ => return None,
        })
    }

    /// True for operations that may change state (used by audit and by read-only checks).
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Operation::Create
                | Operation::Update
                | Operation::Patch
                | Operation::Delete
                | Operation::Revoke
                | Operation::Renew
        )
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for op in [
            Operation::Create,
            Operation::Read,
            Operation::Update,
            Operation::Patch,
            Operation::Delete,
            Operation::List,
            Operation::Help,
            Operation::Renew,
            Operation::Revoke,
            Operation::Rollback,
            Operation::ResolveRole,
            Operation::AliasLookahead,
        ] {
            assert_eq!(Operation::parse(op.as_str()), Some(op));
        }
        assert_eq!(Operation::parse("bogus"), None);
    }
}
