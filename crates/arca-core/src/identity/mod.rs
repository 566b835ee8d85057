//! The identity store (`identity/`): entities and their aliases on auth mounts, groups and
//! their aliases, lookups. Records live in the identity mount's storage view, one per entity
//! and one per group (`model.rs`); an in-memory index (`index.rs`) rebuilt at unseal answers
//! every read, so a login's alias and a request's identity policies never touch storage.
//! Writes are serialized, persisted first, then applied to the index.
//!
//! The HTTP side is `backend.rs` (the path table) with one module per family of paths:
//! `entities.rs`, `aliases.rs`, `groups.rs`, `lookup.rs`; login MFA (`identity/mfa/*` and
//! the two-phase login behind `sys/mfa/validate`) is `mfa/`. `paths.rs` describes the served
//! paths (but `oidc/`, framework paths) for the OpenAPI document.

mod aliases;
mod backend;
mod entities;
mod fields;
mod groups;
mod index;
mod lookup;
pub(crate) mod mfa;
mod model;
mod output;
mod paths;
mod token_view;

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

use arca_sdk::storage::StorageExt;
use arca_sdk::{LogicalError, Storage, StorageEntry, StorageOp};
use parking_lot::RwLock;

pub(crate) use self::backend::IdentityBackend;
use self::index::Index;
use self::model::{Alias, ENTITY_PREFIX, Entity, GROUP_PREFIX, Group, RECORD_VERSION};
use crate::mount_store::MountStore;
use crate::mounts::MountEntry;

/// Records written together by one change (a merge, a delete that updates the groups
/// listing what it deletes, an alias moving between entities).
#[derive(Default)]
struct Batch {
    entities: Vec<Entity>,
    groups: Vec<Group>,
    drop_entities: Vec<String>,
    drop_groups: Vec<String>,
    /// Other records stored in the same transaction (an entity merge's MFA secrets).
    extra: Vec<StorageOp>,
}

/// The identity store subsystem: the index, the storage it is rebuilt from, the write lock.
pub(crate) struct IdentityStore {
    index: RwLock<Index>,
    storage: RwLock<Option<Arc<dyn Storage>>>,
    /// Held across each write (storage first, then the index), so writes never interleave.
    write: tokio::sync::Mutex<()>,
    /// The mount table, to resolve mount accessors (held weakly: its routes own our backend).
    mounts: Weak<MountStore>,
    /// Login MFA: methods, enforcements, secret markers, pending logins, spent codes.
    mfa: RwLock<mfa::MfaState>,
}

impl IdentityStore {
    /// An empty store; `setup` loads it at unseal.
    pub(crate) fn new(mounts: Weak<MountStore>) -> IdentityStore {
        IdentityStore {
            index: RwLock::new(Index::default()),
            storage: RwLock::new(None),
            write: tokio::sync::Mutex::new(()),
            mounts,
            mfa: RwLock::new(mfa::MfaState::default()),
        }
    }

    /// Rebuilds the index from `storage` (the identity mount's view) and keeps writing there.
    pub(crate) async fn setup(&self, storage: Arc<dyn Storage>) -> Result<(), LogicalError> {
        let _guard = self.write.lock().await;
        let index = load_index(storage.as_ref()).await?;
        let mfa = mfa::load(storage.as_ref()).await?;
        *self.index.write() = index;
        *self.mfa.write() = mfa;
        *self.storage.write() = Some(storage);
        Ok(())
    }

    /// Drops the index and the storage at seal.
    pub(crate) fn teardown(&self) {
        *self.index.write() = Index::default();
        *self.mfa.write() = mfa::MfaState::default();
        *self.storage.write() = None;
    }

    /// Runs `f` over the index (no storage access).
    fn read<R>(&self, f: impl FnOnce(&Index) -> R) -> R {
        f(&self.index.read())
    }

    fn storage(&self) -> Result<Arc<dyn Storage>, LogicalError> {
        self.storage.read().clone().ok_or(LogicalError::Sealed)
    }

    /// The mount whose accessor is `accessor`.
    fn mount(&self, accessor: &str) -> Option<MountEntry> {
        self.mounts.upgrade()?.by_accessor(accessor)
    }

