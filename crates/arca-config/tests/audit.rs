//! The `audit` stanza and `allow_audit_log_prefixing`: every written form (HCL labels, body
//! `type`/`path`, `options` as a map or a block, JSON nested objects and bodies), values as
//! OpenBao's decoder takes them, the errors, and merging across files.

use std::collections::BTreeMap;
use std::path::PathBuf;

use arca_config::{AuditDevice, load_file, load_files, parse_str};

/// A device from its parts; `options` as `key=value` pairs.
fn device(kind: &str, path: &str, description: &str, local: bool, options: &[&str]) -> AuditDevice {
    AuditDevice {
        kind: kind.into(),
        path: path.into(),
        description: description.into(),
        local,
        options: options
            .iter()
            .map(|kv| {
                let (k, v) = kv.split_once('=').expect("key=value");
                (k.to_owned(), v.to_owned())
            })
            .collect::<BTreeMap<_, _>>(),
    }
}

/// The devices `text` declares (as `c.hcl`, or `c.json` when it starts with `{`).
fn devices(text: &str) -> Vec<AuditDevice> {
    let name = if text.trim_start().starts_with('{') {
        "c.json"
    } else {
        "c.hcl"
    };
    match parse_str(text, name) {
        Ok(config) => {
            assert!(config.warnings.is_empty(), "{:?}", config.warnings);
            config.audit_devices
        }
        Err(e) => panic!("{text}\n→ {e}"),
    }
}

