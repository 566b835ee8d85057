//! End-to-end tests of arca-config's public API: whole configs in HCL and JSON, the `backend`
//! alias, listener defaults, every error kind's message, durations and directory merging.

use std::path::{Path, PathBuf};
use std::time::Duration;

use arca_config::{
    ClientCertMode, ConfigError, DEFAULT_MAX_REQUEST_SIZE, ServerConfig, load_file, parse_duration,
    parse_str,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Parses `text` as `config.hcl` (or `config.json` when it starts with `{`) and returns the
/// error message.
fn error_of(text: &str) -> String {
    let name = if text.trim_start().starts_with('{') {
        "config.json"
    } else {
        "config.hcl"
    };
    match parse_str(text, name) {
        Ok(config) => panic!("expected an error, got {config:?}"),
        Err(err) => err.to_string(),
    }
}

/// The checks shared by the HCL and JSON forms of the full fixture.
fn assert_full(config: &ServerConfig, file: &str) {
    let storage = config.storage.as_ref().expect("storage");
    assert_eq!(storage.kind, "file");
    assert_eq!(storage.option("path"), Some("/var/lib/arca/data"));
    assert_eq!(storage.options.len(), 1);

    assert_eq!(config.listeners.len(), 2);
    let tls = &config.listeners[0];
    assert_eq!(tls.kind, "tcp");
    assert_eq!(tls.address, "0.0.0.0:8200");
    assert_eq!(tls.cluster_address.as_deref(), Some("0.0.0.0:8201"));
    assert!(!tls.tls_disable);
    assert_eq!(
        tls.tls_cert_file.as_deref(),
        Some(Path::new("/etc/arca/tls/server.crt"))
    );
    assert_eq!(
        tls.tls_key_file.as_deref(),
        Some(Path::new("/etc/arca/tls/server.key"))
    );
    assert_eq!(
        tls.tls_client_ca_file.as_deref(),
        Some(Path::new("/etc/arca/tls/clients-ca.pem"))
    );
    assert_eq!(tls.tls_min_version, "tls13");
    assert_eq!(tls.tls_max_version, None);
    assert_eq!(tls.max_request_size, 1_048_576);
    assert_eq!(tls.max_request_size_bytes(), Some(1_048_576));
    assert_eq!(tls.max_request_duration, Duration::from_secs(30));
    assert_eq!(tls.client_cert_mode(), ClientCertMode::Requested);

    let plain = &config.listeners[1];
    assert_eq!(plain.address, "127.0.0.1:8210");
    assert!(plain.tls_disable);
    assert_eq!(plain.client_cert_mode(), ClientCertMode::Disabled);

    assert_eq!(
        config.api_addr.as_deref(),
        Some("https://arca.example.com:8200")
    );
    assert_eq!(
        config.cluster_addr.as_deref(),
        Some("https://arca-1.internal:8201")
    );
    assert_eq!(config.cluster_name.as_deref(), Some("arca-prod"));
    assert!(config.ui);
    assert!(config.disable_mlock);
    assert_eq!(
        config.default_lease_ttl,
        Some(Duration::from_secs(768 * 3600))
    );
    assert_eq!(config.max_lease_ttl, Some(Duration::from_secs(768 * 3600)));
    assert_eq!(config.log_level.as_deref(), Some("warn"));
    assert_eq!(config.log_format.as_deref(), Some("json"));
    assert_eq!(
        config.plugin_directory.as_deref(),
        Some(Path::new("/usr/local/lib/arca/plugins"))
    );
    assert_eq!(config.pid_file.as_deref(), Some(Path::new("/run/arca.pid")));
    assert!(!config.disable_cache);
    assert!(config.raw_storage_endpoint);
    assert!(config.introspection_endpoint);
    assert_eq!(config.unsafe_allow_api_audit_creation, Some(false));
    assert_eq!(config.disable_unauthed_rekey_endpoints, Some(true));
    assert_eq!(config.disable_unauthed_generate_root_endpoints, Some(true));

    // Every ignored key is reported once, with the file and a line.
    let keys: Vec<&str> = config
        .warnings
        .iter()
        .map(|w| {
            assert!(w.starts_with(&format!("{file}:")), "{w}");
            w.split(": ").nth(1).unwrap_or_default()
        })
        .collect();
    assert_eq!(
        keys,
        vec!["listener.tcp.http_idle_timeout", "some_future_setting"],
        "{:#?}",
        config.warnings
    );
    assert!(config.warnings[1].ends_with("unknown key; ignored"));
    // The `telemetry` stanza and the listener's `telemetry` block are read.
    let telemetry = config.telemetry.as_ref().expect("telemetry");
    assert_eq!(
        telemetry.prometheus_retention_time,
        Some(Duration::from_secs(30))
    );
    assert!(telemetry.disable_hostname);
    assert_eq!(telemetry.usage_gauge_period, Some(Duration::from_secs(600)));
    assert!(config.listeners[0].telemetry.unauthenticated_metrics_access);
    assert!(!config.listeners[1].telemetry.unauthenticated_metrics_access);
    // The `seal "transit"` stanza is read, not ignored.
    assert_eq!(config.seals.len(), 1, "{:?}", config.seals);
    assert_eq!(config.seals[0].kind, "transit");
    assert_eq!(config.seals[0].config["key_name"], "autounseal");
    assert_eq!(config.seals[0].config["mount_path"], "transit/");
    assert!(!config.seals[0].disabled());
}

#[test]
fn full_hcl_config() {
    let path = fixture("full.hcl");
    let config = load_file(&path).unwrap();
    let file = path.display().to_string();
    assert_full(&config, &file);
    assert_eq!(
        config.warnings[0],
        format!("{file}:18: listener.tcp.http_idle_timeout: not supported by Arca yet; ignored")
    );
    assert_eq!(
        config.warnings[1],
        format!("{file}:61: some_future_setting: unknown key; ignored")
    );
}

#[test]
fn full_json_config_reads_the_same() {
    let path = fixture("full.json");
    let config = load_file(&path).unwrap();
    let file = path.display().to_string();
    assert_full(&config, &file);
    assert_eq!(
        config.warnings[0],
        format!("{file}:18: listener.tcp.http_idle_timeout: not supported by Arca yet; ignored")
    );

    let hcl = load_file(&fixture("full.hcl")).unwrap();
    assert_eq!(hcl.listeners, config.listeners);
    assert_eq!(hcl.storage, config.storage);
}

#[test]
fn backend_is_the_older_name_of_storage() {
    let config = load_file(&fixture("backend.hcl")).unwrap();
    let storage = config.storage.unwrap();
    assert_eq!(storage.kind, "raft");
    assert_eq!(storage.option("path"), Some("/var/lib/arca/raft"));
    assert_eq!(storage.option("node_id"), Some("node-1"));
    // Non-strings become their text, nested blocks JSON, as Vault's map[string]string.
    assert_eq!(storage.option("performance_multiplier"), Some("1"));
    assert_eq!(storage.option("autopilot_reconcile"), Some("true"));
    let retry_join: serde_json::Value =
        serde_json::from_str(storage.option("retry_join").unwrap()).unwrap();
    assert_eq!(
        retry_join,
        serde_json::json!([
            {"leader_api_addr": "https://node-2:8200"},
            {"leader_api_addr": "https://node-3:8200"}
        ])
    );
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);

    let json = parse_str(
        r#"{"backend": {"file": {"path": "/data", "max_entry_size": 1024}}}"#,
        "c.json",
    )
    .unwrap();
    let storage = json.storage.unwrap();
    assert_eq!(storage.kind, "file");
    assert_eq!(storage.option("max_entry_size"), Some("1024"));
}

