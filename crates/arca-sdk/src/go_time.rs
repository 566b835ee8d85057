//! Times as Go's `time.Time` marshals them to JSON: the one printer for answers that carry times.

use chrono::{DateTime, SecondsFormat, Utc};

/// RFC 3339 in UTC with the fraction's trailing zeros trimmed (`2026-11-27T19:49:33.953Z`).
pub fn go_time(t: DateTime<Utc>) -> String {
    let text = t.to_rfc3339_opts(SecondsFormat::Nanos, true);
    match text.split_once('.') {
        Some((secs, frac)) => {
            let digits = frac.trim_end_matches('Z').trim_end_matches('0');
            if digits.is_empty() {
                format!("{secs}Z")
            } else {
                format!("{secs}.{digits}Z")
            }
        }
        None => text,
    }
}
