//! The token auth method mounted at `auth/token/`: create (plain, orphan, by role), look up,
//! renew and revoke tokens (by token, self or accessor), list accessors, roles and tidy.

use std::sync::{Arc, Weak};
use std::time::Duration;

use arca_policy::Capabilities;
use arca_sdk::{
    Backend, BackendType, ExistenceCheck, LogicalError, Operation, Request, Response, SpecialPaths,
};
use async_trait::async_trait;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::identity::IdentityStore;
use crate::leases::ExpirationManager;
use crate::leases::ttl::{TtlAsk, TtlLimits, calculate_ttl};
use crate::mount_store::MountStore;
use crate::namespaces::{Namespace, NamespaceStore};
use crate::policy_store::PolicyStore;
use crate::token_fields::{bool_or, duration_secs, int_field, str_field, string_list};
use crate::token_roles::{TokenRole, get_role, handle_roles};
use crate::token_store::{TokenEntry, TokenStore, now_unix};

/// The `auth/token/` backend.
pub(crate) struct TokenBackend {
    tokens: Arc<TokenStore>,
    /// For `sudo` checks and the warning about policies that do not exist.
    policies: Arc<PolicyStore>,
    /// For the token mount's tuned TTLs; held weakly, as the mount table owns this backend.
    mounts: Weak<MountStore>,
    /// Token leases: made at creation, moved to the new expiry on renewal.
    leases: Arc<ExpirationManager>,
    /// The namespaces: a token belongs to the one it was created in.
    namespaces: Arc<NamespaceStore>,
    /// The identity store: a token's entity's policies, shown by lookups.
    identity: Arc<IdentityStore>,
}

impl TokenBackend {
    pub(crate) fn new(
        tokens: Arc<TokenStore>,
        policies: Arc<PolicyStore>,
        mounts: Weak<MountStore>,
        leases: Arc<ExpirationManager>,
        namespaces: Arc<NamespaceStore>,
        identity: Arc<IdentityStore>,
    ) -> TokenBackend {
        TokenBackend {
            tokens,
            policies,
            mounts,
            leases,
            namespaces,
            identity,
        }
    }
}

fn iso(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
        .unwrap_or_default()
}

/// The JSON `lookup` returns for a token (`id` is shown only when looked up by token;
/// `namespace_path` only for a token of a namespace other than the root; the entity's
/// `identity_policies` only when it has some).
pub(crate) fn lookup_json(
    e: &TokenEntry,
    id: Option<&str>,
    ns: &Namespace,
    identity_policies: &[String],
) -> Value {
    let now = now_unix();
    let ttl = e.expire_time().map(|t| (t - now).max(0)).unwrap_or(0);
    let mut v = json!({
        "accessor": e.accessor,
        "creation_time": e.creation_time,
        "creation_ttl": e.creation_ttl,
        "display_name": e.display_name,
        "entity_id": e.entity_id,
        "expire_time": e.expire_time().map(iso),
        "explicit_max_ttl": e.explicit_max_ttl,
        "id": id.unwrap_or(""),
        "issue_time": iso(e.creation_time),
        "meta": if e.meta.is_empty() { Value::Null } else { json!(e.meta) },
        "num_uses": e.num_uses.max(0),
        "orphan": e.orphan,
        "path": e.path,
        "policies": e.policies,
        "renewable": e.renewable,
        "ttl": ttl,
        "type": e.token_type,
    });
    if let Value::Object(m) = &mut v {
        if e.period > 0 {
            m.insert("period".into(), json!(e.period));
        }
        if !ns.is_root() {
            m.insert("namespace_path".into(), json!(ns.path));
        }
        if !e.role.is_empty() {
            m.insert("role".into(), json!(e.role));
        }
        if !e.bound_cidrs.is_empty() {
            m.insert("bound_cidrs".into(), json!(e.bound_cidrs));
        }
        if !identity_policies.is_empty() {
            m.insert("identity_policies".into(), json!(identity_policies));
            m.insert("external_namespace_policies".into(), json!({}));
        }
        if e.last_renewal_time > 0 {
            m.insert("last_renewal_time".into(), json!(e.last_renewal_time));
            m.insert("last_renewal".into(), json!(iso(e.last_renewal_time)));
        }
    }
    v
}

/// Vault's `SanitizePolicies`: trimmed, lower-cased, `default` added when asked, only
/// `root` when `root` is present, sorted and deduplicated.
pub(crate) fn sanitize_policies(policies: &[String], add_default: bool) -> Vec<String> {
    let mut out: Vec<String> = policies
        .iter()
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    if out.iter().any(|p| p == "root") {
        return vec!["root".into()];
    }
    if add_default && !out.iter().any(|p| p == "default") {
        out.push("default".into());
    }
    out.sort();
    out.dedup();
    out
}

fn any_glob(patterns: &[String], value: &str) -> bool {
    patterns
        .iter()
        .any(|p| arca_sdk::glob::glob_match(p, value))
}

fn go_quote_list(v: &[String]) -> String {
    let items: Vec<String> = v.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", items.join(" "))
}

