//! Arca's builtin auth methods, each a module written against `arca-sdk` only: `userpass`
//! (humans: a user name and a bcrypt-hashed password) and `approle` (machines: a role ID and
//! secret IDs stored as HMACs). A login answers with an `Auth`; the core turns it into a token.

use arca_sdk::Factory;

pub mod approle;
pub mod userpass;

/// Every builtin auth method, by type name, for the binary's backend registry.
pub fn builtin_auth() -> Vec<(&'static str, Factory)> {
    vec![
        ("userpass", userpass::factory()),
        ("approle", approle::factory()),
    ]
}
