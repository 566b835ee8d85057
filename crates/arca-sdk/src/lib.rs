//! The framework every Arca backend is written in: requests, responses, errors, the storage and
//! system views a backend sees, and the path framework that turns a list of typed path patterns
//! into a [`Backend`].
//!
//! Nothing here knows the server: a builtin engine and an external plugin are both written
//! against this crate only.

pub mod b64;
pub mod backend;
pub mod body_stream;
pub mod cidr;
pub mod duration;
pub mod envelope;
pub mod error;
pub mod framework;
pub mod glob;
pub mod go_time;
pub mod hashing;
pub mod http_settings;
pub mod namespace;
pub mod number;
pub mod operation;
pub mod plugin_catalog;
pub mod random;
pub mod redact;
pub mod request;
pub mod response;
pub mod storage;
pub mod system_view;
pub mod token_util;
pub mod username_template;

pub use backend::{Backend, BackendConfig, BackendType, ExistenceCheck, Factory, SpecialPaths};
pub use error::LogicalError;
pub use operation::Operation;
pub use request::{Connection, Request, RequestWrapInfo};
pub use response::{Alias, Auth, LeaseOptions, RawHttp, Response, ResponseWrapInfo, Secret};
pub use storage::{Storage, StorageEntry, StorageError, StorageOp};
pub use system_view::{StaticSystemView, SystemView};

/// A JSON object, the shape of every request body and response `data`.
pub type JsonMap = serde_json::Map<String, serde_json::Value>;
