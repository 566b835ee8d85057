//! Times as the KV engine stores them (Unix nanoseconds) and prints them (Go's RFC 3339 with
//! nanoseconds and trailing zeros trimmed, UTC: `2026-11-27T19:50:01.01663197Z`).

use chrono::{DateTime, Datelike, Timelike, Utc};

/// Now, in Unix nanoseconds.
pub(crate) fn now_nanos() -> i64 {
    let now = Utc::now();
    now.timestamp_nanos_opt()
        .unwrap_or_else(|| now.timestamp().saturating_mul(1_000_000_000))
}

/// Formats Unix nanoseconds as Go's `time.RFC3339Nano` in UTC. Written digit by digit: it
/// runs for every version a KV read or write answers with, and a format string is parsed anew
/// at every call.
pub(crate) fn format_nanos(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let sub = nanos.rem_euclid(1_000_000_000) as u32;
    let Some(t) = DateTime::<Utc>::from_timestamp(secs, sub) else {
        return String::new();
    };
    let mut out = String::with_capacity(30);
    let year = t.year();
    if !(0..=9999).contains(&year) {
        // Outside four digits chrono knows the sign and width rules.
        out.push_str(&t.format("%Y").to_string());
    } else {
        push_digits(&mut out, year as u32, 4);
    }
    for (sep, value) in [
        ('-', t.month()),
        ('-', t.day()),
        ('T', t.hour()),
        (':', t.minute()),
        (':', t.second()),
    ] {
        out.push(sep);
        push_digits(&mut out, value, 2);
    }
    if sub != 0 {
        out.push('.');
        let mut frac = sub;
        let mut width = 9;
        while frac.is_multiple_of(10) {
            frac /= 10;
            width -= 1;
        }
        push_digits(&mut out, frac, width);
    }
    out.push('Z');
    out
}

/// Appends `value` in decimal, zero-padded to `width` digits.
fn push_digits(out: &mut String, value: u32, width: u32) {
    let mut div = 10u32.pow(width.saturating_sub(1));
    while div > 0 {
        out.push(char::from(b'0' + (value / div % 10) as u8));
        div /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        let cases = [
            (0, "1970-01-01T00:00:00Z"),
            (1_795_808_973_016_631_970, "2026-11-27T19:49:33.01663197Z"),
            (1_795_808_973_500_000_000, "2026-11-27T19:49:33.5Z"),
            (1_795_808_973_000_000_001, "2026-11-27T19:49:33.000000001Z"),
            (1_795_808_973_123_456_789, "2026-11-27T19:49:33.123456789Z"),
            (-1, "1969-12-31T23:59:59.999999999Z"),
            (951_782_400_000_000_000, "2000-02-29T00:00:00Z"),
        ];
        for (n, want) in cases {
            assert_eq!(format_nanos(n), want);
        }
        assert!(now_nanos() > 1_700_000_000_000_000_000);
    }
}
