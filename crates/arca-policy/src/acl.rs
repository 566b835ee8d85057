//! The ACL: the merged rules of a token's policies, and the check of one request against
//! them ([`Acl::allow`]) with Vault's precedence rules.
//!
//! Lookup order for a request path (OpenBao's `AllowOperation`):
//! 1. an exact rule for the path;
//! 2. for list/scan, an exact rule for the path without its trailing `/`;
//! 3. the highest-priority match among the longest `*` prefix rule and every matching `+`
//!    rule (see [`Acl::allow`] for the ordering);
//! 4. for list/scan of a path ending in `/`, step 3 again without the trailing `/`.
//!
//! Only the winning pattern's (merged) permissions count; patterns are never combined.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Map, Value};

use crate::capabilities::Capabilities;
use crate::error::PolicyError;
use crate::name::{ROOT_POLICY_NAME, normalize_name};
use crate::parameters::value_in_parameter_list;
use crate::permissions::Permissions;
use crate::policy::{PathRules, Policy};

/// What a request does, as the ACL sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Read (GET): needs `read`.
    Read,
    /// List (LIST or `?list=true`): needs `list`.
    List,
    /// Scan (recursive list, OpenBao): needs `scan`.
    Scan,
    /// Create (write to a path that does not exist yet): needs `create`.
    Create,
    /// Update (write to an existing path): needs `update`.
    Update,
    /// Patch (PATCH): needs `patch`.
    Patch,
    /// Delete (DELETE): needs `delete`.
    Delete,
    /// Help (`?help=1`): always allowed.
    Help,
    /// Lease renewal: needs `update`.
    Renew,
    /// Lease revocation: needs `update`.
    Revoke,
    /// Backend rollback: needs `update`.
    Rollback,
}

impl Operation {
    /// The capability this operation needs (`None` for help, which needs nothing).
    pub fn required_capability(self) -> Option<Capabilities> {
        Some(match self {
            Operation::Read => Capabilities::READ,
            Operation::List => Capabilities::LIST,
            Operation::Scan => Capabilities::SCAN,
            Operation::Create => Capabilities::CREATE,
            Operation::Update | Operation::Renew | Operation::Revoke | Operation::Rollback => {
                Capabilities::UPDATE
            }
            Operation::Patch => Capabilities::PATCH,
            Operation::Delete => Capabilities::DELETE,
            Operation::Help => return None,
        })
    }

    fn is_listing(self) -> bool {
        matches!(self, Operation::List | Operation::Scan)
    }

    /// Operations whose request parameters are checked against the parameter constraints.
    fn checks_parameters(self) -> bool {
        matches!(
            self,
            Operation::Read | Operation::Update | Operation::Create | Operation::Patch
        )
    }
}

/// One request to check. `Debug` shows the parameter names, never their values.
#[derive(Clone, Copy)]
pub struct AclRequest<'a> {
    /// The request path, relative to `/v1/` (a leading `/` is ignored).
    pub path: &'a str,
    /// The operation.
    pub operation: Operation,
    /// The request parameters (body or query), if any.
    pub data: Option<&'a Map<String, Value>>,
    /// The response-wrapping TTL the client asked for, if any.
    pub wrap_ttl: Option<Duration>,
}

impl std::fmt::Debug for AclRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AclRequest")
            .field("path", &self.path)
            .field("operation", &self.operation)
            .field(
                "data_keys",
                &self.data.map(|d| d.keys().collect::<Vec<_>>()),
            )
            .field("wrap_ttl", &self.wrap_ttl)
            .finish()
    }
}

