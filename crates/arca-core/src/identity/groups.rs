//! `identity/group*` and `identity/group-alias*`: internal groups list their members
//! (entities and groups, without loops); external groups get their one alias.

use std::sync::Arc;

use arca_sdk::{LogicalError, Request, Response};
use serde_json::{Value, json};

use super::entities::list_response;
use super::model::{Alias, Group, dedup};
use super::{Batch, IdentityStore, fields, generated_name, now};

/// How a request names the group it writes.
pub(crate) enum GroupRef {
    /// `identity/group`: `id` in the body, else `name`, else a new one.
    Body,
    /// `group/id/<id>`.
    Id(String),
    /// `group/name/<name>`: created when missing.
    Name(String),
}

impl IdentityStore {
    /// Creates or updates a group. A new one answers its id and name; an update is a 204.
    pub(crate) async fn write_group(
        &self,
        req: &Request,
        target: GroupRef,
    ) -> Result<Option<Response>, LogicalError> {
        let d = &req.data;
        let name = fields::string(d, "name")?;
        let kind = fields::string(d, "type")?.filter(|s| !s.is_empty());
        let policies = fields::strings(d, "policies")?;
        let metadata = fields::kv(d, "metadata")?;
        let entities = fields::strings(d, "member_entity_ids")?;
        let members = fields::strings(d, "member_group_ids")?;
        if let Some(k) = &kind
            && k != "internal"
            && k != "external"
        {
            return Err(LogicalError::bad_request(format!(
                "invalid group type {k:?}"
            )));
        }
        let _guard = self.write.lock().await;
        let existing = match &target {
            GroupRef::Id(id) => Some(self.group_or_400(id)?),
            GroupRef::Body => match fields::string(d, "id")?.filter(|s| !s.is_empty()) {
                Some(id) => Some(self.group_or_400(&id)?),
                None => name
                    .as_deref()
                    .and_then(|n| self.read(|ix| ix.group_by_name(n))),
            },
            GroupRef::Name(n) => self.read(|ix| ix.group_by_name(n)),
        };
        let name = match target {
            GroupRef::Name(n) => Some(n),
            _ => name,
        };
        let now = now();
        let created = existing.is_none();
        let mut g = match existing {
            Some(g) => (*g).clone(),
            None => Group {
                id: crate::random::uuid(),
                kind: "internal".into(),
                creation_time: now.clone(),
                namespace_id: req.namespace_id.clone(),
                ..Group::default()
            },
        };
        if let Some(k) = kind {
            if !created && k != g.kind {
                return Err(LogicalError::bad_request("group type cannot be changed"));
            }
            g.kind = k;
        }
        if let Some(n) = name.filter(|n| !n.is_empty()) {
            if self
                .read(|ix| ix.group_by_name(&n))
                .is_some_and(|other| other.id != g.id)
            {
                return Err(LogicalError::bad_request("group name is already in use"));
            }
            g.name = n;
        }
        if g.name.is_empty() {
            g.name = generated_name("group", &req.namespace_id);
        }
        if let Some(p) = policies {
            g.policies = dedup(p);
        }
        if let Some(m) = metadata {
            g.metadata = m;
        }
        if let Some(list) = entities {
            if g.kind == "external" {
                return Err(LogicalError::bad_request(
                    "member entities can't be set manually for external groups",
                ));
            }
            let list = dedup(list);
            if let Some(bad) = list.iter().find(|e| self.read(|ix| ix.entity(e)).is_none()) {
                return Err(LogicalError::bad_request(format!(
                    "invalid entity ID {bad:?}"
                )));
            }
            g.member_entity_ids = list;
        }
        if let Some(list) = members {
            if g.kind == "external" {
                return Err(LogicalError::bad_request(
                    "member groups can't be set for external groups",
                ));
            }
            let list = dedup(list);
            self.check_member_groups(&g.id, &list)?;
            g.member_group_ids = list;
        }
        g.modify_index += 1;
        g.last_update_time = now;
        let g = self.save_group(g).await?;
        if !created {
            return Ok(None);
        }
        let mut out = serde_json::Map::new();
        out.insert("id".into(), json!(g.id));
        out.insert("name".into(), json!(g.name));
        Ok(Some(Response::with_data(out)))
    }

    /// Refuses member groups that are unknown, the group itself, or above it (a loop).
    fn check_member_groups(&self, group_id: &str, members: &[String]) -> Result<(), LogicalError> {
        for m in members {
            if m == group_id {
                return Err(LogicalError::bad_request(format!(
                    "member group ID {m:?} is same as the ID of the group"
                )));
            }
            if self.read(|ix| ix.group(m)).is_none() {
                return Err(LogicalError::bad_request(format!(
                    "invalid member group ID {m:?}"
                )));
            }
        }
        if let Some(m) = self.read(|ix| ix.cycle_member(group_id, members).map(str::to_string)) {
            return Err(LogicalError::bad_request(format!(
                "cyclic relationship detected for member group ID {m:?}"
            )));
        }
        Ok(())
    }

