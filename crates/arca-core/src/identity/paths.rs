//! The table of `identity/` paths the OpenAPI document describes (all but `oidc/`, whose
//! paths are framework paths that describe themselves): each path in OpenAPI form, its
//! operations, its synopsis and its parameters, as OpenBao 2.7.2's document has them for the
//! same paths. Only paths the backend's router serves are here; a test checks every row
//! against [`super::backend`]'s parser and the parameters each write endpoint declares.
//!
//! Left out because Arca does not serve them: OpenBao's older `alias`, `alias/id` and
//! `alias/id/{id}` (entity aliases under a third name) and the Duo, Okta and PingID MFA
//! methods (`mfa/method/{duo,okta,pingid}` and their `/{method_id}`).

use arca_sdk::Operation;
use arca_sdk::framework::openapi::PathDoc;
use arca_sdk::framework::{Field, FieldType};
use serde_json::Value;

use FieldType as T;
use Operation::{Delete as D, List as L, Read as R, Update as U};

/// A parameter's default, as OpenBao's document shows it.
#[derive(Clone, Copy)]
enum DefaultValue {
    /// No default.
    None,
    /// A string.
    Str(&'static str),
    /// A number.
    Int(i64),
}

/// One parameter as OpenBao declares it: path parameters by their name in braces, the rest
/// the request body's.
struct Param {
    name: &'static str,
    kind: FieldType,
    description: &'static str,
    required: bool,
    default: DefaultValue,
}

/// An optional parameter without a default.
const fn p(name: &'static str, kind: FieldType, description: &'static str) -> Param {
    Param {
        name,
        kind,
        description,
        required: false,
        default: DefaultValue::None,
    }
}

/// A parameter the request must give.
const fn required(name: &'static str, kind: FieldType, description: &'static str) -> Param {
    Param {
        required: true,
        ..p(name, kind, description)
    }
}

/// An optional parameter with a default.
const fn defaulted(
    name: &'static str,
    kind: FieldType,
    description: &'static str,
    default: DefaultValue,
) -> Param {
    Param {
        default,
        ..p(name, kind, description)
    }
}

/// One row: the path, its operations, its synopsis (empty where OpenBao gives none), its
/// parameters.
struct IdentityPath {
    path: &'static str,
    ops: &'static [Operation],
    synopsis: &'static str,
    params: &'static [Param],
}

const fn row(
    path: &'static str,
    ops: &'static [Operation],
    synopsis: &'static str,
    params: &'static [Param],
) -> IdentityPath {
    IdentityPath {
        path,
        ops,
        synopsis,
        params,
    }
}

/// `metadata`, as OpenBao words it for entities (`what` is the record's name).
macro_rules! metadata {
    ($what:literal) => {
        p(
            "metadata",
            T::KvPairs,
            concat!(
                "Metadata to be associated with the ",
                $what,
                ". In CLI, this parameter can be repeated multiple times, and it all gets \
                 merged together. For example: bao <command> <path> metadata=key1=value1 \
                 metadata=key2=value2"
            ),
        )
    };
}

const ENTITY_ID: Param = p(
    "id",
    T::String,
    "ID of the entity. If set, updates the corresponding existing entity.",
);
const ENTITY_NAME: Param = p("name", T::String, "Name of the entity");
const ENTITY_POLICIES: Param = p(
    "policies",
    T::CommaStringSlice,
    "Policies to be tied to the entity.",
);
const ENTITY_DISABLED: Param = p(
    "disabled",
    T::Bool,
    "If set true, tokens tied to this identity will not be able to be used (but will not be \
     revoked).",
);
const ENTITY: &[Param] = &[
    ENTITY_DISABLED,
    ENTITY_ID,
    metadata!("entity"),
    ENTITY_NAME,
    ENTITY_POLICIES,
];

const ENTITY_ALIAS_CREATE: &[Param] = &[
    p(
        "canonical_id",
        T::String,
        "Entity ID to which this alias belongs",
    ),
    p(
        "custom_metadata",
        T::KvPairs,
        "User provided key-value pairs",
    ),
    p(
        "entity_id",
        T::String,
        "Entity ID to which this alias belongs. This field is deprecated, use canonical_id.",
    ),
    p(
        "id",
        T::String,
        "ID of the entity alias. If set, updates the corresponding entity alias.",
    ),
    p(
        "mount_accessor",
        T::String,
        "Mount accessor to which this alias belongs to; unused for a modify",
    ),
    p("name", T::String, "Name of the alias; unused for a modify"),
];
const ENTITY_ALIAS_BY_ID: &[Param] = &[
    p(
        "canonical_id",
        T::String,
        "Entity ID to which this alias should be tied to",
    ),
    p(
        "custom_metadata",
        T::KvPairs,
        "User provided key-value pairs",
    ),
    p(
        "entity_id",
        T::String,
        "Entity ID to which this alias belongs to. This field is deprecated, use canonical_id.",
    ),
    p("id", T::String, "ID of the alias"),
    p("mount_accessor", T::String, "(Unused)"),
    p("name", T::String, "(Unused)"),
];

const PERSONA_CREATE: &[Param] = &[
    p(
        "entity_id",
        T::String,
        "Entity ID to which this persona belongs to",
    ),
    p("id", T::String, "ID of the persona"),
    metadata!("persona"),
    p(
        "mount_accessor",
        T::String,
        "Mount accessor to which this persona belongs to",
    ),
    p("name", T::String, "Name of the persona"),
];
const PERSONA_BY_ID: &[Param] = &[
    p(
        "entity_id",
        T::String,
        "Entity ID to which this persona should be tied to",
    ),
    p("id", T::String, "ID of the persona"),
    metadata!("persona"),
    p(
        "mount_accessor",
        T::String,
        "Mount accessor to which this persona belongs to",
    ),
    p("name", T::String, "Name of the persona"),
];

const GROUP: &[Param] = &[
    p(
        "id",
        T::String,
        "ID of the group. If set, updates the corresponding existing group.",
    ),
    p(
        "member_entity_ids",
        T::CommaStringSlice,
        "Entity IDs to be assigned as group members.",
    ),
    p(
        "member_group_ids",
        T::CommaStringSlice,
        "Group IDs to be assigned as group members.",
    ),
    metadata!("group"),
    p("name", T::String, "Name of the group."),
    p(
        "policies",
        T::CommaStringSlice,
        "Policies to be tied to the group.",
    ),
    p(
        "type",
        T::String,
        "Type of the group, 'internal' or 'external'. Defaults to 'internal'",
    ),
];

const GROUP_ALIAS: &[Param] = &[
    p(
        "canonical_id",
        T::String,
        "ID of the group to which this is an alias.",
    ),
    p("id", T::String, "ID of the group alias."),
    p(
        "mount_accessor",
        T::String,
        "Mount accessor to which this alias belongs to.",
    ),
    p("name", T::String, "Alias of the group."),
];

/// `lookup/entity` and `lookup/group` (`what` is `entity` or `group`).
macro_rules! lookup {
    ($what:literal) => {
        &[
            p("alias_id", T::String, "ID of the alias."),
            p(
                "alias_mount_accessor",
                T::String,
                "Accessor of the mount to which the alias belongs to. This should be supplied \
                 in conjunction with 'alias_name'.",
            ),
            p(
                "alias_name",
                T::String,
                "Name of the alias. This should be supplied in conjunction with \
                 'alias_mount_accessor'.",
            ),
            p("id", T::String, concat!("ID of the ", $what, ".")),
            p("name", T::String, concat!("Name of the ", $what, ".")),
        ]
    };
}

const METHOD_ID: Param = p(
    "method_id",
    T::String,
    "The unique identifier for this MFA method.",
);
const METHOD_ID_REQUIRED: Param = required(
    "method_id",
    T::String,
    "The unique identifier for this MFA method.",
);

const TOTP: &[Param] = &[
    defaulted(
        "algorithm",
        T::String,
        "The hashing algorithm used to generate the TOTP token. Options include SHA1, SHA256 \
         and SHA512.",
        DefaultValue::Str("SHA1"),
    ),
    defaulted(
        "digits",
        T::Int,
        "The number of digits in the generated TOTP token. This value can either be 6 or 8.",
        DefaultValue::Int(6),
    ),
    p(
        "issuer",
        T::String,
        "The name of the key's issuing organization.",
    ),
    defaulted(
        "key_size",
        T::Int,
        "Determines the size in bytes of the generated key.",
        DefaultValue::Int(20),
    ),
    p(
        "max_validation_attempts",
        T::Int,
        "Max number of allowed validation attempts.",
    ),
    METHOD_ID,
    p(
        "method_name",
        T::String,
        "The unique name identifier for this MFA method.",
    ),
    defaulted(
        "period",
        T::DurationSecond,
        "The length of time used to generate a counter for the TOTP token calculation.",
        DefaultValue::Int(30),
    ),
    defaulted(
        "qr_size",
        T::Int,
        "The pixel size of the generated square QR code.",
        DefaultValue::Int(200),
    ),
    defaulted(
        "skew",
        T::Int,
        "The number of delay periods that are allowed when validating a TOTP token. This value \
         can either be 0 or 1.",
        DefaultValue::Int(1),
    ),
];

const LOGIN_ENFORCEMENT: &[Param] = &[
    p(
        "auth_method_accessors",
        T::CommaStringSlice,
        "Array of auth mount accessor IDs",
    ),
    p(
        "auth_method_types",
        T::CommaStringSlice,
        "Array of auth mount types",
    ),
    p(
        "identity_entity_ids",
        T::CommaStringSlice,
        "Array of identity entity IDs",
    ),
    p(
        "identity_group_ids",
        T::CommaStringSlice,
        "Array of identity group IDs",
    ),
    required(
        "mfa_method_ids",
        T::CommaStringSlice,
        "Array of Method IDs that determine what methods will be enforced",
    ),
    p(
        "name",
        T::String,
        "Name for this login enforcement configuration",
    ),
];

/// Every `identity/` path but `oidc/*`, in OpenBao's words.
const IDENTITY_PATHS: &[IdentityPath] = &[
    row("entity", &[U], "Create a new entity", ENTITY),
    row("entity/id", &[L], "List all the entity IDs", &[]),
    row(
        "entity/id/{id}",
        &[R, U, D],
        "Update, read or delete an entity using entity ID",
        ENTITY,
    ),
    row("entity/name", &[L], "List all the entity names", &[]),
    row(
        "entity/name/{name}",
        &[R, U, D],
        "Update, read or delete an entity using entity name",
        ENTITY,
    ),
    row(
        "entity/batch-delete",
        &[U],
        "Delete all of the entities provided",
        &[p("entity_ids", T::CommaStringSlice, "Entity IDs to delete")],
    ),
    row(
        "entity/merge",
        &[U],
        "Merge two or more entities together",
        &[
            p(
                "conflicting_alias_ids_to_keep",
                T::CommaStringSlice,
                "Alias IDs to keep in case of conflicting aliases. Ignored if no conflicting \
                 aliases found",
            ),
            p(
                "force",
                T::Bool,
                "Setting this will follow the 'mine' strategy for merging MFA secrets. If there \
                 are secrets of the same type both in entities that are merged from and in \
                 entity into which all others are getting merged, secrets in the destination \
                 will be unaltered. If not set, this API will throw an error containing all \
                 the conflicts.",
            ),
            p(
                "from_entity_ids",
                T::CommaStringSlice,
                "Entity IDs which need to get merged",
            ),
            p(
                "to_entity_id",
                T::String,
                "Entity ID into which all the other entities need to get merged",
            ),
        ],
    ),
    row(
        "entity-alias",
        &[U],
        "Create a new alias.",
        ENTITY_ALIAS_CREATE,
    ),
    row("entity-alias/id", &[L], "List all the alias IDs.", &[]),
    row(
        "entity-alias/id/{id}",
        &[R, U, D],
        "Update, read or delete an alias ID.",
        ENTITY_ALIAS_BY_ID,
    ),
    row("persona", &[U], "Create a new alias.", PERSONA_CREATE),
    row("persona/id", &[L], "List all the alias IDs.", &[]),
    row(
        "persona/id/{id}",
        &[R, U, D],
        "Update, read or delete an alias ID.",
        PERSONA_BY_ID,
    ),
    row("group", &[U], "Create a new group.", GROUP),
    row("group/id", &[L], "List all the group IDs.", &[]),
    row(
        "group/id/{id}",
        &[R, U, D],
        "Update or delete an existing group using its ID.",
        GROUP,
    ),
    row("group/name", &[L], "", &[]),
    row("group/name/{name}", &[R, U, D], "", GROUP),
    row(
        "group-alias",
        &[U],
        "Creates a new group alias, or updates an existing one.",
        GROUP_ALIAS,
    ),
    row("group-alias/id", &[L], "List all the group alias IDs.", &[]),
    row("group-alias/id/{id}", &[R, U, D], "", GROUP_ALIAS),
    row(
        "lookup/entity",
        &[U],
        "Query entities based on various properties.",
        lookup!("entity"),
    ),
    row(
        "lookup/group",
        &[U],
        "Query groups based on various properties.",
        lookup!("group"),
    ),
    row("mfa/method", &[L], "", &[]),
    row("mfa/method/{method_id}", &[R], "", &[METHOD_ID]),
    row("mfa/method/totp", &[L], "", &[]),
    row("mfa/method/totp/{method_id}", &[R, U, D], "", TOTP),
    row("mfa/method/totp/generate", &[U], "", &[METHOD_ID_REQUIRED]),
    row(
        "mfa/method/totp/admin-generate",
        &[U],
        "",
        &[
            required(
                "entity_id",
                T::String,
                "Entity ID on which the generated secret needs to get stored.",
            ),
            METHOD_ID_REQUIRED,
        ],
    ),
    row(
        "mfa/method/totp/admin-destroy",
        &[U],
        "",
        &[
            required(
                "entity_id",
                T::String,
                "Identifier of the entity from which the MFA method secret needs to be removed.",
            ),
            METHOD_ID_REQUIRED,
        ],
    ),
    row("mfa/login-enforcement", &[L], "", &[]),
    row(
        "mfa/login-enforcement/{name}",
        &[R, U, D],
        "",
        LOGIN_ENFORCEMENT,
    ),
];

/// The value a path parameter stands for when a row is checked against the router.
#[cfg(test)]
fn sample(param: &str) -> &'static str {
    match param {
        // Method ids are lowercase UUIDs in the router's patterns.
        "method_id" => "0b1e5a3c-4d2f-4e6a-8b9c-0d1e2f3a4b5c",
        _ => "x",
    }
}

