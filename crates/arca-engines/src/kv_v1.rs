//! KV version 1: one unversioned JSON object per key.
//!
//! Storage layout (inside the mount's view): each secret at its own path, as a plain record
//! `{"v": 1, "data": {...}}` (see `record`). A read carries a non-renewable lease whose TTL is the
//! value's `ttl` (or `lease`) field when it parses, else the mount's default lease TTL.

use std::sync::Arc;

use arca_sdk::duration::parse_duration_value;
use arca_sdk::{
    Backend, BackendType, ExistenceCheck, LeaseOptions, LogicalError, Operation, Request, Response,
    Secret, SpecialPaths, SystemView,
};
use async_trait::async_trait;

use crate::EngineError;
use crate::passthrough::{as_dir, help_response, list, not_found, read, write};

const HELP: &str = "The KV backend reads and writes arbitrary secrets to the backend.\n\n\
Any key/value pairs given are stored as the secret at the path; a read returns them as written.";

/// A KV v1 mount.
pub(crate) struct KvV1Backend {
    system: Arc<dyn SystemView>,
}

impl KvV1Backend {
    /// A backend whose default lease TTL comes from `system`.
    pub(crate) fn new(system: Arc<dyn SystemView>) -> KvV1Backend {
        KvV1Backend { system }
    }

    fn lease_for(&self, data: &arca_sdk::JsonMap) -> std::time::Duration {
        let raw = data.get("ttl").or_else(|| data.get("lease"));
        raw.and_then(|v| parse_duration_value(v).ok())
            .unwrap_or_else(|| self.system.default_lease_ttl())
    }
}

#[async_trait]
impl Backend for KvV1Backend {
    async fn handle_request(&self, req: Request) -> Result<Option<Response>, LogicalError> {
        if req.operation == Operation::Help {
            return Ok(Some(help_response(
                &req,
                HELP,
                "Pass-through secret storage to the storage backend, allowing you to \
                 read/write arbitrary data into secret storage.",
            )));
        }
        let storage = req.storage()?.clone();
        let path = req.path.as_str();
        match req.operation {
            Operation::Read => {
                let Some(data) = read(storage.as_ref(), path).await? else {
                    return Err(not_found());
                };
                let ttl = self.lease_for(&data);
                let mut resp = Response::with_data(data);
                resp.secret = Some(Secret {
                    lease: LeaseOptions {
                        ttl,
                        renewable: false,
                        ..LeaseOptions::default()
                    },
                    ..Secret::default()
                });
                Ok(Some(resp))
            }
            Operation::Create | Operation::Update => {
                if path.is_empty() || path.ends_with('/') {
                    return Err(EngineError::TrailingSlash.into());
                }
                if req.data.is_empty() {
                    return Err(EngineError::MissingDataFields.into());
                }
                write(storage.as_ref(), path, &req.data).await?;
                Ok(None)
            }
            Operation::Delete => {
                storage.delete(path).await?;
                Ok(None)
            }
            Operation::List => list(storage.as_ref(), &as_dir(path)).await,
            _ => Err(LogicalError::UnsupportedOperation),
        }
    }

    async fn handle_existence_check(&self, req: &Request) -> Result<ExistenceCheck, LogicalError> {
        let storage = req.storage()?;
        let exists = storage.get(&req.path).await?.is_some();
        Ok(ExistenceCheck {
            check_found: true,
            exists,
        })
    }

    fn special_paths(&self) -> SpecialPaths {
        SpecialPaths::default()
    }

    fn backend_type(&self) -> BackendType {
        BackendType::Logical
    }
}
