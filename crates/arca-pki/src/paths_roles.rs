//! `roles/` and `roles/<name>`: reading, writing, listing and deleting roles.

use std::sync::Arc;

use arca_sdk::framework::{Field, FieldData, FieldType, PathDef, existence, generic_name_regex};
use arca_sdk::{LogicalError, Operation, Request, Response};

use crate::roles::{self, Role};
use crate::{State, list, op, storage};

pub(crate) fn paths(state: &Arc<State>) -> Vec<PathDef> {
    let mut role = PathDef::new(format!("roles/{}", generic_name_regex("name"))).field(Field::new(
        "name",
        FieldType::String,
        "Name of the role",
    ));
    for f in roles::fields() {
        role = role.field(f);
    }
    vec![
        PathDef::new("roles/?")
            .field(Field::new("after", FieldType::String, "List after this"))
            .field(Field::new(
                "limit",
                FieldType::Int,
                "List at most this many",
            ))
            .op(Operation::List, op(state, list_roles)),
        role.op(Operation::Read, op(state, read_role))
            .op(Operation::Update, op(state, write_role))
            .op(Operation::Create, op(state, write_role))
            .op(Operation::Delete, op(state, delete_role))
            .existence(existence(|req, d| async move {
                let s = storage(&req)?;
                Ok(roles::get(s.as_ref(), &d.get_str("name")?).await?.is_some())
            })),
    ]
}

async fn list_roles(
    _state: Arc<State>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    Ok(list(s.list("role/").await?, None))
}

async fn read_role(
    _state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    match roles::get(s.as_ref(), &d.get_str("name")?).await? {
        Some(r) => Ok(Some(Response::with_data(r.to_json()))),
        None => Ok(None),
    }
}

async fn write_role(
    _state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let name = d.get_str("name")?;
    let role = Role::from_fields(&d)?;
    roles::put(s.as_ref(), &name, &role).await?;
    Ok(Some(Response::with_data(role.to_json())))
}

async fn delete_role(
    _state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    s.delete(&format!("role/{}", d.get_str("name")?)).await?;
    Ok(None)
}
