//! Output formatting the way Vault's CLI prints: Go-style values, columnised tables,
//! indented JSON with Go's HTML escaping, YAML, `-field` extraction and warnings.

use arca_api::Secret;
use serde::Serialize;
use serde_json::{Map, Value};

/// An output format selected with `-format` or `VAULT_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned key/value columns.
    Table,
    /// Indented JSON.
    Json,
    /// YAML.
    Yaml,
    /// Raw values (only meaningful with `-field`).
    Raw,
}

impl Format {
    /// Parse a format name; `Err` carries the message Vault prints.
    pub fn parse(name: &str) -> Result<Format, String> {
        match name.to_ascii_lowercase().as_str() {
            "" | "table" => Ok(Format::Table),
            "json" => Ok(Format::Json),
            "yaml" | "yml" => Ok(Format::Yaml),
            "raw" => Ok(Format::Raw),
            other => Err(format!("Invalid output format: {other}")),
        }
    }
}

/// Recursively rebuild `v` with object keys in sorted order (Go sorts map keys).
pub fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), sorted(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Indented JSON, escaped like Go's `encoding/json` (`<`, `>`, `&` as `\u00XX`).
pub fn json_text<T: Serialize + ?Sized>(value: &T) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".to_string());
    text.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// YAML text of a JSON value, keys sorted (no trailing newline).
pub fn yaml_text(value: &Value) -> String {
    crate::yaml::to_yaml(value)
}

/// Go's `%v` of a decoded JSON value.
pub fn go_value(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => {
            let parts: Vec<String> = a.iter().map(go_value).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", go_value(&m[*k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// Go's `%q` of a string list (`["a" "b"]`); `None` prints `[]`.
pub fn go_quoted_list(list: Option<&Vec<String>>) -> String {
    let parts: Vec<String> = list
        .map(|l| l.iter().map(|s| format!("{s:?}")).collect())
        .unwrap_or_default();
    format!("[{}]", parts.join(" "))
}

/// Go's `time.Duration.String()` of whole seconds, shortened as Vault's `humanDuration`.
pub fn human_duration(secs: i64) -> String {
    if secs == 0 {
        return "0s".to_string();
    }
    let neg = secs < 0;
    let total = secs.unsigned_abs();
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if h > 0 {
        out.push_str(&format!("{h}h{m}m{s}s"));
    } else if m > 0 {
        out.push_str(&format!("{m}m{s}s"));
    } else {
        out.push_str(&format!("{s}s"));
    }
    if out.ends_with("m0s") {
        out.truncate(out.len() - 2);
    }
    if let Some(idx) = out.find("h0m")
        && idx > 0
    {
        out.replace_range(idx + 1..idx + 3, "");
    }
    out
}

/// Vault's `humanDurationInt`: integers (or integer strings) as durations, else `%v`.
pub fn human_duration_value(v: &Value) -> String {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => human_duration(i),
            None => go_value(v),
        },
        Value::String(s) => match s.parse::<i64>() {
            Ok(i) => human_duration(i),
            Err(_) => s.clone(),
        },
        other => go_value(other),
    }
}

/// Vault's `looksLikeDuration`: keys whose integer values are printed as durations.
pub fn looks_like_duration(key: &str) -> bool {
    key == "period" || key.ends_with("_period") || key == "ttl" || key.ends_with("_ttl")
}

/// Align rows into columns as Vault's `columnize` config does: four spaces between
/// columns, empty cells shown as `n/a`, the last column unpadded.
pub fn columns(rows: &[Vec<String>]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| {
                    if c.trim().is_empty() {
                        "n/a".to_string()
                    } else {
                        c.clone()
                    }
                })
                .collect()
        })
        .collect();
    let ncols = cells.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; ncols];
    for r in &cells {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut lines = Vec::with_capacity(cells.len());
    for r in &cells {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            line.push_str(c);
            if i + 1 < r.len() {
                let pad = widths[i] - c.chars().count() + 4;
                line.push_str(&" ".repeat(pad));
            }
        }
        lines.push(line.trim_end().to_string());
    }
    lines.join("\n")
}

/// A two-column Key/Value table with Vault's header.
pub fn kv_table(rows: Vec<(String, String)>) -> String {
    let mut all = vec![
        vec!["Key".to_string(), "Value".to_string()],
        vec!["---".to_string(), "-----".to_string()],
    ];
    all.extend(rows.into_iter().map(|(k, v)| vec![k, v]));
    columns(&all)
}

