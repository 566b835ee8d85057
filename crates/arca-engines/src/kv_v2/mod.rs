//! KV version 2: versioned secrets with check-and-set, soft delete, undelete, destroy, key
//! metadata, subkeys, and the one-time upgrade of a v1 mount's values. The storage layout is
//! described in `layout`.

mod config;
mod data;
mod layout;
mod merge_patch;
mod metadata;
mod params;
mod responses;
mod upgrade;
mod versions;

use std::future::Future;
use std::sync::Arc;

use arca_sdk::framework::{
    Field, FieldData, FieldType, FrameworkBackend, OpHandler, PathDef, existence, handler,
};
use arca_sdk::{
    Backend, BackendType, ExistenceCheck, LogicalError, Operation, Request, Response, SpecialPaths,
    Storage,
};
use async_trait::async_trait;
use serde_json::json;

use crate::locks::KeyLocks;
use versions::Action;

/// State every handler of one mount shares.
pub(crate) struct Shared {
    /// Serializes writes per key.
    pub(crate) locks: KeyLocks,
}

/// A KV v2 mount.
pub(crate) struct KvV2Backend {
    inner: FrameworkBackend,
    storage: Arc<dyn Storage>,
    shared: Arc<Shared>,
}

impl KvV2Backend {
    /// The backend of a mount whose storage view is `storage` (used at initialize to upgrade
    /// v1 values; requests use the view they carry).
    pub(crate) fn new(storage: Arc<dyn Storage>) -> KvV2Backend {
        let shared = Arc::new(Shared {
            locks: KeyLocks::new(),
        });
        KvV2Backend {
            inner: build(&shared),
            storage,
            shared,
        }
    }
}

/// Wraps a handler that needs the shared state.
fn with_shared<F, Fut>(shared: &Arc<Shared>, f: F) -> OpHandler
where
    F: Fn(Arc<Shared>, Request, FieldData) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<Response>, LogicalError>> + Send + 'static,
{
    let shared = shared.clone();
    handler(move |req, d| f(shared.clone(), req, d))
}

fn path_field() -> Field {
    Field::new("path", FieldType::String, "Location of the secret.")
}

fn versions_path(shared: &Arc<Shared>, name: &str, action: Action, help: &str) -> PathDef {
    PathDef::new(format!("{name}/(?P<path>.*)"))
        .field(path_field())
        .field(Field::new(
            "versions",
            FieldType::Any,
            "The versions to act on (a list or a comma-separated string).",
        ))
        .op(
            Operation::Update,
            with_shared(shared, move |s, req, d| versions::apply(action, s, req, d)),
        )
        .help(help, "")
}

/// The answer OpenBao gives on a path outside the v2 API: 404 with a warning naming the CLI
/// command to use instead.
async fn invalid_path(req: Request) -> Result<Option<Response>, LogicalError> {
    let verb = match req.operation {
        Operation::Read => "get",
        Operation::List => "list",
        Operation::Delete => "delete",
        Operation::Patch => "patch",
        _ => "put",
    };
    let mut resp = Response {
        status: Some(404),
        ..Response::default()
    };
    resp.warn(format!(
        "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate \
         API endpoints to use. If using the OpenBao CLI, use 'bao kv {verb}' for this operation."
    ));
    Ok(Some(resp))
}

