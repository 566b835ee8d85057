//! Typed fields and the conversions Vault applies to request parameters.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::duration::parse_duration_value;
use crate::number::number_text;
use crate::{JsonMap, LogicalError};

/// The type of a field; conversions follow Vault's framework.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A string; numbers are taken as written, booleans become `1`/`0`.
    String,
    /// A signed integer; strings are parsed as Go's `ParseInt` with base 0, booleans are 1/0.
    Int,
    /// A boolean; text and numbers as Go's `ParseBool` (`"true"`, `"T"`, `1`, `"0"`, ...).
    Bool,
    /// A JSON object; an empty list is an empty object, a list of objects is merged.
    Map,
    /// Any JSON array.
    Slice,
    /// A list of strings; a single value becomes a one-element list (a string is not split).
    StringSlice,
    /// A list of strings; a string is split on commas.
    CommaStringSlice,
    /// A list of integers; a string is split on commas (`"1,2"`), one value is a list of one.
    CommaIntSlice,
    /// A duration: seconds or a duration string, returned in seconds.
    DurationSecond,
    /// Key/value pairs: an object, or a list of `k=v` strings.
    KvPairs,
    /// A string, lower-cased.
    LowerCaseString,
    /// A header map: object of string or string list values.
    Header,
    /// Any JSON value, untouched.
    Any,
}

/// One declared field of a path.
#[derive(Debug, Clone)]
pub struct Field {
    /// The parameter name.
    pub name: String,
    /// Its type.
    pub kind: FieldType,
    /// The value used when the request does not give one.
    pub default: Option<Value>,
    /// What it means.
    pub description: String,
    /// Whether the request must give it (checked by handlers that ask for it).
    pub required: bool,
    /// Given in the URL's query rather than the body (how the OpenAPI document places it).
    pub query: bool,
}

impl Field {
    /// A field with no default.
    pub fn new(name: impl Into<String>, kind: FieldType, description: impl Into<String>) -> Field {
        Field {
            name: name.into(),
            kind,
            default: None,
            description: description.into(),
            required: false,
            query: false,
        }
    }

    /// Sets the default.
    pub fn default_value(mut self, v: Value) -> Field {
        self.default = Some(v);
        self
    }

    /// Marks the field required.
    pub fn required(mut self) -> Field {
        self.required = true;
        self
    }

    /// Marks the field as one given in the URL's query (OpenAPI's `in: query`).
    pub fn query(mut self) -> Field {
        self.query = true;
        self
    }
}

/// The parameters of one request, converted on access by the declared field types.
#[derive(Debug, Clone)]
pub struct FieldData {
    raw: JsonMap,
    schema: Arc<BTreeMap<String, Field>>,
}

/// Go's name for the type a JSON value decodes to in Vault (numbers stay `json.Number`).
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "json.Number",
        Value::Bool(_) => "bool",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
        Value::Null => "<nil>",
    }
}

/// mapstructure's refusal of a value it cannot convert; `at` is `''` or `'[i]'`.
fn unconvertible(at: &str, want: &str, v: &Value) -> String {
    format!(
        "{at} expected type '{want}', got unconvertible type '{}'",
        go_type(v)
    )
}

/// mapstructure's error for a list whose elements failed: every failure, one a line.
fn list_errors(errors: &[String]) -> String {
    format!(
        "decoding failed due to the following error(s):\n\n{}",
        errors.join("\n")
    )
}

