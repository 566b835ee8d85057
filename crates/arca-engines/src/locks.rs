//! Striped per-key locks: every write to one key takes the same async mutex, so concurrent
//! check-and-set writes are serialized and never lose a version.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use tokio::sync::{Mutex, MutexGuard};

/// How many stripes: keys hashing to the same stripe share a lock.
const STRIPES: usize = 256;

/// A fixed set of async mutexes picked by the hash of a key.
pub(crate) struct KeyLocks {
    stripes: Vec<Mutex<()>>,
}

impl KeyLocks {
    /// A set of [`STRIPES`] unlocked stripes.
    pub(crate) fn new() -> KeyLocks {
        KeyLocks {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }

    /// Waits for and holds the lock of `key` until the guard drops.
    pub(crate) async fn lock(&self, key: &str) -> MutexGuard<'_, ()> {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        let idx = (h.finish() % STRIPES as u64) as usize;
        self.stripes[idx].lock().await
    }

    /// Holds every stripe (used while upgrading a whole mount).
    pub(crate) async fn lock_all(&self) -> Vec<MutexGuard<'_, ()>> {
        let mut guards = Vec::with_capacity(STRIPES);
        for s in &self.stripes {
            guards.push(s.lock().await);
        }
        guards
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn same_key_waits_other_key_does_not() {
        let locks = KeyLocks::new();
        let g = locks.lock("a").await;
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(20), locks.lock("a"))
                .await
                .is_err()
        );
        drop(g);
        let _again = locks.lock("a").await;
    }
}