impl<'a> AclRequest<'a> {
    /// A request with no parameters and no wrapping.
    pub fn new(path: &'a str, operation: Operation) -> AclRequest<'a> {
        AclRequest {
            path,
            operation,
            data: None,
            wrap_ttl: None,
        }
    }
}

/// The outcome of [`Acl::allow`]. A denied result is all-default: it says nothing about
/// which rule matched or what it grants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AclResult {
    /// The request may proceed.
    pub allowed: bool,
    /// The matching rule grants `sudo` (needed on root-protected paths); always set for root.
    pub root_privs: bool,
    /// The ACL is the `root` policy.
    pub is_root: bool,
    /// Everything the matching rule grants ([`Capabilities::ROOT`] for root).
    pub capabilities: Capabilities,
    /// The policies that granted the needed capability.
    pub granting_policies: Vec<String>,
    /// MFA methods the matching rule requires (enforced by the caller).
    pub mfa_methods: Vec<String>,
    /// For list/scan: the template the caller uses to filter the returned keys.
    pub response_keys_filter_path: Option<String>,
    /// For list/scan under a `pagination_limit`: the value the caller must put in the
    /// request's `limit` parameter before running it (`"0"` means no limit).
    pub limit_override: Option<String>,
}

/// A rule with `+` segments, ready for matching.
#[derive(Debug, Clone)]
struct SegmentRule {
    /// The pattern without its trailing `*`.
    path: String,
    /// It is split on `/`.
    segments: Vec<String>,
    is_prefix: bool,
    /// Byte index of the first `+` in the pattern.
    first_wildcard: usize,
    /// Number of segments that are exactly `+`.
    wildcards: usize,
    perms: Permissions,
}

/// The merged rules of a set of policies.
#[derive(Debug, Clone, Default)]
pub struct Acl {
    root: bool,
    exact: BTreeMap<String, Permissions>,
    /// Keyed by the prefix (the pattern without `*`); longest match found by probing.
    prefix: BTreeMap<String, Permissions>,
    segment: Vec<SegmentRule>,
}

/// Priority of a non-exact match; the greatest wins. Fields in comparison order:
/// the first `+`/`*` later in the pattern, not a prefix, fewer `+` segments, longer,
/// lexicographically greater.
type Priority<'a> = (usize, bool, Reverse<usize>, usize, &'a str);

impl Acl {
    /// Builds the ACL of `policies`. A policy named `root` (any spelling) makes the ACL
    /// root; like OpenBao, combining it with any other policy is an error. Rules that have
    /// expired or still hold an unrendered identity template are left out.
    pub fn new(policies: &[Policy]) -> Result<Acl, PolicyError> {
        let mut acl = Acl::default();
        if policies
            .iter()
            .any(|p| normalize_name(&p.name) == ROOT_POLICY_NAME)
        {
            if policies.len() != 1 {
                return Err(PolicyError::RootWithOthers);
            }
            acl.root = true;
            return Ok(acl);
        }
        let now = Utc::now();
        let mut segment: BTreeMap<(String, bool), Permissions> = BTreeMap::new();
        for policy in policies {
            let name = normalize_name(&policy.name);
            for rule in &policy.paths {
                if rule.templated || rule.is_expired_at(now) {
                    continue;
                }
                if rule.has_segment_wildcards {
                    merge_into(
                        &mut segment,
                        (rule.path.clone(), rule.is_prefix),
                        &name,
                        rule,
                    );
                } else if rule.is_prefix {
                    merge_into(&mut acl.prefix, rule.path.clone(), &name, rule);
                } else {
                    merge_into(&mut acl.exact, rule.path.clone(), &name, rule);
                }
            }
        }
        acl.segment = segment
            .into_iter()
            .filter(|((path, _), _)| !path.is_empty())
            .map(|((path, is_prefix), perms)| {
                let segments: Vec<String> = path.split('/').map(str::to_string).collect();
                SegmentRule {
                    first_wildcard: path.find('+').unwrap_or(path.len()),
                    wildcards: segments.iter().filter(|s| *s == "+").count(),
                    segments,
                    path,
                    is_prefix,
                    perms,
                }
            })
            .collect();
        Ok(acl)
    }

    /// Whether this is the root ACL.
    pub fn is_root(&self) -> bool {
        self.root
    }