    /// Stores every record of `batch` in one storage transaction (all or none), then applies
    /// it to the index: removals first, then the records written. The caller holds the
    /// write lock.
    async fn commit(&self, batch: Batch) -> Result<(), LogicalError> {
        let storage = self.storage()?;
        let mut ops = Vec::new();
        for id in &batch.drop_entities {
            ops.push(StorageOp::Delete(format!("{ENTITY_PREFIX}{id}")));
        }
        for id in &batch.drop_groups {
            ops.push(StorageOp::Delete(format!("{GROUP_PREFIX}{id}")));
        }
        let mut entities = Vec::new();
        for mut e in batch.entities {
            e.version = RECORD_VERSION;
            ops.push(StorageOp::Put(StorageEntry::json(
                format!("{ENTITY_PREFIX}{}", e.id),
                &e,
            )?));
            entities.push(Arc::new(e));
        }
        let mut groups = Vec::new();
        for mut g in batch.groups {
            g.version = RECORD_VERSION;
            ops.push(StorageOp::Put(StorageEntry::json(
                format!("{GROUP_PREFIX}{}", g.id),
                &g,
            )?));
            groups.push(Arc::new(g));
        }
        ops.extend(batch.extra);
        storage.transaction(ops).await?;
        // An entity's MFA secrets go with it (stored beside it, not inside its record).
        for id in &batch.drop_entities {
            self.drop_entity_secrets(id).await?;
        }
        let mut ix = self.index.write();
        for id in &batch.drop_entities {
            ix.remove_entity(id);
        }
        for id in &batch.drop_groups {
            ix.remove_group(id);
        }
        for e in entities {
            ix.put_entity(e);
        }
        for g in groups {
            ix.put_group(g);
        }
        Ok(())
    }

    /// Writes one entity's record, then indexes it. The caller holds the write lock.
    async fn save_entity(&self, e: Entity) -> Result<Arc<Entity>, LogicalError> {
        let id = e.id.clone();
        self.commit(Batch {
            entities: vec![e],
            ..Batch::default()
        })
        .await?;
        self.read(|ix| ix.entity(&id))
            .ok_or_else(|| LogicalError::internal("entity vanished after its write"))
    }

    /// Writes one group's record, then indexes it. The caller holds the write lock.
    async fn save_group(&self, g: Group) -> Result<Arc<Group>, LogicalError> {
        let id = g.id.clone();
        self.commit(Batch {
            groups: vec![g],
            ..Batch::default()
        })
        .await?;
        self.read(|ix| ix.group(&id))
            .ok_or_else(|| LogicalError::internal("group vanished after its write"))
    }

    /// The entity a login's alias belongs to: found by (mount accessor, alias name), or
    /// created with the alias (`entity_<8 hex>.<namespace>`, as OpenBao names them). The
    /// alias's metadata is refreshed when the method sends other metadata. Outside the root
    /// namespace there is no entity yet (an empty id).
    pub(crate) async fn entity_for_login(
        &self,
        mount_accessor: &str,
        namespace_id: &str,
        alias: &arca_sdk::Alias,
    ) -> Result<String, LogicalError> {
        // One store for now, the root namespace's (see `IdentityBackend`).
        if namespace_id != crate::namespaces::ROOT_ID {
            return Ok(String::new());
        }
        let metadata: BTreeMap<String, String> = alias
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let found = self.read(|ix| {
            let aid = ix.alias_by_factor(mount_accessor, &alias.name)?;
            let e = ix.entity_of_alias(&aid)?;
            let unchanged = e
                .aliases
                .iter()
                .any(|a| a.id == aid && a.metadata == metadata);
            Some((e, unchanged))
        });
        if let Some((e, true)) = found {
            return Ok(e.id.clone());
        }
        let _guard = self.write.lock().await;
        let now = now();
        // Looked up again under the lock: another login may have created it meanwhile.
        let current = self.read(|ix| {
            let aid = ix.alias_by_factor(mount_accessor, &alias.name)?;
            Some((ix.entity_of_alias(&aid)?, aid))
        });
        if let Some((e, aid)) = current {
            let mut e = (*e).clone();
            for a in e.aliases.iter_mut().filter(|a| a.id == aid) {
                if a.metadata != metadata {
                    a.metadata = metadata.clone();
                    a.last_update_time = now.clone();
                }
            }
            let e = self.save_entity(e).await?;
            return Ok(e.id.clone());
        }
        let id = crate::random::uuid();
        let entity = Entity {
            id: id.clone(),
            name: generated_name("entity", namespace_id),
            creation_time: now.clone(),
            last_update_time: now.clone(),
            namespace_id: namespace_id.to_string(),
            aliases: vec![Alias {
                id: crate::random::uuid(),
                canonical_id: id.clone(),
                name: alias.name.clone(),
                mount_accessor: mount_accessor.to_string(),
                metadata,
                creation_time: now.clone(),
                last_update_time: now,
                namespace_id: namespace_id.to_string(),
                ..Alias::default()
            }],
            ..Entity::default()
        };
        self.save_entity(entity).await?;
        Ok(id)
    }

