//! The one duration parser of the workspace: Go's `time.ParseDuration` exactly, Vault's
//! `parseutil.ParseDurationSecond` on top of it (bare integers are seconds, `<n>d` is days),
//! and Go's way of printing a duration back. Error texts are Go's, byte for byte, because
//! OpenBao puts them in its answers (`time: invalid duration "…"`).

use std::time::Duration;

use serde_json::Value;

/// Why a duration was refused; `Display` is the text Go (and so OpenBao) gives.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a duration at all, or above Go's limit of 2^63-1 nanoseconds.
    #[error("time: invalid duration {}", go_quote(.0))]
    Invalid(String),
    /// A number with no unit after it (`"1.5"`, `"1h30"`).
    #[error("time: missing unit in duration {}", go_quote(.0))]
    MissingUnit(String),
    /// A unit Go does not know (`"1e30"` has unit `e`).
    #[error(
        "time: unknown unit {} in duration {}",
        go_quote(unit),
        go_quote(input)
    )]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole duration as written.
        input: String,
    },
    /// The count before a `d` suffix is not an integer (Go's `strconv.ParseInt` error).
    #[error("strconv.ParseInt: parsing {}: {}", go_quote(input), if *out_of_range { "value out of range" } else { "invalid syntax" })]
    ParseInt {
        /// The text that is not an integer.
        input: String,
        /// Whether it is an integer too large for 64 bits.
        out_of_range: bool,
    },
    /// Seconds or days whose nanoseconds do not fit Go's 64-bit duration.
    #[error("multiplication of durations resulted in overflow, one operand may be too large")]
    Overflow,
    /// A negative duration where only positive ones are meaningful.
    #[error("cannot provide negative value '{0}'")]
    Negative(i64),
    /// A JSON value that is neither a number nor a string.
    #[error("could not parse duration from input")]
    NotADuration,
}

/// Nanoseconds per second.
const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// Quotes `s` as Go's `time` package does in its errors: between double quotes, `"` and `\`
/// escaped, bytes of non-ASCII or control characters written as `\xNN`.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c.is_ascii() && !c.is_ascii_control() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        }
    }
    out.push('"');
    out
}

/// Nanoseconds per Go duration unit.
fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Go's `time.ParseDuration`: a signed count of nanoseconds.
///
/// An optional sign, then one or more decimal numbers, each with an optional fraction and a
/// unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`); `"0"` alone is zero. Leading or trailing
/// spaces are not allowed, as in Go.
///
/// # Errors
///
/// Go's error, with Go's text.
pub fn parse_go_duration(input: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError::Invalid(input.to_owned());
    let mut s = input;
    let mut negative = false;
    if let Some(c) = s.chars().next()
        && (c == '-' || c == '+')
    {
        negative = c == '-';
        s = &s[1..];
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    const LIMIT: u64 = 1 << 63;
    let mut total: u64 = 0;
    while !s.is_empty() {
        let first = s.as_bytes()[0];
        if !(first == b'.' || first.is_ascii_digit()) {
            return Err(invalid());
        }
        // The integer part; more than 2^63 is an overflow.
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let mut whole: u64 = 0;
        for b in s[..int_len].bytes() {
            whole = whole
                .checked_mul(10)
                .and_then(|w| w.checked_add(u64::from(b - b'0')))
                .filter(|w| *w <= LIMIT)
                .ok_or_else(invalid)?;
        }
        let had_int = int_len > 0;
        s = &s[int_len..];
        // The fraction: digits past what 63 bits hold are read but add no precision.
        let mut frac: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut had_frac = false;
        if let Some(rest) = s.strip_prefix('.') {
            let frac_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            had_frac = frac_len > 0;
            let mut overflowed = false;
            for b in rest[..frac_len].bytes() {
                if overflowed || frac > (LIMIT - 1) / 10 {
                    overflowed = true;
                    continue;
                }
                let next = frac * 10 + u64::from(b - b'0');
                if next > LIMIT {
                    overflowed = true;
                    continue;
                }
                frac = next;
                scale *= 10.0;
            }
            s = &rest[frac_len..];
        }
        if !had_int && !had_frac {
            return Err(invalid());
        }
        let unit_len = s
            .char_indices()
            .find(|&(_, c)| c == '.' || c.is_ascii_digit())
            .map_or(s.len(), |(i, _)| i);
        if unit_len == 0 {
            return Err(DurationError::MissingUnit(input.to_owned()));
        }
        let (unit, rest) = s.split_at(unit_len);
        s = rest;
        let per_unit = unit_nanos(unit).ok_or_else(|| DurationError::UnknownUnit {
            unit: unit.to_owned(),
            input: input.to_owned(),
        })?;
        if whole > LIMIT / per_unit {
            return Err(invalid());
        }
        let mut value = whole * per_unit;
        if frac > 0 {
            // As Go: float64 keeps fractions of an hour exact to the nanosecond.
            #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
            let extra = (frac as f64 * (per_unit as f64 / scale)) as u64;
            value = value.checked_add(extra).ok_or_else(invalid)?;
            if value > LIMIT {
                return Err(invalid());
            }
        }
        total = total
            .checked_add(value)
            .filter(|t| *t <= LIMIT)
            .ok_or_else(invalid)?;
    }
    if negative {
        // -2^63 is the one value whose magnitude exceeds i64::MAX.
        return Ok(0i64.wrapping_sub_unsigned(total));
    }
    i64::try_from(total).map_err(|_| invalid())
}

/// Go's `strconv.ParseInt(s, 10, 64)`: an optional sign and decimal digits.
///
/// # Errors
///
/// [`DurationError::ParseInt`] with Go's text.
pub fn parse_go_int(s: &str) -> Result<i64, DurationError> {
    let err = |out_of_range| DurationError::ParseInt {
        input: s.to_owned(),
        out_of_range,
    };
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(false));
    }
    s.parse::<i64>().map_err(|_| err(true))
}