    fn group_or_400(&self, id: &str) -> Result<Arc<Group>, LogicalError> {
        self.read(|ix| ix.group(id))
            .ok_or_else(|| LogicalError::bad_request("invalid group ID"))
    }

    /// Reads a group by id or name; 404 `{"errors":[]}` when missing.
    pub(crate) fn read_group(&self, by_name: bool, key: &str) -> Result<Response, LogicalError> {
        let data = self.read(|ix| {
            let g = if by_name {
                ix.group_by_name(key)
            } else {
                ix.group(key)
            }?;
            Some(self.group_json(ix, &g))
        });
        match data {
            Some(Value::Object(m)) => Ok(Response::with_data(m)),
            _ => Err(LogicalError::empty_not_found()),
        }
    }

    /// Deletes a group by id or name, and drops it from the groups listing it; a missing
    /// one is no error.
    pub(crate) async fn delete_group(&self, by_name: bool, key: &str) -> Result<(), LogicalError> {
        let _guard = self.write.lock().await;
        let Some(g) = self.read(|ix| {
            if by_name {
                ix.group_by_name(key)
            } else {
                ix.group(key)
            }
        }) else {
            return Ok(());
        };
        let parents = self.read(|ix| {
            ix.parent_groups(&g.id)
                .into_iter()
                .filter_map(|p| ix.group(&p))
                .collect::<Vec<_>>()
        });
        let now = now();
        let groups = parents
            .into_iter()
            .map(|p| {
                let mut p = (*p).clone();
                p.member_group_ids.retain(|m| *m != g.id);
                p.modify_index += 1;
                p.last_update_time.clone_from(&now);
                p
            })
            .collect();
        self.commit(Batch {
            groups,
            drop_groups: vec![g.id.clone()],
            ..Batch::default()
        })
        .await
    }

    /// LIST `group/id` (with names and counts) or `group/name`.
    pub(crate) fn list_groups(&self, by_name: bool) -> Result<Response, LogicalError> {
        let data = self.read(|ix| {
            let mut all: Vec<_> = ix.groups().cloned().collect();
            // Both lists run in id order, as OpenBao's (names are not sorted).
            all.sort_by(|a, b| a.id.cmp(&b.id));
            if by_name {
                let names: Vec<&String> = all.iter().map(|x| &x.name).collect();
                return json!({ "keys": names });
            }
            let mut info = serde_json::Map::new();
            for g in &all {
                info.insert(
                    g.id.clone(),
                    json!({
                        "name": g.name,
                        "num_member_entities": g.member_entity_ids.len(),
                        "num_parent_groups": ix.parent_groups(&g.id).len(),
                    }),
                );
            }
            let keys: Vec<&String> = all.iter().map(|g| &g.id).collect();
            json!({ "key_info": info, "keys": keys })
        });
        list_response(data)
    }

    /// Creates or updates a group alias (`group-alias`, or `group-alias/id/<id>`).
    pub(crate) async fn write_group_alias(
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
        let canonical = fields::string(d, "canonical_id")?.filter(|s| !s.is_empty());
        let _guard = self.write.lock().await;
        let current = match &id {
            Some(id) => Some(
                self.read(|ix| ix.group_of_alias(id))
                    .ok_or_else(|| LogicalError::bad_request("invalid group alias ID"))?,
            ),
            None => None,
        };
        let old_alias = current.as_ref().and_then(|g| g.alias.clone());
        let name = match (name, &old_alias) {
            (Some(n), _) => n,
            (None, Some(a)) => a.name.clone(),
            (None, None) => return Err(LogicalError::bad_request("missing alias name")),
        };
        let accessor = match (accessor, &old_alias) {
            (Some(a), _) => a,
            (None, Some(a)) => a.mount_accessor.clone(),
            (None, None) => return Err(LogicalError::bad_request("missing mount_accessor")),
        };
        self.check_accessor(&accessor)?;
        if let Some(other) = self.read(|ix| ix.group_by_alias_factor(&accessor, &name))
            && other.alias.as_ref().map(|a| &a.id) != id.as_ref()
        {
            return Err(LogicalError::bad_request(
                "combination of mount and group alias name is already in use",
            ));
        }
        let now = now();
        let target = match (&canonical, &current) {
            (Some(cid), _) => Some(self.read(|ix| ix.group(cid)).ok_or_else(|| {
                LogicalError::bad_request("invalid group ID given in 'canonical_id'")
            })?),
            (None, Some(g)) => Some(g.clone()),
            (None, None) => None,
        };
        let mut group = match target {
            Some(g) => {
                if g.kind != "external" {
                    return Err(LogicalError::bad_request(
                        "alias can't be set on an internal group",
                    ));
                }
                (*g).clone()
            }
            None => Group {
                id: crate::random::uuid(),
                name: generated_name("group", &req.namespace_id),
                kind: "external".into(),
                creation_time: now.clone(),
                namespace_id: req.namespace_id.clone(),
                ..Group::default()
            },
        };
        // Moving an alias to another group takes it off the first, in the same write.
        let mut batch = Batch::default();
        if let Some(cur) = &current
            && cur.id != group.id
        {
            let mut cur = (**cur).clone();
            cur.alias = None;
            cur.modify_index += 1;
            cur.last_update_time = now.clone();
            batch.groups.push(cur);
        }
        let alias = Alias {
            id: old_alias
                .filter(|_| current.as_ref().is_some_and(|c| c.id == group.id))
                .map(|a| a.id)
                .unwrap_or_else(crate::random::uuid),
            canonical_id: group.id.clone(),
            name,
            mount_accessor: accessor,
            creation_time: now.clone(),
            last_update_time: now.clone(),
            namespace_id: req.namespace_id.clone(),
            ..Alias::default()
        };
        let mut out = serde_json::Map::new();
        out.insert("canonical_id".into(), json!(alias.canonical_id));
        out.insert("id".into(), json!(alias.id));
        group.alias = Some(alias);
        group.modify_index += 1;
        group.last_update_time = now;
        batch.groups.push(group);
        self.commit(batch).await?;
        Ok(Some(Response::with_data(out)))
    }

