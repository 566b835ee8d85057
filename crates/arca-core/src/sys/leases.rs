//! `sys/leases/*` and the older `sys/renew`, `sys/revoke`, `sys/revoke-prefix`,
//! `sys/revoke-force`: lookup, list, renew, revoke, tidy and the irrevocable-lease counts, as
//! OpenBao serves them, over the expiration manager's public API.
//!
//! The paths, their fields and their answers follow OpenBao 2.7.2's `leasePaths` and handlers:
//! a missing `lease_id` is 400 `lease_id must be specified`, an unknown one 400 `invalid lease`
//! (lookup) or `lease not found` (renew) and a 204 on revoke; an asynchronous revoke (`sync`
//! false) answers 202 with no body; `tidy` answers 202 with a warning; `count` and the list of
//! irrevocable leases answer only for `type=irrevocable` (else a bare 404). `revoke-prefix`,
//! `revoke-force` and the `lookup/<prefix>` list need `sudo` (root paths of the `sys/`
//! backend). Writes to a path ending in `/` never get here: the pipeline refuses them, as OpenBao's.

use std::sync::Arc;
use std::time::Duration;

use arca_sdk::framework::FieldType;
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response};
use serde_json::{Value, json};

use super::{Endpoint, data};
use crate::go_time::go_time;
use crate::leases::{ExpirationManager, now_ms};
use crate::namespaces::{Namespace, NamespaceStore};

use FieldType as T;

/// `leases/lookup`.
pub(super) const LOOKUP_FIELDS: &[(&str, FieldType)] = &[("lease_id", T::String)];
/// `leases/lookup/<prefix>`.
pub(super) const LIST_FIELDS: &[(&str, FieldType)] = &[("prefix", T::String)];
/// `leases/renew[/<id>]` (and `renew[/<id>]`): a malformed `increment` is the framework's 400.
pub(super) const RENEW_FIELDS: &[(&str, FieldType)] = &[
    ("increment", T::DurationSecond),
    ("lease_id", T::String),
    ("url_lease_id", T::String),
];
/// `leases/revoke[/<id>]` (and `revoke[/<id>]`).
pub(super) const REVOKE_FIELDS: &[(&str, FieldType)] = &[
    ("lease_id", T::String),
    ("sync", T::Bool),
    ("url_lease_id", T::String),
];
/// `leases/revoke-prefix/<prefix>`.
pub(super) const REVOKE_PREFIX_FIELDS: &[(&str, FieldType)] =
    &[("prefix", T::String), ("sync", T::Bool)];
/// `leases/revoke-force/<prefix>`.
pub(super) const REVOKE_FORCE_FIELDS: &[(&str, FieldType)] = &[("prefix", T::String)];
/// `leases/count`.
pub(super) const COUNT_FIELDS: &[(&str, FieldType)] =
    &[("include_child_namespaces", T::Bool), ("type", T::String)];
/// `leases` (the irrevocable-lease list).
pub(super) const LIST_IRREVOCABLE_FIELDS: &[(&str, FieldType)] = &[
    ("include_child_namespaces", T::Bool),
    ("limit", T::String),
    ("type", T::String),
];

/// Irrevocable leases listed when no `limit` is given (Vault's `MaxIrrevocableLeasesToReturn`).
const MAX_IRREVOCABLE_LISTED: usize = 10_000;
/// The warning of a list cut at its limit (Vault's `MaxIrrevocableLeasesWarning`).
const IRREVOCABLE_LIMIT_WARNING: &str = "Command halted because many irrevocable leases were found. To emit the entire list, re-run the command with force set true.";
/// The warning of `leases/tidy` (OpenBao's text).
const TIDY_WARNING: &str = "Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs.";

/// Parses the lease endpoints from a path relative to `sys/` (before trailing slashes are
/// trimmed: `leases/lookup/` is the list of the top level).
pub(super) fn parse(p: &str) -> Option<Endpoint> {
    use Endpoint as E;
    let rest_of = |prefixes: &[&str]| prefixes.iter().find_map(|pre| p.strip_prefix(pre));
    Some(match p {
        "leases/lookup" => E::LeaseLookup,
        "leases/tidy" | "leases/tidy/" => E::LeaseTidy,
        "leases/count" | "leases/count/" => E::LeaseCount,
        "leases" | "leases/" => E::Leases,
        "leases/renew" | "leases/renew/" | "renew" | "renew/" => E::LeaseRenew(String::new()),
        "leases/revoke" | "leases/revoke/" | "revoke" | "revoke/" => E::LeaseRevoke(String::new()),
        _ => {
            if let Some(prefix) = p.strip_prefix("leases/lookup/") {
                return Some(E::LeaseLookupList(prefix.to_string()));
            }
            if let Some(id) = rest_of(&["leases/renew/", "renew/"]) {
                return Some(E::LeaseRenew(id.to_string()));
            }
            if let Some(id) = rest_of(&["leases/revoke/", "revoke/"]) {
                return Some(E::LeaseRevoke(id.to_string()));
            }
            if let Some(prefix) = rest_of(&["leases/revoke-prefix/", "revoke-prefix/"]) {
                return (!prefix.is_empty()).then(|| E::LeaseRevokePrefix(prefix.to_string()));
            }
            if let Some(prefix) = rest_of(&["leases/revoke-force/", "revoke-force/"]) {
                return (!prefix.is_empty()).then(|| E::LeaseRevokeForce(prefix.to_string()));
            }
            return None;
        }
    })
}

