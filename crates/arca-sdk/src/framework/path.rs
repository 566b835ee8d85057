//! One path of a framework backend: its pattern, fields, handlers and existence check.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use regex::Regex;

use super::{Field, FieldData};
use crate::{JsonMap, LogicalError, Operation, Request, Response};

/// The function serving one operation of a path.
pub type OpHandler = Arc<
    dyn Fn(Request, FieldData) -> BoxFuture<'static, Result<Option<Response>, LogicalError>>
        + Send
        + Sync,
>;

/// The function that says whether the entry a path names exists.
pub type ExistenceFn =
    Arc<dyn Fn(Request, FieldData) -> BoxFuture<'static, Result<bool, LogicalError>> + Send + Sync>;

/// Wraps an async closure as an [`OpHandler`].
pub fn handler<F, Fut>(f: F) -> OpHandler
where
    F: Fn(Request, FieldData) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<Response>, LogicalError>> + Send + 'static,
{
    Arc::new(move |req, data| f(req, data).boxed())
}

/// Wraps an async closure as an [`ExistenceFn`].
pub fn existence<F, Fut>(f: F) -> ExistenceFn
where
    F: Fn(Request, FieldData) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<bool, LogicalError>> + Send + 'static,
{
    Arc::new(move |req, data| f(req, data).boxed())
}

/// A path pattern and what it serves.
pub struct PathDef {
    pub(crate) pattern: String,
    regex: Regex,
    pub(crate) fields: Arc<BTreeMap<String, Field>>,
    pub(crate) ops: HashMap<Operation, OpHandler>,
    pub(crate) existence: Option<ExistenceFn>,
    pub(crate) accept_unknown: bool,
    synopsis: String,
    description: String,
}

impl PathDef {
    /// A path for `pattern`, a regex matched against the whole mount-relative path.
    ///
    /// An invalid pattern is a programming error of the backend; it then matches nothing.
    pub fn new(pattern: impl Into<String>) -> PathDef {
        let pattern = pattern.into();
        let regex = Regex::new(&format!("^(?:{pattern})$"))
            .unwrap_or_else(|_| Regex::new("^\u{0}never\u{0}$").unwrap_or_else(|_| unreachable!()));
        PathDef {
            pattern,
            regex,
            fields: Arc::new(BTreeMap::new()),
            ops: HashMap::new(),
            existence: None,
            accept_unknown: false,
            synopsis: String::new(),
            description: String::new(),
        }
    }

    /// Declares a field.
    pub fn field(mut self, f: Field) -> PathDef {
        Arc::make_mut(&mut self.fields).insert(f.name.clone(), f);
        self
    }

    /// Serves `op` with `h`.
    pub fn op(mut self, op: Operation, h: OpHandler) -> PathDef {
        self.ops.insert(op, h);
        self
    }

    /// Sets the existence check.
    pub fn existence(mut self, e: ExistenceFn) -> PathDef {
        self.existence = Some(e);
        self
    }

    /// Accepts any parameter without a warning (e.g. KV v1 takes arbitrary keys).
    pub fn accept_unknown(mut self) -> PathDef {
        self.accept_unknown = true;
        self
    }

    /// Sets the help text.
    pub fn help(mut self, synopsis: impl Into<String>, description: impl Into<String>) -> PathDef {
        self.synopsis = synopsis.into();
        self.description = description.into();
        self
    }

    /// The raw pattern.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    pub(crate) fn help_text(&self) -> String {
        format!("{}\n\n{}", self.synopsis.trim(), self.description.trim())
    }

    /// The named captures when `path` matches.
    pub(crate) fn matches(&self, path: &str) -> Option<JsonMap> {
        let caps = self.regex.captures(path)?;
        let mut out = JsonMap::new();
        for name in self.regex.capture_names().flatten() {
            if let Some(m) = caps.name(name) {
                out.insert(
                    name.to_string(),
                    serde_json::Value::String(m.as_str().to_string()),
                );
            }
        }
        Some(out)
    }
}
