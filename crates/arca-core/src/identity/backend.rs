//! The `identity/` mount's backend: the path table (every served path as one `Endpoint`,
//! parsed from operation and path before any handler runs) over the identity store.

use std::sync::Arc;

use arca_sdk::{
    Backend, BackendType, ExistenceCheck, LogicalError, Operation, Request, Response, SpecialPaths,
};
use async_trait::async_trait;

use arca_sdk::framework::FrameworkBackend;
use arca_sdk::framework::openapi::{help_from_table, table_document, template_matches};
use serde_json::Value;

use super::IdentityStore;
use super::entities::EntityRef;
use super::groups::GroupRef;
use crate::identity_tokens::{IdentityTokens, UNAUTHENTICATED};

/// What a request asks of the identity store.
enum Endpoint {
    EntityWrite(EntityRef),
    EntityRead { by_name: bool, key: String },
    EntityDelete { by_name: bool, key: String },
    EntityList { by_name: bool },
    EntityBatchDelete,
    EntityMerge,
    AliasWrite(Option<String>),
    AliasRead(String),
    AliasDelete(String),
    AliasList,
    GroupWrite(GroupRef),
    GroupRead { by_name: bool, key: String },
    GroupDelete { by_name: bool, key: String },
    GroupList { by_name: bool },
    GroupAliasWrite(Option<String>),
    GroupAliasRead(String),
    GroupAliasDelete(String),
    GroupAliasList,
    LookupEntity,
    LookupGroup,
    MfaMethodList,
    MfaMethodRead(Option<String>),
    MfaTotpWrite(Option<String>),
    MfaTotpDelete(Option<String>),
    MfaTotpGenerate,
    MfaTotpAdminGenerate,
    MfaTotpAdminDestroy,
    MfaEnforcementWrite(String),
    MfaEnforcementRead(String),
    MfaEnforcementDelete(String),
    MfaEnforcementList,
}

/// The operations a collection path answers (item paths go through `item`); anything else
/// on it is a 405.
#[derive(Clone, Copy)]
enum Ops {
    /// Create/update only.
    Write,
    /// LIST only.
    List,
}

