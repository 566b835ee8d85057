//! The config as `sys/config/state/sanitized` shows it: Vault's keys, durations in
//! nanoseconds, and nothing secret (no storage or seal options, which may hold passwords and
//! tokens).

use std::time::Duration;

use serde_json::{Value, json};

use crate::server::ServerConfig;

/// A duration as Go's `time.Duration` marshals it: nanoseconds.
fn nanos(d: Option<Duration>) -> u64 {
    d.map(|d| d.as_nanos() as u64).unwrap_or(0)
}

fn text(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}

impl ServerConfig {
    /// The config with secrets left out, shaped as OpenBao's `SanitizedConfig`.
    pub fn sanitized(&self) -> Value {
        let listeners: Vec<Value> = self
            .listeners
            .iter()
            .map(|l| {
                let mut config = serde_json::Map::new();
                config.insert("address".into(), json!(l.address));
                config.insert("tls_disable".into(), json!(l.tls_disable));
                let paths = [
                    ("tls_cert_file", &l.tls_cert_file),
                    ("tls_key_file", &l.tls_key_file),
                    ("tls_client_ca_file", &l.tls_client_ca_file),
                ];
                for (k, v) in paths {
                    if let Some(p) = v {
                        config.insert(k.into(), json!(p.display().to_string()));
                    }
                }
                if let Some(c) = &l.cluster_address {
                    config.insert("cluster_address".into(), json!(c));
                }
                json!({ "type": l.kind, "config": config })
            })
            .collect();
        let storage = self.storage.as_ref().map(|s| {
            json!({
                "type": s.kind,
                "redirect_addr": text(&self.api_addr),
                "cluster_addr": text(&self.cluster_addr),
                "disable_clustering": false,
            })
        });
        let seals: Vec<Value> = if self.seals.is_empty() {
            vec![json!({ "type": "shamir", "disabled": false })]
        } else {
            self.seals
                .iter()
                .map(|s| json!({ "type": s.kind, "disabled": false }))
                .collect()
        };
        let telemetry = self.telemetry.as_ref().map(|t| {
            json!({
                "add_lease_metrics_namespace_labels": t.add_lease_metrics_namespace_labels,
                "disable_hostname": t.disable_hostname,
                "dogstatsd_addr": t.dogstatsd_addr.as_deref().unwrap_or(""),
                "dogstatsd_tags": (!t.dogstatsd_tags.is_empty()).then_some(&t.dogstatsd_tags),
                "lease_metrics_epsilon": t.lease_metrics_epsilon.as_nanos() as u64,
                "maximum_gauge_cardinality": t.maximum_gauge_cardinality,
                "metrics_prefix": t.metrics_prefix.as_deref().unwrap_or(""),
                "num_lease_metrics_buckets": t.num_lease_metrics_buckets,
                "prometheus_retention_time": nanos(t.prometheus_retention_time),
                "statsd_address": t.statsd_address.as_deref().unwrap_or(""),
                "usage_gauge_period": nanos(t.usage_gauge_period),
            })
        });
        json!({
            "allow_audit_log_prefixing": self.allow_audit_log_prefixing,
            "api_addr": text(&self.api_addr),
            "cache_size": 0,
            "cluster_addr": text(&self.cluster_addr),
            "cluster_name": text(&self.cluster_name),
            "default_lease_ttl": nanos(self.default_lease_ttl),
            "disable_cache": self.disable_cache,
            "enable_ui": self.ui,
            "introspection_endpoint": self.introspection_endpoint,
            "listeners": listeners,
            "log_format": text(&self.log_format),
            "log_level": text(&self.log_level),
            "max_lease_ttl": nanos(self.max_lease_ttl),
            "pid_file": self.pid_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            "plugin_directory": self
                .plugin_directory
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            "raw_storage_endpoint": self.raw_storage_endpoint,
            "seals": seals,
            "storage": storage,
            "telemetry": telemetry,
            "unsafe_allow_api_audit_creation": self.unsafe_allow_api_audit_creation.unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn leaves_storage_and_seal_options_out() {
        let cfg = crate::parse_str(
            r#"
storage "postgresql" {
  connection_url = "postgres://u:hunter2@db/vault"
}
seal "transit" {
  token    = "s.secret"
  address  = "https://t"
  key_name = "k"
}
listener "tcp" {
  address     = "127.0.0.1:8300"
  tls_disable = true
}
default_lease_ttl = "1h"
"#,
            "test.hcl",
        )
        .unwrap();
        let v = cfg.sanitized();
        let text = v.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("s.secret"),
            "{text}"
        );
        assert_eq!(v["storage"]["type"], "postgresql");
        assert_eq!(v["seals"][0]["type"], "transit");
        assert_eq!(v["default_lease_ttl"], 3_600_000_000_000u64);
        assert_eq!(v["listeners"][0]["config"]["address"], "127.0.0.1:8300");
    }
}