/// Works out the policies of a new token (Vault's `resolveTokenPolicies`).
pub(crate) fn resolve_policies(
    asked: Option<Vec<String>>,
    no_default_policy: bool,
    role: Option<&TokenRole>,
    parent: &TokenEntry,
    is_sudo: bool,
) -> Result<Vec<String>, LogicalError> {
    let asked = asked.unwrap_or_default();
    let mut policies = asked.clone();
    let mut add_default = false;
    let role_limits = role.filter(|r| {
        !r.allowed_policies.is_empty()
            || !r.disallowed_policies.is_empty()
            || !r.allowed_policies_glob.is_empty()
            || !r.disallowed_policies_glob.is_empty()
    });
    if let Some(role) = role_limits {
        let local_default = !no_default_policy
            && !role.token_no_default_policy
            && !role.disallowed_policies.iter().any(|p| p == "default")
            && !any_glob(&role.disallowed_policies_glob, "default");
        let mut final_policies = if asked.is_empty() {
            Vec::new()
        } else {
            sanitize_policies(&asked, local_default)
        };
        if !role.allowed_policies.is_empty() || !role.allowed_policies_glob.is_empty() {
            let allowed = sanitize_policies(&role.allowed_policies, local_default);
            if final_policies.is_empty() {
                final_policies = allowed;
            } else {
                let globs = sanitize_policies(&role.allowed_policies_glob, false);
                if final_policies
                    .iter()
                    .any(|p| !allowed.contains(p) && !any_glob(&globs, p))
                {
                    return Err(LogicalError::bad_request(format!(
                        "token policies ({}) must be subset of the role's allowed policies ({}) or glob policies ({})",
                        go_quote_list(&final_policies),
                        go_quote_list(&allowed),
                        go_quote_list(&globs)
                    )));
                }
            }
        } else if final_policies.is_empty() {
            final_policies = sanitize_policies(&parent.policies, local_default);
        }
        for p in &final_policies {
            if role.disallowed_policies.contains(p) || any_glob(&role.disallowed_policies_glob, p) {
                return Err(LogicalError::bad_request(format!(
                    "token policy {p:?} is disallowed by this role"
                )));
            }
        }
        policies = final_policies;
    } else if asked.is_empty() {
        policies = sanitize_policies(&parent.policies, false);
    } else if !is_sudo {
        let want = sanitize_policies(&asked, false);
        let have = sanitize_policies(&parent.policies, false);
        if want.iter().any(|p| !have.contains(p)) {
            return Err(LogicalError::bad_request(
                "child policies must be subset of parent",
            ));
        }
        add_default = !no_default_policy && parent.policies.iter().any(|p| p == "default");
    } else {
        add_default = !no_default_policy;
    }
    let mut out = sanitize_policies(&policies, add_default);
    if no_default_policy {
        out.retain(|p| p != "default");
    }
    if let Some(p) = out.iter().find(|p| *p == "response-wrapping") {
        return Err(LogicalError::bad_request(format!(
            "cannot assign policy {p:?}"
        )));
    }
    Ok(out)
}

/// Sanitizes a display name as Vault does: `token-<name>` with every run of characters
/// other than letters, digits and `-` replaced by `-`, and no trailing `-`.
pub(crate) fn display_name(name: &str) -> String {
    let full = format!("token-{name}");
    let mut out = String::with_capacity(full.len());
    let mut in_run = false;
    for c in full.chars() {
        if c.is_ascii_alphanumeric() || c == '-' {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('-');
            in_run = true;
        }
    }
    out.strip_suffix('-').map(str::to_string).unwrap_or(out)
}

fn auth_response(
    token: &str,
    e: &TokenEntry,
    lease_ttl: u64,
    renewable: bool,
    period: u64,
    explicit_max_ttl: u64,
) -> Response {
    Response {
        auth: Some(arca_sdk::Auth {
            client_token: Zeroizing::new(token.to_string()),
            accessor: e.accessor.clone(),
            policies: e.policies.clone(),
            token_policies: e.policies.clone(),
            metadata: e.meta.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            display_name: e.display_name.clone(),
            entity_id: e.entity_id.clone(),
            orphan: e.parent.is_empty(),
            token_type: e.token_type.clone(),
            num_uses: e.num_uses.max(0) as u64,
            period: Duration::from_secs(period),
            explicit_max_ttl: Duration::from_secs(explicit_max_ttl),
            lease: arca_sdk::LeaseOptions {
                ttl: Duration::from_secs(lease_ttl),
                renewable,
                issue_time: Some(iso(e.creation_time)),
                ..Default::default()
            },
            ..Default::default()
        }),
        ..Response::default()
    }
}

impl TokenBackend {
    /// The limits of the token mount at `mount_point`.
    fn limits(&self, mount_point: &str) -> TtlLimits {
        TtlLimits::of_mount_point(self.mounts.upgrade().as_deref(), mount_point)
    }

    /// Whether the client token holds `sudo` (or root) on `path` (inside the request's
    /// namespace `ns`), by its own namespace's policies.
    async fn has_sudo(&self, te: &TokenEntry, ns: &Namespace, path: &str) -> bool {
        let Some(token_ns) = self.namespaces.by_id(&te.namespace_id) else {
            return false;
        };
        if !token_ns.contains(ns) {
            return false;
        }
        let path = format!("{}{path}", token_ns.relative(&ns.path));
        let names = self.identity.acl_policies(&te.entity_id, &te.policies);
        match self.policies.acl(&token_ns, &names).await {
            Ok(acl) => acl.is_root() || acl.capability_set(&path).contains(Capabilities::SUDO),
            Err(_) => false,
        }
    }

    /// The request's namespace.
    fn request_namespace(&self, req: &Request) -> Result<Arc<Namespace>, LogicalError> {
        if req.namespace_id.is_empty() {
            return Ok(self.namespaces.root());
        }
        self.namespaces
            .by_id(&req.namespace_id)
            .ok_or_else(|| LogicalError::not_found("namespace not found"))
    }

