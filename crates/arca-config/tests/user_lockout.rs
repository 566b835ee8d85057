//! The `user_lockout` stanza, held to what OpenBao 2.7.2 (`bao server -config=...`, read back
//! through `sys/config/state/sanitized`) accepts and refuses: the HCL and JSON forms, the type
//! label or body `type`, values as OpenBao's decoder takes them, each error text, and merging
//! across files.

use std::collections::BTreeMap;
use std::time::Duration;

use arca_config::{UserLockout, load_files, parse_str};

/// The stanzas `text` declares (as `c.hcl`, or `c.json` when it starts with `{`).
fn lockouts(text: &str) -> BTreeMap<String, UserLockout> {
    let name = if text.trim_start().starts_with('{') {
        "c.json"
    } else {
        "c.hcl"
    };
    match parse_str(text, name) {
        Ok(config) => {
            assert!(config.warnings.is_empty(), "{:?}", config.warnings);
            config.user_lockouts
        }
        Err(e) => panic!("{text}\n→ {e}"),
    }
}

/// The one stanza `text` declares, for type `kind`.
fn only(text: &str, kind: &str) -> UserLockout {
    let map = lockouts(text);
    assert_eq!(map.keys().collect::<Vec<_>>(), vec![kind], "{text}");
    map[kind]
}

/// The error message for `text` (as `c.hcl`, or `c.json` when it starts with `{`).
fn error_of(text: &str) -> String {
    let name = if text.trim_start().starts_with('{') {
        "c.json"
    } else {
        "c.hcl"
    };
    match parse_str(text, name) {
        Ok(config) => panic!("expected an error for {text}, got {config:?}"),
        Err(err) => err.to_string(),
    }
}

fn mins(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

fn lockout(
    threshold: Option<u64>,
    duration: Option<Duration>,
    reset: Option<Duration>,
    disable: Option<bool>,
) -> UserLockout {
    UserLockout {
        lockout_threshold: threshold,
        lockout_duration: duration,
        lockout_counter_reset: reset,
        disable_lockout: disable,
    }
}

#[test]
fn hcl_form_keeps_what_each_stanza_sets() {
    // OpenBao's own config test, with a label in capitals.
    let map = lockouts(
        r#"
user_lockout "all" {
  lockout_duration      = "40m"
  lockout_counter_reset = "45m"
  disable_lockout       = "false"
}
user_lockout "userpass" {
  lockout_threshold = "100"
  lockout_duration  = "20m"
}
user_lockout "LDAP" { disable_lockout = "true" }
"#,
    );
    assert_eq!(
        map.keys().collect::<Vec<_>>(),
        vec!["all", "ldap", "userpass"]
    );
    assert_eq!(
        map["all"],
        lockout(None, Some(mins(40)), Some(mins(45)), Some(false))
    );
    assert_eq!(
        map["userpass"],
        lockout(Some(100), Some(mins(20)), None, None)
    );
    assert_eq!(map["ldap"], lockout(None, None, None, Some(true)));
}

#[test]
fn resolution_matches_openbaos_filled_in_values() {
    // What bao 2.7.2 reports in sys/config/state/sanitized for the config above.
    let config = parse_str(
        r#"
user_lockout "all" {
  lockout_duration      = "40m"
  lockout_counter_reset = "45m"
  disable_lockout       = "false"
}
user_lockout "userpass" {
  lockout_threshold = "100"
  lockout_duration  = "20m"
}
user_lockout "ldap" { disable_lockout = "true" }
"#,
        "c.hcl",
    )
    .unwrap();
    let all = Some(mins(40));
    let reset = Some(mins(45));
    assert_eq!(
        config.user_lockout_for("all"),
        lockout(Some(5), all, reset, Some(false))
    );
    assert_eq!(
        config.user_lockout_for("userpass"),
        lockout(Some(100), Some(mins(20)), reset, Some(false))
    );
    assert_eq!(
        config.user_lockout_for("ldap"),
        lockout(Some(5), all, reset, Some(true))
    );
    assert_eq!(
        config.user_lockout_for("approle"),
        lockout(Some(5), all, reset, Some(false))
    );
    // No stanza at all: OpenBao's defaults.
    let empty = parse_str("", "c.hcl").unwrap();
    assert!(empty.user_lockouts.is_empty());
    assert_eq!(
        empty.user_lockout_for("userpass"),
        lockout(Some(5), Some(mins(15)), Some(mins(15)), Some(false))
    );
}

#[test]
fn the_brief_example_reads() {
    assert_eq!(
        only(
            r#"user_lockout "all" {
  lockout_threshold = "25"
  lockout_duration = "5m"
  lockout_counter_reset = "5m"
  disable_lockout = "false"
}"#,
            "all"
        ),
        lockout(Some(25), Some(mins(5)), Some(mins(5)), Some(false))
    );
}

