//! Go durations as Vault's CLI flags take and send them: `1h`, `30m`, `90` (seconds),
//! `2d`, printed back in Go's `time.Duration` form (`1h0m0s`).

/// Nanoseconds per second.
const NS: i128 = 1_000_000_000;

/// Parse a duration flag value the way Vault's `parseutil.ParseDurationSecond` does.
///
/// Returns nanoseconds; the error is the Go error text (`strconv.ParseInt: ...` or
/// `time: invalid duration "..."`).
pub fn parse(input: &str) -> Result<i128, String> {
    let s = input.trim();
    if s.is_empty() {
        return Ok(0);
    }
    if s.ends_with(['s', 'm', 'h']) {
        return parse_go(s);
    }
    if let Some(days) = s.strip_suffix('d') {
        let d = parse_int(days)?;
        return Ok(i128::from(d) * 86_400 * NS);
    }
    Ok(i128::from(parse_int(s)?) * NS)
}

fn parse_int(s: &str) -> Result<i64, String> {
    s.parse::<i64>()
        .map_err(|_| format!("strconv.ParseInt: parsing {s:?}: invalid syntax"))
}

/// Go's `time.ParseDuration`.
fn parse_go(s: &str) -> Result<i128, String> {
    let invalid = || format!("time: invalid duration {s:?}");
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(invalid());
        }
        let num: f64 = rest[..num_len].parse().map_err(|_| invalid())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            other => return Err(format!("time: unknown unit {other:?} in duration {s:?}")),
        };
        total += num * scale;
    }
    let ns = total.round() as i128;
    Ok(if neg { -ns } else { ns })
}

/// Go's `time.Duration.String()` of a nanosecond count (`1h0m0s`, `1.5s`, `0s`).
pub fn go_string(ns: i128) -> String {
    if ns == 0 {
        return "0s".to_string();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (val, unit, scale) = if u < 1_000 {
            (u, "ns", 1u128)
        } else if u < 1_000_000 {
            (u, "µs", 1_000)
        } else {
            (u, "ms", 1_000_000)
        };
        out.push_str(&frac(val, scale));
        out.push_str(unit);
    } else {
        let secs = u / 1_000_000_000;
        let sub = u % 1_000_000_000;
        let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&frac(s * 1_000_000_000 + sub, 1_000_000_000));
        out.push('s');
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

fn frac(val: u128, scale: u128) -> String {
    let whole = val / scale;
    let rem = val % scale;
    if rem == 0 {
        return whole.to_string();
    }
    let width = scale.to_string().len() - 1;
    let mut digits = format!("{rem:0width$}");
    while digits.ends_with('0') {
        digits.pop();
    }
    format!("{whole}.{digits}")
}

/// Whole seconds of a nanosecond count (truncated, as Go's `int(d.Seconds())`).
pub fn seconds(ns: i128) -> i64 {
    i64::try_from(ns / NS).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_parseutil() {
        assert_eq!(parse("1h").unwrap(), 3600 * NS);
        assert_eq!(parse("90").unwrap(), 90 * NS);
        assert_eq!(parse("2d").unwrap(), 2 * 86_400 * NS);
        assert_eq!(parse("1h30m").unwrap(), 5400 * NS);
        assert_eq!(parse("1.5s").unwrap(), 1_500_000_000);
        assert_eq!(parse("").unwrap(), 0);
        assert_eq!(
            parse("bad").unwrap_err(),
            "strconv.ParseInt: parsing \"ba\": invalid syntax"
        );
        assert_eq!(
            parse("xyz").unwrap_err(),
            "strconv.ParseInt: parsing \"xyz\": invalid syntax"
        );
        assert_eq!(parse("xs").unwrap_err(), "time: invalid duration \"xs\"");
    }

    #[test]
    fn prints_like_go() {
        assert_eq!(go_string(0), "0s");
        assert_eq!(go_string(3600 * NS), "1h0m0s");
        assert_eq!(go_string(1800 * NS), "30m0s");
        assert_eq!(go_string(45 * NS), "45s");
        assert_eq!(go_string(1_500_000_000), "1.5s");
        assert_eq!(go_string(90_061 * NS), "25h1m1s");
        assert_eq!(go_string(5_000_000), "5ms");
        assert_eq!(seconds(7200 * NS), 7200);
    }
}
