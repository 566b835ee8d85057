//! Latency samples and their summary (requests/s, p50, p99).

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
}

/// Latencies (microseconds) and counts gathered across one or more runs.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    latencies_us: Vec<u32>,
    errors: u64,
    elapsed_s: f64,
}

impl Samples {
    /// Adds one run: its latencies, its error count and its wall time.
    pub fn add_run(&mut self, latencies_us: Vec<u32>, errors: u64, elapsed_s: f64) {
        self.latencies_us.extend(latencies_us);
        self.errors += errors;
        self.elapsed_s += elapsed_s;
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
    }
}
