//! Durations as Vault accepts them: whole seconds (`30`, `"30"`) or Go duration strings
//! (`"1h30m"`, `"768h"`, `"1.5s"`, `"100ms"`), and Vault's way of printing them back.

use std::time::Duration;

/// Why a duration could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason}")]
pub struct DurationError {
    /// The text that was given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Parses a Vault duration string: an integer number of seconds or a Go duration.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let err = |reason| DurationError {
        input: s.to_string(),
        reason,
    };
    let t = s.trim();
    if t.is_empty() {
        return Ok(Duration::ZERO);
    }
    if let Ok(secs) = t.parse::<i64>() {
        if secs < 0 {
            return Err(err("negative durations are not allowed"));
        }
        return Ok(Duration::from_secs(secs as u64));
    }
    let mut rest = t;
    if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    }
    if rest.starts_with('-') {
        return Err(err("negative durations are not allowed"));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total_nanos: f64 = 0.0;
    let mut saw_unit = false;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(err("expected a number"));
        }
        let number: f64 = rest[..num_len]
            .parse()
            .map_err(|_| err("expected a number"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86400e9,
            "" => return Err(err("missing unit")),
            _ => return Err(err("unknown unit")),
        };
        saw_unit = true;
        total_nanos += number * scale;
    }
    if !saw_unit || !total_nanos.is_finite() || total_nanos > u64::MAX as f64 {
        return Err(err("out of range"));
    }
    Ok(Duration::from_nanos(total_nanos as u64))
}

/// Parses a JSON value as a duration: numbers are seconds, strings as [`parse_duration`].
pub fn parse_duration_value(v: &serde_json::Value) -> Result<Duration, DurationError> {
    match v {
        serde_json::Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Ok(Duration::from_secs(u))
            } else if let Some(f) = n.as_f64().filter(|f| *f >= 0.0 && f.is_finite()) {
                Ok(Duration::from_secs_f64(f))
            } else {
                Err(DurationError {
                    input: n.to_string(),
                    reason: "negative durations are not allowed",
                })
            }
        }
        serde_json::Value::String(s) => parse_duration(s),
        serde_json::Value::Null => Ok(Duration::ZERO),
        other => Err(DurationError {
            input: other.to_string(),
            reason: "expected a number of seconds or a duration string",
        }),
    }
}

/// Formats a duration as Go's `time.Duration.String()` does (`"768h0m0s"`, `"30m0s"`, `"0s"`).
pub fn format_go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let nanos = d.subsec_nanos();
    if secs == 0 && nanos == 0 {
        return "0s".to_string();
    }
    if secs == 0 {
        return if nanos.is_multiple_of(1_000_000) {
            format!("{}ms", nanos / 1_000_000)
        } else if nanos.is_multiple_of(1000) {
            format!("{}µs", nanos / 1000)
        } else {
            format!("{nanos}ns")
        };
    }
    let h = secs / 3600;
    let m = (secs % 3600) / 60;
    let s = secs % 60;
    let frac = if nanos == 0 {
        String::new()
    } else {
        let f = format!("{:09}", nanos);
        format!(".{}", f.trim_end_matches('0'))
    };
    if h > 0 {
        format!("{h}h{m}m{s}{frac}s")
    } else if m > 0 {
        format!("{m}m{s}{frac}s")
    } else {
        format!("{s}{frac}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vault_forms() {
        let cases: &[(&str, u64)] = &[
            ("30", 30),
            ("30s", 30),
            ("1h30m", 5400),
            ("768h", 2_764_800),
            ("1.5h", 5400),
            ("0", 0),
            ("", 0),
            ("2d", 172_800),
        ];
        for (input, secs) in cases {
            assert_eq!(parse_duration(input).unwrap().as_secs(), *secs, "{input}");
        }
        assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
        for bad in ["abc", "10x", "-5", "h", "1.2.3s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(
            format_go_duration(Duration::from_secs(2_764_800)),
            "768h0m0s"
        );
        assert_eq!(format_go_duration(Duration::from_secs(1800)), "30m0s");
        assert_eq!(format_go_duration(Duration::from_secs(5)), "5s");
        assert_eq!(format_go_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn json_values() {
        assert_eq!(
            parse_duration_value(&serde_json::json!(60))
                .unwrap()
                .as_secs(),
            60
        );
        assert_eq!(
            parse_duration_value(&serde_json::json!("1m"))
                .unwrap()
                .as_secs(),
            60
        );
        assert!(parse_duration_value(&serde_json::json!(true)).is_err());
        assert!(parse_duration_value(&serde_json::json!(-1)).is_err());
    }
}