#[test]
fn listener_defaults_follow_vault() {
    let config = load_file(&fixture("backend.hcl")).unwrap();
    let listener = &config.listeners[0];
    assert_eq!(listener.kind, "tcp");
    assert_eq!(listener.address, "127.0.0.1:8200");
    assert!(!listener.tls_disable, "TLS is on unless disabled");
    assert_eq!(listener.tls_min_version, "tls12");
    assert_eq!(listener.tls_max_version, None);
    assert!(!listener.tls_require_and_verify_client_cert);
    assert!(!listener.tls_disable_client_certs);
    assert_eq!(listener.tls_client_ca_file, None);
    assert_eq!(listener.max_request_size, DEFAULT_MAX_REQUEST_SIZE);
    assert_eq!(listener.max_request_size_bytes(), Some(33_554_432));
    assert_eq!(listener.max_request_duration, Duration::from_secs(90));
    assert_eq!(listener.cluster_address, None);
    // A TLS listener asks for a client certificate without requiring one.
    assert_eq!(listener.client_cert_mode(), ClientCertMode::Requested);

    // The struct's own Default agrees with the parsed defaults, apart from the cert files.
    let mut expected = arca_config::ListenerConfig {
        tls_cert_file: listener.tls_cert_file.clone(),
        tls_key_file: listener.tls_key_file.clone(),
        ..Default::default()
    };
    assert_eq!(&expected, listener);
    expected.tls_require_and_verify_client_cert = true;
    assert_eq!(expected.client_cert_mode(), ClientCertMode::Required);
    expected.tls_require_and_verify_client_cert = false;
    expected.tls_disable_client_certs = true;
    assert_eq!(expected.client_cert_mode(), ClientCertMode::Disabled);
}

