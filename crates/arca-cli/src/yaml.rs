//! A small YAML emitter for JSON values that prints what Vault's CLI prints
//! (Go's `yaml.v2` via JSON→YAML): sorted keys, unindented sequences under keys,
//! double quotes for strings that would read back as another type, single quotes for
//! strings that cannot be plain, and `|-` blocks for multi-line strings.

use serde_json::Value;

const NULLS: &[&str] = &["~", "null", "Null", "NULL"];
const BOOLS: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
    "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
];

fn is_number(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    if t.is_empty() {
        return false;
    }
    if matches!(t, ".inf" | ".Inf" | ".INF") || matches!(s, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let digits =
        |x: &str, radix: u32| !x.is_empty() && x.chars().all(|c| c == '_' || c.is_digit(radix));
    if let Some(h) = t.strip_prefix("0x") {
        return digits(h, 16);
    }
    if let Some(b) = t.strip_prefix("0b") {
        return digits(b, 2);
    }
    if let Some(o) = t.strip_prefix("0o") {
        return digits(o, 8);
    }
    if digits(t, 10) {
        return true;
    }
    // Floats: digits with one dot and/or an exponent.
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    if let Some(e) = exp {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        if !digits(e, 10) {
            return false;
        }
    }
    match mantissa.split_once('.') {
        Some((a, b)) => {
            (a.is_empty() || digits(a, 10))
                && (b.is_empty() || digits(b, 10))
                && !(a.is_empty() && b.is_empty())
        }
        None => exp.is_some() && digits(mantissa, 10),
    }
}

fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 8
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && s[5..]
            .split(['-', 'T', 't', ' '])
            .next()
            .is_some_and(|m| !m.is_empty() && m.len() <= 2 && m.bytes().all(|c| c.is_ascii_digit()))
        && s[5..].contains('-')
}

/// Whether the plain form of `s` would be read back as something other than a string.
fn resolves_to_non_string(s: &str) -> bool {
    s.is_empty()
        || NULLS.contains(&s)
        || BOOLS.contains(&s)
        || s == "<<"
        || is_number(s)
        || is_timestamp(s)
}

/// Whether `s` may be written as a plain scalar.
fn plain_allowed(s: &str) -> bool {
    let first = s.chars().next().unwrap_or(' ');
    let second = s.chars().nth(1);
    if first.is_whitespace() || s.ends_with(char::is_whitespace) {
        return false;
    }
    if "[]{},#&*!|>'\"%@`".contains(first) {
        return false;
    }
    if "-?:".contains(first) && second.is_none_or(|c| c == ' ') {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    s.chars().all(|c| !c.is_control())
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A scalar string as yaml.v2 writes it (without block styles).
fn scalar(s: &str) -> String {
    if resolves_to_non_string(s) {
        double_quoted(s)
    } else if plain_allowed(s) {
        s.to_string()
    } else if s.chars().any(|c| c.is_control() && c != '\t') {
        double_quoted(s)
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

fn is_block(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::String(s) => s.contains('\n'),
        _ => false,
    }
}

fn inline(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar(s),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

fn literal_block(s: &str, indent: usize, out: &mut Vec<String>, head: String) {
    let chomp = if s.ends_with("\n\n") {
        "+"
    } else if s.ends_with('\n') {
        ""
    } else {
        "-"
    };
    // A leading space or blank line needs an explicit indentation indicator.
    let indicator = if s.starts_with(' ') || s.starts_with('\n') {
        "2"
    } else {
        ""
    };
    out.push(format!("{head}|{indicator}{chomp}"));
    let body = s.strip_suffix('\n').unwrap_or(s);
    let pad = " ".repeat(indent);
    for line in body.split('\n') {
        if line.is_empty() {
            out.push(String::new());
        } else {
            out.push(format!("{pad}{line}"));
        }
    }
}

fn emit(v: &Value, indent: usize, out: &mut Vec<String>) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for k in keys {
                let child = &m[k];
                let head = format!("{pad}{}:", scalar(k));
                match child {
                    Value::Object(_) if is_block(child) => {
                        out.push(head);
                        emit(child, indent + 2, out);
                    }
                    Value::Array(_) if is_block(child) => {
                        out.push(head);
                        emit(child, indent, out);
                    }
                    Value::String(s) if s.contains('\n') => {
                        literal_block(s, indent + 2, out, format!("{head} "));
                    }
                    _ => out.push(format!("{head} {}", inline(child))),
                }
            }
        }
        Value::Array(a) => {
            for item in a {
                let mut sub = Vec::new();
                match item {
                    Value::String(s) if s.contains('\n') => {
                        literal_block(s, indent + 2, &mut sub, String::new());
                    }
                    _ if is_block(item) => emit(item, indent + 2, &mut sub),
                    _ => sub.push(inline(item)),
                }
                for (i, line) in sub.into_iter().enumerate() {
                    if i == 0 {
                        let trimmed = line.trim_start();
                        out.push(format!("{pad}- {trimmed}"));
                    } else {
                        out.push(line);
                    }
                }
            }
        }
        Value::String(s) if s.contains('\n') => literal_block(s, indent + 2, out, String::new()),
        other => out.push(format!("{pad}{}", inline(other))),
    }
}

/// YAML text of `v` (no trailing newline).
pub fn to_yaml(v: &Value) -> String {
    // An empty document still prints its flow form, as Go's YAML encoder does.
    match v {
        Value::Object(m) if m.is_empty() => return "{}".to_owned(),
        Value::Array(a) if a.is_empty() => return "[]".to_owned(),
        _ => {}
    }
    let mut lines = Vec::new();
    emit(v, 0, &mut lines);
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_bao_status_yaml() {
        let v = json!({"build_date": "", "commit_date": "2026-10-26T20:32:27Z", "n": 1,
            "nonce": "", "version": "2.7.2", "type": "shamir", "sealed": false});
        assert_eq!(
            to_yaml(&v),
            "build_date: \"\"\ncommit_date: \"2026-10-26T20:32:27Z\"\n\"n\": 1\nnonce: \"\"\nsealed: false\ntype: shamir\nversion: 2.7.2"
        );
    }

    #[test]
    fn empty_documents_print_their_flow_form() {
        assert_eq!(to_yaml(&json!({})), "{}");
        assert_eq!(to_yaml(&json!([])), "[]");
    }

    #[test]
    fn nested_and_lists() {
        let v = json!({"data": {"a": "1", "b": "two"}, "keys": ["x", "z"], "warnings": null,
            "empty": {}, "s": "a: b", "m": "l1\nl2", "objs": [{"k": 1, "j": 2}]});
        assert_eq!(
            to_yaml(&v),
            "data:\n  a: \"1\"\n  b: two\nempty: {}\nkeys:\n- x\n- z\nm: |-\n  l1\n  l2\nobjs:\n- j: 2\n  k: 1\ns: 'a: b'\nwarnings: null"
        );
    }

    #[test]
    fn numbers_and_words() {
        for s in [
            "1",
            "-2",
            "1.5",
            "1e3",
            "0x1F",
            "yes",
            "Off",
            "~",
            "2024-01-02",
        ] {
            assert!(scalar(s).starts_with('"'), "{s}");
        }
        for s in ["two", "2.7.2", "s.abc", "root", "1.2.3.4"] {
            assert_eq!(scalar(s), s);
        }
        assert_eq!(scalar("- x"), "'- x'");
        assert_eq!(scalar("it's: x"), "'it''s: x'");
    }
}
