//! Helpers of the HA tests: waiting for a condition, who is active, a writer under failover.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Server, call};

/// Waits (up to `limit`) until `check` holds, polling every 50 ms; panics naming `what`.
/// Returns how long it took.
pub async fn wait_for<F, Fut>(limit: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether `s` says it is the active node.
pub async fn is_active(s: &Server) -> bool {
    call(s, "GET", "sys/leader", None, None).await.body["is_self"] == true
}

/// A writer of KV v2 secrets `secret/data/<prefix>/k<i>` (value `<prefix>-<i>`) through the
/// server at `url`, one after another, until told to stop; it keeps every write answered 2xx.
pub struct Writer {
    stop: watch::Sender<bool>,
    task: JoinHandle<Vec<(String, String)>>,
}

impl Writer {
    /// Starts writing.
    pub fn start(url: &str, token: &str, prefix: &str) -> Writer {
        let (stop, stopped) = watch::channel(false);
        let (url, token, prefix) = (url.to_string(), token.to_string(), prefix.to_string());
        let task = tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut acked = Vec::new();
            let mut i = 0u64;
            while !*stopped.borrow() {
                let key = format!("{prefix}/k{i}");
                let value = format!("{prefix}-{i}");
                if let Ok(r) = client
                    .put(format!("{url}/v1/secret/data/{key}"))
                    .header("X-Vault-Token", &token)
                    .json(&json!({"data": {"v": value}}))
                    .send()
                    .await
                    && r.status().is_success()
                {
                    acked.push((key, value));
                }
                i += 1;
            }
            acked
        });
        Writer { stop, task }
    }

    /// Stops and returns every acknowledged (key, value).
    pub async fn finish(self) -> Vec<(String, String)> {
        let _ = self.stop.send(true);
        self.task.await.expect("writer task")
    }
}

/// Checks every acknowledged write reads back from `s` with its value.
pub async fn assert_all_present(s: &Server, token: &str, acked: &[(String, String)], when: &str) {
    for (k, v) in acked {
        let r = call(s, "GET", &format!("secret/data/{k}"), Some(token), None).await;
        assert_eq!(r.status, 200, "{when}: acknowledged {k} lost: {}", r.body);
        assert_eq!(r.body["data"]["data"]["v"], v.as_str(), "{when}: {k}");
    }
}
