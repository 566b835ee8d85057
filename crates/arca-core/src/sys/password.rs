//! `sys/policies/password[/<name>[/generate]]`: password policies as OpenBao 2.7.2 serves
//! them (204 on write, its error texts, a test password built before a policy is stored).

use arca_policy::{MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, PasswordPolicy};
use arca_sdk::error::multierror;
use arca_sdk::{LogicalError, Operation, Request, Response};
use base64::Engine;
use serde_json::json;

use super::{Endpoint, data, str_field};
use crate::namespaces::Namespace;
use crate::password_policies::{GenerateError, PasswordPolicies};

/// OpenBao's `CodedError(404, "policy does not exist")`, wrapped as its HTTP layer wraps it.
fn no_such_policy() -> LogicalError {
    LogicalError::from_status(404, multierror(&["policy does not exist".to_string()]))
}

/// The policy text of a write: base64-decoded when it is valid base64 (of UTF-8), as OpenBao
/// tries first.
fn policy_text(req: &Request) -> Option<String> {
    let raw = str_field(&req.data, "policy").filter(|t| !t.is_empty())?;
    if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(raw.as_bytes())
        && let Ok(decoded) = String::from_utf8(bytes)
    {
        return Some(decoded);
    }
    Some(raw)
}

/// Parses and checks a policy before it is stored: it must parse, ask for 4 to 100
/// characters, and a test password built from its rules must pass them.
fn check(text: &str) -> Result<(), LogicalError> {
    let policy = PasswordPolicy::parse(text)
        .map_err(|e| LogicalError::InvalidRequest(format!("invalid password policy: {e}")))?;
    if !(MIN_PASSWORD_LENGTH..=MAX_PASSWORD_LENGTH).contains(&policy.length) {
        return Err(LogicalError::InvalidRequest(format!(
            "passwords must be between {MIN_PASSWORD_LENGTH} and {MAX_PASSWORD_LENGTH} characters"
        )));
    }
    if !policy.satisfiable(&mut crate::random::fill) {
        return Err(LogicalError::InvalidRequest(
            "unable to construct test password from provided policy: are the rules impossible?"
                .into(),
        ));
    }
    Ok(())
}

/// Serves one password-policy endpoint for namespace `ns`.
pub(crate) async fn handle(
    store: &PasswordPolicies,
    ns: &Namespace,
    e: Endpoint,
    op: Operation,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    use Endpoint as E;
    use Operation as O;
    let ns = ns.storage_prefix();
    let ns = ns.as_str();
    match (e, op) {
        (E::PasswordPolicies, O::List) => data(json!({ "keys": store.list(ns).await? })),
        (E::PasswordPolicy(name), O::Update | O::Create) => {
            let Some(text) = policy_text(req) else {
                return Err(LogicalError::InvalidRequest("missing policy".into()));
            };
            check(&text)?;
            store.put(ns, &name, &text).await?;
            Ok(None)
        }
        (E::PasswordPolicy(name), O::Read) => match store.get(ns, &name).await? {
            Some(entry) => data(json!({ "policy": entry.policy })),
            None => Err(no_such_policy()),
        },
        (E::PasswordPolicy(name), O::Delete) => {
            store.delete(ns, &name).await?;
            Ok(None)
        }
        (E::PasswordPolicyGenerate(name), O::Read) => match store.generate(ns, &name).await {
            Ok(password) => data(json!({ "password": password.as_str() })),
            Err(GenerateError::NotFound) => Err(no_such_policy()),
            Err(GenerateError::Storage(e)) => Err(e),
            Err(other) => Err(LogicalError::internal(other)),
        },
        _ => Err(LogicalError::UnsupportedOperation),
    }
}