/// Parses `op` on the mount-relative `path`: `Ok(None)` for no such path (404),
/// `Err` for a known path that does not answer `op` (405).
fn parse(op: Operation, path: &str) -> Result<Option<Endpoint>, LogicalError> {
    use Endpoint as E;
    let path = path.trim_end_matches('/');
    let segs: Vec<&str> = path.split('/').collect();
    let write = matches!(op, Operation::Create | Operation::Update);
    // `persona` is OpenBao's older name for entity aliases; a write to the bare `persona`
    // path makes an entity in OpenBao 2.7.2 (observed), so it does here too.
    if segs.as_slice() == ["persona"] {
        return if write {
            Ok(Some(E::EntityWrite(EntityRef::Body)))
        } else {
            Err(LogicalError::UnsupportedOperation)
        };
    }
    let family = match segs.first() {
        Some(&"persona") => "entity-alias",
        Some(f) => f,
        None => return Ok(None),
    };
    let (ops, endpoint): (Ops, Box<dyn Fn() -> E>) = match (family, &segs[1..]) {
        ("entity", []) => (Ops::Write, Box::new(|| E::EntityWrite(EntityRef::Body))),
        ("entity", ["batch-delete"]) => (Ops::Write, Box::new(|| E::EntityBatchDelete)),
        ("entity", ["merge"]) => (Ops::Write, Box::new(|| E::EntityMerge)),
        ("entity", ["id"]) => (Ops::List, Box::new(|| E::EntityList { by_name: false })),
        ("entity", ["name"]) => (Ops::List, Box::new(|| E::EntityList { by_name: true })),
        ("entity", [by @ ("id" | "name"), key]) if !key.is_empty() => {
            let by_name = *by == "name";
            let key = key.to_string();
            return item(op, move |kind| match kind {
                Kind::Write if by_name => E::EntityWrite(EntityRef::Name(key.clone())),
                Kind::Write => E::EntityWrite(EntityRef::Id(key.clone())),
                Kind::Read => E::EntityRead {
                    by_name,
                    key: key.clone(),
                },
                Kind::Delete => E::EntityDelete {
                    by_name,
                    key: key.clone(),
                },
            });
        }
        ("entity-alias", []) => (Ops::Write, Box::new(|| E::AliasWrite(None))),
        ("entity-alias", ["id"]) => (Ops::List, Box::new(|| E::AliasList)),
        ("entity-alias", ["id", key]) if !key.is_empty() => {
            let key = key.to_string();
            return item(op, move |kind| match kind {
                Kind::Write => E::AliasWrite(Some(key.clone())),
                Kind::Read => E::AliasRead(key.clone()),
                Kind::Delete => E::AliasDelete(key.clone()),
            });
        }
        ("group", []) => (Ops::Write, Box::new(|| E::GroupWrite(GroupRef::Body))),
        ("group", ["id"]) => (Ops::List, Box::new(|| E::GroupList { by_name: false })),
        ("group", ["name"]) => (Ops::List, Box::new(|| E::GroupList { by_name: true })),
        ("group", [by @ ("id" | "name"), key]) if !key.is_empty() => {
            let by_name = *by == "name";
            let key = key.to_string();
            return item(op, move |kind| match kind {
                Kind::Write if by_name => E::GroupWrite(GroupRef::Name(key.clone())),
                Kind::Write => E::GroupWrite(GroupRef::Id(key.clone())),
                Kind::Read => E::GroupRead {
                    by_name,
                    key: key.clone(),
                },
                Kind::Delete => E::GroupDelete {
                    by_name,
                    key: key.clone(),
                },
            });
        }
        ("group-alias", []) => (Ops::Write, Box::new(|| E::GroupAliasWrite(None))),
        ("group-alias", ["id"]) => (Ops::List, Box::new(|| E::GroupAliasList)),
        ("group-alias", ["id", key]) if !key.is_empty() => {
            let key = key.to_string();
            return item(op, move |kind| match kind {
                Kind::Write => E::GroupAliasWrite(Some(key.clone())),
                Kind::Read => E::GroupAliasRead(key.clone()),
                Kind::Delete => E::GroupAliasDelete(key.clone()),
            });
        }
        ("mfa", ["method" | "login-enforcement", ..]) => return parse_mfa(op, &segs[1..]),
        ("lookup", ["entity"]) => (Ops::Write, Box::new(|| E::LookupEntity)),
        ("lookup", ["group"]) => (Ops::Write, Box::new(|| E::LookupGroup)),
        _ => return Ok(None),
    };
    let allowed = match ops {
        Ops::Write => write,
        Ops::List => op == Operation::List,
    };
    if allowed {
        Ok(Some(endpoint()))
    } else {
        Err(LogicalError::UnsupportedOperation)
    }
}

/// `parse` for the login MFA paths (`segs` after `mfa/`).
fn parse_mfa(op: Operation, segs: &[&str]) -> Result<Option<Endpoint>, LogicalError> {
    use Endpoint as E;
    let write = matches!(op, Operation::Create | Operation::Update);
    let list = op == Operation::List;
    let only = |ok: bool, e: E| {
        if ok {
            Ok(Some(e))
        } else {
            Err(LogicalError::UnsupportedOperation)
        }
    };
    match segs {
        ["method"] if list => Ok(Some(E::MfaMethodList)),
        ["method"] => only(op == Operation::Read, E::MfaMethodRead(None)),
        ["method", "totp"] => match op {
            Operation::List => Ok(Some(E::MfaMethodList)),
            Operation::Create | Operation::Update => Ok(Some(E::MfaTotpWrite(None))),
            Operation::Read => Ok(Some(E::MfaMethodRead(None))),
            Operation::Delete => Ok(Some(E::MfaTotpDelete(None))),
            _ => Err(LogicalError::UnsupportedOperation),
        },
        ["method", "totp", "generate"] => only(write, E::MfaTotpGenerate),
        ["method", "totp", "admin-generate"] => only(write, E::MfaTotpAdminGenerate),
        ["method", "totp", "admin-destroy"] => only(write, E::MfaTotpAdminDestroy),
        // Method ids are lowercase UUIDs in OpenBao's patterns; anything else is no path.
        ["method", "totp", id] if is_uuid(id) => {
            let id = id.to_string();
            item(op, move |kind| match kind {
                Kind::Write => E::MfaTotpWrite(Some(id.clone())),
                Kind::Read => E::MfaMethodRead(Some(id.clone())),
                Kind::Delete => E::MfaTotpDelete(Some(id.clone())),
            })
        }
        ["method", id] if is_uuid(id) => only(
            op == Operation::Read,
            E::MfaMethodRead(Some(id.to_string())),
        ),
        ["login-enforcement"] => only(list, E::MfaEnforcementList),
        ["login-enforcement", name] if is_generic_name(name) => {
            let name = name.to_string();
            item(op, move |kind| match kind {
                Kind::Write => E::MfaEnforcementWrite(name.clone()),
                Kind::Read => E::MfaEnforcementRead(name.clone()),
                Kind::Delete => E::MfaEnforcementDelete(name.clone()),
            })
        }
        _ => Ok(None),
    }
}

