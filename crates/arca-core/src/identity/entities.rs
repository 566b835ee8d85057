//! `identity/entity*`: create, read, update, delete, list, batch delete and merge entities.

use std::collections::BTreeSet;

use arca_sdk::error::multierror;
use arca_sdk::{LogicalError, Request, Response};
use serde_json::{Value, json};

use super::model::{Entity, dedup};
use super::output::mount_of;
use super::{Batch, IdentityStore, fields, generated_name, now};

/// How a request names the entity it writes.
pub(crate) enum EntityRef {
    /// `identity/entity`: `id` in the body, else `name`, else a new one.
    Body,
    /// `entity/id/<id>`.
    Id(String),
    /// `entity/name/<name>`: created when missing.
    Name(String),
}

impl IdentityStore {
    /// Creates or updates an entity. A new one answers its id and name; an update is a 204.
    pub(crate) async fn write_entity(
        &self,
        req: &Request,
        target: EntityRef,
    ) -> Result<Option<Response>, LogicalError> {
        let d = &req.data;
        let name = fields::string(d, "name")?;
        let metadata = fields::kv(d, "metadata")?;
        let policies = fields::strings(d, "policies")?;
        let disabled = fields::boolean(d, "disabled")?;
        let _guard = self.write.lock().await;
        let existing = match &target {
            EntityRef::Id(id) => Some(self.entity_or_400(id)?),
            EntityRef::Body => match fields::string(d, "id")?.filter(|s| !s.is_empty()) {
                Some(id) => Some(self.entity_or_400(&id)?),
                None => name
                    .as_deref()
                    .and_then(|n| self.read(|ix| ix.entity_by_name(n))),
            },
            EntityRef::Name(n) => self.read(|ix| ix.entity_by_name(n)),
        };
        let name = match target {
            EntityRef::Name(n) => Some(n),
            _ => name,
        };
        let now = now();
        let created = existing.is_none();
        let mut e = match existing {
            Some(e) => (*e).clone(),
            None => Entity {
                id: crate::random::uuid(),
                creation_time: now.clone(),
                namespace_id: req.namespace_id.clone(),
                ..Entity::default()
            },
        };
        if let Some(n) = name.filter(|n| !n.is_empty()) {
            if self
                .read(|ix| ix.entity_by_name(&n))
                .is_some_and(|other| other.id != e.id)
            {
                return Err(LogicalError::bad_request("entity name is already in use"));
            }
            e.name = n;
        }
        if e.name.is_empty() {
            e.name = generated_name("entity", &req.namespace_id);
        }
        if let Some(m) = metadata {
            e.metadata = m;
        }
        if let Some(p) = policies {
            e.policies = dedup(p);
        }
        if let Some(b) = disabled {
            e.disabled = b;
        }
        e.last_update_time = now;
        let e = self.save_entity(e).await?;
        if !created {
            return Ok(None);
        }
        let mut out = serde_json::Map::new();
        out.insert("aliases".into(), Value::Null);
        out.insert("id".into(), json!(e.id));
        out.insert("name".into(), json!(e.name));
        Ok(Some(Response::with_data(out)))
    }

    /// The entity `id`, or OpenBao's 400 for a write naming an unknown one.
    fn entity_or_400(&self, id: &str) -> Result<std::sync::Arc<Entity>, LogicalError> {
        self.read(|ix| ix.entity(id))
            .ok_or_else(|| LogicalError::bad_request("entity not found from id"))
    }

    /// Reads an entity by id or name; 404 `{"errors":[]}` when missing.
    pub(crate) fn read_entity(&self, by_name: bool, key: &str) -> Result<Response, LogicalError> {
        let data = self.read(|ix| {
            let e = if by_name {
                ix.entity_by_name(key)
            } else {
                ix.entity(key)
            }?;
            Some(self.entity_json(ix, &e))
        });
        match data {
            Some(Value::Object(m)) => Ok(Response::with_data(m)),
            _ => Err(LogicalError::empty_not_found()),
        }
    }

    /// Deletes an entity by id or name, with its aliases and its group memberships; a
    /// missing one is no error.
    pub(crate) async fn delete_entity(&self, by_name: bool, key: &str) -> Result<(), LogicalError> {
        let _guard = self.write.lock().await;
        let e = self.read(|ix| {
            if by_name {
                ix.entity_by_name(key)
            } else {
                ix.entity(key)
            }
        });
        if let Some(e) = e {
            self.delete_entity_locked(&e.id).await?;
        }
        Ok(())
    }

