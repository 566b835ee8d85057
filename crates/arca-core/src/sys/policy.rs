//! `sys/policy`, `sys/policies/acl`, `sys/capabilities*` and the resultant ACL, answering as
//! OpenBao 2.7.2 does (field names, 204s, error texts, the legacy top-level copy).

use std::collections::BTreeMap;

use arca_policy::{Capabilities, PathRules, normalize_name};
use arca_sdk::{LogicalError, Operation, Request, Response};
use base64::Engine;
use serde_json::{Map, Value, json};

use super::{Endpoint, SystemDeps, data, legacy, str_field};
use crate::namespaces::{Namespace, NamespaceStore};
use crate::policy_store::{PolicyEntry, PolicyStore};
use crate::token_store::TokenStore;

/// The JSON a policy read returns; `text_key` is `rules` (legacy) or `policy`.
fn policy_json(entry: &PolicyEntry, text_key: &str) -> Value {
    let mut m = Map::new();
    m.insert("allow_slashes_in_identity_templates".into(), json!(false));
    m.insert("allow_wildcards_in_identity_templates".into(), json!(false));
    m.insert("cas_required".into(), json!(false));
    if !entry.modified.is_empty() {
        m.insert("modified".into(), json!(entry.modified));
    }
    m.insert("name".into(), json!(entry.name));
    m.insert(text_key.into(), json!(entry.raw));
    let version = if entry.name == "root" {
        0
    } else {
        entry.policy_version.max(1)
    };
    m.insert("version".into(), json!(version));
    Value::Object(m)
}

/// The policy text of a write: `policy` (or, on `sys/policy`, the deprecated `rules`),
/// base64-decoded when it is valid base64 of UTF-8, as Vault does.
fn policy_text(req: &Request, legacy_path: bool, resp: &mut Response) -> Option<String> {
    let d = &req.data;
    let text = match str_field(d, "policy").filter(|t| !t.is_empty()) {
        Some(t) => Some(t),
        None if legacy_path => {
            let r = str_field(d, "rules").filter(|t| !t.is_empty());
            if r.is_some() {
                resp.warn("'rules' is deprecated, please use 'policy' instead");
            }
            r
        }
        None => None,
    }?;
    if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(text.trim())
        && let Ok(decoded) = String::from_utf8(bytes)
    {
        return Some(decoded);
    }
    Some(text)
}

fn cas_field(req: &Request) -> Result<Option<u64>, LogicalError> {
    match req.data.get("cas") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(|v| if v < 0 { None } else { Some(v as u64) })
            .ok_or_else(|| LogicalError::bad_request("cas must be an integer")),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(|v| if v < 0 { None } else { Some(v as u64) })
            .map_err(|_| LogicalError::bad_request("cas must be an integer")),
        Some(_) => Err(LogicalError::bad_request("cas must be an integer")),
    }
}

/// Runs a policy endpoint for the request's namespace `ns` (its own policies).
pub(crate) async fn handle(
    deps: &SystemDeps,
    ns: &Namespace,
    e: Endpoint,
    op: Operation,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    use Endpoint as E;
    use Operation as O;
    let (policies, identity) = (&*deps.policies, &*deps.identity);
    let (tokens, namespaces) = (&*deps.tokens, &*deps.namespaces);
    let store = policies;
    match (e, op) {
        (E::Policies, O::Read | O::List) => {
            let names = store.list(ns).await?;
            legacy(json!({"keys": names, "policies": names}))
        }
        (E::PoliciesAcl, O::List) => {
            let names = store.list(ns).await?;
            data(json!({ "keys": names }))
        }
        (e @ (E::Policy(_) | E::PolicyAcl(_)), O::Read) => {
            let (name, legacy_path) = match e {
                E::Policy(n) => (n, true),
                E::PolicyAcl(n) => (n, false),
                _ => return Err(LogicalError::UnsupportedOperation),
            };
            let Some(entry) = store.get_entry(ns, &name).await? else {
                return Err(LogicalError::empty_not_found());
            };
            if legacy_path {
                legacy(policy_json(&entry, "rules"))
            } else {
                data(policy_json(&entry, "policy"))
            }
        }
        (e @ (E::Policy(_) | E::PolicyAcl(_)), O::Update | O::Create) => {
            let (name, legacy_path) = match e {
                E::Policy(n) => (n, true),
                E::PolicyAcl(n) => (n, false),
                _ => return Err(LogicalError::UnsupportedOperation),
            };
            let mut resp = Response::default();
            let Some(text) = policy_text(req, legacy_path, &mut resp) else {
                return Err(LogicalError::bad_request(
                    "'policy' parameter not supplied or empty",
                ));
            };
            store.set(ns, &name, &text, cas_field(req)?).await?;
            if resp.warnings.is_empty() {
                Ok(None)
            } else {
                Ok(Some(resp))
            }
        }
        (E::Policy(name) | E::PolicyAcl(name), O::Delete) => {
            store.delete(ns, &name).await?;
            Ok(None)
        }
        (
            which @ (E::Capabilities | E::CapabilitiesSelf | E::CapabilitiesAccessor),
            O::Update | O::Create,
        ) => capabilities(policies, identity, tokens, namespaces, ns, which, req).await,
        (E::ResultantAcl, O::Read) => {
            resultant_acl(policies, identity, tokens, namespaces, req).await
        }
        _ => Err(LogicalError::UnsupportedOperation),
    }
}

