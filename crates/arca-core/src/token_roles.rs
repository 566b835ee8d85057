//! Token roles (`auth/token/roles/:name`): stored presets and limits for `create/:role`.

use arca_sdk::storage::StorageExt;
use arca_sdk::{JsonMap, LogicalError, Request, Response, Storage};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::token_fields::{bool_or, duration_secs, string_list};

/// A stored token role.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenRole {
    /// Role name.
    pub name: String,
    /// Policies a token of this role may have (the default set when none are asked for).
    #[serde(default)]
    pub allowed_policies: Vec<String>,
    /// Glob patterns of allowed policies.
    #[serde(default)]
    pub allowed_policies_glob: Vec<String>,
    /// Policies a token of this role may never have.
    #[serde(default)]
    pub disallowed_policies: Vec<String>,
    /// Glob patterns of disallowed policies.
    #[serde(default)]
    pub disallowed_policies_glob: Vec<String>,
    /// Entity aliases a token of this role may be created for.
    #[serde(default)]
    pub allowed_entity_aliases: Option<Vec<String>>,
    /// Tokens are made orphans.
    #[serde(default)]
    pub orphan: bool,
    /// Tokens may be renewed.
    #[serde(default)]
    pub renewable: bool,
    /// Appended to the token's creation path.
    #[serde(default)]
    pub path_suffix: String,
    /// Period in seconds.
    #[serde(default)]
    pub token_period: u64,
    /// Explicit max TTL in seconds.
    #[serde(default)]
    pub token_explicit_max_ttl: u64,
    /// Do not add the `default` policy.
    #[serde(default)]
    pub token_no_default_policy: bool,
    /// Use limit (0 = none).
    #[serde(default)]
    pub token_num_uses: i64,
    /// `service`, `batch`, `default-service`, `default-batch` (or `default`).
    #[serde(default)]
    pub token_type: String,
}

impl TokenRole {
    /// The JSON a read returns, field for field as OpenBao 2.7.2.
    pub fn to_json(&self) -> Value {
        json!({
            "allowed_entity_aliases": self.allowed_entity_aliases,
            "allowed_policies": self.allowed_policies,
            "allowed_policies_glob": self.allowed_policies_glob,
            "disallowed_policies": self.disallowed_policies,
            "disallowed_policies_glob": self.disallowed_policies_glob,
            "explicit_max_ttl": 0,
            "name": self.name,
            "orphan": self.orphan,
            "path_suffix": self.path_suffix,
            "period": 0,
            "renewable": self.renewable,
            "token_explicit_max_ttl": self.token_explicit_max_ttl,
            "token_no_default_policy": self.token_no_default_policy,
            "token_period": self.token_period,
            "token_type": self.token_type,
        })
    }
}

fn role_key(name: &str) -> String {
    format!("roles/{}", name.to_lowercase())
}

/// Reads a role from the token mount's storage.
pub async fn get_role(
    storage: &dyn Storage,
    name: &str,
) -> Result<Option<TokenRole>, LogicalError> {
    if name.is_empty() {
        return Ok(None);
    }
    storage.get_json(&role_key(name)).await
}

/// Names of all roles.
pub async fn list_roles(storage: &dyn Storage) -> Result<Vec<String>, LogicalError> {
    let mut keys = storage.list("roles/").await?;
    keys.retain(|k| !k.ends_with('/'));
    keys.sort();
    Ok(keys)
}

fn policy_list(d: &JsonMap, k: &str) -> Option<Vec<String>> {
    string_list(d, k).map(|v| {
        let mut v: Vec<String> = v
            .into_iter()
            .map(|p| p.trim().to_lowercase())
            .filter(|p| !p.is_empty())
            .collect();
        v.sort();
        v.dedup();
        v
    })
}

