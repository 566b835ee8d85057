//! Durations as Vault's config and API accept them: a whole number of seconds, a Go duration
//! string (`"30s"`, `"1h30m"`, `"1.5h"`, `"100ms"`), or a whole number of days (`"7d"`).

use std::time::Duration;

/// Why a duration string was refused. Messages quote at most an unknown unit, never the
/// whole input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// The string is empty (or only whitespace).
    #[error("empty duration")]
    Empty,
    /// The string is not a number of seconds nor a Go duration.
    #[error("invalid duration syntax (use seconds, or a number with a unit: ns, us, ms, s, m, h)")]
    Syntax,
    /// A number has no unit after it, e.g. `"1h30"`.
    #[error("missing unit in duration (use ns, us, ms, s, m or h)")]
    MissingUnit,
    /// A unit is not one of Go's.
    #[error("unknown unit {0:?} in duration (use ns, us, ms, s, m or h)")]
    UnknownUnit(String),
    /// The duration is negative.
    #[error("negative durations are not allowed")]
    Negative,
    /// The duration does not fit in 2^63-1 nanoseconds (about 292 years), Go's limit.
    #[error("duration is too large")]
    Overflow,
}

/// The largest duration Go can hold, in nanoseconds.
const MAX_NANOS: u128 = i64::MAX as u128;

const NANOS_PER_SECOND: u128 = 1_000_000_000;

/// Parses a duration the way Vault's config and API do (`parseutil.ParseDurationSecond`).
///
/// - `"90"`: digits only are seconds;
/// - `"7d"`: digits followed by `d` are days;
/// - anything else is a Go duration: an optional `+`, then one or more numbers (with an optional
///   fraction) each followed by a unit `ns`, `us` (or `µs`), `ms`, `s`, `m` or `h`: `"1h30m"`,
///   `"1.5h"`, `"100ms"`; `"0"` alone is zero.
///
/// Leading and trailing whitespace is ignored. Negative durations are refused, and so is
/// anything above Go's limit of 2^63-1 nanoseconds.
///
/// # Errors
///
/// A [`DurationError`] saying what is wrong.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    if let Some(secs) = whole_number(s)? {
        return nanos_to_duration(secs.checked_mul(NANOS_PER_SECOND));
    }
    if let Some(days) = s.strip_suffix('d')
        && let Some(days) = whole_number(days)?
    {
        return nanos_to_duration(days.checked_mul(24 * 3600 * NANOS_PER_SECOND));
    }
    go_duration(s)
}

/// `Some(n)` when `s` is made of ASCII digits only.
fn whole_number(s: &str) -> Result<Option<u128>, DurationError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    // More digits than u128 holds is certainly above the limit.
    s.parse::<u128>()
        .map(Some)
        .map_err(|_| DurationError::Overflow)
}

fn nanos_to_duration(nanos: Option<u128>) -> Result<Duration, DurationError> {
    match nanos {
        Some(n) if n <= MAX_NANOS => {
            let secs = u64::try_from(n / NANOS_PER_SECOND).map_err(|_| DurationError::Overflow)?;
            let sub = u32::try_from(n % NANOS_PER_SECOND).map_err(|_| DurationError::Overflow)?;
            Ok(Duration::new(secs, sub))
        }
        _ => Err(DurationError::Overflow),
    }
}

/// Nanoseconds per Go duration unit.
fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => NANOS_PER_SECOND,
        "m" => 60 * NANOS_PER_SECOND,
        "h" => 3600 * NANOS_PER_SECOND,
        _ => return None,
    })
}