fn paths_of(req: &Request) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["paths", "path"] {
        match req.data.get(key) {
            Some(Value::Array(a)) => {
                out.extend(a.iter().filter_map(|v| v.as_str().map(String::from)))
            }
            Some(Value::String(s)) => out.extend(
                s.split(',')
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty()),
            ),
            _ => {}
        }
    }
    out.dedup();
    out
}

async fn capabilities(
    policies: &PolicyStore,
    identity: &crate::identity::IdentityStore,
    tokens: &TokenStore,
    namespaces: &NamespaceStore,
    ns: &Namespace,
    which: Endpoint,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    let store = tokens;
    let entry = match which {
        Endpoint::CapabilitiesAccessor => {
            let a = str_field(&req.data, "accessor").unwrap_or_default();
            if a.is_empty() {
                return Err(LogicalError::bad_request("missing accessor"));
            }
            match store.lookup_accessor(&a).await? {
                Some(e) => e,
                None => return Err(LogicalError::InvalidRequest("invalid accessor".into())),
            }
        }
        _ => {
            let t = match which {
                Endpoint::CapabilitiesSelf => str_field(&req.data, "token")
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| req.token().to_string()),
                _ => str_field(&req.data, "token").unwrap_or_default(),
            };
            if t.is_empty() {
                // OpenBao: a 500; no token given is the client's mistake: 400.
                return Err(LogicalError::invalid_input("no token found"));
            }
            match store.lookup_with(&t, t == req.token()).await? {
                Some(e) => e,
                None => return Err(LogicalError::InvalidRequest("invalid token".into())),
            }
        }
    };
    let paths = paths_of(req);
    if paths.is_empty() {
        return Err(LogicalError::bad_request("paths must be supplied"));
    }
    // The token's policies speak of paths inside its own namespace; a token of another
    // namespace than the request's (or one above it) has no capability here.
    let token_ns = namespaces
        .by_id(&entry.namespace_id)
        .filter(|t| t.contains(ns));
    let acl = match &token_ns {
        Some(t) => Some(
            policies
                .acl(t, &identity.acl_policies(&entry.entity_id, &entry.policies))
                .await?,
        ),
        None => None,
    };
    let prefix = token_ns.as_ref().map_or("", |t| t.relative(&ns.path));
    let caps = |p: &str| -> Vec<&'static str> {
        match &acl {
            Some(acl) => acl.capabilities(&format!("{prefix}{}", p.trim_start_matches('/'))),
            None => vec!["deny"],
        }
    };
    let mut out = Map::new();
    for p in &paths {
        out.insert(p.clone(), json!(caps(p)));
    }
    if paths.len() == 1 {
        out.insert("capabilities".into(), json!(caps(&paths[0])));
    }
    legacy(Value::Object(out))
}

/// Capability names in the order the resultant ACL lists them (OpenBao's, not sorted).
const RESULTANT_ORDER: &[(Capabilities, &str)] = &[
    (Capabilities::CREATE, "create"),
    (Capabilities::DELETE, "delete"),
    (Capabilities::LIST, "list"),
    (Capabilities::READ, "read"),
    (Capabilities::SUDO, "sudo"),
    (Capabilities::UPDATE, "update"),
    (Capabilities::PATCH, "patch"),
    (Capabilities::SCAN, "scan"),
];

/// The merged rules of one path pattern, as the resultant ACL shows them.
#[derive(Default)]
struct Merged {
    caps: Capabilities,
    min_wrapping_ttl: Option<u64>,
    max_wrapping_ttl: Option<u64>,
    allowed: BTreeMap<String, Vec<Value>>,
    denied: BTreeMap<String, Vec<Value>>,
    required: Vec<String>,
}