/// Vault's `parseutil.ParseDurationSecond` for text, as signed nanoseconds: `""` is zero,
/// an integer is seconds (`"90"`, `"-5"`), an integer followed by `d` is days (`"7d"`), anything
/// else is a Go duration (`"1h30m"`, `"1.5h"`). `"1d12h"` is refused, as OpenBao does.
///
/// # Errors
///
/// The error OpenBao answers with, Go's text.
pub fn parse_duration_second(s: &str) -> Result<i64, DurationError> {
    if s.is_empty() {
        return Ok(0);
    }
    if let Ok(secs) = parse_go_int(s) {
        return secs
            .checked_mul(NANOS_PER_SECOND)
            .ok_or(DurationError::Overflow);
    }
    if let Some(days) = s.strip_suffix('d') {
        return parse_go_int(days)?
            .checked_mul(24 * 3600 * NANOS_PER_SECOND)
            .ok_or(DurationError::Overflow);
    }
    parse_go_duration(s)
}

/// [`parse_duration_second`] for a duration that cannot be negative.
///
/// # Errors
///
/// As [`parse_duration_second`], and [`DurationError::Negative`] (in whole seconds) below zero.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    nanos_to_duration(parse_duration_second(s)?)
}

/// A JSON parameter as a duration, as Vault reads one: a number is read from its text (so
/// `90` is seconds, `1.5` has no unit and `1e+30` has the unit `e+`), a string as
/// [`parse_duration`], `null` as zero.
///
/// # Errors
///
/// As [`parse_duration`]; [`DurationError::NotADuration`] for a boolean, list or object.
pub fn parse_duration_value(v: &Value) -> Result<Duration, DurationError> {
    match v {
        Value::Null => Ok(Duration::ZERO),
        Value::Number(n) => parse_duration(&crate::number::number_text(n)),
        Value::String(s) => parse_duration(s),
        Value::Bool(_) | Value::Array(_) | Value::Object(_) => Err(DurationError::NotADuration),
    }
}

/// Signed nanoseconds as a [`Duration`], refusing negatives.
fn nanos_to_duration(nanos: i64) -> Result<Duration, DurationError> {
    let n = u64::try_from(nanos).map_err(|_| DurationError::Negative(nanos / NANOS_PER_SECOND))?;
    Ok(Duration::from_nanos(n))
}

/// Formats a duration as Go's `time.Duration.String()` does (`"768h0m0s"`, `"1.5s"`, `"0s"`);
/// anything above Go's limit prints as the limit.
pub fn format_go_duration(d: Duration) -> String {
    format_go_nanos(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Formats signed nanoseconds as Go's `time.Duration.String()` does (`"-1h0m0s"`, `"1.5ms"`).
pub fn format_go_nanos(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_owned();
    }
    let u = nanos.unsigned_abs();
    let mut out = String::new();
    if nanos < 0 {
        out.push('-');
    }
    if u < 1_000_000_000 {
        let (scale, unit) = if u < 1_000 {
            (1, "ns")
        } else if u < 1_000_000 {
            (1_000, "\u{b5}s")
        } else {
            (1_000_000, "ms")
        };
        out.push_str(&with_fraction(u, scale));
        out.push_str(unit);
        return out;
    }
    let secs = u / 1_000_000_000;
    let (h, m) = (secs / 3600, (secs % 3600) / 60);
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&with_fraction(u % 60_000_000_000, 1_000_000_000));
    out.push('s');
    out
}

