//! Every `sys/` endpoint Arca serves, parsed from the mount-relative path before handling.

/// A parsed `sys/` endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Health,
    SealStatus,
    Init,
    Unseal,
    Seal,
    StepDown,
    Leader,
    HaStatus,
    /// `storage/raft/<rest>`: integrated storage's endpoints, served by the server.
    StorageRaft(String),
    KeyStatus,
    Rotate,
    /// `rekey/init`, or `rekey-recovery-key/init` (`true`).
    RekeyInit(bool),
    /// `rekey/update`, or `rekey-recovery-key/update` (`true`).
    RekeyUpdate(bool),
    /// `rekey/verify`, or `rekey-recovery-key/verify` (`true`).
    RekeyVerify(bool),
    /// `rekey/backup`: PGP-encrypted key backups (Arca keeps none).
    RekeyBackup,
    GenerateRootAttempt,
    GenerateRootUpdate,
    Mounts,
    Mount(String),
    MountTune(String),
    Remount,
    RemountStatus(String),
    Auth,
    AuthMount(String),
    AuthTune(String),
    UiMounts,
    UiMount(String),
    Policies,
    Policy(String),
    PoliciesAcl,
    PolicyAcl(String),
    Capabilities,
    CapabilitiesSelf,
    CapabilitiesAccessor,
    ResultantAcl,
    /// `plugins/catalog`.
    PluginsCatalog,
    /// `plugins/catalog/:type` (list).
    PluginsCatalogType(String),
    /// `plugins/catalog/:type/:name`, or the untyped `plugins/catalog/:name` (type `None`).
    PluginsCatalogEntry(Option<String>, String),
    /// `plugins/reload/backend`.
    PluginsReloadBackend,
    /// `plugins/reload/backend/status` (Vault).
    PluginsReloadStatus,
    /// `plugins/reload/:type/:name` (Vault).
    PluginsReloadTyped(String, String),
    /// `leases/lookup` (PUT with `lease_id`).
    LeaseLookup,
    /// `leases/lookup/<prefix>` (LIST, sudo).
    LeaseLookupList(String),
    /// `leases/renew[/<id>]`, and the older `renew[/<id>]` (the path's id, or empty).
    LeaseRenew(String),
    /// `leases/revoke[/<id>]`, and the older `revoke[/<id>]`.
    LeaseRevoke(String),
    /// `leases/revoke-prefix/<prefix>` and `revoke-prefix/<prefix>` (sudo).
    LeaseRevokePrefix(String),
    /// `leases/revoke-force/<prefix>` and `revoke-force/<prefix>` (sudo).
    LeaseRevokeForce(String),
    /// `leases/tidy`.
    LeaseTidy,
    /// `leases/count` (`type=irrevocable`).
    LeaseCount,
    /// `leases` (the irrevocable leases, `type=irrevocable`).
    Leases,
    /// `wrapping/wrap`: wraps the request body.
    WrappingWrap,
    /// `wrapping/unwrap`.
    WrappingUnwrap,
    /// `wrapping/lookup` (no token needed).
    WrappingLookup,
    /// `wrapping/rewrap`.
    WrappingRewrap,
    /// `audit`: the device table (sudo).
    Audit,
    /// `audit/<path>`: enable (PUT) or disable (DELETE) a device (sudo).
    AuditDevice(String),
    /// `audit-hash/<path>`: an input HMAC'd with that device's salt.
    AuditHash(String),
    /// `config/auditing/request-headers`: the audited request headers (sudo).
    AuditedHeaders,
    /// `config/auditing/request-headers/<header>` (sudo).
    AuditedHeader(String),
    /// `namespaces`: the child namespaces of the request's (LIST).
    Namespaces,
    /// `namespaces/<name>`: create/update, read, patch, delete a child namespace.
    Namespace(String),
    /// `namespaces/api-lock/lock[/<path>]`.
    NamespaceLock(String),
    /// `namespaces/api-lock/unlock[/<path>]`.
    NamespaceUnlock(String),
    /// `namespaces/<name>/seal-status|seal|unseal` (the second field names which).
    NamespaceSeal(String, &'static str),
    /// `locked-users`: the aliases user lockout holds (READ, `mount_accessor` optional).
    LockedUsers,
    /// `locked-users/<mount accessor>/unlock/<alias>`.
    LockedUserUnlock(String, String),
    /// `policies/password`: the namespace's password policies (LIST).
    PasswordPolicies,
    /// `policies/password/<name>`: write, read, delete a password policy.
    PasswordPolicy(String),
    /// `policies/password/<name>/generate`: a password from the policy.
    PasswordPolicyGenerate(String),
    /// `replication/status`: OpenBao lists it as a path needing no token but serves nothing
    /// there (replication is Vault Enterprise's), so it answers a bare 404.
    ReplicationStatus,
    /// `host-info`.
    HostInfo,
    /// `in-flight-req`: the requests being served.
    InFlightReq,
    /// `config/state/sanitized`.
    ConfigStateSanitized,
    /// `version-history` (LIST).
    VersionHistory,
    /// `internal/counters/tokens`.
    CountersTokens,
    /// `internal/counters/entities`.
    CountersEntities,
    /// `internal/counters/requests` (removed in OpenBao: a 404 saying so).
    CountersRequests,
    /// `loggers`: every logger's level.
    Loggers,
    /// `monitor`: the log, streamed.
    Monitor,
    /// `loggers/<name>`.
    Logger(String),
    /// `tools/random[/<rest>]`: what follows `tools/random/` (source and/or byte count).
    ToolsRandom(String),
    /// `tools/hash[/<algorithm>]`: the path's algorithm, or empty.
    ToolsHash(String),
    /// `quotas/config`: the quota configuration.
    QuotasConfig,
    /// `quotas/rate-limit`, `quotas/lease-count` (LIST).
    QuotasList(crate::quotas::QuotaType),
    /// `quotas/<type>/<name>`: write, read, delete a quota.
    Quota(crate::quotas::QuotaType, String),
    /// `metrics`: the telemetry, JSON or `?format=prometheus` (READ).
    Metrics,
    /// `config/cors`: the CORS configuration (sudo).
    ConfigCors,
    /// `config/ui/headers`: the UI's configured headers (LIST, sudo).
    UiHeaders,
    /// `config/ui/headers/<header>` (sudo).
    UiHeader(String),
    /// `internal/specs/openapi`: the OpenAPI document of the mounts the request sees.
    OpenApi,
}

