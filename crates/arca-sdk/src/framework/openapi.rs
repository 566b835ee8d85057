//! OpenAPI 3 documents of a backend's paths, rendered as OpenBao's framework renders them
//! (`sdk/framework/openapi.go`): one path item per expanded pattern, path parameters from the
//! pattern's named captures, body fields as a request schema in `components`, LIST as a GET
//! with a `list=true` query parameter, `x-vault-sudo` / `x-vault-unauthenticated` from the
//! backend's special paths, operation ids `<prefix>-<verb>-<path words>`.
//!
//! A backend answers a Help request for its root with the document of all its paths under
//! `openapi` (the core collects them for `sys/internal/specs/openapi`); a Help request for one
//! path carries that path's document. Backends not written with [`super::FrameworkBackend`]
//! describe their paths with [`PathDoc`]s and build the same document with
//! [`OasDocument::add_path`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Field, FieldType};
use crate::backend::special_path_matches;
use crate::{BackendType, JsonMap, Operation, Response, SpecialPaths};

/// The OpenAPI version of every document.
pub const OAS_VERSION: &str = "3.0.2";

fn is_false(b: &bool) -> bool {
    !*b
}

/// A whole OpenAPI document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OasDocument {
    /// Always [`OAS_VERSION`].
    pub openapi: String,
    /// Title, description, version, license.
    pub info: OasInfo,
    /// Path items by path (`/secret/data/{path}`).
    pub paths: BTreeMap<String, OasPathItem>,
    /// The request (and response) schemas the operations refer to.
    pub components: OasComponents,
}

/// The document's `info`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OasInfo {
    /// The API's name.
    pub title: String,
    /// What the API is.
    pub description: String,
    /// The server's version.
    pub version: String,
    /// The license.
    pub license: OasLicense,
}

/// The document's license.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OasLicense {
    /// Its name.
    pub name: String,
    /// Where to read it.
    pub url: String,
}

/// The document's `components`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OasComponents {
    /// Schemas by name (`KvWriteDataPathRequest`).
    #[serde(default)]
    pub schemas: BTreeMap<String, OasSchema>,
}

/// One path and its operations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OasPathItem {
    /// The path's synopsis.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Path (and query) parameters every operation shares.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<OasParameter>,
    /// The path needs `sudo`.
    #[serde(rename = "x-vault-sudo", default, skip_serializing_if = "is_false")]
    pub sudo: bool,
    /// The path is served without a token.
    #[serde(
        rename = "x-vault-unauthenticated",
        default,
        skip_serializing_if = "is_false"
    )]
    pub unauthenticated: bool,
    /// The path tells create from update (an existence check).
    #[serde(
        rename = "x-vault-createSupported",
        default,
        skip_serializing_if = "is_false"
    )]
    pub create_supported: bool,
    /// READ, or LIST with `list=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get: Option<OasOperation>,
    /// CREATE / UPDATE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post: Option<OasOperation>,
    /// PATCH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<OasOperation>,
    /// DELETE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete: Option<OasOperation>,
}

impl OasPathItem {
    /// The item's operations that are present, mutably.
    pub fn operations_mut(&mut self) -> impl Iterator<Item = &mut OasOperation> {
        [
            self.get.as_mut(),
            self.post.as_mut(),
            self.patch.as_mut(),
            self.delete.as_mut(),
        ]
        .into_iter()
        .flatten()
    }
}

/// One operation of a path.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OasOperation {
    /// A one-line summary.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
    /// A longer description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The operation's id (`kv-read-data-path`).
    #[serde(
        rename = "operationId",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub operation_id: String,
    /// `secrets`, `auth`, `system`, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Parameters of this operation only (`list`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<OasParameter>,
    /// The JSON body, for writes.
    #[serde(
        rename = "requestBody",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub request_body: Option<OasRequestBody>,
    /// Answers by status code.
    #[serde(default)]
    pub responses: BTreeMap<u16, OasResponse>,
    /// The operation is deprecated.
    #[serde(default, skip_serializing_if = "is_false")]
    pub deprecated: bool,
}