/// Whether `s` is a lowercase UUID (OpenBao's `genericOptionalUUIDRegex`).
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

/// Whether `s` matches the framework's `GenericNameRegex`: word characters at both ends,
/// word characters, `-` and `.` between.
fn is_generic_name(s: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&f), Some(&l)) => {
            word(f) && word(l) && bytes.iter().all(|&b| word(b) || b == b'-' || b == b'.')
        }
        _ => false,
    }
}

/// What an item path (`.../id/<id>`) is asked to do.
enum Kind {
    Write,
    Read,
    Delete,
}

/// An item path's endpoint for `op`; other operations are a 405.
fn item(op: Operation, f: impl Fn(Kind) -> Endpoint) -> Result<Option<Endpoint>, LogicalError> {
    match op {
        Operation::Create | Operation::Update => Ok(Some(f(Kind::Write))),
        Operation::Read => Ok(Some(f(Kind::Read))),
        Operation::Delete => Ok(Some(f(Kind::Delete))),
        _ => Err(LogicalError::UnsupportedOperation),
    }
}

/// The `identity/` backend, a view of the core's identity store; `oidc/` paths go to the
/// identity tokens' own path table.
pub(crate) struct IdentityBackend {
    store: Arc<IdentityStore>,
    oidc: FrameworkBackend,
}

/// The mount-relative prefix of the identity-token paths.
const OIDC_PREFIX: &str = "oidc/";

impl IdentityBackend {
    /// A backend serving `store` and the identity tokens `tokens`.
    pub(crate) fn new(store: Arc<IdentityStore>, tokens: &Arc<IdentityTokens>) -> IdentityBackend {
        let mut oidc = FrameworkBackend::new(
            BackendType::Logical,
            "Identity tokens: keys, roles and signed JWTs.",
        );
        for p in tokens.paths() {
            oidc = oidc.path(p);
        }
        // Only for the document's `x-vault-unauthenticated`: the router asks this backend's
        // own special paths.
        let oidc = oidc.special_paths(special_paths());
        IdentityBackend { store, oidc }
    }

    /// The Help answer: for an `oidc/` path the identity tokens' own; for a path of the
    /// table its row's; for the root (or a path neither serves) every path's document.
    fn help(&self, req: &Request) -> Response {
        let path = req.path.trim_end_matches('/');
        let table = super::paths::docs();
        let special = special_paths();
        if !path.is_empty() && table.iter().any(|d| template_matches(&d.path, path)) {
            return help_from_table(req, &table, &special, BackendType::Logical, ROOT_HELP);
        }
        let (mut doc, _) = table_document(req, "", &table, &special, BackendType::Logical);
        let prefix = req
            .data
            .get("requestResponsePrefix")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let oidc = self.oidc.openapi(prefix);
        doc.paths.extend(oidc.paths);
        doc.components.schemas.extend(oidc.components.schemas);
        doc.help_response(ROOT_HELP)
    }
}

