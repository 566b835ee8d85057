//! `token_policies_template_claims`: a role's `token_policies` as Go templates over the
//! token's claims (`team-{{.team}}`, `{{ .env | lowercase }}`), with Vault's template
//! helper functions. Claims are seen by their top-level names: strings as they are,
//! numbers and booleans as Go prints them, lists of those as `[a b]`.

use std::collections::BTreeMap;

use arca_sdk::username_template::{TemplateError, UsernameTemplate};
use arca_sdk::{Auth, JsonMap, LogicalError};
use serde_json::Value;

/// Checks, when a role is written, that each policy parses as a template (a 400 with
/// OpenBao's text, which OpenBao answers with a 500).
pub(crate) fn check(policies: &[String]) -> Result<(), LogicalError> {
    for (index, policy) in policies.iter().enumerate() {
        UsernameTemplate::parse(policy).map_err(|e| {
            LogicalError::invalid_input(format!(
                "failed to parse template policy [{index}]: {}",
                go_text(&e, policy)
            ))
        })?;
    }
    Ok(())
}

/// Fills the auth's policies from `claims` (a claim a template names must be present); empty
/// results are dropped, duplicates kept once, in their first place.
pub(crate) fn apply(auth: &mut Auth, claims: &JsonMap) -> Result<(), LogicalError> {
    let data = template_data(claims);
    let mut out: Vec<String> = Vec::new();
    for (index, policy) in auth.policies.iter().enumerate() {
        let t = UsernameTemplate::parse(policy).map_err(|e| {
            LogicalError::internal(format!(
                "failed to parse template policy [{index}]: {}",
                go_text(&e, policy)
            ))
        })?;
        // A login's failure is OpenBao's plain 500 (not wrapped as a multierror).
        let filled = t
            .generate(&data, &mut arca_sdk::random::fill)
            .map_err(|e| {
                LogicalError::from_status(
                    500,
                    format!(
                        "failed to template policy [{index}]: {}",
                        go_text(&e, policy)
                    ),
                )
            })?;
        if !filled.is_empty() && !out.contains(&filled) {
            out.push(filled);
        }
    }
    auth.policies = out;
    Ok(())
}

/// The claims a template can name, printed as Go's `text/template` prints them.
fn template_data(claims: &JsonMap) -> BTreeMap<&str, String> {
    claims
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), go_print(v)?)))
        .collect()
}

fn go_print(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) => {
            let parts: Option<Vec<String>> = items
                .iter()
                .map(|i| match i {
                    Value::Array(_) | Value::Object(_) | Value::Null => None,
                    scalar => go_print(scalar),
                })
                .collect();
            Some(format!("[{}]", parts?.join(" ")))
        }
        Value::Null => Some("<no value>".into()),
        Value::Object(_) => None,
    }
}

/// A template error in Go's words: a claim the token lacks reads as Go's `missingkey=error`
/// map lookup does.
fn go_text(e: &TemplateError, template: &str) -> String {
    if let TemplateError::Apply { line, message } = e
        && let Some(field) = message.strip_prefix("can't evaluate field ")
    {
        let col = template.find(&format!(".{field}")).unwrap_or(0);
        return format!(
            "unable to apply template: template: template:{line}:{col}: executing \"template\" at <.{field}>: map has no entry for key \"{field}\""
        );
    }
    e.to_string()
}