    /// `e`'s namespace, when it is `ns` or lies below it: a token of another namespace is
    /// not seen from `ns`.
    fn visible(&self, e: &TokenEntry, ns: &Namespace) -> Option<Arc<Namespace>> {
        self.namespaces
            .by_id(&e.namespace_id)
            .filter(|token_ns| ns.contains(token_ns))
    }

    /// `auth/token/create`, `create-orphan` and `create/<role>`, in the steps of Vault's
    /// token creation: check the parent, read the fields, check them against the role,
    /// build the entry, persist it, answer.
    async fn create(
        &self,
        req: &Request,
        orphan: bool,
        role: Option<TokenRole>,
    ) -> Result<Option<Response>, LogicalError> {
        let parent = self.check_parent(req).await?;
        let mut fields = CreateRequest::parse(&req.data)?;
        let token_type = check_type_and_role(&mut fields, role.as_ref())?;
        let entity_alias = fields.entity_alias.clone();
        let mut new = self.build_entry(req, &parent, fields, token_type, orphan, role.as_ref())?;
        // A role's allowed entity alias (checked above): the token belongs to the entity of
        // that alias on the token mount, made on first use.
        if let Some(name) = entity_alias {
            let alias = arca_sdk::Alias {
                name,
                ..arca_sdk::Alias::default()
            };
            new.entry.entity_id = self
                .identity
                .entity_for_login(&req.mount_accessor, &new.entry.namespace_id, &alias)
                .await?;
        }
        let (token, entry) = self.tokens.create(new.entry, new.custom_id).await?;
        // Its lease, made here where the entry is at hand. Untracked, a token with a TTL would
        // outlive it: a failed registration revokes the token, as Vault's token store does.
        if let Err(e) = self.leases.register_token(&entry).await {
            self.tokens.revoke_tree(&entry.id_hash).await?;
            return Err(e);
        }
        let ns = self.request_namespace(req)?;
        self.tokens
            .count_creation(&ns.path, "token", &req.mount_point, &entry);
        answer_create(&self.policies, &ns, &token, &entry, new.plan, new.warnings).await
    }

    /// The caller's token as the parent of a new one: it must exist, not be a batch token
    /// and have no use limit. Says whether it holds `sudo` on the creation path.
    async fn check_parent(&self, req: &Request) -> Result<Parent, LogicalError> {
        let Some(entry) = self.tokens.lookup_with(req.token(), true).await? else {
            return Err(LogicalError::bad_request(
                "parent token lookup failed: no parent found",
            ));
        };
        if entry.is_batch() {
            return Err(LogicalError::bad_request(
                "batch tokens cannot create more tokens",
            ));
        }
        if entry.num_uses != 0 {
            return Err(LogicalError::bad_request(
                "restricted use token cannot generate child tokens",
            ));
        }
        let full_path = format!("{}{}", req.mount_point, req.path);
        let ns = self.request_namespace(req)?;
        let is_sudo = self.has_sudo(&entry, &ns, &full_path).await;
        Ok(Parent { entry, is_sudo })
    }

    /// Builds the new token's entry from the checked fields, the parent and the role:
    /// path, metadata, display name, custom id, policies, parentage and TTLs.
    fn build_entry(
        &self,
        req: &Request,
        parent: &Parent,
        fields: CreateRequest,
        token_type: &'static str,
        orphan: bool,
        role: Option<&TokenRole>,
    ) -> Result<NewToken, LogicalError> {
        let mut renewable = fields.renewable;
        let mut entry = TokenEntry {
            parent: parent.entry.id_hash.clone(),
            path: format!("auth/token/{}", req.path.trim_end_matches('/')),
            meta: fields.meta,
            display_name: "token".into(),
            creation_time: now_unix(),
            token_type: token_type.into(),
            namespace_id: if req.namespace_id.is_empty() {
                crate::namespaces::ROOT_ID.to_string()
            } else {
                req.namespace_id.clone()
            },
            ..TokenEntry::default()
        };
        let mut num_uses = fields.num_uses;
        if let Some(role) = role {
            entry.role = role.name.clone();
            if renewable && !role.renewable {
                renewable = false;
            }
            if role.token_num_uses != 0 && (num_uses == 0 || role.token_num_uses < num_uses) {
                num_uses = role.token_num_uses;
            }
            if !role.path_suffix.is_empty() {
                entry.path = format!("{}/{}", entry.path, role.path_suffix);
            }
        }
        entry.num_uses = num_uses;
        if let Some(n) = &fields.display_name {
            entry.display_name = display_name(n);
        }
        if let Some(id) = &fields.id {
            check_custom_id(id, parent.is_sudo)?;
        }
        entry.policies = resolve_policies(
            fields.policies,
            fields.no_default_policy,
            role,
            &parent.entry,
            parent.is_sudo,
        )?;
        if entry.is_root() {
            if !parent.entry.is_root() {
                return Err(LogicalError::bad_request(
                    "root tokens may not be created without parent token being root",
                ));
            }
            if entry.is_batch() {
                return Err(LogicalError::bad_request(
                    "batch tokens cannot be root tokens",
                ));
            }
        }
        if let Some(role) = role {
            if role.orphan {
                entry.parent.clear();
            }
        } else if fields.no_parent {
            if !parent.is_sudo {
                return Err(LogicalError::bad_request(
                    "root or sudo privileges required to create orphan token",
                ));
            }
            entry.parent.clear();
        } else if orphan {
            entry.parent.clear();
        }
        if !entry.parent.is_empty() {
            entry.entity_id = parent.entry.entity_id.clone();
        }

        let mut warnings = Response::default();
        let plan = self.plan_ttl(
            req,
            parent,
            &fields.lifetimes,
            role,
            &mut entry,
            &mut warnings,
        )?;
        let renewable = renewable && plan.expires;
        entry.renewable = renewable;
        entry.creation_ttl = entry.ttl;
        entry.orphan = entry.parent.is_empty();
        if fields.id.is_some() {
            warnings.warn("Supplying a custom ID for the token uses the weaker SHA1 hashing instead of the more secure SHA2-256 HMAC for token obfuscation. SHA1 hashed tokens on the wire leads to less secure lookups.");
        }
        Ok(NewToken {
            entry,
            custom_id: fields.id,
            plan: TtlPlan { renewable, ..plan },
            warnings: warnings.warnings,
        })
    }