/// Creates or updates a role from a request body.
pub async fn write_role(
    storage: &dyn Storage,
    name: &str,
    d: &JsonMap,
) -> Result<Option<Response>, LogicalError> {
    if name.is_empty() {
        return Err(LogicalError::bad_request("role name cannot be empty"));
    }
    let existing = get_role(storage, name).await?;
    let mut role = existing.unwrap_or_else(|| TokenRole {
        name: name.to_lowercase(),
        renewable: true,
        token_type: "default-service".into(),
        ..TokenRole::default()
    });
    let mut warnings = Vec::new();
    if let Some(v) = policy_list(d, "allowed_policies") {
        role.allowed_policies = v;
    }
    if let Some(v) = policy_list(d, "allowed_policies_glob") {
        role.allowed_policies_glob = v;
    }
    if let Some(v) = policy_list(d, "disallowed_policies") {
        role.disallowed_policies = v;
    }
    if let Some(v) = policy_list(d, "disallowed_policies_glob") {
        role.disallowed_policies_glob = v;
    }
    if let Some(v) = string_list(d, "allowed_entity_aliases") {
        role.allowed_entity_aliases = Some(v.into_iter().map(|a| a.to_lowercase()).collect());
    }
    role.orphan = bool_or(d, "orphan", role.orphan)?;
    role.renewable = bool_or(d, "renewable", role.renewable)?;
    role.token_no_default_policy =
        bool_or(d, "token_no_default_policy", role.token_no_default_policy)?;
    if let Some(Value::String(s)) = d.get("path_suffix") {
        if s.contains("..") {
            return Err(LogicalError::bad_request(
                "error registering path suffix: path suffix cannot contain '..'",
            ));
        }
        role.path_suffix = s.trim().trim_matches('/').to_string();
    }
    match (
        duration_secs(d, "token_period")?,
        duration_secs(d, "period")?,
    ) {
        (Some(p), Some(_)) => {
            role.token_period = p;
            warnings.push(
                "Both 'token_period' and deprecated 'period' value supplied, ignoring the deprecated value"
                    .to_string(),
            );
        }
        (Some(p), None) | (None, Some(p)) => role.token_period = p,
        (None, None) => {}
    }
    match (
        duration_secs(d, "token_explicit_max_ttl")?,
        duration_secs(d, "explicit_max_ttl")?,
    ) {
        (Some(p), Some(_)) => {
            role.token_explicit_max_ttl = p;
            warnings.push(
                "Both 'token_explicit_max_ttl' and deprecated 'explicit_max_ttl' value supplied, ignoring the deprecated value"
                    .to_string(),
            );
        }
        (Some(p), None) | (None, Some(p)) => role.token_explicit_max_ttl = p,
        (None, None) => {}
    }
    if let Some(v) = d.get("token_num_uses").filter(|v| !v.is_null()) {
        let n = v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| LogicalError::bad_request("token_num_uses must be an integer"))?;
        if n < 0 {
            return Err(LogicalError::bad_request(
                "'token_num_uses' cannot be negative",
            ));
        }
        role.token_num_uses = n;
    }
    if let Some(v) = d.get("token_type").filter(|v| !v.is_null()) {
        let t = v.as_str().unwrap_or_default().to_lowercase();
        role.token_type = match t.as_str() {
            "service" | "batch" | "default-service" | "default-batch" => t,
            "default" | "" => "default-service".into(),
            _ => {
                return Err(LogicalError::bad_request(format!(
                    "invalid 'token_type' value {t:?}"
                )));
            }
        };
    }
    if role.token_type == "batch" {
        if role.token_period > 0 {
            return Err(LogicalError::bad_request(
                "'token_type' cannot be 'batch' when set to generate periodic tokens",
            ));
        }
        if role.token_num_uses > 0 {
            return Err(LogicalError::bad_request(
                "'token_type' cannot be 'batch' when set to generate tokens with limited use count",
            ));
        }
    }
    storage.put_json(&role_key(name), &role).await?;
    if warnings.is_empty() {
        return Ok(None);
    }
    Ok(Some(Response {
        warnings,
        ..Response::default()
    }))
}

/// Handles `roles` (LIST) and `roles/:name` (read, write, delete).
pub async fn handle_roles(req: &Request, name: &str) -> Result<Option<Response>, LogicalError> {
    use arca_sdk::Operation as O;
    let storage = req.storage()?.clone();
    match (name, req.operation) {
        ("", O::List | O::Read) => {
            let keys = list_roles(storage.as_ref()).await?;
            let mut m = JsonMap::new();
            m.insert("keys".into(), json!(keys));
            Ok(Some(Response::with_data(m)))
        }
        ("", _) => Err(LogicalError::UnsupportedOperation),
        (n, O::Read) => match get_role(storage.as_ref(), n).await? {
            Some(role) => Ok(Some(Response::from_serialize(&role.to_json())?)),
            None => Err(LogicalError::empty_not_found()),
        },
        (n, O::Create | O::Update) => write_role(storage.as_ref(), n, &req.data).await,
        (n, O::Delete) => {
            storage.delete(&role_key(n)).await?;
            Ok(None)
        }
        _ => Err(LogicalError::UnsupportedOperation),
    }
}