#[test]
fn body_type_names_the_stanza_and_wins_over_the_label() {
    assert_eq!(
        only(
            "user_lockout {\n type = \"userpass\"\n lockout_threshold = 3\n}",
            "userpass"
        ),
        lockout(Some(3), None, None, None)
    );
    assert_eq!(
        only(
            "user_lockout \"userpass\" {\n type = \"ALL\"\n lockout_threshold = 9\n}",
            "all"
        ),
        lockout(Some(9), None, None, None)
    );
    // An empty `type` falls back to the label.
    assert_eq!(
        only(
            "user_lockout \"all\" {\n type = \"\"\n lockout_threshold = 2\n}",
            "all"
        ),
        lockout(Some(2), None, None, None)
    );
}

#[test]
fn values_are_read_as_openbaos_decoder_reads_them() {
    let one = |body: &str| only(&format!("user_lockout \"all\" {{\n{body}\n}}"), "all");
    assert_eq!(one("lockout_threshold = 7").lockout_threshold, Some(7));
    assert_eq!(one("lockout_threshold = 3.0").lockout_threshold, Some(3));
    assert_eq!(one("lockout_threshold = \"0\"").lockout_threshold, Some(0));
    let d = |body: &str| one(body).lockout_duration;
    assert_eq!(d("lockout_duration = 90"), Some(Duration::from_secs(90)));
    assert_eq!(
        d("lockout_duration = \"90\""),
        Some(Duration::from_secs(90))
    );
    assert_eq!(d("lockout_duration = 1.5"), Some(Duration::from_secs(1)));
    assert_eq!(d("lockout_duration = \"\""), Some(Duration::ZERO));
    assert_eq!(
        d("lockout_duration = \"7d\""),
        Some(Duration::from_secs(7 * 86_400))
    );
    assert_eq!(d("lockout_duration = \"1.5h\""), Some(mins(90)));
    assert_eq!(
        one("lockout_counter_reset = \"45m\"").lockout_counter_reset,
        Some(mins(45))
    );
    let b = |body: &str| one(body).disable_lockout;
    assert_eq!(b("disable_lockout = true"), Some(true));
    assert_eq!(b("disable_lockout = \"T\""), Some(true));
    assert_eq!(b("disable_lockout = 2"), Some(true));
    assert_eq!(b("disable_lockout = 0"), Some(false));
    assert_eq!(b("disable_lockout = \"\""), Some(false));
    assert_eq!(b("disable_lockout = \"False\""), Some(false));
}

#[test]
fn a_later_stanza_for_a_type_replaces_the_earlier_in_one_file() {
    // bao: userpass ends with the default threshold, not 3.
    assert_eq!(
        only(
            "user_lockout \"userpass\" { lockout_threshold = 3 }\n\
             user_lockout \"userpass\" { lockout_duration = \"1h\" }",
            "userpass"
        ),
        lockout(None, Some(mins(60)), None, None)
    );
}

