//! Vault / OpenBao ACL policies for Arca.
//!
//! * [`parse_policy`] reads a policy from HCL or JSON into a [`Policy`] of [`PathRules`];
//! * [`Acl::new`] merges the rules of a token's policies per path pattern;
//! * [`Acl::allow`] decides one [`AclRequest`], and [`Acl::capabilities`] answers
//!   `sys/capabilities`;
//! * [`default_policy`] and [`root_policy`] are the built-ins;
//! * [`normalize_name`] / [`is_reserved_name`] keep `root` from being reached by another
//!   spelling.
//!
//! The semantics (precedence, merging, parameter and wrapping checks, error texts) follow
//! OpenBao 2.7.2; the crate depends on no other Arca crate.

#![deny(unsafe_code)]
// Tests may unwrap: a panic there is a failed test, not a crashed server.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod acl;
mod builtin;
mod capabilities;
mod document;
mod error;
mod hcl_input;
mod json_input;
mod name;
mod parameters;
mod password;
mod permissions;
mod policy;
mod templating;

pub use acl::{Acl, AclRequest, AclResult, Operation};
pub use builtin::{
    DEFAULT_POLICY_TEXT, RESPONSE_WRAPPING_POLICY_NAME, RESPONSE_WRAPPING_POLICY_TEXT,
    default_policy, root_policy,
};
pub use capabilities::Capabilities;
pub use error::PolicyError;
pub use name::{DEFAULT_POLICY_NAME, ROOT_POLICY_NAME, is_reserved_name, normalize_name};
pub use password::{
    CharsetRule, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, PasswordPolicy, PasswordPolicyError,
};
pub use policy::{PathRules, Policy, parse_policy};
