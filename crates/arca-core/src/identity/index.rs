//! The in-memory index of the identity store: entities by id and name, aliases by id and by
//! (mount accessor, name), groups by id and name, and memberships both ways. Reads of the
//! hot path (a login's alias, a request's identity policies) only touch these maps.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::model::{Entity, Group};

/// Every identity record, indexed.
#[derive(Default)]
pub(crate) struct Index {
    entities: HashMap<String, Arc<Entity>>,
    entity_by_name: HashMap<String, String>,
    /// Alias id → entity id.
    alias_entity: HashMap<String, String>,
    /// (mount accessor, alias name) → alias id.
    alias_by_factor: HashMap<(String, String), String>,
    groups: HashMap<String, Arc<Group>>,
    group_by_name: HashMap<String, String>,
    /// Group alias id → group id.
    group_alias_group: HashMap<String, String>,
    /// (mount accessor, alias name) → group id.
    group_alias_by_factor: HashMap<(String, String), String>,
    /// Entity id → the groups listing it as a member.
    entity_groups: HashMap<String, BTreeSet<String>>,
    /// Group id → the groups listing it as a member.
    group_parents: HashMap<String, BTreeSet<String>>,
}

impl Index {
    /// Room for `entities` entities (one alias each) and `groups` groups, so a load at
    /// unseal does not rehash as it grows.
    pub fn reserve(&mut self, entities: usize, groups: usize) {
        self.entities.reserve(entities);
        self.entity_by_name.reserve(entities);
        self.alias_entity.reserve(entities);
        self.alias_by_factor.reserve(entities);
        self.groups.reserve(groups);
        self.group_by_name.reserve(groups);
    }

    /// The entity `id`.
    pub fn entity(&self, id: &str) -> Option<Arc<Entity>> {
        self.entities.get(id).cloned()
    }

    /// The entity named `name`.
    pub fn entity_by_name(&self, name: &str) -> Option<Arc<Entity>> {
        self.entity_by_name
            .get(&fold(name))
            .and_then(|id| self.entity(id))
    }

    /// The entity holding alias `alias_id`.
    pub fn entity_of_alias(&self, alias_id: &str) -> Option<Arc<Entity>> {
        self.alias_entity
            .get(alias_id)
            .and_then(|id| self.entity(id))
    }

    /// The id of the alias named `name` on the mount `accessor`.
    pub fn alias_by_factor(&self, accessor: &str, name: &str) -> Option<String> {
        self.alias_by_factor
            .get(&(accessor.to_string(), fold(name)))
            .cloned()
    }

    /// Every entity.
    pub fn entities(&self) -> impl Iterator<Item = &Arc<Entity>> {
        self.entities.values()
    }

    /// Every group.
    pub fn groups(&self) -> impl Iterator<Item = &Arc<Group>> {
        self.groups.values()
    }

    /// The group `id`.
    pub fn group(&self, id: &str) -> Option<Arc<Group>> {
        self.groups.get(id).cloned()
    }

    /// The group named `name`.
    pub fn group_by_name(&self, name: &str) -> Option<Arc<Group>> {
        self.group_by_name
            .get(&fold(name))
            .and_then(|id| self.group(id))
    }

    /// The group holding group alias `alias_id`.
    pub fn group_of_alias(&self, alias_id: &str) -> Option<Arc<Group>> {
        self.group_alias_group
            .get(alias_id)
            .and_then(|id| self.group(id))
    }

    /// The group whose alias is `name` on the mount `accessor`.
    pub fn group_by_alias_factor(&self, accessor: &str, name: &str) -> Option<Arc<Group>> {
        self.group_alias_by_factor
            .get(&(accessor.to_string(), fold(name)))
            .and_then(|id| self.group(id))
    }

    /// Adds or replaces an entity.
    pub fn put_entity(&mut self, e: Arc<Entity>) {
        self.remove_entity(&e.id);
        self.entity_by_name.insert(fold(&e.name), e.id.clone());
        for a in &e.aliases {
            self.alias_entity.insert(a.id.clone(), e.id.clone());
            self.alias_by_factor
                .insert((a.mount_accessor.clone(), fold(&a.name)), a.id.clone());
        }
        self.entities.insert(e.id.clone(), e);
    }

