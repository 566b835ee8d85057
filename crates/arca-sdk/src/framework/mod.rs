//! The path framework: a backend is a list of path patterns, each with typed fields, the
//! operations it serves and an optional existence check. [`FrameworkBackend`] routes requests to
//! them, converts fields, and warns about parameters no path declares. A backend that issues
//! leases also declares its [`SecretType`]s: the core's `Renew` / `Revoke` requests for a lease
//! go to the handlers of the type the lease's secret names, not to a path.

mod field;
mod name_path;
pub mod openapi;
mod path;
mod secret;

pub use field::{Field, FieldData, FieldType, convert_field, convert_field_reason};
pub use name_path::is_generic_name;
pub use path::{ExistenceFn, OpHandler, PathDef, existence, handler};
pub use secret::{SECRET_TYPE_KEY, SecretType};

use openapi::{DocContext, OasDocument};

use std::sync::Arc;

use async_trait::async_trait;

use crate::{
    Backend, BackendType, ExistenceCheck, JsonMap, LogicalError, Operation, Request, Response,
    SpecialPaths,
};

/// A regex fragment capturing a Vault "generic name" into `name`.
pub fn generic_name_regex(name: &str) -> String {
    format!(r"(?P<{name}>\w(([\w.@-]+)?\w)?)")
}

/// A regex fragment capturing everything (including slashes) into `name`.
pub fn match_all_regex(name: &str) -> String {
    format!(r"(?P<{name}>.*)")
}

/// A regex fragment capturing an optional trailing segment into `name`.
pub fn optional_param_regex(name: &str) -> String {
    format!(r"(/(?P<{name}>.+))?")
}

/// A LIST path (`pattern`, e.g. `roles/?$`) answering the keys stored under `storage_prefix`,
/// one page at a time as Vault's `ListPage` does: `after` (need not exist) and `limit` (all
/// when not positive).
pub fn paged_list_path(pattern: impl Into<String>, storage_prefix: &'static str) -> PathDef {
    PathDef::new(pattern)
        .field(Field::new(
            "after",
            FieldType::String,
            "Optional entry to list begin listing after, not required to exist.",
        ))
        .field(Field::new(
            "limit",
            FieldType::Int,
            "Optional number of entries to return; defaults to all entries.",
        ))
        .op(
            crate::Operation::List,
            handler(move |req, d| async move {
                let after = d.get_str("after")?;
                let limit = usize::try_from(d.get_i64("limit")?)
                    .ok()
                    .filter(|l| *l > 0)
                    .unwrap_or(usize::MAX);
                let keys = req
                    .storage()?
                    .list_page(storage_prefix, &after, limit)
                    .await?;
                let mut data = crate::JsonMap::new();
                data.insert("keys".into(), serde_json::json!(keys));
                Ok(Some(Response::with_data(data)))
            }),
        )
}

/// A backend made of framework paths.
pub struct FrameworkBackend {
    paths: Vec<PathDef>,
    secrets: Vec<SecretType>,
    auth_renew: Option<OpHandler>,
    special_paths: SpecialPaths,
    backend_type: BackendType,
    help: String,
    on_invalidate: Option<InvalidateFn>,
}

/// What a backend runs when the core reports that another node changed a storage key of its
/// mount (the key, relative to the mount): typically forgetting what it cached.
pub type InvalidateFn = Arc<dyn Fn(&str) + Send + Sync>;

impl FrameworkBackend {
    /// A backend of the given type with no paths yet.
    pub fn new(backend_type: BackendType, help: impl Into<String>) -> FrameworkBackend {
        FrameworkBackend {
            paths: Vec::new(),
            secrets: Vec::new(),
            auth_renew: None,
            special_paths: SpecialPaths::default(),
            backend_type,
            help: help.into(),
            on_invalidate: None,
        }
    }