impl Merged {
    fn add(&mut self, rule: &PathRules) {
        if self.caps.intersects(Capabilities::DENY) {
            return;
        }
        if rule.capabilities.intersects(Capabilities::DENY) {
            *self = Merged {
                caps: Capabilities::DENY,
                ..Merged::default()
            };
            return;
        }
        self.caps |= rule.capabilities;
        if let Some(t) = rule.min_wrapping_ttl.map(|d| d.as_secs()) {
            self.min_wrapping_ttl = Some(self.min_wrapping_ttl.map_or(t, |m| m.min(t)));
        }
        if let Some(t) = rule.max_wrapping_ttl.map(|d| d.as_secs()) {
            self.max_wrapping_ttl = Some(self.max_wrapping_ttl.map_or(t, |m| m.max(t)));
        }
        for (k, v) in &rule.allowed_parameters {
            self.allowed.entry(k.clone()).or_default().extend(v.clone());
        }
        for (k, v) in &rule.denied_parameters {
            self.denied.entry(k.clone()).or_default().extend(v.clone());
        }
        for r in &rule.required_parameters {
            if !self.required.contains(r) {
                self.required.push(r.clone());
            }
        }
    }

    fn to_json(&self) -> Value {
        let mut caps: Vec<&str> = RESULTANT_ORDER
            .iter()
            .filter(|(c, _)| self.caps.intersects(*c))
            .map(|(_, n)| *n)
            .collect();
        if self.caps.intersects(Capabilities::DENY) || caps.is_empty() {
            caps = vec!["deny"];
        }
        let mut m = Map::new();
        m.insert("capabilities".into(), json!(caps));
        if let Some(t) = self.min_wrapping_ttl.filter(|t| *t > 0) {
            m.insert("min_wrapping_ttl".into(), json!(t));
        }
        if let Some(t) = self.max_wrapping_ttl.filter(|t| *t > 0) {
            m.insert("max_wrapping_ttl".into(), json!(t));
        }
        if !self.allowed.is_empty() {
            m.insert("allowed_parameters".into(), json!(self.allowed));
        }
        if !self.denied.is_empty() {
            m.insert("denied_parameters".into(), json!(self.denied));
        }
        if !self.required.is_empty() {
            m.insert("required_parameters".into(), json!(self.required));
        }
        Value::Object(m)
    }
}

/// `sys/internal/ui/resultant-acl`: the merged exact and prefix rules of the caller's
/// policies (segment-wildcard rules are not listed, as in OpenBao).
async fn resultant_acl(
    policies: &PolicyStore,
    identity: &crate::identity::IdentityStore,
    tokens: &TokenStore,
    namespaces: &NamespaceStore,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    if req.token().is_empty() {
        return Ok(None);
    }
    let Some(te) = tokens.lookup_with(req.token(), true).await? else {
        return Err(LogicalError::PermissionDenied);
    };
    if te.policies.iter().any(|p| normalize_name(p) == "root") {
        return data(json!({"root": true}));
    }
    let Some(token_ns) = namespaces.by_id(&te.namespace_id) else {
        return Err(LogicalError::PermissionDenied);
    };
    let mut exact: BTreeMap<String, Merged> = BTreeMap::new();
    let mut glob: BTreeMap<String, Merged> = BTreeMap::new();
    let now = chrono::Utc::now();
    let mut names: Vec<String> = identity
        .acl_policies(&te.entity_id, &te.policies)
        .iter()
        .map(|p| normalize_name(p))
        .collect();
    names.sort();
    names.dedup();
    for name in names {
        let Some(policy) = policies.get(&token_ns, &name).await? else {
            continue;
        };
        for rule in &policy.paths {
            if rule.templated || rule.has_segment_wildcards || rule.is_expired_at(now) {
                continue;
            }
            let target = if rule.is_prefix {
                &mut glob
            } else {
                &mut exact
            };
            // Outside the root, paths are shown with the namespace's path in front (OpenBao).
            target
                .entry(format!("{}{}", token_ns.path, rule.path))
                .or_default()
                .add(rule);
        }
    }
    let exact: Map<String, Value> = exact
        .iter()
        .map(|(k, v)| (k.clone(), v.to_json()))
        .collect();
    let glob: Map<String, Value> = glob.iter().map(|(k, v)| (k.clone(), v.to_json())).collect();
    data(json!({"exact_paths": exact, "glob_paths": glob, "root": false}))
}
