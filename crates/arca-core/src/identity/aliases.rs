//! `identity/entity-alias*` (and the legacy `identity/persona*` paths OpenBao still serves):
//! an entity's names on auth mounts, at most one per mount per entity.

use arca_sdk::{LogicalError, Request, Response};
use serde_json::{Value, json};

use super::entities::list_response;
use super::model::{Alias, Entity};
use super::output::{MountNames, mount_of};
use super::{Batch, IdentityStore, fields, generated_name, now};

impl IdentityStore {
    /// Checks `accessor` names a mount: OpenBao's 400 otherwise.
    pub(crate) fn check_accessor(&self, accessor: &str) -> Result<(), LogicalError> {
        if self.mount(accessor).is_none() {
            return Err(LogicalError::bad_request(format!(
                "invalid mount accessor {accessor:?}"
            )));
        }
        Ok(())
    }

    /// Creates or updates an entity alias (`entity-alias`, or `entity-alias/id/<id>` when
    /// `path_id` is set). Answers the alias's id and entity id.
    pub(crate) async fn write_alias(
        &self,
        req: &Request,
        path_id: Option<&str>,
    ) -> Result<Option<Response>, LogicalError> {
        let d = &req.data;
        let id = match path_id {
            Some(id) => Some(id.to_string()),
            None => fields::string(d, "id")?.filter(|s| !s.is_empty()),
        };
        let name = fields::string(d, "name")?.filter(|s| !s.is_empty());
        let accessor = fields::string(d, "mount_accessor")?.filter(|s| !s.is_empty());
        // `entity_id` is the older name of `canonical_id` (the `persona` paths' word).
        let canonical = match fields::string(d, "canonical_id")?.filter(|s| !s.is_empty()) {
            Some(c) => Some(c),
            None => fields::string(d, "entity_id")?.filter(|s| !s.is_empty()),
        };
        let custom = fields::kv(d, "custom_metadata")?;
        let _guard = self.write.lock().await;
        // The alias to update: by id, or by (mount accessor, name).
        let existing_id = match &id {
            Some(id) => {
                if self.read(|ix| ix.entity_of_alias(id)).is_none() {
                    return Err(LogicalError::bad_request("invalid alias ID provided"));
                }
                Some(id.clone())
            }
            None => {
                let (Some(acc), Some(n)) = (&accessor, &name) else {
                    return Err(LogicalError::bad_request(
                        "'id' or 'mount_accessor' and 'name' must be provided",
                    ));
                };
                self.check_accessor(acc)?;
                self.read(|ix| ix.alias_by_factor(acc, n))
            }
        };
        if let Some(acc) = &accessor {
            self.check_accessor(acc)?;
        }
        let target = match &canonical {
            Some(cid) => Some(
                self.read(|ix| ix.entity(cid))
                    .ok_or_else(|| LogicalError::bad_request("invalid canonical ID"))?,
            ),
            None => None,
        };
        let now = now();
        let Some(alias_id) = existing_id else {
            // A new alias, on the named entity or on a new one.
            let (Some(acc), Some(n)) = (accessor, name) else {
                return Err(LogicalError::internal("alias without accessor or name"));
            };
            let mut entity = match target {
                Some(e) => {
                    if e.aliases.iter().any(|a| a.mount_accessor == acc) {
                        return Err(LogicalError::bad_request(
                            "Alias already exists for requested entity and mount accessor",
                        ));
                    }
                    (*e).clone()
                }
                None => Entity {
                    id: crate::random::uuid(),
                    name: generated_name("entity", &req.namespace_id),
                    creation_time: now.clone(),
                    last_update_time: now.clone(),
                    namespace_id: req.namespace_id.clone(),
                    ..Entity::default()
                },
            };
            let alias = Alias {
                id: crate::random::uuid(),
                canonical_id: entity.id.clone(),
                name: n,
                mount_accessor: acc,
                custom_metadata: Some(custom.unwrap_or_default()),
                creation_time: now.clone(),
                last_update_time: now,
                namespace_id: req.namespace_id.clone(),
                ..Alias::default()
            };
            let out = alias_answer(&alias);
            entity.aliases.push(alias);
            self.save_entity(entity).await?;
            return Ok(Some(out));
        };
        // An update: rename, move to another mount or entity, new custom metadata.
        let Some(owner) = self.read(|ix| ix.entity_of_alias(&alias_id)) else {
            return Err(LogicalError::bad_request("invalid alias ID provided"));
        };
        let Some(mut alias) = owner.aliases.iter().find(|a| a.id == alias_id).cloned() else {
            return Err(LogicalError::bad_request("invalid alias ID provided"));
        };
        let new_acc = accessor.unwrap_or_else(|| alias.mount_accessor.clone());
        let new_name = name.unwrap_or_else(|| alias.name.clone());
        if (new_acc != alias.mount_accessor || new_name != alias.name)
            && self
                .read(|ix| ix.alias_by_factor(&new_acc, &new_name))
                .is_some_and(|other| other != alias_id)
        {
            return Err(LogicalError::bad_request(
                "alias with combination of mount accessor and name already exists",
            ));
        }
        let new_owner = target.unwrap_or_else(|| owner.clone());
        if new_owner
            .aliases
            .iter()
            .any(|a| a.id != alias_id && a.mount_accessor == new_acc)
        {
            return Err(LogicalError::bad_request(
                "Alias cannot be updated as the given entity already has an alias for this mount ",
            ));
        }
        alias.mount_accessor = new_acc;
        alias.name = new_name;
        alias.custom_metadata = Some(custom.unwrap_or_default());
        alias.last_update_time = now.clone();
        let out;
        if new_owner.id == owner.id {
            let mut e = (*owner).clone();
            alias.canonical_id = e.id.clone();
            out = alias_answer(&alias);
            for a in e.aliases.iter_mut().filter(|a| a.id == alias_id) {
                *a = alias.clone();
            }
            self.save_entity(e).await?;
        } else {
            let mut old = (*owner).clone();
            old.aliases.retain(|a| a.id != alias_id);
            old.last_update_time = now.clone();
            let mut new = (*new_owner).clone();
            alias.canonical_id = new.id.clone();
            out = alias_answer(&alias);
            new.aliases.push(alias);
            new.last_update_time = now;
            self.commit(Batch {
                entities: vec![old, new],
                ..Batch::default()
            })
            .await?;
        }
        Ok(Some(out))
    }