/// A path, query or header parameter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OasParameter {
    /// Its name.
    pub name: String,
    /// What it means.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `path` or `query`.
    #[serde(rename = "in")]
    pub location: String,
    /// Its type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<OasSchema>,
    /// Whether it must be given (always for path parameters).
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    /// The parameter is deprecated.
    #[serde(default, skip_serializing_if = "is_false")]
    pub deprecated: bool,
}

/// A request body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OasRequestBody {
    /// What it is.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Whether it must be given.
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    /// Schemas by media type (`application/json`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub content: BTreeMap<String, OasMediaType>,
}

/// The schema of one media type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OasMediaType {
    /// The schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<OasSchema>,
}

/// An answer of an operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OasResponse {
    /// What it means.
    pub description: String,
    /// Its body's schemas by media type.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub content: BTreeMap<String, OasMediaType>,
}

/// A JSON schema (the OpenAPI 3.0 subset OpenBao uses).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OasSchema {
    /// A reference to a schema in `components` instead of the rest.
    #[serde(rename = "$ref", default, skip_serializing_if = "String::is_empty")]
    pub reference: String,
    /// `string`, `integer`, `boolean`, `object`, `array`, `number`; empty for any.
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// What the value means.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// An object's properties.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, OasSchema>,
    /// The properties that must be given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<String>,
    /// An array's element schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Box<OasSchema>>,
    /// OpenBao's format hints (`seconds`, `map`, `kvpairs`, `lowercase`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub format: String,
    /// The values allowed.
    #[serde(rename = "enum", default, skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<Value>,
    /// The default value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// The schema is deprecated.
    #[serde(default, skip_serializing_if = "is_false")]
    pub deprecated: bool,
}

impl OasDocument {
    /// An empty document for a server of `version`.
    pub fn new(version: &str) -> OasDocument {
        OasDocument {
            openapi: OAS_VERSION.into(),
            info: OasInfo {
                title: "Arca API".into(),
                description: "HTTP API that gives you full access to Arca, compatible with \
                    OpenBao's. All API routes are prefixed with `/v1/`."
                    .into(),
                version: version.into(),
                license: OasLicense {
                    name: "Mozilla Public License 2.0".into(),
                    url: "https://www.mozilla.org/en-US/MPL/2.0".into(),
                },
            },
            paths: BTreeMap::new(),
            components: OasComponents::default(),
        }
    }

    /// The document a backend put under `openapi` in its help answer, when it is one.
    pub fn from_help(data: &JsonMap) -> Option<OasDocument> {
        serde_json::from_value(data.get("openapi")?.clone()).ok()
    }

