//! `batch_input` items and the status of a batch answer.

use std::borrow::Cow;

use arca_sdk::framework::FieldData;
use arca_sdk::{JsonMap, LogicalError, Response};
use serde_json::Value;

/// The item a `null` element of `batch_input` stands for.
static EMPTY_ITEM: std::sync::LazyLock<JsonMap> = std::sync::LazyLock::new(JsonMap::new);

/// The items of `batch_input`, or `None` when the request has none.
pub fn items(d: &FieldData) -> Result<Option<Vec<JsonMap>>, LogicalError> {
    Ok(items_ref(d)?.map(|list| list.into_iter().cloned().collect()))
}

/// [`items`] borrowed from the request (no copy of a large batch).
pub fn items_ref(d: &FieldData) -> Result<Option<Vec<&JsonMap>>, LogicalError> {
    let Some(raw) = d.raw().get("batch_input") else {
        return Ok(None);
    };
    match raw {
        Value::Null => Ok(None),
        Value::Object(m) => Ok(Some(vec![m])),
        Value::Array(list) => {
            let mut out = Vec::with_capacity(list.len());
            for (i, v) in list.iter().enumerate() {
                match v {
                    Value::Object(m) => out.push(m),
                    // mapstructure decodes a null element as the zero item, as OpenBao does.
                    Value::Null => out.push(&EMPTY_ITEM),
                    _ => {
                        return Err(LogicalError::invalid_input(format!(
                            "failed to parse batch input: '[{i}]' expected a map, got '{}'",
                            type_name(v)
                        )));
                    }
                }
            }
            Ok(Some(out))
        }
        other => Err(LogicalError::invalid_input(format!(
            "failed to parse batch input: expected a list of objects, got {other}"
        ))),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "float64",
        Value::Bool(_) => "bool",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
        Value::Null => "invalid",
    }
}

/// A string field of an item (`""` when absent); numbers and booleans as text. A string is
/// borrowed, not copied.
pub fn item_str<'a>(item: &'a JsonMap, key: &str) -> Cow<'a, str> {
    item.get(key).map_or(Cow::Borrowed(""), value_str)
}

/// An item field's value as [`item_str`] reads it.
pub fn value_str(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s) => Cow::Borrowed(s),
        Value::Number(n) => Cow::Owned(n.to_string()),
        Value::Bool(b) => Cow::Borrowed(if *b { "1" } else { "0" }),
        _ => Cow::Borrowed(""),
    }
}

/// An integer field's value of an item (0 when not a number or a numeric string).
pub fn value_int(v: &Value) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

/// OpenBao's `batchRequestResponse`: a batch with failed items answers 400 (a caller's error)
/// or 500, unless some item succeeded and `partial_failure_response_code` says otherwise.
pub fn finish(
    d: &FieldData,
    mut resp: Response,
    successes: bool,
    user_error: bool,
    internal_error: bool,
) -> Result<Option<Response>, LogicalError> {
    if user_error || internal_error {
        let mut code = if user_error { 400 } else { 500 };
        if successes && let Ok(Some(v)) = d.get_given("partial_failure_response_code") {
            let new = v.as_i64().unwrap_or(0);
            if (1..=599).contains(&new) {
                code = new as u16;
            } else {
                resp.warn(format!(
                    "invalid HTTP response code override from partial_failure_response_code, reverting to {code}"
                ));
            }
        }
        resp.status = Some(code);
    }
    Ok(Some(resp))
}
