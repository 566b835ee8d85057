//! Durations as policies write them (`min_wrapping_ttl`, `max_wrapping_ttl`): a number of
//! seconds, a string of seconds, `<n>d` days, or a Go duration string such as `1h30m`.

use std::time::Duration;

/// Parses a duration the way OpenBao's `ParseDurationSecond` does. The error text matches
/// Go's `time: invalid duration "..."`.
pub(crate) fn parse_duration_text(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Duration::ZERO);
    }
    if let Ok(secs) = text.parse::<i64>() {
        return u64::try_from(secs)
            .map(Duration::from_secs)
            .map_err(|_| invalid(text));
    }
    if let Some(days) = text.strip_suffix('d') {
        let days: u64 = days.parse().map_err(|_| invalid(text))?;
        return days
            .checked_mul(24 * 60 * 60)
            .map(Duration::from_secs)
            .ok_or_else(|| invalid(text));
    }
    parse_go_duration(text)
}

/// A number of seconds given as a number (negative is refused).
pub(crate) fn duration_from_seconds(secs: f64) -> Result<Duration, String> {
    if secs.is_finite() && secs >= 0.0 {
        Ok(Duration::from_secs(secs.trunc() as u64))
    } else {
        Err(format!("invalid duration {secs}"))
    }
}

fn invalid(text: &str) -> String {
    format!("time: invalid duration \"{text}\"")
}

/// Go's `time.ParseDuration`, restricted to non-negative values.
fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() || rest.starts_with('-') {
        return Err(invalid(text));
    }
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        rest = &rest[number_len..];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(invalid(text));
        }
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            "" => return Err(format!("time: missing unit in duration \"{text}\"")),
            other => {
                return Err(format!(
                    "time: unknown unit \"{other}\" in duration \"{text}\""
                ));
            }
        };
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| invalid(text))?
        };
        let mut part = whole.checked_mul(unit_nanos).ok_or_else(|| invalid(text))?;
        let mut scale = unit_nanos;
        for digit in frac.chars() {
            scale /= 10;
            let d = u128::from(digit.to_digit(10).ok_or_else(|| invalid(text))?);
            part += d * scale;
        }
        total_nanos = total_nanos.checked_add(part).ok_or_else(|| invalid(text))?;
    }
    let secs = u64::try_from(total_nanos / 1_000_000_000).map_err(|_| invalid(text))?;
    // The remainder of a division by 10^9 always fits in u32.
    let nanos = (total_nanos % 1_000_000_000) as u32;
    Ok(Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_openbao() {
        let s = Duration::from_secs;
        let cases: &[(&str, Result<Duration, &str>)] = &[
            ("", Ok(Duration::ZERO)),
            ("0", Ok(Duration::ZERO)),
            ("30", Ok(s(30))),
            ("1d", Ok(s(86_400))),
            ("1s", Ok(s(1))),
            ("90s", Ok(s(90))),
            ("1h30m", Ok(s(5_400))),
            ("1.5h", Ok(s(5_400))),
            ("500ms", Ok(Duration::from_millis(500))),
            ("2m3s", Ok(s(123))),
            ("abc", Err("time: invalid duration \"abc\"")),
            ("10", Ok(s(10))),
            ("-5", Err("time: invalid duration \"-5\"")),
            ("-5s", Err("time: invalid duration \"-5s\"")),
            ("5x", Err("time: unknown unit \"x\" in duration \"5x\"")),
            ("1.2.3s", Err("time: invalid duration \"1.2.3s\"")),
        ];
        for (input, want) in cases {
            let got = parse_duration_text(input);
            match want {
                Ok(d) => assert_eq!(got, Ok(*d), "{input}"),
                Err(e) => assert_eq!(got, Err((*e).to_string()), "{input}"),
            }
        }
        assert_eq!(duration_from_seconds(30.0), Ok(s(30)));
        assert!(duration_from_seconds(-1.0).is_err());
    }
}