    /// TTL, period and explicit max TTL of a new token, merged with the role's and capped
    /// by the mount's limits; sets `entry.ttl`, `explicit_max_ttl` and `period`.
    fn plan_ttl(
        &self,
        req: &Request,
        parent: &Parent,
        asked: &Lifetimes,
        role: Option<&TokenRole>,
        entry: &mut TokenEntry,
        warnings: &mut Response,
    ) -> Result<TtlPlan, LogicalError> {
        let mut explicit_max_use = asked.explicit_max_ttl.unwrap_or(0);
        entry.explicit_max_ttl = explicit_max_use;
        let mut period_use = 0;
        if let Some(p) = asked.period.filter(|p| *p > 0) {
            if !parent.is_sudo {
                return Err(LogicalError::bad_request(
                    "root or sudo privileges required to create periodic token",
                ));
            }
            period_use = p;
        }
        let ttl = asked.ttl;
        if let Some(role) = role.filter(|_| !entry.is_batch()) {
            if role.token_explicit_max_ttl != 0 {
                if explicit_max_use == 0 {
                    explicit_max_use = role.token_explicit_max_ttl;
                } else {
                    explicit_max_use = explicit_max_use.min(role.token_explicit_max_ttl);
                    warnings.warn(format!(
                        "Explicit max TTL specified both during creation call and in role; using the lesser value of {explicit_max_use} seconds"
                    ));
                }
            }
            if role.token_period != 0 {
                if period_use == 0 {
                    period_use = role.token_period;
                } else {
                    period_use = period_use.min(role.token_period);
                    warnings.warn(format!(
                        "Period specified both during creation call and in role; using the lesser value of {period_use} seconds"
                    ));
                }
            }
        }
        entry.period = period_use;
        entry.ttl = ttl;
        if period_use > 0 || ttl > 0 || !entry.is_root() {
            let (t, ttl_warnings) = calculate_ttl(
                self.limits(&format!("{}{}", req.namespace_path, req.mount_point)),
                TtlAsk {
                    backend_ttl: ttl,
                    period: period_use,
                    explicit_max_ttl: explicit_max_use,
                    start: entry.creation_time,
                    now: now_unix(),
                    ..TtlAsk::default()
                },
            )?;
            for w in ttl_warnings {
                warnings.warn(w);
            }
            entry.ttl = t;
        }
        if entry.ttl == 0 && explicit_max_use > 0 {
            entry.ttl = explicit_max_use;
        }
        if entry.ttl == 0 && parent.entry.ttl != 0 {
            return Err(LogicalError::bad_request(
                "expiring root tokens cannot create non-expiring root tokens",
            ));
        }
        Ok(TtlPlan {
            period: period_use,
            explicit_max_ttl: explicit_max_use,
            expires: entry.ttl != 0,
            renewable: false,
        })
    }

    async fn renew(
        &self,
        req: &Request,
        e: Arc<TokenEntry>,
        shown_token: &str,
    ) -> Result<Option<Response>, LogicalError> {
        if e.is_batch() {
            return Err(LogicalError::bad_request("batch tokens cannot be renewed"));
        }
        if !e.renewable || e.ttl == 0 {
            return Err(LogicalError::bad_request("lease is not renewable"));
        }
        let increment = duration_secs(&req.data, "increment")?.unwrap_or(0);
        if !e.path.starts_with("auth/token/") {
            return self.renew_login(req, e, shown_token, increment).await;
        }
        let mut max = e.explicit_max_ttl;
        let mut period = e.period;
        if !e.role.is_empty() {
            let storage = req.storage()?;
            let Some(role) = get_role(storage.as_ref(), &e.role).await? else {
                return Err(LogicalError::internal(format!(
                    "original token role {:?} could not be found, not renewing",
                    e.role
                )));
            };
            if role.token_explicit_max_ttl != 0 && (max == 0 || role.token_explicit_max_ttl < max) {
                max = role.token_explicit_max_ttl;
            }
            if role.token_period != 0 && (period == 0 || role.token_period < period) {
                period = role.token_period;
            }
        }
        let now = now_unix();
        let (ttl, warnings) = calculate_ttl(
            self.limits(&format!("{}{}", req.namespace_path, req.mount_point)),
            TtlAsk {
                increment,
                backend_ttl: e.creation_ttl,
                period,
                explicit_max_ttl: max,
                start: e.creation_time,
                now,
                ..TtlAsk::default()
            },
        )?;
        let mut next = (*e).clone();
        next.ttl = ttl;
        next.last_renewal_time = now;
        let next = self.tokens.update(next).await?;
        self.leases.token_renewed(&next).await?;
        let mut r = auth_response(shown_token, &next, ttl, true, period, max);
        r.warnings = warnings;
        Ok(Some(r))
    }