/// `sys/locked-users`'s fields.
const LOCKED_USERS_FIELDS: &[(&str, FieldType)] = &[("mount_accessor", FieldType::String)];
/// `sys/locked-users/<accessor>/unlock/<alias>`'s fields (both from the URL).
const LOCKED_USER_UNLOCK_FIELDS: &[(&str, FieldType)] = &[
    ("mount_accessor", FieldType::String),
    ("alias_identifier", FieldType::String),
];

/// `sys/namespaces/<name>`'s fields (`path` is the URL's).
const NAMESPACE_FIELDS: &[(&str, FieldType)] = &[
    ("path", FieldType::String),
    ("custom_metadata", FieldType::Any),
    ("seal", FieldType::Any),
    ("pgp_keys", FieldType::StringSlice),
];
/// `sys/namespaces/<name>/unseal`'s fields.
const NAMESPACE_UNSEAL_FIELDS: &[(&str, FieldType)] = &[
    ("path", FieldType::String),
    ("key", FieldType::String),
    ("reset", FieldType::Bool),
];
/// `sys/namespaces/api-lock/lock`'s fields.
const NAMESPACE_LOCK_FIELDS: &[(&str, FieldType)] = &[("path", FieldType::String)];
/// `sys/namespaces/api-lock/unlock`'s fields.
const NAMESPACE_UNLOCK_FIELDS: &[(&str, FieldType)] = &[
    ("path", FieldType::String),
    ("unlock_key", FieldType::String),
];

/// The catalog types a typed catalog path accepts.
const CATALOG_TYPES: [&str; 3] = ["auth", "database", "secret"];