    /// How many entities exist (every namespace), for `sys/internal/counters/entities`.
    pub(crate) fn entity_count(&self) -> usize {
        self.read(|ix| ix.entities().count())
    }

    /// Each entity's namespace id and its aliases' mount accessors (the usage gauges).
    pub(crate) fn entity_usage(&self) -> Vec<(String, Vec<String>)> {
        self.read(|ix| {
            ix.entities()
                .map(|e| {
                    let accessors = e.aliases.iter().map(|a| a.mount_accessor.clone());
                    (e.namespace_id.clone(), accessors.collect())
                })
                .collect()
        })
    }

    /// The entity's own policies and those of every group holding it, directly or through
    /// nested groups; sorted, without repeats.
    pub(crate) fn identity_policies(&self, entity_id: &str) -> Vec<String> {
        if entity_id.is_empty() {
            return Vec::new();
        }
        self.read(|ix| ix.identity_policies(entity_id))
    }

    /// A token's ACL policy names: its own `policies`, plus its entity's identity policies
    /// when it has some (borrowed as they are otherwise, so most requests copy nothing).
    pub(crate) fn acl_policies<'a>(
        &self,
        entity_id: &str,
        policies: &'a [String],
    ) -> std::borrow::Cow<'a, [String]> {
        let identity = self.identity_policies(entity_id);
        if identity.is_empty() {
            return std::borrow::Cow::Borrowed(policies);
        }
        let mut all: Vec<String> = policies.iter().cloned().chain(identity).collect();
        all.sort();
        all.dedup();
        std::borrow::Cow::Owned(all)
    }

    /// Whether the entity is disabled (its tokens are refused).
    pub(crate) fn entity_disabled(&self, entity_id: &str) -> bool {
        !entity_id.is_empty() && self.read(|ix| ix.entity(entity_id).is_some_and(|e| e.disabled))
    }
}

/// Reads every entity and group record into a fresh index.
async fn load_index(storage: &dyn Storage) -> Result<Index, LogicalError> {
    let mut index = Index::default();
    let entity_keys = storage.list(ENTITY_PREFIX).await?;
    let group_keys = storage.list(GROUP_PREFIX).await?;
    index.reserve(entity_keys.len(), group_keys.len());
    for key in entity_keys {
        if let Some(e) = storage
            .get_json::<Entity>(&format!("{ENTITY_PREFIX}{key}"))
            .await?
        {
            index.put_entity(Arc::new(e));
        }
    }
    for key in group_keys {
        if let Some(g) = storage
            .get_json::<Group>(&format!("{GROUP_PREFIX}{key}"))
            .await?
        {
            index.put_group(Arc::new(g));
        }
    }
    Ok(index)
}

/// The time now as OpenBao prints its records' times.
fn now() -> String {
    crate::go_time::go_time(chrono::Utc::now())
}

/// A generated entity or group name: `<kind>_<8 hex>.<namespace id>`, as OpenBao's.
fn generated_name(kind: &str, namespace_id: &str) -> String {
    format!("{kind}_{}.{namespace_id}", crate::random::random_hex(4))
}

#[cfg(test)]
mod tests;
