//! Arca's security barrier.
//!
//! Everything Arca persists passes through the [`Barrier`], which encrypts each value with
//! AES-256-GCM (a fresh random 96-bit nonce per write, the storage path bound as associated
//! data, the key term as a prefix) before it reaches the untrusted [`PhysicalBackend`].
//!
//! The key hierarchy follows Vault's:
//! - the data keys live in a [`Keyring`], one per term; the highest term encrypts new writes,
//!   older terms keep decrypting what they wrote ([`Barrier::rotate`]);
//! - the keyring is stored at [`KEYRING_PATH`] encrypted by the *root key*;
//! - the root key is stored at [`ROOT_KEY_PATH`] encrypted by the *unseal key*
//!   ([`seal_keys`]);
//! - the unseal key is split into shares with Shamir's scheme over GF(2^8) ([`shamir`]).
//!
//! Invariant: nothing below this crate sees a plaintext value; every key byte lives in a
//! zeroizing container and no `Debug` output or error message carries key material.
//!
//! [`PhysicalBackend`]: arca_storage::PhysicalBackend

#![deny(unsafe_code)]

pub mod aead;
pub mod barrier;
pub mod error;
pub mod keyring;
pub mod seal_keys;
pub mod shamir;

pub use aead::{KEY_LEN, TermCipher};
pub use barrier::{Barrier, BarrierObserver, BarrierOp, BarrierOpKind, KEYRING_PATH, KeyInfo};
pub use error::BarrierError;
pub use keyring::{Key, Keyring};
pub use seal_keys::{
    RECOVERY_CONFIG_PATH, ROOT_KEY_PATH, SEAL_CONFIG_PATH, SealConfig, generate_key,
    open_root_key_blob, open_with_root_key, read_recovery_config, read_seal_config,
    recover_root_key, store_root_key, write_recovery_config, write_seal_config,
};
pub use shamir::ShamirError;