    /// Runs `f` on every [`Backend::invalidate`] (a mount that caches what it read from
    /// storage forgets it there), so the mount needs no wrapper of its own for it.
    pub fn on_invalidate(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> FrameworkBackend {
        self.on_invalidate = Some(Arc::new(f));
        self
    }

    /// Adds a path; paths are tried in the order added.
    pub fn path(mut self, p: PathDef) -> FrameworkBackend {
        self.paths.push(p);
        self
    }

    /// Declares a secret type whose leases this backend renews and revokes.
    pub fn secret(mut self, t: SecretType) -> FrameworkBackend {
        self.secrets.push(t);
        self
    }

    /// The declared secret type named `name`.
    pub fn secret_type(&self, name: &str) -> Option<&SecretType> {
        self.secrets.iter().find(|t| t.name() == name)
    }

    /// Renews the tokens of this auth method's logins (a `Renew` request carrying `req.auth`).
    pub fn auth_renew(mut self, h: OpHandler) -> FrameworkBackend {
        self.auth_renew = Some(h);
        self
    }

    /// Sets the special paths.
    pub fn special_paths(mut self, s: SpecialPaths) -> FrameworkBackend {
        self.special_paths = s;
        self
    }

    fn route(&self, path: &str) -> Option<(&PathDef, JsonMap)> {
        for p in &self.paths {
            if let Some(captures) = p.matches(path) {
                return Some((p, captures));
            }
        }
        None
    }

    /// Serves the core's `Renew` / `Revoke` of a lease, as Vault's framework does: a login's
    /// renewal goes to the auth renew handler, a secret's to its declared type's handlers.
    async fn handle_revoke_renew(&self, req: Request) -> Result<Option<Response>, LogicalError> {
        if req.operation == Operation::Renew && req.auth.is_some() {
            let Some(h) = self.auth_renew.clone() else {
                return Err(LogicalError::bad_request(
                    "this auth type doesn't support renew",
                ));
            };
            return h(req, FieldData::new(JsonMap::new(), Default::default())).await;
        }
        let Some(secret) = req.secret.as_ref() else {
            return Err(LogicalError::internal("request has no secret"));
        };
        let Some(t) = secret::secret_type_of(secret).and_then(|name| self.secret_type(name)) else {
            return Err(LogicalError::internal(
                "secret is unsupported by this backend",
            ));
        };
        t.handle(req).await
    }

    /// The request's fields with the path's captures over the body's, and the names of the
    /// body parameters a capture replaced (sorted).
    fn field_data(p: &PathDef, req: &mut Request, captures: JsonMap) -> (FieldData, Vec<String>) {
        let mut raw = std::mem::take(&mut req.data);
        let mut replaced = Vec::new();
        for (k, v) in captures {
            if raw.insert(k.clone(), v).is_some_and(|old| !old.is_null()) {
                replaced.push(k);
            }
        }
        replaced.sort();
        (FieldData::new(raw, p.fields.clone()), replaced)
    }
}

/// Adds OpenBao's `Endpoint ignored these unrecognized parameters: [a b]` warning to `resp`
/// when `unknown` (sorted parameter names no field declares) is not empty. Endpoints written
/// without the framework (the core's `sys/` and `auth/token/`) call it too, so every endpoint
/// words it the same.
pub fn add_unknown_warning(resp: &mut Response, unknown: &[String]) {
    if !unknown.is_empty() {
        resp.warn(format!(
            "Endpoint ignored these unrecognized parameters: [{}]",
            unknown.join(" ")
        ));
    }
}

/// Adds OpenBao's `Endpoint replaced the value of these parameters with the values captured
/// from the endpoint's path: [a b]` warning to `resp` when `replaced` (sorted body parameter
/// names a path capture overrode) is not empty.
pub fn add_replaced_warning(resp: &mut Response, replaced: &[String]) {
    if !replaced.is_empty() {
        resp.warn(format!(
            "Endpoint replaced the value of these parameters with the values captured from the endpoint's path: [{}]",
            replaced.join(" ")
        ));
    }
}

#[async_trait]
impl Backend for FrameworkBackend {
    async fn handle_request(&self, mut req: Request) -> Result<Option<Response>, LogicalError> {
        if matches!(req.operation, Operation::Renew | Operation::Revoke) {
            return self.handle_revoke_renew(req).await;
        }
        if req.operation == Operation::Help {
            return Ok(Some(self.help(&req)));
        }
        let Some((p, captures)) = self.route(&req.path) else {
            return Err(LogicalError::UnsupportedPath);
        };
        let op = if req.operation == Operation::Create && !p.ops.contains_key(&Operation::Create) {
            Operation::Update
        } else {
            req.operation
        };
        let Some(handler) = p.ops.get(&op).cloned() else {
            return Err(LogicalError::UnsupportedOperation);
        };
        let (data, replaced) = Self::field_data(p, &mut req, captures);
        data.validate()?;
        let unknown = if p.accept_unknown {
            Vec::new()
        } else {
            data.unknown_fields()
        };
        let mut resp = handler(req, data).await?;
        // As Vault: the warning rides on a response; a bodiless answer (204) stays bodiless.
        if let Some(resp) = resp.as_mut() {
            add_unknown_warning(resp, &unknown);
            add_replaced_warning(resp, &replaced);
        }
        Ok(resp)
    }