/// A table with a header row and a dashed line under it.
pub fn header_table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut all = vec![
        header.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
        header.iter().map(|h| "-".repeat(h.len())).collect(),
    ];
    all.extend(rows);
    columns(&all)
}

/// The rows Vault's table formatter prints for a secret (without the header).
pub fn secret_rows(secret: &Secret) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    if secret.lease_duration > 0 {
        if !secret.lease_id.is_empty() {
            rows.push(("lease_id".into(), secret.lease_id.clone()));
            rows.push((
                "lease_duration".into(),
                human_duration(secret.lease_duration),
            ));
            rows.push(("lease_renewable".into(), secret.renewable.to_string()));
        } else {
            rows.push((
                "refresh_interval".into(),
                human_duration(secret.lease_duration),
            ));
        }
    }
    if let Some(auth) = &secret.auth {
        rows.push(("token".into(), auth.client_token.to_string()));
        rows.push(("token_accessor".into(), auth.accessor.clone()));
        let dur = if auth.lease_duration == 0 {
            "∞".to_string()
        } else {
            human_duration(auth.lease_duration)
        };
        rows.push(("token_duration".into(), dur));
        rows.push(("token_renewable".into(), auth.renewable.to_string()));
        rows.push((
            "token_policies".into(),
            go_quoted_list(auth.token_policies.as_ref()),
        ));
        rows.push((
            "identity_policies".into(),
            go_quoted_list(auth.identity_policies.as_ref()),
        ));
        rows.push(("policies".into(), go_quoted_list(auth.policies.as_ref())));
        if let Some(meta) = &auth.metadata {
            let mut keys: Vec<&String> = meta.keys().collect();
            keys.sort();
            for k in keys {
                rows.push((format!("token_meta_{k}"), go_value(&meta[k])));
            }
        }
    }
    if let Some(w) = &secret.wrap_info {
        rows.push(("wrapping_token:".into(), w.token.to_string()));
        rows.push(("wrapping_accessor:".into(), w.accessor.clone()));
        rows.push(("wrapping_token_ttl:".into(), human_duration(w.ttl)));
        rows.push((
            "wrapping_token_creation_time:".into(),
            go_time(&w.creation_time),
        ));
        rows.push((
            "wrapping_token_creation_path:".into(),
            w.creation_path.clone(),
        ));
        if !w.wrapped_accessor.is_empty() {
            rows.push(("wrapped_accessor:".into(), w.wrapped_accessor.clone()));
        }
    }
    if let Some(data) = &secret.data {
        rows.extend(data_rows(data));
    }
    rows
}

/// Sorted rows of a data map, durations humanised for duration-looking keys.
pub fn data_rows(data: &Map<String, Value>) -> Vec<(String, String)> {
    let mut keys: Vec<&String> = data.keys().collect();
    keys.sort();
    keys.into_iter()
        .map(|k| {
            let v = &data[k];
            let text = if looks_like_duration(k) {
                human_duration_value(v)
            } else {
                go_value(v)
            };
            (k.clone(), text)
        })
        .collect()
}

/// Go's `time.Time.String()` for an RFC 3339 timestamp (`2006-01-02 15:04:05.999 +0000 UTC`).
pub fn go_time(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => {
            let utc = t.with_timezone(&chrono::Utc);
            let mut frac = format!("{:09}", utc.timestamp_subsec_nanos());
            while frac.ends_with('0') {
                frac.pop();
            }
            let frac = if frac.is_empty() {
                String::new()
            } else {
                format!(".{frac}")
            };
            format!("{}{} +0000 UTC", utc.format("%Y-%m-%d %H:%M:%S"), frac)
        }
        Err(_) => rfc3339.to_string(),
    }
}

/// Vault's warnings block, wrapped at 76 columns and indented by two.
pub fn warnings_text(warnings: &[String]) -> String {
    let mut out = String::from("WARNING! The following warnings were returned from OpenBao:\n\n");
    for w in warnings {
        out.push_str(&wrap_with_padding(&format!("* {w}"), 2));
        out.push_str("\n\n");
    }
    out
}

