//! Identity templating, as OpenBao's `identitytpl` fills `{{identity.entity.id}}`-style
//! directives: in ACL mode for policy paths (a missing value is an error), in JSON mode for
//! identity-token templates (values JSON-encoded, a missing alias or key gives empty values).

use std::collections::BTreeMap;

/// An entity as templates see it.
#[derive(Debug, Clone, Default)]
pub(crate) struct TemplateEntity {
    /// The entity ID.
    pub id: String,
    /// The entity name.
    pub name: String,
    /// The entity's metadata.
    pub metadata: BTreeMap<String, String>,
    /// Its aliases.
    pub aliases: Vec<TemplateAlias>,
}

/// An entity alias as templates see it.
#[derive(Debug, Clone, Default)]
pub(crate) struct TemplateAlias {
    /// The accessor of the alias's auth mount.
    pub mount_accessor: String,
    /// The alias ID.
    pub id: String,
    /// The alias name.
    pub name: String,
    /// Metadata the auth method set.
    pub metadata: BTreeMap<String, String>,
    /// Metadata an operator set.
    pub custom_metadata: BTreeMap<String, String>,
}

/// A group as templates see it.
#[derive(Debug, Clone, Default)]
pub(crate) struct TemplateGroup {
    /// The group ID.
    pub id: String,
    /// The group name.
    pub name: String,
    /// The namespace the group lives in.
    pub namespace_id: String,
    /// The group's metadata.
    pub metadata: BTreeMap<String, String>,
}

/// How directives are replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Policy paths: plain strings; a missing value fails.
    Acl,
    /// Token templates: JSON values (strings quoted, lists and maps encoded).
    Json,
}

/// What a template is filled from.
pub(crate) struct TemplateInput<'a> {
    /// The entity, when the token has one.
    pub entity: Option<&'a TemplateEntity>,
    /// The groups the entity is in (direct and inherited).
    pub groups: &'a [TemplateGroup],
    /// The namespace of the request (groups by name are looked up in it).
    pub namespace_id: &'a str,
    /// The time `time.now` means, in Unix seconds.
    pub now: i64,
    /// The replacement mode.
    pub mode: Mode,
}

/// Why a template could not be filled; the texts are OpenBao's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TemplateError {
    /// `{{` and `}}` do not pair up.
    #[error("unbalanced templating characters")]
    Unbalanced,
    /// An `identity.entity.` directive without an entity.
    #[error("string contains entity template directives but no entity was provided")]
    NoEntity,
    /// An `identity.groups.` directive without groups.
    #[error("string contains groups template directives but no groups were provided")]
    NoGroups,
    /// A directive with nothing to put in its place.
    #[error("no value could be found for one of the template directives")]
    NotFound,
    /// Any other problem with one directive.
    #[error("{0}")]
    Other(String),
}

