//! Conversions between the plain database plugin types and the `dbplugin.v5` messages:
//! connection details as `google.protobuf.Struct` (OpenBao's `mapToStruct`/`structToMap`),
//! times as `google.protobuf.Timestamp` and statement lists.

use arca_sdk::JsonMap;
use chrono::{DateTime, Utc};
use prost_types::value::Kind;
use serde_json::Value;

use crate::proto::dbplugin as pb;

/// The earliest second a `Timestamp` may hold (0001-01-01T00:00:00Z).
const MIN_SECONDS: i64 = -62_135_596_800;
/// The latest second a `Timestamp` may hold (9999-12-31T23:59:59Z).
const MAX_SECONDS: i64 = 253_402_300_799;

/// Connection details as a `Struct`. Numbers travel as doubles, as in OpenBao.
pub fn map_to_struct(map: &JsonMap) -> prost_types::Struct {
    prost_types::Struct {
        fields: map
            .iter()
            .map(|(k, v)| (k.clone(), json_to_value(v)))
            .collect(),
    }
}

fn json_to_value(v: &Value) -> prost_types::Value {
    let kind = match v {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(json_to_value).collect(),
        }),
        Value::Object(m) => Kind::StructValue(map_to_struct(m)),
    };
    prost_types::Value { kind: Some(kind) }
}

/// A `Struct` as connection details. Whole numbers come back as integers (OpenBao's
/// `coerceFloatsToInt`), so `max_open_connections = 4` stays `4`, not `4.0`.
pub fn struct_to_map(s: Option<prost_types::Struct>) -> JsonMap {
    s.map(|s| {
        s.fields
            .into_iter()
            .map(|(k, v)| (k, value_to_json(v)))
            .collect()
    })
    .unwrap_or_default()
}

fn value_to_json(v: prost_types::Value) -> Value {
    match v.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(b),
        Some(Kind::NumberValue(f)) => number(f),
        Some(Kind::StringValue(s)) => Value::String(s),
        Some(Kind::ListValue(l)) => Value::Array(l.values.into_iter().map(value_to_json).collect()),
        Some(Kind::StructValue(s)) => Value::Object(struct_to_map(Some(s))),
    }
}

/// A double as JSON: an integer when it is whole and fits, `null` when it is not finite.
fn number(f: f64) -> Value {
    // The bounds are exact powers of two, so the comparison is exact.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if f.is_finite() && f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f) {
        #[allow(clippy::cast_possible_truncation)]
        return Value::from(f as i64);
    }
    serde_json::Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// A time as a `Timestamp`; `None` when it is outside the range a `Timestamp` may hold
/// (Go's `CheckValid`).
pub(crate) fn timestamp(t: &DateTime<Utc>) -> Option<prost_types::Timestamp> {
    let seconds = t.timestamp();
    (MIN_SECONDS..=MAX_SECONDS)
        .contains(&seconds)
        .then(|| prost_types::Timestamp {
            seconds,
            nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
        })
}

/// A `Timestamp` as a time, or why it is not one (Go's `CheckValid` texts).
pub(crate) fn time_of(t: &prost_types::Timestamp) -> Result<DateTime<Utc>, String> {
    if t.seconds < MIN_SECONDS {
        return Err(format!(
            "timestamp ({}, {}) before 0001-01-01",
            t.seconds, t.nanos
        ));
    }
    if t.seconds > MAX_SECONDS {
        return Err(format!(
            "timestamp ({}, {}) after 9999-12-31",
            t.seconds, t.nanos
        ));
    }
    let nanos = u32::try_from(t.nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)
        .ok_or_else(|| {
            format!(
                "timestamp ({}, {}) has out-of-range nanos",
                t.seconds, t.nanos
            )
        })?;
    DateTime::from_timestamp(t.seconds, nanos)
        .ok_or_else(|| format!("timestamp ({}, {}) is invalid", t.seconds, t.nanos))
}

/// A statement list as the protocol carries it (always present, as OpenBao's client sends it).
pub(crate) fn statements(commands: &[String]) -> Option<pb::Statements> {
    Some(pb::Statements {
        commands: commands.to_vec(),
    })
}

/// The commands of an optional statement list.
pub(crate) fn commands(s: Option<pb::Statements>) -> Vec<String> {
    s.map(|s| s.commands).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn details_round_trip_with_whole_numbers_as_integers() {
        let m = json!({
            "users_file": "/tmp/u.json",
            "max_open_connections": 4,
            "ratio": 0.5,
            "verify": true,
            "nothing": null,
            "list": ["a", 2],
            "nested": {"n": 7},
        });
        let Value::Object(m) = m else { unreachable!() };
        let back = struct_to_map(Some(map_to_struct(&m)));
        assert_eq!(Value::Object(back), Value::Object(m));
        assert_eq!(number(f64::NAN), Value::Null);
        assert_eq!(number(1e300), json!(1e300));
    }

    #[test]
    fn timestamps_check_their_range() {
        let t = DateTime::from_timestamp(1_700_000_000, 5).unwrap();
        let ts = timestamp(&t).unwrap();
        assert_eq!(time_of(&ts).unwrap(), t);
        let bad = prost_types::Timestamp {
            seconds: MAX_SECONDS + 1,
            nanos: 0,
        };
        assert!(time_of(&bad).unwrap_err().contains("after 9999-12-31"));
        assert!(timestamp(&DateTime::<Utc>::MAX_UTC).is_none());
    }
}