    /// Whether any rule grants something (other than `deny`) on or under `mount` (a mount path
    /// with its trailing slash): what decides if the UI mount listing may show the mount.
    pub fn has_mount_access(&self, mount: &str) -> bool {
        if self.root {
            return true;
        }
        let grants = |p: &Permissions| {
            !p.capabilities.is_empty() && !p.capabilities.contains(Capabilities::DENY)
        };
        let inside = self
            .exact
            .iter()
            .chain(self.prefix.iter())
            .any(|(k, p)| k.starts_with(mount) && grants(p));
        let covering = self
            .prefix
            .iter()
            .any(|(k, p)| mount.starts_with(k.as_str()) && grants(p));
        let mount_segments: Vec<&str> = mount.trim_end_matches('/').split('/').collect();
        let segment = self.segment.iter().any(|r| {
            grants(&r.perms)
                && mount_segments
                    .iter()
                    .enumerate()
                    .all(|(i, m)| match r.segments.get(i) {
                        Some(s) if s == "+" => true,
                        Some(s) if i + 1 == r.segments.len() && r.is_prefix => {
                            m.starts_with(s.as_str())
                        }
                        Some(s) => s == m,
                        None => r.is_prefix,
                    })
        });
        inside || covering || segment
    }

    /// Checks one request. See the module documentation for how the matching rule is
    /// found; among non-exact matches the priority is (OpenBao's policy docs):
    /// 1. the first `+` or `*` occurs later in the pattern;
    /// 2. the pattern does not end in `*`;
    /// 3. fewer `+` segments;
    /// 4. the longer pattern;
    /// 5. the lexicographically greater pattern.
    ///
    /// Then: `deny` refuses; the operation's capability must be granted; a
    /// `max_wrapping_ttl` / `min_wrapping_ttl` makes wrapping mandatory and bounds its TTL;
    /// for read/create/update/patch, required parameters must be present, denied
    /// parameters (`*` = all) refuse, and with `allowed_parameters` every parameter must be
    /// allowed (`*` allows the rest); for list/scan, `pagination_limit` bounds `limit`.
    pub fn allow(&self, req: &AclRequest<'_>) -> AclResult {
        if self.root {
            return AclResult {
                allowed: true,
                root_privs: true,
                is_root: true,
                capabilities: Capabilities::ROOT,
                granting_policies: vec![ROOT_POLICY_NAME.to_string()],
                ..AclResult::default()
            };
        }
        let op = req.operation;
        let Some(needed) = op.required_capability() else {
            // Help is always allowed.
            return AclResult {
                allowed: true,
                ..AclResult::default()
            };
        };
        let path = req.path.trim_start_matches('/');
        let Some(perms) = self.lookup(path, op.is_listing()) else {
            return AclResult::default();
        };
        match self.check(perms, needed, req) {
            Some(limit_override) => AclResult {
                allowed: true,
                root_privs: perms.capabilities.intersects(Capabilities::SUDO),
                is_root: false,
                capabilities: perms.capabilities,
                granting_policies: perms
                    .granting_policies
                    .get(&needed.bits())
                    .cloned()
                    .unwrap_or_default(),
                mfa_methods: perms.mfa_methods.clone(),
                response_keys_filter_path: if op.is_listing() {
                    perms.response_keys_filter_path.clone()
                } else {
                    None
                },
                limit_override,
            },
            None => AclResult::default(),
        }
    }

