//! Vault/OpenBao external backend plugins over go-plugin's gRPC protocol (app version 5).
//!
//! The plugin side ([`serve`]) lets a backend written with `arca-sdk` run as a plugin binary
//! that OpenBao, Vault or Arca can mount; the host side ([`external_factory`]) lets Arca mount
//! such a binary, whatever language it is written in.
//!
//! Database plugins (OpenBao's `dbplugin` protocol 5) run on the same launcher and
//! handshake code: [`database::DatabasePluginClient`] starts and calls one,
//! [`database::serve_database`] serves a [`database::DatabasePlugin`] as a plugin binary.

pub mod convert;
pub mod database;
pub mod error;
pub mod handshake;
pub mod host;
mod host_process;
pub mod host_services;
pub mod proto;
pub mod remote;
mod rpc;
pub mod runtime;
pub mod serve;
pub mod tls;
pub mod transport;

pub use error::PluginError;
pub use host::{ExternalBackend, PluginLauncher, external_factory, sha256_file};
pub use runtime::ExternalPluginRuntime;
pub use serve::{run, serve};
