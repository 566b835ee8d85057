//! The workloads: one entry of [`WORKLOADS`] each. A new workload is one more entry.
//!
//! A request is named by the worker that sends it and that worker's own request counter `n`
//! (0, 1, 2, ...), so a workload can pair requests within one worker (write a key, then read it).

/// A request a workload sends before it is measured (its data must exist first).
#[derive(Debug, Clone, Copy)]
pub struct SetupStep {
    /// HTTP method.
    pub method: &'static str,
    /// API path under `/v1/`.
    pub path: &'static str,
    /// JSON body.
    pub body: &'static str,
}

/// One kind of request driven at every concurrency level.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// Short name used in tables, JSON and the chart.
    pub name: &'static str,
    /// The HTTP method of request `n` sent by worker `worker`.
    pub method: fn(worker: usize, n: u64) -> &'static str,
    /// The API path (under `/v1/`) of that request.
    pub path: fn(worker: usize, n: u64) -> String,
    /// The JSON body of that request, if any.
    pub body: fn(worker: usize, n: u64) -> Option<String>,
    /// Requests sent once per server before measuring.
    pub setup: &'static [SetupStep],
    /// The workload targets the example plugin mounted at [`PLUGIN_NAME`] (skipped when the
    /// plugin binary is missing).
    pub needs_plugin: bool,
    /// The workload runs while a separate task reloads that plugin over and over (see
    /// [`crate::reload`]).
    pub under_reload: bool,
}

/// Name of the example KV plugin in both servers' catalogs, and its mount path.
pub const PLUGIN_NAME: &str = "kvbench";

fn no_body(_: usize, _: u64) -> Option<String> {
    None
}

fn get(_: usize, _: u64) -> &'static str {
    "GET"
}

fn post(_: usize, _: u64) -> &'static str {
    "POST"
}

/// Even requests write `key-<worker>-<n/2>`, odd ones read it back.
fn put_then_get(_: usize, n: u64) -> &'static str {
    if n.is_multiple_of(2) { "PUT" } else { "GET" }
}

fn plugin_key(worker: usize, n: u64) -> String {
    format!("{PLUGIN_NAME}/key-{worker}-{}", n / 2)
}

fn plugin_value(worker: usize, n: u64) -> Option<String> {
    n.is_multiple_of(2)
        .then(|| format!(r#"{{"worker":{worker},"n":{n},"value":"bench"}}"#))
}

/// Every workload, in report order. `plugin-mount` is the baseline of `plugin-mount-reload`:
/// the same requests without reloads.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "kv2-read",
        method: get,
        path: |_, _| "secret/data/bench-read".into(),
        body: no_body,
        setup: &[SetupStep {
            method: "POST",
            path: "secret/data/bench-read",
            body: r#"{"data":{"user":"bench","password":"correct horse battery staple"}}"#,
        }],
        needs_plugin: false,
        under_reload: false,
    },
    Workload {
        name: "kv2-write",
        method: post,
        path: |worker, _| format!("secret/data/bench-write-{worker}"),
        body: |worker, n| Some(format!(r#"{{"data":{{"worker":{worker},"seq":{n}}}}}"#)),
        setup: &[],
        needs_plugin: false,
        under_reload: false,
    },
    Workload {
        name: "token-lookup-self",
        method: get,
        path: |_, _| "auth/token/lookup-self".into(),
        body: no_body,
        setup: &[],
        needs_plugin: false,
        under_reload: false,
    },
    Workload {
        name: "token-create",
        method: post,
        path: |_, _| "auth/token/create".into(),
        body: |_, _| Some(r#"{"policies":["default"],"ttl":"1h"}"#.into()),
        setup: &[],
        needs_plugin: false,
        under_reload: false,
    },
    Workload {
        name: "sys-health",
        method: get,
        path: |_, _| "sys/health".into(),
        body: no_body,
        setup: &[],
        needs_plugin: false,
        under_reload: false,
    },
    Workload {
        name: "plugin-mount",
        method: put_then_get,
        path: plugin_key,
        body: plugin_value,
        setup: &[],
        needs_plugin: true,
        under_reload: false,
    },
    Workload {
        name: "plugin-mount-reload",
        method: put_then_get,
        path: plugin_key,
        body: plugin_value,
        setup: &[],
        needs_plugin: true,
        under_reload: true,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_bodies_are_json() {
        let mut names: Vec<_> = WORKLOADS.iter().map(|w| w.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), WORKLOADS.len());
        for w in WORKLOADS {
            if let Some(b) = (w.body)(3, 7) {
                let v: serde_json::Value = serde_json::from_str(&b).unwrap();
                assert!(v.is_object(), "{}", w.name);
            }
            for s in w.setup {
                serde_json::from_str::<serde_json::Value>(s.body).unwrap();
            }
        }
        assert_eq!((WORKLOADS[1].path)(5, 0), "secret/data/bench-write-5");
        assert_eq!(WORKLOADS.iter().filter(|w| w.under_reload).count(), 1);
        assert!(WORKLOADS.iter().all(|w| w.needs_plugin || !w.under_reload));
    }

    #[test]
    fn reload_workload_writes_then_reads_the_same_key() {
        let w = WORKLOADS
            .iter()
            .find(|w| w.name == "plugin-mount-reload")
            .unwrap();
        assert!(w.under_reload);
        assert_eq!((w.method)(3, 0), "PUT");
        assert_eq!((w.method)(3, 1), "GET");
        assert_eq!((w.path)(3, 0), "kvbench/key-3-0");
        assert_eq!((w.path)(3, 1), "kvbench/key-3-0");
        assert_eq!((w.path)(3, 2), "kvbench/key-3-1");
        assert!((w.body)(3, 0).is_some());
        assert!((w.body)(3, 1).is_none());
    }
}