    /// What `sys/capabilities` reports for `path`: `["root"]` for root, `["deny"]` when
    /// nothing matches or the match denies, else the granted names (alphabetical). The
    /// lookup is the one a list request would make, so a rule for `foo` also answers
    /// for `foo/`.
    pub fn capabilities(&self, path: &str) -> Vec<&'static str> {
        self.capability_set(path).names()
    }

    /// The capability bits [`Acl::capabilities`] names.
    pub fn capability_set(&self, path: &str) -> Capabilities {
        if self.root {
            return Capabilities::ROOT;
        }
        self.lookup(path.trim_start_matches('/'), true)
            .map(|p| p.capabilities)
            .unwrap_or(Capabilities::NONE)
    }

    /// The permissions that govern `path`, if any rule matches.
    fn lookup(&self, path: &str, listing: bool) -> Option<&Permissions> {
        if let Some(p) = self.exact.get(path) {
            return Some(p);
        }
        let trimmed = path.strip_suffix('/');
        if listing && let Some(p) = trimmed.and_then(|t| self.exact.get(t)) {
            return Some(p);
        }
        if let Some(p) = self.non_exact(path) {
            return Some(p);
        }
        if listing && let Some(t) = trimmed {
            return self.non_exact(t);
        }
        None
    }

    /// The highest-priority `*` or `+` match for `path`.
    fn non_exact(&self, path: &str) -> Option<&Permissions> {
        // A `*` rule: its glob sits right after the prefix, and it has no `+` segments.
        let mut best: Option<(Priority<'_>, &Permissions)> =
            self.longest_prefix(path).map(|(prefix, perms)| {
                (
                    (prefix.len(), false, Reverse(0), prefix.len(), prefix),
                    perms,
                )
            });
        if self.segment.is_empty() {
            return best.map(|(_, p)| p);
        }
        let parts: Vec<&str> = path.split('/').collect();
        for rule in &self.segment {
            if !segment_rule_matches(rule, &parts) {
                continue;
            }
            let prio: Priority<'_> = (
                rule.first_wildcard,
                !rule.is_prefix,
                Reverse(rule.wildcards),
                rule.path.len(),
                rule.path.as_str(),
            );
            if best.as_ref().is_none_or(|(b, _)| prio > *b) {
                best = Some((prio, &rule.perms));
            }
        }
        best.map(|(_, p)| p)
    }

    /// The longest `*` prefix rule that `path` starts with.
    fn longest_prefix(&self, path: &str) -> Option<(&str, &Permissions)> {
        (0..=path.len())
            .rev()
            .filter(|i| path.is_char_boundary(*i))
            .find_map(|i| {
                self.prefix
                    .get_key_value(&path[..i])
                    .map(|(k, v)| (k.as_str(), v))
            })
    }

    /// The operation-specific checks once a rule matched; `Some(limit_override)` when allowed.
    fn check(
        &self,
        perms: &Permissions,
        needed: Capabilities,
        req: &AclRequest<'_>,
    ) -> Option<Option<String>> {
        if !perms.capabilities.contains(needed) {
            return None;
        }
        if let Some(max) = perms.max_wrapping_ttl
            && req.wrap_ttl.is_none_or(|ttl| ttl > max)
        {
            return None;
        }
        if let Some(min) = perms.min_wrapping_ttl
            && req.wrap_ttl.is_none_or(|ttl| ttl < min)
        {
            return None;
        }
        // Merging can produce min > max even though each stanza was checked.
        if let (Some(min), Some(max)) = (perms.min_wrapping_ttl, perms.max_wrapping_ttl)
            && max < min
        {
            return None;
        }
        let op = req.operation;
        if op.checks_parameters() {
            return check_parameters(perms, req.data).then_some(None);
        }
        if op.is_listing() {
            return check_pagination(perms, req.data);
        }
        Some(None)
    }
}

/// Adds `rule` of `policy` under `key`, merging with what earlier policies put there.
fn merge_into<K: Ord>(tree: &mut BTreeMap<K, Permissions>, key: K, policy: &str, rule: &PathRules) {
    tree.entry(key)
        .and_modify(|existing| existing.merge(policy, rule))
        .or_insert_with(|| Permissions::from_rule(policy, rule));
}

/// OpenBao's segment matching: `+` matches any one segment, other segments must be equal,
/// and for a prefix rule the last segment only needs to start the path's segment.
fn segment_rule_matches(rule: &SegmentRule, parts: &[&str]) -> bool {
    let n = rule.segments.len();
    if parts.len() < n || (!rule.is_prefix && parts.len() != n) {
        return false;
    }
    rule.segments.iter().enumerate().all(|(i, seg)| {
        seg == "+"
            || seg == parts[i]
            || (rule.is_prefix && i == n - 1 && parts[i].starts_with(seg.as_str()))
    })
}

