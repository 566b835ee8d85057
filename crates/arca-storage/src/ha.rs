//! High availability: a lock that at most one node holds at a time. The node holding it is the
//! active node; the others are standbys that read the holder's published value to find it.
//!
//! A storage backend that several servers share (PostgreSQL, integrated Raft) also implements
//! [`HaBackend`]; [`InmemHaLock`] is the same contract in one process, for tests of the core.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use parking_lot::Mutex;
use tokio::sync::{Notify, watch};

use crate::StorageError;

/// The election of one active node among the servers sharing a storage backend.
#[async_trait]
pub trait HaBackend: Send + Sync + 'static {
    /// Waits until this node holds the lock and returns it, publishing `value` (the active
    /// node's advertisement) for [`HaBackend::holder`] to read on every node.
    ///
    /// Cancelled by dropping the future; a lock taken at that very moment is given up when its
    /// time to live runs out, never kept.
    async fn acquire(&self, value: &str) -> Result<Box<dyn HeldLock>, StorageError>;
    /// The value the node holding the lock published, `None` when no node holds it.
    async fn holder(&self) -> Result<Option<String>, StorageError>;

    /// After a step-down: this node will not try to take the lock for `wait`; a backend whose
    /// lock follows something else (Raft leadership) keeps the node from taking that too, so
    /// that another node can become active meanwhile. Nothing by default.
    fn hold_back(&self, _wait: std::time::Duration) {}
}

/// The lock, held. Once [`HeldLock::lost`] resolves, another node may already be active: the
/// holder must stop serving as active node at once.
#[async_trait]
pub trait HeldLock: Send + Sync {
    /// Resolves when the lock is lost (taken over, or not renewed in time); at once when it
    /// already is.
    async fn lost(&self);
    /// Whether the lock is still held.
    fn held(&self) -> bool;
    /// Gives the lock up at once so that another node may take it.
    async fn release(&self);
}

/// An in-process HA lock for several cores sharing one in-memory backend (tests, and the
/// single-process cluster simulation).
#[derive(Clone, Default)]
pub struct InmemHaLock {
    inner: Arc<InmemShared>,
}

#[derive(Default)]
struct InmemShared {
    /// The holder's lock number and published value.
    holder: Mutex<Option<(u64, String)>>,
    next: AtomicU64,
    /// Woken whenever the lock is freed.
    freed: Notify,
    /// Bumped whenever the holder changes, so a held lock learns it was taken.
    generation: watch::Sender<u64>,
}

impl InmemHaLock {
    /// A free lock.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the lock away from its holder, as an expired lease would: the holder's
    /// [`HeldLock::lost`] resolves and the lock is free.
    pub fn expire(&self) {
        let taken = self.inner.holder.lock().take();
        if taken.is_some() {
            self.inner.generation.send_modify(|g| *g += 1);
            self.inner.freed.notify_waiters();
        }
    }
}

#[async_trait]
impl HaBackend for InmemHaLock {
    async fn acquire(&self, value: &str) -> Result<Box<dyn HeldLock>, StorageError> {
        let id = self.inner.next.fetch_add(1, Ordering::Relaxed) + 1;
        loop {
            let freed = self.inner.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            {
                let mut holder = self.inner.holder.lock();
                if holder.is_none() {
                    *holder = Some((id, value.to_owned()));
                    drop(holder);
                    self.inner.generation.send_modify(|g| *g += 1);
                    return Ok(Box::new(InmemHeld {
                        shared: self.inner.clone(),
                        id,
                        released: AtomicBool::new(false),
                    }));
                }
            }
            freed.await;
        }
    }

    async fn holder(&self) -> Result<Option<String>, StorageError> {
        Ok(self.inner.holder.lock().as_ref().map(|(_, v)| v.clone()))
    }
}

struct InmemHeld {
    shared: Arc<InmemShared>,
    id: u64,
    released: AtomicBool,
}

impl InmemHeld {
    fn is_mine(&self) -> bool {
        !self.released.load(Ordering::Acquire)
            && matches!(*self.shared.holder.lock(), Some((id, _)) if id == self.id)
    }
}

#[async_trait]
impl HeldLock for InmemHeld {
    async fn lost(&self) {
        let mut rx = self.shared.generation.subscribe();
        while self.is_mine() {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    fn held(&self) -> bool {
        self.is_mine()
    }

    async fn release(&self) {
        self.released.store(true, Ordering::Release);
        let mut holder = self.shared.holder.lock();
        if matches!(*holder, Some((id, _)) if id == self.id) {
            *holder = None;
            drop(holder);
            self.shared.generation.send_modify(|g| *g += 1);
            self.shared.freed.notify_waiters();
        }
    }
}

impl Drop for InmemHeld {
    fn drop(&mut self) {
        let mut holder = self.shared.holder.lock();
        if matches!(*holder, Some((id, _)) if id == self.id) {
            *holder = None;
            drop(holder);
            self.shared.generation.send_modify(|g| *g += 1);
            self.shared.freed.notify_waiters();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn one_holder_at_a_time_and_release_hands_over() {
        let lock = InmemHaLock::new();
        assert_eq!(lock.holder().await.unwrap(), None);
        let a = lock.acquire("node-a").await.unwrap();
        assert!(a.held());
        assert_eq!(lock.holder().await.unwrap().as_deref(), Some("node-a"));

        let second = lock.clone();
        let waiting = tokio::spawn(async move { second.acquire("node-b").await.unwrap() });
        // node-b cannot take it while node-a holds it.
        assert!(
            tokio::time::timeout(Duration::from_millis(50), a.lost())
                .await
                .is_err()
        );
        a.release().await;
        let b = waiting.await.unwrap();
        assert!(b.held());
        assert!(!a.held());
        assert_eq!(lock.holder().await.unwrap().as_deref(), Some("node-b"));
        // a's lost() resolves at once now.
        a.lost().await;
    }

    #[tokio::test]
    async fn expiry_makes_the_holder_lose_it() {
        let lock = InmemHaLock::new();
        let a = lock.acquire("node-a").await.unwrap();
        let lost = tokio::spawn(async move {
            a.lost().await;
            a.held()
        });
        lock.expire();
        assert!(!lost.await.unwrap());
        assert_eq!(lock.holder().await.unwrap(), None);
    }

    #[tokio::test]
    async fn dropping_a_held_lock_frees_it() {
        let lock = InmemHaLock::new();
        drop(lock.acquire("a").await.unwrap());
        let b = lock.acquire("b").await.unwrap();
        assert!(b.held());
    }
}
