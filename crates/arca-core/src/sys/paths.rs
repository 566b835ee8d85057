//! The table of `sys/` paths the OpenAPI document describes: each path in OpenAPI form and
//! the operations it serves. The parameters come from the endpoint model itself
//! ([`Endpoint::fields`] of the endpoint the path parses to), so the table names paths and
//! operations only; a test checks that every path parses to an endpoint.

use arca_sdk::Operation;
use arca_sdk::framework::FieldType;
use arca_sdk::framework::openapi::PathDoc;

use super::Endpoint;

use Operation::{Delete as D, List as L, Patch as P, Read as R, Update as U};

/// One row: the path (`mounts/{path}`), its operations, its synopsis.
struct SysPath {
    path: &'static str,
    ops: &'static [Operation],
    synopsis: &'static str,
}

const fn row(path: &'static str, ops: &'static [Operation], synopsis: &'static str) -> SysPath {
    SysPath {
        path,
        ops,
        synopsis,
    }
}

/// Every `sys/` path Arca serves, but `storage/raft/*` (present only with integrated storage;
/// OpenBao's dev server, in-memory storage, lists none either) and the older `renew`/`revoke*`
/// aliases of `leases/*`, which OpenBao's document leaves out too.
const SYS_PATHS: &[SysPath] = &[
    row("health", &[R], "Checks the health status of the server."),
    row("seal-status", &[R], "Check the seal status of the server."),
    row(
        "init",
        &[R, U],
        "Initializes or returns the initialization status of the server.",
    ),
    row("unseal", &[U], "Unseal the server."),
    row("seal", &[U], "Seal the server."),
    row(
        "step-down",
        &[U],
        "Cause the node to give up active status.",
    ),
    row(
        "leader",
        &[R],
        "Returns the high availability status and current leader instance.",
    ),
    row("ha-status", &[R], "Check the HA status of the cluster."),
    row(
        "key-status",
        &[R],
        "Provides information about the backend encryption key.",
    ),
    row(
        "rotate",
        &[U],
        "Rotates the backend encryption key used to persist data.",
    ),
    row(
        "rekey/init",
        &[R, U, D],
        "Initializes, reads or cancels a rekey.",
    ),
    row(
        "rekey/update",
        &[U],
        "Progresses a rekey with one unseal key share.",
    ),
    row(
        "rekey/verify",
        &[R, U, D],
        "Reads, progresses or cancels a rekey verification.",
    ),
    row(
        "rekey/backup",
        &[R, D],
        "The backed-up unseal keys of a rekey.",
    ),
    row(
        "generate-root/attempt",
        &[R, U, D],
        "Reads, starts or cancels a root generation.",
    ),
    row(
        "generate-root/update",
        &[U],
        "Progresses a root generation with one key share.",
    ),
    row(
        "generate-root-token/attempt",
        &[R, U, D],
        "Reads, starts or cancels a root generation.",
    ),
    row(
        "generate-root-token/update",
        &[U],
        "Progresses a root generation with one key share.",
    ),
    row("mounts", &[R], "List the currently mounted backends."),
    row(
        "mounts/{path}",
        &[R, U, D],
        "Mount a new backend at a new path.",
    ),
    row(
        "mounts/{path}/tune",
        &[R, U],
        "Tune backend configuration parameters for this mount.",
    ),
    row(
        "remount",
        &[U],
        "Move the mount point of an already-mounted backend.",
    ),
    row(
        "remount/status/{migration_id}",
        &[R],
        "Check the status of a mount move.",
    ),
    row(
        "auth",
        &[R],
        "List the currently enabled credential backends.",
    ),
    row("auth/{path}", &[R, U, D], "Enables a new auth method."),
    row(
        "auth/{path}/tune",
        &[R, U],
        "Tune the configuration parameters for an auth path.",
    ),
    row(
        "internal/ui/mounts",
        &[R],
        "Information about mounts returned according to their tuned visibility.",
    ),
    row(
        "internal/ui/mounts/{path}",
        &[R],
        "Information about a mount the token reaches.",
    ),
    row(
        "internal/ui/resultant-acl",
        &[R],
        "Information about a token's resultant ACL.",
    ),
    row(
        "internal/specs/openapi",
        &[R, U],
        "Generate an OpenAPI 3 document of all mounted paths.",
    ),
    row("internal/counters/tokens", &[R], "Count of active tokens."),
    row(
        "internal/counters/entities",
        &[R],
        "Count of active entities.",
    ),
    row(
        "internal/counters/requests",
        &[R],
        "Request counters (removed).",
    ),
    row(
        "policy",
        &[R, L],
        "List the configured access control policies.",
    ),
    row(
        "policy/{name}",
        &[R, U, D],
        "Read, Modify, or Delete an access control policy.",
    ),
    row(
        "policies/acl",
        &[L],
        "List the configured access control policies.",
    ),
    row(
        "policies/acl/{name}",
        &[R, U, D],
        "Read, Modify, or Delete an access control policy.",
    ),
    row(
        "policies/password",
        &[L],
        "List the existing password policies.",
    ),
    row(
        "policies/password/{name}",
        &[R, U, D],
        "Read, write, or delete a password policy.",
    ),
    row(
        "policies/password/{name}/generate",
        &[R],
        "Generate a password from an existing password policy.",
    ),
    row(
        "capabilities",
        &[U],
        "Fetches the capabilities of the given token on the given path.",
    ),
    row(
        "capabilities-self",
        &[U],
        "Fetches the capabilities of the request's token on the given path.",
    ),
    row(
        "capabilities-accessor",
        &[U],
        "Fetches the capabilities of the token associated with the given accessor.",
    ),
    row(
        "plugins/catalog",
        &[R],
        "Lists all the plugins known to the server.",
    ),
    row(
        "plugins/catalog/{type}",
        &[L],
        "Lists the plugins of one type.",
    ),
    row(
        "plugins/catalog/{type}/{name}",
        &[R, U, D],
        "Configures the plugins known to the server.",
    ),
    row(
        "plugins/catalog/{name}",
        &[R, U, D],
        "Configures the plugins known to the server.",
    ),
    row(
        "plugins/reload/backend",
        &[U],
        "Reload mounted plugin backends.",
    ),
    row("leases", &[R], "List the irrevocable leases."),
    row("leases/count", &[R], "Count of the irrevocable leases."),
    row("leases/lookup", &[U], "View or list lease metadata."),
    // The top level's list: OpenBao's document keeps the trailing slash.
    row("leases/lookup/", &[L], "View or list lease metadata."),
    row(
        "leases/lookup/{prefix}",
        &[L],
        "List the leases under a prefix.",
    ),
    row(
        "leases/renew",
        &[U],
        "Renews a lease, requesting to extend the lease.",
    ),
    row(
        "leases/renew/{url_lease_id}",
        &[U],
        "Renews a lease, requesting to extend the lease.",
    ),
    row("leases/revoke", &[U], "Revokes a lease immediately."),
    row(
        "leases/revoke/{url_lease_id}",
        &[U],
        "Revokes a lease immediately.",
    ),
    row(
        "leases/revoke-prefix/{prefix}",
        &[U],
        "Revokes all secrets (via a lease ID prefix).",
    ),
    row(
        "leases/revoke-force/{prefix}",
        &[U],
        "Revokes all secrets or tokens generated under a given prefix, ignoring backend errors.",
    ),
    row("leases/tidy", &[U], "Cleanup the storage of leases."),
    row(
        "wrapping/wrap",
        &[U],
        "Response-wraps an arbitrary JSON object.",
    ),
    row("wrapping/unwrap", &[U], "Unwraps a response-wrapped token."),
    row(
        "wrapping/lookup",
        &[R, U],
        "Looks up the properties of a response-wrapped token.",
    ),
    row("wrapping/rewrap", &[U], "Rotates a response-wrapped token."),
    row("audit", &[R], "List the enabled audit devices."),
    row("audit/{path}", &[U, D], "Enable or disable audit backends."),
    row(
        "audit-hash/{path}",
        &[U],
        "The hash of the given string via the given audit backend.",
    ),
    row(
        "config/auditing/request-headers",
        &[R],
        "Lists the headers configured to be audited.",
    ),
    row(
        "config/auditing/request-headers/{header}",
        &[R, U, D],
        "Configures the headers sent to the audit logs.",
    ),
    row("namespaces", &[L], "List the child namespaces."),
    row(
        "namespaces/{path}",
        &[R, U, P, D],
        "Create, read, patch or delete a namespace.",
    ),
    row(
        "namespaces/api-lock/lock",
        &[U],
        "Lock the API of the current namespace.",
    ),
    row(
        "namespaces/api-lock/lock/{path}",
        &[U],
        "Lock the API of a child namespace.",
    ),
    row(
        "namespaces/api-lock/unlock",
        &[U],
        "Unlock the API of the current namespace.",
    ),
    row(
        "namespaces/api-lock/unlock/{path}",
        &[U],
        "Unlock the API of a child namespace.",
    ),
    row(
        "namespaces/{path}/seal-status",
        &[R],
        "The seal status of a namespace.",
    ),
    row("namespaces/{path}/seal", &[U], "Seal a namespace."),
    row("namespaces/{path}/unseal", &[U], "Unseal a namespace."),
    row(
        "locked-users",
        &[R],
        "Report the locked user count metrics.",
    ),
    row(
        "locked-users/{mount_accessor}/unlock/{alias_identifier}",
        &[U],
        "Unlocks the user with given mount_accessor and alias_identifier.",
    ),
    row(
        "host-info",
        &[R],
        "Information about the host instance this node is running on.",
    ),
    row("in-flight-req", &[R], "Reports the in-flight requests."),
    row("monitor", &[R], "Streams the server's log."),
    row(
        "mfa/validate",
        &[U],
        "Validates the login for the given MFA methods.",
    ),
    row(
        "config/state/sanitized",
        &[R],
        "Return a sanitized version of the server's configuration.",
    ),
    row(
        "version-history",
        &[L],
        "Returns map of historical version change entries.",
    ),
    row(
        "loggers",
        &[R, U, D],
        "Read, modify or revert the level of all loggers.",
    ),
    row(
        "loggers/{name}",
        &[R, U, D],
        "Read, modify or revert the level of one logger.",
    ),
    row("tools/random", &[U], "Generate random bytes."),
    row("tools/random/{urlbytes}", &[U], "Generate random bytes."),
    row("tools/random/{source}", &[U], "Generate random bytes."),
    row(
        "tools/random/{source}/{urlbytes}",
        &[U],
        "Generate random bytes.",
    ),
    row("tools/hash", &[U], "Generate a hash sum for input data."),
    row(
        "tools/hash/{urlalgorithm}",
        &[U],
        "Generate a hash sum for input data.",
    ),
    row(
        "quotas/config",
        &[R, U],
        "Create, update and read the quota configuration.",
    ),
    row("quotas/rate-limit", &[L], "Lists the rate limit quotas."),
    row(
        "quotas/rate-limit/{name}",
        &[R, U, D],
        "Get, create or update rate limit resource quota for an optional namespace or mount.",
    ),
    row("quotas/lease-count", &[L], "Lists the lease count quotas."),
    row(
        "quotas/lease-count/{name}",
        &[R, U, D],
        "Get, create or update a lease count quota.",
    ),
    row(
        "metrics",
        &[R],
        "Export the metrics aggregated for telemetry purpose.",
    ),
    row(
        "config/cors",
        &[R, U, D],
        "This path responds to the following HTTP methods.",
    ),
    row(
        "config/ui/headers",
        &[L],
        "Return a list of configured UI headers.",
    ),
    row(
        "config/ui/headers/{header}",
        &[R, U, D],
        "Configure the values to be returned for the UI header.",
    ),
];

