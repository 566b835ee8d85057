//! Open-loop (constant-rate) load: request `i` is due at `start + i / rate`, whatever happened
//! to the requests before it. A releaser thread hands out one permit per request at its due
//! time; the workers (one per connection) take the next permit and request index when they are
//! free. When every worker is busy, a due request waits for one, but its latency is counted from
//! its due time, not from when it was sent: a stalled server cannot slow the schedule down and
//! hide its own stall (no coordinated omission). Requests sent more than [`LATE_AFTER`] after
//! their due time are counted as late.
//!
//! The releaser sleeps until shortly before each due time and spins the rest of the way
//! ([`SPIN_WINDOW`]), so the schedule is kept to a few microseconds at the cost of some client
//! CPU at high rates.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::error::BenchError;
use crate::load::{LoadSpec, RunOutcome, Target, operation};

/// A request sent more than this after its due time is late.
pub const LATE_AFTER: Duration = Duration::from_millis(1);
/// The releaser spins instead of sleeping when a due time is this close (a thread sleep can
/// overshoot by tens of microseconds).
const SPIN_WINDOW: Duration = Duration::from_micros(80);

/// The fixed schedule of an open-loop run.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// When request 0 is due.
    pub start: Instant,
    /// Requests per second.
    pub rate: f64,
}

impl Schedule {
    /// How long after the start request `i` is due: `i / rate`.
    pub fn offset(&self, i: u64) -> Duration {
        Duration::from_secs_f64(i as f64 / self.rate)
    }

    /// When request `i` is due.
    pub fn due(&self, i: u64) -> Instant {
        self.start + self.offset(i)
    }

    /// Requests due strictly before `window` has passed since the start, at most `max`: the
    /// requests of a run bounded by time and count.
    pub fn requests_within(&self, window: Duration, max: u64) -> u64 {
        let n = (window.as_secs_f64() * self.rate).ceil();
        (n as u64).min(max)
    }

    /// Requests due by `elapsed` since the start (request 0 is due at once).
    pub fn due_by(&self, elapsed: Duration) -> u64 {
        (elapsed.as_secs_f64() * self.rate).floor() as u64 + 1
    }
}

/// A request sent at `sent` is late when that is more than [`LATE_AFTER`] after `due`.
pub fn is_late(due: Instant, sent: Instant) -> bool {
    sent.saturating_duration_since(due) > LATE_AFTER
}

/// Runs `target`'s workload at `rate` requests/s over `spec.concurrency` workers, for
/// `spec.duration` or `spec.max_requests` requests, whichever is fewer. `elapsed_s` runs from
/// the start of the schedule to the last answer, so requests / elapsed is the achieved rate.
pub(crate) async fn drive(
    target: Arc<Target>,
    spec: LoadSpec,
    rate: f64,
) -> Result<RunOutcome, BenchError> {
    let workers = spec.concurrency.max(1);
    let schedule = Schedule {
        start: Instant::now(),
        rate,
    };
    let total = schedule.requests_within(spec.duration, spec.max_requests);
    let permits = Arc::new(Semaphore::new(0));
    let next = Arc::new(AtomicU64::new(0));
    let releaser = {
        let permits = Arc::clone(&permits);
        tokio::task::spawn_blocking(move || release(schedule, total, workers, &permits))
    };
    let mut tasks = Vec::with_capacity(workers);
    for worker in 0..workers {
        let target = Arc::clone(&target);
        let permits = Arc::clone(&permits);
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            let mut out = RunOutcome {
                late: Some(0),
                ..RunOutcome::default()
            };
            for n in 0u64.. {
                match permits.acquire().await {
                    Ok(p) => p.forget(),
                    Err(_) => break,
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let due = schedule.due(i);
                if is_late(due, Instant::now()) {
                    out.late = out.late.map(|l| l + 1);
                }
                let result = operation(&target, worker, n).await?;
                let micros = u32::try_from(due.elapsed().as_micros()).unwrap_or(u32::MAX);
                out.record(micros, result);
            }
            Ok::<_, BenchError>(out)
        }));
    }
    let task_err = |e: tokio::task::JoinError| BenchError::Http {
        method: (target.workload.method)(0, 0).into(),
        path: (target.workload.path)(0, 0),
        detail: format!("open-loop task failed: {e}"),
    };
    let mut outcome = RunOutcome {
        late: Some(0),
        ..RunOutcome::default()
    };
    for t in tasks {
        outcome.merge(t.await.map_err(task_err)??);
    }
    releaser.await.map_err(task_err)?;
    outcome.elapsed_s = schedule.start.elapsed().as_secs_f64();
    Ok(outcome)
}

