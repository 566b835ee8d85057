//! `identity/lookup/entity` and `identity/lookup/group`: one of `id`, `name`, `alias_id`,
//! or `alias_name` with `alias_mount_accessor`; no match is a 204.

use arca_sdk::{JsonMap, LogicalError, Response};
use serde_json::Value;

use super::{IdentityStore, fields};

/// The one criterion a lookup gives.
enum Query {
    Id(String),
    Name(String),
    AliasId(String),
    AliasFactor(String, String),
}

/// Parses a lookup's parameters with OpenBao's texts.
fn query(d: &JsonMap) -> Result<Query, LogicalError> {
    let get = |n| -> Result<String, LogicalError> { fields::string_or_empty(d, n) };
    let (id, name, alias_id) = (get("id")?, get("name")?, get("alias_id")?);
    let (alias_name, accessor) = (get("alias_name")?, get("alias_mount_accessor")?);
    let given = [
        !id.is_empty(),
        !name.is_empty(),
        !alias_id.is_empty(),
        !alias_name.is_empty() || !accessor.is_empty(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if given == 0 {
        return Err(LogicalError::bad_request("query parameter not supplied"));
    }
    if given > 1 {
        return Err(LogicalError::bad_request(
            "query parameter conflict; please supply distinct set of query parameters",
        ));
    }
    Ok(if !id.is_empty() {
        Query::Id(id)
    } else if !name.is_empty() {
        Query::Name(name)
    } else if !alias_id.is_empty() {
        Query::AliasId(alias_id)
    } else if alias_name.is_empty() || accessor.is_empty() {
        return Err(LogicalError::bad_request(
            "both 'alias_name' and 'alias_mount_accessor' needs to be set",
        ));
    } else {
        Query::AliasFactor(alias_name, accessor)
    })
}

/// A found record as a response, nothing as a 204.
fn answer(v: Option<Value>) -> Option<Response> {
    match v {
        Some(Value::Object(m)) => Some(Response::with_data(m)),
        _ => None,
    }
}

impl IdentityStore {
    /// `lookup/entity`.
    pub(crate) fn lookup_entity(&self, d: &JsonMap) -> Result<Option<Response>, LogicalError> {
        let q = query(d)?;
        Ok(answer(self.read(|ix| {
            let e = match &q {
                Query::Id(id) => ix.entity(id),
                Query::Name(n) => ix.entity_by_name(n),
                Query::AliasId(a) => ix.entity_of_alias(a),
                Query::AliasFactor(n, acc) => ix
                    .alias_by_factor(acc, n)
                    .and_then(|a| ix.entity_of_alias(&a)),
            }?;
            Some(self.entity_json(ix, &e))
        })))
    }

    /// `lookup/group`.
    pub(crate) fn lookup_group(&self, d: &JsonMap) -> Result<Option<Response>, LogicalError> {
        let q = query(d)?;
        Ok(answer(self.read(|ix| {
            let g = match &q {
                Query::Id(id) => ix.group(id),
                Query::Name(n) => ix.group_by_name(n),
                Query::AliasId(a) => ix.group_of_alias(a),
                Query::AliasFactor(n, acc) => ix.group_by_alias_factor(acc, n),
            }?;
            Some(self.group_json(ix, &g))
        })))
    }
}