    /// Deletes the entity's record and takes it off every group listing it, together. The
    /// caller holds the write lock.
    async fn delete_entity_locked(&self, id: &str) -> Result<(), LogicalError> {
        let now = now();
        let groups = self.read(|ix| {
            ix.direct_groups(id)
                .into_iter()
                .filter_map(|g| ix.group(&g))
                .collect::<Vec<_>>()
        });
        let groups = groups
            .into_iter()
            .map(|g| {
                let mut g = (*g).clone();
                g.member_entity_ids.retain(|m| m != id);
                g.modify_index += 1;
                g.last_update_time.clone_from(&now);
                g
            })
            .collect();
        self.commit(Batch {
            groups,
            drop_entities: vec![id.to_string()],
            ..Batch::default()
        })
        .await
    }

    /// `entity/batch-delete`: deletes every entity listed in `entity_ids` that exists.
    pub(crate) async fn batch_delete_entities(&self, req: &Request) -> Result<(), LogicalError> {
        let ids = fields::strings(&req.data, "entity_ids")?.unwrap_or_default();
        if ids.is_empty() {
            return Err(LogicalError::bad_request("missing entity ids to delete"));
        }
        let _guard = self.write.lock().await;
        for id in dedup(ids) {
            if self.read(|ix| ix.entity(&id)).is_some() {
                self.delete_entity_locked(&id).await?;
            }
        }
        Ok(())
    }

    /// LIST `entity/id` (ids with names and aliases) or `entity/name` (names).
    pub(crate) fn list_entities(&self, by_name: bool) -> Result<Response, LogicalError> {
        let names = if by_name {
            Default::default()
        } else {
            self.mount_names()
        };
        let data = self.read(|ix| {
            let mut all: Vec<_> = ix.entities().cloned().collect();
            // Both lists run in id order, as OpenBao's (names are not sorted).
            all.sort_by(|a, b| a.id.cmp(&b.id));
            if by_name {
                let names: Vec<&String> = all.iter().map(|x| &x.name).collect();
                return json!({ "keys": names });
            }
            let mut info = serde_json::Map::new();
            for e in &all {
                let aliases: Vec<Value> = e
                    .aliases
                    .iter()
                    .map(|a| {
                        let (mount_type, mount_path) = mount_of(&names, &a.mount_accessor);
                        json!({
                            "id": a.id,
                            "mount_accessor": a.mount_accessor,
                            "mount_path": mount_path,
                            "mount_type": mount_type,
                            "name": a.name,
                        })
                    })
                    .collect();
                // The LIST shows no aliases as `null` (a read shows `[]`).
                let aliases = if aliases.is_empty() {
                    Value::Null
                } else {
                    json!(aliases)
                };
                info.insert(e.id.clone(), json!({ "aliases": aliases, "name": e.name }));
            }
            let keys: Vec<&String> = all.iter().map(|e| &e.id).collect();
            json!({ "key_info": info, "keys": keys })
        });
        list_response(data)
    }

