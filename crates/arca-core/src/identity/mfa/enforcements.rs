//! `identity/mfa/login-enforcement[/<name>]`: which logins need MFA (by auth mount accessor,
//! auth method type, group or entity) and with which methods, checked and refused with
//! OpenBao's texts.

use std::sync::Arc;

use arca_sdk::storage::StorageExt;
use arca_sdk::{JsonMap, LogicalError, Request, Response};
use serde_json::{Value, json};

use super::{ENFORCEMENT_PREFIX, Enforcement, RECORD_VERSION};
use crate::identity::IdentityStore;
use crate::identity::entities::list_response;
use crate::identity::fields;
use crate::mounts::TableKind;

/// An enforcement as OpenBao reads and lists it.
fn enforcement_json(e: &Enforcement) -> Value {
    json!({
        "auth_method_accessors": e.auth_method_accessors,
        "auth_method_types": e.auth_method_types,
        "id": e.id,
        "identity_entity_ids": e.identity_entity_ids,
        "identity_group_ids": e.identity_group_ids,
        "mfa_method_ids": e.mfa_method_ids,
        "name": e.name,
        "namespace_id": e.namespace_id,
        "namespace_path": e.namespace_path,
    })
}

impl IdentityStore {
    /// Whether an auth mount of `namespace_id` satisfies `f`.
    fn auth_mount_exists(
        &self,
        namespace_id: &str,
        f: impl Fn(&crate::mounts::MountEntry) -> bool,
    ) -> bool {
        self.mounts
            .upgrade()
            .is_some_and(|m| m.entries_of(namespace_id, TableKind::Auth).iter().any(f))
    }

    /// Create or update `identity/mfa/login-enforcement/<name>` (OpenBao's
    /// `handleMFALoginEnforcementUpdate`: every list replaced by the request's).
    pub(crate) async fn write_enforcement(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<(), LogicalError> {
        let d = &req.data;
        let method_ids = fields::strings(d, "mfa_method_ids")?;
        let accessors = fields::strings(d, "auth_method_accessors")?;
        let types = fields::strings(d, "auth_method_types")?;
        let group_ids = fields::strings(d, "identity_group_ids")?;
        let entity_ids = fields::strings(d, "identity_entity_ids")?;
        let _guard = self.write.lock().await;
        let existing = self.mfa.read().enforcements.get(name).cloned();
        let mut e = match existing {
            Some(e) => (*e).clone(),
            None => Enforcement {
                id: crate::random::uuid(),
                name: name.to_string(),
                namespace_id: req.namespace_id.clone(),
                namespace_path: req.namespace_path.clone(),
                ..Enforcement::default()
            },
        };
        let Some(method_ids) = method_ids else {
            return Err(LogicalError::bad_request("missing method ids"));
        };
        {
            let st = self.mfa.read();
            if method_ids.iter().any(|id| !st.methods.contains_key(id)) {
                return Err(LogicalError::bad_request(
                    "one of the provided method ids doesn't exist",
                ));
            }
        }
        e.mfa_method_ids = method_ids;
        let mut one_of_four = false;
        if let Some(accessors) = accessors {
            for a in &accessors {
                if !self.auth_mount_exists(&req.namespace_id, |m| &m.accessor == a) {
                    return Err(LogicalError::bad_request(
                        "one of the auth method accessors provided is invalid",
                    ));
                }
            }
            e.auth_method_accessors = accessors;
            one_of_four = true;
        }
        if let Some(types) = types {
            for t in &types {
                if !self.auth_mount_exists(&req.namespace_id, |m| &m.kind == t) {
                    return Err(LogicalError::bad_request(
                        "one of the auth method types provided is invalid",
                    ));
                }
            }
            e.auth_method_types = types;
            one_of_four = true;
        }
        if let Some(groups) = group_ids {
            if groups.iter().any(|g| self.read(|ix| ix.group(g)).is_none()) {
                return Err(LogicalError::bad_request(
                    "one of the provided group ids doesn't exist",
                ));
            }
            e.identity_group_ids = groups;
            one_of_four = true;
        }
        if let Some(entities) = entity_ids {
            if entities
                .iter()
                .any(|x| self.read(|ix| ix.entity(x)).is_none())
            {
                return Err(LogicalError::bad_request(
                    "one of the provided entity ids doesn't exist",
                ));
            }
            e.identity_entity_ids = entities;
            one_of_four = true;
        }
        if !one_of_four {
            return Err(LogicalError::bad_request(
                "One of auth_method_accessors, auth_method_types, identity_group_ids, identity_entity_ids must be specified",
            ));
        }
        e.version = RECORD_VERSION;
        self.storage()?
            .put_json(&format!("{ENFORCEMENT_PREFIX}{name}"), &e)
            .await?;
        self.mfa
            .write()
            .enforcements
            .insert(name.to_string(), Arc::new(e));
        Ok(())
    }

    /// `identity/mfa/login-enforcement/<name>`: 404 `{"errors":[]}` when absent.
    pub(crate) fn read_enforcement(&self, name: &str) -> Result<Response, LogicalError> {
        let e = self
            .mfa
            .read()
            .enforcements
            .get(name)
            .cloned()
            .ok_or_else(LogicalError::empty_not_found)?;
        match enforcement_json(&e) {
            Value::Object(data) => Ok(Response::with_data(data)),
            _ => Err(LogicalError::internal("internal error")),
        }
    }

    /// LIST `identity/mfa/login-enforcement`.
    pub(crate) fn list_enforcements(&self) -> Result<Response, LogicalError> {
        let st = self.mfa.read();
        let mut info = JsonMap::new();
        for (name, e) in &st.enforcements {
            info.insert(name.clone(), enforcement_json(e));
        }
        let keys: Vec<&String> = st.enforcements.keys().collect();
        list_response(json!({ "key_info": info, "keys": keys }))
    }

    /// DELETE `identity/mfa/login-enforcement/<name>` (an absent one is no error).
    pub(crate) async fn delete_enforcement(&self, name: &str) -> Result<(), LogicalError> {
        let _guard = self.write.lock().await;
        self.storage()?
            .delete(&format!("{ENFORCEMENT_PREFIX}{name}"))
            .await?;
        self.mfa.write().enforcements.remove(name);
        Ok(())
    }
}