fn listener_of(body: &str) -> arca_config::ListenerConfig {
    let text = format!("listener \"tcp\" {{\n{body}\n}}\n");
    match parse_str(&text, "config.hcl") {
        Ok(mut config) => config.listeners.remove(0),
        Err(err) => panic!("{err}"),
    }
}

#[test]
fn max_request_size_zero_is_default_and_negative_is_unlimited() {
    let zero = listener_of("tls_disable = true\nmax_request_size = 0");
    assert_eq!(zero.max_request_size, DEFAULT_MAX_REQUEST_SIZE);
    assert_eq!(zero.max_request_size_bytes(), Some(33_554_432));
    let unlimited = listener_of("tls_disable = true\nmax_request_size = -1");
    assert_eq!(unlimited.max_request_size, -1);
    assert_eq!(unlimited.max_request_size_bytes(), None);
    let as_string = listener_of("tls_disable = true\nmax_request_size = \"2048\"");
    assert_eq!(as_string.max_request_size_bytes(), Some(2048));
    let zero_duration = listener_of("tls_disable = true\nmax_request_duration = 0");
    assert_eq!(zero_duration.max_request_duration, Duration::from_secs(90));
    let seconds = listener_of("tls_disable = true\nmax_request_duration = 120");
    assert_eq!(seconds.max_request_duration, Duration::from_secs(120));
}

#[test]
fn tls_disable_accepts_vaults_spellings() {
    for (value, want) in [
        ("true", true),
        ("\"true\"", true),
        ("1", true),
        ("\"1\"", true),
        ("false", false),
        ("\"false\"", false),
        ("0", false),
        ("\"0\"", false),
    ] {
        let body = format!("tls_disable = {value}\ntls_cert_file = \"c\"\ntls_key_file = \"k\"");
        assert_eq!(
            listener_of(&body).tls_disable,
            want,
            "tls_disable = {value}"
        );
    }
    let json = parse_str(
        r#"{"listener": {"tcp": {"tls_disable": "1"}}}"#,
        "config.json",
    )
    .unwrap();
    assert!(json.listeners[0].tls_disable);
}

#[test]
fn tls_versions_and_client_cert_settings() {
    let l = listener_of(
        "tls_cert_file = \"c\"\ntls_key_file = \"k\"\ntls_max_version = \"tls13\"\ntls_require_and_verify_client_cert = \"true\"",
    );
    assert_eq!(l.tls_max_version.as_deref(), Some("tls13"));
    assert_eq!(l.client_cert_mode(), ClientCertMode::Required);
}