    /// Adds `path` (the `index`-th expansion of its pattern) as a backend described by `ctx`
    /// renders it; a path already present is replaced, as OpenBao's framework does.
    pub fn add_path(&mut self, path: &PathDoc, ctx: &DocContext<'_>) {
        let mut item = OasPathItem {
            description: clean(&path.synopsis),
            sudo: ctx
                .special
                .root
                .iter()
                .any(|p| special_path_matches(p, &path.path)),
            unauthenticated: ctx
                .special
                .unauthenticated
                .iter()
                .any(|p| special_path_matches(p, &path.path)),
            ..OasPathItem::default()
        };
        let in_path = path_parameters(&path.path);
        for name in &in_path {
            let field = path.fields.iter().find(|f| &f.name == name);
            // The field's type (a string when the path does not declare it).
            let mut schema = field.map(field_schema).unwrap_or_default();
            schema.description.clear();
            if schema.kind.is_empty() {
                schema.kind = "string".into();
            }
            item.parameters.push(OasParameter {
                name: name.clone(),
                description: field.map(|f| clean(&f.description)).unwrap_or_default(),
                location: "path".into(),
                schema: Some(schema),
                required: true,
                deprecated: false,
            });
        }
        for field in path.fields.iter().filter(|f| f.query) {
            if in_path.contains(&field.name) {
                continue;
            }
            item.parameters.push(OasParameter {
                name: field.name.clone(),
                description: clean(&field.description),
                location: "query".into(),
                schema: Some(OasSchema {
                    description: String::new(),
                    ..field_schema(field)
                }),
                required: false,
                deprecated: false,
            });
        }
        item.parameters.sort_by_key(|p| p.name.to_ascii_lowercase());
        let has = |op: Operation| path.operations.contains(&op);
        for op in [
            Operation::Create,
            Operation::Update,
            Operation::Patch,
            Operation::Read,
            Operation::List,
            Operation::Delete,
        ] {
            if !has(op) {
                continue;
            }
            if op == Operation::Create {
                item.create_supported = true;
                if has(Operation::Update) {
                    continue;
                }
            }
            if op == Operation::List && has(Operation::Read) {
                continue;
            }
            let mut oas = OasOperation {
                operation_id: operation_id(ctx.prefix, op, &path.path),
                ..OasOperation::default()
            };
            if matches!(op, Operation::Create | Operation::Update | Operation::Patch) {
                let mut schema = OasSchema {
                    kind: "object".into(),
                    ..OasSchema::default()
                };
                for field in path
                    .fields
                    .iter()
                    .filter(|f| !f.query && !in_path.contains(&f.name))
                {
                    if field.required {
                        schema.required.push(field.name.clone());
                    }
                    schema
                        .properties
                        .insert(field.name.clone(), field_schema(field));
                }
                schema.required.sort();
                if !schema.properties.is_empty() {
                    let name = format!("{}Request", title_case(&oas.operation_id));
                    self.components.schemas.insert(name.clone(), schema);
                    oas.request_body = Some(OasRequestBody {
                        required: true,
                        content: json_content(OasSchema {
                            reference: format!("#/components/schemas/{name}"),
                            ..OasSchema::default()
                        }),
                        ..OasRequestBody::default()
                    });
                }
            }
            if op == Operation::List {
                oas.parameters.push(list_parameter(true));
            } else if op == Operation::Read && has(Operation::List) {
                oas.parameters.push(list_parameter(false));
            }
            match ctx.backend_type {
                BackendType::Logical => oas.tags.push("secrets".into()),
                BackendType::Credential => oas.tags.push("auth".into()),
                BackendType::Unknown => {}
            }
            let (code, text) = if op == Operation::Delete {
                (204, "empty body")
            } else {
                (200, "OK")
            };
            oas.responses.insert(
                code,
                OasResponse {
                    description: text.into(),
                    ..OasResponse::default()
                },
            );
            let slot = match op {
                Operation::Create | Operation::Update => &mut item.post,
                Operation::Read | Operation::List => &mut item.get,
                Operation::Patch => &mut item.patch,
                _ => &mut item.delete,
            };
            *slot = Some(oas);
        }
        self.paths.insert(format!("/{}", path.path), item);
    }

    /// The help answer of a backend: `help` and `see_also` as Vault's framework words them,
    /// and this document under `openapi`.
    pub fn help_response(&self, help: &str) -> Response {
        let mut data = JsonMap::new();
        data.insert("help".into(), Value::String(help.to_string()));
        data.insert(
            "openapi".into(),
            serde_json::to_value(self).unwrap_or(Value::Null),
        );
        data.insert("see_also".into(), Value::Null);
        Response::with_data(data)
    }
}

/// What the document of one backend depends on besides its paths.
#[derive(Debug, Clone, Copy)]
pub struct DocContext<'a> {
    /// Its special paths (`x-vault-sudo`, `x-vault-unauthenticated`).
    pub special: &'a SpecialPaths,
    /// Secrets engine or auth method (the operations' tag).
    pub backend_type: BackendType,
    /// The first word of every operation id: the mount's type, as the core's help request
    /// names it in `requestResponsePrefix` (empty for a path's own help).
    pub prefix: &'a str,
}

/// One path of a backend as its document describes it.
#[derive(Debug, Clone, Default)]
pub struct PathDoc {
    /// The mount-relative path in OpenAPI form, its parameters in braces (`data/{path}`).
    pub path: String,
    /// What the path is for.
    pub synopsis: String,
    /// The operations it serves.
    pub operations: Vec<Operation>,
    /// Its fields: path parameters by name, query fields, the rest the body's.
    pub fields: Vec<Field>,
}

