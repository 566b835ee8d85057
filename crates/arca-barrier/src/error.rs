//! The barrier's error type.
//!
//! Messages follow Vault's wording where Vault has one, and never carry key material,
//! plaintext or ciphertext.

use arca_storage::StorageError;

use crate::shamir::ShamirError;

/// Everything that can go wrong inside the barrier, the keyring or the seal's stored keys.
#[derive(Debug, thiserror::Error)]
pub enum BarrierError {
    /// The barrier is sealed: the keyring is not in memory.
    #[error("Vault is sealed")]
    Sealed,
    /// The supplied root or unseal key does not open the stored record.
    #[error("Unseal failed, invalid key")]
    InvalidKey,
    /// `initialize` was called on a barrier whose keyring already exists.
    #[error("Vault is already initialized")]
    AlreadyInitialized,
    /// The keyring (or the stored root key) is absent from physical storage.
    #[error("Vault is not initialized")]
    NotInitialized,
    /// A key given to the barrier has the wrong length (the length is not secret).
    #[error("invalid key length {got}, expected {expected}")]
    InvalidKeyLength {
        /// The length that was supplied.
        got: usize,
        /// The length that is required.
        expected: usize,
    },
    /// A stored value names a key term the keyring does not hold.
    #[error("no key for term {0}")]
    UnknownTerm(u32),
    /// A stored value is not a barrier ciphertext (too short, or an unknown version byte).
    #[error("malformed encrypted value: {0}")]
    Malformed(&'static str),
    /// Authentication failed: the value was tampered with, moved to another path, or
    /// encrypted under another key.
    #[error("failed to decrypt value: message authentication failed")]
    Decrypt,
    /// The cryptographic library or the system random source failed.
    #[error("cryptographic failure: {0}")]
    Crypto(&'static str),
    /// The keyring record could not be encoded or decoded.
    #[error("invalid keyring: {0}")]
    Keyring(String),
    /// The seal configuration is invalid or could not be encoded or decoded.
    #[error("invalid seal configuration: {0}")]
    SealConfig(String),
    /// The path is reserved for the barrier's own records and cannot be written through it.
    #[error("path {0:?} is protected")]
    ProtectedPath(String),
    /// The term counter would overflow.
    #[error("key term exhausted")]
    TermExhausted,
    /// The value lies under a namespace with a seal of its own, which is sealed.
    #[error("namespace is sealed")]
    NamespaceSealed,
    /// Splitting or combining key shares failed.
    #[error(transparent)]
    Shamir(#[from] ShamirError),
    /// The physical backend failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}