/// One directive's value before encoding.
enum Value<'a> {
    Str(&'a str),
    List(Vec<&'a str>),
    Map(&'a BTreeMap<String, String>, Option<&'a str>),
}

fn encode(mode: Mode, v: Value<'_>) -> Result<String, TemplateError> {
    let json = |v: serde_json::Value| v.to_string();
    match (mode, v) {
        (Mode::Acl, Value::Str("")) => Err(TemplateError::NotFound),
        (Mode::Acl, Value::Str(s)) => Ok(s.to_string()),
        (Mode::Acl, Value::List(_)) => Err(TemplateError::NotFound),
        (Mode::Acl, Value::Map(m, Some(k))) => m.get(k).cloned().ok_or(TemplateError::NotFound),
        (Mode::Acl, Value::Map(_, None)) => Err(TemplateError::NotFound),
        (Mode::Json, Value::Str(s)) => Ok(json(s.into())),
        (Mode::Json, Value::List(l)) => Ok(json(l.into())),
        (Mode::Json, Value::Map(m, Some(k))) => {
            Ok(json(m.get(k).map_or("", String::as_str).into()))
        }
        (Mode::Json, Value::Map(m, None)) => Ok(json(serde_json::json!(m))),
    }
}

/// Fills every `{{ … }}` directive of `template`; says whether there was one.
pub(crate) fn populate(
    template: &str,
    input: &TemplateInput<'_>,
) -> Result<(bool, String), TemplateError> {
    if template.is_empty() {
        return Ok((false, String::new()));
    }
    let mut pieces = template.split("{{");
    let first = pieces.next().unwrap_or_default();
    if first.contains("}}") {
        return Err(TemplateError::Unbalanced);
    }
    let mut out = String::with_capacity(template.len() * 2);
    out.push_str(first);
    let mut substituted = false;
    for piece in pieces {
        let mut parts = piece.split("}}");
        let (Some(directive), Some(rest), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(TemplateError::Unbalanced);
        };
        substituted = true;
        out.push_str(&directive_value(directive.trim(), input)?);
        out.push_str(rest);
    }
    Ok((substituted, out))
}

fn directive_value(d: &str, input: &TemplateInput<'_>) -> Result<String, TemplateError> {
    if let Some(rest) = d.strip_prefix("identity.entity.") {
        let entity = input.entity.ok_or(TemplateError::NoEntity)?;
        return entity_value(rest, entity, input);
    }
    if let Some(rest) = d.strip_prefix("identity.groups.") {
        if input.groups.is_empty() {
            return Err(TemplateError::NoGroups);
        }
        return group_value(rest, input);
    }
    if let Some(rest) = d.strip_prefix("time.") {
        return time_value(rest, input.now);
    }
    Err(TemplateError::NotFound)
}

fn entity_value(
    d: &str,
    e: &TemplateEntity,
    input: &TemplateInput<'_>,
) -> Result<String, TemplateError> {
    let mode = input.mode;
    match d {
        "id" => return encode(mode, Value::Str(&e.id)),
        "name" => return encode(mode, Value::Str(&e.name)),
        "metadata" => return encode(mode, Value::Map(&e.metadata, None)),
        "groups.names" => {
            return encode(
                mode,
                Value::List(input.groups.iter().map(|g| g.name.as_str()).collect()),
            );
        }
        "groups.ids" => {
            return encode(
                mode,
                Value::List(input.groups.iter().map(|g| g.id.as_str()).collect()),
            );
        }
        _ => {}
    }
    if let Some(key) = d.strip_prefix("metadata.") {
        return encode(mode, Value::Map(&e.metadata, Some(key)));
    }
    if let Some(rest) = d.strip_prefix("aliases.") {
        let Some((accessor, field)) = rest.split_once('.') else {
            return Err(TemplateError::Other("invalid alias selector".into()));
        };
        let empty = TemplateAlias::default();
        let alias = match e.aliases.iter().find(|a| a.mount_accessor == accessor) {
            Some(a) => a,
            None if mode == Mode::Acl => {
                return Err(TemplateError::Other("alias not found".into()));
            }
            None => &empty,
        };
        return alias_value(field, alias, mode);
    }
    Err(TemplateError::NotFound)
}

fn alias_value(d: &str, a: &TemplateAlias, mode: Mode) -> Result<String, TemplateError> {
    match d {
        "id" => encode(mode, Value::Str(&a.id)),
        "name" => encode(mode, Value::Str(&a.name)),
        "metadata" => encode(mode, Value::Map(&a.metadata, None)),
        "custom_metadata" => encode(mode, Value::Map(&a.custom_metadata, None)),
        _ => {
            if let Some(key) = d.strip_prefix("metadata.") {
                encode(mode, Value::Map(&a.metadata, Some(key)))
            } else if let Some(key) = d.strip_prefix("custom_metadata.") {
                encode(mode, Value::Map(&a.custom_metadata, Some(key)))
            } else {
                Err(TemplateError::NotFound)
            }
        }
    }
}

/// `identity.groups.ids.<id>.<field>` / `identity.groups.names.<name>.<field>`: the raw value,
/// unencoded in either mode (as OpenBao).
fn group_value(d: &str, input: &TemplateInput<'_>) -> Result<String, TemplateError> {
    let (by_id, rest) = match d.split_once('.') {
        Some(("ids", rest)) => (true, rest),
        Some(("names", rest)) => (false, rest),
        _ => return Err(TemplateError::Other("invalid groups selector".into())),
    };
    let Some((key, field)) = rest.split_once('.') else {
        return Err(TemplateError::Other("invalid groups accessor".into()));
    };
    let found = input.groups.iter().find(|g| {
        if by_id {
            g.id == key
        } else {
            (input.namespace_id.is_empty() || g.namespace_id == input.namespace_id) && g.name == key
        }
    });
    let Some(group) = found else {
        return Err(TemplateError::Other(format!(
            "entity is not a member of group {key:?}"
        )));
    };
    match field {
        "id" => Ok(group.id.clone()),
        "name" if group.name.is_empty() => Err(TemplateError::NotFound),
        "name" => Ok(group.name.clone()),
        _ => field
            .strip_prefix("metadata.")
            .and_then(|k| group.metadata.get(k).cloned())
            .ok_or(TemplateError::NotFound),
    }
}

/// `time.now`, `time.now.plus.<duration>`, `time.now.minus.<duration>`: Unix seconds.
fn time_value(d: &str, now: i64) -> Result<String, TemplateError> {
    let mut parts = d.splitn(3, '.');
    let selector = parts.next().unwrap_or_default();
    if selector != "now" {
        return Err(TemplateError::Other(format!(
            "invalid time selector {selector:?}"
        )));
    }
    let (Some(op), Some(amount)) = (parts.next(), parts.next()) else {
        return if d == "now" {
            Ok(now.to_string())
        } else {
            Err(TemplateError::Other("missing time operand".into()))
        };
    };
    let secs = arca_sdk::duration::parse_duration_second(amount)
        .map_err(|e| TemplateError::Other(format!("invalid duration: {e}")))?
        / 1_000_000_000;
    match op {
        "plus" => Ok(now.saturating_add(secs).to_string()),
        "minus" => Ok(now.saturating_sub(secs).to_string()),
        other => Err(TemplateError::Other(format!(
            "invalid time operator {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity() -> TemplateEntity {
        TemplateEntity {
            id: "e1".into(),
            name: "alice".into(),
            metadata: BTreeMap::from([("team".into(), "ops".into())]),
            aliases: vec![TemplateAlias {
                mount_accessor: "auth_userpass_1".into(),
                id: "a1".into(),
                name: "alice".into(),
                metadata: BTreeMap::new(),
                custom_metadata: BTreeMap::from([("k".into(), "v".into())]),
            }],
        }
    }

    fn groups() -> Vec<TemplateGroup> {
        vec![TemplateGroup {
            id: "g1".into(),
            name: "eng".into(),
            namespace_id: "root".into(),
            metadata: BTreeMap::from([("tier".into(), "1".into())]),
        }]
    }

    fn fill(t: &str, mode: Mode) -> Result<(bool, String), TemplateError> {
        let (e, g) = (entity(), groups());
        populate(
            t,
            &TemplateInput {
                entity: Some(&e),
                groups: &g,
                namespace_id: "root",
                now: 1000,
                mode,
            },
        )
    }

    #[test]
    fn json_mode_encodes_values() {
        let (subst, out) = fill(
            r#"{"n":{{identity.entity.name}},"m":{{identity.entity.metadata}},"g":{{identity.entity.groups.names}},"c":{{identity.entity.aliases.auth_userpass_1.custom_metadata.k}},"x":{{identity.entity.aliases.none.name}},"t":{{time.now.plus.1h}}}"#,
            Mode::Json,
        )
        .expect("fills");
        assert!(subst);
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"n":"alice","m":{"team":"ops"},"g":["eng"],"c":"v","x":"","t":4600})
        );
    }

    #[test]
    fn acl_mode_refuses_missing_values() {
        assert_eq!(
            fill("p/{{identity.entity.metadata.team}}", Mode::Acl)
                .expect("fills")
                .1,
            "p/ops"
        );
        assert_eq!(
            fill("{{identity.entity.metadata.none}}", Mode::Acl),
            Err(TemplateError::NotFound)
        );
        assert_eq!(
            fill("{{identity.groups.names.eng.metadata.tier}}", Mode::Acl)
                .expect("fills")
                .1,
            "1"
        );
        assert_eq!(
            fill("{{identity.groups.names.other.id}}", Mode::Acl),
            Err(TemplateError::Other(
                "entity is not a member of group \"other\"".into()
            ))
        );
    }

    #[test]
    fn unbalanced_and_plain_strings() {
        assert_eq!(fill("{{bad", Mode::Json), Err(TemplateError::Unbalanced));
        assert_eq!(fill("a}}b", Mode::Json), Err(TemplateError::Unbalanced));
        assert_eq!(
            fill("plain", Mode::Json).expect("plain"),
            (false, "plain".into())
        );
        let none = populate(
            "{{identity.entity.id}}",
            &TemplateInput {
                entity: None,
                groups: &[],
                namespace_id: "",
                now: 0,
                mode: Mode::Json,
            },
        );
        assert_eq!(none, Err(TemplateError::NoEntity));
    }
}
