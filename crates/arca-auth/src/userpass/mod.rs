//! The `userpass` auth method, as OpenBao 2.7.2 serves it: an operator manages users
//! (`users/<name>`, each with a bcrypt-hashed password and the shared token settings), and a
//! user logs in at `login/<name>` with their password.
//!
//! Layout: [`entry`] is the stored user record, [`password`] every bcrypt operation (always off
//! the async runtime; a check runs [`eksblowfish`], over [`blowfish_init`]), [`users`] the management endpoints and [`login`] the login, its alias
//! look-ahead and the renewal of the tokens it issues.

mod blowfish_init;
mod eksblowfish;
mod entry;
mod login;
mod password;
mod users;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::Arc;

use arca_sdk::framework::{
    Field, FieldData, FieldType, FrameworkBackend, OpHandler, PathDef, existence,
    generic_name_regex, handler,
};
use arca_sdk::token_util::{deprecation_text, token_fields};
use arca_sdk::{
    Backend, BackendConfig, BackendType, Factory, LogicalError, Operation, Request, Response,
    SpecialPaths,
};
use futures::FutureExt;

/// Builds a `userpass` mount.
pub fn factory() -> Factory {
    Arc::new(|_config: BackendConfig| {
        async move { Ok(Arc::new(backend()) as Arc<dyn Backend>) }.boxed()
    })
}

/// What the handlers of one mount share: the lock that makes each read-modify-write of a
/// user record atomic (OpenBao runs them in a storage transaction).
#[derive(Default)]
struct Shared {
    write_lock: tokio::sync::Mutex<()>,
}

/// Wraps a handler that needs the mount's [`Shared`] state.
fn shared_handler<F, Fut>(shared: &Arc<Shared>, f: F) -> OpHandler
where
    F: Fn(Arc<Shared>, Request, FieldData) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<Response>, LogicalError>> + Send + 'static,
{
    let shared = Arc::clone(shared);
    handler(move |req, d| f(Arc::clone(&shared), req, d))
}

const BACKEND_HELP: &str = "The userpass auth method logs users in with a user name and a \
password. An operator manages the users under users/; a user logs in at login/<username>.";

/// The backend of one mount.
fn backend() -> FrameworkBackend {
    let shared = Arc::new(Shared::default());
    FrameworkBackend::new(BackendType::Credential, BACKEND_HELP)
        .special_paths(SpecialPaths {
            // As OpenBao declares it: `login` alone is no path of this method, and a token-less
            // request to it is refused (403) rather than routed.
            unauthenticated: vec!["login/*".into()],
            ..SpecialPaths::default()
        })
        .path(users_path(&shared))
        .path(users_list_path())
        .path(user_policies_path(&shared))
        .path(user_password_path(&shared))
        .path(login_path())
        .auth_renew(handler(login::renew))
}

fn username_field(description: &str) -> Field {
    Field::new("username", FieldType::String, description)
}

fn password_fields() -> [Field; 2] {
    [
        Field::new("password", FieldType::String, "Password for this user."),
        Field::new(
            "password_hash",
            FieldType::String,
            "A bcrypt hash of the password, instead of the password (cost 5 to 12).",
        ),
    ]
}

fn legacy_policies_field() -> Field {
    Field::new(
        "policies",
        FieldType::CommaStringSlice,
        deprecation_text("token_policies"),
    )
}

fn users_path(shared: &Arc<Shared>) -> PathDef {
    let mut p = PathDef::new(format!("users/{}", generic_name_regex("username")))
        .field(username_field("Username for this user."))
        .field(legacy_policies_field())
        .field(Field::new(
            "ttl",
            FieldType::DurationSecond,
            deprecation_text("token_ttl"),
        ))
        .field(Field::new(
            "max_ttl",
            FieldType::DurationSecond,
            deprecation_text("token_max_ttl"),
        ))
        .field(Field::new(
            "bound_cidrs",
            FieldType::CommaStringSlice,
            deprecation_text("token_bound_cidrs"),
        ));
    for f in password_fields().into_iter().chain(token_fields()) {
        p = p.field(f);
    }
    p.op(Operation::Read, handler(users::read))
        .op(Operation::Create, shared_handler(shared, users::write))
        .op(Operation::Update, shared_handler(shared, users::write))
        .op(Operation::Delete, shared_handler(shared, users::delete))
        .existence(existence(users::exists))
        .help(
            "Manage the users allowed to log in.",
            "Create, read, update and delete users. Deleting a user does not revoke the tokens \
             it already has; their next renewal fails.",
        )
}

fn users_list_path() -> PathDef {
    PathDef::new("users/?")
        .field(Field::new(
            "after",
            FieldType::String,
            "List the users after this name (which need not exist).",
        ))
        .field(Field::new(
            "limit",
            FieldType::Int,
            "List at most this many users (all when not positive).",
        ))
        .op(Operation::List, handler(users::list))
        .help("List the users.", "")
}

fn user_policies_path(shared: &Arc<Shared>) -> PathDef {
    PathDef::new(format!("users/{}/policies", generic_name_regex("username")))
        .field(username_field("Username for this user."))
        .field(legacy_policies_field())
        .field(Field::new(
            "token_policies",
            FieldType::CommaStringSlice,
            "Comma-separated list of policies",
        ))
        .op(
            Operation::Update,
            shared_handler(shared, users::update_policies),
        )
        .help("Set the policies of a user.", "")
}

fn user_password_path(shared: &Arc<Shared>) -> PathDef {
    let mut p = PathDef::new(format!("users/{}/password", generic_name_regex("username")))
        .field(username_field("Username for this user."));
    for f in password_fields() {
        p = p.field(f);
    }
    p.op(
        Operation::Update,
        shared_handler(shared, users::update_password),
    )
    .help(
        "Reset the password of a user.",
        "Give either the password (hashed with bcrypt) or password_hash, not both.",
    )
}

fn login_path() -> PathDef {
    PathDef::new(format!("login/{}", generic_name_regex("username")))
        .field(username_field("Username of the user."))
        .field(Field::new(
            "password",
            FieldType::String,
            "Password for this user.",
        ))
        .op(Operation::Update, handler(login::login))
        .op(Operation::AliasLookahead, handler(login::alias_lookahead))
        .help(
            "Log in with a username and password.",
            "Answers a token carrying the user's policies and token settings.",
        )
}