    async fn handle_existence_check(&self, req: &Request) -> Result<ExistenceCheck, LogicalError> {
        let Some((p, captures)) = self.route(&req.path) else {
            return Ok(ExistenceCheck::default());
        };
        let Some(check) = p.existence.clone() else {
            return Ok(ExistenceCheck::default());
        };
        let mut req = if p.existence_by_path {
            req.clone_without_data()
        } else {
            req.clone()
        };
        let (data, _) = Self::field_data(p, &mut req, captures);
        let exists = check(req, data).await?;
        Ok(ExistenceCheck {
            check_found: true,
            exists,
        })
    }

    fn special_paths(&self) -> SpecialPaths {
        self.special_paths.clone()
    }

    fn backend_type(&self) -> BackendType {
        self.backend_type
    }

    async fn invalidate(&self, key: &str) {
        if let Some(f) = &self.on_invalidate {
            f(key);
        }
    }
}

impl FrameworkBackend {
    /// The OpenAPI document of every path, operation ids starting with `prefix` (the mount's
    /// type when the core asks, as OpenBao's `requestResponsePrefix`).
    pub fn openapi(&self, prefix: &str) -> OasDocument {
        let mut doc = OasDocument::new(env!("CARGO_PKG_VERSION"));
        let ctx = DocContext {
            special: &self.special_paths,
            backend_type: self.backend_type,
            prefix,
        };
        for p in &self.paths {
            for path in p.docs() {
                doc.add_path(&path, &ctx);
            }
        }
        doc
    }