/// Each error kind names the file, the line and the key.
#[test]
fn errors_name_file_line_and_key() {
    let cases: &[(&str, &str)] = &[
        // Wrong types on known keys.
        (
            "storage \"file\" {\n  path = \"/x\"\n}\n\nlistener \"tcp\" {\n  tls_disable = true\n  max_request_size = \"abc\"\n}\n",
            "config.hcl:7: listener.tcp.max_request_size: expected an integer, got \"abc\"",
        ),
        (
            "ui = \"maybe\"",
            "config.hcl:1: ui: expected a boolean, got \"maybe\"",
        ),
        (
            "\napi_addr = 8200",
            "config.hcl:2: api_addr: expected a string, got 8200",
        ),
        (
            "listener \"tcp\" {\n  tls_disable = 2\n}",
            "config.hcl:2: listener.tcp.tls_disable: expected a boolean, got 2",
        ),
        (
            "max_lease_ttl = \"10 years\"",
            "config.hcl:1: max_lease_ttl: time: unknown unit \" years\" in duration \"10 years\"",
        ),
        (
            "default_lease_ttl = [1]",
            "config.hcl:1: default_lease_ttl: expected a duration (seconds, or a string such as \"30s\" or \"1h30m\"), got a list",
        ),
        (
            "ui {\n}",
            "config.hcl:1: ui: expected an attribute (key = value), not a block",
        ),
        (
            "log_level = \"verbose\"",
            "config.hcl:1: log_level: unknown log level \"verbose\"; expected trace, debug, info, warn or error",
        ),
        (
            "log_format = \"xml\"",
            "config.hcl:1: log_format: unknown log format \"xml\"; expected standard or json",
        ),
        // Storage rules.
        (
            "storage \"file\" {\n  path = \"/a\"\n}\nstorage \"raft\" {\n  path = \"/b\"\n}\n",
            "config.hcl:4: storage.raft: only one storage block is allowed (the first is on line 1)",
        ),
        (
            "backend \"file\" {\n  path = \"/a\"\n}\n\nstorage \"file\" {\n  path = \"/b\"\n}\n",
            "config.hcl:5: storage.file: only one storage block is allowed (the first is on line 1)",
        ),
        (
            "storage {\n  path = \"/a\"\n}",
            "config.hcl:1: storage: expected exactly one label (the storage type), e.g. storage \"name\" { ... }",
        ),
        (
            "storage = \"file\"",
            "config.hcl:1: storage: expected a block keyed by the storage type, got \"file\"",
        ),
        // Duplicates.
        (
            "ui = true\ndisable_mlock = true\nui = false\n",
            "config.hcl:3: ui: duplicate attribute (first set on line 1)",
        ),
        (
            "listener \"tcp\" {\n  address = \"a:1\"\n  tls_disable = true\n  address = \"b:2\"\n}",
            "config.hcl:4: listener.tcp.address: duplicate attribute (first set on line 2)",
        ),
        (
            "storage \"file\" {\n  path = \"/a\"\n  path = \"/b\"\n}",
            "config.hcl:3: storage.file.path: duplicate attribute (first set on line 2)",
        ),
        // Listener rules.
        (
            "\nlistener \"unix\" {\n  address = \"/run/arca.sock\"\n}",
            "config.hcl:2: listener.unix: unix socket listeners are not supported yet; use listener \"tcp\"",
        ),
        (
            "listener \"udp\" {\n}",
            "config.hcl:1: listener.udp: unknown listener type; only \"tcp\" is supported",
        ),
        (
            "listener \"tcp\" {\n  tls_cert_file = \"c\"\n  tls_key_file = \"k\"\n  tls_min_version = \"tls11\"\n}",
            "config.hcl:4: listener.tcp.tls_min_version: tls11 is not supported: rustls supports tls12 and tls13 only",
        ),
        (
            "listener \"tcp\" {\n  tls_cert_file = \"c\"\n  tls_key_file = \"k\"\n  tls_max_version = \"tls10\"\n}",
            "config.hcl:4: listener.tcp.tls_max_version: tls10 is not supported: rustls supports tls12 and tls13 only",
        ),
        (
            "listener \"tcp\" {\n  tls_cert_file = \"c\"\n  tls_key_file = \"k\"\n  tls_min_version = \"ssl3\"\n}",
            "config.hcl:4: listener.tcp.tls_min_version: unknown TLS version \"ssl3\"; expected tls12 or tls13",
        ),
        (
            "listener \"tcp\" {\n  tls_cert_file = \"c\"\n  tls_key_file = \"k\"\n  tls_min_version = \"tls13\"\n  tls_max_version = \"tls12\"\n}",
            "config.hcl:5: listener.tcp.tls_max_version: tls12 is lower than tls_min_version tls13",
        ),
        (
            "listener \"tcp\" {\n  tls_cert_file = \"c\"\n  tls_key_file = \"k\"\n  tls_require_and_verify_client_cert = true\n  tls_disable_client_certs = true\n}",
            "config.hcl:5: listener.tcp.tls_disable_client_certs: tls_disable_client_certs and tls_require_and_verify_client_cert are mutually exclusive",
        ),
        (
            "ui = true\nlistener \"tcp\" {\n  address = \"0.0.0.0:8200\"\n}",
            "config.hcl:2: listener.tcp.tls_cert_file: required when TLS is enabled (set tls_disable = true to serve plain HTTP)",
        ),
        (
            "listener \"tcp\" {\n  tls_cert_file = \"c\"\n}",
            "config.hcl:1: listener.tcp.tls_key_file: required when TLS is enabled (set tls_disable = true to serve plain HTTP)",
        ),
        // Cross-key rule.
        (
            "max_lease_ttl = \"1h\"\ndefault_lease_ttl = \"2h\"",
            "config.hcl:2: default_lease_ttl: must not exceed max_lease_ttl (7200s > 3600s)",
        ),
        (
            "default_lease_ttl = \"769h\"",
            "config.hcl:1: default_lease_ttl: must not exceed max_lease_ttl (2768400s > 2764800s)",
        ),
        // JSON: lines come from the member's key.
        (
            "{\n  \"listener\": {\n    \"tcp\": {\n      \"tls_disable\": true,\n      \"max_request_size\": \"abc\"\n    }\n  }\n}",
            "config.json:5: listener.tcp.max_request_size: expected an integer, got \"abc\"",
        ),
        (
            "{\n  \"ui\": true,\n  \"ui\": false\n}",
            "config.json:3: ui: duplicate attribute (first set on line 2)",
        ),
        (
            "{\n  \"storage\": {\n    \"file\": {\"path\": \"/a\"},\n    \"raft\": {\"path\": \"/b\"}\n  }\n}",
            "config.json:4: storage.raft: only one storage block is allowed (the first is on line 3)",
        ),
        (
            "{\n  \"listener\": [\n    {\"tcp\": \"0.0.0.0:8200\"}\n  ]\n}",
            "config.json:3: listener.tcp: expected an object, got \"0.0.0.0:8200\"",
        ),
        // Syntax errors: file, line and column.
        (
            "ui = true\nlistener \"tcp\" {\n  address = \"a\" \"b\"\n}\n",
            "config.hcl:3:17: expected newline or eof",
        ),
        (
            "{\n  \"ui\": true,\n  \"x\": [1 2]\n}",
            "config.json:3:11: expected `,` or `]`",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(&error_of(text), want, "config:\n{text}");
    }
}

#[test]
fn error_kinds_are_typed() {
    let err = parse_str("ui = \"maybe\"", "config.hcl").unwrap_err();
    match err {
        ConfigError::Invalid { location, key, .. } => {
            assert_eq!(location.file, "config.hcl");
            assert_eq!(location.line, Some(1));
            assert_eq!(key, "ui");
        }
        other => panic!("unexpected {other:?}"),
    }
    let err = parse_str("ui = = true", "config.hcl").unwrap_err();
    assert!(
        matches!(err, ConfigError::Syntax { line: 1, .. }),
        "{err:?}"
    );
    let missing = fixture("does-not-exist.hcl");
    let err = load_file(&missing).unwrap_err();
    assert!(matches!(err, ConfigError::Io { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("{}: ", missing.display())),
        "{err}"
    );
}

#[test]
fn null_leaves_a_key_unset() {
    let config = parse_str(r#"{"api_addr": null, "ui": null}"#, "c.json").unwrap();
    assert_eq!(config.api_addr, None);
    assert!(!config.ui);
}

#[test]
fn empty_config_is_empty() {
    let config = parse_str("# nothing here\n", "c.hcl").unwrap();
    assert!(config.storage.is_none());
    assert!(config.listeners.is_empty());
    assert!(config.warnings.is_empty());
}

#[test]
fn durations_table() {
    let table: &[(&str, Option<Duration>)] = &[
        ("30", Some(Duration::from_secs(30))),
        ("30s", Some(Duration::from_secs(30))),
        ("1h30m", Some(Duration::from_secs(5400))),
        ("768h", Some(Duration::from_secs(768 * 3600))),
        ("1.5h", Some(Duration::from_secs(5400))),
        ("100ms", Some(Duration::from_millis(100))),
        ("2h45m30.5s", Some(Duration::from_millis(9_930_500))),
        ("7d", Some(Duration::from_secs(7 * 86_400))),
        ("0", Some(Duration::ZERO)),
        ("", Some(Duration::ZERO)),
        ("1h30", None),
        ("1d12h", None),
        ("-1s", None),
        ("ten", None),
        ("5 minutes", None),
    ];
    for (input, want) in table {
        assert_eq!(parse_duration(input).ok(), *want, "{input:?}");
    }
}

#[test]
fn directory_merges_in_name_order() {
    let dir = fixture("dir");
    let config = load_file(&dir).unwrap();
    // 20-override.json replaces the storage stanza of 10-base.hcl ...
    let storage = config.storage.unwrap();
    assert_eq!(storage.option("path"), Some("/var/lib/arca/new"));
    // ... listeners append ...
    let addresses: Vec<&str> = config
        .listeners
        .iter()
        .map(|l| l.address.as_str())
        .collect();
    assert_eq!(addresses, vec!["127.0.0.1:8200", "127.0.0.1:8300"]);
    // ... later scalars override, unset ones keep the earlier value ...
    assert_eq!(config.log_level.as_deref(), Some("debug"));
    assert_eq!(config.api_addr.as_deref(), Some("http://127.0.0.1:8200"));
    assert_eq!(config.default_lease_ttl, Some(Duration::from_secs(3600)));
    assert_eq!(config.max_lease_ttl, Some(Duration::from_secs(7200)));
    // ... including booleans set back to false by a later file.
    assert!(!config.ui, "30-flags.hcl sets ui = false");
    assert!(config.disable_mlock);
    // README.txt, the editor backup and the lock file were skipped (they would not parse).
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
}

#[test]
fn directory_errors_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("a.hcl"), "ui = true\n").unwrap();
    std::fs::write(tmp.path().join("b.json"), "{\n  \"ui\": \"nope\"\n}\n").unwrap();
    let err = load_file(tmp.path()).unwrap_err().to_string();
    let file = tmp.path().join("b.json");
    assert_eq!(
        err,
        format!("{}:2: ui: expected a boolean, got \"nope\"", file.display())
    );
}

#[test]
fn directory_checks_lease_ttls_after_merging() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("a.hcl"), "default_lease_ttl = \"2h\"\n").unwrap();
    std::fs::write(tmp.path().join("b.hcl"), "max_lease_ttl = \"1h\"\n").unwrap();
    let err = load_file(tmp.path()).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}: default_lease_ttl: must not exceed max_lease_ttl (7200s > 3600s)",
            tmp.path().display()
        )
    );
}

#[test]
fn empty_directory_warns() {
    let tmp = tempfile::tempdir().unwrap();
    let config = load_file(tmp.path()).unwrap();
    assert!(config.storage.is_none());
    assert_eq!(config.warnings.len(), 1);
    assert!(config.warnings[0].contains("no .hcl or .json config files"));
}

#[test]
fn debug_output_hides_storage_secrets() {
    let config = parse_str(
        "storage \"consul\" {\n  path = \"arca/\"\n  token = \"s.very-secret\"\n}",
        "c.hcl",
    )
    .unwrap();
    let shown = format!("{config:?}");
    assert!(!shown.contains("very-secret"), "{shown}");
    assert!(shown.contains("arca/"), "{shown}");
    assert_eq!(
        config.storage.unwrap().option("token"),
        Some("s.very-secret")
    );
}