/// The value a path parameter stands for when the table is checked against the parser.
fn sample(param: &str) -> &'static str {
    match param {
        "type" => "secret",
        _ => "x",
    }
}

/// `path` with each `{param}` replaced by a sample value.
fn instantiate(path: &str) -> String {
    arca_sdk::framework::openapi::instantiate_template(path, sample)
}

/// `sys/mfa/validate`'s fields, both required.
const MFA_VALIDATE_FIELDS: &[(&str, FieldType)] = &[
    ("mfa_payload", FieldType::Map),
    ("mfa_request_id", FieldType::String),
];

/// The fields of a path the core answers before the `sys/` backend (it has no [`Endpoint`]):
/// `mfa/validate`; `None` for the backend's paths.
fn core_fields(path: &str) -> Option<&'static [(&'static str, FieldType)]> {
    match path {
        "mfa/validate" => Some(MFA_VALIDATE_FIELDS),
        _ => None,
    }
}

/// Whether a field of the row at `path` is given in the URL's query (as OpenBao places it).
fn in_query(path: &str, field: &str) -> bool {
    matches!(
        (path, field),
        ("internal/specs/openapi", "generic_mount_paths") | ("monitor", "log_format" | "log_level")
    )
}

/// The parameters of `sys/internal/specs/openapi` (`generic_mount_paths` in the query).
pub(crate) const OPENAPI_FIELDS: &[(&str, FieldType)] = &[
    ("context", FieldType::String),
    ("generic_mount_paths", FieldType::Bool),
];