    /// Renews the token of a login, as OpenBao's `RenewToken`: its lease's stored auth goes
    /// back to the auth method that issued it (`Renew` with the auth), whose answer sets the
    /// new TTL within that mount's limits.
    async fn renew_login(
        &self,
        req: &Request,
        e: Arc<TokenEntry>,
        shown_token: &str,
        increment: u64,
    ) -> Result<Option<Response>, LogicalError> {
        let lease_id = crate::leases::token_lease_id(&e);
        let Some(le) = self.leases.entry(&lease_id).await? else {
            return Err(LogicalError::bad_request("invalid lease ID"));
        };
        let (Some(stored), Some(mounts)) = (le.auth.clone(), self.mounts.upgrade()) else {
            return Err(LogicalError::bad_request("lease is not renewable"));
        };
        let ns_path = self
            .namespaces
            .by_id(&e.namespace_id)
            .map(|ns| ns.path.clone())
            .unwrap_or_default();
        let Some((mount_path, route)) = mounts.router().route(&format!("{ns_path}{}", le.path))
        else {
            return Err(LogicalError::bad_request(format!(
                "failed to renew entry: no handler for route \"{}\"",
                le.path
            )));
        };
        let mount = route.mount.load_full();
        let mut auth = stored;
        auth.lease.increment = Duration::from_secs(increment);
        auth.lease.issue_time = Some(iso(e.creation_time));
        let mut renew = Request::new(Operation::Renew, le.rel_path.clone());
        renew.id.clone_from(&req.id);
        renew.auth = Some(auth);
        renew.connection.clone_from(&req.connection);
        renew.storage = Some(route.storage.clone());
        renew.mount_point = mount_path
            .strip_prefix(&ns_path)
            .unwrap_or(&mount_path)
            .to_string();
        renew.mount_type = mount.kind.clone();
        renew.mount_accessor = mount.accessor.clone();
        renew.namespace_id = e.namespace_id.clone();
        let handle = route.backend.load_full();
        let answered = match handle.backend.handle_request(renew).await {
            Ok(r) => r,
            // OpenBao's `renewAuthEntry`: an error response passes as it is; an error is
            // `failed to renew entry: <it>`.
            Err(LogicalError::BadRequest(m)) => return Err(LogicalError::BadRequest(m)),
            Err(LogicalError::Internal(m)) => {
                return Err(LogicalError::internal(format!(
                    "failed to renew entry: {m}"
                )));
            }
            Err(err) => return Err(err),
        };
        let Some(mut auth) = answered.and_then(|r| r.auth) else {
            return Ok(None);
        };
        let limits = TtlLimits::of_mount(&mount, mounts.system_ttls());
        let now = now_unix();
        let (ttl, warnings) = calculate_ttl(
            limits,
            TtlAsk {
                increment,
                backend_ttl: auth.lease.ttl.as_secs(),
                period: auth.period.as_secs(),
                backend_max_ttl: auth.lease.max_ttl.as_secs(),
                explicit_max_ttl: auth.explicit_max_ttl.as_secs(),
                start: e.creation_time,
                now,
            },
        )?;
        auth.lease.ttl = Duration::from_secs(ttl);
        auth.client_token = Zeroizing::new(String::new());
        // The method's groups may have changed since the login (OpenBao's `RenewToken`).
        if !e.entity_id.is_empty() {
            auth.group_aliases = self
                .identity
                .refresh_external_groups(&e.entity_id, &mount.accessor, &auth.group_aliases)
                .await?;
        }
        let mut next = (*e).clone();
        next.ttl = ttl;
        next.last_renewal_time = now;
        let next = self.tokens.update(next).await?;
        self.leases.login_renewed(&next, &auth).await?;
        let mut r = auth_response(
            shown_token,
            &next,
            ttl,
            auth.lease.renewable,
            auth.period.as_secs(),
            auth.explicit_max_ttl.as_secs(),
        );
        if let Some(a) = r.auth.as_mut() {
            a.orphan = true;
        }
        r.warnings = warnings;
        Ok(Some(r))
    }

    async fn revoke_entry(
        &self,
        store: &TokenStore,
        e: Option<Arc<TokenEntry>>,
    ) -> Result<Option<Response>, LogicalError> {
        match e {
            Some(e) if e.is_batch() => {
                Err(LogicalError::bad_request("batch tokens cannot be revoked"))
            }
            Some(e) => {
                store.revoke_tree(&e.id_hash).await?;
                Ok(None)
            }
            None => Ok(None),
        }
    }
}

fn accessor_field(req: &Request) -> Result<String, LogicalError> {
    match str_field(&req.data, "accessor").filter(|a| !a.is_empty()) {
        Some(a) => Ok(a),
        None => Err(LogicalError::InvalidRequest("missing accessor".into())),
    }
}

fn token_field(req: &Request) -> Result<String, LogicalError> {
    match str_field(&req.data, "token").filter(|t| !t.is_empty()) {
        Some(t) => Ok(t),
        None => Err(LogicalError::bad_request("missing token ID")),
    }
}

/// The caller's token, checked as the parent of a new token.
struct Parent {
    entry: Arc<TokenEntry>,
    /// Whether it holds `sudo` (or root) on the creation path.
    is_sudo: bool,
}

/// The lifetime fields of a creation request, in seconds.
struct Lifetimes {
    explicit_max_ttl: Option<u64>,
    period: Option<u64>,
    /// `ttl`, or the older `lease`; 0 when neither is given.
    ttl: u64,
}