    /// The answer to a Help request: for the root (or a path no pattern serves) the backend's
    /// help and the document of all its paths, for a path its help and its own document.
    fn help(&self, req: &Request) -> Response {
        let prefix = req
            .data
            .get("requestResponsePrefix")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        let found = if req.path.is_empty() {
            None
        } else {
            self.route(&req.path)
        };
        let Some((p, _)) = found else {
            return self.openapi(prefix).help_response(&self.help);
        };
        let mut doc = OasDocument::new(env!("CARGO_PKG_VERSION"));
        let ctx = DocContext {
            special: &self.special_paths,
            backend_type: self.backend_type,
            prefix,
        };
        for path in p.docs() {
            doc.add_path(&path, &ctx);
        }
        doc.help_response(&p.help_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn backend() -> FrameworkBackend {
        FrameworkBackend::new(BackendType::Logical, "test backend").path(
            PathDef::new(format!("items/{}", generic_name_regex("name")))
                .field(Field::new("name", FieldType::String, "item name"))
                .field(Field::new("count", FieldType::Int, "a count").default_value(json!(1)))
                .op(
                    Operation::Read,
                    handler(|_req, d| async move {
                        let mut m = JsonMap::new();
                        m.insert("name".into(), json!(d.get_str("name")?));
                        m.insert("count".into(), json!(d.get_i64("count")?));
                        Ok(Some(Response::with_data(m)))
                    }),
                )
                .op(
                    Operation::Update,
                    handler(|_req, _d| async move { Ok(None) }),
                )
                .existence(existence(|_req, d| async move {
                    Ok(d.get_str("name")? == "there")
                })),
        )
    }

    #[tokio::test]
    async fn routes_converts_and_warns() {
        let b = backend();
        let req = Request::new(Operation::Read, "items/foo").with_data(
            json!({"count": "5", "extra": 1})
                .as_object()
                .cloned()
                .unwrap(),
        );
        let resp = b.handle_request(req).await.unwrap().unwrap();
        let data = resp.data.unwrap();
        assert_eq!(data["name"], "foo");
        assert_eq!(data["count"], 5);
        assert_eq!(
            resp.warnings,
            vec!["Endpoint ignored these unrecognized parameters: [extra]"]
        );
    }

    #[tokio::test]
    async fn errors_and_existence() {
        let b = backend();
        let e = b
            .handle_request(Request::new(Operation::Read, "nope"))
            .await
            .unwrap_err();
        assert_eq!(e, LogicalError::UnsupportedPath);
        let e = b
            .handle_request(Request::new(Operation::Delete, "items/a"))
            .await
            .unwrap_err();
        assert_eq!(e, LogicalError::UnsupportedOperation);
        let bad = Request::new(Operation::Read, "items/a")
            .with_data(json!({"count": "abc"}).as_object().cloned().unwrap());
        assert_eq!(b.handle_request(bad).await.unwrap_err().status(), 400);
        // create falls back to update when the path has no create handler
        assert!(
            b.handle_request(Request::new(Operation::Create, "items/a"))
                .await
                .unwrap()
                .is_none()
        );
        let ex = b
            .handle_existence_check(&Request::new(Operation::Create, "items/there"))
            .await
            .unwrap();
        assert_eq!(
            ex,
            ExistenceCheck {
                check_found: true,
                exists: true
            }
        );
        let ex = b
            .handle_existence_check(&Request::new(Operation::Create, "items/x"))
            .await
            .unwrap();
        assert!(ex.check_found && !ex.exists);
    }

    #[tokio::test]
    async fn an_existence_check_by_path_sees_the_captures_not_the_body() {
        let b = FrameworkBackend::new(BackendType::Logical, "t").path(
            PathDef::new(format!("k/{}", generic_name_regex("name")))
                .field(Field::new("name", FieldType::String, "name"))
                .field(Field::new("big", FieldType::Slice, "body"))
                .op(Operation::Update, handler(|_r, _d| async move { Ok(None) }))
                .existence_by_path(existence(|req, d| async move {
                    Ok(d.get_str("name")? == "there" && !d.is_set("big") && req.data.is_empty())
                })),
        );
        let req = Request::new(Operation::Update, "k/there")
            .with_data(json!({"big": [1, 2, 3]}).as_object().cloned().unwrap());
        let ex = b.handle_existence_check(&req).await.unwrap();
        assert!(ex.check_found && ex.exists);
    }

    fn leasing() -> FrameworkBackend {
        let renewable = SecretType::new("cred")
            .default_ttl(std::time::Duration::from_secs(30))
            .max_ttl(std::time::Duration::from_secs(90))
            .field(Field::new("username", FieldType::String, "user"))
            .renew(handler(|req, d| async move {
                let mut resp = Response::default();
                let mut secret = req.secret.unwrap_or_default();
                secret
                    .internal_data
                    .insert("renewed_for".into(), json!(d.get_str("username")?));
                resp.secret = Some(secret);
                Ok(Some(resp))
            }))
            .revoke(handler(|req, d| async move {
                let mut m = JsonMap::new();
                m.insert("revoked".into(), json!(d.get_str("username")?));
                m.insert("path".into(), json!(req.path));
                Ok(Some(Response::with_data(m)))
            }));
        let fixed = SecretType::new("fixed").revoke(handler(|_req, _d| async move { Ok(None) }));
        let issue = renewable.clone();
        FrameworkBackend::new(BackendType::Logical, "leases")
            .secret(renewable)
            .secret(fixed)
            .path(PathDef::new("creds").op(
                Operation::Read,
                handler(move |_req, _d| {
                    let issue = issue.clone();
                    async move {
                        let mut data = JsonMap::new();
                        data.insert("username".into(), json!("u1"));
                        let mut internal = JsonMap::new();
                        internal.insert("username".into(), json!("u1"));
                        Ok(Some(issue.response(data, internal)))
                    }
                }),
            ))
    }

    fn lease_request(op: Operation, secret_type: serde_json::Value) -> Request {
        let mut req = Request::new(op, "creds")
            .with_data(json!({"username": "u1"}).as_object().cloned().unwrap());
        let mut internal = JsonMap::new();
        internal.insert(SECRET_TYPE_KEY.into(), secret_type);
        req.secret = Some(crate::Secret {
            internal_data: internal,
            ..crate::Secret::default()
        });
        req
    }

    #[tokio::test]
    async fn a_secret_type_issues_secrets_that_name_it() {
        let b = leasing();
        let resp = b
            .handle_request(Request::new(Operation::Read, "creds"))
            .await
            .unwrap()
            .unwrap();
        let secret = resp.secret.unwrap();
        assert_eq!(secret.internal_data["secret_type"], "cred");
        assert_eq!(secret.internal_data["username"], "u1");
        assert_eq!(secret.lease.ttl.as_secs(), 30);
        assert_eq!(secret.lease.max_ttl.as_secs(), 90);
        assert!(secret.lease.renewable);
        assert!(!b.secret_type("fixed").unwrap().renewable());
        assert_eq!(resp.data.unwrap()["username"], "u1");
    }

    #[tokio::test]
    async fn renew_and_revoke_go_to_the_named_type_whatever_the_path() {
        let b = leasing();
        let resp = b
            .handle_request(lease_request(Operation::Renew, json!("cred")))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(resp.secret.unwrap().internal_data["renewed_for"], "u1");
        let mut req = lease_request(Operation::Revoke, json!("cred"));
        req.path = "no/such/path".into();
        let resp = b.handle_request(req).await.unwrap().unwrap();
        assert_eq!(resp.data.unwrap()["revoked"], "u1");
    }

    #[tokio::test]
    async fn renew_and_revoke_errors_are_vaults() {
        let b = leasing();
        // A type without a renew handler: unsupported operation.
        let e = b
            .handle_request(lease_request(Operation::Renew, json!("fixed")))
            .await
            .unwrap_err();
        assert_eq!(e, LogicalError::UnsupportedOperation);
        assert!(
            b.handle_request(lease_request(Operation::Revoke, json!("fixed")))
                .await
                .unwrap()
                .is_none()
        );
        for bad in [json!("nope"), json!(5)] {
            let e = b
                .handle_request(lease_request(Operation::Revoke, bad))
                .await
                .unwrap_err();
            assert_eq!(
                e,
                LogicalError::internal("secret is unsupported by this backend")
            );
        }
        let e = b
            .handle_request(Request::new(Operation::Revoke, "creds"))
            .await
            .unwrap_err();
        assert_eq!(e, LogicalError::internal("request has no secret"));
        // A login's renewal without an auth renew handler.
        let mut req = Request::new(Operation::Renew, "login");
        req.auth = Some(crate::Auth::default());
        let e = b.handle_request(req).await.unwrap_err();
        assert_eq!(
            e,
            LogicalError::bad_request("this auth type doesn't support renew")
        );
    }
}