/// Every `sys/` path as its OpenAPI document describes it, fields from the endpoint model.
pub(crate) fn docs() -> Vec<PathDoc> {
    SYS_PATHS
        .iter()
        .map(|row| {
            let fields = core_fields(row.path)
                .or_else(|| Endpoint::parse(&instantiate(row.path)).and_then(|e| e.fields()))
                .unwrap_or(&[]);
            let mut doc = PathDoc::from_table(row.path, row.ops, row.synopsis, fields);
            for f in &mut doc.fields {
                f.query = in_query(row.path, &f.name);
                // Both of the core's `mfa/validate` fields must be given.
                f.required = core_fields(row.path).is_some();
            }
            doc
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_path_parses_to_an_endpoint() {
        for row in SYS_PATHS {
            let concrete = instantiate(row.path);
            assert!(
                core_fields(row.path).is_some() || Endpoint::parse(&concrete).is_some(),
                "{} ({concrete}) parses to no endpoint",
                row.path
            );
            assert!(!row.ops.is_empty(), "{} has no operations", row.path);
        }
    }

    #[test]
    fn paths_are_unique_and_parameters_are_declared() {
        let mut seen = std::collections::BTreeSet::new();
        for doc in docs() {
            assert!(seen.insert(doc.path.clone()), "{} twice", doc.path);
        }
        let mounts = docs()
            .into_iter()
            .find(|d| d.path == "mounts/{path}")
            .unwrap();
        assert!(mounts.fields.iter().any(|f| f.name == "type"));
        let openapi = docs()
            .into_iter()
            .find(|d| d.path == "internal/specs/openapi")
            .unwrap();
        assert!(
            openapi
                .fields
                .iter()
                .any(|f| f.name == "generic_mount_paths" && f.query)
        );
    }
}
