//! Namespace label selectors (`bound_service_account_namespace_selector`): a Kubernetes
//! `LabelSelector` given as JSON or YAML, of which only `matchLabels` is supported, as
//! OpenBao supports it.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// Why a selector text is not one this method takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SelectorError {
    /// The text is empty.
    #[error("namespace selector is empty")]
    Empty,
    /// The text is not a JSON or YAML object of the selector's shape.
    #[error("{0}")]
    Malformed(String),
    /// `matchExpressions` was given.
    #[error("label selector match expressions are not supported")]
    Expressions,
}

/// A parsed selector: the labels a namespace must carry, each with the value given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LabelSelector {
    match_labels: BTreeMap<String, String>,
}

impl LabelSelector {
    /// Whether a namespace with `labels` is selected (an empty selector selects every one).
    pub(crate) fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k).is_some_and(|have| have == v))
    }

    /// The first label key that Kubernetes would refuse, as its validation words it.
    pub(crate) fn invalid_key(&self) -> Option<String> {
        self.match_labels
            .keys()
            .find(|k| !valid_label_key(k))
            .map(|k| {
                format!(
                    "key: Invalid value: {k:?}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
                )
            })
    }
}

/// A label key's name part (after an optional `prefix/`): alphanumerics, `-`, `_`, `.`,
/// starting and ending with an alphanumeric, at most 63 characters.
fn valid_label_key(key: &str) -> bool {
    let name = key.rsplit_once('/').map_or(key, |(_, n)| n);
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(ok_char)
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Parses a selector as OpenBao does: JSON when the text starts with `{`, else YAML (the
/// first document); unknown keys are ignored and key names match without regard to case.
pub(crate) fn parse(text: &str) -> Result<LabelSelector, SelectorError> {
    if text.is_empty() {
        return Err(SelectorError::Empty);
    }
    let value = if text.trim_start().starts_with('{') {
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
        match stream.next() {
            Some(Ok(v)) => v,
            Some(Err(e)) => return Err(SelectorError::Malformed(e.to_string())),
            None => Value::Null,
        }
    } else {
        let Some(doc) = serde_yaml::Deserializer::from_str(text).next() else {
            return Ok(LabelSelector::default());
        };
        let yaml = serde_yaml::Value::deserialize(doc)
            .map_err(|e| SelectorError::Malformed(e.to_string()))?;
        yaml_to_json(yaml)?
    };
    let fields = match value {
        Value::Null => return Ok(LabelSelector::default()),
        Value::Object(m) => m,
        other => {
            return Err(SelectorError::Malformed(format!(
                "cannot unmarshal {} into a label selector",
                kind_of(&other)
            )));
        }
    };
    let mut selector = LabelSelector::default();
    for (key, v) in fields {
        match key.to_ascii_lowercase().as_str() {
            "matchexpressions" if !v.is_null() => return Err(SelectorError::Expressions),
            "matchlabels" => selector.match_labels = labels_of(v)?,
            _ => {}
        }
    }
    Ok(selector)
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `matchLabels`: an object of scalar values (numbers and booleans are taken as their text).
fn labels_of(v: Value) -> Result<BTreeMap<String, String>, SelectorError> {
    let map = match v {
        Value::Null => return Ok(BTreeMap::new()),
        Value::Object(m) => m,
        other => {
            return Err(SelectorError::Malformed(format!(
                "cannot unmarshal {} into matchLabels",
                kind_of(&other)
            )));
        }
    };
    let mut out = BTreeMap::new();
    for (k, v) in map {
        let text = match v {
            Value::Null => String::new(),
            Value::String(s) => s,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            other => {
                return Err(SelectorError::Malformed(format!(
                    "cannot unmarshal {} into a label value",
                    kind_of(&other)
                )));
            }
        };
        out.insert(k, text);
    }
    Ok(out)
}

/// A YAML value as the JSON value Kubernetes' decoder makes of it (mapping keys as text).
fn yaml_to_json(v: serde_yaml::Value) -> Result<Value, SelectorError> {
    Ok(match v {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(b),
        serde_yaml::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }
        }
        serde_yaml::Value::String(s) => Value::String(s),
        serde_yaml::Value::Sequence(seq) => Value::Array(
            seq.into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        serde_yaml::Value::Mapping(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                let key = match yaml_to_json(k)? {
                    Value::String(s) => s,
                    Value::Null => "null".to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Number(n) => n.to_string(),
                    _ => {
                        return Err(SelectorError::Malformed(
                            "mapping keys must be scalars".into(),
                        ));
                    }
                };
                out.insert(key, yaml_to_json(v)?);
            }
            Value::Object(out)
        }
        serde_yaml::Value::Tagged(t) => yaml_to_json(t.value)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn json_and_yaml_select_by_labels() {
        for text in [
            r#"{"matchLabels":{"team":"a"}}"#,
            "matchLabels:\n  team: a\n",
            r#"  {"MatchLabels":{"team":"a"}} trailing"#,
        ] {
            let s = parse(text).unwrap();
            assert!(s.matches(&labels(&[("team", "a"), ("x", "y")])), "{text}");
            assert!(!s.matches(&labels(&[("team", "b")])), "{text}");
            assert!(!s.matches(&labels(&[])), "{text}");
        }
    }

    #[test]
    fn scalars_become_text_and_empty_selects_all() {
        let s = parse("matchLabels:\n  n: 1\n  b: true").unwrap();
        assert!(s.matches(&labels(&[("n", "1"), ("b", "true")])));
        for text in [
            "{}",
            r#"{"matchLabels":null}"#,
            "foo: bar",
            "matchExpressions: null",
        ] {
            assert!(parse(text).unwrap().matches(&labels(&[])), "{text}");
        }
    }

    #[test]
    fn refusals() {
        assert_eq!(parse(""), Err(SelectorError::Empty));
        assert_eq!(
            parse(r#"{"matchExpressions":[]}"#),
            Err(SelectorError::Expressions)
        );
        for text in [
            "garbage",
            "[]",
            "\"str\"",
            "{bad json",
            "matchLabels: x",
            "matchLabels:\n  n: [1]",
            "matchLabels: [1",
        ] {
            assert!(
                matches!(parse(text), Err(SelectorError::Malformed(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn label_keys_are_checked_as_kubernetes_does() {
        assert!(
            parse("matchLabels:\n  ok.io/x-y: v")
                .unwrap()
                .invalid_key()
                .is_none()
        );
        let bad = parse("matchLabels:\n  \"bad key!\": x")
            .unwrap()
            .invalid_key()
            .unwrap();
        assert!(bad.starts_with("key: Invalid value: \"bad key!\": name part must"));
    }
}