impl Endpoint {
    /// Parses a path relative to `sys/`.
    pub(crate) fn parse(path: &str) -> Option<Endpoint> {
        use Endpoint as E;
        let p = path;
        if let Some(e) = super::leases::parse(p) {
            return Some(e);
        }
        if p.starts_with("quotas/") {
            return super::quotas::parse(p);
        }
        // Only the exact path needs no token (with a trailing `/` it is an unknown path).
        if p == "replication/status" {
            return Some(E::ReplicationStatus);
        }
        Some(match p.trim_end_matches('/') {
            "health" => E::Health,
            "seal-status" => E::SealStatus,
            "init" => E::Init,
            "unseal" => E::Unseal,
            "seal" => E::Seal,
            "step-down" => E::StepDown,
            "leader" => E::Leader,
            "ha-status" => E::HaStatus,
            p if p.starts_with("storage/raft/") => {
                E::StorageRaft(p.trim_start_matches("storage/raft/").to_string())
            }
            "key-status" => E::KeyStatus,
            "rotate" => E::Rotate,
            "rekey/init" => E::RekeyInit(false),
            "rekey/update" => E::RekeyUpdate(false),
            "rekey/verify" => E::RekeyVerify(false),
            "rekey-recovery-key/init" => E::RekeyInit(true),
            "rekey-recovery-key/update" => E::RekeyUpdate(true),
            "rekey-recovery-key/verify" => E::RekeyVerify(true),
            "rekey/backup" => E::RekeyBackup,
            // OpenBao's CLI names these `generate-root-token/*`; Vault's `generate-root/*`.
            "generate-root/attempt" | "generate-root-token/attempt" => E::GenerateRootAttempt,
            "generate-root/update" | "generate-root-token/update" => E::GenerateRootUpdate,
            "mounts" => E::Mounts,
            "remount" => E::Remount,
            "auth" => E::Auth,
            "internal/ui/mounts" => E::UiMounts,
            "policy" => E::Policies,
            "policies/acl" => E::PoliciesAcl,
            "policies/password" => E::PasswordPolicies,
            "capabilities" => E::Capabilities,
            "capabilities-self" => E::CapabilitiesSelf,
            "capabilities-accessor" => E::CapabilitiesAccessor,
            "internal/ui/resultant-acl" => E::ResultantAcl,
            "internal/specs/openapi" => E::OpenApi,
            "plugins/catalog" => E::PluginsCatalog,
            "plugins/reload/backend" => E::PluginsReloadBackend,
            "plugins/reload/backend/status" => E::PluginsReloadStatus,
            "locked-users" => E::LockedUsers,
            "metrics" => E::Metrics,
            "wrapping/wrap" => E::WrappingWrap,
            "wrapping/unwrap" => E::WrappingUnwrap,
            "wrapping/lookup" => E::WrappingLookup,
            "wrapping/rewrap" => E::WrappingRewrap,
            "audit" => E::Audit,
            "config/auditing/request-headers" => E::AuditedHeaders,
            "namespaces" => E::Namespaces,
            "host-info" => E::HostInfo,
            "in-flight-req" => E::InFlightReq,
            "config/state/sanitized" => E::ConfigStateSanitized,
            "version-history" => E::VersionHistory,
            "internal/counters/tokens" => E::CountersTokens,
            "internal/counters/entities" => E::CountersEntities,
            "internal/counters/requests" => E::CountersRequests,
            "loggers" => E::Loggers,
            "monitor" => E::Monitor,
            "config/cors" => E::ConfigCors,
            "config/ui/headers" => E::UiHeaders,
            "namespaces/api-lock/lock" => E::NamespaceLock(String::new()),
            "namespaces/api-lock/unlock" => E::NamespaceUnlock(String::new()),
            _ => {
                if let Some(rest) = p.strip_prefix("namespaces/api-lock/lock/") {
                    return Some(E::NamespaceLock(rest.to_string()));
                }
                if let Some(rest) = p.strip_prefix("namespaces/api-lock/unlock/") {
                    return Some(E::NamespaceUnlock(rest.to_string()));
                }
                if let Some(rest) = p.strip_prefix("namespaces/") {
                    for which in ["seal-status", "seal", "unseal"] {
                        if let Some(name) = rest.strip_suffix(which)
                            && let Some(name) = name.strip_suffix('/')
                            && !name.is_empty()
                        {
                            return Some(E::NamespaceSeal(name.to_string(), which));
                        }
                    }
                    return Some(E::Namespace(rest.to_string()));
                }
                if let Some(rest) = p.strip_prefix("locked-users/")
                    && let Some((accessor, alias)) = rest.split_once("/unlock/")
                    && !accessor.is_empty()
                    && !alias.is_empty()
                {
                    return Some(E::LockedUserUnlock(accessor.to_string(), alias.to_string()));
                }
                if let Some(rest) = p.strip_prefix("audit/") {
                    return Some(E::AuditDevice(rest.to_string()));
                }
                if let Some(rest) = p.strip_prefix("audit-hash/") {
                    return Some(E::AuditHash(rest.to_string()));
                }
                if let Some(rest) = p.strip_prefix("config/ui/headers/") {
                    return Some(E::UiHeader(rest.to_string()));
                }
                if let Some(rest) = p.strip_prefix("config/auditing/request-headers/") {
                    return Some(E::AuditedHeader(rest.to_string()));
                }
                if let Some(rest) = p.strip_prefix("plugins/catalog/") {
                    let rest = rest.trim_end_matches('/');
                    if CATALOG_TYPES.contains(&rest) {
                        return Some(E::PluginsCatalogType(rest.to_string()));
                    }
                    return Some(match rest.split_once('/') {
                        Some((t, name)) if CATALOG_TYPES.contains(&t) && !name.is_empty() => {
                            E::PluginsCatalogEntry(Some(t.to_string()), name.to_string())
                        }
                        _ => E::PluginsCatalogEntry(None, rest.to_string()),
                    });
                }
                if let Some(rest) = p.strip_prefix("plugins/reload/") {
                    let rest = rest.trim_end_matches('/');
                    if let Some((t, name)) = rest.split_once('/')
                        && matches!(t, "auth" | "database" | "secret" | "unknown")
                        && !name.is_empty()
                        && !name.contains('/')
                    {
                        return Some(E::PluginsReloadTyped(t.to_string(), name.to_string()));
                    }
                    return None;
                }
                if let Some(rest) = p.strip_prefix("mounts/") {
                    if let Some(m) = rest.trim_end_matches('/').strip_suffix("/tune") {
                        return Some(E::MountTune(m.to_string()));
                    }
                    return Some(E::Mount(rest.to_string()));
                }
                if let Some(rest) = p.strip_prefix("auth/") {
                    if let Some(m) = rest.trim_end_matches('/').strip_suffix("/tune") {
                        return Some(E::AuthTune(m.to_string()));
                    }
                    return Some(E::AuthMount(rest.to_string()));
                }
                if let Some(rest) = p.strip_prefix("remount/status/") {
                    return Some(E::RemountStatus(rest.to_string()));
                }
                if let Some(rest) = p.strip_prefix("internal/ui/mounts/") {
                    return Some(E::UiMount(rest.to_string()));
                }
                if let Some(rest) = p.strip_prefix("policy/") {
                    return Some(E::Policy(rest.to_string()));
                }
                if let Some(rest) = p.strip_prefix("policies/password/") {
                    let rest = rest.trim_end_matches('/');
                    if let Some(name) = rest.strip_suffix("/generate")
                        && !name.is_empty()
                    {
                        return Some(E::PasswordPolicyGenerate(name.to_string()));
                    }
                    return Some(E::PasswordPolicy(rest.to_string()));
                }
                if let Some(rest) = p.strip_prefix("policies/acl/") {
                    return Some(E::PolicyAcl(rest.to_string()));
                }
                if let Some(name) = p.strip_prefix("loggers/") {
                    return Some(E::Logger(name.to_string()));
                }
                if p == "tools/random" {
                    return Some(E::ToolsRandom(String::new()));
                }
                if let Some(rest) = p.strip_prefix("tools/random/") {
                    return Some(E::ToolsRandom(rest.to_string()));
                }
                if p == "tools/hash" {
                    return Some(E::ToolsHash(String::new()));
                }
                if let Some(rest) = p.strip_prefix("tools/hash/") {
                    return Some(E::ToolsHash(rest.to_string()));
                }
                return None;
            }
        })
    }
}