/// Serves one lease endpoint for the request's namespace `ns`: only its own leases (their
/// ids carry its id as a suffix) are seen.
pub(super) async fn handle(
    leases: &Arc<ExpirationManager>,
    namespaces: &NamespaceStore,
    ns: &Namespace,
    e: Endpoint,
    op: Operation,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    use Endpoint as E;
    use Operation as O;
    let d = &req.data;
    match (e, op) {
        (E::LeaseLookup, O::Update | O::Create) => lookup(leases, namespaces, ns, d).await,
        (E::LeaseLookupList(prefix), O::List) => list(leases, ns, &prefix).await,
        (E::LeaseRenew(url_id), O::Update | O::Create) => {
            let id = lease_id(d, &url_id)?;
            if !owns(namespaces, ns, &id) {
                return Err(LogicalError::bad_request("lease not found"));
            }
            let increment = d
                .get("increment")
                .and_then(Value::as_u64)
                .filter(|s| *s > 0)
                .map(Duration::from_secs);
            leases.renew(&id, increment).await
        }
        (E::LeaseRevoke(url_id), O::Update | O::Create) => {
            let id = lease_id(d, &url_id)?;
            let sync = sync_field(d);
            if owns(namespaces, ns, &id) {
                leases.revoke(&id, sync).await?;
            }
            revoked(sync)
        }
        (E::LeaseRevokePrefix(prefix), O::Update | O::Create) => {
            let sync = sync_field(d);
            leases.revoke_prefix(ns, &prefix, false, sync).await?;
            revoked(sync)
        }
        (E::LeaseRevokeForce(prefix), O::Update | O::Create) => {
            leases.revoke_prefix(ns, &prefix, true, true).await?;
            Ok(None)
        }
        (E::LeaseTidy, O::Update | O::Create) => {
            // As OpenBao: the tidy runs in the background and reports to the server log.
            let manager = Arc::clone(leases);
            tokio::spawn(async move {
                match manager.tidy().await {
                    Ok(report) => tracing::info!(?report, "leases: tidy finished"),
                    Err(e) => tracing::error!(error = %e, "leases: tidy failed"),
                }
            });
            Ok(Some(Response {
                warnings: vec![TIDY_WARNING.to_string()],
                status: Some(202),
                ..Response::default()
            }))
        }
        (E::LeaseCount, O::Read) => {
            if !irrevocable_asked(d) {
                return Err(LogicalError::empty_not_found());
            }
            let (count, by_mount) = leases.irrevocable_counts();
            data(json!({ "lease_count": count, "counts": by_mount }))
        }
        (E::Leases, O::Read) => {
            if !irrevocable_asked(d) {
                return Err(LogicalError::empty_not_found());
            }
            list_irrevocable(leases, d)
        }
        _ => Err(LogicalError::UnsupportedOperation),
    }
}

/// The lease id from the body, else from the path; none is OpenBao's 400.
fn lease_id(d: &JsonMap, url_id: &str) -> Result<String, LogicalError> {
    let body = d.get("lease_id").and_then(Value::as_str).unwrap_or("");
    let id = if body.is_empty() { url_id } else { body };
    if id.is_empty() {
        return Err(LogicalError::bad_request("lease_id must be specified"));
    }
    Ok(id.to_string())
}

/// `sync`, which defaults to true.
fn sync_field(d: &JsonMap) -> bool {
    d.get("sync").and_then(Value::as_bool).unwrap_or(true)
}

/// A revoke's answer: 204 when done, 202 without a body when queued.
fn revoked(sync: bool) -> Result<Option<Response>, LogicalError> {
    if sync {
        return Ok(None);
    }
    Ok(Some(Response {
        raw: Some(arca_sdk::RawHttp {
            status: 202,
            content_type: "application/json".into(),
            body: Vec::new(),
            stream: None,
        }),
        ..Response::default()
    }))
}

/// Whether `type` asks for irrevocable leases (the only kind these endpoints count).
fn irrevocable_asked(d: &JsonMap) -> bool {
    d.get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("irrevocable"))
}

/// Whether lease `id` belongs to `ns` (by its suffix).
fn owns(namespaces: &NamespaceStore, ns: &Namespace, id: &str) -> bool {
    namespaces.of_id(id).is_some_and(|owner| owner.id == ns.id)
}