fn build(shared: &Arc<Shared>) -> FrameworkBackend {
    let fallback = handler(|req, _d| invalid_path(req));
    FrameworkBackend::new(
        BackendType::Logical,
        "The KV v2 backend stores versioned secrets: data/, metadata/, delete/, undelete/, \
         destroy/, subkeys/ and config.",
    )
    .path(
        PathDef::new("config")
            .field(Field::new(
                "max_versions",
                FieldType::Int,
                "The number of versions to keep per key (0: 10).",
            ))
            .field(Field::new(
                "cas_required",
                FieldType::Bool,
                "Every data write must use check-and-set.",
            ))
            .field(Field::new(
                "delete_version_after",
                FieldType::Any,
                "How long a version lives before it reads as deleted.",
            ))
            .field(Field::new(
                "metadata_cas_required",
                FieldType::Bool,
                "Every metadata write must use check-and-set.",
            ))
            .op(Operation::Read, handler(config::read))
            .op(Operation::Update, handler(config::write))
            .help("Configures settings for the KV store.", ""),
    )
    .path(
        PathDef::new("data/(?P<path>.*)")
            .field(path_field())
            .field(Field::new("data", FieldType::Map, "The secret's contents."))
            .field(Field::new(
                "options",
                FieldType::Map,
                "Write options; `cas` is the version the write expects to replace.",
            ))
            .field(Field::new(
                "version",
                FieldType::Int,
                "The version to read (0: the current one).",
            ))
            .op(Operation::Read, handler(data::read))
            .op(Operation::Update, with_shared(shared, data::write))
            .op(Operation::Patch, with_shared(shared, data::patch))
            .op(Operation::Delete, with_shared(shared, data::delete_latest))
            .existence(existence(data::exists))
            .help("Write, patch, read, and delete versioned secrets.", ""),
    )
    .path(
        PathDef::new("metadata/(?P<path>.*)")
            .field(path_field())
            .field(Field::new(
                "max_versions",
                FieldType::Int,
                "The number of versions to keep for this key.",
            ))
            .field(Field::new(
                "cas_required",
                FieldType::Bool,
                "Data writes to this key must use check-and-set.",
            ))
            .field(Field::new(
                "delete_version_after",
                FieldType::Any,
                "How long this key's versions live before they read as deleted.",
            ))
            .field(Field::new(
                "custom_metadata",
                FieldType::Any,
                "User-provided key/value metadata.",
            ))
            .field(Field::new(
                "metadata_cas_required",
                FieldType::Bool,
                "Metadata writes to this key must use check-and-set.",
            ))
            .field(Field::new(
                "metadata_cas",
                FieldType::Int,
                "The metadata version the write expects to replace.",
            ))
            .op(Operation::Read, handler(metadata::read))
            .op(Operation::List, handler(metadata::list))
            .op(
                Operation::Update,
                with_shared(shared, |s, req, d| metadata::write(false, s, req, d)),
            )
            .op(
                Operation::Patch,
                with_shared(shared, |s, req, d| metadata::write(true, s, req, d)),
            )
            .op(Operation::Delete, with_shared(shared, metadata::delete))
            .existence(existence(data::exists))
            .help(
                "Configures settings for a key, lists keys, and deletes keys.",
                "",
            ),
    )
    .path(versions_path(
        shared,
        "delete",
        Action::Delete,
        "Marks versions as deleted.",
    ))
    .path(versions_path(
        shared,
        "undelete",
        Action::Undelete,
        "Undeletes versions.",
    ))
    .path(versions_path(
        shared,
        "destroy",
        Action::Destroy,
        "Permanently removes versions' data.",
    ))
    .path(
        PathDef::new("subkeys/(?P<path>.*)")
            .field(path_field())
            .field(Field::new(
                "version",
                FieldType::Int,
                "The version to read (0: the current one).",
            ))
            .field(
                Field::new(
                    "depth",
                    FieldType::Int,
                    "How deep to descend (0: no limit).",
                )
                .default_value(json!(0)),
            )
            .op(Operation::Read, handler(data::read_subkeys))
            .help("Read the structure of a secret without its values.", ""),
    )
    .path(
        PathDef::new(".*")
            .accept_unknown()
            .op(Operation::Read, fallback.clone())
            .op(Operation::Update, fallback.clone())
            .op(Operation::Patch, fallback.clone())
            .op(Operation::Delete, fallback.clone())
            .op(Operation::List, fallback),
    )
}

#[async_trait]
impl Backend for KvV2Backend {
    async fn handle_request(&self, req: Request) -> Result<Option<Response>, LogicalError> {
        self.inner.handle_request(req).await
    }

    async fn handle_existence_check(&self, req: &Request) -> Result<ExistenceCheck, LogicalError> {
        self.inner.handle_existence_check(req).await
    }

    fn special_paths(&self) -> SpecialPaths {
        Backend::special_paths(&self.inner)
    }

    fn backend_type(&self) -> BackendType {
        BackendType::Logical
    }

    async fn initialize(&self) -> Result<(), LogicalError> {
        let _all = self.shared.locks.lock_all().await;
        upgrade::ensure_v2_layout(self.storage.as_ref()).await?;
        Ok(())
    }
}