impl PathDoc {
    /// A path of a hand-written table: fields as the endpoint declares them (name and type).
    pub fn from_table(
        path: &str,
        operations: &[Operation],
        synopsis: &str,
        fields: &[(&str, FieldType)],
    ) -> PathDoc {
        PathDoc {
            path: path.to_string(),
            synopsis: synopsis.to_string(),
            operations: operations.to_vec(),
            fields: fields
                .iter()
                .map(|(name, kind)| Field::new(*name, *kind, ""))
                .collect(),
        }
    }
}

/// The Help answer of a backend that describes its paths with a table (`paths`): for its
/// root (an empty path) `root_help` and every path's document, for one path the synopsis and
/// document of the paths whose template it is an instance of ([`template_matches`]).
pub fn help_from_table(
    req: &crate::Request,
    paths: &[PathDoc],
    special: &SpecialPaths,
    backend_type: BackendType,
    root_help: &str,
) -> Response {
    let path = req.path.trim_end_matches('/');
    let (doc, synopsis) = table_document(req, path, paths, special, backend_type);
    match synopsis {
        Some(s) if !path.is_empty() => doc.help_response(&s),
        _ => doc.help_response(root_help),
    }
}

/// The document of a table's paths that `path` is an instance of (every path for an empty
/// `path`), with the first such path's synopsis; the mount type prefix comes from `req`'s
/// `requestResponsePrefix`.
pub fn table_document(
    req: &crate::Request,
    path: &str,
    paths: &[PathDoc],
    special: &SpecialPaths,
    backend_type: BackendType,
) -> (OasDocument, Option<String>) {
    let prefix = req
        .data
        .get("requestResponsePrefix")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let ctx = DocContext {
        special,
        backend_type,
        prefix,
    };
    let mut doc = OasDocument::new(env!("CARGO_PKG_VERSION"));
    let mut synopsis = None;
    for p in paths {
        if path.is_empty() || template_matches(&p.path, path) {
            synopsis.get_or_insert_with(|| p.synopsis.clone());
            doc.add_path(p, &ctx);
        }
    }
    (doc, synopsis)
}

/// The concrete path a template stands for: each `{param}` segment replaced by
/// `sample(param)` (how a path table is checked against the router that serves it).
pub fn instantiate_template(template: &str, sample: impl Fn(&str) -> &'static str) -> String {
    template
        .split('/')
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(param) => sample(param),
                None => seg,
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether `path` is an instance of the OpenAPI template `template`: literal segments equal,
/// a `{param}` standing for one or more segments.
pub fn template_matches(template: &str, path: &str) -> bool {
    fn go(t: &[&str], p: &[&str]) -> bool {
        match (t.split_first(), p.split_first()) {
            (None, None) => true,
            (Some((seg, t_rest)), Some((first, _))) if seg.starts_with('{') => {
                !first.is_empty() && (1..=p.len()).any(|n| go(t_rest, &p[n..]))
            }
            (Some((seg, t_rest)), Some((first, p_rest))) => seg == first && go(t_rest, p_rest),
            _ => false,
        }
    }
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    go(&t, &p)
}

/// The `list` query parameter: required on a LIST-only path, optional beside a READ.
fn list_parameter(required: bool) -> OasParameter {
    OasParameter {
        name: "list".into(),
        description: if required {
            "Must be set to `true`"
        } else {
            "Return a list if `true`"
        }
        .into(),
        location: "query".into(),
        schema: Some(OasSchema {
            kind: "string".into(),
            allowed: if required {
                vec![Value::String("true".into())]
            } else {
                Vec::new()
            },
            ..OasSchema::default()
        }),
        required,
        deprecated: false,
    }
}

fn json_content(schema: OasSchema) -> BTreeMap<String, OasMediaType> {
    let mut content = BTreeMap::new();
    content.insert(
        "application/json".to_string(),
        OasMediaType {
            schema: Some(schema),
        },
    );
    content
}

/// A field's schema: OpenBao's `convertType`, its description and default.
fn field_schema(field: &Field) -> OasSchema {
    let (kind, format, items) = match field.kind {
        FieldType::String | FieldType::Header => ("string", "", ""),
        FieldType::LowerCaseString => ("string", "lowercase", ""),
        FieldType::Int => ("integer", "", ""),
        FieldType::DurationSecond => ("integer", "seconds", ""),
        FieldType::Bool => ("boolean", "", ""),
        FieldType::Map => ("object", "map", ""),
        FieldType::KvPairs => ("object", "kvpairs", ""),
        FieldType::Slice => ("array", "", "object"),
        FieldType::StringSlice | FieldType::CommaStringSlice => ("array", "", "string"),
        FieldType::CommaIntSlice => ("array", "", "integer"),
        // Any JSON value: no type, so a validator accepts every one.
        FieldType::Any => ("", "", ""),
    };
    OasSchema {
        kind: kind.into(),
        format: format.into(),
        description: clean(&field.description),
        items: (!items.is_empty()).then(|| {
            Box::new(OasSchema {
                kind: items.into(),
                ..OasSchema::default()
            })
        }),
        default: field
            .default
            .clone()
            .filter(|v| !v.is_null())
            .and_then(|v| schema_default(field.kind, v)),
        ..OasSchema::default()
    }
}

/// A field's default as its schema types it: a duration given as text (`"24h"`) is its
/// seconds (`86400`), or no default when the text is no duration. OpenBao's document keeps
/// the text under `type: integer`, which an OpenAPI validator refuses.
fn schema_default(kind: FieldType, v: Value) -> Option<Value> {
    match (kind, &v) {
        (FieldType::DurationSecond, Value::String(s)) => crate::duration::parse_duration_second(s)
            .ok()
            .map(|nanos| Value::from(nanos / 1_000_000_000)),
        _ => Some(v),
    }
}

/// The names in braces in an OpenAPI path, in order, each once.
fn path_parameters(path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 1..start + len];
        if !name.is_empty()
            && name.chars().all(|c| c.is_alphanumeric() || c == '_')
            && !out.iter().any(|n| n == name)
        {
            out.push(name.to_string());
        }
        rest = &rest[start + len + 1..];
    }
    out
}

