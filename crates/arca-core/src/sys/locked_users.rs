//! `sys/locked-users` (the aliases user lockout holds, by namespace and mount accessor) and
//! `sys/locked-users/<mount accessor>/unlock/<alias>`, as OpenBao answers them.

use arca_sdk::{LogicalError, Operation, Request, Response};
use serde_json::{Value, json};

use super::endpoint::Endpoint;
use super::{data, str_field};
use crate::lockout::{Lockout, LoginUser};
use crate::namespaces::{Namespace, NamespaceStore};

/// Serves the locked-users endpoints for the request's namespace `ns`.
pub(super) async fn handle(
    lockout: &Lockout,
    namespaces: &NamespaceStore,
    ns: &Namespace,
    e: Endpoint,
    op: Operation,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    match (e, op) {
        (Endpoint::LockedUsers, Operation::Read) => {
            let accessor = str_field(&req.data, "mount_accessor").filter(|a| !a.is_empty());
            list(lockout, namespaces, ns, accessor.as_deref()).await
        }
        (
            Endpoint::LockedUserUnlock(mount_accessor, alias),
            Operation::Update | Operation::Create,
        ) => {
            lockout
                .unlock(&LoginUser {
                    mount_accessor,
                    alias,
                    ns_prefix: ns.storage_prefix(),
                })
                .await?;
            Ok(None)
        }
        _ => Err(LogicalError::UnsupportedOperation),
    }
}

/// `{by_namespace: [...], total}`: one entry per namespace (`ns` and those below it, or only
/// `ns` for one mount accessor), the namespaces by decreasing count.
async fn list(
    lockout: &Lockout,
    namespaces: &NamespaceStore,
    ns: &Namespace,
    accessor: Option<&str>,
) -> Result<Option<Response>, LogicalError> {
    let mut scope = vec![std::sync::Arc::new(ns.clone())];
    if accessor.is_none() {
        scope.extend(namespaces.descendants(ns));
    }
    let mut by_ns = Vec::new();
    let mut total = 0;
    for n in scope {
        let locked = lockout.locked(&n.storage_prefix(), accessor).await?;
        let mut accessors: Vec<Value> = locked
            .iter()
            .map(|(a, aliases)| {
                json!({"mount_accessor": a, "counts": aliases.len(), "alias_identifiers": aliases})
            })
            .collect();
        if let (Some(a), true) = (accessor, accessors.is_empty()) {
            accessors.push(json!({"mount_accessor": a, "counts": 0, "alias_identifiers": null}));
        }
        accessors.sort_by_key(|v| std::cmp::Reverse(v["counts"].as_u64().unwrap_or(0)));
        let counts: usize = locked.iter().map(|(_, a)| a.len()).sum();
        total += counts;
        by_ns.push(json!({
            "namespace_id": n.id,
            "namespace_path": n.path,
            "counts": counts,
            "mount_accessors": accessors,
        }));
    }
    by_ns.sort_by_key(|v| std::cmp::Reverse(v["counts"].as_u64().unwrap_or(0)));
    data(json!({"by_namespace": by_ns, "total": total}))
}
