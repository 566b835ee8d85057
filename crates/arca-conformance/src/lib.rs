//! Conformance harness: runs the same scripted API sequences against Arca (dev mode) and a live
//! OpenBao dev server, and compares status codes and response shapes (keys and value types;
//! ids, tokens and times are values and so never compared).
//!
//! A difference fails unless it matches an entry of the allow-list (`allowlist.txt` in this
//! crate), each of which names a deliberate difference and its reason.
//!
//! - [`servers`]: finding the binaries and starting the two dev servers;
//! - [`script`]: steps, cases and running them on both servers;
//! - [`shape`]: the shape of a JSON value and the differences between two shapes;
//! - [`allowlist`]: the documented deliberate differences.

pub mod allowlist;
pub mod error;
pub mod script;
pub mod servers;
pub mod shape;

pub use error::ConformanceError;
