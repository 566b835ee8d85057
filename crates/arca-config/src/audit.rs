//! The `audit` stanza: audit devices declared in the config, enabled at every unseal.
//!
//! ```hcl
//! audit "file" "to-stdout" {
//!   description = "Write audit information to standard output."
//!   options = { file_path = "stdout" }
//! }
//! ```
//!
//! As OpenBao reads it: the two labels are the device type and path, which `type = ...` and
//! `path = ...` inside the body may give instead; `options` is a string map (`options { ... }`
//! works too), whose integer values are kept as their text and whose other non-strings are
//! refused. In JSON the labels nest as objects: `{"audit": [{"file": {"to-stdout": {...}}}]}`,
//! or a body names its `type` and `path`.

use std::collections::BTreeMap;

use crate::decode::{Site, check_duplicates};
use crate::error::{ConfigError, Location};
use crate::tree::{Block, Entry, Item, Node, Value};

/// One `audit "<type>" "<path>" { ... }` stanza.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditDevice {
    /// The device type: `file`, `socket` or `syslog` (checked by the server, as OpenBao).
    pub kind: String,
    /// Where the device is enabled (`sys/audit/<path>`), without its trailing slash.
    pub path: String,
    /// Free text shown by `sys/audit`.
    pub description: String,
    /// Not replicated to other clusters.
    pub local: bool,
    /// The device's options (`file_path`, `mode`, `format`, ...), as strings.
    pub options: BTreeMap<String, String>,
}

/// Where a device was declared, to name both places when two share a path.
#[derive(Debug, Clone)]
pub(crate) struct Declared {
    /// The file it is in.
    pub file: String,
    /// Its line, when known.
    pub line: Option<usize>,
}

/// The body keys an `audit` stanza takes.
const KEYS: &[&str] = &["description", "local", "options", "path", "type"];

/// An `audit` stanza before its type and path are settled: labels as written and the body.
struct Stanza {
    labels: Vec<String>,
    body: Vec<Entry>,
    line: Option<usize>,
}