use arca_sdk::framework::FieldType;

use super::leases;
use FieldType as T;

/// Parameters of `sys/mounts/<path>` and `sys/auth/<path>`, typed as OpenBao declares them.
const MOUNT_FIELDS: &[(&str, FieldType)] = &[
    ("config", T::Map),
    ("description", T::String),
    ("external_entropy_access", T::Bool),
    ("local", T::Bool),
    ("options", T::KvPairs),
    ("path", T::String),
    ("plugin_name", T::String),
    ("plugin_version", T::String),
    ("seal_wrap", T::Bool),
    ("type", T::String),
];
/// Parameters of `sys/audit/<path>`.
const AUDIT_FIELDS: &[(&str, FieldType)] = &[
    ("description", T::String),
    ("local", T::Bool),
    ("options", T::KvPairs),
    ("path", T::String),
    ("type", T::String),
];
/// Parameters of `sys/audit-hash/<path>`.
const AUDIT_HASH_FIELDS: &[(&str, FieldType)] = &[("input", T::String), ("path", T::String)];
/// Parameters of `sys/config/auditing/request-headers/<header>`.
const AUDITED_HEADER_FIELDS: &[(&str, FieldType)] = &[("header", T::String), ("hmac", T::Bool)];
/// Parameters of tune; the TTLs are strings, parsed by the handler with Go's texts.
const TUNE_FIELDS: &[(&str, FieldType)] = &[
    ("allowed_response_headers", T::CommaStringSlice),
    ("audit_non_hmac_request_keys", T::CommaStringSlice),
    ("audit_non_hmac_response_keys", T::CommaStringSlice),
    ("default_lease_ttl", T::String),
    ("delegated_auth_accessors", T::CommaStringSlice),
    ("description", T::String),
    ("listing_visibility", T::String),
    ("max_lease_ttl", T::String),
    ("options", T::KvPairs),
    ("passthrough_request_headers", T::CommaStringSlice),
    ("plugin_version", T::String),
    ("token_type", T::String),
    ("user_lockout_config", T::Map),
];
const CAPABILITIES_FIELDS: &[(&str, FieldType)] = &[
    ("path", T::CommaStringSlice),
    ("paths", T::CommaStringSlice),
    ("token", T::String),
];
const CAPABILITIES_ACCESSOR_FIELDS: &[(&str, FieldType)] = &[
    ("accessor", T::String),
    ("path", T::CommaStringSlice),
    ("paths", T::CommaStringSlice),
];
const POLICY_FIELDS: &[(&str, FieldType)] = &[
    ("name", T::String),
    ("policy", T::String),
    ("rules", T::String),
];
/// `policies/password/<name>` (`name` is the URL's).
const PASSWORD_POLICY_FIELDS: &[(&str, FieldType)] = &[("name", T::String), ("policy", T::String)];
/// `policies/password/<name>/generate`.
const PASSWORD_GENERATE_FIELDS: &[(&str, FieldType)] = &[("name", T::String)];
const REMOUNT_FIELDS: &[(&str, FieldType)] = &[("from", T::String), ("to", T::String)];
const REMOUNT_STATUS_FIELDS: &[(&str, FieldType)] = &[("migration_id", T::String)];
const UI_MOUNT_FIELDS: &[(&str, FieldType)] = &[("path", T::String)];
const CATALOG_TYPE_FIELDS: &[(&str, FieldType)] = &[("type", T::String)];
/// `plugins/catalog/[:type/]:name`: `args` and `env` are lists whose strings are not split.
const CATALOG_ENTRY_FIELDS: &[(&str, FieldType)] = &[
    ("args", T::StringSlice),
    ("command", T::String),
    ("env", T::StringSlice),
    ("name", T::String),
    ("oci", T::Bool),
    ("sha256", T::String),
    ("sha_256", T::String),
    ("type", T::String),
    ("version", T::String),
];
/// `plugins/reload/backend`: `mounts` is split on commas.
const RELOAD_BACKEND_FIELDS: &[(&str, FieldType)] = &[
    ("mounts", T::CommaStringSlice),
    ("plugin", T::String),
    ("scope", T::String),
];
/// Vault's `plugins/reload/backend/status`.
const RELOAD_STATUS_FIELDS: &[(&str, FieldType)] = &[("reload_id", T::String)];
/// Vault's `plugins/reload/:type/:name`.
const RELOAD_TYPED_FIELDS: &[(&str, FieldType)] = &[
    ("name", T::String),
    ("scope", T::String),
    ("type", T::String),
];
/// `generate-root-token/attempt`, OpenBao's authenticated (framework) form.
const GENERATE_ROOT_ATTEMPT_FIELDS: &[(&str, FieldType)] =
    &[("otp", T::String), ("pgp_key", T::String)];
