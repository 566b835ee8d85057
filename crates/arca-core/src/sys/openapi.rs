//! `sys/internal/specs/openapi`: the OpenAPI 3 document of every mount of the request's
//! namespace the request may see, as OpenBao builds it. Each mount's backend is sent a Help
//! request for its root (with the mount's type as `requestResponsePrefix`) and answers its own
//! document under `openapi`; the paths are prefixed with the mount's path (or with a
//! `{<mount>_mount_path}` parameter under `generic_mount_paths`) and merged. A builtin engine,
//! a plugin across the plugin boundary and the core's own `sys/` and `auth/token/` backends all
//! answer the same way. Also the Help answers of `sys/` itself, from its path table.

use std::collections::BTreeSet;

use arca_sdk::framework::openapi::{OasDocument, OasParameter, OasSchema, help_from_table};
use arca_sdk::{BackendType, LogicalError, Operation, Request, Response, SpecialPaths};
use serde_json::Value;

use super::{bool_field, raw_json};
use crate::mount_store::MountStore;
use crate::mounts::{MountEntry, TableKind};
use crate::namespaces::{Namespace, NamespaceStore};
use crate::policy_store::PolicyStore;

/// What the endpoint reads.
pub(crate) struct Sources<'a> {
    pub(crate) mounts: &'a MountStore,
    pub(crate) policies: &'a PolicyStore,
    pub(crate) namespaces: &'a NamespaceStore,
    /// The server's version, the document's `info.version`.
    pub(crate) version: &'a str,
}

/// Serves `sys/internal/specs/openapi` (READ, or UPDATE with the same parameters): the raw
/// document, without Vault's envelope.
pub(crate) async fn handle(
    src: Sources<'_>,
    ns: &Namespace,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    let generic = bool_field(&req.data, "generic_mount_paths")?;
    let listed =
        super::mounts::listed_mounts(src.mounts, src.policies, src.namespaces, ns, req).await?;
    let mut doc = OasDocument::new(src.version);
    for entry in &listed {
        let Some(mount_doc) = mount_document(src.mounts, ns, entry).await else {
            continue;
        };
        merge(&mut doc, entry, mount_doc, generic);
    }
    dedupe_operation_ids(&mut doc);
    raw_json(200, &doc)
}

/// The document the backend of `entry` answers to a Help request for its root; `None` when it
/// has none (or fails to answer, which leaves its paths out rather than fail the whole
/// document).
async fn mount_document(
    mounts: &MountStore,
    ns: &Namespace,
    entry: &MountEntry,
) -> Option<OasDocument> {
    let route = mounts.route_in(ns, &entry.rel_route_path())?;
    let backend = route.backend.load().backend.clone();
    let mut req = Request::new(Operation::Help, "");
    req.data.insert(
        "requestResponsePrefix".into(),
        Value::String(entry.kind.clone()),
    );
    req.storage = Some(route.storage.clone());
    req.mount_point = entry.rel_route_path();
    req.mount_type = entry.kind.clone();
    req.mount_accessor = entry.accessor.clone();
    req.namespace_id = ns.id.clone();
    req.namespace_path = ns.path.clone();
    match backend.handle_request(req).await {
        Ok(Some(resp)) => OasDocument::from_help(resp.data.as_ref()?),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(mount = %entry.rel_route_path(), error = %e, "no OpenAPI document from the mount's backend");
            None
        }
    }
}

