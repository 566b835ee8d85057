//! Latency samples and their summary (requests/s, p50, p99, max), plus the reloads done
//! alongside when the workload runs under plugin reloads.

use serde::Serialize;

/// The numbers of one server on one workload at one concurrency, over all its rounds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    /// Requests that completed (any status).
    pub requests: u64,
    /// Requests answered with a non-2xx status or that failed on the wire.
    pub errors: u64,
    /// Wall time spent sending them, in seconds.
    pub elapsed_s: f64,
    /// Completed requests per second.
    pub rps: f64,
    /// Median latency in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency in milliseconds.
    pub p99_ms: f64,
    /// Slowest request in milliseconds (a stall shows here first).
    pub max_ms: f64,
    /// The plugin reloads done while the requests ran (under-reload workloads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reloads: Option<ReloadSummary>,
    /// The schedule kept, for open-loop runs (latencies are then from each request's due time
    /// and `rps` is the achieved rate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_loop: Option<OpenLoopSummary>,
}

/// How well an open-loop run kept its schedule.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OpenLoopSummary {
    /// Requests per second asked for.
    pub target_rps: f64,
    /// Requests sent more than 1 ms after their due time.
    pub late: u64,
    /// Late requests over all requests.
    pub late_fraction: f64,
}

/// The reload calls sent alongside a workload, over all its rounds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReloadSummary {
    /// Reload calls answered 2xx.
    pub done: u64,
    /// Reload calls answered otherwise or failed on the wire.
    pub failed: u64,
    /// Median duration of a reload call in milliseconds.
    pub p50_ms: f64,
    /// Slowest reload call in milliseconds.
    pub max_ms: f64,
}

/// Latencies (microseconds) and counts gathered across one or more runs.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    latencies_us: Vec<u32>,
    errors: u64,
    elapsed_s: f64,
    reload_us: Option<Vec<u32>>,
    reload_failed: u64,
    open_loop: Option<(f64, u64)>,
}

impl Samples {
    /// Adds one run: its latencies, its error count and its wall time.
    pub fn add_run(&mut self, latencies_us: Vec<u32>, errors: u64, elapsed_s: f64) {
        self.latencies_us.extend(latencies_us);
        self.errors += errors;
        self.elapsed_s += elapsed_s;
    }

    /// Adds the reload calls of one run: the duration of every call (failed ones included) and
    /// how many of them failed.
    pub fn add_reloads(&mut self, durations_us: Vec<u32>, failed: u64) {
        self.reload_us
            .get_or_insert_with(Vec::new)
            .extend(durations_us);
        self.reload_failed += failed;
    }

    /// Adds how many requests of an open-loop run at `target_rps` were late.
    pub fn add_late(&mut self, target_rps: f64, late: u64) {
        let (_, sum) = self.open_loop.get_or_insert((target_rps, 0));
        *sum += late;
    }

    /// Summarises everything added so far.
    pub fn summary(&self) -> Summary {
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        let requests = sorted.len() as u64;
        let rps = if self.elapsed_s > 0.0 {
            requests as f64 / self.elapsed_s
        } else {
            0.0
        };
        Summary {
            requests,
            errors: self.errors,
            elapsed_s: self.elapsed_s,
            rps,
            p50_ms: percentile_ms(&sorted, 50.0),
            p99_ms: percentile_ms(&sorted, 99.0),
            max_ms: percentile_ms(&sorted, 100.0),
            reloads: self.reload_us.as_ref().map(|r| {
                let mut sorted = r.clone();
                sorted.sort_unstable();
                ReloadSummary {
                    done: (sorted.len() as u64).saturating_sub(self.reload_failed),
                    failed: self.reload_failed,
                    p50_ms: percentile_ms(&sorted, 50.0),
                    max_ms: percentile_ms(&sorted, 100.0),
                }
            }),
            open_loop: self.open_loop.map(|(target_rps, late)| OpenLoopSummary {
                target_rps,
                late,
                late_fraction: if requests > 0 {
                    late as f64 / requests as f64
                } else {
                    0.0
                },
            }),
        }
    }
}

/// The `p`th percentile (nearest rank) of sorted microsecond samples, in milliseconds; 0 when
/// there are none.
pub fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    let idx = rank.clamp(1, sorted_us.len()) - 1;
    f64::from(sorted_us[idx]) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&v, 50.0), 50.0);
        assert_eq!(percentile_ms(&v, 99.0), 99.0);
        assert_eq!(percentile_ms(&v, 100.0), 100.0);
        assert_eq!(percentile_ms(&[], 50.0), 0.0);
        assert_eq!(percentile_ms(&[7000], 99.0), 7.0);
    }

    #[test]
    fn summary_adds_runs() {
        let mut s = Samples::default();
        s.add_run(vec![3000, 1000], 1, 0.5);
        s.add_run(vec![2000, 4000], 0, 0.5);
        let sum = s.summary();
        assert_eq!(sum.requests, 4);
        assert_eq!(sum.errors, 1);
        assert_eq!(sum.rps, 4.0);
        assert_eq!(sum.p50_ms, 2.0);
        assert_eq!(sum.p99_ms, 4.0);
        assert_eq!(sum.max_ms, 4.0);
        assert_eq!(sum.reloads, None);
        assert_eq!(sum.open_loop, None);
    }

    #[test]
    fn open_loop_late_counts_add_up() {
        let mut s = Samples::default();
        s.add_run(vec![1000; 30], 0, 0.5);
        s.add_late(60.0, 3);
        s.add_run(vec![1000; 30], 0, 0.5);
        s.add_late(60.0, 0);
        let o = s.summary().open_loop.unwrap();
        assert_eq!(o.target_rps, 60.0);
        assert_eq!(o.late, 3);
        assert_eq!(o.late_fraction, 0.05);
    }

    #[test]
    fn reloads_are_counted() {
        let mut s = Samples::default();
        s.add_run(vec![1000], 0, 1.0);
        s.add_reloads(vec![90_000, 10_000, 30_000], 1);
        s.add_reloads(vec![20_000], 0);
        let r = s.summary().reloads.unwrap();
        assert_eq!(r.done, 3);
        assert_eq!(r.failed, 1);
        assert_eq!(r.p50_ms, 20.0);
        assert_eq!(r.max_ms, 90.0);
    }
}