/// Go's `time.ParseDuration`, without negative results.
fn go_duration(input: &str) -> Result<Duration, DurationError> {
    let mut s = input;
    if let Some(rest) = s.strip_prefix('-') {
        // "-0" is zero in Go; every other negative is refused.
        return if rest == "0" {
            Ok(Duration::ZERO)
        } else if rest.is_empty() {
            Err(DurationError::Syntax)
        } else {
            go_duration(rest).and_then(|d| {
                if d.is_zero() {
                    Ok(d)
                } else {
                    Err(DurationError::Negative)
                }
            })
        };
    }
    if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(DurationError::Syntax);
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let (int_digits, rest) = s.split_at(int_len);
        s = rest;
        let mut frac_digits = "";
        if let Some(rest) = s.strip_prefix('.') {
            let frac_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            (frac_digits, s) = rest.split_at(frac_len);
        }
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(DurationError::Syntax);
        }
        let unit_len = s
            .char_indices()
            .find(|&(_, c)| c == '.' || c.is_ascii_digit())
            .map_or(s.len(), |(i, _)| i);
        if unit_len == 0 {
            return Err(DurationError::MissingUnit);
        }
        let (unit, rest) = s.split_at(unit_len);
        s = rest;
        let per_unit =
            unit_nanos(unit).ok_or_else(|| DurationError::UnknownUnit(unit.to_owned()))?;
        let whole = if int_digits.is_empty() {
            0
        } else {
            int_digits
                .parse::<u128>()
                .map_err(|_| DurationError::Overflow)?
        };
        let mut part = whole.checked_mul(per_unit).ok_or(DurationError::Overflow)?;
        // The fraction is exact to the nanosecond; digits past the 20th cannot change it.
        let frac_digits = &frac_digits[..frac_digits.len().min(20)];
        if !frac_digits.is_empty() {
            let frac: u128 = frac_digits.parse().map_err(|_| DurationError::Syntax)?;
            let scale = 10u128.pow(u32::try_from(frac_digits.len()).unwrap_or(20));
            part = part
                .checked_add(frac * per_unit / scale)
                .ok_or(DurationError::Overflow)?;
        }
        total = total.checked_add(part).ok_or(DurationError::Overflow)?;
        if total > MAX_NANOS {
            return Err(DurationError::Overflow);
        }
    }
    nanos_to_duration(Some(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1;
    const M: u64 = 60;
    const H: u64 = 3600;

    #[test]
    fn accepted_durations() {
        let table: &[(&str, Duration)] = &[
            ("0", Duration::ZERO),
            ("-0", Duration::ZERO),
            ("+0", Duration::ZERO),
            ("30", Duration::from_secs(30)),
            (" 30 ", Duration::from_secs(30)),
            ("30s", Duration::from_secs(30 * S)),
            ("+30s", Duration::from_secs(30)),
            ("5m", Duration::from_secs(5 * M)),
            ("768h", Duration::from_secs(768 * H)),
            ("1h30m", Duration::from_secs(H + 30 * M)),
            ("1h30m15s", Duration::from_secs(H + 30 * M + 15)),
            ("1.5h", Duration::from_secs(H + 30 * M)),
            (".5s", Duration::from_millis(500)),
            ("1.s", Duration::from_secs(1)),
            ("100ms", Duration::from_millis(100)),
            ("1500us", Duration::from_micros(1500)),
            ("1500µs", Duration::from_micros(1500)),
            ("1500μs", Duration::from_micros(1500)),
            ("42ns", Duration::from_nanos(42)),
            ("0.000000001s", Duration::from_nanos(1)),
            ("1.0000000019s", Duration::from_nanos(1_000_000_001)),
            ("0h0m", Duration::ZERO),
            ("7d", Duration::from_secs(7 * 24 * H)),
            ("2562047h", Duration::from_secs(2_562_047 * H)),
        ];
        for (input, want) in table {
            assert_eq!(parse_duration(input), Ok(*want), "input {input:?}");
        }
    }

    #[test]
    fn refused_durations() {
        let table: &[(&str, DurationError)] = &[
            ("", DurationError::Empty),
            ("   ", DurationError::Empty),
            ("abc", DurationError::Syntax),
            ("s", DurationError::Syntax),
            (".s", DurationError::Syntax),
            ("1.5", DurationError::MissingUnit),
            ("1h30", DurationError::MissingUnit),
            ("10x", DurationError::UnknownUnit("x".into())),
            ("1d12h", DurationError::UnknownUnit("d".into())),
            ("3 s", DurationError::UnknownUnit(" s".into())),
            ("-5s", DurationError::Negative),
            ("-", DurationError::Syntax),
            ("1.5d", DurationError::UnknownUnit("d".into())),
            ("2562048h", DurationError::Overflow),
            ("9223372037s", DurationError::Overflow),
            ("9223372037", DurationError::Overflow),
            ("106752d", DurationError::Overflow),
            (
                "99999999999999999999999999999999999999999999h",
                DurationError::Overflow,
            ),
        ];
        for (input, want) in table {
            assert_eq!(parse_duration(input).as_ref(), Err(want), "input {input:?}");
        }
    }

    #[test]
    fn messages_do_not_repeat_the_input() {
        let err = parse_duration("secret-looking-value").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}