    /// `entity/merge`: moves the aliases and group memberships of `from_entity_ids` to
    /// `to_entity_id` and deletes the merged entities.
    pub(crate) async fn merge_entities(&self, req: &Request) -> Result<(), LogicalError> {
        let d = &req.data;
        let to_id = fields::string_or_empty(d, "to_entity_id")?;
        if to_id.is_empty() {
            return Err(LogicalError::bad_request("missing entity id to merge to"));
        }
        let from_ids = dedup(fields::strings(d, "from_entity_ids")?.unwrap_or_default());
        if from_ids.is_empty() {
            return Err(LogicalError::bad_request(
                "missing entity ids to merge from",
            ));
        }
        let keep: BTreeSet<String> = fields::strings(d, "conflicting_alias_ids_to_keep")?
            .unwrap_or_default()
            .into_iter()
            .collect();
        let force = fields::boolean(d, "force")?.unwrap_or(false);
        let _guard = self.write.lock().await;
        let Some(to) = self.read(|ix| ix.entity(&to_id)) else {
            return Err(LogicalError::bad_request(
                "entity id to merge to is invalid",
            ));
        };
        if from_ids.contains(&to_id) {
            return Err(LogicalError::bad_request(
                "to_entity_id should not be present in from_entity_ids",
            ));
        }
        let mut froms = Vec::new();
        for id in &from_ids {
            match self.read(|ix| ix.entity(id)) {
                Some(e) => froms.push(e),
                None => {
                    return Err(LogicalError::bad_request(
                        "entity id to merge from is invalid",
                    ));
                }
            }
        }
        // Aliases on a mount the target already has an alias on clash, unless the caller
        // names which of the two to keep (then the other is dropped).
        let mut clashes = Vec::new();
        let mut drop_from = BTreeSet::new();
        let mut drop_to = BTreeSet::new();
        for from in &froms {
            for fa in &from.aliases {
                let Some(ta) = to
                    .aliases
                    .iter()
                    .find(|ta| ta.mount_accessor == fa.mount_accessor)
                else {
                    continue;
                };
                if keep.contains(&ta.id) {
                    drop_from.insert(fa.id.clone());
                } else if keep.contains(&fa.id) {
                    drop_to.insert(ta.id.clone());
                } else {
                    clashes.push(format!(
                        "mountAccessor: {}, toEntity ID: {}, fromEntity ID: {}, conflicting toEntity alias ID: {}, conflicting fromEntity alias ID: {}",
                        fa.mount_accessor, to.id, from.id, ta.id, fa.id
                    ));
                }
            }
        }
        // OpenBao meets a conflicting MFA secret before it reports alias clashes.
        let mut secret_moves = self.plan_secret_moves(&to.id, &from_ids, force).await?;
        if !clashes.is_empty() {
            let mut msgs = vec!["toEntity and at least one fromEntity have aliases with the same mount accessor, repeat the merge request specifying exactly one fromEntity, clashes: ".to_string()];
            msgs.extend(clashes);
            return Err(LogicalError::bad_request(multierror(&msgs)));
        }
        let now = now();
        let mut target = (*to).clone();
        target.aliases.retain(|a| !drop_to.contains(&a.id));
        for from in &froms {
            for fa in from.aliases.iter().filter(|a| !drop_from.contains(&a.id)) {
                let mut a = fa.clone();
                a.merged_from_canonical_ids.push(from.id.clone());
                a.canonical_id = target.id.clone();
                target.aliases.push(a);
            }
            target.merged_entity_ids.push(from.id.clone());
            target
                .merged_entity_ids
                .extend(from.merged_entity_ids.iter().cloned());
            target.policies.extend(from.policies.iter().cloned());
        }
        target.policies = dedup(target.policies);
        target.merged_entity_ids = dedup(target.merged_entity_ids);
        // Group memberships move to the target.
        let from_set: BTreeSet<&str> = froms.iter().map(|e| e.id.as_str()).collect();
        let groups = self.read(|ix| {
            let mut gs = BTreeSet::new();
            for f in &froms {
                gs.extend(ix.direct_groups(&f.id));
            }
            gs.into_iter()
                .filter_map(|g| ix.group(&g))
                .collect::<Vec<_>>()
        });
        let groups = groups
            .into_iter()
            .map(|g| {
                let mut g = (*g).clone();
                let members: Vec<String> = g
                    .member_entity_ids
                    .iter()
                    .map(|m| {
                        if from_set.contains(m.as_str()) {
                            target.id.clone()
                        } else {
                            m.clone()
                        }
                    })
                    .collect();
                g.member_entity_ids = dedup(members);
                g.modify_index += 1;
                g.last_update_time.clone_from(&now);
                g
            })
            .collect();
        // One transaction: the target with its new aliases, the groups, the merged
        // entities gone.
        let drop_entities = froms.iter().map(|e| e.id.clone()).collect();
        self.commit(Batch {
            entities: vec![target],
            groups,
            drop_entities,
            extra: std::mem::take(&mut secret_moves.ops),
            ..Batch::default()
        })
        .await?;
        self.apply_secret_moves(&secret_moves);
        Ok(())
    }
}

/// A LIST answer; an empty one is OpenBao's 404 `{"errors":[]}`.
pub(crate) fn list_response(data: Value) -> Result<Response, LogicalError> {
    let empty = data
        .get("keys")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    match data {
        Value::Object(m) if !empty => Ok(Response::with_data(m)),
        _ => Err(LogicalError::empty_not_found()),
    }
}
