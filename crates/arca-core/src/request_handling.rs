//! The request pipeline: sealed check, routing, token, existence check, ACL, backend call.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use arca_policy::{AclRequest, Operation as AclOp};
use arca_sdk::{LogicalError, Operation, Request, Response};

use crate::audit::AuditRecord;
use crate::backend_boundary;
use crate::core::Core;
use crate::identity::mfa;
use crate::leases::ttl::TtlLimits;
use crate::lockout;
use crate::login;
use crate::mounts::MountEntry;
use crate::namespaces::{Namespace, NamespaceStore};
use crate::token_store::TokenEntry;
use crate::token_use::TokenUse;
use crate::wrapping::{self, WrapContext};

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

/// What [`Core::handle_boxed`] returns: the request's answer, as a boxed future.
pub type BoxedAnswer<'a> =
    Pin<Box<dyn Future<Output = Result<Option<Response>, LogicalError>> + Send + 'a>>;

impl Core {
    /// [`Core::handle_request`] as a boxed future, for a server that keeps one per request.
    /// The status endpoints answered before the seal check (`sys/health` and the others of
    /// [`crate::sys::handle_pre_seal`]) get a future of their own, a few hundred bytes, not
    /// the whole pipeline's: a load balancer's probe does not allocate and move its state.
    pub fn handle_boxed(&self, req: Request) -> BoxedAnswer<'_> {
        if !crate::sys::is_pre_seal_path(&req.path) {
            return Box::pin(self.dispatch(Box::new(req)));
        }
        Box::pin(async move {
            match crate::sys::handle_pre_seal(
                &self.inner.seal,
                self,
                &self.inner.tokens,
                self.standby(),
                &req,
            )
            .await
            {
                Some(answer) => answer,
                None => Box::pin(self.handle_request(req)).await,
            }
        })
    }

    /// Handles one request end to end. `Ok(None)` means 204.
    ///
    /// With audit devices enabled, the request is recorded before its backend runs and the
    /// answer (or the error) after, fail closed: a request no device records fails with 500
    /// `internal error` and its backend never runs.
    pub async fn handle_request(&self, req: Request) -> Result<Option<Response>, LogicalError> {
        self.dispatch(Box::new(req)).await
    }

    /// [`Core::handle_request`] of a boxed request. The request (over a kilobyte) is boxed
    /// once and every future of the pipeline holds it by pointer: a future that held it by
    /// value would carry it at each level and be copied whole into its box (the request's
    /// future is boxed per request).
    async fn dispatch(&self, req: Box<Request>) -> Result<Option<Response>, LogicalError> {
        // With HA, a standby answers `sys/leader` itself (it has no mounts up).
        if let Some(ha) = &self.inner.ha
            && req.path.trim_end_matches('/') == "sys/leader"
            && !self.sealed()
        {
            return match req.operation {
                Operation::Read => {
                    crate::sys::raw_json(200, &ha.leader_status(self.inner.seal.active_since()))
                }
                _ => Err(LogicalError::empty_method_not_allowed()),
            };
        }
        if self.standby() {
            // Only the status endpoints (above and below) reach a standby's core; the HTTP
            // layer forwards the rest to the active node.
            if req.path.trim_end_matches('/') == "sys/seal" {
                return Err(LogicalError::from_status(
                    500,
                    "vault cannot seal when in standby mode; please restart instead",
                ));
            }
            if !crate::sys::is_pre_seal_path(&req.path) {
                return Err(LogicalError::from_status(
                    500,
                    "local node not active but active cluster node not found",
                ));
            }
        }
        // Boxed (as every branch most requests do not take): the future every request moves
        // stays small, and only the requests that take a branch pay for its state. The request
        // moves into the branch taken: held here across an await, it would be kept twice.
        if crate::sys::is_pre_seal_path(&req.path) {
            return Box::pin(self.pre_seal_request(req)).await;
        }
        self.unsealed_request(req).await
    }

    /// A request to one of the status endpoints [`crate::sys::handle_pre_seal`] answers,
    /// sealed or not.
    async fn pre_seal_request(&self, req: Box<Request>) -> Result<Option<Response>, LogicalError> {
        if let Some(result) = crate::sys::handle_pre_seal(
            &self.inner.seal,
            self,
            &self.inner.tokens,
            self.standby(),
            &req,
        )
        .await
        {
            return result;
        }
        Box::pin(self.unsealed_request(req)).await
    }

    /// The request past the status endpoints: refused while sealed, else routed (audited
    /// when audit devices are enabled) and timed.
    async fn unsealed_request(&self, req: Box<Request>) -> Result<Option<Response>, LogicalError> {
        if self.sealed() {
            return Err(LogicalError::Sealed);
        }
        // `vault.core.handle_request`: every request past the seal check, as OpenBao's.
        let started = std::time::Instant::now();
        let audit = &self.inner.audit;
        let answer = if !audit.enabled() || unaudited(&req.path) {
            self.route_request(req, None).await
        } else {
            Box::pin(self.audited_request(req)).await
        };
        self.metrics().core().handle_request.since(started);
        answer
    }

    /// [`Core::route_request`] with the audit devices recording the request before its
    /// backend runs and the answer (or the error) after.
    async fn audited_request(&self, req: Box<Request>) -> Result<Option<Response>, LogicalError> {
        let audit = &self.inner.audit;
        let mut rec = AuditRecord::of(&req);
        rec.headers = audit.pick_headers(&req.headers);
        let result = self.route_request(req, Some(&mut rec)).await;
        match result {
            Err(e) if rec.audit_failed => Err(e),
            Err(e) => {
                let text = error_text(&e);
                let text = (!text.is_empty()).then_some(text.as_str());
                if !rec.request_logged {
                    Box::pin(audit.log_request(&mut rec, text)).await?;
                }
                Box::pin(audit.log_response(&rec, None, text)).await?;
                Err(e)
            }
            Ok(resp) => {
                Box::pin(audit.log_response(&rec, resp.as_ref(), None)).await?;
                Ok(resp)
            }
        }
    }

    /// The pipeline after the seal check: routing, token, ACL, the request's audit line,
    /// backend, leases, wrapping.
    async fn route_request(
        &self,
        mut req: Box<Request>,
        mut audit: Option<&mut AuditRecord>,
    ) -> Result<Option<Response>, LogicalError> {
        // As Vault's `handleCancelableRequest`: no write reaches a path ending in `/`, whatever
        // the mount, before routing and before the token is looked at.
        if req.path.ends_with('/')
            && matches!(
                req.operation,
                Operation::Create | Operation::Update | Operation::Patch
            )
        {
            return Err(LogicalError::bad_request(
                "cannot write to a path ending in '/'",
            ));
        }
        let state_guard = self.inner.seal.read_state().await;
        if self.sealed() {
            return Err(LogicalError::Sealed);
        }
        // The namespace: the header's, then the deepest child the path begins with.
        let namespaces = &self.inner.namespaces;
        let resolved = namespaces.resolve(&req.namespace_path, &req.path)?;
        let ns = resolved.namespace;
        if resolved.strip > 0 {
            req.path.drain(..resolved.strip);
        }
        if !ns.is_root() {
            if self.inner.seals.sealed_at(&ns.path) {
                return Err(LogicalError::unavailable("namespace is sealed"));
            }
            check_namespace_access(namespaces, &ns, &req)?;
            if let Some(rec) = audit.as_deref_mut() {
                rec.namespace = Some(ns.clone());
                // Outside the root the path is logged inside the namespace (OpenBao's).
                rec.path.clone_from(&req.path);
            }
        }
        req.namespace_id.clone_from(&ns.id);
        req.namespace_path.clone_from(&ns.path);
        // The router knows every namespace's mounts by their full path.
        let full_path = if ns.is_root() {
            req.path.clone()
        } else {
            format!("{}{}", ns.path, req.path)
        };
        let routed = self
            .inner
            .mounts
            .router()
            .route(&full_path)
            .filter(|(_, route)| route.mount.load().namespace_id == ns.id);
        let Some((mount_path, route)) = routed else {
            if let Some(rec) = audit.as_deref_mut() {
                rec.token = Box::pin(self.lookup_request_token(&req)).await.ok();
            }
            return Err(Box::pin(self.unrouted(&req, &ns)).await);
        };
        let rel = full_path.get(mount_path.len()..).unwrap_or("").to_string();
        // The path inside the namespace (what the ACL and the audit log see).
        let ns_path = full_path.get(ns.path.len()..).unwrap_or("");
        let mount = route.mount.load_full();
        let handle = route.backend.load_full();
        if let Some(rec) = audit.as_deref_mut() {
            rec.mount = Some((mount_path.clone(), mount.clone()));
        }

        // Backends see their mount point inside the namespace, as OpenBao's.
        req.mount_point = mount_path.get(ns.path.len()..).unwrap_or("").to_string();
        req.mount_type = mount.kind.clone();
        req.mount_accessor = mount.accessor.clone();
        req.storage = Some(route.storage.clone());
        req.path = rel.clone();

        // `sys/mfa/validate` completes a login held back for MFA: it needs no token and the
        // core answers it (it mints the login's token), not the `sys/` backend.
        // Other operations than a write are OpenBao's 405 (a LIST is no path, 404).
        let mfa_validate = mount.kind == "system"
            && rel.trim_end_matches('/') == "mfa/validate"
            && req.operation != Operation::List;
        let unauthenticated = route.is_unauthenticated_path(&rel) || mfa_validate;
        req.unauthenticated = unauthenticated;

        // `sys/wrapping/{lookup,rewrap,unwrap}` check the wrapping token they name first, as
        // OpenBao does; when it is the request's own token, losing it to a concurrent caller
        // is OpenBao's invalid-token answer too, not a bare `permission denied`.
        let own_wrapping_token = if mount.kind == "system" && wrapping::takes_wrapping_token(&rel) {
            Box::pin(self.inner.wrapping.validate(&mut req)).await?;
            req.data.get("token").is_none_or(serde_json::Value::is_null)
        } else {
            false
        };

        // The token first, as Vault's `CheckToken`: a missing or bad token on an authenticated
        // path is refused before any backend code (existence check included) runs. A token
        // works in its own namespace and those below it only.
        let mut token_entry: Option<Arc<TokenEntry>> = None;
        if !unauthenticated || !req.token().is_empty() {
            let lookup = self
                .lookup_request_token(&req)
                .await
                .and_then(|entry| self.token_namespace(&entry, &ns).map(|_| entry));
            match lookup {
                Ok(entry) => {
                    if let Some(rec) = audit.as_deref_mut() {
                        rec.token = Some(entry.clone());
                    }
                    token_entry = Some(entry)
                }
                Err(_) if own_wrapping_token => return Err(wrapping::invalid_token()),
                Err(e) if !unauthenticated => return Err(e),
                Err(_) => {}
            }
        }

        // What the backend sees, from its existence check on: a salted stand-in for the
        // token and only the headers its mount lets through.
        let client_token = req.client_token.take();
        req.client_token = backend_boundary::backend_token(
            &req.mount_point,
            &mount.kind,
            &mount.uuid,
            client_token,
            token_entry.as_deref(),
        );
        req.headers = backend_boundary::passthrough_headers(
            &req.mount_point,
            std::mem::take(&mut req.headers),
            &mount.config.passthrough_request_headers,
        );

        if req.operation == Operation::Update || req.operation == Operation::Create {
            let ex = handle.backend.handle_existence_check(&req).await?;
            req.operation = if ex.check_found && !ex.exists {
                Operation::Create
            } else {
                Operation::Update
            };
        }

        // As in OpenBao, a limited-use token spends a use before the ACL check: a request the
        // ACL refuses still counts. The use is finished (the token revoked after its last)
        // whatever happens to this request, cancellation included. As OpenBao's login
        // requests, a request to a path that needs no token spends none of its uses.
        let mut token_use: Option<TokenUse> = None;
        let mut identified: Option<Arc<TokenEntry>> = None;
        if let Some(entry) = token_entry {
            let usable = if entry.num_uses > 0 && !unauthenticated {
                token_use = Box::pin(TokenUse::take(&self.inner.tokens, &entry)).await?;
                token_use.is_some()
            } else {
                true
            };
            if !usable {
                if own_wrapping_token {
                    return Err(wrapping::invalid_token());
                }
                if !unauthenticated {
                    return Err(acl_denied());
                }
            } else {
                let acl = self
                    .check_acl(&req, &ns, ns_path, route.is_root_path(&rel), &entry)
                    .await;
                if let Some(rec) = audit.as_deref_mut() {
                    rec.allowed = Some(acl.is_ok());
                }
                if let Err(e) = acl {
                    if let Some(used) = token_use.take() {
                        Box::pin(used.finish()).await?;
                    }
                    if !unauthenticated {
                        return Err(e);
                    }
                }
                // On a path that needs no token, a caller the ACL refuses is still identified,
                // so the backend can tailor its answer (the UI mount listing).
                identified = Some(entry);
            }
        }
        if let Some(te) = &identified {
            req.client_token_accessor = te.accessor.clone();
            req.display_name = te.display_name.clone();
            req.entity_id = te.entity_id.clone();
            // The token's policies and its entity's, as its ACL has them.
            req.policies = self
                .inner
                .identity
                .acl_policies(&te.entity_id, &te.policies)
                .into_owned();
        }
        let wrap = WrapContext::of(&req, ns_path);

        // The request's audit line, before the backend runs: no device records it, the
        // request fails here and nothing is done.
        if let Some(rec) = audit {
            rec.set_operation(req.operation);
            rec.request_logged = true;
            if let Err(e) = Box::pin(self.inner.audit.log_request(rec, None)).await {
                rec.audit_failed = true;
                if let Some(used) = token_use {
                    Box::pin(used.finish()).await?;
                }
                return Err(e);
            }
        }

        // User lockout around a login: the method names the alias first, and a locked alias
        // is refused before the method runs (OpenBao's `handleLoginRequest`).
        let mount_point = mount_path.get(ns.path.len()..).unwrap_or("");
        let login_user = if unauthenticated
            && matches!(req.operation, Operation::Update | Operation::Create)
            && mount_point.starts_with("auth/")
        {
            match Box::pin(self.lockout_check(&handle.backend, &mount, &ns, &req)).await {
                Ok(user) => user,
                Err(e) => {
                    if let Some(used) = token_use {
                        Box::pin(used.finish()).await?;
                    }
                    return Err(e);
                }
            }
        } else {
            None
        };

        // Lease-count quotas: room for one more lease under the request's quota is taken
        // before the backend runs (429 when full), given back when the request ends. Only
        // requests that can make a lease ask: never `sys/`, a LIST or a DELETE, and on the
        // token store only the `create*` paths (revoking must stay possible when full).
        let may_lease = mount.kind != "system"
            && matches!(
                req.operation,
                Operation::Read | Operation::Create | Operation::Update | Operation::Patch
            )
            && (mount.kind != "token" || rel.starts_with("create"));
        let lease_room = if may_lease && self.inner.quotas.has_lease_quotas() {
            match Box::pin(self.reserve_lease_room(&ns, mount_point, &rel, ns_path, &req)).await {
                Ok(room) => room,
                Err(e) => {
                    if let Some(used) = token_use {
                        Box::pin(used.finish()).await?;
                    }
                    return Err(e);
                }
            }
        } else {
            None
        };

        let mount_type = mount.kind.clone();
        let seals = mount_type == "system"
            && rel.trim_end_matches('/') == "seal"
            && matches!(req.operation, Operation::Update | Operation::Create);
        let steps_down = mount_type == "system"
            && rel.trim_end_matches('/') == "step-down"
            && matches!(req.operation, Operation::Update | Operation::Create);
        // `vault.route.<op>.<mount>` times the backend; a login (an unauthenticated write
        // under `auth/`) is `vault.core.handle_login_request` until its token is minted.
        let is_login = unauthenticated
            && matches!(req.operation, Operation::Update | Operation::Create)
            && mount_point.starts_with("auth/");
        let backend_started = std::time::Instant::now();
        // The answer boxed: held by value across the awaits below, it would make this future
        // (copied whole into its box per request) a kilobyte larger.
        let mut result = if mfa_validate {
            if matches!(req.operation, Operation::Update | Operation::Create) {
                Box::pin(self.mfa_validate(&req, &ns)).await
            } else {
                Err(LogicalError::UnsupportedOperation)
            }
        } else {
            let route_timers = self.metrics().route(&mount_path);
            let op = req.operation;
            let answer = handle.backend.handle_request(*req).await;
            route_timers.op(op).since(backend_started);
            if op == Operation::Help {
                answer.map(|r| r.map(help_body))
            } else {
                answer
            }
        }
        .map(|r| r.map(Box::new));
        if !seals && let Ok(Some(r)) = result.as_mut() {
            let registered = async {
                backend_boundary::screen_response(
                    mount_path.get(ns.path.len()..).unwrap_or(""),
                    &mount.config.allowed_response_headers,
                    r,
                );
                // Leases for a secret with a TTL (tokens get theirs where they are minted).
                // Registered before a last use revokes the token, so its revocation takes them too.
                let mut after = self
                    .inner
                    .leases
                    .register_response(&mount_path, &rel, &mount, identified.as_deref(), r)
                    .await;
                // A login's answer: the core mints its token.
                let mount_point = mount_path.get(ns.path.len()..).unwrap_or("");
                if after.is_ok()
                    && r.auth.is_some()
                    && mount_point.starts_with("auth/")
                    && mount.kind != "token"
                {
                    after =
                        Box::pin(self.issue_login_token(mount_point, &rel, &mount, &ns, r, false))
                            .await;
                }
                after
            };
            // A login's lease counts toward its role's quota: the role goes along.
            let after = match lease_room.as_ref().map(|(_, role)| role.clone()) {
                Some(role) if !role.is_empty() => {
                    Box::pin(crate::quotas::with_login_role(role, registered)).await
                }
                _ => registered.await,
            };
            if let Err(e) = after {
                result = Err(e);
            }
        }
        drop(lease_room);
        if is_login {
            self.metrics()
                .core()
                .handle_login_request
                .since(backend_started);
        }
        if let Some((user, settings)) = &login_user {
            match &result {
                Err(LogicalError::InvalidCredentials(_)) => {
                    if let Err(e) = Box::pin(self.inner.lockout.failed(user, *settings)).await {
                        result = Err(e);
                    }
                }
                // A login held for MFA has not succeeded yet (`sys/mfa/validate` says when).
                Ok(Some(r)) if r.auth.as_ref().is_some_and(|a| a.mfa_requirement.is_none()) => {
                    self.inner.lockout.succeeded(user)
                }
                _ => {}
            }
        }
        if let Some(used) = token_use {
            Box::pin(used.finish()).await?;
        }
        // The answer is never held across an await below (the future would keep room for it
        // beside `result`'s): sealing drops it first, wrapping takes it.
        let mut resp = result.map_err(|e| wrap.answer_error(e))?;
        if steps_down && let Some(ha) = &self.inner.ha {
            // The election task takes the state lock once this request has let go of it.
            ha.request_step_down();
        }
        if seals {
            drop(resp);
            // Sealing waits for every request in flight, this one included: let go first.
            drop(state_guard);
            Box::pin(self.seal()).await?;
            return Ok(None);
        }
        if let Some(r) = resp.as_mut() {
            r.mount_type = mount_type;
        }
        // Wrapping comes last: a wrapped secret keeps its lease.
        match resp {
            Some(r) if wrap.applies_to(&r) => Ok(Some(
                Box::pin(self.inner.wrapping.wrap_response(wrap, *r)).await?,
            )),
            resp => Ok(resp.map(|r| *r)),
        }
    }

    /// Takes room for a lease under the lease-count quota covering the request (the
    /// login's role resolved first when a role-based quota sits on its auth mount): the
    /// reservation and that role, or 429 when the quota is full.
    async fn reserve_lease_room(
        &self,
        ns: &Namespace,
        mount_point: &str,
        rel: &str,
        ns_path: &str,
        req: &Request,
    ) -> Result<Option<(crate::quotas::LeaseReservation, String)>, LogicalError> {
        let quotas = &self.inner.quotas;
        let role = if req.unauthenticated
            && mount_point.starts_with("auth/")
            && quotas.lease_role_needed(&ns.path, mount_point)
        {
            self.resolve_login_role(&ns.path, mount_point, &req.data)
                .await
        } else {
            String::new()
        };
        Ok(quotas
            .reserve_lease(&ns.path, mount_point, rel, &role, ns_path)?
            .map(|room| (room, role)))
    }

    /// Before a login on a mount lockout applies to: asks the method for the alias
    /// (`AliasLookahead`; its error is the answer) and refuses a locked one with `permission
    /// denied`. Says which alias to count, or `None` when lockout does not apply or the method
    /// names none.
    async fn lockout_check(
        &self,
        backend: &Arc<dyn arca_sdk::Backend>,
        mount: &MountEntry,
        ns: &Namespace,
        req: &Request,
    ) -> Result<Option<(lockout::LoginUser, lockout::Settings)>, LogicalError> {
        let Some(settings) = self.inner.lockout.settings(mount) else {
            return Ok(None);
        };
        let mut ahead = req.clone();
        ahead.operation = Operation::AliasLookahead;
        // The method's own refusal of the request (OpenBao: `missing role_id`) is the answer.
        let alias = backend
            .handle_request(ahead)
            .await?
            .and_then(|r| r.auth)
            .and_then(|a| a.alias)
            .map(|a| a.name);
        let Some(alias) = alias.filter(|a| !a.is_empty()) else {
            return Ok(None);
        };
        let user = lockout::LoginUser {
            mount_accessor: mount.accessor.clone(),
            alias,
            ns_prefix: ns.storage_prefix(),
        };
        if self.inner.lockout.is_locked(&user, settings).await? {
            return Err(LogicalError::PermissionDenied);
        }
        Ok(Some((user, settings)))
    }

    /// Mints the token of a login on the auth mount `mount_point` (inside `ns`).
    async fn issue_login_token(
        &self,
        mount_point: &str,
        rel: &str,
        mount: &MountEntry,
        ns: &Namespace,
        resp: &mut Response,
        mfa_validated: bool,
    ) -> Result<(), LogicalError> {
        let path = format!("{mount_point}{rel}");
        let site = login::LoginSite {
            mount_point,
            path: &path,
            mount,
            limits: TtlLimits::of_mount(mount, self.inner.mounts.system_ttls()),
            namespace_id: &ns.id,
            namespace_path: &ns.path,
            mfa_validated,
        };
        login::issue_token(
            &self.inner.tokens,
            &self.inner.leases,
            &self.inner.identity,
            site,
            resp,
        )
        .await
    }

    /// `sys/mfa/validate` (OpenBao's `handleMFALoginValidate`): takes the pending login,
    /// checks the passcodes against every enforcement its login falls under now, and mints
    /// the token the login would have had. A failed attempt puts the login back.
    async fn mfa_validate(
        &self,
        req: &Request,
        ns: &Namespace,
    ) -> Result<Option<Response>, LogicalError> {
        let (request_id, payload) = mfa::validate_fields(&req.data)?;
        let identity = &self.inner.identity;
        let Some(pending) = identity.take_pending(&request_id) else {
            return Err(LogicalError::bad_request("invalid request ID"));
        };
        match Box::pin(self.complete_mfa_login(&pending, ns, &payload)).await {
            Ok(resp) => Ok(Some(resp)),
            Err(e) => {
                identity.put_back(request_id, pending);
                Err(e)
            }
        }
    }

    /// The second half of an MFA login: the checks, then the token.
    async fn complete_mfa_login(
        &self,
        pending: &mfa::PendingLogin,
        ns: &Namespace,
        payload: &std::collections::HashMap<String, Vec<String>>,
    ) -> Result<Response, LogicalError> {
        let identity = &self.inner.identity;
        if pending.namespace_id != ns.id {
            return Err(LogicalError::internal(format!(
                "original request was issued in a different namesapce {}, current namespace is {}",
                pending.namespace_path, ns.path
            )));
        }
        let entity_id = pending.auth.entity_id.clone();
        if !identity.has_entity(&entity_id) {
            return Err(LogicalError::internal(
                "MFA validation failed. entity not found: <nil>",
            ));
        }
        let full = format!("{}{}", ns.path, pending.path);
        let mount = self
            .inner
            .mounts
            .router()
            .route(&full)
            .map(|(_, route)| route.mount.load_full())
            .ok_or_else(|| LogicalError::internal("failed to find MFAEnforcement configuration"))?;
        let matched = identity.login_enforcements(&entity_id, &mount.accessor, &mount.kind, &ns.id);
        if matched.is_empty() {
            return Err(LogicalError::internal(
                "found nil or empty MFAEnforcement configuration",
            ));
        }
        for e in &matched {
            identity
                .satisfy_enforcement(e, &entity_id, payload)
                .await
                .map_err(|err| {
                    LogicalError::forbidden(format!(
                        "failed to satisfy enforcement {}. error: {err}",
                        e.name
                    ))
                })?;
        }
        let mut resp = Response {
            auth: Some(pending.auth.clone()),
            ..Response::default()
        };
        let rel = pending
            .path
            .strip_prefix(pending.mount_point.as_str())
            .unwrap_or("");
        Box::pin(self.issue_login_token(&pending.mount_point, rel, &mount, ns, &mut resp, true))
            .await
            .map_err(|e| match e {
                LogicalError::Internal(m) => {
                    LogicalError::internal(format!("failed to create a token. error: {m}"))
                }
                other => other,
            })?;
        // The login has succeeded now: its alias's failed attempts are forgotten.
        if self.inner.lockout.settings(&mount).is_some()
            && let Some(alias) = pending.auth.alias.as_ref().filter(|a| !a.name.is_empty())
        {
            self.inner.lockout.succeeded(&lockout::LoginUser {
                mount_accessor: mount.accessor.clone(),
                alias: alias.name.clone(),
                ns_prefix: ns.storage_prefix(),
            });
        }
        Ok(resp)
    }

    /// The answer for a path no mount serves. As in Vault, the token and its ACL are checked
    /// before routing: a caller without a valid token, or whose policy does not cover the
    /// path, gets `permission denied` and learns nothing of which mounts exist; only a caller
    /// the ACL lets through hears that there is no handler.
    async fn unrouted(&self, req: &Request, ns: &Namespace) -> LogicalError {
        let entry = match self.lookup_request_token(req).await {
            Ok(entry) => entry,
            Err(e) => return e,
        };
        if let Err(e) = self.token_namespace(&entry, ns) {
            return e;
        }
        if let Err(e) = self.check_acl(req, ns, &req.path, false, &entry).await {
            return e;
        }
        LogicalError::not_found(format!(
            "no handler for route {:?}. route entry not found.",
            req.path
        ))
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
        let entry = self
            .inner
            .tokens
            .lookup(token)
            .await?
            .ok_or(LogicalError::PermissionDenied)?;
        // A token bound to CIDR blocks is refused from anywhere else, as an unknown one.
        if !entry.usable_from(req.connection.as_ref().map(|c| c.remote_addr.as_str())) {
            return Err(LogicalError::PermissionDenied);
        }
        // The tokens of a disabled entity are refused, as OpenBao's.
        if self.inner.identity.entity_disabled(&entry.entity_id) {
            return Err(LogicalError::PermissionDenied);
        }
        Ok(entry)
    }

    /// The namespace `entry` belongs to, when the request's namespace `ns` is it or lies
    /// below it; else the token is refused there (OpenBao's wrapped `permission denied`).
    pub(crate) fn token_namespace(
        &self,
        entry: &TokenEntry,
        ns: &Namespace,
    ) -> Result<Arc<Namespace>, LogicalError> {
        match self.inner.namespaces.by_id(&entry.namespace_id) {
            Some(token_ns) if token_ns.contains(ns) => Ok(token_ns),
            // A known token is refused as its ACL refuses (OpenBao's wrapped text).
            _ => Err(acl_denied()),
        }
    }

    /// Checks `entry`'s ACL for `path` (inside the request's namespace `ns`); `root_path` asks
    /// for sudo too. The token's policies are its own namespace's, and their paths are
    /// relative to it: a root policy grants `team-a/secret/*` inside `team-a/`. A refusal is
    /// OpenBao's multierror-wrapped `permission denied`.
    pub(crate) async fn check_acl(
        &self,
        req: &Request,
        ns: &Namespace,
        path: &str,
        root_path: bool,
        entry: &TokenEntry,
    ) -> Result<(), LogicalError> {
        let token_ns = self.token_namespace(entry, ns)?;
        // The token's own policies and its entity's (from the identity index, no storage).
        let names = self
            .inner
            .identity
            .acl_policies(&entry.entity_id, &entry.policies);
        let acl = self.inner.policies.acl(&token_ns, &names).await?;
        // The path as the token's namespace sees it.
        let below = ns.path.strip_prefix(token_ns.path.as_str()).unwrap_or("");
        let scoped;
        let path = if below.is_empty() {
            path
        } else {
            scoped = format!("{below}{path}");
            scoped.as_str()
        };
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

/// Refuses a request in a namespace (not the root) that an administrator locked, or one
/// below it — but not the unlock itself, nor revocations — and the `sys/` endpoints only the
/// root namespace serves.
fn check_namespace_access(
    namespaces: &NamespaceStore,
    ns: &Namespace,
    req: &Request,
) -> Result<(), LogicalError> {
    if let Some(locked) = namespaces.locked_ancestor(ns)
        && !matches!(req.operation, Operation::Revoke | Operation::Rollback)
        && req.path != "sys/namespaces/api-lock/unlock"
    {
        return Err(LogicalError::unavailable(format!(
            "API access to this namespace has been locked by an administrator - {:?} must be \
             unlocked to gain access.",
            locked.path
        )));
    }
    if let Some(sys) = req.path.strip_prefix("sys/")
        && ROOT_ONLY_SYS_PATHS.iter().any(|p| {
            sys.strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    {
        return Err(LogicalError::bad_request(
            "operation only available in root namespace",
        ));
    }
    Ok(())
}

/// `sys/` paths (and everything below them) only the root namespace serves (OpenBao's
/// `restrictedSysAPIs`).
const ROOT_ONLY_SYS_PATHS: [&str; 39] = [
    "audit-hash",
    "audit",
    "config/auditing",
    "config/cors",
    "config/reload",
    "config/state",
    "config/ui",
    "generate-recovery-token",
    "generate-root",
    "health",
    "host-info",
    "in-flight-req",
    "init",
    "internal/counters/activity",
    "internal/counters/activity/export",
    "internal/counters/activity/monthly",
    "internal/counters/config",
    "internal/inspect/router",
    "loggers",
    "metrics",
    "mfa/method",
    "monitor",
    "pprof",
    "quotas/config",
    "quotas/lease-count",
    "quotas/rate-limit",
    "raw",
    "rekey-recovery-key",
    "rekey",
    "replication/merkle-check",
    "replication/recover",
    "replication/reindex",
    "replication/status",
    "seal",
    "sealwrap/rewrap",
    "step-down",
    "storage",
    "sync/config",
    "unseal",
];

/// Requests OpenBao leaves out of the audit log.
/// A Help answer as Vault's HTTP layer sends it: the backend's data alone (`help`,
/// `openapi`, `see_also`), without the envelope.
fn help_body(resp: Response) -> Response {
    if resp.raw.is_some() {
        return resp;
    }
    let body = serde_json::to_vec(&resp.data.unwrap_or_default()).unwrap_or_default();
    Response {
        raw: Some(arca_sdk::RawHttp {
            status: 200,
            content_type: "application/json".into(),
            body,
            stream: None,
        }),
        ..Response::default()
    }
}

fn unaudited(path: &str) -> bool {
    matches!(path.trim_end_matches('/'), "sys/leader" | "sys/step-down")
}

/// An error as an audit line records it: the text the client reads.
fn error_text(e: &LogicalError) -> String {
    e.wire_messages().join("\n")
}

/// The refusal of a known token (by its ACL, or because its last use is taken): 403 with
/// `permission denied` wrapped as a multierror, exactly as OpenBao words it. An unknown or
/// missing token gets the bare [`LogicalError::PermissionDenied`] instead.
pub(crate) fn acl_denied() -> LogicalError {
    LogicalError::acl_denied()
}