/// Parameter constraints for read/create/update/patch.
fn check_parameters(perms: &Permissions, data: Option<&Map<String, Value>>) -> bool {
    let empty = Map::new();
    let data = data.unwrap_or(&empty);
    if perms
        .required_parameters
        .iter()
        .any(|p| !data.contains_key(&p.to_lowercase()))
    {
        return false;
    }
    if data.is_empty() {
        return true;
    }
    if !perms.denied_parameters.is_empty() {
        if perms.denied_parameters.contains_key("*") {
            return false;
        }
        for (name, value) in data {
            if let Some(list) = perms.denied_parameters.get(&name.to_lowercase())
                && value_in_parameter_list(value, list)
            {
                return false;
            }
        }
    }
    if perms.allowed_parameters.is_empty() {
        return true;
    }
    let allow_all = perms.allowed_parameters.contains_key("*");
    if allow_all && perms.allowed_parameters.len() == 1 {
        return true;
    }
    data.iter().all(
        |(name, value)| match perms.allowed_parameters.get(&name.to_lowercase()) {
            Some(list) => value_in_parameter_list(value, list),
            None => allow_all,
        },
    )
}

/// `pagination_limit` for list/scan. `None` = denied; `Some(override)` = allowed, with the
/// value to put in `limit` if it must change.
fn check_pagination(
    perms: &Permissions,
    data: Option<&Map<String, Value>>,
) -> Option<Option<String>> {
    let given = data.and_then(|d| d.get("limit"));
    let Some(max) = perms.pagination_limit else {
        // Without a policy limit, `limit=max` means "no limit".
        return Some(match given {
            Some(Value::String(s)) if s == "max" => Some("0".to_string()),
            _ => None,
        });
    };
    let max_text = max.to_string();
    let Some(given) = given else {
        let required = perms
            .required_parameters
            .iter()
            .any(|p| p.eq_ignore_ascii_case("limit"));
        return if required { None } else { Some(Some(max_text)) };
    };
    match parse_limit(given) {
        Some(n) if n < 0 => None,
        Some(0) => Some(Some(max_text)),
        Some(n) if n.unsigned_abs() > max => None,
        Some(_) => Some(None),
        None => match given {
            Value::String(s) if s == "max" => Some(Some(max_text)),
            _ => None,
        },
    }
}

fn parse_limit(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod mount_access_tests {
    use super::*;
    use crate::parse_policy;

    #[test]
    fn acl_request_debug_shows_parameter_names_only() {
        let data = serde_json::json!({"password": "hunter2-s3cret"});
        let mut req = AclRequest::new("secret/data/app", Operation::Update);
        req.data = data.as_object();
        let text = format!("{req:?}");
        assert!(
            !text.contains("hunter2-s3cret") && text.contains("password"),
            "{text}"
        );
    }

    #[test]
    fn mount_access_table() {
        let cases: &[(&str, &str, bool)] = &[
            (
                r#"path "secret/data/app/*" { capabilities = ["read"] }"#,
                "secret/",
                true,
            ),
            (
                r#"path "secret/data/app/*" { capabilities = ["read"] }"#,
                "kv/",
                false,
            ),
            (r#"path "se*" { capabilities = ["list"] }"#, "secret/", true),
            (
                r#"path "secret/*" { capabilities = ["deny"] }"#,
                "secret/",
                false,
            ),
            (
                r#"path "+/data/x" { capabilities = ["read"] }"#,
                "secret/",
                true,
            ),
            (
                r#"path "sys/mounts" { capabilities = ["read"] }"#,
                "secret/",
                false,
            ),
        ];
        for (text, mount, want) in cases {
            let acl = Acl::new(&[parse_policy("p", text).unwrap()]).unwrap();
            assert_eq!(acl.has_mount_access(mount), *want, "{text} on {mount}");
        }
    }
}
