//! The cubbyhole: a KV v1 store private to each token.
//!
//! The core puts the token's cubbyhole id in `req.client_token`; every storage key is
//! `<id>/<path>`, stored as a plain record `{"v": 1, "data": {...}}` (see `record`). Reads carry
//! no lease. Destroying a token's cubbyhole (deleting the `<id>/` prefix) is the core's job.

use arca_sdk::{
    Backend, BackendType, ExistenceCheck, LogicalError, Operation, Request, Response, SpecialPaths,
};
use async_trait::async_trait;

use crate::EngineError;
use crate::passthrough::{as_dir, help_response, list, not_found, read, write};

const HELP: &str = "The cubbyhole backend reads and writes arbitrary secrets to the backend.\n\n\
The secrets are encrypted/decrypted by Vault: they are never stored unencrypted and can only \
be read by the token that wrote them. When the token expires, its cubbyhole is destroyed.";

/// The cubbyhole mount.
pub(crate) struct CubbyholeBackend;

impl CubbyholeBackend {
    /// The backend (it keeps no state of its own).
    pub(crate) fn new() -> CubbyholeBackend {
        CubbyholeBackend
    }
}

fn key_of(req: &Request) -> Result<String, LogicalError> {
    let id = req.token();
    if id.is_empty() {
        return Err(EngineError::ClientTokenEmpty.into());
    }
    Ok(format!("{id}/{}", req.path))
}

#[async_trait]
impl Backend for CubbyholeBackend {
    async fn handle_request(&self, req: Request) -> Result<Option<Response>, LogicalError> {
        if req.operation == Operation::Help {
            return Ok(Some(help_response(
                &req,
                HELP,
                "Pass-through secret storage to a token-specific cubbyhole in the storage \
                 backend, allowing you to read/write arbitrary data into secret storage.",
            )));
        }
        let key = key_of(&req)?;
        let storage = req.storage()?.clone();
        let path = req.path.as_str();
        match req.operation {
            Operation::Read => {
                if path.is_empty() {
                    return Err(EngineError::MissingPath.into());
                }
                match read(storage.as_ref(), &key).await? {
                    Some(data) => Ok(Some(Response::with_data(data))),
                    None => Err(not_found()),
                }
            }
            Operation::Create | Operation::Update => {
                if path.is_empty() || path.ends_with('/') {
                    return Err(EngineError::TrailingSlash.into());
                }
                if req.data.is_empty() {
                    // Vault's cubbyhole returns this one as an internal error (500); the
                    // client's mistake gets a 400 with the same text.
                    return Err(LogicalError::invalid_input(EngineError::MissingDataFields));
                }
                write(storage.as_ref(), &key, &req.data).await?;
                Ok(None)
            }
            Operation::Delete => {
                if path.is_empty() {
                    return Err(EngineError::MissingPath.into());
                }
                storage.delete(&key).await?;
                Ok(None)
            }
            Operation::List => list(storage.as_ref(), &as_dir(&key)).await,
            _ => Err(LogicalError::UnsupportedOperation),
        }
    }

    async fn handle_existence_check(&self, req: &Request) -> Result<ExistenceCheck, LogicalError> {
        let key = key_of(req)?;
        let exists = req.storage()?.get(&key).await?.is_some();
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