#[test]
fn json_forms_read_the_same() {
    let map = lockouts(
        r#"{"user_lockout": {"all": {"lockout_threshold": "25", "lockout_duration": "5m"},
                             "approle": {"disable_lockout": true}}}"#,
    );
    assert_eq!(map["all"], lockout(Some(25), Some(mins(5)), None, None));
    assert_eq!(map["approle"], lockout(None, None, None, Some(true)));
    assert_eq!(map.len(), 2);

    let map = lockouts(
        r#"{"user_lockout": [{"userpass": {"lockout_threshold": 25}},
                             {"ldap": {"lockout_counter_reset": 60}}]}"#,
    );
    assert_eq!(map["userpass"], lockout(Some(25), None, None, None));
    assert_eq!(
        map["ldap"],
        lockout(None, None, Some(Duration::from_secs(60)), None)
    );

    assert_eq!(
        only(
            r#"{"user_lockout": {"type": "approle", "lockout_threshold": 4}}"#,
            "approle"
        ),
        lockout(Some(4), None, None, None)
    );
    assert_eq!(
        only(
            r#"{"user_lockout": {"all": {"lockout_threshold": 4.0, "lockout_duration": 2.9,
                                          "disable_lockout": 0.5, "lockout_counter_reset": null}}}"#,
            "all"
        ),
        lockout(Some(4), Some(Duration::from_secs(2)), None, Some(true))
    );
}

#[test]
fn unknown_keys_warn_with_file_and_line() {
    let config = parse_str(
        "user_lockout \"all\" {\n  bogus = 1\n  lockout_threshold = 9\n}\n",
        "c.hcl",
    )
    .unwrap();
    assert_eq!(
        config.user_lockouts["all"],
        lockout(Some(9), None, None, None)
    );
    assert_eq!(
        config.warnings,
        vec!["c.hcl:2: user_lockout.all.bogus: unknown key; ignored".to_owned()]
    );
}