/// The help text of the backend's root.
const ROOT_HELP: &str = "The identity backend is built-in and cannot be moved or disabled. It \
    keeps the entities and groups clients are known as, their aliases on auth mounts, login \
    MFA, and identity tokens.";

/// The paths reachable without a token.
fn special_paths() -> SpecialPaths {
    SpecialPaths {
        unauthenticated: UNAUTHENTICATED.iter().map(|p| p.to_string()).collect(),
        ..SpecialPaths::default()
    }
}

#[async_trait]
impl Backend for IdentityBackend {
    async fn handle_request(&self, req: Request) -> Result<Option<Response>, LogicalError> {
        // One store for now, the root namespace's: a namespace's own `identity/` mount
        // answers plainly instead of sharing the root's records.
        if !req.namespace_id.is_empty() && req.namespace_id != crate::namespaces::ROOT_ID {
            return Err(LogicalError::bad_request(
                "the identity store is served in the root namespace only",
            ));
        }
        if req.path.starts_with(OIDC_PREFIX) {
            return self.oidc.handle_request(req).await;
        }
        if req.operation == Operation::Help {
            return Ok(Some(self.help(&req)));
        }
        let Some(endpoint) = parse(req.operation, &req.path)? else {
            return Err(LogicalError::UnsupportedPath);
        };
        // The legacy `persona` paths declare the alias fields whatever they run; no
        // warnings there.
        let unknown = if req.path.starts_with("persona") {
            Vec::new()
        } else {
            unknown_fields(&endpoint, &req)
        };
        let mut resp = self.dispatch(endpoint, req).await?;
        if let Some(resp) = resp.as_mut() {
            arca_sdk::framework::add_unknown_warning(resp, &unknown);
        }
        Ok(resp)
    }

    async fn handle_existence_check(&self, req: &Request) -> Result<ExistenceCheck, LogicalError> {
        if req.path.starts_with(OIDC_PREFIX) {
            return self.oidc.handle_existence_check(req).await;
        }
        Ok(ExistenceCheck::default())
    }

    fn special_paths(&self) -> SpecialPaths {
        special_paths()
    }

    fn backend_type(&self) -> BackendType {
        BackendType::Logical
    }
}

/// The parameters a write endpoint declares in OpenBao; others draw its warning.
fn declared(endpoint: &Endpoint) -> &'static [&'static str] {
    use Endpoint as E;
    const ENTITY: &[&str] = &["id", "name", "metadata", "policies", "disabled"];
    const ALIAS: &[&str] = &[
        "id",
        "entity_id",
        "canonical_id",
        "mount_accessor",
        "name",
        "custom_metadata",
    ];
    const GROUP: &[&str] = &[
        "id",
        "type",
        "name",
        "metadata",
        "policies",
        "member_group_ids",
        "member_entity_ids",
    ];
    const LOOKUP: &[&str] = &[
        "id",
        "name",
        "alias_id",
        "alias_name",
        "alias_mount_accessor",
    ];
    match endpoint {
        E::EntityWrite(_) => ENTITY,
        E::EntityBatchDelete => &["entity_ids"],
        E::EntityMerge => &[
            "from_entity_ids",
            "to_entity_id",
            "force",
            "conflicting_alias_ids_to_keep",
        ],
        E::AliasWrite(_) => ALIAS,
        E::GroupWrite(_) => GROUP,
        E::GroupAliasWrite(_) => &["id", "name", "mount_accessor", "canonical_id"],
        E::LookupEntity | E::LookupGroup => LOOKUP,
        E::MfaTotpWrite(_) => &[
            "method_id",
            "method_name",
            "issuer",
            "period",
            "key_size",
            "qr_size",
            "algorithm",
            "digits",
            "skew",
            "max_validation_attempts",
        ],
        E::MfaTotpGenerate => &["method_id"],
        E::MfaTotpAdminGenerate | E::MfaTotpAdminDestroy => &["method_id", "entity_id"],
        E::MfaEnforcementWrite(_) => &[
            "name",
            "mfa_method_ids",
            "auth_method_accessors",
            "auth_method_types",
            "identity_group_ids",
            "identity_entity_ids",
        ],
        _ => &[],
    }
}

