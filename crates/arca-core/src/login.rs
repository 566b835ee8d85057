//! Logins: what the core does with an auth method's answer (OpenBao's `LoginCreateToken` and
//! `RegisterAuth`, and the router's token type rule). The method answers an `Auth`; the core
//! resolves its token type against the mount's tune, prefixes its display name with the
//! mount, sanitizes its policies, computes its TTL against the mount's limits, mints the token
//! and gives a service token its lease (the `Auth` kept for renewals, which go back to the
//! method). User lockout (`lockout.rs`) runs around the same requests.

use std::time::Duration;

use arca_sdk::{LogicalError, Response};
use zeroize::Zeroizing;

use crate::identity::IdentityStore;
use crate::identity::mfa::PendingLogin;
use crate::leases::ExpirationManager;
use crate::leases::ttl::{TtlAsk, TtlLimits, calculate_ttl};
use crate::mounts::MountEntry;
use crate::token_backend::sanitize_policies;
use crate::token_store::{TokenEntry, TokenStore, now_unix};

/// The warning of a login held back for MFA, as OpenBao's.
const MFA_WARNING: &str = "A login request was issued that is subject to MFA validation. Please make sure to validate the login by sending another request to mfa/validate endpoint.";

/// Policies no token may be given (OpenBao's `NonAssignablePolicies`).
const NON_ASSIGNABLE: &[&str] = &["response-wrapping", "control-group"];

/// Where a login happened: the mount and the request, as the namespace sees them.
pub(crate) struct LoginSite<'a> {
    /// The auth mount (`auth/userpass/`), inside the namespace.
    pub mount_point: &'a str,
    /// The full login path (`auth/userpass/login/alice`), inside the namespace.
    pub path: &'a str,
    /// The mount's entry (tuned token type).
    pub mount: &'a MountEntry,
    /// The mount's TTL limits.
    pub limits: TtlLimits,
    /// The namespace's id.
    pub namespace_id: &'a str,
    /// The namespace's path (`""` for the root).
    pub namespace_path: &'a str,
    /// Whether the login's MFA was validated already (`sys/mfa/validate`): no enforcement
    /// is looked at again.
    pub mfa_validated: bool,
}

/// The token type a login gets: the method's ask against the mount's tuned `token_type`
/// (OpenBao's router: a tuned `service` or `batch` wins; the defaults decide the rest).
pub(crate) fn resolve_token_type(asked: &str, tuned: &str) -> &'static str {
    match tuned {
        "service" => "service",
        "batch" => "batch",
        "default-batch" => match asked {
            "" | "default" | "default-batch" | "batch" => "batch",
            _ => "service",
        },
        _ => match asked {
            "" | "default" | "default-service" | "service" => "service",
            _ => "batch",
        },
    }
}

/// The display name of a login's token: the mount path (without `auth/`, `/` as `-`) before
/// the method's name, with no trailing `-` (`userpass-alice`, `approle`).
pub(crate) fn login_display_name(mount_point: &str, name: &str) -> String {
    let source = mount_point
        .strip_prefix("auth/")
        .unwrap_or(mount_point)
        .replace('/', "-");
    format!("{source}{name}").trim_end_matches('-').to_string()
}