/// Reads the top-level `audit` entry (any of its forms) into devices, with where each is;
/// ignored body keys add to `warnings`.
pub(crate) fn from_entry(
    entry: &Entry,
    file: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<(AuditDevice, Declared)>, ConfigError> {
    let mut stanzas = Vec::new();
    match &entry.item {
        Item::Block(block) => stanzas.push(Stanza {
            labels: block.labels.clone(),
            body: block.body.clone(),
            line: block.line,
        }),
        Item::Value(node) => json_stanzas(node, file, &mut stanzas)?,
    }
    stanzas
        .into_iter()
        .map(|stanza| {
            let line = stanza.line;
            let device = from_stanza(stanza, file, warnings)?;
            Ok((
                device,
                Declared {
                    file: file.to_owned(),
                    line,
                },
            ))
        })
        .collect()
}

/// Whether `node` is an object whose every member is an object or a list of objects: the
/// labelled JSON form (`{"file": {"name": {...}}}`) rather than a body.
fn labelled(node: &Node) -> bool {
    let Value::Map(fields) = &node.value else {
        return false;
    };
    !fields.is_empty()
        && fields.iter().all(|f| match &f.node.value {
            Value::Map(_) => !matches!(f.key.as_str(), "options"),
            Value::List(items) => items.iter().all(|i| matches!(i.value, Value::Map(_))),
            _ => false,
        })
}

/// The stanzas of a JSON `audit` value: a list of them, a body naming `type` and `path`, or
/// objects keyed by type then path.
fn json_stanzas(node: &Node, file: &str, out: &mut Vec<Stanza>) -> Result<(), ConfigError> {
    match &node.value {
        Value::List(items) => {
            for item in items {
                json_stanzas(item, file, out)?;
            }
            Ok(())
        }
        Value::Map(fields) if labelled(node) => {
            for kind in fields {
                for path_node in one_or_many(&kind.node) {
                    let Value::Map(paths) = &path_node.value else {
                        continue;
                    };
                    for path in paths {
                        for body in one_or_many(&path.node) {
                            let Value::Map(members) = &body.value else {
                                return Err(ConfigError::invalid(
                                    file,
                                    body.line,
                                    format!("audit.{}.{}", kind.key, path.key),
                                    format!("expected an object, got {}", body.value.describe()),
                                ));
                            };
                            out.push(Stanza {
                                labels: vec![kind.key.clone(), path.key.clone()],
                                body: members.iter().map(member_entry).collect(),
                                line: path.line,
                            });
                        }
                    }
                }
            }
            Ok(())
        }
        Value::Map(members) => {
            out.push(Stanza {
                labels: Vec::new(),
                body: members.iter().map(member_entry).collect(),
                line: node.line,
            });
            Ok(())
        }
        other => Err(ConfigError::invalid(
            file,
            node.line,
            "audit",
            format!(
                "expected a block such as audit \"file\" \"name\" {{ ... }}, got {}",
                other.describe()
            ),
        )),
    }
}

/// The nodes of `node`: its items when it is a list, itself otherwise.
fn one_or_many(node: &Node) -> Vec<&Node> {
    match &node.value {
        Value::List(items) => items.iter().collect(),
        _ => vec![node],
    }
}

/// An object member as a body entry.
fn member_entry(field: &crate::tree::Field) -> Entry {
    Entry {
        key: field.key.clone(),
        line: field.line,
        item: Item::Value(field.node.clone()),
    }
}

/// A string the way OpenBao's decoder reads one: a string, or an integer as its text.
fn stringish(site: &Site<'_>, node: &Node) -> Result<String, ConfigError> {
    match &node.value {
        Value::Str(s) => Ok(s.clone()),
        Value::Int(i) => Ok(i.to_string()),
        other => Err(site.error(format!(
            "expected a string (or an integer), got {}",
            other.describe()
        ))),
    }
}

/// Reads the `options` map, written `options = { ... }` or `options { ... }`.
fn options(
    entry: &Entry,
    site: &Site<'_>,
    file: &str,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let members: Vec<Entry> = match &entry.item {
        Item::Block(Block { labels, body, .. }) if labels.is_empty() => body.clone(),
        Item::Block(_) => return Err(site.error("expected a map of strings, not a labelled block")),
        Item::Value(node) => match &node.value {
            Value::Null => Vec::new(),
            Value::Map(fields) => fields.iter().map(member_entry).collect(),
            other => {
                return Err(site.error(format!(
                    "expected a map of strings, got {}",
                    other.describe()
                )));
            }
        },
    };
    check_duplicates(&members, file, &site.key, &[])?;
    let mut out = BTreeMap::new();
    for member in &members {
        let inner = Site {
            file,
            key: format!("{}.{}", site.key, member.key),
            line: member.line,
        };
        let node = inner.value(member)?;
        if matches!(node.value, Value::Null) {
            continue;
        }
        out.insert(member.key.clone(), stringish(&inner, node)?);
    }
    Ok(out)
}

/// Settles one stanza's type and path and reads its body.
fn from_stanza(
    stanza: Stanza,
    file: &str,
    warnings: &mut Vec<String>,
) -> Result<AuditDevice, ConfigError> {
    let prefix = match stanza.labels.as_slice() {
        [] => "audit".to_owned(),
        labels => format!("audit.{}", labels.join(".")),
    };
    check_duplicates(&stanza.body, file, &prefix, &[])?;
    let mut device = AuditDevice::default();
    let (mut kind, mut path) = (None, None);
    for entry in &stanza.body {
        let site = Site {
            file,
            key: format!("{prefix}.{}", entry.key),
            line: entry.line,
        };
        let key = entry.key.as_str();
        if !KEYS.contains(&key) {
            site.unknown_key(warnings);
            continue;
        }
        if key == "options" {
            device.options = options(entry, &site, file)?;
            continue;
        }
        let Some(node) = site.set_value(entry)? else {
            continue;
        };
        match key {
            "description" => device.description = stringish(&site, node)?,
            "local" => device.local = site.bool(node)?,
            "type" => kind = Some(stringish(&site, node)?),
            "path" => path = Some(stringish(&site, node)?),
            _ => {}
        }
    }
    let (label_kind, label_path) = match stanza.labels.as_slice() {
        [kind, path] => (Some(kind.clone()), Some(path.clone())),
        _ => (None, None),
    };
    let missing = |what: &str| {
        ConfigError::invalid(
            file,
            stanza.line,
            &prefix,
            format!(
                "the audit {what} must be given, as in audit \"file\" \"name\" {{ ... }} or with {what} = \"...\""
            ),
        )
    };
    device.kind = kind
        .or(label_kind)
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| missing("type"))?;
    let path = path.or(label_path).ok_or_else(|| missing("path"))?;
    let path = path.strip_suffix('/').unwrap_or(&path).to_owned();
    if path.is_empty() {
        return Err(ConfigError::invalid(
            file,
            stanza.line,
            &prefix,
            "the audit path must not be empty",
        ));
    }
    device.path = path;
    Ok(device)
}

/// Refuses two devices with the same path (OpenBao refuses them at startup), naming the path
/// and both places. `declared` runs parallel to `devices`.
pub(crate) fn check_paths(
    devices: &[AuditDevice],
    declared: &[Declared],
) -> Result<(), ConfigError> {
    let mut seen: BTreeMap<&str, &Declared> = BTreeMap::new();
    for (device, at) in devices.iter().zip(declared) {
        if let Some(first) = seen.insert(&device.path, at) {
            let first = if first.file != at.file {
                format!(
                    " (the first is at {})",
                    Location::new(&first.file, first.line)
                )
            } else {
                first
                    .line
                    .map_or_else(String::new, |l| format!(" (the first is on line {l})"))
            };
            return Err(ConfigError::invalid(
                &at.file,
                at.line,
                format!("audit.{}.{}", device.kind, device.path),
                format!(
                    "two audit devices with the same path \"{}/\"{first}",
                    device.path
                ),
            ));
        }
    }
    Ok(())
}
