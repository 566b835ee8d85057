//! The identity records as stored: one record per entity (its aliases inside it) and one per
//! group (its alias inside it), each with a version marker, so a write touches one record.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The version every record is written with.
pub(crate) const RECORD_VERSION: u32 = 1;

/// Storage prefix of entity records (`entities/<id>`).
pub(crate) const ENTITY_PREFIX: &str = "entities/";
/// Storage prefix of group records (`groups/<id>`).
pub(crate) const GROUP_PREFIX: &str = "groups/";

/// An entity: a user or machine, known through its aliases on auth mounts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Entity {
    /// Record version.
    #[serde(default)]
    pub version: u32,
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub policies: Vec<String>,
    #[serde(default)]
    pub disabled: bool,
    pub creation_time: String,
    pub last_update_time: String,
    /// Ids of the entities merged into this one.
    #[serde(default)]
    pub merged_entity_ids: Vec<String>,
    pub namespace_id: String,
    #[serde(default)]
    pub aliases: Vec<Alias>,
}

/// An entity alias or a group alias: a name on one auth mount.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Alias {
    pub id: String,
    /// The entity (or group) the alias belongs to.
    pub canonical_id: String,
    pub name: String,
    pub mount_accessor: String,
    /// Metadata set by the auth method at login.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Metadata set through the API: `None` for an alias a login made (shown as `null`),
    /// a map, maybe empty, once the API wrote the alias (shown as `{}` when empty).
    #[serde(default)]
    pub custom_metadata: Option<BTreeMap<String, String>>,
    pub creation_time: String,
    pub last_update_time: String,
    /// Entities this alias belonged to before merges.
    #[serde(default)]
    pub merged_from_canonical_ids: Vec<String>,
    pub namespace_id: String,
}

/// A group of entities and groups; its policies reach every member, nested ones too.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Group {
    /// Record version.
    #[serde(default)]
    pub version: u32,
    pub id: String,
    pub name: String,
    /// `internal` or `external`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub policies: Vec<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub member_entity_ids: Vec<String>,
    #[serde(default)]
    pub member_group_ids: Vec<String>,
    pub creation_time: String,
    pub last_update_time: String,
    #[serde(default)]
    pub modify_index: u64,
    pub namespace_id: String,
    /// The alias of an external group.
    #[serde(default)]
    pub alias: Option<Alias>,
}

/// Keeps the order of first appearance and drops repeats and empty strings.
pub(crate) fn dedup(list: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    list.into_iter()
        .filter(|s| !s.is_empty() && seen.insert(s.clone()))
        .collect()
}
