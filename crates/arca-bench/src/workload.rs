//! The workloads: one entry of [`WORKLOADS`] each. A new workload is one more entry.

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
    /// HTTP method.
    pub method: &'static str,
    /// The API path (under `/v1/`) of request `seq` sent by worker `worker`.
    pub path: fn(worker: usize, seq: u64) -> String,
    /// The JSON body of that request, if any.
    pub body: fn(worker: usize, seq: u64) -> Option<String>,
    /// Requests sent once per server before measuring.
    pub setup: &'static [SetupStep],
    /// When set, the workload is listed but not run, with this note.
    pub skip: Option<&'static str>,
}

fn no_body(_: usize, _: u64) -> Option<String> {
    None
}

/// Every workload, in report order.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "kv2-read",
        method: "GET",
        path: |_, _| "secret/data/bench-read".into(),
        body: no_body,
        setup: &[SetupStep {
            method: "POST",
            path: "secret/data/bench-read",
            body: r#"{"data":{"user":"bench","password":"correct horse battery staple"}}"#,
        }],
        skip: None,
    },
    Workload {
        name: "kv2-write",
        method: "POST",
        path: |worker, _| format!("secret/data/bench-write-{worker}"),
        body: |worker, seq| Some(format!(r#"{{"data":{{"worker":{worker},"seq":{seq}}}}}"#)),
        setup: &[],
        skip: None,
    },
    Workload {
        name: "token-lookup-self",
        method: "GET",
        path: |_, _| "auth/token/lookup-self".into(),
        body: no_body,
        setup: &[],
        skip: None,
    },
    Workload {
        name: "token-create",
        method: "POST",
        path: |_, _| "auth/token/create".into(),
        body: |_, _| Some(r#"{"policies":["default"],"ttl":"1h"}"#.into()),
        setup: &[],
        skip: None,
    },
    Workload {
        name: "sys-health",
        method: "GET",
        path: |_, _| "sys/health".into(),
        body: no_body,
        setup: &[],
        skip: None,
    },
    Workload {
        name: "plugin-mount-reload",
        method: "GET",
        path: |_, _| "sys/plugins/reload/backend/status".into(),
        body: no_body,
        setup: &[],
        skip: Some(
            "waits for the plugin runtime: requests against a plugin mount while it is reloaded",
        ),
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
    }
}