/// mapstructure's weak decode to a string: numbers as written, `true`/`false` as `1`/`0`.
fn weak_string(at: &str, v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(number_text(n)),
        Value::Bool(b) => Ok(if *b { "1" } else { "0" }.to_owned()),
        Value::Null => Ok(String::new()),
        other => Err(unconvertible(at, "string", other)),
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`: a sign, then decimal, `0x` hex, `0o`/`0` octal or `0b`
/// binary digits, `_` allowed between digits when a base prefix is used.
fn go_parse_int_base0(s: &str) -> Result<i64, &'static str> {
    let (negative, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d, true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d, true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d, true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..], true)
    } else {
        (10, lower.as_str(), false)
    };
    // Underscores only between digits (or after a base prefix), and only with base 0 prefixes.
    let underscores_ok = prefixed || radix == 10;
    if digits.is_empty()
        || digits.starts_with('_') && !prefixed
        || digits.ends_with('_')
        || digits.contains("__")
        || (!underscores_ok && digits.contains('_'))
    {
        return Err("invalid syntax");
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if clean.is_empty() || !clean.chars().all(|c| c.is_digit(radix)) {
        return Err("invalid syntax");
    }
    let magnitude = u64::from_str_radix(&clean, radix).map_err(|_| "value out of range")?;
    if negative {
        0i64.checked_sub_unsigned(magnitude)
            .ok_or("value out of range")
    } else {
        i64::try_from(magnitude).map_err(|_| "value out of range")
    }
}

/// mapstructure's weak decode to `int`; `at` is `''` or `'[i]'`.
fn weak_int(at: &str, v: &Value) -> Result<i64, String> {
    let parse = |text: &str| {
        go_parse_int_base0(text)
            .map_err(|why| format!("{at} cannot parse value as 'int': strconv.ParseInt: {why}"))
    };
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => Ok(i),
            None => parse(&number_text(n)),
        },
        Value::String(s) if s.is_empty() => Ok(0),
        Value::String(s) => parse(s),
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Null => Ok(0),
        other => Err(unconvertible(at, "int", other)),
    }
}

/// `TypeCommaIntSlice`: a list (or a comma-separated string, or one value) of integers, each
/// decoded as [`weak_int`], every failing element named.
fn comma_ints(v: &Value) -> Result<Vec<i64>, String> {
    let items: Vec<Value> = match v {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        Value::String(s) if s.is_empty() => Vec::new(),
        Value::String(s) => s.split(',').map(|p| Value::String(p.to_owned())).collect(),
        other => vec![other.clone()],
    };
    let mut out = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match weak_int(&format!("'[{i}]'"), item) {
            Ok(n) => out.push(n),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(list_errors(&errors))
    }
}

/// mapstructure's weak decode to `bool` (Go's `strconv.ParseBool` for text and numbers).
fn weak_bool(v: &Value) -> Result<bool, String> {
    let parse = |text: &str| match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" | "" => Ok(false),
        _ => Err("'' cannot parse value as 'bool': strconv.ParseBool: invalid syntax".to_owned()),
    };
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) => parse(&number_text(n)),
        Value::String(s) => parse(s),
        Value::Null => Ok(false),
        other => Err(unconvertible("''", "bool", other)),
    }
}

/// mapstructure's weak decode to `[]string`: a single value becomes a one-element list, each
/// element is decoded as a string, every failing element is named.
fn weak_strings(v: &Value) -> Result<Vec<String>, String> {
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    };
    let mut out = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        match weak_string(&format!("'[{i}]'"), item) {
            Ok(s) => out.push(s),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(list_errors(&errors))
    }
}

/// `TypeKVPairs`: an object of string values, else a list of `key=value` strings.
fn kv_pairs(name: &str, v: &Value) -> Result<JsonMap, String> {
    if let Value::Object(m) = v {
        let as_strings: Result<JsonMap, String> = m
            .iter()
            .map(|(k, val)| {
                weak_string(&format!("'[{k}]'"), val).map(|s| (k.clone(), Value::String(s)))
            })
            .collect();
        if let Ok(map) = as_strings {
            return Ok(map);
        }
    }
    if matches!(v, Value::Array(a) if a.is_empty()) || v.is_null() {
        return Ok(JsonMap::new());
    }
    // The object form failed: the list form decides the error, as in Vault.
    let list = weak_strings(v)?;
    let mut out = JsonMap::new();
    for (i, pair) in list.iter().enumerate() {
        match pair.split_once('=') {
            Some((k, val)) if !k.is_empty() => {
                out.insert(k.to_owned(), Value::String(val.to_owned()));
            }
            _ => return Err(format!("invalid key pair at index {i} in field {name:?}")),
        }
    }
    Ok(out)
}

/// Converts `v` to the canonical JSON form of `kind` as Vault's `FieldData` does (mapstructure's
/// weak decode), or says why it cannot, in mapstructure's words.
fn convert_inner(name: &str, kind: FieldType, v: &Value) -> Result<Value, String> {
    Ok(match kind {
        FieldType::Any => v.clone(),
        FieldType::String => Value::String(weak_string("''", v)?),
        FieldType::LowerCaseString => Value::String(weak_string("''", v)?.to_lowercase()),
        FieldType::Int => Value::from(weak_int("''", v)?),
        FieldType::CommaIntSlice => Value::from(comma_ints(v)?),
        FieldType::Bool => Value::Bool(weak_bool(v)?),
        FieldType::Map | FieldType::Header => match v {
            Value::Object(_) => v.clone(),
            Value::Null => Value::Object(JsonMap::new()),
            Value::Array(a) => {
                // Weak decode: an empty list is an empty map, a list of maps is merged.
                let mut merged = JsonMap::new();
                for (i, item) in a.iter().enumerate() {
                    match item {
                        Value::Object(m) => merged.extend(m.clone()),
                        other => {
                            return Err(unconvertible(
                                &format!("'[{i}]'"),
                                "map[string]interface {}",
                                other,
                            ));
                        }
                    }
                }
                Value::Object(merged)
            }
            other => return Err(unconvertible("''", "map[string]interface {}", other)),
        },
        FieldType::Slice => match v {
            Value::Array(_) => v.clone(),
            Value::Null => Value::Array(vec![]),
            other => Value::Array(vec![other.clone()]),
        },
        FieldType::StringSlice => {
            let list = match v {
                Value::String(s) if s.is_empty() => Vec::new(),
                _ => weak_strings(v)?,
            };
            Value::Array(
                list.iter()
                    .map(|s| Value::String(s.trim().to_owned()))
                    .collect(),
            )
        }
        FieldType::CommaStringSlice => {
            let list = match v {
                Value::String(s) if s.is_empty() => Vec::new(),
                Value::String(s) => s.split(',').map(str::to_owned).collect(),
                Value::Number(n) => number_text(n).split(',').map(str::to_owned).collect(),
                _ => weak_strings(v)?,
            };
            Value::Array(
                list.iter()
                    .map(|s| Value::String(s.trim().to_owned()))
                    .collect(),
            )
        }
        FieldType::DurationSecond => {
            let d = parse_duration_value(v).map_err(|e| e.to_string())?;
            Value::from(d.as_secs())
        }
        FieldType::KvPairs => Value::Object(kv_pairs(name, v)?),
    })
}

/// Whether `v` converts to `kind` whatever it holds, so checking it needs no converted copy
/// (a `batch_input` of many items, a long string).
fn always_converts(kind: FieldType, v: &Value) -> bool {
    match kind {
        FieldType::Any | FieldType::Slice => true,
        FieldType::String => !matches!(v, Value::Array(_) | Value::Object(_)),
        _ => false,
    }
}

/// [`convert_inner`] with the 400 Vault's framework answers: `Field validation failed: error
/// converting input for field "<name>": …`.
fn convert(name: &str, kind: FieldType, v: &Value) -> Result<Value, LogicalError> {
    convert_inner(name, kind, v).map_err(|why| {
        LogicalError::bad_request(format!(
            "Field validation failed: error converting input for field {name:?}: {why}"
        ))
    })
}

/// Converts one parameter as a field of `kind` would, for code that reads request data
/// without a schema (the core's token and `sys/` endpoints): the same conversions and the same
/// 400 texts as the framework.
pub fn convert_field(name: &str, kind: FieldType, v: &Value) -> Result<Value, LogicalError> {
    convert(name, kind, v)
}

/// [`convert_field`] with the bare reason on failure (mapstructure's or Go's words), for
/// handlers that word the 400 themselves, as OpenBao's token roles do
/// (`error converting input for field "<name>": <reason>`).
pub fn convert_field_reason(name: &str, kind: FieldType, v: &Value) -> Result<Value, String> {
    convert_inner(name, kind, v)
}

impl FieldData {
    /// Wraps raw parameters with their schema.
    pub fn new(raw: JsonMap, schema: Arc<BTreeMap<String, Field>>) -> FieldData {
        FieldData { raw, schema }
    }

    /// Checks every given declared parameter converts; a 400 naming the first that does not.
    pub fn validate(&self) -> Result<(), LogicalError> {
        for (k, v) in &self.raw {
            if let Some(f) = self.schema.get(k)
                && !always_converts(f.kind, v)
            {
                convert(k, f.kind, v)?;
            }
        }
        Ok(())
    }

    /// Parameters given that no field declares, sorted.
    pub fn unknown_fields(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .raw
            .keys()
            .filter(|k| !self.schema.contains_key(*k))
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// The raw parameters.
    pub fn raw(&self) -> &JsonMap {
        &self.raw
    }

    /// Takes the raw parameters out.
    pub fn into_raw(self) -> JsonMap {
        self.raw
    }

    /// Whether the request gave `name`.
    pub fn is_set(&self, name: &str) -> bool {
        self.raw.contains_key(name)
    }

    /// The declared field `name`, or the internal error of a handler asking for an undeclared one.
    fn field(&self, name: &str) -> Result<&Field, LogicalError> {
        self.schema
            .get(name)
            .ok_or_else(|| LogicalError::internal(format!("field {name:?} not in the schema")))
    }

    /// The converted value given, if any (no default).
    pub fn get_given(&self, name: &str) -> Result<Option<Value>, LogicalError> {
        let f = self.field(name)?;
        match self.raw.get(name) {
            Some(v) => Ok(Some(convert(name, f.kind, v)?)),
            None => Ok(None),
        }
    }

    /// The converted value, or the default, or the type's zero value.
    pub fn get(&self, name: &str) -> Result<Value, LogicalError> {
        let f = self.field(name)?;
        let v = self
            .raw
            .get(name)
            .or(f.default.as_ref())
            .unwrap_or(&Value::Null);
        convert(name, f.kind, v)
    }

    /// A string field.
    pub fn get_str(&self, name: &str) -> Result<String, LogicalError> {
        Ok(match self.get(name)? {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        })
    }

    /// An integer field.
    pub fn get_i64(&self, name: &str) -> Result<i64, LogicalError> {
        Ok(self.get(name)?.as_i64().unwrap_or(0))
    }

    /// A boolean field.
    pub fn get_bool(&self, name: &str) -> Result<bool, LogicalError> {
        Ok(self.get(name)?.as_bool().unwrap_or(false))
    }

    /// A duration field.
    pub fn get_duration(&self, name: &str) -> Result<Duration, LogicalError> {
        Ok(Duration::from_secs(self.get(name)?.as_u64().unwrap_or(0)))
    }

    /// A list-of-strings field.
    pub fn get_strings(&self, name: &str) -> Result<Vec<String>, LogicalError> {
        Ok(match self.get(name)? {
            Value::Array(a) => a
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        })
    }

    /// An object field.
    pub fn get_map(&self, name: &str) -> Result<JsonMap, LogicalError> {
        Ok(match self.get(name)? {
            Value::Object(m) => m,
            _ => JsonMap::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fd(raw: Value, fields: Vec<Field>) -> FieldData {
        let schema: BTreeMap<String, Field> =
            fields.into_iter().map(|f| (f.name.clone(), f)).collect();
        FieldData::new(raw.as_object().cloned().unwrap(), Arc::new(schema))
    }

    #[test]
    fn conversions_follow_vault() {
        let d = fd(
            json!({"b": "true", "i": "42", "s": 7, "c": "a, b", "t": "1h", "kv": ["x=1", "y=2"], "l": " MiXed "}),
            vec![
                Field::new("b", FieldType::Bool, ""),
                Field::new("i", FieldType::Int, ""),
                Field::new("s", FieldType::String, ""),
                Field::new("c", FieldType::CommaStringSlice, ""),
                Field::new("t", FieldType::DurationSecond, ""),
                Field::new("kv", FieldType::KvPairs, ""),
                Field::new("l", FieldType::LowerCaseString, ""),
                Field::new("d", FieldType::Int, "").default_value(json!(9)),
                Field::new("ss", FieldType::StringSlice, ""),
            ],
        );
        d.validate().unwrap();
        assert!(d.get_bool("b").unwrap());
        assert_eq!(d.get_i64("i").unwrap(), 42);
        assert_eq!(d.get_str("s").unwrap(), "7");
        assert_eq!(d.get_strings("c").unwrap(), vec!["a", "b"]);
        assert_eq!(d.get_duration("t").unwrap().as_secs(), 3600);
        assert_eq!(d.get_map("kv").unwrap()["y"], "2");
        assert_eq!(d.get_str("l").unwrap(), " mixed ");
        assert_eq!(d.get_i64("d").unwrap(), 9);
        assert!(d.get_strings("ss").unwrap().is_empty());
        assert!(!d.is_set("d"));
    }

    /// Each row: a field type, the JSON given, what it converts to or the text after
    /// `error converting input for field "f": `. Texts are OpenBao 2.7.2's (token create and
    /// KV answers), whose field parser is mapstructure's weak decode.
    #[test]
    fn conversions_table() {
        use FieldType as T;
        let rows: Vec<(FieldType, Value, Result<Value, &str>)> = vec![
            (T::CommaStringSlice, json!(5), Ok(json!(["5"]))),
            (T::CommaStringSlice, json!(true), Ok(json!(["1"]))),
            (
                T::CommaStringSlice,
                json!("a, b,,c"),
                Ok(json!(["a", "b", "", "c"])),
            ),
            (T::CommaStringSlice, json!(""), Ok(json!([]))),
            (T::StringSlice, json!(5), Ok(json!(["5"]))),
            (T::StringSlice, json!("a, b"), Ok(json!(["a, b"]))),
            (T::StringSlice, json!([" a ", ""]), Ok(json!(["a", ""]))),
            (T::StringSlice, json!(null), Ok(json!([]))),
            (
                T::StringSlice,
                json!({"a": 1}),
                Err(
                    "decoding failed due to the following error(s):\n\n'[0]' expected type 'string', got unconvertible type 'map[string]interface {}'",
                ),
            ),
            (
                T::CommaStringSlice,
                json!([{"a": 1}, [2], {"b": 1}]),
                Err(
                    "decoding failed due to the following error(s):\n\n'[0]' expected type 'string', got unconvertible type 'map[string]interface {}'\n'[1]' expected type 'string', got unconvertible type '[]interface {}'\n'[2]' expected type 'string', got unconvertible type 'map[string]interface {}'",
                ),
            ),
            (T::String, json!(5), Ok(json!("5"))),
            (T::String, json!(1e30), Ok(json!("1e+30"))),
            (T::String, json!(true), Ok(json!("1"))),
            (
                T::String,
                json!({"a": 1}),
                Err("'' expected type 'string', got unconvertible type 'map[string]interface {}'"),
            ),
            (
                T::String,
                json!([1]),
                Err("'' expected type 'string', got unconvertible type '[]interface {}'"),
            ),
            (T::Bool, json!("TRUE"), Ok(json!(true))),
            (T::Bool, json!(1), Ok(json!(true))),
            (T::Bool, json!(""), Ok(json!(false))),
            (
                T::Bool,
                json!("yes"),
                Err("'' cannot parse value as 'bool': strconv.ParseBool: invalid syntax"),
            ),
            (
                T::Bool,
                json!(5),
                Err("'' cannot parse value as 'bool': strconv.ParseBool: invalid syntax"),
            ),
            (
                T::Bool,
                json!([true]),
                Err("'' expected type 'bool', got unconvertible type '[]interface {}'"),
            ),
            (T::Int, json!("0x10"), Ok(json!(16))),
            (T::Int, json!("010"), Ok(json!(8))),
            (T::Int, json!("1_000"), Ok(json!(1000))),
            (T::Int, json!(true), Ok(json!(1))),
            (T::Int, json!(""), Ok(json!(0))),
            (
                T::Int,
                json!("x"),
                Err("'' cannot parse value as 'int': strconv.ParseInt: invalid syntax"),
            ),
            (
                T::Int,
                json!(1.5),
                Err("'' cannot parse value as 'int': strconv.ParseInt: invalid syntax"),
            ),
            (
                T::Int,
                json!(1e3),
                Err("'' cannot parse value as 'int': strconv.ParseInt: invalid syntax"),
            ),
            (
                T::Int,
                json!(u64::MAX),
                Err("'' cannot parse value as 'int': strconv.ParseInt: value out of range"),
            ),
            (
                T::Int,
                json!([1]),
                Err("'' expected type 'int', got unconvertible type '[]interface {}'"),
            ),
            (T::Map, json!([]), Ok(json!({}))),
            (
                T::Map,
                json!([{"a": 1}, {"b": 2}]),
                Ok(json!({"a": 1, "b": 2})),
            ),
            (
                T::Map,
                json!("abc"),
                Err("'' expected type 'map[string]interface {}', got unconvertible type 'string'"),
            ),
            (
                T::Map,
                json!(5),
                Err(
                    "'' expected type 'map[string]interface {}', got unconvertible type 'json.Number'",
                ),
            ),
            (
                T::Map,
                json!([1]),
                Err(
                    "'[0]' expected type 'map[string]interface {}', got unconvertible type 'json.Number'",
                ),
            ),
            (
                T::KvPairs,
                json!({"a": 1, "b": true}),
                Ok(json!({"a": "1", "b": "1"})),
            ),
            (
                T::KvPairs,
                json!(["a=1", "b=x=y"]),
                Ok(json!({"a": "1", "b": "x=y"})),
            ),
            (T::KvPairs, json!([]), Ok(json!({}))),
            (
                T::KvPairs,
                json!("x"),
                Err("invalid key pair at index 0 in field \"f\""),
            ),
            (
                T::KvPairs,
                json!(5),
                Err("invalid key pair at index 0 in field \"f\""),
            ),
            (
                T::KvPairs,
                json!(["a=1", "b"]),
                Err("invalid key pair at index 1 in field \"f\""),
            ),
            (
                T::KvPairs,
                json!({"a": {"b": 1}}),
                Err(
                    "decoding failed due to the following error(s):\n\n'[0]' expected type 'string', got unconvertible type 'map[string]interface {}'",
                ),
            ),
            (T::DurationSecond, json!("1h"), Ok(json!(3600))),
            (T::DurationSecond, json!(90), Ok(json!(90))),
            (
                T::DurationSecond,
                json!(1e30),
                Err("time: unknown unit \"e+\" in duration \"1e+30\""),
            ),
            (
                T::DurationSecond,
                json!(1.5),
                Err("time: missing unit in duration \"1.5\""),
            ),
            (
                T::DurationSecond,
                json!(-5),
                Err("cannot provide negative value '-5'"),
            ),
            (
                T::DurationSecond,
                json!([1]),
                Err("could not parse duration from input"),
            ),
            (T::LowerCaseString, json!("MiXed"), Ok(json!("mixed"))),
            (T::CommaIntSlice, json!("1,2"), Ok(json!([1, 2]))),
            (T::CommaIntSlice, json!(3), Ok(json!([3]))),
            (T::CommaIntSlice, json!([-1, "4"]), Ok(json!([-1, 4]))),
            (
                T::CommaIntSlice,
                json!([u64::MAX]),
                Err(
                    "decoding failed due to the following error(s):\n\n'[0]' cannot parse value as 'int': strconv.ParseInt: value out of range",
                ),
            ),
            (
                T::CommaIntSlice,
                json!("99999999999999999999"),
                Err(
                    "decoding failed due to the following error(s):\n\n'[0]' cannot parse value as 'int': strconv.ParseInt: value out of range",
                ),
            ),
            (
                T::CommaIntSlice,
                json!([1e30]),
                Err(
                    "decoding failed due to the following error(s):\n\n'[0]' cannot parse value as 'int': strconv.ParseInt: invalid syntax",
                ),
            ),
            (
                T::CommaIntSlice,
                json!({"a": 1}),
                Err(
                    "decoding failed due to the following error(s):\n\n'[0]' expected type 'int', got unconvertible type 'map[string]interface {}'",
                ),
            ),
        ];
        for (kind, given, want) in rows {
            let got = convert("f", kind, &given).map_err(|e| e.to_string());
            let want = want.map_err(|why| {
                format!("Field validation failed: error converting input for field \"f\": {why}")
            });
            assert_eq!(got, want, "{kind:?} {given}");
        }
    }

    #[test]
    fn bad_values_are_400() {
        let d = fd(json!({"i": "x"}), vec![Field::new("i", FieldType::Int, "")]);
        let e = d.validate().unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.to_string().contains("\"i\""));
        let d = fd(
            json!({"b": "maybe"}),
            vec![Field::new("b", FieldType::Bool, "")],
        );
        assert!(d.validate().is_err());
    }
}
