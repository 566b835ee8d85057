//! `sys/policy`, `sys/policies/acl`, `sys/capabilities*` and the resultant ACL.

use arca_sdk::{LogicalError, Operation, Request, Response};
use serde_json::{Value, json};

use super::{Endpoint, data, legacy, str_field};
use crate::core::Core;

pub(crate) async fn handle(
    core: &Core,
    e: Endpoint,
    op: Operation,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    use Endpoint as E;
    use Operation as O;
    let store = core.policy_store();
    let d = &req.data;
    match (e, op) {
        (E::Policies | E::PoliciesAcl, O::Read | O::List) => {
            let names = store.list().await?;
            if matches!(e_kind(&req.path), Kind::Legacy) {
                legacy(json!({"policies": names, "keys": names}))
            } else {
                data(json!({"keys": names, "policies": names}))
            }
        }
        (E::Policy(name) | E::PolicyAcl(name), O::Read) => {
            let Some(entry) = store.get_entry(&name).await? else {
                return Err(LogicalError::coded(404, String::new()));
            };
            let v = json!({"name": entry.name, "rules": entry.raw, "policy": entry.raw});
            if matches!(e_kind(&req.path), Kind::Legacy) {
                legacy(json!({"name": entry.name, "rules": entry.raw}))
            } else {
                let mut v = v;
                if let Value::Object(m) = &mut v {
                    m.remove("rules");
                }
                data(v)
            }
        }
        (E::Policy(name) | E::PolicyAcl(name), O::Update | O::Create) => {
            let text = str_field(d, "policy")
                .or_else(|| str_field(d, "rules"))
                .unwrap_or_default();
            if text.trim().is_empty() {
                return Err(LogicalError::bad_request(
                    "'policy' parameter not supplied or empty",
                ));
            }
            store.set(&name, &text).await?;
            Ok(None)
        }
        (E::Policy(name) | E::PolicyAcl(name), O::Delete) => {
            store.delete(&name).await?;
            Ok(None)
        }
        (
            E::Capabilities | E::CapabilitiesSelf | E::CapabilitiesAccessor,
            O::Update | O::Create,
        ) => capabilities(core, e_cap(&req.path), req).await,
        (E::ResultantAcl, O::Read) => {
            let Some(te) = core.token_store().lookup(req.token()).await? else {
                return Err(LogicalError::PermissionDenied);
            };
            if te.is_root() {
                return data(json!({"root": true, "exact_paths": {}, "glob_paths": {}}));
            }
            data(json!({"root": false, "exact_paths": {}, "glob_paths": {}}))
        }
        _ => Err(LogicalError::UnsupportedOperation),
    }
}

enum Kind {
    Legacy,
    Acl,
}

fn e_kind(path: &str) -> Kind {
    if path.starts_with("policy") && !path.starts_with("policies") {
        Kind::Legacy
    } else {
        Kind::Acl
    }
}

#[derive(Clone, Copy)]
enum Cap {
    Token,
    SelfToken,
    Accessor,
}

fn e_cap(path: &str) -> Cap {
    match path.trim_end_matches('/') {
        "capabilities-self" => Cap::SelfToken,
        "capabilities-accessor" => Cap::Accessor,
        _ => Cap::Token,
    }
}

fn paths_of(req: &Request) -> Vec<String> {
    match req.data.get("paths").or_else(|| req.data.get("path")) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        Some(Value::String(s)) => s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

async fn capabilities(
    core: &Core,
    which: Cap,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    let paths = paths_of(req);
    if paths.is_empty() {
        return Err(LogicalError::bad_request("missing path"));
    }
    let store = core.token_store();
    let entry = match which {
        Cap::SelfToken => store.lookup(req.token()).await?,
        Cap::Token => {
            let t = str_field(&req.data, "token").unwrap_or_default();
            if t.is_empty() {
                return Err(LogicalError::bad_request("missing token"));
            }
            store.lookup(&t).await?
        }
        Cap::Accessor => {
            let a = str_field(&req.data, "accessor").unwrap_or_default();
            if a.is_empty() {
                return Err(LogicalError::bad_request("missing accessor"));
            }
            store.lookup_accessor(&a).await?
        }
    };
    let Some(entry) = entry else {
        return Err(LogicalError::bad_request("invalid token"));
    };
    let acl = core.policy_store().acl(&entry.policies).await?;
    let mut out = serde_json::Map::new();
    let mut first: Vec<&'static str> = Vec::new();
    for (i, p) in paths.iter().enumerate() {
        let caps = acl.capabilities(p.trim_start_matches('/'));
        if i == 0 {
            first = caps.clone();
        }
        out.insert(p.clone(), json!(caps));
    }
    if paths.len() == 1 {
        out.insert("capabilities".into(), json!(first));
    }
    legacy(Value::Object(out))
}