/// Word-wrap `text` at `78 - pad` columns and indent every line by `pad` spaces.
pub fn wrap_with_padding(text: &str, pad: usize) -> String {
    let limit = 78usize.saturating_sub(pad);
    let indent = " ".repeat(pad);
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split(' ') {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > limit {
                lines.push(std::mem::take(&mut line));
            } else if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    lines
        .iter()
        .map(|l| format!("{indent}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The value `-field` selects from a secret (auth/wrap/lease fields first, then data).
pub fn secret_field(secret: &Secret, field: &str) -> Option<Value> {
    let s = |v: &str| Some(Value::String(v.to_string()));
    let lists = |l: &Option<Vec<String>>| {
        Some(Value::Array(
            l.iter()
                .flatten()
                .map(|x| Value::String(x.clone()))
                .collect(),
        ))
    };
    match field {
        "lease_id" if !secret.lease_id.is_empty() => return s(&secret.lease_id),
        "lease_duration" | "refresh_interval" if secret.lease_duration > 0 => {
            return s(&human_duration(secret.lease_duration));
        }
        "lease_renewable" if !secret.lease_id.is_empty() => {
            return Some(Value::Bool(secret.renewable));
        }
        _ => {}
    }
    if let Some(a) = &secret.auth {
        let v = match field {
            "token" => s(&a.client_token),
            "token_accessor" => s(&a.accessor),
            "token_duration" => s(&human_duration(a.lease_duration)),
            "token_renewable" => Some(Value::Bool(a.renewable)),
            "token_policies" => lists(&a.token_policies),
            "identity_policies" => lists(&a.identity_policies),
            "policies" => lists(&a.policies),
            _ => None,
        };
        if v.is_some() {
            return v;
        }
    }
    if let Some(w) = &secret.wrap_info {
        let v = match field {
            "wrapping_token" => s(&w.token),
            "wrapping_accessor" => s(&w.accessor),
            "wrapping_token_ttl" => s(&human_duration(w.ttl)),
            "wrapping_token_creation_time" => s(&go_time(&w.creation_time)),
            "wrapping_token_creation_path" => s(&w.creation_path),
            "wrapped_accessor" => s(&w.wrapped_accessor),
            _ => None,
        };
        if v.is_some() {
            return v;
        }
    }
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(field))
        .filter(|v| !v.is_null())
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations_like_vault() {
        assert_eq!(human_duration(0), "0s");
        assert_eq!(human_duration(2_764_800), "768h");
        assert_eq!(human_duration(3600), "1h");
        assert_eq!(human_duration(5400), "1h30m");
        assert_eq!(human_duration(120), "2m");
        assert_eq!(human_duration(3661), "1h1m1s");
        assert_eq!(human_duration(3601), "1h1s");
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration_value(&json!("60")), "1m");
        assert_eq!(human_duration_value(&json!("1h")), "1h");
    }

    #[test]
    fn go_values() {
        assert_eq!(go_value(&json!(null)), "<nil>");
        assert_eq!(go_value(&json!(["root"])), "[root]");
        assert_eq!(
            go_value(&json!({"version": "1", "a": true})),
            "map[a:true version:1]"
        );
        assert_eq!(
            go_quoted_list(Some(&vec!["default".into()])),
            "[\"default\"]"
        );
        assert_eq!(go_quoted_list(None), "[]");
    }

    #[test]
    fn table_like_columnize() {
        let t = kv_table(vec![
            ("refresh_interval".into(), "768h".into()),
            ("description".into(), "".into()),
        ]);
        assert_eq!(
            t,
            "Key                 Value\n---                 -----\nrefresh_interval    768h\ndescription         n/a"
        );
    }

    #[test]
    fn json_escapes_html_like_go() {
        assert_eq!(
            json_text(&json!({"a": "<&>"})),
            "{\n  \"a\": \"\\u003c\\u0026\\u003e\"\n}"
        );
    }

    #[test]
    fn warnings_wrap() {
        let w = "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the OpenBao CLI, use 'bao kv get' for this operation.";
        assert_eq!(
            warnings_text(&[w.to_string()]),
            "WARNING! The following warnings were returned from OpenBao:\n\n  * Invalid path for a versioned K/V secrets engine. See the API docs for the\n  appropriate API endpoints to use. If using the OpenBao CLI, use 'bao kv get'\n  for this operation.\n\n"
        );
    }

    #[test]
    fn go_time_string() {
        assert_eq!(
            go_time("2026-11-27T19:30:12.676797544Z"),
            "2026-11-27 19:30:12.676797544 +0000 UTC"
        );
    }

    #[test]
    fn yaml_sorted() {
        let y = yaml_text(&json!({"b": "two", "a": "1", "n": 1}));
        assert_eq!(y, "a: \"1\"\nb: two\n\"n\": 1");
    }
}
