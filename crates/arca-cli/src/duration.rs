//! Go durations as Vault's CLI flags take and send them: `1h`, `30m`, `90` (seconds),
//! `2d`, printed back in Go's `time.Duration` form (`1h0m0s`). The parsing and printing are
//! the SDK's ([`arca_sdk::duration`]); this module only decides which form a flag value is.

use arca_sdk::duration::{DurationError, format_go_nanos, parse_go_duration, parse_go_int};

/// Nanoseconds per second.
const NS: i64 = 1_000_000_000;

/// Parse a duration flag value as the `bao` CLI does: a value ending in `s`, `m` or `h` is a
/// Go duration, `<n>d` is days, an integer whole seconds, anything else a Go duration (so
/// `abc` is refused with `time: invalid duration "abc"`, as `bao` says).
///
/// Returns nanoseconds; the error is the Go error text (`strconv.ParseInt: ...` or
/// `time: invalid duration "..."`).
pub fn parse(input: &str) -> Result<i128, String> {
    let s = input.trim();
    if s.is_empty() {
        return Ok(0);
    }
    let nanos = if s.ends_with(['s', 'm', 'h']) {
        parse_go_duration(s)
    } else if let Some(days) = s.strip_suffix('d') {
        parse_go_int(days).and_then(|d| d.checked_mul(86_400 * NS).ok_or(DurationError::Overflow))
    } else {
        match parse_go_int(s) {
            Ok(secs) => secs.checked_mul(NS).ok_or(DurationError::Overflow),
            Err(_) => parse_go_duration(s),
        }
    };
    nanos.map(i128::from).map_err(|e| e.to_string())
}

/// Go's `time.Duration.String()` of a nanosecond count (`1h0m0s`, `1.5s`, `0s`).
pub fn go_string(ns: i128) -> String {
    let clamped = i64::try_from(ns).unwrap_or(if ns < 0 { i64::MIN } else { i64::MAX });
    format_go_nanos(clamped)
}

/// Whole seconds of a nanosecond count (truncated, as Go's `int(d.Seconds())`).
pub fn seconds(ns: i128) -> i64 {
    i64::try_from(ns / i128::from(NS)).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: i128 = 1_000_000_000;

    #[test]
    fn parses_like_the_bao_cli() {
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
        assert_eq!(parse("xyz").unwrap_err(), "time: invalid duration \"xyz\"");
        assert_eq!(parse("abc").unwrap_err(), "time: invalid duration \"abc\"");
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