/// The fields of a token creation request (Vault's `tokenCreateRequest`), read and typed
/// before anything is decided.
struct CreateRequest {
    /// `type` as given (`""`, `service`, `batch`).
    token_type: String,
    renewable: bool,
    num_uses: i64,
    lifetimes: Lifetimes,
    entity_alias: Option<String>,
    meta: std::collections::BTreeMap<String, String>,
    display_name: Option<String>,
    /// A custom token id (sudo only).
    id: Option<Zeroizing<String>>,
    policies: Option<Vec<String>>,
    no_default_policy: bool,
    no_parent: bool,
}

impl CreateRequest {
    /// Reads the fields from the request data.
    fn parse(d: &arca_sdk::JsonMap) -> Result<CreateRequest, LogicalError> {
        let token_type = str_field(d, "type").unwrap_or_default();
        let renewable = bool_or(d, "renewable", true)?;
        let num_uses = int_field(d, "num_uses")?;
        let explicit_max_ttl = duration_secs(d, "explicit_max_ttl")?;
        let period = duration_secs(d, "period")?;
        let no_default_policy = bool_or(d, "no_default_policy", false)?;
        let no_parent = bool_or(d, "no_parent", false)?;
        let ttl = match duration_secs(d, "ttl")? {
            Some(t) => t,
            None => duration_secs(d, "lease")?.unwrap_or(0),
        };
        let meta = match d.get("meta") {
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(String::from)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect(),
            _ => Default::default(),
        };
        Ok(CreateRequest {
            token_type,
            renewable,
            num_uses,
            lifetimes: Lifetimes {
                explicit_max_ttl,
                period,
                ttl,
            },
            entity_alias: str_field(d, "entity_alias").filter(|a| !a.is_empty()),
            meta,
            display_name: str_field(d, "display_name").filter(|n| !n.is_empty()),
            id: str_field(d, "id")
                .filter(|i| !i.is_empty())
                .map(Zeroizing::new),
            policies: string_list(d, "policies"),
            no_default_policy,
            no_parent,
        })
    }
}

/// Settles the token type against the role's (`default-batch`, forced `service`/`batch`),
/// checks what a batch token may not have, the use count and the entity alias. A batch
/// token is never renewable.
fn check_type_and_role(
    fields: &mut CreateRequest,
    role: Option<&TokenRole>,
) -> Result<&'static str, LogicalError> {
    if let Some(role) = role {
        match role.token_type.as_str() {
            "" | "default" | "default-service" => {}
            "default-batch" => {
                if fields.token_type.is_empty() {
                    fields.token_type = "batch".into();
                }
            }
            "service" | "batch" => fields.token_type = role.token_type.clone(),
            other => {
                return Err(LogicalError::bad_request(format!(
                    "role being used for token creation contains invalid token type {other:?}"
                )));
            }
        }
    }
    let token_type = match fields.token_type.as_str() {
        "" | "service" => "service",
        "batch" => {
            let bad = if fields.lifetimes.explicit_max_ttl.unwrap_or(0) != 0 {
                Some("explicit_max_ttl")
            } else if fields.num_uses != 0 {
                Some("num_uses")
            } else if fields.lifetimes.period.unwrap_or(0) != 0 {
                Some("period")
            } else {
                None
            };
            if let Some(bad) = bad {
                return Err(LogicalError::bad_request(format!(
                    "batch tokens cannot have {bad:?} set"
                )));
            }
            fields.renewable = false;
            "batch"
        }
        _ => return Err(LogicalError::bad_request("invalid 'token_type' value")),
    };
    if fields.num_uses < 0 {
        return Err(LogicalError::bad_request(
            "number of uses cannot be negative",
        ));
    }
    if let Some(alias) = &fields.entity_alias {
        let Some(role) = role else {
            return Err(LogicalError::bad_request(
                "'entity_alias' is only allowed in combination with token role",
            ));
        };
        let alias = alias.to_lowercase();
        let allowed = role.allowed_entity_aliases.clone().unwrap_or_default();
        if !allowed.contains(&alias) && !any_glob(&allowed, &alias) {
            return Err(LogicalError::bad_request("invalid 'entity_alias' value"));
        }
    }
    Ok(token_type)
}

/// A custom token id needs sudo and may not look like a generated token.
fn check_custom_id(id: &str, is_sudo: bool) -> Result<(), LogicalError> {
    if !is_sudo {
        return Err(LogicalError::bad_request(
            "root or sudo privileges required to specify token id",
        ));
    }
    if id.starts_with("hvs.") {
        return Err(LogicalError::bad_request(
            "custom token ID cannot have the 'hvs.' prefix",
        ));
    }
    if id.starts_with("s.") {
        return Err(LogicalError::bad_request(
            "custom token ID cannot have the 's.' prefix",
        ));
    }
    if id.contains('.') {
        return Err(LogicalError::bad_request(
            "custom token ID cannot have a '.' in the value",
        ));
    }
    Ok(())
}

/// The lifetime a new token ends up with, for the answer.
struct TtlPlan {
    period: u64,
    explicit_max_ttl: u64,
    /// Whether the token has a TTL at all (a non-expiring token is never renewable).
    expires: bool,
    renewable: bool,
}

/// A built token entry, ready to persist.
struct NewToken {
    entry: TokenEntry,
    custom_id: Option<Zeroizing<String>>,
    plan: TtlPlan,
    warnings: Vec<String>,
}

