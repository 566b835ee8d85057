//! The table of `auth/token/` paths the OpenAPI document describes: each path in OpenAPI form
//! and its operations; the parameters come from the store's field schemas
//! ([`token_fields::schema`]), and a test checks every path has one.

use arca_sdk::Operation;
use arca_sdk::framework::openapi::PathDoc;

use crate::token_fields;

use Operation::{Delete as D, List as L, Read as R, Update as U};

/// `(path, operations, synopsis)` of every token store path.
const TOKEN_PATHS: &[(&str, &[Operation], &str)] = &[
    (
        "accessors",
        &[L],
        "List token accessors, which can then be be used to iterate and discover their properties or revoke them.",
    ),
    (
        "create",
        &[U],
        "The token create path is used to create new tokens.",
    ),
    (
        "create-orphan",
        &[U],
        "The token create path is used to create new orphan tokens.",
    ),
    (
        "create/{role_name}",
        &[U],
        "This token create path is used to create new tokens adhering to the given role.",
    ),
    (
        "lookup",
        &[R, U],
        "This endpoint will lookup a token and its properties.",
    ),
    (
        "lookup-accessor",
        &[U],
        "This endpoint will lookup a token associated with the given accessor and its properties.",
    ),
    (
        "lookup-self",
        &[R, U],
        "This endpoint will lookup a token and its properties.",
    ),
    (
        "renew",
        &[U],
        "This endpoint will renew the given token and prevent expiration.",
    ),
    (
        "renew-accessor",
        &[U],
        "This endpoint will renew a token associated with the given accessor and its properties.",
    ),
    (
        "renew-self",
        &[U],
        "This endpoint will renew the token used to call it and prevent expiration.",
    ),
    (
        "revoke",
        &[U],
        "This endpoint will delete the given token and all of its child tokens.",
    ),
    (
        "revoke-accessor",
        &[U],
        "This endpoint will delete the token associated with the accessor and all of its child tokens.",
    ),
    (
        "revoke-orphan",
        &[U],
        "This endpoint will delete the token and orphan its child tokens.",
    ),
    (
        "revoke-self",
        &[U],
        "This endpoint will delete the token used to call it and all of its child tokens.",
    ),
    ("roles", &[L], "This endpoint lists configured roles."),
    (
        "roles/{role_name}",
        &[R, U, D],
        "This endpoint allows creating, reading, and deleting roles.",
    ),
    (
        "tidy",
        &[U],
        "This endpoint performs cleanup tasks that can be run if certain error conditions have occurred.",
    ),
];

/// The path a template stands for, each `{param}` replaced by a sample value.
fn instantiate(path: &str) -> String {
    arca_sdk::framework::openapi::instantiate_template(path, |_| "r")
}

/// Every token store path as its OpenAPI document describes it.
pub(crate) fn docs() -> Vec<PathDoc> {
    TOKEN_PATHS
        .iter()
        .map(|(path, ops, synopsis)| {
            let fields = token_fields::schema(&instantiate(path)).unwrap_or(&[]);
            PathDoc::from_table(path, ops, synopsis, fields)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_path_has_the_stores_schema() {
        for (path, _, _) in TOKEN_PATHS {
            assert!(
                token_fields::schema(&instantiate(path)).is_some(),
                "{path} has no schema"
            );
        }
        let create = docs().into_iter().find(|d| d.path == "create").unwrap();
        assert!(create.fields.iter().any(|f| f.name == "policies"));
    }
}
