//! The time-ordered index of leases waiting to expire: one ordered set of (due time, lease
//! id) the single timer task reads its next deadline from, and a map by lease id of each
//! lease's due time and failed revocation attempts. No task or timer exists per lease.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// One lease in the index.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Unix milliseconds it is due.
    due: i64,
    /// Revocation attempts that failed so far.
    attempts: u32,
    /// Handed to a revocation that has not finished: not in the ordered set.
    in_flight: bool,
}

/// Leases by due time.
#[derive(Default)]
pub(crate) struct Pending {
    order: BTreeSet<(i64, Arc<str>)>,
    slots: HashMap<Arc<str>, Slot>,
}

impl Pending {
    /// How many leases are indexed.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Calls `visit` with every indexed lease and its due time (Unix milliseconds).
    pub(crate) fn for_each(&self, mut visit: impl FnMut(&str, i64)) {
        for (id, slot) in &self.slots {
            visit(id, slot.due);
        }
    }

    /// Whether `id` is indexed.
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.slots.contains_key(id)
    }

    /// The earliest due time, if any.
    pub(crate) fn next_due(&self) -> Option<i64> {
        self.order.first().map(|(t, _)| *t)
    }

    /// Sets `id` due at `due` (keeping its failed attempts). Says whether it is now the
    /// earliest lease, so the timer must wake up.
    pub(crate) fn schedule(&mut self, id: &str, due: i64) -> bool {
        self.put(id, due, None, false)
    }

    /// Indexes `id` at `due` unless it is indexed already (restore must not undo a
    /// renewal or revocation that happened while it ran). Says whether the timer must wake.
    pub(crate) fn schedule_if_absent(&mut self, id: &str, due: i64) -> bool {
        if self.slots.contains_key(id) {
            return false;
        }
        self.put(id, due, None, false)
    }

    /// Reschedules `id` after a failed revocation, with its attempt count.
    pub(crate) fn retry(&mut self, id: &str, due: i64, attempts: u32) -> bool {
        self.put(id, due, Some(attempts), true)
    }

    fn put(&mut self, id: &str, due: i64, attempts: Option<u32>, retry: bool) -> bool {
        let key: Arc<str> = match self.slots.get_key_value(id) {
            Some((k, _)) => k.clone(),
            None => Arc::from(id),
        };
        let old = self.slots.get(id).copied();
        if retry && old.is_none() {
            // Revoked (or forgotten) meanwhile: nothing to retry.
            return false;
        }
        if let Some(old) = old {
            if old.in_flight && !retry {
                // The revocation running decides; remember the new due time for a retry.
                if let Some(s) = self.slots.get_mut(id) {
                    s.due = due;
                }
                return false;
            }
            if !old.in_flight {
                self.order.remove(&(old.due, key.clone()));
            }
        }
        let attempts = attempts.unwrap_or(old.map(|o| o.attempts).unwrap_or(0));
        self.slots.insert(
            key.clone(),
            Slot {
                due,
                attempts,
                in_flight: false,
            },
        );
        let earliest = self.order.first().is_none_or(|(t, _)| due < *t);
        self.order.insert((due, key));
        earliest
    }

    /// Forgets `id`.
    pub(crate) fn remove(&mut self, id: &str) {
        if let Some((key, slot)) = self.slots.remove_entry(id)
            && !slot.in_flight
        {
            self.order.remove(&(slot.due, key));
        }
    }

    /// The failed attempts of `id` so far.
    pub(crate) fn attempts(&self, id: &str) -> u32 {
        self.slots.get(id).map(|s| s.attempts).unwrap_or(0)
    }

    /// Takes up to `max` leases due at `now` out of the ordered set, marking them in flight.
    pub(crate) fn take_due(&mut self, now: i64, max: usize) -> Vec<Arc<str>> {
        let mut out = Vec::new();
        while out.len() < max {
            let Some((due, _)) = self.order.first() else {
                break;
            };
            if *due > now {
                break;
            }
            let Some((_, id)) = self.order.pop_first() else {
                break;
            };
            if let Some(s) = self.slots.get_mut(&id) {
                s.in_flight = true;
            }
            out.push(id);
        }
        out
    }

    /// Keeps only the leases whose id `keep` accepts.
    pub(crate) fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        let gone: Vec<Arc<str>> = self.slots.keys().filter(|id| !keep(id)).cloned().collect();
        for id in gone {
            self.remove(&id);
        }
    }

    /// Forgets everything (seal).
    pub(crate) fn clear(&mut self) {
        self.order.clear();
        self.slots.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_come_out_in_time_order_once() {
        let mut p = Pending::default();
        assert!(p.schedule("b", 20));
        assert!(p.schedule("a", 10));
        assert!(!p.schedule("c", 30));
        // Rescheduling moves a lease rather than adding it twice.
        assert!(!p.schedule("c", 15));
        assert_eq!(p.len(), 3);
        assert_eq!(p.next_due(), Some(10));
        let due: Vec<String> = p.take_due(16, 10).iter().map(|s| s.to_string()).collect();
        assert_eq!(due, ["a", "c"]);
        assert_eq!(p.next_due(), Some(20));
        // A lease in flight is not handed out again, and a renewal does not re-queue it.
        assert!(!p.schedule("a", 5));
        assert!(p.take_due(16, 10).is_empty());
        // A failed attempt re-queues it with its count.
        assert!(p.retry("a", 12, 1));
        assert_eq!(p.attempts("a"), 1);
        assert!(!p.schedule_if_absent("a", 1));
        p.remove("a");
        p.remove("c");
        assert!(!p.contains("a"));
        assert_eq!(p.take_due(100, 10).len(), 1);
        p.remove("b");
        assert_eq!((p.len(), p.next_due()), (0, None));
    }
}
