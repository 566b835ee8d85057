//! The token auth method mounted at `auth/token/`: create, look up, renew and revoke tokens.

use std::sync::Weak;

use arca_sdk::{
    Backend, BackendType, ExistenceCheck, LogicalError, Operation, Request, Response, SpecialPaths,
};
use async_trait::async_trait;
use serde_json::{Value, json};

use crate::core::{Core, Inner};
use crate::sys::str_field;
use crate::token_store::{TokenEntry, now_unix};

/// The `auth/token/` backend.
pub(crate) struct TokenBackend {
    core: Weak<Inner>,
}

impl TokenBackend {
    pub(crate) fn new(core: Weak<Inner>) -> TokenBackend {
        TokenBackend { core }
    }

    fn core(&self) -> Result<Core, LogicalError> {
        self.core
            .upgrade()
            .map(|inner| Core { inner })
            .ok_or_else(|| LogicalError::internal("core is gone"))
    }
}

/// The JSON `lookup` returns for a token.
pub(crate) fn lookup_json(e: &TokenEntry, id: Option<&str>) -> Value {
    let ttl = e
        .expire_time()
        .map(|t| (t - now_unix()).max(0))
        .unwrap_or(0);
    let iso = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
            .unwrap_or_default()
    };
    json!({
        "accessor": e.accessor,
        "creation_time": e.creation_time,
        "creation_ttl": e.ttl,
        "display_name": e.display_name,
        "entity_id": e.entity_id,
        "expire_time": e.expire_time().map(iso),
        "explicit_max_ttl": e.explicit_max_ttl,
        "id": id.unwrap_or(""),
        "issue_time": iso(e.creation_time),
        "meta": if e.meta.is_empty() { Value::Null } else { json!(e.meta) },
        "num_uses": e.num_uses,
        "orphan": e.orphan,
        "path": e.path,
        "policies": e.policies,
        "renewable": e.renewable,
        "ttl": ttl,
        "type": e.token_type,
    })
}

#[async_trait]
impl Backend for TokenBackend {
    async fn handle_request(&self, req: Request) -> Result<Option<Response>, LogicalError> {
        let core = self.core()?;
        let store = core.token_store();
        let path = req.path.trim_end_matches('/');
        match (path, req.operation) {
            ("lookup-self", Operation::Read) => {
                let Some(e) = store.lookup(req.token()).await? else {
                    return Err(LogicalError::PermissionDenied);
                };
                let v = lookup_json(&e, Some(req.token()));
                Ok(Some(Response::from_serialize(&v)?))
            }
            ("lookup", Operation::Update | Operation::Create | Operation::Read) => {
                let t = str_field(&req.data, "token").unwrap_or_else(|| req.token().to_string());
                let Some(e) = store.lookup(&t).await? else {
                    return Err(LogicalError::bad_request("bad token"));
                };
                Ok(Some(Response::from_serialize(&lookup_json(&e, Some(&t)))?))
            }
            ("revoke-self", Operation::Update | Operation::Create) => {
                let h = store.hash(req.token())?;
                store.revoke_tree(&h).await?;
                Ok(None)
            }
            ("revoke", Operation::Update | Operation::Create) => {
                let t = str_field(&req.data, "token").unwrap_or_default();
                if t.is_empty() {
                    return Err(LogicalError::bad_request("missing token ID"));
                }
                let h = store.hash(&t)?;
                store.revoke_tree(&h).await?;
                Ok(None)
            }
            ("create" | "create-orphan", Operation::Update | Operation::Create) => {
                let Some(parent) = store.lookup(req.token()).await? else {
                    return Err(LogicalError::PermissionDenied);
                };
                let orphan = path == "create-orphan";
                let mut policies: Vec<String> = match req.data.get("policies") {
                    Some(Value::Array(a)) => a
                        .iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect(),
                    Some(Value::String(s)) => s
                        .split(',')
                        .map(|x| x.trim().to_string())
                        .filter(|x| !x.is_empty())
                        .collect(),
                    _ => parent.policies.clone(),
                };
                if !parent.is_root() && policies.iter().any(|p| !parent.policies.contains(p)) {
                    return Err(LogicalError::bad_request(
                        "child policies must be subset of parent",
                    ));
                }
                if !policies.iter().any(|p| p == "root") && !policies.iter().any(|p| p == "default")
                {
                    policies.push("default".into());
                }
                policies.sort();
                policies.dedup();
                let ttl = match req.data.get("ttl") {
                    Some(v) => arca_sdk::duration::parse_duration_value(v)
                        .map_err(|e| LogicalError::bad_request(e.to_string()))?
                        .as_secs(),
                    None => 0,
                };
                let entry = TokenEntry {
                    parent: if orphan {
                        String::new()
                    } else {
                        parent.id_hash.clone()
                    },
                    orphan,
                    policies: policies.clone(),
                    path: format!("auth/token/{path}"),
                    display_name: "token".into(),
                    ttl: if policies.iter().any(|p| p == "root") && ttl == 0 {
                        0
                    } else if ttl == 0 {
                        core.config().default_lease_ttl.as_secs()
                    } else {
                        ttl
                    },
                    renewable: true,
                    ..TokenEntry::default()
                };
                let (token, e) = store.create(entry, None).await?;
                let mut r = Response::default();
                r.auth = Some(arca_sdk::Auth {
                    client_token: token.to_string(),
                    accessor: e.accessor.clone(),
                    policies: e.policies.clone(),
                    token_policies: e.policies.clone(),
                    orphan,
                    token_type: "service".into(),
                    lease: arca_sdk::LeaseOptions {
                        ttl: std::time::Duration::from_secs(e.ttl),
                        renewable: e.renewable,
                        ..Default::default()
                    },
                    ..Default::default()
                });
                Ok(Some(r))
            }
            _ => Err(LogicalError::UnsupportedPath),
        }
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
