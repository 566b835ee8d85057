//! A secrets engine that shows what a plugin receives from its host and tries to answer what
//! a plugin must not: the tests of the host's request pipeline drive it.
//!
//! - `seen` (read, write): answers with the client token and the headers it received;
//! - `calls` (read): how many times backend code ran (requests and existence checks), this
//!   read not counted;
//! - `answer` (read): answers with a client token, a lease id, wrapping information (a token
//!   and a TTL: the host drops the token and, as Vault's core, wraps the answer for the TTL)
//!   and response headers of its own making, which the host must drop or filter;
//! - `headers` (read): the same response headers, unwrapped;
//! - `password/<policy>` (read): a password from the host's password policy `<policy>`,
//!   asked for through the system view (`GeneratePasswordFromPolicy`).
//!
//! Build with `cargo build -p arca-plugin --example echo_plugin`.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arca_sdk::framework::{Field, FieldType, FrameworkBackend, PathDef, existence, handler};
use arca_sdk::{
    Auth, Backend, BackendConfig, BackendType, Factory, JsonMap, LogicalError, Operation, Response,
    ResponseWrapInfo, Secret, SystemView,
};
use futures::FutureExt;
use serde_json::json;

/// Backend code runs (requests and existence checks) in this plugin process.
static CALLS: AtomicUsize = AtomicUsize::new(0);

fn object(v: serde_json::Value) -> JsonMap {
    match v {
        serde_json::Value::Object(m) => m,
        _ => JsonMap::new(),
    }
}

fn echo_backend(system: Arc<dyn SystemView>) -> FrameworkBackend {
    let seen = handler(|req, _d| async move {
        CALLS.fetch_add(1, Ordering::SeqCst);
        let headers: BTreeMap<&String, &Vec<String>> = req.headers.iter().collect();
        Ok(Some(Response::with_data(object(json!({
            "client_token": req.token(),
            "headers": headers,
            "operation": req.operation.as_str(),
        })))))
    });
    FrameworkBackend::new(
        BackendType::Logical,
        "Shows what a plugin receives; for tests.",
    )
    .path(
        PathDef::new("seen")
            .accept_unknown()
            .existence(existence(|_req, _d| async move {
                CALLS.fetch_add(1, Ordering::SeqCst);
                Ok(false)
            }))
            .op(Operation::Read, seen.clone())
            .op(Operation::Create, seen.clone())
            .op(Operation::Update, seen),
    )
    .path(PathDef::new("calls").op(
        Operation::Read,
        handler(|_req, _d| async move {
            let calls = CALLS.load(Ordering::SeqCst);
            Ok(Some(Response::with_data(object(json!({"calls": calls})))))
        }),
    ))
    .path(PathDef::new("answer").op(
        Operation::Read,
        handler(|_req, _d| async move {
            CALLS.fetch_add(1, Ordering::SeqCst);
            Ok(Some(Response {
                data: Some(object(json!({"answered": true}))),
                auth: Some(Auth {
                    client_token: String::from("hvs.made-by-the-plugin").into(),
                    accessor: "plugin-accessor".into(),
                    policies: vec!["default".into()],
                    ..Auth::default()
                }),
                secret: Some(Secret {
                    lease_id: "echo/made-by-the-plugin".into(),
                    ..Secret::default()
                }),
                wrap_info: Some(ResponseWrapInfo {
                    token: String::from("hvs.wrap-made-by-the-plugin").into(),
                    accessor: String::new(),
                    ttl: 60,
                    creation_time: "2026-01-01T00:00:00Z".into(),
                    creation_path: "echo/answer".into(),
                    wrapped_accessor: String::new(),
                }),
                headers: plugin_headers(),
                ..Response::default()
            }))
        }),
    ))
    .path(
        PathDef::new("password/(?P<policy>.+)")
            .field(Field::new(
                "policy",
                FieldType::String,
                "The host's password policy",
            ))
            .op(
                Operation::Read,
                handler(move |_req, d| {
                    let system = system.clone();
                    async move {
                        let policy = d.get_str("policy")?;
                        let password = system
                            .generate_password_from_policy(&policy)
                            .await
                            .map_err(|e| LogicalError::bad_request(e.to_string()))?;
                        Ok(Some(Response::with_data(object(
                            json!({"password": password.as_str()}),
                        ))))
                    }
                }),
            ),
    )
    .path(PathDef::new("headers").op(
        Operation::Read,
        handler(|_req, _d| async move {
            Ok(Some(Response {
                data: Some(object(json!({"answered": true}))),
                headers: plugin_headers(),
                ..Response::default()
            }))
        }),
    ))
}

/// Response headers a plugin may not set all of: the mount's `allowed_response_headers` and
/// the server's own headers decide.
fn plugin_headers() -> std::collections::HashMap<String, Vec<String>> {
    [
        ("X-Echo-Allowed".to_string(), vec!["yes".to_string()]),
        ("X-Echo-Other".to_string(), vec!["no".to_string()]),
        ("Cache-Control".to_string(), vec!["public".to_string()]),
        ("Content-Type".to_string(), vec!["text/html".to_string()]),
    ]
    .into()
}

fn factory() -> Factory {
    Arc::new(|config: BackendConfig| {
        async move { Ok(Arc::new(echo_backend(config.system)) as Arc<dyn Backend>) }.boxed()
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    arca_plugin::serve(factory()).await
}