/// Mints the token of a login whose answer `resp` carries an `Auth`, and fills the answer's
/// token, accessor, TTL and policies. A login naming an alias gets the alias's entity (made
/// on first login) and that entity's identity policies; a disabled entity cannot log in.
/// Nothing but the entity is left behind on failure.
pub(crate) async fn issue_token(
    tokens: &TokenStore,
    leases: &ExpirationManager,
    identity: &IdentityStore,
    site: LoginSite<'_>,
    resp: &mut Response,
) -> Result<(), LogicalError> {
    let Some(auth) = resp.auth.as_mut() else {
        return Ok(());
    };
    if let Some(alias) = auth.alias.as_ref().filter(|a| !a.name.is_empty()) {
        auth.entity_id = identity
            .entity_for_login(&site.mount.accessor, site.namespace_id, alias)
            .await?;
        if identity.entity_disabled(&auth.entity_id) {
            return Err(LogicalError::PermissionDenied);
        }
        auth.group_aliases = identity
            .refresh_external_groups(&auth.entity_id, &site.mount.accessor, &auth.group_aliases)
            .await?;
    }
    if identity.entity_disabled(&auth.entity_id) {
        return Err(LogicalError::PermissionDenied);
    }
    if !site.mfa_validated {
        let matched = identity.login_enforcements(
            &auth.entity_id,
            &site.mount.accessor,
            &site.mount.kind,
            site.namespace_id,
        );
        if !matched.is_empty() {
            // OpenBao needs an entity to enforce MFA on: a login without one is refused.
            if auth.entity_id.is_empty() {
                return Err(LogicalError::PermissionDenied);
            }
            let held = std::mem::take(auth);
            let requirement = identity.hold_login(
                PendingLogin {
                    auth: held,
                    mount_point: site.mount_point.to_string(),
                    path: site.path.to_string(),
                    namespace_id: site.namespace_id.to_string(),
                    namespace_path: site.namespace_path.to_string(),
                    created: std::time::Instant::now(),
                },
                &matched,
            );
            auth.mfa_requirement = Some(requirement);
            resp.warn(MFA_WARNING);
            return Ok(());
        }
    }
    let token_type = resolve_token_type(&auth.token_type, &site.mount.config.token_type);
    auth.token_type = token_type.to_string();
    auth.display_name = login_display_name(site.mount_point, &auth.display_name);
    let now = now_unix();
    let (ttl, warnings) = calculate_ttl(
        site.limits,
        TtlAsk {
            backend_ttl: auth.lease.ttl.as_secs(),
            period: auth.period.as_secs(),
            backend_max_ttl: auth.lease.max_ttl.as_secs(),
            explicit_max_ttl: auth.explicit_max_ttl.as_secs(),
            start: now,
            now,
            ..TtlAsk::default()
        },
    )?;
    let policies = sanitize_policies(&auth.policies, !auth.no_default_policy);
    for p in &policies {
        if p == "root" {
            return Err(LogicalError::bad_request(
                "auth methods cannot create root tokens",
            ));
        }
        if NON_ASSIGNABLE.contains(&p.as_str()) {
            return Err(LogicalError::bad_request(format!(
                "cannot assign policy {p:?}"
            )));
        }
    }
    if ttl == 0 {
        tracing::error!("refusing to create a non-root zero TTL token");
        return Err(LogicalError::internal("internal error"));
    }
    let identity_policies = identity.identity_policies(&auth.entity_id);
    let batch = token_type == "batch";
    let entry = TokenEntry {
        path: site.path.to_string(),
        meta: auth
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        display_name: auth.display_name.clone(),
        creation_time: now,
        ttl,
        num_uses: i64::try_from(auth.num_uses).unwrap_or(i64::MAX),
        entity_id: auth.entity_id.clone(),
        bound_cidrs: auth.bound_cidrs.clone(),
        policies: policies.clone(),
        namespace_id: site.namespace_id.to_string(),
        explicit_max_ttl: auth.explicit_max_ttl.as_secs(),
        period: auth.period.as_secs(),
        token_type: token_type.to_string(),
        renewable: auth.lease.renewable && !batch,
        orphan: true,
        ..TokenEntry::default()
    };
    let (token, entry) = tokens.create(entry, None).await?;
    tokens.count_creation(
        &site.mount.namespace_path,
        &site.mount.kind,
        site.mount_point,
        &entry,
    );
    auth.lease.ttl = Duration::from_secs(entry.ttl);
    let mut all: Vec<String> = policies.iter().chain(&identity_policies).cloned().collect();
    all.sort();
    all.dedup();
    auth.policies = all;
    auth.token_policies = policies;
    auth.identity_policies = identity_policies;
    auth.orphan = true;
    auth.accessor = entry.accessor.clone();
    auth.lease.issue_time = None;
    if batch {
        auth.lease.renewable = false;
    } else if let Err(e) = leases.register_login(&entry, site.mount_point, auth).await {
        tracing::error!(path = %site.path, error = %e, "failed to register token lease during login request");
        if let Err(e) = tokens.revoke_orphan(&entry.id_hash).await {
            tracing::warn!(error = %e, "failed to clean up token lease during login request");
        }
        return Err(LogicalError::internal("internal error"));
    }
    auth.client_token = Zeroizing::new(token.to_string());
    for w in warnings {
        resp.warn(w);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_type_follows_openbaos_router() {
        assert_eq!(resolve_token_type("default", ""), "service");
        assert_eq!(resolve_token_type("default", "default-service"), "service");
        assert_eq!(resolve_token_type("batch", "default-service"), "batch");
        assert_eq!(resolve_token_type("default", "default-batch"), "batch");
        assert_eq!(resolve_token_type("service", "default-batch"), "service");
        assert_eq!(resolve_token_type("batch", "service"), "service");
        assert_eq!(resolve_token_type("service", "batch"), "batch");
    }

    #[test]
    fn display_names() {
        assert_eq!(
            login_display_name("auth/userpass/", "alice"),
            "userpass-alice"
        );
        assert_eq!(login_display_name("auth/approle/", ""), "approle");
        assert_eq!(login_display_name("auth/a/b/", "x"), "a-b-x");
    }
}