/// The answer to a creation: the auth block, the warnings gathered on the way, and one
/// for each policy that does not exist.
async fn answer_create(
    policies: &PolicyStore,
    ns: &Namespace,
    token: &str,
    e: &TokenEntry,
    plan: TtlPlan,
    warnings: Vec<String>,
) -> Result<Option<Response>, LogicalError> {
    let mut out = auth_response(
        token,
        e,
        e.ttl,
        plan.renewable,
        plan.period,
        plan.explicit_max_ttl,
    );
    out.warnings = warnings;
    for p in &e.policies {
        if policies.get(ns, p).await?.is_none() {
            out.warn(format!("Policy {p:?} does not exist"));
        }
    }
    Ok(Some(out))
}

#[async_trait]
impl Backend for TokenBackend {
    async fn handle_request(&self, mut req: Request) -> Result<Option<Response>, LogicalError> {
        if req.operation == Operation::Help {
            return Ok(Some(arca_sdk::framework::openapi::help_from_table(
                &req,
                &crate::token_paths::docs(),
                &self.special_paths(),
                BackendType::Credential,
                "The token credential backend is always enabled and builtin to Vault. Client \
                 tokens are used to identify a client and to allow Vault to associate policies \
                 and ACLs which are enforced on every request.",
            )));
        }
        // Every declared field is converted (or refused) before any handler reads it; the
        // rest draw OpenBao's warning on the answer.
        let unknown = match crate::token_fields::schema(req.path.trim_end_matches('/')) {
            Some(schema) => crate::token_fields::convert_in_place(&mut req.data, schema)?,
            None => Vec::new(),
        };
        let mut resp = self.dispatch(req).await?;
        if let Some(resp) = resp.as_mut() {
            arca_sdk::framework::add_unknown_warning(resp, &unknown);
        }
        Ok(resp)
    }

    async fn handle_existence_check(&self, _req: &Request) -> Result<ExistenceCheck, LogicalError> {
        Ok(ExistenceCheck::default())
    }

    fn special_paths(&self) -> SpecialPaths {
        SpecialPaths {
            root: vec!["revoke-orphan/*".into(), "accessors*".into()],
            ..SpecialPaths::default()
        }
    }

    fn backend_type(&self) -> BackendType {
        BackendType::Credential
    }
}

