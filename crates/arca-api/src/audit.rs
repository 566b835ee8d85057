//! Audit devices (`sys/audit`) as Vault's Go client sends and decodes them.
//!
//! Field order follows Go's `api.Audit`, so serialising prints the same JSON as
//! `bao audit list -format=json`.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::Client;
use crate::error::ApiError;

/// One enabled audit device, as `GET sys/audit` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditOutput {
    /// The device type (`file`, `socket`, `syslog`).
    #[serde(default, rename = "type")]
    pub kind: String,
    /// Human description.
    #[serde(default)]
    pub description: String,
    /// The device's options.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Not replicated.
    #[serde(default)]
    pub local: bool,
    /// Where it is enabled, with its trailing slash.
    #[serde(default)]
    pub path: String,
}

/// The body of `PUT sys/audit/<path>`, as Go's `api.EnableAuditOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EnableAudit {
    /// The device type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Human description.
    pub description: String,
    /// The device's options.
    pub options: BTreeMap<String, String>,
    /// Not replicated.
    pub local: bool,
}

/// `sys/audit/<path>` cleaned as Go's `path.Join` cleans the URL `bao` sends: no empty or `.`
/// segments, `..` applied, no trailing slash (`sys/audit` alone for an empty path).
fn audit_path(path: &str) -> String {
    let mut parts: Vec<&str> = vec!["sys", "audit"];
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.len() > 2 {
                    parts.pop();
                }
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
}

impl Client {
    /// `GET sys/audit`: the enabled audit devices by path. An answer without `data` is an
    /// [`ApiError::EmptyData`], as in Go's client.
    pub async fn list_audit(&self) -> Result<BTreeMap<String, AuditOutput>, ApiError> {
        let raw = self.checked(Method::GET, "sys/audit", &[], None).await?;
        let data = raw
            .body
            .and_then(|mut b| b.get_mut("data").map(Value::take))
            .filter(|d| !d.is_null())
            .ok_or(ApiError::EmptyData)?;
        serde_json::from_value(data).map_err(|e| ApiError::Decode(e.to_string()))
    }

    /// `PUT sys/audit/<path>`: enables a device at `path` (cleaned as Go's client does, so a
    /// trailing slash is fine).
    pub async fn enable_audit(&self, path: &str, device: &EnableAudit) -> Result<(), ApiError> {
        let body = serde_json::to_value(device).map_err(|e| ApiError::Decode(e.to_string()))?;
        self.checked(Method::PUT, &audit_path(path), &[], Some(body))
            .await
            .map(|_| ())
    }

    /// `DELETE sys/audit/<path>`: disables the device at `path` (cleaned as for
    /// [`Client::enable_audit`]), if there is one.
    pub async fn disable_audit(&self, path: &str) -> Result<(), ApiError> {
        self.checked(Method::DELETE, &audit_path(path), &[], None)
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cleaned_as_go_joins_them() {
        assert_eq!(audit_path("file/"), "sys/audit/file");
        assert_eq!(audit_path("/f3/"), "sys/audit/f3");
        assert_eq!(audit_path("a//b/./c/"), "sys/audit/a/b/c");
        assert_eq!(audit_path("a/../b/"), "sys/audit/b");
        assert_eq!(audit_path(""), "sys/audit");
    }

    #[test]
    fn keeps_go_field_order() {
        let device: AuditOutput = serde_json::from_str(
            r#"{"path":"f/","local":true,"options":{"file_path":"/x"},"description":"d","type":"file"}"#,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&device).unwrap(),
            r#"{"type":"file","description":"d","options":{"file_path":"/x"},"local":true,"path":"f/"}"#
        );
        let body = EnableAudit {
            kind: "file".into(),
            ..EnableAudit::default()
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"type":"file","description":"","options":{},"local":false}"#
        );
    }
}