/// Leading and trailing white space cut, runs of white space made one space.
fn clean(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// OpenBao's `constructOperationID` without display attributes: `prefix`, the verb (`write`
/// for an update, else the operation's name), then the path's words, joined by hyphens,
/// lower-cased.
pub fn operation_id(prefix: &str, op: Operation, path: &str) -> String {
    let verb = if op == Operation::Update {
        "write"
    } else {
        op.as_str()
    };
    let mut parts: Vec<&str> = vec![prefix, verb];
    parts.extend(path.split(|c: char| !(c.is_alphanumeric() || c == '_')));
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
        .to_lowercase()
}

/// `kv-write-data-path` as `KvWriteDataPath` (each hyphenated word's first letter upper-cased).
fn title_case(id: &str) -> String {
    id.split('-')
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

/// Why a pattern has no OpenAPI form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// The pattern is not a regex.
    #[error("invalid path pattern: {0}")]
    Invalid(String),
    /// A class, `.`, `*`, `+` or a counted repetition outside a named capture: no sensible
    /// OpenAPI path (OpenBao leaves such a pattern's operations out as well).
    #[error("path pattern uses an operation that cannot be translated to an OpenAPI path")]
    Unsupported,
}

/// The OpenAPI paths of a path pattern, as OpenBao's `expandPattern`: every alternative of an
/// alternation and of an optional part is a path of its own, a named capture becomes `{name}`
/// (what it matches does not matter), and a variant whose last character is an optional `/`
/// (the `foo/?` idiom) is dropped in favour of the one without it.
pub fn expand_pattern(pattern: &str) -> Result<Vec<String>, PatternError> {
    use regex_syntax::ast::parse::Parser;
    let ast = Parser::new()
        .parse(pattern)
        .map_err(|e| PatternError::Invalid(e.to_string()))?;
    let collected = collect(&ast, vec![Collector::default()])?;
    Ok(collected
        .into_iter()
        .filter(|c| c.optional_slash_at != c.text.len())
        .map(|c| c.text)
        .collect())
}

/// One path being built, and where an optional slash last ended it.
#[derive(Debug, Clone, Default)]
struct Collector {
    text: String,
    optional_slash_at: usize,
}

fn collect(
    ast: &regex_syntax::ast::Ast,
    mut into: Vec<Collector>,
) -> Result<Vec<Collector>, PatternError> {
    use regex_syntax::ast::{Ast, GroupKind, RepetitionKind};
    match ast {
        Ast::Empty(_) | Ast::Flags(_) | Ast::Assertion(_) => {}
        Ast::Literal(l) => {
            for c in &mut into {
                c.text.push(l.c);
            }
        }
        Ast::Concat(concat) => {
            for part in &concat.asts {
                into = collect(part, into)?;
            }
        }
        Ast::Alternation(alt) => {
            let mut all = Vec::new();
            for branch in &alt.asts {
                all.extend(collect(branch, into.clone())?);
            }
            into = all;
        }
        Ast::Repetition(rep) if rep.op.kind == RepetitionKind::ZeroOrOne => {
            let mut taken = collect(&rep.ast, into.clone())?;
            if matches!(&*rep.ast, Ast::Literal(l) if l.c == '/') {
                for c in &mut taken {
                    c.optional_slash_at = c.text.len();
                }
            }
            into.extend(taken);
        }
        Ast::Group(group) => match &group.kind {
            GroupKind::CaptureName { name, .. } => {
                for c in &mut into {
                    c.text.push('{');
                    c.text.push_str(&name.name);
                    c.text.push('}');
                }
            }
            GroupKind::CaptureIndex(_) | GroupKind::NonCapturing(_) => {
                into = collect(&group.ast, into)?;
            }
        },
        Ast::Dot(_)
        | Ast::ClassUnicode(_)
        | Ast::ClassPerl(_)
        | Ast::ClassBracketed(_)
        | Ast::Repetition(_) => return Err(PatternError::Unsupported),
    }
    Ok(into)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::{generic_name_regex, match_all_regex, optional_param_regex};

    #[test]
    fn a_duration_default_given_as_text_is_its_seconds() {
        let ttl = Field::new("ttl", FieldType::DurationSecond, "").default_value("24h".into());
        assert_eq!(field_schema(&ttl).default, Some(Value::from(86400)));
        let bad = Field::new("ttl", FieldType::DurationSecond, "").default_value("soon".into());
        assert_eq!(field_schema(&bad).default, None);
        let name = Field::new("name", FieldType::String, "").default_value("24h".into());
        assert_eq!(field_schema(&name).default, Some(Value::from("24h")));
    }

    #[test]
    fn patterns_expand_as_openbaos() {
        let name = generic_name_regex("name");
        for (pattern, want) in [
            ("keys/?$".to_string(), vec!["keys"]),
            (format!("keys/{name}"), vec!["keys/{name}"]),
            (
                format!("data/{}", match_all_regex("path")),
                vec!["data/{path}"],
            ),
            (
                format!("verify/{name}{}", optional_param_regex("hash")),
                vec!["verify/{name}", "verify/{name}/{hash}"],
            ),
            (
                "issuer/(?P<ref>\\w+)/crl(/pem|/der|/delta(/pem|/der)?)?".to_string(),
                vec![
                    "issuer/{ref}/crl",
                    "issuer/{ref}/crl/pem",
                    "issuer/{ref}/crl/der",
                    "issuer/{ref}/crl/delta",
                    "issuer/{ref}/crl/delta/pem",
                    "issuer/{ref}/crl/delta/der",
                ],
            ),
            ("^(?:login|auth)$".to_string(), vec!["login", "auth"]),
        ] {
            assert_eq!(expand_pattern(&pattern).unwrap(), want, "{pattern}");
        }
        assert_eq!(expand_pattern(".*"), Err(PatternError::Unsupported));
        assert_eq!(expand_pattern("a+"), Err(PatternError::Unsupported));
        assert!(matches!(
            expand_pattern("(("),
            Err(PatternError::Invalid(_))
        ));
    }

    #[test]
    fn templates_match_their_instances() {
        assert!(template_matches("mounts/{path}", "mounts/a/b"));
        assert!(template_matches("mounts/{path}/tune", "mounts/a/b/tune"));
        assert!(!template_matches("mounts/{path}", "mounts"));
        assert!(!template_matches("mounts", "mounts/x"));
        assert!(template_matches("leases", "leases"));
    }

    #[test]
    fn operation_ids_and_schema_names() {
        assert_eq!(
            operation_id("kv", Operation::Update, "data/{path}"),
            "kv-write-data-path"
        );
        assert_eq!(operation_id("", Operation::List, "roles"), "list-roles");
        assert_eq!(title_case("kv-write-data-path"), "KvWriteDataPath");
        assert_eq!(
            path_parameters("a/{x}/b/{y_z}/{x}"),
            vec!["x".to_string(), "y_z".to_string()]
        );
    }

    fn doc_of(path: PathDoc, special: &SpecialPaths) -> OasDocument {
        let mut doc = OasDocument::new("test");
        doc.add_path(
            &path,
            &DocContext {
                special,
                backend_type: BackendType::Logical,
                prefix: "kv",
            },
        );
        doc
    }

    #[test]
    fn a_path_renders_parameters_operations_and_body() {
        let path = PathDoc {
            path: "metadata/{path}".into(),
            synopsis: "  Key   metadata.\n".into(),
            operations: vec![
                Operation::Create,
                Operation::Update,
                Operation::Read,
                Operation::List,
                Operation::Delete,
            ],
            fields: vec![
                Field::new("path", FieldType::String, "Location."),
                Field::new("max_versions", FieldType::Int, "How many.").required(),
                Field::new("cas_required", FieldType::Bool, "CAS?"),
                Field::new("after", FieldType::String, "Start.").query(),
            ],
        };
        let special = SpecialPaths {
            root: vec!["metadata/*".into()],
            ..SpecialPaths::default()
        };
        let doc = doc_of(path, &special);
        let v = serde_json::to_value(&doc).unwrap();
        let item = &v["paths"]["/metadata/{path}"];
        assert_eq!(item["description"], "Key metadata.");
        assert_eq!(item["x-vault-sudo"], true);
        assert_eq!(item["x-vault-createSupported"], true);
        assert!(item.get("x-vault-unauthenticated").is_none());
        assert_eq!(item["parameters"][0]["name"], "after");
        assert_eq!(item["parameters"][0]["in"], "query");
        assert_eq!(item["parameters"][1]["name"], "path");
        assert_eq!(item["parameters"][1]["in"], "path");
        assert_eq!(item["parameters"][1]["required"], true);
        assert_eq!(item["get"]["operationId"], "kv-read-metadata-path");
        assert_eq!(item["get"]["parameters"][0]["name"], "list");
        assert!(item["get"]["parameters"][0].get("required").is_none());
        assert_eq!(item["get"]["tags"][0], "secrets");
        assert_eq!(
            item["delete"]["responses"]["204"]["description"],
            "empty body"
        );
        assert_eq!(
            item["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/KvWriteMetadataPathRequest"
        );
        let schema = &v["components"]["schemas"]["KvWriteMetadataPathRequest"];
        assert_eq!(schema["required"][0], "max_versions");
        assert_eq!(schema["properties"]["cas_required"]["type"], "boolean");
        assert!(schema["properties"].get("path").is_none());
        assert!(schema["properties"].get("after").is_none());
        // What a plugin sends back as JSON reads as the same document.
        let back: OasDocument = serde_json::from_value(v).unwrap();
        assert_eq!(back, doc);
    }

    #[test]
    fn a_list_only_path_requires_list_and_an_undeclared_parameter_is_a_string() {
        let path = PathDoc {
            path: "roles/{name}/keys".into(),
            operations: vec![Operation::List],
            ..PathDoc::default()
        };
        let v = serde_json::to_value(doc_of(path, &SpecialPaths::default())).unwrap();
        let item = &v["paths"]["/roles/{name}/keys"];
        assert_eq!(item["parameters"][0]["schema"]["type"], "string");
        assert_eq!(item["get"]["parameters"][0]["required"], true);
        assert_eq!(item["get"]["parameters"][0]["schema"]["enum"][0], "true");
        assert!(item.get("post").is_none());
    }
}
