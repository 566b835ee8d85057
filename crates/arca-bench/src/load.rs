//! The load generator: `concurrency` workers share one keep-alive client and send a workload's
//! requests back to back (closed loop) until a request budget or a deadline runs out, or, with
//! a rate, on a fixed schedule (open loop, see [`crate::open_loop`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;

use crate::client::{HttpClient, build_request};
use crate::error::BenchError;
use crate::workload::Workload;

/// How hard and how long one run drives a server.
#[derive(Debug, Clone, Copy)]
pub struct LoadSpec {
    /// Workers sending requests at the same time (each waits for its answer).
    pub concurrency: usize,
    /// Stop starting requests after this long.
    pub duration: Duration,
    /// Stop after this many requests in total.
    pub max_requests: u64,
    /// Open loop: send this many requests per second on a fixed schedule, latency measured
    /// from each request's due time ([`crate::open_loop`]); `None`: closed loop, each worker
    /// sends its next request when its answer is in.
    pub rate: Option<f64>,
}

/// What one run measured.
#[derive(Debug, Default)]
pub struct RunOutcome {
    /// Latency of every completed request, microseconds.
    pub latencies_us: Vec<u32>,
    /// Non-2xx answers and failed exchanges.
    pub errors: u64,
    /// Wall time of the run, seconds.
    pub elapsed_s: f64,
    /// The first error seen, for the log.
    pub first_error: Option<String>,
    /// Open loop only: requests sent more than [`crate::open_loop::LATE_AFTER`] after their
    /// due time.
    pub late: Option<u64>,
}

impl RunOutcome {
    /// Counts one finished operation: its latency, and its status or failure.
    pub(crate) fn record(
        &mut self,
        micros: u32,
        result: Result<(hyper::StatusCode, Bytes), String>,
    ) {
        match result {
            Ok((status, bytes)) => {
                self.latencies_us.push(micros);
                if !status.is_success() {
                    self.errors += 1;
                    if self.first_error.is_none() {
                        self.first_error = Some(format!(
                            "{status}: {}",
                            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
                        ));
                    }
                }
            }
            Err(e) => {
                self.errors += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(e);
                }
            }
        }
    }

    /// Adds a worker's part of the run.
    pub(crate) fn merge(&mut self, part: RunOutcome) {
        self.latencies_us.extend(part.latencies_us);
        self.errors += part.errors;
        if self.first_error.is_none() {
            self.first_error = part.first_error;
        }
        if let Some(late) = part.late {
            *self.late.get_or_insert(0) += late;
        }
    }
}

/// What a run sends to and with: the client, the server, the token and the workload.
pub(crate) struct Target {
    pub(crate) client: HttpClient,
    pub(crate) base: String,
    pub(crate) token: String,
    pub(crate) workload: Workload,
}

/// Drives `workload` against the server at `base` with `token`.
pub async fn drive(
    client: &HttpClient,
    base: &str,
    token: &str,
    workload: &Workload,
    spec: LoadSpec,
) -> Result<RunOutcome, BenchError> {
    let target = Arc::new(Target {
        client: client.clone(),
        base: base.to_string(),
        token: token.to_string(),
        workload: *workload,
    });
    if let Some(rate) = spec.rate {
        return crate::open_loop::drive(target, spec, rate).await;
    }
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + spec.duration;
    let mut tasks = Vec::with_capacity(spec.concurrency);
    for worker in 0..spec.concurrency.max(1) {
        let target = Arc::clone(&target);
        let issued = Arc::clone(&issued);
        tasks.push(tokio::spawn(async move {
            worker_loop(&target, worker, &issued, deadline, spec.max_requests).await
        }));
    }
    let mut outcome = RunOutcome::default();
    for t in tasks {
        let part = t.await.map_err(|e| BenchError::Http {
            method: (workload.method)(0, 0).into(),
            path: (workload.path)(0, 0),
            detail: format!("worker task failed: {e}"),
        })??;
        outcome.merge(part);
    }
    outcome.elapsed_s = start.elapsed().as_secs_f64();
    Ok(outcome)
}

/// Sends one request and collects its status and body.
async fn exchange(
    client: &HttpClient,
    req: hyper::Request<http_body_util::Full<Bytes>>,
) -> Result<(hyper::StatusCode, Bytes), String> {
    let resp = client.request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, bytes))
}

async fn worker_loop(
    target: &Target,
    worker: usize,
    issued: &AtomicU64,
    deadline: Instant,
    max_requests: u64,
) -> Result<RunOutcome, BenchError> {
    let mut out = RunOutcome::default();
    for n in 0u64.. {
        if Instant::now() >= deadline {
            break;
        }
        if issued.fetch_add(1, Ordering::Relaxed) >= max_requests {
            break;
        }
        let t0 = Instant::now();
        let result = operation(target, worker, n).await?;
        let micros = u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX);
        let failed = result.is_err();
        out.record(micros, result);
        if failed {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    Ok(out)
}

/// Sends request `n` of `worker` (and its follow-up when the workload is a pair) and returns
/// the last answer's status and body, or why the exchange failed.
pub(crate) async fn operation(
    target: &Target,
    worker: usize,
    n: u64,
) -> Result<Result<(hyper::StatusCode, Bytes), String>, BenchError> {
    let w = &target.workload;
    let body = (w.body)(worker, n).map(Bytes::from);
    let mut req = build_request(
        &target.base,
        (w.method)(worker, n),
        &(w.path)(worker, n),
        Some(&target.token),
        body,
    )?;
    if let Some((name, value)) = w.header {
        req.headers_mut()
            .insert(name, hyper::header::HeaderValue::from_static(value));
    }
    let mut result = exchange(&target.client, req).await;
    if let (Some(follow), Ok((status, bytes))) = (&w.follow, &result)
        && status.is_success()
    {
        let answer: serde_json::Value =
            serde_json::from_slice(bytes).unwrap_or(serde_json::Value::Null);
        result = match (follow.extract)(&answer) {
            None => Err(format!(
                "{} answer carries nothing to follow up: {}",
                w.name,
                String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
            )),
            Some(value) => {
                let token = if follow.as_token {
                    value.as_str()
                } else {
                    target.token.as_str()
                };
                let next = build_request(
                    &target.base,
                    follow.method,
                    follow.path,
                    Some(token),
                    (follow.body)(&value).map(Bytes::from),
                )?;
                exchange(&target.client, next).await
            }
        };
    }
    Ok(result)
}
