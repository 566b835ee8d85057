//! The JSON the identity endpoints answer, field for field as OpenBao 2.7.2 prints it
//! (`null` where Go prints a nil map or slice).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::IdentityStore;

/// Mount type and path by accessor.
pub(crate) type MountNames = std::collections::HashMap<String, (String, String)>;

/// The type and path of the mount `accessor` in `names` (empty when it is gone).
pub(crate) fn mount_of(names: &MountNames, accessor: &str) -> (String, String) {
    names.get(accessor).cloned().unwrap_or_default()
}
use super::index::Index;
use super::model::{Alias, Entity, Group};

/// A map as Go prints it: `null` when empty.
pub(crate) fn map_or_null(m: &BTreeMap<String, String>) -> Value {
    if m.is_empty() { Value::Null } else { json!(m) }
}

/// A list as Go prints it: `null` when empty.
pub(crate) fn list_or_null(l: &[String]) -> Value {
    if l.is_empty() { Value::Null } else { json!(l) }
}

impl IdentityStore {
    /// The mount type and path OpenBao shows beside an alias (empty when the mount is gone).
    pub(crate) fn mount_info(&self, accessor: &str) -> (String, String) {
        self.mount(accessor)
            .map(|m| (m.api_type(), m.rel_route_path()))
            .unwrap_or_default()
    }

    /// Every mount's type and path by accessor, for LIST answers naming many aliases.
    pub(crate) fn mount_names(&self) -> MountNames {
        self.mounts
            .upgrade()
            .map(|m| m.accessor_names())
            .unwrap_or_default()
    }

    /// An entity alias as its own read (and an entity's `aliases` list) shows it.
    pub(crate) fn alias_json(&self, a: &Alias, with_namespace: bool) -> Value {
        let (mount_type, mount_path) = self.mount_info(&a.mount_accessor);
        let mut v = json!({
            "canonical_id": a.canonical_id,
            "creation_time": a.creation_time,
            "custom_metadata": a.custom_metadata,
            "id": a.id,
            "last_update_time": a.last_update_time,
            "local": false,
            "merged_from_canonical_ids": list_or_null(&a.merged_from_canonical_ids),
            "metadata": map_or_null(&a.metadata),
            "mount_accessor": a.mount_accessor,
            "mount_path": mount_path,
            "mount_type": mount_type,
            "name": a.name,
        });
        if with_namespace && let Some(o) = v.as_object_mut() {
            o.insert("namespace_id".into(), json!(a.namespace_id));
        }
        v
    }

    /// An entity as `entity/id/<id>` reads it.
    pub(crate) fn entity_json(&self, ix: &Index, e: &Entity) -> Value {
        let direct = ix.direct_groups(&e.id);
        let inherited = ix.ancestors(&direct);
        let mut all = direct.clone();
        all.extend(inherited.iter().cloned());
        let aliases: Vec<Value> = e
            .aliases
            .iter()
            .map(|a| self.alias_json(a, false))
            .collect();
        json!({
            "aliases": aliases,
            "creation_time": e.creation_time,
            "direct_group_ids": direct,
            "disabled": e.disabled,
            "group_ids": all,
            "id": e.id,
            "inherited_group_ids": inherited,
            "last_update_time": e.last_update_time,
            "merged_entity_ids": list_or_null(&e.merged_entity_ids),
            "metadata": map_or_null(&e.metadata),
            "name": e.name,
            "namespace_id": e.namespace_id,
            "policies": e.policies,
        })
    }

    /// A group as `group/id/<id>` reads it.
    pub(crate) fn group_json(&self, ix: &Index, g: &Group) -> Value {
        let alias = match &g.alias {
            Some(a) => {
                let (mount_type, mount_path) = self.mount_info(&a.mount_accessor);
                json!({
                    "canonical_id": a.canonical_id,
                    "creation_time": a.creation_time,
                    "id": a.id,
                    "last_update_time": a.last_update_time,
                    "merged_from_canonical_ids": list_or_null(&a.merged_from_canonical_ids),
                    "metadata": map_or_null(&a.metadata),
                    "mount_accessor": a.mount_accessor,
                    "mount_path": mount_path,
                    "mount_type": mount_type,
                    "name": a.name,
                })
            }
            None => json!({}),
        };
        json!({
            "alias": alias,
            "creation_time": g.creation_time,
            "id": g.id,
            "last_update_time": g.last_update_time,
            "member_entity_ids": list_or_null(&g.member_entity_ids),
            "member_group_ids": list_or_null(&g.member_group_ids),
            "metadata": map_or_null(&g.metadata),
            "modify_index": g.modify_index,
            "name": g.name,
            "namespace_id": g.namespace_id,
            "parent_group_ids": list_or_null(&ix.parent_groups(&g.id)),
            "policies": list_or_null(&g.policies),
            "type": g.kind,
        })
    }
}
