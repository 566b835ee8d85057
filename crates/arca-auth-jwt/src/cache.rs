//! The decoded config and roles a login reads, kept between logins: each login used to read
//! both from storage (through the barrier) and decode their JSON, about 5 % of a login's
//! instructions. Every write of the config or a role, and every `invalidate` the core sends for
//! this mount (another node changed its storage), empties the cache. A load that overlapped
//! such a change is not kept (a generation counter), so a value older than the last write is
//! never served after it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arca_sdk::{LogicalError, Storage};
use parking_lot::RwLock;

use crate::config::{self, JwtConfig};
use crate::role::{self, JwtRole};

/// The cached config and roles of one mount.
#[derive(Default)]
pub(crate) struct LoginCache {
    /// Bumped by every change; a load keeps its value only if it did not move meanwhile.
    generation: AtomicU64,
    config: RwLock<Option<Arc<JwtConfig>>>,
    roles: RwLock<HashMap<String, Arc<JwtRole>>>,
}

impl LoginCache {
    /// The mount's config, from the cache or storage; `None` when not configured.
    pub(crate) async fn config(
        &self,
        storage: &dyn Storage,
    ) -> Result<Option<Arc<JwtConfig>>, LogicalError> {
        if let Some(c) = self.config.read().clone() {
            return Ok(Some(c));
        }
        let seen = self.generation.load(Ordering::Acquire);
        let Some(c) = config::load(storage).await? else {
            return Ok(None);
        };
        let c = Arc::new(c);
        let mut slot = self.config.write();
        if self.generation.load(Ordering::Acquire) == seen {
            *slot = Some(Arc::clone(&c));
        }
        Ok(Some(c))
    }

    /// The role `name` (lower-cased already), from the cache or storage; `None` when absent.
    pub(crate) async fn role(
        &self,
        storage: &dyn Storage,
        name: &str,
    ) -> Result<Option<Arc<JwtRole>>, LogicalError> {
        if let Some(r) = self.roles.read().get(name).cloned() {
            return Ok(Some(r));
        }
        let seen = self.generation.load(Ordering::Acquire);
        let Some(r) = role::load(storage, name).await? else {
            return Ok(None);
        };
        let r = Arc::new(r);
        let mut roles = self.roles.write();
        if self.generation.load(Ordering::Acquire) == seen {
            roles.insert(name.to_string(), Arc::clone(&r));
        }
        Ok(Some(r))
    }

    /// Forgets everything: called after the config or a role was written or deleted, and on
    /// the core's `invalidate`.
    pub(crate) fn forget(&self) {
        // Taken in the order the loads take them, with the counter bumped under both locks,
        // so a load that read the old value either finished storing before this or sees the
        // new generation and stores nothing.
        let mut config = self.config.write();
        let mut roles = self.roles.write();
        self.generation.fetch_add(1, Ordering::AcqRel);
        *config = None;
        roles.clear();
    }
}
