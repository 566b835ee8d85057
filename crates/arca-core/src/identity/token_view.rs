//! The identity store as identity tokens see it: an entity's template data (name, metadata,
//! aliases, the groups it is in directly and through nested groups) and whether it is disabled.

use crate::identity_template::{TemplateAlias, TemplateEntity, TemplateGroup};
use crate::identity_tokens::{EntitySource, EntityView};

use super::IdentityStore;

impl EntitySource for IdentityStore {
    fn entity_view(&self, id: &str) -> Option<EntityView> {
        self.read(|ix| {
            let e = ix.entity(id)?;
            let direct = ix.direct_groups(id);
            let inherited = ix.ancestors(&direct);
            let groups = direct
                .iter()
                .chain(inherited.iter())
                .filter_map(|gid| ix.group(gid))
                .map(|g| TemplateGroup {
                    id: g.id.clone(),
                    name: g.name.clone(),
                    namespace_id: g.namespace_id.clone(),
                    metadata: g.metadata.clone(),
                })
                .collect();
            Some(EntityView {
                entity: TemplateEntity {
                    id: e.id.clone(),
                    name: e.name.clone(),
                    metadata: e.metadata.clone(),
                    aliases: e
                        .aliases
                        .iter()
                        .map(|a| TemplateAlias {
                            mount_accessor: a.mount_accessor.clone(),
                            id: a.id.clone(),
                            name: a.name.clone(),
                            metadata: a.metadata.clone(),
                            custom_metadata: a.custom_metadata.clone().unwrap_or_default(),
                        })
                        .collect(),
                },
                groups,
                disabled: e.disabled,
            })
        })
    }
}
