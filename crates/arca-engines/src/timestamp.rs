//! Times as the KV engine stores them (Unix nanoseconds) and prints them (Go's RFC 3339 with
//! nanoseconds and trailing zeros trimmed, UTC: `2026-11-27T19:50:01.01663197Z`).

use chrono::{DateTime, Utc};

/// Now, in Unix nanoseconds.
pub(crate) fn now_nanos() -> i64 {
    let now = Utc::now();
    now.timestamp_nanos_opt()
        .unwrap_or_else(|| now.timestamp().saturating_mul(1_000_000_000))
}

/// Formats Unix nanoseconds as Go's `time.RFC3339Nano` in UTC.
pub(crate) fn format_nanos(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let sub = nanos.rem_euclid(1_000_000_000) as u32;
    let Some(t) = DateTime::<Utc>::from_timestamp(secs, sub) else {
        return String::new();
    };
    let mut out = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    if sub != 0 {
        let frac = format!("{sub:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
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
        ];
        for (n, want) in cases {
            assert_eq!(format_nanos(n), want);
        }
        assert!(now_nanos() > 1_700_000_000_000_000_000);
    }
}