/// `loggers`.
const LOGGERS_FIELDS: &[(&str, FieldType)] = &[("level", T::String)];
/// `monitor`.
const MONITOR_FIELDS: &[(&str, FieldType)] = &[("log_format", T::String), ("log_level", T::String)];
/// `loggers/<name>`.
const LOGGER_FIELDS: &[(&str, FieldType)] = &[("level", T::String), ("name", T::String)];
/// `tools/random[/<source>][/<bytes>]`.
const TOOLS_RANDOM_FIELDS: &[(&str, FieldType)] = &[
    ("bytes", T::Int),
    ("format", T::String),
    ("source", T::String),
    ("urlbytes", T::String),
];
/// `tools/hash[/<algorithm>]`.
const TOOLS_HASH_FIELDS: &[(&str, FieldType)] = &[
    ("algorithm", T::String),
    ("format", T::String),
    ("input", T::String),
    ("urlalgorithm", T::String),
];
/// `generate-root-token/update`.
const KEY_NONCE_FIELDS: &[(&str, FieldType)] = &[("key", T::String), ("nonce", T::String)];
/// `wrapping/unwrap`, `wrapping/lookup`, `wrapping/rewrap`.
const WRAPPING_TOKEN_FIELDS: &[(&str, FieldType)] = &[("token", T::String)];

