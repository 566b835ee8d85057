//! The `telemetry` stanza and the listener's `telemetry` block: OpenBao's defaults, its
//! texts for bad values, and the same reading of HCL and JSON.

use std::time::Duration;

use arca_config::{DEFAULT_PROMETHEUS_RETENTION, TelemetryConfig, parse_str};

const LISTENER: &str = "listener \"tcp\" {\n  tls_disable = true\n}\n";

fn telemetry(body: &str) -> Option<TelemetryConfig> {
    let text = format!("{LISTENER}{body}");
    parse_str(&text, "c.hcl").expect("config").telemetry
}

fn error_of(text: &str, name: &str) -> String {
    match parse_str(text, name) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults_as_openbao() {
    // No stanza: no Prometheus (OpenBao's empty `Telemetry`).
    assert_eq!(telemetry(""), None);
    assert_eq!(TelemetryConfig::absent().prometheus_retention_time, None);
    // An empty stanza: 24h retention, usage gauges every 10m, hostname kept.
    let t = telemetry("telemetry {}\n").expect("stanza");
    assert_eq!(
        t.prometheus_retention_time,
        Some(DEFAULT_PROMETHEUS_RETENTION)
    );
    assert_eq!(t.usage_gauge_period, Some(Duration::from_secs(600)));
    assert!(!t.disable_hostname);
    assert_eq!(t.maximum_gauge_cardinality, 500);
    assert_eq!(t.num_lease_metrics_buckets, 168);
}

#[test]
fn values_are_read_as_openbao() {
    let t = telemetry(
        "telemetry {\n  prometheus_retention_time = 0\n  usage_gauge_period = \"none\"\n  statsd_address = \"127.0.0.1:8125\"\n  dogstatsd_addr = \"localhost:8125\"\n  dogstatsd_tags = [\"a:b\", \"c\"]\n  metrics_prefix = \"arca\"\n  enable_hostname_label = \"true\"\n  prefix_filter = [\"-vault.expire\", \"+vault.expire.num_leases\"]\n  filter_default = false\n}\n",
    )
    .expect("stanza");
    assert_eq!(t.prometheus_retention_time, None);
    assert_eq!(t.usage_gauge_period, None);
    assert_eq!(t.statsd_address.as_deref(), Some("127.0.0.1:8125"));
    assert_eq!(t.dogstatsd_addr.as_deref(), Some("localhost:8125"));
    assert_eq!(t.dogstatsd_tags, vec!["a:b", "c"]);
    assert_eq!(t.metrics_prefix.as_deref(), Some("arca"));
    assert!(t.enable_hostname_label);
    assert_eq!(t.filter_default, Some(false));
    assert_eq!(
        t.prefix_rules(),
        (
            vec!["vault.expire.num_leases".to_string()],
            vec!["vault.expire".to_string()]
        )
    );
    // Seconds as a number, or a duration string.
    let t = telemetry("telemetry {\n  prometheus_retention_time = 90\n}\n").expect("stanza");
    assert_eq!(t.prometheus_retention_time, Some(Duration::from_secs(90)));
}

#[test]
fn json_reads_the_same() {
    let json = r#"{"listener": {"tcp": {"tls_disable": true, "telemetry": {"unauthenticated_metrics_access": "true", "disallow_metrics": false}}},
        "telemetry": {"prometheus_retention_time": "1h", "disable_hostname": true, "statsd_address": "127.0.0.1:9"}}"#;
    let c = parse_str(json, "c.json").expect("config");
    let t = c.telemetry.expect("telemetry");
    assert_eq!(t.prometheus_retention_time, Some(Duration::from_secs(3600)));
    assert!(t.disable_hostname);
    assert_eq!(t.statsd_address.as_deref(), Some("127.0.0.1:9"));
    assert!(c.listeners[0].telemetry.unauthenticated_metrics_access);
    assert!(!c.listeners[0].telemetry.disallow_metrics);
}

#[test]
fn bad_values_carry_openbaos_words() {
    let cases = [
        (
            "telemetry {\n  prometheus_retention_time = \"bogus\"\n}\n",
            "c.hcl:5: telemetry.prometheus_retention_time: time: invalid duration \"bogus\"",
        ),
        (
            "telemetry {\n  disable_hostname = true\n}\ntelemetry {\n  disable_hostname = true\n}\n",
            "only one 'telemetry' block is permitted",
        ),
        (
            "telemetry {\n  prefix_filter = [\"x\"]\n}\n",
            "filter rule must begin with either '+' or '-': \"x\"",
        ),
        (
            "telemetry {\n  prefix_filter = [\"\"]\n}\n",
            "cannot have empty filter rule in prefix_filter",
        ),
        (
            "telemetry {\n  disable_hostname = \"yes\"\n}\n",
            "expected a boolean",
        ),
    ];
    for (body, want) in cases {
        let e = error_of(&format!("{LISTENER}{body}"), "c.hcl");
        assert!(e.contains(want), "{e:?} lacks {want:?}");
    }
    let e = error_of(
        "listener \"tcp\" {\n  tls_disable = true\n  telemetry {\n    unauthenticated_metrics_access = \"maybe\"\n  }\n}\n",
        "c.hcl",
    );
    assert!(
        e.contains("invalid value for telemetry.unauthenticated_metrics_access: cannot parse '' as bool: strconv.ParseBool: parsing \"maybe\": invalid syntax"),
        "{e}"
    );
}

#[test]
fn unknown_and_unsupported_keys_warn() {
    let c = parse_str(
        &format!("{LISTENER}telemetry {{\n  circonus_api_token = \"x\"\n  nonsense = 1\n}}\n"),
        "c.hcl",
    )
    .expect("config");
    assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
    assert!(c.warnings[0].contains("telemetry.circonus_api_token: not supported by Arca"));
    assert!(c.warnings[1].contains("telemetry.nonsense: unknown key; ignored"));
}

#[test]
fn a_later_file_replaces_the_stanza() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("a.hcl"),
        format!("{LISTENER}telemetry {{\n  disable_hostname = true\n}}\n"),
    )
    .expect("a");
    std::fs::write(
        dir.path().join("b.hcl"),
        "telemetry {\n  prometheus_retention_time = \"1m\"\n}\n",
    )
    .expect("b");
    let c = arca_config::load_file(dir.path()).expect("config");
    let t = c.telemetry.expect("telemetry");
    assert_eq!(t.prometheus_retention_time, Some(Duration::from_secs(60)));
    assert!(!t.disable_hostname);
}
