//! Load under plugin reloads: the workload's requests run as usual while one more task reloads
//! the plugin by name (`PUT sys/plugins/reload/backend {"plugin": NAME}`) over and over, and
//! the reload calls are counted and timed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Notify;

use crate::client::{HttpClient, call};
use crate::error::BenchError;
use crate::load::{LoadSpec, RunOutcome, drive};
use crate::workload::Workload;

/// Which plugin to reload and how often.
#[derive(Debug, Clone)]
pub struct ReloadSpec {
    /// Plugin name in the catalog (every mount running it is reloaded).
    pub plugin: String,
    /// Pause between the end of one reload call and the start of the next (zero: back to back).
    pub interval: Duration,
}

/// What the reloading task saw during one run.
#[derive(Debug, Default)]
pub struct ReloadOutcome {
    /// Duration of every reload call, microseconds (failed ones included).
    pub durations_us: Vec<u32>,
    /// Reload calls answered with a non-2xx status or failed on the wire.
    pub failed: u64,
    /// The first failure, for the log.
    pub first_error: Option<String>,
}

impl ReloadOutcome {
    /// Reload calls answered 2xx.
    pub fn done(&self) -> u64 {
        (self.durations_us.len() as u64).saturating_sub(self.failed)
    }
}

/// Drives `workload` against `base` like [`drive`] while `reload_client` reloads the plugin of
/// `reload` until the load ends; the reload call in flight at that moment is awaited and
/// counted.
pub async fn drive_under_reload(
    client: &HttpClient,
    reload_client: &HttpClient,
    base: &str,
    token: &str,
    workload: &Workload,
    spec: LoadSpec,
    reload: &ReloadSpec,
) -> Result<(RunOutcome, ReloadOutcome), BenchError> {
    let stop = Arc::new(AtomicBool::new(false));
    let wake = Arc::new(Notify::new());
    let reloader = tokio::spawn(reload_loop(
        reload_client.clone(),
        base.to_string(),
        token.to_string(),
        reload.clone(),
        Arc::clone(&stop),
        Arc::clone(&wake),
    ));
    let load = drive(client, base, token, workload, spec).await;
    stop.store(true, Ordering::Release);
    wake.notify_one();
    let reloads = reloader.await.map_err(|e| BenchError::Http {
        method: "PUT".into(),
        path: "sys/plugins/reload/backend".into(),
        detail: format!("reload task failed: {e}"),
    })?;
    Ok((load?, reloads))
}

async fn reload_loop(
    client: HttpClient,
    base: String,
    token: String,
    reload: ReloadSpec,
    stop: Arc<AtomicBool>,
    wake: Arc<Notify>,
) -> ReloadOutcome {
    let body = json!({ "plugin": reload.plugin });
    let mut out = ReloadOutcome::default();
    while !stop.load(Ordering::Acquire) {
        let t0 = Instant::now();
        let result = call(
            &client,
            &base,
            "PUT",
            "sys/plugins/reload/backend",
            Some(&token),
            Some(&body),
        )
        .await;
        out.durations_us
            .push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX));
        let failure = match result {
            Ok((status, _)) if (200..300).contains(&status) => None,
            Ok((status, answer)) => Some(format!("{status}: {answer}")),
            Err(e) => Some(e.to_string()),
        };
        if let Some(f) = failure {
            out.failed += 1;
            if out.first_error.is_none() {
                out.first_error = Some(f);
            }
        }
        if !reload.interval.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(reload.interval) => {}
                () = wake.notified() => {}
            }
        }
    }
    out
}