#[test]
fn type_errors_are_openbaos() {
    let missing = "auth type for user lockout must be specified, if it applies to all auth \
                   methods specify \"all\"";
    assert_eq!(
        error_of("user_lockout \"foo\" { lockout_threshold = 3 }"),
        "c.hcl:1: user_lockout.foo: unsupported auth type \"foo\""
    );
    assert_eq!(
        error_of("user_lockout \"Token\" { lockout_threshold = 3 }"),
        "c.hcl:1: user_lockout.Token: unsupported auth type \"token\""
    );
    assert_eq!(
        error_of("user_lockout \"all\" {\n  type = 3\n}"),
        "c.hcl:2: user_lockout.all: unsupported auth type \"3\""
    );
    assert_eq!(
        error_of("user_lockout { lockout_threshold = 3 }"),
        format!("c.hcl:1: user_lockout: {missing}")
    );
    assert_eq!(
        error_of("user_lockout \"a\" \"b\" { lockout_threshold = 3 }"),
        format!("c.hcl:1: user_lockout.a.b: {missing}")
    );
    assert_eq!(
        error_of(r#"{"user_lockout": {"bogus": {"lockout_threshold": 4}}}"#),
        "c.json:1: user_lockout.bogus: unsupported auth type \"bogus\""
    );
    assert_eq!(
        error_of(r#"{"user_lockout": [{"lockout_threshold": 4}]}"#),
        format!("c.json:1: user_lockout: {missing}")
    );
    assert_eq!(
        error_of(r#"{"user_lockout": "all"}"#),
        "c.json:1: user_lockout: expected a block such as user_lockout \"all\" { ... }, got \"all\""
    );
}

#[test]
fn value_errors_are_openbaos() {
    let err = |body: &str| error_of(&format!("user_lockout \"all\" {{\n  {body}\n}}"));
    let threshold = "c.hcl:2: user_lockout.all.lockout_threshold: error parsing \
                     lockout_threshold: strconv.ParseUint: parsing";
    for (value, shown, why) in [
        ("\"abc\"", "\"abc\"", "invalid syntax"),
        ("-1", "\"-1\"", "invalid syntax"),
        ("\"+7\"", "\"+7\"", "invalid syntax"),
        ("\" 7\"", "\" 7\"", "invalid syntax"),
        ("2.5", "\"2.5\"", "invalid syntax"),
        ("true", "\"true\"", "invalid syntax"),
        ("[1, 2]", "\"[1 2]\"", "invalid syntax"),
        (
            "\"99999999999999999999\"",
            "\"99999999999999999999\"",
            "value out of range",
        ),
    ] {
        assert_eq!(
            err(&format!("lockout_threshold = {value}")),
            format!("{threshold} {shown}: {why}"),
            "{value}"
        );
    }

    let duration = "c.hcl:2: user_lockout.all.lockout_duration:";
    assert_eq!(
        err("lockout_duration = \"soon\""),
        format!("{duration} error parsing lockout_duration: time: invalid duration \"soon\"")
    );
    assert_eq!(
        err("lockout_duration = \" 5m \""),
        format!("{duration} error parsing lockout_duration: time: invalid duration \" 5m \"")
    );
    assert_eq!(
        err("lockout_duration = true"),
        format!("{duration} error parsing lockout_duration: could not parse duration from input")
    );
    assert_eq!(
        err("lockout_duration = [\"5m\"]"),
        format!("{duration} error parsing lockout_duration: could not parse duration from input")
    );
    assert_eq!(
        err("lockout_duration = \"-5m\""),
        format!("{duration} lockout_duration cannot be negative")
    );
    let reset = "c.hcl:2: user_lockout.all.lockout_counter_reset:";
    assert_eq!(
        err("lockout_counter_reset = -5"),
        format!("{reset} lockout_counter_reset cannot be negative")
    );
    assert_eq!(
        err("lockout_counter_reset = \"5x\""),
        format!(
            "{reset} error parsing lockout_counter_reset: time: unknown unit \"x\" in duration \"5x\""
        )
    );

    let disable = "c.hcl:2: user_lockout.all.disable_lockout: invalid value for disable_lockout:";
    assert_eq!(
        err("disable_lockout = \"yes\""),
        format!(
            "{disable} cannot parse '' as bool: strconv.ParseBool: parsing \"yes\": invalid syntax"
        )
    );
    assert_eq!(
        err("disable_lockout = \" true\""),
        format!(
            "{disable} cannot parse '' as bool: strconv.ParseBool: parsing \" true\": invalid syntax"
        )
    );
    assert_eq!(
        err("disable_lockout = [true]"),
        format!(
            "{disable} '' expected type 'bool', got unconvertible type '[]interface {{}}', value: '[true]'"
        )
    );
    assert_eq!(
        err("disable_lockout = { a = 1 }"),
        format!(
            "{disable} '' expected type 'bool', got unconvertible type '[]map[string]interface {{}}', value: '[map[a:1]]'"
        )
    );
}

#[test]
fn an_attribute_set_twice_is_refused() {
    assert_eq!(
        error_of("user_lockout \"all\" {\n  lockout_threshold = 1\n  lockout_threshold = 2\n}"),
        "c.hcl:3: user_lockout.all.lockout_threshold: duplicate attribute (first set on line 2)"
    );
}

#[test]
fn files_merge_later_wins_per_type() {
    let tmp = tempfile::tempdir().unwrap();
    let first = tmp.path().join("a.hcl");
    let second = tmp.path().join("b.json");
    std::fs::write(
        &first,
        "user_lockout \"userpass\" { lockout_threshold = 3 }\n\
         user_lockout \"all\" { lockout_duration = \"1h\" }\n\
         user_lockout \"ldap\" { disable_lockout = true }\n",
    )
    .unwrap();
    std::fs::write(
        &second,
        r#"{"user_lockout": {"userpass": {"lockout_duration": "2h"},
                             "all": {"lockout_threshold": 7}}}"#,
    )
    .unwrap();
    let check = |config: arca_config::ServerConfig| {
        let map = config.user_lockouts;
        assert_eq!(map.len(), 3);
        // The later file's stanza replaces the earlier one's whole: no threshold 3 left.
        assert_eq!(map["userpass"], lockout(None, Some(mins(120)), None, None));
        assert_eq!(map["all"], lockout(Some(7), None, None, None));
        // A type only the earlier file names is kept.
        assert_eq!(map["ldap"], lockout(None, None, None, Some(true)));
    };
    check(load_files(&[first.clone(), second.clone()]).unwrap());
    // A directory merges its files in name order, the same way.
    check(arca_config::load_file(tmp.path()).unwrap());
    // And the other order gives the other file's stanzas.
    let map = load_files(&[second, first]).unwrap().user_lockouts;
    assert_eq!(map["userpass"], lockout(Some(3), None, None, None));
    assert_eq!(map["all"], lockout(None, Some(mins(60)), None, None));
}