/// Adds the paths of one mount's document to `doc`, as OpenBao's `procMountGroup`.
fn merge(doc: &mut OasDocument, entry: &MountEntry, mount_doc: OasDocument, generic: bool) {
    let (group_prefix, is_singleton) = match entry.table {
        TableKind::Mounts => (
            "",
            matches!(entry.kind.as_str(), "system" | "identity" | "cubbyhole"),
        ),
        TableKind::Auth => ("auth/", entry.kind == "token"),
    };
    let full = format!("{group_prefix}{}", entry.path);
    // The builtin singletons carry no tag of their own type; OpenBao names them.
    let tag = match full.as_str() {
        "cubbyhole/" | "secret/" => Some("secrets"),
        "sys/" => Some("system"),
        "auth/token/" => Some("auth"),
        "identity/" => Some("identity"),
        _ => None,
    };
    let mount_param = (generic && !is_singleton).then(|| {
        format!(
            "{}_mount_path",
            entry.path.replace('-', "_").trim_end_matches('/')
        )
    });
    for (path, mut item) in mount_doc.paths {
        let path = path.trim_start_matches('/');
        if let Some(tag) = tag {
            for op in item.operations_mut() {
                if op.tags.is_empty() || tag == "identity" || tag == "system" {
                    op.tags = vec![tag.to_string()];
                }
            }
        }
        let mount = match &mount_param {
            Some(name) => {
                item.parameters.push(OasParameter {
                    name: name.clone(),
                    description: "Path that the backend was mounted at".into(),
                    location: "path".into(),
                    schema: Some(OasSchema {
                        kind: "string".into(),
                        default: Some(Value::String(entry.path.trim_end_matches('/').to_string())),
                        ..OasSchema::default()
                    }),
                    required: true,
                    deprecated: false,
                });
                format!("{{{name}}}/")
            }
            None => entry.path.clone(),
        };
        doc.paths
            .insert(format!("/{group_prefix}{mount}{path}"), item);
    }
    doc.components.schemas.extend(mount_doc.components.schemas);
}

/// Two mounts of one type give their operations the same ids; an id seen before gets `_2`,
/// `_3`, ... (as OpenBao's older `CreateOperationIDs`), so the document stays valid.
fn dedupe_operation_ids(doc: &mut OasDocument) {
    let mut seen = BTreeSet::new();
    for item in doc.paths.values_mut() {
        for op in item.operations_mut() {
            if op.operation_id.is_empty() {
                continue;
            }
            let base = op.operation_id.clone();
            let mut n = 1;
            while !seen.insert(op.operation_id.clone()) {
                n += 1;
                op.operation_id = format!("{base}_{n}");
            }
        }
    }
}

/// `sys/` paths served without a token outside the router's special paths: the seal and
/// health endpoints of the HTTP layer, the core's `mfa/validate`.
const DOC_UNAUTHENTICATED: &[&str] = &["health", "init", "seal-status", "unseal", "mfa/validate"];

/// The Help answer of the `sys/` backend: for its root every path of the table, for one
/// path the rows that match it.
pub(crate) fn help(req: &Request, special: &SpecialPaths) -> Response {
    // These need no token, but the HTTP layer or the core answers them before the router's
    // special paths are asked; the document says so as OpenBao's does.
    let mut special = special.clone();
    special
        .unauthenticated
        .extend(DOC_UNAUTHENTICATED.iter().map(|p| p.to_string()));
    help_from_table(
        req,
        &super::paths::docs(),
        &special,
        BackendType::Unknown,
        "The system backend is built-in to Vault and cannot be remounted or unmounted. It \
         contains the paths that are used to configure Vault itself as well as perform core \
         operations.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sys_help_documents_the_table() {
        let special = SpecialPaths {
            root: vec!["auth/*".into()],
            ..SpecialPaths::default()
        };
        let resp = help(&Request::new(Operation::Help, ""), &special);
        let doc = OasDocument::from_help(resp.data.as_ref().unwrap()).unwrap();
        assert!(doc.paths.contains_key("/mounts/{path}"));
        assert!(doc.paths["/auth/{path}"].sudo);
        assert!(!doc.paths["/auth"].sudo);
        let resp = help(&Request::new(Operation::Help, "mounts/kv"), &special);
        let data = resp.data.unwrap();
        assert_eq!(data["help"], "Mount a new backend at a new path.");
        let doc = OasDocument::from_help(&data).unwrap();
        assert_eq!(doc.paths.keys().collect::<Vec<_>>(), vec!["/mounts/{path}"]);
    }
}