    /// Reads a group alias; 404 `{"errors":[]}` when missing.
    pub(crate) fn read_group_alias(&self, id: &str) -> Result<Response, LogicalError> {
        let data = self.read(|ix| {
            let g = ix.group_of_alias(id)?;
            Some(self.alias_json(g.alias.as_ref()?, true))
        });
        match data {
            Some(Value::Object(m)) => Ok(Response::with_data(m)),
            _ => Err(LogicalError::empty_not_found()),
        }
    }

    /// Deletes a group alias; a missing one is no error.
    pub(crate) async fn delete_group_alias(&self, id: &str) -> Result<(), LogicalError> {
        let _guard = self.write.lock().await;
        if let Some(g) = self.read(|ix| ix.group_of_alias(id)) {
            let mut g = (*g).clone();
            g.alias = None;
            g.modify_index += 1;
            g.last_update_time = now();
            self.save_group(g).await?;
        }
        Ok(())
    }

    /// LIST `group-alias/id`.
    pub(crate) fn list_group_aliases(&self) -> Result<Response, LogicalError> {
        let names = self.mount_names();
        let data = self.read(|ix| {
            let mut all: Vec<Alias> = ix.groups().filter_map(|g| g.alias.clone()).collect();
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
}

impl IdentityStore {
    /// Brings entity `entity_id`'s external group memberships in line with the group aliases
    /// a login (or a renewal) through mount `accessor` brought, as OpenBao's
    /// `RefreshExternalGroupMembershipsByEntityID`: it joins every external group whose alias
    /// names one of them on that mount, and leaves this mount's external groups it no longer
    /// names (another mount's stay; an empty `accessor` leaves all it no longer names).
    /// Answers the group aliases that matched a group; writes nothing when nothing changes,
    /// and every changed group in one transaction otherwise.
    pub(crate) async fn refresh_external_groups(
        &self,
        entity_id: &str,
        accessor: &str,
        group_aliases: &[arca_sdk::Alias],
    ) -> Result<Vec<arca_sdk::Alias>, LogicalError> {
        if entity_id.is_empty() {
            return Ok(Vec::new());
        }
        let plan = |ix: &super::index::Index| {
            let mut valid = Vec::new();
            let mut wanted: Vec<Arc<Group>> = Vec::new();
            for a in group_aliases {
                if let Some(g) = ix.group_by_alias_factor(accessor, &a.name) {
                    valid.push(a.clone());
                    if !wanted.iter().any(|w| w.id == g.id) {
                        wanted.push(g);
                    }
                }
            }
            let current = ix.direct_groups(entity_id);
            let mut changed = Vec::new();
            for g in &wanted {
                if g.kind == "external" && !current.contains(&g.id) {
                    let mut g = (**g).clone();
                    g.member_entity_ids.push(entity_id.to_string());
                    changed.push(g);
                }
            }
            for id in &current {
                let Some(g) = ix.group(id) else { continue };
                let other_mount = !accessor.is_empty()
                    && g.alias
                        .as_ref()
                        .is_some_and(|al| al.mount_accessor != accessor);
                if g.kind != "external" || other_mount || wanted.iter().any(|w| w.id == g.id) {
                    continue;
                }
                let mut g = (*g).clone();
                g.member_entity_ids.retain(|m| m != entity_id);
                changed.push(g);
            }
            (valid, changed)
        };
        // Most logins change nothing: decided under the read lock alone.
        let (valid, changed) = self.read(plan);
        if changed.is_empty() {
            return Ok(valid);
        }
        let _guard = self.write.lock().await;
        let (valid, mut changed) = self.read(plan);
        if changed.is_empty() {
            return Ok(valid);
        }
        for g in &mut changed {
            g.modify_index += 1;
        }
        self.commit(Batch {
            groups: changed,
            ..Batch::default()
        })
        .await?;
        Ok(valid)
    }
}