/// `value / scale` in decimal, trailing zeros of the fraction dropped (`1500, 1000` → `1.5`).
fn with_fraction(value: u64, scale: u64) -> String {
    let whole = value / scale;
    let rem = value % scale;
    if rem == 0 {
        return whole.to_string();
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{rem:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = NANOS_PER_SECOND;

    /// Every row was checked against OpenBao 2.7.2 (`auth/token/create` with `ttl`) or Go.
    #[test]
    fn parse_duration_second_table() {
        let ok: &[(&str, i64)] = &[
            ("", 0),
            ("0", 0),
            ("-0", 0),
            ("+0", 0),
            ("30", 30 * S),
            ("+30", 30 * S),
            ("-5", -5 * S),
            ("30s", 30 * S),
            ("+1h", 3600 * S),
            ("-5s", -5 * S),
            ("768h", 768 * 3600 * S),
            ("1h30m15s", 5415 * S),
            ("1.5h", 5400 * S),
            (".5h", 1800 * S),
            ("1.s", S),
            ("2h45m30.5s", 9_930_500_000_000),
            ("100ms", 100_000_000),
            ("1500us", 1_500_000),
            ("1500\u{b5}s", 1_500_000),
            ("1500\u{3bc}s", 1_500_000),
            ("42ns", 42),
            ("0.000000001s", 1),
            ("1.0000000019s", 1_000_000_001),
            ("0h0m", 0),
            ("2d", 2 * 86_400 * S),
            ("-1d", -86_400 * S),
            ("2562047h47m16.854775807s", i64::MAX),
            ("9223372036854775807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
        ];
        for (input, want) in ok {
            assert_eq!(parse_duration_second(input), Ok(*want), "input {input:?}");
        }
        let refused: &[(&str, &str)] = &[
            ("1d12h", r#"time: unknown unit "d" in duration "1d12h""#),
            ("1e30", r#"time: unknown unit "e" in duration "1e30""#),
            ("1e30s", r#"time: unknown unit "e" in duration "1e30s""#),
            ("0x10", r#"time: unknown unit "x" in duration "0x10""#),
            ("30 ", r#"time: unknown unit " " in duration "30 ""#),
            (" 30 ", r#"time: invalid duration " 30 ""#),
            ("1.5", r#"time: missing unit in duration "1.5""#),
            ("1h30", r#"time: missing unit in duration "1h30""#),
            ("abc", r#"time: invalid duration "abc""#),
            (".s", r#"time: invalid duration ".s""#),
            ("-", r#"time: invalid duration "-""#),
            ("1.2.3s", r#"time: missing unit in duration "1.2.3s""#),
            ("1.5d", r#"strconv.ParseInt: parsing "1.5": invalid syntax"#),
            ("xd", r#"strconv.ParseInt: parsing "x": invalid syntax"#),
            ("d", r#"strconv.ParseInt: parsing "": invalid syntax"#),
            (
                "99999999999999999999d",
                r#"strconv.ParseInt: parsing "99999999999999999999": value out of range"#,
            ),
            (
                "18446744073709551615",
                r#"time: invalid duration "18446744073709551615""#,
            ),
            (
                "2562047h47m16.854775808s",
                r#"time: invalid duration "2562047h47m16.854775808s""#,
            ),
            (
                "9223372036854775808ns",
                r#"time: invalid duration "9223372036854775808ns""#,
            ),
            (
                "99999999999",
                "multiplication of durations resulted in overflow, one operand may be too large",
            ),
            (
                "106752d",
                "multiplication of durations resulted in overflow, one operand may be too large",
            ),
            (
                "1\u{e9}",
                "time: unknown unit \"\\xc3\\xa9\" in duration \"1\\xc3\\xa9\"",
            ),
        ];
        for (input, want) in refused {
            let got = parse_duration_second(input).map_err(|e| e.to_string());
            assert_eq!(got, Err((*want).to_owned()), "input {input:?}");
        }
    }

    #[test]
    fn non_negative_and_json_values() {
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(
            parse_duration("-5s").map_err(|e| e.to_string()),
            Err("cannot provide negative value '-5'".to_owned())
        );
        let cases: &[(Value, Result<Duration, &str>)] = &[
            (serde_json::json!(60), Ok(Duration::from_secs(60))),
            (serde_json::json!("1m"), Ok(Duration::from_secs(60))),
            (Value::Null, Ok(Duration::ZERO)),
            (
                serde_json::json!(1.5),
                Err(r#"time: missing unit in duration "1.5""#),
            ),
            (
                serde_json::json!(1e30),
                Err(r#"time: unknown unit "e+" in duration "1e+30""#),
            ),
            (
                serde_json::json!(u64::MAX),
                Err(r#"time: invalid duration "18446744073709551615""#),
            ),
            (
                serde_json::json!(true),
                Err("could not parse duration from input"),
            ),
            (
                serde_json::json!([1]),
                Err("could not parse duration from input"),
            ),
            (
                serde_json::json!(-1),
                Err("cannot provide negative value '-1'"),
            ),
        ];
        for (input, want) in cases {
            let got = parse_duration_value(input).map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(str::to_owned), "input {input}");
        }
    }

    #[test]
    fn formats_like_go() {
        let table: &[(i64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5\u{b5}s"),
            (1_500_000, "1.5ms"),
            (5_000_000, "5ms"),
            (S, "1s"),
            (1_500_000_000, "1.5s"),
            (45 * S, "45s"),
            (1800 * S, "30m0s"),
            (3600 * S, "1h0m0s"),
            (90_061 * S, "25h1m1s"),
            (768 * 3600 * S, "768h0m0s"),
            (-3600 * S, "-1h0m0s"),
            (i64::MAX, "2562047h47m16.854775807s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for (nanos, want) in table {
            assert_eq!(format_go_nanos(*nanos), *want, "{nanos}");
        }
        assert_eq!(
            format_go_duration(Duration::from_secs(2_764_800)),
            "768h0m0s"
        );
    }
}