impl TokenBackend {
    /// Runs the endpoint `req.path` names, its fields already converted.
    async fn dispatch(&self, req: Request) -> Result<Option<Response>, LogicalError> {
        let store = &*self.tokens;
        let ns = self.request_namespace(&req)?;
        // Tokens of another namespace than the request's (or one below it) are not seen.
        let seen = |e: Option<Arc<TokenEntry>>| {
            e.and_then(|e| self.visible(&e, &ns).map(|token_ns| (e, token_ns)))
        };
        let path = req.path.trim_end_matches('/').to_string();
        use Operation as O;
        let write = matches!(req.operation, O::Update | O::Create);
        match (path.as_str(), req.operation) {
            ("create" | "create-orphan", _) if write => {
                self.create(&req, path == "create-orphan", None).await
            }
            (p, _) if write && p.starts_with("create/") => {
                let name = &p["create/".len()..];
                let storage = req.storage()?;
                let Some(role) = get_role(storage.as_ref(), name).await? else {
                    return Err(LogicalError::bad_request(format!("unknown role {name}")));
                };
                self.create(&req, false, Some(role)).await
            }
            ("lookup-self", O::Read | O::Update | O::Create) => {
                let Some(e) = store.lookup_with(req.token(), true).await? else {
                    return Err(LogicalError::PermissionDenied);
                };
                let token_ns = self
                    .namespaces
                    .by_id(&e.namespace_id)
                    .ok_or(LogicalError::PermissionDenied)?;
                Ok(Some(Response::from_serialize(&lookup_json(
                    &e,
                    Some(req.token()),
                    &token_ns,
                    &self.identity.identity_policies(&e.entity_id),
                ))?))
            }
            ("lookup", O::Read | O::Update | O::Create) => {
                let t = str_field(&req.data, "token")
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| req.token().to_string());
                let tainted = t == req.token();
                let Some((e, token_ns)) = seen(store.lookup_with(&t, tainted).await?) else {
                    return Err(LogicalError::forbidden("bad token"));
                };
                Ok(Some(Response::from_serialize(&lookup_json(
                    &e,
                    Some(&t),
                    &token_ns,
                    &self.identity.identity_policies(&e.entity_id),
                ))?))
            }
            ("lookup-accessor", _) if write => {
                let a = accessor_field(&req)?;
                let Some((e, token_ns)) = seen(store.lookup_accessor(&a).await?) else {
                    return Err(LogicalError::InvalidRequest("invalid accessor".into()));
                };
                Ok(Some(Response::from_serialize(&lookup_json(
                    &e,
                    None,
                    &token_ns,
                    &self.identity.identity_policies(&e.entity_id),
                ))?))
            }
            ("renew-self", _) if write => {
                let Some(e) = store.lookup_with(req.token(), true).await? else {
                    return Err(LogicalError::bad_request("token not found"));
                };
                self.renew(&req, e, req.token()).await
            }
            ("renew", _) if write => {
                let t = token_field(&req)?;
                let Some((e, _)) = seen(store.lookup(&t).await?) else {
                    return Err(LogicalError::bad_request("token not found"));
                };
                self.renew(&req, e, &t).await
            }
            ("renew-accessor", _) if write => {
                let a = accessor_field(&req)?;
                let Some((e, _)) = seen(store.lookup_accessor(&a).await?) else {
                    return Err(LogicalError::InvalidRequest("invalid accessor".into()));
                };
                self.renew(&req, e, "").await
            }
            ("revoke-self", _) if write => {
                let e = store.lookup_with(req.token(), true).await?;
                self.revoke_entry(store, e).await
            }
            ("revoke", _) if write => {
                let t = token_field(&req)?;
                let e = seen(store.lookup(&t).await?).map(|(e, _)| e);
                self.revoke_entry(store, e).await
            }
            ("revoke-accessor", _) if write => {
                let a = accessor_field(&req)?;
                match seen(store.lookup_accessor(&a).await?) {
                    Some((e, _)) => {
                        store.revoke_tree(&e.id_hash).await?;
                        Ok(None)
                    }
                    None => {
                        let mut r = Response::default();
                        r.warn("No token found with this accessor");
                        Ok(Some(r))
                    }
                }
            }
            ("revoke-orphan", _) if write => {
                let t = token_field(&req)?;
                let caller = store.lookup_with(req.token(), true).await?;
                let full = format!("{}{}", req.mount_point, req.path);
                let sudo = match &caller {
                    Some(c) => self.has_sudo(c, &ns, &full).await,
                    None => false,
                };
                if !sudo {
                    return Err(LogicalError::bad_request(
                        "root or sudo privileges required to revoke and orphan",
                    ));
                }
                let Some((e, _)) = seen(store.lookup(&t).await?) else {
                    return Err(LogicalError::bad_request("token to revoke not found"));
                };
                if e.is_batch() {
                    return Err(LogicalError::bad_request("batch tokens cannot be revoked"));
                }
                store.revoke_orphan(&e.id_hash).await?;
                Ok(None)
            }
            ("accessors", O::List) => {
                // A namespace's accessors end in `.<its id>`; the root's carry no suffix.
                let mut keys = store.accessors().await?;
                keys.retain(|a| match crate::namespaces::id_suffix(a) {
                    Some(id) => id == ns.id,
                    None => ns.is_root(),
                });
                Ok(Some(Response::from_serialize(&json!({ "keys": keys }))?))
            }
            ("tidy", _) if write => {
                let report = store.tidy().await?;
                tracing::info!(
                    dangling_accessors = report.dangling_accessors,
                    revoked = report.revoked,
                    stale_parent_links = report.stale_parent_links,
                    "token: tidy done"
                );
                let mut r = Response::default();
                r.warn("Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs.");
                r.status = Some(202);
                Ok(Some(r))
            }
            ("roles", _) => handle_roles(&req, "").await,
            (p, _) if p.starts_with("roles/") => handle_roles(&req, &p["roles/".len()..]).await,
            (
                "create" | "create-orphan" | "lookup-self" | "lookup" | "lookup-accessor" | "renew"
                | "renew-self" | "renew-accessor" | "revoke" | "revoke-self" | "revoke-accessor"
                | "revoke-orphan" | "accessors" | "tidy",
                _,
            ) => Err(LogicalError::UnsupportedOperation),
            _ => Err(LogicalError::UnsupportedPath),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names() {
        for (input, want) in [
            ("Foo Bar", "token-Foo-Bar"),
            ("a..b", "token-a-b"),
            ("x!", "token-x"),
            ("ok-name", "token-ok-name"),
        ] {
            assert_eq!(display_name(input), want, "{input}");
        }
    }

    #[test]
    fn sanitizing() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            sanitize_policies(&s(&[" B", "a", "b"]), true),
            s(&["a", "b", "default"])
        );
        assert_eq!(sanitize_policies(&s(&["x", "root"]), true), s(&["root"]));
        assert_eq!(sanitize_policies(&s(&[]), false), s(&[]));
    }

    #[test]
    fn policy_resolution() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let parent = TokenEntry {
            policies: s(&["a", "b", "default"]),
            ..TokenEntry::default()
        };
        let role = TokenRole {
            allowed_policies: s(&["a", "c"]),
            disallowed_policies: s(&["bad"]),
            ..TokenRole::default()
        };
        // (asked, no_default, role, sudo, result or error text)
        #[allow(clippy::type_complexity)]
        let cases: Vec<(
            Option<Vec<String>>,
            bool,
            Option<&TokenRole>,
            bool,
            Result<Vec<String>, &str>,
        )> = vec![
            (None, false, None, false, Ok(s(&["a", "b", "default"]))),
            (
                Some(s(&["a"])),
                false,
                None,
                false,
                Ok(s(&["a", "default"])),
            ),
            (Some(s(&["a"])), true, None, false, Ok(s(&["a"]))),
            (
                Some(s(&["z"])),
                false,
                None,
                false,
                Err("child policies must be subset of parent"),
            ),
            (Some(s(&["z"])), false, None, true, Ok(s(&["default", "z"]))),
            (
                None,
                false,
                Some(&role),
                false,
                Ok(s(&["a", "c", "default"])),
            ),
            (
                Some(s(&["c"])),
                false,
                Some(&role),
                false,
                Ok(s(&["c", "default"])),
            ),
            (
                Some(s(&["b"])),
                false,
                Some(&role),
                false,
                Err(
                    "token policies ([\"b\" \"default\"]) must be subset of the role's allowed policies ([\"a\" \"c\" \"default\"]) or glob policies ([])",
                ),
            ),
            (
                Some(s(&["response-wrapping"])),
                false,
                None,
                true,
                Err("cannot assign policy \"response-wrapping\""),
            ),
        ];
        for (asked, nd, role, sudo, want) in cases {
            let got = resolve_policies(asked.clone(), nd, role, &parent, sudo);
            match want {
                Ok(v) => assert_eq!(got.unwrap(), v, "{asked:?}"),
                Err(t) => assert_eq!(got.unwrap_err().to_string(), t, "{asked:?}"),
            }
        }
    }
}
