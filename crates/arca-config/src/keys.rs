//! Config keys that Vault or OpenBao know but Arca does not implement yet. They are accepted
//! with a warning, so a Vault config loads unchanged; keys nobody knows get a warning too.

/// Top-level keys of Vault/OpenBao server configs that Arca accepts and ignores.
pub(crate) const UNSUPPORTED_TOP_LEVEL: &[&str] = &[
    "administrative_namespace_path",
    "cache",
    "cluster_cipher_suites",
    "default_max_request_duration",
    "detect_deadlocks",
    "disable_clustering",
    "disable_indexing",
    "disable_performance_standby",
    "disable_printable_check",
    "disable_sealwrap",
    "disable_sentinel_trace",
    "enable_post_unseal_trace",
    "enable_response_header_hostname",
    "enable_response_header_raft_node_id",
    "entropy",
    "experiments",
    "ha_backend",
    "ha_storage",
    "hsm",
    "imprecise_lease_role_tracking",
    "initialize",
    "kms",
    "license_path",
    "log_file",
    "log_requests_level",
    "log_rotate_bytes",
    "log_rotate_duration",
    "log_rotate_max_files",
    "plugin",
    "plugin_auto_download",
    "plugin_auto_register",
    "plugin_download_behavior",
    "plugin_file_permissions",
    "plugin_file_uid",
    "plugin_tmpdir",
    "post_unseal_trace_directory",
    "replication",
    "reporting",
    "sentinel",
    "service_registration",
    "unsafe_cross_namespace_identity",
];

/// Top-level keys written as blocks, which may therefore appear more than once.
pub(crate) const TOP_LEVEL_BLOCKS: &[&str] = &[
    "audit",
    "backend",
    "cache",
    "entropy",
    "ha_backend",
    "ha_storage",
    "hsm",
    "initialize",
    "kms",
    "listener",
    "plugin",
    "replication",
    "reporting",
    "seal",
    "sentinel",
    "service_registration",
    "storage",
    "telemetry",
    "user_lockout",
];

/// `listener "tcp"` keys that Arca accepts and ignores.
pub(crate) const UNSUPPORTED_LISTENER: &[&str] = &[
    "agent_api",
    "chroot_namespace",
    "disable_replication_status_endpoints",
    "disable_request_limiter",
    "http_idle_timeout",
    "http_read_header_timeout",
    "http_read_timeout",
    "http_write_timeout",
    "inflight_requests_logging",
    "profiling",
    "require_request_header",
    "role",
    "tls_cipher_suites",
    "tls_prefer_server_cipher_suites",
    "unauthenticated_in_flight_request_access",
    "unauthenticated_metrics_access",
    "unauthenticated_pprof_access",
];

/// `listener "tcp"` keys written as blocks.
pub(crate) const LISTENER_BLOCKS: &[&str] = &[
    "custom_response_headers",
    "inflight_requests_logging",
    "profiling",
    "telemetry",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted_and_blocks_are_known() {
        for list in [
            UNSUPPORTED_TOP_LEVEL,
            TOP_LEVEL_BLOCKS,
            UNSUPPORTED_LISTENER,
            LISTENER_BLOCKS,
        ] {
            assert!(list.windows(2).all(|w| w[0] < w[1]), "{list:?}");
        }
        for key in TOP_LEVEL_BLOCKS {
            assert!(
                UNSUPPORTED_TOP_LEVEL.contains(key)
                    || [
                        "audit",
                        "backend",
                        "listener",
                        "seal",
                        "storage",
                        "telemetry",
                        "user_lockout"
                    ]
                    .contains(key),
                "{key}"
            );
        }
        for key in LISTENER_BLOCKS {
            assert!(
                UNSUPPORTED_LISTENER.contains(key)
                    || *key == "telemetry"
                    || crate::listener_http::KEYS.contains(key),
                "{key}"
            );
        }
    }
}