/// Whether the router serves `op` on `path` (for the path table's test).
#[cfg(test)]
pub(super) fn parse_for_test(op: Operation, path: &str) -> bool {
    matches!(parse(op, path), Ok(Some(_)))
}

/// The parameters the endpoint `op` on `path` declares (for the path table's test).
#[cfg(test)]
pub(super) fn declared_for(op: Operation, path: &str) -> Vec<&'static str> {
    match parse(op, path) {
        Ok(Some(e)) => declared(&e).to_vec(),
        _ => Vec::new(),
    }
}

/// The body parameters of a write that its endpoint does not declare, sorted.
fn unknown_fields(endpoint: &Endpoint, req: &Request) -> Vec<String> {
    if !matches!(req.operation, Operation::Create | Operation::Update) {
        return Vec::new();
    }
    let known = declared(endpoint);
    let mut out: Vec<String> = req
        .data
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .cloned()
        .collect();
    out.sort();
    out
}

impl IdentityBackend {
    /// Runs the endpoint.
    async fn dispatch(
        &self,
        endpoint: Endpoint,
        req: Request,
    ) -> Result<Option<Response>, LogicalError> {
        let s = &*self.store;
        use Endpoint as E;
        match endpoint {
            E::EntityWrite(target) => s.write_entity(&req, target).await,
            E::EntityRead { by_name, key } => s.read_entity(by_name, &key).map(Some),
            E::EntityDelete { by_name, key } => s.delete_entity(by_name, &key).await.map(|_| None),
            E::EntityList { by_name } => s.list_entities(by_name).map(Some),
            E::EntityBatchDelete => s.batch_delete_entities(&req).await.map(|_| None),
            E::EntityMerge => s.merge_entities(&req).await.map(|_| None),
            E::AliasWrite(id) => s.write_alias(&req, id.as_deref()).await,
            E::AliasRead(id) => s.read_alias(&id).map(Some),
            E::AliasDelete(id) => s.delete_alias(&id).await.map(|_| None),
            E::AliasList => s.list_aliases().map(Some),
            E::GroupWrite(target) => s.write_group(&req, target).await,
            E::GroupRead { by_name, key } => s.read_group(by_name, &key).map(Some),
            E::GroupDelete { by_name, key } => s.delete_group(by_name, &key).await.map(|_| None),
            E::GroupList { by_name } => s.list_groups(by_name).map(Some),
            E::GroupAliasWrite(id) => s.write_group_alias(&req, id.as_deref()).await,
            E::GroupAliasRead(id) => s.read_group_alias(&id).map(Some),
            E::GroupAliasDelete(id) => s.delete_group_alias(&id).await.map(|_| None),
            E::GroupAliasList => s.list_group_aliases().map(Some),
            E::LookupEntity => s.lookup_entity(&req.data),
            E::LookupGroup => s.lookup_group(&req.data),
            E::MfaMethodList => s.list_mfa_methods().map(Some),
            E::MfaMethodRead(id) => s.read_mfa_method(id.as_deref()).map(Some),
            E::MfaTotpWrite(id) => s.write_totp_method(&req, id.as_deref()).await,
            E::MfaTotpDelete(id) => s.delete_totp_method(id.as_deref()).await.map(|_| None),
            E::MfaTotpGenerate => s.generate_totp_self(&req).await,
            E::MfaTotpAdminGenerate => s.generate_totp_admin(&req).await,
            E::MfaTotpAdminDestroy => s.destroy_totp_admin(&req).await.map(|_| None),
            E::MfaEnforcementWrite(name) => s.write_enforcement(&req, &name).await.map(|_| None),
            E::MfaEnforcementRead(name) => s.read_enforcement(&name).map(Some),
            E::MfaEnforcementDelete(name) => s.delete_enforcement(&name).await.map(|_| None),
            E::MfaEnforcementList => s.list_enforcements().map(Some),
        }
    }
}