impl Endpoint {
    /// The parameters the endpoint declares in OpenBao, with their types: given ones are
    /// converted before the handler reads them (or refused with the framework's 400), others
    /// draw the `Endpoint ignored these unrecognized parameters` warning. `None` for the
    /// endpoints Vault serves outside its logical router (health, seal-status, init, unseal,
    /// seal, step-down, leader, and the `rekey/*` handlers), which answer without warnings.
    /// The `generate-root/*` paths share OpenBao's authenticated `generate-root-token/*`
    /// (framework) fields: Arca serves both forms with a token.
    pub(crate) fn fields(&self) -> Option<&'static [(&'static str, FieldType)]> {
        use Endpoint as E;
        Some(match self {
            E::Mounts
            | E::Auth
            | E::KeyStatus
            | E::Rotate
            | E::RekeyBackup
            | E::UiMounts
            | E::Policies
            | E::PoliciesAcl
            | E::ResultantAcl
            | E::PluginsCatalog
            | E::Audit
            | E::AuditedHeaders => &[],
            E::Namespaces => &[],
            E::LockedUsers => LOCKED_USERS_FIELDS,
            E::OpenApi => super::paths::OPENAPI_FIELDS,
            E::Metrics => &[("format", FieldType::String)],
            E::ConfigCors => super::config_http::CORS_FIELDS,
            E::UiHeaders => &[],
            E::UiHeader(_) => super::config_http::UI_HEADER_FIELDS,
            E::LockedUserUnlock(..) => LOCKED_USER_UNLOCK_FIELDS,
            E::NamespaceSeal(_, "unseal") => NAMESPACE_UNSEAL_FIELDS,
            E::NamespaceSeal(..) => &[],
            E::Namespace(_) => NAMESPACE_FIELDS,
            E::NamespaceLock(_) => NAMESPACE_LOCK_FIELDS,
            E::NamespaceUnlock(_) => NAMESPACE_UNLOCK_FIELDS,
            E::AuditDevice(_) => AUDIT_FIELDS,
            E::AuditHash(_) => AUDIT_HASH_FIELDS,
            E::AuditedHeader(_) => AUDITED_HEADER_FIELDS,
            E::Mount(_) | E::AuthMount(_) => MOUNT_FIELDS,
            E::MountTune(_) | E::AuthTune(_) => TUNE_FIELDS,
            E::Remount => REMOUNT_FIELDS,
            E::RemountStatus(_) => REMOUNT_STATUS_FIELDS,
            E::UiMount(_) => UI_MOUNT_FIELDS,
            E::Capabilities | E::CapabilitiesSelf => CAPABILITIES_FIELDS,
            E::CapabilitiesAccessor => CAPABILITIES_ACCESSOR_FIELDS,
            E::Policy(_) | E::PolicyAcl(_) => POLICY_FIELDS,
            E::PasswordPolicies => &[],
            E::PasswordPolicy(_) => PASSWORD_POLICY_FIELDS,
            E::PasswordPolicyGenerate(_) => PASSWORD_GENERATE_FIELDS,
            E::QuotasConfig => super::quotas::CONFIG_FIELDS,
            E::QuotasList(_) => &[],
            E::Quota(crate::quotas::QuotaType::RateLimit, _) => super::quotas::RATE_LIMIT_FIELDS,
            E::Quota(crate::quotas::QuotaType::LeaseCount, _) => super::quotas::LEASE_COUNT_FIELDS,
            E::PluginsCatalogType(_) => CATALOG_TYPE_FIELDS,
            E::PluginsCatalogEntry(..) => CATALOG_ENTRY_FIELDS,
            E::PluginsReloadBackend => RELOAD_BACKEND_FIELDS,
            E::PluginsReloadStatus => RELOAD_STATUS_FIELDS,
            E::PluginsReloadTyped(..) => RELOAD_TYPED_FIELDS,
            E::GenerateRootAttempt => GENERATE_ROOT_ATTEMPT_FIELDS,
            E::GenerateRootUpdate => KEY_NONCE_FIELDS,
            E::LeaseLookup => leases::LOOKUP_FIELDS,
            E::LeaseLookupList(_) => leases::LIST_FIELDS,
            E::LeaseRenew(_) => leases::RENEW_FIELDS,
            E::LeaseRevoke(_) => leases::REVOKE_FIELDS,
            E::LeaseRevokePrefix(_) => leases::REVOKE_PREFIX_FIELDS,
            E::LeaseRevokeForce(_) => leases::REVOKE_FORCE_FIELDS,
            E::LeaseTidy => &[],
            E::LeaseCount => leases::COUNT_FIELDS,
            E::Leases => leases::LIST_IRREVOCABLE_FIELDS,
            E::WrappingUnwrap | E::WrappingLookup | E::WrappingRewrap => WRAPPING_TOKEN_FIELDS,
            E::ToolsRandom(_) => TOOLS_RANDOM_FIELDS,
            E::HostInfo
            | E::InFlightReq
            | E::ConfigStateSanitized
            | E::VersionHistory
            | E::CountersTokens
            | E::CountersEntities
            | E::CountersRequests => &[],
            E::Loggers => LOGGERS_FIELDS,
            E::Monitor => MONITOR_FIELDS,
            E::Logger(_) => LOGGER_FIELDS,
            E::ToolsHash(_) => TOOLS_HASH_FIELDS,
            E::Health
            | E::SealStatus
            | E::Init
            | E::Unseal
            | E::Seal
            | E::StepDown
            | E::Leader
            | E::HaStatus
            | E::StorageRaft(_)
            | E::RekeyInit(_)
            | E::RekeyUpdate(_)
            | E::RekeyVerify(_)
            // No handler: the body is never read.
            | E::ReplicationStatus
            // `wrapping/wrap` takes any body as the data to wrap.
            | E::WrappingWrap => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(
            Endpoint::parse("mounts/secret/tune"),
            Some(Endpoint::MountTune("secret".into()))
        );
        assert_eq!(
            Endpoint::parse("mounts/a/b"),
            Some(Endpoint::Mount("a/b".into()))
        );
        assert_eq!(
            Endpoint::parse("auth/userpass/tune"),
            Some(Endpoint::AuthTune("userpass".into()))
        );
        assert_eq!(
            Endpoint::parse("policies/acl/"),
            Some(Endpoint::PoliciesAcl)
        );
        assert_eq!(Endpoint::parse("nope"), None);
        assert_eq!(
            Endpoint::parse("policies/password/"),
            Some(Endpoint::PasswordPolicies)
        );
        assert_eq!(
            Endpoint::parse("policies/password/a/b/generate"),
            Some(Endpoint::PasswordPolicyGenerate("a/b".into()))
        );
        assert_eq!(
            Endpoint::parse("policies/password/generate"),
            Some(Endpoint::PasswordPolicy("generate".into()))
        );
        assert_eq!(
            Endpoint::parse("plugins/catalog/secret/"),
            Some(Endpoint::PluginsCatalogType("secret".into()))
        );
        assert_eq!(
            Endpoint::parse("plugins/catalog/auth/approle"),
            Some(Endpoint::PluginsCatalogEntry(
                Some("auth".into()),
                "approle".into()
            ))
        );
        assert_eq!(
            Endpoint::parse("plugins/catalog/kms/foo"),
            Some(Endpoint::PluginsCatalogEntry(None, "kms/foo".into()))
        );
        assert_eq!(
            Endpoint::parse("plugins/reload/backend"),
            Some(Endpoint::PluginsReloadBackend)
        );
        assert_eq!(
            Endpoint::parse("plugins/reload/backend/status"),
            Some(Endpoint::PluginsReloadStatus)
        );
        assert_eq!(
            Endpoint::parse("plugins/reload/secret/kv"),
            Some(Endpoint::PluginsReloadTyped("secret".into(), "kv".into()))
        );
        assert_eq!(Endpoint::parse("plugins/reload/kms/kv"), None);
    }
}