    /// Reads an entity alias; 404 `{"errors":[]}` when missing.
    pub(crate) fn read_alias(&self, id: &str) -> Result<Response, LogicalError> {
        let data = self.read(|ix| {
            let e = ix.entity_of_alias(id)?;
            let a = e.aliases.iter().find(|a| a.id == id)?;
            Some(self.alias_json(a, true))
        });
        match data {
            Some(Value::Object(m)) => Ok(Response::with_data(m)),
            _ => Err(LogicalError::empty_not_found()),
        }
    }

    /// Deletes an entity alias; a missing one is no error.
    pub(crate) async fn delete_alias(&self, id: &str) -> Result<(), LogicalError> {
        let _guard = self.write.lock().await;
        if let Some(e) = self.read(|ix| ix.entity_of_alias(id)) {
            let mut e = (*e).clone();
            e.aliases.retain(|a| a.id != id);
            e.last_update_time = now();
            self.save_entity(e).await?;
        }
        Ok(())
    }

    /// LIST `entity-alias/id`.
    pub(crate) fn list_aliases(&self) -> Result<Response, LogicalError> {
        let names = self.mount_names();
        let data = self.read(|ix| {
            let mut all: Vec<Alias> = ix
                .entities()
                .flat_map(|e| e.aliases.iter().cloned())
                .collect();
            all.sort_by(|a, b| a.id.cmp(&b.id));
            let mut info = serde_json::Map::new();
            for a in &all {
                info.insert(a.id.clone(), self.alias_list_info(a, &names));
            }
            let keys: Vec<&String> = all.iter().map(|a| &a.id).collect();
            json!({ "key_info": info, "keys": keys })
        });
        list_response(data)
    }

    /// What an alias LIST shows of each alias.
    pub(crate) fn alias_list_info(&self, a: &Alias, names: &MountNames) -> Value {
        let (mount_type, mount_path) = mount_of(names, &a.mount_accessor);
        json!({
            "canonical_id": a.canonical_id,
            "custom_metadata": a.custom_metadata,
            "local": false,
            "metadata": super::output::map_or_null(&a.metadata),
            "mount_accessor": a.mount_accessor,
            "mount_path": mount_path,
            "mount_type": mount_type,
            "name": a.name,
        })
    }
}

/// The answer to an alias write: its entity and its id.
fn alias_answer(a: &Alias) -> Response {
    let mut m = serde_json::Map::new();
    m.insert("canonical_id".into(), json!(a.canonical_id));
    m.insert("id".into(), json!(a.id));
    Response::with_data(m)
}