    /// Removes an entity and its aliases (not its group memberships: groups own those).
    pub fn remove_entity(&mut self, id: &str) -> Option<Arc<Entity>> {
        let old = self.entities.remove(id)?;
        let name = fold(&old.name);
        if self.entity_by_name.get(&name).map(String::as_str) == Some(id) {
            self.entity_by_name.remove(&name);
        }
        // An alias another entity holds now (moved by a merge) keeps its entries.
        for a in &old.aliases {
            if self.alias_entity.get(&a.id).map(String::as_str) != Some(id) {
                continue;
            }
            self.alias_entity.remove(&a.id);
            let factor = (a.mount_accessor.clone(), fold(&a.name));
            if self.alias_by_factor.get(&factor) == Some(&a.id) {
                self.alias_by_factor.remove(&factor);
            }
        }
        Some(old)
    }

    /// Adds or replaces a group, with its memberships.
    pub fn put_group(&mut self, g: Arc<Group>) {
        self.remove_group(&g.id);
        self.group_by_name.insert(fold(&g.name), g.id.clone());
        for e in &g.member_entity_ids {
            self.entity_groups
                .entry(e.clone())
                .or_default()
                .insert(g.id.clone());
        }
        for m in &g.member_group_ids {
            self.group_parents
                .entry(m.clone())
                .or_default()
                .insert(g.id.clone());
        }
        if let Some(a) = &g.alias {
            self.group_alias_group.insert(a.id.clone(), g.id.clone());
            self.group_alias_by_factor
                .insert((a.mount_accessor.clone(), fold(&a.name)), g.id.clone());
        }
        self.groups.insert(g.id.clone(), g);
    }

    /// Removes a group and its memberships.
    pub fn remove_group(&mut self, id: &str) -> Option<Arc<Group>> {
        let old = self.groups.remove(id)?;
        let name = fold(&old.name);
        if self.group_by_name.get(&name).map(String::as_str) == Some(id) {
            self.group_by_name.remove(&name);
        }
        for e in &old.member_entity_ids {
            remove_member(&mut self.entity_groups, e, id);
        }
        for m in &old.member_group_ids {
            remove_member(&mut self.group_parents, m, id);
        }
        if let Some(a) = &old.alias {
            self.group_alias_group.remove(&a.id);
            self.group_alias_by_factor
                .remove(&(a.mount_accessor.clone(), fold(&a.name)));
        }
        Some(old)
    }

    /// The groups listing entity `id` as a member, sorted by id.
    pub fn direct_groups(&self, entity_id: &str) -> Vec<String> {
        self.entity_groups
            .get(entity_id)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The groups listing group `id` as a member, sorted by id.
    pub fn parent_groups(&self, group_id: &str) -> Vec<String> {
        self.group_parents
            .get(group_id)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Every group above the `start` groups (parents, their parents, ...), not counting
    /// the start groups themselves unless reached again, in the order found.
    pub fn ancestors(&self, start: &[String]) -> Vec<String> {
        let mut seen: BTreeSet<String> = start.iter().cloned().collect();
        let mut out = Vec::new();
        let mut queue: Vec<String> = start.to_vec();
        while let Some(g) = queue.pop() {
            if let Some(parents) = self.group_parents.get(&g) {
                for p in parents {
                    if seen.insert(p.clone()) {
                        out.push(p.clone());
                        queue.push(p.clone());
                    }
                }
            }
        }
        out
    }

    /// The member group among `members` that would close a loop if group `group_id` listed
    /// it: one equal to the group or above it.
    pub fn cycle_member<'a>(&self, group_id: &str, members: &'a [String]) -> Option<&'a str> {
        let above: BTreeSet<String> = self
            .ancestors(&[group_id.to_string()])
            .into_iter()
            .collect();
        members
            .iter()
            .find(|m| m.as_str() != group_id && above.contains(m.as_str()))
            .map(String::as_str)
    }

    /// The entity's own policies and those of every group it is in, directly or through
    /// nested groups; sorted, without repeats. Empty for an unknown entity.
    pub fn identity_policies(&self, entity_id: &str) -> Vec<String> {
        let Some(e) = self.entities.get(entity_id) else {
            return Vec::new();
        };
        let mut out: BTreeSet<String> = e.policies.iter().cloned().collect();
        let direct = self.direct_groups(entity_id);
        let inherited = self.ancestors(&direct);
        for gid in direct.iter().chain(inherited.iter()) {
            if let Some(g) = self.groups.get(gid) {
                out.extend(g.policies.iter().cloned());
            }
        }
        out.into_iter().collect()
    }
}

/// Names (of entities, groups and aliases) are matched without regard to case, as
/// OpenBao's; records keep them as written.
fn fold(name: &str) -> String {
    name.to_lowercase()
}