/// Adds one permit to `permits` per request at its due time, `total` in all, then one more per
/// worker so each wakes up, finds the schedule done and stops.
fn release(schedule: Schedule, total: u64, workers: usize, permits: &Semaphore) {
    let mut released = 0u64;
    while released < total {
        let due_now = schedule.due_by(schedule.start.elapsed()).min(total);
        if due_now > released {
            permits.add_permits(usize::try_from(due_now - released).unwrap_or(usize::MAX));
            released = due_now;
            continue;
        }
        wait_until(schedule.due(released));
    }
    permits.add_permits(workers);
}

/// Sleeps until shortly before `t`, then spins until it.
fn wait_until(t: Instant) {
    loop {
        let now = Instant::now();
        if now >= t {
            return;
        }
        let left = t - now;
        if left > SPIN_WINDOW {
            std::thread::sleep(left - SPIN_WINDOW);
        } else {
            std::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_times_follow_the_rate() {
        let start = Instant::now();
        let s = Schedule {
            start,
            rate: 1000.0,
        };
        assert_eq!(s.offset(0), Duration::ZERO);
        assert_eq!(s.offset(1), Duration::from_millis(1));
        assert_eq!(s.offset(2500), Duration::from_millis(2500));
        assert_eq!(s.due(10), start + Duration::from_millis(10));
        let slow = Schedule { start, rate: 4.0 };
        assert_eq!(slow.offset(3), Duration::from_millis(750));
    }

    #[test]
    fn a_run_holds_the_requests_due_within_its_window() {
        let s = Schedule {
            start: Instant::now(),
            rate: 1000.0,
        };
        // Due at 0, 1, ..., 499 ms: 500 requests in half a second.
        assert_eq!(s.requests_within(Duration::from_millis(500), u64::MAX), 500);
        assert_eq!(s.requests_within(Duration::from_millis(500), 20), 20);
        assert_eq!(s.requests_within(Duration::from_micros(1500), u64::MAX), 2);
        assert_eq!(s.due_by(Duration::ZERO), 1);
        assert_eq!(s.due_by(Duration::from_micros(999)), 1);
        assert_eq!(s.due_by(Duration::from_millis(1)), 2);
        assert_eq!(s.due_by(Duration::from_millis(10)), 11);
    }

    #[test]
    fn late_means_more_than_a_millisecond_after_the_due_time() {
        let due = Instant::now();
        assert!(!is_late(due, due));
        assert!(!is_late(due, due + Duration::from_millis(1)));
        assert!(is_late(due, due + Duration::from_micros(1001)));
        // Sent before its due time (cannot happen, but is not late).
        assert!(!is_late(due + Duration::from_millis(5), due));
    }

    #[test]
    fn the_releaser_hands_out_one_permit_per_due_request_and_one_per_worker() {
        let permits = Semaphore::new(0);
        let s = Schedule {
            start: Instant::now(),
            rate: 2000.0,
        };
        let t0 = Instant::now();
        release(s, 40, 3, &permits);
        // The 40th request is due at 19.5 ms: the releaser cannot be done before.
        assert!(t0.elapsed() >= Duration::from_micros(19_500));
        assert_eq!(permits.available_permits(), 43);
    }
}