/// `path` with each `{param}` replaced by a sample value.
#[cfg(test)]
fn instantiate(path: &str) -> String {
    arca_sdk::framework::openapi::instantiate_template(path, sample)
}

/// The field a parameter describes.
fn field(param: &Param) -> Field {
    let mut f = Field::new(param.name, param.kind, param.description);
    f.required = param.required;
    f.default = match param.default {
        DefaultValue::None => None,
        DefaultValue::Str(s) => Some(Value::String(s.to_string())),
        DefaultValue::Int(n) => Some(Value::from(n)),
    };
    f
}

/// Every `identity/` path but `oidc/*` as its OpenAPI document describes it.
pub(super) fn docs() -> Vec<PathDoc> {
    IDENTITY_PATHS
        .iter()
        .map(|row| PathDoc {
            path: row.path.to_string(),
            synopsis: row.synopsis.to_string(),
            operations: row.ops.to_vec(),
            fields: row.params.iter().map(field).collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::backend::{declared_for, parse_for_test};
    use super::*;

    /// The names in braces of an OpenAPI path.
    fn braces(path: &str) -> Vec<&str> {
        path.split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect()
    }

    #[test]
    fn every_row_is_served_with_the_parameters_its_endpoint_declares() {
        let mut seen = BTreeSet::new();
        for row in IDENTITY_PATHS {
            assert!(seen.insert(row.path), "{} twice", row.path);
            assert!(!row.ops.is_empty(), "{} has no operations", row.path);
            let concrete = instantiate(row.path);
            for op in row.ops {
                assert!(
                    parse_for_test(*op, &concrete),
                    "{} ({concrete}) does not serve {op:?}",
                    row.path
                );
            }
            // Every path parameter is described.
            for name in braces(row.path) {
                let param = row.params.iter().find(|p| p.name == name);
                assert!(
                    param.is_some_and(|p| !p.description.is_empty()),
                    "{}: {{{name}}} has no parameter",
                    row.path
                );
            }
            // A write declares exactly the parameters the endpoint accepts without a
            // warning (the legacy `persona` paths warn about nothing).
            if row.ops.contains(&U) && !row.path.starts_with("persona") {
                let table: BTreeSet<&str> = row.params.iter().map(|p| p.name).collect();
                let endpoint: BTreeSet<&str> = declared_for(U, &concrete).into_iter().collect();
                assert_eq!(table, endpoint, "parameters of {}", row.path);
            }
            for param in row.params {
                assert!(
                    !param.description.is_empty(),
                    "{}: {} has no description",
                    row.path,
                    param.name
                );
            }
        }
    }

    #[test]
    fn docs_carry_types_defaults_and_required() {
        let docs = docs();
        let totp = docs
            .iter()
            .find(|d| d.path == "mfa/method/totp/{method_id}")
            .unwrap();
        let period = totp.fields.iter().find(|f| f.name == "period").unwrap();
        assert_eq!(period.kind, FieldType::DurationSecond);
        assert_eq!(period.default, Some(Value::from(30)));
        let enforcement = docs
            .iter()
            .find(|d| d.path == "mfa/login-enforcement/{name}")
            .unwrap();
        assert!(
            enforcement
                .fields
                .iter()
                .any(|f| f.name == "mfa_method_ids" && f.required)
        );
    }
}
