//! The mount's in-memory cache of OCSP answers, as OpenBao's OCSP client keeps it: keyed by
//! the request's CertID (issuer name hash, issuer key hash, serial), least recently used
//! evicted first, holding at least 100 entries (`config`'s `ocsp_cache_size` when larger).
//! An answer is reused until its `nextUpdate` passes or it is a day old; answers without a
//! `nextUpdate` are never cached. Writing `config` empties it (OpenBao builds a new client).

use std::collections::{BTreeMap, HashMap};

use parking_lot::Mutex;

use crate::ocsp::Status;

/// OpenBao's smallest cache, whatever the configured size.
const MIN_SIZE: usize = 100;
/// How long an answer is kept at most, in seconds (OpenBao's `cacheExpire`, a day).
const MAX_AGE: i64 = 24 * 60 * 60;

/// The CertID an answer is about: issuer name hash, issuer key hash, serial (no leading zeros).
pub(crate) type CertId = (Vec<u8>, Vec<u8>, Vec<u8>);

/// One cached answer.
#[derive(Debug, Clone, Copy)]
struct Cached {
    status: Status,
    /// When it was stored (Unix seconds).
    stored_at: i64,
    /// The response's next update (Unix seconds).
    next_update: i64,
}

#[derive(Default)]
struct Lru {
    capacity: usize,
    /// Bumped on each use; the smallest stamp is the least recently used.
    clock: u64,
    entries: HashMap<CertId, (Cached, u64)>,
    by_use: BTreeMap<u64, CertId>,
}

impl Lru {
    fn touch(&mut self, id: &CertId) {
        self.clock += 1;
        let stamp = self.clock;
        if let Some((_, old)) = self.entries.get_mut(id) {
            self.by_use.remove(old);
            *old = stamp;
            self.by_use.insert(stamp, id.clone());
        }
    }

    fn remove(&mut self, id: &CertId) {
        if let Some((_, stamp)) = self.entries.remove(id) {
            self.by_use.remove(&stamp);
        }
    }
}

/// The OCSP answer cache of one mount.
pub(crate) struct OcspCache {
    inner: Mutex<Lru>,
}

impl OcspCache {
    /// An empty cache of `size` entries (at least 100).
    pub(crate) fn new(size: i64) -> OcspCache {
        let cache = OcspCache {
            inner: Mutex::new(Lru::default()),
        };
        cache.reset(size);
        cache
    }

    /// Empties the cache and sets its size (at least 100), as OpenBao's new client on a
    /// config write does.
    pub(crate) fn reset(&self, size: i64) {
        let capacity = usize::try_from(size).unwrap_or(0).max(MIN_SIZE);
        *self.inner.lock() = Lru {
            capacity,
            ..Lru::default()
        };
    }

    /// The cached status of `id` at `now`, if one is still valid; a stale one is dropped.
    pub(crate) fn get(&self, id: &CertId, now: i64) -> Option<Status> {
        let mut lru = self.inner.lock();
        let cached = lru.entries.get(id).map(|(c, _)| *c)?;
        if now - cached.stored_at >= MAX_AGE || now > cached.next_update {
            lru.remove(id);
            return None;
        }
        lru.touch(id);
        Some(cached.status)
    }

    /// Stores the status of `id` (a response with `next_update`), evicting the least
    /// recently used answer when full.
    pub(crate) fn put(&self, id: CertId, status: Status, next_update: i64, now: i64) {
        let mut lru = self.inner.lock();
        lru.remove(&id);
        while lru.entries.len() >= lru.capacity {
            let Some((_, oldest)) = lru.by_use.pop_first() else {
                break;
            };
            lru.entries.remove(&oldest);
        }
        lru.clock += 1;
        let stamp = lru.clock;
        let cached = Cached {
            status,
            stored_at: now,
            next_update,
        };
        lru.entries.insert(id.clone(), (cached, stamp));
        lru.by_use.insert(stamp, id);
    }

    /// How many answers are cached.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> CertId {
        (vec![1], vec![2], vec![n])
    }

    #[test]
    fn answers_live_until_next_update_or_a_day() {
        let c = OcspCache::new(2);
        c.put(id(1), Status::Good, 1_000, 0);
        assert_eq!(c.get(&id(1), 1_000), Some(Status::Good));
        assert_eq!(c.get(&id(1), 1_001), None);
        assert_eq!(c.len(), 0);
        c.put(id(2), Status::Revoked, i64::MAX, 0);
        assert_eq!(c.get(&id(2), MAX_AGE - 1), Some(Status::Revoked));
        assert_eq!(c.get(&id(2), MAX_AGE), None);
    }

    #[test]
    fn least_recently_used_goes_first_and_size_is_at_least_100() {
        let c = OcspCache::new(2);
        for n in 0..100 {
            c.put(id(n), Status::Good, i64::MAX, 0);
        }
        assert_eq!(c.len(), 100);
        // Using 0 makes 1 the oldest.
        assert!(c.get(&id(0), 1).is_some());
        c.put(id(200), Status::Good, i64::MAX, 0);
        assert_eq!(c.len(), 100);
        assert!(c.get(&id(0), 1).is_some());
        assert!(c.get(&id(1), 1).is_none());
        c.reset(150);
        assert_eq!(c.len(), 0);
        for n in 0..200 {
            c.put(id(n), Status::Good, i64::MAX, 0);
        }
        assert_eq!(c.len(), 150);
    }
}
