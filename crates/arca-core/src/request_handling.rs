//! The request pipeline: sealed check, routing, token, existence check, ACL, backend call.

use std::sync::Arc;

use arca_policy::{AclRequest, Operation as AclOp};
use arca_sdk::{LogicalError, Operation, Request, Response};

use crate::core::Core;
use crate::token_store::TokenEntry;

/// Maps an SDK operation to the ACL's.
pub(crate) fn acl_op(op: Operation) -> AclOp {
    match op {
        Operation::Create => AclOp::Create,
        Operation::Read => AclOp::Read,
        Operation::Update => AclOp::Update,
        Operation::Patch => AclOp::Patch,
        Operation::Delete => AclOp::Delete,
        Operation::List => AclOp::List,
        Operation::Help => AclOp::Help,
        Operation::Renew => AclOp::Renew,
        Operation::Revoke => AclOp::Revoke,
        Operation::Rollback | Operation::ResolveRole | Operation::AliasLookahead => AclOp::Rollback,
    }
}

impl Core {
    /// Handles one request end to end. `Ok(None)` means 204.
    pub async fn handle_request(&self, mut req: Request) -> Result<Option<Response>, LogicalError> {
        if let Some(result) =
            crate::sys::handle_pre_seal(&self.inner.seal, self, &self.inner.tokens, &req).await
        {
            return result;
        }
        if self.sealed() {
            return Err(LogicalError::Sealed);
        }
        let state_guard = self.inner.seal.read_state().await;
        if self.sealed() {
            return Err(LogicalError::Sealed);
        }
        let Some((mount_path, route)) = self.inner.mounts.router().route(&req.path) else {
            return Err(LogicalError::not_found(format!(
                "no handler for route {:?}. route entry not found.",
                req.path
            )));
        };
        let full_path = req.path.clone();
        let rel = full_path.get(mount_path.len()..).unwrap_or("").to_string();
        let mount = route.mount.load_full();
        let handle = route.backend.load_full();

        req.mount_point = mount_path.clone();
        req.mount_type = mount.kind.clone();
        req.mount_accessor = mount.accessor.clone();
        req.storage = Some(route.storage.clone());
        req.path = rel.clone();

        let unauthenticated = route.is_unauthenticated_path(&rel);
        req.unauthenticated = unauthenticated;

        if req.operation == Operation::Update || req.operation == Operation::Create {
            let ex = handle.backend.handle_existence_check(&req).await?;
            req.operation = if ex.check_found && !ex.exists {
                Operation::Create
            } else {
                Operation::Update
            };
        }

        let mut token_entry: Option<Arc<TokenEntry>> = None;
        if !unauthenticated || !req.token().is_empty() {
            match self.lookup_request_token(&req).await {
                Ok(entry) => {
                    // As in OpenBao, a limited-use token spends a use before the ACL check: a
                    // request the ACL refuses still counts.
                    if entry.num_uses > 0 && self.inner.tokens.use_token(&entry).await?.is_none() {
                        if !unauthenticated {
                            return Err(acl_denied());
                        }
                    } else {
                        let acl = self
                            .check_acl(&req, &full_path, route.is_root_path(&rel), &entry)
                            .await;
                        match acl {
                            Ok(()) => token_entry = Some(entry),
                            Err(e) => {
                                if entry.num_uses > 0 {
                                    self.inner.tokens.finish_use(&entry.id_hash).await?;
                                }
                                if !unauthenticated {
                                    return Err(e);
                                }
                                // The path needs no token: the caller is still identified, so
                                // the backend can tailor its answer (the UI mount listing).
                                token_entry = Some(entry);
                            }
                        }
                    }
                }
                Err(e) if !unauthenticated => return Err(e),
                Err(_) => {}
            }
        }
        if let Some(te) = &token_entry {
            req.client_token_accessor = te.accessor.clone();
            req.display_name = te.display_name.clone();
            req.entity_id = te.entity_id.clone();
            req.policies = te.policies.clone();
        }
        if req.wrap_info.is_some() {
            return Err(LogicalError::bad_request(
                "response wrapping is not supported by this server yet",
            ));
        }

        let mount_type = mount.kind.clone();
        let seals = mount_type == "system"
            && rel.trim_end_matches('/') == "seal"
            && matches!(req.operation, Operation::Update | Operation::Create);
        if mount_type == "cubbyhole" {
            // Cubbyhole storage is keyed by the token's cubbyhole id, never the token itself.
            req.client_token = token_entry
                .as_ref()
                .map(|te| zeroize::Zeroizing::new(te.cubbyhole_id.clone()));
        }
        let result = handle.backend.handle_request(req).await;
        if let Some(te) = &token_entry
            && te.num_uses > 0
        {
            self.inner.tokens.finish_use(&te.id_hash).await?;
        }
        let mut resp = result?;
        if seals {
            // Sealing waits for every request in flight, this one included: let go first.
            drop(state_guard);
            self.seal().await?;
            return Ok(None);
        }
        if let Some(r) = resp.as_mut() {
            r.mount_type = mount_type;
        }
        Ok(resp)
    }

    /// Resolves the request's token: a missing or unknown token is a bare `permission denied`.
    pub(crate) async fn lookup_request_token(
        &self,
        req: &Request,
    ) -> Result<Arc<TokenEntry>, LogicalError> {
        let token = req.token();
        if token.is_empty() {
            return Err(LogicalError::PermissionDenied);
        }
        self.inner
            .tokens
            .lookup(token)
            .await?
            .ok_or(LogicalError::PermissionDenied)
    }

    /// Checks `entry`'s ACL for `path`; `root_path` asks for sudo too. A refusal is OpenBao's
    /// multierror-wrapped `permission denied`.
    pub(crate) async fn check_acl(
        &self,
        req: &Request,
        path: &str,
        root_path: bool,
        entry: &TokenEntry,
    ) -> Result<(), LogicalError> {
        let acl = self.inner.policies.acl(&entry.policies).await?;
        let acl_req = AclRequest {
            path,
            operation: acl_op(req.operation),
            data: Some(&req.data),
            wrap_ttl: req.wrap_info.as_ref().map(|w| w.ttl),
        };
        let result = acl.allow(&acl_req);
        if !result.allowed || (root_path && !result.root_privs) {
            return Err(acl_denied());
        }
        Ok(())
    }
}

/// The refusal of a known token (by its ACL, or because its last use is taken): 403 with
/// `permission denied` wrapped as a multierror, exactly as OpenBao words it. An unknown or
/// missing token gets the bare [`LogicalError::PermissionDenied`] instead.
pub(crate) fn acl_denied() -> LogicalError {
    LogicalError::acl_denied()
}