/// Drops `member`'s link to `group` in a membership map.
fn remove_member(map: &mut HashMap<String, BTreeSet<String>>, member: &str, group: &str) {
    if let Some(set) = map.get_mut(member) {
        set.remove(group);
        if set.is_empty() {
            map.remove(member);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::model::Alias;

    fn group(id: &str, policies: &[&str], entities: &[&str], groups: &[&str]) -> Arc<Group> {
        Arc::new(Group {
            id: id.into(),
            name: format!("name-{id}"),
            kind: "internal".into(),
            policies: policies.iter().map(|s| s.to_string()).collect(),
            member_entity_ids: entities.iter().map(|s| s.to_string()).collect(),
            member_group_ids: groups.iter().map(|s| s.to_string()).collect(),
            ..Group::default()
        })
    }

    fn entity(id: &str, policies: &[&str], aliases: &[(&str, &str, &str)]) -> Arc<Entity> {
        Arc::new(Entity {
            id: id.into(),
            name: format!("entity_{id}"),
            policies: policies.iter().map(|s| s.to_string()).collect(),
            aliases: aliases
                .iter()
                .map(|(aid, acc, name)| Alias {
                    id: aid.to_string(),
                    canonical_id: id.into(),
                    mount_accessor: acc.to_string(),
                    name: name.to_string(),
                    ..Alias::default()
                })
                .collect(),
            ..Entity::default()
        })
    }

    #[test]
    fn policies_reach_members_through_nested_groups() {
        let mut ix = Index::default();
        ix.put_entity(entity("e", &["own"], &[]));
        // C ⊂ B ⊂ A: A lists B, B lists C, C lists the entity.
        ix.put_group(group("A", &["pa"], &[], &["B"]));
        ix.put_group(group("B", &["pb"], &[], &["C"]));
        ix.put_group(group("C", &["pc", "own"], &["e"], &[]));
        ix.put_group(group("D", &["pd"], &[], &[]));
        assert_eq!(ix.identity_policies("e"), ["own", "pa", "pb", "pc"]);
        assert_eq!(ix.direct_groups("e"), ["C"]);
        let mut up = ix.ancestors(&["C".into()]);
        up.sort();
        assert_eq!(up, ["A", "B"]);
        // B leaves A: A's policy is gone.
        ix.put_group(group("A", &["pa"], &[], &[]));
        assert_eq!(ix.identity_policies("e"), ["own", "pb", "pc"]);
        assert!(ix.identity_policies("unknown").is_empty());
    }

    #[test]
    fn cycles_are_found() {
        let mut ix = Index::default();
        ix.put_group(group("A", &[], &[], &["B"]));
        ix.put_group(group("B", &[], &[], &["C"]));
        ix.put_group(group("C", &[], &[], &[]));
        // C listing A closes A → B → C → A.
        assert_eq!(ix.cycle_member("C", &["X".into(), "A".into()]), Some("A"));
        assert_eq!(ix.cycle_member("C", &["B".into()]), Some("B"));
        // A listing C again is no loop (C is below A already).
        assert_eq!(ix.cycle_member("A", &["C".into()]), None);
        assert_eq!(ix.cycle_member("D", &["A".into()]), None);
    }

    #[test]
    fn aliases_and_names_follow_updates() {
        let mut ix = Index::default();
        ix.put_entity(entity("e1", &[], &[("a1", "acc", "alice")]));
        assert_eq!(ix.alias_by_factor("acc", "alice").as_deref(), Some("a1"));
        assert_eq!(
            ix.entity_of_alias("a1").map(|e| e.id.clone()).as_deref(),
            Some("e1")
        );
        // The alias moves to e2 (a merge): e1's removal must not drop e2's entries.
        ix.put_entity(entity("e2", &[], &[("a1", "acc", "alice")]));
        ix.put_entity(entity("e1", &[], &[]));
        assert_eq!(
            ix.entity_of_alias("a1").map(|e| e.id.clone()).as_deref(),
            Some("e2")
        );
        assert_eq!(ix.alias_by_factor("acc", "alice").as_deref(), Some("a1"));
        ix.remove_entity("e2");
        assert!(ix.alias_by_factor("acc", "alice").is_none());
        assert!(ix.entity_by_name("entity_e2").is_none());
        assert!(ix.entity_by_name("entity_e1").is_some());
        assert!(ix.entity_by_name("ENTITY_E1").is_some());
        ix.put_entity(entity("e3", &[], &[("a3", "acc", "Bob")]));
        assert_eq!(ix.alias_by_factor("acc", "bob").as_deref(), Some("a3"));
    }
}