async fn lookup(
    leases: &ExpirationManager,
    namespaces: &NamespaceStore,
    ns: &Namespace,
    d: &JsonMap,
) -> Result<Option<Response>, LogicalError> {
    let id = lease_id(d, "")?;
    let found = if owns(namespaces, ns, &id) {
        leases.entry(&id).await?
    } else {
        None
    };
    let Some(entry) = found else {
        return Err(LogicalError::bad_request("invalid lease"));
    };
    let info = entry.info(now_ms());
    let mut answer = json!({
        "id": id,
        "issue_time": go_time(info.issue_time),
        "expire_time": info.expire_time.map(go_time),
        "last_renewal": info.last_renewal.map(go_time),
        "renewable": info.renewable,
        "ttl": info.ttl,
        "path": info.path,
    });
    // A lease whose revocation keeps failing shows why, as OpenBao's lookup does.
    if !entry.revoke_err.is_empty() {
        answer["revoke_error"] = json!(entry.revoke_err);
    }
    data(answer)
}

/// One level of lease ids under `prefix` (a prefix without its `/` gets one); nothing there
/// is the bare 404 of an empty list.
async fn list(
    leases: &ExpirationManager,
    ns: &Namespace,
    prefix: &str,
) -> Result<Option<Response>, LogicalError> {
    let mut prefix = prefix.to_string();
    if !prefix.is_empty() && !prefix.ends_with('/') {
        prefix.push('/');
    }
    let keys = leases.list_prefix(ns, &prefix).await?;
    if keys.is_empty() {
        return Err(LogicalError::empty_not_found());
    }
    data(json!({ "keys": keys }))
}

/// The irrevocable leases, sorted by id, cut at `limit` (default 10,000; `none`: all).
fn list_irrevocable(
    leases: &ExpirationManager,
    d: &JsonMap,
) -> Result<Option<Response>, LogicalError> {
    let limit = match d.get("limit").and_then(Value::as_str).unwrap_or("") {
        "" => Some(MAX_IRREVOCABLE_LISTED),
        l if l.eq_ignore_ascii_case("none") => None,
        l => {
            // OpenBao answers these with a 500; a bad parameter is the caller's 400 here.
            let n: i64 = l.parse().map_err(|_| {
                LogicalError::bad_request(format!(
                    "invalid 'limit' provided: strconv.Atoi: parsing {l:?}: invalid syntax"
                ))
            })?;
            if n < 1 {
                return Err(LogicalError::bad_request(
                    "limit must be 'none' or a positive integer",
                ));
            }
            Some(usize::try_from(n).unwrap_or(usize::MAX))
        }
    };
    let mut all = leases.irrevocable();
    all.sort_by(|a, b| a.lease_id.cmp(&b.lease_id));
    let cut = limit.is_some_and(|l| all.len() > l);
    if let Some(l) = limit {
        all.truncate(l);
    }
    let count = all.len();
    let mut resp = match data(json!({ "lease_count": count, "leases": all }))? {
        Some(r) => r,
        None => return Ok(None),
    };
    if cut {
        resp.warn(IRREVOCABLE_LIMIT_WARNING);
    }
    Ok(Some(resp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    #[test]
    fn parses_lease_paths_and_the_older_aliases() {
        use Endpoint as E;
        assert_eq!(parse("leases/lookup"), Some(E::LeaseLookup));
        assert_eq!(
            parse("leases/lookup/"),
            Some(E::LeaseLookupList(String::new()))
        );
        assert_eq!(
            parse("leases/lookup/auth/token/"),
            Some(E::LeaseLookupList("auth/token/".into()))
        );
        assert_eq!(parse("leases/renew"), Some(E::LeaseRenew(String::new())));
        assert_eq!(parse("renew/a/b"), Some(E::LeaseRenew("a/b".into())));
        assert_eq!(parse("revoke/a/b"), Some(E::LeaseRevoke("a/b".into())));
        assert_eq!(
            parse("revoke-prefix/auth/token"),
            Some(E::LeaseRevokePrefix("auth/token".into()))
        );
        assert_eq!(
            parse("leases/revoke-force/x/"),
            Some(E::LeaseRevokeForce("x/".into()))
        );
        assert_eq!(parse("leases/revoke-prefix"), None);
        assert_eq!(parse("leases/revoke-prefix/"), None);
        assert_eq!(parse("leases"), Some(E::Leases));
        assert_eq!(parse("leases/count"), Some(E::LeaseCount));
        assert_eq!(parse("leases/tidy"), Some(E::LeaseTidy));
        assert_eq!(parse("leasesx"), None);
    }

    #[test]
    fn times_print_as_go_marshals_them() {
        let t = DateTime::from_timestamp(1_795_808_973, 953_000_000).unwrap();
        assert_eq!(go_time(t), "2026-11-27T19:49:33.953Z");
        let t = DateTime::from_timestamp(1_795_808_973, 0).unwrap();
        assert_eq!(go_time(t), "2026-11-27T19:49:33Z");
    }

    #[test]
    fn lease_id_comes_from_the_body_then_the_path() {
        let mut d = JsonMap::new();
        assert_eq!(
            lease_id(&d, "").unwrap_err().to_string(),
            "lease_id must be specified"
        );
        assert_eq!(lease_id(&d, "a/b").unwrap(), "a/b");
        d.insert("lease_id".into(), json!("c"));
        assert_eq!(lease_id(&d, "a/b").unwrap(), "c");
    }
}