/// The error `text` gives (as `c.hcl` / `c.json`).
fn error(text: &str) -> String {
    let name = if text.trim_start().starts_with('{') {
        "c.json"
    } else {
        "c.hcl"
    };
    match parse_str(text, name) {
        Ok(config) => panic!("{text}\n→ expected an error, got {config:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn written_forms_read_the_same() {
    let stdout = device(
        "file",
        "to-stdout",
        "To stdout.",
        false,
        &["file_path=stdout"],
    );
    let cases: &[(&str, Vec<AuditDevice>)] = &[
        // OpenBao's documented HCL form, `options` as a block and as a map.
        (
            "audit \"file\" \"to-stdout\" {\n  description = \"To stdout.\"\n  options {\n    file_path = \"stdout\"\n  }\n}",
            vec![stdout.clone()],
        ),
        (
            "audit \"file\" \"to-stdout\" {\n  description = \"To stdout.\"\n  options = { file_path = \"stdout\" }\n}",
            vec![stdout.clone()],
        ),
        // Type and path in the body, overriding nothing or the labels.
        (
            "audit {\n  type = \"file\"\n  path = \"to-stdout\"\n  description = \"To stdout.\"\n  options = { file_path = \"stdout\" }\n}",
            vec![stdout.clone()],
        ),
        (
            "audit \"file\" { \n path = \"to-stdout/\"\n type = \"file\"\n description = \"To stdout.\"\n options = { file_path = \"stdout\" }\n}",
            vec![stdout.clone()],
        ),
        (
            "audit \"socket\" \"x\" {\n  type = \"file\"\n  path = \"to-stdout\"\n  description = \"To stdout.\"\n  options = { file_path = \"stdout\" }\n}",
            vec![stdout.clone()],
        ),
        // OpenBao's documented JSON form, and its variants.
        (
            r#"{"audit": [{"file": {"to-stdout": {"description": "To stdout.", "options": {"file_path": "stdout"}}}}]}"#,
            vec![stdout.clone()],
        ),
        (
            r#"{"audit": {"file": {"to-stdout": {"description": "To stdout.", "options": {"file_path": "stdout"}}}}}"#,
            vec![stdout.clone()],
        ),
        (
            r#"{"audit": [{"type": "file", "path": "to-stdout", "description": "To stdout.", "options": {"file_path": "stdout"}}]}"#,
            vec![stdout.clone()],
        ),
        // A bare body with only options is a body, not labels.
        (
            r#"{"audit": {"file": {"a": {"options": {"file_path": "stdout"}}}}}"#,
            vec![device("file", "a", "", false, &["file_path=stdout"])],
        ),
        // Several stanzas keep their order; a device needs no body.
        (
            "audit \"syslog\" \"b\" {}\naudit \"file\" \"a\" {\n  local = true\n}\naudit \"socket\" \"c\" {\n  options = {\n    address = \"127.0.0.1:9090\"\n    socket_type = \"tcp\"\n  }\n}",
            vec![
                device("syslog", "b", "", false, &[]),
                device("file", "a", "", true, &[]),
                device(
                    "socket",
                    "c",
                    "",
                    false,
                    &["address=127.0.0.1:9090", "socket_type=tcp"],
                ),
            ],
        ),
        (
            r#"{"audit": [{"syslog": {"b": {}}}, {"file": {"a": {"local": true}}}]}"#,
            vec![
                device("syslog", "b", "", false, &[]),
                device("file", "a", "", true, &[]),
            ],
        ),
        // Integers become their text, as OpenBao's map[string]string decode; null is unset.
        (
            "audit \"file\" \"n\" {\n  description = 5\n  options = {\n    mode = 600\n    neg = -3\n    gone = null\n  }\n}",
            vec![device("file", "n", "5", false, &["mode=600", "neg=-3"])],
        ),
        (
            r#"{"audit": {"file": {"n": {"options": {"mode": 384, "s": "x"}}}}}"#,
            vec![device("file", "n", "", false, &["mode=384", "s=x"])],
        ),
    ];
    for (text, want) in cases {
        assert_eq!(&devices(text), want, "{text}");
    }
}

#[test]
fn errors_name_file_line_and_key() {
    let cases: &[(&str, &str)] = &[
        // OpenBao refuses booleans, floats and collections where it wants a string.
        (
            "audit \"file\" \"a\" {\n  options = {\n    log_raw = true\n  }\n}",
            "c.hcl:3: audit.file.a.options.log_raw: expected a string (or an integer), got true",
        ),
        (
            "audit \"file\" \"a\" {\n  options = { f = 1.5 }\n}",
            "c.hcl:2: audit.file.a.options.f: expected a string (or an integer), got 1.5",
        ),
        (
            "audit \"file\" \"a\" {\n  options = { l = [\"x\"] }\n}",
            "c.hcl:2: audit.file.a.options.l: expected a string (or an integer), got a list",
        ),
        (
            "audit \"file\" \"a\" {\n  options = \"file_path=x\"\n}",
            "c.hcl:2: audit.file.a.options: expected a map of strings, got \"file_path=x\"",
        ),
        (
            "audit \"file\" \"a\" {\n  description = true\n}",
            "c.hcl:2: audit.file.a.description: expected a string (or an integer), got true",
        ),
        (
            "audit \"file\" \"a\" {\n  local = \"maybe\"\n}",
            "c.hcl:2: audit.file.a.local: expected a boolean, got \"maybe\"",
        ),
        // Type and path are required, from the labels or the body.
        (
            "\naudit \"file\" {\n}",
            "c.hcl:2: audit.file: the audit type must be given, as in audit \"file\" \"name\" { ... } or with type = \"...\"",
        ),
        (
            "audit \"file\" \"a\" \"b\" {\n}",
            "c.hcl:1: audit.file.a.b: the audit type must be given, as in audit \"file\" \"name\" { ... } or with type = \"...\"",
        ),
        (
            "audit {\n  type = \"file\"\n}",
            "c.hcl:1: audit: the audit path must be given, as in audit \"file\" \"name\" { ... } or with path = \"...\"",
        ),
        (
            "audit \"file\" \"/\" {\n}",
            "c.hcl:1: audit.file./: the audit path must not be empty",
        ),
        (
            "audit = 5",
            "c.hcl:1: audit: expected a block such as audit \"file\" \"name\" { ... }, got 5",
        ),
        // Two devices on one path, with or without the trailing slash.
        (
            "audit \"file\" \"a\" {\n}\n\naudit \"syslog\" \"a/\" {\n}",
            "c.hcl:4: audit.syslog.a: two audit devices with the same path \"a/\" (the first is on line 1)",
        ),
        (
            "{\n  \"audit\": [\n    {\"file\": {\"a\": {}}},\n    {\"type\": \"socket\", \"path\": \"a\"}\n  ]\n}",
            "c.json:4: audit.socket.a: two audit devices with the same path \"a/\" (the first is on line 3)",
        ),
        // A key set twice in a body.
        (
            "audit \"file\" \"a\" {\n  description = \"x\"\n  description = \"y\"\n}",
            "c.hcl:3: audit.file.a.description: duplicate attribute (first set on line 2)",
        ),
        // The flag is a boolean.
        (
            "allow_audit_log_prefixing = \"sometimes\"",
            "c.hcl:1: allow_audit_log_prefixing: expected a boolean, got \"sometimes\"",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(&error(text), want, "{text}");
    }
}

#[test]
fn unknown_body_keys_warn_and_are_ignored() {
    let config = parse_str(
        "audit \"file\" \"a\" {\n  bogus = 1\n  options = { file_path = \"x\" }\n}",
        "c.hcl",
    )
    .unwrap();
    assert_eq!(
        config.audit_devices,
        vec![device("file", "a", "", false, &["file_path=x"])]
    );
    assert_eq!(
        config.warnings,
        vec!["c.hcl:2: audit.file.a.bogus: unknown key; ignored".to_owned()]
    );
}

#[test]
fn audit_flags_are_read_and_default_off() {
    let config = parse_str("", "c.hcl").unwrap();
    assert!(!config.allow_audit_log_prefixing);
    assert_eq!(config.unsafe_allow_api_audit_creation, None);
    assert!(config.audit_devices.is_empty());
    let config = parse_str(
        "allow_audit_log_prefixing = true\nunsafe_allow_api_audit_creation = true",
        "c.hcl",
    )
    .unwrap();
    assert!(config.allow_audit_log_prefixing);
    assert_eq!(config.unsafe_allow_api_audit_creation, Some(true));
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    let config = parse_str(r#"{"allow_audit_log_prefixing": "true"}"#, "c.json").unwrap();
    assert!(config.allow_audit_log_prefixing);
}

/// A temporary directory holding `files` (name, text).
fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("temporary directory");
    for (name, text) in files {
        std::fs::write(tmp.path().join(name), text).expect("write a config file");
    }
    tmp
}

#[test]
fn directory_merge_appends_devices_and_refuses_a_shared_path() {
    let tmp = dir_with(&[
        ("a.hcl", "audit \"file\" \"one\" {\n}\n"),
        (
            "b.json",
            r#"{"audit": {"syslog": {"two": {}}}, "allow_audit_log_prefixing": true}"#,
        ),
        ("c.hcl", "allow_audit_log_prefixing = false\n"),
    ]);
    let config = load_file(tmp.path()).unwrap();
    assert_eq!(
        config.audit_devices,
        vec![
            device("file", "one", "", false, &[]),
            device("syslog", "two", "", false, &[]),
        ]
    );
    assert!(!config.allow_audit_log_prefixing, "c.hcl sets it back");

    let tmp = dir_with(&[
        ("a.hcl", "\naudit \"file\" \"one\" {\n}\n"),
        (
            "b.hcl",
            "audit \"socket\" \"two\" {\n}\naudit \"syslog\" \"one\" {\n}\n",
        ),
    ]);
    let err = load_file(tmp.path()).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}:3: audit.syslog.one: two audit devices with the same path \"one/\" (the first is at {}:2)",
            tmp.path().join("b.hcl").display(),
            tmp.path().join("a.hcl").display(),
        )
    );
}

#[test]
fn several_config_paths_merge_as_a_directory_does() {
    let a = dir_with(&[("a.hcl", "audit \"file\" \"one\" {\n}\nui = true\n")]);
    let b = dir_with(&[("b.hcl", "audit \"file\" \"two\" {\n}\n")]);
    let paths: Vec<PathBuf> = vec![a.path().join("a.hcl"), b.path().to_owned()];
    let config = load_files(&paths).unwrap();
    let paths_of: Vec<&str> = config
        .audit_devices
        .iter()
        .map(|d| d.path.as_str())
        .collect();
    assert_eq!(paths_of, vec!["one", "two"]);
    assert!(config.ui);

    let c = dir_with(&[("c.hcl", "audit \"file\" \"one\" {\n}\n")]);
    let err = load_files(&[a.path().join("a.hcl"), c.path().join("c.hcl")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("two audit devices with the same path \"one/\""),
        "{err}"
    );
}
